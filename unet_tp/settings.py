"""A training run's settings, by meaning, recorded once (:meth:`TrainConfig.to_json`) and read back
once (:meth:`TrainConfig.from_json`): ``seed`` (everything random in a run), ``grid`` (the
network's input: :class:`unet_tp.preprocess.Grid`), ``sampling`` (which slices and patients),
``model`` (the network's arguments), ``optim`` (epochs, batch, lr, loss, flips, AMP, workers);
the presets; and what a slice cache is made with (:class:`CacheSettings`). Torch-free, so that
``unet-tp --help`` starts without it. The device is not a setting: the command or the notebook
chooses it once.

Example:
    >>> config = preset_config("cpu-quick", epochs=2)
    >>> config.grid, config.optim.epochs, config.model.base_channels
    (Grid(crop=192, image_size=96), 2, 16)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from unet_tp.conventions import MODALITIES, NUM_CLASSES
from unet_tp.preprocess import Grid

CACHE_VERSION = 1
LOSS_NAMES = ("ce", "ce+dice")
"""The losses a run names (``optim.loss``): cross-entropy, and cross-entropy + soft Dice
(:data:`unet_tp.losses.LOSSES`)."""


@dataclass(frozen=True)
class CacheSettings:
    """What a cache is made with (any change rebuilds it): the share of tumour-free brain slices
    kept (every tumour slice is), the brain share that makes a brain slice, the network's grid
    (``crop``, ``image_size``: :class:`unet_tp.preprocess.Grid`) and the seed of the choice."""

    tumour_free_fraction: float = 0.25
    min_brain_fraction: float = 0.02
    crop: int | None = None
    image_size: int | None = None
    seed: int = 0
    version: int = CACHE_VERSION
    modalities: tuple[str, ...] = MODALITIES

    def __post_init__(self) -> None:
        if not 0 <= self.tumour_free_fraction <= 1:
            raise ValueError("tumour_free_fraction must be in [0, 1]")
        self.grid  # noqa: B018 - checks crop and image_size

    @property
    def grid(self) -> Grid:
        """The network's input grid these slices are stored on."""
        return Grid(self.crop, self.image_size)

    def to_json(self) -> dict:
        return {**asdict(self), "modalities": list(self.modalities)}

    @classmethod
    def from_json(cls, data: dict) -> CacheSettings:
        """The settings :meth:`to_json` wrote (a cache's metadata)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "modalities" in values:
            values["modalities"] = tuple(values["modalities"])
        return cls(**values)


@dataclass
class Sampling:
    """Which slices and patients a run sees."""

    tumour_free_fraction: float = 0.25  # share of each case's tumour-free slices in the cache
    val_fraction: float = 0.2  # share of patients held out for validation (split by patient)


@dataclass
class ModelSettings:
    """The network's constructor arguments (those of :class:`unet_tp.unet_base.UNetBase`)."""

    in_channels: int = 4  # the 4 MRI sequences
    num_classes: int = NUM_CLASSES  # background and the 3 tumour labels
    base_channels: int = 32  # width of the first level (64 in the paper)
    depth: int = 4  # pooling steps (4 in the paper)
    padding: bool = True  # padded convolutions (output size = input size)
    batch_norm: bool = True  # after each convolution (steadier training; not in the paper)

    def kwargs(self) -> dict:
        """The keyword arguments that build the network: ``UNet(**settings.kwargs())``."""
        return asdict(self)


@dataclass
class Optimisation:
    """How the network is optimised, and how the computation runs."""

    epochs: int = 20  # passes over the training slices
    batch_size: int = 16  # slices per step
    lr: float = 1e-3  # peak learning rate of Adam (cosine decay over the epochs)
    loss: str = "ce+dice"  # "ce" (Eq. 1 of the paper) or "ce+dice" (unet_tp.losses)
    augment: bool = True  # random left-right flips (the brain is roughly symmetric)
    amp: bool = True  # mixed precision on CUDA
    channels_last: bool = True  # NHWC memory layout on CUDA (faster with tensor cores)
    num_workers: int = 2  # DataLoader worker processes
    deterministic: bool = False  # bit-identical reruns (slower on GPU)
    # stop before an epoch would end past this many minutes (the best epoch kept); None: no budget
    time_budget_minutes: float | None = None


_SECTIONS = {"grid": Grid, "sampling": Sampling, "model": ModelSettings, "optim": Optimisation}


@dataclass
class TrainConfig:
    """The settings of a training run, by meaning (see the module's docstring)."""

    seed: int = 0
    grid: Grid = field(default_factory=lambda: Grid(crop=192))
    sampling: Sampling = field(default_factory=Sampling)
    model: ModelSettings = field(default_factory=ModelSettings)
    optim: Optimisation = field(default_factory=Optimisation)

    def flat(self) -> dict:
        """Every setting by its own name (``{"seed": 0, "crop": 192, ..., "epochs": 20}``): the
        names of the command-line flags and of the presets."""
        out = {"seed": self.seed}
        for name in _SECTIONS:
            out |= asdict(getattr(self, name))
        return out

    def to_json(self) -> dict:
        """``{"seed": ..., "grid": {...}, "sampling": {...}, "model": {...}, "optim": {...}}``."""
        return {"seed": self.seed} | {name: asdict(getattr(self, name)) for name in _SECTIONS}

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        """The settings :meth:`to_json` wrote (unknown keys, from a later version, are ignored)."""
        sections = {name: _section(name, data.get(name, {})) for name in _SECTIONS}
        return cls(seed=data.get("seed", TrainConfig().seed), **sections)

    def cache_settings(self) -> CacheSettings:
        """The slice cache these settings train on (grid, tumour-free share, seed)."""
        return CacheSettings(
            tumour_free_fraction=self.sampling.tumour_free_fraction,
            crop=self.grid.crop,
            image_size=self.grid.image_size,
            seed=self.seed,
        )

    def on_cache(self, cache: CacheSettings) -> TrainConfig:
        """These settings for training on a prepared cache: its grid and tumour-free share."""
        sampling = replace(self.sampling, tumour_free_fraction=cache.tumour_free_fraction)
        return replace(self, grid=cache.grid, sampling=sampling)

    def for_model(self, model: object) -> TrainConfig:
        """These settings with the model section of the network actually built (its ``config``
        when it reports one, as :class:`unet_tp.unet_base.UNetBase` does)."""
        reported = getattr(model, "config", None)
        if not isinstance(reported, dict) or set(reported) != _field_names(ModelSettings):
            return self
        return replace(self, model=ModelSettings(**reported))


SETTING_NAMES = tuple(TrainConfig().flat())
"""The flat names of all settings (flags and presets use them)."""


PRESETS: dict[str, dict] = {
    "cpu-quick": dict(
        epochs=6,
        batch_size=16,
        lr=2e-3,
        base_channels=16,
        crop=192,
        image_size=96,
        num_workers=0,
        loss="ce+dice",
    ),
    "colab-t4": dict(
        epochs=15,
        batch_size=16,
        lr=1e-3,
        base_channels=32,
        crop=192,
        image_size=None,
        num_workers=2,
    ),
    "paper": dict(
        epochs=30,
        batch_size=16,
        lr=3e-4,
        base_channels=64,
        batch_norm=False,
        crop=192,
        image_size=None,
    ),
    "notebook-cpu": dict(
        epochs=8,
        batch_size=16,
        lr=3e-3,
        base_channels=16,
        depth=3,
        crop=192,
        image_size=64,
        num_workers=0,
        loss="ce",
    ),
    "tiny": dict(
        epochs=1,
        batch_size=8,
        lr=2e-3,
        base_channels=4,
        depth=3,
        crop=192,
        image_size=48,
        num_workers=0,
    ),
}


PRESET_USES = {
    "cpu-quick": "a machine without GPU, about 2.5 minutes for the 16 sample cases on 2 CPU cores",
    "colab-t4": "a Colab T4 GPU: full-resolution crops, mixed precision",
    "paper": "the paper's widths (64 -> 1024) without batch norm: a reference run on a large GPU",
    "notebook-cpu": "what the notebook trains without a GPU, about a minute on 2 CPU cores",
    "tiny": "smoke tests and autograding, seconds on a CPU",
}
"""What each preset is for (``unet-tp train --help`` adds the values of :data:`PRESETS`)."""


def preset_config(name: str | None, **overrides) -> TrainConfig:
    """A TrainConfig from a preset, explicit settings (flat names, not None) taking precedence;
    a ValueError for an unknown preset or setting name."""
    values: dict = {}
    if name is not None:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = dict(PRESETS[name])
    unknown = sorted(set(overrides) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTING_NAMES)}"
        )
    values.update({k: v for k, v in overrides.items() if v is not None})
    seed = values.get("seed", TrainConfig().seed)
    return TrainConfig.from_json({"seed": seed} | {name: values for name in _SECTIONS})


def _field_names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def _section(name: str, values: dict):
    """Section ``name`` of the default settings, with the values given for its own fields."""
    default = getattr(TrainConfig(), name)
    return replace(default, **{k: v for k, v in values.items() if k in _field_names(type(default))})
