#!/usr/bin/env bash
# vstyle over a shared folder as a Slurm job array: task i stylizes shard i of the array's size.
#
#   sbatch docs/slurm-array.sh /shared/videos /shared/styled /shared/models/scream.onnx
#
# vstyle reads SLURM_ARRAY_TASK_ID itself. Every task lists the same folder, sorts the jobs the
# same way and takes its own slice; tasks never write the same output and together do the whole
# folder. Resubmitting resumes: finished files are skipped, unfinished ones redone.
#
# VSTYLE_SHARD_COUNT pins the layout to shards 0..N-1 (the task id is the shard number), so a
# single task can be resubmitted alone: `sbatch --array=3 docs/slurm-array.sh ...`. Keep it equal
# to the size of --array below. (Left unset, vstyle counts the array itself from
# SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT, which suits one-off arrays such as 1-16.)
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

export VSTYLE_SHARD_COUNT=${VSTYLE_SHARD_COUNT:-8} # = the number of tasks in --array=0-7

mkdir -p "$out"
# Exit codes: 0 all done, 1 some files failed (listed in the log and the report), 2 usage error,
# 130 interrupted (scancel, time limit): resubmit to resume.
exec $vstyle "$in" --recursive --model "$model" -o "$out" \
  --report "$out/report-${SLURM_ARRAY_TASK_ID}.json" \
  ${SLURM_CPUS_PER_TASK:+--threads "$SLURM_CPUS_PER_TASK"}
