"""The class report: ``unet-tp report OUT`` writes ``OUT/report.html`` from ``OUT/results.json``:
one self-contained page (figures as PNG ``data:`` URIs, no script) with the score distribution,
each block's success rate, the most common failures per block (one mistake counted once however
its numbers differ), the notebooks flagged for review, who was regraded and why, grading times.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from autograder.feedback import HEX_TOKEN, POSIX_PATH, WINDOWS_PATH, feedback_html, page, table
from autograder.gradebook import with_manual_scores
from autograder.results import GRADES_FILE, BlockInfo, Result, Results, write_grades_csv
from unet_tp.fileio import atomic_write

REPORT = "report.html"

_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|‘[^’\n]*’|“[^”\n]*”")
_SHAPE = re.compile(
    r"torch\.Size\(\s*\[[^\]]*\]\s*\)"  # torch.Size([1, 8, 64, 64])
    r"|[(\[]\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?)+\s*,?\s*[)\]]"  # (1, 8, 64, 64), [2,3]
    r"|\(\s*-?\d+\s*,\s*\)"  # (8,)
    r"|\b\d+(?:\s*[x×]\s*\d+)+\b"  # 64x64, 3 × 3
)
_NUMBER = re.compile(
    r"(?:(?<![\w.])|(?<=\.\.))[-+−]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?%?(?![\w])"
)
_SPACES = re.compile(r"\s+")


def normalise_message(message: object) -> str:
    """The shape of a message (paths, hex tokens, quoted values, shapes, numbers replaced): one
    key for ``... (max |difference| 0.734)`` and the same with ``1.2``."""
    text = str(message or "").strip()
    if not text:
        return "(no message)"
    text = WINDOWS_PATH.sub("<path>", POSIX_PATH.sub("<path>", text))
    text = HEX_TOKEN.sub("<hex>", text)
    text = _QUOTED.sub("<value>", text)
    text = _SHAPE.sub("<shape>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text)


@dataclass
class FailureGroup:
    """Students who lost points on a block with the same kind of message."""

    key: str  # the normalised message
    example: str  # one message as it was
    students: list[str] = field(default_factory=list)
    at_fault: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.students)


def failure_groups(results: Results) -> dict[str, list[FailureGroup]]:
    """For each block id, the groups of students who lost points with the same kind of message,
    most frequent first (ties by key)."""
    out: dict[str, list[FailureGroup]] = {}
    for block in results.blocks:
        groups: dict[str, FailureGroup] = {}
        for student in filter(Result.graded.fget, results.students):
            entry = student.block(block.id)
            if not entry.lost:
                continue
            key = normalise_message(entry.message)
            group = groups.setdefault(key, FailureGroup(key, entry.message or "(no message)"))
            group.students.append(student.who)
            if entry.at_fault:
                group.at_fault.add(entry.at_fault)
        out[block.id] = sorted(groups.values(), key=lambda g: (-g.count, g.key))
    return out


@dataclass
class BlockRate:
    """How the class did on one block."""

    block: BlockInfo
    full: int = 0  # students with full marks
    partial: int = 0
    zero: int = 0
    rate: float = 0.0  # the share with full marks
    mean: float = 0.0  # mean points


def block_rates(results: Results) -> list[BlockRate]:
    """Per block: students with full marks, partial, zero; the full-marks rate; mean points."""
    graded = list(filter(Result.graded.fget, results.students))  # (a file not read: no rate)
    n, rows = len(graded), []
    for block in results.blocks:
        entries = [s.block(block.id) for s in graded]
        full = sum(e.max > 0 and e.points >= e.max for e in entries)
        partial = sum(e.points > 0 for e in entries) - full
        mean = sum(e.points for e in entries) / n if n else 0.0
        rows.append(
            BlockRate(block, full, partial, n - full - partial, full / n if n else 0.0, mean)
        )
    return rows


def _axes(height: float):
    """A new figure's axes (8 inches wide); :func:`_png` makes it a ``data:`` URI."""
    from matplotlib.figure import Figure

    return Figure(figsize=(8, height), layout="constrained").subplots()


def _png(ax) -> str:
    fig, buf = ax.figure, io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def histogram_png(results: Results) -> str:
    """The distribution of totals, as a ``data:`` URI of a PNG."""
    totals = _totals(results)
    maximum = results.max_points or max(totals, default=1.0) or 1.0
    ax = _axes(3.6)
    ax.hist(totals, bins=[x - 0.5 for x in range(int(maximum) + 2)], color="#4a90d9", ec="white")
    if totals:
        mean, median = statistics.mean(totals), statistics.median(totals)
        ax.axvline(mean, color="#b42318", linestyle="--", label=f"mean {mean:.1f}")
        ax.axvline(median, color="#1a7f37", linestyle=":", label=f"median {median:g}")
        ax.legend(loc="upper left")
    ax.set(xlim=(-0.5, maximum + 0.5), xticks=range(0, int(maximum) + 1, 2 if maximum > 10 else 1))
    ax.set(xlabel=f"total (out of {maximum:g})", ylabel="students")
    ax.set_title(f"Score distribution ({len(totals)} students)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(ax)


def rates_png(rates: list[BlockRate]) -> str:
    """Each block's full-marks rate, as a ``data:`` URI of a PNG bar chart."""
    ax, values = _axes(3.4), [100 * r.rate for r in rates]
    bars = ax.bar([f"({r.block.id})" for r in rates], values, color="#1a7f37")
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=2)
    ax.set(ylim=(0, 110), ylabel="students with full marks (%)", title="Success rate per block")
    return _png(ax)


def _totals(results: Results) -> list[float]:
    """The totals the class's figures are of: not those of a file not read (no TP notebook's 0,
    to chase: instructor round 25, the mean was pulled down by it)."""
    return [s.total for s in results.students if s.graded]


def _summary(results: Results) -> str:
    totals, maximum = _totals(results), results.max_points
    rows = [
        ("assignment", escape(results.assignment)),
        ("graded at", escape(results.graded_at)),
        ("students", str(len(results.students))),
    ]
    if pending := [s for s in results.students if s.pending]:
        rows.append(("so far", f"{len(pending)} totals wait for written answers graded by hand"))
    if totals:
        rows += [
            ("mean", f"{statistics.mean(totals):.2f} / {maximum:g}"),
            ("median", f"{statistics.median(totals):g} / {maximum:g}"),
            ("lowest, highest", f"{min(totals):g}, {max(totals):g}"),
            ("full marks", str(sum(t >= maximum for t in totals))),
        ]
    if late := [s.who for s in results.students if s.late]:  # (Canvas's file names say so)
        rows.append(("handed in late", f"{len(late)}: {_names(late)}"))
    ungraded = [s for s in results.students if not s.graded]
    if ungraded:
        rows.append(
            (
                "code not graded",
                f"{len(ungraded)}: out of the rates and failures below "
                "(no TP notebook: flagged for review; or the grader failed: graded again by the next run)",
            )
        )
    pending = sum(bool(s.pending) for s in results.students)
    if results.questions:
        graded = f"pending manual grading for {pending} student(s): totals so far"
        rows.append(("written questions", graded if pending else "all graded by hand"))
    mine = " <b>(notebooks ran with your rights)</b>" if results.sandbox == "none" else ""
    rows.append(("sandbox", escape(results.sandbox) + mine))
    body = [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows]
    return table("summary", [], body, " style='width:auto'")


def _rates_table(rates: list[BlockRate]) -> str:
    rows = [
        f"<tr data-block='{escape(r.block.id)}'><td>{escape(r.block.label)}</td>"
        f"<td class='num'>{r.block.points:g}</td>"
        f"<td class='num full'>{r.full}</td><td class='num partial'>{r.partial}</td>"
        f"<td class='num zero'>{r.zero}</td><td class='num rate'>{100 * r.rate:.0f}%</td>"
        f"<td class='num mean'>{r.mean:.2f}</td><td style='width:25%'>"
        f"<span class='bar' style='width:{100 * r.rate:.0f}%'></span></td></tr>"
        for r in rates
    ]
    head = ["block", "#points", "#full marks", "#partial", "#zero", "#success rate", "#mean points"]
    return table("rates", [*head, ""], rows)


def _names(names: list[str], shown: int = 12) -> str:
    """A list of students, the end folded away (no script: ``<details>``) when it is long."""
    head = escape(", ".join(names[:shown]))
    if len(names) <= shown:
        return head
    rest = escape(", ".join(names[shown:]))
    return f"{head} <details><summary>and {len(names) - shown} more</summary>{rest}</details>"


def _failures(results: Results, top: int = 6) -> str:
    groups, parts = failure_groups(results), []
    for block in results.blocks:
        parts.append(f"<h3>{escape(block.label)}</h3>")
        if not groups[block.id]:
            parts.append("<p class='muted'>nobody lost points here</p>")
            continue
        rows = []
        for g in groups[block.id][:top]:
            # "at fault" only where it is another block (a mistake in (a) costing (d)...)
            fault = ", ".join(f"({escape(f)})" for f in sorted(g.at_fault - {block.id}))
            fault = f"<br><span class='muted'>at fault: {fault}</span>" if fault else ""
            rows.append(
                f"<tr><td class='num count'>{g.count}</td><td>{escape(g.example)}{fault}</td>"
                f"<td>{_names(g.students)}</td></tr>"
            )
        head = ["#students", "message (one example)", "who"]
        parts.append(table("failures", head, rows, f" data-block='{escape(block.id)}'"))
        more = len(groups[block.id]) - top
        if more > 0:
            parts.append(f"<p class='muted'>and {more} other kinds of message</p>")
    return "".join(parts)


def _review(results: Results) -> str:
    flagged = [s for s in results.students if s.review]
    if not flagged:
        return "<p>No notebook was flagged.</p>"
    rows = [
        f"<tr><td>{escape(s.who)}</td><td>{escape(s.file)}</td><td class='num'>{s.total:g}</td>"
        f"<td><ul>{''.join(f'<li>{escape(r)}</li>' for r in s.review)}</ul>"
        + ("<b>read: points set by hand in formgrader</b>" if s.reviewed else "")
        + "</td></tr>"
        for s in flagged
    ]
    left = sum(s.to_review for s in flagged)
    return (
        f"<p>{left} notebook(s) to read before publishing the grades ({len(flagged) - left} read):</p>"
        + table("review", ["student", "file", "#total", "why"], rows)
    )


SHARED_MIN_CHARS = 40  # shorter answers ("140", "yes, it helps") are alike by chance


def shared_answers(results: Results) -> list[tuple[str, list[str]]]:
    """``(question id, students)`` for each written answer two students or more submitted word
    for word (spaces aside; an attached image by its digest), of :data:`SHARED_MIN_CHARS` or
    more: a classmate's text pasted in is graded by hand as one's own unless someone sees it."""
    seen: dict[tuple[str, str], list[str]] = {}
    for s in results.students:
        for qid, text in s.answers.items():
            words = " ".join(str(text or "").split())
            if len(words) >= SHARED_MIN_CHARS:
                seen.setdefault((qid, words), []).append(s.who)
    return [(qid, names) for (qid, _), names in seen.items() if len(names) > 1]


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()  # a file not read (a link, a zip not opened)


def same_files(results: Results) -> list[list[str]]:
    """The students who submitted the same notebook file, byte for byte (its sha256): a
    classmate's file downloaded and handed in as it is (a notebook saved by Colab again differs)."""
    seen: dict[str, list[str]] = {}
    for s in results.students:
        if s.sha256 and s.sha256 != EMPTY_SHA256:
            seen.setdefault(s.sha256, []).append(s.who)
    return [names for names in seen.values() if len(names) > 1]


def _shared(results: Results) -> str:
    shared, files, parts = shared_answers(results), same_files(results), []
    if files:
        rows = [f"<tr><td>{_names(names)}</td></tr>" for names in files]
        parts.append(
            f"<p>{len(files)} notebook file(s) submitted byte for byte by two students or more:</p>"
        )
        parts.append(table("same-files", ["students"], rows))
    if not shared:
        return "".join(parts) + "<p>No two students submitted the same written answer.</p>"
    titles = {q.id: q.title for q in results.questions}
    rows = [
        f"<tr><td>{escape(titles.get(q, q))}</td><td>{_names(names)}</td></tr>"
        for q, names in shared
    ]
    parts.append(
        f"<p>{len(shared)} written answer(s) submitted word for word by two students or more "
        "(read them before grading by hand):</p>"
    )
    return "".join(parts) + table("shared", ["question", "students"], rows)


def _regraded(results: Results) -> str:
    fresh = [s for s in results.students if s.regraded]
    reasons = Counter(s.regraded for s in fresh)
    summary = ", ".join(f"{n} {escape(r)}" for r, n in reasons.most_common()) or "none"
    parts = [
        f"<p>{len(fresh)} graded in this run ({summary}); {len(results.students) - len(fresh)} "
        "kept from the previous run (unchanged file, reference and tests).</p>"
    ]
    new = sorted(s.who for s in fresh if s.regraded == "new submission")
    others = sorted((s.regraded, s.who) for s in fresh if s.regraded != "new submission")
    if others:
        rows = [f"<tr><td>{escape(who)}</td><td>{escape(why)}</td></tr>" for why, who in others]
        parts.append(table("regraded", ["student", "why"], rows))
    if new:
        parts.append(
            f"<details class='new'><summary>{len(new)} new submission(s)</summary>"
            f"{escape(', '.join(new))}</details>"
        )
    return "".join(parts)


def _times(results: Results) -> str:
    timed, scope = [s for s in results.students if s.regraded], "graded in this run"
    if not timed:  # nothing regraded: the times of the run that graded them
        timed, scope = results.students, "all, from the runs that graded them"
    if not timed:
        return "<p class='muted'>no grading times recorded</p>"
    secs = [s.seconds for s in timed]
    rows = [
        f"<tr><td>{escape(s.who)}</td><td class='num'>{s.seconds:.1f} s</td></tr>"
        for s in sorted(timed, key=lambda s: -s.seconds)[:5]
    ]
    return (
        f"<p class='times'>{len(timed)} notebooks ({scope}): total {sum(secs):.1f} s "
        f"(sum over notebooks; with <code>--jobs N</code> the wall time is shorter), "
        f"median {statistics.median(secs):.1f} s, slowest {max(secs):.1f} s.</p>"
        + table("slowest", ["slowest", "#time"], rows, " style='width:auto'")
    )


def report_html(results: Results) -> str:
    """The class report page for ``results``."""
    rates = block_rates(results)
    body = [
        f"<h1>TP U-Net: class report ({escape(results.assignment)})</h1>",
        _summary(results),
        "<h2>Score distribution</h2>",
        f"<img id='histogram' alt='histogram of the totals' src='{histogram_png(results)}'>",
        "<h2>Success rate per block</h2>",
        "<p class='muted'>success rate: the share of students with full marks on the block.</p>",
        _rates_table(rates),
        f"<img id='rates' alt='bar chart of the success rate per block' src='{rates_png(rates)}'>",
        "<h2>Most common failures per block</h2>",
        "<p class='muted'>Messages that differ only in their numbers, shapes or quoted values "
        "count as one mistake.</p>",
        _failures(results),
        "<h2>Flagged for review</h2>",
        _review(results),
        "<h2>Same written answers and notebooks</h2>",
        _shared(results),
        "<h2>Regraded</h2>",
        _regraded(results),
        "<h2>Grading times</h2>",
        _times(results),
    ]
    return page(f"Class report: {results.assignment}", "\n".join(body))


def write_student_files(out_dir: Path, results: Results) -> None:
    """``OUT/grades.csv`` and every ``OUT/feedback/<student>.html`` from ``results``: after the
    written answers were scored in formgrader, the totals there are complete too (a page or a
    CSV written at grading time said "pending manual grading")."""
    write_pages(Path(out_dir), results, results.students)
    write_grades_csv(Path(out_dir) / GRADES_FILE, results)


def write_pages(out_dir: Path, results: Results, students: list[Result]) -> None:
    """``OUT/feedback/<student>.html`` of each of ``students`` (of ``results``)."""
    (out_dir / "feedback").mkdir(exist_ok=True)
    for student in students:
        with atomic_write(out_dir / "feedback" / f"{student.student_id}.html", "w") as f:
            f.write(feedback_html(student, results))


def spec_changed(results: Results) -> str:
    """What says ``results`` were graded against another ``assignment.toml`` than today's (its
    points or its questions edited since): a warning to grade again, or ''."""
    from autograder.spec import load as load_spec

    spec = load_spec()
    now, then = [(b.id, b.points) for b in spec.blocks], [(b.id, b.points) for b in results.blocks]
    if results.questions:  # (results from before the written questions have none)
        now += [(q.id, q.points) for q in spec.questions]
        then += [(q.id, q.points) for q in results.questions]
    if now == then:
        return ""
    return (
        f"graded out of {results.max_points:g} points, assignment.toml now gives "
        f"{spec.max_points:g} (blocks or questions edited since): grade again "
        "(`unet-tp grade SUBMISSIONS --out OUT` regrades every notebook after such an edit)"
    )


def write_report(out_dir: Path, results: Results | None = None) -> Path:
    """Write ``OUT/report.html`` (atomically) from ``results`` (default: ``OUT/results.json``
    with the gradebook's manual scores, which then also rewrite ``grades.csv`` and the feedback
    pages); return its path."""
    out_dir = Path(out_dir)
    if results is None:
        results = with_manual_scores(Results.load(out_dir), out_dir)
        write_student_files(out_dir, results)
    html = report_html(results)
    path = out_dir / REPORT
    with atomic_write(path, "wb") as f:
        f.write(html.encode("utf-8"))
    return path
