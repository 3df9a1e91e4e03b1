#!/usr/bin/env bash
# Gather what models/gpu_train.sh needs into .cache/gpu/ (gitignored), so it can be carried to a
# GPU machine that has no network: training photos, the style image, every painting of the
# catalogue (models/paintings.json, for multi-style runs), the content photos used for previews,
# and VGG16 conv_1..conv_10 as a float16 .npz (~15 MB; the full loss network is ~59 MB).
#
# usage: models/stage_gpu_inputs.sh ASSETS_DIR [STYLE_IMAGE]
#   ASSETS_DIR holds train/*.jpg, content/*.jpg and styles/; STYLE_IMAGE defaults to
#   ASSETS_DIR/styles/the_scream.jpg and is staged as .cache/gpu/style.jpg (single-style runs).
#   The catalogue's paintings found in ASSETS_DIR/styles/ are staged in .cache/gpu/styles/ under
#   their own file names (multi-style runs: gpu_train.sh STYLES=all).
# Run from the repository root. PYTHON picks the interpreter (default: python3).
set -euo pipefail
assets=${1:?usage: models/stage_gpu_inputs.sh ASSETS_DIR [STYLE_IMAGE]}
style=${2:-$assets/styles/the_scream.jpg}
py=${PYTHON:-python3}
catalog=models/paintings.json
dst=.cache/gpu
for p in "$assets/train" "$assets/content" "$style" "$catalog"; do
  [ -e "$p" ] || { echo "stage_gpu_inputs: error: $p not found" >&2; exit 1; }
done
rm -rf "$dst/train" "$dst/content" "$dst/styles"
mkdir -p "$dst/train" "$dst/content" "$dst/styles"
cp "$assets"/train/*.jpg "$dst/train/"
cp "$assets"/content/*.jpg "$dst/content/"
cp "$style" "$dst/style.jpg"
paintings=$("$py" -c 'import json, sys; print("\n".join(e["file"] for e in json.load(open(sys.argv[1]))["paintings"]))' "$catalog")
missing=()
while IFS= read -r f; do
  if [ -f "$assets/styles/$f" ]; then cp "$assets/styles/$f" "$dst/styles/"; else missing+=("$f"); fi
done <<<"$paintings"
[ ${#missing[@]} -eq 0 ] || echo "stage_gpu_inputs: warning: not in $assets/styles: ${missing[*]}" >&2
if [ ! -f "$dst/vgg16_conv1_10.npz" ]; then
  "$py" models/prepare_vgg.py                     # no-op when models/vgg16_features.onnx exists
  "$py" models/train.py extract-vgg --half --out "$dst/vgg16_conv1_10.npz"
fi
echo "staged in $dst: $(ls "$dst/train" | wc -l) training photos, $(ls "$dst/content" | wc -l) content photos,"\
     "style $(basename "$style"), $(ls "$dst/styles" | wc -l) catalogue paintings; total $(du -sh "$dst" | cut -f1)"
