"""Stage 4, normalise, aliasing: which names may share memory with which, statement by statement.

:class:`Sharing` is what the aliasing pass (:mod:`.aliasing`) knows at one
point of the function: the names that are *exact views* (``v = y[:1]``,
``z = y.T``, ``w = y.reshape(...)``, made from parts that never change:
their base and how to make them again are known), and pairs of names that
*may* share memory for reasons unknown (``row = f(y)``, a list holding
``y``, two parameters). :class:`ViewAnalysis` says what each binding adds:
after ``target = value``, whether ``target`` is an exact view of a local
name, which names its value may hold or share, and whether it is surely a
NumPy array or number (an item stored into one is copied, not held).

The tables of NumPy functions and array methods that make views, or new
memory, are here too; :mod:`.aliasing_calls` reads them for a callee's
parameters.
"""

from __future__ import annotations

import types

import gast
import numpy as np

from . import build

__all__ = ["Sharing", "ViewAnalysis", "names_read", "is_numpy", "hashable", "VIEW_FUNCTIONS", "VIEW_METHODS",
           "OTHER_VIEWS", "FRESH_METHODS", "MUTATING_METHODS"]


#: NumPy functions whose result may be a view of their first argument, and how to rebuild the base.
VIEW_FUNCTIONS = {np.asarray: "same", np.asanyarray: "same", np.transpose: "transpose", np.reshape: "reshape",
                  np.ravel: "reshape", np.squeeze: "reshape", np.expand_dims: "reshape", np.swapaxes: "swapaxes"}
#: Array methods likewise (``y.view()`` with no dtype is the same memory, seen again).
VIEW_METHODS = {"reshape": "reshape", "ravel": "reshape", "squeeze": "reshape", "transpose": "transpose",
                "swapaxes": "swapaxes", "view": "same"}
#: NumPy functions that may return a view (or their argument) with no simple way back: a write
#: through their result is checked at run time, and refused when it would change the argument.
OTHER_VIEWS = {getattr(np, n) for n in (
    "diagonal", "diag", "broadcast_to", "real", "imag", "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "ascontiguousarray", "asfortranarray", "require",
    "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "asarray_chkfinite", "trim_zeros",
    "real_if_close", "matrix_transpose", "permute_dims", "unstack", "meshgrid", "nan_to_num") if hasattr(np, n)}
#: Array methods whose result is new memory (or a number).
FRESH_METHODS = {"copy", "flatten", "astype", "sum", "mean", "max", "min", "prod", "std", "var", "dot", "cumsum",
                 "cumprod", "round", "clip", "conj", "conjugate", "argmax", "argmin", "argsort", "item", "tolist",
                 "any", "all", "trace", "nonzero", "__copy__"}
#: Attributes holding immutable facts about a value.
_FRESH_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "__class__"}
#: Methods that change their receiver (a list, dict, set or array) in place.
MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort",
                    "reverse", "popitem", "add", "discard", "fill", "put", "resize", "itemset", "partition",
                    "setfield", "byteswap", "setflags", "difference_update", "intersection_update",
                    "symmetric_difference_update"}


def is_numpy(fn) -> bool:
    """Whether ``fn`` is NumPy's: a function of the ``numpy`` package, or a ufunc."""
    return (getattr(fn, "__module__", None) or "").split(".")[0] == "numpy" or isinstance(fn, np.ufunc)


class _View:
    """How a name was made from its parent: ``kind`` ("same", "index", "T", "transpose", "swapaxes",
    "reshape") and the expression that makes it (read again to make it from a new parent)."""

    __slots__ = ("parent", "kind", "expr", "serial")

    def __init__(self, parent, kind, expr, serial):
        self.parent, self.kind, self.expr, self.serial = parent, kind, expr, serial

    def same_as(self, other) -> bool:
        return other is not None and (self.parent, self.kind, self.expr) == (other.parent, other.kind, other.expr)


class Sharing:
    """What may share memory at one point: exact views, and pairs that may share for reasons unknown."""

    def __init__(self, views=None, may=None, arrays=None):
        self.views: dict[str, _View] = dict(views or {})
        self.may: dict[str, set] = {k: set(v) for k, v in (may or {}).items()}
        #: Names known to hold a NumPy array (or number): an item stored into one is copied, not held.
        self.arrays: set = set(arrays or ())

    def copy(self):
        return Sharing(self.views, self.may, self.arrays)

    def link(self, a, b):
        if a != b:
            self.may.setdefault(a, set()).add(b)
            self.may.setdefault(b, set()).add(a)

    def root(self, name):
        seen = set()
        while name in self.views and name not in seen:
            seen.add(name)
            name = self.views[name].parent
        return name

    def group(self, name):
        """The names made by exact views from the same root, with the root."""
        root = self.root(name)
        return {root} | {n for n in self.views if self.root(n) == root}

    def partners(self, name):
        """Every name that may share memory with ``name``: its group, and what may-links reach."""
        todo, seen = [name], {name}
        while todo:
            n = todo.pop()
            for m in self.group(n) | self.may.get(n, set()):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen - {name}

    def forget(self, name):
        """``name`` is bound anew: the views made from it keep the old memory, so they join the may-links."""
        old_group = self.group(name) - {name}
        for child in [n for n, v in self.views.items() if v.parent != name and name in names_read(v.expr)]:
            self.link(child, self.views.pop(child).parent)  # y[i] made again would read another i
        for child in [n for n, v in self.views.items() if v.parent == name]:
            del self.views[child]
            for other in old_group | {name}:
                self.link(child, other)
        self.views.pop(name, None)
        self.arrays.discard(name)
        # The name's old memory is no longer its: its old links go to what it was linked with.
        linked = self.may.pop(name, set())
        for other in linked:
            self.may.get(other, set()).discard(name)
        for a in linked:
            for b in linked:
                self.link(a, b)

    def join(self, other):
        """Either of two states (after an ``if``, or around a loop)."""
        out = self.copy()
        for n, view in other.views.items():
            if not view.same_as(out.views.get(n)):
                if n in out.views:
                    out.link(n, out.views[n].parent)
                    del out.views[n]
                out.link(n, view.parent)
        for n in [n for n in out.views if n not in other.views]:
            out.link(n, out.views.pop(n).parent)
        for a, bs in other.may.items():
            for b in bs:
                out.link(a, b)
        out.arrays = self.arrays & other.arrays
        return out

    def same(self, other) -> bool:
        return set(self.views) == set(other.views) and self.arrays == other.arrays and all(v.same_as(other.views[n]) for n, v in self.views.items()) \
            and {k: v for k, v in self.may.items() if v} == {k: v for k, v in other.may.items() if v}


def names_read(node) -> set:
    """The names ``node`` reads."""
    return {n.id for n in build.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


#: NumPy functions returning a list or tuple (of views), not an array.
_LIST_MAKERS = {getattr(np, n) for n in ("split", "array_split", "hsplit", "vsplit", "dsplit", "broadcast_arrays",
                                         "meshgrid", "unstack", "nonzero", "where") if hasattr(np, n)}


def _float_constant(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, (float, complex))


def hashable(x) -> bool:
    """Whether ``x`` can be looked up in the tables above (a resolved callee may be any value)."""
    try:
        hash(x)
    except TypeError:
        return False
    return True


class ViewAnalysis:
    """What a binding makes share memory with what. A part of :class:`~srcgrad.compiler.aliasing.Aliasing`."""

    def bind(self, target, value, state):
        self.state = state
        if isinstance(target, gast.Name):
            name = target.id
            self.local_defs.pop(name, None)
            view = self.view_of(value)
            shares = self.shares_with(value) if view is None or view[0] == name else set()
            if view is not None and view[0] == name:  # x = x[1:]: a view of memory no name holds any more
                view, shares = None, shares | {name}
            old = state.partners(name) if name in shares else set()
            array = self.is_array_expr(value, state)
            state.forget(name)
            if name not in self.scope.locals:
                return
            if array:
                state.arrays.add(name)
            if view is not None:
                self.serial += 1
                state.views[name] = _View(view[0], view[1], value, self.serial)
                return
            for n in (shares | old) - {name}:
                state.link(name, n)
        elif isinstance(target, (gast.Tuple, gast.List)):
            for elt in target.elts:
                self.bind(elt.value if isinstance(elt, gast.Starred) else elt, value, state)
        elif isinstance(target, (gast.Subscript, gast.Attribute)) and isinstance(target.value, gast.Name):
            if isinstance(target, gast.Subscript) and target.value.id in state.arrays:
                return  # an array copies what is stored into it
            for n in self.shares_with(value):  # the container now holds the value
                state.link(target.value.id, n)

    def is_local(self, node):
        return isinstance(node, gast.Name) and node.id in self.scope.locals

    @staticmethod
    def is_stable(node) -> bool:
        """Made of constants and names by arithmetic and slices only, so it can be evaluated again
        while none of its names is bound anew (:meth:`Sharing.forget` drops the views reading one)."""
        return all(isinstance(n, (gast.Name, gast.Constant, gast.Slice, gast.Tuple, gast.BinOp, gast.UnaryOp,
                                  gast.operator, gast.unaryop, gast.expr_context)) for n in build.walk(node))

    def view_of(self, value):
        """``(parent, kind)`` when ``value`` is an exact view of a local name, else None."""
        if self.is_local(value):
            return value.id, "same"
        if isinstance(value, gast.Subscript) and self.is_local(value.value) and self.is_stable(value.slice):
            return value.value.id, "index"
        if isinstance(value, gast.Attribute) and value.attr == "T" and self.is_local(value.value):
            return value.value.id, "T"
        if isinstance(value, gast.Attribute) and self.is_local(value.value) and value.attr not in _FRESH_ATTRIBUTES \
                and value.attr not in ("real", "imag", "flat", "base"):
            return value.value.id, "attr"  # obj.items: the object's field (an array's .real is refused)
        if isinstance(value, gast.Call) and not any(isinstance(a, gast.Starred) for a in value.args):
            func = value.func
            rest_stable = all(self.is_stable(k.value) for k in value.keywords if k.arg is not None) \
                and all(k.arg is not None for k in value.keywords)
            if isinstance(func, gast.Attribute) and self.is_local(func.value) and func.attr in VIEW_METHODS \
                    and rest_stable and all(self.is_stable(a) for a in value.args):
                kind = VIEW_METHODS[func.attr]
                if kind == "same" and (value.args or value.keywords):
                    return None  # y.view(dtype) reads the memory as another type
                if kind in ("transpose", "swapaxes") and not self.constant_axes(value.args, value.keywords, kind):
                    return None
                return func.value.id, kind
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                kind = VIEW_FUNCTIONS.get(target) if hashable(target) else None
                if kind is not None and value.args and self.is_local(value.args[0]) and rest_stable \
                        and all(self.is_stable(a) for a in value.args[1:]):
                    if kind in ("transpose", "swapaxes") and not self.constant_axes(value.args[1:], value.keywords,
                                                                                    kind):
                        return None
                    if kind == "same" and value.keywords:
                        return None
                    return value.args[0].id, kind
        return None

    @staticmethod
    def constant_axes(args, keywords, kind):
        parts = list(args) + [k.value for k in keywords]
        if kind == "swapaxes":
            return len(parts) == 2 and all(isinstance(p, gast.Constant) for p in parts)
        if not parts:
            return True
        if len(parts) == 1 and isinstance(parts[0], (gast.Tuple, gast.List)):
            parts = parts[0].elts
        return all(isinstance(p, gast.Constant) and isinstance(p.value, int) for p in parts)

    def is_array_expr(self, value, state) -> bool:
        """Whether ``value`` is surely a NumPy array or number: a NumPy call's result, or arithmetic on one."""
        if isinstance(value, gast.Name):
            return value.id in state.arrays
        if isinstance(value, gast.Constant):
            return isinstance(value.value, (int, float, complex)) and not isinstance(value.value, bool)
        if isinstance(value, gast.BinOp):
            return self.is_array_expr(value.left, state) or self.is_array_expr(value.right, state)
        if isinstance(value, gast.UnaryOp):
            return self.is_array_expr(value.operand, state)
        if isinstance(value, gast.Subscript):
            return self.is_array_expr(value.value, state)
        if isinstance(value, gast.Attribute) and value.attr in ("T", "real", "imag"):
            return self.is_array_expr(value.value, state)
        if isinstance(value, gast.Call):
            func = value.func
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                return isinstance(target, np.ufunc) or is_numpy(target) and callable(target) \
                    and not isinstance(target, type) and target not in _LIST_MAKERS
            if isinstance(func, gast.Attribute) and func.attr in FRESH_METHODS | set(VIEW_METHODS) \
                    and func.attr != "tolist":
                return self.is_array_expr(func.value, state)
        return False

    def shares_with(self, value, state=None) -> set:
        """The names whose memory the value of ``value`` may hold or share (none for new memory)."""
        if isinstance(value, (gast.Constant, gast.JoinedStr)):
            return set()
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            # Arithmetic makes a new array; only + and * of lists and tuples hold their operands' items,
            # and a list cannot be added to or multiplied by an array or a float.
            if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)) and not (
                    self.is_array_expr(value, self.state) or _float_constant(value.left)
                    or _float_constant(value.right)):
                return self.shares_with(value.left) | self.shares_with(value.right)
            return set()
        if isinstance(value, gast.Name):
            return {value.id} if not self.is_module_or_function(value) else set()
        if isinstance(value, gast.Attribute):
            if self.scope.is_static_path(value):
                target = self.scope.resolve(value)
                return set() if not isinstance(target, (np.ndarray, list, dict)) else names_read(value)
            if value.attr in _FRESH_ATTRIBUTES:
                return set()
            return self.shares_with(value.value)
        if isinstance(value, gast.Call):
            func = value.func
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                if target in (float, int, bool, len, str, range, abs, round) or (
                        is_numpy(target) and not (hashable(target) and target in OTHER_VIEWS)
                        and not (hashable(target) and target in VIEW_FUNCTIONS)):
                    return set()
            elif isinstance(func, gast.Attribute) and func.attr in FRESH_METHODS:
                return set()
        return {n for n in names_read(value) if not self.is_module_or_function(build.name(n))}

    def is_module_or_function(self, name_node) -> bool:
        if name_node.id in self.scope.locals:
            return False
        value = self.scope.value(name_node.id)
        return isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType, np.ufunc)) or callable(value) \
            and not hasattr(value, "__dict__") or isinstance(value, types.FunctionType) and not value.__closure__
