"""BraTS 2019 data: discovery and reading, sample cases, downloads, slice cache, Dataset."""

from __future__ import annotations

from unet_tp.data.cases import Case, CaseVolumes, DataError, find_cases, load_case
from unet_tp.data.normalize import brain_mask, zscore
from unet_tp.data.split import split_cases

__all__ = [
    "Case",
    "CaseVolumes",
    "DataError",
    "brain_mask",
    "find_cases",
    "load_case",
    "split_cases",
    "zscore",
]
