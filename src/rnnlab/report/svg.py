"""Small inline-SVG charts for the report: lines (with bands), bars, sparklines, pixels.

Drawn as text, not with Matplotlib: a 100-epoch curve is a few kilobytes, renders sharp at
any width and costs microseconds. Every chart has a ``viewBox`` and no fixed width, so it
scales to its column (the page's CSS sets ``width: 100%``). No ``xmlns`` attribute: inline
SVG in HTML needs none, and the page holds no absolute URL.

Example:
    >>> svg = line_chart([Series("loss", [1, 2, 3], [0.9, 0.5, 0.4])], x_label="epoch")
    >>> svg.startswith("<svg") and "loss" in svg
    True
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rnnlab.report.html import esc, png_uri

#: Colour per series, colour-blind safe (Okabe & Ito), in order.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000",
           "#f0e442")


@dataclass(frozen=True)
class Series:
    """One line: ``x``/``y`` values (None or NaN: a gap); ``band``: (low, high) per x."""

    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    color: str | None = None
    dashed: bool = False
    band: tuple[Sequence[float], Sequence[float]] | None = None


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt_tick(v: float) -> str:
    return f"{v:.4g}"


def line_chart(series: Sequence[Series], *, x_label: str = "", y_label: str = "",
               title: str = "", width: int = 520, height: int = 300, log_y: bool = False
               ) -> str:
    """Lines over a shared x axis, with ticks, grid, optional bands and a legend.

    Args:
        series: the lines.
        x_label, y_label, title: axis labels and the chart's title.
        width, height: the drawing's size in its own units (it scales to the page).
        log_y: a logarithmic y axis (only where every value is positive).

    Returns:
        An ``<svg>`` element as text.
    """
    pts = [(x, y) for s in series for x, y in zip(s.x, s.y, strict=False) if _finite(y)]
    pts += [(x, v) for s in series if s.band for x, lo, hi in zip(s.x, *s.band, strict=False)
            for v in (lo, hi) if _finite(v)]
    if not pts:
        return ""
    log_y = log_y and all(y > 0 for _, y in pts)
    fy = (lambda v: math.log10(v)) if log_y else (lambda v: float(v))
    xs, ys = [float(p[0]) for p in pts], [fy(p[1]) for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.06 or abs(y0) * 0.1 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    left, right, top, bottom = 58, 12, 26 if title else 10, 40
    places = _legend(series, width - left - right)
    bottom += 18 * (1 + max((row for _, row in places), default=0))
    pw, ph = width - left - right, height - top - bottom

    def px(x):
        return left + (float(x) - x0) / (x1 - x0) * pw

    def py(y):
        return top + (1 - (fy(y) - y0) / (y1 - y0)) * ph

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title or y_label)}"'
           f' font-family="system-ui,sans-serif" font-size="13">']
    if title:
        out.append(f'<text x="{left}" y="16" font-weight="600">{esc(title)}</text>')
    yticks = nice_ticks(y0, y1)
    for t in yticks:
        if y0 <= t <= y1:
            yy = top + (1 - (t - y0) / (y1 - y0)) * ph
            label = _fmt_tick(10 ** t if log_y else t)
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                       f'stroke="#e4e7eb"/><text x="{left - 6}" y="{yy + 4:.1f}" '
                       f'text-anchor="end" fill="#5b6673">{label}</text>')
    whole = all(float(x).is_integer() for x in xs)  # epochs, steps: no tick at 1.5
    for t in nice_ticks(x0, x1, 6):
        if x0 <= t <= x1 and (not whole or float(t).is_integer()):
            xx = px(t)
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + ph}" y2="{top + ph + 4}"'
                       f' stroke="#5b6673"/><text x="{xx:.1f}" y="{top + ph + 17}" '
                       f'text-anchor="middle" fill="#5b6673">{_fmt_tick(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="#c5ccd3"/>')
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.band:
            upper = [(px(x), py(h)) for x, h in zip(s.x, s.band[1], strict=False) if _finite(h)]
            lower = [(px(x), py(lo)) for x, lo in zip(s.x, s.band[0], strict=False)
                     if _finite(lo)]
            poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower[::-1])
            out.append(f'<polygon points="{poly}" fill="{color}" fill-opacity="0.18" '
                       f'stroke="none"/>')
        for run in _runs(s):
            d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            if len(run) == 1:
                (x, y), = run
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
            else:
                out.append(f'<polyline points="{d}" fill="none" stroke="{color}" '
                           f'stroke-width="2"{dash}/>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph + 32}" text-anchor="middle">'
               f'{esc(x_label)}</text>')
    if y_label:
        out.append(f'<text transform="translate(13 {top + ph / 2:.0f}) rotate(-90)" '
                   f'text-anchor="middle">{esc(y_label)}</text>')
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        lx, ly = left + places[i][0], top + ph + 50 + 18 * places[i][1]
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        out.append(f'<line x1="{lx:.0f}" x2="{lx + 22:.0f}" y1="{ly - 4}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="2"{dash}/><text x="{lx + 28:.0f}" '
                   f'y="{ly}">{esc(_short(s.label, 30))}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[Series], room: float) -> list[tuple[float, int]]:
    """Each legend entry's (x offset, row): entries flow left to right, wrapping."""
    places, x, row = [], 0.0, 0
    for s in series:
        need = 40 + 7.2 * len(_short(s.label, 30))  # the swatch and the text at 13 units
        if x > 0 and x + need > room:
            x, row = 0.0, row + 1
        places.append((x, row))
        x += need
    return places


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _runs(s: Series) -> list[list[tuple[float, float]]]:
    """The series split at gaps (missing values)."""
    runs, cur = [], []
    for x, y in zip(s.x, s.y, strict=False):
        if _finite(y):
            cur.append((x, y))
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def bar_chart(edges: Sequence[float], counts: Sequence[int], *, x_label: str = "",
              title: str = "", width: int = 520, height: int = 220,
              integer: bool = False) -> str:
    """A histogram: ``counts[i]`` examples in [``edges[i]``, ``edges[i + 1]``).

    ``integer``: the values are whole numbers (lengths): ticks only at whole numbers.
    """
    if not counts:
        return ""
    left, right, top, bottom = 48, 12, 26 if title else 10, 40
    pw, ph = width - left - right, height - top - bottom
    top_count = max(max(counts), 1)
    x0, x1 = float(edges[0]), float(edges[-1])
    if x1 == x0:
        x1 = x0 + 1
    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
           f'font-family="system-ui,sans-serif" font-size="13">']
    if title:
        out.append(f'<text x="{left}" y="16" font-weight="600">{esc(title)}</text>')
    for t in nice_ticks(0, top_count, 4):
        if t <= top_count:
            yy = top + (1 - t / top_count) * ph
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
                       f'stroke="#e4e7eb"/><text x="{left - 6}" y="{yy + 4:.1f}" '
                       f'text-anchor="end" fill="#5b6673">{_fmt_tick(t)}</text>')
    for i, c in enumerate(counts):
        a = left + (float(edges[i]) - x0) / (x1 - x0) * pw
        b = left + (float(edges[i + 1]) - x0) / (x1 - x0) * pw
        h = c / top_count * ph
        out.append(f'<rect x="{a + 0.5:.1f}" y="{top + ph - h:.1f}" width="{max(b - a - 1, 1):.1f}"'
                   f' height="{h:.1f}" fill="{PALETTE[0]}"><title>{_fmt_tick(edges[i])}–'
                   f'{_fmt_tick(edges[i + 1])}: {c}</title></rect>')
    for t in nice_ticks(x0, x1, 6):
        if x0 <= t <= x1 and (not integer or float(t).is_integer()):
            xx = left + (t - x0) / (x1 - x0) * pw
            out.append(f'<text x="{xx:.1f}" y="{top + ph + 16}" text-anchor="middle" '
                       f'fill="#5b6673">{_fmt_tick(t)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" '
               f'stroke="#5b6673"/><text x="{left + pw / 2:.0f}" y="{height - 6}" '
               f'text-anchor="middle">{esc(x_label)}</text></svg>')
    return "".join(out)


def sparkline(values: Sequence[float], *, width: int = 150, height: int = 48) -> str:
    """A small line of one sequence's values, no axes."""
    vals = [float(v) for v in values if _finite(v)]
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    d = " ".join(f"{i / (len(vals) - 1) * (width - 4) + 2:.1f},"
                 f"{height - 2 - (v - lo) / span * (height - 4):.1f}" for i, v in enumerate(vals))
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="sequence">'
            f'<polyline points="{d}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>'
            "</svg>")


def pixels_png(pixels: Sequence[Sequence[float]]) -> str:
    """A grey image (rows of values in [0, 1], ink = 1 drawn dark) as a PNG ``data:`` URI."""
    import numpy as np
    from PIL import Image

    a = np.clip(np.asarray(pixels, np.float32), 0, 1)
    buf = io.BytesIO()
    Image.fromarray((255 - a * 255).astype(np.uint8)).save(buf, format="PNG")
    return png_uri(buf.getvalue())
