"""The few values every layer shares: which forge, which repository, how severe.

One definition each: intake's events, the forge adapters, review, fix, feedback and the
action all use these, so a forge name or a severity is spelled, parsed and ordered one way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Forge(enum.StrEnum):
    """Where a repository lives. A ``StrEnum``: it is its own value in strings, JSON and SQL."""

    GITHUB = "github"
    GITLAB = "gitlab"


ForgeKind = Forge
"""The same enum, by the name the forge adapters use beside their ``Forge`` protocol."""


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A repository on a forge: ``owner/name`` on GitHub, ``group/sub/project`` on GitLab.

    Two refs are equal when forge and path are: the ids and branch a webhook adds are
    carried along for the jobs, never part of a repository's identity.
    """

    forge: Forge
    path: str
    project_id: int | None = field(default=None, compare=False)  # GitLab's id; GitHub's repo id
    default_branch: str | None = field(default=None, compare=False)
    installation_id: int | None = field(default=None, compare=False)  # the GitHub App's

    def __str__(self) -> str:
        return f"{self.forge}:{self.path}"


class Severity(enum.StrEnum):
    """How much a finding matters, from ``info`` to ``critical`` (ordered by :attr:`rank`)."""

    INFO = "info"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``info`` up to 3 for ``critical``: compare ranks, never the strings."""
        return _RANKS[self]

    @classmethod
    def parse(cls, name: str) -> Severity:
        """``name`` in any case (``Major``, ``MAJOR``); ValueError for anything else."""
        return cls(name.strip().lower())

    @classmethod
    def descending(cls) -> tuple[Severity, ...]:
        """``critical`` first: the order a summary lists findings in."""
        return tuple(sorted(cls, key=lambda s: -s.rank))


_RANKS = {Severity.INFO: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}
