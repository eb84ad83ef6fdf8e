"""The notebook's set-up cell, run as in a fresh Colab session where pip fails (or works), and
the publishing step that writes the repository into it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import build
from autograder.execute import SlicedKernelManager
from unet_tp import sources

ROOT = Path(__file__).resolve().parents[1]

# what pip prints (stderr) when it fails, as observed (the first) or as git and pip word it
NO_NETWORK = """\
  error: subprocess-exited-with-error

  × git clone --filter=blob:none --quiet https://github.com/unet-tp/unet-tp.git /tmp/pip-install-shabox9j/unet-tp_a666 did not run successfully.
  │ exit code: 128
  ╰─> [1 lines of output]
      fatal: unable to access 'https://github.com/unet-tp/unet-tp.git/': Could not resolve host: github.com
      [end of output]
"""
NOT_FOUND = """\
  × git clone --filter=blob:none --quiet https://github.com/someone/nothing.git /tmp/pip-req-build-x did not run successfully.
  ╰─> [2 lines of output]
      remote: Repository not found.
      fatal: repository 'https://github.com/someone/nothing.git/' not found
"""
WRONG_REF = """\
  Running command git checkout -q v9
  error: pathspec 'v9' did not match any file(s) known to git
  error: subprocess-exited-with-error
"""
WHEEL_404 = (
    "ERROR: HTTP error 404 while getting https://example.org/unet_tp-0.1.0-py3-none-any.whl\n"
)
OTHER = "ERROR: Could not build wheels for unet-tp, which is required to install\n"


def _cell(gid: str, notebook: Path = build.SOURCE_NOTEBOOK) -> str:
    nb = nbformat.read(notebook, 4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _fresh_session(monkeypatch, returncode: int, stderr: str) -> list[list[str]]:
    """As in a fresh Colab session: unet_tp not installed, and pip answering as told."""
    calls: list[list[str]] = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "unet_tp" else real_find_spec(name, *a),
    )

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, returncode, stdout="", stderr=stderr)

    monkeypatch.setattr(subprocess, "run", fake_pip)
    return calls


@pytest.mark.parametrize(
    ("package", "stderr", "said"),
    [
        (None, NO_NETWORK, "no network: pip could not reach https://github.com/unet-tp/unet-tp"),
        (
            "unet-tp @ git+https://github.com/someone/nothing.git@main",
            NOT_FOUND,
            "repository not found: https://github.com/someone/nothing does not exist",
        ),
        (
            "unet-tp @ git+https://github.com/someone/tp.git@v9",
            WRONG_REF,
            "wrong ref: https://github.com/someone/tp has no branch or tag 'v9'",
        ),
        (
            "https://example.org/unet_tp-0.1.0-py3-none-any.whl",
            WHEEL_404,
            "not found (HTTP 404): https://example.org/unet_tp-0.1.0-py3-none-any.whl",
        ),
        (None, OTHER, "pip could not install unet-tp @ git+https://github.com/"),
    ],
)
def test_a_failed_install_says_why_in_one_line(monkeypatch, tmp_path, package, stderr, said):
    monkeypatch.chdir(tmp_path)
    source = _cell("setup")
    if package is not None:
        source = source.replace(
            f'UNET_TP_PACKAGE = "{sources.STUDENT_PACKAGE}"', f'UNET_TP_PACKAGE = "{package}"'
        )
    calls = _fresh_session(monkeypatch, 1, stderr)
    namespace: dict = {"__name__": "__main__"}
    with pytest.raises(Exception) as info:
        exec(compile(source, "setup-cell", "exec"), namespace)
    assert type(info.value).__name__ == "SetupError"
    shown = info.value._render_traceback_()
    assert len(shown) == 1 and shown[0].startswith("Set-up failed: " + said), shown
    assert "\n" not in shown[0] and "Traceback" not in shown[0]
    assert "UNET_TP_PACKAGE" in shown[0] or "upload" in shown[0] or "!pip install" in shown[0]
    assert calls and calls[0][-1] == (package or sources.STUDENT_PACKAGE)
    assert "--upgrade" not in calls[0] and "-U" not in calls[0]  # Colab's packages stay as they are


def test_an_uploaded_wheel_is_installed_and_the_cell_goes_on(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    wheel = tmp_path / "unet_tp-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    calls = _fresh_session(monkeypatch, 0, "")
    namespace: dict = {"__name__": "__main__"}
    exec(compile(_cell("setup"), "setup-cell", "exec"), namespace)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", str(wheel.resolve())]]
    assert "Training configuration:" in capsys.readouterr().out
    assert namespace["PRESET"] in ("notebook-cpu", "colab-t4")


@pytest.mark.slow
def test_the_kernel_shows_the_message_without_a_traceback(tmp_path):
    """In a real kernel (as Colab shows it): the error output is the one line, nothing else."""
    fake = (
        "import importlib.util, subprocess\n"
        "_real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'unet_tp' else _real(n, *a)\n"
        "subprocess.run = lambda cmd, **k: subprocess.CompletedProcess(cmd, 1, '', "
        f"{NO_NETWORK!r})\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(fake), nbformat.v4.new_code_cell(_cell("setup"))]
    NotebookClient(
        nb,
        kernel_manager_class=SlicedKernelManager,  # no missed replies
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "SetupError"
    assert len(error.traceback) == 1 and error.traceback[0].startswith(
        "Set-up failed: no network"
    ), error.traceback


def test_publishing_sets_the_repository_everywhere(tmp_path):
    """`unet-tp notebook build --repository me/tp --ref v2` writes sources.py, the README badge
    and the install cell (here on copies, so that nothing of the checkout changes)."""
    (tmp_path / "unet_tp").mkdir()
    shutil.copy(ROOT / "unet_tp" / "sources.py", tmp_path / "unet_tp" / "sources.py")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    repo, ref, texts = build.publication_texts("me/tp-unet", "v2", root=tmp_path)
    assert (repo, ref) == ("me/tp-unet", "v2")
    src = texts[tmp_path / "unet_tp" / "sources.py"]
    assert 'REPOSITORY = "me/tp-unet"  # GitHub owner/name' in src and '\nREF = "v2"' in src
    namespace: dict = {}
    exec(compile(src, "sources.py", "exec"), namespace)
    assert namespace["STUDENT_PACKAGE"] == "unet-tp @ git+https://github.com/me/tp-unet.git@v2"
    readme = texts[tmp_path / "README.md"]
    badge = "https://colab.research.google.com/github/me/tp-unet/blob/v2/notebooks/TP_sujet.ipynb"
    assert badge in readme and "github/unet-tp/unet-tp" not in readme
    nb, changed = build.synced_source(
        nbformat.read(build.SOURCE_NOTEBOOK, 4),
        build.solution_regions(),
        sources.student_package(repo, ref),
    )
    setup = next(c.source for c in nb.cells if c.metadata["nbgrader"].get("grade_id") == "setup")
    assert 'UNET_TP_PACKAGE = "unet-tp @ git+https://github.com/me/tp-unet.git@v2"' in setup
    assert changed == ["setup"]
    for bad in ("me", "me/tp unet", "https://github.com/me/tp"):
        with pytest.raises(build.BuildError, match="expected GitHub OWNER/NAME"):
            build.publication_texts(bad, None, root=tmp_path)
    with pytest.raises(build.BuildError, match="not a branch or tag"):
        build.publication_texts("me/tp", "v 2", root=tmp_path)


def test_the_committed_kit_names_one_repository_everywhere():
    readme = (ROOT / "README.md").read_text()
    assert sources.colab_url() in readme
    assert f'UNET_TP_PACKAGE = "{sources.STUDENT_PACKAGE}"' in _cell(
        "setup", build.STUDENT_NOTEBOOK
    )


def test_the_french_notebooks_set_up_fails_in_french(monkeypatch, tmp_path):
    """French student round 39: the French notebook's first cell said its failures in English
    ("Set-up failed: no network: ...")."""
    monkeypatch.chdir(tmp_path)
    source = _cell("setup", ROOT / "notebooks" / "TP_sujet_fr.ipynb")
    _fresh_session(monkeypatch, 1, NO_NETWORK)
    with pytest.raises(Exception) as info:
        exec(compile(source, "setup-cell", "exec"), {"__name__": "__main__"})
    (shown,) = info.value._render_traceback_()
    assert shown.startswith("Échec de l'installation : pas de réseau : pip n'a pas pu joindre")
    assert "ou importez la wheel unet_tp-*.whl" in shown and "ré-exécutez cette cellule." in shown
