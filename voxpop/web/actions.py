"""The dashboard's actions: POST forms that call the curation functions of ``voxpop.curation`` (the same ones
the CLI calls), one transaction each, after the CSRF check. Success redirects (303) to the page to look at next
with a short confirmation; a refused action shows the curation error as one line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from voxpop import curation
from voxpop.core.ids import BadNumber, check_day, id_or_none, parse_ids
from voxpop.web.params import clean_form, path_id
from voxpop.web.security import CSRF_FIELD, check_csrf, safe_next

ACTOR = "dashboard"  # who the audit log names: the UI has one shared token, not user accounts
DONE = {
    "renamed": "Issue renamed.", "merged": "Issues merged.", "split": "Posts split off into this new issue.",
    "split-small": "Too few posts for an issue: they were taken out and left unassigned (no new issue).",
    "not-an-issue": "Posts taken out: not an issue. Detection will not put them into an issue again.",
    "muted": "Issue muted.", "unmuted": "Issue unmuted.", "resolved": "Issue resolved.", "reopened": "Issue reopened.",
    "relabelled": "Post relabelled: the human label now wins everywhere.",
    "themed": "Theme set by hand: the automatic pass keeps it.",
    "bulk-relabelled": "Selected posts relabelled: the human labels now win everywhere.",
}


class Board(Protocol):
    """What the actions need of the dashboard: its store and its error page."""

    store: Any
    config: Any

    def error(self, request: Request, message: str, status_code: int = 400) -> Response: ...


class ActionError(ValueError):
    """A form value that cannot be used (shown as one line)."""


Form = dict[str, str]
IssueAction = Callable[[Session, int, Form], tuple[str, int]]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _ids(value: str, name: str) -> list[int]:
    try:
        return parse_ids(value, name, limit=1000)
    except BadNumber:
        raise ActionError(f"{name}: give post ids as whole numbers separated by commas") from None


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return check_day(date.fromisoformat(value))
    except ValueError:
        raise ActionError(f"{name}: expected a date like 2026-12-31") from None


def _rename(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.rename_issue(session, issue_id, form.get("label", ""), by=ACTOR)
    return "renamed", issue_id


def _merge(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    into = id_or_none(form.get("into", ""))
    if into is None:
        raise ActionError("into: choose the issue to merge into")
    curation.merge_issue(session, issue_id, into=into, by=ACTOR)
    return "merged", into


def _split(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    new_id = curation.split_issue(session, issue_id, post_ids=_ids(form.get("post_ids", ""), "post_ids"), by=ACTOR)
    return ("split", new_id) if new_id is not None else ("split-small", issue_id)


def _not_an_issue(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.not_an_issue(session, issue_id, post_ids=_ids(form.get("post_ids", ""), "post_ids"), by=ACTOR)
    return "not-an-issue", issue_id


def _mute(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.mute_issue(session, issue_id, until=_date(form.get("until", ""), "until"), by=ACTOR)
    return "muted", issue_id


def _unmute(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.unmute_issue(session, issue_id, by=ACTOR)
    return "unmuted", issue_id


def _resolve(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.resolve_issue(session, issue_id, by=ACTOR)
    return "resolved", issue_id


def _reopen(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    curation.reopen_issue(session, issue_id, by=ACTOR)
    return "reopened", issue_id


def _theme(session: Session, issue_id: int, form: Form) -> tuple[str, int]:
    """Theme by hand: ``to`` (a theme id, or ``none``) or ``new`` (the label of a new theme)."""
    to, new = form.get("to", ""), form.get("new", "")
    if new:
        curation.set_issue_theme(session, issue_id, new=new, by=ACTOR)
    elif to == "none":
        curation.set_issue_theme(session, issue_id, none=True, by=ACTOR)
    elif to.isdigit() and len(to) < 12:
        curation.set_issue_theme(session, issue_id, to=int(to), by=ACTOR)
    else:
        raise ActionError("theme: choose a theme, 'no theme', or name a new one")
    return "themed", issue_id


ISSUE_ACTIONS: dict[str, IssueAction] = {"rename": _rename, "merge": _merge, "split": _split,
                                         "not-an-issue": _not_an_issue, "mute": _mute,
                                         "unmute": _unmute, "resolve": _resolve, "reopen": _reopen,
                                         "theme": _theme}


def _with_done(target: str, done: str) -> str:
    return target + ("&" if "?" in target else "?") + urlencode({"done": done})


def action_routes(board: Board) -> list[Route]:
    """POST routes for the issue and post actions of ``board``."""

    async def form_of(request: Request) -> Form | None:
        form = await request.form()
        fields = clean_form(form)
        return fields if check_csrf(request, fields.get(CSRF_FIELD)) else None

    def transact(work: Callable[[Session], str]) -> str:
        with board.store.transaction() as session:
            return work(session)

    async def run(request: Request, work: Callable[[Session], str]) -> Response:
        try:
            target = await run_in_threadpool(transact, work)
        except (curation.CurationError, ActionError) as exc:
            return board.error(request, str(exc), 400)
        return RedirectResponse(target, status_code=303)

    def issue_endpoint(name: str, action: IssueAction) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            fields = await form_of(request)
            if fields is None:
                return board.error(request, "the form expired or came from another site: reload the page and retry",
                                   403)
            issue_id = path_id(request, "issue_id")
            if issue_id is None:
                return board.error(request, "no such issue", 404)

            def work(session: Session) -> str:
                done, shown = action(session, issue_id, fields)
                return _with_done(f"/issues/{shown}", done)
            return await run(request, work)
        endpoint.__name__ = f"issue_{name}"
        return endpoint

    def job_ids() -> curation.JobIds | None:
        config = getattr(board, "config", None)
        return curation.configured_jobs(config.products) if config is not None else None

    def labels_of(fields: Form) -> dict[str, Any]:
        """The label fields of a relabel form; ``jobs`` holds what is in force, so an emptied box clears them."""
        jobs = [j for j in fields.get("jobs", "").replace(",", " ").split() if j]
        edit = fields.get("edit") == "1"  # the edit form always sends the jobs in force
        return {"sentiment": fields.get("sentiment") or None, "need": fields.get("need") or None,
                "jobs": jobs or None, "no_jobs": fields.get("no_jobs") == "1" or (edit and not jobs)}

    async def label(request: Request) -> Response:
        fields = await form_of(request)
        if fields is None:
            return board.error(request, "the form expired or came from another site: reload the page and retry", 403)
        post_id = path_id(request, "post_id")
        if post_id is None:
            return board.error(request, "no such post", 404)
        labels = labels_of(fields)

        def work(session: Session) -> str:
            curation.label_post(session, post_id, **labels, by=ACTOR, job_ids=job_ids(),
                                only_changes=fields.get("edit") == "1")
            return _with_done(safe_next(fields.get("back")), "relabelled") + f"#post-{post_id}"
        return await run(request, work)

    async def bulk_label(request: Request) -> Response:
        form = await request.form()
        fields = clean_form(form)  # control and bidi characters stripped, as every action form
        if not check_csrf(request, fields.get(CSRF_FIELD)):
            return board.error(request, "the form expired or came from another site: reload the page and retry", 403)
        chosen = [v for v in form.getlist("post") if isinstance(v, str)]
        if not chosen:
            return board.error(request, "select the posts to relabel (tick their boxes) first", 400)
        try:
            post_ids = _ids(" ".join(chosen), "post")
        except ActionError as exc:
            return board.error(request, str(exc), 400)
        labels = labels_of({**fields, "edit": ""})

        def work(session: Session) -> str:
            curation.label_posts(session, post_ids, **labels, by=ACTOR, job_ids=job_ids())
            return _with_done(safe_next(fields.get("back")), "bulk-relabelled")
        return await run(request, work)

    routes = [Route(f"/issues/{{issue_id:int}}/{name}", issue_endpoint(name, action), methods=["POST"])
              for name, action in ISSUE_ACTIONS.items()]
    routes.append(Route("/posts/{post_id:int}/label", label, methods=["POST"]))
    routes.append(Route("/posts/label", bulk_label, methods=["POST"]))
    return routes


__all__ = ["ACTOR", "DONE", "action_routes"]
