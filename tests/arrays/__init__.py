"""Gradients on arrays of other libraries than NumPy (SPEC section 7, issue 21)."""
