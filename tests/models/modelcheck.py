"""Checking srcgrad's gradient with respect to a model's arrays against central differences.

``gradcheck.check_gradient`` perturbs float arguments and containers; a
layer is an object, so here each parameter array is perturbed in place
(and restored), and srcgrad's structural gradient is read at the same path.
"""

import numpy as np

import srcgrad
from gradcheck import check_gradient
from srcgrad.models.functor import leaves


def check_model_gradient(loss, model, *args, rtol=1e-5, atol=1e-6, eps=1e-6):
    """Assert ``gradient(loss, model, *args)`` matches finite differences for the model and float args."""
    grads = srcgrad.gradient(loss, model, *args)
    for path, array in leaves(model):
        got = grads[0]
        for key in path:
            got = got[key]
        expected = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            original = array[i]
            values = []
            for sign in (1, -1):
                array[i] = original + sign * eps
                values.append(float(loss(model, *args)))
            array[i] = original
            expected[i] = (values[0] - values[1]) / (2 * eps)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f"gradient at {path}")
    # The inputs too, through the shared helper, holding the model fixed.
    if len(args) == 1:
        check_gradient(lambda x: loss(model, x), *args, rtol=rtol, atol=atol)
    elif len(args) == 2:
        check_gradient(lambda x, y: loss(model, x, y), *args, rtol=rtol, atol=atol)
    return grads
