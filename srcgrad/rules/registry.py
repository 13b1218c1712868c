"""The rule registry: which callables have a derivative rule, which pass no gradient.

A *rule* is an ordinary Python function ``rule(dy, y, *args, **kwargs)``
that returns a tuple with one gradient per positional argument of the
primal (``None`` where there is none). ``dy`` is never ``None`` when a rule
runs, and broadcasting is undone by the caller, not by the rule, so a rule
is one line of maths::

    @defrule(np.sin)
    def sin(dy, y, x):
        return (dy * np.cos(x),)

One decorated function is one row: it names every way its maths is
reached (the callables, the array methods, the properties), and how
forward mode gets its tangent (:func:`defrule`'s ``forward=``)::

    @defrule(np.sum, methods=("sum",), forward="linear")
    def sum_(dy, y, a, axis=None, dtype=None, out=None, keepdims=False):
        return (unreduce(dy, a, axis, keepdims),)

The rows fill three tables, each flat, which the compiler reads:

- ``rules``: callable -> :class:`Rule` (functions, ufuncs, operators);
- ``method_rules`` / ``attribute_rules``: name -> :class:`Rule` for methods
  and properties of NumPy arrays (``x.sum()``, ``x.T``);
- ``nondiff``: callables whose result carries no gradient (``len``,
  ``np.argmax``), plus ``nondiff_methods`` / ``nondiff_attributes``, and
  ``nondiff_keywords``: keyword arguments that say how, not what
  (``axis=``, ``keepdims=``), whose values never carry a gradient.

A keyword that fills a positional parameter of the primal (``np.clip(x,
a_max=b)``) gets the gradient the rule gives at that position:
:func:`keyword_positions` says where each keyword of a call sits.

Every change bumps :data:`version` and tells the listeners (the cache) which
callable changed, so compiled code that inlined or skipped it is dropped.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import threading
import types
from typing import Any, Callable

__all__ = ["Rule", "LINEARITY", "defrule", "defmethod", "defattribute", "nograd", "lookup", "is_nondiff",
           "when_imported", "keyword_positions", "rule_arguments"]

#: How forward mode may get a tangent from the primal or its reverse rule, without a forward rule:
#:
#: - ``"diagonal"``: the Jacobian is diagonal (elementwise, as ``np.clip``): the tangent is the reverse
#:   rule with each argument's tangent in place of ``dy``, added up (implied by ``elementwise`` and ``scalar``);
#: - ``"linear"``: linear in each array argument separately (``a @ b``, ``np.sum``): the tangent
#:   sums the primal applied with one argument replaced by its tangent at a time;
#: - ``"jointly-linear"``: linear in all its array arguments together (``np.concatenate``): the primal
#:   applied to the tangents (only those at ``operands``, when given: the others say where or how);
#: - ``"linear-in-first"``: linear in its first argument, the others say where or what shape
#:   (srcgrad's own glue, such as ``unbroadcast``, which generated backward code calls).
LINEARITY = ("diagonal", "linear", "jointly-linear", "linear-in-first")


@dataclasses.dataclass(eq=False)
class Rule:
    """A derivative rule for one primal callable (or array method/attribute)."""

    primal: Any
    reverse: Callable
    #: The primal broadcasts its array arguments against each other, so each
    #: argument's gradient is summed back to that argument's shape.
    broadcast: bool = True
    #: Written by srcgrad itself (True) or registered by a user (False).
    builtin: bool = False
    #: The output has the (broadcast) shape of the inputs: a ufunc-like operation.
    elementwise: bool = False
    #: The output is always a Python scalar (the ``math`` module).
    scalar: bool = False
    #: The output is a list or tuple of arrays (``np.split``), not one array.
    structured: bool = False
    #: Forward-mode rule ``tangent(dargs, y, *args, **kwargs)``, when not derived from the reverse rule.
    forward: Callable | None = None
    #: How forward mode derives the tangent otherwise: one of :data:`LINEARITY`, or None.
    linearity: str | None = None
    #: The positions of the operands of a jointly linear primal that takes other arguments too (``None``: all).
    operands: tuple | None = None
    #: A function that computes the primal's value faster (``np.einsum`` by a planned matrix product),
    #: called in its place by generated forwards; it has a rule of its own, for higher orders.
    computed_by: Callable | None = None

    @property
    def name(self):
        return getattr(self.primal, "__name__", None) or getattr(self.reverse, "__name__", "rule")


_lock = threading.RLock()
rules: dict = {}
method_rules: dict[str, Rule] = {}
attribute_rules: dict[str, Rule] = {}
nondiff: set = set()
#: Random draws (``np.random.normal``, ``Generator.normal``): constants while their arguments carry no
#: gradient; one that does is refused (a draw is not constant in its parameters, see :func:`is_random_draw`).
random_draws: set = set()
nondiff_methods: set[str] = set()
nondiff_attributes: set[str] = set()
#: Keywords that say how a function computes (an axis, a dtype, a flag, a mask): no gradient through them.
nondiff_keywords: set[str] = {
    "axis", "axes", "axis1", "axis2", "keepdims", "dtype", "out", "where", "order", "casting", "subok",
    "signature", "ddof", "correction", "copy", "optimize", "mode", "kind", "key", "reverse", "default",
}
#: Keyword-only spellings of positional parameters, by primal: ``{np.clip: {"max": "a_max"}}``.
keyword_aliases: dict = {}
#: Callables of a type that are differentiated as something else, by type: ``type -> stand_in(callee)``, which
#: returns what to differentiate in the callee's place (a function with a rule), the callee itself, or raises
#: a NoRuleError. A library's bound methods (``scipy.stats.norm.logpdf``) are made to meet their rules so; the
#: calling layer asks this table when a callee is not a plain function.
callee_stand_ins: dict = {}
version = 0
_listeners: list[Callable[[Any], None]] = []


def _key(fn):
    try:
        hash(fn)
        return fn
    except TypeError:
        return ("id", id(fn))


def _changed(primal):
    global version
    version += 1
    for listener in list(_listeners):
        listener(primal)


def add_listener(fn: Callable[[Any], None]) -> None:
    """Call ``fn(primal)`` whenever the rule for ``primal`` changes."""
    _listeners.append(fn)


def defrule(*primals, methods=(), attributes=(), forward=None, operands=None, aliases=None, computed_by=None,
            broadcast: bool = True, elementwise: bool = False, scalar: bool = False, structured: bool = False,
            _builtin: bool = False):
    """Register a derivative rule for each of ``primals``; use as a decorator.

    The rule is called ``rule(dy, y, *args, **kwargs)`` with the cotangent
    ``dy`` of the output, the output ``y`` and the call's arguments, and
    returns a tuple with one gradient per positional argument (``None``
    for an argument without one). Keep it to one ``return`` line and
    srcgrad inlines it into generated source.

    >>> import math, srcgrad
    >>> def cube(x):            # pretend this had no Python source
    ...     return x ** 3
    >>> @srcgrad.defrule(cube)
    ... def cube_rule(dy, y, x):
    ...     return (3 * x ** 2 * dy,)
    >>> srcgrad.gradient(lambda x: cube(x), 2.0)
    (12.0,)

    One row says everything about its function:

    - ``primals``: the callables the rule is for (``np.add, operator.add``: the same maths);
    - ``methods`` / ``attributes``: array methods and properties it answers to as well
      (``x.sum(axis)`` passes ``x`` first, as ``np.sum(x, axis)`` does);
    - ``forward``: forward mode's way to the tangent: a forward rule
      ``tangent(dargs, y, *args, **kwargs)`` (``dargs``: one tangent per positional argument,
      ``None`` for a constant), or one of :data:`LINEARITY`; without it, forward mode runs the
      reverse rule transposed, at run time;
    - ``operands``: for ``forward="jointly-linear"``, the positions of the operands;
    - ``aliases``: keyword-only spellings of positional parameters (``{"max": "a_max"}``);
    - ``computed_by``: a function computing the primal's value faster (see :attr:`Rule.computed_by`);
    - ``broadcast``, ``elementwise``, ``scalar``, ``structured``: see :class:`Rule`.
    """
    if not (primals or methods or attributes):
        raise TypeError("defrule needs the callable (or array method or attribute name) the rule is for")
    if isinstance(forward, str) and forward not in LINEARITY:
        raise ValueError(f"defrule's forward= is a forward rule or one of {LINEARITY}, not {forward!r}")
    tangent, linearity = (None, forward) if isinstance(forward, str) else (forward, None)
    operands = None if operands is None else tuple(operands)

    def register(reverse):
        load_optional_rules()
        row = dict(reverse=reverse, builtin=_builtin, forward=tangent, linearity=linearity, operands=operands)
        with _lock:
            for primal in primals:
                rules[_key(primal)] = Rule(primal, broadcast=broadcast, scalar=scalar, structured=structured,
                                           elementwise=elementwise or (broadcast and _builtin),
                                           computed_by=None if computed_by is primal else computed_by, **row)
                if aliases:
                    keyword_aliases[_key(primal)] = dict(aliases)
                nondiff.discard(_key(primal))
                _changed(primal)
            # (Never elementwise: a method is chosen by its name alone, and its receiver may not be an array.)
            for name in methods:
                method_rules[name] = Rule(name, broadcast=broadcast, structured=structured, **row)
                _changed(name)
            for name in attributes:
                attribute_rules[name] = Rule(name, broadcast=False, **row)
                _changed(name)
        return reverse

    return register


def defmethod(name: str, *, broadcast: bool = False):
    """Register a rule for the NumPy array method ``name`` (``x.name(...)``): ``defrule(methods=(name,))``.

    The rule receives the array as the first argument after ``dy, y``.
    """
    return defrule(methods=(name,), broadcast=broadcast, _builtin=True)


def defattribute(name: str):
    """Register a rule for the NumPy array property ``name`` (``x.T``): ``defrule(attributes=(name,))``."""
    return defrule(attributes=(name,), broadcast=False, _builtin=True)


def nograd(fn):
    """Mark ``fn`` as passing no gradient: its result is treated as a constant.

    Works as a decorator too, and returns ``fn`` unchanged.
    """
    load_optional_rules()
    with _lock:
        nondiff.add(_key(fn))
        rules.pop(_key(fn), None)
        _changed(fn)
    return fn


#: module name -> registrations waiting for it to be imported (see when_imported).
_deferred: dict[str, list[Callable[[], None]]] = {}


def when_imported(module: str, register: Callable[[], None]) -> None:
    """Run ``register()`` now if ``module`` is imported, else before the first registry use after it is.

    For built-in entries about a module ``import srcgrad`` does not itself
    need (``numpy.random`` costs 10-20 ms to import): a program can only
    hold that module's functions once it is imported, and every lookup
    and registration runs what is waiting first.
    """
    if module in sys.modules:
        register()
    else:
        with _lock:
            _deferred.setdefault(module, []).append(register)


#: How many modules were imported when the waiting registrations were last looked at.
_modules_seen = 0


def load_optional_rules() -> None:
    """Register the rules waiting for modules imported since (SciPy's, numpy.random's); lookups do this first."""
    global _modules_seen
    if _deferred and len(sys.modules) != _modules_seen:
        with _lock:
            _modules_seen = len(sys.modules)
            for module in [m for m in _deferred if m in sys.modules]:
                for register in _deferred.pop(module):
                    register()


def lookup(fn) -> Rule | None:
    """The rule registered for ``fn``, or ``None``."""
    if _deferred:
        load_optional_rules()
    try:
        found = rules.get(fn)
    except TypeError:
        found = rules.get(("id", id(fn)))
    return found


def is_random_draw(fn) -> bool:
    """Whether ``fn`` (a function, or a method bound to a generator) draws random numbers."""
    return _generator_function_in(fn, random_draws)


def _generator_function_in(fn, table) -> bool:
    """Whether ``fn``, or the generator class's method ``fn`` is bound to (``rng.normal``), is in ``table``."""
    if _deferred:
        load_optional_rules()
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type) and type(owner).__module__.startswith("numpy.random"):
        fn = getattr(type(owner), getattr(fn, "__name__", ""), fn)
    try:
        return fn in table
    except TypeError:
        return False


#: Draws that shuffle an array in place (``rng.shuffle(a)``): refused in differentiated code, whose backward pass
#: may read ``a`` as it was (:func:`in_place_draw_error`). They are not constants: a write is not a value.
in_place_draws: set = set()


def is_in_place_draw(fn) -> bool:
    """Whether ``fn`` (a function, or a method bound to a generator) shuffles its argument in place."""
    return _generator_function_in(fn, in_place_draws)


def in_place_draw_error(name, filename=None, lineno=None, context=""):
    """The refusal of a shuffle in place inside differentiated code."""
    from ..errors import UnsupportedSyntaxError

    return UnsupportedSyntaxError(
        f"{name} shuffles its argument in place{context}: srcgrad may have kept that array for the backward "
        "pass, which would then read the shuffled values",
        filename=filename, lineno=lineno, fix="shuffle by indexing, into a new array: a = a[rng.permutation(len(a))]")


def random_draw_error(name, filename=None, lineno=None, context=""):
    """The refusal of a random draw whose parameters carry a gradient."""
    from ..errors import NoRuleError

    return NoRuleError(
        f"{name} draws random numbers from parameters that carry a gradient{context}: srcgrad treats a draw as "
        "a constant, and with a fixed seed it is not constant in its parameters",
        filename=filename, lineno=lineno,
        fix="draw from fixed parameters and transform (mu + sigma * rng.standard_normal(size), the "
        "reparameterisation), or wrap the parameters in srcgrad.stop_gradient(...) if no gradient should pass")


def is_nondiff(fn) -> bool:
    """True when ``fn`` was declared non-differentiable."""
    if _deferred:
        load_optional_rules()
    try:
        return fn in nondiff
    except TypeError:
        return ("id", id(fn)) in nondiff


_signatures: dict = {}
_bindings: dict = {}


def _positional_names(fn, skip=0):
    """The names of ``fn``'s positional parameters in order (``None`` for a positional-only one), or ``None``."""
    try:
        found = _signatures.get((fn, skip), False)
    except TypeError:
        found = None
    if found is not False:
        return found
    code = _code_of_signature(fn)
    if code is not None:  # (what inspect.signature would read, sooner: a first gradient asks for a few)
        names = [None if i < code.co_posonlyargcount else name
                 for i, name in enumerate(code.co_varnames[:code.co_argcount])][skip:]
    else:
        names = _names_by_signature(fn, skip)
    try:
        _signatures[(fn, skip)] = names
    except TypeError:  # an unhashable callable: worked out again next time
        return names
    return names


def _names_by_signature(fn, skip):
    try:
        parameters = list(inspect.signature(fn).parameters.values())[skip:]
    except (TypeError, ValueError):
        return None
    names = []
    for p in parameters:
        if p.kind == p.VAR_POSITIONAL:
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name if p.kind == p.POSITIONAL_OR_KEYWORD else None)
    return names


def _code_of_signature(fn):
    """The code object whose parameters are ``inspect.signature(fn)``'s, or None when that is not one.

    As ``inspect.signature`` does, wrappers (``__wrapped__``, NumPy's dispatchers) are
    followed to what they wrap, unless one of them declares a ``__signature__``.
    """
    if isinstance(fn, types.MethodType):
        return None
    try:
        fn = inspect.unwrap(fn, stop=lambda f: hasattr(f, "__signature__") or isinstance(f, types.MethodType))
    except ValueError:  # (a cycle of wrappers)
        return None
    if type(fn) is not types.FunctionType or hasattr(fn, "__signature__"):
        return None
    return fn.__code__


def keyword_positions(rule, nargs, names) -> dict:
    """Where the keywords ``names`` of a call with ``nargs`` positional arguments sit: ``{keyword: position}``.

    A rule gives one gradient per positional argument, so a keyword that
    fills a positional-or-keyword parameter of the primal gets the gradient
    at that parameter's position. The primal's signature decides (an array
    method's receiver is position 0); where it has none, the rule's own
    parameter names do. Keywords left out of the result (keyword-only
    parameters, ``**kwargs``, unknown signatures, positions the rule does
    not take) get no gradient.

    >>> import numpy as np
    >>> keyword_positions(lookup(np.clip), 1, ("a_max", "out"))
    {'a_max': 2}
    """
    key = (id(rule), nargs, tuple(names))
    found = _bindings.get(key)
    if found is not None and found[0] is rule:
        return found[1]
    own = _positional_names(rule.reverse, skip=2) or []
    primal = rule.primal
    if isinstance(primal, str):  # an array method: the receiver is the rule's first argument
        import numpy as np

        primal = getattr(np.ndarray, primal, None)
    if hasattr(primal, "nin") and hasattr(primal, "nout"):  # a ufunc: its inputs are positional only
        theirs = [None] * primal.nin
    else:
        theirs = _positional_names(primal) if primal is not None else None
    if theirs is None:
        theirs = own
    aliases = keyword_aliases.get(_key(rule.primal), {})
    out = {}
    for name in names:
        target = aliases.get(name, name)
        if target in theirs and nargs <= theirs.index(target) < len(own):
            out[name] = theirs.index(target)
    _bindings[key] = (rule, out)
    return out


def rule_keyword(rule, name, position):
    """The name under which ``rule`` takes the argument at ``position`` (passed to the primal as ``name``)."""
    own = _positional_names(rule.reverse, skip=2) or []
    return own[position] if position < len(own) and own[position] else name


def positional_call(args, kwargs, positions):
    """``(args, kwargs)`` with the keywords that continue the positional arguments moved among them.

    ``f(a=x, b=y)`` for a rule becomes ``rule(dy, y, x, y)``: helpers such as
    forward rules may name their parameters differently from the primal.
    """
    args, kwargs = list(args), dict(kwargs)
    at = {p: k for k, p in positions.items()}
    while len(args) in at:
        args.append(kwargs.pop(at[len(args)]))
    return args, kwargs


def rule_arguments(rule, args, kwargs):
    """How to call ``rule`` for a call ``primal(*args, **kwargs)``: ``(args, kwargs, positions)``.

    A keyword that fills a positional parameter is passed positionally where
    it continues the positional arguments, else under the rule's own name
    for that position; ``positions`` is :func:`keyword_positions`.
    """
    positions = keyword_positions(rule, len(args), tuple(kwargs)) if kwargs else {}
    renamed = {rule_keyword(rule, k, positions[k]) if k in positions else k: v for k, v in kwargs.items()}
    rule_args, rule_kwargs = positional_call(args, renamed,
                                             {rule_keyword(rule, k, p): p for k, p in positions.items()})
    return rule_args, rule_kwargs, positions
