"""One feedback page per student: a self-contained HTML page (no script, nothing fetched) with
the total, each block's points and what the grader saw, the warnings, the student's own training
outputs and the notes, in the notebook's language. Student text is HTML-escaped and goes through
:func:`scrub` (no path of the grading machine, no hidden-test line, no token).
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from pathlib import Path

from autograder import messages as M
from autograder.messages_fr import PAGE_FRENCH, french
from autograder.results import (
    PENDING,
    BlockInfo,
    BlockScore,
    Result,
    Results,
    points_text,
    shorten,
)

STUDENT_HOME = "/home/student"
PATH_PLACEHOLDER = "[path]"
TOKEN_PLACEHOLDER = "[hidden]"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# a line that names the hidden tests (nbgrader markers, the module, a traceback through it)
_HIDDEN_LINE = re.compile(r"hidden[\s_-]*tests?|BEGIN\s+HIDDEN|END\s+HIDDEN", re.I)
# an absolute POSIX path: a "/" that starts a token (not "km/h", "2 / 3" or "a//b"), then at
# least one character of a path; file:// URLs and Windows drive paths too
POSIX_PATH = re.compile(r"(?<![\w.~/\\-])/(?=[\w.~@+-])[^\s'\"<>`,;:)\]}|]*")
_FILE_URL = re.compile(r"file:/{1,3}[^\s'\"<>`]*", re.I)
WINDOWS_PATH = re.compile(r"(?<![\w])[A-Za-z]:\\[^\s'\"<>`,;|]*")
# tokens: long hexadecimal runs (the grader's HMAC pass tokens and keys, hashes)
HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{16,}(?![0-9A-Za-z])")


# one-segment tokens ("/tmp", "/work") are paths only under these roots; "x /len(y)" is code
# fmt: off
_ROOTS = {
    "bin", "boot", "content", "data", "dev", "etc", "home", "lib", "lib64", "media", "mnt", "opt",
    "private", "proc", "root", "run", "sbin", "scratch", "srv", "sys", "tmp", "usr", "Users",
    "var", "Volumes", "work", "workspace",
}
# fmt: on


def _keep_path(match: re.Match) -> str:
    path = match.group(0)
    if path == STUDENT_HOME or path.startswith(STUDENT_HOME + "/"):
        return path
    first, _, rest = path[1:].partition("/")
    if rest or first.rstrip(".") in _ROOTS or first in ("", "~"):
        return PATH_PLACEHOLDER
    return path


def scrub(text: object) -> str:
    """``text`` without what a student must not see: lines naming the hidden tests dropped,
    absolute paths (POSIX, ``file://``, ``C:\\...``) outside ``/home/student`` made ``[path]``,
    runs of 16+ hex digits (tokens, keys) made ``[hidden]``, colour codes removed; None gives ""."""
    if text is None:
        return ""
    text = _ANSI.sub("", str(text))
    lines = [line for line in text.split("\n") if not _HIDDEN_LINE.search(line)]
    text = "\n".join(lines)
    text = _FILE_URL.sub(PATH_PLACEHOLDER, text)
    text = WINDOWS_PATH.sub(PATH_PLACEHOLDER, text)
    text = POSIX_PATH.sub(_keep_path, text)
    return HEX_TOKEN.sub(TOKEN_PLACEHOLDER, text)


def safe(text: object) -> str:
    """Scrubbed, then HTML-escaped: the only way student text enters a page."""
    return escape(scrub(text))


def markdown(text: str) -> str:
    """An instructor's comment as formgrader shows it, or a student's written answer as their
    notebook showed it: Markdown (paragraphs, emphasis, code, lists, links), its raw HTML escaped
    (a student's ``<script>`` is text), a line break kept, a link to a harmful URL
    (``javascript:``) none, an image its alt text and address (the page fetches nothing): the
    marks showed literally (instructor round 28: ``**`` and ``-`` in the answers)."""
    import mistune  # (nbconvert's, in the grading environment)

    class _Renderer(mistune.HTMLRenderer):
        def image(self, text: str, url: str, title: str | None = None) -> str:
            return f"[{text}: {escape(url)}]" if text else f"[{escape(url)}]"  # (text: escaped)

    render = mistune.create_markdown(
        escape=True, hard_wrap=True, renderer=_Renderer(escape=True), plugins=["strikethrough"]
    )
    return render(scrub(text))


def cut(text: str, max_lines: int = 80, max_chars: int = 6000) -> str:
    """The end of a long output (where the final numbers are), with a line saying what was cut."""
    lines = text.rstrip("\n").split("\n")
    text = "\n".join(lines[-max_lines:])
    if len(text) > max_chars:
        return f"[... {len(text) - max_chars:,} characters cut ...]\n{text[-max_chars:]}"
    if len(lines) > max_lines:
        return f"[... {len(lines) - max_lines} lines cut ...]\n{text}"
    return text


# offline by construction: the browser may load nothing but inline styles and data: images
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = Path(__file__).with_name("page.css").read_text(encoding="utf-8")


def page(title: str, body: str, lang: str = "en") -> str:
    """A complete HTML document around ``body`` (``title`` is escaped here)."""
    return (
        f"<!DOCTYPE html>\n<html lang='{lang}'>\n<head>\n<meta charset='utf-8'>\n"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{escape(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


TRAINING_NOTE = (
    "Under the grader, your notebook's training and evaluation cells run with a tiny setting: "
    "a small network trained for a few seconds on a handful of sample slices. The Dice score "
    "it reaches (Dice = 2|P ∩ T| / (|P| + |T|), with P the predicted tumour and T the true "
    "one) is low whatever the code, correct or not, so <b>your grade does not depend on that "
    "number</b>: each block is compared with the reference, on the same inputs and weights. "
    "What your own training reached is what your notebook showed when you submitted it, below."
)


REVIEWED = "Your notebook will be read by the instructor before this grade is final."
NO_OUTPUT = (
    "Your submitted notebook showed no output here (was the cell run before the notebook was "
    "saved?)."
)
CELL_NAMES = (
    "Cells are named by their section of the TP; a cell you added is named after the blank it "
    "follows (“your cell after (c)”)."
)


def table(cls: str, head: list[str], rows: list[str], attrs: str = "") -> str:
    """``<table class=cls>``: the head cells (``#`` first: a number column), then ``rows``."""
    cells = "".join(
        f"<th class='num'>{h[1:]}</th>" if h[:1] == "#" else f"<th>{h}</th>" for h in head
    )
    head_row = f"<tr>{cells}</tr>" if head else ""
    return f"<table class='{cls}'{attrs}>{head_row}{''.join(rows)}</table>"


def _t(language: str, text: str, *args: object) -> str:
    """``text`` in the page's language, its ``{}`` filled with ``args``."""
    text = PAGE_FRENCH.get(text, text) if language == "fr" else text
    return text.format(*args) if args else text


def _message(language: str, text: str) -> str:
    """A message of the grader (English in ``results.json``) in the page's language."""
    return french(text) if language == "fr" else text


def _at_fault(block: BlockInfo, entry: BlockScore, results: Results, lang: str) -> str:
    if not entry.at_fault:
        return ""
    if entry.at_fault == block.id:
        return _t(lang, "this block")
    other = next((b for b in results.blocks if b.id == entry.at_fault), None)
    return (
        escape(other.label_in(lang)) if other else f"{_t(lang, 'block')} ({escape(entry.at_fault)})"
    )


def shared_message(student: Result, results: Results) -> str | None:
    """The one message every block lost its points with, when there are two blocks or more (a
    file that is no notebook, a notebook not graded: instructor round 28, the page said the same
    line once per block): the page says it once, above the table."""
    entries = [student.block(b.id) for b in results.blocks]
    said = {e.message for e in entries}
    if len(entries) < 2 or len(said) != 1 or not all(e.lost for e in entries):
        return None
    return next(iter(said))


def _blocks_table(student: Result, results: Results) -> str:
    rows, lang = [], student.language
    once = shared_message(student, results)
    for block in results.blocks:
        entry = student.block(block.id)
        what = "✓"
        if entry.lost:
            what = (
                escape(shorten(scrub(_message(lang, entry.message))))
                if entry.message and entry.message != once
                else _t(lang, "points lost")
            )
            fault = _at_fault(block, entry, results, lang)
            if fault:
                what += f"<br><span class='muted'>{_t(lang, 'at fault: {}', fault)}</span>"
        if entry.by_hand:  # (its note apart from the grader's message, in the page's language)
            note = M.SET_BY_HAND.format(
                points=points_text(entry.points, lang), of=points_text(entry.max, lang)
            )
            what += f"<br><b>{escape(_message(lang, note))}</b>"
        rows.append(
            f"<tr class='{'lost' if entry.lost else 'full'}' data-block='{escape(block.id)}'>"
            f"<td><b>{escape(block.label_in(lang))}</b><br>"
            f"<span class='muted'>{escape(block.section_in(lang))}</span></td>"
            f"<td class='num'>{points_text(entry.points, lang)} / {points_text(entry.max, lang)}</td>"
            f"<td>{what}</td></tr>"
        )
    return table("blocks", [_t(lang, "block"), "#points", _t(lang, "what the grader saw")], rows)


def _warnings(student: Result, results: Results) -> list[str]:
    out = []
    for block in results.blocks:
        warning = student.block(block.id).warning
        if warning:
            label = f"({block.id})"
            text = shorten(scrub(_message(student.language, warning)))
            text = text[len(label) :] if text.startswith(label) else f" {text}"
            out.append(f"<b>{escape(label)}</b>{escape(text)}")
    return out


_TEST_CELL = re.compile(r"^cell \d+ \(\((\w+)\) test cell\)")


def _note_with_context(note: str, student: Result) -> str:
    """A failed self-check of a block the grader found right says why it failed: it ran on the
    wrong block this one builds on (the student must not go hunting in a right block)."""
    m, lang = _TEST_CELL.match(note), student.language
    entry = student.blocks.get(m[1]) if m else None
    note = shorten(_message(lang, note).strip())
    if entry is None or entry.message or entry.points != entry.max:
        return note
    if entry.warning:
        return note + _t(
            lang,
            " (Your ({}) itself matches the reference: this check failed on the wrong block it "
            "builds on; see the warnings.)",
            m[1],
        )
    return note + _t(lang, " (Your ({}) itself matches the reference.)", m[1])


def _questions(student: Result, results: Results) -> list[str]:
    """The written questions: each answer as submitted, and its points once graded by hand."""
    lang = student.language
    parts = [f"<h2>{_t(lang, 'Written questions')}</h2>"] if results.questions else []
    for q in results.questions:
        score = student.questions.get(q.id)
        points = (
            _t(lang, "graded by hand: pending")
            if score is None
            else f"{points_text(score, lang)} / {points_text(q.points, lang)}"
        )
        answer = student.answers.get(q.id) or _t(lang, "(no answer)")
        parts.append(f"<h3>{escape(q.title_in(lang))} <span class='muted'>({points})</span></h3>")
        parts.append(f"<div class='answer'>{markdown(cut(answer))}</div>")
        if comment := student.comments.get(q.id):  # formgrader's comment box
            said = _t(lang, "Instructor's comment:")
            parts.append(f"<div class='comment'><b>{said}</b>{markdown(cut(comment))}</div>")
    return parts


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}


def _when(stamp: str, language: str) -> str:
    """``2026-12-07T09:40:23+00:00`` as a reader says it: ``7 December 2026, 09:40 UTC`` (``7
    décembre 2026`` in French; instructor round 26 read the ISO stamp); as it is if not one."""
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return escape(stamp)
    month = _MONTHS.get(language, _MONTHS["en"]).split()[at.month - 1]
    offset = at.strftime("%z")
    zone = " UTC" if offset in ("+0000", "") else f" UTC{offset[:3]}:{offset[3:]}"
    return f"{at.day} {month} {at.year}, {at:%H:%M}{zone}"


def feedback_html(student: Result, results: Results) -> str:
    """The feedback page of one student of ``results``: a complete, self-contained HTML
    document (UTF-8 text)."""
    name, lang = student.name or student.student_id, student.language
    graded = _t(lang, " · graded {}", _when(results.graded_at, lang)) if results.graded_at else ""
    total = student.score_text(_t(lang, PENDING), lang)
    parts = [
        f"<h1>{_t(lang, 'TP U-Net: your feedback, {}', safe(name))}</h1>",
        "<p class='muted'>"
        + _t(lang, "student {} · notebook {}", safe(student.student_id), safe(student.file))
        + (_t(lang, " · handed in late") if student.late else "")
        + f"{graded}</p>",
        f"<p class='total' id='total'>{_t(lang, 'Total: {}', escape(total))}</p>",
    ]
    if student.to_review:
        parts.append(f"<p class='warn'>{_t(lang, REVIEWED)}</p>")
    parts.append(f"<h2>{_t(lang, 'Points per block')}</h2>")
    if once := shared_message(student, results):  # (said once, not once per block)
        said = escape(shorten(scrub(_message(lang, once))))
        parts.append(f"<p class='warn' id='all-blocks'>{said}</p>")
    parts.append(_blocks_table(student, results))
    parts += _questions(student, results)
    warnings = _warnings(student, results)
    if warnings:
        parts.append(f"<h2>{_t(lang, 'Warnings')}</h2>")
        parts += [f"<p class='warn'>{w}</p>" for w in warnings]
    parts.append(f"<h2>{_t(lang, 'Training and Dice')}</h2>")
    parts.append(f"<p class='info'>{_t(lang, TRAINING_NOTE)}</p>")
    for key in ("training", "evaluation"):
        label = _t(lang, "Your {} (as your submitted notebook showed it)", _t(lang, key))
        text = scrub(student.outputs.get(key, "")).strip()
        shown = (
            f"<pre>{escape(cut(text))}</pre>"
            if text
            else f"<p class='muted'>{_t(lang, NO_OUTPUT)}</p>"
        )
        parts.append(f"<h3>{escape(label)}</h3>{shown}")
    notes = [scrub(n) for n in student.notes]  # (stripped once translated: "NotImplementedError: ")
    notes = [_note_with_context(n, student) for n in notes if n.strip() and n != scrub(once)]
    if notes:
        parts.append(f"<h2>{_t(lang, 'Notes')}</h2><ul class='notes'>")
        parts += [f"<li>{escape(n)}</li>" for n in notes]
        parts.append("</ul>")
    parts.append(f"<p class='muted'>{_t(lang, CELL_NAMES)}</p>")
    return page(_t(lang, "TP U-Net: your feedback, {}", scrub(name)), "\n".join(parts), lang)
