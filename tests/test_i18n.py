"""The French edition, built from the one source: every text has its translation, the French
notebook has no English sentence left and the same code, and each notebook has its Colab badge."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import string
import tokenize

import nbformat
import numpy as np
import pytest
import torch

from autograder import build
from autograder.i18n import (
    CatalogError,
    load_catalog,
    missing_texts,
    notebook_language,
    notebook_texts,
    translate_notebook,
)
from notebooks import namespace
from unet_tp import check_cases, checks, diagrams, i18n, viz
from unet_tp.conventions import LABEL_CONVENTIONS, LABEL_NAMES
from unet_tp.notebook import SOURCE_ENV, NotebookError, get_data, notebook_config

SOURCE = nbformat.read(build.SOURCE_NOTEBOOK, 4)
EN, FR = (nbformat.read(p, 4) for p in build.STUDENT_NOTEBOOKS.values())


def test_every_text_of_the_notebook_has_its_french_translation():
    catalog = load_catalog("fr")
    missing = missing_texts(SOURCE, catalog)
    assert missing == [], f"{len(missing)} text(s) without a translation in fr.toml: {missing[:3]}"
    stale = set(catalog) - set(notebook_texts(SOURCE))
    assert not stale, f"fr.toml translates texts the notebook no longer has: {sorted(stale)[:3]}"


def test_a_new_english_text_without_translation_stops_the_build():
    nb = nbformat.read(build.SOURCE_NOTEBOOK, 4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A new sentence nobody translated."))
    with pytest.raises(
        CatalogError,
        match=r"(?s)autograder/source/TP_sujet/fr.toml:.*A new sentence nobody translated",
    ):
        translate_notebook(nb, load_catalog("fr"), "fr")


def _code(source: str) -> list[str]:
    """A code cell's tokens without its comments and strings: what the translation must keep."""
    skip = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [t.string for t in tokens if t.type not in skip]


def test_the_french_notebook_is_the_english_one_in_french():
    assert notebook_language(FR) == "fr" and notebook_language(EN) == "en"
    assert len(FR.cells) == len(EN.cells)
    english = set(notebook_texts(EN))
    for en, fr in zip(EN.cells, FR.cells, strict=True):
        meta = [
            {k: v for k, v in c.metadata.get("nbgrader", {}).items() if k != "checksum"}
            for c in (en, fr)
        ]
        assert meta[0] == meta[1]  # the same cells for nbgrader (the checksums are the texts')
        if en.cell_type == "code":
            assert _code(fr.source) == _code(en.source)  # the same code, comments aside
    left = [t for t in notebook_texts(FR) if t in english and t != load_catalog("fr").get(t)]
    assert left == [], f"English left in the French notebook: {left[:3]}"
    assert "YOUR CODE HERE" not in str(FR) and "YOUR ANSWER HERE" not in str(FR)
    assert "VOTRE CODE ICI" in str(FR) and "VOTRE RÉPONSE ICI" in str(FR)
    # without its metadata (a copy pasted elsewhere), the language is still read from the text
    bare = nbformat.from_dict({"cells": FR.cells, "metadata": {}})
    assert notebook_language(bare) == "fr"


def test_both_notebooks_open_in_colab_and_the_french_one_says_how_to_import_it():
    for nb, name in ((EN, "TP_sujet.ipynb"), (FR, "TP_sujet_fr.ipynb")):
        badge = nb.cells[0].source
        assert "colab-badge.svg" in badge
        assert re.search(
            rf"\]\(https://colab\.research\.google\.com/github/\S+/notebooks/{name}\)", badge
        )
    assert "Fichier > Importer le notebook" in FR.cells[0].source


# ---- the self-checks' messages (unet_tp/checks.py, unet_tp/viz.py): unet_tp/locale/fr.json ----

ROOT = build.REPO_ROOT
PACKAGE_CATALOG = json.loads((ROOT / "unet_tp" / "locale" / "fr.json").read_text("utf-8"))
CODE_LABEL = re.compile(r"^\w+\([^()]*\)$")  # a case label that is code only: shown as it is


def _templates() -> dict[str, str]:
    """``{template: where}`` of every ``tr("...")`` of the student package."""
    found, bad = {}, []
    for path in sorted((ROOT / "unet_tp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr":
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, where)
                else:
                    bad.append(where)
    assert not bad, f"tr() takes a string literal (the template), not an expression: {bad}"
    return found


def _case_labels() -> set[str]:
    """The case labels the checks show that have words in them, and the figures' legend labels
    (translated by ``translated``)."""
    labels = {c.label for block in check_cases.MODULES.values() for c in block.cases}
    labels |= {c.label for c in check_cases.LOSSES}
    labels |= {LABEL_NAMES[lab] for lab in viz.LABEL_COLOURS} | set(viz.ERROR_COLOURS)
    labels |= {m for m in diagrams.ARROWS if re.search(r"\b[a-z]{3,} [a-z]{3,}\b", m)}
    for convention in LABEL_CONVENTIONS:  # (label_advice's names of each convention)
        names = [convention.title, *convention.label_names.values()]
        labels |= {n for n in names if re.search(r"\b[a-z]{4,}\b", n) and n != "background"}
    return {label for label in labels if not CODE_LABEL.match(label)}


def _fields(template: str) -> set[tuple]:
    return {(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f}


def test_every_message_of_the_self_checks_has_its_french_translation():
    templates = _templates()
    assert len(templates) > 100  # checks.py's messages, viz's layer-table error
    missing = [f"{where}: {t!r}" for t, where in templates.items() if t not in PACKAGE_CATALOG]
    missing += [repr(label) for label in sorted(_case_labels() - set(PACKAGE_CATALOG))]
    assert not missing, f"{len(missing)} message(s) without French in fr.json: {missing[:5]}"
    stale = set(PACKAGE_CATALOG) - set(templates) - _case_labels()
    assert not stale, f"fr.json translates messages no code shows: {sorted(stale)[:5]}"
    for english, french in PACKAGE_CATALOG.items():
        assert _fields(french) == _fields(english), (english, french)  # the same {fields}


def test_the_french_notebooks_figures_are_in_french(french):
    """Tester: the French notebook's figures said "axial slice" and named the labels in
    English."""
    image, seg = torch.rand(4, 16, 16, 5).numpy(), torch.zeros(16, 16, 5, dtype=torch.uint8)
    seg[4:9, 4:9, 2] = 2
    fig = viz.show_case(image, seg.numpy(), title="BraTS19_X_1", slice_z=(40, 41, 42, 43, 44))
    assert fig._suptitle.get_text() == "BraTS19_X_1 — coupe axiale 42"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["1: cœur nécrotique / non rehaussé", "2: œdème", "4: tumeur rehaussée"]
    unet = diagrams.draw_unet().axes[0]
    assert unet.get_title().startswith("U-Net (Ronneberger et al. 2015) : entrée 572x572x1")
    assert "copie et recadrage" in [t.get_text() for t in unet.texts]
    tile = diagrams.draw_overlap_tile().axes
    assert tile[0].get_title().startswith("coupe 240x240 (en tirets) prolongée en miroir")
    fig = viz.show_prediction(image, seg.numpy(), seg.numpy())
    assert fig._suptitle.get_text().startswith("coupe axiale 2 (FLAIR) — Dice de la coupe WT")
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "vérité terrain",
        "prédiction",
        "erreurs sur la tumeur entière",
    ]
    assert [t.get_text() for t in fig.axes[2].get_legend().get_texts()] == [
        "manqué",
        "fausse alarme",
    ]


def _run(check, *args) -> tuple[str, str]:
    """What a check prints, and its error message ('' if it passes)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            check(*args)
        except AssertionError as exc:
            return out.getvalue(), str(exc)
    return out.getvalue(), ""


def _english_left(message: str) -> list[str]:
    """The English sentences of the templates (those their French does not keep) in
    ``message``."""
    left = []
    for english, french in PACKAGE_CATALOG.items():
        for text, *_ in string.Formatter().parse(english):
            text = text.strip(" .:;,()\n")
            if len(text.split()) >= 3 and text not in french and text in message:
                left.append(text)
    return left


BN_AFTER_RELU = [
    (
        "            if batch_norm:\n                layers.append(nn.BatchNorm2d(out_channels))\n"
        "            layers.append(nn.ReLU(inplace=True))",
        "            layers.append(nn.ReLU(inplace=True))\n            if batch_norm:\n"
        "                layers.append(nn.BatchNorm2d(out_channels))",
    )
]
TOP_LEFT_CROP = [
    (
        "    top = (x.shape[-2] - height) // 2\n    left = (x.shape[-1] - width) // 2",
        "    top = 0\n    left = 0",
    )
]


@pytest.mark.parametrize(
    ("check", "cell", "edits", "english", "french_words"),
    [
        (
            "check_double_conv",
            "double_conv",
            BN_AFTER_RELU,
            "the batch norm is applied after the ReLU",
            "la batch norm est appliquée après la ReLU",
        ),
        (
            "check_center_crop",
            "up",
            TOP_LEFT_CROP,
            "the window is the top-left corner",
            "la fenêtre est le coin supérieur gauche",
        ),
    ],
)
def test_a_failing_self_check_speaks_french_in_the_french_notebook(
    check, cell, edits, english, french_words
):
    arg = {"check_double_conv": "DoubleConv", "check_center_crop": "center_crop"}[check]
    ns = namespace({cell: edits})
    _, message_en = _run(getattr(checks, check), ns[arg])
    assert english in message_en
    i18n.set_language("fr")
    try:
        _, message_fr = _run(getattr(checks, check), ns[arg])
    finally:
        i18n.set_language("en")
    assert message_fr and message_fr != message_en
    assert french_words in message_fr, message_fr
    assert not _english_left(message_fr), message_fr


def test_a_passing_self_check_says_ok_in_french(french):
    ns = namespace()
    for check, args in (
        (checks.check_double_conv, [ns["DoubleConv"]]),
        (checks.check_loss, [ns["categorical_cross_entropy"]]),
        (checks.check_predict_dice, [ns["predict"], ns["dice_score"]]),
    ):
        printed, error = _run(check, *args)
        assert not error, error
        lines = printed.splitlines()
        assert lines and all(line.startswith("  ok : ") for line in lines), printed
        assert not _english_left(printed), printed
    printed, _ = _run(checks.check_receptive_field, 100)
    assert printed.startswith("Question 1 : pas encore : 100, c'est trop petit"), printed


def test_each_ok_line_puts_a_space_before_its_colon_in_french(french):
    """French writes 'Down(8, 16) : ...' as the DoubleConv lines did; Down's, Up's and UNet's ok
    lines wrote 'Down(8, 16): (2, 8, 24, 24) -> ...', half English, in the French notebook."""
    ns = namespace()
    for check, args in (
        (checks.check_double_conv, [ns["DoubleConv"]]),
        (checks.check_down, [ns["Down"]]),
        (checks.check_up, [ns["Up"]]),
        (checks.check_unet, [ns["UNet"]]),
    ):
        printed, error = _run(check, *args)
        assert not error, error
        assert printed and not re.search(r"\S: ", printed), printed


def test_an_error_inside_the_students_code_is_explained_in_french(french):
    ns = namespace(
        {"double_conv": [("return self.block(x)", "return self.block(x) + undefined_name")]}
    )
    _, message = _run(checks.check_double_conv, ns["DoubleConv"])
    assert "a levé NameError" in message and "dans votre code, ligne" in message, message
    assert "`undefined_name` n'est pas défini : exécutez d'abord la cellule" in message, message
    assert "Formes attendues, étape par étape :" in message, message
    assert not _english_left(message), message


def test_an_error_in_the_train_step_lists_the_steps_not_their_shapes(french):
    """(f)'s steps are told by what they do ("remplit p.grad"), not all by a shape: the table's
    title says "Attendu", not "Formes attendues"."""
    ns = namespace({"train_step": [("loss.backward()", "loss.backward(); undefined_name")]})
    _, message = _run(checks.check_train_step, ns["train_step"], ns["categorical_cross_entropy"])
    assert "a levé NameError" in message and "Attendu, étape par étape :" in message, message
    assert "Formes attendues" not in message and not _english_left(message), message


def test_a_blank_not_filled_in_yet_is_named_without_the_checks_traceback(french):
    """The stub's bare NotImplementedError: the method and line to replace, in French, shown by
    IPython as the message alone (not thirty lines of the checks' own frames)."""
    ns = namespace({"double_conv": [("return self.block(x)", "raise NotImplementedError()")]})
    try:
        checks.check_double_conv(ns["DoubleConv"])
    except AssertionError as exc:
        message, shown = str(exc), exc._render_traceback_()
    else:
        raise AssertionError("the check passed a blank")
    assert "`forward` (ligne" in message and "lève encore NotImplementedError" in message, message
    assert len(shown) == 1 and "AssertionError" in shown[0] and message in shown[0], shown
    assert not _english_left(message), message


def test_the_notebook_sets_the_language_of_the_messages():
    for nb, language in ((EN, "en"), (FR, "fr")):
        setup = next(
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"
        )
        assert f'\nLANGUAGE = "{language}"' in setup.source
        assert "notebook_config(device, language=LANGUAGE)" in setup.source
    before = i18n._current
    try:
        notebook_config(torch.device("cpu"), language="fr")
        assert i18n.language() == "fr" and checks.tr("input") == "entrée"
        notebook_config(torch.device("cpu"), language="en")
        assert i18n.language() == "en" and checks.tr("input") == "input"
    finally:
        i18n._current = before


def test_french_messages_group_digits_the_french_way(french):
    template = (
        "{label} has {count:,} parameters; the paper's network has 31,030,658. Check the channel "
        "widths (64, 128, 256, 512, 1024), that each Up halves them, and the final 1x1 "
        "convolution."
    )
    message = i18n.tr(template, label="UNet()", count=31029698)
    assert "a 31\u202f029\u202f698 paramètres" in message and "31\u202f030\u202f658." in message
    assert "31,0" not in message
    i18n.set_language("en")
    assert "has 31,029,698 parameters" in i18n.tr(template, label="UNet()", count=31029698)


def test_a_decimal_comma_in_question_1_is_explained(french):
    """RECEPTIVE_FIELD = 140,5 as a French student writes a decimal is the tuple (140, 5): the
    check said 'et non (140, 5)' without saying why it is two numbers."""
    printed, _ = _run(checks.check_receptive_field, (140, 5))
    assert "et non (140, 5)." in printed, printed
    assert "la virgule sépare deux valeurs" in printed and "140.5" in printed, printed
    printed, _ = _run(checks.check_receptive_field, (1, 2, 3))
    assert "virgule" not in printed, printed


# ---- the data package's messages: the notebook's data cell and `unet-tp data` ----


@pytest.fixture
def french_shell(monkeypatch):
    """French chosen as a student's session chooses it outside the notebook: $UNET_TP_LANGUAGE."""
    monkeypatch.setattr(i18n, "_current", None)
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "fr")
    monkeypatch.delenv(SOURCE_ENV, raising=False)


def test_a_misspelt_drive_folder_is_said_in_french_in_the_data_cell(french_shell, tmp_path):
    (tmp_path / "BraTS2019").mkdir()
    missing = tmp_path / "BraTS_2019"
    with pytest.raises(NotebookError) as info:
        get_data("drive", drive_folder=str(missing))
    message = str(info.value)
    assert message.startswith(f"{missing} : dossier introuvable ; {tmp_path} contient : BraTS2019")
    assert message.endswith(f"vouliez-vous dire {tmp_path / 'BraTS2019'} ?"), message
    assert not _english_left(message), message
    assert info.value._render_traceback_() == [f"DataError: {message}"]  # one line, no traceback


@pytest.mark.parametrize(
    ("damage", "english", "french"),
    [
        (
            lambda flair: flair.unlink(),
            "missing flair file (expected {flair} or the same name ending in .nii)",
            "fichier flair manquant (attendu : {flair} ou le même nom finissant par .nii)",
        ),
        (
            lambda flair: flair.write_bytes(b""),
            "cannot read {flair} (",
            "impossible de lire {flair} (",
        ),
    ],
)
def test_a_bad_case_stops_unet_tp_data_prepare_in_french(
    french_shell, monkeypatch, tmp_path, capsys, damage, english, french
):
    from tinycases import write_case

    from unet_tp.cli import main

    case = write_case(tmp_path / "data", "BraTS19_TST_1_1")
    flair = case / "BraTS19_TST_1_1_flair.nii.gz"
    damage(flair)
    argv = ["data", "prepare", str(tmp_path / "data"), "--cache", str(tmp_path / "cache")]
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert said.startswith("erreur : cas BraTS19_TST_1_1 : " + french.format(flair=flair)), said
    assert said.rstrip().endswith("(relancez avec --skip-bad pour écarter ce cas)"), said
    assert not _english_left(said), said
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "en")  # the English session's words are as they were
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: case BraTS19_TST_1_1: " + english.format(flair=flair)), said
    assert said.rstrip().endswith("(re-run with --skip-bad to leave this case out)"), said


def test_the_data_lines_read_as_french(french, tmp_path):
    """A French tester: « 1 préparés », « 0 octets », « elles correspondent » (labels), « ; »
    without its space, « Mio » beside « Mo »."""
    from unet_tp.data.cache import PrepareReport
    from unet_tp.fileio import size_text

    report = PrepareReport(tmp_path, built=["a"], skipped={"b": "pas de fichier seg"})
    lines = report.summary().splitlines()
    assert (
        "(préparés : 1, réutilisés : 0)" in lines[0]
        and lines[1] == "  b écarté : pas de fichier seg"
    )
    assert (size_text(0), size_text(1), size_text(999)) == ("0 octet", "1 octet", "999 octets")
    assert i18n.tr("; ") == " ; " and i18n.tr("{name}: {count}", name="HGG", count=3) == "HGG : 3"
    assert "Mio" not in str(PACKAGE_CATALOG) and "elles correspondent" not in str(PACKAGE_CATALOG)


def test_the_setup_cells_first_line_is_french(french, capsys, monkeypatch):
    """Student walkthrough: the French setup cell began "Using the CPU (2 threads): no GPU
    found, so training is slow.": pick_device ran before the language was set. The setup cell
    sets LANGUAGE first and gives it to pick_device."""
    from unet_tp import device

    setup = next(c for c in SOURCE.cells if c.metadata["nbgrader"].get("grade_id") == "setup")
    assert setup.source.index("\nLANGUAGE = ") < setup.source.index(
        "device = pick_device(language=LANGUAGE)"
    )
    monkeypatch.setattr(device, "in_colab", lambda: True)
    i18n.set_language("en")
    device.pick_device("cpu", language="fr")
    said = capsys.readouterr().out
    assert i18n.language() == "fr"
    assert said.startswith("Calcul sur le CPU (") and "aucun GPU trouvé" in said, said
    assert "Exécution > Modifier le type d'exécution > GPU T4" in said, said
    device.pick_device("cpu", training=False, language="en")
    assert capsys.readouterr().out.startswith("Using the CPU (")


def test_the_training_figure_and_progress_bar_are_french(french, monkeypatch):
    """Student walkthrough: the training curves said "Loss", "Validation Dice per region",
    "training", "validation", "epoch", and the progress bar "epoch 1/8"."""
    from unet_tp import train

    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e, "dice_wt": 0.5, "seconds": 1}
        for e in (1, 2)
    ]
    ax_loss, ax_dice = viz.plot_history(history).axes
    assert (ax_loss.get_title(), ax_loss.get_xlabel(), ax_loss.get_ylabel()) == (
        "Perte",
        "époque",
        "perte",
    )
    assert [line.get_label() for line in ax_loss.get_lines()] == ["entraînement", "validation"]
    assert ax_dice.get_title() == "Dice de validation par région"
    said = []

    class Bar(list):
        def set_postfix(self, values):
            said.append(values)

    monkeypatch.setattr(
        train, "progress_bar", lambda batches, desc, **_: said.append(desc) or Bar(batches)
    )
    config = train.preset_config("tiny", epochs=8)
    batch = [(torch.zeros(2, 4, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long))]

    def step(*_):
        return 0.5

    train.train_epoch(torch.nn.Identity(), batch, step, None, None, config, torch.device("cpu"), 0)
    assert said == ["époque 1/8", {"perte": "0.5000"}]
    line = train._epoch_line(history[0] | {"seconds": 164}, 8)
    assert line == "époque 1/8 : perte 1.0000 perte de validation 1.0000 Dice WT 0.500 (164 s)"


def test_the_patient_browser_is_french(french, capsys, monkeypatch):
    """Student walkthrough: the browser's controls said case, slice, modality, opacity, ground
    truth / prediction, its title "slice 44", and "no prediction for this case"."""
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt

    image = torch.rand(4, 16, 16, 5).numpy()
    seg = np.zeros((16, 16, 5), np.uint8)
    seg[4:9, 4:9, 2] = 2
    numbers = {"BraTS19_X_1": (86, 87, 88, 89, 90)}
    box = viz.browser({"BraTS19_X_1": (image, seg, None)}, slice_z=numbers)
    (w_case, w_mod), (w_z, w_alpha) = box.children[0].children, box.children[1].children
    described = [w.description for w in (w_case, w_z, w_mod, w_alpha)]
    assert described == ["cas", "coupe", "modalité", "opacité"]
    assert [label for label, _ in box.children[2].options] == ["vérité terrain", "prédiction"]
    assert w_z.label == "88"
    cases = {"BraTS19_X_1": (image, seg, None)}
    fig = viz._browser_slice(cases, "BraTS19_X_1", 2, "FLAIR", 0.5, "prediction", (86, 87, 88))
    assert fig.axes[0].get_title() == "BraTS19_X_1 — coupe axiale 88 — FLAIR"
    assert fig.axes[0].get_xlabel() == "pas de prédiction pour ce cas"
    monkeypatch.setattr(viz, "_widgets_available", lambda: False)
    capsys.readouterr()
    viz.browse(cases, slice_z=numbers)  # the static figure: also the volume's axial index
    assert capsys.readouterr().out.startswith("(pas d'interface de widgets de notebook ici")
    assert plt.gcf()._suptitle.get_text() == "BraTS19_X_1 — coupe axiale 88"
    plt.close("all")


def test_the_tables_of_the_french_notebook_are_french(french):
    """Student walkthrough: "background" in the class balance, "mean" in the evaluation table,
    the layer table's "layer block output shape parameters", "total" and 31,030,658."""
    assert viz.class_balance_table([96.48, 1, 2, 0.52]).splitlines()[0] == "fond          96.48 %"
    scores = {"BraTS19_X_1": {"Dice WT": 0.5}, "BraTS19_X_2": {"Dice WT": 0.7}}
    lines = viz.score_table(scores).splitlines()
    assert lines[0].split() == ["patient", "Dice", "WT"]
    assert lines[-1].split() == ["moyenne", "0.600"]
    from solutions import UNet

    rows = viz.layer_table(UNet(in_channels=1, num_classes=2), (1, 1, 572, 572))
    lines = viz.format_layer_table(rows).splitlines()
    assert lines[0].split() == ["couche", "bloc", "forme", "de", "sortie", "paramètres"]
    assert lines[-1].startswith("total ") and lines[-1].endswith(" 31\u202f030\u202f658")
    assert "," not in "".join(lines[1:]).replace(", ", "")  # no English grouping left


def test_a_french_progress_bar_spaces_its_colon(french, monkeypatch):
    """French student: "préparation des coupes: 50%" put the colon against the word; French
    writes "préparation des coupes : 50%" (English keeps "preparing slices: 50%")."""
    from tqdm import tqdm

    from unet_tp import progress

    monkeypatch.setattr(progress, "tqdm", lambda iterable, desc, **_: desc)

    def drawn(lang):
        i18n.set_language(lang)
        desc = progress.case_progress()(range(2))
        return tqdm.format_meter(1, 2, 0, prefix=desc)

    assert drawn("fr").startswith("préparation des coupes :  50%|")
    assert drawn("en").startswith("preparing slices:  50%|")
