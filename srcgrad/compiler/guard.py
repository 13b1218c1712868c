"""The guard of a compiled entry: does what it was specialised to still hold for this function?

Generated code reads globals and captured variables at run time, but the
compiler decided, from what those names held when it ran, how each call is
differentiated: ``fun(x)`` with ``fun`` holding ``np.sum`` inlines
``np.sum``'s rule. Two closures of one ``def`` share a code object yet may
hold different functions; a global may be rebound, ``np.sin`` patched, a
helper's ``__code__`` replaced. The guard is one expression of identity
tests, built once per entry from what the compiler resolved
(:attr:`srcgrad.compiler.resolve.Scope.resolved`), and run on each call::

    fn.__globals__ is G and G["xp"] is v0 and D1["sum"] is v1 and fn.__closure__[0].cell_contents is v2

A name read for a callable (a function, a class, a callable object) or a
module must hold the same object: the compiler chose a rule, a stand-in or a
path through it. A name read for anything else (a number, an array, a tuple
of arguments) must hold a value of the same type (and dtype): the generated
code reads the value itself at run time, and what the compiler decided from
it (a constant or not, :func:`~srcgrad.compiler.resolve.is_constant_value`)
follows from the type, so a training loop that rebinds a global array, or
makes a new ``lambda: loss(*batch)`` each step, does not recompile. (Were
that decision to look inside a value, its guard would have to as well.) A
name only tested for existence must still exist (or still not).
"""

from __future__ import annotations

import types

import numpy as np

from .resolve import MISSING

__all__ = ["Guard", "build_guard"]

class Guard:
    """``guard(fn)``: whether an entry compiled for another function of the same code serves ``fn``.

    ``key`` is equal for two guards that test the same things against the same objects.
    """

    __slots__ = ("check", "key", "source", "_namespace")

    def __init__(self, check, key, source, namespace):
        self.check = check
        self.key = key
        self.source = source
        self._namespace = namespace  # (keeps the objects compared against alive, with their ids in key)

    def __repr__(self):
        return f"<Guard {self.source}>"


def build_guard(fn, resolved: dict, spliced=None, exact=False) -> Guard | None:
    """The guard for an entry compiled from ``fn``; None when nothing it was compiled to can change.

    ``spliced``: the helpers pasted into the code (:class:`~srcgrad.compiler.splice.Spliced`);
    ``exact``: also require ``fn`` itself (an entry not yet fully transformed).
    """
    builder = _Builder()
    if exact:
        builder.terms.append(f"fn is {builder.const(fn)}")
    helpers = [helper for _, helper in spliced.helpers] if spliced is not None else []
    # The generated code reads no other global: srcgrad's own helpers reach it as closure variables.
    read = _names_read([fn.__code__] + [helper.__code__ for helper in helpers])
    if read:
        builder.terms.append(f"fn.__globals__ is {builder.const(fn.__globals__)}")
    for key, (holder, value, how) in resolved.items():
        where, name = key[0], key[-1]
        if where in ("global", "builtin") and name not in read:
            continue  # (asked when naming a helper srcgrad injects; the user's code never reads it)
        if where == "cell":
            builder.terms.append(builder.test(f"fn.__closure__[{holder}]", value, how, cell=True))
        elif where == "attr":
            builder.attribute(holder, name, value)
        else:
            builder.terms.append(builder.item(builder.const(holder), name, value, how))
    for name, helper in (spliced.helpers if spliced is not None else ()):
        g = builder.const(fn.__globals__)
        h = builder.const(helper)
        builder.terms.append(f"{g}[{name!r}] is {h}")
        builder.terms.append(f"{h}.__code__ is {builder.const(helper.__code__)}")
        # (Defaults matter only to a helper that has some: without, every call passed every argument.)
        if helper.__defaults__ is not None:
            builder.terms.append(f"{h}.__defaults__ is {builder.const(helper.__defaults__)}")
        if helper.__kwdefaults__ is not None:
            builder.terms.append(f"{h}.__kwdefaults__ is {builder.const(helper.__kwdefaults__)}")
    return builder.finish()


class _Builder:
    def __init__(self):
        self.terms = []
        self.namespace = {"_MISSING": MISSING, "_empty": _empty}
        self._names = {}

    def const(self, value) -> str:
        """A name in the guard's namespace bound to ``value``."""
        name = self._names.get(id(value))
        if name is None:
            name = self._names[id(value)] = f"v{len(self._names)}"
            self.namespace[name] = value
        return name

    def item(self, holder: str, name: str, value, how: str) -> str:
        """The term for ``holder[name]`` (a dict) having held ``value``."""
        if value is MISSING:
            return f"{name!r} not in {holder}"
        if how == "in":
            return f"{name!r} in {holder}"
        return self.test(f"{holder}[{name!r}]", value, how)

    def test(self, expr: str, value, how: str, cell=False) -> str:
        """The term for ``expr`` (a cell, or an item) still holding ``value`` as the compiler used it."""
        if cell:
            if value is MISSING:
                return f"_empty({expr})"
            expr += ".cell_contents"
        if type(value) is np.ndarray:
            return f"(type(_v := {expr}) is {self.const(np.ndarray)} and _v.dtype is {self.const(value.dtype)})"
        if callable(value) or isinstance(value, types.ModuleType):
            return f"{expr} is {self.const(value)}"
        return f"type({expr}) is {self.const(type(value))}"

    def attribute(self, base, name: str, value) -> None:
        """Terms for ``base.name`` (a module's or class's attribute) still being ``value``.

        Read from the ``__dict__`` that holds it, not through ``getattr``: a
        class's ``getattr`` may make a new bound object each time.
        """
        if isinstance(base, type):
            for klass in base.__mro__:
                d = self.const(klass.__dict__)
                if name in klass.__dict__:  # (the raw descriptor, whatever it is: what getattr made of it)
                    self.terms.append(f"{d}[{name!r}] is {self.const(klass.__dict__[name])}")
                    return
                self.terms.append(f"{name!r} not in {d}")
            # (In no class's __dict__: from the metaclass, or missing.)
            self.terms.append(self.test(f"getattr({self.const(base)}, {name!r}, _MISSING)", value, "is"))
            return
        d = getattr(base, "__dict__", None)
        if d is not None and name in d and d[name] is value:
            self.terms.append(self.test(f"{self.const(d)}[{name!r}]", value, "is"))
        else:  # (a module's __getattr__, or an attribute it lacks)
            self.terms.append(self.test(f"getattr({self.const(base)}, {name!r}, _MISSING)", value, "is"))

    def finish(self) -> Guard | None:
        if not self.terms:
            return None
        expression = " and ".join(dict.fromkeys(self.terms))  # (each once, in order)
        source = ("def guard(fn):\n    try:\n        return " + expression
                  + "\n    except (LookupError, ValueError, TypeError, AttributeError):\n        return False\n")
        exec(compile(source, "<srcgrad guard>", "exec"), self.namespace)
        key = (expression, tuple(id(v) for k, v in self.namespace.items() if k.startswith("v")))
        return Guard(self.namespace["guard"], key, expression, self.namespace)


def _names_read(codes) -> set:
    """The global (and attribute) names ``codes`` and the code nested in them read."""
    names = set()
    stack = list(codes)
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _empty(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return True
    return False
