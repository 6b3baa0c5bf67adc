"""Mixed reviews (issue 28): praise plus a problem or a request is that unmet need, and its evidence is the need.

Runs the packaged classifier over our own written mixed-review dev set (``bench/labels/mixed_need/dev.jsonl``:
praise plus one problem or request sentence, and plain praise, each with its need type and the index of the
sentence that states the need) and prints, per post, the need type and evidence, then the shares. ``--grid``
scores once and prints the dev figures of the mixed-review rule (``classify.pipeline.mixed_need``) over a grid
of its two settings, beside the need dev splits (``classify.training.tuning.NEED_DEV``, macro-F1) and our own
training praise posts (how many read as an unmet need) as a guard that it harms nothing else.

    python -m bench.mixed_need            # the packaged settings, each post printed
    python -m bench.mixed_need --grid     # the tuning grid (dev only; needs ../shared for the need dev splits)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEV_SET = Path(__file__).resolve().parent / "labels" / "mixed_need" / "dev.jsonl"
UNMET = ("problem", "feature_request")
MIN_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.01)
MARGIN_GRID = (-0.6, -0.4, -0.2, 0.0, 0.2)


@dataclass(frozen=True)
class MixedPost:
    """One written post: its text and stars, its need type, and the sentence stating the need (-1: none)."""

    text: str
    rating: int | None
    need_type: str
    evidence: int


def load_set(path: Path = DEV_SET) -> list[MixedPost]:
    """The mixed-review set."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [MixedPost(r["text"], r.get("rating"), r["need_type"], int(r["evidence"])) for r in rows]


def tally(posts: Sequence[MixedPost], needs: Sequence[str], spans: Sequence[tuple[int, int] | None]
          ) -> dict[str, tuple[int, int]]:
    """(hits, n): mixed posts read as an unmet need, as their own need type, with the need sentence as evidence;
    praise posts not read as an unmet need."""
    mixed = [i for i, p in enumerate(posts) if p.need_type in UNMET]
    praise = [i for i, p in enumerate(posts) if p.need_type not in UNMET]

    def quotes_need(i: int) -> bool:
        span = spans[i]
        return span is not None and span[0] <= posts[i].evidence <= span[1]

    return {"mixed read as an unmet need": (sum(needs[i] in UNMET for i in mixed), len(mixed)),
            "mixed read as their own need type": (sum(needs[i] == posts[i].need_type for i in mixed), len(mixed)),
            "mixed with the need sentence as evidence": (sum(quotes_need(i) for i in mixed), len(mixed)),
            "praise NOT read as an unmet need": (sum(needs[i] not in UNMET for i in praise), len(praise))}


def run(clf, posts: Sequence[MixedPost], quiet: bool) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The packaged settings end to end (``Classifier.predict``)."""
    from bench.evidence import spans_of

    preds = clf.predict([p.text for p in posts], ratings=[p.rating for p in posts])
    needs = [pred.need_type for pred in preds]
    spans = [span for _, span in spans_of(preds)]
    if not quiet:
        for post, need, span in zip(posts, needs, spans, strict=True):
            print(f"{post.need_type:>15} -> {need:<15} evidence={span} (want {post.evidence}) | {post.text}")
    return tally(posts, needs, spans)


def grid(clf, posts: Sequence[MixedPost]) -> None:  # type: ignore[no-untyped-def]
    """Print the dev figures of the rule's settings (the other rules as packaged)."""
    from classify.evidence import choose_evidence
    from classify.labels import NEED_TYPES
    from classify.pipeline import need_from_sentences
    from classify.training.corpora import load_corpora
    from classify.training.data import DEFAULT_DATA_DIR
    from classify.training.metrics import macro_f1
    from classify.training.tuning import NEED_DEV, fold

    corpora = load_corpora(Path(os.environ.get("VOXPOP_DATA_DIR", DEFAULT_DATA_DIR)))
    sets = {name: [e for e in corpora[name] if e.task == "need"] for name in (*NEED_DEV, "own_train", "ownv2_train")}
    scored = {name: clf.score([e.text for e in rows], titles=[e.title for e in rows],
                              ratings=[e.rating for e in rows]) for name, rows in sets.items()}
    mixed = clf.score([p.text for p in posts], ratings=[p.rating for p in posts])
    clear = clf.sentiment_rule["mixed_threshold"]

    def needs(s, n: int, rule: dict[str, float]) -> list[int]:  # type: ignore[no-untyped-def]
        return [need_from_sentences(s.need_post[i], s.need_sentences[i], rule, None, s.sentiment_sentences[i],
                                    clear)[1] for i in range(n)]

    for low in MIN_GRID:
        for margin in MARGIN_GRID if low <= 1 else (0.0,):
            rule = {**clf.sentence_rule, "mixed_unmet_min": low, "mixed_unmet_margin": margin}
            f1 = [macro_f1([e.label for e in sets[name]],
                           [fold(NEED_TYPES[k], classes) for k in needs(scored[name], len(sets[name]), rule)], classes)
                  for name, classes in NEED_DEV.items()]
            own = [(e.label, k) for name in ("own_train", "ownv2_train")
                   for e, k in zip(sets[name], needs(scored[name], len(sets[name]), rule), strict=True)]
            praise_unmet = sum(label == "praise" and NEED_TYPES[k] in UNMET for label, k in own)
            ks = needs(mixed, len(posts), rule)
            spans = [choose_evidence(mixed.sentences[i], mixed.need_sentences[i][:, k]
                                     * np.clip(mixed.sentence_fit[i], 0.0, 1.0)) for i, k in enumerate(ks)]
            figures = tally(posts, [NEED_TYPES[k] for k in ks], spans)
            print(f"min {low:.2f} margin {margin:+.1f}: need dev mean macro-F1 {np.mean(f1):.4f} ("
                  + " ".join(f"{n} {v:.3f}" for n, v in zip(NEED_DEV, f1, strict=True))
                  + f"); own train praise read as unmet {praise_unmet}/{sum(lab == 'praise' for lab, _ in own)}; "
                  + "; ".join(f"{name} {h}/{n}" for name, (h, n) in figures.items()), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", action="store_true", help="print the dev grid of the mixed-review rule")
    ap.add_argument("--quiet", action="store_true", help="figures only, no posts")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from classify.pipeline import Classifier

    wall, cpu = time.perf_counter(), time.process_time()
    clf = Classifier()
    posts = load_set()
    if args.grid:
        grid(clf, posts)
    else:
        print(f"mixed-review dev set ({DEV_SET.name}, our own words), packaged settings "
              f"{ {k: v for k, v in clf.sentence_rule.items() if k.startswith('mixed')} }")
        for name, (hits, n) in run(clf, posts, args.quiet).items():
            print(f"  {name:<42} {hits}/{n} = {hits / n:.1%}")
    from bench.evidence import cost_line

    print(cost_line(wall, cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
