#!/bin/sh
# Fills in deploy/nginx.conf: prints it with {{listen}} replaced by LISTEN and the line
# holding {{replica}} repeated once per REPLICA (comment lines are left as they are), the
# rule crates/e2e/src/nginx.rs follows too.
#   deploy/nginx-conf.sh LISTEN REPLICA... > DIR/nginx.conf
# e.g. deploy/nginx-conf.sh 127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 LISTEN REPLICA... (host:port each)" >&2
    exit 2
fi
listen=$1
shift
exec awk -v listen="$listen" -v replicas="$*" '
    /^[ \t]*#/ { print; next }
    /\{\{replica\}\}/ {
        n = split(replicas, r, " ")
        for (i = 1; i <= n; i++) { line = $0; gsub(/\{\{replica\}\}/, r[i], line); print line }
        next
    }
    { gsub(/\{\{listen\}\}/, listen); print }
' "$(dirname "$0")/nginx.conf"
