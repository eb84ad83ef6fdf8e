"""The grader's comparisons, in process (no sandbox): the reference passes, correct code written
differently passes, each real mistake fails its own block only."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_grade import DOUBLE_CONV_ONE_RELU  # the same correct-but-different cell both ways
from torch import nn

import autograder.harness as harness
from autograder import probes
from autograder.build import solution_regions
from autograder.compare import comparisons, fresh_rng
from unet_tp.unet_base import UNetBase

REGIONS = solution_regions()


def notebook(**replace: tuple[str, str]) -> dict:
    """The namespace of a solved notebook, with ``cell=(old, new)`` replacements."""
    ns = {"torch": torch, "nn": nn, "F": F, "np": np, "UNetBase": UNetBase, "__name__": "__main__"}
    for gid, source in REGIONS.items():
        if gid in replace:
            old, new = replace[gid]
            assert old in source, (gid, old)
            source = source.replace(old, new)
        exec(compile(source, f"<cell {gid}>", "exec"), ns)  # noqa: S102
    return ns


def verdicts(ns: dict) -> dict[str, bool]:
    """Each comparison of the spec on this namespace, the way the sandboxed kernel answers."""
    harness._PROBES.clear()
    harness._PROBES.update(probes.PROBES)
    rng, out = fresh_rng(), {}
    for name, comparison in comparisons().items():
        requests = comparison.requests(rng)
        answers = {}
        for r in requests:
            subs = {p: probes.PROBES[p] for p in r.meta.get("probes", [])}
            missing = [n for n in r.meta.get("needs", []) if n not in ns]
            if missing:
                answers[r.name] = ({"missing": missing}, {})
                continue
            with harness._Substitute(ns, subs):
                try:
                    answers[r.name] = harness._KINDS[r.meta["kind"]](ns, r.meta, r.arrays)
                except Exception as exc:
                    answers[r.name] = ({"error": repr(exc)}, {})
        out[name] = comparison.judge(answers, requests).passed
    return out


ALL = dict.fromkeys(
    ["double_conv", "down", "center_crop", "up", "unet", "loss", "train_step", "predict_dice"], True
)


def test_the_reference_passes_everything():
    assert verdicts(notebook()) == ALL


@pytest.mark.parametrize(
    "replace, failed",
    [
        ({"double_conv": ("pad = 1 if padding else 0", "pad = 0")}, {"double_conv"}),
        ({"up": ("torch.cat([skip, x], dim=1)", "torch.cat([x, skip], dim=1)")}, {"up"}),
        ({"up": ("top = (x.shape[-2] - height) // 2", "top = 0")}, {"center_crop"}),
        (
            {
                "cce_loss": (
                    "per_pixel = -(t * log_s).sum(dim=1)",
                    "per_pixel = -(t * log_s).mean(dim=1)",
                )
            },
            {"loss"},
        ),
        ({"train_step": ("optimizer.zero_grad()", "pass")}, {"train_step"}),
        ({"predict_dice": ("model.eval()", "pass")}, {"predict_dice"}),
        ({"predict_dice": ("return 1.0  # both empty", "return 0.0")}, {"predict_dice"}),
    ],
)
def test_one_mistake_fails_its_own_block_only(replace, failed):
    got = verdicts(notebook(**replace))
    assert {k for k, ok in got.items() if not ok} == failed, got


@pytest.mark.parametrize(
    "replace",
    [
        # one ReLU module used twice, attributes of its own, a bias kept before the batch norm
        {"double_conv": ("", "")},
        # F.max_pool2d instead of nn.MaxPool2d
        {"down": ("return self.conv(self.pool(x))", "return self.conv(F.max_pool2d(x, 2))")},
        # log_softmax instead of logsumexp
        {
            "cce_loss": (
                "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                "log_s = torch.log_softmax(logits, dim=1)",
            )
        },
        # zero_grad after the step
        {
            "train_step": (
                "optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's\n"
                "    loss = loss_fn(model(images), labels)\n    loss.backward()\n    optimizer.step()",
                "loss = loss_fn(model(images), labels)\n    loss.backward()\n    optimizer.step()\n"
                "    optimizer.zero_grad()",
            )
        },
    ],
)
def test_correct_code_written_differently_passes(replace):
    ns = notebook(**replace)
    if "double_conv" in replace:
        exec(compile(DOUBLE_CONV_ONE_RELU, "<cell>", "exec"), ns)  # noqa: S102
    assert verdicts(ns) == ALL


def test_the_loss_must_not_call_torch_cross_entropy():
    ns = notebook()
    ns["categorical_cross_entropy"] = lambda logits, target, weight=None: F.cross_entropy(
        logits, target, weight=weight
    )
    assert verdicts(copy.copy(ns))["loss"] is False
