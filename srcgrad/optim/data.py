"""``DataLoader``: mini-batches of a dataset, shuffled or not.

Samples run along the **first** axis of every array, as in NumPy and
PyTorch (Flux uses the last, Julia being column-major), which is also
the batch axis ``Dense`` and the losses expect: ``x`` of shape
``(n, features)`` gives batches of shape ``(batchsize, features)``.

>>> import numpy as np
>>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> [b.tolist() for _, b in DataLoader((x, y), batchsize=2)]
[[0, 1], [2, 3], [4]]

Dask arrays (issue 21) are iterated chunk-aligned and lazily: with
``batchsize=None`` (or the chunk size) the batches are the chunks along the
first axis, never rechunked nor computed; batches stay Dask arrays. Any
other ``batchsize`` gives lazy slices that may span chunks. ``shuffle=True``
on Dask data shuffles the **order of the batches** (a new order every pass),
not the samples within them: drawing samples across chunks would gather
every batch from every chunk. NumPy arrays in the same ``data`` are cut at
the same boundaries.
"""

from __future__ import annotations


import numpy as np

from ..models.init import default_rng
from ..runtime.structure import refuse_unknown_sizes

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
        self.data = data
        lazy = [a for a in self._arrays() if _is_dask(a)]
        if batchsize is None and not lazy:
            raise ValueError("batchsize=None means a Dask array's chunks; "
                             "for NumPy data give batchsize a number of samples")
        if batchsize is not None and batchsize < 1:
            raise ValueError(f"batchsize must be at least 1, not {batchsize}")
        self.shuffle = shuffle
        self.partial = partial
        # Kept as given: None means the shared generator at each pass, so a later seed() counts.
        self.rng = rng if rng is None else default_rng(rng)
        for a in lazy:
            refuse_unknown_sizes(a, "a DataLoader's batches")
        sizes = {len(array) for array in self._arrays()}
        if len(sizes) != 1:
            raise ValueError(f"every array needs the same number of samples (first axis), got {sorted(sizes)}")
        self.nobs = sizes.pop()
        self._bounds = None if not lazy else _dask_bounds(lazy, self.nobs, batchsize, partial)
        self.batchsize = batchsize if batchsize is not None else max(
            (stop - start for start, stop in self._bounds), default=0)

    def _arrays(self):
        if isinstance(self.data, tuple):
            return self.data
        if isinstance(self.data, dict):
            return tuple(self.data.values())
        return (self.data,)

    def __len__(self):
        if self._bounds is not None:
            return len(self._bounds)
        whole, rest = divmod(self.nobs, self.batchsize)
        return whole + (1 if rest and self.partial else 0)

    def __iter__(self):
        if self._bounds is not None:  # (Dask: lazy slices at the boundaries, their order shuffled if asked)
            order = default_rng(self.rng).permutation(len(self._bounds)) if self.shuffle else range(len(self._bounds))
            for i in order:
                start, stop = self._bounds[i]
                yield self._slice(slice(start, stop))
            return
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

    def _slice(self, index):
        """The batch at the slice ``index``: Dask arrays sliced lazily (a chunk, when aligned), NumPy ones too."""
        if isinstance(self.data, tuple):
            return tuple(a[index] for a in self.data)
        if isinstance(self.data, dict):
            return {key: a[index] for key, a in self.data.items()}
        return self.data[index]

    def __repr__(self):
        return (f"DataLoader({self.nobs} samples, batchsize={self.batchsize}, shuffle={self.shuffle}"
                f"{'' if self.partial else ', partial=False'})")


def _is_dask(a):
    """A Dask array (known without importing Dask: NumPy stays the one requirement)."""
    return type(a) is not np.ndarray and hasattr(a, "__dask_graph__") and hasattr(a, "chunks")


def _dask_bounds(arrays, nobs, batchsize, partial):
    """The ``(start, stop)`` of each batch of Dask ``arrays`` along the first axis.

    With ``batchsize`` None, or the size of their chunks (all but the last, which may be smaller), the
    batches are the chunks; otherwise slices of ``batchsize`` samples. ``partial=False`` drops a last
    batch smaller than the others.
    """
    chunks = {tuple(a.chunks[0]) for a in arrays}
    if len(chunks) != 1 and batchsize is None:
        raise ValueError(f"batchsize=None needs the Dask arrays of a DataLoader to have the same chunks along the "
                         f"first axis, got {sorted(chunks)}; rechunk them alike (x.rechunk({{0: n}})) or give batchsize")
    sizes = next(iter(chunks))
    aligned = batchsize is None or (len(chunks) == 1 and all(n == batchsize for n in sizes[:-1])
                                    and sizes[-1] <= batchsize)
    if aligned:
        bounds, start = [], 0
        for n in sizes:
            bounds.append((start, start + n))
            start += n
        full = batchsize if batchsize is not None else max(sizes, default=0)
    else:
        bounds = [(start, min(start + batchsize, nobs)) for start in range(0, nobs, batchsize)]
        full = batchsize
    if not partial and bounds and bounds[-1][1] - bounds[-1][0] < full:
        bounds.pop()
    return [b for b in bounds if b[1] > b[0]]
