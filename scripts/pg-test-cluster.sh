#!/bin/sh
# A private PostgreSQL cluster for netproof's store tests: never a system
# service, never on TCP.
#
#   scripts/pg-test-cluster.sh start DIR   initdb into DIR/data (if new), start
#                                          it listening only on a Unix socket
#                                          in DIR; prints the connection URL
#   scripts/pg-test-cluster.sh stop DIR    stops it (fast shutdown)
#   scripts/pg-test-cluster.sh url DIR     prints the URL of a cluster in DIR
#
# The URL is `postgresql://postgres@%2F...DIR.../postgres` (the host is the
# socket directory, percent-encoded). Authentication is `trust`, which is
# safe only because nobody else can reach a socket in a private directory.
#
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` user (created by Debian's postgresql package) and every server
# command runs through `runuser -u postgres --`; DIR is chowned to it. As
# any other user the commands run as that user.
#
# Needs Debian's postgresql (scripts/install-peers.sh installs it). Every
# wait is bounded: initdb and each pg_ctl wait take at most PG_TEST_WAIT
# seconds (default 30).
set -eu

usage() {
    echo "usage: $0 start|stop|url DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
dir=$2
wait_s=${PG_TEST_WAIT:-30}

bindir=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ]; then
    echo "pg-test-cluster: PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb)" >&2
    echo "hint: run scripts/install-peers.sh (installs Debian's postgresql)" >&2
    exit 1
fi

# Runs a server command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    # Percent-encode the socket directory for the URL's host part.
    enc=$(printf '%s' "$dir" | sed -e 's/%/%25/g' -e 's|/|%2F|g' -e 's/ /%20/g')
    echo "postgresql://postgres@${enc}/postgres"
}

case "$action" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
    fi
    chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        # --no-sync: a test cluster need not survive a power loss.
        as_owner timeout "$wait_s" "$bindir/initdb" --pgdata="$dir/data" --username=postgres \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            echo "pg-test-cluster: initdb into $dir/data failed" >&2
            exit 1
        }
    fi
    # listen_addresses='' : no TCP at all, only the socket in $dir.
    # fsync=off: test data need not survive a crash of the machine.
    as_owner "$bindir/pg_ctl" start --pgdata="$dir/data" --wait --timeout="$wait_s" \
        --log="$dir/server.log" \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null || {
        cat "$dir/server.log" >&2 2>/dev/null || true
        echo "pg-test-cluster: the server in $dir did not start within ${wait_s}s" >&2
        exit 1
    }
    url
    ;;
stop)
    dir=$(cd "$dir" && pwd)
    as_owner "$bindir/pg_ctl" stop --pgdata="$dir/data" --mode=fast --wait \
        --timeout="$wait_s" >/dev/null
    ;;
url)
    dir=$(cd "$dir" && pwd)
    url
    ;;
*)
    usage
    ;;
esac
