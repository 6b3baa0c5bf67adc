"""Second stage of training: continue the two heads on the tuned encoder's vectors, with our own examples.

One fine-tuning epoch leaves the heads under-trained (their loss still falls), and the fine-tuning stage sees
only our first 48 written examples. Here each head trains further on the frozen tuned vectors of every training
row, now with the 200 of ``voxpop_own_examples_v2.jsonl`` (praise, requests in positive reviews, complaints,
questions, six languages). A refitted head is kept only if it beats the fine-tuned head on the dev splits
(never the test splits). Vectors are cached (``classify.training.data.cached_embeddings``), so a rerun is quick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from classify.labels import NEED_TYPES, SENTIMENTS
from classify.pipeline import rating_features
from classify.sentences import compose_post
from classify.training.corpora import Example
from classify.training.metrics import macro_f1

OWN_REPEAT = 3
SENTIMENT_DEV = ("appstore_dev", "steam_dev", "senti4sd_dev", "umsab_dev", "vusent_dev")


def _mix(corpora: dict[str, list[Example]], sources: Sequence[str], task: str) -> list[Example]:
    rows = [e for name in sources for e in corpora.get(name, [])]
    own = [e for name in ("own_train", "ownv2_train") for e in corpora.get(name, []) if e.task == task]
    return rows + own * OWN_REPEAT


def features(embed: Callable[[list[str]], np.ndarray], rows: Sequence[Example], with_rating: bool) -> np.ndarray:
    """Encoder vectors of examples (title first), with the rating one-hot appended for the sentiment head."""
    X = embed([compose_post(e.text, e.title) for e in rows])
    if with_rating:
        X = np.hstack([X, rating_features([e.rating for e in rows], len(rows))])
    return X


def continue_head(arrays: dict[str, np.ndarray], name: str, X: np.ndarray, labels: Sequence[str],
                  classes: Sequence[str], *, epochs: int = 12, lr: float = 5e-4,
                  seed: int = 13) -> dict[str, np.ndarray]:
    """A few more epochs of an MLP head (warm start), class-balanced, seeded; returns the new arrays."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    W1, b1, W2, b2 = (torch.tensor(arrays[f"{name}.{k}"]) for k in ("W1", "b1", "W2", "b2"))
    lin1, lin2 = nn.Linear(W1.shape[0], W1.shape[1]), nn.Linear(W2.shape[0], W2.shape[1])
    with torch.no_grad():
        lin1.weight.copy_(W1.T)
        lin1.bias.copy_(b1)
        lin2.weight.copy_(W2.T)
        lin2.bias.copy_(b2)
    model = nn.Sequential(nn.Dropout(0.1), lin1, nn.GELU(approximate="tanh"), nn.Dropout(0.1), lin2)
    y = torch.tensor([list(classes).index(v) for v in labels])
    x = torch.tensor(X, dtype=torch.float32)
    counts = torch.bincount(y, minlength=len(classes)).float().clamp(min=1)
    weight = (counts.sum() / (len(classes) * counts)).clamp(max=5.0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch], weight=weight).backward()
            opt.step()

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().astype(np.float32).copy()

    return {**arrays, f"{name}.W1": arr(lin1.weight.T), f"{name}.b1": arr(lin1.bias),
            f"{name}.W2": arr(lin2.weight.T), f"{name}.b2": arr(lin2.bias)}


def mean_dev_f1(arrays: dict[str, np.ndarray], name: str, dev: dict[str, tuple[np.ndarray, list[str]]],
                classes: Sequence[str], fold: Callable[[str, str], str]) -> float:
    """Mean macro-F1 of one head over dev sets given as (features, gold labels)."""
    from classify.heads import load_head

    head = load_head(arrays, name)
    scores = []
    for split, (X, gold) in dev.items():
        pred = [fold(split, classes[k]) for k in head.proba(X).argmax(1)]
        scores.append(macro_f1(gold, pred))
    return float(np.mean(scores))


def refit(arrays: dict[str, np.ndarray], corpora: dict[str, list[Example]],
          embed: Callable[[list[str]], np.ndarray], sentiment_sources: Sequence[str], need_sources: Sequence[str],
          need_dev: dict[str, tuple[str, ...]]) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Continue both heads with our own examples; keep each only if its dev figure improves."""
    report: dict[str, dict[str, float]] = {}
    specs = (("sentiment", SENTIMENTS, sentiment_sources, True, {s: SENTIMENTS for s in SENTIMENT_DEV}),
             ("need", NEED_TYPES, need_sources, False, need_dev))
    for name, classes, sources, with_rating, dev_classes in specs:
        rows = _mix(corpora, sources, name)
        X = features(embed, rows, with_rating)
        candidate = continue_head(arrays, name, X, [e.label for e in rows], classes)
        dev = {split: (features(embed, corpora[split], with_rating), [e.label for e in corpora[split]])
               for split in dev_classes if corpora.get(split)}

        def fold(split: str, label: str, dev_classes: dict = dev_classes) -> str:
            return label if label in dev_classes[split] else "other"

        before = mean_dev_f1(arrays, name, dev, classes, fold)
        after = mean_dev_f1(candidate, name, dev, classes, fold)
        report[name] = {"dev_macro_f1_finetuned_head": round(before, 4), "dev_macro_f1_refit": round(after, 4),
                        "kept": float(after > before), "rows": float(len(rows))}
        print(f"refit {name}: dev macro-F1 {before:.4f} -> {after:.4f} ({'kept' if after > before else 'dropped'})",
              flush=True)
        if after > before:
            arrays = candidate
    return arrays, report
