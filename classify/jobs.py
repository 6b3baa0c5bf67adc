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


@dataclass(frozen=True)
class Job:
    """A configured job a product is hired for."""

    id: str
    statement: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobScore:
    """How well a post matches a job: a calibrated score in [0, 1]; >= 0.5 means the job applies."""

    job: str
    score: float


@dataclass(frozen=True)
class JobCalibration:
    """Scoring constants, fitted by ``classify/training/train.py``."""

    zero_shot_threshold: float = 0.45
    few_shot_threshold: float = 0.6
    temperature: float = 0.05
    nearest_weight: float = 0.5
    statement_weight: float = 1.0
    max_jobs: int = 3

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

    @classmethod
    def build(cls, jobs: Sequence[Job], encode: Callable[[Sequence[str]], np.ndarray],
              calibration: JobCalibration) -> JobIndex:
        """Embed statements and examples of ``jobs`` with one encoder call."""
        texts: list[str] = []
        spans: list[tuple[int, int]] = []
        for job in jobs:
            start = len(texts)
            texts.append(job.statement)
            texts.extend(e for e in job.examples if e and e.strip())
            spans.append((start, len(texts)))
        vecs = encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        return cls.from_vectors([j.id for j in jobs], [vecs[a:b] for a, b in spans], calibration)

    @classmethod
    def from_vectors(cls, ids: list[str], vectors: list[np.ndarray], calibration: JobCalibration) -> JobIndex:
        """Build from per-job arrays whose first row is the statement and the rest are examples."""
        protos, few = [], []
        for v in vectors:
            weights = np.ones(len(v), dtype=np.float32)
            weights[0] = calibration.statement_weight if len(v) > 1 else 1.0
            p = (v * weights[:, None]).sum(0)
            protos.append(p / max(float(np.linalg.norm(p)), 1e-9))
            few.append(len(v) > 1)
        dim = vectors[0].shape[1] if vectors else 1
        return cls(ids, np.asarray(protos, dtype=np.float32).reshape(len(ids), dim), list(vectors),
                   np.asarray(few, dtype=bool), calibration)

    def raw_scores(self, post_vecs: np.ndarray) -> np.ndarray:
        """(n, k) raw similarity scores."""
        if not self.ids:
            return np.zeros((len(post_vecs), 0), dtype=np.float32)
        proto = post_vecs @ self.prototypes.T
        nearest = np.stack([(post_vecs @ v.T).max(axis=1) for v in self.example_vecs], axis=1)
        a = self.calibration.nearest_weight
        return ((1 - a) * proto + a * nearest).astype(np.float32)

    def calibrated(self, post_vecs: np.ndarray) -> np.ndarray:
        """(n, k) scores in [0, 1]; 0.5 is each job's own threshold."""
        c = self.calibration
        thr = np.where(self.few_shot, c.few_shot_threshold, c.zero_shot_threshold).astype(np.float32)
        z = (self.raw_scores(post_vecs) - thr) / c.temperature
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def top(self, post_vecs: np.ndarray) -> list[tuple[JobScore, ...]]:
        """Per post, the jobs that apply (score >= 0.5), best first, at most ``max_jobs``."""
        scores = self.calibrated(post_vecs)
        out = []
        for row in scores:
            order = np.argsort(-row, kind="stable")[: self.calibration.max_jobs]
            out.append(tuple(JobScore(self.ids[j], round(float(row[j]), 4)) for j in order if row[j] >= 0.5))
        return out
