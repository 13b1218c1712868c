"""The catalogue of small programs (issue 3): everyday Python, differentiated and checked.

One file per group: control flow, containers, array mutation, objects,
non-differentiable code, refused constructs, values passed by keyword. Every program is an ordinary
module-level function, checked against central finite differences at two or
more inputs (see :mod:`programs.checks`), or against an exact gradient.
"""
