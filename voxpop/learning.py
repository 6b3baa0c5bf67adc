"""``voxpop learn`` and what classification does with its result; job scores that follow the taxonomy.

* :func:`learn` fits a product's own layer (``classify.adapt``) from the human labels of its posts,
  stores it with a per-product ``model_version`` (``<shared version>+<slug>.<digest>``) and re-applies
  it to the product's stored classifications from their embeddings (nothing is encoded again). Stored jobs
  change only near the job corrections (``classify.corrected_jobs``); each change is logged for ``--undo``.
* :class:`ProductTuning` is loaded once per classify run: new posts of a product get its layer, its
  job corrections (acting near the corrected posts), and the product's taxonomy hash.
* :func:`rescore_stale_jobs` rescores the jobs of posts whose taxonomy hash is not the product's
  current one (a job added, removed, renamed or reworded), from stored embeddings.

Human labels themselves are never changed here: readers still take them over the model's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from classify.adapt import ProductLayer, Validation, fit_layer, shared_probabilities, taxonomy_hash
from classify.corrected_jobs import CorrectedJobs
from classify.jobs import Job, JobIndex
from classify.labels import NEED_TYPES, SENTIMENTS, UNMET_NEEDS
from classify.sentence_jobs import negative_mask, score_posts
from classify.steps import DEFAULT_STEPS
from store import rollups
from store.models import (
    POST_CLASSIFIED,
    POST_PENDING,
    Classification,
    LabelCorrection,
    Post,
    PostLabel,
    Product,
    ProductModel,
    ProductModelLog,
)
from store.repo import utcnow

if TYPE_CHECKING:
    from classify import Classifier
    from store.claims import ClaimedPost, ClassificationRow
    from store.db import Store
    from voxpop.config import Config

log = logging.getLogger("voxpop.learn")
APPLY_BATCH = 2000


def resolve_classifier(source: Any, config: Config | None) -> Classifier:
    """A classifier from an instance, a loader (called only now, when the model is needed) or the config."""
    if source is not None and callable(source) and not hasattr(source, "predict"):
        return source()  # type: ignore[no-any-return]
    if source is not None:
        return source  # type: ignore[no-any-return]
    from classify import Classifier

    spec = config.classify if config is not None else None
    if spec is None:
        return Classifier()
    return Classifier(spec.model_dir, batch_size=spec.batch_size, max_tokens=spec.max_tokens)


@dataclass
class LearnReport:
    """What one ``learn`` run did (or, with ``dry_run``, would do)."""

    product: str
    corrections: int = 0
    labelled_posts: int = 0
    model_version: str | None = None
    previous_version: str | None = None
    posts_updated: int = 0
    predictions_changed: int = 0
    seconds: float = 0.0
    note: str | None = None
    heads: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    # Per task: cross-validation over the corrections (n, held-out right by shared / by layer, kept, scope).
    validation: dict[str, Any] = field(default_factory=dict)
    # "sentiment neutral -> negative": posts, for every reading that changes.
    transitions: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few changed posts, with their text
    log_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    def summary(self) -> str:
        """Human-readable lines (what ``voxpop learn`` prints without ``--json``)."""
        verb = "would change" if self.dry_run else "changed"
        lines = [f"{self.product}: {self.labelled_posts} corrected posts ({self.corrections} corrections)"]
        if self.note:
            lines.append(self.note)
        for task, v in self.validation.items():
            lines.append(f"  {task}: {'kept' if v['kept'] else 'not kept'} ({v['scope']}); held-out corrections "
                         f"right: layer {v['layer_right']} of {v['n']}, shared model {v['shared_right']}")
        lines.append(f"{verb} {self.predictions_changed} predictions" + (":" if self.transitions else ""))
        lines += [f"  {k}: {n}" for k, n in sorted(self.transitions.items(), key=lambda kv: -kv[1])]
        for e in self.examples:
            lines.append(f"  post {e['post_id']}: {e['change']}  {e['snippet']}")
        if self.model_version and not self.dry_run:
            lines.append(f"model_version: {self.model_version}")
        return "\n".join(lines)


def product_jobs(config: Config | None, slug: str) -> list[Job]:
    """The configured jobs of a product (empty when it has none or is not in the config)."""
    if config is None:
        return []
    spec = next((p for p in config.products if p.slug == slug), None)
    return [Job(j.id, j.statement, tuple(j.examples)) for j in spec.jobs] if spec else []


def product_steps(config: Config | None, slug: str) -> list[Job]:
    """The steps of a product's job map: its ``[[products.steps]]``, else ``classify.steps.DEFAULT_STEPS``."""
    spec = next((p for p in config.products if p.slug == slug), None) if config is not None else None
    if spec is not None and spec.steps:
        return [Job(s.id, s.statement, tuple(s.examples)) for s in spec.steps]
    return list(DEFAULT_STEPS)


def product_taxonomy(config: Config | None, slug: str) -> str:
    """The hash of a product's jobs and steps that stored job and step scores are checked against."""
    return taxonomy_hash(product_jobs(config, slug), product_steps(config, slug))


def _labelled(session: Session, product_id: int) -> list[Any]:
    return list(session.execute(
        select(PostLabel.post_id, PostLabel.sentiment, PostLabel.need_type, PostLabel.jobs, Post.rating,
               Classification.embedding)
        .join(Post, Post.id == PostLabel.post_id)
        .join(Classification, Classification.post_id == PostLabel.post_id)
        .where(Post.product_id == product_id, Classification.embedding.is_not(None))
        .order_by(PostLabel.post_id)
    ))


def _active_log(session: Session, product_id: int) -> ProductModelLog | None:
    """The log row of the layer the product has now (None: the shared model)."""
    model = session.get(ProductModel, product_id)
    log_id = (model.stats or {}).get("log_id") if model is not None else None
    return session.get(ProductModelLog, log_id) if log_id else None


def learn(store: Store, config: Config | None, product_slug: str, *,
          classifier: Classifier | Callable[[], Classifier] | None = None, by: str = "voxpop learn",
          dry_run: bool = False) -> LearnReport:
    """Fit the product's layer from its human labels, store it, log it, and re-apply it to its posts.

    Each task's head is kept only when it helps on held-out corrections, and moves only the posts near the
    corrected ones unless the corrections are broad (``classify.adapt``). A post's reading changes only where
    the layer changes the shared heads' decision; everything else keeps what the full pipeline said.
    ``dry_run`` reports what would change and writes nothing. ``classifier`` may be a loader: the model is
    loaded only when there is something to learn.
    """
    from voxpop.curation import CurationError, audit

    started = time.perf_counter()
    report = LearnReport(product=product_slug, dry_run=dry_run)
    with store.sessions() as session:
        product = session.scalar(select(Product).where(Product.slug == product_slug))
        if product is None:
            raise CurationError(f"unknown product: {product_slug} (add it to voxpop.toml or import into it)")
        product_id = product.id
        rows = _labelled(session, product_id)
        last_correction = int(session.scalar(select(func.max(LabelCorrection.id)).where(
            LabelCorrection.product_id == product_id)) or 0)
        report.corrections = int(session.scalar(select(func.count()).select_from(LabelCorrection).where(
            LabelCorrection.product_id == product_id)) or 0)
        previous = session.get(ProductModel, product_id)
        report.previous_version = previous.model_version if previous else None
    report.labelled_posts = len(rows)
    if not rows:
        report.note = f"no corrected posts for {product_slug} yet: label some with voxpop label (see voxpop review)"
        return report
    classifier = resolve_classifier(classifier, config)
    vecs = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
    sent_p, need_p = shared_probabilities(classifier, vecs, [r.rating for r in rows])
    checks: dict[str, Validation] = {}
    layer: ProductLayer | None = fit_layer(
        vecs, sent_p, need_p, sentiment=[r.sentiment for r in rows], need=[r.need_type for r in rows],
        jobs=[r.jobs for r in rows], report=checks)
    report.validation = {task: v.as_dict() for task, v in checks.items()}
    assert layer is not None
    if layer.sentiment is None and layer.need is None and not layer.job_examples and layer.no_jobs is None:
        layer = None
        report.note = "no head helped on held-out corrections: the product keeps the shared model"
    version = f"{classifier.model_version}+{product_slug}.{layer.digest()}"[:200] if layer else None
    report.model_version = version
    report.heads = {"sentiment": sum(r.sentiment is not None for r in rows),
                    "need_type": sum(r.need_type is not None for r in rows),
                    "jobs": sum(len(v) for v in layer.job_examples.values()) if layer else 0}
    jobs = product_jobs(config, product_slug)
    steps = product_steps(config, product_slug)
    tuning = Tuning(layer, version, jobs, _job_index(classifier, jobs, layer), taxonomy_hash(jobs, steps), steps)
    with (store.sessions() if dry_run else store.transaction()) as session:
        active = _active_log(session, product_id)
        outcome = apply_to_stored(session, classifier, product_id, tuning, base=_pipeline_readings(active),
                                  write=not dry_run)
        report.posts_updated, report.predictions_changed = outcome.updated, outcome.changed
        report.transitions, report.examples = outcome.transitions, outcome.examples
        if dry_run:
            report.seconds = round(time.perf_counter() - started, 3)
            return report
        entry = ProductModelLog(product_id=product_id, action="learn", model_version=version,
                                base_version=classifier.model_version, weights=layer.to_bytes() if layer else None,
                                corrections=report.corrections, last_correction_id=last_correction,
                                previous_id=active.id if active else None, undone=False, created_at=utcnow(),
                                stats={"heads": report.heads, "validation": report.validation,
                                       "transitions": report.transitions},
                                changes=outcome.changes)
        session.add(entry)
        session.flush()
        report.log_id = entry.id
        _set_product_model(session, product_id, entry, report.heads)
        audit(session, "learn", by=by, product_id=product_id,
              details={"model_version": version, "previous": report.previous_version,
                       "labelled_posts": report.labelled_posts, "changed": report.predictions_changed,
                       "transitions": report.transitions, "log_id": entry.id})
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _set_product_model(session: Session, product_id: int, entry: ProductModelLog, heads: dict[str, int]) -> None:
    """Make ``entry``'s layer the product's current one (no weights: back to the shared model)."""
    row = session.get(ProductModel, product_id)
    if entry.weights is None:
        if row is not None:
            # A layer-less row keeps the correction watermark, so the scheduler does not learn again for nothing.
            row.model_version, row.weights = entry.base_version, b""
            row.corrections, row.last_correction_id, row.trained_at = (entry.corrections, entry.last_correction_id,
                                                                       utcnow())
            row.stats = {"log_id": entry.id, **heads}
            return
        session.add(ProductModel(product_id=product_id, model_version=entry.base_version,
                                 base_version=entry.base_version, weights=b"", corrections=entry.corrections,
                                 last_correction_id=entry.last_correction_id, trained_at=utcnow(),
                                 stats={"log_id": entry.id, **heads}))
        return
    if row is None:
        row = ProductModel(product_id=product_id)
        session.add(row)
    row.model_version, row.base_version, row.weights = (entry.model_version or entry.base_version, entry.base_version,
                                                         entry.weights)
    row.corrections, row.last_correction_id, row.trained_at = entry.corrections, entry.last_correction_id, utcnow()
    row.stats = {"log_id": entry.id, **heads}


def undo_learn(store: Store, config: Config | None, product_slug: str, *,
               classifier: Classifier | Callable[[], Classifier] | None = None,
               by: str = "voxpop learn --undo") -> LearnReport:
    """Go back to the layer before the current one (or the shared model), putting back the readings it changed.

    Posts classified since the undone layer was learnt are set pending, so the next classify reads them again.
    """
    from voxpop.curation import CurationError, audit

    started = time.perf_counter()
    report = LearnReport(product=product_slug)
    with store.sessions() as session:
        product = session.scalar(select(Product).where(Product.slug == product_slug))
        if product is None:
            raise CurationError(f"unknown product: {product_slug} (add it to voxpop.toml or import into it)")
        product_id = product.id
        active = _active_log(session, product_id)
        if active is None or (active.weights is None and active.previous_id is None):
            raise CurationError(f"nothing to undo for {product_slug}: it has no learnt layer")
        report.previous_version = active.model_version
    classifier = resolve_classifier(classifier, config)
    jobs = product_jobs(config, product_slug)
    steps = product_steps(config, product_slug)
    with store.transaction() as session:
        active = session.get(ProductModelLog, active.id)
        assert active is not None
        earlier = session.get(ProductModelLog, active.previous_id) if active.previous_id else None
        weights = earlier.weights if earlier is not None and earlier.base_version == classifier.model_version else None
        layer = ProductLayer.from_bytes(weights) if weights else None
        version = earlier.model_version if layer is not None and earlier is not None else None
        tuning = Tuning(layer, version, jobs, _job_index(classifier, jobs, layer), taxonomy_hash(jobs, steps), steps)
        outcome = apply_to_stored(session, classifier, product_id, tuning, base=_pipeline_readings(active))
        requeued = session.execute(
            update(Post).where(Post.product_id == product_id, Post.status == POST_CLASSIFIED,
                               Post.id.in_(select(Classification.post_id).where(
                                   Classification.classified_at > active.created_at)))
            .values(status=POST_PENDING, claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False))
        active.undone = True
        entry = ProductModelLog(product_id=product_id, action="undo", model_version=version,
                                base_version=classifier.model_version, weights=weights,
                                corrections=earlier.corrections if earlier else 0,
                                last_correction_id=active.last_correction_id,
                                previous_id=earlier.previous_id if earlier else None, undone=False,
                                created_at=utcnow(), stats={"undid": active.id, "transitions": outcome.transitions},
                                changes=outcome.changes)
        session.add(entry)
        session.flush()
        _set_product_model(session, product_id, entry, {})
        report.model_version, report.log_id = version, entry.id
        report.posts_updated, report.predictions_changed = outcome.updated, outcome.changed
        report.transitions, report.examples = outcome.transitions, outcome.examples
        n_requeued = int(getattr(requeued, "rowcount", 0) or 0)
        report.note = (f"undid layer {active.model_version} (log {active.id}); now "
                       f"{version or 'the shared model'}" + (f"; {n_requeued} newer posts set to be classified "
                                                            "again" if n_requeued else ""))
        audit(session, "learn-undo", by=by, product_id=product_id,
              details={"undid": active.model_version, "now": version, "changed": outcome.changed,
                       "log_id": entry.id})
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def learn_log(session: Session, product_id: int) -> list[dict[str, Any]]:
    """The product's learn log, newest first (without weights and per-post changes)."""
    rows = session.scalars(select(ProductModelLog).where(ProductModelLog.product_id == product_id)
                           .order_by(ProductModelLog.id.desc()))
    return [{"id": r.id, "action": r.action, "model_version": r.model_version, "at": r.created_at.isoformat(),
             "corrections": r.corrections, "undone": r.undone, "changed": len(r.changes or []),
             "stats": r.stats} for r in rows]


@dataclass(frozen=True)
class Tuning:
    """One product's learnt layer and job set, ready to apply."""

    layer: ProductLayer | None
    version: str | None
    jobs: list[Job]
    job_index: JobIndex | None
    taxonomy: str
    steps: list[Job] = field(default_factory=lambda: list(DEFAULT_STEPS))

    @property
    def negatives(self) -> np.ndarray | None:
        """Vectors of the product's posts labelled "no job" (negative job examples)."""
        return self.layer.no_jobs if self.layer is not None else None

    def predict_kwargs(self) -> dict[str, Any]:
        """What ``Classifier.predict`` takes from the product: its steps, learnt job examples and negatives."""
        return {"steps": self.steps, "job_index": self.job_index, "negatives": self.negatives}


def _job_index(classifier: Classifier, jobs: Sequence[Job], layer: ProductLayer | None) -> JobIndex | None:
    """The product's jobs, with its corrected posts acting near themselves (``classify.corrected_jobs``).

    The corrections do not join the jobs' examples: a whole review as an example drags its job's prototype
    towards every ordinary review (``bench/jobs.py --corrections`` measured the harm).
    """
    if not jobs:
        return None
    base = classifier.job_index(list(jobs))
    if layer is None or (not layer.job_examples and layer.no_jobs is None):
        return base
    return replace(base, corrected=CorrectedJobs.from_examples(base.ids, layer.job_examples, layer.no_jobs))


Reading = dict[str, Any]  # sentiment, sentiment_score, need_type, need_score
EXAMPLES = 5


def _pipeline_readings(active: ProductModelLog | None) -> dict[int, Reading]:
    """post id -> what the full pipeline said, for the posts the current layer changed (their "from")."""
    if active is None:
        return {}
    return {int(c["post_id"]): c["from"] for c in active.changes or []}


def layer_readings(classifier: Classifier, layer: ProductLayer | None, vecs: np.ndarray,
                   ratings: Sequence[float | None], base: Sequence[Reading]) -> list[Reading]:
    """Per post: the layer's reading of a task where the layer changes the shared heads' decision, else ``base``.

    The shared heads here see only the post vector; the pipeline's reading (title, sentences, stars) stays
    wherever the product's layer agrees with them, so a layer never moves a post it has no evidence about.
    """
    out = [dict(b) for b in base]
    if layer is None or not len(vecs):
        return out
    sent_p, need_p = shared_probabilities(classifier, vecs, ratings)
    sent_l, need_l = layer.adjust(vecs, sent_p, need_p)
    for i, r in enumerate(out):
        k = int(sent_l[i].argmax())
        if k != int(sent_p[i].argmax()):
            r["sentiment"], r["sentiment_score"] = SENTIMENTS[k], round(float(sent_l[i][2] - sent_l[i][0]), 4)
        k = int(need_l[i].argmax())
        if k != int(need_p[i].argmax()):
            r["need_type"], r["need_score"] = NEED_TYPES[k], round(float(need_l[i][k]), 4)
    return out


def _jobs_json(classifier: Classifier, index: JobIndex | None, vecs: np.ndarray, negatives: np.ndarray | None = None,
               evidence: Sequence[str | None] | None = None) -> list[list[dict[str, Any]]]:
    """Jobs of stored post vectors (no sentence vectors are stored: post-level scores; the evidence is the
    post's stored evidence sentence)."""
    if index is None:
        return [[] for _ in range(len(vecs))]
    found = score_posts(index, vecs, [], [], classifier.job_sentence_rule, negatives=negatives,
                        fallback_evidence=[e or "" for e in evidence] if evidence is not None else None)
    return [[{"job": j.job, "score": round(float(j.score), 4), "evidence": j.evidence} for j in top]
            for top in found.jobs]


def _local_jobs(classifier: Classifier, tuning: Tuning, vecs: np.ndarray, start: Sequence[list[dict[str, Any]]],
                evidence: Sequence[str | None]) -> list[list[dict[str, Any]]]:
    """Each post's jobs from ``start`` (what the full pipeline gave it, per-sentence evidence included) with the
    product's job corrections applied where they reach: jobs a near "no job" correction vetoes are dropped, the
    jobs of a near corrected post are added (``classify.corrected_jobs``). Posts far from every correction keep
    their jobs as they are: rescoring them from the post vector alone (no sentence vectors are stored) would move
    some of them for no reason."""
    index = tuning.job_index
    out = [[dict(j) for j in jobs] for jobs in start]
    if index is None or not len(vecs) or (index.corrected is None and tuning.negatives is None):
        return out
    column = {job: k for k, job in enumerate(index.ids)}
    veto = negative_mask(index, vecs, tuning.negatives, classifier.job_sentence_rule)
    lift = np.zeros((len(vecs), len(index.ids)), dtype=np.float32)
    if index.corrected is not None:
        lift = index.corrected.raise_scores(vecs, lift, index.calibration.neighbour_min)
    for i, jobs in enumerate(out):
        kept = [j for j in jobs if not (j.get("job") in column and veto[i, column[j["job"]]])]
        have = {j.get("job") for j in kept}
        for k in np.flatnonzero(lift[i] >= 0.5):
            if index.ids[k] not in have:
                kept.append({"job": index.ids[k], "score": round(float(lift[i, k]), 4), "evidence": evidence[i] or ""})
        kept.sort(key=lambda j: -float(j.get("score") or 0.0))
        out[i] = kept[:index.calibration.max_jobs]
    return out


def _job_ids(jobs: Sequence[dict[str, Any]] | None) -> list[str]:
    return [str(j.get("job")) for j in jobs or []]


def _steps_json(classifier: Classifier, steps: Sequence[Job], vecs: np.ndarray,
                evidence: Sequence[str | None] | None = None,
                texts: Sequence[str | None] | None = None) -> list[tuple[str | None, float | None]]:
    """Steps of stored post vectors; the step cues read the post's stored evidence sentence and its text (no
    sentence vectors are stored)."""
    placed = classifier.step_index(list(steps)).place(vecs, evidence_texts=evidence, post_texts=texts)
    return [(s or None, sc if s else None) for s, sc in placed]


def _jobs_after(classifier: Classifier, tuning: Tuning, batch: Sequence[Any], vecs: np.ndarray,
                base: dict[int, Reading]) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    """(the pipeline's jobs, the jobs under ``tuning``) of a batch of stored posts.

    The pipeline's jobs are what classification stored (or, for posts a previous layer changed, what it stored
    before that layer); a post scored under another job set is scored again from its vector, without corrections.
    The corrections then act locally on them (:func:`_local_jobs`).
    """
    pipeline = [base[r.post_id]["jobs"] if "jobs" in base.get(r.post_id, {}) else (r.jobs or []) for r in batch]
    evidence = [r.evidence for r in batch]
    stale = [i for i, r in enumerate(batch) if r.taxonomy != tuning.taxonomy]
    if stale and tuning.job_index is not None:
        plain = replace(tuning.job_index, corrected=None)
        for i, jobs in zip(stale, _jobs_json(classifier, plain, vecs[stale], None, [evidence[i] for i in stale]),
                           strict=True):
            pipeline[i] = jobs
    elif stale:
        for i in stale:
            pipeline[i] = []
    return pipeline, _local_jobs(classifier, tuning, vecs, pipeline, evidence)


@dataclass
class ApplyOutcome:
    """What applying a layer to a product's stored posts did (or would do)."""

    updated: int = 0
    changed: int = 0  # posts whose sentiment, need type or jobs change now
    changes: list[dict[str, Any]] = field(default_factory=list)  # posts the layer reads unlike the pipeline
    transitions: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


def apply_to_stored(session: Session, classifier: Classifier, product_id: int, tuning: Tuning, *,
                    base: dict[int, Reading] | None = None, write: bool = True) -> ApplyOutcome:
    """Re-derive the product's stored classifications from their embeddings with its layer and jobs.

    ``base`` holds the pipeline's readings of posts a previous layer changed (they are what the new layer
    starts from); every other post starts from its stored reading.
    """
    from voxpop.curation import clean_text

    base = base or {}
    out = ApplyOutcome()
    last = 0
    while True:
        batch = session.execute(
            select(Classification.id, Classification.post_id, Classification.embedding, Classification.sentiment,
                   Classification.sentiment_score, Classification.need_type, Classification.need_score,
                   Classification.evidence, Classification.jobs, Classification.taxonomy, Post.rating, Post.text)
            .join(Post, Post.id == Classification.post_id)
            .where(Post.product_id == product_id, Post.status == POST_CLASSIFIED,
                   Classification.embedding.is_not(None), Classification.id > last)
            .order_by(Classification.id).limit(APPLY_BATCH)
        ).all()
        if not batch:
            return out
        last = batch[-1].id
        vecs = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in batch])
        if vecs.shape[1] != classifier.encoder.dim:
            continue
        stored = [{"sentiment": r.sentiment, "sentiment_score": r.sentiment_score, "need_type": r.need_type,
                   "need_score": r.need_score} for r in batch]
        start = [base.get(r.post_id, s) for r, s in zip(batch, stored, strict=True)]
        readings = layer_readings(classifier, tuning.layer, vecs, [r.rating for r in batch], start)
        pipeline_jobs_of, jobs = _jobs_after(classifier, tuning, batch, vecs, base)
        values = []
        for r, now, pipeline, new, job_list, pipeline_jobs in zip(batch, stored, start, readings, jobs,
                                                                  pipeline_jobs_of, strict=True):
            if ((new["sentiment"], new["need_type"]) != (pipeline["sentiment"], pipeline["need_type"])
                    or _job_ids(job_list) != _job_ids(pipeline_jobs)):
                out.changes.append({"post_id": r.post_id, "from": {**pipeline, "jobs": pipeline_jobs},
                                    "to": {**new, "jobs": job_list}})
            moved = [f"{key} {now[key]} -> {new[key]}" for key in ("sentiment", "need_type") if now[key] != new[key]]
            moved += [f"jobs +{j}" for j in _job_ids(job_list) if j not in _job_ids(r.jobs)]
            moved += [f"jobs -{j}" for j in _job_ids(r.jobs) if j not in _job_ids(job_list)]
            if moved:
                out.changed += 1
                for m in moved:
                    out.transitions[m] = out.transitions.get(m, 0) + 1
                if len(out.examples) < EXAMPLES:
                    text = clean_text(r.text or "")
                    out.examples.append({"post_id": r.post_id, "change": "; ".join(moved),
                                         "snippet": text[:97] + "..." if len(text) > 100 else text})
            values.append({"id": r.id, **new, "unmet_need": new["need_type"] in UNMET_NEEDS, "jobs": job_list,
                           "top_job": job_list[0]["job"] if job_list else None, "taxonomy": tuning.taxonomy,
                           "model_version": tuning.version or classifier.model_version})
        if write:
            with rollups.tracking(session, [r.post_id for r in batch]):
                session.execute(update(Classification), values)
        out.updated += len(values)


class ProductTuning:
    """Per-product layers, job sets and taxonomy hashes for one classify run."""

    def __init__(self, by_product: dict[int, Tuning]) -> None:
        self.by_product = by_product

    @classmethod
    def load(cls, session: Session, config: Config, classifier: Classifier) -> ProductTuning:
        """Layers trained on the current shared model, and the configured jobs, of every product."""
        slugs = dict(session.execute(select(Product.id, Product.slug)).tuples().all())
        models = {m.product_id: m for m in session.scalars(
            select(ProductModel).where(ProductModel.base_version == classifier.model_version))}
        out = {}
        for product_id, slug in slugs.items():
            model = models.get(product_id)
            layer = ProductLayer.from_bytes(model.weights) if model is not None and model.weights else None
            jobs = product_jobs(config, slug)
            steps = product_steps(config, slug)
            out[product_id] = Tuning(layer, model.model_version if model else None, jobs,
                                     _job_index(classifier, jobs, layer) if layer and jobs else None,
                                     taxonomy_hash(jobs, steps), steps)
        return cls(out)

    def predict_kwargs(self, product_id: int) -> dict[str, Any]:
        """``Classifier.predict`` keywords for a product's posts (empty for an unknown product)."""
        tuning = self.by_product.get(product_id)
        return tuning.predict_kwargs() if tuning is not None else {}

    def apply(self, classifier: Classifier, rows: list[ClassificationRow],
              posts: Sequence[ClaimedPost]) -> list[ClassificationRow]:
        """Rows with each product's layer, learnt job examples and taxonomy hash applied."""
        product_of = {p.id: p for p in posts}
        out = list(rows)
        groups: dict[int, list[int]] = {}
        for i, row in enumerate(rows):
            post = product_of.get(row.post_id)
            if post is not None and not row.skipped and row.embedding:
                groups.setdefault(post.product_id, []).append(i)
        for i, row in enumerate(rows):
            post = product_of.get(row.post_id)
            tuning = self.by_product.get(post.product_id) if post else None
            if tuning is not None:
                out[i] = replace(row, taxonomy=tuning.taxonomy)
        for product_id, idx in groups.items():
            tuning = self.by_product.get(product_id)
            if tuning is None or tuning.layer is None:
                continue
            vecs = np.stack([np.frombuffer(rows[i].embedding or b"", dtype=np.float32) for i in idx])
            start = [{"sentiment": out[i].sentiment, "sentiment_score": out[i].sentiment_score,
                      "need_type": out[i].need_type, "need_score": out[i].need_score} for i in idx]
            readings = layer_readings(classifier, tuning.layer, vecs,
                                      [product_of[rows[i].post_id].rating for i in idx], start)
            # jobs (learnt examples and negatives included) already came from predict, per sentence
            for i, reading in zip(idx, readings, strict=True):
                changes: dict[str, Any] = dict(**reading, unmet_need=reading["need_type"] in UNMET_NEEDS,
                                               model_version=tuning.version or out[i].model_version)
                out[i] = replace(out[i], **changes)
        return out


# ---------------------------------------------------------------- taxonomy


def _product_filter(product_id: int, taxonomy: str) -> Any:
    return and_(Classification.post_id.in_(select(Post.id).where(Post.product_id == product_id)),
                or_(Classification.taxonomy.is_(None), Classification.taxonomy != taxonomy))


def stale_taxonomy(session: Session, config: Config) -> dict[int, int]:
    """Per product id: classified posts whose job scores were made against other jobs than the configured ones."""
    out = {}
    ids = dict(session.execute(select(Product.slug, Product.id)).tuples().all())
    for spec in config.products:
        product_id = ids.get(spec.slug)
        if product_id is None:
            continue
        n = int(session.scalar(select(func.count()).select_from(Classification).where(
            _product_filter(product_id, product_taxonomy(config, spec.slug)))) or 0)
        if n:
            out[product_id] = n
    return out


def rescore_stale_jobs(store: Store, config: Config,
                       classifier: Classifier | Callable[[], Classifier] | None = None) -> int:
    """Rescore the jobs and steps of posts classified against an older job set or job map, from stored embeddings.

    Nothing is encoded again: jobs and steps are scored on the stored post vector (sentence vectors are not
    stored), and a job's evidence is the post's stored evidence sentence. A product with no jobs has its job
    lists emptied (its posts still get steps). Sentiment and need type are left alone.
    Returns how many posts were rescored.
    """
    with store.sessions() as session:
        stale = stale_taxonomy(session, config)
    if not stale:
        return 0
    slug_of = {}
    with store.sessions() as session:
        slug_of = dict(session.execute(select(Product.id, Product.slug)).tuples().all())
    total = 0
    for product_id in stale:
        jobs = product_jobs(config, slug_of[product_id])
        steps = product_steps(config, slug_of[product_id])
        taxonomy = taxonomy_hash(jobs, steps)
        with store.transaction() as session:
            classifier = resolve_classifier(classifier, config)
            model = session.get(ProductModel, product_id)
            layer = (ProductLayer.from_bytes(model.weights)
                     if model is not None and model.weights and model.base_version == classifier.model_version
                     else None)
            index = _job_index(classifier, jobs, layer)
            negatives = layer.no_jobs if layer is not None else None
            while True:
                batch = session.execute(
                    select(Classification.id, Classification.post_id, Classification.embedding,
                           Classification.evidence, Post.text)
                    .join(Post, Post.id == Classification.post_id)
                    .where(_product_filter(product_id, taxonomy), Classification.embedding.is_not(None))
                    .limit(APPLY_BATCH)).all()
                if not batch:
                    break
                vecs = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in batch])
                job_lists = _jobs_json(classifier, index, vecs, negatives, [r.evidence for r in batch])
                placed = _steps_json(classifier, steps, vecs, [r.evidence for r in batch], [r.text for r in batch])
                with rollups.tracking(session, [r.post_id for r in batch]):
                    session.execute(update(Classification), [
                        {"id": r.id, "jobs": jl, "top_job": jl[0]["job"] if jl else None, "taxonomy": taxonomy,
                         "step": st[0], "step_score": st[1]}
                        for r, jl, st in zip(batch, job_lists, placed, strict=True)])
                total += len(batch)
            # rows without an embedding cannot be rescored: their jobs are dropped rather than left stale
            with rollups.track_where(session, select(Classification.post_id)
                                     .where(_product_filter(product_id, taxonomy))):
                session.execute(update(Classification).where(_product_filter(product_id, taxonomy))
                                .values(jobs=[], top_job=None, taxonomy=taxonomy)
                                .execution_options(synchronize_session=False))
    log.info("rescored jobs and steps of %d posts against the configured jobs and steps", total)
    return total


def learn_due(store: Store, config: Config) -> list[str]:
    """Products with corrections newer than their layer (what the scheduler's ``learn`` job trains)."""
    with store.sessions() as session:
        latest = dict(session.execute(select(LabelCorrection.product_id, func.max(LabelCorrection.id))
                                      .group_by(LabelCorrection.product_id)).tuples().all())
        done = dict(session.execute(select(ProductModel.product_id, ProductModel.last_correction_id)).tuples().all())
        slug_of = dict(session.execute(select(Product.id, Product.slug)).tuples().all())
    return sorted(slug_of[p] for p, last in latest.items() if last > done.get(p, 0) and p in slug_of)


def learn_all(store: Store, config: Config, *,
              classifier: Classifier | Callable[[], Classifier] | None = None) -> dict[str, Any]:
    """Run :func:`learn` for every product with new corrections (the scheduler runs it after classify).

    Under the ``learn`` leader lock, so two schedulers never train the same layer at once.
    """
    from store.locks import leader_lock

    due = learn_due(store, config)
    if not due:
        return {"learned": {}}
    out: dict[str, Any] = {}
    with leader_lock(store, "learn") as held:
        if not held:
            return {"learned": {}, "skipped": "another process holds the learn lock"}
        for slug in due:
            out[slug] = learn(store, config, slug, classifier=classifier, by="scheduler").as_dict()
    return {"learned": out}
