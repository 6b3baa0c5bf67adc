"""Emerging-issue detection over plain data: no database, no clock, no I/O.

A :class:`Detector` keeps a product's issues (clusters of unmet-need posts, each a running-mean
centroid of L2-normalised embeddings) and the product's daily totals. Feeding it posts in time order
and evaluating day by day yields :class:`Event` objects (an issue became new, rose, reopened; the
product's rating or sentiment dropped or its volume spiked). The same code serves the incremental
``detect`` job (state loaded from and saved to the store) and the in-memory backtest.

Statistics, all one-sided and exact enough without SciPy:

* issue rise: the issue's share of the product's posts in the window against its share in the
  baseline (binomial upper tail, baseline share smoothed with half a pseudo-post so brand-new topics,
  which have no history, are tested against a small but non-zero share);
* volume spike: quasi-Poisson z-test of the window's posts against the baseline daily mean, with the
  dispersion estimated from the baseline days (review streams are far burstier than Poisson);
* rating drop: Welch z-test of mean stars; sentiment drop: binomial test of the negative share.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

ACTIVE_STATES = ("new", "rising", "ongoing", "reopened")
ISSUE_ALERT_KINDS = {"new": "issue_new", "rising": "issue_rising", "reopened": "issue_reopened"}
PRODUCT_KINDS = ("volume_spike", "rating_drop", "sentiment_drop")
PSEUDO_COUNT = 0.5
EMIT_GRACE_DAYS = 2  # a run still alerts what the last two days (not yet evaluated) brought
PARTIAL_DAY_FACTOR = 0.1  # sensitivity multiplier while the evaluated day is not over yet
EMBED_DIM_UNKNOWN = 0


@dataclass(frozen=True)
class Params:
    """Detector settings (see :meth:`from_spec` for the config names)."""

    join_similarity: float = 0.55
    min_count: int = 3
    sensitivity: float = 0.001
    cooldown_days: int = 7
    resolve_after_days: int = 14
    window_days: int = 1
    baseline_days: int = 28
    min_volume: int = 20  # product posts in the window before a product-level alert may fire
    rating_drop: float = 0.5  # stars: smallest drop of the mean rating worth an alert
    sentiment_drop: float = 0.10  # smallest rise of the negative share worth an alert
    volume_ratio: float = 2.0  # smallest window/baseline volume ratio worth an alert
    min_baseline_days: int = 7  # product history needed before anything may fire

    @classmethod
    def from_spec(cls, spec: Any) -> Params:
        """Build from an ``AlertSpec`` (fields it lacks keep their defaults)."""
        names = cls.__dataclass_fields__
        return cls(**{k: getattr(spec, k) for k in names if hasattr(spec, k)})


@dataclass(frozen=True, slots=True)
class PostRow:
    """What detection needs of one classified post."""

    id: int
    created_at: datetime
    embedding: np.ndarray | None = None
    unmet: bool = False
    need_type: str | None = None
    rating: float | None = None
    negative: bool = False
    text: str = ""
    version: str | None = None


@dataclass
class Cluster:
    """An issue or a candidate issue: running sum of member embeddings plus counts per day."""

    key: int
    total: np.ndarray  # float64 sum of member embeddings; the centroid is total / size
    size: int = 0
    state: str = "candidate"
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    daily: dict[str, int] = field(default_factory=dict)
    need_types: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    negative: int = 0
    label: str = ""
    keywords: list[str] = field(default_factory=list)
    labelled_size: int = 0
    state_changed_at: datetime | None = None
    last_alert_at: datetime | None = None
    alert_counts: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    added: list[tuple[int, float]] = field(default_factory=list)  # members added since the last save
    texts: list[str] = field(default_factory=list)  # recent member texts (in-memory labelling only)
    dirty: bool = False

    @property
    def centroid(self) -> np.ndarray:
        """The running mean of the member embeddings."""
        return self.total / max(1, self.size)

    @property
    def label_due(self) -> bool:
        """Whether the label should be (re)computed: first promotion, or the issue doubled since."""
        return self.state != "candidate" and (self.labelled_size == 0 or self.size >= 2 * self.labelled_size)

    def count(self, days: Iterable[str]) -> int:
        """Members created on the given days."""
        return sum(self.daily.get(d, 0) for d in days)


@dataclass(frozen=True)
class Event:
    """Something worth an alert: the state an issue entered, or a product-level change."""

    kind: str  # issue_new | issue_rising | issue_reopened | volume_spike | rating_drop | sentiment_drop
    day: date
    key: int | None  # cluster key for issue events
    state: str | None
    figures: dict[str, Any]


# ---------------------------------------------------------------- statistics


def binom_sf(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(n, p); 1.0 whenever x/n is not above p (only rises matter here)."""
    if x <= 0 or p >= 1.0:
        return 1.0
    if x > n or p <= 0.0:
        return 0.0
    if x <= n * p:
        return 1.0
    logp, logq, base = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    total = 0.0
    for k in range(x, n + 1):
        term = math.exp(base - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * logp + (n - k) * logq)
        total += term
        if term < total * 1e-12:
            break
    return min(1.0, total)


def norm_sf(z: float) -> float:
    """Upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def day_key(value: datetime | date) -> str:
    """``YYYY-MM-DD`` of a timestamp or date (timestamps are UTC)."""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def day_range(end: date, days: int) -> list[str]:
    """The ``days`` day keys ending with ``end`` (inclusive), oldest first."""
    return [(end - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


# ---------------------------------------------------------------- labels

_WORD = re.compile(r"[a-z][a-z0-9']+")
STOPWORDS = frozenset(
    "a about after again all also am an and any app apps are as at be because been before being but by can "
    "cant can't could did didn't do does doesn't doing don't dont even every for from get gets getting got had "
    "has have having he her here him his how i i'm i've im if in into is isn't it it's its just keep keeps like "
    "made make me more most much my need needs no not now of off on once one only or other our out over please "
    "really same should so some still such than that the their them then there these they thing things this "
    "those though to too try up us use used using very want was wasn't way we well were what when where which "
    "while who why will with won't would you your yet since ever already always never lot lots".split()
)


def terms(text: str) -> set[str]:
    """The content unigrams and adjacent-content-word bigrams of a text."""
    words = _WORD.findall(text.lower())
    out: set[str] = set()
    prev: str | None = None
    for w in words:
        if w in STOPWORDS or len(w) < 3:
            prev = None
            continue
        out.add(w)
        if prev is not None:
            out.add(f"{prev} {w}")
        prev = w
    return out


def label_terms(member_texts: Sequence[str], background_texts: Sequence[str], top: int = 6) -> tuple[str, list[str]]:
    """A short label and keywords for a group of texts, by class-based TF-IDF against a background.

    Each term's score is its document share among the members times the log of how much more often it
    occurs there than in the background (smoothed), so words every review uses ("great", "keyboard")
    lose to the ones that set this group apart. Bigrams present in at least two members (or a third)
    are preferred for the label.
    """
    if not member_texts:
        return "", []
    member_df: Counter[str] = Counter()
    for text in member_texts:
        member_df.update(terms(text))
    background_df: Counter[str] = Counter()
    for text in background_texts:
        background_df.update(terms(text))
    n_m, n_b = len(member_texts), max(1, len(background_texts))
    scored = []
    for term, df in member_df.items():
        share = df / n_m
        bg = (background_df.get(term, 0) + 1) / (n_b + 2)
        lift = math.log((share + 1e-3) / bg)
        if lift <= 0:
            continue
        bonus = 1.15 if " " in term else 1.0
        scored.append((share * lift * bonus, df, term))
    scored.sort(key=lambda s: (-s[0], s[2]))
    need = max(2, math.ceil(n_m / 3)) if n_m >= 2 else 1
    keywords: list[str] = []
    for _score, _df, term in scored:
        if any(term in k.split(" ") or term == k for k in keywords):
            continue
        keywords.append(term)
        if len(keywords) >= top:
            break
    bigrams = [t for s, df, t in scored if " " in t and df >= need]
    if bigrams:
        label = bigrams[0]
    else:
        label = " / ".join(k for k in keywords[:2]) if keywords else ""
    return label, keywords


# ---------------------------------------------------------------- product totals


@dataclass
class DayTotals:
    """One day of a product's posts: count, rating sums, negative count, classified count."""

    n: int = 0
    rating_sum: float = 0.0
    rating_sq: float = 0.0
    rating_n: int = 0
    negative: int = 0
    classified: int = 0

    def as_list(self) -> list[float]:
        return [self.n, self.rating_sum, self.rating_sq, self.rating_n, self.negative, self.classified]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> DayTotals:
        n, rs, rq, rn, neg, cl = (list(values) + [0] * 6)[:6]
        return cls(int(n), float(rs), float(rq), int(rn), int(neg), int(cl))


def _sum_days(totals: Mapping[str, DayTotals], days: Sequence[str]) -> DayTotals:
    out = DayTotals()
    for d in days:
        t = totals.get(d)
        if t is None:
            continue
        out.n += t.n
        out.rating_sum += t.rating_sum
        out.rating_sq += t.rating_sq
        out.rating_n += t.rating_n
        out.negative += t.negative
        out.classified += t.classified
    return out


# ---------------------------------------------------------------- the detector


class Detector:
    """Incremental issue detection for one product.

    Args:
        params: thresholds and windows.
        clusters: issues and candidates kept from earlier runs.
        totals: the product's daily totals kept from earlier runs (day key -> :class:`DayTotals`).
        product_state: per-product alert bookkeeping (last alert per product-level kind, first day seen).
        next_key: the next temporary key for clusters created here (negative; the caller maps it to an id).
    """

    def __init__(self, params: Params, clusters: Iterable[Cluster] = (),
                 totals: Mapping[str, DayTotals] | None = None, product_state: Mapping[str, Any] | None = None,
                 keep_texts: int = 0) -> None:
        self.params = params
        self.clusters: dict[int, Cluster] = {}
        self.totals: dict[str, DayTotals] = dict(totals or {})
        self.product_state: dict[str, Any] = dict(product_state or {})
        self.removed: list[int] = []
        self.keep_texts = keep_texts
        self._next_key = -1
        self._alpha = params.sensitivity
        self._dim = EMBED_DIM_UNKNOWN
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._keys: list[int] = []
        self._row: dict[int, int] = {}
        for cluster in clusters:
            self.clusters[cluster.key] = cluster
        self._rebuild()

    # -- cluster index --------------------------------------------------------------------------

    def _rebuild(self) -> None:
        live = [c for c in self.clusters.values() if c.size > 0]
        if live:
            self._dim = live[0].total.shape[0]
        cap = max(64, 2 * len(live))
        self._matrix = np.zeros((cap, max(1, self._dim)), dtype=np.float32)
        self._keys, self._row = [], {}
        for c in live:
            self._append(c)

    def _append(self, cluster: Cluster) -> None:
        i = len(self._keys)
        if i >= self._matrix.shape[0]:
            grown = np.zeros((2 * self._matrix.shape[0], self._matrix.shape[1]), dtype=np.float32)
            grown[:i] = self._matrix[:i]
            self._matrix = grown
        self._matrix[i] = _unit(cluster.total)
        self._keys.append(cluster.key)
        self._row[cluster.key] = i

    def _new_cluster(self, post: PostRow, embedding: np.ndarray) -> Cluster:
        key = self._next_key
        self._next_key -= 1
        cluster = Cluster(key=key, total=np.zeros(embedding.shape[0], dtype=np.float64), dirty=True)
        self.clusters[key] = cluster
        return cluster

    def _join(self, cluster: Cluster, post: PostRow, embedding: np.ndarray, similarity: float) -> None:
        cluster.total += embedding
        cluster.size += 1
        day = day_key(post.created_at)
        cluster.daily[day] = cluster.daily.get(day, 0) + 1
        if cluster.first_seen is None or post.created_at < cluster.first_seen:
            cluster.first_seen = post.created_at
        if cluster.last_seen is None or post.created_at > cluster.last_seen:
            cluster.last_seen = post.created_at
        if post.need_type:
            cluster.need_types[post.need_type] = cluster.need_types.get(post.need_type, 0) + 1
        if post.version:
            cluster.versions[post.version] = cluster.versions.get(post.version, 0) + 1
        cluster.negative += int(post.negative)
        cluster.added.append((post.id, round(float(similarity), 4)))
        if self.keep_texts and post.text:
            cluster.texts.append(post.text)
            if len(cluster.texts) > self.keep_texts:
                del cluster.texts[: len(cluster.texts) - self.keep_texts]
        cluster.dirty = True
        if cluster.key in self._row:
            self._matrix[self._row[cluster.key]] = _unit(cluster.total)
        else:
            self._append(cluster)

    # -- feeding posts -------------------------------------------------------------------------

    def add_posts(self, posts: Sequence[PostRow]) -> None:
        """Count posts in the product's totals and put each unmet-need post into its nearest cluster.

        Posts are compared with the clusters as they stood before this batch in one matrix product,
        then, in order, with the clusters this batch started; so a burst arriving together still ends up
        in one cluster.
        """
        for post in posts:
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
        unmet = [p for p in posts if p.unmet and p.embedding is not None and p.embedding.size]
        if not unmet:
            return
        emb = np.stack([np.asarray(p.embedding, dtype=np.float32) for p in unmet])
        if self._dim == EMBED_DIM_UNKNOWN:
            self._dim = emb.shape[1]
            self._matrix = np.zeros((64, self._dim), dtype=np.float32)
        elif emb.shape[1] != self._dim:
            raise ValueError(f"embedding size {emb.shape[1]} differs from the issues' {self._dim}")
        n_old = len(self._keys)
        if n_old:
            sims = emb @ self._matrix[:n_old].T
            best = sims.argmax(axis=1)
            best_sim = sims[np.arange(len(unmet)), best]
        threshold = self.params.join_similarity
        for i, post in enumerate(unmet):
            e = emb[i]
            choice: Cluster | None = None
            score = -1.0
            if n_old:
                score = float(best_sim[i])
                key = self._keys[int(best[i])]
                choice = self.clusters.get(key)
            if len(self._keys) > n_old:
                fresh = self._matrix[n_old:len(self._keys)] @ e
                j = int(fresh.argmax())
                if float(fresh[j]) > score:
                    score, choice = float(fresh[j]), self.clusters.get(self._keys[n_old + j])
            if choice is None or score < threshold:
                choice, score = self._new_cluster(post, e), 1.0
            self._join(choice, post, e.astype(np.float64), score)

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
        """Update every cluster's state as of the end of ``day`` and return the alert-worthy events."""
        p = self.params
        now = now or datetime.combine(day, datetime.max.time()).replace(microsecond=0)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        # A day still in progress is looked at again on every run: a stricter threshold keeps those
        # repeated looks from adding false alarms (a real burst clears it by orders of magnitude).
        partial = now < end_of_day(day)
        self._alpha = p.sensitivity * (PARTIAL_DAY_FACTOR if partial else 1.0)
        window = day_range(day, p.window_days)
        baseline = day_range(day - timedelta(days=p.window_days), p.baseline_days)
        tw, tb = _sum_days(self.totals, window), _sum_days(self.totals, baseline)
        history = self._history_days(day)
        warm = history >= p.min_baseline_days and tb.n > 0
        events: list[Event] = []
        quiet_before = day - timedelta(days=p.resolve_after_days)
        expire_before = (day - timedelta(days=p.baseline_days)).isoformat()
        for cluster in list(self.clusters.values()):
            last = day_key(cluster.last_seen) if cluster.last_seen else ""
            if cluster.state == "candidate" and cluster.size < p.min_count:
                if last < expire_before:
                    self._drop(cluster)
                continue
            x = cluster.count(window)
            if x == 0 and cluster.state in ("resolved", "candidate"):
                if cluster.state == "candidate" and last < expire_before:
                    self._drop(cluster)
                continue
            figures = self._test(cluster, x, tw.n, baseline, tb.n) if x else None
            significant = bool(warm and figures and figures["significant"])
            event = self._transition(cluster, day, now, x, significant, quiet_before)
            if figures is not None:
                cluster.stats = {**cluster.stats, "last_test": figures}
            if event is not None:
                events.append(Event(kind=ISSUE_ALERT_KINDS[event], day=day, key=cluster.key, state=event,
                                    figures=dict(figures or {})))
        if warm:
            events.extend(self._product_events(day, now, tw, tb, baseline))
        return events

    def _test(self, cluster: Cluster, x: int, n: int, baseline: Sequence[str], n0: int) -> dict[str, Any]:
        x0 = cluster.count(baseline)
        share0 = (x0 + PSEUDO_COUNT) / (n0 + 1.0)
        n = max(n, x)
        p_value = binom_sf(x, n, share0)
        return {"count": x, "total": n, "baseline_count": x0, "baseline_total": n0,
                "baseline_share": round(share0, 6), "share": round(x / n, 6) if n else 0.0,
                "expected": round(share0 * n, 3), "p_value": p_value,
                "significant": x >= self.params.min_count and p_value < self._alpha,
                "window_days": self.params.window_days, "baseline_days": self.params.baseline_days}

    def _cooled(self, cluster: Cluster, now: datetime) -> bool:
        last = cluster.last_alert_at
        return last is None or now - last >= timedelta(days=self.params.cooldown_days)

    def _set_state(self, cluster: Cluster, state: str, now: datetime) -> None:
        cluster.state = state
        cluster.state_changed_at = now
        cluster.dirty = True

    def _alerted(self, cluster: Cluster, state: str, now: datetime) -> str:
        cluster.last_alert_at = now
        cluster.alert_counts[state] = cluster.alert_counts.get(state, 0) + 1
        cluster.dirty = True
        return state

    def _transition(self, cluster: Cluster, day: date, now: datetime, x: int, significant: bool,
                    quiet_before: date) -> str | None:
        """Move one cluster through candidate -> new/ongoing -> rising -> ongoing -> resolved -> reopened."""
        state = cluster.state
        if state == "candidate":  # size >= min_count here
            if significant:
                self._set_state(cluster, "new", now)
                return self._alerted(cluster, "new", now)
            self._set_state(cluster, "ongoing", now)
            return None
        if state == "resolved":
            # Only posts after the resolution bring it back (a person may resolve an issue mid-day).
            if x == 0 or (cluster.state_changed_at is not None and cluster.last_seen is not None
                          and cluster.last_seen <= cluster.state_changed_at):
                return None
            self._set_state(cluster, "reopened", now)
            if significant and self._cooled(cluster, now):
                return self._alerted(cluster, "reopened", now)
            return None
        if cluster.last_seen is not None and cluster.last_seen.date() < quiet_before:
            self._set_state(cluster, "resolved", now)
            return None
        if significant:
            if state != "rising" and self._cooled(cluster, now):
                self._set_state(cluster, "rising", now)
                return self._alerted(cluster, "rising", now)
            return None
        # An alerted state is kept through its cool-down, so listings agree with the alert just sent.
        settled = cluster.state_changed_at is None or now - cluster.state_changed_at >= timedelta(
            days=self.params.cooldown_days)
        if state in ("rising", "new", "reopened") and x < self.params.min_count and settled:
            self._set_state(cluster, "ongoing", now)
        return None

    def _drop(self, cluster: Cluster) -> None:
        del self.clusters[cluster.key]
        row = self._row.pop(cluster.key, None)
        if row is not None:
            self._matrix[row] = 0.0  # never the nearest again; compacted on the next rebuild
        if cluster.key > 0:
            self.removed.append(cluster.key)
        if len(self._row) * 2 < len(self._keys) and len(self._keys) > 256:
            self._rebuild()

    def _product_events(self, day: date, now: datetime, tw: DayTotals, tb: DayTotals,
                        baseline: Sequence[str]) -> list[Event]:
        p = self.params
        if tw.n < p.min_volume:
            return []
        out: list[Event] = []
        last = self.product_state.setdefault("last_alert", {})

        def fire(kind: str, figures: dict[str, Any]) -> None:
            prev = last.get(kind)
            if prev and now - datetime.fromisoformat(prev) < timedelta(days=p.cooldown_days):
                return
            last[kind] = now.isoformat()
            out.append(Event(kind=kind, day=day, key=None, state=None, figures=figures))

        days_b = [d for d in baseline if d in self.totals]
        n_days_b = max(1, len(days_b))
        mean_b = tb.n / n_days_b
        expected = mean_b * p.window_days
        counts = [self.totals[d].n for d in days_b]
        var_b = float(np.var(counts, ddof=1)) if len(counts) > 1 else mean_b
        dispersion = max(1.0, var_b / mean_b) if mean_b > 0 else 1.0
        if expected > 0:
            z = (tw.n - expected) / math.sqrt(expected * dispersion * p.window_days)
            pv = norm_sf(z)
            if pv < self._alpha and tw.n >= p.volume_ratio * expected:
                fire("volume_spike", {"count": tw.n, "expected": round(expected, 2), "ratio": round(tw.n / expected, 2),
                                      "dispersion": round(dispersion, 2), "p_value": pv})
        if tw.rating_n >= p.min_volume // 2 and tb.rating_n >= 10:
            m1, m0 = tw.rating_sum / tw.rating_n, tb.rating_sum / tb.rating_n
            v1 = max(0.0, tw.rating_sq / tw.rating_n - m1 * m1) * tw.rating_n / max(1, tw.rating_n - 1)
            v0 = max(0.0, tb.rating_sq / tb.rating_n - m0 * m0) * tb.rating_n / max(1, tb.rating_n - 1)
            se = math.sqrt(v1 / tw.rating_n + v0 / tb.rating_n) or 1e-9
            pv = norm_sf((m0 - m1) / se)
            if pv < self._alpha and m0 - m1 >= p.rating_drop:
                fire("rating_drop", {"mean": round(m1, 3), "baseline_mean": round(m0, 3), "n": tw.rating_n,
                                     "baseline_n": tb.rating_n, "p_value": pv})
        if tw.classified >= p.min_volume and tb.classified >= 10:
            share0 = (tb.negative + PSEUDO_COUNT) / (tb.classified + 1.0)
            share = tw.negative / tw.classified
            pv = binom_sf(tw.negative, tw.classified, share0)
            if pv < self._alpha and share - share0 >= p.sentiment_drop:
                fire("sentiment_drop", {"negative_share": round(share, 4), "baseline_share": round(share0, 4),
                                        "count": tw.negative, "n": tw.classified, "p_value": pv})
        return out

    # -- driving -------------------------------------------------------------------------------

    def run(self, posts: Sequence[PostRow], as_of: datetime, *, last_evaluated: date | None,
            emit_from: date | None = None) -> tuple[list[Event], date]:
        """Add posts (created <= ``as_of``) day by day, evaluating every day after ``last_evaluated``.

        Events of days before ``emit_from`` (default: ``EMIT_GRACE_DAYS`` before the day of ``as_of``)
        update states silently, so a first run over months of history (or the first run after an outage)
        does not flood anyone with stale news. Posts from days already evaluated (late
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
            now = as_of if d == target else None
            fired = self.evaluate(d, now=now)
            if d >= emit_from:
                events.extend(fired)
            evaluated = d
        return events, evaluated or target

    def prune_totals(self, today: date) -> None:
        """Forget daily totals older than any window or baseline will look at."""
        keep = (today - timedelta(days=self.params.baseline_days + self.params.window_days + 7)).isoformat()
        for d in [d for d in self.totals if d < keep]:
            del self.totals[d]


def totals_to_json(totals: Mapping[str, DayTotals]) -> dict[str, list[float]]:
    """Daily totals as JSON-able lists."""
    return {d: t.as_list() for d, t in sorted(totals.items())}


def totals_from_json(data: Mapping[str, Sequence[float]] | None) -> dict[str, DayTotals]:
    """Inverse of :func:`totals_to_json`."""
    return {d: DayTotals.from_list(v) for d, v in (data or {}).items()}


def nearest(centroid: np.ndarray, embeddings: np.ndarray, k: int = 3) -> list[int]:
    """Indices of the ``k`` rows of ``embeddings`` most similar to ``centroid``, best first."""
    if len(embeddings) == 0:
        return []
    sims = embeddings @ _unit(centroid)
    return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


# ---------------------------------------------------------------- replay (backtest, bench)


def end_of_day(day: date) -> datetime:
    """The last second of a UTC day."""
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


def describe_event(detector: Detector, event: Event, background: Sequence[str]) -> dict[str, Any]:
    """A JSON-able summary of an event, labelling its issue from the texts the detector kept."""
    out: dict[str, Any] = {"kind": event.kind, "day": event.day.isoformat(), "figures": dict(event.figures)}
    if event.key is not None:
        cluster = detector.clusters.get(event.key)
        if cluster is not None:
            if cluster.label_due or not cluster.label:
                cluster.label, cluster.keywords = label_terms(cluster.texts, background)
                cluster.labelled_size = cluster.size
            out.update({"issue": event.key, "state": event.state, "label": cluster.label,
                        "keywords": list(cluster.keywords), "size": cluster.size,
                        "first_seen": cluster.first_seen.isoformat() if cluster.first_seen else None})
    return out


def replay(posts: Sequence[PostRow], params: Params, start: date, end: date, *,
           background_size: int = 1000, keep_texts: int = 60,
           curate: Callable[[Detector, Event, dict[str, Any]], dict[str, Any] | None] | None = None,
           ) -> list[dict[str, Any]]:
    """Replay a product's history day by day from its first post, in memory, with no look-ahead.

    Each day sees only the posts created up to its end. Returns one entry per day from ``start`` to
    ``end`` with the alerts that would have fired that day. Nothing is written or sent. ``curate``
    (see ``alerts.curated.BacktestCuration``) may rewrite or drop each alert as people's decisions say.
    """
    by_day: dict[date, list[PostRow]] = {}
    for post in posts:
        by_day.setdefault(post.created_at.date(), []).append(post)
    detector = Detector(params, keep_texts=keep_texts)
    background: list[str] = []
    last: date | None = None
    day = min(by_day, default=start)
    out: list[dict[str, Any]] = []
    while day <= end:
        todays = by_day.get(day, [])
        events, last = detector.run(todays, end_of_day(day), last_evaluated=last, emit_from=start)
        background.extend(p.text for p in todays if p.text)
        if len(background) > 2 * background_size:
            del background[: len(background) - background_size]
        if day >= start:
            recent = background[-background_size:]
            alerts = [describe_event(detector, e, recent) for e in events]
            if curate is not None:
                alerts = [a for a in (curate(detector, e, a) for e, a in zip(events, alerts, strict=True)) if a]
            out.append({"day": day.isoformat(), "alerts": alerts})
        detector.prune_totals(day)
        day += timedelta(days=1)
    return out
