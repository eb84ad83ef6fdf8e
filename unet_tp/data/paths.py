"""Turning a failed file operation into one line that names the path and says what to do."""

from __future__ import annotations

import errno
import os

_ADVICE = {
    errno.EROFS: "it is on a read-only file system (e.g. /kaggle/input or a read-only mount): "
    "choose a folder you can write to (e.g. /kaggle/working, /content or ~/)",
    errno.EACCES: "permission denied: choose a folder you can write to, or fix its permissions",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.ENOTDIR: "a part of this path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder, not a file: give a file name",
    errno.ENOSPC: "the disk is full: free some space or choose a folder on another disk",
    errno.EDQUOT: "the disk quota is exhausted: free some space or choose another disk",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "it already exists: remove it or choose another path",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter path",
}


def os_error_message(exc: OSError) -> str:
    """One line for an OSError: the path, what went wrong and what to do.

    Args:
        exc: the error (its ``filename`` names the path when the OS gave one).

    Returns:
        ``"PATH: what went wrong; what to do"``, or the error's own message when it carries no
        errno (an error the kit raised with its own text).
    """
    if exc.errno is None:
        return str(exc)
    where = exc.filename if exc.filename is not None else "a file"
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    advice = _ADVICE.get(exc.errno, exc.strerror or os.strerror(exc.errno))
    return f"{where}: {advice}"
