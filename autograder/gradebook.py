"""The nbgrader gradebook of a grading run (sqlite ``OUT/gradebook.db`` or any SQLAlchemy URL):
each graded test cell's points, per student, and the written answers to grade by hand.

The answers are graded in nbgrader's formgrader on this gradebook (``OUT`` is an nbgrader course
folder: ``nbgrader_config.py``, ``autograded/<student>/TP_sujet/``); formgrader writes each
answer's ``manual_score``, which :func:`with_manual_scores` reads back for the report and the
exports. A regrade never touches a score given by hand."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat

from autograder import build as course
from autograder.results import Result, Results
from autograder.spec import load as load_spec


def write_gradebook(db_url: str, results: list[Result], workdir: Path) -> None:
    """Store ``results`` in the gradebook at ``db_url`` (made in ``workdir`` if it has no
    assignment yet); a student graded again is updated in place."""
    from nbgrader.api import Gradebook, MissingEntry

    warnings.filterwarnings("ignore", module="nbgrader.api")  # SQLAlchemy autoflush notices
    course.interpreter_bin_on_path()  # nbgrader's Gradebook runs `alembic`
    try:
        with Gradebook(db_url) as gb:
            gb.find_assignment(course.ASSIGNMENT)
    except MissingEntry:
        source = nbformat.read(course.SOURCE_NOTEBOOK, as_version=4)
        course.generate_assignment(source, workdir / "master", db_url)
    questions = [q.grade_id for q in load_spec().questions]
    with Gradebook(db_url) as gb:
        for r in results:
            first, _, last = r.name.partition(" ")
            gb.update_or_create_student(r.student_id, first_name=first, last_name=last or None)
            gb.update_or_create_submission(course.ASSIGNMENT, r.student_id)
            for gid, p in r.tests.items():
                grade = gb.find_grade(gid, course.ASSIGNMENT, course.ASSIGNMENT, r.student_id)
                grade.auto_score = p
                grade.needs_manual_grade = False
            for gid in questions:
                grade = gb.find_grade(gid, course.ASSIGNMENT, course.ASSIGNMENT, r.student_id)
                grade.needs_manual_grade = grade.manual_score is None
            gb.db.commit()


def with_manual_scores(results: Results, out_dir: Path) -> Results:
    """``results`` with each question's score as graded by hand in the gradebook (None: not
    graded yet): the run's ``--db``, else ``out_dir/gradebook.db`` (the folder may have moved);
    unchanged when the run has no questions or no gradebook."""
    default = Path(out_dir) / "gradebook.db"
    url = results.gradebook or (f"sqlite:///{default.resolve()}" if default.is_file() else "")
    if not results.questions or not url:
        return results
    from nbgrader.api import Gradebook, MissingEntry

    warnings.filterwarnings("ignore", module="nbgrader.api")
    course.interpreter_bin_on_path()
    with Gradebook(url) as gb:
        for r in results.students:
            for q in results.questions:
                try:
                    grade = gb.find_grade(
                        q.grade_id, course.ASSIGNMENT, course.ASSIGNMENT, r.student_id
                    )
                except MissingEntry:  # graded before the gradebook knew this student
                    r.questions[q.id] = None
                    continue
                r.questions[q.id] = (
                    None if grade.manual_score is None else float(grade.manual_score)
                )
    return results
