"""The nbgrader gradebook of a grading run (sqlite ``OUT/gradebook.db`` or any SQLAlchemy URL):
each graded test cell's points, per student."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat

from autograder import build as course
from autograder.results import Result


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
    with Gradebook(db_url) as gb:
        for r in results:
            first, _, last = r.name.partition(" ")
            gb.update_or_create_student(r.student_id, first_name=first, last_name=last or None)
            gb.update_or_create_submission(course.ASSIGNMENT, r.student_id)
            for gid, p in r.tests.items():
                grade = gb.find_grade(gid, course.ASSIGNMENT, course.ASSIGNMENT, r.student_id)
                grade.auto_score = p
                grade.needs_manual_grade = False
            gb.db.commit()
