"""The notebook's visible checks and the grader agree: each realistic mistake, a small edit of a
solution cell, fails the visible check of its block exactly when the grader takes the block's
points, with a message that names the mistake; correct code written differently passes both.

The grader is asked in process, as ``tests/test_compare.py`` does (the kernel's answers with the
grader's probes substituted, judged by ``autograder.compare``); the visible check runs as the
grader runs it (its block's probes substituted) and as the notebook runs it (no probes).
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import autograder.harness as harness
from autograder import probes, repair, static
from autograder.compare import comparisons, judge
from autograder.spec import load
from notebooks import SOLUTIONS, answer, insert_after, namespace, solved, with_cell
from unet_tp import check_cases, checks, i18n

# every case runs the grader's comparisons and the visible checks in process: minutes in all
pytestmark = pytest.mark.slow

SPEC = load()
# compare name -> the visible check's arguments, as the notebook's test cells pass them
ARGS = {
    "double_conv": ["DoubleConv"],
    "down": ["Down"],
    "center_crop": ["center_crop"],
    "up": ["Up"],
    "unet": ["UNet"],
    "loss": ["categorical_cross_entropy"],
    "train_step": ["train_step", "F.cross_entropy"],
    "predict_dice": ["predict", "dice_score"],
}
# solution cell -> the comparisons of its block
TESTS = {b.solution_cell: [t.compare for t in b.tests] for b in SPEC.blocks}


notebook = namespace


@functools.cache
def _requests(name: str):
    comparison = comparisons()[name]
    return comparison, comparison.requests(np.random.default_rng(2026))


def graded(ns: dict, name: str) -> tuple[bool, str]:
    """The grader's verdict on comparison ``name``."""
    comparison, requests = _requests(name)
    verdict = judge(comparison, {r.name: answer(ns, r) for r in requests}, requests)
    return verdict.passed, verdict.message or ""


def visible(ns: dict, name: str, with_probes: bool = True) -> tuple[bool, str]:
    """The visible check of comparison ``name``: as the grader runs it (the block's probes in
    place of the blocks it is built from), or as the notebook does."""
    names = [p for p in getattr(comparisons()[name], "probes", [])] if with_probes else []
    args = [F.cross_entropy if a == "F.cross_entropy" else ns[a] for a in ARGS[name]]
    subs = {p: probes.fitted(probes.PROBES[p], ns.get(p)) for p in names}
    with harness._substituted(ns, subs), contextlib.redirect_stdout(io.StringIO()):
        try:
            getattr(checks, check_cases.CHECKS[name])(*args)
        except AssertionError as exc:
            return False, str(exc)
    return True, ""


@dataclass
class Mistake:
    """A small edit of one solution cell; ``fails``: the comparisons it must fail (visible and
    graded); ``words``: what the visible message must say (case-insensitive, each)."""

    id: str
    cell: str
    edits: list[tuple[str, str]]
    fails: set[str]
    words: tuple[str, ...]
    extra: str = ""
    marks: list = field(default_factory=list)


DC_BN_AFTER_RELU = [
    (
        "            if batch_norm:\n                layers.append(nn.BatchNorm2d(out_channels))\n"
        "            layers.append(nn.ReLU(inplace=True))",
        "            layers.append(nn.ReLU(inplace=True))\n            if batch_norm:\n"
        "                layers.append(nn.BatchNorm2d(out_channels))",
    )
]
CROP = "    top = (x.shape[-2] - height) // 2\n    left = (x.shape[-1] - width) // 2"
SKIP_CROP = "skip = center_crop(skip, x.shape[-2], x.shape[-1])"
DICE_LAST = "return float(2 * np.logical_and(pred, truth).sum() / sizes)"
STEP = (
    "    optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's\n"
    "    loss = loss_fn(model(images), labels)\n    loss.backward()\n    optimizer.step()"
)
BLOCKS = [
    "DoubleConv(in_channels, widths[0], ",
    "Down(widths[i], widths[i + 1], ",
    "Up(widths[i + 1], widths[i], ",
]


def _blocks_args(new: str) -> list[tuple[str, str]]:
    """The UNet's three block constructions with ``padding, batch_norm)`` replaced by ``new``."""
    return [(f"{b}padding, batch_norm)", f"{b}{new}") for b in BLOCKS]


MISTAKES = [
    # ---- (a) DoubleConv
    Mistake("bn_after_relu", "double_conv", DC_BN_AFTER_RELU, {"double_conv"}, ("after the relu",)),
    Mistake(
        "padding_ignored",
        "double_conv",
        [("pad = 1 if padding else 0", "pad = 0")],
        {"double_conv"},
        ("padding",),
    ),
    Mistake(  # (student round 41: told to check the layers' order)
        "reflect_padding",
        "double_conv",
        [("padding=pad, bias=not", "padding=pad, padding_mode='reflect', bias=not")],
        {"double_conv"},
        ("padding_mode='reflect'",),
    ),
    Mistake(
        "always_padded",
        "double_conv",
        [("pad = 1 if padding else 0", "pad = 1")],
        {"double_conv"},
        ("padding=0",),
    ),
    Mistake(
        "no_last_relu",
        "double_conv",
        [
            (
                "            layers.append(nn.ReLU(inplace=True))",
                "            layers.append(nn.ReLU()) if c_in == in_channels else None",
            )
        ],
        {"double_conv"},
        ("relu after the second",),
    ),
    Mistake(
        "batch_norm_ignored",
        "double_conv",
        [("            if batch_norm:\n", "            if False:\n")],
        {"double_conv"},
        ("batchnorm2d",),
    ),
    Mistake(
        "second_conv_in_channels",
        "double_conv",
        [("for c_in in (in_channels, out_channels):", "for c_in in (in_channels, in_channels):")],
        {"double_conv"},
        ("raised", "conv2 3x3", "line"),
    ),
    Mistake(
        "kernel_5",
        "double_conv",
        [("kernel_size=3, padding=pad", "kernel_size=5, padding=2 * pad")],
        {"double_conv"},
        ("3x3",),
    ),
    # ---- (b) Down
    Mistake(
        "pool_after_convs",
        "down",
        [("return self.conv(self.pool(x))", "return self.pool(self.conv(x))")],
        {"down"},
        ("pool first",),
    ),
    Mistake(
        "down_args_not_passed",
        "down",
        [
            (
                "DoubleConv(in_channels, out_channels, padding, batch_norm)",
                "DoubleConv(in_channels, out_channels)",
            )
        ],
        {"down"},
        ("pass", "padding"),
    ),
    Mistake(
        "down_args_swapped",
        "down",
        [
            (
                "DoubleConv(in_channels, out_channels, padding, batch_norm)",
                "DoubleConv(in_channels, out_channels, batch_norm, padding)",
            )
        ],
        {"down"},
        ("pass",),
    ),
    Mistake(
        "average_pool",
        "down",
        [("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.AvgPool2d(kernel_size=2, stride=2)")],
        {"down"},
        ("average pooling",),
    ),
    # ---- (c) center_crop and Up
    Mistake(
        "cat_order",
        "up",
        [("torch.cat([skip, x], dim=1)", "torch.cat([x, skip], dim=1)")],
        {"up"},
        ("torch.cat([skip, x]", "order"),
    ),
    Mistake(
        "crop_top_left",
        "up",
        [(CROP, "    top = 0\n    left = 0")],
        {"center_crop"},
        ("top-left",),
    ),
    Mistake(  # honest round 38: told to use model.eval(), which it did
        "predict_maps_class_3_to_label_4",
        "predict_dice",
        [
            (
                "    return model(images).argmax(dim=1)",
                "    pred = model(images).argmax(dim=1)\n    pred[pred == 3] = 4\n    return pred",
            )
        ],
        {"predict_dice"},
        ("not classes of the network (0 to 3)", "4"),
    ),
    Mistake(  # honest round 38: told to crop height and width separately
        "crop_start_without_brackets",
        "up",
        [(CROP, "    top = x.shape[-2] - height // 2\n    left = x.shape[-1] - width // 2")],
        {"center_crop"},
        ("runs past the map's edge", "(H - height) // 2"),
    ),
    Mistake(
        "crop_offsets_swapped",
        "up",
        [(CROP, "    top = (x.shape[-1] - width) // 2\n    left = (x.shape[-2] - height) // 2")],
        {"center_crop"},
        ("swapped",),
    ),
    Mistake(  # honest round 33's: one row and column too many where the margin is odd
        "crop_ends_at_the_far_margin",
        "up",
        [
            (
                "return x[..., top : top + height, left : left + width]",
                "return x[..., top : x.shape[-2] - top, left : x.shape[-1] - left]",
            )
        ],
        {"center_crop"},
        ("one too many", "top + height"),
    ),
    Mistake(
        "crop_changes_dtype",
        "up",
        [
            (
                "x[..., top : top + height, left : left + width]",
                "x[..., top : top + height, left : left + width].double()",
            )
        ],
        {"center_crop"},
        ("the right window", "float64"),
    ),
    Mistake(
        "crop_shape_swapped",
        "up",
        [
            (
                "x[..., top : top + height, left : left + width]",
                "x[..., left : left + width, top : top + height]",
            )
        ],
        {"center_crop"},
        ("expected shape",),
    ),
    Mistake(
        "up_crops_top_left",
        "up",
        [(SKIP_CROP, "skip = skip[..., : x.shape[-2], : x.shape[-1]]")],
        {"up"},
        ("top-left",),
    ),
    Mistake(
        "up_crop_offsets_swapped",
        "up",
        [
            (
                SKIP_CROP,
                "t, s = (skip.shape[-1] - x.shape[-1]) // 2, (skip.shape[-2] - x.shape[-2]) // 2\n"
                "            skip = skip[..., t : t + x.shape[-2], s : s + x.shape[-1]]",
            )
        ],
        {"up"},
        ("swapped",),
    ),
    Mistake(  # honest round 23: passed both sides while every case's x was square
        "up_crop_height_width_swapped",
        "up",
        [(SKIP_CROP, "skip = center_crop(skip, x.shape[-1], x.shape[-2])")],
        {"up"},
        ("raised",),
    ),
    Mistake(
        "up_no_crop",
        "up",
        [(SKIP_CROP, "pass")],
        {"up"},
        ("raised", "skip cropped", "line"),
    ),
    Mistake(
        "up_args_not_passed",
        "up",
        [
            (
                "self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)",
                "self.conv = DoubleConv(in_channels, out_channels)",
            )
        ],
        {"up"},
        ("pass",),
    ),
    Mistake(
        "up_args_swapped",
        "up",
        [
            (
                "self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)",
                "self.conv = DoubleConv(in_channels, out_channels, batch_norm, padding)",
            )
        ],
        {"up"},
        ("pass",),
    ),
    # ---- (d) UNet
    Mistake(
        "hard_wired_widths_and_depth",
        "unet",
        [
            # (the paper's 64 to 1024 read the same, in six times the time)
            ("widths = self.widths", "widths = [16, 32, 64, 128, 256]"),
            ("for i in range(depth)", "for i in range(4)"),
            ("for i in reversed(range(depth))", "for i in reversed(range(4))"),
        ],
        {"unet"},
        ("base_channels", "depth"),
    ),
    Mistake(  # (honest round 25: the paper's drop-out was said as a wiring fault)
        "paper_dropout",
        "unet",
        [
            ("        self.outc = ", "        self.drop = nn.Dropout2d(0.5)\n        self.outc = "),
            ("            x = down(x)\n", "            x = down(x)\n        x = self.drop(x)\n"),
        ],
        {"unet"},
        ("dropout",),
    ),
    Mistake(
        "depth_ignored",
        "unet",
        [
            ("for i in range(depth)", "for i in range(4)"),
            ("for i in reversed(range(depth))", "for i in reversed(range(4))"),
        ],
        {"unet"},
        ("depth",),
    ),
    Mistake(
        "batch_norm_not_passed",
        "unet",
        _blocks_args("padding)"),
        {"unet"},
        ("batch_norm",),
    ),
    Mistake(
        "padding_not_passed",
        "unet",
        _blocks_args("False, batch_norm)"),
        {"unet"},
        ("padding",),
    ),
    Mistake(
        "skips_not_reversed",
        "unet",
        [("zip(self.ups, reversed(skips), strict=True)", "zip(self.ups, skips, strict=True)")],
        {"unet"},
        ("raised", "skip = ", "line", "reversed(skips)"),  # (honest round 36: the hint)
    ),
    Mistake(
        "ups_built_top_down",  # (French student round 39: told to reverse its skips)
        "unet",
        [("for i in reversed(range(depth))", "for i in range(depth)")],
        {"unet"},
        ("the first Up run is not the one of the bottom level", "reversed(range(depth))"),
    ),
    Mistake(
        "bottom_map_as_skip",
        "unet",
        [
            (
                "            skips.append(x)\n            x = down(x)",
                "            x = down(x)\n            skips.append(x)",
            )
        ],
        {"unet"},
        ("raised", "skip = ", "line"),
    ),
    Mistake(
        "ups_in_wrong_order",
        "unet",
        [("for i in reversed(range(depth))", "for i in range(depth)")],
        {"unet"},
        ("raised", "ups.0", "line"),
    ),
    Mistake(
        "forgotten_outc",
        "unet",
        [("return self.outc(x)", "return x")],
        {"unet"},
        ("never applied", "self.outc"),
    ),
    Mistake(
        "in_channels_hard_wired",
        "unet",
        [("DoubleConv(in_channels, widths[0]", "DoubleConv(4, widths[0]")],
        {"unet"},
        ("in_channels",),
    ),
    Mistake(
        "num_classes_hard_wired",
        "unet",
        [("self.outc = OutConv(widths[0], num_classes)", "self.outc = OutConv(widths[0], 4)")],
        {"unet"},
        ("num_classes",),
    ),
    # ---- (e) the loss
    Mistake(
        "weights_ignored",
        "cce_loss",
        [("    if weight is None:\n", "    if True:\n")],
        {"loss"},
        ("weights are ignored",),
    ),
    Mistake(
        "weight_parameter_renamed",
        "cce_loss",
        [
            (
                "def categorical_cross_entropy(logits, target, weight=None):",
                "def categorical_cross_entropy(logits, target, poids=None):",
            ),
            ("    if weight is None:\n", "    weight = poids\n    if weight is None:\n"),
        ],
        {"loss"},
        ("weight=", "training cell"),
    ),
    Mistake(
        "weighted_divided_by_pixels",
        "cce_loss",
        [("/ pixel_weight.sum()", "/ per_pixel.numel()")],
        {"loss"},
        ("number of pixels",),
    ),
    Mistake(
        "clamped_log",
        "cce_loss",
        [
            (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log(torch.softmax(logits, dim=1).clamp(1e-7))",
            )
        ],
        {"loss"},
        ("large logits", "clamp"),
    ),
    Mistake(
        "log_of_softmax",
        "cce_loss",
        [
            (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log(torch.softmax(logits, dim=1))",
            )
        ],
        {"loss"},
        ("logsumexp",),
    ),
    Mistake(
        "one_hot_without_movedim",
        "cce_loss",
        [(".movedim(-1, 1)", "")],
        {"loss"},
        ("raised", "movedim(-1, 1)", "classes last", "line"),
    ),
    Mistake(
        "logsumexp_without_keepdim",
        "cce_loss",
        [(", keepdim=True)", ")")],
        {"loss"},
        ("raised", "keepdim=true", "drops the class dimension", "line"),
    ),
    Mistake(
        "loss_through_item",
        "cce_loss",
        [("return per_pixel.mean()", "return torch.tensor(per_pixel.mean().item())")],
        {"loss"},
        ("cut from the graph", ".item()"),
    ),
    Mistake(
        "mean_over_classes",
        "cce_loss",
        [("-(t * log_s).sum(dim=1)", "-(t * log_s).mean(dim=1)")],
        {"loss"},
        ("mean over the classes",),
    ),
    Mistake(
        "missing_minus",
        "cce_loss",
        [("per_pixel = -(t * log_s)", "per_pixel = (t * log_s)")],
        {"loss"},
        ("minus sign",),
    ),
    Mistake(
        "sum_over_pixels",
        "cce_loss",
        [("return per_pixel.mean()", "return per_pixel.sum()")],
        {"loss"},
        ("sum over the pixels",),
    ),
    Mistake(
        "softmax_wrong_dim",
        "cce_loss",
        [("torch.logsumexp(logits, dim=1", "torch.logsumexp(logits, dim=-1")],
        {"loss"},
        ("wrong dimension",),
    ),
    Mistake(
        "loss_returns_float",
        "cce_loss",
        [("return per_pixel.mean()", "return per_pixel.mean().item()")],
        {"loss"},
        ("not a scalar tensor", ".item()"),
    ),
    # ---- (f) train_step
    Mistake(
        "loss_after_update",
        "train_step",
        [("return loss.item()", "return loss_fn(model(images), labels).item()")],
        {"train_step"},
        ("after the update",),
    ),
    Mistake(
        "zero_grad_between_backward_and_step",
        "train_step",
        [
            (
                STEP,
                "    loss = loss_fn(model(images), labels)\n    loss.backward()\n"
                "    optimizer.zero_grad()\n    optimizer.step()",
            )
        ],
        {"train_step"},
        ("between backward() and step()",),
    ),
    Mistake(
        "zero_grad_missing",
        "train_step",
        [("optimizer.zero_grad()  #", "pass  #")],
        {"train_step"},
        ("zero_grad()", "accumulate"),
    ),
    Mistake(  # (honest round 25: the notebook's check passed, its loss_fn being that loss)
        "own_loss_not_loss_fn",
        "train_step",
        [
            (
                "loss = loss_fn(model(images), labels)",
                "loss = F.cross_entropy(model(images), labels)",
            )
        ],
        {"train_step"},
        ("never called the loss_fn",),
    ),
    Mistake(
        "loss_fn_arguments_swapped",
        "train_step",
        [("loss_fn(model(images), labels)", "loss_fn(labels, model(images))")],
        {"train_step"},
        ("raised", "loss_fn(labels, logits)", "swapped", "line"),
    ),
    Mistake(
        "item_before_backward",
        "train_step",
        [("loss = loss_fn(model(images), labels)", "loss = loss_fn(model(images), labels).item()")],
        {"train_step"},
        ("raised", ".item()", "before backward()"),
    ),
    Mistake(
        "step_missing",
        "train_step",
        [("    optimizer.step()", "    pass")],
        {"train_step"},
        ("optimizer.step() is never called",),
    ),
    Mistake(
        "backward_missing",
        "train_step",
        [("    loss.backward()", "    pass")],
        {"train_step"},
        ("backward() is never called",),
    ),
    Mistake(
        "returns_tensor",
        "train_step",
        [("return loss.item()", "return loss")],
        {"train_step"},
        ("python float", "loss.item()"),
    ),
    Mistake(
        "eval_mode",
        "train_step",
        [("    model.train()\n", "    model.eval()\n")],
        {"train_step"},
        ("model.train()",),
    ),
    Mistake(  # right for the notebook's float32 logits; the checks pass float64 ones too
        "one_hot_float_in_einsum",
        "cce_loss",
        [
            (
                "    per_pixel = -(t * log_s).sum(dim=1)",
                "    t = t.float()\n    per_pixel = -torch.einsum('nchw,nchw->nhw', t, log_s)",
            )
        ],
        {"loss"},
        ("float64", ".to(logits.dtype)"),
    ),
    # ---- (g) predict and dice_score
    Mistake(
        "dice_eps",
        "predict_dice",
        [
            (
                DICE_LAST,
                "return float((2 * np.logical_and(pred, truth).sum() + 1e-6) / (sizes + 1e-6))",
            )
        ],
        {"predict_dice"},
        ("smoothing", "eps"),
    ),
    Mistake(  # honest round 36: rounded to 4 digits, the message spoke of a smoothing term
        "dice_rounded",
        "predict_dice",
        [(DICE_LAST, "return round(float(2 * np.logical_and(pred, truth).sum() / sizes), 4)")],
        {"predict_dice"},
        ("rounded to 4 decimals", "as computed"),
    ),
    Mistake(  # honest round 34: right to 3 digits, the message said nothing of why
        "dice_in_float16",
        "predict_dice",
        [(DICE_LAST, "return float(np.float16(2 * np.logical_and(pred, truth).sum() / sizes))")],
        {"predict_dice"},
        ("float16", "float32 or float64"),
    ),
    Mistake(
        "iou",
        "predict_dice",
        [
            (
                DICE_LAST,
                "return float(np.logical_and(pred, truth).sum() / np.logical_or(pred, truth).sum())",
            )
        ],
        {"predict_dice"},
        ("iou",),
    ),
    Mistake(
        "nan_for_empty_masks",
        "predict_dice",
        [
            (
                "    if sizes == 0:\n        return 1.0  # both empty\n",
                "    sizes = np.float64(sizes)\n",
            )
        ],
        {"predict_dice"},
        ("empty", "nan"),
    ),
    Mistake(  # (honest round 25: a missed tumour scored 1.0; no case had one empty mask)
        "one_for_one_empty_mask",
        "predict_dice",
        [("    if sizes == 0:", "    if pred.sum() == 0 or truth.sum() == 0:")],
        {"predict_dice"},
        ("one mask is empty",),
    ),
    Mistake(  # (honest round 25: the grader's only volume was sparse: it passed one grading in 2)
        "dice_mean_over_slices",
        "predict_dice",
        [
            (
                "    pred, truth = pred.astype(bool), truth.astype(bool)\n",
                "    pred, truth = pred.astype(bool), truth.astype(bool)\n    if pred.ndim == 3:\n"
                "        return float(np.mean([dice_score(p, t) for p, t in zip(pred, truth)]))\n",
            )
        ],
        {"predict_dice"},
        ("mean of the dice of each slice",),
    ),
    Mistake(
        "zero_for_empty_masks",
        "predict_dice",
        [("return 1.0  # both empty", "return 0.0")],
        {"predict_dice"},
        ("empty masks agree",),
    ),
    Mistake(
        "predict_without_eval",
        "predict_dice",
        [("    model.eval()  #", "    pass  #")],
        {"predict_dice"},
        ("model.eval()",),
    ),
    Mistake(
        "argmax_wrong_dim",
        "predict_dice",
        [("argmax(dim=1)", "argmax(dim=0)")],
        {"predict_dice"},
        ("dim=1",),
    ),
    Mistake(
        "predict_returns_probabilities",
        "predict_dice",
        [("argmax(dim=1)", "softmax(dim=1)")],
        {"predict_dice"},
        ("argmax",),
    ),
    # ---- written the way students get it wrong, the message naming the mistake
    Mistake(
        "leaky_relu",
        "double_conv",
        [("nn.ReLU(inplace=True)", "nn.LeakyReLU(0.01, inplace=True)")],
        {"double_conv"},
        ("leakyrelu ran", "nn.relu"),
    ),
    Mistake(
        "dropout_after_relu",
        "double_conv",
        [
            (
                "            layers.append(nn.ReLU(inplace=True))",
                "            layers.append(nn.ReLU(inplace=True))\n"
                "            layers.append(nn.Dropout2d(0.2))",
            )
        ],
        {"double_conv"},
        ("dropout2d ran", "no dropout"),
    ),
    Mistake(
        "softmax_on_the_output",
        "unet",
        [("return self.outc(x)", "return torch.softmax(self.outc(x), dim=1)")],
        {"unet"},
        ("softmax of outc", "logits"),
    ),
    Mistake(
        "softmax_twice",
        "cce_loss",
        [
            (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log_softmax(torch.softmax(logits, dim=1), dim=1)",
            )
        ],
        {"loss"},
        ("softmax applied twice",),
    ),
    Mistake(
        "exp_overflows",
        "cce_loss",
        [
            (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "e = torch.exp(logits)\n    log_s = torch.log(e / e.sum(dim=1, keepdim=True))",
            )
        ],
        {"loss"},
        ("nan", "exp(logits) overflows"),
    ),
    Mistake(
        "one_hot_h_w_swapped",
        "cce_loss",
        [(".movedim(-1, 1)", ".permute(0, 3, 2, 1)")],
        {"loss"},
        ("h and w", ".permute(0, 3, 1, 2)"),
    ),
    Mistake(
        "sum_over_the_batch",
        "cce_loss",
        [("-(t * log_s).sum(dim=1)", "-(t * log_s).sum(dim=0)")],
        {"loss"},
        ("dim=0 (the batch)",),
    ),
    Mistake(
        "weighted_divided_by_class_weights",
        "cce_loss",
        [("/ pixel_weight.sum()", "/ weight.sum()")],
        {"loss"},
        ("sum of the class weights", "sum(w[target])"),
    ),
    Mistake(
        "backward_twice",
        "train_step",
        [("    loss.backward()\n", "    loss.backward()\n    loss.backward()\n")],
        {"train_step"},
        ("raised", "called twice", "retain_graph=true is not the fix"),
    ),
    Mistake(
        "forward_under_no_grad",
        "train_step",
        [
            (
                "    loss = loss_fn(model(images), labels)\n",
                "    with torch.no_grad():\n        logits = model(images)\n"
                "    loss = loss_fn(logits, labels)\n",
            )
        ],
        {"train_step"},
        ("raised", "torch.no_grad()"),
    ),
    Mistake(
        "dice_smoothed_by_one",
        "predict_dice",
        [(DICE_LAST, "return float((2 * np.logical_and(pred, truth).sum() + 1) / (sizes + 1))")],
        {"predict_dice"},
        ("+ 1)", "smoothing"),
    ),
    Mistake(
        "conv_bias_always_false",
        "double_conv",
        [("bias=not batch_norm", "bias=False")],
        {"double_conv"},
        ("some are missing", "without bias"),
    ),
    Mistake(
        "up_conv_without_bias",
        "up",
        [("kernel_size=2, stride=2)", "kernel_size=2, stride=2, bias=False)")],
        {"up"},
        ("up-convolution has no bias",),
    ),
    Mistake(
        "gradient_clipping",
        "train_step",
        [
            (
                "    loss.backward()\n",
                "    loss.backward()\n"
                "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)\n",
            )
        ],
        {"train_step"},
        ("first step", "clipped"),
    ),
    Mistake(
        "dice_counts_equal_pixels",
        "predict_dice",
        [(DICE_LAST, "return float(2 * (pred == truth).sum() / sizes)")],
        {"predict_dice"},
        ("above 1", "pred & truth"),
    ),
    Mistake(
        "block_named_after_a_module_method",
        "up",
        [
            ("self.conv = DoubleConv(", "self.double = DoubleConv("),
            ("return self.conv(torch.cat(", "return self.double(torch.cat("),
        ],
        {"up"},
        ("raised", "self.double is nn.module's own method double()", "another name"),
    ),
    Mistake(
        "dice_floor_division",
        "predict_dice",
        [(DICE_LAST, "return float(2 * np.logical_and(pred, truth).sum() // sizes)")],
        {"predict_dice"},
        ("integer division",),
    ),
    # ---- students5: more of the class's mistakes
    Mistake(
        "crop_end_from_the_far_side",
        "up",
        [
            (
                "    return x[..., top : top + height, left : left + width]",
                "    return x[..., top : x.shape[-2] - top, left : x.shape[-1] - left]",
            )
        ],
        {"center_crop"},
        ("expected shape (2, 3, 8, 13)",),
    ),
    Mistake(
        "strided_conv_for_pool",
        "down",
        [
            (
                "nn.MaxPool2d(kernel_size=2, stride=2)",
                "nn.Conv2d(in_channels, in_channels, 2, stride=2)",
            )
        ],
        {"down"},
        ("max-pooling",),
    ),
    Mistake(
        "batch_norm_always",
        "double_conv",
        [("            if batch_norm:\n", "            if True:\n")],
        {"double_conv"},
        ("batch_norm=false", "only if asked"),
    ),
    Mistake(
        "train_step_returns_none",
        "train_step",
        [("    return loss.item()", "    print(loss.item())")],
        {"train_step"},
        ("nonetype", "loss.item()"),
    ),
    # log(softmax + eps): a loss a little off (the check's value), or its gradient (the grader's)
    Mistake(
        "log_of_softmax_plus_epsilon",
        "cce_loss",
        [
            (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log(torch.softmax(logits, dim=1) + 1e-8)",
            )
        ],
        {"loss"},
        ("log(softmax(...) + 1e-08)", "epsilon", "logsumexp"),
    ),
    Mistake(
        "one_hot_without_num_classes",
        "cce_loss",
        [("F.one_hot(target.long(), logits.shape[1])", "F.one_hot(target.long())")],
        {"loss"},
        ("num_classes",),
    ),
    Mistake(
        "sum_divided_by_the_batch_size",
        "cce_loss",
        [("return per_pixel.mean()", "return per_pixel.sum() / logits.shape[0]")],
        {"loss"},
        ("batch size", "N * H * W pixels"),
    ),
    # modules in a plain Python list: PyTorch sees no parameters (the messages spoke of layers
    # that never ran, or of "fixed widths or depth")
    Mistake(
        "layers_in_a_python_list",
        "double_conv",
        [
            ("self.block = nn.Sequential(*layers)", "self.layers = layers"),
            (
                "return self.block(x)",
                "for layer in self.layers:\n            x = layer(x)\n        return x",
            ),
        ],
        {"double_conv"},
        ("self.layers (list)", "nn.ModuleList"),
    ),
    Mistake(
        "downs_in_a_python_list",
        "unet",
        [
            (
                "self.downs = nn.ModuleList(\n",
                "self.downs = list(\n",
            )
        ],
        {"unet"},
        ("self.downs (list)", "nn.ModuleList"),
    ),
]

# ---- correct code written differently ----------------------------------------------------------

SEQUENTIAL_DOUBLE_CONV = """
class DoubleConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        layers = []
        for c in (in_channels, out_channels):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=int(padding), bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
        super().__init__(*layers)
"""
ONE_RELU_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = 1 if padding else 0
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, padding=p)  # a bias before BN: useless
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, padding=p)
        self.n1 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.n2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)  # one ReLU module, used twice

    def forward(self, x):
        return self.relu(self.n2(self.c2(self.relu(self.n1(self.c1(x))))))
"""
FUNCTIONAL_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.pad, self.bn = int(padding), batch_norm
        self.convs = nn.ModuleList(
            nn.Conv2d(c, out_channels, 3, bias=not batch_norm) for c in (in_channels, out_channels)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(out_channels) for _ in range(2 if batch_norm else 0))

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = F.conv2d(x, conv.weight, conv.bias, padding=self.pad)
            if self.bn:
                x = self.norms[i](x)
            x = F.relu(x)
        return x
"""
SEQUENTIAL_DOWN = """
class Down(nn.Sequential):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, padding, batch_norm))
"""
INLINE_UP = """
class Up(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, 2, 2)
        self.conv = DoubleConv(in_channels, out_channels, padding=padding, batch_norm=batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        skip = skip[..., (dh + 1) // 2 : (dh + 1) // 2 + x.shape[-2], dw // 2 : dw // 2 + x.shape[-1]]
        return self.conv(torch.cat((skip, x), 1))
"""
TORCHVISION_CROP = """
import torchvision.transforms.functional as TF

def center_crop(x, height, width):
    return TF.center_crop(x, [height, width])
"""
RECURSIVE_UNET = """
class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False,
                 batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        w = self.widths
        self.inc = DoubleConv(in_channels, w[0], padding, batch_norm)
        self.downs = nn.ModuleList([Down(w[i], w[i + 1], padding, batch_norm) for i in range(depth)])
        self.ups = nn.ModuleList([Up(w[i + 1], w[i], padding, batch_norm) for i in range(depth)])
        self.outc = OutConv(w[0], num_classes)
        self.reset_parameters()

    def level(self, x, i):
        if i == len(self.downs):
            return x
        return self.ups[i](self.level(self.downs[i](x), i + 1), x)

    def forward(self, x):
        self.check_input(x)
        return self.outc(self.level(self.inc(x), 0))
"""
GATHER_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    log_s = torch.log_softmax(logits, dim=1)
    per_pixel = -log_s.gather(1, target.long().unsqueeze(1)).squeeze(1)
    if weight is None:
        return per_pixel.mean()
    w = weight.to(log_s.dtype)[target]
    return (w * per_pixel).sum() / w.sum()
"""
MODEL_ZERO_GRAD_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    model.zero_grad(set_to_none=False)
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return float(loss)
"""
# the loss in float32 inside a float64 step, autocast's habit (honest round 7: (f) 0/3, "returned
# 1.396913, expected the loss 1.396913")
FLOAT32_LOSS_STEP = MODEL_ZERO_GRAD_STEP.replace(
    "loss_fn(model(images), labels)", "loss_fn(model(images).float(), labels)"
)
NUMPY_PREDICT_DICE = """
def predict(model, images):
    model.eval()
    with torch.no_grad():
        return model(images).argmax(1).float().numpy()

def dice_score(pred, truth):
    pred, truth = torch.as_tensor(pred).bool(), torch.as_tensor(truth).bool()
    if not (pred.any() or truth.any()):
        return 1.0
    return 2 * (pred & truth).sum().item() / (pred.sum() + truth.sum()).item()
"""

# the formula written out, its disagreements counted by a library's helper that is no Dice
HAMMING_DICE = """
from scipy.spatial import distance


def predict(model, images):
    model.eval()
    return model(images).argmax(dim=1)


def dice_score(pred, truth):
    pred, truth = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    both = np.logical_and(pred, truth).sum()
    if not (pred.any() or truth.any()):
        return 1.0
    return float(2 * both / (2 * both + round(distance.hamming(pred, truth) * pred.size)))
"""

MILESIAL_DOWN = """
class Down(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, padding, batch_norm)
        )

    def forward(self, x):
        return self.maxpool_conv(x)
"""
NARROW_ROUND_CROP = """
def center_crop(x, height, width):
    top = round((x.size(2) - height) / 2)  # Python rounds halves to even: either rounding is right
    left = round((x.size(3) - width) / 2)
    return x.narrow(-2, top, height).narrow(-1, left, width)
"""
POP_UNET = """
class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False,
                 batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        chans = [base_channels * 2**i for i in range(depth + 1)]
        self.first = DoubleConv(in_channels, chans[0], padding, batch_norm)
        self.encoder = nn.ModuleList(
            Down(chans[i], chans[i + 1], padding, batch_norm) for i in range(depth)
        )
        self.decoder = nn.ModuleList(
            Up(chans[i], chans[i - 1], padding, batch_norm) for i in range(depth, 0, -1)
        )
        self.final = OutConv(chans[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        features = [self.first(x)]
        for layer in self.encoder:
            features.append(layer(features[-1]))
        x = features.pop()  # the bottom is no skip
        for layer in self.decoder:
            x = layer(x, features.pop())
        return self.final(x)
"""
PERMUTE_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    one_hot = F.one_hot(target, num_classes=logits.shape[1]).permute(0, 3, 1, 2).float()
    loss = -(one_hot * F.log_softmax(logits, dim=1)).sum(dim=1)
    if weight is None:
        return loss.mean()
    w = weight[target]
    return (loss * w).sum() / w.sum()
"""
SET_TO_NONE_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    logits = model(images)
    loss = loss_fn(logits, labels.long())
    loss.backward()
    optimizer.step()
    print(f"loss = {loss.item():.4f}")
    return float(loss.detach())
"""

REVERSE_ORDER_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = 1 if padding else 0
        self.use_bn = batch_norm
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=p, bias=not batch_norm)
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else None
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=p, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.bn1(x) if self.use_bn else x)
        x = self.conv2(x)
        return F.relu(self.bn2(x) if self.use_bn else x)
"""

# students5: the class's correct code, written their way
ORDEREDDICT_DOUBLE_CONV = """
from collections import OrderedDict
class DoubleConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        p = "same" if padding else 0
        d = OrderedDict()
        d["conv1"] = nn.Conv2d(in_channels, out_channels, 3, padding=p, bias=not batch_norm)
        if batch_norm: d["norm1"] = nn.BatchNorm2d(out_channels)
        d["relu1"] = nn.ReLU(inplace=True)
        d["conv2"] = nn.Conv2d(out_channels, out_channels, 3, padding=p, bias=not batch_norm)
        if batch_norm: d["norm2"] = nn.BatchNorm2d(out_channels)
        d["relu2"] = nn.ReLU(inplace=True)
        super().__init__(d)
"""
FRENCH_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        # rembourrage : 1 pixel si on garde la taille
        marge = 1 if padding else 0
        self.première = nn.Conv2d(in_channels, out_channels, 3, padding=marge)
        self.deuxième = nn.Conv2d(out_channels, out_channels, 3, padding=marge)
        self.normalisé = batch_norm
        if batch_norm:
            self.bn_un = nn.BatchNorm2d(out_channels)
            self.bn_deux = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU()

    def forward(self, x):
        x = self.première(x)
        if self.normalisé:
            x = self.bn_un(x)
        x = self.activation(x)
        x = self.deuxième(x)
        if self.normalisé:
            x = self.bn_deux(x)
        return self.activation(x)
"""
OLD_SUPER_LOOP_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super(DoubleConv, self).__init__()
        mods = []
        ch = in_channels
        for _ in range(2):
            mods += [nn.Conv2d(ch, out_channels, kernel_size=(3, 3), padding=1 if padding else 0, bias=False if batch_norm else True)]
            if batch_norm: mods += [nn.BatchNorm2d(out_channels)]
            mods += [nn.ReLU(inplace=True)]
            ch = out_channels
        self.double_conv = nn.Sequential(*mods)
    def forward(self, x):
        #print(x.shape)
        return self.double_conv(x)
"""
PRINTING_DOWN = """
class Down(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.mp = nn.MaxPool2d(kernel_size=2)
        self.dc = DoubleConv(in_channels=in_channels, out_channels=out_channels, padding=padding, batch_norm=batch_norm)
    def forward(self, x):
        x = self.mp(x)
        print("après pool", x.shape)
        return self.dc(x)
"""
NEGATIVE_PAD_CROP = """
def center_crop(x, height, width):
    dh = x.shape[2] - height
    dw = x.shape[3] - width
    # F.pad with negative values crops
    return F.pad(x, [-(dw // 2), -(dw - dw // 2), -(dh // 2), -(dh - dh // 2)])

class Up(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)
    def forward(self, x, skip):
        x = self.up(x)
        skip = center_crop(skip, x.shape[2], x.shape[3])
        return self.conv(torch.cat([skip, x], dim=1))
"""
CENTERCROP_MODULE_CROP = """
from torchvision import transforms as T
def center_crop(x, height, width):
    return T.CenterCrop((height, width))(x)

class Up(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)
    def forward(self, x, skip):
        x = self.up(x)
        skip = center_crop(skip, x.shape[2], x.shape[3])
        return self.conv(torch.cat([skip, x], dim=1))
"""
_OUT_CONV = """class OutConv(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


"""
FEATURES_UNET = (
    _OUT_CONV
    + """class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super(UNet, self).__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        features = self.widths
        self.inc = DoubleConv(in_channels, features[0], padding, batch_norm)
        self.encoder = nn.ModuleList()
        for f_in, f_out in zip(features[:-1], features[1:]):
            self.encoder.append(Down(f_in, f_out, padding, batch_norm))
        self.decoder = nn.ModuleList()
        for f_in, f_out in zip(features[::-1][:-1], features[::-1][1:]):
            self.decoder.append(Up(f_in, f_out, padding, batch_norm))
        self.outc = OutConv(features[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        skip_connections = []
        x = self.inc(x)
        for enc in self.encoder:
            skip_connections.append(x)
            x = enc(x)
        skip_connections = skip_connections[::-1]
        for idx, dec in enumerate(self.decoder):
            x = dec(x, skip_connections[idx])
        return self.outc(x)
"""
)
SKIPS_AFTER_EACH_DOWN_UNET = (
    _OUT_CONV
    + """class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        w = self.widths
        self.inc = DoubleConv(in_channels, w[0], padding, batch_norm)
        self.downs = nn.ModuleList([Down(w[i], w[i+1], padding, batch_norm) for i in range(depth)])
        self.ups = nn.ModuleList([Up(w[i+1], w[i], padding, batch_norm) for i in reversed(range(depth))])
        self.outc = OutConv(w[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        x = self.inc(x)
        skips = [x]
        for d in self.downs:
            x = d(x)
            skips.append(x)
        for u, s in zip(self.ups, reversed(skips[:-1])):
            x = u(x, s)
        return self.outc(x)
"""
)
REDUCTION_LOSS = """
def categorical_cross_entropy(logits, target, weight=None, reduction="mean"):
    n_classes = logits.size(1)
    one_hot = torch.nn.functional.one_hot(target.long(), n_classes)  # N,H,W,C
    one_hot = one_hot.permute(0, 3, 1, 2).type_as(logits)
    log_probs = F.log_softmax(logits, dim=1)
    loss = -(one_hot * log_probs).sum(1)
    if weight is not None:
        w = (one_hot * weight.view(1, -1, 1, 1)).sum(1)
        loss = loss * w
        if reduction == "mean":
            return loss.sum() / w.sum()
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
"""
NORMALISED_WEIGHTS_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    log_s = torch.log_softmax(logits, 1)
    l = -torch.gather(log_s, 1, target.long().unsqueeze(1))[:, 0]
    if weight is None:
        return l.mean()
    weight = weight / weight.sum()   # normalisés
    w = weight[target.long()]
    return torch.sum(w * l) / torch.sum(w)
"""
FRENCH_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    # log-softmax stable : on soustrait le log-somme-exp
    log_probabilités = logits - logits.logsumexp(dim=1, keepdim=True)
    vérité = F.one_hot(target.long(), num_classes=logits.shape[1]).permute(0, 3, 1, 2)
    pertes = -(vérité * log_probabilités).sum(dim=1)
    if weight is None:
        return pertes.mean()
    poids = weight[target.long()]
    return (pertes * poids).sum() / poids.sum()
"""
DEVICE_STEP = """
from tqdm.auto import tqdm
def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    device = next(model.parameters()).device
    images, labels = images.to(device), labels.to(device)
    preds = model(images)
    loss = loss_fn(preds, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach().cpu())
"""
DOT_DICE = """
def predict(model, images):
    model.eval()
    with torch.no_grad():
        return model(images).argmax(dim=1)

def dice_score(pred, truth):
    # masques booléens -> entiers
    P = pred.astype(np.uint8).ravel(); T = truth.astype(np.uint8).ravel()
    inter = int(np.dot(P.astype(np.int64), T.astype(np.int64)))
    total = int(P.sum()) + int(T.sum())
    return 1.0 if total == 0 else 2 * inter / total
"""

MODULELIST_SAME_DOUBLE_CONV = """
from typing import Optional


class DoubleConv(nn.Module):
    \"\"\"Deux convolutions 3x3.\"\"\"

    def __init__(self, in_channels: int, out_channels: int, padding: bool = False, batch_norm: bool = False) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(2):
            self.convs.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3,
                                        padding="same" if padding else "valid", bias=not batch_norm))
            self.norms.append(nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(norm(conv(x)))
        return x
"""
EINSUM_LOSS = """
from typing import Optional
def categorical_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    assert logits.dim() == 4, logits.shape
    C = logits.shape[1]
    log_probs = torch.log_softmax(logits, dim=1)
    onehot = F.one_hot(target.long(), C).to(log_probs.dtype)  # N,H,W,C
    per_pixel = -torch.einsum("nchw,nhwc->nhw", log_probs, onehot)
    if weight is not None:
        w = torch.einsum("nhwc,c->nhw", onehot, weight.to(log_probs.dtype))
        return (w * per_pixel).sum() / w.sum()
    return per_pixel.mean()
"""
CLASS_LOOP_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    log_s = logits.log_softmax(dim=1)
    target = target.long()
    if weight is None:
        weight = torch.ones(logits.shape[1])
    weight = torch.as_tensor(weight, dtype=log_s.dtype, device=log_s.device)
    num = torch.zeros((), dtype=log_s.dtype)
    den = torch.zeros((), dtype=log_s.dtype)
    for c in range(logits.shape[1]):
        mask = target == c
        num = num - weight[c] * log_s[:, c][mask].sum()
        den = den + weight[c] * mask.sum()
    return num / den
"""
ARANGE_DOUBLE_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    N, C, H, W = logits.shape
    flat = logits.double().permute(0, 2, 3, 1).reshape(-1, C)
    t = target.reshape(-1).long()
    log_p = flat - flat.logsumexp(dim=-1, keepdim=True)
    picked = log_p[torch.arange(t.numel()), t]
    if weight is None:
        return (-picked.mean()).to(logits.dtype)
    w = weight.to(flat)[t]
    return (-torch.mean(w * picked) / torch.mean(w)).to(logits.dtype)
"""
INFERENCE_MODE_COUNT_NONZERO = """
def predict(model, images):
    model.eval()
    with torch.inference_mode():
        probs = torch.softmax(model(images), dim=1)
    return probs.argmax(dim=1).cpu()


def dice_score(pred, truth):
    pred = np.asarray(pred, dtype=bool); truth = np.asarray(truth, dtype=bool)
    a, b = np.count_nonzero(pred), np.count_nonzero(truth)
    if a + b == 0:
        return 1.0
    return 2.0 * np.count_nonzero(pred & truth) / (a + b)
"""
SETS_DICE = """
@torch.no_grad()
def predict(model, images):
    model.eval()
    _, classes = model(images).max(dim=1)
    return classes

def dice_score(pred, truth):
    p = set(np.flatnonzero(pred)); t = set(np.flatnonzero(truth))
    if len(p) + len(t) == 0:
        return 1.0
    return 2 * len(p & t) / (len(p) + len(t))
"""
MODULEDICT_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        # un dictionnaire de couches, dans l'ordre d'insertion
        self.couches = nn.ModuleDict()
        entree = in_channels
        for k in range(2):
            self.couches[f"conv{k}"] = nn.Conv2d(entree, out_channels, 3, padding=int(padding))
            if batch_norm:
                self.couches[f"bn{k}"] = nn.BatchNorm2d(out_channels)
            self.couches[f"relu{k}"] = nn.ReLU()
            entree = out_channels

    def forward(self, x):
        for couche in self.couches.values():
            x = couche(x)
        return x
"""
FPAD_UP = """
def center_crop(x, height, width):
    H, W = x.shape[-2:]
    dh, dw = H - height, W - width
    return x[:, :, dh // 2 : H - (dh - dh // 2), dw // 2 : W - (dw - dw // 2)]


class Up(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding=padding, batch_norm=batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        if self.padding:
            diffY = skip.size(2) - x.size(2)
            diffX = skip.size(3) - x.size(3)
            x = F.pad(x, (diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2))
        else:
            skip = center_crop(skip, *x.shape[2:])
        return self.conv(torch.cat((skip, x), 1))
"""
MODULEDICT_UNET = (
    _OUT_CONV
    + """class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        widths = self.widths
        self.depth = depth
        self.blocs = nn.ModuleDict({"entree": DoubleConv(in_channels, widths[0], padding, batch_norm)})
        for niveau in range(1, depth + 1):
            self.blocs[f"descente{niveau}"] = Down(widths[niveau - 1], widths[niveau], padding, batch_norm)
            self.blocs[f"montee{niveau}"] = Up(widths[niveau], widths[niveau - 1], padding, batch_norm)
        self.blocs["sortie"] = OutConv(widths[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        x = self.blocs["entree"](x)
        sauts = {0: x}
        for niveau in range(1, self.depth + 1):
            x = self.blocs[f"descente{niveau}"](x)
            sauts[niveau] = x
        for niveau in range(self.depth, 0, -1):
            x = self.blocs[f"montee{niveau}"](x, sauts[niveau - 1])
        return self.blocs["sortie"](x)
"""
)
FLAT_WHERE_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    C = logits.shape[1]
    # (N, C, H, W) -> (N*H*W, C) : une ligne par pixel
    scores = logits.permute(0, 2, 3, 1).reshape(-1, C)
    classes = target.reshape(-1).long()
    log_probs = F.log_softmax(scores, dim=-1)
    pertes = -log_probs.gather(1, classes[:, None]).squeeze(1)
    if weight is None:
        return pertes.mean()
    poids = torch.zeros_like(pertes)
    for c in range(C):
        poids = torch.where(classes == c, weight[c].to(pertes.dtype), poids)
    return (poids * pertes).sum() / poids.sum()
"""
SOFTMAX_LOG_SUM_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    # Entropie croisée de l'éq. (1), moyennée sur les pixels
    m = logits.max(dim=1, keepdim=True).values  # pour la stabilité numérique
    z = logits - m
    log_s = z - torch.log(torch.exp(z).sum(dim=1, keepdim=True))
    t = torch.zeros_like(log_s).scatter_(1, target.long().unsqueeze(1), 1.0)
    l = -(t * log_s).sum(dim=1)
    if weight is None:
        return l.mean()
    w = (t * weight.view(1, -1, 1, 1)).sum(dim=1)
    return (w * l).sum() / w.sum()
"""
FLOAT_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    \"\"\"Une étape : propagation, perte, rétropropagation, mise à jour.\"\"\"
    model.train()
    optimizer.zero_grad(set_to_none=True)
    sorties = model(images)
    perte = loss_fn(sorties, labels)
    perte.backward()
    optimizer.step()
    return float(perte)
"""
BATCHED_PREDICT_TORCH_DICE = """
def predict(model, images, batch_size=2):
    model.eval()
    resultats = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            probas = F.softmax(model(images[i : i + batch_size]), dim=1)
            resultats.append(torch.argmax(probas, dim=1))
    return torch.cat(resultats)


def dice_score(pred, truth):
    p = torch.as_tensor(np.asarray(pred)).bool()
    t = torch.as_tensor(np.asarray(truth)).bool()
    denom = p.sum().item() + t.sum().item()
    if denom == 0:
        return 1.0
    return 2.0 * (p & t).sum().item() / denom
"""
SEQUENTIAL_SUBCLASS_DOUBLE_CONV = """
class DoubleConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        p = 1 if padding else 0
        couches = [nn.Conv2d(in_channels, out_channels, 3, padding=p, bias=not batch_norm)]
        if batch_norm:
            couches.append(nn.BatchNorm2d(out_channels))
        couches += [nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 3, padding=p, bias=not batch_norm)]
        if batch_norm:
            couches.append(nn.BatchNorm2d(out_channels))
        couches.append(nn.ReLU(inplace=True))
        super().__init__(*couches)

    def forward(self, x):
        return super().forward(x)
"""
SEQUENTIAL_SUBCLASS_DOWN = """
class Down(nn.Sequential):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels, padding, batch_norm))
"""
RESTORING_PREDICT = """
def predict(model, images):
    etait_en_entrainement = model.training
    model.eval()
    try:
        with torch.no_grad():
            sorties = model(images)
    finally:
        model.train(etait_en_entrainement)
    return torch.max(sorties, 1)[1]


def dice_score(pred, truth):
    pred = np.asarray(pred) > 0
    truth = np.asarray(truth) > 0
    somme = np.sum(pred) + np.sum(truth)
    return 1.0 if somme == 0 else float(2 * np.sum(pred * truth) / somme)
"""
CONTIGUOUS_CROP = (
    "    return x[..., top : top + height, left : left + width]",
    "    return x[:, :, top : top + height, left : left + width].contiguous()",
)
ENABLE_GRAD_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    model.train(True)
    with torch.enable_grad():
        logits = model(images)
        loss = loss_fn(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach().cpu().item()
"""
TAKE_ALONG_LOSS = """
def categorical_cross_entropy(logits, target, weight=None):
    idx = target.long().unsqueeze(1)  # (N, 1, H, W)
    log_p = torch.take_along_dim(F.log_softmax(logits, dim=1), idx, dim=1).squeeze(1)
    if weight is None:
        return -log_p.mean()
    w = weight.gather(0, target.long().flatten()).view_as(log_p)
    return -(w * log_p).sum() / w.sum()
"""
APPEND_LOOP_UNET = (
    _OUT_CONV
    + """class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        widths = self.widths
        self.inc = DoubleConv(in_channels, base_channels, padding=padding, batch_norm=batch_norm)
        self.encoder = nn.ModuleList()
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            self.encoder.append(Down(c_in, c_out, padding=padding, batch_norm=batch_norm))
        self.decoder = nn.ModuleList()
        for i in range(depth - 1, -1, -1):
            self.decoder.append(Up(widths[i + 1], widths[i], padding=padding, batch_norm=batch_norm))
        self.outc = OutConv(base_channels, num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        features = [self.inc(x)]
        for down in self.encoder:
            features.append(down(features[-1]))
        x = features.pop()
        for up, skip in zip(self.decoder, features[::-1]):
            x = up(x, skip)
        return self.outc(x)
"""
)

TUPLE_PADDING_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = (1, 1) if padding else (0, 0)
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), padding=p, padding_mode="zeros", bias=not batch_norm)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), padding=p, bias=not batch_norm)
        self.bn = nn.ModuleList([nn.BatchNorm2d(out_channels) for _ in range(2)]) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        if self.bn is not None:
            x = self.bn[0](x)
        x = F.relu_(x)
        x = self.conv2(x)
        if self.bn is not None:
            x = self.bn[1](x)
        return torch.relu(x)
"""
TYPED_VALUE_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    out = model(images)
    loss = loss_fn(out, labels)
    loss.backward()
    optimizer.step()
    valeur: float = loss.item()
    return valeur
"""
INLINE_FINAL_CONV_UNET = (
    _OUT_CONV
    + """
class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        largeurs = [base_channels * 2 ** i for i in range(depth + 1)]
        opts = dict(padding=padding, batch_norm=batch_norm)
        self.entree = DoubleConv(in_channels, largeurs[0], **opts)
        self.encodeur = nn.ModuleList([Down(a, b, **opts) for a, b in zip(largeurs, largeurs[1:])])
        self.decodeur = nn.ModuleList([Up(b, a, **opts) for a, b in zip(largeurs, largeurs[1:])][::-1])
        self.final = nn.Conv2d(largeurs[0], num_classes, kernel_size=1)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        sauts = []
        x = self.entree(x)
        for bloc in self.encodeur:
            sauts.insert(0, x)
            x = bloc(x)
        for bloc, saut in zip(self.decodeur, sauts):
            x = bloc(x, saut)
        return self.final(x)
"""
)
LEVELS_UNET = (
    _OUT_CONV
    + """
class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        w = self.widths
        self.inc = DoubleConv(in_channels, w[0], padding, batch_norm)
        self.levels = nn.ModuleList(
            nn.ModuleDict({"down": Down(w[i], w[i + 1], padding, batch_norm), "up": Up(w[i + 1], w[i], padding, batch_norm)})
            for i in range(depth)
        )
        self.outc = OutConv(w[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        x = self.inc(x)
        skips = []
        for level in self.levels:
            skips.append(x)
            x = level["down"](x)
        for level, skip in zip(reversed(self.levels), reversed(skips)):
            x = level["up"](x, skip)
        return self.outc(x)
"""
)

RELUS_IN_A_LIST_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = int(padding)
        self.convs = nn.ModuleList(
            [nn.Conv2d(in_channels, out_channels, 3, padding=p), nn.Conv2d(out_channels, out_channels, 3, padding=p)]
        )
        self.bns = nn.ModuleList([nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity() for _ in range(2)])
        self.activations = [nn.ReLU(), nn.ReLU()]  # sans poids : une liste suffit

    def forward(self, x):
        for conv, bn, act in zip(self.convs, self.bns, self.activations):
            x = act(bn(conv(x)))
        return x
"""

# honest round 19: the up-convolution applied through its weights, or its forward by hand (the
# notebook's check counted only the layers whose hooks ran: "0 nn.ConvTranspose2d ran"), and a
# loss returned as NumPy's float64, a float (the grader took it for no float: (f) 0/3)
FUNCTIONAL_UP = FPAD_UP.replace(
    "x = self.up(x)", "x = F.conv_transpose2d(x, self.up.weight, self.up.bias, stride=2)"
)
FORWARD_UP = FPAD_UP.replace("x = self.up(x)", "x = self.up.forward(x)")
NUMPY_FLOAT_STEP = """
def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return np.float64(loss.item())
"""

CORRECT = {
    "sequential_double_conv": ({}, {"double_conv": SEQUENTIAL_DOUBLE_CONV}),
    "one_relu_twice_bias_before_bn": ({}, {"double_conv": ONE_RELU_DOUBLE_CONV}),
    # honest round 18: what the grader's stand-in blocks lacked, each (d) 0/4 unflagged
    "unet_calls_down_parts": ({"unet": [("x = down(x)", "x = down.conv(down.pool(x))")]}, {}),
    "blocks_take_an_option": (
        {
            "down": [("batch_norm=False):", "batch_norm=False, dropout=0.0):")],
            "unet": [
                (
                    "padding, batch_norm) for i in range(depth)",
                    "padding, batch_norm, dropout=0.0) for i in range(depth)",
                )
            ],
        },
        {},
    ),  # fmt: skip
    "unet_reads_a_blocks_channels": (
        {
            "double_conv": [
                (
                    "super().__init__()",
                    "super().__init__()\n        self.out_channels = out_channels",
                )
            ],
            "unet": [("OutConv(widths[0],", "OutConv(self.inc.out_channels,")],
        },
        {},
    ),  # fmt: skip
    # the student's own DoubleConv (a bias before BN) through a class attribute: no stand-in
    "block_through_a_class_attribute": (
        {
            "unet": [
                ("class UNet(UNetBase):", "class UNet(UNetBase):\n    block = DoubleConv\n"),
                ("self.inc = DoubleConv(", "self.inc = self.block("),
            ]
        },
        {"double_conv": ONE_RELU_DOUBLE_CONV},
    ),
    "functional_double_conv": ({}, {"double_conv": FUNCTIONAL_DOUBLE_CONV}),
    "functional_max_pool": (
        {"down": [("return self.conv(self.pool(x))", "return self.conv(F.max_pool2d(x, 2))")]},
        {},
    ),
    "sequential_down": ({}, {"down": SEQUENTIAL_DOWN}),
    # honest round 4: the last layer's forward called by hand (no module hook runs)
    "outc_forward_called": ({"unet": [("return self.outc(x)", "return self.outc.forward(x)")]}, {}),
    "crop_rounded_up": (
        {
            "up": [
                (
                    CROP,
                    "    top = (x.shape[-2] - height + 1) // 2\n"
                    "    left = (x.shape[-1] - width + 1) // 2",
                )
            ]
        },
        {},
    ),
    "torchvision_center_crop": ({}, {"up": TORCHVISION_CROP}),
    "inline_crop_in_up": ({}, {"up": INLINE_UP}),
    "recursive_unet": ({}, {"unet": RECURSIVE_UNET}),
    "log_softmax": (
        {
            "cce_loss": [
                (
                    "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                    "log_s = torch.log_softmax(logits, dim=1)",
                )
            ]
        },
        {},
    ),
    "gather_loss": ({}, {"cce_loss": GATHER_LOSS}),
    "zero_grad_after_step": (
        {
            "train_step": [
                (
                    STEP,
                    "    loss = loss_fn(model(images), labels)\n    loss.backward()\n"
                    "    optimizer.step()\n    optimizer.zero_grad()",
                )
            ]
        },
        {},
    ),
    "model_zero_grad": ({}, {"train_step": MODEL_ZERO_GRAD_STEP}),
    "float32_loss_in_a_float64_step": ({}, {"train_step": FLOAT32_LOSS_STEP}),
    "numpy_predict_torch_dice": ({}, {"predict_dice": NUMPY_PREDICT_DICE}),
    "dice_counted_with_scipy_hamming": ({}, {"predict_dice": HAMMING_DICE}),
    "padding_same_or_valid": (
        {"double_conv": [("pad = 1 if padding else 0", 'pad = "same" if padding else "valid"')]},
        {},
    ),
    "milesial_down": ({}, {"down": MILESIAL_DOWN}),
    "max_pool_ceil_mode": (
        {"down": [("nn.MaxPool2d(kernel_size=2, stride=2)", "nn.MaxPool2d(2, 2, ceil_mode=True)")]},
        {},
    ),
    "narrow_round_crop": ({}, {"up": NARROW_ROUND_CROP}),
    "pop_unet_own_names": ({}, {"unet": POP_UNET}),
    "permute_float_loss": ({}, {"cce_loss": PERMUTE_LOSS}),
    "set_to_none_step": ({}, {"train_step": SET_TO_NONE_STEP}),
    "zero_grad_after_the_forward": (
        {
            "train_step": [
                (
                    STEP,
                    "    loss = loss_fn(model(images), labels)\n    optimizer.zero_grad()\n"
                    "    loss.backward()\n    optimizer.step()",
                )
            ]
        },
        {},
    ),
    # honest round 33: a Dice of counts divided in torch's float32 (2/3 as 0.6666666865) lost (g)
    "dice_in_float32": (
        {
            "predict_dice": [
                (
                    DICE_LAST,
                    "return float(np.float32(2 * np.logical_and(pred, truth).sum()) / np.float32(sizes))",
                )
            ]
        },
        {},
    ),
    "dice_in_torch": (
        {
            "predict_dice": [
                (
                    DICE_LAST,
                    "p, t = torch.from_numpy(np.asarray(pred)), torch.from_numpy(np.asarray(truth))\n"
                    "    return (2 * (p & t).sum() / sizes).item()",
                )
            ]
        },
        {},
    ),
    "dice_of_means": (
        {
            "predict_dice": [
                (
                    DICE_LAST,
                    "return float(2 * (pred & truth).mean() / (pred.mean() + truth.mean()))",
                )
            ]
        },
        {},
    ),
    "dc_ordereddict": ({}, {"double_conv": ORDEREDDICT_DOUBLE_CONV}),
    "dc_french_accents": ({}, {"double_conv": FRENCH_DOUBLE_CONV}),
    "dc_loop_sequential_bias_false": ({}, {"double_conv": OLD_SUPER_LOOP_DOUBLE_CONV}),
    "down_kwargs_print": ({}, {"down": PRINTING_DOWN}),
    "crop_fpad_negative": ({}, {"up": NEGATIVE_PAD_CROP}),
    "crop_centercrop_module": ({}, {"up": CENTERCROP_MODULE_CROP}),
    "unet_features_list_super_old": ({}, {"unet": FEATURES_UNET}),
    "skips_collected_after_each_down": ({}, {"unet": SKIPS_AFTER_EACH_DOWN_UNET}),
    "loss_onehot_mul_logsoftmax_reduction": ({}, {"cce_loss": REDUCTION_LOSS}),
    "loss_weight_normalised_ok": ({}, {"cce_loss": NORMALISED_WEIGHTS_LOSS}),
    "loss_fr_accents": ({}, {"cce_loss": FRENCH_LOSS}),
    "step_tqdm_device": ({}, {"train_step": DEVICE_STEP}),
    "pd_dice_onehot_labels": ({}, {"predict_dice": DOT_DICE}),
    # honest7: as students write them in Colab
    "dc_modulelist_same_type_hints": ({}, {"double_conv": MODULELIST_SAME_DOUBLE_CONV}),
    "loss_einsum_asserts": ({}, {"cce_loss": EINSUM_LOSS}),
    "loss_loop_over_classes": ({}, {"cce_loss": CLASS_LOOP_LOSS}),
    "loss_arange_in_float64": ({}, {"cce_loss": ARANGE_DOUBLE_LOSS}),
    "pd_inference_mode_count_nonzero": ({}, {"predict_dice": INFERENCE_MODE_COUNT_NONZERO}),
    "pd_max_indices_sets": ({}, {"predict_dice": SETS_DICE}),
    "step_clip_grad_norm": (
        {
            "train_step": [
                (
                    "    loss.backward()\n",
                    "    loss.backward()\n"
                    "    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n",
                )
            ]
        },
        {},
    ),
    # honest10: more ways students write them
    "dc_moduledict_french": ({}, {"double_conv": MODULEDICT_DOUBLE_CONV}),
    "up_fpad_when_padded_slice_crop": ({}, {"up": FPAD_UP}),
    "unet_moduledict_skips_in_a_dict": ({}, {"unet": MODULEDICT_UNET}),
    "loss_flat_pixels_where_weights": ({}, {"cce_loss": FLAT_WHERE_LOSS}),
    "loss_max_shift_scatter_onehot": ({}, {"cce_loss": SOFTMAX_LOG_SUM_LOSS}),
    "step_set_to_none_float_docstring_fr": ({}, {"train_step": FLOAT_STEP}),
    "pd_batched_inference_torch_dice": ({}, {"predict_dice": BATCHED_PREDICT_TORCH_DICE}),
    "dc_subclass_of_sequential": ({}, {"double_conv": SEQUENTIAL_SUBCLASS_DOUBLE_CONV}),
    "down_subclass_of_sequential": ({}, {"down": SEQUENTIAL_SUBCLASS_DOWN}),
    "pd_predict_restores_the_mode": ({}, {"predict_dice": RESTORING_PREDICT}),
    "crop_contiguous_copy": ({"up": [CONTIGUOUS_CROP]}, {}),
    "step_enable_grad_detach_cpu_item": ({}, {"train_step": ENABLE_GRAD_STEP}),
    "loss_take_along_dim_gathered_weights": ({}, {"cce_loss": TAKE_ALONG_LOSS}),
    "unet_append_loops_features_pop": ({}, {"unet": APPEND_LOOP_UNET}),
    "dc_tuple_padding_functional_relu_": ({}, {"double_conv": TUPLE_PADDING_DOUBLE_CONV}),
    "step_typed_value_after_step": ({}, {"train_step": TYPED_VALUE_STEP}),
    "unet_inline_final_conv_skips_inserted": ({}, {"unet": INLINE_FINAL_CONV_UNET}),
    "unet_levels_of_down_up_dicts": ({}, {"unet": LEVELS_UNET}),
    "dc_relus_in_a_plain_list": ({}, {"double_conv": RELUS_IN_A_LIST_DOUBLE_CONV}),
    "up_functional_conv_transpose": ({}, {"up": FUNCTIONAL_UP}),
    "up_forward_called_by_hand": ({}, {"up": FORWARD_UP}),
    "step_returns_numpy_float64": ({}, {"train_step": NUMPY_FLOAT_STEP}),
}


def _cells(edits: dict, extra: dict) -> list[str]:
    return sorted(set(edits) | set(extra))


def test_the_solution_passes_both_sides():
    ns = notebook()
    for name in ARGS:
        assert graded(ns, name) == (True, ""), name
        assert visible(ns, name) == (True, ""), name
        assert visible(ns, name, with_probes=False) == (True, ""), name


@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id, marks=m.marks) for m in MISTAKES])
def test_a_mistake_fails_both_sides_with_a_message_that_names_it(mistake: Mistake):
    ns = notebook({mistake.cell: mistake.edits})
    for name in TESTS[mistake.cell]:
        should_fail = name in mistake.fails
        passed, grader_says = graded(ns, name)
        shown, message = visible(ns, name)
        in_notebook = visible(ns, name, with_probes=False)
        assert passed is not should_fail, (name, "grader", grader_says)
        assert shown is passed, (name, "visible", message, "grader", grader_says)
        assert in_notebook[0] is shown, (name, "notebook", in_notebook[1])
        if should_fail:
            for word in mistake.words:
                assert word.lower() in message.lower(), (word, message)


def test_the_grader_names_an_epsilon_in_the_log():
    """log(softmax + 1e-8) is within the value's tolerance on some cases, not the gradient's:
    the grader's message says where such a gradient comes from."""
    m = next(m for m in MISTAKES if m.id == "log_of_softmax_plus_epsilon")
    passed, message = graded(notebook({m.cell: m.edits}), "loss")
    assert not passed
    assert "epsilon" in message and "logsumexp" in message, message


@pytest.mark.parametrize("variant", list(CORRECT), ids=list(CORRECT))
def test_correct_code_written_differently_passes_both_sides(variant: str):
    edits, extra = CORRECT[variant]
    ns = notebook(edits, extra)
    for cell in _cells(edits, extra):
        for name in TESTS[cell]:
            assert graded(ns, name) == (True, ""), (name, "grader")
            assert visible(ns, name) == (True, ""), (name, "visible")
            assert visible(ns, name, with_probes=False) == (True, ""), (name, "notebook")


def test_a_step_and_predict_moving_the_batch_to_the_notebooks_device_pass_on_a_gpu():
    """Honest round 19: `images.to(device)` in train_step or predict, `device` the notebook's
    (a T4's cuda): the grade (on the CPU) gave full points, the check on Colab's GPU failed, its
    small network on the CPU. The check runs with the notebook's device as the CPU, as the
    grader does; a GPU is stood in for by the meta device."""
    moved = {
        "train_step": NUMPY_FLOAT_STEP.replace("model(images)", "model(images.to(device))"),
        "predict_dice": RESTORING_PREDICT.replace("model(images)", "model(images.to(device))"),
    }
    assert all("images.to(device)" in source for source in moved.values())
    on_the_cpu = notebook(extra={k: "device = torch.device('cpu')\n" + v for k, v in moved.items()})
    for name in ("train_step", "predict_dice"):
        assert graded(on_the_cpu, name) == (True, ""), name
    on_a_gpu = notebook(extra={k: "device = torch.device('meta')\n" + v for k, v in moved.items()})
    for name in ("train_step", "predict_dice"):
        assert visible(on_a_gpu, name) == (True, ""), name
        assert visible(on_a_gpu, name, with_probes=False) == (True, ""), name
    assert on_a_gpu["device"] == torch.device("meta")  # (given back after the check)


TORCH_LOSS = "def categorical_cross_entropy(logits, target, weight=None):\n    return {}\n"


def _fails_both_sides(cell: str, source: str, comparison: str, words: tuple[str, ...]) -> dict:
    """``source`` in place of solution cell ``cell``: the notebook's check of ``comparison``
    (with and without the block's probes) fails with ``words`` in its message; returns the
    grader's reading of the answer's text (``{test id: why the block loses its points}``)."""
    ns = notebook(extra={cell: source})
    for with_probes in (True, False):
        shown, message = visible(ns, comparison, with_probes)
        assert not shown and all(w in message for w in words), (with_probes, message)
    nb = with_cell(solved(), cell, source)
    return static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))])


@pytest.mark.parametrize(
    "body, name",
    [
        ("F.nll_loss(F.log_softmax(logits, dim=1), target.long(), weight=weight)", "nll_loss"),
        ("nn.CrossEntropyLoss(weight=weight)(logits, target)", "cross_entropy"),
        (
            "-torch.distributions.Categorical(logits=logits.movedim(1, -1))"
            ".log_prob(target.long()).mean()",
            "distributions",
        ),
        (
            "F.kl_div(F.log_softmax(logits, dim=1), F.one_hot(target.long(), logits.shape[1])"
            '.movedim(-1, 1).float(), reduction="sum") / target.numel()',
            "kl_div",
        ),
    ],
    ids=["nll_of_log_softmax", "cross_entropy_module", "categorical_log_prob", "kl_div_to_one_hot"],
)
def test_a_loss_computed_by_torch_fails_both_sides(body: str, name: str):
    """Right values, but the grader reads torch's cross-entropy in the answer's text and takes the
    block's points (static.py, ``forbidden`` in assignment.toml): the notebook's check says so
    before the grade does."""
    source = TORCH_LOSS.format(body)
    failed = _fails_both_sides("cce_loss", source, "loss", (f"torch's {name}", "yourself"))
    assert set(failed) == {"test_loss"}
    assert set(checks.TORCH_LOSSES) <= set(SPEC.block("e").forbidden)


LIBRARY_DICE = """def predict(model, images):
    model.eval()
    return model(images).argmax(dim=1)


{helpers}
def dice_score(pred, truth):
    pred, truth = pred.astype(bool).ravel(), truth.astype(bool).ravel()
    if not pred.any() and not truth.any():
        return 1.0
    return {body}
"""


@pytest.mark.parametrize(
    "helpers, body",
    [
        ("from scipy.spatial.distance import dice\n", "1.0 - dice(pred, truth)"),
        ("import scipy.spatial\n", "1.0 - scipy.spatial.distance.dice(pred, truth)"),
        (  # in a helper of the student's
            "from scipy.spatial import distance as d\n\n\ndef overlap(p, t):\n"
            "    return 1.0 - d.dice(p, t)\n\n",
            "overlap(pred, truth)",
        ),
        ("from scipy.spatial.distance import dice as _d\n", "1.0 - _d(pred, truth)"),
        (  # dice_score under a decorator of its own
            "from scipy.spatial.distance import dice\nimport functools\n\n\ndef logged(f):\n"
            "    @functools.wraps(f)\n    def wrapper(*args):\n        return f(*args)\n\n"
            "    return wrapper\n\n\n@logged",
            "1.0 - dice(pred, truth)",
        ),
        # read on what no name says: the notebook's check follows the module all the same
        ("import scipy.spatial.distance as sd\n", "1.0 - (sd,)[0].dice(pred, truth)"),
        (  # beside an object that raises at any look: the check reads past it
            "from scipy.spatial.distance import dice\n\n\nclass Shy:\n"
            "    def __getattribute__(self, name):\n        raise RuntimeError(name)\n\n"
            "    def __call__(self):\n        return 0\n\n\nshy = Shy()\n\n",
            "1.0 - dice(pred, truth) + 0 * bool(shy)",
        ),
    ],
    ids=[
        "imported_function",
        "module_attribute",
        "in_a_helper",
        "renamed",
        "decorated",
        "on_a_tuple",
        "beside_an_object_that_raises",
    ],
)
def test_a_dice_computed_by_a_library_fails_both_sides(helpers: str, body: str):
    """Right values (SciPy's Dice dissimilarity, 1 minus the Dice), but the grader reads the
    library in the answer's text and takes the block's points: the notebook's check says so
    before the grade does."""
    source = LIBRARY_DICE.format(helpers=helpers, body=body)
    words = ("scipy.spatial.distance.dice", "yourself")
    failed = _fails_both_sides("predict_dice", source, "predict_dice", words)
    assert set(failed) == {"test_predict_dice"}
    ns = notebook(extra={"predict_dice": source})
    assert graded(ns, "predict_dice") == (True, "")  # the values are right
    assert SPEC.block("g").forbidden_why in failed["test_predict_dice"]
    assert set(checks.DICE_LIBRARIES) == set(SPEC.block("g").forbidden)
    # the formula written out, with another of SciPy's distances for a count, costs nothing
    ok = with_cell(solved(), "predict_dice", HAMMING_DICE)
    assert static.forbidden_calls(ok, SPEC, [f"cell {i}" for i in range(len(ok.cells))]) == {}
    # scikit-learn's f1_score, also where its private module defines it
    for line in (
        "from sklearn.metrics import f1_score",
        "from sklearn.metrics._classification import f1_score",
    ):
        source = LIBRARY_DICE.format(helpers=line + "\n", body="f1_score(truth, pred)")
        nb = with_cell(solved(), "predict_dice", source)
        labels = [f"cell {i}" for i in range(len(nb.cells))]
        assert set(static.forbidden_calls(nb, SPEC, labels)) == {"test_predict_dice"}, line


def test_a_dice_from_a_librarys_own_tests_fails_both_sides():
    """Red team 47: SciPy's test module holds its Dice under another name (``wdice``, the
    weight-checked ``dice``): a library's Dice, said by the notebook's check and the grader."""
    source = LIBRARY_DICE.format(
        helpers="from scipy.spatial.tests import test_distance as td\n",
        body="float(1.0 - td.wdice(pred, truth))",
    )
    failed = _fails_both_sides("predict_dice", source, "predict_dice", ("scipy.spatial.tests",))
    assert set(failed) == {"test_predict_dice"}


# red team 46: SciPy's counting distances weighted by the masks are one minus the Dice
WEIGHTED_MASKS = "pred.astype(int) + truth"


@pytest.mark.parametrize(
    "helpers, body",
    [
        (
            "from scipy.spatial.distance import hamming\n",
            f"1.0 - hamming(pred, truth, w={WEIGHTED_MASKS})",
        ),
        (
            "from scipy.spatial import distance\n",
            f"1.0 - distance.hamming(pred, truth, {WEIGHTED_MASKS})",
        ),
        (  # handed on with its weights
            "import functools\nfrom scipy.spatial import distance\n",
            f"1.0 - functools.partial(distance.hamming, w={WEIGHTED_MASKS})(pred, truth)",
        ),
        (  # under a name of the notebook's, the weights among the arguments
            "from scipy.spatial import distance\n\ncount = distance.hamming\n\n",
            f"1.0 - count(*(pred, truth, {WEIGHTED_MASKS}))",
        ),
    ],
    ids=["hamming_keyword", "hamming_positional", "partial", "alias_starred"],
)
def test_a_dice_from_a_weighted_distance_fails_both_sides(helpers: str, body: str):
    """Right values (a Hamming weighted by the masks is one minus the Dice), a library's Dice
    all the same: the notebook's check and the grader both say so, naming the weights; SciPy's
    distances called on the two masks alone (a count of their mismatches) cost nothing."""
    source = LIBRARY_DICE.format(helpers=helpers, body=body)
    failed = _fails_both_sides("predict_dice", source, "predict_dice", ("(w)", "yourself"))
    assert set(failed) == {"test_predict_dice"} and "(w)" in failed["test_predict_dice"]
    assert graded(notebook(extra={"predict_dice": source}), "predict_dice") == (True, "")
    counted = LIBRARY_DICE.format(
        helpers=helpers,
        body="1.0 - distance.cityblock(pred.astype(int), truth.astype(int)) / (pred.sum() + truth.sum())",
    )
    counted = counted.replace(
        "from scipy.spatial.distance import hamming", "from scipy.spatial import distance"
    )
    shown, message = visible(notebook(extra={"predict_dice": counted}), "predict_dice", True)
    assert shown, message
    nb = with_cell(solved(), "predict_dice", counted)
    assert static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))]) == {}


@pytest.mark.parametrize(
    "mistake", ["bn_after_relu", "no_last_relu", "crop_top_left", "crop_offsets_swapped"]
)
def test_a_mistake_below_costs_only_its_own_check_in_the_notebook(mistake):
    """The checks of the blocks built on a wrong one still pass in the notebook (as their grades
    do): Down and Up are checked against their own DoubleConv, Up with a centre crop of the
    check's own."""
    m = next(m for m in MISTAKES if m.id == mistake)
    ns = notebook({m.cell: m.edits})
    for name in ("down", "up", "unet"):
        assert visible(ns, name, with_probes=False) == (True, ""), name
        assert graded(ns, name) == (True, ""), name


def test_an_error_shows_the_line_that_raised_and_the_expected_shapes():
    ns = notebook(
        {"unet": [("zip(self.ups, reversed(skips), strict=True)", "zip(self.ups, skips)")]}
    )
    passed, message = visible(ns, "unet", with_probes=False)
    assert not passed
    assert "line" in message and "zip(self.ups, skips)" not in message  # the line of the call
    assert "x = up(x, skip)" in message
    assert "Expected shapes, step by step" in message and "downs.2" in message
    assert checks.is_student_frame("<ipython-input-7-abc>")
    assert checks.is_student_frame("/tmp/ipykernel_1234/567.py")
    assert checks.is_student_frame("<cell unet>")
    assert not checks.is_student_frame("/usr/lib/python3/site-packages/torch/nn/modules/conv.py")


# ---- the grader's cases all have a visible counterpart ------------------------------------------


def _module_key(block: str, args, kwargs) -> tuple:
    return tuple(sorted(check_cases.normalize(block, args, kwargs).items()))


def test_every_grader_case_has_a_visible_counterpart():
    """Each case compare.py grades is in the table the visible checks run (same block settings and
    input shapes; the unpadded UNet's size may be drawn), so the notebook tries what the grader
    tries."""
    rng = np.random.default_rng(5)
    table = comparisons()
    for name, comparison in table.items():
        if name in check_cases.MODULES:
            block = check_cases.MODULES[name]
            mine = {_module_key(block.name, c.args, c.keywords): c for c in block.cases}
            assert tuple(comparison.probes) == block.probes, name
            for case in comparison.cases:
                key = _module_key(block.name, case.args, case.kwargs)
                assert key in mine, f"{name}: {case.label} has no visible counterpart"
                shapes = tuple(tuple(x.shape) for x in case.draw(rng))
                if not mine[key].any_valid_size:
                    assert shapes == mine[key].inputs, (case.label, shapes)
                else:
                    assert [s[:2] for s in shapes] == [s[:2] for s in mine[key].inputs]
    crops = {c.label for c in check_cases.CROPS}
    labels = [r.meta["label"] for r in table["center_crop"].requests(rng)]
    random_ones = [label for label in labels if label not in crops]
    assert len(random_ones) <= 1, random_ones  # one size drawn per run, as crop_cases draws
    loss_labels = [e[0] for e in table["loss"].requests(rng)[0].expected]
    assert loss_labels == [c.label for c in check_cases.LOSSES]
    (step,) = table["train_step"].requests(rng)
    case = check_cases.TRAIN_STEP
    assert (step.meta["net"], step.meta["steps"], step.meta["lr"]) == (
        case.net,
        case.steps,
        case.lr,
    )
    assert step.arrays["images"].shape == case.images
    (pd,) = table["predict_dice"].requests(rng)
    assert [tuple(s) for s, _ in pd.expected[0]] == [c.shape for c in check_cases.DICE_PAIRS]
    assert pd.meta["net"] == check_cases.PREDICT.net
    assert pd.arrays["images"].shape == check_cases.PREDICT.images


def test_a_unet_of_four_levels_written_out_is_told_it_ignores_depth():
    """Honest round 33: down1..down4 written out, the depth=3 case failed with torch's "Kernel
    size can't be greater than actual input size" alone; the self-check says why."""
    src = SOLUTIONS["unet"]
    start, end = src.index("        self.inc = DoubleConv"), src.index("        ### END SOLUTION")
    levels = "".join(
        f"        self.down{i + 1} = Down(widths[{i}], widths[{i}] * 2, padding, batch_norm)\n"
        f"        self.up{4 - i} = Up(widths[{i}] * 2, widths[{i}], padding, batch_norm)\n"
        for i in range(4)
    )
    src = (
        src[:start]
        + (
            "        self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)\n"
            + levels
            + "        self.outc = OutConv(widths[0], num_classes)\n"
        )
        + src[end:]
    )
    start = src.index("        skips = []")
    end = src.index("        ### END SOLUTION", start)
    src = (
        src[:start]
        + (
            "        x1 = self.inc(x)\n        x2 = self.down1(x1)\n        x3 = self.down2(x2)\n"
            "        x4 = self.down3(x3)\n        x5 = self.down4(x4)\n"
            "        x = self.up1(x5, x4)\n        x = self.up2(x, x3)\n        x = self.up3(x, x2)\n"
            "        x = self.up4(x, x1)\n        return self.outc(x)\n"
        )
        + src[end:]
    )
    ns = notebook({}, {"unet": src})
    passed, said = visible(ns, "unet", with_probes=False)
    assert not passed and "this UNet has 4 Down blocks for depth=3" in said, said
    assert graded(ns, "unet")[0] is False


def test_the_grader_shows_the_digits_where_a_close_dice_differs():
    """A Dice close to the right one, not within float32's precision: the messages show the
    digits that differ (the grader said 'dice_score of two (5, 6) masks: 0.153846, expected
    0.153846'; honest round 28's self-check "0.666666686534, expected 0.666667")."""
    from autograder.compare import PredictDice, Request

    close = 2 / 3 * (1 + 1.2e-6)  # (0.666667 to 6 digits)
    request = Request("predict_dice", {}, {}, ([((5, 6), 2 / 3)], {}, 4))
    message = PredictDice().check(request, {"dice": [close]}, {})
    assert "masks: 0.666667466667, expected 0.666666666667" in message, message
    edits = [
        (DICE_LAST, "return float(2 * np.logical_and(pred, truth).sum() / sizes * (1 + 1.2e-6))")
    ]
    shown, said = visible(notebook({"predict_dice": edits}), "predict_dice", with_probes=False)
    assert not shown and "pixels): 0.666667466667, expected 0.666666666667." in said, said


def test_the_check_shows_the_tensor_train_step_returned_whole():
    """The value a tensor-returning train_step gave, whole: its repr cut at 40 characters read
    'returned Tensor tensor(1.4357, dtype=torch.float64, grad, not the loss' (students5)."""
    m = next(m for m in MISTAKES if m.id == "returns_tensor")
    shown, message = visible(notebook({m.cell: m.edits}), "train_step", with_probes=False)
    assert not shown and re.search(r"returned Tensor tensor\(-?[\d.e+-]+\), not", message), message


def test_the_grader_names_what_train_step_returned_once_quoted():
    m = next(m for m in MISTAKES if m.id == "returns_tensor")
    passed, message = graded(notebook({m.cell: m.edits}), "train_step")
    assert not passed and "train_step returned a Tensor object, not" in message, message


@pytest.mark.parametrize(
    "answer, english, french",
    [
        ('"140"', "not '140'", "et non '140'"),
        ('"140 pixels"', "without quotes", "sans guillemets"),
        ("(140, 140)", "one number", "un seul nombre"),
        ("float('nan')", "not nan", "et non nan"),
    ],
)
def test_a_receptive_field_that_is_not_a_number_is_told_without_a_traceback(
    answer, english, french
):
    """The check of Question 1 says what is wrong without raising (a string raised TypeError:
    '<' not supported between instances of 'str' and 'int'), in French too."""
    value = eval(answer)  # noqa: S307 (the test's own literals)
    for language, words in (("en", english), ("fr", french)):
        i18n.set_language(language)
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                checks.check_receptive_field(value)
        finally:
            i18n.set_language("en")
        assert words in out.getvalue() and "RECEPTIVE_FIELD = 100" in out.getvalue(), out.getvalue()
    for right in (140, 140.0, np.int64(140)):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            checks.check_receptive_field(right)
        assert out.getvalue().startswith("  ok: 140"), out.getvalue()


def test_a_receptive_field_past_floats_range_is_told_too_large_without_a_traceback():
    """``RECEPTIVE_FIELD = 999...9`` (400 digits), a number line the grader keeps in the TP's
    locked cell: the check raised OverflowError (int too large to convert to float) there."""
    for number, hint in ((int("9" * 400), "too large"), (-int("9" * 400), "too small")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            checks.check_receptive_field(number)
        assert "Question 1: not yet" in out.getvalue() and hint in out.getvalue(), out.getvalue()
    assert repair._kept("RECEPTIVE_FIELD = " + "9" * 400 + "\n", "RECEPTIVE_FIELD = None\n")


def test_a_double_conv_created_in_another_order_passes_the_checks_built_on_it():
    """conv2 created before conv1 (forward runs conv1 first): right, and graded so everywhere;
    the UNet's check read a block's channels from its first created convolution and said
    'found ... Down 8->8, Down 16->16 ...: no fixed widths or depth' in the notebook."""
    ns = notebook(extra={"double_conv": REVERSE_ORDER_DOUBLE_CONV})
    for name in ("double_conv", "down", "up", "unet"):
        assert graded(ns, name) == (True, ""), name
        assert visible(ns, name, with_probes=False) == (True, ""), name


def test_the_grader_names_the_first_parameter_whose_shape_differs():
    """The grade's message listed every parameter's shape, the student's then the reference's
    (30 of each for a U-Net: honest round 3); it names the count and the first that differs."""
    ns = notebook({"up": [("kernel_size=2, stride=2)", "kernel_size=4, stride=2, padding=1)")]})
    passed, message = graded(ns, "up")
    assert not passed and message.endswith(
        "its parameters are not the reference's: 6 tensors, the reference 6; the first that "
        "differs, number 1, has shape (16, 8, 4, 4), the reference's (16, 8, 2, 2)"
    ), message


def test_a_bool_given_as_padding_is_told_by_name_on_both_sides():
    """``nn.Conv2d(..., padding=padding)`` with the bool: torch's TypeError is a page of
    signatures, cut mid-word after 300 characters ("...int groups = 1) didn'") on both sides.
    Both now name the argument that does not fit and what it takes, in French too."""
    from autograder.messages_fr import french

    ns = notebook({"double_conv": [("padding=pad,", "padding=padding,")]})
    told = "conv2d(): padding is tuple of (bool, bool) where it takes tuple of ints (a bool is"
    for passed, message in (graded(ns, "double_conv"), visible(ns, "double_conv", False)):
        assert not passed and told in message, message
    assert "padding est de type tuple of (bool, bool), là où il faut" in french(
        graded(ns, "double_conv")[1]
    )


def test_a_check_on_blocks_that_fail_their_own_names_them():
    """Honest round 3: an Up without its concatenation failed the UNet's check while the grade,
    which judges the UNet with the grader's Up in its place, gave (d) its points. The check names
    the blocks below that fail their own checks (those the grader replaces: check_cases.MODULES'
    probes); a right UNet on right blocks says nothing of the kind."""
    ns = notebook({"up": [("torch.cat([skip, x], dim=1)", "x")]})
    passed, message = visible(ns, "unet", with_probes=False)
    assert not passed and "Built on blocks that fail their own checks: Up (c)." in message
    assert graded(ns, "unet") == (True, "")
    assert visible(notebook(), "unet", with_probes=False) == (True, "")


def test_a_check_lists_the_layers_in_the_order_they_ran():
    """Honest round 3: a DoubleConv that made conv1, conv2, relu1, relu2 and ran them in turn,
    padding ignored, read "Layers found: Conv2d -> Conv2d -> ReLU -> ReLU", a ReLU misplaced that
    was not; a ReLU module run twice is listed twice."""
    made_apart = (
        "class DoubleConv(nn.Module):\n"
        "    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):\n"
        "        super().__init__()\n"
        "        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)\n"
        "        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)\n"
        "        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()\n\n"
        "    def forward(self, x):\n"
        "        return self.relu2(self.conv2(self.relu1(self.conv1(x))))\n"
    )
    one_relu = made_apart.replace(
        "self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()", "self.relu = nn.ReLU()"
    )
    for source in (
        made_apart,
        one_relu.replace("self.relu1", "self.relu").replace("self.relu2", "self.relu"),
    ):
        passed, message = visible(
            notebook(extra={"double_conv": source}), "double_conv", with_probes=False
        )
        assert not passed and "Layers found: Conv2d -> ReLU -> Conv2d -> ReLU." in message, message


def test_a_package_the_grader_may_lack_is_named_by_the_check_that_passes():
    """seaborn, sklearn... exist in Colab: the check passed there, and the cell importing them
    failed where the notebook is graded (0 for that block). The check that passes now says so;
    the TP's own imports (torch, numpy, the kit) say nothing."""
    import types

    def out(ns: dict) -> str:
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            checks.check_loss(ns["categorical_cross_entropy"])
        return printed.getvalue()

    ns = namespace()
    assert "note" not in out(ns)
    ns["sns"] = types.ModuleType("seaborn")
    ns["einops"] = types.ModuleType("einops")  # (the grader has it, as Colab does)
    ns["f1_score"] = types.FunctionType((lambda: 0).__code__, {}, "f1_score")
    ns["f1_score"].__module__ = "sklearn.metrics._classification"
    printed = out(ns)
    assert "ok" in printed and "imports seaborn, sklearn, which the grading machine" in printed
    i18n.set_language("fr")
    try:
        assert "votre notebook importe seaborn, sklearn" in out(ns)
    finally:
        i18n.set_language("en")


def test_what_the_kits_packages_bring_is_no_package_the_grader_lacks():
    """matplotlib's own ``mpl_toolkits`` (``make_axes_locatable`` for a colour bar), pooch's
    ``requests``, torch's ``typing_extensions``: installed wherever the kit is, grading included;
    the check said the grading machine may lack them and to use torch or numpy instead."""
    import types

    from mpl_toolkits.axes_grid1 import make_axes_locatable

    ns = namespace()
    ns["make_axes_locatable"] = make_axes_locatable
    ns["requests"] = pytest.importorskip("requests")
    ns["typing_extensions"] = pytest.importorskip("typing_extensions")
    assert checks.packages_the_grader_lacks((ns["categorical_cross_entropy"],)) == []
    ns["f1_score"] = types.FunctionType((lambda: 0).__code__, {}, "f1_score")
    ns["f1_score"].__module__ = "sklearn.metrics._classification"
    assert checks.packages_the_grader_lacks((ns["categorical_cross_entropy"],)) == ["sklearn"]


@pytest.mark.parametrize(
    "helpers, body, library",
    [
        (
            "from scipy.spatial.distance import cdist\n",
            "1.0 - cdist(pred[None], truth[None], 'dice')[0, 0]",
            "scipy.spatial.distance.cdist",
        ),
        (
            "import scipy.spatial.distance as sd\n",
            "1.0 - sd.pdist(np.stack([pred, truth]), metric='dice')[0]",
            "scipy.spatial.distance.pdist",
        ),
        (
            "import scipy.spatial.distance as sd\n",
            "1.0 - sd._METRICS['dice'].dist_func(pred, truth)",
            "scipy.spatial.distance._METRICS",
        ),
        (
            "import scipy.spatial.distance as sd\n",
            "1.0 - (sd,)[0]._METRICS['dice'].dist_func(pred, truth)",
            "scipy.spatial.distance._METRICS",
        ),
        (  # imported by another module of SciPy's
            "from scipy.cluster.vq import cdist\n",
            "1.0 - cdist(pred[None], truth[None], 'dice')[0, 0]",
            "scipy.spatial.distance.cdist",
        ),
        (
            "from scipy.cluster.hierarchy import distance\n",
            "1.0 - distance.dice(pred, truth)",
            "scipy.spatial.distance.dice",
        ),
        (  # the Sokal-Sneath dissimilarity S of two masks is the Dice's: (4 - 4S) / (4 - 3S)
            "import scipy.spatial.distance as sd\n",
            "(lambda s: (4 - 4 * s) / (4 - 3 * s))(sd.sokalsneath(pred, truth))",
            "scipy.spatial.distance.sokalsneath",
        ),
        (  # Bray-Curtis on two masks is one minus the Dice (a red team's (g), unflagged)
            "from scipy.spatial.distance import braycurtis\n",
            "1.0 - float(braycurtis(pred, truth))",
            "scipy.spatial.distance.braycurtis",
        ),
    ],
    ids=[
        "cdist",
        "pdist",
        "metrics_table",
        "metrics_table_on_a_tuple",
        "vq_cdist",
        "hierarchy",
        "sokal_sneath",
        "bray_curtis",
    ],
)
def test_a_dice_named_to_a_library_by_its_metric_fails_both_sides(helpers, body, library):
    """SciPy's Dice named by a string (cdist(p, t, "dice"), its table of metrics): right
    values, and the same library's Dice as scipy.spatial.distance.dice, which the block forbids;
    the notebook's check and the grade both say so."""
    source = LIBRARY_DICE.format(helpers=helpers, body=body)
    assert graded(notebook(extra={"predict_dice": source}), "predict_dice") == (True, "")
    failed = _fails_both_sides("predict_dice", source, "predict_dice", (library, "yourself"))
    assert set(failed) == {"test_predict_dice"}
    assert SPEC.block("g").forbidden_why in failed["test_predict_dice"]


@pytest.mark.parametrize(
    "line",
    [
        "from sklearn.metrics import pairwise_distances",
        "from sklearn.metrics.pairwise import pairwise_distances",
        "from sklearn.metrics import classification_report",
        "from sklearn.metrics import DistanceMetric",
        "from scipy.spatial._distance_pybind import cdist_dice",
        "from monai.handlers.mean_dice import DiceMetric",
        "from monai.handlers import MeanDice",
        "from monai.apps.pathology.losses.hovernet_loss import DiceLoss",
    ],
)
def test_a_library_dice_by_its_metric_name_is_read_by_the_grader(line):
    """What computes a Dice by the metric's name (scikit-learn's too, not installed here),
    used by a dice_score, costs the block."""
    name = line.split()[-1]
    source = LIBRARY_DICE.format(helpers=line + "\n", body=f"{name}(pred, truth)")
    nb = with_cell(solved(), "predict_dice", source)
    failed = static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))])
    assert set(failed) == {"test_predict_dice"}, line


def test_a_library_loss_outside_its_losses_module_fails_both_sides():
    """MONAI's HoVerNetLoss lives in ``monai.apps.pathology.losses``, not ``monai.losses``: the
    grader read it as MONAI's losses (a ``losses`` part in MONAI's path) and took the block's
    points while the notebook's check, reading the class's module, said nothing."""
    source = LIBRARY_DICE.format(
        helpers="import torch\nfrom monai.apps.pathology.losses import HoVerNetLoss\n",
        body="1.0 - float(HoVerNetLoss().dice(torch.tensor(pred[None, None] * 1.0), "
        "torch.tensor(truth[None, None] * 1.0)))",
    )
    failed = _fails_both_sides("predict_dice", source, "predict_dice", ("monai.losses", "yourself"))
    assert set(failed) == {"test_predict_dice"}


HELD_DICE = {  # SciPy's Dice held where the code names no global: the grader reads it all
    "default": "def dice_score(pred, truth, f=sd.dice):\n    return {call}\n",
    "closure": (
        "def _make(f=None):\n    f = f or sd.dice\n\n    def dice_score(pred, truth):\n"
        "        return {call}\n\n    return dice_score\n\n\ndice_score = _make()\n"
    ),
    "callable_object": (
        "class _Dice:\n    def __init__(self):\n        self.f = sd.dice\n\n"
        "    def __call__(self, pred, truth):\n        f = self.f\n        return {call}\n\n\n"
        "dice_score = _Dice()\n"
    ),
    "class_attribute": (
        "class _Dice:\n    f = staticmethod(sd.dice)\n\n"
        "    def __call__(self, pred, truth):\n        f = self.f\n        return {call}\n\n\n"
        "dice_score = _Dice()\n"
    ),
    "partial": (
        "import functools\n\n\ndef _dice(pred, truth, f):\n    return {call}\n\n\n"
        "dice_score = functools.partial(_dice, f=sd.dice)\n"
    ),
}
HELD_CALL = "1.0 - f(pred.ravel(), truth.ravel()) if pred.any() or truth.any() else 1.0"


@pytest.mark.parametrize("how", sorted(HELD_DICE))
def test_a_library_dice_held_in_a_default_closure_or_object_fails_both_sides(how: str):
    """The notebook's check passed these (it read the globals only) while the grader, reading
    the text, took the block's points: both sides now fail them."""
    predict = (
        "def predict(model, images):\n    model.eval()\n    return model(images).argmax(dim=1)\n"
    )
    body = HELD_DICE[how].format(call=HELD_CALL)
    source = f"{predict}\n\nimport scipy.spatial.distance as sd\n\n\n{body}"
    assert graded(notebook(extra={"predict_dice": source}), "predict_dice") == (True, "")
    words = ("scipy.spatial.distance.dice",)
    assert set(_fails_both_sides("predict_dice", source, "predict_dice", words)) == {
        "test_predict_dice"
    }


@pytest.mark.parametrize(
    "text",
    [
        'print("cross_entropy")',
        'name = "torch.nn.functional.nll_loss"',
        # a comprehension's or a lambda's first text is no docstring (Python 3.11 compiles the
        # comprehension into code of its own, which has no docstring)
        '[print("nll_loss") for _ in range(1)]',
        '(lambda: "kl_div")()',
    ],
)
def test_a_loss_holding_a_losss_name_as_text_fails_both_sides(text: str):
    """Eq. (1) written out, with the name of one of torch's losses as a text in its body: the
    grader reads it in the answer's text and takes the block's points; the notebook's check
    said ok. It now says so first. A docstring naming them costs nothing."""
    body = PERMUTE_LOSS.replace("    if weight is None:", f"    {text}\n    if weight is None:")
    assert text in body
    assert graded(notebook(extra={"cce_loss": body}), "loss") == (True, "")  # right values
    assert set(_fails_both_sides("cce_loss", body, "loss", ("leave the name out",))) == {
        "test_loss"
    }
    documented = PERMUTE_LOSS.replace(
        "    one_hot =", '    """Eq. (1), not F.cross_entropy."""\n    one_hot =', 1
    )
    ns = notebook(extra={"cce_loss": documented})
    assert visible(ns, "loss") == (True, "")
    nb = with_cell(solved(), "cce_loss", documented)
    assert static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))]) == {}


@pytest.mark.parametrize("name", ["cross_entropy", "kl_div", "NLLLoss"])
def test_a_loss_helper_of_the_students_named_as_torchs_passes_both_sides(name: str):
    """Eq. (1) written out, in a helper of the student's named as one of torch's losses: the
    grader reads the helper's own code (it is the name's only definition), and so does the
    notebook's check (honest7: both sides took the points, "rename it")."""
    source = (
        f"def {name}(log_p, one_hot):\n    return -(one_hot * log_p).sum(dim=1)\n"
        + PERMUTE_LOSS.replace(
            "-(one_hot * F.log_softmax(logits, dim=1)).sum(dim=1)",
            f"{name}(F.log_softmax(logits, dim=1), one_hot)",
        )
    )
    assert f"{name}(F.log_softmax" in source
    ns = notebook(extra={"cce_loss": source})
    assert graded(ns, "loss") == (True, "")  # right values
    assert visible(ns, "loss") == visible(ns, "loss", False) == (True, "")
    nb = with_cell(solved(), "cce_loss", source)
    assert static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))]) == {}
    # the same helper calling torch's loss of its name fails both sides
    torchs = source.replace(
        "return -(one_hot * log_p).sum(dim=1)", "return F.nll_loss(log_p, one_hot)"
    )
    assert "F.nll_loss" in torchs
    assert set(_fails_both_sides("cce_loss", torchs, "loss", ("nll_loss",))) == {"test_loss"}
    undotted = {n for n in SPEC.block("e").forbidden if "." not in n}
    assert set(checks.LOSS_NAMES) == undotted


NLL_LOSS = """{helpers}

def categorical_cross_entropy(logits, target, weight=None):
    nll = {nll}
    if weight is None:
        return nll.mean()
    w = weight[target.long()]
    return (nll * w).sum() / w.sum()
"""


@pytest.mark.parametrize(
    "helpers, nll, words",
    [
        (
            "from torch.distributions.categorical import Categorical as C\n",
            "-C(logits=logits.movedim(1, -1)).log_prob(target.long())",
            "distributions",
        ),
        (  # the focal loss with gamma 0 is the cross-entropy, and calls none of torch's losses
            "from monai.losses.focal_loss import softmax_focal_loss as fl\n",
            "fl(logits, F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1).to(logits.dtype),"
            " 0.0).sum(1)",
            "monai.losses",
        ),
        (  # Poisson's NLL of log-probabilities: -log p_y, plus the sum of p (1) per pixel
            "",
            "F.poisson_nll_loss(F.log_softmax(logits, 1), F.one_hot(target.long(), logits.shape[1])"
            ".movedim(-1, 1).to(logits.dtype), log_input=True, reduction='none').sum(1) - 1",
            "poisson_nll_loss",
        ),
        (  # the binary cross-entropy of the true class's probability against 1: -log p_y
            "",
            "F.binary_cross_entropy(logits.softmax(1).gather(1, target.long()[:, None])[:, 0], "
            "torch.ones_like(logits[:, 0]), reduction='none')",
            "binary_cross_entropy",
        ),
    ],
    ids=["renamed_categorical", "monai_focal", "poisson_nll", "binary_of_the_true_class"],
)
def test_a_loss_from_a_forbidden_module_under_another_name_fails_both_sides(helpers, nll, words):
    """The notebook's check read the names of torch's distributions only: renamed, or MONAI's
    focal loss, it said ok while the grader took the block's points."""
    source = NLL_LOSS.format(helpers=helpers, nll=nll)
    # the values are right (the binary cross-entropy's log is clamped at -100: not at extremes)
    right = graded(notebook(extra={"cce_loss": source}), "loss")[0]
    assert right == (words != "binary_cross_entropy")
    assert set(_fails_both_sides("cce_loss", source, "loss", (words, "yourself"))) == {"test_loss"}
    dotted = {n for n in SPEC.block("e").forbidden if "." in n}
    assert set(checks.LOSS_LIBRARIES) == dotted


LOSS_FROM_HISTORY = (
    "def categorical_cross_entropy(logits, target, weight=None, _eq1=_):\n"
    '    """Categorical cross-entropy of Eq. (1)."""\n'
    "    return _eq1(logits, target, weight=weight)\n"
)
DICE_FROM_HISTORY = LIBRARY_DICE.format(helpers="", body="_d(pred, truth)").replace(
    "def dice_score(pred, truth):", "def dice_score(pred, truth, _d=_):"
)


@pytest.mark.parametrize(
    "cell, comparison, shown, answer, words",
    [
        ("cce_loss", "loss", "F.cross_entropy", LOSS_FROM_HISTORY, "torch's cross_entropy"),
        ("predict_dice", "predict_dice", "checks.exact_dice", DICE_FROM_HISTORY, "course package"),
    ],
    ids=["loss", "dice"],
)
def test_a_value_ipython_kept_from_a_cell_above_fails_both_sides(
    cell, comparison, shown, answer, words
):
    """A cell ending in ``F.cross_entropy`` (or the course's Dice) shows it, and IPython keeps it
    in ``_``: an answer taking ``_`` as a default held the value no line of it names, and the
    grader gave the block its points. The text now reads ``_``, ``_<n>`` and ``Out``."""
    # what IPython's display did (the notebook's setup cell imports checks)
    ns = notebook(extra={cell: f"from unet_tp import checks\n_ = {shown}\n" + answer})
    for with_probes in (True, False):
        passed, message = visible(ns, comparison, with_probes)
        assert not passed and words in message, (with_probes, message)
    labels = []
    for source in (answer, answer.replace("=_)", "=Out[3])"), answer.replace("=_)", "=_12)")):
        nb = insert_after(with_cell(solved(), cell, source), "setup", shown)
        labels = [f"cell {i}" for i in range(len(nb.cells))]
        failed = static.forbidden_calls(nb, SPEC, labels)
        assert static.OUTPUT_HISTORY in failed[f"test_{comparison}"], source
    # `_` of the answer's own (a loop's, a comprehension's, a tuple's) is not IPython's
    own = LIBRARY_DICE.format(
        helpers="",
        body="float(sum(1 for _ in range(1)) * 2 * (pred & truth).sum() / (pred.sum() + truth.sum()))",
    ).replace("    if not pred.any()", "    _, pred = None, pred\n    if not pred.any()")
    nb = with_cell(solved(), "predict_dice", own)
    assert static.forbidden_calls(nb, SPEC, labels) == {}
    assert visible(notebook(extra={"predict_dice": own}), "predict_dice") == (True, "")


TORCH_MODE = '''from torch.utils._device import DeviceContext as _DC
import torch.nn.functional as _nnf


class _Helper(_DC):
    """Keeps tensors on the CPU."""

    def __init__(self):
        super().__init__("cpu")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is _nnf.multi_margin_loss:
            return _nnf.cross_entropy(args[0], args[1], weight=(kwargs or {}).get("weight"))
        return func(*args, **(kwargs or {}))


_helper = _Helper()
_helper.__enter__()
'''
MARGIN_LOSS = (
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    return F.multi_margin_loss(logits, target, weight=weight)\n"
)


def test_a_torch_function_mode_entered_in_a_cell_the_answer_never_reaches_fails_both_sides():
    """A mode entered in a cell of its own turned ``F.multi_margin_loss`` into the cross-entropy:
    every value right, no forbidden name in the answer's text, full points. A mode of the
    notebook's now costs every block tested after it, and the check says so; ``torch.device``'s
    own mode (``with torch.device("cpu")``) is no such thing."""
    ns = notebook(extra={"cce_loss": TORCH_MODE + MARGIN_LOSS})
    try:
        assert graded(ns, "loss")[0]  # the values are right: only the text can tell
        for with_probes in (True, False):
            passed, message = visible(ns, "loss", with_probes)
            assert not passed and "_Helper" in message and "__torch_function__" in message
    finally:
        ns["_helper"].__exit__(None, None, None)
    nb = insert_after(with_cell(solved(), "cce_loss", MARGIN_LOSS), "unet", TORCH_MODE)
    failed = static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))])
    assert {"test_loss", "test_train_step", "test_predict_dice"} <= set(failed)
    assert all(static.OVERRIDES_TORCH in why for why in failed.values())
    assert "test_double_conv" not in failed  # tested before the mode's cell
    with torch.device("cpu"):
        assert visible(notebook(), "loss", False) == (True, "")


OWN_KERNELS_DOUBLE_CONV = """
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.pad = 1 if padding else 0
        self.w1 = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3) * 0.1)
        self.w2 = nn.Parameter(torch.randn(out_channels, out_channels, 3, 3) * 0.1)
        self.b1 = None if batch_norm else nn.Parameter(torch.zeros(out_channels))
        self.b2 = None if batch_norm else nn.Parameter(torch.zeros(out_channels))
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()

    def forward(self, x):
        x = F.relu(self.bn1(F.conv2d(x, self.w1, self.b1, padding=self.pad)))
        return F.relu(self.bn2(F.conv2d(x, self.w2, self.b2, padding=self.pad)))
"""


def test_a_double_conv_of_its_own_kernels_is_told_to_use_conv2d_on_both_sides():
    """Kernels held as ``nn.Parameter`` and run by ``F.conv2d``: the grader loads the reference's
    weights into ``nn.Conv2d`` layers and cannot pair them, and the check said only "0
    convolution(s) ran". It now says what the grader needs."""
    ns = notebook(extra={"double_conv": OWN_KERNELS_DOUBLE_CONV})
    assert not graded(ns, "double_conv")[0]
    passed, message = visible(ns, "double_conv", False)
    assert not passed and "nn.Parameter" in message and "build it from nn.Conv2d" in message


_OWN_NAMED = {
    # a helper nested in the answer, or a method of the student's class, named like torch's loss
    "nested": "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    def nll_loss(log_s, t):\n"
    "        return -log_s.gather(1, t.unsqueeze(1)).squeeze(1)\n\n"
    "    per = nll_loss(torch.log_softmax(logits, 1), target)\n"
    "    w = torch.ones_like(per) if weight is None else weight[target]\n"
    "    return (w * per).sum() / w.sum()\n",
    "method": "class Loss(nn.Module):\n"
    "    def cross_entropy(self, logits, target, weight=None):\n"
    "        per = -torch.log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)\n"
    "        w = torch.ones_like(per) if weight is None else weight[target]\n"
    "        return (w * per).sum() / w.sum()\n\n"
    "    def forward(self, logits, target, weight=None):\n"
    "        return self.cross_entropy(logits, target, weight)\n\n\n"
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    return Loss()(logits, target, weight)\n",
    # a class of the student's named as torch's (the check said "rename it"; the grader, nothing)
    "class": "class CrossEntropyLoss(nn.Module):\n"
    "    def forward(self, logits, target, weight=None):\n"
    "        per = -torch.log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)\n"
    "        w = torch.ones_like(per) if weight is None else weight[target]\n"
    "        return (w * per).sum() / w.sum()\n\n\n"
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    return CrossEntropyLoss()(logits, target, weight)\n",
}


@pytest.mark.parametrize("source", list(_OWN_NAMED.values()), ids=list(_OWN_NAMED))
def test_a_students_own_loss_helper_named_like_torchs_passes_the_grade_and_the_check(source):
    """The notebook's check passed the first two and the grader's reading took (e)'s 4 points
    ("uses nll_loss", "uses self.cross_entropy"); the check refused the third, which the grader
    passed: both now read the student's code as theirs."""
    ns = notebook(extra={"cce_loss": source})
    assert graded(ns, "loss") == (True, "")
    assert visible(ns, "loss", with_probes=False) == (True, "")
    nb = with_cell(solved(), "cce_loss", source)
    assert static.forbidden_calls(nb, SPEC, [f"cell {i}" for i in range(len(nb.cells))]) == {}


# honest round 20: blocks whose arguments are named or ordered otherwise, called so by the student's
# own U-Net (the grader's stand-in blocks took (in_channels, out_channels, padding, batch_norm))
_IN_CH = """class DoubleConv(nn.Module):
    def __init__(self, in_ch, out_ch, padding=False, batch_norm=False):
        super().__init__()
        p = 1 if padding else 0
        layers = [nn.Conv2d(in_ch, out_ch, 3, padding=p, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(out_ch)] if batch_norm else []
        layers += [nn.ReLU(inplace=True), nn.Conv2d(out_ch, out_ch, 3, padding=p, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(out_ch)] if batch_norm else []
        self.double_conv = nn.Sequential(*layers, nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)
"""
_MID = _IN_CH.replace("in_ch, out_ch, padding", "in_ch, out_ch, mid_ch=None, padding")
_UNET_CALLS = (
    _OUT_CONV
    + """class UNet(UNetBase):
    def __init__(self, in_channels=4, num_classes=4, base_channels=64, depth=4, padding=False, batch_norm=False):
        super().__init__(in_channels, num_classes, base_channels, depth, padding, batch_norm)
        w = self.widths
        self.inc = DoubleConv({inc})
        self.downs = nn.ModuleList([Down({down}) for i in range(depth)])
        self.ups = nn.ModuleList([Up({up}) for i in reversed(range(depth))])
        self.outc = OutConv(w[0], num_classes)
        self.reset_parameters()

    def forward(self, x):
        self.check_input(x)
        skips = []
        x = self.inc(x)
        for down in self.downs:
            skips.append(x)
            x = down(x)
        for up in self.ups:
            x = up(x, skips.pop())
        return self.outc(x)
"""
)
_KEYWORDS = "in_ch={}, out_ch={}, padding=padding, batch_norm=batch_norm"
_BILINEAR_UP = """def center_crop(x, height, width):
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[:, :, top:top + height, left:left + width]


class Up(nn.Module):
    def __init__(self, in_channels, out_channels, bilinear=False, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels, padding=padding, batch_norm=batch_norm)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        if not self.padding:
            x2 = center_crop(x2, x1.shape[2], x1.shape[3])
        return self.conv(torch.cat([x2, x1], dim=1))
"""
_WITH_MID = "DoubleConv(in_channels, out_channels, None, padding, batch_norm)"
_CALLED_OTHERWISE = {
    "in_ch_keywords": {
        "double_conv": _IN_CH,
        **{  # every block's arguments so named
            cell: SOLUTIONS[cell].replace("in_channels", "in_ch").replace("out_channels", "out_ch")
            for cell in ("down", "up")
        },
        "unet": _UNET_CALLS.format(
            inc=_KEYWORDS.format("in_channels", "w[0]"),
            down=_KEYWORDS.format("w[i]", "w[i + 1]"),
            up=_KEYWORDS.format("w[i + 1]", "w[i]"),
        ),
    },
    "bilinear_third": {
        "up": _BILINEAR_UP,
        "unet": _UNET_CALLS.format(
            inc="in_channels, w[0], padding, batch_norm",
            down="w[i], w[i + 1], padding, batch_norm",
            up="w[i + 1], w[i], False, padding, batch_norm",
        ),
    },
    "mid_channels_third": {
        "double_conv": _MID,
        **{  # milesial's: every DoubleConv given its mid_channels (None)
            cell: SOLUTIONS[cell].replace(_WITH_MID.replace("None, ", ""), _WITH_MID)
            for cell in ("down", "up")
        },
        "unet": _UNET_CALLS.format(
            inc="in_channels, w[0], None, padding, batch_norm",
            down="w[i], w[i + 1], padding, batch_norm",
            up="w[i + 1], w[i], padding, batch_norm",
        ),
    },
}


_UP = SOLUTIONS["up"]
_UNET_PLAIN = _UNET_CALLS.format(
    inc="in_channels, w[0], padding, batch_norm",
    down="w[i], w[i + 1], padding, batch_norm",
    up="w[i + 1], w[i], padding, batch_norm",
)
# honest round 23: a U-Net reading its blocks' own attributes, or calling them by their own
# parameters' names, lost (d) to the probes (which lacked them); a crop whose parameters are
# named otherwise, called so, lost (c) on both sides
_CALLED_OTHERWISE |= {
    "unet_reads_an_attribute_of_its_up": {
        "up": _UP.replace("self.padding = padding", "self.padding = padding\n        self.out_ch = out_channels"),
        "unet": _UNET_PLAIN.replace("OutConv(w[0], num_classes)", "OutConv(self.ups[-1].out_ch, num_classes)"),
    },
    "up_forward_x1_x2_called_by_name": {
        "up": _UP.replace("def forward(self, x, skip):", "def forward(self, x1, x2):\n        x, skip = x1, x2"),
        "unet": _UNET_PLAIN.replace("x = up(x, skips.pop())", "x = up(x1=x, x2=skips.pop())"),
    },
    "crop_parameters_named_otherwise_called_by_name": {
        "up": _UP.replace("def center_crop(x, height, width):", "def center_crop(x, target_h, target_w):\n    height, width = target_h, target_w").replace(
            "center_crop(skip, x.shape[-2], x.shape[-1])", "center_crop(skip, target_h=x.shape[-2], target_w=x.shape[-1])"
        ),
    },
    # honest round 24: an Up taking an option of its own in forward, given by the U-Net
    "up_forward_with_an_option_of_its_own": {
        "up": _UP.replace("def forward(self, x, skip):", "def forward(self, x, skip, crop=True):"),
        "unet": _UNET_PLAIN.replace("x = up(x, skips.pop())", "x = up(x, skips.pop(), crop=True)"),
    },
}  # fmt: skip


@pytest.mark.parametrize("cells", list(_CALLED_OTHERWISE.values()), ids=list(_CALLED_OTHERWISE))
def test_blocks_called_with_the_students_own_arguments_pass_both_sides(cells):
    """A U-Net calling its blocks as they are written (``in_ch=``, milesial's ``bilinear`` or
    ``mid_channels`` third) passed the notebook's checks and lost (d) (and (b), (c)) to the
    grader's stand-in blocks, called with arguments they do not take (honest round 20)."""
    ns = notebook(extra=cells)
    for name in ("double_conv", "down", "up", "unet"):
        assert graded(ns, name) == (True, ""), name
        assert visible(ns, name)[0] and visible(ns, name, with_probes=False)[0], name


_GUARDED = {
    "nan_guard_in_double_conv": (
        "double_conv",
        SOLUTIONS["double_conv"].replace(
            "        return self.block(x)",
            "        out = self.block(x)\n        assert not torch.isnan(out).any()\n        return out",
        ),
    ),
    "item_in_unet_forward": (
        "unet",
        SOLUTIONS["unet"].replace(
            "        skips = []",
            "        if self.training and x.abs().max().item() > 1e4:\n            print('large input')\n"
            "        skips = []",
        ),
    ),
}


@pytest.mark.parametrize("cell, source", list(_GUARDED.values()), ids=list(_GUARDED))
def test_a_value_read_in_forward_passes_both_sides(cell, source):
    """A debug guard reading a value in forward (`.item()`, a NaN assert) failed the notebook's
    check of the paper's network, run on the meta device for speed ("Tensor.item() cannot be
    called on meta tensors"); the grader runs it for real and gave the points (honest round 20)."""
    assert source != SOLUTIONS[cell]
    ns = notebook(extra={cell: source})
    assert graded(ns, "unet") == (True, "")
    assert visible(ns, "unet")[0] and visible(ns, "unet", with_probes=False)[0]


OVERLAP_TILE_PREDICT = """from unet_tp.unet_base import predict_overlap_tile


@torch.no_grad()
def predict(model, images):
    model.eval()
    return predict_overlap_tile(model, images).argmax(dim=1)


def dice_score(pred, truth):
    pred, truth = pred.astype(bool), truth.astype(bool)
    s = pred.sum() + truth.sum()
    return 1.0 if s == 0 else float(2 * (pred & truth).sum() / s)
"""


def test_a_predict_on_the_course_overlap_tile_passes_both_sides():
    """Going further 2's predict_overlap_tile in predict: both sides ran it on a small network
    without a U-Net's config and failed naming 'config' (honest round 20)."""
    ns = notebook(extra={"predict_dice": OVERLAP_TILE_PREDICT})
    assert graded(ns, "predict_dice") == (True, "") and visible(ns, "predict_dice")[0]


UP_INLINE_CONVS = """def center_crop(x, height, width):
    top, left = (x.shape[-2] - height) // 2, (x.shape[-1] - width) // 2
    return x[..., top:top + height, left:left + width]


class Up(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        self.padding = padding
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        layers = []
        for c in (in_channels, out_channels):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=int(padding), bias=not batch_norm))
            layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            layers.append(nn.ReLU(inplace=True))
        self.conv = nn.Sequential(*layers)

    def forward(self, x, skip):
        x = self.up(x)
        if not self.padding:
            skip = center_crop(skip, x.shape[-2], x.shape[-1])
        return self.conv(torch.cat([skip, x], dim=1))
"""


def test_an_up_with_its_convolutions_written_in_it_passes_both_sides():
    """No DoubleConv in Up, its two convolutions inline: the check counted the up-convolution's
    parameters as "parameters that do not belong to its two convolutions" (honest round 20)."""
    ns = notebook(extra={"up": UP_INLINE_CONVS})
    assert graded(ns, "up") == (True, "")
    assert visible(ns, "up")[0] and visible(ns, "up", with_probes=False)[0]


STEP_CALLING = """def train_step(model, images, labels, optimizer, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = {call}
    loss.backward()
    optimizer.step()
    return loss.item()
"""


@pytest.mark.parametrize(
    "call, passes",
    [
        ("loss_fn(model(images), target=labels)", True),
        ("loss_fn(logits=model(images), target=labels)", True),
        ("loss_fn(input=model(images), target=labels)", False),  # torch's name, not the TP's
    ],
    ids=["target_by_name", "both_by_name", "torchs_names"],
)
def test_a_step_calls_the_loss_as_the_notebooks_loss_takes_it(call, passes):
    """The check's loss took (a, b): ``target=labels`` failed it naming the check's insides,
    while the grader (F.cross_entropy itself) gave the points, even to ``input=``, which the
    notebook's categorical_cross_entropy refuses in the training cell (honest round 21)."""
    ns = notebook(extra={"train_step": STEP_CALLING.format(call=call)})
    assert graded(ns, "train_step")[0] == passes
    shown, message = visible(ns, "train_step", with_probes=False)
    assert shown == passes and "_run_train_step" not in message and "<locals>" not in message


FOUR_CLASSES_LOSS = """def categorical_cross_entropy(logits, target, weight=None):
    one_hot = F.one_hot(target.long(), 4).permute(0, 3, 1, 2).to(logits.dtype)  # BraTS's 4
    per_pixel = -(one_hot * F.log_softmax(logits, dim=1)).sum(1)
    if weight is None:
        return per_pixel.mean()
    w = weight.to(logits.dtype)[target.long()]
    return (per_pixel * w).sum() / w.sum()
"""


def test_a_loss_made_for_four_classes_only_fails_both_sides():
    """Honest round 21: the check ran the docstring's example (two classes) and failed a loss
    hard-coding BraTS's 4 classes; the grader had no such case and gave (e) 4/4, saying "your
    (e) itself matches the reference". The example is a case of both now."""
    ns = notebook(extra={"cce_loss": FOUR_CLASSES_LOSS})
    passed, message = graded(ns, "loss")
    assert not passed and "one pixel, two classes" in message
    assert not visible(ns, "loss", with_probes=False)[0]


def test_a_train_step_run_by_a_librarys_training_loop_fails_both_sides():
    """Red team 54: MONAI's learning-rate finder's `_train_batch` is the whole step (train,
    zero_grad, forward, loss, backward, step): (f) 3/3 with its blank unwritten."""
    source = (
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        "    from types import SimpleNamespace\n"
        "    from monai.optimizers.lr_finder import LearningRateFinder\n\n"
        "    finder = SimpleNamespace(model=model, optimizer=optimizer, criterion=loss_fn,\n"
        "                             device=images.device, amp=False)\n"
        "    model.train()\n"
        "    return LearningRateFinder._train_batch(finder, iter([(images, labels)]), 1)\n"
    )
    failed = _fails_both_sides("train_step", source, "train_step", ("monai.optimizers",))
    assert set(failed) == {"test_train_step"}
    assert SPEC.block("f").forbidden_why in failed["test_train_step"]
    assert set(checks.STEP_LIBRARIES) == set(SPEC.block("f").forbidden)
