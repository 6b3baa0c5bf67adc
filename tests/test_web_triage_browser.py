"""Daily triage in a real headless Chromium: the overview fits from 1400 px to a 390 px phone, the posts page's
edit form and bulk relabel, compare's first screen, and curation refusals shown as the curation message.

Set ``VOXPOP_SCREENS_DIR`` to keep the screenshots (desktop and phone widths) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from store.db import Store
from store.models import AuditLog, LabelCorrection, PostLabel
from tests.alert_support import make_config
from tests.web_support import Server, start

DESKTOP, PHONE = 1400, 390
JOBS = ["sync", "write", "export", "search"]


@pytest.fixture
def configured_server(sqlite_store: Store, tmp_path: Path) -> Iterator[Server]:
    """The seeded dashboard with a config whose products have jobs (so unknown jobs can be refused)."""
    jobs = [{"id": j, "statement": f"When I {j} my notes"} for j in JOBS]
    config = make_config(tmp_path, products=[
        {"slug": slug, "name": slug.title(), "own": slug == "notely", "jobs": jobs}
        for slug in ("notely", "jotter", "scribble")])
    yield from start(sqlite_store, config)


def _open(driver: Any, url: str, width: int = DESKTOP) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900 if width == DESKTOP else 844, "deviceScaleFactor": 1,
                            "mobile": False})
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _submit(driver: Any, button: Any) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _overflow(driver: Any) -> tuple[int, int]:
    """The page's scroll width and the window's inner width (the emulated width: the test checks it held)."""
    scroll, inner = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert inner in (DESKTOP, PHONE), inner
    return scroll, inner


def _shot(driver: Any, name: str) -> None:
    where = os.environ.get("VOXPOP_SCREENS_DIR")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 3000)")
        width = driver.execute_script("return window.innerWidth")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                       "deviceScaleFactor": 1, "mobile": False})
        driver.save_screenshot(str(Path(where) / f"{name}.png"))


@pytest.fixture
def d(browser: Any) -> Iterator[Any]:
    yield browser
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


LONG = ("Sync keeps failing since the last update and every morning I find the notes I wrote on the tablet gone "
        "from the phone, then they come back an hour later with half the edits missing, which is worse than losing "
        "them outright because I no longer know which copy to trust")


def test_overview_fits_desktop_and_phone_without_sideways_scroll(d: Any, configured_server: Server) -> None:
    s = configured_server
    with s.store.transaction() as session:  # a long quote: the card shows two lines of it, the issue page all
        from store.models import Classification
        post_id = s.seeded.by_index[0]
        session.query(Classification).filter(Classification.post_id == post_id).update({"evidence": LONG})
    for width in (DESKTOP, PHONE):
        _open(d, s.url + "/", width)
        scroll, inner = _overflow(d)
        assert inner == width and scroll <= inner, (width, scroll, inner)
        card = d.find_element(By.ID, "product-notely")
        assert card.rect["x"] + card.rect["width"] <= inner
        quote = card.find_element(By.CSS_SELECTOR, "q.quote.clamp")
        line = float(d.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", quote))
        assert quote.rect["height"] <= 2 * line + 2  # two lines at most; the issue page has the full text
        assert d.execute_script("return arguments[0].scrollHeight > arguments[0].clientHeight", quote)
        marks = [m.text for m in card.find_elements(By.CSS_SELECTOR, ".figures .mark")]
        assert marks and set(marks) <= {"real", "could be chance", "too few"}
        _shot(d, f"overview-{width}")


def test_muted_issue_is_marked_on_the_overview_with_its_reason(d: Any, configured_server: Server) -> None:
    s = configured_server
    sync = s.seeded.issues["sync"]
    _open(d, f"{s.url}/issues/{sync}")
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    form = d.find_element(By.CSS_SELECTOR, f"form[action='/issues/{sync}/mute']")
    d.execute_script("arguments[0].value = arguments[1]", form.find_element(By.NAME, "until"), until)
    d.execute_script("arguments[0].removeAttribute('data-confirm')", form)
    _submit(d, form.find_element(By.CSS_SELECTOR, "button"))
    _open(d, s.url + "/")
    row = d.find_element(By.CSS_SELECTOR, f"#product-notely li[data-id='{sync}']")
    assert "muted" in row.text and f"alerts muted until {until} by dashboard" in row.text


def test_edit_form_is_prefilled_with_the_labels_in_force_and_clears_jobs(d: Any, configured_server: Server) -> None:
    s = configured_server
    post_id = s.seeded.posts["Exporting to PDF wor"]
    _open(d, f"{s.url}/posts?q=pdf")
    assert d.find_element(By.ID, "post-count").text.startswith("1 post matches")
    row = d.find_element(By.ID, f"post-{post_id}")
    assert row.find_element(By.CSS_SELECTOR, ".post-headline").text == "Exporting to PDF works beautifully, thank you"
    assert not row.find_element(By.CSS_SELECTOR, "form.relabel").is_displayed()  # behind its edit button
    row.find_element(By.CSS_SELECTOR, "details.edit summary").click()
    form = row.find_element(By.CSS_SELECTOR, "form.relabel")
    assert Select(form.find_element(By.NAME, "sentiment")).first_selected_option.text == "positive"
    assert Select(form.find_element(By.NAME, "need")).first_selected_option.text == "praise"
    jobs = form.find_element(By.NAME, "jobs")
    assert jobs.get_attribute("value") == "export"
    _shot(d, f"posts-edit-{DESKTOP}")
    jobs.clear()
    _submit(d, form.find_element(By.CSS_SELECTOR, "button"))
    assert "relabelled" in d.find_element(By.ID, "flash").text
    with s.store.sessions() as session:
        label = session.get(PostLabel, post_id)
        assert label is not None and label.jobs == [] and label.sentiment is None  # only the change is recorded
        assert [c.field for c in session.scalars(select(LabelCorrection))] == ["jobs"]
    labels = d.find_element(By.ID, f"post-{post_id}").find_element(By.CSS_SELECTOR, "td.labels")
    assert not labels.find_elements(By.CSS_SELECTOR, ".job") and "human" in labels.text


def test_bulk_relabel_of_three_posts(d: Any, configured_server: Server) -> None:
    s = configured_server
    _open(d, f"{s.url}/posts?q=sync&product=notely")
    rows = d.find_elements(By.CSS_SELECTOR, "#results tr.post")
    chosen = [r.get_attribute("data-id") for r in rows[:3]]
    assert len(chosen) == 3
    assert rows[0].find_elements(By.CSS_SELECTOR, "a.badge[href^='/issues/']")  # its issue, linked
    for row in rows[:3]:
        row.find_element(By.CSS_SELECTOR, "td.pick input").click()
    bulk = d.find_element(By.ID, "bulk")
    Select(bulk.find_element(By.NAME, "need")).select_by_visible_text("question")
    bulk.find_element(By.NAME, "jobs").send_keys("sync")
    _submit(d, bulk.find_element(By.CSS_SELECTOR, "button"))
    assert "Selected posts relabelled" in d.find_element(By.ID, "flash").text
    with s.store.sessions() as session:
        labels = {str(p.post_id): (p.need_type, p.jobs) for p in session.scalars(select(PostLabel))}
        audits = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "label"))
        corrections = session.scalar(select(func.count()).select_from(LabelCorrection))
    assert labels == {pid: ("question", ["sync"]) for pid in chosen}
    assert audits == 3 and corrections == 6  # one audit entry per post; need and jobs each corrected
    _open(d, f"{s.url}/posts?product=notely", PHONE)
    scroll, inner = _overflow(d)
    assert scroll <= inner, (scroll, inner)
    _shot(d, f"posts-{PHONE}")
    _open(d, f"{s.url}/posts?product=notely", DESKTOP)
    _shot(d, f"posts-{DESKTOP}")


def test_unknown_job_and_past_mute_date_are_refused_with_the_curation_message(
        d: Any, configured_server: Server) -> None:
    s = configured_server
    post_id = s.seeded.posts["Search finds my old "]
    _open(d, f"{s.url}/posts?q=recipes")
    row = d.find_element(By.ID, f"post-{post_id}")
    row.find_element(By.CSS_SELECTOR, "details.edit summary").click()
    jobs = row.find_element(By.CSS_SELECTOR, "form.relabel input[name=jobs]")
    jobs.clear()
    jobs.send_keys("exprot-notes")
    _submit(d, row.find_element(By.CSS_SELECTOR, "form.relabel button"))
    message = d.find_element(By.TAG_NAME, "main").text
    assert "unknown job(s) for notely: exprot-notes (configured: export, search, sync, write)" in message
    with s.store.sessions() as session:
        assert session.get(PostLabel, post_id) is None

    sync = s.seeded.issues["sync"]
    _open(d, f"{s.url}/issues/{sync}")
    form = d.find_element(By.CSS_SELECTOR, f"form[action='/issues/{sync}/mute']")
    d.execute_script("arguments[0].value = '2020-01-01'", form.find_element(By.NAME, "until"))
    d.execute_script("arguments[0].removeAttribute('data-confirm')", form)
    _submit(d, form.find_element(By.CSS_SELECTOR, "button"))
    assert "mute until 2020-01-01: that day has come already" in d.find_element(By.TAG_NAME, "main").text
    _open(d, f"{s.url}/issues/{sync}")
    assert not d.find_elements(By.ID, "muted-note")


def test_source_filter_takes_the_configured_name_and_an_empty_result_names_its_filter(
        d: Any, configured_server: Server) -> None:
    s = configured_server
    with s.store.transaction() as session:
        from store.models import Source
        for source in session.scalars(select(Source)):
            source.name = "store-reviews"  # the name in the config, the spider stays appstore
    _open(d, f"{s.url}/posts?source=store-reviews&product=jotter")
    assert d.find_element(By.ID, "post-count").text.startswith("3 posts match")
    _open(d, f"{s.url}/posts?product=jotter&source=forum")
    reason = d.find_element(By.ID, "empty-reason").text
    assert reason.startswith("No posts match: the source filter (forum) left none of the 3")
    assert "store-reviews" in reason


def test_compare_leads_with_the_verdict_and_where_we_lose(d: Any, configured_server: Server) -> None:
    s = configured_server
    for width in (DESKTOP, PHONE):
        _open(d, f"{s.url}/compare?days=7", width)
        scroll, inner = _overflow(d)
        assert scroll <= inner, (width, scroll, inner)
        verdict = d.find_element(By.ID, "verdict")
        assert "Notely" in verdict.text and verdict.find_elements(By.CSS_SELECTOR, ".mark")
        if width == DESKTOP:  # the first screen holds the verdict and where we lose, the tables come after
            height = d.execute_script("return window.innerHeight")
            lose = d.find_element(By.CSS_SELECTOR, "#where-we-lose h2")
            assert lose.text == "Where we lose, and why" and lose.rect["y"] < height
            assert d.find_element(By.ID, "opportunity").rect["y"] > lose.rect["y"]
        assert d.find_element(By.ID, "period").find_elements(By.LINK_TEXT, "180 days")
        _shot(d, f"compare-{width}")


def test_alert_mail_reads_on_desktop_and_phone(d: Any, tmp_path: Path) -> None:
    """An alert .eml as a mail client shows it: its HTML with the inline chart, no sideways scroll."""
    from email import message_from_bytes, policy

    from alerts.render import build_email, render_alert
    from tests.alert_support import sample_payload
    from tests.browser_support import with_images

    payload = sample_payload(label="PDF export crashes", product="Notely",
                             quote="Since 4.2.0 every PDF export crashes the app halfway through a long notebook, "
                                   "and the half-written file is left behind in the downloads folder")
    payload["product"]["slug"] = "notely"
    payload["issue"].update(size=19, negative_share=0.79, emerged_in="4.2.0")
    eml = tmp_path / "alert.eml"
    eml.write_bytes(bytes(build_email(render_alert("issue_new", payload, alert_id=7,
                                                   base_url="http://127.0.0.1:8321"),
                                      sender="voxpop@example.com", to=["pm@example.com"], message_id="<a7@voxpop>")))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()
    images = {str(part["Content-ID"]).strip("<>"): part.get_content() for part in message.walk()
              if part.get_content_type() == "image/png"}
    page = tmp_path / "alert.html"
    page.write_text(with_images(html, images), encoding="utf-8")
    for width in (DESKTOP, PHONE):
        _open(d, page.as_uri(), width)
        scroll, inner = _overflow(d)
        assert scroll <= inner, (width, scroll, inner)
        assert "PDF export crashes" in d.find_element(By.TAG_NAME, "h2").text
        assert d.find_element(By.LINK_TEXT, "Open this issue in the dashboard").get_attribute("href") == \
            "http://127.0.0.1:8321/issues/1"
        _shot(d, f"alert-mail-{width}")
    assert str(message["Subject"]) == \
        "[voxpop] Notely: PDF export crashes since 4.2.0 (19 posts, 79% negative) · New issue"


def test_posts_total_beyond_one_page_is_filled_in_by_the_count(d: Any, configured_server: Server) -> None:
    from store.models import Product
    from store.repo import PostRecord, upsert_posts

    s = configured_server
    now = datetime.now(UTC)
    with s.store.transaction() as session:
        notely = session.scalar(select(Product).where(Product.slug == "notely"))
        upsert_posts(session, notely.id, [PostRecord(source="appstore", external_id=f"extra-{i}", text=f"Note {i}.",
                                                     created_at=now - timedelta(days=20, minutes=i), language="en")
                                          for i in range(55)])
    _open(d, f"{s.url}/posts?product=notely")
    line = d.find_element(By.ID, "post-count")
    WebDriverWait(d, 20).until(lambda _d: line.get_attribute("data-counted") == "1")
    assert line.text.startswith("65 posts match · page 1")
    assert len(d.find_elements(By.CSS_SELECTOR, "#results tr.post")) == 50
