"""Grades for the LMS: ``unet-tp export OUT --format moodle|canvas [--roster FILE] [--out FILE]``
(the plain CSV of every grade is ``OUT/grades.csv``, which ``unet-tp grade`` writes).

* ``moodle``: Moodle's offline grading worksheet (assignment > "Download grading worksheet";
  uploaded back with "Upload grading worksheet"). Columns ``Identifier, Full name, Email address,
  Status, Grade, Maximum Grade, Grade can be changed, Last modified (submission), Last modified
  (grade), Feedback comments``; ``Identifier`` is ``Participant N`` where N is the id in the
  submission zip's folder names (``Dupont Marie_N_assignsubmission_file_``). Moodle reads the
  columns ``Identifier``, ``Grade`` and ``Last modified (grade)`` by name, and skips a row whose
  grade is empty or unchanged, whose grade was changed in Moodle after the worksheet was
  downloaded, or whose grade is out of range. A worksheet downloaded in French (``Identifiant``,
  ``Note``, ``Dernière modification (note)``...) works too.
* ``canvas``: the gradebook import CSV (Grades > Import): ``Student, ID, SIS User ID, SIS Login
  ID, Section, <Assignment name (id)>`` and a ``Points Possible`` row. Canvas matches a row by
  ``ID``, then the SIS ids, then the name; an empty cell changes nothing.

With ``--roster`` (the worksheet or gradebook export downloaded from the LMS, recommended), the
roster gives the rows, in its order and with all its columns: graded students get their grade,
students the roster lists who submitted nothing are marked missing (Moodle: status "No
submission" and an empty grade; Canvas: their cell is left as it was, empty for an assignment
never graded), and graded students the roster does not list are reported.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from autograder.feedback import scrub
from autograder.gradebook import with_manual_scores
from autograder.results import Result, Results
from unet_tp.fileio import atomic_write

FORMATS = ("moodle", "canvas")
DEFAULT_NAMES = {"moodle": "moodle_grading_worksheet.csv", "canvas": "canvas_gradebook_import.csv"}

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
    ("feedback", "Feedback comments", "Commentaires de feedback"),
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
MOODLE_HEADER = [english for _, english, _ in _MOODLE_STRINGS[:10]]  # a worksheet's columns
MOODLE_PARTICIPANT = "Participant "
MOODLE_REQUIRED = ("identifier", "grade", "lastmodgrade")
MOODLE_SUBMITTED = MOODLE_LANGS["en"]["submitted"]
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

    def summary(self) -> str:
        lines = [f"{self.format}: {self.rows} rows ({self.graded} graded) written to {self.path}"]
        if self.missing:
            lines.append(f"no submission ({len(self.missing)}): {', '.join(self.missing)}")
        if self.unmatched:
            lines.append(
                f"NOT IN THE FILE ({len(self.unmatched)}), enter these by hand: "
                + "; ".join(self.unmatched)
            )
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---- helpers -------------------------------------------------------------------------------------


def name_key(name: object) -> str:
    """A name without case, accents, punctuation or word order (``Dupont, Marie`` = ``marie dupont``)."""
    text = unicodedata.normalize("NFKD", str(name or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(sorted(t for t in re.split(r"[^0-9a-z]+", text) if t))


def moodle_grade(x: float) -> str:
    """A grade as Moodle's worksheet writes it (two decimals, a point)."""
    return f"{float(x):.2f}"


def feedback_comment(student: Result, results: Results) -> str:
    """One line for the LMS's feedback field: the total and the blocks that lost points."""
    parts = [f"Autograded: {student.score_text()}."]
    lost_blocks = [
        f"({b.id}) {e.points:g}/{e.max:g}"
        for b in results.blocks
        if (e := student.block(b.id)).lost
    ]
    if lost_blocks:
        parts.append("Points lost: " + ", ".join(lost_blocks) + ".")
    if student.review:
        parts.append("To be reviewed by the instructor.")
    parts.append("Details: your feedback page.")
    return scrub(" ".join(parts))


@dataclass
class _Roster:
    header: list[str]
    rows: list[list[str]]
    delimiter: str
    bom: bool


def read_roster(path: Path) -> _Roster:
    """A CSV exported by the LMS: its header, rows, delimiter (``,`` or ``;``) and BOM."""
    raw = Path(path).read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
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
    width = len(header)
    body = [(r + [""] * width)[:width] if len(r) < width else r for r in rows[1:]]
    return _Roster(header, body, delimiter, bom)


def _write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter=",", bom=False):
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    with atomic_write(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + data)


class _Matcher:
    """Finds the roster row of a graded student: by LMS id, other ids, e-mail, then unique name."""

    def __init__(self):
        self.by_id: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}

    def add_id(self, value: str, row: int) -> None:
        value = value.strip().casefold()
        if value:
            self.by_id.setdefault(value, row)

    def add_name(self, value: str, row: int) -> None:
        key = name_key(value)
        if key:
            self.by_name.setdefault(key, []).append(row)

    def find(self, ids: list[str | None], name: str) -> tuple[int | None, str]:
        for value in ids:
            if value and str(value).strip().casefold() in self.by_id:
                return self.by_id[str(value).strip().casefold()], ""
        rows = self.by_name.get(name_key(name), [])
        if len(rows) == 1:
            return rows[0], ""
        if len(rows) > 1:
            return None, "several roster rows have this name"
        return None, "no roster row with this id or name"


def _match_students(students: list[Result], matcher, report) -> dict[int, Result]:
    """``{roster row: student}``; who cannot be placed (or lands on a row already taken) goes to
    ``report.unmatched``."""
    graded: dict[int, Result] = {}
    for s in students:
        i, why = matcher.find([s.lms_id, s.student_id], s.name)
        if i is None:
            report.unmatched.append(_unmatched(s, why))
        elif i in graded:
            report.unmatched.append(_unmatched(s, f"same roster row as {graded[i].who}"))
        else:
            graded[i] = s
    return graded


def _unmatched(student: Result, why: str) -> str:
    return f"{student.who} {student.total:g}/{student.max_points:g} ({why})"


# ---- Moodle --------------------------------------------------------------------------------------


def _moodle(results: Results, roster: _Roster | None, report: ExportReport):
    """Moodle's grading worksheet: the downloaded one with grades and feedback filled in, or,
    without a roster, rows built from the participant ids in the file names."""
    if roster is None:
        return _moodle_without_roster(results, report)
    maximum = results.max_points
    header = roster.header
    lang, col = _moodle_columns(header, maximum)
    matcher = _Matcher()
    for i, row in enumerate(roster.rows):
        m = _TRAILING_ID.search(row[col["identifier"]])  # "Participant 4242"
        if m:
            matcher.add_id(m[1], i)
        if "email" in col:
            matcher.add_id(row[col["email"]], i)
        if "fullname" in col:
            matcher.add_name(row[col["fullname"]], i)
    if "maxgrade" in col:
        _moodle_maximum_warnings(roster, col, maximum, report)
    graded = _match_students(results.students, matcher, report)
    rows = []
    for i, row in enumerate(roster.rows):
        row = list(row)
        s = graded.get(i)
        if s is not None:
            row[col["grade"]] = "" if s.pending else moodle_grade(s.total)
            if "canchange" in col and row[col["canchange"]].strip() == lang["no"]:
                report.warnings.append(
                    f"{s.who}: the grade is locked in Moodle ('{header[col['canchange']]}': "
                    f"{lang['no']}); the upload will skip it"
                )
            if "feedback" in col:
                row[col["feedback"]] = feedback_comment(s, results)
        else:
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
        rows.append(row)
    report.rows, report.graded = len(rows), len(graded)
    return header, rows


def _moodle_without_roster(results: Results, report: ExportReport):
    """Worksheet rows from the participant ids of the file names (Moodle's download names)."""
    rows, maximum = [], moodle_grade(results.max_points)
    for s in results.students:
        pid = s.lms_id
        if not pid or not pid.isdigit():
            report.unmatched.append(
                _unmatched(s, "no Moodle participant id in the file name; pass --roster")
            )
            continue
        grade = "" if s.pending else moodle_grade(s.total)
        comment = feedback_comment(s, results)
        row = [f"{MOODLE_PARTICIPANT}{pid}", s.name, "", MOODLE_SUBMITTED, grade, maximum, "Yes"]
        rows.append([*row, "-", "-", comment])
    report.rows = report.graded = len(rows)
    report.warnings.append(
        "without --roster, Moodle skips the rows of students it already has a grade for, "
        "unless you tick 'Allow updating records that have been modified more recently in "
        "Moodle than in the spreadsheet' when uploading"
    )
    return MOODLE_HEADER, rows


def _moodle_columns(header: list[str], maximum: float) -> tuple[dict, dict]:
    """``(the worksheet's language strings, column of each role)``.

    Raises:
        ExportError: not a Moodle grading worksheet, or an assignment graded with a scale.
    """
    lang = next(
        (
            strings
            for strings in MOODLE_LANGS.values()
            if all(strings[k] in header for k in MOODLE_REQUIRED)
        ),
        None,
    )
    if lang is None:
        wanted = " / ".join(
            ", ".join(repr(strings[k]) for k in MOODLE_REQUIRED)
            for strings in MOODLE_LANGS.values()
        )
        raise ExportError(
            f"the roster is not a Moodle grading worksheet (no columns {wanted}): download it "
            "from the assignment's 'View all submissions' > 'Download grading worksheet'"
        )
    col = {role: header.index(name) for role, name in lang.items() if name in header}
    if "scale" in col and "maxgrade" not in col:
        raise ExportError(
            "the Moodle assignment is graded with a scale: set its grade type to 'Point' "
            f"(maximum {maximum:g}) and download the worksheet again"
        )
    return lang, col


def _moodle_maximum_warnings(
    roster: _Roster, col: dict, maximum: float, report: ExportReport
) -> None:
    """Warn when the Moodle assignment's maximum grade is not the TP's."""
    for m in {r[col["maxgrade"]].strip() for r in roster.rows}:
        if _differs(m, maximum):
            report.warnings.append(
                f"the Moodle assignment is graded out of {m}, the TP out of {maximum:g}: "
                "set the assignment's maximum grade to match (Moodle skips grades above "
                "its maximum)"
            )


def _differs(lms_number: str, maximum: float) -> bool:
    """Is the number the LMS wrote (``20,00`` or ``20.00``) not ``maximum``? (no number: no)"""
    try:
        return abs(float(lms_number.replace(",", ".")) - maximum) > 1e-9
    except ValueError:
        return False


# ---- Canvas --------------------------------------------------------------------------------------


def _canvas_columns(header: list[str]) -> tuple[int, dict[str, int]]:
    """Index of the last student column (``Section``) and the named student columns."""
    if len(header) < 4 or "Student" not in header[0] or "ID" not in header[1]:
        raise ExportError(
            "the roster is not a Canvas gradebook export (its header must start with "
            "'Student,ID'): export it from Grades > Export > Export Entire Gradebook"
        )
    named = {h: i for i, h in enumerate(header) if h in CANVAS_HEADER}
    if "Section" not in named:
        raise ExportError("the Canvas gradebook export has no 'Section' column")
    return named["Section"], named


def _canvas_assignment_column(
    header: list[str],
    points_row: list[str] | None,
    first: int,
    results: Results,
    wanted: str | None,
) -> int:
    candidates = []
    for i in range(first, len(header)):
        title = header[i]
        if not title or _CANVAS_NOT_ASSIGNMENT.search(title):
            continue
        if points_row is not None and re.search(r"read\s+only", points_row[i] or ""):
            continue
        candidates.append(i)
    if wanted:
        for i in candidates:
            m = _CANVAS_TITLE_ID.match(header[i])
            title, aid = (m["title"], m["id"]) if m else (header[i], None)
            if wanted in (header[i], title, aid):
                return i
        raise ExportError(
            f"no assignment column {wanted!r} in the roster; its assignment columns: "
            + ", ".join(repr(header[i]) for i in candidates)
        )
    name = results.assignment.casefold()
    named = [i for i in candidates if name and name in header[i].casefold()]
    if len(named) == 1:
        return named[0]
    if len(candidates) == 1:
        return candidates[0]
    raise ExportError(
        "which assignment column of the roster gets the grades? pass --assignment with one of: "
        + ", ".join(repr(header[i]) for i in candidates)
    )


def _canvas(results: Results, roster: _Roster | None, report: ExportReport, assignment: str | None):
    """Canvas's gradebook import: the exported gradebook with the assignment's column filled
    in, or, without a roster, a new column of rows matched by name and ids."""
    if roster is None:
        return _canvas_without_roster(results, report, assignment)
    header = roster.header
    section, named = _canvas_columns(header)
    points_row = next(
        (r for r in roster.rows if CANVAS_POINTS_POSSIBLE in (r[0] if r else "")), None
    )
    target = _canvas_assignment_column(header, points_row, section + 1, results, assignment)
    if points_row is not None:
        _canvas_points_warning(header[target], points_row[target], results.max_points, report)
    matcher = _Matcher()
    for i, row in enumerate(roster.rows):
        if not _canvas_student_row(row):
            continue
        for col in ("ID", "SIS User ID", "SIS Login ID"):
            if col in named:
                matcher.add_id(row[named[col]], i)
        matcher.add_name(row[0], i)
    graded = _match_students(results.students, matcher, report)
    rows = []
    student_rows = 0
    for i, row in enumerate(roster.rows):
        row = list(row)
        if _canvas_student_row(row):
            student_rows += 1
            s = graded.get(i)
            if s is not None:
                row[target] = "" if s.pending else f"{s.total:g}"
            elif row[0].strip() != CANVAS_TEST_STUDENT:
                report.missing.append(row[0])  # left as it was: Canvas changes nothing
        rows.append(row)
    report.rows, report.graded = student_rows, len(graded)
    return header, rows


def _canvas_student_row(row: list[str]) -> bool:
    """A student's row of the gradebook (not "Points Possible", nor a muted/posting row)."""
    first = row[0] if row else ""
    if CANVAS_POINTS_POSSIBLE in first:
        return False
    return not all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c or "", re.I) for c in row)


def _canvas_points_warning(title: str, possible: str, maximum: float, report: ExportReport) -> None:
    """Warn when the Canvas assignment is worth other points than the TP."""
    if _differs(possible, maximum):
        points = float(possible.replace(",", "."))
        report.warnings.append(
            f"the Canvas assignment {title!r} is worth {points:g} points, the "
            f"TP {maximum:g}: Canvas will show {maximum:g}-point totals out of {points:g}"
        )


def _canvas_without_roster(results: Results, report: ExportReport, assignment: str | None):
    """A new gradebook column: one row per graded student, matched by Canvas on its ids."""
    header = [*CANVAS_HEADER, assignment or results.assignment or "TP"]
    rows = [[CANVAS_POINTS_POSSIBLE, "", "", "", "", f"{results.max_points:g}"]]
    for s in results.students:
        name = s.name or s.student_id
        total = "" if s.pending else f"{s.total:g}"
        rows.append([name, s.lms_id or "", s.student_id, "", "", total])
    report.rows = report.graded = len(results.students)
    report.warnings.append(
        "without --roster, Canvas matches each row by ID, then SIS User ID, then name, and a "
        "column title without '(assignment id)' creates a new assignment: export the "
        "gradebook and pass it as --roster to fill in the existing assignment"
    )
    return header, rows


# ---- entry point ---------------------------------------------------------------------------------


def export(
    out_dir: Path,
    fmt: str,
    roster: Path | None = None,
    out: Path | None = None,
    assignment: str | None = None,
) -> ExportReport:
    """Write the grades of ``OUT/results.json`` for an LMS.

    Args:
        out_dir: the grading output folder (holding ``results.json``).
        fmt: ``moodle`` or ``canvas``.
        roster: the grading worksheet (Moodle) or gradebook export (Canvas) downloaded from the
            LMS; its rows and columns are kept, the grades filled in.
        out: the file to write (default ``OUT/moodle_grading_worksheet.csv`` or
            ``OUT/canvas_gradebook_import.csv``).
        assignment: Canvas: the roster's assignment column (its title, ``Title (id)`` or id),
            or without a roster the column title to write.

    Returns:
        What was written, who is missing and who could not be placed.

    Raises:
        ExportError: unknown format, a roster of the wrong kind, an ambiguous assignment column.
        FileNotFoundError: no ``results.json`` or no roster file.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    results = with_manual_scores(Results.load(out_dir), out_dir)
    path = Path(out) if out else out_dir / DEFAULT_NAMES[fmt]
    table = None
    if roster is not None:
        roster = Path(roster)
        if not roster.is_file():
            raise FileNotFoundError(f"{roster}: no such roster file")
        if path.resolve() == roster.resolve():
            raise ExportError(f"{path}: would overwrite the roster; choose another --out")
        table = read_roster(roster)
    report = ExportReport(path=path, format=fmt)
    pending = [s.who for s in results.students if s.pending]
    if pending:
        report.warnings.append(
            f"{len(pending)} student(s) pending manual grading of the written questions (e.g. "
            f"{pending[0]}): their grade is left empty; grade the answers in nbgrader's "
            "formgrader (OUT is its course folder), then export again"
        )
    if fmt == "moodle":
        header, rows = _moodle(results, table, report)
    else:
        header, rows = _canvas(results, table, report, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    delimiter, bom = (table.delimiter, table.bom) if table else (",", False)
    _write_csv(path, header, rows, delimiter, bom)
    return report
