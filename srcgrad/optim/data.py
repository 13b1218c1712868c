"""``DataLoader``: mini-batches of a dataset, shuffled or not.

Samples run along the **first** axis of every array, as in NumPy and
PyTorch (Flux uses the last, Julia being column-major), which is also
the batch axis ``Dense`` and the losses expect: ``x`` of shape
``(n, features)`` gives batches of shape ``(batchsize, features)``.

>>> import numpy as np
>>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> [b.tolist() for _, b in DataLoader((x, y), batchsize=2)]
[[0, 1], [2, 3], [4]]
"""

from __future__ import annotations


import numpy as np

from ..models.init import default_rng

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``data`` in batches of ``batchsize`` samples along the first axis.

    ``data`` is an array (batches are arrays), a tuple of arrays (batches
    are tuples, so ``train`` spreads them into the loss's arguments) or a
    dict of arrays (batches are dicts), all with the same number of
    samples. ``shuffle=True`` draws a new order for every pass, from
    ``rng`` (a Generator or a seed; by default the generator
    ``srcgrad.models.init.seed`` resets). ``partial=False`` drops a last
    batch smaller than ``batchsize``.

    >>> import numpy as np
    >>> loader = DataLoader(np.arange(6.0), batchsize=4, shuffle=True, rng=0)
    >>> len(loader), sorted(np.concatenate(list(loader)).tolist())
    (2, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    """

    def __init__(self, data, batchsize=1, shuffle=False, *, partial=True, rng=None):
        if batchsize < 1:
            raise ValueError(f"batchsize must be at least 1, not {batchsize}")
        self.data = data
        self.batchsize = batchsize
        self.shuffle = shuffle
        self.partial = partial
        # Kept as given: None means the shared generator at each pass, so a later seed() counts.
        self.rng = rng if rng is None else default_rng(rng)
        sizes = {len(array) for array in self._arrays()}
        if len(sizes) != 1:
            raise ValueError(f"every array needs the same number of samples (first axis), got {sorted(sizes)}")
        self.nobs = sizes.pop()

    def _arrays(self):
        if isinstance(self.data, tuple):
            return self.data
        if isinstance(self.data, dict):
            return tuple(self.data.values())
        return (self.data,)

    def __len__(self):
        whole, rest = divmod(self.nobs, self.batchsize)
        return whole + (1 if rest and self.partial else 0)

    def __iter__(self):
        order = default_rng(self.rng).permutation(self.nobs) if self.shuffle else None
        for start in range(0, len(self) * self.batchsize, self.batchsize):
            if order is None:
                index = slice(start, min(start + self.batchsize, self.nobs))
            else:
                index = order[start:start + self.batchsize]
            yield self._take(index)

    def _take(self, index):
        if isinstance(self.data, tuple):
            return tuple(np.asarray(a)[index] for a in self.data)
        if isinstance(self.data, dict):
            return {key: np.asarray(a)[index] for key, a in self.data.items()}
        return np.asarray(self.data)[index]

    def __repr__(self):
        return (f"DataLoader({self.nobs} samples, batchsize={self.batchsize}, shuffle={self.shuffle}"
                f"{'' if self.partial else ', partial=False'})")
