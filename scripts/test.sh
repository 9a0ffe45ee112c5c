#!/bin/sh
# The test command: installs the peers the tests need, then runs the whole
# test suite once (one build shared by every test). Uses cargo-nextest when
# present (test groups keep namespace tests serial), else cargo test.
set -eu
cd "$(dirname "$0")/.."
scripts/install-peers.sh
if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --workspace --no-fail-fast "$@"
else
    exec cargo test --workspace --no-fail-fast "$@"
fi
