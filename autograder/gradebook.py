"""The nbgrader gradebook of a grading run (sqlite ``OUT/gradebook.db`` or any SQLAlchemy URL):
each test cell's points per student, and the written answers, graded by hand in nbgrader's
formgrader (``OUT`` is its course folder), whose ``manual_score`` :func:`with_manual_scores` reads
back, and the answers those scores were given to. A regrade never touches a score given by
hand but that of an answer since rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from pathlib import Path

import nbformat

from autograder import build as course
from autograder import messages as M
from autograder.results import Result, Results
from autograder.spec import load as load_spec


class GradebookError(ValueError):
    """The gradebook cannot be read (not a database, not nbgrader's): one line naming it."""


@contextlib.contextmanager
def _gradebook(url: str):
    """nbgrader's ``Gradebook`` at ``url`` (a context manager); a database that cannot be read
    (a damaged file, another program's) is a :class:`GradebookError` naming it, not
    SQLAlchemy's traceback."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    warnings.filterwarnings("ignore", module="nbgrader.api")  # SQLAlchemy autoflush notices
    course.nbgrader_ready()  # a new Gradebook reads alembic's head
    try:
        with Gradebook(url) as gb:
            yield gb
    except SQLAlchemyError as exc:
        where = url.removeprefix("sqlite:///")
        why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if "database is locked" in why:  # formgrader saving a score: the file is sound
            raise GradebookError(
                f"{where}: in use by another program ({why}), formgrader saving a score? "
                "run this again once it has finished"
            ) from exc
        raise GradebookError(
            f"{where}: not a readable nbgrader gradebook ({why}); restore it from a copy"
        ) from exc


ANSWERS_TABLE = "unet_tp_answers_read"  # beside nbgrader's tables, which it leaves alone


def _answers_read(gb) -> dict[str, tuple[str, object]]:
    """Each student's written answers as last read, with the sha256 of the file they were read
    from: what the scores given by hand were given to, kept in the gradebook itself (a state
    file deleted, or a new ``--out`` sharing the ``--db``, lost them and kept the old scores)."""
    from sqlalchemy import text

    gb.db.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {ANSWERS_TABLE} (student_id VARCHAR(128) PRIMARY KEY,"
            " sha256 VARCHAR(64) NOT NULL, answers TEXT NOT NULL)"
        )
    )
    read = {}
    for student_id, sha256, answers in gb.db.execute(text(f"SELECT * FROM {ANSWERS_TABLE}")):
        with contextlib.suppress(ValueError):
            read[student_id] = (sha256, json.loads(answers))
    return read


def _remember_answers(gb, r: Result) -> None:
    """Keep ``r``'s written answers as read (see :func:`_answers_read`)."""
    from sqlalchemy import text

    row = {"sid": r.student_id, "sha": r.sha256, "answers": json.dumps(r.answers)}
    gb.db.execute(text(f"DELETE FROM {ANSWERS_TABLE} WHERE student_id = :sid"), row)
    gb.db.execute(text(f"INSERT INTO {ANSWERS_TABLE} VALUES (:sid, :sha, :answers)"), row)


def _answers_before(stored: dict, previous: dict, r: Result) -> dict | None:
    """The written answers ``r``'s scores by hand were given to, when ``r`` was read from
    another file (the same file graded again, ``--force``, rewrote nothing); ``previous``
    (the state file of a run before the gradebook kept them) when the gradebook has none."""
    if r.student_id not in stored:
        return previous.get(r.student_id)
    sha256, answers = stored[r.student_id]
    return answers if sha256 != r.sha256 and isinstance(answers, dict) else None


def _grade(gb, grade_id: str, student_id: str):
    return gb.find_grade(grade_id, course.ASSIGNMENT, course.ASSIGNMENT, student_id)


def write_gradebook(
    db_url: str,
    results: list[Result],
    workdir: Path,
    previous: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Store ``results`` in the gradebook at ``db_url`` (made in ``workdir`` if it has no
    assignment yet); a student graded again is updated in place. ``previous``: each student's
    written answers as last graded: a score given by hand to an answer the student has since
    rewritten (a re-submission) is cleared, to grade again, and a note says so; an answer left
    blank (as nbgrader's autograde does) and the questions of a file that was not a notebook
    (formgrader has nothing to open) score 0 unless scored by hand. Returns who had a score
    cleared."""
    from nbgrader.api import MissingEntry

    try:
        with _gradebook(db_url) as gb:
            gb.find_assignment(course.ASSIGNMENT)
    except MissingEntry:
        source = nbformat.read(course.SOURCE_NOTEBOOK, as_version=4)
        course.generate_assignment(source, workdir / "master", db_url)
    spec = load_spec()
    questions, previous, cleared = spec.questions, previous or {}, []
    with _gradebook(db_url) as gb:
        repointed = _sync_points(gb, spec)
        stored = _answers_read(gb)
        for r in results:
            first, _, last = r.name.partition(" ")
            gb.update_or_create_student(r.student_id, first_name=first, last_name=last or None)
            gb.update_or_create_submission(course.ASSIGNMENT, r.student_id)
            new_file = stored.get(r.student_id, (r.sha256,))[0] != r.sha256
            for gid, p in r.tests.items():
                grade = _grade(gb, gid, r.student_id)
                grade.auto_score = p
                grade.needs_manual_grade = False
                if new_file and grade.manual_score is not None:  # set for the last file's code
                    grade.manual_score = None
                    cleared.append(f"{r.who} {gid}")
            if r.answers_unread:  # their scores by hand kept, the next run reads them
                gb.db.commit()
                continue
            before = _answers_before(stored, previous, r)
            _remember_answers(gb, r)
            unread = not r.answers  # not a notebook: no answer to grade, nothing to open
            for q in questions:
                grade = _grade(gb, q.grade_id, r.student_id)
                changed = before is not None and before.get(q.id) != r.answers.get(q.id)
                number = q.id.removeprefix("q")  # "q2": question 2
                if grade.manual_score is not None and (changed or q.grade_id in repointed):
                    grade.manual_score = None  # (instructor round 27: 2/2 became 2/3, final)
                    said = M.ANSWER_CHANGED if changed else M.POINTS_CHANGED
                    r.notes.append(said.format(question=number, points=f"{q.points:g}"))
                    cleared.append(f"{r.who} Q{number}")
                blank = unread or not r.answers.get(q.id)  # as nbgrader: an unchanged answer
                grade.auto_score = 0.0 if blank else None  # a score by hand still wins
                grade.needs_manual_grade = grade.manual_score is None and not blank
            gb.db.commit()
    return cleared


def _sync_points(gb, spec) -> set[str]:
    """Each graded cell's points in the gradebook as the spec says now (a question's points
    raised in ``assignment.toml``: formgrader capped a score at the old maximum); the grade ids
    whose points changed."""
    from nbgrader.api import MissingEntry

    cells = [(q.grade_id, q.points) for q in spec.questions]
    cells += [(gid, test.points) for gid, (_, test) in spec.tests.items()]
    changed: set[str] = set()
    for gid, points in cells:
        try:
            cell = gb.find_grade_cell(gid, course.ASSIGNMENT, course.ASSIGNMENT)
        except MissingEntry:
            continue
        if cell.max_score != points:
            cell.max_score = points
            changed.add(gid)
    gb.db.commit()
    return changed


def with_manual_scores(results: Results, out_dir: Path) -> Results:
    """``results`` with what was graded by hand in formgrader: each question's score (None: not
    graded yet, or given to another file than the one this run could not read the answers of),
    its extra credit and comment, and a test cell's score set by hand in place of the grader's
    (a block corrected by the instructor); the run's ``--db``, else ``out_dir/gradebook.db``
    (the folder may have moved); unchanged when the run has no gradebook. A score is kept within
    its cell's points (a question's points lowered since it was given)."""
    default = Path(out_dir) / "gradebook.db"
    url = results.gradebook or (f"sqlite:///{default.resolve()}" if default.is_file() else "")
    if not url:
        return results
    tests = load_spec().tests
    with _gradebook(url) as gb:
        read = _answers_read(gb)
        for r in results.students:
            # a new file whose answers this run could not read: its old scores are not its own
            unread = r.answers_unread and read.get(r.student_id, (r.sha256,))[0] != r.sha256
            r.comments = {}
            for q in results.questions:
                r.questions[q.id] = None if unread else _by_hand(gb, q.grade_id, r, q.points)
                if not unread and (comment := _comment(gb, q.grade_id, r.student_id)):
                    r.comments[q.id] = comment
            _tests_by_hand(gb, r, tests)
    return results


def _by_hand(gb, grade_id: str, r: Result, points: float) -> float | None:
    """A question's score as graded by hand, with its extra credit (else the 0 of a file that
    was not a notebook; None: still to grade)."""
    from nbgrader.api import MissingEntry

    try:
        grade = _grade(gb, grade_id, r.student_id)
    except MissingEntry:  # graded before the gradebook knew this student
        return None
    score = grade.manual_score
    if score is None and not grade.needs_manual_grade:
        score = grade.auto_score
    return None if score is None else _within(score, points, grade)


def _within(score: float, points: float, grade) -> float:
    """A score given by hand kept within its cell's ``points``, plus formgrader's extra credit."""
    return min(max(float(score), 0.0), points) + float(grade.extra_credit or 0.0)


def _comment(gb, grade_id: str, student_id: str) -> str:
    """The comment written in formgrader under an answer ("" if none)."""
    from nbgrader.api import MissingEntry

    try:
        comment = gb.find_comment(grade_id, course.ASSIGNMENT, course.ASSIGNMENT, student_id)
    except MissingEntry:
        return ""
    return (comment.manual_comment or "").strip()


def _tests_by_hand(gb, r: Result, tests: dict) -> None:
    """Each test cell's points as the gradebook holds them now: set by hand in formgrader (a
    block the instructor corrected after reading it), else the grader's own (``auto_score``: a
    score by hand cleared since is undone), and its block's points with them; read afresh each
    time (the results saved hold what a run read, never twice)."""
    from nbgrader.api import MissingEntry

    r.reviewed, by_hand, read = False, set(), set()
    for gid in [g for g in r.tests if g in tests]:
        try:
            grade = _grade(gb, gid, r.student_id)
        except MissingEntry:
            continue
        block, test = tests[gid]
        read.add(block)
        extra = float(grade.extra_credit or 0.0)  # (formgrader's, with or without a score)
        if grade.manual_score is None and not extra:
            auto = grade.auto_score
            r.tests[gid] = float(r.tests[gid] if auto is None else auto)
            continue
        score = grade.auto_score if grade.manual_score is None else grade.manual_score
        r.tests[gid] = _within(score or 0.0, test.points, grade)
        by_hand.add(block.id)
        r.reviewed = True  # read and decided: no longer "to be reviewed"
    for block in read:
        got = sum(r.tests.get(t.grade_id, 0.0) for t in block.tests)
        hand = block.id in by_hand
        r.blocks[block.id] = dataclasses.replace(r.block(block.id), points=got, by_hand=hand)
    for block in read if by_hand else ():  # "built on (a), which is wrong": (a) set right by hand
        if r.block(block.id).warning and not any(r.block(d).lost for d in block.depends_on):
            r.blocks[block.id] = dataclasses.replace(r.block(block.id), warning=None)
