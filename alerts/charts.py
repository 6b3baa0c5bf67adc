"""A tiny inline-SVG chart renderer for reports and alert mail.

Reports: grouped bars with intervals, stacked 100 % bars, trend lines, heat maps. Alert mail: daily
bars and a text sparkline. Output is a self-contained ``<svg>`` string (no scripts, no external fonts
or styles) to paste into HTML, with fixed pixel sizes so mail clients lay it out without CSS. Every
piece of text is escaped here, so callers may pass scraped or configured names as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563")
SENTIMENT_COLOURS = {"positive": "#16a34a", "neutral": "#9ca3af", "negative": "#dc2626"}
FONT = "font-family=\"Helvetica,Arial,sans-serif\""
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def _t(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, title: str, body: list[str], font_size: int = 11) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {FONT} font-size="{font_size}"><title>{_t(title)}</title>'
            + "".join(body) + "</svg>")


def colour(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def _legend(names: Sequence[str], x: int, y: int, colours: Sequence[str]) -> list[str]:
    out, cx = [], x
    for name, col in zip(names, colours, strict=False):
        out.append(f'<rect x="{cx}" y="{y - 9}" width="10" height="10" fill="{col}"/>'
                   f'<text x="{cx + 14}" y="{y}">{_t(name)}</text>')
        cx += 24 + 7 * len(str(name))
    return out


def bar_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
              intervals: Sequence[Sequence[tuple[float, float] | None]] | None = None, percent: bool = True,
              max_value: float | None = None, width: int = 640, flagged: Sequence[Sequence[bool]] | None = None) -> str:
    """Horizontal grouped bars: one group per category, one bar per series, optional 95 % interval whiskers.

    ``flagged[s][c]`` draws that bar hatched-light (small sample). None values are left out.
    """
    label_w, bar_h, gap = 170, 14, 10
    group_h = bar_h * max(1, len(series)) + gap
    height = 34 + group_h * len(categories) + 16
    values = [v for _, vs in series for v in vs if v is not None]
    highs = [iv[1] for ivs in (intervals or []) for iv in ivs if iv is not None]
    top = max_value or max(values + highs + [1e-9])
    plot_w = width - label_w - 60
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{_t(title)}</text>']
    body += _legend([name for name, _ in series], label_w, 28, [colour(i) for i in range(len(series))])
    for c, cat in enumerate(categories):
        y0 = 36 + c * group_h
        body.append(f'<text x="{label_w - 6}" y="{y0 + group_h / 2}" text-anchor="end">{_t(cat)}</text>')
        for s, (_, vals) in enumerate(series):
            v = vals[c] if c < len(vals) else None
            y = y0 + s * bar_h
            if v is None:
                continue
            w = max(0.0, plot_w * v / top)
            small = bool(flagged and flagged[s][c])
            fade = ' fill-opacity="0.35"' if small else ""
            body.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                        f'fill="{colour(s)}"{fade}/>')
            iv = intervals[s][c] if intervals and c < len(intervals[s]) else None
            if iv is not None:
                x1, x2 = label_w + plot_w * iv[0] / top, label_w + plot_w * iv[1] / top
                ym = y + (bar_h - 2) / 2
                body.append(f'<line x1="{x1:.1f}" y1="{ym}" x2="{x2:.1f}" y2="{ym}" stroke="#111" stroke-width="1"/>'
                            f'<line x1="{x1:.1f}" y1="{ym - 3}" x2="{x1:.1f}" y2="{ym + 3}" stroke="#111"/>'
                            f'<line x1="{x2:.1f}" y1="{ym - 3}" x2="{x2:.1f}" y2="{ym + 3}" stroke="#111"/>')
            text = f"{100 * v:.0f}%" if percent else f"{v:.2f}"
            end = label_w + max(w, plot_w * iv[1] / top if iv else 0)
            body.append(f'<text x="{end + 4:.1f}" y="{y + bar_h - 4}">{_t(text)}{" (small n)" if small else ""}</text>')
    return _svg(width, height, title, body)


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[tuple[str, float]]]], *,
                 colours: dict[str, str] | None = None, width: int = 640) -> str:
    """One 100 % bar per row (e.g. a product's sentiment mix); segments are (label, share 0-1)."""
    label_w, bar_h = 170, 18
    keys: list[str] = []
    for _, segs in rows:
        keys += [k for k, _ in segs if k not in keys]
    cols = {k: (colours or {}).get(k, colour(i)) for i, k in enumerate(keys)}
    height = 40 + (bar_h + 8) * len(rows) + 8
    plot_w = width - label_w - 20
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{_t(title)}</text>']
    body += _legend(keys, label_w, 30, [cols[k] for k in keys])
    for r, (name, segs) in enumerate(rows):
        y = 40 + r * (bar_h + 8)
        body.append(f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end">{_t(name)}</text>')
        x = float(label_w)
        for key, value in segs:
            w = plot_w * max(0.0, value)
            if w <= 0:
                continue
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{cols[key]}">'
                        f'<title>{_t(key)}: {100 * value:.0f}%</title></rect>')
            if w > 28:
                body.append(f'<text x="{x + 3:.1f}" y="{y + bar_h - 5}" fill="#fff">{100 * value:.0f}%</text>')
            x += w
    return _svg(width, height, title, body)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
               percent: bool = False, width: int = 640, height: int = 220) -> str:
    """Trend lines over ``x_labels`` (e.g. weeks); None values break a line."""
    left, right, top_pad, bottom = 48, 16, 40, 36
    values = [v for _, vs in series for v in vs if v is not None]
    top = 1.0 if percent else max(values + [1.0])
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    n = max(1, len(x_labels) - 1)
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{_t(title)}</text>']
    body += _legend([name for name, _ in series], left, 30, [colour(i) for i in range(len(series))])
    for k in range(5):
        v = top * k / 4
        y = top_pad + plot_h - plot_h * k / 4
        text = f"{100 * v:.0f}%" if percent else f"{v:.0f}"
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                    f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    step = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0:
            x = left + plot_w * i / n
            body.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">{_t(label[5:])}</text>')
    for s, (_, vals) in enumerate(series):
        segments: list[list[str]] = [[]]
        for i, val in enumerate(vals):
            if val is None:
                segments.append([])
                continue
            x = left + plot_w * i / n
            y = top_pad + plot_h - plot_h * val / top
            segments[-1].append(f"{x:.1f},{y:.1f}")
        for pts in segments:
            if len(pts) == 1:
                cx, cy = pts[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour(s)}"/>')
            elif pts:
                body.append(f'<polyline class="line" fill="none" stroke="{colour(s)}" stroke-width="2" '
                            f'points="{" ".join(pts)}"/>')
    return _svg(width, height, title, body)


def _heat(value: float) -> str:
    """Red (0) through amber to green (1)."""
    v = min(1.0, max(0.0, value))
    if v < 0.5:
        r, g, b = 220, int(38 + (180 - 38) * v * 2), 38
    else:
        r, g, b = int(220 - (220 - 22) * (v - 0.5) * 2), int(180 - (180 - 163) * (v - 0.5) * 2), int(38 + 36 * (v - .5))
    return f"#{r:02x}{g:02x}{b:02x}"


def heat_map(title: str, rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float | None]],
             texts: Sequence[Sequence[str]], *, flagged: Sequence[Sequence[bool]] | None = None,
             width: int = 640) -> str:
    """A grid coloured by ``values`` (0-1, red to green); grey where None, faded where flagged small."""
    label_w, head_h, cell_h = 220, 40, 34
    cell_w = max(60, (width - label_w - 10) // max(1, len(cols)))
    width = label_w + cell_w * len(cols) + 10
    height = head_h + cell_h * len(rows) + 10
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{_t(title)}</text>']
    for j, col in enumerate(cols):
        body.append(f'<text x="{label_w + cell_w * j + cell_w / 2}" y="{head_h - 6}" text-anchor="middle">'
                    f'{_t(col)}</text>')
    for i, row in enumerate(rows):
        y = head_h + cell_h * i
        label = row if len(row) <= 34 else row[:33] + "…"
        body.append(f'<text x="{label_w - 6}" y="{y + cell_h / 2 + 4}" text-anchor="end">{_t(label)}</text>')
        for j in range(len(cols)):
            v = values[i][j]
            small = bool(flagged and flagged[i][j])
            fill = "#e5e7eb" if v is None else _heat(v)
            fade = ' fill-opacity="0.4"' if small else ""
            body.append(f'<rect class="cell" x="{label_w + cell_w * j}" y="{y}" width="{cell_w - 2}" '
                        f'height="{cell_h - 2}" fill="{fill}"{fade}/>'
                        f'<text x="{label_w + cell_w * j + cell_w / 2}" y="{y + cell_h / 2 + 4}" '
                        f'text-anchor="middle">{_t(texts[i][j])}</text>')
    return _svg(width, height, title, body)


# -- alert mail ---------------------------------------------------------------------------------


def daily_bars(values: Sequence[float], labels: Sequence[str] | None = None, *, title: str = "",
               width: int = 420, height: int = 110, highlight_last: int = 0, colour: str = PALETTE[0],
               highlight: str = SENTIMENT_COLOURS["negative"]) -> str:
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
    return _svg(width, height, title or "bar chart", body, font_size=10)


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block sparkline for plain-text mail (``▁▂▅█``); blanks for missing values."""
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(0.0, min(nums)), max(nums)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else SPARK_BLOCKS[min(7, int((float(v) - lo) / span * 7.999))] for v in values)
