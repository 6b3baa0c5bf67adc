"""Hub jobs: a job whose statement sits close to everything people write gets a share of its closeness taken off.

Some jobs are near every review of a product ("Have my notes on every device I use" is near any sentence about
a notes app), so they win posts that say nothing about them. Like CSLS in cross-lingual retrieval, each job's
raw score is lowered by ``hub_weight`` times how close the job is to ordinary reviews: the mean of its ``k``
best cosines to :data:`GENERIC_REVIEWS` (sentences in our own words about no job in particular), centred on
the mean over the product's jobs so that the overall level, and the thresholds, stay where they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Written by us: what reviews of any app, game or service say when they name no particular job.
GENERIC_REVIEWS: tuple[str, ...] = (
    "Great app, I love it.",
    "Best app I have ever used, five stars.",
    "Terrible, do not download this.",
    "It keeps crashing after the last update.",
    "Works fine most of the time.",
    "The new update ruined everything.",
    "Please fix the bugs, it is so slow now.",
    "Simple, clean and easy to use.",
    "Waste of money, I want a refund.",
    "Customer service was useless.",
    "I have used it for years and it never let me down.",
    "Too many ads, it is unusable.",
    "It was good before, now it is bad.",
    "Nice design but it lacks features.",
    "The app freezes every time I open it.",
    "Not worth it, uninstalling.",
    "Amazing, thank you developers!",
    "I do not recommend this to anyone.",
    "It does what it says, nothing more.",
    "Overall a decent experience.",
    "Could be better, three stars.",
    "The latest version is full of bugs.",
    "Fun at first but it gets boring.",
    "Keeps logging me out for no reason.",
    "Loading takes forever on my phone.",
    "Love the interface and the colours.",
    "Everything works smoothly on my device.",
    "I gave it a chance but it disappointed me.",
    "The developers never listen to feedback.",
    "Still the best option out there.",
    "My whole family uses it every day.",
    "It drains my battery way too fast.",
)


def hub_levels(prototypes: np.ndarray, background: np.ndarray, k: int = 5) -> np.ndarray:
    """(j,) per job, the mean of its ``k`` highest cosines to the background sentences, centred over the jobs."""
    if not len(prototypes) or not len(background):
        return np.zeros(len(prototypes), dtype=np.float32)
    sims = prototypes @ background.T
    k = max(1, min(k, sims.shape[1]))
    level = np.sort(sims, axis=1)[:, -k:].mean(axis=1)
    return (level - level.mean()).astype(np.float32)


def background_vectors(encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """The embedded :data:`GENERIC_REVIEWS`."""
    return np.asarray(encode(list(GENERIC_REVIEWS)), dtype=np.float32)
