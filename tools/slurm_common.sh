# Sourced by tools/slurm_train.sh and tools/slurm_test.sh: task counts checked, GPU request.
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
for name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
    case "${!name}" in
        ''|*[!0-9]*|0) echo "error: $name must be a positive whole number, got '${!name}'" >&2; exit 2;;
    esac
done
if [ $((GPUS % GPUS_PER_NODE)) -ne 0 ]; then
    echo "error: GPUS=$GPUS is not a multiple of GPUS_PER_NODE=$GPUS_PER_NODE (every node runs the same number of tasks)" >&2
    exit 2
fi
# IIF_DEVICE=cpu runs CPU processes: no GPUs to request
SLURM_GRES=()
[ "${IIF_DEVICE:-auto}" = cpu ] || SLURM_GRES=(--gres="gpu:$GPUS_PER_NODE")
