#!/usr/bin/env bash
# Cross-builds the test suite for an ARM target and runs it under qemu-user (issue 7).
#
#   tests/scripts/cross_test.sh aarch64|armv7 [--quick] [extra cargo test args...]
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
#
# The first build compiles tract for the target (10–15 minutes on one core); the int8 results
# must match x86 bit for bit (integer arithmetic is exact), so the same references apply.
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
    *) die "usage: $0 aarch64|armv7 [--quick] [cargo test args...]" ;;
esac
shift
quick=0
if [ "${1:-}" = "--quick" ]; then
    quick=1
    shift
fi

rustup target list --installed 2>/dev/null | grep -qx "$triple" \
    || die "Rust target $triple is not installed (rustup target add $triple)"
command -v "$cc" >/dev/null || die "linker $cc not found (apt-get install gcc-${cc%-gcc})"
command -v "$qemu" >/dev/null || die "$qemu not found (apt-get install qemu-user)"

if [ $quick = 1 ]; then
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
