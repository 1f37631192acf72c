#!/usr/bin/env bash
# Evaluate a checkpoint on GPUS processes through torchrun (each writes its own result shard).
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
case "$GPUS" in ''|*[!0-9]*) echo "error: GPUS must be a whole number, got '$GPUS'" >&2; exit 2;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}
"$PYTHON" "$HERE/test.py" "$CONFIG" "$CHECKPOINT" "$@" --check-only --expect-processes "$GPUS"
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$HERE/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
