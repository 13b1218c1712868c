"""Stage 4, normalise, aliasing: calls of functions that write into what they are given.

:func:`helper_writes` reads a user's function's source and says which of
its parameters it writes into in place (``def fill(h, v): h[0] = v``), and
how. At each call in the function being compiled,
:meth:`CalleeWriteChecks.check_helper_calls` refuses passing a name the
caller reads again to such a parameter (Python would let the caller see the
change, srcgrad would not), except for an augmented assignment, which is
asked at run time to be on a number (``refuse_unless_number``). A callee
known only at run time (``self.fill(h)``, ``g(h)`` with ``g`` a value) is
asked there, before the call, by ``check_callee_writes``, which reads
:func:`~srcgrad.compiler.aliasing.callee_writes`.
"""

from __future__ import annotations

import ast
import types
import weakref

import gast
import numpy as np

from ..errors import SrcgradError
from ..rules import registry
from . import build
from .aliasing_views import (FRESH_METHODS, MUTATING_METHODS, OTHER_VIEWS, VIEW_FUNCTIONS, VIEW_METHODS, hashable,
                             is_numpy, names_read)
from .aliasing_writes import at_line
from .library import is_library_code
from .normal import runtime_call
from .parse import parse_function
from .resolve import Scope

__all__ = ["CalleeWriteChecks", "helper_writes", "param_writes", "known_method", "user_function"]


class CalleeWriteChecks:
    """Checks at the calls of functions that may write into what they are given. A part of
    :class:`~srcgrad.compiler.aliasing.Aliasing`."""

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
            elif self.scope.is_static_path(node.func) and user_function(self.scope.resolve(node.func)):
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
                    out.append(at_line(build.expr_stmt(runtime_call(
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
        the caller reads again (:func:`srcgrad.runtime.questions.check_callee_writes`)."""
        func = call.func
        if isinstance(func, gast.Name) and func.id in self.scope.locals:
            receiver, attr = func, None
        elif isinstance(func, gast.Attribute) and self.is_local(func.value) and not known_method(func.attr):
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
        return [at_line(build.expr_stmt(check), s)]


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


def known_method(attr) -> bool:
    """A method of arrays, lists or dicts (or one with a rule): not a user's method that might write."""
    return attr in FRESH_METHODS or attr in VIEW_METHODS or attr in registry.method_rules \
        or attr in registry.nondiff_methods or attr in (
            "append", "extend", "items", "keys", "values", "get", "index", "count", "T", "astype", "tolist")


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
    try:
        parsed = parse_function(fn)
    except SrcgradError:
        return {}
    out = param_writes(parsed.node, Scope(fn, parsed.node), parsed.filename, depth)
    _helper_writes[key] = out
    return out


def param_writes(fdef, scope, filename, depth=0) -> dict:
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
            fresh = callee is not None and is_numpy(callee) and not (
                hashable(callee) and (callee in VIEW_FUNCTIONS or callee in OTHER_VIEWS)) \
                or isinstance(func, gast.Attribute) and func.attr in FRESH_METHODS
        if fresh:
            value = gast.Constant(value=None, kind=None)
        sources = sorted(derived.get(n, n) for n in names_read(value) if derived.get(n, n) in tracked)
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
                            and func.attr in MUTATING_METHODS:
                        note(func.value.id, f"'{func.value.id}.{func.attr}(...)'", node)
                    for k in node.keywords:
                        if k.arg == "out" and isinstance(k.value, gast.Name):
                            note(k.value.id, f"out={k.value.id}", node)
                    target = scope.resolve(func) if scope.is_static_path(func) else None
                    if isinstance(target, np.ufunc) and len(node.args) > target.nin \
                            and isinstance(node.args[-1], gast.Name):
                        note(node.args[-1].id, f"the output argument of np.{target.__name__}", node)
                    if user_function(target) and depth < 4:
                        for param, (what, _, _) in helper_writes(target, depth + 1).items():
                            arg = _argument(target, node, param)
                            if isinstance(arg, gast.Name):
                                note(arg.id, f"passed to {getattr(func, 'id', 'a helper')}(), which writes "
                                             f"into it", node)

    visit(fdef.body, True)
    return out


def _text(node) -> str:
    return ast.unparse(gast.gast_to_ast(node))


def _op_text(op) -> str:
    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@",
            ast.FloorDiv: "//", ast.Mod: "%"}.get(type(gast.gast_to_ast(op)), "?")


def user_function(fn) -> bool:
    """A Python function srcgrad differentiates through its source (not NumPy's, not srcgrad's own, no rule)."""
    if not isinstance(fn, types.FunctionType) or is_numpy(fn):
        return False
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("srcgrad."):  # (srcgrad's own layers and helpers write into nothing they are given)
        return False
    if is_library_code(fn):  # (its source is never read: a library's call has a rule or is refused)
        return False
    return registry.lookup(fn) is None and not registry.is_nondiff(fn)
