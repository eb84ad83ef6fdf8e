"""Step 2 of grading, continued: what the student's cells say, read in the grader's process.

The repaired notebook's *text* is read before anything runs (IPython syntax turned into Python),
names followed through aliases (``import unet_tp as course; course.losses`` is ``unet_tp.losses``).
:func:`forbidden_calls`: a block's answer, and every definition of the student's it uses, loses
its points, the line quoted, if it uses the course package's code (but ``unet_tp.unet_base``),
names or code built from strings (``eval``, ``getattr(x, name)`` but on ``self``...) or what the
block forbids (``assignment.toml``). :func:`review_reasons`: code a TP answer never needs (the
harness, ``sys.modules``, frames, links...), quoted for the instructor; no grade depends on it.
"""

from __future__ import annotations

import ast
import collections
import functools
import re
import threading

from autograder import messages as M
from autograder.cells import grade_id, nbgrader_meta

COURSE_PACKAGE = "unet_tp"
BUILT_ON = ("unet_tp.unet_base",)  # what the answers are meant to use of the course package


def _by_reason(table: dict[str, str]) -> dict[str, str]:
    """``{reason: "name name..."}`` read as ``{name: reason}``."""
    return {name: why for why, names in table.items() for name in names.split()}


_FRAMES = "reaches into the interpreter (frames)"
_CODE_OBJECTS = "rewrites code objects"
_LINKS = "plants links in the file system"
# dotted paths (through aliases) and what using them means
_PATHS = _by_reason(
    {
        "reaches into the interpreter (gc)": "gc",
        "reaches into the interpreter (ctypes)": "ctypes",
        "imports modules by name (importlib)": "importlib",
        "rewrites built-ins": "builtins",
        "reaches into the interpreter (sys.modules)": "sys.modules",
        _FRAMES: "sys._getframe inspect.currentframe inspect.stack inspect.getouterframes",
        "reaches into the grading harness": "unet_tp_harness",
        "looks for the reference": "solutions",
        "looks for the grader": "autograder",
        "uses the course package's training code (unet_tp.train)": "unet_tp.train",
        "uses the course package's metrics (unet_tp.metrics)": "unet_tp.metrics",
        "uses the course package's losses (unet_tp.losses)": "unet_tp.losses",
        "calls torch's internals (torch._C)": "torch._C",
        "reaches names built from strings (operator.attrgetter)": "operator.attrgetter",
        "reaches names built from strings (operator.methodcaller)": "operator.methodcaller",
        "runs code from strings (timeit)": "timeit",
        "runs code from strings (pickle)": "pickle",
        "runs code from strings (marshal)": "marshal",
        "runs code from files (runpy)": "runpy",
        "builds functions from code objects": "types.FunctionType",
        "builds code objects": "types.CodeType",
        _LINKS: "os.link os.symlink",
    }
)
# attribute names that mean the same whatever they hang on
_ATTRIBUTES = _by_reason(
    {
        "switches off torch's function overrides": "DisableTorchFunction",
        "reaches into objects' namespaces (__dict__)": "__dict__",
        "reaches into the interpreter (__globals__)": "__globals__",
        _CODE_OBJECTS: "__code__ __closure__ cell_contents",
        "rewrites built-ins": "__builtins__",
        "reaches into the interpreter (__subclasses__)": "__subclasses__",
        _FRAMES: "f_back f_globals f_locals",
        "rewrites error handling": "set_custom_exc excepthook",
        "reaches into the interpreter (audit hooks)": "addaudithook",
        "reaches into the interpreter (tracing)": "settrace setprofile",
        _LINKS: "symlink_to hardlink_to",
        "reaches into the notebook's namespace (get_ipython().user_ns)": "user_ns",
        "reaches into the notebook's namespace (get_ipython().user_global_ns)": "user_global_ns",
    }
)
_STRING_CODE = {  # built-ins that run code or reach names built from strings
    "eval": "runs code built from strings (eval)",
    "exec": "runs code built from strings (exec)",
    "compile": "runs code built from strings (compile)",
    "__import__": "imports modules by name (__import__)",
    "globals": "reaches into the notebook's namespace (globals())",
    "vars": "reaches into objects' namespaces (vars())",
    "locals": "reaches into the namespace (locals())",
}
# modules and callables that build code or names from strings: a call to one costs the block
_STRING_PATHS = ("importlib", "operator.attrgetter", "operator.methodcaller", "timeit", "pickle")
_STRING_PATHS += ("marshal", "runpy", "types.FunctionType", "types.CodeType")
_NAME_BUILDERS = {"getattr", "setattr", "delattr", "hasattr"}
_IPYTHON_CODE = {"ev", "ex", "run_cell", "run_code", "run_cell_magic", "safe_execfile"}
_STRINGS = {
    "mountinfo": "looks for the grading machine's files (/proc mounts)",
    "/proc/self/mount": "looks for the grading machine's files (/proc mounts)",
    "/proc/1/": "looks for the grading machine's files (/proc)",
    "unet_tp_harness": "reaches into the grading harness",
    "_SNAPSHOT": "reaches into the grading harness",
    "_PROBES": "reaches into the grading harness",
}


@functools.cache
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


_PARSING = threading.Lock()  # CPython's ast conversion is not thread-safe (a deep cell in one
# grading thread beside another: "SystemError: AST constructor recursion depth mismatch")


def parse(source: str) -> ast.Module | None:
    """The cell as Python (IPython syntax turned into calls), or None if it does not parse."""
    try:
        with _PARSING:
            return ast.parse(_transformer().transform_cell(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _locked(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool((meta.get("grade") or meta.get("locked")) and not meta.get("solution"))


def _quote(cell, node: ast.AST) -> str:
    lines = cell.source.splitlines()
    number = getattr(node, "lineno", 1)
    text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return M.QUOTED.format(line=number, code=text[:100])


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules (and ``module.name``) an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    return [base] + [f"{base}.{a.name}" for a in node.names]


class Notebook:
    """The repaired notebook's code cells, parsed once, with the aliases they bind."""

    def __init__(self, nb):
        self.cells = [
            (i, cell, parse(cell.source))
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code"
        ]
        self.aliases: dict[str, str] = {}
        for _, _, tree in self.cells:
            for stmt in tree.body if tree else []:
                self._bind(stmt)

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
            if path and ("." in path or path in self.aliases.values()):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.aliases[target.id] = path

    def resolve(self, node: ast.AST) -> str:
        """The dotted path a name or attribute chain stands for, through the aliases, or ''."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            parts.append(f"{node.func.id}()")  # get_ipython().ev
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        else:
            return ""
        return ".".join(reversed(parts))

    def student_cells(self):
        return [(i, cell, tree) for i, cell, tree in self.cells if not _locked(cell)]


# ---- what an answer may not use: it costs the block -----------------------------------------


def _top_level_names(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """The student's top-level definitions of a cell: functions, classes, assignments."""
    found: dict[str, list[ast.AST]] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(stmt.name, []).append(stmt)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        found.setdefault(node.id, []).append(stmt)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                found.setdefault((alias.asname or alias.name).split(".")[0], []).append(stmt)
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _course_code(path: str) -> bool:
    return _within(path, COURSE_PACKAGE) and not any(_within(path, b) for b in BUILT_ON)


def _misuse(nb: Notebook, node: ast.AST, names: set[str]) -> tuple[str, ast.AST] | None:
    """What in ``node`` an answer may not use, and where, or None."""
    docstrings = _docstrings(node)
    for sub in ast.walk(node):
        what = None
        if isinstance(sub, (ast.Name, ast.Attribute)):
            path = nb.resolve(sub)
            if path.rsplit(".", 1)[-1] in names:
                what = path
            elif _course_code(path):
                what = M.COURSE_CODE.format(path=path)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            for imported in _imported(sub):
                if _course_code(imported):
                    what = M.COURSE_CODE.format(path=imported)
                elif imported.rsplit(".", 1)[-1] in names:
                    what = imported
        elif isinstance(sub, ast.Call):
            what = _string_code(nb, sub)
        elif (
            isinstance(sub, ast.Constant)
            and isinstance(sub.value, str)
            and id(sub) not in docstrings
            and sub.value.strip().rsplit(".", 1)[-1] in names
        ):
            what = sub.value.strip()
        if what:
            return what, sub if hasattr(sub, "lineno") else node
    return None


def _string_code(nb: Notebook, call: ast.Call) -> str | None:
    """Why a call builds names or code from strings, or None."""
    path = nb.resolve(call.func)
    if path in _STRING_CODE:
        return _STRING_CODE[path]
    if path in _NAME_BUILDERS:
        owner = call.args[0] if call.args else None
        name = call.args[1] if len(call.args) > 1 else None
        if not (isinstance(owner, ast.Name) and owner.id == "self") and not isinstance(
            name, ast.Constant
        ):
            return f"builds a name from a string ({path})"
    for prefix in _STRING_PATHS:
        if _within(path, prefix):
            return _PATHS[prefix]
    if path.startswith("get_ipython().") and path.rsplit(".", 1)[-1] in _IPYTHON_CODE:
        return "runs code from strings through IPython"
    return None


def _definitions(nb: Notebook) -> dict[str, list[tuple[int, object, ast.AST]]]:
    found: dict[str, list[tuple[int, object, ast.AST]]] = {}
    for i, cell, tree in nb.student_cells():
        for name, nodes in (_top_level_names(tree) if tree else {}).items():
            found.setdefault(name, []).extend((i, cell, n) for n in nodes)
    return found


def forbidden_calls(nb, spec, labels: list[str]) -> dict[str, str]:
    """Per graded test id, why its block loses its points: its answer, or a definition of the
    student's it uses, uses what an answer may not (see the module's docstring)."""
    notebook = Notebook(nb)
    definitions = _definitions(notebook)
    failed = {}
    for block in spec.blocks:
        defined = [d for name in block.names for d in definitions.get(name, [])]
        start = [d for d in defined if grade_id(d[1]) == block.solution_cell] or defined
        found = _search(notebook, start, definitions, set(block.forbidden))
        if found:
            i, cell, node, what = found
            forbidden = what.rsplit(".", 1)[-1] in block.forbidden
            why = block.forbidden_why if forbidden else M.OWN_CODE.format(block=block.id)
            where = M.CELL_AT.format(cell=i + 1, cell_label=labels[i], quote=_quote(cell, node))
            for test in block.tests:
                failed[test.grade_id] = M.FORBIDDEN.format(
                    block=block.id, what=what, where=where, why=why
                )
    return failed


def _search(nb: Notebook, start, definitions, names: set[str]):
    """The first misuse in ``start`` or the student's definitions it reaches (each read once)."""
    todo = collections.deque(d for d in start if d[2] is not None)
    seen = {id(d[2]) for d in todo}
    while todo:
        i, cell, node = todo.popleft()
        found = _misuse(nb, node, names)
        if found:
            return i, cell, found[1], found[0]
        used = {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}
        for name in used:
            for d in definitions.get(name, []):
                if id(d[2]) not in seen:
                    seen.add(id(d[2]))
                    todo.append(d)
    return None


# ---- review: the instructor reads ----------------------------------------------------------
# code a TP answer never needs, found in the cells' plain text (beside what the code reaches)
# fmt: off
_SUSPICIOUS = [(re.compile(rx, re.M), why) for rx, why in [
    (r"hidden_tests|autograder|import_solutions|\bsolutions\b", "looks for the grader or the reference"),
    (r"NBGRADER|UNET_TP_GRADING|grading_state|gradebook", "looks for the grader or the reference"),
    (r"^\s*(?:torch|np|numpy|math|F|nn|checks|unittest)\.[\w.]+\s*=[^=]", "patches a library"),
    (r"\bos\.walk\(\s*['\"]/|glob\(\s*['\"]/(?!home|content)|rglob\(", "searches the disk"),
    (r"\bsocket\.|urllib\.request|\brequests\.(?:get|post)|http\.client", "uses the network"),
    (r"os\.fork\(|fork\(\)", "starts processes"),
]]
# fmt: on


def _reasons(nb: Notebook, tree: ast.Module) -> list[tuple[ast.AST, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in _imported(node):
                found += [(node, why) for p, why in _PATHS.items() if _within(name, p)]
        elif isinstance(node, ast.Attribute):
            path = nb.resolve(node)
            if node.attr in _ATTRIBUTES:
                found.append((node, _ATTRIBUTES[node.attr]))
            found += [(node, why) for p, why in _PATHS.items() if "." in p and _within(path, p)]
            if path.startswith("get_ipython().") and node.attr in _IPYTHON_CODE:
                found.append((node, "runs code from strings through IPython"))
        elif isinstance(node, ast.Call):
            why = _string_code(nb, node)
            if why:
                found.append((node, why))
            elif nb.resolve(node.func) in _NAME_BUILDERS and len(node.args) > 1:
                owner, name = nb.resolve(node.args[0]), node.args[1]
                if owner and isinstance(name, ast.Constant) and isinstance(name.value, str):
                    path = f"{owner}.{name.value}"
                    found += [(node, why) for p, why in _PATHS.items() if _within(path, p)]
                    if name.value in _ATTRIBUTES:
                        found.append((node, _ATTRIBUTES[name.value]))
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "__import__"}:
            found.append((node, _ATTRIBUTES.get(node.id) or _STRING_CODE[node.id]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [(node, why) for part, why in _STRINGS.items() if part in node.value]
    return found


def review_reasons(nb, labels: list[str]) -> list[str]:
    """Review lines for the student's cells that use code a TP answer never needs (its text, then
    each reason's first line quoted). No grade depends on them."""
    notebook = Notebook(nb)
    lines = []
    for i, cell, tree in notebook.student_cells():
        where = f"cell {i + 1} ({labels[i]})"
        what = sorted({why for rx, why in _SUSPICIOUS if rx.search(cell.source)})
        lines += [f"{where}: {', '.join(what)}"] if what else []
        by_reason: dict[str, ast.AST] = {}
        for node, why in _reasons(notebook, tree) if tree else []:
            by_reason.setdefault(why, node)
        lines += [f"{where}, {_quote(cell, node)}: {why}" for why, node in by_reason.items()]
    return lines
