"""Where fix branches go: the base repository, or a fork (``ASSIST_FIX_PUSH_REMOTE``) from which
the change is proposed, so that the bot's branches never run the base repository's CI."""

from __future__ import annotations

from bot.domain import RepoRef


class PushRemoteError(ValueError):
    """``ASSIST_FIX_PUSH_REMOTE`` does not name a repository."""


def push_repo(remote: str | None, base: RepoRef) -> RepoRef:
    """The repository fix branches of ``base`` are pushed to: ``remote`` with ``{owner}`` (the
    base's namespace) and ``{name}`` filled in, or ``base`` itself when unset."""
    if not remote:
        return base
    owner, _, name = base.path.rpartition("/")
    path = remote.strip().strip("/").replace("{owner}", owner).replace("{name}", name)
    if "/" not in path or any(not part for part in path.split("/")):
        raise PushRemoteError(f"ASSIST_FIX_PUSH_REMOTE {remote!r} is not owner/name")
    return RepoRef(base.forge, path)


def head_repo(remote: RepoRef, base: RepoRef) -> str | None:
    """What a change proposal names as its head repository (None: the base itself)."""
    return None if remote.path == base.path else remote.path
