"""The job map pages in a real headless Chromium (the table and a segment page), their JSON twins, the step
column and filter on /posts and the steps of an issue's posts on /issues/{id}."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from store.db import Store
from store.models import Issue, Product
from tests import jobmap_data as jd
from tests.web_support import Server, console_errors, serve
from voxpop.web.app import create_app

PERIOD = "since=2026-03-01&until=2026-03-30"
IPAD = "On my iPad with the pencil, export drops my handwriting <b>ink</b>"
WORK = "For my clients at work I need a Word docx export"


@pytest.fixture
def jobmap_server(sqlite_store: Store) -> Iterator[Server]:
    with sqlite_store.transaction() as session:
        jd.build(session)
        ours = session.scalar(select(Product).where(Product.slug == "ours"))
        rival = session.scalar(select(Product).where(Product.slug == "rival"))
        when = jd.SINCE + timedelta(days=5)
        for i in range(6):
            jd.post(session, ours, when, step="leave", sentiment="negative", unmet=True, need="feature_request",
                    text=f"{IPAD} ({i})")
            jd.post(session, ours, when, step="use", sentiment="neutral", unmet=True, need="feature_request",
                    text=f"{WORK} ({i})")
        jd.post(session, rival, when, step="use", sentiment="positive", text="On my iPad exporting keeps the ink")
    app = create_app(sqlite_store, None)
    for url in serve(app):
        yield Server(url=url, store=sqlite_store, seeded={}, app=app)


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_job_map_table_and_a_segment_page(browser: Any, jobmap_server: Server) -> None:
    s, d = jobmap_server, browser
    console_errors(d)
    _open(d, f"{s.url}/jobs?{PERIOD}")
    assert d.title == "Job map · voxpop"
    verdicts = d.find_element(By.ID, "jobmap-verdicts").text
    assert "We lose at set-up: 50% negative vs Rival 10%, n=30 and 30, a real gap." in verdicts
    setup = d.find_element(By.CSS_SELECTOR, "#jobmap tr.step[data-step='set-up']")
    ours = setup.find_element(By.CSS_SELECTOR, "td.cell[data-product='ours']")
    assert ours.find_element(By.CSS_SELECTOR, ".n").text == "30"
    assert "Minimize the chance that importing fails" in ours.find_element(By.CSS_SELECTOR, ".outcome").text
    steps = [r.get_attribute("data-step") for r in d.find_elements(By.CSS_SELECTOR, "#jobmap tr.step")]
    assert steps == ["choose", "get", "set-up", "learn", "use", "get-help", "pay", "leave"]

    cards = {c.get_attribute("data-key"): c for c in d.find_elements(By.CSS_SELECTOR, ".segments .segment")}
    assert set(cards) == {"tablet", "work"}
    assert cards["tablet"].find_element(By.CSS_SELECTOR, ".size").text == "7"
    assert "handwriting" in cards["tablet"].find_element(By.CSS_SELECTOR, ".need-words").text
    cards["tablet"].find_element(By.CSS_SELECTOR, "a.segment-link").click()
    WebDriverWait(d, 30).until(lambda drv: "/segments/tablet" in drv.current_url)
    assert d.find_element(By.ID, "segment-name").text == "“On my iPad”"
    assert d.find_element(By.ID, "segment-size").text == "7"
    assert "handwriting" in d.find_element(By.ID, "segment-needs").text
    rows = d.find_elements(By.CSS_SELECTOR, "#segment-posts tr.post")
    assert len(rows) == 7 and any("<b>ink</b>" in r.text for r in rows)  # escaped, shown as text
    assert not d.find_elements(By.CSS_SELECTOR, "#segment-posts b")
    assert d.find_element(By.ID, "siblings").text == "“For my clients” (6)"
    assert console_errors(d) == []


def test_posts_have_a_step_column_and_filter_and_issues_list_their_steps(browser: Any,
                                                                         jobmap_server: Server) -> None:
    s, d = jobmap_server, browser
    _open(d, f"{s.url}/posts?product=rival&step=set-up")
    rows = d.find_elements(By.CSS_SELECTOR, "#results tr.post")
    assert rows
    assert {r.find_element(By.CSS_SELECTOR, "td.step").text for r in rows} == {"set-up"}
    with s.store.sessions() as session:
        issue_id = session.scalar(select(Issue.id).where(Issue.label == "import fails"))
    _open(d, f"{s.url}/issues/{issue_id}")
    assert d.find_element(By.ID, "issue-steps").text == "set-up: 10 posts"


def test_api_twins_and_errors(jobmap_server: Server) -> None:
    s = jobmap_server
    status, data = s.get_json(f"/api/jobs?{PERIOD}")
    assert status == 200 and data["job_map"]["cells"]["ours"]["set-up"]["negative"]["x"] == 15
    assert [sg["key"] for sg in data["segments"]["export"]] == ["tablet", "work"]
    status, seg = s.get_json(f"/api/jobs/export/segments/work?{PERIOD}")
    assert status == 200 and seg["segment"]["size"] == 6 and len(seg["posts"]) == 6
    assert s.get_json(f"/api/jobs/export/segments/nope?{PERIOD}")[0] == 404
    assert s.get_json("/api/jobs?days=abc")[0] == 400
    status, posts = s.get_json("/api/posts?step=leave&product=ours")
    assert status == 200 and posts["posts"] and {p["step"] for p in posts["posts"]} == {"leave"}


def test_jobs_page_takes_a_product_choice(jobmap_server: Server) -> None:
    s = jobmap_server
    status, data = s.get_json(f"/api/jobs?{PERIOD}&products=rival")
    assert status == 200 and data["job_map"]["products"] == ["rival"] and data["job_map"]["comparisons"] == []
    status, err = s.get_json(f"/api/jobs?{PERIOD}&products=nope")
    assert status == 400 and "unknown product" in err["error"]
    status, _, html = s.request("GET", f"/jobs?{PERIOD}&products=ours&products=rival")
    assert status == 200 and 'name="products" value="rival" checked' in html
