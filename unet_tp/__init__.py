"""unet-tp: the student-side helper package of the U-Net brain-tumour segmentation practical.

Data flows one way, one module per step::

    NIfTI case (data.cases) -> normalised volume (preprocess.normalise)
    -> network grid (preprocess.Grid) -> slice cache (data.cache) -> Dataset (data.cache.SliceDataset)
    -> model (unet_base; the student's U-Net) -> training (train.fit: losses, the step, the
    schedule; checkpoint) -> metrics (metrics) -> figures (viz)

A run's settings, by meaning, are :mod:`unet_tp.settings`; labels and regions
:mod:`unet_tp.conventions`; the device :mod:`unet_tp.device` (chosen once, passed down); what
the notebook's set-up cells call :mod:`unet_tp.notebook` (only the notebook imports it); the
command line :mod:`unet_tp.cli` (the data commands: :mod:`unet_tp.data.commands`). Nothing here imports ``solutions`` or
``autograder``.
"""

from __future__ import annotations

__version__ = "0.1.0"
