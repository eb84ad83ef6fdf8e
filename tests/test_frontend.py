"""The patient browser where students see it: the classic Notebook with the widget versions Colab
pins (notebook 6.5.7, ipywidgets 7.7.1, widgetsnbextension 3.6.10), in headless Chromium.

The front end runs from its own venv (``tests/frontend_env.py``: made once, about three minutes
on 2 cores, then reused; it says why its widgetsnbextension is 3.6.6, not Colab's 3.6.10, whose
JavaScript cannot show an Output widget in the classic Notebook); Playwright drives Debian's
``chromium`` (``scripts/test.sh`` installs it as root). The notebook shows ``viz.browse`` of two
tiny BraTS-format cases of different depths (cell 1) and, for comparison, the second case's
browser on its own (cell 2). Through the real slider (keyboard and mouse) and the real case
dropdown, the test checks that the image follows, that switching to the other patient shows
exactly what that patient's own browser shows (title included: the images are equal byte for
byte), and that after each interaction the output area holds one image, drawn inside the widget,
and never two at once.

Run on its own: ``.venv/bin/python -m pytest tests/test_frontend.py -s`` (it prints how long the
venv and the browser session took); on a failure the page's cells, the console errors and a
screenshot (``frontend.png`` in the test's temporary folder) are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.frontend_env import ROOT, frontend_env, venv_python

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (scripts/test.sh installs it as root)"
    ),
]

CASE_A, CASE_B = "BraTS19_TINY_0001_1", "BraTS19_TINY_0002_1"
SETUP = f"""\
import json, sys
sys.path.insert(0, {str(ROOT / "tests")!r})
import IPython, ipywidgets, notebook, numpy as np
import unet_tp
from tinycases import volumes
from unet_tp import viz
from unet_tp.conventions import MODALITIES

def case(index, shape):
    images, seg = volumes(index, shape)
    return np.stack([images[m] for m in MODALITIES]), seg, None

cases = {{{CASE_A!r}: case(1, (24, 24, 12)), {CASE_B!r}: case(2, (32, 32, 16))}}
print("SETUP " + json.dumps({{
    "ipywidgets": ipywidgets.__version__, "ipython": IPython.__version__,
    "notebook": notebook.__version__, "unet_tp": unet_tp.__file__,
    "slices": {{k: viz.largest_tumour_slice(v[1]) for k, v in cases.items()}},
    "depths": {{k: v[0].shape[3] for k, v in cases.items()}},
}}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def frontend():
    t0 = time.monotonic()
    path = frontend_env(log=lambda m: print(m, file=sys.stderr))
    print(f"[frontend] venv ready in {time.monotonic() - t0:.1f} s: {path}", file=sys.stderr)
    return path


@pytest.fixture
def notebook_server(frontend, tmp_path):
    """The classic Notebook on a free loopback port, with a token, in a folder holding the test
    notebook; nothing of the user's Jupyter or IPython configuration is read."""
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell("viz.browse(cases)"),
        nbformat.v4.new_code_cell(f"viz.browse(cases, {CASE_B!r})"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, work / "browse.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPL", "IPYTHON"))}
    env.pop("UNET_TP_STATIC_FIGURES", None)
    env.update(
        PATH=f"{frontend / 'bin'}{os.pathsep}{env.get('PATH', '')}",  # the kernel's "python"
        PYTHONPATH=str(ROOT),  # this checkout's unet_tp
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        MPLCONFIGDIR=str(tmp_path / "mpl"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(venv_python(frontend)), "-m", "notebook", "--no-browser", "--allow-root"]
        + ["--ip=127.0.0.1", f"--port={port}", "--port-retries=0"]
        + [f"--NotebookApp.token={token}", f"--notebook-dir={work}"],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the notebook server did not start:\n" + _tail(tmp_path))
                time.sleep(0.2)
        yield f"{base}/notebooks/browse.ipynb?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text()[-3000:]


def test_browser_in_the_classic_notebook(frontend, notebook_server, tmp_path):
    t0 = time.monotonic()
    out = tmp_path / "frontend.json"
    run = subprocess.run(
        [str(venv_python(frontend)), str(ROOT / "tests" / "frontend_env.py"), "drive"]
        + [notebook_server, CHROMIUM, str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(f"[frontend] browser session {time.monotonic() - t0:.1f} s", file=sys.stderr)
    (tmp_path / "driver.log").write_text(run.stderr)
    assert run.returncode == 0, run.stderr[-6000:] + "\nserver:\n" + _tail(tmp_path)
    seen = json.loads(out.read_text())
    for state in [*seen["steps"].values(), seen["final_other"]]:
        if isinstance(state, dict):  # short messages: the image's digest, not its base64
            state["src"] = state["src"] and hashlib.sha256(state["src"].encode()).hexdigest()[:12]
    steps = seen["steps"]

    # the kernel is Colab's front end, with this checkout's package
    setup = json.loads(steps["setup"].split("SETUP ", 1)[1].splitlines()[0])
    assert (setup["ipywidgets"], setup["ipython"], setup["notebook"]) == (
        "7.7.1",
        "7.34.0",
        "6.5.7",
    )
    assert Path(setup["unet_tp"]).resolve().is_relative_to(ROOT)
    slices, depths = setup["slices"], setup["depths"]
    assert slices[CASE_A] != slices[CASE_B] and depths[CASE_A] != depths[CASE_B]

    # every state: exactly one image, drawn inside the widget's output (not a static fallback,
    # not a second copy below the widget)
    states = {name: state for name, state in steps.items() if isinstance(state, dict)}
    shown = {name: (state["images"], state["in_widget"]) for name, state in states.items()}
    assert shown == dict.fromkeys(states, (1, 1)), "(images, images in the widget) per step"
    assert not [name for name, state in states.items() if "static figure" in state["text"]]
    start, other = steps["start"], steps["other"]
    assert (start["case"], start["slice"]) == (CASE_A, str(slices[CASE_A]))
    assert (other["case"], other["slice"]) == (CASE_B, str(slices[CASE_B]))

    # the slice slider, by keyboard: the next slice is another image, and back is the same image
    right, left = steps["key_right"], steps["key_left"]
    assert right["slice"] == str(slices[CASE_A] + 1) and right["src"] != start["src"]
    assert left["slice"] == start["slice"] and left["src"] == start["src"]
    # by dragging the handle past the end: the last slice
    drag = steps["drag_end"]
    assert drag["slice"] == str(depths[CASE_A] - 1)
    assert drag["src"] not in (start["src"], right["src"])

    # the case dropdown: the other patient's own view (image and title equal, byte for byte, to
    # what that patient's own browser shows), then back to the first patient's
    switched, back = steps["case_other"], steps["case_back"]
    assert (switched["case"], switched["slice"]) == (CASE_B, str(slices[CASE_B]))
    assert switched["src"] == other["src"], "the other patient's view differs from its own browser"
    assert (back["case"], back["slice"]) == (CASE_A, str(slices[CASE_A]))
    assert back["src"] == start["src"]

    # nothing drawn twice, not even for a moment; the other browser was left alone
    watched, untouched = seen["draws"]
    assert watched["most"] == 1, watched
    assert untouched == {"added": 0, "most": 1}, untouched
    assert seen["final_other"]["src"] == other["src"]
    print(f"[frontend] images added while playing: {watched['added']}", file=sys.stderr)
