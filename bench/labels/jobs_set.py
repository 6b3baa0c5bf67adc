"""Load the hand-labelled jobs set of issue 26 (``bench/labels/jobs/``) with its texts joined back from shared data.

The repo keeps only row ids and labels; the texts stay in the shared data folder (``VOXPOP_DATA_DIR``, else
``../shared/data`` beside the clone, as in ``classify.training.data``). Each label carries the first 10 hex
digits of the SHA-1 of its row's text, so a changed or missing file is a clear error, never a silently wrong benchmark.
This module needs only the standard library: the bench scripts and tests can use it without voxpop.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
JOBS_DIR = Path(__file__).resolve().parent / "jobs"
STEPS = ("choose", "get", "set-up", "learn", "use", "get-help", "pay", "leave")
SPLITS = ("dev", "test")


class LabelDataError(ValueError):
    """The label files are malformed, or the shared data they point into is missing or changed."""


def default_data_dir() -> Path:
    """``VOXPOP_DATA_DIR`` if set, else ``../shared/data`` beside the repository (the layout CI has)."""
    return Path(os.environ.get("VOXPOP_DATA_DIR", ROOT.parent / "shared" / "data"))


def text_sha(text: str) -> str:
    """The label files' text fingerprint: the first 10 hex digits of sha1(text as UTF-8)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Job:
    id: str
    statement: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    split: str
    file: str
    app: str | None
    jobs: tuple[Job, ...]

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(job.id for job in self.jobs)


@dataclass(frozen=True)
class LabelledPost:
    product: str
    file: str
    row: int
    sha1: str
    jobs: tuple[str, ...]
    step: str
    context: str | None
    text: str = ""


@dataclass
class JobsSet:
    products: dict[str, Product]
    posts: list[LabelledPost] = field(default_factory=list)

    def split(self, name: str) -> list[LabelledPost]:
        """The posts of the products in split ``name`` (``dev`` or ``test``)."""
        return [post for post in self.posts if self.products[post.product].split == name]


def read_products(path: Path = JOBS_DIR / "products.toml") -> dict[str, Product]:
    """The products and their jobs, checked (unique slugs and job ids, a known split)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LabelDataError(f"{path}: {exc}") from exc
    products: dict[str, Product] = {}
    for entry in raw.get("products", []):
        slug = entry.get("slug")
        if not slug or slug in products:
            raise LabelDataError(f"{path}: missing or repeated product slug {slug!r}")
        if entry.get("split") not in SPLITS:
            raise LabelDataError(f"{path}: product {slug}: split must be one of {SPLITS}, not {entry.get('split')!r}")
        jobs = tuple(Job(job["id"], job["statement"], tuple(job.get("examples", ()))) for job in entry.get("jobs", []))
        ids = [job.id for job in jobs]
        if len(set(ids)) != len(ids) or not jobs:
            raise LabelDataError(f"{path}: product {slug}: job ids must be present and unique, got {ids}")
        products[slug] = Product(slug, entry.get("name", slug), entry["split"], entry["file"], entry.get("app"), jobs)
    return products


def label_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each non-blank line of a labels file (``where`` is ``path:line`` for errors)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield where, json.loads(line)
        except ValueError as exc:
            raise LabelDataError(f"{where}: malformed label ({exc})") from exc


def read_labels(path: Path, products: dict[str, Product]) -> list[LabelledPost]:
    """The labelled posts, each checked against its product (job ids, step); no texts joined yet."""
    posts: list[LabelledPost] = []
    seen: set[tuple[str, int]] = set()
    for where, raw in label_lines(path):
        try:
            post = LabelledPost(raw["product"], raw["file"], int(raw["row"]), raw["sha1"], tuple(raw["jobs"]),
                                raw["step"], raw.get("context"))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelDataError(f"{where}: malformed label ({exc})") from exc
        product = products.get(post.product)
        if product is None:
            raise LabelDataError(f"{where}: unknown product {post.product!r}")
        if post.file != product.file:
            raise LabelDataError(f"{where}: file {post.file} is not product {post.product}'s file {product.file}")
        unknown = set(post.jobs) - set(product.job_ids)
        if unknown or len(set(post.jobs)) != len(post.jobs):
            raise LabelDataError(f"{where}: jobs {list(post.jobs)} not unique ids of {post.product} {product.job_ids}")
        if post.step not in STEPS:
            raise LabelDataError(f"{where}: step {post.step!r} is not one of {STEPS}")
        if post.context is not None and not (isinstance(post.context, str) and post.context.strip()):
            raise LabelDataError(f"{where}: context must be a non-empty phrase or null")
        if (post.file, post.row) in seen:
            raise LabelDataError(f"{where}: row {post.row} of {post.file} is labelled twice")
        seen.add((post.file, post.row))
        posts.append(post)
    return posts


def _read_rows(path: Path, wanted: set[int]) -> dict[int, str]:
    texts: dict[int, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number in wanted:
                texts[number] = json.loads(line).get("text") or ""
    return texts


def join_texts(items: list, data_dir: Path, what: str = "label") -> list:
    """Return ``items`` (dataclasses with file, row, sha1) with ``text`` filled from ``data_dir``, sha1-checked."""
    from dataclasses import replace

    by_file: dict[str, set[int]] = {}
    for item in items:
        by_file.setdefault(item.file, set()).add(item.row)
    texts: dict[tuple[str, int], str] = {}
    for file, rows in by_file.items():
        path = data_dir / file
        if not path.is_file():
            raise LabelDataError(f"shared data file {path} is missing (set VOXPOP_DATA_DIR or put ../shared/data "
                                 f"beside the clone); the {what}s need rows of it")
        found = _read_rows(path, rows)
        for row in rows:
            if row not in found:
                raise LabelDataError(f"{path}: row {row} is missing (the file has fewer lines); it changed")
            texts[(file, row)] = found[row]
    joined = []
    for item in items:
        text = texts[(item.file, item.row)]
        if text_sha(text) != item.sha1:
            raise LabelDataError(f"{data_dir / item.file}: row {item.row} has changed (sha1 {text_sha(text)}, "
                                 f"the {what} expects {item.sha1})")
        joined.append(replace(item, text=text))
    return joined


def load_jobs_set(data_dir: Path | None = None, labels_dir: Path = JOBS_DIR, with_text: bool = True) -> JobsSet:
    """The products with their jobs and the labelled posts, texts joined back from ``data_dir`` and verified."""
    products = read_products(labels_dir / "products.toml")
    posts = read_labels(labels_dir / "labels.jsonl", products)
    if with_text:
        posts = join_texts(posts, data_dir or default_data_dir())
    return JobsSet(products, posts)


def load_step_supplement(data_dir: Path | None = None, labels_dir: Path = JOBS_DIR,
                         with_text: bool = True) -> list[LabelledPost]:
    """The step supplement (``steps_extra.jsonl``): cue-selected posts of the same products, labelled in full.

    They are drawn by step cue words (``sample_jobs.py --steps``), not at random, so use them for step figures
    (per-step support beyond the few non-``use`` posts of the random sample), never for job F1 or "no job" shares.
    """
    products = read_products(labels_dir / "products.toml")
    posts = read_labels(labels_dir / "steps_extra.jsonl", products)
    main = {(post.file, post.row) for post in read_labels(labels_dir / "labels.jsonl", products)}
    overlap = [post.row for post in posts if (post.file, post.row) in main]
    if overlap:
        raise LabelDataError(f"steps_extra.jsonl repeats rows of labels.jsonl: {overlap[:5]}")
    return join_texts(posts, data_dir or default_data_dir()) if with_text else posts


def summary(jobs_set: JobsSet, supplement: list[LabelledPost] | None = None) -> str:
    """Counts per product (split, posts, no job, jobs, steps), as the data card gives them."""
    from collections import Counter

    lines = []
    for slug, product in jobs_set.products.items():
        posts = [post for post in jobs_set.posts if post.product == slug]
        jobs = Counter(job for post in posts for job in post.jobs)
        steps = Counter(post.step for post in posts)
        lines += [f"{slug} ({product.split}): {len(posts)} posts, no job {sum(not p.jobs for p in posts)}, "
                  f"2+ jobs {sum(len(p.jobs) > 1 for p in posts)}, context {sum(p.context is not None for p in posts)}",
                  "  jobs: " + ", ".join(f"{job} {jobs[job]}" for job in product.job_ids),
                  "  steps: " + ", ".join(f"{step} {n}" for step, n in steps.most_common())]
    if supplement is not None:
        steps = Counter(post.step for post in supplement)
        lines.append(f"step supplement: {len(supplement)} posts; " +
                     ", ".join(f"{step} {n}" for step, n in steps.most_common()))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    try:
        text = "--no-text" not in sys.argv
        print(summary(load_jobs_set(with_text=text), load_step_supplement(with_text=text)))
    except LabelDataError as exc:
        sys.exit(f"error: {exc}")
