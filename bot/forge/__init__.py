"""Talking to GitHub and GitLab through one small protocol, :class:`Forge`.

Adapters (``bot.forge.github``, ``bot.forge.gitlab``) return the value types of
``bot.forge.types`` and raise the exceptions of ``bot.forge.errors``; build them with
:func:`bot.forge.factory.build_forge` in an entry point.
"""

from bot.domain import RepoRef
from bot.forge.errors import (
    AuthenticationFailed,
    ForgeError,
    ForgeUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from bot.forge.markers import hidden_marker
from bot.forge.protocol import Forge
from bot.forge.retry import wait_for_rate_limit
from bot.forge.types import (
    ChangedFile,
    ChangeProposal,
    ChangeRequest,
    Comment,
    CommitStatus,
    Diff,
    DiffRefs,
    FileChange,
    Issue,
    Permission,
    PostedReview,
    Reaction,
    Review,
    ReviewComment,
    StatusState,
)

__all__ = [
    "AuthenticationFailed",
    "ChangeProposal",
    "ChangeRequest",
    "ChangedFile",
    "Comment",
    "CommitStatus",
    "Diff",
    "DiffRefs",
    "FileChange",
    "Forge",
    "ForgeError",
    "ForgeUnavailable",
    "Issue",
    "NotFound",
    "Permission",
    "PermissionDenied",
    "PostedReview",
    "RateLimited",
    "Reaction",
    "RepoRef",
    "Review",
    "ReviewComment",
    "StatusState",
    "ValidationFailed",
    "hidden_marker",
    "wait_for_rate_limit",
]
