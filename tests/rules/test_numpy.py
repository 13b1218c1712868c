"""Rules for NumPy (srcgrad/rules/: elementwise, reductions, shapes, linalg, creation), checked against finite differences.

One :class:`~.specs.Spec` per way of calling a rule: functions, array
methods (``a.sum(axis=1)``) and properties (``a.T``), with their keyword
arguments, over scalars, vectors, matrices and broadcasting pairs.
"""

import numpy as np
import pytest
from gradcheck import check_gradient

import srcgrad
import srcgrad.rules
from srcgrad.calls.cache import adjoint_of

from .specs import Spec, check_second_order, define, keyword_variants, missing_specs, params, table_tests

try:
    import scipy.special
except ImportError:  # pragma: no cover - scipy is optional
    scipy = None

UNARY = [(), (3,), (2, 3)]
BINARY = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((3, 1), (4,)), ((2, 3), ()), ((), (3,)), ((2, 1, 3), (4, 1))]
MATMUL = [((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)), ((2, 3, 4), (4, 2)),
          ((2, 3, 4), (2, 4, 2)), ((3, 4), (2, 4, 2)), ((2, 1, 2, 3), (3, 3, 2))]


def functions(fn, name, domain, *calls):
    """One spec per ``(arguments, shapes)`` of ``name(...)``: ``("a, axis=1", [(3, 4)])``."""
    return [Spec(fn, f"{name}({arguments})", shapes, domain=domain) for arguments, shapes in calls]


def methods(method, domain, *calls):
    """One spec per ``(arguments, shapes)`` of ``a.method(...)``."""
    return [Spec(method, f"a.{method}({arguments})", shapes, domain=domain, kind="method")
            for arguments, shapes in calls]


#: Every axis/keepdims a reduction takes, on the shapes where it makes sense.
REDUCTIONS = [
    ("", [(), (4,), (3, 4)]),
    ("axis=0", [(4,), (3, 4)]),
    ("axis=1, keepdims=True", [(3, 4), (2, 3, 4)]),
    ("axis=-1", [(3, 4), (2, 3, 4)]),
    ("axis=(0, 2)", [(2, 3, 4)]),
    ("axis=(0, 1), keepdims=True", [(3, 4)]),
    ("axis=None, keepdims=True", [(3, 4)]),
]


def reductions(fn, name, domain="real", extra=""):
    calls = [(", ".join(p for p in ("a", kwargs, extra) if p), shapes) for kwargs, shapes in REDUCTIONS]
    calls.append(("a, 1" + (", " + extra if extra else ""), [(3, 4)]))   # the axis given positionally
    return functions(fn, name, domain, *calls)


def method_reductions(method, domain="real", extra=""):
    calls = [(", ".join(p for p in (kwargs, extra) if p), [s if s != () else "0d" for s in shapes])
             for kwargs, shapes in REDUCTIONS]
    calls.append(("0" + (", " + extra if extra else ""), [(3, 4)]))
    return methods(method, domain, *calls)


ELEMENTWISE_UNARY = [
    (np.negative, "real"), (np.positive, "real"), (np.exp, "real"), (np.exp2, "real"), (np.expm1, "real"),
    (np.log, "pos"), (np.log2, "pos"), (np.log10, "pos"), (np.log1p, "pos"), (np.sqrt, "pos"),
    (np.cbrt, "nonzero"), (np.square, "real"), (np.reciprocal, "nonzero"), (np.sin, "real"), (np.cos, "real"),
    (np.tan, "unit"), (np.tanh, "real"), (np.sinh, "real"), (np.cosh, "real"), (np.arcsin, "unit"),
    (np.arccos, "unit"), (np.arctan, "real"), (np.arcsinh, "real"), (np.arctanh, "unit"), (np.abs, "nonzero"),
    (np.fabs, "nonzero"),
    # (complex numbers: tests/test_complex.py; these rows check the real case)
    (np.real, "real"), (np.imag, "real"), (np.conj, "real"), (np.angle, "nonzero"),
]

ELEMENTWISE_BINARY = [
    (np.add, "real"), (np.subtract, "real"), (np.multiply, "real"), (np.divide, ("real", "nonzero")),
    (np.power, "pos"), (np.maximum, "real"), (np.minimum, "real"), (np.fmax, "real"), (np.fmin, "real"),
    (np.arctan2, ("real", "nonzero")), (np.hypot, "nonzero"), (np.logaddexp, "real"),
]

SPECS = [
    *[Spec(fn, f"np.{fn.__name__}(a)", UNARY, domain=domain) for fn, domain in ELEMENTWISE_UNARY],
    *[Spec(fn, f"np.{fn.__name__}(a, b)", BINARY, domain=domain) for fn, domain in ELEMENTWISE_BINARY],
    Spec(np.power, "np.power(a, 3)", UNARY),
    Spec(np.where, "np.where(a > b, a, b)", BINARY),
    Spec(np.where, "np.where(c > 0, a, b)", [((4,), (), (3, 1)), ((2, 3), (2, 3), (2, 3))]),

    # reductions
    *reductions(np.sum, "np.sum"),
    # What generated forwards call for np.sum(a): np.add.reduce for an array, np.sum for the rest.
    *reductions(srcgrad.rules.reductions.array_sum, "srcgrad.rules.reductions.array_sum"),
    *reductions(np.mean, "np.mean"),
    *reductions(np.prod, "np.prod", "nonzero"),
    *reductions(np.max, "np.max"),
    *reductions(np.min, "np.min"),
    *reductions(np.var, "np.var"),
    *reductions(np.var, "np.var", extra="ddof=1")[1:3],
    *reductions(np.std, "np.std"),
    *reductions(np.std, "np.std", extra="ddof=1")[1:3],
    *functions(np.cumsum, "np.cumsum", "real", ("a", [(4,), (3, 4)]), ("a, axis=0", [(3, 4)]),
               ("a, axis=-1", [(2, 3, 4)]), ("a, 1", [(3, 4)])),
    *functions(np.trace, "np.trace", "real", ("a", [(3, 3), (3, 4)]), ("a, 1", [(3, 4)]),
               ("a, offset=-1", [(4, 3)])),

    # products
    Spec(np.matmul, "np.matmul(a, b)", MATMUL),
    Spec(np.dot, "np.dot(a, b)", MATMUL[:5] + [((), (3,)), ((3, 2), ()), ((2, 3, 4), (2, 4, 3)), ((4,), (2, 4, 3))]),
    Spec(np.outer, "np.outer(a, b)", [((3,), (4,)), ((2, 2), (3,)), ((), (3,))]),
    Spec(np.inner, "np.inner(a, b)", [((4,), (4,)), ((3, 4), (4,)), ((3, 4), (2, 4)), ((), (3,)), ((2, 3), ()),
                                      ((2, 2, 3), (4, 3))]),
    *functions(np.tensordot, "np.tensordot", "real",
               ("a, b", [((2, 3, 4), (3, 4, 2)), ((3, 4), (3, 4))]),
               ("a, b, 1", [((3, 4), (4, 2)), ((2, 3, 4), (4, 3))]),
               ("a, b, 0", [((3,), (2,))]),
               ("a, b, axes=([1, 0], [0, 2])", [((3, 2, 4), (2, 4, 3))]),
               ("a, b, axes=(2, 0)", [((2, 3, 4), (4, 2))]),
               ("a, b, axes=([-1], [1])", [((2, 3), (4, 3))])),
    *functions(np.einsum, "np.einsum", "real",
               ("'ij,jk->ik', a, b", [((3, 4), (4, 2))]),
               ("'kij,nkj->nki', a, b, optimize=True", [((2, 3, 3), (4, 2, 3))]),
               ("'ij,jk', a, b", [((3, 4), (4, 2))]),
               ("'ij->ji', a", [(3, 4)]),
               ("'ij->j', a", [(3, 4)]),
               ("'ij->', a", [(3, 4)]),
               ("'i,i->', a, b", [((4,), (4,))]),
               ("'i,j->ij', a, b", [((3,), (4,))]),
               ("'ij,ij->ij', a, b", [((3, 4), (3, 4))]),
               ("'ijk,ik->j', a, b", [((2, 3, 4), (2, 4))]),
               ("'ij,k->i', a, b", [((3, 4), (2,))]),
               ("'bij,bjk->bik', a, b", [((2, 3, 4), (2, 4, 2))]),
               ("'ij,jk,k->i', a, b, c", [((2, 3), (3, 4), (4,))]),
               ("'i j , j -> i', a, b", [((3, 4), (4,))]),
               # a letter repeated within one operand: its diagonal
               ("'ii->', a", [(3, 3)]),
               ("'ii->i', a", [(3, 3)]),
               ("'ii', a", [(3, 3)]),
               ("'bii->b', a", [(2, 3, 3)]),
               ("'iij->j', a", [(3, 3, 2)]),
               ("'iijj->', a", [(2, 2, 3, 3)]),
               ("'ij,jj->i', a, b", [((2, 3), (3, 3))]),
               ("'ii,i->i', a, b", [((3, 3), (3,))]),
               # '...', and length-1 axes broadcast
               ("'...ij,...jk->...ik', a, b", [((2, 3, 4), (2, 4, 2)), ((2, 1, 3, 4), (5, 4, 2))]),
               ("'...i->...', a", [(2, 3)]),
               ("'i...->...', a", [(2, 3, 4)]),
               ("'...ii->...i', a", [(2, 3, 3)]),
               ("'...ij', a", [(2, 3, 4)]),
               ("'ij,j->i', a, b", [((3, 1), (4,)), ((3, 4), (1,))]),
               ("a, [Ellipsis, 0, 1], b, [Ellipsis, 1, 2], [Ellipsis, 0, 2]",
                [((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 2))]),
               ("a, [Ellipsis, 1], b, [1]", [((2, 3, 4), (4,))]),
               ("'...ij,...jk->...ik', a, b, optimize='optimal'", [((2, 1, 3, 4), (5, 4, 2))]),
               ("'ij,jk,kl->il', a, b, c, optimize=['einsum_path', (1, 2), (0, 1)]", [((2, 3), (3, 4), (4, 2))])),
    # What generated forwards call for np.einsum: a planned matmul for two float arrays of some size.
    *functions(srcgrad.rules.linalg.einsum_by_matmul, "srcgrad.rules.linalg.einsum_by_matmul", "real",
               ("'kij,nkj->nki', a, b", [((3, 5, 5), (20, 3, 5))]),
               ("'ij,jk->ik', a, b", [((20, 10), (10, 8)), ((3, 4), (4, 2))]),
               ("'i j , j k -> k i', a, b", [((20, 10), (10, 8))]),
               ("'ijk,ik->j', a, b", [((8, 9, 10), (8, 10))]),
               ("'ij,jk', a, b", [((20, 10), (10, 8))]),
               ("'ij->j', a", [(20, 15)]),
               ("'...ij,...jk->...ik', a, b", [((4, 10, 20), (20, 8))]),
               ("'ii,ij->j', a, b", [((20, 20), (20, 8))])),

    # shapes
    *functions(np.reshape, "np.reshape", "real", ("a, (3, 2)", [(2, 3), (6,)]), ("a, -1", [(2, 3)]),
               ("a, (2, 3), order='F'", [(3, 2)]), ("a, shape=(3, 2)", [(6,)])),
    *functions(np.ravel, "np.ravel", "real", ("a", [(2, 3)]), ("a, order='F'", [(2, 3)])),
    *functions(np.squeeze, "np.squeeze", "real", ("a", [(1, 3, 1)]), ("a, axis=1", [(3, 1, 4)])),
    *functions(np.expand_dims, "np.expand_dims", "real", ("a, 0", [(), (3,), (2, 3)]), ("a, axis=(0, 2)", [(2, 3)]),
               ("a, -1", [(2, 3)])),
    *functions(np.transpose, "np.transpose", "real", ("a", [(3,), (2, 3), (2, 3, 4)]), ("a, (1, 0, 2)", [(2, 3, 4)]),
               ("a, axes=(2, 0, 1)", [(2, 3, 4)])),
    *functions(np.swapaxes, "np.swapaxes", "real", ("a, 0, 1", [(2, 3), (2, 3, 4)]), ("a, -1, 0", [(2, 3, 4)])),
    *functions(np.moveaxis, "np.moveaxis", "real", ("a, 0, -1", [(2, 3, 4)]), ("a, [0, 1], [2, 0]", [(2, 3, 4)])),
    Spec(np.broadcast_to, "np.broadcast_to(a, (2, 3, 4))", [(), (4,), (3, 1), (1, 3, 4)]),
    *functions(np.flip, "np.flip", "real", ("a", [(3,), (2, 3)]), ("a, 0", [(2, 3)]), ("a, axis=(0, 1)", [(2, 3)]),
               ("a, axis=-1", [(2, 3, 4)])),
    Spec(np.fliplr, "np.fliplr(a)", [(2, 3), (2, 3, 4)]),
    *functions(np.concatenate, "np.concatenate", "real",
               ("[a, b]", [((3,), (2,)), ((2, 3), (1, 3))]),
               ("[a, b], axis=1", [((2, 3), (2, 1))]),
               ("(a, b, c), axis=-1", [((2, 1), (2, 3), (2, 2))]),
               ("[a, b], axis=None", [((2, 3), (4,))])),
    *functions(np.stack, "np.stack", "real",
               ("[a, b]", [((3,), (3,)), ((2, 3), (2, 3))]),
               ("[a, b], axis=1", [((2, 3), (2, 3))]),
               ("(a, b, c), axis=-1", [((3,), (3,), (3,))]),
               ("[a, b, c]", [((), (), ())])),
    Spec(np.atleast_1d, "np.atleast_1d(a)", [(), "0d", (3,)]),
    Spec(np.atleast_1d, "np.atleast_1d(a, b)", [((), (3,))]),
    Spec(np.atleast_2d, "np.atleast_2d(a)", [(), (3,), (2, 3)]),
    Spec(np.atleast_3d, "np.atleast_3d(a)", [(3,), (2, 3)]),
    Spec(np.vstack, "np.vstack([a, b])", [((3,), (3,)), ((2, 3), (1, 3)), ((3,), (2, 3))]),
    Spec(np.hstack, "np.hstack([a, b])", [((3,), (2,)), ((2, 3), (2, 1))]),
    Spec(np.hstack, "np.hstack((a, b, c))", [((), (2,), ())]),
    *functions(np.split, "np.split", "real",
               ("a, 2", [(4,), (4, 3)]),
               ("a, 3, axis=1", [(2, 3)]),
               ("a, [1, 3]", [(5,)]),
               ("a, [1], axis=-1", [(2, 3)])),
    Spec(np.split, "np.split(a, 3)[1]", [(3,), (3, 2)], id="np.split-3-one-piece"),
    Spec(np.split, "np.split(a, [1, 3], axis=1)[2]", [(2, 4)], id="np.split-1,3-axis1-last-piece"),
    *functions(np.tile, "np.tile", "real", ("a, 2", [(), (3,), (2, 3)]), ("a, (2, 1)", [(3,), (2, 3)]),
               ("a, (2, 1, 2)", [(2, 3)]), ("a, [1, 3]", [(2, 2, 2)])),
    *functions(np.repeat, "np.repeat", "real", ("a, 2", [(), (3,), (2, 3)]), ("a, 2, axis=1", [(2, 3)]),
               ("a, [1, 0, 2], axis=0", [(3,), (3, 2)]), ("a, [2, 1, 0]", [(3,)]), ("a, 3, axis=-1", [(2, 2)]),
               ("a, [0, 2], axis=1", [(3, 2)])),
    *functions(np.take, "np.take", "real", ("a, [0, 2, 2]", [(4,), (2, 3)]), ("a, [0, 2, 2], axis=1", [(2, 3)]),
               ("a, 1, axis=0", [(3, 4)]), ("a, [[0, 1], [1, 1]], axis=1", [(2, 3), (2, 3, 2)]),
               ("a, [[0, 3], [5, 5]]", [(2, 3)]), ("a, [-1, 0], axis=-1", [(2, 3)]), ("a, 2", [(4,)])),
    *functions(np.diag, "np.diag", "real", ("a", [(3,), (3, 3), (3, 4), (4, 3)]), ("a, 1", [(3,), (3, 4), (4, 3)]),
               ("a, k=-1", [(3,), (4, 3), (3, 4)])),
    *functions(np.sort, "np.sort", "real", ("a", [(4,), (3, 4)]), ("a, axis=0", [(3, 4)]),
               ("a, axis=None", [(3, 4)])),
    *functions(np.array, "np.array", "real", ("[a, b, c]", [((), (), ()), ((3,), (3,), (3,))]),
               ("[[a, b], [c, d]]", [((), (), (), ())]), ("a", [(3,), (2, 3)]), ("(a, b)", [((), ())])),
    *functions(np.asarray, "np.asarray", "real", ("[a, b]", [((), ())]), ("a", [(2, 3)])),
    *functions(np.clip, "np.clip", "real", ("a, -0.5, 0.5", [(), (3,), (3, 4)]), ("a, None, 0.5", [(3, 4)]),
               ("a, -0.5, None", [(3, 4)])),
    Spec(np.clip, "np.clip(a, b - 1.0, c + 1.0)", [((3, 4), (4,), ()), ((3,), (3,), (3,)), ((4,), (3, 1), ())],
         domain=("real", "unit", "unit")),

    # linear algebra
    *functions(np.linalg.norm, "np.linalg.norm", "nonzero",
               ("a", [(4,), (3, 4), (2, 3, 2)]),
               ("a, 1", [(4,), (3, 4)]),
               ("a, ord=np.inf", [(4,), (3, 4)]),
               ("a, -np.inf", [(4,), (3, 4)]),
               ("a, 3", [(4,)]),
               ("a, 0.5", [(4,)]),
               ("a, -1", [(4,), (3, 4)]),
               ("a, 2", [(4,), (3, 4)]),
               ("a, -2", [(3, 4)]),
               ("a, 'fro'", [(3, 4)]),
               ("a, 'nuc'", [(3, 4)]),
               ("a, axis=1", [(3, 4)]),
               ("a, axis=0, keepdims=True", [(3, 4)]),
               ("a, 1, axis=1", [(3, 4)]),
               ("a, np.inf, axis=-1, keepdims=True", [(3, 4)]),
               ("a, axis=(1, 2)", [(2, 3, 4)]),
               ("a, 2, axis=(2, 1)", [(2, 3, 4)]),
               ("a, 1, axis=(0, 2), keepdims=True", [(3, 2, 4)]),
               ("a, 'nuc', axis=(0, 1)", [(3, 2)]),
               ("a, keepdims=True", [(3, 4)])),
    Spec(np.linalg.inv, "np.linalg.inv(a)", [(3, 3), (2, 3, 3)], domain="matrix"),
    Spec(np.linalg.det, "np.linalg.det(a)", [(3, 3), (2, 3, 3)], domain="matrix"),
    Spec(np.linalg.solve, "np.linalg.solve(a, b)", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 2)),
                                                    ((3, 3), (4, 3, 1)), ((2, 3, 3), (3, 1))],
         domain=("matrix", "real")),

    # array methods and properties
    *method_reductions("sum"),
    *method_reductions("mean"),
    *method_reductions("prod", "nonzero"),
    *method_reductions("max"),
    *method_reductions("min"),
    *method_reductions("var"),
    *method_reductions("var", extra="ddof=1")[1:3],
    *method_reductions("std"),
    *method_reductions("std", extra="ddof=1")[1:3],
    *methods("cumsum", "real", ("", [(4,), (3, 4)]), ("axis=1", [(3, 4)]), ("0", [(3, 4)])),
    *methods("reshape", "real", ("3, 2", [(2, 3)]), ("(3, 2)", [(6,)]), ("-1", [(2, 3)]),
             ("2, 3, order='F'", [(3, 2)])),
    *methods("ravel", "real", ("", [(2, 3)]), ("'F'", [(2, 3)])),
    *methods("flatten", "real", ("", [(2, 3)]), ("order='F'", [(2, 3)])),
    *methods("squeeze", "real", ("", [(1, 3, 1)]), ("axis=0", [(1, 3)]), ("2", [(2, 3, 1)])),
    *methods("transpose", "real", ("", [(3,), (2, 3), (2, 3, 4)]), ("1, 0", [(2, 3)]), ("(1, 0)", [(2, 3)]),
             ("2, 0, 1", [(2, 3, 4)]), ("[1, 2, 0]", [(2, 3, 4)]), ("None", [(2, 3)]), ("0", [(3,)])),
    *methods("swapaxes", "real", ("0, 1", [(2, 3)]), ("-1, 0", [(2, 3, 4)])),
    Spec("dot", "a.dot(b)", MATMUL[:5] + [((3, 2), ())], kind="method"),
    *methods("clip", "real", ("-0.5, 0.5", ["0d", (3,), (3, 4)]), ("max=0.5", [(3, 4)]), ("min=-0.5", [(3, 4)]),
             ("None, 0.5", [(3,)])),
    Spec("clip", "a.clip(b - 1.0, c + 1.0)", [((3, 4), (4,), ()), ((4,), (3, 1), ())], domain=("real", "unit", "unit"),
         kind="method"),
    *methods("take", "real", ("[0, 2, 2]", [(4,), (2, 3)]), ("[0, 2], axis=1", [(2, 3)]), ("1, axis=0", [(3, 4)]),
             ("[[0, 1], [1, 1]], axis=0", [(2, 3)])),
    *methods("repeat", "real", ("2", [(3,), (2, 3)]), ("2, axis=0", [(2, 3)]), ("[1, 0, 2], axis=1", [(2, 3)])),
    *methods("trace", "real", ("", [(3, 3), (3, 4)]), ("1", [(3, 4)]), ("offset=-1", [(4, 3)])),
    *methods("copy", "real", ("", [(3,), (2, 3)])),
    *methods("astype", "real", ("np.float64", [(3,), (2, 3)]), ("float", [(3,)]), ("int", [(3,)]),
             ("bool", [(3,)])),
    *methods("item", "real", ("", [(1,), (1, 1), "0d"]), ("2", [(4,), (2, 3)]), ("1, 2", [(2, 3)]),
             ("(1, 0)", [(2, 3)]), ("-1", [(4,)])),
    Spec("T", "a.T", [(3,), (2, 3), (2, 3, 4)], kind="attribute"),
    # (complex numbers: tests/test_complex.py; these rows check the real case)
    *methods("conj", "real", ("", ["0d", (3,), (2, 3)])),
    *methods("conjugate", "real", ("", [(3,), (2, 3)])),
    Spec("real", "a.real", ["0d", (3,), (2, 3)], kind="attribute"),
    Spec("imag", "a.imag", [(3,), (2, 3)], kind="attribute"),
]

# Arrays made from values (issue #16: these passed no gradient).
SPECS += [
    Spec(np.linspace, "np.linspace(a, b, 5)", [((), ()), ((3,), (3,)), ((2, 1), (3,))]),
    Spec(np.linspace, "np.linspace(a, b, 4, endpoint=False, axis=1)", [((3,), (3,)), ((), (2,))]),
    Spec(np.linspace, "np.linspace(a, b, 1)", [((), ())]),
    Spec(np.full, "np.full((2, 3), a)", [(), (3,), (2, 1)]),
    Spec(np.full_like, "np.full_like(b, a)", [((), (2, 3)), ((3,), (2, 3))]),
    Spec(np.heaviside, "np.heaviside(np.array([-1.0, 0.0, 2.0]), a)", [(), (3,)]),
    Spec(np.arange, "np.arange(a, a + 3.0, 0.7)", [()]),  # (five samples, whatever a: the count stays put)
    Spec(np.arange, "np.arange(0.5, 0.5 + 3.5 * a, a)", [()], domain="pos"),
    Spec(np.meshgrid, "np.stack(np.meshgrid(a, b))", [((3,), (2,)), ((4,), (1,))],
         dynamic="np.stack(fn(a, b))"),
    Spec(np.meshgrid, "np.stack(np.meshgrid(a, b, indexing='ij'))", [((3,), (2,))],
         dynamic="np.stack(fn(a, b, indexing='ij'))"),
    Spec(np.meshgrid, "np.meshgrid(a, b, c, sparse=True)[2]", [((3,), (2,), (2, 2))],
         dynamic="fn(a, b, c, sparse=True)[2]"),
    Spec(srcgrad.rules.creation.index_trick, "np.r_[a, b]", [((3,), (2,)), ((), (2,))], dynamic="fn(np.r_, a, b)"),
    Spec(srcgrad.rules.creation.index_trick, "np.r_['0,2', a, b]", [((3,), (3,)), ((2, 3), (3,))],
         dynamic="fn(np.r_, '0,2', a, b)"),
    Spec(srcgrad.rules.creation.index_trick, "np.c_[a, b]", [((3,), (3,)), ((3, 2), (3,))], dynamic="fn(np.c_, a, b)"),
    Spec(srcgrad.rules.creation.index_trick, "np.r_[a]", [(3,)], dynamic="fn(np.r_, a)"),
    Spec(np.unique, "np.unique(a)", [(4,), (2, 3)]),
    Spec(np.unique, "np.unique(a, return_counts=True)[0]", [(4,)], dynamic="fn(a, return_counts=True)[0]"),
]

#: srcgrad's own helper, with a rule of its own: every reduction's gradient in generated code calls it.
SPECS += functions(srcgrad.rules.shaping.unreduce, "srcgrad.rules.shaping.unreduce", "real",
                   ("a, b", [((), (3, 4)), ((1,), (2,))]), ("a, b, 1", [((3,), (3, 4))]),
                   ("a, b, 1, True", [((3, 1), (3, 4))]), ("a, b, (0, 2)", [((3,), (2, 3, 4))]))


def test_unreduce_spreads_large_and_small_alike():
    unreduce = srcgrad.rules.shaping.unreduce
    for shape in [(3, 4), (70, 70)]:  # a filled array below 4096 elements, a broadcast view above
        x = np.ones(shape)
        np.testing.assert_array_equal(unreduce(2.5, x), np.full(shape, 2.5))
        np.testing.assert_array_equal(unreduce(np.arange(shape[0]), x, 1), np.arange(shape[0])[:, None] + 0 * x)
        assert unreduce(np.float32(1.0), x).dtype == np.float32
    # The gradient of a sum over a large array, differentiated again (the rule, not np.full's).
    w = np.linspace(0.5, 1.5, 4900).reshape(70, 70)
    d = lambda x: srcgrad.gradient(lambda x: np.sum(w * x ** 3), x)[0]
    (h,) = srcgrad.gradient(lambda x: np.sum(d(x)), np.full((70, 70), 2.0))
    np.testing.assert_allclose(h, 6 * w * 2.0)


if scipy is not None:
    SPECS += [
        *functions(scipy.special.logsumexp, "scipy.special.logsumexp", "real",
                   ("a", [(4,), (3, 4)]), ("a, axis=1", [(3, 4)]), ("a, axis=0, keepdims=True", [(3, 4)]),
                   ("a, axis=(0, 1)", [(3, 4)]), ("a, b=[1.0, 2.0, 0.5, 1.5]", [(4,), (3, 4)]),
                   ("a, 0, b", [((3,), (3,))])),
        Spec(scipy.special.expit, "scipy.special.expit(a)", UNARY),
        Spec(scipy.special.erf, "scipy.special.erf(a)", UNARY),
        Spec(scipy.special.gammaln, "scipy.special.gammaln(a)", UNARY, domain="pos"),
        Spec(scipy.special.digamma, "scipy.special.digamma(a)", UNARY, domain="pos"),
        Spec(scipy.special.polygamma, "scipy.special.polygamma(1, a)", UNARY, domain="pos"),
        Spec(scipy.special.polygamma, "scipy.special.polygamma(2, a)", [(3,)], domain="pos"),
    ]

FUNCTION_SPECS = [spec for spec in SPECS if spec.kind == "function"]


test_inline, test_dynamic, test_rule_shapes, test_forward, test_forward_dynamic = table_tests(
    SPECS, dynamic=FUNCTION_SPECS)


#: Every spec again with its arguments passed by keyword where NumPy allows it: np.dot(a, b=b),
#: np.clip(a=a, a_min=b - 1.0, a_max=c + 1.0), a.clip(min=..., max=...) (last case of each).
KEYWORD_SPECS = keyword_variants(SPECS) + [
    Spec(np.clip, "np.clip(a, min=b - 1.0, max=c + 1.0)", [((3, 4), (4,), ())], domain=("real", "unit", "unit")),
    Spec(np.clip, "np.clip(a, max=b)", [((3, 4), (4,))], domain=("real", "unit")),
]


# (A differentiated argument passed by keyword gets the gradient it would get positionally, inlined and
# with the primal held in a variable, in both modes.)
test_keyword_inline, test_keyword_dynamic, _, test_keyword_forward, test_keyword_forward_dynamic = table_tests(
    KEYWORD_SPECS, dynamic=[spec for spec in KEYWORD_SPECS if spec.kind == "function"])


#: The first spec of each function, for second derivatives (which are slow to compile).
ONE_PER_FUNCTION = list({id(spec.primal): spec for spec in reversed(FUNCTION_SPECS)}.values())[::-1]


@pytest.mark.parametrize("spec, case", params(ONE_PER_FUNCTION, last_case_only=True))
def test_second_order(spec, case, tmp_path_factory):
    """Rules are ordinary code that srcgrad differentiates again, for higher derivatives."""
    check_second_order(spec, case, tmp_path_factory)


@pytest.mark.parametrize("module", ["shaping", "elementwise", "reductions", "shapes", "linalg", "creation"])
def test_every_numpy_rule_has_a_spec(module):
    from .tables import ALL_SPECS  # (abs shares np.abs's row, @ np.matmul's: every table counts)

    assert missing_specs(ALL_SPECS, f"srcgrad.rules.{module}") == []


# ------------------------------------------------------------------ ties, errors, dtypes

@pytest.mark.parametrize("call", ["np.max(a)", "np.min(-a)", "np.max(a, axis=0)", "a.max()", "np.maximum(a, b)",
                                  "np.minimum(-a, -b)", "np.fmax(a, b)", "np.linalg.norm(a, np.inf)"])
def test_two_way_ties_split_the_gradient(call, tmp_path):
    """At a two-way tie central differences give each half; so do the rules."""
    f = define(tmp_path, f"def f(a, b):\n    return np.sum(2.0 * {call}) + 0.0 * np.sum(b)\n")
    a = np.array([[1.0, 0.5], [1.0, -0.5]])
    check_gradient(f, a, a.copy())


def test_three_way_tie_of_max_shares_equally(tmp_path):
    f = define(tmp_path, "def f(a):\n    return 3.0 * np.max(a)\n")
    grad, = srcgrad.gradient(f, np.array([2.0, 2.0, 1.0, 2.0]))
    np.testing.assert_allclose(grad, [1.0, 1.0, 0.0, 1.0])


def test_fmax_ignores_nan(tmp_path):
    f = define(tmp_path, "def f(a, b):\n    return np.sum(np.fmax(a, b) + np.fmin(a, b))\n")
    da, db = srcgrad.gradient(f, np.array([1.0, np.nan]), np.array([np.nan, 2.0]))
    np.testing.assert_array_equal(da, [2.0, 0.0])
    np.testing.assert_array_equal(db, [0.0, 2.0])


@pytest.mark.parametrize("call", ["np.einsum('ii->i', a)", "np.einsum('ii', a)", "np.einsum('...ij->...ji', a)"])
def test_einsum_takes_diagonals_and_ellipses(call, tmp_path):
    """(Once refused; tests/rules/test_einsum.py has the rest of full einsum, and what it still refuses.)"""
    f = define(tmp_path, f"def f(a):\n    return np.sum(np.sin({call}))\n")
    check_gradient(f, np.random.default_rng(0).standard_normal((3, 3)))


def test_norm_refuses_an_unknown_matrix_order(tmp_path):
    f = define(tmp_path, "def f(a):\n    return np.linalg.norm(a, 3, axis=(0, 1))\n")
    with pytest.raises((srcgrad.NoRuleError, ValueError)):
        srcgrad.gradient(f, np.ones((3, 3)))


@pytest.mark.parametrize("body", [
    "np.sum(np.sin(a))",
    "np.sum(np.sum(a * a, axis=1) ** 2)",
    "np.max(a)",
    "np.sum(np.maximum(a, 0.0))",
    "np.linalg.norm(a)",
    "np.sum(a @ a.T)",
    "np.sum(np.tanh(a).mean(axis=0))",
    "np.sum(a.astype(np.float64) ** 2)",
])
def test_float32_in_float32_out(body, tmp_path):
    f = define(tmp_path, f"def f(a):\n    return {body}\n")
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    grad, = srcgrad.gradient(f, a)
    assert grad.dtype == np.float32 and grad.shape == a.shape
    reference, = srcgrad.gradient(f, a.astype(np.float64))
    np.testing.assert_allclose(grad, reference, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ no gradient

NONDIFF = [
    "np.floor(a)", "np.ceil(a)", "np.round(a)", "np.rint(a)", "np.trunc(a)", "np.fix(a)", "np.sign(a)",
    "np.signbit(a)", "np.heaviside(a, 0.5)", "np.floor_divide(a, 0.7)", "np.isnan(a)", "np.isinf(a)",
    "np.isfinite(a)", "np.argmax(a)", "np.argmin(a)", "np.argsort(a)", "np.greater(a, 0.0)", "np.less_equal(a, 0.0)",
    "np.equal(a, a)", "np.logical_and(a > 0, a < 1)", "np.logical_not(a > 0)", "np.any(a > 1)", "np.all(a > -5)",
    "np.count_nonzero(a > 0)", "np.shape(a)[0]", "np.ndim(a)", "np.size(a)", "np.zeros_like(a)", "np.ones_like(a)",
    "np.full_like(a, 2.0)", "np.arange(3)", "np.linspace(0, 1, 3)", "np.eye(3)[0]", "np.ones(3)", "np.zeros(3)",
    "np.full(3, 2.0)", "np.isclose(a, 0.3)", "np.searchsorted([0.0, 1.0], a)", "np.digitize(a, [0.0, 1.0])",
    "np.argwhere(a > 0).shape[0]", "np.allclose(a, a)", "np.array_equal(a, a)", "np.unique(np.round(a)).size",
    "a.argmax()", "a.argmin()", "a.argsort()", "a.any()", "a.all()", "a.shape[0]", "a.size", "a.ndim",
    "a.dtype.itemsize",
]


@pytest.mark.parametrize("expression", NONDIFF)
def test_nondiff_passes_zero_gradient(expression, tmp_path):
    """Inside a differentiated function these are constants: ``a * floor(a)`` has gradient ``floor(a)``."""
    f = define(tmp_path, f"def f(a):\n    return np.sum(a * ({expression}))\n")
    a = np.array([0.3, 1.6, -0.8])  # away from every kink
    grad, = check_gradient(f, a)
    expected = np.broadcast_to(eval(expression, {"np": np, "a": a}), a.shape)
    np.testing.assert_array_equal(grad, expected)


def test_a_bound_method_held_in_a_variable(tmp_path):
    """The dynamic path of a method rule: the bound method is a value at run time."""
    f = define(tmp_path, "def f(a):\n    total = a.sum\n    return np.sum(total(axis=0) ** 2)\n")
    check_gradient(f, np.random.default_rng(0).standard_normal((3, 4)))


# ------------------------------------------------------------------ fast paths of the helpers

def counted_extremum_grad(dy, y, x, axis=None, keepdims=False):
    """The gradient of max/min the general way: every extremum counted along the axis."""
    unreduce = srcgrad.rules.shaping.unreduce
    winners = x == unreduce(y, x, axis, keepdims)
    count = np.sum(winners, axis=axis, keepdims=True, dtype=np.result_type(np.asarray(dy), x, np.float32))
    return unreduce(dy, x, axis, keepdims) * winners / count


EXTREMA = [((128, 10), 1, True), ((1000, 5), 1, True), ((5,), None, False), ((3, 4), 0, False),
           ((2, 3, 4), (0, 2), False), ((2, 3, 4), -1, True), ((3, 4), None, True), ((), None, False)]


@pytest.mark.parametrize("shape, axis, keepdims", EXTREMA)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_extremum_grad_agrees_with_counting(shape, axis, keepdims, dtype, ties):
    """A unique extremum per reduction skips the count; with ties the count shares the gradient."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    if ties:
        x = np.round(x)  # (small integers: ties in most reductions)
    for reduce in (np.max, np.min):
        y = reduce(x, axis=axis, keepdims=keepdims)
        dys = [rng.standard_normal(np.shape(y)).astype(dtype), np.full(np.shape(y), 1.5)]  # (float64 too)
        for dy in dys + ([1.5] if np.ndim(y) == 0 else []):
            grad = srcgrad.rules.reductions.extremum_grad(dy, y, x, axis, keepdims)
            expected = counted_extremum_grad(dy, y, x, axis, keepdims)
            assert np.result_type(grad) == np.result_type(expected) and np.shape(grad) == np.shape(x)
            np.testing.assert_allclose(grad, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
            if not ties:
                np.testing.assert_array_equal(grad, expected)


def test_extremum_grad_of_a_nan_row_is_nan_even_when_the_winners_add_up():
    """A NaN row has no winner, a tied row two: as many winners as rows, yet not one each."""
    x = np.array([[1.0, np.nan, 0.0], [2.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    y = np.max(x, axis=1, keepdims=True)
    grad = srcgrad.rules.reductions.extremum_grad(np.ones((3, 1)), y, x, 1, True)
    np.testing.assert_array_equal(grad, [[np.nan] * 3, [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])


def test_extremum_grad_keeps_float32_and_gives_a_new_writable_array():
    x = np.array([[1.0, 3.0], [2.0, 0.0]], np.float32)
    dy = np.ones(2, np.float32)
    grad = srcgrad.rules.reductions.extremum_grad(dy, x.max(axis=1), x, 1)
    assert grad.dtype == np.float32 and grad.flags.writeable and not np.shares_memory(grad, dy)
    np.testing.assert_array_equal(grad, [[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("a, b, share", [(2.0, 1.0, 1.0), (1.0, 2.0, 0.0), (1.0, 1.0, 0.5),
                                         (np.float32(1.0), np.float32(1.0), 0.5)])
def test_winner_grad_of_numbers(a, b, share):
    """``max(a, b)`` of two numbers: the tie check sees a Python or NumPy bool, not an array."""
    assert srcgrad.rules.elementwise.winner_grad(4.0, a, b) == 4.0 * share


def test_winner_grad_of_relu_keeps_float32_and_halves_only_the_ties():
    a = np.array([[-1.0, 0.0, 2.0]], np.float32)
    grad = srcgrad.rules.elementwise.winner_grad(np.full((2, 3), 2.0, np.float32), a, 0.0)
    assert grad.dtype == np.float32 and grad.shape == (2, 3)
    np.testing.assert_array_equal(grad, [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])


CONTRACTIONS = [
    ("nki,nkj->kij", (6, 5, 2), (6, 5, 3)),  # (a batch k, a summed n: the GMM's)
    ("nki,kij->nkj", (6, 5, 2), (5, 2, 3)),
    ("ij,jk->ik", (3, 4), (4, 2)), ("ij,jk->ki", (3, 4), (4, 2)), ("i,j->ij", (3,), (4,)), ("i,i->", (4,), (4,)),
    ("ij,ij->ij", (3, 4), (3, 4)), ("ijk,ik->j", (2, 3, 4), (2, 4)), ("ij,k->i", (3, 4), (2,)), ("ij,k->ik", (3, 4), (2,)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)), ("ij,jk->", (3, 4), (4, 2)), ("ij,j->i", (3, 1), (4,)),  # (broadcast j)
    ("ii,i->i", (3, 3), (3,)),  # (a repeated letter: np.einsum's)
]


@pytest.mark.parametrize("spec, a_shape, b_shape", CONTRACTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_contract_is_einsum(spec, a_shape, b_shape, dtype):
    """Two-operand einsum as one batched matmul: einsum's values (to rounding) and dtype."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    result = srcgrad.rules.linalg.contract(spec, a, b)
    expected = np.einsum(spec, a, b)
    assert np.result_type(result) == dtype and np.shape(result) == np.shape(expected)
    np.testing.assert_allclose(result, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_contract_lays_a_data_axis_along_memory_as_einsum_does():
    """The GMM's ``xcentered`` gradient, ``n`` by ``k`` by ``j``, is then summed over ``n``: ``n`` runs along memory."""
    rng = np.random.default_rng(0)
    dy, q = rng.standard_normal((1000, 5, 2)), rng.standard_normal((5, 2, 2))
    grad = srcgrad.rules.linalg.contract("nki,kij->nkj", dy, q)
    assert grad.strides[0] == grad.itemsize
    assert srcgrad.rules.linalg.contract("nki,nkj->kij", dy, dy).flags.c_contiguous  # (no axes to move)


@pytest.mark.parametrize("shapes, axis", [([(5, 2), (5, 1)], 1), ([(2, 3), (4, 3), (1, 3)], 0), ([(2, 3, 1), (2, 3, 2)], -1),
                                          ([(3,), (2,)], 0), ([(2, 2), (2, 3)], -1)])
def test_concatenate_grad_splits_as_np_split(shapes, axis):
    """The pieces are slices of ``dy``: ``np.split``'s views, writable, one per array."""
    arrays = [np.ones(shape) for shape in shapes]
    dy = np.random.default_rng(0).standard_normal(np.concatenate(arrays, axis=axis).shape)
    pieces = srcgrad.rules.shapes.concatenate_grad(dy, arrays, axis)
    expected = np.split(dy, np.cumsum([a.shape[axis] for a in arrays])[:-1], axis=axis)
    assert len(pieces) == len(arrays)
    for piece, split, a in zip(pieces, expected, arrays):
        assert piece.shape == a.shape and piece.flags.writeable
        np.testing.assert_array_equal(piece, split)


def test_max_of_a_list(tmp_path):
    """``np.max([a, b])``: the share of each element is worked out on the list made an array."""
    f = define(tmp_path, "def f(a, b):\n    return np.max([a, b, 0.5 * a])\n")
    assert srcgrad.gradient(f, 1.0, 2.0) == (0.0, 1.0)
    assert srcgrad.gradient(f, 2.0, 2.0) == (0.5, 0.5)


def quadratic_forms(Q, x):
    """The GMM's contraction: each of ``x``'s rows through each ``Q[k]``, squared and summed."""
    Qx = np.einsum("kij,nkj->nki", Q, x)
    return np.sum(Qx ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_einsum_runs_as_a_planned_matmul_in_generated_code(dtype):
    """Generated forwards call einsum_by_matmul for np.einsum: einsum's value to rounding, its dtype, its
    gradient (against differences) and its second derivative (the Hessian of a quadratic form is constant)."""
    rng = np.random.default_rng(3)
    Q, x = rng.standard_normal((3, 4, 4)).astype(dtype), rng.standard_normal((30, 3, 4)).astype(dtype)
    assert "Qx = einsum_by_matmul('kij,nkj->nki', Q, x)" in adjoint_of(quadratic_forms).source  # (what runs)
    y, (dQ, dx) = srcgrad.withgradient(quadratic_forms, Q, x)
    assert np.result_type(y) == dtype and dQ.dtype == dtype and dx.dtype == dtype
    np.testing.assert_allclose(y, quadratic_forms(Q, x), rtol=1e-5 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(dQ, 2 * np.einsum("nki,nkj->kij", np.einsum("kij,nkj->nki", Q, x), x),
                               rtol=1e-4 if dtype == np.float32 else 1e-12)
    if dtype == np.float64:
        check_gradient(quadratic_forms, Q, x)
        check_gradient(quadratic_forms, Q + 1.0, x[:7] * 2.0)
        H = srcgrad.hessian(lambda q: quadratic_forms(q.reshape(Q.shape), x[:6]), Q.ravel())
        H2 = srcgrad.hessian(lambda q: quadratic_forms(q.reshape(Q.shape), x[:6]), 2.0 * Q.ravel())
        np.testing.assert_allclose(H, H.T, atol=1e-10)
        np.testing.assert_allclose(H, H2, atol=1e-9)
        assert np.abs(H).max() > 1.0


@pytest.mark.parametrize("spec, operands", [
    ("ij,jk->ik", (np.arange(600).reshape(30, 20), np.arange(400).reshape(20, 20))),  # integers
    ("ij,jk->ik", (np.ones((3, 4)), np.ones((4, 2)))),  # small
    ("ij,jk", (np.ones((30, 20)), np.ones((20, 20)))),  # implicit output
    ("ij,jk,kl->il", (np.ones((20, 20)),) * 3),  # three operands
    ("...j,jk->...k", (np.ones((5, 6, 20)), np.ones((20, 20)))),  # an ellipsis
])
def test_einsum_by_matmul_leaves_the_rest_to_einsum(spec, operands):
    """What the planned product does not take is np.einsum's own call: its values and dtype exactly."""
    got = srcgrad.rules.linalg.einsum_by_matmul(spec, *operands)
    want = np.einsum(spec, *operands)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def sum_then_sum_by_rows(a):
    return np.sum(a ** 2) + np.sum(np.sum(a, axis=1) ** 2)


@pytest.mark.parametrize("value", [
    np.random.default_rng(5).standard_normal(1000),  # (pairwise summation: the same blocks, the same bits)
    np.arange(12, dtype=np.int8).reshape(3, 4),  # (a small integer is summed in the platform's integer)
    np.array([[1.5, 2.5]], dtype=np.float32),
    [1.0, 2.0, 3.5],  # (not arrays: np.sum's own call)
    3.0,
    np.ma.masked_array([1.0, 2.0, 4.0], mask=[False, True, False]),
    np.arange(4.0).view(type("Tagged", (np.ndarray,), {})),
    type("Ledger", (), {"sum": lambda self, axis=None, dtype=None, out=None: 42.0})(),  # (no keepdims)
])
def test_array_sum_is_np_sum(value):
    got = srcgrad.rules.reductions.array_sum(value)
    want = np.sum(value)
    assert type(got) is type(want) and np.result_type(got) == np.result_type(want)
    assert got == want


def test_generated_forwards_sum_arrays_with_array_sum():
    """np.sum(a) without keywords runs as array_sum(a) in generated code; with them, as written. What
    adjoint_source shows reads np.sum(power) again."""
    source = adjoint_of(sum_then_sum_by_rows).source
    forward = source[:source.index("_backward(")]
    assert "total = array_sum(power)" in forward and "np.sum(a, axis=1)" in forward, forward
    assert "total = np.sum(power)" in srcgrad.adjoint_source(sum_then_sum_by_rows)
    a = np.random.default_rng(6).standard_normal((3, 4))
    check_gradient(sum_then_sum_by_rows, a)
    y, _ = srcgrad.withgradient(sum_then_sum_by_rows, a)
    assert y == sum_then_sum_by_rows(a)
    H = srcgrad.hessian(sum_then_sum_by_rows, a).reshape(12, 12)
    np.testing.assert_allclose(H, 2 * np.eye(12) + 2 * np.kron(np.eye(3), np.ones((4, 4))), atol=1e-12)

