"""Load and validate ``voxpop.toml`` into frozen dataclasses.

Errors name the file, the key and what was expected. Secrets never live in the file:
the config names environment variables and :func:`secret` reads them when needed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from voxpop.core.errors import ConfigError  # noqa: F401 - re-exported: callers catch it from here

DEFAULT_DATABASE_URL = "sqlite:///voxpop.db"
DEFAULT_CONFIG_PATH = "voxpop.toml"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
KNOWN_SPIDERS = (
    "appstore", "googleplay", "steam", "jsonld", "discourse",
    "reddit", "hackernews", "stackexchange", "github", "mastodon", "bluesky",
)


@dataclass(frozen=True)
class JobSpec:
    """A job to be done that customers hire a product for."""

    id: str
    statement: str
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    """One source of a product: a spider and its arguments."""

    name: str
    spider: str
    params: Mapping[str, str] = field(default_factory=dict)
    every_minutes: int = 360
    timeout_s: int = 1800


@dataclass(frozen=True)
class ProductSpec:
    """A product we listen to, ours or a competitor's."""

    slug: str
    name: str
    own: bool = False
    sources: tuple[SourceSpec, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    recipients: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # names that link a community post to this product


@dataclass(frozen=True)
class SmtpSpec:
    """Where alert and report mail goes out."""

    host: str = "127.0.0.1"
    port: int = 25
    security: str = "none"  # none | starttls | ssl
    username: str | None = None
    password_env: str = "VOXPOP_SMTP_PASSWORD"
    sender: str = "voxpop@localhost"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class WebhookSpec:
    """A webhook target: Slack-compatible or generic JSON signed with HMAC-SHA256."""

    name: str
    url: str
    kind: str = "json"  # json | slack
    secret_env: str | None = None
    products: tuple[str, ...] = ()  # empty: every product


@dataclass(frozen=True)
class AlertSpec:
    """Who gets alerts and how sensitive detection is."""

    recipients: tuple[str, ...] = ()
    digest: bool = False
    outbox_dir: str = "outbox"
    max_attempts: int = 5
    retry_base_s: float = 30.0
    sensitivity: float = 0.001  # p-value below which a rise is significant
    min_count: int = 3  # posts in the window before an issue may alert
    cooldown_days: int = 7
    resolve_after_days: int = 14
    join_similarity: float = 0.55  # cosine similarity for a post to join an issue
    window_days: int = 1
    baseline_days: int = 28
    min_volume: int = 20  # product posts in the window before a volume, rating or sentiment alert may fire


@dataclass(frozen=True)
class ReportSpec:
    """A scheduled comparison report for one audience."""

    name: str
    products: tuple[str, ...] = ()  # empty: all products
    recipients: tuple[str, ...] = ()
    since_days: int = 30
    cron: str = "mon 07:00"
    format: str = "html"


@dataclass(frozen=True)
class ScheduleSpec:
    """How often the continuous stages run."""

    classify_every_minutes: int = 5
    detect_every_minutes: int = 60
    deliver_every_minutes: int = 5
    digest_at: str = "08:00"
    timezone: str = "UTC"


@dataclass(frozen=True)
class ClassifySpec:
    """Classifier settings."""

    model_dir: str | None = None  # a local Hugging Face model directory; default: packaged model
    batch_size: int = 32
    max_tokens: int = 128


@dataclass(frozen=True)
class CrawlSpec:
    """Crawl defaults."""

    contact_url: str = "https://github.com/voxpop/voxpop"
    since: date | None = None  # first-crawl backfill window start
    backfill_days: int = 90
    timeout_s: int = 1800
    redis_url: str | None = None  # set to share the crawl frontier through scrapy-redis


@dataclass(frozen=True)
class UiSpec:
    """The dashboard as mail links see it: ``base_url`` (http or https) turns issue ids into links."""

    base_url: str | None = None


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: str | None
    database_url: str = DEFAULT_DATABASE_URL
    products: tuple[ProductSpec, ...] = ()
    smtp: SmtpSpec = SmtpSpec()
    webhooks: tuple[WebhookSpec, ...] = ()
    alerts: AlertSpec = AlertSpec()
    reports: tuple[ReportSpec, ...] = ()
    schedule: ScheduleSpec = ScheduleSpec()
    classify: ClassifySpec = ClassifySpec()
    crawl: CrawlSpec = CrawlSpec()
    ui: UiSpec = UiSpec()

    def product(self, slug: str) -> ProductSpec:
        """The product with this slug, or a :class:`ConfigError` naming the known ones."""
        for product in self.products:
            if product.slug == slug:
                return product
        known = ", ".join(p.slug for p in self.products) or "none configured"
        raise ConfigError(f"{self.path or 'config'}: no product {slug!r} (known: {known})")


def secret(env_name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Read a secret from the environment by the variable name the config gives."""
    if not env_name:
        return None
    return (environ if environ is not None else os.environ).get(env_name) or None


class _Reader:
    """Typed access to one TOML table with errors that name file and key."""

    def __init__(self, path: str, table: Mapping[str, Any], prefix: str) -> None:
        self.path, self.table, self.prefix = path, table, prefix

    def _fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.path}: {self.prefix}{key}: expected {expected}, got {value!r}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any, expected: str) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self._fail(key, expected, value)
        if not isinstance(value, kind):
            raise self._fail(key, expected, value)
        return value

    def text(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if required and key not in self.table:
            raise ConfigError(f"{self.path}: {self.prefix}{key}: required, expected a string")
        return self.get(key, str, default, "a string")

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.get(key, int, default, f"an integer >= {minimum}")
        if value < minimum:
            raise self._fail(key, f"an integer >= {minimum}", value)
        return int(value)

    def number(self, key: str, default: float, *, low: float = 0.0, high: float = float("inf")) -> float:
        value = self.get(key, (int, float), default, f"a number in [{low}, {high}]")
        if not low <= value <= high:
            raise self._fail(key, f"a number in [{low}, {high}]", value)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, bool, default, "true or false"))

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [], "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings", value)
        return tuple(value)

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in options:
            raise self._fail(key, "one of " + ", ".join(options), value)
        return str(value)

    def tables(self, key: str) -> list[Mapping[str, Any]]:
        value = self.get(key, list, [], "an array of tables ([[...]])")
        if not all(isinstance(v, dict) for v in value):
            raise self._fail(key, "an array of tables ([[...]])", value)
        return value

    def sub(self, key: str) -> _Reader:
        value = self.get(key, dict, {}, "a table")
        return _Reader(self.path, value, f"{self.prefix}{key}.")

    def at(self, key: str, index: int, table: Mapping[str, Any]) -> _Reader:
        return _Reader(self.path, table, f"{self.prefix}{key}[{index}].")


def _job(r: _Reader) -> JobSpec:
    return JobSpec(id=r.text("id", required=True), statement=r.text("statement", required=True),
                   examples=r.strings("examples"))


def _source(r: _Reader, crawl: CrawlSpec) -> SourceSpec:
    spider = r.text("spider", required=True)
    if spider not in KNOWN_SPIDERS:
        raise ConfigError(f"{r.path}: {r.prefix}spider: expected one of {', '.join(KNOWN_SPIDERS)}, got {spider!r}")
    params_raw = r.get("params", dict, {}, "a table of spider arguments")
    params = {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in params_raw.items()}
    return SourceSpec(name=r.text("name", spider), spider=spider, params=params,
                      every_minutes=r.integer("every_minutes", 360, minimum=1),
                      timeout_s=r.integer("timeout_s", crawl.timeout_s, minimum=1))


def _product(r: _Reader, crawl: CrawlSpec) -> ProductSpec:
    slug = r.text("slug", required=True)
    if not SLUG_RE.match(slug):
        raise ConfigError(f"{r.path}: {r.prefix}slug: expected lowercase letters, digits, '-' or '_', got {slug!r}")
    sources = tuple(_source(r.at("sources", i, t), crawl) for i, t in enumerate(r.tables("sources")))
    names = [s.name for s in sources]
    if len(names) != len(set(names)):
        raise ConfigError(f"{r.path}: {r.prefix}sources: source names must be unique, got {names}")
    jobs = tuple(_job(r.at("jobs", i, t)) for i, t in enumerate(r.tables("jobs")))
    return ProductSpec(slug=slug, name=r.text("name", slug), own=r.flag("own", False), sources=sources,
                       jobs=jobs, recipients=r.strings("recipients"), keywords=r.strings("keywords"))


def _parse_date(r: _Reader, key: str) -> date | None:
    value = r.table.get(key)
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{r.path}: {r.prefix}{key}: expected a date YYYY-MM-DD, got {value!r}") from None


def _redis_url(crawl: _Reader, env: Mapping[str, str]) -> str | None:
    url = env.get("VOXPOP_REDIS_URL") or crawl.text("redis_url")
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        expected = "a redis://, rediss:// or unix:// URL"
        if env.get("VOXPOP_REDIS_URL"):
            raise ConfigError(f"VOXPOP_REDIS_URL: expected {expected}, got {url!r}")
        raise crawl._fail("redis_url", expected, url)
    return url or None


def parse_config(data: Mapping[str, Any], path: str = "voxpop.toml",
                 environ: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed TOML document.

    ``VOXPOP_DATABASE_URL`` overrides ``database_url`` and ``VOXPOP_REDIS_URL`` overrides
    ``[crawl].redis_url``, so workers on other machines need only those two URLs.
    """
    env = environ if environ is not None else os.environ
    r = _Reader(path, data, "")
    c = r.sub("crawl")
    crawl = CrawlSpec(contact_url=c.text("contact_url", CrawlSpec.contact_url), since=_parse_date(c, "since"),
                      backfill_days=c.integer("backfill_days", 90, minimum=1),
                      timeout_s=c.integer("timeout_s", 1800, minimum=1), redis_url=_redis_url(c, env))
    products = tuple(_product(r.at("products", i, t), crawl) for i, t in enumerate(r.tables("products")))
    slugs = [p.slug for p in products]
    if len(slugs) != len(set(slugs)):
        raise ConfigError(f"{path}: products: slugs must be unique, got {slugs}")
    s = r.sub("smtp")
    smtp = SmtpSpec(host=s.text("host", "127.0.0.1"), port=s.integer("port", 25, minimum=1),
                    security=s.choice("security", "none", ("none", "starttls", "ssl")),
                    username=s.text("username"), password_env=s.text("password_env", "VOXPOP_SMTP_PASSWORD"),
                    sender=s.text("sender", "voxpop@localhost"), timeout_s=s.number("timeout_s", 30.0, low=0.1))
    webhooks = tuple(
        WebhookSpec(name=w.text("name", required=True), url=w.text("url", required=True),
                    kind=w.choice("kind", "json", ("json", "slack")), secret_env=w.text("secret_env"),
                    products=w.strings("products"))
        for w in (r.at("webhooks", i, t) for i, t in enumerate(r.tables("webhooks")))
    )
    a = r.sub("alerts")
    alerts = AlertSpec(
        recipients=a.strings("recipients"), digest=a.flag("digest", False), outbox_dir=a.text("outbox_dir", "outbox"),
        max_attempts=a.integer("max_attempts", 5, minimum=1), retry_base_s=a.number("retry_base_s", 30.0),
        sensitivity=a.number("sensitivity", 0.001, low=1e-12, high=0.5), min_count=a.integer("min_count", 3, minimum=1),
        cooldown_days=a.integer("cooldown_days", 7), resolve_after_days=a.integer("resolve_after_days", 14, minimum=1),
        join_similarity=a.number("join_similarity", 0.55, low=0.0, high=1.0),
        window_days=a.integer("window_days", 1, minimum=1), baseline_days=a.integer("baseline_days", 28, minimum=1),
        min_volume=a.integer("min_volume", 20, minimum=1),
    )
    reports = tuple(
        ReportSpec(name=x.text("name", required=True), products=x.strings("products"),
                   recipients=x.strings("recipients"), since_days=x.integer("since_days", 30, minimum=1),
                   cron=x.text("cron", "mon 07:00"),
                   format=x.choice("format", "html", ("html", "md", "csv", "json")))
        for x in (r.at("reports", i, t) for i, t in enumerate(r.tables("reports")))
    )
    for report in reports:
        unknown = set(report.products) - set(slugs)
        if unknown:
            raise ConfigError(f"{path}: reports: report {report.name!r} names unknown products {sorted(unknown)}")
    sc = r.sub("schedule")
    schedule = ScheduleSpec(classify_every_minutes=sc.integer("classify_every_minutes", 5, minimum=1),
                            detect_every_minutes=sc.integer("detect_every_minutes", 60, minimum=1),
                            deliver_every_minutes=sc.integer("deliver_every_minutes", 5, minimum=1),
                            digest_at=sc.text("digest_at", "08:00"), timezone=sc.text("timezone", "UTC"))
    k = r.sub("classify")
    classify = ClassifySpec(model_dir=k.text("model_dir"), batch_size=k.integer("batch_size", 32, minimum=1),
                            max_tokens=k.integer("max_tokens", 128, minimum=8))
    u = r.sub("ui")
    base_url = u.text("base_url")
    if base_url is not None and not str(base_url).lower().startswith(("http://", "https://")):
        raise u._fail("base_url", "an http(s) URL", base_url)
    database_url = env.get("VOXPOP_DATABASE_URL") or r.text("database_url", DEFAULT_DATABASE_URL)
    return Config(path=path, database_url=database_url, products=products, smtp=smtp, webhooks=webhooks,
                  alerts=alerts, reports=reports, schedule=schedule, classify=classify, crawl=crawl,
                  ui=UiSpec(base_url=base_url))


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = False,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file.

    Args:
        path: the file; default ``$VOXPOP_CONFIG`` or ``voxpop.toml`` in the working directory.
        required: raise when the file does not exist (otherwise defaults are used).
        environ: environment to read overrides from (default ``os.environ``).
    """
    env = environ if environ is not None else os.environ
    chosen = Path(path or env.get("VOXPOP_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.exists():
        if required or path is not None:
            raise ConfigError(f"{chosen}: config file not found (copy voxpop.example.toml to start)")
        return parse_config({}, str(chosen), env)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{chosen}: cannot read: {exc.strerror}") from None
    return parse_config(data, str(chosen), env)
