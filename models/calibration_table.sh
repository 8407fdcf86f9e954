#!/usr/bin/env bash
# Regenerates the calibration tables of README.md ("Calibration"): for each seed model, each
# activation observer, LSQ+, GPTQ weight rounding and float residual joins, `qpose calibrate`
# on the even COCO-mini-dev images, measured on the odd ones (held out): head-output SQNR
# against fp32 (dB), mean keypoint displacement against fp32 (pixels of the network input
# crop) and COCO keypoint AP (ground-truth boxes).
#
# Usage: models/calibration_table.sh [MODEL.onnx ...]   (default: the two seed models)
# Environment: QPOSE (default: cargo run --release --), TASKSET (e.g. "taskset -c 0").
set -euo pipefail
cd "$(dirname "$0")/.."
QPOSE=${QPOSE:-"cargo run --release --quiet --"}
TASKSET=${TASKSET:-}
DATA=tests/data/coco-mini-dev
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
    models=(models/zoo/mbv2_0.5x_rle_192x192_fp32.onnx models/zoo/mbv2_0.75x_simcc_192x192_fp32.onnx)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

row() { # label, extra arguments...
    local label=$1
    shift
    local start end line
    start=$(date +%s.%N)
    line=$($TASKSET $QPOSE calibrate "$model" --coco $DATA/person_keypoints.json --images $DATA/images \
        --split even --eval --quiet --out "$tmp/m.onnx" "$@" | grep '^COCO keypoint AP')
    end=$(date +%s.%N)
    # "... fp32 A (AR r), int8 B (AR r); int8 vs fp32: head-output SQNR S dB, mean keypoint displacement D input px ..."
    echo "$line" | sed -E "s/.*fp32 ([0-9.]+) .*int8 ([0-9.]+) \(AR.*SQNR (-?[0-9.inf]+) dB, mean keypoint displacement ([0-9.]+) input px.*/| $label | \3 | \4 | \1 | \2 | $(printf '%.1f' "$(echo "$end - $start" | bc)") |/"
}

for model in "${models[@]}"; do
    echo
    echo "### $(basename "$model")"
    echo
    echo "| recipe | head SQNR (dB) | keypoint displacement (input px) | AP fp32 | AP int8 | time (s) |"
    echo "|---|---|---|---|---|---|"
    for observer in minmax ema percentile mse entropy; do
        row "$observer" --observer "$observer"
    done
    row "LSQ+ (MSE init)" --lsq
    row "minmax, GPTQ rounding" --weight-rounding gptq
    row "minmax, float residual joins" --float-residuals
    row "minmax, GPTQ rounding, float residual joins" --weight-rounding gptq --float-residuals
done
