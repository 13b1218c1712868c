"""One adapter per tool: set up once, then ``grad()`` and ``primal()`` calls to time.

``prepare(tool, task, wrt, consts)`` returns a :class:`Prepared` with
- ``grad()``: one gradient evaluation, finished (jax: ``block_until_ready``),
- ``primal()``: one evaluation of the objective in the same tool,
- ``to_numpy(result)``: the gradients of ``grad()`` as a tuple of NumPy values.
A tool that is not installed raises :class:`Unavailable`; any other exception
is the tool failing on the task and is recorded by the runner.
"""

import importlib
import importlib.metadata
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import objectives
from .backends import instantiate, torch_xp


class Unavailable(Exception):
    """The tool is not installed here."""


@dataclass
class Prepared:
    grad: Callable
    primal: Callable
    to_numpy: Callable
    note: str = ""


def _bound(ns, task, consts):
    if task.bind is None:
        return getattr(ns, task.objective)
    return getattr(ns, task.bind)(*consts)


def _as_tuple(g):
    return tuple(g) if isinstance(g, (tuple, list)) else (g,)


def _np(x):
    if isinstance(x, (float, int)):
        return float(x)
    return np.asarray(x)


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:  # not installed (or broken install): skipped with a note
        raise Unavailable(f"{name} is not installed ({e})") from None


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------- srcgrad
def prep_srcgrad(task, wrt, consts):
    srcgrad = _import("srcgrad")
    f = _bound(objectives, task, consts)
    gradient = srcgrad.gradient
    return Prepared(
        grad=lambda: gradient(f, *wrt),
        primal=lambda: f(*wrt),
        to_numpy=lambda g: tuple(_np(a) for a in g),
    )


# ----------------------------------------------------------------- hand-written
def prep_hand(task, wrt, consts):
    if task.hand is None:
        raise Unavailable("no hand-written gradient for this task")
    f = _bound(objectives, task, consts)
    g = task.hand(*consts)
    return Prepared(
        grad=lambda: g(*wrt),
        primal=lambda: f(*wrt),
        to_numpy=lambda r: tuple(_np(a) for a in r),
        note=task.hand_note,
    )


# --------------------------------------------------------------------- autograd
def prep_autograd(task, wrt, consts):
    autograd = _import("autograd")
    anp = _import("autograd.numpy")
    ns = instantiate(anp)
    f = _bound(ns, task, consts)
    argnum = tuple(range(len(wrt))) if len(wrt) > 1 else 0
    g = autograd.grad(f, argnum)
    return Prepared(
        grad=lambda: g(*wrt),
        primal=lambda: f(*wrt),
        to_numpy=lambda r: tuple(_np(a) for a in _as_tuple(r)),
    )


# -------------------------------------------------------------------------- jax
_jax_ready = False


def _jax():
    global _jax_ready
    jax = _import("jax")
    if not _jax_ready:
        jax.config.update("jax_enable_x64", True)  # float64 tasks stay float64, as in NumPy
        jax.config.update("jax_platforms", "cpu")
        _jax_ready = True
    return jax


def _to_jax(x):
    import jax.numpy as jnp

    if isinstance(x, np.ndarray):
        return jnp.asarray(x)
    return x


def _prep_jax(task, wrt, consts, jit):
    jax = _jax()
    jnp = _import("jax.numpy")
    ns = instantiate(jnp)
    # Data arrays are arguments of the jitted function (as a JAX user writes it), not
    # closure constants, which XLA would constant-fold at great compile-time cost.
    arr_pos = [i for i, c in enumerate(consts) if isinstance(c, np.ndarray)]
    nw = len(wrt)

    def objective(*args):
        cs = list(consts)
        for i, a in zip(arr_pos, args[nw:]):
            cs[i] = a
        return _bound(ns, task, cs)(*args[:nw])

    g = jax.grad(objective, argnums=tuple(range(nw)))
    f = objective
    if jit:
        g = jax.jit(g)
        f = jax.jit(f)
    args = [_to_jax(a) for a in wrt] + [_to_jax(consts[i]) for i in arr_pos]
    block = jax.block_until_ready
    return Prepared(
        grad=lambda: block(g(*args)),
        primal=lambda: block(f(*args)),
        to_numpy=lambda r: tuple(_np(a) for a in r),
        note="jit" if jit else "eager (no jit)",
    )


def prep_jax_jit(task, wrt, consts):
    return _prep_jax(task, wrt, consts, jit=True)


def prep_jax_eager(task, wrt, consts):
    return _prep_jax(task, wrt, consts, jit=False)


# ------------------------------------------------------------------------ torch
def _to_torch(x, grad=False):
    import torch

    if isinstance(x, np.ndarray):
        t = torch.from_numpy(x.copy())
    elif isinstance(x, float) and grad:
        t = torch.tensor(x, dtype=torch.float64)
    else:
        return x
    if grad:
        t.requires_grad_(True)
    return t


_torch_threads_set = False


def prep_torch(task, wrt, consts):
    global _torch_threads_set
    torch = _import("torch")
    if not _torch_threads_set and os.environ.get("BENCH_TORCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))
        _torch_threads_set = True
    ns = instantiate(torch_xp())
    f = _bound(ns, task, [_to_torch(c) for c in consts])
    args = [_to_torch(a, grad=True) for a in wrt]
    autograd_grad = torch.autograd.grad
    no_grad = torch.no_grad

    def grad():
        return autograd_grad(f(*args), args)

    def primal():
        with no_grad():
            return f(*args)

    return Prepared(
        grad=grad,
        primal=primal,
        to_numpy=lambda r: tuple(_np(a.detach().numpy()) if a.ndim else float(a) for a in r),
        note="eager",
    )


# ---------------------------------------------------------------------- tangent
def prep_tangent(task, wrt, consts):
    tangent = _import("tangent")
    f = getattr(objectives, task.objective)
    full = task.full_args(wrt, consts)
    g = tangent.grad(f, wrt=task.wrt_pos, verbose=0)
    return Prepared(
        grad=lambda: g(*full),
        primal=lambda: f(*full),
        to_numpy=lambda r: tuple(_np(a) for a in _as_tuple(r)),
    )


# name -> (prepare, distribution name for the version, label)
TOOLS = {
    "srcgrad": (prep_srcgrad, "srcgrad", "srcgrad"),
    "hand": (prep_hand, None, "hand-written NumPy"),
    "autograd": (prep_autograd, "autograd", "autograd"),
    "jax-jit": (prep_jax_jit, "jax", "JAX (jit)"),
    "jax-eager": (prep_jax_eager, "jax", "JAX (eager)"),
    "torch": (prep_torch, "torch", "PyTorch (eager)"),
    "tangent": (prep_tangent, "tangent-ad", "tangent-ad"),
}

PEERS = ["autograd", "jax-jit", "jax-eager", "torch", "tangent"]


def prepare(tool, task, wrt, consts):
    return TOOLS[tool][0](task, wrt, consts)
