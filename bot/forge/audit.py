"""The audit log: every write the bot makes on a forge, recorded with who caused it.

:class:`AuditedForge` wraps any :class:`~bot.forge.protocol.Forge`; reads pass through, and each
write (review, comment, reply/reaction, status, branch + change) is recorded after it was tried,
with its outcome, whether it succeeded or raised. The record holds ids and locations, never
bodies' secrets or credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.db.models import AuditEntry
from bot.domain import ForgeKind, RepoRef
from bot.forge.protocol import Forge
from bot.forge.types import (
    ChangeProposal,
    ChangeRequest,
    ChangeState,
    Comment,
    CommitStatus,
    Diff,
    FindingThread,
    Issue,
    LineComment,
    Noteable,
    Permission,
    PostedReview,
    Reaction,
    Review,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    forge: str
    repo: str
    number: int | None
    action: str
    target: str
    actor: str
    job_id: str
    outcome: str = "ok"
    detail: dict[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    def record(self, entry: AuditRecord) -> None: ...


class SqlAuditLog:
    """Writes each record in a transaction of its own (the forge write already happened)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, entry: AuditRecord) -> None:
        with Session(self._engine) as session, session.begin():
            session.add(
                AuditEntry(
                    forge=entry.forge,
                    repo=entry.repo,
                    number=entry.number,
                    action=entry.action,
                    target=entry.target[:2000],
                    actor=entry.actor[:256],
                    job_id=entry.job_id[:128],
                    outcome=entry.outcome,
                    detail=entry.detail,
                )
            )


class MemoryAuditLog:
    """An in-process sink (CLI runs without a database, and tests)."""

    def __init__(self) -> None:
        self.entries: list[AuditRecord] = []

    def record(self, entry: AuditRecord) -> None:
        self.entries.append(entry)


class AuditedForge:
    """A Forge whose writes are recorded in ``sink`` on behalf of ``actor`` in job ``job_id``."""

    def __init__(self, inner: Forge, sink: AuditSink, *, actor: str, job_id: str) -> None:
        self._inner = inner
        self._sink = sink
        self._actor = actor
        self._job_id = job_id

    @property
    def kind(self) -> ForgeKind:
        return self._inner.kind

    # --- reads: passed through -----------------------------------------------------------
    def get_change(self, repo: RepoRef, number: int) -> ChangeRequest:
        return self._inner.get_change(repo, number)

    def get_diff(self, repo: RepoRef, number: int) -> Diff:
        return self._inner.get_diff(repo, number)

    def read_file(self, repo: RepoRef, path: str, *, ref: str) -> bytes:
        return self._inner.read_file(repo, path, ref=ref)

    def get_issue(self, repo: RepoRef, number: int) -> Issue:
        return self._inner.get_issue(repo, number)

    def list_changes(
        self, repo: RepoRef, *, state: ChangeState = "merged", limit: int = 100
    ) -> tuple[ChangeRequest, ...]:
        return self._inner.list_changes(repo, state=state, limit=limit)

    def line_comments(self, repo: RepoRef, number: int) -> tuple[LineComment, ...]:
        return self._inner.line_comments(repo, number)

    def list_comments(
        self, repo: RepoRef, number: int, *, marker: str | None = None, on: Noteable = "change"
    ) -> tuple[Comment, ...]:
        return self._inner.list_comments(repo, number, marker=marker, on=on)

    def finding_threads(
        self, repo: RepoRef, number: int, *, marker: str
    ) -> tuple[FindingThread, ...]:
        return self._inner.finding_threads(repo, number, marker=marker)

    def comment_as_posted(self, repo: RepoRef, comment: Comment) -> Comment | None:
        return self._inner.comment_as_posted(repo, comment)

    def own_logins(self) -> frozenset[str]:
        return self._inner.own_logins()

    def permission(self, repo: RepoRef, user: str) -> Permission:
        return self._inner.permission(repo, user)

    def clone_url(self, repo: RepoRef) -> SecretStr:
        return self._inner.clone_url(repo)

    # --- writes: recorded ----------------------------------------------------------------
    def _audited(
        self,
        repo: RepoRef,
        number: int | None,
        action: str,
        target: str,
        call: Callable[[], T],
        describe: Callable[[T], dict[str, Any]],
    ) -> T:
        try:
            result = call()
        except Exception as exc:
            self._record(repo, number, action, target, "failed", {"error": type(exc).__name__})
            raise
        self._record(repo, number, action, target, "ok", describe(result))
        return result

    def _record(
        self,
        repo: RepoRef,
        number: int | None,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any],
    ) -> None:
        self._sink.record(
            AuditRecord(
                forge=repo.forge,
                repo=repo.path,
                number=number,
                action=action,
                target=target,
                actor=self._actor,
                job_id=self._job_id,
                outcome=outcome,
                detail=detail,
            )
        )

    def post_review(self, change: ChangeRequest, review: Review) -> PostedReview:
        return self._audited(
            change.repo,
            change.number,
            "post_review",
            f"{change.url or change.number}@{change.head_sha}",
            lambda: self._inner.post_review(change, review),
            lambda posted: {
                "comments": len(review.comments),
                "posted": [c.id for c in posted.posted],
                "rejected": len(posted.rejected),
                "batched": posted.batched,
                "review_id": posted.review_id,
            },
        )

    def upsert_comment(
        self, repo: RepoRef, number: int, *, marker: str, body: str, on: Noteable = "change"
    ) -> Comment:
        return self._audited(
            repo,
            number,
            "upsert_comment",
            f"{on} {number} {marker}",
            lambda: self._inner.upsert_comment(repo, number, marker=marker, body=body, on=on),
            lambda comment: {"comment_id": comment.id, "url": comment.url},
        )

    def respond(
        self,
        repo: RepoRef,
        comment: Comment,
        *,
        body: str | None = None,
        reaction: Reaction | None = None,
    ) -> Comment | None:
        return self._audited(
            repo,
            comment.number,
            "respond",
            f"comment {comment.id}",
            lambda: self._inner.respond(repo, comment, body=body, reaction=reaction),
            lambda reply: {
                "reaction": reaction.value if reaction else None,
                "reply_id": reply.id if reply else None,
            },
        )

    def set_status(self, repo: RepoRef, status: CommitStatus) -> None:
        self._audited(
            repo,
            None,
            "set_status",
            f"{status.sha} {status.context}",
            lambda: self._inner.set_status(repo, status),
            lambda _none: {"state": status.state.value},
        )

    def open_change(self, repo: RepoRef, proposal: ChangeProposal) -> ChangeRequest:
        return self._audited(
            repo,
            proposal.issue,
            "open_change",
            f"branch {proposal.branch} -> {proposal.base}",
            lambda: self._inner.open_change(repo, proposal),
            lambda change: {
                "number": change.number,
                "url": change.url,
                "files": [f.path for f in proposal.files],
            },
        )
