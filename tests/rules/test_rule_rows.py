"""The rule table is one row per function: each fact about a rule is said once, on its row.

A row (one ``defrule`` on one function) registers the callables its maths is
for, the array methods and properties it answers to, and how forward mode
gets its tangent; nothing else restates them.
"""

import inspect

import numpy as np
import pytest

from srcgrad.compiler.forward import forward_kind
from srcgrad.rules import registry
from srcgrad.rules import runtime as runtime_rules

pytest.importorskip("scipy.special")  # (its rules are in the table once it is imported)


def label(table, key, rule):
    """The name a rule has below: ``numpy.sum``, ``.sum`` for a method, ``.T (attribute)``."""
    if table is registry.method_rules:
        return f".{key}"
    if table is registry.attribute_rules:
        return f".{key} (attribute)"
    primal = rule.primal
    module = getattr(primal, "__module__", None) or type(primal).__module__
    return f"{module}.{getattr(primal, '__qualname__', None) or primal.__name__}"


def all_rules():
    registry.load_optional_rules()
    for table in (registry.rules, registry.method_rules, registry.attribute_rules):
        for key, rule in list(table.items()):
            if rule.builtin:
                yield table, key, rule


def kind_of(rule):
    """:func:`forward_kind`, with the linear kinds told apart (each applies the primal to other tangents)."""
    kind = forward_kind(rule)
    return rule.linearity if kind == "linear" else kind


#: How forward mode differentiated each built-in rule before the rows carried it (computed on main
#: from compiler/forward.py's tables, #17): a rule's forward mode must not change by moving it.
FORWARD_KINDS = {
    "explicit": {
        ".astype", ".conj", ".conjugate", ".imag (attribute)", ".max", ".min", ".prod", ".real (attribute)", ".std",
        ".var", "builtins.abs", "builtins.divmod", "builtins.max", "builtins.min", "builtins.sorted",
        "builtins.super", "functools.partial", "numpy.absolute", "numpy.angle", "numpy.arange", "numpy.full",
        "numpy.full_like", "numpy.imag", "numpy.linalg.det", "numpy.linalg.inv", "numpy.linalg.norm",
        "numpy.linalg.solve", "numpy.linspace", "numpy.max", "numpy.meshgrid", "numpy.min", "numpy.prod",
        "numpy.sort", "numpy.std", "numpy.unique", "numpy.var", "scipy.special._logsumexp.logsumexp",
        "srcgrad.runtime.backs.make_back", "srcgrad.calls.traced.plan", "srcgrad.rules.creation.index_trick",
        "srcgrad.runtime.structure.captured",
        # (#18: a bound method's tangent is its object's, as its gradient is; it was None before)
        "srcgrad.runtime.backs.bound_object",
    },
    "diagonal": {
        ".clip", "_operator.add", "_operator.mod", "_operator.mul", "_operator.neg", "_operator.pos",
        "_operator.pow", "_operator.sub", "_operator.truediv", "builtins.pow", "math.acos", "math.asin",
        "math.atan", "math.atan2", "math.copysign", "math.cos", "math.cosh", "math.erf", "math.exp", "math.expm1",
        "math.fabs", "math.hypot", "math.log", "math.log10", "math.log1p", "math.log2", "math.pow", "math.sin",
        "math.sinh", "math.sqrt", "math.tan", "math.tanh", "numpy.add", "numpy.arccos", "numpy.arcsin",
        "numpy.arcsinh", "numpy.arctan", "numpy.arctan2", "numpy.arctanh", "numpy.cbrt", "numpy.clip",
        "numpy.conjugate", "numpy.cos", "numpy.cosh", "numpy.divide", "numpy.erf", "numpy.exp", "numpy.exp2",
        "numpy.expit", "numpy.expm1", "numpy.fabs", "numpy.fmax", "numpy.fmin", "numpy.gammaln", "numpy.heaviside",
        "numpy.hypot", "numpy.log", "numpy.log10", "numpy.log1p", "numpy.log2", "numpy.logaddexp", "numpy.maximum",
        "numpy.minimum", "numpy.multiply", "numpy.negative", "numpy.positive", "numpy.power", "numpy.psi",
        "numpy.real", "numpy.reciprocal", "numpy.sin", "numpy.sinh", "numpy.sqrt", "numpy.square", "numpy.subtract",
        "numpy.tan", "numpy.tanh", "numpy.where", "scipy.special._basic.polygamma"
    },
    "linear": {
        ".T (attribute)", ".copy", ".cumsum", ".dot", ".flatten", ".item", ".mean", ".ravel", ".repeat", ".reshape",
        ".squeeze", ".sum", ".swapaxes", ".take", ".trace", ".transpose", "_operator.matmul", "numpy.broadcast_to",
        "numpy.cumsum", "numpy.diag", "numpy.dot", "numpy.einsum", "numpy.expand_dims", "numpy.flip", "numpy.inner",
        "numpy.matmul", "numpy.mean", "numpy.moveaxis", "numpy.outer", "numpy.ravel", "numpy.repeat",
        "numpy.reshape", "numpy.squeeze", "numpy.sum", "numpy.swapaxes", "numpy.take", "numpy.tensordot",
        "numpy.tile", "numpy.trace", "numpy.transpose", "srcgrad.rules.linalg.einsum_by_matmul",
        "srcgrad.rules.reductions.array_sum"
    },
    "jointly-linear": {
        "builtins.float", "builtins.list", "builtins.sum", "builtins.tuple", "numpy.array", "numpy.asarray",
        "numpy.atleast_1d", "numpy.atleast_2d", "numpy.atleast_3d", "numpy.concatenate", "numpy.hstack",
        "numpy.split", "numpy.stack", "numpy.vstack", "srcgrad.runtime.accumulate.accum",
        "srcgrad.runtime.structure.appended", "srcgrad.runtime.structure.as_sequence",
        "srcgrad.runtime.structure.extended", "srcgrad.runtime.structure.with_item", "srcgrad.runtime.tape.push",
        "srcgrad.runtime.tape.tape_grad"
    },
    "linear-in-first": {
        "srcgrad.runtime.backs.fit_grads", "srcgrad.runtime.as_user.real_grads",
        "srcgrad.runtime.backs.spread_grads", "srcgrad.runtime.as_user.stack_rows", "srcgrad.runtime.as_user.unstack_rows",
        "srcgrad.runtime.as_user.user_grads", "srcgrad.runtime.structure.callee_part", "srcgrad.rules.runtime.cell_grads",
        "srcgrad.rules.runtime.cell_values", "srcgrad.rules.runtime.keep_unless_dict",
        "srcgrad.rules.runtime.parts", "srcgrad.rules.runtime.present", "srcgrad.rules.runtime.spread",
        "srcgrad.rules.shaping.unreduce", "srcgrad.runtime.accumulate.unbroadcast",
        "srcgrad.runtime.backs.apply_layout", "srcgrad.runtime.backs.arrange",
        "srcgrad.runtime.backs.transpose_layout", "srcgrad.runtime.structure.callee_grad",
        "srcgrad.runtime.structure.gather", "srcgrad.runtime.structure.index_grad",
        "srcgrad.runtime.structure.item", "srcgrad.runtime.structure.own_copy",
        "srcgrad.runtime.structure.repeats_grad", "srcgrad.runtime.structure.without_item",
        "srcgrad.runtime.tape.pop", "srcgrad.runtime.tape.tape_rest", "srcgrad.runtime.tape.tape_top"
    },
}


def test_forward_kinds_are_unchanged():
    """Each rule of the list keeps its forward mode (a rule added since has its own, checked by its spec)."""
    now = {label(table, key, rule): kind_of(rule) for table, key, rule in all_rules()}
    changed = {name: (kind, now.get(name)) for kind, names in FORWARD_KINDS.items() for name in names
               if now.get(name) != kind}
    assert not changed, f"forward kinds changed (was, now): {changed}"


def test_reading_a_tape_is_jointly_linear():
    assert {kind_of(rule) for rule in runtime_rules.FORWARD_ONLY.values()} == {"jointly-linear"}


def test_no_two_rules_share_a_primal():
    rules = [rule for _, _, rule in all_rules()]
    assert len({id(rule) for rule in rules}) == len(rules), "one Rule object in two tables"
    primals = [rule.primal for table, _, rule in all_rules() if table is registry.rules]
    assert len({id(p) for p in primals}) == len(primals)


def defrule_line(reverse):
    """The decorators above ``reverse``'s ``def``, as one string."""
    lines, _ = inspect.getsourcelines(reverse)
    header = lines[:next(i for i, line in enumerate(lines) if line.lstrip().startswith("def "))]
    return " ".join(line.strip() for line in header)


@pytest.mark.parametrize("table, what", [(registry.method_rules, "methods"), (registry.attribute_rules, "attributes")])
def test_every_method_is_on_a_defrule_row(table, what):
    """``x.sum()`` is named on a ``defrule(..., methods=("sum",))`` row, not registered on its own."""
    for name, rule in table.items():
        decorators = defrule_line(rule.reverse)
        assert f"{what}=(" in decorators and f'"{name}"' in decorators, f".{name}: {decorators}"


def receiver_free_signature(fn):
    """``fn``'s parameters after ``dy, y`` and the receiver (``a`` or ``self``), with their defaults and kinds."""
    return [(p.name, p.kind, p.default) for p in list(inspect.signature(fn).parameters.values())[3:]]


def test_no_method_copies_its_function_rule():
    """A method whose signature is its function's shares that function's rule (``x.sum(axis)`` is ``np.sum(x, axis)``).

    The others (``x.reshape(2, 3)``, ``x.clip(min, max)``) have rules of their own: their parameters differ.
    """
    for name, rule in registry.method_rules.items():
        function = registry.lookup(getattr(np, name, None)) if hasattr(np, name) else None
        if function is None or function.reverse is rule.reverse:
            continue
        assert receiver_free_signature(rule.reverse) != receiver_free_signature(function.reverse), \
            f".{name} repeats np.{name}'s rule: name the method on np.{name}'s row (methods=...)"


def test_a_method_has_its_row_forward_mode():
    """A method shares its row's forward rule or linearity (not its computed_by, which is the function's)."""
    assert registry.method_rules["sum"].reverse is registry.lookup(np.sum).reverse
    assert registry.method_rules["sum"].linearity == registry.lookup(np.sum).linearity == "linear"
    assert registry.method_rules["sum"].computed_by is None
    assert registry.method_rules["prod"].forward is registry.lookup(np.prod).forward
    assert registry.attribute_rules["T"].reverse is registry.lookup(np.transpose).reverse


def test_the_same_maths_is_one_row():
    import builtins
    import operator

    for pair in ((np.add, operator.add), (np.multiply, operator.mul), (np.power, operator.pow, builtins.pow),
                 (np.matmul, operator.matmul), (np.negative, operator.neg), (np.abs, builtins.abs)):
        assert len({registry.lookup(fn).reverse for fn in pair}) == 1, pair
