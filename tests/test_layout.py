"""The package layout: the wheel's top-level names, and imports that only point down the layers."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.layering import cycles, import_graph, upward_imports

CARD_NAMES = {"spiders", "classify", "store", "alerts", "scheduler.py", "voxpop"}


def test_wheel_installs_at_most_six_top_level_names(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == CARD_NAMES
    assert len(top) <= 6


def test_wheel_carries_data_and_console_script(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    for needed in ("alerts/templates/alert.html", "classify/model/heads.npz", "store/migrations/script.py.mako",
                   "store/migrations/env.py", "voxpop/core/text.py", "voxpop/demo/site.py", "voxpop/__main__.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "voxpop = voxpop.cli:main" in archive.read(entry_points).decode()


def test_imports_point_down_the_layers_without_cycles() -> None:
    graph = import_graph()
    assert "voxpop.core.text" in graph and "alerts.issues" in graph  # the reader found our code
    assert upward_imports(graph) == []
    assert cycles(graph) == []


def test_core_imports_nothing_of_ours() -> None:
    graph = import_graph()
    core = {name: deps for name, deps in graph.items() if name.startswith("voxpop.core")}
    assert core and all(dep.startswith("voxpop.core") for deps in core.values() for dep in deps)


def test_spiders_never_import_the_classifier_or_torch() -> None:
    graph = import_graph()
    assert [(a, b) for a, deps in graph.items() if a.startswith("spiders") for b in deps
            if b.startswith("classify")] == []
    offenders = [str(path.relative_to(PROJECT_ROOT)) for path in (PROJECT_ROOT / "spiders").rglob("*.py")
                 if "import torch" in path.read_text()]
    assert offenders == []


def test_classify_runtime_never_imports_its_training() -> None:
    graph = import_graph()
    runtime = {name: deps for name, deps in graph.items()
               if name.startswith("classify") and not name.startswith("classify.training")}
    assert "classify.pipeline" in runtime and "classify.training.train" in graph
    assert [(a, b) for a, deps in runtime.items() for b in deps if b.startswith("classify.training")] == []


def test_layering_reader_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "__init__.py").write_text("")
    (tmp_path / "store" / "low.py").write_text("def f():\n    from voxpop import operations\n")
    (tmp_path / "voxpop").mkdir()
    (tmp_path / "voxpop" / "__init__.py").write_text("")
    (tmp_path / "voxpop" / "operations.py").write_text("import store.low\n")
    graph = import_graph(tmp_path)
    assert upward_imports(graph) == ["store.low (2) -> voxpop.operations (5)"]
    assert cycles(graph) == [["store.low", "voxpop.operations"]]
