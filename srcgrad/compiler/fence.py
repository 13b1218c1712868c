"""Stage 2, fence: refuse what srcgrad cannot differentiate, before transforming anything.

After this pass the function body holds only constructs the later passes
handle; anything else raised :class:`UnsupportedSyntaxError` with the
file, line, column, the construct and what to write instead.

The refused constructs are listed in one table, :data:`REFUSED`, which the
docs show too.
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from . import build
from .normal import CONTAINER_MUTATORS, bound_names

__all__ = ["fence", "REFUSED"]

#: node type -> (what it is, what to do instead)
REFUSED = {
    gast.Yield: ("'yield' (a generator)", "return a list of the values instead"),
    gast.YieldFrom: ("'yield from' (a generator)", "return a list of the values instead"),
    gast.Await: ("'await'", "differentiate a plain synchronous function"),
    gast.AsyncFor: ("'async for'", "differentiate a plain synchronous function"),
    gast.AsyncWith: ("'async with'", "differentiate a plain synchronous function"),
    gast.AsyncFunctionDef: ("an async function", "differentiate a plain synchronous function"),
    gast.With: ("a 'with' block", "move the 'with' block outside the differentiated function"),
    gast.Try: ("'try'/'except'", "handle errors outside the differentiated function"),
    gast.Global: ("'global' (writing a global variable)", "return the value instead of assigning a global"),
    gast.Nonlocal: ("'nonlocal' (writing an enclosing variable)", "return the value instead"),
    gast.Delete: ("'del'", "leave the variable in place or assign a new one"),
    gast.ClassDef: ("a class defined inside the differentiated function", "define the class at module level"),
    gast.Import: ("an import inside the differentiated function", "import at the top of the module"),
    gast.ImportFrom: ("an import inside the differentiated function", "import at the top of the module"),
    gast.NamedExpr: ("the walrus operator ':='", "assign the value in its own statement"),
    gast.Match: ("a 'match' statement", "use if/elif/else"),
    gast.SetComp: ("a set comprehension", "write an explicit for loop"),
    gast.Set: ("a set literal", "use a list or a tuple"),
}


def fence(parsed) -> None:
    """Raise :class:`UnsupportedSyntaxError` at the first construct srcgrad cannot handle."""
    fdef = parsed.node
    _check_signature(parsed, fdef)
    for stmt in fdef.body:
        for node in build.walk(stmt):
            if isinstance(node, (gast.FunctionDef, gast.Lambda)):
                _check_closure(parsed, node)
            refused = REFUSED.get(type(node))
            if refused is not None:
                _refuse(parsed, node, *refused)
            if isinstance(node, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
                targets = node.targets if isinstance(node, gast.Assign) else [node.target]
                for target in targets:
                    _check_target(parsed, target)
            if isinstance(node, gast.For):
                _check_target(parsed, node.target, loop=True)


def _check_closure(parsed, node):
    """A function defined inside: its own body is checked when it is called."""
    if isinstance(node, gast.FunctionDef) and node.decorator_list:
        _refuse(parsed, node, "a decorated function defined inside the differentiated function",
                "define it at module level")
    for inner in build.walk(node):
        if isinstance(inner, (gast.Nonlocal, gast.Global)):
            _refuse(parsed, inner, "'nonlocal' or 'global' in a nested function", "return the value instead")
    bound = bound_names(node)
    for inner in build.walk(node):
        if isinstance(inner, gast.Call) and isinstance(inner.func, gast.Attribute) \
                and inner.func.attr in CONTAINER_MUTATORS and isinstance(inner.func.value, gast.Name) \
                and inner.func.value.id not in bound:
            _refuse(parsed, inner, f"a nested function changing a list or dict it captured "
                                   f"('{inner.func.value.id}.{inner.func.attr}')",
                    "return the new value from the nested function and build the list outside it")


def _check_signature(parsed, fdef):
    args = fdef.args
    if getattr(args, "posonlyargs", None):
        _refuse(parsed, args.posonlyargs[0], "positional-only parameters ('/')", "drop the '/'")


def _check_target(parsed, target, loop=False):
    if isinstance(target, gast.Name):
        return
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            _check_target(parsed, elt.value if isinstance(elt, gast.Starred) else elt, loop)
        return
    if loop:
        _refuse(parsed, target, "a loop variable that is not a plain name", "loop over a plain name")
    if isinstance(target, gast.Subscript):
        if isinstance(target.value, gast.Name) or not _through_a_field(target.value):
            return  # y.T[0] = v, y.reshape(2, 3)[0] = v, x[i][j] = v: aliasing.py writes through a view
        _refuse(parsed, target, "assignment into an element of an object's field ('obj.x[i] = ...')",
                "assign to a local array and store it afterwards: x = obj.x; x[i] = v; obj.x = x")
    if isinstance(target, gast.Attribute):
        if isinstance(target.value, gast.Name):
            return
        _refuse(parsed, target, "assignment to an attribute of an attribute ('a.b.c = ...')",
                "assign to a local object first: b = a.b; b.c = ...")


def _through_a_field(node) -> bool:
    """Whether the value a subscript assignment writes into is reached through an object's field
    (``obj.x[i]``); ``y.T``, a method call's result (``y.reshape(...)``) and indexing are not."""
    while not isinstance(node, gast.Name):
        if isinstance(node, gast.Attribute):
            if node.attr != "T":
                return True
            node = node.value
        elif isinstance(node, gast.Subscript):
            node = node.value
        elif isinstance(node, gast.Call):
            func = node.func
            node = func.value if isinstance(func, gast.Attribute) else (node.args[0] if node.args else func)
            if isinstance(func, gast.Name) or not isinstance(node, (gast.Name, gast.Attribute, gast.Subscript,
                                                                    gast.Call)):
                return False
        else:
            return False
    return False


def _refuse(parsed, node, what, fix):
    raise UnsupportedSyntaxError(
        f"{what} is not supported in differentiated code (in {parsed.name!r})",
        filename=parsed.filename,
        lineno=getattr(node, "lineno", parsed.node.lineno),
        col=getattr(node, "col_offset", None),
        fix=fix,
    )
