#!/usr/bin/env bash
# The CUDA path, checked on a GPU machine (never in CI): one short script.
#   1. the machine; 2. `unet-tp train` on sample cases with the GPU preset (AMP, channels_last) and
#   the 3D evaluation; 3. the students' path: their train_step under bf16 autocast, and the T4 path
#   (fp16 + GradScaler, the capability faked to 7.5) for a few epochs each, losses finite;
#   4. benchmarks/bench_model.py --device cuda (ours against MONAI's BasicUNet).
# Needs torch with CUDA, numpy, scipy, matplotlib, tqdm; nibabel and monai may come as wheels in
# .whl/ (installed into /tmp/site). Works in ${WORK:-/tmp/unet_tp_gpu}; the figures go to
# ${OUT:-gpu_out}.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
export WORK=${WORK:-/tmp/unet_tp_gpu}
mkdir -p "$OUT" "$WORK"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=python3
echo "[gpu] machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), 'capability', torch.cuda.get_device_capability(0))"

echo "[gpu] unet-tp train --preset colab-t4 on 12 sample cases, then the 3D evaluation"
$PY -m unet_tp data synth "$WORK/data" --cases 12 --seed 0
DATA="$WORK/data/MICCAI_BraTS_2019_Data_Training"
SECONDS=0
$PY -m unet_tp train --data "$DATA" --out "$WORK/run" --preset colab-t4 --epochs 3 --cache "$WORK/cache"
echo "[gpu] train (cache included) + evaluation: ${SECONDS} s"
cp "$WORK/run/history.json" "$WORK/run/metrics.json" "$OUT/"

echo "[gpu] the students' train_step on the GPU: bf16 autocast here, fp16 + GradScaler as on a T4"
$PY - <<'EOF'
import os
import time

import torch

from solutions import UNet, categorical_cross_entropy
from solutions.training import train_step
from unet_tp.data.cache import SliceDataset, split_patients
from unet_tp.device import amp_dtype
from unet_tp.settings import preset_config
from unet_tp.precision import student_step
from unet_tp.train import fit, reference_step

device = torch.device("cuda")
cache = os.path.join(os.environ["WORK"], "cache")
train_ids, val_ids = split_patients(cache, 0.2, 0)
train, val = SliceDataset(cache, train_ids), SliceDataset(cache, val_ids)
config = preset_config("colab-t4", epochs=2, loss="ce", num_workers=2)


def run(label, **kwargs):
    torch.manual_seed(0)
    model = UNet(**config.model.kwargs()).to(device)
    t0 = time.perf_counter()
    history = fit(model, train, val, config, device=device, progress=False, **kwargs)
    last = history[-1]
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in history), history
    print(
        f"{label}: amp {amp_dtype(device)}, {len(train)} slices x {config.optim.epochs} epochs in "
        f"{time.perf_counter() - t0:.1f} s; loss {history[0]['train_loss']:.3f} -> "
        f"{last['train_loss']:.3f}, Dice WT {last['dice_wt']:.3f} TC {last['dice_tc']:.3f} "
        f"ET {last['dice_et']:.3f}"
    )


run("student train_step + loss (bf16 autocast)", loss_fn=categorical_cross_entropy, train_step=train_step)
real = torch.cuda.get_device_capability
torch.cuda.get_device_capability = lambda device=None: (7, 5)  # a T4: no bf16
assert amp_dtype(device) == torch.float16
step = student_step(reference_step, device)
assert step.scaler is not None
run("reference step, T4 path (fp16 + GradScaler)")
run("student train_step, T4 path (fp16 autocast + GradScaler, as the reference step)", train_step=train_step)
torch.cuda.get_device_capability = real
EOF

echo "[gpu] benchmarks/bench_model.py --device cuda"
$PY benchmarks/bench_model.py --device cuda --json "$OUT/model_cuda_results.json"
$PY benchmarks/bench_model.py --device cuda --batch 16 --size 192 --base 32 \
    --json "$OUT/model_cuda_colab_t4_shape.json"
