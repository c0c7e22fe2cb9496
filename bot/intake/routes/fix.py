"""`/assist fix`: from an issue (or our own pull request) to a checked change."""

from __future__ import annotations

from collections.abc import Iterable

from bot.intake.events import CommandEvent, CommandName, Event
from bot.intake.routes._kwargs import command_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, CommandEvent) or event.command.name is not CommandName.FIX:
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.FIX,
            func="bot.jobs.fix.fix_job",
            job_id=job_id("fix", forge, repo, event.number, f"c{event.comment_id}", "fix"),
            kwargs=command_kwargs(event),
            description=f"fix {forge}:{repo}#{event.number} (command {event.comment_id})",
            announce="fix",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "fix on /assist fix"),)
