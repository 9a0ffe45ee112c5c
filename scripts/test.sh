#!/bin/sh
# The test command: installs the peers the tests need, then runs the whole
# test suite once (one build shared by every test), then every fuzz target
# for a few seconds on its committed seeds (scripts/fuzz.sh; set
# NETPROOF_FUZZ_SECONDS to change how long). Uses cargo-nextest when
# present (test groups keep namespace tests serial), else cargo test.
set -eu
cd "$(dirname "$0")/.."
scripts/install-peers.sh
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    # Without nextest's test groups, namespace tests would run beside each
    # other and miscount what the kernel holds: one test at a time.
    cargo test --workspace --no-fail-fast "$@" -- --test-threads=1
fi
# Without a sanitizer: the build is several times faster, and Rust's own
# checks (debug assertions, overflow checks) still catch what the seeds hit.
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}" scripts/fuzz.sh "${NETPROOF_FUZZ_SECONDS:-3}"
