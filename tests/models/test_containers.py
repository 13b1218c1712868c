"""Containers (srcgrad/models/layers.py): SkipConnection and Parallel, and how models print.

Values are checked against a plain-loop reference (and PyTorch where it is
installed), gradients against central differences, forward mode against the
reverse gradient, second order against differences of the gradient.
"""

import doctest

import numpy as np
import pytest

import srcgrad
from srcgrad.models import Chain, Dense, functor, load, mse, relu, save, tanh
from srcgrad.models import layers as layers_module
from srcgrad.models.functor import leaves, mirror
from srcgrad.models.layers import Parallel, SkipConnection, show

from gradcheck import check_gradient, numerical_gradient
from .modelcheck import check_model_gradient

RNG = np.random.default_rng(19)


def concat(a, b):
    return np.concatenate([a, b], axis=-1)


def dense(n_in, n_out, activation=None, seed=0):
    layer = Dense(n_in, n_out, rng=seed) if activation is None else Dense(n_in, n_out, activation, rng=seed)
    layer.b[:] = np.random.default_rng(seed + 100).normal(size=n_out)  # (not zero, so b's gradient is tested)
    return layer


def naive_dense(layer, x):
    """``layer(x)`` for one sample, as loops."""
    out = np.zeros(layer.W.shape[0])
    for i in range(layer.W.shape[0]):
        total = layer.b[i]
        for j in range(layer.W.shape[1]):
            total += layer.W[i, j] * x[j]
        out[i] = total
    return layer.activation(out)


def rows(fn, x):
    """``fn`` applied to each row of a batch, stacked: the reference for batched layers."""
    return np.stack([fn(row) for row in x])


# ---------------------------------------------------------------------------------------------- values


def test_skip_connection_is_connection_of_layer_and_input():
    inner = dense(3, 3, tanh, seed=1)
    x = RNG.normal(size=(4, 3))
    block = SkipConnection(inner, np.add)
    np.testing.assert_allclose(block(x), rows(lambda r: naive_dense(inner, r) + r, x), rtol=1e-13)
    stacked = SkipConnection(dense(3, 2, seed=2), concat)
    assert stacked(x).shape == (4, 5)
    np.testing.assert_array_equal(stacked(x)[:, 2:], x)
    np.testing.assert_allclose(stacked(x[0]), np.concatenate([naive_dense(stacked.layers, x[0]), x[0]]), rtol=1e-13)
    assert block.layers is inner and block.connection is np.add  # (Flux's field names)


def test_parallel_one_input_goes_to_every_branch():
    a, b = dense(3, 2, seed=1), dense(3, 4, relu, seed=2)
    x = RNG.normal(size=(5, 3))
    model = Parallel(concat, a, b)
    np.testing.assert_allclose(model(x), rows(lambda r: np.concatenate([naive_dense(a, r), naive_dense(b, r)]), x),
                               rtol=1e-13)
    np.testing.assert_array_equal(model((x,)), model(x))  # (a tuple of one input is that input, as in Flux)
    three = Parallel(lambda p, q, r: p * q - r, lambda x: x + 1, np.sin, np.cos)
    np.testing.assert_allclose(three(x), (x + 1) * np.sin(x) - np.cos(x))


def test_parallel_tuple_of_inputs_is_spread_over_the_branches():
    a, b = dense(3, 2, seed=1), dense(1, 2, seed=2)
    x, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 1))
    np.testing.assert_allclose(Parallel(np.add, a, b)((x, y)), a(x) + b(y), rtol=1e-15)
    single = Parallel(lambda *ys: np.stack(ys), a)  # one branch takes each input in turn
    np.testing.assert_allclose(single((x, x * 2, x * 3)), np.stack([a(x), a(2 * x), a(3 * x)]))
    # A Chain hands a tuple from the layer before to the branches.
    split = Chain(lambda x: (x[:, :3], x[:, 3:]), Parallel(np.add, a, b))
    np.testing.assert_allclose(split(np.concatenate([x, y], axis=1)), a(x) + b(y), rtol=1e-15)


def test_parallel_indexing_len_iteration():
    a, b, c = dense(2, 2, seed=1), dense(2, 2, seed=2), dense(2, 2, seed=3)
    model = Parallel(np.add, a, b, c)
    assert len(model) == 3 and model[0] is a and model[-1] is c and list(model) == [a, b, c]
    head = model[:2]
    assert isinstance(head, Parallel) and head.layers == [a, b] and head.connection is np.add
    x = RNG.normal(size=2)
    np.testing.assert_allclose(head(x), a(x) + b(x))


def test_float32_stays_float32():
    x = RNG.normal(size=(4, 3)).astype(np.float32)
    half = lambda h: h * 0.5
    assert SkipConnection(half, np.add)(x).dtype == np.float32
    assert Parallel(concat, half, np.tanh)(x).dtype == np.float32
    layer = dense(3, 3, seed=1)
    layer.W, layer.b = layer.W.astype(np.float32), layer.b.astype(np.float32)
    model = Chain(SkipConnection(layer, np.add), Parallel(np.add, layer, half))
    assert model(x).dtype == np.float32
    (g,) = srcgrad.gradient(lambda x: np.sum(model(x)), x)
    assert g.dtype == np.float32
    # With Dense's float64 weights, the container gives what its layers give, as Dense does.
    assert SkipConnection(dense(3, 3), np.add)(x).dtype == dense(3, 3)(x).dtype


# ------------------------------------------------------------------------------------------ gradients

def loss(m, x):
    return np.sum(np.tanh(m(x)) ** 2)


class Mix:
    """A connection with a parameter of its own: ``alpha * y + (1 - alpha) * x``."""

    def __init__(self):
        self.alpha = np.array([0.3, 0.6, 0.8])

    def __call__(self, y, x):
        return self.alpha * y + (1 - self.alpha) * x


SKIPS = {
    "weighted": lambda: SkipConnection(dense(3, 3, tanh, seed=5), Mix()),
    "residual": lambda: SkipConnection(Chain(dense(3, 4, relu, seed=1), dense(4, 3, seed=2)), np.add),
    "stacked": lambda: SkipConnection(dense(3, 2, tanh, seed=3), concat),
    "gated": lambda: SkipConnection(dense(3, 3, seed=4), lambda y, x: y * x),
}
PARALLELS = {
    "concat": lambda: Parallel(concat, dense(3, 2, seed=1), Chain(dense(3, 4, relu, seed=2), dense(4, 1, seed=3))),
    "sum of three": lambda: Parallel(lambda a, b, c: a + b * c, dense(3, 2, seed=4), dense(3, 2, tanh, seed=5),
                                     dense(3, 2, seed=6)),
    "one branch": lambda: Parallel(lambda a: 2.0 * a, dense(3, 2, seed=7)),
}


@pytest.mark.parametrize("shape", [(3,), (5, 3)])
@pytest.mark.parametrize("name", sorted(SKIPS))
def test_skip_connection_gradient(name, shape):
    model = SKIPS[name]()
    grads = check_model_gradient(loss, model, RNG.normal(size=shape))
    assert (grads[0]["connection"] is None) == (name != "weighted")


@pytest.mark.parametrize("shape", [(3,), (5, 3)])
@pytest.mark.parametrize("name", sorted(PARALLELS))
def test_parallel_gradient(name, shape):
    check_model_gradient(loss, PARALLELS[name](), RNG.normal(size=shape))


def test_parallel_gradient_with_a_tuple_of_inputs():
    model = Parallel(concat, dense(3, 2, tanh, seed=1), dense(2, 2, seed=2))
    x, y = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    check_model_gradient(lambda m, x, y: loss(m, (x, y)), model, x, y)
    single = Parallel(np.multiply, dense(3, 2, seed=3))
    check_model_gradient(lambda m, x, y: loss(m, (x, y)), single, x, RNG.normal(size=(4, 3)))


def block(seed):
    return SkipConnection(Chain(dense(3, 3, tanh, seed=seed), dense(3, 3, seed=seed + 1)), np.add)


def test_chain_of_containers_gradient():
    model = Chain(dense(2, 3, seed=3), block(1), Parallel(concat, block(6), dense(3, 1, seed=4)), dense(4, 1, seed=5))
    x, y = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 1))
    grads = check_model_gradient(lambda m, x, y: mse(m(x), y), model, x, y)
    g = grads[0]["layers"]
    assert set(g[1]) == {"layers", "connection"} and set(g[2]) == {"connection", "layers"}


def test_a_block_used_twice_gets_the_sum_of_its_two_gradients():
    # The structural gradient has one entry per path (as Zygote's): each use of the shared block gets
    # what flowed through it, and the derivative in its weights is the sum.
    shared = block(1)
    model = Chain(shared, Parallel(concat, shared, dense(3, 1, seed=4)))
    x = RNG.normal(size=(5, 3))
    (g, _) = srcgrad.gradient(loss, model, x)
    first, second = g["layers"][0]["layers"]["layers"], g["layers"][1]["layers"][0]["layers"]["layers"]
    for i, layer in enumerate(shared.layers.layers):
        for field in ("W", "b"):
            def in_weights(w):
                keep = getattr(layer, field)
                setattr(layer, field, w)
                try:
                    return loss(model, x)
                finally:
                    setattr(layer, field, keep)
            expected = numerical_gradient(in_weights, (getattr(layer, field),), 0)
            np.testing.assert_allclose(first[i][field] + second[i][field], expected, rtol=1e-5, atol=1e-6)


def test_srcgrad_forward_value_is_the_plain_call():
    model = Chain(SKIPS["residual"](), PARALLELS["concat"]())
    x = RNG.normal(size=(4, 3))
    y, back = srcgrad.pullback(lambda m, x: m(x), model, x)
    np.testing.assert_array_equal(y, model(x))
    value, _ = srcgrad.withgradient(loss, model, x)
    assert value == loss(model, x)


def test_forward_mode_matches_reverse():
    model = Chain(SKIPS["residual"](), SKIPS["weighted"](), PARALLELS["sum of three"]())
    x = RNG.normal(size=(4, 3))
    t = RNG.normal(size=x.shape)
    y, dy = srcgrad.jvp(lambda x: loss(model, x), (x,), (t,))
    grad_m, grad_x = srcgrad.gradient(loss, model, x)
    assert y == loss(model, x)
    np.testing.assert_allclose(dy, np.sum(grad_x * t), rtol=1e-10)
    # And in the parameters: a tangent shaped as the structural gradient.
    tangent = mirror(lambda a: RNG.normal(size=a.shape), model)
    _, dy = srcgrad.jvp(lambda m: loss(m, x), (model,), (tangent,))
    expected = sum(np.sum(_at(grad_m, path) * _at(tangent, path)) for path, _ in leaves(model))
    np.testing.assert_allclose(dy, expected, rtol=1e-10)


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def test_second_order_through_containers():
    model = Chain(SKIPS["residual"](), PARALLELS["sum of three"]())
    x = RNG.normal(size=3)
    f = lambda x: loss(model, x)
    hessian = srcgrad.hessian(f, x)
    grad = lambda x: srcgrad.gradient(f, x)[0]
    expected = np.stack([numerical_gradient(lambda x: grad(x)[i], (x,), 0) for i in range(3)])
    np.testing.assert_allclose(hessian, expected, rtol=1e-5, atol=1e-6)
    # Reverse over reverse too.
    check_gradient(lambda x: np.sum(srcgrad.gradient(f, x)[0] ** 2), x)


# ----------------------------------------------------------------------------------------- bad input

def test_constructors_refuse_what_is_not_a_layer():
    with pytest.raises(TypeError, match=r"SkipConnection\(layers, connection\): the connection should be a "
                                        r"callable of two arguments, such as np.add, not str '\+'"):
        SkipConnection(dense(2, 2), "+")
    with pytest.raises(TypeError, match=r"the layers should be a callable, not ndarray"):
        SkipConnection(np.ones(2), np.add)
    with pytest.raises(ValueError, match=r"Parallel\(connection, \*layers\) needs at least one layer"):
        Parallel(np.add)
    with pytest.raises(TypeError, match=r"Parallel\(connection, \*layers\): the layer 1 should be a callable, not int"):
        Parallel(np.add, dense(2, 2), 3)
    with pytest.raises(TypeError, match=r"the connection should be a callable of 2 arguments, not ndarray"):
        Parallel(np.ones(2), dense(2, 2), np.sin)
    with pytest.raises(TypeError, match=r"the connection should be a callable of 1 argument, not str"):
        Parallel("cat", dense(2, 2))


def test_parallel_refuses_a_tuple_of_the_wrong_length():
    model = Parallel(lambda a, b, c: a + b + c, dense(2, 2), dense(2, 2), dense(2, 2))
    x = RNG.normal(size=2)
    message = (r"Parallel\(<lambda>, Dense\(2, 2\), Dense\(2, 2\), Dense\(2, 2\)\) has 3 branches: it takes one input "
               r"for all of them or a tuple of 3 inputs, one per branch, not a tuple of 2")
    with pytest.raises(ValueError, match=message):
        model((x, x))
    with pytest.raises(ValueError, match=message):
        srcgrad.gradient(lambda x: np.sum(model((x, x))), x)
    with pytest.raises(ValueError, match="not a tuple of 0"):
        model(())


# ------------------------------------------------------------------------------------------ printing

def test_nested_containers_print_every_layer_and_a_total():
    block = SkipConnection(Chain(Dense(2, 4, relu), Dense(4, 2)), np.add)
    model = Chain(Dense(3, 2), block, Parallel(concat, Dense(2, 3), Chain(Dense(2, 1), tanh)))
    assert repr(model) == (
        "Chain(\n"
        "  Dense(3, 2),            # 8 parameters\n"
        "  SkipConnection(\n"
        "    Chain(\n"
        "      Dense(2, 4, relu),  # 12 parameters\n"
        "      Dense(4, 2),        # 10 parameters\n"
        "    ),\n"
        "    add,\n"
        "  ),\n"
        "  Parallel(\n"
        "    concat,\n"
        "    Dense(2, 3),          # 9 parameters\n"
        "    Chain(\n"
        "      Dense(2, 1),        # 3 parameters\n"
        "      tanh,\n"
        "    ),\n"
        "  ),\n"
        ")                         # Total: 10 arrays, 42 parameters, 336 bytes."
    )


def test_containers_print_totals_on_their_own():
    assert repr(SkipConnection(Dense(2, 2), np.add)) == (
        "SkipConnection(\n"
        "  Dense(2, 2),   # 6 parameters\n"
        "  add,\n"
        ")                # Total: 2 arrays, 6 parameters, 48 bytes."
    )
    assert repr(Parallel(np.add, Dense(1, 2))).splitlines()[-1].endswith("# Total: 2 arrays, 4 parameters, 32 bytes.")


def test_containers_of_functions_print_on_one_line():
    assert repr(SkipConnection(relu, np.multiply)) == "SkipConnection(relu, multiply)"
    assert repr(Parallel(concat, np.sin, tanh)) == "Parallel(concat, sin, tanh)"
    assert Parallel(np.add, Chain(Dense(2, 3), relu), Dense(2, 3)).signature() == \
        "Parallel(add, Chain(Dense(2, 3), relu), Dense(2, 3))"
    assert SkipConnection(Dense(2, 2, tanh), concat).signature() == "SkipConnection(Dense(2, 2, tanh), concat)"


def test_dense_and_chain_print_as_before():
    assert repr(Dense(2, 16, relu)) == "Dense(2, 16, relu)  # 48 parameters"
    assert repr(Chain(Dense(2, 16, relu), Dense(16, 1))) == (
        "Chain(\n"
        "  Dense(2, 16, relu),  # 48 parameters\n"
        "  Dense(16, 1),        # 17 parameters\n"
        ")                      # Total: 4 arrays, 65 parameters, 520 bytes."
    )


class Affine:
    def __init__(self):
        self.W, self.b = np.ones((2, 3)), np.zeros(2)

    def __call__(self, x):
        return self.W @ x + self.b


@functor("encoder", "decoder")
class AutoEncoder:
    def __init__(self):
        self.encoder = Dense(4, 2)
        self.decoder = Chain(Dense(2, 4), np.tanh)
        self.frozen = Dense(4, 4)
        self.steps = np.zeros(3, dtype=int)
        self.name = "ae"
        self.training = True

    def __call__(self, x):
        return self.decoder(self.encoder(x))


def test_own_classes_print_their_name_or_open_up():
    assert repr(Chain(Affine(), relu)) == (
        "Chain(\n"
        "  Affine,  # 8 parameters\n"
        "  relu,\n"
        ")          # Total: 2 arrays, 8 parameters, 64 bytes."
    )
    # A class holding layers opens up, field by field; the fields its @functor leaves out hold no
    # parameters, and the arrays that are not parameters are counted apart.
    assert show(AutoEncoder()) == (
        "AutoEncoder(\n"
        "  encoder = Dense(4, 2),       # 10 parameters\n"
        "  decoder = Chain(\n"
        "    Dense(2, 4),               # 12 parameters\n"
        "    tanh,\n"
        "  ),\n"
        "  frozen = Dense(4, 4),        # 20 non-trainable\n"
        "  steps = array((3,), int64),  # 3 non-trainable\n"
        ")                              # Total: 4 trainable arrays, 22 parameters, 176 bytes,\n"
        "                               # plus 3 non-trainable, 23 numbers, 184 bytes."
    )


def test_lists_and_dicts_of_layers_open_up():
    class Blocks:
        def __init__(self):
            self.stages = [Dense(2, 2), SkipConnection(Dense(2, 2), np.add)]
            self.heads = {"mean": Dense(2, 1), "scale": Dense(2, 1)}

    assert show(Blocks()) == (
        "Blocks(\n"
        "  stages = [\n"
        "    Dense(2, 2),           # 6 parameters\n"
        "    SkipConnection(\n"
        "      Dense(2, 2),         # 6 parameters\n"
        "      add,\n"
        "    ),\n"
        "  ],\n"
        "  heads = {\n"
        "    'mean': Dense(2, 1),   # 3 parameters\n"
        "    'scale': Dense(2, 1),  # 3 parameters\n"
        "  },\n"
        ")                          # Total: 8 arrays, 18 parameters, 144 bytes."
    )


def test_layers_docstrings_run():
    assert doctest.testmod(layers_module, optionflags=doctest.ELLIPSIS).failed == 0


# -------------------------------------------------------------------------------------- save and load

def test_save_load_round_trip(tmp_path):
    def make(seed):
        block = SkipConnection(Chain(dense(3, 3, tanh, seed=seed), dense(3, 3, seed=seed + 1)), np.add)
        return Chain(block, Parallel(concat, dense(3, 2, seed=seed + 2), block))

    a, b = make(1), make(10)
    x = RNG.normal(size=(4, 3))
    assert not np.allclose(a(x), b(x))
    save(tmp_path / "model.npz", a)
    assert load(tmp_path / "model.npz", b) is b
    np.testing.assert_array_equal(a(x), b(x))
    assert b[1][1] is b[0], "the shared block is still one object"
    with pytest.raises(ValueError, match="cannot load"):
        load(tmp_path / "model.npz", Chain(make(1)[0]))


# ------------------------------------------------------------------------------------------- PyTorch

def test_against_pytorch():
    torch = pytest.importorskip("torch")

    def linear(layer):
        module = torch.nn.Linear(layer.W.shape[1], layer.W.shape[0]).double()
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(layer.W))
            module.bias.copy_(torch.from_numpy(layer.b))
        return module

    d1, d2, d3, d4 = dense(3, 4, relu, seed=1), dense(4, 3, seed=2), dense(3, 2, seed=3), dense(3, 5, seed=4)
    model = Chain(SkipConnection(Chain(d1, d2), np.add), Parallel(concat, d3, d4))
    t1, t2, t3, t4 = (linear(d) for d in (d1, d2, d3, d4))

    def reference(x):
        h = t2(torch.relu(t1(x))) + x
        return torch.cat([t3(h), t4(h)], dim=-1)

    x = RNG.normal(size=(6, 3))
    target = RNG.normal(size=(6, 7))
    xt = torch.tensor(x, requires_grad=True)
    out = reference(xt)
    torch.mean((out - torch.from_numpy(target)) ** 2).backward()
    np.testing.assert_allclose(model(x), out.detach().numpy(), rtol=0, atol=1e-10)
    grad_m, grad_x = srcgrad.gradient(lambda m, x: mse(m(x), target), model, x)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=1e-10)
    branches = grad_m["layers"]
    for got, module in [(branches[0]["layers"]["layers"][0], t1), (branches[0]["layers"]["layers"][1], t2),
                        (branches[1]["layers"][0], t3), (branches[1]["layers"][1], t4)]:
        np.testing.assert_allclose(got["W"], module.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(got["b"], module.bias.grad.numpy(), rtol=0, atol=1e-10)


def test_forward_mode_reaches_weights_of_a_called_field():
    # A callable held in a field (SkipConnection's layers and connection, Dense's activation) with
    # weights of its own: its tangent is the field's, not its owner's (see SkipConnection.__call__).
    layer = Dense(3, 3, rng=0)
    layer.activation = SkipConnection(dense(3, 3, seed=2), Mix())
    model = SkipConnection(layer, Mix())
    x = RNG.normal(size=(2, 3))
    tangent = mirror(lambda a: RNG.normal(size=a.shape), model)
    _, dy = srcgrad.jvp(lambda m: loss(m, x), (model,), (tangent,))
    (g, _) = srcgrad.gradient(loss, model, x)
    expected = sum(np.sum(_at(g, path) * _at(tangent, path)) for path, _ in leaves(model))
    np.testing.assert_allclose(dy, expected, rtol=1e-10)
