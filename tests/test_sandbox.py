"""The grading sandbox: what a notebook's kernel can see and do."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from autograder.sandbox import Sandbox, SandboxUnavailable, check_available

# every test starts a kernel in bubblewrap
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

LOOK_AROUND = r"""
import json, os, socket, sys
seen = {"uid": os.getuid(), "sys_path": sys.path, "env": dict(os.environ), "names": [], "proc": ""}
for top, dirs, files in os.walk("/"):
    if top.startswith(("/proc", "/sys", "/dev")) or "site-packages" in top or "/grading/site" in top:
        dirs[:] = []
        continue
    seen["names"] += [os.path.join(top, n) for n in dirs + files]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part in ("environ", "cmdline"):
            try:
                seen["proc"] += open(f"/proc/{pid}/{part}", "rb").read().decode(errors="replace")
            except OSError:
                pass
seen["exists"] = {p: os.path.exists(p) for p in json.load(open("paths.json"))}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    seen["network"] = "connected"
except OSError as exc:
    seen["network"] = str(exc)
try:
    open("/usr/lib/evil", "w")
    seen["write"] = "written"
except OSError as exc:
    seen["write"] = str(exc)
seen["pids"] = len([p for p in os.listdir("/proc") if p.isdigit()])
print(json.dumps(seen))
"""


def _box(tmp_path: Path) -> Sandbox:
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    (home / "TP_sujet.ipynb").write_text("{}")
    return Sandbox(home, runtime)


def _printed_inside(tmp_path: Path, code: str) -> tuple[str, str]:
    """What ``python -c code`` prints in a sandbox: its standard output, stripped, and the end
    of its standard error."""
    box = _box(tmp_path)
    run = subprocess.run(box.wrap([box.python(), "-c", code]), capture_output=True, text=True)
    return run.stdout.strip(), run.stderr[-2000:]


def test_a_kernel_sees_nothing_of_the_instructor_side(tmp_path):
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "grades.csv").write_text("student_id,total\n")
    box = _box(tmp_path)
    secret = [str(REPO / "solutions"), str(REPO / "autograder"), str(out), str(Path.home())]
    (box.home / "paths.json").write_text(json.dumps(secret))  # not on the command line
    proc = subprocess.run(
        box.wrap([box.python(), "-c", LOOK_AROUND]), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["uid"] == 1000
    assert not any(seen["exists"].values()), seen["exists"]
    basenames = {Path(n).name for n in seen["names"]}
    for forbidden in (
        "hidden_tests.py",
        "assignment.toml",
        "gradebook.db",
        "grades.csv",
        "probes.py",
    ):
        assert forbidden not in basenames, forbidden
    for name in seen["names"]:
        assert not name.endswith(("solutions/unet.py", "solutions/losses.py")), name
    visible = json.dumps(seen["env"]) + " ".join(seen["sys_path"]) + seen["proc"]
    assert str(REPO) not in visible, visible[visible.find(str(REPO)) - 300 :][:600]
    assert "/home/student/TP_sujet.ipynb" in seen["names"]  # its own notebook
    assert "unreachable" in seen["network"] or "Network" in seen["network"], seen["network"]
    assert "Read-only" in seen["write"], seen["write"]
    assert seen["pids"] <= 3  # its own PID namespace: bwrap's init and this process


def test_colabs_working_folder_is_the_kernels_home(tmp_path):
    """A Colab habit, ``plt.savefig("/content/curve.png")``: ``/content`` is the kernel's home
    (honest round 17: the write failed, flagged as one outside its home)."""
    box = _box(tmp_path)
    code = "open('/content/curve.png', 'w').write('png')"
    proc = subprocess.run(box.wrap([box.python(), "-c", code]), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (box.home / "curve.png").read_text() == "png"


def test_processes_are_limited(tmp_path):
    box = _box(tmp_path)
    box.limits.max_processes = 40
    box.open_cgroups()
    try:
        if "not limited" in box.process_limit:
            pytest.skip(box.process_limit)
        code = (
            "import os, time\nn = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
            "            time.sleep(3); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)"
        )
        proc = subprocess.run(box.wrap([box.python(), "-c", code]), capture_output=True, text=True)
        assert int(proc.stdout.split()[-1]) < 40, proc.stdout
    finally:
        box.close_cgroups()


def test_a_kernel_in_many_sessions_keeps_to_one_share_of_the_processors(tmp_path):
    """Busy processes each in a session of its own (the scheduler's autogroups give each session
    a share) would leave the notebook graded beside it (``--jobs 2``) a sliver of the processors,
    past its timeouts: every process of the sandbox, in whatever session, is in its cpu group."""
    from autograder.sandbox import _descendants

    box = _box(tmp_path)
    box.open_cgroups()
    try:
        v2 = Path("/sys/fs/cgroup/cgroup.subtree_control")
        cpu_here = Path("/sys/fs/cgroup/cpu/cpu.shares").exists() or (
            v2.exists() and "cpu" in v2.read_text().split()
        )
        if not (cpu_here and box.cgroups):
            pytest.skip("no cpu cgroup here")
        code = (
            "import os, sys, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
            "        time.sleep(30); os._exit(0)\nprint('started', flush=True)\ntime.sleep(30)"
        )
        proc = subprocess.Popen(
            box.wrap([box.python(), "-c", code]), stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "started"
            pids = _descendants(proc.pid)
            assert len(pids) >= 5  # bwrap, its init, python and its three children
            for pid in pids:
                lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                cpu = [
                    line.split(":", 2)[2]
                    for line in lines
                    if "cpu" in line.split(":")[1].split(",")
                ]
                unified = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
                where = (cpu or unified)[0]
                assert where.rstrip("/").endswith(box.cgroups[0].name), (pid, lines)
        finally:
            proc.kill()
            proc.wait()
    finally:
        box.close_cgroups()


def test_a_sandbox_leaves_no_cgroup_behind(tmp_path):
    """Its processes killed, the sandbox's cgroups are removed: each kernel start left some
    behind (its processes had not yet exited when they were removed), hundreds in a term."""
    box = _box(tmp_path)
    box.open_cgroups()
    groups = list(box.cgroups)
    if not groups:
        pytest.skip(box.process_limit)
    code = "import time\nheld = bytearray(3 << 29)\nprint(1, flush=True)\ntime.sleep(60)"
    proc = subprocess.Popen(box.wrap([box.python(), "-c", code]), stdout=subprocess.PIPE)
    proc.stdout.readline()  # 1.5 GiB held: its exit takes a while
    box.close_cgroups()  # as a kernel is stopped: what it left running killed, then removed
    proc.wait()
    assert [g for g in groups if g.exists()] == []


def test_a_sandbox_that_cannot_start_says_what_to_do(tmp_path, monkeypatch):
    import autograder.sandbox as sandbox

    monkeypatch.setattr(sandbox, "bwrap_binary", lambda: None)
    with pytest.raises(SandboxUnavailable, match="--sandbox none"):
        check_available(tmp_path)


def test_no_file_the_kernel_writes_grows_past_the_limit(tmp_path):
    """The kernel cannot fill the grading machine's disk through one file: its home's files and
    its standard error (a file on the host) stop at ``Limits.file_bytes``."""
    from autograder.sandbox import Limits

    box = _box(tmp_path)
    box.limits = Limits(file_bytes=1 << 20)
    code = (
        "import sys\n"
        "try:\n"
        "    open('big', 'wb').write(b'x' * (4 << 20))\n"
        "except OSError as exc:\n"
        "    print('refused:', exc.errno)\n"
        "sys.stderr.write('y' * (4 << 20))\n"
    )
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        subprocess.run(box.wrap([box.python(), "-c", code]), stdout=subprocess.PIPE, stderr=err)
    assert (box.home / "big").stat().st_size <= 1 << 20
    assert log.stat().st_size <= 1 << 20


def test_the_kernels_ram_disks_are_small(tmp_path):
    """/tmp and /dev/shm (both writable, both in the grading machine's memory) stop at
    ``Limits.tmp_bytes``: /dev/shm was bubblewrap's /dev, half the machine's memory."""
    from autograder.sandbox import Limits

    box = _box(tmp_path)
    box.limits = Limits(tmp_bytes=8 << 20)
    code = (
        "written = {}\n"
        "for folder in ('/tmp', '/dev/shm'):\n"
        "    written[folder] = 0\n"
        "    try:\n"
        "        with open(folder + '/big', 'wb', buffering=0) as f:\n"
        "            for _ in range(32):\n"
        "                written[folder] += f.write(b'x' * (1 << 20))\n"
        "    except OSError as exc:\n"
        "        print(folder, 'refused:', exc.errno)\n"
        "print(written)\n"
    )
    run = subprocess.run(box.wrap([box.python(), "-c", code]), capture_output=True, text=True)
    written = ast.literal_eval(run.stdout.strip().splitlines()[-1])
    assert written["/tmp"] <= 8 << 20 and written["/dev/shm"] <= 8 << 20, run.stdout


def test_the_disk_count_reads_every_file_and_stops_what_it_cannot_read(tmp_path):
    """``disk_use`` (what ``execute.DiskWatch`` stops a kernel on): every entry, each at least a
    block, no link followed; a tree nested past ``MAX_DEPTH`` (which hid its files from a walk
    that recursed until Python's limit) or a folder it may not open counts as past any limit."""
    import os

    from autograder.sandbox import BLOCK, MAX_DEPTH, disk_use

    home = tmp_path / "home"
    (home / "a" / "b").mkdir(parents=True)
    for i in range(8):
        (home / "a" / "b" / f"f{i}").write_bytes(os.urandom(64 << 10))
    (home / "empty").touch()
    (home / "link").symlink_to("/usr")
    used = disk_use([home, tmp_path / "absent"])
    assert 8 * (64 << 10) + 4 * BLOCK <= used < 8 * (64 << 10) + 64 * BLOCK
    assert disk_use([home], past=BLOCK) < used  # stops counting once past
    deep = tmp_path / "deep"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("deep", dir_fd=fd)
    for _ in range(MAX_DEPTH + 2):
        inner = os.open("deep" if _ == 0 else "d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
        os.mkdir("d", dir_fd=fd)
    os.close(fd)
    assert disk_use([deep]) == float("inf")
    assert disk_use([tmp_path / "home" / "empty"]) == float("inf")  # not a folder it can open


# files written in the kernel's home, then removed while still open (or mapped, their descriptor
# closed): no folder shows them, the disk is not given back until the kernel lets them go
HOLD_REMOVED = r"""
import mmap, os, time
held = []
for i in range(6):
    f = open(f"f{i}", "wb+")
    f.write(os.urandom(4 << 20))
    f.flush()
    os.unlink(f"f{i}")
    if i % 2:
        held.append(mmap.mmap(f.fileno(), 4 << 20))
        f.close()
    else:
        held.append(f)
print("written", flush=True)
time.sleep(60)
"""


def test_files_the_kernel_removed_but_holds_count_towards_the_disk_limit(tmp_path):
    """``execute.DiskWatch`` stops a kernel whose files, written then unlinked while held open
    or mapped, pass ``Limits.disk_bytes``: they take the host's disk as much as any file in its
    folders (unlinked, 16 files of 2 GiB each filled the disk while the folders looked empty)."""
    from autograder.execute import DiskWatch
    from autograder.sandbox import Limits, disk_use, held_use

    box = _box(tmp_path)
    box.limits = Limits(disk_bytes=16 << 20)
    proc = subprocess.Popen(
        box.wrap([box.python(), "-c", HOLD_REMOVED]), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "written"
        assert disk_use([box.home, box.runtime]) < 1 << 20  # the folders look empty
        assert held_use(proc.pid, [box.home, box.runtime]) >= 24 << 20
        watch = DiskWatch(box, proc.pid, interval=3600)  # read here, not by its thread
        assert watch.over()
        assert proc.wait(timeout=30) != 0  # stopped
    finally:
        proc.kill()
        proc.wait()


# a removed file whose only descriptor is in flight in a socket (SCM_RIGHTS): no process holds
# it, so no count of folders or descriptors sees it, and its disk is not given back
HIDE_IN_A_SOCKET = r"""
import os, socket, sys
a, b = socket.socketpair()
print("ready", flush=True)
sys.stdin.readline()
fd = os.open("hidden", os.O_CREAT | os.O_RDWR)
for _ in range(64):
    os.write(fd, bytes(4 << 20))
os.fsync(fd)
os.unlink("hidden")
socket.send_fds(a, [b"x"], [fd])
os.close(fd)
print("written", flush=True)
sys.stdin.readline()
"""


def test_disk_hidden_from_the_count_stops_the_kernel_when_the_disk_runs_low(tmp_path):
    """What no count sees (a removed file passed into a socket) still takes the host's disk:
    ``execute.DiskWatch`` stops the kernel when the disk's free space falls under its floor."""
    from autograder.execute import DiskWatch, _free
    from autograder.sandbox import Limits, disk_use, held_use

    box = _box(tmp_path)
    box.limits = Limits(disk_bytes=16 << 20)
    proc = subprocess.Popen(
        box.wrap([box.python(), "-c", HIDE_IN_A_SOCKET]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        watch = DiskWatch(box, proc.pid, interval=3600)  # read here, not by its thread
        assert watch.floor == min(_free(tmp_path) // 2, 2 << 30)
        watch.floor = _free(tmp_path) - (128 << 20)  # as on a disk with 128 MiB left
        assert not watch.over()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "written"  # 256 MiB, in no folder, held by none
        assert disk_use([box.home, box.runtime]) + held_use(proc.pid, [box.home]) < 16 << 20
        assert not watch.low_disk
        assert watch.over()
        assert proc.wait(timeout=30) != 0  # stopped
        assert watch.low_disk  # the machine's disk, not its folders: graded again next run
    finally:
        proc.kill()
        proc.wait()


def test_a_kernels_folders_are_removed_whatever_it_left(tmp_path):
    """``remove_tree`` (the kernel's folders once it stopped): a tree 3000 folders deep (past
    ``shutil.rmtree``'s recursion), folders made unreadable (``chmod 000``: rmtree left them
    for a grader not root), files in both; a link's target is kept."""
    import os

    from autograder.sandbox import remove_tree

    work, victim = tmp_path / "work", tmp_path / "victim"
    victim.mkdir()
    (victim / "keep").write_text("kept")
    fd = os.open(tmp_path, os.O_RDONLY)
    for i in range(3001):
        os.mkdir("work" if i == 0 else "d", dir_fd=fd)
        inner = os.open("work" if i == 0 else "d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
        if i % 1000 == 0:
            os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
    os.close(fd)
    (work / "hide" / "more").mkdir(parents=True)
    (work / "hide" / "more" / "big").write_bytes(b"x" * 4096)
    (work / "hide" / "more").chmod(0)
    (work / "hide").chmod(0)
    (work / "link").symlink_to(victim)
    remove_tree(work)
    assert not work.exists()
    assert (victim / "keep").read_text() == "kept"


def test_no_setting_of_the_grading_machine_is_writable(tmp_path):
    """The kernel's user is the grader's outside (root, when the instructor grades as root), and
    bubblewrap's /proc leaves /proc/sys writable by root: ``kernel.core_pattern`` written from a
    notebook ran a program as root on the grading machine. Opened for writing, never written."""
    code = (
        "import os\n"
        "found = []\n"
        "for top, dirs, files in os.walk('/proc/sys'):\n"
        "    for name in files:\n"
        "        try:\n"
        "            os.close(os.open(os.path.join(top, name), os.O_WRONLY))\n"
        "            found.append(os.path.join(top, name))\n"
        "        except OSError:\n"
        "            pass\n"
        "for path in ('/proc/sysrq-trigger',):\n"
        "    try:\n"
        "        os.close(os.open(path, os.O_WRONLY))\n"
        "        found.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(found[:20], os.path.isfile('/proc/sys/kernel/core_pattern'))\n"
    )
    printed, errors = _printed_inside(tmp_path, code)
    assert printed == "[] True", printed + errors


def test_the_grading_environment_does_not_name_the_checkout(tmp_path):
    """The editable install's files say where the checkout's instructor code lies (masked), and
    so did the finder's bytecode in ``__pycache__``, readable inside. (Bytecode of any package
    names the environment's own folder, which may lie in the checkout: not its sources.)"""
    code = (
        "import os, sys\n"
        "found = []\n"
        "for folder in ('/opt/grading/site', '/opt/grading/site/__pycache__'):\n"
        "    for name in os.listdir(folder) if os.path.isdir(folder) else []:\n"
        "        path = os.path.join(folder, name)\n"
        "        data = open(path, 'rb').read() if os.path.isfile(path) else b''\n"
        "        if any(s.encode() in data for s in sys.argv[1:]):\n"
        "            found.append(path)\n"
        "print(found)\n"
    )
    box = _box(tmp_path)
    sources = [str(REPO / "autograder"), str(REPO / "solutions")]
    run = subprocess.run(
        box.wrap([box.python(), "-c", code, *sources]), capture_output=True, text=True
    )
    assert run.stdout.strip() == "[]", run.stdout + run.stderr[-2000:]


def test_no_module_that_runs_code_in_another_interpreter_loads_inside(tmp_path):
    """Red team 86 ran difflib's ratio in a sub-interpreter (`_xxsubinterpreters.run_string`),
    where no hook of the harness's reaches; `_testcapi.run_in_subinterp` starts one with no
    event at all. Their files are empty inside; json, a module of the same folder, loads."""
    code = (
        "import importlib\n"
        "def loads(name):\n"
        "    try:\n"
        "        return importlib.import_module(name) is not None\n"
        "    except ImportError:\n"
        "        return False\n"
        "names = ('_testcapi', '_testinternalcapi', '_xxsubinterpreters', '_json')\n"
        "print([name for name in names if loads(name)])\n"
    )
    printed, errors = _printed_inside(tmp_path, code)
    assert printed == "['_json']", printed + errors
