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
checked at run time to be on a number (see
:func:`~.aliasing_calls.helper_writes`). A write into a global or captured
variable is refused.

After this pass, every write in place either has no other name that sees it,
or is followed by the statements that give those names what Python gives them.

The pass is :class:`Aliasing`, which walks the statements in order (a loop
until what may share memory at its head stops changing), and its parts:

- :mod:`.aliasing_views`: which names may share memory after each binding,
  and which of them are exact views that can be made again;
- :mod:`.aliasing_lower`: in-place methods and ``out=`` written as writes,
  and the NumPy functions that write some other way refused;
- :mod:`.aliasing_writes`: the run-time questions before a write, and the
  statements after it that rebuild the base and its views;
- :mod:`.aliasing_calls`: what a function writes into among its parameters,
  and the refusals and run-time checks at its calls.

:func:`callee_writes` asks the same of a callable met only at run time
(``srcgrad.runtime.questions.check_callee_writes`` calls it).
"""

from __future__ import annotations

import types

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import build
from .aliasing_calls import CalleeWriteChecks, helper_writes, known_method, param_writes, user_function
from .aliasing_lower import IN_PLACE_NAMES, WRITING_FUNCTIONS, InPlaceLowering
from .aliasing_views import MUTATING_METHODS, Sharing, ViewAnalysis, names_read
from .aliasing_writes import WriteRebuilds

__all__ = ["rewrite_writes", "callee_writes"]


def rewrite_writes(parsed, scope, namer, fdef, returns_self=False) -> None:
    """Rewrite ``fdef``'s body (the user's statements) so that no write in place is lost; see the module.

    ``returns_self``: the function (a constructor, a mutating method) returns its first parameter.
    """
    Aliasing(parsed, scope, namer).run(fdef, {scope.params[0]} if returns_self and scope.params else set())


def callee_writes(fn):
    """``(python function, offset, writes)`` for a callable met at run time, or None: a plain function,
    a bound method (offset 1: the object is the first parameter) or a callable object's ``__call__``."""
    offset = 0
    if isinstance(fn, types.MethodType):
        fn, offset = fn.__func__, 1
    elif not isinstance(fn, (types.FunctionType, type)) and isinstance(getattr(type(fn), "__call__", None),
                                                                        types.FunctionType):
        fn, offset = type(fn).__call__, 1
    if not user_function(fn):
        return None
    writes = helper_writes(fn)
    return (fn, offset, writes) if writes else None


class Aliasing(ViewAnalysis, InPlaceLowering, WriteRebuilds, CalleeWriteChecks):
    """The aliasing pass over one function: the walk, with its parts (see the module)."""

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
        state = Sharing()
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
                        and (node.func.attr in MUTATING_METHODS or node.func.attr in IN_PLACE_NAMES):
                    return True
                target = self.scope.resolve(node.func)
                if isinstance(target, np.ufunc) and len(node.args) > target.nin:
                    return True
                if target in WRITING_FUNCTIONS or target is getattr(np, "copyto", None):
                    return True
                if user_function(target) and helper_writes(target):
                    return True
            if isinstance(node, gast.FunctionDef) and node is not fdef:
                return True
            if isinstance(node, gast.Call) and (
                    isinstance(node.func, gast.Name) and node.func.id in self.scope.locals
                    or isinstance(node.func, gast.Attribute) and self.is_local(node.func.value)
                    and not known_method(node.func.attr)) and any(isinstance(a, gast.Name) for a in node.args):
                return True  # a callee known at run time only, given a name: it may write into it
        return False

    def data_globals(self, body):
        """Globals and captured variables the body reads that hold data (not modules, functions, classes)."""
        out = set()
        for n in names_read(gast.Module(body=body, type_ignores=[])):
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
            self.local_defs[s.name] = (s, param_writes(s, self.scope, self.parsed.filename))
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
            for child in [n for n, v in state.views.items() if v.parent != name and name in names_read(v.expr)]:
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
            found = self._reads[id(node)] = (node, names_read(node))
        return found[1]
