"""Emerging-issue detection over plain data: no database, no clock, no I/O.

A :class:`Detector` keeps a product's issues (clusters of unmet-need posts, each a running-mean
centroid of L2-normalised embeddings), the product's daily totals and its posts per app version.
Feeding it posts in time order and evaluating day by day yields :class:`Event` objects (an issue
became new, rose, reopened; the product's rating or sentiment dropped or its volume spiked). The same
code serves the incremental ``detect`` job (state loaded from and saved to the store) and the
in-memory backtest.

Which posts seed and join issues, and which clusters may alert, is decided in ``alerts.policy``; the
settings are ``alerts.params.Params``; what it reports is ``alerts.events.Event``; labels are
``alerts.labels``. Two families of tests run each day:

* day windows (``alerts.day_tests``): an issue's share of the product's posts in the window against its
  share in the baseline days (binomial upper tail, baseline share smoothed with half a pseudo-post so
  brand-new topics are tested against a small but non-zero share);
* release windows (``alerts.release_tests``, where posts carry an app version): an issue's share of the
  newest release's posts (pooled with small untested releases just before it) against its share in the
  releases before them ("emerged in v"), looked at once per doubling of the release's posts, with a
  beta-binomial test whose spread is the swing of issue shares between those earlier releases.

Within each family the p-values of all clusters tested that day (or release look) are put through
Benjamini-Hochberg at ``fdr`` (``version_fdr``) by ``alerts.day_tests.discoveries``; a discovery must
also pass ``sensitivity`` (``version_sensitivity``) and ``min_count``. At most ``release_top`` issues
alert in one release; room they leave goes to watch notes (``issue_watch``): the release's strongest
non-significant rises, marked as such. Clusters that drift together are merged (the older issue keeps
its id; the other redirects to it).

The detector composes its parts, each usable alone: the online clustering (``alerts.clustering``), the
day tests (``alerts.day_tests``), the product-level tests (``alerts.product_tests``), the release tests
(``alerts.release_tests``), the room in a release and its watch notes (``alerts.watch_notes``) and the
state transitions (``alerts.transitions``). ``Params``, ``Event`` and the day tests are still importable
from here, as before they had modules of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from alerts.clustering import (  # noqa: F401 - re-exported: callers import them from here
    EMBED_DIM_UNKNOWN,
    Cluster,
    ClusterSet,
    PostRow,
    day_key,
    unit,
)
from alerts.day_tests import (  # noqa: F401 - re-exported
    PSEUDO_COUNT,
    day_range,
    day_test,
    discoveries,
)
from alerts.events import ISSUE_ALERT_KINDS, Event  # noqa: F401 - re-exported
from alerts.params import Params  # noqa: F401 - re-exported
from alerts.policy import Gate, OpenGate, may_seed
from alerts.product_tests import (  # noqa: F401 - re-exported: callers import them from here
    PRODUCT_KINDS,
    DayTotals,
    product_events,
    sum_days,
    totals_from_json,
    totals_to_json,
)
from alerts.release_tests import (  # noqa: F401 - re-exported
    MAX_POOLED,
    ReleaseWindow,
    current_release,
    release_rho,
    version_test,
)
from alerts.release_watch import ReplayWatch, WatchSpec, dominant
from alerts.transitions import (  # noqa: F401 - re-exported
    WATCH_KIND,
    alert_count_name,
    cooled,
    record,
    set_state,
    transition,
)
from alerts.watch_notes import (  # noqa: F401 - re-exported
    WATCH_MIN_LIFT,
    WATCH_QUIET_RELEASES,
    in_release_watch,
    top_of_release,
    watch_notes,
)
from voxpop.config import AlertSpec

ACTIVE_STATES = ("new", "rising", "ongoing", "reopened")
EMIT_GRACE_DAYS = 2  # a run still alerts what the last two days (not yet evaluated) brought
PARTIAL_DAY_FACTOR = 0.1  # sensitivity multiplier while the evaluated day is not over yet
MEMBERS_KEPT = 200  # recent members an in-memory cluster keeps for labelling (the store reads as many)

DEFAULT_WATCH = WatchSpec.from_spec(AlertSpec())

# ---------------------------------------------------------------- the detector


class Detector:
    """Incremental issue detection for one product.

    Args:
        params: thresholds and windows.
        clusters: issues and candidates kept from earlier runs (merged-away issues are left out).
        totals: the product's daily totals kept from earlier runs (day key -> :class:`DayTotals`).
        product_state: per-product bookkeeping (last alert per product-level kind, first day seen, posts
            per version with the day each version first appeared).
        keep_texts: recent members each cluster keeps in memory for labelling (0 in the store-backed job).
        gate: curation hooks (which clusters may take posts and alert); default :class:`OpenGate`.
    """

    def __init__(self, params: Params, clusters: Iterable[Cluster] = (),
                 totals: Mapping[str, DayTotals] | None = None, product_state: Mapping[str, Any] | None = None,
                 keep_texts: int = 0, gate: Gate | None = None) -> None:
        self.params = params
        self.gate: Gate = gate or OpenGate()
        self.issues = ClusterSet(clusters, join_similarity=params.join_similarity,
                                 merge_similarity=params.merge_similarity, min_count=params.min_count,
                                 keep_texts=keep_texts, gate=self.gate)
        self.totals: dict[str, DayTotals] = dict(totals or {})
        self.product_state: dict[str, Any] = dict(product_state or {})
        self._alpha = params.sensitivity

    # -- the clusters (owned by ``alerts.clustering.ClusterSet``) ------------------------------------

    @property
    def clusters(self) -> dict[int, Cluster]:
        """Live issues and candidates by key (merged-away ones are in :attr:`folded`)."""
        return self.issues.live

    @property
    def removed(self) -> list[int]:
        """Stored issues dropped (expired candidates)."""
        return self.issues.removed

    @property
    def merged(self) -> list[tuple[int, int]]:
        """(merged-away key, surviving key) pairs, in order."""
        return self.issues.merged

    @property
    def folded(self) -> dict[int, Cluster]:
        """Merged-away clusters by key (the store marks them merged)."""
        return self.issues.folded

    @property
    def keep_texts(self) -> int:
        """Recent members each cluster keeps in memory for labelling."""
        return self.issues.keep_texts

    @property
    def dim(self) -> int:
        """Length of the embeddings the clusters hold (0 while the detector has seen none).

        The store side compares it with the label encoder's output length: an encoder of another
        embedding space must not score phrases against these centroids.
        """
        return self.issues.dim

    # -- feeding posts -------------------------------------------------------------------------

    def _count_totals(self, post: PostRow) -> None:
        day = day_key(post.created_at)
        t = self.totals.get(day)
        if t is None:
            t = self.totals[day] = DayTotals()
        t.n += 1
        if post.rating is not None:
            t.rating_sum += post.rating
            t.rating_sq += post.rating * post.rating
            t.rating_n += 1
        t.negative += int(post.negative)
        t.classified += 1
        if post.version:
            versions = self.product_state.setdefault("versions", {})
            entry = versions.get(post.version)
            if entry is None:
                versions[post.version] = [day, 1]
            else:
                entry[1] += 1
                if day < entry[0]:
                    entry[0] = day

    def add_posts(self, posts: Sequence[PostRow]) -> None:
        """Count posts in the product's totals and put each unmet-need post into its nearest cluster.

        Only posts that ``alerts.policy.may_seed`` admits seed or join clusters (see
        :meth:`alerts.clustering.ClusterSet.add`).
        """
        for post in posts:
            self._count_totals(post)
        self.issues.add([p for p in posts if p.embedding is not None and p.embedding.size
                         and may_seed(p.need_type, p.sentence, p.unmet)])

    def merge_drifted(self) -> list[tuple[int, int]]:
        """Merge issues whose centroids drifted together (see :meth:`alerts.clustering.ClusterSet.merge_drifted`)."""
        return self.issues.merge_drifted()

    # -- versions ------------------------------------------------------------------------------

    def release_order(self) -> list[str]:
        """The product's versions in the order they first appeared (ties by name)."""
        versions = self.product_state.get("versions") or {}
        return sorted(versions, key=lambda v: (versions[v][0], _version_key(v)))

    def current_release(self, day: date) -> ReleaseWindow | None:
        """The newest release due a test as of ``day`` (see :func:`alerts.release_tests.current_release`)."""
        return current_release(self.product_state.get("versions") or {}, self.product_state.get("release_pools") or {},
                               self.release_order(), self.params, day)

    # -- evaluation ----------------------------------------------------------------------------

    def _history_days(self, day: date) -> int:
        first = self.product_state.get("first_day")
        if not first:
            known = [d for d, t in self.totals.items() if t.n]
            if not known:
                return 0
            first = min(known)
            self.product_state["first_day"] = first
        return (day - date.fromisoformat(first)).days

    def evaluate(self, day: date, *, now: datetime | None = None) -> list[Event]:
        """Update every cluster's state as of the end of ``day`` and return the alert-worthy events.

        Events are not recorded here: :meth:`record` does that for the ones that are actually queued.
        """
        p = self.params
        now = now or datetime.combine(day, datetime.max.time()).replace(microsecond=0)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        # A day still in progress is looked at again on every run: a stricter threshold keeps those
        # repeated looks from adding false alarms (a real burst clears it by orders of magnitude).
        partial = now < end_of_day(day)
        factor = PARTIAL_DAY_FACTOR if partial else 1.0
        self._alpha = p.sensitivity * factor
        self.merge_drifted()
        window = day_range(day, p.window_days)
        baseline = day_range(day - timedelta(days=p.window_days), p.baseline_days)
        tw, tb = sum_days(self.totals, window), sum_days(self.totals, baseline)
        warm = self._history_days(day) >= p.min_baseline_days and tb.n > 0
        release = self.current_release(day)
        if release is not None and not self._release_look_due(release, partial):
            release = None
        rho = self._release_rho(release.earlier) if release is not None else 0.0
        quiet_before = day - timedelta(days=p.resolve_after_days)
        expire_before = (day - timedelta(days=p.baseline_days)).isoformat()
        day_tests: dict[int, dict[str, Any]] = {}
        version_tests: dict[int, dict[str, Any]] = {}
        counts: dict[int, int] = {}
        for cluster in list(self.clusters.values()):
            last = day_key(cluster.last_seen) if cluster.last_seen else ""
            if cluster.state == "candidate" and cluster.size < p.min_count:
                if last < expire_before:
                    self.issues.drop(cluster)
                continue
            x = cluster.count(window)
            counts[cluster.key] = x
            if warm and x >= p.min_count:
                day_tests[cluster.key] = day_test(cluster, x, tw.n, baseline, tb.n, p)
            if release is not None:
                figures = self._version_test(cluster, release, rho=rho)
                if figures is not None:
                    version_tests[cluster.key] = figures
        day_sig = discoveries(day_tests, self._alpha, p.fdr, p.min_count)
        version_sig = discoveries(version_tests, p.version_sensitivity * factor, p.version_fdr, p.min_count)
        if release is not None:
            version_sig = top_of_release(version_sig, version_tests, release.version, self.clusters,
                                         p.release_top)
        events: list[Event] = []
        for key, x in counts.items():
            cluster = self.clusters[key]
            figures = day_tests.get(key)
            vfig = version_tests.get(key)
            by_version = key in version_sig and release is not None and release.version not in cluster.version_alerts
            significant = (key in day_sig or by_version) and self.gate.may_alert(cluster)
            if x == 0 and cluster.state in ("resolved", "candidate") and not by_version:
                if cluster.state == "candidate" and day_key(cluster.last_seen or now) < expire_before:
                    self.issues.drop(cluster)
                continue
            state = self._transition(cluster, now, x, significant, quiet_before)
            chosen = vfig if by_version and vfig is not None else figures
            if figures is not None:
                cluster.stats = {**cluster.stats, "last_test": figures}
            if state is not None:
                out = dict(chosen or {})
                if vfig is not None and chosen is not vfig:
                    out["version_test"] = vfig
                version = release.version if by_version and release is not None else cluster.last_version
                events.append(Event(kind=ISSUE_ALERT_KINDS[state], day=day, key=key, state=state, figures=out,
                                    version=version))
        if release is not None and p.release_watch > 0:
            events.extend(self._watch_events(day, release, version_tests, events, p.release_watch * factor))
        if warm:
            events.extend(self._product_events(day, now, tw, tb, baseline))
        return events

    def _watch_events(self, day: date, release: ReleaseWindow, tests: Mapping[int, dict[str, Any]],
                      alerted: Sequence[Event], cut: float) -> list[Event]:
        """Watch notes of the release (see :func:`alerts.watch_notes.watch_notes`) as events."""
        picks = watch_notes(tests, self.clusters, release, self.release_order(),
                            [(e.key, e.version) for e in alerted], cut, release_top=self.params.release_top,
                            min_count=self.params.min_count, may_alert=self.gate.may_alert)
        return [Event(kind=WATCH_KIND, day=day, key=k, state=self.clusters[k].state, figures=figures,
                      version=release.version) for k, figures in picks]

    def _release_look_due(self, release: ReleaseWindow, partial: bool) -> bool:
        """Whether the newest release is due a look: its (pooled) posts reached ``version_min_posts`` x 2^k.

        One look per doubling, not one a day: daily looks at the same release would multiply its chances
        of a false alarm by the number of days it stays the newest. A day still in progress may look
        (at its stricter cut) without using up the checkpoint.
        """
        looks = self.product_state.setdefault("release_looks", {})
        last = int(looks.get(release.version, 0))
        if last and release.posts < 2 * last:
            return False
        if not partial:
            looks[release.version] = release.posts
            pools = self.product_state.setdefault("release_pools", {})
            for v in release.pooled:
                pools[v] = release.version
        return True

    def _release_rho(self, earlier: Sequence[str]) -> float:
        return release_rho(self.product_state.get("versions") or {}, self.clusters.values(), earlier)

    def _version_test(self, cluster: Cluster, release: ReleaseWindow, rho: float = 0.0) -> dict[str, Any] | None:
        return version_test(cluster, release, self.product_state.get("versions") or {}, self.params, rho)

    def _cooled(self, cluster: Cluster, now: datetime) -> bool:
        return cooled(cluster, now, self.params.cooldown_days)

    def _set_state(self, cluster: Cluster, state: str, now: datetime) -> None:
        set_state(cluster, state, now)

    def record(self, event: Event, now: datetime) -> None:
        """Record that ``event`` was queued (see :func:`alerts.transitions.record`)."""
        cluster = self.clusters.get(event.key) if event.key is not None else None
        if cluster is not None:
            record(cluster, event, now)

    def _transition(self, cluster: Cluster, now: datetime, x: int, significant: bool,
                    quiet_before: date) -> str | None:
        return transition(cluster, now, x, significant, quiet_before, cooldown_days=self.params.cooldown_days,
                          min_count=self.params.min_count)

    def _product_events(self, day: date, now: datetime, tw: DayTotals, tb: DayTotals,
                        baseline: Sequence[str]) -> list[Event]:
        last = self.product_state.setdefault("last_alert", {})
        found = product_events(self.params, self.totals, now, tw, tb, baseline, last, self._alpha)
        return [Event(kind=kind, day=day, key=None, state=None, figures=figures) for kind, figures in found]

    def _record_product(self, event: Event, now: datetime) -> None:
        self.product_state.setdefault("last_alert", {})[event.kind] = now.isoformat()

    # -- driving -------------------------------------------------------------------------------

    def run(self, posts: Sequence[PostRow], as_of: datetime, *, last_evaluated: date | None,
            emit_from: date | None = None) -> tuple[list[Event], date]:
        """Add posts (created <= ``as_of``) day by day, evaluating every day after ``last_evaluated``.

        Events of days before ``emit_from`` (default: ``EMIT_GRACE_DAYS`` before the day of ``as_of``)
        update states silently and are not recorded, so a first run over months of history (or the
        first run after an outage) floods no one with stale news and starts no cool-down. Events
        returned are recorded (:meth:`record`) as they happen: the caller queues every one of them in
        the same transaction that saves the detector. Posts from days already evaluated (late
        arrivals) are counted without evaluating those days again. Returns the events and the last day
        evaluated.
        """
        target = as_of.date()
        emit_from = emit_from or target - timedelta(days=EMIT_GRACE_DAYS)
        if last_evaluated is not None and last_evaluated >= target:
            last_evaluated = target - timedelta(days=1)  # the current day is evaluated again on every run
        by_day: dict[date, list[PostRow]] = {}
        for post in posts:
            by_day.setdefault(post.created_at.date(), []).append(post)
        late = [pp for d, ps in by_day.items() if last_evaluated is not None and d <= last_evaluated for pp in ps]
        if late:
            self.add_posts(sorted(late, key=lambda pp: (pp.created_at, pp.id)))
        fresh = [d for d in by_day if last_evaluated is None or d > last_evaluated]
        first = last_evaluated + timedelta(days=1) if last_evaluated is not None else min(fresh, default=target)
        # Every day up to the target is evaluated, quiet ones too (resolution, candidate expiry).
        days = [first + timedelta(days=i) for i in range((target - first).days + 1)]
        events: list[Event] = []
        evaluated = last_evaluated
        for d in days:
            self.add_posts(sorted(by_day.get(d, []), key=lambda pp: (pp.created_at, pp.id)))
            now = as_of if d == target else end_of_day(d)
            fired = self.evaluate(d, now=now)
            if d >= emit_from:
                for event in fired:
                    if event.key is None:
                        self._record_product(event, now)
                    else:
                        self.record(event, now)
                events.extend(fired)
            evaluated = d
        return events, evaluated or target

    def prune_totals(self, today: date) -> None:
        """Forget daily totals older than any window or baseline will look at."""
        keep = (today - timedelta(days=self.params.baseline_days + self.params.window_days + 7)).isoformat()
        for d in [d for d in self.totals if d < keep]:
            del self.totals[d]


def _version_key(version: str) -> tuple[Any, ...]:
    parts = []
    for piece in version.replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


def nearest(centroid: np.ndarray, embeddings: np.ndarray, k: int = 3) -> list[int]:
    """Indices of the ``k`` rows of ``embeddings`` most similar to ``centroid``, best first."""
    if len(embeddings) == 0:
        return []
    sims = embeddings @ unit(centroid)
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


def end_of_day(day: date) -> datetime:
    """The last second of a UTC day."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


# ---------------------------------------------------------------- replay (backtest, bench)

Labeller = Callable[[Cluster, Sequence[str]], tuple[str, list[str]]]


def describe_event(detector: Detector, event: Event, background: Sequence[str],
                   labeller: Labeller | None = None) -> dict[str, Any]:
    """A JSON-able summary of an event: kind, day, version, figures and, for issues, label and keywords."""
    out: dict[str, Any] = {"kind": event.kind, "day": event.day.isoformat(), "figures": dict(event.figures)}
    if event.key is not None:
        cluster = detector.clusters.get(event.key)
        if cluster is not None:
            if cluster.label_due or not cluster.label:
                label_with: Labeller
                if labeller is None:
                    from alerts.labels import label_cluster as label_with
                else:
                    label_with = labeller
                cluster.label, cluster.keywords = label_with(cluster, background)
                cluster.labelled_size = cluster.size
            out.update({"issue": event.key, "state": event.state, "label": cluster.label,
                        "keywords": list(cluster.keywords)[:10], "version": event.version,
                        "need_type": dominant(cluster.need_types),
                        "size": cluster.size_on(event.day),
                        "first_seen": cluster.first_seen.isoformat() if cluster.first_seen else None})
    return out


def replay(posts: Sequence[PostRow], params: Params, start: date, end: date, *, background_size: int = 1000,
           keep_texts: int = MEMBERS_KEPT, labeller: Labeller | None = None, gate: Gate | None = None,
           curate: Callable[[Detector, Event, dict[str, Any]], dict[str, Any] | None] | None = None,
           watch: WatchSpec | None = DEFAULT_WATCH,
           ) -> list[dict[str, Any]]:
    """Replay a product's history day by day from its first post, in memory, with no look-ahead.

    Each day sees only the posts created up to its end. Returns one entry per day from ``start`` to
    ``end`` with the alerts that would have fired that day. Nothing is written or sent. ``curate``
    (see ``alerts.curated.BacktestCuration``) may rewrite or drop each alert as people's decisions say.
    With ``watch`` (default on), each day's list also holds the release-watch entries made that day
    (``kind`` = ``release_watch``, see ``alerts.release_watch``), after that day's alerts; a watch note
    (``issue_watch``) about an issue the release watch already showed for that release, that day or
    before, is left out (``alerts.watch_notes.in_release_watch``): the release watch tells it.
    """
    by_day: dict[date, list[PostRow]] = {}
    for post in posts:
        by_day.setdefault(post.created_at.date(), []).append(post)
    detector = Detector(params, keep_texts=keep_texts, gate=gate)
    from alerts.labels import label_cluster

    # A release-watch topic of an issue people muted gives its place to the next (``BacktestCuration.mutes``).
    mutes = getattr(curate, "mutes", None)
    watcher = ReplayWatch(watch, labeller or label_cluster, start, mutes) if watch is not None else None
    background: list[str] = []
    shown: list[dict[str, Any]] = []  # release-watch entries made so far (a note they show is not repeated)
    last: date | None = None
    day = min(by_day, default=start)
    out: list[dict[str, Any]] = []
    while day <= end:
        todays = by_day.get(day, [])
        events, last = detector.run(todays, end_of_day(day), last_evaluated=last, emit_from=start)
        background.extend(p.text for p in todays if p.text)
        if watcher is not None:
            watcher.add(todays)
        if len(background) > 2 * background_size:
            del background[: len(background) - background_size]
        recent = background[-background_size:]
        watched = watcher.day(detector, day, recent) if watcher is not None else []
        if day >= start:
            alerts = [describe_event(detector, e, recent, labeller) for e in events]
            if curate is not None:
                alerts = [a for a in (curate(detector, e, a) for e, a in zip(events, alerts, strict=True)) if a]
            shown.extend(watched)
            alerts = [a for a in alerts if a["kind"] != WATCH_KIND
                      or in_release_watch(a.get("issue"), a.get("version"), shown) is None]
            alerts.extend(watched)
            out.append({"day": day.isoformat(), "alerts": alerts})
        detector.prune_totals(day)
        day += timedelta(days=1)
    return out
