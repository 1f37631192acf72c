#!/usr/bin/env bash
# Train on GPUS processes (GPUs, or CPU processes with IIF_DEVICE=cpu) through torchrun.
#   tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT as in mmdetection.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
case "$GPUS" in ''|*[!0-9]*) echo "error: GPUS must be a whole number, got '$GPUS'" >&2; exit 2;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
# Check config, data, GPUs and work dir once, before torchrun starts any process.
"$PYTHON" "$HERE/train.py" "$CONFIG" "$@" --check-only --expect-processes "$GPUS"
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "$@"
