"""The detector's settings: one frozen :class:`Params`, every default taken from ``config.AlertSpec``.

Kept apart from the detector so that the tests of each family (``alerts.day_tests``,
``alerts.release_tests``, ``alerts.product_tests``) and the store side can take the settings without
importing the detector itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from voxpop.config import AlertSpec

_SPEC = AlertSpec()


@dataclass(frozen=True)
class Params:
    """Detector settings; every default is the ``[alerts]`` default of :class:`config.AlertSpec`."""

    join_similarity: float = _SPEC.join_similarity
    merge_similarity: float = _SPEC.merge_similarity
    min_count: int = _SPEC.min_count
    sensitivity: float = _SPEC.sensitivity
    fdr: float = _SPEC.fdr
    cooldown_days: int = _SPEC.cooldown_days
    resolve_after_days: int = _SPEC.resolve_after_days
    window_days: int = _SPEC.window_days
    baseline_days: int = _SPEC.baseline_days
    min_volume: int = _SPEC.min_volume
    rating_drop: float = _SPEC.rating_drop
    sentiment_drop: float = _SPEC.sentiment_drop
    volume_ratio: float = _SPEC.volume_ratio
    min_baseline_days: int = _SPEC.min_baseline_days
    version_min_posts: int = _SPEC.version_min_posts
    baseline_versions: int = _SPEC.baseline_versions
    version_sensitivity: float = _SPEC.version_sensitivity
    version_fdr: float = _SPEC.version_fdr
    release_top: int = _SPEC.release_top
    release_watch: float = _SPEC.release_watch

    @classmethod
    def from_spec(cls, spec: Any) -> Params:
        """Build from an ``AlertSpec`` (fields it lacks keep their defaults)."""
        return cls(**{f.name: getattr(spec, f.name) for f in fields(cls) if hasattr(spec, f.name)})
