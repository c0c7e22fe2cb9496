"""`/assist help`, an unknown command, or a command where it cannot work: say how to use it."""

from __future__ import annotations

from collections.abc import Iterable

from bot.intake.events import CommandEvent, CommandName, Event, TargetKind
from bot.intake.routes._kwargs import command_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id
from bot.sanitize import inline


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
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.jobs.usage.usage_job",
            job_id=job_id("help", forge, repo, event.number, f"c{event.comment_id}", "help"),
            kwargs={**command_kwargs(event), "reason": reason},
            description=f"help {forge}:{repo}#{event.number} ({reason})",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "help and misused commands"),)
