"""Tapes: what a loop overwrites, kept for the backward pass, last value first.

The forward writes ``h_tape = push(h_tape, h)`` before ``h`` is
overwritten; the backward reads ``h, h_tape = pop(h_tape)``. A tape is a
persistent stack, a chain of :class:`Tape` cells, so ``push`` and ``pop``
each cost one step and change nothing in place:

- the saved tape is still whole after a backward pass, so a pullback can
  run its backward any number of times (``jacobian`` does);
- a tape is an ordinary value, so generated code that pushes and pops can
  be differentiated again (higher order). ``push`` and ``pop`` have rules
  (``srcgrad/rules/runtime.py``): the gradient of a tape is a tape of the
  gradients of its values, and the transpose of a push is a pop.

``None`` is the empty tape, and, as everywhere in srcgrad, the zero
gradient: a gradient tape may stop early (a ``None`` rest), meaning zeros
for every value below.
"""

from __future__ import annotations

from .accumulate import accum

__all__ = ["Tape", "new_tape", "pop", "push", "tape_grad", "tape_rest", "tape_top"]


class Tape:
    """One cell of a tape: the value pushed last (``top``) and the tape before it (``rest``)."""

    __slots__ = ("rest", "top")

    def __init__(self, top, rest):
        self.top = top
        self.rest = rest

    def __add__(self, other):
        """Two gradient tapes of the same tape, added value by value (what ``accum`` calls)."""
        if other is None:
            return self
        tops = []
        a, b = self, other
        while a is not None and b is not None:
            tops.append(accum(a.top, b.top))
            a, b = a.rest, b.rest
        out = a if a is not None else b
        for top in reversed(tops):
            out = Tape(top, out)
        return out

    def __repr__(self):
        values, cell = [], self
        while cell is not None:
            values.append(cell.top)
            cell = cell.rest
        return f"Tape({values!r}, last first)"


def new_tape():
    """An empty tape."""
    return None  # noqa: RET501 (the empty tape is None, said plainly)


def push(tape, value):
    """``tape`` with ``value`` on top (the tape itself is left as it was)."""
    return Tape(value, tape)


def pop(tape):
    """``(value, rest)``: the value pushed last, and the tape before it was pushed.

    (A ``None`` tape here is a zero gradient tape, as forward mode meets
    it: its values are zeros, ``None``.)
    """
    if tape is None:
        return None, None
    return tape.top, tape.rest


def tape_top(g):
    """The top of a gradient tape (``None`` for a zero one)."""
    return None if g is None else g.top


def tape_rest(g):
    """A gradient tape without its top (``None`` for a zero one)."""
    return None if g is None else g.rest


def tape_grad(rest, top):
    """The gradient tape with ``top`` on ``rest``; ``None`` when both are zero."""
    if rest is None and top is None:
        return None
    return Tape(top, rest)
