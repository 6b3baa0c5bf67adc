"""Parse GitHub REST answers: repository issues (pull requests filtered out) and issue comments."""

from __future__ import annotations

from typing import Any

from spiders.pages.common import expect, load_json
from spiders.pages.community import Page
from voxpop.core.text import clean_text


def post_from_issue(issue: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from one issue object; None for a pull request or an issue without text."""
    if "pull_request" in issue or issue.get("id") is None:
        return None
    title = clean_text(issue.get("title")) or None
    text = clean_text(issue.get("body")) or (title or "")
    if not text:
        return None
    return {
        "external_id": f"issue-{issue['id']}",
        "title": title,
        "text": text,
        "url": issue.get("html_url"),
        "author": (issue.get("user") or {}).get("login"),
        "created_at": issue.get("created_at"),
        "found_by": found_by,
        "raw": {"kind": "issue", "number": issue.get("number"), "state": issue.get("state"),
                "labels": [lb.get("name") for lb in issue.get("labels") or [] if isinstance(lb, dict)],
                "comments": issue.get("comments"), "updated_at": issue.get("updated_at")},
    }


def parse_issues(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Issues of one ``/repos/{owner}/{repo}/issues`` page.

    ``info``: ``count`` (objects on the page), ``pull_requests`` (skipped), ``newest_updated`` (the
    largest ``updated_at``, the next ``since``) and ``with_comments``: ``[(comments_url, number), ...]``
    for issues that have comments. Pagination comes from the ``Link`` header, not the body.
    """
    data = expect(load_json(body), list, "issues answer")
    page = Page()
    prs = 0
    updated: list[str] = []
    with_comments: list[tuple[str, int]] = []
    for issue in data:
        if not isinstance(issue, dict):
            continue
        if issue.get("updated_at"):
            updated.append(str(issue["updated_at"]))
        if "pull_request" in issue:
            prs += 1
            continue
        post = post_from_issue(issue, found_by)
        if post is not None:
            page.posts.append(post)
        if issue.get("comments") and issue.get("comments_url"):
            with_comments.append((str(issue["comments_url"]), int(issue.get("number") or 0)))
    page.info = {"count": len(data), "pull_requests": prs, "newest_updated": max(updated, default=None),
                 "with_comments": with_comments}
    return page


def parse_comments(body: bytes | str | Any, found_by: str | None = None, number: int | None = None) -> Page:
    """Comments of one ``/repos/{owner}/{repo}/issues/{number}/comments`` page."""
    data = expect(load_json(body), list, "comments answer")
    page = Page()
    for comment in data:
        if not isinstance(comment, dict) or comment.get("id") is None:
            continue
        text = clean_text(comment.get("body"))
        if not text:
            continue
        page.posts.append({
            "external_id": f"comment-{comment['id']}",
            "title": None,
            "text": text,
            "url": comment.get("html_url"),
            "author": (comment.get("user") or {}).get("login"),
            "created_at": comment.get("created_at"),
            "found_by": found_by,
            "raw": {"kind": "comment", "number": number, "issue_url": comment.get("issue_url"),
                    "updated_at": comment.get("updated_at")},
        })
    page.info = {"count": len(data)}
    return page
