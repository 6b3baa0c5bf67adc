"""A product's job corrections acting near the corrected posts, not on every post.

A person's job correction (``voxpop label --jobs``) used to join the job's examples, so it moved the job's
prototype. A whole review is a poor example of a job: its vector carries the review's style as much as its
subject, so every corrected review pulled its job (and all others, in turn) towards "an ordinary review", and
the product's posts took more jobs they do not have. On the hand-labelled dev products (``bench/jobs.py
--corrections``) job micro-F1 went *down* after 10 to 100 random corrections.

Here the prototypes stay as the product's config wrote them, and the corrections are a memory of posts with the
jobs a person gave them: a post whose nearest corrected post is at least ``neighbour_min`` similar (cosine of
post vectors) takes that post's jobs as well as its own (score ``0.5`` at the bound, rising to ``1.0`` for a
twin). A correction therefore moves only the posts that read like it, whatever class it is of; "no job"
corrections are in the memory too (so the nearest corrected post may say "none", adding nothing) and keep their
own veto in :func:`classify.sentence_jobs.negative_mask`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CorrectedJobs:
    """Corrected posts' vectors and, per post, which of the index's jobs a person gave it."""

    vecs: np.ndarray  # (m, d) unit post vectors
    jobs: np.ndarray  # (m, k) bool, columns in the order of the job index's ids

    @classmethod
    def from_examples(cls, ids: Sequence[str], job_examples: Mapping[str, np.ndarray],
                      no_jobs: np.ndarray | None = None) -> CorrectedJobs | None:
        """Build from a product layer's per-job post vectors and "no job" vectors (None when there are none).

        A post corrected to several jobs is stored once per job; identical vectors are folded back into one post.
        Jobs that are no longer in ``ids`` (renamed or removed from the config) are dropped.
        """
        rows: dict[bytes, int] = {}
        vecs: list[np.ndarray] = []
        marks: list[set[int]] = []
        column = {job: j for j, job in enumerate(ids)}

        def row_of(vec: np.ndarray) -> int:
            key = np.asarray(vec, dtype=np.float32).tobytes()
            if key not in rows:
                rows[key] = len(vecs)
                vecs.append(np.asarray(vec, dtype=np.float32))
                marks.append(set())
            return rows[key]

        for job, block in job_examples.items():
            for vec in np.atleast_2d(np.asarray(block, dtype=np.float32)):
                at = row_of(vec)
                if job in column:
                    marks[at].add(column[job])
        if no_jobs is not None:
            for vec in np.atleast_2d(np.asarray(no_jobs, dtype=np.float32)):
                row_of(vec)
        if not vecs:
            return None
        table = np.zeros((len(vecs), len(ids)), dtype=bool)
        for at, cols in enumerate(marks):
            table[at, sorted(cols)] = True
        return cls(np.stack(vecs), table)

    def raise_scores(self, post_vecs: np.ndarray, scores: np.ndarray, neighbour_min: float) -> np.ndarray:
        """``scores`` (n, k) with the jobs of each post's nearest corrected post raised, where it is near enough."""
        if not len(post_vecs) or not len(self.vecs) or neighbour_min >= 1.0 or self.vecs.shape[1] != post_vecs.shape[1]:
            return scores
        sims = np.asarray(post_vecs, dtype=np.float32) @ self.vecs.T  # (n, m)
        nearest = sims.argmax(axis=1)
        closeness = sims[np.arange(len(sims)), nearest]
        near = closeness >= neighbour_min
        if not near.any():
            return scores
        lift = 0.5 + 0.5 * np.clip((closeness - neighbour_min) / (1.0 - neighbour_min), 0.0, 1.0)  # (n,)
        given = self.jobs[nearest] & near[:, None]  # (n, k)
        return np.where(given, np.maximum(scores, lift[:, None]), scores)
