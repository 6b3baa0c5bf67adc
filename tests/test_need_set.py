"""The hand-labelled multilingual need-type set of issue 28 (bench/labels/need_multilingual): well formed, seeded
split, and (where the shared data is present) every row's text unchanged."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench.labels.jobs_set import LabelDataError, default_data_dir, text_sha
from bench.labels.need_set import LANGS, NEED_DIR, NEEDS, load_need_set, read_need_labels
from bench.labels.sample_need import split_of


def test_rows_cover_five_languages_with_a_seeded_split() -> None:
    rows = read_need_labels()
    per_lang = Counter(r.lang for r in rows)
    assert set(per_lang) == set(LANGS) and min(per_lang.values()) >= 120, per_lang
    assert {r.need for r in rows} == set(NEEDS)
    assert all(r.split == split_of(r.file, r.row) for r in rows)
    splits = Counter(r.split for r in rows)
    assert 0.4 <= splits["dev"] / len(rows) <= 0.6
    assert (NEED_DIR / "DATA_CARD.md").is_file()


def test_every_row_matches_the_shared_data() -> None:
    data_dir = default_data_dir()
    if not (data_dir / "multilingual").is_dir():
        pytest.skip(f"shared data not found at {data_dir} (set VOXPOP_DATA_DIR or put ../shared/data beside the clone)")
    need_set = load_need_set(data_dir)
    assert all(r.text.strip() for r in need_set.rows)
    assert need_set.split("dev", "es") and need_set.split("test", "es")


def test_loader_rejects_bad_rows_and_changed_text(tmp_path: Path) -> None:
    data = tmp_path / "data" / "multilingual"
    data.mkdir(parents=True)
    (data / "mini.jsonl").write_text(json.dumps({"text": "La app se cierra sola"}) + "\n")
    good = {"file": "multilingual/mini.jsonl", "row": 0, "sha1": text_sha("La app se cierra sola"), "lang": "es",
            "need": "problem", "split": "dev"}
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(good) + "\n")
    assert load_need_set(tmp_path / "data", labels).rows[0].text == "La app se cierra sola"
    for bad, message in (({"need": "bug"}, "need 'bug'"), ({"lang": "en"}, "lang 'en'"),
                         ({"file": "sentiment/x.jsonl"}, "not under multilingual")):
        labels.write_text(json.dumps({**good, **bad}) + "\n")
        with pytest.raises(LabelDataError, match=message):
            read_need_labels(labels)
    labels.write_text(json.dumps({**good, "sha1": "0000000000"}) + "\n")
    with pytest.raises(LabelDataError, match="row 0 has changed"):
        load_need_set(tmp_path / "data", labels)
