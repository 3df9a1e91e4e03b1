#!/usr/bin/env bash
# End-to-end throughput on this machine's CPU, in one run, on the same frames:
#   (a) vstyle end to end (decode -> network -> encode, audio copied), `--precision $PRECISION`
#   (b) the bare ONNX Runtime loop on pre-made frames (benches/ort_infer.rs) on the file (a) runs:
#       the network's own cost
#   (c) the plain PyAV + onnxruntime script a user would write (benches/pyav_baseline.py), always
#       on MODEL itself (float32)
# then the peak memory of vstyle on a clip and on a clip ten times longer.
# ROUNDS alternate (a), (b), (c) so that load on a shared machine hits all three alike; the
# median round is reported. Needs scripts/setup.sh first; installs PyAV into .venv for (c).
#
#   benches/e2e.sh [MODEL] [FRAMES] [ROUNDS]
#   PRECISION=int8 benches/e2e.sh models/scream.onnx 24 3   # vstyle on scream.int8.onnx, the peer on scream.onnx
#
# PRECISION (default fp32: all three run MODEL) is vstyle's --precision; int8 and fp16 take
# MODEL's sibling file (MODEL.int8.onnx), which (b) then runs too. MEMORY=0 skips the memory part.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-tests/data/transformer_net.onnx}
frames=${2:-48}
rounds=${3:-3}
precision=${PRECISION:-fp32}
case $precision in
  fp32) net=$model ;;
  int8 | fp16) net=${model%.onnx}.$precision.onnx ;;
  *) echo "e2e: PRECISION must be fp32, int8 or fp16, not $precision" >&2; exit 2 ;;
esac
[ -f "$net" ] || { echo "e2e: $net missing (models/quantize.py or models/to_fp16.py makes it)" >&2; exit 2; }
clip=samples/clip.mp4   # 640x360, 25 fps
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

.venv/bin/python -c 'import av' 2>/dev/null || .venv/bin/pip install -q av==18.1.0
cargo build --release --quiet
infer=$(cargo bench --bench ort_infer --no-run --message-format=json 2>/dev/null \
  | grep '"name":"ort_infer"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$work/a"; : >"$work/b"; : >"$work/c"
for r in $(seq "$rounds"); do
  target/release/vstyle "$clip" -m "$model" --precision "$precision" -o "$work/a.mp4" -y --limit "$frames" 2>&1 \
    | sed -n 's/.*(\([0-9.]*\) fps.*/\1/p' >>"$work/a"
  "$infer" "$net" --size 640x360 --frames "$frames" | awk '/ host /{print $5}' >>"$work/b"
  .venv/bin/python benches/pyav_baseline.py "$clip" "$model" "$frames" "$work/c.mp4" | awk '{print $2}' >>"$work/c"
  echo "round $r: a $(tail -n1 "$work/a") b $(tail -n1 "$work/b") c $(tail -n1 "$work/c") fps"
done
a=$(median <"$work/a"); b=$(median <"$work/b"); c=$(median <"$work/c")
echo "model $model, 640x360, $frames frames, median of $rounds rounds:"
echo "  (a) vstyle end to end   $a fps  ($net)"
echo "  (b) bare ONNX Runtime   $b fps  ($net)"
echo "  (c) PyAV + onnxruntime  $c fps  ($model)"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {printf "  (a)/(b) = %.3f   (a)/(c) = %.3f\n", a / b, a / c}'

[ "${MEMORY:-1}" != 0 ] || exit 0
# Memory: the same pipeline on 100 frames and on 1000 (the sample looped ten times). A cheap
# network keeps this quick; what is measured is the pipeline's buffers, not the network's.
ffmpeg -loglevel error -y -stream_loop 9 -i "$clip" -c copy "$work/long.mp4"
rss() { /usr/bin/time -f "%M" target/release/vstyle "$1" -m tests/data/small_conv.onnx -o "$work/m.mp4" -y -q 2>&1 | tail -n 1; }
short=$(rss "$clip"); long=$(rss "$work/long.mp4")
awk -v s="$short" -v l="$long" 'BEGIN {printf "peak RSS: 100 frames %.1f MB, 1000 frames %.1f MB, ratio %.3f\n", s / 1024, l / 1024, l / s}'
