"""Every judge of the grader against answers a hostile kernel can send (property-based).

The kernel is the student's: it can answer NaN, inf, empty or short arrays, other dtypes and
shapes, and any JSON. For every comparison of the spec, the honest answer (the reference's own
blocks, answered the way the sandboxed kernel answers) passes, and every corruption of it fails,
without the judge ever raising."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import autograder.harness as harness
from autograder import probes
from autograder.build import solution_regions
from autograder.compare import comparisons, judge
from unet_tp.unet_base import UNetBase

NAMES = ["double_conv", "down", "center_crop", "up", "unet", "loss", "train_step", "predict_dice"]
# the reference's answers to every comparison, then many corrupted copies of them
pytestmark = pytest.mark.slow
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def honest(name: str):
    """``(comparison, requests, answers)`` of the reference's blocks for one comparison."""
    ns = {"torch": torch, "nn": nn, "F": F, "np": np, "UNetBase": UNetBase, "__name__": "__main__"}
    for gid, source in solution_regions().items():
        exec(compile(source, f"<cell {gid}>", "exec"), ns)  # noqa: S102
    comparison = comparisons()[name]
    requests = comparison.requests(np.random.default_rng(7))
    answers = {}
    for r in requests:
        subs = {p: probes.PROBES[p] for p in r.meta.get("probes", [])}
        with harness._substituted(ns, subs):
            answers[r.name] = harness._KINDS[r.meta["kind"]](ns, r.meta, r.arrays)
    return comparison, requests, answers


def _verdict(comparison, requests, answers):
    raw = comparison.judge(answers, requests)  # the judge itself never raises
    wrapped = judge(comparison, answers, requests)
    assert raw.passed == wrapped.passed
    return wrapped


@pytest.mark.parametrize("name", NAMES)
def test_the_honest_answer_passes(name):
    assert _verdict(*honest(name)).passed


def _corrupt_array(a: np.ndarray, how: str) -> np.ndarray:
    if how == "nan":
        return np.full(a.shape, np.nan)
    if how == "inf":
        return np.full(a.shape, np.inf)
    if how == "empty":
        return np.zeros((0,), a.dtype)
    if how == "short":
        return a.reshape(-1)[: max(0, a.size - 1)]
    if how == "flat":
        return a.reshape(-1) if a.ndim != 1 else a.reshape(1, -1)
    if how == "wrong dtype":
        return np.zeros(a.shape, bool) if a.dtype.kind != "b" else a.astype(np.float64) + 2
    if how == "scaled":
        return a * 1.01 + 0.5
    raise ValueError(how)


ARRAY_CORRUPTIONS = ["nan", "inf", "empty", "short", "flat", "wrong dtype", "scaled"]
# each comparison's answers carry their values in arrays, in the meta, or both
IN_ARRAYS = ["double_conv", "down", "center_crop", "up", "unet", "loss", "train_step"]
IN_META = ["loss", "train_step", "predict_dice"]


@pytest.mark.parametrize("name", IN_ARRAYS + ["predict_dice"])
@SETTINGS
@given(how=st.sampled_from(ARRAY_CORRUPTIONS), data=st.data())
def test_corrupted_arrays_fail(name, how, data):
    comparison, requests, answers = honest(name)
    if name == "predict_dice" and how in {"nan", "inf", "scaled"}:
        how = "wrong dtype"  # predictions are integers: any other value is wrong too
    if name == "center_crop" and how == "wrong dtype":
        how = "scaled"
    # every array of one kind (all outputs, all gradients, all weights...): a judge may try
    # several candidates, it must find none right
    groups = sorted({k.split("_")[0] for _, arrays in answers.values() for k in arrays})
    group = data.draw(st.sampled_from(groups))
    bad = {
        key: (
            meta,
            {
                k: _corrupt_array(v, how) if k.split("_")[0] == group else v
                for k, v in arrays.items()
            },
        )
        for key, (meta, arrays) in answers.items()
    }
    assert not _verdict(comparison, requests, bad).passed


def _corrupt_meta(value, how: str):
    """Every number of the meta replaced (recursively)."""
    if isinstance(value, dict):
        return {k: _corrupt_meta(v, how) for k, v in value.items()}
    if isinstance(value, list):
        if how == "short" and value:
            return value[:-1]
        return [_corrupt_meta(v, how) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return {
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": float("-inf"),
        "none": None,
        "string": str(value),
        "bool": True,
        "list": [value],
        "huge": 1e308,
        "shifted": value + 0.25,
        "short": value + 0.25,
    }[how]


@pytest.mark.parametrize("name", IN_META)
@SETTINGS
@given(
    how=st.sampled_from(
        ["nan", "inf", "-inf", "none", "string", "bool", "list", "huge", "shifted", "short"]
    )
)
def test_corrupted_numbers_fail(name, how):
    comparison, requests, answers = honest(name)
    bad = {k: (_corrupt_meta(meta, how), arrays) for k, (meta, arrays) in answers.items()}
    assert not _verdict(comparison, requests, bad).passed


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ARRAYS = st.dictionaries(
    st.text(max_size=12),
    st.sampled_from([np.zeros(0), np.full((2, 3), np.nan), np.ones((1, 4, 5, 5)), np.arange(3)]),
    max_size=4,
)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(meta=JSON, arrays=ARRAYS)
def test_any_garbage_fails_and_never_raises(name, meta, arrays):
    comparison, requests, answers = honest(name)
    bad = {key: (meta, arrays) for key in answers}
    assert not _verdict(comparison, requests, bad).passed
    assert not _verdict(comparison, requests, {}).passed  # no answer at all
    assert not _verdict(comparison, requests, dict.fromkeys(answers)).passed


@pytest.mark.parametrize("name", NAMES)
def test_an_answer_from_another_request_fails(name):
    """Answers are compared with this request's expected values: a right answer to another draw
    of the inputs is wrong here."""
    comparison, requests, answers = honest(name)
    other = comparison.requests(np.random.default_rng(8))
    assert not _verdict(comparison, other, answers).passed
