"""Derivative rules, one module per namespace; importing this package registers them all.

- :mod:`.operators` — Python's operators (``+ - * / ** @``, unary minus, ``%``);
- :mod:`.builtins` — ``abs``, ``min``, ``max``, ``sum``, ``float``, ``pow``, and what passes no gradient;
- :mod:`.math` — the ``math`` module;
- :mod:`.numpy` — NumPy functions, array methods and properties;
- :mod:`.scipy` — ``scipy.special``, registered once the program has imported it;
- :mod:`.runtime` — srcgrad's own helpers, so generated code can be differentiated again.
"""

from . import builtins, math, numpy, operators, runtime, scipy  # noqa: F401
from .registry import defrule, nograd

__all__ = ["defrule", "nograd"]
