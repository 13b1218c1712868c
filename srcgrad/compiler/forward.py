"""Stage 5 (forward mode): write the tangent function of a normalised function.

From ``def f(x): ...`` in A-normal form this pass writes::

    def f_tangent(x, dx):
        y = ...            # each of the user's statements, in order,
        dy = ...           # followed by its tangent
        return (y, dy)

Forward mode needs no tapes and no reversal: loops and branches run as
written, and each value's tangent is computed right after the value. The
tangent of every active value is a real number or array, never ``None``
(a branch that assigns a constant gives a zero), so no guards are needed.

Rules come from the same registry as reverse mode (one derivative, two
modes):

- a rule whose Jacobian is diagonal (elementwise operations, ``math``)
  gives its tangent by feeding each argument's tangent to its reverse rule
  in place of ``dy`` and adding the results;
- a *linear* operation (``sum``, ``reshape``, ``@``, indexing...) is its
  own tangent: apply it to the tangents (one argument at a time for the
  multilinear ones, such as ``a @ b``);
- a few others have an explicit forward rule in :data:`FORWARD_RULES`.
"""

from __future__ import annotations

import copy
import operator

import gast
import numpy as np

from ..errors import NoRuleError
from ..runtime import forward as runtime_forward
from ..runtime import structure
from . import build
from .inline import substitute, template_of
from .reverse import _pure, _Reverse, _targets, _unstar

__all__ = ["tangent_transform", "MULTILINEAR", "JOINTLY_LINEAR"]

#: Linear in each array argument separately: the tangent sums f(..., d_i, ...).
MULTILINEAR = {
    operator.mul, operator.matmul, operator.neg, operator.pos, np.multiply, np.matmul, np.dot, np.outer,
    np.inner, np.tensordot, np.einsum, np.sum, np.mean, np.cumsum, np.trace, np.reshape, np.ravel, np.squeeze,
    np.expand_dims, np.transpose, np.swapaxes, np.moveaxis, np.broadcast_to, np.flip, np.tile, np.repeat,
    np.take, np.diag, np.negative, np.positive,
    "sum", "mean", "cumsum", "reshape", "ravel", "flatten", "squeeze", "transpose", "swapaxes", "dot", "take",
    "repeat", "trace", "copy", "T",
}
#: Linear in all their array arguments together: the tangent is f(d_1, d_2, ...).
JOINTLY_LINEAR = {
    np.concatenate, np.stack, np.vstack, np.hstack, np.split, np.array, np.asarray,
    structure.with_item, structure.appended, structure.extended, structure.as_sequence, float,
}
#: Reverse rules with a diagonal Jacobian besides the elementwise ones.
DIAGONAL = {np.clip, "clip", abs}


def tangent_transform(parsed, scope, namer, fdef):
    return _Forward(parsed, scope, namer, fdef).run_forward()


class _Forward(_Reverse):
    #: jvp differentiates with respect to the arguments; globals are constants.
    globals_are_constants = True

    def tangent_name(self, var):
        return self.namer.adjoint(var)

    def d(self, atom):
        """The tangent of an atom, or None for a constant."""
        if isinstance(atom, gast.Name) and atom.id in self.active:
            return build.name(self.tangent_name(atom.id))
        return None

    def zero(self, t):
        return build.call(self.runtime_f("zero_tangent"), build.name(t))

    def runtime_f(self, name):
        return build.name(self.inject(name, getattr(runtime_forward, name)))

    def run_forward(self):
        self.analyse()
        body = self.fdef.body
        ret = body[-1]
        params = list(self.scope.params)
        tangent_params = [self.tangent_name(p) for p in params]
        out = []
        read = build.names_in(self.fdef)
        takes_closure = any(self.scope.kind(n) == "free" for n in read)
        names = list(params)
        if takes_closure:
            closure, dclosure = self.namer.fresh("closure"), self.namer.fresh("dclosure")
            names = [closure, dclosure] + names
            cells = [build.store(n) for n in self.scope.freevars]
            out.append(build.assign(build.tuple_(cells, store_ctx=True),
                                    build.call(self.runtime("captured"), build.name(closure))))
            dcells = [build.store(self.tangent_name(n)) for n in self.scope.freevars]
            out.append(build.assign(build.tuple_(dcells, store_ctx=True),
                                    build.call(self.runtime_f("cell_tangents"), build.name(dclosure),
                                               build.name(closure))))
        for n in sorted(read):
            if n in self.active and self.scope.kind(n) == "global":
                out.append(build.assign(self.tangent_name(n), self.zero(n)))  # globals are constants here
        out += self.block(body[:-1])
        value = ret.value
        dvalue = self.d(value) if isinstance(value, gast.Name) else None
        if dvalue is None:
            dvalue = build.call(self.runtime_f("zero_tangent"), value)
        out.append(gast.Return(value=build.tuple_([value, dvalue])))
        names = names + tangent_params
        args = gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in names],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        fdef = gast.FunctionDef(name=f"{self.parsed.name}_tangent", args=args, body=out, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        return fdef, dict(self.injected), params, takes_closure, self.depends_on

    def block(self, stmts):
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.If):
                out.append(gast.If(test=stmt.test, body=self.block(stmt.body) or [gast.Pass()],
                                   orelse=self.block(stmt.orelse)))
                continue
            if isinstance(stmt, gast.For):
                out.append(gast.For(target=stmt.target, iter=stmt.iter, body=self.block(stmt.body) or [gast.Pass()],
                                    orelse=[], type_comment=None))
                continue
            if isinstance(stmt, gast.While):
                out.append(gast.While(test=stmt.test, body=self.block(stmt.body) or [gast.Pass()], orelse=[]))
                continue
            tangent = self.tangent_of(stmt)
            if isinstance(tangent, gast.stmt):
                out.append(tangent)  # a call: value and tangent together
            else:
                out.append(stmt)
                if tangent:
                    out.extend(tangent)
        return out

    def tangent_of(self, stmt):
        """The statements computing the tangents of what ``stmt`` assigns (a call replaces ``stmt``)."""
        op = self.ops.get(id(stmt))
        targets = [t for t in _targets(stmt) if t in self.active]
        if op is None or not targets:
            return []
        if op.kind == "setattr":
            base, value = op.callee.id, op.operands[0]
            dvalue = self.d(value) or build.const(None)
            new = build.call(self.runtime("with_item"), build.call(self.runtime_f("struct_tangent"),
                                                                      build.name(self.tangent_name(base))),
                             build.const(op.attr), dvalue)
            return [build.assign(self.tangent_name(base), new)]
        t = targets[0]
        if op.kind == "inactive" or not self.any_active(op):
            return [build.assign(self.tangent_name(t), self.zero(t))] if op.kind != "unpack" else [
                build.assign(self.tangent_name(n), self.zero(n)) for n in targets]
        if op.kind == "copy":
            return [build.assign(self.tangent_name(t), self.d(op.operands[0]) or self.zero(t))]
        if op.kind == "unpack":
            source = self.d(op.operands[0])
            return [build.assign(self.tangent_name(n), self.coerce(
                build.call(self.runtime("item"), source, build.const(i)), n)) for i, n in enumerate(targets)]
        if op.kind == "index":
            base = self.d(op.operands[0])
            index = _index_value(op.index)
            part = gast.Subscript(value=base, slice=copy.deepcopy(op.index), ctx=gast.Load()) \
                if op.operands[0].id in self.numeric else build.call(self.runtime("item"), base, index)
            return [build.assign(self.tangent_name(t), self.coerce(part, t))]
        if op.kind == "attr":
            part = build.call(self.runtime("item"), self.d(op.operands[0]), build.const(op.attr))
            return [build.assign(self.tangent_name(t), self.coerce(part, t))]
        if op.kind == "display":
            if op.index is not None:  # a dict
                values = [self.d(_unstar(v)) or build.const(None) for v in op.operands]
                return [build.assign(self.tangent_name(t), gast.Dict(keys=list(op.index), values=values))]
            elts = [self.d(_unstar(v)) or self.zero_of_atom(_unstar(v)) for v in op.operands]
            kind = gast.List if isinstance(stmt.value, gast.List) else gast.Tuple
            return [build.assign(self.tangent_name(t), kind(elts=elts, ctx=gast.Load()))]
        if op.kind == "closure":  # its tangent: the tangents of what it captured
            captured = [c for c in op.operands if self.is_active_atom(c)]
            return [build.assign(self.tangent_name(t), gast.Dict(keys=[build.const(c.id) for c in captured],
                                                                 values=[self.d(c) for c in captured]))]
        if op.kind in ("rule", "rulecall"):
            return [build.assign(self.tangent_name(t), _pure(self.rule_tangent(stmt, op, t)))]
        if op.kind == "dynamic":
            return self.call_tangent(stmt, op, t)
        raise NoRuleError(f"forward mode cannot differentiate this statement yet ({op.kind})",
                          filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None))

    def any_active(self, op):
        atoms = [_unstar(a) for a in op.operands] + list((op.keywords or {}).values())
        if op.kind == "dynamic":
            atoms.append(op.callee.value if isinstance(op.callee, gast.Attribute) else op.callee)
        return any(self.is_active_atom(a) for a in atoms)

    def zero_of_atom(self, atom):
        if isinstance(atom, gast.Name):
            return self.zero(atom.id)
        return build.call(self.runtime_f("zero_tangent"), copy.deepcopy(atom))

    def coerce(self, expr, name):
        """A tangent read out of a structure: a zero where the structure held none."""
        return build.call(self.runtime_f("or_zero"), expr, build.name(name))

    def rule_tangent(self, stmt, op, t):
        rule = op.rule
        primal = rule.primal
        key = primal if not isinstance(primal, str) else primal
        active = [i for i, a in enumerate(op.operands) if self.is_active_atom(_unstar(a))]
        explicit = FORWARD_RULES.get(key) if _hashable(key) else None
        if explicit is not None:
            name = self.inject(explicit.__name__, explicit)
            dargs = build.tuple_([self.d(_unstar(a)) or build.const(None) for a in op.operands])
            return build.call(name, dargs, build.name(t), *[copy.deepcopy(a) for a in op.operands], **op.keywords)
        if (rule.elementwise or rule.scalar or (_hashable(key) and key in DIAGONAL)) and op.kind == "rule":
            template = template_of(rule)
            terms = []
            for i in active:
                mapping = dict(op.bindings)
                mapping[template.params[0]] = self.d(op.operands[i])
                mapping[template.params[1]] = build.name(t)
                renames = {}
                for name, value in template.free.items():
                    injected = self.inject(name, value)
                    if injected != name:
                        renames[name] = build.name(injected)
                expr = template.outputs[i]
                terms.append(substitute(substitute(expr, renames), mapping))
            if not terms:
                return self.zero(t)
            total = _sum(terms)
            # The sum has the result's shape when it involves every operand (or its tangent);
            # otherwise (d(a + c) = da) it is spread to that shape, unless shapes provably agree.
            used = build.names_in(total)
            operands = [a for a in op.operands if isinstance(a, gast.Name)]
            covered = all(a.id in used or self.tangent_name(a.id) in used for a in operands)
            same = all(self.shape_of(a) is not None and self.shape_of(a) == self.stmt_shape.get(id(stmt))
                       for a in operands)
            if not covered and not same and not rule.scalar:
                total = build.call(self.runtime_f("spread_to"), total, build.name(t))
            return total
        linear = _hashable(key) and (key in MULTILINEAR or key in JOINTLY_LINEAR)
        if linear:
            call = stmt.value
            if _hashable(key) and key in JOINTLY_LINEAR:
                return self.apply_to_tangents(call, op, active, all_at_once=True)
            terms = [self.apply_to_tangents(call, op, [i], all_at_once=False) for i in active]
            return _sum(terms)
        raise NoRuleError(
            f"no forward-mode rule for {rule.name}",
            filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
            fix="use reverse mode (srcgrad.gradient/pullback/jacobian) for this function, or add a forward "
            "rule to srcgrad.compiler.forward.FORWARD_RULES",
        )

    def apply_to_tangents(self, call, op, positions, all_at_once):
        """The operation itself, with the arguments at ``positions`` replaced by their tangents."""
        replaced = {}
        for i, a in enumerate(op.operands):
            atom = _unstar(a)
            if i in positions:
                replaced[i] = self.d(atom)
            elif all_at_once and self.is_numeric_atom(atom):
                replaced[i] = self.zero_of_atom(atom)
        node = copy.deepcopy(call)
        if isinstance(node, gast.BinOp):
            operands = [node.left, node.right]
            for i, new in replaced.items():
                operands[i] = new
            node.left, node.right = operands
            return node
        if isinstance(node, gast.UnaryOp):
            node.operand = replaced.get(0, node.operand)
            return node
        if isinstance(node, gast.Attribute):  # x.T
            node.value = replaced.get(0, node.value)
            return node
        if isinstance(node.func, gast.Attribute) and not self.scope.is_static_path(node.func):
            # a method: the receiver is operand 0
            if 0 in replaced:
                node.func.value = replaced[0]
            args = node.args
            for i, new in replaced.items():
                if i >= 1:
                    args[i - 1] = new
            return node
        for i, new in replaced.items():
            node.args[i] = gast.Starred(value=new, ctx=gast.Load()) if isinstance(node.args[i], gast.Starred) else new
        return node

    def is_numeric_atom(self, atom):
        return isinstance(atom, gast.Name) and atom.id in self.numeric

    def call_tangent(self, stmt, op, t):
        """``t, dt = tangent_call(f, (args...), (dargs...))``: the callee's own tangent function."""
        callee = copy.deepcopy(stmt.value.func)
        args = [copy.deepcopy(a) for a in stmt.value.args]
        dargs = []
        for a in stmt.value.args:
            atom = _unstar(a)
            d = self.d(atom) or build.const(None)
            dargs.append(gast.Starred(value=d, ctx=gast.Load()) if isinstance(a, gast.Starred) else d)
        dcallee = build.const(None)
        if isinstance(callee, gast.Name) and callee.id in self.active and callee.id in self.scope.locals:
            dcallee = self.d(callee) or build.const(None)
        keywords = {k: v for k, v in op.keywords.items()}
        call = build.call(self.runtime_f("tangent_call"), callee, dcallee,
                          build.tuple_(args), build.tuple_(dargs),
                          build.tuple_([build.tuple_([build.const(k), v]) for k, v in keywords.items()]),
                          build.tuple_([self.d(v) or build.const(None) for v in keywords.values()]))
        target = build.tuple_([build.store(t), build.store(self.tangent_name(t))], store_ctx=True)
        return build.assign(target, call)


def _hashable(key):
    try:
        hash(key)
        return True
    except TypeError:
        return False


def _sum(terms):
    total = terms[0]
    for term in terms[1:]:
        total = gast.BinOp(left=total, op=gast.Add(), right=term)
    return total


def _index_value(index):
    from .reverse import _index_expr

    return _index_expr(index)


# ---------------------------------------------------------------- explicit forward rules

def prod_tangent(dargs, y, a, axis=None, dtype=None, out=None, keepdims=False):
    """d prod(a) = sum(prod(a) / a * da)."""
    return np.sum(runtime_forward.unreduce_like(y, a, axis, keepdims) / a * dargs[0], axis=axis, keepdims=keepdims)


def extremum_tangent(dargs, y, a, axis=None, out=None, keepdims=False):
    """d max(a): the tangent at the maximum (shared among ties)."""
    mask = a == runtime_forward.unreduce_like(y, a, axis, keepdims)
    return np.sum(dargs[0] * mask, axis=axis, keepdims=keepdims) / np.sum(mask, axis=axis, keepdims=keepdims)


def var_tangent(dargs, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """d var(a) = 2 * mean-like sum of (a - mean) * da."""
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = np.size(a) // max(np.size(np.mean(a, axis=axis)), 1)
    return 2 * np.sum(centred * dargs[0], axis=axis, keepdims=keepdims) / (n - ddof)


def std_tangent(dargs, y, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """d std(a) = d var(a) / (2 std(a))."""
    return var_tangent(dargs, y ** 2, a, axis, dtype, out, ddof, keepdims) / (2 * y)


def norm_tangent(dargs, y, x, ord=None, axis=None, keepdims=False):
    """d ||x|| = <x, dx> / ||x|| (2-norm and Frobenius)."""
    if not (ord is None or ord == 2 or ord == "fro"):
        raise NoRuleError(f"no forward-mode rule for np.linalg.norm with ord={ord!r}")
    return np.sum(x * dargs[0], axis=axis, keepdims=keepdims) / np.where(y == 0, 1, y)


def inv_tangent(dargs, y, a):
    """d inv(a) = -inv(a) da inv(a)."""
    return -y @ dargs[0] @ y


def det_tangent(dargs, y, a):
    """d det(a) = det(a) trace(inv(a) da)."""
    return y * np.trace(np.linalg.solve(a, dargs[0]), axis1=-2, axis2=-1)


def solve_tangent(dargs, y, a, b):
    """d solve(a, b) = solve(a, db - da x)."""
    da, db = dargs
    rhs = (db if db is not None else 0) - ((da @ y) if da is not None else 0)
    return np.linalg.solve(a, rhs + np.zeros_like(y))


def sort_tangent(dargs, y, a, axis=-1):
    """The tangents follow their elements."""
    return np.take_along_axis(dargs[0], np.argsort(a, axis=axis), axis=axis)


FORWARD_RULES = {
    np.prod: prod_tangent, "prod": prod_tangent, np.max: extremum_tangent, np.min: extremum_tangent,
    "max": extremum_tangent, "min": extremum_tangent, np.var: var_tangent, "var": var_tangent,
    np.std: std_tangent, "std": std_tangent, np.linalg.norm: norm_tangent, np.linalg.inv: inv_tangent,
    np.linalg.det: det_tangent, np.linalg.solve: solve_tangent, np.sort: sort_tangent,
}
