"""Review a pull/merge request: on open, new commits, reopen, ready, or `/assist review`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from bot.events import CommandEvent, CommandName, Event, PullAction, PullRequestEvent, TargetKind
from bot.features._kwargs import command_kwargs, pull_kwargs
from bot.feedback.guidance import Guidance
from bot.feedback.harvest import harvest
from bot.feedback.outcome import Kind
from bot.feedback.store import Observed, SqlFeedback
from bot.forge.protocol import Forge
from bot.forge.types import RepoRef
from bot.jobs.context import WorkerContext
from bot.jobs.forge import accept_command, command_quotas, job_forge, job_repo
from bot.jobs.indexing import related_code
from bot.jobs.lifecycle import review_running, review_skipped
from bot.jobs.model import ready_model
from bot.jobs.record import recorded
from bot.review.memory import ChangeKey, SqlMemory
from bot.review.service import review_change
from bot.routing import JobSpec, QueueName, Route, job_id

JOB = "bot.features.review.review_job"
log = logging.getLogger(__name__)


def supersede_key(forge: str, repo: str, number: int) -> str:
    return f"review:{forge}:{repo}:{number}"


def _on_pull(event: Event) -> Iterable[JobSpec]:
    if not isinstance(event, PullRequestEvent) or event.action is PullAction.CLOSED:
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func=JOB,
            job_id=job_id("review", forge, repo, event.number, event.head_sha, "review"),
            kwargs=pull_kwargs(event),
            description=f"review {forge}:{repo}#{event.number}@{event.head_sha[:12]}",
            supersede_key=supersede_key(forge, repo, event.number),
        ),
    )


def _on_command(event: Event) -> Iterable[JobSpec]:
    if not (
        isinstance(event, CommandEvent)
        and event.command.name is CommandName.REVIEW
        and event.target is TargetKind.PULL
    ):
        return ()
    forge, repo = event.repo.forge.value, event.repo.full_name
    return (
        JobSpec(
            queue=QueueName.REVIEW,
            func=JOB,
            job_id=job_id("review", forge, repo, event.number, f"c{event.comment_id}", "review"),
            kwargs={**command_kwargs(event), "head_sha": None, "trigger": "command"},
            description=f"review {forge}:{repo}#{event.number} (command {event.comment_id})",
            supersede_key=supersede_key(forge, repo, event.number),
        ),
    )


ROUTES = (
    Route(PullRequestEvent, _on_pull, "review on pull request activity"),
    Route(CommandEvent, _on_command, "review on /assist review"),
)


_INCREMENTAL = frozenset({PullAction.UPDATED.value})


@recorded("review")
def review_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Review pull/merge request ``kwargs['number']`` and post the result.

    New commits are reviewed incrementally (files whose patch changed); an open, reopen,
    ready-for-review or ``/assist review`` looks at every file. Nothing already posted is
    posted again.
    """
    repo = job_repo(kwargs)
    number = int(kwargs["number"])
    trigger = str(kwargs.get("trigger") or "")
    forge = job_forge(ctx, kwargs)
    if trigger == "command":
        _comment, refused = accept_command(
            forge, repo, kwargs, refusal=REFUSAL, quotas=command_quotas(ctx)
        )
        if refused is not None:
            return refused
    head = str(kwargs.get("head_sha") or "") or forge.get_change(repo, number).head_sha
    review_running(forge, repo, head)
    settings = ready_model(ctx)  # fails in seconds, with the reason, when the model cannot
    guidance = learn_before_review(ctx, forge, repo, number)
    outcome = asyncio.run(
        review_change(
            settings,
            forge,
            repo,
            number,
            memory=SqlMemory(ctx.engine),
            default_branch=kwargs.get("default_branch"),
            incremental=trigger in _INCREMENTAL,
            include_drafts=trigger == "command",
            related=lambda head, queries: related_code(ctx.settings, forge, repo, head, queries),
            guidance=guidance,
        )
    )
    record_acted_on(ctx, repo, number, outcome.acted_on)
    if outcome.status == "skipped" and not outcome.reason.startswith("superseded"):
        review_skipped(forge, repo, outcome.head_sha or head, outcome.reason)
    elif outcome.status == "skipped" and outcome.head_sha:
        review_skipped(forge, repo, outcome.head_sha, "a newer commit is reviewed instead")
    return {**outcome.detail(), "trigger": trigger}


def learn_before_review(ctx: WorkerContext, forge: Forge, repo: RepoRef, number: int) -> Guidance:
    """Harvest the feedback on this change's earlier findings, then what the repository's
    history and rules give this review. Feedback never blocks a review: a failure is logged."""
    store = SqlFeedback(ctx.engine)
    try:
        harvest(forge, store, repo, number, own_logins=ctx.settings.bot_logins)
    except Exception as exc:
        log.warning("feedback harvest on %s#%d failed: %s", repo, number, exc)
    return Guidance(
        rules=tuple(store.rules(repo.forge, repo.path)),
        history=store.history(repo.forge, repo.path),
        min_sample=ctx.settings.feedback_min_sample,
    )


def record_acted_on(
    ctx: WorkerContext, repo: RepoRef, number: int, acted: Iterable[tuple[str, str]]
) -> None:
    """What became of earlier findings' code (applied, changed, outdated) is feedback too."""
    SqlFeedback(ctx.engine).record(
        ChangeKey(repo.forge, repo.path, number),
        [Observed(fp, Kind(kind), kind, kind) for fp, kind in acted],
        source="review",
    )


REFUSAL = (
    "Sorry, `/assist review` needs write access to this repository (or being the author of "
    "this change). A maintainer can run it."
)
