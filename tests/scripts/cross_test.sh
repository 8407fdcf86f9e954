#!/usr/bin/env bash
# Cross-builds the test suite for an ARM target and runs it under qemu-user (issue 7).
#
#   tests/scripts/cross_test.sh aarch64|armv7 [--quick|--lean] [extra cargo test args...]
#
# aarch64 = aarch64-unknown-linux-gnu, armv7 = armv7-unknown-linux-gnueabihf. The linker and
# the qemu runner come from .cargo/config.toml. Needs (Debian):
#   rustup target add aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
#   apt-get install gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user
# It fails loudly when one is missing; it never skips silently.
#
# Default: every test target of the qpose crate (lib unit tests with the kernel tests, and all
# of tests/*.rs). --quick: the lib unit tests, int8_models, reference_models, onnx_node_tests
# and no_allocation only. Tests that start the `qpose` binary themselves (cli_errors,
# cli_compare, cli_eval) need the kernel to run ARM executables (binfmt_misc, Debian's
# qemu-user-binfmt); without it they are left out, and the script says so.
# The first build compiles tract for the target (10–15 minutes on one core); the int8 results
# must match x86 bit for bit (integer arithmetic is exact), so the same references apply.
#
# --lean (what CI runs, tests/scripts/test_suite.sh): the lean runtime (no ONNX importer, so
# no tract-onnx to cross-build; the `qemu` profile optimises no dependency) — the lib unit
# tests with every kernel test, int8_models and reference_models on the committed planned
# models (int8 bit-identical to onnxruntime, fp32 within 1e-4) and no_allocation, once per CPU
# and kernel choice:
#   aarch64: qemu's default CPU (SDOT: `neondot`; tract's SVE f32 kernels) and a Cortex-A53
#            (NEON without dot product; tract's NEON f32 kernels);
#   armv7:   qemu-arm's CPU (NEON: `neon32`);
# and int8_models with QPOSE_ISA=scalar on both. The kernel tests already check every ISA the
# emulated CPU has against the references; the other runs check the models end to end with
# each kernel set.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() {
    echo "" >&2
    echo "!!! CROSS TEST NOT RUN: $*" >&2
    exit 2
}

case "${1:-}" in
    aarch64) triple=aarch64-unknown-linux-gnu; qemu=qemu-aarch64; cc=aarch64-linux-gnu-gcc ;;
    armv7) triple=armv7-unknown-linux-gnueabihf; qemu=qemu-arm; cc=arm-linux-gnueabihf-gcc ;;
    *) die "usage: $0 aarch64|armv7 [--quick|--lean] [cargo test args...]" ;;
esac
shift
mode=all
case "${1:-}" in
    --quick | --lean)
        mode="${1#--}"
        shift
        ;;
esac

rustup target list --installed 2>/dev/null | grep -qx "$triple" \
    || die "Rust target $triple is not installed (rustup target add $triple)"
command -v "$cc" >/dev/null || die "linker $cc not found (apt-get install gcc-${cc%-gcc})"
command -v "$qemu" >/dev/null || die "$qemu not found (apt-get install qemu-user)"

# lean_run [VAR=VALUE...] -- [test targets...]: the lean tests with these variables set (none:
# qemu's default CPU and the best ISA qpose detects on it).
lean_run() {
    local vars=()
    while [ "$1" != -- ]; do
        vars+=("$1")
        shift
    done
    shift
    echo "== ${vars[*]:-default CPU and ISA}: cargo test --profile qemu --no-default-features --target $triple $*" >&2
    env "${vars[@]}" cargo test -p qpose --profile qemu --no-default-features --target "$triple" "$@"
}

if [ $mode = lean ]; then
    all=(--lib --test int8_models --test reference_models --test no_allocation)
    # The portable kernels end to end: the bit-identity check (the lib tests already compare
    # them with every other ISA).
    lean_run QPOSE_ISA=scalar -- --test int8_models
    lean_run -- "${all[@]}"
    case "$triple" in
        aarch64-*) lean_run QEMU_CPU=cortex-a53 -- "${all[@]}" ;;
    esac
    exit 0
elif [ $mode = quick ]; then
    targets=(--lib --test int8_models --test reference_models --test onnx_node_tests --test no_allocation)
else
    targets=(--lib)
    for f in tests/*.rs; do
        t="$(basename "$f" .rs)"
        case "$t" in
            cli_errors | cli_compare | cli_eval)
                if [ -e "/proc/sys/fs/binfmt_misc/$qemu" ]; then
                    targets+=(--test "$t")
                else
                    echo "note: tests/$t.rs left out: it starts the qpose binary, which needs binfmt_misc for $qemu" >&2
                fi
                ;;
            *) targets+=(--test "$t") ;;
        esac
    done
fi

echo "== cargo test --target $triple ${targets[*]} $*" >&2
cargo test -p qpose --target "$triple" --no-fail-fast "${targets[@]}" "$@"
