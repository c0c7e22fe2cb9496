"""`/assist ask <question>` on a pull/merge request: an answer in a reply."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from bot.events import CommandEvent, CommandName, Event, TargetKind
from bot.features._kwargs import command_kwargs
from bot.jobs.context import WorkerContext
from bot.jobs.forge import accept_command, command_quotas, job_forge, job_repo
from bot.jobs.model import ready_model
from bot.jobs.record import recorded
from bot.review.ask import ask_change
from bot.routing import JobSpec, QueueName, Route, job_id


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not (
        isinstance(event, CommandEvent)
        and event.command.name is CommandName.ASK
        and event.target is TargetKind.PULL
        and event.command.argument
    ):
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.features.ask.ask_job",
            job_id=job_id("ask", forge, repo, event.number, f"c{event.comment_id}", "ask"),
            kwargs=command_kwargs(event),
            description=f"ask {forge}:{repo}#{event.number} (command {event.comment_id})",
        ),
    )


ROUTES = (Route(CommandEvent, _on_command, "answer /assist ask"),)


REFUSAL = (
    "Sorry, `/assist ask` needs write access to this repository (or being the author of "
    "this change)."
)


@recorded("ask")
def ask_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Answer the question in ``kwargs['argument']`` in a reply to the command."""
    repo = job_repo(kwargs)
    number = int(kwargs["number"])
    forge = job_forge(ctx, kwargs)
    comment, refused = accept_command(
        forge, repo, kwargs, refusal=REFUSAL, quotas=command_quotas(ctx)
    )
    if refused is not None:
        return refused
    settings = ready_model(ctx)  # fails in seconds, with the reason, when the model cannot
    answer = asyncio.run(
        ask_change(
            settings,
            forge,
            repo,
            number,
            str(kwargs["argument"]),
            default_branch=kwargs.get("default_branch"),
        )
    )
    reply = forge.respond(repo, comment, body=answer.text)
    return {
        "status": "answered",
        "reply_id": reply.id if reply else None,
        "chars": len(answer.text),
        "trimmed": answer.trimmed,
        "usage": dataclasses.asdict(answer.usage),
    }
