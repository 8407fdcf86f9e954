#!/usr/bin/env bash
# Builds the C API (release, static library), compiles capi/examples/run.c against
# capi/include/qpose.h with cc and runs it on the int8 seed model.
#   capi/run_c_example.sh [MODEL.onnx] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
model="${1:-$root/models/zoo/mbv2_0.5x_rle_192x192_ort_u8s8.onnx}"
cargo build --release -p qpose-c --manifest-path "$root/Cargo.toml"
out="$target/release/qpose_c_example"
cc -std=c99 -O2 -Wall -Wextra -Werror -I "$root/capi/include" "$root/capi/examples/run.c" \
    "$target/release/libqpose_c.a" -lpthread -ldl -lm -Wl,-z,noexecstack -o "$out"
"$out" "$model" "${2:-3}"
