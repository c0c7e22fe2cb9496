"""Keep the repository index fresh: default-branch pushes, installs, closed pull requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.events import Event, InstallationEvent, PullAction, PullRequestEvent, PushEvent
from bot.features._kwargs import pull_kwargs, repo_kwargs
from bot.jobs.context import WorkerContext
from bot.jobs.forge import job_forge, job_repo
from bot.jobs.indexing import drop_pull_overlay, index_branch
from bot.jobs.record import recorded
from bot.routing import JobSpec, QueueName, Route, job_id


def _on_push(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PushEvent):
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.INDEX,
            func="bot.features.index.index_job",
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
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.INDEX,
            func="bot.features.index.forget_pull_job",
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
            func="bot.features.index.installation_job",
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


@recorded("index")
def index_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Move the index of the default branch to ``kwargs['after_sha']``: only the files whose
    blob changed are parsed and embedded again."""
    repo = job_repo(kwargs)
    forge = job_forge(ctx, kwargs, scope="index")
    stats = index_branch(ctx.settings, forge, repo, str(kwargs["after_sha"]))
    return {
        "status": "indexed",
        "branch": kwargs["branch"],
        "commit": stats.commit,
        "files": stats.files_total,
        "changed": stats.files_changed,
        "removed": stats.files_removed,
        "skipped": stats.files_skipped,
        "chunks": stats.chunks,
        "embedded": stats.embedded,
        "seconds": round(stats.seconds, 3),
    }


@recorded("forget")
def forget_pull_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """A closed pull request's head no longer needs its overlay in the index."""
    head = kwargs.get("head_sha")
    dropped = bool(head) and drop_pull_overlay(ctx.settings, job_repo(kwargs), str(head))
    return {"status": "forgotten" if dropped else "nothing indexed", "number": kwargs["number"]}


@recorded("installation")
def installation_job(_ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    return {"status": "recorded", "repositories": list(kwargs["repositories"])}
