"""Access to the instructor side (``solutions/``, ``autograder/``) from a repository checkout.

The student wheel holds ``unet_tp`` only. Instructor commands (``train`` with the reference U-Net,
``notebook build``, ``grade``) import the reference code from the checkout that ``unet_tp`` was
installed from in editable mode (``pip install -e '.[instructor]'``).
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
