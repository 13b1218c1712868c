"""Bind the objectives' ``xp`` to another array module, keeping the code identical.

:func:`instantiate` copies every function of :mod:`benchmarks.objectives`
into a fresh namespace whose ``xp`` is the given module (``autograd.numpy``,
``jax.numpy`` or :data:`torch_xp`); the code objects are shared, so the
maths is line-for-line the same for every tool.
"""

import types

from . import objectives

_cache = {}


def instantiate(xp, module=objectives):
    """A namespace (``SimpleNamespace``) of ``module``'s functions with ``xp`` rebound."""
    key = (id(xp), module.__name__)
    if key in _cache:
        return _cache[key]
    ns = dict(module.__dict__)
    ns["xp"] = xp
    for name, value in module.__dict__.items():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            fn = types.FunctionType(value.__code__, ns, value.__name__, value.__defaults__, value.__closure__)
            fn.__kwdefaults__ = value.__kwdefaults__
            fn.__qualname__ = value.__qualname__
            ns[name] = fn
    out = types.SimpleNamespace(**{k: v for k, v in ns.items() if not k.startswith("__")})
    _cache[key] = out
    return out


class _TorchXP:
    """The few NumPy functions the objectives use, spelled for PyTorch tensors."""

    def __init__(self):
        import torch

        self.torch = torch

    def sum(self, x, axis=None, keepdims=False):
        if axis is None:
            return self.torch.sum(x)
        return self.torch.sum(x, dim=axis, keepdim=keepdims)

    def max(self, x, axis=None, keepdims=False):
        if axis is None:
            return self.torch.amax(x)
        return self.torch.amax(x, dim=axis, keepdim=keepdims)

    def maximum(self, x, y):
        if isinstance(y, (int, float)):
            return self.torch.clamp_min(x, y)
        return self.torch.maximum(x, y)

    def exp(self, x):
        return self.torch.exp(x)

    def log(self, x):
        return self.torch.log(x)

    def tanh(self, x):
        return self.torch.tanh(x)

    def concatenate(self, xs, axis=0):
        return self.torch.cat(list(xs), dim=axis)

    def einsum(self, spec, *xs):
        return self.torch.einsum(spec, *xs)

    def where(self, c, x, y):
        return self.torch.where(c, x, y)


_torch_xp = None


def torch_xp():
    global _torch_xp
    if _torch_xp is None:
        _torch_xp = _TorchXP()
    return _torch_xp
