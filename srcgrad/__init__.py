"""srcgrad: source-to-source automatic differentiation for plain Python and NumPy.

>>> import srcgrad
>>> srcgrad.gradient(lambda x: 3 * x ** 2 + 2 * x + 1, 2)
(14.0,)

This module is the public API only. Underneath, each layer imports only
those below it::

    api.py, params.py   gradient, withgradient, pullback, jacobian, hessian, jvp, params
    calls/              the calling layer: dispatch, the compiled Entry, the cache, the
                        stand-ins higher order reads, forward mode's calls
    compiler/           parse, fence, resolve, normalise, splice, transform, simplify, emit
    rules/              the derivative rules, one row per function, grouped by topic
    runtime/            what generated code calls: accumulate, tapes, pullback objects, zeros
    errors.py           SrcgradError and its subclasses: file, line, caret
    models/, optim/     layers and losses; optimisers and training (loaded on first use)
"""

from . import rules as _rules  # noqa: F401  (registers the built-in rules)
from .api import (
    DifferentiableFunction,
    adjoint_source,
    derivative,
    differentiable,
    gradient,
    hessian,
    jacobian,
    jvp,
    pullback,
    stop_gradient,
    tangent_source,
    withgradient,
)
from .calls.cache import cache_info, clear_cache
from .calls.checkpoint import checkpoint
from .compiler.library import trace_library
from .explorer import explore
from .errors import (
    NonScalarOutputError,
    NoRuleError,
    SourceNotFoundError,
    SrcgradError,
    UnsupportedSyntaxError,
)
from .params import Grads, Params, params
from .rules.registry import defrule, nograd

__version__ = "0.1.0"

__all__ = [
    "models",
    "optim",
    "gradient",
    "withgradient",
    "pullback",
    "adjoint_source",
    "jacobian",
    "hessian",
    "jvp",
    "derivative",
    "tangent_source",
    "explore",
    "stop_gradient",
    "checkpoint",
    "trace_library",
    "differentiable",
    "DifferentiableFunction",
    "params",
    "Params",
    "Grads",
    "defrule",
    "nograd",
    "cache_info",
    "clear_cache",
    "SrcgradError",
    "UnsupportedSyntaxError",
    "NoRuleError",
    "SourceNotFoundError",
    "NonScalarOutputError",
]


# The compiler (and gast) loads with ``import srcgrad``, above: a first gradient should cost only
# its transform and compile (about 10 ms of import, where NumPy's own is ~90). The models and
# optimisers load on first use, only for code that names them.
_LAZY = {"models": "models", "optim": "optim"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = module if name == _LAZY[name] else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
