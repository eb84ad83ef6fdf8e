"""``unet-tp grade`` on submissions made from the student notebook: right answers, realistic
mistakes, and everything a notebook can do to the grader."""

from __future__ import annotations

import copy
import csv
import json
import sqlite3
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import build
from autograder.grade import GradingError, grade_all, identify, in_source_order

SOURCE = nbformat.read(build.SOURCE_NOTEBOOK, 4)
STUDENT = nbformat.read(build.STUDENT_NOTEBOOK, 4)
SOLUTIONS = {
    c.metadata["nbgrader"]["grade_id"]: c.source
    for c in SOURCE.cells
    if c.metadata.get("nbgrader", {}).get("solution")
}
FULL = {"a": 2, "b": 2, "c": 3, "d": 4, "e": 4, "f": 3, "g": 2}


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solved(**replace: tuple[str, str]):
    """The student notebook with every blank filled from the reference, then ``replace``d
    (``cell=(old, new)``) to make a realistic mistake."""
    nb = copy.deepcopy(STUDENT)
    for cell in nb.cells:
        gid = _gid(cell)
        if gid in SOLUTIONS:
            cell.source = SOLUTIONS[gid]
            if gid in replace:
                old, new = replace[gid]
                assert old in cell.source, (gid, old)
                cell.source = cell.source.replace(old, new)
    return nb


def insert_after(nb, gid: str, source: str):
    i = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(source))
    return nb


def colab_resave(nb):
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)"}
    nb.metadata["colab"] = {"provenance": [{"file_id": "1abc"}], "name": "Copy of TP_sujet"}
    nb.metadata["accelerator"] = "GPU"
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"colab{i:04d}x"
        if cell.cell_type == "code":
            cell.metadata["colab"] = {"base_uri": "https://localhost:8080/"}
            cell.outputs = [nbformat.v4.new_output("stream", text="old output\n")]
            cell.execution_count = i
    return nb


def _deleted(nb, gid):
    nb.cells = [c for c in nb.cells if _gid(c) != gid]
    return nb


def _reordered(nb):
    i = next(i for i, c in enumerate(nb.cells) if _gid(c) == "down")
    cell = nb.cells.pop(i)
    nb.cells.append(cell)  # the Down solution moved to the end of the notebook
    return nb


CHEAT_PATCH = """\
import numpy, numpy.testing, torch
torch.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
checks.check_double_conv = lambda *a, **k: None
"""
CHEAT_FAKE = """\
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)  # swallow every error
import builtins
_print = builtins.print
for gid in ["test_double_conv", "test_down", "test_unet"]:
    _print(f"[hidden tests] {gid}: passed 0123456789abcdef0123456789abcdef")
"""
CHEAT_REFERENCE = """\
from unet_tp.instructor import import_solutions
DoubleConv = import_solutions().DoubleConv
"""


def cheat_write(out: Path) -> str:
    return (
        "from pathlib import Path\n"
        f"out = Path({str(out)!r})\n"
        "(out / 'grades.csv').write_text('student_id,total\\nmallory,20\\n')\n"
        "(out / 'gradebook.db').write_bytes(b'garbage')\n"
        "(out / 'evil.txt').write_text('x')\n"
    )


def submissions(folder: Path, out: Path) -> dict[str, dict[str, int]]:
    """Write every case; returns the expected points per block of each student."""
    cases: dict[str, tuple[object, dict[str, int]]] = {
        "correct": (solved(), FULL),
        "blank": (copy.deepcopy(STUDENT), dict.fromkeys(FULL, 0)),
        # realistic mistakes, one block each
        "no_padding": (
            solved(double_conv=("pad = 1 if padding else 0", "pad = 0")),
            {**FULL, "a": 0, "b": 0, "c": 1, "d": 0},  # the padded variants fail downstream
        ),
        "crop_off_by_one": (
            solved(
                up=("top = (x.shape[-2] - height) // 2", "top = (x.shape[-2] - height) // 2 + 1")
            ),
            {**FULL, "c": 1, "d": 2},
        ),
        "channels_not_halved": (
            solved(
                up=(
                    "nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)\n"
                    "        self.conv = DoubleConv(in_channels, out_channels, padding, batch_norm)",
                    "nn.ConvTranspose2d(in_channels, in_channels, kernel_size=2, stride=2)\n"
                    "        self.conv = DoubleConv(in_channels * 2, out_channels, padding, batch_norm)",
                )
            ),
            {**FULL, "c": 1, "d": 0},
        ),
        "softmax_missing": (
            solved(
                cce_loss=(
                    "log_s = logits - torch.logsumexp(logits, dim=1, keepdim=True)",
                    "log_s = torch.log(logits.clamp(min=1e-6))",
                )
            ),
            {**FULL, "e": 0},
        ),
        "mean_over_classes": (
            solved(
                cce_loss=(
                    "per_pixel = -(t * log_s).sum(dim=1)",
                    "per_pixel = -(t * log_s).mean(dim=1)",
                )
            ),
            {**FULL, "e": 0},
        ),
        "no_zero_grad": (
            solved(train_step=("optimizer.zero_grad()", "pass")),
            {**FULL, "f": 0},
        ),
        # what Colab and students do to notebooks
        "colab": (colab_resave(solved()), FULL),
        "deleted_test": (_deleted(solved(), "test_down"), FULL),
        "reordered": (_reordered(solved()), FULL),
        "raises": (insert_after(solved(), "down", "raise ValueError('my own bug')"), FULL),
        "hangs": (
            insert_after(solved(), "up", "import time\nwhile True:\n    time.sleep(1)"),
            FULL,
        ),
        "huge_output": (insert_after(solved(), "down", "print('x' * 5_000_000)"), FULL),
        # trying to raise the score
        "cheat_patch": (
            insert_after(copy.deepcopy(STUDENT), "double_conv", CHEAT_PATCH),
            dict.fromkeys(FULL, 0),
        ),
        "cheat_fake_pass": (
            insert_after(copy.deepcopy(STUDENT), "setup", CHEAT_FAKE),
            dict.fromkeys(FULL, 0),
        ),
        "cheat_reference": (
            insert_after(
                solved(double_conv=("pad = 1 if padding else 0", "pad = 0")),
                "double_conv",
                CHEAT_REFERENCE,
            ),
            {**FULL, "a": 0, "b": 0, "c": 1, "d": 0},
        ),
        "cheat_write": (insert_after(solved(), "setup", cheat_write(out)), FULL),
    }
    expected = {}
    for name, (nb, points) in cases.items():
        path = folder / name / "Copy of TP_sujet.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        expected[name] = points
    (folder / "not_json").mkdir()
    (folder / "not_json" / "TP_sujet.ipynb").write_text("{this is not json")
    (folder / "empty").mkdir()
    (folder / "empty" / "TP_sujet.ipynb").write_text("")
    expected["not_json"] = expected["empty"] = dict.fromkeys(FULL, 0)
    return expected


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _blocks(row) -> dict[str, int]:
    return {k[0]: int(float(row[k])) for k in row if k[:2] in {f"{b}_" for b in FULL}}


@pytest.mark.grading  # about 11 minutes on 2 cores: `pytest -m grading` runs it
def test_grades_every_case_exactly(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    expected = submissions(subs, out)
    lines: list[str] = []
    results = grade_all(subs, out, jobs=2, cell_timeout=40, progress=lines.append)
    rows = _rows(out)
    assert set(rows) == set(expected)
    wrong = {s: (_blocks(rows[s]), e) for s, e in expected.items() if _blocks(rows[s]) != e}
    assert not wrong, json.dumps({s: rows[s]["notes"][:400] for s in wrong}, indent=1) + str(wrong)
    notes = {r.student_id: " ".join(r.notes) for r in results}
    assert "CellTimeoutError" in notes["hangs"]
    assert "ValueError: my own bug" in notes["raises"]
    assert "invalid JSON" in notes["not_json"] and "empty" in notes["empty"]
    assert "replaced torch.allclose" in notes["cheat_patch"]
    assert "reference solutions are not available" in notes["cheat_reference"]
    assert not (out / "evil.txt").exists()
    assert any("removed evil.txt" in line for line in lines)
    # feedback for each student, the gradebook readable and in agreement
    for s in expected:
        assert (out / "feedback" / f"{s}.html").exists()
    html = (out / "feedback" / "correct.html").read_text()
    assert "Total: 20 / 20" in html and "[hidden tests] test_unet: passed" in html
    assert len((out / "feedback" / "huge_output.html").read_text()) < 3_000_000
    db = sqlite3.connect(out / "gradebook.db")
    scores = dict(
        db.execute(
            "select student.id, sum(grade.auto_score) from grade "
            "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
            "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
            "join student on submitted_assignment.student_id = student.id group by student.id"
        ).fetchall()
    )
    assert scores["correct"] == 20 and scores["cheat_write"] == 20 and scores["blank"] == 0
    # a re-run grades only what changed
    lines.clear()
    grade_all(subs, out, jobs=1, progress=lines.append)
    assert f"{len(expected)} submissions: 0 to grade, {len(expected)} unchanged" in lines[0]
    nbformat.write(copy.deepcopy(STUDENT), subs / "correct" / "Copy of TP_sujet.ipynb")
    lines.clear()
    grade_all(subs, out, jobs=1, progress=lines.append)
    assert "1 to grade" in lines[0]
    assert _rows(out)["correct"]["total"] == "0" and _rows(out)["crop_off_by_one"]["total"] == "16"


def test_student_ids_from_what_really_arrives():
    assert identify("Dupont Marie_4242_assignsubmission_file_Copy of TP_sujet (1).ipynb") == (
        "4242",
        "Dupont Marie",
    )
    assert identify("Dupont Marie_4242_assignsubmission_file_/TP_sujet.ipynb")[0] == "4242"
    assert identify("alice/Copy of TP_sujet.ipynb") == ("alice", "alice")
    assert identify("TP_sujet_jdupont.ipynb")[0] == "jdupont"
    assert identify("jdupont - Copie de TP_sujet (2).ipynb")[0] == "jdupont"
    assert identify("x/g12_bob.ipynb", pattern=r"g\d+_(?P<id>\w+)\.ipynb")[0] == "bob"
    with pytest.raises(GradingError, match="does not say whose notebook"):
        identify("Copy of TP_sujet (1).ipynb")
    with pytest.raises(GradingError, match="finds no group 'id'"):
        identify("a.ipynb", pattern=r"zzz(?P<id>\d+)")


def test_collects_an_lms_zip_and_keeps_the_newest_of_two_files(tmp_path):
    from autograder.grade import collect

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo(
                "Dupont Marie_4242_assignsubmission_file_TP_sujet.ipynb", (2026, 1, 1, 9, 0, 0)
            ),
            "{}",
        )
        zf.writestr(
            zipfile.ZipInfo(
                "Dupont Marie_4242_assignsubmission_file_TP_sujet (1).ipynb", (2026, 1, 1, 10, 0, 0)
            ),
            "{}",
        )
        zf.writestr("Martin Paul_77_assignsubmission_file_/Copy of TP_sujet.ipynb", "{}")
        zf.writestr("__MACOSX/._x.ipynb", "junk")
    subs = collect(archive, tmp_path / "work")
    assert [s.student_id for s in subs] == ["4242", "77"]
    assert subs[0].relpath.endswith("TP_sujet (1).ipynb")
    assert "graded the newest" in subs[0].notes[0]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.ipynb", "{}")
    with pytest.raises(GradingError, match="unsafe member"):
        collect(evil, tmp_path / "work2")


def test_cells_are_put_back_in_the_tp_order():
    nb = _reordered(solved())
    nb = insert_after(nb, "up", "x = 1  # my cell")
    fixed = in_source_order(copy.deepcopy(nb), SOURCE)
    order = [_gid(c) for c in fixed.cells if _gid(c)]
    assert order == [_gid(c) for c in STUDENT.cells if _gid(c)]
    i = [c.source for c in fixed.cells].index("x = 1  # my cell")
    assert _gid(fixed.cells[i - 1]) == "up"
