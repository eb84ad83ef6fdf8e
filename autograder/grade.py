"""``unet-tp grade SUBMISSIONS --out OUT``: a folder of notebooks (or an LMS zip) to grades.

The steps, each a module: :mod:`~autograder.collect` (whose each submission is),
:mod:`~autograder.repair` (the notebook as the TP laid it out), :mod:`~autograder.sandbox` and
:mod:`~autograder.execute` (it runs in a sandbox, then answers the grader's requests),
:mod:`~autograder.compare` (answers judged here against the reference), :mod:`~autograder.score`
(points per block), then results, feedback, report and gradebook. A re-run grades only new or
changed submissions (:mod:`~autograder.regrade`). Here: the orchestration and a summary table.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import copy
import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    import fcntl
except ModuleNotFoundError:  # (Windows: no lock, and no sandbox either)
    fcntl = None
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from autograder import answers as wire
from autograder import build as course
from autograder import messages as M
from autograder import repair, static
from autograder import spec as assignment
from autograder.cells import grade_id, parse_code
from autograder.collect import GradingError, Submission, collect, identify
from autograder.compare import REFERENCE_LOCK, Request, Verdict, comparisons, fresh_rng, judge
from autograder.execute import FLOODED, SKIPPED_CELL, TP_CELLS_SHARE
from autograder.export import exported_files
from autograder.gradebook import with_manual_scores, write_gradebook
from autograder.harness import ANSWER_SAID, write_message
from autograder.i18n import STUBS, notebook_language
from autograder.messages_fr import template_regex
from autograder.probes import probe_source
from autograder.regrade import (
    INPUTS_FILE,
    STATE_FILE,
    answers_read,
    gone_line,
    grading_inputs,
    grading_inputs_hash,
    inputs_changed,
    inputs_hash,
    read_inputs,
    read_state,
    to_regrade,
    why_line,
    write_inputs,
    write_state,
)
from autograder.repair import handouts_as_given, in_source_order
from autograder.report import write_pages, write_report, write_student_files
from autograder.results import (
    GRADES_FILE,
    LOCK_FILE,
    RESULTS_FILE,
    BlockInfo,
    QuestionInfo,
    Result,
    Results,
    shorten,
    terminal_text,
    text_safe,
)
from autograder.sandbox import (
    CELL_TIMEOUT,
    HOME,
    NOTEBOOK_TIMEOUT,
    STUDENT_PACKAGE,
    Limits,
    Sandbox,
    check_available,
    remove_tree,
)
from autograder.score import block_scores
from unet_tp.fileio import atomic_write, check_writable, os_error_message

__all__ = ["GradingError", "Result", "grade_all", "identify", "in_source_order", "summary_table"]

GRADING_SAMPLE_CASES = 4
# what the notebook is told under grading: seconds of training on 4 sample cases (the grade comes
# from the comparisons; training only has to run)
GRADING_NOTEBOOK_ENV = {
    "UNET_TP_PRESET": "tiny",
    "UNET_TP_DATA_SOURCE": "sample",
    "UNET_TP_SAMPLE_CASES": str(GRADING_SAMPLE_CASES),
    "UNET_TP_STATIC_FIGURES": "1",  # no front end to show widgets; the feedback shows figures
}
_CHECK_CALL = re.compile(r"checks\.(?P<check>check_\w+)\((?P<args>[^)]*)\)")
_EVENT_REASONS = {
    "network": "tried to use the network",
    "watch": "ran code out of the grader's sight",
    "write outside home": "wrote (or tried to) outside its home",
    "processes": "started many processes",
    "code from a file": "ran code from a file the grader does not read (a module it wrote?)",
    "code from a string": "had a library run code from a string the grader does not read",
}
_OBSERVED = {  # what the worker read from outside the kernel (execute.Runner.observe)
    "network": "packets to the network, which the sandbox does not have",
    "processes": "processes past the limit",
    "memory": "processes killed for using too much memory",
    "disk": "kernels stopped: their files passed the disk limit, or the grading machine's disk "
    "came close to full while they ran",
}
# the kernel's standard error, read back for the harness's notes: all of it up to this; the
# notebook can write there too, and a larger log (text the harness never writes) is flagged, so
# that a flood cannot push the notes out of what is read unseen
MAX_LOG_BYTES = 64 << 20
_EVENT = b"[unet-tp-event] "
# the harness notes at most about 200 events, each once; past that, the lines are the notebook's
# own (it can write to its standard error): a flood of review lines, cut here
MAX_EVENTS = 200
FLOODED_EVENTS = f"gave rise to more than {MAX_EVENTS} of the harness's notes (the rest not read)"
NO_SANDBOX = "graded without a sandbox (--sandbox none): the notebook ran with your rights"
MISSING_CHECK = "missing where grading runs: check by hand"
FLOODED_LOG = f"wrote more than {MAX_LOG_BYTES >> 20} MiB to its standard error (not all read)"


def kernel_threads(jobs: int) -> int:
    """Torch's threads in each kernel: the CPUs this process may use shared by ``jobs``, at most
    ``$OMP_NUM_THREADS`` when set (more threads than cores makes every kernel spin-wait: two
    2-thread trainings on 2 cores ran 12 times slower than one alone)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cpus or 1) // max(1, jobs))
    asked = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(asked)) if asked.isdigit() and int(asked) > 0 else threads


def _zero(spec: assignment.Spec, message: str) -> tuple[dict, dict]:
    verdicts = {gid: Verdict(False, message) for gid in spec.tests}
    return block_scores(spec, verdicts, {})


@dataclass
class Context:
    """What every submission of a run shares."""

    spec: assignment.Spec
    student_nb: object
    student_nbs: dict  # by language (autograder.i18n): a submission is repaired from its own
    template_home: Path
    sandbox: str  # "bwrap" or "none"
    limits: Limits
    cell_timeout: int
    notebook_timeout: int
    threads: int

    def limits_run(self) -> dict:
        """The limits a notebook is graded under, remembered with its grade: one graded under
        other limits may grade differently, and is graded again."""
        limits = {"memory": self.limits.memory_bytes, "disk": self.limits.disk_bytes}
        return {
            "cell_timeout": self.cell_timeout,
            "notebook_timeout": self.notebook_timeout,
            **limits,
        }


def _plan(spec: assignment.Spec, student_nb, job: Path, table: dict) -> tuple[dict, dict]:
    """``(plan, requests per test)``: each test's requests (in ``job/requests``) after its test
    cell, its visible check if that cell failed, and each probe with the requests it waits for."""
    rng = fresh_rng()
    by_test: dict[str, list[Request]] = {}
    with REFERENCE_LOCK:  # one thread at a time computes the reference
        for gid, (block, test) in spec.tests.items():
            reqs, watch = table[test.compare].requests(rng), _watch(block)
            for r in reqs:
                r.name = f"{gid}.{r.name}"
                r.meta["watch"] = watch
            by_test[gid] = reqs
    (job / "requests").mkdir()
    steps = []
    for cell in student_nb.cells:  # the TP's order of the test cells
        gid = grade_id(cell)
        if gid not in spec.tests:
            continue
        steps += [_step(job, r, gid) for r in by_test[gid]]
        m = _CHECK_CALL.search(cell.source)
        if m:
            names = [a.strip() for a in m["args"].split(",") if a.strip()]
            probes = getattr(table[spec.tests[gid][1].compare], "probes", [])
            meta = {"kind": "visible", "check": m["check"], "args": names, "probes": probes}
            meta["needs"] = [n for n in names if n != "F.cross_entropy"]
            steps.append(_step(job, Request(f"{gid}.visible", meta, {}), gid) | {"visible": True})
    tested: dict[str, list[str]] = {}
    for r in (r for reqs in by_test.values() for r in reqs):
        for name in r.meta.get("needs", []):
            tested.setdefault(name, []).append(r.name)
    wanted = sorted(
        {p for reqs in by_test.values() for r in reqs for p in r.meta.get("probes", [])}
    )
    probes = {n: {"source": probe_source([n]), "requires": tested.get(n, [])} for n in wanted}
    return {"requests": steps, "probes": probes}, by_test


def _watch(block: assignment.Block) -> dict:
    """What the kernel notes if the answer runs it (``harness._Watch``): the block's forbidden
    names of torch, its forbidden libraries, the course package's code but what answers build on."""
    names = [n for n in block.forbidden if "." not in n]
    paths = [n for n in block.forbidden if "." in n and not n.endswith(static.WEIGHTED)]
    paths += [n for n in names if _a_module(n)]  # (difflib, networkx: watched as torch's names
    # were, only in torch's modules, red team 80)
    weighted = [n[: -len(static.WEIGHTED)] for n in block.forbidden if n.endswith(static.WEIGHTED)]
    watch = {"names": names, "paths": paths, "allowed": list(static.BUILT_ON)}
    return watch | ({"weighted": weighted} if weighted else {})


def _a_module(name: str) -> bool:
    """Whether ``name`` is a module this grader's Python could import (a library, not one of
    torch's function names)."""
    try:
        return name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _step(job: Path, request: Request, at: str) -> dict:
    """A request written into ``job/requests``, asked after test cell ``at``."""
    path = job / "requests" / f"{request.name}.npz"
    write_message(path, request.meta, request.arrays)
    probes = list(request.meta.get("probes", []))
    return {"name": request.name, "request": str(path), "at": at, "probes": probes}


def _answers(job: Path, changed: list[str]) -> dict[str, tuple[dict, dict]]:
    """The answers the worker took, read with every size bounded; a malformed one is none, and
    one of ``changed`` (the harness did not say it wrote it: :func:`_changed_answers`) says so."""
    found, budget = {}, wire.MAX_SUBMISSION_BYTES
    folder = job / "answers"
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        if path.stem in changed:
            found[path.stem] = ({"error": M.ANSWER_NOT_TAKEN}, {})
            continue
        data = path.read_bytes()  # written by the worker, at most MAX_ANSWER_BYTES
        with contextlib.suppress(wire.BadAnswer):
            meta, arrays = wire.parse(data, min(wire.MAX_ARRAY_BYTES, budget))
            budget -= sum(a.nbytes for a in arrays.values())
            found[path.stem] = (meta, arrays)
    return found


def _kernel_log(job: Path) -> tuple[list[str], list[dict | None]]:
    """What the kernel said on its standard error, read once: the requests whose answer the
    harness did not say it wrote (:func:`_changed_answers`), and its notes (:func:`_add_event`)."""
    said, events, seen = collections.defaultdict(set), [], set()
    prefix = ANSWER_SAID.encode()
    with contextlib.suppress(FileNotFoundError), open(job / "kernel_stderr.log", "rb") as f:
        for line in _lines(f, MAX_LOG_BYTES):
            if line.startswith(prefix):
                name, _, digest = line[len(prefix) :].decode("ascii", "replace").partition(" ")
                said[name].add(digest.strip())
            elif line.startswith(_EVENT) and None not in events[-1:]:
                _add_event(events, seen, line)
    return _changed_answers(job, said), events


def _changed_answers(job: Path, said: dict[str, set[str]]) -> list[str]:
    """The requests whose answer the worker took is not the one the harness ``said`` it wrote
    on the kernel's log (its file's name and SHA-256): the notebook's code wrote it, or changed
    it after the harness (red teams 32 and 33: a finalizer, a signal handler, a thread)."""
    report = job / "execute.json"
    plan = json.loads(report.read_text()).get("plan", []) if report.exists() else []
    taken = {e["step"]: e for e in plan if isinstance(e, dict) and "sha256" in e}  # (the last)
    return sorted(step for step, e in taken.items() if said.get(e.get("file")) != {e["sha256"]})


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Workers:
    """The worker processes running now, each in its own session (a Ctrl-C on ``unet-tp grade``
    does not reach them): :meth:`stop` kills them and starts no other."""

    def __init__(self) -> None:
        self.lock, self.running, self.stopped = threading.Lock(), set(), False

    def start(self, command: list[str], env: dict) -> subprocess.Popen:
        with self.lock:
            if self.stopped:
                raise KeyboardInterrupt  # grading was interrupted: no new notebook
            proc = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=str(course.REPO_ROOT),
                start_new_session=True,
            )
            self.running.add(proc)
        return proc

    def done(self, proc: subprocess.Popen) -> None:
        _kill_group(proc)  # what the worker left (the sandbox dies with its parent)
        with self.lock:
            self.running.discard(proc)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for proc in self.running:
                _kill_group(proc)


WORKERS = _Workers()


def _run_worker(job: Path, ctx: Context) -> tuple[str | None, str | None]:
    """Run the notebook and the plan in a worker process: ``(why it failed, why the grading
    machine cut it short)``, each None if not."""
    threads = str(ctx.threads)
    env = dict(
        os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, CUDA_VISIBLE_DEVICES=""
    )
    proc = WORKERS.start([sys.executable, "-m", "autograder.execute", str(job)], env)
    try:
        log, _ = proc.communicate(timeout=ctx.notebook_timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return M.STOPPED_AFTER.format(seconds=ctx.notebook_timeout), None
    finally:
        WORKERS.done(proc)
    report = job / "execute.json"
    if not report.exists():
        tail = log.decode(errors="replace").strip().splitlines()[-3:]
        failed = M.WORKER_FAILED.format(log=" | ".join(tail))
        return failed, (None if proc.returncode == FLOODED else failed)  # flooded: its own doing
    executed = json.loads(report.read_text())
    error = executed.get("error")
    low_disk = "the grading machine's disk ran low" if executed.get("low_disk") else None
    return (M.NOT_RUN_TO_END.format(error=error) if error else None), low_disk


def _cell_notes(
    executed, labels: list[str], notebook_timeout: int = NOTEBOOK_TIMEOUT
) -> tuple[list[str], list[str]]:
    """What went wrong in the notebook's cells (notes), and what the instructor should read."""
    notes, review, skipped = [], [], []
    for i, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == SKIPPED_CELL[0]:  # (said once, below)
                skipped.append(M.CELL.format(cell=i + 1, cell_label=labels[i]))
                continue
            ename, evalue = out.get("ename", "Error"), shorten(str(out.get("evalue", "")), 400)
            # IPython's name for the cell's code (`1455945111.py`) says nothing to a student
            evalue = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", evalue)
            where = M.CELL.format(cell=i + 1, cell_label=labels[i])
            missing = re.match(r"No module named '(\w+)", evalue)
            package = missing[1] if ename == "ModuleNotFoundError" and missing else None
            if package == "google":
                notes.append(M.NO_COLAB.format(where=where))
            elif package:
                notes.append(M.MISSING_PACKAGE.format(where=where, package=package))
                review.append(f"{where}: imports '{package}', {MISSING_CHECK}")
            elif ename == "CellTimeoutError" and cell.metadata.get("nbgrader", {}).get("locked"):
                notes.append(M.TP_CELL_TIMEOUT.format(where=where, ename=ename, evalue=evalue))
            elif re.search(r"fork|_execute_child|spawn", "\n".join(out.get("traceback", []))):
                # the kernel starts no process (harness._one_process)
                notes.append(M.ONE_PROCESS.format(where=where, ename=ename, evalue=evalue))
            else:
                notes.append(M.CELL_ERROR.format(where=where, ename=ename, evalue=evalue))
    if skipped:
        seconds = round(notebook_timeout * TP_CELLS_SHARE)
        notes.append(M.CELLS_SKIPPED.format(cells="; ".join(skipped), seconds=seconds))
    return notes, review


def _late_notes(nb, spec, labels: list[str], blocks) -> list[str]:
    """For each block that lost points: the cell after its test cell that defines its names again
    or, first, a name its answer uses."""
    notes = []
    for found, message in (
        (static.late_definitions(nb, spec, labels), M.LATE_DEFINITION),
        (static.late_helpers(nb, spec, labels), M.LATE_HELPER),
    ):
        for block, (where, names) in found.items():
            if blocks[block].points < blocks[block].max:
                notes.append(message.format(where=where, names=names, block=block))
    return notes


def _shown_passing(spec, answers: dict, shown_ok: set[str]) -> list[str]:
    """For each test the saved notebook showed passing that fails run from the top (a cell
    edited after its test ran): say so, the grade then differs from what the student saw."""
    notes = []
    for gid, (block, _) in spec.tests.items():
        visible = answers.get(f"{gid}.visible")
        if gid in shown_ok and visible and visible[0].get("passed") is False:
            notes.append(M.SHOWN_PASSING.format(block=block.id))
    return list(dict.fromkeys(notes))


def grade_submission(sub: Submission, ctx: Context) -> Result:
    """Grade one submission (never raises): repair it, run it in its sandbox, judge the answers."""
    t0, spec = time.perf_counter(), ctx.spec
    notes, review = list(sub.notes), list(sub.review)
    review += [NO_SANDBOX] if ctx.sandbox == "none" else []

    def result(blocks: dict, tests: dict, outputs: dict | None = None, cut=None) -> Result:
        r = Result(
            sub.student_id, sub.name, sub.relpath, sub.sha256, blocks, tests, spec.max_points
        )
        r.notes, r.review, r.outputs, r.interrupted = notes, review, outputs or {}, cut
        r.seconds, r.lms_id, r.no_notebook = time.perf_counter() - t0, sub.lms_id, sub.as_given
        r.late = sub.late
        r.questions = {q.id: None for q in spec.questions}
        return text_safe(r)

    try:
        nb = repair.read_submission(sub.path)
    except Exception as exc:  # one bad file never stops the batch
        known = isinstance(exc, GradingError)
        notes.append(str(exc) if known else M.NOT_READABLE.format(error=type(exc).__name__))
        review.append(M.NOTHING_TO_GRADE.format(why=notes[-1]))  # (a 0 to chase, not to post)
        return _no_notebook(result(*_zero(spec, str(exc) if known else M.FILE_UNREADABLE)))
    work = Path(tempfile.mkdtemp(prefix="unet-tp-grade-"))
    try:
        language = notebook_language(nb)
        ctx = dataclasses.replace(ctx, student_nb=ctx.student_nbs.get(language, ctx.student_nb))
        nb = repair.restore_metadata(nb, ctx.student_nb, notes)
        review += (not_the_tp := _not_the_tp(nb, ctx.student_nb))
        if not_the_tp:  # another course's notebook: said plainly, not run (nor its errors listed)
            return _wrong_notebook(result(*_zero(spec, M.WRONG_NOTEBOOK)), nb, ctx, len(sub.notes))
        outputs = repair.submitted_outputs(nb, ctx.student_nb)
        shown_ok = repair.shown_passing(nb)
        nb = in_source_order(repair.without_outputs(nb), ctx.student_nb, notes)
        autograded = ctx.template_home.parent / "autograded"
        answers = _written_answers(nb, spec, autograded, sub, ctx.student_nb)
        labels = repair.cell_labels(nb, ctx.student_nb, spec)
        code = static.read(nb)  # parsed once for the four readings
        review += static.review_reasons(code, labels) + _rubric_copied(answers, spec)
        forbidden = static.forbidden_calls(code, spec, labels)
        review += [line for line in forbidden.does if line not in review]
        job, by_test = _write_job(nb, ctx, work, table := comparisons())
        failure, interrupted = _run_worker(job, ctx)
        notes += [failure] if failure else []
        changed, events = _kernel_log(job)  # (the notes say so, the answers are none)
        run_notes, run_review = _run_notes(job, nb, labels, changed, events, ctx.notebook_timeout)
        notes += run_notes
        review += [line for line in run_review if line not in review]
        answered = _answers(job, changed)
        blocks, tests = _judge(spec, table, answered, by_test, forbidden)
        review = _needed(review, _blamed_on_packages(blocks, run_notes))
        notes += _late_notes(code, spec, labels, blocks) + _shown_passing(spec, answered, shown_ok)
        r = result(blocks, tests, outputs, interrupted)
        r.answers, r.language = text_safe(answers), language
        return r
    except Exception as exc:  # one bad notebook never stops the batch
        notes.append(M.GRADING_ERROR.format(error=f"{type(exc).__name__}: {exc}"))
        return result(*_zero(spec, M.NOT_GRADED_AT_ALL), cut=notes[-1])  # again next run
    finally:
        remove_tree(work)  # whatever the kernel left there (unreadable, deep folders)


def _no_notebook(r: Result) -> Result:
    """``r`` of a file not read, its language not known: the class's (:func:`grade_all`)."""
    r.language, r.no_notebook = "", True
    return r


def _missing(nb, student_nb) -> tuple[int, int]:
    """How many of the TP's graded cells ``nb`` lacks, and of how many."""
    tp = {gid for c in student_nb.cells if (gid := grade_id(c))}
    return len(tp - {grade_id(c) for c in nb.cells}), len(tp)


def _not_the_tp(nb, student_nb) -> list[str]:
    """A review line where most of the TP's cells are missing from ``nb`` (another course's
    notebook: a 0 to chase, instructor round 20), else none."""
    missing, total = _missing(nb, student_nb)
    return [M.NOT_THE_TP.format(count=missing, total=total)] if missing * 2 > total else []


def _wrong_notebook(r: Result, nb, ctx: Context, kept: int) -> Result:
    """``r``, all 0, of another course's notebook ``nb``: its page says so plainly, with the counts
    of the review line, not the TP's blocks' errors nor the cells put back (instructor round 26:
    "39 of the TP's cells were put back" beside "52 of 52 missing", then "DoubleConv is not
    defined" seven times); the notes of its files (``kept``) stay."""
    missing, total = _missing(nb, ctx.student_nb)
    r.notes[kept:] = [M.WRONG_NOTEBOOK_NOTE.format(count=missing, total=total)]
    r.language, r.no_notebook = notebook_language(nb), True
    return r


# the solution notebook's rubric of a written question, English or French
_RUBRIC = re.compile(r"\*\*(?:Rubric|Barème) \(\d+(?:\.\d+)? points?\)\.\*\*")


def _rubric_copied(answers: dict[str, str], spec) -> list[str]:
    """A review line for each written answer holding the solution notebook's rubric (instructor
    round 23: it was shown as the student's answer, unflagged: the solution reached them?)."""
    titles = {q.id: q.title for q in spec.questions}
    return [
        f'the answer to "{titles[qid]}" holds the solution notebook\'s rubric ("{m[0]}"): a copy '
        "of the solution notebook?"
        for qid, text in answers.items()
        if (m := _RUBRIC.search(text or ""))
    ]


def _blamed_on_packages(blocks: dict, notes: list[str]) -> dict:
    """``blocks``, each one whose names were not defined told it was for a package grading lacks
    where the notebook imports one (honest round 28: "did its cell run without error?" when in
    Colab it did, torchinfo's import stopping it here)."""
    found = [m for note in notes if (m := _MISSING_PACKAGE.fullmatch(note))]
    for block in blocks.values() if found else ():
        names = _NOT_DEFINED.fullmatch(block.message or "")
        if names:
            block.message = M.NOT_DEFINED_PACKAGE.format(names=names[1], **found[0].groupdict())
    return blocks


_MISSING_PACKAGE = template_regex(M.MISSING_PACKAGE)  # (the French pages' reading of them)
_NOT_DEFINED = template_regex(M.NOT_DEFINED)


def _needed(review: list[str], blocks: dict) -> list[str]:
    """The review lines, but a package grading lacks where no block lost a point (nothing the
    missing package could have cost: a scratch cell comparing with sklearn's Dice)."""
    if any(b.lost for b in blocks.values()):
        return review
    return [line for line in review if not line.endswith(MISSING_CHECK)]


def _written_answers(nb, spec, autograded: Path, sub: Submission, student_nb) -> dict[str, str]:
    """``{question id: text}`` ("" left blank) of the notebook as :func:`in_source_order` left
    it (a copy of a graded cell is the student's own), a question's number answer after its text
    (``RECEPTIVE_FIELD = 140``: a new number is a new answer); the notebook kept in nbgrader's
    ``autograded/``."""
    at = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    answers = {}
    for q in spec.questions:
        cells = _answer_cells(nb.cells, at[q.grade_id]) if q.grade_id in at else []
        text, images = _answer_text(cells), _attachments(cells)
        number = repair.number_answer(nb, q.setting) if q.setting else ""
        answers[q.id] = "\n\n".join(part for part in (text, images, number) if part)
    if spec.questions:
        folder = autograded / sub.student_id / spec.assignment
        folder.mkdir(parents=True, exist_ok=True)
        shown = _answers_in_their_cells(copy.deepcopy(nb), {q.grade_id for q in spec.questions})
        nbformat.write(repair.for_formgrader(shown, student_nb), folder / spec.notebook)
    return answers


def _answer_cells(cells: list, index: int) -> list:
    """The answer cell at ``index`` and the student's own text cells after it, up to the next
    cell of the kit's (an answer written in a text cell added below the answer cell, its ``YOUR
    ANSWER HERE`` left as it was; a raw cell, or a code cell of comments alone, which formgrader
    shows too: rewritten in a re-submission, it kept the score given by hand to the old text);
    past the code cells that run code (a calculation, then the text that reads it)."""
    taken = [cells[index]]
    for cell in cells[index + 1 :]:
        if grade_id(cell):
            break
        if cell.cell_type in ("markdown", "raw") or _text_only(cell):
            taken.append(cell)
    return taken


_TEXT_MAGICS = ("%%markdown", "%%html", "%%latex")  # a cell of text IPython shows


def _text_only(cell) -> bool:
    """Whether ``cell`` is a code cell of text alone (an answer written as comments, as strings
    or in a ``%%markdown`` cell: formgrader shows its text, which runs nothing)."""
    source = str(cell.source)
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    if cell.cell_type != "code" or not lines:
        return False
    if all(x.startswith("#") for x in lines) or lines[0].split()[0] in _TEXT_MAGICS:
        return True
    try:
        body = parse_code(source).body
    except (SyntaxError, ValueError):
        return False
    return all(
        isinstance(s, ast.Expr)
        and isinstance(s.value, ast.Constant)
        and isinstance(s.value.value, str)
        for s in body
    )


def _answer_text(cells: list) -> str:
    """The text of an answer's cells, their ``YOUR ANSWER HERE`` stubs left out."""
    parts = [cell.source.strip() for cell in cells]
    stubs = {text_stub for _, text_stub in STUBS.values()}
    return "\n\n".join(part for part in parts if part and part not in stubs)


def _attachments(cells: list) -> str:
    """The images attached to an answer's cells, each by its name and a digest of its data: an
    image replaced under the same name is a rewritten answer (the text alone kept the score given
    by hand to the old image)."""
    lines = []
    for cell in cells:
        for name, data in sorted(_attached(cell).items()):
            digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
            lines.append(f"[attachment:{name} sha256:{digest.hexdigest()[:16]}]")
    return "\n".join(lines)


def _attached(cell) -> dict:
    """The cell's attachments (``{name: {mime type: data}}``), {} when none or not a mapping."""
    attached = cell.get("attachments")
    return attached if isinstance(attached, dict) else {}


def _answers_in_their_cells(nb, grade_ids: set[str]):
    """``nb`` with each answer written below its answer cell moved into it: formgrader shows the
    graded cell, and showed the student's text as another cell under it."""
    for index in reversed([i for i, c in enumerate(nb.cells) if grade_id(c) in grade_ids]):
        taken = _answer_cells(nb.cells, index)
        if len(taken) > 1 and nb.cells[index].cell_type == "markdown":
            nb.cells[index].source = _answer_text(taken)
            attached = {}  # the images of the cells below, which their text shows
            for cell in taken:
                attached |= _attached(cell)
            if attached:
                nb.cells[index].attachments = attached
            moved = {id(cell) for cell in taken[1:]}
            nb.cells = [cell for cell in nb.cells if id(cell) not in moved]
    return nb


def _write_job(nb, ctx: Context, work: Path, table: dict) -> tuple[Path, dict]:
    """``(job folder, requests per test)``: the notebook and ``job.json`` the worker runs."""
    spec = ctx.spec
    job = work / "job"
    job.mkdir()
    nbformat.write(nb, job / "notebook.ipynb")
    plan, by_test = _plan(spec, ctx.student_nb, job, table)
    job_spec = {
        "work": str(work),
        "template_home": str(ctx.template_home),
        "notebook": spec.notebook,
        "sandbox": ctx.sandbox,
        "limits": asdict(ctx.limits),
        "cell_timeout": ctx.cell_timeout,
        "request_timeout": max(30, ctx.cell_timeout),
        "notebook_timeout": ctx.notebook_timeout,
        "plan": plan,
        "env": {
            "OMP_NUM_THREADS": str(ctx.threads),
            "MKL_NUM_THREADS": str(ctx.threads),
            "UNET_TP_HOME": f"{HOME}/unet_tp_home",
            **GRADING_NOTEBOOK_ENV,
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        },
    }
    (job / "job.json").write_text(json.dumps(job_spec))
    return job, by_test


def _run_notes(
    job: Path,
    nb,
    labels: dict,
    changed=(),
    events=(),
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
) -> tuple[list[str], list[str]]:
    """``(notes, review lines)`` of the run: failed cells, what the sandbox refused (read from
    outside the kernel) and what the kernel itself reported (:func:`_kernel_log`)."""
    executed = nb
    with contextlib.suppress(FileNotFoundError, GradingError):  # (read as a submission is: the
        executed = repair.read_submission(job / "executed.ipynb")  # kernel made its outputs)
    notes, review = _cell_notes(executed, labels, notebook_timeout)
    report = job / "execute.json"
    executed_report = json.loads(report.read_text()) if report.exists() else {}
    for kind, count in executed_report.get("observed", {}).items():
        review.append(f"the sandbox refused: {_OBSERVED.get(kind, kind)} ({count})")
    if replaced := executed_report.get("replaced"):  # (found by the worker's request cells)
        review.append(f"{M.HARNESS_REPLACED} ({replaced} requests not asked)")
    if changed:  # (answers the harness did not say it wrote: _kernel_log)
        review.append(M.ANSWERS_CHANGED.format(steps=", ".join(changed)))
    log = job / "kernel_stderr.log"
    if log.exists() and log.stat().st_size > MAX_LOG_BYTES:
        review.append(f"the notebook {FLOODED_LOG}")
    return notes, [*review, *_event_lines(events)]


def _event_lines(events) -> list[str]:
    """The review lines of the kernel's notes, those alike but for their numbers as one line
    with their count (red team 77: 200 lines of torch.fx's "<eval_with_key>.N"), then one line
    if there were more notes than were read."""
    lines: list[str] = []
    alike: dict[str, int] = {}  # a line's shape (its numbers left out) -> its index in lines
    more = [0] * len(events)
    for event in events:
        if event is None:
            lines.append(f"the notebook {FLOODED_EVENTS}")
            break
        reason = _EVENT_REASONS.get(event["kind"], event["kind"])
        line = f"the notebook {reason}: {event['detail']}"
        shape = re.sub(r"\d+", "#", line)
        if shape in alike:
            more[alike[shape]] += 1
        else:
            alike[shape] = len(lines)
            lines.append(line)
    return [
        f"{line} (and {more[i]} more like it)" if more[i] else line for i, line in enumerate(lines)
    ]


def _add_event(events: list, seen: set, line: bytes) -> None:
    """A note the kernel wrote on its standard error (``unet_tp_harness._note``) added to
    ``events``: each note once, at most ``MAX_EVENTS`` of them, then None if there were more."""
    with contextlib.suppress(json.JSONDecodeError, RecursionError, UnicodeDecodeError):
        event = json.loads(line[len(_EVENT) :])
        if not isinstance(event, dict) or not {"kind", "detail"} <= set(event):
            return
        key = (str(event["kind"])[:100], str(event["detail"])[:200])
        if key in seen:
            return
        if len(seen) == MAX_EVENTS:
            events.append(None)
            return
        seen.add(key)
        events.append({"kind": key[0], "detail": key[1]})


def _lines(f, limit: int, longest: int = 1 << 16):
    """The lines of the first ``limit`` bytes of ``f``, those over ``longest`` bytes left out (a
    note is one short line), read a MiB at a time."""
    left, rest = limit, b""
    while left > 0 and (chunk := f.read(min(1 << 20, left))):
        left -= len(chunk)
        *whole, rest = (rest + chunk).split(b"\n")
        yield from (line for line in whole if len(line) <= longest)
        rest = rest if len(rest) <= longest else b"x" * (longest + 1)  # (its end: not a note)
    if len(rest) <= longest:
        yield rest


def self_check_hint(said: str, longest: int = 600) -> str:
    """What a failed self-check said, for the block's message: cut at the end of a line (honest
    round 33's page ended in "ups.0 (x, skip")."""
    return said if len(said) <= longest else said[:longest].rsplit("\n", 1)[0] + "\n  …"


def _judge(spec, table: dict, answers: dict, by_test: dict, forbidden: dict) -> tuple[dict, dict]:
    """Block and test scores: a forbidden call costs its block, else the answers are judged; a
    failed visible check gives its block's hint."""
    verdicts, hints = {}, {}
    for gid, (block, test) in spec.tests.items():
        if gid in forbidden:
            verdicts[gid] = Verdict(False, forbidden[gid])
        elif ran := _ran(answers, by_test[gid]):
            course = ran.split(".")[0] == static.COURSE_PACKAGE or not block.forbidden_why
            why = M.OWN_CODE.format(block=block.id) if course else block.forbidden_why
            verdicts[gid] = Verdict(
                False, M.RAN_FORBIDDEN.format(block=block.id, what=ran, why=why)
            )
        else:
            verdicts[gid] = judge(table[test.compare], answers, by_test[gid])
        visible = answers.get(f"{gid}.visible")
        if visible and visible[0].get("passed") is False and visible[0].get("message"):
            hints[gid] = self_check_hint(str(visible[0]["message"]))
    blocks, tests = block_scores(spec, verdicts, hints)
    for gid, (block, _) in spec.tests.items():  # (honest round 29: (a)'s line, "this block")
        if fault := getattr(forbidden, "at_fault", {}).get(gid):
            blocks[block.id].at_fault = fault
    return blocks, tests


def _ran(answers: dict, requests: list[Request]) -> str:
    """The first thing the kernel says an answer ran that its block forbids ("": none). Believed
    against the answer only: a kernel that hides it is judged on its values, as without it."""
    for req in requests:
        answer = answers.get(req.name)
        meta = answer[0] if isinstance(answer, tuple) and isinstance(answer[0], dict) else {}
        ran = meta.get("ran")
        for what in ran if isinstance(ran, list) else ():
            if isinstance(what, str) and what:  # (the watch's own sentences whole)
                whole = what in (
                    M.UNWATCHED,
                    M.AROUND,
                    M.SERVED,
                    M.FOREIGN,
                    M.REBUILT,
                    M.REQUESTS_READ,
                )
                return what if whole else what[:120]
    return ""


def _prewarm(home: Path) -> None:
    """The sample cases and their slice cache the data cell makes, copied into ``home`` for every
    notebook's home; made once and kept between runs in the kit's working folder (``grading_home/``,
    by a hash of the student package, what the notebook is told and the versions)."""
    from unet_tp.fileio import unet_tp_home

    files = sorted(STUDENT_PACKAGE.rglob("*.py"))
    digest = inputs_hash(files, STUDENT_PACKAGE, [sorted(GRADING_NOTEBOOK_ENV.items())])
    kept = unet_tp_home() / "grading_home" / digest[:16]
    building = kept.with_name(f".{kept.name}.{os.getpid()}")
    if not kept.is_dir():
        for old in kept.parent.glob("*"):  # an earlier package's (40 MB each), or a stopped run's
            if not old.name.startswith(".") or time.time() - old.stat().st_mtime > 3600:
                remove_tree(old)
        _prewarm_in(building)
        with contextlib.suppress(OSError):  # another run made it meanwhile: theirs is the same
            building.rename(kept)
    shutil.copytree(kept if kept.is_dir() else building, home, dirs_exist_ok=True)
    remove_tree(building)


def _prewarm_in(home: Path) -> None:
    """Make the grading's sample cases and their slice cache in ``home``."""
    from unet_tp.data.synth import default_sample_dir, sample_cases

    data_home = home / "unet_tp_home"
    release = sample_cases(cases=GRADING_SAMPLE_CASES, seed=0)
    # not the hidden files of a write in progress (another grading run making the cases)
    shutil.copytree(
        release,
        default_sample_dir(0, data_home) / release.name,
        ignore=shutil.ignore_patterns(".*"),
    )
    code = (
        "import torch\n"
        "from unet_tp.notebook import get_data, notebook_config, prepare_slices\n"
        "_, config = notebook_config(torch.device('cpu'))\n"
        "prepare_slices(get_data('sample'), config)\n"  # the cases the notebook's cell uses
    )
    env = dict(os.environ, UNET_TP_HOME=str(data_home), **GRADING_NOTEBOOK_ENV)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def _snapshot(out: Path, everything: bool) -> dict[str, bytes]:
    """OUT's files by path, what the run reads of them only (its state and inputs) unless
    ``everything`` (a run without a sandbox, whose kernels could write there: put back)."""
    if not out.is_dir():
        return {}
    files = out.rglob("*") if everything else (out / STATE_FILE, out / INPUTS_FILE)
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in files
        if p.is_file() and p.name != LOCK_FILE and p.stat().st_size < 200_000_000
    }


@contextlib.contextmanager
def _only_run(out: Path):
    """OUT held by this run alone (instructor round 24: two runs on one OUT each removed what
    the other wrote): a second run is refused while the first holds the lock."""
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with open(out / LOCK_FILE, "a+") as lock:
            try:
                if fcntl is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GradingError(
                    f"{out}: another `unet-tp grade` is writing this folder; wait for it to "
                    "finish (or grade into another --out)"
                ) from None
            try:
                yield
            finally:
                (out / LOCK_FILE).unlink(missing_ok=True)
    finally:
        if made and not any(out.iterdir()):  # (nothing graded: no folder made for nothing)
            out.rmdir()


GRADEBOOK_FILE = "gradebook.db"
NBGRADER_GRADES = "nbgrader_grades.csv"  # `nbgrader export` run in OUT: its grades.csv


def _check_out(out: Path, submissions: Path | None = None) -> None:
    """``out`` is new, empty or an earlier run's (its ``grading_state.json``, ``results.json``, or
    ``gradebook.db``, written first: a run stopped before the others):
    grading writes ``grades.csv``, ``report.html``, ``feedback/``... there, and would overwrite
    (or, reading the folder to restore it, load into memory) the files of any other folder; and
    not inside ``submissions`` (:func:`_check_apart`)."""
    if submissions is not None:
        _check_apart(submissions, out)
    if out.exists() and not out.is_dir():
        raise GradingError(f"{out}: not a folder; choose a new or empty folder for --out")
    _check_writable(out)
    if not out.is_dir() or any(
        (out / name).is_file() for name in (STATE_FILE, RESULTS_FILE, GRADEBOOK_FILE)
    ):
        return
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # .DS_Store
    if names:
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise GradingError(
            f"{out}: holds files of its own ({shown}) and is no earlier grading run's folder: "
            "grading would overwrite them; choose a new or empty folder for --out"
        )


def _check_apart(submissions: Path, out: Path) -> None:
    """``out`` is not inside the submissions folder: a later run read its ``autograded/``
    notebooks as a student's (instructor round 20: a student "graded", 0)."""
    inside = submissions.is_dir() and out.resolve().is_relative_to(submissions.resolve())
    if inside:
        raise GradingError(
            f"{out}: inside the submissions folder {submissions}, where a later run would read "
            "its notebooks as a student's; choose an --out outside it"
        )


def _check_same_class(out: Path, state: dict, subs: list, force: bool) -> None:
    """An earlier run's ``out`` is graded again for its own class: fewer than half of its
    students in the submissions (another group's, instructor round 20: its grades and pages were
    replaced by this group's with a warning line; one late file, round 24: the others dropped
    from grades.csv) is refused but with ``--force``."""
    last = _last_class(out) or set(state)  # (the state keeps every student ever graded)
    here = last & {s.student_id for s in subs}
    if force or len(last) < 2 or 2 * len(here) >= len(last):
        return
    whose = "another group's?" if not here else "one student's late file?"
    raise GradingError(
        f"{out}: holds the grades of {len(last)} students of whom {len(here) or 'none'} "
        f"{'is' if len(here) < 2 else 'are'} in these submissions ({whose}); grading them here "
        f"would drop the other {len(last) - len(here)} from grades.csv and the LMS files: "
        "grade the class's whole download (only new or changed notebooks are graded again) or "
        "another --out, or pass --force to drop them"
    )


def _last_class(out: Path) -> set[str]:
    """The students of the last run's ``results.json`` (none if it cannot be read)."""
    try:
        data = json.loads((out / RESULTS_FILE).read_text(encoding="utf-8"))
        return {str(s["student_id"]) for s in data["students"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _check_writable(out: Path) -> None:
    """Grading writes ``out`` last: a folder it cannot write is said before the class is graded
    (it makes nothing: ``out``'s nearest existing folder is tried)."""
    try:
        check_writable(out)
    except OSError as exc:
        raise GradingError(os_error_message(exc)) from None


def _shown_by(progress):
    """``progress`` given each line as a terminal shows it (:func:`terminal_text`); a console
    closed (``| head``, ``less`` quit) ends the lines, not the grading (instructor round 22)."""
    closed = []

    def show(text: str) -> None:
        if not closed:
            try:
                progress(terminal_text(text))
            except BrokenPipeError:
                closed.append(True)

    return show


def grade_all(
    submissions: Path,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    pattern: str | None = None,
    db_url: str | None = None,
    cell_timeout: int = CELL_TIMEOUT,
    notebook_timeout: int = NOTEBOOK_TIMEOUT,
    memory_limit: int | None = Limits.memory_bytes,
    disk_limit: int | None = Limits.disk_bytes,
    sandbox: str = "bwrap",
    progress=print,
) -> list[Result]:
    """Grade every submission; write grades, results, feedback and gradebook in ``out``.

    Raises:
        GradingError: nothing to grade, a bad ``pattern``, an ``out`` holding other files.
        SandboxUnavailable: ``sandbox="bwrap"`` and no sandbox can start here.
    """
    out = Path(out)
    _check_out(out, Path(submissions))
    progress = _shown_by(progress)  # the names in its lines are the students' (a file's)
    db_arg, db_url = db_url, db_url or f"sqlite:///{(out / GRADEBOOK_FILE).resolve()}"
    with _only_run(out), tempfile.TemporaryDirectory(prefix="unet-tp-grading-") as tmp:
        before = _snapshot(out, everything=sandbox == "none")  # (put back what a kernel wrote)
        state = read_state(before.get(STATE_FILE), out / STATE_FILE)
        inputs = grading_inputs(sandbox)
        tmp = Path(tmp)
        student_nbs = {k: nbformat.read(p, 4) for k, p in course.STUDENT_NOTEBOOKS.items()}
        as_given = handouts_as_given(list(student_nbs.values()))
        subs = collect(Path(submissions), tmp, pattern, as_given)
        if not subs:
            raise GradingError(f"{submissions}: no .ipynb file found")
        ctx = Context(
            spec=assignment.load(),
            student_nb=nbformat.read(course.STUDENT_NOTEBOOK, 4),
            student_nbs=student_nbs,
            template_home=tmp / "home",
            sandbox=sandbox,
            limits=Limits(memory_bytes=memory_limit, disk_bytes=disk_limit),
            cell_timeout=cell_timeout,
            notebook_timeout=notebook_timeout,
            threads=kernel_threads(jobs),
        )
        run = _Run(out, ctx, state, inputs, db_arg, db_url, tmp, progress, before)
        todo, kept = run.plan(subs, force, read_inputs(before.get(INPUTS_FILE)))
        try:
            fresh = _grade_many(todo, ctx, tmp, jobs, progress) if todo else []
        except Interrupted as stop:
            raise run.stopped(stop, kept, [s for s, _ in todo], force) from None
        _undo_writes(out, before, progress, sandbox)
        results = sorted(kept + fresh, key=lambda r: r.student_id)
        graded, shown = run.keep(results, fresh)
        run.write_outputs(graded, shown, fresh)
        _remove_pages(out, set(state) - {r.student_id for r in results})
    return shown.students


@dataclass
class _Run:
    """What a grading run writes in OUT once its notebooks are graded."""

    out: Path
    ctx: Context
    state: dict
    inputs: dict[str, str]  # what decides a grade (regrade.grading_inputs)
    db_arg: str | None
    db_url: str
    tmp: Path
    progress: Callable[[str], object]
    before: dict[str, bytes]  # OUT's files before the run (put back if a kernel wrote there)

    @functools.cached_property
    def inputs_hash(self) -> str:
        """The hash a notebook's state keeps of what decided its grade."""
        return grading_inputs_hash(self.inputs)

    def plan(self, subs: list[Submission], force: bool, last_inputs: dict | None):
        """``(to grade with why, kept)``, said on the console; ``last_inputs``: the last run's
        :func:`grading_inputs` (the why line names what changed)."""
        _check_same_class(self.out, self.state, subs, force)
        why = inputs_changed(last_inputs, self.inputs)
        limits = self.ctx.limits_run()
        todo, kept = to_regrade(subs, self.state, self.inputs_hash, force, limits, why)
        _announce(len(subs), todo, kept, self.progress, gone_line(self.state, subs))
        return todo, kept

    def keep(
        self, students: list[Result], fresh: list[Result], stopped: bool = False
    ) -> tuple[Results, Results]:
        """Store ``fresh`` (the gradebook, formgrader's folder, the feedback pages, the state
        the next run reads to keep them); the class's results (``students``, kept and fresh) as
        graded, and as shown (what formgrader set read from the gradebook: never saved, so a
        score by hand taken back there is undone). ``stopped``: by Ctrl-C."""
        _unknown_language(students)
        state = self.state
        previous = {r.student_id: a for r in fresh if (a := _old_answers(state, r)) is not None}
        cleared = write_gradebook(self.db_url, fresh, self.tmp, previous=previous)
        if cleared:
            self.progress(
                f"scores given by hand cleared, the file changed since: {', '.join(cleared)}"
            )
        ids = {r.student_id for r in fresh}  # (not those still being graded at a Ctrl-C)
        _write_course_folder(
            self.out, self.tmp / "autograded", self.db_arg, self.ctx.spec.assignment, ids
        )
        results = self.results(students, fresh)
        shown = with_manual_scores(copy.deepcopy(results), self.out)
        if stopped:  # (else every page: write_outputs)
            write_pages(self.out, shown, [s for s in shown.students if s.student_id in ids])
        limits = self.ctx.limits_run()
        write_state(self.out / STATE_FILE, state, fresh, self.inputs_hash, limits, stopped)
        if not stopped:  # (the next run names again what changed for the others)
            write_inputs(self.out, self.inputs)
        return results, shown

    def stopped(
        self, stop: Interrupted, kept: list[Result], todo: list, force: bool
    ) -> KeyboardInterrupt:
        """Ctrl-C: what finished stored (once what the kernels wrote into OUT is undone), the
        next run grades only the others (a ``--force`` run's others forgotten: graded by a run
        without it), Ctrl-C taken again once done; what the console says."""
        try:
            _undo_writes(self.out, self.before, self.progress, self.ctx.sandbox)
            return self._stopped(kept, stop.fresh, todo, force)
        finally:
            if stop.handler is not None:
                signal.signal(signal.SIGINT, stop.handler)

    def _stopped(
        self, kept: list[Result], fresh: list[Result], todo: list[Submission], force: bool
    ) -> KeyboardInterrupt:
        if not fresh:
            return KeyboardInterrupt(
                "grading stopped before a notebook was graded; nothing in the output folder changed"
            )
        if force:  # their old grades are what --force was to replace
            done = {r.student_id for r in fresh}
            for sub in todo:
                if sub.student_id not in done:
                    self.state.pop(sub.student_id, None)
        self.keep(sorted(kept + fresh, key=lambda r: r.student_id), fresh, stopped=True)
        again = "the same command without --force" if force else "the same command"
        return KeyboardInterrupt(
            f"grading stopped: {len(fresh)} of the {len(todo)} notebooks to grade were graded and "
            f"are kept (their feedback pages and gradebook rows written); {again} grades the "
            f"{len(todo) - len(fresh)} others; {self.out / GRADES_FILE}, {RESULTS_FILE} and the "
            "report are still the last finished run's"
        )

    def results(self, students: list[Result], fresh: list[Result]) -> Results:
        """The class's :class:`Results`, as graded."""
        spec = self.ctx.spec
        results = Results(
            assignment=spec.assignment,
            max_points=spec.max_points,
            blocks=[_info(BlockInfo, b) for b in spec.blocks],
            students=students,
            sandbox=self.ctx.sandbox,
            graded_at=_graded_at(self.out, fresh),
            questions=[_info(QuestionInfo, q) for q in spec.questions],
            gradebook=self.db_url if self.db_arg else "",
        )
        return results

    def write_outputs(self, results: Results, shown: Results, fresh: list[Result]) -> None:
        """``results.json`` (as graded), ``grades.csv``, every feedback page (their look or
        French edited since regrades no one) and the report (as shown); the LMS files exported
        before a run that graded again said to hold the old grades (instructor round 24)."""
        results.save(self.out)
        write_student_files(self.out, shown)
        write_report(self.out, shown)
        exported = sorted(p for p in exported_files(self.out) if (self.out / p).is_file())
        if fresh and exported:
            self.progress(
                f"note: the LMS files exported before this run ({_listed(exported)}) hold "
                "the grades before it: run `unet-tp export` again before uploading them"
            )


def _listed(paths: list[str], shown: int = 8) -> str:
    """``paths`` joined, past ``shown`` counted (instructor round 25: the worksheet to upload
    was left out of three)."""
    more = f", … (+{len(paths) - shown} more)" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def _announce(count: int, todo: list, kept: list, progress, gone: str) -> None:
    """The console's line on what the run grades, the one on why, and ``gone`` (if any)."""
    progress(
        f"{count} submissions: {len(todo)} to grade, {len(kept)} unchanged"
        + (" (--force regrades them)" if kept else "")
    )
    if todo:
        progress(why_line(todo))
    if gone:
        progress(gone)


def _unknown_language(results: list[Result]) -> None:
    """A file that could not be read gets the language its name says (``TP_sujet_fr.ipynb``),
    else the class's most common: its page and LMS comment in words the student reads."""
    known = Counter(r.language for r in results if r.language)
    common = known.most_common(1)[0][0] if known else "en"
    for r in results:
        if not r.language:
            r.language = "fr" if re.search(r"_fr\b", Path(r.file).stem) else common


def _old_answers(state: dict, fresh: Result) -> dict[str, str] | None:
    """The written answers of ``fresh``'s student when last graded, from another file (None: not
    known, or the same file regraded: a new grader, ``--force``, whose reading of the answers may
    differ when the student rewrote nothing)."""
    read = answers_read(state.get(fresh.student_id, {}))
    if not read or read.get("sha256") == fresh.sha256:
        return None
    answers = read.get("answers")
    return answers if isinstance(answers, dict) else None


def _grade_many(todo: list, ctx: Context, tmp: Path, jobs: int, progress) -> list[Result]:
    """Grade ``(submission, why)`` pairs, ``jobs`` at a time, once the sandbox is checked."""
    if ctx.sandbox == "bwrap":
        check_available(tmp)
        probe = Sandbox(tmp, tmp, ctx.limits, private=tmp / "probe-private")
        probe.open_cgroups()
        progress(f"sandbox: bubblewrap, no network, {probe.process_limit}")
        probe.close_cgroups()
    else:
        progress(
            "sandbox: NONE (--sandbox none): notebooks run with your rights; every row is flagged for review"
        )
    ctx.template_home.mkdir()
    _prewarm(ctx.template_home)
    fresh: list[Result] = []
    WORKERS.stopped = False
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = [(pool.submit(grade_submission, s, ctx), why) for s, why in todo]
        for fut, why in futures:
            r = fut.result()
            r.regraded = why
            fresh.append(r)
            flag = "  REVIEW" if r.review else ""
            progress(f"  {r.who:20s} {r.total:5.1f} / {r.max_points:g}  ({r.seconds:.0f} s){flag}")
    except BaseException as exc:  # Ctrl-C: no queued notebook starts (the pool's exit ran them all)
        handler = None
        if isinstance(exc, KeyboardInterrupt):  # a second Ctrl-C while the graded are kept
            handler = _hold_interrupts()  # lost them all (instructor round 22)
            with contextlib.suppress(OSError):
                progress(f"stopping: keeping the {len(fresh)} notebook(s) graded (a few seconds)")
        pool.shutdown(wait=False, cancel_futures=True)
        WORKERS.stop()  # and the running ones stop
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(fresh, handler) from None
        raise
    pool.shutdown()
    return fresh


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during grading, with the results of the notebooks that finished before it, and
    the Ctrl-C handler to put back once they are kept."""

    def __init__(self, fresh: list[Result], handler=None) -> None:
        super().__init__()
        self.fresh, self.handler = fresh, handler


def _hold_interrupts():
    """Ignore Ctrl-C (in the main thread) while what was graded is kept; the handler it had."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _undo_writes(out: Path, before: dict[str, bytes], progress, sandbox: str) -> None:
    """Remove or restore what appeared or changed in OUT while grading without a sandbox (its
    kernels could write there; a sandbox's see no OUT, and what changed there is the
    instructor's: formgrader's scores, an export, instructor round 24)."""
    if sandbox != "none":
        return
    now = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {LOCK_FILE}
    for rel in now - set(before):
        (out / rel).unlink()
        progress(f"  removed {rel}: written into the output folder during grading")
    for rel, data in before.items():
        path = out / rel
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            progress(f"  restored {rel}: changed during grading")


def _write_course_folder(
    out: Path, autograded: Path, db_arg: str | None, assignment: str, ids: set[str]
) -> None:
    """``OUT`` as nbgrader's course folder for formgrader (``autograded/``, the config, and
    ``source/<assignment>/``, empty, by which formgrader lists the assignment: without it its
    Manual Grading page was empty). The config finds OUT and its gradebook from where it lies:
    a folder moved or copied keeps its own (it read and wrote the old folder's gradebook)."""
    for notebook in sorted(autograded.glob("*/*/*.ipynb")):
        if notebook.relative_to(autograded).parts[0] not in ids:
            continue
        target = out / "autograded" / notebook.relative_to(autograded)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
    (out / "source" / assignment).mkdir(parents=True, exist_ok=True)
    config = (
        "# written by `unet-tp grade`: grade the written answers here with nbgrader's formgrader\n"
        "import os\n\n"
        "here = os.path.dirname(os.path.abspath(__file__))  # (OUT, wherever it is moved)\n"
        "c.CourseDirectory.root = here\n"
        + (
            f"c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(here, {GRADEBOOK_FILE!r})\n"
            if db_arg is None  # (OUT's own gradebook; else the --db given)
            else f"c.CourseDirectory.db_url = {db_arg!r}\n"
        )
        + "# `nbgrader export` writes here, not over unet-tp's grades.csv (instructor round 28)\n"
        + f"c.ExportPlugin.to = os.path.join(here, {NBGRADER_GRADES!r})\n"
    )
    with atomic_write(out / "nbgrader_config.py", "w") as f:
        f.write(config)


def _graded_at(out: Path, fresh: list[Result]) -> str:
    """Now, or when the results were last graded if this run graded nothing (a re-run that
    found every notebook unchanged does not make the report look newer than its grades)."""
    earlier = ""
    if not fresh:
        with contextlib.suppress(OSError, ValueError):
            earlier = Results.load(out).graded_at
    return earlier or datetime.now(timezone.utc).isoformat(timespec="seconds")


def _remove_pages(out: Path, gone: set[str]) -> None:
    """Take out of ``OUT/feedback/`` the pages of students graded earlier and not in this run's
    grades (:func:`gone_line` names them): a page handed out from the folder would be stale."""
    for student_id in gone:
        page = out / "feedback" / f"{student_id}.html"
        if page.parent == out / "feedback" and not student_id.startswith("."):  # a plain name
            page.unlink(missing_ok=True)


def _info(cls, item):
    """The record ``cls`` of a block or question of the spec (its fields of the same names)."""
    values = {f.name: getattr(item, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})


def _who(r: Result, width: int) -> str:
    """``Dupont Marie (4242)`` in ``width`` characters, the name cut before the id: two students
    of one name in an LMS download are told apart by their ids."""
    if len(r.who) <= width or r.who == r.student_id:
        return r.who[:width]
    return f"{r.name[: max(1, width - len(r.student_id) - 4)]}… ({r.student_id})"


def summary_table(results: list[Result]) -> str:
    """One line per student: points per block, total, and the first thing that went wrong."""
    blocks = assignment.load().blocks
    width = min(32, max([7, *(len(r.who) for r in results)]))
    lines = [f"{'student':{width}s} " + " ".join(f"{b.id:>4s}" for b in blocks) + "  total  notes"]
    for r in results:
        messages = r.messages()
        first = messages[0] if messages else ""
        more = f" (+{len(messages) - 1} more)" if len(messages) > 1 else ""
        lines.append(
            f"{_who(r, width):{width}s} "
            + " ".join(f"{r.block(b.id).points:4g}" for b in blocks)
            + f"  {r.total:5g}{'*' if r.pending else ' '} {first[:90]}{more}"
        )
    if any(r.pending for r in results):  # (instructor round 25: a partial total read as final)
        lines.append("* so far: written answers to grade by hand in formgrader")
    return "\n".join(map(terminal_text, lines))  # an exception's message raised by their code
