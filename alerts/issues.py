"""Store-facing side of detection: load state and new posts, run the detector, save issues and the outbox.

``run_detect`` does everything for one product inside ONE transaction: issues, memberships, the
detector's cursor and the outbox rows (alerts plus one delivery row per target). A crash before the
commit leaves nothing; after it, the alerts exist exactly once (their ``dedupe_key`` is unique).

The cursor is a pair (``last_post_id``, ``as_of``): the posts already processed are exactly those
with ``id <= last_post_id`` and ``created_at <= as_of``. A run moving the pair forward reads only the
difference, so its cost grows with new posts, not with history; posts that arrive late (a higher id
but an old date) are still counted once. ``last_post_id`` stops before the product's first post that
is not classified yet, so nothing is skipped while the classifier catches up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerts.clustering import Cluster, PostRow
from alerts.curated import BacktestCuration, curate_clusters, hold_muted, keep_out, keeps_label, new_evidence_since
from alerts.day_tests import day_range
from alerts.detect import ACTIVE_STATES, MEMBERS_KEPT, Detector, cosine, end_of_day, replay
from alerts.events import Event
from alerts.labels import PhraseEncoder, label_issue, labeller_with, name_words, pick_sentences, rank_members
from alerts.params import Params
from alerts.policy import MERGED
from alerts.product_tests import totals_from_json, totals_to_json
from alerts.release_watch import WatchSpec, dominant
from alerts.transitions import WATCH_KIND
from store import rollups
from store.curation import CurationState, effective_columns, excluded_posts, load_curation
from store.db import Store
from store.issue_figures import post_counts, snapshot_figures, snapshot_versions
from store.models import (
    POST_CLASSIFIED,
    POST_CLASSIFYING,
    POST_PENDING,
    Alert,
    Classification,
    DetectorState,
    Issue,
    IssuePost,
    Post,
    PostLabel,
    PostProduct,
    Product,
)
from store.revisions import as_of_view
from voxpop.config import Config
from voxpop.core.errors import JobError

LABEL_SAMPLE = MEMBERS_KEPT  # recent members an issue is (re)labelled from, as in the backtest
BACKGROUND_SAMPLE = 1000  # recent product posts the label is contrasted with
QUOTES = 3
CHART_DAYS = 28


def _job_error(message: str) -> Exception:
    return JobError(message)


@dataclass
class DetectReport:
    """What one detect run did."""

    product: str
    as_of: str
    posts: int = 0
    unmet: int = 0
    issues_created: int = 0
    issues_updated: int = 0
    candidates_dropped: int = 0
    issues_merged: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    deliveries: int = 0
    seconds: float = 0.0
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the CLI."""
        return asdict(self)


def params_for(config: Config) -> Params:
    """Detector parameters from the ``[alerts]`` config."""
    return Params.from_spec(config.alerts)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def get_product_row(session: Session, slug: str) -> Product:
    """The product with ``slug`` or a JobError naming it."""
    product = session.scalar(select(Product).where(Product.slug == slug))
    if product is None:
        raise _job_error(f"unknown product: {slug} (add it to voxpop.toml or import into it)")
    return product


def _post_query(product_id: int, as_of: datetime | None = None) -> Any:
    labels = effective_columns()  # a person's correction wins over the model's labels
    if as_of is not None:
        return _post_query_as_of(product_id, as_of)
    return (
        select(Post.id, Post.created_at, Post.rating, Post.text, Post.version, Post.url, Classification.embedding,
               labels["unmet_need"], labels["need_type"], labels["sentiment"], Classification.evidence)
        .join(PostProduct, and_(PostProduct.post_id == Post.id, PostProduct.product_id == product_id))
        .join(Classification, Classification.post_id == Post.id)
        .outerjoin(PostLabel, PostLabel.post_id == Post.id)
        .where(Post.status == POST_CLASSIFIED, Post.created_at.is_not(None))
    )


def _post_query_as_of(product_id: int, as_of: datetime) -> Any:
    """:func:`_post_query` reading each post as it stood at ``as_of`` (``store.revisions``): an edited post's
    earlier text, rating and the model's reading of it; a person's correction still wins."""
    v = as_of_view(as_of)
    r = v.revision
    query = (
        select(Post.id, Post.created_at, v.read(Post.rating, "rating"), v.read(Post.text, "text"),
               v.read(Post.version, "version"), Post.url, v.pick(r.embedding, Classification.embedding, "embedding"),
               case((PostLabel.unmet_need.is_not(None), PostLabel.unmet_need),
                    else_=v.value(r.unmet_need, Classification.unmet_need)).label("unmet_need"),
               func.coalesce(PostLabel.need_type, v.value(r.need_type, Classification.need_type)).label("need_type"),
               func.coalesce(PostLabel.sentiment, v.value(r.sentiment, Classification.sentiment)).label("sentiment"),
               v.pick(r.evidence, Classification.evidence, "evidence"))
        .join(PostProduct, and_(PostProduct.post_id == Post.id, PostProduct.product_id == product_id))
        .outerjoin(Classification, Classification.post_id == Post.id)
        .outerjoin(PostLabel, PostLabel.post_id == Post.id)
    )
    return v.join(query).where(Post.created_at.is_not(None), or_(
        and_(~v.used, Post.status == POST_CLASSIFIED, Classification.id.is_not(None)),
        and_(v.used, r.sentiment.is_not(None))))


def _rows(result: Any) -> list[PostRow]:
    out = []
    for r in result:
        emb = np.frombuffer(r.embedding, dtype=np.float32) if r.embedding else None
        out.append(PostRow(id=r.id, created_at=_utc(r.created_at), embedding=emb, unmet=bool(r.unmet_need),
                           need_type=r.need_type, rating=r.rating, negative=r.sentiment == "negative",
                           text=r.text or "", version=r.version, evidence=r.evidence or "", url=r.url))
    out.sort(key=lambda p: (p.created_at, p.id))  # in Python: an SQL sort would drag every embedding along
    return out


def load_posts(session: Session, product_id: int, *, until: datetime, after_id: int = 0, upto_id: int | None = None,
               seen_until: datetime | None = None) -> list[PostRow]:
    """The classified posts of a product not yet processed by the cursor (``after_id``, ``seen_until``)."""
    fresh = and_(Post.id > after_id, Post.created_at <= until)
    if upto_id is not None:
        fresh = and_(fresh, Post.id <= upto_id)
    cond = fresh
    if seen_until is not None and after_id:
        cond = or_(fresh, and_(Post.id <= after_id, Post.created_at > seen_until, Post.created_at <= until))
    return _rows(session.execute(_post_query(product_id).where(cond)))


def _cursor_limit(session: Session, product_id: int) -> int:
    """The highest post id below the product's first unclassified post."""
    linked = select(PostProduct.post_id).where(PostProduct.product_id == product_id)
    waiting = session.scalar(select(func.min(Post.id)).where(Post.id.in_(linked),
                                                             Post.status.in_((POST_PENDING, POST_CLASSIFYING))))
    if waiting is not None:
        return int(waiting) - 1
    return int(session.scalar(select(func.max(Post.id)).where(Post.id.in_(linked))) or 0)


def _cluster_from_row(issue: Issue) -> Cluster:
    stats = dict(issue.stats or {})
    mean = np.frombuffer(issue.centroid, dtype=np.float32).astype(np.float64) if issue.centroid else np.zeros(1)
    last_alert = stats.get("last_alert_at")
    return Cluster(
        key=issue.id, total=mean * max(1, issue.size), size=issue.size, state=issue.state,
        first_seen=issue.first_seen, last_seen=issue.last_seen, daily=dict(issue.daily_counts or {}),
        need_types=dict(stats.get("need_types", {})), versions=dict(stats.get("versions", {})),
        negative=int(stats.get("negative", 0)), label=issue.label or "", keywords=list(issue.keywords or []),
        labelled_size=int(stats.get("labelled_size", 0)), state_changed_at=issue.state_changed_at,
        last_alert_at=datetime.fromisoformat(last_alert) if last_alert else None,
        alert_counts=dict(stats.get("alert_counts", {})), version_alerts=list(stats.get("version_alerts", [])),
        watched=list(stats.get("watched", [])), last_version=stats.get("last_version"),
        merged_into=issue.merged_into, stats={"last_test": stats.get("last_test"),
                                              "resolved_since": stats.get("resolved_since")},
    )


def _issue_values(cluster: Cluster) -> dict[str, Any]:
    need = max(cluster.need_types.items(), key=lambda kv: (kv[1], kv[0]))[0] if cluster.need_types else None
    return {
        "label": cluster.label, "keywords": list(cluster.keywords), "state": cluster.state, "need_type": need,
        "centroid": cluster.centroid.astype(np.float32).tobytes(), "size": cluster.size,
        "first_seen": cluster.first_seen, "last_seen": cluster.last_seen, "state_changed_at": cluster.state_changed_at,
        "daily_counts": dict(sorted(cluster.daily.items())),
        "stats": {"need_types": cluster.need_types, "versions": cluster.versions, "negative": cluster.negative,
                  "labelled_size": cluster.labelled_size, "alert_counts": cluster.alert_counts,
                  "last_alert_at": cluster.last_alert_at.isoformat() if cluster.last_alert_at else None,
                  "version_alerts": list(cluster.version_alerts), "watched": list(cluster.watched),
                  "last_version": cluster.last_version,
                  "last_test": _jsonable((cluster.stats or {}).get("last_test")),
                  "resolved_since": (cluster.stats or {}).get("resolved_since")},
        "merged_into": cluster.merged_into,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _lock_state(session: Session, product_id: int, now: datetime) -> DetectorState:
    """Fetch the product's detector state, holding the write lock (serialises concurrent runs)."""
    session.execute(_insert(session)(DetectorState).values(product_id=product_id, last_post_id=0, state={},
                                                           updated_at=now).on_conflict_do_nothing())
    session.execute(update(DetectorState).where(DetectorState.product_id == product_id).values(updated_at=now))
    state = session.scalar(select(DetectorState).where(DetectorState.product_id == product_id).with_for_update())
    assert state is not None
    return state


def run_detect(store: Store, config: Config, product_slug: str, as_of: datetime | None = None) -> DetectReport:
    """Detect issues of one product from the posts it has not seen yet and queue alerts, in one transaction.

    Every event the detector records (alert count, cool-down, version) is queued in the outbox in the
    same transaction, and nothing else is recorded: a recorded alert is always queued, and a crash
    before the commit leaves neither.

    Args:
        store: the database.
        config: thresholds (``[alerts]``), recipients and webhooks.
        product_slug: the product.
        as_of: detect as if it were this moment (only posts created at or before it); default now. A
            date-only value (midnight) means the end of that day.
    """
    started = time.perf_counter()
    as_of = _as_of(as_of)
    params = params_for(config)
    report = DetectReport(product=product_slug, as_of=as_of.isoformat())
    with store.transaction() as session:
        product = get_product_row(session, product_slug)
        state = _lock_state(session, product.id, datetime.now(UTC))
        kept = dict(state.state or {})
        seen_until = datetime.fromisoformat(kept["as_of"]) if kept.get("as_of") else None
        if seen_until is not None and as_of < seen_until:
            report.note = f"already detected up to {seen_until.isoformat()}; nothing to do for an earlier as_of"
            return report
        limit = _cursor_limit(session, product.id)
        posts = load_posts(session, product.id, until=as_of, after_id=state.last_post_id, upto_id=limit,
                           seen_until=seen_until)
        posts = keep_out(posts, excluded_posts(session, product.id))  # people took them out of issues
        report.posts, report.unmet = len(posts), sum(1 for p in posts if p.unmet)
        curation = load_curation(session, product.id)
        clusters = curate_clusters((_cluster_from_row(i) for i in session.scalars(
            select(Issue).where(Issue.product_id == product.id, Issue.state != MERGED))), curation)
        detector = Detector(params, clusters, totals_from_json(kept.get("totals")), kept.get("product"))
        last_eval = date.fromisoformat(kept["last_evaluated"]) if kept.get("last_evaluated") else None
        events, evaluated = detector.run(posts, as_of, last_evaluated=last_eval)
        events = hold_muted(detector, events, curation)  # muted issues are tracked, never alerted
        detector.prune_totals(evaluated)
        ids = _save_clusters(session, product.id, detector, report)
        embed = _phrase_encoder(config, detector)
        _relabel(session, product, detector, ids, as_of, {e.key for e in events if e.key is not None}, embed,
                 curation)
        for event in events:
            _queue_alert(session, config, product, detector, ids, event, as_of, report, curation)
        state.last_post_id = max(state.last_post_id, limit)
        state.state = {"as_of": max(as_of, seen_until or as_of).isoformat(), "last_evaluated": evaluated.isoformat(),
                       "totals": totals_to_json(detector.totals), "product": _jsonable(detector.product_state)}
        state.updated_at = datetime.now(UTC)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


_ENCODERS: dict[str | None, PhraseEncoder | None] = {}


def _phrase_encoder(config: Config, detector: Detector | None = None) -> PhraseEncoder | None:
    """Our encoder for label phrases (loaded once per process), or None when it cannot serve these issues."""
    model_dir = getattr(getattr(config, "classify", None), "model_dir", None)
    if model_dir not in _ENCODERS:
        try:
            from classify.encoder import Encoder

            encoder = Encoder(model_dir)
            _ENCODERS[model_dir] = PhraseEncoder(encoder.encode, dim=encoder.dim)
        except (ImportError, OSError, ValueError):  # no model here: labels fall back to TF-IDF scoring
            _ENCODERS[model_dir] = None
    found = _ENCODERS[model_dir]
    if found is not None and detector is not None and detector.dim not in (0, found.dim):
        return None  # the stored embeddings come from another encoder
    return found


def _as_of(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    value = _utc(value)
    if value.time() == datetime.min.time():
        value = value + timedelta(days=1) - timedelta(seconds=1)
    return value


def _save_clusters(session: Session, product_id: int, detector: Detector, report: DetectReport) -> dict[int, int]:
    """Write new and changed clusters, merges and new members; returns cluster key -> issue id."""
    ids = {k: k for k in detector.clusters if k > 0}
    fresh = [c for c in detector.clusters.values() if c.key < 0]
    rows = [Issue(product_id=product_id, **_issue_values(c)) for c in fresh]
    if rows:
        session.add_all(rows)
        session.flush()
    for cluster, row in zip(fresh, rows, strict=True):
        ids[cluster.key] = row.id
    report.issues_created = sum(1 for c in fresh if c.state != "candidate")
    touched: set[int] = set()  # issues whose members changed: their per-day rollups are recomputed
    # Merged-away issues keep their row as a redirect to the survivor; their posts move to it.
    for gone_key, _ in detector.merged:
        gone = detector.folded[gone_key]
        if gone_key < 0:
            continue
        survivor = ids[_survivor(detector, gone_key)]
        gone.merged_into = survivor
        session.execute(update(IssuePost).where(IssuePost.issue_id == gone_key).values(issue_id=survivor))
        touched.update((gone_key, survivor))
        session.execute(update(Issue).where(Issue.id == gone_key).values(state=MERGED, merged_into=survivor,
                                                                         state_changed_at=datetime.now(UTC)))
    report.issues_merged = len(detector.merged)
    changed = [c for c in detector.clusters.values() if c.key > 0 and c.dirty]
    if changed:
        session.execute(update(Issue), [{"id": c.key, **_issue_values(c)} for c in changed])
    report.issues_updated = sum(1 for c in changed if c.state != "candidate")
    members = [{"issue_id": ids[c.key], "post_id": pid, "similarity": sim}
               for c in detector.clusters.values() for pid, sim in c.added]
    for start in range(0, len(members), 5000):
        session.execute(_insert(session)(IssuePost).on_conflict_do_nothing(), members[start:start + 5000])
    touched.update(int(m["issue_id"]) for m in members)
    rollups.refresh_issues(session, touched - set(detector.removed))
    if detector.removed:
        for start in range(0, len(detector.removed), 500):
            session.execute(delete(Issue).where(Issue.id.in_(detector.removed[start:start + 500])))
        report.candidates_dropped = len(detector.removed)
    for cluster in detector.clusters.values():
        cluster.added.clear()
        cluster.dirty = False
    return ids


def _survivor(detector: Detector, key: int) -> int:
    """The live cluster a merged-away key now lives in (following chains of merges in this run)."""
    seen = {key}
    while key not in detector.clusters and key in detector.folded:
        nxt = detector.folded[key].merged_into
        if nxt is None or nxt in seen:
            break
        seen.add(nxt)
        key = nxt
    return key


def survivor_id(session: Session, issue_id: int) -> int:
    """The issue that holds ``issue_id``'s posts now: itself, or where its merges redirect."""
    seen = {issue_id}
    while True:
        target = session.scalar(select(Issue.merged_into).where(Issue.id == issue_id))
        if target is None or target in seen:
            return issue_id
        seen.add(target)
        issue_id = target


def _member_posts(session: Session, issue_id: int, limit: int, until: datetime | None = None) -> list[Any]:
    query = (select(Post.id, Post.text, Post.url, Post.created_at, Post.rating, Post.version,
                    Classification.embedding, Classification.evidence)
             .join(IssuePost, IssuePost.post_id == Post.id)
             .outerjoin(Classification, Classification.post_id == Post.id)
             .where(IssuePost.issue_id == issue_id))
    if until is not None:
        query = query.where(Post.created_at <= until)
    return list(session.execute(query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)))


def _background(session: Session, product_id: int, until: datetime) -> list[str]:
    return [t for (t,) in session.execute(
        select(Post.text).join(PostProduct, and_(PostProduct.post_id == Post.id, PostProduct.product_id == product_id))
        .where(Post.created_at <= until).order_by(Post.created_at.desc()).limit(BACKGROUND_SAMPLE))]


def _sentence(member: Any) -> str:
    return (member.evidence or member.text or "").strip()


def _embedding(member: Any) -> np.ndarray | None:
    return np.frombuffer(member.embedding, dtype=np.float32) if member.embedding else None


def _relabel(session: Session, product: Product, detector: Detector, ids: dict[int, int], as_of: datetime,
             alerting: set[int], embed: PhraseEncoder | None, curation: CurationState | None = None) -> None:
    """Label issues that are new or doubled, and pick their representative post (nearest the centroid).

    The label comes from the same members, chosen the same way, as in a backtest (the most recent
    ``LABEL_SAMPLE`` members, their sentences nearest the centroid), so both name an issue alike. A label a
    person gave is kept.
    """
    due = [c for c in detector.clusters.values() if c.label_due or (c.key in alerting)]
    if not due:
        return
    background = _background(session, product.id, as_of)
    product_words = name_words(product.name)
    changes = []
    for cluster in due:
        issue_id = ids[cluster.key]
        members = _member_posts(session, issue_id, LABEL_SAMPLE)
        pairs = [(_sentence(m), _embedding(m)) for m in reversed(members)]  # oldest first, as kept in memory
        human = curation is not None and keeps_label(curation, issue_id)
        if (cluster.label_due or not cluster.label) and not human:
            sentences = pick_sentences(pairs, cluster.centroid)
            problem = dominant(cluster.need_types) == "problem"
            cluster.label, cluster.keywords = label_issue(sentences, cluster.centroid, background, embed,
                                                          product_words, problem=problem)
            cluster.labelled_size = cluster.size
        order = rank_members(pairs, cluster.centroid)
        rep = list(reversed(members))[order[0]] if order else None
        values = _issue_values(cluster)
        changes.append({"id": issue_id, "label": values["label"], "keywords": values["keywords"],
                        "stats": values["stats"], "representative_post_id": rep.id if rep is not None else None})
    session.execute(update(Issue), changes)


def quotes_for(members: Sequence[Any], centroid: np.ndarray, k: int = QUOTES,
               per_post_urls: set[str] | None = None) -> list[dict[str, Any]]:
    """Distinct whole sentences from distinct posts, most representative first.

    A member's sentence is its classifier evidence (a whole sentence of the post). Links go to the
    post itself; a URL that several posts share (an app's review page) is not a link to a post and is
    left out (``per_post_urls`` lists the URLs that belong to one post only; None trusts every URL).
    """
    pairs = [(_sentence(m), _embedding(m)) for m in members]
    seen_text: set[str] = set()
    seen_post: set[int] = set()
    out: list[dict[str, Any]] = []
    for i in rank_members(pairs, centroid):
        m = members[i]
        text = pairs[i][0]
        key = " ".join(text.lower().split())
        if not key or key in seen_text or m.id in seen_post:
            continue
        seen_text.add(key)
        seen_post.add(m.id)
        url = m.url if m.url and (per_post_urls is None or m.url in per_post_urls) else None
        out.append({"post_id": m.id, "text": text[:400], "full_text": (m.text or "")[:600], "url": url,
                    "date": _utc(m.created_at).date().isoformat() if m.created_at else None, "rating": m.rating,
                    "version": m.version})
        if len(out) >= k:
            break
    return out


def _per_post_urls(session: Session, urls: Sequence[str]) -> set[str]:
    """Those of ``urls`` that exactly one post has (a post's own page, not a shared listing)."""
    wanted = sorted({u for u in urls if u})
    if not wanted:
        return set()
    rows = session.execute(select(Post.url, func.count()).where(Post.url.in_(wanted)).group_by(Post.url))
    return {u for u, n in rows if n == 1}


def _competitors(session: Session, product: Product, cluster: Cluster, threshold: float) -> list[dict[str, Any]]:
    """Other products' active issues whose centroid is close to this one's."""
    rows = session.execute(
        select(Issue.id, Issue.label, Issue.size, Issue.state, Issue.centroid, Product.slug, Product.name, Product.own)
        .join(Product, Product.id == Issue.product_id)
        .where(Issue.product_id != product.id, Issue.state.in_(ACTIVE_STATES), Issue.centroid.is_not(None))
    ).all()
    centre = cluster.centroid
    out = []
    for r in rows:
        other = np.frombuffer(r.centroid, dtype=np.float32)
        if other.shape != centre.shape:
            continue
        sim = cosine(centre, other.astype(np.float64))
        if sim >= threshold:
            out.append({"product": r.slug, "name": r.name, "own": bool(r.own), "issue_id": r.id, "label": r.label,
                        "size": r.size, "state": r.state, "similarity": round(sim, 3)})
    out.sort(key=lambda c: -c["similarity"])
    others = session.scalar(select(func.count()).select_from(Product).where(Product.id != product.id)) or 0
    return [{"others": int(others)}, *out[:5]]


def alert_as_of(event: Event, as_of: datetime) -> datetime:
    """The one moment an alert is about: the end of its event's day (or the run's moment, on that day)."""
    return min(as_of, end_of_day(event.day))


def _issue_payload(session: Session, config: Config, product: Product, cluster: Cluster, issue_id: int,
                   event: Event, as_of: datetime, since: datetime | None = None) -> dict[str, Any]:
    """The alert's content, every figure as of the event's day: counts, trend, header size, quotes."""
    moment = alert_as_of(event, as_of)
    members = _member_posts(session, issue_id, LABEL_SAMPLE, until=moment)
    if since is not None:  # reopened after a person resolved it: quote the posts that brought it back
        members = [m for m in members if m.created_at is not None and _utc(m.created_at) > since] or members
    quotes = quotes_for(members, cluster.centroid, QUOTES, _per_post_urls(session, [m.url for m in members]))
    days = day_range(event.day, CHART_DAYS)
    competitors = _competitors(session, product, cluster, config.alerts.match_similarity)
    # One set of numbers (issue 27): every figure of the issue as of the alert's moment, from its member
    # posts, stored with the alert and shown with that date; the live figures live on the dashboard.
    snapshot = snapshot_figures(session, issue_id, moment)
    size = snapshot.posts or cluster.size_on(event.day)
    return {
        "product": {"slug": product.slug, "name": product.name, "own": bool(product.own)},
        "issue": {"id": issue_id, "label": cluster.label, "keywords": list(cluster.keywords)[:10],
                  "state": event.state, "size": size,
                  "first_seen": cluster.first_seen.isoformat() if cluster.first_seen else None,
                  "need_type": _issue_values(cluster)["need_type"], "version": event.version,
                  "emerged_in": event.version if event.kind != WATCH_KIND and (event.state == "new" or (
                      event.figures.get("scope") == "version")) else None,
                  "negative": snapshot.negative if snapshot.posts else None,
                  "negative_share": round(snapshot.negative / snapshot.posts, 3) if snapshot.posts else None},
        "snapshot": {**snapshot.as_dict(), "moment": moment.isoformat()},
        "figures": _jsonable(event.figures),
        "daily": [{"day": d, "count": cluster.daily.get(d, 0)} for d in days],
        "quotes": quotes,
        "versions": snapshot_versions(session, issue_id, moment),
        "competitors": competitors[1:], "other_products": competitors[0]["others"],
        "as_of": moment.isoformat(), "day": event.day.isoformat(),
    }


def _product_payload(product: Product, detector: Detector, event: Event, as_of: datetime) -> dict[str, Any]:
    days = day_range(event.day, CHART_DAYS)
    daily = []
    for d in days:
        t = detector.totals.get(d)
        daily.append({"day": d, "count": t.n if t else 0,
                      "rating": round(t.rating_sum / t.rating_n, 2) if t and t.rating_n else None,
                      "negative_share": round(t.negative / t.classified, 3) if t and t.classified else None})
    return {"product": {"slug": product.slug, "name": product.name, "own": bool(product.own)},
            "figures": _jsonable(event.figures), "daily": daily, "as_of": alert_as_of(event, as_of).isoformat(),
            "day": event.day.isoformat()}


def dedupe_key(product_id: int, event: Event, issue_id: int | None, cluster: Cluster | None) -> str:
    """The outbox key of an event: an issue's n-th entry into a state, or a product kind on a day."""
    if issue_id is not None and cluster is not None and event.state:
        return f"issue:{issue_id}:{event.state}:{cluster.alert_counts.get(event.state, 1)}"
    return f"product:{product_id}:{event.kind}:{event.day.isoformat()}"


def _queue_alert(session: Session, config: Config, product: Product, detector: Detector, ids: dict[int, int],
                 event: Event, as_of: datetime, report: DetectReport, curation: CurationState | None = None) -> None:
    from alerts.deliver import queue_deliveries

    cluster = detector.clusters.get(event.key) if event.key is not None else None
    issue_id = ids.get(event.key) if event.key is not None else None
    if cluster is not None and issue_id is not None:
        since = new_evidence_since(curation, issue_id, event) if curation is not None else None
        payload = _issue_payload(session, config, product, cluster, issue_id, event, as_of, since)
    else:
        payload = _product_payload(product, detector, event, as_of)
    key = dedupe_key(product.id, event, issue_id, cluster)
    now = datetime.now(UTC)
    inserted = session.execute(
        _insert(session)(Alert).values(dedupe_key=key, kind=event.kind, product_id=product.id, issue_id=issue_id,
                                       payload=payload, created_at=now)
        .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Alert.id)
    ).scalar()
    if inserted is None:
        return
    alert = session.get(Alert, inserted)
    assert alert is not None
    report.deliveries += queue_deliveries(session, config, alert, product.slug)
    label = payload.get("issue", {}).get("label") if isinstance(payload.get("issue"), dict) else None
    report.alerts.append({"id": inserted, "kind": event.kind, "dedupe_key": key, "label": label,
                          "version": event.version, "day": event.day.isoformat(),
                          "p_value": payload["figures"].get("p_value")})


# ---------------------------------------------------------------- backtest and listing


def backtest(store: Store, config: Config, product_slug: str, start: datetime | date,
             end: datetime | date) -> list[dict[str, Any]]:
    """Replay a product's history day by day and return the alerts each day would have fired.

    Reads only (nothing is written, nothing sent): the detector runs in memory from the product's first
    post, and each day sees only posts created up to its end.
    """
    d0 = start.date() if isinstance(start, datetime) else start
    d1 = end.date() if isinstance(end, datetime) else end
    if d1 < d0:
        raise _job_error(f"backtest: --to {d1} is before --from {d0}")
    with store.sessions() as session:
        product = get_product_row(session, product_slug)
        until = datetime(d1.year, d1.month, d1.day, 23, 59, 59, tzinfo=UTC)
        # Posts as they stood at the end of the range: a review edited since is read in its earlier version.
        posts = _rows(session.execute(_post_query(product.id, as_of=until).where(Post.created_at <= until)))
        curate = _backtest_curation(session, product.id)
        excluded = excluded_posts(session, product.id)
        product_words = name_words(product.name)
        session.rollback()
    embed = _phrase_encoder(config)
    if embed is not None and posts and posts[0].embedding is not None and posts[0].embedding.shape[0] != embed.dim:
        embed = None
    posts = keep_out(posts, excluded)
    return replay(posts, params_for(config), d0, d1, labeller=labeller_with(embed, product_words), curate=curate,
                  watch=WatchSpec.from_spec(config.alerts))


def _backtest_curation(session: Session, product_id: int) -> BacktestCuration | None:
    """People's decisions as the replay applies them (None when nothing was curated)."""
    curation = load_curation(session, product_id)
    if not curation.issues:
        return None
    membership = {pid: iid for pid, iid in session.execute(
        select(IssuePost.post_id, IssuePost.issue_id).join(Issue, Issue.id == IssuePost.issue_id)
        .where(Issue.product_id == product_id))}
    return BacktestCuration(curation, membership)


def _curation_fields(curation: CurationState, issue_id: int) -> dict[str, Any]:
    decision = curation.issues.get(issue_id)
    merged_from = sorted(i for i, d in curation.issues.items() if d.merged_into == issue_id)
    return {
        "label_source": "human" if decision and decision.label else "model",
        "muted": bool(decision and decision.muted),
        "muted_until": decision.muted_until.isoformat() if decision and decision.muted and decision.muted_until
        else None,
        "resolved_by_hand": bool(decision and decision.resolved_at),
        "merged_from": merged_from,
    }


def list_issues(store: Store, product_slug: str, *, include_resolved: bool = True) -> list[dict[str, Any]]:
    """A product's issues (not candidates), most recently active first."""
    with store.sessions() as session:
        product = get_product_row(session, product_slug)
        curation = load_curation(session, product.id)
        query = select(Issue).where(Issue.product_id == product.id, Issue.state.not_in(("candidate", MERGED)))
        if not include_resolved:
            query = query.where(Issue.state != "resolved")
        issues = list(session.scalars(query.order_by(Issue.last_seen.desc(), Issue.id)))
        sizes = post_counts(session, [i.id for i in issues])  # the count every surface shows
        out = []
        for issue in issues:
            examples = [pid for (pid,) in session.execute(
                select(IssuePost.post_id).join(Post, Post.id == IssuePost.post_id)
                .where(IssuePost.issue_id == issue.id).order_by(Post.created_at.desc()).limit(5))]
            if issue.representative_post_id and issue.representative_post_id not in examples:
                examples = [issue.representative_post_id, *examples[:4]]
            last_test = (issue.stats or {}).get("last_test") or {}
            out.append({
                "id": issue.id, "label": issue.label, "keywords": list(issue.keywords or []), "state": issue.state,
                "need_type": issue.need_type, "size": sizes.get(issue.id, issue.size),
                "first_seen": issue.first_seen.isoformat() if issue.first_seen else None,
                "last_seen": issue.last_seen.isoformat() if issue.last_seen else None,
                "theme_id": issue.theme_id,
                "daily_counts": dict(issue.daily_counts or {}), "representative_post_id": issue.representative_post_id,
                "example_post_ids": examples, "p_value": last_test.get("p_value"),
                **_curation_fields(curation, issue.id),
            })
        return out
