"""Themes across products: issues of different products about the same need share one theme (pure).

A theme links, say, Notely's "reminders" with Jotter's and Scribbly's "set reminders". It is found from the
issues' centroids (float32, L2-normalised, so a dot product is a cosine) and their labels:

* two issues of different products are linked when their centroids' cosine is at least ``similarity``
  (0.65), or at least ``word_similarity`` (0.60) and their labels share a content word;
* links are taken strongest first and join two groups only while the mean cosine between the groups stays
  at least ``word_similarity`` (average linkage), so one loose pair cannot chain unrelated needs together;
* a group becomes a theme only when it spans two products or more;
* issues a person placed (``by_hand``, in a theme or in none) are left out of the pass: they stay where
  they were put, and only they move (placing Scribbly's issue in a new theme does not drag the issues it
  resembles along).

Thresholds, checked on the demo's issues (``voxpop demo``, packaged model): the three reminder issues
match at 0.73-0.82; the closest wrong pair ("lock individual" against Scribbly's "set reminders", whose
posts mix both needs) is 0.57 and every other cross-product pair is 0.41 or less. The report's older
``match_similarity`` (0.55) would have joined that wrong pair; 0.65 alone, or 0.60 with a shared label word,
keeps a margin on both sides.

The label of an automatic theme is the most common issue label among its members (case and plural
folded), ties going to the more specific label, then the issue nearest the theme's mean; a theme a
person named keeps its name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

THEME_SIMILARITY = 0.65
THEME_WORD_SIMILARITY = 0.60
LINK_BLOCK = 1024
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at be but by can can't cannot for from i in is it its my no not of on or so "
                  "the to too up with when while won't doesn't don't after before".split())


@dataclass(frozen=True)
class ThemeIssue:
    """What the pass needs of one issue."""

    id: int
    product_id: int
    label: str
    centroid: np.ndarray | None
    size: int = 0
    theme_id: int | None = None  # the theme it has now
    by_hand: bool = False  # a person set ``theme_id`` (None included): the pass keeps it


@dataclass(frozen=True)
class ThemeGroup:
    """One theme the pass found: the existing theme it continues (or None for a new one) and its members."""

    theme_id: int | None
    label: str
    issue_ids: tuple[int, ...]
    product_ids: tuple[int, ...]


@dataclass
class _Group:
    members: list[ThemeIssue]
    total: np.ndarray | None  # sum of the members' centroids
    products: set[int] = field(default_factory=set)

    def n(self) -> int:
        return sum(1 for m in self.members if m.centroid is not None)


def label_words(label: str) -> frozenset[str]:
    """The content words of a label, lower-case, a plural ``s`` folded ("Set reminders" -> {set, reminder})."""
    words = set()
    for w in _WORD.findall((label or "").lower()):
        if w in _STOP or len(w) < 3:
            continue
        words.add(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return frozenset(words)


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None or vector.size == 0:
        return None
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else None


def assign_themes(issues: Iterable[ThemeIssue], *, similarity: float = THEME_SIMILARITY,
                  word_similarity: float = THEME_WORD_SIMILARITY,
                  named: Mapping[int, str] | None = None) -> list[ThemeGroup]:
    """Group issues across products into themes.

    Args:
        issues: every issue that may belong to a theme (with its current theme and whether a person set it).
        similarity: cosine that links two issues of different products on its own.
        word_similarity: cosine that links them when their labels share a content word; also the least mean
            cosine between two groups that may merge.
        named: theme id -> label for themes a person named (kept as they are).

    Returns:
        The themes, largest first: each continues an existing theme id where its members had one.
    """
    named = dict(named or {})
    items = [ThemeIssue(i.id, i.product_id, i.label, _unit(i.centroid), i.size, i.theme_id, i.by_hand)
             for i in issues]
    dims = Counter(i.centroid.shape[0] for i in items if i.centroid is not None)
    dim = dims.most_common(1)[0][0] if dims else 0
    items = [i if i.centroid is None or i.centroid.shape[0] == dim else
             ThemeIssue(i.id, i.product_id, i.label, None, i.size, i.theme_id, i.by_hand) for i in items]
    groups: dict[int, _Group] = {}
    where: dict[int, int] = {}
    for item in items:
        if item.by_hand:
            continue  # a person placed it (in a theme or in none): only that issue moves, and only by hand
        where[item.id] = len(groups)
        groups[len(groups)] = _Group([item], None if item.centroid is None else item.centroid.copy(),
                                     {item.product_id})
    for a, b in _links(items, where, similarity, word_similarity):
        ga, gb = where[a], where[b]
        if ga == gb:
            continue
        left, right = groups[ga], groups[gb]
        if left.total is None or right.total is None:
            continue
        mean = float(left.total @ right.total) / (left.n() * right.n())
        if mean < word_similarity:
            continue
        left.members += right.members
        left.total = left.total + right.total
        left.products |= right.products
        for m in right.members:
            where[m.id] = ga
        del groups[gb]
    return _named_groups([g for g in groups.values() if len(g.products) >= 2], named)


def _links(items: Sequence[ThemeIssue], where: Mapping[int, int], similarity: float,
           word_similarity: float) -> list[tuple[int, int]]:
    """Pairs of issues of different products close enough to link, strongest first."""
    placed = [i for i in items if i.id in where and i.centroid is not None]
    if len(placed) < 2:
        return []
    matrix = np.stack([i.centroid for i in placed]).astype(np.float32)  # type: ignore[misc]
    products = np.array([i.product_id for i in placed])
    words = [label_words(i.label) for i in placed]
    pairs = []
    for start in range(0, len(placed), LINK_BLOCK):  # blocks of rows: memory stays O(block x issues)
        sims = matrix[start:start + LINK_BLOCK] @ matrix.T
        rows, cols = np.nonzero(sims >= word_similarity)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c <= i or products[i] == products[c]:
                continue
            s = float(sims[r, c])
            if s >= similarity or (words[i] & words[c]):
                pairs.append((-s, placed[i].id, placed[c].id))
    pairs.sort()
    return [(a, b) for _, a, b in pairs]


def _named_groups(groups: list[_Group], named: Mapping[int, str]) -> list[ThemeGroup]:
    """Give each group its theme id (kept where its members had one) and its label, largest first."""
    groups.sort(key=lambda g: (-len(g.products), -sum(m.size for m in g.members), min(m.id for m in g.members)))
    taken: set[int] = set()
    out = []
    for g in groups:
        had = Counter(m.theme_id for m in g.members if m.theme_id is not None and m.theme_id not in taken)
        theme_id = max(had.items(), key=lambda kv: (kv[1], -kv[0]))[0] if had else None
        if theme_id is not None:
            taken.add(theme_id)
        label = named.get(theme_id, "") if theme_id is not None else ""
        out.append(ThemeGroup(theme_id, label or representative_label(g.members),
                              tuple(sorted(m.id for m in g.members)), tuple(sorted(g.products))))
    return out


def representative_label(members: Sequence[ThemeIssue]) -> str:
    """The most common member label (case and plurals folded); ties to the more specific label (more content
    words, up to four: "set reminders" over "reminders"), then to the member nearest the mean."""
    vectors = [m.centroid for m in members if m.centroid is not None]
    mean = _unit(np.sum(vectors, axis=0)) if vectors else None

    def key(label: str) -> tuple[str, ...]:
        return tuple(sorted(label_words(label))) or (label.strip().lower(),)

    counts = Counter(key(m.label) for m in members if m.label)
    if not counts:
        return "unlabelled theme"
    best = max(counts.values())

    def closeness(m: ThemeIssue) -> float:
        return float(m.centroid @ mean) if m.centroid is not None and mean is not None else -1.0

    top = [m for m in members if m.label and counts[key(m.label)] == best]
    return max(top, key=lambda m: (min(len(label_words(m.label)), 4), closeness(m), m.size, -m.id)).label
