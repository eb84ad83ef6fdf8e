"""What a grading run grades again: new or changed submissions, or every one when what decides a
grade changed (:func:`grading_inputs_hash`); ``OUT/grading_state.json`` remembers what was graded
from what."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from autograder import build as course
from autograder.collect import Submission
from autograder.results import Result, text_safe
from unet_tp.fileio import atomic_write

STATE_FILE = "grading_state.json"
CUT_SHORT = "the grading machine cut its last grading short"
# the instructor's commands around grading and the pages' look and French, which decide no
# grade: editing them regrades no one (instructor round 23: a rule added to page.css regraded the
# class; the pages, the class report and the exports are written again from the results at
# each run)
NOT_DECIDING = (
    *("cli.py", "export.py", "model_commands.py", "model_flags.py", "publish.py", "report.py"),
    *("feedback.py", "messages_fr.py"),  # (messages_fr.json and page.css: not read either)
)


def inputs_hash(files: list[Path], root: Path, versions: list) -> str:
    """A hash of ``files`` (their paths under ``root`` and bytes), then ``versions`` and those of
    Python, torch, numpy and torchvision (when installed)."""
    import numpy
    import torch

    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    versions = [sys.version, torch.__version__, numpy.__version__, *versions]
    with contextlib.suppress(PackageNotFoundError):  # (its metadata: an import takes seconds)
        versions.append(version("torchvision"))
    h.update(repr(versions).encode())
    return h.hexdigest()


def grading_inputs(sandbox: str) -> dict[str, str]:
    """What decides a grade, each file by its path and digest: the reference, the spec, the
    grader's comparisons and harness, the student package, the student notebooks (each language);
    the ``google.colab`` every kernel imports; then the grading environment's versions and the
    sandbox mode."""
    root = course.REPO_ROOT
    files = sorted(
        [*root.glob("solutions/*.py")]
        + [p for p in root.glob("autograder/*.py") if p.name not in NOT_DECIDING]
        + [*root.glob("autograder/*.toml"), *root.glob("autograder/colab_stub/**/*.py")]
        + [*root.glob("unet_tp/**/*.py")]
        + sorted({course.STUDENT_NOTEBOOK, *course.STUDENT_NOTEBOOKS.values()})
    )
    files = [p for p in files if p.is_file() and not p.name.startswith(".")]  # (an editor's
    # lock file, `.#unet.py`, a dangling link: no input, and no stop)
    inputs = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }
    inputs[VERSIONS] = inputs_hash([], root, [])  # Python, torch, numpy, torchvision
    inputs[SANDBOX] = sandbox
    return inputs


VERSIONS, SANDBOX = "(versions of Python, torch, numpy, torchvision)", "(the sandbox)"
SHOWN_CHANGES = 4  # inputs named in the why line


def grading_inputs_hash(inputs: dict[str, str]) -> str:
    """One hash of :func:`grading_inputs`."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def inputs_changed(old: dict | None, new: dict[str, str]) -> str:
    """``the grader changed (autograder/static.py, solutions/unet.py)``: what decides a grade
    and changed since ``old`` (the last run's :func:`grading_inputs`; None: not known): an
    instructor who fixed a typo in a comment sees why the whole class is graded again."""
    if not isinstance(old, dict):
        return INPUTS_CHANGED
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    named = ", ".join(changed[:SHOWN_CHANGES]) + (", …" if len(changed) > SHOWN_CHANGES else "")
    return f"{INPUTS_CHANGED}: {named}" if changed else INPUTS_CHANGED


def read_inputs(data: bytes | None) -> dict | None:
    """The last run's :func:`grading_inputs` from its file's bytes (None: none, or unreadable)."""
    with contextlib.suppress(ValueError, TypeError):
        inputs = json.loads(data)
        return inputs if isinstance(inputs, dict) else None
    return None


def write_inputs(out: Path, inputs: dict[str, str]) -> None:
    """Remember this run's :func:`grading_inputs` in ``out`` for the next run's why line."""
    with atomic_write(out / INPUTS_FILE, "w") as f:
        json.dump(inputs, f, indent=1)


INPUTS_CHANGED = "the reference, tests or grading environment changed"
INPUTS_FILE = "grading_inputs.json"  # the last run's grading_inputs, read by inputs_changed


def read_state(data: bytes | None, path: Path) -> dict[str, dict]:
    """The state file's content (``{student_id: {sha256, inputs, result}}``), empty if none.

    Raises:
        ValueError: the file is not a grading state (one line, naming it).
    """
    try:
        state = json.loads(data or b"{}")
    except ValueError as exc:
        raise ValueError(f"{path}: not a grading state ({exc}); remove it to regrade all") from None
    if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
        raise ValueError(f"{path}: not a grading state; remove it to regrade all")
    return state


def to_regrade(
    subs: list[Submission],
    state: dict,
    inputs_hash: str,
    force: bool,
    limits: dict | None = None,
    inputs_why: str = INPUTS_CHANGED,
) -> tuple[list[tuple[Submission, str]], list[Result]]:
    """``(submissions to grade with why, results kept from the last run)``; ``limits``: the
    run's time and memory limits (a notebook graded under others may grade differently);
    ``inputs_why``: what changed in what decides a grade (:func:`inputs_changed`)."""
    todo, kept = [], []
    for s in subs:
        old = state.get(s.student_id)
        if force:
            todo.append((s, "--force"))
        elif not old:
            todo.append((s, "new submission"))
        elif old.get("sha256") != s.sha256:
            todo.append((s, "the file changed"))
        elif old.get("inputs") != inputs_hash:
            todo.append((s, inputs_why))
        elif old.get("limits") != limits:
            todo.append((s, "the grading limits changed (timeouts, memory or disk)"))
        else:
            try:
                result = Result.from_json(old.get("result"), s.student_id)
            except ValueError:
                todo.append((s, "its saved grade could not be read"))
                continue
            if not _still_said(result, s):
                todo.append((s, "its other files or review lines changed"))
                continue
            if result.interrupted and not old.get("retried"):  # once: a notebook may cause it
                todo.append((s, CUT_SHORT))
                continue
            result.late = s.late  # (as its file's name says now: a grade kept from before)
            if not old.get("stopped"):  # (graded by a run Ctrl-C stopped: said as such)
                result.regraded = None
            kept.append(result)
    return todo, kept


def _still_said(result: Result, sub: Submission) -> bool:
    """Whether ``result`` opens with what collecting says of ``sub`` now (its notes and review
    lines come first): Alice's file named as Bob's, graded alone, kept its grade without the
    review line and the '2 files' note once Bob's own, older, was put beside it."""
    notes, review = text_safe(sub.notes), text_safe(sub.review)
    return result.notes[: len(notes)] == notes and result.review[: len(review)] == review


def answers_read(old: dict) -> dict | None:
    """``{sha256, answers}``: the written answers last read of a student's state entry ``old``
    and the file they were read from (None: none), what the gradebook's scores by hand were given
    to; a run where the grader itself failed read none and keeps the earlier ones (the next run
    compared a re-submission's answers with none, the file being the failed run's, and kept
    the scores of the old answers)."""
    read = old.get("answers_read")
    if isinstance(read, dict):
        return read
    result = old.get("result")  # (a state written before answers_read)
    if isinstance(result, dict) and "sha256" in old:
        return {"sha256": old["sha256"], "answers": result.get("answers")}
    return None


SHOWN_WHO = 5  # students named per reason on the console


def _counted(who: list[str]) -> str:
    """``2: 4242, 77``, the first :data:`SHOWN_WHO` named (``…`` for the others)."""
    return f"{len(who)}: " + ", ".join(who[:SHOWN_WHO]) + (", …" if len(who) > SHOWN_WHO else "")


def why_line(todo: list[tuple[Submission, str]]) -> str:
    """Why the run grades what it grades, for the console (the report says it per student):
    ``why: the file changed (2: 4242, 77); new submission (1: 5001)``; "" when nothing."""
    by_why: dict[str, list[str]] = {}
    for sub, why in todo:
        by_why.setdefault(why, []).append(sub.student_id)
    parts = [f"{why} ({_counted(who)})" for why, who in by_why.items()]
    return "why: " + "; ".join(parts) if parts else ""


def gone_line(state: dict, subs: list[Submission]) -> str:
    """The console's warning on the students graded by an earlier run whose notebook this run
    does not find (a re-submission the grader does not read: ``TP.IPYNB``, ``.TP.ipynb``, a
    ``.py``), "" when none: they left the grades without a word, and the grade the LMS got
    from the earlier run stood."""
    found = {s.student_id for s in subs}
    gone = []
    for student_id in sorted(set(state) - found):
        result = state[student_id].get("result")
        name = result.get("name") if isinstance(result, dict) else None
        gone.append(f"{name} ({student_id})" if name and name != student_id else student_id)
    if not gone:
        return ""
    return (
        f"WARNING: graded by an earlier run, no notebook of theirs found now ({_counted(gone)}): "
        "not in these grades, their feedback pages taken out of feedback/; the grade the LMS got "
        "earlier stands until changed"
    )


def write_state(
    path: Path,
    state: dict,
    fresh: list[Result],
    inputs_hash: str,
    limits: dict | None = None,
    stopped: bool = False,
) -> None:
    """Remember what ``fresh`` was graded from, under which ``limits``, and whether it was cut
    short again when graded again for it (then kept: the notebook itself may cut it short);
    ``stopped``: by a run Ctrl-C stopped (the next run reports them as graded, and why)."""
    if not stopped:  # a run that ended: what a stopped one graded is its last run's now
        for entry in state.values():
            entry.pop("stopped", None)
    for r in fresh:
        read = answers_read(state.get(r.student_id, {}))  # kept if this run read none
        if not r.answers_unread:
            read = {"sha256": r.sha256, "answers": r.answers}
        state[r.student_id] = {
            "sha256": r.sha256,
            "inputs": inputs_hash,
            "limits": limits,
            "retried": bool(r.interrupted) and r.regraded == CUT_SHORT,
            "result": r.as_json(),
            "answers_read": read,
            **({"stopped": True} if stopped else {}),
        }
    with atomic_write(path, "w") as f:
        json.dump(state, f, indent=1)
