#!/usr/bin/env bash
# Sets up vstyle on a fresh Debian/Ubuntu machine; safe to run again (each step skips what is done).
#  1. system packages: FFmpeg development libraries, libclang and pkg-config (for bindgen)
#  2. .venv/: Python packages for the model tools and test fixtures (models/requirements.txt)
#  3. .ort/lib/: the ONNX Runtime library, taken from the onnxruntime wheel installed in step 2
#  4. models/vgg16_features.onnx: the loss network, prepared from a pretrained VGG16
#  5. target/release/vstyle
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(pkg-config libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg python3-venv unzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import onnx, onnxruntime, numpy, jax, PIL' 2>/dev/null; then
  echo "setup: Python packages into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r models/requirements.txt
fi

if [ ! -e .ort/lib/libonnxruntime.so ]; then
  capi=$(.venv/bin/python -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))')
  lib=$(ls "$capi"/libonnxruntime.so.1.* | head -n 1)
  mkdir -p .ort/lib
  cp "$lib" "$capi"/libonnxruntime_providers_shared.so .ort/lib/
  ln -sf "$(basename "$lib")" .ort/lib/libonnxruntime.so
  echo "setup: ONNX Runtime library in .ort/lib ($(basename "$lib"))"
fi

.venv/bin/python models/prepare_vgg.py

cargo build --release --locked
echo "setup: done (target/release/vstyle)"
