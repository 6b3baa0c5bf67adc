"""Malformed ids and hostile bytes at the dashboard's edge: a 404 or 400 page, never a 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from store.models import AuditLog, IssueCuration, IssuePost, PostLabel
from tests.test_web_actions import Browserless
from tests.web_support import Server

HUGE = "99999999999999999999999"
JUST_OVER = str(2**31)  # fits Python and SQLite, not PostgreSQL's integer


GETS = [
    ("/posts?page=%C2%B2", 400), ("/posts?issue=%C2%B2", 400), ("/api/posts?page=%C2%B2", 400),
    (f"/posts?issue={HUGE}", 400), (f"/posts?page={HUGE}", 400),
    (f"/issues/{HUGE}", 404), (f"/api/issues/{HUGE}", 404), (f"/issues/{JUST_OVER}", 404),
    (f"/api/issues/{JUST_OVER}", 404), ("/issues/0", 404),
    ("/posts?q=%00", 400), ("/posts?language=%00", 400), ("/api/posts?q=a%00b", 400),
    ("/issues?product=%00", 400), ("/?days=%C2%B2", 400), ("/compare?days=%C2%B2", 400),
    (f"/compare?days={HUGE}", 400), ("/alerts?status=%00", 400), ("/posts?country=%1b", 400),
    ("/compare?since=0001-01-01", 400), ("/api/compare?until=9999-12-31", 400), ("/?until=0001-01-01", 400),
]


def test_malformed_query_and_path_values_answer_a_page_not_a_500(seeded_server_any: Server) -> None:
    for path, status in GETS:
        got, _headers, body = seeded_server_any.request("GET", path)
        assert got == status, (path, got, body[:300])
        assert "Traceback" not in body


def _state(server: Server) -> tuple[int, int, int]:
    with server.store.sessions() as session:
        return (session.scalar(select(func.count()).select_from(AuditLog)) or 0,
                session.scalar(select(func.count()).select_from(PostLabel)) or 0,
                session.scalar(select(func.count()).select_from(IssuePost)) or 0)


FORMS = [
    ("split", {"post_ids": "\u00b2"}, 400), ("split", {"post_ids": f"1,{HUGE}"}, 400),
    ("split", {"post_ids": JUST_OVER}, 400), ("merge", {"into": HUGE}, 400), ("merge", {"into": "\u00b2"}, 400),
    ("merge", {"into": JUST_OVER}, 400), ("rename", {"label": "a\x00b"}, 303),
    ("not-an-issue", {"post_ids": "\u00b2"}, 400), ("not-an-issue", {"post_ids": JUST_OVER}, 400),
]


def test_malformed_form_values_refused_and_nothing_changes(seeded_server_any: Server) -> None:
    s = seeded_server_any
    for action, fields, status in FORMS:
        before = _state(s)
        got, _, body = Browserless(s).post(f"/issues/{s.seeded.issues['sync']}/{action}", fields)
        assert got == status, (action, fields, body[:300])
        assert "Traceback" not in body
        if status != 303:
            assert _state(s) == before, (action, fields)
    with s.store.sessions() as session:  # the one accepted form: NUL stripped at the edge from the new name
        row = session.get(IssueCuration, s.seeded.issues["sync"])
        assert row is not None and row.label == "ab"


def test_actions_on_ids_no_row_can_have_are_404(seeded_server_any: Server) -> None:
    s = seeded_server_any
    before = _state(s)
    for path in (f"/posts/{HUGE}/label", f"/posts/{JUST_OVER}/label", f"/issues/{HUGE}/resolve"):
        got, _, body = Browserless(s).post(path, {"sentiment": "negative"})
        assert got == 404, (path, body[:300])
    assert _state(s) == before
