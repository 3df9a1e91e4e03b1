#!/usr/bin/env bash
# The long CPU run of the light seven-painting network (models/README.md, "paintings.onnx"):
# starts it in models/training/paintings/ or, when that folder holds a checkpoint, resumes it
# exactly where it stopped (train.py --resume). Runs in the foreground; put it in the background
# with nohup and stop it with SIGTERM (kill PID), which writes a checkpoint first.
#
#   nohup nice models/cpu_train_paintings.sh > /dev/null 2>&1 &      # start or resume
#   ITERS=40000 models/cpu_train_paintings.sh                         # a different total
#   models/cpu_train_paintings.sh --style-scale udnie=2.5             # resume with a recipe change
#
# ASSETS (default ../shared/assets) holds train/ and styles/; PYTHON defaults to .venv/bin/python.
# The log is models/training/paintings/train.log (every start and resume, with its command).
# Arguments after the script's name go to train.py when it resumes (a recipe change:
# --temporal-weight, --style-scale, --lr). The committed run went over to --temporal-weight 200 at
# iteration 3,328, to per-style scales at 6,576 and to --lr 0.0003 at 10,850 (recipe changes kept
# in its args.json, so resumes keep them); a fresh start below begins as that run did.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
ASSETS=${ASSETS:-../shared/assets}
RUN=models/training/paintings
ITERS=${ITERS:-30000}
VGG=.cache/vgg16_conv1_10.npz
[ -e "$VGG" ] || "$PYTHON" models/train.py extract-vgg --out "$VGG"

if [ -e "$RUN/state.npz" ]; then
  exec "$PYTHON" models/train.py train --resume "$RUN" --iters "$ITERS" --data "$ASSETS/train" --vgg "$VGG" "$@"
fi
mapfile -t styles < <("$PYTHON" -c '
import json, sys
for e in json.load(open("models/paintings.json"))["paintings"]:
    if e.get("default"):
        print(sys.argv[1] + "/styles/" + e["file"])' "$ASSETS")
exec "$PYTHON" models/train.py train --arch light --init models/scream_light.onnx \
  --data "$ASSETS/train" --catalog models/paintings.json --style "${styles[@]}" --vgg "$VGG" \
  --style-norm mean --style-weight 5 --temporal-weight 50 --crop 192 --batch 2 --seed 0 \
  --checkpoint-every 500 --checkpoint-minutes 5 --iters "$ITERS" --run-dir "$RUN"
