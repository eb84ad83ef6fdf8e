"""The French edition, built from the one source: every text has its translation, the French
notebook has no English sentence left and the same code, and each notebook has its Colab badge."""

from __future__ import annotations

import io
import re
import tokenize

import nbformat
import pytest

from autograder import build
from autograder.i18n import (
    CatalogError,
    load_catalog,
    missing_texts,
    notebook_language,
    notebook_texts,
    translate_notebook,
)

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
    with pytest.raises(CatalogError, match="A new sentence nobody translated"):
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
