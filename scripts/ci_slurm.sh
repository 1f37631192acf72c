#!/usr/bin/env bash
# A real single-host SLURM cluster for CI: Debian's slurm-wlm with two slurmd "nodes" (node1,
# node2) on this host, started as root without systemd. Idempotent: a running cluster is kept.
#   scripts/ci_slurm.sh          install if needed, start, wait until both nodes are idle
#   scripts/ci_slurm.sh stop     stop the daemons this script started
# slurmctld only starts on the host named in SlurmctldHost: this host's own name.
# Needs the host network (slurmd fails in a loopback-only namespace) and /sys mounted (hwloc).
set -euo pipefail
CONF_DIR=/etc/slurm
NODES=(node1 node2)
CPUS_PER_NODE=${SLURM_CI_CPUS_PER_NODE:-1}

stop() {
    for pidfile in /run/slurmd-node1.pid /run/slurmd-node2.pid /run/slurmctld.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    [ -f /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
}
if [ "${1:-start}" = stop ]; then stop; exit 0; fi

if [ "$(timeout 5 sinfo -h -N -t idle 2>/dev/null | wc -l)" -ge 2 ]; then
    echo "slurm: cluster already up"; sinfo; exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

for n in "${NODES[@]}"; do
    grep -qE "^127\.0\.0\.1[[:space:]].*\b$n\b" /etc/hosts || echo "127.0.0.1 $n" >>/etc/hosts
done
mkdir -p "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
chown slurm /var/spool/slurmctld /var/log/slurm
chown munge /run/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
chown munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key

cat >"$CONF_DIR/slurm.conf" <<CONF
# written by scripts/ci_slurm.sh: two slurmd "nodes" on one host
ClusterName=ci
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd/%n
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
ReturnToService=2
MpiDefault=none
CommunicationParameters=NoInAddrAny
NodeName=node1 NodeHostname=node1 NodeAddr=127.0.0.1 Port=17001 CPUs=$CPUS_PER_NODE RealMemory=8000 State=UNKNOWN
NodeName=node2 NodeHostname=node2 NodeAddr=127.0.0.1 Port=17002 CPUs=$CPUS_PER_NODE RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

pgrep -x munged >/dev/null || runuser -u munge -- munged
pgrep -x slurmctld >/dev/null || slurmctld
for n in "${NODES[@]}"; do
    [ -f "/run/slurmd-$n.pid" ] && kill -0 "$(cat "/run/slurmd-$n.pid")" 2>/dev/null || slurmd -N "$n"
done
pgrep -x slurmctld >/dev/null || { tail -n 5 /var/log/slurm/slurmctld.log >&2; exit 1; }
for _ in $(seq 1 60); do
    [ "$(timeout 5 sinfo -h -N -t idle 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 1
done
if [ "$(timeout 5 sinfo -h -N -t idle 2>/dev/null | wc -l)" -lt 2 ]; then
    echo "slurm: nodes not idle after 60 s" >&2
    sinfo -N >&2 || true
    tail -n 20 /var/log/slurm/*.log >&2
    exit 1
fi
sinfo -N
