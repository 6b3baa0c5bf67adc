"""The generic top-level names (store, alerts, classify, spiders) must resolve to this project's code."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


@pytest.mark.parametrize("name", ["store", "alerts", "classify", "spiders", "cli", "config", "scheduler"])
def test_imported_package_is_ours(name: str) -> None:
    module = importlib.import_module(name)
    origin = Path(module.__file__ or "").resolve()
    assert PROJECT_ROOT in origin.parents, f"{name} resolved to {origin}, not inside {PROJECT_ROOT}"


def test_spiders_never_import_the_classifier() -> None:
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "spiders").rglob("*.py")
        if "import classify" in path.read_text() or "from classify" in path.read_text()
        or "import torch" in path.read_text()
    ]
    assert offenders == []
