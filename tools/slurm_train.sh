#!/usr/bin/env bash
# Train on a SLURM cluster: one srun task per GPU (or CPU process with IIF_DEVICE=cpu).
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]
# Environment: GPUS (total tasks, default 8), GPUS_PER_NODE (default min(GPUS, 8)),
# CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun options, e.g. "--time=2-0 --qos=high"),
# PYTHON (default python), CONTAINER_RUN (a command prefix run inside each task, e.g.
# "ch-run -b /data:/data /var/tmp/iif --"; docs/cluster.md), IIF_KIT_DIR (the kit's
# checkout as the tasks see it, default: this one; /workspace inside the image). For preemptible or time-limited
# jobs submit tools/slurm_train.sbatch instead: it requeues and resumes.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options]" >&2
    exit 2
fi
PARTITION=$1 JOB_NAME=$2 CONFIG=$3 WORK_DIR=$4
shift 4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/slurm_common.sh
. "$HERE/slurm_common.sh"
srun_kit train.py "$CONFIG" --work-dir "$WORK_DIR" --launcher slurm "$@"
