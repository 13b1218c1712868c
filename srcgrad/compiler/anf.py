"""Stage 4, normalise, last part: one operation per statement (A-normal form).

After this pass the body holds only these statements, every operand being
an *atom* (a name, a literal, or a static path such as ``np.pi``):

- ``t = OP`` where OP is an atom, ``a <op> b``, ``<op> a``, a comparison,
  a call ``f(a, k=b)`` (``f`` a static path, a local, or a method ``a.m``),
  ``a.attr``, ``a[index]`` (index parts atoms or slices of atoms), a tuple,
  list or dict display of atoms, or an *opaque* expression that carries no
  gradient (an f-string);
- ``a, b = t`` (unpacking a value into names);
- ``f(a)`` as a statement (a call for its effect, e.g. ``print``);
- ``if c: ... else: ...`` with ``c`` a name holding the test's value;
- ``for x in t: ...`` over a name, and ``while TEST: ...`` whose test is
  kept whole (it only decides control flow and carries no gradient);
- ``return a`` as the last statement of the function (``break``,
  ``continue`` and early returns were lowered to flags by :mod:`.jumps`).

``x += y`` becomes ``x = x + y`` (never mutating the caller's array; what
else sees ``x``'s memory was made explicit before, by :mod:`.aliasing`), ``and``,
``or`` and ``a if c else b`` become ``if`` statements, and a name assigned
twice in straight-line code gets a new name the second time (``x_2``), so
the backward pass can read every value it needs without a tape. Each
statement remembers the user's source line it came from.

:func:`normalise` runs the normalising steps in order (:mod:`.jumps`,
:mod:`.aliasing`, this pass, :mod:`.receivers`). This pass is
:class:`Normaliser`: statements, assignments and names are here, and its
parts are :mod:`.anf_expressions` (one operation per expression, ``and``,
``or``, ``a if c else b``, ``reduce`` and ``map``), :mod:`.anf_loops` (every
loop over ``range``, comprehensions as loops, dict views) and
:mod:`.anf_effects` (calls made for their effect).
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from . import build
from .aliasing import rewrite_writes
from .anf_effects import EffectCalls
from .anf_expressions import AnfExpressions
from .anf_loops import LoopLowering
from .jumps import lower_jumps
from .receivers import check_receivers
from .names import temp_base
from .normal import runtime_call

__all__ = ["normalise"]


def normalise(parsed, scope, namer, returns_self=False) -> gast.FunctionDef:
    """Return ``parsed.node`` rewritten in A-normal form (in place: each :func:`parse_function`
    gives a new tree, and copying it first was a twentieth of a compile).

    With ``returns_self`` (a constructor's ``__init__``), the function
    returns its first parameter, so the new object's gradient flows back
    into the constructor's arguments.
    """
    fdef = lower_jumps(parsed.node, namer)
    rewrite_writes(parsed, scope, namer, fdef, returns_self)
    norm = Normaliser(parsed, scope, namer)
    body = norm.block(fdef.body, top=True)
    if returns_self:
        body = [s for s in body if not isinstance(s, gast.Return)]
        body.append(_line(gast.Return(value=build.name(norm.rename.get(scope.params[0], scope.params[0]))),
                          fdef.lineno))
    if not body or not isinstance(body[-1], gast.Return):
        body.append(_line(gast.Return(value=build.const(None)), fdef.lineno))
    fdef.body = body
    fdef.decorator_list = []
    check_receivers(parsed, scope, namer, fdef)
    return fdef


def _line(node, lineno):
    node._srcgrad_line = lineno
    return node


class Normaliser(AnfExpressions, LoopLowering, EffectCalls):
    """The normaliser of one function: statements and names here, the rest in its parts."""

    def __init__(self, parsed, scope, namer):
        self.parsed = parsed
        self.scope = scope
        self.namer = namer
        self.rename: dict[str, str] = {}
        self.defined = set(scope.params)
        self.depth = 0
        self.line = parsed.node.lineno
        #: Local names captured by a function defined here, and that definition's line.
        self.captured_by_closure: dict[str, int] = {}
        #: Argument objects already copied before a change (obj.a = v on an argument).
        self.owned: set[str] = set()

    # -- errors ----------------------------------------------------------
    def refuse(self, node, what, fix):
        raise UnsupportedSyntaxError(
            f"{what} is not supported in differentiated code (in {self.parsed.name!r})",
            filename=self.parsed.filename,
            lineno=getattr(node, "lineno", self.line),
            col=getattr(node, "col_offset", None),
            fix=fix,
        )

    # -- statements ------------------------------------------------------
    def block(self, stmts, top=False):
        out = []
        for i, stmt in enumerate(stmts):
            self.line = getattr(stmt, "lineno", self.line)
            out.extend(self.stmt(stmt))
        return out

    def stmt(self, s):
        out: list = []
        try:
            return self._stmt(s, out)
        finally:
            self.line = getattr(s, "lineno", self.line)

    def _stmt(self, s, out):
        if isinstance(s, gast.Assign):
            if len(s.targets) == 1:
                self.assign_to(s.targets[0], s.value, out)
            else:
                value = self.atom(s.value, out)
                for target in s.targets:
                    self.assign_to(target, value, out)
        elif isinstance(s, gast.AnnAssign):
            if s.value is not None:
                self.assign_to(s.target, s.value, out)
        elif isinstance(s, gast.AugAssign):
            target = s.target
            if isinstance(target, gast.Subscript):
                current = gast.Subscript(value=build.name(target.value.id), slice=target.slice, ctx=gast.Load())
            elif isinstance(target, gast.Attribute):
                current = gast.Attribute(value=build.name(target.value.id), attr=target.attr, ctx=gast.Load())
            else:
                current = gast.Name(id=target.id, ctx=gast.Load(), annotation=None, type_comment=None)
            self.assign_to(target, gast.BinOp(left=current, op=s.op, right=s.value), out)
        elif isinstance(s, gast.Expr):
            self.expression_statement(s, out)
        elif isinstance(s, gast.Return):
            base = "y" if "y" not in self.namer.taken else "out"
            value = self.atom(s.value, out, base=base) if s.value is not None else build.const(None)
            out.append(self.mark(gast.Return(value=value)))
        elif isinstance(s, gast.If):
            cond = self.test_name(s.test, out)
            body, orelse = self.nested(s.body), self.nested(s.orelse)
            node = gast.If(test=cond, body=body or [gast.Pass()], orelse=orelse)
            node._srcgrad_line = s.lineno
            out.append(node)
        elif isinstance(s, gast.For):
            out.append(self.for_loop(s, out))
        elif isinstance(s, gast.While):
            test = self.opaque(s.test)
            node = gast.While(test=test, body=self.nested(s.body), orelse=[])
            node._srcgrad_line = s.lineno
            out.append(node)
        elif isinstance(s, gast.Pass):
            pass
        elif isinstance(s, gast.FunctionDef):
            node = self.closure(s)
            node.name = self.bind_name(s.name).id
            out.append(self.mark(node))
        elif isinstance(s, (gast.Assert, gast.Raise)):
            out.append(self.mark(self.opaque(s)))
        else:
            self.refuse(s, f"the statement {type(s).__name__!r}", "rewrite it with assignments, if and for")
        return out

    def nested(self, stmts):
        self.depth += 1
        try:
            return self.block(stmts)
        finally:
            self.depth -= 1

    def mark(self, node):
        node._srcgrad_line = self.line
        return node

    def bind_name(self, user_name: str) -> gast.Name:
        """The name an assignment to ``user_name`` writes, renaming a straight-line redefinition."""
        if user_name in self.captured_by_closure:
            self.refuse(None, f"assigning '{user_name}' after a function defined on line "
                              f"{self.captured_by_closure[user_name]} captured it (Python would let that function "
                              "see the new value)", "give the new value its own name, or define the function after it")
        current = self.rename.get(user_name, user_name)
        if self.depth == 0 and user_name in self.defined:
            current = self.namer.fresh(user_name)
            self.rename[user_name] = current
        self.defined.add(user_name)
        return build.store(current)

    def assign_to(self, target, value, out):
        if isinstance(target, gast.Attribute):
            base = target.value.id
            if base in self.scope.params and base not in self.owned:
                # The first change to an argument object works on a copy: the caller's is never changed.
                self.owned.add(base)
                copied = runtime_call("own_copy", self.load(target.value))
                out.append(self.mark(build.assign(self.bind_name(base), copied)))
            # obj.a = v stays a mutation: the backward takes d(obj)['a'] for v, then drops it.
            node = build.assign(gast.Attribute(value=self.load(target.value), attr=target.attr, ctx=gast.Store()),
                                self.atom(value, out))
            out.append(self.mark(node))
            return
        if isinstance(target, gast.Subscript):
            # y[i] = v reads y = with_item(y, i, v): a new array, so nothing the backward needs is lost
            # (what else sees y's memory was made explicit by aliasing.py).
            base = target.value
            index = self.index_value(target.slice, out)
            new = runtime_call("with_item", self.load(base), index, self.atom(value, out))
            out.append(self.mark(build.assign(self.bind_name(base.id), new)))
            return
        if isinstance(target, gast.Name):
            op = self.expr(value, out)
            current = self.rename.get(target.id, target.id)
            if self.depth > 0 and not build.is_atom(op) and current in build.names_in(op):
                # In a loop ``s = s * x`` would overwrite the s its own gradient reads.
                temp = self.namer.fresh(temp_base(op))
                out.append(self.mark(build.assign(temp, op)))
                op = build.name(temp)
            out.append(self.mark(build.assign(self.bind_name(target.id), op)))
        elif isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, self.atom(value, out), out)
        else:
            self.refuse(target, "this assignment target", "assign to plain names")

    def unpack(self, target, value, out):
        if any(isinstance(e, gast.Starred) for e in target.elts):
            self.unpack_starred(target, value, out)
            return
        elts = []
        later = []
        for elt in target.elts:
            if isinstance(elt, gast.Name):
                elts.append(elt)
            else:
                temp = self.namer.fresh("part")
                elts.append(build.store(temp))
                later.append((elt, build.name(temp)))
        stores = [self.bind_name(e.id) for e in elts]
        out.append(self.mark(build.assign(build.tuple_(stores, store_ctx=True), value)))
        for elt, temp in later:
            self.unpack(elt, temp, out)

    def unpack_starred(self, target, value, out):
        """``a, *rest, b = t`` reads ``a = t[0]``, ``rest = t[1:-1]``, ``b = t[-1]``.

        (``rest`` is a slice of ``t``, so a tuple for a tuple, where Python
        would make a list.)
        """
        elts = target.elts
        star = next(i for i, e in enumerate(elts) if isinstance(e, gast.Starred))
        after = len(elts) - star - 1
        for i, elt in enumerate(elts):
            if i < star:
                index = build.const(i)
            elif i > star:
                index = build.const(i - len(elts))
            else:
                elt = elt.value
                index = gast.Slice(lower=build.const(star), upper=build.const(-after) if after else None, step=None)
            self.assign_to(elt, gast.Subscript(value=value, slice=index, ctx=gast.Load()), out)
