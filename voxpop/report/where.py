""""Where we lose, and why": jobs where our satisfaction is significantly below a competitor's, joined
with the issues of our posts on that job (an issue gains the jobs of its posts); also where we win,
and, plainly, the gaps too small to rank with the number of posts that would be needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts import stats
from voxpop.report.headline import needed_n_shares

MIN_GAP_TO_MENTION = 0.10  # small-sample gaps under 10 points are not worth a line


def _pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.0f}%"


def _causes(job: str, own_issues: Sequence[Mapping[str, Any]], details: Mapping[int, Mapping[str, Any]],
            own_needs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Our issues whose posts are on ``job``, most posts on the job first; else unmet needs on the job."""
    out = []
    for issue in own_issues:
        on_job = int((details.get(issue["issue_id"], {}).get("jobs") or {}).get(job, 0))
        if on_job and issue["state"] != "candidate":
            d = details.get(issue["issue_id"], {})
            out.append({"kind": "issue", "issue_id": issue["issue_id"], "label": issue["label"], "posts_on_job": on_job,
                        "count": issue["count"], "trend": issue["trend"], "state": issue["state"],
                        "first_version": d.get("first_version"),
                        "version": (d.get("versions") or [{}])[0].get("version")})
    out.sort(key=lambda c: (-c["posts_on_job"], c["issue_id"]))
    if not out:
        for need in own_needs:
            if need.get("job") == job and need["count"]:
                out.append({"kind": "unmet", "label": None, "posts_on_job": need["count"], "count": need["count"],
                            "trend": need["trend"], "state": None, "first_version": None, "version": None})
    return out[:3]


def _cause_text(causes: Sequence[Mapping[str, Any]], ours_n: int) -> str:
    if not causes:
        return "no issue of ours is tied to this job yet"
    c = causes[0]
    if c["kind"] == "unmet":
        return f"{c['count']} of our posts on it describe an unmet need (no issue formed yet)"
    bits = [f"{c['posts_on_job']} of our {ours_n} posts on this job"]
    if c["trend"] > 0:
        bits.append("rising")
    if c.get("version"):
        bits.append(f"mostly on version {c['version']}")
    more = ", ".join(f"“{x['label']}” ({x['posts_on_job']})" for x in causes[1:] if x["kind"] == "issue")
    tail = f"; also {more}" if more else ""
    lead = "mostly" if c["posts_on_job"] * 2 > ours_n else "led by"
    return f"our posts on it are {lead} “{c['label']}” ({', '.join(bits)}){tail}"


def where_we_lose(products: Sequence[Mapping[str, Any]], jobs: Sequence[Mapping[str, Any]], baseline: str | None,
                  own_issues: Sequence[Mapping[str, Any]], details: Mapping[int, Mapping[str, Any]],
                  own_needs: Sequence[Mapping[str, Any]], min_n: int) -> dict[str, Any]:
    """Losses, wins and too-small gaps per competitor and job, each with a plain sentence."""
    result: dict[str, Any] = {"lose": [], "win": [], "too_small": [], "unclear": 0, "min_n": min_n}
    if baseline is None:
        return result
    per = {p["slug"]: p for p in products}
    base = per[baseline]
    for p in products:
        if p["slug"] == baseline:
            continue
        for job in jobs:
            a, b = base["jobs"][job["id"]]["satisfaction"], p["jobs"][job["id"]]["satisfaction"]
            if not a["n"] or not b["n"]:
                continue
            ci = stats.newcombe(a["x"], a["n"], b["x"], b["n"])
            diff = a["p"] - b["p"]
            row = {"against": p["slug"], "against_name": p["name"], "job": job["id"], "statement": job["statement"],
                   "ours": a["p"], "theirs": b["p"], "ours_n": a["n"], "theirs_n": b["n"], "diff": diff,
                   "ci": list(ci) if ci else None}
            figures = f"{_pct(b['p'])} vs {_pct(a['p'])} satisfied, n={b['n']} and {a['n']}"
            small = a["n"] < min_n or b["n"] < min_n
            if small:
                if abs(diff) < MIN_GAP_TO_MENTION:
                    continue
                need = max(needed_n_shares(a["p"], b["p"]) or min_n, min_n)
                row["needed_n"] = need
                leader = p["name"] if diff < 0 else base["name"]
                row["text"] = (f"Too few posts to rank {base['name']} and {p['name']} on “{job['statement']}” "
                               f"({leader} looks ahead: {_pct(max(a['p'], b['p']))} vs {_pct(min(a['p'], b['p']))} "
                               f"satisfied, n={a['n']} and {b['n']}); about {need} posts each would be needed "
                               f"to tell a gap this size.")
                result["too_small"].append(row)
            elif not stats.excludes_zero(ci):
                result["unclear"] += 1
            elif diff < 0:
                causes = _causes(job["id"], own_issues, details, own_needs)
                row["causes"] = causes
                row["text"] = (f"{p['name']} is ahead on “{job['statement']}” ({figures}) — "
                               f"{_cause_text(causes, a['n'])}.")
                result["lose"].append(row)
            else:
                row["text"] = (f"{base['name']} is ahead of {p['name']} on “{job['statement']}” "
                               f"({_pct(a['p'])} vs {_pct(b['p'])} satisfied, n={a['n']} and {b['n']}).")
                result["win"].append(row)
    result["lose"].sort(key=lambda r: r["diff"])
    result["win"].sort(key=lambda r: -r["diff"])
    result["too_small"].sort(key=lambda r: -abs(r["diff"]))
    return result
