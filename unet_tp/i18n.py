"""The language of the notebook's messages: English, or French (``notebook_config(device,
language="fr")`` or ``$UNET_TP_LANGUAGE``). A message is an English template,
``tr("got {shape}", shape=...)``; its French is in ``unet_tp/locale/fr.json`` (tests/test_i18n.py
checks that every template has one).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import os
import string
from pathlib import Path

LANGUAGES = ("en", "fr")
LANGUAGE_ENV = "UNET_TP_LANGUAGE"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_current: str | None = None
_notebook_step = contextvars.ContextVar("unet_tp_notebook_step", default=False)


def set_language(language: str) -> None:
    """The language of the messages from now on: ``"en"`` or ``"fr"``."""
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    _current = language


def language() -> str:
    """The current language: set by :func:`set_language`, else ``$UNET_TP_LANGUAGE``, else
    English."""
    if _current is not None:
        return _current
    env = os.environ.get(LANGUAGE_ENV, "").strip().lower()
    return env if env in LANGUAGES else "en"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """``{English template: template in lang}`` (empty for English)."""
    path = LOCALE_DIR / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8")) if lang != "en" else {}


class _FrenchNumbers(string.Formatter):
    """``str.format`` with French digit grouping: ``{n:,}`` writes 31 030 658 (narrow no-break
    spaces), a decimal comma where the grouping goes with decimals."""

    def format_field(self, value, format_spec: str) -> str:
        text = super().format_field(value, format_spec)
        if "," not in format_spec:
            return text
        return text.replace(",", "\N{NARROW NO-BREAK SPACE}").replace(".", ",")


def grouped(number: int) -> str:
    """``number`` with its digits grouped in the current language: 31,030,658 in English,
    31 030 658 (narrow no-break spaces) in French."""
    if language() == "fr":
        return _FrenchNumbers().format_field(number, ",d")
    return f"{number:,d}"


class Message(str):
    """A :func:`tr` message: its text, and the ``template`` and ``fields`` it was made of (what
    :func:`stored` keeps, to say it again in another language)."""

    template: str
    fields: dict


def tr(template: str, **fields) -> Message:
    """``template`` in the current language, with ``.format(**fields)`` applied (a template
    without its translation stays English)."""
    return _said(template, fields)


def _said(template: str, fields: dict) -> Message:
    lang = language()
    text = catalog(lang).get(template, template)
    message = Message(
        _FrenchNumbers().format(text, **fields) if lang == "fr" else text.format(**fields)
    )
    message.template, message.fields = template, fields
    return message


def stored(text):
    """``text`` (a message, an error, a field of a message) as JSON that :func:`said` says again
    in the language of whoever reads it: a :func:`tr` message (or an error raised with one) as
    its template, fields and text; a number as it is; anything else as its text."""
    if isinstance(text, BaseException):
        text = text.args[0] if text.args and isinstance(text.args[0], Message) else str(text)
    if isinstance(text, Message):
        fields = {k: stored(v) for k, v in text.fields.items()}
        return {"text": str(text), "template": text.template, "fields": fields}
    return text if isinstance(text, int | float) else str(text)


def said(value):
    """What :func:`stored` kept, in the current language (plain text, e.g. an older file's: as
    it is; a template the catalog's French no longer fits: its text as it was said)."""
    if not isinstance(value, dict):
        return value
    try:
        return _said(value["template"], {k: said(v) for k, v in value["fields"].items()})
    except (KeyError, IndexError, ValueError, TypeError):
        return value.get("text", "")


def translated(text: str, lang: str | None = None) -> str:
    """``text`` (not a template: a case's label, say) in ``lang`` (default: the current language),
    if the catalog has it; else as it is."""
    return catalog(lang or language()).get(text, text)


def in_notebook() -> bool:
    """Whether a step of the student notebook (:mod:`unet_tp.notebook`'s ``get_data``,
    ``prepare_slices``...) is running: its messages then give a step a student can take there
    (re-run the cell, set DATA_SOURCE, DRIVE_FOLDER or PACK_URL), not a ``unet-tp`` command."""
    return _notebook_step.get()


@contextlib.contextmanager
def notebook_step():
    """Run the block as a step of the student notebook (:func:`in_notebook` is true in it)."""
    token = _notebook_step.set(True)
    try:
        yield
    finally:
        _notebook_step.reset(token)
