"""Jobs per sentence: a post takes a job when one of its sentences, or the whole post, matches it.

A review is rarely about one thing: "Great app. I use it daily. Exporting to PDF crashes every time." holds
its job in one sentence out of three, and the post vector dilutes it. Here each job's raw score (the
prototype/nearest-example blend of :class:`classify.jobs.JobIndex`) is taken on the post vector and on
every sentence vector; the job's score is the best of them (a sentence pays ``sentence_offset``, since one
short sentence matches an example more easily than a whole post does), calibrated like post scores. The
sentence with the best score for the job is kept as its evidence.

Negative examples (posts a person labelled "no job", ``voxpop label --no-jobs``) push a post below every
job's threshold when the post is at least ``negative_min`` similar to one of them and closer to it than to
any example of the job.

A post with no job over its threshold is not yet "no job": when its best job is just under the threshold and
the post reads more like that job than like an ordinary review ("Love it!"), it takes that job
(``SentenceRule.rescue_margin``), so that "no job" is kept for posts that talk about none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classify.jobs import JobIndex, JobScore


@dataclass(frozen=True)
class SentenceRule:
    """Constants of per-sentence job scoring (``classify/model/jobs.json``, key ``sentences``)."""

    sentence_offset: float = 0.0
    negative_min: float = 0.8
    relative_margin: float = 1.0  # a job more than this below the post's best job (raw score) does not apply
    # A sentence closer to an ordinary review (classify.hubness.GENERIC_REVIEWS) than to a job's nearest
    # example by more than this says nothing about the job ("Best app I have used in years."): it cannot match it.
    generic_margin: float = 1.0
    # Sentence vectors are pooled from the post's own forward pass, so they carry some of the whole post: this share
    # of the post vector is taken off each sentence vector of a post with several sentences (then renormalised).
    context_removal: float = 0.0
    use_sentences: bool = True
    # The "about a job at all" gate: a post left with no job still takes its best one when that job's raw score is
    # at most ``rescue_margin`` below its threshold and beats the post's likeness to an ordinary review
    # (classify.hubness.GENERIC_REVIEWS) by more than ``rescue_generic``; 0 margin is off. Such a job scores 0.5.
    rescue_margin: float = 0.0
    rescue_generic: float = 0.0

    @classmethod
    def from_dict(cls, data: dict) -> SentenceRule:
        """Build from a dict, ignoring unknown keys."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class JobMatch:
    """Raw per-post job scores and, per job, the index of its best sentence (-1: the whole post won or none)."""

    raw: np.ndarray  # (k,) best raw score per job (post or sentence)
    sentence_raw: np.ndarray  # (k,) best sentence raw score per job (-inf with no sentences)
    best_sentence: np.ndarray  # (k,) int, argmax sentence per job (-1 with no sentences)


def _raw(index: JobIndex, vecs: np.ndarray, rule: SentenceRule) -> np.ndarray:
    """(n, k) raw scores of sentences, those that read as an ordinary review rather than the job pushed out."""
    raw = index.raw_scores(vecs)
    if index.background is None or rule.generic_margin >= 1.0 or not len(vecs) or not index.ids:
        return raw
    generic = (vecs @ index.background.T).max(axis=1)
    nearest = np.stack([(vecs @ v.T).max(axis=1) for v in index.example_vecs], axis=1)
    return np.where(generic[:, None] - nearest > rule.generic_margin, -1.0, raw).astype(np.float32)


def _own(sentence_vecs: np.ndarray, post_vec: np.ndarray, share: float) -> np.ndarray:
    """Sentence vectors with ``share`` of their post's vector taken off (only when the post has several)."""
    if not share or len(sentence_vecs) < 2:
        return sentence_vecs
    v = sentence_vecs - share * post_vec[None, :]
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


def match_jobs(index: JobIndex, post_vecs: np.ndarray, sent_vecs: Sequence[np.ndarray],
               rule: SentenceRule) -> list[JobMatch]:
    """Per post, raw job scores over the post and its sentences (one matrix product for the batch)."""
    n, k = len(post_vecs), len(index.ids)
    post_raw = index.raw_scores(np.asarray(post_vecs, dtype=np.float32)) if n else np.zeros((0, k), np.float32)
    counts = [len(v) if rule.use_sentences else 0 for v in sent_vecs] if sent_vecs else [0] * n
    stacked = [_own(v, post_vecs[i], rule.context_removal) for i, (v, c) in enumerate(zip(sent_vecs, counts,
                                                                                            strict=False)) if c]
    sent_raw = _raw(index, np.vstack(stacked).astype(np.float32), rule) if stacked else np.zeros((0, k), np.float32)
    out, pos = [], 0
    for i in range(n):
        m = counts[i]
        if m:
            block = sent_raw[pos:pos + m]
            pos += m
            best = block.argmax(axis=0)
            s_raw = block.max(axis=0) - rule.sentence_offset
            raw = np.maximum(post_raw[i], s_raw)
        else:
            best = np.full(k, -1)
            s_raw = np.full(k, -np.inf, dtype=np.float32)
            raw = post_raw[i]
        out.append(JobMatch(raw.astype(np.float32), s_raw.astype(np.float32), best.astype(int)))
    return out


def negative_mask(index: JobIndex, post_vecs: np.ndarray, negatives: np.ndarray | None,
                  rule: SentenceRule) -> np.ndarray:
    """(n, k) True where a negative example vetoes the job for the post."""
    n, k = len(post_vecs), len(index.ids)
    if negatives is None or not len(negatives) or not n or not k:
        return np.zeros((n, k), dtype=bool)
    x = np.asarray(post_vecs, dtype=np.float32)
    neg = (x @ np.asarray(negatives, dtype=np.float32).T).max(axis=1)  # (n,)
    pos = np.stack([(x @ v.T).max(axis=1) for v in index.example_vecs], axis=1)  # (n, k)
    return (neg[:, None] >= rule.negative_min) & (neg[:, None] > pos)


def _rescue(index: JobIndex, post_vecs: np.ndarray, raw: np.ndarray, scores: np.ndarray, veto: np.ndarray,
            rule: SentenceRule) -> np.ndarray:
    """Scores with the best job of each jobless post raised to 0.5 where the gate says it is about that job."""
    if rule.rescue_margin <= 0 or index.background is None or not len(raw):
        return scores
    best = raw.argmax(axis=1)
    rows = np.arange(len(raw))
    top = raw[rows, best]
    generic = (np.asarray(post_vecs, dtype=np.float32) @ index.background.T).max(axis=1)
    gate = ((scores.max(axis=1) < 0.5) & ~veto[rows, best] & (top >= index.thresholds()[best] - rule.rescue_margin)
            & (top - generic > rule.rescue_generic))
    out = scores.copy()
    out[rows[gate], best[gate]] = 0.5
    return out


@dataclass(frozen=True)
class ScoredJobs:
    """Per post: the jobs that apply and the index of the top job's evidence sentence (-1: none)."""

    jobs: list[tuple[JobScore, ...]]
    evidence_at: list[int]


def score_posts(index: JobIndex, post_vecs: np.ndarray, sent_vecs: Sequence[np.ndarray],
                sentences: Sequence[Sequence[str]], rule: SentenceRule, *,
                negatives: np.ndarray | None = None, fallback_evidence: Sequence[str] | None = None
                ) -> ScoredJobs:
    """Per post, the jobs that apply (score >= 0.5), best first, at most ``max_jobs``, each with its evidence.

    Args:
        index: the product's embedded jobs.
        post_vecs: (n, d) post vectors.
        sent_vecs: per post (m_i, d) sentence vectors (may be empty lists: post-level scoring only).
        sentences: per post the m_i sentences, in the order of ``sent_vecs``.
        rule: sentence offset and negative-example constants.
        negatives: (r, d) vectors of posts labelled "no job".
        fallback_evidence: per post the text used as evidence when no sentence vector exists.
    """
    if not index.ids or not len(post_vecs):
        return ScoredJobs([() for _ in range(len(post_vecs))], [-1] * len(post_vecs))
    sent_vecs = list(sent_vecs) if len(sent_vecs) else [np.zeros((0, post_vecs.shape[1]), np.float32)] * len(post_vecs)
    matches = match_jobs(index, post_vecs, sent_vecs, rule)
    scores = index.calibrate(np.stack([m.raw for m in matches]))
    veto = negative_mask(index, post_vecs, negatives, rule)
    raw = np.stack([m.raw for m in matches])
    behind = raw < raw.max(axis=1, keepdims=True) - rule.relative_margin
    scores = np.where(veto | behind, np.minimum(scores, 0.49), scores)
    scores = _rescue(index, post_vecs, raw, scores, veto, rule)
    if index.corrected is not None:
        scores = index.corrected.raise_scores(np.asarray(post_vecs, dtype=np.float32), scores,
                                              index.calibration.neighbour_min)
    out, tops = [], []
    for i, (m, row) in enumerate(zip(matches, scores, strict=True)):
        order = np.argsort(-row, kind="stable")[: index.calibration.max_jobs]
        picked = []
        for j in order:
            if row[j] < 0.5:
                continue
            s = int(m.best_sentence[j])
            sents = sentences[i] if i < len(sentences) else ()
            evidence = sents[s] if 0 <= s < len(sents) else (fallback_evidence[i] if fallback_evidence else "")
            picked.append(JobScore(index.ids[j], round(float(row[j]), 4), evidence))
        out.append(tuple(picked))
        tops.append(int(m.best_sentence[index.ids.index(picked[0].job)]) if picked else -1)
    return ScoredJobs(out, tops)

