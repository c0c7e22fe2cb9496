"""`assist eval mine --repo URL`: a repository's history read from its forge.

The merged changes and their inline review comments come through the forge adapters
(:meth:`bot.forge.protocol.Forge.list_changes`, :meth:`~bot.forge.protocol.Forge.line_comments`)
as the same export the local path reads (:class:`bot.eval.mine.ExportedChange`); the commits
are fetched into a local repository with hardened git; :func:`bot.eval.mine.mine` then builds
the cases exactly as it does from a JSONL export.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from bot import gitsafe
from bot.domain import ForgeKind, RepoRef
from bot.eval.cases import CaseError
from bot.eval.mine import ExportedChange, ExportedComment
from bot.forge.protocol import Forge
from bot.forge.types import ChangeRequest, LineComment

# Heads of changes whose branch is gone (GitHub keeps refs/pull/N/head, GitLab
# refs/merge-requests/N/head); a pattern that matches nothing fetches nothing.
FETCH_SPECS = (
    "+refs/heads/*:refs/heads/*",
    "+refs/pull/*/head:refs/pull/*/head",
    "+refs/merge-requests/*/head:refs/merge-requests/*/head",
)


def forge_repo(url: str, *, gitlab_url: str, kind: ForgeKind | None = None) -> RepoRef:
    """The repository a web URL names: GitLab when it is under ``gitlab_url`` (or ``kind``
    says so), else GitHub (``owner/name``, the first two path segments)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CaseError(f"{url!r} is not a forge URL (https://host/owner/name)")
    path = parts.path.strip("/").removesuffix(".git")
    base = urlsplit(gitlab_url.rstrip("/"))
    under_gitlab = parts.netloc == base.netloc and (parts.path + "/").startswith(base.path + "/")
    if kind == "gitlab" or (kind is None and under_gitlab):
        if under_gitlab:
            path = path.removeprefix(base.path.strip("/")).strip("/")
        path = path.split("/-/")[0]  # .../-/merge_requests/...
        if not path:
            raise CaseError(f"{url!r} names no GitLab project")
        return RepoRef(ForgeKind.GITLAB, path)
    segments = path.split("/")
    if len(segments) < 2 or not all(segments[:2]):
        raise CaseError(f"{url!r} names no GitHub repository (owner/name)")
    return RepoRef(ForgeKind.GITHUB, "/".join(segments[:2]))


def exported_comment(c: LineComment) -> ExportedComment:
    return ExportedComment(
        id=c.id,
        commit=c.commit,
        path=c.path,
        line=c.line,
        start_line=c.start_line,
        side=c.side,
        body=c.body,
        author=c.author,
        author_type="Bot" if c.author_is_bot else "User",
    )


def exported_change(change: ChangeRequest, comments: tuple[LineComment, ...]) -> ExportedChange:
    refs = change.diff_refs
    return ExportedChange(
        number=change.number,
        title=change.title,
        body=change.body,
        base=refs.base_sha or refs.start_sha,
        head=refs.head_sha,
        merged=change.state == "merged",
        comments=[exported_comment(c) for c in comments],
    )


def read_history(forge: Forge, repo: RepoRef, *, limit: int = 100) -> list[ExportedChange]:
    """The newest ``limit`` merged changes of ``repo`` with their inline comments."""
    return [
        exported_change(change, forge.line_comments(repo, change.number))
        for change in forge.list_changes(repo, state="merged", limit=limit)
    ]


def fetch_history(forge: Forge, repo: RepoRef, target: Path) -> Path:
    """A bare repository at ``target`` with every branch and change head of ``repo``
    (fetched again into the same place on a later run). No credential is written to disk."""
    remote = gitsafe.Remote.parse(forge.clone_url(repo))
    home = gitsafe.empty_home(target.parent / ".git-home")
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            gitsafe.run(["init", "-q", "--bare", str(target)], cwd=None, home=home)
        gitsafe.check_config(target)
        gitsafe.run(
            ["fetch", "-q", "--no-tags", remote.url, *FETCH_SPECS],
            cwd=target, remote=remote, home=home,
        )  # fmt: skip
    except (gitsafe.GitError, OSError) as exc:
        raise CaseError(f"cannot fetch {repo}: {remote.redact(str(exc))[:500]}") from None
    return target


def clone_name(repo: RepoRef) -> str:
    """A folder name for the fetched repository (``owner__name.git``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", repo.path) + ".git"
