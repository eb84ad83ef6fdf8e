"""``unet-tp notebook build``: the source notebook's solution cells from ``solutions/`` (each
region ``# --- notebook cell: ID ---`` ... ``# --- end of notebook cell ---`` into the cell whose
``grade_id`` is ID; checked against ``assignment.toml``), then nbgrader's ``generate_assignment``
(the student notebooks, English and French -> ``notebooks/``) and ``generate_solution`` (->
``autograder/solution/TP_sujet/``). ``check=True`` writes nothing and reports what differs.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import REPO_ROOT
from autograder.cells import clear_outputs, grade_id, nbgrader_meta
from autograder.i18n import STUBS, load_catalog, notebook_language, translate_notebook
from autograder.spec import SPEC_FILE, notebook_problems
from unet_tp.fileio import atomic_write

ASSIGNMENT = "TP_sujet"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_DIR = Path(__file__).resolve().parent
SOURCE_NOTEBOOK = COURSE_DIR / "source" / ASSIGNMENT / NOTEBOOK
STUDENT_NOTEBOOK = REPO_ROOT / "notebooks" / NOTEBOOK
STUDENT_NOTEBOOKS = {
    "en": STUDENT_NOTEBOOK,
    "fr": REPO_ROOT / "notebooks" / f"{ASSIGNMENT}_fr.ipynb",
}
_BADGE_TEXT = {
    "en": "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})",
    "fr": "[![Ouvrir dans Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
    "  \nSans le badge : dans Colab, *Fichier > Importer le notebook*, onglet *GitHub* (le dépôt "
    "`{repository}`), ou *Importer* avec le fichier `{name}`.",
}
SOLUTION_NOTEBOOK = COURSE_DIR / "solution" / ASSIGNMENT / NOTEBOOK

_REGION = re.compile(
    r"^# --- notebook cell: (?P<id>[\w-]+) ---\n(?P<body>.*?)^# --- end of notebook cell ---",
    re.M | re.S,
)


def set_badge(nb, language: str, repository: str, ref: str, name: str) -> None:
    """The notebook's first cell: its "Open in Colab" badge (and, in French, how to import it)."""
    from unet_tp import sources

    cell = next(c for c in nb.cells if grade_id(c) == "badge")
    url = sources.colab_url(repository, ref, name)
    cell.source = _BADGE_TEXT[language].format(url=url, repository=repository, name=name)


def set_line(text: str, name: str, value: str | None, where: str) -> str:
    """``text`` with its line ``NAME = "..."`` (or ``None``) set to ``value``, the rest of the
    line (a comment) kept."""
    line = re.compile(rf'^{name} = (None|"[^"\n]*")', re.M)
    if not line.search(text):
        raise BuildError(f"{where}: no line {name} = ... to set")
    return line.sub(lambda _: f"{name} = {json.dumps(value)}", text)


def set_pack(nb, url: str | None, sha256: str | None) -> list[str]:
    """Write the course pack's address and checksum into the notebook's ``PACK_URL`` and
    ``PACK_SHA256`` lines (``None`` clears them); returns the ids of the cells changed."""
    if url is not None and not re.match(r"^https?://\S+$", url):
        raise BuildError(f"--pack {url!r}: expected an http(s) address students can reach")
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise BuildError(f"--pack-sha256 {sha256!r}: expected 64 lowercase hex digits")
    changed = []
    for name, value in (("PACK_URL", url), ("PACK_SHA256", sha256)):
        cell = next(
            (c for c in nb.cells if c.cell_type == "code" and f"\n{name} = " in f"\n{c.source}"),
            None,
        )
        new = set_line(cell.source if cell else "", name, value, SOURCE_NOTEBOOK.name)
        if new != cell.source:
            cell.source = new
            changed.append(cell.get("id", name))
    return changed


class BuildError(RuntimeError):
    """The source notebook and ``solutions/`` do not fit together."""


@dataclass
class BuildReport:
    """What a build changed (or, with ``check``, would change)."""

    changed: list[str] = field(default_factory=list)
    synced_cells: list[str] = field(default_factory=list)
    checked: bool = False  # (nothing written: what a build would change)

    def summary(self) -> str:
        if not self.changed:
            return "notebooks up to date"
        said = "out of date (run `unet-tp notebook build`): " if self.checked else "changed: "
        return said + ", ".join(self.changed)


def solution_regions(root: Path = REPO_ROOT) -> dict[str, str]:
    """``{grade_id: cell source}`` of every notebook region in ``solutions/*.py``."""
    regions: dict[str, str] = {}
    for path in sorted((root / "solutions").glob("*.py")):
        for m in _REGION.finditer(path.read_text()):
            if m["id"] in regions:
                raise BuildError(f"{path}: notebook cell {m['id']!r} defined twice")
            regions[m["id"]] = m["body"].strip("\n")
    return regions


def synced_source(nb, regions: dict[str, str], package: str) -> tuple[object, list[str]]:
    """A copy of the source notebook with its solution cells taken from ``regions``."""
    nb = copy.deepcopy(nb)
    solution_ids = []
    changed = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
            solution_ids.append(gid)
            if gid not in regions:
                raise BuildError(
                    f"{SOURCE_NOTEBOOK.name}: solution cell {gid!r} has no region "
                    f"'# --- notebook cell: {gid} ---' in solutions/"
                )
            if cell.source != regions[gid]:
                cell.source = regions[gid]
                changed.append(gid)
        if gid == "setup":
            new = set_line(cell.source, "UNET_TP_PACKAGE", package, "the set-up cell")
            if new != cell.source:
                cell.source = new
                changed.append(gid)
        clear_outputs(cell)
    extra = sorted(set(regions) - set(solution_ids))
    if extra:
        raise BuildError(f"solutions/ has notebook regions with no solution cell: {extra}")
    return nb, changed


def nbgrader_ready() -> None:
    """nbgrader runs ``alembic`` from PATH: this interpreter's ``bin`` put there, so that grading
    and building work from ``.venv/bin/unet-tp`` without an activated environment; and a new
    gradebook's migration head read in this process, where nbgrader ran ``alembic heads`` in a
    subprocess for it (5 s of each grading run)."""
    from nbgrader import api

    here = str(Path(sys.executable).parent)
    if here not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")
    api.get_alembic_version = _alembic_head


@functools.cache
def _alembic_head() -> str:
    """The head of nbgrader's migrations (what ``alembic heads`` prints first)."""
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def generate_assignment(source_nb, root: Path, db_url: str | None = None):
    """nbgrader's ``generate_assignment`` of ``source_nb`` in the course folder ``root`` (the
    student version in ``root/release``, the gradebook at ``db_url``); its ``NbGraderAPI``.
    The configuration is ``autograder/nbgrader_config.py`` with the course root set."""
    nbgrader_ready()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_DIR)).load_config()
    if notebook_language(source_nb) == "fr":  # the blanks' own words, in the notebook's language
        config.ClearSolutions.code_stub = {
            "python": f"# {STUBS['fr'][0]}\nraise NotImplementedError()"
        }
        config.ClearSolutions.text_stub = STUBS["fr"][1]
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(root / "exchange")
    src_dir = root / "source" / ASSIGNMENT
    src_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_nb, src_dir / NOTEBOOK)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(ASSIGNMENT, force=True, create=True)
    if not result["success"]:
        raise BuildError(f"nbgrader generate_assignment failed:\n{result.get('log', '')}")
    return api


def _normalise(nb) -> str:
    """Stable text of a generated notebook (what gets committed)."""
    for cell in nb.cells:
        clear_outputs(cell)
    return nbformat.writes(nb) + "\n"


def generate(source_nb, workdir: Path) -> tuple[str, str]:
    """Student and solution notebooks (text) from a source notebook."""
    api = generate_assignment(source_nb, workdir)
    student = nbformat.read(workdir / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    from nbgrader.converters import GenerateSolution

    app = GenerateSolution(coursedir=api.coursedir, parent=api)
    app.preprocessors = [p for p in app.preprocessors if p.__name__ != "Execute"]
    app.coursedir.assignment_id = ASSIGNMENT
    app.start()
    solution = nbformat.read(workdir / "solution" / ASSIGNMENT / NOTEBOOK, as_version=4)
    return _normalise(student), _normalise(solution)


_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_REF = re.compile(r"^(?!-)[A-Za-z0-9._/-]{1,200}$")
_BADGE = re.compile(
    r"https://colab\.research\.google\.com/github/[^)\s]+/notebooks/TP_sujet\.ipynb"
)


def publication_texts(
    repository: str | None, ref: str | None, root: Path = REPO_ROOT
) -> tuple[str, str, dict[Path, str]]:
    """The repository and ref students use (given, else ``unet_tp/sources.py``'s), and the new
    text of ``unet_tp/sources.py`` and of the README (its Colab badge) that name them."""
    from unet_tp import sources

    repository, ref = repository or sources.REPOSITORY, ref or sources.REF
    if not _REPOSITORY.match(repository):
        raise BuildError(f"--repository {repository!r}: expected GitHub OWNER/NAME")
    if not _REF.match(ref):
        raise BuildError(f"--ref {ref!r}: not a branch or tag name")
    texts = {}
    path = root / "unet_tp" / "sources.py"
    text = path.read_text()
    for name, value in (("REPOSITORY", repository), ("REF", ref)):
        text = set_line(text, name, value, str(path))
    texts[path] = text
    readme = root / "README.md"
    text = readme.read_text()
    if not _BADGE.search(text):
        raise BuildError(f"{readme}: no Colab badge link to notebooks/TP_sujet.ipynb to set")
    texts[readme] = _BADGE.sub(sources.colab_url(repository, ref), text)
    return repository, ref, texts


def build(
    check: bool = False,
    repository: str | None = None,
    ref: str | None = None,
    pack: tuple[str | None, str | None] | None = None,
) -> BuildReport:
    """Sync the source notebook with ``solutions/`` and regenerate the student and solution
    notebooks (``check``: only report what differs). ``repository`` (GitHub OWNER/NAME) and
    ``ref`` (branch or tag) publish the kit: they are written into ``unet_tp/sources.py``, the
    README's Colab badge and the notebook's install cell. ``pack`` ``(url, sha256)`` sets the
    course pack the notebook downloads (``(None, None)`` removes it)."""
    from unet_tp import sources

    report = BuildReport()
    publish = repository is not None or ref is not None
    repository, ref, outputs = publication_texts(repository, ref)
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    # STUDENT_PACKAGE may be set by hand (e.g. to a wheel's URL) until the next publishing
    package = sources.student_package(repository, ref) if publish else sources.STUDENT_PACKAGE
    synced, report.synced_cells = synced_source(source, solution_regions(), package)
    if pack is not None:
        report.synced_cells += set_pack(synced, *pack)
    problems = notebook_problems(synced)
    if problems:
        source_nb, spec_file = (
            p.relative_to(REPO_ROOT) if p.is_relative_to(REPO_ROOT) else p
            for p in (SOURCE_NOTEBOOK, SPEC_FILE)
        )  # (the files to edit, as the instructor finds them: instructor round 22)
        raise BuildError(
            f"{source_nb} disagrees with {spec_file}: {'; '.join(problems)}; make them agree (a "
            "cell's points are its nbgrader metadata `points` in the notebook: Jupyter's Create "
            "Assignment toolbar, or the .ipynb's JSON; keep the heading's points the same)"
        )
    with tempfile.TemporaryDirectory(prefix="unet-tp-build-") as tmp:
        for language, path in STUDENT_NOTEBOOKS.items():
            nb = synced
            if language != "en":
                nb = translate_notebook(synced, load_catalog(language), language)
            set_badge(nb, language, repository, ref, path.name)
            setup = next(c for c in nb.cells if grade_id(c) == "setup")
            setup.source = set_line(setup.source, "LANGUAGE", language, SOURCE_NOTEBOOK.name)
            student, solution = generate(nb, Path(tmp) / language)
            outputs[path] = student
            if language == "en":
                outputs[SOURCE_NOTEBOOK] = _normalise(copy.deepcopy(nb))
                outputs[SOLUTION_NOTEBOOK] = solution
    report.checked = check
    for path, text in outputs.items():
        if not path.exists() or path.read_text() != text:
            report.changed.append(str(path.relative_to(REPO_ROOT)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(path, "w") as f:
                    f.write(text)
    return report
