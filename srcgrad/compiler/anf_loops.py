"""Stage 4, normalise, A-normal form: every loop becomes a loop over ``range``, and comprehensions loops.

After this step a ``for`` loop is ``for i in range(...)`` whose body starts
by reading its items by index (``x = xs[i]``): ``enumerate`` names the
index, ``zip`` indexes several sequences, ``reversed`` counts down, and
``d.items()``, ``d.values()`` and ``d.keys()`` loop over a list of the keys
and read ``d[key]``. The backward pass then only ever runs
``reversed(range(...))``, and each element's gradient flows back to its
sequence by index. A list, generator or dict comprehension is a loop that
appends to a new list, or fills a new dict, its own variables renamed so
they cannot clobber the function's.
"""

from __future__ import annotations

import builtins

import gast

from . import build
from .normal import runtime_call

__all__ = ["LoopLowering"]


class LoopLowering:
    """Loops and comprehensions. A part of :class:`~srcgrad.compiler.anf.Normaliser`."""

    def for_loop(self, s, out):
        """Every loop becomes a loop over ``range``: ``for x in xs`` reads ``x = xs[i]``.

        ``enumerate`` names the index, ``zip`` indexes several sequences,
        ``reversed`` counts down. The backward pass then only ever runs
        ``reversed(range(...))``, and each element's gradient flows back to
        its sequence by index.
        """
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
