"""``python -m unet_tp`` (used by ``torchrun -m unet_tp train ...``)."""

import sys

from unet_tp.cli import main

sys.exit(main())
