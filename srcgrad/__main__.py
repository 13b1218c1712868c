"""The command line: ``python -m srcgrad show FILE.py:FUNCTION``, ``explore`` and ``demo``.

``show`` and ``explore`` read the function from the file without running
the file's top-level code where they can (:func:`read_definitions`): only
imports, ``def`` and ``class`` statements, and names given literal
constants run, in a fresh module. When the function needs a name some
other statement binds (``W = rng.random((3, 5))``), or the file cannot be
read so, the file is imported as a whole, and a note on stderr says so.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import dis
import importlib.util
import sys
import types
from pathlib import Path

#: What ``show --help`` and ``explore --help`` say about reading the file (docs/index.md says the same).
READING = """\
Reading FILE.py: srcgrad does not import it when the function can be read from
its definitions alone. It runs only the file's imports (which run the imported
modules, as any import does), its def and class statements, and assignments of
literal constants (N = 3, NAMES = ("a", "b")), in a fresh module; a def's or
class's decorators, default values and base classes run too, as Python runs
them, but only if they call nothing the file defines (@dataclass, W=np.ones(3)
are fine). Everything else (training loops, prints, W = rng.random(...), the
if __name__ == "__main__" block) is skipped. If the function needs a name a
skipped statement binds, or its class body does more than define, srcgrad
imports the whole file, which runs its top-level code, and says so on stderr.
"""


class _Skipped(Exception):
    """Reading the file's definitions alone is not enough; the message says why (a line and a name)."""


def read_definitions(file: Path, attribute: str, name: str):
    """The object ``attribute`` names (``f``, ``Affine.__call__``) in ``file``, read without its top-level code.

    Runs the statements :data:`READING` allows in a fresh module called
    ``name``; raises :class:`_Skipped` (its message: the line and the name)
    when the object, or a global it reads, is bound by a statement that was
    skipped, or the file cannot be read so. Returns ``(module, obj)``;
    ``obj`` is None when nothing in the file binds the name.
    """
    text = file.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(file))
    kept, skipped = [], {}  # skipped: name -> the line of the first statement binding it that did not run
    defined = _Defined(dir(builtins))
    for stmt in tree.body:
        if _runs(stmt, defined):
            kept.append(stmt)
            defined.update(_bound(stmt))
            if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
                defined.local.update(_bound(stmt))
        else:
            for bound in _bound(stmt):
                skipped.setdefault(bound, _why_skipped(stmt, bound))
    module = types.ModuleType(name)
    module.__file__ = str(file)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # (a dataclass's annotations, pickling: they look the module up by name)
    try:
        code = compile(ast.Module(body=kept, type_ignores=[]), str(file), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except Exception as exc:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise _Skipped(f"its definitions alone failed to run ({type(exc).__name__}: {exc})") from None
    head = attribute.split(".")[0]
    if head not in module.__dict__:
        if head in skipped:
            raise _Skipped(skipped[head])
        return module, None
    obj, owner = module, None
    for part in attribute.split("."):
        owner, obj = obj, getattr(obj, part, _MISSING)
        if obj is _MISSING:  # (a method the file's top-level code may attach later)
            raise _Skipped(f"{head} has no {part} before its top-level code runs")
    # (a method's class: the other methods it reaches through self read globals too)
    cls = owner if isinstance(owner, type) else None
    for read in sorted(_globals_read([obj], module.__dict__, str(file), cls)):
        if read in skipped and read not in module.__dict__:
            raise _Skipped(skipped[read])
    return module, obj


_MISSING = object()


def _runs(stmt, defined) -> bool:
    """Whether the top-level statement ``stmt`` is one :data:`READING` runs (``defined``: names bound so far)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):  # a docstring
        return True
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = stmt.args
        evaluated = args.defaults + [d for d in args.kw_defaults if d is not None]
        return all(_calls_only(d, defined, applied=True) for d in stmt.decorator_list) \
            and all(_calls_only(e, defined) for e in evaluated) and not _evaluated_annotations(stmt, defined)
    if isinstance(stmt, ast.ClassDef):
        metaclass = [k.value for k in stmt.keywords if k.arg == "metaclass"]
        heads = stmt.bases + [k.value for k in stmt.keywords if k.arg != "metaclass"]
        return all(_calls_only(d, defined, applied=True) for d in stmt.decorator_list + metaclass) \
            and all(_calls_only(e, defined) for e in heads) and all(_in_class(s, defined) for s in stmt.body)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return stmt.value is not None and all(isinstance(t, ast.Name) for t in targets) and _literal(stmt.value)
    return False


def _evaluated_annotations(fdef, defined) -> bool:
    """Whether ``fdef``'s annotations call something of the file's (only without ``from __future__ import
    annotations``, where Python evaluates them; rare, and then the file is imported)."""
    args = fdef.args
    notes = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
             if a is not None and a.annotation is not None] + ([fdef.returns] if fdef.returns is not None else [])
    return any(not _calls_only(n, defined) for n in notes if not isinstance(n, ast.Constant))


def _in_class(stmt, defined) -> bool:
    """A statement of a class body that only defines: a method, a nested class, a docstring, ``pass``,
    a field given a constant or an expression calling only imported names (``W: float = 0.0``)."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return stmt.value is None or _calls_only(stmt.value, defined)
    return _runs(stmt, defined)


def _literal(node) -> bool:
    """A constant expression: numbers, strings, None, and tuples, lists, sets, dicts and arithmetic of them."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _literal(k) for k in node.keys) and all(_literal(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    return False


def _calls_only(node, defined, applied=False) -> bool:
    """An expression whose names are bound so far (by imports, constants and definitions) or builtins, and
    whose calls reach none of the file's own definitions, which would run the file's code. ``applied``:
    the expression is called itself (a decorator)."""
    calls = [node] if applied else []
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)) \
                or isinstance(sub, ast.Name) and sub.id not in defined:
            return False
        if isinstance(sub, ast.Call):
            calls.append(sub.func)
    for root in calls:
        while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
            root = root.func if isinstance(root, ast.Call) else root.value
        if not isinstance(root, ast.Name) or root.id in defined.local:
            return False
    return True


class _Defined(set):
    """The names bound so far; ``local``: those bound by the file's own ``def``, ``class`` and assignments."""

    def __init__(self, names=()):
        super().__init__(names)
        self.local = set()


def _why_skipped(stmt, name) -> str:
    """Why reading ``name`` needs the skipped statement ``stmt``: ``line 12 assigns W``."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        line = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
        what = "def" if not isinstance(stmt, ast.ClassDef) else "class"
        return f"line {line} defines {name} with a {what} statement that runs more than definitions"
    verb = "assigns" if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else "binds"
    return f"line {stmt.lineno} {verb} {name}"


def _bound(stmt) -> set:
    """The names the top-level statement ``stmt`` binds (a ``def``'s or ``class``'s own name, not what is inside)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"}
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _bound(node)
    return names


def _globals_read(objects, namespace, filename, cls=None):
    """The global names the code of ``objects`` reads, and the code of this file's functions it reaches
    through them (a class's methods, and those of ``cls`` it names as attributes: ``self.step(x)``)."""
    seen, names = set(), set()
    stack = [code for obj in objects for code in _codes_of(obj)]
    while stack:
        code = stack.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                names.add(ins.argval)
                stack.extend(c for c in _codes_of(namespace.get(ins.argval)) if c.co_filename == filename)
            elif cls is not None and ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                stack.extend(c for c in _codes_of(cls.__dict__.get(ins.argval)) if c.co_filename == filename)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _codes_of(obj):
    """The code objects behind ``obj``: a function's, a method's, a class's methods' (properties' too)."""
    fn = getattr(obj, "__func__", obj)
    if isinstance(fn, types.FunctionType):
        return [fn.__code__]
    if isinstance(obj, property):
        return [c for f in (obj.fget, obj.fset, obj.fdel) if f is not None for c in _codes_of(f)]
    if isinstance(obj, type):
        return [c for value in vars(obj).values() if not isinstance(value, type) for c in _codes_of(value)]
    return []


def _load(target: str, command: str = "show"):
    """The object ``FILE.py:FUNCTION`` names (dots for methods), read as the module's docstring says."""
    if ":" not in target:
        raise SystemExit(f"srcgrad {command}: expected FILE.py:FUNCTION, got {target!r}")
    path, _, attribute = target.rpartition(":")
    if not attribute or not all(part.isidentifier() for part in attribute.split(".")):
        raise SystemExit(f"srcgrad {command}: {attribute!r} is not a function's name (FILE.py:FUNCTION, "
                         "FILE.py:Class.method)")
    file = Path(path).resolve()
    if not file.is_file():
        raise SystemExit(f"srcgrad {command}: no such file: {path}")
    sys.path.insert(0, str(file.parent))
    try:
        _, obj = read_definitions(file, attribute, file.stem)
    except SyntaxError as err:
        raise SystemExit(f"srcgrad {command}: {path}:{err.lineno}: cannot read the file: {err.msg}") from None
    except _Skipped as why:
        print(f"srcgrad: reading {attribute} needs the file's top-level code ({why}); "
              f"importing {file.name} runs it", file=sys.stderr)
        obj = _import_whole(file, attribute, command)
    if obj is None:
        raise SystemExit(f"srcgrad {command}: {file.name} has no {attribute!r}")
    return obj


def _import_whole(file: Path, attribute: str, command: str):
    """Import ``file`` (running its top-level code) and return ``attribute`` of it."""
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"srcgrad {command}: {file.name} has no {attribute!r}")
        obj = getattr(obj, part)
    return obj


def _show(args) -> int:
    import srcgrad
    from srcgrad.compiler import stages
    from srcgrad.compiler.parse import unwrap_callable

    fn = _load(args.target)
    if args.stages:
        plain, _ = unwrap_callable(fn)
        for stage, text in stages(plain).items():
            print(f"# ---- after {stage} " + "-" * max(0, 50 - len(stage)))
            print(text)
        return 0
    _refuse_class(fn, args.target, "show")
    source = srcgrad.tangent_source(fn) if args.mode == "forward" else srcgrad.adjoint_source(fn)
    print(source.rstrip("\n"))
    return 0


def _refuse_class(fn, target, command):
    if isinstance(fn, type):
        raise SystemExit(f"srcgrad {command}: {target} is a class; name one of its methods, e.g. {target}.__call__")
    if not callable(fn):
        raise SystemExit(f"srcgrad {command}: {target} is a {type(fn).__name__}, not a function")


def _explore(args) -> int:
    import srcgrad

    fn = _load(args.target, "explore")
    _refuse_class(fn, args.target, "explore")
    arguments = _arguments(args.args)
    explore = getattr(srcgrad, "explore", None)
    if explore is None:
        raise SystemExit("srcgrad explore: this srcgrad has no explorer (srcgrad.explore)")
    page = explore(fn, *arguments, path=args.output)
    print(getattr(page, "path", page))
    return 0


def _arguments(expression: str | None) -> tuple:
    """The arguments ``--args`` gives: a Python expression, NumPy available as ``np``; a tuple is the arguments."""
    if expression is None:
        return ()
    import numpy as np

    try:
        value = eval(compile(expression, "--args", "eval"), {"np": np, "numpy": np, "__builtins__": builtins})
    except SyntaxError as err:
        raise SystemExit(f"srcgrad explore: --args {expression!r} is not a Python expression: {err.msg}") from None
    except Exception as err:
        raise SystemExit(f"srcgrad explore: --args {expression!r} failed: {type(err).__name__}: {err}") from None
    return value if isinstance(value, tuple) else (value,)


def _demo(args) -> int:
    from srcgrad.demo import run

    run()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcgrad", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = argparse.RawDescriptionHelpFormatter
    show = commands.add_parser("show", help="print the generated derivative source of a function",
                               description="Print the generated derivative source of a function.",
                               epilog=READING, formatter_class=formatter)
    show.add_argument("target", metavar="FILE.py:FUNCTION", help="a file and a function in it (Class.method works)")
    show.add_argument("--mode", choices=["reverse", "forward"], default="reverse",
                      help="reverse (the adjoint, default) or forward (the tangent)")
    show.add_argument("--stages", action="store_true", help="print the function after each compiler stage")
    show.set_defaults(run=_show)
    explore = commands.add_parser("explore", help="write a page with the function and its derivative side by side",
                                  description="Write one self-contained HTML page with the function's source and\n"
                                  "its generated derivative side by side, for a call with --args, and print its path.",
                                  epilog=READING, formatter_class=formatter)
    explore.add_argument("target", metavar="FILE.py:FUNCTION", help="a file and a function in it (Class.method works)")
    explore.add_argument("--args", metavar="EXPR",
                         help='the arguments, a Python expression with NumPy as np: "(2.0,)", '
                         '"(np.ones(3), 0.5)"; not a tuple: one argument. (This command evaluates it, and runs the '
                         'function once on it, through the generated code)')
    explore.add_argument("-o", "--output", metavar="PAGE.html", help="where to write the page")
    explore.set_defaults(run=_explore)
    demo = commands.add_parser("demo", help="a tour of srcgrad following the Flux tutorials")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except Exception as exc:
        from srcgrad.errors import SrcgradError

        if isinstance(exc, SrcgradError):
            print(f"srcgrad: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
