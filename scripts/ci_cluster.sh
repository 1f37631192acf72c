#!/usr/bin/env bash
# The cluster tests of CI (tests_cluster/), from the host: a single-host SLURM cluster with two
# slurmd nodes (scripts/ci_slurm.sh), the built image converted for Charliecloud, and the SLURM
# jobs running the kit inside it with ch-run, as on an HPC cluster. Every step prints its time.
#   scripts/ci_cluster.sh [pytest options]
#   CLUSTER_PREPARE_ONLY=1 scripts/ci_cluster.sh   (cluster up, image converted, then stop)
#   CLUSTER_TESTS=tests_cluster/test_reproduce_slurm.py scripts/ci_cluster.sh   (some tests only)
# IMAGE (default: IIF_IMAGE of .env, else iif-kit:latest), CH_IMAGE_DIR (default
# /var/tmp/iif-ch/iif-kit), CH_RUN_ARGS (extra ch-run options, e.g. "-b $PWD:/workspace" to
# run this checkout on an older image).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# the image `make test` built (IIF_IMAGE of .env)
IMAGE=${IMAGE:-$(sed -n 's/^IIF_IMAGE=//p' .env 2>/dev/null | tail -n 1)}
IMAGE=${IMAGE:-iif-kit:latest}
CH_IMAGE_DIR=${CH_IMAGE_DIR:-/var/tmp/iif-ch/iif-kit}
t0=$(date +%s)
took() { echo "==== cluster: $1 ($(( $(date +%s) - t0 )) s)"; t0=$(date +%s); }

scripts/ci_slurm.sh
took "SLURM cluster up (2 nodes)"

if ! command -v ch-convert >/dev/null || ! command -v ch-run >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq charliecloud >/dev/null
fi
image_id=$(docker image inspect -f '{{.Id}}' "$IMAGE")
if [ "$(cat "$CH_IMAGE_DIR.id" 2>/dev/null)" != "$image_id" ]; then
    rm -rf "$CH_IMAGE_DIR" "$CH_IMAGE_DIR.id"
    mkdir -p "$CH_IMAGE_DIR"
    # What `ch-convert -i docker IMAGE DIR` does, without its gzip round trip: the image's
    # filesystem as a plain directory (6.7 GB image on 2 cores: 84 s here; ch-convert spent
    # ~4 min exporting, then >11 min compressing before it was stopped; docs/cluster.md).
    container=$(docker create "$IMAGE" /bin/true)
    docker export "$container" | tar -x -C "$CH_IMAGE_DIR"
    docker rm "$container" >/dev/null
    echo "$image_id" >"$CH_IMAGE_DIR.id"
fi
took "Charliecloud image $CH_IMAGE_DIR (docker export of $IMAGE)"

# the test driver needs only pytest; the kit runs inside the image
if [ ! -x .cache/cluster-venv/bin/pytest ]; then
    python3 -m venv .cache/cluster-venv
    .cache/cluster-venv/bin/pip install --quiet "pytest==$(sed -n 's/^pytest==\([^ ]*\).*/\1/p' requirements.lock)"
fi
# ch-run shares /tmp with the host (the tests' work dirs); /workspace is the image's kit
export CONTAINER_RUN=$ROOT/scripts/ch_exec.sh CH_IMAGE_DIR CH_RUN_ARGS=${CH_RUN_ARGS:-}
export IIF_KIT_DIR=/workspace IIF_CLUSTER_PYTHON=/opt/venv/bin/python
if [ "${CLUSTER_PREPARE_ONLY:-0}" = 1 ]; then
    took "prepared (CLUSTER_PREPARE_ONLY=1: the tests run on the next call)"
    exit 0
fi
# shellcheck disable=SC2086  # CLUSTER_TESTS is a word list
.cache/cluster-venv/bin/python -m pytest -q -p no:cacheprovider --durations=0 -s ${CLUSTER_TESTS:-tests_cluster} "$@"
took "tests_cluster"
