"""`/assist fix`: from an issue (or our own pull request) to a checked change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.events import CommandEvent, CommandName, Event
from bot.features._kwargs import command_kwargs
from bot.jobs.context import WorkerContext
from bot.jobs.record import recorded
from bot.routing import JobSpec, QueueName, Route, job_id


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, CommandEvent) or event.command.name is not CommandName.FIX:
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.FIX,
            func="bot.features.fix.fix_job",
            job_id=job_id("fix", forge, repo, event.number, f"c{event.comment_id}", "fix"),
            kwargs=command_kwargs(event),
            description=f"fix {forge}:{repo}#{event.number} (command {event.comment_id})",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "fix on /assist fix"),)


@recorded("fix")
def fix_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Fix issue ``kwargs['number']`` (or iterate on our own fix change): see bot/fix/job.py."""
    from bot.fix.job import FixCommand, FixJob
    from bot.fix.workspace import env_for_git
    from bot.jobs.forge import command_quotas, job_forge, job_repo
    from bot.jobs.model import ready_model

    command = FixCommand.from_kwargs(job_repo(kwargs), kwargs)
    settings = ready_model(ctx)  # fails in seconds, with the reason, when the model cannot
    job = FixJob(
        job_forge(ctx, kwargs),
        settings,
        command,
        git_env=env_for_git(),
        quotas=command_quotas(ctx),
    )
    return {**job.run(), "target": kwargs.get("target")}
