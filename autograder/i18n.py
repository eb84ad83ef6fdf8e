"""The notebook in another language, from the one source: a catalog
(``autograder/source/TP_sujet/<language>.toml``, ``[[text]]`` entries of ``en`` and its translation)
pairs each text of the notebook (a markdown cell; a comment or a worded string of a code cell) with
its translation. A text without one is an error that names it; code is never translated.
"""

from __future__ import annotations

import ast
import copy
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from autograder.cells import grade_id, parse_code

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CATALOG_DIR = Path(__file__).resolve().parent / "source" / "TP_sujet"
LANGUAGES = ("en", "fr")
STUBS = {
    "en": ("YOUR CODE HERE", "YOUR ANSWER HERE"),
    "fr": ("VOTRE CODE ICI", "VOTRE RÉPONSE ICI"),
}
BUILT_CELLS = {"badge"}  # written by the build in each language, not translated
_WORDS = re.compile(r"[A-Za-z]{2,}\W+[A-Za-z]{2,}")  # two words: a text, not a name or a path
_MARKERS = re.compile(r"^#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)|^#\s*(noqa|type:|pragma)")


class CatalogError(ValueError):
    """A text without its translation, or a catalog that cannot be read."""


_SAYS = re.compile(r"^(print|display|Markdown|HTML|warn|\w*(Error|Exception|Warning))$")


@dataclass(frozen=True)
class Piece:
    """A text of a code cell: the span of its source, the text, and how a translation is written
    back (``{}`` inside ``template``: quotes of a string, ``#`` of a comment)."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str
    template: str


def code_pieces(source: str) -> list[Piece]:
    """The comments and the strings a reader sees in a code cell (docstrings, the arguments of
    ``print`` and of exceptions; an f-string is one text, written as in the source), in order."""
    try:
        tree = parse_code(source)
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (SyntaxError, tokenize.TokenError, ValueError):
        return []
    pieces = []
    for tok in tokens:
        m = re.match(r"(#+\s*)(.*?)\s*$", tok.string)
        if tok.type == tokenize.COMMENT and not _MARKERS.match(tok.string) and _WORDS.search(m[2]):
            pieces.append(Piece(tok.start, tok.end, m[2], m[1].replace("{", "{{") + "{}"))
    for node in _said(tree):
        span = ((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset))
        if isinstance(node, ast.JoinedStr):
            text = ast.get_source_segment(source, node)
            pieces.append(Piece(*span, text, "{}"))
        else:
            quote = re.match(
                r"(?i)[rbu]*(\"\"\"|\'\'\'|\"|\')", ast.get_source_segment(source, node)
            )
            pieces.append(Piece(*span, node.value.strip(), quote[0] + "{}" + quote[1]))
    return sorted(pieces, key=lambda p: p.start)


def _said(tree: ast.AST):
    """String nodes a reader sees: docstrings and bare strings, and the (concatenated) string
    arguments of print/display/exceptions; only those with words in them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr):
            yield from _worded([node.value])
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if _SAYS.match(name):
                yield from _worded([*node.args, *(k.value for k in node.keywords)])


def _worded(nodes):
    for node in nodes:
        if isinstance(node, ast.BinOp):
            yield from _worded([node.left, node.right])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _WORDS.search(node.value):
                yield node
        elif isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            if _WORDS.search(" ".join(map(str, parts))):
                yield node


def _pieces(nb: dict):
    """``(cell, its pieces)`` of each translated cell: a markdown cell is one piece, whole."""
    for cell in nb["cells"]:
        source = _source(cell)
        if grade_id(cell) in BUILT_CELLS:
            continue
        if cell["cell_type"] == "markdown" and source.strip():
            end = (len(source.splitlines(keepends=True)), len(source))  # past the last line
            yield cell, [Piece((1, 0), end, source.strip(), "{}")]
        elif cell["cell_type"] == "code":
            yield cell, code_pieces(source)


def notebook_texts(nb: dict) -> list[str]:
    """Every text of the notebook, in order (markdown cells whole, code pieces one by one)."""
    return [p.text for _, pieces in _pieces(nb) for p in pieces]


def load_catalog(language: str, directory: Path = CATALOG_DIR) -> dict[str, str]:
    """``{English text: translation}`` of ``<directory>/<language>.toml``."""
    path = directory / f"{language}.toml"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("text", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the catalog ({exc})") from None
    bad = [e for e in entries if not all(isinstance(e.get(k), str) for k in ("en", language))]
    if bad:
        raise CatalogError(f"{path}: an entry lacks 'en' or '{language}': {bad[0]}")
    return {e["en"].strip(): e[language].strip() for e in entries}


def missing_texts(nb: dict, catalog: dict[str, str]) -> list[str]:
    """The notebook's texts the catalog does not translate."""
    return [t for t in dict.fromkeys(notebook_texts(nb)) if t not in catalog]


def translate_notebook(nb: dict, catalog: dict[str, str], language: str) -> dict:
    """A copy of ``nb`` with every text translated and ``metadata.unet_tp.language`` set.

    Raises:
        CatalogError: naming the first texts that have no translation.
    """
    missing = missing_texts(nb, catalog)
    if missing:
        shown = "\n".join(f"  - {t[:100]!r}" for t in missing[:5])
        where = (CATALOG_DIR / f"{language}.toml").relative_to(CATALOG_DIR.parents[2])
        raise CatalogError(
            f"{len(missing)} text(s) without a '{language}' translation: add a [[text]] entry "
            f"(en = the text as it is, {language} = its translation) to {where}:\n{shown}"
        )
    out = copy.deepcopy(nb)
    for cell, pieces in _pieces(out):
        cell["source"] = _translated(_source(cell), pieces, catalog)
    out["metadata"].setdefault("unet_tp", {})["language"] = language
    return out


def _translated(source: str, pieces: list[Piece], catalog: dict[str, str]) -> str:
    lines = source.splitlines(keepends=True)
    for p in reversed(pieces):  # from the end: earlier positions stay valid
        (r0, c0), (r1, c1) = p.start, p.end
        head, tail = lines[r0 - 1][:c0], lines[r1 - 1][c1:]
        text = p.template.format(catalog[p.text.strip()])
        lines[r0 - 1 : r1] = [head + text + tail]
    return "".join(lines)


_COMMON = {
    "en": {"the", "is", "and", "of", "with", "for", "this", "to", "each", "your"},
    "fr": {"le", "la", "les", "des", "est", "et", "une", "pour", "dans", "avec", "chaque", "votre"},
}


def notebook_language(nb: dict) -> str:
    """The language a notebook was built in: ``metadata.unet_tp.language``, else the language
    whose common words its markdown uses most (a notebook that lost its metadata)."""
    meta = nb.get("metadata", {}).get("unet_tp", {})
    language = meta.get("language") if isinstance(meta, dict) else None
    if language in LANGUAGES:
        return language
    markdown = " ".join(_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
    words = re.findall(r"[a-zà-ÿ]+", markdown.lower())
    return max(LANGUAGES, key=lambda lang: sum(w in _COMMON[lang] for w in words))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source
