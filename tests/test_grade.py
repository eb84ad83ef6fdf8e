"""``unet-tp grade`` on submissions made from the student notebook: right answers, realistic
mistakes, correct code written differently, and everything a notebook can do to the grader.

Every notebook runs in the bubblewrap sandbox; the grades come from the grader's comparisons."""

from __future__ import annotations

import base64
import copy
import csv
import html as html_module
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import build
from autograder.grade import GradingError, grade_all, identify, in_source_order, self_check_hint
from autograder.repair import number_answer
from autograder.spec import load as load_spec
from notebooks import (
    DOUBLE_CONV_ONE_RELU,
    FULL,
    STUDENT,
    insert_after,
    solved,
    solved_french,
    with_cell,
)
from notebooks import gid as _gid


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


def _colab_cells(nb):
    """A Colab student's own cells: installs, Drive, a module shown, a package grading lacks."""
    insert_after(nb, "setup", COLAB_CELLS)
    insert_after(nb, "double_conv", SHOWN_MODULE)
    insert_after(nb, "double_conv", OLD_NUMPY)
    insert_after(nb, "training", "model.eval()")  # (shown too: a callable, IPython's `_`)
    return insert_after(nb, "predict_dice", MISSING_IMPORT)


def _deleted(nb, gid):
    nb.cells = [c for c in nb.cells if _gid(c) != gid]
    return nb


# a module shown as a cell's last line (IPython's display hook keeps it: honest round 16, every
# block tested after it was lost), as a Colab student looks at what they built
SHOWN_MODULE = "DoubleConv(4, 8, batch_norm=True)"
# numpy's removed aliases put back for an old library, fastai's Path.ls (honest round 17: each
# cost every later block, as code of the notebook's in numpy's and pathlib's place)
OLD_NUMPY = (
    "import numpy as np\nfrom pathlib import Path\n\nnp.int = int\nnp.float = np.float64\n"
    "Path.ls = lambda self: sorted(self.iterdir())"
)
# a package Colab has and grading does not (sklearn), in a cell of the student's after (g)
MISSING_IMPORT = "from colab_only_package import f1_score"
COLAB_CELLS = """\
!pip install -q nibabel
!nvidia-smi
gpus = !nvidia-smi -L
from google.colab import drive, files
drive.mount("/content/drive")
uploaded = files.upload()
from google.colab.patches import cv2_imshow
from typing import Optional
assert Optional and not uploaded and gpus == []
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
for gid in ["test_double_conv", "test_down", "test_unet"]:
    print(f"[hidden tests] {gid}: passed 0123456789abcdef0123456789abcdef")
"""
# reach the dict behind a read-only table with gc and replace every entry (the published cheat
# against in-kernel test tables), then swap the code of every check for a no-op
CHEAT_GC = """\
import gc, types
for obj in gc.get_objects():
    if isinstance(obj, types.MappingProxyType):
        for inner in gc.get_referents(obj):
            if isinstance(inner, dict) and any(str(k).startswith("test_") for k in inner):
                for k in inner:
                    inner[k] = lambda *a, **kw: None
"""
CHEAT_CODE = """\
import unet_tp.checks as _c
for _name in dir(_c):
    if _name.startswith("check_"):
        getattr(_c, _name).__code__ = (lambda *a, **k: None).__code__
"""
# look for the reference next to the installed package, and anywhere on the disk, and run it
CHEAT_EXEC = """\
import os, pathlib, sys, unet_tp
found = []
for root in [pathlib.Path(unet_tp.__file__).resolve().parents[1], *map(pathlib.Path, sys.path)]:
    found += sorted(root.glob("solutions/*.py")) + sorted(root.glob("*/solutions/*.py"))
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if d not in {"proc", "sys", "dev"}]
    found += [pathlib.Path(top) / f for f in files if f in {"unet.py", "losses.py", "hidden_tests.py"}]
for path in found:
    exec(path.read_text())
print("found", found)
"""
CHEAT_REFERENCE = """\
from solutions.unet import DoubleConv  # the reference, by its package name
"""
NETWORK = """\
import socket, urllib.request
try:
    urllib.request.urlopen("http://93.184.215.14/", timeout=3)
except OSError as exc:
    print("no network:", exc)
"""
# reaches for the harness by its name, and for the name the grader's requests import it by where
# the kernel keeps what ran (linecache, the history, the start-up files); found, it empties the
# harness's table of answers (every later request would fail)
HARNESS_BY_NAME = """\
import glob, importlib, linecache, os, pydoc, re
texts = [line for entry in list(linecache.cache.values()) for line in entry[2]]
texts += list(In) + [open(f).read() for f in glob.glob(os.path.expanduser("~/.ipython/*/*/*"))]
found = []
for name in ["unet_tp_harness"] + re.findall(r"_unet_tp_harness_\\w+", " ".join(texts)):
    for importer in (importlib.import_module, pydoc.safeimport):
        try:
            found.append(importer(name))
        except Exception as exc:
            print(name, type(exc).__name__)
for module in found:
    if module is not None:
        module._KINDS.clear()
"""
WRITE_OUTSIDE = """\
import os
import re
for target in ["/opt/grading/lib/unet_tp/checks.py", "/etc/passwd", "/usr/evil"]:
    try:
        with open(target, "a") as f:
            f.write("x")
    except OSError as exc:
        print(target, exc)
"""
# red teams 32 and 33: the notebook's code changes each answer after the harness wrote it and
# before the worker takes it (here from time.sleep, which ipykernel calls before every reply;
# the same arrays saved again: the bytes are no longer those the harness said it wrote)
ANSWERS_RESAVED = """\
import os
import time

import numpy as np

_sleep = time.sleep


def _resaved(seconds):
    folder = "/opt/grading/answers"
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.startswith("ans-") and name.endswith(".npz"):
            with np.load(os.path.join(folder, name)) as data:
                arrays = {k: data[k] for k in data.files}
            with open(os.path.join(folder, name), "wb") as f:
                np.savez(f, **arrays)
    _sleep(seconds)


time.sleep = _resaved
"""

FORK_LOOP = """\
import os, time
children = []
try:
    for _ in range(2000):
        pid = os.fork()
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print(f"fork refused after {len(children)} processes: {exc}")
for pid in children:
    os.waitpid(pid, 0)
"""
# many files, each under the file-size limit, into its home (4 MiB each, 256 MiB: with the
# sample data already there, past the batch's disk limit); then it waits to be stopped
DISK_LIMIT = 192 << 20
DISK_FILL = """\
import os, time
os.makedirs("fill", exist_ok=True)
for i in range(64):
    with open(f"fill/{i}", "wb") as f:
        f.write(os.urandom(4 << 20))
time.sleep(600)
"""
# the same, each file unlinked while held open (or mapped, its descriptor closed): its folders
# look empty, the host's disk is taken all the same
DISK_HELD = """\
import mmap, os, time
held = []
for i in range(64):
    f = open(f"held{i}", "wb+")
    f.write(os.urandom(4 << 20))
    f.flush()
    os.unlink(f"held{i}")
    held.append(mmap.mmap(f.fileno(), 4 << 20) if i % 2 else f)
time.sleep(600)
"""
# folders the grader must still remove: 1200 deep (past shutil.rmtree's recursion, which
# stopped the batch), unreadable (chmod 000: left on a grader not root)
DEEP_TREE = """\
import os
import re
fd = os.open(".", os.O_RDONLY)
for _ in range(1200):
    os.mkdir("d", dir_fd=fd)
    inner = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = inner
os.makedirs("hide/more")
open("hide/more/x", "w").write("x")
os.chmod("hide/more", 0)
os.chmod("hide", 0)
"""
# a real mistake in (a) only: the second ReLU is missing
DOUBLE_CONV_NO_SECOND_RELU = """\
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        p = 1 if padding else 0
        layers = [nn.Conv2d(in_channels, out_channels, 3, padding=p, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
        layers += [nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(out_channels, out_channels, 3, padding=p, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(out_channels)] if batch_norm else []
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)
"""
TORCHVISION_UP = (
    "skip = center_crop(skip, x.shape[-2], x.shape[-1])",
    "from torchvision.transforms.functional import center_crop as tv_crop\n"
    "            skip = tv_crop(skip, [x.shape[-2], x.shape[-1]])",
)


def cheat_write(out: Path, host: Path) -> str:
    """Overwrite the grades in OUT and a file of the host next to it; the cell then says what
    each write did, so the notes show the attempt was made inside the sandbox."""
    return (
        "from pathlib import Path\n"
        f"out, host = Path({str(out)!r}), Path({str(host)!r})\n"
        "tried = []\n"
        "for path, data in [\n"
        "    (out / 'grades.csv', b'student_id,total\\nmallory,20\\n'),\n"
        "    (out / 'gradebook.db', b'garbage'),\n"
        "    (out / 'evil.txt', b'x'),\n"
        "    (host, b'overwritten'),\n"
        "]:\n"
        "    try:\n"
        "        path.write_bytes(data)\n"
        "        tried.append(f'{path.name} written')\n"
        "    except OSError as exc:\n"
        "        tried.append(f'{path.name} refused ({type(exc).__name__})')\n"
        "raise RuntimeError('cheat_write tried: ' + ', '.join(tried))\n"
    )


# |P| + |T| as 2 |P & T| + the mismatches SciPy's Hamming counts
HAMMING_SIZES = (
    "/ (2 * np.logical_and(pred, truth).sum()"
    " + round(hamming(pred.ravel(), truth.ravel()) * pred.size)))"
)


def submissions(folder: Path, out: Path, host: Path) -> dict[str, dict[str, int]]:
    """Write every case; returns the expected points per block of each student. A cheat is
    planted in a solved notebook whose one blank it targets is left empty: a cheat that works
    would earn that blank's points."""
    cases: dict[str, tuple[object, dict[str, int]]] = {
        "correct": (solved(), FULL),
        # the same code in the French notebook: the same points, the feedback in French
        "correct_fr": (solved_french(), FULL),
        "blank": (copy.deepcopy(STUDENT), dict.fromkeys(FULL, 0)),
        # realistic mistakes, one block each
        "no_padding": (
            solved(double_conv=("pad = 1 if padding else 0", "pad = 0")),
            {**FULL, "a": 0},  # (b)-(d) are graded with the grader's DoubleConv
        ),
        "double_conv_no_second_relu": (
            with_cell(solved(), "double_conv", DOUBLE_CONV_NO_SECOND_RELU),
            {**FULL, "a": 0},
        ),
        "crop_off_by_one": (
            solved(
                up=("top = (x.shape[-2] - height) // 2", "top = (x.shape[-2] - height) // 2 + 1")
            ),
            {**FULL, "c": 2},  # center_crop's point; Up is graded with the grader's crop
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
            {**FULL, "c": 1},
        ),
        "concat_order": (
            solved(up=("torch.cat([skip, x], dim=1)", "torch.cat([x, skip], dim=1)")),
            {**FULL, "c": 1},
        ),
        # (and its Dice's mismatches counted by SciPy's Hamming, fair: the check's own reading
        # of the answer's source was flagged as a library running code, red team 56)
        "one_relu_module": (
            with_cell(
                insert_after(
                    solved(predict_dice=("/ sizes)", HAMMING_SIZES)),
                    "train_step",
                    "from scipy.spatial.distance import hamming",
                ),
                "double_conv",
                DOUBLE_CONV_ONE_RELU,
            ),
            FULL,
        ),
        "torchvision_up": (solved(up=TORCHVISION_UP), FULL),
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
            insert_after(
                solved(
                    cce_loss=(
                        "per_pixel = -(t * log_s).sum(dim=1)",
                        "per_pixel = -(t * log_s).mean(dim=1)",
                    )
                ),
                "predict_dice",
                MISSING_IMPORT,
            ),
            {**FULL, "e": 0},
        ),
        "no_zero_grad": (
            solved(train_step=("optimizer.zero_grad()", "pass")),
            {**FULL, "f": 0},
        ),
        # what Colab and students do to notebooks
        "colab": (colab_resave(_colab_cells(solved())), FULL),
        "metadata_lost": (_metadata_lost(solved()), FULL),
        "deleted_test": (_deleted(solved(), "test_down"), FULL),
        "reordered": (_reordered(solved()), FULL),
        "raises": (
            insert_after(
                insert_after(
                    insert_after(solved(), "down", "raise ValueError('my own bug')"),
                    "up",
                    "import numpy as np\nx = np.empty(10 << 30, dtype=np.uint8)  # 10 GiB",
                ),
                "unet",
                "from torch.utils.data import DataLoader\nlist(DataLoader(range(4), num_workers=2))",
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
        # torch's function replaced by its own: the grader's requests make their tensors through
        # torch's functions (red team 83), so no block tested after it is credited
        "cheat_patch": (
            insert_after(solved("double_conv"), "double_conv", CHEAT_PATCH),
            dict.fromkeys(FULL, 0),
        ),
        "cheat_fake_pass": (insert_after(solved("down"), "setup", CHEAT_FAKE), {**FULL, "b": 0}),
        # it writes into what gc lists (the harness's tests): no text shows what changed, so it
        # costs every block tested after it
        "cheat_gc": (insert_after(solved("unet"), "setup", CHEAT_GC), dict.fromkeys(FULL, 0)),
        "cheat_code_swap": (
            insert_after(solved("train_step"), "setup", CHEAT_CODE),
            {**FULL, "f": 0},
        ),
        # after the empty blank: the reference it runs would fill it; code run from files may
        # define any name: it costs every block tested after it (e, f, g)
        "cheat_exec_reference": (
            insert_after(solved("cce_loss"), "cce_loss", CHEAT_EXEC),
            {**FULL, "e": 0, "f": 0, "g": 0},
        ),
        "cheat_reference": (
            insert_after(
                solved(double_conv=("pad = 1 if padding else 0", "pad = 0")),
                "double_conv",
                CHEAT_REFERENCE,
            ),
            {**FULL, "a": 0},
        ),
        "network": (insert_after(solved(), "setup", NETWORK), FULL),
        "write_outside": (insert_after(solved(), "setup", WRITE_OUTSIDE), FULL),
        "harness_by_name": (insert_after(solved(), "test_up", HARNESS_BY_NAME), FULL),
        "fork_loop": (insert_after(solved(), "down", FORK_LOOP), FULL),
        "answers_rewritten": (
            insert_after(solved(), "setup", ANSWERS_RESAVED),
            dict.fromkeys(FULL, 0),
        ),
        "disk_fill": (insert_after(solved(), "setup", DISK_FILL), FULL),
        "deep_tree": (insert_after(solved(), "setup", DEEP_TREE), FULL),
        "disk_held": (insert_after(solved(), "setup", DISK_HELD), FULL),
        "drive": (
            insert_after(
                solved(),
                "setup",
                'DATA_SOURCE = "drive"\nfrom google.colab import drive\ndrive.mount("/content/drive")',
            ),
            FULL,
        ),
        "cheat_write": (insert_after(solved(), "setup", cheat_write(out, host)), FULL),
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
    with open(out / "grades.csv", encoding="utf-8-sig") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _blocks(row) -> dict[str, int]:
    return {k[0]: int(float(row[k])) for k in row if k[:2] in {f"{b}_" for b in FULL}}


CASES = [
    "correct", "correct_fr", "blank", "no_padding", "double_conv_no_second_relu", "crop_off_by_one",
    "channels_not_halved", "concat_order", "one_relu_module", "torchvision_up", "softmax_missing",
    "mean_over_classes", "no_zero_grad", "colab", "metadata_lost", "deleted_test", "reordered",
    "raises", "duplicated", "kernel_dies", "hangs", "huge_output", "cheat_patch", "cheat_fake_pass",
    "cheat_gc", "cheat_code_swap", "cheat_exec_reference", "cheat_reference", "network",
    "write_outside", "harness_by_name", "fork_loop", "answers_rewritten", "disk_fill", "deep_tree", "disk_held", "drive", "cheat_write", "not_json", "empty",
]  # fmt: skip
CHEATS = ["cheat_patch", "cheat_fake_pass", "cheat_gc", "cheat_code_swap", "cheat_exec_reference"]
HONEST = [
    "correct", "correct_fr", "no_padding", "double_conv_no_second_relu", "concat_order",
    "one_relu_module",
    "torchvision_up", "colab", "drive", "reordered", "duplicated", "metadata_lost", "deleted_test",
]  # fmt: skip


# seconds a cell of the batch may run: "hangs" waits it out; the slowest honest cell (the set-up)
# takes 2 s alone, under 10 s on a loaded 2-core machine
CELL_TIMEOUT = 30


@dataclass
class Graded:
    subs: Path
    out: Path
    host: Path  # a file next to OUT that cheat_write tries to overwrite
    expected: dict[str, dict[str, int]]
    notes: dict[str, str]
    lines: list[str]
    results: dict[str, dict]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    """Every case graded in one batch, as an instructor would (2 workers)."""
    tmp = tmp_path_factory.mktemp("grading")
    subs, out, host = tmp / "subs", tmp / "out", tmp / "host.txt"
    host.write_text("untouched\n")
    expected = submissions(subs, out, host)
    assert sorted(expected) == sorted(CASES)
    lines: list[str] = []
    results = grade_all(
        subs, out, jobs=2, cell_timeout=CELL_TIMEOUT, disk_limit=DISK_LIMIT, progress=lines.append
    )
    notes = {r.student_id: " ".join(r.notes) for r in results}
    as_json = {r.student_id: r.as_json() for r in results}
    return Graded(subs, out, host, expected, notes, lines, as_json)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_each_submission_gets_exactly_the_points_it_earned(graded, case):
    row = _rows(graded.out)[case]
    assert _blocks(row) == graded.expected[case], row["notes"][:1000]
    assert int(row["total"]) == sum(graded.expected[case].values())


@pytest.mark.slow
def test_the_notes_say_what_went_wrong(graded):
    notes, results = graded.notes, graded.results
    assert "CellTimeoutError" in notes["hangs"]
    assert "ValueError: my own bug" in notes["raises"]
    assert "MemoryError" in notes["raises"]  # the address-space cap, not a machine out of memory
    # the kernel is one process: a data loader's workers are refused, and the note says why
    assert "a DataLoader needs num_workers=0 there" in notes["raises"]
    assert "DeadKernelError" in notes["kernel_dies"]
    assert "a copy of the TP's cell double_conv was run as your own cell" in notes["duplicated"]
    assert "restored by content" in notes["metadata_lost"]
    # Colab's drive.mount, files.upload, `!nvidia-smi` do nothing where grading runs: the cell runs on (the
    # lines after them were never run: an import there cost the blocks using it their points)
    # (but a package grading lacks, imported after (g): a note, and no review where no point is lost)
    assert re.fullmatch(
        r"cell \d+ \(your cell after \(g\)\): uses the package 'colab_only_package', which the "
        r"grading environment does not have",
        notes["colab"],
    ), notes["colab"]
    assert "invalid JSON" in notes["not_json"] and "empty" in notes["empty"]
    assert results["not_json"]["language"] == "en"  # the class's: not known from the file
    assert notes["correct"] == notes["correct_fr"] == ""  # an honest notebook, nothing to say
    assert "your cell after (b)" in notes["raises"]
    # one mistake, one block, one message that says what differs
    a = results["double_conv_no_second_relu"]["blocks"]["a"]
    assert a["at_fault"] == "a" and "differs from the reference" in a["message"]
    assert "built on (a)" in results["double_conv_no_second_relu"]["blocks"]["b"]["warning"]
    assert "center_crop of a" in results["crop_off_by_one"]["blocks"]["c"]["message"]
    assert "F.cross_entropy" not in results["softmax_missing"]["blocks"]["e"]["message"]


@pytest.mark.slow
def test_cheats_earn_nothing_and_are_flagged_and_honest_notebooks_are_not(graded):
    rows = _rows(graded.out)
    for cheat in [
        *CHEATS,
        "cheat_reference",
        "network",
        "write_outside",
        "harness_by_name",
        "fork_loop",
        "answers_rewritten",
        "disk_fill",
        "deep_tree",
        "disk_held",
        "cheat_write",
    ]:
        assert rows[cheat]["review"] == "yes", (cheat, rows[cheat]["notes"][:500])
    for honest in HONEST:
        assert rows[honest]["review"] == "", (honest, rows[honest]["notes"][:500])
    review = {sid: " ".join(r["review"]) for sid, r in graded.results.items()}
    for unread in ("empty", "not_json"):  # a 0 to chase, not to post (instructor round 20)
        assert review[unread].startswith("no notebook to grade (") and "ask the" in review[unread]
    # a package grading lacks: noted, and for the instructor to check only where points were lost
    for case in ("colab", "mean_over_classes"):
        assert "uses the package 'colab_only_package'" in graded.notes[case]
    assert "imports 'colab_only_package', missing where grading runs" in review["mean_over_classes"]
    assert "reaches into the interpreter" in review["cheat_gc"]
    assert "rewrites code objects" in review["cheat_code_swap"]
    assert "tried to use the network" in review["network"]
    assert "outside its home" in review["write_outside"]
    assert "starts processes" in review["fork_loop"]  # refused at once: one process
    assert "answers not taken" in review["answers_rewritten"]
    assert "not taken" in graded.results["answers_rewritten"]["blocks"]["a"]["message"]
    # stopped once its folders passed the disk limit, the cell skipped in a new kernel
    # (a tree too deep to measure counts as past it; files removed but held count as in them)
    for filler in ["disk_fill", "deep_tree", "disk_held"]:
        assert "passed the disk limit" in review[filler]
        assert "cell 5 (your cell after '0. Set-up'): DeadKernelError" in graded.notes[filler]


@pytest.mark.slow
def test_writing_into_the_output_folder_never_reaches_it(graded):
    """The sandbox does not see OUT nor the host's files: the notebook tried its writes (its cell
    says so), they landed nowhere, so the grader had nothing to undo (it would say so), and its
    grade is its code's."""
    tried = graded.notes["cheat_write"]
    for name in ["grades.csv", "gradebook.db", "evil.txt", "host.txt"]:
        assert f"{name} refused" in tried, tried
    assert graded.host.read_text() == "untouched\n"
    assert not (graded.out / "evil.txt").exists()
    assert not [line for line in graded.lines if "during grading" in line], graded.lines
    assert _rows(graded.out)["cheat_write"]["total"] == "20"
    assert "mallory" not in _rows(graded.out)


@pytest.mark.slow
def test_feedback_for_each_student_and_a_gradebook_that_agrees(graded):
    out = graded.out
    for s in graded.expected:
        assert (out / "feedback" / f"{s}.html").exists()
    html = (out / "feedback" / "correct.html").read_text()
    pending = "/ 30 so far, pending manual grading of 5 question(s)"  # 20 for the code, 10 by hand
    assert f"20 {pending}" in html and "<html lang='en'>" in html
    french = html_module.unescape((out / "feedback" / "correct_fr.html").read_text())
    assert "<html lang='fr'>" in french and "Points par bloc" in french
    assert "20 / 30 pour l'instant ; 5 question(s) en attente de correction à la main" in french
    buggy = (out / "feedback" / "double_conv_no_second_relu.html").read_text()
    assert f"18 {pending}" in buggy and "differs from the reference" in buggy
    cheat = (out / "feedback" / "cheat_gc.html").read_text()
    assert f"0 {pending}" in cheat and "reaches into the interpreter (gc)" in cheat
    for page in (html, buggy, cheat):  # nothing of the instructor's machine or the grader
        assert str(build.REPO_ROOT) not in page and "/tmp/" not in page and "/root" not in page
        assert "hidden test" not in page.lower() and "solutions/" not in page
    assert (out / "report.html").exists() and (out / "results.json").exists()
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


@pytest.mark.slow
def test_a_rerun_grades_only_what_changed(graded, tmp_path):
    """On a copy of the graded batch: the other tests keep seeing it as it was graded."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(graded.subs, subs)
    shutil.copytree(graded.out, out)
    lines: list[str] = []
    n = len(graded.expected)
    limits = {"cell_timeout": CELL_TIMEOUT, "disk_limit": DISK_LIMIT}  # the batch's: others regrade
    results_json = json.loads((out / "results.json").read_text())
    graded_at = results_json["graded_at"] = "2026-01-05T08:00:00+00:00"  # as if graded then
    (out / "results.json").write_text(json.dumps(results_json))
    grade_all(subs, out, jobs=1, progress=lines.append, **limits)
    assert f"{n} submissions: 0 to grade, {n} unchanged" in lines[0]
    # nothing graded: the report still says when the grades were made
    assert json.loads((out / "results.json").read_text())["graded_at"] == graded_at
    assert f"graded at</th><td>{graded_at}" in (out / "report.html").read_text()
    nbformat.write(copy.deepcopy(STUDENT), subs / "correct" / "Copy of TP_sujet.ipynb")
    lines.clear()
    results = grade_all(subs, out, jobs=1, progress=lines.append, **limits)
    assert "1 to grade" in lines[0]
    assert _rows(graded.out)["correct"]["total"] == "20"  # the original is untouched
    rows = _rows(out)
    assert rows["correct"]["total"] == "0" and rows["crop_off_by_one"]["total"] == "19"
    why = {r.student_id: r.regraded for r in results}
    assert why["correct"] == "the file changed" and why["blank"] is None


@dataclass
class _Students:
    students: list


def _without_running(monkeypatch, graded) -> None:
    """``grade_all`` with ``graded`` for ``_grade_many`` and nothing written but the state: the
    regrading decisions alone, in a second."""
    from autograder import grade

    monkeypatch.setattr(grade, "_grade_many", graded)
    monkeypatch.setattr(grade, "write_gradebook", lambda *a, **k: [])
    monkeypatch.setattr(grade, "_write_course_folder", lambda *a: None)
    monkeypatch.setattr(grade._Run, "results", lambda self, students, fresh: _Students(students))
    monkeypatch.setattr(grade, "with_manual_scores", lambda results, out: results)
    monkeypatch.setattr(grade, "write_pages", lambda *a: None)
    monkeypatch.setattr(grade._Run, "write_outputs", _class_only)


def _class_only(run, graded, shown, fresh) -> None:
    """What ``_without_running``'s runs write of their outputs: the class, in results.json."""
    students = [{"student_id": s.student_id} for s in graded.students]
    (run.out / "results.json").write_text(json.dumps({"students": students}))


def test_the_console_says_why_a_rerun_grades_again(tmp_path, monkeypatch):
    """A re-run that grades every notebook again (the grader changed, here a new answer) says
    why on the console, not only "19 to grade, 0 unchanged" (the report says it per student)."""
    from autograder import grade
    from autograder.regrade import why_line

    subs = tmp_path / "subs"
    for name in ["alice", "bob"]:
        (subs / name).mkdir(parents=True)
        (subs / name / "TP_sujet.ipynb").write_text("{}")
    _without_running(monkeypatch, lambda todo, *a: [])
    lines: list[str] = []
    grade.grade_all(subs, tmp_path / "out", jobs=1, progress=lines.append)
    assert lines[:2] == [
        "2 submissions: 2 to grade, 0 unchanged",
        "why: new submission (2: alice, bob)",
    ]
    many = [(types_sub(str(i)), "the file changed") for i in range(7)]
    assert why_line(many) == "why: the file changed (7: 0, 1, 2, 3, 4, …)"
    assert why_line([]) == ""


def test_an_output_folder_of_other_files_is_refused_not_overwritten(tmp_path):
    """--out naming a folder of the instructor's own (their grades.csv, a report.html: grading
    writes those names) is refused, naming it, before anything is read or written; a new, empty
    or earlier run's folder is fine."""
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "TP_sujet.ipynb").write_text("{}")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "grades.csv").write_text("my own grades")
    with pytest.raises(GradingError, match=r"mine: holds files of its own \(grades.csv\)"):
        grade_all(tmp_path / "subs", mine, progress=lambda line: None)
    assert (mine / "grades.csv").read_text() == "my own grades" and len(list(mine.iterdir())) == 1
    from autograder.grade import _check_out

    (mine / "gradebook.db").write_bytes(b"")  # a run stopped after writing its gradebook
    _check_out(mine)
    finder = tmp_path / "finder"  # a new folder macOS's Finder or Jupyter has opened
    finder.mkdir()
    (finder / ".DS_Store").write_bytes(b"\0")
    (finder / ".ipynb_checkpoints").mkdir()
    _check_out(finder)
    a_file = tmp_path / "out.txt"
    a_file.write_text("x")
    with pytest.raises(GradingError, match="out.txt: not a folder"):
        grade_all(tmp_path / "subs", a_file, progress=lambda line: None)
    nothing = tmp_path / "nothing"  # nothing to grade: no output folder made for it
    nothing.mkdir()
    with pytest.raises(GradingError, match="nothing: no .ipynb file found"):
        grade_all(nothing, tmp_path / "new_out", progress=lambda line: None)
    assert not (tmp_path / "new_out").exists()


def test_an_output_folder_that_cannot_be_written_is_refused_before_grading(tmp_path, monkeypatch):
    """A read-only --out (a read-only mount) was found once the whole class was graded, as "not
    a readable nbgrader gradebook ...; restore it from a copy": now said first, naming it."""
    import errno
    import tempfile

    from autograder import grade as grading

    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "TP_sujet.ipynb").write_text("{}")
    real = tempfile.TemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if Path(dir).is_relative_to(tmp_path / "ro"):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(grading.tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(grading, "collect", lambda *a: pytest.fail("graded before the check"))
    (tmp_path / "ro").mkdir()
    for out in (tmp_path / "ro", tmp_path / "ro" / "new" / "out"):
        with pytest.raises(GradingError, match=f"^{out}: it is on a read-only file system"):
            grade_all(tmp_path / "subs", out, progress=lambda line: None)
    assert not (tmp_path / "ro" / "new").exists()


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_a_grade_cut_short_by_the_machine_or_under_other_limits_is_graded_again(
    tmp_path, monkeypatch
):
    """A grade the grading machine cut short (the worker failed, its disk ran low, the grader's
    own error) was kept by every re-run without --force; and so was every grade after the
    instructor raised --cell-timeout for the notebooks that had timed out."""
    from autograder import grade
    from autograder.results import Result

    subs = tmp_path / "subs"
    for name in ["alice", "bob"]:
        (subs / name).mkdir(parents=True)
        (subs / name / "TP_sujet.ipynb").write_text("{}")

    def graded(todo, *args):  # as _grade_many, alice's worker failing every time
        cut = "the grading worker failed: Killed"
        return [
            Result(s.student_id, s.name, s.relpath, s.sha256, {}, {}, 30.0, regraded=why,
                   interrupted=cut if s.student_id == "alice" else None)
            for s, why in todo
        ]  # fmt: skip

    _without_running(monkeypatch, graded)
    out, lines = tmp_path / "out", []

    def run(**limits) -> list[str]:
        lines.clear()
        grade.grade_all(subs, out, jobs=1, progress=lines.append, **limits)
        return lines[:2]

    assert run()[1] == "why: new submission (2: alice, bob)"
    assert run() == [
        "2 submissions: 1 to grade, 1 unchanged (--force regrades them)",
        "why: the grading machine cut its last grading short (1: alice)",
    ]
    # cut short again: kept (a notebook may cut its own grading short, every run)
    assert run()[0] == "2 submissions: 0 to grade, 2 unchanged (--force regrades them)"
    changed = "why: the grading limits changed (timeouts, memory or disk) (2: alice, bob)"
    assert run(cell_timeout=300)[1] == changed
    assert run(cell_timeout=300, memory_limit=4 << 30)[1] == changed
    assert run(cell_timeout=300, memory_limit=4 << 30)[1].endswith("(1: alice)")


def types_sub(student_id: str):
    import types

    return types.SimpleNamespace(student_id=student_id)


def test_student_ids_from_what_really_arrives():
    assert identify("Dupont Marie_4242_assignsubmission_file_Copy of TP_sujet (1).ipynb") == (
        "4242",
        "Dupont Marie",
    )
    assert identify("Dupont Marie_4242_assignsubmission_file_/TP_sujet.ipynb")[0] == "4242"
    assert identify("alice/Copy of TP_sujet.ipynb") == ("alice", "alice")
    assert identify("TP_sujet_jdupont.ipynb")[0] == "jdupont"
    assert identify("jdupont - Copie de TP_sujet (2).ipynb")[0] == "jdupont"
    # Canvas's "Download submissions": name[_late]_<user id>_<attachment id>_<file>; a late file
    # and a re-submission (another attachment, "-1") are the same student, the gradebook's ID
    assert identify("garcíamaría_5002_9002_TP_sujet.ipynb") == ("5002", "garcíamaría")
    assert identify("garcíamaría_late_5002_9102_TP_sujet-1.ipynb") == ("5002", "garcíamaría")
    assert identify("patelpriya_5010_9010_Copy_of_TP_sujet.ipynb")[0] == "5010"
    assert identify("Copy_of_TP_sujet_jdupont.ipynb")[0] == "jdupont"
    # the French notebook's name is a decoration too (instructor round 19: two students' files,
    # "Copie de TP_sujet_fr.ipynb" and "TP_sujet_fr (1).ipynb", were one student "fr")
    assert identify("TP_sujet_fr_jdupont.ipynb")[0] == "jdupont"
    assert identify("TP_sujet_fred.ipynb")[0] == "fred"
    with pytest.raises(GradingError, match="does not say whose notebook"):
        identify("Copie de TP_sujet_fr (1).ipynb")
    # one name, its accent stored as a mark of its own (macOS's zips) or not: one student
    assert (
        identify("E\u0301lodie/TP.ipynb")[0] == identify("\u00c9lodie/TP.ipynb")[0] == "\u00c9lodie"
    )
    assert identify("x/g12_bob.ipynb", pattern=r"g\d+_(?P<id>\w+)\.ipynb")[0] == "bob"
    with pytest.raises(GradingError, match="does not say whose notebook"):
        identify("Copy of TP_sujet (1).ipynb")
    with pytest.raises(GradingError, match="finds no group 'id'"):
        identify("a.ipynb", pattern=r"zzz(?P<id>\d+)")
    # an id is a folder's name in the output: never "..", never hidden
    with pytest.raises(GradingError, match="reads the id '..', which has no letter or digit"):
        identify("x/../a.ipynb", pattern=r"x/(?P<id>[^/]+)/")
    assert identify("x/.bob./a.ipynb", pattern=r"x/(?P<id>[^/]+)/")[0] == "bob"


def test_a_file_that_is_not_a_notebook_says_where_in_plain_words(tmp_path):
    """Python's JSON messages end in "at" ("Unterminated string starting at"): the note read
    "invalid JSON (Unterminated string starting at at line 1)"."""
    from autograder.repair import read_submission

    broken = tmp_path / "TP_sujet.ipynb"
    broken.write_text('{"cells": [ {"cell_type": "code", "sou')
    with pytest.raises(GradingError) as err:
        read_submission(broken)
    assert str(err.value) == (
        "not a notebook: invalid JSON (Unterminated string starting at: line 1, column 35)"
    )
    broken.write_text("")
    with pytest.raises(GradingError, match="^the file is empty$"):
        read_submission(broken)
    with broken.open("r+b") as f:  # sparse: nothing is written, nothing may be read
        f.truncate(257 << 20)
    with pytest.raises(GradingError, match=r"too large for a notebook \(257 MiB, over 256 MiB\)"):
        read_submission(broken)


def test_a_notebook_is_read_in_a_process_of_its_own_and_kept_to_what_grading_reads(
    tmp_path, monkeypatch
):
    """A red team's notebook held 10 million empty objects in its metadata (28 MiB, 48 KiB
    zipped): parsed in the grader's process it took 190 bytes of memory per byte and killed the
    whole class's grading. It is read in a process of its own, its memory capped: too much says
    so, on that student's row; what is kept is what grading reads (no figure, no widget state)."""
    from autograder import repair
    from autograder.repair import read_submission

    nb = nbformat.v4.new_notebook(metadata={"unet_tp": {"language": "fr"}, "widgets": {"a": [1]}})
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    cell = nbformat.v4.new_code_cell("print('ok')", metadata={"colab": {"id": "x"}})
    cell.metadata["nbgrader"] = {"grade_id": "test_loss", "locked": True, "points": 4}
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="ok: the loss\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBO", "text/plain": "<Fig>"}),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=["a", "b"]),
    ]
    nb.cells.append(cell)
    path = tmp_path / "TP_sujet.ipynb"
    nbformat.write(nb, path)
    read = read_submission(path)
    assert read.metadata == {
        "unet_tp": {"language": "fr"},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    }
    (kept,) = read.cells
    assert kept.source == "print('ok')" and kept.metadata == {"nbgrader": cell.metadata.nbgrader}
    assert [o.output_type for o in kept.outputs] == ["stream", "display_data", "error"]
    assert kept.outputs[0].text == "ok: the loss\n"
    assert kept.outputs[1].data == {"text/plain": "<Fig>"}
    assert kept.outputs[2].traceback == ["a\nb"] and kept.outputs[2].evalue == "bad"

    text = nbformat.writes(nb)
    path.write_text(text[: text.rindex("}")] + ', "x": [' + ",".join(["{}"] * 3_000_000) + "]}")
    monkeypatch.setattr(repair, "READER_MEMORY_BYTES", 512 << 20)
    with pytest.raises(GradingError, match="the notebook takes more than 512 MiB to read: ask for"):
        read_submission(path)


def _fake_result(sub):
    """What grade_submission returns, as much of it as _grade_many reads."""
    import types

    return types.SimpleNamespace(
        student_id=str(sub), who=str(sub), total=0.0, max_points=20.0, seconds=0.0, review=[]
    )


def _ctrl_c_in_batch(monkeypatch, tmp_path, fake_grade, count: int, jobs: int, before=None):
    """``count`` notebooks graded by ``fake_grade``, ``jobs`` at a time, and a Ctrl-C (a
    KeyboardInterrupt in the main thread) at the progress line of the first result, once
    ``before`` (an Event) is set."""
    import types

    from autograder import grade

    def ctrl_c(line):
        if line.startswith("  0 "):
            if before is not None:
                before.wait(60)
            raise KeyboardInterrupt

    monkeypatch.setattr(grade, "grade_submission", fake_grade)
    monkeypatch.setattr(grade, "_prewarm", lambda home: None)
    ctx = types.SimpleNamespace(sandbox="none", template_home=tmp_path / "home")
    with pytest.raises(KeyboardInterrupt):
        grade._grade_many(
            [(i, "new submission") for i in range(count)], ctx, tmp_path, jobs, ctrl_c
        )


def test_ctrl_c_starts_no_queued_notebook(tmp_path, monkeypatch):
    """Ctrl-C during `unet-tp grade`: the notebooks still queued are not graded (the thread
    pool's exit used to run every one of them, minutes of sandboxes, before "interrupted")."""
    import threading

    started, release = [], threading.Event()

    def fake_grade(sub, ctx):
        started.append(sub)
        if len(started) > 1:
            release.wait(5)  # a notebook being graded when Ctrl-C comes
        return _fake_result(sub)

    try:
        _ctrl_c_in_batch(monkeypatch, tmp_path, fake_grade, 5, 1)
        assert len(started) <= 2  # the first, and the one the worker may have begun
    finally:
        release.set()


def test_ctrl_c_stops_the_notebooks_being_graded(tmp_path, monkeypatch):
    """Ctrl-C while a worker runs: its process (in its own session, which the Ctrl-C does not
    reach) is killed, not left running with no parent until its notebook ends."""
    import threading

    from autograder import grade

    running, procs = threading.Event(), []

    def fake_grade(sub, ctx):
        if sub == 1:  # a notebook that would run for minutes
            procs.append(grade.WORKERS.start([sys.executable, "-c", SLEEP], dict(os.environ)))
            running.set()
            procs[0].wait()
        return _fake_result(sub)

    try:
        _ctrl_c_in_batch(monkeypatch, tmp_path, fake_grade, 2, 2, before=running)
        assert procs and procs[0].wait(timeout=60) == -signal.SIGKILL
    finally:
        for proc in procs:
            proc.kill()


SLEEP = "import time; time.sleep(600)"


def test_a_second_ctrl_c_does_not_stop_what_was_graded_being_kept(tmp_path, monkeypatch):
    """Instructor round 22: a second Ctrl-C in the seconds the running kernels are stopped and
    the graded notebooks kept lost them all: Ctrl-C is ignored until then, and said."""
    before = signal.getsignal(signal.SIGINT)
    lines = []
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            monkeypatch.setattr(grade_module(), "_prewarm", lambda home: None)
            monkeypatch.setattr(
                grade_module(), "grade_submission", lambda sub, ctx: _fake_result(sub)
            )
            ctx = types_namespace(sandbox="none", template_home=tmp_path / "home")

            def progress(line):
                lines.append(line)
                if line.startswith("  0 "):
                    raise KeyboardInterrupt

            grade_module()._grade_many([(0, "new"), (1, "new")], ctx, tmp_path, 1, progress)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN and stop.value.handler == before
        assert lines[-1] == "stopping: keeping the 1 notebook(s) graded (a few seconds)"
    finally:
        signal.signal(signal.SIGINT, before)


def grade_module():
    from autograder import grade

    return grade


def types_namespace(**kw):
    import types

    return types.SimpleNamespace(**kw)


@pytest.mark.slow  # the gradebook's assignment made from the source notebook: 5 s
def test_ctrl_c_keeps_the_notebooks_already_graded(tmp_path, monkeypatch):
    """Ctrl-C after 2 of 3 notebooks: the 2 keep their grades, pages and gradebook rows, and
    the same command grades only the third (an hour of a class's grading was thrown away)."""
    from nbgrader.api import Gradebook

    from autograder import grade
    from autograder.results import BlockScore, Result

    spec = load_spec()
    subs = tmp_path / "subs"
    for name in ["alice", "bob", "carol"]:
        (subs / name).mkdir(parents=True)
        (subs / name / "TP_sujet.ipynb").write_text(name)
    graded: list[str] = []

    def grade_many(todo, *args):  # as _grade_many, Ctrl-C after the second notebook
        out = []
        for s, why in todo:
            if len(graded) == 2 and len(todo) == 3:  # (the first run)
                raise grade.Interrupted(out)
            blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
            r = Result(s.student_id, s.name, s.relpath, s.sha256, blocks, {}, spec.max_points)
            r.regraded, r.language = why, "en"
            out.append(r)
            graded.append(s.student_id)
        return out

    monkeypatch.setattr(grade, "_grade_many", grade_many)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt, match="2 of the 3 notebooks to grade were graded"):
        grade.grade_all(subs, out, progress=lambda line: None)
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["alice.html", "bob.html"]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert sorted(s.id for s in gb.students) == ["alice", "bob"]
    assert not (out / "results.json").exists()  # a class's grades are written once all are
    lines: list[str] = []
    results = grade.grade_all(subs, out, progress=lines.append)
    assert lines[:2] == [
        "3 submissions: 1 to grade, 2 unchanged (--force regrades them)",
        "why: new submission (1: carol)",
    ]
    assert graded == ["alice", "bob", "carol"]
    assert [r.total for r in results] == [sum(b.points for b in spec.blocks)] * 3
    assert (out / "results.json").exists() and (out / "feedback" / "carol.html").exists()
    # the same with --force: the one not graded again is not kept at its old grade
    graded.clear()
    with pytest.raises(KeyboardInterrupt, match="the same command without --force grades the 1"):
        grade.grade_all(subs, out, progress=lambda line: None, force=True)
    lines.clear()
    grade.grade_all(subs, out, progress=lines.append)
    assert lines[1] == "why: new submission (1: carol)" and graded == ["alice", "bob", "carol"]


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
    many = tmp_path / "many"  # a zip of thousands of notebooks: the note names ten
    (many / "alice").mkdir(parents=True)
    with zipfile.ZipFile(many / "alice" / "TP.zip", "w") as zf:
        for i in range(2000):
            zf.writestr(zipfile.ZipInfo(f"{i:04}.ipynb", (2026, 1, 1, 0, 0, 0)), "{}")
    (alice,) = collect(many, tmp_path / "work3")
    (note,) = alice.notes  # all of one date: the instructor checks which one is the last
    assert note.startswith("2000 files; graded alice/TP.zip/1999.ipynb, not alice/TP.zip/1989")
    assert "… (+1989): the newest were handed in at the same time" in note and len(note) < 600
    (review,) = alice.review
    assert "handed in at the same time" in review and len(review) < 600, review
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.ipynb", "{}")
    with pytest.raises(GradingError, match="unsafe member"):
        collect(evil, tmp_path / "work2")
    with pytest.raises(GradingError, match=r"^--pattern '\(': not a regular expression"):
        collect(archive, tmp_path / "work5", pattern="(")
    empty = tmp_path / "empty.zip"  # the wrong download: no notebook in it, no student
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("photo.png", "x")
    assert collect(empty, tmp_path / "work6") == []
    cut = tmp_path / "cut.zip"  # a download cut short: it says so
    cut.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(GradingError, match="cut.zip: a damaged or truncated zip archive"):
        collect(cut, tmp_path / "work4")


def test_a_pdf_handed_in_is_a_row_and_folders_of_one_id_are_two_students(tmp_path):
    """Instructor round 19: a student whose only file was a PDF vanished from every output, and
    `Marie Dupont/` and `Marie_Dupont/` (one id once slugged) were read as one student's two
    files, one of the notebooks never graded."""
    from autograder.grade import collect
    from autograder.repair import read_submission

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Nina Pdf_1009_assignsubmission_file_/TP_sujet.pdf", "%PDF-1.4")
        zf.writestr("Paul Ok_1010_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr("Paul Ok_1010_assignsubmission_file_/notes.txt", "mes notes")
    subs = {s.student_id: s for s in collect(archive, tmp_path / "work")}
    assert sorted(subs) == ["1009", "1010"] and subs["1010"].relpath.endswith(".ipynb")
    with pytest.raises(GradingError, match=r"^not a notebook: TP_sujet\.pdf is a PDF file; hand"):
        read_submission(subs["1009"].path)
    folders = tmp_path / "class"
    for name in ("Marie Dupont", "Marie_Dupont", "Zoé"):
        (folders / name).mkdir(parents=True)
        (folders / name / "TP_sujet.ipynb").write_text("{}")
    (folders / "roster.txt").write_text("the instructor's")  # no student
    subs = collect(folders, tmp_path / "work2")
    ids = [s.student_id for s in subs]
    assert len(ids) == 3 and "Marie_Dupont" in ids and "Zoé" in ids
    apart = [s for s in subs if s.student_id.startswith("Marie_Dupont")]
    assert {s.name for s in apart} == {"Marie Dupont", "Marie_Dupont"}
    assert all("read as 2 students" in s.review[0] and not s.notes for s in apart)
    # a notebook's suffix in capitals (Windows): read as any notebook, in a folder and a zip
    shouting = tmp_path / "shouting"
    (shouting / "alice").mkdir(parents=True)
    (shouting / "alice" / "TP_sujet.IPYNB").write_text("{}")
    with zipfile.ZipFile(shouting / "bob.zip", "w") as zf:
        zf.writestr("TP_sujet.Ipynb", "{}")
    subs = collect(shouting, tmp_path / "work3")
    assert [(s.student_id, s.relpath) for s in subs] == [
        ("alice", "alice/TP_sujet.IPYNB"),
        ("bob", "bob.zip/TP_sujet.Ipynb"),
    ]


def test_accented_names_in_a_zip_without_the_utf8_flag_are_read_as_utf8(tmp_path):
    """Linux's zip and older Windows and macOS tools write UTF-8 names without the flag that
    says so: zipfile reads them as CP437 ("Étienne Zoé" was "├ëtienne Zo├⌐" in grades.csv, the
    feedback pages and the LMS files, and a student id "zoé" was "zo" from the zip, "zoé" from
    the folder). Read as UTF-8 where they are; a CP437 name stays CP437."""
    from autograder.grade import collect

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # (placeholders of the UTF-8 bytes' length)
        zf.writestr("XXtienne ZoXX_5001_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr("zoXX/TP_sujet.ipynb", "{}")
        zf.writestr("caf\u00e9 X_5002_assignsubmission_file_/TP_sujet.ipynb", "{}")
    data = archive.read_bytes()
    data = data.replace(b"XXtienne ZoXX", "Étienne Zoé".encode()).replace(b"zoXX", "zoé".encode())
    archive.write_bytes(data)
    with zipfile.ZipFile(archive) as zf:
        assert not zf.infolist()[0].flag_bits & 0x800  # (as such tools write them)
        assert zf.infolist()[0].filename.startswith("├ëtienne")
    subs = collect(archive, tmp_path / "work")
    assert {s.student_id: s.name for s in subs if s.student_id != "zoé"} == {
        "5001": "Étienne Zoé",
        "5002": "café X",
    }
    assert "zoé" in {s.student_id for s in subs}


def test_files_of_one_zip_date_are_told_apart_by_canvas_upload_or_flagged(tmp_path):
    """A zip's dates go to 2 s: two files of one student handed in together are not ordered by
    their names (``bob_late_`` after ``bob_``, ``TP_sujet`` after ``Copy of TP_sujet``, which
    graded a half-blank notebook): Canvas's later upload wins, and a tie nothing breaks is
    flagged for the instructor."""
    from autograder.grade import collect

    at = (2026, 1, 1, 9, 0, 0)
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("dupontbob_5003_9004_TP_sujet-1.ipynb", at), "{}")
        zf.writestr(zipfile.ZipInfo("dupontbob_late_5003_9003_TP_sujet.ipynb", at), "{}")
        zf.writestr(zipfile.ZipInfo("martinalice_5001_9001_TP_sujet.ipynb", at), "{}")
    bob = next(s for s in collect(archive, tmp_path / "w1") if s.lms_id == "5003")
    assert bob.relpath == "dupontbob_5003_9004_TP_sujet-1.ipynb"
    assert "graded the newest" in bob.notes[0] and not bob.review
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as zf:
        for name in ("TP_sujet.ipynb", "Copy of TP_sujet.ipynb"):
            zf.writestr(zipfile.ZipInfo(f"Dupont Bob_77_assignsubmission_file_/{name}", at), "{}")
    (bob,) = collect(moodle, tmp_path / "w2")
    assert "handed in at the same time" in bob.notes[0]
    assert "check which one is the student's last" in bob.review[0]


def test_the_handout_handed_in_beside_a_students_work_is_not_graded(tmp_path):
    """Instructor round 23: Moodle's ``TP_sujet.ipynb`` (the handout, opened in Colab, nothing
    written) beside ``Copie de TP_sujet.ipynb`` (the work), of one zip date, graded the handout
    (a 0 posted); a Canvas submission's later attachment being the handout, the same, unflagged."""
    from autograder.grade import collect
    from autograder.repair import handouts_as_given

    handout = nbformat.read(build.STUDENT_NOTEBOOK, 4)
    colab = copy.deepcopy(handout)  # opened in Colab and run: outputs and metadata, no answer
    colab.metadata["colab"] = {"provenance": []}
    colab.cells[0].outputs = [nbformat.v4.new_output("stream", text="ok\n")]
    worked = copy.deepcopy(handout)
    next(c for c in worked.cells if _gid(c) == "double_conv").source += "\n# started"
    at = (2026, 1, 1, 9, 0, 0)
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as zf:
        for name, nb in (("TP_sujet.ipynb", colab), ("Copie de TP_sujet.ipynb", worked)):
            info = zipfile.ZipInfo(f"Curie Marie_2001_assignsubmission_file_/{name}", at)
            zf.writestr(info, nbformat.writes(nb))
        info = zipfile.ZipInfo("Dupont Bob_77_assignsubmission_file_/TP_sujet.ipynb", at)
        zf.writestr(info, nbformat.writes(handout))  # their only file: a 0 to chase (round 24)
    as_given = handouts_as_given([handout])
    marie, bob = collect(moodle, tmp_path / "w1", as_given=as_given)
    assert marie.relpath.endswith("Copie de TP_sujet.ipynb") and not marie.review, marie
    assert (
        "TP_sujet.ipynb: the handout as given (nothing written in it), not graded"
        in (marie.notes[0])
    )
    assert bob.relpath.endswith("/TP_sujet.ipynb") and not bob.notes and bob.as_given
    assert bob.review == [
        "no notebook to grade (the handout as given, nothing written in it (the wrong file "
        "handed in?)): ask the student for theirs"
    ]
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as zf:
        zf.writestr(zipfile.ZipInfo("curiemarie_5001_9001_Copie_de_TP_sujet.ipynb", at),
                    nbformat.writes(worked))  # fmt: skip
        zf.writestr(zipfile.ZipInfo("curiemarie_5001_9002_TP_sujet.ipynb", at),
                    nbformat.writes(handout))  # fmt: skip
    (marie,) = collect(canvas, tmp_path / "w2", as_given=as_given)
    assert marie.relpath == "curiemarie_5001_9001_Copie_de_TP_sujet.ipynb", marie


def test_a_handout_of_an_earlier_build_is_the_handout_as_given(tmp_path):
    """Instructor round 27: the handout downloaded before a question's text (and the set-up
    cell) were edited scored 0, unflagged, and was posted; a cell of the student's own, or an
    answer written, is work."""
    from autograder.repair import handouts_as_given

    handout = nbformat.read(build.STUDENT_NOTEBOOK, 4)
    earlier = copy.deepcopy(handout)
    for cell in earlier.cells:
        if _gid(cell) == "setup" or (cell.cell_type == "markdown" and "Question 5" in cell.source):
            cell.source += "\n# (as the TP was last week)"
    as_given = handouts_as_given([handout])

    def given(nb) -> bool:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.ipynb"
        nbformat.write(nb, path)
        return as_given(path)

    assert given(handout) and given(earlier)
    own = copy.deepcopy(earlier)
    own.cells.append(nbformat.v4.new_code_cell("x = 1"))
    answered = copy.deepcopy(earlier)
    question = next(
        c for c in answered.cells if c.cell_type == "markdown" and _gid(c) == "answer_hd95"
    )
    question.source = "HD95 measures the border."
    coded = copy.deepcopy(earlier)
    next(c for c in coded.cells if _gid(c) == "double_conv").source += "\n# started"
    assert not given(own) and not given(answered) and not given(coded)
    # saved by an editor that writes nbformat 4.4 (no cell ids): its cells known by their grade
    # ids and text
    copied = copy.deepcopy(earlier)  # an answer cell copied, written in, the blank left after
    at = next(i for i, c in enumerate(copied.cells) if _gid(c) == "double_conv")
    copied.cells.insert(at, copy.deepcopy(copied.cells[at]))
    copied.cells[at].source += "\n# started"
    for nb in (earlier, own, coded, copied):
        nb.nbformat_minor = 4
        for cell in nb.cells:
            cell.pop("id", None)
    assert given(earlier) and not given(own) and not given(coded) and not given(copied)


def _alice_and_bob(tmp_path: Path) -> tuple[Path, Path]:
    """Alice's and Bob's notebooks in folders made by hand, and in Moodle's download."""
    hand, moodle = tmp_path / "hand", tmp_path / "moodle"
    for who in ("alice", "bob"):
        (hand / who).mkdir(parents=True)
        (hand / who / "TP_sujet.ipynb").write_text(who)
    for name, who in (("Alice A_123", "alice"), ("Bob B_456", "bob")):
        (moodle / f"{name}_assignsubmission_file_").mkdir(parents=True)
        (moodle / f"{name}_assignsubmission_file_" / "TP_sujet.ipynb").write_text(who)
    return hand, moodle


def test_a_zip_naming_a_classmate_and_its_sender_is_flagged_where_the_classmate_is(tmp_path):
    """Carol's ``carol.zip``, put at the top beside the others' folders, holding ``bob.ipynb``
    (or Moodle's ``Bob B_456_assignsubmission_file_/``) dated 2099 and her own notebook names two
    students: read as the class's archive, Bob was graded on her file without a flag (a note
    "2 files" not naming the zip). Bob's row is flagged for review, naming the zip; a student
    whose notebooks are all in the class's archive, or all outside it, is not."""
    from autograder.collect import collect

    hand, moodle = _alice_and_bob(tmp_path)
    forged = {
        hand / "carol.zip": ["bob.ipynb", "carol.ipynb"],
        moodle / "carol.zip": [
            "Bob B_456_assignsubmission_file_/TP_sujet.ipynb",
            "Carol C_789_assignsubmission_file_/TP_sujet.ipynb",
        ],
    }
    for zipped, members in forged.items():
        with zipfile.ZipFile(zipped, "w") as zf:
            for member in members:
                zf.writestr(zipfile.ZipInfo(member, (2099, 1, 1, 0, 0, 0)), "carol")
    for folder, bob, flagged in ((hand, "bob", "bob.ipynb"), (moodle, "456", "Bob B_456")):
        subs = {s.student_id: s for s in collect(folder, tmp_path / f"w_{folder.name}")}
        assert subs[bob].path.read_text() == "carol"  # the newest: still graded, but flagged
        (line,) = subs[bob].review
        assert f"{flagged}" in line and "in carol.zip" in line and "check that it is theirs" in line
        assert [k for k, s in subs.items() if s.review] == [bob]


def test_a_zipped_folder_of_the_class_is_its_students_not_one_student(tmp_path):
    """The class's folder zipped as it is (``class/alice/...``, or ``class/TP_sujet_bob.ipynb``,
    with macOS's ``__MACOSX`` beside it): each notebook is its student's, not all one student
    ``class`` of whom only the newest file is graded; one student's zipped folder stays theirs."""
    from autograder.grade import collect

    cases = {
        "folders": (["class/alice/TP_sujet.ipynb", "class/bob/TP_sujet.ipynb"], ["alice", "bob"]),
        "flat": (["class/TP_sujet_alice.ipynb", "class/TP_sujet_bob.ipynb"], ["alice", "bob"]),
        "one": (["alice/TP_sujet.ipynb", "alice/TP_sujet (1).ipynb"], ["alice"]),
    }
    for case, (members, students) in cases.items():
        archive = tmp_path / f"{case}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for member in members:
                zf.writestr(member, "{}")
            zf.writestr("__MACOSX/class/._TP_sujet.ipynb", "junk")
        subs = collect(archive, tmp_path / f"work_{case}")
        assert [s.student_id for s in subs] == students, case


def test_a_zipped_class_folder_holding_the_blank_handout_is_not_one_student(tmp_path):
    """The class's folder zipped with the TP's blank ``TP_sujet.ipynb`` beside the students'
    folders: the file that names no one stops the run naming it, as in a folder (the whole class
    was one student ``class``, graded on its newest file)."""
    from autograder.grade import collect

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for member in ("class/alice/TP_sujet.ipynb", "class/bob/TP_sujet.ipynb"):
            zf.writestr(member, "{}")
        zf.writestr("class/TP_sujet.ipynb", "{}")
    with pytest.raises(GradingError, match=r"TP_sujet.ipynb: the file name does not say whose"):
        collect(archive, tmp_path / "work")


def test_a_zip_a_student_sent_is_opened_in_the_lms_zip_too(tmp_path):
    """Moodle's zip graded as it is, or unpacked in a folder, or inside a folder: a zip a student
    uploaded is opened in place, its notebook theirs (graded from the LMS's zip, it was left
    out: the student had no row at all); a zip of theirs that cannot be opened is their note."""
    from autograder.grade import collect

    inner = tmp_path / "TP.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr(zipfile.ZipInfo("bob/TP_sujet.ipynb", (2099, 1, 1, 0, 0, 0)), "{}")
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Bob B_456_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.write(inner, "Alice A_123_assignsubmission_file_/TP.zip")
        zf.writestr("Carol C_789_assignsubmission_file_/TP.zip", b"PK\x03\x04 not a zip")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unpacked)
    holder = tmp_path / "holder"
    holder.mkdir()
    shutil.copy(archive, holder)
    for i, source in enumerate([archive, unpacked, holder]):
        subs = {s.student_id: s for s in collect(source, tmp_path / f"work{i}")}
        assert sorted(subs) == ["123", "456", "789"], source
        assert subs["123"].relpath == "Alice A_123_assignsubmission_file_/TP.zip/bob/TP_sujet.ipynb"
        assert subs["456"].relpath == "Bob B_456_assignsubmission_file_/TP_sujet.ipynb"
        assert "C_789_assignsubmission_file_/TP.zip: not a readable zip" in subs["789"].notes[0]


def test_a_students_names_and_folders_in_the_lms_zip_do_not_stop_the_class(tmp_path):
    """Moodle counts a file name's characters, the disk its bytes: one student's notebook named
    with 130 "é" (260 bytes), or put 20 folders deep (Moodle's file manager makes folders), stopped
    the whole class's zip ("not a readable zip", "unsafe member"); each is now that student's."""
    from autograder.grade import collect

    long_name = "é" * 130 + ".ipynb"
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Alice A_123_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr(f"Bob B_456_assignsubmission_file_/{long_name}", "{}")
        zf.writestr(f"Carol C_789_assignsubmission_file_{long_name}", "{}")  # the flat list
        zf.writestr("Dave D_111_assignsubmission_file_/" + "d/" * 20 + "TP_sujet.ipynb", "{}")
        zf.writestr("Erin E_222_assignsubmission_file_/" + ("f" * 200 + "/") * 12 + "x.ipynb", "{}")
    subs = {s.student_id: s for s in collect(archive, tmp_path / "work")}
    assert sorted(subs) == ["111", "123", "222", "456", "789"]
    assert subs["456"].relpath.startswith("Bob B_456_assignsubmission_file_/ééé")
    assert subs["456"].relpath.endswith(".ipynb") and len(subs["456"].path.name.encode()) <= 255
    assert subs["111"].relpath.endswith("d~d~d~TP_sujet.ipynb")
    assert all(s.path.read_text() == "{}" for s in subs.values())


def test_a_notebook_named_after_another_student_stays_its_senders(tmp_path):
    """Whose a notebook is comes from what the LMS (or the instructor) named, outermost first: a
    file Alice named ``Bob_456_assignsubmission_file_...`` in her Moodle folder, or a zip in her
    folder holding ``bob/TP_sujet.ipynb`` dated 2099, is Alice's; Bob's own notebook is graded."""
    from autograder.grade import collect

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Bob B_456_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr("Alice A_123_assignsubmission_file_/TP_sujet.ipynb", "{}")
        forged = zipfile.ZipInfo(
            "Alice A_123_assignsubmission_file_/Bob B_456_assignsubmission_file_x.ipynb",
            (2099, 1, 1, 0, 0, 0),
        )
        zf.writestr(forged, "{}")
    subs = {s.student_id: s.relpath for s in collect(archive, tmp_path / "work")}
    assert subs["456"] == "Bob B_456_assignsubmission_file_/TP_sujet.ipynb"
    assert subs["123"].startswith("Alice A_123_assignsubmission_file_/")
    folder = tmp_path / "subs"
    for who in ("alice", "bob"):
        (folder / who).mkdir(parents=True)
        (folder / who / "TP_sujet.ipynb").write_text("{}")
    with zipfile.ZipFile(folder / "alice" / "extra.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("bob/TP_sujet.ipynb", (2099, 1, 1, 0, 0, 0)), "{}")
    with zipfile.ZipFile(folder / "class.zip", "w") as zf:  # the instructor's: files say whose
        zf.writestr("carol/TP_sujet.ipynb", "{}")
    subs = {s.student_id: s.relpath for s in collect(folder, tmp_path / "work2")}
    assert subs == {
        "alice": "alice/extra.zip/bob/TP_sujet.ipynb",
        "bob": "bob/TP_sujet.ipynb",
        "carol": "carol/TP_sujet.ipynb",
    }


def test_in_folders_made_by_hand_a_moodle_name_inside_a_students_folder_is_theirs(tmp_path):
    """A folder per student made by hand (a shared Drive): Alice's folder holding a folder, a
    file or a zip named as Moodle names Bob's (``Bob B_456_assignsubmission_file_/``, dated 2099)
    was Bob's newest notebook, and Alice's grade went to Bob's row of the LMS files. A wrapper of
    Moodle's folders (the download unpacked into a folder of its own) still says whose each is."""
    from autograder.collect import collect

    folder = tmp_path / "subs"
    for who in ("alice", "bob", "carol"):
        (folder / who).mkdir(parents=True)
        (folder / who / "TP_sujet.ipynb").write_text(f'{{"who": "{who}"}}')
    forged = folder / "alice" / "Bob B_456_assignsubmission_file_" / "TP_sujet.ipynb"
    forged.parent.mkdir()
    forged.write_text('{"who": "alice"}')
    (folder / "alice" / "Dave D_789_assignsubmission_file_TP.ipynb").write_text('{"who": "alice"}')
    with zipfile.ZipFile(folder / "carol" / "Erin E_111_assignsubmission_file_TP.zip", "w") as zf:
        zf.writestr("TP_sujet.ipynb", '{"who": "carol"}')
    for path in folder.rglob("*_assignsubmission_*"):
        os.utime(path, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert sorted(subs) == ["alice", "bob", "carol"]
    assert {k: s.path.read_text() for k, s in subs.items()} == {
        k: f'{{"who": "{k}"}}' for k in subs
    }
    assert all(s.lms_id is None for s in subs.values())
    wrapper = tmp_path / "downloads" / "TP U-Net-1234"
    for name, who in (("Alice A_123", "alice"), ("Bob B_456", "bob")):
        (wrapper / f"{name}_assignsubmission_file_").mkdir(parents=True)
        (wrapper / f"{name}_assignsubmission_file_" / "TP_sujet.ipynb").write_text(who)
    subs = {s.student_id: s for s in collect(wrapper.parent, tmp_path / "work2")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "123": ("alice", "123"),
        "456": ("bob", "456"),
    }


def test_groups_downloads_side_by_side_and_a_folder_made_for_one_student(tmp_path):
    """Two groups' Moodle downloads unpacked side by side, one group with a single submission:
    each group was one student (Alice's and Bob's notebooks one grade, no LMS row). A folder made
    for Carol beside Moodle's folders, holding only folders named as Moodle names Bob and Dan
    (dated 2099), was read as a group's download: Carol graded into Bob's and Dan's rows."""
    from autograder.collect import collect

    def moodle(folder: Path, **who: str) -> None:
        for name, text in who.items():
            (folder / name).mkdir(parents=True)
            (folder / name / "TP_sujet.ipynb").write_text(text)

    groups = tmp_path / "groups"
    moodle(groups / "g1", **{"Alice A_123_assignsubmission_file_": "alice"})
    moodle(groups / "g1", **{"Bob B_456_assignsubmission_file_": "bob"})
    moodle(groups / "g2", **{"Carol C_789_assignsubmission_file_": "carol"})
    subs = {s.student_id: s for s in collect(groups, tmp_path / "work")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "123": ("alice", "123"),
        "456": ("bob", "456"),
        "789": ("carol", "789"),
    }
    folder = tmp_path / "moodle"
    moodle(folder, **{"Alice A_123_assignsubmission_file_": "alice"})
    moodle(folder, **{"Bob B_456_assignsubmission_file_": "bob"})
    moodle(folder / "carol", **{"Bob B_456_assignsubmission_file_": "carol"})
    moodle(folder / "carol", **{"Dan D_790_assignsubmission_file_": "carol"})
    for path in (folder / "carol").rglob("*.ipynb"):
        os.utime(path, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work2")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "123": ("alice", "123"),
        "456": ("bob", "456"),
        "carol": ("carol", None),
    }


def test_moodles_download_in_its_folder_beside_a_folder_made_for_one_student(tmp_path):
    """Moodle's download unpacked in a folder of its own (``TP-U-Net-1234/``) beside a folder
    made for Carol, who e-mailed her notebook: the whole class became one student 'TP-U-Net-1234'
    graded on its newest notebook. Carol's folder holding only a folder named as Moodle names Bob
    (dated 2099) stays Carol's, not Bob's newest notebook."""
    from autograder.collect import collect

    folder = tmp_path / "subs"
    for name, who in (("Alice A_123", "alice"), ("Bob B_456", "bob")):
        moodle = folder / "TP-U-Net-1234" / f"{name}_assignsubmission_file_"
        moodle.mkdir(parents=True)
        (moodle / "TP_sujet.ipynb").write_text(who)
    forged = folder / "carol" / "Bob B_456_assignsubmission_file_" / "TP_sujet.ipynb"
    forged.parent.mkdir(parents=True)
    forged.write_text("carol")
    os.utime(forged, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "123": ("alice", "123"),
        "456": ("bob", "456"),
        "carol": ("carol", None),
    }


def test_moodles_zips_in_the_one_folder_submissions_holds_are_the_class(tmp_path):
    """``SUBMISSIONS/TP/`` holding Moodle's download zip (or two groups' zips): the zip was
    opened as a student's, the whole class one student 'TP' graded on its newest notebook."""
    from autograder.collect import collect

    folder = tmp_path / "subs" / "TP"
    folder.mkdir(parents=True)
    groups = {"g1": ("Alice A_123", "Bob B_456"), "g2": ("Carol C_789", "Dan D_790")}
    for group, names in groups.items():
        with zipfile.ZipFile(folder / f"{group}.zip", "w") as zf:
            for name in names:
                zf.writestr(f"{name}_assignsubmission_file_/TP_sujet.ipynb", name)
    subs = {s.student_id: s for s in collect(folder.parent, tmp_path / "work")}
    assert {k: s.lms_id for k, s in subs.items()} == {k: k for k in ("123", "456", "789", "790")}


def test_links_in_a_students_folder_are_no_ones_notebook(tmp_path):
    """Carol's zip unpacked by hand (``unzip`` makes its links): ``x.ipynb`` linking nowhere
    stopped the whole class's run on a traceback; one linking to Bob's notebook was hers."""
    from autograder.collect import collect

    folder = tmp_path / "subs"
    for who in ("bob", "carol"):
        (folder / who).mkdir(parents=True)
        (folder / who / "TP_sujet.ipynb").write_text(who)
    (folder / "carol" / "dangling.ipynb").symlink_to(tmp_path / "nowhere.ipynb")
    (folder / "carol" / "dangling.zip").symlink_to(tmp_path / "nowhere.zip")
    (folder / "carol" / "copy.ipynb").symlink_to(folder / "bob" / "TP_sujet.ipynb")
    os.utime(folder / "bob" / "TP_sujet.ipynb", (4070908800, 4070908800))  # newer than hers
    (folder / "dave").mkdir()  # the instructor's link to Dave's file: Dave not left out silently
    (folder / "dave" / "TP_sujet.ipynb").symlink_to(folder / "bob" / "TP_sujet.ipynb")
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert {k: s.path.read_text() for k, s in subs.items()} == {
        "bob": "bob",
        "carol": "carol",
        "dave": "",
    }
    assert sorted(subs["carol"].notes) == [
        "carol/copy.ipynb: a link, not read (put the notebook itself there)",
        "carol/dangling.ipynb: a link, not read (put the notebook itself there)",
    ]
    assert subs["dave"].notes == [
        "dave/TP_sujet.ipynb: a link, not read (put the notebook itself there)"
    ]
    assert subs["dave"].relpath == "dave/TP_sujet.ipynb"


def test_a_file_that_cannot_be_read_does_not_stop_the_class(tmp_path, monkeypatch):
    """Carol's zip unpacked by hand keeps its files' modes: ``x.ipynb`` of mode 000 stopped the
    whole class's run on PermissionError (root reads it, so the refusal is simulated)."""
    from autograder import collect as collecting

    folder = tmp_path / "subs"
    for rel in ("bob/TP_sujet.ipynb", "carol/TP_sujet.ipynb", "carol/x.ipynb"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(rel)
    read = collecting.sha256_file

    def refused(path):
        if Path(path).name == "x.ipynb":
            raise PermissionError(13, "Permission denied", str(path))
        return read(path)

    monkeypatch.setattr(collecting, "sha256_file", refused)
    subs = {s.student_id: s for s in collecting.collect(folder, tmp_path / "work")}
    assert {k: s.relpath for k, s in subs.items()} == {
        "bob": "bob/TP_sujet.ipynb",
        "carol": "carol/TP_sujet.ipynb",
    }
    assert subs["carol"].notes == ["carol/x.ipynb: could not be read (its permissions?)"]


def test_moodles_zip_of_one_submission_beside_the_folder_it_was_unpacked_to(tmp_path):
    """Moodle's zip of one submission beside the folder it was unpacked to was a student
    'TP-U-Net-1234' graded on Alice's notebook again; a zip of other bytes stays its sender's."""
    from autograder.collect import collect

    folder = tmp_path / "subs"
    moodle = folder / "Alice A_123_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "TP_sujet.ipynb").write_text("alice")
    with zipfile.ZipFile(folder / "TP-U-Net-1234.zip", "w") as zf:
        zf.write(moodle / "TP_sujet.ipynb", f"{moodle.name}/TP_sujet.ipynb")
    subs = {s.student_id: s.path.read_text() for s in collect(folder, tmp_path / "work")}
    assert subs == {"123": "alice"}
    with zipfile.ZipFile(folder / "carol.zip", "w") as zf:
        zf.writestr(f"{moodle.name}/TP_sujet.ipynb", "carol")
    subs = {s.student_id: s.path.read_text() for s in collect(folder, tmp_path / "work2")}
    assert subs == {"123": "alice", "carol": "carol"}


def test_canvas_downloads_in_folders_of_their_own_keep_their_canvas_ids(tmp_path):
    """Two sections' Canvas downloads unpacked side by side (``g1/``, ``g2/``) were each one
    student graded on its newest notebook, the others dropped; a Canvas list of one submission
    unpacked in ``submissions/`` was a student 'submissions' with no Canvas ID. A file a student
    named as Canvas names Bob inside Alice's Moodle folder stays Alice's."""
    from autograder.collect import collect

    folder = tmp_path / "subs"
    for rel in ("g1/alicemartin_5001_9001_TP.ipynb", "g1/bobdurand_late_5002_9002_TP-1.ipynb"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(rel)
    for rel in ("g2/caroldubois_6001_9003_TP.ipynb", "g2/danlee_6002_9004_TP.ipynb"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(rel)
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert {k: s.lms_id for k, s in subs.items()} == {
        k: k for k in ("5001", "5002", "6001", "6002")
    }
    assert not any(s.review for s in subs.values())
    one = tmp_path / "one" / "submissions" / "alicemartin_5001_9001_TP.ipynb"
    one.parent.mkdir(parents=True)
    one.write_text("alice")
    (sub,) = collect(tmp_path / "one", tmp_path / "work2")
    assert (sub.student_id, sub.lms_id) == ("5001", "5001")
    # a folder of one LMS name is also how one late student is regraded (``late/alice/``), with
    # a file Alice named as Bob's on Canvas or Moodle: Bob's id, so the instructor is told to check
    for i, rel in enumerate(
        ("alice/bobdupont_5002_9002_TP.ipynb", "alice/Bob B_456_assignsubmission_file_/TP.ipynb")
    ):
        late = tmp_path / f"late{i}" / rel
        late.parent.mkdir(parents=True)
        late.write_text("alice")
        (sub,) = collect(tmp_path / f"late{i}", tmp_path / f"work_late{i}")
        assert sub.review and "alice/" in sub.review[0] and sub.lms_id in sub.review[0]
    moodle = tmp_path / "moodle" / "Alice A_123_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "bobdurand_5002_9002_TP.ipynb").write_text("alice")
    (sub,) = collect(moodle.parent, tmp_path / "work3")
    assert (sub.student_id, sub.lms_id) == ("123", "123")


def test_a_pattern_naming_a_classmate_in_another_participants_file_is_flagged(tmp_path):
    """``--pattern`` reading student numbers in file names, in Moodle's download: Alice named her
    file with Bob's number, newer than Bob's own; it was graded as Bob's, with Alice's participant
    id (her row of the LMS got it, Bob's none), and no one told to check."""
    from autograder.collect import collect

    for who, rel in (("bob", "Bob B_456"), ("alice", "Alice A_123")):
        path = tmp_path / "subs" / f"{rel}_assignsubmission_file_" / "TP_21000002.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(who)
        os.utime(path, (1e9 if who == "bob" else 2e9,) * 2)
    (sub,) = collect(tmp_path / "subs", tmp_path / "work", pattern=r"(?P<id>\d{8})")
    assert sub.student_id == "21000002" and sub.path.read_text() == "alice"
    assert sub.review and "123, 456" in sub.review[0] and "Alice A_123" in sub.review[0]
    (mine,) = collect(tmp_path / "subs" / "Bob B_456_assignsubmission_file_", tmp_path / "w2")
    assert not mine.review


def test_lms_names_in_a_students_folder_beside_the_download_are_flagged(tmp_path):
    """Canvas's download in ``canvas/`` beside ``alice/``, where the instructor put Alice's late
    e-mail: two files she named as Bob's and Carol's Canvas files (two names: read as a download
    unpacked in a folder of its own), newer than theirs, were Bob's and Carol's graded notebooks,
    no one told to check."""
    from autograder.collect import collect

    for rel, text, stamp in (
        ("canvas/bobdupont_5002_9002_TP.ipynb", "bob", 1e9),
        ("canvas/caroldubois_5003_9003_TP.ipynb", "carol", 1e9),
        ("alice/bobdupont_5002_9002_TP.ipynb", "alice", 2e9),
        ("alice/caroldubois_5003_9003_TP.ipynb", "alice", 2e9),
        ("dan/TP.ipynb", "dan", 2e9),
    ):
        (tmp_path / "subs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "subs" / rel).write_text(text)
        os.utime(tmp_path / "subs" / rel, (stamp, stamp))
    subs = {s.student_id: s for s in collect(tmp_path / "subs", tmp_path / "work")}
    for sid in ("5002", "5003"):
        assert subs[sid].path.read_text() == "alice"
        assert subs[sid].review and "alice/, canvas/" in subs[sid].review[0]
    assert not subs["dan"].review
    shutil.rmtree(tmp_path / "subs" / "alice")
    subs = collect(tmp_path / "subs", tmp_path / "work2")
    assert len(subs) == 3 and not any(s.review for s in subs)


def test_a_kept_grade_is_regraded_when_what_collecting_says_of_it_changed(tmp_path):
    """Alice's late e-mail ``alice/bobdupont_5002_9002_TP.ipynb`` graded alone, then Bob's own
    (older) Canvas file put beside it: Alice's file, unchanged, kept its grade with neither the
    review line nor the '2 files' note."""
    from autograder.collect import Submission
    from autograder.regrade import to_regrade
    from autograder.results import Result

    sub = Submission("5002", "bobdupont", tmp_path / "a.ipynb", "alice/b.ipynb", "0" * 64)
    old = Result("5002", "bobdupont", "alice/b.ipynb", "0" * 64, {}, {}, 20.0)
    old.notes = ["a note of grading"]
    state = {"5002": {"sha256": "0" * 64, "inputs": "h", "limits": None, "result": old.as_json()}}
    todo, kept = to_regrade([sub], state, "h", False)
    assert not todo and len(kept) == 1
    sub.notes, sub.review = ["2 files; graded the newest (alice/b.ipynb), not x"], ["check"]
    todo, kept = to_regrade([sub], state, "h", False)
    assert [why for _, why in todo] == ["its other files or review lines changed"] and not kept


def test_a_notebook_in_a_students_zip_is_whose_the_zip_is(tmp_path):
    """Canvas's flat list: Alice's zip (``alicemartin_5002_..._TP.zip``) holding a Moodle-named
    ``Bob D_5001_assignsubmission_file_/TP_sujet.ipynb`` dated 2099 was Bob's notebook (the
    newest of his two: Bob graded on Alice's file); and a Canvas student's own zip was a student
    named after the zip, not their Canvas ID; Alice's grade went to Bob's row of the LMS files (its
    LMS id was read in the names it holds). The zip's name says whose, not what it holds."""
    from autograder.grade import collect

    folder = tmp_path / "canvas"
    folder.mkdir()
    (folder / "bobdurand_5001_9001_TP_sujet.ipynb").write_text('{"who": "bob"}')
    with zipfile.ZipFile(folder / "alicemartin_5002_9002_TP.zip", "w") as zf:
        forged = "Bob D_5001_assignsubmission_file_/TP_sujet.ipynb"
        zf.writestr(zipfile.ZipInfo(forged, (2099, 1, 1, 0, 0, 0)), '{"who": "alice"}')
    with zipfile.ZipFile(folder / "carolx_5003_9003_TP.zip", "w") as zf:
        zf.writestr("TP_sujet.ipynb", '{"who": "carol"}')
    (folder / "dave_5004_9004_TP.zip").write_bytes(b"PK\x03\x04 not a zip")
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert sorted(subs) == ["5001", "5002", "5003", "5004"]
    assert {k: s.path.read_text() for k, s in subs.items() if k != "5004"} == {
        "5001": '{"who": "bob"}',
        "5002": '{"who": "alice"}',
        "5003": '{"who": "carol"}',
    }
    assert not subs["5001"].notes
    assert "not a readable zip" in subs["5004"].notes[0]
    assert {k: s.lms_id for k, s in subs.items()} == {k: k for k in subs}  # the LMS files' rows


def test_a_zip_in_canvass_flat_list_is_its_senders(tmp_path):
    """Canvas names a zip a student uploaded as it names a notebook
    (``dupontmarie_5001_9001_TP.zip``): opened in place, its notebooks are that student's, Canvas
    ID 5001, as their notebook would be (they were a student named after the zip's file name, whom
    no Canvas row matched); so is a zip there that cannot be opened."""
    from autograder.collect import collect

    folder = tmp_path / "canvas"
    folder.mkdir()
    with zipfile.ZipFile(folder / "dupontmarie_5001_9001_TP.zip", "w") as zf:
        zf.writestr("bob_77_88_TP_sujet.ipynb", "{}")  # named by the student: not Bob's
    (folder / "garcíamaría_5002_9002_TP_sujet.ipynb").write_text("{}")
    (folder / "lopezjuan_late_5003_9003_TP.zip").write_bytes(b"not a zip")
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert sorted(subs) == ["5001", "5002", "5003"]
    assert subs["5001"].name == "dupontmarie"
    assert subs["5001"].lms_id == "5001"
    assert "not a readable zip" in subs["5003"].notes[0]


def test_a_students_zip_inside_the_lms_archive_is_opened_as_theirs(tmp_path):
    """Moodle's download zip holding the zip a student uploaded: it was not even unpacked (only
    notebooks were), the student missing from the grades without a word; macOS's resource forks
    (``__MACOSX/._TP.zip``) were opened as a student's zip, 'a zip was not opened' on a student
    named __MACOSX."""
    import io

    from autograder.collect import collect

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("bob/TP_sujet.ipynb", "{}")  # Alice's, whatever its folder says
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Alice A_123_assignsubmission_file_/TP.zip", inner.getvalue())
        zf.writestr("Bob B_456_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr("__MACOSX/Alice A_123_assignsubmission_file_/._TP.zip", b"AppleDouble")
    folder = tmp_path / "subs"
    (folder / "__MACOSX").mkdir(parents=True)
    shutil.copy(archive, folder / "moodle.zip")
    (folder / "__MACOSX" / "._moodle.zip").write_bytes(b"AppleDouble")
    for i, source in enumerate((archive, folder)):
        subs = {s.student_id: s for s in collect(source, tmp_path / f"work{i}")}
        assert sorted(subs) == ["123", "456"], source
        assert subs["123"].relpath == "Alice A_123_assignsubmission_file_/TP.zip/bob/TP_sujet.ipynb"
        assert subs["123"].notes == [] and subs["456"].notes == []


def test_collect_hashes_a_huge_file_without_reading_it_whole(tmp_path, monkeypatch):
    """A notebook of gigabytes is refused by repair.read_submission before it is read (the
    grader's memory): collect, before it, read each file whole to hash it."""
    import pathlib

    from autograder.collect import collect

    (tmp_path / "subs" / "alice").mkdir(parents=True)
    with (tmp_path / "subs" / "alice" / "TP_sujet.ipynb").open("wb") as f:
        f.truncate(8 << 20)  # sparse; a file of gigabytes, in small
    read_bytes = pathlib.Path.read_bytes

    def bounded(path):
        assert path.stat().st_size < 8 << 20, f"{path} read whole"
        return read_bytes(path)

    monkeypatch.setattr(pathlib.Path, "read_bytes", bounded)
    (sub,) = collect(tmp_path / "subs", tmp_path / "work")
    assert sub.student_id == "alice" and len(sub.sha256) == 64


def test_a_students_bad_zip_costs_that_student_alone(tmp_path, monkeypatch):
    """A zip in a student's folder that cannot be opened (not a zip, members that clash, more than
    a notebook's worth unpacked, each file counted as at least a block of the disk) is noted on
    that student's row; the class is graded. Only its notebooks are unpacked."""
    from autograder import collect as collecting

    monkeypatch.setattr(collecting, "MAX_STUDENT_ZIP_BYTES", 1 << 20)
    folder = tmp_path / "subs"
    for who in ("alice", "bob", "carol", "dave", "erin"):
        (folder / who).mkdir(parents=True)
    (folder / "bob" / "TP_sujet.ipynb").write_text("{}")
    (folder / "alice" / "TP_sujet.ipynb").write_text("{}")
    (folder / "alice" / "notes.zip").write_bytes(b"PK\x03\x04 not a zip")
    with zipfile.ZipFile(folder / "carol" / "TP.zip", "w") as zf:
        zf.writestr("x.ipynb", "{}")
        zf.writestr("x.ipynb/TP_sujet.ipynb", "{}")
    with zipfile.ZipFile(folder / "dave" / "TP.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("TP_sujet.ipynb", "{}")
        zf.writestr("big.ipynb", b"0" * (2 << 20))  # a zip bomb, in small
        zf.writestr("data.bin", b"1" * (4 << 20))  # not a notebook: not unpacked
    with zipfile.ZipFile(folder / "erin" / "TP.zip", "w") as zf:  # files of nothing take the disk
        for i in range(300):
            zf.writestr(f"{i}.ipynb", "")
    with zipfile.ZipFile(folder / "bob" / "deep.zip", "w") as zf:  # rglob recursed past the limit
        zf.writestr("d/" * 1200 + "TP_sujet.ipynb", "{}")
    subs = {s.student_id: s for s in collecting.collect(folder, tmp_path / "work")}
    assert sorted(subs) == ["alice", "bob", "carol", "dave", "erin"]
    assert "erin/TP.zip: unpacks to more than 1 GiB" in subs["erin"].notes[0]  # 300 blocks
    assert "a zip was not opened: alice/notes.zip: not a readable zip" in subs["alice"].notes[0]
    assert "carol/TP.zip: not a readable zip" in subs["carol"].notes[0]
    assert subs["carol"].relpath == "carol/TP.zip"  # nothing else: graded as it is (not JSON)
    assert "dave/TP.zip: unpacks to more than 1 GiB" in subs["dave"].notes[0]
    assert "bob/deep.zip: unsafe member 'd/d/d/" in subs["bob"].notes[0]
    assert subs["bob"].relpath == "bob/TP_sujet.ipynb"
    assert not list((tmp_path / "work").rglob("data.bin"))
    # a student with two notebooks: the note is on the one graded, the newest
    (folder / "alice" / "TP_sujet_v2.ipynb").write_text("{}")
    os.utime(folder / "alice" / "TP_sujet.ipynb", (1, 1))
    alice = {s.student_id: s for s in collecting.collect(folder, tmp_path / "work3")}["alice"]
    assert alice.relpath == "alice/TP_sujet_v2.ipynb"
    assert any("a zip was not opened: alice/notes.zip" in note for note in alice.notes), alice.notes
    shutil.copy(folder / "carol" / "TP.zip", tmp_path / "class.zip")  # the class's: it stops
    with pytest.raises(GradingError, match=r"class.zip: not a readable zip .*download it again"):
        collecting.collect(tmp_path / "class.zip", tmp_path / "work2")


def test_cells_are_put_back_in_the_tp_order():
    nb = _reordered(solved())
    nb = insert_after(nb, "up", "x = 1  # my cell")
    fixed = in_source_order(copy.deepcopy(nb), STUDENT)
    order = [_gid(c) for c in fixed.cells if _gid(c)]
    assert order == [_gid(c) for c in STUDENT.cells if _gid(c)]
    i = [c.source for c in fixed.cells].index("x = 1  # my cell")
    assert _gid(fixed.cells[i - 1]) == "up"


def _set(nb, cell_id: str, old: str, new: str):
    cell = next(c for c in nb.cells if _gid(c) == cell_id)
    assert old in cell.source, (cell_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


def test_an_edited_text_of_the_tp_is_put_back_without_a_note():
    """A locked markdown cell that differs from the TP's (the student's notes in it, or the
    instructor fixed a typo after the student downloaded the notebook) is put back, but is no
    edit to report: every student of a class told '1 of the TP's locked cells had been edited'."""
    nb = solved()
    md = next(c for c in nb.cells if c.cell_type == "markdown" and _gid(c) == "g_md")
    md.source += "\n\nmy own note: Dice = F1"
    notes: list[str] = []
    fixed = in_source_order(nb, STUDENT, notes)
    assert notes == []
    original = next(c.source for c in STUDENT.cells if _gid(c) == "g_md")
    assert next(c.source for c in fixed.cells if _gid(c) == "g_md") == original


def test_a_setting_the_tp_asks_for_is_no_edit_to_report():
    """Question 1 and 4 ask to set RECEPTIVE_FIELD and CLASS_WEIGHTS in locked cells: each
    student who did was told '2 of the TP's locked cells had been edited and were restored'.
    The cells are still restored, but for Question 1's number, kept for the instructor who grades
    it by hand (it was None in the graded notebook); any other edit of them is still reported."""
    nb = solved()
    _set(nb, "receptive_field", "RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140")
    _set(nb, "training", "CLASS_WEIGHTS = None", "CLASS_WEIGHTS = torch.tensor([0.1, 1, 1, 2])")
    _set(nb, "training", "RETRAIN = False", "RETRAIN = True")
    notes: list[str] = []
    fixed = in_source_order(copy.deepcopy(nb), STUDENT, notes)
    assert notes == []
    originals = {_gid(c): c.source for c in STUDENT.cells}
    kept = originals["receptive_field"].replace("RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140")
    for cell_id, source in (("receptive_field", kept), ("training", originals["training"])):
        assert next(c.source for c in fixed.cells if _gid(c) == cell_id) == source
    # a French decimal comma is the student's answer too (the hand grader saw None)
    nb = _set(solved(), "receptive_field", "RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140,5")
    fixed = in_source_order(nb, STUDENT, notes)
    comma = originals["receptive_field"].replace(
        "RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140,5"
    )
    assert next(c.source for c in fixed.cells if _gid(c) == "receptive_field") == comma
    assert number_answer(fixed, "RECEPTIVE_FIELD") == "RECEPTIVE_FIELD = 140,5"
    for answer in (
        "RECEPTIVE_FIELD = int('140')",  # not a number
        "RECEPTIVE_FIELD = '140'",
        "  RECEPTIVE_FIELD = 140",  # the restored cell would not run
    ):
        nb = _set(solved(), "receptive_field", "RECEPTIVE_FIELD = None", answer)
        fixed = in_source_order(nb, STUDENT, notes)
        assert (
            next(c.source for c in fixed.cells if _gid(c) == "receptive_field")
            == originals["receptive_field"]
        )
    assert notes == []
    for old, new in (
        ("RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140; print('hello')"),
        ("checks.check_receptive_field(RECEPTIVE_FIELD)", "RECEPTIVE_FIELD = 140"),
        ("RECEPTIVE_FIELD = None  #", "RECEPTIVE_FIELD = 140\nprint(RECEPTIVE_FIELD)  #"),
    ):
        notes = []
        fixed = in_source_order(_set(solved(), "receptive_field", old, new), STUDENT, notes)
        assert notes == ["1 of the TP's locked cells had been edited and were restored"], new
    # restored all the same, the number written in the changed cell is kept for the hand grader
    # (it read None); a sum of literals as written, not a power that could take the kernel's time
    assert number_answer(fixed, "RECEPTIVE_FIELD") == "RECEPTIVE_FIELD = 140"
    for number, kept in (("1 + 2 * 69", "1 + 2 * 69"), ("2 ** 9 ** 9", "")):
        cell = f"# 3 -> 5 -> ... -> 140\nRECEPTIVE_FIELD = {number}\nprint(RECEPTIVE_FIELD)"
        nb = _set(solved(), "receptive_field", originals["receptive_field"], cell)
        fixed = in_source_order(nb, STUDENT, [])
        assert number_answer(fixed, "RECEPTIVE_FIELD") == (kept and f"RECEPTIVE_FIELD = {kept}")


def test_a_line_nested_past_the_graders_recursion_limit_is_read_as_no_setting():
    """A line of a TP cell with 4,000 nested ``-`` (it runs in a kernel whose recursion limit
    the notebook raised): its RecursionError stopped the repair, the notebook 'could not be
    graded' (a traceback's line, not a grade). It is no setting; the static reading costs it."""
    nb = _set(
        solved(),
        "cce_loss",
        "def categorical_cross_entropy",
        "_ = " + "-" * 4000 + "1\n" + "def categorical_cross_entropy",
    )
    fixed = in_source_order(nb, STUDENT, [])
    assert number_answer(fixed, "RECEPTIVE_FIELD") == ""


def test_a_file_that_cannot_be_read_gets_a_page_in_the_classs_language():
    """A broken notebook says nothing of its language: its feedback page and LMS comment were
    English in a French class. It takes its name's (``TP_sujet_fr.ipynb``), else the class's."""
    from autograder.grade import _unknown_language
    from autograder.results import Result

    def result(file: str, language: str) -> Result:
        r = Result(file, "", file, "0" * 64, {}, {}, 20.0)
        r.language = language
        return r

    results = [result(f"s{i}.ipynb", lang) for i, lang in enumerate(["fr", "fr", "en"])]
    broken = [result("Marie/TP_sujet.ipynb", ""), result("Paul/TP_sujet_fr (1).ipynb", "")]
    _unknown_language(results + broken)
    assert [r.language for r in broken] == ["fr", "fr"]
    english = [result("a.ipynb", "en"), result("Paul/TP_sujet_fr.ipynb", ""), result("b", "")]
    _unknown_language(english)
    assert [r.language for r in english] == ["en", "fr", "en"]


def test_the_summary_says_a_message_once_and_the_files_notes_show():
    """The console's summary of a file that is not a notebook said the same message once per
    block, "(a) not a notebook … (+7 more)"; a block message shared by blocks is said once."""
    from autograder.grade import summary_table
    from autograder.results import BlockScore, Result

    spec = load_spec()
    why = "not a notebook: invalid JSON"
    blocks = {b.id: BlockScore(0.0, b.points, why) for b in spec.blocks}
    r = Result("4242", "Dupont Marie", "a.ipynb", "0" * 64, blocks, {}, spec.max_points)
    r.notes = [why]
    assert summary_table([r]).splitlines()[1].endswith(f"  {why}")
    r.notes = ["2 files: graded the newest"]
    line = summary_table([r]).splitlines()[1]
    ids = ", ".join(b.id for b in spec.blocks)
    assert line.endswith(f"({ids}) {why} (+1 more)"), line


def test_a_block_undefined_for_a_package_grading_lacks_says_so():
    """Honest round 28: `from torchinfo import summary` in the UNet cell (fine in Colab) left
    UNet undefined where grading runs; the page said "did its cell run without error?". It says
    which package, where, and that the instructor checks the block (French too)."""
    from autograder import messages as M
    from autograder.grade import _blamed_on_packages
    from autograder.messages_fr import french
    from autograder.results import BlockScore

    def blocks():
        return {
            "d": BlockScore(0.0, 4.0, M.NOT_DEFINED.format(names="UNet"), "d"),
            "e": BlockScore(0.0, 4.0, "loss 3, expected 2", "e"),
        }

    where = "cell 28 ((d) UNet)"
    notes = ["x", M.MISSING_PACKAGE.format(where=where, package="torchinfo")]
    told = _blamed_on_packages(blocks(), notes)
    assert told["d"].message == M.NOT_DEFINED_PACKAGE.format(
        names="UNet", package="torchinfo", where=where
    )
    assert told["e"].message == "loss 3, expected 2"
    assert "torchinfo" in french(told["d"].message) and "à la main" in french(told["d"].message)
    assert _blamed_on_packages(blocks(), ["x"])["d"].message == M.NOT_DEFINED.format(names="UNet")


def test_the_summary_tells_two_students_of_one_name_apart():
    """Two Jean Duponts in a Moodle download (participants 5001 and 5002) were two rows "5001"
    and "5002" on the console, with nothing to say which was which: each row names the student
    and their id, a long name cut before the id."""
    from autograder.grade import summary_table
    from autograder.results import BlockScore, Result

    spec = load_spec()
    blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}

    def result(sid: str, name: str) -> Result:
        return Result(sid, name, "a.ipynb", "0" * 64, blocks, {}, spec.max_points)

    long = "Marie-Charlotte de La Tour d'Auvergne-Lauraguais"
    rows = summary_table(
        [result("5001", "Jean Dupont"), result("5002", "Jean Dupont"), result("5003", long)]
    ).splitlines()[1:]
    assert [r.split("  ")[0].strip() for r in rows[:2]] == [
        "Jean Dupont (5001)",
        "Jean Dupont (5002)",
    ]
    assert "Marie-Charlotte" in rows[2] and "… (5003)" in rows[2]
    assert len({len(r.rstrip()) for r in rows}) == 1  # the columns line up (no notes here)
    pending = result("5004", "Zoé Martin")  # (round 25: a partial total read as final)
    pending.questions = {"q1": None}
    *_, row, footer = summary_table([result("5001", "Jean Dupont"), pending]).splitlines()
    assert f"  {pending.total:5g}* " in row and footer.startswith("* so far: written answers")


def test_the_summary_shows_the_escape_sequences_of_a_students_message():
    """A student's code raising ``ValueError("\\x1b]0;...\\x07\\x1b[2K\\x1b[1A...")`` had its
    message run by the instructor's terminal (the window's title set, the lines above erased: a
    row of the summary or the next student's hidden); a file's name in the progress lines too."""
    from autograder.grade import _shown_by, summary_table
    from autograder.results import BlockScore, Result

    spec = load_spec()
    why = "DoubleConv(3, 8): ValueError: \x1b]52;c;Y2F0\x07\x1b[2K\x1b[1A\rok\u202e"
    blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
    blocks["a"] = BlockScore(0.0, 2.0, why)
    r = Result("4242", "Dupont\x1b[8m Marie", "a.ipynb", "0" * 64, blocks, {}, spec.max_points)
    line = summary_table([r]).splitlines()[1]
    assert not any(c in line for c in "\x1b\x07\r\u202e"), repr(line)
    assert "ValueError: \\x1b]52;c;Y2F0\\x07\\x1b[2K\\x1b[1A\\rok\\u202e" in line
    said = []
    _shown_by(said.append)("gone: Dupont\x1b[2K Marie\nand\tothers")
    assert said == ["gone: Dupont\\x1b[2K Marie\nand\tothers"]


def test_question_1s_number_is_part_of_its_answer(tmp_path):
    """Question 1 is answered in text and by RECEPTIVE_FIELD's number: the answer the hand
    grader reads, and compares with a re-submission's, holds both. A re-submission that changed
    only the number kept the score given by hand to the old number."""
    from autograder.collect import Submission
    from autograder.grade import _written_answers

    spec = load_spec()
    q1 = next(q for q in spec.questions if q.setting == "RECEPTIVE_FIELD")

    def answers(number: str, folder: str) -> str:
        nb = _set(solved(), "receptive_field", "RECEPTIVE_FIELD = None", number)
        nb = in_source_order(nb, STUDENT, [])
        sub = Submission("4242", "Dupont Marie", tmp_path / "a.ipynb", "a.ipynb", "0" * 64)
        return _written_answers(nb, spec, tmp_path / folder, sub, STUDENT)[q1.id]

    right, wrong = answers("RECEPTIVE_FIELD = 140", "one"), answers("RECEPTIVE_FIELD = 100", "two")
    assert right.endswith("\n\nRECEPTIVE_FIELD = 140") and len(right) > len("RECEPTIVE_FIELD = 140")
    assert wrong.endswith("RECEPTIVE_FIELD = 100") and right != wrong
    assert "RECEPTIVE_FIELD" not in answers("RECEPTIVE_FIELD = None", "three")
    assert "RECEPTIVE_FIELD" not in answers("RECEPTIVE_FIELD = '140'", "four")  # restored


def _answers_of(nb, folder: Path) -> tuple[dict[str, str], list[str]]:
    """``{question id: text}`` of a submitted notebook as grading reads it, and the notes."""
    from autograder import repair
    from autograder.collect import Submission
    from autograder.grade import _written_answers

    notes: list[str] = []
    nb = repair.restore_metadata(nb, STUDENT, notes)
    nb = in_source_order(repair.without_outputs(nb), STUDENT, notes)
    sub = Submission("4242", "Dupont Marie", folder / "a.ipynb", "a.ipynb", "0" * 64)
    return _written_answers(nb, load_spec(), folder, sub, STUDENT), notes


def _answered(nb):
    """``nb`` with each written answer cell holding a different answer."""
    for q in load_spec().questions:
        cell = next(c for c in nb.cells if _gid(c) == q.grade_id)
        cell.source = f"My answer to {q.id}: the background dominates."
    return _set(nb, "receptive_field", "RECEPTIVE_FIELD = None", "RECEPTIVE_FIELD = 140")


def test_an_answer_cell_deleted_and_written_again_below_its_question_is_read(tmp_path):
    """A student deleted the answer cell of Question 3 (``YOUR ANSWER HERE``) and wrote the
    answer in a new text cell in its place: the hand grader reads it, it is not scored 0 as a
    blank, and the notes say where it was read from."""
    q3 = load_spec().questions[2]
    nb = _answered(solved())
    at = next(i for i, c in enumerate(nb.cells) if _gid(c) == q3.grade_id)
    nb.cells[at] = nbformat.v4.new_markdown_cell("**Question 3.** Background is 97 % of pixels.")
    answers, notes = _answers_of(nb, tmp_path)
    assert answers[q3.id] == "**Question 3.** Background is 97 % of pixels."
    assert any("q3 read from the text cell below the question" in n for n in notes), notes
    del nb.cells[at]  # deleted with nothing in its place: no answer, as a blank
    deleted, _ = _answers_of(nb, tmp_path / "2")
    assert deleted[q3.id] == "" and deleted["q4"].startswith("My answer to q4")


def test_written_answers_survive_a_save_that_dropped_every_cells_metadata(tmp_path):
    """Every cell saved without its nbgrader metadata (markdown cells too): each written answer
    is found below its own question (the five answer cells share one text, ``YOUR ANSWER HERE``,
    which names none of them), and Question 1's locked cell, edited with the student's number and
    a line of their own, keeps the number for the hand grader."""
    nb = _answered(solved())
    nb = _set(nb, "receptive_field", "checks.check_", "print(RECEPTIVE_FIELD)\nchecks.check_")
    answers, notes = _answers_of(_metadata_lost(nb), tmp_path)
    for q in load_spec().questions:
        assert answers[q.id].startswith(f"My answer to {q.id}: "), (q.id, answers[q.id])
    assert answers["q1"].endswith("RECEPTIVE_FIELD = 140")
    assert not any("were missing and were put back" in n for n in notes), notes
    left_blank = _metadata_lost(_answered(solved()))
    cell = next(c for c in left_blank.cells if c.source.startswith("My answer to q2"))
    cell.source = "YOUR ANSWER HERE"  # Question 2 left blank, the others answered
    answers, _ = _answers_of(left_blank, tmp_path / "2")
    assert answers["q2"] == "" and answers["q5"].startswith("My answer to q5")


def test_an_image_replaced_in_an_answer_is_a_rewritten_answer(tmp_path):
    """An answer drawn and attached (``![](attachment:a.png)``), in a text cell added below the
    answer cell: a re-submission that replaced only the image kept the score given by hand to
    the old one (the text is the same), and formgrader showed the text without its image."""
    from autograder.collect import Submission
    from autograder.grade import _written_answers
    from autograder.repair import read_submission

    spec = load_spec()
    q = spec.questions[1]

    def answer(png: bytes, folder: str) -> str:
        nb = in_source_order(solved(), STUDENT, [])
        at = next(i for i, c in enumerate(nb.cells) if _gid(c) == q.grade_id)
        below = nbformat.v4.new_markdown_cell("My drawing: ![](attachment:a.png)")
        below.attachments = {"a.png": {"image/png": base64.b64encode(png).decode()}}
        below.attachments["b.svg"] = {"image/svg+xml": "<svg onload='alert(1)'/>"}  # (markup)
        nb.cells.insert(at + 1, below)
        path = tmp_path / f"{folder}.ipynb"  # read as grading reads a file (instructor round
        nbformat.write(nb, path)  # 20: the attachments were dropped before the answer was read)
        sub = Submission("4242", "Dupont Marie", path, path.name, "0" * 64)
        return _written_answers(read_submission(path), spec, tmp_path / folder, sub, STUDENT)[q.id]

    first, same, other = answer(b"one", "1"), answer(b"one", "2"), answer(b"two", "3")
    assert "My drawing" in first and first == same and first != other
    shown = nbformat.read(tmp_path / "3" / "4242" / spec.assignment / spec.notebook, 4)
    (cell,) = [c for c in shown.cells if _gid(c) == q.grade_id]
    assert "attachment:a.png" in cell.source
    assert cell.attachments["a.png"]["image/png"] == base64.b64encode(b"two").decode()
    assert "b.svg" not in cell.attachments


def test_an_answer_in_a_raw_cell_below_the_answer_cell_is_part_of_the_answer(tmp_path):
    """An answer written in a raw cell added below the answer cell (formgrader shows it): a
    re-submission that rewrote it kept the score given by hand to the old text (only the answer
    cell and text cells were compared)."""
    from autograder.collect import Submission
    from autograder.grade import _written_answers

    spec = load_spec()
    q = spec.questions[1]

    def answer(text: str, folder: str) -> str:
        nb = in_source_order(solved(), STUDENT, [])
        at = next(i for i, c in enumerate(nb.cells) if _gid(c) == q.grade_id)
        nb.cells.insert(at + 1, nbformat.v4.new_raw_cell(text))
        sub = Submission("4242", "Dupont Marie", tmp_path / "a.ipynb", "a.ipynb", "0" * 64)
        return _written_answers(nb, spec, tmp_path / folder, sub, STUDENT)[q.id]

    first, other = answer("The receptive field is 140 <b>px</b>", "1"), answer("no idea", "2")
    assert "receptive field is 140" in first and first != other
    shown = nbformat.read(tmp_path / "1" / "4242" / spec.assignment / spec.notebook, 4)
    (cell,) = [c for c in shown.cells if _gid(c) == q.grade_id]
    assert "receptive field is 140" in cell.source and "<b>" not in cell.source  # made inert
    assert not [c for c in shown.cells if c.cell_type == "raw"]


def _answer_with_code_cells_below(folder, cells: list) -> str:
    """Question 2's answer as read from the solved notebook with code cells of ``cells`` added
    below its answer cell (the notebook formgrader shows written under ``folder``)."""
    from autograder.collect import Submission
    from autograder.grade import _written_answers

    spec = load_spec()
    q = spec.questions[1]
    nb = in_source_order(solved(), STUDENT, [])
    at = next(i for i, c in enumerate(nb.cells) if _gid(c) == q.grade_id)
    nb.cells[at + 1 : at + 1] = [nbformat.v4.new_code_cell(src) for src in cells]
    sub = Submission("4242", "Dupont Marie", folder / "a.ipynb", "a.ipynb", "0" * 64)
    return _written_answers(nb, spec, folder, sub, STUDENT)[q.id]


def test_an_answer_written_as_comments_in_a_code_cell_below_is_part_of_the_answer(tmp_path):
    """An answer written as comments in a code cell added below the answer cell (formgrader
    shows it): a re-submission that rewrote it kept the score given by hand to the old text. A
    code cell that runs code is not part of it, the text after it is."""
    spec, q = load_spec(), load_spec().questions[1]

    def answer(cells: list, folder: str) -> str:
        return _answer_with_code_cells_below(tmp_path / folder, cells)

    first = answer(["# The receptive field\n\n#   is 140 px"], "1")
    assert "# The receptive field" in first and "is 140 px" in first
    assert first != answer(["# no idea"], "2")
    shown = nbformat.read(tmp_path / "1" / "4242" / spec.assignment / spec.notebook, 4)
    (cell,) = [c for c in shown.cells if _gid(c) == q.grade_id]
    assert "is 140 px" in cell.source
    # code that runs is not an answer's text; the text after it is (formgrader shows it)
    after = answer(["print(140)  # my answer", "# the field is 140"], "3")
    assert "print" not in after and "# the field is 140" in after
    shown = nbformat.read(tmp_path / "3" / "4242" / spec.assignment / spec.notebook, 4)
    at = next(i for i, c in enumerate(shown.cells) if _gid(c) == q.grade_id)
    assert "# the field is 140" in shown.cells[at].source
    assert shown.cells[at + 1].source == "print(140)  # my answer"
    assert "# the field is 140" not in [c.source for c in shown.cells]


@pytest.mark.parametrize(
    "text",
    ['"""The receptive field\nis 140 px"""', "%%markdown\nThe receptive field\nis 140 px"],
    ids=["strings", "markdown_magic"],
)
def test_an_answer_written_as_text_in_a_code_cell_below_is_part_of_the_answer(tmp_path, text):
    """An answer written as a string or in a %%markdown code cell below the answer cell
    (formgrader shows it; it runs nothing): a re-submission that rewrote it kept the score given
    by hand to the old text."""

    def answer(cells: list, folder: str) -> str:
        return _answer_with_code_cells_below(tmp_path / folder, cells)

    first = answer([text], "1")
    assert "is 140 px" in first
    assert first != answer([text.replace("140", "572")], "2")
    # a string that a call uses runs code: not an answer's text
    assert "140" not in answer(['print("is 140 px")'], "3")


DB_URLS = ["sqlite-elsewhere"] + (
    [os.environ["UNET_TP_TEST_DB_URL"]] if os.environ.get("UNET_TP_TEST_DB_URL") else []
)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", DB_URLS)
def test_the_gradebook_at_any_sqlalchemy_url(tmp_path, db_url):
    """--db: the grades land in that database, and grading again updates them in place.

    Set UNET_TP_TEST_DB_URL (e.g. postgresql://grader@127.0.0.1:55432/course, an empty database)
    to run it on PostgreSQL too."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import write_gradebook
    from autograder.results import BlockScore, Result

    if db_url == "sqlite-elsewhere":
        db_url = f"sqlite:///{tmp_path / 'shared' / 'course.db'}"
        (tmp_path / "shared").mkdir()
    spec = load_spec()

    def result(sid: str, name: str, points: float) -> Result:
        tests = {gid: (t.points if points else 0.0) for gid, (_, t) in spec.tests.items()}
        blocks = {b.id: BlockScore(b.points if points else 0.0, b.points) for b in spec.blocks}
        return Result(sid, name, f"{sid}.ipynb", "0" * 64, blocks, tests, 20.0)

    write_gradebook(db_url, [result("4242", "Dupont Marie", 1), result("77", "Paul", 0)], tmp_path)
    write_gradebook(db_url, [result("77", "Paul", 1)], tmp_path / "again")  # Paul regraded
    with Gradebook(db_url) as gb:
        assert {s.id for s in gb.students} >= {"4242", "77"}
        assert gb.find_student("4242").last_name == "Marie"
        for sid in ["4242", "77"]:
            assert gb.find_submission(build.ASSIGNMENT, sid).score == 20
        assert len(gb.find_assignment(build.ASSIGNMENT).submissions) == 2


@pytest.mark.slow
def test_a_question_whose_points_changed_is_graded_by_hand_again(tmp_path):
    """Instructor round 27: Q5 raised from 2 to 3 points after it was graded by hand: the 2/2
    given became 2/3, no longer pending, posted as final. The score is cleared, with a note."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import write_gradebook
    from autograder.results import BlockScore, Result

    spec, db_url = load_spec(), f"sqlite:///{tmp_path / 'gradebook.db'}"
    q1, q2 = spec.questions[:2]
    tests = {gid: t.points for gid, (_, t) in spec.tests.items()}
    blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
    r = Result("4242", "Dupont Marie", "a.ipynb", "0" * 64, blocks, tests, spec.max_points)
    r.answers = {q.id: f"my answer to {q.id}" for q in spec.questions}
    write_gradebook(db_url, [r], tmp_path / "one")
    with Gradebook(db_url) as gb:  # formgrader, then the question's points as they were
        for q in (q1, q2):
            gb.find_grade(q.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score = 1
        cell = gb.find_grade_cell(q2.grade_id, build.ASSIGNMENT, build.ASSIGNMENT)
        cell.max_score = q2.points - 1
        gb.db.commit()
    r.notes = []
    assert write_gradebook(db_url, [r], tmp_path / "two") == [f"Dupont Marie (4242) Q{q2.id[1:]}"]
    assert f"question {q2.id[1:]} is now out of {q2.points:g} points" in r.notes[0], r.notes
    with Gradebook(db_url) as gb:
        grade = gb.find_grade(q2.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242")
        assert grade.manual_score is None and grade.needs_manual_grade
        kept = gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242")
        assert kept.manual_score == 1


@pytest.mark.slow
def test_a_rewritten_answer_loses_the_score_given_by_hand_to_the_old_one(tmp_path):
    """A re-submission after the written answers were graded in formgrader: the score of an
    answer the student rewrote is cleared (pending again, with a note); an unchanged answer
    keeps its score. It kept every old score: the export gave points for unread answers. The
    answers read are kept in the gradebook: with the state file deleted, or a new ``--out``
    sharing the ``--db``, a rewritten answer kept the score given by hand to the old one."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    from autograder.gradebook import with_manual_scores, write_gradebook
    from autograder.results import BlockScore, QuestionInfo, Result, Results

    spec, db_url = load_spec(), f"sqlite:///{tmp_path / 'gradebook.db'}"
    q1, q2 = spec.questions[:2]

    def result(answers: dict[str, str]) -> Result:
        tests = {gid: t.points for gid, (_, t) in spec.tests.items()}
        blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
        r = Result("4242", "Dupont Marie", "a.ipynb", "0" * 64, blocks, tests, spec.max_points)
        r.answers = answers
        return r

    first = {q.id: f"my first answer to {q.id}" for q in spec.questions}
    assert write_gradebook(db_url, [result(first)], tmp_path / "one") == []
    with Gradebook(db_url) as gb:  # formgrader
        for q in spec.questions:
            gb.find_grade(q.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score = 1
        gb.db.commit()
    again = result(first)  # the file changed (its code, say), not its answers
    again.sha256 = "1" * 64
    assert write_gradebook(db_url, [again], tmp_path / "two") == []
    late = result({**first, q2.id: "rewritten after the deadline"})
    late.sha256 = "2" * 64
    cleared = write_gradebook(db_url, [late], tmp_path / "three")  # no state file: the gradebook
    assert cleared == [f"Dupont Marie (4242) Q{q2.id[1:]}"]
    assert (
        f"your answer to question {q2.id[1:]} changed since it was graded by hand" in late.notes[0]
    )
    with Gradebook(db_url) as gb:
        grade = gb.find_grade(q2.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242")
        assert grade.manual_score is None and grade.needs_manual_grade
        assert (
            gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score == 1
        )
    infos = [QuestionInfo(q.id, q.grade_id, q.title, q.points) for q in spec.questions]
    results = Results("TP_sujet", spec.max_points, [], [late], "bwrap", "", infos, db_url)
    (student,) = with_manual_scores(results, tmp_path).students
    assert student.pending == [q2.id]
    # the grader's own error on a re-submission (graded again next run): its answers were not
    # read, and no score given by hand is cleared for them
    broken = result({})
    broken.sha256, broken.interrupted = "3" * 64, "grading error: ValueError"
    assert write_gradebook(db_url, [broken], tmp_path / "four") == []
    with Gradebook(db_url) as gb:
        grade = gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242")
        assert grade.manual_score == 1
        gb.find_grade(q2.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score = 1
        gb.db.commit()
    # the next run reads them (the same as ``late``'s, in a new file): nothing is cleared; the
    # same file graded again (--force) with its answers read anew is no rewriting either
    assert write_gradebook(db_url, [result(late.answers)], tmp_path / "five") == []
    assert write_gradebook(db_url, [result({})], tmp_path / "six") == []
    # a gradebook from before it kept the answers: the state file's (``previous``) are used
    older = f"sqlite:///{tmp_path / 'older.db'}"
    write_gradebook(older, [result(first)], tmp_path / "seven")
    with Gradebook(older) as gb:
        gb.find_grade(q2.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score = 1
        gb.db.execute(text("DROP TABLE unet_tp_answers_read"))
        gb.db.commit()
    cleared = write_gradebook(older, [late], tmp_path / "eight", previous={"4242": first})
    assert cleared == [f"Dupont Marie (4242) Q{q2.id[1:]}"]
    # the same file regraded (a new grader, --force): its answers read anew are no rewriting
    from autograder.grade import _old_answers

    state = {"4242": {"sha256": late.sha256, "result": {"answers": first}}}
    assert _old_answers(state, late) is None
    state["4242"]["sha256"] = "1" * 64  # a re-submission
    assert _old_answers(state, late) == first


@pytest.mark.slow
def test_a_file_that_is_no_notebook_is_not_left_pending_manual_grading(tmp_path):
    """A broken upload (invalid JSON) has no answer cell and no notebook for formgrader to open:
    its questions score 0 (the export gave it no grade, waiting for scores no one could give);
    a score given by hand still wins, and a readable re-submission is pending again; a blank
    answer scores 0, as nbgrader's (the instructor gave 0 by hand to each one)."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import with_manual_scores, write_gradebook
    from autograder.results import BlockScore, QuestionInfo, Result, Results

    spec, db_url = load_spec(), f"sqlite:///{tmp_path / 'gradebook.db'}"
    infos = [QuestionInfo(q.id, q.grade_id, q.title, q.points) for q in spec.questions]

    def result(answers: dict[str, str]) -> Result:
        tests = {gid: 0.0 for gid in spec.tests}
        blocks = {b.id: BlockScore(0.0, b.points) for b in spec.blocks}
        r = Result("4207", "Bonnet Bruno", "b.ipynb", "0" * 64, blocks, tests, spec.max_points)
        r.answers, r.questions = answers, {q.id: None for q in spec.questions}
        return r

    def read_back(r: Result) -> Result:
        results = Results("TP_sujet", spec.max_points, [], [r], "bwrap", "", infos, db_url)
        return with_manual_scores(results, tmp_path).students[0]

    broken = result({})  # what grade_submission gives a file that is not a notebook
    write_gradebook(db_url, [broken], tmp_path / "one")
    broken = read_back(broken)
    assert broken.pending == [] and broken.total == 0
    q1 = spec.questions[0]
    with Gradebook(db_url) as gb:  # formgrader: the instructor may still give points
        gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4207").manual_score = 1
        gb.db.commit()
    assert read_back(broken).total == 1
    fixed = result({q.id: "my answer" for q in spec.questions})  # a readable re-submission
    write_gradebook(db_url, [fixed], tmp_path / "two")
    assert read_back(fixed).pending == [q.id for q in spec.questions[1:]]
    # an answer left blank scores 0 as nbgrader's autograde scores an unchanged answer cell
    q2 = spec.questions[1]
    blank = result({q.id: "" if q == q2 else "my answer" for q in spec.questions})
    write_gradebook(db_url, [blank], tmp_path / "three", previous={"4207": fixed.answers})
    blank = read_back(blank)
    assert q2.id not in blank.pending and blank.questions[q2.id] == 0
    assert blank.pending == [q.id for q in spec.questions[2:]]


def test_a_damaged_gradebook_is_one_line_naming_it(tmp_path):
    """`unet-tp report` or `export` on a folder whose gradebook.db is damaged: one line naming
    the file (it was SQLAlchemy's traceback)."""
    from autograder.gradebook import GradebookError, with_manual_scores
    from autograder.results import QuestionInfo, Results

    (tmp_path / "gradebook.db").write_text("garbage")
    q = load_spec().questions[0]
    infos = [QuestionInfo(q.id, q.grade_id, q.title, q.points)]
    results = Results("TP_sujet", 30.0, [], [], "bwrap", "", infos, "")
    with pytest.raises(GradebookError, match=r"gradebook.db: not a readable nbgrader gradebook"):
        with_manual_scores(results, tmp_path)


@pytest.mark.slow  # (alembic's own command: seconds)
def test_a_new_gradebook_is_stamped_with_the_migration_head_alembic_reports(tmp_path):
    """A new gradebook records nbgrader's migration head (read in process, not by nbgrader's
    ``alembic heads`` subprocess): the head ``alembic`` itself prints, which ``nbgrader db
    upgrade`` and formgrader read."""
    import nbgrader

    from autograder.gradebook import _gradebook

    db = tmp_path / "gradebook.db"
    with _gradebook(f"sqlite:///{db}") as gb:
        gb.add_student("alice")
    (stamped,) = sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchone()
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {Path(nbgrader.__file__).parent / 'alembic'}\n")
    alembic = Path(sys.executable).parent / "alembic"
    heads = subprocess.run(
        [alembic, "-c", ini, "heads"], capture_output=True, text=True, check=True
    )
    assert stamped and heads.stdout.split()[0] == stamped


@pytest.mark.slow
def test_a_gradebook_in_use_is_not_called_damaged(tmp_path):
    """formgrader writing a score holds the gradebook locked: `report` or `export` then says it
    is in use, to run again, not that it is unreadable and must be restored from a copy (which
    would lose the scores given by hand since that copy)."""
    import sqlite3

    from autograder.gradebook import GradebookError, _gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with _gradebook(url) as gb:
        gb.add_student("alice")
    writer = sqlite3.connect(tmp_path / "gradebook.db", isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        in_use = r"gradebook.db: in use by another program"
        with pytest.raises(GradebookError, match=in_use) as e, _gradebook(url) as gb:
            gb.students  # noqa: B018 - the read that waits for the lock
        assert "restore" not in str(e.value), e.value
    finally:
        writer.close()


def test_what_decides_a_grade_is_in_the_regrading_hash(tmp_path, monkeypatch):
    """Changing the reference or the metrics regrades unchanged submissions."""
    from autograder import grade

    root = tmp_path / "repo"
    for folder in ["solutions", "autograder", "unet_tp", "notebooks"]:
        shutil.copytree(
            build.REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    monkeypatch.setattr(build, "REPO_ROOT", root)
    monkeypatch.setattr(build, "STUDENT_NOTEBOOK", root / "notebooks" / "TP_sujet.ipynb")
    notebooks = {k: root / "notebooks" / p.name for k, p in build.STUDENT_NOTEBOOKS.items()}
    monkeypatch.setattr(build, "STUDENT_NOTEBOOKS", notebooks)
    from autograder.regrade import inputs_changed

    def digest(sandbox):
        return grade.grading_inputs_hash(grade.grading_inputs(sandbox))

    seen, first = {digest("bwrap")}, grade.grading_inputs("bwrap")
    changes = ["solutions/unet.py", "unet_tp/metrics.py", "autograder/assignment.toml"]
    changes += ["autograder/colab_stub/google/colab/__init__.py"]  # run by every kernel
    for changed in [*changes, "notebooks/TP_sujet_fr.ipynb"]:  # French students repaired from it
        with open(root / changed, "a") as f:
            f.write("\n# changed\n")
        seen.add(digest("bwrap"))
    seen.add(digest("none"))
    assert len(seen) == 7
    # the why line names what changed (a typo fixed in a comment regrades the class: it says so)
    assert inputs_changed(first, grade.grading_inputs("none")) == (
        "the reference, tests or grading environment changed: (the sandbox), "
        "autograder/assignment.toml, autograder/colab_stub/google/colab/__init__.py, "
        "notebooks/TP_sujet_fr.ipynb, …"
    )
    assert inputs_changed(None, first).endswith("environment changed")  # the last run's unknown
    # the class report, the exports and the commands decide no grade: 300 notebooks are not
    # graded again for a change of the report's layout
    # nor the pages' look and French (instructor round 23: a rule of page.css regraded a class)
    pages = ("autograder/page.css", "autograder/messages_fr.json", "autograder/feedback.py")
    for changed in ("autograder/report.py", "autograder/export.py", "autograder/cli.py", *pages):
        with open(root / changed, "a") as f:
            f.write("\n# changed\n")
    assert digest("none") in seen


@pytest.mark.slow
def test_without_a_sandbox_grading_stops_or_says_so(tmp_path, monkeypatch):
    import autograder.sandbox as sandbox

    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    nbformat.write(solved(), subs / "TP_sujet.ipynb")
    with monkeypatch.context() as m:
        m.setattr(sandbox, "bwrap_binary", lambda: None)
        with pytest.raises(sandbox.SandboxUnavailable, match="--sandbox none"):
            grade_all(subs.parent, tmp_path / "out", progress=lambda _: None)
    lines: list[str] = []
    (result,) = grade_all(subs.parent, tmp_path / "out", sandbox="none", progress=lines.append)
    assert result.total == 20, {
        k: (b.points, (b.message or "")[:900])
        for k, b in result.blocks.items()
        if b.points != b.max
    }
    assert any("without a sandbox" in r for r in result.review)
    assert any("NONE" in line for line in lines)
    assert _rows(tmp_path / "out")["alice"]["review"] == "yes"


@pytest.mark.slow
def test_grading_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """Every folder of a run (the sandbox check's too) is in its temporary folder, removed at
    the end: runs do not pile up ``unet-tp-grading-*.private`` folders in /tmp."""
    import tempfile

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "TP_sujet.ipynb").write_text("{not json")
    (result,) = grade_all(subs.parent, tmp_path / "out", progress=lambda _: None)
    assert result.total == 0
    assert [p.name for p in temporary.iterdir() if p.name.startswith("unet-tp")] == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, cell, check, names",
    [
        ("double_conv_no_second_relu", "double_conv", "check_double_conv", ["DoubleConv"]),
        ("concat_order", "up", "check_up", ["Up"]),
        ("no_zero_grad", "train_step", "check_train_step", ["train_step"]),
    ],
)
def test_the_feedback_page_quotes_what_the_notebook_showed(graded, case, cell, check, names):
    """A lost block's feedback quotes the message the notebook's own test cell showed the student
    (the same visible check, run again by the grader)."""
    import html
    import io
    from contextlib import redirect_stdout

    import torch.nn.functional as F

    from notebooks import namespace
    from unet_tp import checks

    edits = {
        "double_conv": None,
        "up": [("torch.cat([skip, x], dim=1)", "torch.cat([x, skip], dim=1)")],
        "train_step": [("optimizer.zero_grad()", "pass")],
    }
    if cell == "double_conv":
        ns = namespace()
        exec(compile(DOUBLE_CONV_NO_SECOND_RELU, "<cell double_conv>", "exec"), ns)  # noqa: S102
    else:
        ns = namespace({cell: edits[cell]})
    args = [ns[n] for n in names] + ([F.cross_entropy] if check == "check_train_step" else [])
    with pytest.raises(AssertionError) as shown, redirect_stdout(io.StringIO()):
        getattr(checks, check)(*args)
    page = html.unescape((graded.out / "feedback" / f"{case}.html").read_text())
    first_line = " ".join(str(shown.value).strip().splitlines()[0].split())[:120]
    assert first_line in " ".join(page.split()), (first_line, case)


@pytest.mark.slow
def test_written_answers_are_pending_until_graded_by_hand_in_the_gradebook(graded, tmp_path):
    """Formgrader's way (nbgrader's Gradebook API, manual_score) on a copy of the graded batch:
    "pending" in the feedback, report and exports before; the full totals after."""
    from nbgrader.api import Gradebook

    from autograder.export import MOODLE_HEADER, export
    from autograder.report import write_report

    out = tmp_path / "out"
    shutil.copytree(graded.out, out)
    questions = load_spec().questions
    # OUT is formgrader's course folder, where it was copied to (its config found the old one's
    # gradebook), the assignment listed (its Manual Grading page was empty without source/)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    assert config.CourseDirectory.root == str(out)
    assert config.CourseDirectory.db_url == f"sqlite:///{out / 'gradebook.db'}"
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    assert [a["name"] for a in api.get_assignments()] == ["TP_sujet"]
    assert {s["student"] for s in api.get_submissions("TP_sujet")} >= {"correct", "blank"}
    assert (out / "autograded" / "correct" / "TP_sujet" / "TP_sujet.ipynb").is_file()
    answers = json.loads((out / "results.json").read_text())["students"]
    correct = next(s for s in answers if s["student_id"] == "correct")
    assert set(correct["answers"]) == {q.id for q in questions}
    assert all(v is None for v in correct["questions"].values())
    assert "pending manual grading" in write_report(out).read_text()
    roster = tmp_path / "worksheet.csv"  # Moodle's grading worksheet, two of the students
    with roster.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MOODLE_HEADER)
        for i, name in enumerate(["correct", "blank"], 1):
            writer.writerow(
                [
                    f"Participant {i}",
                    name,
                    "",
                    "Submitted for grading",
                    "",
                    "30.00",
                    "Yes",
                    "-",
                    "-",
                    "",
                ]
            )
    report = export(out, "moodle", roster=roster)
    assert any("pending manual grading" in w for w in report.warnings)
    moodle = list(csv.reader(report.path.read_text(encoding="utf-8-sig").splitlines()))
    # no grade while the answers wait; the handout handed in as given is a 0 to chase, not
    # posted (instructor round 24), until its answers are scored by hand
    assert [r[4] for r in moodle[1:]] == ["", ""]
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        grade = gb.find_grade(questions[0].grade_id, "TP_sujet", "TP_sujet", "correct")
        assert grade.needs_manual_grade and grade.manual_score is None
        for student in graded.expected:
            for q in questions:
                grade = gb.find_grade(q.grade_id, "TP_sujet", "TP_sujet", student)
                grade.manual_score = 1.5  # as formgrader writes it
        gb.db.commit()
    report_html = write_report(out).read_text()
    assert "all graded by hand" in report_html and "pending manual grading" not in report_html
    rows = {r[2]: r for r in csv.reader(export(out, "canvas").path.read_text().splitlines())}
    assert rows["correct"][-1] == "27.5"  # 20 + 5 x 1.5; the handout as given: still to chase
    assert rows["blank"][-1] == ""
    report = export(out, "moodle", roster=roster)
    moodle = list(csv.reader(report.path.read_text(encoding="utf-8-sig").splitlines()))
    assert [r[4] for r in moodle[1:]] == ["27.50", ""]  # (the handout as given: a 0 to chase)
    assert not any("pending" in w for w in report.warnings)


@pytest.mark.slow
def test_the_prewarmed_cache_is_the_one_the_graded_notebook_uses(tmp_path, monkeypatch, capsys):
    """The instructor's sample folder holds more cases than the grading's 4 (an earlier notebook
    run made 10): the prewarmed cache must hold the 4 the notebook's data cell asks for, or each
    graded notebook rebuilds it in its sandbox."""
    from autograder import grade
    from unet_tp import notebook
    from unet_tp.data.synth import synth_dataset

    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "instructor"))
    synth_dataset(tmp_path / "instructor" / "sample_cases" / "seed0", 5, seed=0)
    grade._prewarm(tmp_path / "home")
    for name, value in {**grade.GRADING_NOTEBOOK_ENV, "UNET_TP_HOME": "home/unet_tp_home"}.items():
        monkeypatch.setenv(name, str(tmp_path / value) if name == "UNET_TP_HOME" else value)
    _, config = notebook.notebook_config(torch.device("cpu"))
    capsys.readouterr()
    notebook.prepare_slices(notebook.get_data("sample"), config)
    said = capsys.readouterr().out
    assert f"{grade.GRADING_SAMPLE_CASES} cases" in said and "nothing written" in said, said
    # made once: the next run copies it (the 10 s of the cases' slice cache, each `grade`)
    monkeypatch.setenv("UNET_TP_HOME", str(tmp_path / "instructor"))
    kept = list((tmp_path / "instructor" / "grading_home").iterdir())
    monkeypatch.setattr(grade, "_prewarm_in", lambda home: pytest.fail("made again"))
    grade._prewarm(tmp_path / "home2")
    files = sorted(p.relative_to(tmp_path / "home") for p in (tmp_path / "home").rglob("*"))
    assert files and files == sorted(
        p.relative_to(tmp_path / "home2") for p in (tmp_path / "home2").rglob("*")
    )
    # another student package (or versions, or settings): made anew, the old one removed
    monkeypatch.setitem(grade.GRADING_NOTEBOOK_ENV, "UNET_TP_PRESET", "cpu-quick")
    monkeypatch.setattr(grade, "_prewarm_in", lambda home: (home / "made").mkdir(parents=True))
    grade._prewarm(tmp_path / "home3")
    assert (tmp_path / "home3" / "made").is_dir()
    assert len(kept) == 1 and not kept[0].exists()


def test_a_zip_at_the_top_of_a_hand_made_folder_is_its_senders(tmp_path):
    """Zips students e-mailed, put by the instructor beside the others' notebooks: ``bob.zip``
    holding ``TP_sujet.ipynb`` is Bob's (it was read as the class's archive: its file naming no
    one stopped the run); a zip of folders (``carol/TP.ipynb``) or whose files name two students
    stays a class's archive, its folders and names saying whose."""
    from autograder.grade import collect

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.ipynb").write_text('{"who": "alice"}')
    zips = {
        "bob.zip": {"TP_sujet.ipynb": "bob"},
        "carol.zip": {"carol/TP.ipynb": "carol"},
        "rest.zip": {"dave/TP.ipynb": "dave", "TP_sujet_erin.ipynb": "erin"},
    }
    for name, members in zips.items():
        with zipfile.ZipFile(folder / name, "w") as zf:
            for member, who in members.items():
                zf.writestr(member, f'{{"who": "{who}"}}')
    subs = {s.student_id: s.path.read_text() for s in collect(folder, tmp_path / "work")}
    assert subs == {w: f'{{"who": "{w}"}}' for w in ("alice", "bob", "carol", "dave", "erin")}


def test_a_training_stopped_by_hand_shows_so_on_the_page():
    """A notebook saved after the student stopped the training (Ctrl-M I in Colab): the page's
    'your training, as your notebook showed it' kept the epochs and dropped the
    KeyboardInterrupt, as if the run had ended there."""
    from autograder import repair

    nb = solved_french()
    training = next(c for c in nb.cells if _gid(c) == "training")
    training.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="Époque 2/20 : perte 0.71\n"),
        nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=["..."]),
    ]
    shown = repair.submitted_outputs(nb, STUDENT)["training"]
    assert shown == "Époque 2/20 : perte 0.71\nKeyboardInterrupt\n"


def test_an_answer_written_in_a_text_cell_below_the_answer_cell_is_the_answer(tmp_path):
    """A French student who added a text cell under 'VOTRE RÉPONSE ICI' (Colab's '+ Texte')
    and wrote their answers there: both questions scored 0, '(pas de réponse)' on the page."""
    from types import SimpleNamespace

    from autograder.grade import _written_answers
    from autograder.i18n import STUBS

    student_fr = nbformat.read(build.STUDENT_NOTEBOOKS["fr"], 4)
    nb = solved_french()
    answer = "Le fond : ~98 % des pixels 🎉\n\n| région | Dice |\n|---|---|\n| ET | 0,41 |"
    for cell_id in ("answer_class_balance", "answer_weighted_loss"):
        with_cell(nb, cell_id, STUBS["fr"][1])
        i = next(i for i, c in enumerate(nb.cells) if _gid(c) == cell_id)
        nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(answer))
        nb.cells.insert(i + 2, nbformat.v4.new_markdown_cell("(suite) $w_0 = 0.1$"))
    insert_after(nb, "answer_hd95", "print('pas une réponse')")  # code: not an answer
    nb = in_source_order(nb, student_fr, [])
    sub = SimpleNamespace(student_id="dupont")
    written = _written_answers(nb, load_spec(), tmp_path, sub, student_fr)
    assert written["q3"] == written["q4"] == f"{answer}\n\n(suite) $w_0 = 0.1$"
    assert written["q5"].startswith("0.5 : ") and "pas une réponse" not in written["q5"]
    # formgrader shows the answer in the graded cell, not in a cell under it
    shown = nbformat.read(tmp_path / "dupont" / build.ASSIGNMENT / "TP_sujet.ipynb", 4)
    for cell_id in ("answer_class_balance", "answer_weighted_loss"):
        i = next(i for i, c in enumerate(shown.cells) if _gid(c) == cell_id)
        assert "0,41" in shown.cells[i].source and "w_0 = 0.1" in shown.cells[i].source
        assert STUBS["fr"][1] not in shown.cells[i].source
        assert (
            "(suite)" not in shown.cells[i + 1].source and "0,41" not in shown.cells[i + 1].source
        )
    assert len(shown.cells) == len(nb.cells) - 4


def test_a_test_the_notebook_showed_passing_that_fails_now_is_explained():
    """A student ran (b)'s test ('ok'), then edited Down and saved without running it again:
    (b) lost its points while their notebook said 'ok', and nothing on the page said why."""
    from autograder import repair
    from autograder.grade import _shown_passing
    from autograder.messages_fr import french

    nb = solved_french()
    for cell_id, text in (
        ("test_down", "  ok : Down(8, 16) : ...\n"),
        ("test_unet", "  ok : ...\n"),
    ):
        cell = next(c for c in nb.cells if _gid(c) == cell_id)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    failed = next(c for c in nb.cells if _gid(c) == "test_loss")
    failed.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="x")]
    shown = repair.shown_passing(nb)
    assert shown == {"test_down", "test_unet"}
    answers = {
        "test_down.visible": ({"passed": False, "message": "Down(8, 16) a levé NameError"}, {}),
        "test_unet.visible": ({"passed": True}, {}),
        "test_loss.visible": ({"passed": False, "message": "perte"}, {}),
    }
    (note,) = _shown_passing(load_spec(), answers, shown)
    assert note.startswith("(b): your notebook showed its test passing ('ok') when it was saved")
    assert french(note).startswith("(b) : votre notebook affichait son test réussi (« ok »)")
    assert "(Exécution > Tout exécuter)" in french(note)


def test_a_heading_of_the_students_own_names_no_cell_of_the_tp():
    """A student's own text cell '## My experiments' above the training cell: a failure of the
    TP's training cell was 'the TP's cell in 'My experiments'', a section the TP does not have."""
    from autograder import repair

    nb = solved()
    i = next(i for i, c in enumerate(nb.cells) if _gid(c) == "training")
    nb.cells.insert(i, nbformat.v4.new_markdown_cell("## My experiments\nTrying things."))
    nb = in_source_order(nb, STUDENT, [])
    labels = repair.cell_labels(nb, STUDENT, load_spec())
    training = next(i for i, c in enumerate(nb.cells) if _gid(c) == "training")
    assert labels[training] == "the TP's cell in 'Training the network'"


def test_a_cell_after_a_section_is_named_with_french_quotes_on_a_french_page():
    """'votre cellule après 'Entraîner le réseau'' kept the English quotes that the TP's cells
    ('la cellule du TP dans « ... »') and the page's own legend do not."""
    from autograder import messages as M
    from autograder import repair
    from autograder.messages_fr import french

    student_fr = nbformat.read(build.STUDENT_NOTEBOOKS["fr"], 4)
    nb = insert_after(solved_french(), "train_md", "print(undefined_name)")
    nb = in_source_order(nb, student_fr, [])
    labels = repair.cell_labels(nb, student_fr, load_spec())
    mine = next(i for i, c in enumerate(nb.cells) if c.source == "print(undefined_name)")
    note = M.CELL_ERROR.format(
        where=M.CELL.format(cell=mine + 1, cell_label=labels[mine]), ename="NameError", evalue="x"
    )
    assert labels[mine] == "your cell after 'Entraîner le réseau'"
    assert (
        french(note)
        == f"cellule {mine + 1} (votre cellule après « Entraîner le réseau ») : NameError : x"
    )


def test_a_folder_named_like_a_notebook_or_a_zip_does_not_stop_the_class(tmp_path):
    """A folder a student made and named ``x.ipynb`` or ``evil.zip`` (Moodle's file manager, a
    Drive folder, a zip's folder) was read as a file: the whole class's run stopped on
    IsADirectoryError. Its notebooks are that student's; the folder itself is no file."""
    from autograder.collect import collect

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Alice A_123_assignsubmission_file_/x.ipynb/TP_sujet.ipynb", "{}")
        zf.writestr("Bob B_456_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.writestr("Carol C_789_assignsubmission_file_/evil.zip/inner.zip", b"PK\x03\x04 no")
    subs = {s.student_id: s for s in collect(archive, tmp_path / "work")}
    assert sorted(subs) == ["123", "456", "789"]
    assert subs["123"].relpath == "Alice A_123_assignsubmission_file_/x.ipynb/TP_sujet.ipynb"
    assert "evil.zip/inner.zip: not a readable zip" in subs["789"].notes[0]
    folder = tmp_path / "subs"
    for who in ("alice", "bob"):
        (folder / who).mkdir(parents=True)
        (folder / who / "TP_sujet.ipynb").write_text("{}")
    (folder / "bob" / "empty.ipynb").mkdir()
    (folder / "bob" / "empty.zip").mkdir()
    with zipfile.ZipFile(folder / "alice" / "TP.zip", "w") as zf:
        zf.writestr("x.ipynb/TP_sujet.ipynb", "{}")
    subs = {s.student_id: s.relpath for s in collect(folder, tmp_path / "work2")}
    assert sorted(subs) == ["alice", "bob"] and subs["bob"] == "bob/TP_sujet.ipynb"


def test_a_moodle_name_after_canvass_prefix_stays_its_senders(tmp_path):
    """Canvas's flat list: Alice's file (or zip) named ``TP_5001_assignsubmission_file_.ipynb``,
    which Canvas names ``alicemartin_5002_9002_TP_5001_...``, was read as Moodle names Bob's
    (participant 5001, his Canvas ID): Alice's notebook, the newer, was graded as Bob's, into his
    row of the LMS file, and Alice had none. Canvas's prefix says whose."""
    from autograder.collect import collect

    folder = tmp_path / "canvas"
    folder.mkdir()
    (folder / "bobdurand_5001_9001_TP_sujet.ipynb").write_text('{"who": "bob"}')
    forged = folder / "alicemartin_5002_9002_TP_5001_assignsubmission_file_.ipynb"
    forged.write_text('{"who": "alice"}')
    with zipfile.ZipFile(folder / "carolx_5003_9003_TP_5001_assignsubmission_file_.zip", "w") as zf:
        zf.writestr("TP_sujet.ipynb", '{"who": "carol"}')
    for path in folder.iterdir():
        if "assignsubmission" in path.name:
            os.utime(path, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s for s in collect(folder, tmp_path / "work")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "5001": ('{"who": "bob"}', "5001"),
        "5002": ('{"who": "alice"}', "5002"),
        "5003": ('{"who": "carol"}', "5003"),
    }


def test_a_students_deep_folders_in_a_zipped_class_folder_stay_theirs(tmp_path):
    """The class's Drive folder zipped with its wrapper (``class/alice/...``): Alice's notebook
    put 16 folders deep, named ``Bob B_456_assignsubmission_file_x.ipynb`` and dated 2099, was
    unpacked as one file ``class/alice~d~...~Bob B_456_...`` whose name alone said whose: a
    student 456 graded into Bob's Moodle row; and her other deep notebook, a student of its own.
    Both are Alice's."""
    from autograder.collect import collect

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("class/alice/TP_sujet.ipynb", "{}")
        zf.writestr("class/bob/TP_sujet.ipynb", "{}")
        deep = "class/alice/" + "d/" * 16
        for name in ("Bob B_456_assignsubmission_file_x.ipynb", "x.ipynb"):
            zf.writestr(zipfile.ZipInfo(deep + name, (2099, 1, 1, 0, 0, 0)), "{}")
    subs = {s.student_id: s for s in collect(archive, tmp_path / "work")}
    assert sorted(subs) == ["alice", "bob"]
    assert all(s.lms_id is None for s in subs.values())
    assert subs["alice"].relpath.startswith("alice/d~d~")  # the newest of her 3


def test_a_students_folder_beside_lms_folders_or_files_is_theirs(tmp_path):
    """Moodle's download unpacked, or a folder of e-mailed notebooks, with a folder the instructor
    made for one student (``carol/``, her e-mailed zip unpacked): her
    ``carol/Bob B_456_assignsubmission_file_/TP_sujet.ipynb``, dated 2099, was Bob's newest
    notebook, graded into his LMS row, and Carol had none. Only two folders made by hand made
    them students' folders."""
    from autograder.collect import collect

    moodle, flat = tmp_path / "moodle", tmp_path / "flat"
    for name, who in (("Alice A_123", "alice"), ("Bob B_456", "bob")):
        (moodle / f"{name}_assignsubmission_file_").mkdir(parents=True)
        (moodle / f"{name}_assignsubmission_file_" / "TP_sujet.ipynb").write_text(who)
        flat.mkdir(exist_ok=True)
        (flat / f"{who}.ipynb").write_text(who)
    for folder in (moodle, flat):
        forged = folder / "carol" / "Bob B_456_assignsubmission_file_" / "TP_sujet.ipynb"
        forged.parent.mkdir(parents=True)
        forged.write_text("carol")
        os.utime(forged, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s for s in collect(moodle, tmp_path / "work")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "123": ("alice", "123"),
        "456": ("bob", "456"),
        "carol": ("carol", None),
    }
    subs = {s.student_id: s for s in collect(flat, tmp_path / "work2")}
    assert {k: (s.path.read_text(), s.lms_id) for k, s in subs.items()} == {
        "alice": ("alice", None),
        "bob": ("bob", None),
        "carol": ("carol", None),
    }


def test_a_zip_at_the_top_naming_a_classmate_already_there_is_its_senders(tmp_path):
    """A zip a student e-mailed, put at the top beside the others' folders: Dave's ``dave.zip``
    holding ``bob/TP_sujet.ipynb``, or Carol's ``carol.zip`` beside Moodle's folders holding
    ``Bob B_456_assignsubmission_file_/TP_sujet.ipynb``, dated 2099, was read as a class's
    archive: Bob graded on it (into his LMS row), Dave and Carol missing without a word. A zip
    naming a student whose files are already there is its sender's."""
    from autograder.collect import collect

    hand, moodle = _alice_and_bob(tmp_path)
    forged = {
        hand / "dave.zip": "bob/TP_sujet.ipynb",
        moodle / "carol.zip": "Bob B_456_assignsubmission_file_/TP_sujet.ipynb",
    }
    for zipped, member in forged.items():
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr(zipfile.ZipInfo(member, (2099, 1, 1, 0, 0, 0)), zipped.stem)
    subs = {s.student_id: s.path.read_text() for s in collect(hand, tmp_path / "work")}
    assert subs == {"alice": "alice", "bob": "bob", "dave": "dave"}
    subs = {s.student_id: (s.path.read_text(), s.lms_id) for s in collect(moodle, tmp_path / "w2")}
    assert subs == {"123": ("alice", "123"), "456": ("bob", "456"), "carol": ("carol", None)}
    # Moodle's zip beside the folder it was unpacked to (it names them all): still the class's
    (moodle / "carol.zip").unlink()
    with zipfile.ZipFile(moodle / "moodle.zip", "w") as zf:
        for folder in sorted(moodle.glob("*_assignsubmission_file_")):
            zf.writestr(f"{folder.name}/TP_sujet.ipynb", (folder / "TP_sujet.ipynb").read_text())
    subs = {s.student_id: (s.path.read_text(), s.lms_id) for s in collect(moodle, tmp_path / "w3")}
    assert subs == {"123": ("alice", "123"), "456": ("bob", "456")}
    # two groups' downloads, each unpacked in a folder of its own: each folder is looked into
    for group in ("group A-1234", "group B-5678"):
        shutil.copytree(moodle, tmp_path / "groups" / group, ignore=shutil.ignore_patterns("*.zip"))
    (tmp_path / "groups" / "group B-5678" / "Alice A_123_assignsubmission_file_").rename(
        tmp_path / "groups" / "group B-5678" / "Carol C_789_assignsubmission_file_"
    )
    subs = {s.student_id: s.lms_id for s in collect(tmp_path / "groups", tmp_path / "w4")}
    assert subs == {"123": "123", "456": "456", "789": "789"}


def test_a_file_and_a_folder_of_one_name_in_the_lms_zip_do_not_stop_the_class(tmp_path):
    """Moodle's file manager lets a student keep a file ``x.ipynb`` and a folder ``x.ipynb/``
    side by side: unpacking the class's zip stopped the whole run ("not a readable zip"), in
    either order. That student's first file is graded (in a student's own zip, or at the top of
    the class's, it is as before: their note, the run stopped naming the zip)."""
    from autograder.collect import collect

    both = ["Alice A_123_assignsubmission_file_/x.ipynb", "Alice A_123_assignsubmission_file_/"]
    both[1] += "x.ipynb/TP_sujet.ipynb"
    for i, order in enumerate((both, both[::-1])):
        archive = tmp_path / f"moodle{i}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for member in order:
                zf.writestr(member, "alice")
            zf.writestr("Bob B_456_assignsubmission_file_/TP_sujet.ipynb", "bob")
        subs = {s.student_id: s for s in collect(archive, tmp_path / f"work{i}")}
        assert {k: s.path.read_text() for k, s in subs.items()} == {"123": "alice", "456": "bob"}
        assert subs["123"].relpath == order[0]


def test_a_zip_at_the_top_of_the_class_archive_is_its_senders_not_dropped(tmp_path):
    """The class's folder zipped with the zip Dave e-mailed at its top (``dave.zip`` holding
    ``dave/TP_sujet.ipynb``, read as a class's archive): it was left out, Dave missing from the
    grades without a word. A zip inside the class's archive is its sender's."""
    import io

    from autograder.collect import collect

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("dave/TP_sujet.ipynb", "dave")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/TP_sujet.ipynb", "alice")
        zf.writestr("bob/TP_sujet.ipynb", "bob")
        zf.writestr("dave.zip", inner.getvalue())
    subs = {s.student_id: s.path.read_text() for s in collect(archive, tmp_path / "work")}
    assert subs == {"alice": "alice", "bob": "bob", "dave": "dave"}


def test_a_wrapper_folder_passed_as_the_submissions_is_looked_into(tmp_path):
    """The class's folder passed with the folder around it (``SOURCE/class/alice/``, Canvas's
    list unpacked in ``SOURCE/submissions/``) was one student, "class" or "submissions", graded
    on the newest notebook of the whole class; and in it, Alice's ``Bob B_456_assignsubmission_
    file_/`` dated 2099 was Bob's. Canvas keeps a name's hyphens (``garcia-lopezmaria_5002_...``):
    such a student had no Canvas ID, and Moodle's 5001 in the name she gave her file was read."""
    from autograder.collect import collect

    hand = tmp_path / "source" / "class"
    for who in ("alice", "bob"):
        (hand / who).mkdir(parents=True)
        (hand / who / "TP_sujet.ipynb").write_text(who)
    forged = hand / "alice" / "Bob B_456_assignsubmission_file_" / "TP_sujet.ipynb"
    forged.parent.mkdir()
    forged.write_text("alice")
    os.utime(forged, (4070908800, 4070908800))  # 2099
    subs = {s.student_id: s.path.read_text() for s in collect(hand.parent, tmp_path / "w1")}
    assert subs == {"alice": "alice", "bob": "bob"}
    canvas = tmp_path / "downloads" / "submissions"
    canvas.mkdir(parents=True)
    (canvas / "durandbob_5001_9001_TP_sujet.ipynb").write_text("bob")
    (canvas / "garcia-lopezmaria_5002_9002_TP_5001_assignsubmission_file_.ipynb").write_text(
        "maria"
    )
    subs = {
        s.student_id: (s.path.read_text(), s.lms_id)
        for s in collect(canvas.parent, tmp_path / "w2")
    }
    assert subs == {"5001": ("bob", "5001"), "5002": ("maria", "5002")}
    flat = tmp_path / "flat"  # a name of the instructor's, not Canvas's
    flat.mkdir()
    (flat / "dupont_marie_2026_01_TP.ipynb").write_text("marie")
    assert [s.student_id for s in collect(flat, tmp_path / "w3")] == ["dupont_marie_2026_01_TP"]


@pytest.mark.slow  # the gradebook's assignment made from the source notebook: 5 s
def test_what_formgrader_sets_by_hand_reaches_the_grades_pages_and_lms(tmp_path, monkeypatch):
    """Instructor round 21: a test cell's points set in formgrader after reading a flagged
    notebook were ignored (and the flag never cleared); formgrader's comments and extra credit
    were dropped; a question's score above its (lowered) points was posted; a student without a
    TP notebook was posted a 0; a question's points raised in the spec stayed capped there."""
    from nbgrader.api import Gradebook

    from autograder import export as lms
    from autograder import grade
    from autograder.feedback import feedback_html
    from autograder.gradebook import with_manual_scores
    from autograder.results import BlockScore, Results

    spec = load_spec()
    q1, (crop_gid, (crop_block, crop_test)) = (
        spec.questions[0],
        next((gid, bt) for gid, bt in spec.tests.items() if bt[0].id == "c"),
    )
    subs = tmp_path / "subs"
    for name in ["alice", "bob"]:
        (subs / name).mkdir(parents=True)
        (subs / name / "TP_sujet.ipynb").write_text(name)

    def graded(todo, *args):
        out = []
        for s, why in todo:
            r = _full_marks(s, why, spec)
            tests, blocks = r.tests, r.blocks
            r.answers = {q.id: "an answer" for q in spec.questions}
            if s.student_id == "alice":  # flagged, (c)'s crop test lost
                tests[crop_gid] = 0.0
                blocks["c"] = BlockScore(
                    crop_block.points - crop_test.points, crop_block.points, "crop wrong"
                )
                r.review = ["runs code of its own around every cell"]
            else:  # a file that is no TP notebook
                r.no_notebook, r.review, r.answers = True, ["no notebook to grade"], {}
            out.append(r)
        return out

    monkeypatch.setattr(grade, "_grade_many", graded)
    out = tmp_path / "out"
    grade.grade_all(subs, out, progress=lambda line: None)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:  # as formgrader saves them
        a = build.ASSIGNMENT
        gb.find_grade(crop_gid, a, a, "alice").manual_score = crop_test.points
        gb.find_grade(q1.grade_id, a, a, "alice").manual_score = q1.points + 5  # over its points
        gb.find_grade(q1.grade_id, a, a, "alice").extra_credit = 1
        gb.find_comment(q1.grade_id, a, a, "alice").manual_comment = "Compare the two runs."
        gb.find_grade_cell(q1.grade_id, a, a).max_score = 99  # the points of an older spec
        gb.db.commit()
    results = with_manual_scores(with_manual_scores(Results.load(out), out), out)  # (twice)
    alice, bob = results.students
    assert alice.block("c").points == crop_block.points and alice.reviewed and not alice.to_review
    assert alice.messages()[0] == "READ runs code of its own around every cell"  # (round 24)
    assert alice.block("c").by_hand and alice.block("c").message == "crop wrong"  # its own note
    alice.language = "fr"
    assert "points fixés par votre enseignant après lecture" in feedback_html(alice, results)
    alice.language = "en"
    assert alice.questions[q1.id] == q1.points + 1  # its points, and the extra credit
    page = feedback_html(alice, results)
    assert "Compare the two runs." in page and "will be read by the instructor" not in page
    assert "To be reviewed" not in lms.feedback_comment(alice, results)
    report = lms.export(out, "canvas")
    assert any("without a TP notebook to grade (e.g. bob)" in w for w in report.warnings), (
        report.warnings
    )
    with open(report.path, encoding="utf-8") as f:
        (bob_row,) = [r for r in csv.DictReader(f) if r["Student"] == "bob"]
    assert bob_row["TP_sujet"] == ""  # not a 0
    grade.grade_all(subs, out, progress=lambda line: None, force=True)  # the spec's points again
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert (
            gb.find_grade_cell(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT).max_score
            == q1.points
        )
        gb.find_grade(crop_gid, build.ASSIGNMENT, build.ASSIGNMENT, "alice").manual_score = None
        gb.db.commit()
    # the score by hand taken back in formgrader: the grader's own points and flag are back
    alice = with_manual_scores(Results.load(out), out).students[0]
    assert alice.block("c").points < crop_block.points and alice.to_review
    assert not alice.block("c").by_hand and alice.tests[crop_gid] == 0.0


@pytest.mark.slow  # the gradebook's assignment made from the source notebook: 5 s
def test_a_score_by_hand_is_cleared_after_the_grader_failed_on_the_re_submission(
    tmp_path, monkeypatch
):
    """Answers scored by hand in formgrader, then a re-submission with other answers on which
    the grader itself failed (its answers not read: the scores kept, to be compared at the next
    run): the next run read the new answers but compared them with none (the same file as the
    failed run's) and kept the old answers' scores for them."""
    from nbgrader.api import Gradebook

    from autograder import grade
    from autograder.gradebook import with_manual_scores
    from autograder.results import Results

    spec = load_spec()
    q1 = spec.questions[0]
    folder = tmp_path / "subs" / "Dupont Marie_4242_assignsubmission_file_"
    folder.mkdir(parents=True)
    notebook = folder / "TP_sujet.ipynb"
    failing = {"now": False}

    def graded(todo, *args):  # as _grade_many: the answers are the file's text
        out = []
        for s, why in todo:
            r = _full_marks(s, why, spec)
            if failing["now"]:
                r.interrupted = "grading error: ValueError"
            else:
                r.answers = {q.id: s.path.read_text() for q in spec.questions}
            out.append(r)
        return out

    monkeypatch.setattr(grade, "_grade_many", graded)
    out = tmp_path / "out"

    def run():
        grade.grade_all(tmp_path / "subs", out, jobs=1, progress=lambda line: None)

    def score():
        with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
            grade = gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242")
            return grade.manual_score, grade.needs_manual_grade

    notebook.write_text("a careful answer")
    run()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:  # formgrader
        gb.find_grade(q1.grade_id, build.ASSIGNMENT, build.ASSIGNMENT, "4242").manual_score = 2
        gb.db.commit()
    notebook.write_text("nothing worth a point")  # re-submitted; the grader fails on it
    failing["now"] = True
    run()
    assert score()[0] == 2  # not read: kept for now
    # but not the new file's: this run's grades hold the question as still to grade
    (student,) = with_manual_scores(Results.load(out), out).students
    assert student.questions[q1.id] is None and q1.id in student.pending
    failing["now"] = False
    run()  # graded again (cut short): the new answer is read
    assert score() == (None, True)


def test_a_student_graded_before_whose_re_submission_is_not_read_is_named(tmp_path, monkeypatch):
    """A re-submission the grader does not read (a hidden ``.TP_sujet.ipynb``):
    the student left the run's grades without a word, and the better grade the LMS got from
    the earlier run stood."""
    from autograder import grade
    from autograder.results import Result

    subs = tmp_path / "subs"
    for name in ["Dupont Marie_4242", "Martin Alice_5001"]:
        (subs / f"{name}_assignsubmission_file_").mkdir(parents=True)
        (subs / f"{name}_assignsubmission_file_" / "TP_sujet.ipynb").write_text("{}")

    def graded(todo, *args):
        return [
            Result(s.student_id, s.name, s.relpath, s.sha256, {}, {}, 30.0, regraded=why)
            for s, why in todo
        ]

    def pages(out, results, fresh):  # the feedback pages alone
        (out / "feedback").mkdir(exist_ok=True)
        for r in fresh:
            (out / "feedback" / f"{r.student_id}.html").write_text(r.name)

    _without_running(monkeypatch, graded)
    monkeypatch.setattr(grade._Run, "write_outputs", lambda run, results, shown, fresh: pages(
        run.out, shown, shown.students
    ))  # fmt: skip
    out, lines = tmp_path / "out", []
    grade.grade_all(subs, out, progress=lines.append)
    assert not any("WARNING" in line for line in lines)
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["4242.html", "5001.html"]
    alice = subs / "Martin Alice_5001_assignsubmission_file_"
    (alice / "TP_sujet.ipynb").rename(alice / ".TP_sujet.ipynb")
    lines.clear()
    results = grade.grade_all(subs, out, progress=lines.append)
    assert [r.student_id for r in results] == ["4242"]
    assert lines[1] == (
        "WARNING: graded by an earlier run, no notebook of theirs found now (1: Martin Alice "
        "(5001)): not in these grades, their feedback pages taken out of feedback/; the grade "
        "the LMS got earlier stands until changed"
    )
    # her page from the earlier run is not left to be handed out beside this run's grades
    assert [p.name for p in (out / "feedback").iterdir()] == ["4242.html"]
    # only a page in feedback/ is taken out, whatever id the state file holds
    (out / "report.html").write_text("the class report")
    grade._remove_pages(out, {"../report", "sub/../../report"})
    assert (out / "report.html").read_text() == "the class report"


def test_an_audit_hook_or_a_code_object_of_the_notebooks_puts_later_answers_out_of_sight(
    monkeypatch,
):
    """Red team 38: an audit hook of the notebook's ran torch's loss at the grader's opening of
    the request, before the watch began (a stubbed (e) at 4/4); SciPy's ``dice`` ran as a code
    object renamed ``h``, which the watch, knowing code by its module and name, let pass ((g)
    at 2/2); text compiled under a library's file name would pass for the library's code. Each,
    by the notebook's code (not a library's: filelock's fork guard, torch's compiler building
    code, an import, a parse by ``ast``), puts every later watched answer out of the grader's
    sight, and is noted."""
    import sysconfig
    import types

    import torch._dynamo

    from autograder import harness

    notes = []
    monkeypatch.setattr(harness, "_COUNTS", {})
    monkeypatch.setattr(harness, "_note", lambda kind, detail: notes.append((kind, detail)))
    libraries = [sysconfig.get_paths()[k] for k in ("stdlib", "purelib")]
    monkeypatch.setattr(harness, "_LIBRARIES", libraries)
    monkeypatch.setattr(harness, "_LIBRARY_ROOTS", [p.rstrip("/") + "/" for p in libraries])
    assert harness._out_of_sight(False) == [] and harness._out_of_sight(True) == [harness.AROUND]
    import functools
    import json

    import filelock

    def run_as(file, source, function="<module>", caller=None, **names):
        """``source`` run by code of ``file`` (a library's), in a function of that name, called
        from a module's top level of the file ``caller``, if given."""
        names = {"audit": harness._audit, **names}
        if function == "<module>":
            return types.FunctionType(compile(source, file, "exec"), names)()
        exec(compile(f"def {function}():\n    {source}\n", file, "exec"), names)  # noqa: S102
        if caller is None:
            return names[function]()
        return types.FunctionType(compile(f"{function}()", caller, "exec"), names)()

    # a library's own: filelock's fork guard, types.coroutine as asyncio loads, torch's compiler
    run_as(filelock.__file__, "audit('sys.addaudithook', ())", "_register_fork_hooks")
    run_as(types.__file__, "audit('code.__new__', ())", "coroutine", caller=json.__file__)
    run_as(torch._dynamo.__file__, "audit('code.__new__', ())", "transform")
    # a library's file compiled as it is (an import), a parse of text by ast
    compiled = ("compile", ("x = 1", torch.__file__))
    own = ("compile", (Path(json.__file__).read_bytes(), json.__file__))
    run_as(filelock.__file__, "audit(*own)", own=own)
    run_as(__import__("ast").__file__, "audit(*compiled)", compiled=compiled)
    assert harness._out_of_sight(False) == [] and notes == []
    harness._audit("sys.addaudithook", ())  # (this test's frame: the notebook's code)
    assert harness._out_of_sight(False) == [harness.AROUND]
    harness._audit("code.__new__", ())
    assert harness._out_of_sight(False) == [harness.AROUND, harness.REBUILT]
    assert [kind for kind, _ in notes] == ["watch", "watch"]
    harness._COUNTS.clear()  # and by the notebook's code: its functions would pass for torch's
    harness._audit(*compiled)
    assert harness._out_of_sight(False) == [harness.REBUILT]
    assert notes[-1] == ("watch", f"compiled code under a library's file name ({torch.__file__})")
    # or by a library calling what the notebook gave it (red team 39: torch's tree_map over a
    # partial of code.replace; red team 40: filelock's capture_call, types.coroutine given a
    # fake function, importlib's _call_with_frames_removed, a library's compile of other text)
    routes = [
        (filelock.__file__, "audit('sys.addaudithook', ())", "capture_call", None),
        (filelock.__file__, "audit('code.__new__', ())", "tree_map", None),
        (types.__file__, "audit('code.__new__', ())", "coroutine", None),
        ("<frozen importlib._bootstrap>", "audit('code.__new__', ())", "_call_with_frames", None),
        ("<frozen importlib._bootstrap>", "audit(*compiled)", "_call_with_frames", None),
    ]
    for file, source, function, caller in routes:
        harness._COUNTS.clear()
        run_as(file, source, function, caller, compiled=compiled)
        assert harness._out_of_sight(False) != [], (file, function)

    # a callback of a library's holding the notebook's function in a dict (singledispatch), or
    # a library's method bound to an object of the notebook's (red team 40: json's encode)
    def around(info):
        return info

    class Around:
        def iterencode(self, info, _one_shot=False):
            return []

    assert harness._libraries(functools.singledispatch(around)) is False
    assert harness._libraries(functools.singledispatch(json.dumps)) is True  # (a library's)
    monkeypatch.setattr(harness, "_CELL_FILES", (__file__,))  # (a class of a cell's, as here)
    assert harness._libraries(types.MethodType(json.JSONEncoder.encode, Around())) is False
    assert harness._libraries(json.JSONEncoder().encode) is True
    from autograder import messages as M

    assert harness.AROUND == M.AROUND and harness.REBUILT == M.REBUILT  # (the grader's words)


def test_the_notebooks_reading_of_the_requests_puts_later_answers_out_of_sight(
    monkeypatch, tmp_path
):
    """Red team 43: a finalizer run by the garbage collector before the watch began listed the
    requests' folder, read each request and computed torch's loss for the answer to look up.
    Any reading of that folder, through any path to it (a link, ``/proc/self/root``), but the
    harness's own of the request it answers, puts every later answer out of sight."""
    import numpy as np

    from autograder import harness
    from autograder import messages as M

    requests, home = tmp_path / "requests", tmp_path / "home"
    requests.mkdir(), home.mkdir()
    request = requests / "req-0.npz"
    harness.write_message(request, {"kind": "loss"}, {"x": np.zeros(2)})
    (home / "r").symlink_to(requests)
    notes = []
    monkeypatch.setattr(harness, "_COUNTS", {})
    monkeypatch.setattr(harness, "_note", lambda kind, detail: notes.append((kind, detail)))
    found = requests.stat()
    monkeypatch.setattr(harness, "_REQUESTS", (found.st_dev, found.st_ino))
    assert harness._own_read(harness.read_message, str(request))[0] == {"kind": "loss"}
    # the harness's own reading as its audit hook sees it, and a file of the home: nothing
    harness._own_read(lambda path: harness._audit("open", (path, "rb", 0)), str(request))
    harness._audit("open", (str(home), "r", 0))
    assert harness._out_of_sight(False) == [] and notes == []
    routes = [
        ("os.listdir", (str(requests),)),
        ("os.scandir", (str(home / "r"),)),
        ("open", (str(home / "r" / "req-0.npz"), "rb", 0)),
        ("open", (f"/proc/self/root{request}", "rb", 0)),
    ]
    for event, args in routes:
        harness._COUNTS.clear()
        harness._audit(event, args)
        assert harness._out_of_sight(False) == [harness.REQUESTS_READ], event
    fd = os.open(requests, os.O_RDONLY)
    try:
        harness._COUNTS.clear()
        harness._audit("os.listdir", (fd,))
        assert harness._out_of_sight(False) == [harness.REQUESTS_READ]
    finally:
        os.close(fd)
    # red team 44: code of the notebook's run inside the harness's own reading (numpy's
    # printing of the meta) opened the request again; or its open file by its descriptor
    harness._COUNTS.clear()

    def twice(path):
        harness._audit("open", (path, "rb", 0))  # (the harness's)
        harness._audit("open", (path, "rb", 0))  # (the notebook's, during the reading)

    harness._own_read(twice, str(request))
    assert harness._out_of_sight(False) == [harness.REQUESTS_READ]
    fd = os.open(request, os.O_RDONLY)
    try:
        harness._COUNTS.clear()
        harness._audit("open", (f"/proc/self/fd/{fd}", "rb", 0))
        assert harness._out_of_sight(False) == [harness.REQUESTS_READ]
    finally:
        os.close(fd)
    assert notes[-1][0] == "watch" and harness.REQUESTS_READ == M.REQUESTS_READ


def test_a_c_class_put_in_a_librarys_place_or_a_new_name_is_no_code_of_the_notebooks():
    """Honest round 17: ``np.int = int`` (old code on numpy 2), ``np.float = np.float64`` and
    fastai's ``Path.ls = lambda self: ...`` cost every block tested after them: a class or a
    module's function of C runs none of the notebook's code, and a name no library had at
    start-up is called by none. A function of the notebook's in a library's place, or a special
    method (``__del__``, a module's ``__getattr__``) new or changed, is still named."""
    import numpy as np

    from autograder import harness

    honest = [
        ({"int": None}, {"int": int}),
        ({"bool": np.bool_}, {"bool": bool}),
        ({}, {"float": np.float64}),
        ({}, {"ls": lambda self: sorted(self.iterdir())}),
        ({"load": np.load}, {"load": len}),
    ]
    for before, now in honest:
        assert harness._swapped({k: v for k, v in before.items() if v}, now) == [], now

    class Own:
        pass

    assert harness._swapped({"load": np.load}, {"load": lambda path: 0}) == ["load"]
    assert harness._swapped({"load": np.load}, {"load": Own}) == ["load"]
    assert harness._swapped({}, {"__del__": lambda self: 0}) == ["__del__"]
    assert harness._swapped({}, {"__getattr__": lambda name: 0}) == ["__getattr__"]


def test_a_flood_of_forged_harness_notes_is_cut_to_a_bounded_review(tmp_path):
    """The kernel can write to its standard error (the grader's log file) as the harness does:
    95,000 forged notes became 87,000 review lines (2.7 MB in grades.csv, a quadratic pass over
    them). Each note is read once, at most ``MAX_EVENTS`` of them, then one line says so; the
    harness's digests after them are read all the same."""
    from autograder import grade
    from autograder.harness import ANSWER_SAID

    lines = [f'[unet-tp-event] {{"kind": "k", "detail": "{i:07d}"}}' for i in range(95_000)]
    lines.insert(1, '[unet-tp-event] {"kind": "network", "detail": "connects to x"}')
    lines.insert(2, lines[1])  # the same note twice is one line
    lines.append(f"{ANSWER_SAID}ans-1.npz {'0' * 64}")  # (read past the notes: one pass)
    (tmp_path / "kernel_stderr.log").write_text("\n".join(lines) + "\n")
    plan = [{"step": "a.kept", "file": "ans-1.npz", "sha256": "0" * 64}]
    (tmp_path / "execute.json").write_text(json.dumps({"plan": plan}))
    changed, events = grade._kernel_log(tmp_path)
    assert changed == []
    assert len(events) == grade.MAX_EVENTS + 1 and events[-1] is None
    assert events[1] == {"kind": "network", "detail": "connects to x"}
    assert len({(e["kind"], e["detail"]) for e in events[:-1]}) == grade.MAX_EVENTS
    _, review = grade._run_notes(
        tmp_path, nbformat.v4.new_notebook(), {}, *grade._kernel_log(tmp_path)
    )
    assert review[-1] == f"the notebook {grade.FLOODED_EVENTS}"
    assert "the notebook tried to use the network: connects to x" in review
    # notes alike but for their numbers: one line and their count (red team 77's 200 lines)
    assert review[0].endswith(": 0000000 (and 198 more like it)") and len(review) == 3, review


def test_the_harness_notes_are_read_past_a_flood_of_other_text(tmp_path, monkeypatch):
    """A red team wrote 5.4 MB of plain text to the kernel's standard error before its write
    outside home: only the first 4 MiB were read, and the note was lost. Every line is read now,
    a long one or a note split across reads included; a log past ``MAX_LOG_BYTES`` is flagged."""
    from autograder import grade

    note = '[unet-tp-event] {"kind": "write outside home", "detail": "/opt/grading/evil.txt"}'
    flood = ("x" * 999 + "\n") * 5_400 + "y" * 200_000  # and a line longer than a note can be
    log = tmp_path / "kernel_stderr.log"
    log.write_text(flood + "\n" + note + "\n")
    _, review = grade._run_notes(
        tmp_path, nbformat.v4.new_notebook(), {}, *grade._kernel_log(tmp_path)
    )
    assert review == ["the notebook wrote (or tried to) outside its home: /opt/grading/evil.txt"]
    monkeypatch.setattr(grade, "MAX_LOG_BYTES", 1 << 20)
    _, review = grade._run_notes(
        tmp_path, nbformat.v4.new_notebook(), {}, *grade._kernel_log(tmp_path)
    )
    assert review == [f"the notebook {grade.FLOODED_LOG}"]


@pytest.mark.slow  # runs a kernel
def test_what_an_answer_runs_while_the_grader_calls_it_is_noted():
    """The kernel's watch (harness._Watch) notes torch's losses the block forbids, its forbidden
    libraries and the course package's code (but what answers build on), however the answer
    reached them; honest code, and a forbidden loss the grader itself hands over outside the
    watch, are not noted. The grader denies the block on that note alone (grade._ran)."""
    import logging

    import numpy as np
    import torch.nn.functional as F

    from autograder import harness
    from autograder.compare import Request
    from autograder.grade import _ran, _watch
    from autograder.spec import load as load_spec
    from unet_tp import device, metrics

    loss_block = load_spec().block("e")
    x, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    box = logging.getLogger("unet-tp-test-watch")
    box.addFilter(lambda logits, target: F.cross_entropy(logits, target))

    def cheat(logits, target):
        return box.filters[-1](logits, target)

    def honest(logits, target):
        one_hot = F.one_hot(target, logits.shape[1]).movedim(-1, 1)
        return -(one_hot * logits.log_softmax(1)).sum(1).mean()

    def ran(fn, *args, meta=None):
        watch = harness._Watch({"watch": meta or _watch(loss_block)})
        with watch.running():
            fn(*args)
        return watch.ran

    assert ran(cheat, x, y)[0] == "torch.nn.functional.cross_entropy"
    assert ran(honest, x, y) == [] and F.cross_entropy(x, y) is not None  # outside: not watched
    # torch's private twins of a forbidden name (a red team's CTC over one frame is the loss)
    blank = torch.full((2, 1, 4, 4), -1e30)
    log_s = torch.cat([blank, x], 1).log_softmax(1).permute(2, 3, 0, 1).reshape(1, 32, 4)
    ctc = (log_s, (y + 1).reshape(32, 1), [1] * 32, [1] * 32, 0, False)
    assert any("_ctc_loss" in name for name in ran(torch._ctc_loss, *ctc))
    # torch's off-switches on, the loss called from C (map): its backward is still seen (round 16)
    logits = x.clone().requires_grad_()

    def switched_off(logits, target):
        with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
            (value,) = map(torch._C._nn.cross_entropy_loss, [logits], [target], [None], [1])
        value.backward()

    assert "torch.ops.nll_loss2d_backward" in ran(switched_off, logits, y)
    # a module and a C function renamed (round 18): told by the file and by sys.modules' key
    import sysconfig

    import scipy.spatial.distance as distance

    lib = [sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")]
    c_loss = torch._C._nn.cross_entropy_loss
    renamed = [(distance, "__name__", "renamed"), (c_loss, "__module__", "numpy")]
    saved = [getattr(obj, attr) for obj, attr, _ in renamed]
    harness._LIBRARIES[:] = lib
    try:
        for obj, attr, value in renamed:
            setattr(obj, attr, value)
        masks = np.zeros((2, 4), bool)
        seen = ran(lambda: distance.pdist(masks, "dice"), meta=_watch(load_spec().block("g")))
        assert "scipy.spatial.distance.pdist" in seen, seen
        # a distance given weights (red team 46-48: Hamming weighted by the masks is one minus
        # the Dice), however the call was hidden from the reading; on the two masks alone, not
        dice = _watch(load_spec().block("g"))
        assert "weighted" not in _watch(load_spec().block("e"))
        p, t = np.array([1, 1, 0, 1], bool), np.array([1, 0, 1, 1], bool)
        weighed = ran(lambda: distance.hamming(p, t, w=p.astype(int) + t), meta=dice)
        assert weighed[0] == "scipy.spatial.distance.hamming(w)", weighed
        honest = ran(lambda: distance.hamming(p, t) + distance.cityblock(p * 1, t * 1), meta=dice)
        assert honest == [], honest
        assert "torch._C._nn.cross_entropy_loss" in ran(c_loss, x, y, None, 1, -100, 0.0)
    finally:
        for (obj, attr, _), value in zip(renamed, saved, strict=True):
            setattr(obj, attr, value)
        harness._LIBRARIES.clear()
        harness._module_of.cache_clear()
    course = {"names": [], "paths": [], "allowed": ["unet_tp.unet_base", "unet_tp.device"]}
    course["allowed"].append("unet_tp.i18n")  # (pick_device speaks the notebook's language)
    a = np.zeros((4, 4), bool)
    assert ran(metrics.dice, a, a, meta=course)[0].startswith("unet_tp.metrics.")
    assert ran(device.pick_device, meta=course) == []
    box.filters.clear()
    req = Request("test_loss.x", {"label": "x"}, {})
    said = {"test_loss.x": ({"ran": ["torch.nn.functional.cross_entropy"]}, {})}
    assert _ran(said, [req]) == "torch.nn.functional.cross_entropy"
    assert _ran({"test_loss.x": ({"ran": [3, None]}, {})}, [req]) == ""


LOOPING_DOUBLE_CONV = (
    "        while x.numel():\n            x = x + 0\n        return self.block(x)"
)


@pytest.mark.slow  # a notebook graded, its answer looping
def test_an_answer_that_loops_costs_its_block_alone(tmp_path):
    """Instructor round 28: a DoubleConv looping (``while x.numel(): x = x + 0``) scored 3/30,
    not 18: each cell built on it ran to its timeout, and so did each of its requests (three and
    a self-check: minutes each), the notebook was stopped at its limit with most requests not
    asked, and those asked failed for memory. Now one of its requests runs to the limit and the
    others of its test are not asked, nor the self-check of a test cell that timed out; past half
    the notebook's time the TP's own cells are skipped, said once; every other block scores."""
    nb = solved(double_conv=("        return self.block(x)", LOOPING_DOUBLE_CONV))
    (tmp_path / "subs").mkdir()
    nbformat.write(nb, tmp_path / "subs" / "looping.ipynb")
    (result,) = grade_all(
        tmp_path / "subs", tmp_path / "out", jobs=1, cell_timeout=20, notebook_timeout=150
    )
    points = {b: result.blocks[b].points for b in FULL}
    assert points == {**FULL, "a": 0}, (points, result.notes)
    skipped = [n for n in result.notes if "half of its time limit (75 s)" in n]
    assert len(skipped) == 1 and "((d) test cell)" in skipped[0], result.notes


def test_an_answer_that_loops_is_read_as_it_runs_and_stopped_in_time(monkeypatch):
    """Instructor round 28: a DoubleConv looping in a request kept torch's profiler recording
    every operator for the request's two minutes: 3 GB of records, and every request after it
    failed for memory ("can't allocate memory": 3/30 for a notebook worth 18). The records are
    read every ``TICK_SECONDS`` and the recording started again: a loss run before the loop is
    still seen, and the answer is stopped at its limit, the watch intact."""
    import threading
    import time

    import torch.nn.functional as F

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    x, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    with harness._Watch({"watch": _watch(load_spec().block("e"))}).running():
        F.cross_entropy(x, y)  # (a first watched answer reads its modules: seconds)
    monkeypatch.setattr(harness, "_ANSWER_SECONDS", 3.0)
    watch = harness._Watch({"watch": _watch(load_spec().block("e"))})
    recordings = set()
    with pytest.raises(KeyboardInterrupt), watch.running():
        F.cross_entropy(x, y)
        give_up = time.monotonic() + 8  # (not stopped: the test fails, no loop forever)
        while time.monotonic() < give_up:
            recordings.add(harness._RECORDING[threading.get_ident()][1])
            x = x + 0
    # (a thread of the test runner's may wake meanwhile, noted too: the grader's kernel holds
    # its own threads still)
    assert "torch.nn.functional.cross_entropy" in watch.ran, watch.ran
    assert harness.UNWATCHED not in watch.ran
    assert len(recordings) >= 2  # (read and started again as it ran)


_WATCH_ROUTES = """
import _thread, asyncio, collections, json, os, queue, sys, threading, time, types
from concurrent.futures import ThreadPoolExecutor
from autograder import harness


class Loop:  # a kernel's thread running an event loop (ipykernel's IOPub, its control thread)
    def __init__(self):
        self.loop, ready = asyncio.new_event_loop(), threading.Event()
        self.loop.call_soon(ready.set)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        ready.wait()


outputs, control = Loop(), Loop()
saving = threading.Event()


def history():  # the kernel's history thread: it writes when a cell has run
    while saving.wait():
        saving.clear()
        sum(range(300_000))


threading.Thread(target=history, daemon=True).start()
pipe_out, pipe_in = os.pipe()  # ipykernel's reader of the process's standard error
stderr_copy = os.dup(2)
os.dup2(pipe_in, 2)


def read_stderr():
    while data := os.read(pipe_out, 1000):
        os.write(stderr_copy, data)


threading.Thread(target=read_stderr, daemon=True).start()
stdout, sys.stdout = sys.stdout, types.SimpleNamespace(pub_thread=outputs)  # (OutStream's)
harness.start()  # as the kernel's start-up file: the filter, the watch on every thread start
sys.stdout = stdout
import torch
import torch.nn.functional as F
from autograder.grade import _watch
from autograder.spec import load

x, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))


def raw_thread():  # a thread of _thread's skips threading's hooks
    box = queue.Queue()
    _thread.start_new_thread(lambda: box.put(F.cross_entropy(x, y)), ())
    return box.get()


class Name(str):  # the watch read str(__name__) on each call: raising took the hook off
    armed = []

    def __str__(self):
        if self.armed:
            self.armed.clear()
            raise LookupError("off")
        return str.__str__(self)


__name__ = Name(__name__)


def nothing():
    pass


def name_unhooks():
    Name.armed[:] = [1]
    try:
        nothing()
    except LookupError:
        pass
    Name.armed.clear()
    return F.cross_entropy(x, y)


def switched_off():
    sys.setprofile(None)
    return F.cross_entropy(x, y)


def threading_patched():  # (threads started from now on would skip the hook)
    threading.Thread._bootstrap_inner = lambda self: self.run()


def honest_pool():
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda t: -(t.log_softmax(1)).mean(), [x, x]))


import functools
_ce = functools.partial(torch._C._nn.cross_entropy_loss)  # C, called from C: no profile event


def c_through_partial():
    return _ce(x, y, None, 1, -100, 0.0)


_pool = ThreadPoolExecutor(1)
with harness._Watch({"watch": _watch(load().block("e"))}).running():  # (a watched task: its
    _pool.submit(int).result()  # thread's finishing up is the answer's, not a server's)


_scripted = torch.jit.script(torch.nn.CrossEntropyLoss())  # (its operators run from C++)


def scripted():
    return _scripted(x, y)


def pool_started_before():
    return _pool.submit(F.cross_entropy, x, y).result()


def pool_queue_bypassed():  # round 23: work put straight into the queue of a followed pool
    from concurrent.futures import Future
    from concurrent.futures.thread import _WorkItem

    _pool.submit(int).result()
    done = Future()
    _pool._work_queue.put(_WorkItem(done, F.cross_entropy, (x, y), {}))
    return done.result()


class Job:  # round 24: any object with a run method will do for the pool's worker
    def __init__(self, function):
        self.function, self.done = function, threading.Event()

    def run(self):
        self.out = self.function()
        self.done.set()


def served_by_a_pool(pool, function):
    _pool.submit(int).result()
    job = Job(function)
    next(iter(pool._threads))._args[1].put(job)  # (the worker's queue, as its thread holds it)
    job.done.wait()
    return job.out


_c_loss = functools.partial(torch._C._nn.cross_entropy_loss, x, y, None, 1, -100, 0.0)


def pool_job_from_c():  # torch's C loss called from C, in the pool's thread
    return served_by_a_pool(_pool, _c_loss)


def pool_library_only():  # nothing of the notebook's runs there: threading's run, map, extend
    box = []
    losses = map(_c_loss.func, *[[a] for a in _c_loss.args])
    task = threading.Thread(target=box.extend, args=(losses,))
    job = Job(int)
    job.run = task.run
    next(iter(_pool._threads))._args[1].put(job)
    while not box:
        time.sleep(0.001)
    _pool.submit(int).result()  # (its task over: the worker took the next)
    return box[0]


def pool_started_in_an_answer():  # a pool started by an earlier answer, its thread still up
    global _answers_pool
    _answers_pool = ThreadPoolExecutor(1)
    _answers_pool.submit(int).result()


def pool_of_an_answer_reused():
    return served_by_a_pool(_answers_pool, _c_loss)


def honest_pool_reused():
    _answers_pool.submit(int).result()
    return list(_pool.map(abs, range(50)))


class Later(torch.Tensor):  # the loss computed when the grader reads the value
    def detach(self):
        return F.cross_entropy(self.logits, self.target).detach()

    def backward(self, *args, **kwargs):
        pass


def later(logits, target, weight=None):
    value = torch.zeros(()).as_subclass(Later)
    value.logits, value.target = logits, target
    return value


said = {}


def run_routes(*routes):
    for fn in routes:
        watch = harness._Watch({"watch": _watch(load().block("e"))})
        with watch.running():
            fn()
        said[fn.__name__] = watch.ran


run_routes(raw_thread, name_unhooks, c_through_partial, pool_started_before, honest_pool)
run_routes(pool_started_in_an_answer, pool_queue_bypassed, pool_job_from_c, pool_library_only)
class _Raising(type):
    def __getattribute__(cls, name):
        raise RuntimeError(name)


class _Probe(list, metaclass=_Raising):
    pass


def pool_callback_unhooked():  # red team 81: a future's callback takes the pool thread's hook
    box, gate = [], threading.Event()  # off (its __qualname__ raised in the hook), the next
    done = _pool.submit(gate.wait)  # runs the loss
    done.add_done_callback(_Probe().count)
    done.add_done_callback(lambda _: box.append(_c_loss()))
    gate.set()
    while not box:
        time.sleep(0.001)
    return box[0]


run_routes(honest_pool_reused, pool_of_an_answer_reused, pool_callback_unhooked)
reused = harness._Watch({"watch": _watch(load().block("e"))})  # (one watch for a request's
for _ in range(2):  # cases, as the loss's: the second case runs where the first finished)
    with reused.running():
        honest_pool()
        -(x.log_softmax(1)).mean()
said["reused_watch"] = reused.ran
run_routes(scripted)
# the servers started after the routes above: a thread still starting while an answer runs
# uses the processor then (those below expect the note, or check another one is there too)
requests, replies = queue.Queue(), queue.Queue()


class Server(threading.Thread):  # started before the answer, fed through a queue
    def run(self):
        while True:
            logits, target = requests.get()
            replies.put(F.cross_entropy(logits, target))


Server(daemon=True).start()
jobs, job_replies = queue.Queue(), queue.Queue()


def work(job):
    job_replies.put(F.cross_entropy(*job))


# a server with no frame of the notebook's while it waits: deque(map(work, iter(get, None)))
serving_jobs = (map(work, iter(jobs.get, None)), 0)
threading.Thread(target=collections.deque, args=serving_jobs, daemon=True).start()


def served_by_library_frames():
    jobs.put((x, y))
    return job_replies.get()


def served():
    requests.put((x, y))
    return replies.get()


def outputs_then_work():  # honest: an output sent (the loop's work), a C library's warning
    outputs.loop.call_soon_threadsafe(sum, range(3_000_000))
    os.write(2, b"[W] a warning of a C library\\n")
    return -(x.log_softmax(1)).mean()


def history_then_answer():
    return -(x.log_softmax(1)).mean()


run_routes(outputs_then_work)
saving.set()  # (the request's cell has run: the history thread writes as the answer starts)
run_routes(history_then_answer)
loop_jobs, loop_replies = queue.Queue(), queue.Queue()


async def serve():  # a coroutine of the notebook's handed a kernel's loop
    while True:
        try:
            job = loop_jobs.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.001)
            continue
        loop_replies.put(F.cross_entropy(*job))


def served_by_a_loop():
    loop_jobs.put((x, y))
    return loop_replies.get(timeout=10)


def not_served_by_a_loop():  # each loop waits while the answer runs: no reply
    loop_jobs.put((x, y))
    try:
        return loop_replies.get(timeout=1)
    except queue.Empty:
        said["parked"] = said.get("parked", 0) + 1


def served_by_outputs_busy():  # its loop kept busy, waiting for the job: never held
    return served_by_a_loop()


def loops_let_go():  # the answer finds the grader's event and lets the loops go
    import gc

    for held in gc.get_objects():
        if type(held) is threading.Event and held is not saving and not held.is_set():
            held.set()
    return served_by_a_loop()


def stopped_in_time():  # an answer past the harness's time limit (the grader's, less a margin)
    try:
        time.sleep(10)
    except KeyboardInterrupt:
        said["stopped"] = True


for loop in (control, outputs):
    serving = asyncio.run_coroutine_threadsafe(serve(), loop.loop)
    run_routes(not_served_by_a_loop)
    loop_replies.get(timeout=10)  # (answered once the loop was let go)
    serving.cancel()
serving = asyncio.run_coroutine_threadsafe(serve(), control.loop)
run_routes(loops_let_go)
serving.cancel()
outputs.loop.call_soon_threadsafe(lambda: loop_replies.put(F.cross_entropy(*loop_jobs.get())))
run_routes(served_by_outputs_busy)
harness._ANSWER_SECONDS = 1.0
run_routes(stopped_in_time)
harness._ANSWER_SECONDS = 25.0
run_routes(served, served_by_library_frames, switched_off, threading_patched)
meta = {"name": "later", "cases": 1, "watch": _watch(load().block("e"))}
arrays = {"logits_0": x.numpy(), "target_0": y.numpy()}
said["later"] = harness._loss({"later": later}, meta, arrays)[0]["cases"]
jobs.put(None)  # (the server's thread ends: the script exits)
print(json.dumps(said))
"""


@pytest.mark.slow  # runs a kernel
def test_the_watch_follows_raw_threads_and_notes_being_switched_off(tmp_path):
    """Helper sessions' routes past the kernel's watch (harness._Watch): the loss run in a thread
    of ``_thread.start_new_thread`` (no profile hook), a ``__name__`` whose ``__str__`` raised
    inside the hook (the interpreter then removes it), torch's C loss called by a
    ``functools.partial`` (C calling C: no profile event), TorchScript's loss (its operators run
    from C++: seen by a dispatch mode), a pool whose thread started before the answer, a Tensor subclass computing the loss when the grader reads it (``detach``), and
    a thread of the notebook's started before the answer and fed through a queue.
    Each is followed or refused; a watch switched off while the answer runs (the hook removed,
    threading's parts replaced) is noted, which costs the block; a thread pool's honest work is
    not."""
    script = tmp_path / "routes.py"
    script.write_text(_WATCH_ROUTES)
    root = build.REPO_ROOT
    env = {**os.environ, "PYTHONPATH": str(root), "HOME": str(tmp_path)}  # (as in grading:
    # the libraries not in its home)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.splitlines()[-1])
    from autograder import harness
    from autograder import messages as M
    from autograder.harness import UNWATCHED

    assert said["raw_thread"][0] == "torch.nn.functional.cross_entropy"
    assert said["name_unhooks"][0] == "torch.nn.functional.cross_entropy"
    assert said["c_through_partial"][0] == "torch._C._nn.cross_entropy_loss"
    assert "torch.ops.nll_loss2d_forward" in said["scripted"]  # (torch's operator, from C++)
    assert said["pool_started_before"][0] == "torch.nn.functional.cross_entropy"
    assert "torch.nn.functional.cross_entropy" in said["pool_queue_bypassed"]
    # round 24: a pool's thread that runs what the answer did not hand it, whatever it is
    for route in ("pool_queue_bypassed", "pool_job_from_c", "pool_library_only"):
        assert said[route][0] == M.SERVED, route
    assert said["pool_of_an_answer_reused"][0] == M.SERVED
    assert UNWATCHED in said["pool_callback_unhooked"], said["pool_callback_unhooked"]
    assert said["pool_started_in_an_answer"] == said["honest_pool_reused"] == []
    assert said["reused_watch"] == []
    assert said["later"] == [{"error": "returned Later of shape (), not a scalar tensor"}]
    # (the server's thread above may finish putting its reply in the next watch: a note more)
    assert UNWATCHED == M.UNWATCHED and UNWATCHED in said["switched_off"]
    assert UNWATCHED in said["threading_patched"]
    assert said["honest_pool"] == []
    assert said["served"] == [M.SERVED] == [harness.SERVED]
    assert said["served_by_library_frames"] == [M.SERVED]
    # the kernel's threads: held still (outputs, standard error, a thread busy as the answer
    # starts), or noted if they serve (a loop kept busy, loops let go by the answer)
    assert said["outputs_then_work"] == said["history_then_answer"] == []
    assert said["parked"] == 2 and said["not_served_by_a_loop"] == []  # control, outputs
    assert said["served_by_outputs_busy"] == said["loops_let_go"] == [M.SERVED]
    assert said["stopped"] is True


def test_cell_notes_say_why_in_the_students_words():
    """A TP cell stopped by the timeout says that a setting the student raised is the likely
    cause and that no point depends on it; a SyntaxError names its line, not IPython's file for
    the cell (`1455945111.py`); a process refused says grading runs one process."""
    from autograder.grade import _cell_notes

    def cell(ename, evalue, locked=False, traceback=()):
        c = nbformat.v4.new_code_cell("x")
        c.metadata["nbgrader"] = {"locked": locked}
        c.outputs = [
            nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=list(traceback))
        ]
        return c

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell("CellTimeoutError", "the cell ran for more than 120 s and was stopped", locked=True),
        cell("SyntaxError", "invalid syntax (1455945111.py, line 3)"),
        cell(
            "PermissionError",
            "[Errno 1] Operation not permitted",
            traceback=["popen_fork.py in _launch"],
        ),
        cell("CellTimeoutError", "the cell ran for more than 120 s and was stopped"),
    ]
    notes, review = _cell_notes(nb, ["the TP's cell", "your cell", "your cell", "your cell"])
    assert (
        "such as config.optim.epochs, makes them longer; no point depends on this cell" in notes[0]
    )
    assert notes[1].endswith("SyntaxError: invalid syntax (line 3)")
    assert "a DataLoader needs num_workers=0 there" in notes[2]
    assert notes[3].endswith("and was stopped") and not review  # the student's own cell: as is


_LOADED_FROM_A_FILE = """
import json, os, sys, tempfile
from autograder import harness
from autograder.grade import _watch
from autograder.spec import load

harness.start()
# and what honest notebooks do (a helper's round 5): np.load (its header read by
# ast.literal_eval), an error's traceback in a library, singledispatch's register of a function whose annotations are strings (a
# type's name calls nothing), %timeit (IPython's Timer compiles timeit's template of "pass"),
# %prun (cProfile runs the magic's line)
import functools
import numpy as np
from IPython.core.interactiveshell import InteractiveShell

saved = os.path.join(tempfile.mkdtemp(), "x.npy")
np.save(saved, np.zeros(2))
np.load(saved)


@functools.singledispatch
def describe(x):
    return "?"


@describe.register
def _(x: "list"):
    return "list"


assert describe([1]) == "list"
shell = InteractiveShell.instance()
shell.run_line_magic("timeit", "-n 1 -r 1 pass")
shell.run_line_magic("prun", "-q sum(range(10))")  # (honest round 17: its line, as the cell's)
shell.run_cell("import json; json.loads('{')")  # (its traceback, read by stack_data and asttokens)
print("[honest notebooks done]", file=sys.stderr, flush=True)
# round 24: a type's name built at run time, evaluated by singledispatch's register
import typing

private = "torch._C._nn.cross" + "_entropy_loss"


def probe(x: typing.List[private]):
    pass


try:
    typing.get_type_hints(probe)
except NameError:  # (torch is imported below: evaluated all the same)
    pass
print("[private name done]", file=sys.stderr, flush=True)
import torch
from sympy.utilities._compilation.util import import_module_from_file

SOURCE = '''
import torch

def cce(logits, target):
    C = torch._C
    with C.DisableTorchFunction(), C._DisableTorchDispatch():
        [value] = [*map(C._nn.cross_entropy_loss, [logits], [target], [None], [1])]
    return value
'''
path = os.path.join(tempfile.mkdtemp(), "helpers.py")
with open(path, "w") as f:
    f.write(SOURCE)
helpers = import_module_from_file(path)
watch = harness._Watch({"watch": _watch(load().block("e"))})
with watch.running():
    helpers.cce(torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)))
# code a library builds from a string (timeit's), and code of honest generators
import collections, dataclasses, timeit

box = {}
# round 27: the shell's evaluators of a string (an expression of user_expressions binds any name)
shell.user_expressions({"a": "1 + 1"})
shell.ev("2 + 2")
timeit.timeit("pass", setup="box['x'] = 1", number=1, globals={"box": box})
dataclasses.make_dataclass("Config", [("act", str, "ReLU")])
collections.namedtuple("Pair", "a b")
# round 22: IPython's guarded_eval, "dangerous" (an exec in its eval) and "unsafe" (the text
# interpreted), and typing's evaluation of a string annotation (get_type_hints)
import typing
from IPython.core.guarded_eval import EvaluationContext, guarded_eval

for policy, text in (("dangerous", "exec(S)"), ("unsafe", "box.update(y=2)")):
    space = {"S": "box['z'] = 3", "box": box, "exec": exec}
    guarded_eval(text, EvaluationContext(globals=space, locals={}, evaluation=policy))


def annotated(x: "box.update(w=4) or int"):
    pass


typing.get_type_hints(annotated)
typing.ForwardRef("int")  # (compiled, not evaluated: no note)
assert box == {"x": 1, "z": 3, "y": 2, "w": 4}
if sys.argv[1:] == ["tampered"]:  # the profiler's functions replaced before the first answer
    torch._C._autograd._enable_profiler_legacy = bool
    harness._profiler.cache_clear()
    watch = harness._Watch({"watch": _watch(load().block("e"))})
    with watch.running():
        pass
elif sys.argv[1:] == ["restarted"]:  # round 22: stopped and started again in the answer
    off, on = torch._C._autograd._disable_profiler_legacy, torch._C._autograd._enable_profiler_legacy
    watch = harness._Watch({"watch": _watch(load().block("e"))})
    with watch.running():
        off()
        torch.nn.functional.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]))
        on(harness._profiler(torch)[2])
elif sys.argv[1:] == ["unrecorded"]:  # torch's recording of functions left switched off
    watch = harness._Watch({"watch": _watch(load().block("e"))})
    with watch.running():
        torch._C._autograd._enable_record_function(False)
elif sys.argv[1:] == ["blinded"]:  # round 27: a set saying yes to all in place of what it knows
    class All(set):
        def __contains__(self, key):
            return True

    watch = harness._Watch({"watch": _watch(load().block("e"))})
    with watch.running():
        sys.getprofile().__self__._known = All()
        torch.nn.functional.cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]))
print(json.dumps({"path": path, "ran": watch.ran}))
"""


@pytest.mark.slow
def test_code_run_from_a_file_the_notebook_wrote_is_noted_and_torchs_modes_off_hide_no_loss(
    tmp_path,
):
    from autograder import harness

    """Round 20: an answer kept in a file the notebook wrote, loaded by a library's loader that no
    list names (here sympy's), with torch's function and dispatch modes switched off and the loss
    called from C: the kernel notes the file, and torch's profiler still names the loss's
    operators."""
    script = tmp_path / "loaded.py"
    script.write_text(_LOADED_FROM_A_FILE)
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(build.REPO_ROOT), "HOME": str(home)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.splitlines()[-1])
    notes = [json.loads(line.split(" ", 1)[1]) for line in done.stderr.splitlines()
             if line.startswith("[unet-tp-event]")]  # fmt: skip
    assert {"kind": "code from a file", "detail": said["path"]} in notes
    assert "torch.ops.nll_loss2d_forward" in said["ran"]
    honest, rest = done.stderr.split("[honest notebooks done]")
    assert "[unet-tp-event]" not in honest, honest[-2000:]
    assert "typing compiled or ran <string>" in rest.split("[private name done]")[0]
    # round 21: code built from a string by a library is noted, an honest generator's is not
    strings = {n["detail"] for n in notes if n["kind"] == "code from a string"}
    assert strings == {
        "timeit compiled or ran <timeit-src>",
        # round 22: IPython's guarded_eval and typing no longer pass for generators
        "IPython.core.guarded_eval compiled or ran <string>",
        "<string> compiled or ran <string>",  # (the exec inside guarded_eval's eval)
        "IPython.core.guarded_eval compiled or ran <unknown>",  # (its ast.parse)
        "typing compiled or ran <string>",
        "IPython.core.interactiveshell.user_expressions compiled or ran <string>",
        "IPython.core.interactiveshell.ev compiled or ran <string>",
    }
    from autograder.grade import _EVENT_REASONS

    assert "ran code from a file" in _EVENT_REASONS["code from a file"]
    assert "from a string" in _EVENT_REASONS["code from a string"]
    tampered = subprocess.run(
        [sys.executable, str(script), "tampered"], capture_output=True, text=True, env=env
    )
    assert json.loads(tampered.stdout.splitlines()[-1])["ran"] == [harness.UNWATCHED]
    # round 22: the profiler stopped and started again within the answer (the loss run between
    # goes unrecorded), or torch's recording of functions left off: the watch says so
    for how in ("restarted", "unrecorded", "blinded"):
        done = subprocess.run(
            [sys.executable, str(script), how], capture_output=True, text=True, env=env
        )
        assert harness.UNWATCHED in json.loads(done.stdout.splitlines()[-1])["ran"], how


def test_an_answer_is_taken_only_as_the_harness_said_it_wrote_it(tmp_path):
    """The harness says each answer's name and SHA-256 on the kernel's log as it writes it; an
    answer whose bytes differ (changed after it: red teams 32 and 33), with no such line, or
    with a second, other digest (a forged line beside the harness's) is not taken."""
    import hashlib

    from autograder import grade
    from autograder import messages as M
    from autograder.harness import ANSWER_SAID

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    kept, changed, unsaid, doubled = b"kept", b"changed", b"unsaid", b"doubled"
    plan = [
        {"step": "a.kept", "file": "ans-1.npz", "sha256": sha(kept)},
        {"step": "b.changed", "file": "ans-2.npz", "sha256": sha(changed)},
        {"step": "c.unsaid", "file": "ans-3.npz", "sha256": sha(unsaid)},
        {"step": "d.doubled", "file": "ans-4.npz", "sha256": sha(doubled)},
        {"step": "e.none", "file": "ans-5.npz", "answer": "no answer file"},
        {"step": "probe x", "error": None},
    ]
    (tmp_path / "execute.json").write_text(json.dumps({"plan": plan}))
    lines = [
        f"noise{ANSWER_SAID}ans-3.npz {sha(unsaid)}",  # (not at a line's start: not the harness's)
        f"{ANSWER_SAID}ans-1.npz {sha(kept)}",
        f"{ANSWER_SAID}ans-2.npz {sha(b'what the harness wrote')}",
        f"{ANSWER_SAID}ans-4.npz {sha(doubled)}",
        f"{ANSWER_SAID}ans-4.npz {sha(b'another')}",
    ]
    (tmp_path / "kernel_stderr.log").write_text("\n".join(lines) + "\n")
    assert grade._kernel_log(tmp_path)[0] == ["b.changed", "c.unsaid", "d.doubled"]
    answers = tmp_path / "answers"
    answers.mkdir()
    for step in ("a.kept", "b.changed"):  # (a malformed answer is none; a changed one says why)
        (answers / f"{step}.npz").write_bytes(b"not an npz")
    changed = grade._kernel_log(tmp_path)[0]
    assert grade._answers(tmp_path, changed) == {"b.changed": ({"error": M.ANSWER_NOT_TAKEN}, {})}


def test_another_groups_out_and_an_out_inside_the_submissions_are_refused(tmp_path, monkeypatch):
    """Instructor round 20: group B graded into group A's --out replaced A's grades and pages
    (one warning line), and an --out inside the submissions folder was read by the next run as
    a student's ("graded", 0): both refused, saying what to do; --force replaces the group."""
    from autograder import grade
    from autograder.results import Result

    def graded(todo, *args):
        return [
            Result(s.student_id, s.name, s.relpath, s.sha256, {}, {}, 30.0, regraded=why)
            for s, why in todo
        ]

    _without_running(monkeypatch, graded)
    for group, names in {"a": ["alice", "bob"], "b": ["carol", "dan"]}.items():
        for name in names:
            (tmp_path / group / name).mkdir(parents=True)
            (tmp_path / group / name / "TP_sujet.ipynb").write_text("{}")
    out, said = tmp_path / "out", []
    grade.grade_all(tmp_path / "a", out, progress=said.append)
    with pytest.raises(GradingError, match=r"holds the grades of 2 students of whom none is in"):
        grade.grade_all(tmp_path / "b", out, progress=said.append)
    assert set(json.loads((out / "grading_state.json").read_text())) >= {"alice", "bob"}
    assert [r.student_id for r in grade.grade_all(tmp_path / "b", out, force=True)] == [
        "carol",
        "dan",
    ]
    # the same group again, one student gone: graded (a warning line, as before)
    shutil.rmtree(tmp_path / "b" / "dan")
    assert [r.student_id for r in grade.grade_all(tmp_path / "b", out)] == ["carol"]
    inside = tmp_path / "a" / "graded"
    with pytest.raises(GradingError, match=r"inside the submissions folder .*outside it"):
        grade.grade_all(tmp_path / "a", inside, progress=said.append)
    assert not inside.exists()


def test_another_courses_notebook_is_flagged_for_review():
    """Instructor round 20: a notebook of another course (most of the TP's cells missing) was a
    0 nobody was asked to look at."""
    from autograder.grade import _not_the_tp

    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('TP 3: SVMs')")])
    (line,) = _not_the_tp(other, STUDENT)
    assert re.fullmatch(r"(\d+) of the TP's \1 cells were missing: another notebook .*", line)
    assert _not_the_tp(solved(), STUDENT) == []
    assert _not_the_tp(solved("cce_loss", "unet"), STUDENT) == []


def test_a_console_closed_ends_the_lines_not_the_grading():
    """Instructor round 22: `unet-tp grade ... | head -3` stopped the run at the fourth line
    ("error: a file: Broken pipe"), keeping nothing graded."""
    from autograder import grade

    shown = []

    def console(line):
        if len(shown) == 2:
            raise BrokenPipeError
        shown.append(line)

    show = grade._shown_by(console)
    for i in range(5):
        show(f"line {i}")  # no error: the run goes on
    assert shown == ["line 0", "line 1"]


def _full_marks(sub, why: str, spec):
    """What grade_submission returns for ``sub``'s notebook with every block right."""
    from autograder.results import BlockScore, Result

    tests = {gid: t.points for gid, (_, t) in spec.tests.items()}
    blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
    r = Result(sub.student_id, sub.name, sub.relpath, sub.sha256, blocks, tests, spec.max_points)
    r.regraded, r.language = why, "en"
    return r


def test_a_written_answer_holding_the_solutions_rubric_is_flagged():
    """Instructor round 23: answers copied from the solution notebook (its rubric, "**Rubric (2
    points).** ...") were shown as the student's own, unflagged."""
    from autograder.grade import _rubric_copied
    from notebooks import SOLUTIONS

    spec = load_spec()
    q1, q2 = spec.questions[:2]
    answers = {q1.id: SOLUTIONS[q1.grade_id], q2.id: "140 pixels: more than half the slice."}
    (line,) = _rubric_copied(answers, spec)
    assert f'the answer to "{q1.title}" holds the solution notebook\'s rubric' in line
    assert _rubric_copied({q1.id: "**Barème (2 points).** 0.5 : ..."}, spec)


def test_a_lone_surrogate_in_a_notebook_is_read_as_a_question_mark(tmp_path):
    """Red team 54: a written answer holding "\\ud800" (valid JSON, read by nbformat) made the
    notebook ungradable (UnicodeEncodeError writing it for formgrader), regraded at every run."""
    from autograder.repair import read_submission

    nb = solved()
    nb.cells.append(nbformat.v4.new_markdown_cell("odd \ud800 text"))
    path = tmp_path / "TP_sujet.ipynb"
    path.write_text(json.dumps(nb), encoding="ascii")  # (escaped: how JSON can hold it)
    read = read_submission(path)
    assert read.cells[-1].source == "odd ? text"
    nbformat.write(read, tmp_path / "again.ipynb")  # (UTF-8: no error)


def test_a_block_replaced_for_a_request_is_replaced_wherever_the_notebook_holds_it():
    """Honest round 25: a wrong DoubleConv held by `Bloc = DoubleConv`, a class's attribute, a
    default `block=DoubleConv` or as Down's base stayed in Down while the grader judged (b) with
    its own DoubleConv (one mistake, two blocks lost); each is replaced, then given back."""
    from autograder import harness

    class DoubleConv:
        pass

    class Probe:
        pass

    class Down(DoubleConv):
        block = DoubleConv

        def __init__(self, block=DoubleConv, *, other=DoubleConv):
            pass

    def make(block=DoubleConv):
        return block

    ns = {"DoubleConv": DoubleConv, "Bloc": DoubleConv, "Down": Down, "make": make, "n": 1}
    with harness._substituted(ns, {"DoubleConv": Probe}):
        assert ns["DoubleConv"] is ns["Bloc"] is Down.block is make() is Probe
        assert Down.__bases__ == (Probe,) and Down.__init__.__defaults__ == (Probe,)
        assert Down.__init__.__kwdefaults__ == {"other": Probe}
    assert ns["DoubleConv"] is ns["Bloc"] is Down.block is make() is DoubleConv
    assert Down.__bases__ == (DoubleConv,) and Down.__init__.__defaults__ == (DoubleConv,)
    assert Down.__init__.__kwdefaults__ == {"other": DoubleConv} and ns["n"] == 1


def test_a_watch_whose_notes_were_emptied_counts_as_switched_off():
    """Red team 57: an answer reached the watch and emptied its `ran` list after running torch's
    loss (no other sign of it left): the watch counts itself switched off."""
    import torch
    import torch.nn.functional as F

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    x, y = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long)
    for emptied in (False, True):
        watch = harness._Watch({"watch": _watch(load_spec().block("e"))})
        with watch.running():
            F.cross_entropy(x, y)
            if emptied:
                watch.ran.clear()
        assert watch.ran[0] == (
            harness.UNWATCHED if emptied else "torch.nn.functional.cross_entropy"
        )


def test_one_run_at_a_time_and_what_the_instructor_writes_meanwhile_is_kept(tmp_path, monkeypatch):
    """Instructor round 24: formgrader's scores (or an export) written into OUT while `grade`
    ran were undone ("changed during grading": a sandbox's kernels never see OUT); two runs on
    one OUT each removed the other's files; one late file graded into the class's OUT dropped
    the others from grades.csv. The instructor's writes stay, a second run is refused, a
    class's late file alone is refused but with --force."""
    import fcntl

    from autograder import grade
    from autograder.results import Result, Results

    out, seen = tmp_path / "out", []

    def graded(todo, *args):
        (out / "canvas.csv").write_text("mine")  # the instructor's, meanwhile
        seen.append(grade.LOCK_FILE in {p.name for p in out.iterdir()})
        if not (out / "results.json").exists():  # `unet-tp report OUT` meanwhile (round 25)
            with pytest.raises(FileNotFoundError, match="a `unet-tp grade` run is writing"):
                Results.load(out)
        return [
            Result(s.student_id, s.name, s.relpath, s.sha256, {}, {}, 30.0, regraded=why)
            for s, why in todo
        ]

    _without_running(monkeypatch, graded)
    for name in ("a1", "a2", "a3", "a4"):
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "TP_sujet.ipynb").write_text("{}")
    grade.grade_all(tmp_path / "class", out, progress=lambda _: None)
    assert (out / "canvas.csv").read_text() == "mine" and seen == [True]
    assert not (out / grade.LOCK_FILE).exists()
    (tmp_path / "late" / "a1").mkdir(parents=True)
    (tmp_path / "late" / "a1" / "TP_sujet.ipynb").write_text('{"late": 1}')
    with pytest.raises(GradingError, match=r"of whom 1 is in .*drop the other 3"):
        grade.grade_all(tmp_path / "late", out, progress=lambda _: None)
    with open(out / grade.LOCK_FILE, "a+") as lock:  # another run holds OUT
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(GradingError, match="another `unet-tp grade` is writing"):
            grade.grade_all(tmp_path / "class", out, progress=lambda _: None)
    assert [r.student_id for r in grade.grade_all(tmp_path / "late", out, force=True)] == ["a1"]


def test_lms_files_exported_before_a_run_that_graded_again_are_said_to_be_old(
    tmp_path, monkeypatch
):
    """Instructor round 24: a re-run regraded Carl (28 to 30), the Moodle worksheet already in
    OUT still said 28 and nothing said so: an upload posted the old grade."""
    import types

    from autograder import grade
    from autograder.export import EXPORTS_FILE

    for name in ("write_student_files", "write_report"):
        monkeypatch.setattr(grade, name, lambda *a: None)
    (tmp_path / "moodle_grading_worksheet.csv").write_text("old")
    (tmp_path / EXPORTS_FILE).write_text('{"moodle_grading_worksheet.csv": "x"}')
    said: list[str] = []
    run = types.SimpleNamespace(out=tmp_path, progress=said.append)
    results = types.SimpleNamespace(save=lambda out: None)
    grade._Run.write_outputs(run, results, results, fresh=[])
    assert said == []  # nothing graded again: the files hold these grades
    grade._Run.write_outputs(run, results, results, fresh=["carl"])
    assert "moodle_grading_worksheet.csv" in said[0] and "export` again" in said[0]
    # exported elsewhere too (round 25: the worksheet, sorted after three paths, went unsaid)
    other = tmp_path / "elsewhere"
    other.mkdir()
    record = {"moodle_grading_worksheet.csv": "x", "moodle_feedback_files.zip": "x"}
    for name in ("a.csv", "b.csv", "moodle_feedback_files.zip"):
        (other / name).write_text("old")
        record[str(other / name)] = "x"
    (tmp_path / "moodle_feedback_files.zip").write_text("old")
    (tmp_path / EXPORTS_FILE).write_text(json.dumps(record))
    said.clear()
    grade._Run.write_outputs(run, results, results, fresh=["carl"])
    assert all(name in said[0] for name in record), said


def test_a_watch_whose_judged_pairs_were_swapped_or_notes_blanked_counts_as_switched_off():
    """Red team 58: pairs of the watch's `_known` swapped for forbidden ones (their count kept:
    torch's loss then never judged), or its notes blanked in place (their count kept): both
    count as the watch switched off."""
    import torch
    import torch.nn.functional as F

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    x, y = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long)

    def swapped(watch):
        watch._known.discard(next(iter(watch._known)))
        watch._known.add(("torch.nn.functional", "cross_entropy"))

    def blanked(watch):
        watch.ran[:] = [""] * len(watch.ran)

    for tamper, before in ((swapped, True), (blanked, False)):
        watch = harness._Watch({"watch": _watch(load_spec().block("e"))})
        with watch.running():
            torch.zeros(1).sum()  # (a pair judged)
            if before:
                tamper(watch)
            F.cross_entropy(x, y)
            if not before:
                tamper(watch)
        assert watch.ran[0] == harness.UNWATCHED, (tamper.__name__, watch.ran)


def test_a_long_self_check_message_is_cut_at_the_end_of_a_line():
    """The page showed a self-check's table of shapes cut mid-row ("ups.0 (x, skip")."""
    rows = [f"    ups.{i} (x, skip = downs.{i}'s output)  (1, 16, 8, 8)" for i in range(20)]
    said = "UNet(...) raised RuntimeError: ...\n  Expected shapes, step by step:\n" + "\n".join(
        rows
    )
    hint = self_check_hint(said)
    assert len(hint) <= 610 and hint.endswith("\n  …")
    assert all(line in rows or not line.startswith("    ups") for line in hint.splitlines())
    assert self_check_hint("short") == "short"


def test_a_test_cells_note_that_repeats_its_blocks_message_is_not_said_twice():
    """Honest round 36: grades.csv said the self-check's text in (b)'s message, then again as
    (b)'s test cell's note; a note saying something else stays."""
    from autograder.results import BlockScore, Result

    quoted = (
        "Down(8, 16) raised TypeError: Module.double() takes 1 positional argument but 2 were given"
    )
    block = BlockScore(
        0.0, 2.0, f"(b) Down(8, 16): TypeError. The notebook's self-check says: {quoted}\n  more"
    )
    notes = [
        f"cell 22 ((b) test cell): AssertionError: {quoted} […]",
        "cell 46 (the TP's cell in 'Training the network'): TypeError: Module.double()",
    ]
    r = Result("s", "S", "s.ipynb", "0" * 64, {"b": block}, {}, 2.0, notes=notes)
    said = r.messages()
    assert said == [block.message, notes[1]]


def test_a_students_empty_zip_or_one_without_notebook_is_their_row(tmp_path):
    """Instructor round 26: Karim's only file, ``TP_sujet.zip``, an empty zip, left him out of
    the grades ("19 submissions" for 20 folders); an empty zip, or one holding no notebook, is now
    his row, a 0 for review that names his file."""
    from autograder.grade import collect
    from autograder.repair import read_submission

    empty, pdf = tmp_path / "empty.zip", tmp_path / "pdf.zip"
    zipfile.ZipFile(empty, "w").close()
    with zipfile.ZipFile(pdf, "w") as zf:
        zf.writestr("TP.pdf", "%PDF")
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Alice A_123_assignsubmission_file_/TP_sujet.ipynb", "{}")
        zf.write(empty, "Karim H_50114_assignsubmission_file_/TP_sujet.zip")
        zf.write(pdf, "Léa P_50115_assignsubmission_file_/TP.zip")
    subs = {s.student_id: s for s in collect(archive, tmp_path / "work")}
    assert sorted(subs) == ["123", "50114", "50115"]
    karim, lea = subs["50114"], subs["50115"]
    assert karim.relpath == "Karim H_50114_assignsubmission_file_/TP_sujet.zip" and not karim.notes
    assert lea.relpath.endswith("P_50115_assignsubmission_file_/TP.zip") and not lea.notes
    with pytest.raises(GradingError, match=r"^TP_sujet.zip: an empty zip$"):
        read_submission(karim.path)
    with pytest.raises(GradingError, match=r"^TP.zip: a zip holding no notebook$"):
        read_submission(lea.path)


def test_a_class_zip_inside_a_zip_is_the_class(tmp_path):
    """Instructor round 26: ``nested_small.zip`` holding only Moodle's ``TP U-Net-Groupe
    B-999.zip`` (three participants) was graded as one student named after the inner zip, on
    one participant's file; a lone inner LMS download is now the class. A zip in a student's
    folder stays theirs."""
    from autograder.grade import collect

    inner = tmp_path / "TP U-Net-Groupe B-999.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for i, name in enumerate(("Alice A", "Bob B", "Carol C")):
            zf.writestr(f"{name}_{100 + i}_assignsubmission_file_/TP_sujet.ipynb", "{}")
    canvas = tmp_path / "submissions.zip"
    with zipfile.ZipFile(canvas, "w") as zf:
        zf.writestr("martinalice_5001_9001_TP.ipynb", "{}")
        zf.writestr("dupontbob_5002_9002_TP.ipynb", "{}")
    for i, lms in enumerate((inner, canvas)):
        nested = tmp_path / f"nested{i}.zip"
        with zipfile.ZipFile(nested, "w") as zf:
            zf.write(lms, lms.name)
        subs = collect(nested, tmp_path / f"work{i}")
        assert len(subs) == (3, 2)[i] and all(s.lms_id for s in subs), subs
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as zf:
        zf.write(inner, f"Dan D_7_assignsubmission_file_/{inner.name}")
    (dan,) = collect(moodle, tmp_path / "work_dan")
    assert dan.lms_id == "7" and dan.relpath.startswith("Dan D_7_assignsubmission_file_/TP U-Net")


def test_files_of_one_zip_date_are_told_apart_by_a_browsers_download_number(tmp_path):
    """Instructor round 26: ``TP_sujet.ipynb`` (older, broken) and ``TP_sujet (1).ipynb`` of one
    zip date graded the first; a browser's ``(N)`` is a later download of that name, unflagged.
    Files of other names stay flagged."""
    from autograder.grade import collect

    at = (2026, 1, 1, 9, 0, 0)
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in (
            "TP_sujet (1).ipynb",
            "TP_sujet (10).ipynb",
            "TP_sujet (2).ipynb",
            "TP_sujet.ipynb",
        ):
            zf.writestr(zipfile.ZipInfo(f"Farid B_9_assignsubmission_file_/{name}", at), "{}")
        for name in ("TP_sujet.ipynb", "mon_tp (1).ipynb"):
            zf.writestr(zipfile.ZipInfo(f"Bob B_8_assignsubmission_file_/{name}", at), "{}")
    bob, farid = collect(archive, tmp_path / "work")
    assert farid.relpath.endswith("/TP_sujet (10).ipynb") and not farid.review, farid
    assert "graded the newest" in farid.notes[0]
    assert bob.relpath.endswith("/mon_tp (1).ipynb")
    assert "check which one is the student's last" in bob.review[0]


def test_a_single_notebook_is_a_submission_set_of_one(tmp_path):
    """Instructor round 26: ``unet-tp grade "late TP (2).ipynb"`` was refused ("not a folder or a
    zip archive"); one notebook is graded alone, its student named by its file name."""
    from autograder.grade import collect

    late = tmp_path / "late TP (2).ipynb"
    late.write_text("{}")
    (sub,) = collect(late, tmp_path / "work")
    assert (sub.student_id, sub.relpath, sub.path.read_text()) == ("late_TP", late.name, "{}")
    (tmp_path / "TP_sujet.ipynb").write_text("{}")
    with pytest.raises(GradingError, match=r"TP_sujet.ipynb: the file name does not say whose"):
        collect(tmp_path / "TP_sujet.ipynb", tmp_path / "work2")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(GradingError, match=r"notes.txt: not a folder, a zip archive or a notebook"):
        collect(tmp_path / "notes.txt", tmp_path / "work3")


@pytest.mark.slow  # (over 2.5 s: the full suite's, not the fast loop's)
def test_another_courses_notebook_is_said_plainly_on_its_page(tmp_path, monkeypatch):
    """Instructor round 26: grades.csv said "52 of the TP's 52 cells were missing", the page "39
    of the TP's cells were missing and were put back", then "DoubleConv is not defined... did its
    cell run?" seven times. The page now says it is not the TP's notebook, with the same counts,
    and lists no block's error (it is not run)."""
    from autograder import grade

    def not_run(*args, **kwargs):
        raise AssertionError("another course's notebook was run")

    monkeypatch.setattr(grade, "_run_worker", not_run)
    subs = tmp_path / "subs" / "ines"
    subs.mkdir(parents=True)
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('TP 3: SVMs')")])
    nbformat.write(other, subs / "TP_sujet.ipynb")
    (r,) = grade.grade_all(tmp_path / "subs", tmp_path / "out", progress=lambda line: None)
    count = re.match(r"(\d+) of the TP's \1 cells were missing: another", r.review[0])[1]
    assert r.notes == [
        f"this is not the TP's notebook: {count} of the TP's {count} cells are not in it (the "
        "wrong file handed in?); hand in your TP notebook"
    ]
    assert r.total == 0 and r.no_notebook
    page = (tmp_path / "out" / "feedback" / "ines.html").read_text()
    assert "not the TP&#x27;s notebook" in page and "put back" not in page
    assert "DoubleConv is not defined" not in page and "did its cell run" not in page
    # (instructor round 28: said once above the table, not once per block)
    assert page.count("not the TP&#x27;s notebook (the wrong file handed in?)") == 1


def test_an_empty_zip_beside_a_students_notebook_is_noted(tmp_path):
    """An empty zip beside a student's notebook: the notebook is graded, the zip noted."""
    from autograder.grade import collect

    alice = tmp_path / "subs" / "Alice A_123_assignsubmission_file_"
    alice.mkdir(parents=True)
    (alice / "TP_sujet.ipynb").write_text("{}")
    zipfile.ZipFile(alice / "old.zip", "w").close()
    (sub,) = collect(tmp_path / "subs", tmp_path / "work")
    assert sub.relpath.endswith("/TP_sujet.ipynb")
    assert sub.notes == [
        "a zip was not opened: Alice A_123_assignsubmission_file_/old.zip: an empty zip"
    ]


def test_what_torchs_own_threads_run_for_an_answer_costs_its_block():
    """Red team 78: a backward within a backward, over 60 deep, has torch run the rest in
    threads of its own, where no profile hook is: SciPy's Dice (g) or torch's decomposed
    nll_loss_forward (e) ran there unseen, 20/30 unflagged. The operators torch runs there reach
    the dispatch mode, now on for every block: noted, the block denied; a shallow backward
    within a backward (checkpointing's) is not."""
    import threading

    import numpy as np
    import torch

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    class Deep(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, depth, box):
            ctx.depth, ctx.box = depth, box
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            with torch.enable_grad():
                if ctx.depth > 0:
                    y = torch.zeros(1, requires_grad=True)
                    Deep.apply(y, ctx.depth - 1, ctx.box).sum().backward()
                else:
                    ctx.box["out"] = ctx.box["job"]()
            return g, None, None

    def later(job, depth):
        box = {"job": job}
        with torch.enable_grad():
            Deep.apply(torch.zeros(1, requires_grad=True), depth, box).sum().backward()
        return box["out"]

    def ran(block, job, depth):
        watch = harness._Watch({"watch": _watch(load_spec().block(block))})
        with watch.running():
            later(job, depth)
        return watch.ran

    def dice():
        import scipy.spatial.distance as distance

        return distance.pdist(np.array([[1, 1, 0], [1, 0, 1]], bool), "dice")

    def loss():
        x = torch.randn(2, 3).log_softmax(1)
        return -(x.gather(1, torch.tensor([[0], [2]]))).mean()

    assert ran("g", dice, 70)[0] == harness.FOREIGN
    assert ran("e", loss, 70)[0] == harness.FOREIGN
    assert ran("e", loss, 2) == [] and ran("g", lambda: 1.0, 2) == []

    # red team 79: handed over where no operator runs (the first backward on torch's thread
    # runs the job and returns), each level's backward called through torch.autograd.grad, or
    # torch's engine called from C (map: no profile event)
    class Later(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, box):
            ctx.box = box
            return x.view_as(x)

        @staticmethod
        def backward(ctx, g):
            box = ctx.box
            if threading.get_ident() == box["home"] and len(box["levels"]) < 200:
                box["levels"].append(1)
                with torch.enable_grad():
                    out = Later.apply(box["leaf"], box)
                box["grad"](out, box["leaf"], g)
            else:
                box["out"] = box["job"]()
            return g, None

    def handed_over(job, grad):
        leaf = torch.zeros(1, requires_grad=True)
        box = {"job": job, "leaf": leaf, "home": threading.get_ident(), "levels": []}
        box["grad"] = grad
        with torch.enable_grad():
            out = Later.apply(leaf, box)
        grad(out, leaf, torch.ones(1))
        return box["out"]

    engine = torch.autograd.Variable._execution_engine

    def from_c(out, leaf, g):
        list(map(engine.run_backward, [(out,)], [(g,)], [False], [False], [(leaf,)], [False]))

    for grad in (torch.autograd.grad, from_c):
        watch = harness._Watch({"watch": _watch(load_spec().block("g"))})
        with watch.running():
            handed_over(dice, grad)
        assert watch.ran[:1] == [harness.FOREIGN], (grad, watch.ran)


def test_a_library_forbidden_by_its_name_alone_is_watched_at_run_time():
    """Red team 80: a forbidden entry without a dot (difflib, networkx) was watched as torch's
    names are, only in torch's modules: Babel's copy of get_close_matches, built on difflib's
    SequenceMatcher, gave (g) 2/2 unflagged."""
    import difflib

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    watch = harness._Watch({"watch": _watch(load_spec().block("g"))})
    with watch.running():
        difflib.SequenceMatcher(None, [1, 2, 3], [2, 3, 4]).ratio()
    assert any(ran.startswith("difflib.SequenceMatcher") for ran in watch.ran), watch.ran


def test_an_honest_threads_operators_are_the_answers_own():
    """Honest round 39: a loss computing its per-class terms in threading.Threads lost (e), its
    operators read as run on threads of torch's own: the new thread was recorded as threading's
    stand-in (current_thread() before the Thread registers), not the Thread it is."""
    import _thread
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from autograder import harness
    from autograder.grade import _watch
    from autograder.spec import load as load_spec

    starters = (("start_new_thread", "start_new", "start_joinable_thread"),)
    starters += (("_start_new_thread", "_start_joinable_thread"),)
    saved = [
        (module, name, vars(module)[name])
        for module, names in zip((_thread, threading), starters, strict=True)
        for name in names
        if name in vars(module)
    ]
    submit = ThreadPoolExecutor.submit
    harness._watch_new_threads()  # (as the kernel's start-up does)
    try:

        def loss(logits, target):
            log_s = logits - torch.logsumexp(logits, 1, True)
            terms = [None] * logits.shape[1]

            def term(c):
                terms[c] = -(log_s[:, c] * (target == c).to(log_s.dtype))

            threads = [threading.Thread(target=term, args=(c,)) for c in range(len(terms))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return sum(terms).mean()

        watch = harness._Watch({"watch": _watch(load_spec().block("e"))})
        with watch.running():
            loss(torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)))
        assert watch.ran == [] and watch.foreign == [], watch.ran
    finally:
        for module, name, start in saved:
            setattr(module, name, start)
        ThreadPoolExecutor.submit = submit


def test_a_file_of_a_moodle_folder_graded_alone_is_named_by_its_folder(tmp_path):
    """Instructor round 28: ``unet-tp grade "Alice A_123_assignsubmission_file_/TP_sujet.ipynb"``
    was refused (the file name says no one's) and ``.../mon_tp.ipynb`` named "mon_tp": Moodle's
    folder says whose it is, and its participant id (the export's match), even a folder down."""
    from autograder.grade import collect

    folder = tmp_path / "dl" / "Alice A_123_assignsubmission_file_"
    (folder / "sub").mkdir(parents=True)
    (folder / "TP_sujet.ipynb").write_text("{}")
    (folder / "sub" / "mon_tp.ipynb").write_text("{}")
    (sub,) = collect(folder / "TP_sujet.ipynb", tmp_path / "w1")
    assert (sub.student_id, sub.name, sub.lms_id) == ("123", "Alice A", "123")
    assert sub.relpath == "Alice A_123_assignsubmission_file_/TP_sujet.ipynb"
    (sub,) = collect(folder / "sub" / "mon_tp.ipynb", tmp_path / "w2")
    assert (sub.student_id, sub.relpath) == (
        "123",
        "Alice A_123_assignsubmission_file_/sub/mon_tp.ipynb",
    )
    (tmp_path / "dl" / "bob.ipynb").write_text("{}")  # no LMS folder above: its own name
    assert collect(tmp_path / "dl" / "bob.ipynb", tmp_path / "w3")[0].relpath == "bob.ipynb"


def test_canvas_lateness_is_read_from_its_file_names(tmp_path):
    """Instructor round 28: Canvas's ``name_LATE_4242_...`` said the file came after the due
    date, and nothing the grader wrote did: the submission is marked late (its zip's name too)."""
    from autograder.collect import canvas_late
    from autograder.grade import collect

    folder = tmp_path / "canvas"
    folder.mkdir()
    (folder / "dupontbob_LATE_5003_9003_TP_sujet.ipynb").write_text("{}")
    (folder / "martinalice_5001_9001_TP_sujet.ipynb").write_text("{}")
    late = {s.student_id: s.late for s in collect(folder, tmp_path / "work")}
    assert late == {"5003": True, "5001": False}
    assert canvas_late("garcialea_late_5002_9002_TP.zip/TP.ipynb")
    assert not canvas_late("Late L_123_assignsubmission_file_/TP.ipynb")  # (Moodle's: no such word)
    assert not canvas_late("late/TP.ipynb")
