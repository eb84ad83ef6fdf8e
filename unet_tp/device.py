"""Where the code runs: Colab or not, which device, which mixed precision."""

from __future__ import annotations

import os
import sys

import torch


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def pick_device(
    preference: str = "auto", verbose: bool = True, training: bool = True
) -> torch.device:
    """Choose the device to compute on, and say which (one line, when ``verbose``).

    Args:
        preference: ``"auto"`` (CUDA, then Apple MPS, then CPU), or ``"cuda"``, ``"mps"``, ``"cpu"``,
            ``"cuda:1"``...; a RuntimeError when this machine does not have it.
        verbose: print one line naming the device.
        training: the device will train (the CPU line then advises a GPU); False for inference
            (evaluate, predict, figures), where the CPU is fine.
    """
    pref = preference.lower()
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        hint = " In Colab: Runtime > Change runtime type > T4 GPU." if in_colab() else ""
        raise RuntimeError(f"--device {preference}: no CUDA GPU is available here.{hint}")
    if pref == "mps" and not has_mps:
        raise RuntimeError(f"--device {preference}: Apple MPS is not available here")
    device = torch.device(pref)
    if verbose:
        print(_device_line(device, training))
    return device


def _device_line(device: torch.device, training: bool) -> str:
    """The line that names the device (on the CPU for training: get a GPU, and how in Colab)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"Using GPU {name} (CUDA), mixed precision {amp_dtype(device)}"
    if device.type == "mps":
        return "Using Apple GPU (MPS)"
    line = f"Using the CPU ({torch.get_num_threads()} threads)"
    if not training:
        return line
    hint = (
        " In Colab, switch to a GPU: Runtime > Change runtime type > T4 GPU." if in_colab() else ""
    )
    return f"{line}: no GPU found, so training is slow.{hint}"


def run_device(
    preference: str = "auto", verbose: bool = True, training: bool = True
) -> torch.device:
    """The device of this process: under torchrun (``WORLD_SIZE`` > 1) the GPU of its
    ``LOCAL_RANK`` (or the CPU without CUDA), else :func:`pick_device`. Commands call it once and
    pass the device down."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return pick_device(preference, verbose, training)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision type for ``device``: bf16 from compute capability 8 (Ampere), fp16 before
    (a T4 is 7.5: ``torch.cuda.is_bf16_supported()`` may say True there, but it only emulates
    bf16, slowly), ``None`` off CUDA."""
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16
