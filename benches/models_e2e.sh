#!/usr/bin/env bash
# vstyle end to end on this machine's CPU for several models, float32 and int8, in one run:
# each round runs every model at --precision fp32 and, where MODEL.int8.onnx exists, int8, in
# turn, so that load on a shared machine hits all alike; the median round is reported, with each
# figure's ratio to the first model's float32 one.
#
#   benches/models_e2e.sh FRAMES ROUNDS MODEL...
#   benches/models_e2e.sh 48 3 models/scream.onnx .cache/light/light.onnx
#
# CLIP (default samples/clip.mp4, 640x360) is the input. Needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:?FRAMES}
rounds=${2:?ROUNDS}
shift 2
[ $# -gt 0 ] || { echo "usage: benches/models_e2e.sh FRAMES ROUNDS MODEL..." >&2; exit 2; }
clip=${CLIP:-samples/clip.mp4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet

runs=()
for m in "$@"; do
  runs+=("$m fp32")
  [ -f "${m%.onnx}.int8.onnx" ] && runs+=("$m int8")
done
for r in $(seq "$rounds"); do
  line="round $r:"
  for i in "${!runs[@]}"; do
    read -r m p <<<"${runs[$i]}"
    fps=$(target/release/vstyle "$clip" -m "$m" --precision "$p" -o "$work/out.mp4" -y --limit "$frames" 2>&1 \
      | sed -n 's/.*(\([0-9.]*\) fps.*/\1/p')
    echo "$fps" >>"$work/$i"
    line="$line $fps"
  done
  echo "$line fps"
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$(basename "$clip"), $frames frames, median of $rounds rounds:"
first=$(median <"$work/0")
for i in "${!runs[@]}"; do
  fps=$(median <"$work/$i")
  awk -v n="${runs[$i]}" -v f="$fps" -v b="$first" 'BEGIN {printf "  %-44s %7.2f fps  %5.2fx\n", n, f, f / b}'
done
