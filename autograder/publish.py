"""``unet-tp notebook publish DIR``: the public repository students install from and open in Colab.

This checkout (solutions, solution notebook, grader) stays private; ``DIR`` gets exactly what
students need: ``README.md`` (the Colab badges), ``notebooks/TP_sujet.ipynb`` and its French
edition ``notebooks/TP_sujet_fr.ipynb``, ``unet_tp/``, its
packaging (``pyproject.toml``, ``setup.py``: a wheel of ``unet_tp`` only) and the marker
``.unet-tp-student``. The tree is checked first (no path of ``solutions/`` or ``autograder/``, no
line a student must write), then replaces ``DIR`` whole except what :func:`kept` names (its
``.git``, ``.github/``, ``.gitignore``, ``LICENSE``); a folder of other files is refused unless
``force``, a folder holding this checkout, the current folder or the home folder always.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from autograder.build import (
    REPO_ROOT,
    STUDENT_NOTEBOOKS,
    BuildError,
    build,
    solution_regions,
)
from unet_tp.fileio import sha256_file, temp_dir_beside

MARKER = ".unet-tp-student"
PLACEHOLDER = "unet-tp/unet-tp"  # unet_tp/sources.py's REPOSITORY until a build names one
README = Path(__file__).with_name("student_README.md")


def kept(name: str) -> bool:
    """What a publish leaves in place in ``DIR``: the clone (``.git``) and what the public
    repository may have added itself (``.github/``, ``.gitignore``, ``LICENSE``...)."""
    return name.startswith(".git") or name.upper().startswith(("LICENSE", "LICENCE"))


class PublishError(RuntimeError):
    """The student repository cannot be written (says why and what to do)."""


@dataclass
class PublishReport:
    """What ``publish`` wrote."""

    out: Path
    files: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        from unet_tp import sources

        kept = f" (kept {', '.join(self.kept)})" if self.kept else ""
        text = (
            f"student repository {self.out}: {len(self.files)} files{kept}; push it as the "
            f"public repository {sources.REPOSITORY} at {sources.REF} (this checkout stays private)"
        )
        if sources.REPOSITORY == PLACEHOLDER:
            text += (
                f"\nnote: {PLACEHOLDER} is the kit's placeholder: run `unet-tp notebook build "
                "--repository OWNER/NAME --ref TAG` first, so that the notebook installs from your "
                "repository, then publish again"
            )
        return text


def student_readme(repository: str, ref: str) -> str:
    """The README of the student repository (``student_README.md``, filled in)."""
    from unet_tp.sources import colab_url, student_package

    return README.read_text(encoding="utf-8").format(
        badge=colab_url(repository, ref),
        badge_fr=colab_url(repository, ref, STUDENT_NOTEBOOKS["fr"].name),
        repository=repository,
        name=repository.split("/")[1],
        ref=ref,
        package=student_package(repository, ref),
    )


# pyproject.toml tables that concern the instructor's checkout only (extras, commands, tools)
_INSTRUCTOR_TABLES = re.compile(
    r'^\[(project\.optional-dependencies|project\.entry-points\."unet_tp\.commands"|tool\..*)\]$'
)


def student_pyproject(text: str) -> str:
    """``pyproject.toml`` for the student repository: the package's own tables, without the
    instructor's extras, entry points and tool settings (with the comments just above them)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = bool(_INSTRUCTOR_TABLES.match(line.strip()))
            if skipping:
                while out and (out[-1].startswith("#") or not out[-1].strip()):
                    out.pop()
                out.append("")
        if not skipping:
            out.append(line)
    return "\n".join(out).strip() + "\n"


def leaks(tree: Path) -> list[str]:
    """What of the instructor side a tree holds: paths named after it, lines of the solutions."""
    lines = solution_lines()
    # each line's code without its comment and whitespace: found reformatted (instructor round
    # 24), three of them in one file (not the hints' idioms)
    codes = {c: _bare(c) for line in lines if len(c := line.split("  #")[0].strip()) > 20}
    found = []
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree).as_posix()
        if kept(rel.split("/")[0]) or not path.is_file():
            continue
        if re.search(r"(^|/)(solutions?|autograder)(/|$)", rel):
            found.append(f"{rel}: instructor file")
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".ipynb":  # the cells' text, not its JSON escapes
            text += "\n".join(_cell_sources(text))
        whole = [line for line in lines if line in text]
        if whole:
            found.append(f"{rel}: a solution line ({whole[0]!r})")
            continue
        bare = _bare(text)
        hits = sorted(c for c, bare_code in codes.items() if bare_code in bare)
        found += [f"{rel}: solution lines ({hits[0]!r}...)"] if len(hits) >= 3 else []
    return found


def _bare(code: str) -> str:
    """``code`` without its whitespace: a line found however it was reformatted."""
    return "".join(code.split())


def solution_lines() -> list[str]:
    """The code lines students must write (between BEGIN/END SOLUTION), long enough to tell."""
    lines = []
    for region in solution_regions().values():
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", region, re.S):
            lines += [
                line.strip()
                for line in block.splitlines()
                if len(line.strip()) > 20 and not line.strip().startswith("#")
            ]
    return lines


def _cell_sources(text: str) -> list[str]:
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    return ["".join(c.get("source", "")) for c in cells if isinstance(c, dict)]


def _package_files(root: Path) -> list[Path]:
    """The files of ``unet_tp/`` under version control (scratch files stay out), or all of them
    outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", "unet_tp"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in (root / "unet_tp").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return [root / name for name in listed.decode().split("\0") if name]


def _write_tree(tree: Path, root: Path) -> None:
    from unet_tp import sources

    for path in _package_files(root):
        if path.exists():  # deleted in the working tree, not yet committed
            target = tree / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    (tree / "notebooks").mkdir()
    for notebook in STUDENT_NOTEBOOKS.values():  # the French one's badge opens it from here
        shutil.copy2(notebook, tree / "notebooks" / notebook.name)
    shutil.copy2(root / "setup.py", tree / "setup.py")
    (tree / "pyproject.toml").write_text(student_pyproject((root / "pyproject.toml").read_text()))
    (tree / "README.md").write_text(student_readme(sources.REPOSITORY, sources.REF))
    written = {
        p.relative_to(tree).as_posix(): sha256_file(p) for p in tree.rglob("*") if p.is_file()
    }
    marker = {"written by": f"unet-tp notebook publish, for {sources.REPOSITORY}@{sources.REF}"}
    (tree / MARKER).write_text(json.dumps(marker | {"files": written}, indent=1) + "\n")


_BUILT = {"build", "dist", "__pycache__"}  # what `pip wheel` there leaves: no one's work


def _not_written(out: Path) -> list[str]:
    """The files of ``out`` (a publish's) that the last publish did not write, or that were
    edited since (instructor round 23: a publish deleted an instructor's slides and notes
    without a word), by the list of its marker (none in a marker of an older kit)."""
    try:
        written = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        top = rel.parts[0]  # (pip wheel's, at the top; an instructor's docs/build/ is theirs)
        built = top in _BUILT or "__pycache__" in rel.parts or top.endswith(".egg-info")
        if kept(rel.parts[0]) or rel.as_posix() == MARKER or built or not path.is_file():
            continue
        if written.get(rel.as_posix()) != sha256_file(path):
            found.append(rel.as_posix() + (" (edited)" if rel.as_posix() in written else ""))
    return found


def publish(
    out: str | os.PathLike[str], force: bool = False, root: Path = REPO_ROOT
) -> PublishReport:
    """Write the student repository into ``out`` (see the module's docstring).

    Raises:
        PublishError: the notebooks are out of date (run ``notebook build``), ``out`` is a
            folder of something else (``force`` replaces it), or the tree would leak.
    """
    out = Path(out).expanduser().resolve()
    if root.resolve() == out or root.resolve() in out.parents:
        raise PublishError(f"{out}: inside this checkout; choose a folder outside it")
    for what, where in (
        ("this checkout", root),
        ("the current folder", Path.cwd()),
        ("your home", Path.home()),
    ):
        where = where.resolve()
        if out == where or out in where.parents:
            raise PublishError(f"{out} holds {what}: publish replaces DIR, choose another folder")
    try:
        stale = build(check=True).changed
    except BuildError as exc:
        raise PublishError(str(exc)) from None
    if stale:
        raise PublishError(
            f"the notebooks are out of date ({', '.join(stale)}): run `unet-tp notebook build` "
            "(with --repository OWNER/NAME --ref TAG to name the public repository) first"
        )
    if out.exists() and not out.is_dir():  # (it named publish's temporary folder beside it)
        raise PublishError(f"{out}: a file, not a folder; choose a folder for the repository")
    foreign = out.is_dir() and any(not kept(p.name) for p in out.iterdir())
    if foreign and not (out / MARKER).exists() and not force:
        raise PublishError(
            f"{out} holds files that `unet-tp notebook publish` did not write: choose an empty "
            "folder or a clone of the public repository, or pass --force to replace its "
            "contents (its .git, .github, .gitignore and LICENSE are kept)"
        )
    mine = [] if force or not (out / MARKER).exists() else _not_written(out)
    if mine:
        shown = ", ".join(mine[:5]) + (f", … (+{len(mine) - 5})" if len(mine) > 5 else "")
        raise PublishError(
            f"{out}: {len(mine)} files the last publish did not write, or edited since ({shown}): "
            "publish replaces them; move them out (the README students see is written from "
            "autograder/student_README.md), or pass --force to replace them"
        )
    tree = temp_dir_beside(out)
    try:
        _write_tree(tree, root)
        found = leaks(tree)
        if found:
            raise PublishError("the student repository would hold: " + "; ".join(found[:5]))
        report = PublishReport(
            out, sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
        )
        _replace(out, tree, report)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    return report


def _replace(out: Path, tree: Path, report: PublishReport) -> None:
    """Put ``tree`` in place of ``out``, moving over what ``out`` keeps (its ``.git``)."""
    if not out.exists():
        os.replace(tree, out)
        return
    old = temp_dir_beside(out)
    old.rmdir()
    os.replace(out, old)  # from here until the end, `out` is at `old`: put back on failure
    try:
        for entry in sorted(old.iterdir()):
            if kept(entry.name) and not (tree / entry.name).exists():
                os.replace(entry, tree / entry.name)
                report.kept.append(entry.name)
        os.replace(tree, out)
    except BaseException:
        for name in report.kept:
            if (tree / name).exists():
                os.replace(tree / name, old / name)
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
