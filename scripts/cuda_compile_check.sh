#!/usr/bin/env bash
# CI check of the image's CUDA build path on a machine without GPU or NVIDIA registry: in a
# throwaway container of IMAGE (one holding the kit's /opt/venv with torch and a C++ compiler:
# the image's `build` stage), install Debian's CUDA 12 toolkit (docker/cuda_toolkit_debian.sh,
# the same as `CUDA_TOOLKIT=debian`), then compile the CUDA sources of the mmcv-full ops the
# kit's configs call (RoIAlign, nms) with mmcv's own build flags (setup.py's CUDAExtension:
# MMCV_WITH_CUDA, -std=c++17, its include folders; torch's nvcc flags) for ARCH, and check
# the library with `cuobjdump --list-elf` (one sm_XX ELF per source) and `nm` (the launchers).
#
#   scripts/cuda_compile_check.sh [IMAGE]   (no IMAGE: builds the image's build stage with
#                                            compose's build arguments as IIF_IMAGE-build)
#   CUDA_CHECK_ARCH=8.0 (default)  CUDA_CHECK_OPS="roi_align nms" (default)
# Nothing is written outside the container; it needs the network (Debian and PyPI).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCH=${CUDA_CHECK_ARCH:-8.0}
OPS=${CUDA_CHECK_OPS:-roi_align nms}

if [ "${1:-}" != --inside ]; then
    started=$(date +%s)
    IMAGE=${1:-}
    if [ -z "$IMAGE" ]; then
        # the image's build stage with compose's build arguments (its layers come from the cache
        # of `make build`), tagged IIF_IMAGE-build
        IMAGE=${IIF_IMAGE:-$(sed -n 's/^IIF_IMAGE=//p' "$ROOT/.env" 2>/dev/null | tail -n 1)}
        IMAGE=${IMAGE:-iif-kit:latest}-build
        mapfile -t build_args < <(cd "$ROOT" && docker compose -f compose.yaml config --format json \
            | python3 -c 'import json, sys
build = json.load(sys.stdin)["services"]["train"]["build"]
print("--network=" + build.get("network", "default"))
for key, value in build.get("args", {}).items():
    print(f"--build-arg={key}={value}")')
        log=$(mktemp)
        (cd "$ROOT" && docker build --target build -f docker/Dockerfile -t "$IMAGE" \
            "${build_args[@]}" .) >"$log" 2>&1 \
            || { tail -n 40 "$log" >&2; echo "error: building $IMAGE failed" >&2; exit 1; }
        grep -c 'Using cache' "$log" | sed "s/^/$IMAGE: build stage built, cached steps: /"
        rm -f "$log"
    fi
    docker image inspect "$IMAGE" >/dev/null 2>&1 || {
        echo "error: image $IMAGE not found (pass an image holding /opt/venv with torch and g++," \
             "or nothing to build the image's build stage)" >&2
        exit 2
    }
    docker run --rm --network "${BUILD_NETWORK:-host}" --user 0:0 --entrypoint bash \
        -e CUDA_CHECK_ARCH="$ARCH" -e CUDA_CHECK_OPS="$OPS" \
        -v "$ROOT:/src:ro" "$IMAGE" /src/scripts/cuda_compile_check.sh --inside
    echo "cuda compile check passed in $(( $(date +%s) - started )) s"
    exit 0
fi

# --- inside the container ---
PY=/opt/venv/bin/python
t0=$(date +%s)
bash /src/docker/cuda_toolkit_debian.sh
t1=$(date +%s)
echo "toolkit installed in $((t1 - t0)) s"

# mmcv-full's sdist, the locked bytes
work=$(mktemp -d)
want=$(awk '/^mmcv-full==/{f=1; next} f && /--hash=sha256:/{sub(/.*sha256:/,""); sub(/[ \\].*/,""); print; exit}' /src/requirements.lock)
version=$(sed -n 's/^mmcv-full==\([^ ]*\).*/\1/p' /src/requirements.lock)
"$PY" -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation \
    -d "$work" "mmcv-full==$version"
sdist=$(ls "$work"/mmcv*"$version".tar.gz)
got=$(sha256sum "$sdist" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "error: $sdist sha256 $got, the lock says $want" >&2; exit 1; }
tar -C "$work" -xzf "$sdist"

export CUDA_HOME=/usr CC=gcc-12 CXX=g++-12 TORCH_CUDA_ARCH_LIST=$ARCH
# a setup.py of the same kind as mmcv's: torch's CUDAExtension + BuildExtension (the lock's
# ninja is in the image: the same compile path as its mmcv build, MAX_JOBS files at once)
cat > "$work/setup.py" <<PYTHON
import os
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

csrc = os.path.join('$work', 'mmcv-full-$version', 'mmcv', 'ops', 'csrc')
ops = '$OPS'.split()
# the flags of mmcv 1.7.2's setup.py for CUDAExtension with torch > 1.12.1
setup(name='iif_mmcv_cuda_check', ext_modules=[CUDAExtension(
    'iif_mmcv_cuda_check',
    sources=[os.path.join(csrc, 'pytorch', 'cuda', f'{op}_cuda.cu') for op in ops],
    include_dirs=[os.path.join(csrc, 'pytorch'), os.path.join(csrc, 'common'),
                  os.path.join(csrc, 'common', 'cuda')],
    define_macros=[('MMCV_WITH_CUDA', None)],
    extra_compile_args={'cxx': ['-std=c++17'], 'nvcc': ['-std=c++17']})],
    cmdclass={'build_ext': BuildExtension})
PYTHON
(cd "$work" && "$PY" setup.py build_ext --build-lib "$work/build" --build-temp "$work/tmp")
t2=$(date +%s)
echo "compiled $OPS for sm_${ARCH/./} in $((t2 - t1)) s"

lib=$(ls "$work"/build/iif_mmcv_cuda_check*.so)
cuobjdump --list-elf "$lib" | tee "$work/elf.txt"
count=$(grep -c "\.sm_${ARCH/./}\.cubin" "$work/elf.txt" || true)
n_ops=$(wc -w <<<"$OPS")
[ "$count" -eq "$n_ops" ] || {
    echo "error: cuobjdump lists $count sm_${ARCH/./} ELF(s) in $lib, expected one per op ($n_ops)" >&2
    exit 1
}
symbols=$(nm -DC --defined-only "$lib")
for launcher in ROIAlignForwardCUDAKernelLauncher ROIAlignBackwardCUDAKernelLauncher NMSCUDAKernelLauncher; do
    if [[ $launcher == ROIAlign* && " $OPS " != *" roi_align "* ]] || [[ $launcher == NMS* && " $OPS " != *" nms "* ]]; then
        continue
    fi
    grep -q "$launcher" <<<"$symbols" || { echo "error: $launcher missing from $lib" >&2; exit 1; }
done
echo "ok: $OPS compiled for sm_${ARCH/./} with nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'); cuobjdump lists $count ELF(s)"
