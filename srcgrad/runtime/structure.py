"""Gradients of structured values: containers, objects, closures.

Inside generated code the gradient of a tuple is a tuple, of a list a
list, of a dict a dict, and of any other object (a layer, a closure) a
dict of its differentiable fields. :func:`index_grad` is the rule for
``x[i]`` on all of them; :func:`to_user` turns internal gradients (with
``None`` for zero) into what the user sees (zeros of the right shape and
dtype, floats for numbers).
"""

from __future__ import annotations

import operator
import types

import numpy as np

from .accumulate import accum

__all__ = ["index_grad", "index_add", "gather", "item", "as_sequence", "with_item", "without_item", "appended", "extended", "to_user", "float_dtype", "is_numeric", "is_other_array", "unknown_sizes", "refuse_unknown_sizes", "zero_like", "captured", "locked_call"]

_NUMBER_TYPES = (int, float, complex, np.number, np.bool_)
_FLOAT64 = np.dtype(np.float64)


def is_numeric(x) -> bool:
    """A value whose gradient is a number or an array (not a structure)."""
    return isinstance(x, np.ndarray) or (isinstance(x, _NUMBER_TYPES) and not isinstance(x, bool)) or \
        is_other_array(x)


def is_other_array(x) -> bool:
    """An array of another library (Dask, CuPy...): not NumPy's, but with a shape, a dtype and NEP 18's
    ``__array_function__`` or the array API's ``__array_namespace__``, so NumPy's functions dispatch to
    its own (SPEC section 7). Its gradients stay of its type: nothing here converts them to NumPy."""
    if isinstance(x, (np.ndarray, np.generic)):
        return False
    kind = type(x)
    return (hasattr(kind, "__array_function__") or hasattr(kind, "__array_namespace__")) and \
        hasattr(x, "shape") and hasattr(x, "dtype")


def unknown_sizes(x) -> bool:
    """Whether the array ``x`` of another library has a shape with unknown sizes: ``nan`` in a Dask array's
    (after boolean indexing, ``x[x[:, 0] > 0]``), ``None`` in the array API's. Only for :func:`is_other_array`
    values: NumPy's shapes are always known, and its paths never call this."""
    return any(n is None or n != n for n in x.shape)


def refuse_unknown_sizes(x, what="its gradient"):
    """A clear ``ValueError`` if ``x`` (another library's array) has unknown sizes where srcgrad needs its shape."""
    if unknown_sizes(x):
        raise ValueError(
            f"srcgrad needs the shape of a {type(x).__module__.split('.')[0]} {type(x).__name__} for {what}, but "
            f"its chunk sizes are unknown (shape {tuple(x.shape)}, as after boolean indexing x[x[:, 0] > 0]); "
            f"call x.compute_chunk_sizes() first (it computes the sizes, not the values), then pass x")


def same_shape(a, b) -> bool:
    """``a.shape == b.shape`` for arrays of another library, with unknown sizes (``nan``) equal to each other."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    return len(sa) == len(sb) and all(m == n or (m != m and n != n) or (m is None and n is None)
                                      for m, n in zip(sa, sb))


def float_dtype(x):
    """The dtype a gradient of ``x`` has: its own if inexact, else float64."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype.kind in "fc":  # (np.inexact, without issubdtype's cost)
        return dtype
    return _FLOAT64


def refuse_narrow_integers(x):
    """Refuse a gradient for an integer array narrower than 64 bits: it was computed in that dtype.

    NumPy keeps ``int8`` arithmetic in ``int8`` (``y * 100`` wraps round) and takes
    ``np.sin`` of it in ``float16``, so the derivative srcgrad wrote out would be
    wrong or imprecise; SPEC's float64 gradient of an integer array needs 64-bit input.
    """
    rounded = f"; np.sin of it is float{16 * x.dtype.itemsize}" if x.dtype.itemsize < 4 else ""
    raise TypeError(
        f"cannot differentiate with respect to an array of dtype {x.dtype}: its derivative is computed in "
        f"{x.dtype} arithmetic, where products wrap round{rounded}\n"
        f"Fix: pass it as x.astype(np.float64) (or np.int64)")


def real_for(g, x):
    """``g``, a gradient of ``x``, as real as ``x``: its real part when ``x`` is real (see docs/complex.md).

    The gradient of a real value may have picked up an imaginary part from complex
    intermediates; in autograd's convention it means nothing and is dropped.
    """
    if _is_complex(g) and (isinstance(x, (np.ndarray, np.generic, int, float)) or is_other_array(x)) \
            and not _is_complex(x):
        return np.real(g)
    return g


def _is_complex(v):
    """``v`` is a complex number or array (cheaply: no conversion of lists)."""
    return type(v) is complex or getattr(v, "dtype", _FLOAT64).kind == "c"


def _real_into(dy, dx):
    """``dy`` ready to be written into the real gradient array ``dx``: its real part if complex (docs/complex.md)."""
    if dx.dtype.kind != "c" and _is_complex(dy):
        return np.real(dy)
    return dy


def zero_like(x):
    """A real zero gradient for the numeric value ``x``."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, float_dtype(x))
    if isinstance(x, np.generic):
        return float_dtype(x).type(0)
    if is_other_array(x):  # (Dask, CuPy: that library's zeros, through NEP 18)
        return np.zeros_like(x, dtype=float_dtype(x))
    return 0.0


def _is_basic_index(idx) -> bool:
    if type(idx) is int or type(idx) is slice:  # (the usual cases, first)
        return True
    if isinstance(idx, tuple):
        return all(_is_basic_index(i) for i in idx)
    return idx is None or idx is Ellipsis or isinstance(idx, (int, np.integer, slice))


def index_grad(dy, x, idx):
    """The gradient of ``x[idx]`` with respect to ``x``, given the gradient ``dy`` of the result."""
    if x is None or dy is None:  # (x is None only for a gradient that was None: nothing flows)
        return None
    if isinstance(x, np.ndarray):
        dx = np.zeros(x.shape, float_dtype(x))
        if getattr(dy, "dtype", None) is not dx.dtype:  # (the usual case, first: dy has dx's dtype)
            dy = _real_into(dy, dx)
        if _is_basic_index(idx):
            dx[idx] = dy
        else:
            # Repeated fancy indices must add up, which only add.at does.
            np.add.at(dx, idx, dy)
        return dx
    if is_other_array(x) and _is_basic_index(idx):  # (a Dask array's slice: a lazy write into lazy zeros)
        dx = np.zeros_like(x, dtype=float_dtype(x))
        dx[idx] = _real_into(dy, dx)
        return dx
    if isinstance(x, (tuple, list)):
        grads = [None] * len(x)
        if isinstance(idx, slice):
            for position, g in zip(range(*idx.indices(len(x))), dy):
                grads[position] = g
        else:
            grads[idx] = dy
        return _same_kind(grads, x)
    if isinstance(x, dict):
        return {idx: dy}
    getitem = own_getitem(x)
    if getitem is not None and calling_pullback is not None:
        _, back = calling_pullback(getitem, x, idx)
        return back(dy)[1]
    raise TypeError(f"srcgrad cannot differentiate indexing into {type(x).__name__} objects")


def own_getitem(x):
    """The ``__getitem__`` of ``x``'s class when it is written in Python (a Chain's), else None."""
    getitem = getattr(type(x), "__getitem__", None)
    return getitem if isinstance(getitem, types.FunctionType) else None


#: ``calling_pullback(fn, *args) -> (y, back)``: the calling layer's pullback
#: (:func:`srcgrad.calls.dispatch.pullback`), for gradients that go through a user's method: a class's
#: own ``__getitem__`` (``m[0]`` of a Chain), a ``@property``'s getter. :mod:`srcgrad.calls` sets it
#: at import (it compiles the method); run-time helpers import nothing above them.
calling_pullback = None


def index_add(dx, dy, x, idx):
    """``accum(dx, index_grad(dy, x, idx))``, adding into ``dx`` in place.

    Generated code calls this only for a gradient every contribution of
    which is an index read (``c[i]`` in a loop), so ``dx`` is always a
    buffer an earlier call made and nothing else holds: each read costs
    the size of the piece, not of the whole array. Differentiated again,
    calls go to the pure :func:`srcgrad.calls.traced.traced_index_add`.
    """
    if dy is None:
        return dx
    if type(x) is list and type(idx) is int:  # (a list read at an index: the slot, not the whole list)
        if dx is None:
            dx = [None] * len(x)
        dx[idx] = accum(dx[idx], dy)
        return dx
    if not isinstance(x, np.ndarray):
        return accum(dx, index_grad(dy, x, idx))
    if dx is None:
        dx = np.zeros(x.shape, float_dtype(x))
    if getattr(dy, "dtype", None) is not dx.dtype:  # (the usual case, first: dy has dx's dtype)
        dy = _real_into(dy, dx)
    if _is_basic_index(idx):
        dx[idx] += dy
    else:
        np.add.at(dx, idx, dy)
    return dx


def item(v, index):
    """``v[index]`` for a gradient that may be ``None``, or a dict missing the key."""
    if v is None:
        return None
    if isinstance(v, dict):
        return v.get(index)
    if isinstance(index, str) and _is_namedtuple(v):  # (a namedtuple's tangent read by field name)
        return getattr(v, index)
    if type(index) is tuple and not index and isinstance(v, (float, complex, int)):
        return v  # a 0-d array's gradient held as a number: g[()] is all of it
    return v[index]


def part_of(g, x, index):
    """The part at ``index`` of the gradient ``g`` of ``x`` (a namedtuple's gradient is a dict by field name)."""
    if isinstance(g, dict) and _is_namedtuple(x) and not isinstance(index, str):
        if isinstance(index, slice):
            return tuple(g.get(field) for field in x._fields[index])
        return g.get(x._fields[index])
    return item(g, index)


def with_item(x, index, value):
    """``x`` with ``x[index] = value``, as a new array, list or dict (``x`` is left as it was)."""
    if isinstance(x, np.ndarray):
        out = x.astype(np.result_type(x, value), copy=True)
    elif isinstance(x, list):
        out = list(x)
    elif isinstance(x, dict):
        out = dict(x)
    else:
        raise TypeError(f"srcgrad cannot differentiate assignment into {type(x).__name__} objects")
    out[index] = value
    return out


def without_item(g, index):
    """The gradient ``g`` with the part at ``index`` removed (it was overwritten)."""
    if g is None or (isinstance(g, dict) and index not in g):
        return g
    out = with_item(g, index, 0 if isinstance(g, np.ndarray) else None)
    return out


def appended(xs, value):
    """``xs + [value]`` for ``xs.append(value)``, as a new list."""
    return list(xs) + [value]


def extended(xs, values):
    """``xs + list(values)`` for ``xs.extend(values)``, as a new list."""
    return list(xs) + list(values)


def as_sequence(xs):
    """What ``for x in xs`` walks through by position: a dict's keys, a dict view's items as a
    list (a view cannot be indexed), anything else itself."""
    return list(xs) if isinstance(xs, _UNINDEXABLE) else xs


_UNINDEXABLE = (dict, type({}.keys()), type({}.values()), type({}.items()))


def own_copy(obj):
    """A shallow copy of an argument object before srcgrad changes it (the caller's stays as it was)."""
    import copy

    return copy.copy(obj)


def callee_grad(g, obj, attr):
    """The gradient reading or calling ``obj.attr`` gives ``obj``: ``g`` itself for a method (a bound
    method's gradient is its object's), ``{attr: g}`` for a field."""
    if g is None:
        return None
    return g if is_method(obj, attr) else {attr: g}


def callee_part(v, obj, attr):
    """The transpose of :func:`callee_grad`: a field's part of ``v``, or all of it for a method."""
    if v is not None and not is_method(obj, attr):
        return item(v, attr)
    return v


def keyword_grads(parts, kwargs):
    """The gradient of the dict ``kwargs`` passed as ``f(x, **kwargs)``, from its keywords' gradients in order."""
    found = {k: g for k, g in zip(kwargs, parts) if g is not None}
    return found or None


def keyword_parts(v, kwargs):
    """The transpose of :func:`keyword_grads`: ``kwargs``'s gradient (or tangent) ``v`` as one part per keyword."""
    return tuple(item(v, k) for k in kwargs)


def keyword_items(kwargs):
    """``f(x, **kwargs)``'s keywords as the ``(name, value)`` pairs forward mode's calls take."""
    return tuple(kwargs.items())


def is_method(obj, attr) -> bool:
    """Whether ``obj.attr`` is a method bound to ``obj``: a function of its class (or a NumPy
    array's), not a field (its ``__dict__``'s, a namedtuple's, a slot) nor a class's constant.
    Where the class does not say (``super(C, self).f``, a ``__getattr__``), the value does."""
    if attr in getattr(obj, "__dict__", ()):
        return False
    for klass in type(obj).__mro__:
        if attr in klass.__dict__:
            return isinstance(klass.__dict__[attr], _METHOD_KINDS)
    owner = getattr(getattr(obj, attr, None), "__self__", None)
    return owner is not None and not isinstance(owner, (type, types.ModuleType))


_METHOD_KINDS = (types.FunctionType, types.MethodDescriptorType, types.BuiltinFunctionType)


def repeats_grad(g, xs):
    """The gradient of ``xs`` from that of ``xs * n`` (the copies add up)."""
    if g is None:
        return None
    n = len(xs)
    grads = [None] * n
    for k, part in enumerate(g):
        grads[k % n] = accum(grads[k % n], part)
    return _same_kind(grads, xs)


def namedtuple_of(cls, *values):
    """``cls(*values)`` for a namedtuple class ``cls``, ``values`` its fields in order (what
    :func:`srcgrad.calls.stand_ins.namedtuple_maker` makes one with; its rule takes the fields' gradients back)."""
    return tuple.__new__(cls, values)


def is_plain_namedtuple_class(cls) -> bool:
    """Whether calling the class ``cls`` only puts its arguments into fields: a ``collections.namedtuple``
    or ``typing.NamedTuple`` class, or a subclass that adds neither ``__new__`` nor ``__init__``."""
    if not (isinstance(cls, type) and issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)):
        return False
    for klass in cls.__mro__:
        if "__new__" in vars(klass) or "__init__" in vars(klass):
            # (the class namedtuple made holds its fields and the __new__ it wrote)
            return "_fields" in vars(klass) and "__init__" not in vars(klass)
    return False


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and isinstance(getattr(type(x), "_fields", None), tuple)


def _same_kind(grads, x):
    """The list ``grads``, one per position of ``x``, as ``x``'s gradient: a list for a list, a tuple
    for a tuple, and for a namedtuple a dict by field name, as reading ``p.a`` gives it (so that
    reads by name and by position add up)."""
    if isinstance(x, list):
        return grads
    if _is_namedtuple(x):
        return {field: g for field, g in zip(x._fields, grads) if g is not None}
    return tuple(grads)


def locked_call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with its array arguments read-only for the call: for what srcgrad runs without
    reading it (a function of the user's marked ``nograd``, a builtin method called for its effect).

    srcgrad cannot see such a call write into an array it is given, and the backward pass may read that
    array (``s = np.sum(a * w); bump(a)``: the gradient of ``w`` is ``a`` as it was). A write is refused
    instead, at the user's line. (Arrays inside other values are not locked.)
    """
    locked = [a for a in (*args, *kwargs.values()) if type(a) is np.ndarray and a.flags.writeable]
    for a in locked:
        a.flags.writeable = False
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        if locked and "read-only" in str(err):
            from ..errors import UnsupportedSyntaxError
            from .located import call_site, callable_name

            filename, lineno, context = call_site()
            raise UnsupportedSyntaxError(
                f"{callable_name(fn)} writes into an array it is given{context}: srcgrad cannot see that write, "
                "and the backward pass may read the array", filename=filename, lineno=lineno,
                fix="have it return the new values and assign them (a = bumped(a)), or pass it a copy") from None
        raise
    finally:
        for a in locked:
            a.flags.writeable = True


def captured(fn):
    """The values of a closure's captured variables, in ``co_freevars`` order."""
    return tuple(map(_CONTENTS, fn.__closure__))  # (map with attrgetter: no generator frame per call)


_CONTENTS = operator.attrgetter("cell_contents")


def _fields(obj):
    if isinstance(obj, types.FunctionType):
        names = obj.__code__.co_freevars
        cells = obj.__closure__ or ()
        out = {}
        for name, cell in zip(names, cells):
            try:
                out[name] = cell.cell_contents
            except ValueError:
                pass
        return out
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        return fields
    slots = getattr(type(obj), "__slots__", ())
    return {name: getattr(obj, name) for name in slots if hasattr(obj, name)}


def _field_to_user(g, value):
    """A field's gradient: as :func:`to_user`, but an int field with none (a size) stays ``None``."""
    if g is None and isinstance(value, int) and not isinstance(value, bool):
        return None
    return to_user(g, value)


def _property_grads(gs, x, fields):
    """Gradients that reached a ``@property`` of ``x``, pushed through its getter to the fields."""
    out = {}
    for name, g in gs.items():
        prop = getattr(type(x), name, None) if isinstance(name, str) and name not in fields else None
        if isinstance(prop, property) and g is not None:
            _, back = calling_pullback(prop.fget, x)
            dself = back(g)[1]
            for field, value in (dself or {}).items():
                if field in fields:
                    out[field] = to_user(accum(gs.get(field), value), fields[field])
    return out


def to_user(g, x):
    """Turn the internal gradient ``g`` of the value ``x`` into the user's view of it.

    ``None`` becomes a zero of ``x``'s shape and float dtype, numbers become
    floats, containers keep their structure, and other objects become a
    dict of their fields (``None`` for fields that cannot carry a gradient).
    """
    if isinstance(x, bool) or x is None or isinstance(x, (str, bytes, type, types.ModuleType)):
        return None
    if isinstance(x, np.ndarray):
        if g is None:
            return np.zeros(x.shape, float_dtype(x))
        if x.dtype.kind in "iu" and x.dtype.itemsize < 8 and np.any(g):  # (an index's gradient is zeros)
            refuse_narrow_integers(x)
        out = np.asarray(real_for(g, x), dtype=float_dtype(x)).reshape(x.shape)
        # (a broadcast view, as the gradient of a sum can be, is read-only: users may write into theirs)
        return out if out.flags.writeable else out.copy()
    if isinstance(x, _NUMBER_TYPES):
        if g is None:
            return 0.0
        if isinstance(x, np.generic):
            if x.dtype.kind in "iu" and x.dtype.itemsize < 8 and g != 0:
                refuse_narrow_integers(x)
            return float_dtype(x).type(real_for(g, x))
        return complex(g) if isinstance(x, complex) else float(np.real(g))
    if is_other_array(x):
        return _other_to_user(g, x)
    if _is_namedtuple(x):  # (a namedtuple of gradients, its fields by position)
        gs = [g.get(field) for field in x._fields] if isinstance(g, dict) else g
        out = to_user(gs, tuple(x))
        return type(x)._make(out) if hasattr(type(x), "_make") else out
    if isinstance(x, (tuple, list)):
        gs = g if g is not None else [None] * len(x)
        out = [to_user(gi, xi) for gi, xi in zip(gs, x)]
        return tuple(out) if isinstance(x, tuple) else out
    if isinstance(x, dict):
        gs = g or {}
        return {k: to_user(gs.get(k), v) for k, v in x.items()}
    if isinstance(x, (types.BuiltinFunctionType, np.ufunc)):
        return None
    if isinstance(x, types.MethodType):  # a bound method's gradient is its object's
        return to_user(g, x.__self__)
    if id(x) in _walking:  # (an object that holds itself, as a library's often do)
        if g is not None:
            raise TypeError(f"a gradient for a {type(x).__name__} object that refers back to itself: srcgrad "
                            "cannot give it as a dict of fields; pass the arrays it holds instead")
        return None
    _walking.add(id(x))
    try:
        fields = _fields(x)
        gs = g if isinstance(g, dict) else {}
        out = {name: _field_to_user(gs.get(name), value) for name, value in fields.items()
               if not name.startswith("__")}
        out.update(_property_grads(gs, x, fields))
    finally:
        _walking.discard(id(x))
    if not out or all(v is None for v in out.values()):
        return None
    return out


def _other_to_user(g, x):
    """:func:`to_user` for an array of another library (Dask, CuPy): the gradient stays of its type, lazy for
    Dask, in ``x``'s shape and float dtype; a zero is that library's zeros (SPEC section 7)."""
    dtype = float_dtype(x)
    if g is None:
        return np.zeros_like(x, dtype=dtype)  # (NEP 18: Dask's zeros, in x's chunks)
    g = real_for(g, x)
    if type(g) is not type(x):  # (a NumPy gradient of a Dask argument, say: made x's kind by broadcasting)
        return np.zeros_like(x, dtype=dtype) + g
    if g.dtype != dtype:
        g = g.astype(dtype)
    if tuple(g.shape) == tuple(x.shape):
        return g
    if unknown_sizes(x) or unknown_sizes(g):  # (nan sizes: equal when they are the same axes of the same ndim)
        if same_shape(g, x):
            return g
        refuse_unknown_sizes(x if unknown_sizes(x) else g, "the gradient of an argument")
    return np.reshape(g, x.shape)


#: The objects :func:`to_user` is inside of (by id), so a cycle among fields ends instead of recursing forever.
_walking: set = set()


def gather(grads, x):
    """The gradient of ``x`` from the gradients of the parts it was unpacked into (``a, b = x``)."""
    if isinstance(x, np.ndarray):
        parts = [g if g is not None else np.zeros(x.shape[1:], float_dtype(x)) for g in grads]
        return real_for(np.stack([np.broadcast_to(p, x.shape[1:]) for p in parts]), x).astype(float_dtype(x),
                                                                                             copy=False)
    return _same_kind(list(grads), x)


# -- Writes in place (see srcgrad/compiler/aliasing.py): questions generated code asks before one --------
