"""Optimisers and training: the rules (optimisers.py), ``update``/``setup``, ``train``, ``DataLoader``,
learning-rate schedules (schedules.py).

>>> import numpy as np
>>> from srcgrad.optim import Adam, setup, update
>>> model = {"w": np.array([1.0, -1.0])}
>>> state = setup(Adam(0.1), model)
>>> state, model = update(state, model, {"w": np.array([0.5, -0.5])})
>>> model["w"].round(3)
array([ 0.9, -0.9])
"""

from . import schedules
from .data import DataLoader
from .optimisers import (
    ADAM,
    AdaGrad,
    Adam,
    AdamW,
    ClipNorm,
    ClipValue,
    Descent,
    Momentum,
    Nesterov,
    OptimiserChain,
    RMSProp,
    Rule,
    WeightDecay,
)
from .schedules import Cosine, Exp, Schedule, Step, Warmup
from .train import throttle, train
from .update import Leaf, setup, update

__all__ = [
    "Rule", "Descent", "Momentum", "Nesterov", "RMSProp", "Adam", "ADAM", "AdamW", "AdaGrad", "ClipValue",
    "ClipNorm", "WeightDecay", "OptimiserChain",
    "setup", "update", "Leaf",
    "train", "throttle", "DataLoader",
    "schedules", "Schedule", "Step", "Exp", "Cosine", "Warmup",
]
