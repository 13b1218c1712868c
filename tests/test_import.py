"""``import srcgrad`` loads what every gradient needs (NumPy, the rules, the compiler and gast);
the rest (models, optimisers, optional libraries) loads on first use.

Each check runs in a fresh interpreter, since this test process has long
since imported everything.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import srcgrad

ROOT = Path(__file__).resolve().parents[1]

#: Loaded on first use, never by ``import srcgrad`` itself.
LAZY = ["srcgrad.models", "srcgrad.optim", "numpy.random",
        "scipy", "tqdm", "matplotlib"]


def run(code, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(cwd or ROOT)]))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_loads_no_optional_modules():
    loaded = run(f"""
        import json, sys
        import srcgrad
        print(json.dumps([m for m in {LAZY!r} if m in sys.modules]))
    """)
    assert loaded == []


def test_import_loads_the_compiler():
    """The first gradient is transform and compile only, not the compiler's import too."""
    loaded = run("""
        import json, sys
        import srcgrad
        print(json.dumps(["srcgrad.compiler" in sys.modules, "gast" in sys.modules]))
    """)
    assert loaded == [True, True]


def test_lazy_parts_load_on_first_use(tmp_path):
    (tmp_path / "poly.py").write_text("def f(x):\n    return 3 * x ** 2\n")
    loaded = run("""
        import json, sys
        import srcgrad
        from poly import f
        out = {"gradient": srcgrad.gradient(f, 2.0), "compiler": "srcgrad.compiler" in sys.modules}
        out["info"] = list(srcgrad.cache_info())
        out["dense"] = srcgrad.models.Dense.__name__
        from srcgrad import optim
        out["adam"] = optim.Adam.__name__
        out["listed"] = all(name in dir(srcgrad) for name in srcgrad.__all__)
        print(json.dumps(out))
    """, cwd=tmp_path)
    assert loaded == {"gradient": [12.0], "compiler": True, "info": [0, 1, 1], "dense": "Dense",
                      "adam": "Adam", "listed": True}


def test_random_numbers_are_constants_when_numpy_random_is_imported_after_srcgrad(tmp_path):
    (tmp_path / "noisy.py").write_text(textwrap.dedent("""
        import numpy as np


        def f(x):
            return x * np.random.normal() + x * np.random.default_rng(0).normal()
    """))
    out = run("""
        import json, sys
        import srcgrad
        assert "numpy.random" not in sys.modules
        import numpy as np
        from noisy import f
        np.random.seed(0)
        a = np.random.normal()
        expected = a + np.random.default_rng(0).normal()
        np.random.seed(0)
        print(json.dumps(srcgrad.gradient(f, 1.0)[0] - expected))
    """, cwd=tmp_path)
    assert abs(out) < 1e-12


def test_unknown_attribute_is_an_attribute_error():
    try:
        srcgrad.no_such_thing
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("srcgrad.no_such_thing did not raise")
