"""nbgrader's cell metadata and output clearing: the one place the kit reads or resets them;
and the one way the grader parses a cell's code."""

from __future__ import annotations

import ast
import threading
from collections.abc import Mapping
from typing import Any

# CPython 3.11 keeps the depth of its tree conversion in one counter for all threads: two grading
# threads parsing at once (a collection run in between lets the other one in) fail with
# "SystemError: AST constructor recursion depth mismatch" (a CI run, a notebook of `!` commands)
_PARSING = threading.RLock()
_DEPTH_MISMATCH = "recursion depth mismatch"


def parse_code(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse`` under the grader's lock (tried again where a thread outside it, a traceback
    being formatted, still upset the counter)."""
    for _ in range(2):
        try:
            with _PARSING:
                return ast.parse(source, mode=mode)
        except SystemError as e:
            if _DEPTH_MISMATCH not in str(e):
                raise
    with _PARSING:
        return ast.parse(source, mode=mode)


def nbgrader_meta(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's ``metadata.nbgrader`` dict (empty when absent or not a dict)."""
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell: Mapping[str, Any]) -> str | None:
    """The cell's nbgrader ``grade_id``, or None."""
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def clear_outputs(cell: dict[str, Any]) -> None:
    """Remove a code cell's outputs and execution count (markdown cells are left alone)."""
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
