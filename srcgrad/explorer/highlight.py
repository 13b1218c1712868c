"""Python source as HTML, coloured by token: what the explorer page and notebook display share.

:func:`highlight_lines` gives one HTML fragment per line of the source (so a
page can wrap each line in its own element); :func:`highlight_html` a whole
``<pre>`` block with its style, for a notebook. Tokens are read with the
standard library's :mod:`tokenize`; text it cannot read (an unfinished
string) is shown plain, escaped, never dropped.
"""

from __future__ import annotations

import builtins
import html
import io
import keyword
import tokenize

__all__ = ["CSS", "highlight_lines", "highlight_html"]

#: The classes a token can get, and their colours (light background).
CSS = """
.srcgrad-source { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
                  line-height: 1.45; background: #fafafa; color: #1f2328; padding: 8px 12px; border-radius: 4px; }
.tok-kw { color: #8250df; font-weight: 600; }
.tok-builtin { color: #0550ae; }
.tok-str { color: #0a3069; }
.tok-num { color: #953800; }
.tok-com { color: #6e7781; font-style: italic; }
.tok-op { color: #cf222e; }
.tok-def { color: #6639ba; font-weight: 600; }
"""

_BUILTINS = frozenset(dir(builtins))


def _kind(token, previous):
    """The CSS class of ``token`` (``previous`` the significant token before it), or None for plain text."""
    if token.type == tokenize.NAME:
        if keyword.iskeyword(token.string):
            return "tok-kw"
        if previous is not None and previous.string in ("def", "class"):
            return "tok-def"
        return "tok-builtin" if token.string in _BUILTINS else None
    if token.type == tokenize.STRING or token.type in getattr(tokenize, "FSTRING_TYPES", ()):
        return "tok-str"
    if token.type == tokenize.NUMBER:
        return "tok-num"
    if token.type == tokenize.COMMENT:
        return "tok-com"
    if token.type == tokenize.OP:
        return "tok-op"
    return None


def highlight_lines(source: str) -> list[str]:
    """One HTML fragment per line of ``source`` (``source.splitlines()``), its tokens in ``<span class=...>``."""
    lines = source.splitlines()
    marks = [[] for _ in lines]  # per line: (start column, end column, class)
    try:
        previous = None
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind = _kind(token, previous)
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT):
                previous = token
            if kind is None:
                continue
            (row, col), (end_row, end_col) = token.start, token.end
            for r in range(row, end_row + 1):  # (a string over several lines is marked on each)
                if 1 <= r <= len(lines):
                    marks[r - 1].append((col if r == row else 0, end_col if r == end_row else len(lines[r - 1]), kind))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # (what was read is marked; the rest shows plain)
    return [_marked(line, spans) for line, spans in zip(lines, marks)]


def _marked(line, spans):
    out, at = [], 0
    for start, end, kind in sorted(spans):
        if start < at:
            continue
        out.append(html.escape(line[at:start]))
        out.append(f'<span class="{kind}">{html.escape(line[start:end])}</span>')
        at = end
    out.append(html.escape(line[at:]))
    return "".join(out)


def highlight_html(source: str) -> str:
    """``source`` as one highlighted ``<pre>`` block with its own style (for a notebook's ``_repr_html_``)."""
    body = "\n".join(highlight_lines(source))
    return f'<style>{CSS}</style><pre class="srcgrad-source">{body}</pre>'
