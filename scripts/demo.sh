#!/usr/bin/env bash
# The main job on the built-in sample cases, from a fresh machine:
# environment -> BraTS-format sample cases -> slice cache -> CPU training -> 3D evaluation -> prediction -> figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
OUT=${OUT:-demo_out}
CASES=${CASES:-16}
DATA="$OUT/data/MICCAI_BraTS_2019_Data_Training"
echo "[demo] $CASES BraTS-format sample cases -> $OUT/data"
unet-tp data synth "$OUT/data" --cases "$CASES" --seed 0
unet-tp data info "$DATA"
echo "[demo] slice cache (192 crop, 96x96 for the CPU preset) -> $OUT/cache"
unet-tp data prepare "$DATA" --cache "$OUT/cache" --crop 192 --image-size 96
if [ -f "$OUT/run/metrics.json" ]; then
    echo "[demo] $OUT/run already trained: reusing it (delete it to train again)"
else
    echo "[demo] training the reference U-Net with --preset cpu-quick -> $OUT/run"
    start=$(date +%s)
    unet-tp train --data "$OUT/cache" --out "$OUT/run" --preset cpu-quick
    echo "[demo] training + 3D evaluation took $(( $(date +%s) - start )) s"
fi
echo "[demo] BraTS metrics of the validation patients (whole volumes)"
unet-tp evaluate --data "$DATA" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/run/evaluation.json"
# a validation patient: one the network never saw in training (the first of the run's split)
first=$(python -c 'import json, sys; print(next(iter(json.load(open(sys.argv[1]))["cases"])))' "$OUT/run/evaluation.json")
read -r _ _ case_dir < <(unet-tp data info "$DATA" -v | grep "^$first ")
echo "[demo] predicting the validation patient $first -> $OUT/pred/${first}_pred.nii.gz"
unet-tp predict --case "$case_dir" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/pred/${first}_pred.nii.gz" --force
echo "[demo] figures -> $OUT/figures"
unet-tp figures --data "$DATA" --run "$OUT/run" --out "$OUT/figures"
