"""The job map: the step of the customer's process a post sits on (choose ... leave).

Every classified post is placed on exactly one step. Steps are taxonomy like jobs: an id, a statement and
examples; a product may configure its own (``[[products.steps]]``), otherwise :data:`DEFAULT_STEPS` apply.
A post is scored on its evidence sentence (the sentence that carried its top job, when it has one) and on
the whole post; the step's raw score is the same prototype/nearest-example blend as jobs
(:class:`classify.jobs.JobIndex`), plus ``cue_bonus`` when the evidence sentence holds a cue word of a
default step (:mod:`classify.step_cues`: "uninstalled", "log in", "how do I"), or ``post_cue_bonus`` when only
another sentence of the post does. ``use`` (doing the job itself)
is where most posts sit, so a step other than the fallback must beat it by ``margin``; ``step_score`` is the
softmax share of the chosen step at ``temperature``. Constants live in ``classify/model/jobs.json``
(``steps``), tuned on the dev products of the hand-labelled jobs set (``bench/jobs.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from classify.jobs import Job, JobCalibration, JobIndex
from classify.step_cues import DECISIVE_STEP, cue_matrix

FALLBACK_STEP = "use"


@dataclass(frozen=True)
class StepCalibration:
    """How steps are chosen (see the module docstring)."""

    margin: float = 0.0
    temperature: float = 0.05
    nearest_weight: float = 0.5
    statement_weight: float = 1.0
    post_weight: float = 0.5  # blend of the evidence sentence's and the whole post's scores
    fallback: str = FALLBACK_STEP
    hub_weight: float = 0.0  # steps close to every review lose this share of it (classify/hubness.py)
    cue_bonus: float = 0.0  # added to a default step's raw score when its evidence sentence holds a cue of it
    # added instead when the cue is elsewhere in the post only: the step is often said in another sentence than
    # the job ("The sync is broken. Uninstalled.")
    post_cue_bonus: float = 0.0

    def job_calibration(self) -> JobCalibration:
        """The :class:`JobCalibration` the step index scores with."""
        return JobCalibration(nearest_weight=self.nearest_weight, statement_weight=self.statement_weight,
                              hub_weight=self.hub_weight)

    @classmethod
    def from_dict(cls, data: dict) -> StepCalibration:
        """Build from a dict, ignoring unknown keys."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _step(id_: str, statement: str, *examples: str) -> Job:
    return Job(id_, statement, tuple(examples))


# Our own wording, short first-person sentences of the kind reviews are made of.
DEFAULT_STEPS: tuple[Job, ...] = (
    _step("choose", "Compare options, try the product and decide whether it is the right one",
          "I compared it with three other apps before picking this one",
          "trying out the free trial to see if it fits my needs",
          "switched over from a competitor because this one looked better",
          "is it worth it compared to the alternatives",
          "still deciding between this and another app"),
    _step("get", "Get the product: buy it, subscribe, download, install or sign up",
          "downloaded it from the store yesterday",
          "the install failed halfway through",
          "bought the full version as soon as I saw it",
          "creating an account took forever",
          "I can't even download the update"),
    _step("set-up", "Set the product up: onboarding, importing data, configuring, connecting and signing in",
          "importing my old data was painless",
          "I cannot log in to my account anymore",
          "setting it up with my other tools took a few minutes",
          "the onboarding tutorial walked me through the settings",
          "it will not connect to my account after the update",
          "it will not even start, stuck on the loading screen",
          "I cannot get it to run on my computer at all"),
    _step("learn", "Learn how to use the product and find out how things work",
          "how do I change the default settings",
          "the documentation does not explain how this works",
          "it took me a while to figure out where everything is",
          "a short tutorial would help new users",
          "is there a way to do this that I am missing",
          "hard for beginners, it takes time to get the hang of it"),
    _step("use", "Use the product to do the job itself, day to day",
          "I use it every day to get my work done",
          "works great for what I need",
          "the main feature keeps crashing while I am working",
          "it is fast and does exactly what I want",
          "please add an option to do more with it",
          # complaints and questions about a feature are still about using it (not about leaving)
          "a feature I rely on does not update properly",
          "it keeps asking me to redo the same thing, annoying",
          "can it do this one thing I need every day",
          "the screen does not show my latest changes"),
    _step("get-help", "Get help: contact support, fix a problem, recover lost data",
          "customer support never answered my emails",
          "I lost all my data and need it back",
          "the support team fixed my issue within a day",
          "how do I get a refund, nobody replies",
          "contacted the developers about the bug and heard nothing"),
    _step("pay", "Pay for the product: pricing, billing, subscriptions and renewals",
          "too expensive for what it offers",
          "I was charged twice this month",
          "the subscription renewed without any warning",
          "the price went up again",
          "worth every penny of the yearly plan"),
    # Leaving is an act (cancel, uninstall, quit, move away): the examples say so without the words every app
    # review uses ("app", "old version", "fix this"), which pulled feature complaints and account questions here.
    _step("leave", "Leave the product: cancel, export my data to move elsewhere, switch or uninstall",
          "I cancelled my subscription and I am done with it",
          "uninstalled it for good",
          "exporting everything so I can quit and move to a competitor",
          "switched to a different product and never coming back",
          "please delete my account, I am leaving",
          "I have had enough, I am dropping this service"),
)


@dataclass
class StepIndex:
    """Embedded steps, ready to place posts on one of them."""

    index: JobIndex
    calibration: StepCalibration = field(default_factory=StepCalibration)

    @classmethod
    def build(cls, steps: Sequence[Job], encode: Callable[[Sequence[str]], np.ndarray],
              calibration: StepCalibration) -> StepIndex:
        """Embed the statements and examples of ``steps`` (one encoder call)."""
        return cls(JobIndex.build(list(steps), encode, calibration.job_calibration()), calibration)

    @property
    def ids(self) -> list[str]:
        """Step ids, in configured order."""
        return self.index.ids

    def raw(self, post_vecs: np.ndarray, evidence_vecs: np.ndarray | None = None,
            evidence_texts: Sequence[str | None] | None = None,
            post_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """(n, k) raw step scores: the evidence sentence blended with the whole post (``post_weight``), plus
        ``cue_bonus`` for each default step whose cue the evidence text holds and ``post_cue_bonus`` for one
        whose cue only the rest of the post holds (``classify.step_cues``)."""
        raw = self.index.raw_scores(np.asarray(post_vecs, dtype=np.float32))
        if evidence_vecs is not None:
            ev = self.index.raw_scores(np.asarray(evidence_vecs, dtype=np.float32))
            w = self.calibration.post_weight
            raw = w * raw + (1 - w) * ev
        return (raw + self.cue_scores(len(raw), evidence_texts, post_texts)).astype(np.float32)

    def cue_scores(self, n: int, evidence_texts: Sequence[str | None] | None,
                   post_texts: Sequence[str | None] | None) -> np.ndarray:
        """(n, k) what the step cues add to the raw scores (zeros without texts or bonuses).

        A cue in the evidence sentence adds ``cue_bonus``, one only elsewhere in the post ``post_cue_bonus``;
        but a cue of leaving (:data:`classify.step_cues.DECISIVE_STEP`) anywhere in the post adds the full
        ``cue_bonus`` to leave alone: a review that says its writer uninstalled or asked for a refund is about
        leaving, however much of it tells what came before (bought it, stuck on loading, the price).
        """
        c = self.calibration
        out = np.zeros((n, len(self.ids)), dtype=np.float32)
        for name, texts in (("evidence_texts", evidence_texts), ("post_texts", post_texts)):
            if texts is not None and len(texts) != n:
                raise ValueError(f"{name} must have one entry per post")
        in_evidence = (cue_matrix(evidence_texts, self.ids, post_texts) if evidence_texts is not None
                       else np.zeros_like(out))
        in_post = cue_matrix(post_texts, self.ids) if post_texts is not None else np.zeros_like(out)
        out += c.cue_bonus * in_evidence + c.post_cue_bonus * np.clip(in_post - in_evidence, 0.0, 1.0)
        if DECISIVE_STEP in self.ids and c.cue_bonus:
            k = self.ids.index(DECISIVE_STEP)
            leaving = np.maximum(in_evidence[:, k], in_post[:, k]) > 0
            out[leaving] = 0.0
            out[leaving, k] = c.cue_bonus
        return out

    def place(self, post_vecs: np.ndarray, evidence_vecs: np.ndarray | None = None,
              evidence_texts: Sequence[str | None] | None = None,
              post_texts: Sequence[str | None] | None = None) -> list[tuple[str, float]]:
        """Per post (step id, step score in [0, 1]); ``evidence_texts`` (the sentence each post is placed by)
        and ``post_texts`` (the whole post) let the step cues count (none without them)."""
        if not self.ids or not len(post_vecs):
            return [] if not len(post_vecs) else [("", 0.0)] * len(post_vecs)
        return choose_steps(self.raw(post_vecs, evidence_vecs, evidence_texts, post_texts), self.ids,
                            self.calibration)


def choose_steps(raw: np.ndarray, ids: Sequence[str], c: StepCalibration) -> list[tuple[str, float]]:
    """One step per row of raw scores: the best, unless it beats the fallback step by less than ``margin``."""
    z = raw / max(c.temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    fb = ids.index(c.fallback) if c.fallback in ids else -1
    out = []
    for r, row in enumerate(raw):
        k = int(row.argmax())
        if fb >= 0 and k != fb and row[k] - row[fb] < c.margin:
            k = fb
        out.append((ids[k], round(float(p[r, k]), 4)))
    return out
