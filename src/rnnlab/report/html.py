"""The pieces of a self-contained HTML page: escaping, numbers, tables, images, the page.

Every page rnnlab writes stands alone: the CSS is inline, images are ``data:`` URIs or
inline SVG, there is no script and no font to fetch, and no attribute holds an absolute
URL (a link is printed as text), so the file opens from disk, offline, and never fetches
anything. One stylesheet serves a phone (375 px) and a laptop (1366 px): tables scroll
sideways inside their own box, figures scale to the column's width.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CSS = """
:root{--fg:#1d232b;--muted:#5b6673;--line:#dde2e8;--bg:#fff;--soft:#f5f7fa;--accent:#1f6feb}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:16px}
header{border-bottom:2px solid var(--accent);margin-bottom:8px}
h1{font-size:1.5rem;margin:.2em 0}
h2{font-size:1.2rem;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1.2em 0 .4em}
p.sub,.muted{color:var(--muted)}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--soft);padding:10px;border-radius:6px;overflow-x:auto;
white-space:pre-wrap;word-break:break-word}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px}
.card{background:var(--soft);border-radius:6px;padding:8px 10px}
.card .k{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
.card .v{font-size:1.15rem;font-weight:600;font-variant-numeric:tabular-nums;
overflow-wrap:anywhere}
.cards>*,.grid>*,.mist>*{min-width:0}
p,li,code{overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.4em 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:14px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
td.n,th.n{text-align:right}
th{background:var(--soft);font-weight:600}
table.cm td,table.cm thead th{text-align:center;min-width:2.2em}
table.wrap td{white-space:normal;min-width:7em}
.half{max-width:640px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
figure{margin:0}
figure img,figure svg{width:100%;height:auto;display:block}
figcaption{font-size:13px;color:var(--muted)}
.mist{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px}
.mist>div{background:var(--soft);border-radius:6px;padding:8px;font-size:13px}
.mist img{width:72px;height:72px;image-rendering:pixelated;display:block}
blockquote{margin:4px 0;font-style:italic;overflow-wrap:anywhere}
details{margin:.6em 0}summary{cursor:pointer;color:var(--accent)}
.bad{color:#b42318}.good{color:#067647}
@media (max-width:480px){main{padding:10px}h1{font-size:1.25rem}table{font-size:13px}
th,td{padding:3px 5px}.grid{grid-template-columns:1fr}}
"""


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes escaped, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 4) -> str:
    """A metric as text: floats with ``digits`` decimals, ints as they are, None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}f}"
    return esc(value)


def seconds(value: float | None) -> str:
    """Wall time for people: ``0.8 s``, ``2 min 05 s``, ``1 h 02 min``."""
    if value is None:
        return "-"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {int(value % 60):02d} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60):02d} min"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: bool = True,
          cls: str = "", attrs: Sequence[dict] | None = None) -> str:
    """A table in a sideways-scrolling box; number cells right-aligned, 4 decimals.

    Args:
        headers: column titles.
        rows: cells (strings are escaped, numbers formatted by :func:`num`; a cell given
            as ``("html", text)`` is inserted as it is).
        numeric: right-align the number columns.
        cls: the table's class.
        attrs: per row, attributes of its ``<tr>`` (``{"data-key": "..."}``).
    """
    head = "".join(f'<th{_cls(i > 0 and numeric)}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        extra = "".join(f' {k}="{esc(v)}"' for k, v in (attrs[r] if attrs else {}).items())
        cells = "".join(_cell(c, numeric) for c in row)
        body.append(f"<tr{extra}>{cells}</tr>")
    klass = f' class="{cls}"' if cls else ""
    return (f'<div class="scroll"><table{klass}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _cls(numeric: bool) -> str:
    return ' class="n"' if numeric else ""


def _cell(value: Any, numeric: bool) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
        return f"<td>{value[1]}</td>"
    is_num = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    return f"<td{_cls(numeric and is_num)}>{num(value)}</td>"


def cards(items: Iterable[tuple[str, Any]], *, key_attr: str | None = None) -> str:
    """Big-number cards: ``[(label, value)]``; ``key_attr`` tags each value with its label."""
    out = []
    for label, value in items:
        tag = f' {key_attr}="{esc(label)}"' if key_attr else ""
        out.append(f'<div class="card"><div class="k">{esc(label)}</div>'
                   f'<div class="v"{tag}>{num(value)}</div></div>')
    return f'<div class="cards">{"".join(out)}</div>'


def data_uri(path: Path, mime: str = "image/png") -> str:
    """The file's bytes as a ``data:`` URI."""
    return f"data:{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def png_uri(data: bytes) -> str:
    """PNG bytes as a ``data:`` URI."""
    return f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}"


def img(path: Path, alt: str, caption: str | None = None) -> str:
    """A figure holding ``path``'s PNG inline (empty when the file is missing)."""
    if not Path(path).is_file():
        return ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(path)}" alt="{esc(alt)}">{cap}</figure>'


def figure(svg: str, caption: str | None = None) -> str:
    """An inline SVG in a figure with an optional caption."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def section(title: str, body: str, *, ident: str | None = None) -> str:
    """``<section>`` with an ``<h2>``; empty ``body`` gives an empty string."""
    if not body:
        return ""
    ident = f' id="{esc(ident)}"' if ident else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def page(title: str, subtitle: str, body: str) -> str:
    """The whole document: one self-contained HTML file."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            f"<header><h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p></header>"
            f"{body}</main></body></html>\n")
