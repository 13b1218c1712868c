"""Stage 6, transform (reverse mode): write the forward and backward functions of a normalised function.

From ``def f(x): ...`` in A-normal form this pass writes two functions::

    def f_forward(x):            # the user's code, plus what the backward needs
        ...
        return y, (x, ...)       # the output and the saved values

    def f_backward(saved, dy):   # the chain rule, statement by statement, in reverse
        (x, ...) = saved
        # Grad of line 3: ...
        dx = ...
        return (dx,)

:func:`transform` runs :class:`ReverseTransform`, whose parts are its steps,
each in its own module, in the order the pass runs:

1. *Classify* each statement (:mod:`.classify`, shared with forward mode):
   a derivative rule to inline, a function to differentiate through at run
   time (``pullback``), a structural read (``a.b``, ``a[i]``, a tuple), a
   copy, or something without a gradient. Softmax, log-softmax and
   log-sum-exp, written over several statements, get one operation with
   their closed-form gradient (:mod:`.idioms`).
2. *Activity* (:mod:`.activity`, shared with forward mode): a value is
   active when it depends on a parameter or on a global or captured value
   that can hold arrays; only active values get adjoints (integer loop
   counters, ``len``, comparisons never do).
3. *Backward*, statements in reverse (:mod:`.reverse_statements`: an
   assignment, ``if``, ``for`` and ``while``; :mod:`.reverse_expressions`:
   the gradients of an assignment's operands). The compiler knows
   statically, at every point, whether each adjoint is unset, ``None``,
   set, or maybe ``None`` (:mod:`.reverse_adjoints`); it writes ``dx = ...``
   for a first contribution, ``dx = dx + ...`` for later ones, ``accum``
   where ``None`` may meet a value, and ``if dz is not None:`` only where
   that is unknown. ``None`` is the only zero: no zero-filled arrays.
4. *Loops and branches*: a variable overwritten inside a loop has its old
   value pushed on a tape (``<var>_tape = push(<var>_tape, <var>)``) in the
   forward and popped in the backward (``runtime/tape.py``: tapes are values
   with rules of their own, so generated code differentiates again);
   straight-line code needs no tape because the
   normaliser gave every redefinition its own name. An ``if`` is replayed
   from its saved test; a ``while`` loop counts its iterations.
5. *Forward* (:mod:`.reverse_primal`): the user's statements, with calls to
   differentiable user functions replaced by ``pullback(f, ...)`` where
   their gradient is needed; :meth:`ReverseTransform.run` then returns the
   values the backward reads as ``saved``.
"""

from __future__ import annotations

import gast

from . import build
from .activity import Activity
from .classify import targets_of, walk_stmts
from .reverse_adjoints import MAYBE, SET, UNSET, Adjoints
from .reverse_expressions import ReverseExpressions
from .reverse_primal import PrimalWriter
from .reverse_statements import ReverseStatements, has_code

__all__ = ["ReverseTransform", "Transformed", "transform"]


class Transformed:
    """What :func:`transform` writes: the two functions and what calling them needs.

    - ``injected``: name -> object, the helpers generated code reads;
    - ``params``: the function's parameters, in order;
    - ``has_self_grad``: the backward returns the gradient of the function's free variables first;
    - ``takes_closure``: the forward takes the closure itself as its first argument;
    - ``depends_on``: callables whose rule (or lack of one) this code was compiled against;
    - ``tapes``: the tapes this transform added (generated code being differentiated again has its own).

    (A plain class: a dataclass costs a millisecond to build at import, and the compiler loads with srcgrad.)
    """

    def __init__(self, forward, backward, injected, params, has_self_grad, takes_closure, depends_on, tapes=None):
        self.forward: gast.FunctionDef = forward
        self.backward: gast.FunctionDef = backward
        self.injected: dict = injected
        self.params: list = params
        self.has_self_grad: bool = has_self_grad
        self.takes_closure: bool = takes_closure
        self.depends_on: list = depends_on
        self.tapes: set = set() if tapes is None else tapes


def transform(parsed, scope, namer, fdef, wants=None, kinds=None) -> Transformed:
    """The forward and backward of ``fdef``.

    ``wants`` narrows which gradients the backward computes: one flag for
    the function's free variables and globals, then one per parameter
    (``None``: all of them). Nothing else changes, so a narrowed backward
    returns the same values for what it computes. ``kinds`` gives each
    parameter's ``ndim`` when the call passed a number or an array (else
    ``None``): a loop over numbers then needs no ``unbroadcast``.
    """
    return ReverseTransform(parsed, scope, namer, fdef, wants, kinds).run()


class ReverseTransform(ReverseStatements, ReverseExpressions, Adjoints, PrimalWriter, Activity):
    """The reverse transform of one function: :meth:`run` writes its forward and backward.

    Each base is one part of it, in its own module: :class:`Activity` (with
    :class:`~srcgrad.compiler.classify.Classifier`, shared with forward mode)
    knows what each statement computes and which values are active;
    :class:`ReverseStatements` writes the backward of each statement (``if``,
    loops, assignments), :class:`ReverseExpressions` the gradients of an
    assignment's operands, :class:`Adjoints` accumulates them, and
    :class:`PrimalWriter` writes the forward.
    """

    def __init__(self, parsed, scope, namer, fdef, wants=None, kinds=None):
        super().__init__(parsed, scope, namer, fdef, wants, kinds)
        #: While a statement's gradients are written: its adjoint may be None (a pullback accepts None).
        self.cotangent_maybe_none = False
        #: The contributions to each adjoint not yet written out (see reverse_adjoints.py).
        self.pending: dict[str, list] = {}
        self.tape_names: dict[str, str] = {}
        self.taped: set[str] = set()
        #: Statements calling a function differentiated at run time, and the name of each one's pullback.
        self.pullback_stmts: set[int] = set()
        self.back_names: dict[int, str] = {}
        self._first_use: dict[str, int] | None = None
        self._stmt_names: dict[int, tuple] = {}

    def run(self) -> Transformed:
        self.analyse()
        body = self.fdef.body
        ret = body[-1]
        head = body[:-1]
        out_name = ret.value.id if isinstance(ret.value, gast.Name) and ret.value.id in self.active else None
        dy = self.namer.adjoint(out_name) if out_name else self.namer.fresh("dy")
        state: dict[str, str] = {}
        if out_name:
            state[out_name] = SET
        self.pending: dict[str, list] = {}
        backward = self.reverse_block(head, state)
        self.flush_all(backward, state)
        # Gradients of parameters and of free variables.
        params = list(self.scope.params)
        results = []
        for p in params:
            results.append(build.name(self.namer.adjoint(p)) if state.get(p, UNSET) in (SET, MAYBE) else build.const(None))
        free = sorted(
            {n for n in state if n not in self.scope.locals and state[n] in (SET, MAYBE)},
            key=lambda n: (self.first_use(n), n),
        )
        has_self_grad = bool(free)
        if has_self_grad:
            self_grad = gast.Dict(keys=[build.const(n) for n in free], values=[build.name(self.namer.adjoint(n)) for n in free])
            results.insert(0, self_grad)
        backward.append(gast.Return(value=build.tuple_(results)))

        # Keep a tape only for the overwritten values the backward reads.
        read = self.names_read(backward, skip_restores=True)
        self.taped = {t for t in self.restored(backward) if t in read}
        for stmt in walk_stmts(head):
            if isinstance(stmt, gast.While) and id(stmt) in self.in_loop:
                self.taped.add(self.counters[id(stmt)])
        backward = self.prune_restores(backward)

        forward = self.forward_block(head)
        # What the backward reads from the forward is saved (never a name it binds itself:
        # a module global called dy must not be mistaken for the backward's own dy).
        bound = set().union(*[self.stmt_names(s, gast.Store) for s in backward]) | {dy}
        forward_names = defined_in_forward(head, self.scope.params, self.back_names)
        forward_names |= {self.tape_name(t) for t in self.taped} | set(self.counters.values())
        read = self.names_read(backward) - (bound - forward_names)
        defined = set(self.scope.params) | {t for s in walk_stmts(head) for t in targets_of(s)}
        defined |= set(self.back_names.values()) | {self.tape_name(v) for v in self.taped}
        defined |= set(self.counters.values())
        defined |= {n for n in read if self.scope.kind(n) in ("free", "global")}
        defined -= self.loop_targets_read_only_inside(backward)
        saved = sorted((read & defined) - set(self.injected), key=lambda n: (self.first_use(n), n))
        takes_closure = not self.scope.generated and any(  # (``return k`` reads k in the return only)
            self.scope.kind(n) == "free" for n in self.names_read(forward) | read | build.names_in(ret.value))
        prologue = []
        closure_arg = None
        if takes_closure:
            closure_arg = self.namer.fresh("closure")
            cells = [build.store(n) for n in self.scope.freevars]
            prologue.append(build.assign(build.tuple_(cells, store_ctx=True), build.call(self.runtime("captured"), build.name(closure_arg))))
        pre_init = self.pre_inits(head)
        # A saved value assigned on only some paths starts as None, so saving it never fails.
        sure = self.definitely_assigned(head) | set(self.scope.params) | {self.tape_name(t) for t in self.taped}
        assigned = {t for s in walk_stmts(head) for t in targets_of(s)} | set(self.back_names.values())
        sure |= {n for n in saved if n not in assigned and self.scope.kind(n) in ("free", "global")}
        already = {s.targets[0].id for s in pre_init if isinstance(s.targets[0], gast.Name)}
        pre_init += [build.assign(n, build.const(None)) for n in saved if n not in sure and n not in already]
        output = ret.value
        forward.append(build.line_of(ret, gast.Return(
            value=build.tuple_([output, build.tuple_([build.name(n) for n in saved])]))))
        forward = prologue + pre_init + forward
        saved_name = self.namer.fresh("saved")
        if saved:
            backward.insert(0, build.assign(build.tuple_([build.store(n) for n in saved], store_ctx=True), build.name(saved_name)))
        fname = self.parsed.name
        # The forward takes every parameter positionally; calls.dispatch.call_entry binds keywords and defaults.
        names = ([closure_arg] if closure_arg else []) + list(self.scope.params)
        args = gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in names],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        fwd = gast.FunctionDef(name=f"{fname}_forward", args=args, body=forward, decorator_list=[],
                               returns=None, type_comment=None, type_params=[])
        bargs = gast.arguments(
            args=[gast.Name(id=saved_name, ctx=gast.Param(), annotation=None, type_comment=None),
                  gast.Name(id=dy, ctx=gast.Param(), annotation=None, type_comment=None)],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        bwd = gast.FunctionDef(name=f"{fname}_backward", args=bargs, body=backward, decorator_list=[],
                               returns=None, type_comment=None, type_params=[])
        bwd._srcgrad_keep_gradients = True
        return Transformed(fwd, bwd, dict(self.injected), params, has_self_grad, takes_closure, self.depends_on,
                           {self.tape_name(t) for t in self.taped})

    def first_use(self, name):
        """The position of the first statement reading or writing ``name`` (-1 for none)."""
        if self._first_use is None:  # (one walk: generated code at third order is long)
            self._first_use = {}
            for stmt in walk_stmts(self.fdef.body):
                for n in build.names_in(stmt) | set(targets_of(stmt)):
                    self._first_use.setdefault(n, self.order.get(id(stmt), 0))
        return self._first_use.get(name, -1)

    def names_read(self, stmts, skip_restores=False) -> set[str]:
        out = set()
        for s in stmts:
            if skip_restores and hasattr(s, "_srcgrad_restore"):
                continue
            if skip_restores and isinstance(s, (gast.If, gast.For)):
                out |= build.names_in(s.test if isinstance(s, gast.If) else s.iter)
                out |= self.names_read(s.body, True) | self.names_read(s.orelse, True)
                continue
            out |= self.stmt_names(s)
        return out

    def stmt_names(self, stmt, ctx=gast.Load) -> set[str]:
        """``build.names_in(stmt, ctx)``, remembered for each simple statement (do not change the set).

        The finished backward is asked for its names several times; its loops
        and branches may lose statements in between (``prune_restores``), so
        theirs are gathered from their parts each time.
        """
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            out = set()
            for field in build.child_fields(stmt.__class__):
                value = getattr(stmt, field, None)
                if isinstance(value, list):
                    for inner in value:
                        out |= self.stmt_names(inner, ctx)
                elif value is not None:
                    out |= build.names_in(value, ctx)
            return out
        found = self._stmt_names.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = self._stmt_names[id(stmt)] = (stmt, build.names_in(stmt, (gast.Load, gast.Store)))
        return found[1][ctx]

    def definitely_assigned(self, stmts) -> set[str]:
        """Names every path through ``stmts`` assigns (loops may run zero times)."""
        names: set[str] = set()
        for s in stmts:
            if isinstance(s, gast.Assign):
                names |= set(targets_of(s))
                if id(s) in self.back_names:
                    names.add(self.back_names[id(s)])
            elif isinstance(s, gast.If):
                names |= self.definitely_assigned(s.body) & self.definitely_assigned(s.orelse)
            elif isinstance(s, gast.While):
                names.add(self.counters[id(s)])
        return names

    def loop_targets_read_only_inside(self, backward) -> set[str]:
        """Loop variables the backward reads only inside its own reversed loops."""
        targets = {s.target.id for s in walk_stmts(self.fdef.body) if isinstance(s, gast.For)}

        def outside(stmts):
            found = set()
            for s in stmts:
                if isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                    found |= build.names_in(s.iter) | (outside(s.body) - {s.target.id})
                elif isinstance(s, gast.If):
                    found |= build.names_in(s.test) | outside(s.body) | outside(s.orelse)
                else:
                    found |= self.stmt_names(s)
            return found

        return targets - outside(backward)

    def restored(self, stmts) -> set[str]:
        found = set()
        for s in walk_stmts(stmts):
            if hasattr(s, "_srcgrad_restore"):
                found.add(s._srcgrad_restore)
        return found

    def prune_restores(self, stmts):
        out = []
        for s in stmts:
            if hasattr(s, "_srcgrad_restore") and s._srcgrad_restore not in self.taped:
                continue
            if isinstance(s, (gast.If, gast.For)):
                s.body = self.prune_restores(s.body) or [gast.Pass()]
                s.orelse = self.prune_restores(s.orelse)
                if isinstance(s, gast.If) and not has_code(s.body) and not has_code(s.orelse):
                    continue  # nothing left to replay on either path
                if isinstance(s, gast.For) and not has_code(s.body):
                    continue  # a loop that passes no gradient back
            out.append(s)
        return out


def defined_in_forward(head, params, back_names):
    """Names the forward binds: parameters, assignments and pullback objects."""
    names = set(params) | set(back_names.values())
    for s in walk_stmts(head):
        names |= set(targets_of(s))
    return names
