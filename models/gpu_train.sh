#!/usr/bin/env bash
# Train feed-forward style networks on one GPU, from inputs staged by models/stage_gpu_inputs.sh.
# Needs python3 with jax (CUDA), numpy, pillow, onnx, onnxruntime; no network. Run from the repo root.
#
#   OUT=/some/dir [MINUTES=6] [RUNS="mean:5 mean:2.5"] [SEED=0] [BATCH=8] [EXTRA="..."] models/gpu_train.sh
#
# RUNS lists "style_norm:style_weight" pairs; each pair is one training process, all running at
# once on the one GPU (a hedge on the style weight: see models/README.md). Each process trains
# for MINUTES of wall-clock time, counted from its own start (loading and compiling included).
# Into $OUT go, per run NAME: NAME.onnx and NAME.jpg (contact sheet: content photos on top,
# stylised below); plus logs.tar.gz with each run's log, loss CSV and summary.
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
IN=${IN:-.cache/gpu}
MINUTES=${MINUTES:-6}
RUNS=${RUNS:-"mean:5 mean:2.5"}
SEED=${SEED:-0}
BATCH=${BATCH:-8}
EXTRA=${EXTRA:-}
PY=${PYTHON:-python3}
for p in "$IN/train" "$IN/content" "$IN/style.jpg" "$IN/vgg16_conv1_10.npz"; do
  [ -e "$p" ] || { echo "gpu_train: error: $p missing; run models/stage_gpu_inputs.sh first" >&2; exit 1; }
done
mkdir -p "$OUT"
work=$(mktemp -d)
# JAX grabs 75% of GPU memory per process by default; several processes must share it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

echo "== $(date -u +%FT%TZ) gpu_train: MINUTES=$MINUTES RUNS='$RUNS' SEED=$SEED BATCH=$BATCH EXTRA='$EXTRA'"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
  || echo "nvidia-smi: not available (no NVIDIA GPU?)"
"$PY" -c 'import jax; print("jax", jax.__version__, jax.default_backend(), jax.devices())'

names=()
pids=()
for run in $RUNS; do
  norm=${run%%:*}
  weight=${run#*:}
  name="${norm}_sw${weight}"
  mkdir -p "$work/$name"
  # shellcheck disable=SC2086  # EXTRA is a list of extra arguments
  "$PY" models/train.py train --data "$IN/train" --style "$IN/style.jpg" --vgg "$IN/vgg16_conv1_10.npz" \
    --style-norm "$norm" --style-weight "$weight" --minutes "$MINUTES" --seed "$SEED" --batch "$BATCH" \
    --run-dir "$work/$name" --export "$OUT/$name.onnx" \
    --preview "$work/$name/preview" --preview-images "$IN"/content/*.jpg $EXTRA \
    >"$work/$name/train.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  echo "started $name (pid $!)"
done

status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    status=1
    echo "== ${names[$i]} FAILED; last lines of its log:"
  else
    echo "== ${names[$i]} finished; last lines of its log:"
  fi
  tail -n 4 "$work/${names[$i]}/train.log"
  sheet="$work/${names[$i]}/preview/contact_sheet.jpg"
  [ -f "$sheet" ] && cp "$sheet" "$OUT/${names[$i]}.jpg"
done

tar -czf "$OUT/logs.tar.gz" -C "$work" --exclude='*.npz' --exclude=preview "${names[@]}"
echo "== summary"
"$PY" - "$work" "${names[@]}" <<'PYEOF'
import json, os, sys
work, names = sys.argv[1], sys.argv[2:]
print(f"{'run':24s} {'iters':>7s} {'it/s':>7s} {'content':>10s} {'style':>10s} {'tv':>10s}  (final, weighted)")
for n in names:
    try:
        s = json.load(open(os.path.join(work, n, "summary.json")))
    except OSError:
        print(f"{n:24s} (no summary: failed)")
        continue
    lines = open(os.path.join(work, n, "losses.csv")).read().splitlines()
    last = lines[-1].split(",")            # iter,seconds,it_per_s,total,content,style,tv,w_content,w_style,w_tv
    print(f"{n:24s} {s['iters']:7d} {s['it_per_s']:7.2f} {float(last[7]):10.4g} {float(last[8]):10.4g} {float(last[9]):10.4g}")
PYEOF
ls -l "$OUT"
rm -rf "$work"
exit $status
