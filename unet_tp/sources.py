"""Where the data comes from: the one place an instructor edits. Set ``BRATS2019_URL`` (and its
checksum) to your own copy of the BraTS 2019 training set (a zip or tar; BraTS may not be
redistributed, so the kit ships no URL); ``$UNET_TP_BRATS_URL`` and ``$UNET_TP_BRATS_SHA256``
override them without editing the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A downloadable archive."""

    name: str  # short name used on the command line
    url: str | None  # http(s), file:// or a local path; None when not configured
    sha256: str | None = None  # expected SHA-256 hex digest
    md5: str | None = None  # expected MD5, for sources that publish only that
    layout: str = "brats"  # "brats", "msd" (Task01, converted) or "kaggle" (url: a dataset handle)
    description: str = ""  # one line for --help and messages


# The public repository students install the kit from and open the notebook of in Colab: set by
# `unet-tp notebook build --repository OWNER/NAME --ref TAG` (with the README's badge and the
# notebook's install cell). To hand out a wheel instead, set STUDENT_PACKAGE to its URL.
REPOSITORY = "unet-tp/unet-tp"  # GitHub owner/name
REF = "main"  # the branch or tag students install and open


def student_package(repository: str = REPOSITORY, ref: str = REF) -> str:
    """The pip requirement of the student package in ``repository`` at ``ref``."""
    return f"unet-tp @ git+https://github.com/{repository}.git@{ref}"


def colab_url(
    repository: str = REPOSITORY, ref: str = REF, notebook: str = "TP_sujet.ipynb"
) -> str:
    """The address that opens a student notebook of ``repository`` at ``ref`` in Colab."""
    return f"https://colab.research.google.com/github/{repository}/blob/{ref}/notebooks/{notebook}"


STUDENT_PACKAGE = student_package()

BRATS2019_URL: str | None = None
BRATS2019_SHA256: str | None = None

KAGGLE_BRATS2019 = "aryashah2k/brain-tumor-segmentation-brats-2019"
"""The Kaggle mirror of the BraTS 2019 training set (uncompressed .nii, HGG/LGG, two csv files);
public: ``kagglehub.dataset_download`` fetches it without credentials."""

MSD_TASK01_URL = "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task01_BrainTumour.tar"
MSD_TASK01_MD5 = "240a19d752f0d9e9101544901065d872"  # the value MONAI's DecathlonDataset checks


def sources() -> dict[str, Source]:
    """The configured sources, environment overrides applied."""
    return {
        "brats2019": Source(
            "brats2019",
            os.environ.get("UNET_TP_BRATS_URL", BRATS2019_URL),
            sha256=os.environ.get("UNET_TP_BRATS_SHA256", BRATS2019_SHA256),
            layout="brats",
            description="the instructor's copy of the BraTS 2019 training set (zip or tar)",
        ),
        "kaggle": Source(
            "kaggle",
            KAGGLE_BRATS2019,
            layout="kaggle",
            description="the Kaggle mirror of the BraTS 2019 training set (335 cases, .nii; "
            "kagglehub, no credentials)",
        ),
        "msd": Source(
            "msd",
            os.environ.get("UNET_TP_MSD_URL", MSD_TASK01_URL),
            md5=MSD_TASK01_MD5 if "UNET_TP_MSD_URL" not in os.environ else None,
            layout="msd",
            description="Medical Segmentation Decathlon Task01_BrainTumour (7.1 GB tar, 484 "
            "cases from BraTS 2016/2017), converted to the BraTS 2019 layout and labels",
        ),
    }
