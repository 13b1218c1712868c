"""Stage 7, simplify: make the generated code read like a hand derivation.

After this pass:

- a temporary used once, in the next statements of its own block, and
  computed without side effects, is folded back into its use, so the
  forward reads like the user's code (``y = 3 * x ** 2 + 2 * x + 1``);
- an adjoint that merely renames another (``dtotal = dy``) is replaced by it;
- a chain of guarded steps (``if dy is not None: dtotal = -dy / t ** 2``,
  then ``if dtotal is not None: ...``) runs under its first guard, so the
  steps fold into one expression;
- literal arithmetic is folded and products are tidied: constants first,
  then values, then adjoints (``6 * x * dy``);
- comments left with no code under them are dropped.

Only names the compiler invented are ever folded; the user's names stay.
"""

from __future__ import annotations

import operator

import gast

from ..rules.shaping import unreduce
from ..rules.operators import power_slope
from ..runtime import tape
from ..runtime.accumulate import accum, unbroadcast
from . import build

__all__ = ["simplify"]


def simplify(functions, invented: set[str], adjoints: set[str], helpers: dict = None):
    """Simplify the generated ``FunctionDef`` nodes in place; ``invented`` names may be folded.

    ``helpers`` maps the names of functions generated code calls to the
    functions, so trailing arguments equal to their defaults can be dropped.
    """
    counts = [_Counts(fdef) for fdef in functions]
    for fdef, own in zip(functions, counts):
        _sink_pops(fdef.body, helpers or {})
        _fuse_guards(fdef, adjoints, helpers or {}, own)
    for _ in range(4):
        changed = False
        for fdef, own in zip(functions, counts):
            changed |= _propagate_aliases(fdef, invented, adjoints, own)
        changed |= _fold_single_use(functions, invented, counts, helpers or {})
        if not changed:
            break
    for fdef in functions:
        _Tidy(adjoints, helpers or {}).visit(fdef)
        fdef.body = _drop_empty_comments(fdef.body)


# ---------------------------------------------------------------- folding

def _counts(roots, captured: set | None = None):
    """How often each name is assigned (stored, or a parameter) and loaded under ``roots``: one walk.

    With a ``captured`` set, also collects the names used inside nested
    functions and lambdas.
    """
    stores: dict[str, int] = {}
    loads: dict[str, int] = {}
    Name, Load, Store, arguments, nested = gast.Name, gast.Load, gast.Store, gast.arguments, (gast.Lambda, gast.FunctionDef)
    for root in roots:
        for node in build.walk(root):
            cls = node.__class__
            if cls is Name:
                ctx = node.ctx.__class__
                if ctx is Load:
                    loads[node.id] = loads.get(node.id, 0) + 1
                elif ctx is Store:
                    stores[node.id] = stores.get(node.id, 0) + 1
            elif cls is arguments:
                for a in node.args:
                    stores[a.id] = stores.get(a.id, 0) + 1
            elif captured is not None and cls in nested and node not in roots:
                captured.update(n.id for n in build.walk(node) if isinstance(n, gast.Name))
    return stores, loads


class _Counts:
    """:func:`_counts` of one function, kept up to date as names are folded, so each round of
    :func:`simplify` does not walk the whole function again to count (that was a tenth of a compile).

    An edit these updates do not describe (one involving a nested function) marks the counts
    stale; they are counted afresh when next read.
    """

    def __init__(self, fdef):
        self.fdef = fdef
        self.stale = True
        self.read()

    def read(self):
        if self.stale:
            self.captured = set()
            self.stores, self.loads = _counts([self.fdef], self.captured)
            self.stale = False
        return self

    def add(self, node, times):
        """Count the names under ``node`` ``times`` more times (negative: fewer)."""
        stores, loads = _counts([node], set())
        for name, n in stores.items():
            self.stores[name] = self.stores.get(name, 0) + times * n
        for name, n in loads.items():
            self.loads[name] = self.loads.get(name, 0) + times * n


def _has_nested(node) -> bool:
    return any(isinstance(n, (gast.Lambda, gast.FunctionDef)) for n in build.walk(node))


def _is_pure(expr) -> bool:
    for node in build.walk(expr):
        if isinstance(node, gast.Call) and not getattr(node, "_srcgrad_pure", False):
            return False
    return True


def _replace(node, name, value):
    return build.replace_names(node, {name: value})


def _propagate_aliases(fdef, invented, adjoints, counts=None) -> bool:
    """``da = db`` where both are assigned once: use ``db`` everywhere.

    ``counts`` (a :class:`_Counts` of ``fdef``, counted afresh when None) is kept up to date.
    """
    # Names a nested function reads are its captured variables, known to the backward by name.
    # (Generated functions have no defaults or decorators, so every nested one is in the body.)
    counts = (counts or _Counts(fdef)).read()
    captured = counts.captured
    assigned, loads = counts.stores, counts.loads
    # Each alias found is replaced at the end, in one walk; until then ``sources`` says
    # what a name reads as after the replacements before it (a = b; c = a: c reads b).
    sources: dict[str, str] = {}
    for stmt in list(_direct_statements(fdef.body)):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and isinstance(stmt.value, gast.Name)):
            continue
        target, source = stmt.targets[0].id, stmt.value.id
        source = sources.get(source, source)
        if target not in invented or assigned.get(target) != 1 or assigned.get(source, 0) > 1 \
                or target in captured:
            continue
        if target in adjoints and source not in adjoints:
            continue
        _remove(fdef, stmt)
        loads[stmt.value.id] -= 1
        for name, old in sources.items():
            if old == target:
                sources[name] = source
        sources[target] = source
        assigned[target] -= 1  # its one assignment is gone; nothing else assigned changed
    if sources:
        build.replace_names(fdef, {target: build.name(source) for target, source in sources.items()})
        for target, source in sources.items():  # (a target's reads are all replaced: none is captured)
            loads[source] = loads.get(source, 0) + loads.pop(target, 0)
    return bool(sources)


def _direct_statements(stmts):
    for s in stmts:
        yield s
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                yield from _direct_statements(inner)


def _remove(fdef, target_stmt):
    def walk(stmts):
        if target_stmt in stmts:
            stmts.remove(target_stmt)
            return True
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                    if walk(inner):
                        if not inner and field == "body":
                            inner.append(gast.Pass())
                        return True
        return False

    walk(fdef.body)


# ---------------------------------------------------------------- tapes

def _sink_pops(stmts, helpers):
    """Move each ``v, v_tape = pop(v_tape)`` down its block to just before ``v`` is next used.

    The reverse pass pops a value as soon as the step that needed the newer
    one is done, which splits the steps that follow from the values they
    fold into (``dtotal = -dy / total ** 2``, a pop of ``total``, then
    ``dneg = exp * dtotal``). Popped as late as possible, the steps fold.
    """
    pop = None
    for name, fn in helpers.items():
        if fn is tape.pop:
            pop = name
    if pop is None:
        return
    seen = {}  # id(statement) -> the names in it, or None if it may jump (a pop never moves past it)

    def names(s):
        found = seen.get(id(s), False)
        if found is False:
            found = seen[id(s)] = None if any(n.__class__ in _JUMPS for n in build.walk(s)) \
                else build.names_in(s, None)
        return found

    blocks = [stmts]
    for block in blocks:
        i = len(block) - 1
        while i >= 0:
            s = block[i]
            if s.__class__ in (gast.If, gast.For, gast.While):
                blocks.append(s.body)
                blocks.append(s.orelse)
            elif s.__class__ is gast.Assign and s.value.__class__ is gast.Call and s.value.func.__class__ is gast.Name \
                    and s.value.func.id == pop:
                popped = names(s)
                j = i + 1
                while j < len(block) and names(block[j]) is not None and not (popped & names(block[j])):
                    j += 1
                if j > i + 1:
                    block.insert(j - 1, block.pop(i))  # (j - 1 once it is out)
            i -= 1


# ---------------------------------------------------------------- guarded chains

def _fuse_guards(fdef, adjoints, helpers, counts):
    """Run ``if db is not None: <step>`` inside the guarded block before it, the one that set ``db``.

    The reverse pass writes a step of the derivation under a guard of its
    own wherever it cannot tell statically that the step's input is set::

        if dy is not None:
            dtotal = -dy / total ** 2
            dy = None
        if dtotal is not None:
            dexp = exp * dtotal
            dtotal = None

    When ``dtotal`` gets a value nowhere else and is read nowhere else, and
    that value cannot be ``None`` (arithmetic on the set ``dy``), the second
    test is true exactly when the first block has just run. So the second
    block's steps move into the first, ``dtotal``'s ``= None`` bookkeeping
    goes, and folding then makes the chain one expression.
    """
    clears, block_of = {}, {}  # name -> its `name = None` statements; id(statement) -> the list holding it
    blocks = [fdef.body]
    for block in blocks:  # (statements only: generated code nests them in if, for and while alone)
        for s in block:
            cleared = _clears(s)
            if cleared is not None:
                clears.setdefault(cleared, []).append(s)
                block_of[id(s)] = block
            elif s.__class__ in (gast.If, gast.For, gast.While):
                blocks.append(s.body)
                blocks.append(s.orelse)
    if clears:
        _fuse_block(fdef.body, _Guards(adjoints, helpers, counts.read(), clears, block_of))


def _clears(stmt):
    """The name ``stmt`` sets to ``None`` (``dx = None``), else None."""
    if stmt.__class__ is gast.Assign and stmt.value.__class__ is gast.Constant and stmt.value.value is None \
            and len(stmt.targets) == 1 and stmt.targets[0].__class__ is gast.Name:
        return stmt.targets[0].id
    return None


def _guarded(stmt):
    """The name ``stmt`` tests (``if dx is not None:`` with no ``else``), else None."""
    if stmt.__class__ is not gast.If or stmt.orelse:
        return None
    test = stmt.test
    if test.__class__ is gast.Compare and len(test.ops) == 1 and test.ops[0].__class__ is gast.IsNot \
            and test.left.__class__ is gast.Name and test.comparators[0].__class__ is gast.Constant \
            and test.comparators[0].value is None:
        return test.left.id
    return None


def _fuse_block(stmts, guards):
    for s in stmts:
        if s.__class__ in (gast.If, gast.For, gast.While):
            _fuse_block(s.body, guards)
            _fuse_block(s.orelse, guards)
    first = None  # the guarded block a later guard may join, past plain assignments only
    i = 0
    while i < len(stmts):
        s = stmts[i]
        tested = _guarded(s)
        if tested is not None and first is not None:
            at = stmts.index(first)
            joined = guards.join(first, s, stmts[at + 1:i])
            if joined:
                hoisted, moved = joined
                for m in hoisted + moved:  # (by identity: joining may have removed statements before it too)
                    stmts.remove(m)
                at = stmts.index(first)
                stmts[at:at] = hoisted
                i = at + len(hoisted) + 1
                continue
        if tested is not None:
            first = s
        elif s.__class__ is not gast.Assign and not hasattr(s, "_srcgrad_comment"):
            first = None
        i += 1


_JUMPS = (gast.Return, gast.Break, gast.Continue, gast.Yield, gast.YieldFrom, gast.FunctionDef, gast.Lambda)


class _Guards:
    """What :func:`_fuse_guards` needs to know to join two guarded blocks, kept current as it joins them."""

    def __init__(self, adjoints, helpers, counts, clears, block_of):
        self.adjoints, self.helpers, self.counts = adjoints, helpers, counts
        self.clears, self.block_of = clears, block_of

    def join(self, first, second, between) -> list:
        """Move ``second``'s steps into ``first`` if that cannot change what runs.

        Returns ``(hoisted, moved)``: statements of the enclosing block to move before ``first``, and those
        now in ``first`` (``second``, and the comment heading it) to take out of it; nothing if it refused.
        """
        name = second.test.left.id
        counts = self.counts
        body = second.body
        if name not in self.adjoints or name in counts.captured or _clears(body[-1]) != name \
                or counts.stores.get(name, 0) - len(self.clears.get(name, ())) != 1:
            return []
        k = next((j for j, s in enumerate(first.body) if s.__class__ is gast.Assign and len(s.targets) == 1
                  and s.targets[0].__class__ is gast.Name and s.targets[0].id == name), None)
        if k is None or not self.surely_set(first.body[k].value, first.test.left.id, first.body[:k]):
            return []
        uses = sum(1 for n in build.walk(second) if n.__class__ is gast.Name and n.id == name
                   and n.ctx.__class__ is gast.Load)
        if uses != counts.loads.get(name, 0) \
                or any(n.__class__ in _JUMPS for part in (first, second) for n in build.walk(part)):
            return []
        # `dz = None` between the two blocks (a later step's start) moves up, before `first`, if nothing
        # it passes reads or sets dz; a comment just before `second` heads its steps and moves with them.
        hoisted, comments, passed = [], [], []
        for j, s in enumerate(between):
            cleared = _clears(s)
            if cleared == name:
                return []  # (then `second` never runs: leave it be)
            if cleared is not None and not any(
                    cleared in build.names_in(t, None) for t in [first] + between[:j] if t not in hoisted):
                hoisted.append(s)
            elif hasattr(s, "_srcgrad_comment"):
                if comments and comments[-1] is not between[j - 1]:
                    return []  # (two comments apart: the first heads statements that stay)
                comments.append(s)
            elif comments:
                return []  # (a statement under the comment: it stays with its comment)
            else:
                passed.append(s)
        if comments and not all(self.restores(s) for s in passed):
            return []  # (a step of the first comment's line stays before the second's)
        steps = body[:-1]
        reads, writes = _reads_writes(steps)
        for s in passed:  # `second` moves up past these: neither may see the other's names change
            r, w = _reads_writes([s])
            if writes & (r | w) or reads & w or (not _is_pure(s.value) and (reads | writes) & (r | w)):
                return []
        r, w = _reads_writes(first.body[k + 1:])
        if not comments and not (writes & (r | w) or reads & w):
            at = k + 1  # (straight after the value it uses, so that it folds into it)
        else:  # at the end, but before the closing `dy = None`s its steps do not read
            at = len(first.body)
            while at > k + 1 and _clears(first.body[at - 1]) not in (None, *reads, *writes):
                at -= 1
        moved = comments + steps
        first.body[at:at] = moved
        # A closing `dz = None` that the steps now after it overwrite before reading is dead: `dz = -dneg`.
        overwritten = {s.targets[0].id for s in steps if s.__class__ is gast.Assign and len(s.targets) == 1
                       and s.targets[0].__class__ is gast.Name} - reads
        while at > k + 1 and _clears(first.body[at - 1]) in overwritten:
            at -= 1
            self.drop_clear(first.body[at])
        for s in moved:
            if id(s) in self.block_of:
                self.block_of[id(s)] = first.body
        for s in list(self.clears[name]):  # every `name = None` is dead now: its one read follows its one set
            if self.block_of[id(s)] is body:
                self.block_of[id(s)] = None  # (with `second`)
            self.drop_clear(s)
        counts.loads[name] -= 1  # (the test)
        return hoisted, comments + [second]

    def drop_clear(self, stmt):
        """Take the ``dz = None`` statement ``stmt`` out of the function (it is dead)."""
        name = stmt.targets[0].id
        self.clears[name].remove(stmt)
        block = self.block_of.pop(id(stmt))
        if block is not None:
            block.remove(stmt)
            if not block:
                block.append(gast.Pass())
        self.counts.stores[name] -= 1

    def restores(self, stmt) -> bool:
        """Whether ``stmt`` brings back a value, not a step: ``a = b``, or ``a, a_tape = pop(a_tape)``."""
        value = stmt.value
        return stmt.__class__ is gast.Assign and (value.__class__ is gast.Name or (
            value.__class__ is gast.Call and value.func.__class__ is gast.Name
            and self.helpers.get(value.func.id) is tape.pop))

    def surely_set(self, value, guard, before) -> bool:
        """Whether ``value``, computed under ``if guard is not None:`` after ``before``, cannot be None."""
        cls = value.__class__
        if cls is gast.BinOp or cls is gast.UnaryOp:
            return True  # (arithmetic gives a number or an array, or fails)
        if cls is gast.Name:
            for j in range(len(before) - 1, -1, -1):  # (the value it was last given in this block)
                s = before[j]
                if value.id in build.names_in(s, gast.Store):
                    return s.__class__ is gast.Assign and len(s.targets) == 1 \
                        and self.surely_set(s.value, guard, before[:j])
            return value.id == guard
        if cls is gast.Call and value.func.__class__ is gast.Name and value.args:
            fn = self.helpers.get(value.func.id)
            if fn is unbroadcast or fn is unreduce:  # (None only for None)
                return self.surely_set(value.args[0], guard, before)
            if fn is accum and len(value.args) == 2:
                return any(self.surely_set(a, guard, before) for a in value.args)
        return False


def _reads_writes(stmts):
    reads, writes = set(), set()
    for s in stmts:
        by = build.names_in(s, (gast.Load, gast.Store))
        reads |= by[gast.Load]
        writes |= by[gast.Store]
    return reads, writes


def _fold_single_use(functions, invented, counts=None, helpers=None) -> bool:
    """Fold each temporary used once into its use; ``counts``, one :class:`_Counts` per function, kept up to date."""
    counts = [c.read() for c in counts] if counts is not None else [_Counts(fdef) for fdef in functions]
    assigned, loads = {}, {}  # (of all the functions, as they are before this pass)
    for c in counts:
        for name, n in c.stores.items():
            assigned[name] = assigned.get(name, 0) + n
        for name, n in c.loads.items():
            loads[name] = loads.get(name, 0) + n
    changed = False
    for fdef, own in zip(functions, counts):
        # In a backward function a gradient computed by a call keeps its name (dexp, dlog):
        # those intermediate gradients are the steps of the derivation a reader follows.
        # (The power rule with a literal exponent is not such a call: it prints as 2 * x.)
        keep_calls = None  # (None: fold calls too; else the names of the power rule, which does not count)
        if getattr(fdef, "_srcgrad_keep_gradients", False):
            keep_calls = {name for name, fn in (helpers or {}).items() if fn is power_slope}
        changed |= _fold_block(fdef.body, invented, loads, assigned, keep_calls, own)
    return changed


def _fold_block(stmts, invented, loads, assigned, keep_calls=None, own=None) -> bool:
    changed = False
    for s in stmts:
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                changed |= _fold_block(inner, invented, loads, assigned, keep_calls, own)
    i = 0
    while i < len(stmts):
        stmt = stmts[i]
        if (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id in invented and assigned.get(stmt.targets[0].id) == 1
                and loads.get(stmt.targets[0].id) == 1 and _is_pure(stmt.value)
                and not (keep_calls is not None and _computed_by_call(stmt.value, keep_calls))):
            name = stmt.targets[0].id
            reads = build.names_in(stmt.value)
            for j in range(i + 1, len(stmts)):
                later = stmts[j]
                if hasattr(later, "_srcgrad_comment"):
                    continue
                if isinstance(later, (gast.Assign, gast.Expr, gast.Return)) and name in build.names_in(later):
                    if own is not None:
                        _count_fold(own, stmt, later.value, name)
                    if isinstance(later, gast.Assign):
                        later.value = _replace(later.value, name, stmt.value)
                    else:
                        later.value = _replace(later.value, name, stmt.value)
                    del stmts[i]
                    changed = True
                    i -= 1
                    break
                # Stop at anything that could change what the expression reads.
                if not isinstance(later, gast.Assign) or not _is_pure(later.value):
                    break
                written = {n.id for n in build.walk(later.targets[0]) if isinstance(n, gast.Name)}
                if written & reads:
                    break
        i += 1
    return changed


def _computed_by_call(expr, power_rules) -> bool:
    """Whether ``expr`` calls a function, other than the power rule (named in ``power_rules``) with a
    literal exponent, which prints as ``2 * x``."""
    for n in build.walk(expr):
        if n.__class__ is gast.Call and not (
                n.func.__class__ is gast.Name and n.func.id in power_rules and len(n.args) == 2
                and _number(n.args[1])):
            return True
    return False


def _count_fold(counts, stmt, into, name):
    """Update ``counts`` for ``stmt`` (``name = expr``) folded into the expression ``into``."""
    if _has_nested(stmt.value) or _has_nested(into):
        counts.stale = True
        return
    uses = sum(1 for n in build.walk(into) if isinstance(n, gast.Name) and n.id == name
               and isinstance(n.ctx, gast.Load))
    counts.stores[name] -= 1
    counts.loads[name] = counts.loads.get(name, 0) - uses
    if uses != 1:  # the expression is copied to each use (none: it is dropped)
        counts.add(stmt.value, uses - 1)


def _drop_empty_comments(stmts):
    out = []
    for k, s in enumerate(stmts):
        if hasattr(s, "_srcgrad_comment"):
            following = stmts[k + 1] if k + 1 < len(stmts) else None
            if following is None or hasattr(following, "_srcgrad_comment") or isinstance(following, gast.Return):
                continue
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and isinstance(s, (gast.If, gast.For, gast.While)):
                setattr(s, field, _drop_empty_comments(inner) or ([gast.Pass()] if field == "body" else []))
        out.append(s)
    return out


# ---------------------------------------------------------------- arithmetic

_FOLD = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Pow: operator.pow}


def _number(node):
    return isinstance(node, gast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


class _Tidy(gast.NodeTransformer):
    def __init__(self, adjoints, helpers):
        self.adjoints = adjoints
        self.helpers = helpers

    def visit(self, node):
        method = _TIDY.get(node.__class__)
        return method(self, node) if method is not None else self.generic_visit(node)

    def generic_visit(self, node):
        """``NodeTransformer.generic_visit`` over the fields that can hold nodes (most of a tree has no
        call, product or conditional to tidy, and this is every node's cost)."""
        d = node.__dict__
        for field in build.child_fields(node.__class__):
            old = d.get(field)
            if old is None or _untouched(old):
                continue
            if old.__class__ is list:
                new_values = []
                for value in old:
                    if isinstance(value, gast.AST) and not _untouched(value):
                        value = self.visit(value)
                        if value is None:
                            continue
                        if not isinstance(value, gast.AST):
                            new_values.extend(value)
                            continue
                    new_values.append(value)
                old[:] = new_values
            elif isinstance(old, gast.AST):
                new_node = self.visit(old)
                if new_node is None:
                    delattr(node, field)
                else:
                    d[field] = new_node
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        fn = self.helpers.get(node.func.id) if isinstance(node.func, gast.Name) else None
        if fn is power_slope and len(node.args) == 2 and _number(node.args[1]) and node.args[1].value != 0:
            # A literal exponent prints as the power rule itself: x ** 2 -> 2 * x.
            a, c = node.args
            return self.visit(gast.BinOp(left=c, op=gast.Mult(),
                                         right=gast.BinOp(left=a, op=gast.Pow(), right=build.const(c.value - 1))))
        defaults = getattr(fn, "__defaults__", None)
        if defaults and not node.keywords:
            nparams = fn.__code__.co_argcount
            first_default = nparams - len(defaults)
            while len(node.args) > first_default:
                value = defaults[len(node.args) - 1 - first_default]
                last = node.args[-1]
                if isinstance(last, gast.Constant) and last.value is value or (
                        isinstance(last, gast.Constant) and type(last.value) is type(value) and last.value == value):
                    node.args.pop()
                else:
                    break
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if _number(left) and _number(right) and type(node.op) in _FOLD:
            try:
                value = _FOLD[type(node.op)](left.value, right.value)
                if isinstance(value, (int, float)) and abs(value) < 1e12:
                    return build.const(value)
            except (ArithmeticError, ValueError):
                pass
        if isinstance(node.op, gast.Pow) and _number(right) and right.value == 1:
            return left
        if node.op.__class__ in (gast.Mult, gast.Div) and self.is_gradient(node):
            # Negations move out to the front, where they cancel or join the coefficient: -(-dy / t) -> dy / t.
            left_negative, left = _unsigned(left)
            right_negative, right = _unsigned(right)
            if left_negative or right_negative:
                node = gast.BinOp(left=left, op=node.op, right=right)
                if left_negative != right_negative:
                    return self.visit_UnaryOp(gast.UnaryOp(op=gast.USub(), operand=self.tidied(node)), visited=True)
            return self.tidied(node)
        if isinstance(node.op, gast.Mult):
            return self.product(node)
        if isinstance(node.op, gast.Add) and isinstance(right, gast.UnaryOp) and isinstance(right.op, gast.USub):
            return gast.BinOp(left=left, op=gast.Sub(), right=right.operand)  # a + -b -> a - b
        if isinstance(node.op, gast.Add) and _same(left, right):
            return self.visit(gast.BinOp(left=build.const(2), op=gast.Mult(), right=right))  # e + e -> 2 * e
        if isinstance(node.op, gast.Div) and _number(right) and right.value == 1:
            return left
        return node

    def tidied(self, node):
        """A product or quotient of gradient values with its signs already out front."""
        return self.product(node, gradient=True) if node.op.__class__ is gast.Mult else node

    def visit_UnaryOp(self, node, visited=False):
        if not visited:
            self.generic_visit(node)
        if node.op.__class__ is not gast.USub or not self.is_gradient(node):
            return node
        operand = node.operand
        if operand.__class__ is gast.UnaryOp and operand.op.__class__ is gast.USub:
            return operand.operand  # --dy -> dy
        if operand.__class__ is gast.BinOp and operand.op.__class__ is gast.Mult:
            negated = _negate_coefficient(operand)  # -(2 * x * dy) -> -2 * x * dy
            if negated is not None:
                return negated
        return node

    def is_gradient(self, node) -> bool:
        """Whether ``node`` reads an adjoint: then it is a gradient, a float, and signs move freely."""
        adjoints = self.adjoints
        return any(n.__class__ is gast.Name and n.id in adjoints for n in build.walk(node))

    def visit_IfExp(self, node):
        """``a if None is None else b`` (a rule's default argument) -> ``a``."""
        self.generic_visit(node)
        test = node.test
        if isinstance(test, gast.Compare) and len(test.ops) == 1 and isinstance(test.left, gast.Constant) \
                and isinstance(test.comparators[0], gast.Constant) and isinstance(test.ops[0], (gast.Is, gast.IsNot)):
            same = test.left.value is test.comparators[0].value
            return node.body if same == isinstance(test.ops[0], gast.Is) else node.orelse
        return node

    def product(self, node, gradient=False):
        factors = []

        def flatten(n):
            if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult):
                flatten(n.left)
                flatten(n.right)
            else:
                factors.append(n)

        flatten(node)
        if not gradient and len(factors) > 2 and not any(isinstance(f, gast.Name) and f.id in self.adjoints
                                                          for f in factors):
            return node  # a value's product keeps its order: (W * (2.5 * v)) rounds as the user's code does
        coefficient = 1
        rest = []
        for f in factors:
            if _number(f):
                coefficient *= f.value
            else:
                rest.append(f)
        if coefficient == 0 or not rest:
            return build.const(coefficient) if not rest else node
        if gradient:  # (a factor holding an adjoint goes last, as an adjoint does)
            marked = [self.is_gradient(f) for f in rest]
            values = [f for f, g in zip(rest, marked) if not g]
            grads = [f for f, g in zip(rest, marked) if g]
        else:
            values = [f for f in rest if not (isinstance(f, gast.Name) and f.id in self.adjoints)]
            grads = [f for f in rest if isinstance(f, gast.Name) and f.id in self.adjoints]
        if not grads and coefficient == 1 and len(rest) == 1:
            return node  # y = x * 1.0 is a copy of x in the user's code, not an alias
        ordered = values + grads
        out = ordered[0]
        for f in ordered[1:]:
            out = gast.BinOp(left=out, op=gast.Mult(), right=f)
        if coefficient == -1:
            return gast.UnaryOp(op=gast.USub(), operand=out)
        if coefficient != 1:
            if isinstance(coefficient, float) and coefficient.is_integer() and abs(coefficient) < 1e6:
                coefficient = coefficient
            out = _prepend(build.const(coefficient), out)
        return out


_TIDY = {gast.Call: _Tidy.visit_Call, gast.BinOp: _Tidy.visit_BinOp, gast.IfExp: _Tidy.visit_IfExp,
         gast.UnaryOp: _Tidy.visit_UnaryOp}


def _negate_coefficient(product):
    """``product`` (``2 * x * dy``) with its leading number negated, as new nodes; None if it has none."""
    if product.__class__ is gast.BinOp and product.op.__class__ is gast.Mult:
        left = _negate_coefficient(product.left)
        return None if left is None else gast.BinOp(left=left, op=gast.Mult(), right=product.right)
    return build.const(-product.value) if _number(product) else None


def _unsigned(node):
    """``(True, x)`` for ``-x``, else ``(False, node)``."""
    if node.__class__ is gast.UnaryOp and node.op.__class__ is gast.USub:
        return True, node.operand
    return False, node


def _same(left, right) -> bool:
    """``gast.dump(left) == gast.dump(right)``; two names compared directly (most sums in
    generated code add two names, and ``gast.dump`` prints every node it is given)."""
    if left.__class__ is gast.Name and right.__class__ is gast.Name \
            and left.annotation is None and right.annotation is None:
        return left.id == right.id and left.ctx.__class__ is right.ctx.__class__ \
            and left.type_comment == right.type_comment
    return left.__class__ is right.__class__ and gast.dump(left) == gast.dump(right)


def _untouched(node) -> bool:
    """Whether tidying ``node`` leaves it as it is without looking: a name, a constant, an operator."""
    cls = node.__class__
    if cls is gast.Name:
        return node.__dict__.get("annotation") is None
    return cls is gast.Constant or (isinstance(node, gast.AST) and not build.child_fields(cls) and cls not in _TIDY)


def _prepend(c, expr):
    """``c * expr`` with ``c`` as the leftmost factor of a product chain."""
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, gast.Mult):
        return gast.BinOp(left=_prepend(c, expr.left), op=gast.Mult(), right=expr.right)
    return gast.BinOp(left=c, op=gast.Mult(), right=expr)
