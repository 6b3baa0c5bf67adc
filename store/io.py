"""``voxpop import`` and ``voxpop export``: posts in and out of the store as JSONL or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Classification, Issue, IssuePost, Post, PostProduct
from store.repo import PostRecord, UpsertResult, upsert_posts
from voxpop.core.text import clean_text, detect_language
from voxpop.core.timeutil import parse_datetime

IMPORT_BATCH = 500
EXPORT_FIELDS = [
    "source", "external_id", "url", "author", "title", "text", "rating", "created_at", "version", "language",
    "status", "sentiment", "sentiment_score", "need_type", "need_score", "unmet_need", "jobs", "evidence",
    "model_version", "issue_ids",
]


@dataclass(frozen=True)
class BadRow:
    """A line of an import file that was skipped, and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: good rows stored/updated/unchanged, bad rows named by line."""

    rows: int = 0
    result: UpsertResult = field(default_factory=UpsertResult)
    bad: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "stored": self.result.stored, "updated": self.result.updated,
                "unchanged": self.result.unchanged, "skipped": len(self.bad),
                "bad_rows": [{"line": b.line, "reason": b.reason} for b in self.bad]}


def parse_import_row(obj: Any, source: str) -> PostRecord:
    """Validate one import row into a PostRecord; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    external_id = obj.get("id")
    if external_id is None or str(external_id).strip() == "":
        raise ValueError("missing id")
    text = obj.get("text")
    if not isinstance(text, str) or not clean_text(text):
        raise ValueError("missing or empty text")
    rating = obj.get("rating")
    if rating is not None:
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not 0 <= rating <= 5:
            raise ValueError(f"bad rating {rating!r} (expected a number 0-5)")
        rating = float(rating)
    try:
        created = parse_datetime(obj.get("date"))
    except ValueError as exc:
        raise ValueError(f"bad date: {exc}") from None
    cleaned = clean_text(text)
    title = clean_text(obj.get("title")) if isinstance(obj.get("title"), str) else None
    return PostRecord(
        source=source, external_id=str(external_id), text=cleaned, title=title or None, rating=rating,
        created_at=created, author=_opt_str(obj.get("author")), url=_opt_str(obj.get("url")),
        version=_opt_str(obj.get("version")), language=detect_language(f"{title or ''} {cleaned}"),
        raw={k: v for k, v in obj.items() if k != "text"},
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else clean_text(str(value))[:300] or None


def _read_lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield number, line


def import_posts(session: Session, product_id: int, path: Path, *, source: str = "import",
                 source_id: int | None = None, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import a JSONL file: good rows upserted (idempotent), bad rows skipped, counted and named by line."""
    report = ImportReport()
    batch: list[PostRecord] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in _read_lines(handle):
            report.rows += 1
            try:
                batch.append(parse_import_row(json.loads(line), source))
            except json.JSONDecodeError as exc:
                report.bad.append(BadRow(number, f"broken JSON: {exc.msg} at column {exc.colno}"))
            except ValueError as exc:
                report.bad.append(BadRow(number, str(exc)))
            if len(batch) >= IMPORT_BATCH:
                report.result.add(upsert_posts(session, product_id, batch, source_id))
                batch = []
            if progress:
                progress(1)
    if batch:
        report.result.add(upsert_posts(session, product_id, batch, source_id))
    return report


def iter_export_rows(session: Session, product_id: int) -> Iterator[dict[str, Any]]:
    """Every post of a product (primary or linked) with its classification and issue ids, streamed."""
    linked = select(PostProduct.post_id).where(PostProduct.product_id == product_id)
    query = (
        select(Post, Classification)
        .outerjoin(Classification, Classification.post_id == Post.id)
        .where((Post.product_id == product_id) | Post.id.in_(linked))
        .order_by(Post.id)
        .execution_options(yield_per=1000)
    )
    issues_of: dict[int, list[int]] = {}
    members = select(IssuePost.post_id, IssuePost.issue_id).join(Issue, Issue.id == IssuePost.issue_id)
    for post_id, issue_id in session.execute(members.where(Issue.product_id == product_id)):
        issues_of.setdefault(post_id, []).append(issue_id)
    for post, cls in session.execute(query):
        issue_ids = issues_of.get(post.id, [])
        row: dict[str, Any] = {
            "source": post.source, "external_id": post.external_id, "url": post.url, "author": post.author,
            "title": post.title, "text": post.text, "rating": post.rating,
            "created_at": post.created_at.isoformat().replace("+00:00", "Z") if post.created_at else None,
            "version": post.version, "language": post.language, "status": post.status,
        }
        if cls is not None:
            row.update(sentiment=cls.sentiment, sentiment_score=cls.sentiment_score, need_type=cls.need_type,
                       need_score=cls.need_score, unmet_need=cls.unmet_need, jobs=cls.jobs, evidence=cls.evidence,
                       model_version=cls.model_version)
        row["issue_ids"] = issue_ids
        yield row


def write_export(rows: Iterator[dict[str, Any]], fmt: str, handle: IO[str]) -> int:
    """Write rows as ``jsonl`` or ``csv``; returns the number written."""
    count = 0
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
            writer.writerow(flat)
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r} (expected jsonl or csv)")
    return count
