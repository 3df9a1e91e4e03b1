#!/usr/bin/env bash
# Temporal stability of every style of a multi-style network, next to multistyle26's style 19
# and scream.onnx on the same frames: the warping error (benches/temporal.sh, Lai et al. 2018)
# of each style without and with --temporal, as a ratio to the input's own. One table per
# network, printed and kept in .cache/paintings_temporal.md.
#
#   bash benches/paintings_temporal.sh
#   MODEL=path/to/net.onnx CLIPS="zoom" FRAMES=24 bash benches/paintings_temporal.sh
#
# Environment (defaults in brackets): MODEL [models/paintings.onnx]; CLIPS, clips of
# benches/temporal.sh with camera motion ["zoom pan megamind"]; FRAMES [40]; PEERS, the other
# networks as MODEL:STYLE-NAME, STYLE-NAME empty for a single-style one
# ["models/multistyle26.onnx:19 models/scream.onnx:"; empty: none]. No style loss is measured (STYLE="");
# models/evaluate.py measures each style's.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/paintings.onnx}
PEERS=${PEERS-"models/multistyle26.onnx:19 models/scream.onnx:"}
export CLIPS=${CLIPS:-"zoom pan megamind"} FRAMES=${FRAMES:-40} STYLE=""
VSTYLE=${VSTYLE:-target/release/vstyle}
report=.cache/paintings_temporal.md
mkdir -p .cache
: > "$report"

# variants LABEL STYLE: plain and --temporal for one style ("" for a single-style network).
variants() {
  local label=$1 name=$2 flags=""
  [ -n "$name" ] && flags="--style-name $name"
  printf '%s:%s;%s+temporal:%s --temporal;' "$label" "$flags" "$label" "$flags"
}

run() {  # run MODEL VARIANTS
  echo "== $1" | tee -a "$report"
  MODEL=$1 VARIANTS=$2 bash benches/temporal.sh > .cache/paintings_temporal.log 2>&1 ||
    { tail -5 .cache/paintings_temporal.log; exit 1; }
  grep '^|' .cache/paintings_temporal.log | tee -a "$report"
  echo | tee -a "$report"
}

all=""
for n in $("$VSTYLE" --list-styles "$MODEL" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $2 }'); do
  all+=$(variants "$n" "$n")
done
run "$MODEL" "$all"
for peer in $PEERS; do
  m=${peer%%:*} s=${peer#*:}
  label=$(basename "$m" .onnx)${s:+-$s}
  run "$m" "$(variants "$label" "$s")"
done
echo "kept in $report"
