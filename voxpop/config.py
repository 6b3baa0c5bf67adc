"""Load and validate ``voxpop.toml`` into frozen dataclasses.

Errors name the file, the key and what was expected. Secrets never live in the file:
the config names environment variables and :func:`secret` reads them when needed.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from voxpop.core.errors import ConfigError  # noqa: F401 - re-exported: callers catch it from here
from voxpop.core.spider_args import arguments as spider_arguments
from voxpop.core.text import display_name

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
    # Issue 26: the steps of the customer's process (job map); empty means classify.steps.DEFAULT_STEPS.
    steps: tuple[JobSpec, ...] = ()
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
    allow_plaintext_auth: bool = False  # send the password without TLS (a trusted local relay only)


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
    # Detection thresholds: these are the only defaults (alerts.detect.Params and the parser read them here).
    sensitivity: float = 0.001  # p-value below which a rise is significant (before the FDR step)
    fdr: float = 0.05  # false-discovery rate across the clusters tested on one day or in one version
    min_count: int = 3  # posts in the window before an issue may alert
    cooldown_days: int = 7
    resolve_after_days: int = 14
    join_similarity: float = 0.55  # cosine similarity for a post to join an issue
    merge_similarity: float = 0.8  # centroid cosine at which two issues that drifted together merge
    match_similarity: float = 0.55  # centroid cosine at which two products' issues are the same problem
    window_days: int = 1
    baseline_days: int = 28
    min_volume: int = 20  # product posts in the window before a volume, rating or sentiment alert may fire
    rating_drop: float = 0.5  # stars: smallest drop of the mean rating worth an alert
    sentiment_drop: float = 0.10  # smallest rise of the negative share worth an alert
    volume_ratio: float = 2.0  # smallest window/baseline volume ratio worth an alert
    min_baseline_days: int = 7  # product history needed before anything may fire
    version_min_posts: int = 30  # product posts in a release before its version window is tested
    # p-value below which a release's rise is significant (after its own FDR step). A release is looked
    # at once per doubling of its posts, and its p-values allow for the swing of topic shares between
    # releases (beta-binomial), so this cut can be looser than the daily one.
    version_sensitivity: float = 0.01
    version_fdr: float = 0.1  # false-discovery rate across the issues tested in one release look
    release_top: int = 3  # most issues alerted in one release (discoveries first, then watch notes)
    # p-value below which an issue that grew with a release, without being a discovery, is still sent as
    # a watch note ("issue_watch", marked as not significant; it starts no cool-down); 0 turns them off.
    release_watch: float = 0.2
    baseline_versions: int = 3  # earlier releases a version window is compared with
    # The release watch (alerts.release_watch): a ranked account per release, no false-discovery gate.
    release_watch_min_posts: int = 10  # posts a release (or a pool of small ones) needs before it is watched
    release_watch_top: int = 3  # topics kept per release


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

    def name(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        """A name shown to people (product, source, webhook, report): one line, no invisible or bidi controls."""
        value = self.text(key, default, required=required)
        if value is None:
            return None
        shown = display_name(value)
        if not shown:
            raise self._fail(key, "a name with visible characters", value)
        return shown

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

    def known(self, spec: type, *, skip: Iterable[str] = ()) -> _Reader:
        """Refuse keys that are not fields of the dataclass ``spec`` (its fields are the only list of keys)."""
        allowed = [f.name for f in fields(spec) if f.name not in set(skip)]
        self.only(allowed)
        return self

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse any key outside ``allowed``, suggesting the closest allowed one."""
        allowed = list(allowed)
        for key, value in self.table.items():
            if key not in allowed:
                raise unknown_key(self.path, self.prefix, key, allowed, is_table=isinstance(value, dict | list)
                                  and bool(value) and all(isinstance(v, dict) for v in _as_list(value)))

    def url(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.text(key, default, required=required)
        if value is not None:
            check_http_url(value, f"{self.path}: {self.prefix}{key}")
        return value

    def address(self, key: str, default: str) -> str:
        """One address, optionally with a display name: ``ops@example.com`` or ``Ops <ops@example.com>``."""
        value = self.text(key, default)
        where = f"{self.path}: {self.prefix}{key}"
        name, addr = parseaddr(value)
        if "<" not in value:
            check_address(value, where)
        elif not addr or any(ord(c) < 32 or c in "<>,;\"" for c in name) or value.strip() != f"{name} <{addr}>".strip():
            raise ConfigError(f"{where}: expected an email address like Name <ops@example.com>, got {value!r}")
        else:
            check_address(addr, where)
        return str(value)

    def addresses(self, key: str) -> tuple[str, ...]:
        values = self.strings(key)
        for i, value in enumerate(values):
            check_address(value, f"{self.path}: {self.prefix}{key}[{i}]")
        return values


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def unknown_key(path: str, prefix: str, key: str, allowed: Iterable[str], *, is_table: bool = False) -> ConfigError:
    """``unknown key 'databse_url' (did you mean 'database_url'?)``, for keys and tables alike."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    what = f"unknown table [{prefix}{key}]" if is_table else f"{prefix}{key}: unknown key"
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(allowed)) or 'none'})"
    return ConfigError(f"{path}: {what}{hint}")


def check_http_url(value: str, where: str) -> str:
    """``value`` when it is an http(s) URL with a host; a :class:`ConfigError` naming ``where`` otherwise."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(ord(c) < 33 for c in value.strip()):
        raise ConfigError(f"{where}: expected an http:// or https:// URL with a host, got {value!r}")
    return value


_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def check_address(value: str, where: str) -> str:
    """``value`` when it is one plain email address (``name@domain``); a :class:`ConfigError` otherwise."""
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.match(value):
        raise ConfigError(f"{where}: expected an email address like ops@example.com, got {value!r}")
    return value


def _job(r: _Reader) -> JobSpec:
    r.known(JobSpec)
    return JobSpec(id=r.text("id", required=True), statement=r.text("statement", required=True),
                   examples=r.strings("examples"))


def _source(r: _Reader, crawl: CrawlSpec) -> SourceSpec:
    r.known(SourceSpec)
    spider = r.text("spider", required=True)
    if spider not in KNOWN_SPIDERS:
        close = difflib.get_close_matches(spider, KNOWN_SPIDERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{r.path}: {r.prefix}spider: expected one of {', '.join(KNOWN_SPIDERS)}, "
                          f"got {spider!r}{hint}")
    params = spider_params(r.sub("params"), spider)
    return SourceSpec(name=r.name("name", spider), spider=spider, params=params,
                      every_minutes=r.integer("every_minutes", SourceSpec.every_minutes, minimum=1),
                      timeout_s=r.integer("timeout_s", crawl.timeout_s, minimum=1))


_FLAGS = {"1": "1", "true": "1", "yes": "1", "0": "0", "false": "0", "no": "0"}


def spider_params(r: _Reader, spider: str) -> dict[str, str]:
    """A source's ``params`` checked against what ``spider`` takes (names, kinds, required), as ``-a`` strings."""
    takes = spider_arguments(spider)
    r.only(takes)
    out: dict[str, str] = {}
    for name, arg in takes.items():
        where = f"{r.path}: {r.prefix}{name}"
        if name not in r.table:
            if arg.required:
                raise ConfigError(f"{where}: required by the {spider} spider ({_expected(arg.kind)})")
            continue
        out[name] = _param_value(r.table[name], arg.kind, where)
    return out


def _expected(kind: str) -> str:
    return {"text": "a non-empty string", "int": "a whole number >= 1", "number": "a number > 0",
            "flag": "true or false", "list": "a list of strings", "url": "an http:// or https:// URL",
            "urls": "a list of http(s) URLs or paths"}[kind]


def _param_value(value: Any, kind: str, where: str) -> str:
    def fail() -> ConfigError:
        return ConfigError(f"{where}: expected {_expected(kind)}, got {value!r}")

    if kind in ("list", "urls"):
        items = value if isinstance(value, list) else value.split(",") if isinstance(value, str) else None
        if items is None or not all(isinstance(v, str) for v in items):
            raise fail()
        items = [v.strip() for v in items if v.strip()]
        if not items or any("," in v for v in items):
            raise fail()
        if kind == "urls":
            for item in items:
                if "://" in item:
                    check_http_url(item, where)
        return ",".join(items)
    if kind == "flag":
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, str) and value.strip().lower() in _FLAGS:
            return _FLAGS[value.strip().lower()]
        raise fail()
    if kind in ("int", "number"):
        if isinstance(value, bool):
            raise fail()
        try:
            number = int(value) if kind == "int" and not isinstance(value, float) else float(value)
        except (TypeError, ValueError):
            raise fail() from None
        if number <= 0 or (kind == "int" and isinstance(value, float)):
            raise fail()
        return str(number)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise fail()
    if kind == "url":
        check_http_url(str(value), where)
    return str(value).strip()


def _product(r: _Reader, crawl: CrawlSpec) -> ProductSpec:
    r.known(ProductSpec)
    slug = r.text("slug", required=True)
    if not SLUG_RE.match(slug):
        raise ConfigError(f"{r.path}: {r.prefix}slug: expected lowercase letters, digits, '-' or '_', got {slug!r}")
    sources = tuple(_source(r.at("sources", i, t), crawl) for i, t in enumerate(r.tables("sources")))
    names = [s.name for s in sources]
    if len(names) != len(set(names)):
        raise ConfigError(f"{r.path}: {r.prefix}sources: source names must be unique, got {names}")
    jobs = tuple(_job(r.at("jobs", i, t)) for i, t in enumerate(r.tables("jobs")))
    steps = _steps(r)
    return ProductSpec(slug=slug, name=r.name("name", slug), own=r.flag("own", ProductSpec.own),
                       sources=sources, jobs=jobs, recipients=r.addresses("recipients"), keywords=r.strings("keywords"),
                       steps=steps)


STEP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _steps(r: _Reader) -> tuple[JobSpec, ...]:
    """``[[products.steps]]``: like jobs (id, statement, examples); ids short slugs, each once."""
    steps = tuple(_job(r.at("steps", i, t)) for i, t in enumerate(r.tables("steps")))
    seen: set[str] = set()
    for i, step in enumerate(steps):
        if not STEP_ID_RE.match(step.id):
            raise ConfigError(f"{r.path}: {r.prefix}steps[{i}].id: expected a short slug (lowercase letters, digits, "
                              f"'-' or '_', at most 40), got {step.id!r}")
        if step.id in seen:
            raise ConfigError(f"{r.path}: {r.prefix}steps[{i}].id: {step.id!r} is repeated")
        seen.add(step.id)
    return steps


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


def _detection(a: _Reader) -> dict[str, Any]:
    """The ``[alerts]`` detection thresholds (defaults from :class:`AlertSpec`, the one place they live)."""
    d = AlertSpec
    return {
        "sensitivity": a.number("sensitivity", d.sensitivity, low=1e-12, high=0.5),
        "fdr": a.number("fdr", d.fdr, low=1e-9, high=1.0),
        "min_count": a.integer("min_count", d.min_count, minimum=1),
        "cooldown_days": a.integer("cooldown_days", d.cooldown_days),
        "resolve_after_days": a.integer("resolve_after_days", d.resolve_after_days, minimum=1),
        "join_similarity": a.number("join_similarity", d.join_similarity, low=0.0, high=1.0),
        "merge_similarity": a.number("merge_similarity", d.merge_similarity, low=0.0, high=1.0),
        "match_similarity": a.number("match_similarity", d.match_similarity, low=0.0, high=1.0),
        "window_days": a.integer("window_days", d.window_days, minimum=1),
        "baseline_days": a.integer("baseline_days", d.baseline_days, minimum=1),
        "min_volume": a.integer("min_volume", d.min_volume, minimum=1),
        "rating_drop": a.number("rating_drop", d.rating_drop, low=0.0, high=5.0),
        "sentiment_drop": a.number("sentiment_drop", d.sentiment_drop, low=0.0, high=1.0),
        "volume_ratio": a.number("volume_ratio", d.volume_ratio, low=1.0),
        "min_baseline_days": a.integer("min_baseline_days", d.min_baseline_days, minimum=0),
        "version_min_posts": a.integer("version_min_posts", d.version_min_posts, minimum=1),
        "version_sensitivity": a.number("version_sensitivity", d.version_sensitivity, low=1e-12, high=0.5),
        "version_fdr": a.number("version_fdr", d.version_fdr, low=1e-9, high=1.0),
        "release_top": a.integer("release_top", d.release_top, minimum=1),
        "release_watch": a.number("release_watch", d.release_watch, low=0.0, high=1.0),
        "baseline_versions": a.integer("baseline_versions", d.baseline_versions, minimum=1),
        "release_watch_min_posts": a.integer("release_watch_min_posts", d.release_watch_min_posts, minimum=1),
        "release_watch_top": a.integer("release_watch_top", d.release_watch_top, minimum=1),
    }


def parse_config(data: Mapping[str, Any], path: str = "voxpop.toml",
                 environ: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed TOML document.

    Every table and key must be one the dataclasses above define (a misspelt one is an error with a
    "did you mean" hint); URLs must be http(s); addresses, cron lines and the timezone are checked.
    ``VOXPOP_DATABASE_URL`` overrides ``database_url`` and ``VOXPOP_REDIS_URL`` overrides
    ``[crawl].redis_url``, so workers on other machines need only those two URLs.
    """
    env = environ if environ is not None else os.environ
    r = _Reader(path, data, "")
    r.known(Config, skip=("path",))
    c = r.sub("crawl").known(CrawlSpec)
    crawl = CrawlSpec(contact_url=c.url("contact_url", CrawlSpec.contact_url), since=_parse_date(c, "since"),
                      backfill_days=c.integer("backfill_days", CrawlSpec.backfill_days, minimum=1),
                      timeout_s=c.integer("timeout_s", CrawlSpec.timeout_s, minimum=1), redis_url=_redis_url(c, env))
    products = tuple(_product(r.at("products", i, t), crawl) for i, t in enumerate(r.tables("products")))
    slugs = [p.slug for p in products]
    if len(slugs) != len(set(slugs)):
        raise ConfigError(f"{path}: products: slugs must be unique, got {slugs}")
    s = r.sub("smtp").known(SmtpSpec)
    smtp = SmtpSpec(host=s.text("host", SmtpSpec.host), port=s.integer("port", SmtpSpec.port, minimum=1),
                    security=s.choice("security", SmtpSpec.security, ("none", "starttls", "ssl")),
                    username=s.text("username"), password_env=s.text("password_env", SmtpSpec.password_env),
                    sender=s.address("sender", SmtpSpec.sender),
                    timeout_s=s.number("timeout_s", SmtpSpec.timeout_s, low=0.1),
                    allow_plaintext_auth=s.flag("allow_plaintext_auth", SmtpSpec.allow_plaintext_auth))
    if smtp.username and smtp.security == "none" and not smtp.allow_plaintext_auth:
        raise ConfigError(f"{path}: smtp.username: the password would cross the network in clear text; set "
                          "smtp.security = \"starttls\" or \"ssl\" (or smtp.allow_plaintext_auth = true)")
    webhooks = tuple(
        WebhookSpec(name=w.name("name", required=True), url=w.url("url", required=True),
                    kind=w.choice("kind", WebhookSpec.kind, ("json", "slack")), secret_env=w.text("secret_env"),
                    products=w.strings("products"))
        for w in (r.at("webhooks", i, t).known(WebhookSpec) for i, t in enumerate(r.tables("webhooks")))
    )
    a = r.sub("alerts").known(AlertSpec)
    alerts = AlertSpec(
        recipients=a.addresses("recipients"), digest=a.flag("digest", AlertSpec.digest),
        outbox_dir=a.text("outbox_dir", AlertSpec.outbox_dir),
        max_attempts=a.integer("max_attempts", AlertSpec.max_attempts, minimum=1),
        retry_base_s=a.number("retry_base_s", AlertSpec.retry_base_s),
        **_detection(a),
    )
    sc = r.sub("schedule").known(ScheduleSpec)
    default = ScheduleSpec()
    schedule = ScheduleSpec(
        classify_every_minutes=sc.integer("classify_every_minutes", default.classify_every_minutes, minimum=1),
        detect_every_minutes=sc.integer("detect_every_minutes", default.detect_every_minutes, minimum=1),
        deliver_every_minutes=sc.integer("deliver_every_minutes", default.deliver_every_minutes, minimum=1),
        digest_at=sc.text("digest_at", default.digest_at), timezone=sc.text("timezone", default.timezone))
    check_timezone(schedule.timezone, f"{path}: schedule.timezone")
    parse_clock(schedule.digest_at, f"{path}: schedule.digest_at")
    reports = tuple(
        ReportSpec(name=x.name("name", required=True), products=x.strings("products"),
                   recipients=x.addresses("recipients"),
                   since_days=x.integer("since_days", ReportSpec.since_days, minimum=1),
                   cron=x.text("cron", ReportSpec.cron),
                   format=x.choice("format", ReportSpec.format, ("html", "md", "csv", "json")))
        for x in (r.at("reports", i, t).known(ReportSpec) for i, t in enumerate(r.tables("reports")))
    )
    for i, report in enumerate(reports):
        unknown = set(report.products) - set(slugs)
        if unknown:
            raise ConfigError(f"{path}: reports: report {report.name!r} names unknown products {sorted(unknown)}")
        cron_trigger(report.cron, schedule.timezone, f"{path}: reports[{i}].cron")
    k = r.sub("classify").known(ClassifySpec)
    classify = ClassifySpec(model_dir=k.text("model_dir"),
                            batch_size=k.integer("batch_size", ClassifySpec.batch_size, minimum=1),
                            max_tokens=k.integer("max_tokens", ClassifySpec.max_tokens, minimum=8))
    u = r.sub("ui").known(UiSpec)
    base_url = u.url("base_url")
    if env.get("VOXPOP_DATABASE_URL"):
        database_url = check_database_url(env["VOXPOP_DATABASE_URL"], "VOXPOP_DATABASE_URL")
    else:
        database_url = check_database_url(r.text("database_url", DEFAULT_DATABASE_URL), f"{path}: database_url")
    return Config(path=path, database_url=database_url, products=products, smtp=smtp, webhooks=webhooks,
                  alerts=alerts, reports=reports, schedule=schedule, classify=classify, crawl=crawl,
                  ui=UiSpec(base_url=base_url))


def check_database_url(url: str, where: str) -> str:
    """A SQLite or PostgreSQL SQLAlchemy URL; a :class:`ConfigError` naming the key or variable otherwise."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        parsed = None
    if parsed is None or parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{where}: expected a database URL like sqlite:///voxpop.db or "
                          f"postgresql+psycopg://user@host/db, got {_mask(url)!r}")
    return url


def _mask(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def parse_clock(value: str, where: str) -> tuple[int, int]:
    """``"07:00"`` as (hour, minute); a :class:`ConfigError` naming ``where`` otherwise."""
    try:
        hour, minute = (int(part) for part in value.split(":"))
    except ValueError:
        raise ConfigError(f"{where}: expected a time HH:MM, got {value!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{where}: expected a time HH:MM, got {value!r}")
    return hour, minute


def check_timezone(name: str, where: str) -> str:
    """``name`` if it is a known IANA zone, else a :class:`ConfigError` naming ``where``."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (LookupError, ValueError) as exc:
        raise ConfigError(f"{where}: expected an IANA zone like 'Europe/Berlin', got {name!r} "
                          f"({exc.__class__.__name__})") from None
    return name


def cron_trigger(expr: str, timezone: str, where: str) -> Any:
    """A CronTrigger from ``"mon 07:00"``, ``"mon,thu 07:00"``, ``"daily 07:00"``, ``"07:00"`` or crontab."""
    from apscheduler.triggers.cron import CronTrigger

    parts = expr.split()
    try:
        if len(parts) == 5:
            return CronTrigger.from_crontab(expr, timezone=timezone)
        if len(parts) == 1:
            days, clock = "*", parts[0]
        elif len(parts) == 2:
            days, clock = parts
        else:
            raise ValueError(expr)
        hour, minute = parse_clock(clock, where)
        days = "*" if days.lower() in ("daily", "*", "every") else days.lower()
        return CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=timezone)
    except ConfigError:
        raise
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"{where}: expected e.g. 'mon 07:00', '07:00' or a crontab line, got {expr!r} "
                          f"({exc})") from None


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
            raise ConfigError(f"{chosen.absolute()}: config file not found (copy voxpop.example.toml to start, "
                              "or pass --config / set VOXPOP_CONFIG)")
        return parse_config({}, str(chosen), env)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{chosen}: cannot read: {exc.strerror}") from None
    return parse_config(data, str(chosen), env)
