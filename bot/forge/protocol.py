"""The one interface the pipelines use to talk to a forge."""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from bot.domain import ForgeKind, RepoRef
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


class Forge(Protocol):
    """GitHub or GitLab. Every method may raise a :class:`bot.forge.errors.ForgeError`."""

    @property
    def kind(self) -> ForgeKind: ...

    def get_change(self, repo: RepoRef, number: int) -> ChangeRequest:
        """The pull/merge request ``number``."""
        ...

    def get_diff(self, repo: RepoRef, number: int) -> Diff:
        """Its changed files with patches (all pages) and the full unified diff."""
        ...

    def read_file(self, repo: RepoRef, path: str, *, ref: str) -> bytes:
        """A file's content at a branch, tag or commit; NotFound when absent."""
        ...

    def get_issue(self, repo: RepoRef, number: int) -> Issue: ...

    def list_changes(
        self, repo: RepoRef, *, state: ChangeState = "merged", limit: int = 100
    ) -> tuple[ChangeRequest, ...]:
        """The repository's changes in ``state``, newest first, at most ``limit``
        (what `assist eval mine` reads a history from)."""
        ...

    def line_comments(self, repo: RepoRef, number: int) -> tuple[LineComment, ...]:
        """Every inline comment that starts a thread on a change, by anyone, where it was
        made (commit, side, lines), not where the forge shows it now."""
        ...

    def list_comments(
        self, repo: RepoRef, number: int, *, marker: str | None = None, on: Noteable = "change"
    ) -> tuple[Comment, ...]:
        """Our own earlier comments on a change or issue (all pages, inline ones included),
        only those containing ``marker`` when it is given."""
        ...

    def finding_threads(
        self, repo: RepoRef, number: int, *, marker: str
    ) -> tuple[FindingThread, ...]:
        """Our inline comments containing ``marker`` on a change, each with its thread's
        replies, its reactions and (GitLab) whether the thread is resolved: what the feedback
        harvest reads where the forge sends no webhook (GitHub reactions)."""
        ...

    def post_review(self, change: ChangeRequest, review: Review) -> PostedReview:
        """Post one review with its inline comments, anchored to ``change.diff_refs``.

        If the forge rejects the batch, the valid comments are posted one by one and the
        rejected ones are returned in ``PostedReview.rejected``.
        """
        ...

    def upsert_comment(
        self, repo: RepoRef, number: int, *, marker: str, body: str, on: Noteable = "change"
    ) -> Comment:
        """Edit our comment carrying ``marker`` in place, or create it. ``body`` must contain
        the marker (it is appended when missing)."""
        ...

    def respond(
        self,
        repo: RepoRef,
        comment: Comment,
        *,
        body: str | None = None,
        reaction: Reaction | None = None,
    ) -> Comment | None:
        """React to a comment (acknowledge a command) and/or reply to it in its thread."""
        ...

    def set_status(self, repo: RepoRef, status: CommitStatus) -> None: ...

    def comment_as_posted(self, repo: RepoRef, comment: Comment) -> Comment | None:
        """``comment`` as the forge's API has it now (author and body from the API, not from a
        webhook payload); None when it does not exist there."""
        ...

    def own_logins(self) -> frozenset[str]:
        """The logins our credentials post as (lowercased), from the forge's API and cached,
        plus configured extra names: only their comments are ours."""
        ...

    def permission(self, repo: RepoRef, user: str) -> Permission:
        """The user's role on the repository (NONE when not a member)."""
        ...

    def open_change(self, repo: RepoRef, proposal: ChangeProposal) -> ChangeRequest:
        """Create the branch, commit the files and open a (draft) change linking the issue.

        Returns the open change for the branch if one exists already.
        """
        ...

    def clone_url(self, repo: RepoRef) -> SecretStr:
        """An HTTPS URL with credentials for git clone/push. Never log its secret value."""
        ...
