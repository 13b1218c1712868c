"""The command line: ``python -m srcgrad show FILE.py:FUNCTION`` and ``python -m srcgrad demo``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def _load(target: str):
    """Import ``FILE.py`` and return the object named by ``FUNCTION`` (dots for methods)."""
    if ":" not in target:
        raise SystemExit(f"srcgrad show: expected FILE.py:FUNCTION, got {target!r}")
    path, _, attribute = target.rpartition(":")
    file = Path(path).resolve()
    if not file.is_file():
        raise SystemExit(f"srcgrad show: no such file: {path}")
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"srcgrad show: {file.name} has no {attribute!r}")
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
    if isinstance(fn, type):
        raise SystemExit(f"srcgrad show: {args.target} is a class; show one of its methods, "
                         f"e.g. {args.target}.__call__")
    source = srcgrad.tangent_source(fn) if args.mode == "forward" else srcgrad.adjoint_source(fn)
    print(source.rstrip("\n"))
    return 0


def _demo(args) -> int:
    from srcgrad.demo import run

    run()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcgrad", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the generated derivative source of a function")
    show.add_argument("target", metavar="FILE.py:FUNCTION", help="a file and a function in it (Class.method works)")
    show.add_argument("--mode", choices=["reverse", "forward"], default="reverse",
                      help="reverse (the adjoint, default) or forward (the tangent)")
    show.add_argument("--stages", action="store_true", help="print the function after each compiler stage")
    show.set_defaults(run=_show)
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
