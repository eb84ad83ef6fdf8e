"""What strings a name can hold, read from a notebook's code: for ``getattr(nn, activation)``.

Static reading lets an answer look up a class of ``torch.nn`` or ``torch.optim`` by a name it
holds only where every way the notebook gives that name a value is spelt (a default, an argument
or keyword of a call, an assignment, a literal list looped over, a dictionary literal's key...).
Red teams handed ``"Cross" + "EntropyLoss"`` over through what a first reading did not follow (a
``global`` written in a function, an alias or ``functools.partial`` of the function, its
``__defaults__``, a dataclass's generated ``__init__``, a subclass without one, a ``match``
capture, ``SimpleNamespace(act=...)``): each of these makes the value unknown, or is read.
"""

from __future__ import annotations

import ast
import functools
import importlib
import itertools
from collections.abc import Callable

_MAX_VALUES = 64
_MAX_STEPS = 20_000  # readings of one value (each cached)
_BUILT = (0, "+")  # (in what is seen: a string was built on the way)
_STRING_METHODS = {"lower", "upper", "capitalize", "title", "strip", "lstrip", "rstrip"}
_STRING_METHODS |= {"casefold", "swapcase"}
# what changes a container in place (its items then unknown)
_MUTATORS = {"append", "extend", "insert", "update", "setdefault", "__setitem__", "add", "__ior__"}
_MUTATORS |= {"__iadd__", "__init__", "sort", "reverse"}
_METHOD_KINDS = {"staticmethod", "classmethod"}
# what reaches an object's attribute by a name given as a string, or its whole namespace
_REACHES_ATTRIBUTES = {"vars", "__dict__", "getattr_static", "attrgetter", "getmembers"}
_REACHES_ATTRIBUTES |= {"getmembers_static", "_modules", "_buffers", "_parameters"}
# what reaches (or sets) one attribute by a name given as a string: where it is
_BY_NAME = {"getattr": 1, "__getattribute__": 0, "__getattr__": 0, "add_module": 0}
_BY_NAME |= {"register_module": 0}
# a class's own ways of answering (or setting) an attribute (red team 66)
_ANSWERS_ATTRIBUTES = {"__getattribute__", "__getattr__", "__setattr__", "__init_subclass__"}
_ANSWERS_ATTRIBUTES |= {
    "__class_getitem__",
    "__new__",
    "__set_name__",
    "__get__",
}  # decorators that keep a function's call sites
_NAMES_A_CLASS = {"super", "isinstance", "issubclass", "type"}  # a class named there: not handed
_REWRITES_NAMESPACE = {"__setstate__"}  # an object's attributes all given (red team 73)
_DEEPEST = 12  # names followed, one through another, before what they hold is unknown
_SETTERS = {"setattr", "__setattr__"}  # (and Module's: an attribute given a child module)
_SETTERS |= {"add_module", "register_module", "register_buffer", "register_parameter"}
# what a class of the notebook's may be built on (their __init__ sets no string of its arguments)
_PLAIN_BASES = {"torch.nn.Module", "torch.nn.modules.module.Module", "builtins.object"}
_UNET_BASE = {"unet_tp.unet_base.UNetBase", "unet_tp.UNetBase"}
_PLAIN_BASES |= _UNET_BASE
# what UNetBase sets from its arguments (self.config) or answers (its properties, methods)
_KIT_ATTRIBUTES = {"config", "widths", "in_channels", "check_input", "reset_parameters"}
_KIT_ATTRIBUTES |= {"input_size_for", "nearest_valid_sizes", "output_size", "tiles"}
_REBASED = {"__bases__", "__class__"}  # (a class given other bases, an object another class)
_ENUMS = {"enum.Enum", "enum.StrEnum"}  # (what an Enum's members are built on)
# what would give an Enum's members other values (enum's own tables, a member's value)
_ENUM_PARTS = {"_value_", "_value2member_map_", "_member_map_", "_missing_", "_name_", "value"}
_NAMESPACES = {"SimpleNamespace", "Namespace"}  # objects whose attributes are their keywords
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, *_COMPREHENSIONS)
# what reads a container without changing it or handing it on (``OPTIONS.get("act")``)
_READERS = {"get", "keys", "values", "items", "copy", "count", "index", "split"}
_READERS |= {"pop", "popitem", "remove", "clear", "discard"}  # (fewer items: none new)
# library calls handed a function or class that do not call it with the notebook's values
_READ_ONLY = {"print", "repr", "str", "help", "id", "callable", "vars", "dir", "getsource"}
_READ_ONLY |= {"signature", "getdoc", "getfullargspec", "apply", "register_forward_hook"}
_READ_ONLY |= {"register_forward_pre_hook", "register_full_backward_hook", "display"}
# the methods torch runs for their object's call (a Module's, a Function's apply): their
# parameters hold what those calls are given, whatever the spelt calls of their name
_RUN_BY_TORCH = {"forward", "backward", "setup_context", "jvp", "vjp", "_call_impl"}
_CONTAINERS = {"torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict"}
_CONTAINERS |= {f"torch.nn.modules.container.{c}" for c in ("Sequential", "ModuleList")}
# what Module's own code calls given names (prefixes, module names, targets)
_CALLED_WITH_NAMES = {"_load_from_state_dict", "_save_to_state_dict", "state_dict"}
_CALLED_WITH_NAMES |= {"load_state_dict", "named_modules", "named_parameters", "named_buffers"}
_CALLED_WITH_NAMES |= {"named_children", "_named_members", "get_submodule", "get_parameter"}
_CALLED_WITH_NAMES |= {"get_buffer", "set_extra_state", "register_module", "add_module"}
_CALLED_WITH_NAMES |= {"register_buffer", "register_parameter", "_get_name", "extra_repr"}
# modules whose attributes looked up by a spelt name give no string but their dunders' (read)
_LOOKED_UP_IN = {"torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch.nn.init"}
_LOOKED_UP_IN |= {"numpy"}
# the names recognised by their spelling that an import may give as such (others: builtins)
_EXPECTED = {"partial": "functools.partial", "partialmethod": "functools.partialmethod"}
_EXPECTED |= {"field": "dataclasses.field", "SimpleNamespace": "types.SimpleNamespace"}
_EXPECTED |= {"Namespace": "argparse.Namespace", "signature": "inspect.signature"}
_EXPECTED |= {"getdoc": "inspect.getdoc", "getfullargspec": "inspect.getfullargspec"}
_EXPECTED |= {"getsource": "inspect.getsource", "display": "IPython.display.display"}
_EXPECTED |= {"json": "json", "pprint": "pprint.pprint"}
_KIT_CALLERS = {"train_or_resume", "fit", "predict_patient"}  # (the kit's: tensors only)
_PURE = {"len", "print", "list", "tuple", "sorted", "set", "frozenset", "str", "repr", "enumerate"}
_PURE |= {"zip", "reversed", "any", "all", "min", "max", "sum", "iter", "dict", "isinstance"}
# which give back nothing they are given (min, max, sum may give the object itself: red team 63;
# isinstance gives it to a metaclass's __instancecheck__: red team 65)
_KEEPS_NOTHING = _PURE - {"min", "max", "sum", "isinstance"} | {"display", "pprint"}
_BUILTIN_CLASSES = {"dict", "list", "tuple", "str", "int", "float", "bool", "set", "frozenset"}


class HeldStrings:
    """What each name is given where the notebook binds it (by function), each attribute
    (``self.act = act``, ``act=`` of any call) and each dictionary item (``CONFIG["act"]``): the
    expressions, with the functions they are in (outermost first, after a 0)."""

    _read_all = False  # (every function's calls read: what one is handed judged by it)

    def __init__(self, trees: list[ast.Module]):
        self.given: dict[tuple[int, str], list[tuple[ast.AST | None, tuple]]] = {}
        self.chain_of: dict[int, tuple] = {}  # a call's functions
        self.declared: dict[int, tuple[set[str], set[str]]] = {}  # global and nonlocal names
        self.changed: set[str] = set()  # containers changed in place: their items unknown
        self.keyed, self.namespace_written = set[str](), set[int]()  # d[k] = v; self.__dict__
        self.spread = False  # a call given **options no reading follows: attributes unknown
        self.unseen_inits = False  # a class built by a call no reading follows: its parameters
        self.constructors, self.spreads = list[ast.AST](), list[tuple[ast.AST, tuple]]()
        self.setters: list[ast.AST | None] = []  # the values setattr gives an unspelt name
        self.functions: list[tuple[ast.AST, tuple]] = []
        self.classes: list[ast.ClassDef] = []
        self.calls: dict[str | None, list] = {}  # by the name called
        self.imported: dict[str, set[str]] = {}  # what a name is bound to by imports
        # names (and attributes) bound other than by an import; of them, at the top level
        self.rebound, self.rebound_top = set[str](), set[str]()  # (or declared global)
        self._memo: dict[tuple, set[str] | None] = {}  # what _values read, by node
        self._steps, self._read_namespaces, self._shown_namespaces = 0, set[int](), list[tuple]()
        for tree in trees:
            self._read(tree)
        parents = _parents(trees)
        self._parents, self._trees, shadowed = parents, trees, self._shadowed_at
        self.shared, self.aliases_of, self.given_to = _shared(trees, parents, shadowed)
        self.nested = _read_nested_only(trees, parents, shadowed)
        self.unseen_inits |= not all(_super_or_class(f, self) for f in self.constructors)
        self.spread |= not all(self._makes_a_module(v) for v in self.setters)  # (round 26)
        for node, chain in self.spreads:  # **kwargs handed on; **OPTIONS, a dict literal's
            if self._kwargs_param(node, chain):
                continue
            dicts = self._dicts(node, chain, frozenset())
            self.spread |= dicts is None
            for items, where in dicts or []:
                for name, value in items.items():
                    self._add((0, f".{name}"), value, where)
        self.lambda_names = _named_lambdas(trees, parents)
        own = {n.name for n, _ in self.functions if not isinstance(n, ast.Lambda)}
        own |= {c.name for c in self.classes} | set(self.lambda_names.values())
        read = set(own)  # and the names each is bound to (build = make), handed on in turn
        for _ in range(4):
            self.handed, aliases, self.partials, in_classes = _handed(
                trees, read, parents, shadowed
            )
            more = set().union(*aliases.values()) - read
            if not more:
                break
            read |= more
        self.names = {name: {name} for name in read}  # what each is called by (aliases)
        for _ in range(4):
            for name, more in aliases.items():
                for alias in list(more):
                    self.names[name] |= self.names.get(alias, {alias})
        self.handed |= {name for name in own if self.names[name] & self.handed}
        self.handed |= {
            n for n, cls, alias in in_classes if self._run_by_its_base(cls, alias, set())
        }
        for f, chain in self.functions:
            self._parameters(f, self._call_sites(f), chain)
        for cls in self.classes:
            self._fields(cls)
        self._memo, self._read_all = {}, True  # (what was read before all was given)

    def _read(self, tree: ast.AST) -> None:
        todo = [(tree, (0,))]
        while todo:  # (not recursive: an expression may nest thousands deep)
            node, chain = todo.pop()
            if isinstance(node, ast.Call):
                self.chain_of[id(node)] = chain
                self.calls.setdefault(_last_name(node.func), []).append((node, chain))
                self._call(node, chain)
            self._imports_or_rebinds(node, chain)
            self._note_namespaces(node, chain)
            for target, value in _binding(node):  # (a := ... in a comprehension: its function's)
                walrus = isinstance(node, ast.NamedExpr)
                self._bind(target, value, _functions(chain) if walrus else chain)
            self.changed |= _aliased(node)
            inner = chain
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                self.functions.append((node, chain))
                inside = list(ast.walk(node))
                self.declared[id(node)] = (
                    {n for s in inside if isinstance(s, ast.Global) for n in s.names},
                    {n for s in inside if isinstance(s, ast.Nonlocal) for n in s.names},
                )
                inner = (*chain, node)
                todo += [(d, chain) for d in node.args.defaults + node.args.kw_defaults if d]
                todo += [(d, chain) for d in getattr(node, "decorator_list", [])]
                params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                params += [p for p in (node.args.vararg, node.args.kwarg) if p]
                self.rebound |= {p.arg for p in params}  # (a parameter `dict`: not the builtin)
                for p in params:  # (its scope's: read as such before its calls are)
                    self.given.setdefault((id(node), p.arg), [])
                notes = [p.annotation for p in params] + [getattr(node, "returns", None)]
                todo += [(a, chain) for a in notes if a is not None]  # (run as the def runs)
                body = node.body if isinstance(node.body, list) else [node.body]
                todo += [(stmt, inner) for stmt in body]
                continue
            if isinstance(node, _COMPREHENSIONS):  # a scope of its own (its first iterable not)
                inner = (*chain, node)
                todo.append((node.generators[0].iter, chain))
                todo += [
                    (c, inner) for c in ast.iter_child_nodes(node) if c is not node.generators[0]
                ]
                todo += [(c, inner) for c in ast.iter_child_nodes(node.generators[0])
                         if c is not node.generators[0].iter]  # fmt: skip
                for target, value in _binding(node.generators[0]):
                    self._bind(target, value, inner)
                continue
            if isinstance(node, ast.ClassDef):
                self.classes.append(node)
                for target, value in (b for n in _class_level(node) for b in _binding(n)):
                    if isinstance(target, ast.Name):  # `act = "ReLU"`, read as `self.act`
                        self._add((0, f".{target.id}"), value, chain)
                todo += [(d, chain) for d in [*node.bases, *node.keywords, *node.decorator_list]]
                # its body a scope of its own (red team 55: a class's `n = "relu"` in a function
                # was read as the function's n, the global "cross_entropy" unread)
                todo += [(stmt, (*chain, node)) for stmt in node.body]
                continue
            todo += [(child, inner) for child in ast.iter_child_nodes(node)]

    def _imports_or_rebinds(self, node: ast.AST, chain: tuple) -> None:
        bound = self._imported_or_rebound(node)
        if len(chain) == 1:
            self.rebound_top |= bound
        if isinstance(node, ast.Global):
            self.rebound_top |= set(node.names)

    def _imported_or_rebound(self, node: ast.AST) -> set[str]:
        """The names ``node`` binds other than by an import (its imports noted)."""
        if isinstance(node, ast.Import):  # import torch.nn as nn: nn; import torch.nn: torch
            for a in node.names:
                bound = a.asname or a.name.split(".")[0]
                self.imported.setdefault(bound, set()).add(a.name if a.asname else bound)
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                full = f"{'.' * node.level}{node.module or ''}.{a.name}"
                self.imported.setdefault(a.asname or a.name, set()).add(full)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.rebound.add(node.name)
            return {node.name}
        else:
            targets = [t for target, _ in _binding(node) for t in ast.walk(target)]
            bound = {_last_name(t) or "" for t in targets}
            self.rebound |= bound
            return bound
        return set()

    @functools.cached_property
    def _top_shadowed(self) -> frozenset[str]:
        """The names the reading knows by their spelling that the top level (or a ``global``)
        binds to something else, or an import does."""
        other = {n for n, paths in self.imported.items() if not _as_expected(n, paths)}
        return frozenset(n for n in self.rebound_top | other if _spelt_name(n))

    def _shadowed_in(self, name: str, chain: tuple) -> bool:
        """Whether ``name``, read in the functions ``chain``, is not what the reading knows by
        that spelling (``dict``, ``str``, ``print``, ``partial``, ``field``, ``check_*``...):
        bound in one of them (red team 64: ``dict = lambda **kw: {"k": key}`` made ``dict(k=
        "sum")`` read as "sum"), or at the top level, or imported otherwise; a helper's own
        parameter ``len`` elsewhere is not (honest round 31)."""
        if not _spelt_name(name):
            return False
        return self._key(name, chain)[0] != 0 or name in self._top_shadowed

    def _shadowed_at(self, name: str, node: ast.AST) -> bool:
        """:meth:`_shadowed_in` where ``node`` is."""
        return self._shadowed_in(name, self._chain_at(node))

    def _chain_at(self, node: ast.AST) -> tuple:
        """The scopes around ``node``, outermost first, after a 0."""
        scopes, at = [], self._parents.get(id(node))
        while at is not None:
            scopes += [at] if isinstance(at, _SCOPES) else []
            at = self._parents.get(id(at))
        return (0, *reversed(scopes))

    def _builtin(self, func: ast.AST, name: str, chain: tuple) -> bool:
        """Whether ``func`` is the name ``name`` as the reading knows it (not shadowed)."""
        return isinstance(func, ast.Name) and func.id == name and not self._shadowed_in(name, chain)

    def _plain_base(self, base: ast.AST) -> bool:
        """``nn.Module``, ``object``, ``UNetBase``: spelt so, imported as such, bound by nothing
        else of the notebook's (``class Module(nn.L1Loss)``, ``nn.Module = ...``)."""
        dotted = self._dotted(base)
        return bool(dotted) and dotted <= _PLAIN_BASES

    def _dotted(self, base: ast.AST) -> set[str]:
        """What a base class spelt ``a.b.C`` can be, by the imports (none if a part of it is
        bound otherwise)."""
        parts = []
        while isinstance(base, ast.Attribute):
            parts.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or {base.id, *parts} & self.rebound:
            return set()
        roots = self.imported.get(base.id, {"builtins." + base.id})
        return {".".join([root, *parts]) for root in roots}

    def _add(self, key: tuple[int, str], value: ast.AST | None, chain: tuple) -> None:
        self.given.setdefault(key, []).append((value, chain))

    def _call(self, call: ast.Call, chain: tuple) -> None:
        """A call's keywords (``SimpleNamespace(act=...)``: any object's attribute ``act``), its
        spread mappings, and what it changes in place (``names.append(...)``)."""
        for k in call.keywords:
            if k.arg is not None:
                self._add((0, f".{k.arg}"), k.value, chain)
            elif isinstance(k.value, ast.Dict) and all(_spelt(key) for key in k.value.keys):
                for key, value in zip(k.value.keys, k.value.values, strict=True):
                    self._add((0, f".{key.value}"), value, chain)
            else:  # f(**options): any keyword, any attribute, unless a function's own **kwargs
                self.spreads.append((k.value, chain))
        func = call.func
        if _keyed_update(call):  # CONFIG.update(act="ReLU"): CONFIG["act"] = "ReLU"
            for key, value in _updates(call):
                self._bind(ast.Subscript(func.value, ast.Constant(key), ast.Store()), value, chain)
        elif isinstance(func, ast.Attribute) and func.attr in _MUTATORS:
            self.changed.add(_last_name(func.value) or "")
        name, args = _last_name(func), call.args
        if name in _SETTERS:  # setattr(self, key, value) over a dictionary's items
            named = args[1] if name == "setattr" or len(args) == 3 else args[0] if args else None
            if not _spelt(named if len(args) > 1 else None):  # (read once the classes are known)
                self.setters.append(args[-1] if len(args) > 1 else None)
        self.spread |= name in _REWRITES_NAMESPACE  # (Module's: `self.__dict__.update(state)`)
        if name in ("__init__", "__new__", "__call__"):
            self.constructors.append(func)  # obj.__init__(K): unless super()'s, or a base's
        if isinstance(func, ast.Call) and _last_name(func.func) == "type":
            self.unseen_inits = True  # type(obj)(K)

    def _note_namespaces(self, node: ast.AST, chain: tuple) -> None:
        """An object's namespace (``x.__dict__``, ``vars(x)``) used other than read (a spelt
        item, a reader's call, a loop, shown: red team 68's ``d = vars(b)`` then ``d[k] =
        key``) is written; ``node``'s children judged here, ``node`` itself if it is one."""
        if _namespace(node) and id(node) not in self._read_namespaces:
            self._namespace_written(node, chain)
        for child in ast.iter_child_nodes(node):
            if not _namespace(child):
                continue
            called = getattr(node.func, "id", "") if isinstance(node, ast.Call) else ""
            shown = called in _SHOWN | _COPIES  # (dict(vars(args)): a copy)
            if shown and child in node.args:  # (print(vars(cfg)): if print is the builtin)
                self._shown_namespaces.append((node.func.id, chain))
            if shown or _namespace_read(child, node):
                self._read_namespaces.add(id(child))
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr in _NAMESPACE_READERS:
            self._read_namespaces.add(id(func.value))  # vars(cfg).items()

    @functools.cached_property
    def _spread_all(self) -> bool:
        """Whether any attribute may be set where no reading looks (``spread``, or a namespace
        shown by a ``print`` that is not the builtin)."""
        return self.spread or any(self._shadowed_in(n, c) for n, c in self._shown_namespaces)

    def _namespace_written(self, node: ast.AST, chain: tuple) -> None:
        """``self.__dict__`` or ``vars(self)`` written in a method: its class's attributes
        unknown; another object's: every attribute (red team 66; honest round 32: an
        AverageMeter's ``self.__dict__.update(...)`` made every class unknown)."""
        if not _namespace(node):
            return
        owner = node.value if isinstance(node, ast.Attribute) else (node.args or [None])[0]
        method = chain[-1] if len(chain) > 2 and isinstance(chain[-2], ast.ClassDef) else None
        args = getattr(getattr(method, "args", None), "args", [])
        if args and isinstance(owner, ast.Name) and owner.id == args[0].arg:
            self.namespace_written.add(id(chain[-2]))
        else:
            self.spread = True

    def _makes_a_module(self, value: ast.AST | None) -> bool:
        """Whether ``value`` builds a network module, never a string: a class of torch's
        (``nn.Conv2d(...)``) or of the notebook's on such bases, without ``__new__`` or a
        metaclass of its own."""
        if not isinstance(value, ast.Call):
            return False
        name = str(_last_name(value.func))
        if isinstance(value.func, ast.Attribute):  # nn.Conv2d, torch.nn.ReLU
            dotted = self._dotted(value.func)
            torchs = bool(dotted) and all(d.split(".")[0] == "torch" for d in dotted)
            return torchs and name[:1].isupper()
        return self._module_class(name, set())

    def _module_class(self, name: str, seen: set[str]) -> bool:
        found = [c for c in self.classes if c.name == name]
        assigned = any(key[1] == name for key in self.given)  # (bound otherwise too)
        if len(found) != 1 or name in seen or assigned or found[0].keywords:
            return False
        cls = found[0]
        if any(getattr(f, "name", "") in ("__new__", "__class_getitem__") for f in cls.body):
            return False
        return bool(cls.bases) and all(
            self._module_base(b) or self._module_class(str(_last_name(b)), seen | {name})
            for b in cls.bases
        )

    def _module_base(self, base: ast.AST) -> bool:
        """``nn.Module``, ``nn.Sequential``... (or ``object``, ``UNetBase``): spelt so, imported
        as such (:meth:`_dotted`)."""
        dotted = self._dotted(base)
        return bool(dotted) and dotted <= _PLAIN_BASES | _CONTAINERS

    def _kwargs_param(self, node: ast.AST, chain: tuple) -> bool:
        """``**kwargs`` handed on where ``kwargs`` is the function's own, unchanged: its keys
        are the keywords of its calls (read as attributes anyway)."""
        scopes = _functions(chain)
        f = scopes[-1] if len(scopes) > 1 else None
        kwarg = getattr(getattr(f, "args", None), "kwarg", None)
        return (
            isinstance(node, ast.Name)
            and kwarg is not None
            and node.id == kwarg.arg
            and not self._changed(node.id, chain)
        )

    def _changed(self, name: str, chain: tuple, seen: frozenset = frozenset()) -> bool:
        """Whether the container ``name`` (read in ``chain``) may be changed other than by its
        spelt items: changed in place anywhere, or handed on where its binding is seen (a
        function's own ``config`` is not the notebook's, honest round 28) to other than a
        function of the notebook's that only reads it (``DoubleConv(..., config=config)``), or
        through a name bound to what it holds (``cfg = config or DEFAULTS``: honest round 30)
        that gives it items or is so changed."""
        scope, bare = self._key(name, chain)[0], name.lstrip(".")
        if scope in self._own_namespaces:  # (locals()["c"]["k"] = ...: red team 73)
            return True
        if bare in self.changed or scope in self.shared.get(name, ()) or len(seen) > _DEEPEST:
            return True  # (past 12 names deep: unknown, as red team 71's chains of 1,000)
        for scopes, call, slot in self.given_to.get(name, ()):
            if scope in scopes and self._changed_by(call, slot, seen):
                return True
        for alias, assign in self.aliases_of.get(name, ()):
            if alias in seen or alias == name:
                continue
            if alias.lstrip(".") in self.keyed or self._changed(
                alias, self._chain_at(assign), seen | {name, alias}
            ):
                return True
        return False

    def _changed_by(self, call: ast.Call, slot: int | str, seen: frozenset) -> bool:
        """Whether what ``call`` is given at ``slot`` (a position, a keyword) may be changed by
        the function it runs: unless a function of the notebook's whose parameter is not."""
        callees = self._callees(call) if self._read_all else None
        if callees is None:
            return True
        for f, skip, inner in callees:
            params = [*f.args.posonlyargs, *f.args.args]
            if isinstance(slot, int):
                at = skip + slot
                param = params[at].arg if at < len(params) else None
            else:
                past = f.args.args[max(0, skip - len(f.args.posonlyargs)) :]  # (positional-
                named = {p.arg for p in past + f.args.kwonlyargs}  # only: **kwargs' keys)
                param = slot if slot in named else None
            key = (id(f), param)
            if key in seen:  # (a recursive call: read at its first)
                continue
            if param is None or param in self.keyed or self._changed(param, inner, seen | {key}):
                return True
        return False

    def _callees(self, call: ast.Call) -> list[tuple[ast.AST, int, tuple]] | None:
        """The function of the notebook's ``call`` runs (a top-level ``def``, a plain class's
        own ``__init__``), with the parameters it skips and its scopes; None if it may be
        another (a name bound otherwise, imported, by a ``*`` import too, nested, decorated,
        handed on; an ``__init__`` bound otherwise in its class: red team 70)."""
        name = getattr(call.func, "id", None)
        if name is None or {name, "*"} & set(self.imported) or name in self._given_names:
            return None
        defs = [(f, c) for f, c in self.functions if getattr(f, "name", None) == name]
        classes = [c for c in self.classes if c.name == name]
        top = [n for n, _ in defs] + classes
        if len(top) != 1 or not isinstance(self._parents.get(id(top[0])), ast.Module):
            return None
        if classes and not self._plain_class(name, 0):
            return None
        if classes:  # (its own __init__ only, a plain def of its body's, bound once)
            inits = [n for n in ast.walk(classes[0]) if _binds(n, "__init__")]
            plain = len(inits) == 1 and inits[0] in classes[0].body
            defs = [(f, c) for f, c in self.functions if plain and f is inits[0]]
        for f, chain in defs:
            if f.decorator_list:
                return None
            sites = self._call_sites(f) or []
            return [(f, skip, (*chain, f)) for c, _, skip in sites if c is call] or None
        return None

    def _dict_attribute(self, node: ast.Attribute, chain: tuple, seen: frozenset) -> bool:
        """Whether ``self.cfg`` is read by what ``.cfg`` is given: a plain class's attribute
        (not ``_cfg``), no attribute reached otherwise than by its name in the notebook."""
        return (
            not node.attr.startswith("_")
            and not self._the_kits(node, chain)
            and self._by_name_only(node.attr)
            and not self._spread_all
            and self._plain_owner(node.value, chain, seen)
        )

    def _self_class(self, owner: ast.AST, chain: tuple) -> ast.ClassDef | None:
        """The class of the method ``chain`` is in, where ``owner`` is its ``self``."""
        method = _functions(chain)[-1]
        cls = next((c for c in self.classes if method in c.body), None)
        args = getattr(getattr(method, "args", None), "args", [])
        return cls if args and getattr(owner, "id", None) == args[0].arg else None

    def _the_kits(self, node: ast.Attribute, chain: tuple) -> bool:
        """Whether ``node`` may be an attribute UNetBase sets or answers (``config``,
        ``in_channels``...: red team 72, set from its arguments): unless of ``self`` in a
        method of a class not built on it."""
        if node.attr not in _KIT_ATTRIBUTES:
            return False
        if (cls := self._self_class(node.value, chain)) is None:
            return True
        todo, seen = [cls], set()
        while todo:
            c = todo.pop()
            seen.add(c.name)
            for base in c.bases:
                if self._dotted(base) & _UNET_BASE:
                    return True
                todo += [
                    k for k in self.classes if k.name == _last_name(base) and k.name not in seen
                ]
        return False

    def _by_name_only(self, attr: str) -> bool:
        """Whether ``attr`` is reached by its name alone: no string the notebook hands to
        ``getattr`` (but on a module), ``add_module``... may be it (``getattr(net, "module",
        net)`` is not ``.cfg``, nor ``f"down{i}"``: honest round 35), and nothing reaches a
        whole namespace (``vars``, ``__dict__``, ``_modules``)."""
        reached = self._reached_by_name
        return reached is not None and attr not in reached[0] and not attr.startswith(reached[1])

    @functools.cached_property
    def _reached_by_name(self) -> tuple[frozenset[str], tuple[str, ...]] | None:
        """The attribute names strings reach (:meth:`_by_name_only`): spelt ones, and the
        beginnings of those built (``f"down{i}"``); None if any may be."""
        exact, starts = set(), []
        for node in (n for tree in self._trees for n in ast.walk(tree)):
            if isinstance(node, ast.Attribute) and node.attr in _REACHES_ATTRIBUTES:
                return None
            if isinstance(node, ast.Name) and node.id in _REACHES_ATTRIBUTES:
                return None
            at = _BY_NAME.get(_last_name(node.func)) if isinstance(node, ast.Call) else None
            if at is None or (at == 1 and self._on_a_module(node)):
                continue
            name = node.args[at] if len(node.args) > at else None
            start = _spelt_start(name)
            if start is None:
                return None
            if _spelt(name):
                exact.add(start)
            else:
                starts.append(start)
        return frozenset(exact), tuple(starts)

    def _on_a_module(self, call: ast.Call) -> bool:
        """``getattr(nn, ...)``, ``getattr(torch.optim, ...)``: on a module an import binds."""
        on = call.args[0] if call.args else None
        return isinstance(on, (ast.Name, ast.Attribute)) and self._a_modules(ast.Attribute(on, "x"))

    @functools.cached_property
    def _own_namespaces(self) -> frozenset[int]:
        """The functions (by id) whose names a ``locals()`` or ``vars()`` in them, or in a
        function inside them (its free names), hands over as a dict."""
        found = set()
        for f, chain in self.functions:
            inside = [n for n in ast.walk(f) if isinstance(n, ast.Call) and not n.args]
            if any(getattr(n.func, "id", None) in ("locals", "vars") for n in inside):
                found |= {id(f)} | {id(c) for c in chain[1:]}
        return frozenset(found)

    @functools.cached_property
    def _given_names(self) -> frozenset[str]:
        """The names bound by other than a ``def`` or ``class`` (read once all is given)."""
        return frozenset(k[1] for k in self.given)

    def _bind(self, target: ast.AST, value: ast.AST | None, chain: tuple) -> None:
        if isinstance(target, ast.Attribute):  # (`__main__.KIND = ...` is the name KIND too)
            self._add((0, f".{target.attr}"), value, chain)
            self._add((0, target.attr), value, chain)
        elif isinstance(target, ast.Subscript):
            container = _last_name(target.value) or ""
            self._add((0, f"{container}[]"), value, chain)  # (any of its items)
            self.keyed.add(container)  # (its keys, looped over, unknown)
            if _spelt(target.slice):  # CONFIG["act"] = ...: the item, and an attribute
                self._add((0, f"{container}[{target.slice.value}]"), value, chain)
                self._add((0, f".{target.slice.value}"), value, chain)
        elif isinstance(target, ast.Name):
            f = chain[-1] if len(chain) > 1 else None
            declared, nonlocal_ = self.declared.get(id(f), (set(), set()))
            if target.id in nonlocal_:  # an enclosing function's: unknown there and above
                for scope in chain[1:-1]:
                    self._add((id(scope), target.id), None, chain)
                self._add((0, target.id), None, chain)
            scope = 0 if f is None or target.id in declared else id(f)
            self._add((scope, target.id), value, chain)
        else:  # a, b = ...; [x, *rest] = ...
            for name in (n for n in ast.walk(target) if isinstance(n, (ast.Name, ast.Subscript))):
                self._bind(name, None, chain)

    def _call_sites(self, f) -> list[tuple[ast.Call, tuple, int]] | None:
        """The calls of ``f`` (a class's for its ``__init__``, a subclass's without one of its
        own, a subclass's ``super().__init__``), each with its functions and how many parameters
        it does not give (``self``); None if ``f`` is handed on (an alias, ``partial``, ``map``,
        ``__defaults__``), decorated, or a lambda no plain assignment names: its calls are not
        read."""
        if isinstance(f, ast.Lambda):
            name = self.lambda_names.get(id(f))
            return None if name is None or name in self.handed else self._calls_of({name}, 0)
        kinds = {getattr(d, "id", "") for d in f.decorator_list}
        if f.name in self.handed or kinds - _METHOD_KINDS:
            return None
        dunder = f.name.startswith("__") and f.name.endswith("__")
        if (dunder and f.name != "__init__") or (f.name == "__init__" and self.unseen_inits):
            return None  # __call__, __getitem__: called by Python, not by their name
        owner = next((c for c in self.classes if f in c.body), None)
        if owner is None:  # (not a module's function of its name: `subprocess.run`, `np.mean`)
            names = self.names.get(f.name, {f.name})
            return [
                c
                for c in self._calls_of({f.name}, 0)
                if not (_last_name(c[0].func) in names and self._a_modules(c[0].func))
            ]
        if f.name in _RUN_BY_TORCH:  # called through the module's call or Function.apply:
            return None  # with whatever that is given (red team 58: forward's "mean" default)
        if f.name != "__init__" and self._run_by_its_base(owner, f.name, set()):
            return None  # (red team 59: HTMLParser's handle_data, given what feed() read)
        if f.name != "__init__":  # (a method run by Python, `forward` by the module's call,
            # is read by its spelt calls only: the run-time watch sees what it runs; red team
            # 53's needed the watch reached, and honest round 24's methods lost every block)
            classes = {c.name for c in self.classes}
            return [
                (c, chain, _skipped(c, kinds, classes))
                for c, chain, _ in self._calls_of({f.name}, 0)
            ]
        heirs = self._heirs(owner)
        if heirs & self.handed or owner.decorator_list:
            return None
        found = self._calls_of(heirs, 1)
        subclasses = [c for c in self.classes if owner.name in map(_last_name, c.bases)]
        inside = {id(n) for sub in subclasses for n in ast.walk(sub)}
        for c, chain in self.calls.get("__init__", []):
            if id(c) in inside:  # Base.__init__(self, ...): self given
                found.append((c, chain, 0 if _last_name(c.func.value) == owner.name else 1))
        return found

    def _a_modules(self, func: ast.AST) -> bool:
        """Whether ``func`` is ``module.name`` of a module an import binds (honest round 31: the
        set-up cell's ``subprocess.run`` read as a call of the student's ``run``)."""
        root = func.value if isinstance(func, ast.Attribute) else None
        while isinstance(root, ast.Attribute):
            root = root.value
        name = getattr(root, "id", None)
        return name in self.imported and name not in self.rebound

    def _run_by_its_base(self, owner: ast.ClassDef, name: str, seen: set[str]) -> bool:
        """Whether a method ``name`` of ``owner`` may be called by a base class's code, with
        what it is given: any method of a class built on a library's class other than torch's
        modules (HTMLParser's handle_data, Cmd's do_*, an Enum's _missing_: red team 59), or,
        built on a module, one of the names Module's code calls with names (its
        _load_from_state_dict is given the module names as prefix)."""
        module = False
        for base in owner.bases:
            own = [c for c in self.classes if c.name == _last_name(base) and c is not owner]
            if isinstance(base, ast.Name) and len(own) == 1 and own[0].name not in seen:
                if self._run_by_its_base(own[0], name, seen | {owner.name}):
                    return True
                module = True  # (its own bases judged it)
            elif not self._module_base(base):
                return True
            else:
                module |= not self._dotted(base) <= {"builtins.object"}
        return module and name in _CALLED_WITH_NAMES

    def _calls_of(self, names: set[str], skip: int) -> list[tuple[ast.Call, tuple, int]]:
        """The calls of ``names`` and their aliases, and their ``partial(name, ...)``."""
        called = set().union(*(self.names.get(n, {n}) for n in names))
        found = [(c, chain, skip) for n in called for c, chain in self.calls.get(n, [])]
        for name, call in self.partials:
            if name in called:
                given = ast.Call(call.func, call.args[1:], call.keywords)
                found.append((given, self.chain_of.get(id(call), (0,)), 0))
        return found

    def _heirs(self, owner: ast.ClassDef) -> set[str]:
        """``owner``'s name and its subclasses' that have no ``__init__`` of their own."""
        found, todo = {owner.name}, [owner.name]
        while todo:
            base = todo.pop()
            for c in self.classes:
                own_init = any(getattr(f, "name", "") == "__init__" for f in c.body)
                if base in map(_last_name, c.bases) and not own_init and c.name not in found:
                    found.add(c.name)
                    todo.append(c.name)
        return found

    def _parameters(self, f, sites, chain: tuple) -> None:
        """What ``f``'s parameters are given: their defaults, and the arguments of each call
        (``sites``; None: unknown)."""
        args = f.args
        params = args.posonlyargs + args.args
        defaults = [None] * (len(params) - len(args.defaults)) + args.defaults
        pairs = [*zip(params, defaults, strict=True)]
        pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
        for param, default in pairs:
            self.given.setdefault((id(f), param.arg), [])
            if default is not None:
                self._add((id(f), param.arg), default, chain)
            if sites is None:
                self._add((id(f), param.arg), None, chain)
        for rest in filter(None, (args.vararg, args.kwarg)):
            self._add((id(f), rest.arg), None, chain)
        named = [p.arg for p in params + args.kwonlyargs]
        for call, where, skip in sites or []:
            starred = any(isinstance(a, ast.Starred) for a in call.args)
            for param, arg in zip(params[skip:], call.args, strict=False):
                self._add((id(f), param.arg), None if starred else arg, where)
            given = {k.arg for k in call.keywords}
            for param in params[skip + len(call.args) :] if starred else []:
                if param.arg not in given:  # (f(*args, activation="GELU"))
                    self._add((id(f), param.arg), None, where)
            for k in call.keywords:
                if k.arg is not None and (id(f), k.arg) in self.given:
                    self._add((id(f), k.arg), k.value, where)
                elif k.arg is None:  # **kwargs handed on, **OPTIONS
                    for name, given in self._spread(k.value, where, named).items():
                        self.given[(id(f), name)] += given

    def _spread(self, node: ast.AST, chain: tuple, names: list[str]) -> dict:
        """What ``**node`` gives each of ``names``: the keywords of the function's own calls
        (its unchanged ``**kwargs``: read as attributes, ``_Keyword``), a dict literal's items;
        None each where not read."""
        if self._kwargs_param(node, chain):
            return {name: [(_Keyword(name), chain)] for name in names}
        literals = self._dicts(node, chain, frozenset())
        if literals is None:
            return {name: [(None, chain)] for name in names}
        found: dict = {}
        for items, where in literals:
            for name in set(names) & set(items):
                found.setdefault(name, []).append((items[name], where))
        return found

    def _dicts(
        self, node: ast.AST, chain: tuple, seen: frozenset, keyed: bool = False
    ) -> list | None:
        """The items of each dict literal (or ``dict(act=...)``) ``node`` can be, by their spelt
        keys, with their functions; None if it can be another."""
        if isinstance(node, ast.Dict) and all(k is None or _spelt(k) for k in node.keys):
            pairs = list(zip(node.keys, node.values, strict=True))
            found = [({k.value: v for k, v in pairs if k is not None}, chain)]
            for spread in (v for k, v in pairs if k is None):  # {**DEFAULTS, "act": ...}
                more = self._dicts(spread, chain, seen)  # (given keys: unknown)
                if more is None:
                    return None
                found += more
            return found
        if isinstance(node, ast.Subscript) and _spelt(node.slice):  # CFG["model"]: its dicts
            if (getattr(node.value, "id", None), node.slice.value) not in self.nested:
                return None
            found = []
            for items, where in self._dicts(node.value, chain, seen) or [({}, chain)]:
                item = items.get(node.slice.value)
                more = None if item is None else self._dicts(item, where, seen, keyed)
                if more is None:
                    return None
                found += more
            return found
        if isinstance(node, ast.Constant) and node.value is None:  # (None["act"] fails)
            return []
        if either := _either(node):  # `config = config or {...}` (honest round 26)
            found = []
            for e in either:  # (the name read: its other values are those being read)
                looped = isinstance(e, ast.Name) and self._key(e.id, chain) in seen
                more = [] if looped else self._dicts(e, chain, seen, keyed)
                if more is None:
                    return None
                found += more
            return found
        if isinstance(node, ast.Call) and _copied(node):  # CONFIG.copy(): its items (the
            inner = node.func.value  # name read: `CONFIG = CONFIG.copy()`, its other values)
            looped = isinstance(inner, ast.Name) and self._key(inner.id, chain) in seen
            return [] if looped else self._dicts(inner, chain, seen, keyed)
        if isinstance(node, ast.Call) and self._builtin(node.func, "dict", chain):
            if len(node.args) > 1:  # dict(DEFAULTS, **(config or {})): as {**DEFAULTS, ...}
                return None
            found = [({k.arg: k.value for k in node.keywords if k.arg}, chain)]
            for part in [*node.args, *(k.value for k in node.keywords if k.arg is None)]:
                more = self._dicts(part, chain, seen)
                if more is None:
                    return None
                found += more
            return found
        return self._given_dicts(node, chain, seen, keyed)

    def _given_dicts(
        self, node: ast.AST, chain: tuple, seen: frozenset, keyed: bool
    ) -> list | None:
        """:meth:`_dicts` of a name, or of a plain class's attribute (``self.cfg``: honest round
        34), by what it is given."""
        if len(seen) > _DEEPEST:  # (a chain of 1,000 aliases: unknown, not a RecursionError)
            return None
        if isinstance(node, ast.Attribute) and self._dict_attribute(node, chain, seen):
            name, key = node.attr, (0, f".{node.attr}")
        elif isinstance(node, ast.Name):
            name, key = node.id, self._key(node.id, chain)
        else:
            return None
        if self._changed(key[1], chain) or (name in self.keyed and not keyed):
            return None  # (given keys of its own: **CFG unknown)
        if key in seen:  # a cycle (Down's self.cfg handed to DoubleConv's config, kept as its
            return []  # self.cfg: honest round 35): nothing but what the first visit reads
        if not self.given.get(key):
            return None
        stored = self.given.get((0, f"{name}[]"), []) if keyed else []  # (its own items
        found = [(_AnyItem(v), w) for v, w in stored]  # stored, each name's passed through:
        # `cfg = CONFIG`, then `CONFIG["k"] = key`, read "k" as the literal's: red team 72)
        for value, where in self.given[key]:
            more = None if value is None else self._dicts(value, where, seen | {key}, keyed)
            if more is None:
                return None
            found += more
        return found

    def _fields(self, cls: ast.ClassDef) -> None:
        """A class without an ``__init__`` of the notebook's (a dataclass, a NamedTuple): its
        fields given by position, or spread, at a call are unknown (by keyword: attributes)."""
        if any(getattr(f, "name", "") == "__init__" for f in cls.body):
            return
        names = [t.id for stmt in cls.body for t, _ in _binding(stmt) if isinstance(t, ast.Name)]
        fields = [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign)]  # a dataclass's
        for call, chain in self.calls.get(cls.name, []):  # ModelConfig("ReLU", 32): in order
            starred = any(isinstance(a, ast.Starred) for a in call.args)
            unread = any(k.arg is None for k in call.keywords) or (
                call.args and (starred or cls.bases or len(call.args) > len(fields))
            )
            for name in names:
                if unread:
                    self._add((0, f".{name}"), None, chain)
                elif name in fields[: len(call.args)]:
                    self._add((0, f".{name}"), call.args[fields.index(name)], chain)

    def values(self, node: ast.AST, chain: tuple) -> set[str] | None:
        """The strings ``node`` (in the functions ``chain``) can hold, if each way it is given
        one is spelt, or None (as None past :data:`_MAX_STEPS` readings: red team 52's names
        built from names built 20 times each, 12 deep, kept the class's grading for ever)."""
        self._steps = 0
        return self._values(node, chain, frozenset())

    def _values(self, node: ast.AST, chain: tuple, seen: frozenset) -> set[str] | None:
        key = (node, chain, seen)  # (the node itself, kept alive: a node made for a reading
        # and freed, its id taken by the next one, read as that one: the review's)
        if key in self._memo:
            return self._memo[key]
        self._steps += 1
        if len(seen) > _DEEPEST or self._steps > _MAX_STEPS:
            return None
        found = self._read_values(node, chain, seen)
        if self._steps <= _MAX_STEPS:  # (not an answer cut short)
            self._memo[key] = found
        return found

    def _read_values(self, node: ast.AST, chain: tuple, seen: frozenset) -> set[str] | None:
        if isinstance(node, ast.Constant):  # (None, a number: no attribute's name, but a
            # number is a part of one built: "cross_entropy%.0s" % 0, red team 52; "Conv%dd" %
            # NDIM, honest round 24: formatted as Python does, anything else unknown)
            if isinstance(node.value, str) or (_BUILT in seen and _number(node.value)):
                return {node.value}
            return set() if _BUILT not in seen else None
        if parts := _either(node):  # either side
            return _union(self._values(n, chain, seen) for n in parts)
        if isinstance(node, (ast.JoinedStr, ast.BinOp)):  # f"{norm}Norm2d", "Batch" + "Norm2d"
            return self._joined(node, chain, seen)
        if isinstance(node, ast.FormattedValue):
            plain = node.conversion in (-1, ord("s")) and node.format_spec is None
            held = self._values(node.value, chain, seen | {_BUILT}) if plain else None
            return None if held is None else {str(v) for v in held}  # f"Conv{dim}d"
        if isinstance(node, _Keyword):
            return self._keyword(node.name, seen)
        if isinstance(node, ast.Call):
            return self._called(node, chain, seen)
        if isinstance(node, ast.Starred):  # (a loop's variable: the items of what it loops on)
            return self._items(node.value, chain, seen)
        if isinstance(node, ast.Subscript):
            return self._item(node, chain, seen)
        if isinstance(node, ast.Attribute) and (members := self._members(node)) is not None:
            return members  # Activation.RELU, Activation.RELU.value, Activation(act).value
        if isinstance(node, ast.Attribute):  # self.act, cfg.act: a class of the notebook's
            key = (0, f".{node.attr}")
            if self._spread_all or not self._plain_owner(node.value, chain, seen):
                return None
            if self._the_kits(node, chain):
                return None
        elif isinstance(node, ast.Name):
            key = self._key(node.id, chain)
        else:
            return None
        return self._given(key, seen)

    def _key(self, name: str, chain: tuple) -> tuple[int, str]:
        """Where ``name``, read in the functions ``chain``, is bound: the innermost of them that
        binds it, else the notebook's top level."""
        scopes = [  # (a class's names are seen in its body only, not by its methods)
            id(f)
            for i, f in enumerate(reversed(chain[1:]))
            if i == 0 or not isinstance(f, ast.ClassDef)
        ]
        return next(((s, name) for s in scopes if (s, name) in self.given), (0, name))

    def _plain_owner(self, owner: ast.AST, chain: tuple, seen: frozenset) -> bool:
        """Whether the attributes of ``owner`` are all the notebook sets: ``self`` in a method of
        a class of the notebook's on ``nn.Module`` (not ``nn.L1Loss``, whose ``__init__`` sets
        ``reduction`` from its arguments), or a name bound only to such a class's instances or
        a ``SimpleNamespace``."""
        if len(seen) > _DEEPEST:  # (red team 71's chains of 1,000: not a RecursionError)
            return False
        if isinstance(owner, ast.Attribute):  # CFG.model: each value given .model is plain
            key = (0, f".{owner.attr}")
            return (
                key not in seen
                and bool(self.given.get(key))
                and self._plain_owner(owner.value, chain, seen)
                and all(self._plain_value(v, w, seen | {key}) for v, w in self.given[key])
            )
        if not isinstance(owner, ast.Name):
            return False
        if cls := self._self_class(owner, chain):
            return self._plain_class(cls.name, 0)
        key = self._key(owner.id, chain)
        if owner.id in {c.name for c in self.classes} and not self.given.get(key):
            return self._plain_class(owner.id, 0)  # Config.activation (honest round 24)
        if key in seen or not self.given.get(key):
            return False
        # cfg=MODEL_CFG, MODEL_CFG = ModelConfig()
        return all(self._plain_value(v, w, seen | {key}) for v, w in self.given[key])

    def _plain_value(self, value: ast.AST | None, where: tuple, seen: frozenset) -> bool:
        """Whether ``value`` is None, a plain class's instance, a namespace, or a plain owner's
        (``field(default_factory=ModelConfig)``: an instance of it)."""
        if value is None:
            return False
        if parts := _either(value):  # cfg = cfg or Cfg() (honest round 29): the other side's
            return all(
                self._plain_value(p, where, seen)
                for p in parts
                if not (isinstance(p, ast.Name) and self._key(p.id, where) in seen)
            )
        called = _last_name(value.func) if isinstance(value, ast.Call) else None
        called = None if called and self._shadowed_in(called, where) else called
        if called == "field" and isinstance(value, ast.Call) and not value.args:
            factory = [k.value for k in value.keywords if k.arg == "default_factory"]
            called = _last_name(factory[0]) if len(value.keywords) == 1 and factory else None
        plain = called in _NAMESPACES or self._plain_class(called, 0)
        plain |= isinstance(value, ast.Constant) and value.value is None
        return plain or self._plain_owner(value, where, seen)

    def _members(self, node: ast.Attribute) -> set[str] | None:
        """The strings of an Enum of the notebook's: ``E.M`` (a ``str`` one), ``E.M.value``,
        ``E(x).value`` (any member's); None if ``node`` is none of these."""
        owner, member = node.value, node.attr
        if member == "value" and isinstance(owner, ast.Call):
            members = self._enum(_last_name(owner.func) if isinstance(owner.func, ast.Name) else "")
            return None if members is None else {v for v in members.values()}
        if member == "value" and isinstance(owner, ast.Attribute):
            owner, member = owner.value, owner.attr
        elif member == "value" or not self._enum(getattr(owner, "id", ""), str_too=True):
            return None
        members = self._enum(getattr(owner, "id", ""))
        return None if members is None or member not in members else {members[member]}

    def _enum(self, name: str | None, str_too: bool = False) -> dict[str, str] | None:
        """The members of ``class NAME(Enum)`` (``str_too``: on ``str`` as well), its body only
        ``MEMBER = "string"``, its name and members bound by nothing else; or None."""
        found = [c for c in self.classes if c.name == name]
        if len(found) != 1 or self.given.get((0, name)) or self.rebound & _ENUM_PARTS:
            return None
        cls, members = found[0], {}
        bases = set().union(*(self._dotted(b) for b in cls.bases))
        if not bases & _ENUMS or not bases <= _ENUMS | {"builtins.str"} or cls.keywords:
            return None
        if str_too and "builtins.str" not in bases and "enum.StrEnum" not in bases:
            return None
        for stmt in cls.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # (its docstring)
            if not (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                return None
            members[stmt.targets[0].id] = stmt.value.value
        return None if cls.decorator_list else members

    def _plain_class(self, name: str | None, depth: int) -> bool:
        found = [c for c in self.classes if c.name == name]
        return (
            bool(found)
            and not self._bound_otherwise(name)
            and depth < 8
            and not self.rebound & _REBASED
            and all(self._plain_body(c) for c in found)
            and all(
                self._plain_base(base) or self._plain_class(_last_name(base), depth + 1)
                for c in found
                for base in c.bases
            )
        )

    def _bound_otherwise(self, name: str | None) -> bool:
        """Whether a class's ``name`` is also bound by other than its ``class`` statements (red
        team 67: ``_Box = _Other`` after ``class _Box``, read as the plain class): an assignment,
        a loop, an import, a ``def`` in any scope."""
        size = len(self.given) + len(self.functions)  # (read again as more is given)
        if getattr(self, "_bound_at", None) != size:
            defs = {f.name for f, _ in self.functions if not isinstance(f, ast.Lambda)}
            self._bound_at, self._bound_names = size, defs | {k[1] for k in self.given}
        return name in self.imported or name in self._bound_names

    def _plain_body(self, cls: ast.ClassDef) -> bool:
        """Whether reading ``cls``'s attributes from what it is given holds: no metaclass, no
        decorator but dataclasses', no way of its own to answer an attribute (red team 66: a
        property named as its class attribute, a ``__getattribute__``)."""
        chain = (0, cls)
        defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        nested = [n for n in _class_level(cls) if isinstance(n, defs) and n not in cls.body]
        if (
            nested  # (a method or property made in an `if` of the class body: red team 73)
            or id(cls) in self.namespace_written
            or cls.keywords
            or not all(self._dataclass(d, chain) for d in cls.decorator_list)
        ):
            return False
        for f in cls.body:  # (a decorated method answers its own name: an attribute read?)
            kinds = [getattr(d, "id", None) for d in getattr(f, "decorator_list", [])]
            read = (0, f".{getattr(f, 'name', '')}") in self.given
            if getattr(f, "name", "") in _ANSWERS_ATTRIBUTES or (
                read and set(kinds) - _METHOD_KINDS
            ):
                return False
        return True

    def _dataclass(self, decorator: ast.AST, chain: tuple) -> bool:
        """Whether ``decorator`` is dataclasses' ``dataclass`` (called or not)."""
        func = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(func, ast.Attribute):
            return self._dotted(func) == {"dataclasses.dataclass"}
        return self._builtin(func, "dataclass", chain) and self.imported.get("dataclass") == {
            "dataclasses.dataclass"
        }

    def _called(self, node: ast.Call, chain: tuple, seen: frozenset) -> set[str] | None:
        """``act.lower()``, ``"{}Norm2d".format(norm)``, ``"".join([norm, "Norm2d"])``,
        ``CONFIG.get("act", "ReLU")``, ``kwargs.pop("act", "ReLU")``, ``field(default="ReLU")``."""
        func, args, built = node.func, node.args, seen | {_BUILT}
        method = func.attr if isinstance(func, ast.Attribute) else None
        if method in _STRING_METHODS and not args:
            held = self._values(func.value, chain, built)
            if held is None or not all(isinstance(s, str) for s in held):
                return None
            return {getattr(s, method)() for s in held}
        spelt_list = len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple))
        if (method == "format" or (method == "join" and spelt_list)) and not node.keywords:
            parts = [func.value, *(args if method == "format" else args[0].elts)]
            held = [self._values(p, chain, built) for p in parts]
            if not all(held) or _count(held) > _MAX_VALUES:  # (a part no string: unknown)
                return None
            if method == "join":
                try:
                    return {combo[0].join(combo[1:]) for combo in itertools.product(*held)}
                except TypeError:  # (a number joined: Python's error too)
                    return None
            return _formatted(held)
        if method in ("get", "pop") and args and len(args) <= 2:
            default = self._values(args[1], chain, seen) if len(args) == 2 else set()
            if self._kwargs_param(func.value, chain) and _spelt(args[0]):
                found = self._keyword(args[0].value, seen)
            else:
                found = self._item(ast.Subscript(func.value, args[0], ast.Load()), chain, seen)
            return _union([found, default])
        if self._builtin(func, "str", chain) and len(args) == 1 and not node.keywords:
            return self._values(args[0], chain, seen)
        if self._builtin(func, "getattr", chain) and len(args) in (2, 3) and not node.keywords:
            return self._looked_up(args, chain, seen)
        if self._builtin(func, "field", chain):  # a dataclass's field(default=...)
            given = [k.value for k in node.keywords if k.arg == "default"]
            return (
                self._values(given[0], chain, seen) if given and len(node.keywords) == 1 else None
            )
        return None

    def _looked_up(self, args: list, chain: tuple, seen: frozenset) -> set[str] | None:
        """The strings ``getattr(nn, name[, default])`` can give: none but its default's where
        ``nn`` is one of torch's or NumPy's modules and no ``name`` is one of its strings (honest
        round 29: ``activation = getattr(nn, activation)`` made ``activation`` unknown)."""
        paths = self._dotted(args[0])
        if len(paths) != 1 or not paths <= _LOOKED_UP_IN:
            return None
        names = self._values(args[1], chain, seen)
        module = importlib.import_module(next(iter(paths)))
        if names is None or any(isinstance(getattr(module, n, None), str) for n in names):
            return None  # (torch.__version__, nn.__name__: strings)
        return self._values(args[2], chain, seen) if len(args) == 3 else set()

    def _keyword(self, name: str, seen: frozenset) -> set[str] | None:
        """What the keyword ``name`` of any call gives (nothing if none does), unless a call
        spreads a mapping no reading follows."""
        key = (0, f".{name}")
        return (
            None if self._spread_all else self._given(key, seen) if self.given.get(key) else set()
        )

    def _given(self, key: tuple[int, str], seen: frozenset) -> set[str] | None:
        if key in seen:  # a cycle: nothing more, unless a string was built on the way
            return None if _BUILT in seen else set()
        if not self.given.get(key):
            return None
        return _union(
            None if value is None else self._values(value, where, seen | {key})
            for value, where in self.given[key]
        )

    def _joined(self, node: ast.AST, chain: tuple, seen: frozenset) -> set[str] | None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # "%sNorm2d" % norm
            right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            held = [self._values(p, chain, seen | {_BUILT}) for p in [node.left, *right]]
            if not all(held) or _count(held) > _MAX_VALUES:  # (a part no string: unknown)
                return None
            try:
                return {combo[0] % tuple(combo[1:]) for combo in itertools.product(*held)}
            except (TypeError, ValueError, KeyError):
                return None
        if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Add):
            return None
        parts = node.values if isinstance(node, ast.JoinedStr) else [node.left, node.right]
        held = [self._values(p, chain, seen | {_BUILT}) for p in parts]
        if not all(held) or _count(held) > _MAX_VALUES:  # (a part no string: unknown)
            return None
        if not all(isinstance(v, str) for h in held for v in h):  # ("a" + 2: Python's error)
            return None
        return {"".join(p) for p in itertools.product(*held)}

    def _items(
        self, node: ast.AST, chain: tuple, seen: frozenset, sequences_only: bool = False
    ) -> set[str] | None:
        """The strings a loop over ``node`` can give: a literal list's, tuple's, set's, a dict
        literal's keys, or those of a name bound only to such and never changed in place."""
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return None
            return _union(self._values(e, chain, seen) for e in node.elts) if node.elts else set()
        if either := _either(node):  # either's items (honest round 26)
            return _union(self._items(e, chain, seen, sequences_only) for e in either)
        if isinstance(node, ast.Dict) and not sequences_only:
            return _union(self._values(k, chain, seen) if k else None for k in node.keys)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and not sequences_only
        ):
            if node.func.attr == "split" and len(node.args) <= 1:  # "ReLU ELU".split()
                held = self._values(node.func.value, chain, seen | {_BUILT})
                sep = [self._values(a, chain, seen) for a in node.args]
                if held is None or None in sep or any(len(x) != 1 for x in sep):
                    return None
                if not all(isinstance(h, str) for h in [*held, *(next(iter(x)) for x in sep)]):
                    return None
                return {part for h in held for part in h.split(*[next(iter(x)) for x in sep])}
            if node.func.attr in ("keys", "values") and not node.args:  # a dict's
                dicts = self._dicts(node.func.value, chain, seen)
                if dicts is None:
                    return None
                pick = (
                    (lambda d: [ast.Constant(k) for k in d])
                    if node.func.attr == "keys"
                    else dict.values
                )
                return _union(self._values(v, w, seen) for d, w in dicts for v in pick(d))
            return None
        if not isinstance(node, ast.Name) or node.id in self.keyed or self._changed(node.id, chain):
            return None
        key = self._key(node.id, chain)
        if key in seen or not self.given.get(key) or len(seen) > _DEEPEST:
            return None
        return _union(
            None if value is None else self._items(value, where, seen | {key}, sequences_only)
            for value, where in self.given[key]
        )

    def _item(self, node: ast.Subscript, chain: tuple, seen: frozenset) -> set[str] | None:
        """``CONFIG["act"]`` (``TABLE[name]``: any item), ``ACTIVATIONS[0]``: the items of each
        dict literal (or list, tuple) the container can be, and of each ``CONFIG[...] = ...``;
        unknown if it is changed otherwise."""
        container, spelt = node.value, _spelt(node.slice)
        dicts = self._dicts(container, chain, seen, keyed=True)
        if dicts is None:  # a list's or tuple's item: any of them
            return self._items(container, chain, seen, sequences_only=True)
        found: list[set[str] | None] = []
        for items, where in dicts:
            picked = [items.get(node.slice.value)] if spelt else list(items.values())
            found += [self._values(item, where, seen) for item in picked if item is not None]
        if isinstance(container, (ast.Name, ast.Attribute)):  # (any item stored, `[]`: red
            stored = (0, f"{_last_name(container)}[]")  # team 63's `held[kk] = key` read "k"
            # as the literal's "sum" alone)
            found += [self._given(stored, seen)] if self.given.get(stored) else []
        return _union(found)


def _super_or_class(func: ast.AST, held: HeldStrings) -> bool:
    """``super().__init__`` or ``Base.__init__``: read as a subclass's call of its base's."""
    on = getattr(func, "value", None)
    called = isinstance(on, ast.Call) and getattr(on.func, "id", "") == "super"
    return called or (isinstance(on, ast.Name) and on.id in {c.name for c in held.classes})


def _functions(chain: tuple) -> tuple:
    """``chain`` without its comprehensions (where ``:=`` binds)."""
    while len(chain) > 1 and isinstance(chain[-1], _COMPREHENSIONS):
        chain = chain[:-1]
    return chain


def _shared(trees: list[ast.Module], parents: dict, shadowed: Callable) -> tuple[dict, dict, dict]:
    """Names read other than to read their items (``opts = OPTIONS``, ``f(OPTIONS)``,
    ``dict.update(OPTIONS, ...)``, ``OPTIONS.update(...)``): a container changed through
    another name, or by a function, is unknown (``parents``: each node's, by id): by name, with
    the scopes around each such read (0, the notebook's top level, around all); and the names
    bound to what a name holds (``cfg = DEFAULTS``, ``cfg = config or DEFAULTS``), by name, with
    the assignment binding each."""
    names = [
        node
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load)
    ]  # fmt: skip  (an attribute by its name: ".cfg")
    found: dict[str, set[int]] = {}
    aliases: dict[str, set[tuple[str, ast.AST]]] = {}
    given_to: dict[str, list[tuple[set[int], ast.Call, int | str]]] = {}
    for name in names:
        key = name.id if isinstance(name, ast.Name) else f".{name.attr}"
        node, parent = name, parents.get(id(name))
        while isinstance(parent, ast.BoolOp) or (
            isinstance(parent, ast.IfExp) and parent.test is not node
        ):  # (what `a or b`, `a if c else b` gives is one of them: red team 63, `spot = held
            node, parent = parent, parents.get(id(parent))  # or {}` then `spot["k"] = key`)
        if _only_read(node, parent, parents, shadowed):
            continue
        one = isinstance(parent, ast.Assign) and len(parent.targets) == 1
        target = _alias_target(parent.targets[0]) if one else None
        if target == key and node is not name:
            continue  # config = config or {...}: the same name's items
        if target is not None:  # cfg = config or DEFAULTS: DEFAULTS changed where cfg is
            aliases.setdefault(key, set()).add((target, parent))
            continue
        scopes, at = {0}, parent
        while at is not None:
            if isinstance(at, _SCOPES):
                scopes.add(id(at))
            at = parents.get(id(at))
        if slot := _argument(node, parent, parents):  # f(config): as f's parameter is
            given_to.setdefault(key, []).append((scopes, *slot))
        else:
            found.setdefault(key, set()).update(scopes)
    return found, aliases, given_to


def _alias_target(target: ast.AST) -> str | None:
    """The name an assignment binds to what it is given: ``cfg``, or ``.cfg`` for
    ``self.cfg = ...`` (not an attribute of ``_`` or ``__``: ``b.__dict__ = held`` makes
    ``b``'s attributes its items, torch's ``_modules`` are written by torch)."""
    if isinstance(target, ast.Name):
        return target.id
    attr = getattr(target, "attr", "_")
    return None if attr.startswith("_") else f".{attr}"


def _copied(call: ast.Call) -> bool:
    """``x.copy()`` (a dict's copy, where ``x`` is read as dict literals: honest round 34)."""
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "copy" and not call.args + call.keywords


def _class_level(cls: ast.ClassDef) -> list[ast.AST]:
    """The nodes of ``cls``'s body run as the class is made (in ``if``, ``try``, ``with``,
    ``match`` blocks too: red team 73's ``if True: cfg = {...}``), not its functions' nor its
    nested classes' bodies."""
    found, todo = [], list(cls.body)
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, (*_SCOPES, ast.ClassDef)):
            todo += ast.iter_child_nodes(node)
    return found


def _spelt_start(node: ast.AST | None) -> str | None:
    """A spelt string, or the spelt beginning of one built (``f"down{i}"``, ``"down" + s``);
    None if it may begin otherwise."""
    if _spelt(node):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and _spelt(node.values[0]):
        return node.values[0].value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _spelt(node.left):
        return node.left.value
    return None


def _binds(node: ast.AST, name: str) -> bool:
    """Whether ``node`` binds ``name`` (a ``def``, an assignment, a loop, an import...)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    targets = [t for target, _ in _binding(node) for t in ast.walk(target)]
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _argument(node: ast.AST, parent: ast.AST, parents: dict) -> tuple[ast.Call, int | str] | None:
    """The call of a name ``node`` is handed to, and where (a position, a keyword)."""
    if isinstance(parent, ast.keyword) and parent.arg is not None:
        call = parents.get(id(parent))
        return (call, parent.arg) if isinstance(getattr(call, "func", None), ast.Name) else None
    if not (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)):
        return None
    at = next((i for i, a in enumerate(parent.args) if a is node), None)
    starred = any(isinstance(a, ast.Starred) for a in parent.args)
    return None if at is None or starred else (parent, at)


def _only_read(node: ast.AST, parent: ast.AST | None, parents: dict, shadowed: Callable) -> bool:
    """Whether ``node`` is read for its items, shown, tested or called, not handed on."""
    if isinstance(parent, ast.Subscript) and parent.value is node:  # OPTIONS["act"]; a store
        # through `(held or None)["k"] = ...` is no name's (red team 73)
        return isinstance(node, (ast.Name, ast.Attribute)) or isinstance(parent.ctx, ast.Load)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is node:
        return True
    if isinstance(parent, ast.comprehension) and node in parent.ifs:
        return True
    if isinstance(parent, (ast.If, ast.While, ast.Assert, ast.IfExp)) and parent.test is node:
        return True
    if isinstance(parent, ast.Attribute) and parent.attr in _READERS:  # called, not held:
        return getattr(parents.get(id(parent)), "func", None) is parent  # (held.get.__self__)
    if isinstance(parent, ast.Attribute) and _keyed_update(parents.get(id(parent))):
        return True  # (read as its items given)
    if isinstance(parent, ast.Dict) and any(
        k is None and v is node for k, v in zip(parent.keys, parent.values, strict=True)
    ):
        return True  # {**DEFAULTS, "lr": 3e-4}: a copy of its items
    if isinstance(parent, ast.keyword) and parent.arg is None:
        return True  # f(**options): read
    callee = getattr(parent.func, "id", "") if isinstance(parent, ast.Call) else None
    known = callee is not None and not shadowed(callee, parent)  # (the builtin, where it is)
    if known and callee in _KEEPS_NOTHING:
        return True
    if _json_text(node, parent, shadowed):
        return True
    if known and callee in {"min", "max", "sum"} and parent.args == [node]:
        return True  # (one iterable: an item, not itself; honest round 30's `min(ACTS)`)
    if known and callee == "isinstance" and parent.args[:1] == [node]:
        return _builtin_classes(parent.args[1:], shadowed)  # (a metaclass's __instancecheck__
        # of the student's is given what it checks: red team 65)
    if isinstance(parent, ast.Compare):  # (`held == _K(key)`: _K's reflected __eq__ is given it)
        return _compared_only(node, parent)
    if isinstance(parent, (ast.UnaryOp, ast.Expr, ast.FormattedValue)):
        return True
    return isinstance(parent, ast.Call) and parent.func is node


def _json_text(node: ast.AST, parent: ast.AST | None, shadowed: Callable) -> bool:
    """Whether ``parent`` is ``json.dumps(node)`` or ``json.dump(node, file)``, its keywords
    literals (``indent=2``; a ``cls=`` or ``default=`` of the student's is handed things)."""
    func = getattr(parent, "func", None)
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("dumps", "dump")
        and getattr(func.value, "id", None) == "json"
        and not shadowed("json", parent)
        and parent.args[:1] == [node]
        and all(_literal(k.value) for k in parent.keywords)
    )


def _builtin_classes(args: list[ast.AST], shadowed: Callable) -> bool:
    """Whether ``isinstance``'s classes are builtins' (``dict``, ``(list, tuple)``)."""
    names = [e for a in args for e in (a.elts if isinstance(a, ast.Tuple) else [a])]
    found = [getattr(n, "id", None) for n in names]
    return bool(names) and all(
        f in _BUILTIN_CLASSES and not shadowed(f, n) for f, n in zip(found, names, strict=True)
    )


def _compared_only(node: ast.AST, compare: ast.Compare) -> bool:
    """Whether ``compare`` hands ``node`` to nothing of the student's: compared by identity,
    with literals (``CONFIG == {"act": "ReLU"}``: dict's own ``__eq__``), or asked whether it
    holds something (``act in ACTIVATIONS``: its own ``__contains__``; honest round 30)."""
    operands = [compare.left, *compare.comparators]
    at = next(i for i, n in enumerate(operands) if n is node)
    if at > 0 and isinstance(compare.ops[at - 1], (ast.In, ast.NotIn)) and len(operands) == 2:
        return True
    if all(isinstance(op, (ast.Is, ast.IsNot)) for op in compare.ops):
        return True
    return all(_literal(n) for n in operands if n is not node)


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _read_nested_only(trees: list[ast.Module], parents: dict, shadowed: Callable) -> set[tuple]:
    """``(name, key)`` of each item a name's nested dicts are read by (``CFG["model"]["act"]``)
    where every use of the name reads an item's item, reads a spelt item other than these, or
    shows it (``print(CFG)``): none of its inner dicts is then handed anywhere to be changed."""
    uses: dict[str, bool] = {}
    nested, flat = set(), set()
    for name in (n for t in trees for n in ast.walk(t) if isinstance(n, ast.Name)):
        parent = parents.get(id(name))
        ok = isinstance(name.ctx, ast.Load) and (
            (isinstance(parent, ast.Call) and _shown(parent, shadowed))
            or isinstance(parent, (ast.Compare, ast.FormattedValue, ast.Expr))
        )
        if isinstance(parent, ast.Subscript) and parent.value is name:
            key = parent.slice.value if _spelt(parent.slice) else None
            outer = parents.get(id(parent))
            inner = isinstance(outer, ast.Subscript) and outer.value is parent
            ok = isinstance(parent.ctx, ast.Load) and key is not None
            ok &= not inner or isinstance(outer.ctx, ast.Load)
            (nested if inner else flat).add((name.id, key))
        if isinstance(name.ctx, ast.Store) and isinstance(parent, ast.Assign):
            ok = parent.targets == [name]  # its one binding (read by _dicts)
        uses[name.id] = uses.get(name.id, True) and ok
    return {(n, key) for n, key in nested - flat if uses[n]}


_SHOWN = {"print", "len", "str", "repr"}


def _shown(call: ast.Call, shadowed: Callable) -> bool:
    """Whether ``call`` only shows what it is given (the builtins of :data:`_SHOWN`)."""
    name = getattr(call.func, "id", "")
    return name in _SHOWN and not shadowed(name, call)


def _keyed_update(call: ast.AST | None) -> bool:
    """``CONFIG.update(act="ReLU")`` or ``CONFIG.update({"act": "ReLU"})``: spelt keys."""
    func = getattr(call, "func", None)
    if not (isinstance(func, ast.Attribute) and func.attr == "update"):
        return False
    if not isinstance(func.value, ast.Name) or len(call.args) > 1:
        return False
    literal = not call.args or isinstance(call.args[0], ast.Dict)
    return literal and all(isinstance(key, str) for key, _ in _updates(call))


def _updates(call: ast.Call) -> list[tuple[str | None, ast.AST]]:
    """The keys and values an ``update`` call gives (None: a key not spelt, ``**``)."""
    pairs = [(k.arg, k.value) for k in call.keywords]
    for d in call.args:
        pairs += [
            (k.value if _spelt(k) else None, v) for k, v in zip(d.keys, d.values, strict=True)
        ]
    return pairs


class _AnyItem(dict):
    """What ``CONFIG[k] = value`` stores, as a dict: ``value`` under any key (unknown: None)."""

    def __init__(self, value: ast.AST | None):
        super().__init__()
        self.value = value if value is not None else ast.Name(" unknown")

    def get(self, key, default=None):
        return self.value

    def values(self):
        return [self.value]


class _Keyword(ast.expr):
    """What the keyword ``name`` of any call gives (a ``**kwargs`` handed on holds them)."""

    _fields = ("name",)


def _union(parts) -> set[str] | None:
    found: set[str] = set()
    for held in parts:
        if held is None or len(found | held) > _MAX_VALUES:
            return None
        found |= held
    return found


def _formatted(held: list[set[str]]) -> set[str] | None:
    """``template.format(*parts)`` for each choice, or None if one fails."""
    try:
        return {combo[0].format(*combo[1:]) for combo in itertools.product(*held)}
    except (IndexError, KeyError, ValueError, AttributeError, TypeError):
        return None


def _count(held: list[set[str]]) -> int:
    total = 1
    for h in held:
        total *= max(len(h), 1)
    return total


def _spelt(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _skipped(call: ast.Call, kinds: set[str], classes: set[str]) -> int:
    """How many of a method's parameters a call does not give: ``self`` (or ``cls``), unless
    the method is static, or called on its class by name (``Block.make(self, ...)``)."""
    if "staticmethod" in kinds:
        return 0
    on_class = isinstance(call.func, ast.Attribute) and _last_name(call.func.value) in classes
    return 0 if on_class and "classmethod" not in kinds else 1


def _number(value: object) -> bool:
    """An int or a float (not a bool): what formatting reads as a number."""
    return type(value) in (int, float)


def _parents(trees: list[ast.Module]) -> dict[int, ast.AST]:
    """Each node's parent, by the node's id."""
    return {id(c): n for t in trees for n in ast.walk(t) for c in ast.iter_child_nodes(n)}


_NAMESPACE_READERS = {"get", "keys", "values", "items", "copy"}
_COPIES = {"dict", "list", "tuple", "sorted", "set"}  # (what a namespace given gives new)


def _namespace_read(node: ast.AST, parent: ast.AST) -> bool:
    """Whether the namespace ``node`` is only read where ``parent`` uses it (see
    :meth:`HeldStrings._note_namespaces`)."""
    if isinstance(parent, ast.Subscript):
        return parent.value is node and isinstance(parent.ctx, ast.Load)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
        return parent.iter is node
    if isinstance(parent, ast.keyword):
        return parent.arg is None  # f(**vars(cfg)): a copy
    if isinstance(parent, ast.Dict):
        return any(k is None and v is node for k, v in zip(parent.keys, parent.values, strict=True))
    return isinstance(parent, ast.FormattedValue)


def _namespace(node: ast.AST) -> bool:
    """Whether ``node`` is an object's namespace: ``x.__dict__``, ``vars(x)``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "__dict__"
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") == "vars"


def _as_expected(name: str, paths: set[str]) -> bool:
    """Whether an import binds ``name`` to what the reading knows by that name."""
    kit = name in _KIT_CALLERS and all(p.startswith("unet_tp.") for p in paths)
    return kit or paths == {_EXPECTED.get(name)}


def _aliased(node: ast.AST) -> set[str]:
    """The names bound to one object under another name at once, their items then unknown (red
    team 62: ``held = spot = {"k": "sum"}``, ``spot["k"] = key`` changed ``held``; ``(opts :=
    {...}).__setitem__(...)`` was never read as ``opts``)."""
    if isinstance(node, ast.Assign) and len(node.targets) > 1:  # (self.cfg = spot = {...})
        named = (_last_name(n) for t in node.targets for n in ast.walk(t))
        return {n for n in named if n}
    if isinstance(node, ast.NamedExpr):
        return {node.target.id}
    if isinstance(node, ast.AugAssign):  # (`spot |= {...}` changes in place what spot = held
        return {_last_name(node.target) or ""}  # holds; `self.cfg |= {...}` too)
    return set()


def _last_name(node: ast.AST) -> str | None:
    """``f`` of ``f``, ``m.f`` and ``self.f``."""
    return getattr(node, "id", getattr(node, "attr", None))


_PARTIALS = {"partial", "partialmethod"}  # functools': their arguments are a call's
# every name the reading knows by its spelling (see HeldStrings._shadowed_in)
_SPELT = _PURE | _SHOWN | _READ_ONLY | _NAMES_A_CLASS | _PARTIALS | _SETTERS | _NAMESPACES
_SPELT |= _KIT_CALLERS | {"dict", "str", "getattr", "field", "json", "pprint"} | _BUILTIN_CLASSES


def _spelt_name(name: str) -> bool:
    return name in _SPELT or name.startswith("check_")


_FORWARDING = {"key", "args", "kwargs"}  # keywords of a call that calls what it is handed with
# its items or arguments (sorted(key=), Thread(target=, args=))
_ITS_OWN = {"__name__", "__qualname__", "__doc__", "__module__"}  # what a function tells of itself


def _either(node: ast.AST) -> list[ast.AST]:
    """What ``a if c else b`` or ``a or b`` (``and``) can be: its operands (none otherwise)."""
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    return list(node.values) if isinstance(node, ast.BoolOp) else []


def _named_lambdas(trees: list[ast.Module], parents: dict) -> dict[int, str]:
    """The lambdas a module's or a function's plain assignment names (``act = lambda name="ReLU":
    ...``), by node: called by that name, as a function is (not a class body's: a method)."""
    named = {}
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Lambda):
                continue
            plain = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            if plain and not isinstance(parents.get(id(node)), ast.ClassDef):
                named[id(node.value)] = node.targets[0].id
    return named


def _handed(
    trees: list[ast.Module], own: set[str], parents: dict, shadowed: Callable
) -> tuple[set, dict, list, list]:
    """How the notebook's functions and classes (``own``: their names) are read other than by a
    call: the names handed where what they are given is not read (in a list, returned, to a
    function of the notebook's, with arguments after them ``map(make, names)``, to ``sorted(
    key=)``, their ``__defaults__`` read); the other names each is bound to (``build = make``:
    its calls are ``make``'s); and ``partial(make, ...)`` calls (a call of ``make``). A library's
    check given the function alone (``checks.check_loss(categorical_cross_entropy)``), or by a
    keyword (``loss_fn=partial(...)``), is not handing it its values; and the aliases in a
    class's body, by class (its base may call them)."""
    unknown: set[str] = set()
    aliases: dict[str, set[str]] = {}
    partials: list[tuple[str, ast.Call]] = []
    in_classes: list[tuple[str, ast.ClassDef, str]] = []
    for tree in trees:
        for node in ast.walk(tree):
            name = _last_name(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
            if name not in own or not isinstance(node.ctx, ast.Load):
                continue
            how = _how_handed(node, parents.get(id(node)), own, parents, shadowed)
            if how in ("alias", "class alias"):
                assign = parents[id(node)]
                targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
                aliases.setdefault(name, set()).update(_last_name(t) or "" for t in targets)
                if how == "class alias":
                    cls = parents[id(assign)]
                    in_classes += [(name, cls, _last_name(t) or "") for t in targets]
            elif how in ("partial", "named partial"):  # (Block = partial(DoubleConv, act=...))
                partials.append((name, parents[id(node)]))
                if how == "named partial":
                    assign = parents[id(parents[id(node)])]
                    aliases.setdefault(name, set()).update(map(_last_name, assign.targets))
            elif how == "unknown":
                unknown.add(name)
    return unknown, aliases, partials, in_classes


def _how_handed(
    node: ast.AST, parent: ast.AST | None, own: set[str], parents: dict, shadowed: Callable
) -> str:
    """``"call"``, ``"plain"`` (a base, a type, ``isinstance``, a library's check), ``"alias"``,
    ``"partial"`` or ``"unknown"``: how a name of the notebook's function or class is read."""
    if isinstance(parent, ast.Call) and parent.func is node:
        return "call"
    if isinstance(parent, ast.ClassDef) and node in parent.bases:
        return "plain"
    if isinstance(parent, (ast.arg, ast.AnnAssign)) or (
        isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and parent.returns is node
    ):
        return "plain"  # an annotation
    if isinstance(parent, ast.Attribute):
        return "plain" if parent.attr in _ITS_OWN else "unknown"
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and parent.value is node:
        if isinstance(parents.get(id(parent)), ast.ClassDef):  # a method's other name: its
            return "class alias"  # base may call it (red team 59: handle_data = _fetch)
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        plain = all(isinstance(t, (ast.Name, ast.Attribute)) for t in targets)
        return "alias" if plain else "unknown"
    keyword = parent if isinstance(parent, ast.keyword) else None
    call = parents.get(id(parent)) if keyword else parent
    if not isinstance(call, ast.Call):
        return "unknown"  # in a list, a dict, returned, in a lambda...
    callee = _last_name(call.func)
    if callee in own or (callee and shadowed(callee, call)):  # (`print = ...`: red team 64)
        return "unknown"
    if callee in _NAMES_A_CLASS:
        return "plain"
    if callee in _PARTIALS and call.args and call.args[0] is node:
        how = _how_handed(call, parents.get(id(call)), own, parents, shadowed)
        named = how == "alias" and len(call.args) == 1 and isinstance(parents[id(call)], ast.Assign)
        return "partial" if how == "plain" else "named partial" if named else "unknown"
    if callee in own or any(k.arg in _FORWARDING for k in call.keywords):
        return "unknown"
    after = (
        keyword is None and call.args.index(node) < len(call.args) - 1
        if node in call.args
        else False
    )
    # handed alone to the kit's checks or training (by a keyword too), or to what reads it
    # without calling it with values of the notebook's; any other library's call may hand it
    # on (red team 57: np.vectorize(fetch) was then called with names the reading never saw)
    checks = str(callee).startswith("check_") or callee in _KIT_CALLERS
    reads = checks or (keyword is None and callee in _READ_ONLY)
    return "unknown" if after or not reads else "plain"


def _pairs(target: ast.AST, value: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """``a, b = x, y``: each name with its value."""
    plain = isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
    if (
        plain
        and len(target.elts) == len(value.elts)
        and not any(isinstance(e, ast.Starred) for e in target.elts + value.elts)
    ):
        return [pair for t, v in zip(target.elts, value.elts, strict=True) for pair in _pairs(t, v)]
    return [(target, value)]


def _looped(target: ast.AST, iterable: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """A loop's names, each with what it is given (``*iterable``: its items): ``for name in
    NAMES``, ``for i, name in enumerate(NAMES)``, ``for name, bn in zip(NAMES, ...)``,
    ``for key, name in TABLE.items()``."""
    if isinstance(target, ast.Name):  # for name in ("SGD", "Adam")
        return [(target, ast.Starred(iterable, ast.Load()))]
    names = target.elts if isinstance(target, ast.Tuple) else []
    called = _last_name(iterable.func) if isinstance(iterable, ast.Call) else None
    args = iterable.args if isinstance(iterable, ast.Call) else []
    if called == "enumerate" and len(names) == 2 and len(args) == 1:
        return [(names[0], None), *_looped(names[1], args[0])]
    if called == "zip" and len(names) == len(args) and not iterable.keywords:
        return [pair for t, a in zip(names, args, strict=True) for pair in _looped(t, a)]
    if called == "items" and len(names) == 2 and not args:
        on = iterable.func.value
        keys, values = (
            ast.Call(ast.Attribute(on, m, ast.Load()), [], []) for m in ("keys", "values")
        )
        return [*_looped(names[0], keys), *_looped(names[1], values)]
    return [(target, None)]


def _binding(node: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """What a statement or expression binds, each target with what it is given (None: unread;
    a loop's variable: ``*iterable``, its items)."""
    if isinstance(node, ast.Assign):  # (act, kw = "ReLU", {}: each its own)
        pairs = [_pairs(target, node.value) for target in node.targets]
        return [pair for found in pairs for pair in found]
    if isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
        return [(node.target, node.value)]
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return _looped(node.target, node.iter)
    if isinstance(node, ast.AugAssign):
        return [(node.target, None)]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [(node.optional_vars, None)]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(ast.Name((a.asname or a.name).split(".")[0]), None) for a in node.names]
    if isinstance(node, ast.ExceptHandler) and node.name:
        return [(ast.Name(node.name), None)]
    if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:  # case {"loss": kind}
        return [(ast.Name(node.name), None)]
    if isinstance(node, ast.MatchMapping) and node.rest:
        return [(ast.Name(node.rest), None)]
    if isinstance(node, ast.Call) and _last_name(node.func) in _SETTERS and node.args:
        # setattr(self, "act", act), object.__setattr__(self, "act", act), self.__setattr__(...)
        if len(node.args) != 3 and not isinstance(node.func, ast.Attribute):
            return []  # (setattr(obj, *pair): unread, its values unknown: red team 73's crash)
        on, *rest = node.args if len(node.args) == 3 else [node.func.value, *node.args]
        if len(rest) == 2 and _spelt(rest[0]):
            return [(ast.Attribute(on, rest[0].value, ast.Store()), rest[1])]
    return []
