"""``unet-tp grade SUBMISSIONS --out OUT``: a folder of notebooks (or an LMS zip) to grades.

For each submission:

1. find whose it is from its path (:func:`identify`);
2. read it (a file that is not a notebook gets 0 and says why), put its graded cells back in the
   TP's order (each with the student's cells that followed it);
3. in a separate worker process, in a fresh temporary course folder, run nbgrader's
   ``autograde`` (test and read-only cells restored, deleted ones added back, per-cell timeout,
   the kernel restarted past a cell that killed it), the kernel armed by
   :func:`autograder.hidden_tests.arm` with a secret key of this submission;
4. count a test cell's points only if it ran without error and printed its token (see
   ``hidden_tests``); write the feedback HTML.

Then ``OUT/grades.csv``, ``OUT/feedback/<student>.html``, the gradebook (sqlite
``OUT/gradebook.db`` or any SQLAlchemy URL) and a summary table. A re-run grades only new or
changed submissions (``OUT/grading_state.json``) unless ``force``.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from autograder import build as course
from unet_tp.fileio import atomic_write

STATE_FILE = "grading_state.json"
BLOCKS = {
    "a_double_conv": ("test_double_conv",),
    "b_down": ("test_down",),
    "c_up": ("test_center_crop", "test_up"),
    "d_unet": ("test_unet",),
    "e_loss": ("test_loss",),
    "f_train_step": ("test_train_step",),
    "g_predict_dice": ("test_predict_dice",),
}
_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|ment)_(?:file|onlinetext)_?", re.I
)
_DECORATIONS = re.compile(
    r"copy of|copie de|\(\d+\)|\bcopy\b|\bcopie\b|tp[_ -]?sujet|solution|\.ipynb$", re.I
)

# code a TP answer never needs: grading internals, swallowing errors, patching libraries.
# A cell that uses any is flagged for the instructor to read (it may still be innocent).
_SUSPICIOUS = [
    (re.compile(r"hidden_tests|autograder|import_solutions|\bsolutions\b"), "grading internals"),
    (re.compile(r"NBGRADER|UNET_TP_GRADING|grading_state|gradebook"), "grading internals"),
    (re.compile(r"set_custom_exc|sys\.excepthook|__closure__|cell_contents|_getframe"), "hooks"),
    (re.compile(r"gc\.get_objects|sys\.modules|\bbuiltins\b|__builtins__"), "interpreter"),
    (
        re.compile(r"^\s*(?:torch|np|numpy|math|F|nn|checks|unittest)\.[\w.]+\s*=[^=]", re.M),
        "patches a library",
    ),
]

STARTUP = """\
# Written by `unet-tp grade`: arms the hidden tests before any notebook cell runs.
import os as _os
import resource as _resource

_limit = _os.environ.pop("UNET_TP_MEMORY_LIMIT", "")
if _limit:
    _resource.setrlimit(_resource.RLIMIT_AS, (int(_limit), int(_limit)))
from unet_tp.instructor import hidden_tests as _hidden_tests

_hidden_tests().arm()
del _os, _resource, _limit, _hidden_tests


def _no_installs():
    # `!pip install ...` from a student's cell would change the grader's own environment
    ip = get_ipython()  # noqa: F821 - defined in the kernel
    tools = {"pip", "pip3", "conda", "mamba", "micromamba", "uv", "apt", "apt-get"}
    verbs = {"install", "uninstall", "remove", "add"}

    def installs(cmd):
        words = cmd.replace(";", " ").replace("&", " ").replace("|", " ").split()
        return any(a.rsplit("/", 1)[-1] in tools and b in verbs for a, b in zip(words, words[1:]))

    def refuse(what):
        print(f"[grading] not run: {what.strip()} (installing is switched off while grading)")

    def guard(run):
        return lambda cmd, *a, **k: refuse("!" + cmd) if installs(cmd) else run(cmd, *a, **k)

    ip.system = guard(ip.system)
    ip.getoutput = guard(ip.getoutput)
    for magic in ("pip", "conda", "mamba", "uv"):
        ip.register_magic_function(lambda line, m=magic: refuse(f"%{m} {line}"), "line", magic)


_no_installs()
del _no_installs
"""


class GradingError(RuntimeError):
    """The submissions cannot be graded (an unknown student, a bad pattern...)."""


# ---- who is it ---------------------------------------------------------------------------------


def identify(relpath: str, pattern: str | None = None) -> tuple[str, str]:
    """``(student_id, name)`` from a submission's path relative to the submissions folder.

    ``pattern`` (a regular expression with a group ``id`` and optionally ``name``, searched in
    the path) takes precedence. Otherwise: an LMS prefix ``Surname Name_12345_assignsubmission_
    file_`` in the file or folder name gives id ``12345``; else the first folder (one folder per
    student); else what remains of the file name without ``Copy of``, ``(1)``, ``TP_sujet``...

    Raises:
        GradingError: nothing in the path names a student.
    """
    path = PurePosixPath(relpath)
    if pattern:
        m = re.search(pattern, path.as_posix())
        if not m or not m.groupdict().get("id"):
            raise GradingError(f"{relpath}: the pattern {pattern!r} finds no group 'id'")
        return _slug(m["id"]), (m.groupdict().get("name") or m["id"]).strip()
    for part in [path.name, *reversed(path.parent.parts)]:
        m = _MOODLE.match(part)
        if m:
            return m["id"], m["name"].strip()
    if len(path.parts) > 1:
        return _slug(path.parts[0]), path.parts[0]
    rest = _DECORATIONS.sub(" ", path.name)
    rest = re.sub(r"[\s_.\-]+", " ", rest).strip()
    if not rest:
        raise GradingError(
            f"{relpath}: the file name does not say whose notebook it is; put each student's "
            "file in a folder named after them, or pass --pattern"
        )
    return _slug(rest), rest


def _slug(text: str) -> str:
    return re.sub(r"[^\w.@-]+", "_", text.strip()).strip("_") or "unknown"


@dataclass
class Submission:
    """One student's notebook."""

    student_id: str
    name: str
    path: Path
    relpath: str
    sha256: str
    notes: list[str] = field(default_factory=list)


def _safe_unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise GradingError(f"{archive}: unsafe member {info.filename!r}")
            if info.is_dir():
                continue
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(dest, (stamp, stamp))


def collect(source: Path, workdir: Path, pattern: str | None = None) -> list[Submission]:
    """The submissions in a folder or a zip (zips inside the folder are opened too)."""
    source = Path(source)
    if not source.exists():
        raise GradingError(f"{source}: no such file or folder")
    roots: list[Path] = []
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise GradingError(f"{source}: not a folder or a zip archive")
        roots.append(workdir / "unzipped" / source.stem)
        _safe_unzip(source, roots[-1])
    else:
        roots.append(source)
        for i, archive in enumerate(sorted(source.rglob("*.zip"))):
            roots.append(workdir / "unzipped" / f"{i}-{archive.stem}")
            _safe_unzip(archive, roots[-1])
    found: dict[str, list[Submission]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.ipynb")):
            rel = path.relative_to(root)
            if any(p.startswith(".") or p == "__MACOSX" for p in rel.parts):
                continue  # .ipynb_checkpoints, macOS resource forks
            student_id, name = identify(rel.as_posix(), pattern)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found.setdefault(student_id, []).append(
                Submission(student_id, name, path, rel.as_posix(), digest)
            )
    subs = []
    for _, items in sorted(found.items()):
        items.sort(key=lambda s: (s.path.stat().st_mtime, s.relpath))
        chosen = items[-1]
        if len(items) > 1:
            others = ", ".join(s.relpath for s in items[:-1])
            chosen.notes.append(
                f"{len(items)} files; graded the newest ({chosen.relpath}), not {others}"
            )
        subs.append(chosen)
    return subs


# ---- preparing a notebook ----------------------------------------------------------------------


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def read_submission(path: Path):
    """The notebook, or a ``GradingError`` that says what is wrong with the file."""
    raw = path.read_bytes()
    if not raw.strip():
        raise GradingError("the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise GradingError(
            f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    if not isinstance(data, dict) or "cells" not in data:
        raise GradingError("not a notebook: no 'cells'")
    try:
        with warnings.catch_warnings():  # duplicate cell ids: nbformat renames them, and says so
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise GradingError(f"not a readable notebook: {exc}") from exc
    for cell in nb.cells:  # Colab keeps outputs and adds its own metadata
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def restore_metadata(nb, student_nb, notes: list[str] | None = None):
    """Give back their nbgrader metadata to cells that lost it (a notebook saved by a tool that
    drops cell metadata, or a cell deleted and pasted back): a cell without it whose source is
    that of a cell of the student notebook is that cell again, unless the notebook still has it."""
    present = {gid for c in nb.cells if (gid := _grade_id(c))}
    by_source = {
        (c.cell_type, _normalised(c.source)): c
        for c in student_nb.cells
        if _grade_id(c) and _grade_id(c) not in present
    }
    restored = []
    for cell in nb.cells:
        if _grade_id(cell):
            continue
        original = by_source.pop((cell.cell_type, _normalised(cell.source)), None)
        if original is not None:
            cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
            restored.append(_grade_id(cell))
    if restored and notes is not None:
        notes.append(f"{len(restored)} cells had lost their nbgrader metadata; restored by content")
    return nb


def in_source_order(nb, source_nb, notes: list[str] | None = None):
    """The notebook with its graded/read-only cells in the source's order, each followed by the
    student's own cells that followed it.

    A copy of a graded cell (same ``grade_id``) stays where it is as the student's own cell: it
    still runs, but only the first copy is graded (nbgrader refuses two cells with one id).
    Cell ids are made unique. What was changed is appended to ``notes``.
    """
    order = {gid: i for i, c in enumerate(source_nb.cells) if (gid := _grade_id(c))}
    head: list = []
    groups: list[tuple[int, list]] = []
    seen = set()
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid is not None and gid in seen:
            del cell.metadata["nbgrader"]
            if notes is not None:
                notes.append(f"a copy of cell {gid} was run as the student's own cell")
            gid = None
        if gid in order:
            seen.add(gid)
            groups.append((order[gid], [cell]))
        elif groups:
            groups[-1][1].append(cell)
        else:
            head.append(cell)
    groups.sort(key=lambda g: g[0])
    nb.cells = head + [c for _, cells in groups for c in cells]
    ids: set[str] = set()
    for i, cell in enumerate(nb.cells):
        if "id" in cell and cell.id in ids:
            cell.id = f"cell-{i}-{secrets.token_hex(4)}"
        ids.add(cell.get("id"))
    return nb


def suspicious_cells(nb) -> list[str]:
    """Notes on the student's cells (not the test and read-only cells, which grading restores)
    that use code a TP answer never needs; the instructor should read them."""
    found = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        restored = (meta.get("grade") or meta.get("locked")) and not meta.get("solution")
        if cell.cell_type != "code" or restored:
            continue
        what = sorted({label for rx, label in _SUSPICIOUS if rx.search(cell.source)})
        if what:
            where = meta.get("grade_id") or "own cell"
            found.append(f"REVIEW cell {i + 1} ({where}): {', '.join(what)}")
    return found


def test_cells(source_nb) -> dict[str, dict]:
    """``{grade_id: {"points", "source"}}`` of the source notebook's graded test cells."""
    cells = {}
    for cell in source_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            cells[meta["grade_id"]] = {
                "points": float(meta.get("points", 0)),
                "source": cell.source,
            }
    return cells


# ---- the worker: one submission in its own process -------------------------------------------


def _robust_execute_class(before_restart):
    from nbclient.exceptions import DeadKernelError
    from nbformat.notebooknode import NotebookNode
    from nbgrader.preprocessors import Execute

    class RobustExecute(Execute):
        """nbgrader's Execute, past a cell that killed the kernel: the notebook runs again from
        the top in a new kernel (``before_restart()`` first), without that cell."""

        def preprocess_cell(self, cell, resources, index):
            self._current = index
            if index in self._skip:
                cell.outputs = [
                    NotebookNode(
                        output_type="error",
                        ename="DeadKernelError",
                        evalue="the kernel died running this cell (out of memory?)",
                        traceback=[
                            "DeadKernelError: the kernel died running this cell (out of memory, "
                            "or the process was killed); grading restarted it and went on "
                            "without this cell"
                        ],
                    )
                ]
                return cell, self.resources
            return super().preprocess_cell(cell, resources, index)

        def preprocess(self, nb, resources=None, km=None):
            self._skip = set()
            for _ in range(5):
                try:
                    return super().preprocess(nb, resources, km)
                except DeadKernelError:
                    self._skip.add(self._current)
                    self.log.warning("kernel died at cell %s; restarting", self._current)
                    before_restart()
            raise DeadKernelError("the kernel died five times")

    return RobustExecute


def _worker(job: dict) -> dict:
    """Autograde one prepared notebook (runs in its own process; see :func:`grade_submission`)."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        SaveAutoGrades,
    )

    work = Path(job["work"])
    sid = job["student_id"]
    key_file = work / "key"
    key = key_file.read_bytes()

    def rearm() -> None:  # the kernel deletes the key file once it has read it
        key_file.write_bytes(key)
        os.chmod(key_file, 0o600)

    os.environ["IPYTHONDIR"] = str(work / "ipython")
    os.environ["UNET_TP_HOME"] = str(work / "home")
    os.environ["UNET_TP_GRADING_KEY_FILE"] = str(key_file)
    os.environ["UNET_TP_GRADING_CELLS"] = str(work / "cells.json")
    if job.get("memory_limit"):
        os.environ["UNET_TP_MEMORY_LIMIT"] = str(job["memory_limit"])
    config = course.course_config(work)
    config.Execute.timeout = job["cell_timeout"]
    config.Autograde.autograde_preprocessors = [
        _robust_execute_class(rearm),
        IgnorePattern,
        ClearMetadataPreprocessor,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    os.chdir(work)
    result = api.autograde(course.ASSIGNMENT, sid, force=True, create=True)
    return {"success": bool(result["success"]), "log": result.get("log", "")[-4000:]}


def worker_main() -> int:
    """``python -m autograder.grade --worker``: the job (JSON) on stdin, the result on stdout."""
    job = json.loads(sys.stdin.read())
    out = _worker(job)
    Path(job["work"], "worker_result.json").write_text(json.dumps(out))
    return 0


# ---- scoring -----------------------------------------------------------------------------------


def _outputs_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
    return "".join(parts)


def _errors(cell) -> list[str]:
    return [
        f"{o.get('ename', 'Error')}: {str(o.get('evalue', ''))[:300]}"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def score(graded_nb, tests: dict[str, dict], key: bytes) -> tuple[dict[str, float], dict[str, str]]:
    """Points of each test cell, and why a cell earned nothing."""
    from autograder.hidden_tests import token

    cells = {}
    for cell in graded_nb.cells:
        gid = _grade_id(cell)
        if gid in tests and gid not in cells and cell.cell_type == "code":
            cells[gid] = cell
    points, why = {}, {}
    for gid, info in tests.items():
        cell = cells.get(gid)
        if cell is None:
            points[gid], why[gid] = 0.0, "test cell missing"
            continue
        errors = _errors(cell)
        good = f"[hidden tests] {gid}: passed {token(key, gid)}" in _outputs_text(cell)
        if errors:
            points[gid], why[gid] = 0.0, errors[-1]
        elif not good:
            points[gid], why[gid] = 0.0, "the hidden tests did not confirm this cell"
        else:
            points[gid] = info["points"]
    return points, why


def block_points(points: dict[str, float]) -> dict[str, float]:
    """Points per block (a)-(g): each block's visible and hidden test cells."""
    out = {}
    for block, prefixes in BLOCKS.items():
        out[block] = sum(
            p for gid, p in points.items() if any(gid.startswith(pre) for pre in prefixes)
        )
    return out


# ---- the parent: many submissions --------------------------------------------------------------


@dataclass
class Result:
    """The grade of one submission."""

    student_id: str
    name: str
    file: str
    sha256: str
    points: dict[str, float]
    max_points: float
    notes: list[str]
    seconds: float
    feedback: str | None = None

    @property
    def total(self) -> float:
        return sum(self.points.values())

    @property
    def review(self) -> bool:
        """Some cell should be read by the instructor (see :func:`suspicious_cells`)."""
        return any(n.startswith("REVIEW") for n in self.notes)


def _prewarm(home: Path) -> None:
    """What the notebook's data cell makes under grading, made once for all submissions in the
    ``UNET_TP_HOME`` that each one gets a copy of: the sample cases and their slice cache.

    The sample cases come from the instructor's own cache (deterministic: the same every run).
    """
    from unet_tp.data.synth import default_sample_dir, sample_cases
    from unet_tp.session import GRADING_SAMPLE_CASES

    release = sample_cases(cases=GRADING_SAMPLE_CASES, seed=0)
    shutil.copytree(release, default_sample_dir(0, home) / release.name)
    code = (
        "import torch\n"
        "from unet_tp.session import get_data, notebook_config, prepare_slices\n"
        "_, config = notebook_config(torch.device('cpu'))\n"
        "prepare_slices(get_data('sample').data_dir, config)\n"
    )
    env = dict(os.environ, UNET_TP_HOME=str(home), NBGRADER_EXECUTION="autograde")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def grade_submission(sub: Submission, template: Path, settings: dict) -> Result:
    """Grade one submission in a fresh temporary course folder (never raises)."""
    t0 = time.perf_counter()
    source_nb = nbformat.read(template / "source" / course.ASSIGNMENT / course.NOTEBOOK, 4)
    tests = test_cells(source_nb)
    max_points = sum(t["points"] for t in tests.values())
    zero = {gid: 0.0 for gid in tests}
    notes = list(sub.notes)

    def result(points, feedback_nb=None) -> Result:
        r = Result(
            sub.student_id,
            sub.name,
            sub.relpath,
            sub.sha256,
            points,
            max_points,
            notes,
            time.perf_counter() - t0,
        )
        r.feedback = _feedback_html(r, feedback_nb)
        return r

    try:
        nb = read_submission(sub.path)
    except GradingError as exc:
        notes.append(str(exc))
        return result(zero)
    work = Path(tempfile.mkdtemp(prefix="unet-tp-grade-"))
    try:
        shutil.copytree(template / "source", work / "source")
        shutil.copy(template / "gradebook.db", work / "gradebook.db")
        shutil.copytree(template / "home", work / "home")
        startup = work / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-unet-tp-grading.py").write_text(STARTUP)
        key = secrets.token_hex(32).encode()
        (work / "key").write_bytes(key)
        os.chmod(work / "key", 0o600)
        (work / "cells.json").write_text(json.dumps({gid: t["source"] for gid, t in tests.items()}))
        submitted = work / "submitted" / sub.student_id / course.ASSIGNMENT
        submitted.mkdir(parents=True)
        nb = restore_metadata(nb, nbformat.read(course.STUDENT_NOTEBOOK, 4), notes)
        nb = in_source_order(nb, source_nb, notes)
        notes.extend(suspicious_cells(nb))
        nbformat.write(nb, submitted / course.NOTEBOOK)
        job = dict(settings, work=str(work), student_id=sub.student_id)
        threads = str(settings["threads"])
        # on the CPU whatever the machine: the same grade anywhere, and the address-space cap
        # (--memory-limit) would break CUDA's start-up
        env = dict(
            os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, CUDA_VISIBLE_DEVICES=""
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.grade", "--worker"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(course.REPO_ROOT),
            start_new_session=True,
        )
        try:
            log, _ = proc.communicate(
                json.dumps(job).encode(), timeout=settings["notebook_timeout"]
            )
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            notes.append(
                f"grading stopped after {settings['notebook_timeout']} s (a cell that never ends?)"
            )
            return result(zero)
        finally:
            _kill_group(proc)  # a kernel left behind
        graded_path = work / "autograded" / sub.student_id / course.ASSIGNMENT / course.NOTEBOOK
        if not graded_path.exists():
            tail = log.decode(errors="replace").strip().splitlines()[-3:]
            notes.append("autograding failed: " + " | ".join(tail))
            return result(zero)
        graded = nbformat.read(graded_path, 4)
        points, why = score(graded, tests, key)
        for i, cell in enumerate(graded.cells):  # what went wrong outside the tests
            gid = _grade_id(cell)
            if cell.cell_type == "code" and gid not in tests and _errors(cell):
                notes.append(f"cell {i + 1} ({gid or 'own cell'}): {_errors(cell)[-1]}")
        for gid, reason in why.items():
            notes.append(f"{gid}: {reason}")
        return result(points, graded)
    except Exception as exc:  # one bad notebook never stops the batch
        notes.append(f"grading error: {type(exc).__name__}: {exc}")
        return result(zero)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _feedback_html(r: Result, graded_nb) -> str:
    """A self-contained HTML page: the points per test and block, then the graded notebook."""
    from html import escape

    from nbconvert import HTMLExporter
    from nbgrader.preprocessors import LimitOutput

    rows = "".join(f"<tr><td>{escape(gid)}</td><td>{p:g}</td></tr>" for gid, p in r.points.items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in r.notes)
    head = (
        f"<h1>TP U-Net: feedback for {escape(r.name)} ({escape(r.student_id)})</h1>"
        f"<p><b>Total: {r.total:g} / {r.max_points:g}</b> (file {escape(r.file)})</p>"
        f"<table border=1 cellpadding=4><tr><th>test</th><th>points</th></tr>{rows}</table>"
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
    )
    if graded_nb is None:
        return f"<html><body>{head}</body></html>"
    graded_nb, _ = LimitOutput(max_lines=300).preprocess(graded_nb, {})
    _cut_long_text(graded_nb, 20_000)
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(graded_nb)
    return body.replace("<body>", f"<body><div style='margin:2em'>{head}</div>", 1)


def _cut_long_text(nb, max_chars: int) -> None:
    """Cut each text output to ``max_chars`` (nbgrader's LimitOutput counts lines only)."""

    def cut(text):
        text = "".join(text) if isinstance(text, list) else str(text)
        if len(text) <= max_chars:
            return text
        return text[:max_chars] + f"\n... [{len(text) - max_chars:,} more characters cut]\n"

    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = cut(out["text"])
            for mime in ("text/plain", "text/html"):
                if mime in out.get("data", {}):
                    out["data"][mime] = cut(out["data"][mime])


def _source_hash() -> str:
    h = hashlib.sha256(course.SOURCE_NOTEBOOK.read_bytes())
    h.update((course.COURSE_DIR / "hidden_tests.py").read_bytes())
    h.update((course.REPO_ROOT / "unet_tp" / "checks.py").read_bytes())
    return h.hexdigest()


def _write_gradebook(db_url: str, results: list[Result], workdir: Path) -> None:
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    warnings.filterwarnings("ignore", module="nbgrader.api")  # SQLAlchemy autoflush notices

    try:
        with Gradebook(db_url) as gb:
            gb.find_assignment(course.ASSIGNMENT)
    except MissingEntry:
        course.make_gradebook(workdir / "master", db_url)
    with Gradebook(db_url) as gb:
        for r in results:
            first, _, last = r.name.partition(" ")
            gb.update_or_create_student(r.student_id, first_name=first, last_name=last or None)
            gb.update_or_create_submission(course.ASSIGNMENT, r.student_id)
            for gid, p in r.points.items():
                grade = gb.find_grade(gid, course.ASSIGNMENT, course.ASSIGNMENT, r.student_id)
                grade.auto_score = p
                grade.needs_manual_grade = False
            gb.db.commit()


def _snapshot(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and p.stat().st_size < 200_000_000
    }


def grade_all(
    submissions: Path,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    pattern: str | None = None,
    db_url: str | None = None,
    cell_timeout: int = 120,
    notebook_timeout: int = 900,
    memory_limit: int | None = 8 << 30,
    progress=print,
) -> list[Result]:
    """Grade every submission; write grades, feedback and gradebook in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sqlite_db = out / "gradebook.db"
    db_url = db_url or f"sqlite:///{sqlite_db.resolve()}"
    before = _snapshot(out)  # restored if a notebook writes into OUT while it is graded
    state_path = out / STATE_FILE
    state = json.loads(before.get(STATE_FILE, b"{}") or b"{}")
    source_hash = _source_hash()
    with tempfile.TemporaryDirectory(prefix="unet-tp-grading-") as tmp:
        tmp = Path(tmp)
        subs = collect(Path(submissions), tmp, pattern)
        if not subs:
            raise GradingError(f"{submissions}: no .ipynb file found")
        todo, kept = [], []
        for s in subs:
            old = state.get(s.student_id)
            if not force and old and old["sha256"] == s.sha256 and old.get("source") == source_hash:
                kept.append(Result(**old["result"]))
            else:
                todo.append(s)
        progress(
            f"{len(subs)} submissions: {len(todo)} to grade, {len(kept)} unchanged"
            + (" (--force regrades them)" if kept else "")
        )
        template = tmp / "template"
        if todo:
            course.make_gradebook(template)
            _prewarm(template / "home")
        settings = dict(
            threads=max(1, (os.cpu_count() or 1) // max(1, jobs)),  # jobs x threads = cores
            cell_timeout=cell_timeout,
            notebook_timeout=notebook_timeout,
            memory_limit=memory_limit,
        )
        fresh: list[Result] = []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(grade_submission, s, template, settings) for s in todo]
            for fut in futures:
                r = fut.result()
                fresh.append(r)
                progress(
                    f"  {r.student_id:20s} {r.total:5.1f} / {r.max_points:g}  ({r.seconds:.0f} s)"
                )
        # undo anything a notebook wrote in OUT, then write our files
        for rel in {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - set(before):
            (out / rel).unlink()
            progress(f"  removed {rel}: written into the output folder during grading")
        for rel, data in before.items():
            path = out / rel
            if not path.exists() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                progress(f"  restored {rel}: changed during grading")
        results = sorted(kept + fresh, key=lambda r: r.student_id)
        feedback = out / "feedback"
        feedback.mkdir(exist_ok=True)
        for r in fresh:
            with atomic_write(feedback / f"{r.student_id}.html", "w") as f:
                f.write(r.feedback or "")
        _write_csv(out / "grades.csv", results)
        for r in fresh:
            state[r.student_id] = {
                "sha256": r.sha256,
                "source": source_hash,
                "result": {k: v for k, v in asdict(r).items() if k != "feedback"},
            }
        with atomic_write(state_path, "w") as f:
            json.dump(state, f, indent=1)
        _write_gradebook(db_url, fresh, tmp)
    return results


def _write_csv(path: Path, results: list[Result]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student_id", "name", "file", *BLOCKS, "total", "max", "review", "notes"])
    for r in results:
        blocks = block_points(r.points)
        writer.writerow(
            [
                r.student_id,
                r.name,
                r.file,
                *(f"{blocks[b]:g}" for b in BLOCKS),
                f"{r.total:g}",
                f"{r.max_points:g}",
                "yes" if r.review else "",
                "; ".join(r.notes),
            ]
        )
    with atomic_write(path, "w") as f:
        f.write(buf.getvalue())


def summary_table(results: list[Result]) -> str:
    """One line per student: points per block, total, and what went wrong."""
    heads = [b.split("_")[0] for b in BLOCKS]
    lines = [f"{'student':20s} " + " ".join(f"{h:>4s}" for h in heads) + "  total  notes"]
    for r in results:
        blocks = block_points(r.points)
        first_note = next(
            (n for n in r.notes if n.startswith("REVIEW")), r.notes[0] if r.notes else ""
        )
        more = f" (+{len(r.notes) - 1} more)" if len(r.notes) > 1 else ""
        lines.append(
            f"{r.student_id[:20]:20s} "
            + " ".join(f"{blocks[b]:4g}" for b in BLOCKS)
            + f"  {r.total:5g}  {first_note[:90]}{more}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        sys.exit(worker_main())
    sys.exit("usage: unet-tp grade SUBMISSIONS --out OUT")
