"""The benchmark tasks: inputs, objective, hand-written gradient, target."""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import data, handwritten


@dataclass
class Task:
    name: str
    title: str
    objective: str  # function name in benchmarks.objectives (the full objective)
    bind: Optional[str]  # factory name: bind(*consts) -> f(*wrt); None if f takes exactly wrt
    inputs: Callable  # size -> (wrt, consts)
    full_args: Callable  # (wrt, consts) -> args of the full objective
    wrt_pos: tuple  # positions of the wrt arguments in the full objective
    wrt_names: tuple
    hand: Optional[Callable] = None  # make(*consts) -> grad(*wrt)
    hand_note: str = ""
    sizes: dict = field(default_factory=dict)  # "full" | "quick" | "tiny" -> kwargs for inputs
    rtol: float = 1e-7
    atol: float = 1e-9
    skip: dict = field(default_factory=dict)  # tool -> {size: reason}


def _wrt_then_consts(wrt, consts):
    return tuple(wrt) + tuple(consts)


def _gmm(d, k, tiny, n=1000):
    """The ADBench GMM objective at one size (the two sizes differ in nothing else)."""
    return Task(
        name=f"gmm_d{d}_k{k}",
        title=f"ADBench GMM d={d}, k={k}, n={n}",
        objective="gmm",
        bind="bind_gmm",
        inputs=data.gmm_inputs,
        full_args=_wrt_then_consts,
        wrt_pos=(0, 1, 2),
        wrt_names=("alphas", "means", "icf"),
        hand=handwritten.make_gmm,
        sizes={"full": {"d": d, "k": k, "n": n}, "quick": {"d": d, "k": k, "n": n}, "tiny": tiny},
        rtol=1e-8,
        atol=1e-8,
    )


TASKS = [
    Task(
        name="poly",
        title="seed polynomial 3x²+2x+1 at a scalar (overhead-bound)",
        objective="poly",
        bind=None,
        inputs=lambda **kw: data.poly_inputs(),
        full_args=_wrt_then_consts,
        wrt_pos=(0,),
        wrt_names=("x",),
        hand=handwritten.make_poly,
        sizes={"full": {}, "quick": {}, "tiny": {}},
    ),
    Task(
        name="linreg",
        title="seed linear regression sum((y - (W @ x + b))**2), W 2×5",
        objective="linreg",
        bind="bind_linreg",
        inputs=data.linreg_inputs,
        full_args=_wrt_then_consts,
        wrt_pos=(0, 1),
        wrt_names=("W", "b"),
        hand=handwritten.make_linreg,
        sizes={"full": {}, "quick": {}, "tiny": {}},
    ),
    Task(
        name="mlp",
        title="MLP 784-256-10, ReLU, batch 128, float32, softmax cross-entropy (BLAS-bound)",
        objective="mlp",
        bind="bind_mlp",
        inputs=data.mlp_inputs,
        full_args=_wrt_then_consts,
        wrt_pos=(0, 1, 2, 3),
        wrt_names=("W1", "b1", "W2", "b2"),
        hand=handwritten.make_mlp,
        sizes={"full": {}, "quick": {}, "tiny": {"batch": 4, "n_in": 12, "n_hidden": 8, "n_out": 3}},
        rtol=2e-4,
        atol=1e-6,
    ),
    Task(
        name="horner",
        title="Horner's rule, 1000 coefficients, d/dx (scalar loop)",
        objective="horner",
        bind="bind_horner",
        inputs=data.horner_inputs,
        full_args=lambda wrt, consts: (consts[0], wrt[0]),
        wrt_pos=(1,),
        wrt_names=("x",),
        hand=handwritten.make_horner,
        hand_note="forward mode alongside the loop",
        sizes={"full": {"n": 1000}, "quick": {"n": 1000}, "tiny": {"n": 20}},
        rtol=1e-9,
    ),
    Task(
        name="logistic",
        title="logistic map x = r·x·(1−x), 1000 steps, d/dr and d/dx0 (scalar loop)",
        objective="logistic",
        bind="bind_logistic",
        inputs=data.logistic_inputs,
        full_args=_wrt_then_consts,
        wrt_pos=(0, 1),
        wrt_names=("r", "x0"),
        hand=handwritten.make_logistic,
        hand_note="forward mode alongside the loop",
        sizes={"full": {"n": 1000}, "quick": {"n": 1000}, "tiny": {"n": 20}},
        rtol=1e-8,
        atol=1e-12,
    ),
    _gmm(d=2, k=5, tiny={"d": 2, "k": 3, "n": 10}),
    _gmm(d=10, k=25, tiny={"d": 4, "k": 3, "n": 10}),
    Task(
        name="lstm",
        title="ADBench LSTM, 2 layers, b=14, sequence 1024 (l2_c1024)",
        objective="lstm",
        bind="bind_lstm",
        inputs=data.lstm_inputs,
        full_args=_wrt_then_consts,
        wrt_pos=(0, 1),
        wrt_names=("main_params", "extra_params"),
        hand=handwritten.make_lstm,
        hand_note="back-propagation through time, by hand",
        skip={"jax-eager": {
            "full": "one gradient took 64 s here (per-operation dispatch over 1023 steps x 2 layers)",
            "quick": "one gradient takes about 16 s at 256 steps (64 s at 1023)",
        }, "jax-jit": {
            "full": "the Python time loop unrolls into one XLA program whose compile time explodes: "
                    "16 steps took 46 s and 32 steps 234 s to compile here (1023 steps needed)",
            "quick": "compile time explodes with the unrolled loop (16 steps: 46 s, 32 steps: 234 s)",
        }},
        sizes={"full": {"layers": 2, "c": 1024, "b": 14}, "quick": {"layers": 2, "c": 256, "b": 14},
               "tiny": {"layers": 2, "c": 5, "b": 3}},
        rtol=1e-8,
        atol=1e-10,
    ),
]

BY_NAME = {t.name: t for t in TASKS}


def make_inputs(task, size):
    return task.inputs(**task.sizes[size])


def is_float32(x):
    return isinstance(x, np.ndarray) and x.dtype == np.float32
