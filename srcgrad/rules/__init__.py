"""Derivative rules, one module per namespace; importing this package registers them all.

- :mod:`.operators` — Python's operators (``+ - * / ** @``, unary minus, ``%``);
- :mod:`.builtins` — ``abs``, ``min``, ``max``, ``sum``, ``float``, ``pow``, and what passes no gradient;
- :mod:`.math` — the ``math`` module;
- :mod:`.numpy` — NumPy functions, array methods and properties;
- :mod:`.scipy` — ``scipy.special``, loaded when a SciPy function is first met;
- :mod:`.runtime` — srcgrad's own helpers, so generated code can be differentiated again.
"""

from . import builtins, math, numpy, operators, runtime  # noqa: F401
from .registry import defrule, nograd

__all__ = ["defrule", "nograd"]
