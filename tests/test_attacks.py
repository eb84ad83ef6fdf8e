"""The white-box attacks of ``tests/attacks.py`` graded in one batch, every third followed by a
correct notebook: no attack earns more than its notebook without the attack, the correct notebooks keep
full marks, nothing of the grading machine changes (checkout, canary folders, OUT), the grader's
memory stays bounded, and the attacks that reach into the interpreter, the harness or the course
package's answers are flagged for review."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from attacks import (
    ATTACKS,
    FULL,
    SCRATCH,
    Targets,
    deep_json_submission,
    hosts,
    prepare,
    scratch_notebook,
    solved,
    untouched,
)

from autograder import build
from autograder.grade import grade_all

pytestmark = pytest.mark.slow

HOSTS = hosts()
UNREADABLE = {
    "h90_deep_json": deep_json_submission(),
    "h91_huge_integer": '{"cells": [' + "9" * 5000 + "]}",
}
# a correct notebook after every third host and after the last: what an attack left behind (a
# file, a process, a changed cache) shows in the next ones (a follower after each one cost 15
# more notebooks, two minutes of the suite, and found nothing those do not)
FOLLOWED = sorted(HOSTS)[2::3] + sorted(HOSTS)[-1:]
CORRECT = sorted({HOSTS[h].follower for h in FOLLOWED} | {n[:3] + "z_correct" for n in UNREADABLE})
# bytes of the grading process's peak memory: the batch of 45 notebooks measured +480 MiB
# (2026-12-01; the reference runs in float64 of parallel jobs), a bomb read whole is GiBs
MEMORY_GROWTH_LIMIT = 1 << 30
# what the grader writes in OUT; anything else there was put by a notebook
OUT_FILES = {
    "grades.csv", "results.json", "grading_state.json", "gradebook.db", "report.html",
    "nbgrader_config.py", "grading_inputs.json",
}  # fmt: skip


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", encoding="utf-8-sig") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


def _blocks(row) -> dict[str, int]:
    return {k[0]: int(float(row[k])) for k in row if k[:2] in {f"{b}_" for b in FULL}}


def _peak_memory(reset: bool = False) -> int:
    """The peak resident memory of this process, in bytes. ``reset``: restart the peak from the
    current memory (Linux: /proc/self/clear_refs), so that an earlier test's peak hides nothing."""
    if reset:
        with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(x for x in status if x.startswith("VmHWM:")).split()[1]) * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak if sys.platform == "darwin" else peak * 1024


def _checkout() -> dict[str, str]:
    """sha256 of every file of the checkout git knows."""
    root = build.REPO_ROOT
    names = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.split(b"\0")
    found = {}
    for name in filter(None, names):
        path = root / name.decode()
        if path.is_file():
            found[name.decode()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _tree(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's sha256, 'dir', or 'link -> target'."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = f"link -> {path.readlink()}"
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _diff(before: dict, after: dict) -> list[str]:
    return sorted(
        f"{k}: {before.get(k, 'absent')} -> {after.get(k, 'absent')}"
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k)
    )


KEPT = "changed_during_the_batch"  # beside OUT: what a file of autograder/ held after the batch


@dataclass
class Batch:
    out: Path
    rows: dict[str, dict]
    lines: list[str]
    checkout: list[str]
    canary: list[str]
    memory_growth: int
    seconds: float


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    """Every attack notebook, every third followed by a correct notebook, graded in one batch (2
    workers; the student ids give the order: ``h01_...``, ``h02_...``, ``h03_...``,
    ``h03z_correct``...)."""
    tmp = tmp_path_factory.mktemp("attacks")
    subs, out, canary = tmp / "subs", tmp / "out", tmp / "canary"
    targets = Targets(canary=canary, out=out)
    prepare(targets)
    notebooks = {h.name: h.notebook(targets) for h in HOSTS.values()}
    notebooks |= {name: solved() for name in CORRECT}
    notebooks[SCRATCH] = scratch_notebook()
    for name, nb in notebooks.items():
        path = subs / name / "TP_sujet.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb, indent=1))
    for name, text in UNREADABLE.items():  # files no json.dumps can write
        path = subs / name / "TP_sujet.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(text)
    out.mkdir()
    canary_before, checkout_before = _tree(canary), _checkout()
    originals = {n: (build.REPO_ROOT / n).read_bytes() for n in checkout_before}
    lines: list[str] = []
    memory_before = _peak_memory(reset=True)
    t0 = time.perf_counter()
    try:
        grade_all(subs, out, jobs=2, cell_timeout=60, progress=lines.append)
    finally:
        seconds = time.perf_counter() - t0
        memory_growth = _peak_memory() - memory_before
        checkout_after = _checkout()
        kept = tmp / KEPT  # an attack's write, or a developer's edit
        for name in _diff(checkout_before, checkout_after):  # put back what an attack broke
            name = name.split(":")[0]
            if name.startswith("autograder/"):  # (not a file someone is editing elsewhere)
                changed = build.REPO_ROOT / name
                with contextlib.suppress(OSError):  # (none to keep where an attack deleted it)
                    (kept / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(changed, kept / name)
                with contextlib.suppress(KeyError, OSError):
                    changed.write_bytes(originals[name])
                    print(f"{name} changed during the batch: put back, the change kept in {kept}")
    print("\n".join(lines))
    print(f"{len(notebooks)} notebooks: {seconds:.0f} s, peak memory +{memory_growth >> 20} MiB")
    return Batch(
        out,
        _rows(out),
        lines,
        _diff(checkout_before, checkout_after),
        _diff(canary_before, _tree(canary)),
        memory_growth,
        seconds,
    )


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_no_attack_earns_more_than_its_notebook_without_it(batch, name):
    """Each attack's blocks in its host notebook: no more than the notebook without the attack."""
    a = ATTACKS[name]
    row = batch.rows[a.host]
    earned, limit = _blocks(row), untouched(a)
    over = {
        b: f"{earned[b]}/{FULL[b]} (without the attack {limit[b]})"
        for b in a.blocks
        if earned[b] > limit[b]
    }
    assert not over, f"{name} ({a.description}) in {a.host}: {over}; notes: {row['notes'][:2000]}"


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_no_attack_notebook_earns_more_than_without_its_attacks(batch, host):
    row = batch.rows[host]
    earned, limit = _blocks(row), untouched(host)
    over = {b: earned[b] for b in FULL if earned[b] > limit[b]}
    assert not over, f"{host}: {over}; notes: {row['notes'][:2000]}"


def test_every_correct_notebook_keeps_full_marks(batch):
    lost = {
        name: f"{batch.rows[name]['total']}: {batch.rows[name]['notes'][:300]}"
        for name in CORRECT
        if _blocks(batch.rows[name]) != FULL
    }
    assert not lost, lost


def test_no_file_of_the_checkout_changes(batch):
    """(A file of ``autograder/`` that changed is put back after the batch; what it held then,
    a developer's edit made during the run perhaps, is kept next to the batch's output.)"""
    kept = batch.out.parent / KEPT
    assert not batch.checkout, (batch.checkout, f"the changed files are kept in {kept}")


def test_nothing_changes_in_the_canary_folders(batch):
    assert not batch.canary, batch.canary


def _autograded(rel: str, what: str, students: set[str]) -> bool:
    """nbgrader's ``autograded/<student>/TP_sujet/TP_sujet.ipynb`` (formgrader's), folders and
    regular files only."""
    parts = rel.split("/")
    if parts[0] != "autograded" or what.startswith("link") or len(parts) > 4:
        return False
    if len(parts) > 1 and parts[1] not in students:
        return False
    return (what == "dir") == (len(parts) < 4) and parts[2:] in (
        [],
        ["TP_sujet"],
        ["TP_sujet", "TP_sujet.ipynb"],
    )


def test_out_holds_only_what_the_grader_writes(batch):
    students = set(batch.rows)
    strays = [
        rel
        for rel, what in _tree(batch.out).items()
        if not (
            rel in OUT_FILES
            or (rel in ("feedback", "source", "source/TP_sujet") and what == "dir")
            or (
                rel.startswith("feedback/")
                and rel.endswith(".html")
                and rel[len("feedback/") : -len(".html")] in students
                and not what.startswith(("dir", "link"))
            )
            or _autograded(rel, what, students)
        )
    ]
    undone = [line for line in batch.lines if "during grading" in line]
    assert not strays and not undone, (strays, undone)


def test_the_grader_memory_stays_bounded(batch):
    assert batch.memory_growth <= MEMORY_GROWTH_LIMIT, (
        f"peak memory of the grading process grew by {batch.memory_growth / 2**20:.0f} MiB"
    )


@pytest.mark.parametrize("name", sorted(n for n, a in ATTACKS.items() if a.review))
def test_attacks_are_flagged_for_review(batch, name):
    """The notebook of every attack that reaches into the interpreter, the harness, the grader's
    files or the course package's answers is flagged (a notebook that holds several attacks is
    flagged once)."""
    row = batch.rows[ATTACKS[name].host]
    assert row["review"] == "yes", f"{name} in {ATTACKS[name].host}: {row['notes'][:1000]}"


def test_a_scratch_cell_after_the_test_does_not_change_the_answer(batch):
    """A student's experiment after (a)'s test cell (DoubleConv redefined, wrongly) is not the
    answer: (a) keeps its points. Fails on the old grader (0906cb6): it judged the names as they
    stood at the end of the notebook."""
    row = batch.rows[SCRATCH]
    assert _blocks(row) == FULL, row["notes"][:1000]


def test_an_unreadable_file_gets_zero_and_the_batch_goes_on(batch):
    """JSON nested past Python's recursion limit, an integer past its digit limit: each file
    gets 0 with a note, and every other notebook is graded (the followers keep 20/20)."""
    for name in UNREADABLE:
        row = batch.rows[name]
        assert row["total"] == "0" and "not a notebook" in row["notes"], row["notes"][:300]
