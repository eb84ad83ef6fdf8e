"""The public student repository holds the course package and the student notebook, nothing of
the instructor side, and installs as students install it."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import publish
from unet_tp.cli import main
from unet_tp.sources import STUDENT_PACKAGE, colab_url

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("public") / "student-repo"
    assert main(["notebook", "publish", str(out)]) == 0
    return out


@pytest.mark.slow
def test_publishing_under_the_placeholder_repository_says_so(student_repo, capsys):
    assert main(["notebook", "publish", str(student_repo)]) == 0
    said = capsys.readouterr().out
    assert "public repository unet-tp/unet-tp at main" in said
    assert "the kit's placeholder: run `unet-tp notebook build --repository OWNER/NAME" in said


@pytest.mark.slow
def test_the_student_repository_holds_the_package_and_the_notebook_only(student_repo):
    top = {p.name for p in student_repo.iterdir()}
    assert top == {
        "README.md",
        "notebooks",
        "unet_tp",
        "pyproject.toml",
        "setup.py",
        publish.MARKER,
    }
    # the French edition too: its badge and its "Fichier > Importer" line open it from here
    notebooks = ["TP_sujet.ipynb", "TP_sujet_fr.ipynb"]
    assert sorted(p.name for p in (student_repo / "notebooks").iterdir()) == notebooks
    for name in notebooks:
        assert (student_repo / "notebooks" / name).read_text() == (
            ROOT / "notebooks" / name
        ).read_text()
    french = (student_repo / "notebooks" / "TP_sujet_fr.ipynb").read_text()
    assert colab_url(notebook="TP_sujet_fr.ipynb") in french
    assert not list(student_repo.rglob("__pycache__"))
    assert publish.leaks(student_repo) == []
    pyproject = (student_repo / "pyproject.toml").read_text()
    for instructor_only in (
        "nbgrader",
        "bubblewrap",
        "autograder",
        "[tool.",
        "optional-dependencies",
    ):
        assert instructor_only not in pyproject
    assert 'unet-tp = "unet_tp.cli:main"' in pyproject and '"torch>=2.3"' in pyproject
    readme = (student_repo / "README.md").read_text()
    assert colab_url() in readme and STUDENT_PACKAGE.split(" @ ")[1] in readme
    assert colab_url(notebook="TP_sujet_fr.ipynb") in readme
    # the leak check is no formality: a solution file dropped in is found
    (student_repo / "unet_tp" / "x.py").write_text((ROOT / "solutions" / "unet.py").read_text())
    try:
        assert publish.leaks(student_repo)
    finally:
        (student_repo / "unet_tp" / "x.py").unlink()


@pytest.mark.slow
def test_the_student_repository_builds_the_student_wheel(student_repo, tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(student_repo),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("unet_tp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "unet_tp",
        wheel.name.split("-py")[0] + ".dist-info",
    }


@pytest.mark.slow
def test_publishing_again_keeps_the_clone_and_refuses_a_foreign_folder(
    student_repo, tmp_path, capsys
):
    (student_repo / ".git").mkdir()
    (student_repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (student_repo / "stale.txt").write_text("from an older publish")
    marker = json.loads((student_repo / publish.MARKER).read_text())
    marker["files"]["stale.txt"] = publish.sha256_file(student_repo / "stale.txt")
    (student_repo / publish.MARKER).write_text(json.dumps(marker))
    (student_repo / "LICENSE").write_text("added on GitHub")
    # instructor round 23: the instructor's own files, and one edited, were deleted unsaid
    (student_repo / "slides").mkdir()
    (student_repo / "slides" / "cours1.md").write_text("mine")
    (student_repo / "docs" / "build").mkdir(parents=True)  # (round 24: any build/ was pip's)
    (student_repo / "docs" / "build" / "cours2.md").write_text("mine")
    with open(student_repo / "README.md", "a") as f:
        f.write("a line of mine\n")
    log = tmp_path / "grade1.log"  # (round 25: a file named publish's temporary folder)
    log.write_text("mine")
    assert main(["notebook", "publish", str(log)]) == 2
    assert f"{log}: a file, not a folder" in capsys.readouterr().err
    assert log.read_text() == "mine" and sorted(tmp_path.glob(".*partial*")) == []
    assert main(["notebook", "publish", str(student_repo)]) == 2
    err = capsys.readouterr().err
    assert "3 files the last publish did not write, or edited since" in err, err
    assert "README.md (edited), docs/build/cours2.md, slides/cours1.md" in err and "--force" in err
    assert (student_repo / "slides" / "cours1.md").read_text() == "mine"
    (student_repo / "slides" / "cours1.md").unlink()
    shutil.rmtree(student_repo / "docs")
    assert main(["notebook", "publish", str(student_repo), "--force"]) == 0  # README's replaced
    assert (student_repo / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (student_repo / "LICENSE").read_text() == "added on GitHub"
    assert not (student_repo / "stale.txt").exists() and (student_repo / "unet_tp").is_dir()
    assert "kept .git, LICENSE" in capsys.readouterr().out
    # a fresh clone of the empty public repository is no foreign folder
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    assert main(["notebook", "publish", str(clone)]) == 0 and (clone / ".git").is_dir()
    capsys.readouterr()
    # never a folder holding the checkout, not even with --force
    assert main(["notebook", "publish", str(ROOT.parent), "--force"]) == 2
    assert "holds this checkout" in capsys.readouterr().err and (ROOT / "unet_tp").is_dir()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["notebook", "publish", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "did not write" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (foreign / "notes.txt").read_text() == "mine"
    assert main(["notebook", "publish", str(ROOT / "public")]) == 2
    assert "inside this checkout" in capsys.readouterr().err


def test_a_solution_reformatted_into_the_package_is_a_leak(tmp_path):
    """Instructor round 24: a solution's lines, their comments dropped and their spacing
    changed, went unseen (each line was looked for whole, comment included)."""
    shutil.copytree(
        ROOT / "unet_tp", tmp_path / "unet_tp", ignore=shutil.ignore_patterns("__pycache__")
    )
    assert publish.leaks(tmp_path) == []
    body = (ROOT / "solutions" / "losses.py").read_text().split("### BEGIN SOLUTION")[1]
    body = body.split("### END SOLUTION")[0]
    reformatted = [line.split("  #")[0].replace(" ", "  ") for line in body.splitlines()]
    (tmp_path / "unet_tp" / "ref.py").write_text("\n".join(reformatted))
    assert [f for f in publish.leaks(tmp_path) if f.startswith("unet_tp/ref.py: solution")]
