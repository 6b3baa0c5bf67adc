"""Classifier: sentiment, need type (unmet needs), jobs to be done and an evidence sentence per post.

``Classifier`` and ``Prediction`` live in ``classify.pipeline``, which imports torch and transformers;
they are loaded lazily here so that ``import classify`` (e.g. for ``Job``) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classify.jobs import Job, JobScore
from classify.labels import NEED_TYPES, SENTIMENTS, UNMET_NEEDS

if TYPE_CHECKING:
    from classify.pipeline import Classifier, Prediction

__all__ = ["Classifier", "Job", "JobScore", "NEED_TYPES", "Prediction", "SENTIMENTS", "UNMET_NEEDS"]


def __getattr__(name: str) -> Any:
    if name in ("Classifier", "Prediction"):
        from classify import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'classify' has no attribute {name!r}")
