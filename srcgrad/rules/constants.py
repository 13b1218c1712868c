"""NumPy's functions, methods and properties whose results carry no gradient, listed flat.

Indices, comparisons, rounding, shapes, constant arrays and random draws:
their results are constants to differentiation (``np.argmax``, ``x.shape``).
"""

import numpy as np

from .registry import in_place_draws, nograd, nondiff_attributes, nondiff_methods, random_draws, when_imported

for _fn in (
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.sign, np.floor, np.ceil, np.round,
    np.rint, np.trunc, np.fix, np.isnan, np.isinf, np.isfinite, np.isclose, np.allclose, np.array_equal,
    np.shape, np.ndim, np.size, np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like,
    np.empty_like, np.eye, np.identity,
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal, np.logical_and,
    np.logical_or, np.logical_not, np.logical_xor, np.any, np.all, np.count_nonzero,
    np.searchsorted, np.digitize, np.floor_divide, np.result_type, np.broadcast_shapes, np.unravel_index,
    np.ravel_multi_index, np.tril_indices, np.triu_indices, np.diag_indices, np.indices,
    np.issubdtype, np.iscomplexobj, np.isscalar, np.signbit, np.dtype,
):
    nograd(_fn)


def _random_is_constant():
    """Random numbers are constants: ``np.random.normal(size=3)``, ``rng.normal(size=3)``,
    ``np.random.RandomState(0).randn(3)``: every public function of ``np.random``, its generator
    and seed classes, and their methods (a draw's parameters get no gradient through it either)."""
    for name in dir(np.random):
        value = getattr(np.random, name)
        if name.startswith("_") or not callable(value):
            continue
        if name in _IN_PLACE:
            in_place_draws.add(value)
            continue
        nograd(value)
        if not isinstance(value, type):
            if name not in _RANDOM_STATE:
                random_draws.add(value)
            continue
        for method in dir(value):
            if method in _IN_PLACE and value in (np.random.Generator, np.random.RandomState):
                in_place_draws.add(getattr(value, method))
            elif not method.startswith("_") and callable(getattr(value, method)):
                nograd(getattr(value, method))
                if value in (np.random.Generator, np.random.RandomState) and method not in _RANDOM_STATE:
                    random_draws.add(getattr(value, method))


#: Functions of np.random, and generator methods, that make or report a generator's state, not a draw.
_RANDOM_STATE = {"seed", "get_state", "set_state", "default_rng", "get_bit_generator", "set_bit_generator",
                 "spawn", "bit_generator"}


#: Draws that write into their argument (refused in differentiated code: the backward may read the array).
_IN_PLACE = {"shuffle"}


when_imported("numpy.random", _random_is_constant)  # NumPy imports numpy.random on first use too

nondiff_methods.update({"argmax", "argmin", "argsort", "nonzero", "any", "all", "tolist", "fill", "sort"})
nondiff_attributes.update({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides", "flags"})
