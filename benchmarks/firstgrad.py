"""Cold-start costs, each measured in a fresh Python process.

- ``import numpy`` alone: the floor under ``import srcgrad``,
- ``import srcgrad`` (cold: NumPy is imported by it; and with NumPy already imported),
- time to first gradient after ``import srcgrad``: transform + compile + one call,
  for the MLP loss and for a ~50-line function (:mod:`benchmarks.fifty`).

By default the children find Python's bytecode for srcgrad cached, as it is
after ``pip install`` or any earlier run: they write it under a temporary
``PYTHONPYCACHEPREFIX`` (never into the repository), after one unmeasured
child. That child also leaves the parsed rules srcgrad keeps beside the
bytecode (:mod:`srcgrad.compiler.kept`), as any earlier gradient would; the
very first gradient after installing parses them, about 1.3 ms more for
the MLP. ``bytecode=False`` measures the environment as it is, where
``PYTHONDONTWRITEBYTECODE`` may make every child compile srcgrad's source
(about 150 ms, which then falls in the import or the first gradient).

The parent runs ``python -m benchmarks.firstgrad KIND`` several times and
takes medians; the child prints one JSON line. Nothing is imported at the
top of this module beyond the standard library, so the child's clock sees
``import srcgrad`` whole.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KINDS = ("numpy", "import", "import_after_numpy", "mlp", "fifty")


def _child(kind):
    out = {}
    if kind == "numpy":
        t0 = time.perf_counter()
        import numpy  # noqa: F401

        out["seconds"] = time.perf_counter() - t0
    elif kind == "import":
        t0 = time.perf_counter()
        import srcgrad  # noqa: F401

        out["seconds"] = time.perf_counter() - t0
    elif kind == "import_after_numpy":
        import numpy  # noqa: F401

        t0 = time.perf_counter()
        import srcgrad  # noqa: F401

        out["seconds"] = time.perf_counter() - t0
    else:
        import srcgrad

        if kind == "mlp":
            from benchmarks import data, objectives

            wrt, consts = data.mlp_inputs()
            f = objectives.bind_mlp(*consts)
        else:
            from benchmarks import fifty

            wrt, consts = fifty.inputs()
            f = fifty.bind(*consts)
        f(*wrt)  # the primal once, so NumPy/BLAS warm-up is not charged to srcgrad
        t0 = time.perf_counter()
        srcgrad.gradient(f, *wrt)
        t1 = time.perf_counter()
        srcgrad.gradient(f, *wrt)
        t2 = time.perf_counter()
        out["seconds"] = t1 - t0
        out["second_call_seconds"] = t2 - t1
    print(json.dumps(out))


def measure(kind, repeats=5, timeout=120.0, bytecode=True):
    """Median over ``repeats`` fresh processes; a dict with ``seconds`` or ``error``.

    ``bytecode``: srcgrad's bytecode is cached, as after ``pip install``
    (see the module's docstring); ``False`` keeps the environment as it is.
    """
    samples, second = [], []
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "srcgrad-firstgrad-pycache")
        subprocess.run([sys.executable, "-m", "benchmarks.firstgrad", kind], cwd=REPO, env=env,
                       capture_output=True, timeout=timeout)  # writes the bytecode; not measured
    for _ in range(repeats):
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.firstgrad", kind],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s (first gradient not finished)", "samples": samples}
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
            return {"error": f"child failed (exit {proc.returncode}):\n{tail}", "samples": samples}
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        samples.append(rec["seconds"])
        if "second_call_seconds" in rec:
            second.append(rec["second_call_seconds"])
    res = {"seconds": statistics.median(samples), "samples": samples}
    if second:
        res["second_call_seconds"] = statistics.median(second)
    return res


if __name__ == "__main__":
    _child(sys.argv[1])
