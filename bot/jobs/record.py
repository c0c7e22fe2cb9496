"""Run a job body with its record in the database: running, done, failed or superseded."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec

from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import JobRun
from bot.jobs.context import WorkerContext, current
from bot.jobs.lifecycle import WHAT, is_final, report_failure, review_queued
from bot.jobs.limits import JobLimiter, Limits, defer
from bot.jobs.queue import is_superseded

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


def mark_lost(job_id: str, reason: str) -> bool:
    """Record a job whose process died under it (work horse killed, worker lost) as failed.

    Called by the worker, not the job: the job's own ``except`` never ran. Only a run still
    marked ``running`` changes; a retry marks it ``running`` again.
    """
    ctx = current()
    with Session(ctx.engine) as session, session.begin():
        run = session.scalar(select(JobRun).where(JobRun.job_id == job_id).with_for_update())
        if run is None or run.status != "running":
            return False
        run.status = "failed"
        run.error = reason[:2000]
        run.finished_at = _now()
    log.warning("job %s lost: %s", job_id, reason, extra={"job_id": job_id})
    return True


def lost(job: Job, reason: str) -> None:
    """A job whose process died under it: recorded failed, and when RQ will not retry it,
    shown on the forge (an ``error`` status and one note) so that nobody waits in silence."""
    if mark_lost(job.id, reason) and is_final(job):
        kind = str(job.func_name or "").rsplit(".", 1)[-1].removesuffix("_job")
        kwargs = dict(job.kwargs or {})
        _show_failure(current(), job.id, kind, kwargs, None, "the job's worker died")


def _show_failure(
    ctx: WorkerContext,
    job_id: str,
    kind: str,
    kwargs: dict[str, Any],
    exc: BaseException | None,
    reason: str | None = None,
) -> None:
    """The final failure on the forge; never raises (the failure is recorded either way)."""
    if kind not in WHAT or not kwargs.get("forge"):
        return
    from bot.forge.scopes import scope_of_job
    from bot.jobs.forge import job_forge, job_repo  # the forge layer, only when needed

    try:
        forge = job_forge(ctx, kwargs, scope=scope_of_job(kind))
        report_failure(
            forge, job_repo(kwargs), kwargs, kind=kind, job_id=job_id, exc=exc, reason=reason
        )
    except Exception:  # credentials missing or refused: the log and the job record remain
        log.exception("could not show the failure of job %s on the forge", job_id)


def _show_queued(ctx: WorkerContext, kind: str, kwargs: dict[str, Any], reason: str) -> None:
    if kind != "review" or not kwargs.get("head_sha") or not kwargs.get("forge"):
        return
    from bot.jobs.forge import job_forge, job_repo

    try:
        review_queued(
            job_forge(ctx, kwargs), job_repo(kwargs), str(kwargs["head_sha"]), f"held: {reason}"
        )
    except Exception:
        log.exception("could not show a queued review on the forge")


def _defer(ctx: WorkerContext, job: Job, limits: Limits, reason: str) -> dict[str, Any]:
    """Hold the job back: a continuation runs it later (delayed, never dropped)."""
    from bot.jobs.queue import queue_policy

    waited = int(job.meta.get("deferrals", 0))
    delay_s = limits.delay_s * min(1 + waited, 12)  # back off while the limit holds
    new_id = defer(ctx.redis, queue_policy(ctx.settings), job, delay_s=delay_s, reason=reason)
    return {"status": "deferred", "limit": reason, "continued_as": new_id}


def recorded(kind: str) -> Callable[[Body], Body]:
    """Decorate a job body ``body(ctx, **kwargs) -> detail`` so every run is recorded.

    A job held back by a limit (``bot.jobs.limits``) is recorded ``deferred`` with the id of the
    continuation that will run it.

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
            limiter = JobLimiter(ctx.redis, Limits.from_settings(ctx.settings))
            # One job at a time per pull request: two reviews of one change running at once
            # would both read "nothing posted yet" and both post.
            exclusive = str(job.meta.get("supersede_key") or "") if job is not None else ""
            try:
                if (
                    job is not None
                    and (held := limiter.admit(job_id, kwargs, exclusive=exclusive)) != "ok"
                ):
                    detail = _defer(ctx, job, limiter.limits, held)
                    _finish(ctx, job_id, status="deferred", detail=detail)
                    _show_queued(ctx, kind, kwargs, held)
                    return detail
                detail = body(ctx, **kwargs)
            except Exception as exc:
                _finish(
                    ctx,
                    job_id,
                    status="failed",
                    detail={},
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
                if is_final(job):
                    _show_failure(ctx, job_id, kind, kwargs, exc)
                raise
            finally:
                with contextlib.suppress(RedisError):  # else the slot's lease frees it
                    limiter.release(job_id, exclusive=exclusive)
            _finish(ctx, job_id, status="done", detail=detail)
            return detail

        return run

    return decorate
