"""Training step of solutions.UNet vs MONAI's BasicUNet at the same widths, same input and batch.

Both networks: 4 poolings, widths (f, 2f, 4f, 8f, 16f), batch norm + ReLU, 2x2 transposed-conv
up-sampling, padded convolutions. Reports slices/s, peak memory and the step-time ratio
(ours / MONAI; target <= 1.0). Each model runs in its own process so that peak memory is its own.

    python benchmarks/bench_model.py [--device cpu|cuda] [--batch 8] [--size 128] [--base 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def build(kind: str, base: int):
    if kind == "ours":
        from solutions.unet import UNet

        return UNet(in_channels=4, num_classes=4, base_channels=base, padding=True, batch_norm=True)
    from monai.networks.nets import BasicUNet

    return BasicUNet(
        spatial_dims=2,
        in_channels=4,
        out_channels=4,
        features=(base, 2 * base, 4 * base, 8 * base, 16 * base, base),
        act="relu",
        norm="batch",
        dropout=0.0,
        upsample="deconv",
    )


def run_one(
    kind: str, device_name: str, batch: int, size: int, base: int, steps: int, amp: bool
) -> dict:
    import torch
    import torch.nn.functional as F

    device = torch.device(device_name)
    torch.manual_seed(0)
    model = build(kind, base).to(device)
    dtype = None
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        major, _ = torch.cuda.get_device_capability(device)
        dtype = torch.bfloat16 if major >= 8 else torch.float16
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 4, size, size, device=device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 4, (batch, size, size), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        if dtype is not None and amp:
            with torch.autocast("cuda", dtype=dtype):
                out = model(x)
        else:
            out = model(x)
        loss = F.cross_entropy(out.float(), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        with open("/proc/self/status") as f:
            peak_mb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    return {
        "kind": kind,
        "step_s": median,
        "slices_per_s": batch / median,
        "peak_mb": peak_mb,
        "params": sum(p.numel() for p in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--base", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no-amp", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                run_one(
                    args.child,
                    args.device,
                    args.batch,
                    args.size,
                    args.base,
                    args.steps,
                    not args.no_amp,
                )
            )
        )
        return
    from machine import describe

    print(f"machine: {describe()}")
    print(
        f"device {args.device}, batch {args.batch} x 4 x {args.size} x {args.size}, widths {args.base}..{16 * args.base}, "
        f"{args.steps} timed training steps (median)"
    )
    results = {}
    for kind in ("ours", "monai"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--device",
            args.device,
            "--batch",
            str(args.batch),
            "--size",
            str(args.size),
            "--base",
            str(args.base),
            "--steps",
            str(args.steps),
        ]
        if args.no_amp:
            cmd.append("--no-amp")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[kind] = json.loads(out.strip().splitlines()[-1])
        r = results[kind]
        print(
            f"{kind:6s}: {r['step_s'] * 1e3:8.1f} ms/step  {r['slices_per_s']:8.1f} slices/s  "
            f"peak {r['peak_mb']:8.0f} MB  {r['params']:,} parameters"
        )
    ratio = results["ours"]["step_s"] / results["monai"]["step_s"]
    mem = results["ours"]["peak_mb"] / results["monai"]["peak_mb"]
    print(
        f"step time ours / MONAI = {ratio:.2f} (target <= 1.0); peak memory ours / MONAI = {mem:.2f}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": describe(),
                    "device": args.device,
                    **results,
                    "step_ratio": ratio,
                    "memory_ratio": mem,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
