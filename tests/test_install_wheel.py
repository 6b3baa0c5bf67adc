"""A wheel install crawls from any folder with the user's ``--config`` (issue 12)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_sites import ALLOW_ALL, make_site
from tests.review_sites import appstore_entry, appstore_page

pytestmark = pytest.mark.slow
APP_ID = "4242"


def _site(root: Path) -> Path:
    now = datetime.now(UTC)
    entries = [appstore_entry(n, APP_ID, when=now - timedelta(days=days)) for n, days in enumerate((1, 3, 5, 50, 60))]
    route = f"/us/rss/customerreviews/page=1/id={APP_ID}/sortby=mostrecent/json"
    return make_site(root, {route: appstore_page(entries, APP_ID, "us", 1, 1)}, robots=ALLOW_ALL)


def _config(path: Path, base_url: str, extra_crawl: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'''
database_url = "sqlite:///data/voxpop.db"
[crawl]
contact_url = "https://example.invalid/wheel-install-test"
backfill_days = 30
{extra_crawl}
[[products]]
slug = "notely"
  [[products.sources]]
  name = "appstore"
  spider = "appstore"
  params = {{ app_id = "{APP_ID}", countries = ["us"], base_url = "{base_url}" }}
  timeout_s = 120
''', encoding="utf-8")
    return path


def _voxpop(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXPOP_", "PYTHONPATH", "SCRAPY_"))}
    return subprocess.run([str(bin_dir / "voxpop"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_wheel_install_crawls_from_another_folder_with_the_given_config(
        installed_bin: Path, tmp_path: Path, site_server: Any) -> None:
    site = site_server(_site(tmp_path / "site"))
    config = _config(tmp_path / "settings" / "mine.toml", site.base_url)
    work = tmp_path / "elsewhere"
    (work / "data").mkdir(parents=True)
    (work / "spiders").mkdir()  # a user's own folder of that name must not shadow ours
    (work / "spiders" / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")

    done = _voxpop(installed_bin, work, "--config", str(config), "crawl", "--product", "notely", "--json")

    assert done.returncode == 0, done.stderr[-3000:]
    database = work / "data" / "voxpop.db"  # relative to the folder voxpop ran in, as the user wrote it
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
    assert stored == 3  # backfill_days = 30 from the user's file: the 50- and 60-day-old reviews are skipped
    assert "crawl notely/appstore: " in done.stderr and "3 new" in done.stderr  # progress streamed from the child
    agents = {hit["user_agent"] for hit in site.hit_records() if hit["target"] != "/__hits__"}
    assert agents == {"voxpop/0.1 (+https://example.invalid/wheel-install-test)"}
    code = "import spiders, voxpop; print(spiders.__file__); print(voxpop.__file__)"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a checkout on the path is not the wheel
    where = subprocess.run([str(installed_bin / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True,
                           check=True, env=clean).stdout
    assert str(installed_bin.parent) in where and "site-packages" in where


def test_wheel_install_passes_redis_url_and_reports_the_childs_error(
        installed_bin: Path, tmp_path: Path, site_server: Any) -> None:
    site = site_server(_site(tmp_path / "site"))
    config = _config(tmp_path / "mine.toml", site.base_url, extra_crawl='redis_url = "redis://127.0.0.1:9/0"')
    work = tmp_path / "elsewhere"
    (work / "data").mkdir(parents=True)

    done = _voxpop(installed_bin, work, "--config", str(config), "crawl", "--product", "notely")

    assert done.returncode == 2
    # The child tried the configured Redis (port 9 refuses): its own error line, not only an exit code.
    assert "crawl notely/appstore failed" in done.stderr
    assert "127.0.0.1:9" in done.stderr or "Connection refused" in done.stderr, done.stderr[-2000:]
