"""Grades for the LMS: ``unet-tp export OUT --format moodle|canvas [--roster FILE] [--out FILE]``
(every grade in plain CSV is ``OUT/grades.csv``, which ``unet-tp grade`` writes).

``moodle``: the offline grading worksheet (``Participant N``, N from the submission zip's folder
names; English or French columns); ``canvas``: the gradebook import CSV and its ``Points Possible``
row. With ``--roster`` (the file downloaded from the LMS) its rows, order and columns are kept:
graded students get their grade, the others are marked missing, graded students it lacks are
reported. A student pending manual grading gets an empty grade.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.collect import lms_id, lms_of
from autograder.feedback import _t, scrub
from autograder.gradebook import with_manual_scores
from autograder.report import spec_changed, write_report, write_student_files
from autograder.results import (
    PENDING,
    Result,
    Results,
    points_text,
    spreadsheet_text,
    terminal_text,
)
from unet_tp.fileio import atomic_write, sha256_file

FORMATS = ("moodle", "canvas")
DEFAULT_NAMES = {"moodle": "moodle_grading_worksheet.csv", "canvas": "canvas_gradebook_import.csv"}
FEEDBACK_ZIP = "moodle_feedback_files.zip"  # beside the Moodle worksheet

# Moodle (mod/assign): the worksheet's column names and statuses in the language of the Moodle
# account that downloads it (its upload reads the columns by these names), English and French
# fmt: off
_MOODLE_STRINGS = [  # role, English, French
    ("identifier", "Identifier", "Identifiant"),
    ("fullname", "Full name", "Nom complet"),
    ("email", "Email address", "Adresse de courriel"),
    ("status", "Status", "Statut"),
    ("grade", "Grade", "Note"),
    ("maxgrade", "Maximum Grade", "Note maximale"),
    ("canchange", "Grade can be changed", "La note peut être modifiée"),
    ("lastmodsubmission", "Last modified (submission)", "Dernière modification (travail remis)"),
    ("lastmodgrade", "Last modified (grade)", "Dernière modification (note)"),
    ("feedback", "Feedback comments", "Feedback par commentaires"),
    ("scale", "Scale", "Barème"),
    ("no_submission", "No submission", "Pas de travail remis"),
    ("submitted", "Submitted for grading", "Remis pour évaluation"),
    ("no", "No", "Non"),
]
# fmt: on
MOODLE_LANGS = {
    lang: {role: names[i] for role, *names in _MOODLE_STRINGS}
    for i, lang in enumerate(("en", "fr"))
}
# headings of other Moodles' language packs (instructor round 25: real French worksheets say
# "Feedback par commentaires", the kit read "Commentaires de feedback" only)
_MOODLE_ALIASES = {"feedback": ("Commentaires de feedback",)}
MOODLE_HEADER = [english for _, english, _ in _MOODLE_STRINGS[:10]]  # a worksheet's columns
MOODLE_REQUIRED = ("identifier", "grade", "lastmodgrade")
_TRAILING_ID = re.compile(r"(\d+)\s*$")

# Canvas gradebook
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "Points Possible"
_CANVAS_NOT_ASSIGNMENT = re.compile(
    r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
    r"Override Score|Override Grade|Override Status|Unposted",
)
_CANVAS_TITLE_ID = re.compile(r"^(?P<title>.*?)\s*\((?P<id>\d+)\)\s*$")
CANVAS_TEST_STUDENT = "Student, Test"


class ExportError(ValueError):
    """The roster cannot be used (not the expected LMS file, no assignment column...)."""


@dataclass
class ExportReport:
    """What ``export`` wrote, and who it could not place."""

    path: Path
    format: str
    rows: int = 0  # student rows written
    graded: int = 0  # rows that carry a grade from this run
    missing: list[str] = field(default_factory=list)  # roster entries with no graded notebook
    unmatched: list[str] = field(default_factory=list)  # graded students with no roster row
    warnings: list[str] = field(default_factory=list)
    feedback_zip: Path | None = None  # Moodle: the feedback pages for its zip upload

    def summary(self) -> str:
        lines = [f"{self.format}: {self.rows} rows ({self.graded} graded) written to {self.path}"]
        if self.feedback_zip:
            lines.append(
                f"feedback pages: {self.feedback_zip} (the assignment's 'Upload multiple "
                "feedback files in a zip')"
            )
        if self.missing:
            lines.append(
                f"no submission ({len(self.missing)}): {'; '.join(self.missing)}"
            )  # (Canvas: 'Last, First')
        if self.unmatched:
            lines.append(
                f"NOT IN THE FILE ({len(self.unmatched)}), enter these by hand: "
                + "; ".join(self.unmatched)
            )
        lines += [f"warning: {w}" for w in self.warnings]
        return terminal_text("\n".join(lines))  # names from files, and the roster's


def name_key(name: object) -> str:
    """A name without case, accents, punctuation or word order (``Dupont, Marie`` = ``marie dupont``)."""
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(sorted(t for t in re.split(r"[^0-9a-z]+", text) if t))


def _said(who: list[str], says: str) -> list[str]:
    """The warning ``says`` on the students ``who`` (``{n}``: how many; ``{first}``: the first
    of them), or none."""
    return [says.format(n=len(who), first=who[0])] if who else []


def _unposted(results: Results) -> list[str]:
    """The warning on the students without a TP notebook, whose 0 is not posted."""
    who = [s.who for s in results.students if s.no_notebook and not s.reviewed and not s.pending]
    return _said(
        who,
        "{n} student(s) without a TP notebook to grade (e.g. {first}): their grade is left "
        "empty, a 0 to chase, not to post: ask for their notebook and grade again, or enter their "
        "grade in the LMS by hand",
    )


def _to_review(results: Results) -> list[str]:
    """The warning on the students whose notebook is flagged for review and not read yet: their
    grade is posted as the grader gave it (instructor round 23: a 0 went out unsaid)."""
    who = [s.who for s in results.students if s.to_review and not s.no_notebook]
    return _said(
        who,
        "{n} student(s) flagged for review and not read yet (e.g. {first}): their grade is the "
        "grader's, unread; read the report's reasons (and their notebook in formgrader) before "
        "you upload",
    )


def _over_maximum(results: Results) -> list[str]:
    """The warning on the students whose total passes the maximum (formgrader's extra credit):
    the LMS skips such a grade (Moodle: "out of range") but takes its comment."""
    who = [s.who for s in results.students if s.total > results.max_points and not s.pending]
    return _said(
        who,
        f"{{n}} student(s) above the maximum of {results.max_points:g} (extra credit; e.g. "
        "{first}): the LMS skips a grade above the assignment's maximum; raise it there, or "
        "enter theirs by hand",
    )


def _posted(student: Result) -> bool:
    """Whether the LMS gets ``student``'s grade (and comment, and page): not while written
    answers wait for manual grading, nor for a student without a TP notebook (a 0 to chase, not
    to post) until scored by hand."""
    return not (student.pending or (student.no_notebook and not student.reviewed))


def _lms_grade(student: Result, spec: str) -> str:
    """The grade the LMS gets (see :func:`_posted`), else empty."""
    return format(student.total, spec) if _posted(student) else ""


_FIRST, _LAST = "Total: {}.", "Details: your feedback page."  # the LMS comment's ends


def feedback_comment(student: Result, results: Results) -> str:
    """One line for the LMS's feedback field, in the student's notebook's language: the total
    and the blocks and written answers that lost points."""
    lang = student.language
    score = student.score_text(_t(lang, PENDING) if lang == "fr" else None, lang)
    parts = [_t(lang, _FIRST, score)]  # (the code's points and those given by hand)

    def of(points: float, most: float) -> str:
        return f"{points_text(points, lang)}/{points_text(most, lang)}"

    lost = [
        f"({b.id}) {of(e.points, e.max)}" for b in results.blocks if (e := student.block(b.id)).lost
    ]
    lost += [  # the written answers graded by hand, as the blocks
        f"« {q.title_in(lang)} » {of(p, q.points)}"
        if lang == "fr"
        else f'"{q.title}" {of(p, q.points)}'
        for q in results.questions
        if (p := student.questions.get(q.id)) is not None and p < q.points
    ]
    if lost:
        parts.append(_t(lang, "Points lost: {}.", ", ".join(lost)))
    if student.to_review:
        parts.append(_t(lang, "To be reviewed by the instructor."))
    parts.append(_t(lang, _LAST))
    return scrub(" ".join(parts))


def _ours() -> re.Pattern[str]:
    """A comment of this kit's, in either language and either version (the worksheet downloaded
    again after an upload holds the last one): from its first phrase to its last, as
    ``feedback_comment`` writes them (``Autograded``: the kit's earlier versions)."""
    firsts = [_t(lang, _FIRST, "\0").split("\0")[0] for lang in ("en", "fr")]
    firsts += ["Autograded: ", "Autograded : ", "Corrigé automatiquement : "]
    lasts = [_t(lang, _LAST) for lang in ("en", "fr")]
    first, last = ("|".join(map(re.escape, phrases)) for phrases in (firsts, lasts))
    return re.compile(f"(?:{first}).*?(?:{last})", re.S)


_OURS = _ours()


def with_their_comment(cell: str, ours: str) -> tuple[str, bool]:
    """The worksheet's feedback ``cell`` with ``ours`` in place of an earlier comment of the
    kit's, after the instructor's own text, kept (instructor round 21: a comment typed in
    Moodle was replaced by the upload); and whether there was such text."""
    theirs = _OURS.sub("", cell).strip()
    return "\n\n".join(filter(None, (theirs, ours))), bool(theirs)


def _other_maximum(lms_number: str, maximum: float) -> float | None:
    """The number the LMS wrote (``20,00`` or ``20.00``) when it is not ``maximum``, else None."""
    try:
        number = float(lms_number.replace(",", "."))
    except ValueError:
        return None
    return number if abs(number - maximum) > 1e-9 else None


@dataclass
class _Roster:
    header: list[str]
    rows: list[list[str]]
    delimiter: str
    bom: bool


def read_roster(path: Path) -> _Roster:
    """A CSV exported by the LMS: its header, rows, delimiter (``,`` or ``;``) and BOM."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # an Excel re-save; written back as UTF-8
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ExportError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    body = [
        (r + [""] * len(header))[: len(header)] if len(r) < len(header) else r for r in rows[1:]
    ]
    return _Roster(header, body, delimiter, raw.startswith(b"\xef\xbb\xbf"))


def _unmatched(student: Result, why: str) -> str:
    """A student to enter by hand, with what may be posted (instructor round 24: a partial
    total, or a file that was no notebook, was given as a grade)."""
    if student.no_notebook or student.interrupted:
        return f"{student.who}: no grade to post ({why}; no notebook graded: a 0 to chase)"
    pending = " (not to post yet)" if student.pending else ""
    return f"{student.who} {student.score_text()}{pending} ({why})"


def _own_ids(s: Result, lms: str) -> list[str]:
    """The ids of ``s`` an ``lms`` roster may match: none read from the other LMS's file names
    (instructor round 23: a Moodle participant id equal to a Canvas ID put a grade on another
    student's row)."""
    other = lms_of(s.file) not in (None, lms)
    return [] if other else [str(v).strip().casefold() for v in (s.lms_id, s.student_id) if v]


def _place(
    results: Results, keys: dict[int, tuple[list[str], str]], report, lms: str
) -> dict[int, Result]:
    """``{roster row: student}`` from each student row's ``(ids, name)``: by the student's LMS id
    or id, in the row's first id column (the LMS's own id) before the others (a classmate's SIS
    Login ID, a student number, equal to the Canvas ID of another: that other's grade went on the
    classmate's row), else by a unique name; who cannot be placed (or lands on a row already
    taken) goes to ``report.unmatched``."""
    by_id: tuple[dict[str, int], dict[str, int]] = ({}, {})  # the first id column, the others
    by_name: dict[str, list[int]] = {}
    for i, (ids, name) in keys.items():
        for n, value in enumerate(v.strip().casefold() for v in ids):
            if value:
                by_id[min(n, 1)].setdefault(value, i)
        if name_key(name):
            by_name.setdefault(name_key(name), []).append(i)
    graded: dict[int, Result] = {}
    for s in results.students:
        ids = _own_ids(s, lms)
        i = next((table[v] for table in by_id for v in ids if v in table), None)
        named, why = by_name.get(name_key(s.name), []), "no roster row with this id or name"
        if i is None and len(named) > 1:
            why = "several roster rows have this name"
        elif i is None and named:
            i = named[0]
        if i in graded:
            i, why = None, f"same roster row as {graded[i].who}"
        if i is None:
            report.unmatched.append(_unmatched(s, why))
        else:
            graded[i] = s
    other = [s.who for s in graded.values() if lms_of(s.file) not in (None, lms)]
    if other:  # (instructor round 26: a Moodle class's grades on a Canvas file, without a word)
        report.warnings.append(
            f"{len(other)} placed by name alone, their files from another LMS's download than "
            f"this {lms.capitalize()} file: check them before posting ({', '.join(other[:5])}"
            + (", ...)" if len(other) > 5 else ")")
        )
    return graded


def _fill(
    roster: _Roster,
    results: Results,
    report: ExportReport,
    keys: Callable[[list[str]], tuple[list[str], str] | None],
    grade: Callable[[list[str], Result], None],
    missing: Callable[[list[str]], None],
    made: dict[int, Result] | None = None,
    lms: str = "moodle",
) -> tuple[list[str], list[list[str]]]:
    """The roster's rows, each student row (``keys(row)``: its ids and name, None for another
    row) given its student's grade by ``grade(row, student)`` or marked by ``missing(row)``;
    ``made``: the rows of a roster made from the results, each its student's (nothing to match)."""
    student_rows = {i: k for i, row in enumerate(roster.rows) if (k := keys(row)) is not None}
    graded = made if made is not None else _place(results, student_rows, report, lms)
    rows = [list(row) for row in roster.rows]
    for i in student_rows:
        grade(rows[i], graded[i]) if i in graded else missing(rows[i])
    report.rows, report.graded = len(student_rows), len(graded)
    return roster.header, rows


def _worksheet_warnings(roster: _Roster, lang: dict, col: dict, maximum: float) -> list[str]:
    """What the worksheet's columns lack or say otherwise than the TP."""
    warnings = []
    if "feedback" not in col:  # (feedback comments off, or a heading of another Moodle's)
        warnings.append(
            f"the worksheet has no '{lang['feedback']}' column, so no comments are written: "
            "turn on 'Feedback comments' in the assignment's settings and download the "
            "worksheet again (or rename its comments column so)"
        )
    for m in sorted({r[col["maxgrade"]].strip() for r in roster.rows} if "maxgrade" in col else ()):
        if _other_maximum(m, maximum) is not None:
            warnings.append(
                f"the Moodle assignment is graded out of {m}, the TP out of {maximum:g}: set the "
                "assignment's maximum grade to match (Moodle skips grades above its maximum)"
            )
    return warnings


def _moodle(results: Results, roster: _Roster | None, report: ExportReport):
    """Moodle's grading worksheet: the downloaded one with grades and feedback filled in, or,
    without a roster, one of the participant ids in the file names."""
    made = None
    if roster is None:
        roster, results = _moodle_roster(results, report)
        made = dict(enumerate(results.students))
    header, maximum = roster.header, results.max_points
    lang, col = _moodle_columns(header, maximum)
    report.warnings += _worksheet_warnings(roster, lang, col, maximum)
    said: list[str] = []  # whose worksheet held a comment of the instructor's

    def keys(row):
        m = _TRAILING_ID.search(row[col["identifier"]])  # "Participant 4242"
        ids = [m[1] if m else "", row[col["email"]] if "email" in col else ""]
        return ids, row[col["fullname"]] if "fullname" in col else ""

    def grade(row, s):
        row[col["grade"]] = _lms_grade(s, ".2f")
        if "canchange" in col and row[col["canchange"]].strip() == lang["no"]:
            report.warnings.append(
                f"{s.who}: the grade is locked in Moodle ('{header[col['canchange']]}': "
                f"{lang['no']}); the upload will skip it"
            )
        if "feedback" in col:
            ours = feedback_comment(s, results) if _posted(s) else ""  # (Moodle posts it
            row[col["feedback"]], kept = with_their_comment(row[col["feedback"]], ours)  # alone)
            said.extend([s.who] * kept)

    def missing(row):
        label = row[col["fullname"]] if "fullname" in col else row[col["identifier"]]
        if "status" in col:
            status = row[col["status"]]
            if status.startswith(lang["submitted"]):
                report.warnings.append(
                    f"{label}: Moodle says '{status}', but no notebook of theirs was graded"
                )
            row[col["status"]] = lang["no_submission"]
        row[col["grade"]] = ""
        report.missing.append(label)

    filled = _fill(roster, results, report, keys, grade, missing, made)
    if said:
        report.warnings.append(
            f"{len(said)} feedback comment(s) already in the worksheet kept (e.g. {said[0]}'s), "
            "the grader's put after them"
        )
    return filled


def moodle_feedback_name(student: Result) -> str | None:
    """The name Moodle's "Upload multiple feedback files in a zip" gives to ``student``'s page:
    ``Full Name_<participant id>_assignfeedback_file_feedback.html`` (its importer splits a
    name at its first four underscores: the id second, the feedback plugin third and fourth),
    or None without a participant id."""
    if not student.lms_id or not student.lms_id.isdigit():
        return None
    name = re.sub(r"[_/\\]+", " ", student.name or "").strip() or "student"
    return f"{name}_{student.lms_id}_assignfeedback_file_feedback.html"


def feedback_zip_path(worksheet: Path) -> Path:
    """The feedback zip beside ``worksheet``: ``moodle_feedback_files.zip`` beside the default
    worksheet, ``<worksheet>_feedback_files.zip`` beside another (instructor round 25: two groups'
    worksheets in one folder shared one zip, the second export refused as "not export's")."""
    if worksheet.name == DEFAULT_NAMES["moodle"]:
        return worksheet.with_name(FEEDBACK_ZIP)
    return worksheet.with_name(f"{worksheet.stem}_feedback_files.zip")


def _moodle_feedback_zip(results: Results, out_dir: Path, worksheet: Path, report) -> Path:
    """The feedback zip (:func:`feedback_zip_path`): each student's feedback page named for
    Moodle's feedback-files upload (a page named ``<student>.html`` is ignored there)."""
    path = feedback_zip_path(worksheet)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for s in results.students:
            page = out_dir / "feedback" / f"{s.student_id}.html"
            placed = not any(u.startswith(f"{s.who} ") for u in report.unmatched)
            # (an id of Canvas's is another Moodle participant's: their page is never zipped)
            name = moodle_feedback_name(s) if lms_of(s.file) != "canvas" else None
            if name is None and placed:  # the unmatched are already listed, to enter by hand
                report.warnings.append(
                    f"{s.who}: no Moodle participant id in the file name, so no page of theirs "
                    "in the feedback zip; upload it by hand"
                )
            elif name is not None and page.is_file() and _posted(s):
                zf.writestr(name, page.read_bytes())
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def _moodle_roster(results: Results, report: ExportReport) -> tuple[_Roster, Results]:
    """A worksheet of the participant ids in the file names (Moodle's download names), and the
    results of the students it holds."""
    rows, placed, maximum = [], [], format(results.max_points, ".2f")
    for s in results.students:
        canvas = lms_of(s.file) == "canvas"  # a Canvas user id: another Moodle participant's
        if not s.lms_id or not s.lms_id.isdigit() or canvas:
            why = "no Moodle participant id in the file name; pass --roster"
            if canvas:
                why = "its id is Canvas's (a Canvas download's file name), not Moodle's; pass --roster"
            report.unmatched.append(_unmatched(s, why))
            continue
        placed.append(s)
        submitted = MOODLE_LANGS["en"]["submitted"]
        rows.append(
            [f"Participant {s.lms_id}", spreadsheet_text(s.name), "", submitted, "", maximum]
            + ["Yes", "-", "-", ""]
        )
    report.warnings.append(
        "without --roster, Moodle skips the rows of students it already has a grade for, "
        "unless you tick 'Allow updating records that have been modified more recently in "
        "Moodle than in the spreadsheet' when uploading"
    )
    return _Roster(MOODLE_HEADER, rows, ",", False), dataclasses.replace(results, students=placed)


def _moodle_columns(header: list[str], maximum: float) -> tuple[dict, dict]:
    """``(the worksheet's language strings, column of each role)``.

    Raises:
        ExportError: not a Moodle grading worksheet, or an assignment graded with a scale.
    """
    langs = MOODLE_LANGS.values()
    lang = next((s for s in langs if all(s[k] in header for k in MOODLE_REQUIRED)), None)
    if lang is None:
        wanted = " / ".join(", ".join(repr(s[k]) for k in MOODLE_REQUIRED) for s in langs)
        raise ExportError(
            f"the roster is not a Moodle grading worksheet in English or French (no columns "
            f"{wanted}): download it from the assignment's 'View all submissions' > 'Download "
            "grading worksheet', with Moodle's language set to English or French (its column "
            "names are in the language of the page)"
        )
    col = {role: header.index(name) for role, name in lang.items() if name in header}
    for role, names in _MOODLE_ALIASES.items():
        found = [header.index(name) for name in names if name in header]
        if role not in col and found:
            col[role] = found[0]
    if "scale" in col and "maxgrade" not in col:
        raise ExportError(
            "the Moodle assignment is graded with a scale: set its grade type to 'Point' "
            f"(maximum {maximum:g}) and download the worksheet again"
        )
    return lang, col


def _canvas_assignment_column(
    roster: _Roster, points_row: list[str] | None, results: Results, wanted: str | None
) -> int:
    """The roster's column of this assignment (``wanted``: its title, ``Title (id)`` or id).

    Raises:
        ExportError: not a Canvas gradebook export, or no single assignment column to choose.
    """
    header = roster.header
    if len(header) < 4 or "Student" not in header[0] or "ID" not in header[1]:
        raise ExportError(
            "the roster is not a Canvas gradebook export (its header must start with "
            "'Student,ID'): export it from Grades > Export > Export Entire Gradebook"
        )
    if "Section" not in header:
        raise ExportError("the Canvas gradebook export has no 'Section' column")
    candidates = [
        i
        for i in range(header.index("Section") + 1, len(header))
        if header[i]
        and not _CANVAS_NOT_ASSIGNMENT.search(header[i])
        and not (points_row and re.search(r"read\s+only", points_row[i] or ""))
    ]
    columns = ", ".join(repr(header[i]) for i in candidates)
    if wanted:
        for i in candidates:
            m = _CANVAS_TITLE_ID.match(header[i])
            if wanted in (header[i], *(m.groups() if m else ())):
                return i
        raise ExportError(
            f"no assignment column {wanted!r} in the roster; its assignment columns: {columns}"
        )
    name = results.assignment.casefold()
    named = [i for i in candidates if name and name in header[i].casefold()]
    if len(named) == 1 or len(candidates) == 1:
        return (named or candidates)[0]
    raise ExportError(
        f"which assignment column of the roster gets the grades? pass --assignment with one of: {columns}"
    )


def _canvas(results: Results, roster: _Roster | None, report: ExportReport, assignment: str | None):
    """Canvas's gradebook import: the exported gradebook with the assignment's column filled
    in, or, without a roster, a new column of rows matched by name and ids."""
    made = None if roster else {i + 1: s for i, s in enumerate(results.students)}
    roster = roster or _canvas_roster(results, report, assignment)
    header = roster.header
    points = next((r for r in roster.rows if r and CANVAS_POINTS_POSSIBLE in r[0]), None)
    target = _canvas_assignment_column(roster, points, results, assignment)
    possible = _other_maximum(points[target], results.max_points) if points else None
    if possible is not None:
        report.warnings.append(
            f"the Canvas assignment {header[target]!r} is worth {possible:g} points, the TP "
            f"{results.max_points:g}: Canvas will show {results.max_points:g}-point totals out "
            f"of {possible:g}"
        )
    id_columns = [header.index(c) for c in ("ID", "SIS User ID", "SIS Login ID") if c in header]

    def keys(row):
        return ([row[i] for i in id_columns], row[0]) if _canvas_student_row(row) else None

    kept: list[str] = []

    def grade(row, s):
        given = _lms_grade(s, "g")
        if given or not row[target].strip():
            row[target] = given
        else:  # (instructor round 23: a blank cell might clear Canvas's grade)
            kept.append(s.who)

    def missing(row):
        if row[0].strip() != CANVAS_TEST_STUDENT:
            report.missing.append(row[0])  # left as it was: Canvas changes nothing

    filled = _fill(roster, results, report, keys, grade, missing, made, "canvas")
    report.warnings += _said(
        kept,
        "{n} student(s) not graded yet (written answers pending, or no TP notebook: e.g. "
        "{first}) keep the grade Canvas has; export again once they are graded",
    )
    return filled


def _canvas_student_row(row: list[str]) -> bool:
    """A student's row of the gradebook (not "Points Possible", nor a muted/posting row)."""
    if CANVAS_POINTS_POSSIBLE in (row[0] if row else ""):
        return False
    return not all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c or "", re.I) for c in row)


def _canvas_ids(student: Result) -> tuple[str, str]:
    """The ID and SIS User ID columns: the Canvas ID read in the file name, else the student's
    id (a folder's name) as SIS's; none from a Moodle download (its ids are no Canvas's)."""
    if lms_of(student.file) == "moodle":
        return "", ""
    return (student.lms_id, "") if student.lms_id else ("", student.student_id)


def _canvas_roster(results: Results, report: ExportReport, assignment: str | None) -> _Roster:
    """A gradebook of one new column and one row per graded student, matched by Canvas on its ids."""
    header = [*CANVAS_HEADER, assignment or results.assignment or "TP"]
    if _CANVAS_NOT_ASSIGNMENT.search(header[-1]):
        raise ExportError(
            f"Canvas would not import a column titled {header[-1]!r} (its Current/Final/Override "
            "columns are computed, not assignments): pass another --assignment"
        )
    rows = [[CANVAS_POINTS_POSSIBLE, "", "", "", "", f"{results.max_points:g}"]]
    rows += [
        [*map(spreadsheet_text, (s.name or s.student_id, *_canvas_ids(s))), "", "", ""]
        for s in results.students
    ]
    report.warnings.append(
        "without --roster, Canvas matches each row by ID, then SIS User ID, then name, and a "
        "column title without '(assignment id)' creates a new assignment: export the "
        "gradebook and pass it as --roster to fill in the existing assignment"
    )
    return _Roster(header, rows, ",", False)


def export(
    out_dir: Path,
    fmt: str,
    roster: Path | None = None,
    out: Path | None = None,
    assignment: str | None = None,
    force: bool = False,
) -> ExportReport:
    """Write the grades of ``OUT/results.json`` for an LMS (``fmt``: ``moodle`` or ``canvas``)
    into ``out`` (default: a file in ``out_dir``), filling in ``roster`` (the worksheet or
    gradebook export downloaded from the LMS) when given; ``assignment``: Canvas's column.

    Raises:
        ExportError: unknown format, a roster of the wrong kind, an ambiguous assignment column.
        FileNotFoundError: no ``results.json`` or no roster file.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    results = with_manual_scores(Results.load(out_dir), out_dir)
    for s in results.students:  # results.json of a grader before lms_id: the file's name says it
        found = lms_id(s.file)  # (not ``alice/Bob_456_assignsubmission_file_/``: Alice's file)
        s.lms_id = s.lms_id or (found if found == s.student_id else None)
    path = Path(out) if out else out_dir / DEFAULT_NAMES[fmt]
    table = None
    if roster is not None:
        if not Path(roster).is_file():
            raise FileNotFoundError(f"{roster}: no such roster file")
        if path.resolve() == Path(roster).resolve():
            raise ExportError(f"{path}: would overwrite the roster; choose another --out")
        table = read_roster(Path(roster))
    written = [path, feedback_zip_path(path)] if fmt == "moodle" else [path]
    record = _exports(out_dir)
    _check_replaceable(out_dir, record, written, force)
    _check_roster_kept(out_dir, record, path, table is not None, force)
    if (changed := spec_changed(results)) and not force:  # (instructor round 27: written anyway)
        raise ExportError(f"{changed}; or pass --force to export these grades as they are")
    write_student_files(out_dir, results)  # the pages the comment points to, as complete
    write_report(out_dir, results)  # and the class report: no longer "pending"
    report = ExportReport(path=path, format=fmt)
    report.warnings += [w for w in [changed] if w]
    pending = [s.who for s in results.students if s.pending]
    if pending:
        report.warnings.append(
            f"{len(pending)} student(s) pending manual grading of the written questions (e.g. "
            f"{pending[0]}): their grade is left empty; grade the answers in nbgrader's "
            "formgrader (OUT is its course folder), then export again"
        )
    report.warnings += _unposted(results) + _to_review(results) + _over_maximum(results)
    if fmt == "moodle":
        header, rows = _moodle(results, table, report)
        report.feedback_zip = _moodle_feedback_zip(results, out_dir, path, report)
    else:
        header, rows = _canvas(results, table, report, assignment)
    _write_table(path, [header, *rows], table, report)
    _record_written(out_dir, written, {path: table is not None})
    return report


def _write_table(path: Path, rows: list, table: _Roster | None, report: ExportReport) -> None:
    """The LMS's file: comma-separated UTF-8 (with the roster's BOM), whatever separator the
    roster's re-save used (Moodle's upload reads commas unless told), said in a warning."""
    if table and table.delimiter != ",":
        report.warnings.append(
            f"the roster's columns were separated by '{table.delimiter}' (a spreadsheet's "
            f"re-save); {path.name} separates them by commas, as the LMS's upload reads by default"
        )
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=",", lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if table and table.bom else b"") + buf.getvalue().encode("utf-8"))


EXPORTS_FILE = ".unet-tp-exports.json"  # in OUT: the files export wrote, by their digest


def _key(out_dir: Path, path: Path) -> str:
    """``path`` as the record names it: relative to OUT where inside (OUT may be moved)."""
    path, out_dir = path.resolve(), out_dir.resolve()
    return path.relative_to(out_dir).as_posix() if path.is_relative_to(out_dir) else str(path)


def exported_files(out_dir: Path) -> list[str]:
    """The files export wrote (OUT's record: relative to OUT where inside)."""
    return list(_exports(out_dir))


def _exports(out_dir: Path) -> dict[str, str]:
    """``{file export wrote: its digest then}`` (none where OUT has no record)."""
    try:
        found = json.loads((out_dir / EXPORTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _check_replaceable(out_dir: Path, record: dict, paths: list[Path], force: bool) -> None:
    """Each of ``paths`` that is there is as export wrote it, or ``force``: a worksheet edited
    by hand since (instructor round 20: a grade typed there was reverted), or a file export never
    wrote, is not replaced unasked. OUT without a record (an older kit's) replaces its own.

    Raises:
        ExportError: naming the file and what to do.
    """
    for path in [p for p in paths if p.is_file()] if not force else []:
        known = record.get(_key(out_dir, path))
        if known == sha256_file(path) or (not record and path.parent == out_dir):
            continue
        why = "changed since export wrote it (edited by hand?)" if known else "not export's"
        raise ExportError(f"{path}: {why}; pass --force to replace it, or choose another --out")


def _check_roster_kept(
    out_dir: Path, record: dict, path: Path, from_roster: bool, force: bool
) -> None:
    """A file export made from the LMS's worksheet (``--roster``) is not replaced by one made
    without it, unasked (instructor round 27: the comments typed in Moodle and the students
    without a submission were gone, and its upload would have overwritten those comments)."""
    made_with_it = record.get(_key(out_dir, path) + ROSTER_MARK)
    if path.is_file() and made_with_it and not from_roster and not force:
        raise ExportError(
            f"{path}: made with the LMS's worksheet (--roster: its comments and its students "
            "without a submission kept); pass --roster again, or --force to replace it "
            "without them"
        )


ROSTER_MARK = "#roster"  # (the record's key of a file made with --roster)


def _record_written(out_dir: Path, paths: list[Path], rosters: dict[Path, bool]) -> None:
    record = _exports(out_dir) | {_key(out_dir, p): sha256_file(p) for p in paths if p.is_file()}
    record |= {_key(out_dir, p) + ROSTER_MARK: used for p, used in rosters.items()}
    with atomic_write(out_dir / EXPORTS_FILE, "w") as f:
        json.dump(record, f, indent=1)
