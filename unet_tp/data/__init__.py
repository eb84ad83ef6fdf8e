"""BraTS 2019 data: discovery and reading, sample cases, downloads, slice cache, Dataset."""

from __future__ import annotations

from unet_tp.data.cases import Case, CaseVolumes, DataError, Scan, find_cases, load_case, scan_cases
from unet_tp.data.split import split_cases
from unet_tp.preprocess import brain_mask, zscore

__all__ = [
    "Case",
    "CaseVolumes",
    "DataError",
    "Scan",
    "brain_mask",
    "find_cases",
    "load_case",
    "scan_cases",
    "split_cases",
    "zscore",
]
