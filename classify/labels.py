"""Label sets of the classifier, defined once."""

from __future__ import annotations

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
NEED_TYPES: tuple[str, ...] = ("problem", "feature_request", "question", "praise", "other")
UNMET_NEEDS: frozenset[str] = frozenset({"problem", "feature_request"})
