"""One-hot encoding of class labels, and back.

Samples run along the first axis and classes along the last, the layout
``Dense`` and the losses expect: ``onehot([...n labels...], classes)`` is
``(n, len(classes))``.

>>> onehot("b", ["a", "b", "c"])
array([0., 1., 0.])
>>> onecold(onehot([2, 0], 3))
array([2, 0])
"""

from __future__ import annotations

import numpy as np

__all__ = ["onehot", "onecold"]


def _labels(classes):
    return list(range(classes)) if isinstance(classes, (int, np.integer)) else list(classes)


def onehot(labels, classes):
    """One-hot rows for ``labels`` (one label, or a sequence of them).

    ``classes`` is the list of possible labels, or an int ``n`` for the
    labels ``0 .. n-1``. A label not among them is an error.

    >>> onehot(1, 3)
    array([0., 1., 0.])
    >>> onehot(["cat", "dog"], ["dog", "cat"])
    array([[0., 1.],
           [1., 0.]])
    """
    names = _labels(classes)
    position = {}
    for i, name in enumerate(names):
        position.setdefault(name, i)
    single = isinstance(labels, (str, bytes)) or np.ndim(labels) == 0
    items = [labels] if single else list(np.asarray(labels).tolist() if isinstance(labels, np.ndarray) else labels)
    out = np.zeros((len(items), len(names)))
    for row, label in enumerate(items):
        if label not in position:
            raise ValueError(f"label {label!r} is not one of the classes {names!r}")
        out[row, position[label]] = 1.0
    return out[0] if single else out


def onecold(y, classes=None, axis=-1):
    """The label of the largest entry along ``axis``: the inverse of :func:`onehot`.

    Works on probabilities or scores too (it takes the argmax). Without
    ``classes`` it returns the index; with them, the label at that index.

    >>> import numpy as np
    >>> onecold(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"])
    'b'
    >>> onecold(np.array([[0.9, 0.1], [0.2, 0.8]]))
    array([0, 1])
    """
    index = np.argmax(y, axis=axis)
    if classes is None:
        return int(index) if np.ndim(index) == 0 else index
    names = _labels(classes)
    if np.ndim(index) == 0:
        return names[int(index)]
    return np.array([names[i] for i in index.ravel()]).reshape(index.shape)
