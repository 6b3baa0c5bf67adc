"""Render alerts (one, or a digest of several) into a subject, a text part and an HTML part.

Rendering only: nothing here sends or touches the store. Scraped text is hostile: it is cleaned of
control characters, HTML-escaped by Jinja2's autoescape in the HTML part, flattened with
``header_safe`` before it reaches a header, and links are kept only when they are plain http(s).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerts import charts
from alerts.transitions import WATCH_KIND
from alerts.watch_notes import in_release_watch
from voxpop.core.jinja_cache import bytecode_cache
from voxpop.core.text import clean_text, clean_url, header_safe

TEMPLATES = Path(__file__).parent / "templates"
KIND_TITLES = {
    "issue_new": "New issue", "issue_rising": "Rising issue", "issue_reopened": "Issue is back",
    "issue_watch": "Worth watching",
    "volume_spike": "Volume spike", "rating_drop": "Rating drop", "sentiment_drop": "Sentiment drop",
}

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml"), disabled_extensions=("txt",),
                                 default=True, default_for_string=True),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    bytecode_cache=bytecode_cache(),
)


@dataclass(frozen=True)
class InlineImage:
    """A PNG shown inside the HTML part, referenced there as ``cid:<cid>``."""

    cid: str
    png: bytes
    alt: str = ""


@dataclass(frozen=True)
class Rendered:
    """A rendered message: subject (header-safe), plain text, HTML and the inline images the HTML shows."""

    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...] = ()


_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def safe_url(url: object) -> str | None:
    """The URL when it is plain http(s) with a host once invisible and bidi controls are stripped; else None."""
    return clean_url(url)


def _p(value: Any) -> str:
    if value is None:
        return "n/a"
    value = float(value)
    if value <= 0:
        return "< 1e-300"
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _num(value: Any) -> str:
    """An expected count: ``0.4``, ``12``, ``1.8``."""
    if value is None:
        return "n/a"
    value = float(value)
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 0.1 else f"{value:.2g}"


def _stars(value: Any) -> str | None:
    if not isinstance(value, (int, float)):
        return None
    return f"{value:g}"


def _clip(text: str, limit: int) -> str:
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _one_in(share: float) -> str:
    """``about 1 in 100`` for small shares, ``about 12%`` for larger ones."""
    if share <= 0:
        return "almost none"
    if share >= 0.1:
        return f"about {100 * share:.0f}%"
    return f"about 1 in {round(1 / share):,}"


def _chance(p: Any) -> str:
    if p is None:
        return ""
    p = float(p)
    if p < 1e-6:
        return "far too many to be chance"
    if p < 0.001:
        return "very unlikely to be chance"
    if p < 0.05:
        return "unlikely to be chance"
    return "could be chance"


def plain_why(kind: str, figures: Mapping[str, Any], product: str) -> str:
    """One sentence in plain words saying why the alert fired, before any test figure."""
    f = figures
    window = int(f.get("window_days") or 1)
    when = "today's" if window == 1 else f"the last {window} days'"
    if kind.startswith("issue_") and f.get("total") is not None:
        # The baseline share is smoothed (a pseudo-post): it is said as what was expected, never as a share.
        normally = f"; about {_num(f.get('expected'))} expected at the usual rate" if f.get("expected") is not None \
            else ""
        if f.get("scope") == "version":
            return (f"{f.get('count')} of the {f.get('total')} {product} posts about version {f.get('version')} "
                    f"are about this{normally}.")
        return f"{f.get('count')} of {when} {f.get('total')} {product} posts are about this{normally}."
    if kind.startswith("issue_"):
        return f"{f.get('count', 'Several')} {product} posts about this in the latest window."
    if kind == "volume_spike":
        span = "today" if window == 1 else f"in the last {window} days"
        return f"{f.get('count')} {product} posts {span}; normally about {f.get('expected')}."
    if kind == "rating_drop":
        return f"{product}'s average rating fell to {f.get('mean')}; it was {f.get('baseline_mean')} before."
    if kind == "sentiment_drop":
        share = _pct(f.get("negative_share"))
        return (f"{f.get('count')} of {f.get('n')} recent {product} posts are negative ({share}); "
                f"normally {_pct(f.get('baseline_share'))}.")
    return f"{KIND_TITLES.get(kind, kind)} for {product}."


def test_figure(kind: str, figures: Mapping[str, Any]) -> str | None:
    """The statistical test behind the alert, as small print: ``binomial test, p = 1.8e-19 (far too many ...)``."""
    p = figures.get("p_value")
    if p is None:
        return None
    test = {"volume_spike": "quasi-Poisson test", "rating_drop": "Welch test"}.get(kind, "binomial test")
    if kind.startswith("issue_") and figures.get("scope") == "version":
        test = _release_test(figures).lower()
    return f"{test}, p = {_p(p)} ({_chance(p)})"


def _release_test(figures: Mapping[str, Any]) -> str:
    """Which test judged a release: beta-binomial when topic shares swung between earlier releases."""
    return "Beta-binomial test (allowing for the swing between releases)" if figures.get(
        "dispersion_rho") else "Binomial test"


def why(kind: str, figures: Mapping[str, Any]) -> list[str]:
    """Plain sentences saying, in numbers, why the alert fired."""
    f = figures
    if kind.startswith("issue_") and f.get("scope") == "version":
        earlier = ", ".join(str(v) for v in f.get("baseline_versions") or []) or "earlier releases"
        verdict = (f"not a discovery at a false-discovery rate of {f.get('fdr')} across the {f.get('tested')} "
                   f"issues tested in this release: sent as one of the release's strongest rises (p below "
                   f"{f.get('watch_below')}), to watch, not yet to act on." if kind == "issue_watch" else
                   f"a discovery at a false-discovery rate of {f.get('fdr')} across the {f.get('tested')} issues "
                   "tested in this release.")
        return [
            f"{f.get('count')} of {f.get('total')} posts about version {f.get('version')}.",
            f"Releases before it ({earlier}): {f.get('baseline_count')} of {f.get('baseline_total')} posts, "
            f"so about {_num(f.get('expected'))} expected (expected rate {_pct(f.get('baseline_share'))}, smoothed).",
            f"{_release_test(f)} of the rise: p = {_p(f.get('p_value'))}, {verdict}",
        ]
    if kind.startswith("issue_") and f.get("total") is None:
        return [f"{f.get('count', 'Several')} posts in the latest window."] + (
            [f"Test of the rise: p = {_p(f.get('p_value'))}."] if f.get("p_value") is not None else [])
    if kind.startswith("issue_"):
        return [
            f"{f.get('count')} posts in the last {f.get('window_days')} day(s) out of {f.get('total')} "
            "for the product.",
            f"Baseline ({f.get('baseline_days')} days before): {f.get('baseline_count')} of {f.get('baseline_total')} "
            f"posts, so about {_num(f.get('expected'))} expected now (expected rate {_pct(f.get('baseline_share'))}, "
            "smoothed).",
            f"Binomial test of the rise: p = {_p(f.get('p_value'))}"
            + (f", a discovery at a false-discovery rate of {f.get('fdr')} across the {f.get('tested')} issues "
               "tested that day." if f.get("tested") else "."),
        ]
    if kind == "volume_spike":
        return [f"{f.get('count')} posts in the window against {f.get('expected')} expected "
                f"({f.get('ratio')}x the baseline; dispersion {f.get('dispersion')}).",
                f"Quasi-Poisson test: p = {_p(f.get('p_value'))}."]
    if kind == "rating_drop":
        return [f"Mean rating {f.get('mean')} from {f.get('n')} ratings, against {f.get('baseline_mean')} "
                f"from {f.get('baseline_n')} in the baseline.", f"Welch test of the drop: p = {_p(f.get('p_value'))}."]
    if kind == "sentiment_drop":
        return [f"Negative posts: {_pct(f.get('negative_share'))} ({f.get('count')} of {f.get('n')}) against "
                f"{_pct(f.get('baseline_share'))} in the baseline.", f"Binomial test: p = {_p(f.get('p_value'))}."]
    return [f"{k}: {v}" for k, v in sorted(f.items())]


def issue_link(base_url: str | None, issue_id: Any) -> str | None:
    """The dashboard page of the issue when ``[ui] base_url`` is configured (http(s) only)."""
    base = safe_url(base_url) if base_url else None
    if not base or not isinstance(issue_id, int):
        return None
    return f"{base.rstrip('/')}/issues/{issue_id}"


def alert_context(kind: str, payload: Mapping[str, Any], *, alert_id: int | None = None,
                  base_url: str | None = None) -> dict[str, Any]:
    """The view model of one alert, with every scraped string cleaned and every link checked."""
    product = payload.get("product") or {}
    product_name = _clip(str(product.get("name") or product.get("slug") or "product"), 80)
    issue = payload.get("issue") or None
    daily = list(payload.get("daily") or [])
    days = [str(d.get("day", "")) for d in daily]
    counts = [float(d.get("count") or 0) for d in daily]
    figures = dict(payload.get("figures") or {})
    window = int(figures.get("window_days") or 1)
    title = KIND_TITLES.get(kind, kind.replace("_", " ").capitalize())
    label = _clip(str(issue.get("label") or "unlabelled issue"), 90) if issue else None
    version = (issue or {}).get("emerged_in") or (issue or {}).get("version")
    version_note = ""
    if version:
        version_note = f" (emerged in {_clip(str(version), 30)})" if (issue or {}).get("emerged_in") else (
            f" (version {_clip(str(version), 30)})")
    headline = (f"{title}: {label}" if label else title) + version_note
    chart_title = "Posts per day in this issue" if issue else "Posts per day"
    quotes = []
    for q in payload.get("quotes") or []:
        quotes.append({"text": _clip(str(q.get("text") or ""), 300), "url": safe_url(q.get("url")),
                       "date": clean_text(str(q.get("date") or ""))[:10], "rating": _stars(q.get("rating")),
                       "post_id": q.get("post_id")})
    competitors = [{"name": _clip(str(c.get("name") or c.get("product") or ""), 60),
                    "label": _clip(str(c.get("label") or ""), 80), "size": c.get("size"),
                    "similarity": c.get("similarity"), "own": bool(c.get("own"))}
                   for c in payload.get("competitors") or []]
    as_of = as_of_day(payload)
    sentiment = None
    if issue and issue.get("negative_share") is not None:
        neg = float(issue["negative_share"])
        size, negative = issue.get("size"), issue.get("negative")
        mood = "mostly negative" if neg >= 0.6 else ("mixed" if neg >= 0.3 else "mostly not negative")
        if isinstance(size, int) and isinstance(negative, int) and size:
            # Both counts from the same snapshot (issue 27): never today's share of the alert day's posts.
            sentiment = f"{mood}: {negative} of {size} posts in this issue are negative, as of {as_of}"
        else:  # an alert stored before snapshots: its share only, no count to mix it with
            sentiment = f"{mood}: {_pct(neg)} of the posts in this issue are negative, as of {as_of}"
    versions = [f"{_clip(str(v.get('version')), 30)} ({v.get('count')})" for v in payload.get("versions") or []]
    slug = str(product.get("slug") or "")
    return {
        "alert_id": alert_id, "kind": kind, "title": title, "headline": headline, "product": product_name,
        "slug": slug if _SLUG.match(slug) else None,
        "negative_share": float(issue["negative_share"]) if issue and issue.get("negative_share") is not None
        else None, "emerged_in": _clip(str(issue["emerged_in"]), 30) if issue and issue.get("emerged_in") else None,
        "own": bool(product.get("own")), "label": label,
        "keywords": [_clip(str(k), 40) for k in (issue or {}).get("keywords") or []],
        "state": (issue or {}).get("state"), "size": (issue or {}).get("size"),
        "first_seen": clean_text(str((issue or {}).get("first_seen") or ""))[:10] or None,
        "plain_why": plain_why(kind, figures, product_name), "test": test_figure(kind, figures),
        "why": why(kind, figures), "p_value": _p(figures.get("p_value")),
        "issue_id": (issue or {}).get("id") if isinstance((issue or {}).get("id"), int) else None,
        "link": issue_link(base_url, (issue or {}).get("id")),
        "chart_title": chart_title, "chart_cid": f"chart-{alert_id if alert_id is not None else 0}" if counts else None,
        "chart_days": days, "chart_counts": counts, "window": window,
        "sparkline": charts.sparkline(counts),
        "chart_from": days[0] if days else "", "chart_to": days[-1] if days else "",
        "chart_max": int(max(counts)) if counts else 0,
        "quotes": quotes, "competitors": competitors, "other_products": int(payload.get("other_products") or 0),
        "sentiment": sentiment, "versions": versions, "day": _clip(str(payload.get("day") or ""), 10),
        "version": _clip(str(version), 30) if version else None, "as_of": as_of,
    }


def as_of_day(payload: Mapping[str, Any]) -> str:
    """The day every figure of an alert is as of (its snapshot's, else its event's day)."""
    snap = payload.get("snapshot") or {}
    day = snap.get("as_of") if isinstance(snap, Mapping) else None
    return _clip(str(day or payload.get("day") or str(payload.get("as_of") or "")[:10]), 10)


def subject_for(ctx: Mapping[str, Any]) -> str:
    """The problem and its size first, made safe for a header.

    ``[voxpop] Notely: PDF export crashes since 4.2.0 (19 posts, 79% negative) · New issue``; alerts without
    an issue keep ``[voxpop] Product: Volume spike``.
    """
    if not ctx.get("label"):
        return header_safe(f"[voxpop] {ctx['product']}: {ctx['headline']}", limit=180)
    what = ctx["label"]
    if ctx.get("emerged_in"):
        what += f" since {ctx['emerged_in']}"
    elif ctx.get("version"):
        what += f" in version {ctx['version']}"
    size = []
    if isinstance(ctx.get("size"), int) and ctx["size"]:
        size.append(f"{ctx['size']} post{'s' if ctx['size'] != 1 else ''}")
    if ctx.get("negative_share") is not None:
        size.append(f"{round(100 * ctx['negative_share'])}% negative")
    sized = f" ({', '.join(size)})" if size else ""
    return header_safe(f"[voxpop] {ctx['product']}: {what}{sized} · {ctx['title']}", limit=180)


def chart_image(ctx: Mapping[str, Any]) -> InlineImage | None:
    """The alert's posts-per-day chart as an inline PNG (mail clients do not show SVG)."""
    if not ctx.get("chart_cid"):
        return None
    png = charts.daily_bars_png(ctx["chart_counts"], ctx["chart_days"], title=ctx["chart_title"],
                                highlight_last=ctx["window"])
    return InlineImage(cid=ctx["chart_cid"], png=png,
                       alt=f"{ctx['chart_title']}, {ctx['chart_from']} to {ctx['chart_to']}")


def render_alert(kind: str, payload: Mapping[str, Any], *, alert_id: int | None = None,
                 base_url: str | None = None) -> Rendered:
    """Render one alert; its chart travels as an inline PNG referenced by ``cid:`` from the HTML."""
    ctx = alert_context(kind, payload, alert_id=alert_id, base_url=base_url)
    image = chart_image(ctx)
    return Rendered(subject=subject_for(ctx), text=_env.get_template("alert.txt").render(a=ctx),
                    html=_env.get_template("alert.html").render(a=ctx), images=(image,) if image else ())


def render_digest(items: Sequence[tuple[int | None, str, Mapping[str, Any]]], *,
                  base_url: str | None = None, releases: Sequence[Mapping[str, Any]] = ()) -> Rendered:
    """Render several alerts ``(alert_id, kind, payload)`` as one digest message.

    ``releases``: release watches (``alerts.release_store.release_watch``) whose newest release follows
    the alerts as a "Since version v" section (a ranked account, not an alarm). A "Worth watching" note
    whose issue that section already shows for the note's release is one line pointing to it, not a
    second account of the same topic.
    """
    ctxs = []
    for n, (aid, kind, payload) in enumerate(items):
        ctx = alert_context(kind, payload, alert_id=aid, base_url=base_url)
        if ctx["chart_cid"]:
            ctx["chart_cid"] = f"{ctx['chart_cid']}-{n}"  # unique within the message even without ids
        ctxs.append(ctx)
    watches = [w for w in releases if w.get("releases")]
    for ctx, (_, kind, payload) in zip(ctxs, items, strict=True):
        ctx["in_release_watch"] = release_watch_topic(kind, payload, watches)
        if ctx["in_release_watch"]:
            ctx["chart_cid"] = None  # its body (and chart) is not repeated: the release section tells it
    images = tuple(i for i in (chart_image(c) for c in ctxs) if i is not None)
    products = sorted({c["product"] for c in ctxs})
    subject = header_safe(f"[voxpop] Digest: {len(ctxs)} alert(s) for {', '.join(products)}", limit=180)
    return Rendered(subject=subject, text=_env.get_template("digest.txt").render(alerts=ctxs, products=products,
                                                                                 watches=watches),
                    html=_env.get_template("digest.html").render(alerts=ctxs, products=products, watches=watches),
                    images=images)


def release_watch_topic(kind: str, payload: Mapping[str, Any],
                        watches: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Where a digest's release section already shows a watch note's issue: ``{"version", "rank", "label"}``
    of the topic that shows it, else None.

    Only a watch note (``issue_watch``) is folded so: a discovery stays an alert of its own. The
    section shows each product's newest watched release (``watches``: ``alerts.release_store.release_watch``).
    """
    if kind != WATCH_KIND:
        return None
    issue = payload.get("issue") or {}
    slug = (payload.get("product") or {}).get("slug")
    for watch in watches:
        if watch.get("product") != slug or not watch.get("releases"):
            continue
        rel = watch["releases"][0]
        found = in_release_watch(issue.get("id"), issue.get("version"), rel.get("topics") or ())
        if found is not None:
            return {"version": _clip(str(rel.get("version")), 30), "rank": (found.get("figures") or {}).get("rank"),
                    "label": _clip(str(found.get("label") or ""), 90)}
    return None


def build_email(rendered: Rendered, *, sender: str, to: Sequence[str], message_id: str,
                date: datetime | None = None, headers: Mapping[str, str] | None = None) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with a fixed Message-ID."""
    msg = EmailMessage()
    msg["Subject"] = header_safe(rendered.subject, limit=180)
    msg["From"] = header_safe(sender)
    msg["To"] = ", ".join(header_safe(t) for t in to)
    msg["Message-ID"] = header_safe(message_id)
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        msg[header_safe(name)] = header_safe(value)
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    if rendered.images:
        html_part = msg.get_body(("html",))
        assert html_part is not None
        for image in rendered.images:
            # multipart/related: the HTML shows each PNG through <img src="cid:...">.
            html_part.add_related(image.png, maintype="image", subtype="png", cid=f"<{header_safe(image.cid)}>",
                                  filename=f"{header_safe(image.cid)}.png", disposition="inline")
    return msg


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str) -> str:
    """A Slack ``<url|label>`` link whose URL cannot end early or set its own label.

    ``|`` would start the label and ``>`` end the link, so both are percent-encoded in the URL (as
    are spaces and ``<``); ``&`` is written as Slack's ``&amp;``. The label is escaped like any text.
    """
    for char, code in (("|", "%7C"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        url = url.replace(char, code)
    return f"<{url.replace('&', '&amp;')}|{_slack_escape(label).replace('|', '¦')}>"


def slack_message(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible webhook body: ``text`` fallback plus section blocks (scraped text escaped)."""
    ctx = alert_context(kind, payload)
    head = _slack_escape(f"{ctx['product']}: {ctx['headline']}")
    lines = _slack_escape(ctx["plain_why"] + (f" ({ctx['test']})" if ctx["test"] else "")
                          + (f" Figures as of {ctx['as_of']}." if ctx["as_of"] else ""))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": lines[:2900]}},
    ]
    if ctx["sparkline"]:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(
            f"{ctx['chart_from']} {ctx['sparkline']} {ctx['chart_to']} (max {ctx['chart_max']}/day)")}]})
    for q in ctx["quotes"]:
        quote = _slack_escape(q["text"])
        link = " " + slack_link(q["url"], "link") if q["url"] else ""
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f">{quote}\n_{q['date']}_{link}"[:2900]}})
    return {"text": head, "blocks": blocks}


def json_message(alert_id: int, kind: str, payload: Mapping[str, Any], *, delivery_id: str,
                 created_at: datetime | None = None) -> dict[str, Any]:
    """The generic JSON webhook body: the alert's figures and a rendered summary."""
    ctx = alert_context(kind, payload, alert_id=alert_id)
    return {
        "id": delivery_id, "alert_id": alert_id, "kind": kind,
        "created_at": created_at.isoformat() if created_at else None,
        "product": payload.get("product"), "issue": payload.get("issue"), "figures": payload.get("figures"),
        "as_of": ctx["as_of"], "snapshot": payload.get("snapshot"),
        "summary": f"{ctx['product']}: {ctx['headline']}", "why_plain": ctx["plain_why"], "test": ctx["test"],
        "why": ctx["why"],
        "quotes": ctx["quotes"], "daily": payload.get("daily"), "competitors": ctx["competitors"],
    }

