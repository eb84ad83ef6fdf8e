"""Progress bars: one tqdm helper for the kit (hidden where output is no terminal or notebook)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from tqdm.auto import tqdm

from unet_tp.i18n import language, tr


def progress_bar(
    iterable: Iterable | None = None, desc: str | None = None, enabled: bool = True, **kwargs
) -> tqdm:
    """A tqdm bar over ``iterable`` (or one updated by hand when ``iterable`` is None); in French
    its label ends with a spaced colon ("préparation des coupes : "), as French writes one."""
    if desc and language() == "fr":
        desc = f"{desc} "  # tqdm writes "{desc}: "
    return tqdm(iterable, desc=desc, disable=None if enabled else True, **kwargs)


def byte_bar(total: int | None, desc: str, enabled: bool = True, **kwargs) -> tqdm:
    """A bar counting bytes (KiB, MiB...), updated by hand: downloads, extraction."""
    return progress_bar(
        None, desc, enabled, total=total, unit="B", unit_scale=True, unit_divisor=1024, **kwargs
    )


def case_progress(desc: str | None = None) -> Callable[[Sequence], Iterable]:
    """What :func:`unet_tp.data.cache.prepare_cache` takes as ``progress``: a bar over the cases
    (``desc`` default: "preparing slices", in the current language)."""
    return lambda cases: progress_bar(cases, desc or tr("preparing slices"), unit=tr("case"))
