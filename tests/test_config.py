"""Config loading: defaults, validation errors that name file and key, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxpop.config import ConfigError, load_config, parse_config, secret

EXAMPLE = Path(__file__).resolve().parent.parent / "voxpop.example.toml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.products, "the example should show at least one product"
    own = [p for p in config.products if p.own]
    assert len(own) == 1
    assert all(s.spider for p in config.products for s in p.sources)
    assert any(p.jobs for p in config.products)


def test_missing_default_file_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert config.database_url == "sqlite:///voxpop.db"
    assert config.products == ()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_database_url_env_overrides_file() -> None:
    config = parse_config({"database_url": "sqlite:///a.db"}, environ={"VOXPOP_DATABASE_URL": "sqlite:///b.db"})
    assert config.database_url == "sqlite:///b.db"


def test_redis_url_env_overrides_file_and_is_checked() -> None:
    data = {"crawl": {"redis_url": "redis://file:6379/0"}}
    assert parse_config(data, environ={}).crawl.redis_url == "redis://file:6379/0"
    assert parse_config(data, environ={"VOXPOP_REDIS_URL": "redis://env:6379/1"}).crawl.redis_url == "redis://env:6379/1"
    assert parse_config({}, environ={}).crawl.redis_url is None
    with pytest.raises(ConfigError, match=r"^VOXPOP_REDIS_URL: expected a redis://"):
        parse_config({}, environ={"VOXPOP_REDIS_URL": "localhost:6379"})


def test_release_thresholds_reach_the_detector() -> None:
    from alerts.detect import Params

    config = parse_config({"alerts": {"version_fdr": 0.2, "release_top": 5}}, environ={})
    params = Params.from_spec(config.alerts)
    assert (params.version_fdr, params.release_top) == (0.2, 5)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"products": [{"name": "x"}]}, r"products\[0\]\.slug: required"),
        ({"products": [{"slug": "Bad Slug"}]}, r"products\[0\]\.slug: expected lowercase"),
        ({"products": [{"slug": "a", "sources": [{"spider": "myspace"}]}]}, r"products\[0\]\.sources\[0\]\.spider"),
        ({"smtp": {"port": "25"}}, r"smtp\.port: expected an integer"),
        ({"smtp": {"security": "tls"}}, r"smtp\.security: expected one of none, starttls, ssl"),
        ({"alerts": {"sensitivity": 2}}, r"alerts\.sensitivity: expected a number"),
        ({"alerts": {"version_fdr": 0}}, r"alerts\.version_fdr: expected a number"),
        ({"alerts": {"release_top": 0}}, r"alerts\.release_top: expected an integer"),
        ({"products": [{"slug": "a"}, {"slug": "a"}]}, r"slugs must be unique"),
        ({"reports": [{"name": "weekly", "products": ["ghost"]}]}, r"unknown products \['ghost'\]"),
        ({"crawl": {"redis_url": "http://cache:6379"}}, r"crawl\.redis_url: expected a redis://"),
    ],
)
def test_invalid_config_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(data, "cfg.toml", environ={})
    assert str(info.value).startswith("cfg.toml: ")


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "voxpop.toml"
    path.write_text("[products\nslug = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_secrets_come_from_the_environment_only() -> None:
    config = parse_config({"smtp": {"password_env": "MY_SMTP_PW"}}, environ={})
    assert secret(config.smtp.password_env, {"MY_SMTP_PW": "s3cret"}) == "s3cret"
    assert secret(config.smtp.password_env, {}) is None
