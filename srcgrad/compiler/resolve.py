"""Stage 3, resolve: say what each name in the function refers to.

After this pass a :class:`Scope` answers, for every name, whether it is a
parameter, a local variable, a captured (closure) variable, a global or a
builtin, and for the non-local ones what object it holds *now*, at
transform time. The compiler uses those objects only to classify call
sites (a rule to inline, a constant, a function to differentiate through);
the generated code still reads globals and captured variables at run
time, so one compiled adjoint serves every closure made from the same code.

What the compiler asked is recorded in :attr:`Scope.resolved`: the generated
code depends on those answers (a rule inlined for ``np.sum``, a callee
classified as constant), so the cache guards each compiled entry with them
(:mod:`srcgrad.compiler.guard`) and compiles anew when one no longer holds.
"""

from __future__ import annotations

import builtins
import os
import sys
import types

import gast
import numpy as np

from . import build
from .library import is_library_file

__all__ = ["Scope", "MISSING", "is_constant_value", "is_user_module"]


class _Missing:
    def __repr__(self):
        return "MISSING"


MISSING = _Missing()


def is_constant_value(value) -> bool:
    """Values that hold nothing a gradient can reach: modules, classes, ints, strings, builtin functions...

    This is about the value itself (does it need a gradient of its own?),
    never about calling it: a call of a builtin function or a ufunc gets its
    derivative from a rule or the nograd list, or is refused (``NoRuleError``).
    A module is constant as a whole; a differentiable value read from a
    user's module (``config.W``) is not (see :func:`is_user_module`).
    """
    if value is MISSING or value is None:
        return True
    if isinstance(value, (bool, int, str, bytes, type, types.ModuleType, np.dtype, range, slice)):
        return True
    if isinstance(value, (types.BuiltinFunctionType, np.ufunc, types.MethodWrapperType)):
        return True
    if isinstance(value, types.FunctionType):
        # A function matters only if it reaches arrays through its closure or globals;
        # those are found at run time through the structural gradient.
        return False
    return False


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_user_module(module) -> bool:
    """A module of the user's program (not srcgrad's, nor library code: :func:`~.library.is_library_file`).

    Its arrays are the user's values, found as globals are: ``config.W``
    gets a gradient like a global ``W``. A library's (``np.pi``) are constants.
    """
    filename = getattr(module, "__file__", None)
    if filename is None:
        return getattr(module, "__name__", "") not in sys.builtin_module_names
    return not os.path.abspath(filename).startswith(_PACKAGE) and not is_library_file(filename)


class Scope:
    """Names of one function: parameters, locals, captured variables, globals."""

    def __init__(self, fn: types.FunctionType, fdef: gast.FunctionDef):
        self.fn = fn
        args = fdef.args
        #: Parameters in the order the forward takes them: named, then *args, then keyword-only.
        self.vararg = args.vararg.id if args.vararg is not None else None
        self.params = [a.id for a in args.args] + ([self.vararg] if self.vararg else []) \
            + [a.id for a in args.kwonlyargs]
        self.locals = set(self.params)
        for node in build.walk(gast.Module(body=fdef.body, type_ignores=[])):
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
                self.locals.add(node.id)
        self.freevars = tuple(fn.__code__.co_freevars)
        #: A forward or backward srcgrad generated (differentiated again, for higher order).
        #: Its captured variables are the helpers, rules and modules srcgrad put there, the
        #: same in every instance of the code: constants, never gradients. (Not so for a
        #: lambda the generated code makes: that captures the user's values.)
        self.generated = getattr(fn, "_srcgrad_generated", False)
        self._cells = dict(zip(self.freevars, fn.__closure__ or ()))
        self.globals = fn.__globals__
        b = self.globals.get("__builtins__", builtins)
        self.builtins = b.__dict__ if isinstance(b, types.ModuleType) else b
        #: ``(where, name) -> (holder, value, how)`` for each answer given about a non-local name:
        #: ``where`` is "global", "builtin", "cell" (holder: its index) or "attr" (holder: the module
        #: or class); ``how`` is "is" (its value was read) or "in" (only whether it exists).
        self.resolved: dict = {}

    def kind(self, name: str) -> str:
        if name in self.locals:
            return "local"
        if name in self._cells:
            return "free"
        if name in self.globals:
            self._note("global", name, self.globals, self.globals[name], "in")
            return "global"
        self._note("global", name, self.globals, MISSING, "in")
        if name in self.builtins:
            self._note("builtin", name, self.builtins, self.builtins[name], "in")
            return "builtin"
        self._note("builtin", name, self.builtins, MISSING, "in")
        return "missing"

    def value(self, name: str):
        kind = self.kind(name)
        if kind == "free":
            try:
                value = self._cells[name].cell_contents
            except ValueError:
                value = MISSING
            self._note("cell", name, self.freevars.index(name), value, "is")
            return value
        if kind == "global":
            return self._note("global", name, self.globals, self.globals[name], "is")
        if kind == "builtin":
            self._note("global", name, self.globals, MISSING, "is")
            return self._note("builtin", name, self.builtins, self.builtins[name], "is")
        return MISSING

    def _note(self, where, name, holder, value, how):
        """Record one answer (a value read outranks a mere "exists"); return ``value``."""
        key = (where, name) if where != "attr" else (where, id(holder), name)
        if how == "is" or key not in self.resolved:
            self.resolved[key] = (holder, value, how)
        return value

    def resolve(self, expr):
        """The object a static path (``np.linalg.norm``, ``helper``) names now, or MISSING.

        Only paths rooted at a non-local name are static; ``self.W`` is not.
        """
        if isinstance(expr, gast.Name):
            if expr.id in self.locals:
                return MISSING
            return self.value(expr.id)
        if isinstance(expr, gast.Attribute):
            base = self.resolve(expr.value)
            if base is MISSING or not isinstance(base, (types.ModuleType, type)):
                return MISSING
            return self._note("attr", expr.attr, base, getattr(base, expr.attr, MISSING), "is")
        return MISSING

    def known_non_array(self, expr) -> bool:
        """Whether ``expr`` is a path known now to hold something other than an array or a number.

        A method called on one (``scipy.stats.norm.mean(m, s)``, ``TRIPLER.sum(v)`` for a global object)
        is that object's own, never an array rule chosen by the method's name.
        """
        if not self.is_static_path(expr):
            return False
        value = self.resolve(expr)
        return value is not MISSING and not isinstance(value, (np.ndarray, np.generic, int, float, complex))

    def is_static_path(self, expr) -> bool:
        """A name or dotted path rooted at a module or class (``np.linalg.norm``, ``math.pi``)."""
        if isinstance(expr, gast.Name):
            return expr.id not in self.locals
        if isinstance(expr, gast.Attribute):
            base = self.resolve(expr.value)
            return isinstance(base, (types.ModuleType, type)) and self.is_static_path(expr.value)
        return False
