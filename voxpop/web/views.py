"""Small inline SVG charts for the pages: numbers only, no text from the data, so nothing to escape."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from alerts import charts
from voxpop.core.text import strip_invisible


def spark_svg(values: Sequence[float | int | None], width: int = 120, height: int = 24) -> Markup:
    """A sparkline (one bar per value) sized for a table cell."""
    nums = [float(v or 0) for v in values]
    if not nums:
        return Markup("")
    peak = max(nums) or 1.0
    step = width / len(nums)
    bars = []
    for i, v in enumerate(nums):
        h = max(1.0 if v else 0.0, (height - 2) * v / peak)
        bars.append(f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(1.0, step - 1):.1f}" '
                    f'height="{h:.1f}"/>')
    total = int(sum(nums))
    return Markup(f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" role="img" aria-label="{len(nums)} days, {total} posts">'
                  + "".join(bars) + "</svg>")  # noqa: S704 - built from numbers only


_STYLE_ATTRIBUTE = re.compile(r'\sstyle="[^"<>]*"')


def without_inline_style(chart: str) -> Markup:
    """A chart of ``alerts.charts`` / ``voxpop.report.charts`` with its inline ``style`` attributes removed.

    The charts carry them for mail clients; our CSP allows styles only from app.css, which sizes ``svg.chart``.
    Texts inside the charts are escaped with quotes, so the pattern can only meet real attributes.
    """
    # Invisible and bidi controls go too: the charts escape their texts but draw names as given.
    return Markup(strip_invisible(_STYLE_ATTRIBUTE.sub("", chart)))  # noqa: S704 - the charts escape every text


def charts_for_page(charts: Mapping[str, str]) -> dict[str, Markup]:
    """Every chart of a report made fit for the dashboard's CSP."""
    return {name: without_inline_style(str(svg)) for name, svg in charts.items()}


def trend_svg(daily: Sequence[dict[str, object]], highlight_last: int = 7) -> Markup:
    """Posts per day as bars with the first and last day labelled (alerts.charts escapes the labels)."""
    values = [float(d.get("count") or 0) for d in daily]  # type: ignore[arg-type]
    labels = [str(d.get("day", "")) for d in daily]
    return without_inline_style(charts.daily_bars(values, labels, title="Posts per day", width=640, height=140,
                                                  highlight_last=highlight_last))


def describe(action: str, details: dict[str, object]) -> str:
    """One line for a history entry: what a person did, in words."""
    d = details
    if action == "rename":
        return f"renamed from “{d.get('old')}” to “{d.get('new')}”"
    if action == "merge":
        if d.get("into") is not None:
            return f"merged into issue #{d.get('into')} ({d.get('posts')} posts moved)"
        return f"took in issue #{d.get('from')} ({d.get('posts')} posts)"
    if action == "split":
        if d.get("new_issue") is not None:
            return f"split posts {d.get('posts')} off into issue #{d.get('new_issue')}"
        if d.get("unassigned"):
            return (f"took posts {d.get('unassigned')} out, left unassigned (fewer than {d.get('min_posts')}: "
                    f"no new issue)")
        return f"split off from issue #{d.get('from')}"
    if action == "not_an_issue":
        if d.get("from_issue") is not None:
            return f"marked not an issue (taken out of issue #{d.get('from_issue')})"
        return f"took posts {d.get('posts')} out: not an issue"
    if action == "mute":
        return f"muted until {d.get('until')}" if d.get("until") else "muted until unmuted"
    if action == "label":
        parts = [f"{k} {v.get('old')} → {v.get('new')}" for k, v in d.items()  # type: ignore[union-attr]
                 if isinstance(v, dict)]
        return "relabelled a post: " + "; ".join(parts)
    if action == "theme":
        if d.get("new") is None:
            return "taken out of every theme"
        return f"placed in theme #{d.get('new')} “{d.get('label')}”"
    if action == "resolve":
        return f"resolved (was {d.get('old_state')})"
    return action
