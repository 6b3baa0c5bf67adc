"""The classifier: one encoder pass per batch of posts, then the heads for sentiment, need type and jobs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classify.heads import Head, load_head
from classify.jobs import Job, JobCalibration, JobIndex, JobScore
from classify.labels import NEED_TYPES, SENTIMENTS, UNMET_NEEDS
from classify.sentences import compose_post, sentence_spans
from voxpop.core.text import detect_language

PACKAGED_HEADS = Path(__file__).resolve().parent / "model"
# Need types that one sentence may establish even in a post that is mostly something else (max over sentences).
# Empty since version 1: on held-out app reviews the max rule lowered macro-F1 (0.776 post-level -> 0.765 with
# problem and feature_request, 0.760 adding question), so the label comes from the post and sentences give the evidence.
_SENTENCE_LEVEL_NEEDS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prediction:
    """What the classifier says about one post.

    For posts detected as non-English (``language == "other"``) the heads are not trusted: the
    prediction is the neutral placeholder (sentiment ``neutral`` 0.0, need ``other`` with score 0.0,
    no jobs, empty evidence), while ``embedding`` is still the real post vector.
    """

    sentiment: str
    sentiment_score: float
    need_type: str
    need_score: float
    unmet_need: bool
    jobs: tuple[JobScore, ...]
    evidence: str
    model_version: str
    language: str | None
    embedding: np.ndarray = field(compare=False, repr=False)


class Classifier:
    """Sentence encoder plus small trained heads (setfit-like, the encoder stays frozen).

    Args:
        model_dir: a local Hugging Face encoder directory; None for the packaged all-MiniLM-L6-v2.
            The packaged heads match only that encoder; with another encoder, heads are read from
            ``<model_dir>/voxpop_heads`` (written by ``classify/train.py --encoder DIR --out DIR``).
        batch_size: posts per encoder forward pass.
        max_tokens: truncation length; sentences past it give no evidence candidates.
    """

    def __init__(self, model_dir: str | None = None, *, batch_size: int = 32, max_tokens: int = 128,
                 heads_dir: str | os.PathLike[str] | None = None) -> None:
        from classify.encoder import Encoder  # torch is imported only here

        self.encoder = Encoder(model_dir, batch_size=batch_size, max_tokens=max_tokens)
        if heads_dir is None:
            heads_dir = PACKAGED_HEADS if model_dir is None else Path(model_dir) / "voxpop_heads"
        heads_dir = Path(heads_dir)
        npz_path, meta_path = heads_dir / "heads.npz", heads_dir / "meta.json"
        if not npz_path.exists() or not meta_path.exists():
            raise FileNotFoundError(f"classifier heads not found in {heads_dir} (run classify/train.py)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("encoder_dim") != self.encoder.dim:
            raise ValueError(f"heads in {heads_dir} expect a {meta.get('encoder_dim')}-d encoder, "
                             f"{self.encoder.model_dir} gives {self.encoder.dim}-d")
        with np.load(npz_path) as arrays:
            self.sentiment_head = load_head(arrays, "sentiment")
            self.need_head = load_head(arrays, "need")
            self.rating_ratio = np.asarray(arrays["rating_ratio"], dtype=np.float32)  # (5, 3)
        self.job_calibration = JobCalibration.from_dict(meta.get("jobs", {}))
        digest = hashlib.sha256(npz_path.read_bytes() + meta_path.read_bytes()).hexdigest()[:8]
        self.model_version = f"voxpop-{meta.get('version', '0')}-{self.encoder.name}-{self.encoder.digest}-{digest}"
        self._job_cache: tuple[tuple[Job, ...], JobIndex] | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 L2-normalised embeddings of texts."""
        return self.encoder.encode([t or "" for t in texts])

    def job_index(self, jobs: Sequence[Job]) -> JobIndex:
        """The embedded jobs (the last set is cached, so repeated batches with the same jobs are cheap)."""
        key = tuple(jobs)
        if self._job_cache is None or self._job_cache[0] != key:
            self._job_cache = (key, JobIndex.build(key, self.embed, self.job_calibration))
        return self._job_cache[1]

    def predict(self, texts: Sequence[str], jobs: Sequence[Job] = (), *,
                titles: Sequence[str | None] | None = None,
                ratings: Sequence[float | None] | None = None) -> list[Prediction]:
        """Classify posts.

        Args:
            texts: post bodies.
            jobs: the product's jobs to be done; empty for none.
            titles: optional titles (seen by the post-level embedding only).
            ratings: optional star ratings on a 1-5 scale; they sharpen the sentiment.

        Returns:
            One Prediction per text, in order.
        """
        n = len(texts)
        if titles is not None and len(titles) != n or ratings is not None and len(ratings) != n:
            raise ValueError("titles and ratings must have one entry per text")
        bodies = [t if isinstance(t, str) else "" for t in texts]
        composed = [compose_post(b, titles[i] if titles else None) for i, b in enumerate(bodies)]
        body_spans = []
        for body, full in zip(bodies, composed, strict=True):
            shift = len(full) - len(body)
            body_spans.append([(a + shift, b + shift) for a, b in sentence_spans(body)])
        post_vecs, sent_vecs = self.encoder.encode_with_spans(composed, body_spans)

        sent_p = self._sentiment(post_vecs, ratings)
        need_post = self.need_head.proba(post_vecs)
        job_lists = self.job_index(jobs).top(post_vecs) if jobs else [()] * n

        out = []
        for i in range(n):
            language = detect_language(bodies[i])
            if language == "other":
                out.append(Prediction("neutral", 0.0, "other", 0.0, False, (), "", self.model_version,
                                      language, post_vecs[i]))
                continue
            need_p, evidence = self._need(need_post[i], sent_vecs[i], bodies[i], body_spans[i], len(composed[i]))
            k = int(need_p.argmax())
            need = NEED_TYPES[k]
            s = sent_p[i]
            out.append(Prediction(
                sentiment=SENTIMENTS[int(s.argmax())],
                sentiment_score=round(float(s[2] - s[0]), 4),
                need_type=need,
                need_score=round(float(need_p[k]), 4),
                unmet_need=need in UNMET_NEEDS,
                jobs=job_lists[i],
                evidence=evidence,
                model_version=self.model_version,
                language=language,
                embedding=post_vecs[i],
            ))
        return out

    def _sentiment(self, vecs: np.ndarray, ratings: Sequence[float | None] | None) -> np.ndarray:
        p = _reorder(self.sentiment_head, SENTIMENTS, self.sentiment_head.proba(vecs))
        if ratings is None:
            return p
        for i, r in enumerate(ratings):
            if r is None or not np.isfinite(r):
                continue
            star = int(np.clip(round(float(r)), 1, 5)) - 1
            q = p[i] * self.rating_ratio[star]
            p[i] = q / q.sum()
        return p

    def _need(self, post_p: np.ndarray, sent_vecs: np.ndarray, body: str, spans: list[tuple[int, int]],
              full_len: int) -> tuple[np.ndarray, str]:
        post_p = _reorder(self.need_head, NEED_TYPES, post_p[None, :])[0]
        if len(sent_vecs) == 0:
            return post_p, body.strip()
        shift = full_len - len(body)
        sentences = [body[a - shift:b - shift] for a, b in spans[: len(sent_vecs)]]
        if len(sent_vecs) == 1 and shift == 0:
            return post_p, sentences[0]
        sp = _reorder(self.need_head, NEED_TYPES, self.need_head.proba(sent_vecs))
        agg = post_p.copy()
        for name in _SENTENCE_LEVEL_NEEDS:
            k = NEED_TYPES.index(name)
            agg[k] = max(agg[k], float(sp[:, k].max()))
        agg /= agg.sum()
        k = int(agg.argmax())
        return agg, sentences[int(sp[:, k].argmax())]


def _reorder(head: Head, order: Sequence[str], p: np.ndarray) -> np.ndarray:
    if tuple(head.classes) == tuple(order):
        return p
    return p[:, [head.classes.index(c) for c in order]]
