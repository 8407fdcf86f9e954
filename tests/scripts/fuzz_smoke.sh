#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target (fuzz/) for a bounded time, single job, from the
# seeds (fuzz/seeds, fuzz/corpus_min, the ONNX node-test models, tests/data/bad, the crash
# regressions). Needs a nightly toolchain and cargo-fuzz; says so loudly and fails when they
# are missing (it never skips silently). Not part of `cargo test`, which replays the same
# files through the same harness (tests/fuzz_regressions.rs).
#
#   tests/scripts/fuzz_smoke.sh [seconds per target, default 60]
#
# A crash is written to fuzz/artifacts/<target>/ and fails the script: minimise it
# (`cargo +nightly fuzz tmin <target> <file>`), fix it, and copy it to
# tests/data/fuzz_regressions/<target>/ with a name saying what it was.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-60}"

die() {
    echo "" >&2
    echo "!!! FUZZ SMOKE RUN NOT DONE: $*" >&2
    echo "" >&2
    exit 2
}
rustup toolchain list 2>/dev/null | grep -q '^nightly' || die "no nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || die "cargo-fuzz is not installed (cargo install cargo-fuzz)"

export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
seed() { # seed DIR FILES...
    local dir="$1"
    shift
    mkdir -p "$dir"
    for f in "$@"; do
        [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | tr '/' '_')"
    done
    return 0
}
shopt -s nullglob
seed fuzz/corpus/load_plan_run fuzz/seeds/load_plan_run/* fuzz/corpus_min/load_plan_run/* \
    tests/onnx_node/data/*/model.onnx tests/data/bad/*.onnx tests/data/fuzz_regressions/load_plan_run/*
seed fuzz/corpus/load_planned_run fuzz/seeds/load_planned_run/* tests/data/fuzz_regressions/load_planned_run/*
seed fuzz/corpus/npy fuzz/seeds/npy/* fuzz/corpus_min/npy/* tests/data/fuzz_regressions/npy/* \
    tests/data/reference/input_192x192/*.npy

cd fuzz
for target in load_plan_run load_planned_run npy; do
    echo "=== fuzzing $target for ${SECS}s"
    cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
