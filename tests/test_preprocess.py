"""The one preprocessing path (unet_tp.preprocess) and the atomic folder helper."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unet_tp.data.cache import CacheSettings
from unet_tp.fileio import atomic_dir
from unet_tp.preprocess import Grid, network_images, network_labels, normalise
from unet_tp.train import preset_config


@pytest.mark.parametrize("crop", [None, 192, 260])
def test_grid_round_trip_gives_back_the_labels_inside_the_crop(crop):
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, size=(240, 240, 3)).astype(np.uint8)
    grid = Grid(crop=crop)
    small = network_labels(classes, np.arange(3), grid)
    logits = F.one_hot(torch.from_numpy(small).long(), 4).movedim(-1, 1).float()
    back = grid.from_network(logits, 240, 240).numpy()
    keep = slice((240 - crop) // 2, (240 + crop) // 2) if crop and crop < 240 else slice(None)
    assert np.array_equal(back[:, keep, keep], np.moveaxis(classes, -1, 0)[:, keep, keep])
    if crop and crop < 240:
        assert not back[:, : keep.start].any()


@pytest.mark.parametrize("height, width", [(121, 121), (155, 187), (239, 240)])
def test_slices_of_any_size_come_back_where_they_were(height, width):
    """Data round 21: a slice an odd number of pixels smaller than the crop came back one pixel
    off (a perfect model scored Dice 0.85 on 121x121 slices at crop 192)."""
    classes = np.random.default_rng(1).integers(0, 4, size=(height, width, 2)).astype(np.uint8)
    for grid in (Grid(crop=192), Grid(crop=192, image_size=None), Grid(crop=200)):
        small = network_labels(classes, np.arange(2), grid)
        logits = F.one_hot(torch.from_numpy(small).long(), 4).movedim(-1, 1).float()
        back = grid.from_network(logits, height, width).numpy()
        h, w = min(height, grid.crop), min(width, grid.crop)
        top, left = (height - h) // 2, (width - w) // 2
        want = np.moveaxis(classes, -1, 0)[:, top : top + h, left : left + w]
        assert np.array_equal(back[:, top : top + h, left : left + w], want)


def test_grid_is_declared_once_and_shared():
    config = preset_config("cpu-quick")
    assert config.grid == config.cache_settings().grid == Grid(192, 96)
    assert Grid.of(CacheSettings(crop=192, image_size=96)) == Grid(192, 96)
    assert config.grid.input_size() == (96, 96) and Grid(160).input_size() == (160, 160)
    with pytest.raises(ValueError, match="at least 8"):
        Grid(crop=4)


def test_network_images_are_normalised_slices_on_the_grid():
    image = np.zeros((4, 240, 240, 5), np.float32)
    image[:, 60:180, 60:180, 1:4] = np.arange(4)[:, None, None, None] + 1
    image[0, 100, 100, 2] = 9
    z_image, mask = normalise(image)
    assert mask[:, :, 1:4].any() and not mask[:, :, [0, 4]].any()
    x = network_images(z_image, np.array([2]), Grid(192, 48))
    assert x.shape == (1, 4, 48, 48) and x.dtype == np.float32


def test_atomic_dir_renames_on_success_and_leaves_nothing_on_error(tmp_path):
    with atomic_dir(tmp_path / "done") as tmp:
        (tmp / "a.txt").write_text("a")
    assert (tmp_path / "done" / "a.txt").read_text() == "a"
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "failed") as tmp:
        (tmp / "b.txt").write_text("b")
        raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]
