"""Jobs per sentence with evidence, negative job examples, the job map's steps (and their rescoring from stored
embeddings after a config change), and ``[[steps]]`` in a file-mode jobs file, all with the real packaged model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from classify.adapt import ProductLayer, fit_layer, shared_probabilities
from classify.filemode import JobsFileError, classify_file, load_taxonomy
from classify.jobs import Job
from classify.steps import DEFAULT_STEPS
from store.db import Store
from store.models import Classification, Post
from voxpop import operations
from voxpop.cli import main
from voxpop.config import ConfigError, load_config

pytestmark = pytest.mark.slow

# Written for these tests.
JOBS = [Job("export", "Get my notes out as PDF or Word files", ("I export notes as PDF for my clients",)),
        Job("sync", "Have my notes on every device I use", ("notes appear on my phone and laptop",)),
        Job("share", "Share notes and work on them with my team", ("my coworkers edit the same page with me",))]
FIVE = ("The colours are calm and pleasant. I have had it for two years now. My cat likes to sit on the keyboard. "
        "Exporting a note to PDF crashes the app every single time. Anyway, that is my review.")
EXPORT_SENTENCE = "Exporting a note to PDF crashes the app every single time."


@pytest.fixture(scope="module")
def clf() -> Iterator[Any]:
    from classify import Classifier

    yield Classifier()


def test_one_sentence_of_five_gives_the_job_and_is_its_evidence(clf: Any) -> None:
    [pred] = clf.predict([FIVE], JOBS)
    assert pred.jobs and pred.jobs[0].job == "export"
    assert pred.jobs[0].evidence == EXPORT_SENTENCE
    # The same post scored as one vector (what sentence scoring replaces) gives it less.
    post_only = clf.job_index(JOBS).calibrated(pred.embedding[None, :])[0][0]
    assert post_only < pred.jobs[0].score
    assert pred.step in {s.id for s in DEFAULT_STEPS} and pred.step_score is not None


def test_a_no_jobs_correction_keeps_near_duplicates_off_the_job(clf: Any) -> None:
    marked = "Sending my notes to the printer as a PDF for my aunt's recipe club"
    twin = "Sending my notes to the printer as a PDF for my aunt's recipe club!"
    [before] = clf.predict([twin], JOBS)
    assert [j.job for j in before.jobs][:1] == ["export"], "the twin must take the job without a negative example"
    vecs = clf.embed([marked])
    sent_p, need_p = shared_probabilities(clf, vecs)
    layer = fit_layer(vecs, sent_p, need_p, sentiment=[None], need=[None], jobs=[[]])
    assert layer.no_jobs is not None and len(layer.no_jobs) == 1
    layer = ProductLayer.from_bytes(layer.to_bytes())  # the stored form keeps the negatives
    assert layer.no_jobs is not None
    [after] = clf.predict([twin], JOBS, negatives=layer.no_jobs)
    assert after.jobs == ()
    [other] = clf.predict(["Exporting to Word works great for my reports"], JOBS, negatives=layer.no_jobs)
    assert [j.job for j in other.jobs][:1] == ["export"], "an unrelated export post keeps its job"


def test_demo_pdf_crash_posts_take_the_export_job_on_use_or_leave(clf: Any) -> None:
    from voxpop.demo import content

    jobs = [Job(i, statement, tuple(examples)) for i, statement, examples in content.JOBS]
    posts = [("PDF export crash", t) for t in content.BURST] + [(content.FORUM_TOPICS[0][0], t)
                                                                for t in content.FORUM_TOPICS[0][1]]
    assert len(posts) == 19
    preds = clf.predict([t for _, t in posts], jobs, titles=[h for h, _ in posts])
    on_job = [p for p in preds if "export-notes" in {j.job for j in p.jobs} and p.step in {"use", "leave"}]
    assert len(on_job) >= 17
    capture = [t.format(capture="capture ideas", kind="notes app") for t in content.PRAISE if "{capture}" in t]
    assert capture and all("capture-ideas" in {j.job for j in p.jobs} for p in clf.predict(capture, jobs))


def test_steps_place_clear_posts(clf: Any) -> None:
    texts = ["I cancelled my subscription and uninstalled the app, moving to a competitor.",
             "I was charged twice for the yearly plan this month.",
             "I use it every day to write my notes and it works great."]
    steps = [p.step for p in clf.predict(texts)]
    assert steps == ["leave", "pay", "use"]


def test_complaints_and_questions_about_a_feature_are_not_leaving(clf: Any) -> None:
    """Posts that grumble about or ask about a feature (words like app, account, old version) stay off ``leave``."""
    texts = ["The sidebar keeps showing an outdated list until I restart the app.",
             "Can I move a folder over to a different workspace account?",
             "It signs me out every other day for no reason, so annoying.",
             "Is there a way to get back an earlier version of a page I overwrote?",
             "Deleted my account and switched to another service, done with it."]
    steps = [p.step for p in clf.predict(texts)]
    assert "leave" not in steps[:4] and steps[4] == "leave"


def test_demo_journey_questions_and_billing_land_on_learn_and_pay(clf: Any) -> None:
    """The demo's journey posts as ``voxpop classify`` sees them (operations._classify_batch: the product's jobs,
    titles and ratings): asking where a setting is is learning, a refund in a billing complaint is paying, while
    cancelling stays leaving."""
    from voxpop.demo import content

    jobs = [Job(i, statement, tuple(examples)) for i, statement, examples in content.JOBS]
    posts = {title: (product, text, rating) for product, rows in content.JOURNEY.items()
             for title, text, rating in rows}
    wanted = {"Where is the setting?": "learn", "Billing mess": "pay", "Charged twice": "pay", "Moving on": "leave"}
    rows = [posts[t] for t in wanted]
    preds = clf.predict([r[1] for r in rows], jobs, titles=list(wanted), ratings=[r[2] for r in rows])
    assert {t: p.step for t, p in zip(wanted, preds, strict=True)} == wanted
    assert "refund" in posts["Billing mess"][1], "the billing post still holds the word that used to mean leave"


def test_refund_is_pay_in_a_billing_post_and_leave_otherwise() -> None:
    from classify.step_cues import cue_matrix, refund_step

    assert refund_step("the refund took weeks", "I was billed after downgrading, the refund took weeks") == "pay"
    assert refund_step("the refund took weeks") == "leave"
    assert refund_step("Asked for a refund, it would not even start.") == "leave"
    assert refund_step("It would not even start.") is None
    ids = ["learn", "use", "pay", "leave"]
    texts = ["I was billed for the family plan after downgrading, and the refund took weeks.",
             "Refunded, the game never got past the loading screen.",
             "Cancelled my subscription and asked for a refund.",
             "Where is the setting to change the default notebook?",
             "I can't find the option to turn off threads.",
             "Where do I find my old notes?"]
    hits = [{ids[k] for k in np.flatnonzero(row)} for row in cue_matrix(texts, ids)]
    assert hits == [{"pay"}, {"leave"}, {"pay", "leave"}, {"learn"}, {"learn"}, {"learn"}]


def test_a_cue_elsewhere_in_the_post_counts_less_and_leaving_outranks_other_cues(clf: Any) -> None:
    from dataclasses import replace

    from classify.steps import StepIndex

    steps = StepIndex(clf.step_index().index, replace(clf.step_calibration, cue_bonus=0.3, post_cue_bonus=0.1))
    ids = steps.ids
    evidence = ["The sync between my phone and laptop is slow.", "I bought it and it was stuck on loading screens."]
    posts = ["The sync between my phone and laptop is slow. How do I turn it off?",
             "I bought it and it was stuck on loading screens. Asked for a refund."]
    added = steps.cue_scores(2, evidence, posts)
    assert added[0, ids.index("learn")] == pytest.approx(0.1), "a cue in another sentence adds post_cue_bonus"
    assert added[0].sum() == pytest.approx(0.1)
    assert added[1, ids.index("leave")] == pytest.approx(0.3) and added[1].sum() == pytest.approx(0.3), \
        "a refund with no billing words is leaving, and the buying and loading cues drop"
    assert not steps.cue_scores(2, None, None).any()
    with pytest.raises(ValueError, match="post_texts"):
        steps.cue_scores(2, evidence, posts[:1])


def test_jobs_file_steps_and_file_mode_fields(clf: Any, tmp_path: Path) -> None:
    taxonomy = tmp_path / "jobs.toml"
    taxonomy.write_text('[[jobs]]\nid = "export"\nstatement = "Get my notes out as PDF or Word files"\n'
                        '[[steps]]\nid = "daily"\nstatement = "Write and read notes every day"\n'
                        'examples = ["I write in it every morning"]\n'
                        '[[steps]]\nid = "billing"\nstatement = "Pay for the app"\n'
                        'examples = ["charged twice for my plan"]\n', encoding="utf-8")
    jobs, steps = load_taxonomy(taxonomy)
    assert [j.id for j in jobs] == ["export"] and [s.id for s in steps] == ["daily", "billing"]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "text": FIVE}) + "\n"
                   + json.dumps({"id": 2, "text": "They charged my card twice for the plan."}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    classify_file(src, out, taxonomy, clf)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["jobs"][0] == {"job": "export", "score": rows[0]["jobs"][0]["score"], "evidence": EXPORT_SENTENCE}
    assert {r["step"] for r in rows} <= {"daily", "billing"} and rows[1]["step"] == "billing"
    assert all(isinstance(r["step_score"], float) for r in rows)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\nid = "x"\n', encoding="utf-8")
    with pytest.raises(JobsFileError, match=r"steps\[0\]\.statement"):
        load_taxonomy(bad)


CONFIG = """
database_url = "{url}"

[[products]]
slug = "notely"
name = "Notely"
own = true

  [[products.jobs]]
  id = "export"
  statement = "Get my notes out as PDF or Word files"
  examples = ["I export notes as PDF for my clients"]
{steps}
"""
OWN_STEPS = """
  [[products.steps]]
  id = "work"
  statement = "Do my daily work in the app"
  examples = ["I write in it every morning"]

  [[products.steps]]
  id = "money"
  statement = "Pay for the app: price, plan and billing"
  examples = ["charged twice for my plan"]
"""
POSTS = ["I was charged twice for the yearly plan.", "Exporting to PDF crashes every time.",
         "I write my meeting notes in it every day.", "The price went up again, too expensive now."]


def test_step_config_change_rescores_from_stored_embeddings(tmp_path: Path, db_url: str) -> None:
    sqlite_url = db_url
    first = tmp_path / "a.toml"
    first.write_text(CONFIG.format(url=sqlite_url, steps=""), encoding="utf-8")
    posts = tmp_path / "posts.jsonl"
    posts.write_text("".join(json.dumps({"id": f"p{i}", "text": t, "date": "2026-11-02"}) + "\n"
                             for i, t in enumerate(POSTS)), encoding="utf-8")
    run = CliRunner().invoke
    env = {"VOXPOP_DATABASE_URL": None}
    assert run(main, ["--config", str(first), "import", "--input", str(posts), "--product", "notely"], env=env,
               catch_exceptions=False).exit_code == 0
    assert run(main, ["--config", str(first), "classify", "--json"], env=env, catch_exceptions=False).exit_code == 0
    store = Store(sqlite_url)

    def stored() -> dict[str, tuple[Any, ...]]:
        with store.sessions() as session:
            return {k: (c.step, c.step_score, c.embedding, c.taxonomy, c.jobs) for k, c in session.execute(
                select(Post.external_id, Classification).join(Classification, Classification.post_id == Post.id))}

    before = stored()
    assert {v[0] for v in before.values()} <= {s.id for s in DEFAULT_STEPS}
    assert before["p0"][0] == "pay"
    assert before["p1"][4] and before["p1"][4][0]["job"] == "export" and before["p1"][4][0]["evidence"]

    second = tmp_path / "b.toml"
    second.write_text(CONFIG.format(url=sqlite_url, steps=OWN_STEPS), encoding="utf-8")
    cfg = load_config(str(second))
    assert [s.id for s in cfg.products[0].steps] == ["work", "money"]
    report = operations.classify_pending(store, cfg)
    assert report.rescored_jobs == len(POSTS) and report.classified == 0
    after = stored()
    assert {v[0] for v in after.values()} <= {"work", "money"}
    assert after["p0"][0] == "money" and after["p3"][0] == "money" and after["p2"][0] == "work"
    assert all(after[k][2] == before[k][2] for k in after), "nothing is encoded again"
    assert all(after[k][3] != before[k][3] for k in after), "the taxonomy hash covers the steps"
    assert operations.classify_pending(store, cfg).rescored_jobs == 0
    store.dispose()
    out = tmp_path / "export.jsonl"
    assert run(main, ["--config", str(second), "export", "--product", "notely", "--format", "jsonl", "--out", str(out)],
               env=env, catch_exceptions=False).exit_code == 0
    exported = {r["external_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert exported["p0"]["step"] == "money" and 0 < exported["p0"]["step_score"] <= 1


def test_config_rejects_bad_steps(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(CONFIG.format(url="sqlite:///x.db", steps=OWN_STEPS + OWN_STEPS), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"steps\[2\]\.id.*repeated"):
        load_config(str(path))
    path.write_text(CONFIG.format(url="sqlite:///x.db", steps='  [[products.steps]]\n  id = "Bad Id"\n'
                                                            '  statement = "x"\n'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"steps\[0\]\.id"):
        load_config(str(path))


def test_default_steps_are_the_eight_of_the_job_map() -> None:
    assert [s.id for s in DEFAULT_STEPS] == ["choose", "get", "set-up", "learn", "use", "get-help", "pay", "leave"]
    assert all(s.statement and len(s.examples) >= 3 for s in DEFAULT_STEPS)
    assert np.unique([s.id for s in DEFAULT_STEPS]).size == 8


def test_step_cues_apply_to_default_step_ids_only() -> None:
    from classify.step_cues import cue_matrix

    texts = ["I uninstalled it last night.", "Reinstalled it and now it works.", "How do I turn off the sounds?",
             "Way too expensive at $12 a month.", "Works fine for my notes."]
    ids = ["get", "learn", "pay", "leave", "get-help"]
    hits = {texts[i]: {ids[k] for k in np.flatnonzero(row)} for i, row in enumerate(cue_matrix(texts, ids))}
    assert hits == {texts[0]: {"leave"}, texts[1]: {"get-help"}, texts[2]: {"learn"}, texts[3]: {"pay"},
                    texts[4]: set()}, "'reinstalled' is not 'install' (get)"
    assert not cue_matrix(texts, ["daily", "billing"]).any(), "a product's own step ids get no cue"


def test_a_cue_in_the_evidence_sentence_moves_a_post_off_use(clf: Any) -> None:
    from dataclasses import replace

    from classify.steps import StepIndex

    text = "Honestly I tried it for a week and then I uninstalled it."
    vec = clf.embed([text])
    plain = StepIndex(clf.step_index().index, replace(clf.step_calibration, cue_bonus=0.0))
    cued = StepIndex(clf.step_index().index, replace(clf.step_calibration, cue_bonus=1.0))
    assert cued.place(vec, vec, [text])[0][0] == "leave"
    assert cued.place(vec, vec)[0][0] == plain.place(vec, vec, [text])[0][0], "no text or no bonus: no cue"
    own = StepIndex.build([Job("daily", "Write notes every day"), Job("leave", "Stop using the app")], clf.embed,
                          replace(clf.step_calibration, cue_bonus=1.0, fallback="daily"))
    assert own.place(vec, vec, [text])[0][0] == "leave", "a custom set that reuses a default id keeps its cue"


def test_the_job_gate_gives_a_jobless_post_its_best_job_just_under_the_threshold() -> None:
    from classify.jobs import JobCalibration, JobIndex
    from classify.sentence_jobs import SentenceRule, score_posts

    def unit(*xs: float) -> np.ndarray:
        v = np.asarray(xs, dtype=np.float32)
        return v / np.linalg.norm(v)

    # One job along x, an ordinary review along z; threshold 0.6 on the job's raw score (its cosine here).
    cal = JobCalibration(some_shot_threshold=0.6, temperature=0.05, nearest_weight=0.5)
    index = JobIndex.from_vectors(["export"], [np.stack([unit(1, 0, 0), unit(1, 0.01, 0)])], cal,
                                  background=unit(0, 0, 1)[None, :])
    raw = float(index.raw_scores(unit(0.57, 0.82, 0)[None, :])[0, 0])
    near = unit(0.57, 0.82, 0)  # about 0.57: a little under the threshold, nowhere near the ordinary review
    far = unit(0.45, 0.89, 0)  # about 0.45: well under it
    generic = unit(0.57, 0.0, 0.82)  # as close to the job, but closer to the ordinary review
    posts = np.stack([near, far, generic])
    off = score_posts(index, posts, [], [], SentenceRule())
    on = score_posts(index, posts, [], [], SentenceRule(rescue_margin=0.05))
    assert 0.55 < raw < 0.6 and off.jobs == [(), (), ()]
    assert [[j.job for j in js] for js in on.jobs] == [["export"], [], []]
    assert on.jobs[0][0].score == 0.5


def test_a_job_correction_moves_the_posts_that_read_like_it_and_no_others(clf: Any) -> None:
    from voxpop.learning import _job_index

    corrected = "I print out the week's shopping list and stick it on the fridge for everyone"
    twin = "I print the weekly shopping list and stick it on our fridge for everyone"
    unrelated = ["Exporting to Word works great for my reports", "The app takes ages to open in the morning",
                 "my coworkers and I edit the same meeting page together"]
    before = clf.predict([twin, *unrelated], JOBS)
    assert "share" not in {j.job for j in before[0].jobs}, "the twin must not be on the job before the correction"
    vecs = clf.embed([corrected])
    sent_p, need_p = shared_probabilities(clf, vecs)
    layer = ProductLayer.from_bytes(fit_layer(vecs, sent_p, need_p, sentiment=[None], need=[None],
                                              jobs=[["share"]]).to_bytes())
    index = _job_index(clf, JOBS, layer)
    assert index is not None and index.corrected is not None
    np.testing.assert_array_equal(index.prototypes, clf.job_index(JOBS).prototypes)  # the config's jobs stay
    after = clf.predict([twin, *unrelated], job_index=index)
    assert "share" in {j.job for j in after[0].jobs}
    assert [p.jobs for p in after[1:]] == [p.jobs for p in before[1:]]
