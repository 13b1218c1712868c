"""Rule specs: a table row per derivative rule, checked against finite differences.

A :class:`Spec` names the primal a rule belongs to (a callable, or the name
of an array method or property), a source snippet that calls it with the
arguments ``a, b, c, d`` (``"np.sum(a, axis=1, keepdims=True)"``,
``"a @ b"``, ``"a.reshape(3, 2)"``, ``"a.T"``), the argument shapes to try
and each argument's domain. Integer arguments (axes, repeats, indices)
are literals in the snippet, so they are never differentiated.

From a spec the tests write a real module into ``tmp_path`` (srcgrad needs
source) holding::

    def f(a, b):
        return np.sum(W * (np.add(a, b)))

with ``W`` a fixed random weight shaped like the call's output, so the
scalar depends on every element of it, and compares srcgrad's gradient with
central differences at two seeded random inputs:

- :func:`check_inline`: the call is a static path, so the compiler inlines the rule;
- :func:`check_dynamic`: the primal is passed in as an argument (``fn(a, b)``),
  so the runtime calls the rule;
- :func:`check_second_order`: the gradient of ``f`` is differentiated again;
- :func:`check_rule_shapes`: the rule, called directly, returns one gradient
  per argument, shaped like it;
- :func:`keyword_variants`: the same specs with their arguments passed by
  keyword where the primal allows it (``np.dot(a, b=b)``), so a keyword
  that carries a gradient is checked like a positional one;
- :func:`check_forward` (and :func:`check_forward_dynamic`, the primal passed
  in): forward mode. ``jvp`` of ``f(a, b) = call`` along a random tangent
  matches central differences of the call along that tangent, and agrees
  with reverse mode: ``<jvp(t), w> == <t, vjp(w)>`` for a random ``w``,
  which catches a transposed or sign-flipped rule at once.

:func:`missing_specs` lists the registered rules a table leaves out.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib.util
import inspect
import itertools
import math
import operator
import re
import sys
from typing import Any

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad
from srcgrad.rules import registry

try:
    import scipy.linalg
    import scipy.special
except ImportError:  # pragma: no cover - scipy is optional
    scipy = None
else:
    registry.load_optional_rules()  # srcgrad loads SciPy's rules lazily; the tables cover them

__all__ = ["Spec", "params", "check_inline", "check_dynamic", "check_rule_shapes", "missing_specs", "define",
           "keyword_variants", "table_tests", "check_second_order", "check_forward_over_reverse"]

ARG_NAMES = ("a", "b", "c", "d")
SEEDS = (0, 1)

#: Each domain draws a float64 array of a shape (``()`` is a Python float,
#: ``"0d"`` a 0-d array); shapes stay small so finite differences are quick.
DOMAINS = {
    "real": lambda rng, shape: rng.standard_normal(shape),
    "pos": lambda rng, shape: rng.uniform(0.5, 2.0, shape),
    "unit": lambda rng, shape: rng.uniform(-0.9, 0.9, shape),
    "nonzero": lambda rng, shape: rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape),
    # Square in the last two axes and well conditioned: det, inv and solve stay smooth.
    "matrix": lambda rng, shape: rng.standard_normal(shape) + shape[-1] * np.eye(shape[-1]),
    # Symmetric positive definite in the last two axes (cholesky, sqrtm).
    "spd": lambda rng, shape: _spd(rng.standard_normal(shape)),
    # Square with real eigenvalues near 1, 2, ..., n, well apart (eig, eigvals).
    "spread": lambda rng, shape: 0.2 * rng.standard_normal(shape) + np.diag(np.arange(1.0, shape[-1] + 1)),
}


def _spd(x):
    return x @ np.swapaxes(x, -1, -2) + x.shape[-1] * np.eye(x.shape[-1])


#: What every generated module starts with.
HEADER = """\
import builtins
import functools
import math
import operator

import numpy as np

import srcgrad

try:
    import scipy.linalg
    import scipy.special
except ImportError:
    pass

W = None
"""


@dataclasses.dataclass
class Spec:
    """How to check the rule for ``primal`` (a callable, or a method/attribute name)."""

    primal: Any
    call: str
    #: One entry per case: a shape for a one-argument call, else a tuple of shapes.
    cases: list
    #: One domain for every argument, or a tuple with one per argument.
    domain: Any = "real"
    #: ``"function"`` (operators too), ``"method"`` (``a.sum()``) or ``"attribute"`` (``a.T``).
    kind: str = "function"
    #: The call with the primal as the variable ``fn``; derived from ``call`` when left out.
    dynamic: str | None = None
    id: str | None = None
    rtol: float = 1e-5
    atol: float = 1e-6

    def __post_init__(self):
        tree = ast.parse(self.call, mode="eval")
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        self.args = [name for name in ARG_NAMES if name in used]
        if len(self.args) == 1:
            self.cases = [(case,) for case in self.cases]
        if isinstance(self.domain, str):
            self.domain = (self.domain,) * len(self.args)
        if self.dynamic is None:
            self.dynamic = _dynamic_call(self)
        if self.id is None:
            self.id = _readable_id(self.call)

    def inputs(self, case, seed):
        """The arguments of one case, drawn from their domains with a seeded generator."""
        rng = np.random.default_rng(seed)
        return [_draw(self.domain[i], rng, shape) for i, shape in enumerate(case)]


def _draw(domain, rng, shape):
    if shape == "0d":
        return np.asarray(DOMAINS[domain](rng, ()))
    value = DOMAINS[domain](rng, shape)
    return float(value) if shape == () else value


def _dynamic_call(spec):
    """The spec's call with the primal taken from the variable ``fn``."""
    if spec.kind == "method":
        match = re.fullmatch(r"(\w+)\.(\w+)\((.*)\)", spec.call)
        receiver, _, rest = match.groups()
        return f"fn({receiver}, {rest})" if rest else f"fn({receiver})"
    if spec.kind == "attribute":
        receiver = spec.call.split(".")[0]
        return f"fn({receiver})"
    name = spec.call.split("(")[0]
    if "(" not in spec.call or not re.fullmatch(r"[\w.]+", name):
        raise ValueError(f"give the dynamic form of {spec.call!r} (an operator?) as dynamic=")
    return "fn(" + spec.call[len(name) + 1:]


def keyword_variant(spec, fewest=False):
    """``spec`` with its last arguments passed by keyword (``np.clip(a=a, a_min=b, a_max=c)``), last case only.

    As many as the primal's signature takes by keyword, or with ``fewest``
    only those from the last differentiated one on (``np.dot(a, b=b)``);
    ``None`` when none of them holds a differentiated argument.
    """
    tree = ast.parse(spec.call, mode="eval").body
    if spec.kind not in ("function", "method") or not isinstance(tree, ast.Call):
        return None
    primal = getattr(np.ndarray, spec.primal) if spec.kind == "method" else spec.primal
    try:
        parameters = list(inspect.signature(primal).parameters.values())[1 if spec.kind == "method" else 0:]
    except (TypeError, ValueError):
        return None
    args = tree.args
    if any(isinstance(a, ast.Starred) for a in args) or len(parameters) < len(args):
        return None
    for k in (reversed(range(len(args))) if fewest else range(len(args))):
        by_keyword = all(parameters[i].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD for i in range(k, len(args)))
        differentiated = any(isinstance(n, ast.Name) and n.id in ARG_NAMES for a in args[k:] for n in ast.walk(a))
        if by_keyword and differentiated:
            tree.keywords = [ast.keyword(arg=parameters[i].name, value=args[i]) for i in range(k, len(args))] \
                + tree.keywords
            tree.args = args[:k]
            cases = spec.cases[-1:] if len(spec.args) != 1 else [case[0] for case in spec.cases[-1:]]
            return Spec(spec.primal, ast.unparse(tree), cases, domain=spec.domain, kind=spec.kind,
                        rtol=spec.rtol, atol=spec.atol)
    return None


def keyword_variants(table):
    """:func:`keyword_variant` of every spec that has one, once per primal and set of keywords."""
    variants = {}
    for spec, fewest in itertools.product(table, (False, True)):
        variant = keyword_variant(spec, fewest)
        if variant is not None:
            keywords = ast.parse(variant.call, mode="eval").body.keywords
            names = tuple((k.arg, ast.unparse(k.value) if k.value is None or any(
                isinstance(n, ast.Name) and n.id in ARG_NAMES for n in ast.walk(k.value)) else "") for k in keywords)
            variants.setdefault((variant.kind, id(variant.primal), names), variant)
    return list(variants.values())


def _readable_id(call):
    """``"np.sum(a, axis=1, keepdims=True)"`` -> ``"np.sum-axis1-keepdims"``."""
    tree = ast.parse(call, mode="eval").body
    if not isinstance(tree, ast.Call):
        return re.sub(r"\s+", "", call)
    parts = [ast.unparse(tree.func)]
    for arg in tree.args:
        if not (isinstance(arg, ast.Name) and arg.id in ARG_NAMES):
            parts.append(_compact(ast.unparse(arg)))
    for kw in tree.keywords:
        value = ast.unparse(kw.value)
        parts.append(kw.arg if value == "True" else f"{kw.arg}{_compact(value)}")
    return "-".join(parts)


def _compact(text):
    return re.sub(r"[\s'\"]", "", text).replace("(", "").replace(")", "").replace("[", "").replace("]", "")


def _case_id(case):
    def shape_id(shape):
        if shape == ():
            return "float"
        if shape == "0d":
            return "0d"
        return "x".join(map(str, shape))

    return ",".join(shape_id(s) for s in case)


def params(table, last_case_only=False):
    """``pytest.param(spec, case)`` for every case of every spec (or its last), with a readable id."""
    return [pytest.param(spec, case, id=f"{spec.id}[{_case_id(case)}]")
            for spec in table for case in (spec.cases[-1:] if last_case_only else spec.cases)]


# ------------------------------------------------------------------ the generated function

_counter = itertools.count()


def load(tmp_path, source):
    """Write ``source`` to a fresh module under ``tmp_path``, import it, return the module."""
    module_name = f"rulespec_{next(_counter)}"
    path = tmp_path / f"{module_name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def define(tmp_path, source):
    """The function ``f`` that ``source`` defines, loaded from a real file (``np``, ``math`` imported)."""
    return load(tmp_path, HEADER + "\n\n" + source).f


def _weights(y, rng):
    """A fixed random weight shaped like ``y`` (a list of them for a list of arrays)."""
    if isinstance(y, (list, tuple)):
        return [_weights(part, rng) for part in y]
    if np.ndim(y) == 0:
        return float(rng.uniform(0.5, 1.5))
    return rng.uniform(0.5, 1.5, np.shape(y))


def _source(params, call, y):
    """A scalar function of ``params`` that depends on every element of ``y = call``."""
    head = f"def f({', '.join(params)}):\n"
    if isinstance(y, (list, tuple)):
        terms = " + ".join(f"np.sum(W[{i}] * out[{i}])" for i in range(len(y)))
        return head + f"    out = {call}\n    return {terms}\n"
    if np.ndim(y) == 0:
        return head + f"    return W * ({call})\n"
    return head + f"    return np.sum(W * ({call}))\n"


def _evaluate(call, names, values, fn=None):
    env = {"np": np, "math": math, "operator": operator, "builtins": builtins, "functools": functools, "scipy": scipy,
           "srcgrad": srcgrad, "fn": fn, **dict(zip(names, values))}
    return eval(call, env)


_modules: dict = {}


def _function(tmp_path_factory, source):
    """The module holding ``source``, loaded once and shared by every case that writes the same source."""
    source = HEADER + "\n\n" + source
    module = _modules.get(source)
    if module is None:
        folder = tmp_path_factory.getbasetemp() / "rulespecs"
        folder.mkdir(exist_ok=True)
        module = _modules[source] = load(folder, source)
    return module


def _check(spec, case, tmp_path_factory, call, params, extra=()):
    first = spec.inputs(case, SEEDS[0])
    y = _evaluate(spec.call, spec.args, first)
    module = _function(tmp_path_factory, _source(params, call, y))
    module.W = _weights(y, np.random.default_rng(1234))
    for seed in SEEDS:
        args = spec.inputs(case, seed)
        grads = check_gradient(module.f, *args, *extra, rtol=spec.rtol, atol=spec.atol)
        for arg, grad in zip(args, grads):
            if isinstance(arg, np.ndarray):
                assert isinstance(grad, np.ndarray) and grad.shape == arg.shape and grad.dtype == np.float64
            else:
                assert type(grad) is float
    return module


def check_inline(spec, case, tmp_path_factory):
    """The call as written (a static path, so its rule is inlined) matches finite differences."""
    return _check(spec, case, tmp_path_factory, spec.call, spec.args)


def check_dynamic(spec, case, tmp_path_factory):
    """The primal passed in as a variable (its rule runs at run time) matches finite differences."""
    return _check(spec, case, tmp_path_factory, spec.dynamic, spec.args + ["fn"], extra=(spec.primal,))


def check_second_order(spec, case, tmp_path_factory):
    """The rule differentiated again: the gradient of (a weighted sum of) the gradient matches finite differences."""
    module = _second_order_module(spec, case, tmp_path_factory)
    for seed in SEEDS:
        check_gradient(module.g, *spec.inputs(case, seed), rtol=1e-4, atol=1e-6)


def _curved_source(params, call, y):
    """Like :func:`_source`, with ``np.sin`` of the call: its second derivative is not zero even for a linear rule.

    (For ``np.sum(W * take(a))`` the gradient is constant, so a rule whose gradient is not itself
    differentiated right, or not at all, would pass a second-order check.)
    """
    head = f"def f({', '.join(params)}):\n"
    if isinstance(y, (list, tuple)):
        terms = " + ".join(f"np.sum(W[{i}] * np.sin(out[{i}]))" for i in range(len(y)))
        return head + f"    out = {call}\n    return {terms}\n"
    if np.ndim(y) == 0:
        return head + f"    return W * np.sin({call})\n"
    return head + f"    return np.sum(W * np.sin({call}))\n"


def _second_order_module(spec, case, tmp_path_factory):
    """The module of :func:`check_second_order`: ``g``, a weighted sum of the gradient of ``f``."""
    first = spec.inputs(case, SEEDS[0])
    y = _evaluate(spec.call, spec.args, first)
    params = ", ".join(spec.args)
    grads = ", ".join(f"d{name}" for name in spec.args) + ("," if len(spec.args) == 1 else "")
    terms = " + ".join(f"np.sum(V[{i}] * d{name})" for i, name in enumerate(spec.args))
    source = (_curved_source(spec.args, spec.call, y)
              + f"\n\ndef g({params}):\n    {grads} = srcgrad.gradient(f, {params})\n    return {terms}\n")
    module = _function(tmp_path_factory, source)
    rng = np.random.default_rng(4321)
    module.W = _weights(y, rng)
    module.V = [_weights(arg, rng) for arg in first]
    return module


def check_forward_over_reverse(spec, case, tmp_path_factory, eps=1e-6):
    """The rule's gradient differentiated in forward mode: ``jvp`` of ``g`` (a Hessian-vector product).

    Matches central differences of ``g`` along a random tangent, and reverse over reverse:
    ``jvp(g)(t) == <gradient(g), t>``.
    """
    module = _second_order_module(spec, case, tmp_path_factory)
    for seed in SEEDS:
        values = spec.inputs(case, seed)
        rng = np.random.default_rng(200 + seed)
        tangents = [_tangent_like(v, rng) for v in values]
        y, dy = srcgrad.jvp(module.g, tuple(values), tuple(tangents))
        assert y == module.g(*values), f"{spec.id}: jvp's value {y!r} is not the plain value {module.g(*values)!r}"
        numeric = (module.g(*_along(values, tangents, eps)) - module.g(*_along(values, tangents, -eps))) / (2 * eps)
        np.testing.assert_allclose(dy, numeric, rtol=1e-4, atol=1e-6,
                                   err_msg=f"{spec.id}: forward over reverse against central differences")
        reverse = sum(float(np.sum(g * t)) for g, t in zip(srcgrad.gradient(module.g, *values), tangents))
        np.testing.assert_allclose(dy, reverse, rtol=1e-8, atol=1e-9,
                                   err_msg=f"{spec.id}: forward over reverse against reverse over reverse")


# ------------------------------------------------------------------ the rule's contract

def _calling(spec):
    """A stand-in for the primal that records the arguments the call passes it."""
    recorded = {}
    if spec.kind == "method":
        primal = lambda self, *args, **kwargs: getattr(self, spec.primal)(*args, **kwargs)  # noqa: E731
    elif spec.kind == "attribute":
        primal = lambda self: getattr(self, spec.primal)  # noqa: E731
    else:
        primal = spec.primal

    def record(*args, **kwargs):
        recorded["args"], recorded["kwargs"] = args, kwargs
        recorded["y"] = primal(*args, **kwargs)
        return recorded["y"]

    return record, recorded


def rule_of(spec):
    if spec.kind == "method":
        return registry.method_rules[spec.primal]
    if spec.kind == "attribute":
        return registry.attribute_rules[spec.primal]
    return registry.lookup(spec.primal)


def _random_like(y, rng):
    if isinstance(y, (list, tuple)):
        return [_random_like(part, rng) for part in y]
    if isinstance(y, float):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(y))


def _holds(arg, values):
    """Whether the call's argument ``arg`` is (or contains) one of the spec's inputs ``values``."""
    if isinstance(arg, (list, tuple)):
        return any(_holds(a, values) for a in arg)
    return any(arg is v for v in values)


def _assert_shaped_like(grad, arg, y, broadcast, where):
    if grad is None:
        return
    if isinstance(arg, (list, tuple)):
        assert isinstance(grad, (list, tuple)) and len(grad) == len(arg), where
        for g, a in zip(grad, arg):
            _assert_shaped_like(g, a, y, broadcast, where)
        return
    if isinstance(arg, (np.ndarray, float)):
        allowed = {np.shape(arg)} | ({np.shape(y)} if broadcast else set())
        assert np.shape(grad) in allowed, \
            f"{where}: gradient of shape {np.shape(grad)} for an argument of shape {np.shape(arg)}"


def check_rule_shapes(spec, case):
    """Called directly, the rule returns one gradient per positional argument, shaped like it.

    (Only a rule that broadcasts may return the output's shape: the runtime
    sums that back.)
    """
    record, recorded = _calling(spec)
    values = spec.inputs(case, SEEDS[0])
    _evaluate(spec.dynamic, spec.args, values, fn=record)
    rule = rule_of(spec)
    args, kwargs, y = recorded["args"], recorded["kwargs"], recorded["y"]
    dy = _random_like(y, np.random.default_rng(7))
    assert rule.structured or not isinstance(y, (list, tuple)), \
        f"{rule.name} returns a {type(y).__name__}: register its rule with structured=True"
    grads = rule.reverse(dy, y, *args, **kwargs)
    needed = max((i + 1 for i, arg in enumerate(args) if _holds(arg, values)), default=0)
    assert isinstance(grads, tuple) and len(grads) >= needed, f"{rule.name} returned {grads!r}"
    for i, (grad, arg) in enumerate(zip(grads, args)):
        _assert_shaped_like(grad, arg, y, rule.broadcast, f"{spec.id}: argument {i}")


# ------------------------------------------------------------------ coverage

def registered(namespace=None, skip=None):
    """``(kind, key, rule)`` for every rule srcgrad registers itself (of one rule module, if given)."""
    tables = [("function", registry.rules), ("method", registry.method_rules), ("attribute", registry.attribute_rules)]
    for kind, table in tables:
        for key, rule in list(table.items()):
            if not rule.builtin:
                continue
            if namespace is not None and rule.reverse.__module__ != namespace:
                continue
            if skip is not None and skip(rule):
                continue
            yield kind, key, rule


def missing_specs(table, namespace=None, skip=None):
    """The registered rules (of ``namespace``, a rule module's name; not those ``skip`` picks) without a spec."""
    covered = {(spec.kind, spec.primal if spec.kind != "function" else id(spec.primal)) for spec in table}
    missing = []
    for kind, key, rule in registered(namespace, skip):
        probe = (kind, key if kind != "function" else id(rule.primal))
        if probe not in covered:
            missing.append(f"{kind} {rule.name}" if kind == "function" else f"{kind} .{key}")
    return sorted(missing)


# ------------------------------------------------------------------ forward mode

def _tangent_like(x, rng):
    """A random tangent for the argument ``x``: same shape, a float (or 0-d array) for a scalar."""
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    return float(rng.standard_normal())


def _along(values, tangents, step):
    return [v + step * t for v, t in zip(values, tangents)]


def _flat(y):
    """The output as one float64 vector (a list or tuple of arrays, concatenated)."""
    if isinstance(y, (list, tuple)):
        return np.concatenate([_flat(part) for part in y]) if len(y) else np.zeros(0)
    return np.ravel(np.asarray(y, dtype=float))


def _assert_tangent_shaped_like(dy, y, where):
    if isinstance(y, (list, tuple)):
        assert isinstance(dy, (list, tuple)) and len(dy) == len(y), f"{where}: tangent {dy!r} for {type(y).__name__}"
        for d, part in zip(dy, y):
            _assert_tangent_shaped_like(d, part, where)
        return
    assert np.shape(dy) == np.shape(y), f"{where}: tangent of shape {np.shape(dy)} for an output of {np.shape(y)}"
    assert np.result_type(dy) == np.float64, f"{where}: tangent of dtype {np.result_type(dy)}"


def _check_forward(spec, case, tmp_path_factory, call, params, extra=(), eps=1e-6):
    module = _function(tmp_path_factory, f"def f({', '.join(params)}):\n    return {call}\n")
    for seed in SEEDS:
        values = spec.inputs(case, seed)
        rng = np.random.default_rng(100 + seed)
        tangents = [_tangent_like(v, rng) for v in values]
        y, dy = srcgrad.jvp(module.f, (*values, *extra), (*tangents, *[None] * len(extra)))
        expected_y = module.f(*values, *extra)
        _assert_tangent_shaped_like(dy, expected_y, spec.id)
        np.testing.assert_allclose(_flat(y), _flat(expected_y), rtol=1e-12, atol=1e-12)
        up = module.f(*_along(values, tangents, eps), *extra)
        down = module.f(*_along(values, tangents, -eps), *extra)
        numeric = (_flat(up) - _flat(down)) / (2 * eps)
        np.testing.assert_allclose(_flat(dy), numeric, rtol=spec.rtol, atol=spec.atol,
                                   err_msg=f"{spec.id}: jvp against central differences")
        # <J t, w> == <t, J^T w>: forward and reverse mode agree (catches a transposed rule at once).
        w = _random_like(expected_y, rng)
        _, back = srcgrad.pullback(module.f, *values, *extra)
        grads = back(w)
        reverse = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents) if g is not None)
        np.testing.assert_allclose(float(_flat(dy) @ _flat(w)), reverse, rtol=1e-9, atol=1e-10,
                                   err_msg=f"{spec.id}: <jvp(t), w> against <t, vjp(w)>")


def check_forward(spec, case, tmp_path_factory):
    """``jvp`` of the call as written matches central differences along a random tangent, and reverse mode."""
    _check_forward(spec, case, tmp_path_factory, spec.call, spec.args)


def check_forward_dynamic(spec, case, tmp_path_factory):
    """``jvp`` with the primal passed in as a variable (its forward rule runs at run time)."""
    _check_forward(spec, case, tmp_path_factory, spec.dynamic, spec.args + ["fn"], extra=(spec.primal,))


def table_tests(specs, dynamic=None):
    """The five checks every rule table runs, as parametrized test functions for its module.

    ``test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic =
    table_tests(SPECS)``: one test per spec and case for each check above; ``dynamic`` (default
    ``specs``) are the specs whose primal can be passed in as a variable.
    """
    dynamic = specs if dynamic is None else dynamic
    every, passed = params(specs), params(dynamic)

    @pytest.mark.parametrize("spec, case", every)
    def test_inline(spec, case, tmp_path_factory):
        check_inline(spec, case, tmp_path_factory)

    @pytest.mark.parametrize("spec, case", passed)
    def test_dynamic(spec, case, tmp_path_factory):
        check_dynamic(spec, case, tmp_path_factory)

    @pytest.mark.parametrize("spec, case", every)
    def test_rule_shapes(spec, case):
        check_rule_shapes(spec, case)

    @pytest.mark.parametrize("spec, case", every)
    def test_forward(spec, case, tmp_path_factory):
        """Forward mode: jvp matches central differences along a random tangent, and reverse mode."""
        check_forward(spec, case, tmp_path_factory)

    @pytest.mark.parametrize("spec, case", passed)
    def test_forward_dynamic(spec, case, tmp_path_factory):
        check_forward_dynamic(spec, case, tmp_path_factory)

    return test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic
