"""The cells' text, read in the grader's process (autograder/static.py), continued: the channels
later red teams found (each a cell of the student's, then an answer that names nothing forbidden,
each of which took a block's points in a real grading run) and the honest idioms later honest
rounds found costing a block, each read right."""

from __future__ import annotations

import nbformat
import pytest
from static_reading import DEBUG_CE as _DEBUG_CE
from static_reading import LOSS, flagged, lost, notebook

from autograder import static
from autograder.spec import load
from notebooks import SOLUTIONS, STUBS, insert_after

# ---- channels a second reading of static.py found: each a cell of the student's, then an answer
# that names nothing forbidden (each took the block's points in a real grading run)
XENT = "F.cross_entropy(logits, target, weight=weight)"
CHANNELS = {
    "logging_filter": (  # a library's object keeps it, the answer takes it back
        'import logging\nlogging.getLogger("tp").addFilter(F.cross_entropy)',
        LOSS.format('return logging.getLogger("tp").filters[0](logits, target, weight=weight)'),
        {"loss"},
    ),
    "library_dict": (
        "import warnings\nbox = warnings.onceregistry\nbox[0] = F.cross_entropy",
        LOSS.format("return box[0](logits, target, weight=weight)"),
        {"loss"},
    ),
    "torch_load_safe_globals": (
        'torch.save(F.cross_entropy, "f.pt")\ntorch.serialization.add_safe_globals([F.cross_entropy])',
        LOSS.format('return torch.load("f.pt", weights_only=True)(logits, target, weight=weight)'),
        {"loss", "train_step", "predict_dice"},
    ),
    "shell_by_another_name": (
        "ip = get_ipython()\nip.run_cell('def categorical_cross_entropy(l, t, weight=None):\\n"
        "    return F.cross' + '_entropy(l, t, weight=weight)')",
        "",
        {"loss", "train_step", "predict_dice"},
    ),
    "run_cell_async": (
        "s = 'categorical_cross_entropy = F.cross' + '_entropy'\n"
        "await get_ipython().run_cell_async(s, transformed_cell=s)",
        "",
        {"loss", "train_step", "predict_dice"},
    ),
    "hidden_namespace": (
        "F.cross_entropy",
        LOSS.format("f = get_ipython().user_ns_hidden['_oh'][3]\n    return f(logits, target)"),
        {"loss"},
    ),
    "last_result": (
        "F.cross_entropy",
        LOSS.format("return get_ipython().last_execution_result.result(logits, target)"),
        {"loss"},
    ),
    "last_error": (
        "raise LookupError(F.cross_entropy)",
        LOSS.format("import sys\n    return sys.last_value.args[0](logits, target)"),
        {"loss"},
    ),
    "module_hook": (
        "import torch.nn.modules.module as mm\nmm.register_module_forward_hook(print)",
        LOSS.format("return (logits * 0).sum()"),
        {"loss", "train_step", "predict_dice"},
    ),
    "init_subclass": (
        "Base = nn.Module\nBase.__init_subclass__ = classmethod(print)",
        LOSS.format("return (logits * 0).sum()"),
        {"loss", "train_step", "predict_dice"},
    ),
    "compile_backend": (
        "from torch._dynamo import register_backend",
        LOSS.format("return (logits * 0).sum()"),
        {"loss", "train_step", "predict_dice"},
    ),
    "mode_from_elsewhere": (
        "from torch.fx.experimental.proxy_tensor import TorchFunctionMode as Base\n"
        "R = type('R', (Base,), {'__torch_' + 'function__': print})\nR().__enter__()",
        LOSS.format("return F.multi_margin_loss(logits, target, weight=weight)"),
        {"loss", "train_step", "predict_dice"},
    ),
    # a function of the student's that uses the loss, handed over (a helper session's attacks)
    "own_function_in_a_loggers_filters": (
        'import logging\n_box = logging.getLogger("tp")\n\n\n'
        f"def _ce(logits, target, weight=None):\n    return {XENT}\n\n\n_box.addFilter(_ce)",
        LOSS.format('return logging.getLogger("tp").filters[0](logits, target, weight=weight)'),
        {"loss"},
    ),
    "own_function_in_a_threads_arguments": (
        f"import threading, time\n\n\ndef _ce(logits, target, weight=None):\n    return {XENT}\n\n\n"
        "threading.Thread(target=time.sleep, args=(_ce,), name='tqdm-monitor').start()",
        LOSS.format(
            "t = next(t for t in threading.enumerate() if t.name == 'tqdm-monitor')\n"
            "    return t._args[0](logits, target, weight=weight)"
        ),
        {"loss"},
    ),
    "own_instance_in_a_loggers_filters": (
        f"import logging\n\n\nclass _H:\n    def __call__(self, logits, target, weight=None):\n"
        f"        return {XENT}\n\n\nlogging.getLogger('tp').addFilter(_H())",
        LOSS.format('return logging.getLogger("tp").filters[0](logits, target, weight=weight)'),
        {"loss"},
    ),
    "own_lambda_in_a_loggers_filters": (
        f"import logging\n_ce = lambda logits, target, weight=None: {XENT}\n"
        "logging.getLogger('tp').addFilter(_ce)",
        LOSS.format('return logging.getLogger("tp").filters[0](logits, target, weight=weight)'),
        {"loss"},
    ),
    "class_dict_by_gc": (
        "import gc\nd = next(r for r in gc.get_referents(torch.Tensor) if type(r) is dict)\n"
        "d['xe' + 'nt'] = lambda self, t, weight=None: F.cross_entropy(self, t, weight=weight)",
        LOSS.format("return logits.xent(target, weight=weight)"),
        {"loss", "train_step", "predict_dice"},
    ),
}


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_what_a_cell_hands_over_or_rewires_costs_the_blocks_after_it(name):
    cell, answer, blocks = CHANNELS[name]
    nb = notebook({"cce_loss": answer or SOLUTIONS["cce_loss"]})
    nb = insert_after(nb, "unet", cell)
    assert blocks <= lost(nb) and "double_conv" not in lost(nb), lost(nb)


@pytest.mark.parametrize(
    "cell",
    [
        "from functools import partial\nref = partial(F.cross_entropy, weight=None)",
        "for f in (categorical_cross_entropy, F.cross_entropy):\n    print(f)",
        "losses = {'torch': F.cross_entropy}\nlosses['mine'] = categorical_cross_entropy",
        "from gettext import gettext as _\nprint(_('loss'))",
        "with torch.device('cpu'):\n    x = torch.zeros(1)\ntorch.set_default_device('cpu')",
        "for _ in range(2):\n    print(_)\n_, DEVICE = None, 'cpu'",
        # a Colab habit: the tensors in memory, counted, their gradients dropped
        "import gc\nfrom collections import Counter\ncounts = Counter()\n"
        "for obj in gc.get_objects():\n    if torch.is_tensor(obj):\n"
        "        counts[str(obj.device)] += 1\n        obj.grad = None",
        "import torch._dynamo\ntorch._dynamo.config.suppress_errors = True",
        "class Registry:\n    known = []\n\n    def __init_subclass__(cls, **kw):\n"
        "        super().__init_subclass__(**kw)\n        Registry.known.append(cls)",
        "import itertools\nfrom collections import OrderedDict\n"
        "fs = OrderedDict(mine=categorical_cross_entropy, torch=F.cross_entropy)\n"
        "pairs = list(itertools.product(['mean'], fs.values()))\n"
        "grad = torch.func.grad(F.cross_entropy)\n"
        "print(RuntimeError('not an alias of', F.cross_entropy.__name__))",
        # the student's own tests of the answer beside torch's loss, before the test cell
        "def test_matches_torch():\n    x, y = torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8))\n"
        "    assert torch.allclose(categorical_cross_entropy(x, y), F.cross_entropy(x, y))\n\n\n"
        "test_matches_torch()\n\n\ndef compare(f1, f2):\n    x = torch.randn(2, 4, 3, 3)\n"
        "    print(f1(x, x.argmax(1)), f2(x, x.argmax(1)))\n\n\n"
        "compare(categorical_cross_entropy, F.cross_entropy)",
        # a wrapper of torch's loss called inside a library's call, its values plotted; the
        # student's own loss handed to a thread pool and to a logger
        "def torch_ce(x, y):\n    return F.cross_entropy(x, y)\n\n\n"
        "x, y = torch.randn(2, 4, 3, 3), torch.randint(0, 4, (2, 3, 3))\n"
        "print(torch.allclose(categorical_cross_entropy(x, y), torch_ce(x, y)))\n"
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.plot([torch_ce(x, y).item() for _ in range(3)])\nplt.plot([torch_ce(x, y).item()])",
        "from concurrent.futures import ThreadPoolExecutor\nimport logging\n"
        "pool = ThreadPoolExecutor(2)\nx = torch.randn(2, 4, 3, 3)\n"
        "print(pool.submit(categorical_cross_entropy, x, x.argmax(1)).result())\n"
        "log = logging.getLogger('tp')\nlog.addFilter(lambda record: True)\n"
        "log.info('loss %s', F.cross_entropy(x, x.argmax(1)).item())",
    ],
    ids=[
        *("partial", "loop", "own_dict", "gettext", "device", "own_underscore"),
        *("gc_memory", "dynamo_config", "own_init_subclass", "wrappers", "own_tests"),
        *("wrapper_called_in_library_calls", "own_loss_to_a_pool_and_a_logger"),
    ],
)
def test_what_honest_cells_do_with_torchs_loss_and_underscore_costs_nothing(cell):
    """Comparisons with torch's loss, `_` of the student's own (gettext's, a loop's), torch's
    device mode: none of it costs a block."""
    answer = LOSS.format(
        "def ratio(x):\n        return x / _\n    _ = logits.shape[0]\n"
        "    return ratio(-(F.log_softmax(logits, 1) * F.one_hot(target.long(), logits.shape[1])"
        ".movedim(-1, 1)).sum(1).sum())"
    )
    nb = insert_after(notebook({"cce_loss": answer}), "unet", cell)
    assert lost(nb) == set()


_OWN_NLL = """\
def log_softmax(logits, dim=1):
    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)


def nll_loss(log_p, target, weight=None):
    t = F.one_hot(target.long(), log_p.shape[1]).movedim(-1, 1).to(log_p.dtype)
    per_pixel = -(t * log_p).sum(1)
    if weight is None:
        return per_pixel.mean()
    w = weight.to(log_p.dtype)[target.long()]
    return (per_pixel * w).sum() / w.sum()


def categorical_cross_entropy(logits, target, weight=None):
    return nll_loss(log_softmax(logits), target, weight)
"""
_OVERLAP = """\
from dataclasses import dataclass


@dataclass
class Overlap:
    inter: int
    total: int

    @property
    def dice(self):
        return 1.0 if self.total == 0 else 2 * self.inter / self.total
"""
_OWN_DICE = (
    "def dice_score(pred, truth):\n    pred, truth = pred.astype(bool), truth.astype(bool)\n"
)
_OWN_DICE += "    o = Overlap(int((pred & truth).sum()), int(pred.sum() + truth.sum()))\n"
_SETTINGS = "for k, v in dict(lr=1e-3, epochs=5).items():\n    setattr(args, k, v)"


def _prepended(cell: str, line: str) -> str:
    """The reference answer of ``cell`` with ``line`` first in its function's body."""
    head, _, body = SOLUTIONS[cell].partition("):\n")
    return f"{head}):\n    {line}\n{body}"


@pytest.mark.parametrize(
    "answers, cell, after",
    [
        # the student's own helpers named as torch's (their bodies are read)
        ({"cce_loss": _OWN_NLL}, None, ""),
        # one import line binding a helper the answer uses and torch's loss, to compare
        (
            {
                "cce_loss": "from torch.nn.functional import one_hot, cross_entropy\n"
                + SOLUTIONS["cce_loss"]
            },
            None,
            "",
        ),
        # Colab's "only if not made yet"; a settings object filled in a loop
        ({}, "train_step", "if 'model' not in globals():\n    model = UNet(in_channels=4)"),
        # the names defined so far, listed (honest round 4)
        ({}, "unet", "print(sorted(k for k in globals() if not k.startswith('_'))[:10])"),
        ({}, "unet", "for name in list(globals().keys()):\n    print(name)"),
        ({}, "setup", "class Args:\n    pass\n\n\nargs = Args()\n" + _SETTINGS),
        ({}, "setup", "from types import SimpleNamespace\nargs = SimpleNamespace()\n" + _SETTINGS),
        # a dataclass of the student's with a `dice` property
        ({"predict_dice": _OVERLAP + _OWN_DICE + "    return float(o.dice)\n"}, None, ""),
        # a sentence naming torch's loss; a debugging print of the function's own variables
        (
            {
                "cce_loss": _prepended(
                    "cce_loss", "assert logits.dim() == 4, 'as for F.cross_entropy'"
                )
            },
            None,
            "",
        ),
        ({"train_step": _prepended("train_step", "print(locals().keys())")}, None, ""),
        # reading torch's source or signature; timing with timeit's clock
        (
            {},
            "cce_loss",
            "import inspect\nprint(inspect.getsource(F.cross_entropy)[:200])\n"
            "print(inspect.signature(F.cross_entropy))",
        ),
        (
            {
                "train_step": "from timeit import default_timer as timer\n"
                + _prepended("train_step", "t0 = timer()")
            },
            None,
            "",
        ),
    ],
)
def test_honest_habits_of_the_third_hunt_cost_nothing(answers, cell, after):
    """Each of these correct notebooks lost blocks (honest7): a helper of the student's named
    ``nll_loss``, a `globals()` membership test, `setattr` on a settings object, a property
    ``dice``, an assertion's message, ``locals()`` in a function, ``inspect.getsource``,
    ``timeit.default_timer``."""
    nb = notebook(answers)
    if cell:
        insert_after(nb, cell, after)
    assert lost(nb) == set()


@pytest.mark.parametrize(
    "answers, cell, after, block",
    [
        # the same shapes, where it is torch's
        (
            {
                "cce_loss": "def nll_loss(a, b, weight=None):\n    return F.nll_loss(a, b, weight=weight)\n"
                + LOSS.format("return nll_loss(logits.log_softmax(1), target, weight)")
            },
            None,
            "",
            "loss",
        ),
        (
            {
                "cce_loss": "from torch.nn.functional import one_hot, cross_entropy\n"
                + LOSS.format("return cross_entropy(logits, target, weight=weight)")
            },
            None,
            "",
            "loss",
        ),
        (
            {
                "cce_loss": "if 'x' not in globals():\n"
                "    globals()['categorical_cross_entropy'] = F.cross_entropy"
            },
            None,
            "",
            "loss",
        ),
        (
            {
                "cce_loss": "class A:\n    pass\n\n\nm = A()\nimport sys\n\nm = sys.modules['__main__']\n"
                "k = 'categorical_cross_entropy'\nsetattr(m, k, F.cross_entropy)"
            },
            None,
            "",
            "loss",
        ),
        ({"cce_loss": "locals()['categorical_cross_entropy'] = F.cross_entropy"}, None, "", "loss"),
        (
            {
                "cce_loss": "import timeit\ntimeit.timeit('categorical_cross_entropy = F.cross_entropy',"
                " globals=globals(), number=1)"
            },
            None,
            "",
            "loss",
        ),
        # a `dice` of the student's class beside SciPy's, read on a variable holding its module
        (
            {
                "predict_dice": _OVERLAP + _OWN_DICE + "    import scipy.spatial.distance\n"
                "    d = scipy.spatial.distance\n    return 1 - d.dice(pred.ravel(), truth.ravel())\n"
            },
            None,
            "",
            "predict_dice",
        ),
        # red team 28: sys.modules reached through a function's globals, or a container, and a
        # module of the notebook's put under the harness's key: every block after it
        (
            {},
            "setup",
            "import inspect, traceback\n"
            "_mods = inspect.getclosurevars(traceback.print_exc).globals['sys'].modules",
            "loss",
        ),
        # red team 31: getattr handed along in a cell no answer reads, the harness found by it
        (
            {},
            "setup",
            "import functools, sys\n"
            "found = [functools.reduce(getattr, [n], sys) for n in dir(sys) if n[:5] == '_unet']",
            "predict_dice",
        ),
        # red team 30: torch's loss by a re-export of operator.attrgetter
        (
            {
                "cce_loss": LOSS.format(
                    "from torch.autograd.profiler_util import attrgetter as a\n"
                    "    return a('cross_' + 'entropy')(F)(logits, target)"
                )
            },
            None,
            "",
            "loss",
        ),
        # red team 29: torch's loss out of the module's dict, by another name for it
        (
            {
                "cce_loss": LOSS.format(
                    "return F.__getstate__()['cross_' + 'entropy'](logits, target)"
                )
            },
            None,
            "",
            "loss",
        ),
    ],
)
def test_what_the_third_hunt_lets_through_is_still_torchs(answers, cell, after, block):
    nb = notebook(answers)
    if cell:
        insert_after(nb, cell, after)
    assert block in lost(nb)


@pytest.mark.parametrize(
    "cell",
    [
        "# deux solutions possibles\nx = 1",  # a comment names no folder
        "%%bash\nls -la",
        "%%shell\nnvidia-smi",  # Colab's
        "import os\nfor root, dirs, files in os.walk('/content/drive/MyDrive/BraTS'):\n    pass",
        "import glob\nprint(glob.glob('/kaggle/input/*'))",
        "from pathlib import Path\nprint(list(Path('runs').rglob('*.pt')))",
        "import sys\nIN_COLAB = 'google.colab' in sys.modules",
        "import sys\nprint(sys.path)",
        "import sys\nprint(sys.path[:3], sys.path[0])",  # honest round 16
        "class C:\n    pass\n\nprint(hasattr(C(), '__dict__'))",
        "import numpy as np\nnp.int = int\nnp.float = np.float64  # for an old library",
        "for k, v in globals().items():\n    if k.isupper():\n        print(k, v)",
        "import torch._dynamo\ntorch._dynamo.config.suppress_errors = True",
        # honest round 6: a list, a dict, kagglehub's cache named like what is flagged
        "solutions = []\nsolutions.append(1)\nprint(len(solutions))",
        "requests = {'a': 1}\nprint(requests.get('a'))",
        "import glob\nprint(glob.glob('/root/.cache/kagglehub/datasets/*'))",
        # a network's modules (a method), torch's submodules of that name
        "import torch.nn as nn\nm = nn.Sequential(nn.ReLU())\nprint(len(list(m.modules())))",
        "import torch.nn as nn\nprint(nn.modules.batchnorm._BatchNorm)",
        # honest round 8: attributes named modules, a class's own state, a class's data read
        "class Recorder:\n    def __init__(self):\n        self.modules = []\n\n\n"
        "r = Recorder()\nprint(len(r.modules), r.modules)",
        "import argparse\nargs = argparse.Namespace(modules='inc,outc')\nnames = args.modules",
        "class Cases:\n    def __getstate__(self):\n        state = super().__getstate__()\n"
        "        return state",
        "import torch.nn as nn\n\n\nclass Parts(nn.Module):\n    names = ('a', 'b')\n\n"
        "    def counts(self):\n        return {n: getattr(self, n) for n in self.names}\n\n\n"
        "print(Parts.names)",
        # a settings file read safely (YAML's safe loaders build no object)
        "import yaml\ncfg = yaml.safe_load('epochs: 2')\nprint(yaml.load('a: 1', yaml.SafeLoader))",
        "import sympy\nx = sympy.Symbol('x')\nprint(sympy.diff(x**2, x))",
    ],
)
def test_colab_habits_are_not_flagged(cell):
    nb = notebook()
    insert_after(nb, "setup", cell)
    assert flagged(nb) == "" and lost(nb) == set()


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("print(open('solutions/unet.py').read())", "looks for the grader"),
        ("%%script python\nprint(1)", "runs code from strings"),
        ("import os\nfor root, dirs, files in os.walk('/'):\n    pass", "searches the disk"),
        ("from pathlib import Path\nprint(list(Path('/').rglob('*.py')))", "searches the disk"),
        ("import sys\nm = sys.modules['__main__']", "sys.modules"),
        ("import sys\nsys.path.append('/tmp')", "sys.path"),
        ("import solutions.unet", "looks for the grader"),
        ("print(solutions.unet)", "looks for the grader"),
        ("import requests\nprint(requests.get('http://example.org'))", "uses the network"),
        ("import glob\nprint(glob.glob('/root/../**', recursive=True))", "searches the disk"),
    ],
)
def test_what_is_near_a_colab_habit_is_still_flagged(cell, reason):
    nb = notebook()
    insert_after(nb, "setup", cell)
    assert reason in flagged(nb)


_RES = _DEBUG_CE + "{made}\n{keys}\n{shown}"


@pytest.mark.parametrize(
    "made, keys, shown",
    [
        ("res = {}", "res['torch'] = F.cross_entropy(x, y).item()", "res"),  # the cell's display
        ("res = dict()", "res['torch'] = F.cross_entropy(x, y).item()", "print(res)"),
        ("res = {}", "res.update(torch=F.cross_entropy(x, y).item())", "print(res)"),
        (
            "res = {}",
            "res['mean'] = F.cross_entropy(x, y).item()\n"
            "res['sum'] = F.cross_entropy(x, y, reduction='sum').item()",
            "print(res)",
        ),
        ("resultats = {}", "resultats['torch'] = F.cross_entropy(x, y).item()", "resultats"),
    ],
)
def test_a_results_dict_keyed_like_what_the_answer_reads_costs_nothing(made, keys, shown):
    """Keys "torch", "mean", "sum" of a dict of the student's (honest7): no name, no attribute."""
    nb = notebook()
    insert_after(nb, "cce_loss", _RES.format(made=made, keys=keys, shown=shown))
    assert lost(nb) == set()


@pytest.mark.parametrize(
    "cell",
    [
        "dict = globals\nres = dict()\nres['categorical_cross_entropy'] = F.cross_entropy",
        "res = {}\nres.update(categorical_cross_entropy=F.cross_entropy)\nglobals().update(res)",
        "import sys\nsys.displayhook = lambda d: globals().update(d)\n"
        "res = {}\nres['categorical_cross_entropy'] = F.cross_entropy\nres",
    ],
)
def test_a_dict_that_may_reach_the_namespace_still_costs_the_block(cell):
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", cell)
    assert "loss" in lost(nb)


def _torchs(expr: str) -> str:
    return LOSS.format(f"return ({expr})(logits, target, weight=weight)")


@pytest.mark.parametrize(
    "answer",
    [
        # a lookup by a built name through __getattribute__ not called directly (red team 3)
        _torchs('F.__getattribute__.__call__("cross" + "_entropy")'),
        _torchs('object.__getattribute__.__get__(F)("cross" + "_entropy")'),
        _torchs('(F,)[0].__getattribute__("cross" + "_entropy")'),
        _torchs('next(map(F.__getattribute__, ["cross" + "_entropy"]))'),
        # a resolver of names passed along uncalled
        "import operator\n" + _torchs('next(map(operator.attrgetter, ["cross" + "_entropy"]))(F)'),
        "import pydoc\n"
        + _torchs('next(map(pydoc.locate, ["torch.nn.functional.cross" + "_entropy"]))'),
        "import inspect\n"
        + _torchs('next(map(inspect.getattr_static, [F], ["cross" + "_entropy"]))'),
        # resolvers and code runners of other libraries
        "import jinja2\n"
        + _torchs('jinja2.Environment().compile_expression("F.cross" + "_entropy")(F=F)'),
        "from traitlets.utils.importstring import import_item\n"
        + _torchs('import_item("torch.nn.functional.cross" + "_entropy")'),
        "from tornado.util import import_object\n"
        + _torchs('import_object("torch.nn.functional.cross" + "_entropy")'),
        _torchs('get_ipython()._ofind("F.cross" + "_entropy").obj'),
        "from monai.utils import optional_import\n"
        + _torchs("optional_import('torch.nn.functional', name='cross' + '_entropy')[0]"),
        # red team 69: monai.utils.module's instantiate, as monai.utils re-exports it
        "from monai.utils import instantiate\n"
        + _torchs('instantiate("torch.nn.functional." + "cross_" + "entropy", "callable")'),
        "import monai.utils\n"
        + _torchs('monai.utils.instantiate("builtins.get" + "attr", "callable")(F, "x")'),
        LOSS.format(
            "op = torch._C._jit_get_operation('aten::cross_entropy_loss')[0]\n"
            "    return op(logits, target, weight, 1, -100, 0.0)"
        ),
        "import torch.fx\n" + LOSS.format("g = torch.fx.Graph()\n    return g"),
        "from torch._inductor.decomposition import decompositions as table\n"
        + LOSS.format("return table"),
        # torch's losses that give -log p_y too
        _torchs("F.ctc_loss"),
        LOSS.format("return nn.AdaptiveLogSoftmaxWithLoss(4, 4, cutoffs=[3])"),
    ],
)
def test_what_the_third_red_team_found_costs_the_loss(answer):
    assert "loss" in lost(notebook({"cce_loss": answer}))


_KEPT = "import warnings\n" + LOSS.format(
    "return warnings.onceregistry['ce'](logits, target, weight=weight)"
)


@pytest.mark.parametrize(
    "handing",
    [
        "import warnings\nbox = warnings.onceregistry\nbox |= {'ce': F.cross_entropy}",
        "import warnings\nfor warnings.onceregistry['ce'] in [F.cross_entropy]:\n    pass",
        "import warnings\nwarnings.onceregistry['ce'], = [F.cross_entropy]",
        "import warnings\nwarnings.onceregistry['ce']: object = F.cross_entropy",
    ],
)
def test_torchs_loss_handed_to_a_library_by_any_store_costs_the_loss(handing):
    nb = notebook({"cce_loss": _KEPT})
    insert_after(nb, "setup", handing)
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "cell",
    [
        "%config X.y = 1; global categorical_cross_entropy; "
        "categorical_cross_entropy = F.cross_entropy; z = 0",
        "%recall (categorical_cross_entropy := F.cross_entropy) and 0",
    ],
)
def test_magics_that_run_their_line_cost_the_blocks_after_them(cell):
    assert "loss" in lost(notebook({"cce_loss": cell}))


def test_a_cell_template_of_code_wrap_costs_the_blocks_after_it():
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(
        nb,
        "setup",
        "%%code_wrap ce\n__code__\ncategorical_cross_entropy = F.cross_entropy\n__ret__",
    )
    assert "loss" in lost(nb)


def test_config_of_a_setting_costs_nothing():
    nb = notebook()
    insert_after(nb, "setup", "%config InlineBackend.figure_format = 'retina'\n%config Completer")
    assert lost(nb) == set()


def test_scipy_clustering_by_the_dice_distance_costs_the_dice():
    dice = SOLUTIONS["predict_dice"].split("def dice_score")[0] + (
        "import scipy.cluster.hierarchy as sch\n\n\ndef dice_score(pred, truth):\n"
        "    pair = np.stack([pred.ravel(), truth.ravel()])\n"
        "    return float(1 - sch.linkage(pair, metric='dice')[0, 2])\n"
    )
    assert "predict_dice" in lost(notebook({"predict_dice": dice}))


# ---- honest code a fourth reading found costing its block (helper, 2026-12-03)
_PER_PIXEL = """    n = target.numel()
    if weight is None:
        return per.sum() / n
    w = weight[target]
    return (w * per).sum() / w.sum()
"""
_HEAD = "def categorical_cross_entropy(logits, target, weight=None):\n"
_GATHER = "-lp.gather(1, t.unsqueeze(1)).squeeze(1)"
_LOSS_CLASS = (
    """class CCE(nn.Module):
    def __init__(self, weight=None):
        super().__init__()
        self.weight = weight

    def cross_entropy(self, logits, target, weight=None):
        per = {per}
        if weight is None:
            return per.mean()
        w = weight[target]
        return (w * per).sum() / w.sum()

    def forward(self, logits, target):
        return self.cross_entropy(logits, target, self.weight)


"""
    + _HEAD
    + "    return CCE(weight)(logits, target)\n"
)
_OWN_PER = "-torch.log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1)"
_NESTED = _HEAD + f"    def nll_loss(lp, t):\n        return {_GATHER}\n\n"
_NESTED += "    per = nll_loss(torch.log_softmax(logits, 1), target)\n" + _PER_PIXEL
_LAMBDA = f"cross_entropy = lambda lp, t: {_GATHER}\n\n\n" + _HEAD
_LAMBDA += "    per = cross_entropy(torch.log_softmax(logits, 1), target)\n" + _PER_PIXEL
_TOP = f"def nll_loss(lp, t):\n    return {_GATHER}\n\n\n" + _HEAD
_TOP += "    per = nll_loss(torch.log_softmax(logits, 1), target)\n" + _PER_PIXEL
_DICE_NAMEDTUPLE = """from collections import namedtuple

Overlap = namedtuple("Overlap", "dice iou")


def dice_score(pred, truth):
    p, t = pred.astype(bool), truth.astype(bool)
    sizes = p.sum() + t.sum()
    if sizes == 0:
        return 1.0
    return float(Overlap(2 * (p & t).sum() / sizes, 0.0).dice)
"""
_PREDICT = SOLUTIONS["predict_dice"].split("def dice_score")[0]


@pytest.mark.parametrize(
    "answers, extra",
    [
        ({"cce_loss": _NESTED}, ""),  # a helper nested in the answer, named like torch's
        ({"cce_loss": _LAMBDA}, ""),  # a lambda named like torch's
        ({"cce_loss": _LOSS_CLASS.format(per=_OWN_PER)}, ""),  # a method of the student's class
        ({"cce_loss": _TOP}, "from numpy import *"),  # a star import that binds no loss
        ({"cce_loss": _TOP}, "from pylab import *"),
        ({"predict_dice": _PREDICT + _DICE_NAMEDTUPLE}, ""),  # a namedtuple's field `dice`
        (
            {
                "unet": SOLUTIONS["unet"].replace(
                    "class UNet(UNetBase)",
                    "import unet_tp.unet_base\n\n\nclass UNet(unet_tp.unet_base.UNetBase)",
                )
            },
            "",
        ),
        (
            {
                "unet": SOLUTIONS["unet"]
                .replace(
                    "class UNet(UNetBase):", 'class UNet(UNetBase):\n    FINAL = "Identity"', 1
                )
                .replace(
                    "        ### END SOLUTION",
                    "        self.final = getattr(nn, self.FINAL)()\n        ### END SOLUTION",
                    1,
                )
            },
            "",
        ),
        (
            {
                "predict_dice": SOLUTIONS["predict_dice"].replace(
                    "    return model(images).argmax(dim=1)",
                    "    return model(images.to(pick_device())).argmax(dim=1).cpu()",
                )
            },
            "",
        ),
    ],
    ids=[
        "nested_nll_loss",
        "lambda_cross_entropy",
        "method_cross_entropy",
        "numpy_star",
        "pylab_star",
        "namedtuple_dice",
        "base_class_by_its_path",
        "layer_named_by_a_class_attribute",
        "set_up_pick_device",
    ],  # fmt: skip
)
def test_honest_code_a_fourth_reading_found_costs_nothing(answers, extra):
    """Each cost its block (the nested helper, the lambda, the method and the star import
    beside the student's own ``nll_loss`` (e)'s 4 points; the base class by its module's path
    (a)-(e)'s...) while the notebook's check passed it."""
    for cell, source in answers.items():
        assert source != SOLUTIONS[cell]
    assert lost(notebook(answers, extra)) == set()


_TORCH_PER = "F.cross_entropy(logits, target, reduction='none')"
_SET_ON_SELF = "        self.weight = weight\n        self.cross_entropy = F.cross_entropy\n"


@pytest.mark.parametrize(
    "answer, extra, after",
    [
        (_NESTED.replace(_GATHER, "F.nll_loss(lp, t, reduction='none')"), "", ""),
        (_LAMBDA.replace(_GATHER, "F.nll_loss(lp, t, reduction='none')"), "", ""),
        (_LOSS_CLASS.format(per=_TORCH_PER), "", ""),
        (
            _LOSS_CLASS.format(per=_OWN_PER).replace(
                "        self.weight = weight\n", _SET_ON_SELF
            ),
            "",
            "",
        ),
        (
            _LOSS_CLASS.format(per=_OWN_PER),
            "",
            "CCE.cross_entropy = staticmethod(F.cross_entropy)",
        ),
        (_TOP, "from torch.nn.functional import *", ""),
    ],
    ids=["nested", "lambda", "method", "set_on_self", "set_on_the_class", "torch_star"],
)
def test_torchs_loss_behind_a_students_name_still_costs_the_loss(answer, extra, after):
    """What those names hold is read where it is defined or set: torch's loss there (in a nested
    helper, a lambda, a method, ``self.cross_entropy = F.cross_entropy``, the class's attribute
    set after it) or a star import of torch's functions after the student's ``nll_loss``."""
    nb = notebook({"cce_loss": answer}, extra)
    if after:
        insert_after(nb, "cce_loss", after)
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "cell, flagged_",
    [
        ("print('Les deux solutions donnent la même perte :', 1.0)", False),
        ("print('Both solutions agree; ready for the autograder!')", False),
        ("solutions = [categorical_cross_entropy, F.cross_entropy]", False),
        ("print(open('solutions/unet.py').read())", True),
        ("import solutions", True),
        ("from autograder import grade", True),
        ("from pathlib import Path\nprint(Path('..') / 'autograder' / 'static.py')", True),
    ],
)
def test_the_words_solutions_and_autograder_are_flagged_as_a_path_not_in_a_sentence(cell, flagged_):
    """ "Les deux solutions" is French for two solutions: every such print was flagged 'looks for
    the grader or the reference'; a path or an import still is."""
    assert ("looks for the grader" in flagged(notebook(extra=cell))) == flagged_


# ---- channels a fourth reading found (helper, 2026-12-03): each took (e)'s 4 points in a real
# grading run, unflagged; a thread hid the call from the notebook's check
_IN_A_THREAD = """from concurrent.futures import ThreadPoolExecutor


def categorical_cross_entropy(logits, target, weight=None):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(CE, logits, target, weight=weight).result()
"""
_FOURTH = {
    "torchvision_detection": "from torchvision.models.detection.roi_heads import fastrcnn_loss\n"
    "def CE(logits, target, weight=None):\n"
    "    n, c = logits.shape[:2]\n"
    "    return fastrcnn_loss(logits, logits.new_zeros(n, 4 * c), [target], [logits.new_zeros(n, 4)])[0]\n",
    "mako": "from mako.template import Template\n_b = []\nTemplate('<% import torch.nn.functional as G;"
    " b.append(G.cross_entropy) %>').render(b=_b)\nCE = _b[0]\n",
    "sympify": 'import sympy\nCE = sympy.sympify("getattr(__imp" + "ort__(\'torch\').nn.functional,'
    " 'cross' + '_entropy')\")\n",
    "parse_expr": 'from sympy.parsing.sympy_parser import parse_expr\nCE = parse_expr("getattr('
    "torch.nn.functional, 'cross' + '_entropy')\", global_dict={'torch': torch}, transformations=())\n",
    "import_in_a_text": "CE = some_runner(\"getattr(__import__('torch').nn.functional, 'x')\")\n",
    "imp": "import imp\nCE = imp.load_source('h', 'h.py').CE\n",
    # red team 49: torch's test suite's reference loss
    "torch_test_reference": "from torch.testing._internal.common_nn import nlllossNd_reference\n"
    "def CE(logits, target, weight=None):\n"
    "    return nlllossNd_reference(torch.log_softmax(logits, 1), target, weight)\n",
    "traitlets_config": "from traitlets.config.loader import PyFileConfigLoader\n"
    "CE = PyFileConfigLoader('cfg.py', path='.').load_config().X.f\n",
    "magic_by_a_built_name": "get_ipython().run_line_magic('ti' + 'me', \"CE = getattr(F, 'cross' + '_entropy')\")\n",
    "find_line_magic": "get_ipython().find_line_magic('time')(\"CE = getattr(F, 'cross' + '_entropy')\")\n",
}


@pytest.mark.parametrize("channel", list(_FOURTH.values()), ids=list(_FOURTH))
def test_a_fourth_readings_channels_cost_the_loss(channel):
    assert "loss" in lost(notebook({"cce_loss": channel + "\n\n" + _IN_A_THREAD}))


@pytest.mark.parametrize(
    "runner",
    [
        "from mako.template import Template\nTemplate('<% import __main__, torch.nn.functional as G;"
        " __main__.categorical_cross_entropy = G.cross_entropy %>').render()",
        "get_ipython().run_line_magic('ti' + 'me', 'categorical_cross_entropy = F.cross_entropy')",
    ],
    ids=["template", "magic_by_a_built_name"],
)
def test_a_template_or_a_magic_by_a_built_name_may_bind_the_answer(runner):
    """The stub left, the answer set from inside a template or a magic whose name is built: read
    as binding any name, it costs the blocks tested after it."""
    nb = notebook({"cce_loss": STUBS["cce_loss"]})
    insert_after(nb, "cce_loss", runner)
    assert "loss" in lost(nb)


_HONEST_LOSS = (
    "    one_hot = F.one_hot(target.long(), logits.shape[1]).movedim(-1, 1).to(logits.dtype)\n"
    "    per_pixel = -(one_hot * (logits - logits.logsumexp(1, keepdim=True))).sum(1)\n"
    "    value = per_pixel.mean()\n"
)
_HELPER_SESSION_HONEST = {
    # a unittest class comparing with torch's loss, run by unittest's loader and runner
    "unittest_class": (
        "import unittest\n\n\nclass TestMyLoss(unittest.TestCase):\n    def setUp(self):\n"
        "        self.x = torch.randn(2, 4, 3, 3)\n        self.y = self.x.argmax(1)\n\n"
        "    def test_matches_torch(self):\n        mine = categorical_cross_entropy(self.x, self.y)\n"
        "        self.assertTrue(torch.allclose(mine, F.cross_entropy(self.x, self.y)))\n\n\n"
        "suite = unittest.TestLoader().loadTestsFromTestCase(TestMyLoss)\n"
        "unittest.TextTestRunner(verbosity=2).run(suite)",
        LOSS.format(_HONEST_LOSS.strip() + "\n    return value"),
    ),
    # torch's value computed and kept where the answer logs its own
    "computed_values_kept": (
        "import logging\nlogger = logging.getLogger('tp')\nloss_history = []\n"
        "x = torch.randn(2, 4, 3, 3)\nloss_history.append(F.cross_entropy(x, x.argmax(1)).item())\n"
        "logger.info('torch says %.5f', F.cross_entropy(x, x.argmax(1)).item())",
        LOSS.format(
            _HONEST_LOSS.strip() + "\n    loss_history.append(float(value))\n"
            "    logger.debug('mine %.5f', float(value))\n    return value"
        ),
    ),
    "timer_of_a_wrapper": (
        "import functools, timeit\n\n\ndef torch_reference(x, y):\n    return F.cross_entropy(x, y)\n\n\n"
        "x = torch.randn(2, 4, 3, 3)\n"
        "ref = timeit.Timer(functools.partial(torch_reference, x, x.argmax(1))).timeit(number=5)",
        "",
    ),
}


@pytest.mark.parametrize("name", sorted(_HELPER_SESSION_HONEST))
def test_honest_cells_a_helper_session_wrote_cost_nothing(name):
    """Correct notebooks written by a helper session: unittest, values of torch's loss kept in a
    list or a logger the answer also uses, a timer of a wrapper of torch's loss; and a class of
    the student's that sets ``self.x`` above the TP's cells that pass ``x`` along."""
    cell, answer = _HELPER_SESSION_HONEST[name]
    nb = insert_after(notebook({"cce_loss": answer or SOLUTIONS["cce_loss"]}), "unet", cell)
    assert lost(nb) == set()


def test_a_class_setting_self_x_is_not_the_x_the_tps_cells_pass_along():
    cell = (
        "class Probe:\n    def __init__(self):\n        self.x = torch.randn(1, 4, 2, 2)\n\n"
        "    def torch_value(self):\n        return F.cross_entropy(self.x, self.x.argmax(1))"
    )
    nb = notebook()
    nb.cells.insert(1, nbformat.v4.new_code_cell(cell))  # above every answer
    assert lost(nb) == set()


def test_a_loss_kept_by_an_object_the_answer_reads_costs_the_block():
    """A value computed by torch's loss may be kept where the answer reads; its class may not
    (``box.append(nn.CrossEntropyLoss())``: the box then holds the loss)."""
    cell = "box = []\nbox.append(nn.CrossEntropyLoss())"
    nb = insert_after(
        notebook({"cce_loss": LOSS.format("return box[0](logits, target.long())")}), "unet", cell
    )
    assert "loss" in lost(nb)


def test_a_course_constant_in_the_dice_costs_nothing():
    """``unet_tp.conventions`` (labels, regions) is what answers may use, as the notebook's
    checks say."""
    dice = (
        SOLUTIONS["predict_dice"]
        + "\n\nfrom unet_tp.conventions import NUM_CLASSES\n\n_dice = dice_score\n\n\n"
        + "def dice_score(pred, target):\n    assert NUM_CLASSES == 4\n    return _dice(pred, target)\n"
    )
    assert lost(notebook({"predict_dice": dice})) == set()


@pytest.mark.parametrize(
    "cell",
    [
        "import sys\nsys.setprofile(None)",
        "import threading\nthreading.setprofile(None)",
        "from sys import getprofile\nhook = getprofile()",
        "import sys\nprint(sys.monitoring)",
        'torch.ops.load_library("serve.so")',
        'from torch import classes\nclasses.load_library("serve.so")',
    ],
)
def test_touching_the_profile_hooks_in_any_cell_costs_the_blocks_after_it(cell):
    """The hooks that watch an answer while the grader calls it (harness._Watch): a cell that
    reaches them, answer or not, costs every block tested after it (a thread it then starts
    would run unwatched). So does a native library loaded (its threads run what no reading
    follows; the kernel can no longer compile one: it starts no other program)."""
    nb = insert_after(notebook(), "unet", cell)
    assert {"loss", "train_step", "predict_dice"} <= lost(nb) and "double_conv" not in lost(nb)


_BOX = (
    "import queue, threading\n\n\nclass _Box:\n    def get(self, name):\n"
    "        return getattr(self, name)\n\n\n_jobs = queue.Queue()\n\n\ndef _serve():\n"
    "    while True:\n        owner, name, args, out = _jobs.get()\n"
    "        out.put(_Box.get(owner, name)(*args))\n\n\n"
    "threading.Thread(target=_serve, daemon=True).start()\n\n\n"
    "def _remote(owner, name, *args):\n    out = queue.Queue()\n"
    "    _jobs.put((owner, name, args, out))\n    return out.get()"
)


def test_a_method_called_on_its_class_is_no_method_of_self():
    """``getattr(self, name)`` in a method reaches the object's own attributes, unless the
    method is called on its class with any object as ``self`` (``_Box.get(F, name)``), here in
    a thread started before the grader asks (a third helper session's attack: (e) 4/4)."""
    answer = LOSS.format('return _remote(F, "cross" + "_entropy", logits, target.long(), weight)')
    nb = insert_after(notebook({"cce_loss": answer}), "unet", _BOX)
    assert "loss" in lost(nb)


def test_getattr_on_self_of_a_class_given_to_the_checks_costs_nothing():
    """A network whose layers are found by ``getattr(self, f"down{i}")``, its class handed to
    the course's checks in a cell of the student's own: the method gets its own ``self``."""
    cell = (
        "class Stack(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        for i in range(2):\n            setattr(self, f'down{i}', nn.Identity())\n\n"
        "    def forward(self, x):\n        for i in range(2):\n"
        "            x = getattr(self, f'down{i}')(x)\n        return x\n\n\n"
        "print(isinstance(Stack(), nn.Module), Stack.__name__)\ncheck = checks.check_double_conv\n"
        "print(callable(check), Stack)"
    )
    assert lost(insert_after(notebook(), "unet", cell)) == set()


_STAND_IN = (
    "# TEMP: a stand-in to try train_step before writing (e)\n"
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    return F.cross_entropy(logits, target, weight=weight)\n"
)


def test_a_stand_in_replaced_before_anything_reads_it_is_no_part_of_the_answer():
    """A scratch stand-in above the answer cell that uses torch's loss, replaced by the
    student's own `categorical_cross_entropy` before anything reads it: the answer is the
    student's (a helper session's honest notebook: 0/4 for (e), though its check said ok)."""
    nb = notebook()
    answer = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "cce_loss"
    )
    nb.cells.insert(answer, nbformat.v4.new_code_cell(_STAND_IN))
    assert lost(nb) == set()
    both = notebook({"cce_loss": _STAND_IN + "\n\n" + SOLUTIONS["cce_loss"]})  # in one cell
    assert lost(both) == set()


@pytest.mark.parametrize(
    "between",
    [
        "_kept = categorical_cross_entropy",
        "_kept = [globals()['categorical_' + 'cross_entropy']]",
        "import __main__\n_kept = getattr(__main__, 'categorical_cross_entropy')",
        "exec('_kept = categorical_' + 'cross_entropy')",
    ],
)
def test_a_stand_in_read_before_it_is_replaced_still_counts(between):
    """The same stand-in, read (kept) before the answer replaces it: the answer can call it."""
    answer = "def categorical_cross_entropy(logits, target, weight=None):\n    return _kept(logits, target, weight)\n"
    nb = notebook({"cce_loss": _STAND_IN + "\n" + between + "\n\n\n" + answer})
    assert "loss" in lost(nb)
    decorated = (
        "import functools\n\n\n@functools.wraps(categorical_cross_entropy)\n"
        + answer.replace("_kept(", "categorical_cross_entropy.__wrapped__(")
    )
    assert "loss" in lost(notebook({"cce_loss": _STAND_IN + "\n\n" + decorated}))


@pytest.mark.parametrize(
    "stand_in",
    [
        # a default that keeps torch's loss as the stand-in is made
        _STAND_IN.replace("weight=None)", "weight=None, _=_kept.append(F.cross_entropy))"),
        # a decorator that keeps the stand-in itself
        "@_kept.append\n" + _STAND_IN.split("\n", 1)[1],
    ],
)
def test_a_stand_in_whose_making_keeps_something_still_counts(stand_in):
    """A stand-in replaced unread is ignored only if making it ran nothing: a default or a
    decorator that keeps what it is given outlives the name."""
    answer = "def categorical_cross_entropy(logits, target, weight=None):\n    return _kept[0](logits, target, weight)\n"
    nb = notebook({"cce_loss": "_kept = []\n\n\n" + stand_in + "\n\n" + answer})
    assert "loss" in lost(nb)


def test_a_stand_in_with_annotations_is_still_only_a_stand_in():
    """Type hints on the stand-in (``torch.Tensor | None``) run no code of the notebook's."""
    typed = _STAND_IN.replace(
        "(logits, target, weight=None)",
        "(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor",
    )
    assert lost(notebook({"cce_loss": typed + "\n\n" + SOLUTIONS["cce_loss"]})) == set()


_WORKER = (
    "import queue, threading\n\n_jobs, _done = queue.Queue(), queue.Queue()\n\n\n"
    "def _serve():\n    while True:\n        _done.put(_kept(*_jobs.get()))\n\n\n"
    "threading.Thread(target=_serve, daemon=True).start()\n\n\n"
    "def categorical_cross_entropy(logits, target, weight=None):\n"
    "    _jobs.put((logits, target, weight))\n    return _done.get()\n"
)


@pytest.mark.parametrize(
    "keeps",
    [
        # the stand-in kept under another name by an import between it and the answer
        _STAND_IN + "\nfrom __main__ import categorical_cross_entropy as _kept\n",
        # a function of another name kept by its decorator
        "_box = []\n\n\n@_box.append\n"
        + _STAND_IN.split("\n", 1)[1].replace("categorical_cross_entropy", "_ce")
        + "\n_kept = _box[0]\n",
    ],
)
def test_a_function_kept_by_an_import_or_a_decorator_is_followed(keeps):
    """A fifth helper session's attacks, each (e) 4/4 unflagged, the loss run by a worker thread
    started before the grader asks: the stand-in kept by `from __main__ import ... as _kept`,
    and a function kept by its decorator `@_box.append` (a call of `_box.append` on it)."""
    assert "loss" in lost(notebook({"cce_loss": keeps + "\n\n" + _WORKER}))


def test_many_stand_ins_are_read_in_one_pass():
    """Thousands of stand-ins, each replaced by the next (`f = f` in the notebook's words):
    each is judged by the next binding alone, so the reading stays linear (every pair of them,
    and what lies between, would keep the grader's thread for hours, its batch waiting)."""
    many = _STAND_IN + "categorical_cross_entropy = categorical_cross_entropy\n" * 3000
    assert "loss" in lost(notebook({"cce_loss": many + "\n\n" + SOLUTIONS["cce_loss"]}))


_WRITTEN = (  # round 20: the answer's module written from a reversed string, then loaded
    "SOURCE = 'yportne_ssorc.lanoitcnuf.nn.hcrot'[::-1]\nPATH = '/tmp/helpers.py'\n"
    "with open(PATH, 'w') as f:\n    f.write('import torch\\ncce = ' + SOURCE)\n"
)
_FILLS_A_DICT = "box = {}\nSOURCE = \"yportne_ssorc.lanoitcnuf.nn.hcrot = ]'ecc'[xob\"[::-1]\n"


@pytest.mark.parametrize(
    "cell, used",
    [
        (_WRITTEN + "import pydoc\nhelpers = pydoc.importfile(PATH)", "helpers.cce"),
        (
            _WRITTEN
            + "from alembic.util import pyfiles\nhelpers = pyfiles.load_module_py('h', PATH)",
            "helpers.cce",
        ),
        (
            _WRITTEN + "from _pytest.pathlib import import_path\n"
            "helpers = import_path(PATH, root='/tmp')",
            "helpers.cce",
        ),
        (
            _WRITTEN + "from monai.bundle import ConfigParser\n"
            "helpers = ConfigParser({'h': '$' + SOURCE}).get_parsed_content('h')",
            "helpers.cce",
        ),
        # round 21: run from the string by a library, torch's loss left in a dict
        (
            _FILLS_A_DICT + "import torch.utils.benchmark as bench\n"
            "bench.Timer(setup=SOURCE, globals={'box': box}).timeit(1)",
            "box['cce']",
        ),
        (
            _FILLS_A_DICT + "from IPython.utils.text import EvalFormatter\n"
            "EvalFormatter().format('{' + SOURCE + '}')",
            "box['cce']",
        ),
        (
            _FILLS_A_DICT + "import tornado.template\n"
            "tornado.template.Template('{{ ' + SOURCE + ' }}').generate()",
            "box['cce']",
        ),
    ],
)
def test_code_a_library_loads_from_a_file_or_string_the_notebook_wrote_costs_the_loss(cell, used):
    """Red teams' answers in a reversed string, written to a file and loaded by a library's
    loader, or run by a library that evaluates text: no cell's text names torch's loss."""
    nb = notebook({"cce_loss": LOSS.format(f"return {used}(logits, target, weight)")})
    insert_after(nb, "data", cell)
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "stop",
    [
        "torch.autograd._disable_profiler()",
        "torch.autograd.profiler_legacy.profile().__enter__()",
        "from torch.autograd import _enable_profiler_legacy as on\non",
        # round 22: torch's recording of functions, which the profiler reads, switched off
        "torch._C._autograd._enable_record_function(False)",
        "torch.autograd._toggle_collection_dynamic(False, [])",
    ],
)
def test_stopping_or_restarting_torchs_operator_profiler_is_flagged(stop):
    """Round 21: the watch reads torch's operator profiler while the loss answers; an answer that
    stops it (``torch.autograd._disable_profiler()`` stops the grader's) and starts another
    would hide the loss's operators: flagged, as torch's modes switched off are."""
    body = stop.replace("\n", "\n    ") + "\n    return logits.sum()"
    assert "switches off torch's operator profiler" in flagged(
        notebook({"cce_loss": LOSS.format(body)})
    )


@pytest.mark.parametrize(
    "cell, reason",
    [
        (
            "from IPython.core.guarded_eval import EvaluationContext, guarded_eval\n"
            "guarded_eval(SOURCE, EvaluationContext({}, {'box': box}, 'dangerous'))",
            "IPython's guarded_eval",
        ),
        (
            "import IPython.core.guarded_eval as g\n"
            "g.guarded_eval(SOURCE, g.EvaluationContext({}, {'box': box}, 'unsafe'))",
            "IPython's guarded_eval",
        ),
        (
            "import torch.jit.annotations as a\n\n\ndef f(x):\n    pass\n\n\n"
            "f.__annotations__ = {'x': SOURCE}\na.get_type_hints(f)",
            "annotations",
        ),
    ],
)
def test_libraries_that_evaluate_text_under_other_names_are_flagged(cell, reason):
    """Round 22: IPython's guarded_eval (which evaluates, or interprets, the text it is given)
    and typing's get_type_hints (which evaluates string annotations), reached under another
    module's name for them: they cost the blocks after them, and are flagged."""
    nb = notebook({"cce_loss": LOSS.format("return box['cce'](logits, target, weight)")})
    insert_after(nb, "data", _FILLS_A_DICT + cell)
    assert "loss" in lost(nb) and f"runs code from strings ({reason})" in flagged(nb)


@pytest.mark.parametrize(
    "reach",
    [
        "import _operator\n\nce = _operator.attrgetter('cross' + '_entropy')(F)",
        "from _operator import attrgetter\n\nce = attrgetter('cross' + '_entropy')(F)",
        "from fsspec.registry import _import_class\n\n"
        "ce = _import_class('torch.nn.functional.cross' + '_entropy')",
        "from fsspec.utils import _import_class\n\n"
        "ce = _import_class('torch.nn.functional.cross' + '_entropy')",
        # round 24: unittest's loader finds it, and the error's frames hold it
        "import inspect\nimport unittest\n\ntry:\n"
        "    unittest.TestLoader().loadTestsFromName('torch.nn.functional.cross' + '_entropy')\n"
        "except TypeError as e:\n    ce = inspect.getargvalues(e.__traceback__.tb_frame).locals",
        # red team 81: YAML's python tags; red team 82: sympy's and SQLAlchemy's importers
        "import yaml\n\nce = yaml.full_load('!!python/name:torch.nn.functional.cross_entropy')",
        "import yaml\n\nce = yaml.load('!!python/name:torch.nn.functional.cross_entropy', "
        "yaml.FullLoader)",
        "import sympy.utilities.source as s\n\n"
        "ce = s.get_class('torch.nn.functional.cross' + '_entropy')",
        "from sqlalchemy.util.langhelpers import PluginLoader\n\nce = PluginLoader('x')",
    ],
)
def test_torch_cross_entropy_reached_through_c_twins_and_library_importers_costs_the_loss(reach):
    """Round 23: ``_operator`` (operator's C module, which no list named) and fsspec's
    ``_import_class`` gave the loss torch's cross-entropy by a name built from strings; round
    24, unittest's loader (what it found read from its frame's locals)."""
    nb = notebook({"cce_loss": reach + "\n\n\n" + LOSS.format("return ce(logits, target)")})
    assert "loss" in lost(nb)


_DECORATOR = """import time


def log_calls(fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        print(fn.__name__, time.perf_counter() - start)
        return out

    {}
    return wrapper


"""


@pytest.mark.parametrize(
    "renames, costs",
    [
        ("wrapper.__name__ = fn.__name__", False),
        ("wrapper.__qualname__ = fn.__qualname__", False),
        ("wrapper.__name__ = f'timed_{fn.__name__}'", False),  # (its own: any name)
        ("wrapper.__name__ = F.__name__", False),  # (its own code stays the notebook's)
        ("wrapper = F.cross_entropy\n    wrapper.__name__ = fn.__name__", True),
        ("fn.__name__ = wrapper.__name__", True),  # (the wrapped function, not its own)
        # red team 27: declared global in a nested function, it is the notebook's top-level name
        (
            "def inner():\n        global wrapper\n        wrapper.__module__ = fn.__module__\n\n"
            "    inner()",
            True,
        ),
    ],
)
def test_a_decorator_giving_its_wrapper_the_wrapped_name_costs_nothing(renames, costs):
    """Honest round 7: ``wrapper.__name__ = fn.__name__`` (what functools.wraps does) in a timing
    decorator cost every block after it; a name set on what is not the decorator's own function
    still does."""
    loss = _DECORATOR.format(renames) + "@log_calls\n" + SOLUTIONS["cce_loss"]
    assert ("loss" in lost(notebook({"cce_loss": loss}))) is costs


_TIMED = """import functools, time

TIMINGS = {}


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        TIMINGS.setdefault(fn.__name__, []).append(time.perf_counter() - t0)
        return out

    return wrapper


"""


@pytest.mark.parametrize(
    "loss",
    [
        _TIMED + "@timed\n" + SOLUTIONS["cce_loss"] + "\n\ntorch_ce = timed(F.cross_entropy)\n",
        'HPARAMS = {"loss": "cross_entropy", "class_dim": 1}\n\n\n'
        + SOLUTIONS["cce_loss"].replace("    ### BEGIN SOLUTION", "    _ = HPARAMS['class_dim']"),
        SOLUTIONS["cce_loss"] + "\n\ndef compare(mine, reference):\n    print(mine.__name__)\n\n\n"
        "compare(categorical_cross_entropy, F.cross_entropy)\n",
    ],
    ids=["a_timing_decorator", "a_config_string", "a_comparison_helper"],
)
def test_a_forbidden_name_only_handed_to_or_named_in_what_the_answer_reads_is_for_review(loss):
    """Honest round 7: torch's loss handed to the student's timing decorator or comparison helper,
    or named in a config dict the loss reads, lost (e) with "uses torch's cross_entropy" and no
    review flag. The reading cannot tell it is not used: still lost, said so, and for review."""
    nb = notebook({"cce_loss": loss})
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    found = static.forbidden_calls(nb, load(), labels)
    lines = [line for gid, line in found.items() if gid.endswith("loss")]
    assert lines and all("is not credited" in line and line in found.does for line in lines), found


def test_a_forbidden_name_spelt_in_the_answer_itself_is_its_own_use():
    """A string in the answer's own body naming torch's loss is the answer's use, said plainly
    (not "move that line below the test", which the answer cannot), not an inference."""
    loss = LOSS.format("name = 'cross_entropy'\n    return getattr(F, name)(logits, target)")
    nb = notebook({"cce_loss": loss})
    found = static.forbidden_calls(nb, load(), [f"cell {i}" for i in range(len(nb.cells))])
    lines = [line for gid, line in found.items() if gid.endswith("loss")]
    assert lines and not any("is not credited" in line for line in lines) and found.does == [], (
        found
    )


def _after_setup(source: str, loss: str | None = None):
    """The solved notebook with a cell of the student's right after the TP's set-up cell (every
    block is tested after it), and its loss's answer ``loss`` if given."""
    nb = notebook({"cce_loss": loss} if loss else None)
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells.insert(gids.index("setup") + 1, nbformat.v4.new_code_cell(source))
    return nb


_SETTINGS_CLASS = """
class Config:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def as_dict(self):
        return dict(vars(self))

    def __repr__(self):
        return f"Config({self.__dict__})"
"""
_SETATTR_CLASS = """
class Hparams:
    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)

    @staticmethod
    def default():
        return Hparams(lr=1e-3)
"""
# honest round 9: idioms of correct notebooks that cost every block after them
_HONEST_IDIOMS = {
    "own namespace": _SETTINGS_CLASS + "cfg = Config(lr=1e-3)\nprint(cfg, cfg.as_dict())",
    "class in hints": _SETATTR_CLASS
    + "def small(hp: Hparams) -> int:\n    return 1\n\nhp = Hparams.default()\n"
    + "print(isinstance(hp, (Hparams, dict)), type(hp) is Hparams, small(hp))\n"
    + "print(type(hp) == Hparams)",
    "an alias": _SETATTR_CLASS + "Bloc = Hparams\nhp = Bloc(lr=1e-3)",
    "json of a namespace": "import json\nfrom types import SimpleNamespace\n"
    'hp = SimpleNamespace(lr=1e-3)\nwith open("hp.json", "w") as f:\n    json.dump(vars(hp), f)',
    "re-run guard": 'big = globals().get("big")\nif big is None:\n    big = 3',
    "vars shown": "from types import SimpleNamespace\nhp = SimpleNamespace(lr=1e-3)\n"
    'print(f"hyper-parameters: {vars(hp)}")',
    "own eval": "def eval(model, x):\n    return model(x)\n\n"
    "for epoch in range(2):\n    score = round(eval(lambda v: v, 0.5), 4)",
}


def _clean(nb) -> None:
    assert lost(nb) == set()
    assert flagged(nb) == ""


@pytest.mark.parametrize("source", list(_HONEST_IDIOMS.values()), ids=list(_HONEST_IDIOMS))
def test_a_students_own_class_namespace_and_functions_cost_nothing(source):
    _clean(_after_setup(source))


# the same classes handed another `self`, and the built-in reached past the student's function
_STILL_COSTS = {
    "unbound method": _SETTINGS_CLASS + "import sys\nd = Config.as_dict(sys)",
    "unbound init": _SETTINGS_CLASS + "import sys\nConfig.__init__(sys, x=1)",
    "copied class": _SETTINGS_CLASS + "import copy, sys\nd = copy.copy(Config).as_dict(sys)",
    "class stored": _SETATTR_CLASS + "import types\nbox = types.SimpleNamespace()\n"
    'setattr(box, "c", Hparams)\nbox.c.__init__(box, x=1)',
    "compared with an __eq__ of its own": _SETATTR_CLASS
    + "import sys\nbox = []\nclass Catch:\n    def __eq__(self, other):\n"
    + "        box.append(other)\n        return False\n\n"
    + "print(Catch() == Hparams)\nbox[0].__init__(sys, x=1)",
    "an alias's method": _SETATTR_CLASS + "import sys\nBloc = Hparams\nBloc.__init__(sys, x=1)",
    "json's default": "import json, sys\n"
    'with open("m.json", "w") as f:\n    json.dump(vars(sys), f, default=lambda o: o)',
    "hint read back": _SETATTR_CLASS + "import inspect\ndef small(hp: Hparams):\n    return 1\n"
    'c = inspect.signature(small).parameters["hp"].annotation',
    "eval before the def": 'x = eval("1 + 1")\ndef eval(model, x):\n    return model(x)\n'
    "for k in range(2):\n    y = eval(abs, k)",
    "eval deleted": "def eval(model, x):\n    return model(x)\n\ndel eval\n"
    'for k in range(2):\n    y = eval("k")',
    "a default": 'def getattr(o, n, _g=getattr):\n    return _g(o, n)\n\ny = getattr(1, "real")',
    "a private global": 'b = globals().get("__builtins__")',
}


@pytest.mark.parametrize("source", list(_STILL_COSTS.values()), ids=list(_STILL_COSTS))
def test_a_class_handed_another_self_or_a_builtin_reached_still_costs(source):
    assert lost(_after_setup(source))


@pytest.mark.parametrize(
    "reach",
    ["len.__self__", "m = print.__self__\nm", 'getattr(abs, "__self__")', "__import__.__self__"],
)
def test_the_built_ins_reached_through_a_built_in_function_are_the_builtins_module(reach):
    """Red team 41: ``len.__self__`` is the builtins module; a function of the notebook's put
    there (``len.__self__.type = hook``) runs in every library and in the grader's own request
    before the watch: flagged, and what the function uses costs the blocks tested after it."""
    hook = "def hook(o):\n    F.cross_entropy(torch.zeros(1, 2), torch.zeros(1).long())\n"
    hook += "    return o.__class__\n\n"
    *before, last = reach.split("\n")
    rewrite = "\n".join([*before, f"setattr({last}, 'type', hook)"])
    nb = _after_setup(hook + rewrite)
    assert "loss" in lost(nb) and "rewrites built-ins" in flagged(nb)
    assert "loss" in lost(_after_setup(hook + "\n".join([*before, f"{last}.type = hook"])))
    assert "rewrites built-ins" in flagged(notebook(extra=reach))
    # what a library's object holds is the library's: `m.type = hook` hands hook over
    held = _after_setup(hook + 'import sys\nm = sys.modules["builtins"]\nm.type = hook')
    assert "loss" in lost(held)
    # a bound method's object, the student's own, is no module of built-ins
    assert flagged(notebook(extra="box = []\nowner = box.append.__self__")) == ""


def test_the_namespaces_values_only_printed_cost_nothing_handed_on_they_cost():
    """Honest round 16: listing one's settings, ``for k, v in globals().items(): if k.isupper():
    print(k, v)``, cost (g); the values only printed are text. Given anything else (a name, a
    list, ``print``'s file), or the loop's name read after it (the namespace's last value), the
    namespace is reached still."""
    listing = "for k, v in globals().items():\n    if k.isupper():\n        print({})\n"
    for shown in ("k, v", 'f"{k} = {v}"'):
        assert lost(_after_setup(listing.format(shown))) == set()
    assert lost(_after_setup("for v in vars().values():\n    print(v)\n")) == set()
    for handed in ("G = v", "box.append(v)", "print(k, file=v)", "print(v.__dict__)"):
        loop = "box = []\nfor k, v in globals().items():\n    if k == 'F':\n        "
        assert lost(_after_setup(loop + handed + "\n")), handed
    read_after = listing.format("k, v") + "print(v)\n"
    assert lost(_after_setup(read_after))


def test_an_object_stored_into_a_librarys_from_inside_a_function_is_handed_over():
    """Red team 42: ``def _install(): sys.__spec__._initializing = _Flag()``, the flag's
    ``__len__`` computing torch's loss when an ``import sys`` read it; stored at the top level it
    cost the blocks already. A function's own variables (``self`` too) are its own."""
    flag = (
        "import sys as _s\n\nclass _Flag:\n    def __len__(self):\n"
        "        F.cross_entropy(torch.zeros(1, 2), torch.zeros(1).long())\n        return 0\n\n"
    )
    assert "loss" in lost(
        _after_setup(
            flag + "def _install():\n    _s.__spec__._initializing = _Flag()\n\n_install()"
        )
    )
    own = flag + "def keep():\n    box = {}\n    box['f'] = _Flag()\n    return 1\n\nkeep()"
    assert lost(_after_setup(own)) == set()


def test_a_class_with_a_finalizer_is_handed_to_the_garbage_collector():
    """Red team 43: a ``__del__`` that left a new cycle behind it ran at every collection, the
    grader's reading of a request among them, and computed torch's loss for the answer to look
    up from a file. A class with a ``__del__`` reaching torch's loss costs the blocks tested
    after it; one that prints costs nothing; naming the grader's folders is flagged."""
    ticker = (
        "import os\n\ndef _tick():\n    for name in os.listdir('/opt/grading/requests'):\n"
        "        F.cross_entropy(torch.zeros(1, 2), torch.zeros(1).long())\n\n"
        "class _Ticker:\n    def __del__(self):\n        _tick()\n"
        "        t = _Ticker()\n        t.me = t\n\n_t = _Ticker()\n_t.me = _t\ndel _t\n"
    )
    nb = _after_setup(ticker)
    assert "loss" in lost(nb) and "looks for the grader" in flagged(nb)
    timer = "class Timer:\n    def __del__(self):\n        print('bye')\n\nt = Timer()\n"
    assert lost(_after_setup(timer)) == set() and flagged(_after_setup(timer)) == ""


def test_a_function_given_to_a_librarys_decorator_is_handed_over():
    """Red team 32: ``@codecs.register`` kept a function using torch's loss, which the loss's
    stub reached through ``codecs.lookup(name)`` (a registry looked up by a string)."""
    forge = (
        "import codecs\n\n@codecs.register\ndef _forge(name):\n"
        "    return F.cross_entropy(torch.zeros(1, 2), torch.zeros(1).long())\n"
    )
    assert "loss" in lost(_after_setup(forge))
    wrapped = forge.replace("@codecs.register", "@torch.no_grad()")
    assert lost(_after_setup(wrapped)) == set()


@pytest.mark.parametrize(
    "source",
    [
        'solutions = {"log-sum-exp": abs}\nfor nom, f in solutions.items():\n    print(nom)',
        'print("solutions testées :", 3)',
        'import glob\nfiles = glob.glob("/Users/lea/BraTS/*/*_flair.nii.gz")',
    ],
    ids=["a dict named solutions", "a sentence", "a macOS home"],
)
def test_a_students_words_and_folders_are_not_flagged(source):
    """Honest round 9: a French dict of one's own versions (`solutions`), and a macOS home."""
    assert flagged(_after_setup(source)) == ""


@pytest.mark.parametrize(
    "source",
    ['import importlib\nm = importlib.import_module("solutions")', 'p = "/opt/solutions/unet.py"'],
)
def test_the_reference_named_as_a_module_or_a_path_is_flagged(source):
    assert "looks for the grader or the reference" in flagged(_after_setup(source))


_DTYPE = 'SETTINGS = {"dtype": "float64"}\ndt = getattr(torch, SETTINGS["dtype"])\n'


def _after_test_d(source: str):
    """The solved notebook with a cell of the student's right after the test of (d)."""
    nb = notebook()
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells.insert(gids.index("test_unet") + 1, nbformat.v4.new_code_cell(source))
    return nb


def test_torchs_method_of_a_new_module_does_not_change_its_class():
    """Honest round 9: ``UNet(...).to(dt)``, ``dt`` from ``getattr(torch, name)``, was read as a
    change of the class UNet, which the TP's own layer-table cell hands to the course package
    (every block after it lost, the TP's cell named)."""
    nb = _after_test_d(_DTYPE + "tiny = UNet(in_channels=1, num_classes=2).to(dt)")
    assert lost(nb) == set()
    # a method of the class's own is the class's code: what it is given may be kept there
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells[gids.index("unet")].source += "\n\n    def to(self, *args):\n        return self\n"
    assert lost(nb)


_SETATTR_DOUBLE_CONV = '''class DoubleConv(nn.Module):
    """(conv => [BN] => ReLU) * 2, its layers named in a loop."""

    def __init__(self, in_channels, out_channels, mid_channels=None, padding=False, batch_norm=False):
        super().__init__()
        mid = mid_channels or out_channels
        p = 1 if padding else 0
        for k, (a, b) in enumerate(((in_channels, mid), (mid, out_channels)), start=1):
            setattr(self, f"conv{k}", nn.Conv2d(a, b, 3, padding=p, bias=not batch_norm))
            setattr(self, f"bn{k}", nn.BatchNorm2d(b) if batch_norm else nn.Identity())

    def forward(self, x):
        for k in (1, 2):
            x = torch.relu(getattr(self, f"bn{k}")(getattr(self, f"conv{k}")(x)))
        return x
'''


def _after_test_a(source: str):
    """The solved notebook, its DoubleConv naming its layers with setattr and getattr on self,
    and a cell of the student's right after the test of (a)."""
    nb = notebook({"double_conv": _SETATTR_DOUBLE_CONV})
    gids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells.insert(gids.index("test_double_conv") + 1, nbformat.v4.new_code_cell(source))
    return nb


# honest round 10: how students use their classes and settings objects
_HONEST_USES = {
    "partial": "from functools import partial\nmake = partial(DoubleConv, padding=True)\nb = make(1, 2)",
    "in a tuple": "m = DoubleConv(1, 2)\nprint(type(m) in (DoubleConv, nn.Conv2d), type(m) == DoubleConv)",
    "a class pattern": "m = DoubleConv(1, 2)\nmatch m:\n    case DoubleConv():\n        print('dc')",
    "an instance counter": "class Timer:\n    count = 0\n\n    def __init__(self):\n"
    "        self.__class__.count += 1\n\nt = Timer()",
    "a namespace's items": "import argparse\nargs = argparse.Namespace(lr=1e-3, epochs=3)\n"
    "for k, v in vars(args).items():\n    print(k, v)\nsaved = dict(vars(args))\nprint(args.__dict__.copy())",
}


@pytest.mark.parametrize("source", list(_HONEST_USES.values()), ids=list(_HONEST_USES))
def test_a_students_uses_of_their_classes_and_settings_cost_nothing(source):
    _clean(_after_test_a(source))


_HANDED_BACK = {
    "partial's func": "import sys\nfrom functools import partial\n"
    "make = partial(DoubleConv, padding=True)\nmake.func.__init__(sys, 1, 2)",
    "a __dict__ of its own": "import sys\nclass Cfg:\n    @property\n    def __dict__(self):\n"
    "        return {}\n\ncfg = Cfg()\nsaved = dict(vars(cfg))",
    "a namespace rebound": "import sys, argparse\nargs = argparse.Namespace()\nargs = sys\n"
    "saved = dict(vars(args))",
}


@pytest.mark.parametrize("source", list(_HANDED_BACK.values()), ids=list(_HANDED_BACK))
def test_a_class_or_a_namespace_handed_back_still_costs(source):
    assert lost(_after_test_a(source))


_FORGER = """
class _Tidy:
    def handle(self, *args):
        return F.cross_entropy(torch.zeros(1, 2), torch.zeros(1).long())
"""


@pytest.mark.parametrize(
    "hands",
    [
        "import signal\n_tidy = _Tidy()\nsignal.signal(signal.SIGIO, _tidy.handle)",
        "import time\n_nap = _Tidy()\ntime.sleep = _nap.handle",
        "import atexit\n_obj = _Tidy()\natexit.register(_obj)",
    ],
    ids=["a bound method to a signal", "a bound method patched in", "an instance"],
)
def test_an_instance_of_a_class_using_torchs_loss_is_handed_over_as_its_class(hands):
    """Red team 33: a bound method of the student's object, given to the kernel's signals or put
    in place of time.sleep, rewrote the answer file with torch's loss after the harness wrote it;
    `obj.m` was read as data of `obj`, whose definition (`obj = Cls()`) is no class."""
    assert "loss" in lost(_after_setup(_FORGER + hands))


def test_a_class_defined_twice_keeps_only_the_data_of_both():
    """Red team 33: `take = 0` in one definition made `_Pick.take(F, name)` a read of data of
    the second, whose `take` returned `vars(self)[name]` of the module handed as `self`."""
    cell = (
        "class _Pick:\n    take = 0\n\nclass _Pick:\n    def take(self, name):\n"
        "        return vars(self)[name]\n"
    )
    answer = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        '    return _Pick.take(F, "cross" + "_entropy")(logits, target, weight=weight)\n'
    )
    assert "loss" in lost(_after_setup(cell, loss=answer))


def test_a_def_named_as_a_built_in_after_a_statement_that_may_raise_is_not_its_own():
    """Red team 33: a statement failing under grading kept the `def getattr` after it from
    binding: the answer's getattr(F, built name) was the built-in."""
    cell = 'assert "torch" not in dir()\ndef getattr(obj, name, *default):\n    return 0\n'
    answer = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        '    return getattr(F, "cross" + "_entropy")(logits, target, weight=weight)\n'
    )
    assert "loss" in lost(_after_setup(cell, loss=answer))


@pytest.mark.parametrize(
    "source",
    [
        "import signal\nsignal.signal(signal.SIGIO, print)",
        "import sys\nsys.setswitchinterval(1e-4)",
        "import time\ntime.sleep = print",
    ],
)
def test_signal_handlers_switch_intervals_and_patched_modules_are_flagged(source):
    assert flagged(_after_setup(source))


_VARS_BOX = "class Box:\n    def get(self, name):\n        return vars(self)[name]\n"
_TAKES = "def categorical_cross_entropy(logits, target, weight=None):\n    return {}\n"
_CE = '(F, "cross_" + "entropy")(logits, target, weight=weight)'
# red team 34: the relaxations of this round, each handed torch's loss to a blank answer
_RELAXED = {
    "a def under %%timeit": (
        "%%timeit -n1 -r1\ndef getattr(o, n):\n    return o\n",
        "getattr" + _CE,
    ),
    "a def deleted by a magic": (
        "def getattr(o, n):\n    return o\n\n%xdel getattr\n",
        "getattr" + _CE,
    ),
    "a def deleted by except": (
        "def getattr(o, n):\n    return o\n\ntry:\n    1 / 0\nexcept ZeroDivisionError as getattr:\n"
        "    pass\n",
        "getattr" + _CE,
    ),
    "a settings name as a parameter": (
        "from types import SimpleNamespace\ncfg = SimpleNamespace(lr=1e-3)\n"
        'def pick(cfg):\n    return vars(cfg)["cross_" + "entropy"]\n',
        "pick(F)(logits, target, weight=weight)",
    ),
    "a class as a key": (
        _VARS_BOX
        + "class Reg:\n    def __getitem__(self, k):\n        return k.get\nREG = Reg()\n",
        "REG[Box]" + _CE,
    ),
    "typing.overload": (
        "import typing\n@typing.overload\ndef _ce(logits, target, weight=None):\n"
        "    return F.cross_entropy(logits, target, weight=weight)\n",
        "typing.get_overloads(typing.SimpleNamespace)[0](logits, target, weight)",
    ),
    "a global by its key": (
        "hold = [F.cross_entropy]\n",
        'globals()["hold"][0](logits, target, weight=weight)',
    ),
    "a class by its key": (_VARS_BOX, 'globals()["Box"].get' + _CE),
    "partial's func in a pattern": (
        _VARS_BOX + "import functools\nPB = functools.partial(Box)\n"
        "match PB:\n    case functools.partial(func=c):\n        HELD = c\n",
        "HELD.get" + _CE,
    ),
    "a descriptor": (
        "HELD = []\nclass Desc:\n    def __get__(self, obj, owner):\n        HELD.append(owner)\n"
        "        return 0\n\n"
        + _VARS_BOX.replace("class Box:\n", "class Box:\n    x = Desc()\n")
        + 'hasattr(Box, "x")\n',
        "HELD[0].get" + _CE,
    ),
    "a subclass hook": (
        "import abc\nHELD = []\n"
        + _VARS_BOX.replace(
            "class Box:\n",
            "class Box(abc.ABC):\n"
            "    @classmethod\n    def __subclasshook__(cls, sub):\n        HELD.append(cls)\n"
            "        return NotImplemented\n\n",
        )
        + "issubclass(int, Box)\n",
        "HELD[0].get" + _CE,
    ),
    "a class method's cls": (
        _VARS_BOX.replace(
            "class Box:\n",
            "class Box:\n    @classmethod\n    def mk(cls):\n        return cls.get\n\n",
        ),
        "Box.mk()" + _CE,
    ),
    "data of another class": (
        "class A:\n    get = 0\n\nclass Box:\n    def _g(self, name):\n        return vars(self)[name]\n\n"
        "    get = _g\n",
        "type(Box()).get" + _CE,
    ),
    "an annotation read back": (
        "import inspect\n" + _VARS_BOX + "def describe(block: Box):\n    return block\n",
        'inspect.getfullargspec(describe)[6]["block"].get' + _CE,
    ),
    "an inherited method": (_VARS_BOX + "class Sub(Box):\n    pass\n", "Sub.get" + _CE),
    "the class's mro": (_VARS_BOX, "Box.__mro__[0].get" + _CE),
    "abc's register": (
        "import abc\nclass K(abc.ABC):\n    pass\n\n@K.register\nclass Hold:\n"
        "    def __call__(self, *a, **k):\n        return F.cross_entropy(*a, **k)\n",
        "Hold()(logits, target, weight=weight)",
    ),
}


@pytest.mark.parametrize("cell, returned", list(_RELAXED.values()), ids=list(_RELAXED))
def test_this_rounds_relaxations_hand_no_one_torchs_loss(cell, returned):
    assert "loss" in lost(_after_setup(cell, loss=_TAKES.format(returned)))


def test_what_an_instance_is_given_may_fill_its_class():
    """Red team 34: `b.put(F.cross_entropy)` stored torch's loss in a dict of the class's, which
    the answer read through a new instance (`Box().take()`); the change was b's only."""
    cell = (
        "class Box:\n    store = {}\n\n    def put(self, v):\n        self.store['h'] = v\n\n"
        "    def take(self):\n        return self.store['h']\n\nb = Box()\nb.put(F.cross_entropy)\n"
    )
    assert "loss" in lost(_after_setup(cell, loss=_TAKES.format("Box().take()(logits, target)")))
    honest = _DTYPE + "tiny = UNet(in_channels=1, num_classes=2)\ntiny = tiny.to(dt)"
    assert lost(_after_test_d(honest)) == set()


# honest round 11: the kit's settings (`PRESET, config = notebook_config(...)`, the TP's set-up
# cell) listed, copied or overridden by name cost every block tested after them (two at 0/30)
_KIT_SETTINGS = {
    "listed": "for k, v in vars(config.optim).items():\n    print(f'{k:>20s}: {v}')",
    "a dict of them": "print({k: v for k, v in vars(config.optim).items() if k != 'lr'})",
    "copied": "hp = dict(vars(config.optim))\nprint(hp)",
    "their __dict__": "for k, v in config.optim.__dict__.items():\n    print(k, v)",
    "overridden": "OVERRIDES = {'epochs': 8, 'batch_size': 16}\n"
    "for k, v in OVERRIDES.items():\n    setattr(config.optim, k, v)",
    "read by names": "for k in ('epochs', 'batch_size', 'lr'):\n    print(k, getattr(config.optim, k))",
}


# ... unless what holds a part could have been given another object
_SETTINGS_REPLACED = {
    "an attribute set": "config.optim = F",
    "set by name": "setattr(config, 'op' + 'tim', F)",
    "its namespace written": "vars(config)['op' + 'tim'] = F",
    "its __dict__ updated": "config.__dict__.update({'op' + 'tim': F})",
    "object.__setattr__": "object.__setattr__(config, 'op' + 'tim', F)",
    "super's __setattr__": "super(type(config), config).__setattr__('op' + 'tim', F)",
    "its class's attribute": "type(config).optim = F",
    "a function of the student's": "def f(c):\n    setattr(c, 'op' + 'tim', F)\n\n\nf(config)",
    "held in a list": "H = [config]\nsetattr(H[0], 'op' + 'tim', F)",
    "an alias": "c2 = config\nsetattr(c2, 'op' + 'tim', F)",
    "replaced": "import dataclasses\nconfig = dataclasses.replace(config, optim=F)",
}


@pytest.mark.parametrize("cell", list(_SETTINGS_REPLACED.values()), ids=list(_SETTINGS_REPLACED))
def test_a_part_of_the_kits_settings_that_may_hold_another_object_is_no_settings(cell):
    for read in (
        'vars(config.optim)["cross_" + "entropy"]',
        'getattr(config.optim, "cross_" + "entropy")',
    ):
        loss = _TAKES.format(read + "(logits, target, weight=weight)")
        assert "loss" in lost(_after_setup(cell, loss=loss)), read


def test_what_is_stored_in_the_kits_settings_is_followed():
    for cell, read in [
        ("setattr(config.optim, 'x', F)", 'getattr(vars(config.optim)["x"], "cross_" + "entropy")'),
        ("config.optim.x = F", 'vars(config.optim)["x"].cross_entropy'),
        ("setattr(config.optim, 'x' + '', F.cross_entropy)", 'vars(config.optim)["x"]'),
    ]:
        loss = _TAKES.format(read + "(logits, target, weight=weight)")
        assert "loss" in lost(_after_setup(cell, loss=loss)), cell


def test_importing_methodcaller_says_methodcaller():
    nb = notebook(extra="from operator import methodcaller")
    assert flagged(nb).count("reaches names built from strings") == 1
    assert "(operator.methodcaller)" in flagged(nb)


_GET = "    def get(self, name):\n        return vars(self)[name]\n"
_GOT_BY_NAME = 'Box().get("cross_" + "entropy")(logits, target, weight=weight)'
# red team 35: routes by which a class of the student's, or another object as `self`, reached a
# method reading `vars(self)`, each with a blank answer returning torch's loss
_CLASS_ROUTES = {
    "a class decorator of the student's": (
        "HELD = []\n\n\ndef reg(c):\n    HELD.append(c)\n    return c\n\n\n@reg\nclass Box:\n"
        + _GET,
        "HELD[0].get" + _CE,
    ),
    "__init_subclass__": (
        "HELD = []\n\n\nclass Box:\n    def __init_subclass__(cls, **kw):\n        HELD.append(cls)\n\n"
        + _GET
        + "\n\nclass Sub(Box):\n    pass\n",
        "HELD[0].get" + _CE,
    ),
    "__set_name__": (
        "HELD = []\n\n\nclass Desc:\n    def __set_name__(self, owner, name):\n"
        "        HELD.append(owner)\n\n\nclass Box:\n    x = Desc()\n\n" + _GET,
        "HELD[0].get" + _CE,
    ),
    "__mro_entries__": (
        "HELD = []\n\n\nclass Hook:\n    def __mro_entries__(self, bases):\n        HELD.extend(bases)\n"
        "        return ()\n\n\n" + _VARS_BOX + "\n\nclass Sub(Box, Hook()):\n    pass\n",
        "HELD[0].get" + _CE,
    ),
    "a metaclass of the student's": (
        "HELD = []\n\n\nclass Meta(type):\n    def __new__(mcs, name, bases, ns):\n"
        "        HELD.extend(bases)\n        return super().__new__(mcs, name, bases, ns)\n\n\n"
        + _VARS_BOX
        + "\n\nclass Sub(Box, metaclass=Meta):\n    pass\n",
        "HELD[0].get" + _CE,
    ),
    "super(Sub, Sub)": (_VARS_BOX + "\n\nclass Sub(Box):\n    pass\n", "super(Sub, Sub).get" + _CE),
    "type(x) held": (_VARS_BOX + "t = type(Box())\n", "t.get" + _CE),
    "x.__class__ held": (_VARS_BOX + "c = Box().__class__\n", "c.get" + _CE),
    "getattr(x, '__class__')": (_VARS_BOX + "c = getattr(Box(), '__class__')\n", "c.get" + _CE),
    "the class's mro through type(x)": (_VARS_BOX + "c = type(Box()).__mro__[0]\n", "c.get" + _CE),
    "a method returning type(self)": (
        "class Box:\n    def me(self):\n        return type(self)\n\n" + _GET,
        "Box().me().get" + _CE,
    ),
    "a method returning __class__": (
        "class Box:\n    def me(self):\n        return __class__\n\n" + _GET,
        "Box().me().get" + _CE,
    ),
    "self imported": (
        "class Box:\n    def get(self, name):\n        import torch.nn.functional as self\n"
        "        return vars(self)[name]\n",
        _GOT_BY_NAME,
    ),
    "self captured by a match": (
        "class Box:\n    def get(self, name):\n        match F:\n            case self:\n"
        "                return vars(self)[name]\n",
        _GOT_BY_NAME,
    ),
}


@pytest.mark.parametrize("cell, returned", list(_CLASS_ROUTES.values()), ids=list(_CLASS_ROUTES))
def test_a_class_handed_out_by_python_itself_is_loose(cell, returned):
    assert "loss" in lost(_after_setup(cell, loss=_TAKES.format(returned)))


@pytest.mark.parametrize(
    "reset", ["%reset_selective -f ^getatt", "get_ipython().reset_selective('get.ttr')"]
)
def test_a_reset_by_pattern_gives_the_built_in_back(reset):
    """Red team 35: the student's own `getattr`, deleted by a pattern that does not spell it."""
    nb = _after_setup("def getattr(o, n):\n    return o\n", loss=_TAKES.format("getattr" + _CE))
    insert_after(nb, "double_conv", reset)
    assert "loss" in lost(nb)


@pytest.mark.parametrize(
    "cell",
    [
        "class Net(nn.Module):\n    def __init__(self):\n        super(Net, self).__init__()\n"
        "        self.c = nn.Conv2d(1, 1, 1)\n\n    def describe(self):\n"
        "        return f'{type(self).__name__}: {vars(self)[\"training\"]}'\n\n\n"
        "print(Net().describe(), type(Net()) is Net, str(type(Net())))",
        "import dataclasses\n\n\n@dataclasses.dataclass\nclass Hp:\n    lr: float = 1e-3\n\n"
        "    def show(self):\n        return vars(self)\n\n\nprint(Hp().show(), type(Hp())(lr=1.0))",
    ],
)
def test_the_class_of_an_object_described_or_built_costs_nothing(cell):
    nb = notebook()
    insert_after(nb, "setup", cell)
    assert lost(nb) == set() and flagged(nb) == ""


# honest round 12: a class built in a loop (`setattr(self, f"conv{k}", ...)`) with any of these
# elsewhere cost 20 points (the class of an object read as handed out), or the kit's settings
# listed beside ordinary code
_LOOP_BUILT = (
    "class Stack(nn.Module):\n    def __init__(self, n):\n        super(self.__class__, self).__init__()\n"
    "        for k in range(n):\n            setattr(self, f'conv{k}', nn.Conv2d(1, 1, 1))\n"
    "        self.register_forward_hook(lambda self, inp, out: None)\n        self.n = n\n\n"
    "    @property\n    def first(self):\n        return getattr(self, 'conv0')\n\n"
    "    def forward(self, x):\n        for k in range(self.n):\n            x = getattr(self, f'conv{k}')(x)\n"
    "        return x\n\n\nsample = torch.zeros(1, 1, 2, 2)\n"
)
_HONEST_12 = {
    "a bare type(x)": "type(sample)",
    "types in a tuple": "type(sample), type(sample.shape)",
    "a TypeError's text": "if not torch.is_tensor(sample):\n    raise TypeError('got %s' % type(sample))",
    "a text's format": "print('{} {}'.format(type(sample), sample.dtype))",
    "compared beside classes with hooks": "class Meter:\n    def __float__(self):\n        return 0.0\n\n"
    "    def __eq__(self, o):\n        return False\n\n    def __contains__(self, o):\n        return False\n\n\n"
    "def init_weights(m):\n    if type(m) == nn.Conv2d or type(m) in (nn.Linear,) or type(m) is nn.ReLU:\n"
    "        nn.init.kaiming_normal_(m.weight)\n\n\nStack(1).apply(init_weights)",
    "logged through the library's handler": "import logging\nlog = logging.getLogger('unet')\n"
    "handler = logging.StreamHandler()\nhandler.setFormatter(logging.Formatter('%(message)s'))\n"
    "log.addHandler(handler)\nlog.info('init %s', type(sample))",
    "saved with the model's weights": "model = Stack(1)\n"
    "torch.save({'config': config, 'model': model.state_dict()}, 'ckpt.pt')\nprint(vars(config.optim))",
    "saved by a function": "import dataclasses, json\n\n\ndef save_config(path):\n"
    "    json.dump(dataclasses.asdict(config), open(path, 'w'), default=str)\n\n\n"
    "print(vars(config.optim))",
    "a class method building its class": "class Net(nn.Module):\n    @classmethod\n"
    "    def tiny(cls):\n        return cls()\n\n\nnet = Net.tiny()\nprint(type(net).__name__)",
    "logged": "import logging\nlog = logging.getLogger('tp')\nlog.info('%s', [type(t) for t in (sample,)])",
    "a dispatch table": "INITS = {nn.Conv2d: nn.init.kaiming_normal_}\ninit = INITS.get(type(sample))",
    "the settings pretty-printed": "from pprint import pprint\npprint(config)\nprint(vars(config.optim))",
    "their dict saved": "import dataclasses, json\nprint(json.dumps(dataclasses.asdict(config), default=str))\n"
    "for k, v in vars(config.optim).items():\n    print(k, v)",
    "a trainer's self.model": "class Trainer:\n    def __init__(self, model):\n        self.model = model\n\n\n"
    "for name, value in vars(config.model).items():\n    print(name, value)",
    "a part given a name": "opt = config.optim\nfor k, v in vars(opt).items():\n    print(k, v)",
    "a part replaced by the kit's way": "import dataclasses\n"
    "config.optim = dataclasses.replace(config.optim, epochs=2)\nprint(vars(config.optim))",
    "saved with the checkpoint": "torch.save({'config': config}, 'ckpt.pt')\nprint(vars(config.optim))",
}


@pytest.mark.parametrize(
    "cell", [*_KIT_SETTINGS.values(), *_HONEST_12.values()], ids=[*_KIT_SETTINGS, *_HONEST_12]
)
def test_a_class_described_or_the_settings_listed_beside_ordinary_code_cost_nothing(cell):
    nb = notebook()
    insert_after(nb, "setup", _LOOP_BUILT + cell)
    assert lost(nb) == set() and flagged(nb) == ""


_NEW_N = "'cross_' + 'entropy'"
# red team 36: the kit's settings reached another way, a plain class that is not, classes (or
# their methods) handed out by Python, each with a blank answer returning torch's loss
_ROUTES_36 = {
    "__main__'s config": (
        "import __main__\nsetattr(__main__.config, 'tools', F)",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "a kit method returning the settings": (
        "same = config.for_model(None)\nsetattr(same, 'tools', F)",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "a kit function calling the student's": (
        "from types import SimpleNamespace\nfrom unet_tp.notebook import predict_patient\n\n\n"
        "def hook(model, images):\n    setattr(model, 'tools', F)\n"
        "    return torch.zeros(len(images), 1, 1, dtype=torch.long)\n\n\n"
        "predict_patient(config, SimpleNamespace(image=np.zeros((4, 1, 1, 1))), hook, 'cpu')",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "__new__": (
        "class Args:\n    def __new__(cls):\n        return F\n\n\nargs = Args()",
        f"vars(args)[{_NEW_N}]",
    ),
    "an inherited __new__": (
        "class Base:\n    def __new__(cls):\n        return F\n\n\nclass Args(Base):\n    pass\n\n\nargs = Args()",
        f"vars(args)[{_NEW_N}]",
    ),
    "a descriptor's owner": (
        "HELD = []\n\n\nclass Grab:\n    def __get__(self, obj, owner):\n        HELD.append(owner)\n"
        "        return 0\n\n\n" + _VARS_BOX + "    x = Grab()\n\n\nBox().x",
        f"HELD[0].get(F, {_NEW_N})",
    ),
    "__class_getitem__": (
        "HELD = []\n\n\n"
        + _VARS_BOX
        + "\n    def __class_getitem__(cls, item):\n        HELD.append(cls)\n"
        "        return cls\n\n\ndef f(a: Box[0]):\n    pass",
        f"HELD[0].get(F, {_NEW_N})",
    ),
    "a class method's cls": (
        _VARS_BOX + "\n    @classmethod\n    def me(cls):\n        return cls",
        f"Box().me().get(F, {_NEW_N})",
    ),
    "super().__thisclass__": (
        _VARS_BOX + "\n    def k(self):\n        return super().__thisclass__",
        f"Box().k().get(F, {_NEW_N})",
    ),
    "object.__getattribute__": (
        _VARS_BOX,
        f"object.__getattribute__(Box(), '__class__').get(F, {_NEW_N})",
    ),
    "an exception's class": (
        "import sys\n\n\nclass Box(Exception):\n    def get(self, name):\n        return vars(self)[name]\n\n\n"
        "try:\n    raise Box()\nexcept Exception:\n    C = sys.exc_info()[0]",
        f"C.get(F, {_NEW_N})",
    ),
    "a method named in the class's body": (
        _VARS_BOX + "\n    sg = staticmethod(get)",
        f"Box().sg(F, {_NEW_N})",
    ),
    "a student's property": (
        "HELD = []\n\n\ndef property(f):\n    HELD.append(f)\n    return f\n\n\n"
        "class Box:\n    @property\n    def get(self, name):\n        return vars(self)[name]\n",
        f"HELD[0](F, {_NEW_N})",
    ),
    "a class of classes in a Counter": (
        "from collections import Counter\n" + _VARS_BOX + "\n\nc = Counter([type(Box())])",
        f"next(iter(c)).get(F, {_NEW_N})",
    ),
    "the settings in a list": (
        "same = next(iter([config]))\nsetattr(same, 'tools', F)",
        f"getattr(config.tools, {_NEW_N})",
    ),
}


_BOX_37 = "HELD = []\n\n\n" + _VARS_BOX + "\n\n"
# red team 37: where a class or the settings went "nowhere", code of the student's ran with them
_ROUTES_37 = {
    "an __eq__ of the student's": (
        _BOX_37
        + "class Eq:\n    def __eq__(self, o):\n        HELD.append(o)\n        return False\n\n\n"
        "Eq() == type(Box())",
        f"HELD[0].get(F, {_NEW_N})",
    ),
    "a __mod__ of the student's": (
        "class Fmt:\n    def __mod__(self, o):\n        setattr(o, 'tools', F)\n        return ''\n\n\n"
        "Fmt() % config",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "a __getitem__ of the student's": (
        _BOX_37
        + "class Keys:\n    def __getitem__(self, k):\n        HELD.append(k)\n        return 0\n\n\n"
        "Keys()[type(Box())]",
        f"HELD[0].get(F, {_NEW_N})",
    ),
    "an __instancecheck__ of the student's": (
        _BOX_37 + "class Chk:\n    def __instancecheck__(self, o):\n        HELD.append(o)\n"
        "        return False\n\n\nisinstance(type(Box()), Chk())",
        f"HELD[0].get(F, {_NEW_N})",
    ),
    "an assert's message caught": (
        "try:\n    assert False, config\nexcept AssertionError as e:\n    setattr(e.args[0], 'tools', F)",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "a library comparing with the student's object": (
        "class K:\n    def __gt__(self, o):\n        setattr(o, 'tools', F)\n        return False\n\n\n"
        "k = K()\nmax([config, k])",
        f"getattr(config.tools, {_NEW_N})",
    ),
    "a logging filter of the student's": (
        "import logging\n\n\ndef grab(r):\n    setattr(r.args[0], 'tools', F)\n    return False\n\n\n"
        "log = logging.getLogger('x')\nlog.addFilter(grab)\nlog.warning('%s', config)",
        f"getattr(config.tools, {_NEW_N})",
    ),
}


_GET_38 = "    def get(self, name):\n        return getattr(self, name)\n\n"
# red team 38: a class method under another name, or a static method's name given to it
_ROUTES_38 = {
    "classmethod under another name": (
        "cm = classmethod\n\n\nclass Box:\n" + _GET_38 + "    @cm\n    def me(cls):\n"
        "        return cls",
        f"Box().me().get(F, {_NEW_N})",
    ),
    "classmethod imported under another name": (
        "from builtins import classmethod as cm\n\n\nclass Box:\n" + _GET_38 + "    @cm\n"
        "    def me(cls):\n        return cls",
        f"Box().me().get(F, {_NEW_N})",
    ),
    "a decorator of the student's": (
        "def cm(f):\n    return classmethod(f)\n\n\nclass Box:\n" + _GET_38 + "    @cm\n"
        "    def me(cls):\n        return cls",
        f"Box().me().get(F, {_NEW_N})",
    ),
    "staticmethod bound to classmethod": (
        "staticmethod = classmethod\n\n\nclass Box:\n" + _GET_38 + "    @staticmethod\n"
        "    def leak(cls):\n        return cls",
        f"Box.leak().get(F, {_NEW_N})",
    ),
}
# red team 39: a library's base forwarding every attribute of self (tqdm's ObjectWrapper)
_ROUTES_38["a base forwarding self's attributes"] = (
    "from tqdm.utils import ObjectWrapper\n\n\nclass Box(ObjectWrapper):\n"
    "    def get(self, name):\n        return getattr(self, name)",
    f"Box(F).get({_NEW_N})",
)
_ROUTES = {**_ROUTES_36, **_ROUTES_37, **_ROUTES_38}


@pytest.mark.parametrize("cell, returned", _ROUTES.values(), ids=list(_ROUTES))
def test_python_the_kit_and_what_shows_them_hand_out_no_class_or_settings_unseen(cell, returned):
    loss = "def categorical_cross_entropy(logits, target, weight=None):\n"
    loss += f"    return {returned}(logits, target, weight=weight)\n"
    assert "loss" in lost(_after_setup(cell, loss=loss))


def test_reading_a_notebook_imports_none_of_the_kit_it_names():
    """Red team 38: a cell that never runs named ``unet_tp.__main__`` and gave it the settings;
    the reading of the settings' uses imported it to read its signature, which ran the grader's
    own command line inside the grader (a second grading, the two waiting on each other for
    ever). The kit's signatures are read from its source: nothing it names is imported."""
    import sys

    cell = (
        "if False:\n    import unet_tp.__main__\n    unet_tp.__main__.show(config)\n"
        "    print(getattr(config.optim, 'l' + 'r'))"
    )
    nb = insert_after(notebook(), "setup", cell)
    before = set(sys.modules)
    lost(nb), flagged(nb)
    assert "unet_tp.__main__" not in sys.modules
    assert not {m for m in set(sys.modules) - before if m.startswith("unet_tp")}
    # the kit's functions are read all the same: their `config` is the settings' reader
    assert static._kit_parameters("unet_tp.runs.train_or_resume")[3] == "config"
    main = static._kit_parameters("unet_tp.__main__.main")  # (its import followed, not run)
    assert main == static._kit_parameters("unet_tp.cli.main") is not None


def test_a_loop_built_network_with_decorated_methods_keeps_its_points():
    """Red team 38's fix reads the decorators of a class's methods: a property and its setter,
    torch's no_grad, functools' cache, static and class methods keep the class's own ``self``
    (a loop-built U-Net reaching its layers by name keeps its points)."""
    cell = (
        "import functools\n\n\nclass Stack(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        for i in range(2):\n"
        "            setattr(self, f'down{i}', nn.Identity())\n\n"
        "    def forward(self, x):\n        for i in range(2):\n"
        "            x = getattr(self, f'down{i}')(x)\n        return x\n\n"
        "    @property\n    def depth(self):\n        return 2\n\n"
        "    @depth.setter\n    def depth(self, value):\n        print(value)\n\n"
        "    @torch.no_grad()\n    def predict(self, x):\n        return self(x).argmax(1)\n\n"
        "    @functools.lru_cache(maxsize=None)\n    def width(self, k):\n        return 2**k\n\n"
        "    @staticmethod\n    def info():\n        return 'stack'\n\n"
        "    @classmethod\n    def make(cls):\n        return cls()\n\n\n"
        "net = Stack.make()\nprint(net.predict(torch.zeros(1, 2, 4, 4)).shape, Stack.info())"
    )
    nb = insert_after(notebook(), "unet", cell)
    assert lost(nb) == set() and flagged(nb) == ""


def test_a_cell_read_while_another_grading_thread_reads_one_parses():
    """`grade --jobs 2` reads two notebooks at once; CPython 3.11 counts its tree conversion's
    depth in one counter for all threads (a CI run: "SystemError: AST constructor recursion
    depth mismatch", a whole notebook ungraded). Here a collection in the middle of one parse has
    another thread parse a cell, the interleaving that broke it, every time."""
    import gc
    import threading

    cell = "x = " + "(" * 30 + "[1, 2]" + ")" * 30 + "\n!ls {x}\n"
    static.parse(cell)  # (IPython's transformer imported before the race)
    other = []

    class Interrupts:
        """Garbage whose collection has another thread parse a cell and wait for it."""

        def __init__(self):
            self.me = self

        def __del__(self):
            reader = threading.Thread(target=lambda: other.append(static.parse(cell)))
            reader.start()
            reader.join(timeout=0.3)  # (it waits for the lock where the parse holds it)

    threshold = gc.get_threshold()
    gc.collect()
    gc.disable()
    Interrupts()
    gc.set_threshold(5)
    gc.enable()
    try:
        tree = static.parse(cell)
    finally:
        gc.set_threshold(*threshold)
    for _ in range(50):
        if other:
            break
        threading.Event().wait(0.1)
    assert tree is not None and other and other[0] is not None


@pytest.mark.parametrize(
    "line",
    [
        "time from scipy.spatial.distance import hamming; dice_score = lambda p, t: "
        "1 - hamming(p.ravel(), t.ravel(), w=p.ravel() + t.ravel())",
        "prun -q from sklearn.metrics import f1_score; dice_score = lambda p, t: f1_score(t, p)",
        "time(dice_score := __import__('sklearn.metrics').metrics.f1_score)",
    ],
    ids=["time_statement", "prun_statement", "time_call"],
)
def test_a_one_line_cell_is_read_as_ipython_runs_it(line):
    """Red team 48: IPython runs a one-line cell's first word as a line magic (automagic, the
    prefilter: `time x = ...` is `%time x = ...`), which is no Python to the reading: such a cell
    was left unread, a library's Dice in it 20/20 unflagged. Read as the magic it is, it costs
    its block; honest one-line commands and Python lines cost nothing."""
    nb = insert_after(notebook({"predict_dice": STUBS["predict_dice"]}), "predict_dice", line)
    assert "predict_dice" in lost(nb)
    for honest in ("pip install nibabel", "pwd", "ls", "time x = 1 + 1", "time = 3", "print(1)"):
        nb = insert_after(notebook(), "predict_dice", honest)
        assert not lost(nb) and not flagged(nb), honest
    # a name of the notebook's shown, or its function called, on a line of its own: no magic
    # (IPython's automagic yields to a name the notebook binds)
    for binding, line in [
        ("run = {'loss': 1.0}", "run"),
        ("def rerun(x):\n    return x", "rerun(1)"),
    ]:
        nb = insert_after(insert_after(notebook(), "training", binding), "evaluate", line)
        assert not lost(nb) and not flagged(nb), line
        assert flagged(insert_after(notebook(), "evaluate", line)), line  # (unbound: the magic)


_SEQUENCE_DICE = """@torch.no_grad()
def predict(model, images):
    model.eval()
    return model(images).max(dim=1).indices

{imports}

def dice_score(pred, truth):
    p, t = np.flatnonzero(pred).tolist(), np.flatnonzero(truth).tolist()
    return {ratio}
"""


@pytest.mark.parametrize(
    "imports, ratio",
    [
        ("import difflib", "difflib.SequenceMatcher(None, p, t, autojunk=False).ratio()"),
        ("from difflib import SequenceMatcher as S", "S(None, p, t).ratio()"),
        ("from rapidfuzz.distance import Indel", "Indel.normalized_similarity(p, t)"),
        # red team 51: its compiled module, under none of the names above
        ("from rapidfuzz import fuzz_cpp", "fuzz_cpp.QRatio(p, t) / 100"),
        ("import textdistance", "textdistance.sorensen_dice(p, t)"),
    ],
    ids=["difflib", "difflib_alias", "rapidfuzz", "rapidfuzz_compiled", "textdistance"],
)
def test_a_sequence_similarity_that_is_the_dice_costs_g(imports, ratio):
    """Red team 50: difflib's ratio of the two masks' sorted index lists is 2M / T, the Dice
    exactly (so are rapidfuzz's Indel and textdistance's Sorensen-Dice): (g) 2/2, unflagged."""
    assert "predict_dice" in lost(
        notebook({"predict_dice": _SEQUENCE_DICE.format(imports=imports, ratio=ratio)})
    )


def test_a_name_rebound_thousands_of_times_is_read_once_per_block(monkeypatch):
    """Red team 50: `w.a = w; w = w.a` 5,000 times kept a class's grading 4 minutes in the
    grader's own reading (each statement read all of w's; w's path grew by one `.a` each time):
    each name is read once per block, and a path that long is no library's."""
    from autograder.spec import load as load_spec

    nb = notebook()
    insert_after(nb, "setup", "class Box:\n    pass\n\n\nw = Box()\n" + "w.a = w\nw = w.a\n" * 300)
    calls = []
    real = static._own_callable_uses
    monkeypatch.setattr(static, "_own_callable_uses", lambda *a: calls.append(a[1].id) or real(*a))
    code = static.read(nb)
    assert "w" not in code.aliases or code.aliases["w"].count(".") <= static.MAX_ALIAS_PARTS
    static.forbidden_calls(code, load_spec(), [f"cell {i}" for i in range(len(nb.cells))])
    assert 0 < calls.count("w") <= 2 * len(load_spec().blocks)  # (called and uncalled)


def test_a_name_built_with_a_number_hides_no_getattr():
    """Red team 52: `"cross_entropy%.0s" % 0` was read as a name that can be no string (the
    number held none, so the built name none): `getattr(F, ...)` gave torch's loss unread, and
    `getattr(sys, "getprofile%.0s" % 0)().__self__` the watch of what an answer runs, (e) 4/4
    and (g) 2/2 with the libraries' own functions; a number in an f-string is read as it is."""
    loss = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    f = F\n"
        '    return getattr(f, "cross_entropy%.0s" % 0)(logits, target.long(), weight=weight)\n'
    )
    nb = notebook({"cce_loss": loss})
    assert "loss" in lost(nb)
    assert 'getattr(f, "cross_entropy%.0s" % 0)' in flagged(nb)
    nb = notebook(extra='import sys\nm = sys\nw = getattr(m, "getprofile%.0s" % 0)()\n')
    assert "builds a name from a string" in flagged(nb)
    nb = notebook(extra='import torch.nn as nn\nlayer = getattr(nn, f"Conv{2}d")(1, 1, 3)\n')
    assert flagged(nb) == "" and lost(nb) == set()


def test_names_built_from_names_built_many_times_are_read_in_bounded_steps(monkeypatch):
    """Red team 52: `a{i} = a{i-1} + ... (20 times)`, 12 deep, then `getattr(nn, a12 + "ReLU")`
    kept the grader's own reading of the class's first notebook for ever (20**12 readings):
    each value is read once, within a budget of readings."""
    import ast

    from autograder import held

    lines = ['a0 = ""'] + [f"a{i} = " + " + ".join([f"a{i - 1}"] * 20) for i in range(1, 13)]
    lines += ["import torch.nn as nn", 'act = getattr(nn, a12 + "ReLU")']
    assert "builds a name from a string" in flagged(notebook(extra="\n".join(lines)))
    tree = ast.parse("\n".join(lines))
    reading = held.HeldStrings([tree])
    name = tree.body[-1].value.args[1]  # a12 + "ReLU"
    found = reading.values(name, (0,))
    assert found in ({"ReLU"}, None) and 0 < reading._steps <= held._MAX_STEPS


def test_a_name_read_from_a_dicts_keys_is_read_for_each_dict():
    """The review of red team 52's mend: the readings' memo was keyed by a node's id, and the
    nodes made for a dict's keys, freed, gave theirs to the next dict's: `for name in
    BAD.keys()` was read as SAFE's names, and torch's loss unread."""
    loss = (
        "BAD = dict(CrossEntropyLoss=1)\nSAFE = dict(ReLU=1)\n"
        "for zzname in BAD.keys():\n    pass\nfor zzname in SAFE.keys():\n    pass\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return getattr(nn, zzname)(weight=weight)(logits, target.long())\n"
    )
    assert "loss" in lost(notebook({"cce_loss": loss}))


def test_a_literal_getattr_of_a_forbidden_function_and_a_class_bodys_names_are_read():
    """Red team 55 (caught at run time, read here too): `getattr(distance, "dice")` was not read
    against (g)'s dotted paths, and a class body's `n = "relu"` inside the loss was read as the
    function's `n` (the global "cross_entropy" unread)."""
    dice = SOLUTIONS["predict_dice"].replace(
        "def dice_score(pred, truth):",
        "import scipy.spatial.distance as D\n\n\ndef dice_score(pred, truth):\n"
        "    return float(1 - getattr(D, 'dice')(pred.ravel(), truth.ravel()))",
    )
    assert "predict_dice" in lost(notebook({"predict_dice": dice}))
    loss = (
        "n = 'cross_' + 'entropy'\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    class C:\n        n = 'relu'\n\n"
        "    return getattr(torch.nn.functional, n)(logits, target, weight=weight)\n"
    )
    assert "loss" in lost(notebook({"cce_loss": loss}))


def test_a_name_held_by_a_class_attribute_of_the_notebooks_is_read():
    """Honest round 24: `getattr(nn, Config.activation)` (a class of the student's holding the
    name) was unknown, and cost every block after DoubleConv: read as the class's attribute,
    and whatever the notebook sets it to elsewhere."""
    config = 'class Config:\n    activation = "ReLU"\n\n\n'
    honest = config + "layer = getattr(nn, Config.activation)(inplace=True)\n"
    assert lost(notebook(extra=honest)) == set() and flagged(notebook(extra=honest)) == ""
    loss = (
        config + 'Config.activation = "cross_" + "entropy"\n\n\n'
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return getattr(F, Config.activation)(logits, target.long(), weight=weight)\n"
    )
    assert "loss" in lost(notebook({"cce_loss": loss}))


def test_a_named_lambdas_default_is_read_as_a_functions():
    """Honest rounds 22-24: `act = lambda name="ReLU": getattr(nn, name)(inplace=True)` was
    unknown and cost every block; a lambda a plain assignment names is read from its calls, as
    a function is, and what they hand it still counts."""
    lam = 'act = lambda name="ReLU": getattr(nn, name)(inplace=True)\n'
    nb = notebook(extra=lam + "layer = act()\n")
    assert lost(nb) == set() and flagged(nb) == ""
    loss = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return make(logits, target.long(), weight=weight)\n"
    )
    lam_f = 'make = lambda name="relu": getattr(F, name)\n'
    called = lam_f + "make = make('cross_' + 'entropy')\n" + loss
    assert "loss" in lost(notebook({"cce_loss": called}))
    handed = lam_f + "makers = [make]\nmake = makers[0]('cross_entropy')\n" + loss
    assert "loss" in lost(notebook({"cce_loss": handed}))


def test_torchs_own_reduction_by_a_held_name_costs_nothing():
    """Honest rounds 22-24: `getattr(torch, reduction)(per_pixel)` with `reduction="mean"` cost
    (e); torch's or NumPy's function of a reduction's name is read as a tensor's method is,
    another module's (`torch.special`) or another name is not (red team 14's "mean" that was
    "_ctc_loss" is the run-time watch's: torch's private twins of a loss are told)."""
    loss = SOLUTIONS["cce_loss"].replace("weight=None)", 'weight=None, reduction="mean")')
    loss = loss.replace("return per_pixel.mean()", "return getattr(torch, reduction)(per_pixel)")
    assert "getattr(torch, reduction)" in loss
    assert lost(notebook({"cce_loss": loss})) == set()
    assert flagged(notebook({"cce_loss": loss})) == ""
    special = loss.replace("getattr(torch,", "getattr(torch.special,")
    assert "loss" in lost(notebook({"cce_loss": special}))
    other = loss.replace('reduction="mean"', 'reduction="cross_entropy"')
    assert "loss" in lost(notebook({"cce_loss": other}))


def test_a_library_of_any_name_patched_is_flagged_and_its_settings_are_not():
    """Red team 56: `nx.common_neighbors = nx.common_neighbors.__wrapped__` (networkx's
    compile taken away) went unflagged: the text's rule named a fixed list of modules. An
    attribute set on what any import binds is flagged; a library's settings are not."""
    patched = "import networkx as nx\n\nnx.common_neighbors = nx.common_neighbors.__wrapped__\n"
    assert "patches a library" in flagged(notebook(extra=patched))
    assert "patches a library" in flagged(notebook(extra="import pandas as pd\ndel pd.concat\n"))
    added = "from pathlib import Path\n\nPath.ls = lambda self: sorted(self.iterdir())\n"
    assert flagged(notebook(extra=added)) == ""  # (Colab's habit: an attribute added)
    getattr_added = "import pathlib\n\npathlib.__getattr__ = print\n"
    assert "patches a library" in flagged(notebook(extra=getattr_added))
    honest = (
        "import pandas as pd\nimport torch.backends.cudnn as cudnn\nimport matplotlib as mpl\n"
        "from tqdm import tqdm\n\npd.options.display.max_rows = 20\ncudnn.benchmark = True\n"
        "mpl.rcParams['figure.dpi'] = 120\ntqdm.monitor_interval = 0\n\n\n"
        "def f(nx):\n    nx.value = 1\n"
    )
    assert flagged(notebook(extra=honest)) == ""


def test_networkx_and_scipys_other_boolean_dissimilarities_cost_the_dice():
    """Red team 56: networkx's jaccard_coefficient of a mask node and a truth node, and SciPy's
    Russell-Rao over the union of the masks, are Jaccard's: the Dice by 2J / (1 + J); so is
    torchvision's box_iou of two boxes laid on a line (red team 60). A training loop of torch's
    test suite costs the training step."""
    for helper, body in (
        ("import networkx as nx", "g = nx.Graph()\n    (_, _, j), = nx.jaccard_coefficient(g, [('P', 'T')])"),
        ("from scipy.spatial import distance", "u = pred | truth\n    j = 1.0 - distance.russellrao(pred[u], truth[u])"),
        # red team 60: the boxes [0, |P|) and [|P - T|, |P - T| + |T|) of a line
        ("from torchvision.ops import box_iou", "b = torch.tensor([[0.0, 0, 3, 1], [1, 0, 4, 1]])\n    j = float(box_iou(b[:1], b[1:])[0, 0])"),
    ):  # fmt: skip
        dice = SOLUTIONS["predict_dice"].replace(
            "def dice_score(pred, truth):",
            f"{helper}\n\n\ndef dice_score(pred, truth):\n    {body}\n    return 2 * j / (1 + j)\n",
        )
        assert "predict_dice" in lost(notebook({"predict_dice": dice})), helper
    loop = (
        "from torch.testing._internal.common_quantization import train_one_epoch\n\n\n"
        "def train_step(model, images, labels, optimizer, loss_fn):\n"
        "    train_one_epoch(model, loss_fn, optimizer, [(images, labels)], images.device, 1)\n"
    )
    assert "train_step" in lost(notebook({"train_step": loop}))


def test_a_function_handed_to_a_library_that_calls_it_is_read_as_unknown():
    """Red team 57: `np.vectorize(fetch)` (a lambda or a def whose default is "mean") was
    called with names built from `dir(F)`: read as a library's check handed the function, its
    `getattr(owner, reduction)` held "mean" only. A function handed alone to a library call is
    unknown, but to the kit's checks and training or to what only reads it."""
    fetch = 'fetch = lambda owner, reduction="mean": getattr(owner, reduction)\n'
    loss = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    return get(F, next(n for n in dir(F) if n.startswith('cross_en')))\n"
    )
    for handed in ("np.vectorize(fetch, otypes=[object])", "np.vectorize(pyfunc=fetch)"):
        nb = notebook({"cce_loss": f"{fetch}get = {handed}\n\n\n{loss}"})
        assert "loss" in lost(nb) and "builds a name from a string" in flagged(nb)
    honest = (
        'def init_weights(m, kind="kaiming_normal_"):\n    if isinstance(m, nn.Conv2d):\n'
        "        getattr(nn.init, kind)(m.weight)\n\n\n"
        "model = nn.Sequential(nn.Conv2d(1, 2, 3))\nmodel.apply(init_weights)\n"
        "print(init_weights)\n"
    )
    assert lost(notebook(extra=honest)) == set() and flagged(notebook(extra=honest)) == ""


def test_honest_names_of_the_sixth_hunt_are_read():
    """Honest round 26, each 0/20 (every block after DoubleConv uncredited): a class attribute
    as getattr's name beside `setattr(self, f"down{i}", Down(...))` (any setattr of an unspelt
    name made every attribute unknown), a loop over `[...] if batch_norm else [...]`, and
    `cfg = cfg or {"act": "ReLU"}`. A setattr of a module keeps attributes read; of a string,
    or of a str subclass's object, does not."""
    dc = (
        SOLUTIONS["double_conv"]
        .replace(
            "class DoubleConv(nn.Module):",
            'class DoubleConv(nn.Module):\n    activation = "ReLU"\n',
        )
        .replace("nn.ReLU(inplace=True)", "getattr(nn, self.activation)(inplace=True)")
    )
    holder = (
        "class Holder(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        for i in range(3):\n"
        "            setattr(self, f'down{i + 1}', Down(2, 4))\n"
        "            setattr(self, f'conv{i}', nn.Conv2d(1, 1, 3))\n"
    )
    nb = notebook({"double_conv": dc}, extra=holder)
    assert lost(nb) == set() and flagged(nb) == ""
    for setter in (
        'for k, v in {"activation": "CrossEntropyLoss"}.items():\n    setattr(DoubleConv, k, v)\n',
        'class S(str):\n    pass\n\n\nsetattr(DoubleConv, "activ" + "ation", S("Cross"))\n',
    ):
        assert "double_conv" in lost(notebook({"double_conv": dc}, extra=setter)), setter
    looped = SOLUTIONS["double_conv"].replace(
        "            if batch_norm:\n                layers.append(nn.BatchNorm2d(out_channels))\n"
        "            layers.append(nn.ReLU(inplace=True))",
        '            for name in (["BatchNorm2d", "ReLU"] if batch_norm else ["ReLU"]):\n'
        '                layers.append(getattr(nn, name)(out_channels) if name != "ReLU" '
        "else getattr(nn, name)(inplace=True))",
    )
    assert "for name in" in looped
    assert lost(notebook({"double_conv": looped})) == set()
    defaulted = (
        SOLUTIONS["double_conv"]
        .replace("batch_norm=False):", "batch_norm=False, cfg=None):")
        .replace(
            "        pad = 1 if padding else 0",
            '        cfg = cfg or {"act": "ReLU", "k": 3}\n        pad = 1 if padding else 0',
        )
        .replace("nn.ReLU(inplace=True)", 'getattr(nn, cfg["act"])(inplace=True)')
    )
    assert "cfg or" in defaulted and lost(notebook({"double_conv": defaulted})) == set()
    other = defaulted.replace('"act": "ReLU"', '"act": "CrossEntropyLoss"')
    assert lost(notebook({"double_conv": other})) == {"loss"}  # (read: torch's loss)


def _through_pick(pick: str) -> str:
    """``pick`` (a ``_pick(obj, key)`` of a red team's) and a loss calling torch's through it."""
    return pick + LOSS.format(
        'return _pick(F, "".join(("cross", "_entropy")))(logits, target.long())'
    )


def test_a_functions_own_dict_named_like_the_notebooks_settings_is_read():
    """DoubleConv's `config=None` (`config = config or {"act": "ReLU"}`) lost every block: the
    notebook hands its own `config` (the kit's settings) to functions, and a container handed on
    was unknown by its name anywhere. It is unknown where its binding is seen: the function's
    own `config` handed on inside it (or in a lambda there) is unknown still."""
    own = _configured_block(
        ", config=None",
        'getattr(nn, config["act"])',
        '        config = config or {"act": "ReLU"}\n',
    )
    assert "config or" in own and lost(notebook({"double_conv": own})) == set()
    # honest round 29: the default by `if ... else`, or a dataclass's instance made by `or`
    tested = own.replace("config or {", "config if config is not None else {")
    assert "else {" in tested and lost(notebook({"double_conv": tested})) == set()
    made = (
        own.replace('config = config or {"act": "ReLU"}', "config = config or Cfg()")
        .replace('config["act"]', "config.act")
        .replace(
            "class DoubleConv",
            '@dataclass\nclass Cfg:\n    act: str = "ReLU"\n\n\nclass DoubleConv',
        )
    )
    made = "from dataclasses import dataclass\n" + made
    assert "config.act" in made and lost(notebook({"double_conv": made})) == set()
    evil = made.replace('act: str = "ReLU"', 'act: str = "CrossEntropyLoss"')
    assert "loss" in lost(notebook({"double_conv": evil}))
    tweak = 'def _tweak(c):\n    c["act"] = "CrossEntropyLoss"\n\n\n'
    for handed in ("_tweak(config)", "(lambda: _tweak(config))()"):
        changed = tweak + own.replace(
            "        pad = 1 if padding else 0",
            f"        {handed}\n        pad = 1 if padding else 0",
        )
        assert lost(notebook({"double_conv": changed})) >= {"double_conv", "loss"}, handed
    # the parameter rebound to what getattr found (honest round 29): its strings, the default's
    rebound = (
        SOLUTIONS["double_conv"]
        .replace("batch_norm=False):", 'batch_norm=False, activation="ReLU"):')
        .replace(
            "        pad = 1 if padding else 0",
            "        activation = getattr(nn, activation)\n        pad = 1 if padding else 0",
        )
        .replace("nn.ReLU(inplace=True)", "activation(inplace=True)")
    )
    assert lost(notebook({"double_conv": rebound})) == set()
    for name in ('"__name__"', '"CrossEntropyLoss"'):  # (a string of the module's: unknown)
        other = rebound.replace('activation="ReLU"', f"activation={name}").replace(
            "        pad = 1 if padding else 0",
            "        self.f = getattr(F, getattr(nn, activation))\n        pad = 1 if padding else 0",
        )
        assert lost(notebook({"double_conv": other})) >= {"double_conv", "loss"}, name


def test_a_dict_handed_to_a_function_of_the_notebooks_is_read_as_that_function_reads_it():
    """A config handed from Down to DoubleConv (``DoubleConv(..., config=config)``) lost every
    block, as would any container handed to a function: one of the notebook's own top-level
    functions or plain classes whose parameter only reads it leaves it as it was; one that
    changes it, keeps it, hands it on elsewhere, or may be another function does not."""
    block = 'CONFIG = {"act": "ReLU"}\n\n\n' + _configured_block(
        ", config=None", 'getattr(nn, config["act"])', "        config = config or CONFIG\n"
    )
    for handed in ("config=config", "config", "config=CONFIG", "CONFIG"):
        down = (
            SOLUTIONS["down"]
            .replace("batch_norm=False):", "batch_norm=False, config=None):")
            .replace("padding, batch_norm)", f"padding, batch_norm, {handed})")
        )
        assert lost(notebook({"double_conv": block, "down": down})) == set(), handed
    use = LOSS.format('return getattr(F, held["k"])(logits, target.long())')
    read = 'def look(c):\n    return len(c)\n\n\nheld = {"k": "sum"}\nlook(held)\n'
    assert lost(notebook({"cce_loss": read + use})) == set()
    changed = {  # (each a way of changing `held` once handed to `tweak`)
        "keyed": 'def tweak(c):\n    c["k"] = "cross_entropy"\n',
        "alias": 'def tweak(c):\n    g = c\n    g.update(k="cross_entropy")\n',
        "method": 'def tweak(c):\n    c.__setitem__("k", "cross_entropy")\n',
        "kept": "box = []\n\n\ndef tweak(c):\n    box.append(c)\n",
        "kwargs": 'def tweak(**kw):\n    kw["c"]["k"] = "cross_entropy"\n',
        "positional-only": 'def tweak(c=0, /, **kw):\n    kw["c"]["k"] = "cross_entropy"\n',
        # red team 70: an __init__ static, or bound again in its class; a * import's name
        "static init": (
            "class tweak:\n    @staticmethod\n    def __init__(c, d=None):\n"
            '        c["k"] = "cross_entropy"\n'
        ),
        "init bound again": (
            'def _t(self, c):\n    c["k"] = "cross_entropy"\n\n\n'
            "class tweak:\n    def __init__(self, c):\n        pass\n\n    if True:\n"
            "        __init__ = _t\n"
        ),
        "star import": "def tweak(c, k=None, v=None):\n    pass\n\n\nfrom operator import *\n",
        "recursive": 'def tweak(c, n=1):\n    if n:\n        tweak(c, n - 1)\n    c["k"] = "x"\n',
        "decorated": "import functools\n\n\n@functools.cache\ndef tweak(c):\n    pass\n",
        "nested": 'def tweak(c):\n    pass\n\n\ndef f():\n    def tweak(c):\n        c["k"] = 1\n',
        "metaclass": (
            'class M(type):\n    def __call__(cls, c):\n        c["k"] = "cross_entropy"\n\n\n'
            "class tweak(metaclass=M):\n    def __init__(self, c):\n        pass\n"
        ),
        "base's new": (
            'class B:\n    def __new__(cls, c):\n        c["k"] = "cross_entropy"\n'
            "        return object.__new__(cls)\n\n\n"
            "class tweak(B):\n    def __init__(self, c):\n        pass\n"
        ),
    }
    for how, tweak in changed.items():
        handed = (
            tweak + '\n\nheld = {"k": "sum"}\ntweak(c=held)\n'
            if how in ("kwargs", "positional-only")
            else (tweak + '\n\nheld = {"k": "sum"}\ntweak(held)\n')
        )
        nb = notebook({"cce_loss": handed + use})
        assert "loss" in lost(nb) and "getattr" in flagged(nb), how


def test_defaults_merged_by_dict_shown_or_written_as_json_are_read():
    """Honest configs lost every block: ``dict(DEFAULTS, **(config or {}))`` (read as the
    literal ``{**DEFAULTS, **(config or {})}``), ``display(DEFAULTS)``, ``json.dumps(DEFAULTS,
    indent=2)``; an encoder or ``default=`` of the student's is handed the dict, unknown."""
    top = 'import json\n\nDEFAULTS = {"act": "ReLU"}\n'
    merged = "        cfg = dict(DEFAULTS, **(config or {}))\n"
    block = _configured_block(", config=None", 'getattr(nn, cfg["act"])', merged)
    shows = ["display(DEFAULTS)", "print(json.dumps(DEFAULTS, indent=2))"]
    shows.append("from pprint import pprint\n\npprint(DEFAULTS)")  # (honest round 34)
    shows.append("DEFAULTS = DEFAULTS.copy()")
    for shown in ["", *(f"{show}\n" for show in shows)]:
        assert lost(notebook({"double_conv": top + shown + "\n\n" + block})) == set(), shown
    use = LOSS.format('return getattr(F, held["k"])(logits, target.long())')
    encoder = (
        "class E(json.JSONEncoder):\n    def encode(self, c):\n"
        '        c["k"] = "cross_entropy"\n        return ""\n\n\n'
    )
    for given in ("json.dumps(held, cls=E)", "json.dumps(held, default=E().encode)"):
        nb = notebook({"cce_loss": f'import json\n{encoder}held = {{"k": "sum"}}\n{given}\n{use}'})
        assert "loss" in lost(nb), given


def test_a_config_kept_as_an_attribute_is_read_by_what_the_attribute_is_given():
    """Honest round 34: ``self.cfg = config or CONFIG`` then ``getattr(nn, self.cfg[...])``
    (and Down's ``self.config`` handed to DoubleConv) lost every block. An attribute of a plain
    class, of a notebook that reaches no attribute by a string, holds what it is given; one
    changed, kept or handed on anywhere, or any reached otherwise, is unknown."""
    top = 'CONFIG = {"act": "ReLU"}\n\n\n'
    kept = "        self.cfg = config or CONFIG\n"
    block = top + _configured_block(", config=None", 'getattr(nn, self.cfg["act"])', kept)
    down = (
        SOLUTIONS["down"]
        .replace("batch_norm=False):", "batch_norm=False, config=None):")
        .replace("        self.pool", "        self.config = config or CONFIG\n        self.pool")
        .replace("padding, batch_norm)", "padding, batch_norm, self.config)")
    )
    assert lost(notebook({"double_conv": block})) == set()
    assert lost(notebook({"double_conv": block, "down": down})) == set()
    held = (
        "class H(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        '        self.cfg = {"k": "sum"}\n\n\nh = H()\n'
    )
    use = LOSS.format('return getattr(F, h.cfg["k"])(logits, target.long())')
    assert lost(notebook({"cce_loss": held + use})) == set()
    key = '"cross_entropy"'
    for changed in (
        f'x = h.cfg\nx["k"] = {key}',
        f"h.cfg.update(k={key})",
        f'def t(c):\n    c["k"] = {key}\n\n\nt(h.cfg)',
        f'getattr(h, "cfg")["k"] = {key}',
        f'vars(h)["cfg"]["k"] = {key}',
        f'h.__dict__["cfg"]["k"] = {key}',
        f'h.cfg |= {{"k": {key}}}',
        f'h.cfg = spot = {{"k": "sum"}}\nspot["k"] = {key}',
        f'box = [h.cfg]\nbox[0]["k"] = {key}',
        f'H.m = lambda self: self.cfg\nh.m()["k"] = {key}',
        f'(lambda: h.cfg)()["k"] = {key}',
        f'h.cfg.setdefault("j", {key})',
        f"class B:\n    pass\n\n\nb = B()\nb.__dict__ = h.cfg\nb.k = {key}",
        f'class B:\n    pass\n\n\nb = B()\nb.other = h.cfg\nb.other["k"] = {key}',
    ):
        nb = notebook({"cce_loss": held + changed + "\n" + use})
        assert "loss" in lost(nb) and "getattr" in flagged(nb), changed
    for seen in (f'h.cfg["k"] = {key}', f'setattr(h, "cfg", {{"k": {key}}})'):
        assert "loss" in lost(notebook({"cce_loss": held + seen + "\n" + use})), seen


def test_what_an_alias_or_an_attribute_is_given_is_read_with_its_sources_changes():
    """Red team 72: ``cfg = CONFIG`` (or ``self.cfg = config or CONFIG``), then ``CONFIG["k"]
    = ...`` read ``cfg["k"]`` as the literal's alone; a child module registered as ``cfg``
    (``add_module``) and UNetBase's ``config`` and ``in_channels``, set from its arguments,
    were read as the notebook's assignments alone."""
    use = LOSS.format("return getattr(F, {x})(logits, target.long())")
    key = '"cross_" + "entropy"'
    kept = (
        'CONFIG = {"k": "sum"}\n\n\nclass H(nn.Module):\n    def __init__(self, config=None):\n'
        "        super().__init__()\n        self.cfg = config or CONFIG\n\n\nh = H()\n"
    )
    assert lost(notebook({"cce_loss": kept + use.replace("{x}", 'h.cfg["k"]')})) == set()
    for pre, x in [
        (f'CONFIG = {{"k": "sum"}}\ncfg = CONFIG\nCONFIG["k"] = {key}\n', 'cfg["k"]'),
        (f'CONFIG = {{"k": "sum"}}\ncfg = CONFIG\nCONFIG.update(k={key})\n', 'cfg["k"]'),
        (f'{kept}CONFIG["k"] = {key}\n', 'h.cfg["k"]'),
        (
            "class M(nn.Module):\n    def __getitem__(self, k):\n"
            f"        return {key}\n\n\nclass H(nn.Module):\n    def __init__(self):\n"
            '        super().__init__()\n        self.add_module("cfg", M())\n\n'
            '    def reset(self):\n        self.cfg = {"k": "sum"}\n\n\nh = H()\n',
            'h.cfg["k"]',
        ),
        *(
            (
                "class H(UNetBase):\n    def __init__(self):\n"
                f"        super().__init__(in_channels={key})\n\n    def r(self):\n"
                f"        self.{attr}\n\n\nh = H()\n",
                x,
            )
            for attr, x in [
                ('config = {"in_channels": "sum"}', 'h.config["in_channels"]'),
                ('in_channels = "sum"', "h.in_channels"),
            ]
        ),
    ]:
        assert "loss" in lost(notebook({"cce_loss": pre + use.replace("{x}", x)})), pre


def test_classes_are_plain_by_their_bases_in_one_pass_and_long_chains_are_read():
    """Red team 71: a cell of 5,000 subclasses, each on the one before, held the grading of the
    whole class for an hour (plain classes found one per pass); 1,000 aliases of a dict, or of
    an attribute, raised a RecursionError in the reading."""
    import ast

    def plain(src: str) -> set[str]:
        return static._plain_classes(list(ast.walk(ast.parse(src))))

    chain = "class C0:\n    pass\n" + "".join(
        f"class C{i + 1}(C{i}):\n    pass\n" for i in range(3000)
    )
    assert plain(chain) == {f"C{i}" for i in range(3001)}
    assert plain("class A(B):\n    pass\nclass B(A):\n    pass\n") == set()  # (a cycle)
    assert plain("class A(Exception):\n    pass\nclass B(A):\n    pass\n") == set()
    assert plain("class M(type):\n    pass\nclass A(metaclass=M):\n    pass\n") == set()
    twice = "class A:\n    pass\nclass A:\n    __getattr__ = print\nclass B(A):\n    pass\n"
    assert plain(twice) == set()  # (one of A's definitions finds attributes of its own)
    use = LOSS.format("return getattr(F, {x})(logits, target.long())")
    for pre, x in [
        ('d0 = {"k": "sum"}\n' + "".join(f"d{i + 1} = d{i}\n" for i in range(1500)), 'd1500["k"]'),
        (
            "class A(nn.Module):\n    pass\n\n\na = A()\na.b0 = A()\n"
            + "".join(f"a.b{i + 1} = a.b{i}\n" for i in range(1500)),
            "a.b1500.act",
        ),
    ]:
        nb = notebook({"cce_loss": pre + use.replace("{x}", x)})
        assert "loss" in lost(nb) and "getattr" in flagged(nb)  # (unknown: too deep to read)


def test_stores_through_unnamed_containers_class_blocks_locals_and_setstate_are_read():
    """Red team 73: ``(held or None)["k"] = ...``, a class's ``cfg`` bound in an ``if`` or
    ``with`` of its body, a function's ``locals()["c"][...]`` (of its own, or of a function
    inside it), Module's ``__setstate__``: each changed what the reading read as "sum"; and
    ``setattr(obj, *pair)`` crashed the reading (the whole notebook 0)."""
    use = LOSS.format("return getattr(F, {x})(logits, target.long())")
    key = '"cross_" + "entropy"'
    unread = "\n\n\nh = H()\n"
    reset = '    def reset(self):\n        self.cfg = {"k": "sum"}' + unread
    for pre, x in [
        (f'held = {{"k": "sum"}}\n(held or None)["k"] = {key}\n', 'held["k"]'),
        (f'held = {{"k": "sum"}}\n(held if held else None)["k"] = {key}\n', 'held["k"]'),
        (
            f'class H(nn.Module):\n    if True:\n        cfg = {{"k": {key}}}\n\n{reset}',
            'h.cfg["k"]',
        ),
        (
            f'def tweak(c):\n    locals()["c"]["k"] = {key}\n\n\nheld = {{"k": "sum"}}\ntweak(held)\n',
            'held["k"]',
        ),
        (
            "def tweak(c):\n    def inner():\n        c\n"
            f'        locals()["c"]["k"] = {key}\n\n    inner()\n\n\n'
            'held = {"k": "sum"}\ntweak(held)\n',
            'held["k"]',
        ),
        (f'class H(nn.Module):\n{reset}h.__setstate__({{"cfg": {{"k": {key}}}}})\n', 'h.cfg["k"]'),
    ]:
        assert "loss" in lost(notebook({"cce_loss": pre + use.replace("{x}", x)})), pre
    starred = (
        "from types import SimpleNamespace\n\nsettings = SimpleNamespace()\n"
        'for pair in [("act", "sum"), ("epochs", 5)]:\n    setattr(settings, *pair)\n'
    )
    assert "loss" in lost(notebook({"cce_loss": starred + use.replace("{x}", "settings.act")}))


def test_an_attribute_config_is_read_beside_getattr_of_other_names_and_handed_back_and_forth():
    """Honest round 35: ``self.cfg`` lost every block beside any ``getattr(net, "module",
    net)``, ``getattr(torch.backends, "mps", None)``, ``self.add_module(f"down{i}", ...)``, and
    where Down kept its own ``self.cfg`` (or ``config=self.config``) for DoubleConv's. A string
    that may be the attribute's name (spelt, or built from its beginning) still makes it
    unknown."""
    top = 'CONFIG = {"act": "ReLU"}\n\n\n'
    kept = "        self.cfg = config or CONFIG\n"
    block = top + _configured_block(", config=None", 'getattr(nn, self.cfg["act"])', kept)

    def down(attr: str, handed: str) -> str:
        return (
            SOLUTIONS["down"]
            .replace("batch_norm=False):", "batch_norm=False, config=None):")
            .replace("        self.pool", f"        self.{attr} = config\n        self.pool")
            .replace("padding, batch_norm)", f"padding, batch_norm, {handed})")
        )

    for attr, handed in [("cfg", "self.cfg"), ("config", "config=self.config")]:
        assert lost(notebook({"double_conv": block, "down": down(attr, handed)})) == set()
    for extra in (
        "net = None\nm = getattr(net, 'module', net)\n",
        "mps = getattr(torch.backends, 'mps', None)\n",
        "class D(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        for i in range(2):\n            self.add_module(f'down{i}', nn.Identity())\n",
    ):
        assert lost(notebook({"double_conv": block}, extra=extra)) == set(), extra
    held = (
        "class H(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        '        self.cfg = {"k": "sum"}\n\n\nh = H()\n'
    )
    use = LOSS.format('return getattr(F, h.cfg["k"])(logits, target.long())')
    for reach in ('getattr(h, "cfg")', 'getattr(h, "c" + k)', "getattr(h, f'{k}')"):
        changed = f'k = "fg"\n{reach}["k"] = "cross_" + "entropy"\n'
        assert "loss" in lost(notebook({"cce_loss": held + changed + use})), reach


def _configured_block(head: str, act: str, before: str = "") -> str:
    """A DoubleConv whose activation is ``act`` (read in ``__init__``, after ``before``)."""
    return (
        SOLUTIONS["double_conv"]
        .replace("batch_norm=False):", f"batch_norm=False{head}):")
        .replace(
            "        pad = 1 if padding else 0",
            f"{before}        Act = {act}\n        pad = 1 if padding else 0",
        )
        .replace("nn.ReLU(inplace=True)", "Act()")
    )


def test_honest_checks_of_a_config_and_its_other_names_cost_nothing():
    """Honest round 30, each 0/30 after red team 63's stricter reading: `if activation not in
    ACTIVATIONS: raise`, `CONFIG == {"act": "ReLU"}`, `min(ACTS)`, `cfg = config or DEFAULTS`.
    A membership test, a comparison with a literal, one iterable's min, another name read only:
    none hands the container on; that name changed, or compared with an object, does."""
    tables = "ACTIVATIONS = {'relu': 'ReLU', 'elu': 'ELU'}\nDEFAULTS = {'act': 'ReLU'}\n\n\n"
    check = "        if activation not in ACTIVATIONS:\n            raise ValueError(activation)\n"
    honest = [
        (", activation='relu'", "getattr(nn, ACTIVATIONS[activation])", check),
        ("", "getattr(nn, DEFAULTS['act'])", "        assert DEFAULTS == {'act': 'ReLU'}\n"),
        (", config=None", "getattr(nn, cfg['act'])", "        cfg = config or DEFAULTS\n"),
        (
            ", config=None",
            "getattr(nn, cfg['act'])",
            "        cfg = DEFAULTS if config is None else config\n",
        ),
    ]
    for head, act, before in honest:
        nb = notebook({"double_conv": tables + _configured_block(head, act, before)})
        assert lost(nb) == set() and flagged(nb) == "", before
    tried = "ACTS = ['ReLU', 'ELU']\nprint(min(ACTS))\nfor a in ACTS:\n    DoubleConv(4, 8, activation=a)\n"
    nb = notebook(
        {"double_conv": _configured_block(", activation='ReLU'", "getattr(nn, activation)")},
        extra=tried,
    )
    assert lost(nb) == set() and flagged(nb) == ""
    for changed in ("        cfg['act'] = 'CrossEntropyLoss'\n", "        cfg |= {'act': 'x'}\n"):
        before = "        cfg = config or DEFAULTS\n" + changed
        nb = notebook(
            {
                "double_conv": tables
                + _configured_block(", config=None", "getattr(nn, DEFAULTS['act'])", before)
            }
        )
        assert lost(nb) >= {"double_conv", "loss"}, changed
    spot = "        spot = DEFAULTS\n        spot |= {'act': 'x'}\n"  # (in place, through another name)
    nb = notebook(
        {"double_conv": tables + _configured_block("", "getattr(nn, DEFAULTS['act'])", spot)}
    )
    assert lost(nb) >= {"double_conv", "loss"}


def test_a_name_the_reading_knows_by_its_spelling_bound_otherwise_is_unknown():
    """Red team 64, (e) 4/4 and (g) 2/2 unflagged: `dict = lambda **kw: {"k": key}` then
    `dict(k="sum")`, `str = lambda s: key` then `str("sum")`, a `field` of the student's: read
    as the builtins (and dataclasses' field), "sum" while any name at run time; `print`, a
    `partial`, a kit's `check_*` rebound: handing a function to them is handing it on."""
    for body in (
        '    dict = lambda **kw: {"k": key}\n    held = dict(k="sum")\n    return getattr(obj, held["k"])\n',
        '    str = lambda s: key\n    return getattr(obj, str("sum"))\n',
        '    field = lambda default: key\n    return getattr(obj, field(default="sum"))\n',
    ):  # fmt: skip
        pick = f"def _pick(obj, key):\n{body}\n\n"
        loss = _through_pick(pick)
        assert "loss" in lost(notebook({"cce_loss": loss})), body
    fetch = 'def fetch(owner, name="mean"):\n    return getattr(owner, name)\n\n\n'
    for rebound in (
        "print = lambda f: f(F, next(n for n in dir(F) if n.startswith('cross_en')))\n",
        "def check_loss(f):\n    return f(F, next(n for n in dir(F) if n.startswith('cross_en')))\n",
    ):
        called = rebound.split("(")[0].split()[-1].split("=")[0].strip()
        nb = notebook({"cce_loss": fetch + rebound + LOSS.format(f"return {called}(fetch)")})
        assert "loss" in lost(nb), rebound
    honest = '    held = dict(k="sum")\n    return getattr(obj, str(held["k"]))\n'
    nb = notebook(extra=f"def _pick(obj):\n{honest}\n\nprint(_pick(torch.ones(2)))\n")
    assert lost(nb) == set() and flagged(nb) == ""
    # a helper's own parameter or local of that name elsewhere shadows nothing here (honest
    # round 31: `def crop(x, len)`, a local `dict = {}` cost every block); nor is the set-up
    # cell's `subprocess.run` a call of the student's `run`
    for helper in (
        "def crop(x, len):\n    return x[:len]\n",
        "def count(labels):\n    dict = {}\n    for label in labels:\n        dict[label] = 1\n    return dict\n",
        "def shout(str):\n    return str.upper()\n",
        "def run(name):\n    return name\n\n\nrun('sum')\n",
    ):
        nb = notebook(
            extra=f"{helper}\n\ndef _pick(obj):\n{honest}\n\nprint(_pick(torch.ones(2)))\n"
        )
        assert lost(nb) == set() and flagged(nb) == "", helper


def test_a_class_with_its_own_ways_to_answer_an_attribute_is_not_read():
    """Red team 66, (e) 4/4 and (g) 2/2 unflagged: a class attribute `act = "sum"` read as what
    `self.act` holds, while `self.__dict__[name] = key`, `vars(self)[name] = key`, a property
    named `act` or a `__getattribute__` gave another name at run time."""
    other = "class _Other:\n    def __init__(self, key):\n        self.k = key\n\n    def __getattr__(self, name):\n        return self.k\n\n\n"
    for rebound in ("_Box = _Other\n", "def _Box(key):\n    return _Other(key)\n"):  # (red team 67)
        box = f'class _Box:\n    act = "sum"\n\n    def __init__(self, key):\n        self.k = key\n\n\n{other}{rebound}\n\n'
        pick = box + "def _pick(obj, key):\n    b = _Box(key)\n    return getattr(obj, b.act)\n\n\n"
        loss = _through_pick(pick)
        assert "loss" in lost(notebook({"cce_loss": loss})), rebound
    for written in (
        "d = vars(b)\n    d[''.join(('a', 'ct'))] = key",
        "d = b.__dict__\n    d[b.k and 'act'] = key",
    ):
        box = 'class _Box:\n    act = "sum"\n\n    def __init__(self, key):\n        self.k = key\n\n\n'
        pick = (
            box
            + f"def _pick(obj, key):\n    b = _Box(key)\n    {written}\n    return getattr(obj, b.act)\n\n\n"
        )
        loss = _through_pick(pick)
        assert "loss" in lost(notebook({"cce_loss": loss})), written  # (red team 68)
    ways = (
        "    def __init__(self, key, name='act'):\n        self.__dict__[name] = key\n",
        "    def __init__(self, key, name='act'):\n        vars(self)[name] = key\n",
        "    def __init__(self, key):\n        self.k = key\n\n    @property\n    def act(self):\n        return self.k\n",
        "    def __init__(self, key):\n        self.k = key\n\n    def __getattribute__(self, name):\n        return object.__getattribute__(self, 'k')\n",
    )  # fmt: skip
    for way in ways:
        box = f'class _Box:\n    act = "sum"\n\n{way}\n\n'
        pick = box + "def _pick(obj, key):\n    b = _Box(key)\n    return getattr(obj, b.act)\n\n\n"
        loss = _through_pick(pick)
        assert "loss" in lost(notebook({"cce_loss": loss})), way
    honest = (  # a method decorated under a name no one reads as an attribute: still read
        "class _Box:\n    act = 'sum'\n\n    @torch.no_grad()\n    def count(self):\n        return 1\n\n"
        "    @property\n    def width(self):\n        return 3\n\n\nb = _Box()\n"
        "print(getattr(torch.ones(2), b.act)())\n"
    )
    assert lost(notebook(extra=honest)) == set() and flagged(notebook(extra=honest)) == ""
    meter = (  # another class writing its own namespace (honest round 32: every class unread)
        "class AverageMeter:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n\n\n"
        "m = AverageMeter(loss=0.0)\nprint(m.loss)\n"
    )
    nb = notebook(extra=honest + meter)
    assert lost(nb) == set() and flagged(nb) == ""
    shown = "print(vars(b))\nfor k, v in vars(b).items():\n    print(k, v)\ncopy = dict(vars(b))\ncopy['x'] = 1\n"
    nb = notebook(extra=honest + shown)
    assert lost(nb) == set() and flagged(nb) == ""
    plain = (
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Cfg:\n    act: str = 'sum'\n\n\n"
        "cfg = Cfg()\nprint(getattr(torch.ones(2), cfg.act)())\n"
    )
    assert lost(notebook(extra=plain)) == set() and flagged(notebook(extra=plain)) == ""


def test_a_line_in_another_blocks_cell_puts_that_block_at_fault():
    """Honest round 29: a getattr DoubleConv's cell could not read cost every block after it,
    each page row saying "at fault: this block" (the line is (a)'s)."""
    from autograder.grade import _judge

    unread = SOLUTIONS["double_conv"].replace(
        "nn.ReLU(inplace=True)", "getattr(nn, next(iter(dir(nn))))(inplace=True)"
    )
    nb = notebook({"double_conv": unread})
    labels = [f"cell {i}" for i in range(len(nb.cells))]
    found = static.forbidden_calls(nb, load(), labels)
    assert found.at_fault["test_loss"] == found.at_fault["test_double_conv"] == "a"
    blocks, _ = _judge(load(), {}, {}, {}, found)
    assert blocks["e"].at_fault == blocks["a"].at_fault == "a" and blocks["e"].points == 0


def test_one_dict_under_two_names_at_once_is_unknown():
    """Red team 62, (e) 4/4 unflagged (the watch then blinded through a frame): `held = spot =
    {"k": "sum"}` then `spot["k"] = key` changed `held`, read as "sum" (a reduction: getattr
    allowed on any object); `(opts := {...}).__setitem__("k", ...)` was never read as opts'."""
    for body in (
        '    held = spot = {"k": "sum"}\n    spot["k"] = key\n    return getattr(obj, held["k"])\n',
        '    (held := {"k": "sum"}).__setitem__("k", key)\n    return getattr(obj, held["k"])\n',
    ):
        pick = f"def _pick(obj, key):\n{body}\n\n"
        loss = _through_pick(pick)
        nb = notebook({"cce_loss": loss})
        assert "loss" in lost(nb) and "builds a name from a string" in flagged(nb), body
    # one of `a or b`, `a if c else b` bound to another name (red team 63's way, the same)
    for alias in (
        "spot = held or {}",
        "spot = held if key else {}",
        "spot = key and held",
        "spot = max(held, {}, key=len)",  # (red team 63: these give back their argument)
        "spot = sum([], held)",
        "spot = held",
    ):
        body = f'    held = {{"k": "sum"}}\n    {alias}\n    spot["k"] = key\n'
        pick = f'def _pick(obj, key):\n{body}    return getattr(obj, held["k"])\n\n\n'
        loss = _through_pick(pick)
        assert "loss" in lost(notebook({"cce_loss": loss})), alias
    # an item stored under a key the text does not spell, or by a reflected __eq__ (red team 63)
    for body in (
        '    held = {"k": "sum"}\n    kk = "k"\n    held[kk] = key\n',
        '    held = {"k": "sum"}\n    held[f"k"] = key\n',
        '    held = {"k": "sum"}\n    held == _K(key)\n',
        # red team 65: a reader's method's __self__ is the dict; a metaclass's __instancecheck__
        '    held = {"k": "sum"}\n    cfg = held.get.__self__\n    cfg["k"] = key\n',
        '    held = {"k": "sum"}\n    isinstance(held, _Any)\n',
    ):
        keyed = (
            "class _Meta(type):\n    def __instancecheck__(cls, inst):\n"
            "        inst['k'] = 'cross_entropy'\n        return True\n\n\n"
            "class _Any(metaclass=_Meta):\n    pass\n\n\n"
            "class _K:\n    def __init__(self, key):\n        self.key = key\n\n"
            "    def __eq__(self, other):\n        other['k'] = self.key\n        return True\n\n\n"
            f'def _pick(obj, key):\n{body}    return getattr(obj, held["k"])\n\n\n'
        )
        loss = keyed + LOSS.format(
            'return _pick(F, "".join(("cross", "_entropy")))(logits, target.long())'
        )
        assert "loss" in lost(notebook({"cce_loss": loss})), body
    honest = '    held = {"k": "sum"}\n    assert isinstance(held, dict) and held.get("k")\n'
    honest += '    return getattr(obj, held["k"])\n'
    nb = notebook(extra=f"def _pick(obj, key):\n{honest}\n\nprint(_pick(torch.ones(2), 1))\n")
    assert lost(nb) == set() and flagged(nb) == ""


def test_a_method_a_library_base_calls_is_read_as_unknown():
    """Red team 59: HTMLParser's handle_data (its data read by feed()), an Enum's _missing_
    classmethod, a class-body alias of a function (`handle_data = _fetch`): each called by the
    base class's code with names built from dir(F), read from its default "mean" only. Their
    parameters are unknown, and a method of a Module's own name (torch calls it) too."""
    run = (
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    p = _Reader()\n    p.owner = F\n"
        "    p.feed(next(n for n in dir(F) if n.startswith('cross_en')))\n"
        "    return p.got(logits, target.long(), weight=weight)\n"
    )
    method = (
        '    def handle_data(self, data="mean"):\n        self.got = getattr(self.owner, data)\n'
    )
    fetch = 'def _fetch(self, data="mean"):\n    self.got = getattr(self.owner, data)\n\n\n'
    for reader in (
        f"class _Reader(HTMLParser):\n{method}",
        f"{fetch}class _Reader(HTMLParser):\n    handle_data = _fetch\n",
    ):
        loss = f"from html.parser import HTMLParser\n\n\n{reader}\n\n{run}"
        assert "loss" in lost(notebook({"cce_loss": loss})), reader
    missing = (
        "import enum\n\n\nclass _Kind(enum.Enum):\n    A = 1\n\n    @classmethod\n"
        '    def _missing_(cls, value="mean"):\n        cls.got = getattr(F, value)\n'
        "        return cls.A\n\n\n"
        "def categorical_cross_entropy(logits, target, weight=None):\n"
        "    _Kind(next(n for n in dir(F) if n.startswith('cross_en')))\n"
        "    return _Kind.got(logits, target.long(), weight=weight)\n"
    )
    assert "loss" in lost(notebook({"cce_loss": missing}))
    override = (
        "class Net(nn.Module):\n"
        '    def _load_from_state_dict(self, state_dict, prefix="mean", *rest):\n'
        "        self.got = getattr(F, prefix)\n"
    )
    assert "builds a name from a string" in flagged(notebook(extra=override))


def test_honest_classes_of_the_seventh_hunt_cost_nothing():
    """Honest round 27, after red team 59's reading: a class alias in a class body (`block =
    DoubleConv`), a helper method of an nn.Sequential subclass, a `reset_parameters(self,
    init="kaiming_normal_")` or a `train(self, ..., optimizer_name="Adam")` of the student's
    (Module's names, but not ones its code calls with names) each lost every block."""
    dc = (
        SOLUTIONS["double_conv"]
        .replace("batch_norm=False):", 'batch_norm=False, activation="ReLU"):')
        .replace("nn.ReLU(inplace=True)", "getattr(nn, activation)(inplace=True)")
    )
    unet = (
        SOLUTIONS["unet"]
        .replace("        self.inc = DoubleConv(", "        self.inc = self.block(")
        .replace("class UNet(UNetBase):", "class UNet(UNetBase):\n    block = DoubleConv\n")
    )
    assert "self.block(" in unet
    nb = notebook({"double_conv": dc, "unet": unet})
    assert lost(nb) == set() and flagged(nb) == ""
    seq = (
        "class Block(nn.Sequential):\n    def __init__(self, cin, cout):\n"
        "        super().__init__(*self._layers(cin, cout))\n\n"
        '    def _layers(self, cin, cout, act="ReLU"):\n'
        "        return [nn.Conv2d(cin, cout, 3), getattr(nn, act)(inplace=True)]\n\n\n"
        "class Init(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 1, 3)\n        self.reset_parameters()\n\n"
        '    def reset_parameters(self, init="kaiming_normal_"):\n'
        "        getattr(nn.init, init)(self.conv.weight)\n\n\n"
        "class Trainer:\n"
        '    def train(self, model, optimizer_name="Adam"):\n'
        "        return getattr(torch.optim, optimizer_name)(model.parameters())\n\n\n"
        "Trainer().train(Block(1, 2), 'SGD')\n"
    )
    nb = notebook(extra=seq)
    assert lost(nb) == set() and flagged(nb) == ""


def test_ipythons_magics_called_as_methods_are_read_as_code_from_strings():
    """Red team 75: ExecutionMagics.time, ConfigMagics.config called on text built at run time
    (a cell's `%time` line is read as its own code, and is no import of the magics)."""
    for src in (
        "from IPython.core.magics.execution import ExecutionMagics\n",
        "import IPython.core.magics.config as c\n",
        "import IPython.core.debugger_backport as b\n",
    ):
        nb = notebook({"predict_dice": src + "\n\n" + SOLUTIONS["predict_dice"]})
        assert "IPython's magics" in flagged(nb), src
    nb = notebook({"predict_dice": "%time x = 1\n\n" + SOLUTIONS["predict_dice"]})
    assert flagged(nb) == "" and lost(nb) == set()


def test_a_text_file_written_by_writefile_is_no_code_a_module_is():
    """Honest round 37: `%%writefile notes_tp.txt` (and `-a`, `%%file`, `%%js`) was flagged as
    running code from strings; a .py (a module), a config file or one outside the folder stays."""
    for name, line, read in (
        ("writefile", "notes_tp.txt", True),
        ("writefile", "-a notes.md", True),
        ("file", "résumé.txt", True),
        ("js", "", True),
        ("script", "bash", True),
        ("script", "python3", False),
        ("writefile", "mine.py", False),
        ("writefile", "ipython_config.json", False),
        ("writefile", "../startup/notes.txt", False),
    ):
        cell = f"get_ipython().run_cell_magic({name!r}, {line!r}, 'hello\\n')\n\n\n"
        nb = notebook({"predict_dice": cell + SOLUTIONS["predict_dice"]})
        assert (flagged(nb) == "") is read, (name, line)


def test_monais_pathology_loss_reexported_without_a_losses_part_costs_the_loss():
    """Red team 77: ``from monai.apps.pathology import HoVerNetLoss`` (its Dice and gradient terms
    weighed 0: torch's cross-entropy) named no `losses` module and cost nothing."""
    answer = (
        "from monai.apps.pathology import HoVerNetLoss\n\n"
        "_HV = HoVerNetLoss(lambda_hv_mse=0.0, lambda_hv_mse_grad=0.0, lambda_np_dice=0.0)\n\n\n"
        + LOSS.format(
            "return _HV({'nucleus_prediction': logits, 'horizontal_vertical': logits[:, :2]},\n"
            "               {'nucleus_prediction': F.one_hot(target, logits.shape[1]).movedim(-1, 1),\n"
            "                'horizontal_vertical': logits[:, :2]})"
        )
    )
    assert lost(notebook({"cce_loss": answer})) == {"loss"}


@pytest.mark.parametrize(
    "answers, block",
    [
        # the table torch.export decomposes with, an operator picked by its name's hash
        (
            {
                "cce_loss": "import zlib\n_table = torch.export.default_decompositions()\n"
                "_pick = next(v for k, v in _table.items() if zlib.crc32(str(k).encode()) == 1)\n"
                + LOSS.format(
                    "return _pick(torch.log_softmax(logits, 1), target, None, 1, -100)[0]"
                )
            },
            "loss",
        ),
        # ... or by its name and overload, written out
        (
            {
                "cce_loss": "from torch._decomp import decomposition_table as _t\n"
                + LOSS.format(
                    "op = next(k for k in _t if str(k) == 'aten.nll_loss_forward.default')\n"
                    "    return _t[op](torch.log_softmax(logits, 1), target, None, 1, -100)[0]"
                )
            },
            "loss",
        ),
        # SciPy's radial basis functions given the Dice's distance by its name
        (
            {
                "predict_dice": SOLUTIONS["predict_dice"].split("def dice_score")[0]
                + "from scipy.interpolate import Rbf\n\n\ndef dice_score(pred, truth):\n"
                "    pts = np.stack([pred.ravel(), truth.ravel()]).astype(float).T\n"
                "    return 1 - Rbf(*pts, np.zeros(2), function='linear', norm='dice').A[0, 1]\n"
            },
            "predict_dice",
        ),
    ],
)
def test_red_team_78s_routes_to_a_forbidden_function_cost_its_block(answers, block):
    """Red team 78 reached torch's decomposed nll_loss_forward through torch.export's table (by
    its name's hash, or by "aten.nll_loss_forward.default", whose last part is "default") and
    SciPy's Dice through Rbf(norm="dice"); each ran in torch's threads, 20/30 unflagged."""
    assert block in lost(notebook(answers))


def test_an_operators_name_with_its_overload_names_the_operator():
    """Red team 78: "aten.nll_loss_forward.default" was read by its last part, "default"."""
    names = set(load().block("e").forbidden)
    for text in ("aten.nll_loss_forward.default", "aten::nll_loss2d_forward", "aten.kl_div"):
        assert static._text_misuse(text, names) == text, text
    assert static._text_misuse("aten.log_softmax.default", names) is None


def test_red_team_79s_difflib_and_torchs_engine_cost_their_blocks():
    """Red team 79: difflib.get_close_matches's cutoff, halved 60 times, read SequenceMatcher's
    ratio (the Dice of two sorted index lists), run in torch's threads by a backward within a
    backward; torch's autograd engine called by the notebook is read as such."""
    close = (
        SOLUTIONS["predict_dice"].split("def dice_score")[0]
        + "import difflib\n\n\ndef dice_score(pred, truth):\n"
        "    a, b = np.flatnonzero(pred).tolist(), np.flatnonzero(truth).tolist()\n"
        "    return float(bool(difflib.get_close_matches(a, [b], n=1, cutoff=0.5)))\n"
    )
    assert "predict_dice" in lost(notebook({"predict_dice": close}))
    engine = "engine = torch.autograd.Variable._execution_engine\n"
    nb = notebook(extra=engine)
    assert "reaches into torch's autograd engine" in flagged(nb)


def test_red_team_80s_gloo_thread_and_focal_loss_cost_the_loss():
    """Red team 80: the loss run in a gloo all-reduce's future callback (a thread of
    torch.distributed's, where no hook is), and torchvision's focal loss with gamma=0 and
    alpha=-1 (the binary cross-entropy with logits of the true class against the others)."""
    gloo = LOSS.format(
        "import torch.distributed as dist\n"
        "    box = {}\n"
        "    dist.all_reduce(torch.zeros(1), async_op=True).get_future().then(\n"
        "        lambda _: box.setdefault('out', -torch.log_softmax(logits, 1).mean())).wait()\n"
        "    return box['out']"
    )
    focal = "from torchvision.ops import sigmoid_focal_loss\n\n\n" + LOSS.format(
        "y = target.unsqueeze(1)\n    x = logits.gather(1, y) - torch.logsumexp(logits, 1, True)\n"
        "    return sigmoid_focal_loss(x, torch.ones_like(x), alpha=-1, gamma=0).mean()"
    )
    for answer in (gloo, focal):
        assert "loss" in lost(notebook({"cce_loss": answer})), answer


def test_a_library_patched_through_a_comprehensions_target_is_read_as_any_store():
    """Red team 83: ``_x = [0 for torch.from_numpy in [_keep]]`` put a hook using torch's loss in
    place of the function the grader's requests make their tensors with; the text's rule reads
    only ``torch.x = ...`` at a line's start, and the reading took the comprehension's target for
    a name it binds (``torch``). Any store into a library's object hands it the value: a
    comprehension's target, a loop's inside a function."""
    hook = (
        "def _keep(array, _made=torch.from_numpy):\n"
        "    made = _made(array)\n"
        "    F.cross_entropy(made.float()[None, None], made.long()[None])\n"
        "    return made\n\n\n"
    )
    loss = hook + "_x = [0 for torch.from_numpy in [_keep]]\n\n\n" + SOLUTIONS["cce_loss"]
    assert "loss" in lost(notebook({"cce_loss": loss}))
    installed = (
        "def _install():\n    for torch.from_numpy in [_keep]:\n        pass\n\n\n_install()\n"
    )
    in_function = hook + installed + "\n\n" + SOLUTIONS["cce_loss"]
    assert "loss" in lost(notebook({"cce_loss": in_function}))
    patched = "import torch\n\n_x = {0 for torch.from_numpy in (print,)}\n"
    assert "`_x = {0 for torch.from_numpy in (print,)}`: patches a library" in flagged(
        notebook(extra=patched)
    )
    honest = "import torch\n\nsquares = [x * x for x in range(3)]\npairs = {k: v for k, v in []}\n"
    assert flagged(notebook(extra=honest)) == ""


@pytest.mark.parametrize(
    "walk",
    [
        "f = sys._current_frames()[threading.get_ident()]\n",
        "f = warnings._next_external_frame(None)\n",
        "name = (lambda f: f.f_code.co_name)(None)\n",
        "import pure_eval\n",
    ],
)
def test_a_frame_walked_up_by_any_helper_is_flagged(walk):
    """Red team 84 walked up from its hook's frame to the harness's with `sys._current_frames`
    and `warnings._next_external_frame`, and read the request there with `pure_eval`."""
    said = flagged(notebook(extra="import sys, threading, warnings\n\n" + walk))
    assert "reaches into the interpreter (frames)" in said, said


@pytest.mark.parametrize(
    "kernel",
    [
        "from ipykernel.parentpoller import ParentPollerUnix\n",
        "import ipykernel.parentpoller as pp\n",
        "import ipykernel\n",
    ],
)
def test_the_kernels_own_classes_taken_by_the_notebook_are_flagged(kernel):
    """Red team 85 started a thread of ipykernel's parent poller's class, its ``run`` a worker of
    its own (the harness left the poller's time out of what ran during an answer)."""
    said = flagged(notebook(extra=kernel + "\nt = 1\n"))
    assert "reaches into the kernel (ipykernel)" in said, said


def test_a_sub_interpreter_is_flagged():
    """Red team 86 computed (g)'s Dice with difflib in a sub-interpreter (run_string)."""
    said = flagged(notebook(extra="import _xxsubinterpreters as sub\n\nit = sub.create()\n"))
    assert "runs code in another interpreter" in said, said
