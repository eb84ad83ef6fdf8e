"""A grading run's results, typed: what ``unet-tp grade`` writes (``OUT/results.json``,
``OUT/grades.csv``) and the feedback pages, class report and LMS exports read. ``Results.load``
is the one reader: a broken file gives one ``ValueError`` line naming the file and the field.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from unet_tp.fileio import atomic_write

LOCK_FILE = ".unet-tp-grading.lock"  # (held by `unet-tp grade` while it writes OUT)
RESULTS_FILE = "results.json"
GRADES_FILE = "grades.csv"
PENDING = "so far, pending manual grading of {} question(s)"


def points_text(points: float, lang: str = "en") -> str:
    """``1.5``, or in French ``1,5`` (a student's text; a CSV's numbers the LMS reads keep ``.``)."""
    return f"{points:g}".replace(".", ",") if lang == "fr" else f"{points:g}"


@dataclass
class BlockScore:
    """A student's points on one block, and why points were lost."""

    points: float
    max: float
    message: str | None = None  # what differs, when the block lost points
    at_fault: str | None = None  # the block whose mistake it is
    warning: str | None = None  # right, but built on a wrong block
    by_hand: bool = False  # its points set by the instructor in formgrader

    @property
    def lost(self) -> bool:
        return self.points < self.max


@dataclass
class BlockInfo:
    """One blank of the TP, as the results file describes it."""

    id: str
    key: str
    title: str
    section: str
    points: float
    depends_on: list[str] = field(default_factory=list)
    title_fr: str = ""
    section_fr: str = ""

    @property
    def label(self) -> str:
        """``(a) DoubleConv: two 3x3 convolutions + ReLU``."""
        return f"({self.id}) {self.title or self.key}"

    def label_in(self, language: str) -> str:
        """The label in ``language`` (English when it has none)."""
        return f"({self.id}) {self.title_fr}" if _in(language, "", self.title_fr) else self.label

    def section_in(self, language: str) -> str:
        return _in(language, self.section, self.section_fr)


@dataclass(frozen=True)
class QuestionInfo:
    """A written question, graded by hand in nbgrader's formgrader."""

    id: str
    grade_id: str
    title: str
    points: float
    title_fr: str = ""
    setting: str = ""  # the upper-case name its number is given in, in a locked cell (Question 1)

    def title_in(self, language: str) -> str:
        return _in(language, self.title, self.title_fr)


def _in(language: str, english: str, french: str) -> str:
    """The French text on a French page when there is one, else the English."""
    return french if language == "fr" and french else english


@dataclass
class Result:
    """The grade of one submission."""

    student_id: str
    name: str
    file: str
    sha256: str
    blocks: dict[str, BlockScore]
    tests: dict[str, float]  # points per graded test cell (what the gradebook stores)
    max_points: float
    notes: list[str] = field(default_factory=list)  # for the student
    review: list[str] = field(default_factory=list)  # for the instructor: why to read it
    seconds: float = 0.0
    lms_id: str | None = None
    regraded: str | None = None  # why it was graded in this run (None: kept from the last)
    outputs: dict[str, str] = field(default_factory=dict)  # training/evaluation as submitted
    questions: dict[str, float | None] = field(default_factory=dict)  # by hand; None: pending
    answers: dict[str, str] = field(default_factory=dict)  # the written answers, as submitted
    language: str = "en"  # the notebook's (autograder.i18n): the feedback page's
    # why the grading machine, not the notebook, cut this grade short (the worker failed, the
    # machine's disk ran low): graded again at the next run
    interrupted: str | None = None
    no_notebook: bool = False  # no TP notebook (unreadable, another course's): a 0 to chase
    comments: dict[str, str] = field(default_factory=dict)  # formgrader's, by question id
    reviewed: bool = False  # the instructor set a test cell's points by hand: read, decided
    late: bool = False  # handed in after the due date (Canvas's file name says so)

    @property
    def to_review(self) -> bool:
        """Flagged, and not yet read (a test cell's points set by hand in formgrader)."""
        return bool(self.review) and not self.reviewed

    @property
    def graded(self) -> bool:
        """Whether the code was graded: the class report's rates and failures count it."""
        return not (self.no_notebook or self.interrupted)

    @property
    def answers_unread(self) -> bool:
        """The grader's own error came before the written answers were read (not a notebook
        without answers): their scores by hand stand, the next run reads them."""
        return bool(self.interrupted) and not self.answers

    @property
    def total(self) -> float:
        """The points so far: the code's, and the questions already graded by hand."""
        manual = sum(p for p in self.questions.values() if p is not None)
        return sum(b.points for b in self.blocks.values()) + manual

    @property
    def pending(self) -> list[str]:
        """The questions still to grade by hand."""
        return [q for q, p in self.questions.items() if p is None]

    def score_text(self, pending: str | None = None, lang: str = "en") -> str:
        """``23 / 30``, or ``17 / 30 so far, pending manual grading of 2 questions``
        (``pending``: that phrase's template in the page's language, ``{}`` the count)."""
        done = f"{points_text(self.total, lang)} / {points_text(self.max_points, lang)}"
        n = len(self.pending)
        phrase = pending or f"so far, pending manual grading of {{}} question{'s' * (n > 1)}"
        return f"{done} {phrase.format(n)}" if n else done

    @property
    def who(self) -> str:
        """``Dupont Marie (4242)``."""
        name, sid = self.name, self.student_id
        return f"{name} ({sid})" if name and name != sid else sid or name

    def block(self, block_id: str) -> BlockScore:
        return self.blocks.get(block_id) or BlockScore(0.0, 0.0)

    def messages(self) -> list[str]:
        """What went wrong, for the instructor: the review lines, each block's message once
        (with every block it is of, unless it names its one block), then the notes."""
        same: dict[str, list[str]] = {}
        for k, v in self.blocks.items():
            if v.message and v.message not in self.notes:
                same.setdefault(v.message, []).append(k)
        mark = "READ" if self.reviewed else "REVIEW"  # (instructor round 24: read, said so)
        return [
            *(f"{mark} {x}" for x in self.review),
            *(
                m if m.startswith(f"({ks[0]})") and len(ks) == 1 else f"({', '.join(ks)}) {m}"
                for m, ks in same.items()
            ),
            *(n for n in self.notes if not _quoted(n, same)),
        ]

    def as_json(self) -> dict:
        return dataclasses.asdict(self) | {"total": self.total}

    @classmethod
    def from_json(cls, data: object, where: str = "result") -> Result:
        return from_dict(cls, data, where)


@dataclass
class Results:
    """The whole ``results.json``: the assignment's blocks and every student's result."""

    assignment: str
    max_points: float
    blocks: list[BlockInfo]
    students: list[Result]
    sandbox: str = ""
    graded_at: str = ""
    questions: list[QuestionInfo] = field(default_factory=list)
    gradebook: str = ""  # grade --db's URL (else OUT/gradebook.db): the questions' scores

    def as_json(self) -> dict:
        return dataclasses.asdict(self) | {"students": [s.as_json() for s in self.students]}

    @classmethod
    def from_json(cls, data: object) -> Results:
        results = from_dict(cls, data, "results")
        if not results.blocks:
            raise ValueError("results: no blocks")
        return results

    def save(self, out_dir: Path) -> None:
        with atomic_write(Path(out_dir) / RESULTS_FILE, "w") as f:
            json.dump(self.as_json(), f, indent=1)

    @classmethod
    def load(cls, out_dir: Path) -> Results:
        """``OUT/results.json``, checked.

        Raises:
            FileNotFoundError: no results in ``out_dir``.
            ValueError: the file is not results of ``unet-tp grade`` (one line, naming it).
        """
        path = Path(out_dir) / RESULTS_FILE
        if not path.is_file() and (Path(out_dir) / LOCK_FILE).exists():  # (instructor round 25)
            raise FileNotFoundError(
                f"{out_dir}: no grading results yet: a `unet-tp grade` run is writing this "
                "folder (or was killed before its end); wait for it to finish"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no grading results; run `unet-tp grade SUBMISSIONS --out {out_dir}` first"
            )
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:  # JSONDecodeError too
            raise ValueError(f"{path}: not the results of `unet-tp grade`: {exc}") from None


def from_dict(cls, data: object, where: str):
    """An instance of the dataclass ``cls`` from JSON ``data``, every field's type checked
    (unknown keys, such as the derived ``total``, are ignored)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    hints, values = typing.get_type_hints(cls), {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: no {f.name!r}")
    return cls(**values)


def _convert(tp, value: object, where: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, where)
    if origin in (list, tuple, dict):  # a tuple[X, ...] is a JSON or TOML list
        if not isinstance(value, dict if origin is dict else list):
            raise ValueError(f"{where}: expected a {origin.__name__}, got {value!r:.60}")
        if origin is not dict:
            return origin(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (str, bool) and isinstance(value, tp):
        return value
    expected = {float: "a number", bool: "true or false"}.get(tp, "a string")
    raise ValueError(f"{where}: expected {expected}, got {value!r:.60}")


def text_safe(value):
    """``value`` with every string made writable as UTF-8 (a kernel's or a file name's lone
    surrogates become ``\\udXXX``): what the notebook printed never stops the batch's files."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {text_safe(k): text_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [text_safe(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: text_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads these as a formula
FORMULA_STARTS += (
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)  # and their full-width forms (East Asian)


def spreadsheet_text(text: str) -> str:
    """``text`` for a CSV cell a spreadsheet shows as text: one that would start a formula (a
    student's name ``=HYPERLINK(...)``, from a file name or an LMS profile) behind a ``'``; spaces
    before it too (LibreOffice's import may trim them)."""
    return "'" + text if text.lstrip(" \u3000").startswith(FORMULA_STARTS) else text


# what a terminal runs rather than shows: C0 controls but tab and newline (ESC starts a sequence
# that moves the cursor, erases lines, sets the title or the clipboard; CR rewrites a line), DEL,
# C1 controls, and the bidirectional overrides that show a line's text in another order
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` for the instructor's terminal: each control character written as Python does
    (``\\x1b``), so a student's text (an exception message raised by their code, a file's name)
    is shown, never run (a line erased, a row faked, the clipboard set)."""
    return _TERMINAL_CONTROLS.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def grade_status(r: Result) -> str:
    """``grades.csv``'s ``status`` of a total: ``final``, ``pending`` (written answers still to
    grade by hand: the total is so far), ``no notebook`` (a 0 to chase) or ``not graded`` (the
    grader's own error: graded again by the next run)."""
    if r.interrupted:
        return "not graded"
    if r.no_notebook and not r.reviewed:
        return "no notebook"
    return "pending" if r.pending else "final"


GRADES_HEAD = ["student_id", "name", "file"]  # then the blocks', the questions', then:
GRADES_TAIL = ["total", "max", "status", "late", "review", "notes"]


def write_grades_csv(path: Path, results: Results) -> None:
    """``OUT/grades.csv``: one row per student, the points of each block, the total and its
    status (instructor round 28: a total pending written answers looked final), review and
    notes; UTF-8 with a BOM, as a spreadsheet (French Excel) reads its accents right."""
    keys = [b.key for b in results.blocks] + [q.id for q in results.questions]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([*GRADES_HEAD, *keys, *GRADES_TAIL])
    for r in results.students:
        numbers = [r.block(b.id).points for b in results.blocks]
        numbers += [r.questions.get(q.id) for q in results.questions] + [r.total, r.max_points]
        notes = "; ".join(r.messages())
        notes = "; ".join(filter(None, [notes, r.score_text() * bool(r.pending)]))
        texts = [spreadsheet_text(t) for t in (r.student_id, r.name, r.file)]
        row = [*texts, *("" if x is None else f"{x:g}" for x in numbers), grade_status(r)]
        row.append("late" if r.late else "")
        flag = "read" if r.review and r.reviewed else "yes" if r.review else ""
        writer.writerow([*row, flag, spreadsheet_text(notes)])
    _keep_foreign(path)
    with atomic_write(path, "wb") as f:
        f.write(buf.getvalue().encode("utf-8-sig"))


def _keep_foreign(path: Path) -> Path | None:
    """A ``grades.csv`` that is not ours (``nbgrader export`` run in OUT by an older
    configuration, a file of the instructor's) moved aside, to ``grades.kept-N.csv``, before ours
    is written: never overwritten unasked (instructor round 28); where it went, or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(200).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return None
    if head.startswith(",".join(GRADES_HEAD).encode()):
        return None
    kept = next(
        p for n in itertools.count(1) if not (p := path.with_suffix(f".kept-{n}.csv")).exists()
    )
    path.rename(kept)
    print(f"{path}: not unet-tp's (nbgrader export's?): kept as {kept.name}", file=sys.stderr)
    return kept


def shorten(text: str, max_chars: int = 1500) -> str:
    """The start of a long line (a note, a message), cut at a word, with a mark where it was cut
    (here: the notes ``results.json`` keeps are cut so; feedback.py decides no grade)."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:->") + " […]"


def _quoted(note: str, messages) -> bool:
    """Whether a test cell's note (``cell 22 ((b) test cell): AssertionError: ...``, cut) says
    again what a block's message quotes of the self-check (honest round 36: the same text twice
    in ``grades.csv``)."""
    _, sep, said = note.partition(": AssertionError: ")
    said = said.removesuffix(" […]").strip()
    return bool(sep) and len(said) >= 40 and any(said in m for m in messages)
