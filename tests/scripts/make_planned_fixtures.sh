#!/usr/bin/env bash
# Writes the committed planned models (tests/data/planned/*.qpose) from the committed ONNX
# files with `qpose compile`. The lean runtime's tests (tests/int8_models.rs, tests/reference_models.rs,
# tests/no_allocation.rs) load them where the ONNX importer is not built (--no-default-features,
# the ARM runs under qemu); tests/planned_format.rs fails when they no longer match what
# `qpose compile` writes, and names this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --bin qpose
for stem in mbv2_0.5x_rle_192x192_fp32 mbv2_0.5x_rle_192x192_ort_u8s8 mbv2_0.75x_simcc_192x192_ort_u8s8; do
    ./target/release/qpose compile "models/zoo/$stem.onnx" --out "tests/data/planned/$stem.qpose"
done
