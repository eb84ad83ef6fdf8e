"""Where the kit keeps its files, and writing so that a reader never sees half of anything:
a temporary name beside the target, then one rename (:func:`atomic_write` for an open file,
:func:`atomic_path` for a file a library writes by name, :func:`atomic_dir` for a folder)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np


def unet_tp_home() -> Path:
    """Working folder of the kit: ``$UNET_TP_HOME`` or ``~/.cache/unet_tp``."""
    return Path(os.environ.get("UNET_TP_HOME") or Path.home() / ".cache" / "unet_tp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` in one rename.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; keep the usual permissions
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """``np.save`` atomically."""
    with atomic_write(path, "wb") as f:
        np.save(f, array)


def save_json(path: str | os.PathLike[str], obj: object, indent: int | None = None) -> None:
    """``json.dump`` atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def temp_dir_beside(target: str | os.PathLike[str]) -> Path:
    """A new empty folder next to ``target``, to be filled then renamed onto it (same file system).

    It gets the usual folder permissions (``mkdtemp`` alone makes 0700 folders, which would stay
    private after the rename).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new empty folder beside ``target``; on success it is renamed onto ``target``.

    On any error (or interruption) the temporary folder is removed and ``target`` is untouched.

    Example:
        >>> with atomic_dir(out / "case") as tmp:  # doctest: +SKIP
        ...     write_files(tmp)
    """
    tmp = temp_dir_beside(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file name beside ``path`` (same suffix: nibabel compresses by the name);
    on success it replaces ``path`` in one rename, on any error it is removed."""
    path = Path(path)
    tmp = path.parent / f".partial-{os.getpid()}-{path.name}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
