from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout this instructor code runs from (``solutions/``, ``notebooks/``, ``unet_tp/``)."""
