"""Speed of Classifier.predict end to end against the bare encoder forward, on the same review texts.

    .venv/bin/python bench/speed.py [--n 2000] [--threads N] [--int8]

Texts are the first N non-empty SwiftKey Google Play reviews of ../shared/data (real reviews, no labels
needed). "Bare" is tokenizer + transformer forward + mean pooling with the same length-sorted batches;
"end to end" adds sentence spans, language detection, the heads, jobs scoring (3 jobs with examples)
and building the Prediction objects. Peak RSS is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classify import Classifier, Job  # noqa: E402
from classify.training.data import DEFAULT_DATA_DIR  # noqa: E402

JOBS = [Job("type_fast", "type quickly on my phone", ("predictions save me so much typing", "swiping words is fast")),
        Job("languages", "write in several languages", ("switching between english and spanish",)),
        Job("personalise", "make the keyboard look the way I like", ("love the themes", "custom colours"))]


GOAL_POSTS_S = 300
# MiniLM-L6: 6 layers x (4 x 384^2 attention + 2 x 384 x 1536 feed-forward) weights, 2 FLOP each per token.
FLOP_PER_TOKEN = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def matmul_gflops(torch: Any) -> float:
    """Best fp32 matrix-multiply rate of this machine over a few 1024x1024 products (an upper bound for the encoder)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * 1024 ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(clf: Classifier, texts: list[str], rounds: int) -> tuple[float, float, float]:
    """(bare posts/s, predict posts/s, share of predict's time outside the bare forward), best of ``rounds``."""
    clf.predict(texts[:64], JOBS)  # warm up
    # Alternate the two paths and keep each one's best round: the 2 shared cores are noisy.
    bare = e2e = 0.0
    inner = {"s": 0.0, "pool": 0.0}
    encode_with_spans = clf.encoder.encode_with_spans

    def timed(*a, **k):  # time spent in the encoder inside predict
        t0 = time.perf_counter()
        try:
            return encode_with_spans(*a, **k)
        finally:
            inner["s"] += time.perf_counter() - t0

    pool_spans = clf.encoder._pool_spans

    def timed_pool(*a, **k):  # sentence pooling: the one extra step inside the encoder call
        t0 = time.perf_counter()
        try:
            return pool_spans(*a, **k)
        finally:
            inner["pool"] += time.perf_counter() - t0

    clf.encoder.encode_with_spans = timed  # type: ignore[method-assign]
    clf.encoder._pool_spans = timed_pool  # type: ignore[method-assign]
    overhead = 1.0
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            clf.encoder.encode(texts)
            bare = max(bare, len(texts) / (time.perf_counter() - t))
            inner["s"] = inner["pool"] = 0.0
            t = time.perf_counter()
            preds = clf.predict(texts, JOBS)
            total = time.perf_counter() - t
            e2e = max(e2e, len(texts) / total)
            overhead = min(overhead, 1 - (inner["s"] - inner["pool"]) / total)
            assert len(preds) == len(texts)
    finally:
        clf.encoder.encode_with_spans = encode_with_spans  # type: ignore[method-assign]
        clf.encoder._pool_spans = pool_spans  # type: ignore[method-assign]
    return bare, e2e, overhead


def main() -> None:
    """Print posts/s for both paths and peak memory."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--int8", action="store_true",
                    help="also time the int8 ONNX encoder (classify/onnx_encoder.py; build it with "
                         "python -m classify.training.export_int8)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts: list[str] = []
    with open(Path(args.data) / "timeseries/swiftkey_2012_reviews.jsonl", encoding="utf-8") as fh:
        for line in fh:
            text = (json.loads(line).get("text") or "").strip()
            if text:
                texts.append(text)
            if len(texts) >= args.n:
                break
    t = time.perf_counter()
    clf = Classifier()
    load_s = time.perf_counter() - t
    print(f"model_version {clf.model_version}; load {load_s:.1f}s; torch threads {torch.get_num_threads()}; "
          f"batch {clf.encoder.batch_size}; max_tokens {clf.encoder.max_tokens}; n={len(texts)} "
          f"(mean {sum(map(len, texts)) / len(texts):.0f} chars)")
    bare, e2e, overhead = measure(clf, texts, args.rounds)
    print(f"bare encoder forward      {bare:8.1f} posts/s")
    print(f"Classifier.predict e2e    {e2e:8.1f} posts/s  ({100 * e2e / bare:.0f}% of bare; goal >= 90%; "
          f"goal >= {GOAL_POSTS_S} posts/s)")
    if args.int8:
        int8 = Classifier(runtime="int8")
        bare8, e2e8, _ = measure(int8, texts, args.rounds)
        print(f"int8 (ONNX Runtime) {int8.model_version}:")
        print(f"bare int8 encoder forward {bare8:8.1f} posts/s  ({bare8 / bare:.2f}x fp32 bare; goal >= 1.5x)")
        print(f"int8 Classifier.predict   {e2e8:8.1f} posts/s  ({e2e8 / e2e:.2f}x fp32 predict)")
        vecs, vecs8 = clf.encoder.encode(texts[:400]), int8.encoder.encode(texts[:400])
        cosine = (vecs * vecs8).sum(axis=1)
        print(f"int8 embeddings against fp32, first 400 posts: cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}"
              " (quality figures: VOXPOP_ENCODER=int8 bench/quality.py)")
    gflops = matmul_gflops(torch)
    ids = clf.encoder.tokenizer(texts, truncation=True, max_length=clf.encoder.max_tokens)["input_ids"]
    tokens_per_post = sum(map(len, ids)) / len(ids)
    print(f"this machine's fp32 matmul peak: {gflops:.0f} GFLOP/s on {torch.get_num_threads()} threads; the encoder"
          f" needs ~{FLOP_PER_TOKEN / 1e6:.0f} MFLOP a token, so {tokens_per_post:.0f}-token posts top out near "
          f"{gflops * 1e9 / FLOP_PER_TOKEN / tokens_per_post:.0f} posts/s here (the posts/s goal is hardware-bound)")
    print(f"time in predict outside the bare forward (heads, jobs, sentences): {100 * overhead:.1f}%"
          " (load-independent view of the cost)")
    print(f"(best of {args.rounds} alternating rounds; the ratio swings with other load on shared cores)")
    print(f"peak RSS                  {rss_mib():8.0f} MiB")


if __name__ == "__main__":
    main()
