"""The report's English summary: where the baseline wins and loses, from the significant comparisons only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _fmt_value(c: Mapping[str, Any], value: float) -> str:
    return f"{value:.2f}" if c["kind"] == "mean" else _pct(value)


def _fmt_diff(c: Mapping[str, Any]) -> str:
    if c["kind"] == "mean":
        lo, hi = c["ci"]
        return f"{c['diff']:+.2f}, 95% CI {lo:+.2f} to {hi:+.2f}"
    lo, hi = c["ci"]
    return f"{100 * c['diff']:+.1f} pts, 95% CI {100 * lo:+.1f} to {100 * hi:+.1f}"


def summarise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Where the baseline wins and loses, built only from the significant comparisons."""
    baseline = data["meta"]["baseline"]
    if baseline is None:
        return {"wins": [], "losses": [], "not_significant": 0, "small": [], "text": "No products to compare."}
    names = {p["slug"]: p["name"] for p in data["products"]}
    small = sorted(p["slug"] for p in data["products"] if p["small"])
    wins: list[dict[str, Any]] = []
    losses: list[dict[str, Any]] = []
    unclear = 0
    for c in data["comparisons"]:
        if c["small"]:
            continue
        if not c["significant"]:
            unclear += 1
            continue
        good = (c["diff"] > 0) == c["higher_is_better"]
        item = {"metric": c["metric"], "against": c["b"], "a_value": c["a_value"], "b_value": c["b_value"],
                "diff": c["diff"], "ci": c["ci"],
                "text": f"{'higher' if c['diff'] > 0 else 'lower'} {c['metric']} ({_fmt_value(c, c['a_value'])} vs "
                        f"{_fmt_value(c, c['b_value'])}, {_fmt_diff(c)})"}
        (wins if good else losses).append(item)
    who = names[baseline]
    parts = []
    for other in (p["slug"] for p in data["products"]):
        if other == baseline or other in small:
            continue
        w = [x["text"] for x in wins if x["against"] == other]
        lost = [x["text"] for x in losses if x["against"] == other]
        sentence = f"Against {names[other]}, {who} "
        sentence += ("wins on " + "; ".join(w)) if w else "has no significant win"
        sentence += (" and loses on " + "; ".join(lost)) if lost else " and no significant loss"
        parts.append(sentence + ".")
    if unclear:
        parts.append(f"{unclear} other difference{'s are' if unclear != 1 else ' is'} not significant at 95%.")
    if small:
        parts.append("Too few classified posts to compare (n < {}): {}.".format(
            data["meta"]["min_n"], ", ".join(names[s] for s in small)))
    return {"wins": wins, "losses": losses, "not_significant": unclear, "small": small, "text": " ".join(parts)}

