"""Classifier v3 with the real shipped model: honest file mode, language, titles, mixed reviews, evidence."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clf() -> Iterator[object]:
    from classify import Classifier

    yield Classifier()


def test_file_mode_says_which_rows_it_did_not_classify(clf, tmp_path: Path) -> None:
    from classify.filemode import classify_file

    src = tmp_path / "posts.jsonl"
    posts = [{"id": 1, "text": "The app crashes every time I open a shared notebook.", "rating": 1},
             {"id": 2, "text": "このアプリは起動するたびにクラッシュします。早く直してください。", "rating": 1},
             {"id": 3, "text": "Die App stürzt bei jedem Start ab und alle meine Notizen sind weg."}]
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts) + "{oops\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = classify_file(src, out, None, clf)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert result.as_dict() == {"rows": 4, "ok": 2, "skipped": 1, "errors": 1}
    assert [(r["classified"], r["language"]) for r in rows] == [(True, "en"), (False, "ja"), (True, "de"),
                                                                (False, None)]
    assert all("reason" not in r for r in rows if r["classified"])
    skipped = rows[1]
    assert skipped["reason"] == "unsupported_language: ja"
    # No placeholder reading that could pass for a prediction.
    for key in ("sentiment", "sentiment_score", "need_type", "need_score", "unmet_need", "evidence"):
        assert skipped[key] is None, key
    assert skipped["jobs"] == []
    assert rows[0]["sentiment"] == "negative" and rows[0]["need_type"] == "problem"
    assert rows[3]["reason"] == "invalid_input" and "line 4" in rows[3]["error"]


def test_a_short_english_one_star_review_is_read_not_skipped(clf) -> None:
    p = clf.predict(["Sync is broken, notes vanish"], ratings=[1])[0]
    assert (p.language, p.classified, p.sentiment) == ("en", True, "negative")
