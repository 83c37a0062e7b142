#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and CI: trust auth, loopback only, no fsync.
#
#   scripts/services/postgres.sh start   initdb + start; prints the export for the tests
#   scripts/services/postgres.sh stop    stop it and delete its files
#
# Environment: PGPORT (5432), PGDIR (/tmp/llmp-postgres-$PGPORT). Needs Debian's
# `postgresql` package. As root the server runs as the `postgres` user.
set -euo pipefail
PGPORT=${PGPORT:-5432}
PGDIR=${PGDIR:-/tmp/llmp-postgres-$PGPORT}
BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
[ -n "$BIN" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    mkdir -p "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
    if [ ! -s "$PGDIR/data/PG_VERSION" ]; then
        as_owner "$BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >"$PGDIR/initdb.log" \
            || { cat "$PGDIR/initdb.log" >&2; exit 1; }
    fi
    as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start \
        -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" >&2 \
        || { cat "$PGDIR/server.log" >&2; exit 1; }
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/llmplatform"
    ;;
stop)
    if [ -s "$PGDIR/data/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >&2
    fi
    rm -rf "$PGDIR"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
