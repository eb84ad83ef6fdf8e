import numpy as np
import pytest

from unet_tp.data import brain_mask, split_cases, zscore


def test_split_is_by_patient_deterministic_and_order_free():
    ids = [f"case{i:02d}" for i in range(20)]
    train, val = split_cases(ids, val_fraction=0.25, seed=3)
    assert len(val) == 5 and len(train) == 15
    assert not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_cases(ids[::-1], val_fraction=0.25, seed=3) == (train, val)
    assert split_cases(ids, val_fraction=0.25, seed=4) != (train, val)


def test_split_is_stratified_by_grade():
    ids = [f"h{i}" for i in range(16)] + [f"l{i}" for i in range(4)]
    grades = ["HGG"] * 16 + ["LGG"] * 4
    _, val = split_cases(ids, val_fraction=0.25, seed=0, groups=grades)
    assert sum(v.startswith("l") for v in val) == 1
    assert sum(v.startswith("h") for v in val) == 4


def test_split_keeps_one_validation_case_for_tiny_sets():
    assert len(split_cases(["a", "b", "c"], val_fraction=0.1)[1]) == 1
    with pytest.raises(ValueError):
        split_cases(["a"], val_fraction=1.0)


def test_a_patients_timepoints_stay_on_one_side_of_the_split():
    """Data round 20: BraTS 2024's two scans of a patient (BraTS-GLI-02101-100 and -101) were
    put one in training and one in validation, a leak the README rules out."""
    ids = [f"BraTS-GLI-0210{p}-10{t}" for p in range(5) for t in range(2)] + ["BraTS-GLI-00007-000"]
    for seed in range(6):
        train, val = split_cases(ids, val_fraction=0.3, seed=seed)
        assert val and {c[:15] for c in train}.isdisjoint({c[:15] for c in val}), (train, val)
        assert sorted(train + val) == sorted(ids)
    one = ["BraTS-GLI-02100-100", "BraTS-GLI-02100-101"]  # one patient: nothing to hold out
    assert split_cases(one, val_fraction=0.2) == (one, [])


def test_zscore_over_the_brain_only():
    rng = np.random.default_rng(0)
    image = np.zeros((2, 10, 10, 4), dtype=np.float32)
    image[:, 2:8, 2:8] = rng.uniform(100, 900, size=(2, 6, 6, 4))
    mask = brain_mask(image)
    assert mask.sum() == 6 * 6 * 4
    out = zscore(image, mask)
    for c in range(2):
        assert abs(out[c][mask].mean()) < 1e-5
        assert abs(out[c][mask].std() - 1) < 1e-4
        assert (out[c][~mask] == 0).all()
