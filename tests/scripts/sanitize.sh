#!/usr/bin/env bash
# Runs qpose's kernel tests under Miri (the scalar paths: Miri interprets every
# instruction, and does not detect AVX2 on the host) and under AddressSanitizer (every ISA
# variant the host has, SIMD intrinsics included; tract-linalg's assembly is not
# instrumented). Needs a nightly toolchain with the miri and rust-src components; says so
# loudly and fails when they are missing.
#
#   tests/scripts/sanitize.sh [miri|asan|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT="${1:-all}"

die() {
    echo "" >&2
    echo "!!! SANITIZER RUN NOT DONE: $*" >&2
    echo "" >&2
    exit 2
}
rustup toolchain list 2>/dev/null | grep -q '^nightly' || die "no nightly toolchain (rustup toolchain install nightly)"

if [ "$WHAT" = miri ] || [ "$WHAT" = all ]; then
    cargo +nightly miri --version >/dev/null 2>&1 ||
        die "Miri is missing (rustup component add miri rust-src --toolchain nightly)"
    # The deterministic kernel tests (odd shapes, non-finite values); the proptest suites are
    # too slow interpreted. Isolation is off for proptest's failure persistence.
    MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" CARGO_TARGET_DIR="${MIRI_TARGET_DIR:-target/miri}" \
        cargo +nightly miri test --lib -- \
        kernels::depthwise_f32::tests::odd_shapes kernels::depthwise_f32::tests::nan \
        kernels::depthwise_i8::tests::odd_shapes kernels::qgemm::tests::odd_shapes kernels::requant
fi

if [ "$WHAT" = asan ] || [ "$WHAT" = all ]; then
    host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
        CARGO_TARGET_DIR="${ASAN_TARGET_DIR:-target/asan}" \
        cargo +nightly test --target "$host" --lib kernels
fi
