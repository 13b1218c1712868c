"""The rule for ``scipy.integrate.odeint`` (srcgrad/rules/scipy_integrate.py): analytic answers, finite differences,
autograd, forward mode, and what is refused."""

import linecache

import numpy as np
import pytest
from gradcheck import check_gradient, numerical_gradient

import srcgrad
from srcgrad.rules import registry
from srcgrad.rules import scipy_integrate as rules

from .specs import HEADER, Spec, keyword_variants, load, missing_specs, table_tests

integrate = pytest.importorskip("scipy.integrate")
pytest.importorskip("scipy.stats")  # (the third row's func, a density, has its rule there)
registry.load_optional_rules()

I = "scipy.integrate."
TIGHT = "rtol=1e-12, atol=1e-12"

#: ``func`` has to be something the table's snippets can name: ``np.multiply`` is ``y' = y t``; the
#: normal density, called ``pdf(y, t, b)``, is ``y' = φ((y - t) / b) / b``, with a parameter in ``args``.
SPECS = [
    Spec(integrate.odeint, I + f"odeint(np.multiply, a, np.linspace(0.0, 1.0, 4), {TIGHT})", [(1,), (3,)]),
    Spec(integrate.odeint, I + f"odeint(np.multiply, a, b * np.linspace(0.5, 1.0, 3), {TIGHT})", [((2,), ())],
         domain=("real", "pos")),
    Spec(integrate.odeint, I + f"odeint(scipy.stats.norm.pdf, a, np.linspace(0.0, 1.0, 3), (b,), {TIGHT})",
         [((2,), ())], domain=("real", "pos")),
]

test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(SPECS)

KEYWORD_SPECS = keyword_variants(SPECS)
(test_keyword_inline, test_keyword_dynamic, test_keyword_rule_shapes, test_keyword_forward,
 test_keyword_forward_dynamic) = table_tests(KEYWORD_SPECS)


def module(tmp_path, source):
    """The module ``source`` defines, written to a real file (srcgrad reads source), with ``np`` and ``srcgrad``."""
    return load(tmp_path, HEADER + "\n\n" + source)


def test_every_scipy_integrate_rule_has_a_spec():
    assert missing_specs(SPECS, "srcgrad.rules.scipy_integrate") == []


# ------------------------------------------------------------------ against the exact solution

DECAY = """\
import scipy.integrate

T = np.linspace(0.0, 2.0, 5)


def decay(y, t, k):
    return -k * y


def last(y0, k):
    return scipy.integrate.odeint(decay, y0, T, args=(k,), rtol=1e-12, atol=1e-12)[-1, 0]


def whole(y0, k):
    return np.sum(scipy.integrate.odeint(decay, y0, T, args=(k,), rtol=1e-12, atol=1e-12))


def ends(y0, t0, t1):
    return scipy.integrate.odeint(decay, y0, np.array([t0, 1.0, t1]), args=(0.7,), rtol=1e-12, atol=1e-12)[-1, 0]


def backwards_in_time(y0, k, t1):
    return scipy.integrate.odeint(decay, y0, np.array([2.0, 1.0, t1]), args=(k,), rtol=1e-12, atol=1e-12)[-1, 0]
"""

T = np.linspace(0.0, 2.0, 5)


@pytest.mark.parametrize("y0, k", [(1.5, 0.7), (-0.4, 2.0)])
def test_decay_against_the_exact_solution(y0, k, tmp_path):
    """y' = -k y: y(t) = y0 exp(-k t), so the last point's gradient is (exp(-k t), -t y0 exp(-k t)), summed for all."""
    m = module(tmp_path, DECAY)
    dy0, dk = srcgrad.gradient(m.last, np.array([y0]), k)
    np.testing.assert_allclose(dy0, [np.exp(-k * 2.0)], rtol=1e-9)
    np.testing.assert_allclose(dk, -2.0 * y0 * np.exp(-k * 2.0), rtol=1e-9)
    dy0, dk = srcgrad.gradient(m.whole, np.array([y0]), k)
    np.testing.assert_allclose(dy0, [np.sum(np.exp(-k * T))], rtol=1e-9)
    np.testing.assert_allclose(dk, np.sum(-T * y0 * np.exp(-k * T)), rtol=1e-9)


def test_times_against_the_exact_solution(tmp_path):
    """y(t1) = y0 exp(-k (t1 - t0)): d/dt1 = -k y(t1), d/dt0 = k y(t1); the time in between moves nothing."""
    m = module(tmp_path, DECAY)
    y1 = 1.5 * np.exp(-0.7 * 2.5)
    dy0, dt0, dt1 = srcgrad.gradient(m.ends, np.array([1.5]), -0.5, 2.0)
    np.testing.assert_allclose([dy0[0], dt0, dt1], [y1 / 1.5, 0.7 * y1, -0.7 * y1], rtol=1e-9)
    _, tangent = srcgrad.jvp(m.ends, (np.array([1.5]), -0.5, 2.0), (np.array([0.0]), 1.0, 1.0))
    np.testing.assert_allclose(tangent, 0.0, atol=1e-9)
    y1 = 1.5 * np.exp(0.7 * 2.0)  # (t falling, from 2 to 0)
    dy0, dk, dt1 = srcgrad.gradient(m.backwards_in_time, np.array([1.5]), 0.7, 0.0)
    np.testing.assert_allclose([dy0[0], dk, dt1], [y1 / 1.5, 2.0 * y1, -0.7 * y1], rtol=1e-9)


# ------------------------------------------------------------------ a nonlinear system, against differences

LOTKA_VOLTERRA = """\
import scipy.integrate

T = np.linspace(0.0, 3.0, 7)


def predator_prey(z, t, a, b, c, d):
    x, y = z
    return [a * x - b * x * y, -c * y + d * x * y]


def trajectory(z0, a, b):
    return scipy.integrate.odeint(predator_prey, z0, T, args=(a, b, 1.5, 0.75), rtol=1e-12, atol=1e-12)


def whole(z0, a, b):
    return np.sum(trajectory(z0, a, b) ** 2)


def last(z0, a, b):
    return trajectory(z0, a, b)[-1, 1]
"""

POINTS = [(np.array([1.0, 0.5]), 1.1, 0.4), (np.array([0.6, 1.2]), 0.8, 0.7)]


@pytest.mark.parametrize("z0, a, b", POINTS)
@pytest.mark.parametrize("loss", ["whole", "last"])
def test_lotka_volterra_against_differences(loss, z0, a, b, tmp_path):
    """The initial state and two parameters in ``args``, for a loss of the whole trajectory and of its last point.

    (Differences with a step of 1e-6 of a solution good to 1e-12 are good to about 1e-6: the tolerance is theirs.)
    """
    check_gradient(getattr(module(tmp_path, LOTKA_VOLTERRA), loss), z0, a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("z0, a, b", POINTS)
def test_lotka_volterra_forward_mode(z0, a, b, tmp_path):
    """jvp of the trajectory against central differences, and against reverse mode (<jvp(v), w> = <v, vjp(w)>)."""
    m = module(tmp_path, LOTKA_VOLTERRA)
    rng = np.random.default_rng(3)
    v = (rng.standard_normal(2), float(rng.standard_normal()), float(rng.standard_normal()))
    ys, tangent = srcgrad.jvp(m.trajectory, (z0, a, b), v)
    np.testing.assert_array_equal(ys, m.trajectory(z0, a, b))
    eps = 1e-4
    ahead = m.trajectory(z0 + eps * v[0], a + eps * v[1], b + eps * v[2])
    behind = m.trajectory(z0 - eps * v[0], a - eps * v[1], b - eps * v[2])
    np.testing.assert_allclose(tangent, (ahead - behind) / (2 * eps), rtol=1e-6, atol=1e-7)
    w = rng.standard_normal(ys.shape)
    _, back = srcgrad.pullback(m.trajectory, z0, a, b)
    np.testing.assert_allclose(np.sum(tangent * w), sum(np.sum(g * d) for g, d in zip(back(w), v)), rtol=1e-9)


def test_lotka_volterra_agrees_with_autograd(tmp_path):
    """autograd's odeint rule (the same method, its own code) gives the same gradient."""
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    from autograd.builtins import tuple as boxed_tuple
    from autograd.scipy.integrate import odeint as autograd_odeint

    def predator_prey(z, t, p):
        return anp.array([p[0] * z[0] - p[1] * z[0] * z[1], -p[2] * z[1] + p[3] * z[0] * z[1]])

    def theirs(z0, p):
        ys = autograd_odeint(predator_prey, z0, np.linspace(0.0, 3.0, 7), boxed_tuple((p,)), rtol=1e-12, atol=1e-12)
        return anp.sum(ys ** 2)

    m = module(tmp_path, LOTKA_VOLTERRA)
    for z0, a, b in POINTS:
        dz0, dp = autograd.grad(theirs, (0, 1))(z0, np.array([a, b, 1.5, 0.75]))
        for ours, theirs_ in zip(srcgrad.gradient(m.whole, z0, a, b), (dz0, dp[0], dp[1])):
            np.testing.assert_allclose(ours, theirs_, rtol=1e-8)


PENDULUM = """\
import scipy.integrate


def swing(y0, damping, pull):
    def pendulum(t, y):  # (tfirst=True: time first; the parameters captured)
        theta, omega = y[0], y[1]
        return np.array([omega, -damping * omega - pull * np.sin(theta)])

    ys = scipy.integrate.odeint(pendulum, y0, [0.0, 0.5, 1.0, 2.0], tfirst=True, rtol=1e-12, atol=1e-12)
    return np.sum(np.cos(ys[:, 0])) + ys[-1, 1] ** 2
"""


@pytest.mark.parametrize("y0, damping, pull", [(np.array([2.0, 0.0]), 0.25, 5.0), (np.array([0.3, 1.0]), 0.5, 2.0)])
def test_pendulum_parameters_in_a_closure(y0, damping, pull, tmp_path):
    """Parameters a closure captures get their gradients through func's own (a dict of what it captures)."""
    swing = module(tmp_path, PENDULUM).swing
    check_gradient(swing, y0, damping, pull)
    _, tangent = srcgrad.jvp(swing, (y0, damping, pull), (np.zeros(2), 1.0, 0.0))
    np.testing.assert_allclose(tangent, numerical_gradient(swing, [y0, damping, pull], 1, eps=1e-4), rtol=1e-6)


GLOBALS = """\
import scipy.integrate

A = np.array([[0.0, 1.0], [-1.0, -0.1]])


def linear(y, t):
    return A @ y


def f(y0, s):
    return np.sum(scipy.integrate.odeint(linear, s * y0, [0.0, 2.0], rtol=1e-12, atol=1e-12)[-1])
"""


def test_a_global_matrix_against_the_matrix_exponential(tmp_path):
    """y' = A y: y(2) = expm(2 A) y0, whatever func reads from its module."""
    linalg = pytest.importorskip("scipy.linalg")
    f = module(tmp_path, GLOBALS).f
    y0 = np.array([1.0, -0.5])
    dy0, ds = srcgrad.gradient(f, y0, 1.0)
    propagator = linalg.expm(2.0 * np.array([[0.0, 1.0], [-1.0, -0.1]]))
    np.testing.assert_allclose(dy0, np.ones(2) @ propagator, rtol=1e-9)
    np.testing.assert_allclose(ds, np.ones(2) @ propagator @ y0, rtol=1e-9)


BRANCH = """\
import scipy.integrate


def switched(y, t, k):
    if t < 1.0:
        return -k * y
    return -y


def f(y0, k):
    return scipy.integrate.odeint(switched, y0, np.linspace(0.0, 2.0, 5), args=(k,), rtol=1e-12, atol=1e-12)[-1, 0]
"""


def test_a_parameter_read_on_one_branch_only(tmp_path):
    """k acts before t = 1 only: the backward integration meets its gradient late, and starts again with room for it.

    y(2) = y0 exp(-k - 1), in both modes.
    """
    f = module(tmp_path, BRANCH).f
    dy0, dk = srcgrad.gradient(f, np.array([1.5]), 0.7)
    np.testing.assert_allclose([dy0[0], dk], [np.exp(-1.7), -1.5 * np.exp(-1.7)], rtol=1e-8)
    _, tangent = srcgrad.jvp(f, (np.array([1.5]), 0.7), (np.array([0.0]), 1.0))
    np.testing.assert_allclose(tangent, -1.5 * np.exp(-1.7), rtol=1e-8)


SHAPES = """\
import scipy.integrate


def decay(t, y, k):
    return -k * y


def scalar(y0, k):
    return scipy.integrate.odeint(decay, y0, [0.0, 2.0], (k,), tfirst=True, rtol=1e-12, atol=1e-12)[-1, 0]


def listed(a, b, k):
    return np.sum(scipy.integrate.odeint(decay, [a, b], [0.0, 2.0], (k,), tfirst=True, rtol=1e-12, atol=1e-12))


def passed(fn, y0, k):
    return np.sum(fn(decay, y0, np.array([0.0, 2.0]), (k,), None, 0, 0, None, None, 1e-12, 1e-12, tfirst=True))


def full(y0, k):
    ys, info = scipy.integrate.odeint(decay, y0, [0.0, 2.0], args=(k,), full_output=True, tfirst=True, rtol=1e-12,
                                      atol=1e-12)
    return ys[-1, 0]


def into_info(y0, k):
    ys, info = scipy.integrate.odeint(decay, y0, [0.0, 2.0], args=(k,), full_output=True, tfirst=True)
    return ys[-1, 0] + np.sum(info["hu"])
"""


def test_initial_states_and_calls_of_every_shape(tmp_path):
    """A float y0 gets a float, a list a list; odeint passed as a value, with arguments by position; full_output."""
    m = module(tmp_path, SHAPES)
    e = np.exp(-1.4)
    assert srcgrad.gradient(m.scalar, 1.5, 0.7) == pytest.approx((e, -2.0 * 1.5 * e), rel=1e-9)
    assert srcgrad.gradient(m.listed, 1.5, 0.5, 0.7) == pytest.approx((1.0 + e, 1.0 + e, -2.0 * 2.0 * e), rel=1e-9)
    fn, dy0, dk = srcgrad.gradient(m.passed, integrate.odeint, np.array([1.5]), 0.7)
    np.testing.assert_allclose([dy0[0], dk], [1.0 + e, -2.0 * 1.5 * e], rtol=1e-9)
    dy0, dk = srcgrad.gradient(m.full, np.array([1.5]), 0.7)
    np.testing.assert_allclose([dy0[0], dk], [e, -2.0 * 1.5 * e], rtol=1e-9)
    _, tangent = srcgrad.jvp(m.full, (np.array([1.5]), 0.7), (np.array([1.0]), 0.0))
    np.testing.assert_allclose(tangent, e, rtol=1e-9)


def test_the_gradients_of_a_call_come_from_one_integration(tmp_path, monkeypatch):
    """The row gives four gradients, each a pasted expression: the backward integration runs once for them all."""
    m = module(tmp_path, LOTKA_VOLTERRA)
    runs = []
    backwards = rules.backwards
    monkeypatch.setattr(rules, "backwards", lambda *args: runs.append(1) or backwards(*args))
    srcgrad.gradient(m.whole, *POINTS[0])
    assert len(runs) == 1


# ------------------------------------------------------------------ refused

def test_a_gradient_into_the_infodict_is_refused(tmp_path):
    into_info = module(tmp_path, SHAPES).into_info
    with pytest.raises(srcgrad.NoRuleError, match="infodict .* passes no gradient") as excinfo:
        srcgrad.gradient(into_info, np.array([1.5]), 0.7)
    assert excinfo.value.filename.startswith(str(tmp_path))


def test_a_failed_backward_integration_is_refused(tmp_path, monkeypatch):
    """Never an unconverged gradient: here the backward integration may take one step an interval."""
    f = module(tmp_path, DECAY).last
    monkeypatch.setattr(rules, "STEPS", 1)
    for differentiate, what in ((lambda: srcgrad.gradient(f, np.array([1.5]), 0.7), "backward"),
                                (lambda: srcgrad.jvp(f, (np.array([1.5]), 0.7), (np.ones(1), 0.0)), "tangent")):
        with pytest.raises(srcgrad.NoRuleError, match=f"the {what} integration .* failed") as excinfo:
            differentiate()
        assert excinfo.value.filename.startswith(str(tmp_path)) and "mxstep" in str(excinfo.value)


SECOND = """\
def gradient_of_gradient(y0, k):
    return np.sum(srcgrad.gradient(last, y0, k)[0])


def gradient_of_tangent(y0, k):
    return srcgrad.jvp(last, (y0, k), (np.ones(1), 0.0))[1]


def last_of(y0):
    return last(y0, 0.7)
"""


def test_second_derivatives_are_refused_at_the_line_that_asks(tmp_path):
    """In every combination of modes, a NoRuleError naming the user's line that asked, never a number."""
    m = module(tmp_path, DECAY + "\n\n" + SECOND)
    y0 = np.array([1.5])
    asked = [
        lambda: srcgrad.gradient(m.gradient_of_gradient, y0, 0.7),
        lambda: srcgrad.jvp(m.gradient_of_gradient, (y0, 0.7), (np.ones(1), 0.0)),
        lambda: srcgrad.gradient(m.gradient_of_tangent, y0, 0.7),
        lambda: srcgrad.jvp(m.gradient_of_tangent, (y0, 0.7), (np.ones(1), 0.0)),
        lambda: srcgrad.hessian(m.last_of, y0),
    ]
    for ask in asked:
        with pytest.raises(srcgrad.NoRuleError, match="first derivatives only") as excinfo:
            ask()
        assert excinfo.value.filename == __file__
        assert "lambda: srcgrad." in linecache.getline(__file__, excinfo.value.lineno)
        assert "(called in last" in str(excinfo.value) and "finite differences" in str(excinfo.value)

