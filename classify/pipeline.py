"""The classifier: one encoder pass per batch of posts, then the heads for sentiment, need type and jobs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from classify import multilingual_need
from classify.evidence import choose_evidence
from classify.heads import Head, load_head
from classify.jobs import Job, JobCalibration, JobIndex, JobScore
from classify.labels import NEED_TYPES, SENTIMENTS, UNMET_NEEDS
from classify.sentence_jobs import ScoredJobs, SentenceRule, score_posts
from classify.sentences import compose_post, sentence_spans
from classify.steps import DEFAULT_STEPS, StepCalibration, StepIndex
from voxpop.core.language import detect_language, is_classified

PACKAGED_MODEL = Path(__file__).resolve().parent / "model"
PACKAGED_HEADS = PACKAGED_MODEL  # heads.npz and meta.json sit beside the tuned encoder
JOBS_FILE = "jobs.json"  # job and step constants beside heads.npz and meta.json (see bench/jobs.py)
RATING_SLOTS = 6  # the sentiment head's rating input: one-hot of "no rating", 1..5 stars
# How a post's need type comes from its sentences: an unmet-need sentence (problem, feature request) counts with
# ``unmet_weight`` x its probability against the post-level probabilities. Tuned on the dev splits by
# classify/training/train.py and stored in meta.json (``sentence_rule``); the value used when meta has none.
# A mixed review (``mixed_need``): a post read as praise or other, with one sentence of clear praise and
# another that reads as an unmet need (problem or request probability >= ``mixed_unmet_min``) and is not clearly
# praise (its negative minus positive sentiment >= ``mixed_unmet_margin``), is that need: a PM reads "love it, but
# export crashes" as a problem report. Chosen on bench/labels/mixed_need/dev.jsonl (our own words) with the need dev
# splits as a no-harm guard (bench/mixed_need.py --grid); 1.01 switches it off (no probability reaches it).
DEFAULT_SENTENCE_RULE: dict[str, float] = {"unmet_weight": 1.0, "mixed_unmet_min": 0.4, "mixed_unmet_margin": -0.2}
# How a post's sentiment comes from its parts (see ``post_sentiment``): a sentence is "clear" when the head gives its
# polarity at least ``mixed_threshold``; a clear complaint and clear praise in one post make it neutral (mixed).
# Dev-tuned by classify/training/tuning.py (``tune_sentiment_rule``) and stored in meta.json (``sentiment_rule``).
DEFAULT_SENTIMENT_RULE: dict[str, float] = {"mixed_threshold": 0.7}
_UNMET_INDEX = tuple(NEED_TYPES.index(n) for n in ("problem", "feature_request"))
_NEG, _NEU, _POS = (SENTIMENTS.index(s) for s in ("negative", "neutral", "positive"))


@dataclass(frozen=True)
class Prediction:
    """What the classifier says about one post.

    ``language`` is the detected ISO 639-1 code (None when too short to tell). For a language outside
    ``voxpop.core.language.CLASSIFIED_LANGUAGES`` the heads are not trusted: the prediction is the neutral
    placeholder (sentiment ``neutral`` 0.0, need ``other`` with score 0.0, no jobs, empty evidence) and
    ``classified`` is False, while ``embedding`` is still the real post vector. ``step`` is the step of the
    customer's process (``classify.steps``) the post sits on, with its ``step_score``; None when not classified.
    Each job carries its ``evidence`` sentence.
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
    classified: bool = True
    step: str | None = None
    step_score: float | None = None
    # (sentence, its own sentiment) for each sentence of the body that got a vector; empty when not classified.
    sentences: tuple[tuple[str, str], ...] = ()
    mixed: bool = False  # a clear complaint and clear praise: the post is neutral, its sentences keep theirs

    def sentence_sentiments(self) -> list[dict[str, str]]:
        """The sentences with their own sentiments as stored and written out: ``[{"text", "sentiment"}]``."""
        return [{"text": text, "sentiment": sentiment} for text, sentiment in self.sentences]


RUNTIME_ENV = "VOXPOP_ENCODER"
RUNTIMES = ("fp32", "int8")


class Classifier:
    """The tuned sentence encoder plus its sentiment and need heads, and job scoring on the same vectors.

    Args:
        model_dir: a local Hugging Face encoder directory; None for the packaged, fine-tuned encoder
            (``classify/model/encoder``). With another encoder, heads are read from ``<model_dir>/voxpop_heads``
            unless ``heads_dir`` is given.
        batch_size: posts per encoder forward pass.
        max_tokens: truncation length; sentences past it give no evidence candidates.
        heads_dir: a folder with ``heads.npz`` and ``meta.json`` (default: beside the packaged encoder).
        runtime: ``fp32`` (torch, the default) or ``int8`` (ONNX Runtime, ``classify.onnx_encoder``); None reads
            ``$VOXPOP_ENCODER``.
    """

    def __init__(self, model_dir: str | os.PathLike[str] | None = None, *, batch_size: int = 32,
                 max_tokens: int = 128, heads_dir: str | os.PathLike[str] | None = None,
                 runtime: str | None = None) -> None:
        from classify.encoder import Encoder  # torch is imported only here

        if heads_dir is None:
            heads_dir = PACKAGED_HEADS if model_dir is None else Path(model_dir) / "voxpop_heads"
        heads_dir = Path(heads_dir)
        if model_dir is None:
            model_dir = heads_dir / "encoder"
        npz_path, meta_path = heads_dir / "heads.npz", heads_dir / "meta.json"
        if not npz_path.exists() or not meta_path.exists():
            raise FileNotFoundError(f"classifier heads not found in {heads_dir} "
                                    "(run python -m classify.training.train)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        runtime = runtime or os.environ.get(RUNTIME_ENV) or "fp32"
        if runtime not in RUNTIMES:
            raise ValueError(f"encoder runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r} "
                             f"(${RUNTIME_ENV} or runtime=)")
        name = meta.get("encoder") if Path(model_dir) == heads_dir / "encoder" else None
        self.encoder: Encoder
        if runtime == "int8":
            from classify.onnx_encoder import OnnxInt8Encoder

            self.encoder = OnnxInt8Encoder(model_dir, batch_size=batch_size, max_tokens=max_tokens, name=name)
        else:
            self.encoder = Encoder(model_dir, batch_size=batch_size, max_tokens=max_tokens, name=name)
        if meta.get("encoder_dim") != self.encoder.dim:
            raise ValueError(f"heads in {heads_dir} expect a {meta.get('encoder_dim')}-d encoder, "
                             f"{self.encoder.model_dir} gives {self.encoder.dim}-d")
        with np.load(npz_path) as arrays:
            self.sentiment_head = load_head(arrays, "sentiment")
            self.need_head = load_head(arrays, "need")
        # Need-type adjustment for de/es/fr/it/pt posts (classify/multilingual_need.py); None when not shipped.
        self.need_multilingual = multilingual_need.load(heads_dir)
        ml_path = heads_dir / multilingual_need.FILE
        self.sentence_rule = {**DEFAULT_SENTENCE_RULE, **meta.get("sentence_rule", {})}
        self.sentiment_rule = {**DEFAULT_SENTIMENT_RULE, **meta.get("sentiment_rule", {})}
        # Log-odds added to "neutral" before the argmax (dev-tuned by classify/training/train.py; 0 without meta).
        self.neutral_bias = float(meta.get("sentiment_neutral_bias", 0.0))
        # Job and step constants (tuned on review data by bench/jobs.py) live in their own file, over meta's.
        jobs_path = heads_dir / JOBS_FILE
        jobs_bytes = jobs_path.read_bytes() if jobs_path.exists() else b""
        tuned = json.loads(jobs_bytes) if jobs_bytes else {}
        self.job_calibration = JobCalibration.from_dict({**meta.get("jobs", {}), **tuned.get("jobs", {})})
        self.job_sentence_rule = SentenceRule.from_dict(tuned.get("sentences", {}))
        self.step_calibration = StepCalibration.from_dict(tuned.get("steps", {}))
        # Weights, thresholds and label maps all live in these files, so their digest versions the model.
        digest = hashlib.sha256(npz_path.read_bytes() + meta_path.read_bytes() + jobs_bytes
                                + (ml_path.read_bytes() if ml_path.exists() else b"")).hexdigest()[:8]
        self.model_version = f"voxpop-{meta.get('version', '0')}-{self.encoder.name}-{self.encoder.digest}-{digest}"
        self._job_cache: tuple[tuple[Job, ...], JobIndex] | None = None
        self._step_cache: tuple[tuple[Job, ...], StepIndex] | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 L2-normalised embeddings of texts."""
        return self.encoder.encode([t or "" for t in texts])

    def job_index(self, jobs: Sequence[Job]) -> JobIndex:
        """The embedded jobs (the last set is cached, so repeated batches with the same jobs are cheap)."""
        key = tuple(jobs)
        if self._job_cache is None or self._job_cache[0] != key:
            self._job_cache = (key, JobIndex.build(key, self.embed, self.job_calibration))
        return self._job_cache[1]

    def step_index(self, steps: Sequence[Job] | None = None) -> StepIndex:
        """The embedded steps (``DEFAULT_STEPS`` when None or empty; the last set is cached)."""
        key = tuple(steps) if steps else DEFAULT_STEPS
        if self._step_cache is None or self._step_cache[0] != key:
            self._step_cache = (key, StepIndex.build(key, self.embed, self.step_calibration))
        return self._step_cache[1]

    def predict(self, texts: Sequence[str], jobs: Sequence[Job] = (), *,
                titles: Sequence[str | None] | None = None,
                ratings: Sequence[float | None] | None = None,
                languages: Sequence[str | None] | None = None, steps: Sequence[Job] | None = None,
                job_index: JobIndex | None = None, negatives: np.ndarray | None = None) -> list[Prediction]:
        """Classify posts.

        Args:
            texts: post bodies.
            jobs: the product's jobs to be done; empty for none.
            steps: the product's steps of the job map (None or empty: ``classify.steps.DEFAULT_STEPS``).
            job_index: an already embedded job index to use instead of ``jobs`` (e.g. with learnt examples).
            negatives: (r, d) vectors of posts a person labelled "no job" (see ``classify.sentence_jobs``).
            titles: optional titles (seen by the post-level embedding only).
            ratings: optional star ratings on a 1-5 scale, an input of the sentiment head (None: no rating).
            languages: languages already detected (e.g. stored at crawl time); detected here when None.

        Returns:
            One Prediction per text, in order.
        """
        n = len(texts)
        for name, seq in (("titles", titles), ("ratings", ratings), ("languages", languages)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} must have one entry per text")
        bodies = [t if isinstance(t, str) else "" for t in texts]
        scored = self.score(bodies, titles=titles, ratings=ratings)
        index = job_index if job_index is not None else (self.job_index(jobs) if jobs else None)
        found = self.score_jobs(index, scored, bodies, negatives)
        out: list[Prediction] = []
        placed: list[int] = []
        step_vecs: list[np.ndarray] = []
        step_texts: list[str] = []
        for i in range(n):
            language = languages[i] if languages is not None else detect_language(
                compose_post(bodies[i], titles[i] if titles else None))
            if not is_classified(language):
                out.append(Prediction("neutral", 0.0, "other", 0.0, False, (), "", self.model_version,
                                      language, scored.post_vecs[i], classified=False))
                continue
            need_post, need_sentences = scored.need_post[i], scored.need_sentences[i]
            if language in multilingual_need.LANGUAGES:
                if self.need_multilingual is not None:
                    need_post = self.need_multilingual.proba(scored.post_vecs[i:i + 1], need_post[None])[0]
                    if len(need_sentences):
                        need_sentences = self.need_multilingual.proba(scored.sentence_vecs[i], need_sentences)
                need_post, need_sentences = multilingual_need.with_cues(bodies[i], scored.sentences[i], need_post,
                                                                        need_sentences, language)
            need_p, k, _ = need_from_sentences(need_post, need_sentences, self.sentence_rule,
                                               scored.sentence_fit[i], scored.sentiment_sentences[i],
                                               self.sentiment_rule["mixed_threshold"])
            sentences = scored.sentences[i]
            evidence = bodies[i].strip()
            evidence_at = -1
            if sentences:
                weight = need_sentences[:, k] * np.clip(scored.sentence_fit[i], 0.0, 1.0)
                first, last = choose_evidence(sentences, weight)
                evidence = " ".join(sentences[first:last + 1])
                evidence_at = last  # the sentence that states the failure (the object's may come before it)
            step_vecs.append(step_vector(scored, i, found.evidence_at[i], evidence_at))
            step_texts.append(step_text(scored, i, found.evidence_at[i], evidence_at, bodies[i]))
            p, label, mixed = post_sentiment(scored.sentiment[i], scored.sentiment_body[i],
                                             scored.sentiment_sentences[i], ratings[i] if ratings else None,
                                             NEED_TYPES[k], self.sentiment_rule)
            out.append(Prediction(
                sentiment=SENTIMENTS[label],
                sentiment_score=round(float(p[_POS] - p[_NEG]), 4),
                need_type=NEED_TYPES[k],
                need_score=round(float(need_p[k]), 4),
                unmet_need=NEED_TYPES[k] in UNMET_NEEDS,
                jobs=found.jobs[i],
                evidence=evidence,
                model_version=self.model_version,
                language=language,
                embedding=scored.post_vecs[i],
                sentences=tuple((text, SENTIMENTS[int(q.argmax())])
                                for text, q in zip(sentences, scored.sentiment_sentences[i], strict=True)),
                mixed=mixed,
            ))
            placed.append(len(out) - 1)
        if placed:
            where = self.step_index(steps).place(scored.post_vecs[placed], np.stack(step_vecs), step_texts,
                                                 [bodies[i] for i in placed])
            for i, (step, score) in zip(placed, where, strict=True):
                out[i] = replace(out[i], step=step or None, step_score=score if step else None)
        return out

    def score_jobs(self, index: JobIndex | None, scored: Scored, bodies: Sequence[str],
                   negatives: np.ndarray | None = None) -> ScoredJobs:
        """Jobs per post from its vector and its sentences' (``classify.sentence_jobs``)."""
        n = len(scored.post_vecs)
        if index is None:
            return ScoredJobs([()] * n, [-1] * n)
        return score_posts(index, scored.post_vecs, scored.sentence_vecs, scored.sentences, self.job_sentence_rule,
                           negatives=negatives, fallback_evidence=[b.strip() for b in bodies])

    def head_probabilities(self, vecs: np.ndarray, ratings: Sequence[float | None] | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Sentiment (the rating is an input) and post-level need-type probabilities of post vectors."""
        sentiment = _reorder(self.sentiment_head, SENTIMENTS,
                             self.sentiment_head.proba(np.hstack([vecs, rating_features(ratings, len(vecs))])))
        return (with_neutral_bias(sentiment, self.neutral_bias),
                _reorder(self.need_head, NEED_TYPES, self.need_head.proba(vecs)))

    def score(self, bodies: Sequence[str], *, titles: Sequence[str | None] | None = None,
              ratings: Sequence[float | None] | None = None) -> Scored:
        """One encoder pass over the posts and the raw head outputs (used by ``predict`` and tuning)."""
        composed = [compose_post(b, titles[i] if titles else None) for i, b in enumerate(bodies)]
        body_spans = []
        for body, full in zip(bodies, composed, strict=True):
            shift = len(full) - len(body)
            body_spans.append([(a + shift, b + shift) for a, b in sentence_spans(body)])
        post_vecs, sent_vecs = self.encoder.encode_with_spans(composed, body_spans)
        sentiment, need_post = self.head_probabilities(post_vecs, ratings)
        # Both heads run once over every sentence of the batch (one matrix product each, not one per post).
        counts = [len(v) for v in sent_vecs]
        stacked = np.vstack([v for v in sent_vecs if len(v)]) if sum(counts) else np.zeros((0, post_vecs.shape[1]),
                                                                                            np.float32)
        all_need = (_reorder(self.need_head, NEED_TYPES, self.need_head.proba(stacked)) if len(stacked)
                    else np.zeros((0, len(NEED_TYPES)), np.float32))
        all_sent = (self.sentiment_probabilities(stacked, None) if len(stacked)
                    else np.zeros((0, len(SENTIMENTS)), np.float32))
        bounds = np.cumsum([0, *counts])
        need_sentences = [all_need[bounds[i]:bounds[i + 1]] for i in range(len(counts))]
        sent_sentiment = [all_sent[bounds[i]:bounds[i + 1]] for i in range(len(counts))]
        sentences, fit = [], []
        body_vecs = post_vecs.copy()
        for i, vecs in enumerate(sent_vecs):
            shift = len(composed[i]) - len(bodies[i])
            sentences.append([bodies[i][a - shift:b - shift] for a, b in body_spans[i][: len(vecs)]])
            if len(vecs) and shift:  # a titled post: the body alone, pooled from its own sentence vectors
                body = vecs.mean(axis=0)
                body_vecs[i] = body / max(float(np.linalg.norm(body)), 1e-9)
            fit.append(vecs @ post_vecs[i] if len(vecs) else np.zeros(0, dtype=np.float32))
        titled = [i for i in range(len(bodies)) if len(composed[i]) != len(bodies[i])]
        body_sentiment = sentiment.copy()
        if titled:
            body_sentiment[titled] = self.sentiment_probabilities(
                body_vecs[titled], [ratings[i] for i in titled] if ratings is not None else None)
        return Scored(post_vecs, sentiment, need_post, need_sentences, sentences, fit, body_sentiment,
                      sent_sentiment, list(sent_vecs))

    def sentiment_probabilities(self, vecs: np.ndarray, ratings: Sequence[float | None] | None) -> np.ndarray:
        """Sentiment probabilities (neutral bias applied) of any vectors: posts, bodies or sentences."""
        p = self.sentiment_head.proba(np.hstack([vecs, rating_features(ratings, len(vecs))]))
        return with_neutral_bias(_reorder(self.sentiment_head, SENTIMENTS, p), self.neutral_bias)


@dataclass(frozen=True)
class Scored:
    """Raw outputs of one encoder pass: post vectors, sentiment and need probabilities, sentences."""

    post_vecs: np.ndarray
    sentiment: np.ndarray  # (n, 3) in SENTIMENTS order
    need_post: np.ndarray  # (n, 5) in NEED_TYPES order
    need_sentences: list[np.ndarray]  # per post (m, 5)
    sentences: list[list[str]]  # per post, the m sentences that got a vector
    sentence_fit: list[np.ndarray]  # per post (m,), cosine of each sentence vector to the post vector
    sentiment_body: np.ndarray  # (n, 3) the body without its title (the post's own row when untitled)
    sentiment_sentences: list[np.ndarray]  # per post (m, 3), each sentence alone, no rating
    sentence_vecs: list[np.ndarray] = field(default_factory=list)  # per post (m, d)


def post_sentiment(post_p: np.ndarray, body_p: np.ndarray, sent_p: np.ndarray, rating: float | None,
                   need_type: str, rule: dict[str, float]) -> tuple[np.ndarray, int, bool]:
    """A post's sentiment from its whole text, its body and its sentences: (probabilities, label index, mixed).

    - The title is part of what is read, never a reason to soften a complaint: when the body alone reads
      negative, the post does too.
    - A 1-2 star post that reports a problem, or has a sentence that reads negative, is negative: the stars
      and the words agree that it is a complaint.
    - Otherwise a clear complaint and clear praise in different sentences (each at least ``mixed_threshold``)
      make a mixed review: neutral at post level, with each sentence keeping its own sentiment.
    """
    p = post_p
    if int(body_p.argmax()) == _NEG and int(post_p.argmax()) != _NEG:
        p = body_p
    label = int(p.argmax())
    low = isinstance(rating, int | float) and not isinstance(rating, bool) and np.isfinite(rating) and rating < 2.5
    sent_labels = sent_p.argmax(axis=1) if len(sent_p) else np.zeros(0, dtype=int)
    if low:
        if label != _NEG and (need_type == "problem" or bool((sent_labels == _NEG).any())):
            label = _NEG
        return p, label, False
    t = rule["mixed_threshold"]
    if len(sent_p) > 1 and float(sent_p[:, _NEG].max()) >= t and float(sent_p[:, _POS].max()) >= t \
            and int(sent_p[:, _NEG].argmax()) != int(sent_p[:, _POS].argmax()):
        return p, _NEU, True
    return p, label, False


def step_vector(scored: Scored, i: int, job_at: int, need_at: int) -> np.ndarray:
    """The vector a post is placed on a step by: its top job's evidence sentence, else its need evidence
    sentence, else the whole post."""
    vecs = scored.sentence_vecs[i] if i < len(scored.sentence_vecs) else ()
    at = job_at if job_at >= 0 else need_at
    return vecs[at] if 0 <= at < len(vecs) else scored.post_vecs[i]


def step_text(scored: Scored, i: int, job_at: int, need_at: int, body: str) -> str:
    """The text of the sentence :func:`step_vector` picks (the whole body when it picks the post vector)."""
    sentences = scored.sentences[i] if i < len(scored.sentences) else ()
    at = job_at if job_at >= 0 else need_at
    return sentences[at] if 0 <= at < len(sentences) and i < len(scored.sentence_vecs) \
        and at < len(scored.sentence_vecs[i]) else body


def with_neutral_bias(p: np.ndarray, bias: float) -> np.ndarray:
    """Sentiment probabilities with ``bias`` added to the log-odds of neutral (rows renormalised)."""
    if not bias:
        return p
    q = p.copy()
    q[:, SENTIMENTS.index("neutral")] *= np.exp(bias)
    return q / q.sum(axis=1, keepdims=True)


def rating_features(ratings: Sequence[float | None] | None, n: int) -> np.ndarray:
    """(n, 6) one-hot rating input: slot 0 for no (or an unusable) rating, slots 1-5 for the stars."""
    out = np.zeros((n, RATING_SLOTS), dtype=np.float32)
    for i in range(n):
        r = ratings[i] if ratings is not None else None
        ok = isinstance(r, int | float) and not isinstance(r, bool) and np.isfinite(r) and 1 <= r <= 5
        out[i, int(round(float(r))) if ok else 0] = 1.0  # type: ignore[arg-type]
    return out


def need_from_sentences(post_p: np.ndarray, sent_p: np.ndarray, rule: dict[str, float],
                        fit: np.ndarray | None = None, sent_sentiment: np.ndarray | None = None,
                        clear_praise: float = DEFAULT_SENTIMENT_RULE["mixed_threshold"]
                        ) -> tuple[np.ndarray, int, int]:
    """A post's need type from its sentences: (probabilities, label index, evidence sentence index).

    One sentence that reports a problem or asks for a feature establishes an unmet need even in a post that
    is mostly praise; its weight against the post-level probabilities is ``rule["unmet_weight"]``. With the
    sentences' sentiments (``sent_sentiment``, (m, 3)), a mixed review read as praise or other becomes the need of
    its unmet-need sentence (see ``mixed_need``). The evidence is the sentence that both carries the chosen need
    type and stands for the post (its probability times its cosine ``fit`` to the post vector), so a trailing
    "Reinstalling did not help." loses to the crash it follows.
    """
    agg = post_p.astype(np.float64).copy()
    if len(sent_p):
        for k in _UNMET_INDEX:
            agg[k] = max(agg[k], rule["unmet_weight"] * float(sent_p[:, k].max()))
        agg /= agg.sum()
    k = int(agg.argmax())
    if not len(sent_p):
        return agg, k, 0
    if sent_sentiment is not None and k not in _UNMET_INDEX:
        at = mixed_need(sent_p, sent_sentiment, rule, clear_praise)
        if at >= 0:
            k = _UNMET_INDEX[int(sent_p[at, list(_UNMET_INDEX)].argmax())]
            agg[k] = max(agg[k], float(sent_p[at, k]))  # the need score says how clearly the sentence states it
            agg /= agg.sum()
    weight = sent_p[:, k] if fit is None else sent_p[:, k] * np.clip(fit, 0.0, 1.0)
    return agg, k, int(weight.argmax())


def mixed_need(sent_p: np.ndarray, sent_sentiment: np.ndarray, rule: dict[str, float], clear_praise: float) -> int:
    """The sentence whose need a mixed review takes, or -1: the likeliest problem or request sentence that does not
    read as praise (``rule["mixed_unmet_min"]``, ``rule["mixed_unmet_margin"]``), when another sentence is clear
    praise (positive >= ``clear_praise``).

    The post-level head and ``unmet_weight`` let the praise outweigh a one-sentence complaint ("I use this photo
    editor daily and the filters are gorgeous. Saving to the gallery freezes the whole app." was praise), so the
    evidence quoted the praise; the sentence's own sentiment tells a complaint from praise that merely mentions a
    feature ("Full of great ideas.").
    """
    m = min(len(sent_p), len(sent_sentiment))
    if m < 2:
        return -1
    senti = sent_sentiment[:m]
    strength = sent_p[:m][:, list(_UNMET_INDEX)].max(axis=1)
    candidate = (strength >= rule["mixed_unmet_min"]) & (senti[:, _NEG] - senti[:, _POS] >= rule["mixed_unmet_margin"])
    praise = senti[:, _POS] >= clear_praise
    for j in np.argsort(-strength, kind="stable"):
        if candidate[j] and bool(np.delete(praise, j).any()):
            return int(j)
    return -1


def _reorder(head: Head, order: Sequence[str], p: np.ndarray) -> np.ndarray:
    if tuple(head.classes) == tuple(order):
        return p
    return p[:, [head.classes.index(c) for c in order]]
