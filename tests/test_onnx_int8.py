"""The int8 encoder option: built from the packaged encoder, run by ONNX Runtime, read through the same pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ENCODER = Path(__file__).resolve().parent.parent / "classify" / "model" / "encoder"
HEADS = ENCODER.parent
TEXTS = ["Since the update the app crashes every time I export a note to PDF.",
         "Love it, the handwriting search finds everything I scribble.",
         "Please add a dark mode for night reading."]


@pytest.fixture(scope="module")
def encoder_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged encoder's files linked into a folder of the test's own, with the int8 model built there."""
    from classify.training.export_int8 import export_int8

    folder = tmp_path_factory.mktemp("encoder") / "encoder"
    folder.mkdir()
    for path in ENCODER.iterdir():
        if path.is_file() and not path.name.endswith(".onnx"):
            (folder / path.name).symlink_to(path)
    export_int8(folder)
    return folder


def test_int8_reads_posts_like_fp32_and_says_so_in_its_version(encoder_copy: Path) -> None:
    from classify import Classifier

    fp32 = Classifier(encoder_copy, heads_dir=HEADS)
    int8 = Classifier(encoder_copy, heads_dir=HEADS, runtime="int8")
    assert "int8" in int8.model_version and int8.model_version != fp32.model_version
    a, b = fp32.predict(TEXTS), int8.predict(TEXTS)
    cosine = np.sum(np.stack([p.embedding for p in a]) * np.stack([p.embedding for p in b]), axis=1)
    assert cosine.min() > 0.97
    assert [(p.sentiment, p.need_type) for p in b] == [(p.sentiment, p.need_type) for p in a]
    assert b[0].need_type == "problem" and b[0].sentiment == "negative"
    # Sentences come from the same forward pass in both runtimes.
    assert [len(p.sentences) for p in b] == [len(p.sentences) for p in a]


def test_the_build_is_deterministic(encoder_copy: Path, tmp_path: Path) -> None:
    from classify.training.export_int8 import export_int8

    again = tmp_path / "encoder"
    again.mkdir()
    for path in encoder_copy.iterdir():
        if not path.name.endswith(".onnx"):
            (again / path.name).symlink_to(path.resolve())
    assert export_int8(again).read_bytes() == (encoder_copy / "model.int8.onnx").read_bytes()


def test_a_missing_int8_model_or_runtime_name_is_one_clear_error(tmp_path: Path) -> None:
    from classify import Classifier
    from classify.onnx_encoder import Int8ModelMissing

    bare = tmp_path / "encoder"
    bare.mkdir()
    for path in ENCODER.iterdir():
        if path.is_file() and not path.name.endswith(".onnx"):
            (bare / path.name).symlink_to(path)
    with pytest.raises(Int8ModelMissing, match="export_int8"):
        Classifier(bare, heads_dir=HEADS, runtime="int8")
    with pytest.raises(ValueError, match="fp32, int8"):
        Classifier(bare, heads_dir=HEADS, runtime="fp16")
