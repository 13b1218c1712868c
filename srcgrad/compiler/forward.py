"""Stage 6, transform (forward mode): write the tangent function of a normalised function.

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
modes), and each rule's row says which way it goes (``defrule(...,
forward=...)``, read by :func:`forward_kind`):

- *diagonal*: a rule whose Jacobian is diagonal (elementwise operations,
  ``math``) gives its tangent by feeding each argument's tangent to its
  reverse rule in place of ``dy`` and adding the results;
- *linear*: a linear operation (``sum``, ``reshape``, ``@``, indexing, and
  srcgrad's own glue such as ``accum`` and ``unbroadcast``) is its own
  tangent: apply it to the tangents (one argument at a time for the
  multilinear ones, such as ``a @ b``);
- *explicit*: a few others have a forward rule (:attr:`Rule.forward`),
  several of them derived from the reverse rule too (a reduction's tangent
  is its reverse rule at ``dy = 1``, contracted with the tangent);
- *transposed*: anything else (a user's ``@defrule`` without ``forward=``)
  runs its reverse rule in reverse mode at run time: ``J t`` is the
  gradient in ``dy`` of ``<rule(dy), t>``.

Forward mode also reads tapes (``reversed``, ``next``), so it runs through
generated backward code: that is how :func:`srcgrad.hessian` works
(forward over reverse).
"""

from __future__ import annotations

import copy

import gast

from ..errors import NoRuleError
from ..rules import registry
from ..rules import runtime as runtime_rules
from ..runtime import structure
from . import build
from .inline import template_of
from .activity import Activity
from .classify import index_expr, pure, targets_of, unstar
from .injection import runtime_helper

__all__ = ["tangent_transform", "forward_kind", "explicit_forward"]


def tangent_transform(parsed, scope, namer, fdef):
    return _Forward(parsed, scope, namer, fdef).run_forward()


class _Forward(Activity):
    #: jvp differentiates with respect to the arguments; globals are constants.
    globals_are_constants = True
    #: A tangent is pushed through each statement as it is: no closed forms for the reverse pass's idioms.
    fuses_idioms = False

    def lookup_rule(self, target):
        forward_only = runtime_rules.FORWARD_ONLY
        return forward_only[target] if _hashable(target) and target in forward_only else registry.lookup(target)

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
        return build.name(self.inject(name, runtime_helper(name)))

    def run_forward(self):
        # The tangent function's own name is taken: a helper injected under it (det_tangent, the
        # forward rule of np.linalg.det, in a user's def det) would be shadowed by the function.
        self.namer.taken.add(f"{self.parsed.name}_tangent")
        self.analyse()
        body = self.fdef.body
        ret = body[-1]
        params = list(self.scope.params)
        tangent_params = [self.tangent_name(p) for p in params]
        out = []
        read = build.names_in(self.fdef)
        # (Generated code's captured values are the helpers it was compiled with: analyse injected them.)
        takes_closure = not self.scope.generated and any(self.scope.kind(n) == "free" for n in read)
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
        out.append(build.line_of(ret, gast.Return(value=build.tuple_([value, dvalue]))))
        names = names + tangent_params
        args = gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in names],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        fdef = gast.FunctionDef(name=f"{self.parsed.name}_tangent", args=args, body=out, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        return fdef, dict(self.injected), params, takes_closure, self.depends_on

    def block(self, stmts):
        """The tangent statements of ``stmts``, each marked with its user's line (``_srcgrad_line``)."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.If):
                out.append(build.line_of(stmt, gast.If(test=stmt.test, body=self.block(stmt.body) or [gast.Pass()],
                                                  orelse=self.block(stmt.orelse))))
                continue
            if isinstance(stmt, gast.For):
                out.append(build.line_of(stmt, gast.For(target=stmt.target, iter=stmt.iter,
                                                   body=self.block(stmt.body) or [gast.Pass()], orelse=[],
                                                   type_comment=None)))
                continue
            if isinstance(stmt, gast.While):
                out.append(build.line_of(stmt, gast.While(test=stmt.test, body=self.block(stmt.body) or [gast.Pass()],
                                                     orelse=[])))
                continue
            tangent = self.tangent_of(stmt)
            if isinstance(tangent, gast.stmt):
                out.append(build.line_of(stmt, tangent))  # a call: value and tangent together
            else:
                out.append(stmt)
                if tangent:
                    out.extend(build.line_of(stmt, t) for t in tangent)
        return out

    def tangent_of(self, stmt):
        """The statements computing the tangents of what ``stmt`` assigns (a call replaces ``stmt``)."""
        op = self.ops.get(id(stmt))
        if op is not None and op.kind == "setattr":  # obj.a = v rebinds no name (targets_of has none): obj changes
            base, value = op.callee.id, op.operands[0]
            if base not in self.active:
                return []
            dvalue = self.d(value) or build.const(None)
            new = build.call(self.runtime("with_item"), build.call(self.runtime_f("struct_tangent"),
                                                                      build.name(self.tangent_name(base))),
                             build.const(op.attr), dvalue)
            return [build.assign(self.tangent_name(base), new)]
        targets = [t for t in targets_of(stmt) if t in self.active]
        if op is None or not targets:
            return []
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
            index = index_expr(op.index)
            part = gast.Subscript(value=base, slice=copy.deepcopy(op.index), ctx=gast.Load()) \
                if op.operands[0].id in self.numeric else \
                build.call(self.runtime_f("index_tangent"), base, build.name(op.operands[0].id), index)
            return [build.assign(self.tangent_name(t), self.coerce(part, t))]
        if op.kind == "attr":
            part = build.call(self.runtime("callee_part" if op.maybe_method else "item"), self.d(op.operands[0]),
                              *([build.name(op.operands[0].id)] if op.maybe_method else []), build.const(op.attr))
            return [build.assign(self.tangent_name(t), self.coerce(part, t))]
        if op.kind == "display":
            if op.index is not None:  # a dict
                values = [self.d(unstar(v)) or build.const(None) for v in op.operands]
                return [build.assign(self.tangent_name(t), gast.Dict(keys=list(op.index), values=values))]
            elts = [self.d(unstar(v)) or self.zero_of_atom(unstar(v)) for v in op.operands]
            kind = gast.List if isinstance(stmt.value, gast.List) else gast.Tuple
            return [build.assign(self.tangent_name(t), kind(elts=elts, ctx=gast.Load()))]
        if op.kind == "closure":  # its tangent: the tangents of what it captured
            captured = [c for c in op.operands if self.is_active_atom(c)]
            return [build.assign(self.tangent_name(t), gast.Dict(keys=[build.const(c.id) for c in captured],
                                                                 values=[self.d(c) for c in captured]))]
        if op.kind in ("rule", "rulecall"):
            return [build.assign(self.tangent_name(t), pure(self.rule_tangent(stmt, op, t)))]
        if op.kind == "dynamic":
            return self.call_tangent(stmt, op, t)
        if op.kind == "concat":  # a + b of tuples or lists: the tangents joined the same way
            parts = [self.d(a) or build.const(None) for a in op.operands]
            joined = [build.call(self.runtime_f("or_zero"), d, a) for d, a in zip(parts, op.operands)]
            return [build.assign(self.tangent_name(t), gast.BinOp(left=joined[0], op=gast.Add(), right=joined[1]))]
        raise NoRuleError(f"forward mode cannot differentiate this statement yet ({op.kind})",
                          filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None))

    def any_active(self, op):
        atoms = [unstar(a) for a in op.operands] + list((op.keywords or {}).values())
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
        slots = dict(self.slots(op))  # keywords that fill a positional parameter have its position
        active = sorted(i for i, a in slots.items() if self.is_active_atom(unstar(a)))
        # One tangent per position, as the rules take them (None for a gap: np.clip(x, a_max=b)).
        dargs = build.tuple_([(self.d(unstar(slots[i])) if i in slots else None) or build.const(None)
                              for i in range(max(slots, default=-1) + 1)])
        args, keywords = registry.positional_call([copy.deepcopy(a) for a in op.operands], op.keywords,
                                                  op.positions or {})
        explicit = rule.forward
        if explicit is not None:
            name = self.inject(explicit.__name__, explicit)
            return build.call(name, dargs, build.name(t), *args, **keywords)
        diagonal = rule.elementwise or rule.scalar or rule.linearity == "diagonal"
        if diagonal and op.kind == "rule":
            template = template_of(rule)
            terms = []
            for i in active:
                expr = template.outputs[i] if i < len(template.outputs) else build.const(None)
                if isinstance(expr, gast.Constant) and expr.value is None:
                    continue  # no derivative with respect to this argument (math.copysign's sign)
                terms.append(self.fill_template(template, expr, op, self.d(slots[i]), t))
            if not terms:
                return self.zero(t)
            total = _sum(terms)
            # The sum has the result's shape when it involves every operand (or its tangent);
            # otherwise (d(a + c) = da) it is spread to that shape, unless shapes provably agree.
            used = build.names_in(total)
            operands = [a for a in slots.values() if isinstance(a, gast.Name)]
            covered = all(a.id in used or self.tangent_name(a.id) in used for a in operands)
            same = all(self.shape_of(a) is not None and self.shape_of(a) == self.stmt_shape.get(id(stmt))
                       for a in operands)
            if not covered and not same and not rule.scalar:
                total = build.call(self.runtime_f("spread_to"), total, build.name(t))
            return total
        if rule.linearity == "linear-in-first":
            if 0 not in active:
                return self.zero(t)
            return self.apply_to_tangents(stmt.value, op, [0], all_at_once=False)
        if rule.linearity in ("linear", "jointly-linear"):
            call = stmt.value
            outputs = template_of(rule).outputs
            if outputs is not None:  # np.sum(x, axis=k): no tangent through an argument the rule gives no gradient
                active = [i for i in active if i < len(outputs)
                          and not (isinstance(outputs[i], gast.Constant) and outputs[i].value is None)]
            if rule.linearity == "jointly-linear":
                return self.apply_to_tangents(call, op, active, all_at_once=True, operands=rule.operands)
            terms = [self.apply_to_tangents(call, op, [i], all_at_once=False) for i in active]
            if not terms:  # only a keyword (an axis, a dtype) depends on the inputs
                return self.zero(t)
            return _sum(terms)
        # A rule that could not be inlined, or one that is none of the above (a user's rule):
        # its tangent comes from the reverse rule at run time (diagonal, or transposed).
        helper = "diagonal_tangent" if diagonal else "transposed_tangent"
        reverse = self.inject(getattr(rule.reverse, "__name__", "rule"), rule.reverse)
        return build.call(self.runtime_f(helper), build.name(reverse), dargs, build.name(t), *args, **keywords)

    def apply_to_tangents(self, call, op, positions, all_at_once, operands=None):
        """The operation itself, with the arguments at ``positions`` replaced by their tangents.

        ``all_at_once``: the other numeric operands are replaced by zeros, except those at a
        position outside ``operands`` (when given), which say where or how (an index, an axis).
        """
        replaced = {}
        for i, a in self.slots(op):
            atom = unstar(a)
            if operands is not None and i not in operands:
                continue
            if i in positions:
                replaced[i] = self.d(atom)
            elif all_at_once and self.is_numeric_atom(atom):
                replaced[i] = self.zero_of_atom(atom)
            elif all_at_once and i == 2 and op.rule is not None and op.rule.primal is structure.with_item:
                replaced[i] = self.zero_of_atom(atom)  # y[i] = 3.0: the constant written has a zero tangent
        node = copy.deepcopy(call)
        if isinstance(node, gast.Call):  # a keyword filling a positional parameter: replace its value
            for k, i in (op.positions or {}).items():
                where = [j for j, kw in enumerate(call.keywords) if kw.value is op.keywords[k]]
                if i in replaced and where:
                    node.keywords[where[0]].value = replaced.pop(i)
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
            atom = unstar(a)
            if isinstance(a, gast.Starred):  # (a constant *args has zeros, one per value: never *None)
                dargs.append(gast.Starred(value=self.d(atom) or self.zero_of_atom(atom), ctx=gast.Load()))
            else:
                dargs.append(self.d(atom) or build.const(None))
        dcallee = build.const(None)
        # A callee that is a local or a captured variable (a closure calling the pullback it captured)
        # has a tangent (a dict of its own captured values' tangents) that must reach its call.
        if isinstance(callee, gast.Name) and callee.id in self.active \
                and self.scope.kind(callee.id) in ("local", "free"):
            dcallee = self.d(callee) or build.const(None)
        # o.f(x) with o active: a method's tangent is its object's (p.norm2()), a callable field's is
        # that field's (self.layer(x)); which one is asked of the object when the call runs.
        if isinstance(callee, gast.Attribute) and isinstance(callee.value, gast.Name) and callee.value.id in self.active:
            dobj = self.d(callee.value)
            if dobj is not None:
                dcallee = build.call(self.runtime("callee_part"), dobj, build.name(callee.value.id),
                                     build.const(callee.attr))
        keywords = {k: v for k, v in op.keywords.items()}
        named = build.tuple_([build.tuple_([build.const(k), v]) for k, v in keywords.items()])
        dnamed = build.tuple_([self.d(v) or build.const(None) for v in keywords.values()])
        if op.spread is not None:  # f(x, **options): its keywords and their tangents, after those named
            spread = build.name(op.spread.id)
            named = gast.BinOp(left=named, op=gast.Add(), right=build.call(self.runtime("keyword_items"), spread))
            dnamed = gast.BinOp(left=dnamed, op=gast.Add(), right=build.call(
                self.runtime("keyword_parts"), self.d(op.spread) or build.const(None), spread))
        call = build.call(self.runtime_f("tangent_call"), callee, dcallee,
                          build.tuple_(args), build.tuple_(dargs), named, dnamed)
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


def forward_kind(rule):
    """How forward mode gets the tangent of ``rule``'s primal: one of

    ``"explicit"`` (a forward rule), ``"diagonal"`` (the reverse rule, with the tangent for ``dy``),
    ``"linear"`` (the primal applied to the tangents) or ``"transposed"`` (reverse mode over the
    reverse rule, at run time: correct for any rule srcgrad can differentiate, but slower).
    """
    if rule.forward is not None:
        return "explicit"
    if rule.elementwise or rule.scalar or rule.linearity == "diagonal":
        return "diagonal"
    if rule.linearity is not None:
        return "linear"
    return "transposed"


def explicit_forward(rule):
    """The explicit forward rule for ``rule``, or None."""
    return rule.forward
