"""The notebook's visible self-checks: each says what was expected, what came out, and where to
look.

They check shapes, parameter counts and behaviour, never the reference code (students do not
have it); no grade depends on them: the grader compares the blocks with the reference from
outside the notebook, and shows a check's hint to explain a lost block. A check prints one line
per point it verified and raises ``AssertionError`` with a hint at the first problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _ok(message: str) -> None:
    print(f"  ok: {message}")


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def _describe(module: nn.Module) -> str:
    layers = [
        type(m).__name__
        for m in module.modules()
        if not list(m.children()) and not isinstance(m, nn.Identity)
    ]
    return " -> ".join(layers) or "no layers"


def _conv_inputs(module: nn.Module, *inputs: torch.Tensor) -> list[torch.Tensor]:
    """The inputs of the module's convolutions, in the order they run."""
    seen: list[torch.Tensor] = []
    hooks = [
        m.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        _run(module, *inputs)
    finally:
        for h in hooks:
            h.remove()
    return seen


def _shape(t) -> tuple:
    return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__


def _run(module: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = module(*inputs)
    assert isinstance(out, torch.Tensor), (
        f"forward returned {type(out).__name__}, not a tensor: did you forget `return`?"
    )
    return out


# ---- (a) DoubleConv ------------------------------------------------------------------------


def check_double_conv(DoubleConv: type) -> None:  # noqa: N803 (the class under test)
    """Shapes, parameters and ReLUs of a DoubleConv class."""
    torch.manual_seed(0)
    block = DoubleConv(3, 16)
    x = torch.randn(2, 3, 64, 64)
    out = _run(block, x)
    if _shape(out) != (2, 16, 60, 60):
        hint = ""
        if _shape(out)[-1] == 64:
            hint = " The size did not shrink: with padding=False use padding=0 (the paper's valid convolutions)."
        elif _shape(out)[-1] == 62:
            hint = " It shrank by 2 only: are there two 3x3 convolutions?"
        elif _shape(out)[1] != 16:
            hint = " Both convolutions output out_channels."
        raise AssertionError(
            f"DoubleConv(3, 16) on an input of shape (2, 3, 64, 64): expected output (2, 16, 60, 60), "
            f"got {_shape(out)}. Each unpadded 3x3 convolution trims a 1-pixel border: 64 -> 62 -> 60."
            f"{hint} Layers found: {_describe(block)}."
        )
    _ok("unpadded: (2, 3, 64, 64) -> (2, 16, 60, 60)")
    out_pad = _run(DoubleConv(3, 16, padding=True), x)
    assert _shape(out_pad) == (2, 16, 64, 64), (
        f"DoubleConv(3, 16, padding=True): expected (2, 16, 64, 64), got {_shape(out_pad)}; "
        "padding=True must keep the size (padding=1 in each convolution)"
    )
    _ok("padded: the size is kept")
    expected = _conv_params(3, 16, 3) + _conv_params(16, 16, 3)
    got = _params(block)
    assert got == expected, (
        f"DoubleConv(3, 16) has {got:,} parameters, expected {expected:,} = (3*16*9 + 16) + "
        f"(16*16*9 + 16): a 3x3 conv 3->16 then a 3x3 conv 16->16, with biases. "
        f"Layers found: {_describe(block)}."
    )
    _ok(f"{expected:,} parameters")
    assert out.min() >= 0, (
        "the output has negative values: each convolution must be followed by a ReLU "
        "(the last one too)"
    )
    conv_inputs = _conv_inputs(block, x)
    assert len(conv_inputs) == 2 and conv_inputs[1].min() >= 0, (
        "the second convolution receives negative values: a ReLU must follow the first "
        "convolution too (one nn.ReLU module used twice is fine)"
    )
    _ok("ReLU after each convolution")
    bn_block = DoubleConv(3, 16, batch_norm=True)
    bns = [m for m in bn_block.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 2, (
        f"DoubleConv(3, 16, batch_norm=True) has {len(bns)} BatchNorm2d layers, expected 2 "
        "(conv -> batch norm -> ReLU, twice)"
    )
    expected_bn = _conv_params(3, 16, 3, False) + _conv_params(16, 16, 3, False) + 2 * 2 * 16
    with_bias = expected_bn + 2 * 16  # a bias before a batch norm is useless, not wrong
    assert _params(bn_block) in (expected_bn, with_bias), (
        f"DoubleConv(3, 16, batch_norm=True) has {_params(bn_block):,} parameters, expected "
        f"{expected_bn:,}: with batch norm the convolutions take bias=False (the norm's shift "
        "replaces it)"
    )
    _ok("batch_norm=True: conv (no bias) -> BatchNorm2d -> ReLU, twice")


# ---- (b) Down ------------------------------------------------------------------------------


def check_down(Down: type) -> None:  # noqa: N803
    """Shapes and parameters of a Down class."""
    torch.manual_seed(0)
    block = Down(16, 32)
    out = _run(block, torch.randn(2, 16, 64, 64))
    if _shape(out) != (2, 32, 28, 28):
        hint = ""
        if _shape(out)[-1] == 60:
            hint = " The size was not halved: is the 2x2 max-pooling (stride 2) there, before the convolutions?"
        elif _shape(out)[-1] == 32:
            hint = " The convolutions did not trim the border: pass padding on to the DoubleConv."
        elif _shape(out)[-1] == 30:
            hint = " It looks like pooling after the convolutions: pool first, then convolve."
        raise AssertionError(
            f"Down(16, 32) on (2, 16, 64, 64): expected (2, 32, 28, 28), got {_shape(out)}: "
            f"max-pool 64 -> 32, then two unpadded 3x3 convolutions 32 -> 28.{hint} "
            f"Layers found: {_describe(block)}."
        )
    _ok("(2, 16, 64, 64) -> (2, 32, 28, 28)")
    out_pad = _run(Down(16, 32, padding=True), torch.randn(1, 16, 64, 64))
    assert _shape(out_pad) == (1, 32, 32, 32), (
        f"Down(16, 32, padding=True) on (1, 16, 64, 64): expected (1, 32, 32, 32), got {_shape(out_pad)}"
    )
    _ok("padded: (1, 16, 64, 64) -> (1, 32, 32, 32)")
    expected = _conv_params(16, 32, 3) + _conv_params(32, 32, 3)
    assert _params(block) == expected, (
        f"Down(16, 32) has {_params(block):,} parameters, expected {expected:,} (a DoubleConv "
        "16 -> 32; the max-pooling has none)"
    )
    _ok(f"{expected:,} parameters")


# ---- (c) center_crop and Up ----------------------------------------------------------------


def check_center_crop(center_crop: Callable) -> None:
    """center_crop takes the centre window, also when the margin is odd."""
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    out = center_crop(x, 4, 4)
    assert _shape(out) == (1, 1, 4, 4), f"center_crop(x (1,1,8,8), 4, 4): got shape {_shape(out)}"
    expected = x[..., 2:6, 2:6]
    if not torch.equal(out, expected):
        first = int(out.flatten()[0])
        raise AssertionError(
            f"center_crop(x (1,1,8,8), 4, 4) should keep rows and columns 2..5 (top-left value "
            f"{int(expected.flatten()[0])}), got a window whose top-left value is {first} "
            f"(row {first // 8}, column {first % 8}): the offset is (8 - 4) // 2 = 2."
        )
    _ok("centre window of an even margin")
    y = torch.arange(7.0 * 9).reshape(1, 1, 7, 9)
    out = center_crop(y, 4, 6)
    assert _shape(out) == (1, 1, 4, 6), (
        f"center_crop(x (1,1,7,9), 4, 6): expected shape (1, 1, 4, 6), got {_shape(out)}: "
        "crop height and width separately"
    )
    assert torch.equal(out, y[..., 1:5, 1:7]), (
        "center_crop(x (1,1,7,9), 4, 6) should start at row (7-4)//2 = 1 and column (9-6)//2 = 1; "
        f"your window starts at value {int(out.flatten()[0])} instead of {int(y[0, 0, 1, 1])}"
    )
    _ok("odd margins and non-square crops")


def check_up(Up: type) -> None:  # noqa: N803
    """Shapes and parameters of an Up class (up-convolution, crop, concatenation, DoubleConv)."""
    torch.manual_seed(0)
    block = Up(64, 32)
    ups = [m for m in block.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 1, (
        f"Up should hold one nn.ConvTranspose2d (the 2x2 up-convolution), found {len(ups)}. "
        f"Layers found: {_describe(block)}."
    )
    up = ups[0]
    assert (up.in_channels, up.out_channels) == (64, 32), (
        f"Up(64, 32): the up-convolution maps {up.in_channels} -> {up.out_channels} channels, "
        "expected 64 -> 32 (it halves the channels)"
    )
    assert tuple(up.kernel_size) == (2, 2) and tuple(up.stride) == (2, 2), (
        f"the up-convolution should be 2x2 with stride 2, got kernel {tuple(up.kernel_size)} "
        f"stride {tuple(up.stride)}"
    )
    _ok("2x2 up-convolution 64 -> 32 channels")
    x, skip = torch.randn(1, 64, 12, 12), torch.randn(1, 32, 30, 30)
    try:
        out = _run(block, x, skip)
    except RuntimeError as exc:
        raise AssertionError(
            f"Up(64, 32) on x (1, 64, 12, 12) and skip (1, 32, 30, 30) raised: {exc}\n"
            "Up-convolve x to (1, 32, 24, 24), crop the skip to 24 x 24, concatenate on dim=1 "
            "(32 + 32 = 64 channels), then the DoubleConv 64 -> 32."
        ) from exc
    assert _shape(out) == (1, 32, 20, 20), (
        f"Up(64, 32) on x (1, 64, 12, 12) and skip (1, 32, 30, 30): expected (1, 32, 20, 20), "
        f"got {_shape(out)}. x up-convolved: 12 -> 24; skip cropped 30 -> 24; concatenated: 64 "
        "channels; DoubleConv: 24 -> 20."
    )
    _ok("x (1, 64, 12, 12) + skip (1, 32, 30, 30) -> (1, 32, 20, 20)")
    out_pad = _run(Up(64, 32, padding=True), torch.randn(1, 64, 12, 12), torch.randn(1, 32, 24, 24))
    assert _shape(out_pad) == (1, 32, 24, 24), (
        f"Up(64, 32, padding=True) on x (1, 64, 12, 12), skip (1, 32, 24, 24): expected "
        f"(1, 32, 24, 24), got {_shape(out_pad)}"
    )
    _ok("padded: the skip needs no crop")
    expected = 64 * 32 * 4 + 32 + _conv_params(64, 32, 3) + _conv_params(32, 32, 3)
    assert _params(block) == expected, (
        f"Up(64, 32) has {_params(block):,} parameters, expected {expected:,}: up-convolution "
        "64 -> 32 (2x2) + DoubleConv 64 -> 32"
    )
    _ok(f"{expected:,} parameters")


# ---- (d) UNet ------------------------------------------------------------------------------


def expected_layer_shapes(
    in_size: int,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 4,
    padding: bool = False,
) -> list[tuple[str, tuple[int, ...]]]:
    """(block name, output shape) of each block of the U-Net, for a batch of one image."""
    border = 0 if padding else 4
    rows = []
    size = in_size - border
    rows.append(("inc", (1, base_channels, size, size)))
    for i in range(depth):
        size = size // 2 - border
        rows.append((f"downs.{i}", (1, base_channels * 2 ** (i + 1), size, size)))
    for i in range(depth):
        size = size * 2 - border
        rows.append((f"ups.{i}", (1, base_channels * 2 ** (depth - 1 - i), size, size)))
    rows.append(("outc", (1, num_classes, size, size)))
    return rows


def check_unet(UNet: type, quick: bool = False) -> None:  # noqa: N803
    """The paper's network (572 -> 388, 31,030,658 parameters), level by level, and the padded
    BraTS network (240 -> 240)."""
    from unet_tp.viz import layer_table

    torch.manual_seed(0)
    net = UNet(in_channels=1, num_classes=2, padding=False)
    got = _params(net)
    assert got == 31_030_658, (
        f"UNet(in_channels=1, num_classes=2) has {got:,} parameters; the paper's network has "
        "31,030,658. Check the channel widths (64, 128, 256, 512, 1024), that each Up halves "
        "them, and the final 1x1 convolution."
    )
    _ok("31,030,658 parameters, as the paper's network")
    size = 572
    rows = layer_table(net, (1, 1, size, size))
    got_rows = {r["layer"]: r["output_shape"] for r in rows}
    expected = expected_layer_shapes(size)
    if all(name in got_rows for name, _ in expected):
        for name, shape in expected:
            assert got_rows[name] == shape, (
                f"block {name}: expected output {shape}, got {got_rows[name]} (input 1 x 572 x "
                "572). Expected, block by block: "
                + ", ".join(f"{n} {s[1]}x{s[2]}" for n, s in expected)
            )
        _ok("every block's output shape matches Figure 1 (572 -> 568 ... 28 ... 388)")
    else:
        print(
            "  note: name your blocks inc, downs (nn.ModuleList), ups (nn.ModuleList) and outc "
            "to get a block-by-block check"
        )
        with torch.no_grad():
            out = net(torch.zeros(1, 1, size, size))
        assert _shape(out) == (1, 2, 388, 388), (
            f"UNet(1, 2) on (1, 1, 572, 572): expected (1, 2, 388, 388), got {_shape(out)}"
        )
        _ok("572 x 572 -> 388 x 388")
    small = UNet(in_channels=4, num_classes=4, base_channels=8, depth=3, padding=True)
    out = _run(small, torch.randn(2, 4, 240, 240))
    assert _shape(out) == (2, 4, 240, 240), (
        f"UNet(4, 4, base_channels=8, depth=3, padding=True) on (2, 4, 240, 240): expected "
        f"(2, 4, 240, 240), got {_shape(out)}: with padding the output keeps the input's size"
    )
    _ok("padded BraTS network: (2, 4, 240, 240) -> (2, 4, 240, 240)")
    assert torch.isfinite(out).all(), "the output holds NaN or inf"


# ---- (e) categorical cross-entropy -----------------------------------------------------------


def _pair(seed: int, n: int = 2, c: int = 4, size: int = 6, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, size, size, generator=g, dtype=torch.float64) * scale
    target = torch.randint(0, c, (n, size, size), generator=g)
    return logits, target


def _diagnose_loss(value: float, logits: torch.Tensor, target: torch.Tensor) -> str:
    """Name the usual mistake whose result equals ``value``."""
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).double()
    log_s = torch.log_softmax(logits, 1)
    candidates = {
        "the sum over the pixels instead of the mean": float(-(onehot * log_s).sum()),
        "the mean over the classes too (divide by the number of pixels only)": float(
            -(onehot * log_s).mean()
        ),
        "a missing minus sign": float((onehot * log_s).sum(1).mean()),
        "no softmax: log of the raw logits": float(
            -(onehot * torch.log(logits.clamp(min=1e-12))).sum(1).mean()
        ),
        "the softmax taken over the wrong dimension (use dim=1, the classes)": float(
            -(onehot * torch.log_softmax(logits, -1)).sum(1).mean()
        ),
        "the log missing (-sum t * s)": float(-(onehot * logits.softmax(1)).sum(1).mean()),
    }
    for mistake, candidate in candidates.items():
        if math.isfinite(candidate) and abs(candidate - value) <= 1e-6 * max(1.0, abs(value)):
            return f" Your value matches {mistake}."
    return ""


def check_loss(loss_fn: Callable) -> None:
    """Eq. (1) on a hand example, against ``F.cross_entropy``, and with extreme logits."""
    logits = torch.zeros(1, 2, 1, 1)
    value = loss_fn(logits, torch.zeros(1, 1, 1, dtype=torch.long))
    assert isinstance(value, torch.Tensor) and value.numel() == 1, (
        f"the loss should be a scalar tensor, got {_shape(value)}"
    )
    assert abs(float(value) - math.log(2)) < 1e-6, (
        f"one pixel, two classes, equal logits: the loss is -log(1/2) = {math.log(2):.6f}, "
        f"got {float(value):.6f}"
    )
    _ok("one pixel, equal scores: -log(1/2)")
    logits, target = _pair(0)
    value = float(loss_fn(logits, target))
    expected = float(F.cross_entropy(logits, target))
    if abs(value - expected) > 1e-5:
        raise AssertionError(
            f"on random logits (2, 4, 6, 6): got {value:.6f}, expected {expected:.6f} (the mean "
            f"over the pixels of -sum_i t_i log s_i, s = softmax over dim=1)."
            + _diagnose_loss(value, logits, target)
        )
    _ok("equals torch's cross-entropy on random logits")
    logits, target = _pair(1, scale=1000.0)
    value = loss_fn(logits, target)
    assert torch.isfinite(value), (
        f"with logits of size ~1000 the loss is {float(value)}: log(softmax(...)) underflows to "
        "log(0). Use logits - torch.logsumexp(logits, dim=1, keepdim=True)."
    )
    _ok("finite for extreme logits")
    logits, target = _pair(2)
    logits.requires_grad_()
    loss_fn(logits, target).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all(), (
        "no usable gradient reaches the logits: build the loss from torch operations only "
        "(no .item(), .numpy() or .detach())"
    )
    _ok("differentiable")


# ---- (f) training step ---------------------------------------------------------------------


def check_train_step(train_step: Callable, loss_fn: Callable) -> None:
    """The step returns a float, lowers the loss on one batch, and clears old gradients."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    images = torch.randn(4, 4, 16, 16)
    labels = (images[:, 1] > 0).long() + (images[:, 3] > 1).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = [train_step(model, images, labels, optimizer, loss_fn) for _ in range(40)]
    assert isinstance(losses[0], float), (
        f"train_step returned {type(losses[0]).__name__}; return loss.item(), a Python float "
        "(a tensor would keep the whole graph alive)"
    )
    _ok("returns a float")
    assert losses[-1] < 0.7 * losses[0], (
        f"40 steps on one batch took the loss from {losses[0]:.3f} to {losses[-1]:.3f} only: "
        "is optimizer.step() called after loss.backward()?"
    )
    _ok(f"the loss falls on one batch: {losses[0]:.3f} -> {losses[-1]:.3f}")
    # with SGD, two steps from the same start must equal two manual steps with fresh gradients
    torch.manual_seed(1)
    net = nn.Conv2d(4, 4, 1)
    ref = nn.Conv2d(4, 4, 1)
    ref.load_state_dict(net.state_dict())
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(2):
        train_step(net, images, labels, sgd, loss_fn)
        ref.zero_grad()
        loss_fn(ref(images), labels).backward()
        with torch.no_grad():
            for p in ref.parameters():
                p -= 0.1 * p.grad
    pairs = zip(net.parameters(), ref.parameters(), strict=True)
    gap = max(float((a - b).detach().abs().max()) for a, b in pairs)
    assert gap < 1e-5, (
        "after two SGD steps the weights differ from two clean steps: the gradients of the first "
        "step were added to the second's. Call optimizer.zero_grad() before loss.backward()."
    )
    _ok("gradients are cleared at each step")


# ---- (g) prediction and Dice -----------------------------------------------------------------


def check_predict_dice(predict: Callable, dice_score: Callable) -> None:
    """Dice on hand-made masks (empty ones included) and predictions in eval mode."""
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2, :2] = True  # 4 pixels
    b[:2, :] = True  # 8 pixels, 4 shared
    value = dice_score(a, b)
    assert abs(float(value) - 2 * 4 / 12) < 1e-9, (
        f"masks of 4 and 8 pixels sharing 4: Dice = 2*4/(4+8) = {8 / 12:.4f}, got {value}"
    )
    _ok("Dice of two overlapping masks")
    assert float(dice_score(a, a)) == 1.0, "a mask against itself must score 1.0"
    assert float(dice_score(a, ~a)) == 0.0, "disjoint masks must score 0.0"
    empty = np.zeros((4, 4), bool)
    value = dice_score(empty, empty)
    assert value == 1.0, (
        f"two empty masks (no tumour, none predicted) score 1.0 by the BraTS convention, got "
        f"{value} (0/0 must not give NaN)"
    )
    assert float(dice_score(empty, a)) == 0.0, "an empty prediction of a real tumour scores 0.0"
    _ok("empty masks: 1.0 when both are empty, 0.0 when one is")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    model.train()
    images = torch.randn(3, 4, 8, 8)
    out = predict(model, images)
    assert isinstance(out, torch.Tensor) and _shape(out) == (3, 8, 8), (
        f"predict on a (3, 4, 8, 8) batch should give the (3, 8, 8) classes, got {_shape(out)}: "
        "take the argmax over dim=1, the classes"
    )
    assert not out.is_floating_point(), "predict should return integer classes (argmax)"
    assert not model.training, "predict should put the model in eval mode (model.eval())"
    with torch.no_grad():
        expected = model(images).argmax(1)
    assert torch.equal(out.long(), expected), "predict should return the argmax of the logits"
    assert not out.requires_grad, "predict should run without gradients (torch.no_grad())"
    _ok("predict: eval mode, argmax over the classes")
