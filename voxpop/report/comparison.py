"""Comparisons between products: differences with 95 % intervals, and issues one side has and the other not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts import stats

MATCH_SIMILARITY = 0.55  # centroid cosine at which two products' issues count as the same problem
INACTIVE_ISSUE_STATES = ("candidate", "resolved")


def comparisons(per: Mapping[str, dict[str, Any]], baseline: str, jobs: list[dict[str, Any]],
                 min_n: int) -> list[dict[str, Any]]:
    """Each product against the baseline (our product, else the first listed), metric by metric."""
    base = per[baseline]
    out: list[dict[str, Any]] = []
    metrics: list[tuple[str, str, bool, Any]] = [
        ("positive share", "share", True, lambda p: p["sentiment"].get("positive")),
        ("negative share", "share", False, lambda p: p["sentiment"].get("negative")),
        ("unmet-need share", "share", False, lambda p: p["unmet"]),
    ]
    for job in jobs:
        metrics.append((f"satisfaction: {job['statement']}", "share", True,
                        lambda p, j=job["id"]: p["jobs"][j]["satisfaction"]))
    for slug, other in per.items():
        if slug == baseline:
            continue
        r1, r2 = base["rating"], other["rating"]
        if r1["n"] and r2["n"]:
            small = r1["n"] < min_n or r2["n"] < min_n
            ci = stats.mean_diff_ci(r1["mean"], r1["sd"], r1["n"], r2["mean"], r2["sd"], r2["n"]) \
                if r1["n"] > 1 and r2["n"] > 1 else None
            out.append({"metric": "mean rating", "kind": "mean", "higher_is_better": True, "a": baseline, "b": slug,
                        "a_value": r1["mean"], "b_value": r2["mean"], "a_n": r1["n"], "b_n": r2["n"],
                        "diff": r1["mean"] - r2["mean"], "ci": list(ci) if ci else None,
                        "significant": stats.excludes_zero(ci) and not small, "small": small})
        for name, kind, better_high, get in metrics:
            a, b = get(base), get(other)
            if not a or not b or not a["n"] or not b["n"]:
                continue
            small = a["small"] or b["small"]
            ci = stats.newcombe(a["x"], a["n"], b["x"], b["n"])
            out.append({"metric": name, "kind": kind, "higher_is_better": better_high, "a": baseline, "b": slug,
                        "a_value": a["p"], "b_value": b["p"], "a_n": a["n"], "b_n": b["n"],
                        "diff": a["p"] - b["p"], "ci": list(ci) if ci else None,
                        "significant": stats.excludes_zero(ci) and not small, "small": small})
    return out


def gaps(issues: Mapping[int, list[dict[str, Any]]], slug_of: Mapping[int, str],
          own: str | None) -> dict[str, Any]:
    """Active issues a competitor has with no match among ours, and the reverse."""
    if own is None:
        return {"own": None, "they_have": [], "we_have": [], "note": "no own product in the comparison"}
    own_id = next(pid for pid, slug in slug_of.items() if slug == own)

    def active(pid: int) -> list[dict[str, Any]]:
        return [i for i in issues.get(pid, []) if i["state"] not in INACTIVE_ISSUE_STATES]

    mine = active(own_id)
    they_have, we_have = [], []
    matched_mine: set[int] = set()
    for pid, slug in slug_of.items():
        if pid == own_id:
            continue
        theirs = active(pid)
        for issue in theirs:
            hits = [m["issue_id"] for m in mine if same_problem(issue, m)]
            matched_mine.update(hits)
            if not hits:
                they_have.append({"product": slug, "issue_id": issue["issue_id"], "label": issue["label"],
                                  "count": issue["count"], "state": issue["state"]})
    for m in mine:
        if m["issue_id"] not in matched_mine:
            we_have.append({"product": own, "issue_id": m["issue_id"], "label": m["label"], "count": m["count"],
                            "state": m["state"]})
    key = lambda g: (-g["count"], g["issue_id"])  # noqa: E731
    return {"own": own, "they_have": sorted(they_have, key=key), "we_have": sorted(we_have, key=key), "note": None}


def same_problem(a: Mapping[str, Any], b: Mapping[str, Any], threshold: float = MATCH_SIMILARITY) -> bool:
    """Whether two issues (of different products) describe the same problem.

    Centroid cosine when both have one; otherwise keyword overlap (Jaccard >= 1/3) or equal labels.
    """
    ca, cb = a.get("centroid"), b.get("centroid")
    if ca and cb and len(ca) == len(cb):
        import numpy as np

        va, vb = np.frombuffer(ca, dtype=np.float32), np.frombuffer(cb, dtype=np.float32)
        norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
        return norm > 0 and float(va @ vb) / norm >= threshold
    ka = {str(k).lower() for k in a.get("keywords") or []}
    kb = {str(k).lower() for k in b.get("keywords") or []}
    if ka and kb and len(ka & kb) / len(ka | kb) >= 1 / 3:
        return True
    return str(a.get("label", "")).strip().lower() == str(b.get("label", "")).strip().lower()

