import numpy as np
import pytest

from unet_tp.conventions import REGIONS, region_mask, to_brats_labels, to_train_labels


def test_label_mapping_is_reversible():
    seg = np.array([[0, 1], [2, 4]], dtype=np.uint8)
    classes = to_train_labels(seg)
    assert classes.tolist() == [[0, 1], [2, 3]]
    assert to_brats_labels(classes).tolist() == seg.tolist()


def test_unknown_label_is_refused():
    with pytest.raises(ValueError, match=r"\[3\]"):
        to_train_labels(np.array([0, 3]))
    with pytest.raises(ValueError):
        to_brats_labels(np.array([4]))


def test_regions_follow_brats():
    assert REGIONS == {"wt": (1, 2, 4), "tc": (1, 4), "et": (4,)}
    seg = np.array([0, 1, 2, 4])
    assert region_mask(seg, "wt").tolist() == [False, True, True, True]
    assert region_mask(seg, "TC").tolist() == [False, True, False, True]
    assert region_mask(seg, "et").tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="unknown region"):
        region_mask(seg, "core")
