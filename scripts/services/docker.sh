#!/bin/sh
# A private Docker engine for the tests: `docker.sh start|stop|status`.
#
# The daemon runs with its own data root, exec root, socket and pidfile under
# $LLMP_SERVICES_DIR/docker, and ALWAYS with --bridge=none --iptables=false
# --ip-forward=false: a default dockerd makes a bridge on a private range and
# changes iptables and ip_forward, which these machines forbid. Containers are
# started with --network none.
#
# Nothing can be pulled here, so `start` also makes sure the image
# llmp-python:bookworm (Debian bookworm minbase with python3 and PyYAML) exists, built without
# any registry: debootstrap into a folder, `docker import` of its tarball. The
# tarball is cached in $LLMP_IMAGE_CACHE, so the ~40 s build happens once per
# machine; later starts import it in a few seconds.
#
# `start` prints `export DOCKER_HOST=unix://...` as its last line; it is idempotent.
# `mirror` prints the Debian mirror the build would use.
set -eu

SERVICES_DIR=${LLMP_SERVICES_DIR:-/tmp/llmp-services}
DIR=$SERVICES_DIR/docker
SOCKET=$DIR/docker.sock
PIDFILE=$DIR/dockerd.pid
IMAGE=llmp-python:bookworm # the tests run this image
IMAGE_CACHE=${LLMP_IMAGE_CACHE:-/var/cache/llmp}
ROOTFS_TAR=$IMAGE_CACHE/bookworm-python3-yaml-rootfs.tar
DEBIAN_RELEASE=bookworm
# debootstrap fetches from the Debian mirror (and through the proxy) apt uses here. apt
# itself reads its sources (sources.list, *.list and deb822 *.sources, with their
# options and disabled entries): the mirror it has for DEBIAN_RELEASE, else the one of
# another Debian release (a mirror of the archive carries every release).
apt_mirror() {
    {
        apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' 2>/dev/null \
            | awk -v release="$DEBIAN_RELEASE" '$1 == release { print $2 }'
        apt-get indextargets --format '$(ORIGIN) $(RELEASE) $(REPO_URI)' 'Identifier: Packages' 2>/dev/null \
            | awk '$1 == "Debian" && $2 !~ /-/ { print $3 }'
    } | grep -E '^(https?|file):' | head -n 1 | sed 's:/*$::'
}
# LLMP_DEBIAN_MIRROR overrides; Debian's own redirector only where apt knows no Debian mirror.
DEBIAN_MIRROR=${LLMP_DEBIAN_MIRROR:-$(apt_mirror)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=unix://$SOCKET

say() { echo "docker.sh: $*" >&2; }

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answering() {
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_packages() {
    missing=""
    command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
    command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
    [ -z "$missing" ] && return 0
    say "installing$missing"
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock sh -c "apt-get install -y -q --no-install-recommends $missing \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }" >&2
}

start_daemon() {
    mkdir -p "$DIR/root" "$DIR/exec"
    if running && answering; then
        return 0
    fi
    say "starting dockerd (socket $SOCKET)"
    # setsid: the daemon outlives the shell (and the pytest process) that started it.
    setsid dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        --data-root "$DIR/root" --exec-root "$DIR/exec" -H "unix://$SOCKET" \
        --pidfile "$PIDFILE" >"$DIR/dockerd.log" 2>&1 </dev/null &
    tries=0
    until answering; do
        tries=$((tries + 1))
        if [ "$tries" -gt 150 ]; then
            say "dockerd did not answer within 30 s; its log ($DIR/dockerd.log) ends with:"
            tail -n 20 "$DIR/dockerd.log" >&2
            return 1
        fi
        sleep 0.2
    done
}

build_rootfs_tar() {
    mkdir -p "$IMAGE_CACHE"
    work=$(mktemp -d "$IMAGE_CACHE/rootfs.XXXXXX")
    say "building a Debian $DEBIAN_RELEASE + python3 + PyYAML root filesystem from $DEBIAN_MIRROR (once per machine, ~1 min)"
    proxy=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p')
    [ -n "$proxy" ] && export http_proxy="$proxy"
    if ! debootstrap --variant=minbase --include=python3,python3-yaml "$DEBIAN_RELEASE" "$work" "$DEBIAN_MIRROR" >"$IMAGE_CACHE/debootstrap.log" 2>&1; then
        say "debootstrap failed; see $IMAGE_CACHE/debootstrap.log"
        rm -rf "$work"
        return 1
    fi
    rm -rf "$work/var/cache/apt/archives"/*.deb "$work/var/lib/apt/lists"/*
    tar -C "$work" -cf "$ROOTFS_TAR.tmp" .
    mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    rm -rf "$work"
}

ensure_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    # Two starts at once (parallel test sessions) build the tarball once.
    mkdir -p "$IMAGE_CACHE"
    (
        flock 9
        [ -f "$ROOTFS_TAR" ] || build_rootfs_tar
    ) 9>"$IMAGE_CACHE/.build.lock"
    say "importing $ROOTFS_TAR as $IMAGE"
    docker import --change 'CMD ["/bin/sh"]' "$ROOTFS_TAR" "$IMAGE" >/dev/null
}

stop_daemon() {
    if ! running; then
        say "dockerd is not running"
        return 0
    fi
    pid=$(cat "$PIDFILE")
    # Containers first, so none is left holding a mount of a test's folder.
    ids=$(docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$pid"
    tries=0
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 150 ]; then
            say "dockerd (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$PIDFILE"
    say "stopped dockerd (pid $pid)"
}

case "${1:-}" in
    start)
        install_packages
        start_daemon
        ensure_image
        echo "export DOCKER_HOST=$DOCKER_HOST"
        ;;
    stop)
        stop_daemon
        ;;
    mirror)
        echo "$DEBIAN_MIRROR"
        ;;
    status)
        if running && answering; then
            echo "export DOCKER_HOST=$DOCKER_HOST"
        else
            say "not running"
            exit 1
        fi
        ;;
    *)
        echo "usage: $0 start|stop|status|mirror" >&2
        exit 2
        ;;
esac
