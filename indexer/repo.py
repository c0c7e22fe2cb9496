"""Git access with GitPython: clone/fetch into a cache directory, list a commit's blobs,
read blobs, and diff two commits by blob sha. Returns our own value types."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import git

from indexer.errors import RepoError


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path's change between two commits; `old_sha`/`new_sha` are None when absent."""

    path: str
    old_sha: str | None
    new_sha: str | None


def repo_key(source: str) -> str:
    """A stable, filesystem-safe name for a repository URL or path."""
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", source.rstrip("/").removesuffix(".git"))[-60:]
    return f"{tail.strip('_')}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


def open_or_clone(source: str, cache_dir: Path, *, fetch: bool = True) -> git.Repo:
    """A local path is used in place; a URL is cloned bare and shallow (depth 1, every
    branch) into `cache_dir`: indexing compares trees of two commits and never needs
    history, so later fetches stay shallow too."""
    local = Path(source)
    if local.exists():
        try:
            return git.Repo(str(local))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise RepoError(f"{source} is not a git repository") from exc
    target = cache_dir / "repos" / repo_key(source)
    try:
        if target.exists():
            repo = git.Repo(str(target))
            if fetch:
                repo.git.fetch("--depth", "1", "--prune", "origin", "+refs/heads/*:refs/heads/*")
            return repo
        target.parent.mkdir(parents=True, exist_ok=True)
        return git.Repo.clone_from(source, str(target), bare=True, depth=1, no_single_branch=True)
    except git.GitCommandError as exc:
        raise RepoError(f"cannot clone or fetch {source}: {exc.stderr.strip()}") from exc


def fetch_ref(repo: git.Repo, ref: str) -> None:
    """Fetch a ref (e.g. `refs/pull/7/head`) that a plain fetch does not bring."""
    try:
        repo.git.fetch("--depth", "1", "origin", f"+{ref}:{ref}")
    except git.GitCommandError as exc:
        raise RepoError(f"cannot fetch {ref}: {exc.stderr.strip()}") from exc


def resolve(repo: git.Repo, ref: str) -> str:
    try:
        return str(repo.commit(ref).hexsha)
    except (git.BadName, ValueError) as exc:
        raise RepoError(f"unknown ref {ref!r}") from exc


def tree_blobs(repo: git.Repo, commit: str) -> dict[str, str]:
    """path -> blob sha of every regular file at `commit` (no submodules, no symlinks)."""
    out = repo.git.ls_tree("-r", "-z", "--full-tree", commit)
    blobs: dict[str, str] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob" and mode in ("100644", "100755"):
            blobs[path] = sha
    return blobs


def blob_sizes(repo: git.Repo, shas: list[str]) -> dict[str, int]:
    """Sizes of many blobs through one `git cat-file --batch-check`, reading no content."""
    out: dict[str, int] = {}
    if not shas:
        return out
    proc = repo.git.cat_file("--batch-check", as_process=True, istream=-1)
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:
        raise RepoError("git cat-file --batch-check has no pipes")

    def write() -> None:
        for sha in shas:
            stdin.write(f"{sha}\n".encode())
        stdin.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    for _ in shas:
        header = stdout.readline().split()
        if len(header) >= 3:  # "<sha> <type> <size>"; "<sha> missing" otherwise
            out[header[0].decode()] = int(header[2])
    writer.join()
    proc.wait()
    return out


def read_blobs(repo: git.Repo, shas: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch` process."""
    out: dict[str, bytes] = {}
    if not shas:
        return out
    proc = repo.git.cat_file("--batch", as_process=True, istream=-1)
    stdin, stdout = proc.stdin, proc.stdout
    if stdin is None or stdout is None:
        raise RepoError("git cat-file --batch has no pipes")

    def write() -> None:
        for sha in shas:
            stdin.write(f"{sha}\n".encode())
        stdin.close()

    # A writer thread avoids a pipe deadlock when the requests outgrow the pipe buffer.
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    for _ in shas:
        header = stdout.readline().split()
        if len(header) < 3:
            continue
        size = int(header[2])
        out[header[0].decode()] = stdout.read(size)
        stdout.read(1)
    writer.join()
    proc.wait()
    return out


def diff_blobs(old: dict[str, str], new: dict[str, str]) -> list[FileChange]:
    """Pure: added, changed and removed paths between two path->blob maps. A rename is a
    removal plus an addition; the new path's chunks come from the embedding cache."""
    changes = [FileChange(p, old.get(p), sha) for p, sha in new.items() if old.get(p) != sha]
    changes += [FileChange(p, sha, None) for p, sha in old.items() if p not in new]
    return sorted(changes, key=lambda c: c.path)


def read_text_at(repo: git.Repo, commit: str, path: str) -> str | None:
    try:
        return str(repo.git.show(f"{commit}:{path}"))
    except git.GitCommandError:
        return None
