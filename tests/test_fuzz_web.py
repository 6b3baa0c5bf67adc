"""Property tests (Hypothesis) over the dashboard's edge: every route's path and query parameters and every POST
form, on SQLite and PostgreSQL. Never a 500, never a traceback; a refused action changes nothing.

Requests go over HTTP to the real app (uvicorn on loopback, as the other web tests do). Examples are bounded
so each database stays within a few tens of seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.db import Store
from store.models import AuditLog, Issue, IssueCuration, IssuePost, LabelCorrection, PostLabel
from tests.web_support import Server, start

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PAGES = ["/", "/issues", "/posts", "/compare", "/alerts", "/status", "/api/overview", "/api/issues", "/api/posts",
         "/api/compare", "/api/alerts", "/api/status"]
PARAMS = ["days", "until", "since", "product", "products", "state", "source", "version", "sort", "q", "country",
          "rating_min", "rating_max", "language", "sentiment", "need", "job", "label_source", "issue", "page",
          "status", "done", "next"]
TRICKY = ["\u00b2", "\u0663", "0", "00", "-1", "1e3", " 1", "1 ", "\x00", "a\x00b", "9" * 23, str(2**31), str(2**63),
          str(2**31 - 1), "2026-02-30", "2026-13-01", "99999-01-01", "0001-01-01", "\u202e", "<script>", "%00", "1,2",
          "nan", "inf", "", " "]

ids = st.one_of(st.sampled_from(TRICKY), st.integers(-2**70, 2**70).map(str), st.text(max_size=24))
values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40), st.integers(-2**70, 2**70).map(str))
queries = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), st.text(max_size=8)), values), max_size=5)


def _ok(status: int, body: str) -> None:
    assert status < 500, body[:500]
    assert "Traceback" not in body and "OverflowError" not in body and "psycopg" not in body


@pytest.fixture
def server(store: Store) -> Iterator[Server]:
    yield from start(store)


@pytest.mark.parametrize("page", PAGES)
@settings(FUZZ, max_examples=20)
@given(query=queries)
def test_every_page_with_any_query_answers_without_a_server_error(server: Server, page: str,
                                                                    query: list[tuple[str, str]]) -> None:
    status, _, body = server.request("GET", f"{page}?{urlencode(query)}")
    _ok(status, body)


@FUZZ
@given(prefix=st.sampled_from(["/issues/", "/api/issues/"]), value=ids, query=queries)
def test_any_issue_id_in_the_path_is_a_page_or_a_404(server: Server, prefix: str, value: str,
                                                     query: list[tuple[str, str]]) -> None:
    status, _, body = server.request("GET", f"{prefix}{quote(value, safe='')}?{urlencode(query)}")
    _ok(status, body)
    if value and not re.fullmatch(r"[0-9]+", value):
        assert status in (400, 404)


class Visitor:
    """One browser: the CSRF cookie and the form token."""

    def __init__(self, server: Server) -> None:
        self.server = server
        _, headers, html = server.request("GET", "/posts")
        self.cookie = headers["set-cookie"].split(";")[0]
        match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
        assert match is not None
        self.token = match.group(1)

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        body = urlencode([*fields, ("csrf_token", self.token)]).encode()
        status, _, text = self.server.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        return status, text


def _snapshot(store: Store) -> tuple[object, ...]:
    with store.sessions() as session:
        count = [session.scalar(select(func.count()).select_from(t)) for t in
                 (AuditLog, IssueCuration, PostLabel, LabelCorrection, IssuePost, Issue)]
        return (*count, tuple(session.execute(select(Issue.id, Issue.label, Issue.state).order_by(Issue.id))))


FORM_FIELDS = ["label", "into", "post_ids", "until", "sentiment", "need", "jobs", "no_jobs", "back"]
forms = st.lists(st.tuples(st.sampled_from(FORM_FIELDS), values), max_size=4)
ACTIONS = ["rename", "merge", "split", "not-an-issue", "mute", "unmute", "resolve", "reopen"]


@FUZZ
@given(action=st.sampled_from(ACTIONS), target=st.one_of(st.just("known"), ids), fields=forms)
def test_issue_actions_with_any_form_never_fail_and_refusals_change_nothing(
        server: Server, action: str, target: str, fields: list[tuple[str, str]]) -> None:
    visitor = Visitor(server)
    issue = str(server.seeded.issues["dark"]) if target == "known" else quote(target, safe="")
    before = _snapshot(server.store)
    status, body = visitor.post(f"/issues/{issue}/{action}", fields)
    _ok(status, body)
    if status != 303:
        assert _snapshot(server.store) == before


@FUZZ
@given(target=st.one_of(st.just("known"), ids), fields=forms)
def test_relabel_with_any_form_never_fails_and_refusals_change_nothing(server: Server, target: str,
                                                                       fields: list[tuple[str, str]]) -> None:
    visitor = Visitor(server)
    post = str(server.seeded.by_index[4]) if target == "known" else quote(target, safe="")
    before = _snapshot(server.store)
    status, body = visitor.post(f"/posts/{post}/label", fields)
    _ok(status, body)
    if status != 303:
        assert _snapshot(server.store) == before
