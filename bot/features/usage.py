"""`/assist help`, an unknown command, or a command where it cannot work: say how to use it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.events import CommandEvent, CommandName, Event, TargetKind
from bot.features._kwargs import command_kwargs
from bot.jobs.context import WorkerContext
from bot.jobs.forge import command_comment, command_quotas, job_forge, job_repo, verified_comment
from bot.jobs.record import recorded
from bot.quota import over_quota
from bot.routing import JobSpec, QueueName, Route, job_id
from bot.sanitize import inline

HELP_TEXT = """\
**Forge Assist** commands:

| command | where | what it does |
| --- | --- | --- |
| `/assist review` | pull/merge request | review the latest commits now |
| `/assist ask <question>` | pull/merge request | answer a question about the change |
| `/assist fix [guidance]` | issue, or the bot's own pull/merge request | propose a checked fix |
| `/assist remember <rule>` | anywhere, or a finding's thread | a rule for later reviews (write) |
| `/assist rules` | anywhere | list this repository's rules |
| `/assist forget <id>` | anywhere | remove a rule (write access) |
| `/assist help` | anywhere | this message |
"""


def _misuse(event: CommandEvent) -> str | None:
    name = event.command.name
    if name is CommandName.HELP:
        return (
            "help"
            if not event.command.argument
            else f"unknown command `{inline(event.command.argument, limit=80)}`"
        )
    if name in (CommandName.REVIEW, CommandName.ASK) and event.target is TargetKind.ISSUE:
        return f"`/assist {name.value}` works on pull/merge requests, not issues"
    if name is CommandName.ASK and not event.command.argument:
        return "`/assist ask` needs a question"
    return None


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, CommandEvent):
        return ()
    reason = _misuse(event)
    if reason is None:
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.features.usage.usage_job",
            job_id=job_id("help", forge, repo, event.number, f"c{event.comment_id}", "help"),
            kwargs={**command_kwargs(event), "reason": reason},
            description=f"help {forge}:{repo}#{event.number} ({reason})",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "help and misused commands"),)


@recorded("help")
def usage_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Reply with the help text (and why, when a command was misused): the commenter is read
    from the forge (GitLab) and counted against the command quotas like any command."""
    reason = str(kwargs["reason"])
    body = HELP_TEXT if reason == "help" else f"{inline(reason, limit=300)}.\n\n{HELP_TEXT}"
    forge = job_forge(ctx, kwargs)
    repo = job_repo(kwargs)
    comment = verified_comment(
        forge, repo, command_comment(kwargs), prefix=ctx.settings.command_prefix
    )
    if comment is None:  # a forged or edited note (GitLab): nothing is said
        return {"status": "refused", "reason": "unverified comment"}
    refused = over_quota(command_quotas(ctx), forge, repo, comment)
    if refused is not None:
        return refused
    reply = forge.respond(repo, comment, body=body)
    return {"status": "replied", "reason": reason, "reply_id": reply.id if reply else None}
