"""Rendering: hostile scraped text arrives escaped, headers stay intact, the chart is inert SVG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from alerts import charts
from alerts.deliver import deliver_pending
from alerts.render import render_alert, render_digest, safe_url, slack_message
from store.models import Delivery
from tests.alert_support import make_config, queue_alert, sample_payload

HOSTILE_LABEL = 'crash <script>alert("x")</script>\r\nBcc: victim@example.com'
HOSTILE_QUOTE = '<img src=x onerror=alert(1)> <b>bold</b>\x00\x1b[31m & "quotes"\r\nX-Injected: yes'
HOSTILE_PRODUCT = "Acme\r\nSubject: pwned"


def hostile_payload() -> dict[str, Any]:
    return sample_payload(label=HOSTILE_LABEL, quote=HOSTILE_QUOTE, url="javascript:alert(1)", product=HOSTILE_PRODUCT)


def test_hostile_text_is_escaped_in_html_and_flattened_in_subject() -> None:
    out = render_alert("issue_new", hostile_payload(), alert_id=3)
    assert "\r" not in out.subject and "\n" not in out.subject
    assert out.subject.startswith("[voxpop] Acme Subject: pwned: crash")
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    # the one <img> is our chart (cid:); the scraped one stayed text
    assert out.html.count("<img") == 1 and '<img src="cid:chart-3"' in out.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in out.html
    assert "<b>bold</b>" not in out.html
    assert "javascript:" not in out.html and "javascript:" not in out.text  # unsafe link dropped
    assert "\x00" not in out.text and "\x1b" not in out.text
    # the text part keeps the words readable (not HTML-escaped)
    assert '<script>alert("x")</script>' in out.text


def test_why_it_fired_chart_quotes_and_sentiment() -> None:
    out = render_alert("issue_new", sample_payload(), alert_id=1)
    # plain words first, the test figure beside them, the detailed figures after
    plain = "8 of today's 78 Acme posts are about this; about 0.018 expected at the usual rate."
    assert out.text.index("Why this fired: " + plain) < out.text.index("binomial test, p = 1.6e-19")
    test = "binomial test, p = 1.6e-19 (far too many to be chance)"
    assert out.html.index(plain.replace("'", "&#39;")) < out.html.index(test)
    assert "8 posts in the last 1 day(s) out of 78" in out.text
    # the chart is an inline PNG: no SVG in mail, which Gmail and Outlook do not show
    assert "<svg" not in out.html and '<img src="cid:chart-1"' in out.html and "<script" not in out.html
    (image,) = out.images
    assert image.cid == "chart-1" and image.png.startswith(b"\x89PNG")
    assert "voxpop issue mute 1" in out.text and "voxpop issue resolve 1" in out.html
    assert "dashboard" not in out.html.lower()  # no [ui] base_url configured: no link
    assert "sync fails every night" in out.html and 'href="https://x.example/1"' in out.html
    # an alert stored before snapshots: its share only, labelled with its day, no count mixed in
    assert "mostly negative: 80.0% of the posts in this issue are negative, as of 2026-02-05" in out.text
    assert "(7 of 9)" not in out.text
    assert "None of the 1 other product(s) shows this issue." in out.text


def test_a_watch_note_says_it_is_not_a_discovery() -> None:
    payload = sample_payload()
    payload["issue"].update(state="ongoing", version="2.0", emerged_in=None)
    payload["figures"] = {"scope": "version", "version": "2.0", "baseline_versions": ["1.8", "1.9"], "count": 5,
                          "total": 60, "share": 0.0833, "baseline_count": 4, "baseline_total": 150,
                          "baseline_share": 0.0298, "expected": 1.8, "p_value": 0.04, "dispersion_rho": 0.01,
                          "significant": False, "tested": 12, "fdr": 0.1, "watch_below": 0.2}
    out = render_alert("issue_watch", payload, alert_id=4)
    assert out.subject == "[voxpop] Acme: sync fails in version 2.0 (9 posts, 80% negative) · Worth watching"
    assert "5 of the 60 Acme posts about version 2.0 are about this; about 1.8 expected at the usual rate." \
        in out.text
    assert "Beta-binomial test (allowing for the swing between releases) of the rise: p = 0.04, not a discovery" \
        in out.text.replace("\n", " ").replace("  ", " ")


def test_dashboard_link_when_a_base_url_is_configured() -> None:
    out = render_alert("issue_new", sample_payload(), alert_id=1, base_url="https://voxpop.example/ui/")
    assert 'href="https://voxpop.example/ui/issues/1"' in out.html and "https://voxpop.example/ui/issues/1" in out.text
    bad = render_alert("issue_new", sample_payload(), alert_id=1, base_url="javascript:alert(1)")
    assert "javascript:" not in bad.html


def test_competitors_are_listed() -> None:
    payload = sample_payload()
    payload["competitors"] = [{"product": "rival", "name": "Rival <i>", "own": False, "label": "sync broken",
                               "size": 12, "similarity": 0.81}]
    out = render_alert("issue_rising", payload)
    assert "Rival &lt;i&gt;" in out.html and "sync broken" in out.text and "Rising issue" in out.subject


def test_svg_escapes_text_and_has_no_active_content() -> None:
    chart = charts.daily_bars([1, 2, 3], ["<a>", "b", "</svg><script>"], title="<script>t</script>",
                               highlight_last=1)
    assert "<script" not in chart and "&lt;script&gt;" in chart and chart.count("<svg") == 1
    assert chart.count("<rect") == 3 and chart.count(charts.SENTIMENT_COLOURS["negative"]) == 1
    assert charts.sparkline([0, 1, 2, None, 8]) == "▁▁▂ █"


def test_safe_url() -> None:
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    for bad in ("javascript:alert(1)", "data:text/html,x", "https://a.example/\r\nX: y", "//a.example", None, 5):
        assert safe_url(bad) is None


def test_slack_message_escapes_mrkdwn() -> None:
    body = slack_message("issue_new", hostile_payload())
    flat = str(body)
    assert "<script>" not in flat and "&lt;script&gt;" in flat
    assert "<img" not in flat


def test_digest_renders_every_alert() -> None:
    out = render_digest([(1, "issue_new", sample_payload()), (2, "issue_new", hostile_payload())])
    assert "2 alert(s)" in out.subject and "<script>" not in out.html and out.html.count("Why this fired") == 2


def test_hostile_alert_arrives_escaped_with_headers_intact(sqlite_store: Any, smtp_server: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp_server.port)
    queue_alert(sqlite_store, config, "issue:9:new:1", payload=hostile_payload())
    assert deliver_pending(sqlite_store, config).sent == 1
    (message,) = smtp_server.messages
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert [r.lower() for r in smtp_server.envelopes[0].rcpt_tos] == ["ops@example.com"]
    assert "\n" not in message["Subject"] and "pwned" in message["Subject"]
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "javascript:" not in html
    with sqlite_store.sessions() as session:
        row = session.scalars(select(Delivery)).one()
    assert row.eml_path and Path(row.eml_path).read_bytes().count(b"Message-ID:") == 1


def test_alert_eml_carries_its_chart_as_an_inline_png(sqlite_store: Any, smtp_server: Any, tmp_path: Path) -> None:
    from email import message_from_bytes, policy

    from tests.mail_support import assert_cid_images

    config = make_config(tmp_path, smtp_server.port)
    queue_alert(sqlite_store, config, "issue:1:new:1", payload=sample_payload())
    assert deliver_pending(sqlite_store, config).sent == 1
    (sent,) = smtp_server.messages
    assert assert_cid_images(sent) == ["chart-1"]
    with sqlite_store.sessions() as session:
        row = session.scalars(select(Delivery)).one()
    kept = message_from_bytes(Path(row.eml_path).read_bytes(), policy=policy.default)
    assert assert_cid_images(kept) == ["chart-1"]  # type: ignore[arg-type]
    assert "voxpop issue mute 1" in kept.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_digest_gives_each_chart_its_own_cid() -> None:
    out = render_digest([(1, "issue_new", sample_payload()), (None, "issue_rising", sample_payload("other"))])
    cids = [i.cid for i in out.images]
    assert len(cids) == 2 and len(set(cids)) == 2 and all(f'src="cid:{c}"' in out.html for c in cids)


def test_subject_names_the_problem_and_its_size_and_the_footer_a_real_command() -> None:
    payload = sample_payload(label="PDF export crashes", product="Notely")
    payload["product"]["slug"] = "notely"
    payload["issue"].update(size=19, negative_share=0.79, emerged_in="4.2.0")
    out = render_alert("issue_new", payload, alert_id=5)
    assert out.subject == "[voxpop] Notely: PDF export crashes since 4.2.0 (19 posts, 79% negative) · New issue"
    assert "SLUG" not in out.text and "SLUG" not in out.html
    assert "voxpop issues --product notely" in out.text and "voxpop issues --product notely" in out.html
    spike = render_alert("volume_spike", {**payload, "issue": None}, alert_id=6)
    assert spike.subject == "[voxpop] Notely: Volume spike"
