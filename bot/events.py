"""The forge-neutral event model: what a webhook means, whichever forge sent it.

Pure values. The webhook parsers produce them; the router turns them into jobs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Forge(enum.StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"


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


class TargetKind(enum.StrEnum):
    ISSUE = "issue"
    PULL = "pull"  # a GitHub pull request or a GitLab merge request


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A repository as the forge names it: ``owner/name`` or a GitLab ``group/sub/project``."""

    forge: Forge
    full_name: str
    project_id: int | None = None  # GitLab's numeric id; GitHub's repository id
    default_branch: str | None = None
    installation_id: int | None = None  # GitHub App installation that sent the event


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


Event = PullRequestEvent | CommandEvent | PushEvent | InstallationEvent


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
