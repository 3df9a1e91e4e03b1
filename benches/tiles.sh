#!/usr/bin/env bash
# Frames in tiles (--tile): peak RSS and time per frame from 720p to 8K, tiled and (where it
# fits) whole, float32 and int8; the tiled output against the whole frame's (PSNR) and a seam
# measure at 720p and 1080p; a 4K clip's peak RSS. One table per part, every figure from this run.
#
#   bash benches/tiles.sh                       # everything (about 20 minutes on 2 cores)
#   SIZES="720 1080" PRECISIONS=int8 bash benches/tiles.sh
#
# Environment (defaults in brackets):
#   PHOTO       the picture scaled up to each size [samples/lighthouse.jpg]
#   SIZES       frame heights, 16:9 [720 1080 2160 4320]
#   PRECISIONS  [fp32 int8]
#   WHOLE_MAX   the largest height also run whole (whole 8K needs ~28 GB in float32) [2160]
#   TILE        --tile for the PSNR and seam comparison at 1080p [1024]; at 720p half of it
#   PARTS       which tables [memory compare thumbnails video clip]
#   CLIP_FRAMES frames of the 4K clip [40]
#   THUMBNAILS  --tile-thumbnail values compared at 1080p [512 768 1024 1440]
#   REFRESH     --tile-refresh values of the 1080p video table [1 4]; VIDEO_FRAMES [16]
#   MODEL       [models/scream.onnx]; VSTYLE [target/release/vstyle]; PYTHON [.venv/bin/python]
#
# Seam measure: the mean gradient magnitude (across the border) on the columns and rows where two
# tiles' cores meet, over the same on the other columns and rows of the same output that lie on
# the network's 4-pixel grid, as the borders do: 1.0 means the borders are as smooth as the rest
# of the picture.
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTO=${PHOTO:-samples/lighthouse.jpg}
SIZES=${SIZES:-720 1080 2160 4320}
PRECISIONS=${PRECISIONS:-fp32 int8}
WHOLE_MAX=${WHOLE_MAX:-2160}
TILE=${TILE:-1024}
PARTS=${PARTS:-memory compare thumbnails video clip}
CLIP_FRAMES=${CLIP_FRAMES:-40}
part() { [[ " $PARTS " == *" $1 "* ]]; }
THUMBNAILS=${THUMBNAILS:-512 768 1024 1440}
REFRESH=${REFRESH:-1 4}
VIDEO_FRAMES=${VIDEO_FRAMES:-16}
MODEL=${MODEL:-models/scream.onnx}
VSTYLE=${VSTYLE:-target/release/vstyle}
PYTHON=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" - "$PHOTO" "$work" $SIZES <<'EOF'
import sys
from PIL import Image
src, out, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
im = Image.open(src).convert("RGB")
for h in sizes:
    w = h * 16 // 9
    s = max(w / im.width, h / im.height)
    r = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    l, t = (r.width - w) // 2, (r.height - h) // 2
    r.crop((l, t, l + w, t + h)).save(f"{out}/in_{h}.png")
EOF

# run NAME ARGS...: one vstyle call; prints "peak_MB seconds" (stylize busy time).
run() {
  local name=$1; shift
  /usr/bin/time -f "%M" -o "$work/$name.rss" "$VSTYLE" "$@" -y -v 2> "$work/$name.log" >/dev/null
  local rss secs
  rss=$(($(tail -n 1 "$work/$name.rss") / 1024))
  secs=$(grep -o 'stylize [0-9.]* s' "$work/$name.log" | awk '{print $2}')
  echo "$rss $secs"
}

if part memory; then
echo "== peak RSS (MB) and stylize time (s) per frame, $MODEL, defaults (--tile auto) and whole (--tile off)"
printf "%-6s %-5s %12s %12s %12s %12s\n" size prec auto_MB auto_s whole_MB whole_s
for h in $SIZES; do
  for p in $PRECISIONS; do
    read -r a_mb a_s < <(run "a_${h}_$p" "$work/in_$h.png" -m "$MODEL" --precision "$p" -o "$work/a_${h}_$p.png")
    w_mb=-; w_s=-
    if [ "$h" -le "$WHOLE_MAX" ]; then
      read -r w_mb w_s < <(run "w_${h}_$p" "$work/in_$h.png" -m "$MODEL" --precision "$p" --tile off -o "$work/w_${h}_$p.png")
    fi
    printf "%-6s %-5s %12s %12s %12s %12s\n" "${h}p" "$p" "$a_mb" "$a_s" "$w_mb" "$w_s"
  done
done
fi

cmp() {  # cmp WHOLE TILED XS YS: PSNR, seam measure of TILED and of WHOLE on the same lines
  "$PYTHON" - "$@" <<'EOF'
import sys
import numpy as np
from PIL import Image
sys.path.insert(0, "benches")
from tile_seams import seam
a = np.asarray(Image.open(sys.argv[1]).convert("RGB"), np.float64)
b = np.asarray(Image.open(sys.argv[2]).convert("RGB"), np.float64)
xs = [int(v) for v in sys.argv[3].split(",") if v]
ys = [int(v) for v in sys.argv[4].split(",") if v]
psnr = 10 * np.log10(255 ** 2 / max(((a - b) ** 2).mean(), 1e-12))
print(f"{psnr:.2f} {seam(b, xs, ys)[0]:.3f} {seam(a, xs, ys)[0]:.3f}")
EOF
}

# The core borders of a tiled run, as -v prints them ("tile borders x=A,B y=C"): "XS YS".
borders() {
  local line
  line=$(grep -o 'tile borders x=[0-9,]* y=[0-9,]*' "$1" | head -n 1 || true)
  echo "$(sed 's/.*x=\([0-9,]*\).*/\1/' <<<"$line") $(sed 's/.*y=\([0-9,]*\).*/\1/' <<<"$line")"
}

if part compare || part thumbnails; then
echo
echo "== tiled (--tile $TILE at 1080p, $((TILE / 2)) at 720p) against whole, the thumbnail at its default; seam: tiled output, and the whole output on the same lines"
printf "%-6s %-5s %8s %10s %10s %10s %10s\n" size prec psnr_dB seam_tiled seam_whole tiled_s whole_s
for h in 720 1080; do
  for p in $PRECISIONS; do
    read -r w_mb w_s < <(run "cw_${h}_$p" "$work/in_$h.png" -m "$MODEL" --precision "$p" --tile off -o "$work/cw_${h}_$p.png")
    tile=$TILE; [ "$h" = 720 ] && tile=$((TILE / 2))
    read -r t_mb t_s < <(run "ct_${h}_$p" "$work/in_$h.png" -m "$MODEL" --precision "$p" --tile "$tile" -o "$work/ct_${h}_$p.png")
    read -r bx by < <(borders "$work/ct_${h}_$p.log")
    read -r psnr seam seam_w < <(cmp "$work/cw_${h}_$p.png" "$work/ct_${h}_$p.png" "$bx" "$by")
    printf "%-6s %-5s %8s %10s %10s %10s %10s\n" "${h}p" "$p" "$psnr" "$seam" "$seam_w" "$t_s" "$w_s"
  done
done
fi

if part thumbnails; then
echo
echo "== 1080p, --tile $TILE, by thumbnail: PSNR against whole and time (whole: the run above)"
printf "%-9s %-5s %8s %10s\n" thumbnail prec psnr_dB tiled_s
for p in $PRECISIONS; do
  for th in $THUMBNAILS; do
    read -r t_mb t_s < <(run "th_${th}_$p" "$work/in_1080.png" -m "$MODEL" --precision "$p" --tile "$TILE" --tile-thumbnail "$th" -o "$work/th_${th}_$p.png")
    read -r psnr _ _ < <(cmp "$work/cw_1080_$p.png" "$work/th_${th}_$p.png" "" "")
    printf "%-9s %-5s %8s %10s\n" "$th" "$p" "$psnr" "$t_s"
  done
done
fi

if part video; then
echo
echo "== 1080p video ($VIDEO_FRAMES frames, int8), --tile $TILE by --tile-refresh: mean PSNR against whole frames, time, throughput (whole s / tiled s)"
# zoom: samples/clip.mp4 scaled up; pan: a 1920x1080 window moving 6 px right and 2 down a
# frame over the photo at 4K (needs 2160 in SIZES' pictures, made here if not).
[ -f "$work/in_2160.png" ] || "$PYTHON" -c "
from PIL import Image; import sys
im = Image.open(sys.argv[1]).convert('RGB'); w, h = 3840, 2160
s = max(w / im.width, h / im.height); r = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
l, t = (r.width - w) // 2, (r.height - h) // 2; r.crop((l, t, l + w, t + h)).save(sys.argv[2])" "$PHOTO" "$work/in_2160.png"
ffmpeg -loglevel error -y -i samples/clip.mp4 -vf "scale=1920:1080:flags=lanczos,format=yuv420p" \
  -frames:v "$VIDEO_FRAMES" -c:v ffv1 "$work/v_zoom.mkv"
ffmpeg -loglevel error -y -loop 1 -framerate 25 -i "$work/in_2160.png" \
  -vf "crop=1920:1080:6*n:2*n,format=yuv420p" -frames:v "$VIDEO_FRAMES" -c:v ffv1 "$work/v_pan.mkv"
vpsnr() {  # vpsnr A B: mean PSNR over the frames
  ffmpeg -loglevel error -i "$1" -i "$2" -lavfi "[0:v]format=rgb24[a];[1:v]format=rgb24[b];[a][b]psnr=stats_file=$work/psnr.txt" -f null - 2>/dev/null
  awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^psnr_avg:/) { split($i, v, ":"); s += (v[2] == "inf" ? 99 : v[2]); n++ } } END { printf "%.2f", s / n }' "$work/psnr.txt"
}
printf "%-6s %-9s %8s %10s %10s %10s\n" clip refresh psnr_dB tiled_s whole_s ratio
for clip in zoom pan; do
  read -r _ w_s < <(run "vw_$clip" "$work/v_$clip.mkv" -m "$MODEL" --precision int8 --tile off --codec ffv1 -o "$work/vw_$clip.mkv")
  for r in $REFRESH; do
    read -r _ t_s < <(run "vt_${clip}_$r" "$work/v_$clip.mkv" -m "$MODEL" --precision int8 --tile "$TILE" --tile-refresh "$r" --codec ffv1 -o "$work/vt_${clip}_$r.mkv")
    psnr=$(vpsnr "$work/vw_$clip.mkv" "$work/vt_${clip}_$r.mkv")
    ratio=$(awk -v a="$w_s" -v b="$t_s" 'BEGIN { printf "%.2f", a / b }')
    printf "%-6s %-9s %8s %10s %10s %10s\n" "$clip" "$r" "$psnr" "$t_s" "$w_s" "$ratio"
  done
done
fi

if part clip; then
echo
echo "== a 4K clip ($CLIP_FRAMES frames: more than x264's look-ahead holds), defaults (--precision auto, --tile auto)"
ffmpeg -loglevel error -y -loop 1 -i "$work/in_2160.png" -vf "zoompan=z='1+0.002*on':d=1:s=3840x2160,format=yuv420p" \
  -frames:v "$CLIP_FRAMES" -r 25 -c:v libx264 -crf 18 "$work/clip_2160.mp4" 2>/dev/null || \
  ffmpeg -loglevel error -y -loop 1 -i "$work/in_2160.png" -frames:v "$CLIP_FRAMES" -r 25 -c:v libx264 -pix_fmt yuv420p "$work/clip_2160.mp4"
read -r c_mb c_s < <(run clip "$work/clip_2160.mp4" -m "$MODEL" -o "$work/clip_out.mp4")
echo "4K clip: peak ${c_mb} MB, stylize ${c_s} s for $CLIP_FRAMES frames"
fi
