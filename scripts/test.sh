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
    # Without nextest's test groups, namespace tests would run beside each
    # other and miscount what the kernel holds: one test at a time.
    exec cargo test --workspace --no-fail-fast "$@" -- --test-threads=1
fi
