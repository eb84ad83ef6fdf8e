"""The front end Colab's widgets render in: the classic Notebook with Colab's pins, in its own venv.

The main ``.venv`` holds Notebook 7 (nbgrader needs it), so the classic Notebook 6.5.7 with
ipywidgets 7.7.1 and widgetsnbextension 3.6.10 gets a venv of its own,
``.venv/frontend-<hash>``, made once and re-made only when its pins change (the hash covers
``constraints/colab-2026.txt``, the packages below and the Python version), the way
``scripts/setup_env.sh`` stamps ``.venv``. It holds the Notebook server, the kernel and
Playwright (which drives the system's Chromium: its own browser download is never used); torch,
numpy, matplotlib, nibabel and the rest come from the running interpreter's site-packages through
a ``.pth`` file read after the venv's own packages, and ``unet_tp`` from this checkout
(``PYTHONPATH``).

``python tests/frontend_env.py`` builds it and prints its path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / "constraints" / "colab-2026.txt"
# The front end's JavaScript: Colab pins widgetsnbextension 3.6.10, but the classic Notebook cannot
# show an Output widget with it (nor with 3.6.9): their extension.js builds the Output widget's
# model with Backbone's ``OutputModel.extend(...)`` from an ES2017 class, which drops the class's
# static ``_deserialize_state`` ("TypeError: n._deserialize_state is not a function", "Could not
# create a model"), so the browser's controls never appear and its first image lands in the
# cell's plain output. 3.6.6, the last release built to ES5, shows it; the kernel side keeps
# Colab's pins (ipywidgets 7.7.1, ipykernel 6.17.1, IPython 7.34.0), which is what Colab runs:
# Colab's own front end, not this nbextension, draws the widgets there.
# UNET_TP_FRONTEND_WIDGETSNBEXTENSION=3.6.10 builds the front end with Colab's pin instead.
WIDGETSNBEXTENSION = os.environ.get("UNET_TP_FRONTEND_WIDGETSNBEXTENSION", "3.6.6")
# what the front end needs, each pinned by PINS where Colab pins it
PACKAGES = [
    "notebook",
    "ipywidgets",
    f"widgetsnbextension=={WIDGETSNBEXTENSION}",
    "ipykernel",
    "ipython",
    "ipython-genutils",
    "traitlets",
    "playwright==1.65.2",
]
VERSION = "2"  # bump when the way the venv is made changes
STAMP = ".frontend_stamp"


def _key() -> str:
    text = "\n".join([VERSION, sys.version, PINS.read_text(), *PACKAGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _site_packages() -> list[str]:
    """The running interpreter's site-packages, its own first, then those its ``.pth`` files add
    (a worktree's venv that reads the main venv's packages)."""
    own = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    found = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    out: list[str] = []
    for p in own + found:
        if p not in out and Path(p).is_dir():
            out.append(p)
    return out


def venv_python(path: Path) -> Path:
    return path / "bin" / "python"


def frontend_env(log=print) -> Path:
    """The front-end venv's folder, made first if it is missing or its pins changed."""
    path = ROOT / ".venv" / f"frontend-{_key()}"
    if (path / STAMP).is_file():
        return path
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"[frontend] making {path} (classic Notebook with Colab's widget pins)")
    subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True)
    # the packages first, resolved on their own (the .pth comes after: pip must not see the
    # main venv's Notebook 7, IPython 9, ... as already installed)
    pins = [line for line in PINS.read_text().splitlines() if "widgetsnbextension" not in line]
    (tmp / "constraints.txt").write_text("\n".join(pins) + "\n")
    pip = subprocess.run(
        [str(venv_python(tmp)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        + ["-c", str(tmp / "constraints.txt"), *PACKAGES],
        capture_output=True,
        text=True,
    )
    if pip.returncode:
        raise RuntimeError(f"pip could not make the front-end venv:\n{pip.stderr[-3000:]}")
    purelib = subprocess.run(
        [str(venv_python(tmp)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "zz_frontend_shared.pth").write_text("\n".join(_site_packages()) + "\n")
    (tmp / STAMP).write_text(_key() + "\n")
    try:
        tmp.rename(path)
    except OSError:  # another run made it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        if not (path / STAMP).is_file():
            raise
    for old in path.parent.glob("frontend-*"):  # earlier pins
        if old != path and ".tmp-" not in old.name:
            shutil.rmtree(old, ignore_errors=True)
    return path


# --- the browser side, run by the front-end venv's Python (Playwright is installed there) ---

_WATCH = """cells => {
  window.__draws = cells.map(() => ({ added: 0, most: 0 }));
  const nodes = document.querySelectorAll('.code_cell');
  cells.forEach((c, i) => {
    const area = nodes[c].querySelector('.output_wrapper');
    const count = () => {
      const n = area.querySelectorAll('img').length;
      window.__draws[i].most = Math.max(window.__draws[i].most, n);
    };
    new MutationObserver(records => {
      for (const r of records)
        for (const n of r.addedNodes)
          if (n.nodeType === 1 && (n.tagName === 'IMG' || n.querySelector('img')))
            window.__draws[i].added += 1;
      count();
    }).observe(area, { childList: true, subtree: true });
    count();
  });
}"""


def _state(page, cell: int) -> dict:
    """What the viewer of one cell shows: its images, the case, the slice, the output's text."""
    return page.evaluate(
        """c => {
          const cell = document.querySelectorAll('.code_cell')[c];
          const area = cell.querySelector('.output_wrapper');
          const imgs = [...area.querySelectorAll('img')];
          const sel = area.querySelector('.widget-dropdown select');
          const slider = area.querySelector('.widget-hslider');
          return {
            images: imgs.length,
            in_widget: imgs.filter(i => i.closest('.jupyter-widgets-output-area')).length,
            src: imgs.length ? imgs[0].getAttribute('src') : null,
            case: sel ? sel.value : null,
            slice: slider ? slider.querySelector('.widget-readout').textContent.trim() : null,
            text: area.innerText,
          };
        }""",
        cell,
    )


def _settle(page, cell: int, before: dict, timeout: float = 30.0) -> dict:
    """The state once what the cell shows differs from ``before`` (another image, or another
    number of images), the kernel is idle and nothing has changed for half a second."""
    import time

    def shown(state):
        return state["src"], state["images"]

    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = _state(page, cell)
        idle = page.evaluate(
            "() => !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')"
        )
        key = (*shown(state), state["slice"], state["case"])
        if key != last:
            last, since = key, time.monotonic()
        elif idle and shown(state) != shown(before) and time.monotonic() - since > 0.5:
            return state
        page.wait_for_timeout(100)
    state = {k: v for k, v in _state(page, cell).items() if k != "src"}
    raise TimeoutError(f"cell {cell}: what it shows did not change and settle: {state}")


def drive(url: str, chromium: str, out: str) -> None:
    """Open the notebook at ``url``, run all cells, play with the browser of cell 1 and write what
    was seen to ``out`` (JSON)."""
    import json

    from playwright.sync_api import sync_playwright

    seen: dict = {"steps": {}, "console_errors": []}
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.on(
            "console",
            lambda m: (seen["console_errors"] if m.type == "error" else console).append(m.text),
        )
        try:
            _play(page, url, seen, console)
        except Exception:
            page.screenshot(path=str(Path(out).with_suffix(".png")), full_page=True)
            cells = page.evaluate(
                "() => [...document.querySelectorAll('.code_cell')].map(c => c.innerText)"
            )
            print("the page when it failed:", *cells, sep="\n--- cell ---\n", file=sys.stderr)
            print("console errors:", *seen["console_errors"], sep="\n", file=sys.stderr)
            html = page.evaluate(
                "() => [...document.querySelectorAll('.code_cell .output_wrapper')]"
                ".map(c => c.innerHTML.replace(/base64,[^\"]*/g, 'base64,...'))"
            )
            print("outputs:", *html, sep="\n", file=sys.stderr)
            raise
        finally:
            browser.close()
    Path(out).write_text(json.dumps(seen))


def _play(page, url: str, seen: dict, console: list[str]) -> None:
    page.goto(url)
    page.wait_for_function(
        "() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
        " && Jupyter.notebook.kernel.is_connected() && Jupyter.notebook.kernel.widget_manager"
        " && Jupyter.notebook.kernel.comm_manager.targets['jupyter.widget']",
        timeout=60_000,
    )
    # The widget manager first asks the kernel for the widgets it already has (ipywidgets 7.7.1
    # has no "jupyter.widget.control" comm, so it falls back to asking model by model), then
    # re-renders every widget output: cells run before that ends lose their widgets' views.
    for _ in range(100):
        if any("jupyter.widget.control" in m for m in console):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(1000)
    page.evaluate("() => Jupyter.notebook.execute_all_cells()")
    page.wait_for_function(
        "() => [1, 2].every(c => document.querySelectorAll('.code_cell')[c]"
        ".querySelector('.output_wrapper .jupyter-widgets-output-area img'))"
        " && document.querySelector('#kernel_indicator_icon.kernel_idle_icon')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)
    page.evaluate(_WATCH, [1, 2])
    steps = seen["steps"]
    steps["setup"] = page.evaluate(
        "() => document.querySelectorAll('.code_cell')[0].querySelector('.output_wrapper')"
        ".innerText"
    )
    steps["start"] = _state(page, 1)
    steps["other"] = _state(page, 2)
    viewer = page.locator(".code_cell").nth(1)
    slider = viewer.locator(".widget-hslider").first  # the slice's (the opacity's is second)
    handle = slider.locator(".ui-slider-handle")
    # the slice slider, by keyboard: one slice up, then back
    handle.focus()
    page.keyboard.press("ArrowRight")
    steps["key_right"] = _settle(page, 1, steps["start"])
    page.keyboard.press("ArrowLeft")
    steps["key_left"] = _settle(page, 1, steps["key_right"])
    # by dragging the handle to the slider's right end
    track = slider.locator(".ui-slider").bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 40, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    steps["drag_end"] = _settle(page, 1, steps["key_left"])
    # the case dropdown: the other patient, then back
    select = viewer.locator(".widget-dropdown select").first
    other = steps["other"]["case"]
    select.select_option(other)
    steps["case_other"] = _settle(page, 1, steps["drag_end"])
    select.select_option(steps["start"]["case"])
    steps["case_back"] = _settle(page, 1, steps["case_other"])
    page.wait_for_timeout(300)
    seen["draws"] = page.evaluate("() => window.__draws")
    seen["final_other"] = _state(page, 2)


if __name__ == "__main__":
    if sys.argv[1:2] == ["drive"]:
        drive(*sys.argv[2:5])
    else:
        print(frontend_env())
