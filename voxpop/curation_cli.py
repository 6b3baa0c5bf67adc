"""CLI of the human in the loop: ``label``, ``issue ...``, ``history``, ``learn``, ``review``.

Each command opens one transaction and calls the one implementation in :mod:`voxpop.curation`
(the dashboard calls the same functions). Registered in ``cli.py`` from :data:`COMMANDS`.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import date
from typing import Any

import click

from voxpop import curation
from voxpop.cli_params import ID, ids_list
from voxpop.core.ids import YEAR_MAX, YEAR_MIN, check_day


def _default_by() -> str:
    try:
        return os.environ.get("VOXPOP_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


BY = click.option("--by", default=None, help="Who is acting (default: $VOXPOP_USER or your login name).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _emit(data: dict[str, Any] | list[Any], as_json: bool, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False) if as_json else human)


def _ids(value: str, what: str) -> list[int]:
    return ids_list(value, what)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return check_day(date.fromisoformat(value))
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD from {YEAR_MIN} to {YEAR_MAX}, got {value!r}") from None


@click.command("label")
@click.option("--post", "post_id", type=ID, required=True, help="Post id (the 'id' field of voxpop export).")
@click.option("--sentiment", type=click.Choice(["negative", "neutral", "positive"]))
@click.option("--need", type=click.Choice(["problem", "feature_request", "question", "praise", "other"]))
@click.option("--jobs", default=None, help="Comma-separated job ids from voxpop.toml.")
@click.option("--no-jobs", is_flag=True, help="The post is about none of the product's jobs.")
@click.option("--step", default=None, help="The job map's step the post sits on (choose, get, set-up, learn, use, "
              "get-help, pay, leave, or the product's [[products.steps]] ids).")
@BY
@AS_JSON
@click.pass_obj
def label_cmd(state: Any, post_id: int, sentiment: str | None, need: str | None, jobs: str | None, no_jobs: bool,
              step: str | None, by: str | None, as_json: bool) -> None:
    """Correct a post's labels; the correction wins over the model everywhere and survives reclassification."""
    if jobs is not None and no_jobs:
        raise click.UsageError("give --jobs or --no-jobs, not both")
    job_list = [j.strip() for j in jobs.split(",") if j.strip()] if jobs is not None else None
    with state.store.transaction() as session:
        if step is not None:
            _check_step(state, session, post_id, step)
        result = curation.label_post(session, post_id, sentiment=sentiment, need=need, jobs=job_list,
                                     no_jobs=no_jobs, step=step, by=by or _default_by(),
                                     job_ids=curation.configured_jobs(state.config.products))
    human = "; ".join(f"{c.field}: {_show(c.old)} ({c.old_source}) -> {_show(c.new)}" for c in result.changes)
    if result.issues_touched:
        human += f"; issues updated: {', '.join(map(str, result.issues_touched))}"
    _emit(result.as_dict(), as_json, f"post {post_id}: {human}")


def _check_step(state: Any, session: Any, post_id: int, step: str) -> None:
    """A step the post's product has on its job map (configured steps, else the default ones)."""
    from store.models import Post, Product
    from voxpop.learning import product_steps

    row = session.get(Post, post_id)
    product = session.get(Product, row.product_id) if row is not None else None
    if product is None:
        return  # label_post says there is no such post
    known = [s.id for s in product_steps(state.config, product.slug)]
    if step not in known:
        raise curation.CurationError(f"unknown step {step!r} for {product.slug} (steps: {', '.join(known)})")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(no jobs)"
    return "(none)" if value is None else str(value)


@click.group("issue")
def issue_group() -> None:
    """Curate issues: rename, merge, split, not-an-issue, mute, unmute, resolve, reopen, theme."""


def _issue_action(state: Any, as_json: bool, call: Any) -> None:
    with state.store.transaction() as session:
        action = call(session)
    data = action.as_dict()
    extra = ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("action", "issue_id", "by", "at"))
    _emit(data, as_json, f"issue {action.issue_id}: {action.action}" + (f" ({extra})" if extra else ""))


@issue_group.command("rename")
@click.argument("issue_id", type=ID)
@click.argument("label")
@BY
@AS_JSON
@click.pass_obj
def rename_cmd(state: Any, issue_id: int, label: str, by: str | None, as_json: bool) -> None:
    """Give an issue a human label; it keeps it as it grows."""
    _issue_action(state, as_json, lambda s: curation.rename_issue(s, issue_id, label, by=by or _default_by()))


@issue_group.command("merge")
@click.argument("issue_id", type=ID)
@click.option("--into", "into", type=ID, required=True, help="The issue that stays.")
@BY
@AS_JSON
@click.pass_obj
def merge_cmd(state: Any, issue_id: int, into: int, by: str | None, as_json: bool) -> None:
    """Merge ISSUE_ID into another issue; ISSUE_ID never re-forms."""
    _issue_action(state, as_json, lambda s: curation.merge_issue(s, issue_id, into=into, by=by or _default_by()))


@issue_group.command("split")
@click.argument("issue_id", type=ID)
@click.option("--posts", required=True, help="Comma-separated post ids to move into a new issue.")
@BY
@AS_JSON
@click.pass_obj
def split_cmd(state: Any, issue_id: int, posts: str, by: str | None, as_json: bool) -> None:
    """Move some posts of an issue into a new issue."""
    post_ids = _ids(posts, "post")
    with state.store.transaction() as session:
        new_id = curation.split_issue(session, issue_id, post_ids=post_ids, by=by or _default_by())
    if new_id is None:
        _emit({"issue_id": issue_id, "new_issue_id": None, "posts": post_ids, "unassigned": post_ids}, as_json,
              f"issue {issue_id}: {len(post_ids)} post(s) taken out and left unassigned (fewer than "
              f"{curation.SPLIT_MIN_POSTS}, an issue's minimum: no new issue)")
        return
    _emit({"issue_id": issue_id, "new_issue_id": new_id, "posts": post_ids}, as_json,
          f"issue {issue_id}: {len(post_ids)} post(s) moved into new issue {new_id}")


@issue_group.command("not-an-issue")
@click.argument("issue_id", type=ID)
@click.option("--posts", required=True, help="Comma-separated post ids of the issue that are not an issue.")
@BY
@AS_JSON
@click.pass_obj
def not_an_issue_cmd(state: Any, issue_id: int, posts: str, by: str | None, as_json: bool) -> None:
    """Take posts out of an issue for good: detection never puts them into an issue again."""
    post_ids = _ids(posts, "post")
    _issue_action(state, as_json, lambda s: curation.not_an_issue(s, issue_id, post_ids=post_ids,
                                                                  by=by or _default_by()))


@issue_group.command("mute")
@click.argument("issue_id", type=ID)
@click.option("--until", default=None, help="YYYY-MM-DD: alerts resume on that day (default: until unmuted).")
@BY
@AS_JSON
@click.pass_obj
def mute_cmd(state: Any, issue_id: int, until: str | None, by: str | None, as_json: bool) -> None:
    """Stop an issue's alerts (detection still tracks it)."""
    day = _date(until)
    _issue_action(state, as_json, lambda s: curation.mute_issue(s, issue_id, until=day, by=by or _default_by()))


@issue_group.command("unmute")
@click.argument("issue_id", type=ID)
@BY
@AS_JSON
@click.pass_obj
def unmute_cmd(state: Any, issue_id: int, by: str | None, as_json: bool) -> None:
    """Let a muted issue alert again."""
    _issue_action(state, as_json, lambda s: curation.unmute_issue(s, issue_id, by=by or _default_by()))


@issue_group.command("resolve")
@click.argument("issue_id", type=ID)
@BY
@AS_JSON
@click.pass_obj
def resolve_cmd(state: Any, issue_id: int, by: str | None, as_json: bool) -> None:
    """Mark an issue resolved; it reopens if the complaint comes back."""
    _issue_action(state, as_json, lambda s: curation.resolve_issue(s, issue_id, by=by or _default_by()))


@issue_group.command("reopen")
@click.argument("issue_id", type=ID)
@BY
@AS_JSON
@click.pass_obj
def reopen_cmd(state: Any, issue_id: int, by: str | None, as_json: bool) -> None:
    """Reopen a resolved issue."""
    _issue_action(state, as_json, lambda s: curation.reopen_issue(s, issue_id, by=by or _default_by()))


@issue_group.command("theme")
@click.argument("issue_id", type=int)
@click.option("--to", "to", type=int, default=None, help="Put the issue in this theme (see voxpop themes).")
@click.option("--new", "new", default=None, help="Put the issue in a new theme with this label.")
@click.option("--none", "none", is_flag=True, help="Take the issue out of every theme.")
@BY
@AS_JSON
@click.pass_obj
def theme_cmd(state: Any, issue_id: int, to: int | None, new: str | None, none: bool, by: str | None,
              as_json: bool) -> None:
    """Place an issue in a theme shared across products by hand; the automatic pass keeps it there."""
    if sum((to is not None, new is not None, none)) != 1:
        raise click.UsageError("give exactly one of --to THEME_ID, --new LABEL or --none")
    _issue_action(state, as_json, lambda s: curation.set_issue_theme(s, issue_id, to=to, new=new, none=none,
                                                                      by=by or _default_by()))


@click.command("themes")
@click.option("--product", "products", multiple=True, help="Only these products (repeatable).")
@AS_JSON
@click.pass_obj
def themes_cmd(state: Any, products: tuple[str, ...], as_json: bool) -> None:
    """Needs shared by several products' issues: each theme with its products, posts and issues."""
    from voxpop.report.themes import theme_line, theme_table

    with state.store.sessions() as session:
        themes = theme_table(session, list(products) or None)
    lines = []
    for t in themes:
        lines.append(f"#{t['id']} {curation.clean_text(theme_line(t))}" + (" (named by hand)" if t["curated"] else ""))
        for p in t["products"]:
            issues = ", ".join(f"#{i['id']} {curation.clean_text(i['label'])} ({i['posts']})" for i in p["issues"])
            lines.append(f"    {p['slug']}: {issues}")
    _emit(themes, as_json, "\n".join(lines) or "no themes yet (they need issues of two products about one need)")


@click.command("history")
@click.option("--issue", "issue_id", type=ID, default=None)
@click.option("--post", "post_id", type=ID, default=None)
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the newest N entries.")
@AS_JSON
@click.pass_obj
def history_cmd(state: Any, issue_id: int | None, post_id: int | None, limit: int | None, as_json: bool) -> None:
    """The audit log of human actions: of one issue, one post, or everything."""
    with state.store.sessions() as session:
        entries = curation.history(session, issue_id=issue_id, post_id=post_id, limit=limit)
    lines = [f"{e.at.isoformat(timespec='seconds')}  {e.by}  {e.action}"
             f"{f'  issue {e.issue_id}' if e.issue_id is not None else ''}"
             f"{f'  post {e.post_id}' if e.post_id is not None else ''}"
             f"  {json.dumps(e.details, default=str, ensure_ascii=False)}" for e in entries]
    _emit([e.as_dict() for e in entries], as_json, "\n".join(lines) or "no actions recorded")


@click.command("learn")
@click.option("--product", required=True, help="Product slug.")
@click.option("--dry-run", is_flag=True, help="Print what would change (counts per label, examples); write nothing.")
@click.option("--undo", is_flag=True, help="Go back to the previous layer (or the shared model).")
@AS_JSON
@click.pass_obj
def learn_cmd(state: Any, product: str, dry_run: bool, undo: bool, as_json: bool) -> None:
    """Train the product's own layer from its corrections and apply it to its posts.

    A task's layer is kept only when it helps on held-out corrections, and moves only posts near the corrected
    ones until the corrections are many and varied. Every layer is logged with what it changed.
    """
    from voxpop.learning import learn, undo_learn
    from voxpop.operations import get_classifier

    if dry_run and undo:
        raise click.UsageError("--dry-run and --undo cannot be combined")
    run = undo_learn if undo else learn
    kwargs = {} if undo else {"dry_run": dry_run}
    report = run(state.store, state.config, product, classifier=lambda: get_classifier(state.config),
                 by=_default_by(), **kwargs)
    _emit(report.as_dict(), as_json, report.summary())


@click.command("review")
@click.option("--product", required=True, help="Product slug.")
@click.option("--n", "n", type=click.IntRange(1, 1000), default=20, show_default=True)
@AS_JSON
@click.pass_obj
def review_cmd(state: Any, product: str, n: int, as_json: bool) -> None:
    """The posts whose correction would help most, with the model's guess; label them with voxpop label."""
    from voxpop.operations import get_classifier
    from voxpop.review import review_queue

    items = review_queue(state.store, product, n=n, classifier=lambda: get_classifier(state.config))
    lines = [f"{i.post_id:>8}  {i.sentiment:<8} {i.need_type:<15} {i.reason:<22} {i.snippet}" for i in items]
    human = "\n".join(lines) if lines else f"nothing to review for {product} (no classified posts without a label)"
    if lines:
        human += f"\nlabel one: voxpop label --post {items[0].post_id} --need ... --sentiment ..."
    _emit([i.as_dict() for i in items], as_json, human)


COMMANDS = (label_cmd, issue_group, history_cmd, learn_cmd, review_cmd, themes_cmd)
