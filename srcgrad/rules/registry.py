"""The rule registry: which callables have a derivative rule, which pass no gradient.

A *rule* is an ordinary Python function ``rule(dy, y, *args, **kwargs)``
that returns a tuple with one gradient per positional argument of the
primal (``None`` where there is none). ``dy`` is never ``None`` when a rule
runs, and broadcasting is undone by the caller, not by the rule, so a rule
is one line of maths::

    @defrule(np.sin)
    def sin(dy, y, x):
        return (dy * np.cos(x),)

Three tables, each flat:

- ``rules``: callable -> :class:`Rule` (functions, ufuncs, operators);
- ``method_rules`` / ``attribute_rules``: name -> :class:`Rule` for methods
  and properties of NumPy arrays (``x.sum()``, ``x.T``);
- ``nondiff``: callables whose result carries no gradient (``len``,
  ``np.argmax``), plus ``nondiff_methods`` / ``nondiff_attributes``.

Every change bumps :data:`version` and tells the listeners (the cache) which
callable changed, so compiled code that inlined or skipped it is dropped.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import Any, Callable

__all__ = ["Rule", "defrule", "defmethod", "defattribute", "nograd", "lookup", "is_nondiff", "when_imported"]


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
    #: Forward-mode rule ``tangent(dx..., y, *args)``, when not derivable.
    forward: Callable | None = None

    @property
    def name(self):
        return getattr(self.primal, "__name__", None) or getattr(self.reverse, "__name__", "rule")


_lock = threading.RLock()
rules: dict = {}
method_rules: dict[str, Rule] = {}
attribute_rules: dict[str, Rule] = {}
nondiff: set = set()
nondiff_methods: set[str] = set()
nondiff_attributes: set[str] = set()
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


def defrule(primal, *, broadcast: bool = True, elementwise: bool = False, scalar: bool = False,
            structured: bool = False, _builtin: bool = False):
    """Register a reverse-mode rule for ``primal``; use as a decorator.

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
    """

    def register(reverse):
        _run_deferred()
        with _lock:
            rules[_key(primal)] = Rule(primal, reverse, broadcast=broadcast, builtin=_builtin,
                                       elementwise=elementwise or (broadcast and _builtin), scalar=scalar,
                                       structured=structured)
            nondiff.discard(_key(primal))
            _changed(primal)
        return reverse

    return register


def defmethod(name: str, *, broadcast: bool = False):
    """Register a rule for the NumPy array method ``name`` (``x.name(...)``).

    The rule receives the array as the first argument after ``dy, y``.
    """

    def register(reverse):
        _run_deferred()
        with _lock:
            method_rules[name] = Rule(name, reverse, broadcast=broadcast, builtin=True)
            _changed(name)
        return reverse

    return register


def defattribute(name: str):
    """Register a rule for the NumPy array property ``name`` (``x.T``)."""

    def register(reverse):
        _run_deferred()
        with _lock:
            attribute_rules[name] = Rule(name, reverse, broadcast=False, builtin=True)
            _changed(name)
        return reverse

    return register


def nograd(fn):
    """Mark ``fn`` as passing no gradient: its result is treated as a constant.

    Works as a decorator too, and returns ``fn`` unchanged.
    """
    _run_deferred()
    with _lock:
        nondiff.add(_key(fn))
        rules.pop(_key(fn), None)
        _changed(fn)
    return fn


_optional_loaded = False


def load_optional_rules() -> None:
    """Register the rules for optional libraries (SciPy), which ``import srcgrad`` skips."""
    global _optional_loaded
    if not _optional_loaded:
        _optional_loaded = True
        from . import scipy  # noqa: F401


def _from_optional_library(fn) -> bool:
    return (getattr(fn, "__module__", None) or "").startswith("scipy") and not _optional_loaded


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


def _run_deferred() -> None:
    if _deferred:
        with _lock:
            for module in [m for m in _deferred if m in sys.modules]:
                for register in _deferred.pop(module):
                    register()


def lookup(fn) -> Rule | None:
    """The rule registered for ``fn``, or ``None``."""
    if _deferred:
        _run_deferred()
    try:
        found = rules.get(fn)
    except TypeError:
        found = rules.get(("id", id(fn)))
    if found is None and _from_optional_library(fn):
        load_optional_rules()
        return lookup(fn)
    return found


def is_nondiff(fn) -> bool:
    """True when ``fn`` was declared non-differentiable."""
    if _deferred:
        _run_deferred()
    if _from_optional_library(fn):
        load_optional_rules()
    try:
        return fn in nondiff
    except TypeError:
        return ("id", id(fn)) in nondiff
