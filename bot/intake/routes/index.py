"""Keep the repository index fresh: default-branch pushes, installs, closed pull requests."""

from __future__ import annotations

from collections.abc import Iterable

from bot.intake.events import Event, InstallationEvent, PullAction, PullRequestEvent, PushEvent
from bot.intake.routes._kwargs import pull_kwargs, repo_kwargs
from bot.intake.routing import JobSpec, QueueName, Route, job_id


def _on_push(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PushEvent):
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.INDEX,
            func="bot.jobs.index.index_job",
            job_id=job_id("index", forge, repo, event.branch, event.after_sha, "index"),
            kwargs={
                **repo_kwargs(event.repo),
                "branch": event.branch,
                "before_sha": event.before_sha,
                "after_sha": event.after_sha,
            },
            description=f"index {forge}:{repo}@{event.branch} {event.after_sha[:12]}",
            supersede_key=f"index:{forge}:{repo}:{event.branch}",
        ),
    )


def _on_closed(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PullRequestEvent) or event.action is not PullAction.CLOSED:
        return ()
    forge, repo = event.repo.forge.value, event.repo.path
    return (
        JobSpec(
            queue=QueueName.INDEX,
            func="bot.jobs.index.forget_pull_job",
            job_id=job_id("forget", forge, repo, event.number, event.head_sha, "closed"),
            kwargs=pull_kwargs(event),
            description=f"forget {forge}:{repo}#{event.number} overlay (closed)",
        ),
    )


def _on_installation(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, InstallationEvent):
        return ()
    forge = event.forge.value
    return (
        JobSpec(
            queue=QueueName.INDEX,
            func="bot.jobs.index.installation_job",
            job_id=job_id(
                "install", forge, event.installation_id, event.action.value, *event.repositories
            ),
            kwargs={
                "forge": forge,
                "installation_id": event.installation_id,
                "action": event.action.value,
                "account": event.account,
                "repositories": event.repositories,
            },
            description=f"installation {event.installation_id} {event.action.value}",
        ),
    )


ROUTES = (
    Route(PushEvent, _on_push, "index the default branch on push"),
    Route(PullRequestEvent, _on_closed, "drop a closed pull request's overlay"),
    Route(InstallationEvent, _on_installation, "index or forget installed repositories"),
)
