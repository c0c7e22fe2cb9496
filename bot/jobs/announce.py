"""Announce a queued job on the forge, from a worker: the web process never calls a forge.

When intake queues a review (or a `/assist fix` or `/assist ask`), the queue adds a tiny job on
the ``status`` queue, which every job worker takes first: it sets the review's ``pending``
status ("queued"), or acknowledges a command with an eyes reaction, and exits.

It never overwrites a later state. Under a short Redis lock per announced job, it acts only
while that job is still waiting (queued, scheduled or deferred in RQ) and not superseded by a
newer head; the job, when it starts, waits for that lock (:func:`after_announce`) before it
shows anything itself. So "queued" can never land after "reviewing" or a result. A command is
acknowledged only once its comment is verified, its author may run it and is within the
command quotas, as the job itself checks (a refusal is the job's to say).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.exceptions import LockError
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from bot.access.commands import command_comment, may_command, verified_comment
from bot.access.quota import CommandQuotas
from bot.domain import RepoRef
from bot.forge.audit import AuditedForge, SqlAuditLog
from bot.forge.errors import ForgeError
from bot.forge.factory import build_forge
from bot.forge.protocol import Forge
from bot.forge.types import Reaction
from bot.jobs.context import WorkerContext, current
from bot.jobs.forge import identity_store, job_repo
from bot.jobs.lifecycle import review_queued
from bot.jobs.queue import is_superseded

log = logging.getLogger(__name__)
LOCK_PREFIX = "assist:announce:"
LOCK_S = 30  # the most an announce holds back its job's own first status
WAITING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
QUEUED_REASON = "waiting for a worker"


def after_announce(redis: Redis, job_id: str) -> None:
    """Called by a job before it shows its own state: wait while an announce of it is being
    posted (at most ``LOCK_S``), so that its state lands after the announce's."""
    lock = redis.lock(LOCK_PREFIX + job_id, timeout=LOCK_S, blocking_timeout=LOCK_S)
    try:
        if lock.acquire():
            lock.release()
    except LockError:  # held past its timeout: go on, the announce is late anyway
        log.info("job %s did not wait for its announce", job_id)


def why_not(redis: Redis, job_id: str) -> str | None:
    """None while job ``job_id`` still waits to run; else why announcing it is moot."""
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return "the job is gone"
    status = job.get_status(refresh=False)
    if status not in WAITING:
        return f"the job is already {status.value if status else 'unknown'}"
    if is_superseded(redis, job):
        return "superseded by a newer job"
    return None


def announce_forge(ctx: WorkerContext, kwargs: Mapping[str, Any]) -> Forge:
    """The job's forge, audited, tried once: an announce late by a retry is worth nothing."""
    settings = ctx.settings
    installation = kwargs.get("installation_id")
    inner = build_forge(
        settings,
        job_repo(kwargs).forge,
        installation_id=int(installation) if installation else None,
        scope="review",  # a pending status, a reaction on the command: no contents write
        identity_store=identity_store(ctx),  # who we are, cached for every worker
        attempts=1,
        github_write_pause_s=0,
        github_check_runs=settings.github_check_runs,
    )
    job = get_current_job()
    return AuditedForge(
        inner,
        SqlAuditLog(ctx.engine),
        actor=str(kwargs.get("author") or ""),
        job_id=job.id if job is not None else "",
    )


def show_queued(
    forge: Forge,
    repo: RepoRef,
    kwargs: Mapping[str, Any],
    *,
    prefix: str,
    quotas: CommandQuotas | None = None,
) -> dict[str, Any]:
    """What the announce shows: a pending review status, an acknowledged command, or both."""
    kind = str(kwargs.get("kind") or "")
    number = int(kwargs["number"])
    shown: dict[str, Any] = {"status": "announced", "kind": kind}
    head = str(kwargs.get("head_sha") or "")
    if kwargs.get("comment_id"):
        comment = verified_comment(forge, repo, command_comment(kwargs), prefix=prefix)
        if comment is None:
            return {"status": "skipped", "reason": "unverified comment"}
        if quotas is not None and quotas.would_refuse(
            repo.forge, repo.path, comment.author, command_id=str(comment.id)
        ):
            return {"status": "skipped", "reason": "over a command quota (the job says so)"}
        change = None if kind == "fix" else forge.get_change(repo, number)
        author = change.author if change is not None else None
        if not may_command(forge, repo, comment.author, change_author=author):
            return {"status": "skipped", "reason": "not allowed (the job says so)"}
        forge.respond(repo, comment, reaction=Reaction.EYES)
        shown["reaction"] = Reaction.EYES.value
        if change is not None and not head:
            head = change.head_sha
    if kind == "review" and head:
        shown["pending"] = review_queued(forge, repo, head, QUEUED_REASON)
        shown["head_sha"] = head
    return shown


def announce_job(**kwargs: Any) -> dict[str, Any]:
    """Show job ``kwargs['for_job']`` as queued on the forge, unless it runs, ran or is
    superseded already. Cheap and idempotent; a forge error is logged, never retried."""
    ctx = current()
    target = str(kwargs["for_job"])
    lock = ctx.redis.lock(LOCK_PREFIX + target, timeout=LOCK_S)
    if not lock.acquire(blocking=False):
        return {"status": "skipped", "reason": "announced by another worker"}
    try:
        reason = why_not(ctx.redis, target)
        if reason is not None:
            return {"status": "skipped", "reason": reason}
        try:
            forge = announce_forge(ctx, kwargs)
            return show_queued(
                forge,
                job_repo(kwargs),
                kwargs,
                prefix=ctx.settings.command_prefix,
                quotas=CommandQuotas.from_settings(ctx.redis, ctx.settings),
            )
        except ForgeError as exc:
            log.warning("could not announce job %s: %s", target, exc, extra={"job_id": target})
            return {"status": "failed", "reason": type(exc).__name__}
    finally:
        with contextlib.suppress(LockError):
            lock.release()
