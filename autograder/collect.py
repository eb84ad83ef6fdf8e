"""Step 1 of grading: the submissions in a folder or an LMS zip, and whose each one is."""

from __future__ import annotations

import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder import messages as M
from autograder.sandbox import remove_tree
from unet_tp.fileio import sha256_file

_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|ment)_(?:file|onlinetext)_?", re.I
)
# Canvas's "Download submissions": ``lastnamefirstname[_late]_<user id>_<attachment id>_<file>``
# (the user id is the gradebook's ID column; a re-submission is another attachment, "<file>-1")
_CANVAS = re.compile(r"^(?P<name>[^\W\d_]+)_(?:late_)?(?P<id>\d+)_\d+_.+", re.I)
_DECORATIONS = re.compile(
    r"copy[\s_]of|copie[\s_]de|\(\d+\)|\bcopy\b|\bcopie\b|tp[_ -]?sujet|solution|\.ipynb$", re.I
)


class GradingError(RuntimeError):
    """The submissions cannot be graded (an unknown student, a bad pattern...)."""


def identify(relpath: str, pattern: str | None = None) -> tuple[str, str]:
    """``(student_id, name)`` from a submission's relative path: ``pattern``'s groups ``id`` (and
    ``name``), else an LMS prefix ``Name_12345_assignsubmission_file_``, else the first folder,
    else the file name without ``Copy of``, ``(1)``, ``TP_sujet``... (else ``GradingError``)."""
    path = PurePosixPath(relpath)
    if pattern:
        m = re.search(pattern, path.as_posix())
        if not m or not m.groupdict().get("id"):
            raise GradingError(f"{relpath}: the pattern {pattern!r} finds no group 'id'")
        return _slug(m["id"]), (m.groupdict().get("name") or m["id"]).strip()
    m = _lms_match(path)
    if m:
        return m["id"], m["name"].strip()
    if len(path.parts) > 1:
        return _slug(path.parts[0]), path.parts[0]
    rest = _DECORATIONS.sub(" ", path.name)
    rest = re.sub(r"[\s_.\-]+", " ", rest).strip()
    if not rest:
        raise GradingError(
            f"{relpath}: the file name does not say whose notebook it is; put each student's "
            "file in a folder named after them, or pass --pattern"
        )
    return _slug(rest), rest


def _lms_match(path: PurePosixPath) -> re.Match | None:
    """Moodle's ``Name_4242_assignsubmission_file_``, outermost first: in a folder the LMS made,
    then the file's name (the LMS's prefix, not a name a student gave a file inside that folder,
    ``Bob_77_assignsubmission_file_x.ipynb`` uploaded by Alice); else Canvas's
    ``name[_late]_4242_67890_`` in the outermost name, one of the download's flat list (a file, or
    a zip opened in place: not a name inside a student's folder or zip)."""
    moodle = next((m for part in path.parts if (m := _MOODLE.match(part))), None)
    return moodle or (_CANVAS.match(path.parts[0]) if path.parts else None)


def lms_id(relpath: str) -> str | None:
    """The participant id of an LMS zip's file or folder name, or None."""
    m = _lms_match(PurePosixPath(relpath))
    return m["id"] if m else None


def _slug(text: str) -> str:
    return re.sub(r"[^\w.@-]+", "_", text.strip()).strip("_") or "unknown"


@dataclass
class Submission:
    """One student's notebook."""

    student_id: str
    name: str
    path: Path
    relpath: str
    sha256: str
    notes: list[str] = field(default_factory=list)


MAX_STUDENT_ZIP_BYTES = 1 << 30  # what a student's zip may unpack to (its notebooks)
_UNREADABLE_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError)
_UNREADABLE_ZIP += (NotImplementedError, ValueError)  # an unknown compression, a bad header


def _safe_unzip(
    archive: Path, target: Path, name: str, limit: int | None = None, keep=(".ipynb",)
) -> None:
    """The notebooks of ``archive`` (``name`` in messages; ``keep``: the suffixes unpacked) into
    ``target``, ``limit`` bytes at most; a :class:`GradingError` that says why it cannot be
    opened (not a zip, an unsafe or clashing member, past the limit)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                member = PurePosixPath(info.filename)
                if member.is_absolute() or ".." in member.parts or len(member.parts) > 16:
                    raise GradingError(f"{name}: unsafe member {info.filename[:200]!r}")
                if info.is_dir() or member.suffix.lower() not in keep:  # notebooks are graded
                    continue
                dest = target / member
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        if limit is not None:
                            limit -= len(chunk)
                            if limit < 0:
                                raise GradingError(f"{name}: unpacks to more than 1 GiB")
                        out.write(chunk)
                stamp = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(dest, (stamp, stamp))
    except GradingError:
        raise
    except _UNREADABLE_ZIP as exc:
        raise GradingError(f"{name}: not a readable zip ({type(exc).__name__})") from exc


def _opened_at(rel: PurePosixPath, in_archive: bool) -> PurePosixPath:
    """Where a zip found at ``rel`` is opened: in place (``alice/TP.zip/...``) when its path says
    whose it is (a student's folder, an LMS name) or it came out of the class's archive, so that
    a notebook it holds is that student's whatever it is named (not ``bob/TP_sujet.ipynb``, made
    to replace Bob's); at the top when it is the class's archive (``moodle.zip`` in the folder:
    its files say whose each one is)."""
    return rel if in_archive or len(rel.parts) > 1 or _lms_match(rel) else PurePosixPath()


def _hidden(rel: PurePosixPath) -> bool:
    """``.ipynb_checkpoints``, macOS resource forks (``__MACOSX/._TP.zip``): no one's file."""
    return any(p.startswith(".") or p == "__MACOSX" for p in rel.parts)


def collect(source: Path, workdir: Path, pattern: str | None = None) -> list[Submission]:
    """The submissions in a folder or a zip (zips inside the folder are opened too)."""
    source = Path(source)
    if not source.exists():
        raise GradingError(f"{source}: no such file or folder")
    roots: list[tuple[Path, PurePosixPath]] = []  # (folder, where its files are in SOURCE)
    zips: list[tuple[Path, PurePosixPath, bool]] = []  # (a zip, where, from the class's archive)

    def class_archive(archive: Path, root: Path) -> None:  # whatever stops it stops the run
        _safe_unzip(archive, root, str(archive), keep=(".ipynb", ".zip"))  # students' zips too
        roots.append((root, PurePosixPath()))
        zips.extend(
            (z, PurePosixPath(z.relative_to(root).as_posix()), True)
            for z in sorted(root.rglob("*.zip"))
            if z.is_file()
        )

    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise GradingError(f"{source}: not a folder or a zip archive")
        class_archive(source, workdir / "unzipped" / source.stem)
    unopened: list[tuple[PurePosixPath, Path, str]] = []  # a student's zip: (where, file, why)
    if source.is_dir():
        roots.append((source, PurePosixPath()))
        zips += [
            (z, PurePosixPath(z.relative_to(source).as_posix()), False)
            for z in sorted(source.rglob("*.zip"))
            if z.is_file()
        ]
    for i, (archive, rel, in_archive) in enumerate(zips):  # grows with class archives' zips
        if _hidden(rel):
            continue
        root, at = workdir / "opened" / f"{i}-{archive.stem}", _opened_at(rel, in_archive)
        if not at.parts:
            class_archive(archive, root)
            continue
        try:  # a student's: it costs that student alone
            _safe_unzip(archive, root, at.as_posix(), MAX_STUDENT_ZIP_BYTES)
        except GradingError as exc:
            remove_tree(root)
            unopened.append((at, archive, str(exc)))
            continue
        roots.append((root, at))
    found: dict[str, list[Submission]] = {}
    for root, at in roots:
        for path in sorted(root.rglob("*.ipynb")):
            rel = at / path.relative_to(root)
            if _hidden(rel):
                continue
            student_id, name = identify(rel.as_posix(), pattern)
            digest = sha256_file(path)  # by blocks: a file of any size
            found.setdefault(student_id, []).append(
                Submission(student_id, name, path, rel.as_posix(), digest)
            )
    zip_notes: dict[str, list[str]] = {}
    for at, archive, why in unopened:  # its owner's note; their only file: graded as it is
        student_id, name = identify((at / "TP_sujet.ipynb").as_posix(), pattern)
        if student_id not in found:
            digest = sha256_file(archive)
            found[student_id] = [Submission(student_id, name, archive, at.as_posix(), digest)]
        zip_notes.setdefault(student_id, []).append(M.ZIP_NOT_OPENED.format(why=why))
    subs = []
    for student_id, items in sorted(found.items()):
        items.sort(key=lambda s: (s.path.stat().st_mtime, s.relpath))
        chosen = items[-1]
        chosen.notes += zip_notes.get(student_id, [])  # on the notebook graded
        if len(items) > 1:
            others = ", ".join(s.relpath for s in items[:-1])
            chosen.notes.append(
                M.FILES.format(count=len(items), chosen=chosen.relpath, others=others)
            )
        subs.append(chosen)
    return subs
