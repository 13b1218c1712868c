"""Stage 5, transform: write the forward and backward functions of a normalised function.

From ``def f(x): ...`` in A-normal form this pass writes two functions::

    def f_forward(x):            # the user's code, plus what the backward needs
        ...
        return y, (x, ...)       # the output and the saved values

    def f_backward(saved, dy):   # the chain rule, statement by statement, in reverse
        (x, ...) = saved
        # Grad of line 3: ...
        dx = ...
        return (dx,)

How it works, in the order the pass runs:

1. *Classify* each statement: a derivative rule to inline, a function to
   differentiate through at run time (``pullback``), a structural read
   (``a.b``, ``a[i]``, a tuple), a copy, or something without a gradient.
   Softmax, log-softmax and log-sum-exp, written over several statements,
   get one operation with their closed-form gradient (``idioms.py``).
2. *Activity*: a value is active when it depends on a parameter or on a
   global or captured value that can hold arrays; only active values get
   adjoints (integer loop counters, ``len``, comparisons never do).
3. *Backward*, statements in reverse. The compiler knows statically, at
   every point, whether each adjoint is unset, ``None``, set, or maybe
   ``None``; it writes ``dx = ...`` for a first contribution,
   ``dx = dx + ...`` for later ones, ``accum`` where ``None`` may meet a
   value, and ``if dz is not None:`` only where that is unknown. ``None``
   is the only zero: no zero-filled arrays.
4. *Loops and branches*: a variable overwritten inside a loop has its old
   value pushed on a tape (``<var>_tape = push(<var>_tape, <var>)``) in the
   forward and popped in the backward (``runtime/tape.py``: tapes are values
   with rules of their own, so generated code differentiates again);
   straight-line code needs no tape because the
   normaliser gave every redefinition its own name. An ``if`` is replayed
   from its saved test; a ``while`` loop counts its iterations.
5. *Forward*: the user's statements, with calls to differentiable user
   functions replaced by ``pullback(f, ...)`` where their gradient is
   needed, and the values the backward reads returned as ``saved``.
"""

from __future__ import annotations

import copy
import functools
import keyword
import operator
import re
import types

import gast
import numpy as np

from ..errors import NoRuleError, UnsupportedSyntaxError
from ..rules import numpy as numpy_rules
from ..rules import registry
from ..runtime import structure, tape
from ..runtime.accumulate import accum, unbroadcast
from ..runtime.located import callable_name
from . import build, idioms, provided
from .inline import bind_arguments, substitute, template_of
from .resolve import MISSING, is_constant_value, is_user_module

__all__ = ["Transformed", "transform"]

UNSET, NONE, SET, MAYBE = "unset", "none", "set", "maybe"

#: NumPy functions that make a new float or integer array from shapes and numbers.
_ARRAY_MAKERS = frozenset(getattr(np, name) for name in (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "eye", "identity",
    "arange", "linspace"))

_BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
    gast.Mod: operator.mod, gast.FloorDiv: operator.floordiv,
    gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
    gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
_UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_, gast.Invert: operator.invert}

#: Runtime helpers generated code may call, by the name it calls them (with the calling layer's,
#: :data:`PROVIDED`, which :func:`runtime_helper` reads from :mod:`.provided` when asked for).
RUNTIME = {
    "as_sequence": structure.as_sequence,
    "callee_grad": structure.callee_grad,
    "repeats_grad": structure.repeats_grad,
    "own_copy": structure.own_copy,
    "accum": accum,
    "unbroadcast": unbroadcast,
    "index_grad": structure.index_grad,
    "index_add": structure.index_add,
    "captured": structure.captured,
    "gather": structure.gather,
    "item": structure.item,
    "with_item": structure.with_item,
    "without_item": structure.without_item,
    "appended": structure.appended,
    "extended": structure.extended,
    "new_tape": tape.new_tape,
    "push": tape.push,
    "pop": tape.pop,
    "np_sort": np.sort,  # y.sort() on an array, as aliasing.py writes it: y[...] = np.sort(y)
    "viewed": structure.viewed,
    "check_unshared": structure.check_unshared,
    "is_array": structure.is_array,
    "refuse_array_method": structure.refuse_array_method,
    "expect_numeric": structure.expect_numeric,
    "expect_dict": structure.expect_dict,
    "expect_field": structure.expect_field,
    "property_getter": structure.property_getter,
    "refuse_unless_number": structure.refuse_unless_number,
    "refuse_container_method": structure.refuse_container_method,
    "check_callee_writes": structure.check_callee_writes,
}
#: The helpers generated code calls from the calling layer, read at compile time (see provided.py).
PROVIDED = ("pullback", "pullback_wrt", "mutate")


def runtime_helper(name: str):
    """The runtime helper generated code calls ``name``."""
    return getattr(provided, name) if name in PROVIDED else RUNTIME[name]


#: The runtime helpers that only ask a question about values (aliasing.py's): they pass no gradient.
_RUNTIME_QUESTIONS = {"viewed", "check_unshared", "is_array", "refuse_array_method", "refuse_unless_number",
                      "refuse_container_method", "check_callee_writes", "expect_numeric", "expect_dict",
                      "expect_field", "property_getter"}


class Transformed:
    """What :func:`transform` writes: the two functions and what calling them needs.

    - ``injected``: name -> object, the helpers generated code reads;
    - ``params``: the function's parameters, in order;
    - ``has_self_grad``: the backward returns the gradient of the function's free variables first;
    - ``takes_closure``: the forward takes the closure itself as its first argument;
    - ``depends_on``: callables whose rule (or lack of one) this code was compiled against;
    - ``tapes``: the tapes this transform added (generated code being differentiated again has its own).

    (A plain class: a dataclass costs a millisecond to build at import, and the compiler loads with srcgrad.)
    """

    def __init__(self, forward, backward, injected, params, has_self_grad, takes_closure, depends_on, tapes=None):
        self.forward: gast.FunctionDef = forward
        self.backward: gast.FunctionDef = backward
        self.injected: dict = injected
        self.params: list = params
        self.has_self_grad: bool = has_self_grad
        self.takes_closure: bool = takes_closure
        self.depends_on: list = depends_on
        self.tapes: set = set() if tapes is None else tapes


class _Op:
    """What one normalised statement computes, for the backward pass."""

    def __init__(self, kind, operands=None, rule=None, bindings=None, callee=None, callee_target=None,
                 keywords=None, positions=None, index=None, attr=None, numeric=False, reads=None):
        self.kind: str = kind  # copy, rule, rulecall, dynamic, attr, index, display, unpack, inactive,
        # or an idiom's: logsumexp, logsoftmax, softmax
        self.operands: list = [] if operands is None else operands  # atoms that may receive gradient
        self.rule = rule
        self.bindings: dict | None = bindings
        self.callee = callee  # dynamic: the callee expression; rule methods: receiver
        self.callee_target: str | None = callee_target  # the name receiving the callee's gradient
        self.keywords: dict | None = keywords
        #: Keywords that fill a positional parameter of a rule's primal: keyword -> position.
        self.positions: dict | None = positions
        self.index = index
        self.attr: str | None = attr
        self.numeric: bool = numeric  # the result is certainly a number or an array
        #: An idiom's operation (see idioms.py): the forward's names its gradient reads.
        self.reads: tuple | None = reads


def transform(parsed, scope, namer, fdef, wants=None, kinds=None) -> Transformed:
    """The forward and backward of ``fdef``.

    ``wants`` narrows which gradients the backward computes: one flag for
    the function's free variables and globals, then one per parameter
    (``None``: all of them). Nothing else changes, so a narrowed backward
    returns the same values for what it computes. ``kinds`` gives each
    parameter's ``ndim`` when the call passed a number or an array (else
    ``None``): a loop over numbers then needs no ``unbroadcast``.
    """
    return _Reverse(parsed, scope, namer, fdef, wants, kinds).run()


def _targets(stmt) -> list[str]:
    if isinstance(stmt, gast.FunctionDef):
        return [stmt.name]
    if isinstance(stmt, gast.Assign):
        t = stmt.targets[0]
        if isinstance(t, gast.Name):
            return [t.id]
        if isinstance(t, gast.Attribute):
            return []  # obj.a = v changes obj, it does not rebind a name
        return [e.id for e in t.elts]
    if isinstance(stmt, gast.For):
        return [stmt.target.id]
    return []


def _walk_stmts(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if inner and isinstance(s, (gast.If, gast.For, gast.While)):
                yield from _walk_stmts(inner)


class _Reverse:
    #: Whether patterns with a closed-form gradient get it (see idioms.py).
    fuses_idioms = True

    def __init__(self, parsed, scope, namer, fdef, wants=None, kinds=None):
        self.parsed = parsed
        self.wants = wants
        self.kinds = kinds
        self.scalars: set[str] = set()
        self.param_ndim: dict[str, int] = {}
        self.index_only: set[str] = set()
        self.scope = scope
        self.namer = namer
        self.fdef = fdef
        self.ops: dict[int, _Op] = {}
        self.active: set[str] = set()
        self.numeric: set[str] = set()
        self.shape: dict[str, object] = {}
        self.stmt_shape: dict[int, object] = {}
        self.cotangent_maybe_none = False
        self.tape_names: dict[str, str] = {}
        #: Names known to hold a tuple or list (displays, tuple(...), list(...), joins of those).
        self.sequences: set[str] = set()
        #: Names holding the (value, rest) pair a tape's pop returns.
        self.pairs: set[str] = set()
        #: ``np.r_[0:3, a]`` statements (a slice among the items) and the names they read.
        self.index_tricks: list = []
        self.injected: dict[str, object] = {}
        self.inject_names: dict[int, str] = {}
        self.depends_on: list = []
        self.pullback_stmts: set[int] = set()
        self.back_names: dict[int, str] = {}
        self.in_loop: set[int] = set()  # statements inside some loop
        self.taped: set[str] = set()
        self.order: dict[int, int] = {}
        self.comments: dict[int, str] = {}
        self.counters: dict[int, str] = {}
        self._first_use: dict[str, int] | None = None
        self._stmt_names: dict[int, tuple] = {}

    # ------------------------------------------------------------ helpers
    def inject(self, name: str, value) -> str:
        """Make ``value`` visible to generated code under ``name`` (renamed on a clash)."""
        if not name.isidentifier() or keyword.iskeyword(name):  # a rule written as a lambda: '<lambda>'
            name = re.sub(r"\W+", "_", name).strip("_") + "_fn"
        if self.inject_names.get(id(value)) is not None and self.injected.get(self.inject_names[id(value)]) is value:
            return self.inject_names[id(value)]
        candidate = name
        user_value = self.scope.value(name) if self.scope.kind(name) in ("free", "global", "builtin") else MISSING
        clash = (candidate in self.scope.locals) or (candidate in self.scope.freevars) \
            or (user_value is not MISSING and user_value is not value) \
            or (candidate in self.injected and self.injected[candidate] is not value) \
            or (candidate in self.namer.taken and candidate not in self.injected and user_value is not value)
        if clash:
            candidate = self.namer.fresh(name + "_")
        self.namer.taken.add(candidate)
        self.injected[candidate] = value
        self.inject_names[id(value)] = candidate
        return candidate

    def inject_cells(self):
        """Generated code's captured helpers reach its adjoint the same way, by name.

        (Read through a closure argument instead, they would be local variables
        one order up, where ``np.sum(x)`` no longer reads as NumPy's ``sum``.)
        """
        for name in self.scope.freevars:
            value = self.scope.value(name)
            self.injected[name] = value
            self.inject_names.setdefault(id(value), name)
            self.namer.taken.add(name)

    def runtime(self, name: str) -> gast.Name:
        return build.name(self.inject(name, runtime_helper(name)))

    def is_active_atom(self, atom) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.active

    def error_no_rule(self, stmt, what, target=MISSING):
        """Refuse the call ``what`` (as written) of ``target`` (the object it names, when known)."""
        held = callable_name(target) if target is not MISSING else what
        called = what if held == what else f"{what} (which is {held})"  # (fun, a variable holding np.cosh)
        what = held
        raise NoRuleError(
            f"no derivative rule for {called}, and it has no Python source to differentiate",
            filename=self.parsed.filename,
            lineno=getattr(stmt, "_srcgrad_line", None),
            fix=f"register one: @srcgrad.defrule({what})\n"
            f"     def {_short(what)}_rule(dy, y, *args): return (<gradient for each argument>,)\n"
            f"     or mark it constant with srcgrad.nograd({what}) if it passes no gradient",
        )

    def error_keywords_at_higher_order(self, stmt):
        """(srcgrad.higher.pullback, the dispatcher's stand-in, takes no ``**kwargs``.)"""
        raise UnsupportedSyntaxError(
            "a keyword argument in a call to a function srcgrad differentiates through is not supported "
            "in a second or higher derivative yet",
            filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
            fix="pass the arguments of that call by position: g(x, 2.0) rather than g(x, k=2.0)")

    # ------------------------------------------------------------ classify
    def classify(self, stmt) -> _Op:
        if isinstance(stmt, gast.FunctionDef) or isinstance(getattr(stmt, "value", None), gast.Lambda):
            return self.closure_op(stmt if isinstance(stmt, gast.FunctionDef) else stmt.value)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Attribute):
            return _Op("setattr", operands=[stmt.value], attr=stmt.targets[0].attr, callee=stmt.targets[0].value)
        if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0], gast.Name):
            return _Op("unpack", operands=[stmt.value])
        value = stmt.value
        if isinstance(value, gast.Name):
            return _Op("copy", operands=[value])
        if isinstance(value, gast.Constant) or isinstance(value, gast.JoinedStr):
            return _Op("inactive")
        if isinstance(value, gast.Attribute):
            if self.scope.is_static_path(value):
                return _Op("inactive")
            rule = registry.attribute_rules.get(value.attr)
            if rule is not None:
                return self.rule_op(stmt, rule, [value.value], {})
            if value.attr in registry.nondiff_attributes:
                return _Op("inactive")
            if value.attr in registry.method_rules:
                # total = a.sum: a bound method's gradient is its object's.
                return _Op("copy", operands=[value.value])
            return _Op("attr", operands=[value.value], attr=value.attr)
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and any(
                isinstance(a, gast.Name) and a.id in self.sequences for a in (value.left, value.right)):
            # (None,) + rest joins sequences: each side's gradient is its slice of the result's
            self.sequences.add(stmt.targets[0].id)
            return _Op("concat", operands=[value.left, value.right])
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult) and any(
                isinstance(a, gast.Name) and a.id in self.sequences for a in (value.left, value.right)):
            # [x] * 3 repeats a sequence: each element's gradient adds up over its copies
            self.sequences.add(stmt.targets[0].id)
            return _Op("repeat", operands=[value.left, value.right])
        if isinstance(value, gast.BinOp):
            fn = _BINOPS[type(value.op)]
            return self.function_op(stmt, fn, [value.left, value.right], {}, what=f"operator.{fn.__name__}")
        if isinstance(value, gast.UnaryOp):
            fn = _UNARYOPS[type(value.op)]
            return self.function_op(stmt, fn, [value.operand], {}, what=f"operator.{fn.__name__}")
        if isinstance(value, gast.Compare):
            return _Op("inactive")
        if isinstance(value, gast.Subscript) and self.scope.is_static_path(value.value) \
                and isinstance(self.scope.resolve(value.value), numpy_rules.INDEX_TRICKS):
            return self.index_trick_op(stmt, value)
        if isinstance(value, gast.Subscript):
            return _Op("index", operands=[value.value], index=value.slice)
        if isinstance(value, (gast.Tuple, gast.List)):
            self.sequences.add(stmt.targets[0].id)
            return _Op("display", operands=list(value.elts))
        if isinstance(value, gast.Dict):
            return _Op("display", operands=list(value.values), index=list(value.keys))
        if isinstance(value, gast.Call):
            return self.classify_call(stmt, value)
        return _Op("inactive")

    def check_module_reads(self, outer):
        """Refuse ``config.W`` (a differentiable value of the user's module) where globals get gradients.

        Generated code reads such a path as a constant, so with implicit
        parameters (``params(config.W)``) its gradient would be a silent zero.
        Where globals are constants (``gradient(f, x)``) it is one too, rightly.
        """
        if "global" not in outer:
            return
        for node in build.walk(self.fdef):
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) \
                    and self.scope.is_static_path(node) and provided.carries_gradient(self.scope.resolve(node)):
                root = node
                while isinstance(root, gast.Attribute):
                    root = root.value
                if is_user_module(self.scope.resolve(root)):
                    module = _dotted(node.value)
                    raise UnsupportedSyntaxError(
                        f"a gradient for {_dotted(node)}, a value read through the module {module}: srcgrad "
                        "gives gradients to the function's own globals and captured variables, not to a "
                        "module's attributes",
                        filename=self.parsed.filename, lineno=getattr(node, "lineno", None),
                        fix=f"import the value by name (from {module} import {node.attr}) and use {node.attr}, "
                        "or pass it to the function as an argument")

    def index_trick_op(self, stmt, value) -> _Op:
        """``np.r_[a, b]``, ``np.c_[a, b]``: a call of ``index_trick(np.r_, a, b)``, which has a rule.

        A slice among the items (``np.r_[0:3, a]``) cannot be an argument:
        such a statement stays constant, and is refused if a gradient would
        have to flow through it (see :meth:`check_index_tricks`).
        """
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if any(isinstance(item, gast.Slice) for item in items):
            self.index_tricks.append((stmt, [n for n in build.walk(value.slice) if isinstance(n, gast.Name)]))
            return _Op("inactive")
        helper = self.inject("index_trick", numpy_rules.index_trick)
        stmt.value = gast.Call(func=build.name(helper), args=[value.value] + list(items), keywords=[])
        return self.rule_op(stmt, registry.lookup(numpy_rules.index_trick), [value.value] + list(items), {})

    def check_index_tricks(self):
        """Refuse ``np.r_[0:3, a]`` where ``a`` carries a gradient: the slice keeps it from being a call."""
        for stmt, names in self.index_tricks:
            if any(self.is_active_atom(n) for n in names):
                raise NoRuleError(
                    "srcgrad differentiates np.r_[...] and np.c_[...] only when every item is a value: "
                    "a slice (start:stop) among them is not supported",
                    filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                    fix="write the slice as np.arange(start, stop) (np.r_[np.arange(3), a]), "
                    "or use np.concatenate")

    def is_method_of(self, receiver: str, attr: str) -> bool:
        """Whether ``receiver.attr`` is a method (its gradient is the receiver's), not a field.

        ``self`` in a method of a class the compiler can find is decided now;
        anything else is decided at run time by ``callee_grad``.
        """
        if receiver != (self.scope.params[0] if self.scope.params else None):
            return False
        parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
        cls = self.scope.fn.__globals__.get(parts[0]) if len(parts) == 2 else None
        return isinstance(cls, type) and callable(getattr(cls, attr, None)) and attr not in getattr(cls, "__dict__", {}) \
            or (isinstance(cls, type) and isinstance(cls.__dict__.get(attr), (types.FunctionType, staticmethod,
                                                                               classmethod)))

    def check_defaults(self, fn):
        """A nested function's default values are not captured: one holding a gradient would lose it."""
        defaults = list(fn.args.defaults) + [d for d in fn.args.kw_defaults if d is not None]
        for default in defaults:
            if any(self.is_active_atom(n) for n in build.walk(default) if isinstance(n, gast.Name)):
                raise UnsupportedSyntaxError(
                    "a default value holding a differentiable value in a nested function (lambda t, c=c: ...)",
                    filename=self.parsed.filename, lineno=getattr(fn, "lineno", None),
                    fix="use the variable directly, the nested function captures it (lambda t: t * c); "
                    "defaults that are counters or constants (k=k in a loop over range) are fine")

    def closure_op(self, fn) -> _Op:
        """A function made here captures locals; its gradient (a dict by name) flows back to them."""
        from .anf import _bound_names

        body = fn.body if isinstance(fn, gast.Lambda) else gast.Module(body=fn.body, type_ignores=[])
        bound = _bound_names(fn)
        captured = sorted({n.id for n in build.walk(body) if isinstance(n, gast.Name)
                           and isinstance(n.ctx, gast.Load) and n.id not in bound and n.id in self.scope.locals})
        return _Op("closure", operands=[build.name(c) for c in captured], callee=fn)

    def lookup_rule(self, target):
        """The rule for a call to ``target`` (forward mode knows a few more)."""
        return registry.lookup(target)

    def classify_call(self, stmt, call) -> _Op:
        import builtins

        args = list(call.args)
        if self.scope.resolve(call.func) in (builtins.tuple, builtins.list) and isinstance(stmt, gast.Assign) \
                and isinstance(stmt.targets[0], gast.Name):
            self.sequences.add(stmt.targets[0].id)
        helper = getattr(call.func, "_srcgrad_runtime", None)
        if helper is not None:  # with_item, appended, mutate...: written by the normaliser
            call.func.id = self.inject(helper, runtime_helper(helper))
            if helper in _RUNTIME_QUESTIONS:
                return _Op("inactive")
            if helper == "mutate":
                return _Op("dynamic", operands=args, callee=call.func, callee_target=None,
                           keywords={k.arg: k.value for k in call.keywords})
            return self.rule_op(stmt, registry.lookup(runtime_helper(helper)), args, {})
        if sum(isinstance(a, gast.Starred) for a in args) > 1 or any(k.arg is None for k in call.keywords):
            raise UnsupportedSyntaxError(
                "a call with more than one '*' argument, or with '**' keyword arguments",
                filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                fix="build one tuple of positional arguments (f(*(a + b))) and pass keywords by name")
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        starred = any(isinstance(a, gast.Starred) for a in args) or any(k.arg is None for k in call.keywords)
        func = call.func
        if self.scope.is_static_path(func):
            target = self.scope.resolve(func)
            if target in (provided.pullback, provided.pullback_wrt) and keywords:
                self.error_keywords_at_higher_order(stmt)
            if target is not MISSING and not starred:
                rule = self.lookup_rule(target)
                if rule is not None:
                    self.depends_on.append(target)
                    if target is tape.pop and isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                        self.pairs.add(stmt.targets[0].id)
                    return self.rule_op(stmt, rule, args, keywords)
                called = _partial_func(target)  # functools.partial(np.sum, axis=0): np.sum is what runs
                if registry.is_nondiff(called) or called in _ALWAYS_CONSTANT:
                    self.depends_on.append(target)
                    return _Op("inactive")
                if not _has_source(called) and (called is target or self.lookup_rule(called) is None):
                    self.depends_on.append(target)
                    self.error_no_rule(stmt, _dotted(func), called)
            callee_target = func.id if isinstance(func, gast.Name) else None
            if target is not MISSING and is_constant_value(target) and not isinstance(target, type):
                callee_target = None
            if isinstance(target, type):
                callee_target = None
            return _Op("dynamic", operands=args, callee=func, callee_target=callee_target, keywords=keywords)
        if isinstance(func, gast.Attribute):
            receiver = func.value
            rule = registry.method_rules.get(func.attr)
            if rule is not None and not starred:
                return self.rule_op(stmt, rule, [receiver] + args, keywords)
            if func.attr in registry.nondiff_methods:
                return _Op("inactive")
            return _Op("dynamic", operands=args, callee=func,
                        callee_target=receiver.id if isinstance(receiver, gast.Name) else None, keywords=keywords)
        return _Op("dynamic", operands=args, callee=func,
                   callee_target=func.id if isinstance(func, gast.Name) else None, keywords=keywords)

    def function_op(self, stmt, fn, args, keywords, what):
        rule = registry.lookup(fn)
        if rule is not None:
            return self.rule_op(stmt, rule, args, keywords)
        if registry.is_nondiff(fn):
            return _Op("inactive")
        self.error_no_rule(stmt, what)

    def rule_op(self, stmt, rule, args, keywords) -> _Op:
        if isinstance(getattr(stmt, "value", None), gast.Call):
            stmt.value._srcgrad_pure = True  # a call with a rule computes, it does nothing else
        template = template_of(rule)
        # np.clip(x, a_max=b): b is the rule's third argument, under the rule's own name for it.
        positions = {}
        if keywords:  # (reading a signature can cost milliseconds: a builtin's is parsed from text)
            positions = registry.keyword_positions(rule, len(args), tuple(keywords))
            keywords = {registry.rule_keyword(rule, k, positions[k]) if k in positions else k: v
                        for k, v in keywords.items()}
            positions = {registry.rule_keyword(rule, k, p): p for k, p in positions.items()}
        bindings = bind_arguments(template, args, keywords)
        if bindings is None or template.outputs is None or MISSING in bindings.values():
            return _Op("rulecall", operands=args, rule=rule, keywords=keywords, positions=positions,
                       numeric=not rule.structured)
        return _Op("rule", operands=args, rule=rule, bindings=bindings, keywords=keywords, positions=positions,
                   numeric=not rule.structured)

    def slots(self, op) -> list:
        """A rule's arguments by position: ``(position, atom)``, positional ones and keywords that fill one."""
        return list(enumerate(op.operands)) + [(p, op.keywords[k]) for k, p in (op.positions or {}).items()]

    def check_keywords(self, stmt, op):
        """A keyword carrying a gradient that the rule does not give is refused, never taken as a constant."""
        for k, value in op.keywords.items():
            if k in op.positions or k in registry.nondiff_keywords or not self.is_active_atom(value):
                continue
            call = getattr(stmt, "value", None)
            what = _dotted(call.func) if isinstance(call, gast.Call) else op.rule.name
            raise NoRuleError(
                f"the gradient of keyword argument {k}= of {what} is unknown: its derivative rule gives one "
                "gradient per positional argument, and this keyword does not fill a positional parameter",
                filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                fix=f"pass {value.id} positionally if {what} takes it by position; if it carries no gradient, "
                f"pass srcgrad.stop_gradient({value.id})")

    # ------------------------------------------------------------ analysis
    def analyse(self):
        body = self.fdef.body
        # Temporaries are locals too (one may share a name with a global the user never reads).
        self.scope.locals |= {t for s in _walk_stmts(body) for t in _targets(s)}
        for position, stmt in enumerate(_walk_stmts(body)):
            self.order[id(stmt)] = position
            if isinstance(stmt, (gast.Assign, gast.FunctionDef)):
                self.ops[id(stmt)] = self.classify(stmt)
            elif isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
                helper = getattr(stmt.value.func, "_srcgrad_runtime", None)
                if helper in _RUNTIME_QUESTIONS:  # a check aliasing.py asks for its effect: raising
                    stmt.value.func.id = self.inject(helper, runtime_helper(helper))
        if self.fuses_idioms:  # patterns with a gradient of their own: their last statement's operation
            self.ops.update(idioms.fused_ops(body, self.scope.params, self.ops, _fused_op))
        self.mark_loops(body, None, set(self.scope.params))
        for stmt in _walk_stmts(body):
            if isinstance(stmt, gast.While):
                self.counters[id(stmt)] = self.namer.fresh("steps")
        if self.scope.generated:
            self.inject_cells()
        # Activity: parameters, and non-constant values reached from outside (those wanted).
        self.active = set(self.scope.params)
        outer = ("free",) if getattr(self, "globals_are_constants", False) else ("free", "global")
        if self.scope.generated:
            outer = tuple(kind for kind in outer if kind != "free")
        if self.wants is not None:
            self.active = {p for p, wanted in zip(self.scope.params, self.wants[1:]) if wanted}
            outer = outer if self.wants[0] else ()
        for node in build.walk(self.fdef):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                if self.scope.kind(node.id) in outer and not is_constant_value(self.scope.value(node.id)):
                    self.active.add(node.id)
        self.check_module_reads(outer)
        changed = True
        while changed:
            changed = False
            for stmt in _walk_stmts(body):
                op = self.ops.get(id(stmt))
                if op is None or op.kind == "inactive":
                    continue
                sources = [a for a in op.operands if self.is_active_atom(_unstar(a))]
                if op.kind == "dynamic" and op.callee_target and op.callee_target in self.active:
                    sources.append(op.callee_target)
                if op.kind == "dynamic" and isinstance(op.callee, gast.Attribute) and self.is_active_atom(op.callee.value):
                    sources.append(op.callee.value)
                if op.kind == "dynamic" and any(self.is_active_atom(v) for v in op.keywords.values()):
                    sources.append(True)
                if op.kind in ("rule", "rulecall") and any(self.is_active_atom(v) for v in op.keywords.values()):
                    sources.append(True)
                if op.kind == "setattr" and sources and op.callee.id not in self.active:
                    self.active.add(op.callee.id)
                    changed = True
                if sources:
                    for t in _targets(stmt):
                        if t not in self.active:
                            self.active.add(t)
                            changed = True
        self.check_index_tricks()
        for stmt in _walk_stmts(body):
            op = self.ops.get(id(stmt))
            if op is not None and op.kind == "closure":
                self.check_defaults(op.callee)
            if op is not None and op.kind in ("rule", "rulecall") and op.keywords:
                self.check_keywords(stmt, op)
        # Numeric results: every assignment to the name is a rule's result.
        assigned: dict[str, list] = {}
        for stmt in _walk_stmts(body):
            for t in _targets(stmt):
                assigned.setdefault(t, []).append(stmt)
        # y[i] = v (with_item) keeps y an array if it was one (np.zeros(n), say): assume so, then drop
        # what fails, until nothing does.
        def keeps(stmt, names):
            op = self.ops.get(id(stmt))
            if op is not None and op.kind == "inactive":
                value = getattr(stmt, "value", None)
                return isinstance(value, gast.Call) and self.scope.resolve(value.func) in _ARRAY_MAKERS
            return op is not None and (op.numeric or (
                op.kind in ("rule", "rulecall") and op.rule.primal is structure.with_item
                and isinstance(op.operands[0], gast.Name) and op.operands[0].id in names))

        numeric = {t for t in assigned if t not in self.scope.params}
        while True:
            failing = {t for t in numeric if not all(keeps(s, numeric) for s in assigned[t])}
            if not failing:
                break
            numeric -= failing
        self.numeric |= numeric
        self.infer_shapes(body, assigned)
        # Gradients made only of index reads are added into in place (see structure.index_add).
        others = set()
        for stmt in _walk_stmts(body):
            op = self.ops.get(id(stmt))
            if op is None or op.kind == "inactive":
                continue
            atoms = list(op.operands[1:] if op.kind == "index" else op.operands) + list((op.keywords or {}).values())
            others |= {a.id for a in map(_unstar, atoms) if isinstance(a, gast.Name)}
            others |= {op.callee_target} if op.callee_target else set()
            if isinstance(op.callee, gast.Attribute) and isinstance(op.callee.value, gast.Name):
                others.add(op.callee.value.id)
        returned = body[-1].value if isinstance(body[-1], gast.Return) else None
        others |= {n.id for n in gast.walk(returned) if isinstance(n, gast.Name)} if returned is not None else set()
        self.index_only = {op.operands[0].id for op in self.ops.values() if op.kind == "index"
                           and isinstance(op.operands[0], gast.Name)} - others

    def infer_shapes(self, body, assigned):
        """Shape classes, to skip ``unbroadcast`` where shapes provably agree.

        A name assigned once has a token for its shape (see
        :meth:`result_shape`). A name assigned several times (a loop's
        carried value) is known only as a scalar, "()": when the call's
        arguments are numbers (``self.kinds``), every assignment to it is
        checked to give a scalar, assuming the same of the others, until
        nothing changes.
        """
        self.assign_count = {}
        for stmt in _walk_stmts(body):
            for t in _targets(stmt):
                self.assign_count[t] = self.assign_count.get(t, 0) + 1
        for p in self.scope.params:
            self.assign_count[p] = self.assign_count.get(p, 0) + 1
        self.param_ndim = dict(zip(self.scope.params, self.kinds or ()))
        self.scalars = {t for t, n in self.assign_count.items() if n > 1 and self.kinds is not None
                        and (t not in self.scope.params or self.param_ndim.get(t) == 0)}
        while True:
            self.shape = {p: "()" for p, ndim in self.param_ndim.items() if ndim == 0}
            for stmt in _walk_stmts(body):
                op = self.ops.get(id(stmt))
                targets = _targets(stmt)
                if isinstance(stmt, gast.For):  # a range loop's counter is an int
                    self.stmt_shape[id(stmt)] = "()" if _is_range(stmt.iter) else None
                    if _is_range(stmt.iter) and self.assign_count.get(stmt.target.id) == 1:
                        self.shape[stmt.target.id] = "()"
                    continue
                if len(targets) != 1 or op is None:
                    continue
                constant = isinstance(getattr(stmt, "value", None), gast.Constant)
                token = self.shape_of(stmt.value) if constant else self.result_shape(op)
                self.stmt_shape[id(stmt)] = token
                t = targets[0]
                if token is not None and self.assign_count.get(t) == 1:
                    self.shape[t] = token
            wrong = {t for t in self.scalars
                     if any(self.stmt_shape.get(id(s)) != "()" for s in assigned.get(t, ()))}
            if not wrong:
                return
            self.scalars -= wrong

    def result_shape(self, op):
        """A token for the shape of an operation's result, or None when unknown.

        Two values with the same token have the same shape: a name stands for
        its own shape, an elementwise operation of operands sharing a token
        has that token, and ``math`` functions give scalars.
        """
        if op.kind == "copy":
            return self.shape_of(op.operands[0])
        if op.kind == "index":  # v[i] of a vector the call passed, at an int
            base = op.operands[0]
            if isinstance(base, gast.Name) and self.param_ndim.get(base.id) == 1 \
                    and self.assign_count.get(base.id) == 1 and self.shape_of(op.index) == "()":
                return "()"
            return None
        if op.kind not in ("rule", "rulecall"):
            return None
        if op.rule.scalar:
            return "()"
        if not op.rule.elementwise:
            return None
        tokens = {self.shape_of(a) for a in list(op.operands) + list((op.keywords or {}).values())
                  if not isinstance(a, gast.Constant) and not (isinstance(a, gast.Attribute) and self.scope.is_static_path(a))}
        if len(tokens) == 1:
            return tokens.pop()
        return None

    def shape_of(self, atom):
        if isinstance(atom, gast.Constant) and type(atom.value) in (int, float):
            return "()"
        if not isinstance(atom, gast.Name):
            return None
        if self.assign_count.get(atom.id, 0) > 1:
            return "()" if atom.id in self.scalars else None
        return self.shape.get(atom.id, atom.id)

    def mark_loops(self, stmts, inside, bound):
        """Mark the statements whose overwritten values are kept on a tape; return the names bound after.

        Every statement inside a loop is marked. A branch runs at most once,
        but ``if c: y = y * x`` still overwrites the ``y`` its own gradient
        needs, so in a branch a statement that rebinds a name bound before it
        is marked too; a name first bound inside a branch has no older value
        to keep (and straight-line code was renamed instead).
        """
        for stmt in stmts:
            if inside == "loop" or (inside == "branch" and bound & set(_targets(stmt))):
                self.in_loop.add(id(stmt))
            if isinstance(stmt, (gast.For, gast.While)):
                self.mark_loops(stmt.body, "loop", set(bound))
                bound |= {t for inner in _walk_stmts([stmt]) for t in _targets(inner)}
            elif isinstance(stmt, gast.If):
                inner = "loop" if inside == "loop" else "branch"
                bound |= self.mark_loops(stmt.body, inner, set(bound)) | self.mark_loops(stmt.orelse, inner, set(bound))
            else:
                bound |= set(_targets(stmt))
        return bound

    # ------------------------------------------------------------ backward
    def run(self) -> Transformed:
        self.analyse()
        body = self.fdef.body
        ret = body[-1]
        head = body[:-1]
        out_name = ret.value.id if isinstance(ret.value, gast.Name) and ret.value.id in self.active else None
        dy = self.namer.adjoint(out_name) if out_name else self.namer.fresh("dy")
        state: dict[str, str] = {}
        if out_name:
            state[out_name] = SET
        self.pending: dict[str, list] = {}
        backward = self.reverse_block(head, state)
        self.flush_all(backward, state)
        # Gradients of parameters and of free variables.
        params = list(self.scope.params)
        results = []
        for p in params:
            results.append(build.name(self.namer.adjoint(p)) if state.get(p, UNSET) in (SET, MAYBE) else build.const(None))
        free = sorted(
            {n for n in state if n not in self.scope.locals and state[n] in (SET, MAYBE)},
            key=lambda n: (self.first_use(n), n),
        )
        has_self_grad = bool(free)
        if has_self_grad:
            self_grad = gast.Dict(keys=[build.const(n) for n in free], values=[build.name(self.namer.adjoint(n)) for n in free])
            results.insert(0, self_grad)
        backward.append(gast.Return(value=build.tuple_(results)))

        # Keep a tape only for the overwritten values the backward reads.
        read = self.names_read(backward, skip_restores=True)
        self.taped = {t for t in self.restored(backward) if t in read}
        for stmt in _walk_stmts(head):
            if isinstance(stmt, gast.While) and id(stmt) in self.in_loop:
                self.taped.add(self.counters[id(stmt)])
        backward = self.prune_restores(backward)

        forward = self.forward_block(head)
        # What the backward reads from the forward is saved (never a name it binds itself:
        # a module global called dy must not be mistaken for the backward's own dy).
        bound = set().union(*[self.stmt_names(s, gast.Store) for s in backward]) | {dy}
        forward_names = defined_in_forward(head, self.scope.params, self.back_names)
        forward_names |= {self.tape_name(t) for t in self.taped} | set(self.counters.values())
        read = self.names_read(backward) - (bound - forward_names)
        defined = set(self.scope.params) | {t for s in _walk_stmts(head) for t in _targets(s)}
        defined |= set(self.back_names.values()) | {self.tape_name(v) for v in self.taped}
        defined |= set(self.counters.values())
        defined |= {n for n in read if self.scope.kind(n) in ("free", "global")}
        defined -= self.loop_targets_read_only_inside(backward)
        saved = sorted((read & defined) - set(self.injected), key=lambda n: (self.first_use(n), n))
        takes_closure = not self.scope.generated and any(
            self.scope.kind(n) == "free" for n in self.names_read(forward) | read)
        prologue = []
        closure_arg = None
        if takes_closure:
            closure_arg = self.namer.fresh("closure")
            cells = [build.store(n) for n in self.scope.freevars]
            prologue.append(build.assign(build.tuple_(cells, store_ctx=True), build.call(self.runtime("captured"), build.name(closure_arg))))
        pre_init = self.pre_inits(head)
        # A saved value assigned on only some paths starts as None, so saving it never fails.
        sure = self.definitely_assigned(head) | set(self.scope.params) | {self.tape_name(t) for t in self.taped}
        assigned = {t for s in _walk_stmts(head) for t in _targets(s)} | set(self.back_names.values())
        sure |= {n for n in saved if n not in assigned and self.scope.kind(n) in ("free", "global")}
        already = {s.targets[0].id for s in pre_init if isinstance(s.targets[0], gast.Name)}
        pre_init += [build.assign(n, build.const(None)) for n in saved if n not in sure and n not in already]
        output = ret.value
        forward.append(gast.Return(value=build.tuple_([output, build.tuple_([build.name(n) for n in saved])])))
        forward = prologue + pre_init + forward
        saved_name = self.namer.fresh("saved")
        if saved:
            backward.insert(0, build.assign(build.tuple_([build.store(n) for n in saved], store_ctx=True), build.name(saved_name)))
        fname = self.parsed.name
        # The forward takes every parameter positionally; Entry.call binds keywords and defaults.
        names = ([closure_arg] if closure_arg else []) + list(self.scope.params)
        args = gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in names],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        fwd = gast.FunctionDef(name=f"{fname}_forward", args=args, body=forward, decorator_list=[],
                               returns=None, type_comment=None, type_params=[])
        bargs = gast.arguments(
            args=[gast.Name(id=saved_name, ctx=gast.Param(), annotation=None, type_comment=None),
                  gast.Name(id=dy, ctx=gast.Param(), annotation=None, type_comment=None)],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        bwd = gast.FunctionDef(name=f"{fname}_backward", args=bargs, body=backward, decorator_list=[],
                               returns=None, type_comment=None, type_params=[])
        bwd._srcgrad_keep_gradients = True
        return Transformed(fwd, bwd, dict(self.injected), params, has_self_grad, takes_closure, self.depends_on,
                           {self.tape_name(t) for t in self.taped})

    def first_use(self, name):
        """The position of the first statement reading or writing ``name`` (-1 for none)."""
        if self._first_use is None:  # (one walk: generated code at third order is long)
            self._first_use = {}
            for stmt in _walk_stmts(self.fdef.body):
                for n in build.names_in(stmt) | set(_targets(stmt)):
                    self._first_use.setdefault(n, self.order.get(id(stmt), 0))
        return self._first_use.get(name, -1)

    def names_read(self, stmts, skip_restores=False) -> set[str]:
        out = set()
        for s in stmts:
            if skip_restores and hasattr(s, "_srcgrad_restore"):
                continue
            if skip_restores and isinstance(s, (gast.If, gast.For)):
                out |= build.names_in(s.test if isinstance(s, gast.If) else s.iter)
                out |= self.names_read(s.body, True) | self.names_read(s.orelse, True)
                continue
            out |= self.stmt_names(s)
        return out

    def stmt_names(self, stmt, ctx=gast.Load) -> set[str]:
        """``build.names_in(stmt, ctx)``, remembered for each simple statement (do not change the set).

        The finished backward is asked for its names several times; its loops
        and branches may lose statements in between (``prune_restores``), so
        theirs are gathered from their parts each time.
        """
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            out = set()
            for field in build.child_fields(stmt.__class__):
                value = getattr(stmt, field, None)
                if isinstance(value, list):
                    for inner in value:
                        out |= self.stmt_names(inner, ctx)
                elif value is not None:
                    out |= build.names_in(value, ctx)
            return out
        found = self._stmt_names.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = self._stmt_names[id(stmt)] = (stmt, build.names_in(stmt, (gast.Load, gast.Store)))
        return found[1][ctx]

    def definitely_assigned(self, stmts) -> set[str]:
        """Names every path through ``stmts`` assigns (loops may run zero times)."""
        names: set[str] = set()
        for s in stmts:
            if isinstance(s, gast.Assign):
                names |= set(_targets(s))
                if id(s) in self.back_names:
                    names.add(self.back_names[id(s)])
            elif isinstance(s, gast.If):
                names |= self.definitely_assigned(s.body) & self.definitely_assigned(s.orelse)
            elif isinstance(s, gast.While):
                names.add(self.counters[id(s)])
        return names

    def loop_targets_read_only_inside(self, backward) -> set[str]:
        """Loop variables the backward reads only inside its own reversed loops."""
        targets = {s.target.id for s in _walk_stmts(self.fdef.body) if isinstance(s, gast.For)}

        def outside(stmts):
            found = set()
            for s in stmts:
                if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                    found |= build.names_in(s.iter) | (outside(s.body) - {s.target.id})
                elif isinstance(s, gast.If):
                    found |= build.names_in(s.test) | outside(s.body) | outside(s.orelse)
                else:
                    found |= self.stmt_names(s)
            return found

        return targets - outside(backward)

    def restored(self, stmts) -> set[str]:
        found = set()
        for s in _walk_stmts(stmts):
            if hasattr(s, "_srcgrad_restore"):
                found.add(s._srcgrad_restore)
        return found

    def prune_restores(self, stmts):
        out = []
        for s in stmts:
            if hasattr(s, "_srcgrad_restore") and s._srcgrad_restore not in self.taped:
                continue
            if isinstance(s, (gast.If, gast.For)):
                s.body = self.prune_restores(s.body) or [gast.Pass()]
                s.orelse = self.prune_restores(s.orelse)
                if isinstance(s, gast.If) and not _has_code(s.body) and not _has_code(s.orelse):
                    continue  # nothing left to replay on either path
                if isinstance(s, gast.For) and not _has_code(s.body):
                    continue  # a loop that passes no gradient back
            out.append(s)
        return out

    def reverse_block(self, stmts, state) -> list:
        out: list = []
        group_line = None
        last_comment = None

        def comment(line, position):
            nonlocal last_comment
            text = self.comment_for(line)
            if text and text != last_comment:
                marker = build.expr_stmt(build.const(text))
                marker._srcgrad_comment = text
                out.insert(position, marker)
                last_comment = text

        for stmt in reversed(stmts):
            line = getattr(stmt, "_srcgrad_line", None)
            if line != group_line:
                start = len(out)
                self.flush_all(out, state)  # the last group's deferred gradients
                if len(out) > start:
                    comment(group_line, start)
                group_line = line
            code = self.reverse_stmt(stmt, state)
            if code:
                comment(line, len(out))
                out.extend(code)
        start = len(out)
        self.flush_all(out, state)
        if len(out) > start:
            comment(group_line, start)
        return out

    def comment_for(self, line):
        if line is None:
            return None
        text = self.parsed.line(line).strip()
        return f"Grad of line {line}: {text}" if text else None

    def restore(self, stmt, out):
        """Inside a loop, put back the value ``stmt`` overwrote (kept only if the backward reads it)."""
        if id(stmt) in self.in_loop:
            targets = _targets(stmt)
            if id(stmt) in self.back_names:
                targets = targets + [self.back_names[id(stmt)]]
            for t in targets:
                self.flush_all(out, self._state)
                out.append(self.pop_line(t))

    def reverse_stmt(self, stmt, state) -> list:
        self._state = state
        out: list = []
        if isinstance(stmt, (gast.Assign, gast.FunctionDef)):
            self.reverse_assign(stmt, state, out)
            self.restore(stmt, out)
        elif isinstance(stmt, gast.If):
            self.reverse_if(stmt, state, out)
        elif isinstance(stmt, gast.For):
            self.reverse_loop(stmt, state, out)
        elif isinstance(stmt, gast.While):
            self.reverse_loop(stmt, state, out)
        return out

    def consume(self, var, state, out):
        """Flush pending contributions to ``var``; return its adjoint's state."""
        if var in self.pending:
            self.flush(var, out, state)
        return state.get(var, UNSET)

    def reverse_setattr(self, stmt, op, state, out):
        """``obj.a = v``: ``dv`` is d(obj)['a'], which then no longer belongs to obj."""
        base = op.callee.id
        value = op.operands[0]
        st = self.consume(base, state, out)
        if st in (UNSET, NONE) or not self.is_active_atom(value):
            return
        dbase = build.name(self.namer.adjoint(base))
        grad = build.call(self.runtime("item"), dbase, build.const(op.attr))
        self.contribute(value.id, grad, MAYBE, stmt, state, out)
        self.flush(value.id, out, state)
        out.append(build.assign(dbase.id, build.call(self.runtime("without_item"), dbase, build.const(op.attr))))
        state[base] = MAYBE

    def reverse_assign(self, stmt, state, out):
        op = self.ops[id(stmt)]
        if op.kind == "setattr":
            self.reverse_setattr(stmt, op, state, out)
            return
        targets = _targets(stmt)
        if op.kind == "inactive" or not any(t in self.active for t in targets):
            for t in targets:
                self.pending.pop(t, None)
                state.pop(t, None)
            return
        if op.kind == "unpack":
            states = [self.consume(t, state, out) for t in targets]
            if all(s in (UNSET, NONE) for s in states):
                return
            elts = [build.name(self.namer.adjoint(t)) if s in (SET, MAYBE) else build.const(None)
                    for t, s in zip(targets, states)]
            for t in targets:
                state.pop(t, None)
            value = op.operands[0]
            if self.is_active_atom(value):
                if value.id in self.pairs:  # a tape's (value, rest): no need to keep it to see it is a tuple
                    self.contribute(value.id, build.tuple_(elts), SET, stmt, state, out)
                else:
                    grad = build.call(self.runtime("gather"), build.tuple_(elts), value)
                    self.contribute(value.id, grad, MAYBE, stmt, state, out)
            return
        t = targets[0]
        st = self.consume(t, state, out)
        if st in (UNSET, NONE):
            state.pop(t, None)
            return
        dt = build.name(self.namer.adjoint(t))
        if st == MAYBE and op.kind != "dynamic":  # a pullback accepts None itself
            before = dict(state)
            inner: list = []
            saved_pending = self.pending
            self.pending = {}
            state.pop(t, None)
            self.contributions(stmt, op, t, dt, state, inner)
            self.flush_all(inner, state)
            self.pending = saved_pending
            # Where the guard is skipped, d<t> is bound to None (that is what the test saw).
            skipped = {**{k: v for k, v in before.items() if k != t}, t: NONE}
            merged, (pre, tail) = self.merge([skipped, state])
            state.clear()
            state.update(merged)
            if _has_code(inner):
                out.extend(pre)
                test = gast.Compare(left=dt, ops=[gast.IsNot()], comparators=[build.const(None)])
                out.append(gast.If(test=test, body=inner + tail, orelse=[]))
            return
        state.pop(t, None)
        self.cotangent_maybe_none = st == MAYBE
        self.contributions(stmt, op, t, dt, state, out)
        self.cotangent_maybe_none = False

    def contributions(self, stmt, op, t, dt, state, out):
        if op.kind == "closure":
            for c in op.operands:
                if self.is_active_atom(c):
                    grad = build.call(self.runtime("item"), dt, build.const(c.id))
                    self.contribute(c.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "copy":
            src = op.operands[0]
            if self.is_active_atom(src):
                self.contribute(src.id, dt, SET, stmt, state, out)
        elif op.kind == "rule":
            self.rule_contributions(stmt, op, t, dt, state, out)
        elif op.kind == "rulecall":
            self.rulecall_contributions(stmt, op, t, dt, state, out)
        elif op.kind == "repeat":
            for part in op.operands:
                if self.is_active_atom(part) and part.id in self.sequences:
                    grad = build.call(self.runtime("repeats_grad"), dt, part)
                    self.contribute(part.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "concat":
            left, right = op.operands
            split = build.call("len", copy.deepcopy(left)) if isinstance(left, gast.Name) else build.const(
                len(left.value) if isinstance(left, gast.Constant) else 0)
            for part, index in ((left, build.call("slice", build.const(None), split)),
                                (right, build.call("slice", split, build.const(None)))):
                if self.is_active_atom(part):
                    grad = build.call(self.runtime("item"), dt, index)
                    self.contribute(part.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "attr":
            base = op.operands[0]
            if self.is_active_atom(base):
                grad = gast.Dict(keys=[build.const(op.attr)], values=[dt])
                self.contribute(base.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "index":
            base = op.operands[0]
            if self.is_active_atom(base):
                grad = build.call(self.runtime("index_grad"), dt, base, _index_expr(op.index))
                self.contribute(base.id, grad, SET if base.id in self.numeric else MAYBE, stmt, state, out)
        elif op.kind == "display":
            keys = op.index
            for position, elt in enumerate(op.operands):
                elt = _unstar(elt)
                if not self.is_active_atom(elt):
                    continue
                if keys is None:
                    grad = build.call(self.runtime("item"), dt, build.const(position))
                else:
                    grad = build.call(self.runtime("item"), dt, keys[position])
                self.contribute(elt.id, grad, MAYBE, stmt, state, out)
        elif op.kind == "dynamic":
            self.dynamic_contributions(stmt, op, t, dt, state, out)
        elif op.kind in _IDIOMS:  # the shifted array's gradient, in closed form; the shift gets none
            z = op.operands[0]
            if self.is_active_atom(z):
                self.contribute(z.id, self.idiom_gradient(op, t, dt.id), SET, stmt, state, out)

    def idiom_gradient(self, op, t, dt):
        """The gradient of an idiom (see idioms.py) with respect to its shifted array ``z``."""
        name = build.name
        if op.kind == "logsumexp":  # the softmax times dt
            exp, total = op.reads
            return _binop(name(exp), gast.Mult(), _binop(name(dt), gast.Div(), name(total)))
        summed = self.runtime("unbroadcast")  # (to the sum's shape: summed over its axes)
        if op.kind == "logsoftmax":  # dt less the softmax times dt's sum
            exp, total = op.reads
            share = _binop(build.call(summed, name(dt), name(total)), gast.Div(), name(total))
            return _binop(name(dt), gast.Sub(), _binop(name(exp), gast.Mult(), share))
        (total,) = op.reads  # softmax: itself times (dt less the sum of dt times itself)
        inner = build.call(summed, _binop(name(dt), gast.Mult(), name(t)), name(total))
        return _binop(name(t), gast.Mult(), _binop(name(dt), gast.Sub(), inner))

    def needs_unbroadcast(self, op, position, stmt):
        if not op.rule.broadcast:
            return False
        slots = dict(self.slots(op))
        others = [a for i, a in slots.items() if i != position and not isinstance(a, gast.Constant)
                  and not (isinstance(a, gast.Attribute) and self.scope.is_static_path(a))]
        if not others:
            return False
        arg = slots[position]
        mine = self.shape_of(arg)
        if mine is not None and mine == self.stmt_shape.get(id(stmt)):
            return False
        # Within one statement a name has one shape: h * h needs no unbroadcast.
        return not all(isinstance(o, gast.Name) and o.id == getattr(arg, "id", None) for o in others)

    def fill_template(self, template, expr, op, dy, t):
        """``expr`` from a rule's template, written for this statement: ``dy``, ``y = t``, its arguments.

        The names the rule's module gives its helpers are injected (renamed on a clash).
        """
        mapping = dict(op.bindings)
        mapping[template.params[0]] = dy
        mapping[template.params[1]] = build.name(t)
        renames = {}
        for name, value in template.free.items():
            injected = self.inject(name, value)
            if injected != name:  # renamed, then substituted if the new name is one of the rule's parameters
                renames[name] = mapping[injected] if injected in mapping else build.name(injected)
        mapping.update(renames)
        return substitute(expr, mapping)

    def rule_contributions(self, stmt, op, t, dt, state, out):
        template = template_of(op.rule)
        primal = template.params[2:]
        for position, arg in self.slots(op):
            if position >= len(template.outputs) or not self.is_active_atom(arg):
                continue
            expr = template.outputs[position]
            if isinstance(expr, gast.Constant) and expr.value is None:
                continue
            if template.vararg and position >= len(primal):
                continue
            grad = self.fill_template(template, expr, op, dt, t)
            if self.needs_unbroadcast(op, position, stmt):
                grad = build.call(self.runtime("unbroadcast"), grad, arg)
            # (A structured rule's gradient reads an item of dt, which may be None: [None, g][0]; not of an array.)
            sure = not op.rule.structured or t in self.numeric
            self.contribute(arg.id, grad, SET if sure else MAYBE, stmt, state, out)

    def rulecall_contributions(self, stmt, op, t, dt, state, out):
        rule_name = self.inject(getattr(op.rule.reverse, "__name__", "rule"), op.rule.reverse)
        args, keywords = registry.positional_call(op.operands, op.keywords, op.positions or {})
        call = build.call(rule_name, dt, build.name(t), *args, **keywords)
        slots = dict(self.slots(op))
        wanted = [p for p, a in slots.items() if p >= len(op.operands) and self.is_active_atom(a)]
        size = max([len(op.operands)] + [p + 1 for p in wanted])
        parts = []
        for position in range(size):
            arg = slots.get(position)
            parts.append(self.namer.fresh(self.namer.adjoint(arg.id) + "_part") if self.is_active_atom(arg) else "_")
        if size > len(op.operands):
            parts.append("*_")  # (a keyword's gradient: the rule may give more than that)
        elts = [gast.Starred(value=build.store("_"), ctx=gast.Store()) if p == "*_" else build.store(p) for p in parts]
        out.append(build.assign(build.tuple_(elts, store_ctx=True), call))
        for position, part in enumerate(parts):
            if part not in ("_", "*_"):
                arg = slots[position]
                grad = build.name(part)
                if op.rule.broadcast and len(slots) > 1:
                    grad = build.call(self.runtime("unbroadcast"), grad, arg)
                self.contribute(arg.id, grad, MAYBE, stmt, state, out)  # a rule may give None

    def dynamic_contributions(self, stmt, op, t, dt, state, out):
        self.pullback_stmts.add(id(stmt))
        back = self.back_names.get(id(stmt))
        if back is None:
            back = self.namer.fresh(f"{t}_back")
            self.back_names[id(stmt)] = back
        receivers = []
        callee_name = None
        field = None
        if isinstance(op.callee, gast.Attribute) and not self.scope.is_static_path(op.callee):
            callee_name = op.callee.value.id if self.is_active_atom(op.callee.value) else None
            if callee_name is not None and not self.is_method_of(op.callee.value.id, op.callee.attr):
                field = op.callee.attr  # self.inner(x): a callable field, its gradient is dself['inner']
        elif op.callee_target and op.callee_target in self.active:
            callee_name = op.callee_target
        receivers.append((callee_name, MAYBE))
        for arg in op.operands:
            if isinstance(arg, gast.Starred):
                # f(a, *rest): the gradients of rest's elements arrive as a starred group.
                inner = arg.value
                receivers.append(("*" + inner.id if self.is_active_atom(inner) else "*", MAYBE))
            elif self.is_active_atom(arg):
                receivers.append((arg.id, SET if arg.id in self.numeric else MAYBE))
            else:
                receivers.append((None, None))
        for key, value in op.keywords.items():
            receivers.append((value.id if self.is_active_atom(value) else None, SET if self.is_active_atom(value) and value.id in self.numeric else MAYBE))
        if self.cotangent_maybe_none:  # back(None) is all None, even for numeric arguments
            receivers = [(name, MAYBE if kind is not None else None) for name, kind in receivers]
        names = []
        direct = []
        for name, kind in receivers:
            if name is None or name == "*":
                names.append("*_" if name == "*" else "_")
                continue
            if name.startswith("*"):
                names.append("*" + self.namer.fresh(self.namer.adjoint(name[1:]) + "_parts"))
                continue
            if state.get(name, UNSET) == UNSET and name not in self.pending and not any(n == name for n, _ in direct) \
                    and not (field is not None and name == callee_name):
                names.append(self.namer.adjoint(name))
                direct.append((name, kind))
            else:
                part = self.namer.fresh(self.namer.adjoint(name) + "_part")
                names.append(part)
        if all(n in ("_", "*_") for n in names):
            return
        elts = [gast.Starred(value=build.store(n[1:]), ctx=gast.Store()) if n.startswith("*") else build.store(n)
                for n in names]
        target = build.tuple_(elts, store_ctx=True)
        out.append(build.assign(target, gast.Call(func=build.name(back), args=[dt], keywords=[])))
        for (name, kind), n in zip(receivers, names):
            if n in ("_", "*_") or name is None:
                continue
            if n.startswith("*"):
                grad = build.call(self.runtime("gather"), build.name(n[1:]), build.name(name[1:]))
                self.contribute(name[1:], grad, MAYBE, stmt, state, out)
                continue
            if field is not None and name == callee_name and n in (names[0],):
                grad = build.call(self.runtime("callee_grad"), build.name(n), build.name(name), build.const(field))
                self.contribute(name, grad, MAYBE, stmt, state, out)
            elif (name, kind) in direct and n == self.namer.adjoint(name):
                state[name] = kind if kind == SET else MAYBE
            else:
                self.contribute(name, build.name(n), kind, stmt, state, out)

    # ------------------------------------------------------------ accumulation
    def contribute(self, var, expr, kind, stmt, state, out):
        """Record that ``d<var>`` gains ``expr``; written out when ``d<var>`` is next needed."""
        self.pending.setdefault(var, []).append((self.order.get(id(stmt), 0), _pure(expr), kind))

    def flush_all(self, out, state):
        for var in list(self.pending):
            self.flush(var, out, state)

    def flush(self, var, out, state):
        items = sorted(self.pending.pop(var, []), key=lambda item: item[0])
        if not items:
            return
        dv = self.namer.adjoint(var)
        # Contributions still waiting that read the old d<var> must be written first.
        for other in list(self.pending):
            if any(dv in build.names_in(e) for _, e, _ in self.pending.get(other, ())):
                self.flush(other, out, state)
        current = state.get(var, UNSET)
        if var in self.index_only and all(_calls(e, self.injected, structure.index_grad) for _, e, _ in items):
            for _, e, kind in items:
                if current in (SET, MAYBE):
                    e = build.call(self.runtime("index_add"), build.name(dv), *e.args)
                out.append(build.assign(dv, e))
                current = SET if SET in (current, kind) else MAYBE
            state[var] = current
            return
        sure = [e for _, e, k in items if k == SET]
        unsure = [e for _, e, k in items if k != SET]
        if sure:
            total = sure[0]
            for e in sure[1:]:
                total = gast.BinOp(left=total, op=gast.Add(), right=e)
            if current in (UNSET, NONE):
                out.append(build.assign(dv, total))
                current = SET
            elif current == SET:
                out.append(build.assign(dv, gast.BinOp(left=build.name(dv), op=gast.Add(), right=total)))
            else:
                out.append(build.assign(dv, self.accumulated(var, total)))
                current = SET
        unsure = _merge_field_dicts(unsure)
        for e in unsure:
            if current in (UNSET, NONE):
                out.append(build.assign(dv, e))
                current = MAYBE
            else:
                out.append(build.assign(dv, self.accumulated(var, e, sure=False)))
        state[var] = current

    def accumulated(self, var, e, sure=True):
        """``d<var> + e`` where ``d<var>`` may be None: inline for a scalar, else ``accum``.

        ``sure``: ``e`` is a gradient, never None (an unsure one, such as the part of ``max(a, b)``
        that did not win, goes through ``accum``, which adds None as nothing).
        """
        dv = self.namer.adjoint(var)
        if sure and self.shape_of(build.name(var)) == "()" and isinstance(e, (gast.Name, gast.BinOp, gast.UnaryOp)):
            return gast.IfExp(test=gast.Compare(left=build.name(dv), ops=[gast.Is()], comparators=[build.const(None)]),
                              body=e, orelse=gast.BinOp(left=build.name(dv), op=gast.Add(), right=copy.deepcopy(e)))
        return build.call(self.runtime("accum"), build.name(dv), e)

    def merge(self, branch_states):
        """Join the adjoint states at the end of alternative paths.

        Returns the joined state and, per path, the ``dv = None`` lines that
        path must end with so that every adjoint the join says is bound is
        bound on every path.
        """
        names = sorted(set().union(*branch_states))
        merged = {}
        lines = [[] for _ in branch_states]
        for n in names:
            kinds = [s.get(n, UNSET) for s in branch_states]
            if all(k == UNSET for k in kinds):
                continue
            if all(k == SET for k in kinds):
                merged[n] = SET
            elif all(k in (UNSET, NONE) for k in kinds):
                merged[n] = NONE
            else:
                merged[n] = MAYBE
            for i, k in enumerate(kinds):
                if k == UNSET:
                    lines[i].append(build.assign(self.namer.adjoint(n), build.const(None)))
        return merged, lines

    def reverse_if(self, stmt, state, out):
        self.flush_all(out, state)
        body_state = dict(state)
        body = self.reverse_block(stmt.body, body_state)
        self.flush_all(body, body_state)
        else_state = dict(state)
        orelse = self.reverse_block(stmt.orelse, else_state)
        self.flush_all(orelse, else_state)
        merged, (body_tail, else_tail) = self.merge([body_state, else_state])
        state.clear()
        state.update(merged)
        body += body_tail
        orelse += else_tail
        if not _has_code(body) and not _has_code(orelse):
            return
        if not _has_code(body):
            test = gast.UnaryOp(op=gast.Not(), operand=copy.deepcopy(stmt.test))
            out.append(gast.If(test=test, body=orelse, orelse=[]))
        else:
            out.append(gast.If(test=copy.deepcopy(stmt.test), body=body, orelse=orelse))

    def reverse_loop(self, stmt, state, out):
        self.flush_all(out, state)
        before = dict(state)
        start = dict(state)
        saved_pending = self.pending
        # The state at the top of the reversed body joins the state before the
        # loop with the state at the end of an iteration: iterate to a fixed point.
        for _ in range(8):
            self.pending = {}
            trial = dict(start)
            self.reverse_block(stmt.body, trial)
            self.flush_all([], trial)
            merged, _ = self.merge([before, trial])
            if merged == start:
                break
            start = merged
        self.pending = {}
        _, (pre, _) = self.merge([before, start])
        state.clear()
        state.update(start)
        body = self.reverse_block(stmt.body, state)
        self.flush_all(body, state)
        _, (_, tail) = self.merge([start, state])
        body += tail
        self.pending = saved_pending
        state.clear()
        state.update(start)
        out.extend(pre)
        if isinstance(stmt, gast.For):
            header = gast.For(target=copy.deepcopy(stmt.target),
                              iter=build.call("reversed", copy.deepcopy(stmt.iter)), body=body or [gast.Pass()],
                              orelse=[], type_comment=None)
        else:
            counter = self.counters[id(stmt)]
            header = gast.For(target=build.store("_"), iter=build.call("range", build.name(counter)),
                              body=body or [gast.Pass()], orelse=[], type_comment=None)
        out.append(header)
        if isinstance(stmt, gast.While) and id(stmt) in self.in_loop:
            out.append(self.pop_line(counter))

    # ------------------------------------------------------------ forward
    def tape_name(self, var):
        """``h_tape`` for ``h`` (a fresh name: generated code may already have an ``h_tape``)."""
        name = self.tape_names.get(var)
        if name is None:
            name = self.tape_names[var] = self.namer.fresh(f"{var}_tape")
        return name

    def push_line(self, var):
        """``h_tape = push(h_tape, h)``: keep the value ``h`` has before it is overwritten."""
        tape_ = self.tape_name(var)
        return build.assign(tape_, build.call(self.runtime("push"), build.name(tape_), build.name(var)))

    def pop_line(self, var):
        """``h, h_tape = pop(h_tape)``: put back the value ``h`` had (pruned unless the backward reads it)."""
        tape_ = self.tape_name(var)
        target = build.tuple_([build.store(var), build.store(tape_)], store_ctx=True)
        line = build.assign(target, build.call(self.runtime("pop"), build.name(tape_)))
        line._srcgrad_restore = var
        return line

    def forward_block(self, stmts) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.If):
                node = gast.If(test=stmt.test, body=self.forward_block(stmt.body) or [gast.Pass()],
                               orelse=self.forward_block(stmt.orelse))
                out.append(node)
                continue
            if isinstance(stmt, gast.For):
                node = gast.For(target=stmt.target, iter=stmt.iter, body=self.forward_block(stmt.body) or [gast.Pass()],
                                orelse=[], type_comment=None)
                out.append(node)
                continue
            if isinstance(stmt, gast.While):
                counter = self.counters[id(stmt)]
                if counter in self.taped:
                    out.append(self.push_line(counter))
                out.append(build.assign(counter, build.const(0)))
                step = build.assign(counter, gast.BinOp(left=build.name(counter), op=gast.Add(), right=build.const(1)))
                node = gast.While(test=stmt.test, body=[step] + self.forward_block(stmt.body), orelse=[])
                out.append(node)
                continue
            for t in _targets(stmt):
                if t in self.taped and id(stmt) in self.in_loop:
                    self.push_early(out, t)
            if id(stmt) in self.pullback_stmts:
                t = _targets(stmt)[0]
                back = self.back_names[id(stmt)]
                if back in self.taped and id(stmt) in self.in_loop:
                    self.push_early(out, back)
                call = stmt.value
                wrt = self.call_wrt(self.ops[id(stmt)])
                if wrt is None:
                    pb = gast.Call(func=self.runtime("pullback"), args=[copy.deepcopy(call.func)] + list(call.args),
                                   keywords=list(call.keywords))
                else:
                    pb = gast.Call(func=self.runtime("pullback_wrt"),
                                   args=[build.const(wrt), copy.deepcopy(call.func)] + list(call.args),
                                   keywords=list(call.keywords))
                target = build.tuple_([build.store(t), build.store(self.back_names[id(stmt)])], store_ctx=True)
                new = build.assign(target, pb)
                new._srcgrad_line = getattr(stmt, "_srcgrad_line", None)
                out.append(new)
                continue
            out.append(self.computed_faster(stmt))
        return out

    def computed_faster(self, stmt):
        """``stmt``, or a copy calling its rule's faster function for the value (``np.einsum``,
        ``np.sum``: see ``Rule.computed_by``). Only ``name = f(a, b, ...)``: no keywords, no ``*args``."""
        op = self.ops.get(id(stmt))
        if op is None or op.kind not in ("rule", "rulecall") or op.rule.computed_by is None:
            return stmt
        call = stmt.value if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) else None
        if not isinstance(call, gast.Call) or call.keywords or any(isinstance(a, gast.Starred) for a in call.args):
            return stmt
        fn = op.rule.computed_by
        faster = gast.Call(func=build.name(self.inject(fn.__name__, fn)), args=list(call.args), keywords=[])
        faster._srcgrad_pure = True  # (as the call it replaces: the simplifier may fold it into its one use)
        new = build.assign(stmt.targets[0].id, faster)
        new._srcgrad_line = getattr(stmt, "_srcgrad_line", None)
        return new

    def call_wrt(self, op):
        """The call's slots (0 the callee, then arguments, then keywords) whose gradient is used.

        ``None`` when every slot's is, or when the slots are not known
        statically (a ``*args`` call; ``mutate``, which has its own layout).
        """
        if any(isinstance(a, gast.Starred) for a in op.operands) or op.callee_target is None \
                and isinstance(op.callee, gast.Name) and self.injected.get(op.callee.id) is provided.mutate:
            return None
        if isinstance(op.callee, gast.Attribute) and not self.scope.is_static_path(op.callee):
            callee = self.is_active_atom(op.callee.value)
        else:
            callee = bool(op.callee_target) and op.callee_target in self.active
        slots = [callee] + [self.is_active_atom(a) for a in op.operands]
        slots += [self.is_active_atom(v) for v in op.keywords.values()]
        if all(slots):
            return None
        return tuple(i for i, used in enumerate(slots) if used)

    def push_early(self, out, var):
        """Push ``var`` on its tape right after its last assignment in this block.

        Early, so the pushes do not sit between a temporary and its use and
        the simplifier can fold the temporary back into the user's line.
        """
        position = 0
        for k, s in enumerate(out):
            written = {t for inner in _walk_stmts([s]) for t in _targets(inner)}
            if isinstance(s, gast.Assign):
                written |= {n.id for n in build.walk(s.targets[0]) if isinstance(n, gast.Name)}
            if var in written:
                position = k + 1
        out.insert(position, self.push_line(var))

    def pre_inits(self, head):
        """Tapes start empty; a taped variable first assigned inside a loop starts as None."""
        lines = [build.assign(self.tape_name(t), build.call(self.runtime("new_tape"))) for t in sorted(self.taped)]
        for t in sorted(self.taped):
            if t in self.scope.params or t in self.counters.values():
                continue
            first = next((s for s in _walk_stmts(head)
                          if t in _targets(s) or self.back_names.get(id(s)) == t), None)
            if first is not None and id(first) in self.in_loop:
                lines.append(build.assign(t, build.const(None)))
        return lines


def _merge_field_dicts(exprs):
    """``{'W': dW}`` and ``{'b': db}`` contributions become one ``{'W': dW, 'b': db}``."""
    dicts = [e for e in exprs if isinstance(e, gast.Dict) and all(isinstance(k, gast.Constant) for k in e.keys)]
    keys = [k.value for d in dicts for k in d.keys]
    if len(dicts) < 2 or len(set(keys)) != len(keys):
        return exprs
    merged = gast.Dict(keys=[k for d in dicts for k in d.keys], values=[v for d in dicts for v in d.values])
    return [merged] + [e for e in exprs if not any(e is d for d in dicts)]


_IDIOMS = ("logsumexp", "logsoftmax", "softmax")


def _fused_op(kind, z, reads):
    return _Op(kind, operands=[z], reads=reads, numeric=True)


def _binop(left, op, right):
    return gast.BinOp(left=left, op=op, right=right)


def defined_in_forward(head, params, back_names):
    """Names the forward binds: parameters, assignments and pullback objects."""
    names = set(params) | set(back_names.values())
    for s in _walk_stmts(head):
        names |= set(_targets(s))
    return names


def _pure(node):
    """Mark every call in ``node`` as free of side effects (rules and runtime helpers are)."""
    for inner in build.walk(node):
        if isinstance(inner, gast.Call):
            inner._srcgrad_pure = True
    return node


def _calls(expr, injected, fn):
    """Whether ``expr`` is a call of the runtime function ``fn`` (under its injected name)."""
    return isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) and injected.get(expr.func.id) is fn


def _is_range(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"


def _has_code(stmts):
    return any(not isinstance(s, gast.Pass) and not hasattr(s, "_srcgrad_comment") for s in stmts)


def _unstar(a):
    return a.value if isinstance(a, gast.Starred) else a


def _index_expr(index):
    """The index of ``x[...]`` as an ordinary expression (slices become ``slice(...)``)."""
    if isinstance(index, gast.Slice):
        # slice(a) means [:a], so a lower bound always comes with its upper bound.
        parts = [index.lower, index.upper, index.step]
        if parts[2] is None:
            parts.pop()
        return build.call("slice", *[p if p is not None else build.const(None) for p in parts])
    if isinstance(index, gast.Tuple):
        return build.tuple_([_index_expr(e) for e in index.elts])
    return copy.deepcopy(index)


def _dotted(node) -> str:
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return "<call>"


def _short(what: str) -> str:
    return what.split(".")[-1]


def _partial_func(obj):
    """The function a ``functools.partial`` (of a partial...) calls in the end; ``obj`` itself otherwise."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return obj


def _has_source(obj) -> bool:
    """True for Python functions, classes with Python methods and callable objects (differentiated through)."""
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return True
    if isinstance(obj, type):
        return isinstance(getattr(obj, "__init__", None), types.FunctionType) or isinstance(
            getattr(obj, "__call__", None), types.FunctionType)
    call = getattr(type(obj), "__call__", None)
    return isinstance(call, types.FunctionType)


_ALWAYS_CONSTANT = {range, len, isinstance, type, print, bool, str, repr, id, hash}
