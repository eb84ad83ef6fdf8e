"""The kernel side of grading, mounted read-only in the sandbox as ``unet_tp_harness`` (a name that
imports nothing once :func:`start` has run: the grader's requests find it as ``sys.<key>``).

It holds no answer, only the protocol: :func:`start` (the kernel's start-up file) refuses installs
and notes on standard error what a TP answer never does; :func:`serve` reads a request (``.npz``,
arrays and one JSON document, never pickle), runs the student's object it names and writes the
answer the same way; :func:`load_probes` defines the grader's stand-in blocks. A notebook can
replace any of it, so nothing it reports decides a point: the grader compares the values.
"""

from __future__ import annotations

import _signal
import _thread
import builtins
import contextlib
import dataclasses
import functools
import gc
import hashlib
import io
import json
import keyword
import linecache
import opcode
import operator
import os
import posix
import re
import struct
import sys
import sysconfig
import threading  # (these modules as they were at start-up, whatever sys.modules holds later)
import time
import traceback
import types
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# the built-ins as the harness found them as it loaded (the kernel's start-up, before any cell):
# its functions look their names up in this copy, not in the builtins module a notebook can
# rewrite (`len.__self__.type = f` would run f inside the harness, before any of its checks)
__builtins__ = dict(vars(builtins))
HOME = os.environ.get("HOME", "/home/student")
__warningregistry__: dict = {}  # (a warning of a harness frame: kept here, no name added)
_LOG_FD = 2  # the kernel's standard error as the grader reads it (start() finds it)
_ANSWER_SECONDS = 25.0  # an answer is stopped past this (start() is told the grader's limit)
_COUNTS: dict[str, int] = {}
_KEY = ""  # the attribute of sys the module is once started, and no more in sys.modules
# the folder the grader puts its requests in (start() is told it), and the request the harness
# itself reads now: any other reading of that folder is the notebook's (red team 43's finalizer,
# run by the garbage collector before the watch began, read each request and computed torch's
# loss for the answer to look up)
_ANSWERS = "/opt/grading/answers"
_REQUESTS: tuple = ()  # (its device and inode: a link to it, /proc/self/root/..., is the same)
_READING: list[str] = []
_SYS, _SELF, _BUILTINS = sys, None, builtins  # (and the module: start() holds it)
_MODULES = sys.modules  # the interpreter's (`sys.modules = {}` rebinds a name, not this)
_LINES, _LINECACHE = linecache.cache, linecache  # where IPython keeps each cell's text


def _unserialisable(value):
    raise TypeError(f"{type(value).__name__} is not JSON")


# JSON written and read by an encoder and a decoder made at start-up: json.dumps and json.loads
# are the notebook's to replace (dropping the watch's "ran" from every answer, or the watch's
# names from every request); these read nothing of the json module's as they run
_ENCODER = json.encoder.c_make_encoder(
    None,
    _unserialisable,
    json.encoder.encode_basestring_ascii,
    None,
    ": ",
    ", ",
    False,
    False,
    True,
)
_DECODER, _RAW_DECODE = json.JSONDecoder(), json.JSONDecoder.raw_decode


def _dumps(value) -> str:
    return "".join(_ENCODER(value, 0))


def _loads(text: str):
    return _RAW_DECODE(_DECODER, text)[0]


# ---- start-up: notes for the instructor, no installs -----------------------------------------
def _noter():
    """:func:`_note`, the notes it wrote in its closure (a table of the module's, filled by a
    notebook holding it, would have silenced every note: review of red team 26's)."""
    seen: set[str] = set()

    def note(kind: str, detail: str) -> None:
        """Write a note for the instructor on the kernel's log, once each, 200 at most."""
        key = f"{kind}:{detail}"
        if key in seen or len(seen) > 200:
            return
        line = f"\n[unet-tp-event] {_dumps({'kind': kind, 'detail': detail[:200]})}\n".encode()
        if _say(line):
            seen.add(key)

    return note


def _say(line: bytes) -> bool:
    """Write one line on the kernel's log (under PIPE_BUF bytes: whole or not at all), waiting
    up to 10 s for a pipe the notebook filled (the grader reads it); whether it was written."""
    deadline = _MONOTONIC() + 10
    while _MONOTONIC() < deadline:
        try:
            _WRITE(_LOG_FD, line)  # (held since start-up: os.write is the notebook's to replace)
            return True
        except (BlockingIOError, InterruptedError):
            _SLEEP(0.001)
        except Exception:
            return False
    return False


_note = _noter()
# held at start-up: the notebook's os.path.abspath or time.clock_gettime_ns would run in the
# audit hook (at the harness's own writes) or blind the watch's clock of threads (red team 33)
_GETCWD, _NORMPATH = os.getcwd, getattr(posix, "_path_normpath", None) or os.path.normpath
_READLINK = os.readlink
_CLOCK_NS = time.clock_gettime_ns
_CPU_CLOCK = getattr(time, "pthread_getcpuclockid", None)


def _absolute(path: str | bytes) -> str:
    """The absolute, normalised path an "open" event names, through no function the notebook
    can replace (os.path.abspath reads os.fspath, posixpath's functions, at each call)."""
    if isinstance(path, bytes):
        text = bytes.decode(bytes.__add__(b"", path), "utf-8", "surrogateescape")
    else:
        text = str.__add__("", path)  # (a str of the notebook's class: its own methods)
    if not str.startswith(text, "/"):
        text = str.__add__(_GETCWD() + "/", text)
    return _NORMPATH(text) or "/"


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        address = args[1] if len(args) > 1 else ""
        _note("network", f"connects to {address!r}")
    elif event == "open" and args and isinstance(args[0], (str, bytes)):
        mode = args[1] if len(args) > 1 else "r"
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
            flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
        full = _absolute(args[0])
        _request_read(full)
        if writing and not full.startswith((HOME, "/content/", "/tmp", "/dev/", _ANSWERS)):
            _note("write outside home", full)
        elif not writing and full.endswith(_COMPILED) and _outside_libraries(full):
            _note("code from a file", full)  # (bytecode a loader runs; a C library)
    elif event in ("exec", "compile") and args and _LIBRARIES:
        name = getattr(args[0], "co_filename", None) if event == "exec" else args[-1]
        caller = ""
        if _outside_libraries(name) and _is_file(name):  # (a cell's name is no file)
            _note("code from a file", name)
            caller = _NOTEBOOK if _string_compiler(event, args) == _NOTEBOOK else ""
        elif event == "compile" and _disguised(name, args[0]):  # (the watch knows code by its
            _count("code objects")  # file: a library's)
            _note("watch", f"compiled code under a library's file name ({name})")
        elif type(name) is str and not (name[:1] == "/" and _is_file(name)):  # (<string>, a
            caller = _string_compiler(event, args)  # cell's name, "/x": who compiles it says
            if caller and not _importing():  # whose it is; a library's file: an import)
                _note("code from a string", f"{caller} compiled or ran {name}")
        if caller in (_NOTEBOOK, "dataclasses") or _within(caller, "IPython.core.magics"):
            raise TypeError(f"code compiled from a string by {caller} (refused in grading)")
    elif event == "ctypes.dlopen" and args and _outside_libraries(args[0], "/usr/", "/lib"):
        _note("code from a file", args[0])
    elif event == "sys.addaudithook" and not _library_hook(_GETFRAME(1)):
        _count("audit hooks")  # (red team 38's: it runs at every file the grader opens)
        _note("watch", "added an audit hook: its code runs at every file the grader opens")
    elif event == "code.__new__" and not _built_by(_GETFRAME(1)):
        _count("code objects")  # (red team 38: a library's function renamed `h`)
        _note("watch", "built a code object: a function renamed or rewritten")
    elif event == "cpython.PyInterpreterState_New" or (
        event == "import" and args and type(args[0]) is str and args[0] in _OTHER_INTERPRETERS
    ):  # (red team 86: difflib's ratio run in an interpreter no hook of the watch's reaches)
        _note("watch", f"runs code in another interpreter ({args[0] if args else event})")
        raise ImportError("another interpreter: the grader cannot watch it (refused in grading)")
    elif event in _PROCESSES and _count("processes") == 20:  # (refused where the filter is)
        _note("processes", f"started 20 or more processes ({event})")
    elif event in ("os.listdir", "os.scandir") and args and type(args[0]) in (str, bytes, int):
        listed = _link(f"/proc/self/fd/{args[0]}") if type(args[0]) is int else args[0]
        _request_read(_absolute(listed))


def _request_read(full: str) -> None:
    """Note a reading of the requests' folder or of a file in it (``full``, an absolute path,
    the folder known by its device and inode), but the harness's own of the request it answers
    (:data:`_READING`): what a request holds is read by the notebook's code only in the watch."""
    if not _REQUESTS:
        return
    if full in _READING:  # (its one opening: any other, during the reading too, is noted)
        _READING.remove(full)
        return
    target = _link(full)  # (to one of its files: `/proc/self/fd/<n>`, the harness's own request)
    places = [full, str.rpartition(full, "/")[0] or "/"]
    if target:
        target = _absolute(target if str.startswith(target, "/") else places[1] + "/" + target)
        places += [target, str.rpartition(target, "/")[0] or "/"]
    for place in places:
        try:
            found = _STAT(place)
        except (OSError, ValueError):
            continue
        if (found.st_dev, found.st_ino) == _REQUESTS:
            _count("request reads")
            _note("watch", f"read the grader's requests ({full})")
            return


def _own_read(read, path: str):
    """``read(path)``, the harness's own reading of a request (:func:`_request_read`)."""
    full = _absolute(path)
    _READING.append(full)
    try:
        return read(path)
    finally:
        if full in _READING:  # (not opened: an error)
            _READING.remove(full)


def _link(path: str) -> str:
    """What the link ``path`` names ("" where it is none: a file, a folder, nothing)."""
    try:
        return _READLINK(path)
    except (OSError, ValueError):
        return ""


# modules that start interpreters of their own (their threads have none of the watch's hooks),
# or run code in one (_testcapi.run_in_subinterp creates it with no thread's state: no event)
_OTHER_INTERPRETERS = frozenset((
    "_xxsubinterpreters", "_xxinterpchannels", "_interpreters", "_interpchannels", "_interpqueues",
    "concurrent.interpreters", "test.support.interpreters", "_testcapi", "_testinternalcapi",
    "_testlimitedcapi", "_testmultiphase", "_testsinglephase", "_testclinic", "_testbuffer",
    "_testimportmultiple", "_testexternalinspection", "_xxtestfuzz", "xxsubtype",
))  # fmt: skip
_PROCESSES = ("os.fork", "os.forkpty", "subprocess.Popen", "os.posix_spawn", "os.system")


def _count(what: str) -> int:
    """One more of ``what`` the notebook did (:data:`_COUNTS`); how many now."""
    _COUNTS[what] = _COUNTS.get(what, 0) + 1
    return _COUNTS[what]


# the libraries that add an audit hook of their own (filelock's fork guard, on Python 3.12 and
# later): any other's, the notebook's, runs its code at every event, the grader's reading of a
# request (its open) before the watch starts, and every answer after it is out of sight
_AUDITING_LIBRARIES = ("filelock",)


# torch's compiler: what builds code objects, or compiles under a library's file name, in an
# honest notebook (and types.coroutine as a library loads: _built_by); any other caller, a
# library's too (red team 39: torch's tree_map over a partial of `code.replace`), is the notebook's
_BUILDERS = ("torch._dynamo", "torch._inductor", "torch.fx", "torch.jit")


def _library_module(frame) -> str:
    """The library module ``frame`` runs ("" for the notebook's, a frozen module's, none)."""
    name = _plain(frame.f_code.co_filename) if frame is not None else ""
    return "" if name.startswith("<frozen") else _module_of(name)


def _built_by(frame) -> bool:
    """Whether ``frame``, the code that built a code object, is torch's compiler, or
    ``types.coroutine`` run by a library's module as it loads (asyncio's), through library
    frames only (red team 40: ``types.coroutine`` given a fake function, importlib's
    ``_call_with_frames_removed`` called by the notebook)."""
    if any(_within(_library_module(frame), m) for m in _BUILDERS):
        return True
    if _library_module(frame) != "types":
        return False
    while frame is not None and _library_module(frame):
        if _plain(frame.f_code.co_name) == "<module>":
            return True
        frame = frame.f_back
    return False


def _disguised(name: object, source: object) -> bool:
    """Whether code other than torch's compiler or a parse by ``ast`` compiles ``source``
    under a library's file name ``name``, other than that file's own text (an import): its
    functions would pass for the library's in the watch, which knows code by its file and
    name (red team 40 compiled through importlib's frames)."""
    if not _LIBRARY_ROOTS or type(name) is not str or not name.startswith(tuple(_LIBRARY_ROOTS)):
        return False
    frame, parsed = _past_parsers(_GETFRAME(2))  # (this, then _audit, are above compile's)
    if parsed:
        return False  # (ast.parse: a tree, no code)
    if any(_within(_library_module(frame), m) for m in _BUILDERS):
        return False
    return not _its_own_text(name, source)


def _its_own_text(name: str, source: object) -> bool:
    """Whether ``source`` (str or bytes) is the text of the file ``name``."""
    if type(source) not in (str, bytes):
        return False
    try:
        fd = _OPEN(name, _READ_ONLY)  # (a library's file: start-up found it, read-only)
    except (OSError, ValueError):
        return False
    try:
        text = _READ(fd, 1 << 24)
    finally:
        _CLOSE(fd)
    return text == (source if type(source) is bytes else str.encode(source, "utf-8", "replace"))


def _library_hook(frame) -> bool:
    """Whether ``frame``, adding an audit hook, is one of :data:`_AUDITING_LIBRARIES`'s own
    functions that add theirs (red team 40: filelock's ``capture_call`` runs any callable)."""
    own = _plain(frame.f_code.co_name) in ("_register_fork_hooks", "install_hooks")
    return own and any(_within(_library_module(frame), m) for m in _AUDITING_LIBRARIES)


# Code the static reading never read, run from a file the notebook wrote (a red team hid its
# answer in a string, wrote it to a .py file and ran it with pydoc.importfile, a loader no list
# named): noted whichever loader ran it, by the file an executed or compiled code comes from
_COMPILED = (".pyc", ".so", ".pyd")
# and code a library builds from text (a red team's answer in a string that torch's benchmark
# Timer, IPython's EvalFormatter or tornado's templates ran): noted unless the library is one
# that writes code of its own from names it checked (a dataclass's __init__, a namedtuple's)
# or compiles the notebook's cells
_GENERATORS = ("collections", "enum", "IPython.core", "ipykernel", "unet_tp_harness")
# a dataclass's methods are written from its fields' names, which dataclasses does not check: a
# generator only where each is a name, its code refused otherwise (red team 74 named a field
# "a,(lambda ...)(...)" in a class type() made, and dataclasses ran it in __eq__: 3 blocks of
# blanks), read through Field as it was at start-up
_FIELD, _FIELD_NAME = dataclasses.Field, dataclasses.Field.__dict__["name"].__get__
_FIELD_PARTS = tuple(vars(_FIELD).items())
_KEYWORDS = frozenset(keyword.kwlist)
# but not IPython's evaluators of the completer and the debugger (a red team's answer ran by
# guarded_eval, "dangerous" or interpreted), nor typing's evaluation of a forward reference (a
# string annotation that get_type_hints evaluates: only its compiling is a generator's)
_EVALUATORS = ("IPython.core.guarded_eval", "IPython.core.completer", "IPython.core.debugger")
_FORWARD_REFERENCES = ("typing", "typing_extensions")
_SHELL_EVALUATORS = ("ev", "ex", "user_expressions")  # the shell's, not what runs a cell
_PASSING = ("ast", "codeop")  # (compile for their callers: IPython's cells, guarded_eval)
# what parses text into a tree it only reads (ast.parse, ast.literal_eval: no code comes of
# it): np.load's header, the tracebacks' readers of source (IPython's, of an error in a
# library), the notebook's own checks' reading of an answer's source (red team 56: a fair
# `distance.hamming` had the check's parse flagged); an evaluator's parse is noted (guarded_eval
# interprets the tree), as is any other
_PARSERS = ("numpy", "asttokens", "executing", "stack_data", "traceback", "inspect")
_PARSERS += ("unet_tp.checks",)
_GETFRAME = sys._getframe
_MONOTONIC, _SLEEP, _EVENT = time.monotonic, time.sleep, threading.Event
_HARNESS_FILE = __file__
_CALLS = frozenset(op for name, op in opcode.opmap.items() if name.startswith(("CALL", "PRECALL")))


def _past_parsers(frame) -> tuple:
    """The first frame from ``frame`` on that is not ``ast``'s or ``codeop``'s (None if none),
    and whether ``ast``'s was among those passed (a parse: a tree, no code)."""
    parsed = False
    while frame is not None:
        module = _module_of(_plain(frame.f_code.co_filename))
        if not any(_within(module, m) for m in _PASSING):
            break
        parsed = parsed or _within(module, "ast")
        frame = frame.f_back
    return frame, parsed


_NOTEBOOK = "the notebook's code"


def _string_compiler(event: str, args: tuple) -> str:
    """Who compiles or runs code from a string: a library's module, the pseudo file name of
    code itself built from a string (``<string>``: a red team's exec inside guarded_eval's
    eval), or "" for a generator of code, a parser, a cell or the notebook's own file."""
    frame, parsed = _past_parsers(_GETFRAME(2))  # (_audit's caller: who called compile or exec)
    if frame is None:
        return ""
    filename = _plain(frame.f_code.co_filename)
    module = _module_of(filename)
    if any(_within(module, m) for m in _EVALUATORS):
        return module
    if parsed and (not module or any(_within(module, m) for m in _PARSERS)):
        return ""
    if not module:  # (code built from a string, <string>, or the notebook's own: red team 76
        # compiled its text with get_ipython().compile, through codeop, under the name "/x")
        own = filename[:1] == "/"  # (a file's: no name read, unknown)
        return (
            ""
            if filename.startswith("<frozen")
            else filename
            if filename[:1] == "<"
            else (_NOTEBOOK if own else "")
        )
    if any(_within(module, m) for m in _FORWARD_REFERENCES) or module == "IPython.utils.text":
        # (a type's name, or a `%` line's $name, calls nothing, reads no _x: honest round 37's
        # `%env N=$n`)
        return module if event == "exec" and not _names_a_type(args[0]) else ""
    if module in ("timeit", "cProfile", "profile") and _within(
        _module_of(_caller_file(frame)), "IPython.core.magics"
    ):  # (%timeit: IPython's Timer compiles timeit's template of "pass"; %prun runs its line,
        return "" if _from_a_magic_line(frame) else "IPython.core.magics"  # which the reading
        # reads as the cell's own: honest round 17)
    if module == "IPython.core.interactiveshell" and frame.f_code.co_name in _SHELL_EVALUATORS:
        return f"{module}.{frame.f_code.co_name}"  # (red team 27: user_expressions({"a": "..."}))
    if _within(module, "dataclasses"):
        return "" if _named_fields(frame) else module
    if _within(module, "IPython.core.magics"):
        return "" if _from_a_magic_line(frame) else module
    return "" if any(_within(module, g) for g in _GENERATORS) else module


def _from_a_magic_line(frame) -> bool:
    """Whether IPython's magic compiling code at ``frame`` runs a ``%`` line of a cell, which the
    reading reads as the cell's own: under the shell's ``run_line_magic`` or ``run_cell_magic``
    (through libraries' frames only), called by code that holds the line (and the cell) as its
    own constants (IPython writes ``%time x`` as ``get_ipython().run_line_magic(
    'time', 'x')``), the line not expanded (red team 75 called ``ExecutionMagics.time``,
    ``ConfigMagics.config``, ``HistoryMagics.recall`` with text built at run time)."""
    for _ in range(40):
        frame = frame.f_back
        module = _module_of(_plain(frame.f_code.co_filename)) if frame is not None else ""
        if not module:
            return False
        if module == "IPython.core.interactiveshell" and frame.f_code.co_name in (
            "run_line_magic",
            "run_cell_magic",
        ):
            break
    else:
        return False
    said, caller = frame.f_locals, frame.f_back
    texts = [said.get("line"), said.get("cell", "")]
    if caller is None:  # (a library's own call: its own constants, no text of the notebook's)
        return False
    expanded = said.get("magic_arg_s")  # ($name, {expression}: another text than the line's)
    if type(expanded) is not str or expanded != texts[0]:
        return False
    constants = [c for c in caller.f_code.co_consts if type(c) is str]
    return all(type(t) is str and (t == "" or t in constants) for t in texts)


def _named_fields(frame) -> bool:
    """Whether the dataclass dataclasses writes code for from ``frame`` (its own frames, up to
    its ``_process_class``) has fields each named by a name (see :data:`_FIELD`)."""
    for _ in range(8):
        if frame is None or not _within(
            _module_of(_plain(frame.f_code.co_filename)), "dataclasses"
        ):
            return False
        if frame.f_code.co_name == "_process_class":
            break
        frame = frame.f_back
    else:
        return False
    fields, parts = frame.f_locals.get("fields"), _CLASS_DICT.__get__(_FIELD)
    if type(fields) is not dict or len(parts) != len(_FIELD_PARTS):
        return False
    if any(parts.get(key) is not value for key, value in _FIELD_PARTS):  # (Field's own reading)
        return False
    for name, field in dict.items(fields):
        if type(name) is not str or not str.isidentifier(name) or name in _KEYWORDS:
            return False
        try:
            if type(field) is not _FIELD or _FIELD_NAME(field) is not name:
                return False
        except AttributeError:
            return False
    return True


def _names_a_type(code: object) -> bool:
    """Whether a code object typing evaluates is a type's name: it calls nothing (nor does a
    lambda it holds) and reads no private name (round 24: ``List[name]``, ``name`` a string
    built at run time, evaluated ``torch._C._nn.cross_entropy_loss`` for singledispatch)."""
    if type(code) is not type(_names_a_type.__code__):
        return False
    ops = code.co_code[::2]  # (an instruction, then its argument: caches are instructions 0)
    private = any(_plain(n).startswith("_") for n in code.co_names)
    return not (private or any(op in _CALLS for op in ops)) and all(
        map(_names_a_type, _code_consts(code))
    )


def _caller_file(frame) -> str:
    return _plain(frame.f_back.f_code.co_filename) if frame.f_back is not None else ""


def _code_consts(code) -> list:
    return [c for c in code.co_consts if type(c) is type(code)]


_IMPORTING = "<frozen importlib._bootstrap>"


def _importing() -> bool:
    """Whether a module is being imported (numpy's and SciPy's modules write code of their own
    as they load: a cell's code, not the caller's text)."""
    frame = _GETFRAME(2)
    for _ in range(200):
        if frame is None:
            return False
        if frame.f_code.co_filename == _IMPORTING:
            return True
        frame = frame.f_back
    return False


_STAT, _S_ISREG = os.stat, __import__("stat").S_ISREG


def _outside_libraries(name: object, *others: str) -> bool:
    """Whether ``name`` is a path outside the libraries start-up found (and ``others``)."""
    return (
        type(name) is str
        and name.startswith("/")
        and not name.startswith((*_LIBRARY_ROOTS, *others))
    )


def _is_file(name: str) -> bool:
    try:
        return _S_ISREG(_STAT(name).st_mode)
    except (OSError, ValueError):
        return False


_TOOLS = {"pip", "pip3", "conda", "mamba", "micromamba", "uv", "apt", "apt-get"}
_VERBS = {"install", "uninstall", "remove", "add"}


def _installs(cmd: str) -> bool:
    words = cmd.replace(";", " ").replace("&", " ").replace("|", " ").split()
    return any(
        a.rsplit("/", 1)[-1] in _TOOLS and b in _VERBS
        for a, b in zip(words, words[1:], strict=False)
    )


# ---- one process: no other program, no child, in any thread, for good (a seccomp filter) -----
# machine -> its audit architecture, the syscall of seccomp, the syscalls denied (execve,
# execveat, fork, vfork, ptrace, process_vm_writev, pidfd_getfd: aarch64 has no fork nor vfork;
# then what no notebook needs and the kernel's attack surface holds: process_vm_readv, unshare,
# setns, personality, bpf, userfaultfd, perf_event_open, mount, keyctl, io_uring's three),
# then clone and clone3; then what takes the log's descriptor from the harness: by its first
# argument (close, fcntl, ioctl, dup: closed, made non-blocking, copied), by either (dup2, dup3:
# copied, or another file put in its place; round 24 made a copy, which shares the file's
# flags, non-blocking, and filled the pipe), and close_range whole (CPython then closes one by
# one)
_IO_URING = (425, 426, 427)
_SYSCALLS = {
    "x86_64": (
        0xC000003E,
        317,
        (59, 322, 57, 58, 101, 311, 438, 310, 272, 308, 135, 321, 323, 298, 165, 250, *_IO_URING),
        56,
        435,
        ((3, 72, 16, 32), (33, 292), 436),
    ),
    "aarch64": (
        0xC00000B7,
        277,
        (221, 281, 117, 271, 438, 270, 97, 268, 92, 280, 282, 241, 40, 219, *_IO_URING),
        220,
        435,
        ((57, 25, 29, 23), (24,), 436),
    ),
}


def _filter_program(machine: tuple, log_fd: int) -> list[tuple]:
    """The seccomp filter's instructions ``(code, jt, jf, k)`` (see :func:`_one_process`)."""
    arch, _, denied, clone, clone3, (by_first, by_second, close_range) = machine
    if log_fd <= 2:  # (no descriptor of its own: standard error, which the kernel quiets)
        by_first, by_second, close_range = (), (), -1
    load, equal, at_least, has, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, JEQ, JGE, JSET
    # (code, jump if true, jump if false, k), a jump to a label (a string in the list)
    allow, deny, absent, first, either = "allow", "deny", "absent", "first", "either"
    program = [
        (load, 0, 0, 4),  # seccomp_data.arch
        (equal, 0, deny, arch),
        (load, 0, 0, 0),  # seccomp_data.nr
        (at_least, deny, 0, 0x40000000),  # x32's table
        *((equal, deny, 0, nr) for nr in denied),
        *((equal, first, 0, nr) for nr in by_first),
        *((equal, either, 0, nr) for nr in by_second),
        (equal, deny, 0, close_range),
        (equal, absent, 0, clone3),
        (equal, 0, allow, clone),
        (load, 0, 0, 16),  # clone's flags (args[0], its low half)
        (has, allow, deny, 0x10000),  # CLONE_THREAD
        first,
        (load, 0, 0, 16),  # args[0]'s low half (the kernel reads a descriptor's 32 bits)
        (equal, deny, allow, log_fd),
        either,
        (load, 0, 0, 16),
        (equal, deny, 0, log_fd),
        (load, 0, 0, 24),  # args[1]'s
        (equal, deny, allow, log_fd),
        allow,
        (ret, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
        deny,
        (ret, 0, 0, 0x50001),  # SECCOMP_RET_ERRNO with EPERM
        absent,
        (ret, 0, 0, 0x50026),  # with ENOSYS
    ]
    labels, at = {}, 0
    for step in program:
        if isinstance(step, str):
            labels[step] = at
        else:
            at += 1
    program = [
        (code, *(labels[j] - i - 1 if j in labels else j for j in (jt, jf)), k)
        for i, (code, jt, jf, k) in enumerate(x for x in program if not isinstance(x, str))
    ]
    return program


def _one_process(log_fd: int = -1) -> bool:
    """Deny the kernel any other process: ``python -c CODE``, ``!python``, ``%%bash``, a forked
    server or a data loader's worker would run code that the grader does not read or that its
    watch (:class:`_Watch`) does not see; nor may it reach into another process (ptrace). Threads
    still start (``clone`` with ``CLONE_THREAD``; ``clone3``, whose flags a filter cannot read,
    answers ENOSYS and the C library falls back to ``clone``); a foreign syscall table (x32,
    i386) is denied whole. Every thread gets the filter (ipykernel's too), and nothing can lift
    it. ``log_fd``, the descriptor the harness writes its notes to, is the harness's alone:
    it cannot be closed, replaced or made non-blocking."""
    import ctypes
    import platform

    machine = _SYSCALLS.get(platform.machine())
    if machine is None:
        return False
    seccomp, program = machine[1], _filter_program(machine, log_fd)

    class Instruction(ctypes.Structure):  # struct sock_filter
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte)]
        _fields_ += [("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):  # struct sock_fprog
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    code = (Instruction * len(program))(*program)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: what lets a process load a filter
    # SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC: all the process's threads
    return libc.syscall(seccomp, 1, 1, ctypes.byref(Program(len(program), code))) == 0


def _find_log() -> None:
    """Where the grader reads the notes: the kernel's standard error as it started (ipykernel
    puts a pipe of its own in its place), opened again, so that its flags are the harness's
    alone (not made non-blocking through another descriptor of it); the filter then keeps the
    notebook from closing it or putting another file in its place (round 23: a red team's
    ``os.dup2(null, fd)`` on every descriptor of the log silenced every note)."""
    global _LOG_FD
    with contextlib.suppress(Exception):
        given = getattr(sys.stderr, "_original_stdstream_copy", 2)
        try:
            _LOG_FD = os.open(f"/proc/self/fd/{given}", os.O_WRONLY | os.O_APPEND)
        except OSError:
            _LOG_FD = os.dup(given)


def _find_libraries() -> None:
    """Where the kernel's modules are found at start-up (not its home)."""
    paths = {*sys.path, *(sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib"))}
    for name, module in list(sys.modules.items()):  # an editable install's packages (--sandbox
        mapping = getattr(module, "MAPPING", None) if name.startswith("__editable__") else None
        paths |= {os.path.dirname(p) for p in (mapping or {}).values() if isinstance(p, str)}
    _LIBRARIES.extend(p for p in paths if os.path.isabs(p) and not p.startswith(HOME))
    _LIBRARY_ROOTS.extend(p.rstrip("/") + "/" for p in _LIBRARIES)


def _hide(key: str) -> None:
    """The module as ``sys.<key>`` and ``builtins.<key>`` alone, ``key`` the grader's, never told
    the notebook: its own name imports nothing (rounds 26 and 27 imported it by name through
    pydoc, traitlets and matplotlib), and no module of sys.modules is the harness (red team 28
    found it there, by its functions; an attribute of sys or of the built-ins is read by a name
    the notebook spells, or listed by what the reading flags: vars, __dict__, getattr of a name
    built at run time, the built-ins' module)."""
    global _KEY, _SELF
    _KEY, _SELF = str(key), sys.modules[__name__]
    setattr(sys, _KEY, _SELF)
    vars(builtins)[_KEY] = _SELF  # (where the request cell reads it: no import, red team 42)
    sys.modules[__name__] = None


def start(answer_seconds: float = _ANSWER_SECONDS, key: str = "", requests: str = "") -> None:
    """Called once by the kernel's start-up file; ``answer_seconds``: the longest an answer runs
    (under the grader's own limit for the request: the kernel's loops are held meanwhile, so an
    interrupt sent by the grader would wait); ``key``: see :func:`_hide`; ``requests``: the
    folder of the grader's requests (:data:`_REQUESTS`)."""
    global _THREAD_PARTS, _ANSWER_SECONDS, _REQUESTS
    _ANSWER_SECONDS = float(answer_seconds)
    with contextlib.suppress(OSError, ValueError):
        found = _STAT(requests) if requests else None
        _REQUESTS = (found.st_dev, found.st_ino) if found else ()
    if key:
        _hide(key)
    _find_libraries()
    _find_log()  # (before the audit hook: its opening is the harness's, not a note)
    sys.addaudithook(_audit)
    programs_run = not _one_process(_LOG_FD)
    _watch_new_threads()
    _THREAD_PARTS = _thread_parts()
    _find_kernel_threads()
    _bookkeeping_code()  # (the pools' code as it is now: before any notebook code runs)
    with contextlib.suppress(Exception):  # no tqdm monitor thread waking while an answer runs
        import tqdm

        tqdm.tqdm.monitor_interval = 0
    ip = None
    with contextlib.suppress(Exception):
        from IPython import get_ipython

        ip = get_ipython()
    if ip is None:
        return
    _EVENTS.extend([ip, type(ip), ip.events, type(ip.events), type(ip.events).trigger])

    def refuse(what: str, why: str = "installing") -> None:
        print(f"[grading] not run: {what.strip()} ({why} is switched off while grading)")

    def guard(run, nothing=lambda: None):
        def guarded(cmd, *args, **kwargs):
            installs = _installs(cmd)
            if programs_run and not installs:
                return run(cmd, *args, **kwargs)
            refuse("!" + cmd, "installing" if installs else "running programs")
            return nothing()  # `!ls` prints why, and the cell goes on

        return guarded

    from IPython.utils.text import SList

    ip.system = guard(ip.system)
    ip.getoutput = guard(ip.getoutput, SList)  # `files = !ls`: an empty list
    for magic in ("pip", "conda", "mamba", "uv"):
        ip.register_magic_function(lambda line, m=magic: refuse(f"%{m} {line}"), "line", magic)
    scripts = ("script", "bash", "sh", "perl", "ruby", "python", "python2", "python3", "pypy")
    for magic in () if programs_run else scripts:  # IPython's script magics: other programs
        ip.register_magic_function(
            lambda line, cell, m=magic: refuse(f"%%{m} {line}", "running programs"), "cell", magic
        )
    _hooks(ip)  # (as the guards above left them)
    _hold_harness()


# ---- the wire format: npz, no pickle ----------------------------------------------------------
# Messages are read and written with functions held since start-up, C functions all: numpy's
# writer, zipfile and os are the notebook's to replace (a red team replaced numpy's header writer
# and wiped the watch's findings out of every answer). An npz of stored (uncompressed) .npy
# members, as np.load and the grader's reader (autograder.answers) read it.
_PACK, _UNPACK, _CRC32 = struct.pack, struct.unpack_from, zlib.crc32
_OPEN, _READ, _WRITE, _CLOSE = os.open, os.read, os.write, os.close
_REPLACE, _FSPATH, _FSTAT = os.replace, os.fspath, os.fstat
# a new file, never one the notebook made in its place (red team 71: a folder made at the
# temporary name stopped the harness before it said its answer's bytes), nor a link's target
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_ONLY = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_NDARRAY, _ASARRAY, _DTYPE, _FROMBUFFER = np.ndarray, np.asarray, np.dtype, np.frombuffer
_TOBYTES = np.ndarray.tobytes
_NPY_HEADER = re.compile(
    r"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}"
)
_LOCAL, _CENTRAL, _END = 0x04034B50, 0x02014B50, 0x06054B50


def _npy(value) -> bytes:
    array = value if type(value) is _NDARRAY else _ASARRAY(value)
    shape = ", ".join(str(int(n)) for n in array.shape) + ("," if len(array.shape) == 1 else "")
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': ({shape}), }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + _PACK("<H", len(header)) + header.encode() + _TOBYTES(array, "C")


def _npz(members: dict) -> bytes:
    """An npz of ``members`` (name: array), its .npy members stored."""
    files, central, offset = [], [], 0
    for name, value in members.items():
        body, filename = _npy(value), f"{name}.npy".encode()
        sizes = (_CRC32(body), len(body), len(body), len(filename))
        files.append(_PACK("<IHHHHHIIIHH", _LOCAL, 20, 0, 0, 0, 0, *sizes, 0) + filename + body)
        central.append(
            _PACK("<IHHHHHHIIIHHHHHII", _CENTRAL, 20, 20, 0, 0, 0, 0, *sizes, 0, 0, 0, 0, 0, offset)
            + filename
        )
        offset += len(files[-1])
    directory = b"".join(central)
    count = len(central)
    return b"".join(
        [*files, directory, _PACK("<IHHHHIIH", _END, 0, 0, count, count, len(directory), offset, 0)]
    )


_ITEM = np.ndarray.item


def _members(data: bytes) -> dict:
    """The arrays of an npz :func:`_npz` wrote (stored members, read through its directory)."""
    (_, _, _, _, count, size, start, _) = _UNPACK("<IHHHHIIH", data, len(data) - 22)
    found, at = {}, start
    for _ in range(count):
        fields = _UNPACK("<IHHHHHHIIIHHHHHII", data, at)
        length, name_length, offset = fields[8], fields[10], fields[16]
        name = data[at + 46 : at + 46 + name_length].decode()
        body = offset + 30 + _UNPACK("<H", data, offset + 26)[0]
        npy = data[body : body + length]
        header_length = _UNPACK("<H", npy, 8)[0]
        descr, shape = _NPY_HEADER.match(npy[10 : 10 + header_length].decode()).groups()
        dims = tuple(int(n) for n in shape.replace(",", " ").split())
        array = _FROMBUFFER(npy[10 + header_length :], dtype=_DTYPE(descr))
        found[name.removesuffix(".npy")] = array.reshape(dims).copy()
        at += 46 + name_length
    return found


def read_message(path: str | os.PathLike[str]) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a request (the grader reads answers with ``autograder.answers``)."""
    fd = _OPEN(_FSPATH(path), _READ_ONLY)
    try:
        chunks, size = [], _FSTAT(fd).st_size
        while size > 0 and (chunk := _READ(fd, size)):
            chunks.append(chunk)
            size -= len(chunk)
    finally:
        _CLOSE(fd)
    arrays = _members(b"".join(chunks))
    # (the array's own item, a str: `str(array)` ran numpy's printing, whose options hold what
    # the notebook gave them; red team 44's `legacy=` object compared itself there)
    meta = _loads(_ITEM(arrays.pop("__meta__"))) if "__meta__" in arrays else {}
    return meta, arrays


def write_message(path: str | os.PathLike[str], meta: dict, arrays: dict) -> None:
    """Write an ``.npz`` message (temporary name, then rename)."""
    _write_bytes(path, _message(meta, arrays))


# the line by which the harness says which bytes it wrote as an answer: the grader takes an
# answer only if its bytes are those (red teams 32 and 33 rewrote the file after the harness,
# from a finalizer, a signal handler, a thread or a function ipykernel calls)
ANSWER_SAID = "[unet-tp-answer] "
_SHA256 = hashlib.sha256


def _answer(path: str, message: bytes) -> None:
    """Write an answer, then say on the kernel's log its name and its bytes' SHA-256."""
    _write_bytes(path, message)
    name = _FSPATH(path).rpartition("/")[2]
    _say(f"\n{ANSWER_SAID}{name} {_SHA256(message).hexdigest()}\n".encode())


def _message(meta: dict, arrays: dict) -> bytes:
    """An ``.npz`` message's bytes (copies: no view of a tensor the notebook holds)."""
    return _npz({"__meta__": _ASARRAY(_dumps(meta)), **arrays})


def _write_bytes(path: str | os.PathLike[str], message: bytes) -> None:
    """Write a message's bytes (temporary name, then rename)."""
    data = memoryview(message)
    tmp = f"{_FSPATH(path)}.part.npz"
    fd = _OPEN(tmp, _NEW_FILE, 0o600)
    try:
        while data:
            data = data[_WRITE(fd, data) :]
    finally:
        _CLOSE(fd)
    _REPLACE(tmp, _FSPATH(path))


# ---- running the student's objects ------------------------------------------------------------
def _error(exc: BaseException) -> str:
    """One line: the exception, where in the student's code it came from."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith("<ipython-input") or "ipykernel_" in frame.filename:
            where = f" (in your code: `{(frame.line or '').strip()[:100]}`)"
            break
    return f"{type(exc).__name__}: {str(exc)[:2000]}{where}"  # (shortened by the grader)


_MISSING = object()


_BASES = type.__dict__["__bases__"]  # (type's own: no metaclass's code runs)
_DEFAULTS = types.FunctionType.__dict__["__defaults__"]
_KWDEFAULTS = types.FunctionType.__dict__["__kwdefaults__"]


@contextlib.contextmanager
def _substituted(namespace: dict, replacements: dict):
    """Names of the notebook's namespace replaced for the time of a request (probe blocks), and
    what else holds the student's object itself (honest round 25: ``Bloc = DoubleConv``, a
    class's attribute ``block = DoubleConv``, a default ``block=DoubleConv``, ``class
    Down(DoubleConv)`` kept a wrong DoubleConv in Down, which lost (b) too)."""
    saved = {name: namespace.get(name, _MISSING) for name in replacements}
    by_id = {id(saved[n]): new for n, new in replacements.items() if saved[n] is not _MISSING}
    undo: list = []
    for name, value in [*namespace.items()] if by_id else []:
        if id(value) in by_id and name not in replacements:  # an alias
            namespace[name] = by_id[id(value)]
            undo.append(functools.partial(namespace.__setitem__, name, value))
        elif type(value) is type and id(value) not in by_id:  # a class of the notebook's
            _swap_in_class(value, by_id, undo)
        elif type(value) is types.FunctionType:
            _swap_defaults(value, by_id, undo)
    namespace.update(replacements)
    try:
        yield
    finally:
        for restore in reversed(undo):
            restore()
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _swap_in_class(cls: type, by_id: dict, undo: list) -> None:
    """A class's bases, attributes and methods' defaults that are a replaced object, replaced
    (each change's undoing added to ``undo``)."""
    bases = _BASES.__get__(cls)
    if any(id(b) in by_id for b in bases):
        try:
            _BASES.__set__(cls, tuple(by_id.get(id(b), b) for b in bases))
            undo.append(functools.partial(_BASES.__set__, cls, bases))
        except TypeError:  # (a layout the grader's block cannot take)
            pass
    for name, value in [*_CLASS_DICT.__get__(cls).items()]:
        if id(value) in by_id:
            type.__setattr__(cls, name, by_id[id(value)])
            undo.append(functools.partial(type.__setattr__, cls, name, value))
        elif type(value) is types.FunctionType:
            _swap_defaults(value, by_id, undo)


def _swap_defaults(f: types.FunctionType, by_id: dict, undo: list) -> None:
    """A function's defaults that are a replaced object, replaced."""
    given, named = _DEFAULTS.__get__(f), _KWDEFAULTS.__get__(f)
    if given and any(id(v) in by_id for v in given):
        _DEFAULTS.__set__(f, tuple(by_id.get(id(v), v) for v in given))
        undo.append(functools.partial(_DEFAULTS.__set__, f, given))
    if named and any(id(v) in by_id for v in named.values()):
        _KWDEFAULTS.__set__(f, {k: by_id.get(id(v), v) for k, v in named.items()})
        undo.append(functools.partial(_KWDEFAULTS.__set__, f, named))


class _Watch:
    """What the student's code runs, while it answers, that its block forbids (the request's
    ``watch``: torch's functions or classes by ``names``, libraries' functions or modules by dotted
    ``paths``, the course package's code but the ``allowed`` modules), whichever way the answer
    reached it (a logging filter, a thread's arguments). Noted as the answer's ``ran``: the grader
    believes it against the answer only (a notebook that hides it gains nothing by it)."""

    def __init__(self, meta: dict):
        watch = meta.get("watch") or {}
        self.names = frozenset(watch.get("names", ()))
        # (path, its module, its last part): sklearn.metrics.f1_score runs as
        # sklearn.metrics._classification.f1_score
        self.paths = tuple((p, *p.rpartition(".")[::2]) for p in watch.get("paths", ()))
        self.allowed = tuple(watch.get("allowed", ()))
        # modules whose functions the answer may not give weights (SciPy's distances)
        self.weighted = tuple(watch.get("weighted", ()))
        self.ran: list[str] = []
        self.broken = False  # the hook met an error: the interpreter took it off
        self.finished = False  # its answer returned: a thread still holding its hook reports on
        self.outside: list[str] = []  # what a pool's thread ran that the answer did not hand it
        self.thread = _IDENT()  # the answer's (torch's operators run on it, or on one it hands)
        self.foreign: list[str] = []  # operators a thread of torch's own ran for the answer
        self._depths: dict[int, int] = {}  # torch's backward passes running, by thread
        self._known: set[tuple[str, str]] = set()  # each function judged once (the hot path)
        self._judged = 0  # how many were (a pair put in _known otherwise blinds the watch)
        self._noted: list[str] = []  # what ran holds (red teams 57, 58 emptied or blanked it)
        self._digest = 0  # of _known's pairs (red team 58 swapped some for forbidden ones)
        self._lock = _RLOCK()  # (the hook runs in every thread the answer runs in)

    def _seen(self, module: str, qualname: str) -> None:
        if self.finished:  # (torch's modes in a thread started under it: the running answer's)
            if (active := _running_watch()) is not None:
                active._seen(module, qualname)
            return
        if (module, qualname) in self._known or not self._judge((module, qualname)):
            return
        path, parts = f"{module}.{qualname}", set(qualname.split("."))
        parts |= {part.lstrip("_") for part in parts}  # torch._ctc_loss, _nll_loss_forward
        # a loss's backward (nll_loss2d_backward): its forward may have run where no mode saw it
        parts |= {part.removesuffix("_backward") for part in parts}
        torch_name = module.split(".")[0] == "torch" and bool(parts & self.names)
        library = any(
            _within(path, p) or (_within(module, parent) and last in parts)
            for p, parent, last in self.paths
        )
        course = _within(module, "unet_tp") and not any(_within(module, a) for a in self.allowed)
        if (torch_name or library or course) and len(self.ran) < 10:
            self._note_ran(path)

    def _judge(self, pair: tuple[str, str]) -> bool:
        """Whether ``pair`` is new, then known: judged once, whichever threads see it at once
        (two threads of an answer seeing one new operator, switched between the test and the
        add, would count it twice, and the watch read its pairs as tampered with)."""
        with self._lock:
            if pair in self._known:
                return False
            pair_hash = hash(pair)  # (first: a call here is an event of its own, the hook's
            self._known.add(pair)  # _seen run in it: ^= would lose its update)
            self._judged += 1
            self._digest ^= pair_hash
            return True

    def _note_ran(self, path: str) -> None:
        self.ran.append(path)
        self._noted.append(path)

    def _untouched(self) -> bool:
        """Whether the notes and the pairs judged are the watch's own (red teams 57, 58: ``ran``
        emptied or blanked, pairs of ``_known`` swapped for forbidden ones); read unwatched."""
        noted, digest = self._noted, self._digest
        if type(noted) is not list or type(digest) is not int or type(self._known) is not set:
            return False
        known = functools.reduce(operator.xor, map(hash, self._known), 0)
        return self.ran == noted and known == digest

    def _note_first(self, what: str) -> None:
        self.ran.insert(0, what)
        self._noted.insert(0, what)

    def _profile(self, frame, event: str, arg) -> None:
        # no code of the notebook's runs here (a __name__ whose __str__ raises would have the
        # interpreter remove the hook): names read as plain str, any error noted
        if self.finished:  # (a thread started under an answer that has returned: a follower)
            _follower(frame, event, arg)
            return
        try:
            if event == "call":
                code = frame.f_code
                name = _plain(getattr(code, "co_qualname", code.co_name))
                self._seen(_plain(dict.get(frame.f_globals, "__name__")), name)
                # and by its file, which no notebook renames (a red team set scipy's distance
                # module's __name__ to another's, and the watch read that)
                module = _module_of(_plain(code.co_filename))
                self._seen(module, name)
                if self.weighted and "w" in code.co_varnames[: code.co_argcount]:
                    self._weighed(frame, module, name)
                if name == "BackwardCFunction.apply":  # (a Function's backward, run by torch)
                    self._nested_backward(frame)
            elif event == "c_call":
                name = _plain(getattr(arg, "__name__", ""))
                self._seen(_plain(getattr(arg, "__module__", "")), name)
                owner = getattr(arg, "__self__", None)  # (a module's function: its module)
                if type(owner) is types.ModuleType:
                    self._seen(_registered(owner), name)
                if name == "run_backward":  # (torch's engine: every backward and grad)
                    self._engine_depth(1)
            # (c_return, c_exception: a C function returns; its name read only once a backward
            # began: the hot path's)
            elif (
                self._depths
                and event != "return"
                and _plain(getattr(arg, "__name__", "")) == "run_backward"
            ):
                self._engine_depth(-1)
        except BaseException:
            self.broken = True

    def _engine_depth(self, step: int) -> None:
        """One more (or one fewer) of torch's backward passes running on this thread: past
        ``MAX_NESTED_BACKWARD``, a backward within a backward (red teams 78, 79: past 60 deep,
        torch runs the rest in threads of its own, where no hook is, nor need be an operator)."""
        ident = _IDENT()
        self._depths[ident] = self._depths.get(ident, 0) + step
        self._deep(self._depths[ident])

    def _nested_backward(self, frame) -> None:
        """The same, counted by the frames of torch's runner of a Function's backward on this
        thread's stack (its engine may have been called where no profile event is: from C)."""
        code, depth = frame.f_code, 0
        while frame is not None and depth < MAX_NESTED_BACKWARD:
            depth += frame.f_code is code
            frame = frame.f_back
        self._deep(depth)

    def _deep(self, depth: int) -> None:
        """Noted once: backward passes ``depth`` deep, past ``MAX_NESTED_BACKWARD``."""
        if depth >= MAX_NESTED_BACKWARD and not self.foreign:
            self.foreign.append(f"a backward within a backward, {depth} deep")

    def _weighed(self, frame, module: str, name: str) -> None:
        """A function of a module in ``weighted`` given weights ``w`` (read from its frame, the
        library's own), noted as what the answer ran."""
        weighed = any(_within(module, m) for m in self.weighted) and len(self.ran) < 10
        if weighed and frame.f_locals.get("w") is not None:
            self._note_ran(f"{module}.{name}(w)")

    @contextlib.contextmanager
    def torch_calls(self):
        """Torch's function and dispatch modes telling the watch each of torch's functions and
        operators the answer runs (a C function called from C, ``functools.partial(torch._C._nn.
        cross_entropy_loss)``'s, makes no profile event, nor does TorchScript's
        ``nll_loss2d_forward``); for a block that forbids none of torch's names, the dispatch
        mode alone, which sees the threads torch runs the answer's code on."""
        torch = sys.modules.get("torch")
        if not torch:
            yield
            return
        if not self.names:
            with _ops_mode(torch, self._seen_op):
                yield
            return
        calls, ops = _calls_mode(torch, self._seen_torch), _ops_mode(torch, self._seen_op)
        with calls, ops, self._recorded(torch):
            yield

    @contextlib.contextmanager
    def _recorded(self, torch):
        """The operators this thread runs, as torch's profiler records them: below Python, where
        torch's modes switched off by the notebook (a red team, from code in a file it wrote)
        hide none of them. One profiler a thread: a watch within another's (a pool's thread,
        started under a watch, given an answer's task) takes it over meanwhile. A profiler the
        notebook left running, or stopped, is noted."""
        profiler = _profiler(torch)
        if profiler is None or profiler is _TAMPERED:  # (a torch without it: the modes alone)
            self.broken |= profiler is _TAMPERED
            yield
            return
        ident = _IDENT()
        outer = _RECORDING.get(ident)  # (its watch, its mark)
        if outer is not None:
            outer[0]._record_stop(profiler, outer[1])
        mark = self._record_start(profiler)
        if mark:
            _RECORDING[ident] = (self, mark)
        try:
            yield
        finally:
            current = _RECORDING.pop(ident, None)  # (its mark: a new one if a watch within took
            if current is not None and current[0] is self:  # the profiler over meanwhile)
                self._record_stop(profiler, current[1])
            elif mark:
                self.broken = True
            if outer is not None and (again := outer[0]._record_start(profiler)):
                _RECORDING[ident] = (outer[0], again)

    def _record_start(self, profiler) -> str:
        """Start the profiler, its first record a mark of this start ("" if it did not start)."""
        enable, _, config, marker = profiler
        try:
            enable(config)
            mark = _URANDOM(12).hex()
            with marker(mark):
                pass
            return mark
        except BaseException:
            self.broken = True
            return ""

    def _record_stop(self, profiler, mark: str) -> None:
        """The operators recorded since ``mark``'s start: the watch is broken where the profiler
        was started again meanwhile (a red team stopped it, ran the loss, started it again: the
        mark is gone) or where torch's recording of functions was left switched off (the end
        mark is not recorded)."""
        _, disable, _, marker = profiler
        try:
            with marker(mark + "."):
                pass
            names = [_plain(event.name()) for thread in disable() for event in thread]
            if mark not in names or mark + "." not in names:
                self.broken = True
            for name in names:
                self._seen("torch.ops", name.rpartition("::")[2])
        except BaseException:
            self.broken = True

    def _seen_torch(self, func) -> None:
        try:
            module = _plain(getattr(func, "__module__", "")) or "torch"
            self._seen(module, _plain(getattr(func, "__name__", "")))
        except BaseException:
            self.broken = True

    def _seen_op(self, op) -> None:
        try:  # (an operator of torch's: aten.nll_loss2d_forward.default)
            ident = _IDENT()
            if ident != self.thread and not self.finished and not _followed(ident):
                self._foreign_op(op)
            self._seen("torch.ops", _plain(op.overloadpacket.__name__))
        except BaseException:
            self.broken = True

    def _foreign_op(self, op) -> None:
        """An operator run for the answer on a thread it did not start, one of torch's own (red
        team 78: a backward within a backward, over 60 deep, runs the rest in torch's threads,
        where no profile hook is: the Python code there out of sight)."""
        if not self.foreign:
            self.foreign.append(_plain(op.overloadpacket.__name__))

    @contextlib.contextmanager
    def running(self):
        """Watch the code run in the block: in this thread and the threads it starts (a thread
        pool's, ``_thread``'s). Any other thread (the kernel's held still meanwhile,
        :func:`_kernel_held`) that uses the processor while the answer runs, or a watch found
        switched off when it returns, is noted as something it ran; a cell that could switch a
        thread's hooks off costs the blocks after it (``static._TRACERS``)."""
        if not (self.names or self.paths or self.allowed):
            yield
            return
        with _kernel_held() as others, self._hooked(others), _time_limited(_ANSWER_SECONDS):
            yield

    @contextlib.contextmanager
    def _hooked(self, others: dict[int, int]):
        hook, self.broken, self.outside, self.finished = self._profile, False, [], False
        settings, own = (self.names, self.paths, self.allowed, self.weighted), set(vars(self))
        previous, started = _GETPROFILE(), threading.getprofile()
        threading.setprofile(hook)
        _SETPROFILE(hook)
        _gc_let_go()  # (what a collection runs now, the watch sees)
        _WATCHING.append(hook)
        try:
            with self.torch_calls():
                yield
        finally:
            intact = _GETPROFILE() is hook and vars(threading).get("_profile_hook") is hook
            # (red team 27: a set whose `in` says yes to all put in place of _known, blinding it)
            intact = intact and type(self._known) is set and type(self.ran) is list
            # (red team 53: `finished` set mid-answer sent every event to no watch; pairs added
            # to _known, unjudged, were never noted)
            intact = intact and self.finished is False and len(self._known) == self._judged
            # (red team 29: names emptied and the course package allowed, through the module's
            # dict, mid-answer; a method shadowed by an attribute of the instance's)
            now_set = (self.names, self.paths, self.allowed, self.weighted)
            intact = intact and type(self) is _Watch and set(vars(self)) == own
            intact = intact and not [
                1 for a, b in zip(now_set, settings, strict=True) if a is not b
            ]
            _WATCHING.remove(hook)
            threading.setprofile(started)
            _SETPROFILE(previous)
            intact = intact and self._untouched()
            now = _thread_parts()  # (start() took them at start-up: none before it ran)
            changed = any(a is not b for a, b in zip(now, _THREAD_PARTS or now, strict=True))
            if not intact or self.broken or changed:
                self._note_first(UNWATCHED)
                _note("watch", "the watch of what an answer runs was switched off")
            self.finished = True
            ran = [i for i, spent in others.items() if not _followed(i) and _cpu_ns(i) != spent]
            if self.foreign:
                self._note_first(FOREIGN)
                _note(
                    "watch",
                    "the answer ran, or was about to run, in threads of torch's own, out of the "
                    f"watch's sight: {self.foreign[0]}",
                )
            elif self.outside:
                self._note_first(SERVED)
                _note(
                    "watch",
                    f"a pool's thread ran what the answer did not hand it: {self.outside[0]}",
                )
            elif ran:  # (a thread that ended meanwhile ran too)
                self._note_first(SERVED)
                _note(
                    "watch", f"a thread started before an answer ran while it ran ({_named(ran)})"
                )


UNWATCHED = "code out of the grader's sight (the watch of what the answer runs was switched off)"
AROUND = (
    "code out of the grader's sight (the notebook's own runs with every cell: IPython "
    "events, an audit hook, or the shell's, the kernel's or a library's functions replaced)"
)
SERVED = (
    "code out of the grader's sight (a thread started before the answer, the kernel's own or "
    "the notebook's, ran while it ran)"
)
FOREIGN = (
    "code out of the grader's sight (torch ran the answer's operators on a thread of its own, "
    "as a backward within a backward makes it)"
)
# torch runs a backward within a backward past 60 deep (its engine's MAX_DEPTH) in threads of
# its own; checkpointing nests two or three
MAX_NESTED_BACKWARD = 16
REBUILT = "code out of the grader's sight (code objects the notebook built, renamed or rewrote)"
REQUESTS_READ = "code out of the grader's sight (the notebook's code read the grader's requests)"
_FOLLOWED: dict[int, object] = {}  # the threads that ran what a watched answer handed them


def _running_thread(ident: int):
    """The running thread of this id, as threading holds it (None if none)."""
    return vars(threading).get("_active", {}).get(ident)


def _still_running(thread, ident: int) -> bool:
    """Whether ``thread`` is still the thread of this id (ids are reused as one ends)."""
    return thread is not None and _running_thread(ident) is thread


def _followed(ident: int) -> bool:
    """Whether the thread of this id ran what a watched answer handed it: the same thread, not a
    later one given its id (ids are reused as soon as a thread ends)."""
    return _still_running(_FOLLOWED.get(ident), ident)


def _named(idents: list[int]) -> str:
    """Where these threads were, for the instructor (frames and code: nothing of the notebook's
    runs to say it)."""
    frames, said = sys._current_frames(), []
    for i in idents[:3]:
        where = _where(frames[i].f_code) if i in frames else "ended"
        said.append(f"{'the kernel' if i in _KERNEL_THREADS else 'the notebook'}'s, {where}")
    return "; ".join(said)


def _other_threads() -> dict[int, int]:
    """The CPU time of each thread but this one, by thread id: the kernel's own (its loops, its
    heartbeat) and the notebook's, idle unless the answer feeds them (a server fed through a
    queue, a coroutine the notebook handed a kernel's loop)."""
    me, idents = threading.get_ident(), list(sys._current_frames())
    pollers = [i for i in idents if _parent_poller(i)]
    poller = pollers[0] if len(pollers) == 1 else None  # (two: one is the notebook's)
    return {i: _cpu_ns(i) for i in idents if i not in (me, _PARENT_POLLER, poller)}


def _parent_poller(ident: int) -> bool:
    """Whether a thread is ipykernel's parent poller as start-up found its class (ipykernel
    starts it after the start-up files ran: a CI run found it waking during an answer). Only
    where the kernel starts one: never in the sandbox (red team 85 started one of its own there,
    its ``run`` the notebook's, to compute the loss answers unwatched)."""
    cls, run, code = _POLLER or (None, None, None)
    thread = _running_thread(ident)
    if cls is None or type(thread) is not cls or vars(cls).get("run") is not run:
        return False
    return "run" not in vars(thread) and run.__code__ is code


# ---- the kernel's threads held still while an answer runs -------------------------------------
# Any thread may serve an answer (the kernel's too: a coroutine handed its loop, a function put in
# place of one its thread calls), so any thread that uses the processor while an answer runs is
# noted. The kernel's own work is kept out of that time. The grader starts the kernel with no
# history thread and no readers of standard output and error at the level of files
# (execute.KERNEL_OPTIONS); every event loop running at start-up (ipykernel's IOPub, control and
# shell-channel threads) waits in a callback of the grader's while the answer runs, which is
# stopped after ``_ANSWER_SECONDS`` (an interrupt, through the control loop, would wait);
# standard output and error at the level of files go to /dev/null; the answer starts once every
# thread sleeps.
_KERNEL_LOOPS: list = []  # the event loops running at start-up
_QUIET_FDS: dict[int, int] = {}  # 1 and 2: a copy of each (the kernel's pipe), and /dev/null
_KERNEL_THREADS: dict[int, object] = {}  # the threads running at start-up, by id
_POLLER: tuple | None = None  # its class, its run and the run's code, as start-up found them
_PARENT_POLLER = -1  # ipykernel's thread that wakes each second to see whether its parent lives:
# only without the sandbox (bwrap clears the variable that names the parent), which does not
# hold against a hostile notebook anyway


def _find_kernel_threads() -> None:
    """At start-up (no notebook code has run): the kernel's loops, the file descriptors to
    quiet."""
    global _PARENT_POLLER, _POLLER
    with contextlib.suppress(Exception):  # (the kernel starts it only if told its parent)
        cls = vars(sys.modules["ipykernel.parentpoller"])["ParentPollerUnix"]
        if int(os.environ.get("JPY_PARENT_PID") or 0) not in (0, 1):
            run = vars(cls)["run"]
            _POLLER = (cls, run, run.__code__)
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        _KERNEL_THREADS[ident] = _running_thread(ident)
        if type(_KERNEL_THREADS[ident]).__name__ == "ParentPollerUnix":
            _PARENT_POLLER = ident
        while frame is not None and ident != me:
            if frame.f_code.co_name == "run_forever" and "asyncio" in frame.f_code.co_filename:
                _KERNEL_LOOPS.append(frame.f_locals.get("self"))
                break
            frame = frame.f_back
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        _QUIET_FDS.update({1: os.dup(1), 2: os.dup(2), -1: null})


def _parked(arrived: threading.Event, release: threading.Event) -> None:
    arrived.set()
    release.wait(_ANSWER_SECONDS + 1)  # (an answer left running: interrupts come through again)


def _sleeping(ident: int) -> bool:
    """Whether the system has the thread asleep, waiting (True where it cannot say)."""
    native = getattr(_KERNEL_THREADS.get(ident) or _running_thread(ident), "native_id", None)
    try:
        with open(f"/proc/self/task/{int(native)}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] in (b"S", b"I")
    except (OSError, ValueError, TypeError, IndexError):
        return True


@contextlib.contextmanager
def _kernel_held(limit: float = 0.2):
    """While the answer runs: the kernel's loops parked, standard output and error quiet; yields
    the threads' CPU times once all sleep (or ``limit`` seconds have gone: one keeps working)."""
    release, arrivals = _EVENT(), []  # (held since load: red team 84 replaced time.monotonic,
    for loop in _KERNEL_LOOPS:  # which ran its code here, before the watch, the request below it)
        arrived = _EVENT()
        with contextlib.suppress(Exception):
            loop.call_soon_threadsafe(_parked, arrived, release)
        arrivals.append(arrived)
    with contextlib.suppress(OSError, KeyError):  # (start() not run: nothing to quiet)
        for fd in (1, 2):
            os.dup2(_QUIET_FDS[-1], fd)
    try:
        for arrived in arrivals:  # (a loop kept busy never gets there: it is not waited for)
            arrived.wait(5)
        deadline, before = _MONOTONIC() + limit, _other_threads()
        now = before
        while _MONOTONIC() < deadline:
            _SLEEP(0.002)
            now = _other_threads()
            if now == before and all(_sleeping(i) for i in now):
                break
            before = now
        yield now
    finally:
        with contextlib.suppress(OSError, KeyError):
            for fd in (1, 2):
                os.dup2(_QUIET_FDS[fd], fd)
        release.set()


TICK_SECONDS = 0.5  # how often a request's answer is looked in on (its operators read)


@contextlib.contextmanager
def _time_limited(seconds: float):
    """A KeyboardInterrupt in the answer after ``seconds`` (the main thread's: a request's);
    meanwhile, every :data:`TICK_SECONDS`, the operators torch's profiler recorded for it are read
    and the recording started again (the instructor round's: a block looping in a request for
    its two minutes left 3 GB of records, and every request after it failed for memory)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    deadline = _MONOTONIC() + seconds

    def tick(signum, frame) -> None:
        if frame is not None and _plain(frame.f_code.co_filename) == _HARNESS_FILE:
            _signal.setitimer(_signal.ITIMER_REAL, 0.05)  # (the watch's own code: a moment on;
            return  # an interrupt there would be the watch's error)
        if _MONOTONIC() >= deadline:
            raise KeyboardInterrupt("the answer ran past the grader's time limit")
        _read_recording()
        left = deadline - _MONOTONIC()
        _signal.setitimer(_signal.ITIMER_REAL, max(0.01, min(TICK_SECONDS, left)))

    previous = _signal.signal(_signal.SIGALRM, tick) or _signal.SIG_DFL
    _signal.setitimer(_signal.ITIMER_REAL, min(TICK_SECONDS, seconds))
    try:
        yield
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, previous)


def _read_recording() -> None:
    """The operators this thread's profiler recorded so far, read by its watch, and the
    recording started again (the records of a long answer would take the kernel's memory)."""
    torch = sys.modules.get("torch")
    recording = _RECORDING.get(_IDENT())
    if torch is None or recording is None:
        return
    watch, mark = recording
    profiler = _profiler(torch)
    if profiler is None or profiler is _TAMPERED:
        return
    watch._record_stop(profiler, mark)
    again = watch._record_start(profiler)
    if again:
        _RECORDING[_IDENT()] = (watch, again)
    else:
        _RECORDING.pop(_IDENT(), None)


def _cpu_ns(ident: int) -> int:
    """A thread's CPU time in nanoseconds (-1 where the system cannot say, or it ended)."""
    try:
        return _CLOCK_NS(_CPU_CLOCK(ident))
    except (AttributeError, TypeError, OSError, ValueError, OverflowError):
        return -1


_GETPROFILE, _SETPROFILE = sys.getprofile, sys.setprofile
_THREADS, _COLLECT = _thread._count, gc.collect  # (Python's threads but the main one)
# the garbage collector held from a request's start to its first watch: no finalizer of the
# notebook's runs while the harness reads the request (red team 43's read the requests folder;
# one run during the reading could read the harness's open file by its descriptor, unaudited)
_GC_ENABLE, _GC_DISABLE, _GC_ENABLED = gc.enable, gc.disable, gc.isenabled
_GC_HELD: list[bool] = []
_IDENT, _RLOCK = _thread.get_ident, _thread.RLock
_RECORDING: dict = {}  # thread -> the watch whose profiler of torch's operators runs there
_URANDOM = os.urandom
_HEAP_TYPE = 1 << 9  # (Py_TPFLAGS_HEAPTYPE: a class made at run time, not one of C's)
_WATCHING: list = []  # the hooks of the answers being watched (the newest last)


@functools.lru_cache(maxsize=8192)
def _module_of(filename: str) -> str:
    """The module a library's file is, by its path (``.../site-packages/scipy/spatial/
    distance.py``: ``scipy.spatial.distance``); "" outside the libraries start-up found."""
    for root in sorted(_LIBRARIES, key=len, reverse=True):
        root = root.rstrip("/") + "/"
        if filename.startswith(root):
            parts = filename[len(root) :].split("/")
            parts[-1] = parts[-1].split(".")[0]  # (distance.py, _distance_pybind.cpython-...so)
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return ""


_REGISTERED: dict[int, tuple[object, str]] = {}


def _registered(module) -> str:
    """The name ``sys.modules`` holds a module under (its ``__name__`` and ``__module__``s are
    the notebook's to change; sys.modules' keys, static reading watches)."""
    known = _REGISTERED.get(id(module))
    if known is None or known[0] is not module:
        name = next((k for k, m in list(sys.modules.items()) if m is module), "")
        known = _REGISTERED[id(module)] = (module, _plain(name))
    return known[1]


def _plain(name: object) -> str:
    """``name`` as a plain str, without running any method of a subclass's ("" if no str)."""
    return str.__str__(name) if issubclass(type(name), str) else ""


def _calls_mode(torch, seen):
    """Torch's function mode telling ``seen`` each function the answer calls; made for each
    answer, holding ``seen`` in its closure (red team 30 read the running watch off the mode's
    attribute, the mode found through a re-export of torch's getter of the current one)."""

    class Calls(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen(func)
            return func(*args, **(kwargs or {}))

    return Calls()


_TAMPERED = ()


@functools.cache
def _profiler(torch):
    """``(enable, disable, settings, marker)`` of torch's CPU profiler of operators, or None."""
    try:
        from torch._C._autograd import _disable_profiler_legacy, _enable_profiler_legacy
        from torch._C._profiler import ProfilerConfig, ProfilerState, _ExperimentalConfig

        config = ProfilerConfig(ProfilerState.CPU, *[False] * 5, _ExperimentalConfig())
    except (ImportError, AttributeError, TypeError, RuntimeError):
        return None
    for f, name in ((_enable_profiler_legacy, "enable"), (_disable_profiler_legacy, "disable")):
        if type(f) is not types.BuiltinFunctionType or f.__name__ != f"_{name}_profiler_legacy":
            return _TAMPERED  # (a red team set them to bool and list before the first answer)
    marker = getattr(torch._C._profiler, "_RecordFunctionFast", None)  # (torch 2.2 and later)
    if type(marker) is not type or marker.__flags__ & _HEAP_TYPE:  # (a class of C's, not made)
        return None if marker is None else _TAMPERED
    return _enable_profiler_legacy, _disable_profiler_legacy, config, marker


def _ops_mode(torch, seen):
    """Torch's dispatch mode telling ``seen`` each operator (below autograd: what scripted and
    traced code runs too); as :func:`_calls_mode`, made for each answer."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen(func)
            return func(*args, **(kwargs or {}))

    return Ops()


_METHOD_SELF = types.MethodType.__dict__["__self__"]
_THREAD_CLASS = threading.Thread  # (as start-up found it)


def _thread_of(function):
    """The thread running ``function``: for ``Thread._bootstrap``, its Thread, which threading
    registers only after the bootstrap has begun (``current_thread()`` is a stand-in till then:
    honest round 39's threads were not followed, their operators torch's own to the watch); read
    through no code of the notebook's (a method's ``__self__`` by its descriptor, the class by
    its ``__mro__``'s)."""
    owner = _METHOD_SELF.__get__(function) if type(function) is types.MethodType else None
    if owner is not None and any(c is _THREAD_CLASS for c in _MRO.__get__(type(owner))):
        return owner
    return threading.current_thread()


def _under_watch(function):
    """``function`` to run in another thread (a new one, a pool's): under the watch of the
    thread that hands it over."""
    hook = _GETPROFILE()
    if not any(hook is h for h in _WATCHING):
        return function
    watch = hook.__self__

    def watched(*args, **kwargs):
        ident = _IDENT()
        _FOLLOWED[ident] = _thread_of(function)  # (a pool's: it may finish up in the next
        serving = _SERVING.setdefault(ident, [])  # answer)
        serving.append(watch)
        previous = _GETPROFILE()
        _SETPROFILE(hook)
        try:
            with watch.torch_calls():
                return function(*args, **kwargs)
        finally:
            serving.pop()
            live = any(previous is h for h in _WATCHING)  # (a watch this thread runs within)
            _SETPROFILE(previous if live else _follower)

    return watched


def _running_watch():
    """The watch of the answer running now (None between answers)."""
    active = _WATCHING[-1].__self__ if _WATCHING else None
    return None if active is None or active.finished else active


_SERVING: dict[int, list] = {}  # by thread: the watches whose handed work it runs now


def _follower(frame, event: str, arg) -> None:
    """The profile hook of a thread that ran what a watched answer handed it (a pool's), once
    that work returned: while another answer runs, what the thread runs that is not its pool's
    own bookkeeping (taking work from its queue, setting a future's result) the answer did not
    hand it (rounds 23 and 24: work put straight into a pool's queue ran unwatched, torch's C
    loss called from C, in a thread the CPU check trusted): noted, and the answer's watch sees
    it too. It never raises: the interpreter takes off a hook that does (red team 81: a method
    whose owner's metaclass raised on ``__qualname__``, run as a future's callback, took the
    hook off the pool's thread, and the next callback ran the loss unwatched); an error here
    leaves the answer unwatched."""
    active = None
    try:
        active = _running_watch()
        if active is None:
            return
        if event in ("call", "c_call") and not _bookkeeping(frame, event, arg):
            with contextlib.suppress(Exception):
                if len(active.outside) < 3:
                    active.outside.append(_callee(frame, event, arg))
        active._profile(frame, event, arg)
    except BaseException:
        if active is not None:
            active.broken = True


# what a pool's thread runs between the tasks it is handed: the pools' modules, threading's
# and queue's, the watch's wrapper; of C, the locks', the queue's and deque's methods it calls
_BOOKKEEPING = ("concurrent.futures", "threading", "queue")
_BOOKKEEPING_C = frozenset(f"RLock.{m}" for m in ("__enter__", "__exit__", "_is_owned", "acquire"))
_BOOKKEEPING_C |= {f"RLock.{m}" for m in ("release", "_release_save", "_acquire_restore")}
_BOOKKEEPING_C |= {f"lock.{m}" for m in ("__enter__", "__exit__", "acquire", "release")}
_BOOKKEEPING_C |= {"lock.locked", "SimpleQueue.get", "SimpleQueue.put", "deque.remove"}
_BOOKKEEPING_C |= {"deque.append", "deque.popleft", "get_ident", "getprofile", "setprofile"}
_BOOKKEEPING_C |= {"len", "monotonic", "allocate_lock"}
_C_FUNCTIONS = (type(len), type(__import__("queue").SimpleQueue().get))  # (and builtin_method)


def _bookkeeping(frame, event: str, arg) -> bool:
    """Whether a call a pool's thread makes between tasks is its pool's own (see above): the
    code of those modules as start-up found it (by identity: their files may lie anywhere)."""
    if _plain(frame.f_code.co_filename) == _HARNESS_FILE:
        return True  # (the watch's wrapper, and what it calls)
    if event == "call":
        return id(frame.f_code) in _bookkeeping_code()
    return type(arg) in _C_FUNCTIONS and _plain(arg.__qualname__) in _BOOKKEEPING_C


@functools.cache
def _bookkeeping_code() -> frozenset[int]:
    """The ids of the code objects of the functions of ``_BOOKKEEPING``'s modules (and of their
    classes), as start-up found them (held alive by the modules)."""
    found: set[int] = set()

    def add(code) -> None:
        found.add(id(code))
        for const in code.co_consts:
            if type(const) is type(code):
                add(const)

    for name, module in list(sys.modules.items()):
        if type(module) is not types.ModuleType or not any(_within(name, m) for m in _BOOKKEEPING):
            continue
        for value in list(vars(module).values()):
            members = list(vars(value).values()) if isinstance(value, type) else [value]
            for member in members:
                member = getattr(member, "__func__", member)  # (static and class methods)
                if type(member) is types.FunctionType:
                    add(member.__code__)
                elif type(member) is property:
                    for f in (member.fget, member.fset, member.fdel):
                        if type(f) is types.FunctionType:
                            add(f.__code__)
    return frozenset(found)


def _callee(frame, event: str, arg) -> str:
    """What a call runs, for the instructor."""
    if event == "call":
        return _where(frame.f_code)
    return _plain(getattr(arg, "__qualname__", "")) or type(arg).__name__


def _where(code) -> str:
    """A function's name and file, for the instructor: ``UNet.forward in 1234.py``."""
    name = getattr(code, "co_qualname", code.co_name)  # (Python 3.10: co_name)
    return f"{name} in {Path(_plain(code.co_filename)).name}"


def _watch_new_threads() -> None:
    """Every way to start a thread (``_thread``'s functions, threading's names for them) sets the
    watch in the new thread when a watched answer starts it: a thread of
    ``_thread.start_new_thread`` skips threading's own setting of the hook."""

    def wrap(start):
        def start_thread(function, *args, **kwargs):
            return start(_under_watch(function), *args, **kwargs)

        return start_thread

    for module, names in (
        (_thread, ("start_new_thread", "start_new", "start_joinable_thread")),
        (threading, ("_start_new_thread", "_start_joinable_thread")),
    ):
        for name in names:
            if callable(vars(module).get(name)):
                setattr(module, name, wrap(vars(module)[name]))
    submit = ThreadPoolExecutor.submit  # a pool's thread started before the answer

    def watched_submit(self, fn, /, *args, **kwargs):
        return submit(self, _under_watch(fn), *args, **kwargs)

    ThreadPoolExecutor.submit = watched_submit


def _thread_parts() -> tuple:
    """What starts threads and sets their hooks, as found now (compared with start-up's)."""
    return (
        *(vars(_thread).get(n) for n in ("start_new_thread", "start_new", "start_joinable_thread")),
        *(vars(threading).get(n) for n in ("_start_new_thread", "_start_joinable_thread", "_sys")),
        *(vars(threading.Thread).get(n) for n in ("_bootstrap", "_bootstrap_inner", "start")),
        vars(ThreadPoolExecutor).get("submit"),
    )


_THREAD_PARTS: tuple = ()


def _within(name: str, module: str) -> bool:
    return bool(module) and (name == module or name.startswith(module + "."))


@contextlib.contextmanager
def _default_dtype(dtype_name: str):
    """Tensors and layers created meanwhile in this dtype."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype_name))
    try:
        yield getattr(torch, dtype_name)
    finally:
        torch.set_default_dtype(before)


def _params_by_execution(module, inputs):
    """The module's parameters in the order its layers run on ``inputs`` (then the unused)."""
    import torch

    order = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, _: order.append(mod) if mod not in order else None)
        for m in module.modules()
        if list(m.parameters(recurse=False))
    ]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    params = [p for m in order for p in m.parameters(recurse=False)]
    seen = {id(p) for p in params}
    return params + [p for p in module.parameters() if id(p) not in seen]


def param_kinds(module, params) -> list[str]:
    """``Conv2d.weight``, ``BatchNorm2d.bias``... of each parameter (its torch.nn layer type)."""
    kinds = {}
    for sub in module.modules():
        torch_kind = next(
            (c.__name__ for c in type(sub).__mro__ if c.__module__.startswith("torch.nn")),
            type(sub).__name__,
        )
        for name, p in sub.named_parameters(recurse=False):
            kinds.setdefault(id(p), f"{torch_kind}.{name}")
    return [kinds.get(id(p), "?") for p in params]


def _layers(kinds: list[str]) -> dict[str, list[tuple[int | None, int | None]]]:
    """The parameters' indices by layer type, a layer at a time: ``{"Conv2d": [(weight, bias or
    None)...]}`` (a layer's weight, then its bias, as torch lists them), others alone."""
    layers: dict[str, list] = {}
    i = 0
    while i < len(kinds):
        layer, _, name = kinds[i].rpartition(".")
        if name == "weight" and i + 1 < len(kinds) and kinds[i + 1] == f"{layer}.bias":
            layers.setdefault(layer, []).append((i, i + 1))
            i += 2
            continue
        if name in ("weight", "bias"):
            layers.setdefault(layer, []).append((i, None) if name == "weight" else (None, i))
        else:
            layers.setdefault(kinds[i], []).append((i, None))
        i += 1
    return layers


def _plan_by_kind(student_params, student_kinds, ref_shapes, ref_kinds) -> list | None:
    """The student's parameters paired layer type by layer type with the reference's (the n-th
    convolution with the n-th...): ``[(param, reference index)]``, or None. A bias the
    reference's layer lacks (a convolution's before a batch norm) is paired with None: zeroed."""
    ours, theirs = _layers(student_kinds), _layers(ref_kinds)
    if set(theirs) - set(ours):
        return None
    plan = []
    for layer, units in ours.items():
        refs = theirs.get(layer)
        if refs is None:  # a layer type the reference lacks: only biases, zeroed
            refs = [(None, None)] * len(units) if all(w is None for w, _ in units) else []
        if len(refs) != len(units):
            return None
        for (weight, bias), (ref_weight, ref_bias) in zip(units, refs, strict=True):
            for mine, ref in ((weight, ref_weight), (bias, ref_bias)):
                if mine is None:
                    if ref is not None:  # the reference's layer has it, the student's not
                        return None
                    continue
                param = student_params[mine]
                if ref is not None and tuple(param.shape) != tuple(ref_shapes[ref]):
                    return None
                plan.append((param, ref))
    return plan


def _plan_in_order(student_params, ref_shapes) -> list | None:
    """The student's parameters paired in order, by shape, with the reference's: ``[(param,
    reference index)]``, or None. Extra 1-d parameters are paired with None: zeroed."""
    plan, i = [], 0
    for p in student_params:
        if i < len(ref_shapes) and tuple(p.shape) == tuple(ref_shapes[i]):
            plan.append((p, i))
            i += 1
        elif p.dim() == 1:
            plan.append((p, None))
        else:
            return None
    return plan if i == len(ref_shapes) else None


def _plan(order: str, module, params, meta: dict) -> list | None:
    """``[(param, index in the reference's definition order)]`` for a weight order (kind by
    kind, as they run, or as they are defined), or None if they cannot be paired."""
    spec = meta["weights"]
    if order == "definition":
        return _plan_in_order(params, spec["shapes"])
    exe = [int(i) for i in spec["execution"]]
    exe_shapes = [spec["shapes"][i] for i in exe]
    if order == "kinds":
        plan = _plan_by_kind(params, param_kinds(module, params), exe_shapes, meta["kinds"])
    else:
        plan = _plan_in_order(params, exe_shapes)
    return plan and [(p, None if i is None else exe[i]) for p, i in plan]


def reference_weight(spec: dict, k: int):
    """The k-th weight a request names (the same float32 array on both sides): ``offsets[k] +
    scales[k] * N(0, 1)`` of shape ``shapes[k]``, drawn from ``default_rng([seed, k])``."""
    import numpy as np

    rng = np.random.default_rng([int(spec["seed"]), k])
    shape = tuple(int(s) for s in spec["shapes"][k])
    weight = rng.standard_normal(shape, dtype=np.float32)
    weight *= np.float32(spec["scales"][k])
    weight += np.float32(spec["offsets"][k])
    return weight


def _to_tensors(arrays: dict, prefix: str, dtype=None):
    import torch

    keys = sorted((k for k in arrays if k.startswith(prefix)), key=lambda k: int(k[len(prefix) :]))
    tensors = [torch.from_numpy(arrays[k]) for k in keys]
    return [t.to(dtype) if dtype is not None and t.is_floating_point() else t for t in tensors]


def _in_dtypes(meta: dict, run) -> tuple[dict, dict]:
    """``run(dtype)`` in float64, else (it raised) in float32: the answer says which."""
    errors = []
    for dtype_name in meta.get("dtypes", ["float32"]):
        try:
            with _default_dtype(dtype_name) as dtype:
                out_meta, out_arrays = run(dtype)
        except Exception as exc:
            errors.append(_error(exc))
            continue
        return out_meta | {"dtype": dtype_name}, out_arrays
    return {"error": errors[0] if errors else "no dtype to run in"}, {}


def _module(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """Build the student's module, load the reference weights in each order, run it: each order's
    output (and gradients), keyed ``out_<order>.<dtype>``, in the request's first dtype where one
    order gives an output."""
    out_meta: dict = {"candidates": {}}
    out_arrays: dict = {}
    spec = meta["weights"]
    weights = [reference_weight(spec, k) for k in range(len(spec["shapes"]))]
    for dtype_name in meta.get("dtypes", ["float32"]):
        with contextlib.suppress(Exception), _default_dtype(dtype_name) as dtype:
            if _module_in(namespace, meta, arrays, weights, dtype, out_meta, out_arrays):
                break
    return out_meta, out_arrays


def _unregistered(module) -> list[str]:
    """The module's plain lists or dicts of modules torch does not see (named in the message
    of parameters of other shapes)."""
    try:
        from unet_tp.checks import unregistered_modules

        return unregistered_modules(module)
    except Exception:  # noqa: BLE001 - a hint only: the values decide
        return []


def _module_in(namespace, meta, arrays, weights, dtype, out_meta, out_arrays) -> bool:
    """:func:`_module` in one dtype; whether an order gave an output."""
    import torch

    cls = namespace[meta["name"]]
    inputs = _to_tensors(arrays, "input_", dtype)
    tag = str(dtype).replace("torch.", "")
    found = False
    for order in meta.get("orders", ["kinds", "definition", "execution"]):
        key = f"{order}.{tag}"
        torch.manual_seed(meta.get("seed", 0))
        try:
            module = cls(*meta.get("args", []), **meta.get("kwargs", {}))
            module.train(meta.get("train", True))
            params = list(module.parameters())
            out_meta["param_shapes"] = [list(p.shape) for p in params]
            out_meta["unregistered"] = _unregistered(module)
            if order != "definition":
                params = _params_by_execution(module, [x.clone() for x in inputs])
            plan = _plan(order, module, params, meta)
            if plan is None:
                out_meta["candidates"][key] = {"error": "shapes: not the reference's parameters"}
                continue
            with torch.no_grad():
                for p, index in plan:  # the planned reference weight, or zero
                    if index is None:
                        p.zero_()
                    else:
                        p.copy_(torch.from_numpy(weights[index]).to(p.dtype))
            out = module(*[x.clone() for x in inputs])
        except Exception as exc:
            out_meta["candidates"][key] = {"error": _error(exc)}
            continue
        if not isinstance(out, torch.Tensor):
            error = f"forward returned {type(out).__name__}, not a tensor"
            out_meta["candidates"][key] = {"error": error}
            continue
        out_arrays[f"out_{key}"] = out.detach().double().numpy()
        out_meta["candidates"][key] = {}
        found = True
        out_arrays |= _gradients(key, module, out, plan, arrays.get("cotangent"))
    return found


def _gradients(key: str, module, out, plan, cotangent) -> dict:
    """``grad_<key>_<reference index>``: the gradients of ``sum(out * cotangent)``, if any."""
    import torch

    grads: dict = {}
    if cotangent is None or tuple(out.shape) != cotangent.shape:
        return grads
    with contextlib.suppress(Exception):
        module.zero_grad()
        (out * torch.from_numpy(cotangent).to(out.dtype)).sum().backward()
        for p, index in plan:
            if index is not None and p.grad is not None:
                grads[f"grad_{key}_{index}"] = p.grad.detach().double().numpy()
    return grads


def _function(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """Call a student function on tensors; return its tensor output."""
    import torch

    out = namespace[meta["name"]](*_to_tensors(arrays, "input_"), *meta.get("extra_args", []))
    if not isinstance(out, torch.Tensor):
        return {"error": f"returned {type(out).__name__}, not a tensor"}, {}
    return {}, {"out": out.detach().cpu().numpy()}


def _loss(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """The student's loss and its gradient for each case of the request."""
    import torch

    fn, watch = namespace[meta["name"]], _Watch(meta)
    out_meta: dict = {"cases": [], "ran": watch.ran}
    out_arrays: dict = {}
    for i in range(meta["cases"]):
        logits = torch.from_numpy(arrays[f"logits_{i}"]).clone().requires_grad_()
        target = torch.from_numpy(arrays[f"target_{i}"])
        # called as the training cell does: partial(categorical_cross_entropy, weight=...)
        given = arrays.get(f"weight_{i}")
        weight = {} if given is None else {"weight": torch.from_numpy(given)}
        try:  # the value read in the watch too (a Tensor subclass's detach could compute it)
            with watch.running():
                value = fn(logits, target, **weight)
                scalar = type(value) is torch.Tensor and value.numel() == 1
                if scalar:
                    value.backward()
                    found = float(value.detach())
                    grad = (  # (a copy: logits.grad's memory is the notebook's to write later)
                        logits.grad.detach().double().numpy().copy()
                        if logits.grad is not None
                        else None
                    )
        except Exception as exc:
            out_meta["cases"].append({"error": _error(exc)})
            continue
        if not scalar:
            shape = tuple(value.shape) if type(value) is torch.Tensor else ()
            error = f"returned {type(value).__name__} of shape {shape}, not a scalar tensor"
            out_meta["cases"].append({"error": error})
            continue
        out_meta["cases"].append({"value": found})
        if grad is not None:
            out_arrays[f"grad_{i}"] = grad
    return out_meta, out_arrays


def _small_net(meta: dict, arrays: dict, training: bool):
    """The request's small network (``unet_tp.check_cases``) with its weights, in that mode."""
    import torch

    from unet_tp.check_cases import small_net

    model = small_net(meta["net"])
    state = {k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("state.")}
    model.load_state_dict(state)
    return model.train(training)


def _train_step(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """Three steps of the student's ``train_step`` on a small network, from given weights."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    fn, watch = namespace[meta["name"]], _Watch(meta)
    floats = (int, float, np.float64)  # (NumPy's float64 is a float: np.float64(loss.item()))

    calls = [0]  # (a step calling a loss of its own, not the one given: honest round 25)

    def loss_fn(logits, target, weight=None):  # called as the notebook's loss is (target= too;
        calls[0] += 1  # input=, torch's name, fails)
        return F.cross_entropy(logits, target, weight=weight)

    loss_fn.__qualname__ = "loss_fn"  # (as an error names it)

    def run(dtype):
        calls[0] = 0
        model = _small_net(meta, arrays, training=False)  # train_step must call model.train()
        opt = torch.optim.Adam(model.parameters(), lr=meta["lr"])
        images = torch.from_numpy(arrays["images"]).to(dtype)
        labels = torch.from_numpy(arrays["labels"])
        losses = []
        with watch.running():  # the weights read in the watch too (what a step left to compute)
            for _ in range(meta["steps"]):
                got = fn(model, images, labels, opt, loss_fn)
                losses.append(float(got) if type(got) in floats else type(got).__name__)
            parameters = torch.nn.Module.parameters(model)
            params = {
                f"param_{i}": p.detach().double().numpy().copy() for i, p in enumerate(parameters)
            }
            training = model.training is True
        return {"losses": losses, "training_mode": training, "loss_fn_calls": calls[0]}, params

    out_meta, out_arrays = _in_dtypes(meta, run)
    return out_meta | {"ran": watch.ran}, out_arrays


def _predict_dice(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """The student's Dice on mask pairs, and ``predict`` on a small network in training mode."""
    import numpy as np
    import torch

    dice, watch = namespace["dice_score"], _Watch(meta)
    out_meta: dict = {"dice": [], "ran": watch.ran}
    for i in range(meta["pairs"]):
        try:
            with watch.running():
                value = float(dice(arrays[f"a_{i}"], arrays[f"b_{i}"]))
            out_meta["dice"].append(value)
        except Exception as exc:
            out_meta["dice"].append(_error(exc))

    def run(dtype):
        model = _small_net(meta, arrays, training=True)
        with watch.running():  # the prediction read in the watch too
            pred = namespace["predict"](model, torch.from_numpy(arrays["images"]).to(dtype))
            pred = pred.detach().cpu() if hasattr(pred, "detach") else pred
            pred = np.asarray(pred).astype(np.int64)
        return {}, {"pred": pred}

    predicted_meta, predicted = _in_dtypes(meta, run)
    if "error" in predicted_meta:
        out_meta["predict_error"] = predicted_meta["error"]
    out_meta["dtype"] = predicted_meta.get("dtype")
    return out_meta, predicted


@contextlib.contextmanager
def _quiet():
    """What the answer prints, kept out of the kernel's outputs."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _visible(namespace: dict, meta: dict, arrays: dict) -> tuple[dict, dict]:
    """The notebook's visible self-check of a block (its message explains a lost block)."""
    import torch.nn.functional as F

    from unet_tp import checks

    args = [F.cross_entropy if n == "F.cross_entropy" else namespace[n] for n in meta["args"]]
    try:
        with _quiet():
            getattr(checks, meta["check"])(*args)
    except AssertionError as exc:
        return {"passed": False, "message": str(exc)[:1500]}, {}
    except Exception as exc:
        return {"passed": False, "message": _error(exc)}, {}
    return {"passed": True, "message": ""}, {}


_KINDS = {
    "module": _module,
    "function": _function,
    "loss": _loss,
    "train_step": _train_step,
    "predict_dice": _predict_dice,
    "visible": _visible,
}
_PROBES: dict = {}
_FIT = [lambda probe, block: probe]  # the probes' own fitted(): a probe called as the block is


def let_go() -> None:
    """(Asked by the grader after a cell that failed.) The last error's frames let go: IPython
    keeps them (``sys.last_traceback``, its shell's last result and traceback formatter), and
    with them what the cell's code held (instructor round 28: a DoubleConv looping in Up's test
    grew its autograd graph to the memory limit, the error kept it, and every request after it
    failed for memory)."""
    held = _MODULE_DICT.__get__(_SYS)
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        held.pop(name, None)
    if _EVENTS:  # (IPython's shell, as start-up found it: its last result, its traceback's)
        with contextlib.suppress(Exception):
            _EVENTS[0].last_execution_result = None
        with contextlib.suppress(Exception):
            _EVENTS[0].InteractiveTB.tb = None
    _COLLECT()


def load_probes(path: str) -> None:
    """Define the grader's probe blocks sent in this file (those whose blocks were answered)."""
    _forget_requests()
    namespace: dict = {"__name__": "unet_tp_probes"}
    source = _own_read(lambda p: Path(p).read_text(), path)
    exec(compile(source, "unet_tp_probes", "exec"), namespace)  # noqa: S102
    _PROBES.update(namespace["PROBES"])
    _FIT[0] = namespace["FIT"]


_EVENTS: list = []  # the shell and its class, its events, their class and its trigger at start-up
_AROUND = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell")
_LIBRARIES: list[str] = []  # where the kernel's modules were found at start-up (not its home)
_LIBRARY_ROOTS: list[str] = []  # (each ending in /)


def _code_around_cells() -> bool:
    """Whether code other than a library's runs before or after each cell (IPython's events: the
    grader's request is a cell), or the events were replaced. Nothing of the notebook's runs to
    tell: the callbacks' code is read through the function type, never their attributes."""
    if not _EVENTS:
        return False
    shell, shell_kind, events, kind, trigger = _EVENTS
    if type(shell) is not shell_kind or type(events) is not kind:
        return True
    if dict.get(vars(shell), "events") is not events or vars(kind).get("trigger") is not trigger:
        return True
    callbacks = dict.get(vars(events), "callbacks")
    for name in _AROUND:
        for callback in dict.get(callbacks, name, ()) if type(callbacks) is dict else [None]:
            if not _libraries(callback):
                return True
    return False


# what runs the grader's request cell or sends its reply, and that a notebook could swap for code
# of its own (a red team's: should_run_async, compile.ast_parse, transform_cell, the payload
# manager, shell_handlers, pre_handler_hook, the display trap, sys.stdout.flush): each object,
# its class, its own attributes and its classes' as start() found them
_HOOKED: list[tuple] = []
_CLASS_DICT = type.__dict__["__dict__"]  # a class's attributes, read without its code
_MRO = type.__dict__["__mro__"]
_MODULE_DICT = types.ModuleType.__dict__["__dict__"]  # and a module's
# what they hold for the cell being run, whose value differs in every cell (the display hook
# before the cell's, the input functions the kernel puts back after it)
_PER_CELL = frozenset({"old_hook", "_save_getpass", "_sys_raw_input", "_sys_eval_input"})
# and the shell's handler of a cell's error (set_custom_exc: static reading flags it for review;
# a request cell raises no error of its own)
_PER_CELL |= {"CustomTB", "custom_exceptions"}
# and the display hook's last three values shown (IPython's `_`, `__`, `___`), which nothing
# calls: data, a module or a function shown as a cell's last line (honest round 16: `model`,
# `model.eval()`, `DoubleConv(4, 8)` shown cost every block tested after them)
_SHOWN = types.MappingProxyType({"displayhook": frozenset({"_", "__", "___"})})
_CELL_CONTENTS = types.CellType.cell_contents  # what a closure holds


def _own_dict(obj) -> tuple:
    """``obj``'s attribute dictionary and the descriptor that reads it (None: it has none)."""
    for cls in type(obj).__mro__:
        found = _CLASS_DICT.__get__(cls).get("__dict__")
        if type(found) is types.GetSetDescriptorType:
            return found, found.__get__(obj)
    return None, None


def _hooks(ip) -> None:
    """Keep the objects that run a cell and send its reply, as they are (start-up)."""
    kernel = getattr(ip, "kernel", None)
    parts = {"shell": ip, "kernel": kernel, "stdout": sys.stdout, "stderr": sys.stderr}
    for name in ("compile", "payload_manager", "displayhook", "display_trap", "display_pub"):
        parts[name] = getattr(ip, name, None)
    parts["session"] = getattr(kernel, "session", None)
    for name, obj in parts.items():
        getset, own = _own_dict(obj)
        classes = [(c, dict(_CLASS_DICT.__get__(c))) for c in type(obj).__mro__[:-1]]
        before = types.MappingProxyType(dict(own or {}))  # (read-only, as what follows)
        classes = tuple((c, types.MappingProxyType(attributes)) for c, attributes in classes)
        _HOOKED.append((name, obj, type(obj), getset, own, before, classes))
    for name in ("shell_handlers", "control_handlers"):
        handlers = getattr(kernel, name, None)
        if type(handlers) is dict:
            before = types.MappingProxyType(dict(handlers))
            _HOOKED.append((name, handlers, dict, None, handlers, before, ()))
    for name, obj in _message_parts():
        if isinstance(obj, type):  # (its attributes read as a base class's are)
            attributes = types.MappingProxyType(dict(_CLASS_DICT.__get__(obj)))
            _HOOKED.append((name, obj, type(obj), None, None, {}, ((obj, attributes),)))
        else:
            before = types.MappingProxyType(dict(vars(obj)))
            _HOOKED.append((name, obj, type(obj), _MODULE_DICT, vars(obj), before, ()))


def _message_parts() -> list[tuple[str, object]]:
    """Modules and classes the harness reads and writes files through (``os``, ``io``, paths:
    the probes' source; numpy) and those its messages went through before it held its own
    writer (numpy's npz, zipfile): a function of the notebook's there is named all the same;
    and the built-ins, which every library's code calls by name (red team 41: a notebook's
    `type` ran in the request cell, before the harness)."""
    import importlib
    import pathlib
    import zipfile

    names = ["numpy", "numpy.lib.format", "zipfile", "os", "io", "pathlib", "shutil", "builtins"]
    parts = [(n, importlib.import_module(n)) for n in names]
    parts += [
        (n, sys.modules[n])
        for n in ("numpy.lib._npyio_impl", "numpy.lib.npyio")
        if n in sys.modules
    ]
    classes = [zipfile.ZipFile, zipfile.ZipInfo, *type(pathlib.Path(".")).__mro__[:-1]]
    parts += [(c.__qualname__, c) for c in classes]
    parts += [("numpy.lib.npyio.NpzFile", np.lib.npyio.NpzFile), *_torch_parts()]
    return parts + _own_parts()


# the standard library's modules the harness's own code calls as it serves a request (its
# functions looked up there each time: `time.monotonic`, `contextlib.suppress`, the class a
# `@contextmanager` function makes): a function of the notebook's there ran before the watch
# began, the request's arrays in a frame below it (red team 84)
_OWN_MODULES = ("time", "threading", "contextlib", "functools", "operator", "traceback", "types")
_OWN_MODULES += ("gc", "json", "json.encoder", "json.decoder", "re", "struct", "zlib", "hashlib")
_OWN_MODULES += ("linecache", "dataclasses", "concurrent.futures", "concurrent.futures.thread")
_OWN_MODULES += ("_thread", "signal", "_signal", "posix", "sysconfig", "keyword", "opcode")


def _own_parts() -> list[tuple[str, object]]:
    """:data:`_OWN_MODULES`, and the classes of theirs the harness makes or enters as it serves
    (and the kernel's event loops', whose ``call_soon_threadsafe`` parks them)."""
    import importlib

    parts = [(n, importlib.import_module(n)) for n in _OWN_MODULES]
    kinds = [contextlib._GeneratorContextManager, contextlib.suppress, contextlib.redirect_stdout]
    kinds += [contextlib.redirect_stderr, threading.Event, threading.Condition, threading.Thread]
    kinds += [ThreadPoolExecutor, *(type(loop) for loop in _KERNEL_LOOPS)]
    classes = {c: None for kind in kinds for c in kind.__mro__[:-1]}  # (once each, in order)
    return parts + [(f"{c.__module__}.{c.__qualname__}", c) for c in classes]


def _torch_parts() -> list[tuple[str, object]]:
    """The modules and classes the requests' own code calls with the grader's arrays around an
    answer's watch (tensors made from them, the small network built): a function of the
    notebook's there ran outside the watch with them (red team 83: ``torch.from_numpy``
    replaced computed torch's loss of each request's logits before the loss answer was called).
    Imported here, at start-up, as the notebook's first cell would."""
    import importlib

    names = ["torch", "torch.nn", "torch.nn.functional", "torch.optim", "unet_tp.check_cases"]
    try:
        parts = [(n, importlib.import_module(n)) for n in names]
    except Exception:  # noqa: BLE001 - no torch: no request of torch's is answered either
        return []
    torch = parts[0][1]
    with contextlib.suppress(Exception):  # (imported, 900 modules, by the first call of torch's
        importlib.import_module("torch._dynamo")  # `_disable_dynamo` functions: backward, an
    # optimizer's step; a notebook that had made none by then took it in its first answer's
    # watch, 12 s of the answer's time, past its limit on a loaded machine (a CI run))
    classes = [*torch.Tensor.__mro__[:-1], torch.nn.Module, *torch.optim.Adam.__mro__[:-1]]
    return parts + [(f"torch.{c.__qualname__}", c) for c in classes]


def _swapped(before: dict, now, bases=()) -> list[str]:
    """The names whose function differs from ``before`` and is not a library's; a name new since
    then that no class of ``bases`` holds (nothing called it: ``np.int``, ``Path.ls``) only if
    it is a special method's."""
    if type(now) is not dict and type(now) is not types.MappingProxyType:
        return ["*"]
    same_keys = len(now) == len(before) and all(map(_IS, now, before))  # (read in C: no
    if same_keys and all(map(_IS, now.values(), before.values())):  # object's code runs)
        return []
    names = list(now)
    if not all(type(name) is str for name in names):  # (a key of its own would run its code)
        return ["*"]
    found = []
    for name in {*before, *names}:
        old, new = before.get(name), now.get(name)
        if new is not old and type(old) is types.ModuleType:  # (`torch.nn = fake`: read on)
            found.append(str(name))
            continue
        if new is old or not (callable(old) or callable(new)) or _libraries(new):
            continue
        new_name = name not in before and not _dunder(name) and not _held_by(bases, name)
        if _interpreters(new) or new_name:
            continue  # (honest round 17: `np.int = int`, `Path.ls = lambda self: ...`)
        found.append(str(name))
    return found


_TYPE_FLAGS = type.__dict__["__flags__"]
_IS = operator.is_  # (as it was at start-up)
_BUILTIN_SELF = types.BuiltinFunctionType.__dict__["__self__"]


def _interpreters(value) -> bool:
    """Whether ``value`` is a class of C (``int``, ``np.float64``) or a module's function of C
    (``len``): it runs no code of the notebook's."""
    if type(value) is type:
        return not _TYPE_FLAGS.__get__(value) & _HEAP_TYPE
    if type(value) is types.BuiltinFunctionType:
        return type(_BUILTIN_SELF.__get__(value)) in (types.ModuleType, type(None))
    return False


def _held_by(bases, name: str) -> bool:
    """Whether a class of ``bases`` holds ``name`` (an instance's, or a subclass's, own name
    hides it: ``shell.should_run_async``, ``PosixPath.with_suffix``)."""
    return bool([1 for base in bases if name in _CLASS_DICT.__get__(base)])


def _dunder(name: str) -> bool:
    """A special method's name (``__del__``, a module's ``__getattr__``): the interpreter calls
    it by that name, a name new since start-up too."""
    return str.startswith(name, "__") and str.endswith(name, "__")


def _libraries(code, depth: int = 0) -> bool:
    """Whether ``code`` is a function (or method) of a library's file, and so are the functions
    it closes over (``torch.no_grad()(f)`` is torch's function around ``f``); read through the
    types, never the objects' own attributes."""
    if type(code) is types.MethodType:  # (red team 40: json's encode bound to an object of
        owner = types.MethodType.__self__.__get__(code)  # the notebook's, calling its method)
        if not _object_of_libraries(owner):
            return False
        code = types.MethodType.__func__.__get__(code)
    if type(code) is not types.FunctionType or depth > 4:
        return False
    filename = types.FunctionType.__code__.__get__(code).co_filename
    if not _library_file(filename):
        return False
    for cell in types.FunctionType.__closure__.__get__(code) or ():
        try:
            held = _CELL_CONTENTS.__get__(cell)
        except ValueError:  # (an empty cell)
            continue
        if not _held_by_library(held, depth + 1):
            return False
    return True


def _object_of_libraries(obj) -> bool:
    """Whether no class of ``obj`` holds a function of a file outside the libraries (a cell's),
    nor its own attributes one directly (a thread's target): a library's method bound to it
    calls only libraries' code (red team 40: json's ``encode`` called its ``iterencode``)."""
    kind = obj if issubclass(type(obj), type) else type(obj)
    held = [list(_CLASS_DICT.__get__(c).values()) for c in _MRO.__get__(kind)]
    _, own = _own_dict(obj)
    held.append(list(dict.values(own)) if type(own) is dict else [])
    code = types.FunctionType.__code__
    return not [
        1
        for values in held
        for value in values
        if type(value) is types.FunctionType and _a_cells(code.__get__(value).co_filename)
    ]


def _a_cells(filename: object) -> bool:
    """Whether ``filename`` is a cell's: IPython's name for it, or ipykernel's file of it."""
    return type(filename) is str and str.startswith(filename, _CELL_FILES)


# where ipykernel (its compiler's get_tmp_directory) and IPython name the code of a cell
_TMP = next(filter(None, map(os.environ.get, ("TMPDIR", "TEMP", "TMP"))), "/tmp").rstrip("/")
_CELL_FILES = (f"{_TMP}/ipykernel_{os.getpid()}/", "<ipython-input-")


def _held_by_library(held, depth: int) -> bool:
    """Whether what a library's function closes over runs only libraries' code: a class, a
    built-in, a library's function, data; a dict, list, tuple or set of them (red team 39:
    ``functools.singledispatch(f)`` holds ``f`` in a dict of its closure's closure)."""
    kind = type(held)
    if kind in (dict, list, tuple, set, frozenset):
        items = list(dict.values(held) if kind is dict else held)
        return (
            depth <= 4 and len(items) <= 1000 and all(_held_by_library(x, depth + 1) for x in items)
        )
    plain = issubclass(kind, type) or kind is types.BuiltinFunctionType
    return plain or not callable(held) or _libraries(held, depth) or _librarys_object(held, depth)


def _librarys_object(held, depth: int) -> bool:
    """Whether ``held`` is an object of a library's class whose own attributes hold only
    libraries' code and objects (honest round 41: torch.compile wraps ``Adam._init_group`` in a
    function holding dynamo's ``DisableContext`` object); not a C class's object
    (``functools.partial`` of the notebook's function), nor one holding an object of a class of
    the notebook's (whose methods a library's would call)."""
    if depth > 4 or not _library_class(type(held)):
        return False
    _, own = _own_dict(held)
    values = list(dict.values(own)) if type(own) is dict else []
    kinds = [type(v) for v in values if not issubclass(type(v), type)]  # (a class: data)
    heap = [k for k in kinds if _TYPE_FLAGS.__get__(k) & _HEAP_TYPE]
    return (
        len(values) <= 1000
        and all(_library_class(k) for k in heap)
        and all(_held_by_library(v, depth + 1) for v in values)
    )


def _library_file(filename: object) -> bool:
    """Whether ``filename`` is a file of the libraries found at start-up."""
    return type(filename) is str and filename.startswith(tuple(_LIBRARIES))


def _library_class(kind: type) -> bool:
    """Whether ``kind`` is a class made at run time (not C's) whose methods, its bases' too, are
    all of libraries' files."""
    if not _TYPE_FLAGS.__get__(kind) & _HEAP_TYPE:
        return False
    code = types.FunctionType.__code__
    return not [
        value
        for cls in _MRO.__get__(kind)[:-1]
        for value in types.MappingProxyType.values(_CLASS_DICT.__get__(cls))
        if type(value) is types.FunctionType and not _library_file(code.__get__(value).co_filename)
    ]


# the harness's own names as start() left them, its functions' code and defaults, its class's
# attributes, the lists and table start() filled (red team 25 put a function of its own in place
# of ``_plain``, which the watch calls at every step; red team 26 one in ``_KINDS``)
_FUNCTION_PARTS = tuple(
    types.FunctionType.__dict__[n] for n in ("__code__", "__defaults__", "__kwdefaults__")
)
_FILLED = ("_LIBRARIES", "_LIBRARY_ROOTS", "_EVENTS", "_HOOKED", "_KERNEL_LOOPS", "_KINDS")
_FILLED += ("_KERNEL_THREADS", "_QUIET_FDS")


def _parts(name: str, value) -> list:
    """What of ``value`` the harness relies on staying: a function's code and defaults, its
    class's attributes, a list or table start() filled (read through their types, never their
    own code)."""
    if type(value) is types.FunctionType:
        return [part.__get__(value) for part in _FUNCTION_PARTS]
    code = []
    if value is _Watch:  # (its methods' code too: swapped in place, the class holds the same)
        value = _CLASS_DICT.__get__(value)
        code = [p for m in value.values() if type(m) is types.FunctionType for p in _parts("", m)]
    elif value is _DECODER:  # (its scan_once set, a notebook's would rewrite each request read)
        value = _own_dict(value)[1] or {}
    elif name not in _FILLED:
        return []
    if type(value) in (dict, types.MappingProxyType):
        return [*value.keys(), *value.values(), *code]
    return list.copy(value) if type(value) is list else []


def _holder() -> tuple:
    """:func:`_hold_harness` and :func:`_harness_changed`, what they hold in their closure (red
    team 26 emptied a table of the module's, and nothing was compared any more); the built-ins
    they call bound now. A defence in depth: the static reading's flag of what reaches the
    harness is the barrier (a notebook holding the module could replace its ``serve``)."""
    held: dict = {}
    done = False

    def hold(names: dict = globals()) -> None:  # noqa: B008 (its own names, bound now)
        """Keep what ``changed`` compares (once, at start-up, after :func:`_hooks`)."""
        nonlocal done
        if not done:
            done = True
            held.update((name, (value, _parts(name, value))) for name, value in list(names.items()))

    def changed(
        names: dict = globals(),  # noqa: B008
        parts_of=_parts,
        _list=list,
        _len=len,
        _type=type,
        _str=str,
        _zip=zip,
        _get=dict.get,
    ) -> list[str]:
        """The harness's names the notebook added, rebound, or whose code, defaults or items
        changed since start-up (all of it when start-up did not hold them)."""
        if not held:
            return ["harness (not held at start-up)"]
        keys = _list(names)
        if [1 for name in keys if _type(name) is not _str]:  # (its hash would run its code)
            return ["harness.*"]
        found = [name for name in keys if name not in held]
        for name, (value, parts) in held.items():
            now = parts_of(name, value)
            same = _len(now) == _len(parts)
            same = same and not [1 for a, b in _zip(now, parts) if a is not b]
            if _get(names, name, _MISSING) is not value or not same:
                found.append(name)
        return [f"harness.{name}" for name in found]

    return hold, changed


_hold_harness, _harness_changed = _holder()


def _forget_requests() -> list[str]:
    """Drop the grader's request cells from linecache, where IPython keeps each cell's text (for
    tracebacks), before any code of the notebook's runs: the key is left nowhere to read.
    ``["linecache.cache"]`` when the notebook put another cache in its place (it was told), and
    ``"sys.<harness>"`` when the key names another module (red team 28 put one of its own in
    its place, answering the loss's requests itself and handing the others to this one)."""
    if _KEY and _MODULE_DICT.__get__(_SYS).get(_KEY) is not _SELF:
        return ["sys.<harness>"]
    if _KEY and _MODULE_DICT.__get__(_BUILTINS).get(_KEY) is not _SELF:
        return ["builtins.<harness>"]
    cache = _MODULE_DICT.__get__(_LINECACHE).get("cache")
    if cache is not _LINES or type(cache) is not dict:
        return ["linecache.cache"]
    for name, entry in list(dict.items(cache)) if _KEY else ():
        lines = entry[2] if type(entry) is tuple and len(entry) > 2 else None
        if type(lines) is list and [1 for line in lines if type(line) is str and _KEY in line]:
            dict.pop(cache, name, None)
    return []


def _hooks_swapped() -> list[str]:
    """What of :func:`_hooks`'s objects was given code of the notebook's: ``shell.transform_cell``;
    and what of the harness's own (:func:`_harness_changed`)."""
    found = _harness_changed() + _forget_requests()
    for name, obj, kind, getset, own, before, classes in _HOOKED:
        if kind is types.ModuleType and _MODULES.get(name, obj) is not obj:  # (what `import`
            found.append(f"sys.modules[{name!r}]")  # gives the requests' code: red team 83)
        if type(obj) is not kind or (getset is not None and getset.__get__(obj) is not own):
            found.append(f"{name}.__class__" if type(obj) is not kind else f"{name}.__dict__")
            continue
        own_names = _swapped(before, own, _MRO.__get__(kind)) if own is not None else []
        shown = _SHOWN.get(name, ())
        found += [f"{name}.{k}" for k in own_names if k not in _PER_CELL and k not in shown]
        for cls, attributes in classes:
            now, bases = _CLASS_DICT.__get__(cls), _MRO.__get__(cls)[1:]
            found += [f"{cls.__name__}.{k}" for k in _swapped(attributes, now, bases)]
    return sorted(set(found))


def _out_of_sight(around: bool) -> list[str]:
    """What ran out of the watch's sight for every answer: code run around every cell
    (``around``) or at every event (an audit hook of the notebook's), code objects the notebook
    built (the watch knows a function by its module and name: red team 38 ran SciPy's ``dice``
    as ``h``), the grader's requests read by the notebook's code (red team 43). Each noted when
    :func:`_audit` saw it."""
    hooked, rebuilt = _COUNTS.get("audit hooks", 0), _COUNTS.get("code objects", 0)
    read = [REQUESTS_READ] * bool(_COUNTS.get("request reads", 0))
    return [AROUND] * bool(around or hooked) + [REBUILT] * bool(rebuilt) + read


def _gc_hold() -> None:
    """Hold the garbage collector (:data:`_GC_HELD`) until :func:`_gc_let_go`."""
    _GC_HELD.append(_GC_ENABLED())
    _GC_DISABLE()


def _gc_let_go() -> None:
    """Give the garbage collector back as :func:`_gc_hold` found it (once)."""
    while _GC_HELD:
        if _GC_HELD.pop():
            _GC_ENABLE()


def _serve(request: str, answer: str, _swapped_hooks) -> None:
    """:func:`serve`'s work."""
    around, swapped = _code_around_cells(), _swapped_hooks()  # (before any import: __import__
    import torch  # is the notebook's to replace)

    threads = _THREADS()

    if around:
        _note("watch", "code of its own runs around every cell (IPython events)")
    if swapped:  # (a red team's: shell.should_run_async, kernel.pre_handler_hook...)
        _note("watch", f"code of its own runs the grader's requests ({', '.join(swapped[:6])})")
        around = True
    meta, arrays = _own_read(read_message, request)
    namespace = sys.modules["__main__"].__dict__
    missing = [n for n in meta.get("needs", []) if n not in namespace]
    if missing:
        error = {"error": f"not defined: {', '.join(missing)}", "missing": missing}
        _answer(answer, _message(error, {}))
        return
    probes = {
        name: _FIT[0](_PROBES[name], namespace.get(name))
        for name in meta.get("probes", [])
        if name in _PROBES
    }
    torch.set_grad_enabled(True)
    try:
        with _substituted(namespace, probes), _quiet():
            out_meta, out_arrays = _KINDS[meta["kind"]](namespace, meta, arrays)
    except Exception as exc:
        out_meta, out_arrays = {"error": _error(exc)}, {}
    if late := [name for name in _swapped_hooks() if name not in swapped]:  # (by the answer,
        _note("watch", f"code of its own runs the grader's requests ({', '.join(late[:6])})")
        around = True  # to run after its watch, its outputs not yet written)
    if meta.get("watch"):
        out_meta["ran"] = [*_out_of_sight(around), *out_meta.get("ran", [])]
    message = _message(out_meta, out_arrays)
    # red team 32: a finalizer of the notebook's (an object's __del__ dropped as this function
    # returned) rewrote the answer file after it was written. The answer's bytes are made first,
    # every object of the notebook's dropped and collected, then the file is written
    del out_meta, out_arrays, arrays, namespace, probes
    _COLLECT()
    if _THREADS() > threads:
        _note("watch", "a thread of the notebook's started while the grader asked")
    _answer(answer, message)


def serve(
    request: str,
    answer: str,
    *,
    _swapped_hooks=_hooks_swapped,
    _answering=_serve,
    _hold=_gc_hold,
    _let_go=_gc_let_go,
) -> None:
    """Answer one request of the grader (a request file in, an answer file out), the garbage
    collector held until the watch starts. (Its defaults are the functions it runs: the request
    cell checks each is the harness file's.)"""
    _hold()
    try:
        _answering(request, answer, _swapped_hooks)
    finally:
        _let_go()
