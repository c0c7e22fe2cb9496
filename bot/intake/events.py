"""The forge-neutral event model: what a webhook means, whichever forge sent it.

Pure values. The webhook parsers produce them; the router turns them into jobs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.domain import Forge, RepoRef


class PullAction(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"  # new commits: GitHub `synchronize`, GitLab `update` with `oldrev`
    REOPENED = "reopened"
    READY = "ready_for_review"
    CLOSED = "closed"


class CommandName(enum.StrEnum):
    REVIEW = "review"
    FIX = "fix"
    ASK = "ask"
    HELP = "help"
    REMEMBER = "remember"  # a rule for this repository's reviews
    RULES = "rules"  # list them
    FORGET = "forget"  # remove one by id


class TargetKind(enum.StrEnum):
    ISSUE = "issue"
    PULL = "pull"  # a GitHub pull request or a GitLab merge request


@dataclass(frozen=True, slots=True)
class PullRequestEvent:
    repo: RepoRef
    action: PullAction
    number: int
    head_sha: str
    base_sha: str | None
    head_ref: str
    base_ref: str
    author: str
    previous_head_sha: str | None = None  # the head before new commits (incremental review)
    merged: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    argument: str = ""  # the question of `ask`, the guidance of `fix`


@dataclass(frozen=True, slots=True)
class CommandEvent:
    repo: RepoRef
    command: Command
    target: TargetKind
    number: int
    comment_id: int
    author: str
    discussion_id: str | None = None  # GitLab discussion to reply in
    review_thread_comment_id: int | None = None  # GitHub review comment thread to reply in


@dataclass(frozen=True, slots=True)
class PushEvent:
    repo: RepoRef
    branch: str
    before_sha: str
    after_sha: str


class InstallationAction(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class InstallationEvent:
    forge: Forge
    action: InstallationAction
    installation_id: int
    account: str
    repositories: tuple[str, ...] = field(default_factory=tuple)


class FeedbackKind(enum.StrEnum):
    REACTION = "reaction"  # value: +1, -1 or another reaction name
    REPLY = "reply"  # value: the reply's text
    THREAD = "thread"  # value: resolved | unresolved


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """Someone reacted to, replied in, or resolved a thread that may be one of our findings.

    ``target_comment_id`` is the comment reacted to or the first comment of the thread (GitHub
    review threads, GitLab award emoji); ``discussion_id`` the GitLab discussion of a reply.
    ``comment_id`` is the reply's own id (0 when the signal is not a comment). ``addressed``:
    the reply mentions the bot, so it gets an answer in the thread."""

    repo: RepoRef
    number: int
    kind: FeedbackKind
    value: str
    actor: str
    comment_id: int = 0
    target_comment_id: int | None = None
    discussion_id: str | None = None
    addressed: bool = False
    revoked: bool = False  # an award emoji taken back


Event = PullRequestEvent | CommandEvent | PushEvent | InstallationEvent | FeedbackEvent


@dataclass(frozen=True, slots=True)
class Ignored:
    """A verified delivery we deliberately do nothing with, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Normalised:
    """What one delivery means: the events to act on, or the reason none are."""

    event_name: str  # the forge's own name, e.g. `pull_request.opened`, `Merge Request Hook`
    repo: str | None
    events: tuple[Event, ...] = ()
    ignored: Ignored | None = None
