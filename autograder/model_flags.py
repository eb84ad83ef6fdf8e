"""The flags of ``unet-tp train``, ``evaluate``, ``predict`` and ``figures`` (what they run:
:mod:`autograder.model_commands`, imported only when one runs, so that ``unet-tp --help`` starts
without torch). Instructor commands: :func:`autograder.cli.register` adds them to ``unet-tp``."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable

from unet_tp.data.commands import add_strict_flag
from unet_tp.settings import LOSS_NAMES, PRESET_USES, PRESETS, TrainConfig

DEFAULT_MODEL = "solutions.unet:UNet"
"""What ``--model`` names by default: the reference U-Net of this checkout."""

SETTING_FLAGS = {  # setting: (type or choices, what it is); the help adds each preset's value
    "epochs": (int, "passes over the training slices"),
    "batch_size": (int, "slices per step"),
    "lr": (float, "peak learning rate of Adam (cosine decay)"),
    "base_channels": (int, "channels of the first level (64 in the paper)"),
    "depth": (int, "pooling steps (4 in the paper)"),
    "image_size": (int, "slice size seen by the network (none: the crop's size)"),
    "crop": (int, "centre crop before resizing"),
    "tumour_free_fraction": (float, "share of each case's tumour-free slices kept in the cache"),
    "loss": (list(LOSS_NAMES), "cross-entropy (Eq. 1), or cross-entropy + soft Dice"),
    "val_fraction": (float, "share of patients held out for validation"),
    "seed": (int, "seeds the split, the weights, the data order"),
    "num_workers": (int, "DataLoader worker processes"),
    "time_budget_minutes": (float, "stop before an epoch ends past it, the best epoch kept"),
}


def _preset_help(text: str, name: str) -> str:
    """``text`` with the flag's default and each preset's value of setting ``name``."""
    default = TrainConfig().flat()[name]

    def shown(value: object) -> str:
        return "none" if value is None else str(value)

    per = ", ".join(f"{p} {shown(values.get(name, default))}" for p, values in PRESETS.items())
    return f"{text} (default {shown(default)}; with --preset: {per})"


def _presets_epilog() -> str:
    """Each preset: what it is for, then the settings it sets (``settings.PRESETS``)."""
    lines = [
        textwrap.fill(
            f"{PRESET_USES[name]}; " + ", ".join(f"{k} {v}" for k, v in values.items()),
            78,
            initial_indent=f"  {name:13s} ",
            subsequent_indent=" " * 16,
            break_on_hyphens=False,
        )
        for name, values in PRESETS.items()
    ]
    return (
        "presets (--preset P sets the defaults; explicit flags override them):\n"
        + "\n".join(lines)
        + "\n\nWithout a GPU training is slow: prefer --preset cpu-quick. Multi-GPU:\n"
        "  torchrun --nproc_per_node=N -m unet_tp train --data DIR --out RUN --preset paper"
    )


REQUIRED, SWITCH = {"required": True}, {"action": "store_true"}
CHECKPOINT = ("--checkpoint", "a run's checkpoint.pt", REQUIRED)
ARGUMENTS = {  # command: its arguments, (flags, help, the other keywords of add_argument)
    "train": [
        ("--data", "folder of BraTS cases, or a prepared slice cache", REQUIRED),
        ("--out", "run folder: checkpoint.pt, history.json, ...", REQUIRED),
        ("--preset", "defaults, described below (default: none)", {"choices": list(PRESETS)}),
        *[
            (
                f"--{name.replace('_', '-')}" + (" --time-budget" if "budget" in name else ""),
                _preset_help(text, name),
                {"choices" if isinstance(kind, list) else "type": kind, "dest": name},
            )
            for name, (kind, text) in SETTING_FLAGS.items()
        ],
        (
            "--deterministic",
            "bit-identical reruns for one seed (slower on GPU; default: off)",
            SWITCH | {"default": None},
        ),
        ("--cache", "slice cache folder (default: one under ~/.cache/unet_tp)", {}),
        ("--resume", "continue the run in --out (default: new)", SWITCH),
        ("--skip-bad", "leave out unreadable cases (default: stop)", SWITCH),
        ("--no-eval", "skip the 3D evaluation of the validation patients", SWITCH),
    ],
    "evaluate": [
        ("--data", "folder of BraTS cases with their seg files", REQUIRED),
        CHECKPOINT,
        ("--out", "JSON file of the metrics", REQUIRED),
        ("--cases", "case ids (default: the run's validation patients)", {"nargs": "+"}),
        ("--force", "replace an --out file that evaluate did not write", SWITCH),
    ],
    "figures": [
        ("--data", "folder of BraTS cases", REQUIRED),
        ("--run", "a training run folder (holding checkpoint.pt)", {}),
        ("--case", "case id (default: the first validation patient)", {}),
        ("--out", "output folder", REQUIRED),
        ("--dpi", "resolution of the PNG files", {"type": int, "default": 100}),
    ],
    "predict": [
        ("--case", "one case folder (--out: a .nii.gz file)", {}),
        ("--data", "a folder of cases, seg or not (--out: a folder, OUT/<case>.nii.gz)", {}),
        CHECKPOINT,
        ("--out", "output .nii.gz (--case) or folder (--data)", REQUIRED),
        ("--force", "replace existing output files", SWITCH),
    ],
}
TRAIN_DESCRIPTION = "Train the reference U-Net of solutions/ on BraTS cases or a slice cache."
COMMAND_HELP = {  # command: its help; each also takes --device, --model (and --strict)
    "train": "train the reference U-Net (runs under torchrun too)",
    "evaluate": "BraTS metrics (Dice, HD95) of a checkpoint on whole volumes",
    "figures": "the kit's figures (a case; with --run: curves, prediction)",
    "predict": "segment one case, or a folder of cases, into NIfTI files",
}


def register(sub: argparse._SubParsersAction, run: Callable[[argparse.Namespace], int]) -> None:
    """Add train, evaluate, figures and predict to ``unet-tp``'s sub-command parser; ``run``
    runs the one chosen."""
    for name, text in COMMAND_HELP.items():
        training = name == "train"
        described = {"description": TRAIN_DESCRIPTION, "epilog": _presets_epilog()}
        p = sub.add_parser(name, help=text, **(described if training else {}))
        for flags, text, keywords in ARGUMENTS[name]:
            p.add_argument(*flags.split(), help=text, **keywords)
        if name in ("train", "predict"):
            add_strict_flag(p)
        p.add_argument(
            "--device", help="auto, cpu, cuda, cuda:N or mps (default: auto, a GPU if any)"
        )
        default = DEFAULT_MODEL if training else f"the checkpoint's class, else {DEFAULT_MODEL}"
        p.add_argument(
            "--model",
            metavar="MODULE:NAME",
            help=f"the network class (default: {default}, the reference U-Net of this checkout; "
            "another importable class is built with the run's model settings)",
        )
        p.set_defaults(func=run)
