"""Step 2 of grading, continued: what the student's cells say, read in the grader's process.

The repaired notebook's *text* is read before anything runs (IPython syntax turned into Python,
the code ``%time``-like magics run read as the cell's own), names followed through aliases
(``import unet_tp as course; course.losses`` is ``unet_tp.losses``). :func:`forbidden_calls`: a
block's answer (every statement of the student's above its test cell that binds one of its names,
in nested blocks, by ``global``, ``:=``, a string or an attribute too, or that runs code from
strings, files or pickles, or installs an IPython hook that rewrites the cells), and every
definition of the student's it uses (and every statement that set an attribute it reads, or
changed an object of the student's it reads: ``box.append(v)``), loses its points, the line
quoted, if it uses the course package's code (but ``unet_tp.unet_base`` and ``.device``), names or code built
from strings (``eval``, ``getattr(x, name)`` but on ``self``, ``sys.modules[name]``...), a
module the notebook wrote, or what the block forbids (``assignment.toml``).
:func:`review_reasons`: code a TP answer never needs (the harness, ``sys.modules``, frames,
links...), quoted for the instructor; no grade depends on it.
"""

from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import copy
import functools
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import io
import itertools
import keyword
import os
import re
import symtable
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

from autograder import messages as M
from autograder.cells import grade_id, nbgrader_meta, parse_code
from autograder.held import _COMPREHENSIONS, HeldStrings, _binding, _last_name

COURSE_PACKAGE = "unet_tp"
# what the answers may use of the course package: the base class, the set-up's device, the
# labels and regions (NUM_CLASSES; unet_tp.checks.COURSE_MODULES says the same to the notebook)
BUILT_ON = ("unet_tp.unet_base", "unet_tp.device", "unet_tp.conventions", "unet_tp.i18n")


# TorchScript: a red team's `# type: (KEEP[F.torch._C._nn.cross_entropy_loss]) -> Tensor`, read
# by torch.jit.script, put torch's loss in a dict no reading of the code saw it enter; another's
# wrote that comment into linecache's copy of a cell, where TorchScript reads a function's source
RUNS_COMMENTS = "runs code from comments (TorchScript)"
PATCHES = "patches a library"
_TORCHSCRIPT = ("torch.jit", "torch._jit_internal", "torch._C._jit_script_compile")
_TORCHSCRIPT += ("torch._C._jit_script_class_compile",)


def _scripts_comments(nb, node: ast.AST) -> bool:
    """TorchScript: it evaluates the ``# type:`` comments of the source it reads, which is
    ``linecache``'s, which a cell can rewrite (round 17): no reading of the cells sees them."""
    return _under(nb.resolve(node), _TORCHSCRIPT)


def _by_reason(table: dict[str, str]) -> dict[str, str]:
    """``{reason: "name name..."}`` read as ``{name: reason}``."""
    return {name: why for why, names in table.items() for name in names.split()}


_FRAMES = "reaches into the interpreter (frames)"
_CODE_OBJECTS = "rewrites code objects"
THREADS = "reaches into the interpreter (threads started without threading's hooks)"
_LINKS = "plants links in the file system"
NAMESPACES = "reaches into objects' namespaces (__dict__)"
MODES = "reaches torch's active modes (the grader's watch among them)"
_MODE_GETTERS = "_get_current_dispatch_mode _get_current_dispatch_mode_stack "
_MODE_GETTERS += "_get_current_dispatch_mode_pre_dispatch _get_current_function_mode "
_MODE_GETTERS += "_get_current_function_mode_stack _len_torch_function_stack "
_MODE_GETTERS += "_len_torch_dispatch_stack _len_torch_dispatch_stack_pre_dispatch "
_MODE_GETTERS += "_get_function_stack_at _get_dispatch_stack_at _get_dispatch_mode "
_MODE_GETTERS += "_get_dispatch_mode_pre_dispatch _pop_mode _pop_mode_temporarily "
_MODE_GETTERS += "_pop_mode_from_pre_dispatch _pop_mode_for_inlining _push_mode "
_MODE_GETTERS += "_disable_current_modes"
# (red team 29: since Python 3.11 ``sys.__getstate__()`` is sys.__dict__ itself, and
# ``__reduce_ex__(2)``'s state an object's; copyreg reduces an object to them)
STATE = "reaches into objects' namespaces (__getstate__, __reduce__, copyreg)"
_STATE_READERS = "__getstate__ __reduce__ __reduce_ex__"
_STATE_NAMES = frozenset(_STATE_READERS.split())
PASSED_ALONG = "passes {name} along (names or code built from strings)"
# the shell's methods that run or look up code given as a string (``get_ipython().ev(...)``,
# ``_ofind``: an object by a name in a string), under any name they are reached by
_SHELL_RUNNERS = "ev ex user_expressions run_cell run_code run_cell_async run_ast_nodes "
_SHELL_RUNNERS += "safe_execfile safe_execfile_ipy safe_run_module _ofind _object_find "
_SHELL_RUNNERS += "find_user_code do_execute execute_request"
# dotted paths (through aliases) and what using them means
_PATHS = _by_reason(
    {
        # gc.collect() frees memory (a Colab habit); what reaches other objects is flagged, and
        # `from gc import *` (``gc.*``), which binds it all
        "reaches into the interpreter (gc)": "gc.get_objects gc.get_referrers gc.get_referents"
        " gc.garbage gc.callbacks gc.*",
        "reaches into the interpreter (ctypes)": "ctypes _ctypes numpy.ctypeslib "
        "multiprocessing.sharedctypes",
        # a backward run within a backward, past 60 deep, goes on in threads of torch's own,
        # out of the watch's sight (red teams 78, 79): torch's engine called by the notebook
        "reaches into torch's autograd engine": "torch.autograd.Variable._execution_engine "
        "torch._C._ImperativeEngine torch._C._EngineBase torch.autograd.graph._engine_run_backward",
        "imports modules by name (importlib)": "importlib",
        "rewrites built-ins": "builtins",
        "reaches into the interpreter (sys.modules)": "sys.modules",
        "changes where modules are imported from (sys.path)": "sys.path sys.meta_path "
        "sys.path_hooks sys.path_importer_cache site",  # (its .pth files run their lines)
        _FRAMES: "sys._getframe inspect.currentframe inspect.stack inspect.getouterframes "
        "inspect.getinnerframes inspect.trace inspect.getargvalues inspect.getframeinfo "
        "traceback.walk_tb traceback.walk_stack traceback.extract_stack sys._current_frames "
        # (red team 84: a frame walked up with warnings' helper, read by pure_eval)
        "sys._current_exceptions warnings._next_external_frame pure_eval stack_data executing",
        "reaches into the grading harness": "unet_tp_harness",
        # (red team 86: difflib run in a sub-interpreter, where no hook of the watch's reaches)
        "runs code in another interpreter": "_xxsubinterpreters _xxinterpchannels _interpreters "
        "_interpchannels _interpqueues concurrent.interpreters _testcapi _testinternalcapi",
        # (red team 85: a thread of ipykernel's parent poller's class, its run the notebook's)
        "reaches into the kernel (ipykernel)": "ipykernel",
        "looks for the reference": "solutions",
        "looks for the grader": "autograder",
        "uses the course package's training code (unet_tp.train)": "unet_tp.train",
        "uses the course package's metrics (unet_tp.metrics)": "unet_tp.metrics",
        "uses the course package's losses (unet_tp.losses)": "unet_tp.losses",
        "calls torch's internals (torch._C)": "torch._C",
        "reaches names built from strings (operator.attrgetter)": "operator.attrgetter",
        "reaches names built from strings (operator.methodcaller)": "operator.methodcaller",
        # (its default_timer is a clock)
        "runs code from strings (timeit)": "timeit.timeit timeit.repeat timeit.Timer timeit.main"
        " timeit.*",
        "runs code from strings (pickle)": "pickle",
        # (red team 81: yaml.full_load("!!python/name:torch.nn.functional.cross_entropy") hands
        # back any name of a module imported; only the safe loaders build no object)
        "reaches names built from strings (YAML's python tags)": "yaml.full_load "
        "yaml.full_load_all yaml.FullLoader yaml.UnsafeLoader yaml.Loader yaml.CFullLoader "
        "yaml.CUnsafeLoader yaml.CLoader yaml.loader.FullLoader yaml.loader.UnsafeLoader "
        "yaml.loader.Loader yaml.cyaml.CFullLoader yaml.cyaml.CUnsafeLoader yaml.cyaml.CLoader "
        "yaml.constructor.FullConstructor yaml.constructor.UnsafeConstructor "
        "yaml.constructor.Constructor",
        "runs code from strings (marshal)": "marshal",
        "runs code from files (runpy)": "runpy",
        # (round 20: loaders of a file the notebook wrote, and bundles' "$..." expressions)
        # (red team 26: pydoc.safeimport("unet" + "_tp_harness"); every pydoc and pkgutil
        # function that imports or resolves a name, a file: help() is what a notebook uses)
        "imports modules by name (pydoc)": "pydoc",
        "imports modules by name (pkgutil)": "pkgutil",
        # (red team 82: sympy's get_class("torch.nn.functional.cross" + "_entropy"); SQLAlchemy's
        # plugin loader resolves "module:object" alike)
        "imports modules by name (sympy's get_class)": "sympy.utilities.source",
        "imports modules by name (SQLAlchemy's plugin loader)": "sqlalchemy.util.langhelpers "
        "sqlalchemy.util.PluginLoader sqlalchemy.util.preloaded sqlalchemy.util._preloaded",
        # (red team 27: traitlets' Instance("a.b")._resolve_classes(), matplotlib's
        # backend_registry.load_backend_module("module://a.b"), each handing the module back)
        "imports modules by name (traitlets)": "traitlets",
        "imports modules by name (matplotlib's backends)": "matplotlib.backends.registry "
        "matplotlib.backends.backend_registry matplotlib.pyplot.switch_backend "
        "matplotlib.pyplot._backend_mod matplotlib.pyplot._get_backend_mod",
        "runs code from files (alembic)": "alembic",
        "runs code from files (pytest's importer)": "_pytest pytest.importorskip",
        "runs code from strings (monai.bundle)": "monai.bundle",
        # (round 21: runners of text, found by the kernel's note of code compiled from strings)
        "runs code from strings (torch.utils.benchmark)": "torch.utils.benchmark",
        "runs code from strings (IPython's formatters)": "IPython.utils.text.EvalFormatter "
        "IPython.utils.text.FullEvalFormatter IPython.utils.text.DollarFormatter",
        "runs code from strings (tornado.template)": "tornado.template",
        "runs code from strings (IPython's guarded_eval)": "IPython.core.guarded_eval",
        # (red team 48: a Macro's text runs when a one-line cell names it, IPython's prefilter)
        "runs code from strings (IPython's macros)": "IPython.core.macro",
        # (red team 75: ExecutionMagics.time, ConfigMagics.config called on text built at run
        # time; the notebook's `%` lines are read as its own code)
        "runs code from strings (IPython's magics)": "IPython.core.magics "
        "IPython.core.debugger_backport",
        "reaches names built from strings (inspect.getmembers)": "inspect.getmembers",
        "reaches names built from strings (inspect.getmembers_static)": "inspect.getmembers_static",
        "reaches functions by name (torch.overrides)": "torch.overrides",
        # torch's tables of its operators' implementations, picked by a name built from strings
        # (``next(f for op, f in decomposition_table.items() if str(op) == "aten.nll_" + ...)``)
        "reaches functions by name (torch's operator tables)": "torch._decomp torch._refs "
        "torch._prims torch._dynamo.trace_rules torch.export.default_decompositions "
        "torch.export.exported_program.default_decompositions torch.export.decomp_utils "
        "torch._inductor.decomposition",
        "reaches names built from strings (string.Formatter)": "string.Formatter",
        "reaches names built from strings (logging.config)": "logging.config",
        "reaches names built from strings (torch._utils)": "torch._utils._import_dotted_name",
        # what imports or reaches a dotted name given as a string, or runs an expression
        "reaches names built from strings (import_item)": "traitlets.utils.importstring "
        "traitlets.import_item IPython.utils.importstring tornado.util.import_object",
        "reaches names built from strings (optional_import)": "monai.utils.optional_import "
        "monai.utils.module monai.utils.instantiate monai.utils.load_submodules "
        "monai.utils.require_pkg monai.utils.get_package_version monai.load_submodules",
        "runs code from strings (jinja2)": "jinja2",
        "runs code from strings (mako)": "mako",
        "runs code from strings (sympy)": "sympy.sympify sympy.S sympy.parse_expr sympy.parsing "
        "sympy.lambdify sympy.core.sympify sympy.utilities.lambdify",
        "runs code from files (imp)": "imp",
        "runs code from files (traitlets.config)": "traitlets.config",
        "runs code from strings (torch.fx)": "torch.fx",
        "reaches functions by name (torch._inductor)": "torch._inductor",
        "reaches functions by name (torch._C._jit_get_operation)": "torch._C._jit_get_operation",
        "sets names built from strings (unittest.mock)": "unittest.mock",
        "runs code from strings (annotations)": "typing.get_type_hints typing.ForwardRef "
        "typing._eval_type typing_extensions.get_type_hints inspect.get_annotations",
        "builds functions from code objects": "types.FunctionType",
        "builds code objects": "types.CodeType",
        _LINKS: "os.link os.symlink",
        STATE: "copyreg",
    }
)
_PATH_ORDER = {path: i for i, path in enumerate(_PATHS)}  # (_path_reasons: their order)
# attribute names that mean the same whatever they hang on
_ATTRIBUTES = _by_reason(
    {
        "switches off torch's function overrides": "DisableTorchFunction "
        "DisableTorchFunctionSubclass _DisableTorchDispatch _DisablePythonDispatcher "
        "ExcludeDispatchKeyGuard _ExcludeDispatchKeyGuard _SetExcludeDispatchKeyGuard "
        "_IncludeDispatchKeyGuard _pop_torch_dispatch_stack _pop_torch_function_stack "
        "_unset_dispatch_mode _disabled_torch_function_impl _disabled_torch_dispatch_impl",
        # torch's operator profiler, which the watch reads (stopped and restarted in an answer)
        "switches off torch's operator profiler": "_disable_profiler _disable_profiler_legacy "
        "_enable_profiler _enable_profiler_legacy profiler_legacy _enable_record_function "
        "_toggle_collection_dynamic _set_empty_test_observer",
        # IPython's evaluator of text (round 22: "dangerous" evaluates, "unsafe" interprets) and
        # what evaluates string annotations, under any module's name for them
        "runs code from strings (IPython's guarded_eval)": "guarded_eval",
        "runs code from strings (annotations)": "get_type_hints _eval_type get_annotations",
        NAMESPACES: "__dict__",
        STATE: _STATE_READERS,
        # (red team 44 read the path of the grader's request in the cell being run)
        "reads the cell being run (the grader's requests too)": "exec_result get_parent "
        "parent_header",
        # (red team 26: display() hands the object itself to a printer registered for its type)
        "hands objects to a printer of its own (IPython's formatters)": "for_type "
        "for_type_by_name type_printers deferred_printers singleton_printers _type_pprinters "
        "_deferred_type_pprinters _singleton_pprinters",
        "reaches into the interpreter (__globals__)": "__globals__",
        # (red team 28: getclosurevars(traceback.print_exc).globals["sys"].modules)
        "reaches into the interpreter (a function's globals: getclosurevars)": "getclosurevars",
        _CODE_OBJECTS: "__code__ __closure__ cell_contents",
        "rewrites built-ins": "__builtins__",
        "reaches into the interpreter (__subclasses__)": "__subclasses__",
        _FRAMES: "f_back f_globals f_locals f_code tb_frame gi_frame cr_frame ag_frame",
        "rewrites error handling": "set_custom_exc excepthook",
        # (red team 27: `_ue = get_ipython().user_expressions`, then `_ue({"a": "..."})`)
        "runs code from strings through IPython": _SHELL_RUNNERS,
        "reaches into the interpreter (audit hooks)": "addaudithook",
        "reaches into the interpreter (tracing)": "settrace setprofile gettrace getprofile "
        "settrace_all_threads setprofile_all_threads _trace_hook _profile_hook",
        "imports modules by name (importlib)": "import_module resolve_name getmodule find_spec "
        "exec_module load_module",
        # (red team 30: inspect's and operator's, re-exported by monai and torch's profiler)
        "reaches names built from strings (inspect.getmembers)": "getmembers getmembers_static "
        "getattr_static",
        "reaches names built from strings (operator.attrgetter)": "attrgetter",
        "reaches names built from strings (operator.methodcaller)": "methodcaller",
        # (red team 30: torch._higher_order_ops.cond re-exports the getter of the dispatch mode
        # running, the grader's, which held its watch)
        MODES: _MODE_GETTERS,
        THREADS: "_work_queue _WorkItem _taskqueue _inqueue _threads",
        # (round 24: the loader imports a dotted name, then calls what it found; the error's
        # frames held it)
        "reaches names built from strings (unittest's loader)": "loadTestsFromName "
        "loadTestsFromNames",
        _LINKS: "symlink_to hardlink_to",
        "loads native code (load_library)": "load_library",
        "imports modules by name (a library's importer)": "_import_class import_object "
        "import_string import_item _import_dotted_name load_backend_module backend_registry "
        "_resolve_classes _resolve_string _backend_mod _get_backend_mod",
        "reaches into the notebook's namespace (get_ipython().user_ns)": "user_ns",
        "reaches into the notebook's namespace (get_ipython().user_global_ns)": "user_global_ns",
        "reaches into the notebook's namespace (get_ipython().user_module)": "user_module",
        "reaches into the notebook's namespace (get_ipython().ns_table)": "ns_table",
        "reaches into the notebook's namespace (get_ipython().user_ns_hidden)": "user_ns_hidden",
    }
)
# IPython's transformer re-reads the whole cell for each of its commands (%magic, !shell, x?):
# quadratic, 8 s for a cell of 499 (its limit); and reading takes about 1.5 s per 100,000
# characters of code (the course's answers: 19,000). A notebook past these counts is not read:
# its cells' text costs every block after them, not hours of the grader's thread.
_IPYTHON_COMMAND = re.compile(r"^\s*[%!?]|=\s*[%!]|\?\s*$", re.M)
MAX_COMMANDS_PER_CELL = 100
MAX_COMMANDS = 1000
MAX_CODE = 500_000  # characters of code in the notebook
UNREAD = "__cell_not_read__"  # the call a cell too costly to read stands for
EXPANDED = "__text_expanded__"  # IPython's var_expand of a text built at run time
_STRING_CODE = {  # built-ins that run code or reach names built from strings
    EXPANDED: "runs code from strings (IPython evaluates `{...}` and `$name` in the text of a "
    "shell command or magic, here built at run time)",
    UNREAD: f"has too many IPython commands (%, !) or too much code to be read (over "
    f"{MAX_COMMANDS_PER_CELL} commands in a cell, {MAX_COMMANDS} in the notebook, "
    f"{MAX_CODE:,} characters of code, or nested too deep)",
    "eval": "runs code built from strings (eval)",
    "exec": "runs code built from strings (exec)",
    "compile": "runs code built from strings (compile)",
    "__import__": "imports modules by name (__import__)",
    "globals": "reaches into the notebook's namespace (globals())",
    "vars": "reaches into objects' namespaces (vars())",
    "locals": "reaches into the namespace (locals())",
}
# modules and callables that build code or names from strings: a call to one costs the block
_STRING_PATHS = ("importlib", "operator.attrgetter", "operator.methodcaller", "pickle")
_STRING_PATHS += ("timeit.timeit", "timeit.repeat", "timeit.Timer", "timeit.main", "timeit.*")
_STRING_PATHS += ("marshal", "runpy", "types.FunctionType", "types.CodeType", "pydoc")
_STRING_PATHS += ("pkgutil", "inspect.getmembers", "inspect.getmembers_static", "traitlets")
_STRING_PATHS += ("matplotlib.backends.registry", "matplotlib.pyplot.switch_backend")
_STRING_PATHS += ("string.Formatter", "logging.config", "unittest.mock")
_STRING_PATHS += ("torch._utils._import_dotted_name", "traitlets.utils.importstring")
_STRING_PATHS += ("traitlets.import_item",)  # (traitlets re-exports it)
_STRING_PATHS += ("IPython.utils.importstring", "tornado.util.import_object", "jinja2", "torch.fx")
_STRING_PATHS += ("monai.utils.optional_import", "monai.utils.module", "torch._inductor")
# (monai.utils.module's, re-exported by monai.utils and monai: red team 69's instantiate)
_STRING_PATHS += ("monai.utils.instantiate", "monai.utils.load_submodules")
_STRING_PATHS += ("monai.utils.require_pkg", "monai.utils.get_package_version")
# (red teams 81, 82: YAML's python tags, sympy's get_class, SQLAlchemy's plugin loader)
_STRING_PATHS += ("yaml.full_load", "yaml.full_load_all", "yaml.FullLoader", "yaml.UnsafeLoader")
_STRING_PATHS += ("yaml.Loader", "yaml.CFullLoader", "yaml.CUnsafeLoader", "yaml.CLoader")
_STRING_PATHS += ("sympy.utilities.source", "sqlalchemy.util.langhelpers")
_STRING_PATHS += ("sqlalchemy.util.PluginLoader",)
_STRING_PATHS += ("monai.load_submodules",)
_STRING_PATHS += ("torch._C._jit_get_operation", "alembic", "_pytest")
_STRING_PATHS += ("pytest.importorskip", "monai.bundle")
# runners of code given as text (templates, expression parsers, config files, imp): a
# statement that calls one may bind any name (``import __main__`` inside a template)
_TEMPLATES = ("mako", "imp", "traitlets.config", "jinja2", "sympy.sympify", "sympy.S")
_TEMPLATES += ("sympy.parse_expr", "sympy.parsing", "sympy.lambdify", "sympy.core.sympify")
_TEMPLATES += ("sympy.utilities.lambdify", "torch.utils.benchmark", "tornado.template")
_TEMPLATES += ("IPython.utils.text.EvalFormatter", "IPython.utils.text.FullEvalFormatter")
_TEMPLATES += ("IPython.utils.text.DollarFormatter", "monai.bundle", "IPython.core.guarded_eval")
_STRING_PATHS += _TEMPLATES
# and such runners called by their own name under any module's (IPython.core.completer's
# guarded_eval, torch.jit.annotations' get_type_hints)
_EVALUATOR_NAMES = {"guarded_eval", "get_type_hints", "_eval_type", "get_annotations"}
# annotations are evaluated as code, ``f.__annotations__ = {"return": "F.cross" + "_entropy"}``
_STRING_PATHS += ("typing.get_type_hints", "typing.ForwardRef", "typing._eval_type")
_STRING_PATHS += ("typing_extensions.get_type_hints", "inspect.get_annotations")
# what lists the interpreter's objects, for an answer to pick one by a name built from strings
# (``[f for f in gc.get_objects() if f.__name__ == "cross" + "_entropy"]``)
_ENUMERATORS = {
    "gc.get_objects": _PATHS["gc.get_objects"],
    "gc.get_referents": _PATHS["gc.get_referents"],
    "gc.get_referrers": _PATHS["gc.get_referrers"],
    "torch.overrides": _PATHS["torch.overrides"],
    # torch's operator tables, each of those _PATHS gives that reason (red team 78: the table
    # torch.export decomposes with, an operator picked by its name's hash)
    **{p: why for p, why in _PATHS.items() if why == _PATHS["torch._decomp"]},
    "__subclasses__": _ATTRIBUTES["__subclasses__"],
}
# IPython keeps each cell's displayed value (its last expression) in ``_``, ``__``, ``___``,
# ``_<n>``, ``Out[n]`` and ``_oh[n]``: a value no line binds (a cell ``F.cross_entropy``, then
# ``def loss(x, y, f=_)``); ``history_manager.output_hist`` and ``displayhook._`` hold them too
OUTPUT_HISTORY = "reads IPython's output history (_, _<n>, Out)"
_HISTORY_NAMES = re.compile(r"_{1,3}|_\d+")
_HISTORY_DICTS = {"Out", "_oh"}  # IPython's, unless the student's cells bind the name
_HISTORY_ATTRIBUTES = {"output_hist", "output_hist_reprs", "last_execution_result"}
# and the error the last failed cell raised, which IPython keeps (`raise X(F.cross_entropy)`)
_LAST_ERROR = {"sys.last_value", "sys.last_exc", "sys.last_traceback", "sys.last_type"}
# what makes torch's functions run other code than their own, from any cell on (a mode entered
# in a cell no answer reaches: ``F.multi_margin_loss`` then computes a cross-entropy)
OVERRIDES_TORCH = "changes what torch's functions do (__torch_function__, modes, torch.library)"
_TORCH_HOOKS = {"__torch_function__", "__torch_dispatch__", "py_impl"}  # py_impl: an operator's
# torch's mode classes, wherever imported from (torch.fx.experimental.proxy_tensor re-exports
# TorchFunctionMode), and the global hooks of every module (one turns a module's forward into
# a cross-entropy), and a class's hook on its subclasses set on a library's (nn.Module's)
_TORCH_HOOKS |= {"TorchFunctionMode", "TorchDispatchMode", "BaseTorchFunctionMode"}
_TORCH_HOOKS |= {"register_module_forward_hook", "register_module_forward_pre_hook"}
_TORCH_HOOKS |= {"register_module_full_backward_hook", "register_module_backward_hook"}
_TORCH_HOOKS |= {"register_module_full_backward_pre_hook", "__init_subclass__"}
_TORCH_HOOKS |= {"register_backend"}  # a compiler backend of the notebook's, named by a string
_TORCH_OVERRIDERS = ("torch.overrides", "torch.utils._device", "torch.utils._python_dispatch")
_TORCH_OVERRIDERS += ("torch.library", "torch._library", "torch._ops", "torch._subclasses")
_TORCH_OVERRIDERS += ("torch._C._push_on_torch_function_stack", "torch._C._set_torch_function_mode")
_TORCH_OVERRIDERS += ("torch._C._push_on_torch_dispatch_stack", "torch._C._set_dispatch_mode")
_TORCH_OVERRIDERS += ("torch._C._get_function_stack_at", "torch._C._get_dispatch_stack_at")
# (a compiler backend registered by name runs what it likes: `register_backend`, in _TORCH_HOOKS)
# what lets torch.load(weights_only=True) rebuild any function the notebook saved
_TORCH_OVERRIDERS += ("torch.serialization.add_safe_globals", "torch.serialization.safe_globals")
_NAME_BUILDERS = {"getattr", "setattr", "delattr", "hasattr"}
# modules whose classes a notebook looks up by a name it holds (``getattr(nn, activation)``, an
# optimiser's name): what the answer then calls, the kernel's watch sees (harness._Watch)
_LOOKED_UP_BY_NAME = {"torch.nn", "torch.optim", "torch.optim.lr_scheduler", "torch.nn.init"}
_LOOKED_UP_BY_NAME |= {"torch.nn.functional"}  # (getattr(F, self.activation)(x), "relu")
# a tensor's reductions, called by a name the notebook spells (`getattr(per_pixel, reduction)()`
# with `reduction="mean"`, as torch's losses take it), on whatever the name is read
_REDUCTIONS = {"mean", "sum", "nanmean", "nansum", "prod", "amax", "amin", "max", "min", "median"}
_REDUCTIONS |= {"std", "var", "norm", "logsumexp", "item", "tolist"}
_SETTERS = {"setattr", "delattr"}
_DUNDER_SETTERS = {"__setattr__", "__delattr__"}
# what reaches a namespace, where a name built from a string can be set
_NAMESPACE_ATTRIBUTES = {"__dict__", "user_ns", "user_global_ns", "user_module", "ns_table"}
_NAMESPACE_ATTRIBUTES |= {"user_ns_hidden"}
_NAMESPACE_ATTRIBUTES |= {"__globals__", "f_globals", "f_locals"}  # a function's, a frame's
_NAMESPACE_ATTRIBUTES |= _STATE_NAMES  # (an object's __dict__ by another name)
# what reaches, or turns off, the profile hook that watches an answer run (harness._Watch), or
# finds a module by a name built at run time: costs the block wherever it hangs
_WATCHERS = {"gettrace", "getprofile", "settrace", "setprofile", "_trace_hook", "_profile_hook"}
_WATCHERS |= {"settrace_all_threads", "setprofile_all_threads"}
_WATCHERS |= {"load_library"}  # torch.ops.load_library: native code, which no reading follows
_WATCHERS |= {"getclosurevars"}  # a function's globals: sys and its modules (red team 28)
_WATCHERS |= set(_MODE_GETTERS.split())  # torch's modes running: the watch's (red team 30)
_TRACERS = frozenset(_WATCHERS)  # in any cell: it costs every block tested after it
# as do _thread and threading's inner parts (a thread started without the hook), and setting the
# module's __name__ (which the hook reads)
SETS_NAME = "reaches into the interpreter (sets a module's or a function's name)"
_WATCHERS |= {"import_module", "resolve_name", "getmodule"}
# and what hands over an attribute by a name built at run time, under any module's name (red
# team 30: monai.transforms.utils.getmembers, torch.autograd.profiler_util.attrgetter)
_WATCHERS |= {"getmembers", "getmembers_static", "getattr_static", "attrgetter", "methodcaller"}
# and libraries' own importers of a dotted name given as a string (round 23: fsspec's
# _import_class gave torch's loss), under any module's name
_WATCHERS |= {"_import_class", "import_object", "import_string", "import_item"}
_WATCHERS |= {"_import_dotted_name", "loadTestsFromName", "loadTestsFromNames"}
# and a pool's inner parts: work put straight into its queue runs without the watch the pool's
# submit sets (round 23, concurrent.futures' _WorkItem into a ThreadPoolExecutor's _work_queue)
_POOL_PARTS = {"_work_queue", "_WorkItem", "_taskqueue", "_inqueue", "_threads"}
_WATCHERS |= _POOL_PARTS
_TRACERS |= _POOL_PARTS  # (a pool's thread serves any later answer)
_NAMESPACE_CALLS = {"globals", "vars", "locals"}
_DOTTED = re.compile(r"[A-Za-z_][\w.]*")
# what an answer reaches them through: ``builtins.eval``, ``__builtins__.getattr``
_BUILTINS = ("builtins.", "__builtins__.")
_BUILTIN_NAMES = frozenset(dir(builtins))
_MAGIC_RUNNERS = {"run_line_magic", "run_cell_magic", "magic", "system", "getoutput"}
# the path of a student's function named as a built-in (Notebook.own_builtins): no built-in's
OWN = "__notebook__."
_GETATTRIBUTE = {"__getattribute__", "__getattr__"}
_IPYTHON_CODE = {*_SHELL_RUNNERS.split(), "run_cell_magic", "compile"}  # (compile: red team 76)
_IPYTHON_CODE |= {"find_line_magic", "find_cell_magic", "find_magic"}  # a magic, called with code
# IPython's hooks that make the code a cell runs differ from its text (input and AST transformers,
# magics of the notebook's own, autocall): past one, no cell's text is what runs
REWRITES = "rewrites the code IPython runs from the cells' text (IPython hooks)"
_CELL_REWRITERS = {
    "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
    "input_transformer_manager", "prefilter_manager", "register_magic_function",
    "register_magics", "magics_manager", "define_macro", "autocall",
    "register_cell_magic", "register_line_magic", "register_line_cell_magic", "magics_class",
}  # fmt: skip
_REWRITING_MAGICS = {"autocall", "alias_magic", "macro", "code_wrap"}
# the shell's runner of async cells, which it imports by a dotted name (`%autoawait torch.x.y`,
# `ip.loop_runner = "torch.x.y"`: red team 45 had any object so, named by no reading); the names
# IPython knows for it
_CELL_REWRITERS |= {"loop_runner", "loop_runner_map"}
_PLAIN_AUTOAWAIT = {"", "true", "false", "on", "off", "asyncio", "curio", "trio", "sync"}
# IPython's events: code of the notebook's run before and after every cell, the grader's requests
# too (a red team's answered the loss with torch's before the request ran, out of the kernel's
# watch, or took torch's name out of the answer after it)
AROUND_CELLS = "runs code of its own around every cell, the grader's requests too (IPython events)"
_AROUND_CELLS = {"events", "register_post_execute", "EventManager"}
# magics that run the text they are given, or cells of the history, as code
_RUNNING_MAGICS = {"recall", "rerun", "edit"}
# loaders that unpickle (a pickle runs any code it names): by module, or by their keyword
UNPICKLES = "runs code from data (unpickles)"
_UNPICKLERS = (
    "pickle",
    "_pickle",
    "multiprocessing.reduction",
    "torch.multiprocessing.reductions",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib.load",
    "pandas.read_pickle",
    "jsonpickle",
    "yaml.unsafe_load",
    "yaml.unsafe_load_all",
)
_PICKLE_KEYWORDS = {"allow_pickle": False, "weights_only": True}  # the value that does not
# loaders whose unpickling is a keyword's: given **options, or allow_pickle by its position
_KEYWORD_LOADERS = {"numpy.load": 2, "numpy.lib.npyio.load": 2, "numpy.lib.format.read_array": 1}
_KEYWORD_LOADERS |= {"torch.load": None, "torch.serialization.load": None}
# writers that take a loader's keyword: `np.save(f, a, allow_pickle=True)` writes a pickle, loads
# none (honest round 15: 2 points), where nothing of the notebook's sets the name otherwise
_KEYWORD_WRITERS = {"numpy.save", "numpy.savez", "numpy.savez_compressed"}
_YAML_SAFE = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}  # build no object
_UNPICKLING_MAGICS = {"store"}  # %store -r: the variables IPython pickled in the kernel's home
# the standard library's interpreters of strings (``code.InteractiveInterpreter().runsource``)
RUNS_SOURCE = "runs code from strings (code, codeop)"
_INTERPRETERS = ("code.InteractiveInterpreter", "code.InteractiveConsole", "code.interact")
_INTERPRETERS += ("code.compile_command", "codeop")
# the standard library's and torch's other runners of strings: ``cProfile.run(s)`` and
# ``pdb.run(s)`` run ``s`` in the notebook's namespace, doctest its docstrings, TorchScript and
# C++ from strings call what they like (``torch.jit.CompilationUnit(s).f``)
RUNS_ELSEWHERE = "runs code from strings (profilers, debuggers, doctest, TorchScript, torch.hub)"
_RUNNERS = ("cProfile.run", "cProfile.runctx", "profile.run", "profile.runctx", "pdb.run")
_RUNNERS += ("pdb.runeval", "pdb.runctx", "pdb.Pdb", "bdb", "trace.Trace", "doctest")
_RUNNERS += ("torch.jit.CompilationUnit", "torch.jit._script.CompilationUnit", "torch.jit.load")
_RUNNERS += ("torch._C.CompilationUnit", "torch.utils.cpp_extension", "torch.hub.load")
_RUNNERS += ("torch.hub.list", "torch.hub.help")  # torch.hub: the hubconf.py of any folder
_RUNNERS += ("zipimport",)  # a module of a zip the notebook wrote, found by no import statement
# a program the notebook wrote as data: torch.export's graphs, torch.package's pickles, AOTInductor
_RUNNERS += ("torch.export.load", "torch.package", "torch._inductor.aoti_load_package")
_PROFILERS = ("cProfile.Profile", "profile.Profile")  # whose run(s) and runctx(s) run s
_STRINGS = {
    "mountinfo": "looks for the grading machine's files (/proc mounts)",
    "/proc/self/mount": "looks for the grading machine's files (/proc mounts)",
    "/proc/1/": "looks for the grading machine's files (/proc)",
    "unet_tp_harness": "reaches into the grading harness",
    "_SNAPSHOT": "reaches into the grading harness",
    "_PROBES": "reaches into the grading harness",
}


@functools.lru_cache(maxsize=2048)
def _as_python(source: str) -> str:
    """The cell with IPython's syntax turned into calls (the same text again and again: a
    class's notebooks share the TP's cells)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


_IFUN = re.compile(r"\s*([A-Za-z_][\w.]*)(.*)\Z", re.S)


@functools.cache
def _line_magic_names() -> frozenset[str]:
    """The line magics and aliases of the kernel's IPython: what automagic runs a one-line
    cell's first word as."""
    import pkgutil

    from IPython.core import magics
    from IPython.core.alias import default_aliases

    modules = [f"IPython.core.magics.{m.name}" for m in pkgutil.iter_modules(magics.__path__)]
    modules.append("ipykernel.zmqshell")  # (the kernel's own: %edit, %autosave...)
    classes = []
    for name in modules:
        with contextlib.suppress(ImportError):
            found = vars(importlib.import_module(name)).values()
            classes += [c for c in found if isinstance(c, type) and hasattr(c, "magics")]
    names = {n for c in classes for n in (c.magics or {}).get("line", {})}
    return frozenset(names | {alias for alias, _ in default_aliases()})


def _prefiltered(python: str, bound: frozenset[str] = frozenset()) -> str:
    """A one-line cell as IPython's prefilter runs it (on a single line only): its first word a
    line magic or alias, or any word where the line is no Python, run as that magic (automagic:
    red team 48's `time dice_score = ...` ran unread, a SyntaxError to the reading); else as it
    is. Not an assignment to the word (`time = 3`), nor, where the line is Python, a word the
    notebook binds at its top level (``bound``: `run = train(...)`, then `run` shows it)."""
    found = _IFUN.match(python) if len(python.splitlines()) == 1 else None
    if not found or keyword.iskeyword(found[1]) or found[2].lstrip()[:1] in ("=", ","):
        return python
    try:
        parse_code(python)
    except (SyntaxError, ValueError):
        pass
    else:
        if found[1] not in _line_magic_names() or found[1] in bound:
            return python
    return _as_python(f"%{found[1]} {found[2].strip()}")  # (`time(x)` is `%time (x)`)


def commands(source: str) -> int:
    """How many IPython commands a cell may hold (an upper bound)."""
    return len(_IPYTHON_COMMAND.findall(source))


def _not_read() -> ast.Module:
    return parse_code(f"{UNREAD}()")


def parse(source: str, depth: int = 0, bound: frozenset[str] = frozenset()) -> ast.Module | None:
    """The cell as Python (IPython syntax turned into calls, the code a magic runs in the
    notebook's namespace read as the cell's own), or None if it does not parse; a cell of more
    than ``MAX_COMMANDS_PER_CELL`` IPython commands, or nested too deep to read, is one call to
    ``UNREAD``."""
    if commands(source) > MAX_COMMANDS_PER_CELL:
        return _not_read()
    try:
        tree = parse_code(_prefiltered(_as_python(source), bound))
    except (RecursionError, MemoryError):  # nested past the grader's limit, not the kernel's
        return _not_read()  # (sys.setrecursionlimit in a cell before): it runs there
    except (SyntaxError, ValueError, RuntimeError):
        return None  # RuntimeError: IPython's transformer gives up (over 500 magics in a cell)
    blank = len(source.splitlines()) - len(source.lstrip(" \t\n\r\f\v").splitlines())
    if blank > 0:  # IPython drops a cell's leading blank lines: the cell's own line numbers
        ast.increment_lineno(tree, blank)
    _expand_variables(tree)
    if depth < _MAX_MAGIC_DEPTH:
        _expand_magics(tree, depth)
    _mark_own_renames(tree)
    return tree


# the shell's calls that expand `{expression}` and `$name` in the text they are given before
# anything else (IPython's var_expand: `!ls {folder}`, `%cd $folder`; red team 45 ran code so in
# `%pwd {...}`), and the magics that opt out (their code is read by _magic_code)
_EXPANDING = {"run_line_magic": 1, "run_cell_magic": 1, "getoutput": 0}
_EXPANDING |= {"system": 0, "system_piped": 0, "system_raw": 0}
_NOT_EXPANDED = {"time", "timeit", "prun", "debug"}


def _expanded_text(call: ast.AST) -> ast.AST | None:
    """The argument a call of :data:`_EXPANDING` expands (a string, or what builds one), or None."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    at = _EXPANDING.get(call.func.attr)
    if at is None or len(call.args) <= at:
        return None
    magic = call.args[0] if at else None
    if isinstance(magic, ast.Constant) and magic.value in _NOT_EXPANDED:
        return None
    return call.args[at]


def _expressions_of(text: ast.AST) -> list[ast.expr]:
    """The expressions IPython's var_expand evaluates in ``text`` (a call of EXPANDED where the
    text is built at run time, of UNREAD where it cannot be read)."""
    from IPython.utils.text import DollarFormatter

    unread = ast.Call(ast.Name(UNREAD, ast.Load()), [], [])
    if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
        return [ast.Call(ast.Name(EXPANDED, ast.Load()), [text], [])]
    found = []
    try:
        for _, field, spec, _ in DollarFormatter().parse(text.value):
            if field is not None:
                code = f"{field}:{spec}" if spec else field
                found.append(parse_code(code.strip(), mode="eval").body)
    except (ValueError, SyntaxError):  # unbalanced braces, `find -exec ls {} ;`: the fields
        return found  # before it evaluated, and no more (IPython gives up, the text as it is)
    except (RecursionError, MemoryError):  # too deep for the grader, maybe not for the kernel
        return [*found, unread]
    return found


def _header(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement outside the statements it holds (an ``if``'s test, not its body)."""
    for _, value in ast.iter_fields(stmt):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ast.AST) and not isinstance(item, (ast.stmt, ast.excepthandler)):
                yield from ast.walk(item)


def _expand_variables(tree: ast.Module) -> None:
    """The expressions var_expand evaluates (:data:`_EXPANDING`) read as statements of the cell
    just before the statement holding the call (in place)."""
    for parent in list(ast.walk(tree)):
        for field, value in ast.iter_fields(parent):
            if not (isinstance(value, list) and value and isinstance(value[0], ast.stmt)):
                continue
            new: list = []
            for stmt in value:
                for node in list(_header(stmt)):
                    text = _expanded_text(node)
                    for expr in _expressions_of(text) if text is not None else ():
                        new.append(ast.Expr(expr))
                        ast.copy_location(new[-1], stmt)
                        for sub in ast.walk(expr):  # numbered as the statement's line
                            ast.copy_location(sub, stmt)
                new.append(stmt)
            setattr(parent, field, new)


_WRAPPER_NAMES = {"__name__", "__qualname__", "__module__"}


def _mark_own_renames(tree: ast.AST) -> None:
    """``wrapper.__name__ = fn.__name__`` in a decorator: a statement of its body naming a
    function it defines there and binds nowhere else (nor declares ``global``/``nonlocal``: red
    team 27 renamed a library's function so), as ``functools.wraps`` does: not code of a
    library's renamed (:func:`_sets_name`; honest round 7 lost every block after it). Only the
    functions holding such a statement are walked again, the first 20 of a cell (a deep cell
    costs no more)."""
    budget = 20
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        renames = [
            stmt.targets[0]
            for stmt in func.body
            if isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Attribute)
            and stmt.targets[0].attr in _WRAPPER_NAMES
            and isinstance(stmt.targets[0].value, ast.Name)
        ]
        if not renames:
            continue
        defined = {
            s.name for s in func.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        renames = [target for target in renames if target.value.id in defined]
        if not renames:
            continue
        budget -= 1
        if budget < 0:  # (past a few, nested: renames cost as they did)
            return
        bound = collections.Counter()
        for node in ast.walk(func):
            if node is not func:
                bound.update(_names_bound(node))
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                bound.update(node.names * 2)
        for target in renames:
            target.own_rename = bound[target.value.id] == 1


# IPython magics that run their argument as Python in the notebook's namespace (``%time x = f()``
# binds x): line magic -> getopt options before the code; cell magics: their body (and, for
# %%timeit, the setup code of their line)
_CODE_LINE_MAGICS = {"time": "", "timeit": "n:r:tcp:qo", "prun": "D:l:rs:T:q", "debug": ""}
_CODE_CELL_MAGICS = {"time", "timeit", "prun", "debug", "capture"}
_MAX_MAGIC_DEPTH = 8  # %time %time ... nested deeper: left a call (code from strings)


def _magic_by_built_name(call: ast.Call) -> bool:
    """``run_line_magic(name, code)`` whose magic's name is not written out (``"ti" + "me"``)."""
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr in ("run_line_magic", "run_cell_magic")
        and not (call.args and isinstance(call.args[0], ast.Constant))
    )


def _magic_call(node: ast.AST) -> tuple[str, str, list] | None:
    """``(line or cell, magic, its string arguments)`` of ``get_ipython().run_line_magic(...)``
    or ``run_cell_magic(...)`` naming a magic that runs code, or None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner, kind = node.func.value, node.func.attr
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
        and kind in ("run_line_magic", "run_cell_magic")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        return None
    magic = node.args[0].value
    if magic not in (_CODE_LINE_MAGICS if kind == "run_line_magic" else _CODE_CELL_MAGICS):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args[1:]]
    return kind, magic, args


def _without_options(line: str, options: str) -> str:
    """The code of a magic's line after its options (``-n 10 -q``: getopt's short options)."""
    rest = line.strip()
    while rest.startswith("-"):
        flag, rest = (re.split(r"\s+", rest, maxsplit=1) + [""])[:2]
        if len(flag) == 2 and f"{flag[1]}:" in options:  # -n 10: the option's value
            rest = (re.split(r"\s+", rest, maxsplit=1) + [""])[1]
    return rest


def _magic_code(node: ast.AST, depth: int) -> list[ast.stmt] | None:
    """The statements a code-running magic call runs (numbered as the cell's lines), or None
    (not one, or code that cannot be read)."""
    found = _magic_call(node)
    if found is None:
        return None
    kind, magic, args = found
    if any(not isinstance(a, str) for a in args):
        return None
    line = node.lineno - 1  # the magic's code starts on its line, a cell magic's body below
    if kind == "run_line_magic":
        sources = [(_without_options(args[0], _CODE_LINE_MAGICS[magic]), line)] if args else []
    else:
        sources = [(args[1], line + 1)] if len(args) > 1 else []
        if magic == "timeit" and args:  # %%timeit -n1 setup: the setup runs first
            sources.insert(0, (_without_options(args[0], _CODE_LINE_MAGICS["timeit"]), line))
    body: list[ast.stmt] = []
    for source, offset in sources:
        tree = parse(source, depth + 1)
        if tree is None:
            return None
        body += [ast.increment_lineno(stmt, offset) for stmt in tree.body]
    return body


def _expand_magics(tree: ast.Module, depth: int) -> None:
    """Each code-running magic call of ``tree`` replaced by the code it runs (in place; ast.walk
    is iterative: a deep cell costs no recursion)."""
    for parent in list(ast.walk(tree)):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list):
                new: list = []
                for item in value:
                    call = item.value if isinstance(item, ast.Expr) else item
                    code = _magic_code(call, depth)
                    if code is None:
                        new.append(item)
                    elif isinstance(item, ast.stmt):
                        new += code or [ast.Pass(lineno=item.lineno, col_offset=0)]
                    elif len(code) == 1 and isinstance(code[0], ast.Expr):
                        new.append(code[0].value)
                    else:
                        new.append(item)
                setattr(parent, field, new)
            elif isinstance(value, ast.AST):
                code = _magic_code(value, depth)
                if code and len(code) == 1 and isinstance(code[0], ast.Expr):
                    setattr(parent, field, code[0].value)


def _locked(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool((meta.get("grade") or meta.get("locked")) and not meta.get("solution"))


def _quote(cell, node: ast.AST) -> str:
    lines = cell.source.splitlines()
    number = getattr(node, "lineno", 1)
    text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return M.QUOTED.format(line=number, code=text[:100])


# what writes a pickle runs no code (saving one's history is no unpickling)
_PICKLE_WRITERS = {"pickle.dump", "pickle.dumps", "pickle.Pickler", "pickle.HIGHEST_PROTOCOL"}
_PICKLE_WRITERS |= {"dill.dump", "dill.dumps", "cloudpickle.dump", "cloudpickle.dumps"}


def _within(name: str, module: str) -> bool:
    return (name == module or name.startswith(module + ".")) and name not in _PICKLE_WRITERS


def _under(name: str, modules) -> bool:
    """Whether ``name`` is one of ``modules`` or inside one (computed once, tested for each):
    for a tuple, each of ``name``'s dotted prefixes looked up in its set (the reading asks this
    of every name it resolves: a test's reading spent a third of its time here)."""
    if type(modules) is not tuple:
        return any(_within(name, m) for m in modules)
    found = _as_set(modules)
    return name not in _PICKLE_WRITERS and any(p in found for p in _prefixes(name))


def _prefixes(name: str):
    """``name``'s dotted prefixes, shortest first, then ``name`` itself ("a", "a.b", "a.b.c")."""
    end = name.find(".")
    while end != -1:
        yield name[:end]
        end = name.find(".", end + 1)
    yield name


@functools.lru_cache(maxsize=256)
def _as_set(modules: tuple) -> frozenset:
    return frozenset(modules)


def _path_reasons(name: str, dotted: bool = False) -> list[str]:
    """The reasons of ``_PATHS`` whose path ``name`` is or is inside, in ``_PATHS``'s order
    (``dotted``: of dotted paths only), found by ``name``'s dotted prefixes."""
    if name in _PICKLE_WRITERS:
        return []
    found = [p for p in _prefixes(name) if p in _PATHS and (not dotted or "." in p)]
    return [_PATHS[p] for p in sorted(found, key=_PATH_ORDER.__getitem__)]


_IMPORT_PATHS = ("sys.path", "sys.meta_path", "sys.path_hooks", "site", "pkgutil")


@functools.cache
def _installed(module: str) -> bool:
    """Whether the grading environment has a top-level ``module`` (the standard library or an
    installed package; not a file of the folder the grader runs in), found without importing it."""
    if not module or module in sys.builtin_module_names or module in sys.stdlib_module_names:
        return bool(module)
    here = {"", os.getcwd()}
    paths = [p for p in sys.path if p not in here]
    return importlib.machinery.PathFinder.find_spec(module, paths) is not None


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules (and ``module.name``) an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _import_binds(node: ast.Import | ast.ImportFrom, imported: str) -> str:
    """What an import binds of ``imported``: ``import torch.distributions`` binds ``torch``, the
    package (its submodule is then read as ``torch.distributions``, where it is used)."""
    if isinstance(node, ast.Import):
        alias = next(a for a in node.names if a.name == imported)
        return imported if alias.asname else imported.split(".")[0]
    return imported


def _module_statements(tree: ast.Module):
    """The statements run in the notebook's namespace, in order: the top level and the blocks
    nested in it (``if``, ``with``, ``try``, loops), not the bodies of functions and classes."""
    todo = list(reversed(tree.body))
    while todo:
        stmt = todo.pop()
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        nested = [s for field in ("body", "orelse", "finalbody") for s in getattr(stmt, field, [])]
        nested += [s for h in getattr(stmt, "handlers", []) for s in h.body]
        nested += [s for c in getattr(stmt, "cases", []) for s in c.body]
        todo += reversed(nested)


def _written_module(node: ast.AST) -> set[str]:
    """The module a ``%%writefile [-a] NAME.py`` cell writes, as ``import`` names it."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run_cell_magic"
        and len(node.args) > 1
        and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2])
        and node.args[0].value == "writefile"
    ):
        return set()
    words = node.args[1].value.split()
    name = words[-1].strip("'\"").rsplit("/", 1)[-1] if words else ""
    return {name[:-3]} if name.endswith(".py") else set()


_DICT_READERS = {"items", "keys", "values", "get", "update", "setdefault"}
# what could give a dict the notebook shows (a cell ending in `res`) to code of the student's
_DISPLAY_HOOKS = {"display_formatter", "displayhook", "for_type", "for_type_by_name", "formatters"}
_NAMESPACE_HOOKS = {"user_ns", "user_global_ns", "user_module"}
_NAMED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.MatchAs, ast.MatchStar)
_NAMED += (ast.ExceptHandler,)


def _plain_dicts(trees: list, nodes: list, parents: dict) -> frozenset[str]:
    """Names that only ever hold a dict literal of the notebook's, never its namespace: every
    binding anywhere is ``name = {...}`` (or ``dict()``), and every use a subscript
    (``res["torch"] = x``), ``.items()``, ``.keys()``, ``.values()``, ``.get()``, ``.update()``,
    ``.setdefault()``, the built-in ``print(name)`` or a cell's display of it. Their keys are no
    names of the notebook. Empty where code runs from strings, a star import or the
    shell's namespace could bind any name."""
    statements = [stmt for tree in trees if tree for stmt in tree.body]
    if any(
        (isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names))
        or (isinstance(n, ast.Attribute) and n.attr in _NAMESPACE_HOOKS)
        or (isinstance(n, ast.Name) and n.id in _RUNS_STRINGS)
        for n in nodes
    ):
        return frozenset()
    bound = set().union(*map(_bound, statements)) if statements else set()
    shown = not any(isinstance(n, ast.Attribute) and n.attr in _DISPLAY_HOOKS for n in nodes)
    stored, used = set(), set()
    for node in nodes:
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            used.update(node.names)
        elif isinstance(node, ast.arg):
            used.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, _NAMED) and getattr(node, "name", None):
            used.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            used.add(node.rest)
        elif isinstance(node, ast.Name) and not _plain_use(node, parents, bound, shown):
            used.add(node.id)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stored.add(node.id)
    return frozenset(stored - used)


def _plain_use(name: ast.Name, parents: dict, bound: set[str], shown: bool) -> bool:
    """Whether ``name`` is bound to a dict literal, or used as a plain dict only (see above;
    ``bound``: the notebook's names, ``shown``: a dict displayed reaches no code of its own)."""
    parent = parents.get(id(name))
    if isinstance(name.ctx, ast.Store):
        value = parent.value if isinstance(parent, ast.Assign) else None
        made = isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
        made = made and value.func.id == "dict" and "dict" not in bound and not value.args
        return (
            isinstance(parent, ast.Assign)
            and name in parent.targets
            and (isinstance(value, (ast.Dict, ast.DictComp)) or made)
        )
    if isinstance(name.ctx, ast.Del):  # not shown: a display formatter of the notebook's own
        return True  # (`for_type(dict, ...)`) would be given the dict
    if isinstance(parent, ast.Subscript) and parent.value is name:
        return True
    call = parents.get(id(parent))
    if isinstance(parent, ast.Attribute) and parent.attr in _DICT_READERS:
        return isinstance(call, ast.Call) and call.func is parent
    return (
        isinstance(parent, ast.Call)
        and name in parent.args
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "print"
        and "print" not in bound
    ) or (shown and isinstance(parent, ast.Expr))


def _profilers(nb, nodes: list) -> set[str]:
    """Names the notebook binds to a profiler (``p = cProfile.Profile()``, ``with ... as p``)."""
    pairs = []
    for node in nodes:
        pairs += [(t, node.value) for t in node.targets] if isinstance(node, ast.Assign) else []
        pairs += [(node.optional_vars, node.context_expr)] if isinstance(node, ast.withitem) else []
    pairs = [(t.id, v) for t, v in pairs if isinstance(t, ast.Name)]
    found = {
        name
        for name, value in pairs
        if isinstance(value, ast.Call) and _under(nb.resolve(value.func), _PROFILERS)
    }
    copies: dict[str, set[str]] = {}  # and the names copied from them (``q = p``), each once
    for name, value in pairs:
        if isinstance(value, ast.Name):
            copies.setdefault(value.id, set()).add(name)
    todo = list(found)
    while todo:
        for name in copies.get(todo.pop(), set()) - found:
            found.add(name)
            todo.append(name)
    return found


def _runs_elsewhere(nb, call: ast.Call) -> bool:
    """``cProfile.run(s)``, ``pdb.run(s)``, ``doctest``, ``torch.jit.CompilationUnit(s)``...,
    ``run(s)`` or ``runctx(s, ...)`` of a profiler: code from strings (see ``_RUNNERS``)."""
    path = nb.resolve(call.func)
    if _under(path, _RUNNERS):
        return True
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("run", "runctx")):
        return False
    owner = func.value
    if isinstance(owner, ast.Call):
        return _under(nb.resolve(owner.func), _PROFILERS)
    return isinstance(owner, ast.Name) and owner.id in nb.profilers


# modules a library re-exports as an attribute (`os.sys`, `torch.sys`): the path read from there
_REEXPORTED = ("sys", "builtins", "importlib", "gc", "ctypes", "pickle", "marshal", "runpy")
_REEXPORTED += ("operator", "_operator")


# the C modules behind modules read by name: ``_operator.attrgetter`` is operator's (round 23)
_TWINS = {"_operator": "operator", "_frozen_importlib": "importlib"}
_TWINS |= {"_frozen_importlib_external": "importlib", "_imp": "importlib"}


def _rebased(path: str) -> str:
    """``os.sys.modules`` is ``sys.modules``: a path through a module another re-exports;
    ``_operator.attrgetter`` is ``operator.attrgetter``; ``len.__self__`` is ``builtins``, the
    module of a built-in function (red team 41 rewrote the built-ins through it, unread)."""
    parts = path.split(".")
    for k in range(1, len(parts)):
        if parts[k] in _REEXPORTED:
            parts = parts[k:]
            break
    if parts[1:2] == ["__self__"] and parts[0] in _BUILTIN_NAMES:
        parts = ["builtins", *parts[2:]]
    return ".".join([_TWINS.get(parts[0], parts[0]), *parts[1:]])


@functools.cache
def _walk(node: ast.AST) -> tuple[ast.AST, ...]:
    """``ast.walk``'s nodes, kept: the reading walks the same statements many times (cleared
    for each notebook read; a tree is never changed once parsed)."""
    return tuple(ast.walk(node))


def read(nb) -> Notebook:
    """``nb`` (nbformat's) read, or kept if read already: the grader reads a submission once for
    its four readings (review, forbidden calls, late definitions and helpers)."""
    return nb if isinstance(nb, Notebook) else Notebook(nb)


def _code_cells(nb) -> list[tuple[int, dict, ast.Module | None]]:
    """Each code cell, by its index, parsed; past ``MAX_COMMANDS`` or ``MAX_CODE`` in all, read
    as one call to ``UNREAD``."""
    cells, total, size = [], 0, 0
    bound = _names_bound_in(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            total, size = total + commands(cell.source), size + len(cell.source)
            readable = total <= MAX_COMMANDS and size <= MAX_CODE
            cells.append((i, cell, parse(cell.source, 0, bound) if readable else _not_read()))
    return cells


_BINDS = re.compile(
    r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)|^(?:from\s+[\w.]+\s+)?import\s+([^\n#;]+)",
    re.M,
)


def _names_bound_in(nb) -> frozenset[str]:
    """The names the notebook's code cells bind at their top level (``x = ...``, ``def``,
    ``class``, ``import``): a one-line cell of Python naming one shows it, no magic."""
    names = set()
    for cell in nb.cells:
        for found in _BINDS.finditer(cell.source if cell.cell_type == "code" else ""):
            names |= {found[1], found[2]} - {None}
            for part in (found[3] or "").strip("() ").split(","):
                words = part.split()
                names |= (
                    {words[-1] if "as" in words else words[0].split(".")[0]} if words else set()
                )
    return frozenset(names)


MAX_ALIAS_PARTS = 32  # the dots of a path an alias is read as (longer: the student's own object)


class Notebook:
    """The repaired notebook's code cells, parsed once, with the aliases they bind."""

    def __init__(self, nb):
        _walk.cache_clear(), _global_names.cache_clear()
        self.nb, self.cells = nb, _code_cells(nb)
        self._top_level: dict[int, dict[str, list[ast.AST]]] = {}
        # every node of the cells, and each one's parent (the readings below share them)
        self.nodes = nodes = [node for _, _, tree in self.cells if tree for node in _walk(tree)]
        self.parents = {id(c): p for p in nodes for c in ast.iter_child_nodes(p)}
        self._scopes: dict[int, frozenset[str]] = {}  # the names each scope binds (by id)
        self.aliases: dict[str, str] = {}
        self._paths: dict[ast.AST, str] | None = None  # resolve's, once the aliases are known
        for _, _, tree in self.cells:
            for stmt in _module_statements(tree) if tree else []:
                self._bind(stmt)
        # resolve's paths by node; what a statement misuses, by statement, block names and
        # ignored nodes (each block's search reaches the same definitions again: see _search)
        self._paths, self.misuses = {}, {}
        # modules the notebook writes (%%writefile mine.py)
        self.written: set[str] = set().union(
            *(_written_module(n) for n in nodes if type(n) is ast.Call)
        )
        # whether the kernel may import from a folder the notebook writes: the sandbox keeps
        # its folder off sys.path (PYTHONSAFEPATH, Python >= 3.11) unless the notebook changes it
        self.plain_dicts = _plain_dicts([tree for _, _, tree in self.cells], nodes, self.parents)
        # names bound to what gc's lists hold (see _changes_from_gc)
        self.from_gc = {
            name
            for _, _, tree in self.cells
            for stmt in (tree.body if tree else [])
            if _lists_objects(self, stmt)
            for name in _bound(stmt)
        }
        self.profilers = _profilers(self, nodes)
        self.reads_namespace_only = _reads_namespace_only(self, nodes)
        self.modules_read = _modules_read(self, nodes)
        self.shell_magics = _shell_magics(nodes)
        # what the student's classes define: a `dice` property, a `losses` field, `self.metric`
        self.class_attributes = _class_attributes(nodes)
        self.plain_objects = _plain_objects(self, nodes)
        # what a function's variable holds where it is assigned a module or its attribute
        # (`d = scipy.spatial.distance`): read as that path, whatever else it holds
        self.local_aliases = {
            n.targets[0].id: path
            for n in nodes
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, (ast.Name, ast.Attribute))
            and (path := self.resolve(n.value))
            and "." in path
        }
        read_only = self.reads_namespace_only
        self.imports_from_its_files = sys.version_info < (3, 11) or any(
            _under(self.resolve(n), _IMPORT_PATHS)
            for n in nodes
            if isinstance(n, (ast.Name, ast.Attribute)) and id(n) not in read_only
        )

    @functools.cached_property
    def held(self) -> HeldStrings:
        """What each name is given, for a class of torch.nn looked up by a name it holds."""
        return HeldStrings([tree for _, _, tree in self.cells if tree])

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:  # import a.b binds a; import a.b as c binds c to a.b
                top = a.name.split(".")[0]
                self.aliases[a.asname or top] = a.name if a.asname else top
        elif isinstance(stmt, ast.ImportFrom) and stmt.module:
            for a in stmt.names:
                self.aliases[a.asname or a.name] = f"{stmt.module}.{a.name}"
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, (ast.Name, ast.Attribute)):
            path = self.resolve(stmt.value)
            if path and path.count(".") > MAX_ALIAS_PARTS:  # (no library's: `w = w.a` again
                path = None  # and again grew a path read at each use, red team 50)
            if path and ("." in path or path in {*self.aliases.values(), "builtins"}):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.aliases[target.id] = path

    def chain(self, node: ast.AST) -> tuple[list[str], ast.AST]:
        """The attributes an attribute chain reads, last first, and what it reads them on."""
        parts = []
        while isinstance(node, ast.Attribute) or self._literal_getattr(node):
            if isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            else:  # getattr(cProfile, "run"): cProfile.run
                parts.append(node.args[1].value)
                node = node.args[0]
        return parts, node

    def bound_where(self, node: ast.AST, name: str) -> bool:
        """Whether ``name`` is bound, in the scope ``node`` is in or one around it, other than by
        an import or an assignment of a cell's top level: a parameter, a loop's or
        comprehension's variable, a function's own assignment, ``with``, ``except``, ``match``
        (there, an import's alias of that name may be something else)."""
        while (node := self.parents.get(id(node))) is not None:
            if isinstance(node, _NAME_SCOPES) and name in self._bound_in(node):
                return True
        return name in self._bound_in(None)

    def _bound_in(self, scope: ast.AST | None) -> frozenset[str]:
        """The names ``scope`` (a function, lambda or comprehension; None: the cells' top
        level, but its plain assignments and imports) binds, not those of scopes within it."""
        key = id(scope)
        if key not in self._scopes:
            self._scopes[key] = frozenset(_scope_binds(scope, self.cells))
        return self._scopes[key]

    @functools.cached_property
    def deleted(self) -> set[str]:
        """The names a ``del`` gives back to IPython (its ``_``, ``__``...)."""
        dels = (n for n in self.nodes if isinstance(n, ast.Delete))
        return {t.id for n in dels for t in n.targets if isinstance(t, ast.Name)}

    @functools.cached_property
    def logs_plainly(self) -> bool:
        """Whether the notebook's logging runs no code of its own: no filter, handler,
        formatter or record factory of its own, no class of a logging class (red team 37:
        ``log.addFilter(grab)`` was handed what ``log.warning`` logged)."""
        nodes = self.nodes
        bases = [b for n in nodes if isinstance(n, ast.ClassDef) for b in n.bases]
        if any(_within(self.resolve(b), "logging") for b in bases):
            return False
        for n in nodes:  # (honest round 14: the library's own handler and formatter are no
            called = isinstance(n, ast.Call) and getattr(n.func, "attr", None) in _LOG_HOOKS
            if called and not _given_nothing_else(self, n, n.func):  # code of the notebook's)
                return False
            named = isinstance(n, ast.Attribute) and n.attr in _LOG_LISTS
            if named or (isinstance(n, ast.Constant) and n.value in _LOG_HOOKS | _LOG_LISTS):
                return False
        return True

    @functools.cached_property
    def student_objects(self) -> frozenset[str]:
        """The names that may hold code of the student's: its functions and classes, what
        calling them gave, a lambda, any parameter (``with open(p) as f`` is a library's)."""
        nodes = self.nodes
        found = set(self.own_callables) | {n.arg for n in nodes if isinstance(n, ast.arg)}
        for n in nodes:
            value = getattr(n, "value", None) if isinstance(n, _ASSIGNS) else None
            made = isinstance(value, ast.Call) and getattr(_root(value.func), "id", None) in found
            if made or isinstance(value, ast.Lambda):
                found |= {t.id for t in _walk(n) if isinstance(t, ast.Name) and _is_store(t)}
        return frozenset(found)

    @functools.cached_property
    def own_callables(self) -> frozenset[str]:
        """The names of the student's functions and classes, wherever defined."""
        return frozenset(n.name for n in self.nodes if isinstance(n, _SCOPES[:3]))

    @functools.cached_property
    def names_bound(self) -> frozenset[str]:
        """Every name a cell binds anywhere (a parameter, a local, an import...)."""
        return frozenset(name for n in self.nodes for name in _names_bound(n))

    @functools.cached_property
    def showers_bound(self) -> frozenset[str]:
        """The built-ins that show a value (``print``...) the notebook binds to its own."""
        return self.names_bound & _SHOWERS

    def resolve(self, node: ast.AST) -> str:
        """The dotted path a name or attribute chain stands for, through the aliases, or ''."""
        if self._paths is None:
            return self._resolve(node)
        if node not in self._paths:  # (a node held as the key: its id is never reused)
            self._paths[node] = self._resolve(node)
        return self._paths[node]

    def _resolve(self, node: ast.AST) -> str:
        parts, node = self.chain(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            parts.append(f"{node.func.id}()")  # get_ipython().ev
        elif isinstance(node, ast.Name) and node.id in self.own_builtins:
            parts.append(f"{OWN}{node.id}")  # the student's `def eval(model, loader)`
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        else:
            return ""
        return self._in_main(_rebased(".".join(reversed(parts))))

    @functools.cached_property
    def own_builtins(self) -> frozenset[str]:
        """The built-ins' names the notebook makes its own functions before any use (honest
        round 9: a beginner's ``def eval(model, images, labels)``, called in the training loop,
        read as the built-in ``eval``): bound only by ``def`` statements of a cell's top level,
        never deleted, and named by no statement before the first of them; each of them sure
        to run (red team 33: a `def` after a statement that raises never binds its name): no
        decorator, annotation or default but a constant, after only such ``def`` in its cell."""
        if self._attributes_named & _RESETS:  # `%reset_selective -f ^getatt` (red team 35)
            return frozenset()  # gives the built-in back, whatever its pattern
        tops, _ = self.top_statements
        sure = {  # (not in a cell magic's body: %%timeit runs it in a function of its own)
            id(stmt)
            for _, cell, tree in self.cells
            if not cell.source.lstrip().startswith("%%")
            for stmt in itertools.takewhile(_sure_to_bind, tree.body if tree else [])
        }
        # a name a magic is given (`%xdel getattr`): never the student's own then
        strings = " ".join(
            n.value
            for stmt in tops
            for call in _walk(stmt)
            if isinstance(call, ast.Call) and getattr(call.func, "attr", "") in _MAGIC_RUNNERS
            for n in _walk(call)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        )
        bound = collections.Counter(
            name
            for stmt in tops
            for node in _walk(stmt)
            for name in _names_bound(node)
            if name in _BUILTIN_NAMES
        )
        own: set[str] = set()
        named: set[str] = set()
        defs: collections.Counter = collections.Counter()  # the names each `def` binds
        for stmt in tops:
            mentions = {n.id for n in _walk(stmt) if isinstance(n, ast.Name)}
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defs[stmt.name] += 1
                header = {
                    n.id for p in _def_header(stmt) for n in _walk(p) if isinstance(n, ast.Name)
                }
                if (
                    stmt.name not in named | header
                    and id(stmt) in sure
                    and not re.search(rf"\b{stmt.name}\b", strings)
                ):
                    own.add(stmt.name)
                mentions.add(stmt.name)
            named |= mentions
        return frozenset(n for n in own if bound[n] == defs[n])

    def _in_main(self, path: str) -> str:
        """``__main__.checks.x`` is the notebook's own ``checks.x`` (``unet_tp.checks.x``)."""
        for _ in range(8):  # `import __main__ as m; m.m.m.checks`
            head, _, rest = path.partition(".")
            if head != "__main__" or not rest:
                return path
            first, dot, tail = rest.partition(".")
            path = self.aliases.get(first, first) + dot + tail
        return path

    def _literal_getattr(self, node: ast.AST) -> bool:
        """``getattr(x, "name")`` (a default or not): the attribute ``x.name``."""
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and self.aliases.get(node.func.id, node.func.id) == "getattr"
            and len(node.args) in (2, 3)
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        )

    @functools.cached_property
    def top_statements(self) -> tuple[list[ast.stmt], dict[int, int]]:
        """Every cell's top-level statements in order, and each one's place among them."""
        tops = [stmt for _, _, tree in self.cells if tree for stmt in tree.body]
        return tops, {id(stmt): n for n, stmt in enumerate(tops)}

    @functools.cached_property
    def hidden(self) -> frozenset[int]:
        """The ids of the student's statements that may bind any name (code from strings...)."""
        return frozenset(id(stmt) for _, _, stmt in self.definitions.get(ANY_NAME, []))

    def student_cells(self):
        return [(i, cell, tree) for i, cell, tree in self.cells if not _locked(cell)]

    @functools.cached_property
    def loose_classes(self) -> dict[str, ast.AST]:
        """The student's classes used otherwise than built, subclassed or shown
        (``_Box.get(F, name)``: a method then gets any object as ``self``); every class if a
        method is reached through ``type(x).m`` or ``x.__class__.m``. Each with the node that
        made it loose (the message quotes it: :func:`_loose_cause`)."""
        trees = [tree for _, _, tree in self.student_cells() if tree]
        classes = {n.name for t in trees for n in _walk(t) if isinstance(n, ast.ClassDef)}
        own = {n.name for t in trees for n in _walk(t) if isinstance(n, _SCOPES[:3])}
        own |= {
            t.id
            for s in trees
            for n in _walk(s)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        data = _class_data(trees)
        only_data = _only_data(trees)  # `self.__class__.count += 1` (honest round 10)
        aliases = _class_aliases(trees, classes)  # `Bloc = DoubleConv` (honest round 9)
        data |= {alias: data.get(cls, set()) for alias, cls in aliases.items()}
        signatures = set() if self.reads_annotations else _in_signatures(trees)
        loose = {
            n.name: _odd_decorator(self, n) or n
            for t in trees
            for n in _walk(t)
            if isinstance(n, ast.ClassDef)
            and (
                not self._pure_decorators(n)
                or any(self._exception(b) for b in n.bases)
                or _odd_decorator(self, n)
                or self._foreign_base(n, classes)
            )
        }  # (red team 35: `@reg class Box`, reg kept it; red team 36: sys.exc_info()[0])
        parents = self.parents
        for tree in trees:
            if escapes := _class_escapes(self, tree, parents, only_data, classes):
                return dict.fromkeys(classes, escapes)
            for node in _walk(tree):
                if (
                    isinstance(node, ast.Name)
                    and (node.id in classes or node.id in aliases)
                    and isinstance(node.ctx, ast.Load)
                ) and not (
                    id(node) in signatures
                    or _built_or_shown(self, own, node, parents, data)
                    or _aliased(node, parents.get(id(node)), aliases)
                ):
                    loose.setdefault(aliases.get(node.id, node.id), node)
        return _with_bases(trees, loose)

    def _foreign_base(self, cls: ast.ClassDef, classes: set[str]) -> ast.expr | None:
        """A base of ``cls`` none of :data:`_KNOWN_BASES` nor a class of the student's (red team
        39: tqdm's ``ObjectWrapper`` forwards every attribute of ``self`` to what it wraps)."""
        for base in cls.bases:
            path = _builtin(self.resolve(base))
            if not (path in classes or path == "object" or _under(path, _KNOWN_BASES)):
                return base
        return None

    def _exception(self, base: ast.expr) -> bool:
        """Whether a base is a built-in exception (its class is handed out where it is raised)."""
        found = getattr(builtins, _builtin(self.resolve(base)), None)
        return isinstance(found, type) and issubclass(found, BaseException)

    def _pure_decorators(self, cls: ast.ClassDef) -> bool:
        """Whether a class's decorators keep nothing of it (``@dataclass``)."""
        paths = [self.resolve(d.func if isinstance(d, ast.Call) else d) for d in cls.decorator_list]
        return all(_under(p, _PURE_CLASS_DECORATORS) for p in paths)

    def reads_attribute(self, name: str) -> bool:
        """Whether any cell names the attribute ``name`` (``p.func``, ``getattr(p, "func")``)."""
        return name in self._attributes_named

    @functools.cached_property
    def _attributes_named(self) -> set[str]:
        """Every attribute read or set, and every string, of the notebook's cells."""
        found: set[str] = set()
        for n in self.nodes:
            if isinstance(n, ast.Attribute):
                found.add(n.attr)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                found.add(n.value)
            elif isinstance(n, ast.MatchClass):  # case partial(func=c)
                found.update(n.kwd_attrs)
        return found

    @functools.cached_property
    def class_names(self) -> frozenset[str]:
        """The names of the notebook's classes."""
        return frozenset(n.name for n in self.nodes if isinstance(n, ast.ClassDef))

    @functools.cached_property
    def compares_its_own(self) -> bool:
        """Whether the notebook defines or names a hook of comparisons or class checks
        (``__eq__``, ``__array_ufunc__``, ``__subclasshook__``...: :func:`_equality`), which
        ``x == Box`` or ``isinstance(x, Box)`` hands ``Box``, or makes a metaclass."""
        return any(_equality(self, n) for n in self.nodes)

    @functools.cached_property
    def reads_annotations(self) -> bool:
        """Whether any cell may read a function's annotations back (``__annotations__``,
        ``inspect.signature(f).parameters[...].annotation``, a ``singledispatch`` registry): a
        class named in an annotation is then handed over."""
        names = [n for n in self.nodes if isinstance(n, (ast.Name, ast.Attribute))]
        if (self._attributes_named | {getattr(n, "id", "") for n in names}) & _ANNOTATION_READERS:
            return True  # (attributes and strings named; names)
        return any(_under(self.resolve(n), _ANNOTATION_PATHS) for n in names)

    def top_level_names(self, tree: ast.Module) -> dict[str, list[ast.AST]]:
        """:func:`_top_level_names` of ``tree``, read once."""
        if id(tree) not in self._top_level:
            self._top_level[id(tree)] = _top_level_names(self, tree)
        return self._top_level[id(tree)]

    @functools.cached_property
    def definitions(self) -> dict[str, list[tuple[int, object, ast.AST]]]:
        """Each name the student's cells define at the top: ``(cell index, cell, statement)``."""
        found: dict[str, list[tuple[int, object, ast.AST]]] = {}
        for i, cell, tree in self.student_cells():
            for name, nodes in (self.top_level_names(tree) if tree else {}).items():
                found.setdefault(name, []).extend((i, cell, n) for n in nodes)
        return found

    def last_test(self, block) -> int | None:
        """The index of ``block``'s last test cell (None: the notebook has none of them); its
        answer is what its names hold when that cell runs."""
        tests = {t.grade_id for t in block.tests}
        return max((i for i, c in enumerate(self.nb.cells) if grade_id(c) in tests), default=None)


# ---- what an answer may not use: it costs the block -----------------------------------------


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_SCOPES += (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_NAMESPACE_SETTERS = {"update", "push", "setdefault", "__setitem__", "__setattr__", "setattr"}


def _strings(nodes) -> set[str]:
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _set_by_call(call: ast.Call, plain: frozenset[str] = frozenset()) -> set[str]:
    """Names a call may set by string: ``setattr(m, "x", v)``, ``ns.update(x=v)``,
    ``get_ipython().push({"x": v})``... (not the keys of the notebook's ``plain`` dicts)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in _NAMESPACE_SETTERS:
        return set()
    owner = func.value if isinstance(func, ast.Attribute) else None
    if isinstance(owner, ast.Name) and owner.id in plain:  # res.update(torch=...): its key
        return set()
    found = {k.arg for k in call.keywords if k.arg} | _strings(call.args)
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            found |= _strings(arg.keys)
    # the namespace given a dict its text does not spell (`push(d)`, `globals().update(f())`):
    # any name
    owner = func.value if isinstance(func, ast.Attribute) else None
    namespace = name == "push" or (
        name == "update"
        and (
            (isinstance(owner, ast.Call) and getattr(owner.func, "id", "") in _NAMESPACE_CALLS)
            or (isinstance(owner, ast.Attribute) and owner.attr in _NAMESPACE_ATTRIBUTES)
        )
    )
    unspelt = [a for a in call.args if not isinstance(a, (ast.Dict, ast.Constant))]
    if namespace and (unspelt or any(k.arg is None for k in call.keywords)):
        found.add(ANY_NAME)
    return found


def _set_within(scope: ast.AST, plain: frozenset[str] = frozenset()) -> set[str]:
    """Names a function or class may set in the notebook's namespace though they are not its
    own: as an attribute (``__main__.x = v``), by a string (``ns["x"] = v``, ``setattr(m, "x",
    v)``); not the keys of the notebook's ``plain`` dicts."""
    found: set[str] = set()
    for node in _walk(scope):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            found |= set() if _plain_key(node, plain) else _strings([node.slice])
        elif isinstance(node, ast.Call):
            found |= _set_by_call(node, plain)
    return found


def _plain_key(node: ast.Subscript, plain: frozenset[str]) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in plain


def _bound(stmt: ast.stmt, plain: frozenset[str] = frozenset(), direct: bool = False) -> set[str]:
    """The names a top-level statement may bind in the notebook's namespace: what it defines,
    assigns or imports, in its nested blocks too (``if``, ``with``, ``try``, loops, ``:=``),
    names a function declares ``global``, and names set by a string or as an attribute
    (``ns["x"] = v``, ``__main__.x = v``, ``setattr(m, "x", v)``, ``push({"x": v})``) unless
    ``direct``."""
    found: set[str] = set()
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, _SCOPES):  # its own names are local, but what it declares global
            found.add(getattr(node, "name", ""))  # and what it sets by attribute or string
            found.update(n for sub in _walk(node) if isinstance(sub, ast.Global) for n in sub.names)
            found |= set() if direct else _set_within(node, plain)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif direct and isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            pass
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            found |= set() if _plain_key(node, plain) else _strings([node.slice])
        elif isinstance(node, (ast.MatchAs, ast.MatchStar, ast.ExceptHandler)) and node.name:
            found.add(node.name)
        elif isinstance(node, ast.Call):
            found |= _set_by_call(node, plain)
        todo.extend(ast.iter_child_nodes(node))
    found.discard("")
    return found


# a statement that runs code from strings or files may bind any name: it is read as a
# definition of every block's names
ANY_NAME = "*"
_RUNS_STRINGS = {"exec", "eval", "compile", UNREAD, EXPANDED}
_IPYTHON_RUNS = _IPYTHON_CODE - {
    "run_cell_magic",
    "compile",
}  # (run_cell_magic: _magic_call decides;
# compile: re.compile, torch.compile by that name are no shell's)
# the same methods on a shell reached another way (`ip = IPython.get_ipython()`,
# `[get_ipython()][0].ev(...)`), by their name
_IPYTHON_METHODS = _IPYTHON_RUNS


def _rewrites(nb: Notebook, node: ast.AST, in_method: bool = False) -> str | None:
    """Why ``node`` reaches an IPython hook that changes the code a cell runs from its text
    (``get_ipython().input_transformers_post``, ``@register_cell_magic``, ``%autocall``...) or runs
    code around it (``get_ipython().events``, ``getattr(ip, "events")``); None if it does not, or
    if it is an attribute of the student's own object (:func:`_on_own_object`). ``in_method``:
    ``node`` is in a method of :func:`_in_methods`."""
    if isinstance(node, ast.Attribute):  # (`events` as an attribute only: a list named so is not)
        return None if _on_own_object(nb, node, in_method) else _hook_named(node.attr)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id != "events":
        return _hook_named(node.id)  # (a class's `autocall = False` binds, reaches nothing)
    if spelt := _spelt_attributes(nb, node):  # (red team 38's reading: `getattr(ip, "events")`)
        return next(filter(None, map(_hook_named, spelt)), None)
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("run_line_magic", "run_cell_magic")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        return None
    line = (
        node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else ""
    )
    magic = node.args[0].value
    rewrites = magic in _REWRITING_MAGICS | _RUNNING_MAGICS
    rewrites |= magic == "autoawait" and str(line).strip().lower() not in _PLAIN_AUTOAWAIT
    return REWRITES if rewrites or (magic == "config" and not _plain_config(str(line))) else None


def _hook_named(name: str) -> str | None:
    """Why an attribute ``name`` is an IPython hook (:func:`_rewrites`), or None."""
    return REWRITES if name in _CELL_REWRITERS else AROUND_CELLS if name in _AROUND_CELLS else None


# what reaches an attribute by the name a string spells: `getattr(ip, "events")`,
# `operator.attrgetter("shell.events")`, `ip.__getattribute__("events")`
_SPELLERS = {"getattr", "setattr", "delattr", "inspect.getattr_static", "operator.attrgetter"}
_SPELLERS |= {"operator.methodcaller"}


def _spelt_attributes(nb: Notebook, node: ast.AST) -> list[str]:
    """The attribute names the strings given to a call of :data:`_SPELLERS` (or of an object's
    ``__getattribute__``, ``__setattr__``...) spell, dotted ones split."""
    if not isinstance(node, ast.Call):
        return []
    method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    if method not in _GETATTRIBUTE | _DUNDER_SETTERS and _builtin(nb.resolve(node.func)) not in (
        _SPELLERS
    ):
        return []
    texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
    return [part for text in texts if isinstance(text, str) for part in text.split(".")]


def _on_own_object(nb: Notebook, node: ast.Attribute, in_method: bool) -> bool:
    """``journal.events``, ``self.ex``: an attribute named as an IPython hook on the student's
    own object, a name of :func:`_plain_objects` or the ``self`` of a method of
    :func:`_in_methods` (``in_method``), which holds what code the reading saw set it to (honest
    round 15: a log's ``self.events = []`` cost every block, an ``Up``'s ``self.ex`` 16 points)."""
    owner = node.value
    return isinstance(owner, ast.Name) and (
        owner.id in nb.plain_objects or (in_method and _is_self(owner))
    )


def _plain_config(line: str) -> bool:
    """Whether ``%config`` is given a setting and a literal (``InlineBackend.figure_format =
    'retina'``), or nothing: its line is run as code (``%config X.y = 1; f = ...`` binds f)."""
    try:
        body = parse_code(f"cfg.{line}" if line.strip() else "cfg").body
    except SyntaxError:
        return False
    if len(body) != 1 or not isinstance(body[0], (ast.Expr, ast.Assign)):
        return False
    stmt = body[0]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.value]
    if not all(_chain_of_names(t) for t in targets) or len(targets) != 1:
        return False
    if isinstance(stmt, ast.Assign):
        try:
            ast.literal_eval(stmt.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return not any(w in line for w in _CELL_REWRITERS | _AROUND_CELLS)


def _chain_of_names(node: ast.AST) -> bool:
    """``a.b.c``: names and attributes only."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _torch_load_unpickles() -> bool:
    """Whether the grading environment's ``torch.load`` unpickles by default (before 2.6)."""
    try:
        major, minor = re.findall(r"\d+", importlib.metadata.version("torch"))[:2]
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return True
    return (int(major), int(minor)) < (2, 6)


_TORCH_LOAD_UNPICKLES = _torch_load_unpickles()


def _positional_pickle(call: ast.Call, path: str) -> bool:
    """Whether a loader's ``allow_pickle`` is given by position (but as a constant False), or
    any argument is unpacked before it (``np.load(*args)``)."""
    at = _KEYWORD_LOADERS[path]
    if at is None:
        return False
    before = call.args[: at + 1]
    if any(isinstance(a, ast.Starred) for a in before):
        return True
    return len(call.args) > at and not (
        isinstance(call.args[at], ast.Constant) and call.args[at].value is False
    )


def _unpickles(nb: Notebook, call: ast.Call) -> bool:
    """Whether a call may unpickle: ``pickle.loads``, ``np.load(f, allow_pickle=True)``,
    ``torch.load(f, weights_only=False)``..."""
    path = nb.resolve(call.func)
    if _under(path, _UNPICKLERS):
        return True
    if path in ("yaml.load", "yaml.load_all"):  # a Loader other than a safe one builds objects
        loader = [k.value for k in call.keywords if k.arg == "Loader"] + call.args[1:2]
        return not loader or nb.resolve(loader[0]).rsplit(".", 1)[-1] not in _YAML_SAFE
    given = _spelt_keywords(call.keywords)  # **{"weights_only": False} as its keywords
    keywords = {k.arg for k in given}
    if path == "torch.load" and _TORCH_LOAD_UNPICKLES and "weights_only" not in keywords:
        return True  # its default before torch 2.6
    if path in _KEYWORD_LOADERS and (None in keywords or _positional_pickle(call, path)):
        return True  # np.load(f, None, True), torch.load(f, **{"weights_only": False})
    magic = call.args[0] if call.args else None  # %store -r (%store x saves, -z clears)
    if path.endswith("().run_line_magic") and isinstance(magic, ast.Constant):
        line = call.args[1] if len(call.args) > 1 else ast.Constant("")
        restores = not isinstance(line, ast.Constant) or any(
            w.startswith("-") and "r" in w for w in str(line.value).split()
        )
        return magic.value in _UNPICKLING_MAGICS and restores
    if path in _KEYWORD_WRITERS and not _set_by_notebook(nb, path.rsplit(".", 1)[1]):
        return False
    return any(
        k.arg in _PICKLE_KEYWORDS
        and not (isinstance(k.value, ast.Constant) and k.value.value == _PICKLE_KEYWORDS[k.arg])
        for k in given
    )


def _set_by_notebook(nb: Notebook, name: str, built: bool = True) -> bool:
    """Whether the notebook sets an attribute ``name`` of anything (``np.save = np.load``,
    ``setattr(np, "save", ...)``), or may (``built``: a setter given a name no string spells)."""
    return any(
        (isinstance(n, ast.Attribute) and n.attr == name and not isinstance(n.ctx, ast.Load))
        or name in _spelt_attributes(nb, n)
        or (built and isinstance(n, ast.Call) and _by_built_name(nb, n))
        for n in nb.nodes
    )


def _by_built_name(nb: Notebook, call: ast.Call) -> bool:
    """``setattr(x, name, v)``, ``x.__setattr__(name, v)`` of a name no string spells (red team
    39: ``setattr(self, "sa" + "ve", np.load)`` on a wrapper of numpy)."""
    method = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    setter = method in _DUNDER_SETTERS or _builtin(nb.resolve(call.func)) in _SETTERS
    return setter and not (len(call.args) > 1 and isinstance(call.args[-2], ast.Constant))


def _spelt_keywords(keywords: list[ast.keyword]) -> list[ast.keyword]:
    """A call's keywords, a ``**{...}`` of keys written out read as keywords (any other ``**``:
    a keyword of no name, ``None``)."""
    out = []
    for k in keywords:
        spelt = isinstance(k.value, ast.Dict) and all(
            isinstance(key, ast.Constant) and isinstance(key.value, str) for key in k.value.keys
        )
        if k.arg is None and spelt:
            out += [
                ast.keyword(key.value, v)
                for key, v in zip(k.value.keys, k.value.values, strict=True)
            ]
        else:
            out.append(k)
    return out


def _runs_code(nb: Notebook, stmt: ast.stmt) -> bool:
    """Whether a statement runs code it does not show: ``exec``, ``get_ipython().run_cell``,
    ``%run``, a magic whose code could not be read, TorchScript (its ``# type:`` comments)."""
    if _code_in_annotations(stmt):
        return True
    shown, methods = _only_shown(nb, stmt), _in_methods(stmt, nb)
    for node in _walk(stmt):
        if _rewrites(nb, node, id(node) in methods) or (
            _names_annotations(node) and id(node) not in shown
        ):
            return True
        if isinstance(node, (ast.Name, ast.Attribute)) and _scripts_comments(nb, node):
            return True
        if not isinstance(node, ast.Call):
            continue
        path = nb.resolve(node.func)
        if (
            path in _RUNS_STRINGS
            or _magic_call(node)
            or _magic_by_built_name(node)
            or _under(path, _TEMPLATES)
            or path.rpartition(".")[2] in _EVALUATOR_NAMES
            or (path.startswith("get_ipython().") and path.rsplit(".", 1)[-1] in _IPYTHON_RUNS)
            or (isinstance(node.func, ast.Attribute) and node.func.attr in _IPYTHON_METHODS)
            or _runs_file(nb, node)
            or _unpickles(nb, node)
            or _under(path, _INTERPRETERS)
            or _runs_elsewhere(nb, node)
        ):
            return True
    return False


# an annotation given as a string is code that typing.get_type_hints, functools.singledispatch's
# register, a dataclass library... evaluate in the notebook's namespace: more than a type's name
# (`x: "(_ce := ...) and int"`), or annotations set by hand, run code no reading sees
ANNOTATED_CODE = "runs code from strings (an annotation that is more than a type)"
_TYPE_NODES = (ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List)
_TYPE_NODES += (ast.Constant, ast.Load, ast.BitOr)


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """A function's parameter and return annotations."""
    a = fn.args
    found = [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x]
    return [x for x in (*found, fn.returns) if x is not None]


def _annotations(node: ast.AST) -> list[ast.expr]:
    """The annotations of the functions and annotated assignments in ``node``."""
    found: list[ast.expr] = []
    for sub in _walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += _signature(sub)
        elif isinstance(sub, ast.AnnAssign):
            found.append(sub.annotation)
    return found


def _code_in_annotations(node: ast.AST) -> list[ast.AST]:
    """What in ``node``'s annotations is more than a type (see ``ANNOTATED_CODE``): with ``from
    __future__ import annotations`` every annotation is a string typing evaluates."""
    return [c for a in _annotations(node) for c in _walk(a) if not _type_part(c)]


def _type_part(node: ast.AST, depth: int = 0) -> bool:
    """Whether a node of an annotation is part of a type: a name, a public attribute, a
    subscript, ``|``, a string of the same (text that does not parse is never evaluated)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            tree = parse_code(node.value.strip(), mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return True
        return depth < 3 and all(_type_part(n, depth + 1) for n in ast.walk(tree))
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.BitOr)
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        return False
    return isinstance(node, _TYPE_NODES)


def _names_annotations(node: ast.AST) -> bool:
    """``f.__annotations__`` or ``__annotations__`` (set by hand, read as code by typing)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "__annotations__"
    if isinstance(node, ast.Name):
        return node.id == "__annotations__"
    return isinstance(node, ast.Constant) and node.value == "__annotations__"


_SHOWERS = {"print", "repr", "len", "sorted", "display"}


def _only_shown(nb: Notebook, node: ast.AST) -> set[int]:
    """The ids of the ``f.__annotations__`` in ``node`` read only to be shown (``print(
    f.__annotations__)``, the built-in ``print``: the notebook binds no name ``print``), and
    the namespaces printed (:func:`_namespace_shown`)."""
    annotations = {
        id(arg)
        for call in _walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        if call.func.id in _SHOWERS - nb.showers_bound
        for arg in call.args
        if isinstance(arg, (ast.Name, ast.Attribute)) and _names_annotations(arg)
    }
    return annotations | _namespace_shown(nb, node)


def _namespace_shown(nb: Notebook, node: ast.AST) -> set[int]:
    """The ids of the ``x.__dict__`` in ``node`` only printed: a statement ``print(x.__dict__)``
    or ``print(x.__dict__.keys())``, its value thrown away (honest round 6: every block after it
    was lost, and nothing said so). Not ``sorted(x.__dict__.items())``, which hands the
    namespace over (red team 25), nor ``display(x.__dict__)``, which hands it to any printer
    the notebook registered for dicts (red team 26)."""
    shown = set()
    for stmt in _walk(node):
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            continue
        if call.func.id != "print" or "print" in nb.showers_bound:
            continue
        for arg in call.args:
            if isinstance(arg, ast.Call) and not arg.args and not arg.keywords:
                method = arg.func  # (x.__dict__.keys())
                if isinstance(method, ast.Attribute) and method.attr == "keys":
                    arg = method.value
            if isinstance(arg, ast.Attribute) and arg.attr == "__dict__":
                shown.add(id(arg))
    return shown


def _sure_to_bind(stmt: ast.stmt) -> bool:
    """Whether a statement is a ``def`` that cannot raise: no decorator nor annotation, its
    defaults constants."""
    return (
        isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
        and not stmt.decorator_list
        and not _annotations(stmt)
        and all(isinstance(d, ast.Constant) for d in _def_header(stmt))
    )


def _def_header(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """What a ``def`` evaluates before it binds its name: decorators, defaults, annotations."""
    a = fn.args
    return [*fn.decorator_list, *a.defaults, *filter(None, a.kw_defaults), *_annotations(fn)]


def _names_bound(node: ast.AST) -> list[str]:
    """The names a node binds: a name stored to, a function's, a class's or its arguments', an
    import's (``from builtins import *`` binds them all: costed as a rewrite of built-ins)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return [node.id]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).partition(".")[0] for a in node.names]
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        return [node.name]
    if isinstance(node, ast.ExceptHandler) and node.name:  # (and deleted at the handler's end)
        return [node.name]
    return []


def _runs_file(nb: Notebook, call: ast.Call) -> bool:
    """``%run file.py`` (a file the notebook may have written), ``%load_ext mine`` of a module
    the notebook wrote (its ``load_ipython_extension`` may set any name)."""
    if nb.resolve(call.func) != "get_ipython().run_line_magic" or len(call.args) < 2:
        return False
    magic, line = (a.value if isinstance(a, ast.Constant) else None for a in call.args[:2])
    if magic == "run":
        return True
    words = line.split() if isinstance(line, str) else []
    return magic in ("load_ext", "reload_ext") and bool(set(words) & nb.written)


def _names_arg(call: ast.Call) -> bool:
    """Whether a setter's call names what it sets by a string written out (``setattr(m, "x",
    v)``, ``m.__setattr__("x", v)``)."""
    return any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args[:2])


def _own_self(call: ast.Call, methods: set[int]) -> bool:
    """Whether a call in a method sets an attribute of the method's own ``self``."""
    func = call.func
    owner = func.value if isinstance(func, ast.Attribute) and func.attr in _DUNDER_SETTERS else None
    owner = owner or (call.args[0] if call.args else None)
    return id(call) in methods and isinstance(owner, ast.Name) and owner.id == "self"


def _pushes_by_name(nb: Notebook, call: ast.Call) -> bool:
    """``get_ipython().push(names)`` of names the text does not show (``{k: v}``, a variable)."""
    if not nb.resolve(call.func).endswith("().push"):
        return False
    return any(
        not (isinstance(a, ast.Constant) or (isinstance(a, ast.Dict) and _constant_keys(a)))
        for a in call.args
    )


def _constant_keys(node: ast.Dict) -> bool:
    return all(isinstance(k, ast.Constant) for k in node.keys)


def _sets_by_name(nb: Notebook, stmt: ast.stmt) -> bool:
    """Whether a statement may set a name built from a string, which its text does not show:
    ``setattr(__main__, name, v)``, ``__main__.__setattr__(name, v)`` (but on the ``self`` of a
    method), a namespace (an object's ``__dict__``, ``get_ipython().user_ns``, ``globals()``),
    ``get_ipython().push({name: v})``, ``setattr`` passed along (``s = setattr``), a class made by
    ``type(name, bases, namespace)`` of names not written out."""
    methods, plain = _in_methods(stmt, nb), nb.plain_objects
    called = {id(node.func) for node in _walk(stmt) if isinstance(node, ast.Call)}
    shown = _namespace_shown(nb, stmt)
    for node in _walk(stmt):
        attribute = isinstance(node, ast.Attribute) and node.attr in _NAMESPACE_ATTRIBUTES
        if attribute and id(node) not in shown and not _own_namespace(node, methods, plain):
            return True
        setter = isinstance(node, (ast.Name, ast.Attribute)) and _builtin(nb.resolve(node))
        if setter in _SETTERS and id(node) not in called:
            return True
        if not isinstance(node, ast.Call):
            continue
        path = _builtin(nb.resolve(node.func))
        dunder = isinstance(node.func, ast.Attribute) and node.func.attr in _DUNDER_SETTERS
        if (
            (path in _SETTERS or dunder)
            and not _names_arg(node)
            and not _own_self(node, methods)
            and not _on_plain_object(nb, node, path)
        ):
            return True
        namespace = path in _NAMESPACE_CALLS and id(node) not in nb.reads_namespace_only
        namespace = namespace and not _own_namespace(node, methods, plain)
        if namespace or _pushes_by_name(nb, node) or _within(path, "unittest.mock"):
            return True
        names = node.args[2] if path == "type" and len(node.args) == 3 else None
        if names is not None and not (isinstance(names, ast.Dict) and _constant_keys(names)):
            return True  # a class whose attribute names are built: type("M", (B,), {"__x" + ...})
    return False


def _by_held_name(nb: Notebook, call: ast.Call, path: str) -> bool:
    """``getattr(nn, name)``: a class of a module of :data:`_LOOKED_UP_BY_NAME` by a name held
    (``hasattr(nn, name)``, whatever the name: it only tells whether there is one)."""
    owner = call.args[0] if call.args else None
    if owner is None or nb.resolve(owner) not in _LOOKED_UP_BY_NAME:
        return False
    return path == "getattr" or (path == "hasattr" and len(call.args) == 2)


def _held_reduction(nb: Notebook, call: ast.Call) -> bool:
    """``getattr(x, reduction)`` where each string the notebook gives ``reduction`` is spelt, and
    is one of a tensor's reductions (:data:`_REDUCTIONS`), or torch's or NumPy's own function of
    that name (``getattr(torch, reduction)(per_pixel)``, honest round 24)."""
    root = _root(call.args[0]) if call.args else None
    module = isinstance(root, ast.Name) and (root.id in nb.aliases or root.id in sys.modules)
    if module and (
        nb.resolve(call.args[0]) not in ("torch", "numpy") or nb.bound_where(call, root.id)
    ):
        return False  # another module's (torch.special's): not a tensor's
    held = _held_names(nb, call) if len(call.args) == 2 else None
    return held is not None and held <= _REDUCTIONS


_NAME_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *_COMPREHENSIONS)


def _scope_binds(scope: ast.AST | None, cells) -> set[str]:
    """See :meth:`Notebook._bound_in`."""
    if scope is None:
        todo = [s for _, _, tree in cells if tree for s in tree.body]
        todo = [s for s in todo if not isinstance(s, (ast.Assign, ast.Import, ast.ImportFrom))]
    elif isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        every = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
        found = {p.arg for p in every if p is not None}
        return found | _body_binds(scope.body if isinstance(scope.body, list) else [])
    else:  # a comprehension: its loops' variables
        return {t.id for g in scope.generators for t in _stored_names(g.target)}
    return _body_binds(todo)


def _stored_names(target: ast.AST) -> list[ast.Name]:
    """The names a target binds: not an attribute's or an item's owner (red team 83's
    ``[0 for torch.from_numpy in [hook]]`` binds no ``torch``)."""
    if isinstance(target, ast.Name):
        return [target]
    if isinstance(target, ast.Starred):
        return _stored_names(target.value)
    items = target.elts if isinstance(target, (ast.Tuple, ast.List)) else []
    return [name for item in items for name in _stored_names(item)]


def _body_binds(statements: list) -> set[str]:
    """The names ``statements`` bind, not those of the functions and classes within them."""
    found, todo = set(), list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        found |= {t.id for target, _ in _binding(node) for t in _stored_names(target)}
        todo += ast.iter_child_nodes(node)
    return found


def _looked_up(nb: Notebook, call: ast.Call) -> set[str] | None:
    """The paths ``getattr(nn, name)`` can reach, each string the notebook gives ``name`` (a
    default, a keyword, an argument, an assignment, a literal loop) spelt; None if one is not
    (``next(n for n in dir(nn) if ...)``, a red team's way to torch's loss), or if ``nn`` is a
    name the notebook also binds in a function, loop or comprehension (red team 53: ``[getattr(
    F, "get" + "profile")() for F in (sys,)]`` was read as torch.nn.functional's)."""
    root = _root(call.args[0]) if call.args else None
    if isinstance(root, ast.Name) and root.id in nb.aliases and nb.bound_where(call, root.id):
        return None
    owner = nb.resolve(call.args[0]) if call.args else ""
    held = _held_names(nb, call)
    return None if held is None else {f"{owner}.{name}" for name in held}


def _held_names(nb: Notebook, call: ast.Call) -> set[str] | None:
    """The strings the name ``getattr(x, name)`` is given can be (autograder/held.py), or None."""
    where = nb.held.chain_of.get(id(call))
    held = nb.held.values(call.args[1], where) if len(call.args) > 1 and where else None
    return held or None  # (no string at all: a name no reading spelt, red team 52)


def _on_plain_object(nb: Notebook, call: ast.Call, path: str) -> bool:
    """``setattr(args, name, v)`` (or getattr, hasattr, delattr) on a name of
    :func:`_plain_objects`."""
    target = call.args[0] if path in _NAME_BUILDERS and call.args else None
    plain = isinstance(target, (ast.Name, ast.Attribute))
    return plain and ast.unparse(target) in nb.plain_objects


def _top_level_names(nb: Notebook, tree: ast.Module) -> dict[str, list[ast.AST]]:
    """The student's definitions of a cell: each top-level statement, by the names it binds (a
    statement that runs code, or sets names, it does not show, or overrides torch's functions:
    every name)."""
    found: dict[str, list[ast.AST]] = {}
    for stmt in tree.body:
        hidden = _runs_code(nb, stmt) or _sets_by_name(nb, stmt)
        hidden = hidden or any(_overrides_torch(nb, node) for node in _walk(stmt))
        hidden = hidden or any(_traces(nb, node) for node in _walk(stmt))
        hidden = hidden or _changes_from_gc(nb, stmt) or bool(_handed_builders(nb, stmt))
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and len(stmt.names) > 1 and not hidden:
            # each name its own import: the answer uses `one_hot` of
            # `from torch.nn.functional import one_hot, cross_entropy`, not `cross_entropy`
            for alias in stmt.names:
                one = copy.copy(stmt)
                one.names = [alias]
                for name in _bound(one):
                    found.setdefault(name, []).append(one)
            continue
        for name in _bound(stmt, nb.plain_dicts) | ({ANY_NAME} if hidden else set()):
            found.setdefault(name, []).append(stmt)
    return found


def _lists_objects(nb: Notebook, stmt: ast.AST) -> bool:
    """Whether ``stmt`` uses one of gc's (or another) lists of the interpreter's objects."""
    return any(
        _enumerates(node, nb.resolve(node))
        for node in _walk(stmt)
        if isinstance(node, (ast.Name, ast.Attribute))
    )


def _changes_from_gc(nb: Notebook, stmt: ast.stmt) -> bool:
    """Whether ``stmt`` writes into an object found in gc's lists (a class's own dict, where a key
    built from strings adds a tensor method; it, or a name bound to what such a statement found):
    what no text shows. Reading them (a Colab habit: the tensors in memory) costs nothing."""
    stores = [
        n for n in _walk(stmt) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
    ]
    stores += [
        n.func
        for n in _walk(stmt)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in _NAMESPACE_SETTERS
    ]
    # into a name bound by a statement that listed them (this one too), not a counter of the
    # student's
    roots = [_root(n) for n in stores]
    return any(isinstance(r, ast.Name) and r.id in nb.from_gc for r in roots)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in _walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _course_code(path: str) -> bool:
    return _within(path, COURSE_PACKAGE) and not _under(path, BUILT_ON)


def _builtin(path: str) -> str:
    """``builtins.eval`` and ``__builtins__.eval`` as ``eval``."""
    for prefix in _BUILTINS:
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


# (not __mro__ nor __bases__: `Box.__mro__[0]` is the class, red team 34)
_DESCRIBES_A_CLASS = {"__name__", "__qualname__", "__doc__", "__module__"}


def _class_data(trees) -> dict[str, set[str]]:
    """The names each class's body binds to literals only (``names = ("a", "b")``: no method
    under another name) or to static methods, and never to another function."""
    found: dict[str, set[str]] = {}
    for cls in (n for t in trees for n in _walk(t) if isinstance(n, ast.ClassDef)):
        literal: set[str] = set()
        other: set[str] = set()
        for stmt in cls.body:
            data = isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_literal(stmt.value)
            (literal if data or _no_self(stmt) else other).update(_bound(stmt))
        # a class defined twice: data in each (red team 33: `take = 0`, then `def take`)
        found[cls.name] = found.get(cls.name, literal - other) & (literal - other)
    return found


def _no_self(stmt: ast.stmt) -> bool:
    """Whether a class's statement defines a static or class method (given no ``self``; a
    class method's ``cls`` used otherwise than built or described, `return cls.get` of red team
    34, makes every class loose: :func:`_classmethod_classes`; honest round 13 lost 13 points
    to ``UNet.from_config(cfg)`` returning ``cls(...)``)."""
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and all(
        isinstance(d, ast.Name) and d.id in {"staticmethod", "classmethod"}
        for d in stmt.decorator_list or [ast.Name("self")]
    )


def _is_literal(node: ast.AST | None) -> bool:
    """Whether ``node`` is a literal (numbers, strings, their tuples, lists, sets and dicts)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return node is not None


def _equality(nb: Notebook, node: ast.AST) -> bool:
    """Whether ``node`` defines or names a hook Python or a library calls with the operands of a
    comparison or a class check (``__eq__``, ``__array_ufunc__``, ``__subclasshook__``...: red
    team 34), or makes a metaclass."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        dunder = node.name.startswith("__") and node.name.endswith("__")
        return dunder and node.name not in _PLAIN_DUNDERS
    if isinstance(node, ast.Attribute):
        return node.attr in _HOOKS
    return isinstance(node, ast.ClassDef) and (
        bool(node.keywords) or any(_builtin(nb.resolve(b)) == "type" for b in node.bases)
    )


# a class's methods Python calls that are handed no other class: not a hook of a comparison
_PLAIN_DUNDERS = {"__init__", "__repr__", "__str__", "__len__", "__getitem__", "__iter__"}
_PLAIN_DUNDERS |= {"__next__", "__call__", "__enter__", "__exit__", "__post_init__", "__del__"}
_HOOKS = {"__eq__", "__ne__", "__array_ufunc__", "__array_function__", "__torch_function__"}
_HOOKS |= {"__subclasshook__", "__instancecheck__", "__subclasscheck__", "__get__", "__hash__"}
_HOOKS |= {"__set_name__", "__init_subclass__", "__class_getitem__", "__contains__"}


def _built_or_shown(nb: Notebook, own: set[str], name: ast.Name, parents: dict, data) -> bool:
    """Whether a class's name is used to build it (``Box()``), as a base, for what describes it
    (``Box.__name__``; not ``Box.__init__(F, ...)``, which hands a method another ``self``), one
    of its data or static methods (``data``: ``print(UNet.names)``, honest round 8;
    ``Hparams.default()``, honest round 9), compared (``type(m) is Box``, ``==`` where the
    notebook defines no ``__eq__``) or given to what keeps no class: ``isinstance`` (a tuple
    of classes too), ``print``, the course's ``checks.check_unet(UNet)``. Not ``copy.copy(Box)`` or ``setattr(o, "c", Box)``, which hand
    it back (a method then gets any object as ``self``)."""
    parent = parents.get(id(name))
    # (`==`, `in` and class checks call the notebook's hooks, if any: Notebook.compares_its_own)
    equal = (ast.Is, ast.IsNot) if nb.compares_its_own else (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)
    if isinstance(parent, (ast.Tuple, ast.List, ast.Set)):
        outer = parents.get(id(parent))
        if _class_check(nb, outer):  # isinstance(m, (DoubleConv, Down))
            return parent in outer.args[1:] and not nb.compares_its_own
        if isinstance(outer, ast.Compare) and not nb.compares_its_own:  # type(m) in (A, B)
            return parent in outer.comparators and all(
                isinstance(op, (ast.In, ast.NotIn)) for op in outer.ops
            )
        return False
    if isinstance(parent, ast.Compare):
        return all(isinstance(op, equal) for op in parent.ops)
    if isinstance(parent, ast.MatchClass):  # case DoubleConv(): an isinstance
        return parent.cls is name and not nb.compares_its_own
    if isinstance(parent, ast.Call):
        if parent.func is name:
            return True
        root = _root(parent.func)
        if isinstance(root, ast.Name) and root.id in own:
            return False
        path = _builtin(nb.resolve(parent.func))
        if path in _CLASS_CHECKS and nb.compares_its_own:  # (a __subclasshook__ of its own)
            return False
        if path == "functools.partial":  # partial(DoubleConv, padding=True): kept in its .func
            return not nb.reads_attribute("func")
        if path == "super" and len(parent.args) > 1:  # super(Sub, Sub).get: the base's function
            return _is_self(parent.args[1])  # (red team 35); super(Sub, self) binds the object
        return path in _TAKES_A_CLASS or _under(path, ("unet_tp", "inspect.getsource"))
    if isinstance(parent, ast.Attribute):
        return parent.attr in _DESCRIBES_A_CLASS or parent.attr in data.get(name.id, ())
    return isinstance(parent, ast.ClassDef) and name in parent.bases


def _only_data(trees) -> set[str]:
    """The names the classes' bodies bind to literals only, in every class, and that name no
    function or class (``count = 0``; not ``get = _g`` in another class: red team 34)."""
    literal, other = set(), set()
    for cls in (n for t in trees for n in _walk(t) if isinstance(n, ast.ClassDef)):
        for stmt in cls.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_literal(stmt.value):
                literal |= _bound(stmt)
            elif isinstance(stmt, _SCOPES[:3]):
                other.add(stmt.name)
            else:
                other |= _bound(stmt)
    return literal - other - {n.name for t in trees for n in _walk(t) if isinstance(n, _SCOPES[:3])}


# IPython's ways of deleting the notebook's names (a magic's name is one of its strings)
_RESETS = {"reset", "reset_selective", "xdel", "del_var", "drop_by_id"}
_PURE_CLASS_DECORATORS = ("dataclasses.dataclass", "functools.total_ordering", "typing.final")
_PURE_CLASS_DECORATORS += ("typing.runtime_checkable", "enum.unique")
# what a class statement hands the class or its bases to (red team 35), defined by the notebook
_CLASS_HOOKS = {"__init_subclass__", "__set_name__", "__mro_entries__", "__prepare__"}
_CLASS_HOOKS |= {"__get__", "__class_getitem__"}  # (red team 36: a descriptor's owner)
# what gives an object's class (`x.__class__`, `super().__thisclass__`: red team 36)
_CLASS_ATTRIBUTES = {"__class__", "__thisclass__", "__self_class__", "__objclass__"}


def _class_escapes(
    nb: Notebook, tree: ast.AST, parents: dict, only_data, classes
) -> ast.AST | None:
    """Where any class of the notebook may reach code as itself, not its instance: a method
    reached through ``__func__`` (red team 25), the class of an object used otherwise than
    described, compared, shown, built or read a datum of (``t = type(Box())``, ``return
    type(self)``, then ``t.get(F, name)``: red team 35), a hook of the notebook's that class
    statements call (``__init_subclass__``...) or a metaclass of its own."""
    own_cls = _classmethod_classes(tree, nb)
    for node in _walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__func__":
            return node
        if isinstance(node, _SCOPES[:2]) and node.name in _CLASS_HOOKS:
            return node
        if isinstance(node, ast.ClassDef) and _hands_its_methods(node):
            return node
        if isinstance(node, ast.ClassDef) and (
            any(k.arg == "metaclass" and not _library(nb, k.value, classes) for k in node.keywords)
            or any(_builtin(nb.resolve(b)) == "type" for b in node.bases)
        ):
            return node
        of = _class_of(nb, node) or id(node) in own_cls
        if of and not _class_described(nb, node, parents, only_data):
            return node
    return None


def _classmethod_classes(tree: ast.AST, nb: Notebook) -> set[int]:
    """ids of the uses of a class method's ``cls`` (red team 36: ``return cls``; 38: under
    another name, ``from builtins import classmethod as cm``)."""
    found = set()
    for fn in (n for n in _walk(tree) if isinstance(n, _SCOPES[:2])):
        params = fn.args.posonlyargs + fn.args.args
        named = {n for d in fn.decorator_list for n in (getattr(d, "id", ""), nb.resolve(d))}
        if params and {"classmethod", "builtins.classmethod"} & named:
            found |= {
                id(n)
                for n in _walk(fn)
                if isinstance(n, ast.Name) and n.id == params[0].arg and isinstance(n.ctx, ast.Load)
            }
    return found


def _hands_its_methods(cls: ast.ClassDef) -> bool:
    """Whether a class's body names one of its methods outside a method (red team 36:
    ``sg = staticmethod(get)``, ``h = [get]``: the function, any ``self``)."""
    methods = {s.name for s in cls.body if isinstance(s, _SCOPES[:2])}
    return any(
        isinstance(n, ast.Name) and n.id in methods and isinstance(n.ctx, ast.Load)
        for stmt in cls.body
        if not isinstance(stmt, _SCOPES[:3])
        for n in _walk(stmt)
    )


def _library(nb: Notebook, node: ast.AST, classes) -> bool:
    """Whether ``node`` is a library's name (``abc.ABCMeta``), not one of the notebook's."""
    path = nb.resolve(node)
    return "." in path and path.split(".")[0] not in classes


def _class_of(nb: Notebook, node: ast.AST) -> bool:
    """``type(x)``, ``x.__class__`` (and :data:`_CLASS_ATTRIBUTES`), ``getattr(x,
    "__class__")`` or ``object.__getattribute__(x, "__class__")``, a method's ``__class__``."""
    if isinstance(node, ast.Call):
        path = _builtin(nb.resolve(node.func))
        getter = path == "getattr" or getattr(node.func, "attr", "") in _GETTERS
        name = node.args[-1] if getter and len(node.args) > 1 else None
        if isinstance(name, ast.Constant) and name.value in _CLASS_ATTRIBUTES:
            return True
        return path == "type" and len(node.args) == 1 and not node.keywords
    if isinstance(node, ast.Attribute):
        return node.attr in _CLASS_ATTRIBUTES
    return isinstance(node, ast.Name) and node.id == "__class__"


_GETTERS = {"__getattribute__", "__getattr__"}


def _class_described(nb: Notebook, node: ast.AST, parents: dict, only_data) -> bool:
    """Whether the class ``node`` gives is only described (``type(x).__name__``), read a datum
    of (``self.__class__.count``), built (``type(self)(**cfg)``), given to ``super`` with the
    object (``super(self.__class__, self)``) or goes nowhere else (:func:`_goes_nowhere`)."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.Attribute):
        return parent.attr in _DESCRIBES_A_CLASS or parent.attr in only_data
    if isinstance(parent, ast.Call) and parent.func is node:
        return True
    if isinstance(parent, ast.Call) and _builtin(nb.resolve(parent.func)) == "super":
        return len(parent.args) == 2 and _is_self(parent.args[1])
    return _goes_nowhere(nb, node, parents)


def _with_bases(trees, loose: dict[str, ast.AST]) -> dict[str, ast.AST]:
    """``loose`` and the student's classes each of them derives from, with its cause (red team
    34: `Sub.get(F, name)` runs the method `get` of its base with another ``self``)."""
    bases = collections.defaultdict(set)
    for cls in (n for t in trees for n in _walk(t) if isinstance(n, ast.ClassDef)):
        bases[cls.name] |= {b.id for b in cls.bases if isinstance(b, ast.Name)}
    todo, found = list(loose), dict(loose)
    while todo:
        cls = todo.pop()
        for base in bases.get(cls, ()):
            if base not in found:
                found[base] = found[cls]
                todo.append(base)
    return found


def _class_aliases(trees, classes: set[str]) -> dict[str, str]:
    """``{alias: class}`` of the student's ``Bloc = DoubleConv``, the alias bound nowhere else:
    its uses are the class's."""
    bound = collections.Counter(name for t in trees for n in _walk(t) for name in _names_bound(n))
    return {
        n.targets[0].id: n.value.id
        for t in trees
        for n in _walk(t)
        if isinstance(n, ast.Assign)
        and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name)
        and isinstance(n.value, ast.Name)
        and n.value.id in classes
        and n.targets[0].id not in classes
        and bound[n.targets[0].id] == 1
    }


def _aliased(name: ast.Name, parent: ast.AST | None, aliases: dict[str, str]) -> bool:
    """Whether ``name`` is the class an alias of :func:`_class_aliases` is bound to."""
    return (
        isinstance(parent, ast.Assign)
        and parent.value is name
        and aliases.get(getattr(parent.targets[0], "id", None)) == name.id
    )


def _class_check(nb: Notebook, call: ast.AST | None) -> bool:
    """Whether ``call`` is ``isinstance(...)`` or ``issubclass(...)`` (the built-ins)."""
    return isinstance(call, ast.Call) and _builtin(nb.resolve(call.func)) in _CLASS_CHECKS


def _in_signatures(trees) -> set[int]:
    """ids of the nodes of the functions' parameter and return annotations (``def f(block:
    DoubleConv)``): kept by the function, read back only through what
    :attr:`Notebook.reads_annotations` looks for."""
    functions = (n for t in trees for n in _walk(t) if isinstance(n, _SCOPES[:2]))
    return {id(n) for fn in functions for part in _signature(fn) for n in _walk(part)}


_CLASS_CHECKS = {"isinstance", "issubclass"}
# what is given a class and keeps it nowhere an answer can read it back
_TAKES_A_CLASS = _CLASS_CHECKS | {"print", "help", "repr", "str", "id", "hash", "callable"}
_TAKES_A_CLASS |= {"type", "super", "inspect.isclass", "inspect.signature"}
# what reads a function's annotations back (a class named in one is then handed over)
_ANNOTATION_READERS = {"annotation", "return_annotation", "__annotations__", "__annotate__"}
_ANNOTATION_READERS |= {"registry", "__signature__", "get_type_hints", "get_annotations"}
_ANNOTATION_READERS |= {"annotations", "_annotation", "_return_annotation", "getfullargspec"}
_ANNOTATION_READERS |= {"getargspec", "signature", "from_callable", "getcallargs"}
_ANNOTATION_PATHS = ("annotationlib", "functools.singledispatch", "pydantic", "beartype")
_ANNOTATION_PATHS += ("functools.singledispatchmethod", "typeguard", "torch.jit")


def _in_methods(tree: ast.AST, nb: Notebook | None = None) -> set[int]:
    """ids of the nodes in the methods of a class whose first parameter is ``self``, no other
    parameter or assignment rebinding it, undecorated, of a class only built or tested
    (:attr:`Notebook.loose_classes`): where ``getattr(self, f"down{i}")`` reaches the module's
    own layers (a function of the notebook's top level, or a method called on its class, could
    be handed any object)."""
    found: set[int] = set()
    loose = nb.loose_classes if nb is not None else {}
    for cls in _walk(tree):
        if isinstance(cls, ast.ClassDef) and cls.name in loose:
            continue
        for fn in getattr(cls, "body", []) if isinstance(cls, ast.ClassDef) else []:
            if not isinstance(fn, _SCOPES[:2]) or not all(
                _a_property(d, cls, nb, fn) for d in fn.decorator_list
            ):
                continue
            params = fn.args.posonlyargs + fn.args.args
            # an inner function's or lambda's own `self` (honest round 12: a forward hook's
            # `lambda self, inp, out: ...`) is not the method's: its nodes are not counted
            inner = {
                id(n)
                for sub in _walk(fn)
                if sub is not fn and isinstance(sub, (*_SCOPES[:2], ast.Lambda))
                if "self" in {a.arg for a in _parameters(sub)}
                for n in _walk(sub)
            }
            inside = [n for n in _walk(fn) if id(n) not in inner]
            # bound again by anything (red team 35: `import torch.nn.functional as self`,
            # `case self:`)
            rebinds = any(
                "self" in _names_bound(n) or "self" in getattr(n, "names", ())
                for n in inside
                if not params or n is not params[0]
            )
            if params and params[0].arg == "self" and not rebinds:
                found |= {id(n) for n in inside}
    return found


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.arg]:
    a = fn.args
    return [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x)]


def _a_property(decorator: ast.expr, cls: ast.ClassDef, nb: Notebook | None, fn=None) -> bool:
    """``@property``, ``@functools.cached_property``, ``@x.setter`` of a property ``x`` of the
    class: the method ``fn`` is given the object as ``self`` (honest round 12), as a plain
    method is; not where the notebook binds its own ``property``, nor where ``x`` holds
    anything but that property when ``fn`` is defined (red team 38: ``x = Hold()`` between, whose
    ``setter`` kept the function)."""
    if nb is None or "property" in nb.names_bound:
        return False
    if isinstance(decorator, ast.Attribute) and decorator.attr in _ACCESSORS:
        named = getattr(decorator.value, "id", None)
        before = cls.body[: cls.body.index(fn)] if fn in cls.body else cls.body
        binding = [s for s in before if named in _bound(s)]
        return bool(binding) and all(
            isinstance(s, _SCOPES[:2])
            and s.name == named
            and len(s.decorator_list) == 1
            and (_a_property(s.decorator_list[0], cls, nb, s) if n else _property(nb, s))
            for n, s in enumerate(binding)
        )
    return _builtin(nb.resolve(decorator)) in {"property", "functools.cached_property"}


_ACCESSORS = {"setter", "getter", "deleter"}


def _property(nb: Notebook, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``fn`` is decorated ``@property`` alone (the built-in's)."""
    return [_builtin(nb.resolve(d)) for d in fn.decorator_list] == ["property"]


def _odd_decorator(nb: Notebook, cls: ast.ClassDef) -> ast.expr | None:
    """A decorator of a method of ``cls`` that may keep or change it (the student's, or a
    built-in the notebook binds again: red team 38's ``cm = classmethod``, ``staticmethod =
    classmethod`` handed the class out): not one of :data:`_PURE_DECORATORS`, nor a property's."""
    for fn in (s for s in cls.body if isinstance(s, _SCOPES[:2])):
        for d in fn.decorator_list:
            path = _builtin(nb.resolve(d.func if isinstance(d, ast.Call) else d))
            pure = _under(path, _PURE_DECORATORS) and path not in nb.names_bound
            pure = pure and not _set_by_notebook(nb, path.rsplit(".", 1)[-1], built=False)
            if not (pure or _a_property(d, cls, nb, fn)):
                return d
    return None


def _own_namespace(node: ast.AST, methods: set[int], plain: frozenset[str]) -> bool:
    """``self.__dict__`` or ``vars(self)`` in a method of :func:`_in_methods`: the object's own
    attributes (honest round 9: ``self.__dict__.update(kwargs)`` in a settings class cost every
    block after it); or of a settings object (``plain``, :func:`_plain_objects`: ``for k, v in
    vars(args).items()``, honest round 10)."""
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        target = node.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "vars"
        and len(node.args) == 1
        and not node.keywords
    ):
        target = node.args[0]
    else:
        return False
    if isinstance(target, (ast.Name, ast.Attribute)) and ast.unparse(target) in plain:
        return True  # (a settings object, or a part of the kit's settings)
    return id(node) in methods and _is_self(target)


_HANDED = _NAME_BUILDERS | {"eval", "exec", "compile", "__import__"}


def _handed_builders(nb: Notebook, stmt: ast.AST) -> list[tuple[ast.AST, str]]:
    """The built-ins of names from strings ``stmt`` hands along, not called, in any cell (red team
    31: ``functools.reduce(getattr, [name], sys)``, a name found in ``dir(sys)``, gave the harness
    in a cell no answer reads): it may then read or set anything (every block after it)."""
    called = {id(n.func) for n in _walk(stmt) if isinstance(n, ast.Call)}
    return [
        (n, PASSED_ALONG.format(name=name))
        for n in _walk(stmt)
        if isinstance(n, (ast.Name, ast.Attribute))
        and isinstance(n.ctx, ast.Load)
        and id(n) not in called
        and (name := _builtin(nb.resolve(n))) in _HANDED
    ]


def _watcher_reason(path: str) -> str:
    """Why a path of :data:`_WATCHERS` (by its last name, or ``sys.monitoring``'s) costs."""
    return _ATTRIBUTES.get(path.rpartition(".")[2], _ATTRIBUTES["getprofile"])


def _passed_along(path: str) -> str | None:
    """Why a built-in that runs code or reaches names from strings, named but not called
    (``e = eval``, ``reduce(getattr, names, F)``), costs the block, or None."""
    name = _builtin(path)
    if name in _NAME_BUILDERS or (name in _STRING_CODE and name not in (UNREAD, EXPANDED)):
        return PASSED_ALONG.format(name=name)
    return None


def _looks_up_by_string(node: ast.Name | ast.Attribute, path: str) -> bool:
    """``x.__getattribute__``, ``x.__getattr__``, ``inspect.getattr_static``: what finds an
    attribute by a string (called with a built one, passed along, or wrapped)."""
    attr = node.attr if isinstance(node, ast.Attribute) else ""
    return attr in _GETATTRIBUTE or path == "inspect.getattr_static"


def _class_pattern_attributes(node: ast.AST) -> list[str]:
    """The attributes the class patterns of ``node`` read (``case object(cross_entropy=ce)``)."""
    return [a for sub in _walk(node) if isinstance(sub, ast.MatchClass) for a in sub.kwd_attrs]


def _matched_attribute(nb: Notebook, match: ast.Match, names: set[str]) -> str | None:
    """An attribute a ``match`` statement's class pattern reads that an answer may not use
    (``match F: case object(cross_entropy=ce)`` binds ``ce`` to ``F.cross_entropy``), or None."""
    subject = nb.resolve(match.subject)
    for attr in _class_pattern_attributes(match):
        if attr in names:
            return f"{subject}.{attr}" if subject else attr
    return None


def _enumerates(node: ast.Name | ast.Attribute, path: str) -> str | None:
    """Why ``node`` lists the interpreter's objects (``gc.get_objects``, ``torch.overrides``,
    ``__subclasses__``: see ``_ENUMERATORS``), or None."""
    if isinstance(node, ast.Attribute) and node.attr == "__subclasses__":
        return _ENUMERATORS["__subclasses__"]
    return next((why for p, why in _ENUMERATORS.items() if _within(path, p)), None)


def _misuse(
    nb: Notebook, node: ast.AST, names: set[str], ignore: frozenset[int] = frozenset()
) -> tuple[str, ast.AST, bool] | None:
    """What in ``node`` an answer may not use, where, and whether it is what the code does (a
    verb: "runs code built from strings") rather than what it uses (a name), or None; the nodes
    of ids ``ignore`` are not read."""
    docstrings, own = _docstrings(node), _function_locals(node)
    methods = _in_methods(node, nb)
    calls = [sub for sub in _walk(node) if isinstance(sub, ast.Call)]
    called = {id(sub.func) for sub in calls}
    # getattr-like lookups given their name as it is spelt: `F.__getattribute__("relu")`
    spelt = {id(c.func) for c in calls if c.args and isinstance(c.args[-1], ast.Constant)}
    inner = {id(sub.value) for sub in _walk(node) if isinstance(sub, ast.Attribute)}
    annotated = {id(c) for c in _code_in_annotations(node)}
    shown = _only_shown(nb, node)
    for sub in _walk(node):
        what, does = None, False
        if id(sub) in ignore:
            continue
        if around := _rewrites(nb, sub, id(sub) in methods):
            what, does = around, True
        elif id(sub) in shown or _own_namespace(sub, methods, nb.plain_objects):
            continue
        elif id(sub) in annotated or _names_annotations(sub):
            what, does = ANNOTATED_CODE, True
        elif _output_history(nb, sub) and id(sub) not in own | _scope_locals(node):
            what, does = OUTPUT_HISTORY, True
        elif on_a_variable := _read_on_a_variable(nb, sub, own, names):
            what = on_a_variable  # `d = torch` (or `d, = (torch,)`), then d.distributions
        elif id(sub) in nb.modules_read:
            what, does = _PATHS["sys.modules"], True
        elif isinstance(sub, (ast.Name, ast.Attribute)) and id(sub) not in own:
            what, does = _name_misuse(nb, sub, names, called, inner, spelt)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            what, does = _import_misuse(nb, sub, names)
        elif isinstance(sub, ast.Call):
            what = _string_code(nb, sub, id(sub) in methods) or (
                SETS_NAME if _sets_name(sub) else None
            )
            does = what is not None
            if not what and _by_held_name(nb, sub, _builtin(nb.resolve(sub.func))):
                what = next((p for p in _looked_up(nb, sub) or () if _forbidden(p, names)), None)
            if not what and nb._literal_getattr(sub) and _forbidden(path := nb.resolve(sub), names):
                what = path  # getattr(distance, "dice"): red team 55's, (g)'s paths
        elif isinstance(sub, ast.Match):
            what = _matched_attribute(nb, sub, names)
        elif (
            isinstance(sub, ast.Constant)
            and isinstance(sub.value, str)
            and id(sub) not in docstrings
        ):
            what = _text_misuse(sub.value.strip(), names)
        if not what and _overrides_torch(nb, sub):
            what, does = OVERRIDES_TORCH, True
        if what:
            return what, sub if hasattr(sub, "lineno") else node, does
    return None


def _name_misuse(nb: Notebook, sub, names: set[str], called, inner, spelt) -> tuple:
    """``(what, whether it is what the code does)`` of a name or attribute an answer may not
    use (``called``, ``inner``, ``spelt``: ids of the called, of what an attribute is read on, of
    getattr-like lookups given a spelt name), or ``(None, False)``."""
    path = nb.resolve(sub)
    namespace = isinstance(sub, ast.Attribute) and sub.attr in _NAMESPACE_ATTRIBUTES | _WATCHERS
    if namespace and not _own_state(sub):
        return _ATTRIBUTES[sub.attr], True
    if _hook_path(path, _WATCHERS):
        return _watcher_reason(path), True
    if _thread_starter(path):
        return THREADS, True
    if _scripts_comments(nb, sub):
        return RUNS_COMMENTS, True
    if _sets_name(sub):
        return SETS_NAME, True
    if (sub.id if isinstance(sub, ast.Name) else sub.attr) == "__match_args__":
        return PASSED_ALONG.format(name="__match_args__"), True  # a class pattern's attributes
    if enumerates := _enumerates(sub, path):
        return enumerates, True
    if id(sub) not in called and _passed_along(path):
        return _passed_along(path), True
    if _looks_up_by_string(sub, path) and id(sub) not in spelt:
        return PASSED_ALONG.format(name=path or sub.attr), True
    if id(sub) not in called | inner and _under(path, _STRING_PATHS):
        return PASSED_ALONG.format(name=path), True  # map(operator.attrgetter, ...)
    if weighted := _weighted(nb, sub, path, names):
        return weighted, False
    if (
        _forbidden(path, names)
        and not _own_definition(nb, sub, path)
        and not _own_attribute(nb, sub)
    ):
        return path, False
    if not path and isinstance(sub, ast.Attribute) and _named_attr(sub.attr, names):
        return f"….{sub.attr}", False  # on what no name says: (F,)[0].cross_entropy
    if _course_code(path) and id(sub) not in inner:  # unet_tp.unet_base.UNetBase
        return M.COURSE_CODE.format(path=path), False
    return None, False


# assignment.toml's `module(w)`: the module's functions may be called on two arrays, never given
# weights (red team 46: SciPy's Hamming distance weighted by the masks is one minus the Dice, its
# count of mismatches an honest helper; Russell-Rao's so weighted too)
WEIGHTED = "(w)"


@functools.cache
def _weight_positions(module: str) -> dict[str, int]:
    """``{function: the position of its weights}`` for ``module``'s functions taking ``w``
    (read from the installed module; empty where it is not installed)."""
    import inspect

    try:
        found = vars(importlib.import_module(module))
    except ImportError:
        return {}
    positions = {}
    for name, value in found.items():
        try:
            parameters = list(inspect.signature(value).parameters) if callable(value) else []
        except (TypeError, ValueError):
            continue
        if "w" in parameters:
            positions[name] = parameters.index("w")
    return positions


def _weighted(nb: Notebook, sub: ast.AST, path: str | None, names: set[str]) -> str:
    """``module.function(w)`` where ``sub`` is a function of a module the block forbids weighted
    given weights, or handed on where it may be (a partial, a variable, ``*args``); ''
    otherwise. On what no name says (``(distance,)[0].hamming``) its name is enough."""
    for module in (n[: -len(WEIGHTED)] for n in names if n.endswith(WEIGHTED)):
        positions = _weight_positions(module)
        if path and path.startswith(module + "."):
            name = path[len(module) + 1 :]
        elif not path and isinstance(sub, ast.Attribute):
            name = sub.attr
        else:
            continue
        if name not in positions:
            continue
        call = nb.parents.get(id(sub))
        plain = isinstance(call, ast.Call) and call.func is sub
        plain = plain and len(call.args) <= positions[name]
        plain = plain and not any(isinstance(a, ast.Starred) for a in call.args)
        if not (plain and all(k.arg not in (None, "w") for k in call.keywords)):
            return f"{module}.{name}{WEIGHTED}"
    return ""


def _import_misuse(nb: Notebook, node: ast.Import | ast.ImportFrom, names: set[str]):
    """``(what, whether it is what the code does)`` of an import an answer may not use, or
    ``(None, False)``."""
    for imported in _imported(node):
        if _thread_starter(imported):
            return THREADS, True
        # (an alias the function binds is not one the reading resolves: the import itself)
        if _hook_path(imported, _WATCHERS):
            return _watcher_reason(imported), True
        if imported not in _SAVES_ONLY and _under(imported, _STRING_PATHS):
            reason = next((why for p, why in _PATHS.items() if _within(imported, p)), None)
            return reason or f"runs code from strings ({imported})", True
        if imported.split(".")[0] in nb.written:
            return M.IMPORTS_WRITTEN.format(path=imported), True
        if nb.imports_from_its_files and not _installed(imported.split(".")[0]):
            return M.IMPORTS_UNKNOWN.format(path=imported), True
        if _course_code(imported):
            return M.COURSE_CODE.format(path=imported), False
        if _forbidden(_import_binds(node, imported), names):
            return imported, False
    return None, False


def _text_misuse(text: str, names: set[str]) -> str | None:
    """A text of an answer that names what it may not use, or None: the course package's
    module (``sys.modules["unet_tp.checks"]``), a forbidden name, or module
    (``optional_import("torch.distributions")``); not a sentence naming one."""
    if _course_code(text):
        return M.COURSE_CODE.format(path=text)
    if "__import__" in text:  # code for a runner the reading does not know (a template's)
        return _STRING_CODE["__import__"]
    if text == "__match_args__":  # type("P", (), {"__match_args__": ...})
        return PASSED_ALONG.format(name=text)
    if _DOTTED.fullmatch(text) and _thread_starter(text):  # __import__("_thread")
        return THREADS
    if _DOTTED.fullmatch(text) and (text.rsplit(".", 1)[-1] in names or _forbidden(text, names)):
        return text
    # an operator by its name and overload (red team 78: "aten.nll_loss_forward.default")
    op = _OPERATOR_NAME.fullmatch(text)
    if op and (op[1] in names or _forbidden(op[1], names)):
        return text
    return None


_OPERATOR_NAME = re.compile(r"(?:aten|prims|prim|torch_nn|_ops)(?:\.|::)(\w+)(?:\.\w+)?")


# what a notebook star-imports that binds no name of a library's loss or Dice
_PLAIN_STARS = {"numpy", "math", "pylab", "matplotlib.pyplot", "typing", "os", "glob", "random"}
_PLAIN_STARS |= {"pathlib", "time", "tqdm", "tqdm.auto", "tqdm.notebook", "IPython.display"}
_PLAIN_STARS |= {"collections", "itertools", "functools", "dataclasses", "ipywidgets"}


def _own_definition(nb: Notebook, node: ast.AST, path: str) -> bool:
    """A bare name every binding of which is a ``def``/``class`` or ``name = lambda ...`` of the
    student's (its body is followed as any helper's is), no star import of a library that could
    bind it (``from numpy import *`` binds no loss) or hidden binding in the notebook."""
    if not isinstance(node, ast.Name) or "." in path:
        return False
    if not all(_plain_star(d) for _, _, d in nb.definitions.get(ANY_NAME, [])):
        return False  # what binds any name: code from strings, a namespace's update
    defs = nb.definitions.get(path, [])
    star = any(
        isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) and not _plain_star(n)
        for _, _, t in nb.cells
        if t
        for n in _walk(t)
    )
    return bool(defs) and not star and all(_a_definition(d) for _, _, d in defs)


def _plain_star(stmt: ast.AST) -> bool:
    """``from numpy import *``: a star import of a module that holds no library's loss or Dice."""
    return (
        isinstance(stmt, ast.ImportFrom)
        and not stmt.level
        and stmt.module in _PLAIN_STARS
        and [a.name for a in stmt.names] == ["*"]
    )


def _own_attribute(nb: Notebook, node: ast.AST) -> bool:
    """``self.cross_entropy`` where a class of the student's defines it (a method, a field, what
    its methods set on ``self``): what it holds is read where it is defined or set."""
    return (
        isinstance(node, ast.Attribute)
        and _is_self(node.value)
        and node.attr in nb.class_attributes
    )


def _a_definition(stmt: ast.AST) -> bool:
    """A ``def``, a ``class``, or ``name = lambda ...``."""
    if isinstance(stmt, ast.Assign):
        return len(stmt.targets) == 1 and isinstance(stmt.value, ast.Lambda)
    return isinstance(stmt, (ast.FunctionDef, ast.ClassDef))


def _overrides_torch(nb: Notebook, node: ast.AST) -> bool:
    """Whether ``node`` defines or reaches an override of torch's functions (see
    ``OVERRIDES_TORCH``): a ``__torch_function__`` or ``__torch_dispatch__`` (by name or text),
    torch's modes, its operator registrations."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name in _TORCH_HOOKS - {"__init_subclass__"}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.strip() in _TORCH_HOOKS
    if isinstance(node, (ast.Name, ast.Attribute)):
        last, path = node.id if isinstance(node, ast.Name) else node.attr, nb.resolve(node)
        if last == "__init_subclass__":  # a class's own is its business; set on another's, not
            return isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
        return last in _TORCH_HOOKS or _torch_overrider(path)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any(_torch_overrider(imported) for imported in _imported(node))
    return False


def _traces(nb: Notebook, node: ast.AST) -> bool:
    """Whether ``node`` reaches the interpreter's profile or trace hooks, which watch an answer
    run (``harness._Watch``; a thread started without them runs unwatched), or loads a native
    library (torch.ops.load_library: its threads run what no reading follows)."""
    if isinstance(node, ast.Attribute) and node.attr in _TRACERS:
        return True
    if _sets_name(node):
        return True
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any(_thread_starter(path) for path in _imported(node))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # __import__("_thread")
        return bool(_DOTTED.fullmatch(node.value)) and _thread_starter(node.value)
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return False
    path = nb.resolve(node)
    return _hook_path(path, _TRACERS) or _thread_starter(path)


_NAMES_OF_CODE = {"__name__", "__module__", "__qualname__", "__file__", "__spec__"}


def _sets_name(node: ast.AST) -> bool:
    """``__name__ = ...``, ``module.__name__ = ...``, ``f.__module__ = ...``, ``setattr(f,
    "__module__", ...)``: the names the watch tells code by (a red team renamed SciPy's distance
    module and its C functions, and the watch read numpy's)."""
    if isinstance(node, ast.Name):
        return node.id == "__name__" and not isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Attribute):
        renames = node.attr in _NAMES_OF_CODE and not isinstance(node.ctx, ast.Load)
        return renames and not getattr(node, "own_rename", False)
    if isinstance(node, ast.Call) and _last_name(node.func) in ("setattr", "__setattr__"):
        return any(isinstance(a, ast.Constant) and a.value in _NAMES_OF_CODE for a in node.args)
    return False


# native threads (round 23: cffi's pthread_create, its callback into Python), and the inner
# parts of threading and of the pools that start threads
_NATIVE_THREADS = ("_thread", "cffi", "_cffi_backend")
_POOLS = ("threading", "concurrent", "multiprocessing")
# torch's own threads that run Python callbacks (red team 80: a gloo all-reduce's future's
# `then`, run on a thread of torch.distributed's, where no hook is)
_TORCH_THREADS = (
    "torch.distributed",
    "torch.futures",
    "torch._C._distributed_c10d",
    "torch._C.Future",
)


def _thread_starter(path: str) -> bool:
    """``_thread`` (a thread started without threading's hooks), cffi (native threads), or the
    inner parts of threading and of the pools of threads."""
    parts = path.split(".")
    inner = any(p.startswith("_") and not p.endswith("__") for p in parts[1:])
    torchs = any(_within(path, t) for t in _TORCH_THREADS)
    return parts[0] in _NATIVE_THREADS or (parts[0] in _POOLS and inner) or torchs


def _hook_path(path: str, names) -> bool:
    """Whether a dotted path ends in one of ``names`` or is ``sys.monitoring``'s."""
    return path.rpartition(".")[2] in names or _within(path, "sys.monitoring")


def _torch_overrider(path: str) -> bool:
    """Whether a dotted path is one of torch's ways to override its functions, or one of its
    names imported from elsewhere (``torch.fx.experimental.proxy_tensor.TorchFunctionMode``)."""
    return _under(path, _TORCH_OVERRIDERS) or path.rpartition(".")[2] in _TORCH_HOOKS


def _output_history(nb: Notebook, node: ast.AST) -> bool:
    """Whether ``node`` reads what IPython displayed (see ``OUTPUT_HISTORY``)."""
    if isinstance(node, ast.Attribute):  # get_ipython().displayhook._ holds it too
        if node.attr in _HISTORY_ATTRIBUTES or node.attr in ("_", "__", "___"):
            return True
        return node.attr.startswith("last_") and nb.resolve(node) in _LAST_ERROR
    if not isinstance(node, ast.Name) or not isinstance(node.ctx, ast.Load):
        return False
    if node.id in _HISTORY_DICTS:
        return node.id not in nb.definitions
    # `_` the student binds at the top (`from gettext import gettext as _`) IPython leaves alone,
    # unless a `del _` gives it back
    own = node.id in nb.definitions and node.id not in nb.deleted
    return bool(_HISTORY_NAMES.fullmatch(node.id)) and not own


def _named_attr(attr: str, names: set[str]) -> bool:
    """Whether an attribute read on what no name says (``(F,)[0].cross_entropy``,
    ``(distance,)[0].dice``) may be what the block forbids: a name, or the last part of a
    dotted one (``scipy.spatial.distance.dice``), also as a private variant."""
    return attr.lstrip("_") in {n.rpartition(".")[2].lstrip("_") for n in names}


def _read_on_a_variable(nb: Notebook, node: ast.AST, own: set[int], names: set[str]) -> str:
    """``….distributions`` where ``node`` reads an attribute the block forbids by its name (the
    last part of a dotted one) on a variable, which no import says what it holds: a function's
    own (``d = torch``) or the notebook's (``d, = (torch,)``); ``getattr(d, "losses")`` too."""
    if not isinstance(node, ast.Attribute) and not nb._literal_getattr(node):
        return ""
    parts, root = nb.chain(node)
    if not isinstance(root, ast.Name) or (root.id in nb.aliases and id(root) not in own):
        return ""
    held = nb.local_aliases.get(root.id) if id(root) in own else None
    if held and _forbidden(".".join([held, *reversed(parts)]), names):
        return ".".join([held, *reversed(parts)])  # `d = scipy.spatial.distance`, then d.dice
    found = (p for p in parts if _named_attr(p, names) and p not in nb.class_attributes)
    return next((f"….{p}" for p in found), "")


def _reads_namespace_only(nb: Notebook, nodes) -> frozenset[int]:
    """ids of the ``globals()``, ``locals()``, ``vars()`` calls (and ``sys.modules``,
    ``sys.path``) that can bind no name: asked whether it holds a name (``if "model" not in
    globals():``, ``"google.colab" in sys.modules``), printed, its names listed (``sorted(k
    for k in globals())``), or a function's own ``locals()`` (a copy of its variables:
    ``print(locals())`` while debugging ``train_step``)."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Compare):
            pairs = zip(node.ops, node.comparators, strict=True)
            found |= {id(c) for op, c in pairs if isinstance(op, (ast.In, ast.NotIn))}
        elif isinstance(node, ast.Call) and nb.resolve(node.func) == "print":
            found |= {id(a) for a in node.args if isinstance(a, ast.Attribute)}
            found |= {  # print(sys.path[:3]) (honest round 16)
                id(a.value)
                for a in node.args
                if isinstance(a, ast.Subscript) and isinstance(a.value, ast.Attribute)
            }
            # print(f"{vars(hparams)}") (honest round 9), as print(vars(hparams))
            found |= {
                id(v.value)
                for a in node.args
                if isinstance(a, ast.JoinedStr)
                for v in a.values
                if isinstance(v, ast.FormattedValue)
            }
        # its names listed (`sorted(k for k in globals() if ...)`, `globals().keys()`)
        if isinstance(node, ast.Call) and _builtin(nb.resolve(node.func)) in _NAMES_ONLY:
            found |= {id(a) for a in node.args}
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            found.add(id(node.iter))
            if isinstance(node, ast.For) and _values_only_printed(nb, node):
                found.add(id(node.iter.func.value))  # for k, v in globals().items(): print(k, v)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "keys":
            found.add(id(node.func.value))
        elif _one_global(nb, node):  # globals().get("model"): the notebook's `model`
            found.add(id(node.func.value if isinstance(node, ast.Call) else node.value))
        if _written_out(nb, node):  # json.dump(vars(hparams), f) (honest round 9)
            found.add(id(node.args[0]))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            found |= {
                id(n)
                for n in _scope_nodes(node)
                if isinstance(n, ast.Call)
                and not n.args
                and _builtin(nb.resolve(n.func)) in ("locals", "vars")
            }
    return frozenset(found)


def _values_only_printed(nb: Notebook, loop: ast.For) -> bool:
    """``for k, v in globals().items():`` (or ``.values()``) whose body only prints ``v`` (honest
    round 16: a student listing their settings, ``if k.isupper(): print(k, v)``, lost (g)): the
    values go to ``print`` as text, never to a name or a call of the notebook's."""
    it = loop.iter
    if not (isinstance(it, ast.Call) and not it.args and isinstance(it.func, ast.Attribute)):
        return False
    target = loop.target
    if it.func.attr == "items" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
        target = target.elts[1]
    elif it.func.attr != "values":
        return False
    if not isinstance(target, ast.Name) or "print" in nb.showers_bound:
        return False
    body = [n for stmt in loop.body + loop.orelse for n in _walk(stmt)]
    printed = set()
    for call in body:
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "print":
            args = [*call.args]
            args += [v.value for a in call.args if isinstance(a, ast.JoinedStr) for v in a.values]
            printed |= {id(a) for a in args if isinstance(a, ast.Name)}
    uses = [n for n in body if isinstance(n, ast.Name) and n.id == target.id]
    if not all(id(n) in printed and isinstance(n.ctx, ast.Load) for n in uses):
        return False
    # and the name no other code reads: the loop leaves it bound to the namespace's last value
    inside = {id(n) for n in body} | {id(target)}
    return not [n for n in nb.nodes if getattr(n, "id", None) == target.id and id(n) not in inside]


def _written_out(nb: Notebook, node: ast.AST) -> bool:
    """``json.dump(x, f)`` or ``pprint.pprint(x)``: ``x`` written as text, handed to no code of
    the notebook's (no ``default=`` nor ``cls=``)."""
    return (
        isinstance(node, ast.Call)
        and bool(node.args)
        and nb.resolve(node.func) in _WRITERS
        and not any(k.arg in (None, "default", "cls") for k in node.keywords)
    )


_WRITERS = {"json.dump", "json.dumps", "pprint.pprint", "pprint.pformat", "pprint.pp"}


def _one_global(nb: Notebook, node: ast.AST) -> bool:
    """``globals().get("model")`` or ``globals()["model"]``: a variable of the notebook named in
    the text (honest round 9: a re-run guard, ``big = globals().get("big")``), as ``model`` is.
    Not a private name (``__builtins__``), IPython's (``Out``) nor an import's."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        one = node.func.attr == "get" and len(node.args) in (1, 2) and not node.keywords
        owner, key = node.func.value, node.args[0] if one else None
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        owner, key = node.value, node.slice
    else:
        return False
    name = key.value if isinstance(key, ast.Constant) else None
    return (
        isinstance(owner, ast.Call)
        and not owner.args
        and _builtin(nb.resolve(owner.func)) == "globals"
        and isinstance(name, str)
        and name.isidentifier()
        and not name.startswith("_")
        and name not in _IPYTHON_NAMES
        and name not in nb.aliases
        and name not in nb.class_names  # (globals()["Box"].get(F, ...): red team 34)
    )


_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# what may be given ``sys.modules`` and hands back names only (``sorted(sys.modules)``)
_NAMES_ONLY = {"list", "sorted", "set", "tuple", "len", "print"}


def _modules_read(nb: Notebook, nodes) -> frozenset[int]:
    """ids of the ``sys.modules`` (through any alias) that hand over modules by a name the text
    does not spell (``sys.modules[name]``, ``.values()``, ``.items()``, ``m = sys.modules``): an
    answer reaches the course's or a forbidden module there. Not what asks for, lists or deletes
    a name (``"google.colab" in sys.modules``, ``for name in list(sys.modules): del
    sys.modules[name]``), nor ``sys.modules["torch"]`` (its text is read as any string is)."""
    names_only = set(nb.reads_namespace_only)
    for n in nodes:
        if isinstance(n, ast.Subscript) and (
            isinstance(n.ctx, ast.Del) or isinstance(n.slice, ast.Constant)
        ):
            names_only.add(id(n.value))
        elif isinstance(n, ast.Call) and _builtin(nb.resolve(n.func)) in _NAMES_ONLY:
            names_only |= {id(a) for a in n.args}
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            spelt = all(isinstance(a, ast.Constant) for a in n.args)
            if n.func.attr == "keys" or (n.func.attr == "get" and spelt):
                names_only.add(id(n.func.value))
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
            names_only.add(id(n.iter))
    return frozenset(
        id(n)
        for n in nodes
        if isinstance(n, (ast.Name, ast.Attribute, ast.Call))  # getattr(sys, "modules")
        and id(n) not in names_only
        and nb.resolve(n) == "sys.modules"
    )


def _own_state(node: ast.Attribute) -> bool:
    """``super().__getstate__()`` (or ``__reduce__``...): a class's own state, in its own
    ``__getstate__`` (honest round 8: a Dataset's, for a data loader's workers)."""
    owner = node.value
    return (
        node.attr in _STATE_NAMES
        and isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "super"
    )


def _modules_of_a_value(node: ast.AST, called: set[int]) -> bool:
    """Whether ``node`` reads ``modules`` on what a subscript or a call gave (red team 28:
    ``getclosurevars(f).globals["sys"].modules``): sys's perhaps, for review. Not a name's
    (``cfg.modules``, ``self.modules = []``), nor a method called (``model.modules()``)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "modules"
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, (ast.Subscript, ast.Call))
        and id(node) not in called
    )


# what a student's settings object is made by: setattr on it sets its attributes, no name
_PLAIN_MAKERS = {"argparse.Namespace", "types.SimpleNamespace"}
# the kit's settings (the TP's set-up cell: `PRESET, config = notebook_config(...)`): dataclasses
# of plain values, their parts (`config.optim`) too (honest round 11: `vars(config.optim)`)
_SETTINGS_MAKERS = {"unet_tp.notebook.notebook_config", "unet_tp.settings.preset_config"}
# a class binding these finds its attributes (and its namespace) elsewhere: not a plain object
_FINDS_ATTRIBUTES = {"__dict__", "__getattr__", "__getattribute__", "__class__", "__slots__"}
_FINDS_ATTRIBUTES |= {"__new__"}  # (red team 36: `Args()` gave torch.nn.functional)


# cell magics whose text is not Python: it runs in a shell or is shown
_SHELL_MAGICS = {"bash", "sh", "shell", "html", "HTML", "markdown", "latex", "svg", "javascript"}
_SHELL_MAGICS |= {"js"}
# what %%writefile may write and stay a note, not code: a text file in the notebook's folder
# (honest round 37: `%%writefile notes_tp.txt` was flagged)
_TEXT_FILES = (".txt", ".md", ".csv", ".tsv", ".log")


def _runs_no_python(args: list[ast.expr]) -> bool:
    """Whether a cell magic's ``(name, line)`` runs no Python: a shell's, a page's, or
    ``%%writefile [-a] NOTES.txt`` (a text file by its name, in the notebook's own folder)."""
    name = args[0].value if args and isinstance(args[0], ast.Constant) else None
    line = args[1] if len(args) > 1 else None
    if name in _SHELL_MAGICS or (name == "script" and getattr(line, "value", "") in ("bash", "sh")):
        return True
    if name not in ("writefile", "file") or not isinstance(getattr(line, "value", None), str):
        return False
    *options, target = line.value.split() or [""]
    return (
        all(o == "-a" for o in options)
        and "/" not in target
        and target.lower().endswith(_TEXT_FILES)
    )


def _shell_magics(nodes) -> frozenset[int]:
    """ids of the ``get_ipython().run_cell_magic("bash", ...)`` calls (and their ``.run_cell_
    magic``) of ``%%bash``, ``%%shell`` (Colab's), ``%%html`` cells: a ``!`` line's kin."""
    found = set()
    for node in nodes:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run_cell_magic"
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython"
            and _runs_no_python(node.args)
        ):
            found |= {id(node), id(node.func)}
    return frozenset(found)


def _plain_objects(nb: Notebook, nodes) -> frozenset[str]:
    """The notebook's names that only ever hold an object made by a class of the student's or a
    plain namespace (``args = Args()``, ``cfg = SimpleNamespace()``), or the kit's settings, or
    a part of them no code could have replaced (:func:`_settings_parts`), and the names given
    only such a part (``opt = config.optim``): ``setattr(args, k, v)`` in a loop sets its
    attributes, never a name of the notebook."""
    classes = _plain_classes(nodes)
    made: dict[str, list[int]] = {}  # name: ids of the targets that bind it so
    settings: set[str] = set()  # names bound to the kit's settings
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            maker = value.func if isinstance(value, ast.Call) else None
            path = nb.resolve(maker) if isinstance(maker, (ast.Name, ast.Attribute)) else ""
            if isinstance(target, ast.Name) and (
                getattr(maker, "id", None) in classes or path in _PLAIN_MAKERS
            ):
                made.setdefault(target.id, []).append(id(target))
            elif path in _SETTINGS_MAKERS:  # (a name, or a tuple of names)
                for name in (t for t in _walk(target) if isinstance(t, ast.Name)):
                    made.setdefault(name.id, []).append(id(name))
                    settings.add(name.id)
    parts = _settings_parts(nb, nodes, settings & (set(made) - _bound_otherwise(nodes, made)))
    for node in nodes:  # (honest round 12)
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and len(node.targets) == 1:
            value = node.value
            if isinstance(value, ast.Attribute) and ast.unparse(value) in parts:
                made.setdefault(target.id, []).append(id(target))
    return frozenset((set(made) - _bound_otherwise(nodes, made)) | parts)


def _plain_classes(nodes) -> set[str]:
    """The student's classes whose instances are plain objects: binding none of
    :data:`_FINDS_ATTRIBUTES`, no metaclass, each base ``object`` or such a class (each name's
    every definition so; in the order of their bases, once each: red team 71's chain of 5,000
    subclasses took the reading hours, class by class)."""
    own: dict[str, bool] = {}
    waiting: dict[str, set[str]] = {}
    for n in (n for n in nodes if isinstance(n, ast.ClassDef)):
        plain = not (_bound_in(n) & _FINDS_ATTRIBUTES or n.keywords)
        own[n.name] = (
            own.get(n.name, True) and plain and all(isinstance(b, ast.Name) for b in n.bases)
        )
        waiting.setdefault(n.name, set()).update(
            b.id for b in n.bases if isinstance(b, ast.Name) and b.id != "object"
        )
    users: dict[str, set[str]] = {}
    for name, bases in waiting.items():
        for base in bases:
            users.setdefault(base, set()).add(name)
    ready = [name for name, bases in waiting.items() if not bases and own[name]]
    found: set[str] = set()
    while ready:
        found.add(name := ready.pop())
        for user in users.get(name, ()):
            waiting[user].discard(name)
            if not waiting[user] and own[user] and user not in found:
                ready.append(user)
    return found


def _bound_otherwise(nodes, made: dict[str, list[int]]) -> set[str]:
    """The names bound otherwise than by the targets ``made`` holds the ids of."""
    plain = {i for ids in made.values() for i in ids}
    other = set()
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            other |= set() if id(node) in plain else {node.id}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            other.add(node.name)
        elif isinstance(node, (ast.arg, ast.MatchAs, ast.MatchStar, ast.ExceptHandler)):
            other.update(_names_bound(node))  # (a parameter `cfg` is any object: red team 34)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)):
            other |= {getattr(a, "asname", None) or str(getattr(a, "name", a)) for a in node.names}
    return other


def _settings_parts(nb: Notebook, nodes, settings: set[str]) -> set[str]:
    """The parts of the kit's settings ``settings`` the notebook reads (``config.optim``, as
    written) that no code could have replaced: none set or deleted (``config.optim = F``; but
    ``dataclasses.replace`` of itself), and what holds the part (``config``) only ever read an
    attribute of (not a dunder: ``config.__dict__``) or given where it goes nowhere
    (:func:`_goes_nowhere`: the kit, print, ``asdict``); bound to another name, or given to
    ``setattr``, ``vars``, ``super`` or the student's code, its parts are not plain."""
    if any(_names_the_namespace(nb, n) for n in nodes):
        return set()  # (red team 36: `setattr(__main__.config, "tools", F)`)
    parents = nb.parents
    loose, parts, stored = set(), set(), set()
    for node in nodes:
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain, root = [root.attr, *chain], root.value
        if not (isinstance(root, ast.Name) and root.id in settings):
            continue
        text = ".".join([root.id, *chain])
        if not isinstance(node.ctx, ast.Load) and chain:
            parent = parents.get(id(node))
            value = getattr(parent, "value", None) if isinstance(parent, ast.Assign) else None
            replaced = isinstance(value, ast.Call) and value.args
            replaced = replaced and nb.resolve(value.func) == "dataclasses.replace"
            if not (replaced and ast.unparse(value.args[0]) == text):  # (config.optim =
                stored.add(text)  # dataclasses.replace(config.optim, epochs=2): the kit's)
            continue
        if not isinstance(node.ctx, ast.Load):
            continue  # (the name bound: by notebook_config only, see _plain_objects)
        parts |= {text} if chain else set()
        parent = parents.get(id(node))
        if isinstance(parent, ast.Attribute):  # a field read, not a method called (red team
            called = getattr(parents.get(id(parent)), "func", None) is parent  # 36: its
            shown = not parent.attr.startswith("__") and not called  # for_model gave config)
        else:
            shown = _goes_nowhere(nb, node, parents, libraries=True)
        loose |= set() if shown else {text}
    replaced = [p for p in parts if any(p == held or p.startswith(held + ".") for held in stored)]
    return {p for p in parts if p not in replaced and not any(p.startswith(h + ".") for h in loose)}


def _names_the_namespace(nb: Notebook, node: ast.AST) -> bool:
    """Whether ``node`` reaches the notebook's names otherwise than by their names
    (``__main__``, ``globals()``, ``get_ipython().user_ns``, ``sys.modules``)."""
    if isinstance(node, ast.Name):
        return node.id in {"__main__", "globals", "locals"}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "__main__" in (getattr(node, "module", None), *(a.name for a in node.names))
    if isinstance(node, ast.Attribute) and node.attr == "modules":
        return nb.resolve(node) == "sys.modules"
    return isinstance(node, ast.Attribute) and node.attr in _NAMESPACE_HOOKS


_LOGGING = {"debug", "info", "warning", "warn", "error", "critical", "exception", "log"}
_LOG_HOOKS = {"addFilter", "addHandler", "setFormatter", "setLogRecordFactory", "setLoggerClass"}
_LOG_HOOKS |= {"basicConfig", "dictConfig"}  # (given nothing of the student's: the library's)
_LOG_LISTS = {"filters", "handlers", "makeRecord", "callHandlers"}
# what a value goes through on its way to where it is used (`print((type(a), type(b)))`)
_THROUGH = (ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Starred, ast.IfExp, ast.BoolOp)
_THROUGH += (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension)


def _goes_nowhere(nb: Notebook, node: ast.AST, parents: dict, libraries: bool = False) -> bool:
    """Whether a value (a class, the kit's settings) reaches only what keeps nothing of it for
    the notebook: a bare expression (shown), a comparison (where the notebook defines no hook
    of comparisons), an f-string or a text's ``%``, a key looked up in a dict literal, what
    shows it (:data:`_SINKS`, logging, a text's ``format``), through tuples, lists and
    comprehensions, and with ``libraries`` a library's function given nothing else of the
    student's, then where its result goes (``next(iter([config]))`` is ``config``); not bound
    to a name, returned, stored, raised in an assert's message or given to the student's code
    (honest round 12: ``type(sample)`` alone in a cell cost 20 points; red team 37)."""
    parent, value = parents.get(id(node)), node
    while parent is not None:
        if isinstance(parent, _THROUGH):
            node, parent = parent, parents.get(id(parent))
            continue
        if isinstance(parent, ast.keyword):  # (the call's argument: the keyword)
            node, parent = parent, parents.get(id(parent))
        if not isinstance(parent, ast.Call) or node is parent.func:
            break
        kept = _kept(nb, parent, _as_settings(nb, parent, node))
        if kept is None:  # (a class check calls its class's hooks: red team 37's Chk())
            checks = _builtin(nb.resolve(parent.func)) in _CLASS_CHECKS
            return not checks or not _students(nb, parent.args, value, False)
        if not (kept and libraries and _given_nothing_else(nb, parent, value)):
            return False
        node, parent = parent, parents.get(id(parent))
    if isinstance(parent, (ast.Expr, ast.FormattedValue)):
        return True
    if isinstance(parent, ast.Compare):  # (red team 37: an `__eq__` of the student's object;
        same = all(isinstance(op, (ast.Is, ast.IsNot)) for op in parent.ops)  # `is` calls none)
        return same or not _students(nb, [parent.left, *parent.comparators], value, False)
    if isinstance(parent, ast.BinOp):  # "got %s" % type(x) (not an object's own `__mod__`)
        text = isinstance(parent.left, ast.JoinedStr) or isinstance(
            getattr(parent.left, "value", None), str
        )
        return isinstance(parent.op, ast.Mod) and node is parent.right and text
    key = isinstance(parent, ast.Subscript) and node is parent.slice and _loads(parent)
    return key and getattr(parent.value, "id", None) in nb.plain_dicts  # (a dict literal's)


def _given_nothing_else(nb: Notebook, call: ast.Call, value: ast.AST) -> bool:
    """Whether a library's ``call`` is given, beside ``value``, none of the student's objects
    (red team 37: ``max([config, k])`` ran a ``__gt__`` of the student's)."""
    return not _students(nb, [*call.args, *(k.value for k in call.keywords)], value)


def _students(nb: Notebook, exprs: list, value: ast.AST, classes: bool = True) -> bool:
    """Whether ``exprs`` hold, beside ``value``, one of the student's objects
    (:attr:`Notebook.student_objects`, a lambda): what a plain built-in made of one
    (``open(path)``), or a method of torch's it did not define gave (``model.state_dict()``:
    honest round 14), is not one; nor, unless ``classes``, a class of the student's (compared
    or checked against, it runs no code of its own: its metaclass's)."""
    skip = {id(n) for n in _walk(value)}
    if not classes:  # (but one called: `Chk()`, an instance, is the student's object)
        called = {id(c.func) for e in exprs for c in _walk(e) if isinstance(c, ast.Call)}
        named = (n for e in exprs for n in _walk(e) if getattr(n, "id", None) in nb.class_names)
        skip |= {id(n) for n in named if id(n) not in called}
    given = [n for expr in exprs for n in _walk(expr)]
    for n in given:
        if not isinstance(n, ast.Call):
            continue
        method = getattr(n.func, "attr", None)
        if _builtin(nb.resolve(n.func)) in _PLAIN_MAKES and "open" not in nb.names_bound:
            skip |= {id(m) for m in _walk(n)}
        elif method and not method.startswith("__") and method not in nb.class_attributes:
            skip |= {id(m) for m in _walk(n.func)}  # (its receiver only; its arguments read)
    return any(
        isinstance(n, ast.Lambda) or (isinstance(n, ast.Name) and n.id in nb.student_objects)
        for n in given
        if id(n) not in skip
    )


# built-ins that make plain data of what they are given (a file, a text, a number, a path)
_PLAIN_MAKES = {"open", "str", "repr", "len", "int", "float", "bool", "pathlib.Path"}
_PLAIN_MAKES |= {"os.path.join", "os.fspath", "format"}


def _loads(node: ast.AST) -> bool:
    return isinstance(getattr(node, "ctx", None), ast.Load)


def _is_store(node: ast.AST) -> bool:
    return isinstance(getattr(node, "ctx", None), ast.Store)


_ASSIGNS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)


def _as_settings(nb: Notebook, call: ast.Call, node: ast.AST) -> bool:
    """Whether ``node`` is given to a function of the kit as its ``config`` parameter (the kit
    reads its settings there, and hands them to no function it is given)."""
    path = nb.resolve(call.func)
    names = _kit_parameters(path) if path.startswith(COURSE_PACKAGE + ".") else None
    if names is None:
        return False
    if isinstance(node, ast.keyword):
        return node.arg == "config"
    return node in call.args and names[: call.args.index(node) + 1][-1:] == ("config",)


@functools.cache
def _kit_parameters(path: str, hops: int = 3) -> tuple[str, ...] | None:
    """The parameters' names of the kit's function (or class) ``path``, read from the kit's
    source, following its own imports ``hops`` times, or None. Nothing is imported while a
    notebook is read (red team 38: ``unet_tp.__main__`` named in a cell ran the grader's own
    command line inside it, and the two gradings waited on each other for ever)."""
    module, _, name = path.rpartition(".")
    for stmt in reversed(_kit_source(module).body):  # (the last binding is the name's)
        if isinstance(stmt, _SCOPES[:2]) and stmt.name == name:
            return tuple(a.arg for a in _parameters(stmt))
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            init = [s for s in stmt.body if isinstance(s, _SCOPES[:2]) and s.name == "__init__"]
            if init:
                return tuple(a.arg for a in _parameters(init[-1]))[1:]
            data = any(_decorator_name(d) == "dataclass" for d in stmt.decorator_list)
            fields = [s.target for s in stmt.body if isinstance(s, ast.AnnAssign)]
            return tuple(f.id for f in fields if isinstance(f, ast.Name)) if data else None
        imported = {a.asname or a.name: a.name for a in getattr(stmt, "names", [])}
        if isinstance(stmt, ast.ImportFrom) and name in imported and hops:
            parts = module.split(".")
            source = ".".join(parts[: len(parts) - stmt.level + 1] if stmt.level else [])
            source = ".".join(filter(None, (source, stmt.module)))
            return _kit_parameters(f"{source}.{imported[name]}", hops - 1)
        if name in imported or name in _bound(stmt):
            return None  # (bound otherwise: read as any library's function)
    return None


def _decorator_name(node: ast.expr) -> str:
    """The last name of a decorator: ``dataclass`` for ``@dataclasses.dataclass(frozen=True)``."""
    node = node.func if isinstance(node, ast.Call) else node
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


@functools.cache
def _kit_source(module: str) -> ast.Module:
    """The kit's module ``module`` parsed (an empty module where it is none of its files)."""
    parts = module.split(".")
    spec = importlib.util.find_spec(COURSE_PACKAGE)  # (a top-level package: not imported)
    if parts[0] != COURSE_PACKAGE or not all(p.isidentifier() for p in parts) or not spec:
        return ast.Module([], [])
    base = Path(spec.origin).parent.joinpath(*parts[1:])
    for file in [base.with_suffix(".py")] * bool(parts[1:]) + [base / "__init__.py"]:
        if file.is_file():
            return parse_code(file.read_text(encoding="utf-8"))
    return ast.Module([], [])


# what shows a value and gives nothing of it back
_SINKS = {"print", "repr", "str", "len", "display", "help", "id", "hash", "callable", "format"}
_SINKS |= _CLASS_CHECKS | {"pprint.pprint", "pprint.pp", "pprint.pformat", "inspect.isclass"}


def _kept(nb: Notebook, call: ast.Call, settings: bool = False) -> bool | None:
    """What ``call`` does with a value it is given: None where it only shows it (:data:`_SINKS`,
    a text's ``format``, a plain dict's ``get``, a logging method no class of the student's
    defines), True where it is a library's or a built-in's function (its result may be the value
    itself), False where it may keep it for the notebook or change it: ``setattr``, ``vars``,
    ``super``, ``type``, a dunder method, the student's code, or a call also given the student's
    functions; None too where the kit's function is given the value as its ``config``
    (``settings``)."""
    path, name = _builtin(nb.resolve(call.func)), getattr(call.func, "attr", "")
    if path in _SETTERS | {"vars", "super", "type"} or name.startswith("__"):
        return False
    if settings:  # (the kit reads them there, and gives none of its functions its `config`)
        return None
    given = [n for arg in (*call.args, *(k.value for k in call.keywords)) for n in _walk(arg)]
    if path not in _SINKS and any(  # (red team 36: the kit's predict_patient
        isinstance(n, ast.Lambda) or (isinstance(n, ast.Name) and n.id in nb.own_callables)
        for n in given  # called the student's function with what it was given)
    ):
        return False
    root = _root(call.func)
    if isinstance(root, (ast.Constant, ast.JoinedStr)):
        return None  # "{} {}".format(type(img), img.dtype)
    if not isinstance(root, ast.Name):
        return False
    if root.id in nb.plain_dicts:
        return None if name == "get" else False
    plain_logs = name in _LOGGING and name not in nb.class_attributes and nb.logs_plainly
    if plain_logs and root.id not in nb.class_names:
        return None  # log.info("%s", type(x))
    head = nb.aliases.get(root.id, "").split(".")[0]
    builtin = root.id in _BUILTIN_NAMES and root.id not in nb.names_bound
    if path in _SINKS and (builtin or head):
        return None
    return (bool(head) and head not in nb.written and head not in nb.class_names) or builtin


def _class_attributes(nodes) -> frozenset[str]:
    """The attribute names the notebook's classes define: their methods and fields, and what
    their methods set on ``self``."""
    found = set()
    for cls in (n for n in nodes if isinstance(n, ast.ClassDef)):
        for stmt in cls.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.add(stmt.name)
            targets = (
                stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
            )
            found |= {t.id for t in targets if isinstance(t, ast.Name)}
        found |= {
            n.attr
            for n in _walk(cls)
            if isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name)
            and n.value.id == "self"
        }
    return frozenset(found | _namedtuple_fields(nodes))


def _namedtuple_fields(nodes) -> set[str]:
    """The fields of the notebook's ``namedtuple("Overlap", "dice iou")`` (or a list of names)."""
    found = set()
    for n in nodes:
        if not isinstance(n, ast.Call) or len(n.args) < 2:
            continue
        if getattr(n.func, "attr", getattr(n.func, "id", "")) != "namedtuple":
            continue
        fields = n.args[1]
        if isinstance(fields, ast.Constant) and isinstance(fields.value, str):
            found |= set(fields.value.replace(",", " ").split())
        elif isinstance(fields, (ast.List, ast.Tuple)):
            found |= {f.value for f in fields.elts if isinstance(f, ast.Constant)}
    return {f for f in found if isinstance(f, str)}


def _forbidden(path: str, names: set[str]) -> bool:
    """Whether a dotted path names what the block forbids: its last part, or a library's private
    variant of it (``torch._decomp.decompositions._nll_loss_forward`` is ``nll_loss_forward``);
    a name of the notebook's own (``_nll_loss``, no dot) only as it is spelt; a forbidden dotted
    name is a whole module (``monai.losses``: ``monai.losses.DiceCELoss``) or one function, also
    where its module's private ones define it (``sklearn.metrics._classification.f1_score``)."""
    if path.endswith(WEIGHTED):  # (a function given weights: _weighted)
        return path[: -len(WEIGHTED)].rpartition(".")[0] + WEIGHTED in names
    last = path.rsplit(".", 1)[-1]
    if any(_within(path, n) for n in names if "." in n):
        return True
    # a function named by its module, reached through another module of its library: a private
    # one (``sklearn.metrics._classification.f1_score`` is ``sklearn.metrics.f1_score``) or one
    # that imports it (``scipy.cluster.vq.cdist`` is ``scipy.spatial.distance.cdist``,
    # ``scipy.cluster.hierarchy.distance.dice`` its ``dice``,
    # ``monai.apps.pathology.losses.hovernet_loss.DiceLoss`` is of ``monai.losses``)
    parts = path.split(".")
    for n in names:
        parent, _, attr = n.rpartition(".")
        if parent and parts[0] == n.split(".")[0] and attr in parts[1:]:
            return True
    return last in names or ("." in path and last.lstrip("_") in names)


def _scope_nodes(scope: ast.AST):
    """The nodes of a function's body, not those of the functions and classes nested in it (nor
    its decorators and defaults: the enclosing scope's)."""
    todo = list(scope.body) if isinstance(scope.body, list) else [scope.body]
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


_DEFINES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _function_locals(node: ast.AST) -> set[int]:
    """ids of the ``Name`` nodes of ``node`` that are a function's own variables (its parameters,
    the names it assigns and declares neither ``global`` nor ``nonlocal``): ``nll_loss = -(t *
    log_s).sum(1)`` is the student's, not torch's (what it holds, assigned there, is read)."""
    found: set[int] = set()
    for scope in _walk(node):
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        inside = list(_scope_nodes(scope))
        args = scope.args
        params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a}
        declared = {n for s in inside if isinstance(s, (ast.Global, ast.Nonlocal)) for n in s.names}
        assigned = {
            n.id for n in inside if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        }
        assigned |= {n.name for n in inside if isinstance(n, _DEFINES) and n is not scope}
        local = (params | assigned) - declared
        found |= {id(n) for n in inside if isinstance(n, ast.Name) and n.id in local}
    return found


@functools.cache
def _bound_locally(stmt: ast.stmt) -> frozenset[int]:
    """ids of the names of ``stmt`` a function, lambda or comprehension in it binds (read once
    for the hand-overs of every block: :func:`_handed_over`, :func:`_stored_within`)."""
    return frozenset(_function_locals(stmt)) | _scope_locals(stmt)


def _scope_locals(node: ast.AST) -> frozenset[int]:
    """ids of the ``Name`` nodes of ``node`` that a function, lambda or comprehension in it binds
    (its parameters, its assignments, a comprehension's loop), read there or in a function nested
    in it: ``[x * 2 for _ in range(3)]``, a closure's ``_``, are not IPython's ``_``."""
    found: set[int] = set()
    for scope in _walk(node):
        if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            targets = [n for g in scope.generators for n in _walk(g.target)]
        elif isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = scope.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            targets = [n for n in _scope_nodes(scope) if isinstance(n, ast.Name)]
            targets += [ast.Name(a.arg, ast.Store()) for a in params if a is not None]
        else:
            continue
        bound = {
            n.id for n in targets if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        }
        found |= {id(n) for n in _walk(scope) if isinstance(n, ast.Name) and n.id in bound}
    return frozenset(found)


def _is_self(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _string_code(nb: Notebook, call: ast.Call, in_method: bool = False) -> str | None:
    """Why a call builds names or code from strings, or None. ``in_method``: the call is in a
    method of a class (``getattr(self, name)`` reaches the object's own attributes there)."""
    if id(call) in nb.shell_magics:
        return None
    path = _builtin(nb.resolve(call.func))
    own = _own_namespace(call, {id(call)} if in_method else set(), nb.plain_objects)
    if path in _STRING_CODE and id(call) not in nb.reads_namespace_only and not own:
        return _STRING_CODE[path]
    if _magic_call(call) or _magic_by_built_name(call):  # code not read as the cell's
        return "runs code from strings through IPython"
    if _runs_file(nb, call):
        return "runs code from files (%run, %load_ext of a file the notebook wrote)"
    if _unpickles(nb, call) and not _under(path, _STRING_PATHS):
        return UNPICKLES
    if _under(path, _INTERPRETERS):
        return RUNS_SOURCE
    if _runs_elsewhere(nb, call):
        return RUNS_ELSEWHERE
    method = path.rsplit(".", 1)[-1]
    if method in _GETATTRIBUTE and not (call.args and isinstance(call.args[-1], ast.Constant)):
        return f"builds a name from a string ({method})"  # F.__getattribute__(name)
    if (
        method in _DUNDER_SETTERS
        and not _names_arg(call)
        and not (in_method and isinstance(call.func, ast.Attribute) and _is_self(call.func.value))
    ):
        return f"builds a name from a string ({method})"  # __main__.__setattr__(name, v)
    if path in _NAME_BUILDERS or path == "inspect.getattr_static":
        owner = call.args[0] if call.args else None
        name = call.args[1] if len(call.args) > 1 else None
        if isinstance(name, ast.Constant) and name.value in _NAMESPACE_ATTRIBUTES:
            # (but hasattr's answer, a bool: `hasattr(config, "__dict__")`, honest round 16)
            return None if path == "hasattr" else _ATTRIBUTES.get(name.value, NAMESPACES)
        if (
            not (in_method and isinstance(owner, ast.Name) and owner.id == "self")
            and not isinstance(name, ast.Constant)
            and not _on_plain_object(nb, call, path)
            and not (
                _by_held_name(nb, call, path)
                and (path == "hasattr" or _looked_up(nb, call) is not None)
            )
            and not (path == "getattr" and _held_reduction(nb, call))
        ):
            return f"builds a name from a string ({path})"
    for prefix in _STRING_PATHS:
        if _within(path, prefix):
            return _PATHS[prefix]
    if path in ("inspect.signature", "inspect.Signature.from_callable") and any(
        k.arg == "eval_str" and not (isinstance(k.value, ast.Constant) and not k.value.value)
        for k in call.keywords
    ):
        return _PATHS["inspect.get_annotations"]  # its annotations evaluated as code
    if path.startswith("get_ipython().") and path.rsplit(".", 1)[-1] in _IPYTHON_CODE:
        return "runs code from strings through IPython"
    shell = isinstance(call.func, ast.Attribute) and call.func.attr in _IPYTHON_METHODS
    if shell and not _on_own_object(nb, call.func, in_method):  # ip = IPython.get_ipython()
        return "runs code from strings through IPython"  # (ip.run_cell, but self.ex of its own)
    return None


def _own_attributes(stmt: ast.AST) -> set[int]:
    """ids of the ``self.x`` of a class's methods: an instance's own attributes."""
    own: set[int] = set()
    for cls in (n for n in _walk(stmt) if isinstance(n, ast.ClassDef)):
        for f in cls.body:
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.args.args:
                me = f.args.args[0].arg
                own |= {
                    id(a)
                    for a in _walk(f)
                    if isinstance(a, ast.Attribute) and getattr(a.value, "id", None) == me
                }
    return own


def _attribute_setters(nb: Notebook) -> dict[str, list[tuple[int, object, ast.AST]]]:
    """The student's top-level statements by the attributes they may set on an object of
    another's (``F.ce = v``, ``setattr(F, "ce", v)``, ``vars(F)["ce"] = v``, in a function too);
    not a variable named like one (``sum = ...``), an instance's ``self.sum``, nor a key of a
    plain dict of the student's (``res["mean"] = ...``: no attribute reads it)."""
    found: dict[str, list[tuple[int, object, ast.AST]]] = {}
    for i, cell, tree in nb.student_cells():
        for stmt in tree.body if tree else ():
            own, names = _own_attributes(stmt), set()
            for node in _walk(stmt):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    if id(node) not in own:
                        names.add(node.attr)
                elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                    names |= set() if _plain_key(node, nb.plain_dicts) else _strings([node.slice])
                elif isinstance(node, ast.Call):
                    names |= _set_by_call(node, nb.plain_dicts)
            for name in names:
                found.setdefault(name, []).append((i, cell, stmt))
    return found


def _root(node: ast.AST) -> ast.AST:
    """What an attribute or subscript chain hangs on (``box.fns[0].append``: ``box``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node


_CONTAINERS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _containers(definitions: dict, own: set[str]) -> set[str]:
    """The student's names that hold a list, dict or set of theirs: what a library call given
    one may change (``operator.setitem(box, 0, v)``, ``map(box.append,
    ...)``); not a tensor or a number (``print(EPS, F.cross_entropy(x, y))``)."""
    found = set()
    for name in own:
        for _, _, n in definitions[name]:
            value = getattr(n, "value", None)
            called = getattr(getattr(value, "func", None), "id", "")
            if isinstance(value, _CONTAINERS) or called in ("list", "dict", "set"):
                found.add(name)
    return found


# torch.nn.Module's methods that change the module they are called on only
_MODULE_METHODS = {"to", "cpu", "cuda", "double", "float", "half", "eval", "train"}
_MODULE_METHODS |= {"requires_grad_", "zero_grad", "type", "bfloat16"}
_MODULE_BASES = ("torch.nn", "unet_tp.unet_base.UNetBase", "unet_tp.UNetBase")  # (none of them)


def _bound_in(cls: ast.ClassDef) -> set[str]:
    """The names a class's body binds (its methods and attributes)."""
    return {name for stmt in cls.body for name in _bound(stmt)}


class _Objects:
    """The student's own names (bound otherwise than by an import or an alias of a module:
    ``F.x(...)`` changes nothing of the student's) and what changing one may change."""

    def __init__(self, nb: Notebook, definitions: dict):
        self.nb, self.definitions = nb, definitions
        self.own = {
            name
            for name, defs in definitions.items()
            if name not in nb.aliases
            and any(
                not isinstance(n, (ast.Import, ast.ImportFrom)) and name in _bound(n, direct=True)
                for _, _, n in defs
            )
        }
        self.containers = _containers(definitions, self.own)
        self.classes, self.functions = (
            {n for n in self.own if all(isinstance(d, kind) for _, _, d in definitions[n])}
            for kind in (ast.ClassDef, ast.FunctionDef)
        )
        # a function's one definition: what it does with what it is given
        self.bodies = {n: definitions[n][0][2] for n in self.functions if len(definitions[n]) == 1}
        # `b = box`: what changes b changes box; a function of the student's: the names it reads
        self.same = {name: {name} for name in self.own}
        for name in self.own:
            for _, _, n in definitions[name]:
                if isinstance(getattr(n, "value", None), ast.Name) and n.value.id in self.own:
                    self.same[name].add(n.value.id)
                elif isinstance(n, ast.FunctionDef):  # (a name it only calls it leaves as is:
                    # the student's own test of the answer beside torch's loss)
                    self.same[name] |= {
                        g for g in _global_names(n) & self.own if not _only_called(n, g)
                    }
                elif (cls := _instance_of(n, name)) in self.classes:  # `b = Box()`: what changes
                    # b may change what its class holds (red team 34: `b.put(F.cross_entropy)`
                    # filled a dict of the class's, read by the answer's `Box().take()`)
                    self.same[name].add(cls)

    def reads(self, f: str) -> set[str]:
        """What a call of ``f`` may hand out or change: the names a function of the student's
        reads (``get`` returning ``box``), or what ``setf`` of ``setf, call = make()`` holds."""
        return self.same[f] - {f} if f in self.functions else self.same[f]

    def changed(self, node: ast.AST, through_call: bool = True) -> set[str]:
        root = _root(node)
        if isinstance(root, ast.Call) and through_call:  # get().append(v)
            f = getattr(root.func, "id", None)
            return self.reads(f) if f in self.own else set()
        return self.same.get(root.id, set()) if isinstance(root, ast.Name) else set()

    def in_call(self, call: ast.Call) -> set[str]:
        """What a call may change: its receiver, the student's function it calls (``fill(v)``,
        ``setf(v)``), what it is given: by a function of the student's (``fill(box)``), a
        container of theirs by any call; a library's call given a tensor or a number
        (``print(EPS, F.cross_entropy(x, y))``) is not read so."""
        names = set()
        if isinstance(call.func, ast.Attribute) and not self._torch_method_of_new(call.func):
            names |= self.changed(call.func.value)
        own_call = getattr(call.func, "id", None) in self.own
        if own_call and call.func.id not in self.classes:
            names |= self.reads(call.func.id)
        for arg in self._given(call, own_call):
            got = self.changed(arg, through_call=False)
            names |= got if own_call else got & self.containers
        return names

    def _torch_method_of_new(self, func: ast.Attribute) -> bool:
        """``UNet(...).to(dtype)``: torch's own method of a module just built, of a class of the
        student's deriving from torch.nn's (or the course's UNetBase) only and not defining it:
        it changes that instance, not the class (honest round 9: the dtype's definition was
        read as the class's)."""
        new = func.value
        name = getattr(new.func, "id", None) if isinstance(new, ast.Call) else None
        if isinstance(new, ast.Name):  # `tiny = UNet(...)`, then `tiny.to(dt)`
            defs = [d for _, _, d in self.definitions.get(new.id, []) if not _moved(d, new.id)]
            made = {_instance_of(d, new.id) for d in defs}
            name = made.pop() if len(made) == 1 else None
        if func.attr not in _MODULE_METHODS or name not in self.classes:
            return False
        classes = [d for _, _, d in self.definitions[name]]
        return all(
            all(_under(self.nb.resolve(b), _MODULE_BASES) for b in c.bases)
            and not (_bound_in(c) & {func.attr, "_apply", "__getattr__", "__getattribute__"})
            and not c.keywords
            for c in classes
        )

    def _given(self, call: ast.Call, own_call: bool) -> list[ast.AST]:
        """The arguments of ``call`` it may change: not those a function of the student's only
        calls (``compare(categorical_cross_entropy, F.cross_entropy)`` calling ``f1(x, y)``)."""
        body = self.bodies.get(getattr(call.func, "id", None)) if own_call else None
        if (
            body is None
            or any(isinstance(a, ast.Starred) for a in call.args)
            or any(k.arg is None for k in call.keywords)
        ):
            return [*call.args, *(k.value for k in call.keywords)]
        params = [a.arg for a in (*body.args.posonlyargs, *body.args.args)]
        pairs = [*zip(params, call.args, strict=False)]
        pairs += [(k.arg, k.value) for k in call.keywords]
        if len(call.args) > len(params):  # into *args: kept
            pairs += [("", a) for a in call.args[len(params) :]]
        return [a for p, a in pairs if not (p and _only_called(body, p))]


def _only_called(function: ast.AST, name: str) -> bool:
    """Whether ``function`` uses ``name`` only to call it (``categorical_cross_entropy(x, y)``):
    neither changing it nor handing it out."""
    callees = {id(n.func) for n in _walk(function) if isinstance(n, ast.Call)}
    uses = [n for n in _walk(function) if isinstance(n, ast.Name) and n.id == name]
    return all(id(n) in callees for n in uses)


def _decorator_calls(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list:
    """What its decorators do to a definition, as calls: ``@box.append`` is ``box.append(f)``."""
    given = ast.copy_location(ast.Name(id=node.name, ctx=ast.Load()), node)
    return [
        ast.copy_location(ast.Call(func=d, args=[given], keywords=[]), d)
        for d in node.decorator_list
    ]


def _mutators(nb: Notebook, definitions: dict) -> dict[str, list[tuple[int, object, ast.AST]]]:
    """What may change an object of the student's without binding its name, by that name: the
    call itself, not the statement around it (``box.append(F.cross_entropy)``, ``fill(box)``,
    ``get().append(v)`` of a function ``get`` of the student's returning ``box``, ``b = box;
    b.append(v)``, ``operator.setitem(box, 0, v)``; not the ``print`` a call sits in), or the
    top-level statement that assigns into it (``box[0] = v``, ``f.__defaults__ = (v,)``): what
    such an object holds is what the answer reading it uses."""
    objects = _Objects(nb, definitions)
    found: dict[str, list[tuple[int, object, ast.AST]]] = {}
    for i, cell, tree in nb.student_cells():
        for stmt in tree.body if tree else ():
            for node in _walk(stmt):
                if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(
                    node.ctx, ast.Load
                ):
                    names, where = objects.changed(node), stmt  # `box[0] = v`: the statement
                elif isinstance(node, ast.Call):  # the call and what it is given, not its
                    names, where = objects.in_call(node), node  # neighbours: print(f(x), g(x))
                elif isinstance(node, _SCOPES[:3]) and node.decorator_list:
                    # `@box.append` over a def: box.append(the function), which holds its body
                    names, where = set().union(*map(objects.in_call, _decorator_calls(node))), node
                else:
                    continue
                for name in names & objects.own:
                    found.setdefault(name, []).append((i, cell, where))
    return found


def _why_not_credited(block, what: str, does: bool) -> str:
    """Why a block is lost to what is not a name it forbids: code of the course package, or what
    the notebook does (unpickling said plainly: a student loading their own checkpoint)."""
    if not does:
        return M.OWN_CODE.format(block=block.id)
    return M.UNPICKLED if what in (UNPICKLES, _PATHS["pickle"]) else M.NOT_FOLLOWED


class Lost(dict):
    """``{graded test id: why its block loses its points}``; ``does``: the messages among them
    of what the whole notebook does (not a forbidden call of the answer's own): the instructor
    reads them (an honest notebook can lose blocks to them)."""

    def __init__(self):
        super().__init__()
        self.does: list[str] = []
        self.at_fault: dict[str, str] = {}  # the block whose answer cell holds the line


def forbidden_calls(nb, spec, labels: list[str]) -> Lost:
    """Per graded test id, why its block loses its points: its answer, or a definition of the
    student's it uses, uses what an answer may not (see the module's docstring)."""
    notebook = read(nb)
    nb, definitions, setters = notebook.nb, notebook.definitions, _attribute_setters(notebook)
    mutators = _mutators(notebook, definitions)
    failed = Lost()
    for block in spec.blocks:
        defined = [d for n in (*block.names, ANY_NAME) for d in definitions.get(n, [])]
        # every definition above the test cell (an experiment after the test is not the answer),
        # but a stand-in the answer replaced before anything read it
        last_test = notebook.last_test(block) or 0
        before = [d for d in defined if d[0] < last_test]
        before = [d for d in before if not _replaced_unread(notebook, d, before, block.names)]
        limit = last_test if before else len(nb.cells)
        found = _search(
            notebook,
            before or defined,
            (definitions, setters, mutators),
            set(block.forbidden),
            limit,
        ) or _handed_over(
            notebook,
            last_test or len(nb.cells),
            set(block.forbidden),
            (definitions, setters, mutators),
        )
        if found:
            i, cell, what, node, does, inferred = found
            names = set(block.forbidden)
            forbidden = not does and (
                _forbidden(what, names)
                or (what.startswith("….") and _named_attr(what[len("….") :], names))
            )
            why = block.forbidden_why if forbidden else _why_not_credited(block, what, does)
            where = M.CELL_AT.format(cell=i + 1, cell_label=labels[i], quote=_quote(cell, node))
            where = _loose_cause(notebook, node, where, labels)
            inferred = inferred and forbidden  # (honest round 7: a timing decorator, a config)
            template = M.FORBIDDEN_DOES if does else M.FORBIDDEN
            template = M.FORBIDDEN_REACHED if inferred else template
            message = template.format(block=block.id, what=what, where=where, why=why)
            failed |= {test.grade_id: message for test in block.tests}
            failed.does += [message] if does or inferred else []
            owner = next((b.id for b in spec.blocks if b.solution_cell == grade_id(cell)), None)
            failed.at_fault |= {test.grade_id: owner or block.id for test in block.tests}
    return failed


def _loose_cause(nb: Notebook, node: ast.AST, where: str, labels: list[str]) -> str:
    """``where``, and, for a use of ``self`` in a method of a loose class (honest rounds 12-14:
    a loop-built U-Net's ``setattr(self, f"down{k}", ...)`` beside ``t = type(m)``), the line
    that handed the class out: what the student can change."""
    cls = nb.parents.get(id(node))
    while cls is not None and not isinstance(cls, ast.ClassDef):
        cls = nb.parents.get(id(cls))
    cause = nb.loose_classes.get(cls.name) if cls is not None else None
    if cause is None or not any(getattr(n, "id", None) == "self" for n in _walk(node)):
        return where
    i, cell = next((i, c) for i, c, tree in nb.cells if tree and cause in _walk(tree))
    at = M.CELL_AT.format(cell=i + 1, cell_label=labels[i], quote=_quote(cell, cause))
    return M.LOOSE_CLASS.format(where=where, cls=cls.name, cause=at)


def _binds(stmt: ast.stmt) -> str | None:
    """The one name a top-level statement binds whatever runs (``def``, ``class``, ``x = ...``)."""
    if isinstance(stmt, _SCOPES[:3]):
        return stmt.name
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    plain = isinstance(stmt, ast.Assign) or (isinstance(stmt, ast.AnnAssign) and stmt.value)
    if plain and len(targets) == 1 and isinstance(targets[0], ast.Name):
        return targets[0].id
    return None


def _run_at_once(stmt: ast.stmt) -> list[ast.AST]:
    """What a statement runs where it stands: a function's decorators, defaults and annotations
    (its body runs when called), all of anything else."""
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [stmt]
    return [*stmt.decorator_list, stmt.args, *([stmt.returns] if stmt.returns else [])]


def _replaced_unread(nb: Notebook, found: tuple, defined: list, names) -> bool:
    """Whether a definition of the block's ``names`` is replaced before anything reads it: the
    next statement at a cell's top level that binds its name again is one of ``defined``, and no
    statement in between (nor what that one runs at once) mentions the name or runs code the
    reading does not see. A stand-in above the answer cell (``def categorical_cross_entropy(...):
    return F.cross_entropy(...)``, to try ``train_step`` first) is then no part of the answer.
    Only the next binding is looked at (a later one has it and its range in between): linear in
    the notebook, whatever number of definitions it holds."""
    tops, where = nb.top_statements
    i, _, stmt = found
    name = _binds(stmt) if id(stmt) in where else None
    if name not in names or not _inert(nb, stmt):
        return False
    answers = {id(d[2]) for d in defined}
    for later in tops[where[id(stmt)] + 1 :]:
        if _binds(later) == name:
            run = (node for part in _run_at_once(later) for node in _walk(part))
            return id(later) in answers and not any(_mentions(n, name) for n in run)
        if id(later) in nb.hidden or any(_mentions(n, name) for n in _walk(later)):
            return False
    return False


# what a definition may hold and still run nothing of the notebook's as it is made: constants,
# names, the attributes of imported modules (annotations: ``torch.Tensor | None``)
_INERT = (ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.BinOp, ast.BitOr, ast.Tuple)
_INERT += (ast.Load, ast.arguments, ast.arg, ast.UnaryOp, ast.USub)


def _inert(nb: Notebook, stmt: ast.stmt) -> bool:
    """Whether a definition does nothing but bind its name: a function without decorators
    whose defaults and annotations run no code, or ``name = <such a value>`` (a default that
    calls, ``_=_keep(F.cross_entropy)``, would keep what it is given whatever replaces it)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and not stmt.decorator_list:
        parts = [stmt.args, stmt.returns]
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        parts = [stmt.value, getattr(stmt, "annotation", None)]
    else:
        return False
    for node in (n for part in parts if part is not None for n in _walk(part)):
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(node, _INERT) or (
            isinstance(node, ast.Attribute) and getattr(root, "id", None) not in nb.aliases
        ):
            return False
    return True


def _mentions(node: ast.AST, name: str) -> bool:
    """Whether ``node`` names ``name``: as a name, an attribute or a string."""
    return (
        (isinstance(node, ast.Name) and node.id == name)
        or (isinstance(node, ast.Attribute) and node.attr == name)
        or (isinstance(node, ast.alias) and name in node.name.split("."))  # from __main__ import
        or (isinstance(node, ast.Constant) and isinstance(node.value, str) and name in node.value)
    )


# what may be given a forbidden object without keeping it: the student's own functions and
# containers are followed as they are read; these show or test it
_SHOWS = {"print", "repr", "str", "type", "id", "isinstance", "issubclass", "callable", "help"}
_SHOWS |= {"dir", "len", "format", "display", "IPython.display.display", "pprint.pprint"}
# and what only wraps or iterates it, keeping nothing (its result, bound to a name, is followed)
_SHOWS |= {"functools.partial", "list", "tuple", "dict", "set", "sorted", "map", "filter", "zip"}
_SHOWS |= {"enumerate", "iter", "next", "any", "all", "sum", "min", "max", "abs", "round"}
_SHOWS |= {"inspect.getsource", "inspect.getsourcelines", "inspect.signature", "inspect.getdoc"}
_SHOWS |= {"inspect.getfile"}
_SHOWS |= {"collections.OrderedDict", "collections.namedtuple", "torch.compile", "torch.vmap"}
# a timer keeps what it times only in the Timer a name of the student's holds (followed)
_SHOWS |= {"timeit.Timer", "timeit.timeit", "timeit.repeat"}
_WRAPPERS = ("itertools", "torch.func", "torch.utils.benchmark", "torch.autograd.gradcheck")


def _handed_over(nb: Notebook, limit: int, names: set[str], by_name: tuple):
    """The first top-level statement of the student's above ``limit`` that gives a library (a
    logging filter, ``torch.save``, an exception, a library's dict, a thread's arguments) what the
    block forbids, uncalled, or a function or class of the student's that uses it (an instance of
    it too): ``(i, cell, why, node, True)``, or None. An answer then reads it back through what no
    name of the notebook says (``logging.getLogger("x").filters[0]``)."""
    uses: dict[tuple[str, bool], tuple | None] = {}  # each name's reading once (red team 50:
    # `w.a = w; w = w.a` 5,000 times read w's 10,000 statements at each: minutes)

    def own_uses(sub: ast.Name, called: bool):
        if (sub.id, called) not in uses:
            uses[sub.id, called] = _own_callable_uses(nb, sub, called, names, by_name, limit)
        return uses[sub.id, called]

    for i, cell, tree in nb.student_cells():
        if i >= limit or tree is None:
            continue
        for stmt in tree.body:
            # a name a function binds is that scope's (a parameter `x`); a global one is the
            # notebook's (red team 42 stored an object of its own class into a library's from
            # inside a function: `def _install(): sys.__spec__._initializing = _Flag()`)
            nested = _bound_locally(stmt)
            for holder, value, course in _handing(nb, stmt):
                # not what a call calls (F.cross_entropy(x, y): a value computed with it), nor
                # what an attribute is read on (F.cross_entropy.__name__: a name)
                skip = {
                    id(n) for c in _walk(value) if isinstance(c, ast.Call) for n in _walk(c.func)
                }
                skip |= {id(n.value) for n in _walk(value) if isinstance(n, ast.Attribute)}
                for sub in _walk(value):
                    if (
                        isinstance(sub, ast.Name)
                        and id(sub) not in nested
                        and (found := own_uses(sub, id(sub) in skip))
                    ):
                        used = found[2]
                        uses = _forbidden(used, names) or used.startswith(_COURSE_CODE_SAYS)
                        template = M.HANDS_OWN if uses else M.HANDS_OWN_DOES
                        what = template.format(name=sub.id, what=used)
                        # where the student's code does it (honest round 9: not the TP's own
                        # cell that handed the student's class to the course package)
                        where_i, where_cell, where_node = found[0], found[1], found[3]
                        why = M.HANDED_OVER.format(what=what, where=holder)
                        return where_i, where_cell, why, where_node, True, False
                    if not isinstance(sub, (ast.Name, ast.Attribute)) or id(sub) in skip:
                        continue
                    path = nb.resolve(sub)
                    if path and (_forbidden(path, names) or (course and _course_code(path))):
                        why = M.HANDED_OVER.format(what=path, where=holder)
                        return i, cell, why, sub, True, False
    return None


def _own_callable_uses(
    nb: Notebook, name: ast.Name, called: bool, names: set[str], by_name: tuple, limit: int
) -> tuple | None:
    """What of the block's forbidden names the student's function or class ``name`` (handed
    over uncalled, or a class ``called``: its instance) uses, or reaches through the student's
    other definitions, or what it does that the reading cannot follow (a name built from
    strings): :func:`_search`'s finding, or None (data computed with it, ``[F.cross_entropy(x,
    y)]``, is not it)."""
    kinds = (ast.ClassDef,) if called else (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    defs = [d for d in by_name[0].get(name.id, []) if d[0] < limit]
    accepted = {name.id}
    made = {_instance_of(d[2], name.id) for d in defs}
    if defs and None not in made:  # `_tidy = _Tidy(...)`, then `_tidy.handle` handed over (red
        # team 33: a bound method, or the instance, runs its class's code): its class's
        kinds, accepted = (ast.ClassDef,), made
        defs = [d for cls in made for d in by_name[0].get(cls, []) if d[0] < limit]

    def callable_(stmt: ast.AST) -> bool:  # `def name`, `class name`, `name = lambda ...`
        if isinstance(stmt, kinds):
            return stmt.name in accepted
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        named = [t.id for t in targets if isinstance(t, ast.Name)] == [name.id]
        return named and isinstance(stmt.value, ast.Lambda) and not called

    if name.id in nb.aliases or not defs or not all(callable_(d[2]) for d in defs):
        return None
    found = _search(nb, defs, by_name, names, limit)
    course = found and found[2].startswith(_COURSE_CODE_SAYS)  # its unet_tp.train
    return found if found and (found[4] or course or _forbidden(found[2], names)) else None


def _moved(stmt: ast.AST, name: str) -> bool:
    """``tiny = tiny.to(dt)``: ``name`` given back by torch's method of a module."""
    value = stmt.value if isinstance(stmt, ast.Assign) else None
    return (
        [getattr(t, "id", None) for t in stmt.targets] == [name]
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in _MODULE_METHODS
        and getattr(value.func.value, "id", None) == name
        if value
        else False
    )


def _instance_of(stmt: ast.AST, name: str) -> str | None:
    """The class ``stmt`` makes ``name`` an instance of (``name = Cls(...)``), or None."""
    value = stmt.value if isinstance(stmt, ast.Assign) else None
    targets = [t.id for t in stmt.targets if isinstance(t, ast.Name)] if value else []
    if targets == [name] and isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id
    return None


def _handing(nb: Notebook, stmt: ast.stmt):
    """``(what receives it, the expression given, whether the course package's code counts)`` of
    ``stmt``: each argument of a call to what is not the student's own nor :data:`_SHOWS` (the
    course's code given to the course's functions is the TP's own cells), a value stored into a
    library's object (``box = warnings.onceregistry; box[0] = v``), what a ``raise`` raises."""
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        yield "an exception", stmt.exc, True
    for target, value in _stores(stmt):
        root = _root(target)
        own = isinstance(root, ast.Name) and _own_object(nb, root.id)
        into = isinstance(target, (ast.Subscript, ast.Attribute)) and (
            not own or root.id in nb.aliases or _within(nb.resolve(target), "builtins")
        )  # (`len.__self__.len = f` binds no name of the student's: red team 41)
        # `box |= {...}` on a library's dict (`box = warnings.onceregistry`)
        into = into or (
            isinstance(stmt, ast.AugAssign)
            and isinstance(target, ast.Name)
            and target.id in nb.aliases
        )
        if into:
            yield ast.unparse(target)[:60], value, True
    yield from _stored_within(nb, stmt)
    yield from _finalized(stmt)
    for call in (n for n in _walk(stmt) if isinstance(n, ast.Call)):
        callee, root = _builtin(nb.resolve(call.func)), _root(call.func)
        if _under(nb.resolve(_made_by(call.func)), _TEST_RUNNERS):
            continue  # unittest.TestLoader().loadTestsFromTestCase(MyTests): the student's tests
        if isinstance(call.func, ast.Name) and _thread_class(nb, call.func.id):
            yield "a thread (the class's run)", call.func, False  # class Server(Thread)
        own = _own_name(nb, root) and _own_object(nb, root.id)
        if own or callee in _SHOWS or _under(callee, (*_WRAPPERS, f"{COURSE_PACKAGE}.checks")):
            continue
        for arg in (*call.args, *(k.value for k in call.keywords)):
            yield (callee or ast.unparse(call.func))[:60], arg, False  # (the course's own calls)
    yield from _decorating(nb, stmt)


def _finalized(stmt: ast.stmt):
    """A class of ``stmt`` with a ``__del__``, handed to the garbage collector, which runs it
    whenever a collection comes, the grader's reading of a request among them (red team 43: a
    finalizer leaving a new cycle behind it each time computed torch's loss for every request
    before the watch began): ``(the collector, the class's name, False)``."""
    for cls in (n for n in _walk(stmt) if isinstance(n, ast.ClassDef)):
        if any(isinstance(f, _SCOPES[:2]) and f.name == "__del__" for f in cls.body):
            name = ast.copy_location(ast.Name(cls.name, ast.Load()), cls)
            yield "the garbage collector (its __del__)", name, False


def _stored_within(nb: Notebook, stmt: ast.stmt):
    """``(what receives it, the value, True)`` of the stores a function of ``stmt`` makes into a
    library's object it does not bind (red team 42: ``def _install(): sys.__spec__._initializing
    = _Flag()``, the flag's ``__len__`` run as ``import sys`` read it); not into its own
    variables, ``self`` among them."""
    own = _bound_locally(stmt)
    for inner in _walk(stmt):  # (a loop's, a with's or a comprehension's target too)
        if inner is stmt or not isinstance(inner, ast.stmt):
            continue
        for target, value in _stores(inner):
            root = _root(target)
            if not isinstance(target, (ast.Subscript, ast.Attribute)):
                continue
            if not isinstance(root, ast.Name) or id(root) in own:
                continue
            if root.id in nb.aliases or not _own_object(nb, root.id):
                yield ast.unparse(target)[:60], value, True


def _decorating(nb: Notebook, stmt: ast.stmt):
    """What a decorator not the student's is given: the function or class it decorates
    (red team 32: ``@codecs.register`` on a function using torch's loss, which an answer then
    reached through ``codecs.lookup("...")``, a registry looked up by a string). Not what only
    wraps it under its own name (``@torch.no_grad()``, ``@staticmethod``, ``@functools.cache``)."""
    for fn in _walk(stmt):
        for decorator in getattr(fn, "decorator_list", []):
            func = decorator.func if isinstance(decorator, ast.Call) else decorator
            callee, root = _builtin(nb.resolve(func)), _root(func)
            own = _own_name(nb, root) and _own_object(nb, root.id)
            if own or callee in _SHOWS or _under(callee, _PURE_DECORATORS):
                continue
            name = ast.copy_location(ast.Name(id=fn.name, ctx=ast.Load()), fn)
            yield (callee or ast.unparse(func))[:60], name, False


# bases whose instances hold their own attributes (torch's modules and datasets, the kit's U-Net)
_KNOWN_BASES = ("torch.nn", "torch.utils.data", "unet_tp.unet_base", "abc.ABC")


# decorators that wrap a function and keep it under its name, in no registry of theirs
_PURE_DECORATORS = ("staticmethod", "classmethod", "property", "functools.wraps", "typing.final")
_PURE_DECORATORS += ("functools.cache", "functools.lru_cache", "functools.cached_property")
_PURE_DECORATORS += ("functools.total_ordering", "contextlib.contextmanager", "abc.abstractmethod")
_PURE_DECORATORS += ("dataclasses.dataclass", "torch.no_grad", "torch.inference_mode")
_PURE_DECORATORS += ("torch.enable_grad", "torch.autocast", "torch.amp.autocast")


_COURSE_CODE_SAYS = M.COURSE_CODE.split("{")[0]
_THREAD_CLASSES = ("threading.Thread", "threading.Timer", "multiprocessing.dummy.Process")


def _thread_class(nb: Notebook, name: str, depth: int = 0) -> bool:
    """Whether ``name`` is a class of the student's deriving from a thread's (its ``run`` runs in
    another thread, a server the answer may feed through a queue), through their own classes."""
    classes = [d for _, _, d in nb.definitions.get(name, []) if isinstance(d, ast.ClassDef)]
    for cls in classes if depth < 5 else []:
        for base in cls.bases:
            path = nb.resolve(base)
            if _under(path, _THREAD_CLASSES) or (
                isinstance(base, ast.Name) and _thread_class(nb, base.id, depth + 1)
            ):
                return True
    return False


# what runs the student's tests and keeps them only in what it returns (a name holding that is
# followed): the TestCase classes handed to them compare the answer with torch's loss
_TEST_RUNNERS = ("unittest.TestLoader", "unittest.TextTestRunner", "unittest.TestSuite")
_TEST_RUNNERS += ("unittest.main", "unittest.defaultTestLoader")


def _made_by(func: ast.expr) -> ast.expr:
    """The start of a chain of calls and attributes: ``unittest.TestLoader`` of
    ``unittest.TestLoader().loadTestsFromTestCase``."""
    while isinstance(func, (ast.Attribute, ast.Call)):
        inner = func.value if isinstance(func, ast.Attribute) else func.func
        if not isinstance(inner, (ast.Attribute, ast.Call, ast.Name)):
            break
        if isinstance(func, ast.Attribute) and not isinstance(inner, ast.Call):
            break
        func = inner
    return func


def _own_object(nb: Notebook, name: str) -> bool:
    """Whether ``name`` is the student's object: bound by the student's cells, and not only to
    what a library's call returns (``box = logging.getLogger("x")``: a library's object, whose
    ``box.addFilter(f)`` hands ``f`` over) or a library's object holds (``m =
    sys.modules["builtins"]``, whose ``m.type = f`` hands ``f`` to every library)."""
    defs = nb.definitions.get(name, [])

    def library_value(stmt: ast.AST) -> bool:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            return False
        value = stmt.value
        if isinstance(value, ast.Subscript):
            held_by = _root(value.value)
            return not _own_name(nb, held_by) and bool(nb.resolve(value.value))
        mine = isinstance(value, ast.Call) and _own_name(nb, _root(value.func))
        plain = isinstance(stmt.targets[0], ast.Name)
        return isinstance(value, ast.Call) and plain and not mine

    return bool(defs) and not all(library_value(d[2]) for d in defs)


def _own_name(nb: Notebook, node: ast.AST | None) -> bool:
    """Whether ``node`` is a name the student's cells bind, not an alias of a library's."""
    return isinstance(node, ast.Name) and node.id in nb.definitions and node.id not in nb.aliases


def _stores(stmt: ast.stmt):
    """``(target, value)`` of each place ``stmt`` stores into: ``=`` (a tuple's items too), ``|=``,
    an annotated assignment, a ``for`` loop's, a ``with``'s or a comprehension's target (given
    what it iterates: red team 83's ``[0 for torch.from_numpy in [hook]]``)."""
    pairs = [(c.target, c.iter) for c in _walk(stmt) if isinstance(c, ast.comprehension)]
    if isinstance(stmt, ast.Assign):
        pairs += [(t, stmt.value) for t in stmt.targets]
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        pairs.append((stmt.target, stmt.value))
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        pairs.append((stmt.target, stmt.iter))
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        pairs += [(w.optional_vars, w.context_expr) for w in stmt.items if w.optional_vars]
    while pairs:
        target, value = pairs.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            pairs += [(t, value) for t in target.elts]
        elif isinstance(target, ast.Starred):
            pairs.append((target.value, value))
        else:
            yield target, value


def late_definitions(nb, spec, labels: list[str]) -> dict[str, tuple[str, str]]:
    """Per block id, where the student's own cell after the block's test cell defines its names
    again (``cell N (label)``, and the names): such a fix is not the answer graded (the answer
    is what the names held when the test cell ran, as in ``forbidden_calls``)."""
    notebook = read(nb)
    definitions, late = notebook.definitions, {}
    for block in spec.blocks:
        last_test = notebook.last_test(block)
        found = sorted(
            (i, n)
            for n in block.names
            for i, _, _ in definitions.get(n, [])
            if i > (last_test or 0)
        )
        if last_test is not None and found:
            i, _ = found[0]
            names = ", ".join(sorted({n for j, n in found if j == i}))
            late[block.id] = (M.CELL.format(cell=i + 1, cell_label=labels[i]), names)
    return late


def late_helpers(nb, spec, labels: list[str]) -> dict[str, tuple[str, str]]:
    """Per block id, where names its answer uses are first defined when that is only after the
    block's test cell (``cell N (label)``, and the names): a helper written in a later cell ran
    before the test in Colab, but run from the top the test meets a NameError."""
    notebook = read(nb)
    first: dict[str, int] = {}
    for i, _, tree in notebook.cells:
        for name in notebook.top_level_names(tree) if tree else {}:
            first.setdefault(name, i)
    definitions, late = notebook.definitions, {}
    for block in spec.blocks:
        last_test = notebook.last_test(block)
        if last_test is None:
            continue
        used = set()
        for name in block.names:
            for i, _, node in definitions.get(name, []):
                used |= _global_names(node) if i < last_test else set()
        found = sorted((first[n], n) for n in used if first.get(n, -1) > last_test)
        if found:
            i = found[0][0]
            names = ", ".join(n for j, n in found if j == i)
            late[block.id] = (M.CELL.format(cell=i + 1, cell_label=labels[i]), names)
    return late


@functools.cache
def _global_names(node: ast.AST) -> frozenset[str]:
    """The notebook's names a definition uses: not the parameters and locals of its functions
    (a loop's ``x`` at the top level is not the ``x`` of a ``forward``). Python's own scoping
    (symtable); every name if the definition cannot be read so (kept, as ``_walk``)."""
    try:
        tables = [symtable.symtable(ast.unparse(node), "<cell>", "exec")]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset(sub.id for sub in _walk(node) if isinstance(sub, ast.Name))
    found: set[str] = set()
    while tables:
        table = tables.pop()
        module = table.get_type() == "module"
        found.update(
            s.get_name()
            for s in table.get_symbols()
            if s.is_referenced() and (module or s.is_global())
        )
        tables += table.get_children()
    return frozenset(found)


def _globals_named(node: ast.AST) -> set[str]:
    """The names ``globals()["name"]`` or ``globals().get("name")`` read in ``node`` (red team
    34: the string key is no name to Python's scoping, and the definition was not followed)."""
    found = set()
    for sub in _walk(node):
        owner = sub.value if isinstance(sub, ast.Subscript) else None
        key = sub.slice if owner is not None else None
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.args:
            owner, key = sub.func.value, sub.args[0]
        if (
            isinstance(owner, ast.Call)
            and getattr(owner.func, "id", None) == "globals"
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
        ):
            found.add(key.value)
    return found


def _attributes_read(node: ast.AST) -> set[str]:
    """The attributes a definition reads (``F.ce``: ``ce``, which a statement of the student's may
    have set on a library, ``setattr(F, "ce", ...)``)."""
    read = {
        sub.attr
        for sub in _walk(node)
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load)
    }
    return read | set(_class_pattern_attributes(node))


def _search(nb: Notebook, start, by_name, names: set[str], limit: int):
    """The first misuse in ``start`` or the student's definitions it reaches (each read once):
    ``by_name``, the statements by the names they bind and by the attributes they set on
    another's object; below ``limit`` (the block's test cell), only those that bind a name as a
    definition or an assignment does."""
    definitions, setters, mutators = by_name
    # (cell index, cell, statement, whether it was reached through an attribute's name only: a
    # key "mean" of a results dict, which `x.mean()` may read; its objects are not followed)
    todo = collections.deque((*d, False) for d in start if d[2] is not None)
    changes: set[int] = set()  # what changes an object the answer reads (`box.append(v)`)
    seen = {id(d[2]) for d in todo}
    answers = set(seen)  # (a string in the answer itself is its own use, not an inference)
    # each name's statements are gone through once: a statement reached is never queued again,
    # and 20,000 `box.append(v)` each reading `box` went through all 20,000 for each (hours)
    expanded: set[tuple[str, str]] = set()

    def new(kind: str, found: set[str]) -> list[str]:
        fresh = [n for n in found if (kind, n) not in expanded]
        expanded.update((kind, n) for n in fresh)
        return fresh

    while todo:
        i, cell, node, by_attribute = todo.popleft()
        ignore = _computed_in_place(nb, node, names) if id(node) in changes else frozenset()
        key = (node, frozenset(names), ignore)  # (the node held: its id is never reused)
        if key not in nb.misuses:
            nb.misuses[key] = _misuse(nb, node, names, ignore)
        found = nb.misuses[key]
        if found:  # (and whether it is inferred: handed to what the answer reads, or a string)
            inferred = id(node) in changes or (
                isinstance(found[1], ast.Constant) and id(node) not in answers
            )
            return i, cell, *found, inferred
        used = _global_names(node) | _globals_named(node)
        reached = [(name, d, False) for name in new("def", used) for d in definitions.get(name, [])]
        reached += [
            (n, d, True) for n in new("set", _attributes_read(node)) for d in setters.get(n, [])
        ]
        # what changed an object of the student's before the test cell (`box.append(v)`)
        changed = set() if by_attribute else new("mut", used | _bound(node, direct=True))
        by_change = [(n, d, False) for n in changed for d in mutators.get(n, []) if d[0] < limit]
        changes.update(id(d[2]) for _, d, _ in by_change)
        reached += by_change
        for name, d, attribute in reached:
            # an attribute or key set after the test cell (`self.step`, `out["torch"]` of a
            # later helper) is not what the answer read when it ran
            if id(d[2]) not in seen and (d[0] < limit or name in _bound(d[2], direct=True)):
                seen.add(id(d[2]))
                todo.append((*d, attribute or by_attribute))
    return None


def _in_scopes(node: ast.AST, kinds: tuple) -> set[int]:
    """ids of the nodes of ``node`` inside a function, class or lambda (``kinds``) it defines:
    run later, or names of their own."""
    return {id(n) for s in _walk(node) if isinstance(s, kinds) for n in _walk(s)}


def _computed_in_place(nb: Notebook, node: ast.AST, names: set[str]) -> frozenset[int]:
    """The ids of forbidden functions ``node`` calls where it runs (``box.append(F.cross_entropy(x,
    y).item())``: the object keeps a value, not the function), not in a function or lambda it
    defines there; never a class (``box.append(nn.CrossEntropyLoss())`` keeps a loss)."""
    deferred = _in_scopes(node, _SCOPES[:4])
    found: set[int] = set()
    for call in (n for n in _walk(node) if isinstance(n, ast.Call) and id(n) not in deferred):
        path = nb.resolve(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else ""
        last = path.rpartition(".")[2]
        if last[:1].islower() and last in names and _forbidden(path, names):
            found.update(id(n) for n in _walk(call.func))
    return frozenset(found)


# ---- review: the instructor reads ----------------------------------------------------------
# the libraries' names whose attributes set are read in the text (any other import's, in the code:
# red team 56's `nx.common_neighbors = ...`), and the settings that are a library's to set
_PATCHED_BY_TEXT = ("torch", "np", "numpy", "math", "F", "nn", "checks", "unittest", "time", "os")
_PATCHED_BY_TEXT += ("sys", "posixpath", "threading", "signal", "io", "json", "builtins")
_SETTINGS = ("pandas.options", "matplotlib.rcParams", "tqdm", "PIL.Image.MAX_IMAGE_PIXELS")
_SETTINGS += ("torch.backends", "torch._dynamo.config", "torch._inductor.config", "os.environ")
# code a TP answer never needs, found in the cells' plain text (beside what the code reaches)
# Colab's own folders (its home /root, where kagglehub caches, /content, /tmp), no ".." after
_OWN_FOLDERS = r"(?:home|Users/|content|kaggle|root/|tmp/|mnt/|media/)(?:(?!\.\.)[^'\"])*['\"]"
# fmt: off
_SUSPICIOUS = [(re.compile(rx, re.M), why) for rx, why in [
    # a path or a module, not a word of a sentence ("les deux solutions", "ready for the autograder")
    # (a list of one's own called `solutions`: `solutions.append(...)`)
    (r"hidden_tests|import_solutions|['\"/\\](?:solutions|autograder)(?:['\"/\\.]|$)|\b(?:import|from)\s+(?:solutions|autograder)\b|\b(?:solutions|autograder)(?:[/\\]|\.(?!(?:append|extend|insert|pop|sort|clear|copy|index|count|remove|reverse|items|keys|values|get|update|setdefault)\()\w)", "looks for the grader or the reference"),
    (r"NBGRADER|UNET_TP_GRADING|grading_state|gradebook|/opt/grading", "looks for the grader or the reference"),
    # (not numpy's removed aliases put back, `np.int = int`: old code on numpy 2, honest round 17)
    (r"^\s*(?:" + "|".join(_PATCHED_BY_TEXT) + r")\.(?!backends\.|_dynamo\.config\.|environ\b)(?!(?:int|float|bool|object|str|complex)\s*=\s*(?:int|float|bool|object|str|complex|np\.\w+|numpy\.\w+)\s*(?:#.*)?$)[\w.]+\s*=[^=]", PATCHES),
    # code the kernel runs when a signal or a file's change comes (red team 33: SIGIO on the
    # answers folder), or that makes the notebook's threads run between the grader's lines
    (r"\bsignal\.(?:signal|setitimer|alarm|set_wakeup_fd)\(|\bfcntl\b|\bsetswitchinterval\(", "runs code when a signal comes"),
    (r"\b(?:os\.walk|glob)\(\s*['\"]/(?!" + _OWN_FOLDERS + r")|Path\(\s*['\"]/(?!" + _OWN_FOLDERS + r")[^'\"]*['\"]\)\.rglob\(", "searches the disk"),
    # (requests imported: a dict called `requests` and its `.get` are not the network)
    (r"\bsocket\.|urllib\.request|^\s*(?:import|from)\s+requests\b|http\.client", "uses the network"),
    (r"os\.fork\(|fork\(\)", "starts processes"),
]]
# fmt: on


# modules imported whole, flagged where a call of them runs code (pickle) or reaches objects (gc)
_SAVES_ONLY = {"pickle", "gc"}


def _reasons(nb: Notebook, tree: ast.Module) -> list[tuple[ast.AST, str]]:
    found = []
    methods = _in_methods(tree, nb)
    called = {id(node.func) for node in _walk(tree) if isinstance(node, ast.Call)}
    read_only = nb.reads_namespace_only | nb.shell_magics | _only_shown(nb, tree)
    for node in _walk(tree):
        if around := _rewrites(nb, node, id(node) in methods):
            found.append((node, around))
        if _sets_name(node):
            found.append((node, SETS_NAME))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in _imported(node):
                if name in _SAVES_ONLY:  # `import pickle` to save: its loads are flagged
                    continue
                found += [(node, why) for why in _path_reasons(name)]
                if (last := name.rpartition(".")[2]) in _ATTRIBUTES:  # (from m import name)
                    found.append((node, _ATTRIBUTES[last]))
        elif isinstance(node, ast.Attribute) and id(node) not in read_only:
            path = nb.resolve(node)
            own = _own_state(node) or _own_namespace(node, methods, nb.plain_objects)
            own = own or (
                node.attr in _IPYTHON_METHODS and _on_own_object(nb, node, id(node) in methods)
            )
            if node.attr in _ATTRIBUTES and not own:
                found.append((node, _ATTRIBUTES[node.attr]))
            if _modules_of_a_value(node, called):
                found.append((node, _PATHS["sys.modules"]))
            found += [(node, why) for why in _path_reasons(path, dotted=True)]
            if _within(path, "builtins") and not _within(nb.resolve(node.value), "builtins"):
                found.append((node, _PATHS["builtins"]))  # (`len.__self__`: red team 41)
            if path.startswith("get_ipython().") and node.attr in _IPYTHON_CODE:
                found.append((node, "runs code from strings through IPython"))
            if _scripts_comments(nb, node):
                found.append((node, RUNS_COMMENTS))
            if _patches_a_library(nb, node):
                found.append((node, PATCHES))
        elif isinstance(node, ast.Call):
            why = _string_code(nb, node, id(node) in methods)
            if why:
                found.append((node, why))
            elif nb.resolve(node.func) in _NAME_BUILDERS - {"hasattr"} and len(node.args) > 1:
                owner, name = nb.resolve(node.args[0]), node.args[1]
                if owner and isinstance(name, ast.Constant) and isinstance(name.value, str):
                    path = _rebased(f"{owner}.{name.value}")  # (getattr(len, "__self__"))
                    found += [(node, why) for why in _path_reasons(path)]
                    if name.value in _ATTRIBUTES:
                        found.append((node, _ATTRIBUTES[name.value]))
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "__import__"}:
            found.append((node, _ATTRIBUTES.get(node.id) or _STRING_CODE[node.id]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [(node, why) for part, why in _STRINGS.items() if part in node.value]
    found += [(node, ANNOTATED_CODE) for node in _code_in_annotations(tree)]
    return found + _handed_builders(nb, tree)


def _patches_a_library(nb: Notebook, node: ast.Attribute) -> bool:
    """``nx.common_neighbors = ...`` (or ``del``, ``+=``): an attribute set on what an import
    binds (not a setting of :data:`_SETTINGS`), any store: a comprehension's target too (red
    team 83's ``[0 for torch.from_numpy in [hook]]``, which the text's rule does not read)."""
    root = _root(node)
    if isinstance(node.ctx, ast.Load) or not isinstance(root, ast.Name):
        return False
    if root.id not in nb.aliases or nb.bound_where(node, root.id):
        return False
    path = nb.resolve(node)
    return not _under(path, _SETTINGS) and not _new_attribute(path)


def _new_attribute(path: str) -> bool:
    """Whether ``path`` names an attribute its object (of a module already imported here) does
    not have: one added, no library's code replaced (Colab's habit `Path.ls = lambda self:
    sorted(self.iterdir())`, honest: the grade's own test)."""
    parts = path.split(".")
    if parts[-1].startswith("__"):  # (a module's __getattr__ added changes what it gives)
        return False
    for i in range(len(parts) - 1, 0, -1):
        if (module := sys.modules.get(".".join(parts[:i]))) is not None:
            break
    else:
        return False
    owner = module
    for j, part in enumerate(parts[i:], start=i):
        try:
            owner = inspect.getattr_static(owner, part)
        except AttributeError:
            return j == len(parts) - 1  # (only the last part missing: added)
    return False


def _without_comments(source: str) -> str:
    """``source`` without its comments (as it is where a line does not tokenize)."""
    lines = source.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    for t in reversed([t for t in tokens if t.type == tokenize.COMMENT]):
        row, col = t.start
        lines[row - 1] = lines[row - 1][:col] + lines[row - 1][t.end[1] :]
    return "".join(lines)


def review_reasons(nb, labels: list[str]) -> list[str]:
    """Review lines for the student's cells that use code a TP answer never needs (its text, then
    each reason's first line quoted). No grade depends on them."""
    notebook = read(nb)
    lines = []
    for i, cell, tree in notebook.student_cells():
        where = f"cell {i + 1} ({labels[i]})"
        code = _without_comments(cell.source)  # "# deux solutions" names no folder
        by_reason: dict[str, ast.AST] = {}
        for node, why in _reasons(notebook, tree) if tree else []:
            by_reason.setdefault(why, node)
        what = sorted({why for rx, why in _SUSPICIOUS if rx.search(code)} - {*by_reason})
        lines += [f"{where}: {', '.join(what)}"] if what else []
        lines += [f"{where}, {_quote(cell, node)}: {why}" for why, node in by_reason.items()]
    return lines
