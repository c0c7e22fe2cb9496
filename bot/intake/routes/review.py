"""Review a pull/merge request: on open, new commits, reopen, ready, or `/assist review`."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.intake.events import (
    CommandEvent,
    CommandName,
    Event,
    PullAction,
    PullRequestEvent,
    TargetKind,
)
from bot.intake.routes._kwargs import command_kwargs, pull_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id

JOB = "bot.jobs.review.review_job"
log = logging.getLogger(__name__)


def supersede_key(forge: str, repo: str, number: int) -> str:
    return f"review:{forge}:{repo}:{number}"


def _on_pull(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PullRequestEvent) or event.action is PullAction.CLOSED:
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func=JOB,
            job_id=job_id("review", forge, repo, event.number, event.head_sha, "review"),
            kwargs=pull_kwargs(event),
            description=f"review {forge}:{repo}#{event.number}@{event.head_sha[:12]}",
            supersede_key=supersede_key(forge, repo, event.number),
            announce="review",
        ),
    )


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not (
        isinstance(event, CommandEvent)
        and event.command.name is CommandName.REVIEW
        and event.target is TargetKind.PULL
    ):
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func=JOB,
            job_id=job_id("review", forge, repo, event.number, f"c{event.comment_id}", "review"),
            kwargs={**command_kwargs(event), "head_sha": None, "trigger": "command"},
            description=f"review {forge}:{repo}#{event.number} (command {event.comment_id})",
            supersede_key=supersede_key(forge, repo, event.number),
            announce="review",
        ),
    )


ROUTES = (
    Route(PullRequestEvent, _on_pull, "review on pull request activity"),
    Route(CommandEvent, _on_command, "review on /assist review"),
)
