"""The cases of each graded block, declared once: the notebook's visible checks
(:mod:`unet_tp.checks`) run them on fixed inputs (``visible_rng()``), the grader
(``autograder/compare.py``) on fresh random ones with the reference's outputs, so a visible "ok" and
a graded point mean the same thing. A case is data (shapes, constructor arguments) plus one function
that draws its inputs from a ``numpy.random.Generator``; ``grader=False`` marks a case only the
notebook runs. Nothing here knows the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

VISIBLE_SEED = 20150518  # the U-Net paper's arXiv date: the notebook's fixed inputs

# the constructor arguments of each module block, in order, with their defaults
_FLAGS = {"padding": False, "batch_norm": False}
_POSITIONAL = ("in_channels", "out_channels")  # the blocks' positional arguments
_BLOCK = {"in_channels": None, "out_channels": None, **_FLAGS}
SIGNATURES: dict[str, dict[str, object]] = {
    **dict.fromkeys(("DoubleConv", "Down", "Up"), _BLOCK),
    "UNet": {"in_channels": 4, "num_classes": 4, "base_channels": 64, "depth": 4, **_FLAGS},
}


def visible_rng() -> np.random.Generator:
    """The generator of the notebook's fixed inputs."""
    return np.random.default_rng(VISIBLE_SEED)


def normalize(block: str, args: tuple | list = (), kwargs: dict | None = None) -> dict:
    """Every constructor argument of ``block`` by name (defaults filled in): the key that pairs a
    grader case with a table case."""
    out = dict(SIGNATURES[block])
    out.update(zip(SIGNATURES[block], args, strict=False))
    out.update(kwargs or {})
    return out


def tensor(rng: np.random.Generator, *shape: int) -> torch.Tensor:
    """Standard normal float32 values (the grader's ``_tensor``)."""
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


# ---- modules: (a) DoubleConv, (b) Down, (c) Up, (d) UNet ---------------------------------------


@dataclass(frozen=True)
class ModuleCase:
    """One configuration of a module block: ``kwargs`` every constructor argument by name,
    ``inputs`` the forward's input shapes, ``output`` the shape it must return.

    ``any_valid_size``: the grader may draw another valid input size (unpadded UNet); ``meta``: the
    notebook runs it on the meta device (shapes and parameter count only); ``dtypes``: what the
    grader computes it in; ``gradients``: every parameter's gradient is compared too."""

    label: str
    kwargs: dict
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    grader: bool = True
    meta: bool = False
    any_valid_size: bool = False
    dtypes: tuple[str, ...] = ("float64", "float32")
    gradients: bool = True

    @property
    def args(self) -> tuple:
        """Positional arguments: in and out channels for the blocks, none for the UNet."""
        return tuple(self.kwargs[k] for k in _POSITIONAL) if "out_channels" in self.kwargs else ()

    @property
    def keywords(self) -> dict:
        """Keyword arguments (everything :attr:`args` does not hold)."""
        return {k: v for k, v in self.kwargs.items() if not (self.args and k in _POSITIONAL)}

    def draw(self, rng: np.random.Generator) -> list[torch.Tensor]:
        """The forward's inputs (float32 standard normal)."""
        return [tensor(rng, *shape) for shape in self.inputs]


@dataclass(frozen=True)
class BlockCases:
    """The cases of one module block and the grader's probes it is built from."""

    name: str
    cases: tuple[ModuleCase, ...]
    probes: tuple[str, ...] = ()


def _blocks(name: str, probes: tuple[str, ...], *rows: tuple) -> BlockCases:
    """A DoubleConv, Down or Up's cases from rows ``(flags, inputs, output[, note])``: channels
    from the shapes, the label is the call ``Name(in, out[, flag=True...])`` then the note."""
    made = []
    for flags, inputs, output, *note in rows:
        kw = _FLAGS | {"in_channels": inputs[0][1], "out_channels": output[1]} | flags
        call = [str(kw["in_channels"]), str(kw["out_channels"]), *(f"{k}=True" for k in flags)]
        made.append(ModuleCase(" ".join([f"{name}({', '.join(call)})", *note]), kw, inputs, output))
    return BlockCases(name, tuple(made), probes)


def _unet(**kw) -> dict:
    return SIGNATURES["UNet"] | kw


_PAD, _BN, _PAD_BN = {"padding": True}, {"batch_norm": True}, {"padding": True, "batch_norm": True}
# each case's comment: the mistakes it is there to catch (what the visible message names)
MODULES: dict[str, BlockCases] = {
    "double_conv": _blocks(
        "DoubleConv",
        (),
        ({}, ((2, 3, 20, 20),), (2, 8, 16, 16)),  # unpadded 3x3 convs, a ReLU after each, biases
        (_PAD, ((2, 3, 20, 20),), (2, 8, 20, 20)),  # padding ignored
        (_BN, ((2, 3, 20, 20),), (2, 8, 16, 16)),  # batch norm after the ReLU, batch_norm ignored
    ),
    "down": _blocks(
        "Down",
        ("DoubleConv",),
        ({}, ((2, 8, 24, 24),), (2, 16, 8, 8)),  # pooling after the convolutions, average pooling
        (_PAD_BN, ((2, 8, 24, 24),), (2, 16, 12, 12)),  # flags not passed to the DoubleConv
        (_BN, ((2, 8, 24, 24),), (2, 16, 8, 8)),  # padding and batch_norm swapped
    ),
    "up": _blocks(
        "Up",
        ("DoubleConv", "center_crop"),
        # torch.cat([x, skip]) order, the skip cropped at its top-left corner
        ({}, ((2, 16, 6, 6), (2, 8, 20, 20)), (2, 8, 8, 8), "(skip 20x20 cropped to 12x12)"),
        (_PAD_BN, ((2, 16, 6, 6), (2, 8, 12, 12)), (2, 8, 12, 12)),  # flags not passed on
        # crop offsets swapped, either rounding of an odd margin is right, flags swapped, the
        # height and width swapped (x not square: honest round 23's passed both sides)
        (
            _BN,
            ((2, 16, 6, 8), (2, 8, 17, 23)),
            (2, 8, 8, 12),
            "(x 6x8, skip 17x23 cropped to 12x16: unequal, odd margins)",
        ),
    ),
    "unet": BlockCases(
        "UNet",
        (
            # base_channels or depth ignored (hard-wired widths), skips, outc
            ModuleCase(
                "UNet(4, 4, base_channels=4, depth=3)",
                _unet(base_channels=4, depth=3),
                ((1, 4, 108, 108),),
                (1, 4, 20, 20),
                any_valid_size=True,
            ),
            ModuleCase(  # batch_norm or padding not passed to the blocks
                "UNet(4, 4, base_channels=4, depth=4, padding=True, batch_norm=True)",
                _unet(base_channels=4, depth=4, **_PAD_BN),
                ((2, 4, 48, 48),),
                (2, 4, 48, 48),
            ),
            ModuleCase(  # in_channels or num_classes hard-wired
                "UNet(in_channels=3, num_classes=5, base_channels=4, depth=2, padding=True)",
                _unet(in_channels=3, num_classes=5, base_channels=4, depth=2, **_PAD),
                ((2, 3, 16, 16),),
                (2, 5, 16, 16),
            ),
            ModuleCase(  # the default widths 64 -> 1024 and depth 4
                "the paper's network UNet(in_channels=1, num_classes=2) (its default widths and "
                "depth), padded, on a 16x16 input",
                _unet(in_channels=1, num_classes=2, **_PAD),
                ((2, 1, 16, 16),),
                (2, 2, 16, 16),
                meta=True,
                dtypes=("float32",),
                gradients=False,
            ),
            ModuleCase(  # 31,030,658 parameters, every block's shape of Figure 1
                "the paper's network UNet(in_channels=1, num_classes=2), 572 x 572 -> 388 x 388",
                _unet(in_channels=1, num_classes=2),
                ((1, 1, 572, 572),),
                (1, 2, 388, 388),
                grader=False,
                meta=True,
            ),
        ),
        probes=("DoubleConv", "Down", "Up", "center_crop"),
    ),
}


# ---- (c) center_crop -----------------------------------------------------------------------


@dataclass(frozen=True)
class CropCase:
    """``center_crop`` of a ``(2, 3, height, width)`` map to ``target_h x target_w``; where a
    margin is odd, either rounding of the centre is right."""

    height: int
    width: int
    target_h: int
    target_w: int
    grader: bool = True

    @property
    def label(self) -> str:
        return f"center_crop of a {self.height}x{self.width} map to {self.target_h}x{self.target_w}"

    def windows(self) -> list[tuple[int, int]]:
        """The accepted (top, left) offsets."""
        tops = {(self.height - self.target_h) // 2, (self.height - self.target_h + 1) // 2}
        lefts = {(self.width - self.target_w) // 2, (self.width - self.target_w + 1) // 2}
        return [(t, left) for t in sorted(tops) for left in sorted(lefts)]


CROPS: tuple[CropCase, ...] = (
    CropCase(8, 8, 4, 4, grader=False),  # the hand example: values 0..63
    CropCase(64, 64, 56, 56),
    CropCase(17, 20, 8, 13),  # unequal, odd margins: swapped offsets and top-left corners
    CropCase(9, 9, 9, 9),
    CropCase(30, 31, 1, 2),
)
# one more size drawn per run: heights and widths in [20, 40), targets in [4, 19)
CROP_RANDOM = {"size": (20, 40), "target": (4, 19)}


def crop_cases(rng: np.random.Generator, grader: bool = True) -> list[CropCase]:
    """The crop cases of a run: the fixed ones, then one drawn from ``rng``."""
    fixed = [c for c in CROPS if c.grader or not grader]
    h, w = (int(v) for v in rng.integers(*CROP_RANDOM["size"], 2))
    th, tw = (int(v) for v in rng.integers(*CROP_RANDOM["target"], 2))
    return [*fixed, CropCase(h, w, th, tw)]


# ---- (e) the loss --------------------------------------------------------------------------


@dataclass(frozen=True)
class LossCase:
    """One call ``loss(logits, target[, weight])``; its value and gradient equal the reference's
    (``F.cross_entropy`` with the same weight, in the notebook)."""

    label: str


# the loss's errors: torch's where float32 meets float64 (einsum, @, bmm): "expected scalar type Double but
# found Float", "expected m1 and m2 to have the same dtype, but got: double != float"
MIXED_DTYPES = re.compile(r"(?i)(?:scalar type|dtype).*(?:double.*float|float.*double)")


def loss_inputs(
    rng: np.random.Generator,
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]]:
    """``(label, logits, target, weight or None)`` of each loss case: logits of shape
    ``(2, 4, H, W)``, H and W drawn in [5, 9)."""
    n, c, h, w = 2, 4, int(rng.integers(5, 9)), int(rng.integers(5, 9))
    rand = rng.standard_normal((n, c, h, w)) * 3
    target = rng.integers(0, c, (n, h, w)).astype(np.int64)
    weight, zeros = rng.uniform(0.2, 3.0, c), np.zeros_like(target)
    return [  # the comments: the mistakes a case is there to catch
        ("random logits", rand, target, None),  # mean over the classes, sum over pixels, one_hot
        ("class weights", rand, target, weight),  # weights ignored, or divided by the pixels
        ("one class only in the target", rand, zeros, None),
        ("a single-class problem (C = 1)", rand[:, :1], zeros, None),
        ("extreme logits (+-1e4)", np.sign(rand) * 1e4, target, None),  # log(0), a clamped log
        ("extreme logits with weights", rand * 1e3, target, weight),
        ("float32 logits", rand.astype(np.float32), target, None),
        # the docstring's example: a loss made for BraTS's 4 classes only (honest round 21)
        ("one pixel, two classes", np.zeros((1, 2, 1, 1)), np.zeros((1, 1, 1), np.int64), None),
    ]


LOSSES: tuple[LossCase, ...] = tuple(LossCase(c[0]) for c in loss_inputs(visible_rng()))


# ---- (f) train_step and (g) predict: the small networks they run on -----------------------------


def small_net(kind: str) -> nn.Module:
    """The small networks of the train_step and predict cases (built the same on both sides, in
    the default dtype)."""
    if kind == "conv_bn_relu_conv":
        # no bias before the batch norm: its gradient would be rounding noise, which Adam amplifies
        conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
        return nn.Sequential(conv, nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 4, 1))
    if kind == "conv_bn":
        return nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
    raise ValueError(kind)


@dataclass(frozen=True)
class TrainStepCase:
    """``steps`` calls of ``train_step(model, images, labels, optimizer, F.cross_entropy)`` on
    ``small_net(net)`` handed over in evaluation mode, with ``Adam(lr)``: the returned losses (each
    before its update) and the final weights equal the reference's. It catches the loss returned
    after the update, zero_grad missing or between backward and step, model.train() missing."""

    net: str = "conv_bn_relu_conv"
    images: tuple[int, ...] = (3, 4, 10, 10)
    classes: int = 4
    steps: int = 3
    lr: float = 1e-2
    optimizer: str = "Adam"


TRAIN_STEP = TrainStepCase()


def train_step_inputs(
    rng: np.random.Generator, case: TrainStepCase = TRAIN_STEP
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """``(state_dict, images, labels)``: the start weights (float32, drawn from a seed of ``rng``),
    the batch and its labels."""
    torch.manual_seed(int(rng.integers(2**31)))
    state = {k: v.detach().clone() for k, v in small_net(case.net).state_dict().items()}
    images = tensor(rng, *case.images)
    n, _, h, w = case.images
    labels = torch.from_numpy(rng.integers(0, case.classes, (n, h, w)))
    return state, images, labels


@dataclass(frozen=True)
class DiceCase:
    """A pair of random masks of ``shape``, each pixel of the first set with probability ``p``, of
    the second with ``q`` (None: ``p``; p = 0: two empty masks, whose Dice is 1.0)."""

    shape: tuple[int, ...]
    p: float
    q: float | None = None


# (one empty mask: Dice 0, honest round 25's 1.0 passed; a volume's Dice is not the mean of its
# slices': a (3, 6, 6) pair dense enough that they always differ)
DICE_PAIRS: tuple[DiceCase, ...] = tuple(
    DiceCase(shape, p, q)
    for shape, p, q in [
        ((5, 6), 0.3, None), ((4, 8, 3), 0.05, None), ((10,), 0.0, None), ((3, 3), 1.0, None),
        ((7, 7), 0.5, None), ((6, 5), 0.4, 0.0), ((6, 5), 0.0, 0.4), ((3, 6, 6), 0.4, 0.3),
    ]
)  # fmt: skip


@dataclass(frozen=True)
class PredictCase:
    """``predict`` on ``small_net(net)`` left in training mode, its batch-norm running statistics
    away from 0 and 1: the argmax of the model in evaluation mode."""

    net: str = "conv_bn"
    images: tuple[int, ...] = (2, 4, 6, 6)
    warmup: tuple[int, ...] = (8, 4, 6, 6)


PREDICT = PredictCase()


@dataclass
class PredictDiceInputs:
    """What :func:`predict_dice_inputs` draws."""

    pairs: list[tuple[np.ndarray, np.ndarray]]
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    images: torch.Tensor | None = None


def predict_dice_inputs(rng: np.random.Generator) -> PredictDiceInputs:
    """The mask pairs of :data:`DICE_PAIRS`, then the predict network's state and images."""
    pairs = [
        (rng.random(c.shape) < c.p, rng.random(c.shape) < (c.p if c.q is None else c.q))
        for c in DICE_PAIRS
    ]
    torch.manual_seed(int(rng.integers(2**31)))
    model = small_net(PREDICT.net)
    with torch.no_grad():
        model(tensor(rng, *PREDICT.warmup) * 3 + 1)  # running statistics away from 0 and 1
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return PredictDiceInputs(pairs, state, tensor(rng, *PREDICT.images))


# compare name -> the notebook's check of the same block (it runs all the block's cases)
_BLOCKS = ("double_conv", "down", "center_crop", "up", "unet", "loss", "train_step", "predict_dice")
CHECKS: dict[str, str] = {name: f"check_{name}" for name in _BLOCKS}
