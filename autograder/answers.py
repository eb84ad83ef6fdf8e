"""What crosses out of the sandbox: the kernel's answers, taken and read without trusting them.

An answer file may be a link, a FIFO, or larger than it says: :func:`take` (the worker) opens it by
directory fd without following links, accepts one regular file with one link under a size limit,
reads it at once and unlinks it; :func:`parse` (the grader) bounds every size before anything is
decompressed (each ``.npy`` header's shape and dtype, numbers and booleans only, never pickle; the
arrays under a budget; the JSON meta under its cap).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import zipfile

import numpy as np

# an honest submission's answers weigh a few MB in all
MAX_ANSWER_BYTES = 32 << 20  # one answer file
MAX_ARRAY_BYTES = 64 << 20  # the arrays of one answer, decompressed
MAX_SUBMISSION_BYTES = 128 << 20  # every answer of one submission: files, and arrays
MAX_META_CHARS = 1 << 20
MAX_MEMBERS = 4096
MAX_HEADER_BYTES = 10_000  # numpy's own limit for a header it reads safely
_KINDS = "biuf"  # bool, integers, floats


class BadAnswer(ValueError):
    """An answer that is not a well-formed, bounded message."""


def take(dir_fd: int, name: str, limit: int = MAX_ANSWER_BYTES) -> bytes | str:
    """The bytes of the answer ``name`` in the folder ``dir_fd`` (then unlinked), or why there
    are none."""
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except FileNotFoundError:
        return "no answer file"
    except OSError as exc:  # ELOOP: a symbolic link
        return f"the answer file could not be opened safely ({os.strerror(exc.errno or 0)})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "the answer is not a regular file"
        if info.st_nlink != 1:
            return "the answer file has other links to it"
        if info.st_size > limit:
            return f"the answer is larger than {limit >> 20} MiB"
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return f"the answer is larger than {limit >> 20} MiB"
        return b"".join(chunks)
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)


def parse(data: bytes, budget: int = MAX_ARRAY_BYTES) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of an answer, every size checked before it is read.

    Raises:
        BadAnswer: not a zip of ``.npy`` members, a member of another dtype (objects, strings,
            structures), more than ``budget`` bytes of arrays, or a meta that is not a JSON object.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadAnswer(f"not an npz archive: {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise BadAnswer(f"{len(members)} members")
    meta, arrays, total = {}, {}, 0
    for info in members:
        if not info.filename.endswith(".npy"):
            raise BadAnswer(f"member {info.filename!r} is not an .npy file")
        key = info.filename[:-4]
        with archive.open(info) as member:
            shape, dtype = _header(member, key)
            size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if key == "__meta__":
                if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_META_CHARS:
                    raise BadAnswer("the meta is not one string")
            elif dtype.kind not in _KINDS or dtype.hasobject:
                raise BadAnswer(f"array {key!r} has dtype {dtype}")
            total += size
            if total > budget:
                raise BadAnswer(f"more than {budget >> 20} MiB of arrays")
            raw = member.read(size)  # never inflates more than the header declared
        if len(raw) != size:
            raise BadAnswer(f"array {key!r} is truncated")
        value = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if key == "__meta__":
            meta = _meta(str(value))
        else:
            arrays[key] = value
    return meta, arrays


def _header(member, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an ``.npy`` member, its header length checked before it is read (a
    version 2 header may declare itself 4 GiB long)."""
    magic = member.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2, 3):
        raise BadAnswer(f"array {key!r}: not an .npy header")
    width = 2 if magic[6] == 1 else 4
    length_bytes = member.read(width)
    length = int.from_bytes(length_bytes, "little") if len(length_bytes) == width else -1
    if not 0 <= length <= MAX_HEADER_BYTES:
        raise BadAnswer(f"array {key!r}: a header of {length} bytes")
    header = io.BytesIO(magic + length_bytes + member.read(length))
    try:
        version = np.lib.format.read_magic(header)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
    except Exception as exc:  # numpy raises ValueError / TypeError / SyntaxError on bad headers
        raise BadAnswer(f"array {key!r}: bad header") from exc
    if fortran and len(shape) > 1:
        raise BadAnswer(f"array {key!r} is in Fortran order")
    if any(not isinstance(n, int) or n < 0 for n in shape) or len(shape) > 8:
        raise BadAnswer(f"array {key!r} has shape {shape}")
    return tuple(shape), np.dtype(dtype)


def _meta(text: str) -> dict:
    if len(text) > MAX_META_CHARS:
        raise BadAnswer("the meta is too long")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadAnswer("the meta is not JSON") from exc
    if not isinstance(meta, dict):
        raise BadAnswer("the meta is not a JSON object")
    return meta
