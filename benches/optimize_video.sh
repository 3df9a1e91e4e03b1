#!/usr/bin/env bash
# Optimisation mode on video: how much each way of linking the frames flickers and how much style
# it keeps, and the time per frame, on short real clips with motion.
#
#   cargo build --release && bash benches/optimize_video.sh
#   CLIPS=megamind VARIANTS="warped+loss:;independent:--video-start independent" bash benches/optimize_video.sh
#
# For every clip and variant: the warping error of Lai et al. 2018 against the input's own
# (benches/warp_error.py: E_warp(stylized) / E_warp(input), the input's flow and occlusion mask),
# the style drop (the input frames' Gram style loss against the painting / the output's; higher
# is more style), that style drop against the `independent` variant's (every frame optimised on
# its own from the frame, --steps each: the most style per frame, no link between frames), and
# the seconds per frame (wall, loading included, on this machine as it is: load matters).
#
# Variants (label:extra vstyle flags, ';'-separated, in VARIANTS):
#   independent     --video-start independent   every frame alone (the style reference)
#   previous        --video-start previous --temporal-weight 0
#                                               the previous result, unmoved (before the motion
#                                               was followed: the texture stays on the screen)
#   warped          --temporal-weight 0         the previous result moved by the motion, no
#                                               temporal loss
#   previous+loss   --video-start previous      unmoved start, with the temporal loss
#   warped+loss     (none)                      the defaults: moved start and temporal loss
#   feedforward     --model $MODEL --precision fp32
#                                               the trained network, for reference (not with
#                                               the optimisation flags below)
#
# Environment (defaults in brackets):
#   CLIPS       space-separated [zoom zoom6 megamind vtest]; also box
#   FRAMES      frames per clip [10]; WIDTH: clips are cut to this width and optimised at it [192]
#   STEPS       L-BFGS steps of the first frame, and of every frame for `independent` [150]
#   STEPS_NEXT  steps of each later frame [40]
#   STYLE       the painting [samples/styles/the_scream.jpg]
#   STYLE_SIZE  the painting's long side for the style loss [the larger of WIDTH and 384, the size
#               the optimiser uses by default]
#   EXTRA       flags for every optimisation variant (e.g. "--temporal-weight 30") []
#   MODEL       the feed-forward reference [models/scream.onnx]; empty: no such variant
#   VSTYLE      [target/release/vstyle]; PYTHON [.venv/bin/python]
#
# Clips (cut once into .cache/optimize_video/clips, H.264 lossless 4:4:4, never committed):
#   zoom      samples/clip.mp4, a slow zoom on two parrots (camera motion, 0.3 px per frame at 192 px)
#   zoom6     the same, every 6th frame: 1.75 px per frame, more motion than the optimiser can
#             follow by itself in 40 steps
#   megamind  animated film, a woman talking (opencv-doc examples/data/Megamind.avi, from 0.5 s;
#             0.2 px per frame, a very clean input: little warping error of its own)
#   vtest     people walking past a still camera (opencv-doc examples/data/vtest.avi)
#   box       a box moved about by hand (opencv-doc html/box.mp4, from 1 s; nearly still at first)
# The opencv-doc videos are taken from Debian's opencv-doc package (apt-get download, unpacked
# into .cache/clips/src, as benches/temporal.sh does; reused when they are there).
# Outputs, logs and per-clip JSON go to .cache/optimize_video/.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIPS=${CLIPS:-"zoom zoom6 megamind vtest"}
FRAMES=${FRAMES:-10}
WIDTH=${WIDTH:-192}
STEPS=${STEPS:-150}
STEPS_NEXT=${STEPS_NEXT:-40}
STYLE=${STYLE:-samples/styles/the_scream.jpg}
STYLE_SIZE=${STYLE_SIZE:-$((WIDTH > 384 ? WIDTH : 384))}
EXTRA=${EXTRA:-}
MODEL=${MODEL-models/scream.onnx}
VSTYLE=${VSTYLE:-target/release/vstyle}
PYTHON=${PYTHON:-.venv/bin/python}
DEFAULT_VARIANTS="independent:--video-start independent;previous:--video-start previous --temporal-weight 0;warped:--temporal-weight 0;previous+loss:--video-start previous;warped+loss:"
[ -n "$MODEL" ] && DEFAULT_VARIANTS="$DEFAULT_VARIANTS;feedforward:--model $MODEL --precision fp32"
VARIANTS=${VARIANTS:-$DEFAULT_VARIANTS}
SRC=.cache/clips/src
OUT=.cache/optimize_video
CLIP_DIR=$OUT/clips

die() { echo "optimize_video: error: $*" >&2; exit 1; }
[ -x "$VSTYLE" ] || die "$VSTYLE not found: cargo build --release"
[ -x "$PYTHON" ] || die "$PYTHON not found: run scripts/setup.sh"
[ -f "$STYLE" ] || die "painting $STYLE not found"
[ -f benches/warp_error.py ] || die "benches/warp_error.py not found"
command -v ffmpeg >/dev/null || die "ffmpeg not found"
"$PYTHON" -c 'import cv2' 2>/dev/null ||
  "$PYTHON" -m pip install -q --disable-pip-version-check -r benches/requirements.txt
mkdir -p "$CLIP_DIR" "$SRC"

fetch_opencv_doc() {
  [ -f "$SRC/vtest.avi" ] && [ -f "$SRC/Megamind.avi" ] && [ -f "$SRC/box.mp4" ] && return
  echo "optimize_video: fetching Debian's opencv-doc package for its sample videos"
  local tmp=$OUT/.opencv-doc
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$tmp" && apt-get download opencv-doc >/dev/null) ||
    die "apt-get download opencv-doc failed (run apt-get update first)"
  dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
  local doc=$tmp/x/usr/share/doc/opencv-doc
  cp "$doc/examples/data/vtest.avi" "$doc/examples/data/Megamind.avi" "$SRC/"
  gzip -dc "$doc/opencv4/html/box.mp4.gz" > "$SRC/box.mp4"
  rm -rf "$tmp"
}

# Cut NAME from SOURCE at START seconds into $CLIP_DIR/NAME.mkv unless the same cut is there;
# PICK (a filter, optional) chooses the frames before scaling.
cut_clip() {
  local name=$1 source=$2 start=$3 pick=${4:+$4,}
  local out=$CLIP_DIR/$name.mkv stamp="$source $start $FRAMES $WIDTH $pick"
  if [ -f "$out" ] && [ "$(cat "$CLIP_DIR/$name.cut" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  ffmpeg -v error -nostdin -y -ss "$start" -i "$source" -map 0:v:0 -an -sn -fps_mode passthrough \
    -frames:v "$FRAMES" -vf "${pick}scale=$WIDTH:-2:flags=area" -c:v libx264 -qp 0 -pix_fmt yuv444p \
    "$CLIP_DIR/$name.tmp.mkv"
  mv "$CLIP_DIR/$name.tmp.mkv" "$out"
  echo "$stamp" > "$CLIP_DIR/$name.cut"
}

IFS=';' read -ra variant_list <<< "$VARIANTS"
results=$OUT/results.tsv
: > "$results"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in $CLIPS; do
  case $name in
    megamind) fetch_opencv_doc; cut_clip megamind "$SRC/Megamind.avi" 0.5 ;;
    vtest) fetch_opencv_doc; cut_clip vtest "$SRC/vtest.avi" 0 ;;
    box) fetch_opencv_doc; cut_clip box "$SRC/box.mp4" 1 ;;
    zoom) cut_clip zoom samples/clip.mp4 0 ;;
    zoom6) cut_clip zoom6 samples/clip.mp4 0 "select='not(mod(n,6))'" ;;
    *) die "unknown clip $name (zoom zoom6 megamind vtest box)" ;;
  esac
  clip=$CLIP_DIR/$name.mkv
  outs=()
  for v in "${variant_list[@]}"; do
    [ -n "$v" ] || continue
    label=${v%%:*} flags=${v#*:}
    out=$OUT/$name.$label.mkv log=$OUT/$name.$label.log
    if [[ " $flags " == *" --model "* ]]; then
      # shellcheck disable=SC2086
      args=($flags --max-side "$WIDTH")
    else
      # shellcheck disable=SC2086
      args=(--style "$STYLE" --size "$WIDTH" --steps "$STEPS" --steps-next "$STEPS_NEXT" $EXTRA $flags)
    fi
    t0=$(date +%s.%N)
    VSTYLE_LOG=vstyle=info "$VSTYLE" "$clip" "${args[@]}" --codec ffv1 -o "$out" -y > "$log" 2>&1 ||
      die "$name $label failed: $(tail -n 3 "$log")"
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    echo "$name $label: ${secs} s for $FRAMES frames ($(awk -v s="$secs" -v n="$FRAMES" 'BEGIN { printf "%.1f", s / n }') s per frame)"
    printf '%s\t%s\t%s\n' "$name" "$label" "$secs" >> "$results"
    outs+=("$out")
  done
  # The style loss at the size the frames were optimised at and with the painting at the size the
  # optimiser used, not warp_error.py's 512 px frames, where upscaled small frames read as blurred.
  "$PYTHON" benches/warp_error.py "$clip" "${outs[@]}" --style "$STYLE" --style-frames "$FRAMES" \
    --style-frame-size "$WIDTH" --style-size "$STYLE_SIZE" --json "$OUT/$name.json" > "$OUT/$name.warp.txt"
done

"$PYTHON" - "$OUT" "$FRAMES" <<'PY'
import json, os, sys
out, frames = sys.argv[1], int(sys.argv[2])
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "results.tsv")) if l.strip()]
print("\n| clip | variant | E_warp / input's | style drop | style drop / independent's | s per frame |")
print("|---|---|---:|---:|---:|---:|")
for clip in dict.fromkeys(r[0] for r in rows):
    r = json.load(open(os.path.join(out, f"{clip}.json")))
    videos = {os.path.basename(v["path"]).split(".")[1]: v for v in r["videos"][1:]}
    ref = videos.get("independent", {}).get("style_drop")
    for name, secs in [(x[1], float(x[2])) for x in rows if x[0] == clip]:
        v = videos[name]
        rel = f"{v['style_drop'] / ref:.2f}" if ref else "-"
        print(f"| {clip} | {name} | {v['ratio_to_input']:.2f} | {v['style_drop']:.1f} | {rel} | {secs / frames:.1f} |")
PY
