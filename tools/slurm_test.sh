#!/usr/bin/env bash
# Evaluate a checkpoint on a SLURM cluster: one srun task per GPU (or CPU process).
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]
# Environment as tools/slurm_train.sh (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON,
# CONTAINER_RUN, IIF_KIT_DIR). Every rank writes result shards into the work dir and rank 0 reads them
# all: the work dir must be on a filesystem every node shares.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options]" >&2
    exit 2
fi
PARTITION=$1 JOB_NAME=$2 CONFIG=$3 CHECKPOINT=$4
shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/slurm_common.sh
. "$HERE/slurm_common.sh"
srun_kit test.py "$CONFIG" "$CHECKPOINT" --launcher slurm "$@"
