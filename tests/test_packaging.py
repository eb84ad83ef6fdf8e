"""The student install must hold the helper package and nothing of the instructor side."""

import zipfile
from pathlib import Path

import pytest

from unet_tp.cli import INSTRUCTOR_COMMANDS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_student_wheel_has_no_solutions(student_wheel):
    wheel = student_wheel
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"unet_tp", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert "unet_tp/cli.py" in names and "unet_tp/data/cache.py" in names
    assert "unet_tp/locale/fr.json" in names  # the French self-check messages
    assert not [n for n in names if "solution" in n.lower() or "autograder" in n.lower()]
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"unet-tp = unet_tp.cli:main" in entry
    # no instructor command: train/evaluate/predict/figures (autograder/model_commands.py) and
    # notebook/grade/report/export (autograder/cli.py) are never defined in the student package
    code = "\n".join(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".py"))
    for command in INSTRUCTOR_COMMANDS:
        assert f'add_parser("{command}"' not in code, command
    for name in (
        "resolve_model",
        "solutions.unet",
        "_cmd_train",
        "grade_all",
        "generate_assignment",
    ):
        assert name not in code, name
    assert "unet_tp/commands.py" not in names and "unet_tp/data/commands.py" in names
