"""The ``voxpop`` command: a thin layer over ``operations.py``, ``scheduler.py`` and ``workers.py``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import importlib  # noqa: E402

import click  # noqa: E402

from voxpop.core.errors import VoxpopError  # noqa: E402
from voxpop.core.ids import BadNumber, check_day, whole_number  # noqa: E402

if TYPE_CHECKING:
    from store.db import Store
    from voxpop.config import Config

DOMAIN_ERRORS: tuple[type[Exception], ...] = (VoxpopError, FileNotFoundError)
WORKER_ROLES = ("crawl", "classify", "detect", "alert")  # workers.ROLES (tests/test_cli_operations.py checks)


class _LazyModule:
    """A module imported on first attribute access, so a command imports only what it uses (fast start)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


operations: Any = _LazyModule("voxpop.operations")
workers: Any = _LazyModule("voxpop.workers")
scheduler: Any = _LazyModule("scheduler")

# Commands that live in their own modules, imported only when one of them runs (or for --help).
LAZY_COMMANDS = {
    "label": ("voxpop.curation_cli", "label_cmd"), "issue": ("voxpop.curation_cli", "issue_group"),
    "history": ("voxpop.curation_cli", "history_cmd"), "learn": ("voxpop.curation_cli", "learn_cmd"),
    "review": ("voxpop.curation_cli", "review_cmd"), "serve": ("voxpop.web.serve", "serve"),
    "rollup": ("voxpop.rollup_cli", "rollup_cmd"), "themes": ("voxpop.curation_cli", "themes_cmd"),
}


def load_config(path: str | None, required: bool = False) -> Config:
    """``voxpop.config.load_config``, imported when a command first needs the config."""
    from voxpop.config import load_config as load

    return load(path, required=required)


class VoxpopGroup(click.Group):
    """Turns domain errors and database faults into one clear line on stderr and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name]
            found = getattr(importlib.import_module(module), attr)
        return found

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DOMAIN_ERRORS as exc:
            click.echo(f"voxpop: error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if "sqlalchemy" not in sys.modules:  # no database was touched (e.g. --help): not a database fault
                raise
            from store.db import DB_FAULTS, describe_db_fault

            if not isinstance(exc, DB_FAULTS):
                raise
            click.echo(f"voxpop: error: {describe_db_fault(exc)}", err=True)
            sys.exit(1)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("voxpop")
    except PackageNotFoundError:
        return "unknown"


class State:
    """Config and store, loaded lazily once per command."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._store: Store | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def need_config(self) -> Config:
        """The config of a command that works on configured products: a missing file is an error."""
        if self._config is None:
            self._config = load_config(self.config_path, required=True)
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = operations.open_store(self.config)
        return self._store


pass_state = click.make_pass_decorator(State)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print JSON for scripts, or a human line."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        click.echo(human if human is not None else _human(data))


def _human(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{key}:")
                lines.append(_human(value, indent + 1))
            else:
                lines.append(f"{pad}{key}: {value}")
        return "\n".join(lines)
    if isinstance(data, list):
        return "\n".join(f"{pad}- {json.dumps(v, default=str)}" if not isinstance(v, dict) else
                         f"{pad}-\n{_human(v, indent + 1)}" for v in data)
    return f"{pad}{data}"


@contextmanager
def progress_bar(label: str, length: int | None) -> Iterator[Any]:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    with click.progressbar(length=length or 0, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


class CrawlProgress:
    """One progress line on stderr while a crawl child runs: pages, posts stored, drops.

    On a terminal the line is rewritten in place; otherwise each update is its own line.
    """

    def __init__(self, product: str) -> None:
        self.product = product
        self.figures: dict[str, dict[str, int]] = {}
        self.tty = sys.stderr.isatty()
        self.written = False

    def update(self, source: str, figures: dict[str, int]) -> None:
        current = self.figures.setdefault(source, {})
        current.update(figures)
        line = (f"crawl {self.product}/{source}: {current.get('pages', 0)} pages, {current.get('stored', 0)} new, "
                f"{current.get('updated', 0)} updated, {current.get('dropped', 0)} dropped")
        click.echo(f"\r{line}\x1b[K" if self.tty else line, err=True, nl=not self.tty)
        self.written = True

    def close(self) -> None:
        if self.tty and self.written:
            click.echo("", err=True)


def parse_day(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (or a full ISO time) as an aware UTC datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        check_day(parsed.date())
    except ValueError as exc:
        detail = str(exc).removeprefix("date: ") if isinstance(exc, BadNumber) else "expected a date YYYY-MM-DD"
        raise click.BadParameter(f"{detail}, got {value!r}" if "got" not in detail else detail) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def end_of(value: str | None) -> datetime | None:
    """``--as-of``: the end of a day ``YYYY-MM-DD`` (the next midnight, exclusive), or a full ISO time as given."""
    try:
        moment = parse_day(value)
    except click.BadParameter as exc:
        exc.param_hint = "'--as-of'"
        raise
    if moment is None or value is None or "T" in value or " " in value.strip():
        return moment
    return moment + timedelta(days=1) - timedelta(microseconds=1)


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12w``, ``6m`` (30-day months) or a date, as the start of a period."""
    now = now or datetime.now(UTC)
    units = {"d": 1, "w": 7, "m": 30}
    if value and value[-1] in units and value[:-1].isdigit():  # isdigit() takes '²': the parser decides
        try:
            count = whole_number(value[:-1], "--since", lo=0, hi=36_500 // units[value[-1]])
        except BadNumber as exc:
            raise click.BadParameter(str(exc)) from None
        return now - timedelta(days=count * units[value[-1]])
    parsed = parse_day(value)
    assert parsed is not None
    return parsed


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # The installed version is looked up only when asked: importlib.metadata's search of the installed
    # packages would otherwise cost every command ~0.1 s of its start.
    if value and not ctx.resilient_parsing:
        click.echo(f"voxpop {_version()}")
        ctx.exit()


@click.group(cls=VoxpopGroup)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
@click.option("--config", "config_path", envvar="VOXPOP_CONFIG", type=click.Path(dir_okay=False),
              help="Config file (default: ./voxpop.toml; $VOXPOP_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """voxpop: listen to what customers say about your product and its competitors."""
    ctx.obj = State(config_path)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def init(state: State, as_json: bool) -> None:
    """Create or upgrade the database schema and load products from the config."""
    state.need_config()
    store = state.store
    emit({"database": store.engine.url.render_as_string(hide_password=True), "products": len(state.config.products),
          "status": "ready"}, as_json)


@main.command()
@click.option("--product", required=True, help="Product slug.")
@click.option("--source", default=None, help="Only this configured source.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def crawl(state: State, product: str, source: str | None, as_json: bool) -> None:
    """Crawl a product's configured sources (each in its own process)."""
    state.need_config()
    state.store  # noqa: B018 - migrate and sync products before the crawl subprocesses start
    shown = CrawlProgress(product)
    try:
        outcomes = operations.crawl(state.config, product, source, on_progress=shown.update)
    finally:
        shown.close()
    emit(outcomes, as_json)
    failed = [o for o in outcomes if o.get("status") == "failed"]
    for outcome in failed:
        click.echo(f"voxpop: error: crawl {outcome['product']}/{outcome['source']} failed: {outcome.get('reason')}",
                   err=True)
    if failed:
        sys.exit(2)


@main.command("classify")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File mode: classify a JSONL file instead of the store.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path),
              help="File mode: where to write predictions (JSONL).")
@click.option("--jobs", "jobs_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File mode: jobs.toml with [[jobs]] id, statement, examples.")
@click.option("--product", default=None, help="Store mode: only this product.")
@click.option("--limit", type=int, default=None, help="Store mode: stop after this many posts.")
@click.option("--reclassify", is_flag=True, help="Store mode: redo posts classified by an older model.")
@click.option("--lease", "lease_s", type=int, default=600, show_default=True,
              help="Store mode: seconds after which a dead worker's claimed batch is taken over.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def classify_cmd(state: State, input_path: Path | None, output_path: Path | None, jobs_path: Path | None,
                 product: str | None, limit: int | None, reclassify: bool, lease_s: int, as_json: bool) -> None:
    """Classify posts: job to be done, unmet need and sentiment."""
    if input_path is not None:
        if output_path is None:
            raise click.UsageError("--input needs --output")
        total = sum(1 for line in input_path.open(encoding="utf-8", errors="replace") if line.strip())
        with progress_bar("classifying", total) as advance:
            result = operations.classify_file(state.config, input_path, output_path, jobs_path, progress=advance)
        emit(result.as_dict() if hasattr(result, "as_dict") else vars(result), as_json)
        return
    store = state.store
    pending = operations.pending_count(store)
    with progress_bar("classifying", limit or pending) as advance:
        report = operations.classify_pending(store, state.config, limit=limit, reclassify=reclassify,
                                            product=product, lease_s=lease_s, progress=advance)
    emit(report.as_dict(), as_json)


@main.command("import")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--product", required=True, help="Product slug (created if new).")
@click.option("--source", default="import", show_default=True, help="Source name stored with each post.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv"]), default="auto", show_default=True,
              help="auto: CSV for .csv/.tsv files, else JSONL.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def import_cmd(state: State, input_path: Path, product: str, source: str, fmt: str, as_json: bool) -> None:
    """Import posts from JSONL or CSV (id, text, optional title, rating, date, author, url, version).

    A CSV file has a header row; its other columns are kept as segment fields of each post. Exits
    with status 1 when no row could be imported.
    """
    from store.io import import_format

    total = sum(1 for line in input_path.open(encoding="utf-8", errors="replace") if line.strip())
    if import_format(input_path, fmt) == "csv":
        total = max(0, total - 1)  # the header
    with progress_bar("importing", total) as advance:
        report = operations.import_file(state.store, state.config, product, input_path, source=source,
                                        progress=advance, fmt=fmt)
    data = report.as_dict()
    human = (f"imported {report.rows - len(report.bad)} of {report.rows} rows: {report.result.stored} new, "
             f"{report.result.updated} updated, {report.result.unchanged} unchanged, "
             f"{report.result.linked} linked to {product}, {len(report.bad)} skipped")
    for bad in report.bad:
        human += f"\n  line {bad.line}: {bad.reason}"
    emit(data, as_json, human)
    if report.rows == len(report.bad):
        click.echo(f"voxpop: error: no row of {input_path} could be imported"
                   + (" (the file has no rows)" if not report.rows else ""), err=True)
        sys.exit(1)


@main.command("export")
@click.option("--product", required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option("--json", "as_json", is_flag=True, help="A JSON summary on stdout (needs --out).")
@click.option("--revisions", is_flag=True, help="Each post also carries 'revisions': its earlier versions.")
@pass_state
def export_cmd(state: State, product: str, fmt: str, out_path: Path | None, as_json: bool, revisions: bool) -> None:
    """Export a product's posts with their classifications and issue ids."""
    if out_path is None:
        if as_json:
            raise click.UsageError("--json needs --out (the posts themselves go to stdout otherwise)")
        operations.export_posts(state.store, product, fmt, sys.stdout, revisions=revisions)
        return
    with out_path.open("w", encoding="utf-8", newline="") as handle:
        count = operations.export_posts(state.store, product, fmt, handle, revisions=revisions)
    if as_json:
        emit({"product": product, "format": fmt, "path": str(out_path), "posts": count}, True)
    else:
        click.echo(f"wrote {count} posts to {out_path}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, as_json: bool) -> None:
    """Backlogs, last crawls, undelivered alerts and job runs."""
    state.need_config()
    emit(operations.status(state.store, state.config), as_json)


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Where the demo writes its database, emails and report.")
@click.option("--json", "as_json", is_flag=True)
def demo(workdir: Path, as_json: bool) -> None:
    """Run the whole path offline: local site, crawl, classify, detect, email, report."""
    from voxpop.demo.runner import run_demo

    summary = run_demo(workdir, echo=None if as_json else click.echo)
    if as_json:
        emit(summary, True)
    if summary["failed"]:
        stages = "; ".join(f"{f['stage']}: {f['reason']}" for f in summary["failed"])
        click.echo(f"voxpop: error: demo failed at {stages}", err=True)
        sys.exit(1)


@main.command()
@click.option("--product", required=True)
@click.option("--as-of", "as_of", default=None, help="Detect as if today were DATE (no look-ahead).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def detect(state: State, product: str, as_of: str | None, as_json: bool) -> None:
    """Group unmet needs into issues and queue alerts for new or rising ones."""
    state.need_config()
    result = operations.detect_product(state.store, state.config, product, as_of=parse_day(as_of))
    if "skipped" in result:
        click.echo(f"voxpop: {result['skipped']}; nothing done", err=True)
        sys.exit(3)
    emit(result["report"], as_json)


@main.command()
@click.option("--product", required=True)
@click.option("--from", "start", required=True, help="First day YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def backtest(state: State, product: str, start: str, end: str, as_json: bool) -> None:
    """Replay history day by day and print the alerts that would have fired (nothing is sent)."""
    state.need_config()
    first, last = parse_day(start), parse_day(end)
    assert first is not None and last is not None  # both options are required
    emit(operations.backtest(state.store, state.config, product, first, last), as_json)


@main.command()
@click.option("--product", required=True)
@click.option("--version", "version", default=None, help="Only this release (or the small releases pooled with it).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def releases(state: State, product: str, version: str | None, as_json: bool) -> None:
    """The release watch: what each release changed in what customers say (ranked; not an alarm)."""
    from alerts.release_watch import as_text

    state.need_config()
    found = operations.releases(state.store, state.config, product, version)
    emit(found, as_json, None if as_json else as_text(found))


@main.command("issues")
@click.option("--product", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def issues_cmd(state: State, product: str, as_json: bool) -> None:
    """List a product's issues with state, size and daily counts."""
    operations.product_ids(state.store, [product])  # an unknown product is one clear error line
    found = operations.list_issues(state.store, product)
    if not found and not as_json:
        click.echo(f"no issues for {product} yet (run `voxpop detect --product {product}` after classifying)")
        return
    emit(found, as_json)


@main.command()
@click.option("--digest", is_flag=True, help="One message per recipient for all pending alerts.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def alert(state: State, digest: bool, as_json: bool) -> None:
    """Deliver pending alerts (email, webhooks), retrying failures with backoff."""
    state.need_config()
    result = operations.deliver_alerts(state.store, state.config, digest=digest or None)  # None: the config decides
    if "skipped" in result:
        click.echo(f"voxpop: {result['skipped']}; nothing sent", err=True)
        sys.exit(3)
    emit(result["delivered"], as_json)


@main.command()
@click.option("--products", default=None, help="Comma-separated product slugs.")
@click.option("--all", "all_products", is_flag=True, help="Every product in the store.")
@click.option("--since", default="30d", show_default=True, help="30d, 12w or a date.")
@click.option("--until", default=None, help="End date (default: now; with --as-of, the end of that day).")
@click.option("--as-of", "as_of", default=None, metavar="DATE",
              help="The posts as they stood at the end of DATE: each post's text, title and rating then, posts "
                   "first seen later left out (read from the posts, not the rollups, so slower).")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "csv", "json"]), default="html", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), required=True,
              help="The file to write, or - for stdout.")
@click.option("--email", is_flag=True, help="Also send it to the configured recipients (exit 1 when that fails).")
@pass_state
def report(state: State, products: str | None, all_products: bool, since: str, until: str | None, as_of: str | None,
           fmt: str, out_path: Path, email: bool) -> None:
    """Write a competitor comparison report."""
    if not products and not all_products:
        raise click.UsageError("give --products A,B or --all")
    slugs = None if all_products else [p.strip() for p in (products or "").split(",") if p.strip()]
    moment = end_of(as_of)
    end = parse_day(until) or (moment + timedelta(microseconds=1) if moment else datetime.now(UTC))
    start = parse_since(since, now=end if moment is not None and until is None else None)
    to_stdout = str(out_path) == "-"
    if to_stdout:  # rendered to a file first: an emailed report is attached (and retried) from it
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        out_path = Path(state.config.alerts.outbox_dir) / f"report-{stamp}.{fmt}"
    try:
        path = operations.make_report(state.store, state.config, slugs, start, end, fmt, out_path, email=email,
                                      as_of=moment)
    finally:
        if to_stdout and out_path.exists():
            sys.stdout.write(out_path.read_text(encoding="utf-8"))
            sys.stdout.flush()
            if not email:
                out_path.unlink()
    click.echo(f"report written to {'stdout' if to_stdout else path}", err=to_stdout)


@main.command()
@pass_state
def run(state: State) -> None:
    """Run the scheduler in the foreground (crawl, classify, detect, alert, report on their clocks)."""
    state.need_config()
    scheduler.run_forever(state.store, state.config)


@main.command()
@click.option("--role", type=click.Choice(WORKER_ROLES), required=True)
@click.option("--until-idle", is_flag=True, help="Exit when no work is left.")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True,
              help="classify: posts claimed per batch.")
@click.option("--lease-s", type=click.IntRange(1), default=600, show_default=True,
              help="classify: a claim older than this (its worker died) is taken over.")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="classify: torch threads (default: the cores divided by the classify workers on this machine).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def worker(state: State, role: str, until_idle: bool, batch_size: int, lease_s: int, threads: int | None,
           as_json: bool) -> None:
    """Run one kind of work; start any number of these on machines sharing PostgreSQL and Redis."""
    state.need_config()
    emit(workers.run_worker(state.store, state.config, role, until_idle=until_idle, batch_size=batch_size,
                              lease_s=lease_s, threads=threads), as_json)


# label, issue ..., history, learn, review (voxpop/curation_cli.py), serve (voxpop/web/serve.py) and
# rollup (voxpop/rollup_cli.py) are LAZY_COMMANDS: VoxpopGroup imports their module when they run.


if __name__ == "__main__":
    main()
