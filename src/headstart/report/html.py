"""A self-contained `report.html`: every plot inlined as a PNG data URI, opens offline."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

NUMBER = re.compile(r"[<>]?[+-]?[\d.,]+%?x?( (±|to) [+-]?[\d.,]+%?)?|—")
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .answer{font-size:1.25em;background:#eef6ff;border-left:5px solid #1f77b4;padding:.8em 1em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em} td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f4f4f4} td.n{text-align:right;white-space:nowrap} img{max-width:100%;border:1px solid #ddd}
figure{margin:1.5em 0} figcaption{color:#555;font-size:.9em} .muted{color:#777;font-size:.85em}
dl{display:grid;grid-template-columns:max-content auto;gap:.3em 1em} dt{font-weight:600} dd{margin:0}
"""
# set data-images-ok on <body> once every image has decoded (read by the headless-browser test)
CHECK_JS = """
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-images-ok', ok ? 'yes' : 'no');
});
"""


def figure(path: Path, caption: str) -> str:
    """A PNG inlined as a data URI, with its caption ("" when the file is missing)."""
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def table(header: list[str], rows: list[list[Any]]) -> str:
    """Numbers (and number ranges) right-aligned, text left-aligned."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    text = str(value)
    numeric = bool(NUMBER.fullmatch(text))
    return f"<td{' class=n' if numeric else ''}>{html.escape(text)}</td>"


def paragraph(text: str, cls: str = "") -> str:
    return f"<p{f' class={cls!r}' if cls else ''}>{html.escape(text)}</p>"


def terms(items: list[tuple[str, str]]) -> str:
    """A definition list: one line per term."""
    rows = "".join(f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}</dd>" for t, d in items)
    return f"<dl>{rows}</dl>"


def render(*, title: str, answer: str, sections: list[tuple[str, str]], footer: str) -> str:
    """A whole page: the title, the answer, then (heading, html body) sections in order."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style><script>{CHECK_JS}</script></head><body>",
             f"<h1>{html.escape(title)}</h1>", f"<p class='answer'>{html.escape(answer)}</p>"]
    parts += [f"<h2>{html.escape(h)}</h2>{body}" for h, body in sections if body]
    parts.append(f"<p class='muted'>{html.escape(footer)}</p></body></html>")
    return "\n".join(parts)
