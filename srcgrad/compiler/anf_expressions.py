"""Stage 4, normalise, A-normal form: expressions taken apart, one operation per temporary.

:meth:`AnfExpressions.atom` gives the value of any expression as an atom (a
name, a literal, or a static path such as ``np.pi``), writing each operation
it needs into a temporary named after what it holds (:func:`.names.temp_base`).
``a if c else b``, ``a and b`` and ``a or b`` become ``if`` statements
assigning one temporary, with Python's short-circuiting; ``reduce(f, xs)``
becomes a loop and ``map(f, xs)`` a comprehension; ``super()`` names its
class; a test made only of comparisons and names, an f-string, and a
function defined here are kept whole, with the current names of what they read.
"""

from __future__ import annotations

import builtins
import functools

import gast

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


def _is_plain(test) -> bool:
    """A test made only of comparisons, names and literals: safe to keep whole."""
    return all(
        isinstance(n, (gast.Compare, gast.Name, gast.Constant, gast.Load, gast.cmpop, gast.BoolOp,
                       gast.boolop, gast.UnaryOp, gast.unaryop, gast.Attribute))
        for n in build.walk(test)
    )
