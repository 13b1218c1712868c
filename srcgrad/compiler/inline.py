"""Rules as templates: a one-line rule is pasted into generated code as plain arithmetic.

A rule ``def sin(dy, y, x): return (dy * np.cos(x),)`` becomes, at a call
``s = np.sin(a)``, the expression ``ds * np.cos(a)``. A rule longer than
one ``return`` of a tuple is not inlined: generated code calls it by name.
Names the rule reads from its own module (``np``, helper functions) are
handed to the generated code along with it.
"""

from __future__ import annotations

import builtins
import inspect
import threading
import types

import gast

from . import build, kept
from .parse import parse_body
from .resolve import MISSING

__all__ = ["Template", "template_of", "bind_arguments"]


class Template:
    """A rule as a template: its ``params`` (``dy``, ``y``, then the primal's), ``vararg``,
    ``kwonly`` parameters and ``defaults``; ``outputs``, one expression per primal argument
    (None when the rule is not inlinable); ``free``, name -> object for the globals those
    expressions read. (A plain class: a dataclass costs a millisecond to build at import.)"""

    def __init__(self, rule, params, vararg, defaults, outputs, free, kwonly=None):
        self.rule = rule
        self.params: list[str] = params
        self.vararg: str | None = vararg
        self.defaults: dict = defaults
        self.outputs: list | None = outputs
        self.free: dict = free
        self.kwonly: list = [] if kwonly is None else kwonly


_templates: dict = {}
_lock = threading.Lock()


def template_of(rule) -> Template:
    fn = rule.reverse
    with _lock:
        found = _templates.get(fn)
    if found is not None:
        return found
    params, kwonly, vararg, defaults = _parameters(fn)
    local = set(params) | set(kwonly) | ({vararg} if vararg else set())
    parsed = kept.recall(fn)
    if parsed is None:
        parsed = _outputs(fn, local)
        if parsed[0] is not None or parsed[1] is not None:
            kept.keep(fn, *parsed)
    outputs, names = parsed
    free = {}
    for name in names or ():
        value = fn.__globals__.get(name, getattr(builtins, name, MISSING))
        if value is MISSING:
            outputs, free = None, {}
            break
        free[name] = value
    template = Template(fn, params, vararg, defaults, outputs, free, kwonly)
    with _lock:
        _templates[fn] = template
    return template


def _outputs(fn, local):
    """``(outputs, names)`` of a rule read from its source: one expression per primal argument when
    its body is one ``return`` of a tuple, and the other names those read (in order); ``outputs``
    None when it is not (``names`` None too when there is no source to read)."""
    try:
        statements = parse_body(fn)
    except Exception:
        return None, None
    body = [s for s in statements if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
    if not (len(body) == 1 and isinstance(body[0], gast.Return) and isinstance(body[0].value, gast.Tuple)):
        return None, []
    names = []
    for node in build.walk(body[0].value):
        if isinstance(node, gast.Name) and node.id not in local and node.id not in names:
            names.append(node.id)
    return body[0].value.elts, names


def parameters_by_signature(fn):
    """``(params, kwonly, vararg, defaults)`` of any callable, from ``inspect.signature``."""
    params, kwonly, vararg, defaults = [], [], None, {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            vararg = p.name
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            params.append(p.name)
        elif p.kind == p.KEYWORD_ONLY:
            kwonly.append(p.name)
        if p.default is not p.empty:
            defaults[p.name] = p.default
    return params, kwonly, vararg, defaults


def _parameters(fn):
    """``(params, kwonly, vararg, defaults)`` of a rule's function.

    Read from its code object when it is a plain function: ``inspect.signature``
    gives the same but costs about 0.1 ms a rule, and a first gradient builds
    a template for each rule it uses.
    """
    code = getattr(fn, "__code__", None)
    if type(fn) is not types.FunctionType or hasattr(fn, "__wrapped__") or hasattr(fn, "__signature__"):
        code = None  # (a wrapper, or a signature of its own: inspect.signature knows those)
    if code is None:
        return parameters_by_signature(fn)
    npos, nkw = code.co_argcount, code.co_kwonlyargcount
    params = list(code.co_varnames[:npos])
    kwonly = list(code.co_varnames[npos:npos + nkw])
    vararg = code.co_varnames[npos + nkw] if code.co_flags & inspect.CO_VARARGS else None
    positional_defaults = fn.__defaults__ or ()
    defaults = dict(zip(params[npos - len(positional_defaults):], positional_defaults))
    defaults.update(fn.__kwdefaults__ or {})
    return params, kwonly, vararg, defaults


def bind_arguments(template: Template, args: list, keywords: dict):
    """Map a call's argument expressions onto the rule's primal parameters.

    Returns ``{param: expr}`` (defaults filled in as literals or ``MISSING``)
    or ``None`` when the call does not fit the rule's signature.
    """
    primal = template.params[2:]
    bound = {}
    if len(args) > len(primal) and template.vararg is None:
        return None
    for param, arg in zip(primal, args):
        bound[param] = arg
    if template.vararg is not None:
        bound[template.vararg] = gast.Tuple(elts=list(args[len(primal):]), ctx=gast.Load())
    for key, value in keywords.items():
        if key not in primal + template.kwonly or key in bound:
            return None
        bound[key] = value
    for param in primal + template.kwonly:
        if param not in bound:
            if param not in template.defaults:
                return None
            default = template.defaults[param]
            if isinstance(default, (int, float, complex, str, bool, type(None))):
                bound[param] = gast.Constant(value=default, kind=None)
            else:
                bound[param] = MISSING
    return bound


def substitute(expr, mapping: dict):
    """A copy of ``expr`` with names replaced by the expressions in ``mapping``."""
    return build.substituted(expr, mapping)
