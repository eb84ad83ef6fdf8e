"""Training, checkpoints and the train / evaluate / predict commands on sample cases."""

import json
import os
import socket
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from solutions import UNet, categorical_cross_entropy
from unet_tp.cli import main
from unet_tp.conventions import BRATS_AFFINE
from unet_tp.data import find_cases
from unet_tp.data.cache import SliceDataset
from unet_tp.preprocess import Grid
from unet_tp.train import fit, load_checkpoint, load_weights, preset_config

TINY = ["--preset", "tiny", "--num-workers", "0"]


def _run(cache, out, config, loss_fn=categorical_cross_entropy, resume=False):
    ids = sorted(SliceDataset(cache).case_ids)
    torch.manual_seed(config.seed)
    model = UNet(**config.model.kwargs())
    return fit(
        model,
        SliceDataset(cache, ids[:3]),
        SliceDataset(cache, ids[3:]),
        config,
        out,
        loss_fn=loss_fn,
        resume=resume,
        device=torch.device("cpu"),
        progress=False,
    )


def _strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.slow
def test_history_has_loss_and_dice_per_epoch(tiny_cache, tmp_path):
    config = preset_config("tiny", epochs=2)
    history = _run(tiny_cache, tmp_path, config)
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"train_loss", "val_loss", "dice_wt", "dice_tc", "dice_et", "lr"} <= set(history[0])
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert json.loads((tmp_path / "history.json").read_text())[1]["epoch"] == 2
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


@pytest.mark.slow
def test_resume_gives_the_same_history_as_an_uninterrupted_run(tiny_cache, tmp_path):
    config = preset_config("tiny", epochs=3)
    straight = _run(tiny_cache, tmp_path / "a", config)
    steps = {"n": 0}

    def interrupt_in_epoch_2(logits, target):
        if logits.requires_grad:
            steps["n"] += 1
            if (
                steps["n"]
                > len(SliceDataset(tiny_cache, sorted(SliceDataset(tiny_cache).case_ids)[:3])) // 8
            ):
                raise KeyboardInterrupt
        return categorical_cross_entropy(logits, target)

    with pytest.raises(KeyboardInterrupt):
        _run(tiny_cache, tmp_path / "b", config, loss_fn=interrupt_in_epoch_2)
    assert len(json.loads((tmp_path / "b" / "history.json").read_text())) == 1
    resumed = _run(tiny_cache, tmp_path / "b", config, resume=True)
    assert _strip(resumed) == _strip(straight)


@pytest.mark.slow
def test_checkpoint_of_another_configuration_is_refused(tiny_cache, tmp_path):
    _run(tiny_cache, tmp_path, preset_config("tiny"))
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="base_channels=4 in the checkpoint but 8 here"):
        load_weights(UNet(**preset_config("tiny", base_channels=8).model.kwargs()), ckpt)
    (tmp_path / "junk.pt").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.slow
def test_train_evaluate_predict_commands(brats_root, tmp_path, capsys):
    run = tmp_path / "run"
    train = ["train", "--data", str(brats_root), "--out", str(run)]
    assert main([*train, "--cache", str(tmp_path / "c"), *TINY]) == 0
    for name in ("checkpoint.pt", "history.json", "metrics.json"):
        assert (run / name).exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["mean"]) == {
        "dice_wt",
        "dice_tc",
        "dice_et",
        "hd95_wt",
        "hd95_tc",
        "hd95_et",
    }
    val_ids = load_checkpoint(run / "checkpoint.pt")["split"]["val"]
    assert sorted(metrics["cases"]) == sorted(val_ids) and len(val_ids) == 1

    # an existing run is not overwritten; resuming with other settings is refused
    assert main([*train, *TINY]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main([*train, "--resume", "--base-channels", "8"]) == 2
    assert "--base-channels 8 (the run used 4)" in capsys.readouterr().err

    ids = [c.case_id for c in find_cases(brats_root)]
    out_json = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--data",
                str(brats_root),
                "--checkpoint",
                str(run / "checkpoint.pt"),
                "--out",
                str(out_json),
                "--cases",
                *ids[:2],
            ]
        )
        == 0
    )
    result = json.loads(out_json.read_text())
    assert sorted(result["cases"]) == ids[:2] and "dice_et" in result["mean"]
    # data round 20: training patients' scores were given without a word
    trained = json.loads(json.dumps(load_checkpoint(run / "checkpoint.pt")["split"]))["train"]
    said = capsys.readouterr().out
    of_training = [c for c in ids[:2] if c in trained]
    assert ("of the run's training patients" in said) == bool(of_training), said

    case_dir = find_cases(brats_root)[0].directory
    seg_path = tmp_path / "pred" / "seg.nii.gz"
    predict = ["predict", "--case", str(case_dir), "--checkpoint", str(run / "checkpoint.pt")]
    assert main([*predict, "--out", str(seg_path)]) == 0
    img = nib.load(str(seg_path))
    assert img.shape == (240, 240, 155) and np.allclose(img.affine, BRATS_AFFINE)
    assert set(np.unique(np.asanyarray(img.dataobj))) <= {0, 1, 2, 4}
    assert main([*predict, "--out", str(seg_path)]) == 2  # no silent overwrite


def test_bad_inputs_to_train(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert (
        main(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r"), *TINY]) == 2
    )
    assert "no BraTS case found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--preset", "gpu-fast"]
        )
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("gpu-fast")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_training_with_two_cpu_processes(tiny_cache, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "unet_tp",
        "train",
        "--data",
        str(tiny_cache),
        "--out",
        str(tmp_path / "ddp"),
        "--epochs",
        "2",
        *TINY,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "dice_wt" in history[-1]
    assert load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")["epoch"] == 1


@pytest.mark.slow
def test_builtin_step_is_the_reference_step_on_cpu():
    """One step path: without mixed precision, the built-in step does what the notebook's does."""
    import copy

    import torch.nn.functional as F

    from solutions import train_step
    from unet_tp.train import reference_step

    torch.manual_seed(0)
    a = UNet(**preset_config("tiny").model.kwargs())
    b = copy.deepcopy(a)
    x, y = torch.randn(2, 4, 32, 32), torch.randint(0, 4, (2, 32, 32))
    la = reference_step(a, x, y, torch.optim.Adam(a.parameters()), F.cross_entropy)
    lb = train_step(b, x, y, torch.optim.Adam(b.parameters()), F.cross_entropy)
    assert la == lb
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.slow
def test_notebook_step_and_predict_fn_restore_torch_settings(tiny_cache, brats_root, tmp_path):
    from solutions import predict, train_step
    from unet_tp.data import load_case
    from unet_tp.train import predict_volume

    before = (torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled())
    config = preset_config("tiny", deterministic=True)
    ids = sorted(SliceDataset(tiny_cache).case_ids)
    torch.manual_seed(0)
    model = UNet(**config.model.kwargs())
    history = fit(
        model,
        SliceDataset(tiny_cache, ids[:3]),
        SliceDataset(tiny_cache, ids[3:]),
        config,
        tmp_path,
        loss_fn=categorical_cross_entropy,
        train_step=train_step,
        device=torch.device("cpu"),
        progress=False,
    )
    assert (torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()) == before
    assert history[0]["train_loss"] > 0 and "dice_et" in history[0]
    vol = load_case(find_cases(brats_root)[0])
    seg = predict_volume(model, vol, config.grid, torch.device("cpu"), predict_fn=predict)
    assert seg.shape == vol.seg.shape and set(np.unique(seg)) <= {0, 1, 2, 4}


@pytest.mark.slow
def test_resume_with_more_epochs_follows_the_longer_schedule(tiny_cache, tmp_path):
    first = _run(tiny_cache, tmp_path, preset_config("tiny", epochs=1))
    longer = preset_config("tiny", epochs=2)
    history = _run(tiny_cache, tmp_path, longer, resume=True)
    assert _strip(history[:1]) == _strip(first)
    assert history[1]["lr"] == pytest.approx(longer.optim.lr * 0.5)  # cos(pi / 2): half-way


def test_default_loss_needs_no_instructor_code():
    import torch.nn.functional as F

    from unet_tp.losses import ce_dice_loss, loss_by_name
    from unet_tp.train import TrainConfig

    assert loss_by_name("ce") is F.cross_entropy
    assert loss_by_name(TrainConfig().optim.loss) is ce_dice_loss
    from solutions import ce_dice_loss as reference

    logits, target = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))
    assert float(ce_dice_loss(logits, target)) == pytest.approx(
        float(reference(logits, target)), abs=1e-5
    )


@pytest.mark.slow
def test_settings_are_recorded_by_group_once_and_read_back(tiny_cache, tmp_path):
    """A checkpoint holds the run's settings once, by meaning; inference reads them back."""
    from unet_tp.settings import TrainConfig
    from unet_tp.train import run_settings

    config = preset_config("tiny", epochs=1, image_size=32)
    _run(tiny_cache, tmp_path, config)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert set(ckpt["settings"]) == {"seed", "grid", "sampling", "model", "optim"}
    assert "config" not in ckpt and "model_config" not in ckpt
    back = run_settings(ckpt)
    assert back == config and TrainConfig.from_json(back.to_json()) == back
    assert back.grid == Grid(192, 32) and back.model.kwargs()["base_channels"] == 4
    with pytest.raises(ValueError, match="unknown setting"):
        preset_config("tiny", device="cpu")


TINY_NET = """\
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels, num_classes, base_channels, depth, padding, batch_norm):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 3, padding=1)

    def forward(self, x):
        return self.conv(x)
"""


@pytest.mark.slow
def test_a_run_records_its_network_class(brats_root, tiny_cache, tmp_path, monkeypatch, capsys):
    """`--model` of a run is recorded: evaluate/predict use it; another class says which one the
    run trained; a class that cannot take the settings is one line, no traceback."""
    (tmp_path / "tinynet.py").write_text(TINY_NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "run"
    argv = ["train", "--data", str(tiny_cache), "--out", str(run), *TINY, "--no-eval"]
    assert main([*argv, "--model", "tinynet:Net"]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["model_class"] == "tinynet:Net"
    case = find_cases(brats_root)[0].directory
    out = tmp_path / "seg.nii.gz"
    assert main(["predict", "--case", str(case), "--checkpoint", str(run / "checkpoint.pt"),
                 "--out", str(out)]) == 0  # fmt: skip
    assert out.exists()
    capsys.readouterr()
    assert main(["predict", "--case", str(case), "--checkpoint", str(run / "checkpoint.pt"),
                 "--out", str(out), "--force", "--model", "solutions.unet:UNet"]) == 2  # fmt: skip
    assert "the run trained --model tinynet:Net" in capsys.readouterr().err
    bad = ["train", "--data", str(tiny_cache), "--out", str(tmp_path / "r2"), *TINY]
    assert main([*bad, "--model", "torch.nn:Linear"]) == 2
    err = capsys.readouterr().err
    assert "cannot build it with the run's model settings" in err and "Traceback" not in err


def test_the_class_weights_of_the_training_cell_follow_the_model_to_its_device():
    """Honest round 21: CLASS_WEIGHTS made on the CPU in the training cell, indexed by a GPU's
    labels in the loss, would stop Question 4's training on Colab (the meta device stands in)."""
    import functools

    from unet_tp.train import on_device

    loss = functools.partial(F.cross_entropy, weight=torch.ones(4), reduction="mean")
    moved = on_device(loss, torch.device("meta"))
    assert moved.keywords["weight"].device.type == "meta" and moved.keywords["reduction"] == "mean"
    assert on_device(F.cross_entropy, torch.device("meta")) is F.cross_entropy


def test_a_checkpoint_on_a_full_disk_says_so_naming_the_file(tmp_path, monkeypatch):
    """Data round 20: `train --out` on a full disk ended in torch's "[enforce fail at
    inline_container.cc:672] . unexpected pos 49920 vs 49816"."""
    import errno

    from unet_tp import train
    from unet_tp.fileio import os_error_message

    def failing(payload, f):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 49920 vs 1")

    monkeypatch.setattr(train.torch, "save", failing)
    monkeypatch.setattr(train, "free_space", lambda folder: 10)  # (bytes: not the weights)
    model = torch.nn.Conv2d(1, 1, 3)
    state = train.RunState(preset_config("tiny"), {"train": [], "val": []}, "cache", None)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError) as err:
        train.save_checkpoint(path, model, torch.optim.SGD(model.parameters(), 0.1), None, 1, state)
    assert err.value.errno == errno.ENOSPC
    assert os_error_message(err.value).startswith(f"{path}: the disk is full")
    assert not list(tmp_path.iterdir())


def test_a_step_returning_the_loss_tensor_stops_at_its_first_step():
    """Honest round 38: a train_step returning ``loss`` (not ``loss.item()``) trained a whole
    epoch, holding every batch's graph, then failed on "Object of type Tensor is not JSON
    serializable"."""
    from unet_tp.train import train_epoch

    model = torch.nn.Conv2d(4, 4, 1)
    steps = []

    def tensor_step(model, images, labels, optimizer, loss_fn):
        steps.append(1)
        return loss_fn(model(images), labels)

    batch = (torch.rand(2, 4, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = preset_config("tiny")
    with pytest.raises(TypeError, match=r"returned Tensor, not the loss as a number.*loss\.item"):
        train_epoch(
            model,
            [batch] * 3,
            tensor_step,
            optimizer,
            F.cross_entropy,
            config,
            torch.device("cpu"),
            0,
        )
    assert steps == [1]
