"""The run-time functions the calling layer hands the compiler.

Generated code calls back into the calling layer (``pullback_wrt`` for a
call of a user's function, ``mutate`` for a helper that changes its
argument, ``tangent_call`` and ``transposed_tangent`` in forward mode),
and a pass or two asks it a question while compiling (is this a stand-in
for a public function?). The compiler
does not import the calling layer, which imports the compiler:
:mod:`srcgrad.calls` hands these over once, at import, with
:func:`provide`, and the passes read them from here at compile time.
"""

from __future__ import annotations

__all__ = ["provide", "NAMES"]

#: The names the calling layer provides, each read by the passes as ``provided.<name>``.
NAMES = ("pullback", "pullback_wrt", "mutate", "tangent_call", "index_tangent", "transposed_tangent", "stand_in_for")


def provide(**functions) -> None:
    """Set the run-time functions named in :data:`NAMES` (all of them, once, from :mod:`srcgrad.calls`)."""
    unknown = set(functions) - set(NAMES)
    if unknown:
        raise TypeError(f"the compiler takes no run-time function named {', '.join(sorted(unknown))}")
    globals().update(functions)
