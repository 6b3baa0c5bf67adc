"""The ``voxpop`` command: a thin layer over ``operations.py``, ``scheduler.py`` and ``workers.py``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import click  # noqa: E402

import scheduler  # noqa: E402
from store.db import Store  # noqa: E402
from voxpop import (
    operations,  # noqa: E402
    workers,  # noqa: E402
)
from voxpop.config import Config, load_config  # noqa: E402
from voxpop.core.errors import VoxpopError  # noqa: E402

DOMAIN_ERRORS: tuple[type[Exception], ...] = (VoxpopError, FileNotFoundError)


class VoxpopGroup(click.Group):
    """Turns domain errors into one clear line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DOMAIN_ERRORS as exc:
            click.echo(f"voxpop: error: {exc}", err=True)
            sys.exit(1)


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


def parse_day(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (or a full ISO time) as an aware UTC datetime."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30d``, ``12w``, ``6m`` (30-day months) or a date, as the start of a period."""
    now = now or datetime.now(UTC)
    units = {"d": 1, "w": 7, "m": 30}
    if value and value[-1] in units and value[:-1].isdigit():
        return now - timedelta(days=int(value[:-1]) * units[value[-1]])
    parsed = parse_day(value)
    assert parsed is not None
    return parsed


@click.group(cls=VoxpopGroup)
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
    state.store  # noqa: B018 - migrate and sync products before the crawl subprocesses start
    outcomes = operations.crawl(state.config, product, source)
    emit(outcomes, as_json)
    if any(o.get("status") == "failed" for o in outcomes):
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
        from classify.filemode import classify_file, load_jobs

        if jobs_path is not None:
            load_jobs(jobs_path)  # fail fast on a bad jobs file, before the model loads
        total = sum(1 for line in input_path.open(encoding="utf-8", errors="replace") if line.strip())
        with progress_bar("classifying", total) as advance:
            result = classify_file(input_path, output_path, jobs_path, operations.get_classifier(state.config),
                                   progress=advance)
        emit(result.as_dict() if hasattr(result, "as_dict") else vars(result), as_json)
        return
    store = state.store
    with store.sessions() as session:
        from store.claims import backlog

        pending = backlog(session).get("pending", 0)
    with progress_bar("classifying", limit or pending) as advance:
        report = operations.classify_pending(store, state.config, limit=limit, reclassify=reclassify,
                                            product=product, lease_s=lease_s, progress=advance)
    emit(report.as_dict(), as_json)


@main.command("import")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--product", required=True, help="Product slug (created if new).")
@click.option("--source", default="import", show_default=True, help="Source name stored with each post.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def import_cmd(state: State, input_path: Path, product: str, source: str, as_json: bool) -> None:
    """Import posts from JSONL (id, text, optional title, rating, date, author, url, version)."""
    from store.io import import_posts
    from store.repo import ensure_product

    spec = operations.configured_product(state.config, product)
    total = sum(1 for line in input_path.open(encoding="utf-8", errors="replace") if line.strip())
    with state.store.transaction() as session:
        pid = ensure_product(session, product, spec.name if spec else product, spec.own if spec else False).id
        with progress_bar("importing", total) as advance:
            report = import_posts(session, pid, input_path, source=source, progress=advance)
    data = report.as_dict()
    human = (f"imported {report.rows - len(report.bad)} of {report.rows} rows: {report.result.stored} new, "
             f"{report.result.updated} updated, {report.result.unchanged} unchanged, {len(report.bad)} skipped")
    for bad in report.bad:
        human += f"\n  line {bad.line}: {bad.reason}"
    emit(data, as_json, human)


@main.command("export")
@click.option("--product", required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@pass_state
def export_cmd(state: State, product: str, fmt: str, out_path: Path | None) -> None:
    """Export a product's posts with their classifications and issue ids."""
    from store.io import iter_export_rows, write_export

    pid = operations.product_ids(state.store, [product])[product]
    with state.store.sessions() as session:
        if out_path is None:
            write_export(iter_export_rows(session, pid), fmt, sys.stdout)
            return
        with out_path.open("w", encoding="utf-8", newline="") as handle:
            count = write_export(iter_export_rows(session, pid), fmt, handle)
    click.echo(f"wrote {count} posts to {out_path}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def status(state: State, as_json: bool) -> None:
    """Backlogs, last crawls, undelivered alerts and job runs."""
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


@main.command()
@click.option("--product", required=True)
@click.option("--as-of", "as_of", default=None, help="Detect as if today were DATE (no look-ahead).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def detect(state: State, product: str, as_of: str | None, as_json: bool) -> None:
    """Group unmet needs into issues and queue alerts for new or rising ones."""
    from alerts.issues import run_detect

    report = run_detect(state.store, state.config, product, as_of=parse_day(as_of))
    emit(report.as_dict() if hasattr(report, "as_dict") else report, as_json)


@main.command()
@click.option("--product", required=True)
@click.option("--from", "start", required=True, help="First day YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def backtest(state: State, product: str, start: str, end: str, as_json: bool) -> None:
    """Replay history day by day and print the alerts that would have fired (nothing is sent)."""
    from alerts.issues import backtest as run_backtest

    first, last = parse_day(start), parse_day(end)
    assert first is not None and last is not None  # both options are required
    emit(run_backtest(state.store, state.config, product, first, last), as_json)


@main.command("issues")
@click.option("--product", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def issues_cmd(state: State, product: str, as_json: bool) -> None:
    """List a product's issues with state, size and daily counts."""
    from alerts.issues import list_issues

    emit(list_issues(state.store, product), as_json)


@main.command()
@click.option("--digest", is_flag=True, help="One message per recipient for all pending alerts.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def alert(state: State, digest: bool, as_json: bool) -> None:
    """Deliver pending alerts (email, webhooks), retrying failures with backoff."""
    from alerts.deliver import deliver_pending

    report = deliver_pending(state.store, state.config, digest=digest or None)  # None: the config decides
    emit(report.as_dict() if hasattr(report, "as_dict") else report, as_json)


@main.command()
@click.option("--products", default=None, help="Comma-separated product slugs.")
@click.option("--all", "all_products", is_flag=True, help="Every product in the store.")
@click.option("--since", default="30d", show_default=True, help="30d, 12w or a date.")
@click.option("--until", default=None, help="End date (default: now).")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "csv", "json"]), default="html", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--email", is_flag=True, help="Also send it to the configured recipients.")
@pass_state
def report(state: State, products: str | None, all_products: bool, since: str, until: str | None, fmt: str,
           out_path: Path, email: bool) -> None:
    """Write a competitor comparison report."""
    if not products and not all_products:
        raise click.UsageError("give --products A,B or --all")
    slugs = None if all_products else [p.strip() for p in (products or "").split(",") if p.strip()]
    path = operations.make_report(state.store, state.config, slugs, parse_since(since),
                                 parse_day(until) or datetime.now(UTC), fmt, out_path, email=email)
    click.echo(f"report written to {path}")


@main.command()
@pass_state
def run(state: State) -> None:
    """Run the scheduler in the foreground (crawl, classify, detect, alert, report on their clocks)."""
    scheduler.run_forever(state.store, state.config)


@main.command()
@click.option("--role", type=click.Choice(workers.ROLES), required=True)
@click.option("--until-idle", is_flag=True, help="Exit when no work is left.")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True,
              help="classify: posts claimed per batch.")
@click.option("--lease-s", type=click.IntRange(1), default=600, show_default=True,
              help="classify: a claim older than this (its worker died) is taken over.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def worker(state: State, role: str, until_idle: bool, batch_size: int, lease_s: int, as_json: bool) -> None:
    """Run one kind of work; start any number of these on machines sharing PostgreSQL and Redis."""
    emit(workers.run_worker(state.store, state.config, role, until_idle=until_idle, batch_size=batch_size,
                              lease_s=lease_s), as_json)


from voxpop.web.serve import serve as serve_cmd  # noqa: E402 - the dashboard lives in its own module

main.add_command(serve_cmd)


if __name__ == "__main__":
    main()
