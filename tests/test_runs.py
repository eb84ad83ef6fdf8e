"""Re-running the notebook's training: resume, complete, or a new run when something changed."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from unet_tp import runs
from unet_tp.train import preset_config


class Slices(Dataset):
    """Eight random 4-channel 16x16 slices with labels; ``fail_after`` items it interrupts."""

    def __init__(self, fail_after: int | None = None):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(8, 4, 16, 16, generator=g)
        self.labels = torch.randint(0, 4, (8, 16, 16), generator=g)
        self.fail_after, self.served = fail_after, 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        self.served += 1
        if self.fail_after is not None and self.served > self.fail_after:
            raise KeyboardInterrupt  # the session disconnects mid-epoch
        return self.images[i], self.labels[i]


class Net(nn.Module):
    def __init__(self, width: int = 4):
        super().__init__()
        self.config = {"width": width}
        self.body = nn.Sequential(nn.Conv2d(4, width, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(width, 4, 1)

    def forward(self, x):
        return self.head(self.body(x))


def weighted_ce(logits, target, weight=None):
    return F.cross_entropy(logits, target, weight=weight)


CONFIG = dict(epochs=2, batch_size=4, num_workers=0, loss="ce")


def _train(tmp_path, loss_fn=weighted_ce, dataset=None, **overrides):
    torch.manual_seed(0)
    model = Net()
    config = preset_config("tiny", **{**CONFIG, **overrides})
    history = runs.train_or_resume(
        model, dataset or Slices(), Slices(), config, tmp_path / "runs", "tiny", loss_fn=loss_fn
    )
    return model, history


def _folders(tmp_path):
    return sorted(p.name for p in (tmp_path / "runs").iterdir())


def test_a_complete_run_is_loaded_not_retrained_and_the_message_says_how(
    tmp_path, capsys, monkeypatch
):
    trained, history = _train(tmp_path)
    assert len(history) == 2 and "Training a new run" in capsys.readouterr().out
    monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("a complete run was retrained"))
    again, history2 = _train(tmp_path)
    out = capsys.readouterr().out
    assert "already complete (2 epochs" in out and "set RETRAIN = True" in out
    assert history2 == history
    for a, b in zip(trained.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert len(_folders(tmp_path)) == 1


def test_retrain_trains_the_same_run_again_from_scratch(tmp_path, capsys):
    _train(tmp_path)
    config = preset_config("tiny", **CONFIG)
    history = runs.train_or_resume(
        Net(), Slices(), None, config, tmp_path / "runs", "tiny", loss_fn=weighted_ce, retrain=True
    )
    assert "again from scratch" in capsys.readouterr().out and len(history) == 2
    assert len(_folders(tmp_path)) == 1


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, dataset=Slices(fail_after=12))  # epoch 1 (8 slices), then 4 of epoch 2
    capsys.readouterr()
    _, history = _train(tmp_path)
    assert "Resuming the run in" in capsys.readouterr().out
    assert [h["epoch"] for h in history] == [1, 2]
    # raising the number of epochs continues the same run too
    _, history = _train(tmp_path, epochs=3)
    assert "at epoch 3 of 3" in capsys.readouterr().out and len(history) == 3
    assert len(_folders(tmp_path)) == 1


def test_a_run_stopped_by_its_budget_is_loaded_until_the_budget_is_raised(
    tmp_path, capsys, monkeypatch
):
    """French student round 39: running the training cell again after its time budget stopped
    it trained for another whole budget (the notebook promised it would load the run)."""
    trained, history = _train(tmp_path, epochs=3, time_budget_minutes=1e-6)
    assert len(history) == 1 and "stopped at the time budget after epoch 1 of 3" in (
        capsys.readouterr().out
    )
    fit = runs.fit
    monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("a stopped run was retrained"))
    again, history2 = _train(tmp_path, epochs=3, time_budget_minutes=1e-6)
    out = capsys.readouterr().out
    assert "stopped at its time budget (1e-06 min) after epoch 1 of 3" in out, out
    assert "raise config.optim.time_budget_minutes" in out and history2 == history
    for a, b in zip(trained.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    monkeypatch.setattr(runs, "fit", fit)  # a larger budget, or none: it trains further
    _, history3 = _train(tmp_path, epochs=3, time_budget_minutes=None)
    assert "at epoch 2 of 3" in capsys.readouterr().out and len(history3) == 3
    assert len(_folders(tmp_path)) == 1


def test_a_changed_loss_or_setting_trains_a_new_run_in_its_own_folder(tmp_path, capsys):
    _train(tmp_path)
    first = _folders(tmp_path)
    capsys.readouterr()
    weights = torch.tensor([0.1, 1.0, 1.0, 2.0])
    _, history = _train(tmp_path, loss_fn=functools.partial(weighted_ce, weight=weights))
    out = capsys.readouterr().out
    assert "Changed since the run in" in out and "your loss function" in out
    assert "(the previous one is kept)" in out and len(history) == 2
    assert len(_folders(tmp_path)) == 2 and set(first) < set(_folders(tmp_path))
    # other class weights are another run; so is another learning rate
    _train(tmp_path, loss_fn=functools.partial(weighted_ce, weight=weights * 2))
    assert len(_folders(tmp_path)) == 3
    _train(tmp_path, loss_fn=functools.partial(weighted_ce, weight=weights * 2), lr=0.01)
    assert "lr 0.002 -> 0.01" in capsys.readouterr().out
    assert len(_folders(tmp_path)) == 4


def test_a_fixed_block_is_a_new_run():
    class Fixed(Net):  # the student's cell defining Net, run again after a fix
        def forward(self, x):
            return self.head(self.body(x) * 2)

    Fixed.__name__ = Fixed.__qualname__ = "Net"

    config = preset_config("tiny", **CONFIG)
    a = runs.run_key(runs.run_identity(Net(), config, weighted_ce, None))
    assert a == runs.run_key(runs.run_identity(Net(), config, weighted_ce, None))
    b = runs.run_identity(Fixed(), config, weighted_ce, None)
    assert runs.run_key(b) != a
    assert runs._changes(runs.run_identity(Net(), config, weighted_ce, None), b) == [
        "your network's code (Net)"
    ]


def mean_ce(logits, target):
    return F.cross_entropy(logits, target, reduction="none").mean()


def mean_ce_fixed(logits, target):
    return F.cross_entropy(logits, target, reduction="none").mean() * 2


def _key(loss_fn, model=None):
    return runs.run_key(
        runs.run_identity(model or Net(), preset_config("tiny", **CONFIG), loss_fn, None)
    )


def test_the_loss_is_its_source_not_the_globals_of_the_notebook(monkeypatch):
    """`x.mean()` in the loss is no global: a notebook's later `mean = ...` keeps the run; an
    edited loss is another run."""
    key = _key(mean_ce)
    monkeypatch.setitem(globals(), "mean", {"wt": 0.9})
    monkeypatch.setitem(globals(), "reduction", 3)
    assert _key(mean_ce) == key
    assert _key(mean_ce_fixed) != key
    config = preset_config("tiny", **CONFIG)
    old, new = (runs.run_identity(Net(), config, f, None) for f in (mean_ce, mean_ce_fixed))
    assert runs._changes(old, new) == ["your loss function"]


def test_code_without_source_is_recognised_by_its_compiled_code(tmp_path, capsys):
    """Honest round 23: a loss cell run under `%%time` (compiled as `<timed exec>`, no source
    kept) was trained from scratch at every run ("made by exec?"), up to the T4's 45 minutes
    after each Colab disconnect: recognised by its compiled code, a changed constant another run."""

    def made(source: str):
        scope = {"F": F}
        exec(compile(source, "<timed exec>", "exec"), scope)
        return scope["exec_ce"]

    ce = "def exec_ce(logits, target):\n    return F.cross_entropy(logits, target) * {}\n"
    _train(tmp_path, loss_fn=made(ce.format(1.0)))
    assert "no source" not in capsys.readouterr().out and len(_folders(tmp_path)) == 1
    _train(tmp_path, loss_fn=made(ce.format(1.0)))  # the cell run again: the same function
    assert "already complete" in capsys.readouterr().out and len(_folders(tmp_path)) == 1
    _train(tmp_path, loss_fn=made(ce.format(2.0)))
    assert len(_folders(tmp_path)) == 2
    by_default = "def exec_ce(logits, target, scale={}):\n    return F.cross_entropy(logits, target) * scale\n"
    assert runs.source_text(made(by_default.format(1.0))) != runs.source_text(
        made(by_default.format(2.0))
    )  # (a default changed: another function, the review's)


def test_the_training_cell_speaks_french_in_the_french_notebook(tmp_path, capsys, french):
    """Student walkthrough: the French notebook's training cell said "Training a new run in",
    "epoch 1/8: loss ... val loss", "the budget of 10 min allows 3", "stopped at the time
    budget", "This run is already complete", "Resuming the run", "Changed since the run"."""
    _train(tmp_path, epochs=1)
    out = capsys.readouterr().out
    assert "Nouvel entraînement dans" in out and "époque 1/1 : perte " in out, out
    assert " perte de validation " in out and "l'époque 1 a pris " in out, out
    _train(tmp_path, epochs=1)
    out = capsys.readouterr().out
    assert "Cet entraînement est déjà terminé (1 époque, " in out and "RETRAIN = True" in out
    _train(tmp_path, epochs=3, time_budget_minutes=1e-6)  # stops after its first epoch
    out = capsys.readouterr().out
    assert "Reprise de l'entraînement de " in out and "à l'époque 2 sur 3." in out, out
    assert "le budget de temps de 1e-06 min en permet 2" in out, out
    assert "arrêt au budget de temps après l'époque 2 sur 3 ; la meilleure époque (" in out
    assert "best.pt et chargée ; ré-exécuter cette cellule la charge ; augmentez " in out, out
    _train(tmp_path, loss_fn=functools.partial(weighted_ce, weight=torch.ones(4)), epochs=1)
    out = capsys.readouterr().out
    assert "Modifié depuis l'entraînement de " in out and "votre fonction de perte" in out, out
    english = ("Training", "epoch", "loss", "budget of", "stopped", "complete", "Resuming")
    assert not [word for word in english if word in out], out


@pytest.mark.slow  # runs every self-check of the answers the training runs
def test_a_training_on_failing_answers_names_them_in_one_line(tmp_path):
    """Student round 41: the training cell on a wrong DoubleConv showed a 22-frame traceback
    ending in torch's RuntimeError, no word of the block. It says which answers fail their own
    checks, in one line (IPython's `_render_traceback_`); a failure with every answer passing
    keeps its traceback."""
    from notebooks import namespace
    from unet_tp import checks

    wrong = "for c_in in (in_channels, out_channels):"
    ns = namespace({"double_conv": [(wrong, "for c_in in (in_channels, in_channels):")]})
    model = ns["UNet"](base_channels=4, depth=2, padding=True)
    config = preset_config("tiny", **CONFIG)
    with pytest.raises(AssertionError) as raised:
        runs.train_or_resume(model, Slices(), None, config, tmp_path / "runs", loss_fn=weighted_ce)
    said = str(raised.value)
    assert said.startswith("The training stopped: RuntimeError: "), said
    assert "fail their own checks: DoubleConv (a), Down (b), Up (c), UNet (d). Fix" in said
    assert raised.value._render_traceback_() == [f"\x1b[0;31mAssertionError\x1b[0m: {said}"]
    right = namespace()["UNet"](base_channels=4, depth=2, padding=True)
    with pytest.raises(ZeroDivisionError), checks.answers_first(right, checks.TRAINING_ANSWERS, ""):
        1 / 0  # noqa: B018
