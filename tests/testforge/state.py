"""The test forge's state: one model serves both APIs (a GitLab MR is a GitHub PR here)."""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.testforge.gitrepo import BareRepo

LEVELS = ["none", "read", "triage", "write", "maintain", "admin"]
GITLAB_ACCESS = {"none": 0, "read": 10, "triage": 20, "write": 30, "maintain": 40, "admin": 50}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def thread_id(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


@dataclass
class User:
    login: str
    id: int
    read_only: bool = False


@dataclass
class Token:
    value: str
    login: str
    installation: int | None = None
    expires_at: float | None = None
    read_only: bool = False
    repos: list[str] | None = None
    """An installation token's repositories ("owner/name"), None: all of the installation's."""
    permissions: dict[str, str] | None = None
    """An installation token's permissions, None: all of the installation's."""


@dataclass
class App:
    id: int
    public_key: str
    slug: str


@dataclass
class Installation:
    id: int
    app_id: int
    repos: list[str]
    permissions: dict[str, str] = field(
        default_factory=lambda: {
            "metadata": "read",
            "contents": "write",
            "pull_requests": "write",
            "issues": "write",
            "checks": "write",
            "statuses": "write",
        }
    )


@dataclass
class Note:
    """An issue comment / review comment on GitHub; a note in a discussion on GitLab."""

    id: int
    number: int
    author: str
    body: str
    kind: str  # issue | review
    thread: str
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    path: str | None = None
    line: int | None = None
    start_line: int | None = None
    side: str | None = None
    commit_id: str | None = None
    position: dict[str, Any] | None = None
    in_reply_to: int | None = None
    review_id: int | None = None
    reactions: list[tuple[str, str]] = field(default_factory=list)
    resolved: bool = False  # the thread this note starts is resolved (GitLab's REST shows it)


@dataclass
class ReviewRecord:
    id: int
    number: int
    author: str
    body: str
    state: str
    commit_id: str
    submitted_at: str = field(default_factory=now_iso)


@dataclass
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str = field(default_factory=now_iso)


@dataclass
class Issue:
    number: int
    title: str
    body: str
    author: str
    state: str = "open"
    created_at: str = field(default_factory=now_iso)
    # pull/merge request fields
    is_pr: bool = False
    base: str = ""
    head: str = ""
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None  # GitHub lists merged pull requests by it (no "merged" there)
    id: int = 0
    locked: bool = False
    head_repo: str | None = None  # a fork's path when the branch lives there, not here


@dataclass
class Repo:
    id: int
    path: str
    git: BareRepo
    default_branch: str
    members: dict[str, str] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    reviews: list[ReviewRecord] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)  # GitLab project hooks
    next_number: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    fork_of: str | None = None

    def pr(self, number: int) -> Issue | None:
        issue = self.issues.get(number)
        return issue if issue and issue.is_pr else None

    def diff_refs(self, pr: Issue) -> dict[str, str]:
        # a change from a fork: its head is copied here as refs/pull/N/head (as GitHub does)
        ref = f"refs/pull/{pr.number}/head" if pr.head_repo else f"refs/heads/{pr.head}"
        head = self.git.rev(ref) or ""
        start = self.git.rev(f"refs/heads/{pr.base}") or ""
        base = self.git.merge_base(start, head) if head and start else start
        return {"base_sha": base, "start_sha": start, "head_sha": head}


@dataclass
class Fault:
    """A fault the forge injects into matching requests, ``times`` times.

    ``api``: "github", "gitlab", "git" or None for any; ``method`` and ``path`` (a regex
    searched in the request path) narrow the match. ``status`` answers with that status and
    ``headers``/``body``; ``delay_s`` delays the request (then handles it normally unless a
    status is given).
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay_s: float = 0.0
    times: int = 1
    api: str | None = None
    method: str | None = None
    path: str | None = None
    hits: int = 0

    @classmethod
    def server_error(cls, status: int = 502, *, times: int = 1, **match: Any) -> Fault:
        return cls(status=status, body={"message": "Server Error"}, times=times, **match)

    @classmethod
    def rate_limit(
        cls, *, reset_in_s: float = 1.0, status: int = 403, times: int = 1, **match: Any
    ) -> Fault:
        reset = int(time.time() + reset_in_s)
        retry_after = str(max(0, int(reset_in_s)))
        headers = {
            # GitHub's primary rate limit headers, and GitLab's
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": "5000",
            "X-RateLimit-Resource": "core",
            "RateLimit-Limit": "600",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "Retry-After": retry_after,
        }
        body = {
            "message": "API rate limit exceeded for installation.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        return cls(status=status, headers=headers, body=body, times=times, **match)

    @classmethod
    def slow(cls, delay_s: float, *, times: int = 1, **match: Any) -> Fault:
        return cls(delay_s=delay_s, times=times, **match)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
