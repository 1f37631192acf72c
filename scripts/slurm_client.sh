#!/usr/bin/env bash
# SLURM's client commands for a container on the login node, so that `iif reproduce run
# --executor slurm` can run inside the kit's image (where mmcv reads the configs) and still
# submit to the host's SLURM:   scripts/slurm_client.sh DIR
# DIR must be a path the container and the compute nodes both see at the same place (a shared
# filesystem; /tmp on the CI host, which ch-run shares). It gets copies of sbatch, squeue,
# scontrol, scancel and sinfo (DIR/libexec), SLURM's library and plugins and libmunge
# (DIR/lib), the cluster's slurm.conf with PluginDir=DIR/lib (DIR/etc), and DIR/bin with one
# wrapper per command that points them there. Put DIR/bin first on PATH inside the container
# and bind the munge socket's directory and the host's user list, for Charliecloud:
#   ch-run --no-passwd -b /etc/passwd -b /etc/group -b /run IMAGE -- env PATH=DIR/bin:$PATH ...
# Copies, not binds, because ch-run cannot bind onto a path the image lacks
# (/usr/lib/x86_64-linux-gnu/slurm-wlm); the copies also work on the host, where the jobs run
# with the environment sbatch was called with (SLURM_CONF and LD_LIBRARY_PATH of the wrapper).
set -euo pipefail
DIR=${1:?usage: scripts/slurm_client.sh DIR (a directory on a filesystem the container sees)}
mkdir -p "$DIR/bin" "$DIR/libexec" "$DIR/lib" "$DIR/etc"
DIR=$(cd "$DIR" && pwd)
sbatch=$(command -v sbatch) || { echo "error: sbatch not found: run this on a SLURM login node" >&2; exit 1; }
# the library sbatch is linked against, and the plugins next to it (SLURM's PluginDir)
lib=$(ldd "$sbatch" | sed -n 's/.*libslurmfull.so => \([^ ]*\).*/\1/p')
[ -n "$lib" ] || { echo "error: cannot find libslurmfull.so of $sbatch (ldd)" >&2; exit 1; }
cp -a "$(dirname "$lib")/." "$DIR/lib/"
munge=$(ldd "$(dirname "$lib")/auth_munge.so" 2>/dev/null | sed -n 's/.*libmunge.so.2 => \([^ ]*\).*/\1/p')
[ -z "$munge" ] || cp -L "$munge" "$DIR/lib/"
conf=${SLURM_CONF:-/etc/slurm/slurm.conf}
grep -vi '^[[:space:]]*PluginDir=' "$conf" >"$DIR/etc/slurm.conf"
echo "PluginDir=$DIR/lib" >>"$DIR/etc/slurm.conf"
for f in "$(dirname "$conf")"/plugstack.conf*; do
    [ -e "$f" ] && cp -a "$f" "$DIR/etc/"
done
for cmd in sbatch squeue scontrol scancel sinfo; do
    cp "$(command -v "$cmd")" "$DIR/libexec/$cmd"
    cat >"$DIR/bin/$cmd" <<EOF
#!/bin/sh
# $cmd of the host's SLURM (written by scripts/slurm_client.sh)
SLURM_CONF=$DIR/etc/slurm.conf LD_LIBRARY_PATH=$DIR/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} exec $DIR/libexec/$cmd "\$@"
EOF
    chmod +x "$DIR/bin/$cmd"
done
echo "$DIR/bin"
