"""A throwaway git working copy: fetched, read, written, committed and pushed with the git CLI.

Every git runs hardened (:mod:`bot.gitsafe`): a minimal environment with none of the worker's
variables, no system or global config, no hooks, fsmonitor or exotic transports, and the
copy's own ``.git/config`` checked before each command (a fetched copy's config may hold only
what ``git init`` writes). Clone URLs carry credentials (:meth:`Forge.clone_url` is a
SecretStr): git gets the URL without them and asks an inline credential helper that reads them
from the one command's environment, so they are never on a command line or in the config, and
every message that could echo them is redacted. Repository code never runs in this copy: the
tests run on a copy of the files (no ``.git``) inside the sandbox (:mod:`bot.sandbox`). Only
tracked regular files are read; a path is written only when it and every directory above it
stay inside the working copy (no symlinks followed).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from bot import gitsafe
from bot.fix.errors import WorkspaceError

MAX_FILE_BYTES = 512 * 1024
_GIT_TIMEOUT_S = 600
_REGULAR = frozenset({"100644", "100755"})


def redact(text: str, secret: SecretStr | None) -> str:
    """``text`` with the URL's credentials (and the URL itself) taken out."""
    if secret is None:
        return text
    url = secret.get_secret_value()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    public = urlunsplit((parts.scheme, host, parts.path, "", ""))
    out = text.replace(url, public)
    for piece in (parts.password, parts.username if parts.password is None else None):
        if piece and len(piece) >= 4:
            out = out.replace(piece, "***")
    return out


def public_url(secret: SecretStr) -> str:
    return redact(secret.get_secret_value(), secret)


@dataclass(frozen=True, slots=True)
class Identity:
    name: str = "forge-assist"
    email: str = "forge-assist@users.noreply.localhost"


class GitWorkspace:
    """A working copy at ``root``. Build with :meth:`fetch` (a forge repository) or
    :meth:`open` (a local repository used in place, read-only)."""

    def __init__(self, root: Path, *, own_config: bool = False) -> None:
        self.root = root
        # a local repository of the CLI's user keeps its config (remotes, branches); a copy we
        # fetched may hold only what `git init` writes, checked before every git
        self.own_config = own_config
        self._tracked: dict[str, str] | None = None  # path -> mode

    # --- creating -----------------------------------------------------------------------------

    @classmethod
    def fetch(
        cls, root: Path, url: SecretStr, ref: str, *, depth: int = 1, env: Mapping[str, str]
    ) -> GitWorkspace:
        """A fresh working copy of ``ref`` (a branch or a full commit sha) at ``root``."""
        ws = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        ws.git("init", "-q", env=env)
        ws.git("fetch", "-q", "--no-tags", f"--depth={depth}", url, ref, secret=url, env=env)
        ws.git("checkout", "-q", "--detach", "FETCH_HEAD", env=env)
        return ws

    @classmethod
    def open(cls, root: Path) -> GitWorkspace:
        if not (root / ".git").exists():
            raise WorkspaceError(f"{root} is not the top of a git working copy")
        return cls(root, own_config=True)

    @staticmethod
    def default_branch(url: SecretStr, *, env: Mapping[str, str]) -> str:
        """The branch the remote's HEAD points to."""
        out = _run(["git", "ls-remote", "--symref", url, "HEAD"], None, url, env)
        for line in out.splitlines():
            if line.startswith("ref:") and line.endswith("\tHEAD"):
                return line.split()[1].removeprefix("refs/heads/")
        raise WorkspaceError("the repository has no default branch (is it empty?)")

    # --- git ----------------------------------------------------------------------------------

    def git(
        self,
        *args: str | SecretStr,
        secret: SecretStr | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        if not self.own_config:
            try:
                gitsafe.check_config(self.root / ".git")
            except gitsafe.GitError as exc:
                raise WorkspaceError(str(exc)) from None
        return _run(["git", *args], self.root, secret, env)

    def verify(self) -> None:
        """Raise WorkspaceError unless the copy's git config is still what git wrote (after
        anything that could have written to it)."""
        if not self.own_config:
            try:
                gitsafe.check_config(self.root / ".git")
            except gitsafe.GitError as exc:
                raise WorkspaceError(str(exc)) from None

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def show(self, ref: str, path: str) -> str | None:
        try:
            return self.git("show", f"{ref}:{path}")
        except WorkspaceError:
            return None

    # --- reading (the pipeline's Source) ------------------------------------------------------

    def _entries(self) -> dict[str, str]:
        if self._tracked is None:
            out = self.git("ls-files", "-s", "-z")
            tracked: dict[str, str] = {}
            for entry in out.split("\0"):
                if entry:
                    meta, path = entry.split("\t", 1)
                    tracked[path] = meta.split()[0]
            self._tracked = tracked
        return self._tracked

    def paths(self) -> Sequence[str]:
        return sorted(p for p, mode in self._entries().items() if mode in _REGULAR)

    def read(self, path: str) -> str | None:
        if self._entries().get(path) not in _REGULAR or self.refusal(path) is not None:
            return None
        target = self.root / path
        try:
            if target.is_symlink() or not target.is_file():
                return None
            if target.stat().st_size > MAX_FILE_BYTES:
                return None
            data = target.read_bytes()
        except OSError:
            return None
        if b"\0" in data[:8192]:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def refusal(self, path: str) -> str | None:
        mode = self._entries().get(path)
        if mode is not None and mode not in _REGULAR:
            kind = "a symlink" if mode == "120000" else "a submodule" if mode == "160000" else mode
            return f"{path} is {kind}"
        root = self.root.resolve()
        current = self.root
        for part in Path(path).parts[:-1]:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                return f"{path} goes through {current.relative_to(self.root)}, not a directory"
        target = self.root / path
        if target.is_symlink():
            return f"{path} is a symlink"
        if not target.resolve().is_relative_to(root):
            return f"{path} is outside the repository"
        if target.exists() and not target.is_file():
            return f"{path} is not a regular file"
        return None

    # --- writing ------------------------------------------------------------------------------

    def write(self, files: Mapping[str, str]) -> None:
        for path, text in sorted(files.items()):
            reason = self.refusal(path)
            if reason is not None:
                raise WorkspaceError(f"refusing to write {path}: {reason}")
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        self._tracked = None

    def commit(
        self, paths: Sequence[str], message: str, *, identity: Identity | None = None
    ) -> str:
        identity = identity or Identity()
        self.git("add", "--", *paths)
        self.git(
            "-c", f"user.name={identity.name}", "-c", f"user.email={identity.email}",
            "commit", "-q", "--no-verify", "-m", message,
        )  # fmt: skip
        return self.head()

    def push(
        self, url: SecretStr, branch: str, *, env: Mapping[str, str], force: bool = False
    ) -> None:
        refspec = f"{'+' if force else ''}HEAD:refs/heads/{branch}"
        self.git("push", "-q", "--no-verify", url, refspec, secret=url, env=env)

    def delete_branch(self, url: SecretStr, branch: str, *, env: Mapping[str, str]) -> None:
        self.git("push", "-q", "--no-verify", url, f":refs/heads/{branch}", secret=url, env=env)


def git_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment git runs in: :func:`bot.gitsafe.minimal_env`, taking only ``PATH``
    from ``base`` (none of the process's other variables, so none of its secrets)."""
    env = gitsafe.minimal_env()
    if base.get("PATH"):
        env["PATH"] = base["PATH"]
    return env


def _run(
    argv: Sequence[str | SecretStr],
    cwd: Path | None,
    secret: SecretStr | None,
    env: Mapping[str, str] | None,
) -> str:
    remote: gitsafe.Remote | None = None
    plain: list[str] = []
    for arg in argv[1:]:
        if isinstance(arg, SecretStr):  # the URL: credentials go to the helper's environment
            remote = gitsafe.Remote.parse(arg)
            plain.append(remote.url)
        else:
            plain.append(arg)
    run_env = git_env(env or {})
    if remote is not None:
        run_env.update(gitsafe.minimal_env(remote=remote))
        if env and env.get("PATH"):
            run_env["PATH"] = env["PATH"]
    try:
        done = subprocess.run(
            gitsafe.argv(*plain, remote=remote),
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"git {_verb(argv)} timed out after {_GIT_TIMEOUT_S}s") from None
    except OSError as exc:
        raise WorkspaceError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        err = redact(done.stderr.decode("utf-8", "replace").strip(), secret)
        raise WorkspaceError(f"git {_verb(argv)} failed: {err[-1500:]}")
    return done.stdout.decode("utf-8", "replace")


def _verb(argv: Sequence[str | SecretStr]) -> str:
    words = [a for a in argv[1:] if isinstance(a, str) and not a.startswith("-")]
    words = [w for w in words if "=" not in w]
    return words[0] if words else "?"


def env_for_git() -> dict[str, str]:
    """The git environment built from this process's (entry points call it)."""
    return git_env(os.environ)
