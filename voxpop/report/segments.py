"""Needs-based segments: within a job, the groups of customers who do it in different contexts.

"Not all customers performing a job have the same needs; they perform it in different contexts."
A context is read from the customers' own words by a small rule-based extractor (device: "on my iPad";
tool: "with a pencil"; setting: "for my clients", "at work", "in class", "offline on flights"; role:
"as a teacher"; frequency: "every day"; scale: "thousands of notes"). Phrases are normalised to a key
(a lexicon folds synonyms: iPad and tablet, clients and work, plane and offline; an unknown word stays
its own key) and, optionally, keys whose phrases embed close together are merged. Each post goes to the
largest context it names; a segment is named by its most common phrase, and has a size, a negative
share, its top unmet needs and the competitor its members praise. Phrases that only restate the job
("to PDF" for an export job) are dropped, and segments under ``min_size`` posts are not shown.

Pure functions over plain inputs (:class:`SegmentPost`), so the report, the dashboard and the bench
share them; :func:`voxpop.report.jobmap_queries.segment_posts` loads the posts from the store.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from voxpop.report.figures import share

if TYPE_CHECKING:  # numpy only with an encoder: the report (no encoder) starts without it
    import numpy as np

DEFAULT_MIN_SIZE = 5
MERGE_SIMILARITY = 0.8  # keys whose phrases embed this close are one context
JOB_SIMILARITY = 0.75  # a phrase this close to the job statement is the job, not a context

# A post joins the segments of the jobs it is mainly about: a job scored this far below the post's best
# job is a side mention ("templates for meeting notes" scoring on export as its third job), and its
# context would describe another job's customers.
MAIN_JOB_MARGIN = 0.1

Embed = Callable[[list[str]], "np.ndarray"]


def main_jobs(scored: Sequence[tuple[str, float]], margin: float = MAIN_JOB_MARGIN) -> tuple[str, ...]:
    """The jobs of a post within ``margin`` of its best score, best first (a person's jobs: pass score 1.0)."""
    ranked = sorted(((job, float(score)) for job, score in scored if job), key=lambda js: -js[1])
    if not ranked:
        return ()
    best = ranked[0][1]
    return tuple(dict.fromkeys(job for job, score in ranked if score >= best - margin))


@dataclass(frozen=True)
class SegmentPost:
    """What segment discovery needs of one classified post."""

    post_id: int
    product: str
    text: str
    jobs: tuple[str, ...]
    sentiment: str | None = None
    unmet: bool = False
    need_type: str | None = None
    step: str | None = None
    issue_id: int | None = None
    issue_label: str | None = None


@dataclass(frozen=True)
class Context:
    """One context phrase as written (``phrase``), its normalised ``key`` and its ``facet``."""

    phrase: str
    key: str
    facet: str


_DET = r"(?:(?:my|our|an?|the|his|her|their|this|that|new|old|work|school|own)\s+)*"
# Canonical keys for known words: (facet, key).
_LEXICON: dict[str, tuple[str, str]] = {}
for _facet, _key, _words in (
    ("device", "tablet", "ipad ipads tablet tablets galaxy-tab ipad-pro ipad-air ipad-mini"),
    ("device", "phone", "iphone iphones phone phones android pixel smartphone mobile"),
    ("device", "computer", "laptop laptops mac macbook pc windows desktop computer chromebook linux"),
    ("device", "watch", "watch apple-watch"),
    ("tool", "pencil", "pencil apple-pencil stylus pen"),
    ("tool", "keyboard", "keyboard"),
    ("setting", "work", "work job office business clients client customers customer meetings meeting "
                        "colleagues coworkers co-workers boss company consulting team teams"),
    ("setting", "study", "class classes school university college lectures lecture studies studying exams "
                         "students student course courses uni homework thesis classmates school-nights "
                         "us-students students-like-me"),
    ("setting", "home", "home family kids household son daughter children"),
    ("setting", "on the go", "on-the-go on-the-road traveler traveller travelling-a-lot"),
    ("setting", "solo", "solo alone solo-player"),
    ("setting", "group", "with-friends friends group small-group"),
    ("setting", "offline", "offline plane planes flight flights train trains subway commute airplane travel "
                           "travelling traveling trips trip"),
    ("role", "teacher", "teacher teachers teaching"),
    ("device", "pc hardware", "potato potato-pc budget-pc beefy-pc low-end high-end ssd"),
    ("role", "writer", "writer writers novel novels writing-projects"),
    ("role", "developer", "developer developers programmer coding"),
    ("role", "researcher", "researcher research"),
    ("frequency", "daily", "daily every-day everyday every-morning every-night every-evening"),
    ("scale", "large library", "thousands hundreds"),
):
    for _w in _words.split():
        _LEXICON[_w.replace("-", " ")] = (_facet, _key)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((facet, re.compile(rx, re.IGNORECASE)) for facet, rx in (
    ("device", rf"\b(?:on|from|using|with)\s+{_DET}(?:\d+(?:\.\d+)?[\"”'′]?\s+)?((?:ipad|iphone|android|phone|tablet|"
               rf"laptop|mac(?:book)?|pc|windows|chromebook|desktop|computer|pixel|galaxy(?: tab)?|smartphone|watch|"
               rf"linux|mobile(?: phone)?|chromecast)(?:\s+(?:pro|air|mini))?)\b"),
    # A device named on its own is context enough ("iPhone x", "my iPad").
    ("device", r"\b(ipad|iphone|android|chromebook|chromecast|apple watch)\b"),
    ("device", r"\b(potato(?:\s+(?:pc|mode|settings))?|budget pc|beefy pc|low[- ]end|high[- ]end|ssd)\b"),
    ("tool", rf"\bwith\s+{_DET}((?:apple\s+)?(?:pencil|stylus|pen|keyboard))\b"),
    ("setting", rf"\b(?:for|at|in|during)\s+{_DET}(work|job|office|business|clients?|customers?|meetings?|class(?:es)?|"
                rf"school|university|college|lectures?|studies|exams|courses?|uni|homework|thesis|home|family|kids|"
                rf"consulting|company)\b"),
    ("setting", rf"\bwith\s+{_DET}(team|colleagues|coworkers|co-workers|students|family|clients|boss)\b"),
    ("setting", r"\b(offline|without (?:internet|wifi|wi-fi|a connection|signal|reception|network))\b"),
    ("setting", rf"\b(?:on|during|in)\s+{_DET}(planes?|flights?|trains?|subway|commute|airplane|trips?)\b"),
    ("role", r"\b(?:as|i am|i'm|im)\s+an?\s+(?:\w+\s+)?(teacher|student|nurse|doctor|lawyer|developer|designer|writer|"
             r"manager|freelancer|researcher|parent|engineer|consultant|programmer|journalist|traveler|traveller|"
             r"solo player)\b"),
    ("setting", r"\b(on the go|on the road|solo|with friends|in a (?:small )?group|in small groups?|"
                r"us students|students like me|school nights?)\b"),
    ("setting", r"\b(?:my|our)\s+(school|classmates|teacher|students|kids|son|daughter|children|family|office|boss)\b"),
    ("frequency", r"\b(every\s+(?:single\s+)?(?:day|morning|night|evening|week)|daily|weekly)\b"),
    ("scale", r"\b((?:thousands|hundreds)\s+of\s+(?:notes|pages|notebooks|files|documents)|over\s+\d{3,}\s+"
              r"(?:notes|pages|notebooks|files))\b"),
    # Open forms in the customer's words: "for my <noun>", "on my <noun>".
    ("other", r"\b(?:for|on)\s+(?:my|our)\s+([a-z][a-z-]{3,})\b"),
))
_STOP = {"notes", "note", "app", "apps", "data", "stuff", "things", "thing", "life", "part", "opinion", "own", "way",
         "list", "lists", "files", "file", "account", "accounts", "time", "head", "mind", "end", "side", "case",
         "eyes", "favorite", "favourite", "experience", "review", "money", "screen", "page", "pages", "entries",
         "notebook", "notebooks", "ideas", "idea", "thoughts", "recipes", "journals", "journal", "documents",
         "document", "content", "information", "work-flow", "workflow", "days", "hand", "hands", "place",
         "password", "settings", "version", "update", "device", "devices", "inbox", "primary", "drive", "rating",
         "help", "pictures", "photos", "emails", "email", "mail", "messages", "behalf", "game", "games",
         "computer", "phone", "ipad", "iphone"}
_WORD = re.compile(r"[a-z][a-z'-]+")
# Words too general to say what a segment needs.
_NEED_STOP = {"please", "would", "could", "need", "want", "love", "app", "note", "notes", "just", "really", "all",
              "when", "after", "the", "and", "but", "not", "this", "that", "with", "for", "from", "they", "them",
              "have", "has", "does", "doe", "did", "was", "are", "every", "only", "one", "use", "add", "come", "see",
              "get", "make", "keep", "like", "way", "thing", "also", "still", "even", "much", "can", "will"}
# Words of a job statement that name what is done, not where ("work on them together", "join meetings").
_ACTIVITY_WORDS = {"work", "working", "meeting", "meetings", "job", "study", "studying", "writing", "coding",
                   "research", "teaching", "record"}
_JOB_STOP = {"my", "the", "a", "an", "and", "or", "to", "of", "in", "on", "for", "with", "like", "other", "into",
             "out", "get", "keep", "have", "i", "so", "can", "them", "every", "use", "it", "is", "before"}


@lru_cache(maxsize=1 << 16)  # reviews repeat their words: a dict lookup instead of the rules per word
def _lemma(word: str) -> str:
    word = word.lower().strip("'-")
    if word in _LEXICON:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


# Words a text must contain for each pattern of ``_PATTERNS`` (in order) to match it: every group of a
# pattern's entry must have one of its words in the folded text. A pattern whose words are missing cannot
# match, so it is not run (most texts name no context, and 15 case-blind patterns per text were the
# segments' cost). Each word is a literal that any match of the pattern contains, whichever branch matched.
_TRIGGERS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("ipad", "phone", "android", "tablet", "laptop", "mac", "pc", "windows", "chromebook", "desktop", "computer",
      "pixel", "galaxy", "watch", "linux", "mobile", "chromecast"),),
    (("ipad", "iphone", "android", "chromebook", "chromecast", "apple watch"),),
    (("potato", "budget pc", "beefy pc", "low-end", "low end", "high-end", "high end", "ssd"),),
    (("with",), ("pen", "stylus", "keyboard")),
    (("work", "job", "office", "business", "client", "customer", "meeting", "class", "school", "uni", "college",
      "lecture", "studies", "exams", "course", "thesis", "home", "family", "kids", "consulting", "company"),),
    (("with",), ("team", "colleagues", "coworkers", "co-workers", "students", "family", "clients", "boss")),
    (("offline", "without"),),
    (("plane", "flight", "train", "subway", "commute", "trip"),),
    (("teacher", "student", "nurse", "doctor", "lawyer", "developer", "designer", "writer", "manager", "freelancer",
      "researcher", "parent", "engineer", "consultant", "programmer", "journalist", "traveler", "traveller",
      "solo player"),),
    (("on the go", "on the road", "solo", "with friends", "group", "us students", "students like me",
      "school night"),),
    (("my", "our"), ("school", "classmates", "teacher", "students", "kids", "son", "daughter", "children", "family",
                     "office", "boss")),
    (("every", "daily", "weekly"),),
    (("thousands", "hundreds", "over"),),
    (("my", "our"), ("for", "on")),
)
# Case-blind matching also pairs these four non-ASCII letters with ASCII ones (Kelvin sign and k, long s
# and s, dotted and dotless I and i); folding them first makes ``str.lower`` as blind as the patterns.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _fold(text: str) -> str:
    """The text as the patterns' case-blind match sees it, for the trigger-word check."""
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, factored by common prefixes (one branch per letter, not one per
    word, so a scan tests a few letters at each position) and preferring the longest word."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch] + ([""] if "" in node else [])
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
    return emit(tree)


def _trigger_index() -> tuple[re.Pattern[str], dict[str, int], tuple[tuple[int, ...], ...]]:
    """The trigger scan (every position's longest trigger word), each word's bits (one bit per group of a
    pattern's triggers) and each pattern's group bits."""
    bits: dict[str, int] = {}
    groups: list[tuple[int, ...]] = []
    n = 0
    for entry in _TRIGGERS:
        mine = []
        for group in entry:
            for word in group:
                bits[word] = bits.get(word, 0) | 1 << n
            mine.append(1 << n)
            n += 1
        groups.append(tuple(mine))
    # The scan reports one word per position, the longest; the shorter trigger words starting there (its
    # prefixes: "on" of "on the go") are in the text as well.
    closed = dict.fromkeys(bits, 0)
    for word in bits:
        for prefix, prefix_bits in bits.items():
            if word.startswith(prefix):
                closed[word] |= prefix_bits
    return re.compile(f"(?=({_trie(bits)}))"), closed, tuple(groups)


_TRIGGER_SCAN, _TRIGGER_BITS, _PATTERN_GROUPS = _trigger_index()


@lru_cache(maxsize=4096)
def _patterns_for(found: int) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The patterns (in order) whose every trigger group has a bit in ``found``."""
    return tuple(fp for fp, groups in zip(_PATTERNS, _PATTERN_GROUPS, strict=True)
                 if all(found & bit for bit in groups))


def extract_contexts(text: str) -> list[Context]:
    """The context phrases of a text, in order, one per key."""
    return list(_contexts_of(text or ""))


# A post's phrases depend on its text alone; a dashboard reads the same newest posts again for each new
# period, so the scan (most of the segments' Python time) runs once per text.
@lru_cache(maxsize=1 << 14)  # a view reads 9,000 posts at most (PER_PRODUCT of 3 products)
def _contexts_of(text: str) -> tuple[Context, ...]:
    found = 0
    for word in _TRIGGER_SCAN.findall(_fold(text or "")):
        found |= _TRIGGER_BITS[word]
    patterns = _patterns_for(found)
    return tuple(_extract(text, patterns)) if patterns else ()


def _extract(text: str, patterns: Sequence[tuple[str, re.Pattern[str]]]) -> list[Context]:
    """The contexts that ``patterns`` (a subsequence of ``_PATTERNS``, in order) find in the text."""
    out: dict[str, Context] = {}
    spans: list[tuple[int, int]] = []
    for facet, pattern in patterns:
        for m in pattern.finditer(text or ""):
            if facet == "other" and any(a <= m.start(1) < b for a, b in spans):
                continue
            head = " ".join(m.group(1).lower().replace("-", " ").split())
            if facet == "other" and (head in _STOP or _lemma(head) in _STOP):
                continue
            known = _LEXICON.get(head) or _LEXICON.get(head.split()[-1]) or _LEXICON.get(head.split()[0])
            if facet == "frequency":
                known = ("frequency", "daily" if "week" not in head else "weekly")
            elif facet == "scale":
                known = ("scale", "large library")
            elif facet == "setting" and head.startswith("without"):
                known = ("setting", "offline")
            elif facet == "role" and head == "student":
                known = ("setting", "study")
            fac, key = known if known else (facet, _lemma(head))
            spans.append((m.start(), m.end()))
            phrase = " ".join(m.group(0).split())
            out.setdefault(key, Context(phrase, key, fac))
    return list(out.values())


@lru_cache(maxsize=1 << 14)  # a job's posts are read again for each of its segments (the others' words)
def _content_words(text: str) -> frozenset[str]:
    return frozenset(_lemma(w) for w in _WORD.findall(text.lower()) if w not in _JOB_STOP)


def near_job(context: Context, job_words: AbstractSet[str]) -> bool:
    """Whether a phrase only restates the job: every content word of it is a word of the job, or the job
    names the same context ("collaborate with my team" and "with my colleagues" are both ``work``)."""
    words = _content_words(context.phrase) - {"my", "our"}
    if bool(words) and words <= job_words:
        return True
    return any(_LEXICON.get(w, ("", None))[1] == context.key for w in job_words - _ACTIVITY_WORDS)


def _merge_keys(phrases: Mapping[str, Counter[str]], embed: Embed | None) -> dict[str, str]:
    """Key -> the key it is merged into (by embedding similarity of their most common phrases)."""
    keys = sorted(phrases, key=lambda k: (-sum(phrases[k].values()), k))
    target = {k: k for k in keys}
    if embed is None or len(keys) < 2:
        return target
    import numpy as np

    vectors = np.asarray(embed([phrases[k].most_common(1)[0][0] for k in keys]), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    for i, key in enumerate(keys):
        for j in range(i):
            if target[keys[j]] == keys[j] and float(vectors[i] @ vectors[j]) >= MERGE_SIMILARITY:
                target[key] = keys[j]
                break
    return target


def _distinct_words(members: Sequence[SegmentPost], others: Sequence[SegmentPost], drop: AbstractSet[str],
                    limit: int = 4) -> list[str]:
    """Words of a segment's unmet-need posts that its job's other posts use less (what they ask for)."""
    def counts(posts: Iterable[SegmentPost]) -> tuple[Counter[str], int]:
        c: Counter[str] = Counter()
        n = 0
        for p in posts:
            n += 1
            c.update({w for w in _content_words(p.text) if len(w) > 2} - drop)
        return c, n

    mine, n_mine = counts(m for m in members if m.unmet)
    rest, n_rest = counts(o for o in others if o.unmet)
    if not n_mine:
        return []
    scored = [(c / n_mine - rest.get(w, 0) / max(n_rest, 1), w) for w, c in mine.items() if c >= 2]
    return [w for s, w in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0][:limit]


def _quote(members: Sequence[SegmentPost], words: Sequence[str]) -> str | None:
    unmet = [m for m in members if m.unmet] or list(members)
    if not unmet:
        return None
    best = max(unmet, key=lambda m: (sum(w in _content_words(m.text) for w in words), -len(m.text), -m.post_id))
    text = " ".join(best.text.split())
    return text if len(text) <= 200 else text[:199].rstrip() + "…"


def find_segments(posts: Sequence[SegmentPost], jobs: Mapping[str, str], *, own: str | None = None,
                  min_size: int = DEFAULT_MIN_SIZE, min_n: int = 30, embed: Embed | None = None,
                  job_examples: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The segments of each job (``{job id: statement}``), largest first, as JSON-able dicts.

    Args:
        posts: classified posts with their jobs (any product).
        jobs: the jobs to segment, id -> statement.
        own: our product's slug (a segment's praised competitor is never ours).
        min_size: segments with fewer posts are not returned.
        min_n: shares under this base are flagged small.
        embed: optional phrase encoder (texts -> vectors) to merge keys that mean the same and to drop
            phrases that embed close to the job statement.
        job_examples: the jobs' example phrases, also read as "the job" when dropping synonyms.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    extracted: dict[int, tuple[Context, ...]] = {}
    for job_id, statement in jobs.items():
        members_all = [p for p in posts if job_id in p.jobs]
        job_text = " ".join([statement, *((job_examples or {}).get(job_id) or ())])
        job_words = _content_words(job_text) | {_lemma(w) for w in _content_words(job_id.replace("-", " "))}
        contexts: dict[int, list[Context]] = {}
        phrases: dict[str, Counter[str]] = defaultdict(Counter)
        surface: dict[str, Counter[str]] = defaultdict(Counter)  # lowercased phrase -> as written
        facets: dict[str, str] = {}
        for p in members_all:
            if p.post_id not in extracted:
                extracted[p.post_id] = _contexts_of(p.text or "")
            found = [c for c in extracted[p.post_id] if not near_job(c, job_words)]
            contexts[p.post_id] = found
            for c in found:
                phrases[c.key][c.phrase.lower()] += 1
                surface[c.phrase.lower()][c.phrase] += 1
                facets.setdefault(c.key, c.facet)
        if embed is not None and phrases:
            import numpy as np

            keys = sorted(phrases)
            vec = np.asarray(embed([statement] + [phrases[k].most_common(1)[0][0] for k in keys]), dtype=np.float32)
            vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)
            for k, v in zip(keys, vec[1:], strict=True):
                if float(v @ vec[0]) >= JOB_SIMILARITY:
                    del phrases[k]
        merged = _merge_keys(phrases, embed)
        size: Counter[str] = Counter()
        for p in members_all:
            size.update({merged[c.key] for c in contexts[p.post_id] if c.key in merged})
        assigned: dict[str, list[SegmentPost]] = defaultdict(list)
        for p in members_all:
            post_keys = {merged[c.key] for c in contexts[p.post_id] if c.key in merged}
            if post_keys:
                assigned[min(post_keys, key=lambda k: (-size[k], k))].append(p)
        segments: list[dict[str, Any]] = []
        for key, members in assigned.items():
            if len(members) < min_size:
                continue
            names: Counter[str] = Counter()
            for k, target in merged.items():
                if target == key:
                    names.update(phrases[k])
            top = names.most_common(1)[0][0]
            name = surface[top].most_common(1)[0][0] if surface.get(top) else top
            inside = {m.post_id for m in members}
            others = [p for p in members_all if p.post_id not in inside]
            drop = (_content_words(" ".join(names)) | _NEED_STOP
                    | {w for w, (_, k) in _LEXICON.items() if k == key})  # "at work" says where, not what
            words = _distinct_words(members, others, drop)
            issues = Counter(m.issue_label for m in members if m.issue_label and m.unmet)
            classified = [m for m in members if m.sentiment]
            praise = Counter(m.product for m in members if m.sentiment == "positive" and m.product != own)
            products = Counter(m.product for m in members)
            segments.append({
                "job": job_id, "key": key, "name": name, "facet": facets.get(key, "other"), "size": len(members),
                "products": dict(products.most_common()),
                "negative": share(sum(1 for m in classified if m.sentiment == "negative"), len(classified), min_n),
                "unmet": share(sum(1 for m in members if m.unmet), len(members), min_n),
                "top_issues": [{"label": label, "posts": n} for label, n in issues.most_common(3)],
                "need_words": words, "quote": _quote(members, words),
                "praises": ({"product": praise.most_common(1)[0][0], "posts": praise.most_common(1)[0][1]}
                            if praise else None),
                "phrases": [p for p, _ in names.most_common(5)],
                "post_ids": sorted(m.post_id for m in members),
            })
        segments.sort(key=lambda s: (-int(s["size"]), str(s["key"])))
        if segments:
            out[job_id] = segments
    return out


def segment_summary(segments: Mapping[str, Sequence[Mapping[str, Any]]], limit_ids: int = 0) -> dict[str, Any]:
    """The segments without their post ids (or with the first ``limit_ids``), for reports."""
    return {job: [{k: (v[:limit_ids] if k == "post_ids" else v) for k, v in s.items()} for s in items]
            for job, items in segments.items()}
