"""The job map: products x steps of the customer's process (choose ... leave), with honest statistics.

Each cell has the product's classified posts on the step, the negative share with its Wilson interval,
the step's opportunity (importance + max(importance - satisfaction, 0), as for jobs), and the
product's top unmet-need issue on the step read as a desired outcome. Our product is compared with
each competitor step by step on the negative share (Newcombe interval, both n >= min n), in plain
words: "We lose at set-up: 41% negative vs Jotter 12%, n=88 and 75, a real gap", "could be chance",
or "too few to tell (about N each needed)".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from alerts import stats
from voxpop.report.figures import opportunity, share
from voxpop.report.headline import needed_n_shares
from voxpop.report.outcomes import desired_outcome


class StepLike(Protocol):
    """Anything with a step ``id`` and a ``statement`` (a product's ``[[products.steps]]``)."""

    @property
    def id(self) -> str: ...

    @property
    def statement(self) -> str: ...


@dataclass(frozen=True)
class Step:
    """One step of the customer's process."""

    id: str
    statement: str


# The default steps in the classifier's order (classify.steps.DEFAULT_STEPS, whose ids and order a test holds
# these to), with short display names. Written here so the report starts without the classifier and numpy.
_STEP_NAMES = {
    "choose": "Choose: compare, try, decide",
    "get": "Get: buy, subscribe, install, sign up",
    "set-up": "Set up: onboard, import, configure, connect, sign in",
    "learn": "Learn: find out how",
    "use": "Use: do the job itself",
    "get-help": "Get help: support, fix a problem, recover",
    "pay": "Pay: billing, renewals, price",
    "leave": "Leave: cancel, export data to move, switch, uninstall",
}
DEFAULT_STEPS: tuple[Step, ...] = tuple(Step(id_, name) for id_, name in _STEP_NAMES.items())
REAL, NOISE, SMALL = "real", "noise", "small"


def step_list(steps_by_product: Mapping[str, Sequence[StepLike]] | None, slugs: Sequence[str],
              found: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The steps to show, in process order: the products' own steps (else the defaults), then any step
    found in the data that is not configured (flagged, never dropped)."""
    steps: dict[str, dict[str, Any]] = {}
    configured = {slug: list((steps_by_product or {}).get(slug) or ()) for slug in slugs}
    for slug in slugs:
        for step in configured[slug] or DEFAULT_STEPS:
            entry = steps.setdefault(step.id, {"id": step.id, "statement": step.statement, "products": [],
                                               "configured": True})
            entry["products"].append(slug)
    for step_id in found:
        if step_id and step_id not in steps:
            steps[step_id] = {"id": step_id, "statement": step_id, "products": [], "configured": False}
    return list(steps.values())


def _pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.0f}%"


def _cell(counts: Mapping[str, int], classified: int, issues: Sequence[Mapping[str, Any]], step: str,
          min_n: int) -> dict[str, Any]:
    n = int(counts.get("n", 0))
    importance = share(n, classified, min_n)
    satisfaction = share(int(counts.get("positive", 0)), n, min_n)
    top = None
    active = [i for i in issues if i.get("state") not in ("candidate", "merged")]
    if active:
        i = active[0]
        outcome = desired_outcome(i["label"], i.get("keywords") or (), i.get("need_type"), step)
        top = {"issue_id": i["issue_id"], "label": i["label"], "posts_on_step": i["posts_on_step"],
               "state": i["state"], "outcome": outcome.as_dict() if outcome else None}
    return {"n": n, "negative": share(int(counts.get("negative", 0)), n, min_n), "satisfaction": satisfaction,
            "importance": importance, "unmet": int(counts.get("unmet", 0)),
            "opportunity": opportunity(importance["p"], satisfaction["p"]) if n else None,
            "small": n < min_n, "top_issue": top}


def compare_step(step: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any], our_name: str,
                 their_name: str, we: str, min_n: int) -> dict[str, Any] | None:
    """Our negative share on a step against a competitor's, with its interval and a plain verdict."""
    a, b = ours["negative"], theirs["negative"]
    if not a["n"] or not b["n"]:
        return None
    ci = stats.newcombe(a["x"], a["n"], b["x"], b["n"])
    diff = a["p"] - b["p"]
    small = a["n"] < min_n or b["n"] < min_n
    verdict = SMALL if small else (REAL if stats.excludes_zero(ci) else NOISE)
    figs = f"{_pct(a['p'])} negative vs {their_name} {_pct(b['p'])}, n={a['n']} and {b['n']}"
    name = step["id"]
    direction = "even"
    if verdict == REAL:
        direction = "lose" if diff > 0 else "win"
        verb = {"We": {"lose": "We lose", "win": "We win"}}.get(we, {"lose": f"{we} loses", "win": f"{we} wins"})
        text = f"{verb[direction]} at {name}: {figs}, a real gap"
    elif verdict == NOISE:
        text = f"At {name}: {our_name} {figs}, could be chance"
    else:
        need = max(needed_n_shares(a["p"], b["p"]) or min_n, min_n)
        text = f"At {name}: {our_name} {figs}, too few to tell (about {need} each needed)"
    return {"step": name, "against": theirs["slug"], "against_name": their_name, "ours": a["p"], "theirs": b["p"],
            "ours_n": a["n"], "theirs_n": b["n"], "diff": diff, "ci": list(ci) if ci else None, "verdict": verdict,
            "direction": direction, "text": text + "."}


def job_map(products: Sequence[Any], counts: Mapping[int, Mapping[str | None, Mapping[str, int]]],
            issues: Mapping[int, Mapping[str, Sequence[Mapping[str, Any]]]],
            steps_by_product: Mapping[str, Sequence[StepLike]] | None, baseline: str | None,
            min_n: int) -> dict[str, Any]:
    """The job map of ``products`` (rows with ``id``, ``slug``, ``name``, ``own``), JSON-able.

    ``counts`` and ``issues`` come from :mod:`voxpop.report.jobmap_queries` (``step_counts``,
    ``step_issues``).
    """
    found = sorted({s for per in counts.values() for s in per if s})
    steps = step_list(steps_by_product, [p.slug for p in products], found)
    cells: dict[str, dict[str, Any]] = {}
    unplaced: dict[str, int] = {}
    placed_any = False
    for p in products:
        per = counts.get(p.id, {})
        classified = sum(int(c.get("n", 0)) for c in per.values())
        unplaced[p.slug] = int(per.get(None, {}).get("n", 0))
        placed_any = placed_any or classified > unplaced[p.slug]
        cells[p.slug] = {s["id"]: _cell(per.get(s["id"], {}), classified, issues.get(p.id, {}).get(s["id"], ()),
                                        s["id"], min_n) for s in steps}
        for s in steps:
            cells[p.slug][s["id"]]["slug"] = p.slug
    by_slug = {p.slug: p for p in products}
    comparisons: list[dict[str, Any]] = []
    if baseline in by_slug:
        assert baseline is not None  # by_slug holds it
        base = by_slug[baseline]
        we = "We" if base.own else base.name
        for p in products:
            if p.slug == baseline:
                continue
            for s in steps:
                row = compare_step(s, cells[baseline][s["id"]], cells[p.slug][s["id"]], base.name, p.name, we, min_n)
                if row:
                    comparisons.append(row)
    order = {REAL: 0, SMALL: 1, NOISE: 2}
    comparisons.sort(key=lambda r: (order[r["verdict"]], -abs(r["diff"])))
    opportunities = {
        p.slug: [s["id"] for s in sorted(steps, key=lambda s: -(cells[p.slug][s["id"]]["opportunity"] or 0.0))
                 if cells[p.slug][s["id"]]["opportunity"] is not None and not cells[p.slug][s["id"]]["small"]]
        for p in products}
    return {"steps": steps, "products": [p.slug for p in products], "baseline": baseline, "min_n": min_n,
            "placed": placed_any, "cells": cells, "unplaced": unplaced, "comparisons": comparisons,
            "lose": [r for r in comparisons if r["direction"] == "lose"],
            "win": [r for r in comparisons if r["direction"] == "win"],
            "opportunities": opportunities}
