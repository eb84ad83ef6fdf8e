"""Where the kit keeps its files; atomic writes (a temporary name beside the target, then one
rename: a file, a file a library writes by name, a folder); a file's SHA-256; a failed file
operation as one line that names the path and says what to do (:func:`os_error_message`)."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from unet_tp.i18n import language, tr


def unet_tp_home() -> Path:
    """Working folder of the kit: ``$UNET_TP_HOME`` or ``~/.cache/unet_tp``."""
    return Path(os.environ.get("UNET_TP_HOME") or Path.home() / ".cache" / "unet_tp")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read by blocks."""
    with open(path, "rb") as f:
        return _sha256_blocks(f)


def copy_hashed(src: BinaryIO, dest: str | os.PathLike[str]) -> str:
    """Copy the stream ``src`` into the file ``dest``; the SHA-256 of what was copied."""
    with open(dest, "wb") as out:
        return _sha256_blocks(src, out.write)


def _sha256_blocks(src: BinaryIO, sink: Callable[[bytes], object] | None = None) -> str:
    h = hashlib.sha256()
    for block in iter(lambda: src.read(1 << 20), b""):
        h.update(block)
        if sink is not None:
            sink(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` in one rename, on
    any error it is removed and ``path`` is left as it was."""
    path = Path(path)
    _clear_left_overs(path, f".{path.name}.", ".tmp")
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; keep the usual permissions
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _name(exc, path)
        raise


_SHORT_WRITE = re.compile(r"free space|\d+ requested and \d+ written")
"""NumPy's words for a write the disk could not take (its OSError has no errno): "Not enough
free space to write N bytes", or ``tofile``'s "950272 requested and 739264 written"."""


def _name(exc: BaseException, path: Path) -> None:
    """An error writing ``path`` that names no file (gzip's, NumPy's "Not enough free space" or
    "N requested and M written", whose errno is None) named as that file's, a full disk said as
    one (data round 20: "a file: the disk is full", and NumPy's words with no path)."""
    if not isinstance(exc, OSError):
        return
    if exc.errno is None and _SHORT_WRITE.search(str(exc)):
        exc.errno, exc.strerror = errno.ENOSPC, os.strerror(errno.ENOSPC)
    if exc.filename is None and exc.errno is not None:
        exc.filename = str(path)


def _clear_left_overs(path: Path, prefix: str, suffix: str) -> None:
    """Remove the temporary files of ``path`` a killed writer left beside it (``prefix<pid>...
    suffix``, its process gone): a killed ``predict`` left a hidden empty ``.nii.gz`` for good."""
    with contextlib.suppress(OSError):
        for left in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
            pid = left.name[len(prefix) :].partition("." if suffix == ".tmp" else "-")[0]
            if pid.isdigit() and not _alive(int(pid)) and left.is_file():
                left.unlink(missing_ok=True)


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """``np.save`` atomically."""
    with atomic_write(path, "wb") as f:
        np.save(f, array)


def save_json(path: str | os.PathLike[str], obj: object, indent: int | None = None) -> None:
    """``json.dump`` atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def temp_dir_beside(target: str | os.PathLike[str], prefix: str = "partial-") -> Path:
    """A new empty folder next to ``target``, to be filled then renamed onto it (same file
    system), with the usual permissions (``mkdtemp`` makes 0700 folders, private after the rename)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{prefix}", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_unfinished(target: str | os.PathLike[str]) -> None:
    """Remove what :func:`atomic_dir` left beside ``target`` in a process that is gone (killed
    mid-way: a Colab session reset while extracting 30 GB), saying so; those of a live process
    are left alone."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(target.name)}\.unfinished-(\d+)-.+")
    for folder in target.parent.iterdir():
        if (m := pattern.fullmatch(folder.name)) and folder.is_dir() and not _alive(int(m[1])):
            size = tree_size(folder)
            shutil.rmtree(folder, ignore_errors=True)
            print(
                tr(
                    "{target}: removed the unfinished copy an interrupted run left ({name}, "
                    "{size}); writing it again",
                    target=target,
                    name=folder.name,
                    size=size_text(size),
                )
            )


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new empty folder beside ``target`` (after removing those an interrupted run left:
    :func:`remove_unfinished`); on success it is renamed onto ``target``, on any error (or
    interruption) it is removed and ``target`` is untouched."""
    remove_unfinished(target)
    tmp = temp_dir_beside(target, f"unfinished-{os.getpid()}-")
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
    _clear_left_overs(path, ".partial-", f"-{path.name}")
    tmp = path.parent / f".partial-{os.getpid()}-{path.name}"
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        _name(exc, path)
        raise
    finally:
        tmp.unlink(missing_ok=True)


_ADVICE = {
    errno.EROFS: lambda where: tr(
        "{where}: it is on a read-only file system (e.g. /kaggle/input or a read-only mount): "
        "choose a folder you can write to (e.g. /kaggle/working, /content or ~/)",
        where=where,
    ),
    errno.EACCES: lambda where: tr(
        "{where}: permission denied: choose a folder you can write to, or fix its permissions",
        where=where,
    ),
    errno.EPERM: lambda where: tr(
        "{where}: operation not permitted: choose a folder you can write to", where=where
    ),
    errno.ENOTDIR: lambda where: tr(
        "{where}: a part of this path is a file, not a folder: choose another path", where=where
    ),
    errno.EISDIR: lambda where: tr(
        "{where}: it is a folder, not a file: give a file name", where=where
    ),
    errno.ENOSPC: lambda where: tr(
        "{where}: the disk is full: free some space or choose a folder on another disk",
        where=where,
    ),
    errno.EDQUOT: lambda where: tr(
        "{where}: the disk quota is exhausted: free some space or choose another disk",
        where=where,
    ),
    errno.ENOENT: lambda where: tr("{where}: no such file or folder: check the path", where=where),
    errno.EEXIST: lambda where: tr(
        "{where}: it already exists: remove it or choose another path", where=where
    ),
    errno.ENAMETOOLONG: lambda where: tr(
        "{where}: the name is too long: choose a shorter path", where=where
    ),
}
"""What to do about an OSError of each errno, the path named (its message's whole sentence)."""


def size_text(n: float) -> str:
    """A size for people: ``"512 bytes"``, ``"3.4 MB"``, ``"30.1 GB"`` (powers of 1000, as disks;
    in French ``"512 octets"``, ``"3,4 Mo"``)."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            break
        n /= 1000
    if unit == "bytes" and (n == 1 or (n == 0 and language() == "fr")):  # « 0 octet »
        return tr("{n:.0f} byte", n=n)
    if unit == "bytes":
        return tr("{n:.0f} bytes", n=n)
    size = f"{n:.1f}".replace(".", "," if language() == "fr" else ".")
    if unit == "kB":
        return tr("{size} kB", size=size)
    return tr("{size} MB", size=size) if unit == "MB" else tr("{size} GB", size=size)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def free_space(folder: str | os.PathLike[str]) -> int | None:
    """Free bytes on the file system of ``folder`` (or of its nearest existing parent); None
    where the OS does not say."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def no_space_message(folder: str | os.PathLike[str], needed: int, what: str) -> str | None:
    """``"what needs N; FOLDER's disk has M free: ..."`` when ``needed`` bytes do not fit in
    ``folder``'s file system, else None."""
    free = free_space(folder)
    if free is None or needed <= free:
        return None
    return tr(
        "{what} needs {needed}; the disk of {folder} has {free} free: free {missing} (delete "
        "downloads, old runs or caches you no longer use) or choose a folder on another disk",
        what=what,
        needed=size_text(needed),
        folder=folder,
        free=size_text(free),
        missing=size_text(needed - free),
    )


def tree_size(folder: str | os.PathLike[str]) -> int:
    """The bytes of the files below ``folder`` (links not followed; a file gone meanwhile: 0)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@contextlib.contextmanager
def room_for(tmp: Path, total: int, what: str, error: type[Exception]) -> Iterator[None]:
    """Refuse to start writing ``total`` bytes into ``tmp`` (a folder beside its target) that its
    disk cannot hold, and say so, with the sizes, if it fills up while ``what`` writes there;
    ``error`` (the caller's kind of error) carries either message."""
    if message := no_space_message(tmp.parent, total, what):
        raise error(message)
    try:
        yield
    except OSError as exc:
        if not disk_full(exc):
            raise
        free = (free_space(tmp.parent) or 0) + tree_size(tmp)
        raise error(
            tr(
                "the disk of {folder} filled up while {what} ({total} unpacked; {free} free once "
                "the partial copy is removed): free some space (delete downloads, old runs or "
                "caches you no longer use) or choose a folder on another disk",
                folder=tmp.parent,
                what=what,
                total=size_text(total),
                free=size_text(free),
            )
        ) from None


def check_writable(folder: str | os.PathLike[str]) -> None:
    """Raise the OSError (naming ``folder``) that writing a file into ``folder`` would meet, or
    into its nearest existing parent while it does not exist (one that is a file: naming it);
    nothing is left behind."""
    folder = Path(folder)
    base = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not base.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(base))
    try:
        with tempfile.TemporaryFile(dir=base, prefix=".unet-tp-write-test-"):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(folder)) from None


_MAGIC = {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ": "xz"}


def _head(path: str | os.PathLike[str]) -> bytes:
    """The first 512 bytes of a file (none if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(512)
    except OSError:
        return b""


def is_web_page(path: str | os.PathLike[str]) -> bool:
    """Whether the file is an HTML page (saved in place of an archive: Drive's virus-scan page)."""
    return re.match(rb"\s*(<!doctype html|<html)", _head(path), re.IGNORECASE) is not None


def archive_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a file that starts as an archive does not open (a download cut short), or that is a
    web page, or None."""
    head = _head(path)
    if is_web_page(path):  # (data round 21)
        return tr(
            "a web page, not an archive (Google Drive's 'cannot scan for viruses' page, a login "
            "or an error page): download the file itself (its direct link, or the notebook's "
            "DATA_SOURCE = 'drive')"
        )
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
    if kind is None:
        return None
    return tr(
        "a damaged or truncated {kind} archive (it starts as one, then breaks off): get it again",
        kind=kind,
    )


_TEMPORARY = re.compile(r"\.(.+?)(?:\.\d+)?\.[A-Za-z0-9_]{8}\.tmp")
"""The name of an atomic write's temporary file (``mkstemp``'s ``.NAME.PID.XXXXXXXX.tmp``)."""


def os_error_message(exc: OSError) -> str:
    """``"PATH: what went wrong; what to do"`` for an OSError (its ``filename`` names the path
    when the OS gave one), or its own message when it carries no errno (the kit's own text)."""
    if exc.errno is None:
        return str(exc)
    where = exc.filename if exc.filename is not None else tr("a file")
    if isinstance(where, str) and (temporary := _TEMPORARY.fullmatch(os.path.basename(where))):
        where = os.path.join(os.path.dirname(where), temporary[1])  # the file it would become
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    if advice := _ADVICE.get(exc.errno):
        return advice(where)
    return f"{where}: {exc.strerror or os.strerror(exc.errno)}"
