#!/usr/bin/env bash
# Seconds for one optimisation-mode run (default: 300 L-BFGS iterations at 256x256, content
# conv_4, style conv_1..conv_5, weights 1 and 1e6, start from the content) with vstyle on ONNX
# Runtime, next to the same problem in PyTorch (benches/gatys_pytorch.py), on this machine's CPU,
# one after the other. A note, not a test: PyTorch is several GB and stays out of CI.
#
#   cargo build --release
#   python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy onnx
#   benches/optimize_vs_pytorch.sh CONTENT.png STYLE.png [STEPS] [SIZE]
#
# Environment: TORCH_PYTHON (default /tmp/torch-venv/bin/python), THREADS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

content=${1:?usage: $0 CONTENT STYLE [STEPS] [SIZE]}
style=${2:?usage: $0 CONTENT STYLE [STEPS] [SIZE]}
steps=${3:-300}
size=${4:-256}
threads=${THREADS:-$(nproc)}
torch_python=${TORCH_PYTHON:-/tmp/torch-venv/bin/python}
vstyle=target/release/vstyle
[ -x "$vstyle" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Both sides get the same square pictures at the processing size, so neither resizes anything.
ffmpeg -v error -y -i "$content" -vf "scale=${size}:${size}:flags=bicubic" "$work/content.png"
ffmpeg -v error -y -i "$style" -vf "scale=${size}:${size}:flags=bicubic" "$work/style.png"

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $threads threads each"
start=$(date +%s.%N)
VSTYLE_LOG=vstyle=info "$vstyle" "$work/content.png" --style "$work/style.png" \
    --size "$size" --steps "$steps" --device cpu --threads "$threads" \
    -o "$work/vstyle.png" -y 2>&1 | grep -E "iterations|wrote" || true
end=$(date +%s.%N)
vstyle_s=$(echo "$end - $start" | bc)
echo "vstyle (ONNX Runtime, CPU): ${vstyle_s} s wall, including loading"

if [ -x "$torch_python" ]; then
    torch_json=$("$torch_python" benches/gatys_pytorch.py --content "$work/content.png" \
        --style "$work/style.png" --steps "$steps" --threads "$threads" \
        --loss-net models/vgg16_features.onnx --out "$work/torch.png")
    echo "PyTorch (CPU): $torch_json"
    torch_s=$(echo "$torch_json" | sed -E 's/.*"seconds": ([0-9.]+).*/\1/')
    echo "ratio PyTorch / vstyle: $(echo "scale=2; $torch_s / $vstyle_s" | bc)"
else
    echo "no PyTorch at $torch_python: set TORCH_PYTHON (see the top of this script)"
fi
