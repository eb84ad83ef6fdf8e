"""The grader's messages in French on a French feedback page (``autograder/messages_fr.py``):
every template has its French, the real judges' messages come out French, the rest unchanged."""

from __future__ import annotations

import functools
import re
from html import escape

import numpy as np
import pytest

from autograder import messages as M
from autograder import spec as specs
from autograder.compare import Verdict, comparisons
from autograder.feedback import feedback_html
from autograder.messages_fr import FRENCH, fields, french
from autograder.results import BlockInfo, BlockScore, Result, Results
from autograder.score import block_scores

TEMPLATES = {k: v for k, v in vars(M).items() if k.isupper() and isinstance(v, str)}
# words of the English templates that the French must not keep
ENGLISH = re.compile(
    r"\b(the|expected|with|from|your|reaches|differs|shape|returned|called|times|which|built|"
    r"right|wrong|loaded|weights|output|answer|defined|masks|cell|line|uses|must|says)\b"
)


def test_every_template_has_its_french_with_the_same_fields():
    assert set(TEMPLATES.values()) <= set(FRENCH)
    for english, french_text in FRENCH.items():
        assert set(fields(english)) == set(fields(french_text)), english
        assert not re.search(r"\{\w+[!:]", french_text), french_text  # plain fields only
        assert not re.search(r"\w:", re.sub(r"`[^`]*`|\w+://|\{[^}]*\}", "", french_text))
    for block in specs.load().blocks:
        assert not block.forbidden_why or block.forbidden_why in FRENCH


@functools.cache
def _requests(name: str):
    comparison = comparisons()[name]
    return comparison, comparison.requests(np.random.default_rng(3))


def _message(name: str, index: int, meta: dict, arrays: dict) -> str:
    comparison, requests = _requests(name)
    verdict = comparison.judge({requests[index].name: (meta, arrays)}, requests[index : index + 1])
    assert not verdict.passed
    return verdict.message


def _judged_messages() -> list[str]:
    """Failing answers put to the real judges."""
    want = _requests("center_crop")[1][0].expected[0]
    pairs = _requests("predict_dice")[1][0].expected[0]
    out = [
        _message("center_crop", 0, {}, {"out": np.zeros((1, 1))}),
        _message("center_crop", 0, {}, {"out": want + 1}),
        _message("center_crop", 0, {"missing": ["center_crop"]}, {}),
        _message("loss", 0, {"cases": [{"value": 1e9}] * 7}, {}),
        _message("loss", 0, {"cases": [{"value": float("nan")}] * 7}, {}),
        _message("train_step", 0, {"dtype": "float64", "losses": [1.0]}, {}),
        _message("train_step", 0, {"dtype": "float64", "losses": [1e9, 1e9, 1e9]}, {}),
        _message("predict_dice", 0, {"dice": [0.123] * len(pairs)}, {}),
        # two empty masks given 0 (round 28: its nested " (two empty masks ...)" stayed English)
        _message("predict_dice", 0, {"dice": [0.0 if w == 1.0 else w for _, w in pairs]}, {}),
    ]
    req = _requests("double_conv")[1][0]
    key = f"{req.meta['orders'][0]}.{req.meta['dtypes'][0]}"
    expected = req.expected[req.meta["dtypes"][0]][0][0]
    out.append(_message("double_conv", 0, {}, {f"out_{key}": expected + 1}))
    out.append(_message("double_conv", 0, {}, {f"out_{key}": np.zeros((1, 2))}))
    out.append(_message("double_conv", 0, {}, {f"out_{key}": expected}))  # no gradient
    comparison, requests = _requests("double_conv")
    out.append(comparison.judge({}, requests).message)  # no answer at all
    return out


def _scored_messages() -> list[str]:
    spec = specs.load()
    a = next(b for b in spec.blocks if b.id == "a")
    verdicts = {t.grade_id: Verdict(True) for b in spec.blocks for t in b.tests}
    verdicts |= {t.grade_id: Verdict(False, "DoubleConv(3, 8): no output") for t in a.tests}
    blocks, _ = block_scores(spec, verdicts, {a.tests[0].grade_id: "vos blocs donnent (1, 2)"})
    where = M.CELL_AT.format(
        cell=12, cell_label=M.YOUR_CELL.format(last="(e)"), quote=M.QUOTED.format(line=3, code="x")
    )
    forbidden = M.FORBIDDEN.format(block="e", what="torch.nn.functional.cross_entropy", where=where,
                                   why=next(b for b in spec.blocks if b.id == "e").forbidden_why)  # fmt: skip
    return [blocks["a"].message, blocks["b"].warning, forbidden]


@pytest.mark.parametrize("index", range(16))
def test_the_judges_messages_come_out_french(index):
    messages = _judged_messages() + _scored_messages()
    if index >= len(messages):
        pytest.skip("fewer messages")
    english = messages[index]
    text = french(english)
    assert text != english
    assert not ENGLISH.search(re.sub(r"`[^`]*`", "", text)), (english, text)


def test_a_dice_message_with_the_self_checks_comes_out_french():
    """Honest round 29: a wrong Dice's message followed by the notebook's self-check kept "The
    notebook's self-check says:" in English (the Dice's `{want}` took the rest as its number)."""
    hint = "dice_score de deux masques (4, 4) (0 et 0 pixels) : 0.0, attendu 1."
    for empty, want in ((M.EMPTY_MASKS, "1"), ("", "0.666667")):
        dice = M.DICE_VALUE.format(shape="(10,)", got="0", want=want, empty=empty)
        text = french(M.SELF_CHECK.format(message=dice, hint=hint))
        assert text.endswith(hint) and not ENGLISH.search(text.removesuffix(hint)), text
        assert f"attendu {want}" in text
    # a block handed to a module of torch's (its `where` no cell: it was read as one)
    what = M.HANDS_OWN_DOES.format(name="Down", what="builds a name from a string (getattr)")
    text = french(M.HANDED_OVER.format(what=what, where="torch.nn.ModuleList"))
    assert text.startswith("donne Down (qui construit") and not ENGLISH.search(text), text


def test_labels_and_self_checks_in_french():
    crop = french(M.CROP_SHAPE.format(label="center_crop of a 64x64 map to 56x56", got=1, want=2))
    assert crop == "center_crop d'une carte 64x64 en 56x56 : forme 1, attendu 2"
    label = "Up(16, 8, batch_norm=True) (x 6x8, skip 17x23 cropped to 12x16: unequal, odd margins)"
    up = french(M.LABELLED.format(label=label, problem=M.NOT_FINITE))
    assert up.startswith("Up(16, 8, batch_norm=True) (x 6x8, skip 17x23 recadré en 12x16 : marges")
    assert up.endswith(" : la sortie n'est pas finie (NaN ou inf)")
    hint = "logits aléatoires : perte 1, attendu 2"  # the notebook's own, already French
    checked = french(M.SELF_CHECK.format(message=M.NOT_GRADED, hint=hint))
    assert checked == f"non corrigé. Le test du notebook indique : {hint}"


@pytest.mark.parametrize(
    "text", ["ValueError: bad input", "DoubleConv(3, 8): RuntimeError: size", "", "anything else"]
)
def test_an_unknown_message_passes_unchanged(text):
    assert french(text) == text


def _page(language: str) -> str:
    """The feedback page of a student who lost (c), in ``language``."""
    spec = specs.load()
    blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
    crop = M.CROP_SHAPE.format(label="center_crop of a 9x9 map to 9x9", got=1, want=2)
    blocks["c"] = BlockScore(0.0, 3.0, crop, "c")
    blocks["d"].warning = M.BUILT_ON_WRONG.format(block="d", names="(c)")
    note = M.NO_COLAB.format(where=M.CELL.format(cell=3, cell_label=M.NOTEBOOK_TOP))
    # a stub's error, of an empty message (instructor round 19: it stayed English)
    stub = M.CELL_ERROR.format(
        where=M.CELL.format(cell=25, cell_label=M.TEST_CELL.format(block="c")),
        ename="NotImplementedError",
        evalue="",
    )
    student = Result("7100", "Durand Paul", "TP_sujet.ipynb", "ab" * 32, blocks, {}, 20.0,
                     notes=[note, stub], language=language)  # fmt: skip
    info = [
        BlockInfo(
            b.id, b.key, b.title, b.section, b.points, list(b.depends_on), b.title_fr, b.section_fr
        )  # fmt: skip
        for b in spec.blocks
    ]
    return feedback_html(student, Results(spec.assignment, 20.0, info, [student]))


def test_a_french_page_shows_the_messages_in_french_an_english_one_in_english():
    fr, en = _page("fr"), _page("en")
    assert "center_crop d&#x27;une carte 9x9 en 9x9 : forme 1, attendu 2" in fr
    assert "est juste en soi, mais il s&#x27;appuie sur (c)" in fr
    assert "cellule 3 (le début du notebook) : google.colab n&#x27;existe que dans Colab" in fr
    assert "cellule 25 (cellule de test de (c)) : NotImplementedError :" in fr
    assert "center_crop of a 9x9 map to 9x9: shape 1, expected 2" in en
    assert "is right on its own, but it is built on (c)" in en
    assert "cell 3 (the top of the notebook): google.colab exists only in Colab" in en
    spec = specs.load()  # the blocks by their French names on the French page
    assert all(b.title_fr and b.section_fr for b in spec.blocks)
    assert all(q.title_fr for q in spec.questions)
    for block in spec.blocks:
        assert escape(block.title_fr) in fr and escape(block.title) not in fr
        assert escape(block.title) in en


def test_the_line_of_the_students_code_that_raised_comes_out_french():
    """The kernel's report of an exception ends with '(in your code: `...`)': a French page
    showed it in English."""
    import linecache

    import autograder.harness as harness

    source = "def f(x):\n    return self_double(x)\n"
    name = "<ipython-input-3-abc>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    ns: dict = {}
    exec(compile(source, name, "exec"), ns)  # noqa: S102 (the test's own code)
    try:
        ns["f"](1)
    except NameError as exc:
        error = harness._error(exc)
    assert error.endswith("(in your code: `return self_double(x)`)"), error
    for message in (
        M.LABELLED.format(label="Up(16, 8)", problem=error),
        M.DICE_ERROR.format(shape=(5, 6), error=error),
        M.PREDICT_ERROR.format(error=error),
    ):
        assert french(message).endswith("(dans votre code : `return self_double(x)`)"), message


def test_a_note_ending_in_a_bracket_and_a_hint_before_the_line_of_code_come_out_french():
    """Honest round 33: a note of a test cell whose message ended in ")" (``loss.item())``) kept
    "cell 44 ((f) test cell): AssertionError:" (the cell's label took the rest); a torch type
    error's hint before "(in your code: ...)" stayed English, and that part with it."""
    note = "cell 44 ((f) test cell): AssertionError: step 1: return loss.item() (loss.item())"
    assert french(note).startswith("cellule 44 (cellule de test de (f)) : AssertionError : "), (
        french(note)
    )
    wrong = (
        "padding is tuple of (bool, bool) where it takes tuple of ints (a bool is not a size: "
        "give an int, e.g. 1 if padding else 0)"  # (unet_tp.checks's, in English)
    )
    error = M.ERROR_IN_YOUR_CODE.format(error=f"TypeError: conv2d(): {wrong}", code="return x")
    said = french(M.LABELLED.format(label="DoubleConv(3, 8)", problem=error))
    assert "un booléen n'est pas une taille" in said, said
    assert said.endswith("(dans votre code : `return x`)"), said


def test_a_questions_french_name_is_the_notebooks_own():
    """The French page named Question 1 'le champ récepteur' where the notebook asks for the
    'champ réceptif': each question's French title says what its heading in the notebook says."""
    import nbformat

    from autograder import build

    headings = [
        line.split(":", 1)[1].lower()
        for cell in nbformat.read(build.STUDENT_NOTEBOOKS["fr"], 4).cells
        for line in cell.source.splitlines()
        if cell.cell_type == "markdown" and line.startswith("### Question")
    ]
    questions = specs.load().questions
    assert len(headings) == len(questions)
    for question, heading in zip(questions, headings, strict=True):
        words = set(re.findall(r"\w{4,}", question.title_fr.lower()))
        assert words <= set(re.findall(r"\w{4,}", heading)), (question.title_fr, heading)


def test_a_number_field_ends_at_the_number_not_the_sentence_after_it():
    """Instructor round 19: a wrong step's loss with the notebook's self-check after it stayed
    English ("... expected the loss 1.374467. The notebook's self-check says: ..."): the loss's
    field took the sentence after it."""
    step = M.STEP_LOSS.format(step=3, got=1.375251, want=1.374467)
    message = M.SELF_CHECK.format(message=step, hint="au deuxième pas, zero_grad")
    assert french(message) == (
        "pas 3 : 1.375251 renvoyé, attendu la perte 1.374467. Le test du notebook indique : "
        "au deuxième pas, zero_grad"
    )


def test_french_points_take_a_decimal_comma():
    """Instructor round 26: French pages and LMS comments wrote "1.5/2"; French writes "1,5"
    (the CSV's grade column, which the LMS reads, keeps its point)."""
    from autograder.export import feedback_comment

    spec = specs.load()
    info = [BlockInfo(b.id, b.key, b.title, b.section, b.points, list(b.depends_on), b.title_fr,
                      b.section_fr) for b in spec.blocks]  # fmt: skip
    for lang, half in (("fr", "1,5"), ("en", "1.5")):
        blocks = {b.id: BlockScore(b.points, b.points) for b in spec.blocks}
        blocks["a"] = BlockScore(1.5, 2.0, "wrong", "a")
        questions = {q.id: 1.5 for q in spec.questions}
        student = Result("7100", "Durand Paul", "TP.ipynb", "ab" * 32, blocks, {}, 20.0,
                         questions=questions, language=lang)  # fmt: skip
        results = Results(spec.assignment, 20.0, info, [student], questions=spec.questions)
        page, comment = feedback_html(student, results), feedback_comment(student, results)
        assert f">{half} / 2</td>" in page and f"({half} / " in page, lang
        assert f"(a) {half}/2" in comment and f"» {half}/" * (lang == "fr") in comment, comment


def test_a_page_says_when_it_was_graded_as_a_reader_says_it():
    """Instructor round 26: the page read "graded 2026-12-07T09:40:23+00:00"."""
    from autograder.feedback import _when

    assert _when("2026-12-07T09:40:23+00:00", "en") == "7 December 2026, 09:40 UTC"
    assert _when("2026-02-01T18:05:00+01:00", "fr") == "1 février 2026, 18:05 UTC+01:00"
    assert _when("<not a date>", "en") == "&lt;not a date&gt;"
