"""Chaos: a new user's misspelt, mistyped and missing configuration is refused at load, naming the key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import PROJECT_ROOT
from voxpop.cli import main
from voxpop.config import ConfigError, load_config, parse_config
from voxpop.core.spider_args import SPIDER_ARGS, required

pytestmark = pytest.mark.chaos


def _source(spider: str, **params: Any) -> dict[str, Any]:
    return {"products": [{"slug": "a", "sources": [{"name": "s", "spider": spider, "params": params}]}]}


@pytest.mark.parametrize(("data", "message"), [
    ({"databse_url": "sqlite:///x.db"}, r"databse_url: unknown key \(did you mean 'database_url'\?\)"),
    ({"schedul": {"timezone": "UTC"}}, r"unknown table \[schedul\] \(did you mean 'schedule'\?\)"),
    ({"alerts": {"sensitivty": 0.01}}, r"alerts\.sensitivty: unknown key \(did you mean 'sensitivity'\?\)"),
    ({"products": [{"slug": "a", "sources": [{"spider": "appstore", "every_minuts": 5,
                                              "params": {"app_id": "1"}}]}]},
     r"products\[0\]\.sources\[0\]\.every_minuts: unknown key \(did you mean 'every_minutes'\?\)"),
    ({"products": [{"slug": "a", "recipients": ["not an address"]}]},
     r"products\[0\]\.recipients\[0\]: expected an email"),
    ({"alerts": {"recipients": ["ops@example.com\r\nBcc: x@evil.example"]}},
     r"alerts\.recipients\[0\]: expected an email"),
    ({"reports": [{"name": "w", "cron": "mon 25:00"}]}, r"reports\[0\]\.cron: expected a time"),
    ({"reports": [{"name": "w", "cron": "every tuesday"}]}, r"reports\[0\]\.cron"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, r"schedule\.timezone: expected an IANA zone"),
    ({"schedule": {"digest_at": "8 o'clock"}}, r"schedule\.digest_at: expected a time HH:MM"),
    ({"webhooks": [{"name": "w", "url": "file:///etc/passwd"}]}, r"webhooks\[0\]\.url: expected an http"),
    ({"webhooks": [{"name": "w", "url": "ftp://hooks.example/x"}]}, r"webhooks\[0\]\.url: expected an http"),
    ({"crawl": {"contact_url": "javascript:alert(1)"}}, r"crawl\.contact_url: expected an http"),
    ({"smtp": {"username": "bot", "security": "none"}}, r"smtp\.username: the password would cross the network"),
    ({"smtp": {"sender": "a@b.example\nBcc: c@d.example"}}, r"smtp\.sender: expected an email"),
    ({"database_url": "mysql://root@db/x"}, r"database_url: expected a database URL"),
])
def test_bad_config_is_refused_naming_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "voxpop.toml", environ={})


def test_database_url_from_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^VOXPOP_DATABASE_URL: expected a database URL"):
        parse_config({}, environ={"VOXPOP_DATABASE_URL": "localhost:5432/voxpop"})


def test_plaintext_auth_only_when_asked_for() -> None:
    config = parse_config({"smtp": {"username": "bot", "allow_plaintext_auth": True}}, environ={})
    assert config.smtp.allow_plaintext_auth and config.smtp.username == "bot"
    assert parse_config({"smtp": {"username": "bot", "security": "starttls"}}, environ={}).smtp.username == "bot"


@pytest.mark.parametrize(("spider", "params", "message"), [
    ("discourse", {}, r"sources\[0\]\.params\.base_url: required by the discourse spider"),
    ("appstore", {"app_id": "1", "countries": 7}, r"params\.countries: expected a list of strings"),
    ("appstore", {"app_id": "1", "countrys": ["us"]}, r"params\.countrys: unknown key \(did you mean 'countries'"),
    ("googleplay", {"app_id": "x", "countries": ["us"]}, r"params\.countries: unknown key \(did you mean 'country'"),
    ("appstore", {"app_id": ""}, r"params\.app_id: expected a non-empty string"),
    ("discourse", {"base_url": "file:///var/forum"}, r"params\.base_url: expected an http"),
    ("hackernews", {"query": "x", "hits_per_page": "many"}, r"params\.hits_per_page: expected a whole number"),
    ("github", {"repo": "a/b", "comments": "perhaps"}, r"params\.comments: expected true or false"),
    ("jsonld", {"urls": ["/p/1", "gopher://old.example/p"]}, r"params\.urls: expected an http"),
    ("stackexchange", {"site": "superuser"}, r"params\.query: required by the stackexchange spider"),
])
def test_spider_params_are_checked_against_the_spider(spider: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_source(spider, **params), environ={})


def test_good_spider_params_become_spider_arguments() -> None:
    source = parse_config(_source("appstore", app_id=900, countries=["us", "gb"]), environ={}).products[0].sources[0]
    assert dict(source.params) == {"app_id": "900", "countries": "us,gb"}
    github = parse_config(_source("github", repo="a/b", comments=True), environ={}).products[0].sources[0]
    assert github.params["comments"] == "1"


def test_argument_table_matches_every_spider() -> None:
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    loader = SpiderLoader.from_settings(get_project_settings())
    assert set(loader.list()) == set(SPIDER_ARGS)
    for name in loader.list():
        assert set(loader.load(name).required_args) == set(required(name)), name


def _cli(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"VOXPOP_CONFIG": "", "VOXPOP_DATABASE_URL": ""})


@pytest.mark.parametrize("command", [["init"], ["status"], ["crawl", "--product", "a"], ["detect", "--product", "a"],
                                     ["alert"], ["run"], ["worker", "--role", "detect", "--until-idle"]])
def test_commands_that_need_products_refuse_a_missing_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             command: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = _cli(tmp_path, *command)
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(str(tmp_path / 'voxpop.toml'))}: config file not found", result.output)
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # no database created where the user stands


def test_misspelt_key_stops_the_cli_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "voxpop.toml"
    path.write_text('databse_url = "sqlite:///elsewhere.db"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "voxpop.cli", "--config", str(path), "status"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"voxpop: error: {path}: databse_url: unknown key (did you mean 'database_url'?)"]


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"voxpop \S+\n", result.output)


def test_example_config_still_loads() -> None:
    assert load_config(PROJECT_ROOT / "voxpop.example.toml", environ={}).products
