"""Which packages a build holds (everything else is in pyproject.toml): a wheel, what students
install, holds ``unet_tp`` only; the checkout installed in place (``pip install -e
'.[instructor]'``) also makes ``solutions`` and ``autograder`` importable."""

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
