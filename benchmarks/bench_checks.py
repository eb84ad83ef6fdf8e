"""Seconds per visible self-check of the notebook (``unet_tp.checks``) on the solved notebook's
blocks, on a CPU (target: each under 2 s). Each check runs once to warm up, then ``--repeat``
times in a fresh process; the slowest run counts.

    python benchmarks/bench_checks.py [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

RUN = """
import contextlib, io, sys, time
import numpy as np, torch, torch.nn.functional as F
from torch import nn
from autograder.build import solution_regions
from unet_tp import checks
from unet_tp.unet_base import UNetBase

torch.set_num_threads(int(sys.argv[3]))
ns = {"torch": torch, "nn": nn, "F": F, "np": np, "UNetBase": UNetBase, "__name__": "__main__"}
for gid, source in solution_regions().items():
    exec(compile(source, f"<cell {gid}>", "exec"), ns)
args = [F.cross_entropy if a == "F.cross_entropy" else ns[a] for a in sys.argv[2].split(",")]
check = getattr(checks, sys.argv[1])
times = []
for _ in range(int(sys.argv[4]) + 1):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        check(*args)
    times.append(time.perf_counter() - start)
print(times[0], max(times[1:]))
"""

CHECKS = {
    "check_double_conv": "DoubleConv",
    "check_down": "Down",
    "check_center_crop": "center_crop",
    "check_up": "Up",
    "check_unet": "UNet",
    "check_loss": "categorical_cross_entropy",
    "check_train_step": "train_step,F.cross_entropy",
    "check_predict_dice": "predict,dice_score",
}


def main() -> None:
    import torch
    from machine import describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    print(describe())
    print(f"{args.threads} torch threads; first call (imports warm) and slowest of {args.repeat}")
    print(f"{'check':22s} {'first (s)':>10s} {'slowest (s)':>12s}")
    worst = 0.0
    for check, names in CHECKS.items():
        out = subprocess.run(
            [sys.executable, "-c", RUN, check, names, str(args.threads), str(args.repeat)],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        first, slowest = float(out[-2]), float(out[-1])
        worst = max(worst, first, slowest)
        print(f"{check:22s} {first:10.3f} {slowest:12.3f}")
    print(f"slowest check: {worst:.2f} s ({'under' if worst < 2 else 'OVER'} the 2 s target)")


if __name__ == "__main__":
    main()
