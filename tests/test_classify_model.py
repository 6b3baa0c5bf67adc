"""The packaged classifier, loaded once for this module: offline load, quality floors, jobs, file mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from classify import Job, JobScore  # noqa: E402
from classify.filemode import classify_file  # noqa: E402
from classify.steps import DEFAULT_STEPS  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clf() -> Iterator[object]:
    from classify import Classifier

    yield Classifier()


@pytest.fixture(scope="module")
def labeled() -> list[dict]:
    with open(FIXTURES / "classify_labeled.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_loads_offline_without_network_and_keeps_torch_out_of_light_imports() -> None:
    code = ("import os, sys; os.environ['HF_HUB_OFFLINE'] = '1';"
            "import classify, voxpop.core.text; assert 'torch' not in sys.modules, 'light import pulled torch';"
            "from classify import Classifier; c = Classifier(); v = c.embed(['hello there']);"
            "print(c.model_version, v.shape)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home", "no_proxy": "",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(1, 384)" in done.stdout and "voxpop-" in done.stdout


def test_embed_is_unit_float32_and_matches_predict(clf) -> None:
    vecs = clf.embed(["The app crashes on start.", "Lovely design."])
    assert vecs.dtype == np.float32 and vecs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    pred = clf.predict(["The app crashes on start."])[0]
    np.testing.assert_allclose(pred.embedding, vecs[0], atol=1e-5)


def test_quality_floor_on_our_labeled_set(clf, labeled) -> None:
    preds = clf.predict([r["text"] for r in labeled])
    polar = [(p, r) for p, r in zip(preds, labeled, strict=True) if r["sentiment"] != "neutral"]
    sentiment_acc = np.mean([p.sentiment == r["sentiment"] for p, r in polar])
    need_acc = np.mean([p.need_type == r["need_type"] for p, r in zip(preds, labeled, strict=True)])
    unmet_acc = np.mean([p.unmet_need == (r["need_type"] in ("problem", "feature_request"))
                         for p, r in zip(preds, labeled, strict=True)])
    # A broken or untrained model sits near chance (1/3 sentiment, 1/5 need type, ~1/2 unmet).
    assert sentiment_acc >= 0.75, sentiment_acc
    assert need_acc >= 0.55, need_acc
    assert unmet_acc >= 0.75, unmet_acc
    for p in preds:
        assert p.sentiment in ("negative", "neutral", "positive") and -1.0 <= p.sentiment_score <= 1.0
        assert 0.0 <= p.need_score <= 1.0 and p.model_version == clf.model_version and p.language in ("en", None)


def test_long_review_takes_evidence_from_the_complaining_sentence(clf) -> None:
    text = ("I have used this planner for two years and mostly like it. The colours are nice. "
            "Since version 5 it crashes every time I try to attach a photo to a task. "
            "Otherwise a pleasant app.")
    pred = clf.predict([text])[0]
    assert pred.need_type == "problem" and pred.unmet_need
    assert pred.evidence == "Since version 5 it crashes every time I try to attach a photo to a task."


def test_rating_moves_sentiment(clf) -> None:
    text = ["It is an app for notes."]
    low, none, high = (clf.predict(text, ratings=[r])[0].sentiment_score for r in (1, None, 5))
    assert low < none < high


def test_languages_we_do_not_classify_get_the_flagged_placeholder(clf) -> None:
    pred = clf.predict(["このアプリは起動するたびにクラッシュします。早く直してください。"])[0]
    assert pred.language == "ja" and not pred.classified
    assert (pred.sentiment, pred.sentiment_score, pred.need_type, pred.unmet_need, pred.jobs) == (
        "neutral", 0.0, "other", False, ())
    assert pred.embedding.shape == (384,)


def test_german_spanish_and_french_complaints_are_classified_not_skipped(clf) -> None:
    texts = ["Die App stürzt bei jedem Start ab und alle meine Notizen sind weg. Katastrophe.",
             "La aplicación se cierra sola cada vez que intento exportar, es horrible y no sirve para nada.",
             "Application nulle, elle plante à chaque ouverture depuis la mise à jour."]
    preds = clf.predict(texts, ratings=[1, 1, 1])
    assert [p.language for p in preds] == ["de", "es", "fr"]
    assert all(p.classified for p in preds)
    assert [p.sentiment for p in preds] == ["negative"] * 3


def test_given_languages_skip_detection(clf) -> None:
    # Store mode passes the language detected at crawl time; an unsupported one is flagged without re-detecting.
    pred = clf.predict(["The app crashes on start."], languages=["nl"])[0]
    assert pred.language == "nl" and not pred.classified


JOBS_ZERO = [Job("share_photos", "share photos with family"), Job("get_paid", "get paid on time for my work"),
             Job("track_running", "track my running workouts")]


def test_jobs_zero_shot_picks_the_right_job(clf) -> None:
    preds = clf.predict(["I post pictures of the kids so grandma can see them.",
                         "My client invoices are always settled late, I need the money on time.",
                         "Logging my morning jogs and seeing my pace improve."], JOBS_ZERO)
    assert [p.jobs[0].job if p.jobs else None for p in preds] == ["share_photos", "get_paid", "track_running"]
    assert all(isinstance(j, JobScore) and 0.5 <= j.score <= 1.0 for p in preds for j in p.jobs)


def test_jobs_none_is_a_real_answer(clf) -> None:
    preds = clf.predict(["What is the boiling point of olive oil?", "The moon looked orange tonight."], JOBS_ZERO)
    assert [p.jobs for p in preds] == [(), ()]


def test_jobs_examples_help(clf) -> None:
    post = ["Set it up so my laptop and phone show the same notes."]
    bare = [Job("sync", "keep things consistent"), Job("backup", "store a safe copy")]
    taught = [Job("sync", "keep things consistent", ("my edits show up on all my devices",
                                                     "notes are the same on phone and computer")),
              Job("backup", "store a safe copy", ("restore files after my disk died", "keep an archive offsite"))]
    before = {j.job: j.score for j in clf.predict(post, bare)[0].jobs}
    after = clf.predict(post, taught)[0].jobs
    assert after and after[0].job == "sync"
    assert after[0].score > before.get("sync", 0.0)


def test_file_mode_keeps_order_and_reports_bad_rows(clf, tmp_path: Path) -> None:
    src = tmp_path / "posts.jsonl"
    lines = [json.dumps({"id": "a", "text": "The app crashes when I save.", "title": "Crash", "rating": 1}),
             "{broken json",
             json.dumps({"id": "b", "text": ""}),
             json.dumps({"id": "c", "text": 42}),
             json.dumps({"id": "d", "text": "I wish it had a dark mode for reading at night.", "rating": "n/a"}),
             "",
             json.dumps({"id": "e", "text": "I love sharing photos with my family here."})]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[jobs]]\nid = "share_photos"\nstatement = "share photos with family"\n', encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    seen: list[int] = []
    result = classify_file(src, out, jobs, clf, progress=seen.append)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (result.rows, result.ok, result.errors) == (6, 3, 3)
    assert [r.get("id") for r in rows] == ["a", None, "b", "c", "d", "e"]
    assert [("error" in r) for r in rows] == [False, True, True, True, False, False]
    assert "line 2" in rows[1]["error"] and "text" in rows[2]["error"]
    assert set(rows[0]) == {"id", "classified", "language", "sentiment", "sentiment_score", "need_type",
                            "need_score", "unmet_need", "jobs", "evidence", "step", "step_score", "mixed", "sentences",
                            "model_version"}
    assert [r["classified"] for r in rows] == [True, False, False, False, True, True]
    assert rows[1]["reason"] == "invalid_input" and rows[0]["language"] == "en"
    assert rows[0]["step"] in {s.id for s in DEFAULT_STEPS} and 0 < rows[0]["step_score"] <= 1
    assert rows[5]["jobs"][0]["evidence"] == "I love sharing photos with my family here."
    assert rows[0]["need_type"] == "problem" and rows[4]["need_type"] == "feature_request"
    assert rows[5]["jobs"][0]["job"] == "share_photos"
    assert sum(seen) == 6
    assert result.as_dict() == {"rows": 6, "ok": 3, "skipped": 0, "errors": 3}
