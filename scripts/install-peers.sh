#!/bin/sh
# Installs every Debian package netproof's tests and examples need, and
# nothing else. Idempotent: a package whose command is already on PATH is
# skipped. Called by scripts/test.sh and .ci/run; run it by hand once on a
# fresh machine. Needs root (or sudo) and access to Debian's package mirror.
#
# Each line: <command that must exist> <Debian package that provides it>.
set -eu

PEERS="
python3 python3-minimal
ip iproute2
tc iproute2
iperf3 iperf3
nginx nginx-light
knotd knot
kdig knot-dnsutils
dnsperf dnsperf
bird bird2
vtysh frr
curl curl
jq jq
dig bind9-dnsutils
openssl openssl
h2load nghttp2-client
testssl testssl.sh
chromium chromium
"

missing=""
echo "$PEERS" | while read -r cmd pkg; do
    [ -z "$cmd" ] && continue
    command -v "$cmd" >/dev/null 2>&1 || echo "$pkg"
done > /tmp/netproof-missing-peers.$$
# knotd's geoip module is a file, not a command.
ls /usr/lib/*/knot/modules-*/geoip.so >/dev/null 2>&1 \
    || echo knot-module-geoip >> /tmp/netproof-missing-peers.$$
# PostgreSQL's server (for the store's tests, scripts/pg-test-cluster.sh)
# is not on PATH: Debian keeps initdb under /usr/lib/postgresql/VERSION/bin.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || echo postgresql >> /tmp/netproof-missing-peers.$$
missing=$(tr '\n' ' ' < /tmp/netproof-missing-peers.$$)
rm -f /tmp/netproof-missing-peers.$$

if [ -z "$(echo "$missing" | tr -d ' ')" ]; then
    echo "install-peers: every peer is installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-peers: installing $missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
