"""SciPy's rules are registered once a program imports scipy.special, whichever SciPy function comes first."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("scipy.special")


def run(tmp_path, source):
    script = tmp_path / "program.py"
    script.write_text(textwrap.dedent(source))
    root = str(Path(__file__).resolve().parents[2])  # (this checkout's srcgrad, not an installed one)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_expit_first_in_a_fresh_process(tmp_path):
    """(Was: NoRuleError until logsumexp had been differentiated once.)"""
    out = run(tmp_path, """
        import scipy.special
        import srcgrad
        print(round(srcgrad.gradient(lambda x: scipy.special.expit(x), 0.3)[0], 6))
    """)
    assert out == "0.244458"


def test_scipy_imported_after_srcgrad(tmp_path):
    out = run(tmp_path, """
        import sys
        import srcgrad
        assert "scipy" not in sys.modules  # (import srcgrad does not import SciPy)
        from scipy.special import gammaln
        print(round(srcgrad.gradient(lambda x: gammaln(x), 2.0)[0], 6))
    """)
    assert out == "0.422784"


def test_scipy_stats_imported_after_srcgrad(tmp_path):
    """A distribution's method runs as its stand-in, whichever registry use comes first after the import."""
    out = run(tmp_path, """
        import sys
        import srcgrad
        assert "scipy" not in sys.modules
        import scipy.stats
        print(round(srcgrad.gradient(lambda m: scipy.stats.norm.logpdf(0.3, loc=m, scale=2.0), 0.1)[0], 6))
    """)
    assert out == "0.05"
