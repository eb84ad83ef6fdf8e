"""The worker's notebook client (autograder/execute.py): what it keeps of a kernel's outputs."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import types

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import REPO_ROOT, execute
from autograder import messages as M


def _client(cells: int):
    nb = new_notebook(cells=[new_code_cell("print('x' * 190_000)") for _ in range(cells)])
    client = execute._bounded_client(nb, timeout=10)
    client.reset_execution_trackers()  # as at the start of a run, and of each cell
    client.clear_before_next_output = False
    return nb, client


def _stream(text: str) -> dict:
    content = {"name": "stdout", "text": text}
    return {"msg_type": "stream", "header": {"msg_type": "stream"}, "parent_header": {},
            "content": content}  # fmt: skip


def test_thousands_of_cells_each_under_the_cell_cap_keep_a_bounded_notebook():
    """Each cell printing just under ``MAX_CELL_OUTPUT``: the cell cap let 3000 cells of a 570 KB
    submission grow the worker past 650 MB (and as much on disk); the notebook's cap stops it."""
    per_cell = execute.MAX_CELL_OUTPUT - 10_000
    cells = 2 * execute.MAX_NOTEBOOK_OUTPUT // per_cell
    nb, client = _client(cells)
    for index, cell in enumerate(nb.cells):
        client.output(cell.outputs, _stream("x" * per_cell), None, index)
    kept = len(json.dumps([c.outputs for c in nb.cells]))
    assert execute.MAX_NOTEBOOK_OUTPUT / 2 < kept <= execute.MAX_NOTEBOOK_OUTPUT + 100 * cells
    assert "in the notebook not kept" in nb.cells[-1].outputs[-1]["text"]
    assert nb.cells[0].outputs[0]["text"] == "x" * per_cell  # the first cells are whole


def test_widget_messages_are_not_kept():
    """``Comm(data={"state": ...})`` from the kernel: nbclient kept every widget's state whole
    (150 of 8 MiB: 1.2 GB in the worker, uncapped); grading has no front end to show them."""
    nb, client = _client(1)
    blob = "x" * (1 << 20)
    for i in range(5):
        msg = {"msg_type": "comm_open", "header": {"msg_type": "comm_open"}, "parent_header": {},
               "content": {"comm_id": f"c{i}", "target_name": "unet-tp-flood",
                           "data": {"state": {"blob": blob}}}}  # fmt: skip
        client.handle_comm_msg(nb.cells[0].outputs, msg, 0)
    assert not client.widget_state and not client.comm_objects
    client.set_widgets_metadata()
    assert len(nbformat.writes(nb)) < 10_000


@pytest.mark.slow
def test_a_worker_past_its_memory_stops_saying_why():
    """A kernel can send messages faster than the worker reads them (ZMQ queues them in the
    worker, outside the sandbox: up to 1000 x 64 MiB, attack8); past its bound the worker stops
    with a line the grader quotes, costing that notebook alone."""
    code = "from autograder import execute\nexecute.watch_own_memory(limit=1)\nimport time\ntime.sleep(30)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "stopped: the kernel sent more than the grader holds" in done.stderr
    code = "from autograder import execute\nexecute.watch_own_memory()\nimport time\ntime.sleep(1)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # an honest worker holds far less


class _MissedWakeUp:
    """A socket whose message has arrived but whose blocking poll never wakes for it (pyzmq's
    missed wake-up): only a non-blocking look (``poll(0)``) or the end of a poll's timeout sees it."""

    def __init__(self):
        self.polls: list[int | None] = []

    async def poll(self, timeout_ms=None):
        self.polls.append(timeout_ms)
        return int(len(self.polls) > 1)  # the first poll sleeps through the message


def test_a_message_whose_wake_up_is_missed_is_found_within_a_slice_not_at_the_timeout(
    monkeypatch,
):
    """Seen in the notebook tests: after a cell showing a widget, a cell's ``execute_reply`` was
    found only when its 600 s timeout ran out (and the grader would have marked the cell timed
    out). Each wait now polls at most ``POLL_SLICE`` and looks again."""
    import asyncio
    from queue import Empty

    channel = execute.SlicedChannel.__new__(execute.SlicedChannel)
    channel.socket = _MissedWakeUp()

    async def _recv():
        return {"msg_type": "execute_reply"}

    channel._recv = _recv
    assert asyncio.run(channel.get_msg(timeout=600))["msg_type"] == "execute_reply"
    assert channel.socket.polls == [int(execute.POLL_SLICE * 1000)] * 2  # not one poll of 600 s
    channel.socket = _MissedWakeUp()
    assert asyncio.run(channel.get_msg(timeout=None))["msg_type"] == "execute_reply"

    clock = [0.0]  # (the channel's clock: each poll waits its whole slice, however loaded)
    monkeypatch.setattr(execute, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))

    class _Silent(_MissedWakeUp):
        async def poll(self, timeout_ms=None):
            self.polls.append(timeout_ms)
            clock[0] += timeout_ms / 1000
            return 0

    channel.socket = _Silent()
    with pytest.raises(Empty):  # nothing came: the timeout is still kept
        asyncio.run(channel.get_msg(timeout=0.5))
    assert max(channel.socket.polls) == int(execute.POLL_SLICE * 1000)
    assert 499 <= sum(channel.socket.polls) <= 500  # slices adding up to the timeout


def test_each_kernel_gets_its_share_of_the_cores_and_no_more_than_omp_num_threads(monkeypatch):
    """More torch threads than cores made every kernel spin-wait (two 2-thread trainings on 2
    cores: 12 times slower than one alone): each of ``--jobs`` kernels gets its share of the
    CPUs, at most ``$OMP_NUM_THREADS`` when the instructor set it."""
    from autograder.grade import kernel_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert [kernel_threads(jobs) for jobs in (1, 2, 3, 8)] == [4, 2, 1, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert kernel_threads(1) == 1
    for ignored in ("0", "many", ""):
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert kernel_threads(2) == 2


ONE_PROCESS = """\
import os, subprocess, sys, threading
from concurrent.futures import ThreadPoolExecutor
import torch
from torch.utils.data import DataLoader
from autograder import harness
asleep = threading.Thread(target=threading.Event().wait, args=(30,), daemon=True)
asleep.start()  # a thread already running gets the filter too (ipykernel's)
log = os.dup(2)  # the harness's descriptor of the log (harness._find_log)
print("filter", harness._one_process(log))
for name, start in [
    ("python -c", lambda: subprocess.run([sys.executable, "-c", "print(1)"])),
    ("fork", os.fork),
    ("posix_spawn", lambda: os.posix_spawn("/bin/true", ["true"], {})),
    ("loader workers", lambda: list(DataLoader(range(4), num_workers=2))),
]:
    try:
        start()
        print(name, "ran")
    except OSError as exc:
        print(name, "refused", exc.errno)
print("system", os.system("true"))
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME: refused
# nor a new namespace, io_uring (which runs calls the filter never sees), another personality
import platform
x86 = platform.machine() == "x86_64"
for name, nr, args in [
    ("unshare", 272 if x86 else 97, (0x10000000,)),  # CLONE_NEWUSER
    ("io_uring_setup", 425, (8, 0)),
    ("personality", 135 if x86 else 92, (0xFFFFFFFF,)),  # a query: changes nothing
]:
    print(name, libc.syscall(nr, *args), ctypes.get_errno())
with ThreadPoolExecutor(2) as pool:
    print("threads", sum(pool.map(abs, [-1, -2])))
# round 23: the log's descriptor neither closed, replaced nor made non-blocking; others are
null = os.open(os.devnull, os.O_WRONLY)
for name, take in [
    ("dup2", lambda: os.dup2(null, log)),
    ("close", lambda: os.close(log)),
    ("non-blocking", lambda: os.set_blocking(log, False)),
    ("copied", lambda: os.dup2(log, 500)),  # (round 24: a copy shares its flags)
    ("dup", lambda: os.dup(log)),
]:
    try:
        take()
        print(name, "ran")
    except OSError as exc:
        print(name, "refused", exc.errno)
print("close_range", libc.syscall(436, log, log, 0), ctypes.get_errno())
os.closerange(log, log + 1)  # (CPython's then closes one by one: refused, its errors ignored)
os.write(log, b"the log still written\\n")
other = os.dup(null)
print("dup2 elsewhere", os.dup2(null, other) == other)  # any other descriptor: as before
print("loader", [b.tolist() for b in DataLoader(range(4), batch_size=2)])
torch.set_num_threads(2)
print("matmul", float((torch.ones(300, 300) @ torch.ones(300, 300)).sum()))
"""


@pytest.mark.slow  # runs a kernel
@pytest.mark.skipif(sys.platform != "linux", reason="a seccomp filter: Linux only")
def test_the_kernel_starts_no_other_process_and_still_runs_threads():
    """The harness denies the kernel every other process for good (a seccomp filter): a `python
    -c` server, a forked copy or a data loader's workers would run code the grader's watch does
    not see. Threads, torch's among them, still run, and num_workers=0 still loads."""
    done = subprocess.run(
        [sys.executable, "-c", ONE_PROCESS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "filter True"
    for name in ("python -c", "fork", "posix_spawn", "loader workers"):
        assert f"{name} refused 1" in lines, done.stdout  # EPERM
    assert "system 0" not in lines  # the shell never started
    assert "ptrace -1 1" in lines  # nor is another process reached into
    for name in ("unshare", "io_uring_setup", "personality"):
        assert f"{name} -1 1" in lines, done.stdout
    assert "threads 3" in lines
    for name in ("dup2", "close", "non-blocking", "copied", "dup"):
        assert f"{name} refused 1" in lines, done.stdout
    assert "close_range -1 1" in lines and "dup2 elsewhere True" in lines
    assert "the log still written" in done.stderr
    assert "loader [[0, 1], [2, 3]]" in lines
    assert "matmul 27000000.0" in lines


HIDDEN = r"""
import linecache, shutil, sys
shutil.copy(HARNESS, "unet_tp_harness.py")
sys.path.insert(0, ".")
import unet_tp_harness
unet_tp_harness.start(5, "_unet_tp_harness_k")  # as the grader's start-up file
del unet_tp_harness
try:
    import unet_tp_harness
    print("by its name: imported")
except ImportError:
    print("by its name: nothing")
h = sys._unet_tp_harness_k
print("in sys.modules", [k for k, m in list(sys.modules.items()) if m is h])
linecache.cache["<request>"] = (1, None, ["import _unet_tp_harness_k as h\n"], "<request>")
linecache.cache["<cell>"] = (1, None, ["x = 1\n"], "<cell>")
print("swapped", h._forget_requests(), "<request>" in linecache.cache, "<cell>" in linecache.cache)
sys._unet_tp_harness_k = type(sys)("unet_tp_harness")
print("replaced", h._forget_requests())
sys._unet_tp_harness_k = h
linecache.cache = dict(linecache.cache)
print("cache", h._forget_requests())
"""


def test_the_harness_is_reached_by_the_graders_key_alone(tmp_path):
    """Once started, the harness's own name imports nothing (red teams 26, 27 imported it by name
    through pydoc, traitlets, matplotlib's backends), nor is it among sys.modules' (red team 28
    found it there): it is an attribute of sys by the grader's key; the request cells (IPython keeps each cell's
    text in linecache) are dropped there before the notebook's code runs; another module under
    the key, or another linecache.cache, is named as a swapped hook (it costs the answers)."""
    code = f"HARNESS = {str(REPO_ROOT / 'autograder' / 'harness.py')!r}\n" + HIDDEN
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "by its name: nothing" in lines, done.stdout
    assert "swapped [] False True" in lines, done.stdout
    assert "in sys.modules []" in lines, done.stdout  # (nor found there among the modules)
    assert "replaced ['sys.<harness>']" in lines, done.stdout
    assert "cache ['linecache.cache']" in lines, done.stdout


def test_a_request_cell_asks_only_the_harness_files_own_function(tmp_path):
    """The worker's request cell calls the harness's function only if it, and the functions its
    defaults hold, are the harness file's (red team 31 put a serve of its own in its place and
    answered the loss's requests with torch's; a default swapped, the check it holds would not
    run); else it raises, and the worker takes no answer (execute.Runner)."""
    harness = tmp_path / "unet_tp_harness.py"
    harness.write_text(
        "def _hooks_swapped():\n    return []\n\n\n"
        "def serve(request, answer, *, _swapped_hooks=_hooks_swapped):\n"
        "    print('served', request, answer)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import unet_tp_harness as module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("unet_tp_harness", None)
    cell = execute.REQUEST_CELL.format(
        h="_h", key="_unet_tp_test_key", function="serve", path=str(harness),
        replaced=M.HARNESS_REPLACED, args="'req', 'ans'",
    )  # fmt: skip

    called = []

    def spy(*args, **kwargs):  # a function of the notebook's, bound to a built-in's name
        called.append(args)
        return type(args[0]) if args else None

    def run(**bound) -> str:
        try:
            exec(cell, dict(bound))  # noqa: S102 (the cell the worker sends)
        except KeyError as exc:
            return exc.args[0]
        return "asked"

    vars(builtins)["_unet_tp_test_key"] = module  # (as harness._hide puts it)
    try:
        assert run() == "asked"
        genuine = module.serve
        module.serve = lambda request, answer: None  # the notebook's own
        assert run() == M.HARNESS_REPLACED
        module.serve = genuine
        genuine.__kwdefaults__ = {"_swapped_hooks": lambda: []}
        assert run() == M.HARNESS_REPLACED
        genuine.__kwdefaults__ = {"_swapped_hooks": module._hooks_swapped}
        module.serve = module._hooks_swapped  # the file's, but not the function asked for
        assert run() == M.HARNESS_REPLACED
        module.serve = genuine
        # red team 41: a `def type(obj)` of the notebook's ran in the cell, before the harness
        # (it answered the loss from the request file); none of its names is called now
        shadows = {n: spy for n in ("type", "getattr", "RuntimeError", "list", "dict", "tuple")}
        assert run(**shadows) == "asked" and called == []
        # and an `__import__` of the notebook's (built-ins rewritten) is never called
        own = {**vars(builtins), "__import__": spy}
        assert run(__builtins__=own) == M.HARNESS_REPLACED and called == []
        # red team 42: `import sys` read `sys.__spec__._initializing`, an object of the
        # notebook's whose `__len__` ran; the cell imports nothing now

        class Flag:
            def __len__(self):
                called.append("import")
                return 0

        spec = sys.__spec__
        had, spec._initializing = getattr(spec, "_initializing", None), Flag()
        try:
            assert run() == "asked" and called == []
        finally:
            spec._initializing = had
    finally:
        del vars(builtins)["_unet_tp_test_key"]


_KERNEL_THREADS = r"""
import asyncio, json, queue, sys, threading, time
sys.path.insert(0, ROOT)
from autograder import harness
harness.start(2)  # as the start-up file: an answer stopped after 2 s
import torch, torch.nn.functional as F
from autograder.grade import _watch
from autograder.spec import load

names = sorted(t.name for t in threading.enumerate())
jobs, replies = queue.Queue(), queue.Queue()


async def serve():  # a coroutine of the notebook's handed the kernel's control loop
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            await asyncio.sleep(0.001)
            continue
        replies.put(F.cross_entropy(*job))


control = get_ipython().kernel.control_thread.io_loop.asyncio_loop
asyncio.run_coroutine_threadsafe(serve(), control)
x, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
watch = harness._Watch({"watch": _watch(load().block("e"))})
with watch.running():
    jobs.put((x, y))
    try:
        answered = bool(replies.get(timeout=1).shape == ())
    except queue.Empty:
        answered = False
later = replies.get(timeout=10).shape == ()  # once the loop was let go
try:
    with harness._Watch({"watch": _watch(load().block("e"))}).running():
        time.sleep(30)
    stopped = False
except KeyboardInterrupt:
    stopped = True
# the watch's settings changed mid-answer, or a method shadowed on the instance (red team 29)
blinded = []
for change in ("names", "allowed", "_seen"):
    w = harness._Watch({"watch": _watch(load().block("e"))})
    with w.running():
        if change == "_seen":
            w._seen = lambda module, qualname: None
        else:
            setattr(w, change, type(getattr(w, change))())
    blinded.append(w.ran[:1] == [harness.UNWATCHED])
ip = get_ipython()
ip.run_line_magic("load_ext", "autoreload")  # (a library's callbacks: autoreload's, the
ip.run_line_magic("autoreload", "2")  # inline backend's)
ip.run_line_magic("matplotlib", "inline")
at_start = harness._hooks_swapped()  # (a library's changes: none)
libraries_only = not harness._code_around_cells() and not at_start
ip.events.register("post_run_cell", lambda result: None)
around = harness._code_around_cells()
# what runs the grader's next request, given code of the notebook's (a red team's routes)
kept, run_cell = ip.kernel.shell_handlers["execute_request"], vars(type(ip)).get("run_cell")
ip.should_run_async = lambda code, *args, **kwargs: False
ip.kernel.shell_handlers["execute_request"] = torch.no_grad()(lambda *args: None)
type(ip).run_cell = lambda self, *args, **kwargs: None
# and what requests are read and answers written through (json is not: the harness's own)
import json as json_module, numpy, pathlib, zipfile
savez, writestr, suffix = numpy.savez, zipfile.ZipFile.writestr, type(pathlib.Path(".")).with_suffix
numpy.savez = lambda *args, **kwargs: savez(*args, **kwargs)
zipfile.ZipFile.writestr = lambda self, *args: writestr(self, *args)
type(pathlib.Path(".")).with_suffix = lambda self, s: suffix(self, s)
dumps, json_module.dumps = json_module.dumps, lambda *args, **kwargs: "{}"
written = harness._dumps({"ran": ["torch.nn.functional.cross_entropy"]})
json_module.dumps = dumps  # (the kernel's messages are written with it)
# numpy's header writer replaced (round 17 wiped the watch's findings there): not what writes
import numpy.lib.format as npy_format
impl = sys.modules.get("numpy.lib._format_impl", npy_format)
header, impl.header_data_from_array_1_0 = impl.header_data_from_array_1_0, lambda a: 1 / 0
harness.write_message(ROOT_ANSWER, {"ran": ["torch.nn.functional.cross_entropy"]}, {"x": torch.ones(2).numpy()})
impl.header_data_from_array_1_0 = header
with numpy.load(ROOT_ANSWER) as data:
    written_npz = [str(data["__meta__"]), data["x"].tolist()]
swapped = harness._hooks_swapped()
numpy.savez, zipfile.ZipFile.writestr = savez, writestr
del type(pathlib.Path(".")).with_suffix
del ip.should_run_async
type(ip).run_cell = run_cell
ip.kernel.shell_handlers["execute_request"] = kept
# what the requests' own code calls with the grader's arrays around the watch, replaced (red team
# 83: torch.from_numpy computed torch's loss of the request's logits before the answer ran)
import types
from_numpy, clone, real_nn = torch.from_numpy, torch.Tensor.clone, torch.nn
real_f = sys.modules["torch.nn.functional"]
torch.from_numpy, torch.Tensor.clone = lambda a: from_numpy(a), lambda self: clone(self)
torch.nn, sys.modules["torch.nn.functional"] = types.ModuleType("nn"), types.ModuleType("F")
torch_swapped = harness._hooks_swapped()
torch.from_numpy, torch.nn, sys.modules["torch.nn.functional"] = from_numpy, real_nn, real_f
del torch.Tensor.clone
# and the standard library's functions the harness's own code calls (red team 84: time.monotonic,
# called as the watch began, read the request's arrays in a frame below it)
import contextlib


def _install(module, name, value):
    setattr(module, name, value)


monotonic, manager = time.monotonic, contextlib._GeneratorContextManager
_install(time, "monotonic", lambda: monotonic())
_install(contextlib, "_GeneratorContextManager", type("Manager", (manager,), {}))
wait = threading.Event.wait
threading.Event.wait = lambda self, timeout=None: wait(self, timeout)
own_swapped_too = harness._hooks_swapped()
time.monotonic, contextlib._GeneratorContextManager, threading.Event.wait = monotonic, manager, wait
# the built-ins rewritten through a built-in's module (red team 41: a notebook's function run
# by every library, the harness's own reading of the request before its checks)
real_divmod, len.__self__.divmod = divmod, lambda a, b: (0, 0)
rewritten = harness._hooks_swapped()
len.__self__.divmod = real_divmod
# the harness's own functions and lists (red team 25 replaced _plain, which the watch calls)
plain, running = harness._plain, vars(harness._Watch)["running"]
harness.len = lambda value: 0  # (a builtin's name, shadowed)
own_added = harness._hooks_swapped()
del harness.len
harness._plain = lambda name: ""
harness._Watch.running = lambda self: None
harness._LIBRARIES.append("/")
harness._note.__defaults__ = ("watch",)
loss_kind, harness._KINDS["loss"] = harness._KINDS["loss"], lambda *args: ({"ran": []}, {})
own_swapped = harness._hooks_swapped()
harness._plain, harness._Watch.running, harness._note.__defaults__ = plain, running, None
harness._KINDS["loss"] = loss_kind
harness._LIBRARIES.pop()
# a method's code swapped in place (the class holds the same function), the JSON decoder's scanner
seen_code = harness._Watch._seen.__code__
harness._Watch._seen.__code__ = (lambda self, module, qualname: None).__code__
scan, harness._DECODER.scan_once = harness._DECODER.scan_once, lambda text, end: ({}, end)
in_place = harness._hooks_swapped()
harness._Watch._seen.__code__, harness._DECODER.scan_once = seen_code, scan
# a warning of a harness frame (torch's, or a student's stacklevel=2) adds no name to it
import types, warnings


def _warn(warn=warnings.warn):
    warn("from a harness frame", UserWarning)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    types.FunctionType(_warn.__code__, vars(harness), None, _warn.__defaults__)()
warned = harness._hooks_swapped()
# what it holds, emptied (a closure's cell): no longer held, said so; its fixed tables frozen
held = next(c.cell_contents for c in harness._harness_changed.__closure__
            if type(c.cell_contents) is dict)
saved = dict(held)
held.clear()
cleared = harness._hooks_swapped()
held.update(saved)
frozen = type(harness._PER_CELL) is frozenset and type(harness._SHOWN) is types.MappingProxyType and type(harness._HOOKED[0][5]) is types.MappingProxyType
said = {"names": names, "loops": len(harness._KERNEL_LOOPS), "answered": answered,
        "later": later, "ran": watch.ran, "stopped": stopped, "libraries_only": libraries_only,
        "around": around, "swapped": swapped, "put_back": harness._hooks_swapped(),
        "written": written, "at_start": at_start, "written_npz": written_npz,
        "own_added": own_added, "own_swapped": own_swapped, "warned": warned,
        "cleared": cleared, "frozen": frozen, "in_place": in_place, "blinded": blinded,
        "rewritten": rewritten, "torch_swapped": torch_swapped,
        "own_swapped_too": own_swapped_too}
print("SAID", json.dumps(said))
"""


_POLLERS = r"""
import json, os, sys, threading
import ipykernel.parentpoller as pp
from autograder import harness
harness._find_kernel_threads()  # (as at the kernel's start-up)
stop = threading.Event()
own = pp.ParentPollerUnix()  # (red team 85: its run the notebook's, serving the loss answers)
own.run, own.daemon = stop.wait, True
own.start()
seen = [own.ident in harness._other_threads()]
real = pp.ParentPollerUnix(parent_pid=os.getppid())  # (as ipykernel starts it)
real.start()
seen.append(real.ident in harness._other_threads())
stop.set()
own.join()
seen.append(real.ident in harness._other_threads())
print(json.dumps(seen))
"""


@pytest.mark.parametrize(("parent", "seen"), [(None, [True] * 3), ("ppid", [True, False, False])])
def test_a_parent_poller_of_the_notebooks_is_watched_as_any_thread(parent, seen):
    """The kernel's parent poller wakes each second: its time is left out of what ran during an
    answer, but only where the kernel starts one (never in the sandbox, which clears
    JPY_PARENT_PID), one alone, its ``run`` ipykernel's (red team 85 started a poller of its own,
    its ``run`` a worker computing the loss answers out of the watch's sight)."""
    env = {k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    if parent:
        env["JPY_PARENT_PID"] = str(os.getpid())
    done = subprocess.run(
        [sys.executable, "-c", _POLLERS], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == seen


@pytest.mark.slow  # runs a kernel
def test_the_grading_kernel_has_no_thread_a_notebook_could_hand_an_answer(tmp_path):
    """The kernel as the grader starts it (execute.KERNEL_OPTIONS) runs no history thread and no
    readers of standard output and error, whose code a notebook can replace (a red team's routes:
    ``writeout_cache``, ``sys.stdout.write`` fed through a copy of the pipe); its event loops, the
    control loop among them, are held while an answer runs, so a coroutine handed one cannot
    answer; and the answer is stopped at the harness's time limit (an interrupt, through the
    held control loop, would wait). IPython's event callbacks of the notebook's (code run before
    and after every cell, the grader's requests too) are told from a library's, and so are the
    shell's and kernel's functions that run a request, replaced by the notebook's."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = tmp_path / "kernels" / "grading"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv + execute.KERNEL_OPTIONS, "language": "python",
                    "display_name": "grading", "interrupt_mode": "message"})
    )  # fmt: skip
    km = KernelManager(
        kernel_name="grading",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )
    home = {"HOME": str(tmp_path), "IPYTHONDIR": str(tmp_path / "ipy")}  # (as the grader's: the
    km.start_kernel(cwd=str(tmp_path), env={**os.environ, **home})  # libraries not in its home)
    kc = km.client()
    kc.start_channels(hb=False)  # (as the grader's client: the heartbeat thread stays asleep)
    printed = []
    try:
        kc.wait_for_ready(timeout=120)
        code = f"ROOT = {str(REPO_ROOT)!r}\nROOT_ANSWER = {str(tmp_path / 'a.npz')!r}\n"
        code += _KERNEL_THREADS
        hook = lambda msg: printed.append(msg["content"].get("text", ""))  # noqa: E731
        reply = kc.execute_interactive(code, output_hook=hook, timeout=180)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(printed)
    assert reply["content"]["status"] == "ok", (text[-2000:], reply["content"]["traceback"][-3:])
    said = json.loads(text.split("SAID ", 1)[1].splitlines()[0])
    assert "IPythonHistorySavingThread" not in said["names"]
    assert not any("_watch_pipe_fd" in name for name in said["names"]), said["names"]
    assert "Control" in said["names"] and said["loops"] >= 2  # (IOPub, control; shell channel)
    assert said["answered"] is False and said["later"] is True and said["ran"] == []
    assert said["stopped"] is True
    assert said["blinded"] == [True, True, True]
    # a callback of the notebook's run around every cell (the grader's requests are cells): told
    assert said["libraries_only"] is True and said["around"] is True, said["at_start"]
    # the shell's and kernel's functions that run the next request, replaced: named (torch's
    # decorator around the notebook's function too); put back, not
    assert said["swapped"] == [
        "PosixPath.with_suffix", "ZMQInteractiveShell.run_cell", "ZipFile.writestr",
        "numpy.savez", "shell.should_run_async", "shell_handlers.execute_request",
    ], said["swapped"]  # fmt: skip
    assert said["put_back"] == [] and said["rewritten"] == ["builtins.divmod"]
    assert said["torch_swapped"] == [
        "Tensor.clone", "sys.modules['torch.nn.functional']", "torch.from_numpy", "torch.nn",
    ], said["torch_swapped"]  # fmt: skip
    assert said["own_swapped_too"] == [
        "Event.wait", "contextlib._GeneratorContextManager", "time.monotonic",
    ], said["own_swapped_too"]  # fmt: skip
    # the harness's own: a name added (a builtin's, shadowed), a function, its class's method,
    # a function's defaults, a list and a table start() filled (red teams 25, 26)
    assert said["own_added"] == ["harness.len"]
    assert said["own_swapped"] == [
        "harness._KINDS", "harness._LIBRARIES", "harness._Watch", "harness._note", "harness._plain",
    ], said["own_swapped"]  # fmt: skip
    assert said["warned"] == [] and said["cleared"] == ["harness (not held at start-up)"]
    assert said["frozen"] is True
    assert said["in_place"] == ["harness._DECODER", "harness._Watch"], said["in_place"]
    # json.dumps replaced: the harness's answers say what the watch saw all the same
    assert said["written"] == '{"ran": ["torch.nn.functional.cross_entropy"]}'
    assert said["written_npz"] == [said["written"], [1.0, 1.0]]
    from autograder import harness
    from autograder import messages as M

    assert harness.AROUND == M.AROUND  # (what the grader reads the answer's word against)


def test_the_harness_reads_an_opened_path_through_no_function_the_notebook_can_replace(
    monkeypatch,
):
    """Red team 33: the audit hook called os.path.abspath and os.fsdecode at each "open", the
    harness's own write of the answer included: a notebook's abspath ran there (and could hide
    a write outside its home)."""
    from autograder import harness

    ran = []
    monkeypatch.setattr(os.path, "abspath", lambda p: ran.append(p) or "/home/x")
    monkeypatch.setattr(os, "fspath", lambda p: ran.append(p) or p)
    assert harness._absolute("/tmp/../work/answers.npz") == "/work/answers.npz"
    assert harness._absolute(b"/tmp/./a") == "/tmp/a"
    assert harness._absolute("rel").startswith("/")
    assert ran == []


def test_the_harness_writes_an_answer_only_to_a_new_file_of_its_own(tmp_path):
    """Red team 71: a folder made at the answer's temporary name stopped the harness before it
    said the answer's bytes, and the notebook wrote its own answer there, which was judged. The
    harness writes only a file it creates (not a folder's place, not a link's target); where
    serving raised, the grader takes no answer (:meth:`execute.Kernel._ask_request`)."""
    from autograder import harness

    answer = tmp_path / "ans-1.npz"
    (tmp_path / "ans-1.npz.part.npz").mkdir()
    with pytest.raises(OSError):
        harness.write_message(answer, {"kind": "loss"}, {"x": np.zeros(2)})
    assert not answer.exists()
    target = tmp_path / "elsewhere.npz"
    (tmp_path / "ans-2.npz.part.npz").symlink_to(target)
    with pytest.raises(OSError):
        harness.write_message(tmp_path / "ans-2.npz", {"kind": "loss"}, {"x": np.zeros(2)})
    assert not target.exists()
    harness.write_message(tmp_path / "ans-3.npz", {"kind": "loss"}, {"x": np.zeros(2)})
    assert (tmp_path / "ans-3.npz").exists()


_LET_GO = """
import gc, sys
from IPython.core.interactiveshell import InteractiveShell
from autograder import harness

shell = InteractiveShell.instance()
harness._EVENTS[:] = [shell]
shell.run_cell("import torch, weakref\\nw = torch.randn(4, requires_grad=True)\\nheld = []")
shell.run_cell("def f():\\n    x = w * 1\\n    held.append(weakref.ref(x))\\n    raise MemoryError\\nf()")
gc.collect()
kept = shell.user_ns["held"][0]() is not None
harness.let_go()
print(kept, shell.user_ns["held"][0]() is not None)
"""


def test_the_frames_of_a_cell_that_failed_are_let_go(tmp_path):
    """Instructor round 28: a cell that failed for memory (an answer looping, its autograd graph
    growing) kept its tensors through IPython's last traceback, and every request after it
    failed for memory; the harness, asked after a failed cell, lets them go."""
    script = tmp_path / "let_go.py"
    script.write_text(_LET_GO)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split()[-2:] == ["True", "False"], done.stdout[-500:] + done.stderr[-2000:]


def test_the_harness_refuses_another_interpreter():
    """Red team 86 ran difflib's ratio in a sub-interpreter, where none of the watch's hooks (its
    profile function, its audit hook) reaches: the module's import and an interpreter's
    creation are refused and said; another module's import is not."""
    from autograder import harness

    for event, args in [
        ("import", ("_xxsubinterpreters",)),
        ("cpython.PyInterpreterState_New", ()),
    ]:
        with pytest.raises(ImportError, match="another interpreter"):
            harness._audit(event, args)
    harness._audit("import", ("json", None, [], [], []))


def test_torchs_lazy_imports_are_made_at_start_up_not_in_an_answer():
    """torch imports torch._dynamo (900 modules) at the first call of its `_disable_dynamo`
    functions (a backward, an optimizer's step): in a notebook that had made none, in the first
    loss answer's watch, 12 s of its time limit (a CI run lost (e) to it). Made at start-up."""
    code = "import sys\nfrom autograder import harness\nharness._torch_parts()\n"
    code += "print('torch._dynamo' in sys.modules)\n"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr[-2000:]
