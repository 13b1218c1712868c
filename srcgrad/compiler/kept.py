"""Rule templates kept between processes, beside the rules' own bytecode.

A rule's template (:func:`srcgrad.compiler.inline.template_of`) comes from
reading and parsing the rule's source: about 0.15 ms a rule, and a first
gradient needs ten or twenty of them. Python keeps the bytecode of the
rules' modules in ``__pycache__`` (or under ``PYTHONPYCACHEPREFIX``);
srcgrad keeps the parsed templates beside it, one file per module
(``numpy.cpython-311.srcgrad-templates``).

The file is plain data, and reading it runs nothing. Its first line is a
JSON header: the file format, gast's version and the source file's size
and modification time when it was written. Each further line is one
template: the rule function's name and first line, then the template as
JSON, each syntax node an object ``{"_": "BinOp", "left": ..., ...}`` of
its class name and fields. Only expression nodes (a fixed list of gast's
classes) are rebuilt, each with exactly its fields, and only when every
name and attribute the template reads is one the rule's code object reads
too. A process decodes only the lines of the rules it uses.

The file follows the bytecode's rules, and is trusted no further:

- it is read and written only for a module Python itself imported from a
  ``.py`` file with a bytecode cache (its ``__spec__.cached``), never for
  a file in the directory of the ``__main__`` script (whose own bytecode
  Python never reads), and not at all while Python writes no bytecode
  (``PYTHONDONTWRITEBYTECODE``, ``-B``);
- the header is checked before any template is decoded: a file written
  for another size or modification time of the source (or another gast or
  format) is ignored whole;
- it is written to a temporary file that then replaces it in one step, so
  a reader never sees half of one, with the mode Python gives bytecode.

Whatever goes wrong (a read-only directory, a damaged, foreign or planted
file) means the template is parsed from source as before, and the file is
written afresh where it may be: keeping templates only ever saves time.
"""

from __future__ import annotations

import inspect
import importlib.util
import os
import sys
import threading
import types

import gast

__all__ = ["recall", "keep"]

#: Bumped whenever what a template holds, or how it is written, changes.
FORMAT = 2
SUFFIX = ".srcgrad-templates"
#: A file larger than this is not one srcgrad wrote for one module.
LARGEST = 8 << 20

_lock = threading.Lock()
#: source file -> its _Kept (None: this file cannot be kept).
_files: dict = {}
_UNREAD = object()

#: The only classes a template is rebuilt from: gast's expression nodes and what they hold.
_KINDS = (gast.expr, gast.expr_context, gast.operator, gast.unaryop, gast.boolop, gast.cmpop)
_NODES = {name: cls for name, cls in vars(gast).items()
          if isinstance(cls, type) and issubclass(cls, _KINDS) and cls not in _KINDS
          and name not in ("Await", "Yield", "YieldFrom", "NamedExpr")}  # (no pasted expression may do those)
_NODES.update(keyword=gast.keyword, comprehension=gast.comprehension, arguments=gast.arguments)


class _Kept:
    """The templates of one module's file: its ``path``, the ``header`` it must have, and
    ``entries``, ``"name:line"`` -> the template's JSON text (as read, or as written since)."""

    def __init__(self, path, header, mode, entries):
        self.path = path
        self.header = header
        self.mode = mode
        self.entries: dict = entries


def recall(fn):
    """``(outputs, names)`` kept for the rule function ``fn``, or None (also for anything not as kept)."""
    kept = _kept(fn)
    if kept is None:
        return None
    import json  # (here, not at the top: NumPy does not import json, and import srcgrad should not pay for it)

    text = kept.entries.get(_key(fn))
    if text is None:
        return None
    try:
        found = _decode(json.loads(text), fn.__code__)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        found = None  # (not a template as keep writes them)
    if found is None:
        with _lock:
            kept.entries.pop(_key(fn), None)  # (so that keep writes the one parsed instead)
    return found


def keep(fn, outputs, names) -> None:
    """Keep ``fn``'s parsed template for later processes (where Python would keep its bytecode)."""
    kept = _kept(fn)
    if kept is None:
        return
    import json

    try:
        text = json.dumps(_encode_template(outputs, names), separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return  # (a constant JSON cannot hold: parsed again next time)
    if _decode(json.loads(text), fn.__code__) is None:
        return  # (a template the running code does not match: the source changed since import)
    with _lock:
        kept.entries[_key(fn)] = text
        lines = [json.dumps(kept.header, sort_keys=True)]
        lines += [f"{key} {entry}" for key, entry in kept.entries.items()]
    _write(kept.path, "\n".join(lines) + "\n", kept.mode)


def _key(fn):
    code = fn.__code__
    return f"{code.co_name}:{code.co_firstlineno}"


def _kept(fn):
    if sys.dont_write_bytecode:
        return None  # (as Python: no bytecode kept, so nothing beside it either)
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name == "<lambda>":
        return None  # (two lambdas on one line would share a key)
    source = code.co_filename
    found = _files.get(source, _UNREAD)
    if found is not _UNREAD:
        return found
    with _lock:
        if source not in _files:
            _files[source] = _read(source) if _trusted(fn, source) else None
        return _files[source]


def _trusted(fn, source) -> bool:
    """Whether Python itself would use bytecode for ``source``, the file ``fn`` was defined in."""
    if not source.endswith(".py"):
        return False
    spec = getattr(fn, "__globals__", {}).get("__spec__")
    if spec is None or getattr(spec, "cached", None) is None or getattr(spec, "origin", None) != source:
        return False  # (not imported from its file with a bytecode cache: run as a script, exec'd...)
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main is not None and os.path.dirname(os.path.abspath(main)) == os.path.dirname(os.path.abspath(source)):
        return False
    return True


def _read(source):
    """The :class:`_Kept` of ``source``: the templates its file holds if it was written for
    this very source file, else none yet."""
    import json
    try:
        status = os.stat(source)
        path = importlib.util.cache_from_source(source)  # (under sys.pycache_prefix when set)
    except (OSError, NotImplementedError, ValueError):
        return None
    header = {"format": FORMAT, "gast": getattr(gast, "__version__", None),
              "mtime_ns": status.st_mtime_ns, "size": status.st_size}
    path = path[:-len(".pyc")] + SUFFIX if path.endswith(".pyc") else path + SUFFIX
    # As importlib gives bytecode: the source's mode, writable by its owner.
    kept = _Kept(path, header, (status.st_mode | 0o200) & 0o666, {})
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > LARGEST:
                return kept
            if json.loads(f.readline(4096)) != header:
                return kept  # (another source, gast or format: the body is not even decoded)
            body = f.read().decode("utf-8")
    except (OSError, ValueError, RecursionError):
        return kept  # (none yet, or not one we wrote: parsed afresh, and written over)
    for line in body.splitlines():
        key, _, text = line.partition(" ")
        name, _, lineno = key.partition(":")
        if name.isidentifier() and lineno.isdigit() and text:
            kept.entries[key] = text
    return kept


def _write(path, text, mode):
    """Replace ``path`` by a file holding ``text``, in one step; nothing at all if that fails."""
    directory = os.path.dirname(path)
    temporary = f"{path}.{os.urandom(4).hex()}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(text.encode("utf-8"))
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return  # (a directory we may not write: the next process parses again)


# ---------------------------------------------------------------- the templates as JSON
#
# A node is a JSON array: its class name, its place (lineno, col_offset, end_lineno,
# end_col_offset, or null), then its fields in the class's order. A list is an array whose
# first item is null. A constant JSON has no word for is an object {"$": kind, "v": ...}.
# (Arrays: json reads them about twice as fast as objects of named fields.)

def _encode_template(outputs, names):
    return [None if outputs is None else [_encode(e) for e in outputs], names]


def _encode(value):
    if isinstance(value, gast.AST):
        name = type(value).__name__
        if _NODES.get(name) is not type(value):
            raise TypeError(f"a {name} is not kept")
        place = [getattr(value, a, None) for a in value._attributes]
        return [name, place if any(p is not None for p in place) else None,
                *[_encode(getattr(value, field)) for field in value._fields]]
    if isinstance(value, list):
        return [None, *[_encode(v) for v in value]]
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is complex:
        return {"$": "complex", "v": [value.real, value.imag]}
    if type(value) is bytes:
        return {"$": "bytes", "v": value.hex()}
    if value is Ellipsis:
        return {"$": "Ellipsis"}
    raise TypeError(f"a {type(value).__name__} is not kept")


def _decode(data, code):
    """``(outputs, names)`` rebuilt from ``data``, or None unless it is a template as :func:`keep`
    writes them, every name and attribute it reads is one ``code`` reads, and ``names`` are the
    names it reads that are not ``code``'s parameters."""
    if data.__class__ is not list or len(data) != 2:
        return None
    outputs, names = data
    if names is not None and not (names.__class__ is list and all(n.__class__ is str for n in names)):
        return None
    if outputs is None:
        return None, names  # (not inlinable: the rule is called as it is)
    if outputs.__class__ is not list or names is None:
        return None
    read, attributes = [], []
    rebuilt = [_node(e, read, attributes) for e in outputs]
    if not all(isinstance(e, gast.expr) for e in rebuilt):
        return None
    known, local = _reads(code)
    if not known.issuperset(read) or not known.issuperset(attributes):
        return None
    if len(set(names)) != len(names) or set(names) != set(read) - local:
        return None
    return rebuilt, names


def _node(data, read, attributes):
    """The gast node ``data`` describes; ``ValueError`` unless it is one of :data:`_NODES` with
    exactly its fields, each a node, a list or a plain constant. The names its ``Name`` nodes read
    go to ``read``, its ``Attribute`` nodes' to ``attributes``."""
    if data.__class__ is not list:
        raise ValueError("not a kept node")
    shape = _SHAPES.get(data[0]) if data and data[0].__class__ is str else None
    if shape is None or len(data) != shape[2]:
        raise ValueError("not a kept node")
    cls, fields, _, places = shape
    node = cls.__new__(cls)  # (gast's __init__ is generic, and slow: the fields are set here)
    d = node.__dict__
    for field, value in zip(fields, data[2:]):
        d[field] = _value(value, read, attributes)
    place = data[1]
    if place is not None:
        if place.__class__ is not list or len(place) != len(places):
            raise ValueError("not a node's place")
        for attribute, p in zip(places, place):
            if p is not None and p.__class__ is not int:
                raise ValueError("not a node's place")
            d[attribute] = p
    if cls is gast.Name:
        if d["id"].__class__ is not str:
            raise ValueError("not a name")
        read.append(d["id"])
    elif cls is gast.Attribute:
        if d["attr"].__class__ is not str:
            raise ValueError("not an attribute")
        attributes.append(d["attr"])
    return node


def _value(data, read, attributes):
    kind = data.__class__
    if kind is list:
        if data and data[0] is None:
            return [_value(v, read, attributes) for v in data[1:]]
        return _node(data, read, attributes)
    if data is None or kind is str or kind is int or kind is float or kind is bool:
        return data
    if kind is dict:
        return _constant(data)
    raise ValueError("not a kept value")


def _constant(data):
    kind = data.get("$")
    if kind == "complex" and data.keys() == {"$", "v"} and type(data["v"]) is list and len(data["v"]) == 2:
        return complex(float(data["v"][0]), float(data["v"][1]))
    if kind == "bytes" and data.keys() == {"$", "v"} and type(data["v"]) is str:
        return bytes.fromhex(data["v"])
    if kind == "Ellipsis" and data.keys() == {"$"}:
        return Ellipsis
    raise ValueError("not a kept constant")


#: Class name -> (class, its fields, the length of its JSON array, its attributes), for _node.
_SHAPES = {name: (cls, tuple(cls._fields), 2 + len(cls._fields), tuple(cls._attributes))
           for name, cls in _NODES.items()}


def _reads(code):
    """``(known, local)``: every name ``code`` (or code nested in it) reads, and its parameters."""
    known = set()
    stack = [code]
    while stack:
        c = stack.pop()
        known.update(c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars)
        stack.extend(k for k in c.co_consts if k.__class__ is types.CodeType)
    local = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount
                                 + bool(code.co_flags & inspect.CO_VARARGS)])
    return known, local
