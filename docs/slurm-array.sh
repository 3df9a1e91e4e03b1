#!/usr/bin/env bash
# vstyle over a shared folder as a Slurm job array: task i stylizes shard i of N (8 by default).
#
#   sbatch docs/slurm-array.sh /shared/videos /shared/styled /shared/models/scream.onnx
#
# vstyle reads SLURM_ARRAY_TASK_ID itself. Every task lists the same folder, sorts the jobs the
# same way and takes its own slice; tasks never write the same output and together do the whole
# folder. Resubmitting resumes: finished files are skipped, unfinished ones redone.
#
# VSTYLE_SHARD_COUNT pins the layout to shards 0..N-1 (the task id is the shard number), so a
# single task can be resubmitted alone: `sbatch --array=3 docs/slurm-array.sh ...`. It defaults
# to 8, the size of --array below; an array of another size given on the command line needs it
# in the environment too (sbatch passes the environment on to the tasks):
#
#   VSTYLE_SHARD_COUNT=16 sbatch --array=0-15 docs/slurm-array.sh /shared/videos /shared/styled /shared/models/scream.onnx
#   VSTYLE_SHARD_COUNT=16 sbatch --array=5 docs/slurm-array.sh ...      # task 5 again, alone
#
# (vstyle itself, with VSTYLE_SHARD_COUNT unset, counts the array from SLURM_ARRAY_TASK_MIN and
# SLURM_ARRAY_TASK_COUNT, which suits one-off arrays such as 1-16.)
#
# Task i logs to vstyle-JOBID_i.log in the folder sbatch was started from. Another --output
# needs its folder made first: Slurm does not make it, and the task FAILS at once without a log.
# scripts/slurm_e2e.sh runs this script on a one-node Slurm cluster.
#
#SBATCH --job-name=vstyle
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=vstyle-%A_%a.log
##SBATCH --gres=gpu:1          # with onnxruntime-gpu (--ort-lib) and --device cuda
set -euo pipefail

in=${1:?usage: sbatch slurm-array.sh INPUT_DIR OUTPUT_DIR MODEL.onnx}
out=${2:?usage: sbatch slurm-array.sh INPUT_DIR OUTPUT_DIR MODEL.onnx}
model=${3:?usage: sbatch slurm-array.sh INPUT_DIR OUTPUT_DIR MODEL.onnx}
# VSTYLE may name a container command too, e.g. "apptainer exec vstyle.sif vstyle" for the image
# built from the repository's Containerfile.
vstyle=${VSTYLE:-vstyle}

count=${VSTYLE_SHARD_COUNT:-8} # = the number of tasks in --array=0-7
# An --array given on the command line (sbatch --array=0-3 ...) overrides the one above but not
# this default: tasks 0-3 would run shards 0-3 of 8, all COMPLETED, and half the folder would
# never be done. So an array 0-M smaller than the default layout is refused; VSTYLE_SHARD_COUNT
# set in the environment is taken as it is (resubmitting tasks 0-3 of 8 on purpose).
if [ -z "${VSTYLE_SHARD_COUNT:-}" ] && [ "${SLURM_ARRAY_TASK_MIN:-}" = 0 ] \
  && [ "${SLURM_ARRAY_TASK_COUNT:-1}" -gt 1 ] && [ "$((SLURM_ARRAY_TASK_MAX + 1))" -lt "$count" ]; then
  echo "error: this array is 0-$SLURM_ARRAY_TASK_MAX, but the layout has $count shards: shards" \
    "$((SLURM_ARRAY_TASK_MAX + 1))-$((count - 1)) would never run. Give the layout's size:" \
    "VSTYLE_SHARD_COUNT=$((SLURM_ARRAY_TASK_MAX + 1)) sbatch --array=0-$SLURM_ARRAY_TASK_MAX ..." >&2
  exit 2
fi
export VSTYLE_SHARD_COUNT=$count

mkdir -p "$out"
# Exit codes, shown by Slurm as ExitCode=N:0: 0 all done, 1 some files failed (listed in the log
# and the report), 2 usage error, 130 interrupted (scancel, the time limit; the task ends
# CANCELLED or TIMEOUT): resubmit to resume.
exec $vstyle "$in" --recursive --model "$model" -o "$out" \
  --report "$out/report-${SLURM_ARRAY_TASK_ID}.json" \
  ${SLURM_CPUS_PER_TASK:+--threads "$SLURM_CPUS_PER_TASK"}
