"""Needs-based segments on the hand-labelled jobs set: the segments found per job, and how often a segment's
posts were labelled (by a person) with a context that matches the segment's name.

    .venv/bin/python bench/jobs_segments.py [--labels DIR] [--split test|dev|all] [--predict] [--min-size N]

Data: ``bench/labels/jobs/`` (``products.toml`` + ``labels.jsonl``: per post its jobs, its step and the
context a reader saw, e.g. "on my iPhone XS", "for school"; texts joined back from ``../shared/data``).

1. Jobs of each post: the labelled jobs by default (segments are then measured apart from job errors);
   ``--predict`` classifies the posts with the packaged model and uses its jobs instead. The output
   says which.
2. Segments: :func:`voxpop.report.segments.find_segments` per product, the same code as the report.
3. Match: a post of a segment matches when its labelled context names the same context, read by the
   same extractor (same key: "on my iPhone XS" and "on iPhone" are both ``phone``) or sharing a content
   word with the segment's phrases. The share is over the segment's posts; "no labelled context"
   counts as a miss.
4. Extractor figures over all posts of the split: of the posts a person gave a context, the share
   where the extractor finds one (recall); of the posts where it finds one, the share a person gave a
   context (precision).

:func:`segment_figures` returns the figures as a dict, for ``bench/jobs.py`` to print beside its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxpop.report.segments import SegmentPost, extract_contexts, find_segments  # noqa: E402

DEFAULT_LABELS = ROOT / "bench" / "labels" / "jobs"
DEFAULT_MIN_SIZE = 3  # the labelled set has tens of posts per product, not thousands
_STOP = {"my", "the", "a", "an", "on", "for", "with", "in", "at", "from", "of", "to", "i", "we", "our", "us", "and"}


def _loader(labels_dir: Path) -> Any:
    """``load_jobs_set`` from ``bench/labels/jobs_set.py`` (beside the labels directory)."""
    try:
        from bench.labels.jobs_set import load_jobs_set  # type: ignore[import-not-found]

        if Path(labels_dir).resolve() == DEFAULT_LABELS.resolve():
            return load_jobs_set
    except ImportError:
        pass
    path = Path(labels_dir).resolve().parent / "jobs_set.py"
    if not path.is_file():
        raise SystemExit(f"no labels loader at {path}: the jobs set (bench/labels/jobs/ and jobs_set.py) is missing")
    spec = importlib.util.spec_from_file_location("_jobs_set", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["_jobs_set"] = module
    spec.loader.exec_module(module)
    return module.load_jobs_set


def _words(text: str) -> set[str]:
    return {w.strip(".,!?'\"").lower() for w in text.split()} - _STOP - {""}


def context_matches(labelled: str | None, segment: dict[str, Any]) -> bool:
    """Whether a person's context phrase names the segment's context (same key, or a shared content word)."""
    if not labelled:
        return False
    if segment["key"] in {c.key for c in extract_contexts(labelled)}:
        return True
    words = set().union(*(_words(p) for p in segment["phrases"])) if segment["phrases"] else set()
    return bool(words & _words(labelled))


def _predicted_jobs(jobs_set: Any, posts: Sequence[Any]) -> dict[int, tuple[str, ...]]:
    """The packaged model's jobs for each post (by index), scored against its product's jobs."""
    from classify.jobs import Job
    from classify.pipeline import Classifier

    model = Classifier()
    out: dict[int, tuple[str, ...]] = {}
    for slug, product in jobs_set.products.items():
        index = [i for i, p in enumerate(posts) if p.product == slug]
        if not index:
            continue
        jobs = [Job(j.id, j.statement, tuple(j.examples)) for j in product.jobs]
        for i, pred in zip(index, model.predict([posts[i].text for i in index], jobs), strict=True):
            out[i] = tuple(j.job for j in pred.jobs)
    return out


def segment_figures(jobs_set: Any, *, split: str = "test", predict: bool = False,
                    min_size: int = DEFAULT_MIN_SIZE, embed: bool = False) -> dict[str, Any]:
    """Segments per product and job on ``jobs_set`` (``load_jobs_set()``), with their context match shares.

    ``predict``: jobs from the packaged model instead of the labels; ``embed``: merge context keys and drop
    phrases near the job with the packaged encoder's embeddings of the phrases.
    """
    posts = list(jobs_set.posts) if split == "all" else jobs_set.split(split)
    predicted = _predicted_jobs(jobs_set, posts) if predict else {}
    encode = None
    if embed:
        from classify.pipeline import Classifier

        encode = Classifier().embed
    out: dict[str, Any] = {"split": split, "jobs_from": "model predictions" if predict else "hand labels (no "
                           "predictions used)", "min_size": min_size, "embed": embed, "products": {}}
    for slug, product in jobs_set.products.items():
        mine = [(i, p) for i, p in enumerate(posts) if p.product == slug]
        if not mine:
            continue
        seg_posts = [SegmentPost(post_id=i, product=slug, text=p.text, jobs=predicted.get(i, p.jobs)
                                 if predict else p.jobs, step=p.step) for i, p in mine]
        context_of = {i: p.context for i, p in mine}
        found = find_segments(seg_posts, {j.id: j.statement for j in product.jobs}, min_size=min_size, embed=encode)
        jobs = {}
        for job_id, segments in found.items():
            rows = []
            for s in segments:
                hits = sum(context_matches(context_of[i], s) for i in s["post_ids"])
                rows.append({"name": s["name"], "key": s["key"], "facet": s["facet"], "size": s["size"],
                             "matched": hits, "match_share": hits / s["size"]})
            jobs[job_id] = rows
        labelled = {i for i, c in context_of.items() if c}
        extracted = {i for i, p in mine if extract_contexts(p.text)}
        out["products"][slug] = {
            "posts": len(mine), "labelled_context": len(labelled), "extracted_context": len(extracted),
            "recall": len(labelled & extracted) / len(labelled) if labelled else None,
            "precision": len(labelled & extracted) / len(extracted) if extracted else None,
            "jobs": jobs}
    sizes = [r for p in out["products"].values() for rows in p["jobs"].values() for r in rows]
    out["segments"] = len(sizes)
    out["segment_posts"] = sum(r["size"] for r in sizes)
    out["match_share"] = (sum(r["matched"] for r in sizes) / out["segment_posts"]) if sizes else None
    return out


def print_figures(figures: dict[str, Any]) -> None:
    """The figures as plain lines."""
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.0f}%"

    print(f"Segments on the hand-labelled jobs set, split {figures['split']}; jobs from {figures['jobs_from']}; "
          f"segments of at least {figures['min_size']} posts"
          + ("; phrases merged by the packaged encoder" if figures.get("embed") else ""))
    for slug, p in figures["products"].items():
        print(f"\n{slug}: {p['posts']} posts, {p['labelled_context']} with a labelled context; extractor finds a "
              f"context in {p['extracted_context']} (recall {pct(p['recall'])}, precision {pct(p['precision'])})")
        if not p["jobs"]:
            print("  no segment of the minimum size")
        for job, rows in p["jobs"].items():
            print(f"  {job}:")
            for r in rows:
                print(f"    “{r['name']}” ({r['facet']}, {r['key']}): {r['size']} posts, "
                      f"{r['matched']} labelled with a matching context ({pct(r['match_share'])})")
    print(f"\nAll: {figures['segments']} segments over {figures['segment_posts']} posts; share of a segment's posts "
          f"whose labelled context matches its label: {pct(figures['match_share'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="the jobs set's directory")
    parser.add_argument("--data", type=Path, default=None, help="shared data directory (default ../shared/data)")
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument("--predict", action="store_true", help="use the packaged model's jobs, not the labels")
    parser.add_argument("--min-size", type=int, default=DEFAULT_MIN_SIZE)
    parser.add_argument("--embed", action="store_true", help="merge context phrases by the packaged encoder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (args.labels / "labels.jsonl").is_file():
        print(f"no jobs set at {args.labels} (labels.jsonl missing): nothing to measure", file=sys.stderr)
        return 2
    load = _loader(args.labels)
    try:
        jobs_set = load(args.data, args.labels) if args.data else load(labels_dir=args.labels)
    except ValueError as exc:  # LabelDataError: shared data missing or changed
        print(f"cannot load the jobs set: {exc}", file=sys.stderr)
        return 2
    figures = segment_figures(jobs_set, split=args.split, predict=args.predict, min_size=args.min_size,
                              embed=args.embed)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_figures(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
