"""A product's own layer over the shared classifier, learnt from the corrections people made.

The shared heads stay as they are. Per product and per task (sentiment, need type) a small residual
softmax is fitted on the corrected posts' stored embeddings::

    logits = log p_shared(x) + x @ W + b + knn_weight * sum_j k(x, x_j) onehot(y_j)

``W`` and ``b`` start at zero and are pulled back to zero by an L2 penalty, so with few corrections
the layer moves the shared model only where the corrections agree (a class the product's posts use
differently, a bias in the mix). The last term is a memory of the corrected posts themselves
(``k(x, x_j) = exp((cos - 1) / temperature)``): posts that say nearly the same thing as a corrected
one take its label. Jobs get the corrected posts as extra few-shot examples. Everything runs on
stored embeddings: nothing is encoded again. Trained on CPU in well under a second per task.

Learning never does harm (issue 28):

- **Bounded by the evidence.** Unless a task's corrections are broad (``BROAD_MIN`` corrections with
  ``BROAD_PER_CLASS`` in each of two classes or more; none is, for now), ``x @ W + b`` only acts near the
  corrected posts: it is
  multiplied by a gate that rises from 0 at cosine ``GATE_LO`` to the nearest corrected post to 1 at ``GATE_HI``.
  Seven corrections all to ``negative`` move posts like those seven, not every post of the product.
- **Kept only when it helps.** Each task's head is cross-validated over the product's corrections (leave-one-out
  up to ``CV_FOLDS`` folds): it is kept only when it gets ``required_gain`` more held-out corrections right than
  the shared model does (``Validation``); otherwise the task keeps the shared model.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from classify.labels import NEED_TYPES, SENTIMENTS

EPS = 1e-6
DEFAULT_L2 = 0.001
DEFAULT_BIAS_L2 = 0.002
KNN_WEIGHT = 2.0
KNN_TEMPERATURE = 0.05
GATE_LO, GATE_HI = 0.55, 0.75  # cosine to the nearest corrected post: no effect below, full effect above
GLOBAL = -2.0  # a gate_lo below any cosine: the residual acts everywhere
# Broad corrections would let the residual act on every post; on the corrections bench every such global layer
# harmed a held-out figure at some round (CLAP sentiment -4.7 after 50 review-chosen corrections), so none is
# broad for now: the residual always stays near the corrected posts.
BROAD_MIN, BROAD_PER_CLASS = 10**9, 5
CV_FOLDS = 5
CV_MIN_GAIN, CV_GAIN_SHARE = 2, 0.1
COLD_DIVERSITY = 0.7  # review's cold start: no two proposed posts closer than this cosine


@dataclass(frozen=True)
class ResidualHead:
    """A residual correction of one task's shared probabilities (see the module docstring)."""

    classes: tuple[str, ...]
    W: np.ndarray  # (d, k)
    b: np.ndarray  # (k,)
    memory: np.ndarray  # (m, d) corrected post vectors
    memory_labels: np.ndarray  # (m,) class indices
    knn_weight: float = KNN_WEIGHT
    temperature: float = KNN_TEMPERATURE
    gate_lo: float = GLOBAL  # GLOBAL: the residual acts everywhere; else see ``gate``
    gate_hi: float = GATE_HI

    def gate(self, vecs: np.ndarray) -> np.ndarray:
        """(n,) how much of ``x @ W + b`` applies: 1 everywhere for a global head, else by nearness to the memory."""
        x = np.asarray(vecs, dtype=np.float32)
        if self.gate_lo <= GLOBAL or not len(self.memory):
            return np.ones(len(x), dtype=np.float32)
        nearest = (x @ self.memory.T).max(axis=1)
        return np.clip((nearest - self.gate_lo) / max(self.gate_hi - self.gate_lo, 1e-6), 0.0, 1.0)

    def logits(self, vecs: np.ndarray, base_p: np.ndarray) -> np.ndarray:
        """(n, k) adjusted logits."""
        x = np.asarray(vecs, dtype=np.float32)
        z = np.log(np.clip(base_p, EPS, 1.0)) + self.gate(x)[:, None] * (x @ self.W + self.b)
        if len(self.memory) and self.knn_weight:
            kernel = np.exp((x @ self.memory.T - 1.0) / self.temperature)
            onehot = np.eye(len(self.classes), dtype=np.float32)[self.memory_labels]
            z = z + self.knn_weight * (kernel @ onehot)
        return z

    def proba(self, vecs: np.ndarray, base_p: np.ndarray) -> np.ndarray:
        """(n, k) adjusted probabilities."""
        z = self.logits(vecs, base_p)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_residual(vecs: np.ndarray, base_p: np.ndarray, labels: Sequence[str], classes: Sequence[str], *,
                 l2: float = DEFAULT_L2, bias_l2: float = DEFAULT_BIAS_L2, knn_weight: float = KNN_WEIGHT,
                 temperature: float = KNN_TEMPERATURE, max_iter: int = 200, seed: int = 13,
                 balanced: bool = True, local: bool | None = None) -> ResidualHead:
    """Fit ``W`` and ``b`` on corrected posts (full-batch L-BFGS, deterministic).

    ``balanced`` weighs each class's corrections equally (macro F1 counts every class the same, and the
    posts people correct are rarely a fair sample of the classes). ``local`` gates the residual to the
    corrections' neighbourhood; None decides from the corrections (see ``is_broad``).
    """
    if local is None:
        local = not is_broad(labels)
    import torch

    torch.manual_seed(seed)
    index = {c: i for i, c in enumerate(classes)}
    y_np = np.asarray([index[lab] for lab in labels], dtype=np.int64)
    x = torch.tensor(np.asarray(vecs, dtype=np.float32))
    base = torch.tensor(np.log(np.clip(np.asarray(base_p, dtype=np.float32), EPS, 1.0)))
    y = torch.tensor(y_np)
    W = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    weight = None
    if balanced and len(y_np):
        counts = np.bincount(y_np, minlength=len(classes)).astype(np.float32)
        present = counts > 0
        weight = torch.tensor(np.where(present, counts.sum() / (present.sum() * np.maximum(counts, 1)), 0.0),
                              dtype=torch.float32)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (torch.nn.functional.cross_entropy(base + x @ W + b, y, weight=weight)
                + l2 * (W * W).sum() + bias_l2 * (b * b).sum())
        loss.backward()
        return loss

    if len(y_np):
        opt.step(closure)
    return ResidualHead(tuple(classes), W.detach().numpy().astype(np.float32).copy(),
                        b.detach().numpy().astype(np.float32).copy(), np.asarray(vecs, dtype=np.float32).copy(),
                        y_np, knn_weight, temperature, GATE_LO if local else GLOBAL, GATE_HI)


def is_broad(labels: Sequence[str]) -> bool:
    """Enough corrections, of enough classes, for a residual that acts on every post of the product."""
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    return len(labels) >= BROAD_MIN and sum(c >= BROAD_PER_CLASS for c in counts.values()) >= 2


@dataclass(frozen=True)
class Validation:
    """Cross-validation of one task's head over the product's corrections (held-out corrections right)."""

    n: int
    shared_right: int
    layer_right: int
    kept: bool
    scope: str  # "local" (near the corrected posts) or "global"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"n": self.n, "shared_right": self.shared_right, "layer_right": self.layer_right,
                "kept": self.kept, "scope": self.scope}


def cross_validate(vecs: np.ndarray, base_p: np.ndarray, labels: Sequence[str], classes: Sequence[str],
                   **kwargs: Any) -> Validation:
    """Fit on all folds but one and count the held-out corrections each of shared and layer gets right.

    Leave-one-out up to ``CV_FOLDS`` corrections, then ``CV_FOLDS`` interleaved folds. A single correction
    cannot be validated: its head is not kept (the corrected post itself shows the person's label anyway).
    """
    n = len(labels)
    scope = "local" if not is_broad(labels) else "global"
    if n < 2:
        return Validation(n, 0, 0, False, scope)
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[lab] for lab in labels])
    folds = min(CV_FOLDS, n)
    shared_right = layer_right = 0
    for f in range(folds):
        test = np.arange(n) % folds == f
        train = ~test
        head = fit_residual(vecs[train], base_p[train], [labels[int(i)] for i in np.flatnonzero(train)], classes,
                            local=scope == "local", **kwargs)
        shared_right += int((base_p[test].argmax(1) == y[test]).sum())
        layer_right += int((head.proba(vecs[test], base_p[test]).argmax(1) == y[test]).sum())
    return Validation(n, shared_right, layer_right, layer_right - shared_right >= required_gain(n), scope)


def required_gain(n: int) -> int:
    """Held-out corrections a head must get right beyond the shared model to be kept (one in ten, at least 2)."""
    return max(CV_MIN_GAIN, int(np.ceil(CV_GAIN_SHARE * n)))


@dataclass(frozen=True)
class ProductLayer:
    """Everything a product learnt: residual heads for sentiment and need type, job examples."""

    sentiment: ResidualHead | None = None
    need: ResidualHead | None = None
    job_examples: Mapping[str, np.ndarray] = field(default_factory=dict)  # job id -> (m, d) post vectors
    no_jobs: np.ndarray | None = None  # (r, d) vectors of posts labelled "no job": negative job examples

    def adjust(self, vecs: np.ndarray, sentiment_p: np.ndarray, need_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The product's probabilities from the shared ones (class orders SENTIMENTS and NEED_TYPES)."""
        if self.sentiment is not None and len(vecs):
            sentiment_p = self.sentiment.proba(vecs, sentiment_p)
        if self.need is not None and len(vecs):
            need_p = self.need.proba(vecs, need_p)
        return sentiment_p, need_p

    def to_bytes(self) -> bytes:
        """The layer as an .npz (what the store keeps)."""
        arrays: dict[str, np.ndarray] = {}
        for name, head in (("sentiment", self.sentiment), ("need", self.need)):
            if head is None:
                continue
            arrays.update({f"{name}.W": head.W, f"{name}.b": head.b, f"{name}.memory": head.memory,
                           f"{name}.memory_labels": head.memory_labels,
                           f"{name}.classes": np.asarray(head.classes),
                           f"{name}.knn": np.asarray([head.knn_weight, head.temperature, head.gate_lo,
                                                      head.gate_hi], dtype=np.float32)})
        for i, (job, vecs) in enumerate(sorted(self.job_examples.items())):
            arrays[f"job.{i}.id"] = np.asarray(job)
            arrays[f"job.{i}.vecs"] = np.asarray(vecs, dtype=np.float32)
        if self.no_jobs is not None and len(self.no_jobs):
            arrays["no_jobs.vecs"] = np.asarray(self.no_jobs, dtype=np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ProductLayer:
        """Inverse of :meth:`to_bytes`."""
        with np.load(io.BytesIO(data)) as arrays:
            heads: dict[str, ResidualHead | None] = {}
            for name in ("sentiment", "need"):
                if f"{name}.W" not in arrays:
                    heads[name] = None
                    continue
                knn = [float(v) for v in arrays[f"{name}.knn"]]
                if len(knn) < 4:  # a layer stored before the gate: global
                    knn += [GLOBAL, GATE_HI]
                heads[name] = ResidualHead(tuple(str(c) for c in arrays[f"{name}.classes"]), arrays[f"{name}.W"],
                                           arrays[f"{name}.b"], arrays[f"{name}.memory"],
                                           arrays[f"{name}.memory_labels"].astype(np.int64), *knn[:4])
            jobs = {str(arrays[k]): np.asarray(arrays[k[:-2] + "vecs"]) for k in arrays.files
                    if k.startswith("job.") and k.endswith(".id")}
            no_jobs = np.asarray(arrays["no_jobs.vecs"]) if "no_jobs.vecs" in arrays.files else None
        return cls(heads["sentiment"], heads["need"], jobs, no_jobs)

    def digest(self) -> str:
        """A short content hash (part of the product's model_version)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()[:8]


def fit_layer(vecs: np.ndarray, sentiment_p: np.ndarray, need_p: np.ndarray, *,
              sentiment: Sequence[str | None], need: Sequence[str | None],
              jobs: Sequence[Sequence[str] | None] = (), validate: bool = True,
              report: dict[str, Validation] | None = None, **kwargs: Any) -> ProductLayer:
    """Fit a product's layer from corrected posts (``None``: that field was not corrected).

    With ``validate`` (the default) a task's head is kept only when cross-validation over its corrections
    says it helps (see ``cross_validate``); ``report`` receives each task's ``Validation``.
    A post whose jobs were corrected to none (``[]``) becomes a negative job example (``no_jobs``).
    """
    def head(task: str, labels: Sequence[str | None], base_p: np.ndarray,
             classes: Sequence[str]) -> ResidualHead | None:
        keep = [i for i, lab in enumerate(labels) if lab is not None]
        if not keep:
            return None
        y = [str(labels[i]) for i in keep]
        if validate:
            check = cross_validate(vecs[keep], base_p[keep], y, classes, **kwargs)
            if report is not None:
                report[task] = check
            if not check.kept:
                return None
        return fit_residual(vecs[keep], base_p[keep], y, classes, **kwargs)

    examples: dict[str, list[np.ndarray]] = {}
    negatives: list[np.ndarray] = []
    for i, job_list in enumerate(jobs):
        if job_list is not None and not len(job_list):
            negatives.append(vecs[i])
        for job in job_list or ():
            examples.setdefault(job, []).append(vecs[i])
    return ProductLayer(head("sentiment", sentiment, sentiment_p, SENTIMENTS),
                        head("need_type", need, need_p, NEED_TYPES),
                        {job: np.stack(v) for job, v in examples.items()},
                        np.stack(negatives).astype(np.float32) if negatives else None)


def shared_probabilities(classifier: Any, vecs: np.ndarray,
                         ratings: Sequence[float | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The shared model's sentiment and need-type probabilities for stored post vectors (no encoding)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    if not len(vecs):
        return np.zeros((0, len(SENTIMENTS)), np.float32), np.zeros((0, len(NEED_TYPES)), np.float32)
    sentiment, need = classifier.head_probabilities(vecs, ratings)
    return sentiment, need


def margin(p: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (small: the model is unsure)."""
    if p.shape[1] < 2:
        return np.ones(len(p))
    part = np.sort(p, axis=1)
    return part[:, -1] - part[:, -2]


@dataclass(frozen=True)
class ReviewPick:
    """A post proposed for labelling and why."""

    index: int
    score: float
    reason: str


def rank_for_review(vecs: np.ndarray, sentiment_p: np.ndarray, need_p: np.ndarray, n: int, *,
                    influence: np.ndarray | None = None, reference: np.ndarray | None = None,
                    too_similar: float = 0.9, neighbours: int = 10, cold_start: bool = False) -> list[ReviewPick]:
    """The ``n`` posts whose correction should help most, best first.

    Score = uncertainty (1 - margin) of the need type, plus half that of the sentiment, times how
    typical the post is of the product (mean cosine to its nearest ``reference`` posts: a correction of
    a typical post moves many others), plus ``influence`` (e.g. membership of open issues). Posts too
    similar to one already picked are skipped, so one label is not asked for twice.

    ``cold_start`` (no correction yet): the model's uncertainty is not yet worth much, so the queue is the most
    typical posts, kept diverse (none within cosine ``COLD_DIVERSITY`` of another pick): the first corrections
    then show the product's common posts and their spread; uncertain ones follow once there are corrections.
    """
    vecs = np.asarray(vecs, dtype=np.float32)
    if not len(vecs) or n <= 0:
        return []
    need_u, sent_u = 1.0 - margin(need_p), 1.0 - margin(sentiment_p)
    ref = vecs if reference is None else np.asarray(reference, dtype=np.float32)
    density = np.ones(len(vecs), dtype=np.float32)
    if len(ref) > 1:
        k = min(neighbours, len(ref) - 1)
        for start in range(0, len(vecs), 1024):
            sims = vecs[start:start + 1024] @ ref.T
            top = np.partition(sims, -(k + 1), axis=1)[:, -(k + 1):-1] if sims.shape[1] > k else sims
            density[start:start + 1024] = np.clip(top.mean(axis=1), 0.0, 1.0)
    extra = np.zeros(len(vecs), dtype=np.float32) if influence is None else np.asarray(influence, dtype=np.float32)
    score: np.ndarray = (need_u + 0.5 * sent_u) * density + extra
    if cold_start:
        score = density + extra
        too_similar = min(too_similar, COLD_DIVERSITY)
    picked: list[ReviewPick] = []
    chosen: list[np.ndarray] = []
    for i in np.argsort(-score, kind="stable"):
        if chosen and float(np.max(np.stack(chosen) @ vecs[i])) > too_similar:
            continue
        reasons = []
        if cold_start:
            reasons.append(f"typical post {density[i]:.2f}")
        elif need_u[i] >= sent_u[i]:
            reasons.append(f"unsure need {1 - need_u[i]:.2f}")
        else:
            reasons.append(f"unsure sentiment {1 - sent_u[i]:.2f}")
        if extra[i] > 0:
            reasons.append("in open issue")
        picked.append(ReviewPick(int(i), round(float(score[i]), 4), ", ".join(reasons)))
        chosen.append(vecs[i])
        if len(picked) >= n:
            break
    return picked


def taxonomy_hash(jobs: Sequence[Any], steps: Sequence[Any] = ()) -> str:
    """A short hash of a product's jobs and steps (ids, statements, examples): it changes when any of them does."""
    h = hashlib.sha256()
    for job in sorted(jobs, key=lambda j: j.id):
        for part in (job.id, job.statement, *job.examples):
            h.update(str(part).encode("utf-8"))
            h.update(b"\x1f")
        h.update(b"\x1e")
    if steps:
        h.update(b"steps\x1d")
        for step in steps:  # in configured order: the order is part of the map
            for part in (step.id, step.statement, *step.examples):
                h.update(str(part).encode("utf-8"))
                h.update(b"\x1f")
            h.update(b"\x1e")
    return h.hexdigest()[:16]
