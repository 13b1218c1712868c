"""Stage 4, normalise, A-normal form: expressions taken apart, one operation per temporary.

:meth:`AnfExpressions.atom` gives the value of any expression as an atom (a
name, a literal, or a static path such as ``np.pi``), writing each operation
it needs into a temporary named after what it holds (:func:`.names.temp_base`).
``a if c else b``, ``a and b`` and ``a or b`` become ``if`` statements
assigning one temporary, with Python's short-circuiting; ``reduce(f, xs)``
becomes a loop, ``map(f, xs)`` and ``zip(a, b)`` comprehensions and ``dict(k=v)`` a
display; ``super()`` names its
class; a test made only of comparisons and names, an f-string, and a
function defined here are kept whole, with the current names of what they read.
"""

from __future__ import annotations

import builtins
import functools
import types

import gast

from ..rules import registry
from ..runtime.structure import is_plain_namedtuple_class
from . import build
from .names import temp_base
from .normal import bound_names, runtime_call

__all__ = ["AnfExpressions"]


class AnfExpressions:
    """Expressions, one operation at a time. A part of :class:`~srcgrad.compiler.anf.Normaliser`."""

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
        if isinstance(e, (gast.Tuple, gast.List)) and any(isinstance(x, gast.Starred) for x in e.elts):
            return self.expr(_joined(e), out)
        if isinstance(e, (gast.Tuple, gast.List)):
            elts = [self.starred(x, out) for x in e.elts]
            return type(e)(elts=elts, ctx=gast.Load())
        if isinstance(e, gast.Dict) and any(k is None for k in e.keys):
            return self.merged_dict(e, out)
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
        if isinstance(e.func, gast.Name) and e.func.id == "super" and not e.args and self.scope.params \
                and self.scope.resolve(e.func) is builtins.super:
            # super() needs the class cell Python gives methods; name the class: super(Child, self)
            parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
            if len(parts) == 2:
                e = gast.Call(func=e.func, args=[build.name(parts[0]), build.name(self.scope.params[0])], keywords=[])

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
        if self.scope.resolve(func) is builtins.zip and not e.keywords:
            return self.zipped(e.args, out)
        if self.scope.resolve(func) is builtins.dict:
            return self.dict_call(e, out)
        fields = self.namedtuple_fields(e)
        if fields is not None:
            return runtime_call("namedtuple_of", build.copy_tree(func), *[self.atom(v, out) for v in fields])
        if self.scope.is_static_path(func):
            callee = build.copy_tree(func)
            if is_users_nograd(self.scope.resolve(func)):  # (called with its arrays read-only: it may write)
                call = runtime_call("locked_call", callee, *[self.starred(a, out) for a in e.args])
                call.keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in e.keywords]
                return call
        elif isinstance(func, gast.Attribute):
            callee = build.attr(self.atom(func.value, out), func.attr)
        else:
            callee = self.atom(func, out)
        args = [self.starred(a, out) for a in e.args]
        keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, out)) for k in e.keywords]
        return gast.Call(func=callee, args=args, keywords=keywords)

    def namedtuple_fields(self, e):
        """The call ``P(x, b=y)`` of a namedtuple class ``P`` named by a static path, as the expressions of
        its fields in order (defaults as ``P._field_defaults[...]``); ``None`` for any other call, or
        one Python would refuse (it is left to raise its own error)."""
        cls = self.scope.resolve(e.func) if self.scope.is_static_path(e.func) else None
        if not is_plain_namedtuple_class(cls) or any(isinstance(a, gast.Starred) for a in e.args) \
                or any(k.arg is None for k in e.keywords) or len(e.args) > len(cls._fields):
            return None
        given = dict(zip(cls._fields, e.args))
        for k in e.keywords:
            if k.arg not in cls._fields or k.arg in given:
                return None
            given[k.arg] = k.value
        for name in cls._fields:
            if name not in given:
                if name not in cls._field_defaults:
                    return None
                given[name] = gast.Subscript(value=build.attr(build.copy_tree(e.func), "_field_defaults"),
                                             slice=build.const(name), ctx=gast.Load())
        return [given[name] for name in cls._fields]

    def merged_dict(self, e, out):
        """``{**d, "k": v}``: a dict filled in order, ``for key in d: fields[key] = d[key]`` for each
        ``**d``, so a later key replaces an earlier one's value, and its gradient."""
        parts = [(None if k is None else self.atom(k, out), self.atom(v, out, base="d" if k is None else None))
                 for k, v in zip(e.keys, e.values)]
        result = self.namer.fresh("fields")
        out.append(self.mark(build.assign(result, gast.Dict(keys=[], values=[]))))
        self.scope.locals.add(result)
        for key, value in parts:
            if key is None:
                key = self.namer.fresh("key")
                self.scope.locals.add(key)
                write = build.assign(gast.Subscript(value=build.name(result), slice=build.name(key), ctx=gast.Store()),
                                        gast.Subscript(value=value, slice=build.name(key), ctx=gast.Load()))
                stmt = gast.For(target=build.store(key), iter=value, body=[write], orelse=[], type_comment=None)
            else:
                stmt = build.assign(gast.Subscript(value=build.name(result), slice=key, ctx=gast.Store()), value)
            for node in build.walk(stmt):
                if isinstance(node, gast.stmt):
                    node.lineno = self.line
            out.extend(self.stmt(stmt))
        return self.load(build.name(result))  # (its current name: a write may rename it)

    def zipped(self, args, out):
        """``zip(a, b)`` outside a loop's header: the list of tuples it yields, made by a comprehension
        over it (whose loop reads ``zip`` by position); ``zip(*rows)``, the rows' items by position."""
        names = [self.namer.fresh("item") for _ in args]
        if not any(isinstance(a, gast.Starred) for a in args):
            items = [build.store(n) for n in names]
            listcomp = gast.ListComp(elt=build.tuple_([build.name(n) for n in names]), generators=[
                gast.comprehension(target=build.tuple_(items, True), iter=build.call("zip", *args), ifs=[],
                                   is_async=0)])
            return self.comprehension(listcomp, out)
        # [tuple([row[i] for row in rows]) for i in range(min([len(row) for row in rows], default=0))]
        rows = self.atom(gast.List(elts=list(args), ctx=gast.Load()), out, base="rows")
        row, i = self.namer.fresh("row"), self.namer.fresh("i")

        def each_row(elt):
            return gast.ListComp(elt=elt, generators=[gast.comprehension(
                target=build.store(row), iter=rows, ifs=[], is_async=0)])

        length = gast.Call(func=build.name("min"), args=[each_row(build.call("len", build.name(row)))],
                           keywords=[gast.keyword(arg="default", value=build.const(0))])
        column = build.call("tuple", each_row(gast.Subscript(value=build.name(row), slice=build.name(i),
                                                             ctx=gast.Load())))
        return self.comprehension(gast.ListComp(elt=column, generators=[gast.comprehension(
            target=build.store(i), iter=build.call("range", length), ifs=[], is_async=0)]), out)

    def dict_call(self, e, out):
        """``dict(a=x, b=y)`` is the display ``{"a": x, "b": y}``; ``dict(pairs)`` of a display, a
        comprehension or ``zip(...)`` is ``{k: v for k, v in pairs}``. A dict or pairs held in a
        variable are refused: which of the two it is decides what ``dict`` does."""
        if any(k.arg is None for k in e.keywords) or len(e.args) > 1 or any(isinstance(a, gast.Starred) for a in e.args):
            self.refuse(e, "dict(...) with '*' or '**' arguments", "write a dict display: {**d, 'key': value}")
        display = gast.Dict(keys=[build.const(k.arg) for k in e.keywords], values=[k.value for k in e.keywords])
        if not e.args:
            return self.expr(display, out)
        source = e.args[0]
        made_of_pairs = isinstance(source, (gast.List, gast.Tuple, gast.ListComp, gast.GeneratorExp)) or (
            isinstance(source, gast.Call) and self.scope.resolve(source.func) is builtins.zip)
        if not made_of_pairs:
            self.refuse(e, "dict(x) of a dict or a list of pairs held in a variable",
                        "write {**x} for a copy of a dict, or {k: v for k, v in x} for pairs")
        key, value = self.namer.fresh("key"), self.namer.fresh("value")
        fields = self.expr(gast.DictComp(key=build.name(key), value=build.name(value), generators=[gast.comprehension(
            target=build.tuple_([build.store(key), build.store(value)], True), iter=source, ifs=[], is_async=0)]), out)
        if not e.keywords:
            return fields
        return self.expr(gast.Dict(keys=[None] + display.keys, values=[fields] + display.values), out)

    def index_value(self, s, out):
        """The index of ``x[...]`` as a value: slices become ``slice(...)`` calls."""
        if isinstance(s, gast.Slice):
            parts = [self.atom(p, out) if p is not None else build.const(None) for p in (s.lower, s.upper, s.step)]
            return self.atom(build.call("slice", *parts), out, base="index")
        if isinstance(s, gast.Tuple):
            return self.atom(gast.Tuple(elts=[self.index_value(e, out) for e in s.elts], ctx=gast.Load()), out,
                             base="index")
        return self.atom(s, out)

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


def _joined(display):
    """``[a, *b, c]`` as ``[a] + list(b) + [c]`` (and a tuple's with ``tuple``): a join, whose gradient
    is split back by position, where a starred item's would otherwise be taken for one item's."""
    kind = type(display)
    convert = "list" if kind is gast.List else "tuple"
    parts, run = [], []
    for elt in display.elts:
        if isinstance(elt, gast.Starred):
            if run:
                parts.append(kind(elts=run, ctx=gast.Load()))
                run = []
            parts.append(build.call(convert, elt.value))
        else:
            run.append(elt)
    if run:
        parts.append(kind(elts=run, ctx=gast.Load()))
    return functools.reduce(lambda left, right: gast.BinOp(left=left, op=gast.Add(), right=right), parts)


def _is_plain(test) -> bool:
    """A test made only of comparisons, names and literals: safe to keep whole."""
    return all(
        isinstance(n, (gast.Compare, gast.Name, gast.Constant, gast.Load, gast.cmpop, gast.BoolOp,
                       gast.boolop, gast.UnaryOp, gast.unaryop, gast.Attribute))
        for n in build.walk(test)
    )


def is_users_nograd(target) -> bool:
    """Whether ``target`` is a Python function a user marked ``nograd`` (srcgrad's own, NumPy's and SciPy's
    functions on the nograd list write into nothing they are given)."""
    if not isinstance(target, types.FunctionType) or not registry.is_nondiff(target):
        return False
    module = getattr(target, "__module__", None) or ""
    return not module.startswith(("srcgrad.", "numpy", "scipy"))
