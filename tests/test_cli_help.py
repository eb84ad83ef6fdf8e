"""The command line is pleasant: every flag explained with its default, presets described, GPU
advice only where training happens, and `.venv/bin/unet-tp` usable without activating the venv."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
import torch

from unet_tp import cli, device
from unet_tp.settings import PRESET_USES, PRESETS


def _parser() -> argparse.ArgumentParser:
    return cli.build_parser()


def test_every_flag_and_argument_has_help():
    missing = [
        f"{p.prog} {a.option_strings or a.dest}"
        for p in cli.all_parsers(_parser())
        for a in p._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
        and not (a.help or "").strip()
    ]
    assert missing == []


def test_help_shows_each_default():
    parsers = {p.prog: p for p in cli.all_parsers(_parser())}
    synth = parsers["unet-tp data synth"].format_help()
    assert "number of cases (default: 12)" in " ".join(synth.split())
    train = " ".join(parsers["unet-tp train"].format_help().split())
    assert "(default 20; with --preset: cpu-quick 6, colab-t4 15, paper 30" in train
    assert "(default: None)" not in train and "(default: False)" not in train
    # every flag that has a default says which
    for p in parsers.values():
        text = " ".join(p.format_help().split())
        for a in p._actions:
            if a.option_strings and a.default not in (None, False, argparse.SUPPRESS):
                assert "default" in (a.help or "") or f"(default: {a.default})" in text, (
                    p.prog,
                    a.option_strings,
                )


def test_train_help_describes_every_preset():
    """Each preset's use, then its values, read from settings.PRESETS (nothing restated)."""
    assert set(PRESET_USES) == set(PRESETS)
    text = " ".join(
        next(p for p in cli.all_parsers(_parser()) if p.prog == "unet-tp train")
        .format_help()
        .split()
    )
    for name, values in PRESETS.items():
        said = ", ".join(f"{k} {v}" for k, v in values.items())
        assert f"{name} {PRESET_USES[name]}; {said}" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU message needs a machine without GPU")
def test_gpu_advice_only_where_training_happens(capsys):
    device.pick_device("auto", training=False)
    said = capsys.readouterr().out
    assert said.startswith("Using the CPU") and "slow" not in said and "GPU" not in said
    device.pick_device("auto")
    assert "no GPU found, so training is slow" in capsys.readouterr().out


@pytest.mark.slow
def test_venv_command_finds_its_own_tools_without_activation():
    """nbgrader (notebook build, grade) runs `alembic`: found beside the interpreter."""
    code = "import os; from unet_tp.cli import _put_own_scripts_on_path as f; f(); print(os.environ['PATH'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split(os.pathsep)[0] == os.path.dirname(sys.executable)


@pytest.mark.slow
def test_instructor_commands_come_from_the_checkout_installed_in_place(tmp_path):
    """`unet-tp grade` of the instructor's install finds autograder the ordinary way (its entry
    point), from any folder and without PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for argv, said in [(["grade", "--help"], "--sandbox"), (["train", "--help"], "--model")]:
        run = subprocess.run(
            [sys.executable, "-m", "unet_tp", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0 and said in run.stdout, run.stderr


def test_the_students_command_line_starts_without_torch():
    """A student install's `unet-tp` (its `data` commands) reads its flags without importing
    torch, two seconds of every `--help` on Colab's CPU."""
    code = "import sys, unet_tp.cli\nunet_tp.cli.data_commands\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_instructors_command_line_starts_without_torch():
    """Every command's flags, the instructor's too (train's presets, grade, report, export), are
    read without importing torch: `unet-tp --help` or `unet-tp report OUT` starts at once, and
    torch is loaded when train, evaluate, predict or figures runs."""
    code = (
        "import sys, unet_tp.cli\nparser = unet_tp.cli.build_parser()\n"
        "names = sorted(unet_tp.cli._commands(parser))\n"
        "print(names, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("] ")[-1].strip() == "False"
    assert "'train'" in out.stdout and "'grade'" in out.stdout, out.stdout
