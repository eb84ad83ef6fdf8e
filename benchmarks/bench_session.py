"""What one Colab session costs, measured on this machine: the course pack (build, download over
a loopback HTTP server, unpack), the student's training step in float32 and in half precision
(float16 with the gradient scaler, or bf16 where the device has it), and a FLOP-based estimate
for a Colab T4.

    python benchmarks/bench_session.py [--cases 6] [--patients 6] [--crop 192] [--preset colab-t4]
        [--device cpu|cuda] [--steps 6] [--slices-per-epoch 19000] [--out FILE.json]

The T4 estimate: GFLOP per slice (forward and backward, counted by torch's FlopCounterMode at the
preset's grid and widths) times the slices of an epoch, over the T4's peak (8.1 TFLOPS float32,
65 float16 on tensor cores) at an efficiency measured elsewhere for 2D U-Nets (35 % and 25 %:
stated in the output, not hidden).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

T4_TFLOPS = {"float32": 8.1, "float16": 65.0}
T4_EFFICIENCY = {"float32": 0.35, "float16": 0.25}  # share of the peak a 2D U-Net step reaches


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback HTTP server of ``folder`` (Range requests not needed for a full download)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def bench_pack(work: Path, cases: int, patients: int, crop: int, image_size: int | None) -> dict:
    from unet_tp.data.cache import CacheSettings
    from unet_tp.data.pack import build_pack, open_pack
    from unet_tp.data.synth import synth_dataset

    data = work / "data"
    synth_dataset(data, cases, seed=0)
    t0 = time.perf_counter()
    built = build_pack(
        data,
        work / "course.tar.gz",
        patients,
        CacheSettings(crop=crop, image_size=image_size),
        progress=False,
    )
    build_s = time.perf_counter() - t0
    server, url = serve(work)
    try:
        t0 = time.perf_counter()
        cache = open_pack(
            f"{url}/course.tar.gz", work / "unpacked", expected_sha256=built.sha256, progress=False
        )
        fetch_s = time.perf_counter() - t0
    finally:
        server.shutdown()
    slices = json.loads((cache / "pack.json").read_text())["slices"]
    return {
        "patients": patients,
        "slices": slices,
        "grid": [crop, image_size],
        "size_mb": built.size / 2**20,
        "build_s": build_s,
        "download_unpack_s": fetch_s,
        "mb_per_s": built.size / 2**20 / fetch_s,
    }


def _setup(preset: str, device, batch: int):
    import torch

    from solutions.losses import categorical_cross_entropy
    from solutions.training import train_step
    from solutions.unet import UNet
    from unet_tp.settings import preset_config

    config = preset_config(preset)
    size = config.grid.image_size or config.grid.crop
    torch.manual_seed(0)
    model = UNet(
        4,
        4,
        base_channels=config.model.base_channels,
        depth=config.model.depth,
        padding=True,
        batch_norm=True,
    ).to(device)
    images = torch.randn(batch, 4, size, size, device=device)
    labels = torch.randint(0, 4, (batch, size, size), device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    return model, images, labels, optimizer, categorical_cross_entropy, train_step, size


def gflop_per_slice(preset: str) -> float:
    """Forward + backward GFLOP of one slice of ``preset`` (counted on the CPU, one slice)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model, images, labels, _, loss_fn, _, _ = _setup(preset, torch.device("cpu"), 1)
    with FlopCounterMode(display=False) as counter:
        loss_fn(model(images), labels).backward()
    return counter.get_total_flops() / 1e9


def step_rate(preset: str, device_name: str, precision: str, batch: int, steps: int) -> float:
    """Slices per second of the student's step (solutions/training.py) through the course's
    wrapper: ``float32`` as written, ``half`` as the loop runs it on a CUDA device."""
    import torch

    from unet_tp.precision import student_step

    device = torch.device(device_name)
    model, images, labels, optimizer, loss_fn, train_step, _ = _setup(preset, device, batch)
    step = student_step(train_step, device, amp=precision == "half")
    for _ in range(2):  # warm-up (cuDNN autotuning, allocator)
        step(model, images, labels, optimizer, loss_fn)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(model, images, labels, optimizer, loss_fn)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def t4_minutes(gflop: float, slices: int, epochs: int) -> dict[str, float]:
    """Minutes of training on a T4, per precision, from the FLOP count."""
    return {
        p: gflop * 1e9 * slices * epochs / (T4_TFLOPS[p] * 1e12 * T4_EFFICIENCY[p]) / 60
        for p in T4_TFLOPS
    }


def main(argv: list[str] | None = None) -> int:
    import torch
    from machine import describe

    from unet_tp.settings import preset_config

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=6)
    p.add_argument("--patients", type=int, default=6)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--preset", default="colab-t4")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument(
        "--slices-per-epoch",
        type=int,
        default=19000,
        help="training slices of an epoch on the full BraTS 2019 set (268 patients)",
    )
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    result = {"machine": describe(), "device": args.device, "preset": args.preset}
    with tempfile.TemporaryDirectory() as tmp:
        result["pack"] = pack = bench_pack(
            Path(tmp), args.cases, args.patients, args.crop, args.image_size
        )
    print(
        f"pack: {pack['patients']} patients, {pack['slices']} slices, {pack['size_mb']:.1f} MiB;"
        f" built in {pack['build_s']:.1f} s; downloaded and unpacked in "
        f"{pack['download_unpack_s']:.2f} s ({pack['mb_per_s']:.0f} MiB/s, loopback)"
    )
    rates = {"float32": step_rate(args.preset, args.device, "float32", args.batch, args.steps)}
    if args.device == "cuda":
        rates["half"] = step_rate(args.preset, args.device, "half", args.batch, args.steps)
    result["slices_per_s"] = rates
    for name, rate in rates.items():
        print(f"student's step, {name}: {rate:.1f} slices/s ({args.device}, batch {args.batch})")
    if "half" in rates:
        print(f"half / float32 speed-up: {rates['half'] / rates['float32']:.2f}x")
    gflop = result["gflop_per_slice"] = gflop_per_slice(args.preset)
    epochs = preset_config(args.preset).optim.epochs
    t4 = result["t4_minutes"] = t4_minutes(gflop, args.slices_per_epoch, epochs)
    print(
        f"{args.preset}: {gflop:.1f} GFLOP per slice (forward + backward); on a T4, "
        f"{args.slices_per_epoch} slices x {epochs} epochs: float32 {t4['float32']:.0f} min, "
        f"float16 {t4['float16']:.0f} min (efficiency assumed "
        f"{T4_EFFICIENCY['float32']:.0%} / {T4_EFFICIENCY['float16']:.0%} of the peak)"
    )
    print(f"machine: {result['machine']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
