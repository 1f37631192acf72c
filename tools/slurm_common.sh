# Sourced by tools/slurm_train.sh and tools/slurm_test.sh: task counts checked, GPU request,
# and srun_kit, the one srun line both run.
positive() {
    case "$2" in
        ''|*[!0-9]*|0) echo "error: $1 must be a positive whole number, got '$2'" >&2; exit 2;;
    esac
}
GPUS=${GPUS:-8}
positive GPUS "$GPUS"
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
positive GPUS_PER_NODE "$GPUS_PER_NODE"
positive CPUS_PER_TASK "$CPUS_PER_TASK"
if [ $((GPUS % GPUS_PER_NODE)) -ne 0 ]; then
    echo "error: GPUS=$GPUS is not a multiple of GPUS_PER_NODE=$GPUS_PER_NODE (every node runs the same number of tasks)" >&2
    exit 2
fi
# IIF_DEVICE=cpu runs CPU processes: no GPUs to request
SLURM_GRES=()
[ "${IIF_DEVICE:-auto}" = cpu ] || SLURM_GRES=(--gres="gpu:$GPUS_PER_NODE")

# srun_kit TOOL ARGS...: one task per GPU (or CPU process) running tools/TOOL of the kit as the
# tasks see it (IIF_KIT_DIR, default this checkout), through CONTAINER_RUN when given.
srun_kit() {
    local tool=$1
    shift
    local kit=${IIF_KIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
    # shellcheck disable=SC2086  # SRUN_ARGS and CONTAINER_RUN are word lists
    exec srun -p "$PARTITION" --job-name="$JOB_NAME" "${SLURM_GRES[@]}" \
        --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
        --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
        ${CONTAINER_RUN:-} "${PYTHON:-python}" -u "$kit/tools/$tool" "$@"
}
