"""``voxpop import`` and ``voxpop export``: posts in and out of the store as JSONL or CSV.

Both import formats have the same columns (``id``, ``text``, optional ``title``, ``rating``, ``date``,
``author``, ``url``, ``version``); a CSV file has a header row, and its other columns are kept as the
post's segment fields (``region``, ``plan``, ...) and exported beside it. A CSV export is safe to open
in a spreadsheet: a text cell that could run as a formula gets a leading ``'`` (:func:`csv_safe`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Classification, Issue, IssuePost, Post, PostLabel, PostProduct
from store.repo import UpsertResult, upsert_posts
from voxpop.core.post import PostRecord, validate_post
from voxpop.core.text import clean_text

IMPORT_BATCH = 500
IMPORT_COLUMNS = ("id", "text", "title", "rating", "date", "author", "url", "version")
MAX_SEGMENTS = 50
EXPORT_FIELDS = [
    "id", "source", "external_id", "url", "author", "title", "text", "rating", "created_at", "version", "language",
    "status", "sentiment", "sentiment_score", "need_type", "need_score", "unmet_need", "jobs", "evidence",
    "step", "step_score", "model_version", "label_source", "issue_ids", "mixed", "sentences",
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
                "unchanged": self.result.unchanged, "linked": self.result.linked, "skipped": len(self.bad),
                "bad_rows": [{"line": b.line, "reason": b.reason} for b in self.bad]}


def parse_import_row(obj: Any, source: str, segments: dict[str, str] | None = None,
                     *, from_csv: bool = False) -> PostRecord:
    """Validate one import row into the post contract; raises ValueError with the reason.

    The same validator as the crawl (:func:`voxpop.core.post.validate_post`): rating 1-5, URLs
    http(s) only, the same text cap, dates in UTC. ``from_csv``: every value is a string (an empty
    cell is a missing value, a rating is parsed); ``segments`` are kept on the post.
    """
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    rating = obj.get("rating")
    if from_csv and isinstance(rating, str):
        try:
            rating = float(rating) if rating.strip() else None
        except ValueError:
            raise ValueError(f"bad rating {rating!r} (expected a number 1-5)") from None
    # An export file carries the store's id in "id" and the origin's id in "external_id": prefer the latter.
    record = validate_post(
        source=source, external_id=obj.get("external_id") or obj.get("id"), text=obj.get("text"),
        title=obj.get("title"),
        rating=rating, created_at=obj.get("date"), author=obj.get("author"), url=obj.get("url"),
        version=obj.get("version"), raw={k: v for k, v in obj.items() if k != "text"})
    return replace(record, segments=segments) if segments else record


def _read_lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if line.strip():
            yield number, line


def import_format(path: Path, fmt: str = "auto") -> str:
    """``jsonl`` or ``csv``: as given, else from the file name (``.csv``/``.tsv`` are CSV)."""
    if fmt != "auto":
        return fmt
    return "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"


def import_posts(session: Session, product_id: int, path: Path, *, source: str = "import",
                 source_id: int | None = None, progress: Callable[[int], None] | None = None,
                 fmt: str = "auto") -> ImportReport:
    """Import a JSONL or CSV file: good rows upserted (idempotent), bad rows skipped, counted and named by line."""
    report = ImportReport()
    batch: list[PostRecord] = []
    rows = _csv_rows(path) if import_format(path, fmt) == "csv" else _jsonl_rows(path, source)
    for number, record in rows:
        report.rows += 1
        if isinstance(record, str):
            report.bad.append(BadRow(number, record))
        else:
            batch.append(record if record.source == source else replace(record, source=source))
        if len(batch) >= IMPORT_BATCH:
            report.result.add(upsert_posts(session, product_id, batch, source_id))
            batch = []
        if progress:
            progress(1)
    if batch:
        report.result.add(upsert_posts(session, product_id, batch, source_id))
    return report


def _jsonl_rows(path: Path, source: str) -> Iterator[tuple[int, PostRecord | str]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in _read_lines(handle):
            try:
                yield number, parse_import_row(json.loads(line), source)
            except json.JSONDecodeError as exc:
                yield number, f"broken JSON: {exc.msg} at column {exc.colno}"
            except ValueError as exc:
                yield number, str(exc)


def _csv_rows(path: Path) -> Iterator[tuple[int, PostRecord | str]]:
    """CSV rows as records (or the reason a row is bad), numbered by the line they start on."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        sample = handle.read(8192)
        handle.seek(0)
        try:  # only the delimiter is guessed (from the header); quoting is the standard one
            delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
        reader = csv.reader(handle, csv.excel, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        names = [clean_text(h).strip().lower() for h in header]
        missing = [c for c in ("id", "text") if c not in names]
        if missing:
            raise ImportFormatError(f"{path}: the CSV header has no {' or '.join(repr(m) for m in missing)} column "
                                    f"(found: {', '.join(names) or 'nothing'})")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated or "" in names:
            raise ImportFormatError(f"{path}: the CSV header has empty or repeated column names: {duplicated}")
        extra = [n for n in names if n not in IMPORT_COLUMNS]
        if len(extra) > MAX_SEGMENTS:
            raise ImportFormatError(f"{path}: {len(extra)} extra columns; at most {MAX_SEGMENTS} segment fields")
        start = reader.line_num + 1
        for cells in reader:
            number, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                yield number, f"expected {len(names)} cells as in the header, got {len(cells)}"
                continue
            values = dict(zip(names, cells, strict=True))
            segments = {n: clean_text(values[n])[:300] for n in extra if clean_text(values[n])}
            row = {k: (v if v.strip() else None) for k, v in values.items() if k in IMPORT_COLUMNS}
            try:
                yield number, parse_import_row(row, "import", segments, from_csv=True)
            except ValueError as exc:
                yield number, str(exc)


class ImportFormatError(ValueError):
    """The import file as a whole cannot be read (no header, no ``text`` column, ...)."""


def iter_export_rows(session: Session, product_id: int) -> Iterator[dict[str, Any]]:
    """Every post of a product (primary or linked) with its labels and issue ids, streamed.

    ``id`` is the store's post id (what ``voxpop label --post`` takes). A person's correction wins over
    the model's value field by field; ``label_source`` says ``human`` when the post was corrected.
    """
    linked = select(PostProduct.post_id).where(PostProduct.product_id == product_id)
    query = (
        select(Post, Classification, PostLabel)
        .outerjoin(Classification, Classification.post_id == Post.id)
        .outerjoin(PostLabel, PostLabel.post_id == Post.id)
        .where((Post.product_id == product_id) | Post.id.in_(linked))
        .order_by(Post.id)
        .execution_options(yield_per=1000)
    )
    issues_of: dict[int, list[int]] = {}
    members = select(IssuePost.post_id, IssuePost.issue_id).join(Issue, Issue.id == IssuePost.issue_id)
    for post_id, issue_id in session.execute(members.where(Issue.product_id == product_id)):
        issues_of.setdefault(post_id, []).append(issue_id)
    for post, cls, human in session.execute(query):
        issue_ids = issues_of.get(post.id, [])
        row: dict[str, Any] = {
            "id": post.id, "source": post.source, "external_id": post.external_id, "url": post.url,
            "author": post.author, "title": post.title, "text": post.text, "rating": post.rating,
            "created_at": post.created_at.isoformat().replace("+00:00", "Z") if post.created_at else None,
            "version": post.version, "language": post.language, "status": post.status,
            "segments": dict(post.segments or {}),
        }
        if cls is not None:
            row.update(sentiment=cls.sentiment, sentiment_score=cls.sentiment_score, need_type=cls.need_type,
                       need_score=cls.need_score, unmet_need=cls.unmet_need, jobs=cls.jobs, evidence=cls.evidence,
                       step=cls.step, step_score=cls.step_score, model_version=cls.model_version, label_source="model",
                       mixed=cls.mixed, sentences=cls.sentences)
        if human is not None:
            _apply_human(row, human)
        row["issue_ids"] = issue_ids
        yield row


def _apply_human(row: dict[str, Any], human: PostLabel) -> None:
    """Let a person's labels win over the model's in an export row."""
    if human.sentiment is not None:
        row["sentiment"] = human.sentiment
    if human.need_type is not None:
        row["need_type"], row["unmet_need"] = human.need_type, bool(human.unmet_need)
    if human.jobs is not None:
        row["jobs"] = [{"job": job, "score": 1.0} for job in human.jobs]
    if human.step is not None:
        row["step"], row["step_score"] = human.step, 1.0
    row["label_source"] = "human"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP "CSV injection").

    A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, CR or LF (or their full-width
    forms, which some spreadsheets also accept) gets a leading ``'``, which spreadsheets show as text.
    Leading spaces do not hide the start: `` =1+1`` is prefixed too. Numbers stay numbers.
    """
    if isinstance(value, str) and value.lstrip(" ")[:1] in FORMULA_START and value.lstrip(" "):
        return "'" + value
    return value


def segment_names(session: Session, product_id: int) -> list[str]:
    """Every segment field name the product's posts carry (the extra columns of a CSV export)."""
    linked = select(PostProduct.post_id).where(PostProduct.product_id == product_id)
    names: dict[str, None] = {}
    query = (select(Post.segments).where((Post.product_id == product_id) | Post.id.in_(linked))
             .where(Post.segments.is_not(None)).execution_options(yield_per=1000))
    for (segments,) in session.execute(query):
        for name in segments or {}:
            names.setdefault(str(name))
    return list(names)


def write_export(rows: Iterator[dict[str, Any]], fmt: str, handle: IO[str], segments: list[str] | None = None,
                 extra_fields: Sequence[str] = ()) -> int:
    """Write rows as ``jsonl`` or ``csv``; returns the number written.

    CSV: the standard columns, then one per segment field (``segments``; a name that clashes with a
    standard column is written as ``segment.<name>``); every text cell goes through :func:`csv_safe`.
    """
    count = 0
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        columns = {name: (f"segment.{name}" if name in EXPORT_FIELDS else name) for name in segments or []}
        writer = csv.DictWriter(handle, fieldnames=EXPORT_FIELDS + list(extra_fields) + list(columns.values()),
                                extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = {k: csv_safe(json.dumps(v) if isinstance(v, (list, dict)) else v)
                    for k, v in row.items() if k != "segments"}
            for name, value in (row.get("segments") or {}).items():
                if name in columns:
                    flat[columns[name]] = csv_safe(value)
            writer.writerow(flat)
            count += 1
    else:
        raise ValueError(f"unknown export format {fmt!r} (expected jsonl or csv)")
    return count
