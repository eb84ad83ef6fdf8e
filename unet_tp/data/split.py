"""Train/validation split by patient, never by slice."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

# BraTS 2023-2024's ids: patient, then timepoint (BraTS-GLI-02100-100 and -101: one patient)
_TIMEPOINT = re.compile(r"(BraTS-[A-Z]+-\d+)-\d+")


def patient_of(case_id: str) -> str:
    """The patient a case is of: ``BraTS-GLI-02100`` for ``BraTS-GLI-02100-101``, else its id."""
    return m[1] if (m := _TIMEPOINT.fullmatch(case_id)) else case_id


def split_cases(
    case_ids: Sequence[str],
    val_fraction: float = 0.2,
    seed: int = 0,
    groups: Sequence[str | None] | None = None,
) -> tuple[list[str], list[str]]:
    """Cases split into sorted ``(train_ids, val_ids)`` by patient (a patient's scans, one per
    timepoint, on one side: data round 20 found two on both): ``val_fraction`` of the patients of
    each of ``groups`` (e.g. HGG/LGG) held out, at least one when there are two patients or
    more; by the set of ids and the seed only (a patient's slices are correlated: splitting
    slices would leak)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if len(set(case_ids)) != len(case_ids):
        raise ValueError("case ids must be unique")
    groups = list(groups) if groups is not None else [None] * len(case_ids)
    scans: dict[str, list[str]] = {}
    by_group: dict[str, set[str]] = {}
    for case_id, group in zip(case_ids, groups, strict=True):
        scans.setdefault(patient := patient_of(case_id), []).append(case_id)
        if len(scans[patient]) == 1:  # (in its first scan's group)
            by_group.setdefault(str(group), set()).add(patient)
    val: list[str] = []
    for name in sorted(by_group):
        ids = sorted(by_group[name])
        rng = np.random.default_rng([seed, *name.encode()])
        order = rng.permutation(len(ids))
        n_val = math.floor(len(ids) * val_fraction + 0.5)
        val.extend(ids[i] for i in order[:n_val])
    if val_fraction > 0 and not val and len(scans) >= 2:
        ids = sorted(scans)
        val = [ids[np.random.default_rng(seed).integers(len(ids))]]
    val_set = {case_id for patient in val for case_id in scans[patient]}
    return sorted(c for c in case_ids if c not in val_set), sorted(val_set)
