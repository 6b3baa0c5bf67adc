"""The report's charts: escaped text, lines only with three points or more, labels wrapped not cut, PNG output."""

from __future__ import annotations

import html

from voxpop.report import charts


def test_line_chart_escapes_and_breaks_lines() -> None:
    line = charts.line_chart("t", ["2026-01-05", "2026-01-12", "2026-01-19"], [("a&b", [1, 2, 3]), ("c", [2, None, 2])])
    assert "a&amp;b" in line and line.count("<polyline") == 1 and line.count("<circle") == 2


def test_trend_with_fewer_than_three_points_becomes_bars() -> None:
    two = charts.trend_chart("t", ["2026-01-05", "2026-01-12"], [("a", [0.4, 0.6])], percent=True)
    assert "<polyline" not in two and two.count('class="bar"') == 2
    three = charts.trend_chart("t", ["2026-01-05", "2026-01-12", "2026-01-19"], [("a", [0.4, None, 0.6]),
                                                                                 ("b", [1, 2, 3])])
    assert "<polyline" in three


def test_long_labels_wrap_with_the_full_text_as_tooltip() -> None:
    job = "Capture an idea quickly before I forget it <b>while</b> walking to the station"
    chart = charts.heat_map("jobs", [job], ["Notely", "A very long competitor name"], [[0.5, None]],
                            [["50%", "n=0"]])
    assert f"<title>{job.replace('<', '&lt;').replace('>', '&gt;')}</title>" in chart
    spans = chart.split("<tspan")[1:]
    texts = [html.unescape(s.split(">", 1)[1].split("<", 1)[0]) for s in spans]
    assert "Capture an idea quickly before I" in texts  # first line whole, not cut mid-word
    assert all(len(t) <= 36 for t in texts) and "<b>" not in chart


def test_png_charts_are_png() -> None:
    png = charts.trend_png("Posts per day", ["2026-01-05", "2026-01-12"], [("Notely", [3.0, 4.5])])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    bars = charts.bars_png("Share of voice", ["Notely", "Jotter"], [0.6, 0.4], intervals=[(0.5, 0.7), None])
    assert bars[:8] == b"\x89PNG\r\n\x1a\n"


def test_mail_chart_labels_are_never_cut() -> None:
    """Every tick label, value and name of the mail's PNG charts lies inside the image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    names = ["Notely", "Jotter Notes and Tasks Pro Edition for Teams", "Scribbly"]
    figures = [
        charts.bars_figure("Share of voice (95% CI)", names, [0.97, 0.02, 0.01],
                           intervals=[(0.9, 0.99), (0.0, 0.05), None]),
        charts.trend_figure("Share", ["2026-11-02", "2026-11-09", "2026-11-16"], [("Notely", [0.4, 0.5, 1.0])],
                            percent=True),
        charts.trend_figure("Average rating (1-5)", ["2026-11-02", "2026-11-09"], [("Notely", [4.5, 2.9])]),
    ]
    for fig in figures:
        renderer = FigureCanvasAgg(fig).get_renderer()
        inside = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
        box = fig.bbox
        assert inside.x0 >= box.x0 - 1 and inside.y0 >= box.y0 - 1, inside
        assert inside.x1 <= box.x1 + 1 and inside.y1 <= box.y1 + 1, inside
