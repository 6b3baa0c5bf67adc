"""Tiny inline-SVG charts for alert mail: daily bars and trend lines, plus a text sparkline.

Every function returns a self-contained ``<svg>`` string (no scripts, no external fonts, styles or
links) and escapes every piece of text it is given, so scraped or configured names can be passed as
they are. Sizes are fixed in pixels so mail clients that render SVG lay it out without CSS.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
_FONT = 'font-family="Helvetica,Arial,sans-serif"'
_BLOCKS = "▁▂▃▄▅▆▇█"


def _t(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {_FONT} font-size="10"><title>{_t(title)}</title>'
            + "".join(body) + "</svg>")


def bar_chart(values: Sequence[float], labels: Sequence[str] | None = None, *, title: str = "",
              width: int = 420, height: int = 110, highlight_last: int = 0, colour: str = PALETTE[0],
              highlight: str = PALETTE[1]) -> str:
    """Vertical bars, one per value (e.g. posts per day), the last ``highlight_last`` in another colour.

    Labels, when given, are drawn under the first and last bar only (dates stay readable when small).
    """
    n = len(values)
    top, bottom, left = 14, 16, 4
    plot_h = height - top - bottom
    body: list[str] = []
    if title:
        body.append(f'<text x="{left}" y="10" fill="#374151">{_t(title)}</text>')
    peak = max([float(v) for v in values if v is not None] or [0.0]) or 1.0
    step = (width - 2 * left) / max(1, n)
    bar_w = max(1.0, step * 0.8)
    for i, v in enumerate(values):
        v = float(v or 0)
        h = plot_h * v / peak
        x = left + i * step
        fill = highlight if i >= n - highlight_last else colour
        body.append(f'<rect x="{_num(x)}" y="{_num(top + plot_h - h)}" width="{_num(bar_w)}" height="{_num(h)}" '
                    f'fill="{fill}"><title>{_t(labels[i] if labels and i < len(labels) else i)}: '
                    f'{_num(v)}</title></rect>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" stroke="#9ca3af"/>')
    body.append(f'<text x="{width - left}" y="{top - 3}" text-anchor="end" fill="#6b7280">max {_num(peak)}</text>')
    if labels and n:
        body.append(f'<text x="{left}" y="{height - 3}" fill="#6b7280">{_t(labels[0])}</text>')
        body.append(f'<text x="{width - left}" y="{height - 3}" text-anchor="end" '
                    f'fill="#6b7280">{_t(labels[-1])}</text>')
    return _frame(width, height, title or "bar chart", body)


def line_chart(series: Sequence[tuple[str, Sequence[float | None]]], labels: Sequence[str] | None = None, *,
               title: str = "", width: int = 420, height: int = 120, low: float | None = None,
               high: float | None = None) -> str:
    """One polyline per named series over shared x positions; None values break the line."""
    top, bottom, left = 16, 16, 4
    plot_h = height - top - bottom
    points = [float(v) for _, vs in series for v in vs if v is not None]
    lo = low if low is not None else min(points, default=0.0)
    hi = high if high is not None else max(points, default=1.0)
    if hi <= lo:
        hi = lo + 1.0
    n = max((len(vs) for _, vs in series), default=0)
    step = (width - 2 * left) / max(1, n - 1)
    body: list[str] = []
    if title:
        body.append(f'<text x="{left}" y="10" fill="#374151">{_t(title)}</text>')
    for k, (name, vs) in enumerate(series):
        col = PALETTE[k % len(PALETTE)]
        run: list[str] = []
        runs: list[list[str]] = []
        for i, v in enumerate(vs):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            y = top + plot_h * (1 - (float(v) - lo) / (hi - lo))
            run.append(f"{_num(left + i * step)},{_num(y)}")
        if run:
            runs.append(run)
        for r in runs:
            body.append(f'<polyline fill="none" stroke="{col}" stroke-width="1.5" points="{" ".join(r)}"/>')
        body.append(f'<text x="{width - left}" y="{10 + 11 * k}" text-anchor="end" fill="{col}">{_t(name)}</text>')
    if labels:
        body.append(f'<text x="{left}" y="{height - 3}" fill="#6b7280">{_t(labels[0])}</text>')
        body.append(f'<text x="{width - left}" y="{height - 3}" text-anchor="end" '
                    f'fill="#6b7280">{_t(labels[-1])}</text>')
    return _frame(width, height, title or "line chart", body)


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block sparkline for plain-text mail (``▁▂▅█``); blanks for missing values."""
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(0.0, min(nums)), max(nums)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else _BLOCKS[min(7, int((float(v) - lo) / span * 7.999))] for v in values)
