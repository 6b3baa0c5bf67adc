"""Training corpora of classifier v2: held-out splits by app and source, rating handling, our own files.

Runs on a miniature data folder written here in the shapes of the shared data (our own words), so it needs
neither the shared data nor the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classify.labels import NEED_TYPES, SENTIMENTS
from classify.training.corpora import APPSTORE_TEST_APPS, VU_TEST_APPS, hashed_side, load_corpora
from classify.training.finetune import Recipe, intent_pairs, plan_batches


def _write(root: Path, rel: str, rows: list[dict]) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _clap_apps() -> tuple[str, str]:
    """One app name that hashes to train and one to test (the split is a hash of the name)."""
    names = [f"com.example.app{i}" for i in range(200)]
    return next(n for n in names if hashed_side(n) == "train"), next(n for n in names if hashed_side(n) == "test")


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    train_app, test_app = _clap_apps()
    _write(tmp_path, "sentiment/semeval2017_4a_train_2013_2016.jsonl", [
        {"text": "Sunny walk to work today, feeling great", "label": "positive"},
        {"text": "Train delayed again, third time this week", "label": "negative"},
        {"text": "Meeting moved to Thursday afternoon", "label": "neutral"}])
    _write(tmp_path, "sentiment/tweeteval_val.jsonl", [{"text": "Cannot wait for the weekend", "label": "positive"}])
    _write(tmp_path, "sentiment/appstore_reviews_stars_en.jsonl", [
        {"text": "Mail loads instantly and search finds everything", "label": "positive", "rating": 5,
         "title": "Fast", "app": "Gmail (iOS)"},
        {"text": "Calls drop every few minutes since the update", "label": "negative", "rating": 1,
         "title": "Broken", "app": next(iter(APPSTORE_TEST_APPS))},
        {"text": "It is fine I guess, nothing special about it", "label": "neutral", "rating": 3,
         "title": None, "app": "Google Drive (iOS)"}])
    _write(tmp_path, "sentiment/steam_reviews_sample.jsonl", [
        {"text": "Fun co-op with friends", "label": "recommended", "app": "Game A", "language": "english"},
        {"text": "Servers are always down", "label": "not_recommended", "app": "Game B", "language": "english"}])
    _write(tmp_path, "sentiment/senti4sd_stackoverflow_polarity.jsonl", [
        {"text": "Thanks, that fixed my build!", "label": "positive", "split_original": "train"},
        {"text": "This answer is wrong and misleading.", "label": "negative", "split_original": "test"}])
    _write(tmp_path, "sentiment/uci_labelled_sentences.jsonl", [{"text": "The soup was cold.", "label": "negative"}])
    _write(tmp_path, "need_type/vu2017_ios_reviews.jsonl", [
        {"text": "Great app, I use it daily for my runs", "label": "other", "sentiment": "very positive", "rating": 5,
         "title": "Love it", "app": "Fitbit"},
        {"text": "Map freezes when I reroute", "label": "bug_report", "sentiment": "negative", "rating": 2,
         "title": "Freezes", "app": next(iter(VU_TEST_APPS))}])
    _write(tmp_path, "need_type/tizard2019_forum_sentences.jsonl", [
        {"text": "How do I change the subtitle font?", "label_coarse": "question", "source": "VLC forum"},
        {"text": "Tabs vanish after a restart.", "label_coarse": "problem", "source": "Firefox support forum"}])
    _write(tmp_path, "need_type/scalabrino2017_clap_rq1.jsonl", [
        {"text": "Please add a widget for the home screen", "label": "feature", "rating": 4, "app": train_app},
        {"text": "Battery drains overnight with this running", "label": "energy", "rating": 2, "app": test_app}])
    _write(tmp_path, "need_type/scalabrino2017_clap_rq3.jsonl", [])
    _write(tmp_path, "multilingual/umsab_tweets_de_es_fr_it_pt.jsonl", [
        {"text": "Das Wetter ist heute wunderbar", "label": "positive", "lang": "de", "split_original": "train"},
        {"text": "Qué día tan horrible en el tráfico", "label": "negative", "lang": "es", "split_original": "test"}])
    _write(tmp_path, "multilingual/appstore_reviews_stars_de_es_fr_it_pt.jsonl", [
        {"text": "Funziona bene", "label": "positive", "rating": 5, "app": "Gmail (iOS)", "lang": "it"}])
    return tmp_path


def test_splits_keep_apps_and_sources_apart(data_dir: Path) -> None:
    c = load_corpora(data_dir)
    # App Store: the held-out app is only in test, and its stars are never an input (they are the label).
    assert [e.app for e in c["appstore_test"]] == [next(iter(APPSTORE_TEST_APPS))]
    assert all(e.app not in APPSTORE_TEST_APPS for e in c["appstore_train"])
    assert all(e.rating is None for split in ("appstore_train", "appstore_test") for e in c[split])
    assert {e.extra["stars"] for e in c["appstore_train"]} == {5, 3}
    # Vu: held-out apps only in test; a positive "other" review becomes praise; its rating is an input.
    assert [e.app for e in c["vu_test"]] == [next(iter(VU_TEST_APPS))]
    (fitbit,) = c["vu_train"]
    assert (fitbit.label, fitbit.rating, fitbit.title) == ("praise", 5, "Love it")
    assert c["tizard_test"][0].label == "problem" and c["tizard_train"][0].label == "question"
    assert c["clap_train"][0].label == "feature_request" and c["clap_test"][0].label == "problem"
    assert c["senti4sd_test"][0].label == "negative"
    assert [e.lang for e in c["umsab_test"]] == ["es"] and [e.lang for e in c["umsab_train"]] == ["de"]
    # Weak praise: a short five-star review without a complaint or a request word.
    assert [e.text for e in c["weakpraise_train"]] == ["Mail loads instantly and search finds everything"]
    for split in c.values():
        for e in split:
            assert e.label in (SENTIMENTS if e.task == "sentiment" else NEED_TYPES)


def test_batch_plan_is_seeded_and_hides_some_ratings(data_dir: Path) -> None:
    c = load_corpora(data_dir)
    sentiment = c["semeval_train"] + c["vusent_train"] * 40
    need = c["vu_train"] + c["tizard_train"] + c["clap_train"]
    pairs = intent_pairs([("check my balance", "balance"), ("how much money is left", "balance"),
                          ("book a table", "restaurant"), ("reserve dinner for two", "restaurant")], 4, 13)
    recipe = Recipe(batch_size=8)
    first, again = plan_batches(sentiment, need, pairs, recipe), plan_batches(sentiment, need, pairs, recipe)
    assert [b.texts for b in first] == [b.texts for b in again]
    kinds = {b.kind for b in first}
    assert kinds == {"sentiment", "need", "intent"}
    shown = [r for b in first if b.kind == "sentiment" for r in b.ratings]
    # The rated Vu rows show their rating about half the time, so the head learns to do without it too.
    assert 0 < sum(r is not None for r in shown) < sum(1 for _ in shown)
    assert all(len(b.texts) == 2 * len(pairs[:8]) for b in first if b.kind == "intent")
