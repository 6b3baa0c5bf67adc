"""SQLAlchemy 2.0 models: the one schema every stage reads and writes.

Alembic owns the schema (see ``store/migrations``); these classes describe it.
Natural keys carry unique constraints so reruns upsert instead of duplicating.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Post.status values: the classify stage claims "pending" posts.
POST_PENDING = "pending"
POST_CLASSIFYING = "classifying"
POST_CLASSIFIED = "classified"
POST_SKIPPED = "skipped"  # not English, or no text: stored and counted, never guessed at


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations get stable constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Product(Base):
    """A product we listen to: ours (``own``) or a competitor's."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    own: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Source(Base):
    """One configured source of a product (a spider plus its parameters) and its high-water mark."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("product_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spider: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Newest timestamp / id / cursor seen, per spider-defined key (e.g. per country storefront).
    high_water: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CrawlRun(Base):
    """One crawl of one source: what it stored, dropped and saw, and how it ended."""

    __tablename__ = "crawl_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    spider: Mapped[str] = mapped_column(String(50))
    product_slug: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|partial|failed
    reason: Mapped[str | None] = mapped_column(Text)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    dropped: Mapped[int] = mapped_column(Integer, default=0)
    # dropped_by_reason, pages, http_status counts, reported_total, caps_hit, duration_s, ...
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Post(Base):
    """A review or forum post as crawled or imported. Unique on ``(source, external_id)``."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_posts_product_created", "product_id", "created_at"),
        Index("ix_posts_status", "status"),
        # Covering index for the comparison report's GROUP BY scans (voxpop/report/queries.py).
        Index("ix_posts_report", "product_id", "created_at", "status", "source", "rating"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(50))  # spider / origin name, e.g. "appstore", "import"
    external_id: Mapped[str] = mapped_column(String(300))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)  # 1..5 scale
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(10))
    found_by: Mapped[str | None] = mapped_column(String(300))  # query or community that found it
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=POST_PENDING)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # worker token of a classify claim
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Issue 16 (migration 0002): extra columns of an imported CSV (region, plan, ...), kept and exported.
    segments: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    classification: Mapped[Classification | None] = relationship(back_populates="post", uselist=False)


class PostRevision(Base):
    """An earlier version of a post, kept when a crawl or import brings it changed (migration 0010).

    ``seen_at`` is when that version was first fetched, ``replaced_at`` when the next one replaced it; the
    versions of a post tile time, so the one in force at a date is the first with ``replaced_at`` after it.
    The model's reading of that version (sentiment, need, evidence, embedding) is kept with it, so a
    backtest of the past reads the past (``store.revisions``).
    """

    __tablename__ = "post_revisions"
    __table_args__ = (Index("ix_post_revisions_post_replaced", "post_id", "replaced_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[float | None] = mapped_column(Float)
    version: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_version: Mapped[str | None] = mapped_column(String(100))
    sentiment: Mapped[str | None] = mapped_column(String(10))
    need_type: Mapped[str | None] = mapped_column(String(20))
    unmet_need: Mapped[bool | None] = mapped_column(Boolean)
    evidence: Mapped[str | None] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)


class PostProduct(Base):
    """Links a post to every product it names (community posts can name several)."""

    __tablename__ = "post_products"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)


class Classification(Base):
    """The classifier's reading of one post, with the model version that made it."""

    __tablename__ = "classifications"
    # Covering index for the comparison report: its joins never read the embedding-sized rows.
    __table_args__ = (
        Index("ix_classifications_report", "post_id", "sentiment", "need_type", "unmet_need", "top_job"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), unique=True)
    model_version: Mapped[str] = mapped_column(String(100))
    sentiment: Mapped[str] = mapped_column(String(10))
    sentiment_score: Mapped[float] = mapped_column(Float)
    need_type: Mapped[str] = mapped_column(String(20))
    need_score: Mapped[float] = mapped_column(Float)
    unmet_need: Mapped[bool] = mapped_column(Boolean)
    jobs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"job": id, "score": float}]
    top_job: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[str | None] = mapped_column(Text)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # float32, L2-normalised
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Hash of the product's jobs the job scores were computed against (issue 15: taxonomy versions).
    taxonomy: Mapped[str | None] = mapped_column(String(16))
    # Issue 26 (migration 0008): the step of the customer's process (job map) the post's evidence sits on.
    step: Mapped[str | None] = mapped_column(String(40), index=True)
    step_score: Mapped[float | None] = mapped_column(Float)
    # Issue 28 (migration 0020): each body sentence with its own sentiment, [{"text": str, "sentiment": str}]
    # (NULL: classified before 0020), and whether the post is mixed (clear complaint and clear praise: the post is
    # neutral while its sentences keep theirs).
    sentences: Mapped[list[Any] | None] = mapped_column(JSON)
    mixed: Mapped[bool | None] = mapped_column(Boolean)

    post: Mapped[Post] = relationship(back_populates="classification")


class Issue(Base):
    """A group of a product's unmet-need posts about the same thing, with its alerting state."""

    __tablename__ = "issues"
    __table_args__ = (Index("ix_issues_product_state", "product_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20))  # candidate|new|rising|ongoing|resolved|reopened
    need_type: Mapped[str | None] = mapped_column(String(20))
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    representative_post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    daily_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # "YYYY-MM-DD" -> n
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Issue 14 (migration 0004): an issue merged into another keeps its row and redirects here.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"), index=True)
    # Issue 27 (migration 0014): the theme shared with other products' issues about the same need; who set it
    # by hand (NULL: the automatic pass chose it, and may change it; set: people decided, the pass keeps it).
    theme_id: Mapped[int | None] = mapped_column(Integer, index=True)  # themes.id (no FK: see migration 0014)
    theme_by: Mapped[str | None] = mapped_column(String(200))


class Theme(Base):
    """A need shared by issues of several products ("set reminders"), found from centroids or set by hand."""

    __tablename__ = "themes"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    curated_by: Mapped[str | None] = mapped_column(String(200))  # made or named by a person: label kept
    curated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IssuePost(Base):
    """Membership of a post in an issue."""

    __tablename__ = "issue_posts"
    # Issue 29 (migration 0009): the issues of given posts (rollup upkeep, a report's part days).
    __table_args__ = (Index("ix_issue_posts_post_id", "post_id"),)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    similarity: Mapped[float] = mapped_column(Float, default=0.0)


class DetectorState(Base):
    """Per-product bookkeeping of the incremental detector (last post seen, cursors)."""

    __tablename__ = "detector_state"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    last_post_id: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Alert(Base):
    """Outbox row: written in the detect transaction, keyed so an event alerts exactly once."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # e.g. "issue:12:new"
    kind: Mapped[str] = mapped_column(String(30))  # issue_new|issue_rising|issue_reopened|issue_watch|rating_drop|...
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the figures that made it fire
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One alert (or report) to one target; retried until sent, never sent twice."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "target"),
        Index("ix_deliveries_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(300))  # "mailto:a@b" | "webhook:name" | "digest:..."
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str] = mapped_column(String(300))
    eml_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Report(Base):
    """A competitor comparison that was produced, with where it went."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    products: Mapped[list[Any]] = mapped_column(JSON, default=list)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    format: Mapped[str] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobRun(Base):
    """One run of a scheduled job: result or error, for ``voxpop status``."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job_id", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))  # ok|error|missed
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------- curation (issue 15)


class LabelCorrection(Base):
    """One human change of one field of a post's labels: who, when, the value before and after.

    Never an overwrite of the model's classification; :class:`PostLabel` holds the labels in force.
    """

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_product_created", "product_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(20))  # sentiment | need_type | jobs | step
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    old_source: Mapped[str] = mapped_column(String(10))  # human | model | none: where the old value came from
    by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PostLabel(Base):
    """The human labels in force for a post (NULL: the model's value stands; jobs ``[]``: no job)."""

    __tablename__ = "post_labels"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    sentiment: Mapped[str | None] = mapped_column(String(10))
    need_type: Mapped[str | None] = mapped_column(String(20))
    unmet_need: Mapped[bool | None] = mapped_column(Boolean)  # follows need_type (set by whoever writes it)
    jobs: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)  # job ids
    top_job: Mapped[str | None] = mapped_column(String(100))  # jobs[0] when jobs were corrected
    step: Mapped[str | None] = mapped_column(String(40))  # the job map's step (classify.steps), when corrected
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class IssueCuration(Base):
    """What people decided about an issue; detection reads it (``store.curation.load_curation``)."""

    __tablename__ = "issue_curations"
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str | None] = mapped_column(Text)  # the human label; detection never relabels it
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    muted_until: Mapped[date | None] = mapped_column(Date)  # muted with no date: until unmuted
    merged_into: Mapped[int | None] = mapped_column(Integer)  # surviving issue of a merge
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # resolved by hand
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class PostExclusion(Base):
    """A post people took out of issues: detection never puts it into an issue again.

    ``reason`` is ``not_an_issue`` (``voxpop issue not-an-issue``) or ``split`` (split off an issue in a
    group smaller than an issue's minimum, so left unassigned). ``issue_id`` is the issue it left (a plain
    integer, like the audit log's).
    """

    __tablename__ = "post_exclusions"
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    issue_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(200))


class AuditLog(Base):
    """One human (or scheduled) action: label, rename, merge, split, mute, resolve, reopen, learn.

    Issue and post ids are plain integers, not foreign keys, so the history outlives what it names.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_issue", "issue_id"), Index("ix_audit_log_post", "post_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[int | None] = mapped_column(Integer)
    issue_id: Mapped[int | None] = mapped_column(Integer)
    post_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProductModel(Base):
    """A product's own layer over the shared classifier, trained from its corrections (``voxpop learn``)."""

    __tablename__ = "product_models"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(200))  # "<shared version>+<slug>.<digest>"
    base_version: Mapped[str] = mapped_column(String(100))
    weights: Mapped[bytes] = mapped_column(LargeBinary)  # an .npz of the product's heads
    corrections: Mapped[int] = mapped_column(Integer)  # corrections it was trained on
    last_correction_id: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)



class ProductModelLog(Base):
    """Every layer ``voxpop learn`` applied (or an ``undo``), with the predictions it changed (issue 28).

    ``weights`` is None for "no layer" (the shared model). ``changes`` lists ``{"post_id", "from", "to"}`` with
    the sentiment and need-type readings before and after, so ``voxpop learn --undo`` can put them back;
    ``previous_id`` is the log row of the layer it replaced (None: the shared model).
    """

    __tablename__ = "product_model_log"
    __table_args__ = (Index("ix_product_model_log_product", "product_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))  # learn | undo
    model_version: Mapped[str | None] = mapped_column(String(200))
    base_version: Mapped[str] = mapped_column(String(100))
    weights: Mapped[bytes | None] = mapped_column(LargeBinary)
    corrections: Mapped[int] = mapped_column(Integer)
    last_correction_id: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[int | None] = mapped_column(Integer)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)


# Dashboard (issue 18): the newest posts first, across products (``/posts`` without a product filter).
Index("ix_posts_created", Post.created_at)
# Status (issue 29): posts held per configured source, counted from this index instead of the table.
Index("ix_posts_source_id", Post.source_id)


# ---------------------------------------------------------------- rollups (issue 29)


class RollupDay(Base):
    """Sums of posts per product, UTC day (and Monday-to-Sunday week), source, country, version, language
    and labels in force; compact rows with fewer dimensions (``span`` 107 volume per week, 201/207/230 labels
    per day, week and month; see ``store.rollups``) serve the report's cubes.

    Kept exact by ``store.rollups`` in the transaction of every change; ``''`` stands for a missing
    value (and 0001-01-01 for a post without a date) so the key never holds NULL.
    """

    __tablename__ = "rollup_days"
    # SQLite: the primary key is the table's own b-tree (no rowid), so a range of days is one ordered scan.
    __table_args__ = {"sqlite_with_rowid": False}
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    span: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1: one day; 7: the week from ``day``; store.rollups
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    country: Mapped[str] = mapped_column(String(10), primary_key=True)
    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    language: Mapped[str] = mapped_column(String(10), primary_key=True)
    skipped: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1: posts set aside by classify
    sentiment: Mapped[str] = mapped_column(String(10), primary_key=True)  # '': no labels in force
    need_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    unmet: Mapped[int] = mapped_column(Integer, primary_key=True)
    top_job: Mapped[str] = mapped_column(String(100), primary_key=True)
    step: Mapped[str] = mapped_column(String(40), primary_key=True)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    rating_n: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[float] = mapped_column(Float, default=0.0)
    rating_sq: Mapped[float] = mapped_column(Float, default=0.0)
    star1: Mapped[int] = mapped_column(Integer, default=0)
    star2: Mapped[int] = mapped_column(Integer, default=0)
    star3: Mapped[int] = mapped_column(Integer, default=0)
    star4: Mapped[int] = mapped_column(Integer, default=0)
    star5: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    latest: Mapped[int] = mapped_column(Integer, default=0)  # newest post id of a labelled unmet-need cell


class RollupIssueDay(Base):
    """Member posts of an issue per UTC day of the post, and (migration 0022) per what the report reads of
    them: the step and top job and sentiment in force, whether the post is classified, its app version.
    ``''`` stands for a missing value, as in ``rollup_days``."""

    __tablename__ = "rollup_issue_days"
    __table_args__ = {"sqlite_with_rowid": False}
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    step: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    top_job: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    sentiment: Mapped[str] = mapped_column(String(10), primary_key=True, default="")
    version: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    classified: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    posts: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(Base):
    """When the rollups were last rebuilt or verified (``name``: rebuilt | verified) and what that found."""

    __tablename__ = "rollup_state"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
