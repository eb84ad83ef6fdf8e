"""Figures, checked for what a viewer sees: colours where the labels are, the right slice, legends."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from solutions import UNet
from unet_tp import viz
from unet_tp.data import find_cases, load_case

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vol(brats_root):
    return load_case(find_cases(brats_root)[0])


def _overlay_images(ax):
    return [
        im for im in ax.get_images() if im.get_array().ndim == 3 and im.get_array().shape[-1] == 4
    ]


def test_default_slice_has_the_largest_tumour_area(vol):
    z = viz.largest_tumour_slice(vol.seg)
    areas = (vol.seg > 0).sum(axis=(0, 1))
    assert areas[z] == areas.max() > 0
    fig = viz.show_case(vol.image, vol.seg, title=vol.case_id)
    assert f"axial slice {z}" in fig._suptitle.get_text()


def test_a_cached_patients_figures_give_the_volumes_slice_number(vol):
    """Tester: a cached patient's figure said "axial slice 28" (its 28th cached slice) for the
    volume's z=88: slice_z (cached_patient's) numbers them."""
    z = viz.largest_tumour_slice(vol.seg)
    slice_z = tuple(range(60, 60 + vol.seg.shape[2]))
    fig = viz.show_case(vol.image, vol.seg, title=vol.case_id, slice_z=slice_z)
    assert fig._suptitle.get_text().endswith(f"axial slice {60 + z}")
    fig = viz.show_prediction(vol.image, vol.seg, vol.seg, slice_z=slice_z)
    assert fig._suptitle.get_text().startswith(f"axial slice {60 + z} (FLAIR)")


def test_the_prediction_figure_names_the_patient(vol):
    """French tester: Question 5 asks about "your worst patient (shown above)", whose figure did
    not say who it was."""
    fig = viz.show_prediction(vol.image, vol.seg, vol.seg, title=vol.case_id)
    assert fig._suptitle.get_text().startswith(f"{vol.case_id} — axial slice ")


def test_overlay_colours_sit_where_the_labels_are(vol):
    fig = viz.show_case(vol.image, vol.seg)
    z = viz.largest_tumour_slice(vol.seg)
    seg = vol.seg[:, :, z]
    assert len(fig.axes) == 4
    for ax, name in zip(fig.axes, ("T1", "T1ce", "T2", "FLAIR"), strict=True):
        assert ax.get_title() == name
        (overlay,) = _overlay_images(ax)
        rgba = np.asarray(overlay.get_array())
        for label, colour in viz.LABEL_COLOURS.items():
            if (seg == label).any():
                assert np.abs(rgba[seg == label][:, :3] - to_rgba(colour)[:3]).max() < 1e-6
        assert (rgba[seg == 0][:, 3] == 0).all()  # transparent off the tumour
    # the legend names the three tumour labels
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["1: necrotic / non-enhancing core", "2: edema", "4: enhancing tumour"]


def test_rendered_pixels_show_the_tumour(vol):
    """Render the figure and look at it: red, green and yellow pixels appear in each panel."""
    fig = viz.show_case(vol.image, vol.seg)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((r > 150) & (g < 90) & (b < 90)).sum() > 50  # red-ish: necrotic core
    assert ((g > 120) & (r < 110) & (b < 110)).sum() > 50  # green-ish: edema
    assert ((r > 160) & (g > 160) & (b < 100)).sum() > 50  # yellow-ish: enhancing rim


def test_orientation_marks_and_radiological_layout(vol):
    fig = viz.show_case(vol.image, vol.seg)
    marks = {t.get_text(): t.get_position() for t in fig.axes[0].texts}
    assert marks["A"][1] > marks["P"][1]  # anterior at the top
    assert marks["R"][0] < marks["L"][0]  # patient's right on the image's left


def test_prediction_error_map(vol):
    pred = vol.seg.copy()
    z = viz.largest_tumour_slice(vol.seg)
    pred[:, :, z][pred[:, :, z] == 2] = 0  # miss the edema on that slice
    fig = viz.show_prediction(vol.image, vol.seg, pred, z=z)
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "ground truth",
        "prediction",
        "whole-tumour errors",
    ]
    (err,) = _overlay_images(fig.axes[2])
    rgba = np.asarray(err.get_array())
    missed = vol.seg[:, :, z] == 2
    assert np.abs(rgba[missed][:, :3] - to_rgba(viz.ERROR_COLOURS["missed"])[:3]).max() < 1e-6
    assert (rgba[~missed][:, 3] == 0).all()
    assert "WT" in fig._suptitle.get_text()


def test_training_curves():
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.2 / e,
            "dice_wt": 0.5 + e / 10,
            "dice_tc": 0.4,
            "dice_et": 0.3,
        }
        for e in range(1, 5)
    ]
    fig = viz.plot_history(history)
    ax_loss, ax_dice = fig.axes
    assert ax_loss.get_xlabel() == "epoch" and ax_loss.get_ylabel() == "loss"
    assert [line.get_label() for line in ax_loss.get_lines()] == ["training", "validation"]
    assert [line.get_label() for line in ax_dice.get_lines()] == [
        "WT {1,2,4}",
        "TC {1,4}",
        "ET {4}",
    ]
    np.testing.assert_allclose(ax_dice.get_lines()[0].get_ydata(), [0.6, 0.7, 0.8, 0.9])


def test_layer_table_for_students():
    rows = viz.layer_table(UNet(base_channels=8, padding=True), (1, 4, 240, 240))
    assert [r["layer"] for r in rows][:3] == ["inc", "downs.0", "downs.1"]
    assert rows[0]["output_shape"] == (1, 8, 240, 240)
    assert rows[4]["output_shape"] == (1, 128, 15, 15)  # bottom of the U
    assert rows[-1] == {
        "layer": "outc",
        "type": "OutConv",
        "output_shape": (1, 4, 240, 240),
        "params": 36,
    }
    text = viz.format_layer_table(rows)
    total = sum(p.numel() for p in UNet(base_channels=8).parameters())
    assert f"{total:,}" in text.splitlines()[-1]
    paper = viz.layer_table(UNet(1, 2, padding=False), (1, 1, 572, 572))
    assert paper[-1]["output_shape"] == (1, 2, 388, 388)


def test_the_class_balance_and_score_tables():
    """The notebook's class-balance and evaluation cells print these (in the notebook's
    language): a share per class, and each patient's scores with their mean last."""
    lines = viz.class_balance_table([90, 2, 6, 2]).splitlines()
    assert lines == [
        "background    90.00 %",
        "NCR/NET (1)    2.00 %",
        "ED (2)         6.00 %",
        "ET (4)         2.00 %",
    ]
    scores = {
        "BraTS19_X_1": {"Dice WT": 0.5, "HD95 WT": 2.0},
        "BraTS19_X_2": {"Dice WT": 0.7, "HD95 WT": 4.0},
    }
    lines = viz.score_table(scores).splitlines()
    assert lines[0] == f"{'patient':28s}  Dice WT  HD95 WT"
    assert lines[1] == f"{'BraTS19_X_1':28s}    0.500      2.0"  # (HD95: mm, one decimal)
    assert lines[-1] == f"{'mean':28s}    0.600      3.0"


def test_layer_table_runs_a_students_net_that_the_meta_device_cannot():
    class DataDependent(torch.nn.Module):  # .item() needs real values
        def __init__(self):
            super().__init__()
            self.inc = torch.nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return self.inc(x) * float(x.abs().max().item() + 1)

    model = DataDependent()
    weight = model.inc.weight.detach().clone()
    rows = viz.layer_table(model, (1, 1, 8, 8))
    assert rows == [{"layer": "inc", "type": "Conv2d", "output_shape": (1, 2, 6, 6), "params": 20}]
    assert torch.equal(model.inc.weight, weight) and model.training  # the model is untouched


def test_browser_falls_back_to_a_static_figure(vol, capsys):
    import matplotlib.pyplot as plt

    plt.close("all")
    assert viz.browse({"a": (vol.image, vol.seg, None)}) is None  # nothing a cell shows again
    assert "static figure" in capsys.readouterr().out
    assert len(plt.get_fignums()) == 1 and len(plt.gcf().axes) == 4


def test_browse_displays_the_widget_once_and_returns_nothing(vol, monkeypatch):
    pytest.importorskip("ipywidgets")
    import IPython.display

    shown = []
    monkeypatch.setattr(viz, "_widgets_available", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    assert viz.browse({"a": (vol.image, vol.seg, None)}) is None
    assert [type(w).__name__ for w in shown] == ["VBox"]


def test_browser_widgets_follow_the_case(vol, monkeypatch):
    """The widget browser: controls for case, slice, modality, opacity and GT vs prediction."""
    pytest.importorskip("ipywidgets")
    small = vol.image[..., 60:100]
    cases = {"a": (vol.image, vol.seg, vol.seg), "b": (small, None, None)}
    box = viz.browser(cases, "a")
    (w_case, w_mod), (w_z, w_alpha) = box.children[0].children, box.children[1].children
    w_layer = box.children[2]
    assert w_z.value == viz.largest_tumour_slice(vol.seg) and len(w_z.options) == 155
    assert w_mod.options == ("T1", "T1ce", "T2", "FLAIR")  # as the figures name them
    assert w_layer.options == (("ground truth", "ground truth"), ("prediction", "prediction"))
    w_alpha.value = 0.8
    w_layer.value = "prediction"
    w_case.value = "b"  # a shorter case without segmentation: the slice range follows
    assert len(w_z.options) == 40 and w_z.value == 20


def test_the_browser_numbers_a_cached_patients_slices_as_the_figures_do(vol):
    """Student walkthrough: the browser said "slice 44" (the cache's index) where show_case said
    "axial slice 88" for the same slice: with slice_z, both give the volume's axial index."""
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt

    small = vol.image[..., 60:100]
    numbers = {"a": tuple(range(60, 100))}
    box = viz.browser({"a": (small, vol.seg[..., 60:100], None)}, "a", slice_z=numbers)
    w_z = box.children[1].children[0]
    z = viz.largest_tumour_slice(vol.seg[..., 60:100])
    assert w_z.value == z and w_z.label == str(60 + z)  # the slider reads the volume's z
    static = viz.show_case(small, vol.seg[..., 60:100], slice_z=numbers["a"])
    assert static._suptitle.get_text() == f"axial slice {60 + z}"
    assert static.axes[1].get_title() == "T1ce"
    cases = {"a": (small, None, None)}
    browsed = viz._browser_slice(cases, "a", z, "T1ce", 0.5, "prediction", numbers["a"])
    assert browsed.axes[0].get_title() == f"a — axial slice {60 + z} — T1ce"
    assert browsed.axes[0].get_xlabel() == "no prediction for this case"
    plt.close("all")


WIDGETS_8_CHECK = """
import ipywidgets, numpy as np
from tqdm.notebook import tqdm
from unet_tp import viz
assert ipywidgets.__version__.startswith("8."), ipywidgets.__version__
image = np.random.default_rng(0).normal(size=(4, 16, 16, 10)).astype("float32")
seg = np.zeros((16, 16, 10), "uint8")
seg[4:8, 4:8, 3] = 2
box = viz.browser({"a": (image, seg, seg), "b": (image[..., :5], None, None)}, "a")
(w_case, _), (w_z, _) = box.children[0].children, box.children[1].children
w_case.value = "b"
assert len(w_z.options) == 5, w_z.options
for _ in tqdm(range(3)):
    pass
print("ok", ipywidgets.__version__)
"""


@pytest.mark.slow
def test_browser_and_progress_bars_work_with_ipywidgets_8(tmp_path):
    """The tests run Colab's ipywidgets 7.7.1; the student package also accepts 8: same widgets."""
    target = tmp_path / "widgets8"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-t", str(target)]
        + ["ipywidgets>=8,<9", "widgetsnbextension>=4,<5"],
        capture_output=True,
        text=True,
    )
    if pip.returncode != 0:
        pytest.skip(f"ipywidgets 8 cannot be installed here: {pip.stderr.strip()[-200:]}")
    out = subprocess.run(
        [sys.executable, "-c", WIDGETS_8_CHECK],
        env={**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{ROOT}", "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "\nok 8." in "\n" + out.stdout, out.stderr[-2000:]


def test_outside_the_brain_is_black(vol):
    """French tester: the normalised volume's background (0, the brain z-scored around it)
    showed mid-gray on the brain's scale."""
    image = vol.image.astype(np.float32)
    brain = image != 0
    image[brain] = (image[brain] - image[brain].mean()) / image[brain].std()  # z-scored
    fig = viz.show_case(image, vol.seg)
    shown = fig.axes[0].images[0]
    rgba = shown.to_rgba(shown.get_array())
    assert tuple(rgba[0, 0]) == (0, 0, 0, 1), rgba[0, 0]
    z = viz.largest_tumour_slice(vol.seg)
    inside = np.argwhere(brain[0, :, :, z])
    assert rgba[tuple(inside[len(inside) // 2])][:3].max() > 0
