"""Stage 7, simplify: tidy arithmetic, so each expression reads as a line of calculus.

After :class:`Tidy` has visited a function, literal arithmetic is folded
(``2 * 3`` is ``6``, ``x ** 1`` is ``x``, ``x / 1`` is ``x``, ``a + a`` is
``2 * a``), signs are gathered in front (and a sum's negative term is
subtracted: ``a + -2 * dy`` is ``a - 2 * dy``), the power rule with a literal
exponent prints as its derivative (``power_slope(x, 2)`` is ``2 * x``), and
each product reads constants first, then values, then adjoints
(``6 * x * dy``). A helper's trailing arguments equal to its defaults are
dropped, and ``a if None is None else b`` (a rule's default argument) is ``a``.
"""

from __future__ import annotations

import operator

import gast

from ..rules.operators import power_slope
from . import build

__all__ = ["Tidy", "number"]


_FOLD = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Pow: operator.pow}


def number(node):
    """Whether ``node`` is a literal int or float (not a bool)."""
    return isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


class Tidy(gast.NodeTransformer):
    """Tidies a function in place, as the module says: ``Tidy(adjoints, helpers).visit(fdef)``."""

    def __init__(self, adjoints, helpers):
        self.adjoints = adjoints
        self.helpers = helpers

    def visit(self, node):
        method = _TIDY.get(node.__class__)
        return method(self, node) if method is not None else self.generic_visit(node)

    def generic_visit(self, node):
        """``NodeTransformer.generic_visit`` over the fields that can hold nodes (most of a tree has no
        call, product or conditional to tidy, and this is every node's cost)."""
        d = node.__dict__
        for field in build.child_fields(node.__class__):
            old = d.get(field)
            if old is None or _untouched(old):
                continue
            if old.__class__ is list:
                new_values = []
                for value in old:
                    if isinstance(value, gast.AST) and not _untouched(value):
                        value = self.visit(value)
                        if value is None:
                            continue
                        if not isinstance(value, gast.AST):
                            new_values.extend(value)
                            continue
                    new_values.append(value)
                old[:] = new_values
            elif isinstance(old, gast.AST):
                new_node = self.visit(old)
                if new_node is None:
                    delattr(node, field)
                else:
                    d[field] = new_node
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        fn = self.helpers.get(node.func.id) if isinstance(node.func, gast.Name) else None
        if fn is power_slope and len(node.args) == 2 and number(node.args[1]) and node.args[1].value != 0:
            # A literal exponent prints as the power rule itself: x ** 2 -> 2 * x.
            a, c = node.args
            return self.visit(gast.BinOp(left=c, op=gast.Mult(),
                                         right=gast.BinOp(left=a, op=gast.Pow(), right=build.const(c.value - 1))))
        defaults = getattr(fn, "__defaults__", None)
        if defaults and not node.keywords:
            nparams = fn.__code__.co_argcount
            first_default = nparams - len(defaults)
            while len(node.args) > first_default:
                value = defaults[len(node.args) - 1 - first_default]
                last = node.args[-1]
                if isinstance(last, gast.Constant) and last.value is value or (
                        isinstance(last, gast.Constant) and type(last.value) is type(value) and last.value == value):
                    node.args.pop()
                else:
                    break
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if number(left) and number(right) and type(node.op) in _FOLD:
            try:
                value = _FOLD[type(node.op)](left.value, right.value)
                if isinstance(value, (int, float)) and abs(value) < 1e12:
                    return build.const(value)
            except (ArithmeticError, ValueError):
                pass
        if isinstance(node.op, gast.Pow) and number(right) and right.value == 1:
            return left
        if node.op.__class__ in (gast.Mult, gast.Div) and self.is_gradient(node):
            # Negations move out to the front, where they cancel or join the coefficient: -(-dy / t) -> dy / t.
            left_negative, left = _unsigned(left)
            right_negative, right = _unsigned(right)
            if left_negative or right_negative:
                node = gast.BinOp(left=left, op=node.op, right=right)
                if left_negative != right_negative:
                    return self.visit_UnaryOp(gast.UnaryOp(op=gast.USub(), operand=self.tidied(node)), visited=True)
            return self.tidied(node)
        if isinstance(node.op, gast.Mult):
            return self.product(node)
        if isinstance(node.op, gast.Add) and isinstance(right, gast.UnaryOp) and isinstance(right.op, gast.USub):
            return gast.BinOp(left=left, op=gast.Sub(), right=right.operand)  # a + -b -> a - b
        if node.op.__class__ in (gast.Add, gast.Sub) and self.is_gradient(node):
            # a + -2 * dy -> a - 2 * dy, a - -dy -> a + dy: the same number to the last bit (negating is exact,
            # and rounding is symmetric, so (-2) * dy is -(2 * dy)), one operation fewer.
            flipped = _negated(right)
            if flipped is not None:
                return gast.BinOp(left=left, op=gast.Add() if isinstance(node.op, gast.Sub) else gast.Sub(),
                                  right=flipped)
        if isinstance(node.op, gast.Add) and _same(left, right):
            return self.visit(gast.BinOp(left=build.const(2), op=gast.Mult(), right=right))  # e + e -> 2 * e
        if isinstance(node.op, gast.Div) and number(right) and right.value == 1:
            return left
        return node

    def tidied(self, node):
        """A product or quotient of gradient values with its signs already out front."""
        return self.product(node, gradient=True) if node.op.__class__ is gast.Mult else node

    def visit_UnaryOp(self, node, visited=False):
        if not visited:
            self.generic_visit(node)
        if node.op.__class__ is not gast.USub or not self.is_gradient(node):
            return node
        operand = node.operand
        if operand.__class__ is gast.UnaryOp and operand.op.__class__ is gast.USub:
            return operand.operand  # --dy -> dy
        if operand.__class__ is gast.BinOp and operand.op.__class__ is gast.Mult:
            negated = _negate_coefficient(operand)  # -(2 * x * dy) -> -2 * x * dy
            if negated is not None:
                return negated
        return node

    def is_gradient(self, node) -> bool:
        """Whether ``node`` reads an adjoint: then it is a gradient, a float, and signs move freely."""
        adjoints = self.adjoints
        return any(n.__class__ is gast.Name and n.id in adjoints for n in build.walk(node))

    def visit_IfExp(self, node):
        """``a if None is None else b`` (a rule's default argument) -> ``a``."""
        self.generic_visit(node)
        test = node.test
        if isinstance(test, gast.Compare) and len(test.ops) == 1 and isinstance(test.left, gast.Constant) \
                and isinstance(test.comparators[0], gast.Constant) and isinstance(test.ops[0], (gast.Is, gast.IsNot)):
            same = test.left.value is test.comparators[0].value
            return node.body if same == isinstance(test.ops[0], gast.Is) else node.orelse
        return node

    def product(self, node, gradient=False):
        factors = []

        def flatten(n):
            if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult):
                flatten(n.left)
                flatten(n.right)
            else:
                factors.append(n)

        flatten(node)
        if not gradient and len(factors) > 2 and not any(isinstance(f, gast.Name) and f.id in self.adjoints
                                                          for f in factors):
            return node  # a value's product keeps its order: (W * (2.5 * v)) rounds as the user's code does
        coefficient = 1
        rest = []
        for f in factors:
            if number(f):
                coefficient *= f.value
            else:
                rest.append(f)
        if coefficient == 0 or not rest:
            return build.const(coefficient) if not rest else node
        if gradient:  # (a factor holding an adjoint goes last, as an adjoint does)
            marked = [self.is_gradient(f) for f in rest]
            values = [f for f, g in zip(rest, marked) if not g]
            grads = [f for f, g in zip(rest, marked) if g]
        else:
            values = [f for f in rest if not (isinstance(f, gast.Name) and f.id in self.adjoints)]
            grads = [f for f in rest if isinstance(f, gast.Name) and f.id in self.adjoints]
        if not grads and coefficient == 1 and len(rest) == 1:
            return node  # y = x * 1.0 is a copy of x in the user's code, not an alias
        ordered = values + grads
        out = ordered[0]
        for f in ordered[1:]:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        if coefficient == -1:
            return gast.UnaryOp(op=gast.USub(), operand=out)
        if coefficient != 1:
            if isinstance(coefficient, float) and coefficient.is_integer() and abs(coefficient) < 1e6:
                coefficient = coefficient
            out = _prepend(build.const(coefficient), out)
        return out


_TIDY = {gast.Call: Tidy.visit_Call, gast.BinOp: Tidy.visit_BinOp, gast.IfExp: Tidy.visit_IfExp,
         gast.UnaryOp: Tidy.visit_UnaryOp}


def _negate_coefficient(product):
    """``product`` (``2 * x * dy``) with its leading number negated, as new nodes; None if it has none."""
    if product.__class__ is gast.BinOp and product.op.__class__ is gast.Mult:
        left = _negate_coefficient(product.left)
        return None if left is None else gast.BinOp(left=left, op=gast.Mult(), right=product.right)
    return build.const(-product.value) if number(product) else None


def _negated(node):
    """``-node`` without its sign, as new nodes, where ``node`` carries one in front (``-b``, ``-2 * x * dy``,
    a negative literal); None otherwise."""
    if node.__class__ is gast.UnaryOp and node.op.__class__ is gast.USub:
        return node.operand
    if number(node) and node.value < 0:
        return build.const(-node.value)
    if node.__class__ is gast.BinOp and node.op.__class__ is gast.Mult:
        leading = node
        while leading.__class__ is gast.BinOp and leading.op.__class__ is gast.Mult:
            leading = leading.left
        if number(leading) and leading.value < 0:
            return _negate_coefficient(node)
    return None


def _unsigned(node):
    """``(True, x)`` for ``-x``, else ``(False, node)``."""
    if node.__class__ is gast.UnaryOp and node.op.__class__ is gast.USub:
        return True, node.operand
    return False, node


def _same(left, right) -> bool:
    """``gast.dump(left) == gast.dump(right)``; two names compared directly (most sums in
    generated code add two names, and ``gast.dump`` prints every node it is given)."""
    if left.__class__ is gast.Name and right.__class__ is gast.Name \
            and left.annotation is None and right.annotation is None:
        return left.id == right.id and left.ctx.__class__ is right.ctx.__class__ \
            and left.type_comment == right.type_comment
    return left.__class__ is right.__class__ and gast.dump(left) == gast.dump(right)


def _untouched(node) -> bool:
    """Whether tidying ``node`` leaves it as it is without looking: a name, a constant, an operator."""
    cls = node.__class__
    if cls is gast.Name:
        return node.__dict__.get("annotation") is None
    return cls is gast.Constant or (isinstance(node, gast.AST) and not build.child_fields(cls) and cls not in _TIDY)


def _prepend(c, expr):
    """``c * expr`` with ``c`` as the leftmost factor of a product chain."""
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, gast.Mult):
        return gast.BinOp(left=_prepend(c, expr.left), op=gast.Mult(), right=expr.right)
    return gast.BinOp(left=c, op=gast.Mult(), right=expr)
