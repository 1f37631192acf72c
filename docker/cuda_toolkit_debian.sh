#!/usr/bin/env bash
# Install a CUDA 12 toolkit (nvcc, headers, cuobjdump; CUDA_HOME=/usr) from Debian trixie's
# non-free archive into a Debian bookworm root, without NVIDIA's registry or a GPU. Used by the
# image's build stage (CUDA_TOOLKIT=debian) and by scripts/cuda_compile_check.sh. Run as root.
#
# Only the toolkit's own source packages (nvidia-cuda-toolkit, cccl for thrust/cub) come from
# trixie (apt pin 990); everything else stays bookworm's (trixie pinned at 100). The driver
# libraries (libcuda, libnvidia-ml >= 550) are replaced by an empty package that only
# *provides* them: the real ones need trixie's glibc, and a GPU container gets the host
# driver's libraries from the NVIDIA Container Toolkit at run time anyway. nvcc 12.4 accepts gcc <= 13: bookworm's gcc-12 is the host compiler.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

cat > /etc/apt/sources.list.d/iif-cuda-trixie.list <<SOURCES
deb $MIRROR trixie main contrib non-free non-free-firmware
deb $MIRROR bookworm contrib non-free
SOURCES
cat > /etc/apt/preferences.d/iif-cuda-trixie <<PINS
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: src:nvidia-cuda-toolkit src:cccl
Pin: release n=trixie
Pin-Priority: 990
PINS

dummy=$(mktemp -d)
mkdir -p "$dummy/pkg/DEBIAN"
cat > "$dummy/pkg/DEBIAN/control" <<CONTROL
Package: libcuda-dummy
Version: 550.0
Architecture: all
Maintainer: IIF kit <iif-kit@localhost>
Provides: libcuda.so.1 (= 550), libcuda-12.4-1, libcuda1 (= 550), libnvidia-ml.so.1 (= 550), libnvidia-ml1 (= 550)
Description: placeholder for the NVIDIA driver libraries (injected at run time)
CONTROL
dpkg-deb --build "$dummy/pkg" "$dummy/libcuda-dummy.deb" >/dev/null
dpkg -i "$dummy/libcuda-dummy.deb"
rm -rf "$dummy"

apt-get update -qq
apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit gcc-12 g++-12 >/dev/null
rm -rf /var/lib/apt/lists/*
nvcc --version | tail -n 2
