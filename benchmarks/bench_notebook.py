"""Speed of the solved notebook as a CPU-only student runs it (the tests check what it does,
not how fast): wall time of the whole notebook, the kernel's CPU time, and the slowest cells.

    python benchmarks/bench_notebook.py [--repeat 1]

Prints the machine and the measured numbers, and writes them to benchmarks/notebook_results.json.
Each run starts from an empty kit home (sample cases and slice cache made again) and an empty
runs/ folder, as a fresh Colab session would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from machine import describe  # noqa: E402

from autograder import build  # noqa: E402
from autograder.execute import SlicedKernelManager  # noqa: E402

_CPU_TIME = "import os as _os\n_t = _os.times()\nprint('CPU_SECONDS', _t.user + _t.system)"


def run_once(tmp: Path, notebook: Path = build.SOURCE_NOTEBOOK) -> dict:
    """Execute the solved notebook in ``tmp``; seconds in all and per cell, kernel CPU time."""
    nb = nbformat.read(notebook, 4)
    nb.cells.append(nbformat.v4.new_code_cell(_CPU_TIME))
    os.environ["UNET_TP_HOME"] = str(tmp / "home")
    cells: list[tuple[str, float]] = []
    client = NotebookClient(
        nb,
        kernel_manager_class=SlicedKernelManager,  # a missed reply would count as a slow cell
        timeout=1800,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp)}},
    )
    t0 = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            start = time.perf_counter()
            client.execute_cell(cell, index)
            gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"
            cells.append((gid, time.perf_counter() - start))
    wall = time.perf_counter() - t0
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    cpu = float(text.split("CPU_SECONDS", 1)[1].split()[0])
    slowest = sorted(cells[:-1], key=lambda c: -c[1])[:5]
    return {
        "wall_s": round(wall, 1),
        "kernel_cpu_s": round(cpu, 1),
        "slowest_cells_s": {gid: round(s, 1) for gid, s in slowest},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each from a fresh home")
    parser.add_argument(
        "--notebook",
        default=str(build.SOURCE_NOTEBOOK),
        help="the solved notebook to run (e.g. an older version, for a same-machine baseline)",
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("notebook_results.json")))
    args = parser.parse_args()
    results = {
        "machine": describe(),
        "notebook": args.notebook,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "runs": [],
    }
    print(results["machine"])
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="unet-tp-bench-nb-") as tmp:
            run = run_once(Path(tmp), Path(args.notebook))
        results["runs"].append(run)
        cells = ", ".join(f"{k} {v:.0f} s" for k, v in run["slowest_cells_s"].items())
        print(
            f"run {i + 1}: the solved notebook in {run['wall_s']:.0f} s "
            f"(kernel CPU time {run['kernel_cpu_s']:.0f} s); slowest cells: {cells}"
        )
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
