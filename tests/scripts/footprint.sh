#!/usr/bin/env bash
# Footprint of the lean runtime (README, "Embedded targets"): stripped size of the
# `qpose-lean` program per target, and per seed model the file bytes, the arena and the peak
# RSS of loading it and running it 20 times (native x86_64, /usr/bin/time -v).
#
#   tests/scripts/footprint.sh [x86_64] [aarch64] [armv7]     (default: all three)
#
# Cross targets need the setup of tests/scripts/cross_test.sh; each first build compiles
# tract in release mode (10–15 minutes on one core).
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir="${CARGO_TARGET_DIR:-target}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64 aarch64 armv7)

echo "| target | stripped qpose-lean (bytes) |"
echo "|---|---|"
for t in "${targets[@]}"; do
    case "$t" in
        x86_64) triple=native; strip=strip ;;
        aarch64) triple=aarch64-unknown-linux-gnu; strip=aarch64-linux-gnu-strip ;;
        armv7) triple=armv7-unknown-linux-gnueabihf; strip=arm-linux-gnueabihf-strip ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    if [ "$triple" = native ]; then
        cargo build -q --release --no-default-features --features lean-bin --bin qpose-lean >&2
        bin="$target_dir/release/qpose-lean"
    else
        cargo build -q --release --target "$triple" --no-default-features --features lean-bin --bin qpose-lean >&2
        bin="$target_dir/$triple/release/qpose-lean"
    fi
    "$strip" -o "$bin.stripped" "$bin"
    echo "| $t | $(stat -c %s "$bin.stripped") |"
done

native="$target_dir/release/qpose-lean"
[ -x "$native" ] || cargo build -q --release --no-default-features --features lean-bin --bin qpose-lean >&2
echo
echo "| model | file bytes | arena bytes | peak RSS (KiB), load + 20 runs |"
echo "|---|---|---|---|"
for m in models/zoo/*.onnx; do
    out="$(/usr/bin/time -v "$native" "$m" 20 2>&1)"
    arena="$(echo "$out" | sed -n 's/^arena: \([0-9]*\) bytes/\1/p')"
    rss="$(echo "$out" | sed -n 's/.*Maximum resident set size (kbytes): //p')"
    echo "| $(basename "$m") | $(stat -c %s "$m") | $arena | $rss |"
done
