"""nbgrader's cell metadata and output clearing: the one place the kit reads or resets them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
