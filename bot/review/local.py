"""`assist review --repo PATH --base REF [--head REF]`: the review of a local git repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import git

from bot.repoconfig import CONFIG_PATH, RepoConfig, parse_repo_config
from bot.review.context import MAX_SOURCE_BYTES, source_text


class LocalRepoError(ValueError):
    """The repository or a ref cannot be used; the message says which."""


@dataclass(frozen=True, slots=True)
class LocalChange:
    title: str
    body: str
    diff: str
    config: RepoConfig
    base_sha: str
    head_sha: str
    sources: Mapping[str, str] = field(default_factory=dict)  # new-side text of changed files


def _sources(repo: git.Repo, start: str, head: str) -> dict[str, str]:
    """The head's text of the files changed since ``start`` (context and suggestion checks)."""
    out: dict[str, str] = {}
    names = repo.git.diff("--name-only", "--diff-filter=AMR", "-z", start, head).split("\0")
    tree = repo.commit(head).tree
    for name in filter(None, names):
        try:
            blob = tree / name
        except KeyError:
            continue
        if blob.size > MAX_SOURCE_BYTES:
            continue  # not read at all
        text = source_text(blob.data_stream.read())
        if text is not None:
            out[name] = text
    return out


def local_change(repo_path: Path, base: str, head: str | None = None) -> LocalChange:
    """The change from the merge base of ``base`` and ``head`` (default: the work tree's HEAD).

    The repository config is read from ``base``, as a pull request's is read from its default
    branch, so the change under review cannot change how it is reviewed.
    """
    try:
        repo = git.Repo(repo_path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise LocalRepoError(f"{repo_path} is not a git repository") from exc
    try:
        head_commit = repo.commit(head or "HEAD")
        base_commit = repo.commit(base)
    except (git.BadName, ValueError) as exc:
        raise LocalRepoError(f"unknown ref: {exc}") from exc
    merge_bases = repo.merge_base(base_commit, head_commit)
    if not merge_bases:
        raise LocalRepoError(f"{base} and {head or 'HEAD'} share no history")
    start = merge_bases[0]
    diff = repo.git.diff("-M", "--no-color", "--no-ext-diff", start.hexsha, head_commit.hexsha)
    try:
        config_text = repo.git.show(f"{base_commit.hexsha}:{CONFIG_PATH}")
    except git.GitCommandError:
        config_text = None
    message = str(head_commit.message).strip()
    title, _, body = message.partition("\n")
    return LocalChange(
        title.strip(),
        body.strip(),
        diff + "\n" if diff else "",
        parse_repo_config(config_text),
        start.hexsha,
        head_commit.hexsha,
        _sources(repo, start.hexsha, head_commit.hexsha),
    )
