"""Train/validation split by patient, never by slice."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def split_cases(
    case_ids: Sequence[str],
    val_fraction: float = 0.2,
    seed: int = 0,
    groups: Sequence[str | None] | None = None,
) -> tuple[list[str], list[str]]:
    """Patients split into sorted ``(train_ids, val_ids)``: ``val_fraction`` of each of ``groups``
    (e.g. HGG/LGG) held out, at least one when there are two cases or more; by the set of ids and
    the seed only (a patient's slices are correlated: splitting slices would leak)."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if len(set(case_ids)) != len(case_ids):
        raise ValueError("case ids must be unique")
    groups = list(groups) if groups is not None else [None] * len(case_ids)
    by_group: dict[str, list[str]] = {}
    for case_id, group in zip(case_ids, groups, strict=True):
        by_group.setdefault(str(group), []).append(case_id)
    val: list[str] = []
    for name in sorted(by_group):
        ids = sorted(by_group[name])
        rng = np.random.default_rng([seed, *name.encode()])
        order = rng.permutation(len(ids))
        n_val = math.floor(len(ids) * val_fraction + 0.5)
        val.extend(ids[i] for i in order[:n_val])
    if val_fraction > 0 and not val and len(case_ids) >= 2:
        ids = sorted(case_ids)
        val = [ids[np.random.default_rng(seed).integers(len(ids))]]
    val_set = set(val)
    return sorted(c for c in case_ids if c not in val_set), sorted(val)
