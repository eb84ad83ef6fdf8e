"""The reference implementation, for the grader's own process only (never the student's kernel)."""

from __future__ import annotations

import functools
import importlib
import sys
from types import ModuleType

from autograder import REPO_ROOT


@functools.cache
def reference() -> ModuleType:
    """The ``solutions`` package of this checkout."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("solutions")
