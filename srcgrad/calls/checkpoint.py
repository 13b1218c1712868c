"""``checkpoint(f)``: the same function, whose gradient runs ``f`` again instead of keeping its tape.

Memory for time, as ``jax.checkpoint``, ``torch.utils.checkpoint`` and Zygote's
``checkpointed``: a call ``checkpoint(f)(*args)`` inside differentiated code runs
``f`` plainly, keeping only its arguments and its value, and the backward pass
runs ``f``'s forward again at those arguments (:func:`srcgrad.calls.dispatch.pullback`)
before going back through it. The gradients are those of ``f`` itself, for its
arguments (arrays, models, any structure) and for ``f`` (a closure's captured
variables, an object's fields, the globals it reads), as ``f`` without the
checkpoint gives them.

The forward pass run again must be the one that ran, or the derivative would be
of another function, so:

- random draws are replayed: the states of the random generators ``f`` can
  reach (NumPy ``Generator``/``RandomState`` objects in ``f``'s closure, fields,
  defaults, the globals it names, and in its arguments; NumPy's global
  ``np.random`` and Python's ``random`` where the code reached reads a name
  ``random``) are kept from the forward pass and put
  back for the second run, then returned to where they were (so a ``Dropout``
  inside the block drops the same entries, as with PyTorch's
  ``preserve_rng_state``);
- an attribute, dict entry or list item that the second run binds anew (a
  layer keeping a running statistic, ``self.running_mean = ...``) is put back as
  it was, so state changes once per call, not twice;
- the second run's value is compared with the first's, exactly; where they
  differ (a generator reached another way, state changed in place, an argument
  changed between the forward and the backward pass) srcgrad refuses with
  :class:`CheckpointError` rather than return the derivative of something else;
- a function that writes into its parameters in place is refused when it is
  checkpointed: the second run would start from the changed values.

Forward mode (``jvp``) through a checkpoint is the tangent of ``f``;
higher orders differentiate the rule again (it calls ``pullback`` of ``f``,
which srcgrad differentiates through its stand-in), so ``hessian`` and
``gradient`` of ``gradient`` work through it, with the forward run again at
each order.

>>> import numpy as np, srcgrad
>>> def block(w, x):
...     for _ in range(3):
...         x = np.tanh(x @ w)
...     return x
>>> def loss(w, x):
...     return np.sum(srcgrad.checkpoint(block)(w, x) ** 2)
>>> w, x = np.eye(2) * 0.5, np.ones((1, 2))
>>> plain = srcgrad.gradient(lambda w, x: np.sum(block(w, x) ** 2), w, x)
>>> all(np.array_equal(a, b) for a, b in zip(srcgrad.gradient(loss, w, x), plain))
True
"""

from __future__ import annotations

import functools
import sys
import types

import numpy as np

from ..compiler.aliasing import callee_writes
from ..errors import NoRuleError, SrcgradError, UnsupportedSyntaxError
from ..rules.registry import defrule, nograd
from ..runtime.located import call_site
from .dispatch import pullback
from .stand_ins import traced_as
from .tangents import tangent_call

__all__ = ["checkpoint", "CheckpointError"]


class CheckpointError(SrcgradError):
    """The forward pass run again for a checkpoint's backward pass did not give the value the first run gave."""


def checkpoint(f):
    """``f`` as a function whose gradient recomputes ``f``'s forward pass instead of keeping its tape.

    The result is called like ``f`` (same values) and can be made once
    (``block_c = srcgrad.checkpoint(block)`` at module level) or inside the
    differentiated function (``h = srcgrad.checkpoint(block)(w, x)``). See
    the module's docstring for what is kept and what is refused.

    >>> import numpy as np, srcgrad
    >>> sin_c = srcgrad.checkpoint(np.sin)
    >>> srcgrad.gradient(lambda x: sin_c(x), 0.0)
    (1.0,)
    """
    if not callable(f):
        raise TypeError(f"checkpoint(f) needs a function or callable object, not a {type(f).__name__}")
    refuse_writes(f)

    def checkpointed(*args, **kwargs):
        return checkpointed_call(f, random_states(f, args, kwargs), args, kwargs)

    return checkpointed


def checkpointed_call(f, states, args, kwargs):
    """``f(*args, **kwargs)``: the primal whose rule runs ``f`` again (``states``: the generators before it ran)."""
    return f(*args, **kwargs)


# ------------------------------------------------------------------ the rules

def checkpointed_call_tangent(dargs, y, f, states, args, kwargs):
    """Forward mode: the tangent of ``f`` at ``args``, with the draws of the run that gave ``y``."""
    df, _, dpositional, dkeywords = dargs
    return replayed_tangent(f, states, args, kwargs, df, dpositional, dkeywords, y)


@defrule(checkpointed_call, broadcast=False, forward=checkpointed_call_tangent, _builtin=True)
def checkpointed_call_rule(dy, y, f, states, args, kwargs):
    y_again, back = replayed_pullback(f, states, args, kwargs)
    check_same(y_again, y, f)
    return split_grads(back(dy), args, kwargs)


def split_grads(grads, args, kwargs):
    """The gradients of a call ``f(*args, **kwargs)`` (``f``'s, then one per argument and keyword) as the
    gradients of ``checkpointed_call(f, states, args, kwargs)``: ``f``'s, none, a tuple, a dict."""
    n = len(args)
    keywords = {k: g for k, g in zip(kwargs, grads[1 + n:])}
    return (grads[0], None, tuple(grads[1:1 + n]), keywords)


def replayed_pullback(f, states, args, kwargs):
    """``pullback(f, *args, **kwargs)`` with the generators as ``states`` holds them; then as they were."""
    token = replay(f, states, args, kwargs)
    try:
        return pullback(f, *args, **kwargs)
    finally:
        resume(token)


def traced_replayed_pullback(f, states, args, kwargs):
    """:func:`replayed_pullback` as a higher-order derivative reads it (srcgrad's subset has no ``try``)."""
    refuse_keywords_twice(f, kwargs)
    token = replay(f, states, args, kwargs)
    out = pullback(f, *args)
    resume(token)
    return out


def replayed_tangent(f, states, args, kwargs, df, dpositional, dkeywords, y):
    """The tangent of ``y = f(*args, **kwargs)`` along the arguments' tangents, from ``f``'s tangent code."""
    dpositional = (None,) * len(args) if dpositional is None else tuple(dpositional)
    dkeywords = {} if dkeywords is None else dkeywords
    token = replay(f, states, args, kwargs)
    try:
        y_again, dy = tangent_call(f, df, args, dpositional, tuple(kwargs.items()),
                                   tuple(dkeywords.get(k) for k in kwargs))
    finally:
        resume(token)
    check_same(y_again, y, f)
    return dy


# ------------------------------------------------------------------ refusals

@nograd
def refuse_writes(f):
    """Refuse an ``f`` that changes one of its parameters in place: run again, it would start from the change."""
    found = callee_writes(f)
    if found is None:
        return
    fn, offset, writes = found
    code = fn.__code__
    count = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    params = code.co_varnames[offset:count]  # (not the object of a method: its fields are put back, see resume)
    for param, (kind, filename, lineno) in writes.items():
        if param in params:
            raise UnsupportedSyntaxError(
                f"srcgrad.checkpoint({fn.__qualname__}): it changes its parameter '{param}' in place ({kind}), "
                f"and a checkpoint runs it a second time for the backward pass, from the changed value",
                filename=filename, lineno=lineno,
                fix=f"have {fn.__qualname__} compute a new value ({param} = {param} * 2, not {param} *= 2) "
                    f"and return it")


@nograd
def refuse_keywords_twice(f, kwargs):
    """A higher-order derivative through a checkpoint takes positional arguments only."""
    if kwargs:
        filename, lineno, context = call_site()
        raise NoRuleError(
            f"srcgrad cannot yet take a higher-order derivative through srcgrad.checkpoint({_name(f)}) called with "
            f"keyword arguments ({', '.join(k + '=' for k in kwargs)}){context}", filename=filename, lineno=lineno,
            fix="pass them positionally to the checkpointed function inside the function differentiated twice")


@nograd
def check_same(again, first, f):
    """Refuse a second run whose value differs from the first's: its derivative would be of another function."""
    where = first_difference(again, first, "the value")
    if where is None:
        return
    code = getattr(getattr(f, "__func__", f), "__code__", None) or getattr(type(f).__call__, "__code__", None)
    raise CheckpointError(
        f"srcgrad.checkpoint({_name(f)}) ran its forward pass again for the backward pass and {where} came "
        f"out differently, so the derivative of this run would not be the derivative of the one that ran: "
        f"{_name(f)} draws from a random generator srcgrad could not find, or reads state that changed "
        f"between the forward and the backward pass (an array changed in place), or is not deterministic",
        filename=getattr(code, "co_filename", None), lineno=getattr(code, "co_firstlineno", None),
        fix=f"pass the generator to {_name(f)} as an argument or keep it in a field or closure it uses; do "
            f"not change the arrays it reads in place before the backward pass; or drop the checkpoint")


def _name(f):
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__


def first_difference(a, b, path):
    """Where the values ``a`` and ``b`` first differ (``None``: nowhere): arrays and numbers exactly (nan equal to
    nan), structures item by item, objects field by field."""
    if a is b:
        return None
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{path} (shape {b.shape} {b.dtype} first, {a.shape} {a.dtype} again)"
        try:
            same = np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        except TypeError:
            same = np.array_equal(a, b)
        return None if same else path
    if isinstance(a, (int, float, complex)) and isinstance(b, (int, float, complex)):
        return None if a == b or (a != a and b != b) else path
    if type(a) is not type(b):
        return f"{path} (a {type(b).__name__} first, a {type(a).__name__} again)"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return path
        return next((d for i, (u, v) in enumerate(zip(a, b)) if (d := first_difference(u, v, f"{path}[{i}]"))),
                    None)
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return path
        return next((d for k in a if (d := first_difference(a[k], b[k], f"{path}[{k!r}]"))), None)
    if hasattr(a, "__dict__") and not isinstance(a, (type, types.FunctionType, types.ModuleType)):
        return first_difference(vars(a), vars(b), path)
    try:
        return None if bool(a == b) else path
    except Exception:  # (a value that cannot say whether it is equal: not known to be the same)
        return path


# ------------------------------------------------------------------ random generators and state, replayed

class States:
    """The random generators a call can reach, each with its state before the call."""

    __slots__ = ("generators",)

    def __init__(self, generators):
        self.generators = generators  # [(generator, state)]

    def __repr__(self):
        return f"<random states of {len(self.generators)} generators>"


@nograd
def random_states(f, args, kwargs):
    """The states, now, of the random generators ``f(*args, **kwargs)`` can reach (see the module)."""
    found, seen, names = [], set(), set()
    _reach((f, args, kwargs), found, seen, 0, names)
    if "random" in names:  # (np.random.normal(...), random.random(): the modules' own generators)
        if "numpy.random" in sys.modules:
            found.append(sys.modules["numpy.random"].mtrand._rand)
        if "random" in sys.modules:
            found.append(sys.modules["random"]._inst)
    return States([(g, _get_state(g)) for g in found])


#: How deep :func:`_reach` looks into nested objects; a model's layers are a few levels down.
DEPTH = 30


def _reach(x, found, seen, depth, names):
    """Append to ``found`` the generators reachable from ``x``, and to ``names`` the global and attribute names
    the functions reached read."""
    if isinstance(x, types.BuiltinMethodType) and _is_generator(getattr(x, "__self__", None)):
        x = x.__self__  # (from numpy.random import normal: a method of NumPy's own generator)
    if depth > DEPTH or x is None or isinstance(x, (np.ndarray, np.generic, int, float, complex, str, bytes, type,
                                                    types.ModuleType, types.BuiltinFunctionType)):
        return
    if id(x) in seen:
        return
    seen.add(id(x))
    if _is_generator(x):
        found.append(x)
        return
    depth += 1
    if isinstance(x, (list, tuple, set, frozenset)):
        for item in x:
            _reach(item, found, seen, depth, names)
    elif isinstance(x, dict):
        for item in x.values():
            _reach(item, found, seen, depth, names)
    elif isinstance(x, types.FunctionType):
        for cell in x.__closure__ or ():
            if _filled(cell):
                _reach(cell.cell_contents, found, seen, depth, names)
        _reach((x.__defaults__, x.__kwdefaults__), found, seen, depth, names)
        read = _global_names(x.__code__)
        names |= read
        for name in read:
            if name in x.__globals__:
                _reach(x.__globals__[name], found, seen, depth, names)
    elif isinstance(x, types.MethodType):
        _reach((x.__self__, x.__func__), found, seen, depth, names)
    elif isinstance(x, functools.partial):
        _reach((x.func, x.args, x.keywords), found, seen, depth, names)
    else:
        call = getattr(type(x), "__call__", None)
        if isinstance(call, types.FunctionType):
            _reach(call, found, seen, depth, names)
        fields = getattr(x, "__dict__", None)
        if isinstance(fields, dict):
            _reach(fields, found, seen, depth, names)
        for name in getattr(type(x), "__slots__", ()):
            _reach(getattr(x, name, None), found, seen, depth, names)


@functools.lru_cache(maxsize=1024)
def _global_names(code):
    """The global names ``code`` and the functions defined in it read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return frozenset(names)


def _is_generator(x):
    random = sys.modules.get("numpy.random")
    if random is not None and isinstance(x, (random.Generator, random.RandomState, random.BitGenerator)):
        return True
    stdlib = sys.modules.get("random")
    return stdlib is not None and isinstance(x, stdlib.Random)


def _get_state(g):
    if hasattr(g, "bit_generator"):  # a Generator
        return g.bit_generator.state
    if hasattr(g, "get_state") and not hasattr(g, "getstate"):  # a RandomState
        return g.get_state()
    if hasattr(g, "getstate"):  # Python's random.Random
        return g.getstate()
    return g.state  # a BitGenerator


def _set_state(g, state):
    if hasattr(g, "bit_generator"):
        g.bit_generator.state = state
    elif hasattr(g, "set_state") and not hasattr(g, "setstate"):
        g.set_state(state)
    elif hasattr(g, "setstate"):
        g.setstate(state)
    else:
        g.state = state


class _Token:
    """What :func:`resume` puts back: the generators' states and the bindings, as they were before the run."""

    __slots__ = ("generators", "bindings")

    def __init__(self, generators, bindings):
        self.generators, self.bindings = generators, bindings


@nograd
def replay(f, states, args, kwargs):
    """Set the generators to their states at the forward pass; return what :func:`resume` needs to undo it."""
    now = [(g, _get_state(g)) for g, _ in states.generators]
    bindings = _bindings((f, args, kwargs))
    for g, state in states.generators:
        _set_state(g, state)
    return _Token(now, bindings)


@nograd
def resume(token):
    """Put back the generators' states and every binding the run changed (see :func:`_bindings`)."""
    for g, state in reversed(token.generators):
        _set_state(g, state)
    for holder, slots in token.bindings:
        if isinstance(holder, list):
            if len(holder) != len(slots) or any(a is not b for a, b in zip(holder, slots)):
                holder[:] = slots
        else:
            target = holder if isinstance(holder, dict) else holder.__dict__
            for key in [k for k in target if k not in slots]:
                del target[key]
            for key, value in slots.items():
                if key not in target or target[key] is not value:
                    target[key] = value


def _bindings(root):
    """``[(holder, its slots)]``: a copy of the fields of every object, dict and list reachable from ``root``
    (not inside arrays), so that a field the second run binds anew can be bound back."""
    out, seen, stack = [], set(), [(root, 0)]
    while stack:
        x, depth = stack.pop()
        if depth > DEPTH or x is None or id(x) in seen or isinstance(
                x, (np.ndarray, np.generic, int, float, complex, str, bytes, type, types.ModuleType,
                    types.BuiltinFunctionType, types.FunctionType, types.MethodType)) or _is_generator(x):
            if isinstance(x, (types.FunctionType, types.MethodType)) and id(x) not in seen and depth <= DEPTH:
                seen.add(id(x))
                if isinstance(x, types.MethodType):
                    stack.append((x.__self__, depth + 1))
                else:
                    stack.extend((c.cell_contents, depth + 1) for c in x.__closure__ or () if _filled(c))
            continue
        seen.add(id(x))
        if isinstance(x, tuple):
            stack.extend((v, depth + 1) for v in x)
            continue
        if isinstance(x, list):
            out.append((x, list(x)))
            stack.extend((v, depth + 1) for v in x)
        elif isinstance(x, dict):
            out.append((x, dict(x)))
            stack.extend((v, depth + 1) for v in x.values())
        elif isinstance(getattr(x, "__dict__", None), dict):
            out.append((x, dict(x.__dict__)))
            stack.extend((v, depth + 1) for v in x.__dict__.values())
    return out


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


traced_as(replayed_pullback, traced_replayed_pullback)
