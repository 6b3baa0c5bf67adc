"""``voxpop serve``: run the dashboard with uvicorn on loopback (or beyond, with a token)."""

from __future__ import annotations

import os
from typing import Any

import click

from voxpop.web.security import TOKEN_ENV, check_bind, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321
# The collector's first-generation threshold for the server process (Python's default is 700 allocations).
# A cold view of the job map or the comparison allocates ~100,000 short-lived rows; at the default the
# collector runs hundreds of times per request and its full collections, over the views' caches, add
# 50-100 ms to one request in five (p95 of the job map's cold view 281-314 ms at the default, 229-243 ms
# with this setting, on the 1M-post bench store).
GC_THRESHOLD = (100_000, 50, 100)


def tune_collector() -> None:
    """Collect garbage less often in the long-running server (see :data:`GC_THRESHOLD`)."""
    import gc

    gc.set_threshold(*GC_THRESHOLD)


def build(config_path: str | None, host: str, environ: Any = None) -> Any:
    """The app for ``config_path`` after the bind check (raises WebError, ConfigError or StoreError)."""
    from voxpop import operations
    from voxpop.config import load_config
    from voxpop.web.app import create_app

    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV) or None
    check_bind(host, token)
    config = load_config(config_path)
    store = operations.open_store(config)
    return create_app(store, config, token=token, loopback=is_loopback(host))


@click.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help=f"Address to listen on; anything but loopback needs {TOKEN_ENV}.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="voxpop.toml (default: the global --config, VOXPOP_CONFIG or ./voxpop.toml).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, config_path: str | None) -> None:
    """Browse issues, posts and competitors in a web dashboard (and act on them)."""
    import uvicorn

    parent = getattr(ctx.obj, "config_path", None)
    app = build(config_path or parent, host)  # WebError, ConfigError, StoreError: one line from the CLI
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"voxpop dashboard on http://{shown}:{port}/ (Ctrl-C stops it)", err=True)
    tune_collector()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, server_header=False,
                access_log=False)
