"""Jobs to be done: zero-shot from the statement, few-shot from examples, and a calibrated "no job" answer.

A job's prototype is the normalised mean of its example embeddings, with the statement counted as one
more example (``statement_weight``); with no examples it is the statement alone. A post's raw score
for a job is the cosine to the prototype blended with the cosine to the nearest single example.
Raw scores are mapped to ``sigmoid((raw - threshold) / temperature)`` so that 0.5 means "just applies";
zero-shot and few-shot jobs have their own thresholds, calibrated on CLINC150 train (in-scope vs oos).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from classify.corrected_jobs import CorrectedJobs


@dataclass(frozen=True)
class Job:
    """A configured job a product is hired for."""

    id: str
    statement: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobScore:
    """How well a post matches a job: a calibrated score in [0, 1]; >= 0.5 means the job applies.

    ``evidence`` is the post's sentence that matched the job best (empty when scored from a post vector alone).
    """

    job: str
    score: float
    evidence: str = ""


@dataclass(frozen=True)
class JobCalibration:
    """Scoring constants, fitted by ``classify/training/train.py``."""

    zero_shot_threshold: float = 0.45
    few_shot_threshold: float = 0.6
    # Jobs with 1 to ``many_examples - 1`` examples (a PM's config, a few corrections) match reviews at lower
    # similarities than a job with ten examples matches a one-line query: their own threshold (None: few-shot's).
    some_shot_threshold: float | None = None
    many_examples: int = 5
    temperature: float = 0.05
    nearest_weight: float = 0.5
    statement_weight: float = 1.0
    max_jobs: int = 3
    hub_weight: float = 0.0  # see classify/hubness.py
    # A post whose nearest corrected post (``voxpop label --jobs``) is at least this similar takes its jobs too
    # (classify/corrected_jobs.py); chosen on the dev products with ``bench/jobs.py --corrections``.
    neighbour_min: float = 0.6

    @classmethod
    def from_dict(cls, data: dict) -> JobCalibration:
        """Build from a dict, ignoring unknown keys."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class JobIndex:
    """Embedded jobs, ready to score posts."""

    ids: list[str]
    prototypes: np.ndarray  # (k, d)
    example_vecs: list[np.ndarray]  # per job (m_j, d), statement included
    few_shot: np.ndarray  # (k,) bool
    calibration: JobCalibration = field(default_factory=JobCalibration)
    background: np.ndarray | None = None  # embedded classify.hubness.GENERIC_REVIEWS
    hub: np.ndarray | None = None  # (k,) centred hub level of each job
    corrected: CorrectedJobs | None = None  # a product's job corrections, acting near the corrected posts

    @classmethod
    def build(cls, jobs: Sequence[Job], encode: Callable[[Sequence[str]], np.ndarray],
              calibration: JobCalibration) -> JobIndex:
        """Embed statements and examples of ``jobs`` with one encoder call."""
        from classify.hubness import GENERIC_REVIEWS

        texts: list[str] = list(GENERIC_REVIEWS)
        spans: list[tuple[int, int]] = []
        for job in jobs:
            start = len(texts)
            texts.append(job.statement)
            texts.extend(e for e in job.examples if e and e.strip())
            spans.append((start, len(texts)))
        vecs = encode(texts) if jobs else np.zeros((0, 1), dtype=np.float32)
        background = vecs[:len(GENERIC_REVIEWS)] if jobs else None
        return cls.from_vectors([j.id for j in jobs], [vecs[a:b] for a, b in spans], calibration, background)

    @classmethod
    def from_vectors(cls, ids: list[str], vectors: list[np.ndarray], calibration: JobCalibration,
                     background: np.ndarray | None = None) -> JobIndex:
        """Build from per-job arrays whose first row is the statement and the rest are examples.

        ``background``: embedded generic reviews, for the hub correction (``classify.hubness``); None: no correction.
        """
        from classify.hubness import hub_levels

        protos, few = [], []
        for v in vectors:
            weights = np.ones(len(v), dtype=np.float32)
            weights[0] = calibration.statement_weight if len(v) > 1 else 1.0
            p = (v * weights[:, None]).sum(0)
            protos.append(p / max(float(np.linalg.norm(p)), 1e-9))
            few.append(len(v) > 1)
        dim = vectors[0].shape[1] if vectors else 1
        prototypes = np.asarray(protos, dtype=np.float32).reshape(len(ids), dim)
        hub = hub_levels(prototypes, background) if background is not None and len(ids) else None
        return cls(ids, prototypes, list(vectors), np.asarray(few, dtype=bool), calibration, background, hub)

    def raw_scores(self, post_vecs: np.ndarray) -> np.ndarray:
        """(n, k) raw similarity scores."""
        if not self.ids:
            return np.zeros((len(post_vecs), 0), dtype=np.float32)
        proto = post_vecs @ self.prototypes.T
        nearest = np.stack([(post_vecs @ v.T).max(axis=1) for v in self.example_vecs], axis=1)
        a = self.calibration.nearest_weight
        raw = (1 - a) * proto + a * nearest
        if self.hub is not None and self.calibration.hub_weight:
            raw = raw - self.calibration.hub_weight * self.hub
        return raw.astype(np.float32)

    def thresholds(self) -> np.ndarray:
        """(k,) each job's raw-score threshold, by how many examples it has (zero, some or many)."""
        c = self.calibration
        some = c.few_shot_threshold if c.some_shot_threshold is None else c.some_shot_threshold
        n_examples = np.asarray([len(v) - 1 for v in self.example_vecs], dtype=int)
        thr = np.where(n_examples >= c.many_examples, c.few_shot_threshold, some)
        return np.where(n_examples == 0, c.zero_shot_threshold, thr).astype(np.float32)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores (..., k) to [0, 1]; 0.5 is each job's own threshold."""
        z = (raw - self.thresholds()) / self.calibration.temperature
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def calibrated(self, post_vecs: np.ndarray) -> np.ndarray:
        """(n, k) scores in [0, 1]; 0.5 is each job's own threshold."""
        return self.calibrate(self.raw_scores(post_vecs))

    def top(self, post_vecs: np.ndarray) -> list[tuple[JobScore, ...]]:
        """Per post, the jobs that apply (score >= 0.5), best first, at most ``max_jobs``."""
        scores = self.calibrated(post_vecs)
        out = []
        for row in scores:
            order = np.argsort(-row, kind="stable")[: self.calibration.max_jobs]
            out.append(tuple(JobScore(self.ids[j], round(float(row[j]), 4)) for j in order if row[j] >= 0.5))
        return out
