"""The FastAPI application: webhooks in, 202 out. It never calls a forge or the model."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.access.quota import CommandQuotas
from bot.db.deliveries import Outcome, SqlDeliveryStore
from bot.domain import Forge
from bot.feedback.store import SqlFeedback
from bot.intake.core import Answer, Intake
from bot.intake.routes import all_routes
from bot.jobs.queue import RQJobQueue, queue_policy
from bot.runtime import Services
from bot.settings import Settings
from bot.web.metrics import IntakeMetrics

log = logging.getLogger(__name__)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds ``limit`` bytes (never buffered past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: Settings, services: Services, *, metrics_dir: str | None = None
) -> FastAPI:
    queue = RQJobQueue(services.redis, queue_policy(settings))
    intake = Intake(
        settings=settings,
        store=SqlDeliveryStore(services.engine),
        queue=queue,
        routes=all_routes(),
    )
    feedback = SqlFeedback(services.engine)
    metrics = IntakeMetrics(
        queue.depth,
        multiprocess_dir=metrics_dir,
        outcomes=feedback.outcome_counts,
        refusals=CommandQuotas.from_settings(services.redis, settings).refusal_counts,
    )
    app = FastAPI(title="Forge Assist", version="0.1.0", docs_url=None, redoc_url=None)

    def respond(forge: Forge, answer: Answer, started: float) -> JSONResponse:
        metrics.deliveries.labels(forge.value, answer.event, answer.outcome.value).inc()
        if answer.outcome is Outcome.UNAUTHORIZED:
            metrics.unauthenticated.labels(forge.value, answer.reason or "unknown").inc()
        metrics.latency.labels(forge.value).observe(time.perf_counter() - started)
        headers = {"Retry-After": "30"} if answer.status == 503 else None
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    async def receive(forge: Forge, request: Request) -> JSONResponse:
        started = time.perf_counter()
        headers: Mapping[str, str] = request.headers
        early = intake.precheck(forge, headers)  # before a byte of the body is read
        if early is not None:
            return respond(forge, early, started)
        body = await _read_limited(request, settings.max_body_bytes)
        if body is None:
            size = int(request.headers.get("content-length") or settings.max_body_bytes + 1)
            answer = await run_in_threadpool(intake.too_large, forge, headers, size)
        else:
            answer = await run_in_threadpool(intake.handle, forge, headers, body)
        return respond(forge, answer, started)

    @app.post("/webhooks/github", summary="GitHub webhook deliveries")
    async def github_webhook(request: Request) -> JSONResponse:
        return await receive(Forge.GITHUB, request)

    @app.post("/webhooks/gitlab", summary="GitLab webhook deliveries")
    async def gitlab_webhook(request: Request) -> JSONResponse:
        return await receive(Forge.GITLAB, request)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def _check() -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        try:
            services.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
        return checks

    @app.get("/readyz", summary="Database and Redis are reachable")
    async def readyz() -> JSONResponse:
        checks = await run_in_threadpool(_check)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def prometheus() -> Response:
        data = await run_in_threadpool(metrics.expose)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    return app
