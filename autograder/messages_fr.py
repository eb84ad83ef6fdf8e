"""The French of the grader's messages (:mod:`autograder.messages`), for a French feedback page.

``messages_fr.json`` pairs each English template (and ``assignment.toml``'s ``forbidden_why``) with
its French, and each sentence of the page with its own. :func:`french` matches a message of
``results.json`` against the English templates and fills the French one with the fields it read
(a case's label through the notebook's catalog, a nested message through :func:`french` again).
"""

from __future__ import annotations

import functools
import json
import re
import string
from pathlib import Path

from autograder import messages as M
from unet_tp.i18n import catalog, translated

_CATALOG = json.loads(Path(__file__).with_suffix(".json").read_text(encoding="utf-8"))
FRENCH: dict[str, str] = _CATALOG["messages"]  # English template -> French (plain fields)
PAGE_FRENCH: dict[str, str] = _CATALOG["page"]  # the feedback page's own sentences

LABELS = ("label",)  # a case's label: the notebook's catalog knows its French
# labels made from a template of the notebook's catalog (unet_tp/checks.py writes them)
LABEL_TEMPLATES = ("center_crop of a {height}x{width} map to {target_h}x{target_w}",)
# fields that are themselves messages of the grader (or a cell's name): translated in turn
NESTED = ("problem", "message", "where", "why", "what", "quote", "cell_label", "last", "empty")
NESTED += ("error",)  # an exception of the student's code: its '(in your code: ...)' part
NESTED += ("wrong",)  # the arguments of a torch function whose type does not fit
NESTED += ("cause",)  # where a class was handed out (static._loose_cause)
# fields of a known shape: "({block}) must be your own code" cannot swallow a sentence, nor a
# `what` that holds parentheses end where `where` (always "cell N...") has not begun
WORDS = {"block": r"\w+", "cell": r"\d+", "line": r"\d+", "where": r"cell \d+.*?"}
WORDS["cell_label"] = r"(?:(?!\): ).)*?"  # (not a note after it: "cell 44 ((f) test cell): ...")
# fields of one template (honest rounds 28, 29: the Dice's `{want}{empty}` took its note, or a
# self-check's whole sentence after it, as the number)
_DICE_NUMBERS = {"got": r"\S+", "want": r"\S+?", "empty": f"(?:{re.escape(M.EMPTY_MASKS)})?"}
TEMPLATE_WORDS = {M.DICE_VALUE: _DICE_NUMBERS, M.HANDED_OVER: {"where": ".*?"}}


def fields(template: str) -> list[str]:
    """The names of ``template``'s fields, in order (repeats included)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


@functools.cache
def _known_labels() -> str:
    """The catalog's plain texts (the cases' labels, which may hold ": "), longest first: what a
    label field tries before any text."""
    plain = [k for k in catalog("fr") if "{" not in k and k.strip() == k and "\n" not in k]
    return "|".join(re.escape(k) for k in sorted(plain, key=len, reverse=True))


@functools.cache
def _patterns() -> list[tuple[re.Pattern, str, str]]:
    """``(regex, English, French)`` of each template, the longest literal text first."""
    out = [(template_regex(en, _known_labels()), en, fr) for en, fr in FRENCH.items()]
    out.sort(key=lambda p: -len(re.sub(r"\{[^}]*\}", "", p[1])))
    return out


# an exception's "(in your code: `...`)" at the end of a message: its own part, translated
_IN_YOUR_CODE = re.compile(r"\A(?P<error>.*) \(in your code: `(?P<code>[^`]*)`\)\Z", re.S)
_NUMBER = r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?%?|[-+]?(?:nan|inf)"


def template_regex(template: str, label: str = "") -> re.Pattern:
    """``template`` as an anchored regex, each field lazy (``label``: the alternatives a field
    named ``label`` tries first)."""
    parts, seen, words = [], set(), WORDS | TEMPLATE_WORDS.get(template, {})
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            parts.append(f"(?P={name})")
        elif name in LABELS and label:
            parts.append(f"(?P<{name}>{label}|.*?)")
        else:  # a number formatted as one (`{want:.6f}`) is one: not the sentence after it
            field = _NUMBER if spec and spec[-1] in "eEfFgGd%" else words.get(name, ".*?")
            parts.append(f"(?P<{name}>{field})")
        seen.add(name)
    return re.compile(r"\A" + "".join(parts) + r"\Z", re.S)


def _label(value: str) -> str:
    """A case's label in French: the notebook's catalog, as the notebook's self-checks say it."""
    text = translated(value, "fr")
    for template in LABEL_TEMPLATES if text == value else ():
        m = template_regex(template).match(value)
        if m:
            return catalog("fr")[template].format(**m.groupdict())
    return text


def _field(name: str, value: str) -> str:
    if name in LABELS:
        return _label(value)
    return french(value) if name in NESTED else value


def french(message: str) -> str:
    """``message`` (a message of the grader, in English) in French; unchanged when no template
    matches it. A template of fields only (``"{label}: {problem}"``) is used only where one of its
    fields has a French: a student's ``ValueError: ...`` stays as it is."""
    if not message:
        return message
    if m := _IN_YOUR_CODE.match(message):  # (its own, not a field's end: honest round 33)
        return FRENCH[M.ERROR_IN_YOUR_CODE].format(error=french(m["error"]), code=m["code"])
    for regex, english, french_text in _patterns():
        m = regex.match(message)
        if m is None:
            continue
        values = {k: _field(k, v) for k, v in m.groupdict().items()}
        if not re.sub(r"\{[^}]*\}|\W", "", english) and values == m.groupdict():
            continue
        return french_text.format(**values)
    return message
