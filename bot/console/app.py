"""The console's ASGI app: server-rendered pages behind OIDC sign-in, and a JSON API behind API
keys. Its own process (`assist console`), so the webhook service stays lean."""

import datetime as dt
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.middleware.sessions import SessionMiddleware

from bot.console import queries
from bot.console.apikeys import authenticate
from bot.console.auth import (
    OPERATOR,
    Principal,
    role_from_claims,
    safe_next,
    same_token,
    scope_for,
)
from bot.console.chart import bar_chart
from bot.console.health import probe
from bot.console.metrics import console_registry, expose
from bot.jobs.admin import cancel_jobs, job_state, retry_jobs
from bot.jobs.queue import queue_policy
from bot.runtime import Services
from bot.settings import Settings

log = logging.getLogger(__name__)
FORGES = ("github", "gitlab")
COOKIE = "assist_console"
CHOICES_TTL_S = 60.0


class SignInRequired(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DeliveryOut(BaseModel):
    id: int
    forge: str
    delivery_id: str
    event: str
    repo: str | None
    outcome: str
    reason: str
    status_code: int
    job_ids: list[str]
    received_at: str | None


class JobOut(BaseModel):
    id: int
    job_id: str
    kind: str
    forge: str | None
    repo: str | None
    number: int | None
    head_sha: str | None
    status: str
    attempts: int
    error: str
    why: str
    started_at: str | None
    finished_at: str | None
    seconds: float | None


class ActionOut(BaseModel):
    job_id: str
    action: str
    done: bool
    message: str


def _day(value: str | None, name: str, *, end: bool = False) -> dt.datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{name} must be a date (YYYY-MM-DD) or an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _filters(
    forge: str | None,
    repo: str | None,
    since: str | None,
    until: str | None,
    status: str | None,
    kind: str | None,
    before: int | None,
    statuses: tuple[str, ...],
) -> queries.Filters:
    forge, repo, status, kind = (v or None for v in (forge, repo, status, kind))
    if forge and forge not in FORGES:
        raise Refused(400, f"forge must be one of {', '.join(FORGES)}")
    if status and status not in statuses:
        raise Refused(400, f"status must be one of {', '.join(statuses)}")
    if repo and len(repo) > 512:
        raise Refused(400, "repository name too long")
    return queries.Filters(
        forge=forge,
        repo=repo,
        since=_day(since, "since"),
        until=_day(until, "until", end=True),
        status=status,
        kind=kind,
        before=before,
    )


def forge_web_url(
    settings: Settings, forge: str | None, repo: str | None, number: int | None
) -> str:
    """The pull/merge request (or repository) on its forge; "" when unknown."""
    if not repo or forge not in FORGES:
        return ""
    if forge == "github":
        api = settings.github_api_url.rstrip("/")
        base = (
            "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
        )
        return f"{base}/{repo}" + (f"/pull/{number}" if number else "")
    base = settings.gitlab_url.rstrip("/")
    return f"{base}/{repo}" + (f"/-/merge_requests/{number}" if number else "")


def create_app(
    settings: Settings, services: Services, *, http: httpx.Client | None = None
) -> FastAPI:
    """The console app. ``settings`` must have passed ``validate_for_console``."""
    policy = queue_policy(settings)
    client = http or httpx.Client(timeout=3.0)
    secret = settings.console_session_secret
    if secret is None or not settings.console_oidc_issuer:
        raise ValueError("console settings not validated (validate_for_console)")
    public = settings.console_public_url.rstrip("/")
    oauth = OAuth()
    client_kwargs: dict[str, Any] = {
        "scope": settings.console_oidc_scopes,
        "code_challenge_method": "S256",
    }
    if settings.console_oidc_client_secret is None:
        client_kwargs["token_endpoint_auth_method"] = "none"
    oauth.register(
        "idp",
        server_metadata_url=settings.console_oidc_issuer.rstrip("/")
        + "/.well-known/openid-configuration",
        client_id=settings.console_oidc_client_id,
        client_secret=(
            settings.console_oidc_client_secret.get_secret_value()
            if settings.console_oidc_client_secret
            else None
        ),
        client_kwargs=client_kwargs,
    )
    idp = oauth.create_client("idp")
    templates = Environment(
        loader=PackageLoader("bot.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    app = FastAPI(
        title="Forge Assist console",
        version="0.1.0",
        description="What the bot received, ran, posted and cost. Every /api call needs an "
        "API key (`assist console key create`) as a Bearer token.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret.get_secret_value(),
        session_cookie=COOKIE,
        max_age=settings.console_session_hours * 3600,
        same_site="lax",
        https_only=public.startswith("https://"),
    )

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    app.mount(
        "/static",
        StaticFiles(packages=[("bot.console", "static")]),
        name="static",
    )

    # --- who -------------------------------------------------------------------------------
    def page_user(request: Request) -> Principal:
        user = request.session.get("user")
        if not isinstance(user, dict) or user.get("role") not in ("viewer", OPERATOR):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target)
        return Principal(
            str(user["sub"]), str(user.get("name") or user["sub"]), user["role"], "session"
        )

    bearer = HTTPBearer(
        auto_error=False,
        scheme_name="ApiKey",
        description="An API key from `assist console key create`, as a Bearer token.",
    )

    def api_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if creds is None:
            raise HTTPException(
                401, "an API key is required", headers={"WWW-Authenticate": "Bearer"}
            )
        info = authenticate(services.engine, creds.credentials)
        if info is None:
            raise HTTPException(
                401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
            )
        return Principal(f"key:{info.name}", info.name, info.role, "key")

    PageUser = Annotated[Principal, Depends(page_user)]
    ApiUser = Annotated[Principal, Depends(api_user)]

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.method != "GET":
            return _render(
                request,
                None,
                "message.html",
                status=401,
                title="Signed out",
                message="Your session ended: sign in again.",
            )
        return RedirectResponse("/login?" + httpx.QueryParams(next=exc.target).__str__(), 303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        user = request.session.get("user")
        who = page_user(request) if isinstance(user, dict) and user.get("role") else None
        return _render(
            request, who, "message.html", status=exc.status, title="Not done", message=exc.message
        )

    def _render(
        request: Request,
        user: Principal | None,
        name: str,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        flash = request.session.pop("flash", None)
        if user is not None and "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        html = templates.get_template(name).render(
            user=user,
            csrf=request.session.get("csrf", ""),
            flash=flash,
            path=request.url.path,
            forge_url=lambda f, r, n=None: forge_web_url(settings, f, r, n),
            **context,
        )
        return HTMLResponse(html, status_code=status)

    async def _form_checked(request: Request) -> dict[str, str]:
        form = await request.form()
        if not same_token(request.session.get("csrf"), form.get("csrf")):
            log.warning("console: CSRF token missing or wrong on %s", request.url.path)
            raise Refused(403, "The form's CSRF token is missing or wrong; reload the page.")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    # --- sign-in ---------------------------------------------------------------------------
    @app.get("/login", include_in_schema=False)
    async def login(request: Request, next: str = "/") -> Response:
        request.session["next"] = safe_next(next)
        return await idp.authorize_redirect(request, public + "/auth/callback")  # type: ignore[no-any-return]

    @app.get("/auth/callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        try:
            token = await idp.authorize_access_token(request)
        except OAuthError as exc:
            log.warning("console sign-in failed: %s", exc.error)
            raise Refused(400, f"Sign-in failed ({exc.error}). Try again.") from None
        claims = dict(token.get("userinfo") or {})
        role = role_from_claims(claims, settings)
        subject = str(claims.get("sub") or "")
        if role is None or not subject:
            log.warning("console sign-in refused: no console role for %s", subject or "?")
            raise Refused(403, "Your account has no console role (viewer or operator).")
        target = safe_next(str(request.session.get("next") or "/"))
        request.session.clear()  # nothing from before sign-in carries over
        name = str(claims.get("name") or claims.get("email") or subject)
        request.session["user"] = {"sub": subject, "name": name[:120], "role": role}
        request.session["csrf"] = secrets.token_urlsafe(32)
        log.info("console sign-in: %s as %s", subject, role)
        return RedirectResponse(target, 303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await _form_checked(request)
        request.session.clear()
        return _render(
            request, None, "message.html", title="Signed out", message="You are signed out."
        )

    @app.get("/", include_in_schema=False)
    def home(user: PageUser) -> Response:  # noqa: ARG001 - signed-in only
        return RedirectResponse("/deliveries", 303)

    # --- pages -----------------------------------------------------------------------------
    Forge = Annotated[str | None, Query(max_length=16)]
    Text = Annotated[str | None, Query(max_length=512)]

    @app.get("/deliveries", include_in_schema=False)
    def deliveries_page(
        request: Request,
        user: PageUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        status: Text = None,
        before: int | None = None,
    ) -> Response:
        f = _filters(forge, repo, since, until, status, None, before, queries.DELIVERY_OUTCOMES)
        rows = queries.deliveries(services.engine, f, scope_for(settings, user.role))
        return _render(
            request,
            user,
            "deliveries.html",
            rows=rows,
            f=f,
            params=request.query_params,
            statuses=queries.DELIVERY_OUTCOMES,
            choices=_choices(scope_for(settings, user.role)),
        )

    @app.get("/jobs", include_in_schema=False)
    def jobs_page(
        request: Request,
        user: PageUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        status: Text = None,
        kind: Text = None,
        before: int | None = None,
    ) -> Response:
        f = _filters(forge, repo, since, until, status, kind, before, queries.JOB_STATUSES)
        scope = scope_for(settings, user.role)
        rows = queries.jobs(services.engine, f, scope)
        return _render(
            request,
            user,
            "jobs.html",
            rows=rows,
            f=f,
            params=request.query_params,
            statuses=queries.JOB_STATUSES,
            choices=_choices(scope),
        )

    choices_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}

    def _choices(scope: queries.Scope) -> dict[str, Any]:
        """The filter forms' choices, kept a minute: they scan job_runs (bench/console.py)."""
        now = time.monotonic()
        hit = choices_cache.get(scope.patterns)
        if hit is not None and now - hit[0] < CHOICES_TTL_S:
            return hit[1]
        value = dict(queries.distinct_values(services.engine, scope))
        choices_cache[scope.patterns] = (now, value)
        return value

    def _job_or_404(user: Principal, job_id: str) -> dict[str, Any]:
        row = queries.job(services.engine, job_id, scope_for(settings, user.role))
        if row is None:
            raise Refused(404, f"No job {job_id} that you may see.")
        return row

    @app.get("/jobs/{job_id}", include_in_schema=False)
    def job_page(request: Request, user: PageUser, job_id: str) -> Response:
        row = _job_or_404(user, job_id)
        state = _safe_state(job_id)
        return _render(request, user, "job.html", job=row, state=state)

    def _safe_state(job_id: str) -> str | None:
        try:
            return job_state(services.redis, job_id)
        except Exception as exc:  # the page still shows the record
            log.warning("console: Redis unavailable for job state: %s", type(exc).__name__)
            return "unknown (Redis unavailable)"

    def _act(user: Principal, job_id: str, action: str) -> ActionOut:
        """Retry or cancel, as ``assist jobs retry|cancel`` do; operators only, in scope."""
        if user.role != OPERATOR:
            log.warning("console: %s refused %s of %s (viewer)", user.subject, action, job_id)
            raise Refused(403, f"Only operators may {action} jobs.")
        _job_or_404(user, job_id)
        if action == "retry":
            done = retry_jobs(services.redis, policy, [job_id]) == [job_id]
            message = "requeued" if done else "not in a failed registry (nothing to retry)"
        else:
            done = cancel_jobs(services.redis, [job_id]) == [job_id]
            message = "cancelled" if done else "not waiting (nothing to cancel)"
        log.warning("console: %s %s %s: %s", user.subject, action, job_id, message)
        return ActionOut(job_id=job_id, action=action, done=done, message=message)

    async def _act_page(request: Request, user: Principal, job_id: str, action: str) -> Response:
        await _form_checked(request)
        result = await run_in_threadpool(_act, user, job_id, action)
        request.session["flash"] = f"{action}: {result.message}"
        return RedirectResponse(f"/jobs/{job_id}", 303)

    @app.post("/jobs/{job_id}/retry", include_in_schema=False)
    async def retry_page(request: Request, user: PageUser, job_id: str) -> Response:
        return await _act_page(request, user, job_id, "retry")

    @app.post("/jobs/{job_id}/cancel", include_in_schema=False)
    async def cancel_page(request: Request, user: PageUser, job_id: str) -> Response:
        return await _act_page(request, user, job_id, "cancel")

    def _change(user: Principal, forge: str, repo: str, number: int) -> dict[str, Any]:
        if forge not in FORGES:
            raise Refused(400, f"forge must be one of {', '.join(FORGES)}")
        row = queries.change(services.engine, forge, repo, number, scope_for(settings, user.role))
        if row is None:
            raise Refused(404, "No such change that you may see.")
        return row

    @app.get("/change", include_in_schema=False)
    def change_page(
        request: Request,
        user: PageUser,
        forge: Annotated[str, Query(max_length=16)],
        repo: Annotated[str, Query(max_length=512)],
        number: int,
    ) -> Response:
        return _render(request, user, "change.html", change=_change(user, forge, repo, number))

    @app.get("/repositories", include_in_schema=False)
    def repositories_page(
        request: Request,
        user: PageUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
    ) -> Response:
        f = _filters(forge, repo, since, until, None, None, None, ())
        scope = scope_for(settings, user.role)
        rows = queries.repositories(services.engine, f, scope)
        return _render(
            request,
            user,
            "repositories.html",
            rows=rows,
            params=request.query_params,
            choices=_choices(scope),
        )

    @app.get("/costs", include_in_schema=False)
    def costs_page(
        request: Request,
        user: PageUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        kind: Text = None,
        by: Annotated[str, Query(pattern="^(day|repo|kind)$")] = "day",
    ) -> Response:
        f = _filters(forge, repo, since, until, None, kind, None, ())
        scope = scope_for(settings, user.role)
        rows = queries.costs(services.engine, f, scope, by=by)
        svg = bar_chart(
            f"Tokens per {by}",
            [r["key"] or "(none)" for r in rows],
            [
                ("prompt tokens", [r["prompt_tokens"] for r in rows]),
                ("completion tokens", [r["completion_tokens"] for r in rows]),
            ],
        )
        return _render(
            request,
            user,
            "costs.html",
            rows=rows,
            by=by,
            chart=Markup(svg),
            params=request.query_params,
            choices=_choices(scope),
        )

    def _health() -> dict[str, Any]:
        return probe(settings, services.engine, services.redis, policy, client).as_dict()

    @app.get("/health", include_in_schema=False)
    def health_page(request: Request, user: PageUser) -> Response:
        return _render(request, user, "health.html", health=_health())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    registry = console_registry(services.engine)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Job outcomes and tokens (counts by kind only), for a scraper inside the cluster."""
        return Response(expose(registry), media_type=CONTENT_TYPE_LATEST)

    # --- JSON API (API keys) ---------------------------------------------------------------
    @app.get("/api/deliveries", response_model=list[DeliveryOut], tags=["console"])
    def api_deliveries(
        user: ApiUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        status: Text = None,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded webhook deliveries, newest first (50 a page; ``before`` = last id seen)."""
        f = _filters(forge, repo, since, until, status, None, before, queries.DELIVERY_OUTCOMES)
        return queries.deliveries(services.engine, f, scope_for(settings, user.role))

    @app.get("/api/jobs", response_model=list[JobOut], tags=["console"])
    def api_jobs(
        user: ApiUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        status: Text = None,
        kind: Text = None,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Job runs, newest first, with their errors and why deferred ones wait."""
        f = _filters(forge, repo, since, until, status, kind, before, queries.JOB_STATUSES)
        return queries.jobs(services.engine, f, scope_for(settings, user.role))

    @app.get("/api/jobs/{job_id}", tags=["console"])
    def api_job(user: ApiUser, job_id: str) -> dict[str, Any]:
        """One job: its record, usage and the deliveries that created it."""
        row = _job_or_404(user, job_id)
        row["state"] = _safe_state(job_id)
        return row

    @app.post("/api/jobs/{job_id}/retry", response_model=ActionOut, tags=["console"])
    def api_retry(user: ApiUser, job_id: str) -> ActionOut:
        """Requeue a failed job (operator keys only)."""
        return _act(user, job_id, "retry")

    @app.post("/api/jobs/{job_id}/cancel", response_model=ActionOut, tags=["console"])
    def api_cancel(user: ApiUser, job_id: str) -> ActionOut:
        """Cancel a job that has not started (operator keys only)."""
        return _act(user, job_id, "cancel")

    @app.get("/api/change", tags=["console"])
    def api_change(
        user: ApiUser,
        forge: Annotated[str, Query(max_length=16)],
        repo: Annotated[str, Query(max_length=512)],
        number: int,
    ) -> dict[str, Any]:
        """A pull/merge request's timeline, jobs and findings."""
        return _change(user, forge, repo, number)

    @app.get("/api/repositories", tags=["console"])
    def api_repositories(
        user: ApiUser, forge: Forge = None, repo: Text = None
    ) -> list[dict[str, Any]]:
        """Repositories with jobs: reviews, failures, index state, findings by status."""
        f = _filters(forge, repo, None, None, None, None, None, ())
        return queries.repositories(services.engine, f, scope_for(settings, user.role))

    @app.get("/api/costs", tags=["console"])
    def api_costs(
        user: ApiUser,
        forge: Forge = None,
        repo: Text = None,
        since: Text = None,
        until: Text = None,
        kind: Text = None,
        by: Annotated[str, Query(pattern="^(day|repo|kind)$")] = "day",
    ) -> list[dict[str, Any]]:
        """Prompt/completion tokens and model seconds per day, repository or job kind."""
        f = _filters(forge, repo, since, until, None, kind, None, ())
        return queries.costs(services.engine, f, scope_for(settings, user.role), by=by)

    @app.get("/api/health", tags=["console"])
    def api_health(user: ApiUser) -> dict[str, Any]:  # noqa: ARG001 - any valid key
        """Database, Redis, queues, workers, model replicas, Qdrant, sandbox."""
        return _health()

    return app
