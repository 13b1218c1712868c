"""Models: layers, activations, losses, one-hot encoding, and saving.

Layers are plain callables with array fields, differentiated by srcgrad
through their source; a model's parameters are found by walking its
structure (``functor``).

>>> import numpy as np
>>> from srcgrad.models import Chain, Dense, mse, relu
>>> model = Chain(Dense(2, 16, relu), Dense(16, 1))
>>> float(mse(model(np.zeros((4, 2))), np.zeros((4, 1))))
0.0
"""

from . import init
from .activations import elu, gelu, identity, leakyrelu, logsoftmax, relu, sigmoid, softmax, softplus, swish, tanh, σ
from .functor import functor, named_arrays, trainable
from .init import glorot_normal, glorot_uniform
from .restructure import destructure
from .conv import Conv, ConvTranspose
from .dropout import Dropout
from .embedding import Embedding
from .layers import Chain, Dense, Parallel, SkipConnection, compose
from .modes import testmode, trainmode
from .normalise import BatchNorm, LayerNorm
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .losses import (
    binarycrossentropy,
    crossentropy,
    huber,
    logitbinarycrossentropy,
    logitcrossentropy,
    mae,
    mse,
)
from .onehot import onecold, onehot
from .pooling import Flatten, GlobalMaxPool, GlobalMeanPool, MaxPool, MeanPool, flatten
from .save import load, save

__all__ = [
    "Dense", "Chain", "compose", "SkipConnection", "Parallel",
    "Conv", "ConvTranspose", "MaxPool", "MeanPool", "GlobalMaxPool", "GlobalMeanPool", "Flatten", "flatten",
    "Dropout", "BatchNorm", "LayerNorm", "Embedding", "trainmode", "testmode", "destructure",
    "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "identity", "sigmoid", "σ", "relu", "leakyrelu", "tanh", "softplus", "elu", "gelu", "swish", "softmax",
    "logsoftmax",
    "mse", "mae", "crossentropy", "logitcrossentropy", "binarycrossentropy", "logitbinarycrossentropy", "huber",
    "onehot", "onecold",
    "functor", "trainable", "named_arrays",
    "glorot_uniform", "glorot_normal", "init",
    "save", "load",
]
