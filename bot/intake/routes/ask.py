"""`/assist ask <question>` on a pull/merge request: an answer in a reply."""

from __future__ import annotations

from collections.abc import Iterable

from bot.intake.events import CommandEvent, CommandName, Event, TargetKind
from bot.intake.routes._kwargs import command_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not (
        isinstance(event, CommandEvent)
        and event.command.name is CommandName.ASK
        and event.target is TargetKind.PULL
        and event.command.argument
    ):
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.jobs.ask.ask_job",
            job_id=job_id("ask", forge, repo, event.number, f"c{event.comment_id}", "ask"),
            kwargs=command_kwargs(event),
            description=f"ask {forge}:{repo}#{event.number} (command {event.comment_id})",
            announce="ask",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "answer /assist ask"),)
