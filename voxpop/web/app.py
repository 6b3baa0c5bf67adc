"""The dashboard's ASGI app: server-rendered pages over the store, their JSON twins under ``/api``, ``/healthz``.

Every page is a GET whose query string holds all its state, so a view can be bookmarked or shared as a link.
Pages and API call the same query functions (:mod:`voxpop.web.queries`); templates autoescape every value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from store.db import Store
from voxpop.core.jinja_cache import bytecode_cache
from voxpop.core.text import strip_invisible
from voxpop.web import params as edge
from voxpop.web import queries
from voxpop.web.actions import DONE, action_routes
from voxpop.web.security import (
    AUTH_COOKIE,
    CSRF_FIELD,
    Guard,
    SecurityMiddleware,
    check_csrf,
    csrf_token,
    safe_next,
)
from voxpop.web.views import charts_for_page, describe, spark_svg, trend_svg

HERE = Path(__file__).parent
PERIODS = (7, 30, 90)
COMPARE_DAYS = 90
# Report sections the /compare page does not show (build_report(leave_out=...)).
COMPARE_PAGE_LEAVES_OUT = ("job_map", "segments", "gaps", "crawl", "new_and_rising")
# The overview aggregates a period of posts (the costly page); it is reused while the store's data stamp is
# unchanged, for at most this long (a reclassification in place does not change the stamp).
OVERVIEW_CACHE_S = 60.0


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_visible,
                      bytecode_cache=bytecode_cache())
    env.globals.update(qs=_qs, spark_svg=spark_svg, trend_svg=trend_svg, CSRF_FIELD=CSRF_FIELD)
    env.filters.update(pct=_pct, signed=_signed, day=lambda v: (v or "")[:10], num=_num, when=when_text)
    from voxpop.report.render import diff_text, share_text, value_text, verdict

    env.filters.update(share=share_text, diff=diff_text, verdict=verdict, value=value_text)
    return env


def _visible(value: Any) -> Any:
    """Every text a page shows loses invisible and bidi controls (a U+202E in a name cannot flip the page)."""
    return strip_invisible(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def _qs(params: Mapping[str, Any], **override: Any) -> str:
    merged = {**params, **override}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")}, doseq=True)


def _pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _signed(value: float | None, kind: str = "n") -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:+.1f} pts"
    if kind == "rating":
        return f"{value:+.2f}"
    return f"{value:+d}" if isinstance(value, int) else f"{value:+g}"


def when_text(value: str | datetime | None) -> str:
    """A moment as ``2026-12-07 09:55 UTC`` (stored times are UTC); ``–`` when there is none."""
    if not value:
        return "–"
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)[:40]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


class Dashboard:
    """The routes of one dashboard: a store, the config (jobs, sources) and the templates."""

    def __init__(self, store: Store, config: Any | None = None, *, cache_s: float = OVERVIEW_CACHE_S) -> None:
        self.store = store
        self.config = config
        self.env = _environment()
        self.cache_s = cache_s
        self._cache: dict[tuple[Any, ...], tuple[float, tuple[Any, ...], dict[str, Any]]] = {}

    # -- plumbing ----------------------------------------------------------------------------

    def page(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            request_path=request.url.path, csrf=csrf_token(request), auth=bool(request.app.state.guard.token),
            flash=DONE.get(request.query_params.get("done", ""), ""), **context)
        return HTMLResponse(html, status_code=status_code)

    def error(self, request: Request, message: str, status_code: int = 400) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status_code)
        return self.page(request, "error.html", status_code=status_code, message=message)

    def read(self, request: Request, work: Callable[[Session], Any]) -> Any:
        with self.store.sessions() as session:
            try:
                return work(session)
            finally:
                session.rollback()

    # -- overview ----------------------------------------------------------------------------

    def _overview(self, request: Request) -> dict[str, Any]:
        days = _int(request.query_params.get("days"), 7)
        if days not in PERIODS:
            raise queries.QueryError(f"days: one of {', '.join(map(str, PERIODS))}")
        until = queries.parse_day(request.query_params.get("until"), "until")
        # The period ends at the current minute, so repeated views within it share one computation.
        until = until or datetime.now(UTC).replace(second=0, microsecond=0)

        return self.read(request, lambda session: self.cached(
            session, ("overview", days, until.isoformat()),
            lambda: queries.overview(session, days=days, until=until)))

    def cached(self, session: Session, key: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``compute()``, reused by repeat views of ``key`` while the store's data stamp is unchanged (for at
        most ``cache_s``): the costly pages (overview, comparison, job map) compute once per change."""
        version = queries.data_version(session)
        hit = self._cache.get(key)
        if hit and hit[1] == version and time.monotonic() < hit[0]:
            return hit[2]
        data = compute()
        if self.cache_s > 0:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + self.cache_s, version, data)
        return data

    def overview_page(self, request: Request) -> Response:
        data = self._overview(request)
        return self.page(request, "overview.html", data=data, periods=PERIODS,
                         params=dict(request.query_params))

    def overview_api(self, request: Request) -> Response:
        return JSONResponse(self._overview(request))

    # -- issues ------------------------------------------------------------------------------

    def _issues(self, request: Request) -> tuple[queries.IssueFilters, list[dict[str, Any]]]:
        filters = queries.IssueFilters.from_params(request.query_params)
        return filters, self.read(request, lambda s: queries.list_issues(s, filters))

    def issues_page(self, request: Request) -> Response:
        filters, issues = self._issues(request)
        choices = self.read(request, queries.filter_choices)
        emptied = None if issues else self.read(request, lambda s: queries.issues_emptied_by(s, filters))
        return self.page(request, "issues.html", filters=filters, params=filters.as_params(), issues=issues,
                         choices=choices, emptied_by=emptied)

    def issues_api(self, request: Request) -> Response:
        filters, issues = self._issues(request)
        return JSONResponse({"filters": filters.as_params(), "issues": issues})

    def _issue(self, request: Request) -> dict[str, Any] | None:
        issue_id = edge.path_id(request, "issue_id")
        if issue_id is None:
            return None
        return self.read(request, lambda s: self._issue_with_history(s, issue_id))

    def _issue_with_history(self, session: Session, issue_id: int) -> dict[str, Any] | None:
        data = queries.issue_detail(session, issue_id)
        if data is not None:
            data["history"] = self.history(session, issue_id=issue_id)
            from voxpop.web.reopened import reopen_reason

            data["reopen"] = reopen_reason(session, issue_id)
            from voxpop.report.jobmap_queries import issue_steps

            data["steps"] = [{"step": k, "posts": n} for k, n in issue_steps(session, issue_id).items()]
            data["others"] = [i for i in queries.list_issues(session, queries.IssueFilters(
                product=data["product"]["slug"])) if i["id"] != issue_id]
            from sqlalchemy import select

            from store.models import Issue
            from voxpop.report.themes import issue_theme, theme_choices

            data["theme"] = issue_theme(session, issue_id)
            data["theme_set_by"] = session.scalar(select(Issue.theme_by).where(Issue.id == issue_id))
            data["theme_choices"] = theme_choices(session)
        return data

    def history(self, session: Session, **which: int) -> list[dict[str, Any]]:
        """Human actions on an issue or a post, newest first, from the curation audit log."""
        from voxpop.curation import history

        entries = history(session, limit=100, **which)
        return [{**e.as_dict(), "what": describe(e.action, e.details)} for e in reversed(entries)]

    def issue_page(self, request: Request) -> Response:
        data = self._issue(request)
        if data is None:
            return self.error(request, "no such issue", 404)
        from alerts.render import why

        reasons = why(data["alert_kind"] or "issue_new", data["figures"]) if data["figures"] else []
        return self.page(request, "issue.html", issue=data, why=reasons, actions=self.actions_enabled)

    def issue_api(self, request: Request) -> Response:
        data = self._issue(request)
        if data is None:
            return self.error(request, "no such issue", 404)
        data.pop("others", None)
        data.pop("theme_choices", None)
        return JSONResponse(data)

    actions_enabled = True

    # -- posts -------------------------------------------------------------------------------

    def _posts(self, request: Request) -> tuple[queries.PostFilters, dict[str, Any]]:
        filters = queries.PostFilters.from_params(request.query_params)
        return filters, self.read(request, lambda s: queries.search_posts(s, filters))

    def posts_page(self, request: Request) -> Response:
        filters, result = self._posts(request)
        choices = self.read(request, queries.filter_choices)
        return self.page(request, "posts.html", filters=filters, params=filters.as_params(), result=result,
                         choices=choices, jobs=self.job_ids(), actions=self.actions_enabled,
                         steps=self.step_ids())

    def posts_api(self, request: Request) -> Response:
        filters, result = self._posts(request)
        return JSONResponse({"filters": filters.as_params(), **result})

    def posts_count_api(self, request: Request) -> Response:
        filters = queries.PostFilters.from_params(request.query_params)
        return JSONResponse(self.read(request, lambda s: queries.count_posts(s, filters)))

    def job_ids(self) -> list[str]:
        if self.config is None:
            return []
        return sorted({job.id for p in self.config.products for job in p.jobs})

    def step_ids(self) -> list[str]:
        from voxpop.report.jobmap import DEFAULT_STEPS

        own = [s.id for p in (self.config.products if self.config is not None else ())
               for s in getattr(p, "steps", ()) or ()]
        return list(dict.fromkeys([s.id for s in DEFAULT_STEPS] + own))

    # -- compare -----------------------------------------------------------------------------

    def _compare(self, request: Request, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
        """The comparison report of the request's period and products (``leave_out``: sections not shown)."""
        from voxpop.report import ReportError, build_report

        params = request.query_params
        until = queries.parse_day(params.get("until"), "until")
        # Without an end, the period ends at the current minute, so repeat views share one computation.
        until = until + timedelta(days=1) if until else datetime.now(UTC).replace(second=0, microsecond=0)
        since = queries.parse_day(params.get("since"), "since")
        if since is None:
            days = _int(params.get("days"), COMPARE_DAYS)
            if not 1 <= days <= 3660:
                raise queries.QueryError("days: 1 to 3660")
            since = until - timedelta(days=days)
        slugs = [s for s in params.getlist("products") if s][:12] or None
        jobs = {p.slug: list(p.jobs) for p in self.config.products} if self.config is not None else None
        with self.store.sessions() as session:
            known = {p["slug"] for p in queries.products(session)}
            for slug in slugs or []:
                if slug not in known:
                    raise queries.QueryError(f"products: no product {slug[:60]!r} in the store")
            def compute() -> dict[str, Any]:
                try:
                    return build_report(session, slugs, since, until, jobs, leave_out=leave_out)
                except ReportError as exc:
                    raise queries.QueryError(str(exc)) from None

            return self.cached(session, ("compare", since.isoformat(), until.isoformat(), tuple(slugs or ()),
                                         leave_out), compute)

    def compare_page(self, request: Request) -> Response:
        from voxpop.report.render import chart_svgs

        # The page shows neither the job map, segments, gaps nor crawl coverage: not computed for it (the
        # JSON API keeps the whole report).
        data = self._compare(request, leave_out=COMPARE_PAGE_LEAVES_OUT)
        choices = self.read(request, queries.filter_choices)
        names = {p["slug"]: p["name"] for p in data["products"]}
        from voxpop.report.trend import RISE_TEXT

        return self.page(request, "compare.html", d=data, charts=charts_for_page(chart_svgs(data)), names=names,
                         choices=choices, rise_text=RISE_TEXT,
                         selected=request.query_params.getlist("products"), params=dict(request.query_params))

    def compare_api(self, request: Request) -> Response:
        return JSONResponse(self._compare(request))

    # -- release watch -----------------------------------------------------------------------

    def _releases(self, request: Request) -> tuple[str, dict[str, Any] | None, dict[str, Any]]:
        from voxpop import operations

        choices = self.read(request, queries.filter_choices)
        slugs = [p["slug"] for p in choices["products"]]
        product = request.query_params.get("product") or next(
            (p["slug"] for p in choices["products"] if p.get("own")), slugs[0] if slugs else "")
        if product and product not in slugs:
            raise queries.QueryError(f"product: unknown product {product!r}")
        found = operations.releases(self.store, self.config, product) if product else None
        return product, found, choices

    def releases_page(self, request: Request) -> Response:
        product, found, choices = self._releases(request)
        return self.page(request, "releases.html", w=found, product=product, choices=choices)

    def releases_api(self, request: Request) -> Response:
        return JSONResponse(self._releases(request)[1] or {})

    # -- alerts and status -------------------------------------------------------------------

    def _alerts(self, request: Request) -> list[dict[str, Any]]:
        status = request.query_params.get("status", "")
        if status and status not in ("pending", "sending", "sent", "failed"):
            raise queries.QueryError("status: pending, sending, sent or failed")
        return self.read(request, lambda s: queries.list_alerts(s, status=status))

    def _report_mails(self, request: Request) -> list[dict[str, Any]]:
        status = request.query_params.get("status", "")
        return self.read(request, lambda s: queries.list_report_mails(s, status=status))

    def alerts_page(self, request: Request) -> Response:
        return self.page(request, "alerts.html", alerts=self._alerts(request), reports=self._report_mails(request),
                         status=request.query_params.get("status", ""))

    def alerts_api(self, request: Request) -> Response:
        return JSONResponse({"alerts": self._alerts(request), "report_mails": self._report_mails(request)})

    def _status(self, request: Request) -> dict[str, Any]:
        data: dict[str, Any] = {"coverage": self.read(request, queries.coverage)}
        if self.config is not None:
            from voxpop import operations

            data.update(operations.status(self.store, self.config))
        else:
            from store.claims import backlog

            data["posts"] = self.read(request, backlog)
        return data

    def status_page(self, request: Request) -> Response:
        return self.page(request, "status.html", s=self._status(request))

    def status_api(self, request: Request) -> Response:
        return JSONResponse(self._status(request))

    # -- health and login --------------------------------------------------------------------

    def healthz(self, request: Request) -> Response:
        try:
            with self.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - health says what is wrong instead of failing
            return JSONResponse({"ok": False, "database": f"{exc.__class__.__name__}"}, status_code=503)
        return JSONResponse({"ok": True, "database": self.store.dialect})

    async def login(self, request: Request) -> Response:
        guard: Guard = request.app.state.guard
        target = safe_next(request.query_params.get("next"))
        if not guard.token:
            return RedirectResponse(target, status_code=303)
        if request.method == "GET":
            return self.page(request, "login.html", next=target, failed=False)
        form = await request.form()
        if not check_csrf(request, _field(form, CSRF_FIELD)):
            return self.error(request, "the form expired or came from another site: reload the page and retry", 403)
        if not guard.token_matches(_field(form, "token")):
            return self.page(request, "login.html", status_code=403, next=target, failed=True)
        response = RedirectResponse(safe_next(_field(form, "next")), status_code=303)
        response.set_cookie(AUTH_COOKIE, guard.sign("auth:" + guard.token), httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    def routes(self) -> list[Any]:
        def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
            def endpoint(request: Request) -> Response:
                try:
                    edge.check_query(request)
                    return handler(request)
                except queries.QueryError as exc:
                    return self.error(request, str(exc), 400)
            return endpoint

        pages = [("/", self.overview_page), ("/issues", self.issues_page), ("/issues/{issue_id:int}", self.issue_page),
                 ("/posts", self.posts_page), ("/compare", self.compare_page), ("/alerts", self.alerts_page),
                 ("/releases", self.releases_page), ("/api/releases", self.releases_api),
                 ("/status", self.status_page), ("/api/overview", self.overview_api),
                 ("/api/issues", self.issues_api), ("/api/issues/{issue_id:int}", self.issue_api),
                 ("/api/posts", self.posts_api), ("/api/posts/count", self.posts_count_api),
                 ("/api/compare", self.compare_api),
                 ("/api/alerts", self.alerts_api), ("/api/status", self.status_api), ("/healthz", self.healthz)]
        routes: list[Any] = [Route(path, guarded(handler), methods=["GET", "HEAD"]) for path, handler in pages]
        routes.append(Route("/login", self.login, methods=["GET", "POST"]))
        routes += action_routes(self)
        from voxpop.web.jobs_pages import jobs_routes

        routes += jobs_routes(self)  # /jobs: the job map and needs-based segments
        routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
        return routes


def _int(value: str | None, default: int) -> int:
    return edge.number(value, "days", default)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def create_app(store: Store, config: Any | None = None, *, token: str | None = None, loopback: bool = True,
               cache_s: float = OVERVIEW_CACHE_S) -> Starlette:
    """The dashboard app over ``store``; ``token`` (``VOXPOP_UI_TOKEN``) is then required for every page."""
    board = Dashboard(store, config, cache_s=cache_s)
    app = Starlette(routes=board.routes(), middleware=[Middleware(SecurityMiddleware)])
    app.state.guard = Guard(token=token or None, loopback=loopback)
    app.state.dashboard = board
    return app


__all__ = ["Dashboard", "Markup", "create_app"]
