"""Random small programs made of srcgrad's registered rules, as Python source, for hypothesis.

The operations are the rows of the rule tables in tests/rules (a :class:`~rules.specs.Spec`
names a call such as ``np.sum(a, axis=1)`` with the argument shapes it takes and each
argument's domain), so a rule added with its spec row is drawn here too. A program is::

    def f(x0, x1):
        v2 = np.log((x0 * x0 + 0.5))
        v3 = h3(v2, x1)                    # a helper: a module-level def srcgrad reads too
        if np.sum(v3) > 0.1:
            v4 = np.tanh(v3) * x1
        else:
            v4 = v3 - x1
        v5 = v4
        for i in range(2):
            v5 = 0.5 * v5 + np.sin(v5)
        return np.sum(W5 * v5) + 0.7 * v2

- inputs: one to three, each a float or a small float64 array (shapes the tables use);
- every argument of a call is a variable of the shape the spec's case asks for, passed through
  a map into the rule's domain (``x * x + 0.5`` for ``log``, ``np.tanh(x) * 0.9`` for ``arcsin``,
  a bounded one for ``exp``-like growth), so every call stays where its derivative exists;
- arguments of non-smooth calls (``max``, ``sort``, ``abs``, ``clip``, ...) get distinct offsets,
  so a tie or a kink is as unlikely as at a random point;
- statements: straight-line calls, calls through a helper function, ``if``/``else`` on the sign
  of a sum, ``for`` and ``while`` loops that update a variable, each iteration a drawn call, a
  ``for`` over the rows of a matrix and a list comprehension over them (``np.stack([...])``);
  optionally writes into arrays (``+=``, ``-=``, ``*=``, ``v[0, -1] = ...``), into a copy or
  through a second name or a view (``v = x.T``, ``x[:1]``, ``x.reshape(-1)``), which change ``x``;
- the result is a weighted sum over the last variable and a few earlier ones, so it depends on
  every element of what it reads.

:func:`programs` is the hypothesis strategy; :func:`load` writes a program to a real file
(srcgrad reads source) and imports it.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib.util
import itertools
import functools
import math
import operator
import sys
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from rules import test_builtins, test_math, test_numpy, test_operators

INPUT_SHAPES = [(), (3,), (4,), (2, 3), (3, 4)]

#: What a generated module starts with.
HEADER = """\
import builtins
import functools
import math
import operator

import numpy as np
import scipy.special

import srcgrad
import srcgrad.rules

"""

#: Expressions that take any real ``{t}`` into a domain of tests/rules/specs.py (several per domain,
#: drawn at random); "small" and "spos" are the bounded ones given to calls that grow fast.
DOMAIN_MAPS = {
    "real": ["{t}"],
    "small": ["np.tanh({t}) * 2.0", "np.sin({t}) * 2.0"],
    "pos": ["({t} * {t} + 0.5)", "np.exp(np.tanh({t}))"],
    "spos": ["np.exp(np.tanh({t}))", "(np.sin({t}) ** 2 + 0.5)"],
    "unit": ["np.tanh({t}) * 0.9", "np.sin({t}) * 0.9"],
    "nonzero": ["({t} * {t} + 0.5)", "-({t} * {t} + 0.5)"],
}

#: Calls whose value grows fast: their arguments stay bounded, so a chain of them stays finite.
GROWING = {np.exp, np.exp2, np.expm1, np.sinh, np.cosh, np.power, np.square, np.logaddexp,
           math.exp, math.expm1, math.sinh, math.cosh, math.pow, builtins.pow, operator.pow}

#: Calls with a kink or a tie (derivative undefined on a set of measure zero): their arguments are
#: made distinct, elementwise and from each other, by fixed offsets.
NONSMOOTH = {np.abs, np.fabs, np.maximum, np.minimum, np.fmax, np.fmin, np.max, np.min, np.sort, np.clip,
             np.linalg.norm, np.where, builtins.abs, builtins.max, builtins.min, builtins.sorted, math.fabs,
             math.copysign, operator.mod, "max", "min", "clip"}

#: Largest array an operation may produce (finite differences cost two calls per element).
MAX_SIZE = 24


@dataclasses.dataclass(frozen=True)
class Operation:
    """One case of one spec: the call, the shapes of its arguments, their domains, the output's shape."""

    spec_id: str
    call: str
    shapes: tuple
    domains: tuple
    out: tuple
    nonsmooth: bool


def _evaluate(call, names, values):
    env = {"np": np, "math": math, "operator": operator, "functools": functools, "builtins": builtins, "scipy": __import__("scipy"),
           **dict(zip(names, values))}
    import srcgrad.rules  # noqa: F401  (the tables name srcgrad's own helpers)
    import srcgrad
    env["srcgrad"] = srcgrad
    return eval(call, env)


def _operation(spec, case):
    """The :class:`Operation` for one case of ``spec``, or None when it does not fit in a program.

    Programs hold floats and float64 arrays of the input shapes and what calls make of them, so
    a case with a 0-d array, a matrix domain (det, inv, solve need well-conditioned squares), a
    list or integer result, or a large one is left out.
    """
    if "0d" in case or "matrix" in spec.domain:
        return None
    y = _evaluate(spec.call, spec.args, spec.inputs(case, 0))
    if isinstance(y, float):
        out = ()
    elif isinstance(y, np.ndarray) and y.dtype == np.float64 and 0 < y.size <= MAX_SIZE:
        out = y.shape
    elif isinstance(y, np.floating) and y.dtype == np.float64:
        out = ()
    else:
        return None
    primal = spec.primal
    growing = primal in GROWING if not isinstance(primal, str) else False
    domains = tuple({"real": "small", "pos": "spos"}.get(d, d) if growing else d for d in spec.domain)
    return Operation(spec.id, spec.call, tuple(case), domains, out, primal in NONSMOOTH)


def _operations():
    tables = test_operators.SPECS + test_builtins.SPECS + test_math.SPECS + test_numpy.SPECS
    found = {}
    for spec in tables:
        for case in spec.cases:
            op = _operation(spec, case)
            if op is not None:
                found.setdefault((op.call, op.shapes), op)
    return list(found.values())


#: Every operation a program may use.
OPERATIONS = _operations()
#: The operations of one argument whose output has its argument's shape (loop bodies use them).
SHAPE_KEEPING = [op for op in OPERATIONS if len(op.shapes) == 1 and op.out == op.shapes[0]]


# ------------------------------------------------------------------ building source

def _offset(expression, shape, position):
    """``expression`` plus fixed offsets that differ between elements and between arguments."""
    size = int(np.prod(shape, dtype=int))
    if shape == ():
        return f"({expression} + {0.29 * (position + 1):.2f})"
    return f"({expression} + {0.29 * (position + 1):.2f} + 0.137 * np.arange({size}.0).reshape({shape!r}))"


def _substitute(call, arguments):
    """``call`` with its argument names ``a, b, c, d`` replaced by the expressions ``arguments``."""

    class Replace(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in arguments:
                return ast.parse(arguments[node.id], mode="eval").body
            return node

    return ast.unparse(Replace().visit(ast.parse(call, mode="eval")))


def _weights(shape, rng):
    """A literal for a fixed weight of ``shape`` (a number for a scalar)."""
    if shape == ():
        return repr(round(float(rng.uniform(0.5, 1.5)), 3))
    return f"np.array({np.round(rng.uniform(0.5, 1.5, shape), 3).tolist()!r})"


@dataclasses.dataclass
class Program:
    """A generated function ``f`` of ``len(shapes)`` inputs, as module source."""

    source: str
    shapes: tuple
    #: The spec ids of the calls it makes, for reading a failure.
    calls: tuple

    def __repr__(self):  # what hypothesis prints for a failing example
        return f"Program(shapes={self.shapes!r}, calls={self.calls!r})\n{self.source}"


class _Builder:
    """Draws statements into ``lines`` over the variables ``shapes`` (name -> shape)."""

    def __init__(self, draw, inputs, exclude=(), writes=None):
        self.draw = draw
        self.pool = [op for op in OPERATIONS if not op.spec_id.startswith(tuple(exclude))]
        self.keeping = [op for op in SHAPE_KEEPING if op in self.pool]
        self.writes = writes
        #: Variables written through another name, which the result must read.
        self.written = []
        self.wrote = False
        self.shapes = {f"x{i}": shape for i, shape in enumerate(inputs)}
        self.lines, self.helpers, self.calls = [], [], []
        self.count = itertools.count(len(inputs))

    def fresh(self):
        return f"v{next(self.count)}"

    def candidates(self, want=None, pool=None, must_use=None):
        """The operations whose every argument shape some variable has (producing ``want``)."""
        pool = self.pool if pool is None else pool
        available = set(self.shapes.values())
        found = [op for op in pool if all(s in available for s in op.shapes) and (want is None or op.out == want)]
        if must_use is not None:
            found = [op for op in found if self.shapes[must_use] in op.shapes]
        return found

    def call(self, op, prefer=None):
        """The source of ``op`` applied to drawn variables, each mapped into its domain."""
        arguments = {}
        for position, (name, shape, domain) in enumerate(zip("abcd", op.shapes, op.domains)):
            choices = sorted(v for v, s in self.shapes.items() if s == shape)
            variable = prefer if prefer in choices and position == 0 else self.draw(st.sampled_from(choices))
            expression = self.draw(st.sampled_from(DOMAIN_MAPS[domain])).format(t=variable)
            if op.nonsmooth:
                expression = _offset(expression, shape, position)
            arguments[name] = expression
        self.calls.append(op.spec_id)
        return _substitute(op.call, arguments)

    def assign(self, indent, name, want=None, pool=None, prefer=None):
        """Draw one call and assign it to ``name`` (directly or through a new helper); its shape."""
        ops = self.candidates(want, pool, prefer)
        op = self.draw(st.sampled_from(ops))
        expression = self.call(op, prefer)
        if self.draw(st.integers(0, 4)) == 0:  # through a helper, which srcgrad differentiates too
            expression = self.helper(expression)
        self.lines.append(f"{indent}{name} = {expression}")
        return op.out

    def helper(self, expression):
        """A module-level ``def`` computing ``expression`` from its variables; the call to it."""
        used = sorted({n.id for n in ast.walk(ast.parse(expression)) if isinstance(n, ast.Name)} & set(self.shapes))
        name = f"h{len(self.helpers)}"
        self.helpers.append(f"def {name}({', '.join(used)}):\n    return {expression}\n")
        return f"{name}({', '.join(used)})"

    def statement(self, control):
        kinds = ["call", "call", "call"] + (["if", "for", "while", "rows", "stack"] if control else []) \
            + (["write"] if self.writes else [])
        kind = self.draw(st.sampled_from(kinds))
        name = self.fresh()
        if kind == "write" and self.writable():
            self.write(name)
            return
        if kind in ("rows", "stack") and self.over_rows(name, kind):
            return
        if kind in ("call", "write", "rows", "stack"):
            self.shapes[name] = self.assign("    ", name)
            return
        if kind == "if":
            variable = self.draw(st.sampled_from(sorted(self.shapes)))
            threshold = self.draw(st.sampled_from(["0.0", "0.1", "-0.3"]))
            self.lines.append(f"    if np.sum({variable}) > {threshold}:")
            shape = self.assign("        ", name)
            self.lines.append("    else:")
            self.assign("        ", name, want=shape)
            self.shapes[name] = shape
            return
        # A loop updating a copy of a variable: each iteration adds a call on it, damped so it stays bounded.
        source = self.draw(st.sampled_from(sorted(v for v, s in self.shapes.items()
                                                  if any(op.shapes[0] == s for op in self.keeping))))
        self.lines.append(f"    {name} = {source}")
        self.shapes[name] = self.shapes[source]
        steps = self.draw(st.integers(1, 3))
        if kind == "for":
            self.lines.append(f"    for i in range({steps}):")
        else:
            self.lines.append(f"    i = 0\n    while i < {steps}:\n        i += 1")
        update = self.fresh()
        self.assign("        ", update, want=self.shapes[name], pool=self.keeping, prefer=name)
        self.lines.append(f"        {name} = 0.5 * {name} + 0.5 * {update}")


    def over_rows(self, name, kind):
        """``for r in m: name = name + np.sum(call(r))`` ("rows") or ``np.stack([call(r) for r in m])``; done?"""
        matrices = sorted(v for v, s in self.shapes.items() if len(s) == 2)
        if not matrices:
            return False
        source = self.draw(st.sampled_from(matrices))
        row = f"r{name[1:]}"
        self.shapes[row] = self.shapes[source][1:]
        ops = [op for op in self.candidates(must_use=row) if op.shapes == (self.shapes[row],)]
        if ops:
            op = self.draw(st.sampled_from(ops))
            expression = self.call(op, prefer=row)
            if kind == "rows":
                self.lines += [f"    {name} = 0.0", f"    for {row} in {source}:",
                               f"        {name} = {name} + np.sum({expression})"]
                shape = ()
            else:
                self.lines.append(f"    {name} = np.stack([{expression} for {row} in {source}])")
                shape = self.shapes[source][:1] + op.out
        del self.shapes[row]
        if ops:
            self.shapes[name] = shape
        return bool(ops)

    def writable(self):
        """Arrays a write may go into: any (it copies first), or for an alias not an input (the caller's)."""
        return sorted(v for v, s in self.shapes.items() if s != () and (self.writes == "copy" or v.startswith("v")))

    def write(self, name):
        """A write into an array: through a copy (``writes="copy"``), or a second name or a view of it ("alias")."""
        source = self.draw(st.sampled_from(self.writable()))
        shape = self.shapes[source]
        if self.writes == "copy":
            target, target_shape = f"{source}.copy()", shape
        else:
            views = [(source, shape), (f"{source}[:1]", (1,) + shape[1:]), (f"{source}.T", shape[::-1]),
                     (f"{source}.reshape(-1)", (int(np.prod(shape)),))]
            target, target_shape = self.draw(st.sampled_from(views))
            self.written.append(source)
        self.lines.append(f"    {name} = {target}")
        self.shapes[name] = target_shape
        self.wrote = True
        value = self.fresh()
        # (No "*=" into a copy: forward mode folds it into the next product and rounds differently, which
        # test_found.py pins; through an alias the write is lost anyway, which the alias test pins.)
        how = self.draw(st.sampled_from(["+=", "-=", "[i] ="] + (["*="] if self.writes == "alias" else [])))
        want = () if how == "[i] =" or self.draw(st.booleans()) else target_shape
        if not self.candidates(want):
            want = ()
        self.assign("    ", value, want=want)
        if how == "[i] =":
            index = ", ".join(["0"] * (len(target_shape) - 1) + ["-1"])
            self.lines.append(f"    {name}[{index}] = {value}")
        else:
            self.lines.append(f"    {name} {how} {value}")


@st.composite
def programs(draw, max_inputs=3, max_statements=5, control=True, exclude=(), writes=None):
    """A :class:`Program`: ``def f(x0, ...)`` of straight-line calls (and, with ``control``, branches and loops).

    ``exclude``: spec ids (prefixes) of operations not to use; ``writes``: ``"copy"`` for writes into
    copies of arrays (``v = x.copy(); v *= ...``, ``v[0, -1] = ...``), ``"alias"`` for the same writes
    through a second name or a view (``v = x.T; v += ...``), which change ``x`` too.
    """
    inputs = tuple(draw(st.lists(st.sampled_from(INPUT_SHAPES), min_size=1, max_size=max_inputs)))
    builder = _Builder(draw, inputs, exclude, writes)
    for _ in range(draw(st.integers(2, max_statements))):
        builder.statement(control)
    if writes and not builder.wrote:
        if not builder.writable():  # (an array to write into, made by a drawn call)
            name = builder.fresh()
            op = draw(st.sampled_from([op for op in builder.candidates() if op.out != ()]))
            builder.lines.append(f"    {name} = {builder.call(op)}")
            builder.shapes[name] = op.out
        builder.write(builder.fresh())
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    names = [n for n in builder.shapes if n.startswith("v")]
    last = names[-1]
    read = sorted((set(draw(st.lists(st.sampled_from(names), max_size=2))) | set(builder.written)) - {last}) + [last]
    terms = [f"{_weights((), rng)} * {n}" if builder.shapes[n] == () else f"np.sum({_weights(builder.shapes[n], rng)} * {n})"
             for n in read]
    arguments = ", ".join(f"x{i}" for i in range(len(inputs)))
    body = "\n".join(builder.lines)
    source = (HEADER + "\n\n".join(builder.helpers) + f"\n\ndef f({arguments}):\n{body}\n"
              f"    return {' + '.join(terms)}\n")
    return Program(source, inputs, tuple(builder.calls))


# ------------------------------------------------------------------ loading and inputs

_folder = None
_counter = itertools.count()


def load(source):
    """Import ``source`` as a new module from a real file (srcgrad reads the file); the module."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="srcgrad-property-"))
    name = f"property_program_{next(_counter)}"
    path = _folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def point(shapes, rng):
    """Random inputs of ``shapes``: Python floats for ``()``, float64 arrays otherwise."""
    return [float(rng.standard_normal()) if s == () else rng.standard_normal(s) for s in shapes]
