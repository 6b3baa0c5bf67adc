"""Read queries behind the dashboard pages and the JSON API (no writes; callers own the session).

Everything returned is plain JSON-able data, so a page and its ``/api`` twin show the same figures.
Figures that need the whole period (the comparison) come from :mod:`alerts.compare`; the rest are small
indexed queries sized for a store of a million posts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from alerts.render import safe_url
from store.curation import MERGED, effective_columns
from store.issue_figures import live_figures, post_counts
from store.models import (
    Alert,
    Classification,
    CrawlRun,
    Delivery,
    Issue,
    IssueCuration,
    IssuePost,
    Post,
    PostLabel,
    Product,
    Source,
)
from store.revisions import revisions_of
from store.search import match_clause
from voxpop.core.ids import YEAR_MAX, YEAR_MIN, check_day, id_or_none
from voxpop.report.comparison import same_problem
from voxpop.report.coverage import crawl_health, source_coverage
from voxpop.report.rollup_queries import period_totals
from voxpop.report.trend import day_series, rise
from voxpop.web.marks import change_marks, issue_notes, rating_sd

ACTIVE_STATES = ("new", "rising", "ongoing", "reopened")
STATE_ORDER = {"new": 0, "rising": 1, "reopened": 2, "ongoing": 3, "resolved": 4, "candidate": 5, MERGED: 6}
HIDDEN_STATES = ("candidate", MERGED)  # listed only when asked for by name
ISSUE_STATES = tuple(STATE_ORDER)
ISSUE_SORTS = ("size", "rise", "date")
POST_SORTS = ("newest", "oldest", "rating", "rating_desc")
SENTIMENTS = ("positive", "neutral", "negative")
NEED_TYPES = ("problem", "feature_request", "question", "praise", "other")
PAGE_SIZE = 50
TOTAL_CAP = 10_000  # /posts counts its matches up to this many (a count of a million rows is slow)
SPARK_DAYS = 28
QUOTES = 8
PARALLEL_QUERIES = 3


class QueryError(ValueError):
    """A filter value that cannot be used (unknown product, bad date): shown to the user as one line."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _clip(value: str | None, limit: int) -> str:
    text = " ".join((value or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_day(value: str | None, name: str) -> datetime | None:
    """``YYYY-MM-DD`` as midnight UTC; None for empty; a QueryError naming the field otherwise."""
    if not value:
        return None
    try:
        d = check_day(date.fromisoformat(value.strip()))
    except ValueError:
        raise QueryError(f"{name}: expected a date like 2026-01-31 (years {YEAR_MIN} to {YEAR_MAX}), "
                         f"got {value[:40]!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def products(session: Session) -> list[dict[str, Any]]:
    """Every product, ours first."""
    rows = session.execute(select(Product.id, Product.slug, Product.name, Product.own)
                           .order_by(Product.own.desc(), Product.slug)).all()
    return [{"id": r.id, "slug": r.slug, "name": r.name, "own": bool(r.own)} for r in rows]


def _product_id(session: Session, slug: str | None) -> int | None:
    if not slug:
        return None
    pid = session.scalar(select(Product.id).where(Product.slug == slug))
    if pid is None:
        raise QueryError(f"product: no product {slug[:60]!r} in the store")
    return int(pid)


# -- overview --------------------------------------------------------------------------------


def data_version(session: Session) -> tuple[Any, ...]:
    """A cheap stamp that changes when posts, labels, issues, crawls or human actions change (max ids, small tables).

    Reclassification in place does not change it; cached pages also expire after a short time for that.
    """
    from store.models import AuditLog

    return tuple(session.execute(select(
        select(func.max(Post.id)).scalar_subquery(), select(func.max(Classification.id)).scalar_subquery(),
        select(func.count()).select_from(PostLabel).scalar_subquery(),
        select(func.max(AuditLog.id)).scalar_subquery(), select(func.max(CrawlRun.id)).scalar_subquery(),
        select(func.max(Issue.id)).scalar_subquery(), select(func.max(Issue.state_changed_at)).scalar_subquery(),
        select(func.sum(Issue.size)).scalar_subquery())).one())


def overview(session: Session, *, days: int = 7, until: datetime | None = None) -> dict[str, Any]:
    """Per product: volume, mean rating and sentiment now and in the previous period, top issues, crawl health."""
    until = until or utcnow()
    since = until - timedelta(days=days)
    before = since - timedelta(days=days)
    prods = products(session)
    ids = [p["id"] for p in prods]
    # Sums from the rollups (whole days) and the posts of the partial days at the ends (issue 29).
    periods = {"now": period_totals(session, ids, since, until), "before": period_totals(session, ids, before, since)}
    figures: dict[int, dict[str, dict[str, Any]]] = {}
    for p in prods:
        figures[p["id"]] = {}
        for key, totals in periods.items():
            t = totals.get(p["id"]) or {}
            r_n, classified = int(t.get("r_n", 0)), int(t.get("classified", 0))
            sentiment = {s: int(t.get(s, 0)) for s in ("negative", "neutral", "positive") if t.get(s)}
            figures[p["id"]][key] = {
                "volume": int(t.get("posts", 0)), "rating": round(t["r_sum"] / r_n, 2) if r_n else None,
                "ratings": r_n, "rating_sd": rating_sd(t["r_sum"] / r_n if r_n else None,
                                                       t["r_sq"] / r_n if r_n else None, r_n),
                "sentiment": sentiment, "classified": classified,
                "negative_share": round(sentiment.get("negative", 0) / classified, 3) if classified else None,
                "positive_share": round(sentiment.get("positive", 0) / classified, 3) if classified else None}
    top = _top_issues(session, [p["id"] for p in prods], until.date())
    notes = issue_notes(session, [i["id"] for issues in top.values() for i in issues])
    for issues in top.values():
        for i in issues:
            i["notes"] = notes.get(i["id"], {})
    health = crawl_health(session)
    out = []
    for p in prods:
        now, prev = figures[p["id"]]["now"], figures[p["id"]]["before"]
        out.append({**{k: p[k] for k in ("slug", "name", "own")}, "now": now, "before": prev,
                    "change": {
                        "volume": now["volume"] - prev["volume"],
                        "rating": _diff(now["rating"], prev["rating"]),
                        "negative_share": _diff(now["negative_share"], prev["negative_share"]),
                        "positive_share": _diff(now["positive_share"], prev["positive_share"])},
                    "marks": change_marks(now, prev),
                    "issues": top.get(p["id"], []), "crawl": health.get(p["slug"], [])})
    return {"since": since.isoformat(), "until": until.isoformat(), "days": days, "products": out}


def execute_parallel(session: Session, statements: Sequence[Any], threads: int = PARALLEL_QUERIES) -> list[list[Any]]:
    """The rows of independent read queries, each on its own connection of the session's engine at once.

    Both drivers release the GIL while the database works. A bind that is not an engine, an in-memory
    SQLite database or ``threads=1`` runs them one after another on the session's connection.
    """
    bind = session.get_bind()
    if threads <= 1 or not isinstance(bind, Engine) or bind.url.database in (None, "", ":memory:"):
        return [list(session.execute(statement)) for statement in statements]

    def run(statement: Any) -> list[Any]:
        with bind.connect() as connection:
            return list(connection.execute(statement))

    with ThreadPoolExecutor(max_workers=min(threads, len(statements)), thread_name_prefix="web-sql") as pool:
        return list(pool.map(run, statements))


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def _issue_columns() -> tuple[Any, ...]:
    return (Issue.id, Issue.product_id, Issue.label, Issue.keywords, Issue.state, Issue.need_type, Issue.size,
            Issue.first_seen, Issue.last_seen, Issue.daily_counts, Issue.stats, Issue.representative_post_id)


def _top_issues(session: Session, product_ids: Sequence[int], today: date, per_product: int = 5
                ) -> dict[int, list[dict[str, Any]]]:
    order = case({s: i for s, i in STATE_ORDER.items()}, value=Issue.state, else_=9)
    rows = session.execute(select(*_issue_columns()).where(Issue.product_id.in_(product_ids),
                                                           Issue.state.in_(ACTIVE_STATES))
                           .order_by(Issue.product_id, order, Issue.size.desc(), Issue.id)).all()
    chosen: dict[int, list[Any]] = {}
    for r in rows:
        bucket = chosen.setdefault(r.product_id, [])
        if len(bucket) < per_product:
            bucket.append(r)
    quotes = _quotes(session, [r.representative_post_id for b in chosen.values() for r in b
                               if r.representative_post_id])
    sizes = post_counts(session, [r.id for b in chosen.values() for r in b])
    return {pid: [_issue_summary(r, today, quotes.get(r.representative_post_id), size=sizes.get(r.id)) for r in b]
            for pid, b in chosen.items()}


def _top_version(stats: Mapping[str, Any] | None) -> str | None:
    versions = (stats or {}).get("versions") or {}
    if not isinstance(versions, dict) or not versions:
        return None
    return str(max(versions.items(), key=lambda kv: (kv[1], kv[0]))[0])


def _issue_summary(r: Any, today: date, quote: dict[str, Any] | None = None,
                   product: dict[str, Any] | None = None, size: int | None = None) -> dict[str, Any]:
    counts = r.daily_counts or {}
    out = {"id": r.id, "label": r.label, "keywords": list(r.keywords or []), "state": r.state,
           "need_type": r.need_type, "size": r.size if size is None else size, "first_seen": _iso(r.first_seen),
           "last_seen": _iso(r.last_seen),
           "rise": rise(counts, today), "spark": [n for _, n in day_series(counts, today, SPARK_DAYS)],
           "version": _top_version(r.stats), "quote": quote}
    if product is not None:
        out["product"] = product
    return out


def _quotes(session: Session, post_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return {}
    rows = session.execute(select(Post.id, Post.text, Post.url, Post.created_at, Post.rating, Classification.evidence)
                           .outerjoin(Classification, Classification.post_id == Post.id)
                           .where(Post.id.in_(ids))).all()
    return {r.id: {"post_id": r.id, "text": _clip(r.evidence or r.text, 300), "url": safe_url(r.url),
                   "date": r.created_at.date().isoformat() if r.created_at else None, "rating": r.rating}
            for r in rows}


# -- issues ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFilters:
    """The ``/issues`` query string."""

    product: str = ""
    state: str = ""
    source: str = ""
    version: str = ""
    sort: str = "size"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> IssueFilters:
        f = cls(**{k.name: (params.get(k.name) or "").strip()[:200] for k in fields(cls) if params.get(k.name)})
        if f.state and f.state not in (*ISSUE_STATES, "active"):
            raise QueryError(f"state: one of active, {', '.join(ISSUE_STATES)}")
        if f.sort not in ISSUE_SORTS:
            raise QueryError(f"sort: one of {', '.join(ISSUE_SORTS)}")
        return f

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def list_issues(session: Session, filters: IssueFilters, *, today: date | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
    """Issues (not candidates unless asked) matching ``filters``, sorted by size, rise or last activity."""
    today = today or utcnow().date()
    query = select(*_issue_columns(), Product.slug, Product.name, Product.own).join(
        Product, Product.id == Issue.product_id)
    pid = _product_id(session, filters.product)
    if pid is not None:
        query = query.where(Issue.product_id == pid)
    if filters.state == "active":
        query = query.where(Issue.state.in_(ACTIVE_STATES))
    elif filters.state:
        query = query.where(Issue.state == filters.state)
    else:
        query = query.where(Issue.state.not_in(HIDDEN_STATES))
    member = select(IssuePost.post_id).join(Post, Post.id == IssuePost.post_id).where(IssuePost.issue_id == Issue.id)
    if filters.source:
        query = query.where(exists(member.where(source_matches(filters.source))))
    if filters.version:
        query = query.where(exists(member.where(Post.version == filters.version)))
    rows = session.execute(query).all()
    quotes = _quotes(session, [r.representative_post_id for r in rows if r.representative_post_id])
    sizes = post_counts(session, [r.id for r in rows])  # the one live count (store/issue_figures.py)
    out = [_issue_summary(r, today, quotes.get(r.representative_post_id),
                          {"slug": r.slug, "name": r.name, "own": bool(r.own)}, size=sizes.get(r.id)) for r in rows]
    notes = issue_notes(session, [i["id"] for i in out])
    for i in out:
        i["notes"] = notes.get(i["id"], {})
    if filters.sort == "rise":
        out.sort(key=lambda i: (-i["rise"], -i["size"], i["id"]))
    elif filters.sort == "date":
        out.sort(key=lambda i: (i["last_seen"] or "", i["id"]), reverse=True)
    else:
        out.sort(key=lambda i: (-i["size"], i["id"]))
    return out[:limit]


def issues_emptied_by(session: Session, filters: IssueFilters) -> dict[str, Any] | None:
    """Which filter left no issues: product, state, source and version applied in that order."""
    from dataclasses import replace

    names = [n for n in ("product", "state", "source", "version") if getattr(filters, n)]
    before = len(list_issues(session, IssueFilters()))
    applied: dict[str, str] = {}
    for name in names:
        applied[name] = getattr(filters, name)
        left = len(list_issues(session, replace(IssueFilters(), **applied)))
        if left == 0:
            return {"filter": name, "label": name, "value": applied[name], "before": before, "first": len(applied) == 1}
        before = left
    return None


def issue_detail(session: Session, issue_id: int, *, today: date | None = None) -> dict[str, Any] | None:
    """One issue with its trend, the figures that made it fire, quotes, versions, competitors and alerts."""
    issue = session.get(Issue, issue_id)
    if issue is None:
        return None
    product = session.get(Product, issue.product_id)
    assert product is not None
    end = (issue.last_seen.date() if issue.last_seen else None) or today or utcnow().date()
    counts = issue.daily_counts or {}
    alerts = session.execute(select(Alert.id, Alert.kind, Alert.created_at, Alert.payload)
                             .where(Alert.issue_id == issue.id).order_by(Alert.id.desc())).all()
    last_test = (issue.stats or {}).get("last_test") or {}
    fired = dict(alerts[0].payload.get("figures") or {}) if alerts else dict(last_test)
    members = session.execute(
        select(Post.id, Post.text, Post.url, Post.created_at, Post.rating, Post.version, Post.source,
               Classification.evidence)
        .join(IssuePost, IssuePost.post_id == Post.id)
        .outerjoin(Classification, Classification.post_id == Post.id)
        .where(IssuePost.issue_id == issue.id).order_by(IssuePost.similarity.desc(), Post.id).limit(200)).all()
    quotes, seen = [], set()
    for m in members:
        text = _clip(m.evidence or m.text, 2000)  # the whole quote here; the overview clips it to two lines
        key = text.lower()
        if not text or key in seen:
            continue
        seen.add(key)
        quotes.append({"post_id": m.id, "text": text, "url": safe_url(m.url), "source": m.source,
                       "date": m.created_at.date().isoformat() if m.created_at else None, "rating": m.rating,
                       "version": m.version})
        if len(quotes) >= QUOTES:
            break
    versions = session.execute(
        select(Post.version, func.count()).join(IssuePost, IssuePost.post_id == Post.id)
        .where(IssuePost.issue_id == issue.id, Post.version.is_not(None))
        .group_by(Post.version).order_by(func.count().desc(), Post.version).limit(10)).all()
    mine = {"centroid": issue.centroid, "keywords": issue.keywords, "label": issue.label}
    competitors = []
    for other in session.execute(
            select(Issue.id, Issue.label, Issue.keywords, Issue.centroid, Issue.size, Issue.state, Product.slug,
                   Product.name).join(Product, Product.id == Issue.product_id)
            .where(Issue.product_id != issue.product_id, Issue.state.in_(ACTIVE_STATES))).all():
        if same_problem(mine, {"centroid": other.centroid, "keywords": other.keywords, "label": other.label}):
            competitors.append({"issue_id": other.id, "label": other.label, "size": other.size, "state": other.state,
                                "product": {"slug": other.slug, "name": other.name}})
    live = live_figures(session, [issue.id])[issue.id]
    snapshots = [alert_snapshot(a.id, a.kind, a.created_at, a.payload or {}) for a in alerts]
    decided = session.get(IssueCuration, issue.id)
    curation = {"muted": bool(decided.muted), "muted_until": decided.muted_until.isoformat()
                if decided.muted_until else None, "merged_into": decided.merged_into,
                "human_label": decided.label} if decided else None
    return {
        "curation": curation,
        "id": issue.id, "label": issue.label, "keywords": list(issue.keywords or []), "state": issue.state,
        "need_type": issue.need_type, "size": live.posts, "first_seen": _iso(issue.first_seen),
        "last_seen": _iso(issue.last_seen), "state_changed_at": _iso(issue.state_changed_at),
        "live": live.as_dict(), "snapshots": snapshots,
        "product": {"slug": product.slug, "name": product.name, "own": bool(product.own)},
        "daily": [{"day": d, "count": n} for d, n in day_series(counts, end, 56)],
        "rise": rise(counts, end), "figures": fired, "last_test": last_test,
        "alert_kind": alerts[0].kind if alerts else None,
        "alerts": [{"id": a.id, "kind": a.kind, "created_at": _iso(a.created_at)} for a in alerts],
        "quotes": quotes, "versions": [{"version": v, "count": int(n)} for v, n in versions],
        "competitors": competitors[:10],
    }


def alert_snapshot(alert_id: int, kind: str, created_at: datetime | None, payload: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """One alert's figures as they were on its day (the snapshot stored with it), for the issue page."""
    from alerts.render import as_of_day, why

    issue = payload.get("issue") or {}
    snap = payload.get("snapshot") or {}
    figures = dict(payload.get("figures") or {})
    posts = snap.get("posts", issue.get("size"))
    negative = snap.get("negative", issue.get("negative"))
    return {"alert_id": alert_id, "kind": kind, "created_at": _iso(created_at), "as_of": as_of_day(payload),
            "posts": posts, "negative": negative, "stored_snapshot": bool(snap),
            "why": why(kind, figures) if figures else []}


# -- posts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostFilters:
    """The ``/posts`` query string: full-text words plus filters; every field is optional."""

    q: str = ""
    product: str = ""
    source: str = ""
    country: str = ""
    version: str = ""
    rating_min: str = ""
    rating_max: str = ""
    language: str = ""
    sentiment: str = ""
    need: str = ""
    job: str = ""
    step: str = ""
    since: str = ""
    until: str = ""
    label_source: str = ""
    issue: str = ""
    sort: str = "newest"
    page: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> PostFilters:
        f = cls(**{k.name: (params.get(k.name) or "").strip()[:300] for k in fields(cls) if params.get(k.name)})
        if f.sentiment and f.sentiment not in SENTIMENTS:
            raise QueryError(f"sentiment: one of {', '.join(SENTIMENTS)}")
        if f.need and f.need not in NEED_TYPES:
            raise QueryError(f"need: one of {', '.join(NEED_TYPES)}")
        if f.sort not in POST_SORTS:
            raise QueryError(f"sort: one of {', '.join(POST_SORTS)}")
        if f.label_source and f.label_source not in ("human", "model"):
            raise QueryError("label_source: human or model")
        for name in ("rating_min", "rating_max"):
            value = getattr(f, name)
            if value and not _is_number(value, 1, 5):
                raise QueryError(f"{name}: a number from 1 to 5")
        for name in ("page", "issue"):
            value = getattr(f, name)
            if value and id_or_none(value) is None:
                raise QueryError(f"{name}: a positive whole number")
        parse_day(f.since, "since")
        parse_day(f.until, "until")
        return f

    def as_params(self, **override: str) -> dict[str, str]:
        values = {**asdict(self), **override}
        return {k: v for k, v in values.items() if v and not (k == "sort" and v == "newest")}

    @property
    def page_number(self) -> int:
        return int(self.page) if self.page else 1


def _is_number(value: str, lo: float, hi: float) -> bool:
    try:
        return lo <= float(value) <= hi
    except ValueError:
        return False


def search_posts(session: Session, filters: PostFilters, *, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of posts matching ``filters`` (full text and every filter), newest first by default.

    Labels are the ones in force (a person's correction wins over the model, ``store.curation``); each row
    says which it shows in ``label_source`` (human, model, or None when not classified yet).
    """
    cls = Classification
    labels = effective_columns()
    sentiment_col, need_col, job_col = labels["sentiment"], labels["need_type"], labels["top_job"]
    label_source = case((PostLabel.post_id.is_not(None), "human"), (cls.id.is_not(None), "model"), else_=None)
    query = (select(Post.id, Post.source, Post.url, Post.author, Post.title, Post.text, Post.rating, Post.created_at,
                    Post.version, Post.language, Post.found_by, Post.status, Product.slug.label("product"),
                    Product.name.label("product_name"), sentiment_col, need_col, job_col, cls.evidence,
                    labels["step"], cls.model_version, label_source.label("label_source"), cls.sentences, cls.mixed)
             .join(Product, Product.id == Post.product_id)
             .outerjoin(cls, cls.post_id == Post.id)
             .outerjoin(PostLabel, PostLabel.post_id == Post.id))
    # Words last: the full-text probe then runs after the indexed and label filters narrowed the rows.
    named = post_conditions(session, filters)
    conditions = [cond for name, cond in named if name != "q"] + [cond for name, cond in named if name == "q"]
    if conditions:
        query = query.where(and_(*conditions))
    order = {"newest": (Post.created_at.desc(), Post.id.desc()), "oldest": (Post.created_at.asc(), Post.id.asc()),
             "rating": (Post.rating.asc(), Post.created_at.desc(), Post.id.desc()),
             "rating_desc": (Post.rating.desc(), Post.created_at.desc(), Post.id.desc())}[filters.sort]
    offset = (filters.page_number - 1) * page_size
    rows = session.execute(query.order_by(*order).limit(page_size + 1).offset(offset)).all()
    posts = [_post_row(r) for r in rows[:page_size]]
    earlier = revisions_of(session, [p["id"] for p in posts])  # an edited post shows its earlier versions
    for post in posts:
        post["revisions"] = earlier.get(post["id"], [])
    _with_issues_and_jobs(session, posts)
    # Exact when this page holds the last match; else the page says "more than N" and the browser asks
    # count_posts for the total (a count over a million posts costs seconds, the page must not wait for it).
    total = len(rows) + offset if len(rows) <= page_size else None
    emptied = emptied_by(session, filters) if not posts and filters.page_number == 1 else None
    return {"posts": posts, "page": filters.page_number, "page_size": page_size, "more": len(rows) > page_size,
            "total": total, "more_than": offset + page_size if total is None else None, "emptied_by": emptied}


def count_posts(session: Session, filters: PostFilters) -> dict[str, Any]:
    """How many posts match ``filters``, counted up to ``TOTAL_CAP`` (``capped`` says there are more)."""
    query = (select(Post.id).join(Product, Product.id == Post.product_id)
             .outerjoin(Classification, Classification.post_id == Post.id)
             .outerjoin(PostLabel, PostLabel.post_id == Post.id))
    conditions = [cond for _name, cond in post_conditions(session, filters, counting=True)]
    if conditions:
        query = query.where(and_(*conditions))
    counted = int(session.scalar(select(func.count()).select_from(query.limit(TOTAL_CAP + 1).subquery())) or 0)
    return {"total": min(counted, TOTAL_CAP), "capped": counted > TOTAL_CAP}


FILTER_NAMES = {"q": "words", "product": "product", "source": "source", "country": "country", "version": "version",
                "language": "language", "rating_min": "rating from", "rating_max": "rating to",
                "sentiment": "sentiment", "need": "need", "job": "job", "step": "step", "since": "from", "until": "to",
                "label_source": "labels", "issue": "issue"}


def source_matches(name: str) -> Any:
    """Posts of a source given by its configured name (``forum``) or by its spider (``discourse``)."""
    return or_(Post.source == name, Post.source_id.in_(select(Source.id).where(Source.name == name)))


def post_conditions(session: Session, filters: PostFilters, *, counting: bool = False) -> list[tuple[str, Any]]:
    """The WHERE conditions of ``filters``, each with the name of the filter it comes from, in form order.

    ``counting``: for a query that visits every match (a count), full-text words list their matches.
    """
    cls = Classification
    conditions: list[tuple[str, Any]] = []
    # With a label filter the probe names the label tables' post id (the same id), so SQLite probes only the
    # rows those filters kept (filter first, then probe).
    labelled = bool(filters.sentiment or filters.need or filters.job or filters.step or filters.label_source)
    row_id = func.coalesce(PostLabel.post_id, cls.post_id, Post.id) if labelled and not counting else None
    match = match_clause(session, filters.q, row_id, probe=not counting)
    if match is not None:
        conditions.append(("q", match))
    pid = _product_id(session, filters.product)
    if pid is not None:
        conditions.append(("product", Post.product_id == pid))
    if filters.source:
        conditions.append(("source", source_matches(filters.source)))
    if filters.country:
        cc = filters.country.lower()
        conditions.append(("country", or_(Post.found_by.like(f"%:{cc}"), Post.raw["country"].as_string() == cc)))
    if filters.version:
        conditions.append(("version", Post.version == filters.version))
    if filters.language:
        conditions.append(("language", Post.language == filters.language))
    if filters.rating_min:
        conditions.append(("rating_min", Post.rating >= float(filters.rating_min)))
    if filters.rating_max:
        conditions.append(("rating_max", Post.rating <= float(filters.rating_max)))
    if filters.sentiment:
        conditions.append(("sentiment", func.coalesce(PostLabel.sentiment, cls.sentiment) == filters.sentiment))
    if filters.need:
        conditions.append(("need", func.coalesce(PostLabel.need_type, cls.need_type) == filters.need))
    if filters.job:
        conditions.append(("job", case((PostLabel.jobs.is_not(None), PostLabel.top_job), else_=cls.top_job)
                           == filters.job))
    since, until = parse_day(filters.since, "since"), parse_day(filters.until, "until")
    if since:
        conditions.append(("since", Post.created_at >= since))
    if until:
        conditions.append(("until", Post.created_at < until + timedelta(days=1)))
    if filters.label_source == "human":
        conditions.append(("label_source", PostLabel.post_id.is_not(None)))
    elif filters.label_source == "model":
        conditions.append(("label_source", and_(cls.id.is_not(None), PostLabel.post_id.is_(None))))
    if filters.step:
        conditions.append(("step", func.coalesce(PostLabel.step, cls.step) == filters.step))  # a person's wins
    if filters.issue:
        conditions.append(("issue", Post.id.in_(select(IssuePost.post_id)
                                                .where(IssuePost.issue_id == int(filters.issue)))))
    return conditions


def emptied_by(session: Session, filters: PostFilters) -> dict[str, Any] | None:
    """Which filter left no posts: the filters are applied in form order and the first that empties is named.

    Each step counts at most ``TOTAL_CAP`` posts, so a huge store answers as fast as a small one.
    """
    named = post_conditions(session, filters, counting=True)
    if not named:
        return None
    base = (select(Post.id).outerjoin(Classification, Classification.post_id == Post.id)
            .outerjoin(PostLabel, PostLabel.post_id == Post.id))

    def count(*conditions: Any) -> int:
        query = base.where(and_(*conditions)) if conditions else base
        return int(session.scalar(select(func.count()).select_from(query.limit(TOTAL_CAP + 1).subquery())) or 0)

    before = count()
    applied: list[Any] = []
    for name, condition in named:
        applied.append(condition)
        left = count(*applied)
        if left == 0:
            shown = f"more than {TOTAL_CAP:,}" if before > TOTAL_CAP else str(before)
            return {"filter": name, "label": FILTER_NAMES.get(name, name), "value": getattr(filters, name),
                    "before": shown, "first": len(applied) == 1}
        before = left
    return None


def headline_of(title: str | None, text: str | None, limit: int = 140) -> str:
    """A post's title, else its first sentence; cut only between words (with …) when longer than ``limit``."""
    line = " ".join((title or "").split())
    if not line:
        flat = " ".join((text or "").split())
        found = re.match(r"(.+?[.!?])(\s|$)", flat)
        line = found.group(1) if found else flat
    if len(line) <= limit:
        return line
    cut = line[:limit + 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return (cut if cut else line[:limit]) + "…"


def _with_issues_and_jobs(session: Session, posts: list[dict[str, Any]]) -> None:
    """Each post's issues (badges) and the jobs in force (a person's list wins over the model's)."""
    ids = [p["id"] for p in posts]
    if not ids:
        return
    issues: dict[int, list[dict[str, Any]]] = {}
    for post_id, issue_id, label, state in session.execute(
            select(IssuePost.post_id, Issue.id, Issue.label, Issue.state).join(Issue, Issue.id == IssuePost.issue_id)
            .where(IssuePost.post_id.in_(ids), Issue.state.not_in(HIDDEN_STATES)).order_by(Issue.id)):
        issues.setdefault(post_id, []).append({"id": issue_id, "label": label, "state": state})
    human = {pid: jobs for pid, jobs in session.execute(
        select(PostLabel.post_id, PostLabel.jobs).where(PostLabel.post_id.in_(ids), PostLabel.jobs.is_not(None)))}
    model = {pid: jobs for pid, jobs in session.execute(
        select(Classification.post_id, Classification.jobs).where(Classification.post_id.in_(ids)))}
    for p in posts:
        p["issues"] = issues.get(p["id"], [])
        raw = human[p["id"]] if p["id"] in human else model.get(p["id"]) or []
        p["jobs"] = [j["job"] if isinstance(j, dict) else str(j) for j in raw]
        p["headline"] = headline_of(p["title"], p["text"])
        text = " ".join((p["text"] or "").split())
        # The text under the headline: all of it under a title, the rest of it under its own first sentence.
        p["rest"] = text if p["title"] else (text[len(p["headline"]):].strip() if text.startswith(p["headline"])
                                             else text)


def _post_row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "product": r.product, "product_name": r.product_name, "source": r.source,
            "url": safe_url(r.url), "author": r.author, "title": r.title, "text": r.text, "rating": r.rating,
            "created_at": _iso(r.created_at), "version": r.version, "language": r.language, "found_by": r.found_by,
            "status": r.status, "sentiment": r.sentiment, "need_type": r.need_type, "top_job": r.top_job,
            "evidence": r.evidence, "step": r.step, "model_version": r.model_version,
            "label_source": r.label_source, "mixed": r.mixed, "sentences": _sentences(r.sentences)}


def _sentences(stored: Any) -> list[dict[str, str]]:
    """The stored per-sentence sentiments as ``[{"text", "sentiment"}]``; entries of another shape are left out."""
    if not isinstance(stored, list):
        return []
    return [{"text": str(s["text"]), "sentiment": str(s["sentiment"])} for s in stored
            if isinstance(s, dict) and "text" in s and "sentiment" in s]


def filter_choices(session: Session) -> dict[str, Any]:
    """Values for the filter drop-downs that are cheap to know (no scan of the posts)."""
    names = session.execute(select(Source.name, Source.spider).distinct()).all()
    return {"products": products(session), "sources": sorted({n for row in names for n in row if n}),
            "sentiments": SENTIMENTS, "needs": NEED_TYPES,
            "states": ISSUE_STATES, "issue_sorts": ISSUE_SORTS, "post_sorts": POST_SORTS}


# -- alerts and status -----------------------------------------------------------------------


def list_alerts(session: Session, *, status: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """Recent alerts with their deliveries (sent, pending, failed) and the rendered message."""
    from alerts.render import render_alert

    query = select(Alert, Product.slug).join(Product, Product.id == Alert.product_id).order_by(Alert.id.desc())
    if status:
        query = query.where(exists(select(Delivery.id).where(Delivery.alert_id == Alert.id, Delivery.status == status)))
    rows = session.execute(query.limit(limit)).all()
    ids = [a.id for a, _ in rows]
    deliveries: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for d in session.scalars(select(Delivery).where(Delivery.alert_id.in_(ids)).order_by(Delivery.id)):
            deliveries.setdefault(d.alert_id or 0, []).append(_delivery_row(d))
    out = []
    for alert, slug in rows:
        try:
            rendered = render_alert(alert.kind, alert.payload or {}, alert_id=alert.id)
            subject, body = rendered.subject, rendered.text
        except Exception as exc:  # noqa: BLE001 - one broken payload must not hide the others
            subject, body = f"(cannot render: {exc.__class__.__name__})", ""
        out.append({"id": alert.id, "kind": alert.kind, "product": slug, "issue_id": alert.issue_id,
                    "created_at": _iso(alert.created_at), "subject": subject, "text": body,
                    "deliveries": deliveries.get(alert.id, [])})
    return out


def _delivery_row(d: Delivery) -> dict[str, Any]:
    """One delivery with its retry status in words (sent, retrying at ..., gave up after N attempts)."""
    if d.status == "sent":
        retry = "sent"
    elif d.status == "failed":
        retry = f"gave up after {d.attempts} attempt{'s' if d.attempts != 1 else ''}"
    elif d.attempts:
        retry = f"{d.attempts} failed attempt{'s' if d.attempts != 1 else ''}; retrying" + (
            f" at {d.next_attempt_at.strftime('%Y-%m-%d %H:%M UTC')}" if d.next_attempt_at else "")
    else:
        retry = "waiting for the first try" if d.status == "pending" else d.status
    return {"target": d.target, "status": d.status, "attempts": d.attempts, "error": d.last_error,
            "sent_at": _iso(d.sent_at), "next_attempt_at": _iso(d.next_attempt_at), "retry": retry}


def list_report_mails(session: Session, *, status: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """Report mails that were queued, newest first, each with its deliveries and their retry status."""
    from store.models import Report

    query = select(Report).where(exists(select(Delivery.id).where(Delivery.report_id == Report.id)))
    if status:
        query = query.where(exists(select(Delivery.id).where(Delivery.report_id == Report.id,
                                                             Delivery.status == status)))
    reports = list(session.scalars(query.order_by(Report.id.desc()).limit(limit)))
    deliveries: dict[int, list[dict[str, Any]]] = {}
    if reports:
        for d in session.scalars(select(Delivery).where(Delivery.report_id.in_([r.id for r in reports]))
                                 .order_by(Delivery.id)):
            deliveries.setdefault(d.report_id or 0, []).append(_delivery_row(d))
    out = []
    for r in reports:
        mail = (r.summary or {}).get("mail") or {}
        subject = mail.get("subject") if isinstance(mail, dict) else None
        out.append({"id": r.id, "kind": "report", "products": list(r.products or []),
                    "period_start": _iso(r.period_start), "period_end": _iso(r.period_end),
                    "created_at": _iso(r.created_at), "subject": str(subject or f"Report #{r.id}"),
                    "text": str(mail.get("text") or "") if isinstance(mail, dict) else "",
                    "deliveries": deliveries.get(r.id, [])})
    return out


def coverage(session: Session) -> list[dict[str, Any]]:
    """Per source: its last crawl and the posts we hold against the total the site reported (when it reports one)."""
    return source_coverage(session)
