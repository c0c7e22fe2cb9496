"""Run a job body with its record in the database: running, done, failed or superseded."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from rq import get_current_job
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import JobRun
from bot.jobs.context import WorkerContext, current
from bot.queue import is_superseded

log = logging.getLogger(__name__)
P = ParamSpec("P")
Body = Callable[..., dict[str, Any]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _begin(ctx: WorkerContext, job_id: str, kind: str, kwargs: dict[str, Any]) -> None:
    with Session(ctx.engine) as session, session.begin():
        run = session.scalar(select(JobRun).where(JobRun.job_id == job_id).with_for_update())
        if run is None:
            run = JobRun(
                job_id=job_id,
                kind=kind,
                forge=kwargs.get("forge"),
                repo=kwargs.get("repo"),
                number=kwargs.get("number"),
                head_sha=kwargs.get("head_sha") or kwargs.get("after_sha"),
                status="running",
                attempts=0,
                detail={},
                usage={},
                error="",
            )
            session.add(run)
        run.status = "running"
        run.attempts += 1
        run.started_at = _now()


def _finish(
    ctx: WorkerContext, job_id: str, *, status: str, detail: dict[str, Any], error: str = ""
) -> None:
    with Session(ctx.engine) as session, session.begin():
        run = session.scalar(select(JobRun).where(JobRun.job_id == job_id))
        if run is None:  # pragma: no cover - _begin always creates it
            return
        run.status = status
        run.detail = detail
        run.usage = dict(detail.get("usage", {}))
        run.error = error
        run.finished_at = _now()


def recorded(kind: str) -> Callable[[Body], Body]:
    """Decorate a job body ``body(ctx, **kwargs) -> detail`` so every run is recorded.

    A failure is recorded and re-raised, so RQ's retry policy applies and the last failure stays
    visible in ``assist jobs list``.
    """

    def decorate(body: Body) -> Body:
        @functools.wraps(body)
        def run(**kwargs: Any) -> dict[str, Any]:
            ctx = current()
            job = get_current_job()
            job_id = job.id if job is not None else f"inline-{kind}"
            _begin(ctx, job_id, kind, kwargs)
            if job is not None and is_superseded(ctx.redis, job):
                detail = {"status": "superseded", "by": "a newer head"}
                _finish(ctx, job_id, status="superseded", detail=detail)
                log.info("job %s superseded", job_id, extra={"job_id": job_id})
                return detail
            try:
                detail = body(ctx, **kwargs)
            except Exception as exc:
                _finish(
                    ctx,
                    job_id,
                    status="failed",
                    detail={},
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
                raise
            _finish(ctx, job_id, status="done", detail=detail)
            return detail

        return run

    return decorate
