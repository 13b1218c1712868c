"""Library code is never read: an installed package's function without a rule is refused at the user's line.

A fake package written into a directory the tests mark as installed (by
adding it to ``LIBRARY_ROOTS``) stands for SciPy or scikit-learn; the
user's program is a module in another temporary directory, as a script or a
project module would be.
"""

import importlib
import json
import os
import sys
import textwrap

import numpy as np
import pytest

import srcgrad
from srcgrad.calls import cache
from srcgrad.compiler import library

FAKE = '''
import numpy as np


def scale(x):
    return 2.0 * x


class Affine:
    def __init__(self, w):
        self.w = w

    def apply(self, x):
        return self.w * x

    def __call__(self, x):
        return self.w * x

    def reset(self, w):
        self.w = w
'''

USER = '''
import numpy as np
import fakepkg


def static(x):
    return np.sum(fakepkg.scale(x))


def held(x):
    funs = [fakepkg.scale]
    return np.sum(funs[0](x))


def method(x):
    a = AFFINE
    return np.sum(a.apply(x))


def called_object(x):
    a = AFFINE
    return np.sum(a(x))


def mutated(x):
    a = AFFINE
    a.reset(x)
    return np.sum(a.w)


def constructed(w, x):
    a = fakepkg.Affine(w)
    return np.sum(a.w * x)


AFFINE = fakepkg.Affine(3.0)
'''


@pytest.fixture
def programs(tmp_path, monkeypatch):
    """``(fakepkg, user)``: a package under a directory marked installed, and the user's module calling it."""
    site = tmp_path / "site"
    (site / "fakepkg").mkdir(parents=True)
    (site / "fakepkg" / "__init__.py").write_text(FAKE)
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "user_prog.py").write_text(USER)
    monkeypatch.setattr(library, "LIBRARY_ROOTS", library.LIBRARY_ROOTS + [os.path.join(str(site), "")])
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(mine))
    for name in ("fakepkg", "user_prog"):
        sys.modules.pop(name, None)
    fake, user = importlib.import_module("fakepkg"), importlib.import_module("user_prog")
    yield fake, user
    library.traced.discard("fakepkg")
    for name in ("fakepkg", "user_prog"):
        sys.modules.pop(name, None)
    srcgrad.clear_cache()


def _user_line(user, text):
    """The line of ``user``'s file that holds ``text``."""
    lines = open(user.__file__).read().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_installed_locations_are_library_and_the_rest_is_the_users(tmp_path):
    assert library.is_library_file(json.__file__)
    assert library.is_library_file(np.__file__)
    assert library.is_library_file("/opt/venv/lib/python3.11/site-packages/pkg/mod.py")
    assert library.is_library_file("/usr/lib/python3/dist-packages/pkg/mod.py")
    assert library.is_library_file("<frozen posixpath>")
    assert not library.is_library_file(str(tmp_path / "script.py"))
    assert not library.is_library_file(__file__)
    assert not library.is_library_file("<string>")  # exec, dataclasses' __init__
    assert not library.is_library_file("<ipython-input-3-abc>")
    assert not library.is_library_file(srcgrad.models.__file__)


def test_srcgrad_itself_is_not_library_code_even_when_installed(monkeypatch):
    root = os.path.dirname(os.path.dirname(os.path.abspath(srcgrad.__file__)))
    monkeypatch.setattr(library, "LIBRARY_ROOTS", library.LIBRARY_ROOTS + [os.path.join(root, "")])
    assert not library.is_library_code(srcgrad.models.Dense)
    assert not library.is_library_code(srcgrad.models.Dense.__call__)
    assert library.is_library_code(json.dumps)


def test_methods_constructors_and_callable_objects_are_judged_by_the_function_read(programs):
    fake, user = programs
    assert library.is_library_code(fake.scale)
    assert library.is_library_code(fake.Affine)  # its __init__
    assert library.is_library_code(user.AFFINE.apply)  # a bound method of a library class's instance
    assert library.is_library_code(user.AFFINE)  # its __call__
    assert not library.is_library_code(user.static)
    assert not library.is_library_code(np.sin)  # no Python source: rules decide
    assert library.source_function(user.AFFINE.apply) is fake.Affine.apply


@pytest.mark.parametrize("name, text", [
    ("static", "fakepkg.scale(x)"),
    ("held", "funs[0](x)"),
    ("method", "a.apply(x)"),
    ("called_object", "a(x)"),
    ("mutated", "a.reset(x)"),
])
def test_a_library_function_without_a_rule_is_refused_at_the_users_line(programs, name, text):
    fake, user = programs
    with pytest.raises(srcgrad.NoRuleError) as caught:
        srcgrad.gradient(getattr(user, name), np.ones(3))
    err = caught.value
    assert err.filename == user.__file__
    assert err.lineno == _user_line(user, text)
    assert "does not read the source of library code" in str(err)
    assert "srcgrad.trace_library('fakepkg')" in str(err)
    assert "srcgrad.defrule(" in str(err)
    assert "fakepkg/__init__.py" not in str(err)


def test_a_library_constructor_is_refused_at_the_users_line(programs):
    fake, user = programs
    with pytest.raises(srcgrad.NoRuleError) as caught:
        srcgrad.gradient(user.constructed, 2.0, np.ones(3))
    assert caught.value.filename == user.__file__
    assert caught.value.lineno == _user_line(user, "fakepkg.Affine(w)")
    assert "trace_library('fakepkg')" in str(caught.value)


def test_a_library_function_passed_directly_is_refused_at_this_line(programs):
    fake, _ = programs
    with pytest.raises(srcgrad.NoRuleError) as caught:
        srcgrad.gradient(fake.scale, np.ones(3))  # the refused call
    assert caught.value.filename == __file__
    assert "# the refused call" in open(__file__).read().splitlines()[caught.value.lineno - 1]


def test_forward_mode_refuses_library_code_too(programs):
    fake, user = programs
    with pytest.raises(srcgrad.NoRuleError) as caught:
        srcgrad.jvp(user.held, (np.ones(3),), (np.ones(3),))
    assert caught.value.filename == user.__file__
    assert "trace_library('fakepkg')" in str(caught.value)


def test_a_rule_for_the_library_function_is_used_instead(programs):
    fake, user = programs

    @srcgrad.defrule(fake.scale)
    def scale_rule(dy, y, x):
        return (2.0 * dy,)

    try:
        assert np.allclose(srcgrad.gradient(user.static, np.ones(3))[0], 2.0)
    finally:
        from srcgrad.rules import registry
        registry.rules.pop(fake.scale, None)
        registry._changed(fake.scale)


def test_trace_library_opts_a_pure_python_package_in(programs):
    fake, user = programs
    srcgrad.trace_library("fakepkg")
    x = np.array([1.0, 2.0, 3.0])
    assert np.allclose(srcgrad.gradient(user.static, x)[0], 2.0)
    assert np.allclose(srcgrad.gradient(user.held, x)[0], 2.0)
    assert np.allclose(srcgrad.gradient(user.method, x)[0], 3.0)
    assert np.allclose(srcgrad.gradient(user.called_object, x)[0], 3.0)
    dw, dx = srcgrad.gradient(user.constructed, 2.0, x)
    assert np.isclose(dw, 6.0) and np.allclose(dx, 2.0)
    assert np.allclose(srcgrad.jvp(user.held, (x,), (np.ones(3),))[1], 6.0)


def test_trace_library_takes_top_level_package_names():
    with pytest.raises(ValueError, match="top-level"):
        srcgrad.trace_library("scipy.stats")


def test_the_check_runs_on_a_cache_miss_only(programs, monkeypatch):
    fake, user = programs
    srcgrad.trace_library("fakepkg")
    asked = []
    real = cache.is_library_code
    monkeypatch.setattr(cache, "is_library_code", lambda fn: asked.append(fn) or real(fn))
    x = np.ones(3)
    srcgrad.gradient(user.held, x)
    first = len(asked)
    assert first >= 1  # user.held and fakepkg.scale, compiled
    for _ in range(3):
        srcgrad.gradient(user.held, x)
    assert len(asked) == first


def test_scipy_stats_is_refused_at_the_users_line(tmp_path, monkeypatch):
    stats = pytest.importorskip("scipy.stats")
    (tmp_path / "gauss_prog.py").write_text(textwrap.dedent('''
        import numpy as np
        import scipy.stats


        def loglik(mu):
            return np.sum(scipy.stats.laplace.logpdf(mu))


        def normal_loglik(mu):
            return np.sum(scipy.stats.norm.logpdf(mu))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("gauss_prog", None)
    prog = importlib.import_module("gauss_prog")
    assert library.is_library_code(stats.laplace.logpdf)
    with pytest.raises(srcgrad.NoRuleError) as caught:
        srcgrad.gradient(prog.loglik, np.zeros(2))
    assert caught.value.filename == prog.__file__
    assert caught.value.lineno == 7
    assert "_distn_infrastructure" not in (caught.value.filename or "")
    assert "scipy.stats.laplace.logpdf" in str(caught.value)
    # (norm.logpdf has a rule of srcgrad's: only the distributions without one are refused)
    np.testing.assert_allclose(srcgrad.gradient(prog.normal_loglik, np.array([0.5, -1.0]))[0], [-0.5, 1.0])
    sys.modules.pop("gauss_prog", None)


def test_the_examples_in_the_docstrings_run():
    import doctest
    result = doctest.testmod(library)
    assert result.attempted >= 5 and result.failed == 0
    assert "json" not in library.traced


def test_no_library_file_is_parsed_on_the_way_to_the_refusal(programs, monkeypatch):
    read = []
    for module in map(importlib.import_module, ("srcgrad.compiler.aliasing_calls", "srcgrad.compiler.prepare")):
        real = module.parse_function
        monkeypatch.setattr(module, "parse_function", lambda fn, real=real: read.append(fn) or real(fn))
    fake, user = programs
    for name in ("static", "held", "method", "mutated"):
        with pytest.raises(srcgrad.NoRuleError):
            srcgrad.gradient(getattr(user, name), np.ones(3))
    assert read and all(fn.__module__ == "user_prog" for fn in read)
