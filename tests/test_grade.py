"""``unet-tp grade`` on submissions made from the student notebook: right answers, realistic
mistakes, and everything a notebook can do to the grader."""

from __future__ import annotations

import copy
import csv
import json
import os
import sqlite3
import zipfile
from dataclasses import dataclass
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


COLAB_CELLS = """\
!pip install -q nibabel
from google.colab import drive
drive.mount("/content/drive")
"""


def _metadata_lost(nb):
    """Saved by a tool that drops cell metadata."""
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _duplicated(nb):
    """Cells copied with their metadata and id (a student's 'duplicate cell' in Colab)."""
    for gid in ["double_conv", "test_down"]:
        i = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
        nb.cells.insert(i + 1, copy.deepcopy(nb.cells[i]))
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
CHEAT_TABLES = """\
from unet_tp.instructor import hidden_tests
ht = hidden_tests()
for name in list(ht._TESTS):
    try:
        ht._TESTS[name] = lambda *a: None
    except TypeError:
        ht._TESTS = {n: (lambda *a: None) for n in ht._TESTS}
        break
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
        "colab": (colab_resave(insert_after(solved(), "setup", COLAB_CELLS)), FULL),
        "metadata_lost": (_metadata_lost(solved()), FULL),
        "deleted_test": (_deleted(solved(), "test_down"), FULL),
        "reordered": (_reordered(solved()), FULL),
        "raises": (
            insert_after(
                insert_after(solved(), "down", "raise ValueError('my own bug')"),
                "up",
                "import numpy as np\nx = np.empty(10 << 30, dtype=np.uint8)  # 10 GiB",
            ),
            FULL,
        ),
        "duplicated": (_duplicated(solved()), FULL),
        "kernel_dies": (
            insert_after(
                solved(), "unet", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
            ),
            FULL,
        ),
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
        "cheat_tables": (
            insert_after(copy.deepcopy(STUDENT), "setup", CHEAT_TABLES),
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
        path.write_text(json.dumps(nb, indent=1))
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


CASES = [
    "correct", "blank", "no_padding", "crop_off_by_one", "channels_not_halved",
    "softmax_missing", "mean_over_classes", "no_zero_grad", "colab", "metadata_lost", "deleted_test",
    "reordered", "raises", "duplicated", "kernel_dies", "hangs", "huge_output", "cheat_patch",
    "cheat_fake_pass", "cheat_tables", "cheat_reference", "cheat_write", "not_json", "empty",
]  # fmt: skip


@dataclass
class Graded:
    subs: Path
    out: Path
    expected: dict[str, dict[str, int]]
    notes: dict[str, str]
    lines: list[str]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """Every case graded in one batch, as an instructor would (2 workers)."""
    tmp = tmp_path_factory.mktemp("grading")
    subs, out = tmp / "subs", tmp / "out"
    expected = submissions(subs, out)
    assert sorted(expected) == sorted(CASES)
    lines: list[str] = []
    results = grade_all(subs, out, jobs=2, cell_timeout=30, progress=lines.append)
    notes = {r.student_id: " ".join(r.notes) for r in results}
    return Graded(subs, out, expected, notes, lines)


@pytest.mark.parametrize("case", CASES)
def test_each_submission_gets_exactly_the_points_it_earned(graded, case):
    row = _rows(graded.out)[case]
    assert _blocks(row) == graded.expected[case], row["notes"][:1000]
    assert int(row["total"]) == sum(graded.expected[case].values())


def test_the_notes_say_what_went_wrong(graded):
    notes = graded.notes
    assert "CellTimeoutError" in notes["hangs"]
    assert "ValueError: my own bug" in notes["raises"]
    assert "MemoryError" in notes["raises"]  # the address-space cap, not a machine out of memory
    assert "DeadKernelError" in notes["kernel_dies"]
    assert "a copy of cell double_conv was run" in notes["duplicated"]
    assert "restored by content" in notes["metadata_lost"]
    assert "ModuleNotFoundError: No module named 'google'" in notes["colab"]
    assert "invalid JSON" in notes["not_json"] and "empty" in notes["empty"]
    assert "replaced torch.allclose" in notes["cheat_patch"]
    assert "reference solutions are not available" in notes["cheat_reference"]
    for cheat in ["cheat_patch", "cheat_fake_pass", "cheat_tables", "cheat_reference"]:
        assert "REVIEW" in notes[cheat], cheat
    for honest in ["correct", "no_padding", "colab", "reordered", "duplicated"]:
        assert "REVIEW" not in notes[honest], (honest, notes[honest])
    assert _rows(graded.out)["cheat_patch"]["review"] == "yes"
    assert _rows(graded.out)["correct"]["review"] == ""


def test_writing_into_the_output_folder_is_undone(graded):
    assert not (graded.out / "evil.txt").exists()
    assert any("removed evil.txt" in line for line in graded.lines)
    assert _rows(graded.out)["cheat_write"]["total"] == "20"
    assert "mallory" not in _rows(graded.out)


def test_feedback_for_each_student_and_a_gradebook_that_agrees(graded):
    out = graded.out
    for s in graded.expected:
        assert (out / "feedback" / f"{s}.html").exists()
    html = (out / "feedback" / "correct.html").read_text()
    assert "Total: 20 / 20" in html and "[hidden tests] test_unet: passed" in html
    assert (
        "[grading] not run: !pip install -q nibabel"
        in (out / "feedback" / "colab.html").read_text()
    )
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
    assert scores == {s: sum(e.values()) for s, e in graded.expected.items()}


def test_a_rerun_grades_only_what_changed(graded):  # last: it changes a submission
    lines: list[str] = []
    n = len(graded.expected)
    grade_all(graded.subs, graded.out, jobs=1, progress=lines.append)
    assert f"{n} submissions: 0 to grade, {n} unchanged" in lines[0]
    nbformat.write(copy.deepcopy(STUDENT), graded.subs / "correct" / "Copy of TP_sujet.ipynb")
    lines.clear()
    grade_all(graded.subs, graded.out, jobs=1, progress=lines.append)
    assert "1 to grade" in lines[0]
    rows = _rows(graded.out)
    assert rows["correct"]["total"] == "0" and rows["crop_off_by_one"]["total"] == "16"


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


DB_URLS = ["sqlite-elsewhere"] + (
    [os.environ["UNET_TP_TEST_DB_URL"]] if os.environ.get("UNET_TP_TEST_DB_URL") else []
)


@pytest.mark.parametrize("db_url", DB_URLS)
def test_the_gradebook_at_any_sqlalchemy_url(tmp_path, db_url):
    """--db: the grades land in that database, and grading again updates them in place.

    Set UNET_TP_TEST_DB_URL (e.g. postgresql://grader@127.0.0.1:55432/course, an empty database)
    to run it on PostgreSQL too."""
    from nbgrader.api import Gradebook

    from autograder.grade import Result, _write_gradebook, test_cells

    if db_url == "sqlite-elsewhere":
        db_url = f"sqlite:///{tmp_path / 'shared' / 'course.db'}"
        (tmp_path / "shared").mkdir()
    tests = test_cells(SOURCE)

    def result(sid: str, name: str, points: float) -> Result:
        pts = {gid: (t["points"] if points else 0.0) for gid, t in tests.items()}
        return Result(sid, name, f"{sid}.ipynb", "0" * 64, pts, 20.0, [], 1.0)

    _write_gradebook(db_url, [result("4242", "Dupont Marie", 1), result("77", "Paul", 0)], tmp_path)
    _write_gradebook(db_url, [result("77", "Paul", 1)], tmp_path / "again")  # Paul regraded
    with Gradebook(db_url) as gb:
        assert {s.id for s in gb.students} >= {"4242", "77"}
        assert gb.find_student("4242").last_name == "Marie"
        for sid in ["4242", "77"]:
            assert gb.find_submission(build.ASSIGNMENT, sid).score == 20
        assert len(gb.find_assignment(build.ASSIGNMENT).submissions) == 2
