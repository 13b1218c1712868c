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

:func:`simplify` runs the steps: here, those that move statements (pops
sunk to their use, guarded chains fused) and the rounds of folding over all
the functions at once; the folding itself is :mod:`.simplify_fold`, the
arithmetic :mod:`.simplify_tidy`.
"""

from __future__ import annotations

import gast

from ..rules.shaping import unreduce
from ..rules.operators import power_slope
from ..runtime import tape
from ..runtime.accumulate import accum, unbroadcast
from . import build
from .simplify_fold import Counts, drop_empty_comments, fold_block, is_pure, propagate_aliases
from .simplify_tidy import Tidy

__all__ = ["simplify"]


def simplify(functions, invented: set[str], adjoints: set[str], helpers: dict = None):
    """Simplify the generated ``FunctionDef`` nodes in place; ``invented`` names may be folded.

    ``helpers`` maps the names of functions generated code calls to the
    functions, so trailing arguments equal to their defaults can be dropped.
    """
    counts = [Counts(fdef) for fdef in functions]
    for fdef, own in zip(functions, counts):
        _sink_pops(fdef.body, helpers or {})
        _fuse_guards(fdef, adjoints, helpers or {}, own)
    for _ in range(4):
        changed = False
        for fdef, own in zip(functions, counts):
            changed |= propagate_aliases(fdef, invented, adjoints, own)
        changed |= _fold_single_use(functions, invented, counts, helpers or {})
        if not changed:
            break
    for fdef in functions:
        Tidy(adjoints, helpers or {}).visit(fdef)
        fdef.body = drop_empty_comments(fdef.body)


def _fold_single_use(functions, invented, counts=None, helpers=None) -> bool:
    """Fold each temporary used once into its use; ``counts``, one :class:`Counts` per function, kept up to date."""
    counts = [c.read() for c in counts] if counts is not None else [Counts(fdef) for fdef in functions]
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
        changed |= fold_block(fdef.body, invented, loads, assigned, keep_calls, own)
    return changed


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
            if writes & (r | w) or reads & w or (not is_pure(s.value) and (reads | writes) & (r | w)):
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
