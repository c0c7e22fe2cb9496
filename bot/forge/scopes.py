"""What each kind of job may do with a GitHub installation token (least privilege).

An installation token is requested per job for the one repository of the job, with only the
permissions of the job's scope; GitHub refuses anything else made with it (403/404).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

TokenScope = Literal["review", "fix", "index"]
"""``review``: reviews, answers, feedback, usage replies; ``fix``: pushes a branch and opens a
pull request; ``index``: reads the code."""

PERMISSIONS: Mapping[TokenScope, Mapping[str, str]] = MappingProxyType(
    {
        "review": MappingProxyType(
            {
                "metadata": "read",
                "contents": "read",
                "pull_requests": "write",
                "issues": "write",  # replies and failure notes in the conversation
                "checks": "write",
                "statuses": "write",  # the review's commit status (without check runs)
            }
        ),
        "fix": MappingProxyType(
            {
                "metadata": "read",
                "contents": "write",  # the fix branch
                "pull_requests": "write",
                "issues": "write",
            }
        ),
        "index": MappingProxyType({"metadata": "read", "contents": "read"}),
    }
)

JOB_SCOPES: Mapping[str, TokenScope] = MappingProxyType(
    {"fix": "fix", "index": "index", "reindex": "index"}
)


def scope_of_job(kind: str) -> TokenScope:
    """The token scope of a job kind (``review`` for every job that only reads and comments)."""
    return JOB_SCOPES.get(kind, "review")
