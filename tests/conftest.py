"""Shared fixtures: BraTS-format sample cases made once per test session."""

from __future__ import annotations

import os
import sys

# numpy asks for transparent huge pages for its large arrays (NUMPY_MADVISE_HUGEPAGE): on a
# machine whose kernel compacts memory for them, a fresh 143 MB case volume took 0.1 s to 1 s by
# the machine's state; without, a steady 0.5 ms per MB (read before numpy is first imported)
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
# pytest-xdist's workers share the cores: torch's threads (here, in the kernels and the grader's
# workers, which inherit it) split between them. Two 2-thread trainings on 2 cores spin-wait on
# each other and ran 12 times slower than one alone; with one thread each, 1.6 times.
if _workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    _cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _threads = str(max(1, (_cpus or 1) // _workers))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = _threads
    if "torch" in sys.modules:  # imported before this file (a plugin): set it there too
        sys.modules["torch"].set_num_threads(int(_threads))

import shutil
import subprocess
from pathlib import Path

import pytest

import autograder  # noqa: F401 - first: nbformat without its slow import (autograder/__init__.py)
from unet_tp.data.synth import synth_dataset


@pytest.fixture(scope="session")
def brats_root(tmp_path_factory) -> Path:
    """Four sample cases in the official BraTS 2019 layout (read-only: copy before changing)."""
    out = tmp_path_factory.mktemp("brats")
    return synth_dataset(out, cases=4, seed=7)


@pytest.fixture
def brats_copy(brats_root, tmp_path) -> Path:
    """A private, writable copy of the four sample cases."""
    dst = tmp_path / "MICCAI_BraTS_2019_Data_Training"
    shutil.copytree(brats_root, dst)
    return dst


def case_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/BraTS19_*") if p.is_dir())


@pytest.fixture(scope="session")
def student_wheel(tmp_path_factory) -> Path:
    """The wheel students install, built once from a copy of this checkout's files (what git
    tracks or does not ignore: a stale ``build/`` of an earlier build must not leak into it)."""
    out, copy = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("checkout")
    root = Path(__file__).resolve().parents[1]
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (root / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, copy / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(copy)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("unet_tp-*.whl")
    return wheel


@pytest.fixture(scope="module")
def tiny_cache(brats_root, tmp_path_factory) -> Path:
    """The slice cache of the four sample cases with the ``tiny`` preset's settings."""
    from unet_tp.data.cache import prepare_cache
    from unet_tp.settings import preset_config

    cache = tmp_path_factory.mktemp("cache")
    prepare_cache(brats_root, cache, preset_config("tiny").cache_settings())
    return cache


@pytest.fixture
def french():
    """The kit's messages in French for the test (as the French notebook sets them)."""
    from unet_tp import i18n

    before = i18n._current
    i18n.set_language("fr")
    yield
    i18n._current = before
