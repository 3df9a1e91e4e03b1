#!/usr/bin/env bash
# Batch throughput: 8 short clips with -j 1 against -j 2 (files in flight sharing one model).
# Prints files/min and CPU utilisation ((user + sys) / wall, from /usr/bin/time -v) per setting.
#
#   benches/batch.sh                  # from the repository root; builds the release binary
#   CLIPS=16 SIZE=640x360 EXTRA="--threads 1" benches/batch.sh
#
# Needs the ffmpeg command, /usr/bin/time, and Python with numpy and onnx (.venv from
# scripts/setup.sh) to write the small convolutional model it runs (or MODEL=path.onnx).
set -euo pipefail
cd "$(dirname "$0")/.."

CLIPS=${CLIPS:-8}
SIZE=${SIZE:-320x240}
FRAMES=${FRAMES:-50}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
bin=target/release/vstyle

model=${MODEL:-}
if [ -z "$model" ]; then
  model="$work/conv.onnx"
  # Three seeded 3x3 convolutions (3->16->16->3) with ReLUs: a small but real network.
  "$PYTHON" - "$model" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
dyn = ["N", 3, "H", "W"]
inits, nodes, prev = [], [], "input"
for i, (cin, cout) in enumerate([(3, 16), (16, 16), (16, 3)]):
    inits += [numpy_helper.from_array(rng.normal(0, 0.15, (cout, cin, 3, 3)).astype(np.float32), f"w{i}"),
              numpy_helper.from_array(rng.normal(0, 1, cout).astype(np.float32), f"b{i}")]
    out = "output" if i == 2 else f"h{i}"
    nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [out + ("" if i == 2 else "c")] if i < 2 else [out], pads=[1, 1, 1, 1]))
    if i < 2:
        nodes.append(helper.make_node("Relu", [out + "c"], [out]))
    prev = out
graph = helper.make_graph(nodes, "bench_conv",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, dyn)],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, dyn)], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
PY
fi

mkdir -p "$work/in"
for i in $(seq 1 "$CLIPS"); do
  ffmpeg -loglevel error -f lavfi -i "testsrc2=size=$SIZE:rate=25" -f lavfi -i "sine=frequency=$((200 + 50 * i))" \
    -frames:v "$FRAMES" -shortest -pix_fmt yuv420p -c:v libx264 -c:a aac "$work/in/clip$i.mp4"
done

echo "batch bench: $CLIPS clips of $SIZE, $FRAMES frames each, $(nproc) CPUs, model $(basename "$model") ${EXTRA:-}"
REPEAT=${REPEAT:-3}
# Settings alternate within each round, so drift in a shared machine's speed hits both alike.
printf '%-6s %8s %10s %10s %8s\n' jobs wall_s files/min cpu_util frames/s
for round in $(seq 1 "$REPEAT"); do
  for jobs in 1 2; do
    rm -rf "$work/out"
    # shellcheck disable=SC2086 # EXTRA is a list of flags
    /usr/bin/time -v -o "$work/time.txt" "$bin" "$work/in" --model "$model" -o "$work/out" -j "$jobs" -q ${EXTRA:-}
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print s}' "$work/time.txt")
    user=$(awk -F': ' '/User time/ {print $2}' "$work/time.txt")
    sys=$(awk -F': ' '/System time/ {print $2}' "$work/time.txt")
    awk -v j="$jobs" -v w="$wall" -v u="$user" -v s="$sys" -v n="$CLIPS" -v f="$FRAMES" -v c="$(nproc)" 'BEGIN {
      printf "%-6s %8.2f %10.1f %9.0f%% %8.1f\n", j, w, n * 60 / w, 100 * (u + s) / (w * c), n * f / w }' | tee -a "$work/rows.txt"
  done
done
echo "median of $REPEAT rounds:"
for jobs in 1 2; do
  awk -v j="$jobs" '$1 == j' "$work/rows.txt" | sort -k2,2n | awk -v m=$(((REPEAT + 1) / 2)) 'NR == m'
done
echo "(cpu_util: (user + sys) / (wall x CPUs))"
