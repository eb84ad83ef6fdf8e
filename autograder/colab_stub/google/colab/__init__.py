"""Colab's ``google.colab`` where grading runs (``google`` stays a namespace package): a
student's own ``drive.mount(...)``, ``files.upload()``, ``output.enable_custom_widget_manager()``
do nothing, so the rest of their cell runs as it did in Colab (the imports after ``drive.mount``
in one cell were never run: correct blocks lost their points). The notebook is graded on the
grader's data; ``unet_tp.device.in_colab`` knows this module by ``GRADING_STUB``."""

import sys
import types

GRADING_STUB = True
SUBMODULES = ("auth", "data_table", "drive", "files", "output", "patches", "userdata", "widgets")


def _nothing(*args, **kwargs):
    """Any function of Colab's: nothing done, nothing returned."""


class _Module(types.ModuleType):
    """A module of ``google.colab`` whose every function does nothing."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return {"upload": dict}.get(name, _nothing)  # files.upload(): nothing uploaded


for _name in SUBMODULES:
    sys.modules[f"{__name__}.{_name}"] = globals()[_name] = _Module(f"{__name__}.{_name}")
