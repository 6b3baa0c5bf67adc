"""Dashboard actions over HTTP: each calls voxpop.curation once the CSRF check passes, and nothing otherwise."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import select

from store.models import AuditLog, Issue, IssueCuration, PostLabel
from tests.web_support import Server


class Browserless:
    """Keeps the CSRF cookie and form token of one visitor."""

    def __init__(self, server: Server) -> None:
        self.server = server
        status, headers, html = server.request("GET", "/issues")
        assert status == 200
        self.cookie = headers["set-cookie"].split(";")[0]
        self.token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)  # issues page has no form: use posts
        if self.token is None:
            _, _, html = server.request("GET", "/posts", headers={"Cookie": self.cookie})
            self.token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
        assert self.token is not None

    def post(self, path: str, fields: dict[str, str], *, token: str | None = "mine",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        body = dict(fields)
        if token is not None:
            body["csrf_token"] = self.token.group(1) if token == "mine" else token  # type: ignore[union-attr]
        return self.server.request("POST", path, body=urlencode(body).encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie, **(headers or {})})


def _issue(server: Server, issue_id: int) -> Issue:
    with server.store.sessions() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None
        return issue


def test_posts_without_a_valid_token_change_nothing(seeded_server: Server) -> None:
    s = seeded_server
    visitor = Browserless(s)
    issue_id = s.seeded.issues["dark"]
    path = f"/issues/{issue_id}/rename"
    assert visitor.post(path, {"label": "x"}, token=None)[0] == 403
    assert visitor.post(path, {"label": "x"}, token="f" * 64)[0] == 403
    assert visitor.post(path, {"label": "x"}, headers={"Origin": "http://evil.example"})[0] == 403
    no_cookie = s.request("POST", path, body=urlencode({"label": "x", "csrf_token": visitor.token.group(1)}).encode(),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert no_cookie[0] == 403
    assert s.request("GET", path)[0] == 405  # actions are POST only
    assert _issue(s, issue_id).label == "dark mode wanted"
    with s.store.sessions() as session:
        assert session.scalars(select(AuditLog)).all() == []


def test_rename_split_mute_resolve_reopen(seeded_server: Server) -> None:
    s = seeded_server
    v = Browserless(s)
    sync = s.seeded.issues["sync"]
    status, headers, _ = v.post(f"/issues/{sync}/rename", {"label": "  Sync broken <since> 5.2 "})
    assert status == 303 and headers["location"] == f"/issues/{sync}?done=renamed"
    assert _issue(s, sync).label == "Sync broken <since> 5.2"
    html = s.request("GET", f"/issues/{sync}")[2]
    assert "Sync broken &lt;since&gt; 5.2" in html and "renamed from" in html

    moved = s.seeded.by_index[2]
    status, headers, _ = v.post(f"/issues/{sync}/split", {"post_ids": f"{moved}"})
    # One post is fewer than an issue's minimum: no new issue, the post is left unassigned.
    assert status == 303 and headers["location"] == f"/issues/{sync}?done=split-small"
    assert _issue(s, sync).size == 2

    assert v.post(f"/issues/{sync}/mute", {"until": "2030-01-31"})[0] == 303
    with s.store.sessions() as session:
        row = session.get(IssueCuration, sync)
        assert row is not None and row.muted and str(row.muted_until) == "2030-01-31"
    assert "Alerts muted until 2030-01-31" in s.request("GET", f"/issues/{sync}")[2]
    assert v.post(f"/issues/{sync}/unmute", {})[0] == 303
    assert v.post(f"/issues/{sync}/resolve", {})[0] == 303 and _issue(s, sync).state == "resolved"
    assert v.post(f"/issues/{sync}/reopen", {})[0] == 303 and _issue(s, sync).state == "reopened"
    with s.store.sessions() as session:
        actions = [a.action for a in session.scalars(select(AuditLog).where(AuditLog.issue_id == sync))]
    assert actions == ["rename", "split", "mute", "unmute", "resolve", "reopen"]


def test_refused_actions_say_why_in_one_line(seeded_server: Server) -> None:
    s = seeded_server
    v = Browserless(s)
    sync, crash = s.seeded.issues["sync"], s.seeded.issues["crash"]
    status, _, html = v.post(f"/issues/{sync}/merge", {"into": str(crash)})
    assert status == 400 and "different products" in html
    status, _, html = v.post(f"/issues/{sync}/mute", {"until": "soon"})
    assert status == 400 and "until: expected a date" in html
    status, _, html = v.post(f"/issues/{sync}/split", {"post_ids": "abc"})
    assert status == 400 and "post_ids" in html
    status, _, html = v.post("/issues/999999/resolve", {})
    assert status == 400 and "no issue with id 999999" in html
    status, _, html = v.post(f"/posts/{s.seeded.hostile_post}/label", {"sentiment": "furious"})
    assert status == 400 and "sentiment must be one of" in html
    assert _issue(s, sync).state == "new"


def test_relabel_keeps_the_model_row_and_returns_to_the_view(seeded_server: Server) -> None:
    s = seeded_server
    v = Browserless(s)
    post_id = s.seeded.posts["Exporting to PDF wor"]
    status, headers, _ = v.post(f"/posts/{post_id}/label", {"jobs": "share, export", "back": "/posts?q=pdf"})
    assert status == 303 and headers["location"] == f"/posts?q=pdf&done=relabelled#post-{post_id}"
    status, headers, _ = v.post(f"/posts/{post_id}/label", {"need": "problem", "back": "https://evil.example/"})
    assert headers["location"].startswith("/?done=relabelled")  # never redirects off-site
    with s.store.sessions() as session:
        label = session.get(PostLabel, post_id)
        assert label is not None and label.jobs == ["share", "export"] and label.need_type == "problem"
    _, data = s.get_json("/api/posts?job=share")
    assert [(p["id"], p["top_job"], p["label_source"]) for p in data["posts"]] == [(post_id, "share", "human")]


def test_overview_follows_a_relabel_at_once(seeded_server: Server) -> None:
    s = seeded_server
    v = Browserless(s)

    def notely_now() -> dict[str, int]:
        _, data = s.get_json("/api/overview")
        return next(p for p in data["products"] if p["slug"] == "notely")["now"]["sentiment"]

    before = notely_now()
    post_id = s.seeded.posts["Sync keeps failing s"]
    assert v.post(f"/posts/{post_id}/label", {"sentiment": "positive"})[0] == 303
    after = notely_now()  # the same period asked again: the cached figures are not reused after a change
    assert after["negative"] == before["negative"] - 1 and after["positive"] == before["positive"] + 1


def test_not_an_issue_button_takes_posts_out_for_good(seeded_server: Server) -> None:
    from store.models import IssuePost, PostExclusion

    s = seeded_server
    v = Browserless(s)
    sync = s.seeded.issues["sync"]
    html = s.request("GET", f"/issues/{sync}", headers={"Cookie": v.cookie})[2]
    assert f'action="/issues/{sync}/not-an-issue"' in html and 'value="not-an-issue">Not an issue</button>' in html
    post = s.seeded.by_index[1]
    assert v.post(f"/issues/{sync}/not-an-issue", {"post_ids": str(post)}, token=None)[0] == 403
    assert _issue(s, sync).size == 3
    status, headers, _ = v.post(f"/issues/{sync}/not-an-issue", {"post_ids": str(post)})
    assert status == 303 and headers["location"] == f"/issues/{sync}?done=not-an-issue"
    with s.store.sessions() as session:
        assert session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == post)).all() == []
        mark = session.get(PostExclusion, post)
        assert mark is not None and (mark.reason, mark.issue_id, mark.by) == ("not_an_issue", sync, "dashboard")
    assert _issue(s, sync).size == 2
    page = s.request("GET", f"/issues/{sync}")[2]
    assert f"took posts [{post}] out: not an issue" in page
    status, _, html = v.post(f"/issues/{sync}/not-an-issue", {"post_ids": str(post)})
    assert status == 400 and f"post(s) {post} are not in issue {sync}" in html
