#!/usr/bin/env bash
# Temporal stability of vstyle's output on real clips with motion: the warping error of Lai et al.
# 2018 (benches/warp_error.py) of each variant's output against its input's, and the style drop
# beside it, one table for all clips.
#
#   bash benches/temporal.sh
#   VARIANTS="plain:;temporal:--temporal" CLIPS="vtest box" bash benches/temporal.sh
#
# Environment (defaults in brackets):
#   VARIANTS  label:extra vstyle flags, ';'-separated ["plain:"]; a variant whose flags vstyle
#             rejects as a usage error (exit 2) is reported as skipped, not as a failure
#   CLIPS     which clips, space-separated ["vtest box cup megamind tree zoom"]; also "pan"
#   FRAMES    frames per clip [72]; WIDTH: clips are scaled down to at most this width [640]
#   MODEL     style network [models/scream.onnx]
#   STYLE     painting for the style loss [samples/styles/the_scream.jpg]; empty: no style loss
#   VSTYLE    the binary [target/release/vstyle]; PYTHON [.venv/bin/python]
#   WARP_ARGS extra arguments for warp_error.py (e.g. "--flow-size 320 --style-frames 4") []
#
# Clips (cut once into .cache/clips/NAME.mp4: H.264 lossless, yuv420p, no audio, frames as coded;
# never committed). Windows start where the motion does (mean flow per frame, 640 px wide: vtest
# 0.2-0.5 px, box 0.5-0.9, cup 2.5-4, megamind 1-1.5, zoom 1):
#   from Debian's opencv-doc package (apt-get download, unpacked once; its copyright file is kept
#   beside the clips as opencv-doc.copyright; the package lists OpenCV's sample data under
#   Apache-2.0 AND BSD-3-Clause, without a separate entry for these videos):
#   vtest     people walking past a still camera (examples/data/vtest.avi, 768x576, MS-MPEG4 v3, 10 fps)
#   box       a box moved about by hand (html/box.mp4, 640x480 H.264, 29.97 fps)
#   cup       a cup moved and tilted by hand (html/cup.mp4, 640x480 H.264, 26.8 fps)
#             (both have an H.264 error in their first frame, which FFmpeg reports while cutting
#             - "A non-intra slice in an IDR NAL unit" - and conceals; the windows start later)
#   megamind  animated film excerpt, its first shot (examples/data/Megamind.avi, 720x528 MPEG-4;
#             the shot ends at 4.1 s)
#   tree      a tree in the wind, camera still until a jerk at the end (examples/data/tree.avi,
#             320x240 Cinepak: 68 frames about 0.4 s apart in a 15 fps time base, so the clip
#             has at most 68 frames)
#   and from this repository:
#   zoom      samples/clip.mp4 (640x360, a slow zoom)
#   pan       synthetic: a 480x320 window sliding 2 px right and 1 px down per frame over
#             samples/barn.jpg (pure camera motion, nothing occluded)
# Outputs, logs and per-clip JSON go to .cache/temporal/.
set -euo pipefail
cd "$(dirname "$0")/.."

VARIANTS=${VARIANTS:-"plain:"}
CLIPS=${CLIPS:-"vtest box cup megamind tree zoom"}
FRAMES=${FRAMES:-72}
WIDTH=${WIDTH:-640}
MODEL=${MODEL:-models/scream.onnx}
STYLE=${STYLE-samples/styles/the_scream.jpg}
VSTYLE=${VSTYLE:-target/release/vstyle}
PYTHON=${PYTHON:-.venv/bin/python}
WARP_ARGS=${WARP_ARGS:-}
CLIP_DIR=.cache/clips
OUT=.cache/temporal

die() { echo "temporal: error: $*" >&2; exit 1; }
[ -x "$VSTYLE" ] || die "$VSTYLE not found: cargo build --release (or VSTYLE=target/debug/vstyle)"
[ -f "$MODEL" ] || die "model $MODEL not found"
[ -x "$PYTHON" ] || die "$PYTHON not found: run scripts/setup.sh"
command -v ffmpeg >/dev/null || die "ffmpeg not found"
if [ -n "$STYLE" ]; then
  [ -f "$STYLE" ] || die "painting $STYLE not found"
  [ -f models/vgg16_features.onnx ] || die "models/vgg16_features.onnx not found: $PYTHON models/prepare_vgg.py"
fi
"$PYTHON" -c 'import cv2' 2>/dev/null ||
  "$PYTHON" -m pip install -q --disable-pip-version-check -r benches/requirements.txt
mkdir -p "$CLIP_DIR" "$OUT"
t_all=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# name | source | start (s) | what
clip_table="vtest|src/vtest.avi|0|people walking, still camera
box|src/box.mp4|2|a box moved about by hand
cup|src/cup.mp4|1|a cup moved and tilted by hand
megamind|src/Megamind.avi|0.5|animated film, first shot
tree|src/tree.avi|0|a tree in the wind
zoom|samples/clip.mp4|0|slow zoom (samples/clip.mp4)
pan|samples/barn.jpg|0|synthetic pan over samples/barn.jpg"

# The opencv-doc clips, once: download the package, unpack it, keep the five videos and the
# copyright file, drop the rest (about 300 MB unpacked).
fetch_opencv_doc() {
  local src=$CLIP_DIR/src
  if [ -f "$src/vtest.avi" ] && [ -f "$src/tree.avi" ] && [ -f "$src/Megamind.avi" ] &&
     [ -f "$src/box.mp4" ] && [ -f "$src/cup.mp4" ]; then
    return
  fi
  echo "temporal: fetching Debian's opencv-doc package for its sample videos"
  local tmp=$CLIP_DIR/.opencv-doc
  rm -rf "$tmp" && mkdir -p "$tmp" "$src"
  (cd "$tmp" && apt-get download opencv-doc >/dev/null) ||
    die "apt-get download opencv-doc failed (run apt-get update first)"
  dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
  local doc=$tmp/x/usr/share/doc/opencv-doc
  cp "$doc/examples/data/vtest.avi" "$doc/examples/data/tree.avi" "$doc/examples/data/Megamind.avi" "$src/"
  gzip -dc "$doc/opencv4/html/box.mp4.gz" > "$src/box.mp4"
  gzip -dc "$doc/opencv4/html/cup.mp4.gz" > "$src/cup.mp4"
  cp "$doc/copyright" "$CLIP_DIR/opencv-doc.copyright"
  echo "opencv-doc $(dpkg-deb -f "$tmp"/opencv-doc_*.deb Version)" > "$CLIP_DIR/opencv-doc.version"
  rm -rf "$tmp"
}

# Cut NAME into $CLIP_DIR/NAME.mp4 unless a cut with the same settings is there.
cut_clip() {
  local name=$1 source=$2 start=$3
  local out=$CLIP_DIR/$name.mp4 stamp="$source $start $FRAMES $WIDTH passthrough"
  if [ -f "$out" ] && [ "$(cat "$CLIP_DIR/$name.cut" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  local input=() vf="scale='min($WIDTH,iw)':-2:flags=lanczos,format=yuv420p"
  case $source in
    src/*) input=(-ss "$start" -i "$CLIP_DIR/$source") ;;
    *.jpg) input=(-loop 1 -framerate 24 -i "$source")
           vf="format=rgb24,crop=480:320:'min(2*n,in_w-480)':'min(n,in_h-320)',format=yuv420p" ;;
    *) input=(-ss "$start" -i "$source") ;;
  esac
  # passthrough: the frames as coded, none duplicated to fill a constant rate (tree.avi has 68)
  ffmpeg -v error -nostdin -y "${input[@]}" -map 0:v:0 -an -sn -fps_mode passthrough -frames:v "$FRAMES" -vf "$vf" \
    -c:v libx264 -preset veryfast -crf 0 "$CLIP_DIR/$name.partial.mp4"
  mv "$CLIP_DIR/$name.partial.mp4" "$out"
  echo "$stamp" > "$CLIP_DIR/$name.cut"
}

IFS=';' read -ra variant_list <<< "$VARIANTS"
results=$OUT/results.tsv
: > "$results"
t_clips=0 t_style=0 t_measure=0
for name in $CLIPS; do
  line=$(grep "^$name|" <<< "$clip_table") || die "unknown clip $name (known: $(cut -d'|' -f1 <<< "$clip_table" | xargs))"
  IFS='|' read -r _ source start what <<< "$line"
  t0=$(date +%s.%N)
  case $source in src/*) fetch_opencv_doc ;; esac
  cut_clip "$name" "$source" "$start"
  t_clips=$(awk -v a="$t_clips" -v b="$(elapsed "$t0")" 'BEGIN { print a + b }')
  clip=$CLIP_DIR/$name.mp4
  IFS=, read -r w h n <<< "$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,nb_frames \
    -of csv=p=0 "$clip")"
  echo "== $name: $what (${w}x${h}, $n frames)"
  outs=()
  for v in "${variant_list[@]}"; do
    [ -n "$v" ] || continue
    label=${v%%:*}
    flags=""
    [[ $v == *:* ]] && flags=${v#*:}
    out=$OUT/$name.$label.mp4 log=$OUT/$name.$label.log
    t0=$(date +%s.%N)
    rc=0
    # shellcheck disable=SC2086  # the variant's flags are split on purpose
    "$VSTYLE" "$clip" -m "$MODEL" -o "$out" -y $flags > "$log" 2>&1 || rc=$?
    t_style=$(awk -v a="$t_style" -v b="$(elapsed "$t0")" 'BEGIN { print a + b }')
    summary=$(grep -o 'wrote .*: [0-9]* frames in [0-9.]* s ([0-9.]* fps[^)]*)' "$log" | tail -1 || true)
    if [ "$rc" = 0 ] && [ -n "$summary" ]; then
      secs=$(sed -E 's/.* frames in ([0-9.]+) s .*/\1/' <<< "$summary")
      fps=$(sed -E 's/.*\(([0-9.]+) fps.*/\1/' <<< "$summary")
      printf '%s\t%s\tok\t%s\t%s\t%s\t\n' "$name" "$label" "$out" "$secs" "$fps" >> "$results"
      echo "   $label: $summary"
      outs+=("$out")
    else
      reason=$(grep -m1 '^error' "$log" || tail -1 "$log")
      status=failed
      [ "$rc" = 2 ] && status=skipped
      printf '%s\t%s\t%s\t\t\t\t%s\n' "$name" "$label" "$status" "$reason" >> "$results"
      echo "   $label: $status (exit $rc): $reason"
    fi
  done
  if [ ${#outs[@]} -gt 0 ]; then
    t0=$(date +%s.%N)
    style_args=()
    [ -n "$STYLE" ] && style_args=(--style "$STYLE")
    # shellcheck disable=SC2086
    "$PYTHON" benches/warp_error.py "$clip" "${outs[@]}" "${style_args[@]}" --json "$OUT/$name.json" $WARP_ARGS \
      > "$OUT/$name.warp.txt"
    sed 's/^/   /' "$OUT/$name.warp.txt"
    t_measure=$(awk -v a="$t_measure" -v b="$(elapsed "$t0")" 'BEGIN { print a + b }')
  fi
done

echo
"$PYTHON" - "$results" "$OUT" <<'EOF'
import json, os, sys
results, out = sys.argv[1], sys.argv[2]
head = ["clip", "variant", "frames", "E_warp(out)", "E_warp(in)", "ratio", "style drop", "masked", "fps",
        "time (s)"]
print("| " + " | ".join(head) + " |")
print("|---|---|" + "---:|" * (len(head) - 2))
measured = {}
for line in open(results, encoding="utf-8"):
    clip, variant, status, path, secs, fps, reason = line.rstrip("\n").split("\t")
    if status != "ok":
        print(f"| {clip} | {variant} | {status}: {reason} |" + " |" * (len(head) - 3))
        continue
    if clip not in measured:
        j = os.path.join(out, f"{clip}.json")
        measured[clip] = json.load(open(j, encoding="utf-8")) if os.path.exists(j) else None
    r = measured[clip]
    v = next((v for v in r["videos"] if v["path"] == path), None) if r else None
    if v is None:
        print(f"| {clip} | {variant} | not measured |" + " |" * (len(head) - 3))
        continue
    e_in = r["videos"][0]["e_warp"]
    drop = f"{v['style_drop']:.2f}" if v.get("style_drop") else "-"
    print(f"| {clip} | {variant} | {r['frames']} | {v['e_warp']:.5f} | {e_in:.5f} | {v['ratio_to_input']:.2f} | "
          f"{drop} | {100 * r['masked_fraction']:.1f}% | {fps} | {secs} |")
print()
print("E_warp: Lai et al. 2018's warping error (mean squared error per channel, RGB in [0,1], over the pixels "
      "their occlusion and motion-boundary mask keeps; flow: DIS on the input). ratio = E_warp(out) / "
      "E_warp(in). style drop = style loss of the input frames / of the output's (higher: more stylized). "
      "masked = share of pixels left out. fps and time: vstyle's own summary line.")
EOF
echo
echo "temporal: clips ${t_clips} s, stylizing ${t_style} s, measuring ${t_measure} s, total $(elapsed "$t_all") s"
if cut -f3 "$results" | grep -qx failed; then
  echo "temporal: some variants failed (logs in $OUT/)" >&2
  exit 1
fi
