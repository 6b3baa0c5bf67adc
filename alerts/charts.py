"""Charts for alert mail, and the SVG primitives the report's charts build on.

SVG output is a self-contained ``<svg>`` string (no scripts, no external fonts or styles) with fixed
pixel sizes; every piece of text is escaped here, so callers may pass scraped names as they are.
Mail clients (Gmail, Outlook) do not show SVG, so mail carries PNG charts drawn with matplotlib
(:func:`daily_bars_png`) as inline images referenced by ``cid:``; plain text gets a sparkline.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563")
SENTIMENT_COLOURS = {"positive": "#16a34a", "neutral": "#9ca3af", "negative": "#dc2626"}
FONT = "font-family=\"Helvetica,Arial,sans-serif\""
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg(width: int, height: int, title: str, body: list[str], font_size: int = 11) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
            'style="max-width:100%;height:auto" '
            f'viewBox="0 0 {width} {height}" {FONT} font-size="{font_size}"><title>{esc(title)}</title>'
            + "".join(body) + "</svg>")


def colour(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def legend(names: Sequence[str], x: int, y: int, colours: Sequence[str]) -> list[str]:
    out, cx = [], x
    for name, col in zip(names, colours, strict=False):
        out.append(f'<rect x="{cx}" y="{y - 9}" width="10" height="10" fill="{col}"/>'
                   f'<text x="{cx + 14}" y="{y}">{esc(name)}</text>')
        cx += 24 + 7 * len(str(name))
    return out





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
        body.append(f'<text x="{left}" y="10" fill="#374151">{esc(title)}</text>')
    peak = max([float(v) for v in values if v is not None] or [0.0]) or 1.0
    step = (width - 2 * left) / max(1, n)
    bar_w = max(1.0, step * 0.8)
    for i, v in enumerate(values):
        v = float(v or 0)
        h = plot_h * v / peak
        x = left + i * step
        fill = highlight if i >= n - highlight_last else colour
        body.append(f'<rect x="{num(x)}" y="{num(top + plot_h - h)}" width="{num(bar_w)}" height="{num(h)}" '
                    f'fill="{fill}"><title>{esc(labels[i] if labels and i < len(labels) else i)}: '
                    f'{num(v)}</title></rect>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - left}" y2="{top + plot_h}" stroke="#9ca3af"/>')
    body.append(f'<text x="{width - left}" y="{top - 3}" text-anchor="end" fill="#6b7280">max {num(peak)}</text>')
    if labels and n:
        body.append(f'<text x="{left}" y="{height - 3}" fill="#6b7280">{esc(labels[0])}</text>')
        body.append(f'<text x="{width - left}" y="{height - 3}" text-anchor="end" '
                    f'fill="#6b7280">{esc(labels[-1])}</text>')
    return svg(width, height, title or "bar chart", body, font_size=10)


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block sparkline for plain-text mail (``▁▂▅█``); blanks for missing values."""
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(0.0, min(nums)), max(nums)
    span = (hi - lo) or 1.0
    return "".join(" " if v is None else SPARK_BLOCKS[min(7, int((float(v) - lo) / span * 7.999))] for v in values)


# -- PNG for mail ----------------------------------------------------------------------------------

PNG_DPI = 100
WRAP_AT = 28


def wrap_label(text: str, width: int = WRAP_AT, lines: int = 2) -> str:
    """A label wrapped onto at most ``lines`` lines of ``width`` characters, the last ending in … when cut."""
    words, out, line = str(text).split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(line)
    out = [w if len(w) <= width else w[: width - 1] + "…" for w in out]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = (out[-1][: width - 1].rstrip() + "…") if len(out[-1]) >= width else out[-1] + " …"
    return "\n".join(out)


def new_figure(width_px: int, height_px: int) -> Any:
    """A matplotlib figure of this pixel size on the Agg backend (no display, thread-safe per figure)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / PNG_DPI, height_px / PNG_DPI), dpi=PNG_DPI)
    fig.patch.set_facecolor("#ffffff")
    return fig


def to_png(fig: Any) -> bytes:
    """The figure as PNG bytes (metadata left out so the same chart gives the same bytes)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buf.getvalue()


def style_axes(ax: Any) -> None:
    """Light grid, no top/right frame, small grey ticks."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#9ca3af")
    ax.spines["bottom"].set_color("#9ca3af")
    ax.tick_params(colors="#374151", labelsize=8)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def daily_bars_png(values: Sequence[float], labels: Sequence[str], *, title: str = "", highlight_last: int = 0,
                   width: int = 560, height: int = 180) -> bytes:
    """Posts per day as a PNG bar chart for mail, the last ``highlight_last`` bars in red; dates on the axis."""
    fig = new_figure(width, height)
    ax = fig.add_axes((0.07, 0.2, 0.9, 0.66))
    n = len(values)
    colours = [SENTIMENT_COLOURS["negative"] if i >= n - highlight_last else PALETTE[0] for i in range(n)]
    ax.bar(range(n), [float(v or 0) for v in values], color=colours, width=0.8)
    style_axes(ax)
    ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))}) if n else []
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(labels[i])[5:] if len(str(labels[i])) == 10 else str(labels[i]) for i in ticks])
    ax.set_xlim(-0.6, n - 0.4)
    ax.yaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title, x=0.07, y=0.97, ha="left", fontsize=10, color="#111827")
    return to_png(fig)
