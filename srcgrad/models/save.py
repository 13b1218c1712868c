"""Saving a model's arrays to ``.npz`` and loading them back into the same architecture.

The file holds one array per path from ``functor.leaves`` (every numeric
array of the model, trainable or not), named by its path's parts joined
with dots, e.g. ``layers.0.W``. A part that itself holds a dot or a
percent sign has them written ``%2E`` and ``%25`` (as in a URL), so a
field ``"a.b"`` and a field ``b`` inside a field ``a`` get different names;
two paths that would still share a name (a dict with both ``0`` and
``"0"`` as keys) are refused, never one of them dropped.

Saving is atomic: the arrays go to a temporary file in the target's
directory, which then replaces the target in one step (``os.replace``),
so a crash or an error mid-write never leaves a partial file. The file
keeps the mode of the file it replaces; a new one gets the mode a plain
``open()`` would give it (``0o666`` less the umask). Loading checks every
name, shape and dtype before it touches the model, so a file that does
not fit is refused whole and the model is left as it was.

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
import stat
import zipfile

import numpy as np

from .functor import leaves

__all__ = ["save", "load"]

#: The name of a model that is one bare array (its path is empty).
BARE = "array"


def name_of(path) -> str:
    """The name a model's array at ``path`` (a tuple of keys) is saved under.

    >>> name_of(("layers", 0, "W")), name_of(("a.b",)), name_of(("a", "b")), name_of(())
    ('layers.0.W', 'a%2Eb', 'a.b', 'array')
    """
    if not path:
        return BARE
    return ".".join(str(part).replace("%", "%25").replace(".", "%2E") for part in path)


def _arrays(model, doing):
    """``{name: array}`` of every numeric array of ``model``; ``ValueError`` if two share a name."""
    arrays, paths = {}, {}
    for path, array in leaves(model, trainable_only=False):
        name = name_of(path)
        if name in arrays:
            raise ValueError(f"cannot {doing} this model: the arrays at {_shown(paths[name])} and "
                             f"{_shown(path)} would both be named {name!r} in the file; give them "
                             f"keys that differ as strings")
        arrays[name], paths[name] = array, path
    return arrays


def _shown(path):
    return "".join(f"[{part!r}]" for part in path) or "the top"


def save(path, model):
    """Write the arrays of ``model`` to the ``.npz`` file ``path``, atomically.

    >>> import os, tempfile, numpy as np
    >>> save(os.path.join(tempfile.mkdtemp(), "w.npz"), {"w": np.ones(3)})
    """
    path = os.path.realpath(os.fspath(path))  # (through a symlink, as open() writes)
    arrays = _arrays(model, "save")
    handle, temporary = _create_beside(path)
    try:
        with os.fdopen(handle, "wb") as file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave the temporary behind.
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _create_beside(path):
    """``(fd, name)`` of a new, empty temporary file in ``path``'s directory, with the mode ``path``
    has if it exists, else the mode ``open(path, "w")`` would create it with.

    Created with ``0o666`` and the kernel's umask (as ``open()`` does, and without
    changing the process's umask, which other threads share); ``tempfile.mkstemp``
    would make it ``0o600``, and the saved file would keep that.
    """
    directory, base = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue  # (a name already taken: draw another)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return handle, temporary
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(handle, mode)
        else:
            os.chmod(temporary, mode)
    except BaseException:
        os.close(handle)
        os.remove(temporary)
        raise
    return handle, temporary


def _write_npz(file, arrays):
    """Write ``arrays`` to ``file`` as NumPy's ``savez`` does, under exactly their names.

    Not ``np.savez(file, **arrays)``: that takes an array named ``file`` or
    ``allow_pickle`` for its own argument.
    """
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def load(path, model):
    """Copy the arrays saved in ``path`` into ``model``'s arrays (in place) and return ``model``.

    The file must hold exactly the model's array names, with the same
    shapes and castable dtypes; otherwise a ``ValueError`` lists every
    difference and nothing is changed. A ``.npy`` file (one array, no
    name) loads into a model of exactly one array.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> save(path, {"w": np.ones(3)})
    >>> load(path, {"w": np.zeros(2)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot load ... into this model: w has shape (3,) in the file but (2,) in the model
    """
    path = os.fspath(path)
    targets = _arrays(model, "load into")
    stored = _read(path, targets)
    problems = [f"{name} is missing from the file" for name in targets if name not in stored]
    problems += [f"{name} is in the file but not in the model" for name in stored if name not in targets]
    for name, target in targets.items():
        if name not in stored:
            continue
        value = stored[name]
        if not isinstance(value, np.ndarray):
            problems.append(f"{name} in the file is not a NumPy array")
        elif value.shape != target.shape:
            problems.append(f"{name} has shape {value.shape} in the file but {target.shape} in the model")
        elif not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
            problems.append(f"{name} is {value.dtype} in the file but {target.dtype} in the model")
    if problems:
        raise ValueError(f"cannot load {path} into this model: " + "; ".join(problems))
    for name, target in targets.items():
        np.copyto(target, stored[name], casting="same_kind")
    return model


def _read(path, targets):
    """``{name: value}`` of what ``path`` holds; a ``.npy`` file's one array under the model's one name."""
    try:
        file = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, zipfile.BadZipFile) as error:  # (not OSError: a missing file says so)
        raise ValueError(f"cannot load {path}: it is not an .npz file of arrays such as save() writes") from error
    if isinstance(file, np.ndarray):
        if len(targets) != 1:
            raise ValueError(f"cannot load {path} into this model: the file is a .npy file of one array, "
                             f"but the model has {len(targets)} arrays ({', '.join(targets) or 'none'}); "
                             f"save the model with srcgrad.models.save, which writes them all to an .npz file")
        return {next(iter(targets)): file}
    with file:
        try:
            return {name: file[name] for name in file.files}
        except (ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"cannot load {path}: a member of the file cannot be read as an array "
                             f"({error})") from error
