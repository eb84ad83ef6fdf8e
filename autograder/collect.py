"""Step 1 of grading: the submissions in a folder or an LMS zip, and whose each one is."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import shutil
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder import messages as M
from autograder.sandbox import BLOCK, remove_tree
from unet_tp.fileio import archive_problem, sha256_file

_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|ment)_(?:file|onlinetext)_?", re.I
)
# Canvas's "Download submissions": ``lastnamefirstname[_late]_<user id>_<attachment id>_<file>``
# (the user id is the gradebook's ID column; a re-submission is another attachment, "<file>-1")
# (Canvas keeps a name's hyphens: ``garcia-lopezmaria_5002_9002_TP.ipynb``)
_CANVAS = re.compile(
    r"^(?P<name>[^\W\d_]+(?:-[^\W\d_]+)*)_(?P<late>late_)?(?P<id>\d+)_(?P<upload>\d+)_.+", re.I
)
_DECORATIONS = re.compile(
    r"copy[\s_]of|copie[\s_]de|\(\d+\)|\bcopy\b|\bcopie\b|tp[_ -]?sujet(?:[_ -]fr(?=[\s_.(-]|$))?"
    r"|solution|\.ipynb$|\.zip$",
    re.I,
)


def _notebook_name(path: Path) -> bool:
    """Whether ``path`` is named as a notebook (``TP.ipynb``, and ``TP.IPYNB`` as Windows may
    write it)."""
    return path.suffix.lower() == ".ipynb"


class GradingError(RuntimeError):
    """The submissions cannot be graded (an unknown student, a bad pattern...)."""


def identify(relpath: str, pattern: str | None = None, by_hand: bool = False) -> tuple[str, str]:
    """``(student_id, name)`` from a submission's relative path: ``pattern``'s groups ``id`` (and
    ``name``), else an LMS prefix ``Name_12345_assignsubmission_file_``, else the first folder,
    else the file name without ``Copy of``, ``(1)``, ``TP_sujet``... (else ``GradingError``).
    ``by_hand``: in a folder laid out by hand (:func:`_by_hand`) only the first part may be an
    LMS name (``alice/Bob_456_assignsubmission_file_/`` is Alice's)."""
    path = PurePosixPath(relpath)
    if pattern:
        m = re.search(pattern, path.as_posix())
        if not m or not m.groupdict().get("id"):
            raise GradingError(f"{relpath}: the pattern {pattern!r} finds no group 'id'")
        if not re.search(r"[^\W_]", m["id"]):
            raise GradingError(
                f"{relpath}: the pattern {pattern!r} reads the id {m['id']!r}, which has no "
                "letter or digit"
            )
        return _slug(m["id"]), (m.groupdict().get("name") or m["id"]).strip()
    m = _lms_match(path, by_hand)
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


def _lms_match(path: PurePosixPath, by_hand: bool = False) -> re.Match | None:
    """Moodle's ``Name_4242_assignsubmission_file_``, outermost first: in a folder the LMS made,
    then the file's name (the LMS's prefix, not a name a student gave a file inside that folder,
    ``Bob_77_assignsubmission_file_x.ipynb`` uploaded by Alice); else Canvas's
    ``name[_late]_4242_67890_`` in the name of a file of the download's flat list (not one inside
    a student's folder), before Moodle's (no Moodle name is Canvas's; the file name a student gave
    after Canvas's prefix, ``alicemartin_5002_9002_TP_5001_assignsubmission_file_.ipynb``, is not
    Moodle's name of 5001); the list may be in a folder no LMS named, outside a folder made by hand
    (two groups' downloads side by side, ``g1/alicemartin_5001_9001_TP.ipynb``). ``by_hand``: the
    first part only."""
    grouped = len(path.parts) == 2 and not by_hand and not _MOODLE.match(path.parts[0])
    canvas = _CANVAS.match(path.name) if len(path.parts) == 1 or grouped else None
    parts = path.parts[:1] if by_hand else path.parts
    return canvas or next((m for part in parts if (m := _MOODLE.match(part))), None)


def lms_of(relpath: str) -> str | None:
    """Which LMS named a file (``"moodle"``, ``"canvas"``), as :func:`lms_id` reads it, or None."""
    m = _lms_match(PurePosixPath(relpath))
    return None if m is None else "canvas" if m.re is _CANVAS else "moodle"


def canvas_late(relpath: str) -> bool:
    """Whether Canvas's name of a file (or of the student's zip it is in) says it was handed in
    after the due date: ``name_late_4242_67890_TP.ipynb`` (``LATE`` too)."""
    path = PurePosixPath(relpath)
    m = _lms_match(path) or (_lms_match(PurePosixPath(path.parts[0])) if path.parts else None)
    return bool(m and m.re is _CANVAS and m["late"])


def lms_id(relpath: str, by_hand: bool = False) -> str | None:
    """The participant id of an LMS zip's file or folder name, or None."""
    m = _lms_match(PurePosixPath(relpath), by_hand)
    return m["id"] if m else None


def _by_hand(folder: Path) -> frozenset[str] | None:
    """None when ``folder`` is the LMS's layout; else it was laid out by hand, and the names of
    its top folders that are the LMS's downloads, looked into. By hand: a folder at its top that
    holds notebooks and that no LMS named (``alice/``), beside others that hold notebooks
    (``bob/``, ``dave.ipynb``, Moodle's ``Bob B_456_assignsubmission_file_/``). There each such
    folder is a student's, whatever its files or folders are named (``alice/Bob
    B_456_assignsubmission_file_/TP.ipynb``, dated 2099, was Bob's newest notebook), but a download
    unpacked in a folder of its own (:func:`_downloads`) is not."""
    tops = [p for p in folder.iterdir() if not _hidden(PurePosixPath(p.name))]
    holding = [
        p
        for p in tops
        if (_notebook_name(p) and p.is_file())
        or (p.is_dir() and any(f.suffix.lower() in _HELD and f.is_file() for f in p.rglob("*")))
    ]
    named = [p for p in holding if p.is_dir() and not _lms_match(PurePosixPath(p.name))]
    if not named or len(holding) < 2:
        return None
    downloads = _downloads(holding, named)
    return None if len(downloads) == len(named) else downloads


def _downloads(holding: list[Path], named: list[Path]) -> frozenset[str]:
    """Of the ``named`` folders, those that are an LMS's download (or a group's): holding only
    names the LMS gave, of participants not named at the top (Moodle's folders unpacked beside a
    folder made for Carol, holding ``Bob B_456_...`` and ``Dan D_790_...``: Carol's), of two
    participants or more (``TP-U-Net-1234/`` beside ``carol/``), or of one when all at the top
    are such folders, a participant named by no other (a group of one, beside other groups)."""
    ids = {p.name: _lms_ids(p) for p in named}
    top = {m["id"] for p in holding if (m := _lms_match(PurePosixPath(p.name)))}
    groups = all(ids.values()) and len(named) == len(holding)
    found = set()
    for name, own in ids.items():
        others = set().union(*(o for n, o in ids.items() if n != name))
        if own and not own & top and (len(own) >= 2 or groups and not own & others):
            found.add(name)
    return frozenset(found)


def _lms_ids(folder: Path) -> set[str]:
    """The participants ``folder`` names when it holds only folders or files the LMS named (a
    download unpacked in a folder of its own), else none."""
    names = [PurePosixPath(p.name) for p in folder.iterdir() if not _hidden(PurePosixPath(p.name))]
    ids = {m["id"] if (m := _lms_match(n)) else None for n in names}
    return set() if None in ids else ids


def _hand(rel: PurePosixPath, hand: frozenset[str] | None) -> bool:
    """Whether ``rel`` is in a folder laid out by hand (``hand``: :func:`_by_hand`), outside the
    LMS's downloads there."""
    return hand is not None and (not rel.parts or rel.parts[0] not in hand)


def _slug(text: str) -> str:
    """``text`` as a name for files and folders: no separator, no ``.``/``..``, no hidden name."""
    text = unicodedata.normalize("NFC", text)  # (macOS's zips: an accent as a mark of its own)
    return re.sub(r"[^\w.@-]+", "_", text.strip()).strip("_.") or "unknown"


@dataclass
class Submission:
    """One student's notebook."""

    student_id: str
    name: str
    path: Path
    relpath: str
    sha256: str
    notes: list[str] = field(default_factory=list)
    lms_id: str | None = None  # the LMS's participant id, of the path that says whose it is
    review: list[str] = field(default_factory=list)  # what the instructor must check
    archive: str | None = None  # the zip beside SOURCE's folders read as the class's, if from one
    as_given: bool = False  # the handout as given, alone: a 0 to chase, not to post
    late: bool = False  # Canvas's file name says it was handed in late


SHOWN_OTHERS = 10  # a student's other files named in the note
MAX_STUDENT_ZIP_BYTES = 1 << 30  # what a student's zip may unpack to (its notebooks)
_UNREADABLE_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError)
_UNREADABLE_ZIP += (NotImplementedError, ValueError)  # an unknown compression, a bad header


_HELD = (".ipynb", ".zip")  # what the class's archive keeps
NAME_MAX = 255  # bytes of one name in a path (Linux, macOS)
MAX_PARTS = 16  # folders and file of a member unpacked as they are
MAX_PATH_BYTES = 2048  # and their path's length (Linux's limit, 4096, counts the folder above)


def _short(part: str) -> str:
    """``part`` as a file name the disk takes: one longer than :data:`NAME_MAX` bytes (an LMS
    counts characters: 130 "é" are 260 bytes) cut after its start, which says whose it is (the
    LMS's prefix), its suffix and a digest of the whole kept (two such names stay two)."""
    raw = part.encode("utf-8", errors="surrogateescape")
    if len(raw) <= NAME_MAX:
        return part
    suffix = PurePosixPath(part).suffix if len(PurePosixPath(part).suffix) <= 16 else ""
    tail = "~" + hashlib.sha256(raw).hexdigest()[:12] + suffix
    head = raw[: NAME_MAX - len(tail.encode())].decode("utf-8", errors="ignore")
    return head + tail


def _charged(limit: int | None, size: int, name: str) -> int | None:
    """What is left of ``limit`` once ``size`` more bytes are unpacked (None: no limit)."""
    if limit is not None and limit - size < 0:
        raise GradingError(f"{name}: unpacks to more than 1 GiB")
    return None if limit is None else limit - size


def _safe_unzip(
    archive: Path, target: Path, name: str, limit: int | None = None, kept=(".ipynb",)
) -> None:
    """The notebooks of ``archive`` (``name`` in messages; the files ending as ``kept`` says)
    into ``target``, ``limit`` bytes at most; a :class:`GradingError` that says why it cannot be
    opened (not a zip, an unsafe or clashing member, past the limit). A student's zip (with a
    ``limit``) nested past :data:`MAX_PARTS` is refused; in the class's archive, such a member
    (folders a student made in the LMS) is unpacked in its two outermost folders, which say whose
    it is (the student's, or the wrapper's and the student's: ``class/alice/d/.../x.ipynb`` was
    ``class/alice~d~...``, a file whose name alone said whose): one student's folders do not stop
    the class's grading, nor does a file and a folder of one name in a folder (``Alice A_123_
    assignsubmission_file_/x.ipynb`` and ``.../x.ipynb/TP.ipynb``): the one unpacked first is
    kept."""
    try:
        with _open_zip(archive) as zf:
            for info in zf.infolist():
                member = PurePosixPath(info.filename)
                parts = [_short(part) for part in member.parts]
                deep = len(parts) > MAX_PARTS or len("/".join(parts).encode()) > MAX_PATH_BYTES
                unsafe = member.is_absolute() or ".." in member.parts
                if unsafe or (deep and limit is not None):
                    raise GradingError(f"{name}: unsafe member {info.filename[:200]!r}")
                if info.is_dir() or member.suffix.lower() not in kept:  # only notebooks are graded
                    continue
                if deep:  # its folders in one name, under its two outermost
                    parts = [*parts[:2], _short("~".join(member.parts[2:]))]
                try:
                    limit = _unpacked(zf, info, target.joinpath(*parts), limit, name)
                except (FileExistsError, NotADirectoryError, IsADirectoryError):
                    if limit is not None or _clash_depth(target, parts) < 2:
                        raise  # a student's zip (their row says so), or the class's top
                    # in a folder of the class's: that student's file and folder of one name
    except GradingError:
        raise
    except _UNREADABLE_ZIP as exc:
        raise GradingError(
            f"{name}: not a readable zip ({type(exc).__name__}): damaged or cut short (a download "
            "interrupted?): download it again"
        ) from exc


def _unpacked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, limit, name: str):
    """``info`` of ``zf`` written to ``dest``, dated as in the zip; what is left of ``limit``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    limit = _charged(limit, BLOCK, name)  # each file takes a block: empty ones too
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            limit = _charged(limit, len(chunk), name)
            out.write(chunk)
    stamp = time.mktime((*info.date_time, 0, 0, -1))
    os.utime(dest, (stamp, stamp))
    return limit


def zip_problem(archive: Path, name: str) -> str | None:
    """Why a readable zip ``archive`` (``name`` in the message) gives no notebook: it is empty,
    or holds none; None when it holds one, or cannot be read."""
    try:
        with _open_zip(archive) as zf:
            names = [PurePosixPath(i.filename) for i in zf.infolist() if not i.is_dir()]
    except _UNREADABLE_ZIP:
        return None
    names = [n for n in names if not _hidden(n)]
    if any(_notebook_name(n) for n in names):
        return None
    return (M.ZIP_WITHOUT_NOTEBOOK if names else M.EMPTY_ZIP).format(file=name)


def _clash_depth(target: Path, parts: list[str]) -> int:
    """How deep the file that blocks the folders of ``parts`` is (or the folder ``parts`` is)."""
    for depth in range(1, len(parts)):
        if target.joinpath(*parts[:depth]).is_file():
            return depth
    return len(parts)


def _opened_at(source: Path, archive: Path, known: frozenset[str] = frozenset()) -> PurePosixPath:
    """Where a zip found in the folder SOURCE is opened: in place (``alice/TP.zip/...``) when its
    path says whose it is (a student's folder, an LMS name), so that a notebook it holds is that
    student's whatever it is named (not ``bob/TP_sujet.ipynb``, made to replace Bob's); at the top
    when it is the class's archive (``moodle.zip``: its files say whose each one is); a zip at
    the top of a hand-made folder is one student's (``bob.zip`` holding ``TP.ipynb``), named by its
    own name, unless its files name the class (:func:`_names_the_class`), not one student
    ``known`` beside it (``carol.zip`` holding ``bob/TP.ipynb`` or Moodle's ``Bob
    B_456_assignsubmission_file_/``, dated 2099, beside Bob's own: Carol's, not Bob's newest)."""
    rel = PurePosixPath(archive.relative_to(source).as_posix())
    if len(rel.parts) > 1 or _lms_match(rel) or not _names_the_class(archive, known):
        return rel
    return PurePosixPath()


def _names_the_class(archive: Path, known: frozenset[str] = frozenset()) -> bool:
    """Whether a zip's files are a class's: in folders (``alice/...``: their names say whose),
    LMS names, or files naming two students or more, not one student of those ``known`` (a copy of
    the class's archive beside its unpacked folders names them all); an unreadable zip is
    read as the class's, whose error stops the run naming it. Else (``TP_sujet.ipynb`` alone) it
    is one student's."""
    names = _zipped(archive)
    if names is None:
        return True
    named = _students_named(names)
    if len(named) == 1 and named <= known:
        return False  # a student's zip, named after a classmate already there
    if any(_lms_match(n) or len(n.parts) > 1 for n in names):
        return True  # folders named by the LMS or the instructor say whose
    return len(named) > 1


def _lone_download(folder: Path, archive: Path) -> bool:
    """Whether ``archive`` is all an unpacked class archive ``folder`` holds, and is an LMS's
    download (Moodle's folders, Canvas's names): a class zip zipped again, read as the class (it
    was one student named after it, graded on one participant's file)."""
    entries = [p for p in folder.iterdir() if not _hidden(PurePosixPath(p.name))]
    names = _zipped(archive)
    return entries == [archive] and bool(names) and all(_lms_match(n) for n in names)


def _open_zip(archive: Path) -> zipfile.ZipFile:
    """``archive`` opened, its members' names without the UTF-8 flag read as UTF-8 where they are
    (zips made by Linux's zip or older Windows and macOS tools: "Étienne" was "├ëtienne", read as
    zipfile reads them, CP437), else as CP437."""
    zf = zipfile.ZipFile(archive)
    for info in zf.infolist():
        if not info.flag_bits & 0x800 and not info.filename.isascii():
            with contextlib.suppress(UnicodeError):
                info.filename = info.filename.encode("cp437").decode("utf-8")
    zf.NameToInfo = {info.filename: info for info in zf.infolist()}
    return zf


def _zipped(archive: Path) -> list[PurePosixPath] | None:
    """The notebooks and zips ``archive`` holds, not hidden ones (None: not a readable zip)."""
    try:
        with _open_zip(archive) as zf:
            names = [PurePosixPath(n) for n in zf.namelist() if n.endswith(_HELD)]
    except _UNREADABLE_ZIP:
        return None
    return [n for n in names if not _hidden(n)]


def _a_copy(folder: Path, archive: Path) -> bool:
    """Whether ``archive``, at the top of ``folder``, holds only notebooks and zips already
    unpacked there (or in a folder named after it), the same bytes: Moodle's zip of one submission
    beside the folder it was unpacked to was read as a student named after the zip."""
    try:
        with _open_zip(archive) as zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(_HELD) and not i.is_dir()]
    except _UNREADABLE_ZIP:
        return False
    infos = [i for i in infos if not _hidden(PurePosixPath(i.filename))]
    if any(i.filename.startswith("/") or ".." in i.filename for i in infos):
        return False  # (a name that would lead out of the folder: not a copy)
    return bool(infos) and any(
        all(_same(base / i.filename, i) for i in infos) for base in (folder, folder / archive.stem)
    )


def _same(path: Path, info: zipfile.ZipInfo) -> bool:
    """Whether ``path`` is a file of the bytes of the zip's member ``info`` (its size and CRC)."""
    with contextlib.suppress(OSError, ValueError):
        if not _file(path) or path.stat().st_size != info.file_size:
            return False
        crc = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
        return crc == info.CRC
    return False


def _known(folder: Path, hand: frozenset[str] | None) -> frozenset[str]:
    """The students whose notebooks or zips are in ``folder``, outside the zips at its top."""
    known = set()
    for path in folder.rglob("*"):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        top_zip = len(rel.parts) == 1 and not _lms_match(rel)
        if path.suffix.lower() in _HELD and not top_zip and not _hidden(rel):
            with contextlib.suppress(GradingError):
                known.add(identify(rel.as_posix(), by_hand=_hand(rel, hand))[0])
    return frozenset(known)


def _students_named(paths) -> set[str]:
    """The students the relative ``paths`` of notebooks name (the blank handout names none)."""
    whose = set()
    for path in paths:
        with contextlib.suppress(GradingError):
            whose.add(identify(path.as_posix())[0])
    return whose


def _file(path: Path) -> bool:
    """Whether ``path`` is a file, not a folder nor a link: a student's zip unpacked by hand
    (``unzip`` makes its links) holding ``x.ipynb`` linking nowhere stopped the whole class's run,
    and one linking to a classmate's notebook or to the instructor's files was read as theirs."""
    return path.is_file() and not path.is_symlink()


def _unread_notes(unread: list, found: dict, workdir: Path) -> dict[str, list[str]]:
    """Each student's notes on files not read; a student with no other file is graded on an
    empty file (0, the note saying why), not left out of the grades without a word."""
    notes: dict[str, list[str]] = {}
    for student_id, name, participant, rel, note in unread:
        if student_id not in found:
            empty = workdir / "not_read" / f"{len(notes)}.ipynb"
            empty.parent.mkdir(parents=True, exist_ok=True)
            empty.write_bytes(b"")
            sub = Submission(student_id, name, empty, rel, sha256_file(empty), [], participant)
            found[student_id] = [sub]
        notes.setdefault(student_id, []).append(note)
    return notes


def _digest(path: Path) -> str | None:
    """``path``'s sha256, or None when it cannot be read (a student's zip unpacked by hand keeps
    its files' modes: one of mode 000 stopped the whole class's run on PermissionError)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def _hidden(rel: PurePosixPath) -> bool:
    """``.ipynb_checkpoints``, macOS resource forks (``__MACOSX/._TP.zip``): no one's file."""
    return any(p.startswith(".") or p == "__MACOSX" for p in rel.parts)


def _whose(
    rel: PurePosixPath, at: PurePosixPath, pattern: str | None, by_hand: bool = False
) -> tuple[str, str]:
    """``identify`` of a file at ``rel`` in SOURCE; in a student's zip opened at ``at``, of the
    zip, named by the LMS or the instructor (``alice/TP.zip``, Canvas's
    ``alicemartin_5002_9002_TP.zip``), not by the names it holds (``Bob_5001_assignsubmission_
    file_/`` in Alice's zip, dated 2099, was Bob's notebook); a ``pattern`` that finds no id in the
    zip's path is matched on the whole path."""
    if not at.parts:
        return identify(rel.as_posix(), pattern, by_hand)
    if pattern:
        m = re.search(pattern, at.as_posix())
        if not m or not m.groupdict().get("id"):
            return identify(rel.as_posix(), pattern, by_hand)
    return identify(at.as_posix(), pattern, by_hand)


def _identified(
    rel: PurePosixPath, at: PurePosixPath, hand: frozenset[str] | None, pattern: str | None
) -> tuple[str, str, str | None]:
    """``(student id, name, the LMS's participant id or None)`` of a file at ``rel`` in SOURCE
    (in a student's zip opened at ``at``: of the zip's path), ``hand`` as :func:`_hand` takes it
    (in a download looked into, the LMS's names)."""
    by_hand = _hand(rel, hand)
    student_id, name = _whose(rel, at, pattern, by_hand)
    return student_id, name, lms_id((at if at.parts else rel).as_posix(), by_hand)


def _inside_wrapper(folder: Path) -> Path:
    """SOURCE or an unpacked class archive ``folder``, or the one folder it holds when that is a
    folder of the class (``class/alice/TP.ipynb`` and ``class/bob/TP.ipynb``, Canvas's list
    unpacked in ``submissions/``: the wrapper's name is no student's, its files name several); a
    folder named by the LMS, or whose files name one student (that student's folder), stays as
    it is. The LMS names in the zips it holds count (``downloads/TP/`` holding Moodle's zip)."""
    entries = [p for p in folder.iterdir() if not _hidden(PurePosixPath(p.name))]
    if len(entries) != 1 or not entries[0].is_dir() or _lms_match(PurePosixPath(entries[0].name)):
        return folder
    inner = entries[0]
    notebooks = filter(_notebook_name, inner.rglob("*"))
    rels = (PurePosixPath(p.relative_to(inner).as_posix()) for p in notebooks)
    whose = _students_named(rel for rel in rels if not _hidden(rel))
    for archive in (
        p for p in inner.glob("*.zip") if _file(p) and not _hidden(PurePosixPath(p.name))
    ):
        whose |= _students_named(n for n in _zipped(archive) or [] if _lms_match(n))
    return inner if len(whose) > 1 else folder


def _lms_folder(notebook: Path) -> PurePosixPath:
    """The folders from the nearest one the LMS named above ``notebook`` (Moodle's ``Alice
    A_123_assignsubmission_file_/``, which says whose it is: instructor round 28, a file of it
    graded alone was named by its own name, ``TP_sujet.ipynb`` refused), else none."""
    above = notebook.absolute().parents
    at = next((i for i, d in enumerate(above) if _MOODLE.match(d.name)), None)
    return PurePosixPath() if at is None else PurePosixPath(*[d.name for d in above[at::-1]])


def _opened(source: Path, workdir: Path) -> tuple[list, list]:
    """The folders to read, ``(folder, where its files are in SOURCE, laid out by hand, the
    archive in SOURCE's folder it was unpacked from or None)``:
    SOURCE, the class's archives and the students' zips, unpacked under ``workdir``; and the
    students' zips that could not be opened, ``(where, file, why, laid out by hand)``."""
    roots: list[tuple[Path, PurePosixPath, frozenset[str] | None, str | None]] = []
    unopened: list[tuple[PurePosixPath, Path, str, frozenset[str] | None]] = []
    unzipped = iter(workdir / "unzipped" / str(i) for i in itertools.count())
    classes = [source]  # the folders, and the class's archives (their students' zips in them)
    origin: dict[Path, str | None] = {source: None}  # an archive beside folders: its name
    if _notebook_name(source) and _file(source):  # one notebook: a folder holding it alone
        classes[0] = next(unzipped)
        copy = classes[0] / _lms_folder(source) / source.name
        copy.parent.mkdir(parents=True)
        shutil.copy2(source, copy)
        origin = {classes[0]: None}
    elif source.is_file() and not zipfile.is_zipfile(source):
        raise GradingError(
            f"{source}: {archive_problem(source) or 'not a folder, a zip archive or a notebook'}"
        )
    while classes:
        folder = classes.pop(0)
        came = origin[folder]
        top = folder == source and source.is_dir()  # (a class's archive there is opened too)
        if folder.is_file():  # the class's archive: whatever stops it stops the run
            folder, archive = next(unzipped), folder
            _safe_unzip(archive, folder, str(archive), kept=(".ipynb", ".zip", *STRAY_SUFFIXES))
            folder.mkdir(parents=True, exist_ok=True)  # (a zip of nothing kept: no notebook)
        folder = _inside_wrapper(folder)
        hand = _by_hand(folder)
        roots.append((folder, PurePosixPath(), hand, came))
        known = _known(folder, hand)
        for archive in sorted(folder.rglob("*.zip")):  # files: a folder named x.zip is none
            if _hidden(PurePosixPath(archive.relative_to(folder).as_posix())) or not _file(archive):
                continue
            if archive.parent == folder and _a_copy(folder, archive):
                continue  # the LMS's zip beside the folder it was unpacked to
            at = _opened_at(folder, archive, known)
            if not at.parts and top:  # another class archive: in SOURCE's folder
                classes.append(archive)
                origin[archive] = archive.relative_to(folder).as_posix()
                continue
            if not at.parts and _lone_download(folder, archive):  # a class zip in a zip: the class
                classes.append(archive)
                origin[archive] = came
                continue
            if not at.parts:  # one in a class's archive: its sender's, named by its name
                at = PurePosixPath(archive.relative_to(folder).as_posix())
            root = next(unzipped)  # a student's: it costs that student alone
            try:
                _safe_unzip(archive, root, at.as_posix(), MAX_STUDENT_ZIP_BYTES)
                if problem := zip_problem(archive, at.as_posix()):  # no notebook: their row says
                    raise GradingError(problem)
            except GradingError as exc:
                remove_tree(root)
                unopened.append((at, archive, str(exc), hand))
                continue
            roots.append((root, at, hand, came))
    return roots, unopened


# a zip's dates go to 2 s: files this close were handed in at once, for all they say
TIE_SECONDS = 2


def _upload(s: Submission) -> int:
    """Canvas's attachment id of a file (a later upload has a higher one), or -1."""
    m = _CANVAS.match(PurePosixPath(s.relpath).name)
    return int(m["upload"]) if m else -1


# Colab's, a browser's later download of a name: "TP (2).ipynb"
_DOWNLOADED_AGAIN = re.compile(r" \((\d+)\)(?=\.ipynb$)", re.I)


def _download(s: Submission) -> tuple[str, int]:
    """``s``'s path without a browser's ``(N)`` before ``.ipynb``, and N (0 without one)."""
    m = _DOWNLOADED_AGAIN.search(s.relpath)
    return (s.relpath, 0) if m is None else (_DOWNLOADED_AGAIN.sub("", s.relpath), int(m[1]))


def _in_handed_order(items: list[Submission]) -> list[Submission]:
    """Sort a student's files so that the last is the one to grade: the newest, and among the
    files within :data:`TIE_SECONDS` of it, Canvas's last upload (``bob_5003_9004_TP-1.ipynb``
    after ``bob_late_5003_9003_TP.ipynb`` of the same zip date), then a browser's later download
    of one name (``TP (2).ipynb`` after ``TP (1).ipynb`` and ``TP.ipynb``: instructor round 26,
    the older, broken one was graded). Returns the files of that group that nothing tells from
    the one graded (the instructor checks which is the last)."""
    dated = {id(s): s.path.stat().st_mtime for s in items}
    items.sort(key=lambda s: (dated[id(s)], s.relpath))
    newest = dated[id(items[-1])]
    recent = [s for s in items if dated[id(s)] >= newest - TIE_SECONDS]
    upload = {id(s): (_upload(s), _download(s)[1]) for s in recent}
    recent.sort(key=lambda s: (upload[id(s)], dated[id(s)], s.relpath))
    items[len(items) - len(recent) :] = recent
    last, name = upload[id(recent[-1])][0], _download(recent[-1])[0]
    return [s for s in recent[:-1] if upload[id(s)][0] == last and _download(s)[0] != name]


def _other_sources(items: list[Submission]) -> list[str]:
    """A review line when a student's notebooks come from a zip read as the class's archive and
    from elsewhere (their folder, another archive): Carol's ``carol.zip`` holding ``bob.ipynb``,
    dated 2099, and her own ``carol.ipynb`` names two students, so it is read as the class's, and
    Bob was graded on her file, beside his own ``bob/``."""
    sources = {s.archive for s in items}
    zips = sorted(z for z in sources if z)
    if len(sources) < 2 or not zips:
        return []
    chosen = items[-1]
    where = f"{chosen.relpath} in {chosen.archive}" if chosen.archive else chosen.relpath
    return [M.OTHER_SOURCES.format(chosen=where, zips=", ".join(zips))]


def _unnamed_top(s: Submission) -> str | None:
    """The folder at the top of ``s``'s path when no LMS named it (``alice/``), else None."""
    parts = PurePosixPath(s.relpath).parts
    return parts[0] if len(parts) > 1 and not _lms_match(PurePosixPath(parts[0])) else None


def _participants(items: list[Submission]) -> list[str]:
    """A review line when a student's files come from two LMS participants' submissions or more:
    ``--pattern`` reading a student number in a file's name, Alice's ``Alice A_123_assignsubmission_
    file_/TP_21000002.ipynb`` named with Bob's, newer than Bob's own, was graded as Bob's (and its
    participant id put Bob's grade on Alice's row of the LMS, Bob's left with no submission)."""
    ids = sorted({s.lms_id for s in items if s.lms_id})
    if len(ids) < 2:
        return []
    return [M.PARTICIPANTS.format(ids=", ".join(ids), chosen=items[-1].relpath)]


def _folders(items: list[Submission]) -> list[str]:
    """A review line when a participant's LMS name is read in two places or more, one a folder no
    LMS named: Canvas's download in ``canvas/`` beside ``alice/``, where Alice's late e-mail held
    ``bobdupont_5002_9002_TP.ipynb`` and ``caroldubois_5003_...`` (two names: a download, not a lone
    folder), newer than theirs, was Bob's and Carol's graded notebook."""
    places = {}
    for s in items:
        top = _unnamed_top(s)
        places[(s.archive, top)] = f"{s.archive + ': ' if s.archive else ''}{top or '.'}/"
    chosen = items[-1]
    if not chosen.lms_id or len(places) < 2 or not any(top for _, top in places):
        return []
    shown = ", ".join(sorted(places.values()))
    return [M.LMS_NAME_IN_FOLDERS.format(id=chosen.lms_id, folders=shown, chosen=chosen.relpath)]


def _lone_folders(found: dict[str, list[Submission]]) -> dict[str, str]:
    """The participants whose LMS name is the only one in a folder no LMS named, and that folder:
    ``late/alice/bobdupont_5002_9002_TP.ipynb`` (a name Alice can give her file) is read as Canvas's
    5002, as a download unpacked in a folder of its own is; the instructor checks whose it is."""
    tops: dict[tuple, set[str]] = {}
    for s in itertools.chain.from_iterable(found.values()):
        if s.lms_id and (top := _unnamed_top(s)):
            tops.setdefault((s.archive, top), set()).add(s.lms_id)
    return {min(ids): top for (_, top), ids in tops.items() if len(ids) == 1}


def _lone_review(chosen: Submission, lone: dict[str, str]) -> list[str]:
    """A review line when ``chosen``'s LMS id is read in a folder of its own (:func:`_lone_folders`)."""
    top = lone.get(chosen.lms_id or "")
    if top is None or PurePosixPath(chosen.relpath).parts[0] != top:
        return []
    return [M.LONE_LMS_NAME.format(file=chosen.relpath, id=chosen.lms_id, folder=top)]


def _folders_apart(found: dict[str, list[Submission]]) -> dict[str, list[Submission]]:
    """Students whose id is one only because their folders' names differ by punctuation
    (``Marie Dupont/``, ``Marie_Dupont/``) read apart: the folder named as its id keeps it, the
    others get it with a short digest of their name; each says so for review."""
    out: dict[str, list[Submission]] = {}
    for student_id, items in found.items():
        tops = {PurePosixPath(s.relpath).parts[0] for s in items}
        in_folders = all(len(PurePosixPath(s.relpath).parts) > 1 for s in items)
        if len(tops) < 2 or not in_folders or any(s.lms_id for s in items):
            out[student_id] = items
            continue
        ids = {}
        for top in sorted(tops):
            digest = hashlib.sha256(top.encode()).hexdigest()[:6]
            ids[top] = student_id if top == student_id else f"{student_id}-{digest}"
        review = M.FOLDERS_APART.format(
            folders=", ".join(f"{t}/" for t in sorted(tops)),
            id=student_id,
            count=len(tops),
            ids=", ".join(ids[t] for t in sorted(tops)),
        )
        for s in items:
            top = PurePosixPath(s.relpath).parts[0]
            s.student_id, s.name = ids[top], top
            if review not in s.review:
                s.review.append(review)
            out.setdefault(ids[top], []).append(s)
    return out


# a notebook handed in another form (Colab's other downloads, a print): its student's only file
STRAY_SUFFIXES = (".pdf", ".py", ".html", ".txt", ".json", ".docx", ".odt")


def _add_stray_files(found: dict[str, list[Submission]], roots: list, pattern: str | None) -> None:
    """A student who handed in no notebook but a file of :data:`STRAY_SUFFIXES` (in a folder of theirs,
    or named by the LMS): that file, which grades as not a notebook (0, with why)."""
    strays: dict[str, Submission] = {}
    for root, at, hand, archive in roots:
        for path in sorted(root.rglob("*")):
            rel = at / path.relative_to(root)
            if path.suffix.lower() not in STRAY_SUFFIXES or _hidden(rel) or not _file(path):
                continue
            if len(rel.parts) < 2 and lms_id(rel.as_posix()) is None:
                continue  # a file at the top: the instructor's (a roster, a README)
            try:
                student_id, name, participant = _identified(rel, at, hand, pattern)
            except GradingError:
                continue
            if student_id in found or student_id in strays:
                continue
            digest = _digest(path)
            if digest is not None:
                strays[student_id] = Submission(
                    student_id, name, path, rel.as_posix(), digest, [], participant, [], archive
                )
    found.update({k: [v] for k, v in strays.items()})


def collect(
    source: Path,
    workdir: Path,
    pattern: str | None = None,
    as_given: Callable[[Path], bool] = lambda path: False,
) -> list[Submission]:
    """The submissions in a folder or a zip (zips inside the folder are opened too);
    ``as_given``: whether a file is the handout as given (a student's other file graded)."""
    source = Path(source)
    if not source.exists():
        raise GradingError(f"{source}: no such file or folder")
    try:
        re.compile(pattern or "")
    except re.error as exc:
        raise GradingError(f"--pattern {pattern!r}: not a regular expression ({exc})") from None
    roots, unopened = _opened(source, workdir)
    found: dict[str, list[Submission]] = {}
    unread: list[tuple[str, str, str | None, str, str]] = []  # (student, name, LMS id, file, note)
    for root, at, hand, archive in roots:
        for path in sorted(filter(_notebook_name, root.rglob("*"))):
            rel = at / path.relative_to(root)
            if _hidden(rel) or path.is_dir():  # a folder named x.ipynb: its notebooks are read
                continue
            student_id, name, participant = _identified(rel, at, hand, pattern)
            digest = _digest(path) if _file(path) else None  # by blocks: a file of any size
            if digest is None:  # a link (a zip unpacked by hand), an unreadable file: not read
                why = M.LINK_NOT_READ if path.is_symlink() else M.FILE_NOT_READ
                unread.append((student_id, name, participant, rel.as_posix(), why.format(file=rel)))
                continue
            found.setdefault(student_id, []).append(
                Submission(
                    student_id, name, path, rel.as_posix(), digest, [], participant, [], archive
                )
            )
    _add_stray_files(found, roots, pattern)
    zip_notes = _unread_notes(unread, found, workdir)
    for at, archive, why, hand in unopened:  # its owner's note; their only file: as it is
        student_id, name, participant = _identified(at, at, hand, pattern)
        if student_id not in found and (digest := _digest(archive)) is not None:
            sub = Submission(student_id, name, archive, at.as_posix(), digest, [], participant)
            found[student_id] = [sub]
            if zip_problem(archive, at.name):
                continue  # (its grading says why once: an empty zip, one holding no notebook)
        zip_notes.setdefault(student_id, []).append(M.ZIP_NOT_OPENED.format(why=why))
    found = _folders_apart(found)
    lone = _lone_folders(found)
    return [
        _chosen(items, zip_notes.get(i, []), lone, as_given) for i, items in sorted(found.items())
    ]


def _chosen(
    items: list[Submission], zip_notes: list[str], lone: dict[str, str], as_given: Callable
) -> Submission:
    """The one of a student's files graded (the newest; a file of the handout as given, beside
    one they wrote in, never: instructor round 23, the handout graded and its 0 posted), with
    what the others and the zips it came from say (``zip_notes``) in its notes and review."""
    handouts = [s for s in items if as_given(s.path)] if 1 < len(items) <= SHOWN_OTHERS else []
    handouts = handouts if len(handouts) < len(items) else []
    worked = [s for s in items if all(s is not h for h in handouts)]
    tied = _in_handed_order(worked)
    items[:] = handouts + worked
    chosen = items[-1]
    if handouts:
        given = ", ".join(s.relpath for s in handouts)
        chosen.notes.append(M.HANDOUT_NOT_GRADED.format(handouts=given, chosen=chosen.relpath))
    elif len(items) == 1 and as_given(chosen.path):  # (instructor round 24: its 0 posted)
        chosen.as_given = True
        chosen.review.append(M.NOTHING_TO_GRADE.format(why=M.HANDOUT_ONLY))
    chosen.notes += zip_notes  # on the notebook graded
    chosen.late = canvas_late(chosen.relpath)
    chosen.review += _other_sources(items) + _lone_review(chosen, lone) + _participants(items)
    chosen.review += _folders(items)
    if len(worked) > 1:
        others = ", ".join(s.relpath for s in worked[-1 - SHOWN_OTHERS : -1])
        if len(worked) - 1 > SHOWN_OTHERS:  # a zip of thousands: the note stays a line
            others += f", … (+{len(worked) - 1 - SHOWN_OTHERS})"
        files = M.FILES_SAME_DATE if tied else M.FILES
        chosen.notes.append(files.format(count=len(worked), chosen=chosen.relpath, others=others))
    if tied:
        shown = ", ".join(s.relpath for s in tied[-SHOWN_OTHERS:])
        shown += f", … (+{len(tied) - SHOWN_OTHERS})" if len(tied) > SHOWN_OTHERS else ""
        chosen.review.append(M.SAME_DATE.format(chosen=chosen.relpath, others=shown))
    return chosen
