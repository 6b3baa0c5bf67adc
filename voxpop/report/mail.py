"""The report mail: the headline block, the top issues with quotes, where we lose, and inline PNG charts.

The mail is rendered once, when the report is written, into a JSON-able dict (subject, text, HTML,
PNG images base64-encoded, attachment paths) that is kept with the report row, so a retry later
sends exactly the same message. Mail clients do not show SVG, so the charts are PNG images
referenced from the HTML by ``cid:``; the full HTML report travels as an attachment.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from voxpop.report import charts
from voxpop.report.render import environment, trend_weeks

TOP_ISSUES = 5


def mail_charts(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The charts of the report mail: ``{"cid", "alt", "png"}`` each (PNG bytes)."""
    products = data["products"]
    if not products:
        return []
    keep = trend_weeks(data)
    weeks = [data["meta"]["weeks"][i] for i in keep]
    out = [
        {"cid": "report-volume", "alt": "Posts per day, week by week",
         "png": charts.trend_png("Posts per day, week by week", weeks,
                                 [(p["name"], [p["weekly"][i]["per_day"] for i in keep]) for p in products])},
        {"cid": "report-rating", "alt": "Average rating, week by week",
         "png": charts.trend_png("Average rating, week by week (1-5)", weeks,
                                 [(p["name"], [p["weekly"][i]["rating_mean"] for i in keep]) for p in products])},
        {"cid": "report-voice", "alt": "Share of voice",
         "png": charts.bars_png("Share of voice (95% CI)", [p["name"] for p in products],
                                [p["share_of_voice"]["p"] for p in products],
                                intervals=[tuple(p["share_of_voice"]["ci"]) if p["share_of_voice"]["ci"] else None
                                           for p in products])},
    ]
    return out


def subject_for(data: Mapping[str, Any]) -> str:
    """``[voxpop] Notely vs Jotter, 2026-01-01 to 2026-01-31: rating fell from 3.9 to 3.3``."""
    names = " vs ".join(p["name"] for p in data["products"]) or "no products"
    period = f"{data['meta']['since'][:10]} to {data['meta']['until'][:10]}"
    own = next((h for h in data.get("headline", []) if h["own"]), None)
    news = ""
    if own:
        real = [own[k]["text"] for k in ("rating", "negative", "posts", "share_of_voice")
                if own[k].get("verdict") == "real"]
        if own.get("recent"):
            real.append(own["recent"]["text"])
        news = f": {own['name']} {real[0]}" if real else ""
    return f"[voxpop] {names}, {period}{news}"


def report_mail(data: Mapping[str, Any], attachments: Sequence[str | Path]) -> dict[str, Any]:
    """Render the report mail; the result is JSON-able (images base64) and kept with the report row."""
    env = environment()
    images = mail_charts(data)
    names = {p["slug"]: p["name"] for p in data["products"]}
    files = [Path(a).name for a in attachments]
    ctx = {"d": data, "names": names, "images": images, "files": files, "movers_limit": TOP_ISSUES, "in_mail": True,
           "too_small_limit": 5}
    return {
        "subject": subject_for(data),
        "text": env.get_template("report_mail.txt").render(**ctx),
        "html": env.get_template("report_mail.html").render(**ctx),
        "images": [{"cid": i["cid"], "alt": i["alt"], "png": base64.b64encode(i["png"]).decode("ascii")}
                   for i in images],
        "attachments": [str(a) for a in attachments],
    }


def decode_images(mail: Mapping[str, Any]) -> list[tuple[str, bytes, str]]:
    """``(cid, png bytes, alt)`` for each stored image of a report mail."""
    return [(i["cid"], base64.b64decode(i["png"]), i.get("alt", "")) for i in mail.get("images") or []]
