"""The public functions: gradient, withgradient, pullback, adjoint_source.

Everything here is a thin layer over :func:`srcgrad.calls.dispatch.pullback_wrt`:
run the compiled forward, seed the output, run the backward, and turn the
internal gradients (``None`` for zero) into what the user expects (zeros
of the right shape and dtype, floats for numbers, the same structure as
the arguments).
"""

from __future__ import annotations

import types

import numpy as np

from .calls import dispatch, traced
from .calls.cache import adjoint_of, tangent_of
from .calls.dispatch import _ndim, known_call, specialised
from .calls.stand_ins import traced_as
from .calls.tangents import tangent_call
from .compiler.display import shown
from .compiler.parse import unwrap_callable
from .errors import NonScalarOutputError, NoRuleError, SrcgradError, UnsupportedSyntaxError
from .params import Grads, Params, collect
from .rules.registry import nograd
from .runtime.as_user import user_grads
from .runtime.located import located
from .runtime.structure import float_dtype, is_other_array, refuse_narrow_integers, to_user

__all__ = ["gradient", "withgradient", "pullback", "adjoint_source", "jacobian", "hessian", "stop_gradient",
           "jvp", "derivative", "tangent_source", "GeneratedSource",
           "differentiable", "DifferentiableFunction"]


#: The seed for the usual scalar outputs, by type: a NumPy float keeps its precision.
_SEEDS = {float: 1.0, np.float64: 1.0, np.float32: np.float32(1.0), np.float16: np.float16(1.0)}


def _seed(y, f):
    """The cotangent 1 for a scalar output, or an error naming the shape."""
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        return 1.0
    if isinstance(y, (np.ndarray, np.generic)) and np.ndim(y) == 0:
        if np.issubdtype(y.dtype, np.inexact):
            return np.ones((), y.dtype)[()]
        return 1.0
    if isinstance(y, np.ndarray) and y.size == 1:  # (as PyTorch and autograd accept: SPEC)
        return np.ones(y.shape, y.dtype if y.dtype.kind in "fc" else np.float64)
    if is_other_array(y) and tuple(y.shape) == ():  # (a Dask or CuPy scalar: its seed is of its own type)
        return _other_seed(y)
    shape = getattr(y, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(y).__name__}"
    fn, _ = unwrap_callable(f)
    code = getattr(fn, "__code__", None)
    raise NonScalarOutputError(
        f"gradient needs a function that returns a scalar, but {getattr(f, '__name__', 'it')} returned {what}",
        filename=code.co_filename if code else None,
        lineno=code.co_firstlineno if code else None,
        fix="reduce the output to a scalar (e.g. np.sum), or use srcgrad.pullback(f, x) "
        "for a vector-Jacobian product or srcgrad.jacobian(f, x) for the full Jacobian",
    )


def _other_seed(y):
    """The cotangent 1 for the 0-d array ``y`` of another library, made by its own library (SPEC section 7):
    through NEP 18 (``np.ones_like`` dispatches to Dask's or CuPy's), else its array API namespace."""
    if hasattr(type(y), "__array_function__"):
        kind = getattr(y.dtype, "kind", "f")
        return np.ones_like(y, dtype=y.dtype if kind in "fc" else np.float64)
    xp = y.__array_namespace__()
    inexact = xp.isdtype(y.dtype, ("real floating", "complex floating"))
    return xp.ones_like(y) if inexact else xp.ones_like(y, dtype=xp.float64)


def withgradient(f, *args):
    """The value of ``f(*args)`` and its gradient with respect to each argument, from one pass.

    >>> import srcgrad
    >>> srcgrad.withgradient(lambda x: x ** 3, 2.0)
    (8.0, (12.0,))
    """
    return _withgradient(f, args)


def _withgradient(f, args):
    n = len(args)
    # (``gradient(f, params(...))`` cannot take the short way: its ``f`` has no parameter to fill.)
    known = known_call(f, _WRT[n], n) if type(f) is _FunctionType and n < 16 else None
    if known is not None:
        # The short way for a plain function already seen: its forward, then its backward.
        y, saved = known.forward(f, *args) if known.takes_closure else known.forward(*args)
        seed = _SEEDS.get(type(y))
        try:
            raw = known.backward(saved, seed if seed is not None else _seed(y, f))
        except SrcgradError as err:  # (a rule refusing its arguments: say where in the user's code)
            raise located(err) from None
        if n == 1:  # (one argument, the usual case: its gradient is the last, after the function's own)
            g = raw[-1]
            if type(g) is float and type(args[0]) is float or (g := _user_gradient(g, args[0])) is not None:
                return y, (g,)
        return y, _user_gradients(f, args, raw[1:] if known.has_self_grad else raw)
    if n == 1 and isinstance(args[0], Params):
        return _implicit(f, args[0])
    y, back = dispatch.pullback_wrt(_wrt(n), f, *args)
    try:
        grads = back(_seed(y, f))[1:]
    except SrcgradError as err:
        raise located(err) from None
    return y, _user_gradients(f, args, grads)


def _user_gradients(f, args, grads):
    """The user's view of the gradients ``grads`` of ``f`` at ``args``.

    An integer argument narrower than 64 bits that got a gradient got it in its own dtype, where
    ``int8`` products wrap round and ``np.sin`` is ``float16``: those are computed again with it
    as float64 (SPEC: integer arrays get float64 gradients); the value of ``f`` stays the user's.
    """
    narrow = [i for i, (a, g) in enumerate(zip(args, grads)) if _is_narrow(a) and g is not None and np.any(g)]
    if narrow:
        wide = _widen(narrow, args)
        try:
            grads = _rerun(narrow, args, lambda: dispatch.pullback_wrt(_wrt(len(args)), f, *wide)[1](1.0)[1:])
        except SrcgradError as err:
            raise located(err) from None
        args = wide
    lazy = [i for i, (a, g) in enumerate(zip(args, grads))
            if type(g) is not np.ndarray and hasattr(g, "__dask_graph__") and not is_other_array(a)]
    if lazy:
        grads = _computed_by_dask(lazy, grads)
    return tuple(to_user(g, a) if (u := _user_gradient(g, a)) is None else u for g, a in zip(grads, args))


def _computed_by_dask(lazy, grads):
    """``grads`` with the Dask gradients at the positions ``lazy`` computed, together, on the scheduler in use.

    They belong to arguments that are not Dask arrays (a NumPy weight of a loss over a Dask batch): their
    gradient is a NumPy value, as the argument is, computed by Dask's chunked reductions (issue 21) in one
    ``dask.compute``, so the forward graph they share runs once. Gradients of Dask arguments stay lazy.
    """
    import dask  # (only here: a Dask gradient means Dask is installed; NumPy stays the one requirement)

    values = dask.compute(*[grads[i] for i in lazy])
    out = list(grads)
    for i, value in zip(lazy, values):
        out[i] = value
    return out


_WRT = [tuple(range(1, n + 1)) for n in range(16)]
_FunctionType = types.FunctionType


def _wrt(n):
    """The slots of ``n`` arguments (0 is the function itself): what ``gradient(f, *args)`` uses."""
    return _WRT[n] if n < 16 else tuple(range(1, n + 1))


def _user_gradient(g, x):
    """The common cases of :func:`_user_gradients`: a float's float, an array's own-shaped array; else None."""
    if type(x) is float and type(g) is float:
        return g
    if type(x) is np.ndarray and type(g) is np.ndarray:
        dtype = x.dtype
        if g.dtype is dtype and dtype.kind == "f" and g.shape == x.shape and g.flags.writeable:
            return g
    return None


def _implicit(f, ps: Params):
    """``withgradient(f, params(...))``: ``f`` takes no arguments and reads the parameters itself."""
    ps.check_bindings()
    y, back = dispatch.pullback(f)
    dself = back(_seed(y, f))[0]
    return y, Grads(ps, collect(ps, f, dself))


def gradient(f, *args):
    """The gradient of the scalar function ``f`` with respect to each argument, as a tuple.

    With a single :class:`Params` argument, ``f`` takes no arguments and the
    result is a :class:`Grads` indexed by the parameter arrays (``gs[W]``).

    >>> import numpy as np, srcgrad
    >>> srcgrad.gradient(lambda x: 3 * x ** 2 + 2 * x + 1, 2)
    (14.0,)
    >>> srcgrad.gradient(lambda x, y: np.sum((x - y) ** 2), np.array([2.0, 1.0]), np.array([2.0, 0.0]))
    (array([0., 2.]), array([-0., -2.]))
    """
    return _withgradient(f, args)[1]


def pullback(f, *args):
    """``(y, back)``: the value of ``f(*args)`` and its vector-Jacobian product.

    ``back(dy)`` returns one gradient per argument, for a cotangent ``dy``
    shaped like ``y`` (``y`` may be any shape, or a tuple).

    >>> import numpy as np, srcgrad
    >>> y, back = srcgrad.pullback(lambda x: x * 2.0, np.array([1.0, 2.0]))
    >>> back(np.array([1.0, 10.0]))
    (array([ 2., 20.]),)
    """
    y, back = dispatch.pullback_wrt(_wrt(len(args)), f, *args)
    narrow = [i for i, a in enumerate(args) if _is_narrow(a)]
    if narrow:  # (as in gradient; not knowing yet which get a gradient, widened now where that runs)
        try:
            wide = _widen(narrow, args)
            back, args = dispatch.pullback_wrt(_wrt(len(args)), f, *wide)[1], wide
        except (IndexError, TypeError, ValueError):
            pass  # (an index: it gets no gradient, or its gradient is refused)

    def user_back(dy):
        grads = back(dy)
        # (user_grads has a rule: differentiated code that calls this back is differentiated through it)
        return user_grads(grads[1:], args)

    return y, user_back


class GeneratedSource(str):
    """Generated source, as :func:`adjoint_source` and :func:`tangent_source` return it: a ``str`` that a
    notebook displays highlighted (:meth:`_repr_html_`, the explorer page's renderer)."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        # (imported here: the explorer's package is loaded only by those who display or explore)
        from .explorer.highlight import highlight_html

        return highlight_html(str(self))

    def __repr__(self):
        return str.__repr__(self)


def adjoint_source(f, *args) -> GeneratedSource:
    """The generated reverse-mode source of ``f``: a forward and a backward function.

    With arguments, the variant that runs for their kinds (numbers, and arrays
    by their number of dimensions; a function with a loop is compiled once
    more for them), shown with what those kinds allow (``W.T @ dy`` for the
    helper that picks the product at run time); nothing is run. Without,
    the general code. A ``str``, displayed highlighted in a notebook.

    >>> import srcgrad
    >>> def f(x):
    ...     return 3 * x ** 2 + 2 * x + 1
    >>> print(srcgrad.adjoint_source(f))   # doctest: +SKIP
    """
    fn, bound = _source_function(f)
    entry = adjoint_of(fn)
    kinds = None
    if args:
        values = _bound_values(entry, fn, bound, args, f)
        if entry.loops:  # (what a call picks: dispatch.call_entry)
            entry = specialised(entry, values, fn)
        kinds = dict(zip(entry.params, values))
    return _shown(entry.source, kinds, fn, entry.forward, entry.backward)


def _source_function(f):
    fn, bound = unwrap_callable(f)
    if fn is None:
        raise TypeError(f"{f!r} has no Python source to show")
    return fn, bound


def _bound_values(entry, fn, bound, args, f):
    """The forward's arguments for the call ``f(*args)`` (a bound object first), as a call would bind them."""
    try:
        return entry.plan(fn, bound, args, {})[0]
    except TypeError as err:
        name = getattr(f, "__qualname__", getattr(fn, "__qualname__", "f"))
        raise TypeError(f"the arguments given do not fit {name}'s parameters: {err}") from None


def _shown(source, arguments, fn, *generated) -> GeneratedSource:
    """``source`` as it is shown (:func:`srcgrad.compiler.display.shown`), with the names generated code reads.

    ``arguments``: the call's values by parameter, or None for the general code. For a call, what the
    code reads from outside (globals, the helpers it was handed, the function's closure) counts as
    what it is now, as it would for the call.
    """
    names = dict(fn.__globals__)
    for g in generated:
        code = g.__code__
        names.update(zip(code.co_freevars, (cell.cell_contents for cell in g.__closure__ or ())))
    kinds = None
    if arguments is not None:
        outside = dict(names)
        outside.update(zip(fn.__code__.co_freevars, (_contents(cell) for cell in fn.__closure__ or ())))
        outside.update(arguments)
        for name, value in arguments.items():  # (an object's own fields, read without running its code)
            fields = getattr(value, "__dict__", None) if _ndim(value) is None else None
            if type(fields) is dict:
                outside.update((f"{name}.{k}", v) for k, v in fields.items() if type(k) is str)
        kinds = {name: k for name, value in outside.items() if (k := _ndim(value)) is not None}
    spelled = "np" if names.get("np") is np else next((k for k, v in fn.__globals__.items() if v is np), "np")
    return GeneratedSource(shown(source, kinds, names, spelled))


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # (a cell not yet filled)
        return None


def jacobian(f, *args):
    """The Jacobian of ``f`` with respect to each argument: shape ``y.shape + x.shape``.

    One forward pass, then one backward pass per output element.

    >>> import numpy as np, srcgrad
    >>> (J,) = srcgrad.jacobian(lambda x: x ** 2, np.array([1.0, 2.0]))
    >>> J
    array([[2., 0.],
           [0., 4.]])
    """
    y, back = pullback(f, *args)
    y_shape = np.shape(y)
    rows = [[] for _ in args]
    for index in np.ndindex(y_shape):
        seed = np.zeros(y_shape)
        seed[index] = 1.0
        grads = back(seed if y_shape else 1.0)
        for row, g in zip(rows, grads):
            row.append(np.asarray(g))  # (in the gradient's dtype: complex for a complex argument)
    out = []
    for row, x in zip(rows, args):
        x_shape = np.shape(x)
        out.append(np.array(row).reshape(y_shape + x_shape))
    return tuple(out)


def hessian(f, x):
    """The Hessian of the scalar function ``f`` at ``x``: shape ``x.shape + x.shape``.

    Forward over reverse: forward mode (:func:`jvp`) applied to the gradient
    function, one column per basis tangent, running through the generated
    backward code. If forward mode cannot run some part of that code, the
    Hessian is taken in reverse over reverse mode instead (:func:`jacobian`
    of the gradient), which gives the same numbers where both work.

    >>> import numpy as np, srcgrad
    >>> srcgrad.hessian(lambda x: np.sum(x ** 3), np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    if np.iscomplexobj(x):
        _refuse_complex_hessian(f)
    try:
        return _forward_over_reverse(f, x)
    except (NoRuleError, UnsupportedSyntaxError):
        return _reverse_over_reverse(f, x)


def _refuse_complex_hessian(f):
    """A real function of complex ``z`` has four real blocks of second derivatives; no complex matrix holds them."""
    fn, _ = unwrap_callable(f)
    code = getattr(fn, "__code__", None)
    raise SrcgradError(
        "hessian of a function of a complex argument: its second derivatives in x and y (z = x + iy) "
        "do not fit in one complex matrix (docs/complex.md)",
        filename=code.co_filename if code else None, lineno=code.co_firstlineno if code else None,
        fix="pass the real and imaginary parts as one real array, lambda v: f(v[:n] + 1j * v[n:]), "
        "and take its hessian; or srcgrad.jvp of lambda z: srcgrad.gradient(f, z)[0] along a complex tangent",
    )


def _forward_over_reverse(f, x):
    grad = _GradientOf(f)
    shape = np.shape(x)
    dtype = float_dtype(np.asarray(x))
    columns = []
    for i in range(int(np.prod(shape, dtype=int))):
        basis = np.zeros(shape, dtype)
        basis.flat[i] = 1
        _, column = jvp(grad, (x,), (basis if shape else float(basis),))
        columns.append(np.asarray(column, dtype=dtype))
    if not shape:
        return np.asarray(columns[0]).reshape(())
    return np.stack(columns, axis=-1).reshape(shape + shape)


def _reverse_over_reverse(f, x):
    return jacobian(_GradientOf(f), x)[0]


class _GradientOf:
    """``x -> gradient(f, x)[0]`` as a callable object srcgrad can differentiate."""

    def __init__(self, f):
        self.f = f

    def __call__(self, x):
        return gradient(self.f, x)[0]


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J @ tangents)``, from ``f``'s generated tangent function.

    >>> import srcgrad
    >>> srcgrad.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    (6.0, 3.0)
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp needs one tangent per primal: got {len(primals)} primals and {len(tangents)} tangents")
    for i, (x, t) in enumerate(zip(primals, tangents)):
        if _complex_tangent_for_real(x, t):
            _refuse_complex_tangent(f, i)
    try:
        y, dy = tangent_call(f, None, primals, tangents)
        narrow = [i for i, (x, t) in enumerate(zip(primals, tangents)) if _is_narrow(x) and np.any(t)]
        if narrow:  # (the tangent was computed in their dtype: again with them as float64; the value stays)
            wide = _widen(narrow, primals)
            dy = _rerun(narrow, primals, lambda: tangent_call(f, None, wide, tangents)[1])
        return y, dy
    except SrcgradError as err:
        raise located(err) from None


def _is_narrow(x):
    """An integer array (or NumPy integer) narrower than 64 bits: NumPy computes with it in its own width."""
    return isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "iu" and x.dtype.itemsize < 8


def _widen(narrow, args):
    """``args`` with those at the positions ``narrow`` as float64 arrays (SPEC: integer arrays get float64
    gradients). ``int8`` arithmetic wraps round and ``np.sin`` of it is ``float16``, so a derivative
    computed in the argument's own dtype can be wrong; the value of the function stays the user's."""
    return tuple(np.asarray(a, np.float64) if i in narrow else a for i, a in enumerate(args))


def _rerun(narrow, args, run):
    """``run()`` on widened arguments; an argument that is also an index or a count cannot be widened."""
    try:
        return run()
    except (IndexError, TypeError, ValueError):
        refuse_narrow_integers(args[narrow[0]])


def _complex_tangent_for_real(x, t):
    """A complex tangent for a real number or array, which can only move along the real line."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.ndarray, np.generic)) or np.iscomplexobj(x):
        return False
    return isinstance(t, (complex, np.ndarray, np.generic)) and np.iscomplexobj(t)


def _refuse_complex_tangent(f, i):
    fn, _ = unwrap_callable(f)
    code = getattr(fn, "__code__", None)
    raise SrcgradError(
        f"jvp was given a complex tangent for argument {i}, which is real: a real argument moves only along "
        "the real line, so its tangent must be real (docs/complex.md)",
        filename=code.co_filename if code else None, lineno=code.co_firstlineno if code else None,
        fix="pass the argument as complex (x + 0j) to move it in the complex plane, or give a real tangent",
    )


def derivative(f, x):
    """``df/dx`` at the scalar ``x``, in forward mode.

    >>> import srcgrad
    >>> srcgrad.derivative(lambda x: 3 * x ** 2 + 2 * x + 1, 2.0)
    14.0
    """
    _, dy = jvp(f, (x,), (1.0,))
    return dy


def tangent_source(f, *args) -> GeneratedSource:
    """The generated forward-mode source of ``f``: the user's code with each value's tangent.

    Forward mode has one variant for every argument; with arguments, it is
    shown with what their kinds allow, as :func:`adjoint_source` is. A
    ``str``, displayed highlighted in a notebook.

    >>> import srcgrad
    >>> def f(x):
    ...     return 3 * x ** 2 + 2 * x + 1
    >>> print(srcgrad.tangent_source(f))   # doctest: +SKIP
    """
    fn, bound = _source_function(f)
    entry = tangent_of(fn)
    kinds = None
    if args:
        values = args if bound is None else (bound,) + args
        named = entry.params if entry.vararg is None else entry.params[:entry.params.index(entry.vararg)]
        kinds = dict(zip(named, values))
    return _shown(entry.source, kinds, fn, entry.tangent)


def stop_gradient(x):
    """``x``, treated as a constant: no gradient flows back through it.

    >>> import srcgrad
    >>> srcgrad.gradient(lambda x: x * srcgrad.stop_gradient(x), 3.0)
    (3.0,)
    """
    return x


class DifferentiableFunction:
    """A function transformed when it is defined; call it as usual, or ask for its derivative.

    >>> import srcgrad
    >>> @srcgrad.differentiable
    ... def f(x):
    ...     return x ** 3
    >>> f(2.0), f.gradient(2.0)
    (8.0, (12.0,))
    """

    def __init__(self, fn):

        plain, _ = unwrap_callable(fn)
        if plain is None:
            raise TypeError(f"@differentiable needs a Python function, not {fn!r}")
        adjoint_of(plain)  # transform now: unsupported code fails at the definition
        self.fn = fn
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "f")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return DifferentiableFunction(self.fn.__get__(obj, owner))

    def gradient(self, *args):
        """``srcgrad.gradient`` of this function."""
        return gradient(self.fn, *args)

    def withgradient(self, *args):
        """``srcgrad.withgradient`` of this function."""
        return withgradient(self.fn, *args)

    def pullback(self, *args):
        """``srcgrad.pullback`` of this function."""
        return pullback(self.fn, *args)

    def adjoint_source(self, *args):
        """The generated reverse-mode source (with arguments, the variant for their kinds)."""
        return adjoint_source(self.fn, *args)

    def tangent_source(self, *args):
        """The generated forward-mode source."""
        return tangent_source(self.fn, *args)

    def jvp(self, primals, tangents):
        """``srcgrad.jvp`` of this function."""
        return jvp(self.fn, primals, tangents)

    def __repr__(self):
        return f"<differentiable {self.__name__}>"


def differentiable(fn):
    """Transform ``fn`` now (errors surface at definition) and return a :class:`DifferentiableFunction`."""
    return DifferentiableFunction(fn)


nograd(stop_gradient)
traced_as(gradient, traced.traced_gradient)
traced_as(withgradient, traced.traced_withgradient)
traced_as(pullback, traced.traced_pullback)
traced_as(jacobian, traced.traced_jacobian)
traced_as(hessian, traced.traced_hessian)
traced_as(jvp, traced.traced_jvp)
traced_as(derivative, traced.traced_derivative)
