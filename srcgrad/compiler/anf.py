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
"""

from __future__ import annotations


import gast

from ..errors import UnsupportedSyntaxError
from . import build
from .aliasing import rewrite_writes
from .jumps import lower_jumps
from .receivers import check_receivers
from .names import temp_base
from .normal import CONTAINER_MUTATORS, bound_names, runtime_call

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
    norm = _Normaliser(parsed, scope, namer)
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


class _Normaliser:
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
            if isinstance(s.value, gast.Constant):
                return out  # a docstring or a bare literal
            if self.is_list_growth(s.value):
                call = s.value
                helper = "appended" if call.func.attr == "append" else "extended"
                receiver = call.func.value
                value = runtime_call(helper, self.load(receiver), self.atom(call.args[0], out))
                if helper == "extended" and self.depth:
                    # (in a loop the list is not renamed but put back from a tape after this line's
                    # step, and extended's rule needs the length before: so the step is its own line)
                    value = self.atom(value, out, base="grown")
                out.append(self.mark(build.assign(self.bind_name(receiver.id), value)))
                return out
            if isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute) \
                    and s.value.func.attr in CONTAINER_MUTATORS and isinstance(s.value.func.value, gast.Attribute):
                self.refuse(s, f"changing a list or dict held in an attribute ('.{s.value.func.attr}' on "
                               f"'{_text(s.value.func.value)}')",
                            "work on a local copy and assign it back: items = self.items; "
                            "items.append(v); self.items = items")
            parent = self.parent_method_for_effect(s.value)
            if parent is not None:
                # super().__init__(w) sets self's fields: self = mutate(self, (Child, "__init__"), w)
                call, cls_name = s.value, parent
                args = [self.atom(a, out) for a in call.args]
                me = self.scope.params[0]
                name = gast.Tuple(elts=[build.name(cls_name), build.const(call.func.attr)], ctx=gast.Load())
                value = runtime_call("mutate", self.load(build.name(me)), name, *args)
                value.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in call.keywords]
                out.append(self.mark(build.assign(self.bind_name(me), value)))
                return out
            if self.is_method_for_effect(s.value):
                # c.add(x) may change c: c = mutate(c, "add", x), differentiated through the method.
                call = s.value
                receiver = call.func.value
                args = [self.atom(a, out) for a in call.args]
                value = runtime_call("mutate", self.load(receiver), build.const(call.func.attr), *args)
                value.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in call.keywords]
                out.append(self.mark(build.assign(self.bind_name(receiver.id), value)))
                return out
            if isinstance(s.value, gast.Call):
                out.append(self.mark(build.expr_stmt(self.expr(s.value, out))))
            else:
                self.atom(s.value, out)
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

    def for_loop(self, s, out):
        """Every loop becomes a loop over ``range``: ``for x in xs`` reads ``x = xs[i]``.

        ``enumerate`` names the index, ``zip`` indexes several sequences,
        ``reversed`` counts down. The backward pass then only ever runs
        ``reversed(range(...))``, and each element's gradient flows back to
        its sequence by index.
        """
        import builtins

        iterable, target, index_name = s.iter, s.target, None
        callee = self.callee(iterable)
        start = None
        if callee is builtins.enumerate and len(iterable.args) in (1, 2) and isinstance(target, gast.Tuple) \
                and len(target.elts) == 2 and isinstance(target.elts[0], gast.Name):
            if len(iterable.args) == 2:  # enumerate(xs, 1): the name counts from start
                start = self.atom(iterable.args[1], out)
                counter = target.elts[0].id
                index_name = None
            else:
                index_name = target.elts[0].id
            target, iterable = target.elts[1], iterable.args[0]
            callee = self.callee(iterable)
        prologue: list = []
        view = self.dict_view(iterable, out)
        if view is not None:  # for k, v in d.items(): loop over the keys, read d[k]
            d, method = view
            keys = self.atom(build.call("list", d), out, base="keys")
            self.depth += 1
            index = self.bind_name(index_name) if index_name else build.store(self.namer.fresh("i"))
            key = gast.Subscript(value=keys, slice=build.name(index.id), ctx=gast.Load())
            if method == "items":
                if isinstance(target, gast.Tuple) and len(target.elts) == 2:
                    key_name = self.atom(key, prologue, base="key")
                    self.assign_to(target.elts[0], key_name, prologue)
                    self.assign_to(target.elts[1], gast.Subscript(value=d, slice=key_name, ctx=gast.Load()),
                                   prologue)
                else:
                    key_name = self.atom(key, prologue, base="key")
                    pair = gast.Tuple(elts=[key_name, gast.Subscript(value=d, slice=key_name, ctx=gast.Load())],
                                      ctx=gast.Load())
                    self.assign_to(target, pair, prologue)
            elif method == "values":
                self.assign_to(target, gast.Subscript(value=d, slice=key, ctx=gast.Load()), prologue)
            else:
                self.assign_to(target, key, prologue)
            header = build.call("range", build.call("len", keys))
        elif callee is builtins.range and index_name is None and isinstance(target, gast.Name):
            header = build.call(iterable.func, *[self.atom(a, out) for a in iterable.args])
            self.depth += 1
            index = self.bind_name(target.id)
        else:
            if callee is builtins.zip:
                seqs = [self.atom(a, out) for a in iterable.args]
            else:
                source = self.atom(iterable.args[0] if callee is builtins.reversed else iterable, out)
                # (a dict is walked through its keys, as Python does)
                seqs = [self.atom(runtime_call("as_sequence", source), out, base="sequence")]
            lengths = [build.call("len", q) for q in seqs]
            count = lengths[0] if len(lengths) == 1 else build.call("min", *lengths)
            if callee is builtins.reversed:
                header = build.call("range", gast.BinOp(left=count, op=gast.Sub(), right=build.const(1)),
                                    build.const(-1), build.const(-1))
            else:
                header = build.call("range", count)
            self.depth += 1
            index = self.bind_name(index_name) if index_name else build.store(self.namer.fresh("i"))
            position = build.name(index.id)
            if start is not None:
                prologue.append(self.mark(build.assign(self.bind_name(counter),
                                                       gast.BinOp(left=position, op=gast.Add(), right=start))))
            if len(seqs) == 1:
                self.assign_from_index(target, seqs[0], position, prologue)
            elif isinstance(target, gast.Tuple) and len(target.elts) == len(seqs):
                for elt, seq in zip(target.elts, seqs):
                    self.assign_from_index(elt, seq, position, prologue)
            else:
                items = [self.atom(gast.Subscript(value=q, slice=position, ctx=gast.Load()), prologue) for q in seqs]
                self.assign_to(target, gast.Tuple(elts=items, ctx=gast.Load()), prologue)
        body = prologue + self.block(s.body)
        self.depth -= 1
        node = gast.For(target=index, iter=header, body=body, orelse=[], type_comment=None)
        node._srcgrad_line = s.lineno
        return node

    def dict_view(self, expr, out):
        """``(d, "items" | "values" | "keys")`` for ``d.items()`` and the like on a local name, a dict
        display or comprehension, or a global or captured name that holds a dict."""
        if not (isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) and not expr.args
                and not expr.keywords and expr.func.attr in ("items", "values", "keys")):
            return None
        d = expr.func.value
        if isinstance(d, gast.Name) and d.id in self.scope.locals:
            return self.load(d), expr.func.attr
        # (through d[key], so a gradient reaches the values: a view itself cannot be indexed)
        if isinstance(d, (gast.Dict, gast.DictComp)) or (isinstance(d, gast.Name) and isinstance(self.scope.resolve(d), dict)):
            return self.atom(d, out, base="d"), expr.func.attr
        if isinstance(d, gast.Attribute) and not self.scope.is_static_path(d):
            # self.W.items(): a dict, checked at run time (a user's class with its own items() is refused)
            held = self.atom(d, out, base="d")
            out.append(self.mark(build.expr_stmt(runtime_call(
                "expect_dict", held, build.const(expr.func.attr), build.const(self.parsed.filename),
                build.const(self.line)))))
            return held, expr.func.attr
        return None

    def callee(self, expr):
        """The builtin a loop's iterable calls (range, enumerate, zip, reversed), if any."""
        if isinstance(expr, gast.Call) and not expr.keywords and not any(isinstance(a, gast.Starred) for a in expr.args):
            return self.scope.resolve(expr.func)
        return None

    def assign_from_index(self, target, seq, index, out):
        item = gast.Subscript(value=seq, slice=index, ctx=gast.Load())
        if isinstance(target, gast.Name):
            out.append(self.mark(build.assign(self.bind_name(target.id), item)))
        else:
            self.unpack(target, self.atom(item, out), out)

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

    def is_method_for_effect(self, call):
        """A method called on a local object for its effect (not a NumPy array method)."""
        from ..rules import registry

        return (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Name) and call.func.value.id in self.scope.locals
                and call.func.attr not in registry.method_rules and call.func.attr not in registry.nondiff_methods
                and call.func.attr not in CONTAINER_MUTATORS
                and all(k.arg is not None for k in call.keywords)
                and not any(isinstance(a, gast.Starred) for a in call.args))

    def parent_method_for_effect(self, call):
        """The class's name for ``super().m(...)`` (or ``super(C, self).m(...)``) used as a statement in
        a method of class ``C`` at module level, else None."""
        import builtins

        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and isinstance(call.func.value, gast.Call) and isinstance(call.func.value.func, gast.Name)
                and self.scope.resolve(call.func.value.func) is builtins.super and self.scope.params
                and all(k.arg is not None for k in call.keywords)
                and not any(isinstance(a, gast.Starred) for a in call.args)):
            return None
        parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
        given = call.func.value.args
        if len(parts) != 2 or given and not (
                len(given) == 2 and isinstance(given[0], gast.Name) and given[0].id == parts[0]
                and isinstance(given[1], gast.Name) and given[1].id == self.scope.params[0]):
            return None
        return parts[0]

    def is_list_growth(self, call):
        """``xs.append(v)`` or ``xs.extend(vs)`` on a local list: a new list, functionally."""
        return (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)
                and call.func.attr in ("append", "extend") and isinstance(call.func.value, gast.Name)
                and call.func.value.id in self.scope.locals and len(call.args) == 1 and not call.keywords)

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

    # -- expressions -----------------------------------------------------
    def load(self, node: gast.Name) -> gast.Name:
        return build.name(self.rename.get(node.id, node.id))

    def atom(self, e, out, base=None):
        if isinstance(e, gast.Name):
            return self.load(e)
        if isinstance(e, gast.Constant):
            return build.const(e.value)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub) and isinstance(e.operand, gast.Constant) \
                and isinstance(e.operand.value, (int, float, complex)) and not isinstance(e.operand.value, bool):
            return build.const(-e.operand.value)
        if isinstance(e, gast.Attribute) and self.scope.is_static_path(e):
            return build.copy_tree(e)
        op = self.expr(e, out)
        if build.is_atom(op) or (isinstance(op, gast.Attribute) and self.scope.is_static_path(op)):
            return op
        base = base or temp_base(e)
        if base in self.namer.taken and isinstance(e, gast.Call):
            base = base + "_out"  # the result of calling l1 is l1_out, not l1_2
        temp = self.namer.fresh(base)
        out.append(self.mark(build.assign(temp, op)))
        return build.name(temp)

    def test_name(self, test, out):
        """An ``if`` test, evaluated once into a name the backward pass can read."""
        if isinstance(test, gast.Name):
            return self.load(test)
        value = self.opaque(test) if _is_plain(test) else self.expr(test, out)
        temp = self.namer.fresh("cond")
        out.append(self.mark(build.assign(temp, value)))
        return build.name(temp)

    def opaque(self, e):
        """Keep ``e`` whole (it carries no gradient), with renamed names."""
        e = build.copy_tree(e)
        for node in build.walk(e):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                node.id = self.rename.get(node.id, node.id)
        return e

    def expr(self, e, out):
        if isinstance(e, (gast.Name, gast.Constant)):
            return self.atom(e, out)
        if isinstance(e, gast.BinOp):
            return gast.BinOp(left=self.atom(e.left, out), op=e.op, right=self.atom(e.right, out))
        if isinstance(e, gast.UnaryOp):
            operand = self.atom(e.operand, out)
            if isinstance(operand, gast.Constant) and isinstance(e.op, gast.USub):
                return build.const(-operand.value)
            return gast.UnaryOp(op=e.op, operand=operand)
        if isinstance(e, gast.Compare):
            return gast.Compare(left=self.atom(e.left, out), ops=e.ops,
                                comparators=[self.atom(c, out) for c in e.comparators])
        if isinstance(e, gast.Call):
            return self.call(e, out)
        if isinstance(e, gast.Attribute):
            if self.scope.is_static_path(e):
                return build.copy_tree(e)
            return build.attr(self.atom(e.value, out), e.attr)
        if isinstance(e, gast.Subscript):
            return gast.Subscript(value=self.atom(e.value, out), slice=self.index(e.slice, out), ctx=gast.Load())
        if isinstance(e, (gast.Tuple, gast.List)):
            elts = [self.starred(x, out) for x in e.elts]
            return type(e)(elts=elts, ctx=gast.Load())
        if isinstance(e, gast.Dict):
            keys = [self.atom(k, out) if k is not None else None for k in e.keys]
            return gast.Dict(keys=keys, values=[self.atom(v, out) for v in e.values])
        if isinstance(e, gast.IfExp):
            return self.choice(e, out)
        if isinstance(e, gast.BoolOp):
            return self.boolop(e, out)
        if isinstance(e, gast.JoinedStr):
            return self.opaque(e)
        if isinstance(e, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return self.comprehension(e, out)
        if isinstance(e, gast.Lambda):
            return self.closure(e)
        self.refuse(e, f"the expression {type(e).__name__!r}", "rewrite it with simpler operations")

    def starred(self, e, out):
        if isinstance(e, gast.Starred):
            return gast.Starred(value=self.atom(e.value, out), ctx=gast.Load())
        return self.atom(e, out)

    def closure(self, node):
        """A function made here: kept whole, reading the current names of what it captures."""
        node = build.copy_tree(node)
        bound = bound_names(node)
        for inner in build.walk(node):
            if isinstance(inner, gast.Name) and isinstance(inner.ctx, gast.Load) and inner.id not in bound \
                    and inner.id in self.scope.locals:
                self.captured_by_closure[inner.id] = getattr(node, "lineno", self.line)
        for inner in build.walk(node.body if isinstance(node, gast.Lambda) else gast.Module(body=node.body, type_ignores=[])):
            if isinstance(inner, gast.Name) and isinstance(inner.ctx, gast.Load) and inner.id not in bound:
                inner.id = self.rename.get(inner.id, inner.id)
        return node

    def call(self, e, out):
        import builtins

        if isinstance(e.func, gast.Name) and e.func.id == "super" and not e.args and self.scope.params \
                and self.scope.resolve(e.func) is builtins.super:
            # super() needs the class cell Python gives methods; name the class: super(Child, self)
            parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
            if len(parts) == 2:
                e = gast.Call(func=e.func, args=[build.name(parts[0]), build.name(self.scope.params[0])], keywords=[])

        import functools

        func = e.func
        helper = getattr(func, "_srcgrad_runtime", None)
        if helper is not None:  # a question aliasing.py asks at run time
            call = runtime_call(helper, *[self.atom(a, out) for a in e.args])
            call.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in e.keywords]
            return call
        if self.scope.resolve(func) is functools.reduce and len(e.args) in (2, 3) and not e.keywords:
            # reduce(f, xs, init) is acc = init; for x in xs: acc = f(acc, x) (Julia's foldl)
            acc = self.namer.fresh("acc")
            if len(e.args) == 3:
                out.append(self.mark(build.assign(acc, self.expr(e.args[2], out))))
                source = e.args[1]
            else:
                seq = self.atom(e.args[1], out)
                out.append(self.mark(build.assign(acc, gast.Subscript(value=seq, slice=build.const(0),
                                                                        ctx=gast.Load()))))
                source = gast.Subscript(value=seq, slice=gast.Slice(lower=build.const(1), upper=None, step=None),
                                        ctx=gast.Load())
            item = self.namer.fresh("item")
            step = build.assign(acc, gast.Call(func=e.args[0], args=[build.name(acc), build.name(item)], keywords=[]))
            step.lineno = self.line
            loop = gast.For(target=build.store(item), iter=source, body=[step], orelse=[], type_comment=None)
            loop.lineno = self.line
            self.scope.locals |= {acc, item}
            out.extend(self.stmt(loop))
            return build.name(acc)
        if self.scope.resolve(func) is builtins.map and len(e.args) >= 2 and not e.keywords:
            # map(f, xs) is [f(x) for x in xs]
            names = [self.namer.fresh("item") for _ in e.args[1:]]
            target = build.store(names[0]) if len(names) == 1 else build.tuple_([build.store(n) for n in names], True)
            source = e.args[1] if len(names) == 1 else build.call("zip", *e.args[1:])
            element = gast.Call(func=e.args[0], args=[build.name(n) for n in names], keywords=[])
            listcomp = gast.ListComp(elt=element, generators=[gast.comprehension(
                target=target, iter=source, ifs=[], is_async=0)])
            return self.comprehension(listcomp, out)
        if self.scope.is_static_path(func):
            callee = build.copy_tree(func)
        elif isinstance(func, gast.Attribute):
            callee = build.attr(self.atom(func.value, out), func.attr)
        else:
            callee = self.atom(func, out)
        args = [self.starred(a, out) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in e.keywords]
        return gast.Call(func=callee, args=args, keywords=keywords)

    def index_value(self, s, out):
        """The index of ``x[...]`` as a value: slices become ``slice(...)`` calls."""
        if isinstance(s, gast.Slice):
            parts = [self.atom(p, out) if p is not None else build.const(None) for p in (s.lower, s.upper, s.step)]
            return self.atom(build.call("slice", *parts), out, base="index")
        if isinstance(s, gast.Tuple):
            return self.atom(gast.Tuple(elts=[self.index_value(e, out) for e in s.elts], ctx=gast.Load()), out,
                             base="index")
        return self.atom(s, out)

    def comprehension(self, e, out):
        """``[f(x) for x in xs if c]`` is a loop that appends; a dict comprehension fills a dict."""
        result = self.namer.fresh("items" if not isinstance(e, gast.DictComp) else "fields")
        start = gast.Dict(keys=[], values=[]) if isinstance(e, gast.DictComp) else gast.List(elts=[], ctx=gast.Load())
        out.append(self.mark(build.assign(result, start)))
        e = build.copy_tree(e)
        # The comprehension's own variables get fresh names: they must not clobber the function's.
        renames = {}
        for generator in e.generators:
            for node in build.walk(generator.target):
                if isinstance(node, gast.Name):
                    renames[node.id] = self.namer.fresh(node.id)
        for node in build.walk(e):
            if isinstance(node, gast.Name) and node.id in renames:
                node.id = renames[node.id]
        if isinstance(e, gast.DictComp):
            store = [gast.Assign(targets=[gast.Subscript(value=build.name(result), slice=e.key, ctx=gast.Store())],
                                 value=e.value, type_comment=None)]
        else:
            store = [gast.Expr(value=build.call(build.attr(result, "append"), e.elt))]
        body = store
        for generator in reversed(e.generators):
            for condition in reversed(generator.ifs):
                body = [gast.If(test=condition, body=body, orelse=[])]
            body = [gast.For(target=generator.target, iter=generator.iter, body=body, orelse=[], type_comment=None)]
        for stmt in body:
            for node in build.walk(stmt):
                if isinstance(node, gast.stmt):
                    node.lineno = self.line
        self.scope.locals |= {result, *renames.values()}
        for stmt in body:
            out.extend(self.stmt(stmt))
        return build.name(result)

    def index(self, s, out):
        if isinstance(s, gast.Slice):
            return gast.Slice(
                lower=self.atom(s.lower, out) if s.lower is not None else None,
                upper=self.atom(s.upper, out) if s.upper is not None else None,
                step=self.atom(s.step, out) if s.step is not None else None,
            )
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x, out) for x in s.elts], ctx=gast.Load())
        return self.atom(s, out)

    def choice(self, e, out):
        """``a if c else b`` as an if statement assigning one temporary."""
        cond = self.test_name(e.test, out)
        temp = self.namer.fresh("choice")
        self.depth += 1
        body: list = []
        body.append(self.mark(build.assign(temp, self.expr(e.body, body))))
        orelse: list = []
        orelse.append(self.mark(build.assign(temp, self.expr(e.orelse, orelse))))
        self.depth -= 1
        out.append(self.mark(gast.If(test=cond, body=body, orelse=orelse)))
        return build.name(temp)

    def boolop(self, e, out):
        """``a and b`` / ``a or b`` keep Python's value semantics and short-circuiting."""
        temp = self.namer.fresh("either" if isinstance(e.op, gast.Or) else "both")
        out.append(self.mark(build.assign(temp, self.expr(e.values[0], out))))
        self.depth += 1
        nested = out
        for value in e.values[1:]:
            cond = self.namer.fresh("cond")
            if isinstance(e.op, gast.Or):
                test = gast.UnaryOp(op=gast.Not(), operand=build.name(temp))
            else:
                test = build.call("bool", build.name(temp))
            nested.append(self.mark(build.assign(cond, test)))
            body: list = []
            body.append(self.mark(build.assign(temp, self.expr(value, body))))
            nested.append(self.mark(gast.If(test=build.name(cond), body=body, orelse=[])))
            nested = body
        self.depth -= 1
        return build.name(temp)


def _text(node) -> str:
    """The source text of an expression, for messages."""
    import ast

    return ast.unparse(gast.gast_to_ast(node))


def _is_plain(test) -> bool:
    """A test made only of comparisons, names and literals: safe to keep whole."""
    return all(
        isinstance(n, (gast.Compare, gast.Name, gast.Constant, gast.Load, gast.cmpop, gast.BoolOp,
                       gast.boolop, gast.UnaryOp, gast.unaryop, gast.Attribute))
        for n in build.walk(test)
    )
