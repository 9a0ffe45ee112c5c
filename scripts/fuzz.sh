#!/bin/sh
# Builds the cargo-fuzz targets in fuzz/ and runs each for SECONDS (default
# 10) on its committed seeds (fuzz/corpus/TARGET) plus what earlier runs
# found (fuzz/work/TARGET, not committed). Usage:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # every target when none named
#
# Every run is bounded: libFuzzer stops at -max_total_time, an input that
# takes longer than FUZZ_INPUT_TIMEOUT seconds (default 10) is a finding
# (a hang), and `timeout` kills a run that overstays its time by two
# minutes.
# A finding stops its target (the input is in fuzz/artifacts/TARGET/, and
# the script says how to replay it); the other targets still run, and the
# script exits 1 at the end. FUZZ_KEEP_GOING=1 keeps a target fuzzing past
# its findings for the whole time (libFuzzer's fork mode), for long runs.
#
# Toolchain: cargo-fuzz passes -Zsanitizer and other unstable flags, so it
# needs nightly. With a nightly toolchain installed (rustup) it is used;
# otherwise stable is told to accept the flags (RUSTC_BOOTSTRAP=1), which
# cargo-fuzz supports. FUZZ_SANITIZER (default address) is passed to
# `cargo fuzz -s` (`none` builds and runs faster; Rust's own checks still
# catch panics and overflows).
set -eu
cd "$(dirname "$0")/../fuzz"

secs=${1:-10}
case $secs in
    '' | *[!0-9]*)
        echo "fuzz.sh: SECONDS must be a whole number, got \`$secs\`" >&2
        echo "hint: scripts/fuzz.sh 30 plan url" >&2
        exit 2
        ;;
esac
[ $# -gt 0 ] && shift

if ! cargo fuzz --version >/dev/null 2>&1; then
    # A fresh machine (CI) has only the toolchain: get cargo-fuzz from
    # crates.io, pinned by its lock file.
    echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    if ! cargo install cargo-fuzz --locked --quiet; then
        echo "fuzz.sh: cargo-fuzz could not be installed" >&2
        echo "hint: cargo install cargo-fuzz" >&2
        exit 2
    fi
fi
# FUZZ_TOOLCHAIN=stable uses the stable toolchain even where nightly is
# installed (what a machine with only stable does).
if [ "${FUZZ_TOOLCHAIN:-}" != stable ] && rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz="cargo +nightly fuzz"
else
    export RUSTC_BOOTSTRAP=1
    fuzz="cargo fuzz"
fi
sanitizer=${FUZZ_SANITIZER:-address}

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$($fuzz list)
fi

# One build for every target (they share their dependencies).
$fuzz build -s "$sanitizer"

failed=""
for t in $targets; do
    if [ ! -d "corpus/$t" ]; then
        echo "fuzz.sh: no seeds for \`$t\` in fuzz/corpus/$t" >&2
        echo "hint: the targets are: $($fuzz list | tr '\n' ' ')" >&2
        exit 2
    fi
    mkdir -p "work/$t"
    set -- -max_total_time="$secs" -timeout="${FUZZ_INPUT_TIMEOUT:-10}" \
        -rss_limit_mb=2048 -print_final_stats=1
    if [ -f "dict/$t.dict" ]; then
        set -- "$@" -dict="dict/$t.dict"
    fi
    if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
        set -- "$@" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1
    fi
    echo "== $t: ${secs}s"
    # Built before the clock starts, so a rebuild (a crate changed while a
    # long series ran) does not eat into the time bound below.
    $fuzz build -s "$sanitizer" "$t"
    # New inputs go to work/ (the first directory); seeds are only read.
    if ! timeout $((secs + 120)) $fuzz run -s "$sanitizer" "$t" "work/$t" "corpus/$t" -- "$@"; then
        failed="$failed $t"
    fi
    if ls "artifacts/$t"/* >/dev/null 2>&1; then
        case " $failed " in *" $t "*) ;; *) failed="$failed $t" ;; esac
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz.sh: findings in:$failed" >&2
    echo "hint: replay one with \`cd fuzz && $fuzz run -s $sanitizer TARGET artifacts/TARGET/FILE\`; fix it in its crate with a regression test named after it, then delete the artifact" >&2
    exit 1
fi
echo "fuzz.sh: no findings ($secs s per target)"
