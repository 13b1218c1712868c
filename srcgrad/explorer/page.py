"""The explorer page as one self-contained HTML document (SPEC section 6).

Everything is in the HTML: each function's primal lines (``data-line``),
its adjoint's and tangent's lines (``data-from``, the user's line each came
from), and the values of the call. The inline script only adds behaviour:
selecting a line (click, or the arrow keys in the focused primal pane)
gives it and its generated lines the class ``selected``, and a button
shows the tangent (forward mode) instead of the adjoint. Without the
script both listings show, one under the other. No resource is loaded
from anywhere: no fonts, no scripts, no images.
"""

from __future__ import annotations

import html
import os

from .highlight import CSS as HIGHLIGHT_CSS
from .highlight import highlight_lines

__all__ = ["render", "PAGE_CSS", "SCRIPT"]

PAGE_CSS = """
:root { --line: #eaeef2; --sel: #fff1c2; --sel-edge: #d4a72c; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px 40px; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; background: #ffffff; font-size: 14px; }
header h1 { font-size: 20px; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
.call code, .note code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #1f2328; }
nav.functions { margin: 10px 0; }
nav.functions a { margin-right: 12px; }
#mode-toggle { margin: 8px 0; padding: 4px 10px; font: inherit; cursor: pointer; }
section.fn { border-top: 1px solid var(--line); padding-top: 10px; margin-top: 14px; }
section.fn h2 { font-size: 16px; margin: 0 0 6px; }
section.fn h2 small { color: var(--muted); font-weight: normal; }
.panes { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px; align-items: start; }
.pane { overflow: auto; max-height: 78vh; border: 1px solid var(--line); border-radius: 6px; }
.pane h3 { font-size: 13px; margin: 0; padding: 6px 10px; background: #f6f8fa; border-bottom: 1px solid var(--line);
           position: sticky; top: 0; z-index: 1; }
.pane:focus { outline: 2px solid #0969da; outline-offset: 1px; }
table.code { border-collapse: collapse; width: 100%; }
table.code td { padding: 0 8px; vertical-align: top; line-height: 1.5; }
table.code td.ln { color: #8c959f; text-align: right; user-select: none; width: 1%; white-space: nowrap;
                   font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
table.code td.src { white-space: pre; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
                    font-size: 13px; line-height: 1.5; }
table.code td.vals { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;
                     line-height: 1.5; white-space: normal; min-width: 14em; }
table.code tr[data-line], table.code tr[data-from] { cursor: pointer; }
table.code tr:hover td { background: #f6f8fa; }
table.code tr.selected td { background: var(--sel); }
table.code tr.selected td.ln { box-shadow: inset 3px 0 0 var(--sel-edge); }
tr.caption td { color: var(--muted); font-style: italic; padding-top: 8px; font-size: 12px; }
.val { display: inline-block; margin-right: 10px; }
.val.fwd { color: #0550ae; }
.val.cot { color: #8250df; }
.val.out { color: #116329; font-weight: 600; }
.count { color: var(--muted); margin-right: 10px; }
.mode { margin: 0; }
.error { color: #cf222e; white-space: pre-wrap; padding: 8px 10px; font-family: ui-monospace, monospace; font-size: 12px; }
.js .mode-tangent { display: none; }
.js.show-tangent .mode-tangent { display: block; }
.js.show-tangent .mode-adjoint { display: none; }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var toggle = document.getElementById("mode-toggle");

  function sectionOf(el) { return el.closest("section.fn"); }
  function visible(el) { return el.offsetParent !== null; }

  function select(section, line) {
    var primal = section.querySelector('.primal tr[data-line="' + line + '"]');
    if (!primal) { return; }
    document.querySelectorAll(".selected").forEach(function (el) { el.classList.remove("selected"); });
    primal.classList.add("selected");
    var first = null;
    section.querySelectorAll('.generated [data-from="' + line + '"]').forEach(function (el) {
      el.classList.add("selected");
      if (first === null && visible(el)) { first = el; }
    });
    primal.scrollIntoView({ block: "nearest" });
    if (first !== null) { first.scrollIntoView({ block: "nearest" }); }
    section.setAttribute("data-selected", line);
  }

  document.addEventListener("click", function (event) {
    var primal = event.target.closest(".primal tr[data-line]");
    if (primal) {
      select(sectionOf(primal), primal.getAttribute("data-line"));
      primal.closest(".pane").focus({ preventScroll: true });
      return;
    }
    var generated = event.target.closest(".generated [data-from]");
    if (generated) { select(sectionOf(generated), generated.getAttribute("data-from")); }
  });

  document.querySelectorAll(".pane.primal").forEach(function (pane) {
    pane.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") { return; }
      var rows = Array.prototype.slice.call(pane.querySelectorAll("tr[data-line]"));
      if (rows.length === 0) { return; }
      var at = rows.findIndex(function (row) { return row.classList.contains("selected"); });
      if (at < 0) { at = event.key === "ArrowDown" ? 0 : rows.length - 1; }
      else { at = Math.max(0, Math.min(rows.length - 1, at + (event.key === "ArrowDown" ? 1 : -1))); }
      select(sectionOf(pane), rows[at].getAttribute("data-line"));
      event.preventDefault();
    });
  });

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var tangent = root.classList.toggle("show-tangent");
      toggle.setAttribute("aria-pressed", tangent ? "true" : "false");
      toggle.textContent = tangent ? "Show reverse mode (the adjoint)" : "Show forward mode (the tangent)";
    });
  }
})();
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def render(title: str, sections: list, call: str | None, output: str | None, seed: str | None,
           notes: list) -> str:
    """The page's HTML for ``sections`` (see :mod:`.sections`); ``call`` describes the call with arguments."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{_e(title)}</title>", f"<style>{HIGHLIGHT_CSS}{PAGE_CSS}</style>", "</head>", "<body>"]
    parts.append("<header>")
    parts.append(f"<h1>{_e(title)}</h1>")
    if call is not None:
        parts.append(f'<p class="call">Values of the call <code>{_e(call)}</code>'
                     + (f" = <code>{_e(output)}</code>" if output is not None else "")
                     + (f", cotangents for <code>{_e(seed)}</code>" if seed is not None else "") + ".</p>")
    else:
        parts.append("<p>No arguments given: the generated code only, no values "
                     "(give arguments to <code>srcgrad.explore</code> to see them).</p>")
    parts.append("<p>Select a line of a function (click it, or focus its pane and use the arrow keys) to mark the "
                 "generated lines derived from it.</p>")
    for note in notes:
        parts.append(f'<p class="note">{_e(note)}</p>')
    if len(sections) > 1:
        links = " ".join(f'<a href="#{s.anchor}">{_e(s.name)}</a>' for s in sections)
        parts.append(f'<nav class="functions">Functions: {links}</nav>')
    parts.append('<button id="mode-toggle" type="button" aria-pressed="false" hidden>'
                 "Show forward mode (the tangent)</button>")
    parts.append("</header>")
    for section in sections:
        parts.append(_section(section, call is not None))
    parts.append("<footer>Written by srcgrad. Values rounded to 4 significant digits; arrays "
                 "shown by their shape and first entries; a line run more than once shows its last values "
                 "(×n: how often it ran).</footer>")
    parts.append(f"<script>{SCRIPT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(section, with_values) -> str:
    where = f"{_shown_path(section.filename)}:{section.firstlineno}"
    out = [f'<section class="fn" id="{_e(section.anchor)}" data-function="{_e(section.name)}">',
           f"<h2>{_e(section.name)} <small>{_e(where)}</small></h2>", '<div class="panes">']
    known = {n for n, _ in section.primal} | {n for _, lines in section.inlined for n, _ in lines}
    out.append(f'<div class="pane primal" tabindex="0" aria-label="{_e(section.name)}: its source, line by line">')
    out.append("<h3>Your code" + (" and the values of this call" if with_values and section.values else "") + "</h3>")
    out.append('<table class="code">')
    out.append(_primal_rows(section.primal, section.values))
    for caption, lines in section.inlined:
        out.append(f'<tr class="caption"><td></td><td colspan="2">{_e(caption)}</td></tr>')
        out.append(_primal_rows(lines, section.values))
    out.append("</table>")
    if with_values and not section.values:
        out.append('<p class="note" style="padding: 0 10px">This function\'s code did not run in this call '
                   "(or ran inside its caller's, pasted there).</p>")
    out.append("</div>")
    out.append('<div class="pane generated">')
    out.append(_listing("mode-adjoint", "Generated adjoint (reverse mode): forward, then backward",
                        section.adjoint, section.adjoint_text, section.adjoint_error, known))
    out.append(_listing("mode-tangent", "Generated tangent (forward mode)", section.tangent,
                        section.tangent_text, section.tangent_error, known))
    out.append("</div></div></section>")
    return "\n".join(out)


def _shown_path(filename) -> str:
    """``filename`` relative to the current directory when it is inside it (a page may be shared)."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # (another drive, on Windows)
        return filename
    return filename if relative.startswith("..") or not os.path.isabs(filename) else relative


def _primal_rows(lines, values) -> str:
    fragments = highlight_lines("\n".join(text for _, text in lines) + "\n")
    rows = []
    for (n, _), fragment in zip(lines, fragments):
        cells = f'<td class="ln">{n}</td><td class="src">{fragment}</td>'
        if values is not None:
            cells += f'<td class="vals">{_values(values.get(n))}</td>'
        rows.append(f'<tr data-line="{n}">{cells}</tr>')
    return "\n".join(rows)


def _values(v) -> str:
    if v is None:
        return ""
    out = []
    for name, summary in v.forward.items():
        out.append(f'<span class="val fwd" data-name="{_e(name)}">{_e(name)} = {_e(summary)}</span>')
    if v.output is not None:
        out.append(f'<span class="val out" data-name="return">returns {_e(v.output)}</span>')
    if v.count > 1:
        out.append(f'<span class="count">×{v.count}</span>')
    for name, summary in v.cotangents.items():
        out.append(f'<span class="val cot" data-name="{_e(name)}">{_e(name)} = {_e(summary)}</span>')
    return "".join(out)


def _listing(kind, heading, listing, text, error, known) -> str:
    out = [f'<div class="mode {kind}">', f"<h3>{_e(heading)}</h3>"]
    if listing is None:
        out.append(f'<p class="error">{_e(error or "not available")}</p></div>')
        return "\n".join(out)
    if not listing.exact:
        out.append('<p class="note" style="padding: 0 10px">Lines mapped by the backward\'s comments only.</p>')
    out.append('<table class="code">')
    for i, (fragment, origin) in enumerate(zip(highlight_lines(text or listing.text), listing.origins)):
        attr = f' data-from="{origin}"' if origin is not None and origin in known else ""
        out.append(f'<tr{attr}><td class="ln">{i + 1}</td><td class="src">{fragment}</td></tr>')
    out.append("</table></div>")
    return "\n".join(out)
