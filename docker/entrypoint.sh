#!/usr/bin/env bash
# The image's entrypoint: one verb per kit job. Compose services call it with their verb
# (train, test, ...) and append the user's arguments.
set -euo pipefail
cd "${IIF_WORKSPACE:-/workspace}"

usage() {
    cat <<'USAGE'
IIF kit image. Usage (compose passes the verb for you):
  train CONFIG GPUS [tools/train.py options]        train on GPUS GPUs (CPU processes with IIF_DEVICE=cpu)
  test CONFIG CHECKPOINT [GPUS] [tools/test.py options]   evaluate bbox + segm (AP, APr, APc, APf)
  reproduce [iif reproduce run options]             train + evaluate every IIF variant, write results/
  reproduce-status [options]                        progress of the reproduce queue
  weights [iif weights options]                     IIF weights CSV (e.g. --dataset lvis_v1 --out results/w.csv)
  data [download|verify] [options]                  fetch / check LVIS v1 + COCO 2017 under data/lvis_v1
  demo                                              train + evaluate IIF on the built-in small dataset
  pytest [pytest options]                           the kit's test suite
  env                                               versions, CUDA, GPUs, commit
  bash                                              a shell
USAGE
}

is_count() { [[ "${1:-}" =~ ^[0-9]+$ ]]; }

verb=${1:-help}
[ $# -gt 0 ] && shift
case "$verb" in
    train)
        if [ $# -lt 2 ] || ! is_count "$2"; then
            echo "error: usage: train CONFIG GPUS [options] (e.g. train configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py 4)" >&2
            exit 2
        fi
        exec tools/dist_train.sh "$@"
        ;;
    test)
        if [ $# -lt 2 ]; then
            echo "error: usage: test CONFIG CHECKPOINT [GPUS] [options]" >&2
            exit 2
        fi
        config=$1 checkpoint=$2
        shift 2
        gpus=1
        if is_count "${1:-}"; then gpus=$1; shift; fi
        exec tools/dist_test.sh "$config" "$checkpoint" "$gpus" "$@"
        ;;
    reproduce) exec iif reproduce run "$@" ;;
    reproduce-status) exec iif reproduce status "$@" ;;
    weights) exec iif weights "$@" ;;
    data) exec iif data "$@" ;;
    demo) exec iif demo "$@" ;;
    pytest) exec python -m pytest "$@" ;;
    env) exec iif env ;;
    bash|sh) exec bash "$@" ;;
    help|-h|--help) usage ;;
    *)
        echo "error: unknown command '$verb'" >&2
        usage >&2
        exit 2
        ;;
esac
