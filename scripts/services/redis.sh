#!/usr/bin/env bash
# A throwaway Redis for tests and CI: loopback only, nothing saved to disk.
#
#   scripts/services/redis.sh start   start it in the background; prints the export for the tests
#   scripts/services/redis.sh stop    stop it and delete its files
#
# Environment: REDIS_PORT (6379), REDIS_DIR (/tmp/llmp-redis-$REDIS_PORT). Needs Debian's
# `redis-server` package.
set -euo pipefail
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_DIR=${REDIS_DIR:-/tmp/llmp-redis-$REDIS_PORT}
BIN=$(command -v redis-server || true)

case "${1:-}" in
start)
    [ -n "$BIN" ] || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    mkdir -p "$REDIS_DIR"
    "$BIN" --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$REDIS_DIR" \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
        || { cat "$REDIS_DIR/redis.log" >&2; exit 1; }
    for _ in $(seq 100); do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG \
        || { echo "redis-server did not answer on port $REDIS_PORT" >&2; cat "$REDIS_DIR/redis.log" >&2; exit 1; }
    echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    ;;
stop)
    if [ -s "$REDIS_DIR/redis.pid" ]; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$REDIS_DIR"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
