"""The TP notebook: built from one source, no drift, no leak, and it runs end to end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import build
from autograder.execute import SlicedKernelManager
from autograder.publish import solution_lines
from autograder.spec import load as load_spec

ROOT = Path(__file__).resolve().parents[1]
SOURCE, STUDENT, SOLUTION = build.SOURCE_NOTEBOOK, build.STUDENT_NOTEBOOK, build.SOLUTION_NOTEBOOK


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _graded(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


def _run(nb, cwd: Path, env: dict, timeout: int = 600) -> None:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(
            nb,
            kernel_manager_class=SlicedKernelManager,  # no missed replies
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(cwd)}},
        ).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _errors(nb) -> dict[int, list[str]]:
    return {
        i: [f"{o.ename}: {o.evalue}" for o in c.outputs if o.output_type == "error"]
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)
    }


@pytest.mark.slow
def test_committed_notebooks_match_a_fresh_build():
    report = build.build(check=True)
    assert report.changed == [], f"run `unet-tp notebook build`: {report.summary()}"


def test_solution_cells_are_the_solutions_package_verbatim():
    source = nbformat.read(SOURCE, 4)
    regions = build.solution_regions()
    cells = {_gid(c): c.source for c in source.cells if _gid(c) in regions}
    assert (
        set(cells)
        == set(regions)
        == {
            "double_conv",
            "down",
            "up",
            "unet",
            "cce_loss",
            "train_step",
            "predict_dice",
        }
    )
    for gid, text in regions.items():
        assert cells[gid] == text


def test_build_detects_drift(tmp_path, monkeypatch):
    regions = build.solution_regions()
    regions["down"] = regions["down"].replace("kernel_size=2, stride=2", "kernel_size=3, stride=2")
    source = nbformat.read(SOURCE, 4)
    synced, changed = build.synced_source(source, regions, "unet-tp")
    assert "down" in changed and "setup" in changed
    with pytest.raises(build.BuildError, match="no solution cell"):
        build.synced_source(source, {**regions, "extra": "x = 1"}, "unet-tp")
    del regions["up"]
    with pytest.raises(build.BuildError, match="'up' has no region"):
        build.synced_source(source, regions, "unet-tp")


def test_student_notebook_has_blanks_and_no_solution_or_hidden_test():
    text = STUDENT.read_text()
    student = nbformat.read(STUDENT, 4)
    leaked = [line for line in solution_lines() if line in text]
    assert not leaked, f"solution lines in the student notebook: {leaked[:3]}"
    assert "HIDDEN TESTS" not in text and "hidden_tests" not in text
    assert "BEGIN SOLUTION" not in text
    assert not re.search(r"^\s*(from|import) solutions", text, re.M)
    stubs = [_gid(c) for c in student.cells if "raise NotImplementedError()" in c.source]
    assert stubs == ["double_conv", "down", "up", "unet", "cce_loss", "train_step", "predict_dice"]
    # the class and function names the tests use are given
    up = next(c.source for c in student.cells if _gid(c) == "up")
    assert "def center_crop(x, height, width):" in up and "class Up(nn.Module):" in up
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")
    # Colab opens it on a GPU runtime; the install cell takes the configured package
    assert student.metadata["accelerator"] == "GPU"
    from unet_tp.sources import STUDENT_PACKAGE

    setup = next(c.source for c in student.cells if _gid(c) == "setup")
    assert f'UNET_TP_PACKAGE = "{STUDENT_PACKAGE}"' in setup


@pytest.mark.slow
def test_student_install_reaches_no_solution(student_wheel, tmp_path):
    wheel = student_wheel
    zf = zipfile.ZipFile(wheel)
    text = "\n".join(zf.read(n).decode(errors="replace") for n in zf.namelist())
    leaked = [line for line in solution_lines() if line in text]
    assert not leaked, f"solution lines in the student wheel: {leaked[:3]}"
    assert "BEGIN HIDDEN TESTS" not in text and "PROBES" not in text
    # a student install has no instructor command (train included): each says so
    # the wheel, with this environment's packages (torch...) but not its in-place install of the
    # checkout: `python -S` runs no .pth file, so the editable finder of solutions/ stays out
    site = tmp_path / "site"
    path = os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": path}
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "-t", str(site), wheel],
        check=True,
        capture_output=True,
    )
    for argv, said in [
        (["train", "--data", "d", "--out", "r"], "`unet-tp train` is an instructor command"),
        (["grade", "subs", "--out", "o"], "`unet-tp grade` is an instructor command"),
        (["notebook", "build"], "`unet-tp notebook` is an instructor command"),
    ]:
        run = subprocess.run(
            [sys.executable, "-S", "-m", "unet_tp", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 2 and said in run.stderr, run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    check = (
        "import importlib.util as u; print([u.find_spec(m) for m in ('solutions', 'autograder')])"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", check], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.stdout.strip() == "[None, None]", run.stdout + run.stderr


RERUN_WITH_WEIGHTED_LOSS = """\
_plain_loss = categorical_cross_entropy


def categorical_cross_entropy(logits, target, weight=None):  # "Going further" 2: weighted loss
    return _plain_loss(logits, target, weight=torch.tensor([0.5, 1.0, 1.0, 2.0]))


config.optim.epochs = 1  # the new run trains one epoch (keeps the test short)
"""


def _ci_pin(name: str) -> str:
    pins = (ROOT / "constraints" / "ci.txt").read_text()
    return re.search(rf"^{name}==(\S+)", pins, re.M)[1]


@pytest.mark.slow
def test_source_notebook_runs_end_to_end_on_cpu(tmp_path):
    """The solved notebook, as a CPU-only student runs it, with Colab's ipywidgets: every test
    cell passes, each browser shows once, and the training cell run again does what it says.
    (Its speed is measured by benchmarks/bench_notebook.py.)"""
    from importlib.metadata import version

    assert version("ipywidgets") == _ci_pin("ipywidgets") == "7.7.1"  # Colab's
    nb = nbformat.read(SOURCE, 4)
    training = next(c for c in nb.cells if _gid(c) == "training")
    # the training cell again (the run is complete), then with another loss (a new run)
    extra = [
        nbformat.v4.new_code_cell(training.source),
        nbformat.v4.new_code_cell(RERUN_WITH_WEIGHTED_LOSS),
        nbformat.v4.new_code_cell(training.source),
    ]
    nb.cells += extra
    _run(nb, tmp_path, {"UNET_TP_HOME": str(tmp_path / "home")})
    assert _errors(nb) == {}
    out = {
        _gid(c): "".join(o.get("text", "") for o in c.outputs)
        for c in nb.cells
        if c.cell_type == "code"
    }
    assert "Training configuration: notebook-cpu" in out["setup"]
    tests = [c for c in nb.cells if c.cell_type == "code" and _graded(c)]
    assert len(tests) == len(load_spec().tests)
    for cell in tests:
        assert "  ok: " in out[_gid(cell)], out[_gid(cell)]
    dice = re.search(r"mean\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out["evaluate"])
    assert dice and float(dice[1]) > 0.6, out["evaluate"]
    pngs = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(pngs) >= 3
    # each browser is one widget, shown once (not also as the cell's value)
    browsers = [c for c in nb.cells if c.cell_type == "code" and "viz.browse(" in c.source]
    assert len(browsers) == 2
    for cell in browsers:
        views = [
            o
            for o in cell.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert len(views) == 1, cell.source
    # training: a first run, the same cell again, then again with a weighted loss
    first, again, _, changed = (
        out["training"],
        *("".join(o.get("text", "") for o in c.outputs) for c in extra),
    )
    assert "Training a new run in runs/notebook-cpu-" in first and "epoch 8/8" in first
    assert "This run is already complete (8 epochs" in again and "RETRAIN = True" in again
    assert "epoch 1/" not in again
    assert "your loss function" in changed and "(the previous one is kept)" in changed
    assert "epoch 1/1" in changed
    assert len(list((tmp_path / "runs").glob("notebook-cpu-*"))) == 2


def _nbgrader_validate(path: Path, *args: str) -> str:
    out = subprocess.run(
        [
            shutil.which("nbgrader") or "nbgrader",
            "validate",
            *args,
            path.name,
            # nbgrader's client, with no missed replies (autograder.execute.SlicedChannel)
            "--Execute.kernel_manager_class=autograder.execute.SlicedKernelManager",
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout + out.stderr


@pytest.mark.slow
def test_nbgrader_validate_source_passes_and_student_version_fails_on_stubs(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "stu").mkdir()
    shutil.copy(SOURCE, tmp_path / "src" / "TP_sujet.ipynb")
    shutil.copy(STUDENT, tmp_path / "stu" / "TP_sujet.ipynb")
    quick = {"UNET_TP_HOME": str(tmp_path / "home"), "UNET_TP_PRESET": "tiny"}
    quick["UNET_TP_SAMPLE_CASES"] = "4"  # what the grader gives the notebook: seconds of training
    os.environ.update(quick)
    try:
        assert "Success! Your notebook passes all the tests." in _nbgrader_validate(
            tmp_path / "src" / "TP_sujet.ipynb"
        )
        assert "Success! The notebook does not pass any tests." in _nbgrader_validate(
            tmp_path / "stu" / "TP_sujet.ipynb", "--invert"
        )
    finally:
        for key in quick:
            del os.environ[key]
    # ...and every graded cell fails because of its stub, not of something unrelated
    nb = nbformat.read(STUDENT, 4)
    _run(nb, tmp_path / "stu", quick)
    errors = _errors(nb)
    graded = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _graded(c)]
    assert len(graded) == len(load_spec().tests)
    for i in graded:  # the self-check says which method is not written yet
        said = errors.get(i, [""])[-1]
        assert said.startswith("AssertionError") and "still raises NotImplementedError" in said, (
            _gid(nb.cells[i]),
            errors.get(i),
        )
    # the given cells that use the blocks fail the same way (or on a name the failure left
    # undefined); the training and evaluation name the answers that fail their checks, and the
    # figures say there are no results yet, each in one line
    for i, errs in errors.items():
        stub = "still raises NotImplementedError" in errs[-1]
        stub = stub or "Answers this cell runs fail their own checks: DoubleConv (a)" in errs[-1]
        assert stub or errs[-1].split(":")[0] in (
            "NotImplementedError",
            "NameError",
            "RuntimeError",
            "NotebookError",
        ), (
            i,
            errs,
        )
    assert not errors.keys() & {i for i, c in enumerate(nb.cells) if _gid(c) in ("setup", "data")}


def test_the_notebook_agrees_with_the_assignment_spec():
    """Blocks, grade ids, points and visible checks are declared once, in assignment.toml."""
    from autograder.spec import notebook_problems

    assert notebook_problems(nbformat.read(SOURCE, 4)) == []
    assert notebook_problems(nbformat.read(STUDENT, 4)) == []
    nb = nbformat.read(SOURCE, 4)
    test_cell = next(c for c in nb.cells if _gid(c) == "test_unet")
    test_cell.metadata["nbgrader"]["points"] = 3
    assert notebook_problems(nb) == ["test_unet: 3 points in the notebook, 4 in the spec"]
    # a written question's points changed in the notebook only: both numbers, as for a test
    nb = nbformat.read(SOURCE, 4)
    answer = next(c for c in nb.cells if _gid(c) == "answer_hd95")
    answer.metadata["nbgrader"]["points"] = 3
    assert notebook_problems(nb) == ["answer_hd95: 3 points in the notebook, 2 in the spec"]
    answer.metadata["nbgrader"]["grade"] = False
    assert notebook_problems(nb) == [
        "answer_hd95: not graded in the notebook (nbgrader 'Manually graded answer', 2 points "
        "in the spec)"
    ]


@pytest.mark.slow
def test_commands_work_without_an_activated_environment(tmp_path):
    """`.venv/bin/unet-tp notebook build --check` from a Makefile or cron: nbgrader finds its
    `alembic` although the venv's bin is not on PATH."""
    exe = Path(sys.executable).parent / "unet-tp"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run(
        [str(exe), "notebook", "build", "--check"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "notebooks up to date" in out.stdout


def test_a_build_that_disagrees_with_the_spec_names_the_files_to_edit(monkeypatch):
    """Instructor round 22: "TP_sujet.ipynb disagrees with assignment.toml" named neither
    folder nor what to change (a cell's nbgrader points)."""
    monkeypatch.setattr(
        build,
        "notebook_problems",
        lambda nb: ["answer_hd95: 2 points in the notebook, 3 in the spec"],
    )
    with pytest.raises(build.BuildError) as err:
        build.build(check=True)
    message = str(err.value)
    assert message.startswith(
        "autograder/source/TP_sujet/TP_sujet.ipynb disagrees with autograder/assignment.toml: answer_hd95"
    )
    assert "nbgrader metadata `points`" in message
