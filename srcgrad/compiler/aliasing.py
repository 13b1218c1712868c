"""Stage 4 (normalise), its aliasing part: writes in place made explicit, so later passes treat values as immutable.

The passes after this one read ``y[i] = v`` as ``y = with_item(y, i, v)`` and
``y *= 2`` as ``y = y * 2``: a new value under the old name. That is Python's
meaning only when no other name sees ``y``'s memory. This pass runs on the
user's statements, before A-normal form (:func:`~srcgrad.compiler.anf.normalise`
calls it, so reverse and forward mode share it), and for each statement that
writes in place finds the other names that may see the write and are read
afterwards. Then:

- A name made from another by a view (``z = y``, ``v = y[:1]``, ``y.T``,
  ``y.reshape(...)``, ``np.transpose(y)``, ...) from parts that never change
  is *exact*: its base and how to make it again are known. After a write
  through it, the base is rebuilt from it (``y[:1] = v``, ``y = v.T``,
  ``y = v.reshape(y.shape)``, ``y = z``) and every view of the base is made
  again from the new base (PyTorch's rebasing). Whether each one really shares
  memory is asked at run time, before the write, by ``viewed(v, y)``: a basic
  slice of an array does, advanced indexing and a list's slice copy, a number
  is rebound and not changed, and a write into an element of a list that
  something else holds is refused there.
- Any other name that may share memory with the written one (built from it
  by a call, holding it in a list, another parameter, a global) is checked at
  run time just before the write by ``check_unshared``: if it does share
  memory, the write is refused with the user's file, line and the fix.

In-place methods and ``out=`` are first written as writes (``y.fill(c)`` is
``y[...] = c`` and ``y.sort()`` is ``y[...] = np.sort(y)`` when ``y`` is an
array; ``np.exp(a, out=y)``, or ``np.exp(a, y)``, is ``y[...] = np.exp(a)``);
the NumPy functions and methods that write into an argument some other way
(``put``, ``resize``, ``np.copyto``...) are refused. A call to a function
that writes into an argument it was given (``def fill(h, v): h[0] = v``) is
refused at the call, unless the write is an augmented assignment, which is
checked at run time to be on a number (see :func:`helper_writes`). A write
into a global or captured variable is refused.

After this pass, every write in place either has no other name that sees it,
or is followed by the statements that give those names what Python gives them.
"""

from __future__ import annotations

import types
import weakref

import gast
import numpy as np

from ..errors import SrcgradError, UnsupportedSyntaxError
from . import build
from .normal import runtime_call

__all__ = ["rewrite_writes", "helper_writes", "REFUSED_METHODS"]

#: NumPy functions whose result may be a view of their first argument, and how to rebuild the base.
_VIEW_FUNCTIONS = {np.asarray: "same", np.asanyarray: "same", np.transpose: "transpose", np.reshape: "reshape",
                   np.ravel: "reshape", np.squeeze: "reshape", np.expand_dims: "reshape", np.swapaxes: "swapaxes"}
#: Array methods likewise (``y.view()`` with no dtype is the same memory, seen again).
_VIEW_METHODS = {"reshape": "reshape", "ravel": "reshape", "squeeze": "reshape", "transpose": "transpose",
                 "swapaxes": "swapaxes", "view": "same"}
#: NumPy functions that may return a view (or their argument) with no simple way back: a write
#: through their result is checked at run time, and refused when it would change the argument.
_OTHER_VIEWS = {getattr(np, n) for n in (
    "diagonal", "diag", "broadcast_to", "real", "imag", "moveaxis", "rollaxis", "flip", "fliplr", "flipud", "rot90",
    "split", "array_split", "hsplit", "vsplit", "dsplit", "ascontiguousarray", "asfortranarray", "require",
    "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "asarray_chkfinite", "trim_zeros",
    "real_if_close", "matrix_transpose", "permute_dims", "unstack", "meshgrid", "nan_to_num") if hasattr(np, n)}
#: Array methods whose result is new memory (or a number).
_FRESH_METHODS = {"copy", "flatten", "astype", "sum", "mean", "max", "min", "prod", "std", "var", "dot", "cumsum",
                  "cumprod", "round", "clip", "conj", "conjugate", "argmax", "argmin", "argsort", "item", "tolist",
                  "any", "all", "trace", "nonzero", "__copy__"}
#: Attributes holding immutable facts about a value.
_FRESH_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "__class__"}
#: Methods that change their receiver (a list, dict, set or array) in place.
_MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort",
                     "reverse", "popitem", "add", "discard", "fill", "put", "resize", "itemset", "partition",
                     "setfield", "byteswap", "setflags", "difference_update", "intersection_update",
                     "symmetric_difference_update"}
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
_WRITING_FUNCTIONS = {getattr(np, n): fix for n, fix in (
    ("put", "write y[np.unravel_index(ind, y.shape)] = v, or build the array with np.where"),
    ("putmask", "use y = np.where(mask, values, y)"),
    ("place", "use y = np.where(mask, values, y)"),
    ("put_along_axis", "build the array with np.where, or assign y[index] = v"),
    ("fill_diagonal", "use y = y + np.diag(v - np.diag(y)), or y[i, i] = v in a loop"),
) if hasattr(np, n)}


def _is_numpy(fn) -> bool:
    return (getattr(fn, "__module__", None) or "").split(".")[0] == "numpy" or isinstance(fn, np.ufunc)


class _View:
    """How a name was made from its parent: ``kind`` ("same", "index", "T", "transpose", "swapaxes",
    "reshape") and the expression that makes it (read again to make it from a new parent)."""

    __slots__ = ("parent", "kind", "expr", "serial")

    def __init__(self, parent, kind, expr, serial):
        self.parent, self.kind, self.expr, self.serial = parent, kind, expr, serial

    def same_as(self, other) -> bool:
        return other is not None and (self.parent, self.kind, self.expr) == (other.parent, other.kind, other.expr)


class _State:
    """What may share memory at one point: exact views, and pairs that may share for reasons unknown."""

    def __init__(self, views=None, may=None, arrays=None):
        self.views: dict[str, _View] = dict(views or {})
        self.may: dict[str, set] = {k: set(v) for k, v in (may or {}).items()}
        #: Names known to hold a NumPy array (or number): an item stored into one is copied, not held.
        self.arrays: set = set(arrays or ())

    def copy(self):
        return _State(self.views, self.may, self.arrays)

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
        for child in [n for n, v in self.views.items() if v.parent != name and name in _reads(v.expr)]:
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


def _reads(node) -> set:
    return {n.id for n in build.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def rewrite_writes(parsed, scope, namer, fdef, returns_self=False) -> None:
    """Rewrite ``fdef``'s body (the user's statements) so that no write in place is lost; see the module.

    ``returns_self``: the function (a constructor, a mutating method) returns its first parameter.
    """
    _Aliasing(parsed, scope, namer).run(fdef, {scope.params[0]} if returns_self and scope.params else set())


class _Aliasing:
    def __init__(self, parsed, scope, namer):
        self.parsed, self.scope, self.namer = parsed, scope, namer
        self.serial = 0
        self.emit = True
        self._reads: dict = {}
        #: name -> (def node, what it writes into) for each function defined in the body
        self.local_defs: dict = {}

    # -- errors ------------------------------------------------------------
    def refuse(self, node, what, fix):
        raise UnsupportedSyntaxError(
            f"{what} is not supported in differentiated code (in {self.parsed.name!r})",
            filename=self.parsed.filename, lineno=getattr(node, "lineno", None),
            col=getattr(node, "col_offset", None), fix=fix)

    # -- the walk ------------------------------------------------------------
    def run(self, fdef, live_out):
        body = fdef.body
        if self.scope.generated or not self._writes_anything(fdef):
            return
        #: Names whose value never changes in the function: a view made with them can be made again.
        state = _State()
        data = [n for n in self.scope.params] + sorted(self.data_globals(body))
        for a in data:  # the caller may pass one array twice, or an array a global holds too
            for b in data:
                state.link(a, b)
        fdef.body = self.block(body, state, live_out)

    def _writes_anything(self, fdef) -> bool:
        """Whether the body has a statement this pass may have to rewrite (most functions have none)."""
        for node in build.walk(gast.Module(body=fdef.body, type_ignores=[])):
            if isinstance(node, (gast.AugAssign, gast.Subscript, gast.Attribute)) and \
                    isinstance(getattr(node, "ctx", gast.Store()), gast.Store):
                return True
            if isinstance(node, gast.Call):
                if any(k.arg == "out" for k in node.keywords) or isinstance(node.func, gast.Attribute) \
                        and node.func.attr in _MUTATING_METHODS:
                    return True
                target = self.scope.resolve(node.func)
                if isinstance(target, np.ufunc) and len(node.args) > target.nin:
                    return True
                if target in _WRITING_FUNCTIONS or target is getattr(np, "copyto", None):
                    return True
                if _user_function(target) and helper_writes(target):
                    return True
            if isinstance(node, gast.FunctionDef) and node is not fdef:
                return True
            if isinstance(node, gast.Call) and (
                    isinstance(node.func, gast.Name) and node.func.id in self.scope.locals
                    or isinstance(node.func, gast.Attribute) and self.is_local(node.func.value)
                    and not _known_method(node.func.attr)) and any(isinstance(a, gast.Name) for a in node.args):
                return True  # a callee known at run time only, given a name: it may write into it
        return False

    def data_globals(self, body):
        """Globals and captured variables the body reads that hold data (not modules, functions, classes)."""
        out = set()
        for n in _reads(gast.Module(body=body, type_ignores=[])):
            if n in self.scope.locals:
                continue
            value = self.scope.value(n)
            if isinstance(value, (np.ndarray, list, dict, set)) or (
                    hasattr(value, "__dict__") and not callable(value)
                    and not isinstance(value, (types.ModuleType, type))):
                out.add(n)
        return out

    def block(self, stmts, state, live_out):
        out = []
        after = [set() for _ in stmts]
        running = set(live_out)
        for i in range(len(stmts) - 1, -1, -1):
            after[i] = set(running)
            running |= self.reads(stmts[i])
        for stmt, live in zip(stmts, after):
            for s in self.lower(stmt):
                out.extend(self.stmt(s, state, live))
        return out

    def stmt(self, s, state, live):
        if isinstance(s, gast.If):
            other = state.copy()
            s.body = self.block(s.body, state, live)
            s.orelse = self.block(s.orelse, other, live)
            self.replace(state, state.join(other))
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            loop_live = live | self.reads(s)
            entry = state.copy()
            self.emit = False  # the state at the loop's head: iterate to a fixed point first
            try:
                for _ in range(4):
                    trial = entry.copy()
                    self.loop_target(s, trial)
                    self.block(build.copy_tree(s.body), trial, loop_live)
                    joined = entry.join(trial)
                    if joined.same(entry):
                        break
                    entry = joined
            finally:
                self.emit = True
            self.replace(state, entry)
            self.loop_target(s, state)
            s.body = self.block(s.body, state, loop_live)
            self.replace(state, state.join(entry))
            return [s]
        if getattr(s, "_srcgrad_rebase", False):
            return [s]
        if isinstance(s, gast.FunctionDef):  # a helper defined here: what it writes into, for its calls
            state.forget(s.name)
            self.local_defs[s.name] = (s, _param_writes(s, self.scope, self.parsed.filename))
            return [s]
        out = self.check_helper_calls(s, state, live)
        writes = self.written(s, live)
        for name, node in writes:
            out.extend(self.before_write(name, node, state, live))
        out.append(s)
        for name, node in writes:
            out.extend(self.after_write(name, node, state, live))
        if isinstance(s, gast.Assign):
            for target in s.targets:
                self.bind(target, s.value, state)
        elif isinstance(s, gast.AnnAssign) and s.value is not None:
            self.bind(s.target, s.value, state)
        elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
            name = s.target.id  # i += 1 rebinds a number: a view made with i cannot be made again
            for child in [n for n, v in state.views.items() if v.parent != name and name in _reads(v.expr)]:
                state.link(child, state.views.pop(child).parent)
        return out

    @staticmethod
    def replace(state, new):
        state.views, state.may, state.arrays = new.views, new.may, new.arrays

    def loop_target(self, s, state):
        """``for row in y``: each ``row`` is an item of ``y`` (a view of a row, for an array), not ``y``."""
        if isinstance(s, gast.For):
            iterable = s.iter
            fresh = isinstance(iterable, gast.Call) and self.scope.resolve(iterable.func) is range
            for t in build.walk(s.target):
                if isinstance(t, gast.Name):
                    state.forget(t.id)
                    for n in (set() if fresh else self.shares_with(iterable)) - {t.id}:
                        state.link(t.id, n)

    def reads(self, node) -> set:
        """The names read anywhere in ``node`` (kept per node: every block asks for its statements')."""
        found = self._reads.get(id(node))
        if found is None:
            found = self._reads[id(node)] = (node, _reads(node))
        return found[1]

    # -- what a statement binds ------------------------------------------------
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
        while none of its names is bound anew (:meth:`_State.forget` drops the views reading one)."""
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
            if isinstance(func, gast.Attribute) and self.is_local(func.value) and func.attr in _VIEW_METHODS \
                    and rest_stable and all(self.is_stable(a) for a in value.args):
                kind = _VIEW_METHODS[func.attr]
                if kind == "same" and (value.args or value.keywords):
                    return None  # y.view(dtype) reads the memory as another type
                if kind in ("transpose", "swapaxes") and not self.constant_axes(value.args, value.keywords, kind):
                    return None
                return func.value.id, kind
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                kind = _VIEW_FUNCTIONS.get(target) if _hashable(target) else None
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
                return isinstance(target, np.ufunc) or _is_numpy(target) and callable(target) \
                    and not isinstance(target, type) and target not in _LIST_MAKERS
            if isinstance(func, gast.Attribute) and func.attr in _FRESH_METHODS | set(_VIEW_METHODS) \
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
                return set() if not isinstance(target, (np.ndarray, list, dict)) else _reads(value)
            if value.attr in _FRESH_ATTRIBUTES:
                return set()
            return self.shares_with(value.value)
        if isinstance(value, gast.Call):
            func = value.func
            if self.scope.is_static_path(func):
                target = self.scope.resolve(func)
                if target in (float, int, bool, len, str, range, abs, round) or (
                        _is_numpy(target) and not (_hashable(target) and target in _OTHER_VIEWS)
                        and not (_hashable(target) and target in _VIEW_FUNCTIONS)):
                    return set()
            elif isinstance(func, gast.Attribute) and func.attr in _FRESH_METHODS:
                return set()
        return {n for n in _reads(value) if not self.is_module_or_function(build.name(n))}

    def is_module_or_function(self, name_node) -> bool:
        if name_node.id in self.scope.locals:
            return False
        value = self.scope.value(name_node.id)
        return isinstance(value, (types.ModuleType, type, types.BuiltinFunctionType, np.ufunc)) or callable(value) \
            and not hasattr(value, "__dict__") or isinstance(value, types.FunctionType) and not value.__closure__

    # -- writes ----------------------------------------------------------------
    def written(self, s, live):
        """``(name, node)`` for each name whose memory ``s`` changes in place."""
        out = []
        if isinstance(s, (gast.Assign, gast.AnnAssign)):
            for target in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                for t in build.walk(target):
                    if isinstance(t, (gast.Subscript, gast.Attribute)) and isinstance(t.ctx, gast.Store) \
                            and isinstance(t.value, gast.Name):
                        out.append((t.value.id, t))
        elif isinstance(s, gast.AugAssign):
            t = s.target
            out.append((t.id if isinstance(t, gast.Name) else t.value.id, s))
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            func = s.value.func
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                    and (func.attr in _MUTATING_METHODS or func.value.id in self.scope.locals
                         and func.attr not in _FRESH_METHODS):
                out.append((func.value.id, s))
        for name, node in list(out):
            if name not in self.scope.locals and isinstance(node, gast.Expr) and name not in live:
                out.remove((name, node))  # seen.append(x) on a global: runs as written, as Python runs it
            elif name not in self.scope.locals:
                self.refuse(node, f"writing into '{name}', which is not a local variable or parameter "
                                  f"(a global or a captured variable)",
                            f"pass {name} in as an argument and return the new value")
        return out

    def live_partners(self, name, state, live):
        return sorted(m for m in state.partners(name) if m in live)

    def before_write(self, name, node, state, live):
        """The run-time questions asked before a write into ``name``: which views see it, what may share it."""
        self.pending = getattr(self, "pending", {})
        partners = self.live_partners(name, state, live)
        if not partners or not self.emit:
            return []
        group = state.group(name)
        out = []
        root = state.root(name)
        exact = [m for m in partners if m in group]
        unknown = [m for m in partners if m not in group]
        line = getattr(node, "lineno", None)
        if unknown:
            check = runtime_call("check_unshared", build.name(name),
                             build.tuple_([build.name(m) for m in unknown]),
                             build.const(tuple(unknown)), build.const(name), build.const(self.parsed.filename),
                             build.const(line))
            out.append(_at(build.expr_stmt(check), node))
        if exact:
            needed = self.needed(state, group, set(exact) | {name}, root)
            conds = {}
            for m in sorted(needed | {name}, key=lambda n: state.views[n].serial if n in state.views else 0):
                if m == root:
                    continue
                c = self.namer.fresh("shares")
                self.scope.locals.add(c)
                conds[m] = c
                out.append(_at(build.assign(c, runtime_call(
                    "viewed", build.name(m), build.name(root), build.const(m), build.const(self.parsed.filename),
                    build.const(line))), node))
            if name != root:
                # A write that does not reach the root reaches no view made from it either; but it may still
                # reach a name between the two (v3 = np.expand_dims(number, 0); v4 = v3: v4 is v3, not a view of
                # the number). Those are not rebuilt in that case: refuse when one of them would change.
                between = [m for m in exact if m != root]
                if between:
                    check = runtime_call("check_unshared", build.name(name), build.tuple_([build.name(m) for m in between]),
                                     build.const(tuple(between)), build.const(name),
                                     build.const(self.parsed.filename), build.const(line))
                    guard = gast.If(test=gast.UnaryOp(op=gast.Not(), operand=build.name(conds[name])),
                                    body=[_at(build.expr_stmt(check), node)], orelse=[])
                    out.append(_at(guard, node))
            if name == root:
                c = self.namer.fresh("in_place")
                self.scope.locals.add(c)
                conds[name] = c
                out.append(_at(build.assign(c, runtime_call(
                    "viewed", build.name(name), build.name(name), build.const(name),
                    build.const(self.parsed.filename), build.const(line))), node))
            self.pending[id(node)] = (root, needed, conds)
        return out

    def needed(self, state, group, wanted, root):
        """The group's names to make again: those read later, and the views they are made from."""
        out = set()
        for m in wanted:
            while m in state.views and m in group and m != root and m not in out:
                out.add(m)
                m = state.views[m].parent
        return out

    def after_write(self, name, node, state, live):
        """After a write into ``name``: rebuild the base from it, then make its views again from the base."""
        pending = getattr(self, "pending", {}).pop(id(node), None)
        if pending is None:
            return []
        root, needed, conds = pending
        body = []
        m = name
        while m != root:  # the base, rebuilt from the view written into, one step at a time
            view = state.views[m]
            body.append(self.unview(m, view, node))
            m = view.parent
        again = []
        for m in sorted(needed, key=lambda n: state.views[n].serial):
            remake = _rebase(build.assign(build.store(m), build.copy_tree(state.views[m].expr)), node)
            again.append(remake if m in (name, *self.chain(state, name, root)) else
                         _rebase(gast.If(test=build.name(conds[m]), body=[remake], orelse=[]), node))
        return [_rebase(gast.If(test=build.name(conds[name]), body=body + again or [gast.Pass()], orelse=[]), node)]

    @staticmethod
    def chain(state, name, root):
        out = []
        m = name
        while m != root and m in state.views:
            m = state.views[m].parent
            out.append(m)
        return out

    def unview(self, child, view, node):
        """The statement giving ``view.parent`` what writing into ``child`` wrote into it."""
        parent = view.parent
        if view.kind == "same":
            return _rebase(build.assign(build.store(parent), build.name(child)), node)
        if view.kind == "index":
            target = gast.Subscript(value=build.name(parent), slice=build.copy_tree(view.expr.slice), ctx=gast.Store())
            return _rebase(build.assign(target, build.name(child)), node)
        if view.kind == "T":
            return _rebase(build.assign(build.store(parent), build.attr(child, "T")), node)
        if view.kind == "attr":
            target = gast.Attribute(value=build.name(parent), attr=view.expr.attr, ctx=gast.Store())
            return _rebase(build.assign(target, build.name(child)), node)
        if view.kind == "reshape":
            shape = build.attr(parent, "shape")
            return _rebase(build.assign(build.store(parent), build.call(build.attr(child, "reshape"), shape)), node)
        expr = view.expr
        method = isinstance(expr.func, gast.Attribute) and self.is_local(expr.func.value)
        parts = list(expr.args if method else expr.args[1:]) + [k.value for k in expr.keywords]
        if view.kind == "swapaxes":
            back = build.call(build.attr(child, "swapaxes"), *[build.copy_tree(p) for p in parts])
        else:  # transpose: by the inverse permutation
            if len(parts) == 1 and isinstance(parts[0], (gast.Tuple, gast.List)):
                parts = parts[0].elts
            axes = [p.value for p in parts]
            inverse = [int(i) for i in np.argsort(axes)] if axes else []
            back = build.call(build.attr(child, "transpose"), *[build.const(i) for i in inverse])
        return _rebase(build.assign(build.store(parent), back), node)

    # -- in-place methods and out=, written as writes ------------------------------
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
            hoisted = _at(build.assign(temp, target.value), s)
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
                return [self.as_write(s, out, s.value), _at(build.assign(s.targets[0], build.name(out.id)), s)]
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
        return _at(build.expr_stmt(runtime_call(
            "refuse_container_method", build.name(func.value.id), build.const(func.attr),
            build.const(CONTAINER_FIXES[func.attr]), build.const(self.parsed.filename),
            build.const(getattr(s, "lineno", None)))), s)

    def lower_method(self, s, call, func):
        receiver = func.value.id
        if func.attr in REFUSED_METHODS:
            check = runtime_call("refuse_array_method", build.name(receiver), build.const(func.attr),
                             build.const(REFUSED_METHODS[func.attr]), build.const(self.parsed.filename),
                             build.const(getattr(s, "lineno", None)))
            return [_at(build.expr_stmt(check), s), s]
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
        write = _at(build.assign(store, new), s)
        orelse = [s]
        if func.attr == "sort":
            orelse = [_at(build.expr_stmt(runtime_call(
                "refuse_container_method", build.name(receiver), build.const("sort"),
                build.const("xs = sorted(xs)"), build.const(self.parsed.filename),
                build.const(getattr(s, "lineno", None)))), s), s]
        # Only an array's fill and sort are NumPy's; a list's sort, or a user's class, runs as written.
        test = runtime_call("is_array", build.name(receiver))
        s._srcgrad_lowered = True
        return [_at(gast.If(test=test, body=[write], orelse=orelse), s)]

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
        return _at(build.assign(store, call), s)

    def refuse_writing_function(self, s, call):
        if not self.scope.is_static_path(call.func) or self.scope.fn.__module__.startswith("srcgrad.rules"):
            return
        target = self.scope.resolve(call.func)
        if _hashable(target) and target in _WRITING_FUNCTIONS:
            self.refuse(call, f"np.{target.__name__}, which writes into its first argument", _WRITING_FUNCTIONS[target])
        if target is getattr(np, "copyto", None):
            self.refuse(call, "np.copyto, which writes into its first argument", "write dst[...] = src")

    # -- helpers that write into what they are given ---------------------------------
    def check_helper_calls(self, s, state, live):
        """Refuse a call to a helper that writes into an argument (run-time checks for ``+=`` and the like)."""
        out = []
        rebound = set()  # h = fill(h, a): the old h is not read again
        if isinstance(s, gast.Assign):
            for target in s.targets:
                rebound |= {t.id for t in build.walk(target) if isinstance(t, gast.Name)}

        def seen_again(arg):
            if not (isinstance(arg, gast.Name) and arg.id in self.scope.locals):
                return True
            return (arg.id in live and arg.id not in rebound) or any(m in live for m in state.partners(arg.id))

        for node, nested in _calls(s):
            if isinstance(node.func, gast.Name) and node.func.id in self.local_defs:
                fn, writes = self.local_defs[node.func.id]
            elif self.scope.is_static_path(node.func) and _user_function(self.scope.resolve(node.func)):
                fn = self.scope.resolve(node.func)
                writes = helper_writes(fn)
            else:
                if not nested:  # (a check written before the statement cannot see a lambda's names)
                    out.extend(self.dynamic_call_check(s, node, seen_again))
                continue
            if not writes:
                continue
            for param, (kind, filename, lineno) in writes.items():
                arg = _argument(fn, node, param)
                if arg is None or isinstance(arg, (gast.Constant, gast.BinOp, gast.UnaryOp)) or \
                        isinstance(arg, gast.Call):
                    continue  # a new value nothing else holds: a change to it is not seen
                if not seen_again(arg):
                    continue  # return fill(x, out): nothing reads the caller's out again
                where = f"{filename}:{lineno}"
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", "the helper")
                if nested and kind == "augmented":
                    continue  # (x += 1 in the helper: asked at run time, which a lambda's call is not)
                if kind == "augmented" and isinstance(arg, gast.Name):
                    # x += 1 changes an array or a list in place, and rebinds a number: ask at run time.
                    out.append(_at(build.expr_stmt(runtime_call(
                        "refuse_unless_number", build.name(arg.id), build.const(name), build.const(param),
                        build.const(where), build.const(self.parsed.filename), build.const(getattr(s, "lineno", None)))),
                        s))
                    continue
                self.refuse(node, f"passing '{_text(arg)}' to {name}(), which changes its parameter '{param}' "
                                  f"in place ({where}: {kind}; Python would let the caller see the change),",
                            f"make {name} end with 'return {param}' and assign what it returns: "
                            f"{_text(arg)} = {_text(node)}")
        return out if self.emit else []

    def dynamic_call_check(self, s, call, seen_again):
        """For a callee known only at run time (``self.fill(h)``, ``g(h)`` with ``g`` a value): check
        there, before the call, that it writes into none of the arrays, lists and dicts it is given that
        the caller reads again (:func:`srcgrad.runtime.structure.check_callee_writes`)."""
        func = call.func
        if isinstance(func, gast.Name) and func.id in self.scope.locals:
            receiver, attr = func, None
        elif isinstance(func, gast.Attribute) and self.is_local(func.value) and not _known_method(func.attr):
            receiver, attr = func.value, func.attr
        else:
            return []
        if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return []
        args = [a if isinstance(a, gast.Name) and seen_again(a) else None for a in call.args]
        keywords = {k.arg: k.value for k in call.keywords if isinstance(k.value, gast.Name) and seen_again(k.value)}
        if not any(args) and not keywords:
            return []
        check = runtime_call(
            "check_callee_writes", build.name(receiver.id), build.const(attr),
            build.tuple_([build.name(a.id) if a is not None else build.const(None) for a in args]),
            build.tuple_([build.const(a.id if a is not None else None) for a in args]),
            gast.Dict(keys=[build.const(k) for k in keywords], values=[build.name(v.id) for v in keywords.values()]),
            build.const(self.parsed.filename), build.const(getattr(s, "lineno", None)))
        return [_at(build.expr_stmt(check), s)]


_SCOPES = (gast.Lambda, gast.ListComp, gast.DictComp, gast.SetComp, gast.GeneratorExp, gast.FunctionDef)


def _calls(node):
    """``(call, nested)`` for each call in the statement ``node``; ``nested`` inside a lambda or a
    comprehension, whose own names the statement's surroundings do not have."""
    todo = [(node, False)]
    for n, nested in todo:
        if isinstance(n, gast.Call):
            yield n, nested
        inner = nested or (isinstance(n, _SCOPES) and n is not node)
        for field in build.child_fields(n.__class__):
            value = getattr(n, field, None)
            for child in (value if isinstance(value, list) else [value]):
                if isinstance(child, gast.AST):
                    todo.append((child, inner))


def _known_method(attr) -> bool:
    """A method of arrays, lists or dicts (or one with a rule): not a user's method that might write."""
    from ..rules import registry

    return attr in _FRESH_METHODS or attr in _VIEW_METHODS or attr in registry.method_rules \
        or attr in registry.nondiff_methods or attr in (
            "append", "extend", "items", "keys", "values", "get", "index", "count", "T", "astype", "tolist")


def callee_writes(fn):
    """``(python function, offset, writes)`` for a callable met at run time, or None: a plain function,
    a bound method (offset 1: the object is the first parameter) or a callable object's ``__call__``."""
    offset = 0
    if isinstance(fn, types.MethodType):
        fn, offset = fn.__func__, 1
    elif not isinstance(fn, (types.FunctionType, type)) and isinstance(getattr(type(fn), "__call__", None),
                                                                        types.FunctionType):
        fn, offset = type(fn).__call__, 1
    if not _user_function(fn):
        return None
    writes = helper_writes(fn)
    return (fn, offset, writes) if writes else None


def _argument(fn, call, param):
    """The argument expression ``call`` passes for ``fn``'s parameter ``param`` (``fn`` a function, or a
    ``def`` node), or None."""
    if isinstance(fn, gast.FunctionDef):
        positional = [a.id for a in fn.args.args]
    else:
        positional = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    for k in call.keywords:
        if k.arg == param:
            return k.value
    if param in positional:
        i = positional.index(param)
        if any(isinstance(a, gast.Starred) for a in call.args[:i + 1]):
            return gast.Name(id="*args", ctx=gast.Load(), annotation=None, type_comment=None)
        if i < len(call.args):
            return call.args[i]
    return None


#: code object -> what its function writes into (weakly: a notebook cell run again makes new code).
_helper_writes = weakref.WeakKeyDictionary()


def helper_writes(fn, depth=0) -> dict:
    """``{param: (what, file, line)}``: the parameters ``fn`` writes into in place, as far as its source shows.

    A write is a subscript or attribute assignment into the parameter, a
    mutating method called on it, ``out=`` it, an augmented assignment to it
    (``"augmented"``: in place for an array or list, a rebinding for a
    number), or passing it to another function that writes into it. Once the
    parameter is bound anew at the top of the body, later writes change the
    new value, not the caller's.
    """
    key = fn.__code__
    found = _helper_writes.get(key)
    if found is not None:
        return found
    _helper_writes[key] = {}  # (recursion: a function calling itself adds nothing new)
    from .parse import parse_function
    from .resolve import Scope

    try:
        parsed = parse_function(fn)
    except SrcgradError:
        return {}
    out = _param_writes(parsed.node, Scope(fn, parsed.node), parsed.filename, depth)
    _helper_writes[key] = out
    return out


def _param_writes(fdef, scope, filename, depth=0) -> dict:
    """:func:`helper_writes` of the function ``fdef`` (a ``def`` node) whose names ``scope`` resolves."""
    args = fdef.args
    tracked = {a.id for a in args.args + args.kwonlyargs}
    out: dict = {}

    #: local name -> the parameter whose memory it may be (v = x[:1], z = x, row = x[i], for r in x)
    derived: dict = {}

    def note(param, what, node):
        param = derived.get(param, param)
        if param in tracked and param not in out:
            out[param] = (what, filename, getattr(node, "lineno", fdef.lineno))

    def derive(target, value):
        """``target`` may hold a parameter's memory when ``value`` reads one, unless it is new memory."""
        fresh = isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant))
        if isinstance(value, gast.Call):
            func = value.func
            callee = scope.resolve(func) if scope.is_static_path(func) else None
            fresh = callee is not None and _is_numpy(callee) and not (
                _hashable(callee) and (callee in _VIEW_FUNCTIONS or callee in _OTHER_VIEWS)) \
                or isinstance(func, gast.Attribute) and func.attr in _FRESH_METHODS
        if fresh:
            value = gast.Constant(value=None, kind=None)
        sources = sorted(derived.get(n, n) for n in _reads(value) if derived.get(n, n) in tracked)
        for t in build.walk(target):
            if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store) and t.id not in tracked:
                if sources:
                    derived[t.id] = sources[0]
                else:
                    derived.pop(t.id, None)  # bound to new memory

    def visit(stmts, top):
        """Statements in order (a loop's body twice: a view made late is written early in the next turn)."""
        for s in stmts:
            if isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):
                    derive(s.target, s.iter)
                notes(s.iter if isinstance(s, gast.For) else s.test)
                visit(s.body, False)
                visit(s.body, False)
                continue
            if isinstance(s, gast.If):
                notes(s.test)
                visit(s.body, False)
                visit(s.orelse, False)
                continue
            if isinstance(s, gast.FunctionDef):
                continue
            notes(s)
            if isinstance(s, gast.Assign):
                for t in s.targets:
                    derive(t, s.value)
            if top and isinstance(s, gast.Assign):
                for t in s.targets:
                    if isinstance(t, gast.Name):
                        tracked.discard(t.id)  # rebound: later writes change the new value

    def notes(s):
            for node in build.walk(s):
                if isinstance(node, (gast.FunctionDef, gast.Lambda)):
                    continue
                if isinstance(node, (gast.Subscript, gast.Attribute)) and isinstance(node.ctx, gast.Store) \
                        and isinstance(node.value, gast.Name):
                    note(node.value.id, f"'{_text(node)} = ...'", node)
                elif isinstance(node, gast.AugAssign):
                    t = node.target
                    if isinstance(t, gast.Name):
                        note(t.id, "augmented", node)
                    elif isinstance(t.value, gast.Name):
                        note(t.value.id, f"'{_text(t)} {_op_text(node.op)}= ...'", node)
                elif isinstance(node, gast.Call):
                    func = node.func
                    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                            and func.attr in _MUTATING_METHODS:
                        note(func.value.id, f"'{func.value.id}.{func.attr}(...)'", node)
                    for k in node.keywords:
                        if k.arg == "out" and isinstance(k.value, gast.Name):
                            note(k.value.id, f"out={k.value.id}", node)
                    target = scope.resolve(func) if scope.is_static_path(func) else None
                    if isinstance(target, np.ufunc) and len(node.args) > target.nin \
                            and isinstance(node.args[-1], gast.Name):
                        note(node.args[-1].id, f"the output argument of np.{target.__name__}", node)
                    if _user_function(target) and depth < 4:
                        for param, (what, _, _) in helper_writes(target, depth + 1).items():
                            arg = _argument(target, node, param)
                            if isinstance(arg, gast.Name):
                                note(arg.id, f"passed to {getattr(func, 'id', 'a helper')}(), which writes "
                                             f"into it", node)

    visit(fdef.body, True)
    return out


def _text(node) -> str:
    import ast

    return ast.unparse(gast.gast_to_ast(node))


def _op_text(op) -> str:
    import ast

    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
            ast.FloorDiv: "//", ast.Mod: "%"}.get(type(gast.gast_to_ast(op)), "?")


#: NumPy functions returning a list or tuple (of views), not an array.
_LIST_MAKERS = {getattr(np, n) for n in ("split", "array_split", "hsplit", "vsplit", "dsplit", "broadcast_arrays",
                                         "meshgrid", "unstack", "nonzero", "where") if hasattr(np, n)}


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


def _float_constant(node) -> bool:
    return isinstance(node, gast.Constant) and isinstance(node.value, (float, complex))


def _user_function(fn) -> bool:
    """A Python function srcgrad differentiates through its source (not NumPy's, not srcgrad's own, no rule)."""
    if not isinstance(fn, types.FunctionType) or _is_numpy(fn):
        return False
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("srcgrad."):  # (srcgrad's own layers and helpers write into nothing they are given)
        return False
    from ..rules import registry

    return registry.lookup(fn) is None and not registry.is_nondiff(fn)


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _at(node, like):
    """``node`` placed at the user's line of ``like`` (for messages, and the backward's comments)."""
    node.lineno = getattr(like, "lineno", None) or 0
    node.col_offset = getattr(like, "col_offset", 0)
    return node


def _rebase(node, like):
    """A statement this pass wrote to give a view's base (or a view) its new value: not a write to look at."""
    node._srcgrad_rebase = True
    return _at(node, like)
