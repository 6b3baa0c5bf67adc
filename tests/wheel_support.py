"""The built wheel and a fresh virtual environment with it installed (for layout and install tests)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


def build_wheel(out: Path) -> Path:
    """``pip wheel . --no-deps`` of a clean copy of this checkout (no stale ``build/``), into ``out``."""
    source = out / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db", "demo-output",
        "bench-output", "outbox"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                           "--quiet", "-w", str(out)], cwd=source, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(source)
    (found,) = out.glob("voxpop-*.whl")
    return found


def install_in_fresh_venv(wheel: Path, where: Path) -> Path:
    """A new venv at ``where`` with ``wheel`` installed (``--no-deps``); returns its ``bin`` folder.

    The dependencies come from the running environment's site-packages, added at the END of the new
    venv's path by a ``.pth`` file, so the wheel's own copy of our packages is what gets imported
    (and the running environment's editable install of a checkout is not).
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    bin_dir = where / "bin"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([str(bin_dir / "python"), "-c", code],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "zz_shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-deps",
                           "--quiet", str(wheel)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return bin_dir


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once per test run."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def installed_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv with the wheel installed (built once per test run)."""
    return install_in_fresh_venv(wheel, tmp_path_factory.mktemp("venv") / "venv")
