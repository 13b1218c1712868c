"""Stage 4, normalise, aliasing: in-place methods and ``out=`` written as writes, before anything looks at them.

``y.fill(c)`` becomes ``y[...] = c`` and ``y.sort()`` becomes
``y[...] = np.sort(y)`` when ``y`` is an array at run time (a list's sort,
or a user's class, runs as written); ``np.exp(a, out=y)``, or
``np.exp(a, y)``, becomes ``y[...] = np.exp(a)``. A write into an
expression (``y.T[0] = v``, ``x[i][j] = v``) becomes a write into a name
for it. The array methods (:data:`REFUSED_METHODS`) and NumPy functions
(:data:`WRITING_FUNCTIONS`) that write in place some other way are refused,
and the methods of a list, dict or set that srcgrad does not follow
(:data:`CONTAINER_FIXES`) are refused at run time on one.

After this step every write in place left is an assignment to a subscript
or an attribute of a name, an augmented assignment, or a method called for
its effect: what :mod:`.aliasing_writes` looks at.
"""

from __future__ import annotations

import gast
import numpy as np

from . import build
from .aliasing_views import hashable
from .aliasing_writes import at_line
from .normal import runtime_call
from .resolve import MISSING

__all__ = ["InPlaceLowering", "REFUSED_METHODS", "CONTAINER_FIXES", "WRITING_FUNCTIONS", "IN_PLACE_NAMES"]


#: Array methods that write in place and that srcgrad does not rewrite: refused on an array.
REFUSED_METHODS = {
    "put": "write y[np.unravel_index(ind, y.shape)] = v, or build the array with np.where",
    "resize": "use y = np.resize(y, shape) (a new array), or np.pad / np.concatenate",
    "itemset": "write y[i] = v",
    "partition": "use y = np.partition(y, k) (a new array)",
    "setfield": "build the array you need as a new value",
    "byteswap": "use y = y.byteswap() (a new array)",
}
#: Methods that change a list, dict or set in place and that srcgrad does not follow, with the rewrite.
CONTAINER_FIXES = {
    "insert": "build a new list: xs = xs[:i] + [v] + xs[i:]",
    "pop": "read the item and keep the rest as a new list: v = xs[-1]; xs = xs[:-1]",
    "remove": "build a new list without it (a comprehension with a condition)",
    "clear": "start a new one: xs = []",
    "reverse": "xs = xs[::-1]",
    "update": "build a new dict: d = {**d, **other}",
    "setdefault": "write d[k] = v where k is not yet in d",
    "popitem": "read the item and build a new dict without it",
    "add": "use a list",
    "discard": "use a list",
}
#: NumPy functions that write into an argument.
WRITING_FUNCTIONS = {getattr(np, n): fix for n, fix in (
    ("put", "write y[np.unravel_index(ind, y.shape)] = v, or build the array with np.where"),
    ("putmask", "use y = np.where(mask, values, y)"),
    ("place", "use y = np.where(mask, values, y)"),
    ("put_along_axis", "build the array with np.where, or assign y[index] = v"),
    ("fill_diagonal", "use y = y + np.diag(v - np.diag(y)), or y[i, i] = v in a loop"),
) if hasattr(np, n)}


#: Method names :func:`in_place_writer` looks at: a ufunc's ``.at`` and a generator's ``.shuffle``.
IN_PLACE_NAMES = ("at", "shuffle")


class InPlaceLowering:
    """In-place methods and ``out=`` written as writes. A part of :class:`~srcgrad.compiler.aliasing.Aliasing`."""

    def lower(self, s):
        """``s`` with in-place methods and ``out=`` written as subscript assignments, and a write into
        an expression (``y.T[0] = v``, ``x[i][j] = v``, ``obj.a.b = v``) as a write into a name for it."""
        if getattr(s, "_srcgrad_lowered", False):
            return [s]
        target = s.target if isinstance(s, gast.AugAssign) else s.targets[0] \
            if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if isinstance(target, (gast.Subscript, gast.Attribute)) and not isinstance(target.value, gast.Name):
            temp = self.namer.fresh(_view_name(target.value))
            self.scope.locals.add(temp)
            hoisted = at_line(build.assign(temp, target.value), s)
            target.value = build.name(temp)
            return self.lower(hoisted) + [s]
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            call = s.value
            func = call.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and func.attr in ("fill", "sort") + tuple(REFUSED_METHODS) \
                    and func.value.id in self.scope.locals:
                return self.lower_method(s, call, func)
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and func.attr in CONTAINER_FIXES and func.value.id in self.scope.locals:
                return [self.container_check(s, func), s]
            out = self.out_argument(s, call)
            if out is not None:
                return [self.as_write(s, out, call)]
            self.refuse_writing_function(s, call)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and func.attr in CONTAINER_FIXES and func.value.id in self.scope.locals:
                return [self.container_check(s, func), s]  # v = xs.pop()
            out = self.out_argument(s, s.value)
            if out is not None:  # r = np.exp(a, out=y): y is written, and r is y
                return [self.as_write(s, out, s.value), at_line(build.assign(s.targets[0], build.name(out.id)), s)]
            self.refuse_writing_function(s, s.value)
        # (a compound statement's own statements are lowered one by one: only its test or iterable here)
        head = s.iter if isinstance(s, gast.For) else s.test if isinstance(s, (gast.If, gast.While)) else s
        for node in build.walk(head):
            if isinstance(node, gast.Call) and (any(k.arg == "out" for k in node.keywords)
                                                or self.positional_out(node) is not None):
                self.refuse(node, "a call with an out= argument inside a larger expression",
                            "call it in its own statement, or drop out= and assign the result")
        return [s]

    def container_check(self, s, func):
        """Refuse, when it runs on a list, dict or set, a method that changes it in place (other than
        ``append`` and ``extend``, which srcgrad follows): its gradient would go to the wrong items."""
        return at_line(build.expr_stmt(runtime_call(
            "refuse_container_method", build.name(func.value.id), build.const(func.attr),
            build.const(CONTAINER_FIXES[func.attr]), build.const(self.parsed.filename),
            build.const(getattr(s, "lineno", None)))), s)

    def lower_method(self, s, call, func):
        receiver = func.value.id
        if func.attr in REFUSED_METHODS:
            check = runtime_call("refuse_array_method", build.name(receiver), build.const(func.attr),
                             build.const(REFUSED_METHODS[func.attr]), build.const(self.parsed.filename),
                             build.const(getattr(s, "lineno", None)))
            return [at_line(build.expr_stmt(check), s), s]
        if func.attr == "fill":
            if len(call.args) != 1 or call.keywords:
                return [s]
            new = call.args[0]
        else:
            if call.args or any(k.arg not in ("axis", "kind", "order", "stable") for k in call.keywords):
                return [s]
            new = runtime_call("np_sort", build.name(receiver))
            new.keywords = list(call.keywords)
        store = gast.Subscript(value=build.name(receiver), slice=build.const(Ellipsis), ctx=gast.Store())
        write = at_line(build.assign(store, new), s)
        orelse = [s]
        if func.attr == "sort":
            orelse = [at_line(build.expr_stmt(runtime_call(
                "refuse_container_method", build.name(receiver), build.const("sort"),
                build.const("xs = sorted(xs)"), build.const(self.parsed.filename),
                build.const(getattr(s, "lineno", None)))), s), s]
        # Only an array's fill and sort are NumPy's; a list's sort, or a user's class, runs as written.
        test = runtime_call("is_array", build.name(receiver))
        s._srcgrad_lowered = True
        return [at_line(gast.If(test=test, body=[write], orelse=orelse), s)]

    def positional_out(self, call):
        target = self.scope.resolve(call.func) if self.scope.is_static_path(call.func) else None
        if isinstance(target, np.ufunc) and len(call.args) > target.nin:
            return target
        return None

    def out_argument(self, s, call):
        """The name ``call`` writes its result into (``out=y``, or a ufunc's extra positional), if any."""
        ufunc = self.positional_out(call)
        out = None
        if ufunc is not None:
            if ufunc.nout != 1 or len(call.args) != ufunc.nin + 1:
                self.refuse(call, f"passing {ufunc.__name__}'s outputs positionally",
                            "assign the results: y = np.f(a) (or y[...] = np.f(a))")
            out = call.args[-1]
            call.args = call.args[:-1]
        for k in list(call.keywords):
            if k.arg == "out":
                call.keywords.remove(k)
                out = k.value
        if out is None or isinstance(out, gast.Constant) and out.value is None:
            return None
        if isinstance(out, gast.Tuple) and len(out.elts) == 1:
            out = out.elts[0]
        if not self.is_local(out):
            self.refuse(call, "an out= argument that is not a local variable",
                        "drop out= and assign the result: y = np.f(a), or y[...] = np.f(a)")
        return out

    def as_write(self, s, out, call):
        store = gast.Subscript(value=build.name(out.id), slice=build.const(Ellipsis), ctx=gast.Store())
        return at_line(build.assign(store, call), s)

    def refuse_writing_function(self, s, call):
        if self.scope.fn.__module__.startswith("srcgrad.rules"):
            return
        writer = in_place_writer(self.scope, call.func)
        if writer is not None:
            self.refuse(call, *writer)
        if not self.scope.is_static_path(call.func):
            return
        target = self.scope.resolve(call.func)
        if hashable(target) and target in WRITING_FUNCTIONS:
            self.refuse(call, f"np.{target.__name__}, which writes into its first argument", WRITING_FUNCTIONS[target])
        if target is getattr(np, "copyto", None):
            self.refuse(call, "np.copyto, which writes into its first argument", "write dst[...] = src")


def in_place_writer(scope, func):
    """``(what, fix)`` for a call of ``func`` that writes into an argument some way the other checks miss: a
    ufunc's ``.at`` (``np.add.at(y, i, v)``) and a shuffle in place (``rng.shuffle(a)``, ``np.random.shuffle``);
    else None. The receiver is what it names now, for a global or a module's attribute."""
    if not isinstance(func, gast.Attribute) or func.attr not in IN_PLACE_NAMES:
        return None
    receiver = scope.resolve(func.value) if scope.is_static_path(func.value) else MISSING
    if receiver is MISSING and isinstance(func.value, gast.Name) and func.value.id not in scope.locals:
        receiver = scope.value(func.value.id)  # (a global object: rng = np.random.default_rng(0))
    if func.attr == "at" and isinstance(receiver, np.ufunc):
        return (f"np.{receiver.__name__}.at, which writes into its first argument",
                "add into a new array: y = y + np.bincount(i, weights=v, minlength=len(y)) for np.add.at, "
                "or y[i] += v where the indices i do not repeat")
    if func.attr == "shuffle" and (isinstance(receiver, (np.random.Generator, np.random.RandomState))
                                   or receiver is np.random):
        return ("a shuffle in place (rng.shuffle(a)), which writes into its argument",
                "shuffle by indexing, into a new array: a = a[rng.permutation(len(a))]")
    return None


def _view_name(node) -> str:
    """A name for the value a write goes into: ``y.T`` is ``y_T``, ``x[i]`` is ``x_part``."""
    while isinstance(node, (gast.Call, gast.Subscript, gast.Attribute)):
        if isinstance(node, gast.Call):
            node = node.func
        elif isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
            return f"{node.value.id}_{node.attr}"
        else:
            inner = node.value
            if isinstance(inner, gast.Name):
                return f"{inner.id}_part"
            node = inner
    return "view"
