"""Step 3 of grading: run one notebook in its sandbox, then put the grader's questions to it.

A worker process (``python -m autograder.execute JOB_DIR``) outside the sandbox, talking to the
kernel inside over Unix sockets. The sandbox's writable folders are the student's, so each kernel
start gets fresh ones, and after that this process writes nothing into them and follows no path in
them: requests appear in a read-only folder, answers are taken by directory file descriptor
(:func:`autograder.answers.take`), and the client connects once and never reconnects. Cells run in
order under a timeout; each test cell's requests are asked right after it (a probe only once every
request testing its block was asked); a cell that kills the kernel is skipped in a new kernel (a
test cell's requests still asked in its place). Out (in JOB_DIR): ``executed.ipynb``,
``answers/<step>.npz``, ``execute.json``. Nothing here grades.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import stat
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import nbformat
import zmq
import zmq.asyncio
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_output
from traitlets import Type

from autograder import messages as M
from autograder.answers import MAX_ANSWER_BYTES, MAX_SUBMISSION_BYTES, take
from autograder.cells import clear_outputs, grade_id, nbgrader_meta
from autograder.sandbox import (
    COLAB_STUB,
    GRADING,
    HARNESS_FILE,
    HARNESS_INSIDE,
    Limits,
    Sandbox,
    disk_use,
    held_use,
    remove_tree,
)

KERNEL_NAME = "unet-tp-sandbox"
# the request cell: the harness's function asked for, and the functions its defaults hold, must
# be the harness file's own before it runs (red team 31 put a serve of its own in its place,
# which answered the loss's requests with torch's): read through the function type, whose
# attributes no notebook changes; else no request is asked of this kernel. The cell calls no
# name the notebook could bind (red team 41's `def type(obj)` ran in it, before the harness,
# and answered the loss from the request file) and imports nothing (red team 42's `__len__` on
# `sys.__spec__._initializing` ran as `import sys` read it): the types come from a lambda's,
# the harness from the built-ins' module, the interpreter's `__import__`'s own (a lookup, not a
# call), the modules' dictionaries through the module type's own descriptor; a failed check
# raises a KeyError from a dict of its own, no class the notebook could have bound; the
# defaults are read through tuple's and dict's own methods (a subclass's `__len__` would run)
REQUEST_CELL = """\
{h}_t = (lambda: 0).__class__
{h}_type, {h}_i = {h}_t.__class__, __import__
if {h}_type({h}_i) is not {h}_type([].append) or {h}_i.__name__ != "__import__":
    {{}}[{replaced!r}]
{h}_dict = {h}_type({h}_i.__self__).__dict__["__dict__"].__get__
{h}_f = {h}_dict({h}_dict({h}_i.__self__)[{key!r}]).get({function!r})
{h}_held = [{h}_f]
if {h}_type({h}_f) is {h}_t:
    {h}_d, {h}_kw = {h}_t.__defaults__.__get__({h}_f), {h}_t.__kwdefaults__.__get__({h}_f)
    {h}_held += [] if {h}_d is None else [*{h}_type(()).__iter__({h}_d)]
    {h}_held += [] if {h}_kw is None else [*{h}_type({{}}).values({h}_kw)]
if {h}_type({h}_f) is not {h}_t or {h}_t.__code__.__get__({h}_f).co_name != {function!r} or [
    1 for g in {h}_held if {h}_type(g) is {h}_t and {h}_t.__code__.__get__(g).co_filename != {path!r}
]:
    {{}}[{replaced!r}]
{h}_f({args})
del {h}_t, {h}_type, {h}_i, {h}_dict, {h}_f, {h}_held, {h}_d, {h}_kw
"""
STARTUP = (
    "import unet_tp_harness\nunet_tp_harness.start({seconds}, {key!r}, {requests!r})\n"
    "del unet_tp_harness\n"
)
ANSWER_MARGIN = 5  # seconds: the kernel stops an answer this long before the request's timeout
# no thread of the kernel's that runs code the notebook can replace while an answer runs (the
# history's writer, the readers of standard output and error): what they would do is not graded
KERNEL_OPTIONS = ["--HistoryManager.enabled=False", "--IPKernelApp.capture_fd_output=False"]
MAX_CELL_OUTPUT = 200_000  # characters of output kept per cell
MAX_NOTEBOOK_OUTPUT = 20_000_000  # and in the whole notebook (a cell each: thousands of cells)
# the worker's own memory: a kernel sending messages faster than they are read fills ZMQ's queue
# in the worker (1000 messages of up to 64 MiB), outside the sandbox's limits
WORKER_MEMORY_BYTES = 4 << 30
FLOODED = 3  # the worker's exit status when a kernel flooded it (the notebook's doing)
FULL_DISK_FLOOR = 2 << 30  # free space under which a kernel is stopped, whatever it holds
POLL_SLICE = 0.2  # seconds: the longest a message that has arrived waits to be seen


class SlicedChannel(AsyncZMQSocketChannel):
    """A channel that waits for a message in slices of ``POLL_SLICE``, looking again after each.

    pyzmq's asyncio poll can miss the wake-up of a message that has arrived (zeromq/pyzmq#2173,
    jupyter/nbclient#312): after a cell that shows a widget, one cell in about fifteen had its
    ``execute_reply`` seen only when the cell's whole timeout ran out (the grader then marks it
    timed out), and output waited for without a timeout could be dropped. A slice ends with a
    non-blocking look at the socket, which finds such a message."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = POLL_SLICE if left is None else min(POLL_SLICE, left)
            if await self.socket.poll(int(step * 1000)):
                return await self._recv()
            if left is not None and left <= step:
                raise Empty


class SlicedClient(AsyncKernelClient):
    """An asynchronous kernel client whose channels are :class:`SlicedChannel`."""

    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)
    stdin_channel_class = Type(SlicedChannel)
    control_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    """A kernel manager whose clients are :class:`SlicedClient` (``NotebookClient(...,
    kernel_manager_class=SlicedKernelManager)``: the tests' notebook runs)."""

    client_factory = Type(SlicedClient, klass=AsyncKernelClient)


class OneConnectionClient(SlicedClient):
    """A kernel client that connects once and never reconnects, and runs no heartbeat (which
    would open a new connection to a socket path the kernel can replace)."""

    def _context_default(self):
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.RECONNECT_IVL, -1)
        context.setsockopt(zmq.MAXMSGSIZE, 64 << 20)
        return context

    def start_channels(self, *args, **kwargs):
        kwargs["hb"] = False
        return super().start_channels(*args, **kwargs)


def _kernel_manager(box: Sandbox, sandboxed: bool):
    """The kernel's manager: its command line (in the sandbox), sockets in the runtime folder."""
    spec_root = box.private / "kernels"
    spec_dir = spec_root / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    # interrupts as messages: a signal to bwrap would not reach the kernel inside
    spec = {"display_name": "unet-tp grading", "language": "python", "interrupt_mode": "message"}
    launch = ["-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_OPTIONS]
    if sandboxed:
        spec["argv"] = box.wrap([box.python(), "-s", *launch])
    else:  # --sandbox none: the grader's own interpreter, the harness beside it
        harness = Path(_harness_file(box, sandboxed)).parent
        harness.mkdir()
        shutil.copy(HARNESS_FILE, harness / "unet_tp_harness.py")
        shutil.copytree(COLAB_STUB, harness / "google")
        spec["argv"] = [sys.executable, *launch]
        spec["env"] = box.environment() | {
            "HOME": str(box.home),
            "IPYTHONDIR": str(box.home / ".ipython"),
            "MPLCONFIGDIR": str(box.home / ".config" / "matplotlib"),
            "PYTHONPATH": str(harness),
            "PATH": os.environ.get("PATH", ""),
        }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    km = SlicedKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_root)]),
        transport="ipc",
        ip=str(box.runtime / "k"),
        connection_file=str(box.runtime / "connection.json"),
    )
    km.client_factory = OneConnectionClient
    return km


def _harness_file(box: Sandbox, sandboxed: bool) -> str:
    """The harness's file as the kernel imports it (its functions' ``co_filename``)."""
    if sandboxed:
        return HARNESS_INSIDE
    return str(box.private / "kernels" / "harness" / "unet_tp_harness.py")


def _error_output(ename: str, evalue: str, more: str = ""):
    """An error output of a cell, as the kernel would have shown it."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}{more}"])


def _timeout_error(timeout: int) -> dict:
    """The error of a cell stopped by the per-cell timeout."""
    return _error_output(
        "CellTimeoutError", f"the cell ran for more than {timeout} s and was stopped"
    )


class DiskWatch:
    """Stops a kernel whose writable folders on the host (home, sockets, answers) pass
    ``Limits.disk_bytes`` in all, with the files it removed from them but holds open or mapped
    (:func:`held_use`): many files each under the file-size limit would fill the grading
    machine's disk. Read from here every ``interval`` seconds while the kernel runs, and
    after each cell (:meth:`over`: a cell that passed the limit quickly is the one skipped).
    Whatever the count misses (a removed file whose only descriptor is in flight in a socket,
    ``SCM_RIGHTS``), the kernel is also stopped when its disk's free space falls under
    :data:`FULL_DISK_FLOOR` (or half of what was free when it started, if less)."""

    def __init__(self, box: Sandbox, pid: int | None, interval: float = 0.25):
        self.folders = [box.home, box.runtime, *([box.answers] if box.answers else [])]
        self.limit, self.pid, self.interval = box.limits.disk_bytes, pid, interval
        self.root = box.home.parent  # the kernel's folders' own folder, which it cannot touch
        self.floor = min(_free(self.root) // 2, FULL_DISK_FLOOR)
        self.tripped = False
        self.low_disk = False  # stopped for the machine's free space, not its own folders
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="disk-watch", daemon=True)
        if self.limit and pid:
            self._thread.start()

    def over(self) -> bool:
        """Whether the folders are past the limit (the kernel then stopped)."""
        if self.tripped or not (self.limit and self.pid):
            return self.tripped
        try:
            used = disk_use(self.folders, past=self.limit)
            if used <= self.limit:  # and what it wrote then removed while holding it open
                used += held_use(self.pid, self.folders)
            if _free(self.root) < self.floor:  # its own folders within the limit or not
                used, self.low_disk = float("inf"), used <= self.limit
        except OSError:  # a folder the kernel made unreadable: not measured, stopped
            used = float("inf")
        if used > self.limit:
            self.tripped = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)  # bwrap: its sandbox dies with it
        return self.tripped

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and not self.over():
            pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _free(folder: Path) -> int:
    """Bytes free for us on the disk of ``folder``."""
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


TP_CELLS_SHARE = 0.5  # past this share of the notebook's time, the TP's own cells are skipped
SKIPPED_CELL = ("CellSkipped", "not run: the notebook had run for half of its time limit")
DEAD = "DeadKernelError: the kernel died answering this request"
NOT_ASKED = "not asked: a request of the same test ran to its time limit"
DEAD_CELL = (
    "DeadKernelError",
    "the kernel died running this cell (out of memory, too much written to disk, or the "
    "process was killed)",
    "; grading restarted it and went on without this cell",
)


class Runner:
    """One notebook's kernel in its sandbox, and the cells and requests sent to it."""

    def __init__(self, job: dict, job_dir: Path):
        self.job, self.dir = job, job_dir
        self.sandboxed = job["sandbox"] == "bwrap"
        self.stderr = open(job_dir / "kernel_stderr.log", "ab")  # noqa: SIM115
        self.drains: list[threading.Thread] = []
        self.client = None
        self.box: Sandbox | None = None
        self.starts = 0
        self.answers_fd: int | None = None
        self.observed: dict = {}
        self.replaced = 0  # requests whose harness function the notebook had replaced
        self.plan = job["plan"]
        self.done: set[str] = set()  # requests asked (once each, whatever came back)
        self.loaded: set[str] = set()  # probes in the current kernel
        self.failed: set[str] = set()  # test cells that ended in an error
        self.log: list[dict] = []
        self.budget = MAX_SUBMISSION_BYTES
        self.disk: DiskWatch | None = None
        self.disk_stops = 0  # kernels stopped for the disk their folders took
        self.low_disk_stops = 0  # of those, stopped because the machine's disk ran low
        self.started = time.monotonic()
        self.slow: set[str] = set()  # test cells one of whose requests ran to its time limit
        self.slow_cells: set[str | None] = set()  # test cells that ran to the cell timeout

    def _fresh_box(self) -> Sandbox:
        """New folders for a new kernel, built from nothing: the student's code has not run yet."""
        if self.box is not None:  # the last kernel's folders (stopped): their disk back
            remove_tree(self.box.home.parent)
        self.starts += 1
        root = Path(self.job["work"]) / f"kernel-{self.starts}"
        home, runtime, private = root / "home", root / "run", root / "private"
        requests, answers = root / "requests", root / "answers"
        shutil.copytree(self.job["template_home"], home, symlinks=True)
        shutil.copy(self.dir / "notebook.ipynb", home / self.job["notebook"])
        startup = home / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        seconds = self.job["request_timeout"] - ANSWER_MARGIN
        # the attribute of sys the requests find the harness as, in a file gone once the kernel
        # started
        self.harness_key = f"_unet_tp_harness_{secrets.token_hex(16)}"
        self.startup_file = startup / "00-unet-tp-grading.py"
        requests_inside = str(requests) if not self.sandboxed else f"{GRADING}/requests"
        self.startup_file.write_text(
            STARTUP.format(seconds=seconds, key=self.harness_key, requests=requests_inside)
        )
        for folder in (runtime, private, requests, answers):
            folder.mkdir(parents=True)
        env = dict(self.job.get("env", {}))
        if not self.sandboxed:
            env["UNET_TP_HOME"] = str(home / "unet_tp_home")
        self._close_answers()
        self.answers_fd = os.open(answers, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        limits = Limits(**self.job["limits"])
        return Sandbox(
            home, runtime, limits, env, private=private, requests=requests, answers=answers
        )

    def _client(self, nb):
        km = _kernel_manager(self.box, self.sandboxed)
        timeout = self.job["cell_timeout"]
        error = {k: _timeout_error(timeout)[k] for k in ("ename", "evalue", "traceback")}
        client = _bounded_client(nb, km=km, timeout=timeout, error_on_timeout=error)
        if os.environ.get("UNET_TP_GRADING_DEBUG"):
            client.log.setLevel(logging.DEBUG)
        return client

    def run_notebook(self, nb) -> dict:
        """Execute every cell, each test cell's requests right after it; past a cell that kills
        the kernel, start again without it, in new folders."""
        skip: set[int] = set()
        # five cells that kill the kernel at most; a request that kills it (asked at a skipped
        # test cell) is asked once, then the notebook runs again: each death moves on by one
        for attempt in range(5 + len(self.plan["requests"])):
            if len(skip) == 5:
                break
            for cell in nb.cells:
                clear_outputs(cell)
            self.box = self._fresh_box()
            self.loaded = set()
            if self.sandboxed:
                self.box.open_cgroups()  # before the kernel's command line is written
            self.client = self._client(nb)
            dead_at = None
            with self._kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type == "code" and not self._ran(index, cell, skip):
                        dead_at = index
                        break
                if dead_at is None:
                    return {"restarts": attempt, "skipped": sorted(skip)}
            skip.add(dead_at)
            self._stop()
        raise RuntimeError("the kernel died in five cells")

    def _ran(self, index: int, cell, skip: set[int]) -> bool:
        """Run one code cell (or skip it), then ask its test's requests; False if the kernel
        died."""
        gid = grade_id(cell)
        if index in skip or self._past_half(cell):
            cell.outputs = [_error_output(*(DEAD_CELL if index in skip else SKIPPED_CELL))]
            # a test cell's requests still asked here: past the cells after it, the grader's
            # own calls there (train_step given F.cross_entropy) answer them
            return not gid or self.ask_due(gid, once=index in skip)
        started = time.perf_counter()
        try:
            self.client.execute_cell(cell, index)
        except DeadKernelError:
            return False
        if self.disk is not None and self.disk.over():
            return False  # it wrote past the disk limit
        if time.perf_counter() - started >= self.job["cell_timeout"]:
            # stopped by the timeout, not by a KeyboardInterrupt
            outs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
            cell.outputs = [*outs, _timeout_error(self.job["cell_timeout"])]
            self.slow_cells.add(gid)  # (its visible check would run as long: not asked)
        failed = _failed(cell)
        if failed and self._call("let_go") == DEAD:
            return False
        return not gid or self.ask_due(gid, failed)

    def _past_half(self, cell) -> bool:
        """Whether ``cell`` is one of the TP's own (not an answer: a test cell, the training
        cell, a figure's) and the notebook has run past half its time (instructor round 28: an
        answer looping made each cell after it run to its timeout, the notebook was stopped at
        its limit, and the answers' requests not yet asked cost every block after it)."""
        meta = nbgrader_meta(cell)
        limit = self.job["notebook_timeout"] * TP_CELLS_SHARE
        return bool(meta) and not meta.get("solution") and time.monotonic() - self.started > limit

    @contextlib.contextmanager
    def _kernel(self):
        read_end, write_end = os.pipe()
        try:
            run_sync(self.client.km.start_kernel)(
                stdout=write_end, stderr=write_end, cwd=str(self.box.home)
            )
        finally:
            os.close(write_end)
            self.drains.append(_drain(read_end, self.stderr))
        provisioner = getattr(self.client.km, "provisioner", None)
        self.disk = DiskWatch(self.box, getattr(provisioner, "pid", None))
        try:
            self._wait_for_sockets()
            self.client.start_new_kernel_client()  # (the start-up file has run)
            self.startup_file.unlink()
            yield
        except BaseException:
            self._stop()
            raise

    def _wait_for_sockets(self, timeout: float = 120) -> None:
        """Until the kernel listens on its sockets, before any student code runs (the client
        connects once: a connection refused would never be tried again)."""
        info = self.client.km.get_connection_info()
        ports = [info[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port")]
        waiting = [f"{info['ip']}-{port}" for port in ports]
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            waiting = [path for path in waiting if not _accepts(path)]
            if waiting and not _alive(self.client.km):
                raise RuntimeError("the kernel did not start")
            time.sleep(0.05 if waiting else 0)
        if waiting:
            raise RuntimeError("the kernel did not start in time")

    def _stop(self) -> None:
        if self.disk is not None:
            self.disk.stop()
            self.disk_stops += self.disk.tripped
            self.low_disk_stops += self.disk.low_disk
            self.disk = None
        if self.client is not None and self.client.km is not None:
            with contextlib.suppress(Exception):
                self.client.kc.stop_channels()
            with contextlib.suppress(Exception):
                run_sync(self.client.km.shutdown_kernel)(now=True)
        if self.box is not None:
            self.box.close_cgroups()

    def _close_answers(self) -> None:
        if self.answers_fd is not None:
            os.close(self.answers_fd)
            self.answers_fd = None

    def _call(self, function: str, *paths: str) -> str | None:
        """``<harness>.<function>(*paths)`` in the kernel (not a notebook cell); the error
        it raised, if any."""
        args = ", ".join(map(repr, paths))
        h = f"_unet_tp_{secrets.token_hex(8)}"  # names the notebook cannot have bound (a red
        # team's object bound to a fixed `_h`, dropped by the import, put a proxy in its place)
        cell = new_code_cell(
            REQUEST_CELL.format(
                h=h,
                key=self.harness_key,
                function=function,
                path=_harness_file(self.box, self.sandboxed),
                replaced=M.HARNESS_REPLACED,
                args=args,
            )
        )
        cell_timeout, self.client.timeout = self.client.timeout, self.job["request_timeout"]
        cells = self.client.nb.cells
        cells.append(cell)
        try:
            # (not in the kernel's history: In, _i; the harness drops it from linecache)
            self.client.execute_cell(cell, len(cells) - 1, store_history=False)
        except DeadKernelError:
            return DEAD
        finally:
            cells.remove(cell)
            self.client.timeout = cell_timeout
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if errors:
            return f"{errors[-1].get('ename')}: {errors[-1].get('evalue')}"[:500]
        return None

    def ask_due(self, at: str | None, failed: bool = False, once: bool = False) -> bool:
        """Ask, once each, the requests due after test cell ``at`` (None: all still unasked)
        whose probes may enter; a visible check only after a failed cell. False: kernel died
        (``once``: and the cell's other requests are not asked, one new kernel for all)."""
        if failed and at is not None:
            self.failed.add(at)
        steps = [s for s in self.plan["requests"] if at is None or s["at"] == at]
        for step in steps:
            if step["name"] in self.done:
                continue
            waiting = step.get("visible") and step["at"] not in self.failed
            if waiting or not self._probes_ready(step["probes"]):
                continue
            self.done.add(step["name"])
            if self._not_asked(step):
                continue
            if not self._ask_request(step):
                if once:
                    self.done |= {s["name"] for s in steps}
                return False
            if self.log[-1]["seconds"] >= self.job["request_timeout"] - ANSWER_MARGIN:
                self.slow.add(step["at"])
        return True

    def _not_asked(self, step: dict) -> bool:
        """Whether ``step`` is left unasked (no answer: it costs what a timed-out one does):
        another request of its test ran to its time limit (the same answer, looping, asked
        again and again: minutes each), or it is the visible check of a test cell that did."""
        visible = step.get("visible") and step["at"] in self.slow_cells
        if step["at"] in self.slow or visible:
            self.log.append({"step": step["name"], "error": NOT_ASKED, "seconds": 0})
            return True
        return False

    def finish(self) -> None:
        """Ask the requests left (test cell skipped, probes waiting) until none can be asked."""
        while True:
            before = len(self.done)
            if not self.ask_due(None) or len(self.done) == before:
                return

    def _probes_ready(self, names: list[str]) -> bool:
        """Load the probes ``names``, each once every request testing its block was asked; False
        if one may not enter yet."""
        for name in names:
            if name in self.loaded:
                continue
            probe = self.plan["probes"][name]
            if not set(probe["requires"]) <= self.done:
                return False
            file = f"probes-{secrets.token_hex(8)}.py"
            (self.box.requests / file).write_text(probe["source"])
            err = self._call("load_probes", self._inside("requests", file))
            (self.box.requests / file).unlink()
            self.log.append({"step": f"probe {name}", "error": err})
            if err:
                return False
            self.loaded.add(name)
        return True

    def _ask_request(self, step: dict) -> bool:
        """Ask one request and take its answer at once; False if the kernel died."""
        token = secrets.token_hex(8)
        request, answer = f"req-{token}.npz", f"ans-{token}.npz"
        shutil.copy(step["request"], self.box.requests / request)
        t0 = time.perf_counter()
        err = self._call(
            "serve", self._inside("requests", request), self._inside("answers", answer)
        )
        replaced = err == f"KeyError: {M.HARNESS_REPLACED!r}"
        self.replaced += replaced  # (then no answer is taken: what wrote it is not the harness;
        # nor where serving raised: red team 71's answer, written by the notebook while the
        # harness's own write failed, was judged)
        budget = min(MAX_ANSWER_BYTES, self.budget)
        got = None if replaced or err else take(self.answers_fd, answer, budget)
        (self.box.requests / request).unlink()
        entry = {"step": step["name"], "error": err, "seconds": round(time.perf_counter() - t0, 3)}
        entry["file"] = answer  # (the grader compares its bytes with what the harness said)
        if isinstance(got, bytes):
            entry["sha256"] = hashlib.sha256(got).hexdigest()
            self.budget -= len(got)
            answers = self.dir / "answers"
            answers.mkdir(exist_ok=True)
            (answers / f"{step['name']}.npz").write_bytes(got)
        else:
            entry["answer"] = got
        self.log.append(entry)
        return not (err and err.startswith("DeadKernelError"))

    def _inside(self, folder: str, name: str) -> str:
        """Where a file of the requests or answers folder is, as the kernel sees it."""
        if not self.sandboxed:
            return str(getattr(self.box, folder) / name)
        return f"{GRADING}/{folder}/{name}"

    def observe(self) -> None:
        """What the sandbox refused, read from outside the kernel, before it is stopped."""
        if self.box is None or not self.sandboxed:
            return
        self.observed = dict(self.box.refusals())
        sent = self.box.network_attempts()
        if sent:
            self.observed["network"] = sent

    def stopped_for_disk(self) -> dict[str, int]:
        """``{"disk": n}``: the kernels stopped for their folders' disk (none: empty)."""
        n = self.disk_stops + bool(self.disk is not None and self.disk.tripped)
        return {"disk": n} if n else {}

    def stopped_for_low_disk(self) -> int:
        """Of those, the kernels stopped because the machine's disk ran low, whoever filled it."""
        return self.low_disk_stops + bool(self.disk is not None and self.disk.low_disk)

    def close(self) -> None:
        self._stop()
        self._close_answers()
        for drain in self.drains:  # (each ends as its kernel's end of the pipe closes)
            drain.join(timeout=30)
        self.stderr.close()


# The kernel's standard error, where the harness writes its notes, is a pipe the grader reads
# (a file, the kernel could truncate: ``open("/proc/self/fd/2", "w")``), copied to the job's log
# up to this size (a larger one is flagged by the grader, and the rest read and dropped)
LOG_COPIED = (64 << 20) + (1 << 20)


def _drain(read_end: int, log) -> threading.Thread:
    """A thread copying the pipe ``read_end`` to ``log`` until the kernel's end closes."""

    def copy() -> None:
        copied = 0
        with open(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                if copied < LOG_COPIED and not log.closed:
                    with contextlib.suppress(OSError, ValueError):
                        log.write(chunk[: LOG_COPIED - copied])
                        log.flush()
                copied += len(chunk)

    thread = threading.Thread(target=copy, name="kernel-stderr", daemon=True)
    thread.start()
    return thread


def _accepts(path: str) -> bool:
    """Whether a Unix socket at ``path`` accepts a connection (bound and listening)."""
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1)
                probe.connect(path)
                return True
    return False


def _alive(km) -> bool:
    try:
        return bool(run_sync(km.is_alive)())
    except Exception:
        return False


class Bounded(NotebookClient):
    """A NotebookClient that keeps at most ``MAX_CELL_OUTPUT`` characters of each cell's output,
    ``MAX_NOTEBOOK_OUTPUT`` in all (a kernel that prints gigabytes, in one cell or in thousands,
    costs this process nothing; one message is capped by the client's ``MAXMSGSIZE``), outputs
    as first shown (no display updates), and no widget: grading has no front end, and a widget's
    state or an output widget's outputs would be kept whole."""

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None:
            return out
        size = len(json.dumps(out))
        self.sizes[cell_index] = self.sizes.get(cell_index, 0) + size
        if self.sizes[cell_index] <= MAX_CELL_OUTPUT and self.total + size <= MAX_NOTEBOOK_OUTPUT:
            self.total += size  # kept
        elif outs and outs[-1] is out:
            in_cell = self.sizes[cell_index] > MAX_CELL_OUTPUT
            limit = (
                f"{MAX_CELL_OUTPUT:,} characters"
                if in_cell
                else (f"{MAX_NOTEBOOK_OUTPUT:,} characters in the notebook")
            )
            cut = f"[grading: output past {limit} not kept]\n"
            if display_id:  # keep its place (display updates find it by index), not its data
                out.clear()
                out.update(new_output("stream", name="grading", text=cut))
            else:
                outs.pop()
                if not outs or outs[-1].get("name") != "grading":
                    outs.append(new_output("stream", name="grading", text=cut))
        return out

    def _update_display_id(self, display_id, msg):
        return None

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # no widget state kept, no output widget (its outputs would be uncapped)


def _bounded_client(nb, **kwargs) -> Bounded:
    settings = {"startup_timeout": 120, "allow_errors": True, "interrupt_on_timeout": True}
    client = Bounded(nb, record_timing=True, kernel_name=KERNEL_NAME, **settings, **kwargs)
    client.sizes, client.total = {}, 0
    client.store_widget_state = False
    return client


def _failed(cell) -> bool:
    """Whether a cell ended in an error (a test cell: its visible check failed)."""
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def watch_own_memory(limit: int = WORKER_MEMORY_BYTES, every: float = 0.2) -> None:
    """Stop this worker, saying why, once it holds more than ``limit`` bytes: a flooding kernel
    costs its own notebook's grading (the grader says the worker failed), not the machine."""
    page = os.sysconf("SC_PAGE_SIZE")

    def watch():
        while True:
            with open("/proc/self/statm") as f:
                held = int(f.read().split()[1]) * page
            if held > limit:
                print(
                    f"stopped: the kernel sent more than the grader holds ({limit >> 20} MiB)",
                    file=sys.stderr,
                    flush=True,
                )
                os._exit(FLOODED)
            time.sleep(every)

    threading.Thread(target=watch, name="memory-watch", daemon=True).start()


def main(job_dir: str) -> int:
    """``python -m autograder.execute JOB_DIR``: run ``JOB_DIR/job.json``."""
    watch_own_memory()
    job_dir_path = Path(job_dir)
    job = json.loads((job_dir_path / "job.json").read_text())
    if os.environ.get("UNET_TP_GRADING_DEBUG"):  # the kernel protocol, for a grader's developer
        logging.basicConfig(filename=job_dir_path / "worker.log", level=logging.DEBUG)
    nb = nbformat.read(job_dir_path / "notebook.ipynb", 4)
    runner = Runner(job, job_dir_path)
    report: dict = {}
    try:
        report["run"] = runner.run_notebook(nb)
        nbformat.write(nb, job_dir_path / "executed.ipynb")
        runner.finish()
        runner.observe()
    except Exception as exc:  # reported to the grader, which says so in the notes
        report["error"] = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            nbformat.write(nb, job_dir_path / "executed.ipynb")
    finally:
        report["plan"] = runner.log
        report["observed"] = runner.observed | runner.stopped_for_disk()
        report["replaced"] = runner.replaced  # (requests whose harness function was replaced)
        report["low_disk"] = runner.stopped_for_low_disk()  # graded again at the next run
        runner.close()
    (job_dir_path / "execute.json").write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
