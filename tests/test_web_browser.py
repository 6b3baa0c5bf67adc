"""The dashboard in a real headless Chromium: overview, search, an issue, merge, relabel, hostile text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.web_support import Server, console_errors


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _submit(driver: Any, button: Any, confirm: bool = False) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    if confirm:
        WebDriverWait(driver, 10).until(lambda d: _alert(d) is not None)
        alert = _alert(driver)
        assert alert is not None
        alert.accept()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.TAG_NAME, "html") != old)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _alert(driver: Any) -> Any:
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def test_overview_search_and_issue(browser: Any, seeded_server: Server) -> None:
    s, d = seeded_server, browser
    console_errors(d)
    _open(d, s.url + "/")
    assert d.title == "Overview · voxpop"
    notely = d.find_element(By.ID, "product-notely")
    assert "Notely" in notely.text and "(ours)" in notely.text
    issues = [a.text for a in notely.find_elements(By.CSS_SELECTOR, "ol.issues .issue-head a[href^='/issues/']")]
    assert issues[:2] == ["sync fails after update", "dark mode wanted"]  # new first, then rising
    assert notely.find_elements(By.CSS_SELECTOR, "svg.spark rect")

    # search posts through the form: the resulting URL is the bookmarkable view
    d.find_element(By.LINK_TEXT, "Posts").click()
    WebDriverWait(d, 30).until(lambda drv: drv.current_url.endswith("/posts"))
    form = d.find_element(By.ID, "post-search")
    form.find_element(By.NAME, "q").send_keys('"dark mode"')
    Select(form.find_element(By.NAME, "product")).select_by_visible_text("Notely")
    _submit(d, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    query = parse_qs(urlsplit(d.current_url).query)
    assert query == {"q": ['"dark mode"'], "product": ["notely"]}  # empty filters are left out
    rows = d.find_elements(By.CSS_SELECTOR, "#results tr.post")
    assert len(rows) == 1 and "the white page hurts at night" in rows[0].text
    assert "feature_request" in rows[0].text and "model" in rows[0].text
    _open(d, d.current_url)  # the bookmark shows the same result
    assert len(d.find_elements(By.CSS_SELECTOR, "#results tr.post")) == 1

    # open an issue from the overview
    _open(d, s.url + "/")
    d.find_element(By.LINK_TEXT, "sync fails after update").click()
    WebDriverWait(d, 30).until(lambda drv: "/issues/" in drv.current_url)
    assert d.find_element(By.ID, "issue-label").text == "sync fails after update"
    quotes = d.find_elements(By.CSS_SELECTOR, "#quotes q.quote")
    assert len(quotes) == 3
    assert "Binomial test of the rise" in d.find_element(By.ID, "why").text
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    # the comparison with its charts and the opportunity grid
    _open(d, s.url + "/compare?days=30")
    assert d.find_elements(By.CSS_SELECTOR, "#opportunity td") and d.find_elements(By.CSS_SELECTOR, "svg.chart")
    for path in ("/issues", "/alerts", "/status"):
        _open(d, s.url + path)
    assert console_errors(d) == []  # no CSP violation, no script error on any page


def test_merge_two_issues(browser: Any, seeded_server: Server) -> None:
    s, d = seeded_server, browser
    source, target = s.seeded.issues["sync2"], s.seeded.issues["sync"]
    _open(d, f"{s.url}/issues/{source}")
    merge = d.find_element(By.CSS_SELECTOR, f"form[action='/issues/{source}/merge']")
    Select(merge.find_element(By.NAME, "into")).select_by_value(str(target))
    _submit(d, merge.find_element(By.CSS_SELECTOR, "button"), confirm=True)
    assert urlsplit(d.current_url).path == f"/issues/{target}", d.find_element(By.TAG_NAME, "main").text
    assert d.find_element(By.ID, "flash").text == "Issues merged."
    assert "4 posts" in d.find_element(By.TAG_NAME, "main").text
    history = d.find_element(By.ID, "history").text
    assert f"took in issue #{source}" in history and "dashboard" in history
    _open(d, s.url + "/issues?product=notely")
    listed = [a.text for a in d.find_elements(By.CSS_SELECTOR, "#issue-list a[href^='/issues/']")]
    assert "sync stopped working" not in listed and "sync fails after update" in listed
    _open(d, f"{s.url}/issues/{source}")
    assert f"issue #{target}" in d.find_element(By.ID, "merged-note").text
    assert not d.find_elements(By.ID, "actions")


def test_relabel_a_post(browser: Any, seeded_server: Server) -> None:
    s, d = seeded_server, browser
    post_id = s.seeded.posts["The editor lags when"]
    _open(d, f"{s.url}/posts?q=editor")
    row = d.find_element(By.ID, f"post-{post_id}")
    assert "negative" in row.text and "model" in row.text
    row.find_element(By.CSS_SELECTOR, "details.edit summary").click()  # the form opens from its edit button
    form = row.find_element(By.CSS_SELECTOR, "form.relabel")
    Select(form.find_element(By.NAME, "sentiment")).select_by_visible_text("neutral")
    Select(form.find_element(By.NAME, "need")).select_by_visible_text("feature_request")
    _submit(d, form.find_element(By.CSS_SELECTOR, "button"))
    assert parse_qs(urlsplit(d.current_url).query)["q"] == ["editor"]  # back on the same view
    assert "relabelled" in d.find_element(By.ID, "flash").text
    labels = d.find_element(By.ID, f"post-{post_id}").find_element(By.CSS_SELECTOR, "td.labels")
    assert labels.find_element(By.CSS_SELECTOR, ".sentiment").text == "neutral"
    assert labels.find_element(By.CSS_SELECTOR, ".need").text == "feature_request"
    assert labels.find_element(By.CSS_SELECTOR, ".label-source").text == "human"
    # the human label wins in the filters too
    _open(d, f"{s.url}/posts?label_source=human")
    assert [r.get_attribute("data-id") for r in d.find_elements(By.CSS_SELECTOR, "#results tr.post")] == [str(post_id)]
    _open(d, f"{s.url}/posts?q=editor&sentiment=negative")
    assert d.find_elements(By.CSS_SELECTOR, "#results tr.post") == []


def test_hostile_post_renders_as_text(browser: Any, seeded_server: Server) -> None:
    s, d = seeded_server, browser
    console_errors(d)
    _open(d, f"{s.url}/posts?q=great")
    row = d.find_element(By.ID, f"post-{s.seeded.hostile_post}")
    assert d.title == "Posts · voxpop"  # the post's script did not run
    assert _alert(d) is None
    assert '<script>document.title="pwned"</script>' in row.text and "<img src=x onerror=alert(1)>" in row.text
    assert "<b>mallory</b>" in row.text and "<i>title</i>" in row.text
    assert row.find_elements(By.TAG_NAME, "img") == [] and row.find_elements(By.TAG_NAME, "script") == []
    hrefs = [a.get_attribute("href") for a in d.find_elements(By.TAG_NAME, "a")]
    assert not [h for h in hrefs if h and not h.startswith(s.url) and not h.startswith("https://")]
    assert not row.find_elements(By.CSS_SELECTOR, "a.source-link")  # javascript: URL is not a link
    assert console_errors(d) == []
