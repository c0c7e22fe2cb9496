"""The forge a job talks to: built from the worker's settings, every write audited."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rq import get_current_job

from bot.audit import AuditedForge, SqlAuditLog
from bot.commands import parse_command
from bot.forge.factory import build_forge
from bot.forge.protocol import Forge
from bot.forge.types import Comment, ForgeKind, Reaction, RepoRef
from bot.jobs.context import WorkerContext
from bot.quota import CommandQuotas, over_quota


def job_repo(kwargs: Mapping[str, Any]) -> RepoRef:
    kind: ForgeKind = "gitlab" if kwargs["forge"] == "gitlab" else "github"
    return RepoRef(kind, str(kwargs["repo"]))


def job_forge(ctx: WorkerContext, kwargs: Mapping[str, Any], *, actor: str | None = None) -> Forge:
    """The adapter for the job's forge (App installation from the event when there is one),
    wrapped so that each write lands in the audit log with the job id and who caused it."""
    settings = ctx.settings
    repo = job_repo(kwargs)
    installation = kwargs.get("installation_id")
    inner = build_forge(
        settings,
        repo.forge,
        installation_id=int(installation) if installation else None,
        attempts=settings.forge_max_attempts,
        backoff_s=settings.forge_retry_backoff_s,
        github_write_pause_s=settings.github_write_pause_s,
        github_check_runs=settings.github_check_runs,
    )
    job = get_current_job()
    who = actor if actor is not None else str(kwargs.get("author") or "")
    return AuditedForge(inner, SqlAuditLog(ctx.engine), actor=who, job_id=job.id if job else "")


def command_comment(kwargs: Mapping[str, Any]) -> Comment:
    """The comment that carried a command, as the forge adapters need it to reply or react:
    a reply in a review thread (GitHub) or a discussion (GitLab) stays in its thread."""
    target = str(kwargs.get("target") or "pull")
    thread_comment = kwargs.get("thread_comment_id")
    discussion = kwargs.get("discussion_id")
    return Comment(
        id=int(kwargs["comment_id"]),
        kind="review" if thread_comment and kwargs["forge"] == "github" else "issue",
        number=int(kwargs["number"]),
        author=str(kwargs.get("author") or ""),
        body="",
        thread_id=str(discussion) if discussion else None,
        on="issue" if target == "issue" else "change",
    )


def verified_comment(
    forge: Forge,
    repo: RepoRef,
    comment: Comment,
    *,
    prefix: str = "/assist",
    require_command: bool = True,
) -> Comment | None:
    """The command's comment with its author from the forge's API (GitLab: the note re-read;
    the payload's ``user`` is never believed), or None when the API does not show that note
    (forged or deleted), or shows it without a command when one is required (edited): then
    nothing runs. ``require_command=False``: a reply that addresses the bot by mention."""
    posted = forge.comment_as_posted(repo, comment)
    if posted is None:
        return None
    needs = require_command and repo.forge == "gitlab"
    if needs and parse_command(posted.body, prefix=prefix) is None:
        return None
    return dataclasses.replace(comment, author=posted.author)


def command_quotas(ctx: WorkerContext) -> CommandQuotas:
    """The command quotas of the worker's settings, counted in its Redis."""
    return CommandQuotas.from_settings(ctx.redis, ctx.settings)


def may_command(forge: Forge, repo: RepoRef, user: str, *, change_author: str | None) -> bool:
    """Costly commands need write access to the repository, or being the change's author
    (who may ask for a review of their own pull request)."""
    if change_author is not None and user and user == change_author:
        return True
    return forge.permission(repo, user).can_write


def accept_command(
    forge: Forge,
    repo: RepoRef,
    kwargs: Mapping[str, Any],
    *,
    refusal: str,
    require_command: bool = True,
    quotas: CommandQuotas | None = None,
) -> tuple[Comment, dict[str, Any] | None]:
    """Check the commenter may run this costly command on the change: refuse politely in a
    reply (second value: the job's result), or acknowledge with a reaction (second: None).
    ``require_command=False`` for a reply addressing the bot in its thread (no command).
    Over a command quota (``bot.quota``) nothing more is asked of the forge: the window's
    first refusal replies once, later ones post nothing."""
    comment = verified_comment(
        forge, repo, command_comment(kwargs), require_command=require_command
    )
    if comment is None:
        return command_comment(kwargs), {"status": "refused", "reason": "unverified comment"}
    refused = over_quota(quotas, forge, repo, comment)
    if refused is not None:
        return comment, refused
    change = forge.get_change(repo, int(kwargs["number"]))
    if not may_command(forge, repo, comment.author, change_author=change.author):
        forge.respond(repo, comment, body=refusal)
        return comment, {"status": "refused", "reason": "no write access", "user": comment.author}
    forge.respond(repo, comment, reaction=Reaction.EYES)
    return comment, None
