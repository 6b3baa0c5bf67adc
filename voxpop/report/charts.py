"""The report's charts: inline SVG for the HTML report, PNG (matplotlib) for the report mail.

Rules every chart keeps: the x axis holds only the period's own weeks (cut to the period, labelled by
their first day inside it); a trend needs at least three points, else it is drawn as bars; labels are
never cut silently: long ones wrap onto two lines and end in … with the full text in a ``<title>``
tooltip (SVG) or are wrapped (PNG). Every text is escaped by :func:`alerts.charts.esc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.charts import (
    PALETTE,
    SENTIMENT_COLOURS,
    colour,
    esc,
    legend,
    new_figure,
    style_axes,
    svg,
    to_png,
    wrap_label,
)

MIN_LINE_POINTS = 3

__all__ = ["PALETTE", "SENTIMENT_COLOURS", "bar_chart", "heat_map", "line_chart", "stacked_bars", "trend_chart",
           "trend_png", "bars_png"]


def label_svg(x: float, y: float, text: str, *, width: int = 26, lines: int = 2, anchor: str = "end",
              line_h: int = 12) -> str:
    """A label wrapped onto at most ``lines`` tspans around ``y``; the full text is its tooltip."""
    parts = wrap_label(text, width, lines).split("\n")
    y0 = y - (len(parts) - 1) * line_h / 2
    spans = "".join(f'<tspan x="{x:.1f}" y="{y0 + i * line_h:.1f}">{esc(p)}</tspan>' for i, p in enumerate(parts))
    return f'<text x="{x:.1f}" y="{y0:.1f}" text-anchor="{anchor}"><title>{esc(text)}</title>{spans}</text>'


def bar_chart(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
              intervals: Sequence[Sequence[tuple[float, float] | None]] | None = None, percent: bool = True,
              max_value: float | None = None, width: int = 640, flagged: Sequence[Sequence[bool]] | None = None) -> str:
    """Horizontal grouped bars: one group per category, one bar per series, optional 95 % interval whiskers.

    ``flagged[s][c]`` draws that bar light (small sample). None values are left out.
    """
    label_w, bar_h, gap = 170, 14, 12
    group_h = max(bar_h * max(1, len(series)), 26) + gap
    height = 34 + group_h * len(categories) + 16
    values = [v for _, vs in series for v in vs if v is not None]
    highs = [iv[1] for ivs in (intervals or []) for iv in ivs if iv is not None]
    top = max_value or max(values + highs + [1e-9])
    plot_w = width - label_w - 90
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{esc(title)}</text>']
    body += legend([name for name, _ in series], label_w, 28, [colour(i) for i in range(len(series))])
    for c, cat in enumerate(categories):
        y0 = 36 + c * group_h
        body.append(label_svg(label_w - 6, y0 + (group_h - gap) / 2 + 4, cat, width=24))
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
            body.append(f'<text x="{end + 4:.1f}" y="{y + bar_h - 4}">{esc(text)}{" (small n)" if small else ""}'
                        f'</text>')
    return svg(width, height, title, body)


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[tuple[str, float]]]], *,
                 colours: dict[str, str] | None = None, width: int = 640) -> str:
    """One 100 % bar per row (e.g. a product's sentiment mix); segments are (label, share 0-1)."""
    label_w, bar_h = 170, 22
    keys: list[str] = []
    for _, segs in rows:
        keys += [k for k, _ in segs if k not in keys]
    cols = {k: (colours or {}).get(k, colour(i)) for i, k in enumerate(keys)}
    height = 40 + (bar_h + 8) * len(rows) + 8
    plot_w = width - label_w - 20
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{esc(title)}</text>']
    body += legend(keys, label_w, 30, [cols[k] for k in keys])
    for r, (name, segs) in enumerate(rows):
        y = 40 + r * (bar_h + 8)
        body.append(label_svg(label_w - 6, y + bar_h / 2 + 4, name, width=24))
        x = float(label_w)
        for key, value in segs:
            w = plot_w * max(0.0, value)
            if w <= 0:
                continue
            body.append(f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{cols[key]}">'
                        f'<title>{esc(key)}: {100 * value:.0f}%</title></rect>')
            if w > 28:
                body.append(f'<text x="{x + 3:.1f}" y="{y + bar_h - 7}" fill="#fff">{100 * value:.0f}%</text>')
            x += w
    return svg(width, height, title, body)


def _points(series: Sequence[tuple[str, Sequence[float | None]]]) -> int:
    return max((sum(1 for v in vals if v is not None) for _, vals in series), default=0)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
               percent: bool = False, width: int = 640, height: int = 220, max_value: float | None = None) -> str:
    """Trend lines over ``x_labels`` (the period's weeks); None values break a line."""
    left, right, top_pad, bottom = 48, 16, 40, 36
    values = [v for _, vs in series for v in vs if v is not None]
    top = 1.0 if percent else (max_value or max(values + [1.0]))
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    n = max(1, len(x_labels) - 1)
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{esc(title)}</text>']
    body += legend([name for name, _ in series], left, 30, [colour(i) for i in range(len(series))])
    for k in range(5):
        v = top * k / 4
        y = top_pad + plot_h - plot_h * k / 4
        text = f"{100 * v:.0f}%" if percent else (f"{v:.0f}" if top >= 8 else f"{v:.1f}")
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                    f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    step = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == len(x_labels) - 1:
            x = left + plot_w * i / n
            anchor = "start" if i == 0 else ("end" if i == len(x_labels) - 1 else "middle")
            body.append(f'<text class="xlabel" x="{x:.1f}" y="{height - bottom + 14}" text-anchor="{anchor}">'
                        f'{esc(label[5:] if len(label) == 10 else label)}</text>')
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
    return svg(width, height, title, body)


def column_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
                 percent: bool = False, width: int = 640, height: int = 220, max_value: float | None = None) -> str:
    """Grouped vertical bars per x label: the form a trend with fewer than three points takes."""
    left, right, top_pad, bottom = 48, 16, 40, 36
    values = [v for _, vs in series for v in vs if v is not None]
    top = 1.0 if percent else (max_value or max(values + [1.0]))
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    slot = plot_w / max(1, len(x_labels))
    bar_w = min(40.0, slot * 0.8 / max(1, len(series)))
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{esc(title)}</text>']
    body += legend([name for name, _ in series], left, 30, [colour(i) for i in range(len(series))])
    body.append(f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" y2="{top_pad + plot_h}" '
                f'stroke="#9ca3af"/>')
    for i, label in enumerate(x_labels):
        x0 = left + slot * i + (slot - bar_w * len(series)) / 2
        body.append(f'<text class="xlabel" x="{left + slot * i + slot / 2:.1f}" y="{height - bottom + 14}" '
                    f'text-anchor="middle">{esc(label[5:] if len(label) == 10 else label)}</text>')
        for s, (_, vals) in enumerate(series):
            v = vals[i] if i < len(vals) else None
            if v is None:
                continue
            h = plot_h * v / top
            text = f"{100 * v:.0f}%" if percent else (f"{v:.1f}" if v < 10 else f"{v:.0f}")
            body.append(f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{top_pad + plot_h - h:.1f}" '
                        f'width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{colour(s)}">'
                        f'<title>{esc(text)}</title></rect>')
    return svg(width, height, title, body)


def trend_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
                **kwargs: Any) -> str:
    """A line chart when some series has at least three points, else grouped bars."""
    if _points(series) >= MIN_LINE_POINTS:
        return line_chart(title, x_labels, series, **kwargs)
    return column_chart(title, x_labels, series, **kwargs)


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
    """A grid coloured by ``values`` (0-1, red to green); grey where None, faded where flagged small.

    Row labels wrap onto up to three lines (full text in the tooltip); column labels onto two.
    """
    label_w, head_h, cell_h = 230, 46, 44
    cell_w = max(90, (width - label_w - 10) // max(1, len(cols)))
    width = label_w + cell_w * len(cols) + 10
    height = head_h + cell_h * len(rows) + 10
    body = [f'<text x="4" y="14" font-size="13" font-weight="bold">{esc(title)}</text>']
    for j, col in enumerate(cols):
        body.append(label_svg(label_w + cell_w * j + cell_w / 2, head_h - 16, col, width=max(8, cell_w // 7),
                              anchor="middle"))
    for i, row in enumerate(rows):
        y = head_h + cell_h * i
        body.append(label_svg(label_w - 6, y + cell_h / 2 + 2, row, width=36, lines=3))
        for j in range(len(cols)):
            v = values[i][j]
            small = bool(flagged and flagged[i][j])
            fill = "#e5e7eb" if v is None else _heat(v)
            fade = ' fill-opacity="0.4"' if small else ""
            body.append(f'<rect class="cell" x="{label_w + cell_w * j}" y="{y}" width="{cell_w - 2}" '
                        f'height="{cell_h - 2}" fill="{fill}"{fade}/>'
                        f'<text x="{label_w + cell_w * j + cell_w / 2}" y="{y + cell_h / 2 + 4}" '
                        f'text-anchor="middle" font-size="10">{esc(texts[i][j])}</text>')
    return svg(width, height, title, body)


# -- PNG for the report mail ---------------------------------------------------------------------


def trend_png(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
              percent: bool = False, width: int = 560, height: int = 220) -> bytes:
    """The PNG twin of :func:`trend_chart`: lines with three or more points, else grouped bars."""
    return to_png(trend_figure(title, x_labels, series, percent=percent, width=width, height=height))


def trend_figure(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
                 percent: bool = False, width: int = 560, height: int = 220) -> Any:
    """The matplotlib figure behind :func:`trend_png`."""
    fig = new_figure(width, height)
    # Pixel margins: the y tick labels (left, "100%" included) and the x tick labels (bottom) are never cut.
    left, right, top, bottom = 44, 14, 60, 26
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
    n = len(x_labels)
    if _points(series) >= MIN_LINE_POINTS:
        for s, (name, vals) in enumerate(series):
            ax.plot(range(n), [float("nan") if v is None else v for v in vals], marker="o", markersize=3,
                    color=PALETTE[s % len(PALETTE)], label=wrap_label(name, 24, 1), linewidth=2)
    else:
        k = max(1, len(series))
        w = 0.8 / k
        for s, (name, vals) in enumerate(series):
            ax.bar([i - 0.4 + w * (s + 0.5) for i in range(n)], [0 if v is None else v for v in vals], width=w,
                   color=PALETTE[s % len(PALETTE)], label=wrap_label(name, 24, 1))
    style_axes(ax)
    ax.set_xticks(range(n))
    ax.set_xticklabels([lab[5:] if len(lab) == 10 else lab for lab in x_labels])
    if n:
        ax.set_xlim(-0.6, n - 0.4)
    if percent:
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
    else:
        ax.set_ylim(bottom=0)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=min(4, len(series)), frameon=False, fontsize=8)
    fig.suptitle(title, x=0.02, y=0.98, ha="left", fontsize=10, color="#111827")
    return fig


def bars_png(title: str, categories: Sequence[str], values: Sequence[float | None], *, percent: bool = True,
             intervals: Sequence[tuple[float, float] | None] | None = None, width: int = 560) -> bytes:
    """Horizontal bars with optional 95 % whiskers; category labels wrapped, never cut."""
    return to_png(bars_figure(title, categories, values, percent=percent, intervals=intervals, width=width))


def bars_figure(title: str, categories: Sequence[str], values: Sequence[float | None], *, percent: bool = True,
                intervals: Sequence[tuple[float, float] | None] | None = None, width: int = 560) -> Any:
    """The matplotlib figure behind :func:`bars_png`."""
    height = 80 + 34 * max(1, len(categories))
    fig = new_figure(width, height)
    # Margins in pixels, so the tick labels (bottom), "100%" (right) and the wrapped names (left) always fit.
    left, right, top, bottom = 0.3 * width, 40, 44, 30
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
    ys = list(range(len(categories)))[::-1]
    vals = [0 if v is None else v for v in values]
    ax.barh(ys, vals, color=[PALETTE[i % len(PALETTE)] for i in range(len(categories))], height=0.6)
    for y, v, iv in zip(ys, values, intervals or [None] * len(values), strict=False):
        if iv is not None:
            ax.plot([iv[0], iv[1]], [y, y], color="#111827", linewidth=1)
        if v is not None:
            ax.text(max(v, iv[1] if iv else 0) + 0.01 * (1 if percent else 5), y,
                    f"{100 * v:.0f}%" if percent else f"{v:.2f}", va="center", fontsize=8, color="#111827")
    ax.set_yticks(ys)
    ax.set_yticklabels([wrap_label(c, 24, 2) for c in categories])
    style_axes(ax)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    widest = max([float(v) for v in vals] + [float(iv[1]) for iv in (intervals or []) if iv] + [1e-9])
    ax.set_xlim(0, 1.0 if percent else widest * 1.2)
    if percent:
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
    fig.suptitle(title, x=0.02, y=1 - 8 / height, ha="left", va="top", fontsize=10, color="#111827")
    return fig
