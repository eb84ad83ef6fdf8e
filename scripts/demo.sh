#!/usr/bin/env bash
# The main job on the built-in sample cases, from a fresh machine:
# environment -> BraTS-format sample cases -> slice cache -> (as the kit grows) training, evaluation, figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
OUT=${OUT:-demo_out}
CASES=${CASES:-16}
echo "[demo] $CASES BraTS-format sample cases -> $OUT/data"
unet-tp data synth "$OUT/data" --cases "$CASES" --seed 0
unet-tp data info "$OUT/data/MICCAI_BraTS_2019_Data_Training"
echo "[demo] slice cache -> $OUT/cache"
unet-tp data prepare "$OUT/data/MICCAI_BraTS_2019_Data_Training" --cache "$OUT/cache"
