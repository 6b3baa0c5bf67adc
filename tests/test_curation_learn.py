"""With the real model and store: corrections win and survive reclassification, learn moves similar posts,
review proposes what to label, and a renamed job requeues job scoring from stored embeddings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from store.db import Store
from store.models import AuditLog, Classification, Post, ProductModel
from voxpop import operations
from voxpop.cli import main
from voxpop.config import load_config
from voxpop.report import build_report

pytestmark = pytest.mark.slow

# Written for these tests: three families of near-paraphrases and some unrelated posts.
FAMILIES = {
    "invoice": ["Is there a way to get the invoice as a PDF from the billing page?",
                "Can I download my invoice as a PDF from billing somewhere?",
                "Where do I download the PDF invoice in the billing page?",
                "How do I get a PDF of the invoice from billing?",
                "Is it possible to save the invoice from the billing page as PDF?",
                "Any way to export the billing invoice to a PDF file?"],
    "sync": ["Notes stopped syncing between my phone and laptop after the update",
             "Since the update my notes no longer sync from phone to laptop",
             "Sync between laptop and phone is broken since the last update"],
    "praise": ["Lovely little app, I use it every single day",
               "Wonderful app, part of my daily routine now",
               "Really nice app, I open it every day"],
}
OTHERS = ["The widget shows yesterday's notes until I open the app", "Please add a dark theme for reading at night",
          "Five stars, fast and simple", "How can I share a notebook with my team?",
          "Crashes every time I attach a photo", "Would love tags and folders together"]

CONFIG = """
database_url = "{url}"

[[products]]
slug = "notely"
name = "Notely"
own = true

  [[products.jobs]]
  id = "{billing}"
  statement = "Pay for the app and manage invoices and billing"

  [[products.jobs]]
  id = "sync-devices"
  statement = "Keep my notes the same on all my devices"
"""


def _config(tmp_path: Path, url: str, billing: str = "billing") -> Path:
    path = tmp_path / f"voxpop-{billing}.toml"
    path.write_text(CONFIG.format(url=url, billing=billing), encoding="utf-8")
    return path


def _posts(tmp_path: Path) -> Path:
    path = tmp_path / "posts.jsonl"
    rows = [(f"{name}-{i}", text) for name, texts in FAMILIES.items() for i, text in enumerate(texts)]
    rows += [(f"other-{i}", text) for i, text in enumerate(OTHERS)]
    path.write_text("".join(json.dumps({"id": key, "text": text, "date": f"2026-11-0{1 + n % 9}"}) + "\n"
                            for n, (key, text) in enumerate(rows)), encoding="utf-8")
    return path


def _cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(config), *args], env={"VOXPOP_DATABASE_URL": None},
                                catch_exceptions=False)
    return result


def _by_key(store: Store) -> dict[str, Any]:
    with store.sessions() as session:
        rows = session.execute(select(Post.external_id, Post.id, Classification).join(
            Classification, Classification.post_id == Post.id)).all()
    return {key: (pid, cls) for key, pid, cls in rows}


@pytest.fixture
def notely(tmp_path: Path, sqlite_url: str) -> tuple[Path, Store]:
    config = _config(tmp_path, sqlite_url)
    assert _cli(config, "import", "--input", str(_posts(tmp_path)), "--product", "notely").exit_code == 0
    assert _cli(config, "classify", "--json").exit_code == 0
    return config, Store(sqlite_url)


def test_corrections_win_in_export_and_survive_reclassification(notely: tuple[Path, Store]) -> None:
    config, store = notely
    posts = _by_key(store)
    pid, cls = posts["sync-0"]
    target = "question" if cls.need_type != "question" else "other"
    result = _cli(config, "label", "--post", str(pid), "--need", target, "--sentiment", "neutral", "--jobs",
                  "billing", "--by", "ann", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"][0]["old_source"] == "model"
    bad = _cli(config, "label", "--post", str(pid), "--jobs", "nope")
    assert bad.exit_code == 1 and "unknown job(s) for notely: nope" in bad.output

    # A new model version reclassifies the post: the model's row changes, the person's label stands.
    with store.transaction() as session:
        session.execute(update(Classification).where(Classification.post_id == pid).values(model_version="old"))
    cfg = load_config(str(config))
    report = operations.classify_pending(store, cfg, reclassify=True)
    assert report.requeued == 1 and report.classified == 1
    exported = [json.loads(line) for line in _cli(config, "export", "--product", "notely").stdout.splitlines()]
    row = next(r for r in exported if r["id"] == pid)
    assert (row["need_type"], row["sentiment"], row["label_source"]) == (target, "neutral", "human")
    assert row["jobs"] == [{"job": "billing", "score": 1.0}] and row["unmet_need"] is False
    assert {r["label_source"] for r in exported if r["id"] != pid} == {"model"}
    history = json.loads(_cli(config, "history", "--post", str(pid), "--json").stdout)
    assert [(h["action"], h["by"]) for h in history] == [("label", "ann")]

    data = build_report(store.sessions(), ["notely"], datetime(2026, 10, 1, tzinfo=UTC),
                        datetime(2026, 12, 1, tzinfo=UTC), {"notely": cfg.products[0].jobs}, threads=1)
    figures = data["products"][0]
    assert figures["need_types"][target]["x"] >= 1 and figures["jobs"]["billing"]["n"] >= 1


def test_learn_moves_similar_posts_and_new_posts_and_review_proposes(notely: tuple[Path, Store],
                                                                    tmp_path: Path) -> None:
    config, store = notely
    before = _by_key(store)
    guess = before["invoice-0"][1].need_type
    target = "feature_request" if guess != "feature_request" else "question"
    for key in ("invoice-0", "invoice-1", "invoice-2"):
        assert _cli(config, "label", "--post", str(before[key][0]), "--need", target, "--by", "ann").exit_code == 0
    review = json.loads(_cli(config, "review", "--product", "notely", "--n", "5", "--json").stdout)
    labelled = {before[k][0] for k in ("invoice-0", "invoice-1", "invoice-2")}
    assert len(review) == 5 and not {r["post_id"] for r in review} & labelled
    assert all(r["need_type"] and r["reason"] for r in review)

    result = _cli(config, "learn", "--product", "notely", "--json")
    assert result.exit_code == 0, result.output
    learned = json.loads(result.stdout)
    assert learned["labelled_posts"] == 3 and "+notely." in learned["model_version"]
    after = _by_key(store)
    similar = [after[f"invoice-{i}"][1].need_type for i in (3, 4, 5)]
    assert similar.count(target) >= 2, (guess, target, similar)
    unrelated = [k for k in after if k.startswith(("sync", "praise"))]
    assert sum(after[k][1].need_type == before[k][1].need_type for k in unrelated) >= len(unrelated) - 1
    assert {after[k][1].model_version for k in after} == {learned["model_version"]}
    with store.sessions() as session:
        model = session.get(ProductModel, 1)
        assert model is not None and model.corrections == 3
        assert [a.action for a in session.scalars(select(AuditLog).where(AuditLog.action == "learn"))] == ["learn"]

    # A new post like the corrected ones gets the product's layer when it is classified.
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "invoice-new", "text": "Can the billing page give me my invoice as a PDF?",
                               "date": "2026-11-09"}) + "\n", encoding="utf-8")
    assert _cli(config, "import", "--input", str(new), "--product", "notely").exit_code == 0
    cfg = load_config(str(config))
    assert operations.classify_pending(store, cfg).classified == 1
    fresh = _by_key(store)["invoice-new"][1]
    assert fresh.model_version == learned["model_version"] and fresh.need_type == target
    # --reclassify leaves posts of the same shared model (with the product's layer) alone.
    assert operations.classify_pending(store, cfg, reclassify=True).requeued == 0

    # The scheduler learns again only when there are new corrections.
    from voxpop.learning import learn_all

    assert learn_all(store, cfg) == {"learned": {}}
    assert _cli(config, "label", "--post", str(before["praise-0"][0]), "--need", "praise").exit_code == 0
    assert list(learn_all(store, cfg)["learned"]) == ["notely"]


def test_renamed_job_requeues_job_scoring_from_stored_embeddings(notely: tuple[Path, Store],
                                                                tmp_path: Path) -> None:
    config, store = notely
    before = _by_key(store)
    billing_posts = {k for k, (_, c) in before.items() if c.top_job == "billing"}
    assert billing_posts and all(c.taxonomy for _, c in before.values())
    embeddings = {k: c.embedding for k, (_, c) in before.items()}
    renamed = _config(tmp_path, load_config(str(config)).database_url, billing="pay-and-invoices")
    cfg = load_config(str(renamed))

    # Until classify runs, the report says how many posts carry the job that is gone.
    with store.sessions() as session:
        data = build_report(session, ["notely"], datetime(2026, 10, 1, tzinfo=UTC),
                            datetime(2026, 12, 1, tzinfo=UTC), {"notely": cfg.products[0].jobs}, threads=1)
    assert data["products"][0]["unlisted_jobs"] == {"billing": len(billing_posts)}
    assert f"{len(billing_posts)} post" in data["summary"]["text"] and "billing" in data["summary"]["text"]

    report = operations.classify_pending(store, cfg)
    assert report.rescored_jobs == len(before) and report.classified == 0
    after = _by_key(store)
    assert {k for k, (_, c) in after.items() if c.top_job == "pay-and-invoices"} == billing_posts
    assert all(after[k][1].embedding == embeddings[k] for k in after)  # nothing was encoded again
    assert all(after[k][1].sentiment == before[k][1].sentiment for k in after)
    assert operations.classify_pending(store, cfg).rescored_jobs == 0


def _jobs(store: Store) -> dict[str, list[tuple[str, str]]]:
    return {key: [(j["job"], j.get("evidence") or "") for j in (cls.jobs or [])]
            for key, (_, cls) in _by_key(store).items()}


BILLING_SENTENCE = "Paying for the yearly plan and downloading its invoice from billing is a mess."
LONG_REVIEW = ("The colours are calm and pleasant. I have had it for two years now. My cat likes to sit on the "
               f"keyboard. {BILLING_SENTENCE} Anyway, that is my review.")


def test_a_job_correction_changes_jobs_only_near_it_and_undo_puts_them_back(notely: tuple[Path, Store],
                                                                            tmp_path: Path) -> None:
    config, store = notely
    # A long review whose job is in one sentence of five: its job comes from sentence scoring.
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"id": "long-0", "date": "2026-11-09", "text": LONG_REVIEW}) + "\n", encoding="utf-8")
    assert _cli(config, "import", "--input", str(long), "--product", "notely").exit_code == 0
    assert _cli(config, "classify", "--json").exit_code == 0
    before = _jobs(store)
    assert ("billing", BILLING_SENTENCE) in before["long-0"]
    on_job = [k for k in ("sync-1", "sync-2") if "sync-devices" in {j for j, _ in before[k]}]
    assert on_job, "a twin of the corrected post must be on the job before the correction"
    pid = _by_key(store)["sync-0"][0]
    assert _cli(config, "label", "--post", str(pid), "--no-jobs", "--by", "ann").exit_code == 0
    learned = json.loads(_cli(config, "learn", "--product", "notely", "--json").stdout)
    assert learned["model_version"]
    after = _jobs(store)
    # The corrected post's twins lose the job; every post far from the correction keeps its jobs and evidence.
    lost = [k for k in on_job if "sync-devices" not in {j for j, _ in after[k]}]
    assert lost
    far = [k for k in before if not k.startswith("sync-")]
    assert {k: after[k] for k in far} == {k: before[k] for k in far}
    assert _cli(config, "learn", "--product", "notely", "--undo").exit_code == 0
    assert {k: v for k, v in _jobs(store).items() if k != "sync-0"} == {k: v for k, v in before.items()
                                                                         if k != "sync-0"}


def test_learn_after_a_job_rename_scores_the_new_jobs_and_undo_keeps_them(notely: tuple[Path, Store],
                                                                         tmp_path: Path) -> None:
    config, store = notely
    assert any(j == "billing" for jobs in _jobs(store).values() for j, _ in jobs)
    pid = _by_key(store)["sync-0"][0]
    assert _cli(config, "label", "--post", str(pid), "--no-jobs", "--by", "ann").exit_code == 0
    renamed = _config(tmp_path, load_config(str(config)).database_url, billing="pay-and-invoices")
    assert _cli(renamed, "learn", "--product", "notely", "--json").exit_code == 0
    after = _jobs(store)
    assert not any(j == "billing" for jobs in after.values() for j, _ in jobs)
    assert any(j == "pay-and-invoices" for jobs in after.values() for j, _ in jobs)
    # Undo puts back the posts' jobs from before the layer, scored under today's jobs, never the renamed ones.
    assert _cli(renamed, "learn", "--product", "notely", "--undo").exit_code == 0
    undone = _jobs(store)
    assert not any(j == "billing" for jobs in undone.values() for j, _ in jobs)
    assert {k: v for k, v in undone.items() if k.startswith("invoice-")} == {
        k: v for k, v in after.items() if k.startswith("invoice-")}
