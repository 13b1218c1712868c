"""Train and test mode: the ``training`` field of every layer inside a model.

A layer that behaves differently when training (``Dropout`` drops,
``BatchNorm`` uses the batch's statistics and updates its running ones)
has a bool field ``training``, ``True`` from its constructor: every model
starts in train mode, as in PyTorch. :func:`testmode` and
:func:`trainmode` walk the model as ``functor.children`` does (fields,
lists, tuples, dicts, captured variables of closures, the object of a
bound method), each part once however often it is reached, and set that
field wherever they find it. A field named ``training`` that is not a
bool belongs to something else and is left alone.

>>> from srcgrad.models import Chain, Dense
>>> from srcgrad.models.dropout import Dropout
>>> model = Chain(Dense(2, 3), Dropout(0.5))
>>> model[1].training
True
>>> testmode(model)[1].training
False
>>> trainmode(model)[1].training
True
"""

from __future__ import annotations

import types

from .functor import children

__all__ = ["trainmode", "testmode"]


def trainmode(model):
    """Put every layer inside ``model`` in train mode (``training = True``) and return ``model``.

    >>> from srcgrad.models.dropout import Dropout
    >>> trainmode([Dropout(0.1), {"head": Dropout(0.2)}])[1]["head"].training
    True
    """
    return _set_training(model, True)


def testmode(model):
    """Put every layer inside ``model`` in test mode (``training = False``) and return ``model``.

    >>> from srcgrad.models.dropout import Dropout
    >>> layer = testmode(Dropout(0.5))
    >>> layer.training
    False
    """
    return _set_training(model, False)


def _set_training(model, value):
    seen = {}  # id -> part (holding each part, so no id is reused while walking)
    waiting = [model]
    while waiting:  # (a loop, not recursion: a deep model must not hit the recursion limit)
        part = waiting.pop()
        if isinstance(part, types.MethodType):  # a bound method stands for its object
            part = part.__self__
        if id(part) in seen:  # shared, or a model that refers back to itself
            continue
        seen[id(part)] = part
        fields = getattr(part, "__dict__", None)
        if isinstance(fields, dict) and isinstance(fields.get("training"), bool) and not isinstance(part, type):
            part.training = value
        elif _slot_training(part):
            part.training = value
        waiting.extend(reversed(list(children(part).values())))
    return model


def _slot_training(part):
    """Whether ``part`` keeps a bool ``training`` in a ``__slots__`` field."""
    if getattr(part, "__dict__", None) is not None or isinstance(part, type):
        return False
    slots = (name for klass in type(part).__mro__ for name in getattr(klass, "__slots__", ()))
    return "training" in slots and isinstance(getattr(part, "training", None), bool)


# pytest collects module-level functions named test*: a test file that imports testmode
# must not have it run as a test (with a fixture "model" it cannot find).
testmode.__test__ = False
