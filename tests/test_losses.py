"""The loss of Eq. (1) against torch's cross-entropy, in value and gradient."""

import sys

import pytest
import torch
import torch.nn.functional as F

from solutions.losses import categorical_cross_entropy, ce_dice_loss, soft_dice_loss


def _pair(seed=0, n=2, c=4, h=8, w=8, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * scale).requires_grad_()
    target = torch.randint(0, c, (n, h, w), generator=g)
    return logits, target


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"weight": torch.tensor([0.1, 1.0, 2.0, 5.0], dtype=torch.float64)},
        {"weight": torch.tensor([1.0, 3.0, 1.0, 0.5], dtype=torch.float64)},
    ],
)
def test_equals_torch_cross_entropy_in_value_and_gradient(kwargs):
    logits, target = _pair()
    ours = categorical_cross_entropy(logits, target, **kwargs)
    (g_ours,) = torch.autograd.grad(ours, logits)
    ref = F.cross_entropy(logits, target, **kwargs)
    (g_ref,) = torch.autograd.grad(ref, logits)
    assert abs(ours.item() - ref.item()) < 1e-5
    assert (g_ours - g_ref).abs().max().item() < 1e-5


def test_extreme_logits_stay_finite():
    logits, target = _pair(scale=1.0)
    logits = (torch.sign(logits.detach()) * 1e4).float().requires_grad_()
    ours = categorical_cross_entropy(logits, target)
    (grad,) = torch.autograd.grad(ours, logits)
    ref = F.cross_entropy(logits, target)
    assert torch.isfinite(ours) and torch.isfinite(grad).all()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


def test_one_class_only_and_perfect_prediction():
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    logits = torch.zeros(1, 3, 4, 4)
    logits[:, 0] = 50.0
    assert categorical_cross_entropy(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    uniform = torch.zeros(1, 3, 4, 4)
    assert categorical_cross_entropy(uniform, target).item() == pytest.approx(
        torch.log(torch.tensor(3.0)).item()
    )


def test_soft_dice_and_combination():
    target = torch.randint(0, 4, (2, 16, 16), generator=torch.Generator().manual_seed(1))
    perfect = F.one_hot(target, 4).movedim(-1, 1).float() * 40
    assert soft_dice_loss(perfect, target).item() == pytest.approx(0.0, abs=1e-4)
    wrong = F.one_hot((target + 1) % 4, 4).movedim(-1, 1).float() * 40
    assert soft_dice_loss(wrong, target).item() == pytest.approx(1.0, abs=1e-3)
    logits, tgt = _pair()
    both = ce_dice_loss(logits, tgt)
    assert both.item() == pytest.approx(
        (categorical_cross_entropy(logits, tgt) + soft_dice_loss(logits, tgt)).item()
    )


CHECK_TEST_SUITE_LOSS = """
import sys, types, unittest
shim = types.ModuleType("expecttest")  # (the test suite's dependencies, not installed here)
shim.TestCase = unittest.TestCase
sys.modules.update(expecttest=shim, hypothesis=None)
import torch
from torch.testing._internal.common_nn import nlllossNd_reference
from unet_tp import checks

def categorical_cross_entropy(logits, target, weight=None):
    return nlllossNd_reference(torch.log_softmax(logits, 1), target, weight)

try:
    checks.check_loss(categorical_cross_entropy)
except AssertionError as exc:
    print(exc)
"""


def test_the_check_refuses_torchs_test_suite_loss_naming_it():
    """Red team 49: torch's test suite's ``nlllossNd_reference`` after a log-softmax is the
    cross-entropy; the grader forbids its module, so does the notebook's check, naming it (in a
    process of its own: importing the test suite changes torch's global flags)."""
    import subprocess

    said = subprocess.run(
        [sys.executable, "-c", CHECK_TEST_SUITE_LOSS], capture_output=True, text=True, timeout=300
    ).stdout
    assert "the loss uses torch.testing._internal.common_nn, which computes" in said, said


def test_the_check_says_a_scripted_loss_costs_the_blocks_after_it():
    """Honest round 21: @torch.jit.script on a right loss passed the check while the grader
    (which cannot follow TorchScript) gave (e), (f) and (g) no points."""
    from unet_tp import checks

    with pytest.raises(AssertionError, match=r"is TorchScript \(@torch.jit.script\)"):
        checks.check_loss(torch.jit.script(categorical_cross_entropy))
