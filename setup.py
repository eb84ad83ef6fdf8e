"""Which packages a build holds; everything else is declared in pyproject.toml.

A wheel (what students install: ``pip install git+https://...``, or ``pip wheel .``) holds the
course package ``unet_tp`` only. The checkout installed in place (``pip install -e
'.[instructor]'``: the instructor's set-up, ``scripts/setup_env.sh``) also makes ``solutions``
and ``autograder`` importable, so that the instructor commands (train, evaluate, predict,
figures, notebook, grade, report, export: the ``unet_tp.commands`` entry point) and the reference
U-Net (``--model solutions.unet:UNet``) are found the ordinary way.
"""

import sys

from setuptools import find_packages, setup

# pip runs each build step in its own process: `editable_wheel` is the in-place install's
IN_PLACE = "editable_wheel" in sys.argv
STUDENT = ["unet_tp", "unet_tp.*"]
INSTRUCTOR = ["solutions", "solutions.*", "autograder", "autograder.*"]

setup(
    packages=find_packages(include=STUDENT + (INSTRUCTOR if IN_PLACE else [])),
    # the messages' translations (unet_tp.i18n)
    package_data={"unet_tp": ["locale/*.json"]},
)
