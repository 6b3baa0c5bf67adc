"""Needs-based segments: the context extractor, the grouping rules, and the segments of the demo's content
classified by the real packaged model."""

from __future__ import annotations

from datetime import date
from itertools import count

import pytest

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
