#!/usr/bin/env bash
# Footprint of the lean runtime (README, "Embedded targets"): stripped size of the
# `qpose-lean` program per target, without the ONNX importer and with it (`--features onnx`);
# and per committed model the ONNX and planned (.qpose) file bytes, the arena, the peak RSS of
# loading and running it 20 times (native x86_64, /usr/bin/time -v: the ONNX file with the
# importer build, the .qpose without it) and the ratio of median load times (.qpose / ONNX,
# 7 interleaved runs each).
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
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# build TRIPLE FEATURES OUT: builds qpose-lean and copies it to OUT.
build() {
    local triple="$1" features="$2" out="$3" target=() dir="$target_dir/release"
    if [ "$triple" != native ]; then
        target=(--target "$triple")
        dir="$target_dir/$triple/release"
    fi
    cargo build -q --release "${target[@]}" --no-default-features --features "$features" --bin qpose-lean >&2
    cp "$dir/qpose-lean" "$out"
}

echo "| target | stripped qpose-lean, no importer (bytes) | with the ONNX importer (bytes) |"
echo "|---|---|---|"
for t in "${targets[@]}"; do
    case "$t" in
        x86_64) triple=native; strip=strip ;;
        aarch64) triple=aarch64-unknown-linux-gnu; strip=aarch64-linux-gnu-strip ;;
        armv7) triple=armv7-unknown-linux-gnueabihf; strip=arm-linux-gnueabihf-strip ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    build "$triple" lean-bin "$work/lean-$t"
    build "$triple" lean-bin,onnx "$work/lean-onnx-$t"
    "$strip" -o "$work/lean-$t.stripped" "$work/lean-$t"
    "$strip" -o "$work/lean-onnx-$t.stripped" "$work/lean-onnx-$t"
    echo "| $t | $(stat -c %s "$work/lean-$t.stripped") | $(stat -c %s "$work/lean-onnx-$t.stripped") |"
done

[ -x "$work/lean-x86_64" ] || build native lean-bin "$work/lean-x86_64"
[ -x "$work/lean-onnx-x86_64" ] || build native lean-bin,onnx "$work/lean-onnx-x86_64"
cargo build -q --release --bin qpose >&2
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | sed -n 's/.*Maximum resident set size (kbytes): //p'; }
load_ms() { "$@" | sed -n 's/^load: \([0-9.]*\) ms.*/\1/p'; }
echo
echo "| model | ONNX bytes | .qpose bytes | arena bytes | peak RSS (KiB), ONNX | peak RSS (KiB), .qpose | load time .qpose / ONNX |"
echo "|---|---|---|---|---|---|---|"
for m in models/zoo/*.onnx models/blazepose/*.onnx; do
    q="$work/$(basename "$m" .onnx).qpose"
    "$target_dir/release/qpose" compile "$m" --out "$q" >/dev/null
    arena="$("$work/lean-x86_64" "$q" 1 | sed -n 's/^arena: \([0-9]*\) bytes/\1/p')"
    : >"$work/a"
    : >"$work/b"
    for _ in 1 2 3 4 5 6 7; do
        load_ms "$work/lean-onnx-x86_64" "$m" 1 >>"$work/a"
        load_ms "$work/lean-x86_64" "$q" 1 >>"$work/b"
    done
    ratio="$(awk -v a="$(median <"$work/a")" -v b="$(median <"$work/b")" 'BEGIN {printf "%.2f", b / a}')"
    echo "| $(basename "$m") | $(stat -c %s "$m") | $(stat -c %s "$q") | $arena |" \
        "$(rss "$work/lean-onnx-x86_64" "$m" 20) | $(rss "$work/lean-x86_64" "$q" 20) | $ratio |"
done
