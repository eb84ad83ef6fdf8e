import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout this instructor code runs from (``solutions/``, ``notebooks/``, ``unet_tp/``)."""

# nbformat imports jsonschema, whose checker of the "iri" format, where rfc3987-syntax is
# installed (jupyter-events pulls it in), compiles 38 grammars at import: 1.3 s in every process
# that reads a notebook, each notebook's grading worker among them. No schema read here has that
# format; without the module jsonschema leaves that one check out.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
