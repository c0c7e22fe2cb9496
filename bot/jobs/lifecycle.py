"""What a job shows on the forge while it lives: never silent.

A review sets a ``pending`` commit status (a check run ``in_progress`` in App mode) saying it
is queued (held back by a limit) or running, then the result; a skipped change says why in the
status. When a job fails for good (its retries spent, or its worker lost), the change or issue
gets an ``error`` status (reviews) and ONE note, edited in place on later failures, saying
what failed in words that leak nothing (no exception text, no URL, no secret) and that an
operator can retry it. Everything here is best effort: a forge that refuses a status must not
turn a finished review into a failed job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rq.job import Job
from rq.timeouts import JobTimeoutException

from bot.domain import RepoRef
from bot.forge.errors import (
    AuthenticationFailed,
    ForgeError,
    ForgeUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from bot.forge.protocol import Forge
from bot.forge.types import CommitStatus, Noteable, StatusState
from bot.llm.check import ModelCheckError
from bot.llm.errors import LLMError, LLMUnavailableError, ModelOutputError, PromptTooLongError

log = logging.getLogger(__name__)

REVIEW_CONTEXT = "forge-assist/review"  # the same as bot.review.service.STATUS_CONTEXT
FAILURE_MARKER = "<!-- forge-assist:job-failed:{kind} -->"
WHAT = {"review": "review", "fix": "`/assist fix`", "ask": "answer to `/assist ask`"}


def public_reason(exc: BaseException) -> str:
    """A short reason for ``exc`` that is safe to post: fixed words chosen by its type, never
    its message (which may hold a URL with a token, a path or a model's text)."""
    if isinstance(exc, ModelCheckError):
        if "serves " in exc.reason:
            return "the model server serves another model than the one configured"
        return "the model server is not reachable"
    if isinstance(exc, LLMUnavailableError):
        if str(exc).startswith("timed out"):
            return "the model did not finish its answer in time"
        return "the model server did not answer"
    if isinstance(exc, PromptTooLongError):
        return "the change does not fit the model's context"
    if isinstance(exc, ModelOutputError):
        return "the model's answer could not be read"
    if isinstance(exc, LLMError):
        return "the model server refused the request"
    if isinstance(exc, AuthenticationFailed):
        return "the bot's forge credentials were refused"
    if isinstance(exc, PermissionDenied):
        return "the bot lacks a permission on this repository"
    if isinstance(exc, RateLimited):
        return "the forge's rate limit was reached"
    if isinstance(exc, ForgeUnavailable):
        return "the forge API did not answer"
    if isinstance(exc, ForgeError):
        return "a forge API call failed"
    if isinstance(exc, JobTimeoutException):
        return "the job ran past its time limit"
    return "an internal error"


def is_final(job: Job | None) -> bool:
    """True when RQ will not retry ``job`` after this failure (no retries left)."""
    if job is None:
        return True
    left = job.retries_left
    return not left or left <= 0


def set_state(forge: Forge, repo: RepoRef, sha: str, state: StatusState, description: str) -> bool:
    """Best effort: a status the forge refuses is logged, never raised."""
    if not sha:
        return False
    try:
        forge.set_status(repo, CommitStatus(sha, state, REVIEW_CONTEXT, description[:140]))
    except (PermissionDenied, NotFound) as exc:
        log.info("no commit status on %s: %s", repo, exc)
        return False
    except ForgeError as exc:
        log.warning("commit status on %s failed: %s", repo, exc)
        return False
    return True


def review_running(forge: Forge, repo: RepoRef, sha: str) -> bool:
    return set_state(forge, repo, sha, StatusState.PENDING, "Forge Assist is reviewing this change")


def review_queued(forge: Forge, repo: RepoRef, sha: str, reason: str) -> bool:
    return set_state(
        forge, repo, sha, StatusState.PENDING, f"Forge Assist review queued ({reason})"
    )


def review_skipped(forge: Forge, repo: RepoRef, sha: str, reason: str) -> bool:
    """A change not reviewed says why; ``success`` because nothing is wrong with it."""
    return set_state(forge, repo, sha, StatusState.SUCCESS, f"not reviewed: {reason}")


def failure_note(kind: str, reason: str, job_id: str) -> str:
    what = WHAT.get(kind, kind)
    again = {"review": "`/assist review`", "fix": "`/assist fix`", "ask": "`/assist ask`"}
    return (
        f"{FAILURE_MARKER.format(kind=kind)}\n"
        f"**Forge Assist could not finish the {what} for this "
        f"{'issue' if kind == 'fix' else 'change'}:** {reason}.\n\n"
        f"Nothing was lost: an operator can retry it with `assist jobs retry {job_id}`, or "
        f"comment {again.get(kind, 'the command')} again once the cause is fixed "
        "(`assist doctor` shows what is wrong with the setup)."
    )


def report_failure(
    forge: Forge,
    repo: RepoRef,
    kwargs: Mapping[str, Any],
    *,
    kind: str,
    job_id: str,
    exc: BaseException | None,
    reason: str | None = None,
) -> None:
    """The final failure of a job, on the forge: an ``error`` status for a review with a known
    head, and one note edited in place. Never raises."""
    text = reason or (public_reason(exc) if exc is not None else "an internal error")
    number = int(kwargs.get("number") or 0)
    if kind == "review":
        sha = str(kwargs.get("head_sha") or kwargs.get("after_sha") or "")
        if not sha and number:
            try:
                sha = forge.get_change(repo, number).head_sha
            except ForgeError:
                sha = ""
        set_state(forge, repo, sha, StatusState.ERROR, f"review failed: {text}")
    if not number:
        return
    on: Noteable = "issue" if kind == "fix" and kwargs.get("target") != "pull" else "change"
    try:
        forge.upsert_comment(
            repo,
            number,
            marker=FAILURE_MARKER.format(kind=kind),
            body=failure_note(kind, text, job_id),
            on=on,
        )
    except ForgeError as exc2:
        log.warning("could not post the failure note on %s#%s: %s", repo, number, exc2)


__all__ = [
    "FAILURE_MARKER",
    "REVIEW_CONTEXT",
    "failure_note",
    "is_final",
    "public_reason",
    "report_failure",
    "review_queued",
    "review_running",
    "review_skipped",
]
