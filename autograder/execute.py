"""Step 3 of grading: run one notebook in its sandbox, then put the grader's questions to it.

This runs in a worker process of the grader (``python -m autograder.execute JOB_DIR``), outside the
sandbox. The kernel runs inside (:mod:`autograder.sandbox`) and talks to this process over Unix
sockets in the job's runtime folder (ZeroMQ ``ipc`` transport: the sandbox has no network).

1. Every cell runs in order under a per-cell timeout; a cell that kills the kernel is skipped and
   the notebook runs again from the top in a new kernel.
2. Then the plan's steps, in order: each request (an ``.npz`` the grader wrote, see
   :mod:`autograder.compare`) is copied into the sandbox's home, :func:`unet_tp_harness.serve`
   answers it, and the answer is taken out of the sandbox at once, before the next request.

Out (in JOB_DIR): ``executed.ipynb``, ``answers/<step>.npz``, ``events.jsonl`` (what the kernel
reported on its standard error: network, writes outside home, processes), ``execute.json``.
Nothing here decides a grade.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

import nbformat

from autograder.sandbox import HOME, Limits, Sandbox

KERNEL_NAME = "unet-tp-sandbox"
STARTUP = "import unet_tp_harness\nunet_tp_harness.start()\ndel unet_tp_harness\n"


def _kernel_manager(box: Sandbox, sandboxed: bool):
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = box.runtime / "kernels"
    spec_dir = kernels / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    if sandboxed:
        argv = box.wrap([box.python(), "-s", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
        env = None
    else:  # --sandbox none: the grader's own interpreter, the harness beside it
        harness = box.runtime / "harness"
        harness.mkdir(exist_ok=True)
        shutil.copy(Path(__file__).with_name("harness.py"), harness / "unet_tp_harness.py")
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        env = box.environment() | {
            "HOME": str(box.home),
            "IPYTHONDIR": str(box.home / ".ipython"),
            "MPLCONFIGDIR": str(box.home / ".config" / "matplotlib"),
            "PYTHONPATH": str(harness),
            "PATH": os.environ.get("PATH", ""),
        }
    # interrupts as messages: a signal to bwrap would not reach the kernel inside
    spec = {
        "argv": argv,
        "display_name": "unet-tp grading",
        "language": "python",
        "interrupt_mode": "message",
    }
    if env is not None:
        spec["env"] = env
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        transport="ipc",
        ip=str(box.runtime / "k"),
        connection_file=str(box.runtime / "connection.json"),
    )


def _dead_cell_output():
    from nbformat.notebooknode import NotebookNode

    return NotebookNode(
        output_type="error",
        ename="DeadKernelError",
        evalue="the kernel died running this cell (out of memory, or the process was killed)",
        traceback=[
            "DeadKernelError: the kernel died running this cell (out of memory, or the process "
            "was killed); grading restarted it and went on without this cell"
        ],
    )


def _mark_timeout(cell, timeout: int) -> None:
    """Say that a cell stopped by the per-cell timeout was stopped by it (not a KeyboardInterrupt)."""
    from nbformat.notebooknode import NotebookNode

    cell.outputs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
    cell.outputs.append(
        NotebookNode(
            output_type="error",
            ename="CellTimeoutError",
            evalue=f"the cell ran for more than {timeout} s and was stopped",
            traceback=[f"CellTimeoutError: the cell ran for more than {timeout} s and was stopped"],
        )
    )


class Runner:
    """One notebook's kernel in its sandbox, and the cells and requests sent to it."""

    def __init__(self, job: dict, job_dir: Path):
        self.job, self.dir = job, job_dir
        self.home = Path(job["home"])
        self.box = Sandbox(
            home=self.home,
            runtime=Path(job["runtime"]),
            limits=Limits(**job["limits"]),
            env=job.get("env", {}),
        )
        self.sandboxed = job["sandbox"] == "bwrap"
        self.stderr = open(job_dir / "kernel_stderr.log", "ab")  # noqa: SIM115
        self.client = None

    def _client(self, nb):
        from nbclient import NotebookClient

        km = _kernel_manager(self.box, self.sandboxed)
        timeout = self.job["cell_timeout"]
        client = NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            startup_timeout=120,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell ran for more than {timeout} s and was stopped",
                "traceback": [f"CellTimeoutError: the cell ran for more than {timeout} s"],
            },
            record_timing=True,
            kernel_name=KERNEL_NAME,
        )
        if os.environ.get("UNET_TP_GRADING_DEBUG"):
            import logging

            client.log.setLevel(logging.DEBUG)
        return client

    def run_notebook(self, nb) -> dict:
        """Execute every cell; past a cell that kills the kernel, start again without it."""
        from nbclient.exceptions import DeadKernelError

        skip: set[int] = set()
        for _attempt in range(5):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            if self.sandboxed:
                self.box.open_cgroups()  # before the kernel's command line is written
            self.client = self._client(nb)
            dead_at = None
            with self._kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    if index in skip:
                        cell.outputs = [_dead_cell_output()]
                        continue
                    started = time.perf_counter()
                    try:
                        self.client.execute_cell(cell, index)
                    except DeadKernelError:
                        dead_at = index
                        break
                    if time.perf_counter() - started >= self.job["cell_timeout"]:
                        _mark_timeout(cell, self.job["cell_timeout"])
                if dead_at is None:
                    return {"restarts": len(skip), "skipped": sorted(skip)}
            skip.add(dead_at)
            self._stop()
        raise RuntimeError("the kernel died five times")

    @contextlib.contextmanager
    def _kernel(self):
        ipython = self.home / ".ipython" / "profile_default" / "startup"
        ipython.mkdir(parents=True, exist_ok=True)
        (ipython / "00-unet-tp-grading.py").write_text(STARTUP)
        from jupyter_core.utils import run_sync

        run_sync(self.client.km.start_kernel)(
            stdout=self.stderr, stderr=self.stderr, cwd=str(self.home)
        )
        self.client.start_new_kernel_client()
        try:
            yield
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        if self.client is not None and self.client.km is not None:
            from jupyter_core.utils import run_sync

            with contextlib.suppress(Exception):
                self.client.kc.stop_channels()
            with contextlib.suppress(Exception):
                run_sync(self.client.km.shutdown_kernel)(now=True)
        self.box.close_cgroups()

    def ask(self, code: str, timeout: int) -> str | None:
        """Run ``code`` in the kernel (not a notebook cell); the error it raised, if any."""
        from nbclient.exceptions import DeadKernelError
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(code)
        self.client.timeout = timeout
        cells = self.client.nb.cells
        cells.append(cell)
        try:
            self.client.execute_cell(cell, len(cells) - 1)
        except DeadKernelError:
            return "DeadKernelError: the kernel died answering this request"
        finally:
            cells.remove(cell)
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors:
            return f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}"[:500]
        return None

    def run_plan(self, steps: list[dict], failed_cells: set[str] | None = None) -> list[dict]:
        """The grader's requests, one at a time; each answer leaves the sandbox before the next."""
        answers = self.dir / "answers"
        answers.mkdir(exist_ok=True)
        inbox = self.home / ".grading"
        inbox.mkdir(exist_ok=True)
        log = []
        for step in steps:
            if "if_cell_failed" in step and step["if_cell_failed"] not in (failed_cells or set()):
                continue
            token = secrets.token_hex(8)
            if "probes" in step:
                target = inbox / f"probes-{token}.py"
                shutil.copy(step["probes"], target)
                err = self.ask(
                    f"import unet_tp_harness as _h\n_h.load_probes({str(self._inside(target))!r})\ndel _h",
                    self.job["request_timeout"],
                )
                log.append({"step": step["name"], "error": err})
                continue
            request, answer = inbox / f"req-{token}.npz", inbox / f"ans-{token}.npz"
            shutil.copy(step["request"], request)
            t0 = time.perf_counter()
            err = self.ask(
                "import unet_tp_harness as _h\n"
                f"_h.serve({str(self._inside(request))!r}, {str(self._inside(answer))!r})\ndel _h",
                self.job["request_timeout"],
            )
            taken = answers / f"{step['name']}.npz"
            if answer.is_file() and not answer.is_symlink():
                shutil.move(answer, taken)
            log.append(
                {"step": step["name"], "error": err, "seconds": round(time.perf_counter() - t0, 3)}
            )
            if err and err.startswith("DeadKernelError"):
                break
        return log

    def _inside(self, path: Path) -> str:
        if not self.sandboxed:
            return str(path)
        return f"{HOME}/{path.relative_to(self.home)}"

    def close(self) -> None:
        self._stop()
        self.stderr.close()


def _failed_cells(nb) -> set[str]:
    """grade ids of the cells that ended in an error (their visible check failed)."""
    failed = set()
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            failed.add(gid)
    return failed


def events(job_dir: Path) -> list[dict]:
    """What the kernel reported on its standard error (see ``unet_tp_harness.start``)."""
    found = []
    log = job_dir / "kernel_stderr.log"
    if not log.exists():
        return found
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("[unet-tp-event] "):
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line[len("[unet-tp-event] ") :])
                if isinstance(event, dict) and {"kind", "detail"} <= set(event):
                    found.append({"kind": str(event["kind"]), "detail": str(event["detail"])})
    return found


def main(job_dir: str) -> int:
    """``python -m autograder.execute JOB_DIR``: run ``JOB_DIR/job.json``."""
    job_dir_path = Path(job_dir)
    job = json.loads((job_dir_path / "job.json").read_text())
    if os.environ.get("UNET_TP_GRADING_DEBUG"):  # the kernel protocol, for a grader's developer
        import logging

        logging.basicConfig(filename=job_dir_path / "worker.log", level=logging.DEBUG)
    nb = nbformat.read(job_dir_path / "notebook.ipynb", 4)
    runner = Runner(job, job_dir_path)
    report: dict = {}
    try:
        report["run"] = runner.run_notebook(nb)
        nbformat.write(nb, job_dir_path / "executed.ipynb")
        report["plan"] = runner.run_plan(job["plan"], _failed_cells(nb))
    except Exception as exc:  # reported to the grader, which says so in the notes
        report["error"] = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            nbformat.write(nb, job_dir_path / "executed.ipynb")
    finally:
        runner.close()
    (job_dir_path / "execute.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
