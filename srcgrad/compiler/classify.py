"""Stage 6, transform, step 1 (both modes): classify each statement of the normalised function.

After this step every assignment has an :class:`Op` saying what it
computes, for the reverse and forward transforms: a derivative rule to
inline (``rule``) or call (``rulecall``), a function to differentiate
through at run time (``dynamic``: ``pullback``), a structural read
(``attr``, ``index``, ``display``, ``unpack``, ``concat``, ``repeat``), a
``copy``, a ``closure``, an ``setattr``, or something without a gradient
(``inactive``). Calls with no rule and no source are refused here, naming
the function and how to add its rule.
"""

from __future__ import annotations

import builtins
import copy
import functools
import operator
import types

import gast

from ..errors import NoRuleError, UnsupportedSyntaxError
from ..rules import creation as creation_rules
from ..rules import registry
from ..runtime import tape
from ..runtime.located import callable_name
from ..runtime.structure import is_plain_namedtuple_class
from . import build
from .injection import INACTIVE_HELPERS, Injector, runtime_helper
from .inline import bind_arguments, substitute, template_of
from .library import is_library_code, refusal
from .normal import bound_names
from .resolve import MISSING, is_constant_value

__all__ = ["Classifier", "Op", "targets_of", "walk_stmts", "unstar", "pure", "index_expr", "dotted"]

_BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
    gast.Mod: operator.mod, gast.FloorDiv: operator.floordiv,
    gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
    gast.LShift: operator.lshift, gast.RShift: operator.rshift,
}
_UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_, gast.Invert: operator.invert}


class Op:
    """What one normalised statement computes, for the backward pass."""

    def __init__(self, kind, operands=None, rule=None, bindings=None, callee=None, callee_target=None,
                 keywords=None, positions=None, index=None, attr=None, numeric=False, reads=None,
                 maybe_method=False):
        self.kind: str = kind  # copy, rule, rulecall, dynamic, attr, index, display, unpack, inactive,
        # or an idiom's: logsumexp, logsoftmax, softmax
        self.operands: list = [] if operands is None else operands  # atoms that may receive gradient
        self.rule = rule
        self.bindings: dict | None = bindings
        self.callee = callee  # dynamic: the callee expression; rule methods: receiver
        self.callee_target: str | None = callee_target  # the name receiving the callee's gradient
        self.keywords: dict | None = keywords
        #: Keywords that fill a positional parameter of a rule's primal: keyword -> position.
        self.positions: dict | None = positions
        self.index = index
        self.attr: str | None = attr
        self.numeric: bool = numeric  # the result is certainly a number or an array
        #: An idiom's operation (see idioms.py): the forward's names its gradient reads.
        self.reads: tuple | None = reads
        #: attr: ``obj.attr`` may be a bound method (``obj``'s class is not known): asked at run time.
        self.maybe_method: bool = maybe_method
        #: dynamic: the dict of a call's ``**`` keywords (``f(x, **options)``), last among them.
        self.spread = None


class Classifier(Injector):
    """Classify statements into :class:`Op` (``ops``: statement id -> Op), as both transforms read them."""

    def __init__(self, parsed, scope, namer, fdef):
        super().__init__(scope, namer)
        self.parsed = parsed
        self.fdef = fdef
        self.ops: dict[int, Op] = {}
        #: Names known to hold a tuple or list (displays, tuple(...), list(...), joins of those).
        self.sequences: set[str] = set()
        #: Names holding the (value, rest) pair a tape's pop returns.
        self.pairs: set[str] = set()
        #: ``np.r_[0:3, a]`` statements (a slice among the items) and the names they read.
        self.index_tricks: list = []
        self.depends_on: list = []

    def is_active_atom(self, atom) -> bool:
        return isinstance(atom, gast.Name) and atom.id in self.active

    def error_no_rule(self, stmt, what, target=MISSING):
        """Refuse the call ``what`` (as written) of ``target`` (the object it names, when known)."""
        held = callable_name(target) if target is not MISSING else what
        called = what if held == what else f"{what} (which is {held})"  # (fun, a variable holding np.cosh)
        what = held
        raise NoRuleError(
            f"no derivative rule for {called}, and it has no Python source to differentiate",
            filename=self.parsed.filename,
            lineno=getattr(stmt, "_srcgrad_line", None),
            fix=f"register one: @srcgrad.defrule({what})\n"
            f"     def {_short(what)}_rule(dy, y, *args): return (<gradient for each argument>,)\n"
            f"     or mark it constant with srcgrad.nograd({what}) if it passes no gradient",
        )

    def classify(self, stmt) -> Op:
        if isinstance(stmt, gast.FunctionDef) or isinstance(getattr(stmt, "value", None), gast.Lambda):
            return self.closure_op(stmt if isinstance(stmt, gast.FunctionDef) else stmt.value)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Attribute):
            return Op("setattr", operands=[stmt.value], attr=stmt.targets[0].attr, callee=stmt.targets[0].value)
        if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0], gast.Name):
            return Op("unpack", operands=[stmt.value])
        value = stmt.value
        if isinstance(value, gast.Name):
            return Op("copy", operands=[value])
        if isinstance(value, gast.Constant) or isinstance(value, gast.JoinedStr):
            return Op("inactive")
        if isinstance(value, gast.Attribute):
            if self.scope.is_static_path(value):
                return Op("inactive")
            rule = registry.attribute_rules.get(value.attr)
            if rule is not None:
                return self.rule_op(stmt, rule, [value.value], {})
            if value.attr in registry.nondiff_attributes:
                return Op("inactive")
            if value.attr in registry.method_rules:
                # total = a.sum: a bound method's gradient is its object's.
                return Op("copy", operands=[value.value])
            read = getattr(stmt, "_srcgrad_read", None)  # (receivers.py: a field, a method, or not known)
            if read == "method":
                return Op("copy", operands=[value.value])
            return Op("attr", operands=[value.value], attr=value.attr, maybe_method=read != "field")
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and any(
                isinstance(a, gast.Name) and a.id in self.sequences for a in (value.left, value.right)):
            # (None,) + rest joins sequences: each side's gradient is its slice of the result's
            self.sequences.add(stmt.targets[0].id)
            return Op("concat", operands=[value.left, value.right])
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult) and any(
                isinstance(a, gast.Name) and a.id in self.sequences for a in (value.left, value.right)):
            # [x] * 3 repeats a sequence: each element's gradient adds up over its copies
            self.sequences.add(stmt.targets[0].id)
            return Op("repeat", operands=[value.left, value.right])
        if isinstance(value, gast.BinOp):
            fn = _BINOPS[type(value.op)]
            return self.function_op(stmt, fn, [value.left, value.right], {}, what=f"operator.{fn.__name__}")
        if isinstance(value, gast.UnaryOp):
            fn = _UNARYOPS[type(value.op)]
            return self.function_op(stmt, fn, [value.operand], {}, what=f"operator.{fn.__name__}")
        if isinstance(value, gast.Compare):
            return Op("inactive")
        if isinstance(value, gast.Subscript) and self.scope.is_static_path(value.value) \
                and isinstance(self.scope.resolve(value.value), creation_rules.INDEX_TRICKS):
            return self.index_trick_op(stmt, value)
        if isinstance(value, gast.Subscript):
            return Op("index", operands=[value.value], index=value.slice)
        if isinstance(value, (gast.Tuple, gast.List)):
            self.sequences.add(stmt.targets[0].id)
            return Op("display", operands=list(value.elts))
        if isinstance(value, gast.Dict):
            return Op("display", operands=list(value.values), index=list(value.keys))
        if isinstance(value, gast.Call):
            return self.classify_call(stmt, value)
        return Op("inactive")

    def index_trick_op(self, stmt, value) -> Op:
        """``np.r_[a, b]``, ``np.c_[a, b]``: a call of ``index_trick(np.r_, a, b)``, which has a rule.

        A slice among the items (``np.r_[0:3, a]``) cannot be an argument:
        such a statement stays constant, and is refused if a gradient would
        have to flow through it (see :meth:`check_index_tricks`).
        """
        items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if any(isinstance(item, gast.Slice) for item in items):
            self.index_tricks.append((stmt, [n for n in build.walk(value.slice) if isinstance(n, gast.Name)]))
            return Op("inactive")
        helper = self.inject("index_trick", creation_rules.index_trick)
        stmt.value = gast.Call(func=build.name(helper), args=[value.value] + list(items), keywords=[])
        return self.rule_op(stmt, registry.lookup(creation_rules.index_trick), [value.value] + list(items), {})

    def is_method_of(self, receiver: str, attr: str) -> bool:
        """Whether ``receiver.attr`` is a method (its gradient is the receiver's), not a field.

        ``self`` in a method of a class the compiler can find is decided now;
        anything else is decided at run time by ``callee_grad``.
        """
        if receiver != (self.scope.params[0] if self.scope.params else None):
            return False
        parts = [p for p in self.scope.fn.__qualname__.split(".") if p != "<locals>"]
        cls = self.scope.fn.__globals__.get(parts[0]) if len(parts) == 2 else None
        return isinstance(cls, type) and callable(getattr(cls, attr, None)) and attr not in getattr(cls, "__dict__", {}) \
            or (isinstance(cls, type) and isinstance(cls.__dict__.get(attr), (types.FunctionType, staticmethod,
                                                                               classmethod)))

    def closure_op(self, fn) -> Op:
        """A function made here captures locals; its gradient (a dict by name) flows back to them."""
        body = fn.body if isinstance(fn, gast.Lambda) else gast.Module(body=fn.body, type_ignores=[])
        bound = bound_names(fn)
        captured = sorted({n.id for n in build.walk(body) if isinstance(n, gast.Name)
                           and isinstance(n.ctx, gast.Load) and n.id not in bound and n.id in self.scope.locals})
        return Op("closure", operands=[build.name(c) for c in captured], callee=fn)

    def lookup_rule(self, target):
        """The rule for a call to ``target`` (forward mode knows a few more)."""
        return registry.lookup(target)

    def classify_call(self, stmt, call) -> Op:
        args = list(call.args)
        if self.scope.resolve(call.func) in (builtins.tuple, builtins.list) and isinstance(stmt, gast.Assign) \
                and isinstance(stmt.targets[0], gast.Name):
            self.sequences.add(stmt.targets[0].id)
        helper = getattr(call.func, "_srcgrad_runtime", None)
        spreads = [k for k in call.keywords if k.arg is None]
        stars = sum(isinstance(a, gast.Starred) for a in args)
        if stars > 1 or len(spreads) > 1 or spreads and (stars or call.keywords[-1] is not spreads[0] or helper):
            raise UnsupportedSyntaxError(
                "a call with more than one '*' argument, with '*' and '**' together, with '**' before "
                "other keywords, or a method called for its effect with '**'",
                filename=self.parsed.filename, lineno=getattr(stmt, "_srcgrad_line", None),
                fix="build one tuple of positional arguments (f(*(a + b))), pass one dict of keywords "
                "last (f(x, a=1, **options)), and assign a method's result (obj = obj.update(**options))")
        if helper is not None:  # with_item, appended, mutate...: written by the normaliser
            call.func.id = self.inject(helper, runtime_helper(helper))
            if helper in INACTIVE_HELPERS:
                return Op("inactive")
            if helper == "mutate":
                return Op("dynamic", operands=args, callee=call.func, callee_target=None,
                           keywords={k.arg: k.value for k in call.keywords})
            return self.rule_op(stmt, registry.lookup(runtime_helper(helper)), args, {})
        op = self.call_op(stmt, call, args)
        if spreads:  # f(x, **options): a call srcgrad makes with the dict's keywords, at run time
            op.spread = spreads[0].value
            if op.kind == "inactive" and op.operands:  # (a random draw's parameters, checked by activity.py)
                op.operands.append(op.spread)
        return op

    def call_op(self, stmt, call, args) -> Op:
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        starred = any(isinstance(a, gast.Starred) for a in args) or any(k.arg is None for k in call.keywords)
        func = call.func
        if self.scope.is_static_path(func):
            target = self.scope.resolve(func)
            if target is not MISSING and not starred:
                rule = self.lookup_rule(target)
                if rule is not None:
                    self.depends_on.append(target)
                    if target is tape.pop and isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                        self.pairs.add(stmt.targets[0].id)
                    return self.rule_op(stmt, rule, args, keywords)
                called = _partial_func(target)  # functools.partial(np.sum, axis=0): np.sum is what runs
                if registry.is_in_place_draw(called):
                    raise registry.in_place_draw_error(dotted(func), self.parsed.filename,
                                                       getattr(stmt, "_srcgrad_line", None))
                if registry.is_nondiff(called) or called in _ALWAYS_CONSTANT:
                    self.depends_on.append(target)
                    if registry.is_random_draw(called):  # (refused if a parameter carries a gradient: activity.py)
                        return Op("inactive", operands=args + list(keywords.values()), callee=func)
                    return Op("inactive")
                if not _has_source(called) and (called is target or self.lookup_rule(called) is None):
                    self.depends_on.append(target)
                    self.error_no_rule(stmt, dotted(func), called)
                if is_library_code(called) and (called is target or self.lookup_rule(called) is None) \
                        and type(called) not in registry.callee_stand_ins:  # (those the calling layer decides)
                    self.depends_on.append(target)  # (a rule registered later takes effect)
                    message, fix = refusal(dotted(func), called)
                    raise NoRuleError(message, filename=self.parsed.filename,
                                      lineno=getattr(stmt, "_srcgrad_line", None), fix=fix)
            callee_target = func.id if isinstance(func, gast.Name) else None
            if target is not MISSING and is_constant_value(target) and not isinstance(target, type):
                callee_target = None
            if isinstance(target, type):
                callee_target = None
            return Op("dynamic", operands=args, callee=func, callee_target=callee_target, keywords=keywords)
        if isinstance(func, gast.Attribute):
            receiver = func.value
            rule = registry.method_rules.get(func.attr)
            if rule is not None and not starred and not self.scope.known_non_array(receiver):
                return self.rule_op(stmt, rule, [receiver] + args, keywords)
            if func.attr in registry.nondiff_methods:
                return Op("inactive")
            return Op("dynamic", operands=args, callee=func,
                        callee_target=receiver.id if isinstance(receiver, gast.Name) else None, keywords=keywords)
        return Op("dynamic", operands=args, callee=func,
                   callee_target=func.id if isinstance(func, gast.Name) else None, keywords=keywords)

    def function_op(self, stmt, fn, args, keywords, what):
        rule = registry.lookup(fn)
        if rule is not None:
            return self.rule_op(stmt, rule, args, keywords)
        if registry.is_nondiff(fn):
            return Op("inactive")
        self.error_no_rule(stmt, what)

    def rule_op(self, stmt, rule, args, keywords) -> Op:
        if isinstance(getattr(stmt, "value", None), gast.Call):
            stmt.value._srcgrad_pure = True  # a call with a rule computes, it does nothing else
        template = template_of(rule)
        # np.clip(x, a_max=b): b is the rule's third argument, under the rule's own name for it.
        positions = {}
        if keywords:  # (reading a signature can cost milliseconds: a builtin's is parsed from text)
            positions = registry.keyword_positions(rule, len(args), tuple(keywords))
            keywords = {registry.rule_keyword(rule, k, positions[k]) if k in positions else k: v
                        for k, v in keywords.items()}
            positions = {registry.rule_keyword(rule, k, p): p for k, p in positions.items()}
        bindings = bind_arguments(template, args, keywords)
        if bindings is None or template.outputs is None or MISSING in bindings.values():
            return Op("rulecall", operands=args, rule=rule, keywords=keywords, positions=positions,
                       numeric=not rule.structured)
        return Op("rule", operands=args, rule=rule, bindings=bindings, keywords=keywords, positions=positions,
                   numeric=not rule.structured)

    def slots(self, op) -> list:
        """A rule's arguments by position: ``(position, atom)``, positional ones and keywords that fill one."""
        return list(enumerate(op.operands)) + [(p, op.keywords[k]) for k, p in (op.positions or {}).items()]

    def fill_template(self, template, expr, op, dy, t):
        """``expr`` from a rule's template, written for this statement: ``dy``, ``y = t``, its arguments.

        The names the rule's module gives its helpers are injected (renamed on a clash).
        """
        mapping = dict(op.bindings)
        mapping[template.params[0]] = dy
        mapping[template.params[1]] = build.name(t)
        renames = {}
        for name, value in template.free.items():
            injected = self.inject(name, value)
            if injected != name:  # renamed, then substituted if the new name is one of the rule's parameters
                renames[name] = mapping[injected] if injected in mapping else build.name(injected)
        mapping.update(renames)
        return substitute(expr, mapping)


def targets_of(stmt) -> list[str]:
    if isinstance(stmt, gast.FunctionDef):
        return [stmt.name]
    if isinstance(stmt, gast.Assign):
        t = stmt.targets[0]
        if isinstance(t, gast.Name):
            return [t.id]
        if isinstance(t, gast.Attribute):
            return []  # obj.a = v changes obj, it does not rebind a name
        return [e.id for e in t.elts]
    if isinstance(stmt, gast.For):
        return [stmt.target.id]
    return []


def walk_stmts(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if inner and isinstance(s, (gast.If, gast.For, gast.While)):
                yield from walk_stmts(inner)


def unstar(a):
    return a.value if isinstance(a, gast.Starred) else a


def pure(node):
    """Mark every call in ``node`` as free of side effects (rules and runtime helpers are)."""
    for inner in build.walk(node):
        if isinstance(inner, gast.Call):
            inner._srcgrad_pure = True
    return node


def index_expr(index):
    """The index of ``x[...]`` as an ordinary expression (slices become ``slice(...)``)."""
    if isinstance(index, gast.Slice):
        # slice(a) means [:a], so a lower bound always comes with its upper bound.
        parts = [index.lower, index.upper, index.step]
        if parts[2] is None:
            parts.pop()
        return build.call("slice", *[p if p is not None else build.const(None) for p in parts])
    if isinstance(index, gast.Tuple):
        return build.tuple_([index_expr(e) for e in index.elts])
    return copy.deepcopy(index)


def dotted(node) -> str:
    if isinstance(node, gast.Name):
        return node.id
    if isinstance(node, gast.Attribute):
        return dotted(node.value) + "." + node.attr
    return "<call>"


def _short(what: str) -> str:
    return what.split(".")[-1]


def _partial_func(obj):
    """The function a ``functools.partial`` (of a partial...) calls in the end; ``obj`` itself otherwise."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return obj


def _has_source(obj) -> bool:
    """True for Python functions, classes with Python methods and callable objects (differentiated through)."""
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return True
    if isinstance(obj, type):
        return isinstance(getattr(obj, "__init__", None), types.FunctionType) or isinstance(
            getattr(obj, "__call__", None), types.FunctionType) or is_plain_namedtuple_class(obj)
    call = getattr(type(obj), "__call__", None)
    return isinstance(call, types.FunctionType)


_ALWAYS_CONSTANT = {range, len, isinstance, type, print, bool, str, repr, id, hash}
