"""Feedback on our findings (docs/feedback.md): reactions, replies and thread state from
webhooks, a harvest when a change closes, answers in our threads, and the repository rules
commands `/assist remember`, `/assist rules`, `/assist forget`."""

from __future__ import annotations

from collections.abc import Iterable

from bot.intake.events import (
    CommandEvent,
    CommandName,
    Event,
    FeedbackEvent,
    FeedbackKind,
    PullAction,
    PullRequestEvent,
)
from bot.intake.routes._kwargs import command_kwargs, pull_kwargs, repo_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id


def _on_feedback(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, FeedbackEvent):
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    ident = (
        event.kind.value,
        event.comment_id or event.target_comment_id,
        event.value if event.kind is not FeedbackKind.REPLY else "",
        event.actor,
        "revoke" if event.revoked else "",
    )
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.jobs.feedback.feedback_job",
            job_id=job_id("feedback", forge, repo, event.number, *ident),
            kwargs={
                **repo_kwargs(event.repo),
                "number": event.number,
                "kind": event.kind.value,
                "value": event.value[:4000],
                "author": event.actor,
                "comment_id": event.comment_id,
                "target_comment_id": event.target_comment_id,
                "discussion_id": event.discussion_id,
                "thread_comment_id": event.target_comment_id if forge == "github" else None,
                "addressed": event.addressed,
                "revoked": event.revoked,
                "target": "pull",
            },
            description=f"feedback {forge}:{repo}#{event.number} ({event.kind.value})",
        ),
    )


def _on_closed(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PullRequestEvent) or event.action is not PullAction.CLOSED:
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.jobs.feedback.harvest_job",
            job_id=job_id("harvest", forge, repo, event.number, event.head_sha, "closed"),
            kwargs={**pull_kwargs(event), "merged": event.merged},
            description=f"harvest feedback {forge}:{repo}#{event.number} (closed)",
        ),
    )


_RULE_COMMANDS = (CommandName.REMEMBER, CommandName.RULES, CommandName.FORGET)


def _on_rules(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, CommandEvent) or event.command.name not in _RULE_COMMANDS:
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    name = event.command.name.value
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func="bot.jobs.feedback.rules_job",
            job_id=job_id("rules", forge, repo, event.number, f"c{event.comment_id}", name),
            kwargs={**command_kwargs(event), "command": name},
            description=f"{name} {forge}:{repo}#{event.number} (command {event.comment_id})",
        ),
    )


ROUTES = (
    Route(FeedbackEvent, _on_feedback, "record feedback on a finding; answer in its thread"),
    Route(PullRequestEvent, _on_closed, "harvest feedback when a change closes"),
    Route(CommandEvent, _on_rules, "repository rules: remember, rules, forget"),
)
