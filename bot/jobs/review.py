"""The job body of review: run on a worker (see bot/intake/routes/review.py for its routes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from rq import get_current_job

from bot.access.commands import accept_command
from bot.domain import RepoRef
from bot.feedback.harvest import harvest
from bot.feedback.outcome import Kind
from bot.feedback.store import Observed, SqlFeedback
from bot.forge.protocol import Forge
from bot.index.indexing import related_code
from bot.intake.events import PullAction
from bot.jobs.announce import after_announce
from bot.jobs.context import WorkerContext
from bot.jobs.forge import command_quotas, job_forge, job_repo
from bot.jobs.lifecycle import review_running, review_skipped
from bot.jobs.model import ready_model
from bot.jobs.record import recorded
from bot.review.guidance import Guidance
from bot.review.memory import ChangeKey, SqlMemory
from bot.review.service import review_change

JOB = "bot.jobs.review.review_job"
log = logging.getLogger(__name__)


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
    if (job := get_current_job()) is not None:
        after_announce(ctx.redis, job.id)  # "queued" never lands after what this job shows
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
        harvest(forge, store, repo, number, own_logins=forge.own_logins())
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
