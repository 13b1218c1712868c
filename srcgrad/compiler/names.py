"""Names in generated code: derived from the user's, deterministic, never clashing.

A temporary is named after what it holds (``prod``, ``tanh``, ``W`` for
``self.W``), the adjoint of ``h`` is ``dh`` (or ``h_bar`` when the user
already has a ``dh``), and clashes are resolved by counting up
(``prod_2``), never by random suffixes.
"""

from __future__ import annotations

import keyword

import gast

__all__ = ["Namer", "temp_base"]

_BINOP_NAMES = {
    gast.Add: "total",
    gast.Sub: "diff",
    gast.Mult: "prod",
    gast.Div: "ratio",
    gast.FloorDiv: "quot",
    gast.Mod: "rem",
    gast.Pow: "power",
    gast.MatMult: "mm",
    gast.BitAnd: "both",
    gast.BitOr: "either",
    gast.BitXor: "xor",
    gast.LShift: "shifted",
    gast.RShift: "shifted",
}


#: Temporaries are never named after a builtin they would shadow.
_INSTEAD_OF_BUILTIN = {"sum": "total", "max": "biggest", "min": "smallest", "abs": "magnitude", "pow": "power",
                       "round": "rounded", "len": "n", "range": "indices", "float": "value", "int": "count",
                       "map": "mapped", "zip": "pairs", "divmod": "parts", "all": "every", "any": "some"}


def temp_base(expr) -> str:
    base = _temp_base(expr)
    return _INSTEAD_OF_BUILTIN.get(base, base)


def _temp_base(expr) -> str:
    """A readable stem for a temporary holding the value of ``expr``."""
    if isinstance(expr, gast.BinOp):
        return _BINOP_NAMES.get(type(expr.op), "tmp")
    if isinstance(expr, gast.UnaryOp):
        return "neg" if isinstance(expr.op, gast.USub) else "tmp"
    if isinstance(expr, gast.Call):
        func = expr.func
        if isinstance(func, gast.Attribute):
            return func.attr
        if isinstance(func, gast.Name):
            return func.id
        return "out"
    if isinstance(expr, gast.Attribute):
        return expr.attr
    if isinstance(expr, gast.Subscript):
        if isinstance(expr.value, gast.Name):
            return expr.value.id + "_i"
        return "item"
    if isinstance(expr, gast.Compare):
        return "cond"
    if isinstance(expr, gast.BoolOp):
        return "cond"
    if isinstance(expr, (gast.Tuple, gast.List)):
        return "items"
    if isinstance(expr, gast.Dict):
        return "fields"
    if isinstance(expr, gast.IfExp):
        return "choice"
    return "tmp"


class Namer:
    """Hands out fresh names that clash with nothing the function already uses."""

    def __init__(self, taken=()):
        self.taken = set(taken)
        #: Every name this namer made up (temporaries and adjoints).
        self.invented: set[str] = set()
        self._adjoints: dict[str, str] = {}

    def fresh(self, base: str) -> str:
        base = base.strip("_") or "tmp"
        if keyword.iskeyword(base) or not base.isidentifier():
            base = "tmp"
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        self.invented.add(name)
        return name

    def adjoint(self, var: str) -> str:
        """The name of the gradient of ``var``: ``dvar``, else ``var_bar``."""
        name = self._adjoints.get(var)
        if name is None:
            first = "d" + var if not var.startswith("_") else "d" + var.lstrip("_")
            name = first if first not in self.taken else self.fresh(var + "_bar")
            self.taken.add(name)
            self.invented.add(name)
            self._adjoints[var] = name
        return name
