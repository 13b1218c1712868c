"""srcgrad: source-to-source automatic differentiation for plain Python and NumPy.

>>> import srcgrad
>>> srcgrad.gradient(lambda x: 3 * x ** 2 + 2 * x + 1, 2)
(14.0,)
"""

from . import rules as _rules  # noqa: F401  (registers the built-in rules)
from . import models, optim
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
from .compiler.cache import cache_info, clear_cache
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
    "stop_gradient",
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
