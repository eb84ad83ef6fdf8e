"""The cells' text, read in the grader's process (autograder/static.py): what an answer may not
use costs its block, through any alias; what a TP answer never needs is flagged for review; honest
notebooks are neither."""

from __future__ import annotations

import copy
import html as html_text
import re

import nbformat
import pytest
from static_reading import DEBUG_CE as _DEBUG_CE
from static_reading import LOSS, STEP, flagged, lost, notebook

from autograder import messages as M
from autograder import repair, static
from autograder.messages_fr import french
from autograder.repair import in_source_order
from autograder.spec import load
from notebooks import SOLUTIONS, STUBS, STUDENT, insert_after


def test_the_solved_notebook_is_neither_penalised_nor_flagged():
    nb = notebook(
        extra="print(categorical_cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long()), F.cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long()))\n%matplotlib inline\n!ls"
    )
    assert lost(nb) == set() and flagged(nb) == ""


@pytest.mark.parametrize(
    "answers, extra, block",
    [
        # the course package through an alias, or through the set-up cell's `checks`
        (
            {
                "cce_loss": "import unet_tp as course\nimport unet_tp.runs\n"
                + LOSS.format("return course.losses.LOSSES['ce'](logits, target)")
            },
            "",
            "loss",
        ),
        (
            {"train_step": "from unet_tp import train as t\ntrain_step = t.reference_step"},
            "",
            "train_step",
        ),
        (
            {
                "predict_dice": SOLUTIONS["predict_dice"].split("def dice_score")[0]
                + "dice_score = checks.exact_dice\n"
            },
            "",
            "predict_dice",
        ),
        (
            {
                "up": SOLUTIONS["up"].split("class Up")[0].split("def center_crop")[0]
                + "center_crop = checks._centre\n"
                + "class Up"
                + SOLUTIONS["up"].split("class Up")[1]
            },
            "",
            "center_crop",
        ),
        # names and code built from strings, in the answer or in a helper it uses
        (
            {
                "cce_loss": "import operator\n"
                + LOSS.format(
                    "return operator.attrgetter('_'.join(['cross', 'entropy']))(F)(logits, target)"
                )
            },
            "",
            "loss",
        ),
        ({"train_step": STEP.format("return get_ipython().ev('1')")}, "", "train_step"),
        (
            {"cce_loss": LOSS.format("return helper(logits, target)")},
            "def helper(a, b):\n    return eval('F.' + 'nll_loss')(a.log_softmax(1), b)\n",
            "loss",
        ),
        (
            {
                "cce_loss": LOSS.format(
                    "return torch._C._nn.cross_entropy_loss(logits, target, weight, 1, -100, 0.0)"
                )
            },
            "",
            "loss",
        ),
    ],
)
def test_what_an_answer_may_not_use_costs_its_block(answers, extra, block):
    assert block in lost(notebook(answers, extra))


@pytest.mark.parametrize(
    "extra, reason",
    [
        ("import sys as interpreter\ninterpreter.modules['unet_tp_harness']", "sys.modules"),
        ("from sys import modules\nmodules['x']", "sys.modules"),
        # red team 28: sys out of a function's globals, its modules read on what it was put in
        (
            "import inspect, traceback\ng = inspect.getclosurevars(traceback.print_exc).globals",
            "getclosurevars",
        ),
        ("import traceback\nbox = {'s': traceback.sys}\nm = box['s'].modules", "sys.modules"),
        # red team 29: a module's __dict__ by another name (Python 3.11's object.__getstate__)
        ("import sys\ntable = sys.__getstate__()", "__getstate__"),
        ("state = object().__reduce_ex__(2)", "__getstate__"),
        ("import copyreg", "copyreg"),
        # red team 30: inspect's and operator's under other modules' names; torch's mode getters
        ("from monai.transforms.utils import getmembers", "inspect.getmembers"),
        ("from torch.autograd.profiler_util import attrgetter", "operator.attrgetter"),
        ("from torch._higher_order_ops.cond import _get_current_dispatch_mode", "active modes"),
        ("import sys\ngetattr(sys, 'modules')", "sys.modules"),
        ("from torch import _C", "torch._C"),
        ("import inspect\ninspect.currentframe().f_back", "frames"),
        ("import os\nos.symlink('/x', 'y')", "links"),
        ("open('/proc/self/mountinfo').read()", "mounts"),
        ("get_ipython().user_ns['x'] = 1", "namespace"),
        ("import importlib\nimportlib.import_module('unet_tp_harness')", "importlib"),
        ("import sys\nsys.path.insert(0, '.')", "changes where modules are imported from"),
        # red team 46: the kernel's folder put back on the path, unflagged
        ("import site, os\nsite.addsitedir(os.getcwd())", "changes where modules are imported"),
        # red team 49: the user's site folder turned back on, its .pth file's line run
        (
            "import site\nsite.ENABLE_USER_SITE = True\nsite.addusersitepackages(set())",
            "imported from",
        ),
        ("from site import addsitepackages\naddsitepackages(set())", "changes where modules are"),
        ("import sys\nsys.path_hooks.insert(0, print)", "changes where modules are imported"),
        # red team 44: the grader's request read in the cell being run
        ("r = get_ipython().displayhook.exec_result.info.raw_cell", "the cell being run"),
        ("m = get_ipython().kernel.get_parent()", "the cell being run"),
        # red team 26: pydoc's importer of a name built from strings; a printer of its own
        ("import pydoc\npydoc.safeimport('unet' + '_tp_harness')", "(pydoc)"),
        ("from pydoc import safeimport as s\ns('x')", "(pydoc)"),
        ("import pkgutil\npkgutil.get_loader('x' + 'y')", "(pkgutil)"),
        (
            "f = get_ipython().display_formatter.formatters['text/plain']\nf.for_type(dict, print)",
            "printer of its own",
        ),
        ("from IPython.lib.pretty import for_type\nfor_type(dict, print)", "printer of its own"),
        # red team 27: a shell's evaluator taken, called later; importers of libraries'
        ("_ue = get_ipython().user_expressions\n_ue({'a': '1'})", "through IPython"),
        ("f = get_ipython().ev", "through IPython"),
        ("from traitlets import Instance\nInstance('x.y')._resolve_classes()", "(traitlets)"),
        ("from matplotlib.backends.registry import backend_registry", "matplotlib's backends"),
        ("import matplotlib.pyplot as plt\nplt._backend_mod", "importer"),
        (
            "get_ipython().display_formatter.formatters['text/plain'].type_printers[dict] = print",
            "printer of its own",
        ),
    ],
)
def test_what_a_tp_answer_never_needs_is_flagged_through_aliases(extra, reason):
    assert reason in flagged(notebook(extra=extra))


@pytest.mark.slow
def test_a_chain_of_self_references_is_read_in_linear_time():
    """``w = w`` repeated: each definition is read once (it used to take hours)."""
    cells = "\n".join(["w = 0"] + ["w = w"] * 3000)
    nb = notebook({"cce_loss": LOSS.format("return w")}, cells)
    assert lost(nb) == set()


CE = "F.cross_entropy(logits, target.long(), weight=weight)"
PREDICT = SOLUTIONS["predict_dice"].split("def dice_score")[0]


@pytest.mark.parametrize(
    "answer_cell, after, block",
    [
        # the answer in a cell of the student's own between the answer cell (the stub) and the
        # test cell: the names the test finds
        ("cce_loss", LOSS.format("return " + CE), "loss"),
        # definitions nested in blocks, or bound by what no top-level `def` or `=` shows
        (
            "cce_loss",
            "if True:\n    " + LOSS.format("return " + CE).replace("\n", "\n    "),
            "loss",
        ),
        ("cce_loss", "for categorical_cross_entropy in [F.cross_entropy]:\n    pass", "loss"),
        ("cce_loss", "(categorical_cross_entropy := F.cross_entropy)", "loss"),
        (
            "cce_loss",
            "import __main__\n__main__.categorical_cross_entropy = F.cross_entropy",
            "loss",
        ),
        (
            "train_step",
            "with torch.no_grad():\n    from unet_tp.train import reference_step as train_step",
            "train_step",
        ),
        (
            "train_step",
            "def put():\n    global train_step\n    from unet_tp.train import reference_step as train_step\n\n\nput()",
            "train_step",
        ),
        (
            "predict_dice",
            PREDICT + "try:\n    dice_score = checks.exact_dice\nexcept NameError:\n    pass",
            "predict_dice",
        ),
        (
            "predict_dice",
            PREDICT + "get_ipython().push({'dice_score': checks.exact_dice})",
            "predict_dice",
        ),
        (
            "predict_dice",
            PREDICT + "setattr(__import__('__main__'), 'dice_score', checks.exact_dice)",
            "predict_dice",
        ),
        # code an IPython magic runs in the notebook's namespace
        (
            "cce_loss",
            "%time categorical_cross_entropy = lambda logits, target, weight=None: " + CE,
            "loss",
        ),
        ("cce_loss", "%%time\n" + LOSS.format("return " + CE), "loss"),
        ("cce_loss", "%%capture out\n" + LOSS.format("return " + CE), "loss"),
        (
            "train_step",
            "%timeit -n 1 -r1 -q global train_step; from unet_tp.train import reference_step as train_step",
            "train_step",
        ),
        (
            "train_step",
            "%time from unet_tp.train import reference_step as train_step",
            "train_step",
        ),
        ("predict_dice", PREDICT + "dice_score = %time checks.exact_dice", "predict_dice"),
        # code from strings or files at the top level: it may bind any name
        ("cce_loss", "exec('categorical_cross_entropy = F.cross_entropy')", "loss"),
        ("cce_loss", "%run -i mine.py", "loss"),
        # a name built at run time by __getattribute__
        (
            "cce_loss",
            "ce = F.__getattribute__('cross_' + 'entropy')\n"
            + LOSS.format("return ce(logits, target)"),
            "loss",
        ),
    ],
)
def test_an_answer_in_a_cell_before_its_test_is_read_however_it_binds(answer_cell, after, block):
    """The stub left in the answer cell, the answer given by a cell of the student's own before
    the test cell: read there however it binds the name. (Each passed the old reading: only
    top-level ``def``/``=``/``import`` statements were definitions, and only the answer cell's
    when it had one.)"""
    nb = notebook({answer_cell: STUBS[answer_cell]})
    insert_after(nb, answer_cell, after)
    assert block in lost(nb)


def test_an_answer_imported_from_a_file_the_notebook_wrote_costs_its_block():
    """%%writefile mine.py, then ``from mine import ...``: code the reading cannot see."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", "from mine import categorical_cross_entropy")
    module = "%%writefile mine.py\nimport torch.nn.functional as F\n" + LOSS.format("return " + CE)
    insert_after(nb, "cce_loss", module)
    assert "loss" in lost(nb)
    # the same module as an IPython extension that pushes the answer into the namespace
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", "%load_ext mine")
    extension = "def load_ipython_extension(ip):\n    ip.push({'categorical_cross_entropy': F.cross_entropy})"
    insert_after(
        nb, "cce_loss", "%%writefile mine.py\nimport torch.nn.functional as F\n" + extension
    )
    assert "loss" in lost(nb)
    assert lost(notebook(extra="%load_ext autoreload")) == set()


_CALLS_CE = "lambda l, t, weight=None: F.cross_entropy(l, t, weight=weight)"


@pytest.mark.parametrize(
    "after",
    [
        f"def sneaky():\n    import __main__\n    __main__.categorical_cross_entropy = {_CALLS_CE}\nsneaky()",
        f"def sneaky():\n    import __main__ as m\n    setattr(m, 'categorical_cross_entropy', {_CALLS_CE})\nsneaky()",
        f"class Sneaky:\n    import __main__\n    __main__.categorical_cross_entropy = {_CALLS_CE}",
        f"def hook(info):\n    get_ipython().user_ns['categorical_cross_entropy'] = {_CALLS_CE}",
    ],
)
def test_an_answer_set_from_inside_a_function_or_class_costs_its_block(after):
    """The stub left in the answer cell, the name set on ``__main__`` from inside a function or a
    class body: a definition of the name (it used to be read as the function's own local)."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", after)
    assert "loss" in lost(nb)


_RENAMED = LOSS.format("return CE(logits, target, weight=weight)")


@pytest.mark.parametrize(
    "hook",
    [
        "get_ipython().input_transformers_post.append(\n"
        "    lambda lines: [l.replace('CE(', 'F.cross_' + 'entropy(') for l in lines])",
        "ip = get_ipython()\nip.input_transformers_cleanup.insert(0, lambda lines: lines)",
        "import ast\nclass T(ast.NodeTransformer):\n    pass\nget_ipython().ast_transformers.append(T())",
        "from IPython.core.magic import register_cell_magic\n"
        "@register_cell_magic\ndef mine(line, cell):\n    pass",
        "get_ipython().register_magic_function(print, 'cell', 'mine')",
        "%alias_magic mine time",
        "%autocall 2",
        "%config InteractiveShell.autocall = 2",
        # the runner of async cells, imported by a dotted name: any object, named by no reading
        # (red team 45 had torch's loss and the watch's profile function so)
        "%autoawait torch.nn.functional.cross_entropy\nCE = get_ipython().loop_runner",
        "ip = get_ipython()\nip.loop_runner = 'torch.nn.' + 'functional.cross_entropy'",
    ],
)
def test_an_ipython_hook_that_rewrites_cells_costs_the_blocks_after_it(hook):
    """An input or AST transformer, a magic of the notebook's own, autocall: the text of the
    cells after it is not the code that runs (``CE(`` rewritten into torch's cross-entropy earned
    the loss's points, unflagged). Every block tested after it loses its points; it is flagged."""
    nb = notebook({"cce_loss": _RENAMED})
    insert_after(nb, "setup", hook)
    _costs_every_block(nb, "rewrites the code IPython runs", "réécrit le code qu'IPython exécute")


@pytest.mark.parametrize(
    "cell",
    [
        "%pwd {setattr(__import__('__main__'), 'center_crop', print)}",
        "!echo {__import__('builtins').setattr(__import__('__main__'), 'center_crop', print)}",
        "files = !ls {__import__('__main__').__setattr__('center_crop', print)}",
        "%cd $__import__",
        "text = 'pwd {x}'\nget_ipython().system(text)",
    ],
)
def test_code_in_a_commands_braces_is_read_as_the_cells(cell):
    """IPython evaluates ``{expression}`` and ``$name`` in a shell command's or a magic's text
    (but %time's, %timeit's, %prun's, %debug's) before running it: red team 45 set an answer so
    in ``%pwd {...}``, a point unflagged by the static reading. The expressions are read as the
    cell's own statements; a text built at run time runs code from strings."""
    nb = insert_after(notebook(), "setup", cell)
    assert "center_crop" in lost(nb) and flagged(nb)


def test_a_commands_plain_braces_and_names_cost_nothing():
    nb = insert_after(
        notebook(),
        "setup",
        "folder = '/content'\n!ls {folder}\n!echo $folder {len(folder)}\nfiles = !ls {folder}\n"
        "%cd {folder}\n!find . -name '*.py' -exec ls {} \\;\n!awk '{print $1}' notes.txt\n"
        "%autoawait asyncio\n%autoawait off\n%time d = {1: 2}\n%pip install -q nibabel",
    )
    assert lost(nb) == set() and flagged(nb) == ""


def _costs_every_block(nb, said: str, said_in_french: str) -> None:
    """Every block tested after the notebook's set-up loses its points, and the reason, in
    English and in French, is flagged."""
    assert lost(nb) == {"double_conv", "down", "center_crop", "up", "unet", "loss", "train_step",
                        "predict_dice"}  # fmt: skip
    assert said in flagged(nb)
    from autograder.messages_fr import french

    labels = [f"cell {i}" for i in range(len(nb.cells))]
    message = static.forbidden_calls(nb, load(), labels)["test_loss"]
    assert said_in_french in french(message), french(message)


@pytest.mark.parametrize(
    "hook",
    [
        "get_ipython().events.register('pre_run_cell', lambda info: None)",
        "get_ipython().events.callbacks['post_run_cell'].append(lambda result: None)",
        "ip = get_ipython()\nhooks = ip.events\nhooks.register('post_execute', print)",
        "from IPython.core.events import EventManager\nEventManager.trigger = print",
        # the attribute spelt as a string (found while reading honest round 15's misfires)
        "getattr(get_ipython(), 'events').register('pre_run_cell', print)",
        "import operator\noperator.attrgetter('events')(get_ipython()).register('pre_run_cell', print)",
        "get_ipython().__getattribute__('events').register('pre_run_cell', print)",
        # the student's own object, given IPython's: the assignment is what costs
        "class Log:\n    pass\n\n\nlog = Log()\nlog.events = get_ipython().events\n"
        "log.events.register('pre_run_cell', print)",
    ],
)
def test_code_run_around_every_cell_costs_the_blocks_after_it(hook):
    """IPython's events run the notebook's code before and after every cell, the grader's
    requests too: a red team answered the loss with torch's in a ``pre_run_cell`` callback (out
    of the kernel's watch, which starts inside the request) and took torch's name out of the
    answer's file in a ``post_run_cell`` one, 4/4 unflagged. Every block tested after it loses
    its points, and it is flagged; a list of the student's named ``events`` is not."""
    nb = notebook()
    insert_after(nb, "setup", hook)
    _costs_every_block(nb, "around every cell, the grader's requests too (IPython events)",
                       "événements d'IPython")  # fmt: skip
    honest = notebook()
    insert_after(honest, "setup", "events = []\nevents.append('start')\nprint(len(events))")
    assert lost(honest) == set() and flagged(honest) == ""


@pytest.mark.parametrize(
    "cell",
    [
        "class Journal:\n    def __init__(self):\n        self.events = []\n\n"
        "    def note(self, message):\n        self.events.append(message)\n\n\n"
        "journal = Journal()\njournal.note('début du TP')\nprint(journal.events)",
        "class Options:\n    autocall = False\n    lr = 1e-3\n\n\nprint(Options.lr)",
        "class Runner:\n    def __init__(self, fn):\n        self.ex = fn\n\n"
        "    def __call__(self, x):\n        return self.ex(x)\n\n\nprint(Runner(abs)(-1))",
    ],
)
def test_an_attribute_of_the_students_own_named_like_an_ipython_hook_costs_nothing(cell):
    """Honest round 15: a log's ``self.events = []`` cost every block (20 points), an ``Up``
    block's ``self.ex = nn.ConvTranspose2d(...)`` 16: the names of IPython's hooks are read on
    any object, but an object of the student's holds only what the reading saw set on it (not
    one of a class whose library base forwards its attributes: red team 39)."""
    nb = insert_after(notebook(), "setup", cell)
    assert lost(nb) == set() and flagged(nb) == ""
    wrapper = "from tqdm.utils import ObjectWrapper\n\n\nclass Tap(ObjectWrapper):\n"
    wrapper += "    def hook(self, cb):\n        self.events.register('pre_run_cell', cb)\n\n\n"
    wrapper += "Tap(get_ipython()).hook(print)"
    assert "loss" in lost(insert_after(notebook(), "setup", wrapper))


_PICKLED_CE = (
    b"\x80\x04cbuiltins\nexec\n(Vimport __main__, torch.nn.functional as F\\u000a__main__."
    b"categorical_cross_entropy = lambda l, t, weight=None: F.cross_entropy(l, t, weight=weight)"
    b"\ntR."
)


@pytest.mark.parametrize(
    "loader",
    [
        "import pickle\npickle.loads(PAYLOAD)",
        "import io\nimport numpy as np\nnp.load(io.BytesIO(PAYLOAD), allow_pickle=True)",
        "import io\ntorch.load(io.BytesIO(PAYLOAD), weights_only=False)",
        "import pandas as pd\npd.read_pickle(PAYLOAD)",
        # the standard library's interpreter of strings
        "import code\ncode.InteractiveInterpreter().runsource(PAYLOAD.decode(), symbol='exec')",
        "from code import InteractiveConsole as C\nC().push(PAYLOAD.decode())",
        # IPython's %store -r (variables pickled in the kernel's home), YAML's and jsonpickle's
        "%store -r",
        "import yaml\nyaml.unsafe_load(PAYLOAD)",
        "import yaml\nyaml.load(PAYLOAD, Loader=yaml.UnsafeLoader)",
        "import jsonpickle\njsonpickle.decode(PAYLOAD)",
        # a sixth helper session's: unpicklers by other paths, and pickling given not by keyword
        "import _pickle\n_pickle.loads(PAYLOAD)",
        "from multiprocessing.reduction import ForkingPickler\nForkingPickler.loads(PAYLOAD)",
        "import io\nimport numpy as np\nnp.load(io.BytesIO(PAYLOAD), None, True)",
        "import io\ntorch.load(io.BytesIO(PAYLOAD), **{'weights_only': False})",
        # np.save taking np.load's place (honest round 15's np.save is no loader), by a name
        # no string spells too (red team 39)
        "import io\nimport numpy as np\n\n\nclass Box:\n    def put(self, name, value):\n"
        "        setattr(self, name, value)\n\n\nBox().put('sa' + 've', np.load)\n"
        "np.save(io.BytesIO(PAYLOAD), allow_pickle=True)",
        "import io\nimport numpy as np\nnp.save = np.load\nnp.save(io.BytesIO(PAYLOAD), allow_pickle=True)",
        "import io\nimport numpy as np\nsetattr(np, 'savez', np.load)\n"
        "np.savez(io.BytesIO(PAYLOAD), allow_pickle=True)",
    ],
)
def test_an_answer_unpickled_from_data_costs_its_block(loader):
    """The stub left in the answer cell, the name set by unpickling bytes (a pickle runs any code
    it names) or by the ``code`` module's interpreter: read as code run from data or strings, a
    definition of every name (``np.load(..., allow_pickle=True)`` and
    ``code.InteractiveInterpreter().runsource`` were not even flagged)."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", loader.replace("PAYLOAD", repr(_PICKLED_CE)))
    assert "loss" in lost(nb)
    assert "runs code from" in flagged(nb)


def test_loading_plain_arrays_or_weights_or_pickling_results_costs_no_block():
    """What an honest notebook loads (arrays, weights, YAML) or saves with pickle runs no code."""
    plain_loads = ("np.load('x.npy')", "np.load('x.npy', allow_pickle=False)", "torch.load('w.pt')")
    plain_loads += ("np.load('x.npy', 'r', False)", "torch.load('w.pt', **{'map_location': 'cpu'})")
    plain_loads += ("np.save('h.npy', np.array([1.0, 2.0]), allow_pickle=True)",)  # (a writer)
    for plain in (*plain_loads, "import yaml\nyaml.safe_load('a: 1')"):
        assert lost(notebook(extra=plain)) == set() and flagged(notebook(extra=plain)) == ""
    # saving one's results with pickle runs nothing: no block lost (the instructor reads it)
    saved = "import pickle\nwith open('h.pkl', 'wb') as f:\n    pickle.dump({'dice': 0.8}, f)"
    nb = notebook()
    insert_after(nb, "train_step", saved)  # before the test cells of (f) and (g)
    assert lost(nb) == set()


@pytest.mark.parametrize(
    "planted",
    [
        "setattr(F, 'ce', F.cross_entropy)",
        "import torch.nn.functional as G\nG.ce = G.cross_entropy",
        "def plant():\n    F.ce = F.cross_entropy\nplant()",
    ],
)
def test_an_answer_calling_what_the_notebook_planted_on_a_library_costs_its_block(planted):
    """``F.ce`` in the answer, ``F.ce`` set to torch's cross-entropy by a cell of the student's:
    the statement that set the attribute is read with the answer (it was not: only the names the
    answer uses were followed, and ``F`` is the TP's import)."""
    nb = notebook({"cce_loss": LOSS.format("return F.ce(logits, target, weight=weight)")})
    insert_after(nb, "setup", planted)
    assert "loss" in lost(nb)


def test_a_cell_of_the_students_own_marked_locked_is_read():
    """nbgrader metadata forged on a cell of the student's own (``locked``, no grade id) is
    dropped by the repair: the cell is read as the student's (it used to be skipped as the TP's)."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", LOSS.format("return " + CE))
    mine = next(i for i, c in enumerate(nb.cells) if c.source == LOSS.format("return " + CE))
    nb.cells[mine].metadata["nbgrader"] = {"locked": True}
    assert "loss" in lost(in_source_order(nb, STUDENT))


def test_an_answer_cell_marked_locked_is_read():
    """nbgrader metadata forged on the TP's answer cell itself (its grade id kept, ``locked``,
    not ``solution``) is replaced by the TP's: the cell is read (it used to be skipped)."""
    nb = notebook({"cce_loss": LOSS.format("return " + CE)})
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "cce_loss")
    cell.metadata["nbgrader"].update(solution=False, locked=True, grade=False, points=100)
    fixed = in_source_order(nb, STUDENT)
    assert "loss" in lost(fixed)
    tp = next(
        c for c in STUDENT.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "cce_loss"
    )
    assert cell.metadata["nbgrader"] == tp.metadata["nbgrader"]


def test_an_experiment_after_the_test_cell_costs_nothing():
    """A cell after (e)'s test comparing with torch's cross-entropy is not the answer."""
    nb = notebook()
    insert_after(
        nb,
        "test_loss",
        "def categorical_cross_entropy(logits, target, weight=None):\n    return " + CE,
    )
    assert lost(nb) == set()


@pytest.mark.slow
def test_a_cell_of_too_many_ipython_commands_is_not_read_and_costs_the_blocks_after_it():
    """IPython's transformer takes time quadratic in a cell's commands (8 s for 499 ``!true``):
    past ``MAX_COMMANDS_PER_CELL`` in a cell (or ``MAX_COMMANDS`` in the notebook) the cell is
    not read, and what it may define costs the blocks tested after it, saying why."""
    commands = "!true\n" * (static.MAX_COMMANDS_PER_CELL + 1)
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", commands + LOSS.format("return " + CE))
    assert "loss" in lost(nb) and "too many IPython commands" in flagged(nb)
    # cells each within the limit, past the notebook's: the last ones are not read
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    for _ in range(static.MAX_COMMANDS // static.MAX_COMMANDS_PER_CELL + 1):
        insert_after(nb, "cce_loss", static.MAX_COMMANDS_PER_CELL * "!true\n")
    assert "loss" in lost(nb) and "too many IPython commands" in flagged(nb)


def test_a_notebook_of_too_much_code_is_not_read_past_the_limit():
    """Reading takes about 1.5 s per 100,000 characters of code (the course's answers: 19,000):
    a notebook of millions would hold the grader for minutes. Past ``MAX_CODE`` characters the
    cells are not read, and what they may define costs the blocks tested after them."""
    padding = "# " + "x" * 98 + "\n"
    nb = notebook()
    insert_after(nb, "cce_loss", padding * (static.MAX_CODE // len(padding) + 1))
    assert "loss" in lost(nb) and "too much code" in flagged(nb)
    nb = notebook()
    insert_after(nb, "cce_loss", padding * 1000)  # 100,000 characters: read
    assert lost(nb) == set() and flagged(nb) == ""


def test_a_cell_nested_past_the_graders_recursion_limit_costs_the_blocks_after_it():
    """``sys.setrecursionlimit(100000)`` in a cell before, the kernel parses and runs a cell of
    4,000 nested ``-``: the grader cannot, and the torch cross-entropy of its loss, unread,
    kept the loss's 4 points. Such a cell is not read, and costs the blocks tested after it."""
    deep = "_ = \\\n" + "-\\\n" * 4000 + "1\n"
    cross_entropy = LOSS.format("return F.cross_entropy(logits, target, weight=weight)")
    nb = notebook({"cce_loss": cross_entropy + deep})
    assert "loss" in lost(nb) and "nested too deep" in flagged(nb)


def test_an_object_changed_by_many_statements_is_gone_through_once_per_block(monkeypatch):
    """20,000 ``box.append(k)`` (280,000 characters) and a loss reading ``box``: each call
    reached went through all the calls changing ``box`` again (8,000: 71 s, 20,000: hours of the
    grader's thread). Each name's statements are gone through once for each block."""
    passes = []

    class Counted(list):
        def __iter__(self):
            passes.append(len(self))
            return super().__iter__()

    mutators = static._mutators
    monkeypatch.setattr(
        static, "_mutators", lambda *a: {n: Counted(d) for n, d in mutators(*a).items()}
    )
    box = "box = []\n" + "".join(f"box.append({k})\n" for k in range(200))
    loss = LOSS.format("return box[-1](logits, target)")
    nb = notebook({"cce_loss": box + "box.append(F.cross_entropy)\n" + loss})
    assert "loss" in lost(nb)
    assert 0 < len(passes) <= len(load().blocks)


def test_a_local_name_of_an_answer_is_not_a_top_level_name():
    """A top-level loop's ``x`` (over the course package's data) is not the ``x`` of a
    ``forward``: the answer that uses its own local ``x`` costs nothing."""
    nb = notebook(extra="for x in unet_tp.check_cases.MODULES:\n    print(x)")
    assert "x" in SOLUTIONS["double_conv"] and lost(nb) == set()


def test_code_run_from_strings_is_told_as_what_the_notebook_does_in_english_and_french():
    """A top-level ``eval`` costs the blocks tested after it, in a sentence a student can read
    (not "(a) uses runs code ..."), and the French page says it in French."""
    from autograder.messages_fr import french

    nb = notebook(extra="")
    nb.cells.insert(3, nbformat.v4.new_code_cell("size = eval('1 + 1')"))
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    message = static.forbidden_calls(nb, load(), labels)["test_double_conv"]
    assert message.startswith("(a): the notebook runs code built from strings (eval) (cell 4"), (
        message
    )
    assert message.endswith(M.NOT_FOLLOWED), message
    assert french(message).startswith(
        "(a) : le notebook exécute du code construit à partir de chaînes (eval) (cellule 4"
    ), french(message)
    assert french(message).endswith("et exécutez de nouveau le notebook"), french(message)
    # one's own checkpoint unpickled: said plainly, with what to do instead
    nb = notebook(extra="")
    nb.cells.insert(
        3, nbformat.v4.new_code_cell("ckpt = torch.load('ckpt.pt', weights_only=False)")
    )
    message = static.forbidden_calls(nb, load(), labels)["test_double_conv"]
    assert "weights_only=True" in message and "weights_only=True" in french(message), message
    # a name the block forbids is still what the answer uses
    nb = notebook({"cce_loss": LOSS.format("return F.cross_entropy(logits, target, weight)")})
    message = static.forbidden_calls(nb, load(), labels)["test_loss"]
    assert message.startswith("(e) uses torch.nn.functional.cross_entropy ("), message
    # the course package's code, a `what` holding parentheses: French through and through
    message = (
        "(b) uses the course package's code (unet_tp.train.reference_step) (cell 4, cell 3, "
        "line 1: `x = 1`): (b) must be your own code"
    )
    assert french(message) == (
        "(b) utilise le code du package du cours (unet_tp.train.reference_step) (cellule 4, "
        "cell 3, ligne 1 : `x = 1`) : (b) doit être votre propre code"
    )


def test_an_answer_imported_from_a_module_not_installed_costs_its_block():
    """``open("mine2.py", "w").write(...)``, ``sys.path`` changed, then ``from mine2 import ...``:
    a module the grading environment lacks is code the reading cannot see (without the change
    the sandbox's kernel does not import from its folder); installed packages cost nothing."""
    write = "open('mine2.py', 'w').write('def categorical_cross_entropy(*a): ...')\n"
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", write + "from mine2 import categorical_cross_entropy\n")
    # the sandbox's kernel does not import from its own folder: the import fails as it runs
    assert lost(nb) == set()
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(
        nb, "cce_loss", "import sys\nsys.path.insert(0, '.')\n" + write + "from mine2 import *\n"
    )
    assert {"loss", "train_step", "predict_dice"} <= lost(nb)  # `*`: any name, after it
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(
        nb,
        "cce_loss",
        "import sys\nsys.path.insert(0, '.')\n" + write + "from mine2 import "
        "categorical_cross_entropy\n",
    )
    assert lost(nb) == {"loss"}
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    message = static.forbidden_calls(nb, load(), labels)["test_loss"]
    assert "the notebook imports a module that is not installed where grading runs (mine2)" in (
        message
    )
    honest = "import math\nimport numpy as np\nfrom torch import nn\n\n\n" + LOSS.format(
        "return -(F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1) * "
        "logits.log_softmax(1)).sum(1).mean() + 0 * math.pi * float(np.zeros(1).sum())"
    )
    assert lost(notebook({"cce_loss": honest})) == set()


def test_a_students_written_answer_is_inert_in_formgrader():
    """formgrader renders the markdown of ``OUT/autograded`` as HTML in the instructor's Jupyter
    session without sanitising it: a student's tags and script links come out as text; the TP's
    own read-only cells, and code spans, are kept."""
    from nbconvert.filters.markdown import markdown2html

    attack = (
        "My answer: <img src=x onerror=\"fetch('/api/kernels', {method: 'POST'})\">\n"
        "<script>alert(1)</script> [a](javascript:alert(2)) <JavaScript:alert(3)>\n"
        "[b](java&#115;cript:alert(4)) [c][r] `<i>code</i>` and ```<i>x</i>```\n\n"
        "[r]: vbscript:alert(5)\n\n```\n<i>fenced</i>\n```\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(attack), nbformat.v4.new_markdown_cell("<b>TP</b>")]
    nb.cells[1].metadata["nbgrader"] = {"locked": True, "solution": False}
    tp = copy.deepcopy(nb)
    tp.cells = tp.cells[1:]  # the TP's own cell
    nb.cells.append(nbformat.v4.new_markdown_cell(attack))
    nb.cells[2].metadata["nbgrader"] = {"solution": True, "grade": True, "points": 2}
    # the TP's read-only metadata forged on the student's markdown: still the student's text
    nb.cells.append(nbformat.v4.new_markdown_cell(attack))
    nb.cells[3].metadata["nbgrader"] = {"locked": True, "solution": False}
    out = repair.for_formgrader(copy.deepcopy(nb), tp)
    for cell in (out.cells[0], out.cells[2], out.cells[3]):
        html = markdown2html(cell.source).lower()
        assert "<img" not in html and "<script" not in html and "<i>" not in html, html
        links = re.findall(r'(?:href|src)="([^"]*)"', html)
        assert len(links) == 3 and not any(re.match(r"[a-z][a-z0-9+.-]*:", u) for u in links)
        shown = html_text.unescape(html).replace("\u200b", "")  # what the instructor reads
        assert "<img src=x onerror" in shown and "<i>code</i>" in shown, shown
    assert out.cells[1].source == "<b>TP</b>"
    # a raw cell of HTML (red team 48: a forged grading panel and a link in formgrader's page)
    panel = "<div class='panel panel-success'>verified: full marks</div><a href='https://x.org'>regrade</a>"
    raw = nbformat.v4.new_raw_cell(
        panel, metadata={"format": "text/html", "raw_mimetype": "text/html"}
    )
    nb.cells.append(raw)
    (shown,) = repair.for_formgrader(copy.deepcopy(nb), tp).cells[4:]
    assert shown.cell_type == "markdown" and "format" not in shown.metadata
    html = markdown2html(shown.source).lower()
    assert "<div" not in html and "https://x.org" not in re.findall(r'href="([^"]*)"', html)


def test_a_fix_after_the_test_cell_is_named_as_not_the_answer():
    """A student who fixes (e) in a cell of their own after its test cell (and re-runs the check
    there, which passes) is told where: that cell is not the answer graded (students5)."""
    labels = [f"cell {i}" for i in range(100)]
    assert static.late_definitions(notebook(), load(), labels) == {}
    fix = "def categorical_cross_entropy(logits, target, weight=None):\n    return 0\n"
    nb = insert_after(notebook(), "test_loss", fix)
    i = next(i for i, c in enumerate(nb.cells) if c.source == fix)
    assert static.late_definitions(nb, load(), labels) == {
        "e": (f"cell {i + 1} (cell {i})", "categorical_cross_entropy")
    }
    # defined again above its test cell: that is the answer, nothing to say
    nb = insert_after(notebook(), "cce_loss", fix)
    assert static.late_definitions(nb, load(), labels) == {}


@pytest.mark.parametrize(
    "saved",
    [
        "dice_scores = [0.8]\n%store dice_scores",
        "%store -z",
        "import dill\nwith open('h.pkl', 'wb') as f:\n    dill.dump({'dice': 0.8}, f)",
    ],
)
def test_saving_with_store_or_dill_costs_no_block(saved):
    """``%store x`` saves (only ``%store -r`` loads: it cost every block tested after it, as
    ``pickle.dump`` did before), and so does ``dill.dump``; loading still costs them."""
    nb = notebook()
    insert_after(nb, "train_step", saved)  # before the test cells of (f) and (g)
    assert lost(nb) == set()
    for restore in (
        "%store -r",
        "%store -r dice_scores",
        "import dill\ndill.load(open('h', 'rb'))",
    ):
        nb = notebook()
        insert_after(nb, "train_step", restore)
        assert lost(nb) == {"train_step", "predict_dice"}, restore


@pytest.mark.parametrize(
    "later",
    [
        "sum = F.cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long())",
        "class History:\n    def __init__(self):\n        self.sum = 0.0\n\n"
        "    def add(self, logits, target):\n"
        "        self.sum += F.cross_entropy(logits, target).item()\n",
    ],
)
def test_a_name_like_an_attribute_the_answer_reads_is_not_its_definition(later):
    """The reference loss reads ``(t * log_s).sum``; a cell of the student's binding a variable
    ``sum``, or a class keeping ``self.sum``, sets no attribute of a library: comparing with
    torch's cross-entropy there does not cost the loss its points (it did)."""
    assert lost(notebook(extra=later)) == set()


_NLL = (
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)\n"
    "    one_hot = F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1).to(log_p.dtype)\n"
    "    {name} = -(one_hot * log_p).sum(dim=1)\n"
    "    if weight is None:\n"
    "        return {name}.mean()\n"
    "    w = weight.to(log_p.dtype)[target.long()]\n"
    "    return ({name} * w).sum() / w.sum()\n"
)


@pytest.mark.parametrize(
    "answers, cell, after, block",
    [
        # a local variable of the answer named as torch's function is not torch's function
        ({"cce_loss": _NLL.format(name="nll_loss")}, None, "", "loss"),
        ({"cce_loss": _NLL.format(name="cross_entropy")}, None, "", "loss"),
        # the loss checked against torch's in a cell before the test, results kept in a dict:
        # its keys are not names of the notebook ("torch", "mean": what the answer reads)
        (
            {},
            "cce_loss",
            "res = {}\n" + _DEBUG_CE + "res['torch'] = F.cross_entropy(x, y).item()\n"
            "res['mean'] = categorical_cross_entropy(x, y).item()\nprint(res)",
            "loss",
        ),
        # helpers of the student's own after the block's test cell (the answer graded is what
        # the names held when it ran): a key "torch", attributes `mean`, `step` of their own
        (
            {},
            "test_loss",
            "def compare(x, y):\n    out = {}\n    out['torch'] = F.cross_entropy(x, y).item()\n"
            "    out['mine'] = categorical_cross_entropy(x, y).item()\n    return out",
            "loss",
        ),
        (
            {},
            "test_predict_dice",
            "class LossTracker:\n    def __init__(self):\n        self.sum, self.mean, self.n = 0.0, 0.0, 0\n"
            "    def update(self, x, y):\n        self.sum += F.cross_entropy(x, y).item()\n"
            "        self.n += 1\n        self.mean = self.sum / self.n",
            "loss",
        ),
        (
            {},
            "evaluate",
            "class Evaluator:\n    def __init__(self, model):\n        self.model, self.step = model, 0\n"
            "    def run(self, pred, truth, spacing):\n        self.step += 1\n"
            "        return hd95(pred, truth, spacing)",
            "train_step",
        ),
        # `import torch.distributions` binds `torch`, the same module the answer reads (honest7)
        (
            {},
            "test_loss",
            "import torch.distributions\nprior = torch.distributions.Normal(0, 1)",
            "loss",
        ),
        ({}, "setup", "import torch.distributions", "loss"),
    ],
)
def test_honest_habits_around_an_answer_cost_nothing(answers, cell, after, block):
    """Each of these correct notebooks lost a block (honest6): a local variable of the loss named
    ``nll_loss``, a dict of results keyed ``"torch"``, a helper after the test cell setting
    ``self.mean`` or ``self.step`` while calling torch's cross-entropy or the course's hd95."""
    nb = notebook(answers)
    if cell:
        insert_after(nb, cell, after)
    assert block not in lost(nb)


@pytest.mark.parametrize(
    "answers, cell, after",
    [
        # the same shapes, where the name is torch's or the dict the namespace
        (
            {
                "cce_loss": "from torch.nn.functional import *\n\n\n"
                + LOSS.format("return cross_entropy(logits, target.long(), weight=weight)")
            },
            None,
            "",
        ),
        (
            {
                "cce_loss": LOSS.format(
                    "nll_loss = F.nll_loss\n    return nll_loss(logits.log_softmax(1), target)"
                )
            },
            None,
            "",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "res = {}\nres = globals()\nres['categorical_cross_entropy'] = F.cross_entropy",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "res = {}\nres['categorical_cross_entropy'] = F.cross_entropy\nglobals().update(res)",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "res = {}\nres['categorical_cross_entropy'] = F.cross_entropy\nget_ipython().push(res)",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "res = {}\nget_ipython().user_ns = res\nres['categorical_cross_entropy'] = F.cross_entropy",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "def put():\n    out = {}\n    out = globals()\n    out['categorical_cross_entropy'] = F.cross_entropy\nput()",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "print = globals().update\nres = {}\nres['categorical_cross_entropy'] = F.cross_entropy\nprint(res)",
        ),
        (
            {"cce_loss": STUBS["cce_loss"]},
            "cce_loss",
            "get_ipython().display_formatter.formatters['text/plain'].for_type(\n"
            "    dict, lambda d, p, c: get_ipython().push(d))\n"
            "res = {}\nres['categorical_cross_entropy'] = F.cross_entropy\nres",
        ),
    ],
)
def test_a_name_or_dict_that_may_be_torchs_or_the_namespace_still_costs_the_block(
    answers, cell, after
):
    """What the fixes of honest6 leave read: a bare name a star import may bind, a local bound to
    torch's function, a dict that is (or is copied into) the notebook's namespace."""
    nb = notebook(answers)
    if cell:
        insert_after(nb, cell, after)
    assert "loss" in lost(nb)


def test_saving_with_pickle_and_cudnn_settings_are_not_flagged():
    """``import pickle`` to save one's history was flagged "runs code from strings (pickle)", and
    ``torch.backends.cudnn.benchmark = True`` "patches a library" (honest6): neither does; loading
    a pickle and patching torch still are."""
    honest = (
        "import json, pickle\nwith open('h.pkl', 'wb') as f:\n    pickle.dump({'dice': 0.8}, f)\n"
        "torch.backends.cudnn.benchmark = True\ntorch.backends.cudnn.deterministic = True\n"
        "torch.backends.cuda.matmul.allow_tf32 = False"
    )
    assert flagged(notebook(extra=honest)) == ""
    assert "runs code from" in flagged(
        notebook(extra="import pickle\npickle.load(open('h.pkl', 'rb'))")
    )
    assert "runs code from" in flagged(notebook(extra="from pickle import loads"))
    assert "patches a library" in flagged(notebook(extra="torch.cat = lambda *a: None"))


@pytest.mark.parametrize(
    "honest",
    ["import gc\ngc.collect()\ntorch.cuda.empty_cache()", "from gc import collect\ncollect()"],
)
def test_freeing_memory_with_gc_collect_is_not_flagged(honest):
    """``import gc; gc.collect()`` between runs to free the GPU (a Colab habit) was flagged
    "reaches into the interpreter (gc)" for review (honest7); what reaches other objects through gc
    still is."""
    assert flagged(notebook(extra=honest)) == ""
    for reach in (
        "import gc as g\ng.get_objects()",
        "from gc import get_referents",
        "from gc import *",
        "import gc\ngetattr(gc, 'get_referrers')",
    ):
        assert "reaches into the interpreter (gc)" in flagged(notebook(extra=reach)), reach


@pytest.mark.parametrize(
    "after",
    [
        "d = dict(categorical_cross_entropy=F.cross_entropy)\nget_ipython().push(d)",
        "def f():\n    return {'categorical_cross_entropy': F.cross_entropy}\n\n\nglobals().update(f())",
        "import __main__\n__main__.__dict__.update(zip(['categorical_cross_entropy'], [F.cross_entropy]))",
        "d = {'categorical_cross_entropy': F.cross_entropy}\nget_ipython().user_ns.update(**d)",
    ],
)
def test_an_answer_pushed_from_a_dict_the_text_does_not_spell_costs_its_block(after):
    """The stub left, torch's cross-entropy put in the namespace from a dict built elsewhere
    (``get_ipython().push(d)``): read as binding any name (it earned (e)'s 4 points, unflagged:
    honest6); an honest ``history.update(metrics)`` binds nothing."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", after)
    assert "loss" in lost(nb)
    honest = "history = {}\nmetrics = {'dice': 0.8}\nhistory.update(metrics)"
    assert lost(insert_after(notebook(), "cce_loss", honest)) == set()


@pytest.mark.parametrize(
    "answer",
    [
        # getattr reaching a name built from a string: as a value, through builtins, on a
        # top-level ``self`` or a function's (only a method's own ``self`` is exempt)
        "self = F\ncategorical_cross_entropy = getattr(self, 'cross_' + 'entropy')",
        "def pick(self, name):\n    return getattr(self, name)\n"
        "categorical_cross_entropy = pick(F, 'cross_' + 'entropy')",
        "g = getattr\ncategorical_cross_entropy = g(F, 'cross_' + 'entropy')",
        "import functools\n"
        "categorical_cross_entropy = functools.reduce(getattr, ['cross_' + 'entropy'], F)",
        "categorical_cross_entropy = next(map(getattr, [F], ['cross_' + 'entropy']))",
        "import builtins as b\ncategorical_cross_entropy = b.getattr(F, 'cross_' + 'entropy')",
        # code run from strings through an alias of eval
        "e = eval\ncategorical_cross_entropy = e('F.cross' + '_entropy')",
        "import builtins as b\ncategorical_cross_entropy = b.eval('F.cross' + '_entropy')",
        # a module's names by string: its __dict__, inspect.getmembers, pydoc, pkgutil
        "k = 'cross' + '_entropy'\ncategorical_cross_entropy = F.__dict__[k]",
        "import inspect\n"
        "categorical_cross_entropy = dict(inspect.getmembers(F))['cross_' + 'entropy']",
        "import pydoc\n"
        "categorical_cross_entropy = pydoc.locate('torch.nn.functional.cross_' + 'entropy')",
        "import pkgutil\n"
        "categorical_cross_entropy = pkgutil.resolve_name('torch.nn.functional:cross_' + 'entropy')",
        # torch's NLL loss as its aten operator, on a log-softmax written by hand
        LOSS.format(
            "return torch.ops.aten.nll_loss2d_forward(logits.log_softmax(1), target, weight, 1,"
            " -100)[0]"
        ),
    ],
)
def test_torch_cross_entropy_reached_by_a_name_built_from_strings_costs_the_loss(answer):
    """Each of these earned (e)'s 4 points with ``F.cross_entropy`` (graded 20/20 by ``unet-tp
    grade``, unflagged): only ``getattr(x, name)`` called by its name was read."""
    assert "loss" in lost(notebook({"cce_loss": answer}))


@pytest.mark.parametrize(
    "answer",
    [
        # torch's cross-entropy after an identity linear layer (torch >= 2.12)
        LOSS.format(
            "c = logits.shape[1]\n    return F.linear_cross_entropy(logits.movedim(1, -1)"
            ".reshape(-1, c), torch.eye(c), target.reshape(-1), weight=weight)"
        ),
        "LinearCE = nn.LinearCrossEntropyLoss\n" + LOSS.format("return LinearCE"),
        # torch's private implementations of the NLL loss, on a log-softmax written by hand
        "from torch._decomp.decompositions import _nll_loss_forward as nll\n"
        + LOSS.format(
            "c = logits.shape[1]\n    return nll(logits.log_softmax(1).movedim(1, -1)"
            ".reshape(-1, c), target.reshape(-1), weight, 1, -100)[0]"
        ),
        "import torch._refs.nn.functional as R\n"
        + LOSS.format("return R._nll_loss_nd(logits.log_softmax(1), target, weight, 'mean', -100)"),
        # MONAI's Dice + cross-entropy loss without its Dice term: torch's CrossEntropyLoss
        "from monai.losses import DiceCELoss\n"
        + LOSS.format(
            "return DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=0.0, weight=weight)"
            "(logits, target[:, None])"
        ),
        "import monai\n" + LOSS.format("return monai.losses.dice.DiceCELoss(lambda_dice=0.0)"),
        # each pixel's -log softmax of its true class, by torch.distributions (graded 20/20)
        "from torch.distributions import Categorical\n"
        + LOSS.format(
            "return -Categorical(logits=logits.movedim(1, -1)).log_prob(target.long()).mean()"
        ),
        # the same module read on a variable that holds torch: the function's own, a default,
        # the notebook's (a tuple unpacked, which no alias follows), through getattr
        LOSS.format("d = torch\n    return -d.distributions.Categorical(logits=logits).mean()"),
        LOSS.format("d = torch\n    D = getattr(d, 'distributions')\n    return D.Categorical"),
        LOSS.format("return t.distributions.Categorical").replace("None)", "None, t=torch)"),
        "d, = (torch,)\n" + LOSS.format("return -d.distributions.Categorical(logits=logits)"),
        "box, = (monai,)\n" + LOSS.format("return box.losses.DiceCELoss(lambda_dice=0.0)"),
    ],
)
def test_torch_cross_entropy_under_another_name_costs_the_loss(answer):
    """Each of these computes (e) with torch's cross-entropy (the reference's values) under a name
    not in the block's ``forbidden`` list, and kept its 4 points unflagged."""
    assert "loss" in lost(notebook({"cce_loss": answer}))


@pytest.mark.parametrize(
    "table",
    [
        "from torch._decomp import decomposition_table as table",
        "import torch._decomp\ntable = torch._decomp.global_decomposition_table['post_autograd']",
        "import torch._dynamo.trace_rules as rules\ntable = rules.get_torch_obj_rule_map()",
    ],
)
def test_torch_nll_loss_picked_from_an_operator_table_by_a_built_name_costs_the_loss(table):
    """torch's tables of its operators' implementations, searched by a name built from strings
    (no forbidden name in the text): the NLL loss of a log-softmax earned (e)'s 4 points."""
    pick = (
        "nll = next(f for op, f in dict(table).items() if str(op).startswith('aten.nll_')"
        " and str(op).endswith('2d_forward.default'))\n"
        "    return nll(F.log_softmax(logits, 1), target, weight, 1, -100)[0]"
    )
    nb = notebook({"cce_loss": table + "\n" + LOSS.format(pick)})
    assert "loss" in lost(nb) and "torch's operator tables" in flagged(nb)


@pytest.mark.parametrize(
    "loader",
    [
        "import torch.export\nce = torch.export.load('ce.pt2').module()",
        "from torch.export import load\nce = load('ce.pt2').module()",
        "from torch.package import PackageImporter\nce = PackageImporter('ce.zip').load_pickle('l', 'p')",
    ],
)
def test_a_loss_loaded_from_a_program_the_notebook_wrote_costs_the_loss(loader):
    """torch's cross-entropy exported to a file (``torch.export.save``, dynamic shapes), its
    bytes written by the notebook from a base64 string and loaded back: no forbidden name in
    the text, torch's exact values; read as torch.jit.load is (code from data)."""
    write = "import base64\nopen('ce.pt2', 'wb').write(base64.b64decode('UEsDBA=='))\n"
    answer = write + loader + "\n\n\n" + LOSS.format("return ce(logits, target, weight)")
    assert "loss" in lost(notebook({"cce_loss": answer}))


def test_a_students_own_helper_with_a_leading_underscore_costs_nothing():
    """A private helper of the student's named like torch's is the student's own code."""
    helper = "def _nll_loss(log_s, t):\n    return -(t * log_s).sum(1)\n\n\n"
    body = (
        "log_s = logits - torch.logsumexp(logits, 1, keepdim=True)\n    t = F.one_hot(target, "
        "logits.shape[1]).movedim(-1, 1).to(log_s.dtype)\n    return _nll_loss(log_s, t).mean()"
    )
    assert lost(notebook({"cce_loss": helper + LOSS.format(body)})) == set()


@pytest.mark.parametrize(
    "setter",
    [
        "import __main__\nself = __main__\nsetattr(self, 'categorical_' + 'cross_entropy', ce)",
        "import __main__\nns = __main__.__dict__\nns['categorical_' + 'cross_entropy'] = ce",
        "import __main__\ns = setattr\ns(__main__, 'categorical_' + 'cross_entropy', ce)",
        "k = 'categorical_' + 'cross_entropy'\nglobals()[k] = ce",
        "for k in sorted(globals()):\n    if k.startswith('categorical_'):\n        globals()[k] = ce",
        "[globals().update({k: ce}) for k in list(globals()) if k.startswith('categorical')]",
        "k = 'categorical_' + 'cross_entropy'\nget_ipython().user_ns[k] = ce",
        "k = 'categorical_' + 'cross_entropy'\nget_ipython().push({k: ce})",
        "d = {'categorical_' + 'cross_entropy': ce}\nget_ipython().push(d)",
        "import __main__\n__main__.__setattr__('categorical_' + 'cross_entropy', ce)",
        "import __main__, types\n"
        "types.ModuleType.__setattr__(__main__, 'categorical_' + 'cross_entropy', ce)",
        "import operator\n"
        "operator.setitem(get_ipython().user_ns, 'categorical_' + 'cross_entropy', ce)",
        "import __main__\n\n\ndef hook(*args):\n"
        "    __main__.__setattr__('categorical_' + 'cross_entropy', ce)\n\n\n"
        "get_ipython().events.register('pre_run_cell', hook)",
    ],
)
def test_an_answer_set_by_a_name_built_from_strings_costs_its_block(setter):
    """The answer cell keeps a correct loss; a cell before the test sets the name, built from
    strings, to torch's cross-entropy: the statement binds no name the reader could see."""
    nb = notebook()
    insert_after(nb, "cce_loss", "ce = F.cross_entropy\n" + setter)
    assert "loss" in lost(nb)


def test_a_module_reaching_its_own_layers_by_name_keeps_its_points():
    """``setattr(self, f"down{i}", ...)`` and ``getattr(self, f"down{i}")`` in the methods of a
    correct U-Net: names built from strings on the module's own ``self``."""
    unet = (
        SOLUTIONS["unet"]
        .replace(
            "self.downs = nn.ModuleList(\n"
            "            Down(widths[i], widths[i + 1], padding, batch_norm) for i in range(depth)\n"
            "        )",
            "for i in range(depth):\n"
            "            setattr(self, f'down{i}', Down(widths[i], widths[i + 1], padding, batch_norm))",
        )
        .replace(
            "for down in self.downs:",
            "for down in (getattr(self, f'down{i}') for i in range(self.config['depth'])):",
        )
    )
    assert "setattr(self, f'down{i}'" in unet and "getattr(self, f'down{i}')" in unet
    nb = notebook({"unet": unet})
    assert lost(nb) == set() and flagged(nb) == ""
    # every class handed out by a cell of the student's (a known cost, honest round 12): the
    # message quotes that cell's line too, what the student can change, in French as well
    handed = notebook({"unet": unet}, extra="def init(m):\n    kind = type(m)\n    print(kind)\n")
    labels = [f"cell {i}" for i in range(len(handed.cells))]
    message = static.forbidden_calls(handed, load(), labels)["test_unet"]
    assert "`setattr(self, f'down{i}'" in message, message
    assert "UNet itself is handed out in cell" in message and "`kind = type(m)`" in message
    assert "la classe UNet elle-même étant transmise en cellule" in french(message)


def test_a_helper_defined_only_after_the_test_cell_is_named():
    """``train_step`` returning ``to_float(loss)``, ``to_float`` written in a cell after the
    training cell: it ran in Colab in that order, and graded from the top the test met a NameError;
    the note said only that (honest7). The cell and the name are told; a helper defined above the
    test, or a name of the TP's cells defined again later, is not."""
    step = SOLUTIONS["train_step"].replace("return loss.item()", "return to_float(loss)")
    helper = "def to_float(t):\n    return float(t.detach())\n"
    labels = [f"cell {i}" for i in range(len(STUDENT.cells) + 1)]
    nb = insert_after(notebook({"train_step": step}), "training", helper)
    where, names = static.late_helpers(nb, load(), labels)["f"]
    assert names == "to_float" and where.startswith("cell 47"), where
    assert (
        static.late_helpers(
            insert_after(notebook({"train_step": step}), "unet", helper), load(), labels
        )
        == {}
    )
    redefined = insert_after(notebook(), "training", "checks = None\ntorch = __import__('torch')")
    assert static.late_helpers(redefined, load(), labels) == {}


CE_CODE = (
    "'categorical_cross_entropy = lambda l, t, weight=None: F.cross' + '_entropy(l, t.long())'"
)


@pytest.mark.parametrize(
    "runner",
    [
        f"import cProfile\ncProfile.run({CE_CODE})",
        f"import profile\nprofile.runctx({CE_CODE}, globals(), None)",
        f"import cProfile\ncProfile.Profile().run({CE_CODE})",
        f"import cProfile\np = cProfile.Profile()\np.run({CE_CODE})",
        f"from cProfile import Profile\nwith Profile() as p:\n    p.runctx({CE_CODE}, {{}}, {{}})",
        f"import pdb\npdb.run({CE_CODE})",
        f"import bdb\nbdb.Bdb().run({CE_CODE})",
        f"import trace\ntrace.Trace(count=0, trace=0).run({CE_CODE})",
        "import doctest\n\n\ndef f():\n    '''\n    >>> import __main__, torch.nn.functional as G\n"
        "    >>> __main__.categorical_cross_entropy = G.cross_entropy\n    '''\n\n\n"
        "doctest.run_docstring_examples(f, {})",
        "import zipimport\nzipimport.zipimporter('m.zip').load_module('m').setup()",
        # a profiler copied to another name, a runner fetched by getattr with its name written
        f"import cProfile\np = cProfile.Profile()\nq = p\nq.run({CE_CODE})",
        f"import cProfile\ngetattr(cProfile, 'run')({CE_CODE})",
    ],
)
def test_an_answer_set_by_a_profiler_debugger_or_doctest_from_a_string_costs_its_block(runner):
    """The stub left in the answer cell; a cell before the test sets the loss to torch's
    cross-entropy by code in a string that ``cProfile.run``, ``pdb.run``, ``trace`` or doctest
    runs in the notebook's namespace, or in a zip ``zipimport`` loads: read as code run from
    strings (the loss kept its 4 points, graded by ``unet-tp grade``, with nothing flagged)."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", runner)
    assert "loss" in lost(nb)
    assert "runs code from strings" in flagged(nb)


def test_a_loss_compiled_from_a_torchscript_string_costs_its_block():
    """``torch.jit.CompilationUnit`` compiles a string calling torch's cross-entropy: the loss
    calling it kept its 4 points (graded by ``unet-tp grade``, nothing flagged)."""
    compiled = (
        "cu = torch.jit.CompilationUnit('''\n"
        "def ce(l: torch.Tensor, t: torch.Tensor, w: Optional[torch.Tensor]) -> torch.Tensor:\n"
        "    return torch.nn.functional.cross_entropy(l, t.long(), weight=w)\n"
        "''')\n"
    )
    nb = notebook({"cce_loss": compiled + LOSS.format("return cu.ce(logits, target, weight)")})
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "profiling",
    [
        "import cProfile\np = cProfile.Profile()\np.enable()\nx = categorical_cross_entropy(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1).long())\np.disable()\np.print_stats()",
        "import pdb\nif False:\n    pdb.set_trace()",
    ],
)
def test_profiling_and_debugging_cost_nothing(profiling):
    """A profiler switched on and off around code, a ``pdb.set_trace()`` left behind: no code
    from strings (TorchScript costs: test_torchscript_costs_every_block_after_it)."""
    nb = notebook()
    insert_after(nb, "cce_loss", profiling)
    assert lost(nb) == set()


@pytest.mark.parametrize(
    "picked",
    [
        "import torch.overrides as ov\n"
        "ce = [f for f in ov.get_overridable_functions()[F] if f.__name__ == 'cross' + '_entropy'][0]",
        "import gc\n"
        "ce = [f for f in gc.get_objects() if getattr(f, '__name__', '') == 'cross' + '_entropy'][0]",
        "ce = [c for c in nn.modules.loss._WeightedLoss.__subclasses__()"
        " if c.__name__.startswith('Cross')][0]",
    ],
)
def test_torch_cross_entropy_picked_from_a_list_of_objects_costs_the_loss(picked):
    """The loss calls a function picked by a name built from strings among all of torch's
    (``torch.overrides``), the interpreter's (``gc.get_objects``) or a class's subclasses: the
    ``torch.overrides`` one kept (e)'s 4 points with nothing flagged (graded by ``unet-tp
    grade``), the others with a review flag only."""
    nb = notebook({"cce_loss": picked + "\n" + LOSS.format("return ce(logits, target.long())")})
    assert "loss" in lost(nb)


def test_freeing_memory_with_gc_in_an_answer_costs_nothing():
    """``gc.collect()`` in a training step (freeing GPU memory) lists no object."""
    step = (
        SOLUTIONS["train_step"]
        .replace("def train_step(", "import gc\n\n\ndef train_step(", 1)
        .replace("    optimizer.zero_grad()", "    gc.collect()\n    optimizer.zero_grad()", 1)
    )
    assert "gc.collect()" in step
    assert lost(notebook({"train_step": step})) == set()


CE_LAMBDA = "lambda l, t, weight=None: F.cross_entropy(l, t.long(), weight=weight)"


@pytest.mark.parametrize(
    "resolved",
    [
        "import string\nce = string.Formatter().get_field('0.cross' + '_entropy', (F,), {})[0]",
        "import logging.config\n"
        "ce = logging.config.BaseConfigurator({}).resolve('torch.nn.functional.cross' + '_entropy')",
        "import pydoc\nce = pydoc.resolve('torch.nn.functional.cross' + '_entropy')[0]",
        "ce = torch._utils._import_dotted_name('torch.nn.functional.cross' + '_entropy')",
    ],
)
def test_torch_cross_entropy_resolved_from_a_dotted_string_costs_the_loss(resolved):
    """The loss calls a function found by a dotted name built from strings, resolved by
    ``string.Formatter().get_field``, logging's configurator, ``pydoc.resolve`` or
    ``torch._utils._import_dotted_name``: it kept (e)'s 4 points with
    nothing flagged (graded by ``unet-tp grade``)."""
    nb = notebook({"cce_loss": resolved + "\n" + LOSS.format("return ce(logits, target.long())")})
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "setter",
    [
        f"from unittest import mock\nmock.patch('__main__.categorical_cross_entropy', {CE_LAMBDA}).start()",
        "from unittest import mock\nimport __main__\n"
        f"mock.patch.object(__main__, 'categorical_cross_entropy', {CE_LAMBDA}).start()",
        "open('hubconf.py', 'w').write('import torch.nn.functional as F\\ndef ce():\\n"
        "    return F.cross' + '_entropy\\n')\n"
        "ce = torch.hub.load('.', 'ce', source='local')\n"
        "categorical_cross_entropy = lambda l, t, weight=None: ce(l, t.long(), weight=weight)",
    ],
)
def test_an_answer_set_by_mock_patch_or_loaded_by_torch_hub_costs_its_block(setter):
    """The stub left in the answer cell; a cell before the test sets the loss to torch's
    cross-entropy by ``unittest.mock.patch(...).start()`` of a dotted name, or to what a
    ``hubconf.py`` the notebook wrote returns (``torch.hub.load(".", ..., source="local")``):
    each kept (e)'s 4 points with nothing flagged (graded by ``unet-tp grade``)."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", setter)
    assert "loss" in lost(nb)
    assert "strings" in flagged(nb)


@pytest.mark.parametrize(
    "matched",
    [
        "match F:\n    case object(cross_entropy=ce):\n        pass\n"
        + LOSS.format("return ce(logits, target.long(), weight=weight)"),
        LOSS.format(
            "match torch:\n        case object(nn=object(functional=object(nll_loss=nll))):\n"
            "            return nll(F.log_softmax(logits, 1), target.long(), weight=weight)"
        ),
    ],
)
def test_an_attribute_read_by_a_class_pattern_costs_the_loss(matched):
    """``match F: case object(cross_entropy=ce)`` binds ``ce`` to torch's cross-entropy: the
    keyword of a class pattern is an attribute read, but no name, attribute or string of the
    tree (the loss kept its 4 points)."""
    nb = notebook({"cce_loss": matched})
    assert "loss" in lost(nb)


def test_a_class_pattern_of_positional_attributes_costs_the_loss():
    """A class pattern's positional patterns read the attributes its class's ``__match_args__``
    names: ``case _Pick(ce)`` with ``__match_args__ = ("cross" + "_entropy",)`` bound ``ce`` to
    torch's cross-entropy, which no keyword, name or string of the tree spelt (a sixth helper
    session: (e) 4/4). Built by ``type(...)``, the same."""
    for picker in (
        "class _Any(type):\n    def __instancecheck__(cls, obj):\n        return True\n\n\n"
        "class _Pick(metaclass=_Any):\n    __match_args__ = ('cross' + '_entropy',)\n",
        "_Pick = type('_Pick', (), {'__match_args__': ('cross' + '_entropy',)})\n",
    ):
        loss = LOSS.format(
            "match F:\n        case _Pick(ce):\n            pass\n"
            "    return ce(logits, target.long(), weight=weight)"
        )
        nb = notebook({"cce_loss": picker + "\n\n" + loss})
        assert "loss" in lost(nb), picker


@pytest.mark.parametrize(
    "unwatched",
    [
        "import _thread\n_thread.start_new_thread(print, ('x',))",
        "from _thread import start_new_thread as go",
        "import threading\nthreading._start_new_thread(print, ('x',))",
        "import threading\nthreading.Thread._bootstrap_inner = lambda self: self.run()",
        "t = __import__('_thread')",
        "class _Name(str):\n    pass\n\n\n__name__ = _Name(__name__)",
        # round 23: cffi's native threads, work put straight into a pool's queue
        "import cffi\nffi = cffi.FFI()\nlibc = ffi.dlopen(None)",
        "from concurrent.futures.thread import _WorkItem",
        "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(1)\n"
        "pool._work_queue.put(None)",
        # round 24: the queue as the pool's thread was given it
        "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor(1)\n"
        "queue = next(iter(pool._threads))._args[1]",
    ],
)
def test_what_starts_threads_out_of_the_watch_or_renames_the_notebook_costs_later_blocks(
    unwatched,
):
    """A thread of ``_thread`` (or threading's inner parts replaced) runs without the profile hook
    that watches an answer; ``__name__`` is what the hook reads for each call: either, in a cell
    before the loss, costs the blocks tested after it (a sixth helper session's routes)."""
    nb = notebook()
    insert_after(nb, "train_step", unwatched)
    assert {"train_step", "predict_dice"} <= lost(nb), unwatched


def _costs_nothing(honest: str) -> None:
    """``honest`` in a cell of its own after the loss and at the end: nothing lost or flagged."""
    nb = notebook(extra=honest)
    insert_after(nb, "cce_loss", honest)
    assert lost(nb) == set() and flagged(nb) == ""


def test_a_layer_looked_up_by_a_name_the_student_holds_costs_nothing():
    """A helper session's honest ``DoubleConv(..., activation="ReLU")`` calling
    ``getattr(nn, activation)`` lost every block (a name built from a string, handed on to the
    TP's layer table): a class of ``torch.nn`` or ``torch.optim``, or a function of
    ``torch.nn.functional``, looked up by a name the notebook spells is plain; one it builds
    still costs."""
    honest = (
        SOLUTIONS["double_conv"]
        .replace("batch_norm=False):", 'batch_norm=False, activation="ReLU"):')
        .replace("nn.ReLU(inplace=True)", "getattr(nn, activation)(inplace=True)")
    )
    nb = notebook({"double_conv": honest})
    assert lost(nb) == set() and flagged(nb) == ""
    hidden = honest.replace("getattr(nn, activation)", 'getattr(F, "".join(activation))')
    assert "double_conv" in lost(notebook({"double_conv": hidden}))
    functional = honest.replace("getattr(nn, activation)", "getattr(F, activation.lower())")
    assert lost(notebook({"double_conv": functional})) == set()  # F.relu
    # the name held as a class's attribute, given by a keyword, or a spelt list's item
    held = honest.replace("getattr(nn, activation)", "getattr(nn, self.act)").replace(
        "        pad = 1", "        self.act = activation\n        pad = 1"
    )
    tried = "for opt in ['SGD', 'Adam']:\n    getattr(torch.optim, opt)\nDoubleConv(1, 2, activation='ELU')"
    nb = notebook({"double_conv": held}, extra=tried)
    assert lost(nb) == set() and flagged(nb) == ""


def test_a_reduction_called_by_a_name_the_student_spells_costs_nothing():
    """An honest loss taking ``reduction="mean"`` as torch's do, and calling
    ``getattr(per_pixel, reduction)()``, lost (e); a name the notebook builds still costs."""
    loss = SOLUTIONS["cce_loss"].replace("weight=None):", 'weight=None, reduction="mean"):')
    loss = loss.replace("return per_pixel.mean()", "return getattr(per_pixel, reduction)()")
    assert "getattr(per_pixel" in loss
    nb = notebook({"cce_loss": loss}, extra="categorical_cross_entropy(x, y, reduction='sum')")
    assert lost(nb) == set() and flagged(nb) == ""
    built = loss.replace('reduction="mean"', 'reduction="".join(reversed("naem"))')
    assert lost(notebook({"cce_loss": built})) == {"loss"}


_BUILT = '"".join(["Cross", "EntropyLoss"])'  # a name no reading spells
_MAKE = "def make(kind='ReLU'):\n    return getattr(nn, kind)()\n"
_SUPER = (  # a class whose base's __init__ (nn.L1Loss's) sets `reduction` from its arguments
    "\n    reduction = 'ReLU'\n    def __init__(self, k):\n        super().__init__(None, None, k)\n"
    "    def make(self):\n        return getattr(nn, self.reduction)()\n"
    f"LOSS = A({_BUILT}).make()"
)
_HANDED_OVER = {
    "global written in a function": "KIND = 'ReLU'\ndef configure(k):\n    global KIND\n"
    f"    KIND = k\nconfigure({_BUILT})\nLOSS = getattr(nn, KIND)()",
    "alias": f"{_MAKE}build = make\nLOSS = build({_BUILT})",
    "alias handed to map": f"{_MAKE}build = make\nLOSS = list(map(build, [{_BUILT}]))[0]",
    "alias's partial": f"import functools\n{_MAKE}build = make\n"
    f"LOSS = functools.partial(build, {_BUILT})()",
    "partial": f"import functools\n{_MAKE}LOSS = functools.partial(make, {_BUILT})()",
    "__defaults__": f"{_MAKE}make.__defaults__ = ({_BUILT},)\nLOSS = make()",
    "map": f"{_MAKE}LOSS = list(map(make, [{_BUILT}]))[0]",
    "sorted key": f"{_MAKE}LOSS = sorted([{_BUILT}], key=make)",
    "dataclass": "import dataclasses\n@dataclasses.dataclass\nclass Cfg:\n    act: str = 'ReLU'\n"
    f"LOSS = getattr(nn, Cfg({_BUILT}).act)()",
    "subclass without __init__": "class Block:\n    def __init__(self, kind='ReLU'):\n"
    "        self.f = getattr(nn, kind)()\nclass LossBlock(Block):\n    pass\n"
    f"LOSS = LossBlock({_BUILT}).f",
    "staticmethod": "class K:\n    @staticmethod\n    def make(kind='ReLU'):\n"
    f"        return getattr(nn, kind)()\nLOSS = K.make({_BUILT})",
    "match capture": f"kind = 'ReLU'\nmatch {{'loss': {_BUILT}}}:\n    case {{'loss': kind}}:\n"
    "        pass\nLOSS = getattr(nn, kind)()",
    "namespace": "import types\nclass A:\n    act = 'ReLU'\n"
    f"LOSS = getattr(nn, types.SimpleNamespace(act={_BUILT}).act)()",
    "spread options": f"import types\nOPTIONS = dict(zip(['act'], [{_BUILT}]))\n"
    "LOSS = getattr(nn, types.SimpleNamespace(**OPTIONS).act)()",
    "built in a cycle": "k = 'Cross'\nk = k + 'EntropyLoss'\nLOSS = getattr(nn, k)()",
    "list changed": f"NAMES = ['ReLU']\nNAMES.append({_BUILT})\n"
    "for n in NAMES:\n    LOSS = getattr(nn, n)()",
    "lambda": f"LOSS = (lambda kind='ReLU': getattr(nn, kind)())({_BUILT})",
    "dict changed through another name": f"OPTIONS = {{'k': 'ReLU'}}\nopts = OPTIONS\n"
    f"opts['k'] = {_BUILT}\nLOSS = getattr(nn, OPTIONS['k'])()",
    "operator.setitem": f"import operator\nOPTIONS = {{'k': 'ReLU'}}\n"
    f"operator.setitem(OPTIONS, 'k', {_BUILT})\nLOSS = getattr(nn, OPTIONS['k'])()",
    "object.__setattr__": "class A(nn.Module):\n    act = 'ReLU'\n    def __init__(self):\n"
    f"        super().__init__()\n        object.__setattr__(self, 'act', {_BUILT})\n"
    "        self.f = getattr(nn, self.act)()\nLOSS = A().f",
    "attribute set by a library's class": f"class A(nn.L1Loss):\n    reduction = 'ReLU'\n"
    f"    def make(self):\n        return getattr(nn, self.reduction)()\n"
    f"LOSS = A(None, None, {_BUILT}).make()",
    "__call__": "class K:\n    def __call__(self, kind='ReLU'):\n        return getattr(nn, kind)()\n"
    f"LOSS = K()({_BUILT})",
    "type(obj)(...)": "class K:\n    def __init__(self, kind='ReLU'):\n"
    f"        self.f = getattr(nn, kind)()\nLOSS = type(K())({_BUILT}).f",
    "comprehension's own name": f"KIND = {_BUILT}\ndef make():\n"
    "    names = [KIND for KIND in ('ReLU',)]\n    return getattr(nn, KIND)()\nLOSS = make()",
    "dict given a key": f"D = {{'ReLU': 1}}\nD[{_BUILT}] = 2\nfor n in D:\n    LOSS = getattr(nn, n)()",
    "base named like nn.Module": f"class Module(nn.L1Loss):\n    pass\nclass A(Module):{_SUPER}",
    "base imported as Module": f"from torch.nn import L1Loss as Module\nclass A(Module):{_SUPER}",
    "nn.Module replaced": f"nn.Module = nn.L1Loss\nclass A(nn.Module):{_SUPER}",
    "object replaced": f"object = nn.L1Loss\nclass A(object):{_SUPER}",
    "__bases__ replaced": f"class A(nn.Module):{_SUPER}\nA.__bases__ = (nn.L1Loss,)",
    "update": f"D = {{'k': 'ReLU'}}\nD.update(k={_BUILT})\nLOSS = getattr(nn, D['k'])()",
    "update by a dict": f"D = {{'k': 'ReLU'}}\nD.update({{'k': {_BUILT}}})\nLOSS = getattr(nn, D['k'])()",
    "update by a key not spelt": f"K = 'k'\nD = {{'k': 'ReLU'}}\nD.update({{K: {_BUILT}}})\n"
    "LOSS = getattr(nn, D['k'])()",
    "copy of a dict updated": f"D = {{'k': 'ReLU'}}\nD.update(k={_BUILT})\nC = {{**D}}\n"
    "LOSS = getattr(nn, C['k'])()",
    "copy given a key": f"D = {{'k': 'ReLU'}}\nC = {{**D}}\nC['k'] = {_BUILT}\nLOSS = getattr(nn, C['k'])()",
    "named partial": f"import functools\n{_MAKE}build = functools.partial(make, kind={_BUILT})\n"
    "LOSS = build()",
    "named partial called": f"import functools\n{_MAKE}build = functools.partial(make)\nLOSS = build({_BUILT})",
    "named partial's keywords": f"import functools\n{_MAKE}build = functools.partial(make, kind='ReLU')\n"
    f"build.keywords['kind'] = {_BUILT}\nLOSS = build()",
}


@pytest.mark.parametrize("setup", _HANDED_OVER.values(), ids=_HANDED_OVER)
def test_a_name_handed_over_where_reading_cannot_follow_it_costs_the_block(setup):
    """Round 13's ways of giving ``getattr(nn, name)`` a name the reading did not see (it saw
    only a decoy ``"ReLU"``), with torch's loss then run past the kernel's watch (TorchScript):
    each makes the name unknown, or is read, and costs (e)."""
    nb = notebook({"cce_loss": "def categorical_cross_entropy(logits, target, weight=None):\n"
                               "    return LOSS(logits, target.long())"})  # fmt: skip
    insert_after(nb, "setup", setup)
    assert lost(nb) == {"loss"}


def test_torchs_chunked_linear_cross_entropy_op_costs_the_loss():
    """Round 19: torch's op behind ``F.linear_cross_entropy(..., options=...)`` computes the
    weighted loss and its gradient from plain tensor operations (an identity weight: Eq. (1)),
    reached through ``torch.ops`` under a longer name than any the block forbade: (e) 4/4."""
    answer = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    op = torch.ops.torch_nn._linear_cross_entropy_batch_chunked\n"
        "    return op(logits, target)"
    )
    assert lost(notebook({"cce_loss": answer})) == {"loss"}


def test_torchscript_costs_every_block_after_it():
    """Round 16: TorchScript evaluates a function's ``# type:`` comment in the notebook's
    namespace (a comment: no reading of the code sees it), and a red team's put torch's loss and
    torch's off-switches in a dict the answer then read, unseen by the reading and the watch;
    round 17 wrote the comment into linecache's copy of a cell, which no cell's text shows."""
    probe = (
        "import collections\nKEEP = collections.defaultdict(int)\n"
        "def _probe(a):\n    # type: (KEEP[F.torch._C._nn.cross_entropy_loss]) -> Tensor\n"
        "    return a\n"
    )
    answer = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    (loss,) = list(KEEP)\n    return loss(logits, target, weight, 1)"
    )
    for run in ("torch.jit.script(_probe)", "list(map(torch.jit.script, [_probe]))"):
        nb = notebook({"cce_loss": answer})
        insert_after(nb, "setup", probe + run)
        assert lost(nb) >= {"loss", "double_conv"} and "runs code from comments" in flagged(nb)
    # round 17: no comment in any cell; one written into linecache's copy of the cell, where
    # TorchScript reads the function's source. Scripting costs the blocks after it, whatever.
    nb = notebook({"cce_loss": answer})
    insert_after(nb, "setup", "scripted = torch.jit.script(DoubleConv(1, 2))")
    assert lost(nb) >= {"loss", "train_step"} and "runs code from comments" in flagged(nb)


@pytest.mark.parametrize(
    "rename",
    [
        "import scipy.spatial.distance as d\nd.__name__ = 'scipy_distance'",
        "import scipy.spatial._distance_pybind as p\np.pdist_dice.__module__ = 'numpy'",
        "import scipy.spatial.distance as d\nsetattr(d.pdist, '__qualname__', 'add')",
    ],
)
def test_renaming_a_module_or_a_function_costs_every_block_after_it(rename):
    """Round 18: the watch told code by its module's ``__name__`` and a C function's
    ``__module__``, which a cell renamed (SciPy's distance module as numpy's): (g) 2/2 with
    SciPy's Dice. The watch reads files and sys.modules' keys now; renaming costs too."""
    nb = notebook()
    insert_after(nb, "setup", rename)
    assert lost(nb) >= {"double_conv", "predict_dice"} and "sets a module's" in flagged(nb)


_DOUBLE_CONV = """{top}class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding=False, batch_norm=False, {sig}):
        super().__init__()
{pre}        layers = []
        for c_in in (in_channels, out_channels):
            layers.append(nn.Conv2d(c_in, out_channels, 3, padding=int(padding), bias=not batch_norm))
            if batch_norm:
                layers.append({norm})
            layers.append({act})
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)
{tail}"""
_NORM, _ACT = "nn.BatchNorm2d(out_channels)", "getattr(nn, activation)()"
_BY_NAME = {
    "f-string": dict(sig='norm="Batch"', norm='getattr(nn, f"{norm}Norm2d")(out_channels)',
                     act="nn.ReLU(inplace=True)"),
    "or a default": dict(sig="activation=None", pre='        activation = activation or "ReLU"\n'),
    "config dict": dict(top='CONFIG = {"activation": "ReLU"}\n',
                        tail='probe = DoubleConv(1, 2, activation=CONFIG["activation"])\n'),
    "list looped over": dict(top='ACTIVATIONS = ["ReLU", "GELU"]\n',
                             tail="probes = [DoubleConv(1, 2, activation=a) for a in ACTIVATIONS]\n"),
    "lower-cased": dict(sig='activation="relu"', act="getattr(nn, {'relu': 'ReLU'}[activation])()"),
    "format": dict(sig='norm="Batch"', norm='getattr(nn, "{}Norm2d".format(norm))(out_channels)', act="nn.ReLU()"),
    "percent": dict(sig='norm="Batch"', norm='getattr(nn, "%sNorm2d" % norm)(out_channels)', act="nn.ReLU()"),
    "join": dict(sig='norm="Batch"', norm='getattr(nn, "".join([norm, "Norm2d"]))(out_channels)', act="nn.ReLU()"),
    "dict() and get": dict(top='CONFIG = dict(activation="ReLU")\n',
                           tail='probe = DoubleConv(1, 2, activation=CONFIG.get("activation", "ELU"))\n'),
    "tuple's item": dict(top='ACTIVATIONS = ("ReLU", "GELU")\n', sig="activation=ACTIVATIONS[0]"),
    "hasattr check": dict(pre="        if not hasattr(nn, activation):\n"
                              "            raise ValueError(activation)\n"),
    "kwargs popped": dict(sig="**kwargs", pre='        activation = kwargs.pop("activation", "ReLU")\n',
                          tail='probe = DoubleConv(1, 2, activation="ELU")\n'),
    "enumerate": dict(top='ACTIVATIONS = ["ReLU", "GELU"]\n',
                      tail="for i, a in enumerate(ACTIVATIONS):\n    DoubleConv(1, 2, activation=a)\n"),
    "zip": dict(tail="for a, bn in zip(['ReLU', 'ELU'], [True, False]):\n"
                     "    DoubleConv(1, 2, batch_norm=bn, activation=a)\n"),
    "dataclass handed": dict(top="import dataclasses\n@dataclasses.dataclass\nclass Cfg:\n"
                                 '    activation: str = "ReLU"\nCFG = Cfg()\n',
                             sig="cfg=CFG", pre="        activation = cfg.activation\n"),
    "kwargs handed on": dict(tail="class Wide(DoubleConv):\n    def __init__(self, *args, **kwargs):\n"
                                  '        super().__init__(*args, activation="ELU", **kwargs)\n'),
    "config updated": dict(top='CONFIG = {"activation": "ReLU"}\nCONFIG.update(activation="GELU", lr=1e-3)\n',
                           sig='activation=CONFIG["activation"]'),
    "config merged": dict(top='DEFAULTS = {"activation": "ReLU"}\nCONFIG = {**DEFAULTS, "lr": 3e-4}\n',
                          sig='activation=CONFIG["activation"]'),
    "named partial": dict(tail='import functools\nELUConv = functools.partial(DoubleConv, activation="ELU")\n'
                               "probe = ELUConv(4, 8, padding=True)\n"),
    # honest round 4: an Enum, a nested dict, a nested dataclass
    "enum called": dict(top='from enum import Enum\nclass Act(str, Enum):\n    RELU = "ReLU"\n    ELU = "ELU"\n',
                        act="getattr(nn, Act(activation).value)()"),
    "enum member": dict(top='import enum\nclass Act(enum.Enum):\n    """Activations."""\n    RELU = "ReLU"\n',
                        act="getattr(nn, Act.RELU.value)()"),
    "str enum member": dict(top='from enum import Enum\nclass Act(str, Enum):\n    RELU = "ReLU"\n',
                            act="getattr(nn, Act.RELU)()"),
    "nested dict": dict(top='CFG = {"model": {"act": "ReLU", "width": 64}, "lr": 1e-3}\nprint(CFG)\n',
                        sig='activation=CFG["model"]["act"]', tail='opt_lr = CFG["lr"]\n'),
    "nested dataclass": dict(top="from dataclasses import dataclass, field\n@dataclass\nclass Model:\n"
                                 '    act: str = "ReLU"\n@dataclass\nclass Config:\n'
                                 "    model: Model = field(default_factory=Model)\nCFG = Config()\n",
                             act="getattr(nn, CFG.model.act)()"),
}  # fmt: skip


@pytest.mark.parametrize("parts", _BY_NAME.values(), ids=_BY_NAME)
def test_a_layer_picked_by_a_name_students_write_costs_nothing(parts):
    """How a red team's honest notebooks pick a layer by name (an f-string, ``x or "ReLU"``, a
    config dictionary, a list looped over): read, each costs nothing (they cost every block)."""
    fields = {"top": "", "sig": 'activation="ReLU"', "pre": "", "norm": _NORM, "act": _ACT}
    source = _DOUBLE_CONV.format(**{**fields, "tail": "", **parts})
    nb = notebook({"double_conv": source})
    assert lost(nb) == set() and flagged(nb) == "", lost(nb)


_LOSS_BY_NAME = "getattr(nn, {})(weight=weight)(logits, target)"


@pytest.mark.parametrize(
    "top, name",
    [  # an inner dict handed on and changed, or changed in place: its items unknown
        (
            'CFG = {"m": {"k": "ReLU"}}\ninner = CFG["m"]\ninner["k"] = "Cross" + "EntropyLoss"',
            'CFG["m"]["k"]',
        ),
        ('CFG = {"m": {"k": "ReLU"}}\nCFG["m"]["k"] = "Cross" + "EntropyLoss"', 'CFG["m"]["k"]'),
        (
            'CFG = {"m": {"k": "ReLU"}}\nfor v in CFG.values():\n    v["k"] = "Cross" + "EntropyLoss"',
            'CFG["m"]["k"]',
        ),
        ('CFG = {"m": {"k": "ReLU"}}\nCFG["m"].update(k="Cross" + "EntropyLoss")', 'CFG["m"]["k"]'),
        (
            'CFG = {"m": {"k": "ReLU"}}\nsetattr(CFG, "x", 1)\nCFG.get("m")["k"] = "Cross" + "EntropyLoss"',
            'CFG["m"]["k"]',
        ),
        # an Enum whose values are built, looked up in other ways, or changed
        (
            'from enum import Enum\nclass K(str, Enum):\n    A = "Cross" + "EntropyLoss"',
            "K.A.value",
        ),
        (
            'from enum import Enum\nclass K(Enum):\n    A = "ReLU"\n'
            '    @classmethod\n    def _missing_(cls, v):\n        return "CrossEntropyLoss"',
            "K('x').value",
        ),
        (
            'from enum import Enum\nclass K(Enum):\n    A = "ReLU"\nK.A._value_ = "Cross" + "EntropyLoss"',
            "K.A.value",
        ),
        (
            'from enum import Enum\nclass K(Enum):\n    A = "ReLU"\nK = {"A": "Cross" + "EntropyLoss"}',
            "K['A']",
        ),
        (
            'class Enum:\n    pass\nclass K(Enum):\n    A = "ReLU"\nK.value = "Cross" + "EntropyLoss"',
            "K.A.value",
        ),
        # a nested attribute given a built value
        (
            "from types import SimpleNamespace as N\nCFG = N(model=N(act='ReLU'))\n"
            "CFG.model.act = 'Cross' + 'EntropyLoss'",
            "CFG.model.act",
        ),
        (
            "from types import SimpleNamespace as N\nCFG = N(model=N(act='ReLU'))\n"
            "CFG.model = {'act': 'x'}\nCFG.model['act'] = 'Cross' + 'EntropyLoss'",
            "CFG.model['act']",
        ),
    ],
)
def test_a_name_held_in_a_nested_config_or_an_enum_the_notebook_changes_costs_the_loss(top, name):
    """Honest round 4's nested configs and Enums are read; what would change what they hold
    (an inner dict handed on, an Enum's table or value rewritten, a built member) is not."""
    answer = "def categorical_cross_entropy(logits, target, weight=None):\n    return "
    nb = notebook({"cce_loss": answer + _LOSS_BY_NAME.format(name)})
    insert_after(nb, "setup", top)
    assert lost(nb) == {"loss"}


def test_a_call_in_an_annotation_beside_a_layer_picked_by_name_is_read():
    """The reading of held names met a call in a parameter's annotation (``Annotated[str,
    Doc(...)]``) it had not read, and raised KeyError: it reads it, and the annotation costs
    as the code it is."""
    source = SOLUTIONS["double_conv"].replace(
        "batch_norm=False):", 'batch_norm=False, activation: Annotated[str, Doc("a")] = "ReLU"):'
    )
    source = source.replace("nn.ReLU(inplace=True)", "getattr(nn, activation)(inplace=True)")
    nb = notebook({"double_conv": "from typing import Annotated\n" + source})
    assert "double_conv" in lost(nb)
    assert "an annotation that is more than a type" in flagged(nb)


_SEARCHED = 'next(n for n in dir(nn) if n.startswith("Cro"))'


@pytest.mark.parametrize(
    "loss, extra",
    [
        (f"return getattr(nn, {_SEARCHED})(weight=weight)(logits, target)", ""),
        (
            "return getattr(nn, 'Cross' + KIND)(weight=weight)(logits, target)",
            "KIND = 'EntropyLoss'",
        ),
        ("return getattr(nn, KIND)(weight=weight)(logits, target)", "KIND = 'CrossEntropyLoss'"),
        ("return getattr(nn, LAST)(weight=weight)(logits, target)", "for LAST in dir(nn): pass"),
    ],
)
def test_a_class_looked_up_by_a_name_the_notebook_builds_costs_the_block(loss, extra):
    """A red team reached torch's loss as ``getattr(nn, next(n for n in dir(nn) if
    n.startswith("Cro")))`` in hooks IPython runs around the grader's requests (stop 49 let any
    name look up a class of ``torch.nn``): the name must be spelt wherever the notebook gives it
    one, and not be what the block forbids."""
    answer = f"def categorical_cross_entropy(logits, target, weight=None, kind='ReLU'):\n    {loss}"
    nb = notebook({"cce_loss": answer})
    insert_after(nb, "setup", extra)
    assert lost(nb) == {"loss"}


def test_threads_and_the_main_guard_of_an_honest_notebook_cost_nothing():
    """What honest notebooks write: a thread, a pool, ``if __name__ == "__main__":``."""
    honest = (
        "import threading\nfrom concurrent.futures import ThreadPoolExecutor\n"
        "t = threading.Thread(target=print, args=('x',), daemon=True)\nt.start()\nt.join()\n"
        "with ThreadPoolExecutor(2) as pool:\n    list(pool.map(print, [1, 2]))\n"
        "if __name__ == '__main__':\n    print(threading.current_thread().name)"
    )
    _costs_nothing(honest)


@pytest.mark.parametrize(
    "reached",
    [
        # a seventh helper session's: functools.singledispatch's register evaluates a string
        # annotation in the notebook's namespace (typing.get_type_hints, inside the library)
        "import functools\n\n\n@functools.singledispatch\ndef _d(x):\n    pass\n\n\n"
        "def _hint(x: \"(_ce := F.__dict__['cross' '_entropy']) and int\"):\n    pass\n\n\n"
        "_d.register(_hint)\n",
        "import typing\n\n\ndef _hint(x):\n    pass\n\n\n"
        "_hint.__annotations__['x'] = '(_ce := F.__dict__[\"cross_entropy\"]) and int'\n"
        "typing.get_type_hints(_hint)\n",
        # traitlets' re-export of import_item, IPython's ev on a shell no name says
        "from traitlets import import_item\n_ce = import_item('torch.nn.functional.cross' + '_entropy')\n",
        "_ce = [get_ipython()][0].ev('F.cross' + '_entropy')\n",
    ],
)
def test_torch_cross_entropy_reached_by_an_annotation_or_a_re_export_costs_the_loss(reached):
    """Each kept (e)'s 4 points with nothing flagged (a seventh helper session)."""
    nb = notebook({"cce_loss": reached + "\n\n" + LOSS.format("return _ce(logits, target.long())")})
    assert "loss" in lost(nb), reached


SERVER = """import queue
import threading

_req, _resp = queue.Queue(), queue.Queue()


class _Base(threading.Thread):
    pass


class _Server(_Base):
    def run(self):
        {body}


_Server(daemon=True).start()


def categorical_cross_entropy(logits, target, weight=None):
    _req.put((logits, target, weight))
    return _resp.get()
"""


@pytest.mark.parametrize(
    "body",
    [
        "while True:\n            l, t, w = _req.get()\n"
        "            _resp.put(F.cross_entropy(l, t.long(), weight=w))",
        "import unet_tp.runs\n        import unet_tp as course\n"
        "        fns = {'e': F.cross_entropy, 'g': lambda *a: course.metrics.dice(*a)}\n"
        "        while True:\n            l, t, w = _req.get()\n"
        "            _resp.put(fns['e'](l, t.long(), weight=w))",
    ],
)
def test_a_thread_class_serving_the_answer_costs_the_loss(body):
    """An eighth helper session's: a ``threading.Thread`` subclass started in the answer cell
    computes torch's loss (or the course's code) for the answer, fed through queues: its ``run``
    is a function handed to a thread (e) kept its 4 points, unflagged."""
    nb = notebook({"cce_loss": SERVER.replace("{body}", body)})
    assert "loss" in lost(nb)


def test_honest_annotations_cost_nothing():
    """Types in annotations, strings of types, ``from __future__ import annotations``."""
    honest = (
        "from __future__ import annotations\n\nfrom typing import Callable, Literal, Optional\n\n\n"
        "def f(x: torch.Tensor, y: 'Optional[list[int]]', *a: int | None, mode: Literal['a', 1] = 'a',"
        " fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[int, ...]:\n"
        "    n: int = 0\n    return (n,)\n"
    )
    _costs_nothing(honest)


def test_a_quote_is_the_cells_own_line_when_the_cell_starts_with_blank_lines():
    """IPython drops a cell's leading blank lines before the reading: the quoted line was the
    one that many lines above (an empty quote, or another line of the cell)."""
    nb = notebook()
    insert_after(nb, "cce_loss", "\n\n   \nimport _thread")
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    message = static.forbidden_calls(nb, load(), labels)["test_train_step"]
    assert "line 4: `import _thread`" in message, message


def test_a_match_statement_on_shapes_costs_nothing():
    """An honest ``match`` in the loss (on the target's dimensions) reads no forbidden attribute."""
    loss = (
        SOLUTIONS["cce_loss"]
        + "\n\nmatch torch.zeros(2, 3):\n    case torch.Tensor(ndim=2):\n        pass\n"
    )
    assert lost(notebook({"cce_loss": loss})) == set()


@pytest.mark.parametrize(
    "evaluated",
    [
        "import typing\n\n\ndef g():\n    pass\n\n\n"
        "g.__annotations__ = {'return': 'F.cross' + '_entropy'}\n"
        "ce = typing.get_type_hints(g)['return']",
        "import inspect\n\n\ndef g():\n    pass\n\n\n"
        "g.__annotations__['return'] = 'F.cross' + '_entropy'\n"
        "ce = inspect.get_annotations(g, eval_str=True)['return']",
        "import inspect\n\n\ndef g():\n    pass\n\n\n"
        "g.__annotations__['return'] = 'F.cross' + '_entropy'\n"
        "ce = inspect.signature(g, eval_str=True).return_annotation",
    ],
)
def test_torch_cross_entropy_evaluated_from_an_annotation_costs_the_loss(evaluated):
    """The loss calls what an annotation built from strings evaluates to (``typing.get_type_hints``,
    and ``inspect.get_annotations`` or ``inspect.signature`` with ``eval_str=True``, eval it in
    the notebook's namespace): it kept (e)'s 4 points with nothing flagged."""
    nb = notebook({"cce_loss": evaluated + "\n" + LOSS.format("return ce(logits, target.long())")})
    assert "loss" in lost(nb)
    assert "runs code from strings (annotations)" in flagged(nb)


def test_annotations_printed_cost_nothing_and_a_print_of_the_notebooks_does():
    """An honest student prints a function's annotations (a helper's round 5: every block tested
    after it was lost); a ``print`` the notebook defines may write into them."""
    shown = "def g(x: int) -> int:\n    return x\n\n\nprint(g.__annotations__)\n\n\n"
    assert lost(notebook({"cce_loss": shown + SOLUTIONS["cce_loss"]})) == set()
    mine = "def print(a):\n    a['x'] = 'F.cross' + '_entropy'\n\n\n"
    nb = notebook({"cce_loss": mine + shown + SOLUTIONS["cce_loss"]})
    assert "loss" in lost(nb)


@pytest.mark.parametrize("shown", ["print(config.__dict__)", "print(config.__dict__.keys())"])
def test_a_namespace_printed_costs_nothing_and_one_written_does(shown):
    """A helper's honest round 6: ``print(config.__dict__)`` lost every block tested after it,
    and nothing said so; written into, it still costs them (and is flagged), but on a settings
    object (a plain object of the student's class, or the kit's ``config``)."""
    cell = "class Config:\n    lr = 1e-3\n\n\nconfig = Config()\n"
    nb = notebook()
    insert_after(nb, "cce_loss", cell + shown)
    assert lost(nb) == set()
    nb = notebook()
    insert_after(nb, "cce_loss", cell + "config.__dict__['lr'] = 1\n" + shown)
    assert lost(nb) == set()
    nb = notebook()
    held = cell.replace("config = Config()", "config = [Config()][0]")  # (any object)
    insert_after(nb, "cce_loss", held + "config.__dict__['lr'] = 1\n" + shown)
    assert {"train_step", "predict_dice"} <= lost(nb) and "__dict__" in flagged(nb)


@pytest.mark.parametrize(
    "handed",
    [
        "_ns = dict(sorted(F.__dict__.items()))",
        "print(len(F.__dict__)); _ns = F.__dict__",
        "_ns = print(F.__dict__) or dict(F.__dict__.items())",
        "_ns = {}\nIPython.display.display(F.__dict__)",
        "_ns = {}\ndisplay(F.__dict__)",
    ],
)
def test_a_namespace_handed_over_still_costs_the_loss(handed):
    """Red team 25: ``sorted(F.__dict__.items())`` read as "shown" handed torch's namespace over;
    red team 26: ``display(F.__dict__)`` hands it to a printer registered for dicts."""
    loss = handed + "\n\n\n" + LOSS.format("return _ns['cross_' + 'entropy'](logits, target)")
    assert "loss" in lost(notebook({"cce_loss": loss}))


_HPARAMS = "class Hparams:\n    def __init__(self, **kw):\n        {}\n\n\n"


@pytest.mark.parametrize(
    "hands",
    [
        "Hparams.__init__(F, relu=torch.relu)",
        "Hparams().__init__.__func__(F, relu=torch.relu)",
        "getattr(Hparams, '__init__')(F, relu=torch.relu)",
    ],
)
def test_a_method_setting_its_own_self_by_name_costs_nothing_until_handed_another(hands):
    """``setattr(self, k, v)`` in a config class costs nothing; its ``__init__`` handed another
    object (a module) costs the blocks after it: it was read as describing the class (round 6),
    and ``.__func__``/``getattr`` of a method were not seen (red team 25)."""
    fills = "for k, v in kw.items():\n            setattr(self, k, v)"
    nb = notebook()
    cell = _HPARAMS.format(fills) + "hp = Hparams(lr=1e-3, epochs=8)\nprint(hp.lr)\n"
    insert_after(nb, "cce_loss", cell)
    assert lost(nb) == set()
    nb = notebook()
    insert_after(nb, "cce_loss", _HPARAMS.format(fills) + hands + "\n")
    assert {"train_step", "predict_dice"} <= lost(nb)


def test_blocks_lost_to_what_the_notebook_does_are_for_the_instructor_to_read():
    """A block lost to the whole notebook (not to a forbidden call of its answer) is a line the
    instructor reads: an honest notebook can lose blocks that way (honest round 6)."""
    nb = notebook()
    insert_after(nb, "cce_loss", "class Config:\n    lr = 1e-3\n\n\nConfig.__dict__['lr']\n")
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    found = static.forbidden_calls(nb, load(), labels)
    assert found.does and all("__dict__" in line for line in found.does)
    assert set(found.does) <= set(found.values())
    nb = notebook({"cce_loss": LOSS.format("return F.cross_entropy(logits, target, weight)")})
    found = static.forbidden_calls(nb, load(), labels)
    assert "loss" in {gid.split("_", 1)[1] for gid in found} and found.does == []


_CALL_BOX = LOSS.format("return box[0](logits, target, weight=weight)")


@pytest.mark.parametrize(
    "answer",
    [
        "box = []\nbox.append(F.cross_entropy)\n" + _CALL_BOX,
        "box = [None]\nbox[0] = F.cross_entropy\n" + _CALL_BOX,
        "box = []\n\n\ndef fill(b):\n    b.insert(0, F.cross_entropy)\n\n\nfill(box)\n" + _CALL_BOX,
        "class Box:\n    fns = []\n\n\nBox.fns.append(F.cross_entropy)\n"
        + LOSS.format("return Box.fns[0](logits, target, weight=weight)"),
        "def _h(logits, target, weight=None, f=None):\n    return f(logits, target, weight=weight)\n"
        "\n\n_h.__defaults__ = (None, F.cross_entropy)\n"
        + LOSS.format("return _h(logits, target, weight)"),
        # through a getter, an alias, a library call, a closure's setter
        "box = []\n\n\ndef get():\n    return box\n\n\nget().append(F.cross_entropy)\n" + _CALL_BOX,
        "box = []\nb = box\nb.append(F.cross_entropy)\n" + _CALL_BOX,
        "import operator\n\nbox = [None]\noperator.setitem(box, 0, F.cross_entropy)\n" + _CALL_BOX,
        "box = []\nlist(map(box.append, [F.cross_entropy]))\n" + _CALL_BOX,
        "def make():\n    f = None\n\n    def setf(v):\n        nonlocal f\n        f = v\n\n"
        "    def call(*a, **k):\n        return f(*a, **k)\n\n    return setf, call\n\n\n"
        "setf, call = make()\nsetf(F.cross_entropy)\n"
        + LOSS.format("return call(logits, target, weight=weight)"),
    ],
)
def test_torch_cross_entropy_put_into_an_object_of_the_students_costs_the_loss(answer):
    """The loss calls what a statement binding no name put into a list, class or function of the
    student's (``box.append(F.cross_entropy)``, ``box[0] = ...``, ``f.__defaults__ = ...``):
    only the statements binding the names the answer used were read, it kept (e)'s 4 points
    (graded: 20/30 for the notebook with (e) otherwise empty, as with the solution)."""
    assert "loss" in lost(notebook({"cce_loss": answer}))


def test_course_answers_put_into_a_list_cost_their_blocks():
    nb = notebook(
        {
            "train_step": "from unet_tp import train as T\nbox = []\nbox.append(T.reference_step)\n"
            + STEP.format("return box[0](model, images, labels, optimizer, loss_fn)"),
            "predict_dice": SOLUTIONS["predict_dice"].split("def dice_score")[0]
            + "box2 = [None]\nbox2[0] = checks.exact_dice\n\n\ndef dice_score(a, b):\n"
            "    return box2[0](a, b)\n",
        }
    )
    assert {"train_step", "predict_dice"} <= lost(nb)


def test_a_global_printed_beside_torchs_loss_costs_nothing():
    """A constant of the loss's, given to print and to the student's own comparison after torch's
    cross-entropy in a cell before the test: neither changes what the loss computes."""
    answer = "EPS = 0.0\n" + LOSS.format(
        "return -(F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1)"
        " * (logits.log_softmax(1) + EPS)).sum(1).mean()"
    )
    nb = notebook({"cce_loss": answer})
    insert_after(
        nb,
        "cce_loss",
        _DEBUG_CE + "print(EPS, F.cross_entropy(x, y))\nhistory = []\n"
        "history.append(F.cross_entropy(x, y).item())\n",
    )
    assert "loss" not in lost(nb)


@pytest.mark.parametrize(
    "reach",
    [
        "import __main__\ndice_score = __main__.checks.exact_dice\n",
        "import __main__ as notebook\ndice_score = notebook.notebook.checks.exact_dice\n",
        "from __main__ import checks as c\ndice_score = c.exact_dice\n",
    ],
)
def test_the_course_package_reached_through_main_costs_the_block(reach):
    """``__main__.checks`` is the set-up cell's ``unet_tp.checks``: a Dice taken from it as
    ``__main__.checks.exact_dice`` kept (g)'s 2 points, and a crop ``__main__.checks._centre``
    (c)'s, with nothing flagged."""
    answer = SOLUTIONS["predict_dice"].split("def dice_score")[0] + reach
    assert "predict_dice" in lost(notebook({"predict_dice": answer}))


@pytest.mark.parametrize(
    "reach",
    [
        "dice_score = get_ipython().user_module.checks.exact_dice\n",
        "dice_score = get_ipython().ns_table['user_global']['checks'].exact_dice\n",
        "import os\ndice_score = os.sys.modules['unet_tp.checks'].exact_dice\n",
        "dice_score = torch.sys.modules['unet_tp.checks'].exact_dice\n",
        # a namespace reached through a frame or a function, the key built at run time
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n"
        "    dice_score = e.__traceback__.tb_frame.f_globals['chec' + 'ks'].exact_dice\n",
        "dice_score = predict.__globals__['chec' + 'ks'].exact_dice\n",
    ],
)
def test_the_course_package_reached_through_ipython_or_a_reexported_sys_costs_the_block(reach):
    """The set-up cell's ``checks`` through IPython's ``user_module`` or ``ns_table``, or
    ``unet_tp.checks`` named in ``os.sys.modules``: each kept (g)'s 2 points, not flagged; through
    a frame's ``f_globals`` or a function's ``__globals__`` with a key built at run time, its
    points (flagged only)."""
    answer = SOLUTIONS["predict_dice"].split("def dice_score")[0] + reach
    nb = notebook({"predict_dice": answer})
    assert "predict_dice" in lost(nb)
    assert flagged(nb)


@pytest.mark.parametrize(
    "reach",
    [
        "import sys\nm = [v for k, v in list(sys.modules.items()) if k[::-1] == 'skcehc.pt_tenu'][0]\n"
        "dice_score = m.exact_dice\n",
        "import sys\nm = sys.modules['unet_' + 'tp.checks']\ndice_score = m.exact_dice\n",
        "import sys\nmods = sys.modules\ndice_score = mods['skcehc.pt_tenu'[::-1]].exact_dice\n",
        "import sys\ndice_score = getattr(sys, 'modules').get('unet_tp.' + 'checks').exact_dice\n",
        "from sys import modules\ndice_score = dict(modules)['unet_tp.' + 'checks'].exact_dice\n",
    ],
)
def test_a_module_picked_from_sys_modules_by_a_name_the_text_does_not_spell_costs_the_block(reach):
    """``unet_tp.checks`` found in ``sys.modules`` by a name built at run time (reversed, joined,
    through an alias or ``.values()``): each kept (g)'s 2 points, flagged only (fourth reading);
    the notebook's check already refused it."""
    answer = SOLUTIONS["predict_dice"].split("def dice_score")[0] + reach
    assert "predict_dice" in lost(notebook({"predict_dice": answer}))


@pytest.mark.parametrize(
    "honest",
    [
        "import sys\nfor name in list(sys.modules):\n    if name.startswith('unet_tp'):\n"
        "        del sys.modules[name]",
        "import sys\nprint(len(sys.modules), sorted(sys.modules)[:5], sys.modules.keys())",
        "import sys\nprint(sys.modules['torch'].__version__, sys.modules.get('numpy'))",
        "from sys import modules\nprint([m for m in modules if 'torch' in m][:3])",
    ],
)
def test_asking_listing_or_deleting_names_in_sys_modules_costs_nothing(honest):
    """A module re-imported after an update (``del sys.modules[name]``), the modules counted or
    listed, one read by the name it is spelt with: no module by a hidden name, no block lost."""
    answers = {cell: f"{honest}\n{SOLUTIONS[cell]}" for cell in ("double_conv", "cce_loss")}
    assert lost(notebook(answers)) == set()
