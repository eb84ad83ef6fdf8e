"""The network drawn by the kit: the figure's feature maps are the network's, and the
overlap-tile figure uses the unpadded network's own border."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from solutions.unet import UNet
from unet_tp.diagrams import draw_overlap_tile, draw_unet, unet_feature_maps
from unet_tp.viz import layer_table


def test_the_drawn_unet_is_the_papers_and_matches_the_layer_table():
    maps, arrows = unet_feature_maps(572)
    assert [m.size for m in maps[:3]] == [572, 570, 568]
    assert (maps[-1].channels, maps[-1].size) == (2, 388)
    assert max(m.channels for m in maps) == 1024
    assert sum(meaning == "max pool 2x2" for *_, meaning in arrows) == 4
    assert sum(meaning == "copy and crop" for *_, meaning in arrows) == 4
    # every block's output in the layer table is a bar of the figure, with its channels and size
    bars = {(m.channels, m.size) for m in maps}
    for row in layer_table(UNet(1, 2), (1, 1, 572, 572)):
        _, channels, size, _ = row["output_shape"]
        assert (channels, size) in bars, row


def test_a_size_the_unpadded_network_cannot_take_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="cannot take 570"):
        unet_feature_maps(570)


def test_the_figures_draw(tmp_path):
    draw_unet().savefig(tmp_path / "unet.png")
    fig = draw_overlap_tile(out_tile=100)
    assert "mirrored by 92 px" in fig.axes[0].get_title()
    assert "input 284x284" in fig.axes[1].get_title()
    fig.savefig(tmp_path / "tile.png")


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_the_unet_figure_shows_as_an_image_in_a_fresh_notebook(tmp_path):
    """French tester: ``draw_unet()`` as the first figure of a notebook showed only the text
    ``<Figure size 1300x750 with 1 Axes>`` (no plot drawn before it); it shows once, as an image."""
    source = "from unet_tp.diagrams import draw_overlap_tile, draw_unet\n\ndraw_unet()"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    resources = {"metadata": {"path": str(tmp_path)}}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources=resources).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["execute_result"], outputs
    assert "image/png" in outputs[0].data


def test_the_overlap_tile_figure_shows_several_tiles_on_a_small_slice():
    """French tester: on the 64x64 slices of a CPU run, output tiles of 100 were larger than the
    slice (one tile, a wallpaper of mirrored brains)."""
    fig = draw_overlap_tile(np.random.default_rng(0).random((64, 64)), out_tile=100)
    assert "output tiles of 36" in fig.axes[0].get_title(), fig.axes[0].get_title()
