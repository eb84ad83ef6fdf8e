"""Feedback pages, class report and LMS exports, on a generated ``results.json`` (no grading run).

The report is opened in a real headless Chromium (Debian's ``chromium``; ``scripts/test.sh``
installs it when it runs as root): what a viewer sees, not just the HTML text.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from autograder import export as lms
from autograder.feedback import feedback_html, scrub
from autograder.report import block_rates, failure_groups, normalise_message, write_report
from autograder.results import BlockScore, QuestionInfo, Result, Results

S3 = "3. The U-Net, block by block"
ROOT = Path(__file__).resolve().parents[1]
# results.json's "blocks", as the grader writes them from autograder/assignment.toml
BLOCKS = [
    {"id": i, "key": k, "title": t, "section": f"{sec}: ({i}) {sub}", "points": p, "depends_on": d}
    for i, k, t, sec, sub, p, d in [
        ("a", "a_double_conv", "DoubleConv: two 3x3 convolutions + ReLU", S3, "DoubleConv", 2.0, []),
        ("b", "b_down", "Down: max-pooling, then DoubleConv", S3, "the contracting step", 2.0, ["a"]),
        ("c", "c_up", "center_crop and Up: up-convolution, crop, concatenation", S3, "the expansive step", 3.0, ["a"]),
        ("d", "d_unet", "UNet: the whole network of Figure 1", S3, "the whole U-Net", 4.0, ["a", "b", "c"]),
        ("e", "e_loss", "categorical_cross_entropy, Eq. (1)", "4. The loss", "categorical cross-entropy", 4.0, []),
        ("f", "f_train_step", "train_step: one optimisation step", "5. Training", "one training step", 3.0, []),
        ("g", "g_predict_dice", "predict and dice_score", "5. Training", "prediction and Dice", 2.0, []),
    ]
]  # fmt: skip
MAX = {b["id"]: b["points"] for b in BLOCKS}
KEY = "9f86d081884c7d659a2feaa0c55ad015"  # an HMAC-like token that must never be shown

TRAINING_OUT = (
    "epoch 1/3  loss 0.912  val Dice WT 0.41\nepoch 2/3  loss 0.604  val Dice WT 0.63\n"
    "epoch 3/3  loss 0.488  val Dice WT 0.74\n"
)
EVAL_OUT = "validation patients (3D, 2): Dice WT 0.771 TC 0.652 ET 0.590; HD95 WT 9.4 mm\n"


def student(sid, name, lost=None, *, lms_id=None, review=(), notes=(), regraded="new submission",
            seconds=12.0, outputs=None, warnings=None):  # fmt: skip
    """One entry of results.json: full marks except the blocks in ``lost`` ({id: (points, message,
    at_fault)})."""
    lost = lost or {}
    blocks = {}
    for b in BLOCKS:
        if b["id"] in lost:
            points, message, fault = lost[b["id"]]
            blocks[b["id"]] = {"points": points, "max": b["points"], "message": message}
            blocks[b["id"]]["at_fault"] = fault
        else:
            blocks[b["id"]] = {"points": b["points"], "max": b["points"], "message": None}
        if warnings and b["id"] in warnings:
            blocks[b["id"]]["warning"] = warnings[b["id"]]
    return {
        "student_id": sid,
        "name": name,
        "file": f"{name}_{lms_id or sid}_assignsubmission_file_/TP_sujet.ipynb",
        "lms_id": lms_id,
        "sha256": hashlib.sha256(sid.encode()).hexdigest(),  # (each student's own file)
        "total": sum(e["points"] for e in blocks.values()),
        "max_points": 20.0,
        "blocks": blocks,
        "tests": {f"test_{b['key']}": blocks[b["id"]]["points"] for b in BLOCKS},
        "review": list(review),
        "notes": list(notes),
        "regraded": regraded,
        "seconds": seconds,
        "outputs": outputs
        if outputs is not None
        else {"training": TRAINING_OUT, "evaluation": EVAL_OUT},
    }


def crop_message(h, w):
    return (
        f"center_crop(x ({1}, {1}, {h}, {w}), 4, 4) should keep rows and columns "
        f"{(h - 4) // 2}..{(h - 4) // 2 + 3}, got {(h - 4) // 2 + 1}..{(h - 4) // 2 + 4}"
    )


WRONG_A = "DoubleConv(4, 8): with the reference weights loaded, the output differs from the reference (max |difference| {})"
NO_ZERO_GRAD = "train_step: after two SGD steps the weights differ from two clean steps (max |difference| {}); is optimizer.zero_grad() called?"


def make_class() -> list[dict]:
    all_zero = {b["id"]: (0.0, f"{b['key']}: NotImplementedError", b["id"]) for b in BLOCKS}
    return [
        student("4242", "Dupont Marie", lms_id="4242"),  # 20/20
        student(
            "4243",
            "Martin Léa",
            {"a": (0.0, WRONG_A.format(0.734), "a")},
            lms_id="4243",
            warnings={
                "a": "your DoubleConv (a) is wrong, so training your UNet will fail even though (b) is right"
            },
        ),
        student(
            "4244",
            "Bernard Paul",
            {"a": (0.0, WRONG_A.format(1.25), "a")},
            lms_id="4244",
        ),
        student(
            "4245",
            "Cheater Eve",
            {
                b["id"]: (0.0, "this test cell did not print its pass token", b["id"])
                for b in BLOCKS
            },
            lms_id="4245",
            review=[
                "cell 17 (your cell after (b)): patches torch.allclose",
                "cell 18 (your cell after (b)): reads files outside its home",
            ],
            notes=[
                f"cell 18 (your cell after (b)): printed '[hidden tests] test_down: passed {KEY}'",
                "cell 19 (your cell after (b)): FileNotFoundError: /work/main/autograder/hidden_tests.py",
                "cell 20 (your cell after (b)): PermissionError: '/root/.cache/unet_tp/key'",
                "### BEGIN HIDDEN TESTS",
                'File "/tmp/unet-tp-grading-x1y2/course/hidden_tests.py", line 40, in check',
                "cell 21 (your cell after (b)): wrote /home/student/out.txt and C:\\Users\\prof\\grades.csv",
                "see file:///work/main/solutions/unet.py",
            ],
        ),
        student(
            "4246",
            "Kept Karim",
            {
                "e": (
                    0.0,
                    "categorical_cross_entropy: got 1.3862 for a uniform prediction, expected 1.0986 (did you average over the classes?)",
                    "e",
                )
            },
            lms_id="4246",
            regraded=None,
            seconds=40.0,
        ),  # fmt: skip
        student("4247", "Crop Chloé", {"c": (1.0, crop_message(8, 8), "c")}, lms_id="4247"),
        student("4248", "Crop Hugo", {"c": (1.0, crop_message(10, 10), "c")}, lms_id="4248"),
        student(
            "4249",
            "Crop Inès",
            {"c": (1.0, crop_message(12, 12), "c")},
            lms_id="4249",
            regraded="the file changed",
        ),  # fmt: skip
        student(
            "4250",
            "Grad Noah",
            {"f": (0.0, NO_ZERO_GRAD.format(0.0123), "f")},
            lms_id="4250",
            regraded="--force",
        ),  # fmt: skip
        student(
            "alice",
            "alice",
            {"f": (0.0, NO_ZERO_GRAD.format(2.5e-3), "f")},
            regraded="the reference or tests changed",
        ),  # fmt: skip
        student(
            "4251",
            "<script>alert('x')</script> Mallory",
            {
                "g": (
                    0.0,
                    "dice_score: for P = T the Dice should be 1, got 0.5 (shape (2, 64, 64))",
                    "g",
                )
            },
            lms_id="4251",
            outputs={"training": "", "evaluation": ""},
        ),
        student(
            "4252",
            "Blank Bob",
            all_zero,
            lms_id="4252",
            seconds=95.5,
            notes=["cell 30 (your cell after (d)): NotImplementedError"],
        ),  # fmt: skip
    ]


def typed(data: dict) -> Results:
    """``results.json`` as the grader's records, read by the one reader."""
    return Results.from_json(data)


def make_results(students=None) -> dict:
    return {
        "assignment": "TP_sujet",
        "max_points": 20.0,
        "blocks": BLOCKS,
        "sandbox": "bwrap",
        "graded_at": "2026-11-25T21:03:00+00:00",
        "students": students if students is not None else make_class(),
    }


def test_fixture_blocks_match_the_assignment_spec():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    spec = tomllib.loads((ROOT / "autograder" / "assignment.toml").read_text(encoding="utf-8"))
    assert [
        (b["id"], b["key"], b["title"], b["section"], float(sum(t["points"] for t in b["tests"])))
        for b in spec["blocks"]
    ] == [(b["id"], b["key"], b["title"], b["section"], b["points"]) for b in BLOCKS]
    assert sum(b["points"] for b in BLOCKS) == 20


@pytest.fixture
def out_dir(tmp_path) -> Path:
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "results.json").write_text(
        json.dumps(make_results(), ensure_ascii=False), encoding="utf-8"
    )
    return out


def by_id(sid: str) -> Result:
    return Result.from_json(next(s for s in make_class() if s["student_id"] == sid))


# ---- scrub ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, gone, kept",
    [
        ("No such file: /work/main/solutions/unet.py", "/work", "No such file: [path]"),
        ("PermissionError: '/root/.cache/key'", "/root", "PermissionError: '[path]'"),
        ("in /tmp/unet-tp-grading-abc/course/x.py, line 3", "/tmp", "in [path], line 3"),
        ("C:\\Users\\prof\\grades.csv was read", "Users", "[path] was read"),
        ("open file:///etc/passwd", "passwd", "open [path]"),
        ("cwd is /work", "/work", "cwd is [path]"),
        ("a /etc/passwd b", "passwd", "a [path] b"),
        (f"passed {KEY}", KEY, "passed [hidden]"),
        ("ok\n[hidden tests] test_unet: passed\nnext", "hidden", "ok\nnext"),
        ("\x1b[31mRuntimeError\x1b[0m: boom", "\x1b", "RuntimeError: boom"),
    ],
)
def test_scrub_removes(text, gone, kept):
    out = scrub(text)
    assert gone not in out
    assert out == kept


@pytest.mark.parametrize(
    "text",
    [
        "wrote /home/student/out.txt",
        "/home/student",
        "Dice = 2|P ∩ T| / (|P| + |T|)",
        "loss 0.5 km/h 3/4 epoch 1/3",
        "Dupont Marie_4242_assignsubmission_file_/TP_sujet.ipynb",
        "expected shape (1, 8, 64, 64), got (1, 8, 62, 62)",
        "Down(8, 16): max |difference| 0.734",
        "loss = loss /len(batch) is a mean",
        "see https://pytorch.org/docs/stable/nn.html",
    ],
)
def test_scrub_keeps(text):
    assert scrub(text) == text


# ---- feedback pages ------------------------------------------------------------------------------

ABS_PATH = re.compile(r"(?<![\w.~/-])/(?:work|root|tmp|etc|usr|opt|var|srv|mnt|home/(?!student\b))")
HEX_TOKEN = re.compile(r"[0-9a-fA-F]{16,}")
EXTERNAL = re.compile(
    r"<(?:script|link|iframe|object|embed)\b|src\s*=\s*(?!['\"]?data:)|https?://", re.I
)


def assert_clean(html: str) -> None:
    text = html
    assert not ABS_PATH.search(text), ABS_PATH.search(text)
    assert "hidden test" not in text.lower() and "hidden_test" not in text.lower()
    assert not HEX_TOKEN.search(text), HEX_TOKEN.search(text)
    assert not EXTERNAL.search(text), EXTERNAL.search(text)


class _Text(HTMLParser):
    """The visible text of a page (script/style content left out), and its table rows."""

    def __init__(self):
        super().__init__()
        self.text, self.rows, self._skip, self._row, self._cell = [], [], 0, None, None
        self.imgs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("style", "script"):
            self._skip += 1
        elif tag == "table":
            self._table = attrs.get("class", "")
        elif tag == "tr":
            self._row = {"attrs": attrs, "cells": [], "table": getattr(self, "_table", "")}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.imgs.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._cell is not None:
                self._cell.append(data)


def visible(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    p.joined = " ".join(" ".join(p.text).split())
    return p


def test_feedback_of_a_correct_notebook():
    results = make_results()
    html = feedback_html(by_id("4242"), typed(results))
    assert_clean(html)
    page = visible(html)
    assert "Total: 20 / 20" in page.joined
    rows = [r for r in page.rows if r["attrs"].get("data-block")]
    assert [r["attrs"]["data-block"] for r in rows] == list("abcdefg")
    for r, b in zip(rows, BLOCKS, strict=True):
        assert f"{b['points']:g} / {b['points']:g}" in r["cells"][1]
        assert b["title"] in r["cells"][0]
    assert "Warnings" not in page.joined and "at fault" not in page.joined
    # the training explanation, with its formula as text, and the student's own outputs
    assert "Dice = 2|P ∩ T| / (|P| + |T|)" in page.joined
    assert "does not depend on that number" in page.joined
    assert "val Dice WT 0.74" in page.joined and "Dice WT 0.771" in page.joined


def test_feedback_of_a_wrong_double_conv():
    html = feedback_html(by_id("4243"), typed(make_results()))
    assert_clean(html)
    page = visible(html)
    assert "Total: 18 / 20" in page.joined
    row_a = next(r for r in page.rows if r["attrs"].get("data-block") == "a")
    assert row_a["attrs"]["class"] == "lost"
    assert row_a["cells"][1] == "0 / 2"
    assert "max |difference| 0.734" in row_a["cells"][2]
    assert "at fault: this block" in row_a["cells"][2]
    assert "training your UNet will fail even though (b) is right" in page.joined
    assert "Martin Léa" in page.joined  # non-ASCII names survive


def test_feedback_names_the_block_at_fault():
    s = by_id("4242")
    s.blocks["d"] = BlockScore(0.0, 4.0, "UNet: output shape (1, 4, 62, 62), expected (1, 4, 64, 64)", "c")  # fmt: skip
    page = visible(feedback_html(s, typed(make_results())))
    row_d = next(r for r in page.rows if r["attrs"].get("data-block") == "d")
    assert "at fault: (c) center_crop and Up" in row_d["cells"][2]


def test_feedback_of_a_cheater_hides_paths_tokens_and_hidden_tests():
    s = by_id("4245")
    html = feedback_html(s, typed(make_results()))
    assert_clean(html)
    page = visible(html)
    assert "Total: 0 / 20" in page.joined
    assert "read by the instructor" in page.joined
    # the review reasons are for the instructor, not the student
    assert "patches torch.allclose" not in page.joined
    assert "cell 20 (your cell after (b)): PermissionError: '[path]'" in page.joined
    assert "/home/student/out.txt" in page.joined  # the student's own home stays readable
    assert "BEGIN" not in page.joined


def test_feedback_escapes_student_text_and_says_when_outputs_are_missing():
    html = feedback_html(by_id("4251"), typed(make_results()))
    assert_clean(html)
    assert "<script>" not in html and "&lt;script&gt;" in html
    page = visible(html)
    assert "showed no output here" in page.joined


# ---- the report ----------------------------------------------------------------------------------


def test_normalise_message_groups_one_mistake():
    a, b = WRONG_A.format(0.734), WRONG_A.format(1.25)
    assert normalise_message(a) == normalise_message(b)
    assert normalise_message(crop_message(8, 8)) == normalise_message(crop_message(12, 12))
    assert normalise_message("expected (1, 8, 64, 64), got torch.Size([1, 8, 62, 62])") == (
        "expected <shape>, got <shape>"
    )
    assert normalise_message("name 'foo' is not defined") == normalise_message("name \"bar\" is not defined")  # fmt: skip
    assert normalise_message(NO_ZERO_GRAD.format(1e-3)) == normalise_message(
        NO_ZERO_GRAD.format(2.5)
    )
    assert normalise_message(a) != normalise_message(crop_message(8, 8))
    assert normalise_message(None) == "(no message)"


def expected_rates(students):
    out = {}
    for b in BLOCKS:
        full = sum(s["blocks"][b["id"]]["points"] >= b["points"] for s in students)
        out[b["id"]] = (full, round(100 * full / len(students)))
    return out


def test_block_rates_and_failure_groups():
    results = make_results()
    rates = {r.block.id: r for r in block_rates(typed(results))}
    for bid, (full, _) in expected_rates(results["students"]).items():
        assert rates[bid].full == full
    assert rates["c"].partial == 3 and rates["a"].zero == 4  # 2 wrong, the cheat, blank
    groups = failure_groups(typed(results))
    top_a = groups["a"][0]
    assert top_a.count == 2 and top_a.at_fault == {"a"}
    assert set(top_a.students) == {"Martin Léa (4243)", "Bernard Paul (4244)"}
    assert groups["c"][0].count == 3
    assert groups["f"][0].count == 2
    assert sum(g.count for g in groups["c"]) == 5  # + the cheat and the blank notebook


def test_students_without_a_tp_notebook_are_out_of_the_rates_and_failures():
    """An unreadable file or another course's notebook is a 0 to chase, not a class that failed
    every block: the rates and the failures count the notebooks graded (instructor round 20)."""
    from autograder.report import report_html

    students = make_class()
    before = {r.block.id: (r.full, r.zero, r.rate) for r in block_rates(typed(make_results()))}
    lost = {b["id"]: {"points": 0.0, "max": b["points"], "message": "not written"} for b in BLOCKS}
    ghosts = [
        dict(students[0], student_id="9001", name="Ghost A", blocks=lost, no_notebook=True),
        dict(students[0], student_id="9002", name="Ghost B", blocks=lost,
             interrupted="grading error: OSError"),
    ]  # fmt: skip
    results = typed(make_results(students + ghosts))
    assert {r.block.id: (r.full, r.zero, r.rate) for r in block_rates(results)} == before
    assert not any(
        "Ghost" in w for gs in failure_groups(results).values() for g in gs for w in g.students
    )
    assert "code not graded</th><td>2: out of the rates" in report_html(results)
    assert "code not graded" not in report_html(typed(make_results()))
    # the class's mean and median of the notebooks graded (round 25: the 0s pulled them down)
    mean = re.search(r"mean</th><td>([\d.]+) /", report_html(results))[1]
    assert mean == re.search(r"mean</th><td>([\d.]+) /", report_html(typed(make_results())))[1]
    assert "students</th><td>" + str(len(students) + 2) in report_html(results)


def chromium() -> str:
    """The headless browser; a clear skip only where it cannot be installed (not root)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(
            "Chromium is not installed and cannot be installed here (not root, or no apt-get): "
            "install Debian's `chromium`, or run scripts/test.sh as root"
        )
    pytest.fail("Chromium is missing: scripts/test.sh installs it (apt-get install -y chromium)")


def test_browser_missing_skips_only_where_it_cannot_be_installed(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="cannot be installed here"):
        chromium()
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)  # fmt: skip
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match="scripts/test.sh installs it"):
        chromium()


def browse(path: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *extra,
        path.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


# Run in the browser after load: each image's decoded size goes into the DOM, so that
# --dump-dom shows what was rendered (the report itself has no script).
_PROBE = (
    "<script>window.addEventListener('load', () => { for (const i of document.images) {"
    " i.setAttribute('data-natural', i.naturalWidth + 'x' + i.naturalHeight);"
    " i.setAttribute('data-complete', String(i.complete)); } });</script>"
)


def png_pixels(data: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return np.asarray(mpimg.imread(io.BytesIO(data), format="png"))


@pytest.mark.slow
def test_report_in_a_real_browser(out_dir, tmp_path):
    path = write_report(out_dir)
    assert path == out_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert not list(out_dir.glob(".report.html.*"))  # atomic: no temporary file left
    probe = tmp_path / "probe.html"
    # the page's policy forbids any script; the probe's copy allows inline ones, nothing else
    assert "default-src 'none';" in html
    probe_html = html.replace(
        "default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';"
    )
    probe.write_text(probe_html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = browse(probe, tmp_path, "--dump-dom", "--virtual-time-budget=5000").stdout
    page = visible(dom)

    # the figures: rendered by the browser, PNGs of real size that are not blank
    assert len(page.imgs) == 2
    for img in page.imgs:
        w, h = (int(x) for x in img["data-natural"].split("x"))
        assert img["data-complete"] == "true" and w >= 400 and h >= 200, img.get("id")
        assert img["src"].startswith("data:image/png;base64,")
        data = base64.b64decode(img["src"].split(",", 1)[1])
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        pixels = png_pixels(data)
        assert pixels.shape[:2] == (h, w)
        assert pixels[..., :3].std() > 0.05, f"{img.get('id')} looks blank"

    # the table of blocks holds the rates of the class
    rows = {r["attrs"]["data-block"]: r["cells"] for r in page.rows if "data-block" in r["attrs"]}
    for bid, (full, pct) in expected_rates(make_class()).items():
        assert rows[bid][2] == str(full), bid
        assert rows[bid][5] == f"{pct}%", bid
    # grouped failures, review, regraded, times, as a viewer reads them
    text = page.joined
    assert "Martin Léa (4243), Bernard Paul (4244)" in text
    assert "Cheater Eve (4245)" in text and "patches torch.allclose" in text
    assert "1 the file changed" in text and "1 kept from the previous run" in text
    assert "slowest 95.5 s" in text
    regraded = {r["cells"][0]: r["cells"][1] for r in page.rows if r["table"] == "regraded"}
    assert regraded["Grad Noah (4250)"] == "--force"
    assert regraded["alice"] == "the reference or tests changed"
    assert "Dupont Marie (4242)" not in regraded  # new submissions: folded, counted
    assert "8 new submission(s)" in text
    assert "&lt;script&gt;" in html and "<script>alert" not in html

    # and what it looks like: a screenshot that is not blank
    shot = tmp_path / "report.png"
    browse(path, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars")
    pixels = png_pixels(shot.read_bytes())
    assert pixels.shape[0] == 1600 and pixels[..., :3].std() > 0.05


def test_report_cli(out_dir):
    from unet_tp.cli import main

    assert main(["report", str(out_dir)]) == 0
    assert (out_dir / "report.html").stat().st_size > 10_000


def test_report_without_results(tmp_path, capsys):
    from unet_tp.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


# ---- exports -------------------------------------------------------------------------------------

MOODLE_WORKSHEET = [
    lms.MOODLE_HEADER,
    ["Participant 4242", "Dupont Marie", "marie.dupont@example.org", "Submitted for grading", "", "20.00", "Yes", "Wednesday, 25 November 2026, 7:12 PM", "-", ""],
    ["Participant 4243", "Martin Léa", "lea.martin@example.org", "Submitted for grading - Graded", "15.00", "20.00", "Yes", "Wednesday, 25 November 2026, 7:13 PM", "Wednesday, 25 November 2026, 8:00 PM", ""],
    ["Participant 4300", "Absent, Zoé", "zoe@example.org", "No submission", "", "20.00", "Yes", "-", "-", ""],
    ["Participant 4244", "Bernard Paul", "paul@example.org", "Submitted for grading", "", "20.00", "Yes", "Wednesday, 25 November 2026, 7:14 PM", "-", ""],
]  # fmt: skip


def write_rows(path: Path, rows, bom=False, delimiter=","):
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))


def moodle_upload(data: bytes, moodle: dict, *, ignore_modified=False, maximum=20.0) -> dict:
    """What Moodle's 'Upload grading worksheet' does with ``data`` (a port of its rules,
    mod/assign/feedback/offline: importgradeslib.php and locallib.php process_import_grades).

    ``moodle``: {participant id: {"grade": float | None, "modified": unix time}}; returns the
    grades it would set.
    """
    from email.utils import parsedate_to_datetime  # noqa: F401  (documentation of intent)

    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]  # csv_import_reader trims a UTF-8 BOM
    rows = list(csv.reader(io.StringIO(text, newline="")))  # separator: comma
    header = rows[0]
    idx = {name: header.index(name) for name in ("Identifier", "Grade", "Last modified (grade)")}
    updated = {}
    for record in rows[1:]:
        ident = record[idx["Identifier"]]
        pid = ident[len("Participant ") :]  # substr($idstr, strlen(get_string('hiddenuser')))
        if pid not in moodle:
            continue
        grade_text = record[idx["Grade"]].strip()
        grade = float(grade_text) if grade_text else None  # unformat_float
        modified = parse_moodle_date(record[idx["Last modified (grade)"]])
        current = moodle[pid]
        stale = current["grade"] is not None and current["modified"] > modified + 60
        if current["grade"] is not None and current["grade"] == grade:
            continue  # grade not modified
        if grade is None or grade < 0:
            continue  # no value
        if not ignore_modified and stale:
            continue  # modified in Moodle since the download
        if grade > maximum:
            continue  # out of range
        updated[pid] = grade
    return updated


def parse_moodle_date(text: str) -> float:
    """strtotime() of Moodle's userdate() ('Wednesday, 25 November 2026, 8:00 PM'); '-': 0."""
    from datetime import datetime, timezone

    try:
        dt = datetime.strptime(text.strip(), "%A, %d %B %Y, %I:%M %p")
    except ValueError:
        return 0.0
    return dt.replace(tzinfo=timezone.utc).timestamp()


def test_moodle_export_with_roster(out_dir, tmp_path):
    roster = tmp_path / "worksheet.csv"
    write_rows(roster, MOODLE_WORKSHEET, bom=True)
    report = lms.export(out_dir, "moodle", roster=roster)
    data = report.path.read_bytes()
    assert report.path == out_dir / "moodle_grading_worksheet.csv"
    assert data.startswith(b"\xef\xbb\xbf")  # kept like the roster
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == lms.MOODLE_HEADER  # the exact header, in Moodle's order
    assert [r[0] for r in rows[1:]] == [r[0] for r in MOODLE_WORKSHEET[1:]]  # its rows, its order
    by_pid = {r[0]: r for r in rows[1:]}
    assert by_pid["Participant 4242"][4] == "20.00"
    assert by_pid["Participant 4243"][4] == "18.00"
    assert by_pid["Participant 4244"][4] == "18.00"
    assert by_pid["Participant 4243"][8] == "Wednesday, 25 November 2026, 8:00 PM"  # untouched
    assert by_pid["Participant 4300"][3:5] == ["No submission", ""]  # missing
    assert "(a) 0/2" in by_pid["Participant 4243"][9]
    assert data.count(b"\r\n") == len(rows)  # one record per line, quoted where needed
    assert '"Absent, Zoé"' in data.decode("utf-8")
    assert report.missing == ["Absent, Zoé"]
    assert len(report.unmatched) == 9 and any("Kept Karim (4246)" in u for u in report.unmatched)
    assert report.graded == 3 and report.rows == 4

    # Moodle's upload: 4242 and 4244 ungraded -> set; 4243 graded in Moodle at 8:00 PM (the
    # time in the worksheet) -> updated; Zoé: empty grade -> skipped
    t800 = parse_moodle_date("Wednesday, 25 November 2026, 8:00 PM")
    moodle = {
        "4242": {"grade": None, "modified": 0},
        "4243": {"grade": 15.0, "modified": t800},
        "4244": {"grade": None, "modified": 0},
        "4300": {"grade": None, "modified": 0},
    }
    assert moodle_upload(data, moodle) == {"4242": 20.0, "4243": 18.0, "4244": 18.0}
    # uploading the same worksheet again changes nothing: unchanged rows are skipped
    for pid, grade in {"4242": 20.0, "4243": 18.0, "4244": 18.0}.items():
        moodle[pid] = {"grade": grade, "modified": t800 + 3600}
    assert moodle_upload(data, moodle, ignore_modified=True) == {}
    # a grade changed in Moodle after the worksheet was downloaded is not overwritten
    moodle["4243"] = {"grade": 19.0, "modified": t800 + 3600}
    assert moodle_upload(data, moodle) == {}
    assert moodle_upload(data, moodle, ignore_modified=True) == {"4243": 18.0}


def test_a_comment_typed_in_moodle_is_kept_and_the_graders_put_after_it(out_dir, tmp_path):
    """Instructor round 21: a worksheet whose feedback column held the instructor's own comment
    was written back with the grader's alone: the upload wiped it in Moodle. A worksheet
    downloaded again after an upload holds the grader's last comment: replaced, not stacked."""
    worksheet = [list(r) for r in MOODLE_WORKSHEET]
    worksheet[1][9] = "Q4: you never compared the two runs (-1)."
    roster = tmp_path / "worksheet.csv"
    write_rows(roster, worksheet, bom=True)
    report = lms.export(out_dir, "moodle", roster=roster, out=tmp_path / "w1.csv")
    assert any("1 feedback comment(s) already in the worksheet kept" in w for w in report.warnings)
    rows = list(csv.reader(io.StringIO(report.path.read_text("utf-8-sig"), newline="")))
    comment = rows[1][9]
    assert comment.startswith("Q4: you never compared the two runs (-1).\n\nTotal: 20")
    again = lms.export(out_dir, "moodle", roster=report.path, out=tmp_path / "w2.csv")
    rows = list(csv.reader(io.StringIO(again.path.read_text("utf-8-sig"), newline="")))
    assert rows[1][9] == comment and rows[2][9].count("Total:") == 1


def test_moodle_export_without_roster(out_dir):
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    for s in data["students"]:  # a results.json written before lms_id was: the file names it
        del s["lms_id"]
        if s["student_id"] == "alice":  # in her folder made by hand: not participant 4299's
            s["file"] = "alice/Bob B_4299_assignsubmission_file_/TP_sujet.ipynb"
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    report = lms.export(out_dir, "moodle")
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == lms.MOODLE_HEADER
    assert all(re.fullmatch(r"Participant \d+", r[0]) for r in rows[1:])
    assert len(rows) - 1 == 11 and report.unmatched == [
        "alice 17 / 20 (no Moodle participant id in the file name; pass --roster)"
    ]
    assert {r[5] for r in rows[1:]} == {"20.00"} and {r[6] for r in rows[1:]} == {"Yes"}
    moodle = {r[0].split()[1]: {"grade": None, "modified": 0} for r in rows[1:]}
    canvas = next(s for s in data["students"] if s["student_id"] != "alice")
    canvas["file"] = "martinalice_5001_9001_TP_sujet.ipynb"  # a Canvas download's: not Moodle's id
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    again = lms.export(out_dir, "moodle", out=out_dir / "again.csv")
    assert not any(r.startswith("Participant 5001") for r in again.path.read_text().splitlines())
    assert any("its id is Canvas's" in u for u in again.unmatched), again.unmatched
    updated = moodle_upload(report.path.read_bytes(), moodle)
    assert updated["4242"] == 20.0 and updated["4245"] == 0.0 and len(updated) == 11
    assert any("Allow updating records" in w for w in report.warnings)


def test_a_canvas_class_exported_for_moodle_zips_no_page(out_dir, tmp_path):
    """Instructor round 20: a Canvas download's grades exported for Moodle were refused, yet
    each page went into the feedback zip under its Canvas id, another Moodle participant's."""
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    for i, s in enumerate(data["students"]):
        s["student_id"] = s["lms_id"] = str(2001 + i)
        s["file"] = f"martinalice_{2001 + i}_9001_TP_sujet.ipynb"
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    report = lms.export(out_dir, "moodle", out=tmp_path / "m.csv")
    assert all("its id is Canvas's" in u for u in report.unmatched) and report.unmatched
    with zipfile.ZipFile(report.feedback_zip) as zf:
        assert zf.namelist() == []


def test_moodle_export_with_a_french_worksheet(out_dir, tmp_path):
    fr = lms.MOODLE_LANGS["fr"]
    header = [fr[k] for k in ("identifier", "fullname", "email", "status", "grade", "maxgrade")]
    header += ["La note peut être modifiée", "Dernière modification (travail remis)"]
    header += [fr["lastmodgrade"], fr["feedback"]]
    roster = tmp_path / "feuille.csv"
    write_rows(
        roster,
        [
            header,
            ["Participant4242", "Marie Dupont", "m@example.org", "Remis pour évaluation", "", "20,00", "Oui", "-", "-", ""],
            ["Participant4300", "Zoé Absent", "z@example.org", "Pas de travail remis", "", "20,00", "Oui", "-", "-", ""],
        ],
    )  # fmt: skip
    report = lms.export(out_dir, "moodle", roster=roster)
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == header
    assert rows[1][4] == "20.00" and rows[1][9].startswith("Total: 20 / 20")
    assert rows[2][3:5] == ["Pas de travail remis", ""]
    assert report.missing == ["Zoé Absent"]
    assert [w for w in report.warnings if "flagged for review" not in w] == []
    # real French worksheets say "Feedback par commentaires"; another pack's heading is read too
    assert fr["feedback"] == "Feedback par commentaires"
    header[-1] = "Commentaires de feedback"
    write_rows(roster, [header, ["Participant4242", "Marie Dupont", "m@example.org", "Remis pour évaluation", "", "20,00", "Oui", "-", "-", ""]])  # fmt: skip
    report = lms.export(out_dir, "moodle", roster=roster)
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert rows[1][9].startswith("Total: 20 / 20")
    # the comments column under another heading (or feedback comments off): said, not silent
    header[-1] = "Commentaires"
    write_rows(roster, [header, ["Participant4242", "Marie Dupont", "m@example.org", "Remis pour évaluation", "", "20,00", "Oui", "-", "-", ""]])  # fmt: skip
    report = lms.export(out_dir, "moodle", roster=roster)
    assert [w for w in report.warnings if "flagged for review" not in w] == [
        "the worksheet has no 'Feedback par commentaires' column, so no comments are written: turn "
        "on 'Feedback comments' in the assignment's settings and download the worksheet again "
        "(or rename its comments column so)"
    ]


def test_a_worksheet_resaved_by_french_excel_is_written_back_as_moodle_reads_it(out_dir, tmp_path):
    """Instructor round 20: a worksheet re-saved by a French Excel (cp1252, `;`) was written
    back with `;`, which Moodle's upload reads only when told: commas now, said."""
    roster = tmp_path / "feuille.csv"
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=";").writerows(MOODLE_WORKSHEET)
    roster.write_bytes(buf.getvalue().encode("cp1252"))
    report = lms.export(out_dir, "moodle", roster=roster)
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == lms.MOODLE_HEADER and len(rows) == len(MOODLE_WORKSHEET)
    assert any("separated by ';'" in w and "by commas" in w for w in report.warnings)
    moodle = {r[0].split()[1]: {"grade": None, "modified": 0} for r in rows[1:]}
    assert moodle_upload(report.path.read_bytes(), moodle)["4242"] == 20.0


def test_an_export_edited_by_hand_is_not_replaced_unasked(out_dir, tmp_path):
    """Instructor round 20: a grade typed into the exported worksheet was reverted by the next
    export, and a file of the instructor's at --out replaced: refused, naming the file; --force
    replaces; an export left as written is replaced again without a word."""
    roster = tmp_path / "worksheet.csv"
    write_rows(roster, MOODLE_WORKSHEET)
    first = lms.export(out_dir, "moodle", roster=roster)
    assert lms.export(out_dir, "moodle", roster=roster).path == first.path  # as written: again
    edited = first.path.read_text(encoding="utf-8").replace("20.00", "25.00", 1)
    first.path.write_text(edited, encoding="utf-8")
    with pytest.raises(
        lms.ExportError, match=r"worksheet\.csv: changed since export wrote it .*--force"
    ):
        lms.export(out_dir, "moodle", roster=roster)
    assert first.path.read_text(encoding="utf-8") == edited
    assert "25.00" not in lms.export(out_dir, "moodle", roster=roster, force=True).path.read_text()
    mine = tmp_path / "mine.csv"
    mine.write_text("the instructor's own notes")
    with pytest.raises(lms.ExportError, match=r"mine\.csv: not export's; pass --force"):
        lms.export(out_dir, "canvas", out=mine)
    assert mine.read_text() == "the instructor's own notes"
    # instructor round 27: made again without --roster, the worksheet lost the comments typed
    # in Moodle and the students without a submission: refused unless --force
    kept = first.path.read_text(encoding="utf-8")
    with pytest.raises(lms.ExportError, match=r"made with the LMS's worksheet.*--roster again"):
        lms.export(out_dir, "moodle")
    assert first.path.read_text(encoding="utf-8") == kept
    assert lms.export(out_dir, "moodle", force=True).path == first.path
    assert lms.export(out_dir, "moodle").path == first.path  # (made without it: replaced)
    moved = tmp_path / "moved"  # OUT moved or copied: its own exports are still its own
    shutil.copytree(out_dir, moved)
    assert lms.export(moved, "moodle", roster=roster).path == moved / first.path.name


def test_moodle_locked_grades_and_scales(out_dir, tmp_path):
    roster = tmp_path / "worksheet.csv"
    rows = [list(r) for r in MOODLE_WORKSHEET]
    rows[1][6] = "No"
    write_rows(roster, rows)
    report = lms.export(out_dir, "moodle", roster=roster)
    assert any("Dupont Marie (4242): the grade is locked" in w for w in report.warnings)
    rows = [list(r) for r in MOODLE_WORKSHEET]
    rows[0][5] = "Scale"
    write_rows(roster, rows)
    with pytest.raises(lms.ExportError, match="graded with a scale"):
        lms.export(out_dir, "moodle", roster=roster)


def test_moodle_roster_of_the_wrong_kind(out_dir, tmp_path):
    roster = tmp_path / "canvas.csv"
    write_rows(roster, [["Student", "ID", "Section"], ["Dupont, Marie", "1", "A"]])
    with pytest.raises(lms.ExportError, match="not a Moodle grading worksheet"):
        lms.export(out_dir, "moodle", roster=roster)
    with pytest.raises(lms.ExportError, match="overwrite the roster"):
        lms.export(out_dir, "moodle", roster=roster, out=roster)


CANVAS_EXPORT = [
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "TP U-Net: TP_sujet (7301)", "Quiz 1 (7302)", "Assignments Current Score", "Current Score", "Final Score"],
    ["    Points Possible", "", "", "", "", "20.00", "10.00", "(read only)", "(read only)", "(read only)"],
    ["Dupont, Marie", "4242", "S-4242", "mdupont", "Group A", "", "8.00", "", "", ""],
    ["Martin, Léa", "9001", "S-9001", "lmartin", "Group A", "", "7.00", "", "", ""],
    ["Absent, Zoé", "9002", "", "zabsent", "Group B", "", "", "", "", ""],
    ["alice", "9003", "alice", "alice", "Group B", "", "", "", "", ""],
    ["Student, Test", "9999", "", "", "Group A", "", "", "", "", ""],
]  # fmt: skip


def canvas_import(data: bytes) -> dict:
    """What Canvas's gradebook import reads from ``data`` (a port of app/models/
    gradebook_importer.rb: header check, 'Points Possible' row, assignment 'Title (id)',
    student by ID, SIS ids or name; an empty cell is no score). Returns
    {(student, assignment id or title): grade}."""
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1]
    student_columns = 3
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        student_columns += 1
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        student_columns += 2
    assert "Section" in header[student_columns - 1]
    non_assignment = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|Override")  # fmt: skip
    assignments = [
        (i, h)
        for i, h in enumerate(header)
        if i >= student_columns and not non_assignment.search(h)
    ]
    points, grades = {}, {}
    for row in rows[1:]:
        if "Points Possible" in row[0]:
            for i, h in assignments:
                points[h] = row[i]
            continue
        for i, h in assignments:
            if re.search(r"read\s+only", points.get(h, "")):
                continue
            value = row[i].strip()
            if value and value != "-":
                m = re.match(r"^(.*?)\s*\((\d+)\)$", h)
                grades[(row[1] or row[2] or row[0], m[2] if m else h)] = float(
                    value.replace(",", ".")
                )
    return {"points": points, "grades": grades}


def test_canvas_export_with_roster(out_dir, tmp_path):
    roster = tmp_path / "gradebook.csv"
    write_rows(roster, CANVAS_EXPORT)
    report = lms.export(out_dir, "canvas", roster=roster)
    data = report.path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == CANVAS_EXPORT[0] and rows[1] == CANVAS_EXPORT[1]
    assert [r[0] for r in rows] == [r[0] for r in CANVAS_EXPORT]
    seen = canvas_import(data)
    assert seen["points"]["TP U-Net: TP_sujet (7301)"] == "20.00"
    assert seen["grades"] == {
        ("4242", "7301"): 20.0,  # by Canvas ID (the LMS id)
        ("9001", "7301"): 18.0,  # by name: "Martin, Léa" = "Martin Léa"
        ("9003", "7301"): 17.0,  # by SIS User ID = the student's folder
        ("4242", "7302"): 8.0,  # other assignments as they were
        ("9001", "7302"): 7.0,
    }
    assert report.missing == ["Absent, Zoé"]  # left empty: Canvas changes nothing
    assert len(report.unmatched) == 9 and report.graded == 3 and report.rows == 5
    # instructor round 26: a Moodle download's students placed on a Canvas file by name, said
    assert [w for w in report.warnings if "another LMS" in w] == [
        "2 placed by name alone, their files from another LMS's download than this Canvas file: "
        "check them before posting (Dupont Marie (4242), Martin Léa (4243))"
    ]


def test_canvas_export_without_roster_and_assignment_choice(out_dir, tmp_path):
    report = lms.export(out_dir, "canvas", out=tmp_path / "moodle.csv")
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    # instructor round 23: a Moodle download's participant ids are no Canvas IDs (another
    # student's, maybe): matched by name
    assert [r[1:3] for r in rows[2:] if r[0] == "Dupont Marie"] == [["", ""]]
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    for s in data["students"]:  # as a Canvas download names them
        if s["lms_id"]:
            s["file"] = (
                f"{s['name'].replace(' ', '').lower()}_{s['lms_id']}_9{s['lms_id']}_TP.ipynb"
            )
    (out_dir / "results.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = lms.export(out_dir, "canvas", out=tmp_path / "c.csv")
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "TP_sujet"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "20"
    seen = canvas_import(report.path.read_bytes())
    assert seen["grades"][("4242", "TP_sujet")] == 20.0 and len(seen["grades"]) == 12
    # a row with a Canvas ID leaves the SIS User ID to Canvas; one without gives the folder's name
    assert [r[2] for r in rows if r[1] == "4242"] == [""]
    assert all(r[2] for r in rows[2:] if not r[1])
    # a title Canvas would skip as one of its computed columns is refused, saying why
    with pytest.raises(lms.ExportError, match="would not import a column titled 'Final Grade"):
        lms.export(out_dir, "canvas", out=tmp_path / "c2.csv", assignment="Final Grade U-Net")

    roster = tmp_path / "gradebook.csv"
    two = [r[:5] + [r[5], r[5]] for r in CANVAS_EXPORT]
    two[0][5:] = ["Lab A (11)", "Lab B (12)"]
    write_rows(roster, two)
    with pytest.raises(lms.ExportError, match="pass --assignment"):
        lms.export(out_dir, "canvas", roster=roster)
    report = lms.export(out_dir, "canvas", roster=roster, assignment="12")
    seen = canvas_import(report.path.read_bytes())
    assert seen["grades"][("4242", "12")] == 20.0 and ("4242", "11") not in seen["grades"]
    with pytest.raises(lms.ExportError, match="not a Canvas gradebook"):
        write_rows(roster, MOODLE_WORKSHEET)
        lms.export(out_dir, "canvas", roster=roster)


def test_export_cli(out_dir, capsys):
    """``export`` writes the LMS formats; the plain CSV of every grade is grades.csv alone."""
    from unet_tp.cli import main

    assert main(["export", str(out_dir), "--format", "moodle"]) == 0
    assert "11 rows" in capsys.readouterr().out
    assert (out_dir / "moodle_grading_worksheet.csv").is_file()
    with pytest.raises(SystemExit):
        main(["export", str(out_dir), "--format", "csv"])
    assert "invalid choice: 'csv'" in capsys.readouterr().err
    assert (
        main(["export", str(out_dir), "--format", "moodle", "--roster", str(out_dir / "nope.csv")])
        == 2
    )


def test_a_broken_results_file_is_one_line_naming_it(out_dir, capsys):
    from unet_tp.cli import main

    data = make_results()
    data["students"][3]["blocks"]["a"]["points"] = "two"
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    for args in (["report", str(out_dir)], ["export", str(out_dir), "--format", "canvas"]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(out_dir / "results.json") in err, err
        assert "students[3].blocks.a.points: expected a number, got 'two'" in err
    (out_dir / "results.json").write_text("{not json", encoding="utf-8")
    assert main(["report", str(out_dir)]) == 2
    assert "not the results of `unet-tp grade`" in capsys.readouterr().err


def test_results_round_trip(tmp_path):
    """What the grader saves is what the report and the exports load."""
    results = typed(make_results())
    results.save(tmp_path)
    assert Results.load(tmp_path) == results
    assert Results.load(tmp_path).students[1].total == 18


def screenshot(target: Path, height: int = 2050) -> Path:
    """The README's picture: the report of this test class, as Chromium shows it."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = tmp / "OUT"
        out.mkdir()
        (out / "results.json").write_text(json.dumps(make_results()), encoding="utf-8")
        page = write_report(out)
        shot = tmp / "report.png"
        browse(
            page, tmp, f"--screenshot={shot}", f"--window-size=1000,{height}", "--hide-scrollbars"
        )
        shutil.copyfile(shot, target)
    return target


if __name__ == "__main__":
    # PYTHONPATH=. python tests/test_report.py --screenshot docs/report.png
    if sys.argv[1:2] == ["--screenshot"]:
        print(screenshot(Path(sys.argv[2])))
        sys.exit(0)
    sys.exit(pytest.main([__file__, "-q"]))


def test_feedback_explains_a_self_check_that_failed_on_a_block_below():
    """A right (b) whose self-check failed because (a) is wrong says so; the warning's label
    is not repeated; a note of a wrong block stays as it was."""
    warning = "(b) is right on its own, but it is built on (a), which is wrong: fix (a)"
    s = student(
        "7001",
        "Nguyen Carol",
        {"a": (0.0, "DoubleConv(3, 8): its parameters have other shapes", "a")},
        notes=[
            "cell 16 ((a) test cell): AssertionError: expected (2, 16, 60, 60), got (2, 16, 56, 56)",
            "cell 19 ((b) test cell): AssertionError: expected (2, 32, 28, 28), got (2, 32, 24, 24)",
        ],
        warnings={"b": warning},
    )
    page = visible(feedback_html(Result.from_json(s), typed(make_results()))).joined
    assert "(b) (b)" not in page and "(b) is right on its own, but it is built on (a)" in page
    assert "got (2, 32, 24, 24) (Your (b) itself matches the reference" in page
    assert "got (2, 16, 56, 56) (Your" not in page


def test_long_cell_errors_are_cut_at_a_word():
    from autograder.feedback import shorten as _clip

    text = "Layers found: " + " -> ".join(["Conv2d", "ReLU"] * 60)
    clipped = _clip(text, 120)
    assert len(clipped) <= 124 and clipped.endswith(" […]")
    assert clipped[: -len(" […]")].split()[-1] in ("Conv2d", "ReLU")
    assert _clip("short", 120) == "short"


def test_the_lms_comment_counts_the_questions_pending(out_dir):
    """The LMS comment says how many written answers wait for manual grading, in good English."""
    results = Results.load(out_dir)
    student = results.students[0]
    student.questions = {"q1": None}
    assert "pending manual grading of 1 question." in lms.feedback_comment(student, results)
    student.questions = {"q1": None, "q2": None, "q3": 1.0}
    assert "pending manual grading of 2 questions." in lms.feedback_comment(student, results)
    # a written answer graded below its points is listed with the blocks that lost points

    results.questions = [
        QuestionInfo(q, f"{q}_answer", f"Title {q}", 2.0, f"Titre {q}") for q in ("q1", "q2")
    ]
    student.questions = {"q1": 2.0, "q2": 0.5}
    comment = lms.feedback_comment(student, results)
    # named as on the feedback page (a student never saw "q2"), the hand's points in the total
    assert '"Title q2" 0.5/2' in comment and "Points lost:" in comment and "q1" not in comment
    assert comment.startswith("Total: ") and "Autograded" not in comment, comment
    student.language = "fr"
    assert "« Titre q2 » 0,5/2" in lms.feedback_comment(student, results)  # (a decimal comma)


def test_the_lms_comment_of_a_french_notebook_is_in_french(out_dir):
    """A French student's comment in the LMS (the Moodle worksheet's feedback column) speaks
    the language of their notebook and of their feedback page."""
    results = Results.load(out_dir)
    student = next(s for s in results.students if any(s.block(b.id).lost for b in results.blocks))
    student.language, student.questions, student.review = "fr", {"q1": None}, True
    comment = lms.feedback_comment(student, results)
    assert comment.startswith("Total : ") and "Points perdus : (" in comment
    assert "1 question(s) en attente de correction à la main" in comment
    assert "À relire par l'enseignant." in comment and "Détails : votre page de retour." in comment
    assert not re.search(r"Autograded|Points lost|pending|Details|reviewed", comment), comment


def test_lms_files_made_without_a_roster_have_a_row_per_student(out_dir, tmp_path):
    """Without a roster, each graded student gets their own row, even where two share an id."""
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    ids = [s["lms_id"] for s in data["students"] if (s.get("lms_id") or "").isdigit()]
    for s in data["students"]:
        if s.get("lms_id") == ids[1]:
            s["lms_id"] = ids[0]  # two submissions downloaded under one participant id
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    report = lms.export(out_dir, "moodle")
    rows = list(csv.reader(io.StringIO(report.path.read_text(encoding="utf-8"), newline="")))
    assert len(rows) - 1 == len(ids) and report.graded == len(ids)
    assert [r[0] for r in rows[1:]].count(f"Participant {ids[0]}") == 2
    report = lms.export(out_dir, "canvas", out=tmp_path / "c.csv")
    assert report.graded == len(data["students"]) and not report.unmatched


def test_a_name_that_starts_a_formula_is_text_in_every_csv(out_dir, tmp_path):
    """A student's name (an LMS profile's, a file's) like ``=HYPERLINK(...)`` is written behind a
    ``'`` in grades.csv and the LMS files: a spreadsheet shows it, never runs it."""
    from autograder.results import write_grades_csv

    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    moodle = next(s for s in data["students"] if (s.get("lms_id") or "").isdigit())
    formula = "=HYPERLINK(CHAR(104)&CHAR(116)&A1)"
    moodle["name"], moodle["file"] = formula, f"{formula}_{moodle['lms_id']}_assignsubmission_file_"
    other = next(s for s in data["students"] if s is not moodle)
    other["student_id"] = "+SUM(1;1)"  # an id read from a file's name: Canvas's SIS User ID column
    third = next(s for s in data["students"] if s not in (moodle, other))
    third["student_id"], third["file"] = " =1+1", "\uff1dHYPERLINK(A1)"  # (trimmed, full-width)
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    write_grades_csv(tmp_path / "grades.csv", Results.load(out_dir))
    files = [tmp_path / "grades.csv", lms.export(out_dir, "moodle").path]
    files.append(lms.export(out_dir, "canvas", out=tmp_path / "c.csv").path)
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        cells = [c for r in rows for c in r]
        assert f"'{formula}" in cells, path.name
        assert not [c for c in cells if c.lstrip().startswith(("=", "+", "@", "\uff1d"))], path.name


def test_the_report_lists_written_answers_two_students_submitted_word_for_word(out_dir):
    """Bob pasting Marie's answer to Question 2 into his notebook was seen by no one: each answer
    is graded by hand alone in formgrader. The report names them; a short answer ("140") alike
    by chance, an answer left blank, and an answer of Bob's own are not listed."""
    from autograder.report import report_html, shared_answers

    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    text = "Each unpadded 3x3 convolution trims one pixel per side, so the output is smaller."
    data["questions"] = [
        {"id": "q2", "grade_id": "answer_overlap_tile", "title": "Question 2", "points": 2.0},
        {"id": "q1", "grade_id": "answer_receptive_field", "title": "Question 1", "points": 2.0},
    ]
    marie, paul, lea = data["students"][0], data["students"][2], data["students"][1]
    marie["answers"] = {"q1": "140", "q2": text}
    paul["answers"] = {"q1": "140", "q2": "  " + text.replace(" ", "\n", 3) + "\n"}
    lea["answers"] = {
        "q1": "",
        "q2": "My own words: the network sees a larger tile than it labels.",
    }
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    results = Results.load(out_dir)
    assert shared_answers(results) == [("q2", ["Dupont Marie (4242)", "Bernard Paul (4244)"])]
    html = report_html(results)
    assert re.search(r"<td>Question 2</td><td>Dupont Marie \(4242\), Bernard Paul", html)
    assert "Martin Léa" not in html.split("Same written answers")[1].split("Regraded")[0]
    assert "byte for byte" not in html  # (each student's own file)


def test_the_report_lists_notebook_files_two_students_submitted_byte_for_byte(out_dir):
    """Léa handing in Marie's downloaded notebook as it is: the same sha256, listed; two files
    not read (the empty file each is graded on) are not the same notebook."""
    from autograder.report import report_html, same_files

    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    marie, lea, paul = data["students"][0], data["students"][1], data["students"][2]
    lea["sha256"] = marie["sha256"]
    paul["sha256"] = data["students"][3]["sha256"] = hashlib.sha256(b"").hexdigest()
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    results = Results.load(out_dir)
    assert same_files(results) == [["Dupont Marie (4242)", "Martin Léa (4243)"]]
    section = report_html(results).split("Same written answers")[1].split("Regraded")[0]
    assert "1 notebook file(s) submitted byte for byte" in section
    assert "Dupont Marie (4242), Martin Léa (4243)" in section and "Bernard Paul" not in section


def test_the_export_summary_shows_the_escape_sequences_of_a_name(out_dir):
    """A name read from a file (``\\x1b[1A\\x1b[2K``: the line above erased) went raw to the
    instructor's terminal in the summary's list of students to enter by hand: the list hid."""
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    student = next(s for s in data["students"] if not (s.get("lms_id") or "").isdigit())
    student["name"] = "Eve\x1b[1A\x1b[2K\x1b]0;all graded\x07"
    (out_dir / "results.json").write_text(json.dumps(data), encoding="utf-8")
    summary = lms.export(out_dir, "moodle").summary()
    assert "\x1b" not in summary and "\x07" not in summary
    assert "Eve\\x1b[1A\\x1b[2K\\x1b]0;all graded\\x07" in summary


def test_scores_given_by_hand_reach_the_feedback_pages_and_grades_csv(out_dir, monkeypatch):
    """After formgrader, `unet-tp report` and `unet-tp export` rewrite grades.csv and every
    feedback page with the scores given by hand: those written at grading time said "pending
    manual grading", and they are the pages students are handed."""
    import autograder.gradebook
    import autograder.report

    results = Results.load(out_dir)
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    results.max_points = 22.0
    for s in results.students:
        s.questions, s.max_points = {"q1": None}, 22.0
    results.save(out_dir)
    (out_dir / "feedback").mkdir()
    for s in results.students:  # what `unet-tp grade` wrote: pending
        (out_dir / "feedback" / f"{s.student_id}.html").write_text(feedback_html(s, results))
    assert "pending manual grading" in (out_dir / "feedback" / "4242.html").read_text()

    def scored(results, out):  # formgrader gave 1.5 to every answer
        for s in results.students:
            s.questions = {"q1": 1.5}
        return results

    monkeypatch.setattr(autograder.report, "with_manual_scores", scored)
    write_report(out_dir)
    page = (out_dir / "feedback" / "4242.html").read_text()
    assert "pending" not in page and "Total: 21.5 / 22" in page
    rows = {
        r["student_id"]: r
        for r in csv.DictReader(
            io.StringIO((out_dir / "grades.csv").read_text(encoding="utf-8-sig"))
        )
    }
    assert rows["4242"]["q1"] == "1.5" and rows["4242"]["total"] == "21.5"
    assert "pending" not in rows["4242"]["notes"]
    (out_dir / "feedback" / "4242.html").unlink()
    monkeypatch.setattr(autograder.report, "with_manual_scores", lambda results, out: results)
    write_report(out_dir)  # the class report as `unet-tp grade` wrote it: pending
    assert "pending manual grading" in (out_dir / "report.html").read_text()
    monkeypatch.setattr(lms, "with_manual_scores", scored)
    lms.export(
        out_dir, "canvas", force=True
    )  # an export alone refreshes them too, the class report too
    assert "Total: 21.5 / 22" in (out_dir / "feedback" / "4242.html").read_text()
    assert "pending manual grading" not in (out_dir / "report.html").read_text()


def test_moodle_export_writes_the_feedback_pages_as_moodle_imports_them(out_dir, tmp_path):
    """The README's "zip the pages ... upload them with 'Upload multiple feedback files in a
    zip'": Moodle's importer (assignfeedback_file's importziplib.php) splits each name at its
    first four underscores and takes the participant id second and the plugin third and fourth;
    `4242.html` is ignored there. The export writes the zip it reads."""
    import zipfile

    roster = tmp_path / "worksheet.csv"
    write_rows(roster, MOODLE_WORKSHEET, bom=True)
    report = lms.export(out_dir, "moodle", roster=roster)
    assert report.feedback_zip == out_dir / "moodle_feedback_files.zip"
    assert "moodle_feedback_files.zip" in report.summary()
    # two groups' worksheets in one folder: a zip each (instructor round 25: one, refused)
    for group in ("groupA", "groupB"):
        other = lms.export(out_dir, "moodle", roster=roster, out=tmp_path / f"{group}.csv")
        assert other.feedback_zip == tmp_path / f"{group}_feedback_files.zip"
        assert other.feedback_zip.is_file()
    results = Results.load(out_dir)
    with zipfile.ZipFile(report.feedback_zip) as zf:
        names = zf.namelist()
        imported = {}
        for name in names:  # is_valid_filename_for_import, on "/" + the member's name
            info = ("/" + name).split("_", 4)
            assert len(info) == 5 and info[1].isdigit(), name
            assert info[2:4] == ["assignfeedback", "file"] and info[4] == "feedback.html", name
            imported[info[1]] = zf.read(name)
    with_id = [s for s in results.students if s.lms_id and s.lms_id.isdigit()]
    assert with_id and sorted(imported) == sorted(s.lms_id for s in with_id)
    for s in with_id:
        assert imported[s.lms_id] == (out_dir / "feedback" / f"{s.student_id}.html").read_bytes()
    assert "Martin Léa_4243_assignfeedback_file_feedback.html" in names
    # a student without a participant id is either listed to enter by hand or warned about
    for s in (s for s in results.students if s not in with_id):
        told = report.unmatched + [w for w in report.warnings if "feedback zip" in w]
        assert any(t.startswith(f"{s.who} ") or t.startswith(f"{s.who}:") for t in told), s.who
    student = by_id("4243")
    student.name = "Le_Gall/Maël"  # Moodle's own download writes a name's "_" as a space
    assert (
        lms.moodle_feedback_name(student) == "Le Gall Maël_4243_assignfeedback_file_feedback.html"
    )


def test_results_graded_before_assignment_toml_changed_are_said_stale(tmp_path, capsys):
    """An instructor who changed a test's points after grading: `report` and `export` used the
    old total without a word. Both now say to grade again; unchanged, nothing is said."""
    from unet_tp.cli import main

    out = tmp_path / "OUT"
    out.mkdir()
    blocks = [dict(b, points=b["points"] + (1 if b["id"] == "g" else 0)) for b in BLOCKS]
    data = make_results() | {"blocks": blocks, "max_points": 21.0}
    (out / "results.json").write_text(json.dumps(data), encoding="utf-8")
    # instructor round 27: export wrote the LMS's file all the same, exit 0: refused unless --force
    with pytest.raises(lms.ExportError, match=r"now gives 30 .*grade again.*--force"):
        lms.export(out, "canvas")
    assert not list(out.glob("*.csv"))
    report = lms.export(out, "canvas", force=True)
    assert any(
        "graded out of 21 points, assignment.toml now gives 30" in w for w in report.warnings
    )
    assert main(["report", str(out)]) == 0
    assert "warning: graded out of 21 points" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "results.json").write_text(json.dumps(make_results()), encoding="utf-8")
    assert not any("graded out of" in w for w in lms.export(fresh, "canvas").warnings)
    assert main(["report", str(fresh)]) == 0 and "warning" not in capsys.readouterr().out


def test_canvas_export_places_a_canvas_id_on_its_row_before_another_rows_sis_id(out_dir, tmp_path):
    """A classmate's row earlier in the gradebook whose SIS Login ID (a student number) is the
    Canvas ID of Marie's download: Marie's grade went on the classmate's row, and Marie's row
    was marked missing."""
    rows = [list(r) for r in CANVAS_EXPORT]
    rows.insert(2, ["Roux, Jean", "7000", "S-7000", "4242", "Group A", "", "", "", "", ""])
    roster = tmp_path / "gradebook.csv"
    write_rows(roster, rows)
    report = lms.export(out_dir, "canvas", roster=roster)
    seen = canvas_import(report.path.read_bytes())
    assert seen["grades"][("4242", "7301")] == 20.0
    assert ("7000", "7301") not in seen["grades"] and "Roux, Jean" in report.missing


def test_grades_csv_says_why_a_block_lost_its_points(out_dir, tmp_path):
    """grades.csv's notes hold each block's message (a forbidden loss said only in the feedback
    page left a 0 without a reason in the CSV), once, with its block's letter once."""
    from autograder.results import write_grades_csv

    results = Results.load(out_dir)
    student = next(s for s in results.students if any(s.block(b.id).lost for b in results.blocks))
    block = next(b.id for b in results.blocks if student.block(b.id).lost)
    student.blocks[block].message = f"({block}) uses torch.nn.functional.cross_entropy"
    write_grades_csv(tmp_path / "grades.csv", results)
    rows = {
        r["student_id"]: r
        for r in csv.DictReader(
            io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8-sig"))
        )
    }
    notes = rows[student.student_id]["notes"]
    assert notes.count("uses torch.nn.functional.cross_entropy") == 1
    assert f"({block}) ({block})" not in notes and f"({block}) uses" in notes, notes


def test_a_grade_above_the_maximum_is_said_before_the_lms_skips_it(tmp_path):
    """Instructor round 22: formgrader's extra credit took a total to 31 / 30; Moodle's upload
    skips a grade above the maximum ("out of range") and keeps the comment, with no warning."""
    students = make_class()
    students[0]["blocks"]["a"]["points"] += 1  # (as extra credit would)
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(make_results(students)), encoding="utf-8")
    report = lms.export(out, "moodle")
    assert any("1 student(s) above the maximum of 20 (extra credit" in w for w in report.warnings)
    assert not any(
        "above the maximum" in w for w in lms.export(out_dir_of(tmp_path), "moodle").warnings
    )


def out_dir_of(tmp_path: Path) -> Path:
    out = tmp_path / "OUT2"
    out.mkdir()
    (out / "results.json").write_text(json.dumps(make_results()), encoding="utf-8")
    return out


def test_an_instructors_comment_is_shown_as_markdown_with_its_html_escaped():
    """Formgrader's comment box is Markdown: its marks showed literally on the page, and its
    lines ran together; raw HTML in it stays text."""
    results = typed(make_results())
    student = by_id("4242")
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    student.questions, student.answers = {"q1": 1.0}, {"q1": "an answer"}
    student.comments = {"q1": "Good **start**.\nSee `x.view`.\n\n- one <script>x</script>"}
    html = feedback_html(student, results)
    assert "Good <strong>start</strong>.<br />" in html and "<code>x.view</code>" in html
    assert "<li>one &lt;script&gt;x&lt;/script&gt;</li>" in html and "**" not in html
    assert_clean(html)


def test_a_moodle_participant_id_is_not_taken_for_a_canvas_id(out_dir, tmp_path):
    """Instructor round 23: a class downloaded from Moodle exported for Canvas put Léa Martin's
    grade (Moodle participant 4243) on Alice Smith's row (Canvas ID 4243), without a word."""
    rows = [list(r) for r in CANVAS_EXPORT]
    rows.insert(2, ["Smith, Alice", "4243", "S-1", "asmith", "Group A", "12", "", "", "", ""])
    roster = tmp_path / "gradebook.csv"
    write_rows(roster, rows)
    seen = canvas_import(lms.export(out_dir, "canvas", roster=roster).path.read_bytes())
    assert seen["grades"][("4243", "7301")] == 12.0  # her own, left as it was
    assert seen["grades"][("9001", "7301")] == 18.0  # Léa's, on her row, by name


def test_a_canvas_grade_of_a_student_not_graded_yet_is_left_as_it_was(out_dir, tmp_path):
    """Instructor round 23: a student whose written answers wait for formgrader got an empty
    cell in place of the grade Canvas had (the README says Canvas then changes nothing)."""
    results = Results.load(out_dir)
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    for s in results.students:
        s.questions = {"q1": None}  # pending
    results.save(out_dir)
    rows = [list(r) for r in CANVAS_EXPORT]
    rows[2][5] = "12.00"  # Marie's grade in Canvas
    roster = tmp_path / "gradebook.csv"
    write_rows(roster, rows)
    report = lms.export(out_dir, "canvas", roster=roster, force=True)
    seen = canvas_import(report.path.read_bytes())
    assert seen["grades"][("4242", "7301")] == 12.0 and ("9001", "7301") not in seen["grades"]
    assert any("keep the grade Canvas has" in w and "Dupont Marie" in w for w in report.warnings)


def test_a_moodle_student_not_graded_yet_gets_no_comment_nor_page(out_dir, tmp_path):
    """Instructor round 25: a student whose grade is left empty (written answers pending, no
    notebook) still got the comment "Total: 22 / 30 so far" and a feedback page in the zip,
    which Moodle's upload posts alone. Neither now; an instructor's own comment is kept."""
    results = Results.load(out_dir)
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    for s in results.students:
        s.questions = {"q1": None}  # pending
    results.save(out_dir)
    report = lms.export(out_dir, "moodle", out=tmp_path / "m.csv", force=True)
    rows = list(csv.DictReader(io.StringIO(report.path.read_text(encoding="utf-8"))))
    assert rows and all(r["Grade"] == "" and r["Feedback comments"] == "" for r in rows), rows
    with zipfile.ZipFile(report.feedback_zip) as zf:
        assert zf.namelist() == []
    assert lms.with_their_comment(
        "Well done.\n\nTotal: 3 / 30 so far. Details: your feedback page.", ""
    ) == ("Well done.", True)
    for s in results.students:
        s.questions = {"q1": 2.0}  # graded by hand: posted, comment and page
    results.save(out_dir)
    report = lms.export(out_dir, "moodle", out=tmp_path / "m.csv", force=True)
    rows = list(csv.DictReader(io.StringIO(report.path.read_text(encoding="utf-8"))))
    assert all(r["Grade"] and r["Feedback comments"].startswith("Total:") for r in rows), rows
    with zipfile.ZipFile(report.feedback_zip) as zf:
        assert len(zf.namelist()) == len(rows)


def test_an_export_says_which_grades_are_flagged_and_unread(out_dir):
    """Instructor round 23: a notebook flagged for review went to the LMS with its 0 unsaid."""
    report = lms.export(out_dir, "moodle")
    flagged = [w for w in report.warnings if "flagged for review and not read yet" in w]
    assert len(flagged) == 1 and "e.g. " in flagged[0], report.warnings


def test_grades_csv_says_a_pending_total_is_so_far(out_dir, tmp_path):
    """Instructor round 23: a total without the written answers read as final in grades.csv
    (its notes said "pending manual grading" only; the README, "N / 30 so far")."""
    from autograder.results import write_grades_csv

    results = Results.load(out_dir)
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    for s in results.students:
        s.questions, s.max_points = {"q1": None}, 22.0
    write_grades_csv(tmp_path / "grades.csv", results)
    rows = {
        r["student_id"]: r
        for r in csv.DictReader(
            io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8-sig"))
        )
    }
    assert rows["4242"]["notes"].endswith("20 / 22 so far, pending manual grading of 1 question")


def test_a_student_to_enter_by_hand_is_given_with_what_may_be_posted():
    """Instructor round 24: "enter these by hand" gave a partial total (two questions still to
    grade by hand) and a file that was no notebook (a 0 to chase) as grades to post."""
    from autograder.export import _unmatched
    from autograder.results import BlockScore, Result

    bob = Result("456", "Bob Brun", "b.ipynb", "", {"a": BlockScore(2, 2)}, {}, 30)
    bob.questions = {"q1": 2.0, "q2": None}
    assert _unmatched(bob, "not in the file") == (
        "Bob Brun (456) 4 / 30 so far, pending manual grading of 1 question (not to post yet) "
        "(not in the file)"
    )
    zoe = Result("99", "Zoé", "z.ipynb", "", {}, {}, 30, no_notebook=True)
    assert "no grade to post" in _unmatched(zoe, "not in the file") and "0 / 30" not in _unmatched(
        zoe, "x"
    )


def test_a_file_that_is_no_notebook_says_why_once_not_once_per_block():
    """Instructor round 28: a .pdf handed in gave a page repeating its one line seven times (once
    per block) and once more in the notes: it is said once, above the table."""
    from autograder import messages as M

    why = M.NOT_A_NOTEBOOK_FILE.format(file="Bob B_7_assignsubmission_file_/TP.pdf", kind="PDF")
    entry = student("7", "Bob B", {b["id"]: (0.0, why, None) for b in BLOCKS}, notes=[why])
    entry["no_notebook"] = True
    results = typed(make_results([entry, student("8", "Ann A", {"a": (0.0, WRONG_A, "a")})]))
    html = feedback_html(results.students[0], results)
    assert html.count("is a PDF file") == 1 and "id='all-blocks'" in html
    assert html.count("points lost") == len(BLOCKS)
    other = feedback_html(results.students[1], results)  # one block's own message: in its row
    assert "id='all-blocks'" not in other and "with the reference weights" in other


def test_grades_csv_says_which_totals_are_final_and_opens_in_excel_with_its_accents(
    out_dir, tmp_path
):
    """Instructor round 28: grades.csv's total of a student whose written answers were still to
    grade looked final (only its notes said "so far"), and French Excel showed "Léa" as "LÃ©a"
    (UTF-8 without a BOM is read as the system's code page): a ``status`` column says which
    totals are final, and the file starts with a BOM."""
    from autograder.results import write_grades_csv

    results = Results.load(out_dir)
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    for s in results.students:
        s.questions, s.max_points = {"q1": 1.5}, 22.0
    results.students[0].questions = {"q1": None}
    results.students[1].no_notebook = True
    results.students[2].interrupted = "grading error: the worker died"
    write_grades_csv(tmp_path / "grades.csv", results)
    raw = (tmp_path / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfstudent_id,") and "Léa".encode() in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[-6:] == ["total", "max", "status", "late", "review", "notes"]
    status = [r["status"] for r in rows]
    assert status[:3] == ["pending", "no notebook", "not graded"]
    assert set(status[3:]) == {"final"}


def test_a_late_submission_is_said_in_grades_csv_the_report_and_its_page(out_dir, tmp_path):
    """Instructor round 28: Canvas's file names say a submission was late; grades.csv (its
    ``late`` column), the report's summary and the student's page (in French too) say it."""
    from autograder.report import report_html
    from autograder.results import write_grades_csv

    results = Results.load(out_dir)
    results.students[1].late = True
    results.students[2].language = "fr"
    results.students[2].late = True
    write_grades_csv(tmp_path / "grades.csv", results)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text("utf-8-sig"))))
    assert [r["late"] for r in rows[:4]] == ["", "late", "late", ""]
    assert "handed in late" in feedback_html(results.students[1], results)
    assert "handed in late" not in feedback_html(results.students[0], results)
    assert "rendu en retard" in feedback_html(results.students[2], results)
    summary = report_html(results).split("<h2>")[0]
    assert "handed in late" in summary and results.students[1].name in summary


def test_a_written_answer_is_shown_as_markdown_and_a_students_html_as_text():
    """Instructor round 28: a written answer's Markdown (``**``, lists, code) showed raw on the
    page; it is rendered as the notebook showed it, but the student's HTML stays text, a
    ``javascript:`` link goes nowhere and an image is not fetched."""
    results = typed(make_results([student("7", "Bob B")]))
    results.questions = [QuestionInfo("q1", "answer_receptive_field", "Receptive field", 2.0)]
    bob = results.students[0]
    bob.questions = {"q1": None}
    bob.answers = {
        "q1": "The field is **140** px:\n\n- two convs\n- `MaxPool2d`\n\n"
        "<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n[see](javascript:alert(1))\n\n"
        "![plot](//tracker.example/p.png)"
    }
    html = feedback_html(bob, results)
    answer = html.split("class='answer'>")[1].split("</div>")[0]
    assert "<strong>140</strong>" in answer and "<li><code>MaxPool2d</code></li>" in answer
    assert "&lt;script&gt;" in answer and "<script" not in answer and "<img" not in answer
    assert "javascript:" not in answer and "[plot: //tracker.example/p.png]" in answer
    assert "&lt;img src=x onerror=alert(1)&gt;" in answer  # (as text)


def test_nbgrader_export_run_in_out_does_not_overwrite_grades_csv(tmp_path, capsys):
    """Instructor round 28: ``nbgrader export`` run in OUT wrote its own grades.csv over ours
    (and the next ``report`` wrote ours over nbgrader's). OUT's nbgrader_config.py sends
    nbgrader's export to nbgrader_grades.csv, and a grades.csv that is not ours is moved aside,
    said, before ours is written."""
    from nbgrader.plugins.export import CsvExportPlugin
    from traitlets.config.loader import PyFileConfigLoader

    from autograder import grade

    out = tmp_path / "OUT"
    out.mkdir()
    grade._write_course_folder(out, tmp_path / "none", None, "TP_sujet", set())
    config = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    assert CsvExportPlugin(config=config).to == str(out / "nbgrader_grades.csv")

    (out / "results.json").write_text(json.dumps(make_results()), encoding="utf-8")
    theirs = "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score\n"
    (out / "grades.csv").write_text(theirs)
    write_report(out)
    assert (out / "grades.kept-1.csv").read_text() == theirs
    assert "grades.kept-1.csv" in capsys.readouterr().err
    assert (out / "grades.csv").read_bytes().startswith(b"\xef\xbb\xbfstudent_id,name,file,")
    write_report(out)  # ours: replaced, nothing more kept
    assert sorted(p.name for p in out.glob("grades*.csv")) == ["grades.csv", "grades.kept-1.csv"]
