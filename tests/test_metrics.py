"""BraTS metrics against hand-computed cases."""

import numpy as np
import pytest

from unet_tp.metrics import HD95_EMPTY, brats_metrics, dice, hd95


def test_dice_by_hand():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0, :4] = True  # 4 pixels
    b[0, :2] = True  # 2 pixels, both inside a
    assert dice(a, b) == pytest.approx(2 * 2 / (4 + 2))
    assert dice(a, a) == 1.0


def test_empty_conventions():
    empty = np.zeros((5, 5, 5), bool)
    one = empty.copy()
    one[2, 2, 2] = True
    assert dice(empty, empty) == 1.0
    assert dice(one, empty) == 0.0 and dice(empty, one) == 0.0
    assert hd95(empty, empty) == 0.0
    assert hd95(one, empty) == HD95_EMPTY == pytest.approx(373.13, abs=0.01)
    assert hd95(empty, one) == HD95_EMPTY


def test_hd95_of_shifted_cube_is_the_shift():
    a = np.zeros((40, 40, 40), bool)
    b = np.zeros((40, 40, 40), bool)
    a[10:20, 10:20, 10:20] = True
    b[13:23, 10:20, 10:20] = True  # shifted by 3 voxels along axis 0
    assert hd95(a, b) == pytest.approx(3.0)
    assert hd95(a, b, spacing=(2.0, 1.0, 1.0)) == pytest.approx(6.0)
    assert hd95(a, a) == 0.0


def test_hd95_ignores_a_few_outliers_unlike_max_hausdorff():
    a = np.zeros((60, 60, 60), bool)
    a[10:30, 10:30, 10:30] = True
    b = a.copy()
    b[55, 55, 55] = True  # one stray voxel far away
    assert hd95(a, b) < 1.0


def test_brats_regions_on_original_labels():
    truth = np.zeros((10, 10, 10), np.uint8)
    truth[2:8, 2:8, 2:8] = 2  # edema
    truth[4:6, 4:6, 4:6] = 4  # enhancing
    pred = truth.copy()
    pred[pred == 4] = 1  # enhancing predicted as necrotic core
    m = brats_metrics(pred, truth)
    assert list(m) == ["dice_et", "dice_tc", "dice_wt", "hd95_et", "hd95_tc", "hd95_wt"]
    assert m["dice_wt"] == 1.0  # {1,2,4} identical
    assert m["dice_tc"] == 1.0  # {1,4}: same voxels
    assert m["dice_et"] == 0.0 and m["hd95_et"] == HD95_EMPTY  # ET missed entirely


def test_a_cases_voxel_sizes_follow_it_into_the_working_orientation():
    """HD95 is in mm: a case of 2 mm slices stored slices-first (155x240x240) has its 2 mm on
    the working orientation's slice axis (evaluate measured HD95 in voxels, data round 19)."""
    from unet_tp.data.cases import CaseVolumes

    def spacing(affine):
        return CaseVolumes(
            "c", np.zeros((4, 2, 2, 2)), None, np.array(affine, float), (2, 2, 2)
        ).spacing

    assert spacing(np.diag([-1.0, -1.0, 2.0, 1.0])) == (1.0, 1.0, 2.0)
    slices_first = [[0, -1, 0, 0], [0, 0, -1, 0], [2, 0, 0, 0], [0, 0, 0, 1]]  # axis 0: S, 2 mm
    assert spacing(slices_first) == (1.0, 1.0, 2.0)
    assert spacing([[0, -0.5, 0, 0], [-1, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]]) == (1.0, 0.5, 3.0)
