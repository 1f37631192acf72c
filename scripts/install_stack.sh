#!/usr/bin/env bash
# Install the pinned stack of requirements.lock into the Python given by $PYTHON (a venv).
# Used by docker/Dockerfile and by `make setup`, so the image and local environments match.
#
#   scripts/install_stack.sh [deps|mmcv|all] [LOCK]
#     deps  build tools (pip, setuptools, wheel, ninja) and every pin except mmcv-full
#     mmcv  mmcv-full compiled from source against the installed torch, then `pip check`
#     all   both (default)
#
# mmcv-full has no wheels for this torch/CUDA pair (and download.openmmlab.com is gone), so it
# is compiled: MMCV_WITH_OPS=1 always; FORCE_CUDA=1 with TORCH_CUDA_ARCH_LIST (default
# "7.0;7.5;8.0;8.6;8.9;9.0", V100 to H100) when an nvcc of torch's CUDA major version is found
# (MMCV_CUDA_OPS=0 never builds CUDA ops, =1 insists on them). pip caches the built wheel.
set -euo pipefail
STAGE=${1:-all}
LOCK=${2:-$(cd "$(dirname "$0")/.." && pwd)/requirements.lock}
PYTHON=${PYTHON:-python}
[ -f "$LOCK" ] || { echo "error: lock file not found: $LOCK" >&2; exit 2; }

# Every pin of the lock carries its files' sha256 (`--hash=` continuation lines) and every pip
# call below uses --require-hashes: a file that differs from the locked bytes stops the install.
blocks() {  # the lock's entries (pin line + hash lines) whose name matches the regex $1 (or not, -v)
    local invert=0
    [ "$1" = -v ] && { invert=1; shift; }
    awk -v re="^($1)==" -v invert=$invert '
        /^[A-Za-z0-9]/ { keep = (tolower($0) ~ re) != invert }
        /^ / && keep   { print; next }
        /^[A-Za-z0-9]/ && keep { print }' "$LOCK"
}

TMP_REQS=$(mktemp -d)
trap 'rm -rf "$TMP_REQS"' EXIT

install_deps() {
    blocks 'pip|setuptools|wheel|ninja' > "$TMP_REQS/build-tools.txt"
    "$PYTHON" -m pip install --require-hashes -r "$TMP_REQS/build-tools.txt"
    blocks -v 'mmcv-full' > "$TMP_REQS/deps.txt"
    "$PYTHON" -m pip install --require-hashes -r "$TMP_REQS/deps.txt"
}

install_mmcv() {
    local nvcc nvcc_cuda torch_cuda
    nvcc=""
    if [ "${MMCV_CUDA_OPS:-auto}" != 0 ]; then
        nvcc=$(command -v nvcc || true)
        [ -z "$nvcc" ] && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] && nvcc="${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"
    fi
    if [ -n "$nvcc" ]; then
        # torch refuses to compile extensions with a CUDA toolkit of another major version
        nvcc_cuda=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p')
        torch_cuda=$("$PYTHON" -c 'import torch; print(torch.version.cuda or "")')
        if [ "${nvcc_cuda%%.*}" != "${torch_cuda%%.*}" ]; then
            if [ "${MMCV_CUDA_OPS:-auto}" = 1 ]; then
                echo "error: $nvcc is CUDA $nvcc_cuda but torch was built for CUDA $torch_cuda;" \
                     "point CUDA_HOME at a CUDA ${torch_cuda%%.*}.x toolkit" >&2
                exit 2
            fi
            echo "warning: $nvcc is CUDA $nvcc_cuda but torch was built for CUDA $torch_cuda:" \
                 "building CPU ops only (set CUDA_HOME to a CUDA ${torch_cuda%%.*}.x toolkit for GPU ops)" >&2
            nvcc=""
        fi
    fi
    export MMCV_WITH_OPS=1
    export MAX_JOBS=${MAX_JOBS:-$(nproc)}
    # torch's BuildExtension compiles MAX_JOBS files at once only when `ninja` is on PATH (the
    # lock's ninja, in the venv's bin); without it, one file after the other (a CUDA build of
    # mmcv's 55 .cu files for 6 archs then takes hours even on a large machine)
    PATH="$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')"):$PATH"
    if command -v ninja >/dev/null; then
        echo "compiling with ninja, MAX_JOBS=$MAX_JOBS"
    else
        echo "warning: ninja not found: mmcv's sources compile one at a time" >&2
    fi
    if [ -n "$nvcc" ]; then
        export FORCE_CUDA=1
        export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-"7.0;7.5;8.0;8.6;8.9;9.0"}
        export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$nvcc")")}
        echo "building mmcv-full with CUDA ops ($nvcc; archs $TORCH_CUDA_ARCH_LIST)"
    else
        echo "building mmcv-full with CPU ops only"
    fi
    blocks 'mmcv-full' > "$TMP_REQS/mmcv.txt"
    "$PYTHON" -m pip install --require-hashes --no-build-isolation --no-deps -r "$TMP_REQS/mmcv.txt"
    "$PYTHON" -m pip check
}

case "$STAGE" in
    deps) install_deps ;;
    mmcv) install_mmcv ;;
    all) install_deps; install_mmcv ;;
    *) echo "usage: $0 [deps|mmcv|all] [LOCK]" >&2; exit 2 ;;
esac
