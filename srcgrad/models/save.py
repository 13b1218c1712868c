"""Saving a model's arrays to ``.npz`` and loading them back into the same architecture.

The file holds one array per name from ``functor.named_arrays`` (every
numeric array of the model, trainable or not), e.g. ``layers.0.W``.
Saving is atomic: the arrays go to a temporary file in the target's
directory, which then replaces the target in one step (``os.replace``),
so a crash or an error mid-write never leaves a partial file. Loading
checks every name and shape before it touches the model, so a file that
does not fit is refused whole and the model is left as it was.

>>> import os, tempfile
>>> from srcgrad.models import Dense
>>> path = os.path.join(tempfile.mkdtemp(), "layer.npz")
>>> a, b = Dense(2, 3), Dense(2, 3)
>>> save(path, a)
>>> bool((load(path, b).W == a.W).all())
True
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .functor import named_arrays

__all__ = ["save", "load"]


def _arrays(model):
    # A bare array has the empty path; give it a name npz can store.
    return {name or "array": array for name, array in named_arrays(model, trainable_only=False)}


def save(path, model):
    """Write the arrays of ``model`` to the ``.npz`` file ``path``, atomically.

    >>> import os, tempfile, numpy as np
    >>> save(os.path.join(tempfile.mkdtemp(), "w.npz"), {"w": np.ones(3)})
    """
    path = os.fspath(path)
    arrays = _arrays(model)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave the temporary behind.
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load(path, model):
    """Copy the arrays saved in ``path`` into ``model``'s arrays (in place) and return ``model``.

    The file must hold exactly the model's array names, with the same
    shapes and castable dtypes; otherwise a ``ValueError`` lists every
    difference and nothing is changed.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> save(path, {"w": np.ones(3)})
    >>> load(path, {"w": np.zeros(2)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot load ... into this model: w has shape (3,) in the file but (2,) in the model
    """
    path = os.fspath(path)
    targets = _arrays(model)
    with np.load(path, allow_pickle=False) as file:
        stored = {name: file[name] for name in file.files}
    problems = [f"{name} is missing from the file" for name in targets if name not in stored]
    problems += [f"{name} is in the file but not in the model" for name in stored if name not in targets]
    for name, target in targets.items():
        if name not in stored:
            continue
        value = stored[name]
        if value.shape != target.shape:
            problems.append(f"{name} has shape {value.shape} in the file but {target.shape} in the model")
        elif not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
            problems.append(f"{name} is {value.dtype} in the file but {target.dtype} in the model")
    if problems:
        raise ValueError(f"cannot load {path} into this model: " + "; ".join(problems))
    for name, target in targets.items():
        np.copyto(target, stored[name], casting="same_kind")
    return model
