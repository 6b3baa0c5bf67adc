"""The headline block: each product's posts, mean rating, negative share and share of voice, against the
previous period of the same length, with a plain-words verdict on whether each change is beyond noise.

A change is "real" when its 95 % interval excludes zero and both samples have at least ``min_n``
(posts: the conditional binomial test of two Poisson counts over equal lengths of time; shares:
Newcombe; mean rating: Welch). Otherwise the wording says it could be chance, or that the samples
are too small and about how many posts each period would need to tell a change of this size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from alerts import stats

REAL = "real"
NOISE = "noise"
SMALL = "small"
NONE = "none"
PARTIAL = "partial"  # the previous period was only partly collected


def needed_n_shares(p1: float, p2: float) -> int | None:
    """Posts needed in each sample for a gap ``p1 - p2`` of this size to clear a 95 % interval."""
    d = abs(p1 - p2)
    if d < 1e-9:
        return None
    return math.ceil(stats.Z95 ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (d * d))


def needed_n_means(m1: float, s1: float, m2: float, s2: float) -> int | None:
    """Ratings needed in each sample for a difference of means of this size to clear a 95 % interval."""
    d = abs(m1 - m2)
    if d < 1e-9:
        return None
    return math.ceil(stats.Z95 ** 2 * (s1 * s1 + s2 * s2 + 1e-9) / (d * d))


def _direction(diff: float, up: str, down: str) -> str:
    return up if diff > 0 else down


def _verdict_words(verdict: str, diff: float, need: int | None, ns: tuple[int, int] | None = None) -> str:
    if verdict == REAL:
        return "a real " + ("rise" if diff > 0 else "drop")
    if verdict == SMALL:
        counts = f"n={ns[0]} now and {ns[1]} before, " if ns else ""
        return f"too few to tell ({counts}about {need} each needed)" if need else "too few to tell"
    return "within normal variation (could be chance)"


def posts_change(now: int, before: int, min_n: int) -> dict[str, Any]:
    """Posts in this period against the previous one of the same length."""
    total = now + before
    out: dict[str, Any] = {"now": now, "before": before, "diff": now - before, "ci": None}
    if before == 0:
        out.update(verdict=NONE, text=f"{now} posts (none in the previous period)" if now else "no posts")
        return out
    ci = stats.wilson(now, total)
    real = ci is not None and (ci[0] > 0.5 or ci[1] < 0.5) and total >= min_n
    out["ci"] = list(ci) if ci else None
    verdict = REAL if real else (SMALL if total < min_n else NOISE)
    if now == before:
        out.update(verdict=NOISE, text=f"{now} posts, as many as the previous period")
        return out
    words = _verdict_words(verdict, now - before, None if verdict != SMALL else min_n)
    if verdict == SMALL:
        words = f"too few posts to tell (about {min_n} in the two periods together needed)"
    out.update(verdict=verdict,
               text=f"posts {_direction(now - before, 'rose', 'fell')} from {before} to {now}, {words}")
    return out


def mean_change(now: Mapping[str, Any], before: Mapping[str, Any], min_n: int) -> dict[str, Any]:
    """Mean rating now against before; each side ``{"n", "mean", "sd"}``."""
    out: dict[str, Any] = {"now": now.get("mean"), "before": before.get("mean"), "now_n": now["n"],
                           "before_n": before["n"], "diff": None, "ci": None}
    if not now["n"] or not before["n"]:
        out.update(verdict=NONE, text="no ratings to compare with the previous period" if before["n"] == 0
                   else "no ratings in this period")
        if now["n"] and not before["n"]:
            out["text"] = f"rating {now['mean']:.1f} (no ratings in the previous period)"
        return out
    diff = now["mean"] - before["mean"]
    ci = stats.mean_diff_ci(now["mean"], now["sd"], now["n"], before["mean"], before["sd"], before["n"]) \
        if now["n"] > 1 and before["n"] > 1 else None
    small = now["n"] < min_n or before["n"] < min_n
    verdict = SMALL if small else (REAL if stats.excludes_zero(ci) else NOISE)
    need = needed_n_means(now["mean"], now["sd"], before["mean"], before["sd"]) if small else None
    out.update(diff=diff, ci=list(ci) if ci else None, verdict=verdict)
    a, b = f"{before['mean']:.1f}", f"{now['mean']:.1f}"
    if a == b:
        out["text"] = f"rating steady at {b} (n={now['n']})"
    else:
        words = _verdict_words(verdict, diff, max(need or 0, min_n) if small else None, (now["n"], before["n"]))
        out["text"] = f"rating {_direction(diff, 'rose', 'fell')} from {a} to {b}, {words}"
    return out


def share_change(what: str, now: tuple[int, int], before: tuple[int, int], min_n: int) -> dict[str, Any]:
    """A share ``(x, n)`` now against before, e.g. the negative share or the share of voice."""
    (x1, n1), (x2, n2) = now, before
    out: dict[str, Any] = {"now": x1 / n1 if n1 else None, "before": x2 / n2 if n2 else None, "now_n": n1,
                           "before_n": n2, "now_x": x1, "before_x": x2, "diff": None, "ci": None}
    if not n1 or not n2:
        out.update(verdict=NONE, text=f"{what} {_pct(x1 / n1)} (nothing to compare with)" if n1
                   else f"{what}: no posts")
        return out
    p1, p2 = x1 / n1, x2 / n2
    ci = stats.newcombe(x1, n1, x2, n2)
    small = n1 < min_n or n2 < min_n
    verdict = SMALL if small else (REAL if stats.excludes_zero(ci) else NOISE)
    need = needed_n_shares(p1, p2) if small else None
    out.update(diff=p1 - p2, ci=list(ci) if ci else None, verdict=verdict)
    if _pct(p1) == _pct(p2):
        out["text"] = f"{what} steady at {_pct(p1)}"
    else:
        out["text"] = (f"{what} {_direction(p1 - p2, 'rose', 'fell')} from {_pct(p2)} to {_pct(p1)}, "
                       f"{_verdict_words(verdict, p1 - p2, max(need or 0, min_n) if small else None, (n1, n2))}")
    return out


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


# Which direction is good news for each headline figure (for colour only; the words stay neutral).
GOOD_WHEN_UP = {"posts": None, "rating": True, "negative": False, "share_of_voice": True}


def tone(key: str, change: Mapping[str, Any]) -> str:
    """``good``, ``bad`` or ``neutral``: the colour of a change (only real changes are coloured)."""
    up = GOOD_WHEN_UP.get(key)
    if change.get("verdict") != REAL or up is None or not change.get("diff"):
        return "neutral"
    return "good" if (change["diff"] > 0) == up else "bad"


RECENT_DAYS = 7


def _rating_of(totals: Mapping[str, float]) -> dict[str, Any]:
    ms = stats.mean_sd(int(totals["r_n"]), float(totals["r_sum"]), float(totals["r_sq"]))
    return {"n": int(totals["r_n"]), "mean": ms[0] if ms else None, "sd": ms[1] if ms else None}


def totals_of(product: Mapping[str, Any]) -> dict[str, float]:
    """A product's period figures as :func:`voxpop.report.queries.period_totals` gives them (posts, ratings as
    n, sum and sum of squares, classified, negative, neutral and positive posts), rebuilt from the mean and
    sample sd."""
    r = product["rating"]
    n, mean, sd = int(r["n"] or 0), r.get("mean"), r.get("sd")
    r_sum = float(mean) * n if mean is not None else 0.0
    r_sq = (float(sd) ** 2 * (n - 1) + n * float(mean) ** 2) if mean is not None and sd is not None else 0.0
    counts = {label: int((product["sentiment"].get(label) or {}).get("x", 0) or 0)
              for label in ("negative", "neutral", "positive")}
    return {"posts": int(product["volume"]), "r_n": n, "r_sum": r_sum, "r_sq": r_sq,
            "classified": int(product["coverage"]["classified"]), **counts}


def minus(whole: Mapping[str, float], part: Mapping[str, float]) -> dict[str, float]:
    """``whole - part`` per total (the rest of a period once its last days are taken out); never below zero."""
    return {k: max(0.0, float(whole[k]) - float(part.get(k, 0))) if k in ("r_sum", "r_sq")
            else max(0, int(whole[k]) - int(part.get(k, 0))) for k in whole}


def recent_change(recent: Mapping[str, float], earlier: Mapping[str, float], period: Mapping[str, Any],
                  min_n: int) -> dict[str, Any] | None:
    """The last 7 days against the rest of the period, named only when it tells what the period hides.

    Rating and negative share are tested (Welch, Newcombe); the first real change whose direction the
    whole period's figure does not already show as real is returned with its words, else None.
    """
    checks = [
        ("rating", mean_change(_rating_of(recent), _rating_of(earlier), min_n)),
        ("negative", share_change("negative share", (int(recent["negative"]), int(recent["classified"])),
                                  (int(earlier["negative"]), int(earlier["classified"])), min_n)),
    ]
    for key, change in checks:
        if change["verdict"] != REAL or not change.get("diff"):
            continue
        whole = period.get(key) or {}
        if whole.get("verdict") == REAL and (whole.get("diff") or 0) * change["diff"] > 0:
            continue  # the period's headline already says it
        if key == "rating":
            words = (f"rating {change['now']:.1f} in the last {RECENT_DAYS} days against {change['before']:.1f} "
                     f"earlier in the period, a real {'rise' if change['diff'] > 0 else 'drop'}")
        else:
            words = (f"negative share {_pct(change['now'])} in the last {RECENT_DAYS} days against "
                     f"{_pct(change['before'])} earlier in the period, a real "
                     f"{'rise' if change['diff'] > 0 else 'drop'}")
        return {"figure": key, "text": words, "verdict": REAL, "diff": change["diff"], "ci": change["ci"],
                "tone": tone(key, change)}
    return None


def headline(products: Sequence[Mapping[str, Any]], previous: Mapping[str, Mapping[str, float]],
             min_n: int, *, previous_since: datetime | None = None,
             first_posts: Mapping[str, datetime] | None = None,
             recent: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]] | None = None,
             ) -> list[dict[str, Any]]:
    """One headline block per product: four figures, each with its change and verdict, and a sentence.

    When a product's first stored post came after the previous period began, that period was only
    partly collected: its post count is not compared (means and shares still are). ``recent`` holds,
    per slug, the totals of the last 7 days and of the period before them: a real change there that the
    period's figures hide (a week at 2.9 in a month steady at 3.4) is named in the sentence.
    """
    total_now = sum(int(p["volume"]) for p in products)
    total_before = sum(int(previous.get(p["slug"], {}).get("posts", 0)) for p in products)
    out: list[dict[str, Any]] = []
    for p in products:
        prev = previous.get(p["slug"]) or {"posts": 0, "r_n": 0, "r_sum": 0.0, "r_sq": 0.0, "classified": 0,
                                            "negative": 0}
        ms = stats.mean_sd(int(prev["r_n"]), float(prev["r_sum"]), float(prev["r_sq"]))
        before_rating = {"n": int(prev["r_n"]), "mean": ms[0] if ms else None, "sd": ms[1] if ms else None}
        r = p["rating"]
        now_rating = {"n": r["n"], "mean": r["mean"], "sd": r["sd"]}
        neg = p["sentiment"].get("negative") or {"x": 0, "n": p["coverage"]["classified"]}
        figures = {
            "posts": posts_change(int(p["volume"]), int(prev["posts"]), min_n),
            "rating": mean_change(now_rating, before_rating, min_n),
            "negative": share_change("negative share", (int(neg["x"]), int(neg["n"])),
                                     (int(prev["negative"]), int(prev["classified"])), min_n),
            "share_of_voice": share_change("share of voice", (int(p["volume"]), total_now),
                                           (int(prev["posts"]), total_before), min_n),
        }
        first = (first_posts or {}).get(p["slug"])
        if previous_since is not None and first is not None and first > previous_since and prev["posts"]:
            figures["posts"].update(verdict=PARTIAL, text=f"{int(p['volume'])} posts (collection began on "
                                    f"{first.date().isoformat()}, so the previous period's {int(prev['posts'])} "
                                    "cover only part of it)")
        for key, change in figures.items():
            change["tone"] = tone(key, change)
        week = None
        if recent and p["slug"] in recent:
            week = recent_change(*recent[p["slug"]], figures, min_n)
        sentence = "; ".join(f["text"] for f in figures.values()) + (f"; but {week['text']}" if week else "") + "."
        out.append({"slug": p["slug"], "name": p["name"], "own": p["own"], **figures, "recent": week,
                    "text": sentence[:1].upper() + sentence[1:]})
    return out
