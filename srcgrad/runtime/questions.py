"""The normaliser's run-time questions: checks generated code makes before a write or a call.

Some facts the normaliser needs are known only at run time: whether a
write into ``x`` also changes ``base`` (a view), whether a value is an
array (so ``b.T`` is the array rule), whether a callee known only at run
time changes an argument in place. Generated code asks them through these
helpers, which raise :class:`~srcgrad.errors.UnsupportedSyntaxError` with
the user's file and line where srcgrad would differentiate something else
than Python runs. Each passes no gradient (``rules/runtime.py`` marks them).
"""

from __future__ import annotations

import types

import numpy as np

from ..errors import UnsupportedSyntaxError

__all__ = ["viewed", "check_unshared", "is_array", "expect_numeric", "expect_field", "expect_dict",
           "property_getter", "refuse_array_method", "refuse_unless_number", "refuse_container_method",
           "check_callee_writes", "is_mutable", "rejected"]


#: Types whose objects a write can change in place (a number, string or tuple is rebound instead).
_MUTABLE = (np.ndarray, list, dict, set, bytearray)


def is_mutable(x) -> bool:
    return isinstance(x, _MUTABLE) or (hasattr(x, "__dict__") and not isinstance(x, (type, types.ModuleType,
                                                                                         types.FunctionType)))


def _reachable(x, depth=3):
    """``x`` and what it holds: items of lists, tuples and dicts, an object's fields, a closure's cells."""
    yield x
    if depth == 0:
        return
    if isinstance(x, (list, tuple)):
        parts = x
    elif isinstance(x, dict):
        parts = x.values()
    elif isinstance(x, types.FunctionType):
        parts = [c.cell_contents for c in (x.__closure__ or ()) if _cell_full(c)]
    elif hasattr(x, "__dict__") and not isinstance(x, (type, types.ModuleType)):
        parts = vars(x).values()
    else:
        return
    for part in parts:
        yield from _reachable(part, depth - 1)


def _parts(x):
    """What ``x`` holds directly: a list's or tuple's items, a dict's values, an object's fields."""
    if isinstance(x, (list, tuple)):
        return x
    if isinstance(x, dict):
        return x.values()
    if hasattr(x, "__dict__") and not isinstance(x, (type, types.ModuleType, types.FunctionType)):
        return vars(x).values()
    return ()


def _cell_full(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _shared(x, other) -> bool:
    """Whether changing ``x`` in place would change what ``other`` holds."""
    if isinstance(x, np.ndarray):
        return any(isinstance(o, np.ndarray) and _overlap(x, o) for o in _reachable(other))
    if not is_mutable(x):
        return False
    return any(o is x for o in _reachable(other))


def _overlap(x, o) -> bool:
    """Whether arrays ``x`` and ``o`` share memory: exactly (``x[::2]`` and ``x[1::2]`` do not), and
    True where deciding it would take too long (then a write is refused, never lost)."""
    if not np.may_share_memory(x, o):
        return False
    try:
        return np.shares_memory(x, o, max_work=10_000)
    except np.exceptions.TooHardError:
        return True


def rejected(what, filename, lineno, fix):
    """The error refusing ``what`` at the user's ``filename:lineno``, with the ``fix`` to suggest."""
    return UnsupportedSyntaxError(f"{what} is not supported in differentiated code", filename=filename,
                                  lineno=lineno, fix=fix)


def viewed(x, base, name, filename, lineno) -> bool:
    """Whether a write into ``x`` changes ``base`` (which ``x`` was made from by a view, or is).

    True for ``base`` itself when it can change in place (an array or a
    list; a number is rebound), and for an array that shares ``base``'s
    memory; False for a copy (advanced indexing, a list's slice) and a
    number. A write into a list's item that the list still holds is refused.
    """
    if x is base:
        return is_mutable(x)
    if isinstance(x, np.ndarray) and isinstance(base, np.ndarray):
        return np.may_share_memory(x, base)
    if not is_mutable(x) or not _shared(x, base):
        return False
    if any(part is x for part in _parts(base)):
        return True  # row = rows[0], items = self.items: the base holds it, and gets it back after the write
    raise rejected(f"writing in place into '{name}', an item of a list or dict that still holds it",
                   filename, lineno, f"write the new value into the container instead: put it back with "
                                     f"an index assignment, or make {name} a copy with .copy()")


def check_unshared(x, others, names, name, filename, lineno) -> None:
    """Raise if writing into ``x`` in place would change one of ``others`` (named ``names``) too."""
    if not is_mutable(x):
        return
    for other, other_name in zip(others, names):
        if _shared(x, other):
            raise rejected(f"writing in place into '{name}', which shares memory with '{other_name}' "
                           f"(Python would change both)", filename, lineno,
                           f"write the new value to a new name (e.g. {name} = {name} * 10, or build it with "
                           f"np.concatenate / np.where), or take a copy first: {name} = {name}.copy()")


def is_array(x) -> bool:
    """Whether ``x`` is a NumPy array (whose ``fill`` and ``sort`` srcgrad rewrites as writes)."""
    return isinstance(x, np.ndarray)


def expect_numeric(x, name, attr, filename, lineno) -> None:
    """Raise unless ``x`` (the user's ``name``) is a NumPy array or a number: ``name.attr`` is
    differentiated by NumPy's rule for it. (A list's, dict's or set's ``copy`` is one too.)"""
    if isinstance(x, _NUMERIC) or attr == "copy" and isinstance(x, (list, dict, set)):
        return
    kind = type(x).__name__
    called = attr not in ("T", "real", "imag")
    own = "method" if called else "field"
    raise UnsupportedSyntaxError(
        f"{name}.{attr}{'()' if called else ''} where {name} is a {kind}: srcgrad differentiates "
        f".{attr} with NumPy's rule for arrays and numbers, which would give a wrong gradient for the "
        f"{kind}'s own {own}", filename=filename, lineno=lineno,
        fix=f"give the {kind}'s {own} a name NumPy's arrays do not have (not {attr!r}), so that srcgrad "
            f"differentiates it through its source")


_NUMERIC = (np.ndarray, np.generic, int, float, complex)


def expect_field(x, name, attr, filename, lineno) -> None:
    """Raise where ``x.attr`` is not a field: a property (or other descriptor written in Python) of
    ``x``'s class runs code whose gradient a field's ``{attr: d}`` would lose."""
    found = _class_attribute(type(x), attr)
    if found is None or not (isinstance(found, property) or isinstance(getattr(type(found), "__get__", None),
                                                                         types.FunctionType)):
        return
    kind = type(x).__name__
    what = "property" if isinstance(found, property) else type(found).__name__
    raise UnsupportedSyntaxError(
        f"{name}.{attr} where {attr} is a {what} of {kind}: srcgrad follows a property's getter only where "
        f"it knows {name}'s class when it compiles the function, and no other descriptor, so it would "
        f"differentiate {name}.{attr} as a plain field",
        filename=filename, lineno=lineno,
        fix=f"read it inside a method of {kind} (self.{attr}), where srcgrad follows the property's "
            f"source, or call a method instead of the property")


def property_getter(x, attr):
    """The getter of the property ``attr`` of ``x``'s class (``x.attr`` is a call of it)."""
    return _class_attribute(type(x), attr).fget


def _class_attribute(cls, attr):
    for klass in cls.__mro__:
        if attr in klass.__dict__:
            return klass.__dict__[attr]
    return None


def expect_dict(x, method, filename, lineno) -> None:
    """Raise unless ``x`` is a dict: ``for k, v in x.items()`` is walked as a dict's keys and values."""
    if not isinstance(x, dict):
        raise rejected(f"a loop over .{method}() of a {type(x).__name__} (srcgrad follows .{method}() of a "
                       f"dict only)", filename, lineno, f"loop over a dict, or over a list of the "
                                                        f"{type(x).__name__}'s items")


def refuse_array_method(x, method, fix, filename, lineno) -> None:
    """Raise for an array method that writes in place and that srcgrad does not rewrite."""
    if isinstance(x, np.ndarray):
        raise rejected(f"the array method .{method}(), which changes the array in place", filename, lineno, fix)


def refuse_unless_number(x, helper, param, where, filename, lineno) -> None:
    """Raise unless ``x`` is immutable: ``helper`` augments its parameter ``param`` (at ``where``)."""
    if is_mutable(x):
        raise rejected(f"calling {helper}() with a {type(x).__name__}: it changes its argument '{param}' in "
                       f"place ({where}), which Python would let the caller see and srcgrad would not",
                       filename, lineno, f"return the new value from {helper} and assign it: "
                                         f"value = {helper}(...)")


def refuse_container_method(x, method, fix, filename, lineno) -> None:
    """Raise for a list's, dict's or set's method that changes it in place and that srcgrad does not follow."""
    if isinstance(x, (list, dict, set)):
        raise rejected(f"{type(x).__name__}.{method}(), which changes the {type(x).__name__} in place",
                       filename, lineno, fix)


#: ``calling_callee_writes(fn)``: which of its parameters ``fn`` changes in place, or None
#: (:func:`srcgrad.compiler.aliasing.callee_writes`); set by :mod:`srcgrad.calls` at import, as
#: :data:`srcgrad.runtime.structure.calling_pullback` is: run-time helpers import nothing above them.
calling_callee_writes = None


def check_callee_writes(receiver, attr, args, names, keywords, filename, lineno) -> None:
    """Raise if the callee (``receiver``, or its method ``attr``) changes in place one of the arguments
    the caller reads again (``args`` by position, ``None`` for the others; ``keywords`` by name).

    The callee is the one the call reaches at run time, which the normaliser could not tell while
    compiling; the compiler's aliasing analysis answers (:data:`calling_callee_writes`)."""
    found = calling_callee_writes(receiver if attr is None else getattr(receiver, attr))
    if found is None:
        return
    fn, offset, writes = found
    code = fn.__code__
    positional = code.co_varnames[:code.co_argcount]
    for param, (kind, where_file, where_line) in writes.items():
        if param in keywords:
            arg, name = keywords[param], param
        elif param in positional and offset <= positional.index(param) < len(args) + offset:
            arg, name = args[positional.index(param) - offset], names[positional.index(param) - offset]
        else:
            continue
        if name is None or not is_mutable(arg):
            continue
        callee = getattr(fn, "__qualname__", "the callee")
        raise rejected(f"passing '{name}' to {callee}(), which changes its parameter '{param}' in place "
                       f"({where_file}:{where_line}: {kind}; Python would let the caller see the change),",
                       filename, lineno, f"make {callee} end with 'return {param}' and assign what it returns: "
                                         f"{name} = ...")
