"""The forge a job talks to: built from the worker's settings, every write audited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rq import get_current_job

from bot.access.quota import CommandQuotas
from bot.domain import ForgeKind, RepoRef
from bot.forge.audit import AuditedForge, SqlAuditLog
from bot.forge.factory import build_forge
from bot.forge.identity import RedisIdentityStore
from bot.forge.protocol import Forge
from bot.forge.scopes import TokenScope
from bot.jobs.context import WorkerContext


def job_repo(kwargs: Mapping[str, Any]) -> RepoRef:
    kind = ForgeKind.GITLAB if kwargs["forge"] == "gitlab" else ForgeKind.GITHUB
    return RepoRef(kind, str(kwargs["repo"]))


def job_forge(
    ctx: WorkerContext,
    kwargs: Mapping[str, Any],
    *,
    actor: str | None = None,
    scope: TokenScope = "review",
) -> Forge:
    """The adapter for the job's forge (App installation from the event when there is one;
    its tokens for the job's repository alone, with the permissions of ``scope``), wrapped so
    that each write lands in the audit log with the job id and who caused it."""
    settings = ctx.settings
    repo = job_repo(kwargs)
    installation = kwargs.get("installation_id")
    inner = build_forge(
        settings,
        repo.forge,
        installation_id=int(installation) if installation else None,
        scope=scope,
        attempts=settings.forge_max_attempts,
        backoff_s=settings.forge_retry_backoff_s,
        github_write_pause_s=settings.github_write_pause_s,
        github_check_runs=settings.github_check_runs,
        identity_store=identity_store(ctx),
    )
    job = get_current_job()
    who = actor if actor is not None else str(kwargs.get("author") or "")
    return AuditedForge(inner, SqlAuditLog(ctx.engine), actor=who, job_id=job.id if job else "")


def command_quotas(ctx: WorkerContext) -> CommandQuotas:
    """The command quotas of the worker's settings, counted in its Redis."""
    return CommandQuotas.from_settings(ctx.redis, ctx.settings)


def identity_store(ctx: WorkerContext) -> RedisIdentityStore:
    """Our identity as the forge's API gave it, shared by every worker through Redis."""
    return RedisIdentityStore(ctx.redis, prefix=f"{ctx.settings.queue_prefix}assist:id:")
