#!/bin/sh
# A one-node Slurm cluster for the tests: `slurm.sh start|stop|status`.
#
# munge, a private MariaDB on a free loopback port (fresh datadir each start: an old
# accounting database under the same cluster name makes job ids collide), slurmdbd,
# slurmctld and slurmd, all with their config, state, logs and pidfiles under
# $LLMP_SERVICES_DIR/slurm, on free loopback ports. Two fake GPUs of type a100 are
# character devices made with mknod, so `--gres=gpu:N` and `--gres=gpu:a100:N` work
# and Slurm sets CUDA_VISIBLE_DEVICES in the job. Memory is enforced with cgroups where the host
# has the v1 memory controller, so a job over its --mem ends OUT_OF_MEMORY.
#
# `start` prints `export SLURM_CONF=...` as its last line (the client tools and slurmdbd
# find their config through it); it is idempotent. Needs root.
set -eu

SERVICES_DIR=${LLMP_SERVICES_DIR:-/tmp/llmp-services}
DIR=$SERVICES_DIR/slurm
ETC=$DIR/etc
export SLURM_CONF=$ETC/slurm.conf
CLUSTER=llmp

say() { echo "slurm.sh: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    limit=$1 what=$2
    shift 2
    tries=0
    until "$@" >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt $((limit * 5)) ]; then
            say "$what did not come up within $limit s; logs are in $DIR"
            return 1
        fi
        sleep 0.2
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install_packages() {
    missing=""
    command -v slurmctld >/dev/null 2>&1 || missing="$missing slurm-wlm"
    command -v slurmdbd >/dev/null 2>&1 || missing="$missing slurmdbd"
    command -v mariadbd >/dev/null 2>&1 || missing="$missing mariadb-server"
    command -v munged >/dev/null 2>&1 || missing="$missing munge"
    [ -z "$missing" ] && return 0
    say "installing$missing"
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock sh -c "apt-get install -y -q --no-install-recommends $missing \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }" >&2
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0 # a munged already answers (the system's, or ours)
    fi
    [ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create >&2
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$DIR/munged.pid" # ours to stop
    wait_for 10 munged sh -c 'munge -n | unmunge'
}

write_config() {
    mkdir -p "$ETC" "$DIR/state" "$DIR/spool" "$DIR/dev"
    for index in 0 1; do
        [ -c "$DIR/dev/nvidia$index" ] || mknod "$DIR/dev/nvidia$index" c 1 3
    done
    if [ "$TRACKING" = cgroup ]; then
        PROCTRACK=cgroup TASK=cgroup
        cat >"$ETC/cgroup.conf" <<EOF
CgroupPlugin=$CGROUP_PLUGIN
IgnoreSystemd=yes
CgroupAutomount=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
EOF
    else
        PROCTRACK=linuxproc TASK=none
        rm -f "$ETC/cgroup.conf" # slurmd still loads a cgroup plugin: let it autodetect one
    fi
    memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    cat >"$SLURM_CONF" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/$PROCTRACK
TaskPlugin=task/$TASK
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStorageTRES=gres/gpu
MinJobAge=300
KillWait=5
ReturnToService=2
SchedulerParameters=sched_interval=2
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=$memory Gres=gpu:a100:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=1000
EOF
    cat >"$ETC/gres.conf" <<EOF
NodeName=localhost Name=gpu Type=a100 File=$DIR/dev/nvidia[0-1]
EOF
    cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$DIR/slurmdbd.pid
LogFile=$DIR/slurmdbd.log
EOF
    chmod 600 "$ETC/slurmdbd.conf"
}

start_mariadb() {
    rm -rf "$DIR/mysql"
    mariadb-install-db --datadir="$DIR/mysql" --user=root --skip-test-db >"$DIR/mariadb-install.log" 2>&1
    # Private, loopback only, thrown away at the next start: no grants to manage.
    setsid mariadbd --datadir="$DIR/mysql" --user=root --bind-address=127.0.0.1 --port="$DB_PORT" \
        --socket="$DIR/mysql.sock" --pid-file="$DIR/mariadb.pid" --skip-grant-tables \
        --log-error="$DIR/mariadb.log" </dev/null >/dev/null 2>&1 &
    wait_for 30 MariaDB mariadb --protocol=tcp -h 127.0.0.1 -P "$DB_PORT" -u root -e 'select 1'
}

start_cluster() {
    mkdir -p "$DIR"
    if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && sinfo -h >/dev/null 2>&1; then
        return 0
    fi
    stop_cluster 2>/dev/null || true
    DBD_PORT=$(free_port)
    DB_PORT=$(free_port)
    # Memory cgroups where the host has them, so a job over its --mem ends
    # OUT_OF_MEMORY as on a real cluster; else plain process tracking.
    if [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/freezer ]; then
        TRACKING=cgroup CGROUP_PLUGIN=cgroup/v1
    elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        TRACKING=cgroup CGROUP_PLUGIN=cgroup/v2 # without systemd: IgnoreSystemd below
    else
        TRACKING=linuxproc
    fi
    start_munge
    write_config
    start_mariadb
    slurmdbd
    wait_for 30 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    sacctmgr -i add account llmp Cluster="$CLUSTER" Description=tests Organization=llmp >/dev/null
    sacctmgr -i add user root Account=llmp Cluster="$CLUSTER" >/dev/null
    if start_controller_and_node; then
        return 0
    fi
    [ "$TRACKING" = cgroup ] || return 1
    say "slurmd did not come up with cgroup tracking here; falling back to plain process tracking"
    stop_one "$DIR/slurmd.pid" slurmd
    stop_one "$DIR/slurmctld.pid" slurmctld
    TRACKING=linuxproc
    write_config
    start_controller_and_node
}

start_controller_and_node() {
    rm -rf "${DIR:?}/state"/* # a fresh cluster: job ids from 1, no old jobs
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF" -N localhost || return 1
    wait_for 30 "the node" sh -c 'sinfo -h -o %T | grep -qx idle'
}

stop_one() { # stop_one PIDFILE NAME
    alive "$1" || return 0
    pid=$(cat "$1")
    kill -TERM "$pid"
    tries=0
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$1"
    say "stopped $2 (pid $pid)"
}

stop_cluster() {
    if alive "$DIR/slurmctld.pid"; then
        scancel --full --quiet --user=root 2>/dev/null || true
    fi
    stop_one "$DIR/slurmd.pid" slurmd
    stop_one "$DIR/slurmctld.pid" slurmctld
    stop_one "$DIR/slurmdbd.pid" slurmdbd
    stop_one "$DIR/mariadb.pid" mariadbd
    stop_one "$DIR/munged.pid" munged
}

case "${1:-}" in
    start)
        install_packages
        start_cluster
        echo "export SLURM_CONF=$SLURM_CONF"
        ;;
    stop)
        stop_cluster
        ;;
    status)
        if alive "$DIR/slurmctld.pid" && sinfo -h >/dev/null 2>&1; then
            echo "export SLURM_CONF=$SLURM_CONF"
        else
            say "not running"
            exit 1
        fi
        ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
