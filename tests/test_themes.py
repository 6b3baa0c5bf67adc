"""Themes across products (issue 27): issues of different products about one need share a theme, found from
centroids of the real packaged model's embeddings; a hand correction holds across re-runs of the pass.

The posts are written for these tests in our own words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from alerts.theme_store import update_themes
from alerts.themes import ThemeIssue, assign_themes, label_words
from store.db import Store
from store.models import AuditLog, Classification, Issue, IssuePost, Post, PostProduct, Product, Theme
from tests.cli_support import invoke
from voxpop import curation
from voxpop.report.themes import shared_themes, theme_line

# (product, issue label) -> the issue's posts
ISSUES: dict[tuple[str, str], list[str]] = {
    ("notely", "reminders"): ["I wish I could set a reminder on a note so it pings me later",
                              "Please add reminders to notes, I keep forgetting my tasks",
                              "There is no way to get reminded about a note at a set time"],
    ("jotter", "set reminders"): ["Jotter should let me set reminders on my notes",
                                  "Without reminders I miss the to-dos I wrote down",
                                  "Add a reminder alarm to a note please"],
    ("scribbly", "set reminders"): ["Can you add reminders? I want a note to alert me tomorrow",
                                    "Reminder notifications for notes would be great",
                                    "Let me schedule a reminder on any note"],
    ("jotter", "lock individual notes"): ["Let me lock individual notes with a passcode",
                                          "I want a password on my private notes only",
                                          "Please let me lock a single notebook with Face ID"],
    ("scribbly", "PDF export crashes"): ["The app crashes every time I export a note to PDF",
                                         "PDF export freezes and then the app closes",
                                         "Exporting to PDF crashes since the update"],
    ("notely", "sync loses notes"): ["Sync lost my notes between phone and laptop", "Notes vanish after syncing",
                                     "Sync deletes my latest edits"],
}
NAMES = {"notely": "Notely", "jotter": "Jotter", "scribbly": "Scribbly"}


@pytest.fixture(scope="module")
def embed() -> Callable[[list[str]], np.ndarray]:
    from classify.encoder import Encoder

    return Encoder().encode


@pytest.fixture(scope="module")
def centroids(embed: Callable[[list[str]], np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    out = {}
    for key, texts in ISSUES.items():
        mean = embed(texts).mean(axis=0)
        out[key] = (mean / np.linalg.norm(mean)).astype(np.float32)
    return out


def _seed(store: Store, centroids: dict[tuple[str, str], np.ndarray]) -> dict[tuple[str, str], int]:
    """Products, posts, classifications and one issue per group (members linked), as detection leaves them."""
    now = datetime.now(UTC)
    ids: dict[tuple[str, str], int] = {}
    with store.transaction() as session:
        products = {}
        for slug, name in NAMES.items():
            products[slug] = Product(slug=slug, name=name, own=slug == "notely", created_at=now)
            session.add(products[slug])
        session.flush()
        for n, ((slug, label), texts) in enumerate(ISSUES.items()):
            pid = products[slug].id
            issue = Issue(product_id=pid, label=label, keywords=label.split(), state="rising" if n == 0 else "ongoing",
                          need_type="feature_request", centroid=centroids[(slug, label)].tobytes(), size=len(texts),
                          first_seen=now - timedelta(days=9), last_seen=now, daily_counts={}, stats={})
            session.add(issue)
            session.flush()
            for k, text in enumerate(texts):
                post = Post(source="test", external_id=f"{slug}-{n}-{k}", product_id=pid, text=text, rating=2.0,
                            created_at=now - timedelta(days=k), fetched_at=now, content_hash=f"{n}-{k}",
                            status="classified")
                session.add(post)
                session.flush()
                session.add(PostProduct(post_id=post.id, product_id=pid))
                session.add(Classification(post_id=post.id, model_version="test", sentiment="negative",
                                           sentiment_score=0.9, need_type="feature_request", need_score=0.9,
                                           unmet_need=True, jobs=[], classified_at=now))
                session.add(IssuePost(issue_id=issue.id, post_id=post.id, similarity=0.9))
            ids[(slug, label)] = issue.id
    return ids


def _themes(store: Store) -> dict[int, int | None]:
    with store.sessions() as session:
        return {r.id: r.theme_id for r in session.execute(select(Issue.id, Issue.theme_id))}


def test_the_pass_links_one_need_across_three_products_and_nothing_else(
        centroids: dict[tuple[str, str], np.ndarray]) -> None:
    issues = [ThemeIssue(n, hash(k[0]) % 1000, k[1], c, 3) for n, (k, c) in enumerate(centroids.items())]
    groups = assign_themes(issues)
    assert len(groups) == 1
    (group,) = groups
    assert group.issue_ids == (0, 1, 2) and len(group.product_ids) == 3
    assert group.label == "set reminders"  # the most common label (two of three issues)
    # one product alone never makes a theme, however close its issues are
    same = [ThemeIssue(1, 7, "a", centroids[("notely", "reminders")]),
            ThemeIssue(2, 7, "b", centroids[("jotter", "set reminders")])]
    assert assign_themes(same) == []
    assert label_words("Set Reminders") == {"set", "reminder"}


def test_themes_link_issues_across_products_and_a_hand_correction_holds(
        store: Store, centroids: dict[tuple[str, str], np.ndarray]) -> None:
    ids = _seed(store, centroids)
    reminders = [ids[("notely", "reminders")], ids[("jotter", "set reminders")], ids[("scribbly", "set reminders")]]
    with store.transaction() as session:
        first = update_themes(session)
    assert first.created == 1 and first.issues_themed == 3
    themes = _themes(store)
    theme = themes[reminders[0]]
    assert theme is not None and {themes[i] for i in reminders} == {theme}
    assert all(themes[i] is None for k, i in ids.items() if i not in reminders)
    with store.sessions() as session:
        (row,) = shared_themes(session, ["notely", "jotter", "scribbly"])
    assert row["id"] == theme and [p["slug"] for p in row["products"]] == ["notely", "jotter", "scribbly"]
    assert theme_line(row) == "set reminders: Notely 3 posts, rising; Jotter 3; Scribbly 3"
    assert [i["id"] for p in row["products"] for i in p["issues"]] == reminders

    # By hand: the lock issue joins the theme, Scribbly's reminders leave every theme, PDF gets its own.
    lock, pdf = ids[("jotter", "lock individual notes")], ids[("scribbly", "PDF export crashes")]
    with store.transaction() as session:
        curation.set_issue_theme(session, lock, to=theme, by="ana")
        curation.set_issue_theme(session, reminders[2], none=True, by="ana")
        made = curation.set_issue_theme(session, pdf, new="exporting", by="ana")
    for _ in range(2):  # the automatic pass, twice: nothing a person decided moves
        with store.transaction() as session:
            update_themes(session)
        themes = _themes(store)
        assert themes[lock] == theme and themes[reminders[2]] is None and themes[pdf] == made.details["new"]
        assert themes[reminders[0]] == themes[reminders[1]] == theme
    with store.sessions() as session:
        assert session.get(Theme, made.details["new"]).label == "exporting"  # a hand theme stays, even alone
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "theme").order_by(AuditLog.id)).all()
    assert [(a.issue_id, a.by, a.details["new"]) for a in audit] == [
        (lock, "ana", theme), (reminders[2], "ana", None), (pdf, "ana", made.details["new"])]
    with store.transaction() as session, pytest.raises(curation.CurationError, match="exactly one"):
        curation.set_issue_theme(session, lock, to=theme, none=True, by="ana")
    with store.transaction() as session, pytest.raises(curation.CurationError, match="no theme with id 999"):
        curation.set_issue_theme(session, lock, to=999, by="ana")


def test_themes_and_issue_theme_commands(sqlite_url: str, tmp_path: Path,
                                         centroids: dict[tuple[str, str], np.ndarray]) -> None:
    store = Store(sqlite_url)
    ids = _seed(store, centroids)
    with store.transaction() as session:
        update_themes(session)
    listing = invoke("themes", "--json", db_url=sqlite_url)
    assert listing.exit_code == 0, listing.output
    data: list[dict[str, Any]] = __import__("json").loads(listing.output)
    assert [t["label"] for t in data] == ["set reminders"] and len(data[0]["products"]) == 3
    pdf = ids[("scribbly", "PDF export crashes")]
    moved = invoke("issue", "theme", str(pdf), "--to", str(data[0]["id"]), "--by", "ana", db_url=sqlite_url)
    assert moved.exit_code == 0 and f"issue {pdf}: theme" in moved.output
    both = invoke("issue", "theme", str(pdf), "--none", "--new", "x", db_url=sqlite_url)
    assert both.exit_code == 2 and "exactly one" in both.output
    human = invoke("themes", db_url=sqlite_url)
    assert "set reminders: Notely 3 posts, rising; Scribbly 6; Jotter 3" in human.output  # ours first, then size
    store.dispose()
