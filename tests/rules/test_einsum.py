"""``np.einsum`` in full (srcgrad/rules/linalg.py's einsum section): ``...``, a letter repeated within one
operand, length-1 axes broadcast, the sublist form, three operands, ``optimize=``.

Each form's gradient against central differences, its tangent (forward
mode) against differences along a random direction, its second derivative
against differences of the gradient, and where autograd can, its gradient
against autograd's. The plain table rows of these forms are in
tests/rules/test_numpy.py's SPECS.
"""

import string

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad
from srcgrad.rules.linalg import einsum_by_matmul

from .specs import Spec, check_forward, check_forward_over_reverse, check_second_order, define

#: ``(call, shapes)``: the call of ``a, b, c`` and their shapes. First a letter repeated within one operand
#: (the gradient lies on its diagonal), which autograd refuses.
DIAGONALS = [
    ("np.einsum('ii->', a)", [(3, 3)]),
    ("np.einsum('ii->i', a)", [(3, 3)]),
    ("np.einsum('ii', a)", [(3, 3)]),
    ("np.einsum('bii->b', a)", [(2, 3, 3)]),
    ("np.einsum('iij->j', a)", [(3, 3, 2)]),
    ("np.einsum('iijj->', a)", [(2, 2, 3, 3)]),
    ("np.einsum('ij,jj->i', a, b)", [(2, 3), (3, 3)]),  # (repeated in one operand only)
    ("np.einsum('ii,ij,jj->ij', a, b, c)", [(3, 3), (3, 2), (2, 2)]),
    ("np.einsum('...ii->...i', a)", [(2, 3, 3)]),
    ("np.einsum('...ii,...i->...', a, b, optimize=True)", [(2, 3, 3), (1, 3)]),
    ("np.einsum(a, [Ellipsis, 0, 0])", [(2, 3, 3)]),  # (implicit: '...' first, then the labels used once)
]

#: Then '...', length-1 axes broadcast, three operands, and optimize=.
BROADCASTS = [
    ("np.einsum('...ij,...jk->...ik', a, b)", [(2, 3, 4), (2, 4, 2)]),
    ("np.einsum('...ij,...jk->...ik', a, b)", [(2, 1, 3, 4), (5, 4, 2)]),  # (batch shapes broadcast)
    ("np.einsum('...i->...', a)", [(2, 3)]),
    ("np.einsum('i...->...', a)", [(2, 3, 4)]),
    ("np.einsum('...ij', a)", [(2, 3, 4)]),
    ("np.einsum('...j,j...', a, b)", [(3, 4), (4, 3)]),
    ("np.einsum('ij,j->i', a, b)", [(3, 1), (4,)]),  # (a length-1 axis broadcast, in either operand)
    ("np.einsum('ij,j->i', a, b)", [(3, 4), (1,)]),
    ("np.einsum(a, [Ellipsis, 0, 1], b, [Ellipsis, 1, 2], [Ellipsis, 0, 2])", [(2, 3, 4), (2, 4, 2)]),
    ("np.einsum(a, [Ellipsis, 0, 1], b, [Ellipsis, 1, 2], [Ellipsis, 0, 2])", [(3, 4), (5, 1, 4, 2)]),
    ("np.einsum('ij,jk,kl->il', a, b, c)", [(2, 3), (3, 4), (4, 2)]),
    ("np.einsum('ij,jk,kl->il', a, b, c, optimize=True)", [(2, 3), (3, 4), (4, 2)]),
    ("np.einsum('ij,jk,kl->il', a, b, c, optimize='optimal')", [(2, 3), (3, 4), (4, 2)]),
    ("np.einsum('ij,jk,kl->il', a, b, c, optimize='greedy')", [(2, 3), (3, 4), (4, 2)]),
    ("np.einsum('ij,jk,kl->il', a, b, c, optimize=['einsum_path', (1, 2), (0, 1)])", [(2, 3), (3, 4), (4, 2)]),
    ("np.einsum('...ij,...jk->...ik', a, b, optimize=False)", [(2, 1, 3, 4), (5, 4, 2)]),
]

FORMS = DIAGONALS + BROADCASTS

#: The forms differentiated a second time (slow to compile): a few of each kind.
SECOND_ORDER = DIAGONALS[1::3] + BROADCASTS[1::4]


def cases(forms):
    """One ``pytest.param(call, shapes)`` per form, named by its arguments and shapes."""
    return [pytest.param(call, shapes, id=call[len("np.einsum("):-1] + "[" + ",".join(
        "x".join(map(str, s)) for s in shapes) + "]") for call, shapes in forms]


def names(shapes):
    return ", ".join("abc"[:len(shapes)])


def function_of(call, shapes, tmp_path):
    """``sum(sin(call))``, a scalar whose second derivative is not zero though einsum is linear."""
    return define(tmp_path, f"def f({names(shapes)}):\n    return np.sum(np.sin({call}))\n")


def inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def spec_of(call, shapes):
    return Spec(np.einsum, call, [tuple(shapes) if len(shapes) > 1 else shapes[0]])


@pytest.mark.parametrize("call, shapes", cases(FORMS))
def test_gradient_against_differences(call, shapes, tmp_path):
    f = function_of(call, shapes, tmp_path)
    for seed in (0, 1):
        grads = check_gradient(f, *inputs(shapes, seed))
        assert all(g.shape == s and g.dtype == np.float64 for g, s in zip(grads, shapes))


@pytest.mark.parametrize("call, shapes", cases(FORMS))
def test_forward_mode_against_differences(call, shapes, tmp_path, tmp_path_factory):
    f = function_of(call, shapes, tmp_path)
    args = inputs(shapes, 0)
    tangents = inputs(shapes, 7)
    eps = 1e-6
    value, tangent = srcgrad.jvp(f, args, tangents)
    ahead = f(*[x + eps * t for x, t in zip(args, tangents)])
    behind = f(*[x - eps * t for x, t in zip(args, tangents)])
    assert value == f(*args)
    np.testing.assert_allclose(tangent, (ahead - behind) / (2 * eps), rtol=1e-6, atol=1e-8)
    spec = spec_of(call, shapes)
    check_forward(spec, spec.cases[0], tmp_path_factory)


@pytest.mark.parametrize("call, shapes", cases(SECOND_ORDER))
def test_second_order(call, shapes, tmp_path_factory):
    """Reverse over reverse and forward over reverse: the rule's own code differentiated again."""
    spec = spec_of(call, shapes)
    check_second_order(spec, spec.cases[0], tmp_path_factory)
    check_forward_over_reverse(spec, spec.cases[0], tmp_path_factory)


def test_hessian_of_a_trace_of_squares(tmp_path):
    """``trace(a a) + trace(a) ** 2``'s Hessian against differences of its gradient."""
    f = define(tmp_path, "def f(a):\n    return np.einsum('ij,ji->', a, a) + np.einsum('ii', a) ** 2\n")
    x = np.random.default_rng(0).standard_normal(9)

    def flat(v):
        return f(v.reshape(3, 3))

    H = srcgrad.hessian(flat, x)
    eps = 1e-6
    numeric = np.stack([(srcgrad.gradient(flat, x + eps * e)[0] - srcgrad.gradient(flat, x - eps * e)[0]) / (2 * eps)
                        for e in np.eye(9)], axis=1)
    np.testing.assert_allclose(H, numeric, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


@pytest.mark.parametrize("subscripts, shapes", [("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
                                                ("...ii,...i->...", [(2, 3, 3), (1, 3)])])
def test_optimize_does_not_change_the_gradient(subscripts, shapes, tmp_path):
    args = inputs(shapes, 0)
    path = np.einsum_path(subscripts, *args, optimize="optimal")[0]
    f = define(tmp_path, f"def f({names(shapes)}, optimize):\n"
                         f"    return np.sum(np.sin(np.einsum({subscripts!r}, {names(shapes)}, optimize=optimize)))\n")
    want = srcgrad.gradient(f, *args, False)[:len(args)]
    for optimize in (True, "greedy", "optimal", path):
        for got, expected in zip(srcgrad.gradient(f, *args, optimize)[:len(args)], want):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call, shapes", cases(FORMS))
def test_the_value_is_einsums_exactly(call, shapes, tmp_path):
    """The forward srcgrad generates (reverse and forward mode) computes the call as NumPy does, bit for bit."""
    f = define(tmp_path, f"def f({names(shapes)}):\n    return {call}\n")
    args = inputs(shapes, 0)
    want = f(*args)
    y, _ = srcgrad.pullback(f, *args)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(srcgrad.jvp(f, args, args)[0], want)
    if "'" in call and "optimize" not in call:
        subscripts = call.split("'")[1]
        np.testing.assert_array_equal(einsum_by_matmul(subscripts, *args), want)


@pytest.mark.parametrize("call, shapes", cases([form for form in BROADCASTS if "Ellipsis" not in form[0]]))
def test_the_same_gradient_as_autograd(call, shapes, tmp_path):
    pytest.importorskip("autograd")
    import autograd
    import autograd.numpy as anp

    body = f"    return np.sum(np.sin({call}))\n"
    f = define(tmp_path, f"def f({names(shapes)}):\n{body}")
    theirs = {}
    exec(f"def f({names(shapes)}):\n{body}", {"np": anp}, theirs)
    args = inputs(shapes, 3)
    want = autograd.grad(theirs["f"], list(range(len(args))))(*args)
    for got, expected in zip(srcgrad.gradient(f, *args), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_a_diagonal_keeps_the_dtype(dtype, tmp_path):
    """The identity matrices that place a diagonal's gradient are booleans: they promote nothing."""
    f = define(tmp_path, "def f(a, b):\n    return np.sum(np.real(np.einsum('ii,ij->j', a, b)))\n")
    a, b = (np.ones(s, dtype) for s in ((3, 3), (3, 2)))
    da, db = srcgrad.gradient(f, a, b)
    assert da.dtype == dtype and db.dtype == dtype
    np.testing.assert_array_equal(da, 2 * np.eye(3))


def test_an_einsum_with_every_letter_used_refuses_at_the_users_line(tmp_path):
    """52 letters in use and one repeated: no spare letter names the diagonal's second axis."""
    f = define(tmp_path, f"def f(a):\n    return np.einsum('{string.ascii_letters}a->', a)\n")
    with pytest.raises(srcgrad.NoRuleError, match="52 letters") as excinfo:
        srcgrad.gradient(f, np.ones((1,) * 53))
    assert str(tmp_path) in excinfo.value.filename and "np.diagonal" in str(excinfo.value)
