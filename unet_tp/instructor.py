"""Access to the instructor side (``solutions/``, ``autograder/``) from a repository checkout.

The student wheel holds ``unet_tp`` only. Instructor commands (``train`` with the reference U-Net,
``notebook build``, ``grade``) import the reference code from the checkout that ``unet_tp`` was
installed from in editable mode (``pip install -e '.[instructor]'``).

Only the commands (:mod:`unet_tp.commands`) import this module, when they run: no library module
of ``unet_tp`` does, so the student package never reaches for ``solutions``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]


def repo_root() -> Path:
    """The checkout holding ``solutions/`` and ``autograder/``.

    Raises:
        RuntimeError: this is a student install (no instructor code next to the package).
    """
    if not (REPO_ROOT / "solutions" / "__init__.py").exists():
        raise RuntimeError(
            "this is an instructor command: it needs the reference solutions from a checkout of "
            "the unet-tp repository, installed with `pip install -e '.[instructor]'`"
        )
    return REPO_ROOT


def import_solutions() -> ModuleType:
    """Import the ``solutions`` package of the checkout."""
    try:
        return importlib.import_module("solutions")
    except ModuleNotFoundError:
        root = str(repo_root())
        if root not in sys.path:
            sys.path.insert(0, root)
        return importlib.import_module("solutions")


def import_autograder(module: str) -> ModuleType:
    """Import ``autograder.<module>`` from the checkout (grading, notebook build)."""
    root = str(repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"autograder.{module}")


DEFAULT_MODEL = "solutions.unet:UNet"
"""What ``--model`` names by default: the reference U-Net of a checkout."""


def resolve(spec: str) -> object:
    """The object ``MODULE:NAME`` names (e.g. ``--model solutions.unet:UNet``).

    ``MODULE`` is imported the ordinary way (installed, or on ``PYTHONPATH``); a module of the
    checkout (``solutions``, ``autograder``) is found by putting the checkout on ``sys.path``.

    Raises:
        ValueError: ``spec`` is not ``MODULE:NAME``, or the module has no ``NAME``.
        RuntimeError: the module is the checkout's and this is a student install (one line
            saying which command needs what).
    """
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--model {spec}: expected MODULE:NAME, e.g. {DEFAULT_MODEL}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if exc.name != top or top not in ("solutions", "autograder"):
            raise ValueError(f"--model {spec}: cannot import {module_name} ({exc})") from None
        try:
            root = str(repo_root())
        except RuntimeError as exc:  # a student install
            raise RuntimeError(
                f"--model {spec}: {exc} (or name an importable network class: --model MODULE:NAME)"
            ) from None
        if root not in sys.path:
            sys.path.insert(0, root)
        module = importlib.import_module(module_name)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"--model {spec}: {module_name} has no {name}") from None
