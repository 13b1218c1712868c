"""Benchmarks for srcgrad against hand-written NumPy, autograd, JAX, PyTorch and tangent-ad.

Run ``python -m benchmarks`` from the repository root (``--help`` for options);
results go to ``docs/benchmarks.md`` and ``benchmarks/results.json``.
"""
