"""The dashboard's job map pages: ``/jobs`` (products x steps, and each job's segments side by side) and
``/jobs/{job}/segments/{key}`` (one segment: its needs and its posts), with JSON twins under ``/api``.

The period is in the query string like ``/compare`` (``days``, or ``since``/``until``), so a view can be
bookmarked; the figures come from :mod:`voxpop.report.jobs_view`, the same as the report's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from voxpop.report.queries import ReportError
from voxpop.web import queries

DEFAULT_DAYS = 90


def _period(request: Request) -> tuple[datetime, datetime]:
    params = request.query_params
    until = queries.parse_day(params.get("until"), "until")
    # Without a day, the period ends at the current minute, so repeated views within it share one computation.
    until = until + timedelta(days=1) if until else datetime.now(UTC).replace(second=0, microsecond=0)
    since = queries.parse_day(params.get("since"), "since")
    if since is None:
        raw = params.get("days") or str(DEFAULT_DAYS)
        if not raw.isdigit() or not 1 <= int(raw) <= 3660:
            raise queries.QueryError("days: 1 to 3660")
        since = until - timedelta(days=int(raw))
    return since, until


def jobs_routes(board: Any) -> list[Route]:
    """GET routes of the job map for ``board`` (a :class:`voxpop.web.app.Dashboard`)."""
    from voxpop.report.jobs_view import jobs_view, segment_detail

    def view(request: Request) -> dict[str, Any]:
        since, until = _period(request)
        config = board.config
        jobs = {p.slug: list(p.jobs) for p in config.products} if config is not None else None
        steps = {p.slug: list(getattr(p, "steps", ()) or ()) for p in config.products} if config is not None else None
        slugs = [x for x in request.query_params.getlist("products") if x][:12] or None
        def compute(session: Any) -> dict[str, Any]:
            try:
                return jobs_view(session, slugs, since, until, jobs, steps)
            except ReportError as exc:
                raise queries.QueryError(str(exc)) from None

        with board.store.sessions() as session:
            # Repeat views, and the segment pages of the same period, reuse the view (as the overview does).
            return board.cached(session, ("jobs", since.isoformat(), until.isoformat(), tuple(slugs or ())),
                                lambda: compute(session))

    def params(request: Request) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in request.query_params.items() if k in ("days", "since", "until")}
        if request.query_params.getlist("products"):
            out["products"] = request.query_params.getlist("products")[:12]
        return out

    def jobs_page(request: Request) -> Response:
        data = view(request)
        choices = board.read(request, queries.filter_choices)
        return board.page(request, "jobs.html", v=data, names=data["names"], params=params(request), choices=choices,
                          selected=request.query_params.getlist("products"))

    def jobs_api(request: Request) -> Response:
        data = view(request)
        return JSONResponse(data)

    def detail(request: Request) -> dict[str, Any] | None:
        data = view(request)
        job, key = request.path_params["job"], request.path_params["key"]
        return board.read(request, lambda s: segment_detail(s, data, job, key))

    def segment_page(request: Request) -> Response:
        data = detail(request)
        if data is None:
            return board.error(request, "no such segment in this period", 404)
        return board.page(request, "segment.html", s=data, names=data["names"], params=params(request))

    def segment_api(request: Request) -> Response:
        data = detail(request)
        if data is None:
            return board.error(request, "no such segment in this period", 404)
        return JSONResponse(data)

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return handler(request)
            except queries.QueryError as exc:
                return board.error(request, str(exc), 400)
        return endpoint

    pages = [("/jobs", jobs_page), ("/api/jobs", jobs_api), ("/jobs/{job}/segments/{key}", segment_page),
             ("/api/jobs/{job}/segments/{key}", segment_api)]
    return [Route(path, guarded(handler), methods=["GET", "HEAD"]) for path, handler in pages]
