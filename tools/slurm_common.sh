# Sourced by tools/slurm_train.sh and tools/slurm_test.sh: task counts checked, GPU request.
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
