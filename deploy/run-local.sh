#!/usr/bin/env bash
# The whole shape on one machine: PostgreSQL, Shipwatch replicas on it, nginx in front.
#
#   deploy/run-local.sh              PostgreSQL + 2 replicas sharing it + nginx on :8080
#   deploy/run-local.sh --separate   2 ephemeral replicas, each its own simulated world, + nginx
#   options: --replicas N (2), --port P (8080: nginx; replicas on P+1..P+N), --dir DIR
#
# Needs a build (`cargo xtask build`), nginx and, without --separate, PostgreSQL's programs
# (Debian: apt-get install nginx postgresql). State (the database, each replica's log,
# nginx's files, the shared write token) lives in DIR (./shipwatch-deploy);
# Ctrl-C stops everything. On one database the replicas share the work (deploy/README.md): the
# one holding the lease leads (writes, runs the simulator), the others follow its change log
# and hand it the writes they get; when the leader stops, another takes over.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dir=./shipwatch-deploy
port=8080
replicas=2
separate=0
while [ $# -gt 0 ]; do
    case $1 in
        --separate) separate=1 ;;
        --replicas) replicas=$2; shift ;;
        --port) port=$2; shift ;;
        --dir) dir=$2; shift ;;
        *) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
    esac
    shift
done

server=${SHIPWATCH_SERVER_BIN:-$root/target/native/shipwatch-server}
dist=${SHIPWATCH_DIST:-$root/dist}
nginx=${NGINX:-/usr/sbin/nginx}
pg_bin=${SHIPWATCH_PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$server" ] && [ -f "$dist/index.html" ] || {
    echo "no build at $server and $dist: run cargo xtask build first" >&2; exit 1; }
[ -x "$nginx" ] || { echo "no nginx at $nginx (Debian: apt-get install nginx)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pids=()
pg_data=
stop_all() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$pg_data" ]; then as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast stop >/dev/null || true; fi
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

# One write token for every replica (a write may land on any of them).
if [ ! -s "$dir/write-token" ]; then
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/write-token")
fi
token=$(cat "$dir/write-token")

if [ "$separate" = 1 ]; then
    store=(--ephemeral)
else
    [ -x "$pg_bin/initdb" ] || {
        echo "no PostgreSQL in $pg_bin (Debian: apt-get install postgresql)" >&2; exit 1; }
    pg_data=$dir/postgres
    pg_port=$((port + 100))
    if [ ! -f "$pg_data/PG_VERSION" ]; then
        mkdir -p "$pg_data"
        [ "$(id -u)" = 0 ] && chown postgres "$pg_data"
        as_pg "$pg_bin/initdb" -D "$pg_data" -A trust -U shipwatch >/dev/null
    fi
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w \
        -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1" start >/dev/null
    "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U shipwatch -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'shipwatch'" | grep -q 1 ||
        "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U shipwatch shipwatch
    store=(--store "postgres://shipwatch@127.0.0.1:$pg_port/shipwatch")
    echo "PostgreSQL on 127.0.0.1:$pg_port (data in $pg_data)"
fi

upstream=()
for i in $(seq 1 "$replicas"); do
    addr=127.0.0.1:$((port + i))
    upstream+=("$addr")
    "$server" --addr "$addr" --dist "$dist" --trusted-proxy 127.0.0.1 \
        --write-token "local=$token" "${store[@]}" >>"$dir/replica-$i.log" 2>&1 &
    pids+=($!)
    echo "replica $i on $addr (log: $dir/replica-$i.log)"
done

mkdir -p "$dir/nginx/logs" "$dir/nginx/tmp"
chmod 755 "$dir" "$dir/nginx" "$dir/nginx/tmp"
"$here/nginx-conf.sh" "127.0.0.1:$port" "${upstream[@]}" > "$dir/nginx/nginx.conf"
"$nginx" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
echo "nginx on http://127.0.0.1:$port/ (logs: $dir/nginx/logs); writes take the token in $dir/write-token"

# Runs until Ctrl-C, until nginx ends, or until no replica is left. A replica that stops (a
# `kill -9` of the leader, to watch a failover) is reported with the end of its log, and the
# others go on serving: pages reconnect through nginx to them.
nginx_pid=${pids[-1]}
left=$replicas
while :; do
    if wait -n -p ended "${pids[@]}"; then status=0; else status=$?; fi
    [ "$ended" = "$nginx_pid" ] && { echo "nginx stopped (status $status)" >&2; exit "$status"; }
    for i in $(seq 1 "$replicas"); do
        if [ "${pids[$((i - 1))]}" = "$ended" ]; then
            echo "replica $i stopped (status $status); the end of its log:" >&2
            tail -n 3 "$dir/replica-$i.log" >&2
        fi
    done
    left=$((left - 1))
    [ "$left" -gt 0 ] || { echo "no replica left" >&2; exit "$status"; }
    # Only the processes still running are waited for.
    running=()
    for pid in "${pids[@]}"; do [ "$pid" = "$ended" ] || running+=("$pid"); done
    pids=("${running[@]}")
done
