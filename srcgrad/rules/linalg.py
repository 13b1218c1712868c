"""Rules for products and linear algebra: ``@ dot outer inner tensordot einsum linalg.inv det solve``.

The products are linear in each operand, so each is its own tangent; the
gradient of one operand contracts ``dy`` with the others. ``np.einsum``'s
value is computed by one planned matrix product where it can be
(:func:`einsum_by_matmul`), ten times einsum's own loop.
"""

import functools
import math
import operator
import string

import numpy as np

from ..errors import NoRuleError
from .registry import defrule, nograd
from .shaping import sum_to_shape

shaped = functools.partial(defrule, _builtin=True, broadcast=False)


def matmul_grad_a(dy, a, b):
    """The gradient of ``a @ b`` with respect to ``a`` (any of 1-D, 2-D, batched)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2:  # (the usual cases, first)
        if b.ndim == 2:
            return dy @ b.T
        if b.ndim == 1:
            return dy[:, None] * b
    na = np.ndim(a)
    nb = np.ndim(b)
    if na == 1 and nb == 1:
        g = dy * b
    elif nb == 1:  # (an index, not np.expand_dims: the cheaper in this hot path)
        g = sum_to_shape(dy[..., None] * b, np.shape(a))
    elif na == 1:
        g = sum_to_shape(np.squeeze(b @ np.reshape(dy, np.shape(dy) + (1,)), -1), np.shape(a))
    else:
        g = sum_to_shape(dy @ np.swapaxes(b, -1, -2), np.shape(a))
    return g


def matmul_grad_b(dy, a, b):
    """The gradient of ``a @ b`` with respect to ``b`` (any of 1-D, 2-D, batched)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim <= 2:  # (the usual cases)
        return a.T @ dy
    na = np.ndim(a)
    nb = np.ndim(b)
    if na == 1 and nb == 1:
        g = dy * a
    elif na == 1:
        column = np.reshape(a, np.shape(a) + (1,))
        row = np.reshape(dy, np.shape(dy)[:-1] + (1,) + np.shape(dy)[-1:])
        g = sum_to_shape(column * row, np.shape(b))
    elif nb == 1:
        g = sum_to_shape(np.squeeze(np.swapaxes(a, -1, -2) @ np.reshape(dy, np.shape(dy) + (1,)), -1), np.shape(b))
    else:
        g = sum_to_shape(np.swapaxes(a, -1, -2) @ dy, np.shape(b))
    return g


def dot_grad_a(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``a``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        g = sum_to_shape(dy * b, np.shape(a))
    elif np.ndim(b) <= 2:  # np.dot is a @ b
        g = matmul_grad_a(dy, a, b)
    else:  # contract dy with all of b's axes but the summed one, its second-to-last
        b_free = list(range(np.ndim(b) - 2)) + [np.ndim(b) - 1]
        g = np.tensordot(dy, b, axes=(list(range(np.ndim(a) - 1, np.ndim(dy))), b_free))
    return g


def dot_grad_b(dy, a, b):
    """The gradient of ``np.dot(a, b)`` with respect to ``b``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        g = sum_to_shape(dy * a, np.shape(b))
    elif np.ndim(b) <= 2:
        g = matmul_grad_b(dy, a, b)
    else:
        a_free = list(range(np.ndim(a) - 1))
        g = np.moveaxis(np.tensordot(a, dy, axes=(a_free, a_free)), 0, -2)
    return g


def inner_grad_a(dy, a, b):
    """The gradient of ``np.inner(a, b)`` (a sum over both last axes) with respect to ``a``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) == np.ndim(b) == 1:
        g = sum_to_shape(dy * b, np.shape(a))
    else:
        g = np.tensordot(dy, b, axes=(list(range(np.ndim(a) - 1, np.ndim(dy))), list(range(np.ndim(b) - 1))))
    return g


def inner_grad_b(dy, a, b):
    """The gradient of ``np.inner(a, b)`` with respect to ``b``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) == np.ndim(b) == 1:
        g = sum_to_shape(dy * a, np.shape(b))
    else:
        g = np.tensordot(dy, a, axes=(list(range(np.ndim(a) - 1)), list(range(np.ndim(a) - 1))))
    return g


def tensordot_axes(a, b, axes):
    """``np.tensordot``'s ``axes`` as two lists: the summed axes of ``a`` and, paired with them, of ``b``."""
    if np.ndim(axes) == 0:
        pairs = (list(range(np.ndim(a) - axes, np.ndim(a))), list(range(axes)))
    else:
        pairs = ([i % np.ndim(a) for i in np.atleast_1d(axes[0])], [i % np.ndim(b) for i in np.atleast_1d(axes[1])])
    return pairs


def tensordot_grad_a(dy, a, b, axes):
    """The gradient of ``np.tensordot(a, b, axes)`` with respect to ``a``: ``dy`` contracted with ``b``."""
    a_axes, b_axes = tensordot_axes(a, b, axes)
    a_free = [i for i in range(np.ndim(a)) if i not in a_axes]
    b_free = [i for i in range(np.ndim(b)) if i not in b_axes]
    g = np.tensordot(dy, b, axes=(list(range(len(a_free), np.ndim(dy))), b_free))
    # g has a's free axes, then b's summed axes in increasing order: put each where a has it.
    holds = a_free + [a_axes[b_axes.index(j)] for j in sorted(b_axes)]
    return np.transpose(g, np.argsort(holds))


def tensordot_grad_b(dy, a, b, axes):
    """The gradient of ``np.tensordot(a, b, axes)`` with respect to ``b``."""
    a_axes, b_axes = tensordot_axes(a, b, axes)
    a_free = [i for i in range(np.ndim(a)) if i not in a_axes]
    b_free = [i for i in range(np.ndim(b)) if i not in b_axes]
    g = np.tensordot(a, dy, axes=(a_free, list(range(len(a_free)))))
    # g has a's summed axes in increasing order (so b's partners of them), then b's free axes.
    holds = [b_axes[a_axes.index(i)] for i in sorted(a_axes)] + b_free
    return np.transpose(g, np.argsort(holds))


def det_grad(dy, y, a):
    """The gradient of ``det(a)``: ``dy * det(a) * inv(a).T``."""
    return np.expand_dims(dy * y, (-1, -2)) * np.swapaxes(np.linalg.inv(a), -1, -2)


def solve_grad_a(dy, x, a):
    """The gradient of ``x = solve(a, b)`` with respect to ``a``."""
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), dy)
    if np.ndim(x) == np.ndim(a) - 1:  # b, and so x, is a vector
        g = -np.expand_dims(gb, -1) * np.expand_dims(x, -2)
    else:
        g = -gb @ np.swapaxes(x, -1, -2)
    return sum_to_shape(g, np.shape(a))  # (one a solved against a stack of b: the stack's gradients add up)


def inv_tangent(dargs, y, a):
    """d inv(a) = -inv(a) da inv(a)."""
    return -y @ dargs[0] @ y


def det_tangent(dargs, y, a):
    """d det(a) = det(a) trace(inv(a) da)."""
    return y * np.trace(np.linalg.solve(a, dargs[0]), axis1=-2, axis2=-1)


def solve_tangent(dargs, y, a, b):
    """d solve(a, b) = solve(a, db - da x)."""
    da, db = dargs
    rhs = (db if db is not None else 0) - ((da @ y) if da is not None else 0)
    return np.linalg.solve(a, rhs + np.zeros_like(y))


# ------------------------------------------------------------------ products

@shaped(np.matmul, operator.matmul, forward="linear")
def matmul(dy, y, a, b):
    return (matmul_grad_a(dy, a, b), matmul_grad_b(dy, a, b))


@shaped(np.dot, methods=("dot",), forward="linear")
def dot(dy, y, a, b):
    return (dot_grad_a(dy, a, b), dot_grad_b(dy, a, b))


@shaped(np.outer, forward="linear")
def outer(dy, y, a, b):
    return (np.reshape(dy @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ dy, np.shape(b)))


@shaped(np.inner, forward="linear")
def inner(dy, y, a, b):
    return (inner_grad_a(dy, a, b), inner_grad_b(dy, a, b))


@shaped(np.tensordot, forward="linear")
def tensordot(dy, y, a, b, axes=2):
    return (tensordot_grad_a(dy, a, b, axes), tensordot_grad_b(dy, a, b, axes))


# ------------------------------------------------------------------ einsum

@nograd
@functools.lru_cache(maxsize=256)
def einsum_letters(subscripts, shapes):
    """``np.einsum``'s subscripts for operands of these shapes, one letter per axis and the output explicit:
    ``("...ij,jk", ((5, 2, 3), (3, 4)))`` -> ``(["aij", "jk"], "aik")``.

    Each ``...`` becomes fresh letters, right-aligned as broadcasting aligns
    axes; the implicit output is those letters, then the letters used once
    in increasing order, as NumPy has it.
    """
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    inputs = inputs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError("einsum: subscripts and operands do not match")
    ndims = [len(shape) - len(sub.replace("...", "")) for sub, shape in zip(inputs, shapes)]  # (under each '...')
    broadcast = "".join(_spare_letters(subscripts, max([n for n, sub in zip(ndims, inputs) if "..." in sub],
                                                       default=0)))
    if not arrow:
        named = "".join(inputs).replace("...", "")
        output = "..." + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    spelled = [sub.replace("...", broadcast[len(broadcast) - n:]) for sub, n in zip(inputs, ndims)]
    return spelled, output.replace("...", broadcast)


def _spare_letters(used, count):
    """``count`` letters not among ``used``, to name the axes the subscripts do not name apart."""
    spare = [c for c in string.ascii_letters if c not in used][:count]
    if len(spare) < count:
        raise NoRuleError("srcgrad's einsum rule names every axis apart by a letter, and the 52 letters are too few "
                          "here", fix="take repeated letters' diagonals first (np.diagonal), or use fewer axes")
    return spare


def einsum_grad(dy, subscripts, operands, i):
    """The gradient of ``np.einsum(subscripts, *operands)`` with respect to operand ``i``."""
    spec, others, eyes, by_matmul, summed, kept_shape = einsum_grad_plan(
        subscripts, tuple(np.shape(op) for op in operands), i)
    if by_matmul:
        g = contract(spec, dy, operands[others[0]])
    else:  # (optimize: a contraction order and BLAS where they help; the plain loop is up to 20x slower here)
        # A letter repeated in operand i: only its diagonal is used, so only there is the gradient not zero.
        arrays = [operands[j] for j in others] + [np.eye(n, dtype=bool) for n in eyes]
        g = np.einsum(spec, dy, *arrays, optimize=True)
    if summed:  # (a length-1 axis of operand i that einsum broadcast against a longer one)
        g = np.sum(g, axis=summed, keepdims=True)
    if kept_shape is None:
        return g
    # Along axes summed within this operand alone the gradient is constant.
    return np.broadcast_to(np.reshape(g, kept_shape), np.shape(operands[i]))


@nograd
@functools.lru_cache(maxsize=1024)
def einsum_grad_plan(subscripts, shapes, i):
    """What :func:`einsum_grad` computes, from the subscripts and shapes alone (so differentiated never):
    the spec contracting ``dy`` with the other operands and with identity matrices, those operands'
    positions, the identities' sizes, whether :func:`contract` computes it by a matrix product, the
    axes of the result then summed, and the shape it has before it is spread over operand ``i``
    (``None``: it has operand ``i``'s shape already).

    ``"ii->i"``: ``"i,ia->ia"`` with ``np.eye(n)``, the second ``i`` renamed ``a``.
    """
    inputs, output = einsum_letters(subscripts, shapes)
    size = {}
    for sub, shape in zip(inputs, shapes):
        for c, n in zip(sub, shape):
            size[c] = n if size.get(c, 1) == 1 else size[c]  # (1 broadcasts against any length)
    fresh = _spare_letters(size, len(inputs[i]) - len(set(inputs[i])))
    target, eyes = "", []
    for c in inputs[i]:
        if c in target:
            eyes.append(c + fresh[0])
            size[fresh[0]] = size[c]
            c = fresh.pop(0)
        target += c
    others = tuple(j for j in range(len(shapes)) if j != i)
    # What is contracted, as (subscripts, shape): dy, the other operands, the identities.
    factors = [(output, tuple(size[c] for c in output))] + [(inputs[j], shapes[j]) for j in others] \
        + [(e, (size[e[0]],) * 2) for e in eyes]
    kept = "".join(c for c in target if any(c in sub for sub, _ in factors))
    spec = ",".join(sub for sub, _ in factors) + "->" + kept
    # (Decided here, so that einsum_grad never reaches contract's own np.einsum: there spec is a parameter,
    # which forward mode over einsum_grad would take for a number with a tangent.)
    by_matmul = len(others) == 1 and not eyes and contraction_plan(spec, factors[0][1], shapes[others[0]]) is not None
    # The contraction's length along each letter is the factors' broadcast, which operand i may broadcast in turn.
    lengths = {c: np.broadcast_shapes(*[(n,) for sub, shape in factors for d, n in zip(sub, shape) if d == c])[0]
               for c in kept}
    own = dict(zip(target, shapes[i]))
    summed = tuple(k for k, c in enumerate(kept) if own[c] == 1 and lengths[c] != 1)
    kept_shape = tuple(lengths[c] if c in kept and own[c] != 1 else 1 for c in target)
    return spec, others, tuple(size[e[0]] for e in eyes), by_matmul, summed, \
        None if kept_shape == shapes[i] else kept_shape


def contract(spec, a, b):
    """``np.einsum(spec, a, b)`` as one batched matrix product, where the subscripts allow it.

    ``np.einsum(..., optimize=True)`` reaches the same BLAS call through
    about 50 us of Python planning on every call; the plan here is made
    once per subscripts and shapes (:func:`contraction_plan`).
    """
    plan = contraction_plan(spec, np.shape(a), np.shape(b))
    if plan is None:
        return np.einsum(spec, a, b, optimize=True)
    a_alone, a_order, a_matrix, b_alone, b_order, b_matrix, b_first, product_shape, out_order = plan
    if a_alone:
        a = np.sum(a, axis=a_alone)
    if b_alone:
        b = np.sum(b, axis=b_alone)
    a = np.reshape(np.transpose(a, a_order), a_matrix)
    b = np.reshape(np.transpose(b, b_order), b_matrix)
    product = np.reshape(b @ a if b_first else a @ b, product_shape)
    return product if out_order is None else np.transpose(product, out_order)


@nograd
@functools.lru_cache(maxsize=256)
def contraction_plan(spec, a_shape, b_shape):
    """How :func:`contract` computes ``np.einsum(spec, a, b)``: ``None`` where it cannot (einsum does).

    The letters fall into four groups: ``batch`` (in ``a``, ``b`` and the
    output), ``summed`` (in ``a`` and ``b`` only), and each operand's
    ``free`` ones (in it and the output). Letters in one operand alone are
    summed away first. Then ``a`` becomes a stack of ``free_a x summed``
    matrices, ``b`` one of ``summed x free_b``, and their product is
    reshaped and its axes put in the output's order (``None``: they are).

    ``b @ a`` (the transposed product) instead where ``a @ b`` would need
    its axes moved: a gradient's free letters, ``a``'s, are then the ones
    that run along memory, so the sum that unbroadcasts it over them (a
    data axis, typically) reads memory in order, as after einsum.
    """
    a_letters, rest = spec.split(",")
    b_letters, out = rest.split("->")
    if any(len(set(s)) != len(s) for s in (a_letters, b_letters, out)) or set(out) - set(a_letters + b_letters):
        return None  # (a repeated letter, a '...' among them: einsum's)
    if len(a_letters) != len(a_shape) or len(b_letters) != len(b_shape):
        return None
    size = dict(zip(a_letters, a_shape))
    if any(size.setdefault(c, n) != n for c, n in zip(b_letters, b_shape)):
        return None  # (a length-1 axis broadcast against a longer one: einsum's business)
    a_alone = tuple(i for i, c in enumerate(a_letters) if c not in b_letters and c not in out)
    b_alone = tuple(i for i, c in enumerate(b_letters) if c not in a_letters and c not in out)
    a_kept = [c for i, c in enumerate(a_letters) if i not in a_alone]
    b_kept = [c for i, c in enumerate(b_letters) if i not in b_alone]
    batch = [c for c in a_kept if c in b_kept and c in out]
    summed = [c for c in a_kept if c in b_kept and c not in out]
    free_a = [c for c in a_kept if c not in b_kept]
    free_b = [c for c in b_kept if c not in a_kept]

    def count(letters):
        return math.prod(size[c] for c in letters)

    def matrices(letters, rows, columns):  # (the axes' order that makes batch x rows x columns, and its shape)
        return tuple(letters.index(c) for c in batch + rows + columns), (count(batch), count(rows), count(columns))

    b_first = batch + free_a + free_b != list(out)
    if b_first:
        a_order, a_matrix = matrices(a_kept, summed, free_a)
        b_order, b_matrix = matrices(b_kept, free_b, summed)
        result = batch + free_b + free_a
    else:
        a_order, a_matrix = matrices(a_kept, free_a, summed)
        b_order, b_matrix = matrices(b_kept, summed, free_b)
        result = batch + free_a + free_b
    out_order = None if result == list(out) else tuple(result.index(c) for c in out)
    return a_alone, a_order, a_matrix, b_alone, b_order, b_matrix, b_first, tuple(size[c] for c in result), out_order


def einsum_grads(dy, subscripts, operands):
    """One gradient per positional argument of ``np.einsum``, in either of its forms.

    ``einsum("ij,jk->ik", a, b)``: none for the subscripts, then one per
    operand; the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``: one
    per operand, none for the sublists.
    """
    if isinstance(subscripts, str):
        return (None,) + tuple(einsum_grad(dy, subscripts, operands, i) for i in range(len(operands)))
    args = (subscripts,) + tuple(operands)
    arrays = args[:len(args) - len(args) % 2:2]
    spec = sublist_spec(args)
    grads = [None] * len(args)
    for i in range(len(arrays)):
        grads[2 * i] = einsum_grad(dy, spec, arrays, i)
    return tuple(grads)


@nograd
def sublist_spec(args):
    """The subscripts string that ``np.einsum(a, [0, 1], b, [1, 2], [0, 2])``'s sublists spell: ``"ab,bc->ac"``."""
    def letters(sublist):
        return "".join("..." if s is Ellipsis else string.ascii_letters[int(s)] for s in sublist)

    sublists = list(args[1::2])
    if len(args) % 2:
        output = list(args[-1])
    else:  # (implicit: the labels used once, in increasing order, as NumPy does, after any '...')
        used = [int(s) for sub in sublists for s in sub if s is not Ellipsis]
        output = sorted(s for s in set(used) if used.count(s) == 1)
        if any(s is Ellipsis for sub in sublists for s in sub):
            output = [Ellipsis] + output
    return ",".join(letters(sub) for sub in sublists) + "->" + letters(output)


def einsum_by_matmul(subscripts, *operands, **options):
    """``np.einsum(subscripts, *operands, **options)``, two float arrays by :func:`contract`'s planned matrix
    product: what generated forwards call for ``np.einsum``.

    NumPy's einsum, unless told ``optimize=True``, loops over every index
    itself (a contraction over k x d x d: ten times a BLAS product); with
    it, it plans the same product anew on each call. The value is
    einsum's up to rounding (the sums run in another order). Anything
    else (one or three operands, implicit output, ``...``, a repeated
    letter, integers, small arrays, keywords) goes to ``np.einsum`` as written.
    """
    if len(operands) == 2 and not options and type(subscripts) is str and "->" in subscripts \
            and "." not in subscripts:
        a, b = operands
        if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind in "fc" and b.dtype.kind in "fc" \
                and a.size + b.size > 256 \
                and contraction_plan(subscripts.replace(" ", ""), a.shape, b.shape) is not None:
            return contract(subscripts.replace(" ", ""), a, b)
    return np.einsum(subscripts, *operands, **options)


@shaped(np.einsum, einsum_by_matmul, forward="linear", computed_by=einsum_by_matmul)
def einsum(dy, y, subscripts, *operands, optimize=False):
    return einsum_grads(dy, subscripts, operands)


# ------------------------------------------------------------------ inverses

@shaped(np.linalg.inv, forward=inv_tangent)
def inv(dy, y, a):
    return (-np.swapaxes(y, -1, -2) @ dy @ np.swapaxes(y, -1, -2),)


@shaped(np.linalg.det, forward=det_tangent)
def det(dy, y, a):
    return (det_grad(dy, y, a),)


@shaped(np.linalg.solve, forward=solve_tangent)
def solve(dy, y, a, b):
    return (solve_grad_a(dy, y, a), sum_to_shape(np.linalg.solve(np.swapaxes(a, -1, -2), dy), np.shape(b)))

