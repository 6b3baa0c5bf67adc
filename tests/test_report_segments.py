"""Needs-based segments: the context extractor, the grouping rules, and the segments of the demo's content
classified by the real packaged model."""

from __future__ import annotations

import random
import re
import sys
from datetime import date
from itertools import count

import pytest

from voxpop.report import segments
from voxpop.report.segments import Context, SegmentPost, extract_contexts, find_segments, main_jobs, near_job

_ids = count(1)


def _post(text: str, product: str = "ours", jobs: tuple[str, ...] = ("export",), sentiment: str = "negative",
          unmet: bool = True, issue: str | None = None) -> SegmentPost:
    return SegmentPost(post_id=next(_ids), product=product, text=text, jobs=jobs, sentiment=sentiment, unmet=unmet,
                       need_type="feature_request" if unmet else "praise", issue_id=1 if issue else None,
                       issue_label=issue)


def test_extractor_reads_device_tool_setting_role_frequency_and_scale() -> None:
    def keys(text: str) -> list[tuple[str, str]]:
        return [(c.key, c.facet) for c in extract_contexts(text)]

    assert keys("Export crashes on my iPad Pro with the Apple Pencil") == [("tablet", "device"), ("pencil", "tool")]
    assert keys("I use it for my clients every day") == [("work", "setting"), ("daily", "frequency")]
    assert keys("As a teacher I use it in class") == [("study", "setting"), ("teacher", "role")]
    assert keys("offline on flights it is useless") == [("offline", "setting")]
    assert keys("thousands of notes and counting") == [("large library", "scale")]
    assert keys("great for my garden") == [("garden", "other")]  # an unknown context keeps the customer's word
    assert keys("for my notes, on my own") == []
    assert extract_contexts("on my iPad")[0].phrase == "on my iPad"


# Texts in our own words that name (or nearly name) every kind of context, some in odd cases and letters.
_VARIED = [
    "Export crashes on my iPad Pro with the Apple Pencil", "I use it for my clients every day",
    "As a teacher I use it in class", "offline on flights it is useless", "thousands of notes and counting",
    "great for my garden", "for my notes, on my own", "ON MY IPHONE AND MY MACBOOK AIR", "using a 12.9\" ipad mini",
    "I'm a nurse on night shifts", "im an indie developer", "i am a grad student working from home",
    "with my team and my boss at the office", "on the go, on the road, solo or with friends",
    "in a small group, in small groups, us students, students like me, on school nights",
    "my kids, my son and my daughter share it", "every single morning and weekly on Sundays",
    "over 1200 pages", "hundreds of notebooks", "without wifi on the subway or on my commute",
    "potato pc, budget pc, low-end and high end laptops with an ssd", "works on Chromecast and android",
    "typing with my keyboard, drawing with the stylus", "for our wedding-planning", "on my   \n tablet",
    "during lectures and exams at uni", "with co-workers during meetings", "Apple Watch on the plane",
    "Cl\u0130ents at wor\u212a on my \u0131Pad, \u017fchool nights", "caf\u00e9 on my Pixel \u2019s \U0001F600",
    "on my bike", "my son likes it", "cannot open it", "sync fails after the update", "", "a", "pen pal",
    "machine learning", "impact on ux",
]


def test_the_trigger_word_check_skips_only_patterns_that_cannot_match() -> None:
    """The fast path (patterns run only when the text has their trigger words) finds what running every
    pattern finds, on varied texts and on random mixes of the patterns' words in odd cases and letters."""
    rng = random.Random(29)
    words = sorted({w for entry in segments._TRIGGERS for group in entry for w in group} | set(segments._LEXICON)
                   | {"on", "my", "our", "for", "at", "in", "with", "as", "an", "i'm", "the", "of", "notes", "1200",
                      "apple", "pro", "air", "without", "wifi", "during", "using", "every single", "over"})
    odd = {"i": "\u0130\u0131I", "k": "\u212aK", "s": "\u017fS"}
    leads = ["on", "for", "at", "in", "with", "during", "using", "from", "as a", "i'm an", "every", "over", "my",
             "our", "without", "in a", "us", ""]
    dets = ["", "my", "our", "the", "a", "new", "work"]
    mixes = []
    for _ in range(3000):  # phrases shaped like the patterns: a lead word, maybe a determiner, a head word
        text = " ".join(f"{rng.choice(leads)} {rng.choice(dets)} {rng.choice(words + ['bike', 'garden'])}"
                        for _ in range(rng.randint(1, 4)))
        mixes += [text, text.upper(), "".join(rng.choice(odd[c]) if c in odd and rng.random() < 0.3 else c
                                              for c in text)]
    found = 0
    for text in _VARIED + [t.swapcase() for t in _VARIED] + mixes:
        fast, plain = extract_contexts(text), segments._extract(text, segments._PATTERNS)
        assert fast == plain, text
        found += bool(plain)
    assert found > 3000  # the texts do name contexts


def test_the_trigger_fold_is_as_case_blind_as_the_patterns() -> None:
    """Every character that case-blind matching pairs with an ASCII letter folds to that letter."""
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        for ch in re.findall(letter, everything, re.IGNORECASE):
            assert segments._fold(ch) == letter, (letter, hex(ord(ch)))


def test_a_phrase_that_restates_the_job_is_not_a_context() -> None:
    job_words = {"export", "pdf", "word", "format"}
    assert near_job(Context("in my word", "word", "other"), job_words)
    assert not near_job(Context("at work", "work", "setting"), job_words)


def test_segments_fold_synonyms_keep_their_own_needs_and_drop_small_groups() -> None:
    posts = [_post(f"On my iPad the handwriting vanishes when I export, case {i}", issue="handwriting lost")
             for i in range(4)]
    posts += [_post("Exporting from my tablet loses the handwriting ink")]
    posts += [_post(f"For my clients I need a Word docx export {i}") for i in range(3)]
    posts += [_post("At work we need docx files, please add a Word export"),
              _post("My boss at work wants docx, export to Word please")]
    posts += [_post("Offline on a plane the export fails")] * 1
    posts += [_post("On my iPad with a pencil, exporting keeps my handwriting", product="rival", sentiment="positive",
                    unmet=False)]
    posts += [_post("unrelated sync post on my iPad", jobs=("sync",))]
    found = find_segments(posts, {"export": "Export my notes to PDF or Word"}, own="ours", min_size=3, min_n=5)
    segs = {s["key"]: s for s in found["export"]}
    assert set(segs) == {"tablet", "work"}  # "offline" has one post, under the minimum size
    tablet, work = segs["tablet"], segs["work"]
    assert tablet["size"] == 6 and tablet["products"] == {"ours": 5, "rival": 1}
    assert tablet["name"] == "On my iPad"
    assert tablet["top_issues"] == [{"label": "handwriting lost", "posts": 4}]
    assert "handwriting" in tablet["need_words"] and "docx" in work["need_words"]
    assert "handwriting" not in work["need_words"]
    assert work["size"] == 5 and work["praises"] is None
    assert tablet["praises"] == {"product": "rival", "posts": 1}
    assert (tablet["negative"]["x"], tablet["negative"]["n"]) == (5, 6)
    assert "sync" not in found


def test_embeddings_merge_keys_that_mean_the_same() -> None:
    import numpy as np

    posts = [_post(f"for my garden {i}") for i in range(3)] + [_post(f"for my allotment {i}") for i in range(3)]

    def embed(texts: list[str]) -> np.ndarray:  # garden and allotment point the same way; the job elsewhere
        return np.array([[1.0, 0.0] if ("garden" in t or "allotment" in t) else [0.0, 1.0] for t in texts])

    apart = find_segments(posts, {"export": "Export my notes"}, min_size=3)
    merged = find_segments(posts, {"export": "Export my notes"}, min_size=3, embed=embed)
    assert len(apart["export"]) == 2
    assert len(merged["export"]) == 1 and merged["export"][0]["size"] == 6


@pytest.mark.slow
def test_the_demo_content_has_two_segments_of_the_export_job_with_different_needs() -> None:
    """The demo's reviews, classified by the real model: iPad-with-pencil people and at-work people export."""
    from classify.jobs import Job
    from classify.pipeline import Classifier
    from voxpop.demo import content

    jobs = [Job(i, s, tuple(e)) for i, s, e in content.JOBS]
    reviews = [(p.slug, r) for p in content.PRODUCTS for r in content.reviews_for(p, date(2026, 3, 1))]
    texts = [r.text for _, r in reviews]
    predictions = Classifier().predict(texts, jobs, ratings=[r.rating for _, r in reviews])
    posts = [SegmentPost(post_id=i, product=slug, text=r.text, jobs=main_jobs([(j.job, j.score) for j in pred.jobs]),
                         sentiment=pred.sentiment, unmet=pred.unmet_need, need_type=pred.need_type)
             for i, ((slug, r), pred) in enumerate(zip(reviews, predictions, strict=True))]
    found = find_segments(posts, {j.id: j.statement for j in jobs}, own="notely", min_size=5)
    export = {s["key"]: s for s in found["export-notes"]}
    assert {"tablet", "work"} <= set(export)
    assert "ipad" in export["tablet"]["name"].lower() and "handwriting" in export["tablet"]["need_words"]
    assert {"word", "docx"} & set(export["work"]["need_words"])
    assert "handwriting" not in export["work"]["need_words"]


def test_a_context_the_job_itself_names_is_not_a_segment() -> None:
    posts = [_post(f"Sharing pages with my colleagues is effortless {i}", jobs=("share",)) for i in range(6)]
    found = find_segments(posts, {"share": "Share notes and collaborate with my team"}, min_size=3)
    assert found == {}


def test_a_post_joins_the_segments_of_its_main_jobs_only() -> None:
    assert main_jobs([("templates", 0.93), ("export-notes", 0.72), ("sync", 0.9)]) == ("templates", "sync")
    assert main_jobs([("export-notes", 0.6)]) == ("export-notes",)
    assert main_jobs([]) == ()
