"""The hand-labelled jobs set of issue 26 (bench/labels/jobs): its files are well formed and point at real rows.

The structure checks run everywhere; the SHA-1 check of every labelled row runs where the shared data is
present (CI has ../shared beside the clone) and skips with the reason otherwise. The loader's errors are
tested on a miniature data folder written here in our own words.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench.labels.jobs_set import (
    JOBS_DIR,
    STEPS,
    LabelDataError,
    default_data_dir,
    load_jobs_set,
    load_step_supplement,
    read_labels,
    read_products,
    text_sha,
)


def test_products_have_jobs_and_are_split_by_product() -> None:
    products = read_products()
    assert len(products) == 4
    assert Counter(p.split for p in products.values()) == {"dev": 2, "test": 2}
    for product in products.values():
        assert 4 <= len(product.jobs) <= 8, product.slug
        assert all(job.statement.strip() for job in product.jobs)


def test_labels_use_known_jobs_and_steps_with_no_duplicate_rows() -> None:
    jobs_set = load_jobs_set(with_text=False)
    posts = jobs_set.posts
    assert len(posts) >= 400
    assert len({(p.file, p.row) for p in posts}) == len(posts)
    for post in posts:
        product = jobs_set.products[post.product]
        assert set(post.jobs) <= set(product.job_ids)
        assert post.step in STEPS
        assert len(post.sha1) == 10 and int(post.sha1, 16) >= 0
    per_product = Counter(p.product for p in posts)
    assert all(n >= 100 for n in per_product.values()), per_product
    assert {p.product for p in jobs_set.split("dev")}.isdisjoint({p.product for p in jobs_set.split("test")})
    # "none" is a real answer; most jobs have posts (a job written before reading may find none: Drive's offline)
    assert any(not p.jobs for p in posts)
    for slug, product in jobs_set.products.items():
        used = {job for p in posts if p.product == slug for job in p.jobs}
        assert len(used) >= len(product.jobs) - 1, (slug, set(product.job_ids) - used)


def test_step_supplement_is_well_formed_and_apart_from_the_random_sample() -> None:
    posts = load_step_supplement(with_text=False)
    steps = Counter(p.step for p in posts)
    assert len(posts) >= 80 and sum(n for step, n in steps.items() if step != "use") >= 40, steps
    assert len({(p.file, p.row) for p in posts}) == len(posts)


def test_every_label_matches_its_row_in_the_shared_data() -> None:
    data_dir = default_data_dir()
    if not (data_dir / "sentiment" / "appstore_reviews_stars_en.jsonl").is_file():
        pytest.skip(f"shared data not found at {data_dir} (set VOXPOP_DATA_DIR or put ../shared/data beside the clone)")
    jobs_set = load_jobs_set(data_dir)
    assert all(post.text.strip() for post in jobs_set.posts)
    assert all(post.text.strip() for post in load_step_supplement(data_dir))


def _mini(tmp_path: Path, text: str) -> tuple[Path, Path]:
    data = tmp_path / "data"
    (data / "reviews").mkdir(parents=True)
    (data / "reviews" / "mini.jsonl").write_text(
        json.dumps({"text": "first row, not labelled"}) + "\n" + json.dumps({"text": text}) + "\n")
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "products.toml").write_text(
        '[[products]]\nslug = "notes"\nname = "Notes"\nsplit = "dev"\nfile = "reviews/mini.jsonl"\n'
        '  [[products.jobs]]\n  id = "export"\n  statement = "Get my notes out as PDF"\n')
    (labels / "labels.jsonl").write_text(json.dumps(
        {"product": "notes", "file": "reviews/mini.jsonl", "row": 1, "sha1": text_sha("Export to PDF crashes"),
         "jobs": ["export"], "step": "use", "context": "on my iPad"}) + "\n")
    return data, labels


def test_loader_joins_text_and_names_a_changed_or_missing_row(tmp_path: Path) -> None:
    data, labels = _mini(tmp_path, "Export to PDF crashes")
    loaded = load_jobs_set(data, labels)
    assert loaded.posts[0].text == "Export to PDF crashes" and loaded.posts[0].context == "on my iPad"

    data, labels = _mini(tmp_path / "changed", "Export to PDF works now")
    with pytest.raises(LabelDataError, match=r"mini.jsonl: row 1 has changed"):
        load_jobs_set(data, labels)

    (data / "reviews" / "mini.jsonl").write_text(json.dumps({"text": "only one row"}) + "\n")
    with pytest.raises(LabelDataError, match=r"row 1 is missing"):
        load_jobs_set(data, labels)

    with pytest.raises(LabelDataError, match=r"shared data file .*mini.jsonl is missing"):
        load_jobs_set(tmp_path / "nowhere", labels)


def test_loader_rejects_unknown_jobs_and_steps(tmp_path: Path) -> None:
    _, labels = _mini(tmp_path, "Export to PDF crashes")
    products = read_products(labels / "products.toml")
    row = json.loads((labels / "labels.jsonl").read_text())
    for bad, message in (({"jobs": ["sync"]}, "not unique ids"), ({"step": "using"}, "step 'using'"),
                         ({"context": ""}, "context must be")):
        (labels / "labels.jsonl").write_text(json.dumps({**row, **bad}) + "\n")
        with pytest.raises(LabelDataError, match=message):
            read_labels(labels / "labels.jsonl", products)


def test_the_real_label_files_are_where_the_benches_look() -> None:
    assert (JOBS_DIR / "products.toml").is_file() and (JOBS_DIR / "labels.jsonl").is_file()
    assert (JOBS_DIR / "DATA_CARD.md").is_file()
