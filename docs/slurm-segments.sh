#!/usr/bin/env bash
# One long video over a Slurm cluster: a job array whose task K stylizes part K of N
# (`vstyle --segments N`, the video cut at key frames into N parts of about equal duration), and
# a join job that Slurm starts only once every task has COMPLETED (--dependency=afterok).
#
#   docs/slurm-segments.sh /shared/film.mp4 /shared/film_styled.mp4 /shared/models/scream.onnx
#
# Run it on the login node, not through sbatch: it submits the two jobs itself (this same script,
# in the role Slurm's environment tells it) and prints their ids. SEGMENTS sets N (default 16),
# VSTYLE the command (as in docs/slurm-array.sh), VSTYLE_ARGS more vstyle options, the same for
# every part and the join (a part made with other settings refuses to join), and SBATCH_ARGS
# more sbatch options for both jobs (a partition, an account, fewer CPUs than the header's).
#
# The parts are written next to the output (film_styled.part-K-of-N.mp4) and removed by the
# join. Resubmitting resumes: a task whose part is finished with these settings says so and ends
# at once. If a task fails, the join never starts (DependencyNeverSatisfied); run that part
# again alone, then the join (SEGMENTS as before):
#
#   VSTYLE_ROLE=part SEGMENTS=16 VSTYLE_SHARD_COUNT=16 sbatch --array=5 docs/slurm-segments.sh IN OUT MODEL
#   VSTYLE_ROLE=join SEGMENTS=16 sbatch docs/slurm-segments.sh IN OUT MODEL
#
# scripts/slurm_e2e.sh runs this script on a one-node Slurm cluster.
#
#SBATCH --job-name=vstyle-part
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=vstyle-%A_%a.log
##SBATCH --gres=gpu:1          # with onnxruntime-gpu (--ort-lib) and --device cuda
set -euo pipefail

usage="usage: slurm-segments.sh INPUT.mp4 OUTPUT.mp4 MODEL.onnx"
in=${1:?$usage}
out=${2:?$usage}
model=${3:?$usage}
vstyle=${VSTYLE:-vstyle}
n=${SEGMENTS:-16}
# shellcheck disable=SC2206  # extra options, split on purpose
extra=(${VSTYLE_ARGS:-})
# shellcheck disable=SC2206
batch=(${SBATCH_ARGS:-})

case ${VSTYLE_ROLE:-submit} in
  submit)
    # Slurm starts the jobs with this script's copy, so it needs its own path.
    self=$(realpath "${BASH_SOURCE[0]}")
    # The environment (VSTYLE, VSTYLE_ARGS, SEGMENTS) reaches the jobs through sbatch.
    array=$(VSTYLE_ROLE=part VSTYLE_SHARD_COUNT=$n sbatch --parsable --array="0-$((n - 1))" "${batch[@]}" \
      "$self" "$in" "$out" "$model" | cut -d';' -f1)
    join=$(VSTYLE_ROLE=join sbatch --parsable --dependency="afterok:$array" "${batch[@]}" \
      --job-name=vstyle-join --output=vstyle-join-%j.log \
      "$self" "$in" "$out" "$model" | cut -d';' -f1)
    echo "parts: job $array (tasks 0-$((n - 1))); join: job $join, after every part"
    ;;
  part)
    # vstyle reads SLURM_ARRAY_TASK_ID itself: with VSTYLE_SHARD_COUNT=N it makes part K.
    exec $vstyle "$in" --model "$model" -o "$out" --segments "$n" "${extra[@]}" \
      ${SLURM_CPUS_PER_TASK:+--threads "$SLURM_CPUS_PER_TASK"}
    ;;
  join)
    exec $vstyle "$in" --model "$model" -o "$out" --segments "$n" --join "${extra[@]}"
    ;;
  *)
    echo "error: VSTYLE_ROLE=$VSTYLE_ROLE is not submit, part or join" >&2
    exit 2
    ;;
esac
