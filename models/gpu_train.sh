#!/usr/bin/env bash
# Train feed-forward style networks on one GPU, from inputs staged by models/stage_gpu_inputs.sh.
# Needs python3 with jax (CUDA), numpy, pillow, onnx, onnxruntime; no network. Run from the repo root.
#
#   OUT=/some/dir [MINUTES=6] [RUNS="mean:5 mean:2.5"] [SEED=0] [BATCH=8] [EXTRA="..."] models/gpu_train.sh
#   OUT=/some/dir STYLES=all [MINUTES=6] [RUNS="mean:5"] ... models/gpu_train.sh      # multi-style
#   OUT=/some/dir ARCH=light [MINUTES=6] ... models/gpu_train.sh                     # the light network
#
# RUNS lists "style_norm:style_weight" pairs; each pair is one training process, all running at
# once on the one GPU (a hedge on the style weight: see models/README.md). Each process trains
# for MINUTES of wall-clock time, counted from its own start (loading and compiling included).
# Into $OUT go, per run NAME: NAME.onnx and NAME.jpg (contact sheet: content photos on top,
# stylised below); plus logs.tar.gz with each run's log, loss CSV and summary.
#
# STYLES switches to one multi-style network per run: "all" = the catalogue's default set
# (models/paintings.json, "default": true), or a list of catalogue names ("the_scream great_wave").
# The paintings come from $IN/styles/ (staged by stage_gpu_inputs.sh), in catalogue order for
# "all", else in the order given. RUNS then defaults to "mean:5" and the run is named
# "paintings" (with several RUNS: paintings_NORM_swWEIGHT); its contact sheet has a row per style.
#
# ARCH picks train.py's --arch (standard, the default, or light: the real-time CPU network of
# models/README.md); runs of another arch than standard get it as a name prefix (light_mean_sw5,
# light_paintings).
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
IN=${IN:-.cache/gpu}
MINUTES=${MINUTES:-6}
STYLES=${STYLES:-}
CATALOG=${CATALOG:-models/paintings.json}
if [ -n "$STYLES" ]; then RUNS=${RUNS:-"mean:5"}; else RUNS=${RUNS:-"mean:5 mean:2.5"}; fi
SEED=${SEED:-0}
BATCH=${BATCH:-8}
ARCH=${ARCH:-standard}
# Multi-style networks are for video: they train with the temporal stability term (Wang et al.
# 2020; models/README.md) unless EXTRA is given.
if [ -n "$STYLES" ]; then EXTRA=${EXTRA-"--temporal-weight 50"}; else EXTRA=${EXTRA:-}; fi
PY=${PYTHON:-python3}
if [ -n "$STYLES" ]; then style_in="$IN/styles"; else style_in="$IN/style.jpg"; fi
for p in "$IN/train" "$IN/content" "$style_in" "$IN/vgg16_conv1_10.npz"; do
  [ -e "$p" ] || { echo "gpu_train: error: $p missing; run models/stage_gpu_inputs.sh first" >&2; exit 1; }
done
# The style arguments of train.py: one image, or the catalogue's paintings plus the catalogue.
# A single style.jpg that is one of the staged catalogue paintings is passed under that painting's
# file name (same bytes), so the model's metadata gets the painting's name and credit.
style_args=(--style "$IN/style.jpg")
if [ -z "$STYLES" ] && [ -d "$IN/styles" ]; then
  for f in "$IN"/styles/*; do
    if [ -f "$f" ] && cmp -s "$f" "$IN/style.jpg"; then style_args=(--style "$f" --catalog "$CATALOG"); break; fi
  done
fi
if [ -n "$STYLES" ]; then
  files=$("$PY" - "$CATALOG" "$IN/styles" "$STYLES" <<'PYEOF'
import json, os, sys
catalog, folder, wanted = sys.argv[1], sys.argv[2], sys.argv[3].split()
entries = json.load(open(catalog, encoding="utf-8"))["paintings"]
by_name = {e["name"]: e for e in entries}
if wanted == ["all"]:
    picked = [e for e in entries if e.get("default")]
else:
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        sys.exit(f"gpu_train: error: no style {', '.join(unknown)} in {catalog}; it has: {', '.join(by_name)}")
    picked = [by_name[n] for n in wanted]
for e in picked:
    path = os.path.join(folder, e["file"])
    if not os.path.isfile(path):
        sys.exit(f"gpu_train: error: {path} missing; run models/stage_gpu_inputs.sh first")
    print(path)
PYEOF
) || exit 1
  mapfile -t style_files <<<"$files"
  style_args=(--style "${style_files[@]}" --catalog "$CATALOG")
fi
mkdir -p "$OUT"
work=$(mktemp -d)
# JAX grabs 75% of GPU memory per process by default; several processes must share it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

echo "== $(date -u +%FT%TZ) gpu_train: MINUTES=$MINUTES RUNS='$RUNS' STYLES='$STYLES' ARCH=$ARCH SEED=$SEED BATCH=$BATCH EXTRA='$EXTRA'"
[ -z "$STYLES" ] || echo "styles: ${style_files[*]}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
  || echo "nvidia-smi: not available (no NVIDIA GPU?)"
"$PY" -c 'import jax; print("jax", jax.__version__, jax.default_backend(), jax.devices())'

names=()
pids=()
n_runs=$(wc -w <<<"$RUNS")
for run in $RUNS; do
  norm=${run%%:*}
  weight=${run#*:}
  name="${norm}_sw${weight}"
  if [ -n "$STYLES" ]; then
    if [ "$n_runs" -eq 1 ]; then name=paintings; else name="paintings_$name"; fi
  fi
  [ "$ARCH" = standard ] || name="${ARCH}_$name"
  mkdir -p "$work/$name"
  # shellcheck disable=SC2086  # EXTRA is a list of extra arguments
  "$PY" models/train.py train --data "$IN/train" "${style_args[@]}" --vgg "$IN/vgg16_conv1_10.npz" \
    --arch "$ARCH" --style-norm "$norm" --style-weight "$weight" --minutes "$MINUTES" --seed "$SEED" --batch "$BATCH" \
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
    per_style = os.path.join(work, n, "style_losses.csv")
    if os.path.exists(per_style):   # multi-style: the last row of weighted style losses per style
        rows = open(per_style).read().splitlines()
        for name, v in zip(rows[0].split(",")[1:], rows[-1].split(",")[1:]):
            print(f"    {name:20s} style {float(v):10.4g}" if v else f"    {name:20s} style (not drawn)")
PYEOF
ls -l "$OUT"
rm -rf "$work"
exit $status
