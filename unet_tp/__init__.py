"""unet-tp: the student-side helper package of the U-Net brain-tumour segmentation practical.

Data flows one way, one module per step::

    NIfTI case (data.cases) -> normalised volume (data.normalize) -> slice cache (data.cache)
    -> Dataset (data.cache.SliceDataset) -> model -> metrics (metrics) -> figures (viz)
"""

from __future__ import annotations

__version__ = "0.1.0"
