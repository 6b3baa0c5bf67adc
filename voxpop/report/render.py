"""Render a comparison report (the dict from :func:`voxpop.report.build.build_report`) as HTML, Markdown, CSV or JSON.

Every format reads the same dict, so they carry the same figures. HTML is standalone (inline styles,
inline SVG charts, no scripts); scraped text is escaped by Jinja2's autoescape in HTML, by
:func:`md_escape` in Markdown and guarded against spreadsheet formulas in CSV.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from voxpop.core.jinja_cache import bytecode_cache
from voxpop.report import charts

FORMATS = ("html", "md", "csv", "json")
TEMPLATES = Path(__file__).parent / "templates"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md_escape(value: Any) -> str:
    """Text safe inside a Markdown table cell: no HTML, no markup, no line breaks."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def pct(value: float | None, digits: int = 0) -> str:
    """A 0-1 share as a percentage, or an en dash when missing."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def share_text(s: Mapping[str, Any] | None) -> str:
    """``61% (25/41; 46–74%)``: a share with its count, base and 95 % interval."""
    if not s or not s.get("n"):
        return "– (n=0)"
    lo, hi = s["ci"]
    flag = ", small n" if s.get("small") else ""
    return f"{pct(s['p'])} ({s['x']}/{s['n']}; {pct(lo)}–{pct(hi)}{flag})"


def diff_text(c: Mapping[str, Any]) -> str:
    """A difference with its 95 % interval."""
    if c["kind"] == "mean":
        body = f"{c['diff']:+.2f}"
        ci = f"{c['ci'][0]:+.2f} to {c['ci'][1]:+.2f}" if c["ci"] else "–"
    else:
        body = f"{100 * c['diff']:+.1f} pts"
        ci = f"{100 * c['ci'][0]:+.1f} to {100 * c['ci'][1]:+.1f}" if c["ci"] else "–"
    return f"{body} (95% CI {ci})"


def verdict(c: Mapping[str, Any]) -> str:
    """``better``/``worse`` for the baseline when significant; otherwise why not."""
    if c["small"]:
        return "small sample, not compared"
    if not c["significant"]:
        return "not significant"
    return "better" if (c["diff"] > 0) == c["higher_is_better"] else "worse"


def value_text(c: Mapping[str, Any], which: str) -> str:
    v, n = c[f"{which}_value"], c[f"{which}_n"]
    return (f"{v:.2f}" if c["kind"] == "mean" else pct(v)) + f" (n={n})"


def environment() -> Environment:
    """The Jinja2 environment of the report templates (autoescape for HTML, strict undefined, filters)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "xml"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, bytecode_cache=bytecode_cache())
    env.filters.update(pct=pct, share=share_text, diff=diff_text, verdict=verdict, md=md_escape, value=value_text)
    return env


def trend_weeks(data: Mapping[str, Any]) -> list[int]:
    """Indexes of the weeks a trend chart shows: the period's own weeks, leaving out a sliver under a day."""
    bounds = data["meta"].get("week_bounds") or []
    keep = [i for i, b in enumerate(bounds) if b["days"] >= 1]
    return keep or list(range(len(bounds)))


def chart_svgs(data: Mapping[str, Any]) -> dict[str, Markup]:
    """The report's charts as inline SVG (text inside is escaped by :mod:`alerts.charts`)."""
    products = data["products"]
    names = [p["name"] for p in products]
    keep = trend_weeks(data)
    weeks = [data["meta"]["weeks"][i] for i in keep]
    out: dict[str, str] = {}
    out["share_of_voice"] = charts.bar_chart(
        "Share of voice (all sources; 95% CI)", names,
        [("share of voice", [p["share_of_voice"]["p"] for p in products])],
        intervals=[[tuple(p["share_of_voice"]["ci"]) if p["share_of_voice"]["ci"] else None for p in products]],
        max_value=1.0)
    out["volume_trend"] = charts.trend_chart(
        "Posts per day, week by week", weeks, [(p["name"], [p["weekly"][i]["per_day"] for i in keep])
                                               for p in products])
    out["rating_trend"] = charts.trend_chart(
        "Average rating, week by week (1-5)", weeks,
        [(p["name"], [p["weekly"][i]["rating_mean"] for i in keep]) for p in products], max_value=5.0)
    out["positive_trend"] = charts.trend_chart(
        "Positive share per week (weeks with n < min n left out)", weeks,
        [(p["name"], [None if p["weekly"][i]["small"] else p["weekly"][i]["positive_share"] for i in keep])
         for p in products], percent=True)
    out["sentiment"] = charts.stacked_bars(
        "Sentiment mix (classified posts)",
        [(p["name"], [(k, s["p"] or 0.0) for k, s in p["sentiment"].items()]) for p in products],
        colours=charts.SENTIMENT_COLOURS)
    out["needs"] = charts.stacked_bars(
        "Need-type mix (classified posts)",
        [(p["name"], [(k, (p["need_types"].get(k) or {}).get("p") or 0.0) for k in need_keys(data)])
         for p in products])
    out["rating"] = charts.bar_chart(
        "Average rating (1-5; 95% CI)", names, [("mean rating", [p["rating"]["mean"] for p in products])],
        intervals=[[tuple(p["rating"]["ci"]) if p["rating"]["ci"] else None for p in products]],
        percent=False, max_value=5.0, flagged=[[p["rating"]["small"] for p in products]])
    jobs = data["jobs"]
    if jobs:
        out["jobs"] = charts.heat_map(
            "Jobs x products: satisfaction (colour), posts and importance",
            [j["statement"] for j in jobs], names,
            [[p["jobs"][j["id"]]["satisfaction"]["p"] for p in products] for j in jobs],
            [[_cell_text(p["jobs"][j["id"]]) for p in products] for j in jobs],
            flagged=[[p["jobs"][j["id"]]["small"] for p in products] for j in jobs])
    return {k: Markup(v) for k, v in out.items()}  # noqa: S704 - charts.py escapes every text it draws


def need_keys(data: Mapping[str, Any]) -> list[str]:
    """Every need type of any product, in first-seen order (one column each in the need-type table)."""
    keys: list[str] = []
    for p in data["products"]:
        keys += [k for k in p["need_types"] if k not in keys]
    return keys


def _cell_text(fig: Mapping[str, Any]) -> str:
    if not fig["n"]:
        return "n=0"
    return f"{pct(fig['satisfaction']['p'])} satisfied · n={fig['n']}"


def render_report(data: Mapping[str, Any], fmt: str) -> str:
    """The report as text in ``fmt`` (html, md, csv or json)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        return render_csv(data)
    env = environment()
    names = {p["slug"]: p["name"] for p in data["products"]}
    charts_ = chart_svgs(data) if fmt == "html" else {}
    return env.get_template(f"report.{fmt}").render(d=data, names=names, charts=charts_, need_keys=need_keys(data))


def _cell(value: Any) -> Any:
    """Keep a CSV cell from being read as a formula by spreadsheets."""
    if isinstance(value, str):
        value = " ".join(value.split())
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


CSV_HEADER = ("section", "product", "metric", "key", "x", "n", "value", "ci_low", "ci_high", "flag", "text", "url")


def _csv_rows(d: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    def share_row(section: str, slug: str, metric: str, key: Any, s: Mapping[str, Any] | None) -> tuple[Any, ...]:
        s = s or {"x": 0, "n": 0, "p": None, "ci": None, "small": True}
        lo, hi = s["ci"] or (None, None)
        return (section, slug, metric, key, s["x"], s["n"], s["p"], lo, hi, "small" if s["small"] else "", "", "")

    meta = d["meta"]
    yield ("meta", "", "period", "", "", "", "", "", "", "", f"{meta['since']} .. {meta['until']}", "")
    if meta.get("as_of"):
        yield ("meta", "", "as_of", "", "", "", "", "", "", "", meta["as_of"], "")
    yield ("meta", "", "baseline", "", "", "", "", "", "", "", meta["baseline"] or "", "")
    yield ("meta", "", "min_n", "", "", "", meta["min_n"], "", "", "", "", "")
    for c in d.get("crawl", []):
        yield ("crawl", c["product"], "posts_held", c["source"], c["held"], c["reported_total"] or "", "", "", "",
               ",".join(c["caps_hit"]), c["health"], "")
    for p in d["products"]:
        slug, cov = p["slug"], p["coverage"]
        for key in ("total", "classified", "skipped", "unclassified"):
            yield ("coverage", slug, "posts", key, cov[key], "", "", "", "", "", "", "")
        yield share_row("volume", slug, "share_of_voice", "all", p["share_of_voice"])
        yield share_row("volume", slug, "share_of_voice", "shared_sources", p["share_of_voice_shared"])
        for source, n in p["by_source"].items():
            yield ("volume", slug, "posts_by_source", source, n, "", "", "", "", "", "", "")
        r = p["rating"]
        lo, hi = r["ci"] or (None, None)
        yield ("rating", slug, "mean", "", "", r["n"], r["mean"], lo, hi, "small" if r["small"] else "", "", "")
        for star, s in r["distribution"].items():
            yield share_row("rating", slug, "distribution", star, s)
        for key, s in p["sentiment"].items():
            yield share_row("sentiment", slug, "share", key, s)
        for key, s in p["need_types"].items():
            yield share_row("need_type", slug, "share", key, s)
        yield share_row("unmet", slug, "share", "unmet_need", p["unmet"])
        for w in p["weekly"]:
            yield ("weekly", slug, "posts", w["week"], w["n"], "", "", "", "", "", "", "")
            yield ("weekly", slug, "positive", w["week"], w["positive"], w["classified"], w["positive_share"], "",
                   "", "small" if w["small"] else "", "", "")
        for job_id, f in p["jobs"].items():
            yield share_row("jobs", slug, "importance", job_id, f["importance"])
            yield share_row("jobs", slug, "satisfaction", job_id, f["satisfaction"])
            yield ("jobs", slug, "opportunity", job_id, "", f["n"], f["opportunity"], "", "",
                   "small" if f["small"] else "", "", "")
        for need in p["top_unmet_needs"]:
            yield ("unmet_needs", slug, need["source"], need.get("issue_id") or need.get("job") or "",
                   need["count"], "", need["trend"], "", "", "small" if need["small"] else "",
                   f"{need['label']}: {need['evidence'] or ''}", need["url"] or "")
    for c in d["comparisons"]:
        lo, hi = c["ci"] or (None, None)
        yield ("difference", c["b"], c["metric"], f"{c['a']} - {c['b']}", "", f"{c['a_n']}/{c['b_n']}", c["diff"],
               lo, hi, verdict(c), "", "")
    job_map = d.get("job_map") or {}
    for slug, steps in (job_map.get("cells") or {}).items():
        for step, c in steps.items():
            yield share_row("job_map", slug, "negative", step, c["negative"])
            top = c.get("top_issue") or {}
            outcome = (top.get("outcome") or {}).get("text", "")
            yield ("job_map", slug, "opportunity", step, "", c["n"], c["opportunity"], "", "",
                   "small" if c["small"] else "", f"{top.get('label', '')}: {outcome}" if top else "", "")
    for r in job_map.get("comparisons") or []:
        lo, hi = r["ci"] or (None, None)
        yield ("job_map_difference", r["against"], "negative share", r["step"], "", f"{r['ours_n']}/{r['theirs_n']}",
               r["diff"], lo, hi, r["verdict"], r["text"], "")
    for job, segs in (d.get("segments") or {}).items():
        for sg in segs:
            yield share_row("segments", ",".join(sg["products"]), "negative", f"{job}: {sg['name']}", sg["negative"])
    for key in ("they_have", "we_have"):
        for g in d["gaps"][key]:
            yield ("gaps", g["product"], key, g["issue_id"], g["count"], "", "", "", "", g["state"], g["label"], "")
    yield ("summary", "", "", "", "", "", "", "", "", "", d["summary"]["text"], "")


def render_csv(data: Mapping[str, Any]) -> str:
    """Long-format CSV: one figure per row with its count, base, interval and flags."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in _csv_rows(data):
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def write_report(data: Mapping[str, Any], fmt: str, out_path: str | os.PathLike[str]) -> Path:
    """Render and write the report atomically (temporary file, then rename); returns the path."""
    text = render_report(data, fmt)
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
