"""Evidence that carries the point (issue 28): the share of evidence sentences a reader accepts.

Runs the packaged classifier over the hand-labelled evidence set (``bench/labels/evidence/``: the project's own
problem and request posts, and held-out real App Store / Google Play reviews kept as row ids), prints each
chosen evidence beside the hand label, and the accepted share per split and kind beside the goal (>= 90% on the
own examples). Tune ``classify/evidence.py`` on ``--split dev``; the test split is read once.

    python -m bench.evidence --split dev            # own dev posts, each evidence printed
    python -m bench.evidence --split test --quiet   # figures only
    python -m bench.evidence --draw                 # print the unlabelled candidates for labelling (terminal only)
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Sequence
from typing import Any

from bench.labels.evidence_set import (
    EvidenceLabel,
    EvidencePost,
    default_data_dir,
    draw_real,
    load_posts,
    own_posts,
    read_labels,
)

GOAL = 0.90


def chosen_span(sentences: Sequence[str], evidence: str) -> tuple[int, int] | None:
    """The sentence-index span whose sentences, joined by a space, are ``evidence`` (None: not a span)."""
    for first in range(len(sentences)):
        for last in range(first, len(sentences)):
            if " ".join(sentences[first:last + 1]) == evidence:
                return first, last
    return None


def classify(posts: Sequence[EvidencePost]) -> list[tuple[list[str], tuple[int, int] | None, str]]:
    """Per post: its sentences, the chosen evidence span and the predicted need type (the real packaged model)."""
    from classify.pipeline import Classifier

    model = Classifier()
    preds = model.predict([p.text for p in posts], titles=[p.title for p in posts],
                          ratings=[p.rating for p in posts])
    return [(sentences, span, pred.need_type) for pred, (sentences, span) in zip(preds, spans_of(preds), strict=True)]


def spans_of(preds: Sequence[Any]) -> list[tuple[list[str], tuple[int, int] | None]]:
    """Per prediction: its sentences and the span of them its evidence is (:func:`chosen_span`)."""
    out = []
    for pred in preds:
        sentences = [s for s, _ in pred.sentences]
        out.append((sentences, chosen_span(sentences, pred.evidence)))
    return out


def cost_line(wall: float, cpu: float) -> str:
    """The run's wall and CPU time since ``wall``/``cpu`` (perf_counter, process_time) and its peak memory."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (f"wall {time.perf_counter() - wall:.1f}s, cpu {time.process_time() - cpu:.1f}s "
            f"(max rss {usage.ru_maxrss // 1024} MiB)")


def show(post: EvidencePost, sentences: Sequence[str], span: tuple[int, int] | None, need: str,
         label: EvidenceLabel | None) -> str:
    """A post, its numbered sentences, the chosen span (``>``) and the acceptable ones (``*``)."""
    ok = "" if label is None else (" ACCEPTED" if span in label.accept else " REJECTED")
    lines = [f"== {post.id} [{need}] chosen={span} accept={list(label.accept) if label else '?'}{ok}"]
    for i, s in enumerate(sentences):
        mark = (">" if span and span[0] <= i <= span[1] else " ") + (
            "*" if label and any(a <= i <= b for a, b in label.accept) else " ")
        lines.append(f" {mark}{i}: {s}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--quiet", action="store_true", help="figures only, no posts")
    ap.add_argument("--draw", action="store_true", help="print the unlabelled candidates (for labelling)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    wall, cpu = time.perf_counter(), time.process_time()
    labels = read_labels()
    if args.draw:
        known = {lab.id for lab in labels}
        posts = [p for p in own_posts() + draw_real(default_data_dir()) if p.id not in known]
        for post, (sentences, span, need) in zip(posts, classify(posts), strict=True):
            print(show(post, sentences, span, need, None))
        return 0
    chosen = [lab for lab in labels if lab.split == args.split]
    by_id = load_posts(chosen)
    posts = [by_id[lab.id] for lab in chosen]
    results = classify(posts)
    tally: dict[str, list[int]] = {}
    for lab, post, (sentences, span, need) in zip(chosen, posts, results, strict=True):
        hit = span in lab.accept
        tally.setdefault(post.kind, [0, 0])
        tally[post.kind][0] += hit
        tally[post.kind][1] += 1
        if not args.quiet:
            print(show(post, sentences, span, need, lab))
    print(f"\nevidence accepted ({args.split} split)")
    for kind in ("own", "real"):
        if kind in tally:
            hits, n = tally[kind]
            goal = f"goal >= {GOAL:.0%} {'met' if hits / n >= GOAL else 'MISSED'}" if kind == "own" else "(held out)"
            print(f"  {kind:4s} {hits}/{n} = {hits / n:.1%}  {goal}")
    print(cost_line(wall, cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
