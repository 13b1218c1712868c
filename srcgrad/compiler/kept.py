"""Rule templates kept between processes, beside the rules' own bytecode.

A rule's template (:func:`srcgrad.compiler.inline.template_of`) comes from
reading and parsing the rule's source: about 0.15 ms a rule, and a first
gradient needs ten or twenty of them. Python keeps the bytecode of the
rules' modules in ``__pycache__`` (or under ``PYTHONPYCACHEPREFIX``);
srcgrad keeps the parsed templates beside it, one file per module
(``numpy.cpython-311.srcgrad-templates``).

The file is plain text, and reading it runs nothing. Its first line is a
header naming the file format, gast's version and the source file's size
and modification time when it was written. Each further line is one
template: the rule function's name and first line, then the template's
tree in prefix order as tab-separated tokens: a node is its class name
(and its place in the file) followed by its fields, a list its length
followed by its items, a constant a letter for its type followed by its
text. Only expression nodes (a fixed list of gast's classes) are rebuilt,
each with exactly its fields, and only when every name and attribute the
template reads is one the rule's code object reads too. A process decodes
only the lines of the rules it uses. (Not JSON: NumPy does not import the
json module, and importing it would cost the first gradient about as much
as keeping the templates saves.)

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
FORMAT = 4
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
    text = kept.entries.get(_key(fn))
    if text is None:
        return None
    try:
        found = _decode(text, fn.__code__)
    except (ValueError, TypeError, KeyError, IndexError, StopIteration, RecursionError):
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
    try:
        text = _encode_template(outputs, names)
    except (TypeError, RecursionError):
        return  # (a constant the format has no word for: parsed again next time)
    if _decode(text, fn.__code__) is None:
        return  # (a template the running code does not match: the source changed since import)
    with _lock:
        kept.entries[_key(fn)] = text
        lines = [kept.header] + [f"{key} {entry}" for key, entry in kept.entries.items()]
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
    try:
        status = os.stat(source)
        path = importlib.util.cache_from_source(source)  # (under sys.pycache_prefix when set)
    except (OSError, NotImplementedError, ValueError):
        return None
    header = (f"srcgrad-templates format={FORMAT} gast={getattr(gast, '__version__', None)} "
              f"mtime_ns={status.st_mtime_ns} size={status.st_size}")
    path = path[:-len(".pyc")] + SUFFIX if path.endswith(".pyc") else path + SUFFIX
    # As importlib gives bytecode: the source's mode, writable by its owner.
    kept = _Kept(path, header, (status.st_mode | 0o200) & 0o666, {})
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > LARGEST:
                return kept
            if f.readline(4096) != header.encode() + b"\n":
                return kept  # (another source, gast or format: the body is not even decoded)
            body = f.read().decode("utf-8")
    except (OSError, ValueError):
        return kept  # (none yet, or not one we wrote: parsed afresh, and written over)
    for line in body.split("\n"):
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


# ---------------------------------------------------------------- the templates as text
#
# A template is ``outputs names``, each a list or "~" (None), as tab-separated tokens:
#   a node        its class name, then "@" and its place "lineno,col,end_lineno,end_col" if it has
#                 one (BinOp@3,11,3,30), then its fields in the class's order (Load, Mult and the
#                 other classes without fields or place are one token);
#   a list        "[" and its length ([2), then its items;
#   a constant    "~" None, "T" True, "F" False, "E" Ellipsis, "i" int, "f" float, "s" str,
#                 "c" complex (real,imag), "b" bytes (in hex), each followed by its text.
# A string holding a tab or a line break is not kept (the template is parsed each time).

_SEPARATORS = ("\t", "\n", "\r")


def _encode_template(outputs, names):
    out: list = []
    _encode(outputs, out)
    _encode(names, out)
    return "\t".join(out)


def _encode(value, out):
    cls = value.__class__
    if isinstance(value, gast.AST):
        name = cls.__name__
        if _NODES.get(name) is not cls:
            raise TypeError(f"a {name} is not kept")
        place = [getattr(value, a, None) for a in value._attributes]
        if any(p is not None for p in place):
            if not all(p.__class__ is int and p >= 0 for p in place):
                raise TypeError("a node with part of a place is not kept")
            name += "@" + ",".join(map(str, place))
        out.append(name)
        for field in value._fields:
            _encode(getattr(value, field), out)
    elif cls is list:
        out.append(f"[{len(value)}")
        for v in value:
            _encode(v, out)
    elif value is None:
        out.append("~")
    elif cls is bool:
        out.append("T" if value else "F")
    elif value is Ellipsis:
        out.append("E")
    elif cls is int:
        out.append(f"i{value}")
    elif cls is float:
        out.append(f"f{value!r}")
    elif cls is complex:
        out.append(f"c{value.real!r},{value.imag!r}")
    elif cls is bytes:
        out.append(f"b{value.hex()}")
    elif cls is str and not any(c in value for c in _SEPARATORS):
        out.append(f"s{value}")
    else:
        raise TypeError(f"a {cls.__name__} is not kept")


def _decode(text, code):
    """``(outputs, names)`` rebuilt from ``text``, or None unless it is a template as :func:`keep`
    writes them, every name and attribute it reads is one ``code`` reads, and ``names`` are the
    names it reads that are not ``code``'s parameters. (A malformed text may also raise
    ``ValueError``, ``KeyError``, ``IndexError`` or ``StopIteration``.)"""
    tokens = iter(text.split("\t"))
    read, attributes = [], []
    outputs = _read_value(tokens, read, attributes)
    names = _read_value(tokens, [], [])
    if next(tokens, None) is not None:
        return None
    if names is not None and not (names.__class__ is list and all(n.__class__ is str for n in names)):
        return None
    if outputs is None:
        return None, names  # (not inlinable: the rule is called as it is)
    if outputs.__class__ is not list or names is None or not all(isinstance(e, gast.expr) for e in outputs):
        return None
    known, local = _reads(code)
    if not known.issuperset(read) or not known.issuperset(attributes):
        return None
    if len(set(names)) != len(names) or set(names) != set(read) - local:
        return None
    return outputs, names


def _read_value(tokens, read, attributes):
    """The value whose first token is next in ``tokens``: a node, a list or a constant."""
    return _value_of(next(tokens), tokens, read, attributes)


#: How the text of a float can start (``repr``: digits, a sign, ``inf``, ``nan``).
_NUMBER_START = frozenset("+-0123456789in")


def _value_of(token, tokens, read, attributes):
    """The value ``token`` starts (its other tokens are next in ``tokens``).

    The names ``Name`` nodes read go to ``read``, ``Attribute`` nodes' to ``attributes``.
    (Written for speed: a first gradient rebuilds a hundred or so nodes, which pickle did in C;
    so the commonest tokens, strings, None and contexts, are read in the loops, without a call.)
    """
    kind = token[0]
    if kind == "[":
        items = []
        for _ in range(_count(token[1:])):
            item = next(tokens)
            items.append(item[1:] if item[0] == "s" else None if item == "~" else
                         _value_of(item, tokens, read, attributes))
        return items
    if kind == "s":
        return token[1:]
    if token == "~":
        return None
    bare = _BARE.get(token)
    if bare is not None:
        return bare.__new__(bare)
    if kind == "i":
        return int(token[1:])
    if kind == "f":
        return float(token[1:])
    if token == "T" or token == "F":
        return token == "T"
    if token == "E":
        return Ellipsis
    if kind == "c" and token[1:2] in _NUMBER_START:  # (not a node: "comprehension" starts with a c too)
        real, imag = token[1:].split(",")
        return complex(float(real), float(imag))
    if kind == "b":
        return bytes.fromhex(token[1:])
    name, at, place = token.partition("@")
    shape = _SHAPES.get(name)
    if shape is None:
        raise ValueError("not a kept node")
    cls, fields, attribute_names = shape
    node = cls.__new__(cls)  # (gast's __init__ is generic, and slow: the fields are set here)
    d = node.__dict__
    for field in fields:
        item = next(tokens)
        d[field] = item[1:] if item[0] == "s" else None if item == "~" else \
            _value_of(item, tokens, read, attributes)
    if at:
        numbers = place.split(",")
        if len(numbers) != len(attribute_names) or len(place) > 64 or not place.replace(",", "").isdigit() \
                or not place.isascii():
            raise ValueError("not a node's place")
        d.update(zip(attribute_names, map(int, numbers)))
    if cls is _NAME:
        if d["id"].__class__ is not str:
            raise ValueError("not a name")
        read.append(d["id"])
    elif cls is _ATTRIBUTE:
        if d["attr"].__class__ is not str:
            raise ValueError("not an attribute")
        attributes.append(d["attr"])
    return node


def _count(text):
    """A list's length: decimal digits only (int() would take '-1', ' 1' or '1_0')."""
    if not text.isdigit() or not text.isascii() or len(text) > 9:
        raise ValueError("not a count")
    return int(text)


#: Class name -> (class, its fields, its attributes), for _read_value.
_SHAPES = {name: (cls, tuple(cls._fields), tuple(cls._attributes)) for name, cls in _NODES.items()}
#: The classes with neither fields nor place, contexts and operators (Load, Mult): one token each.
_BARE = {name: cls for name, cls in _NODES.items() if not cls._fields and not cls._attributes}
_NAME, _ATTRIBUTE = gast.Name, gast.Attribute


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
