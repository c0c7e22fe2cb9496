"""Value types the forge adapters return: frozen, library-free, the same for GitHub and GitLab.

A GitLab merge request is a :class:`ChangeRequest`, its discussions are :class:`Comment` threads,
and a pipeline status is a :class:`CommitStatus`, exactly like a GitHub pull request, its review
comments and its commit statuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

from bot.domain import RepoRef

ChangeState = Literal["open", "closed", "merged"]
FileStatus = Literal["added", "modified", "removed", "renamed"]
Noteable = Literal["change", "issue"]
"""What a comment is on: a pull/merge request, or an issue (GitLab numbers them apart)."""
CommentKind = Literal["issue", "review"]
"""``issue``: a comment in the conversation; ``review``: an inline comment on a diff line."""


@dataclass(frozen=True, slots=True)
class DiffRefs:
    """The commits a diff is computed from (GitLab's ``diff_refs``; GitHub's equivalents).

    ``base_sha`` is the merge base, ``start_sha`` the target branch tip, ``head_sha`` the source
    branch tip. Inline comments are anchored to these. GitHub's pull request gives no merge base:
    there ``base_sha`` equals ``start_sha`` (GitHub anchors comments to ``head_sha`` only).
    """

    base_sha: str
    start_sha: str
    head_sha: str


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A GitHub pull request or a GitLab merge request."""

    repo: RepoRef
    number: int
    title: str
    body: str
    author: str
    state: ChangeState
    draft: bool
    base_ref: str
    head_ref: str
    diff_refs: DiffRefs
    url: str

    @property
    def head_sha(self) -> str:
        return self.diff_refs.head_sha


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """One file of a change. ``patch`` holds the hunks (``@@ ...``); None for binary files."""

    path: str
    status: FileStatus
    patch: str | None
    old_path: str | None = None
    additions: int = 0
    deletions: int = 0


@dataclass(frozen=True, slots=True)
class Diff:
    """The changed files, and the whole change as one unified diff (``diff --git`` sections)."""

    files: tuple[ChangedFile, ...]
    unified: str


@dataclass(frozen=True, slots=True)
class Issue:
    repo: RepoRef
    number: int
    title: str
    body: str
    author: str
    state: Literal["open", "closed"]
    url: str
    locked: bool = False  # conversation locked: only collaborators may comment


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment on a change or an issue.

    ``id`` is the forge's comment (note) id. ``thread_id`` identifies the thread a reply goes to:
    the GitLab discussion id, or on GitHub the id of the first review comment of the thread.
    """

    id: int
    kind: CommentKind
    number: int
    author: str
    body: str
    url: str = ""
    path: str | None = None
    line: int | None = None
    thread_id: str | None = None
    on: Noteable = "change"


@dataclass(frozen=True, slots=True)
class LineComment:
    """A person's (or a bot's) inline comment where it was made: on commit ``commit`` (the
    revision the reviewer saw), new side (``RIGHT``) or old side (``LEFT``) of the diff,
    ``start_line``..``line``. Replies in its thread are not line comments."""

    id: int
    path: str
    line: int
    commit: str
    author: str
    body: str = ""
    side: Literal["RIGHT", "LEFT"] = "RIGHT"
    start_line: int | None = None
    author_is_bot: bool = False


@dataclass(frozen=True, slots=True)
class FindingThread:
    """One of our inline comments with what people did with it: the replies in its thread,
    the reactions on it as (user, reaction name: ``+1``, ``-1``...), and whether its thread is
    resolved (None where the forge's REST API does not say: GitHub, whose
    ``pull_request_review_thread`` webhook tells instead)."""

    comment: Comment
    replies: tuple[Comment, ...] = ()
    reactions: tuple[tuple[str, str], ...] = ()
    resolved: bool | None = None


@dataclass(frozen=True, slots=True)
class ReviewComment:
    """An inline comment on the new side of the diff: ``line``, or ``start_line``..``line``."""

    path: str
    line: int
    body: str
    start_line: int | None = None


@dataclass(frozen=True, slots=True)
class Review:
    """One review: a body and many inline comments, posted together where the forge allows."""

    body: str
    comments: tuple[ReviewComment, ...] = ()


@dataclass(frozen=True, slots=True)
class PostedReview:
    """What was posted. ``rejected`` holds the comments the forge refused (e.g. a line outside
    the diff), so the caller can list them in the summary instead of losing them."""

    posted: tuple[Comment, ...]
    rejected: tuple[ReviewComment, ...] = ()
    batched: bool = True
    review_id: int | None = None


class Reaction(StrEnum):
    """Reactions both forges know (GitHub content names; GitLab award emoji are mapped)."""

    THUMBS_UP = "+1"
    THUMBS_DOWN = "-1"
    EYES = "eyes"
    ROCKET = "rocket"
    HEART = "heart"
    HOORAY = "hooray"
    CONFUSED = "confused"
    LAUGH = "laugh"


class StatusState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CommitStatus:
    sha: str
    state: StatusState
    context: str
    description: str = ""
    target_url: str | None = None


class Permission(IntEnum):
    """A user's role on a repository, ordered. GitLab access levels map onto these."""

    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5

    @property
    def can_write(self) -> bool:
        return self >= Permission.WRITE


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file to write on a new branch; ``content`` None deletes it."""

    path: str
    content: bytes | None


@dataclass(frozen=True, slots=True)
class ChangeProposal:
    """A branch with a commit, proposed as a (draft) change that links its issue.

    With ``files`` empty the branch is expected to exist already (pushed with git).
    """

    branch: str
    base: str
    title: str
    body: str
    commit_message: str = ""
    files: tuple[FileChange, ...] = field(default=())
    issue: int | None = None
    draft: bool = True
    head_repo: str | None = None
    """The fork (``owner/name``, ``group/name``) the branch is in; None: the base repository."""
