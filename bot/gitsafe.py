"""Git, run so that nothing a repository (or repository code) wrote can make it run a command
or see a secret. Every git the workers run (mirrors, the fix working copy) goes through here.

- a minimal environment: PATH, HOME (an empty directory of ours), LC_ALL; no ``ASSIST_*``, no
  ``GIT_*`` of the process; ``GIT_CONFIG_NOSYSTEM=1`` and ``GIT_CONFIG_GLOBAL=/dev/null`` so
  only the repository's own config is read, and that is checked first (:func:`check_config`);
- command-line settings (which win over any config file): no fsmonitor, no hooks, no ``ext::``
  or other exotic transports (only https/http, and ``file`` for local copies when asked), no
  credential helper but ours, no pager, no external diff;
- credentials never on the command line: the clean URL is passed and an inline credential
  helper answers from two variables of the one git's environment (``/proc/PID/cmdline`` is
  readable by every process of the machine, ``environ`` only by the same user);
- a repository config holding anything but the plain keys git itself writes (``core.*`` basics,
  ``extensions.*``) is refused: ``url.*.insteadOf``, ``filter.*``, ``include.path``,
  ``core.fsmonitor``, ``core.sshCommand``... could each run a command.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

GIT_TIMEOUT_S = 600
_PATH = "/usr/local/bin:/usr/bin:/bin"
_USER_VAR = "FORGE_GIT_USERNAME"
_PASSWORD_VAR = "FORGE_GIT_PASSWORD"
_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo "username=${{{_USER_VAR}}}"; '
    f'echo "password=${{{_PASSWORD_VAR}}}"; }}; f'
)
HARDENING: tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.sshCommand=false",
    "-c", "core.gitProxy=",
    "-c", "core.pager=cat",
    "-c", "core.askPass=",
    "-c", "diff.external=",
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.ext.allow=never",
    "-c", "credential.helper=",
    "-c", "submodule.recurse=false",
    "-c", "advice.detachedHead=false",
)  # fmt: skip
_LOCAL_FILES = ("-c", "protocol.file.allow=always")
# what `git init` (bare or not) writes; anything else in a repository's config is refused
_SAFE_KEYS = re.compile(
    r"^(core\.(repositoryformatversion|filemode|bare|logallrefupdates|ignorecase|"
    r"precomposeunicode|symlinks)|extensions\.(objectformat|worktreeconfig|noop)|"
    r"init\.defaultbranch|gc\.auto|user\.(name|email))$"
)


_HEADER = re.compile(r'^\[(?P<name>[A-Za-z0-9.-]+)(?:\s+"(?P<sub>[^"\\]*)")?\]\s*(?:[#;].*)?$')


class GitError(RuntimeError):
    """A git command failed or a repository's config is unsafe; no credentials in the text."""


@dataclass(frozen=True, slots=True)
class Remote:
    """A clone URL split into what git may see (``url``) and what only the credential
    helper's environment holds."""

    url: str
    username: str
    password: str

    @classmethod
    def parse(cls, secret: SecretStr | str) -> Remote:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        parts = urlsplit(raw)
        if parts.scheme in ("http", "https"):
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            clean = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
            return cls(clean, parts.username or "", parts.password or "")
        return cls(raw, "", "")

    def redact(self, text: str) -> str:
        for piece in (self.password, self.username if not self.password else ""):
            if piece and len(piece) >= 4:
                text = text.replace(piece, "***")
        return text


def minimal_env(home: Path | None = None, remote: Remote | None = None) -> dict[str, str]:
    """The whole environment of one git: nothing of the worker's."""
    env = {
        "PATH": _PATH,
        "HOME": str(home) if home is not None else "/nonexistent",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GCM_INTERACTIVE": "never",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_PROTOCOL_FROM_USER": "0",
    }
    if remote is not None and (remote.username or remote.password):
        env[_USER_VAR] = remote.username
        env[_PASSWORD_VAR] = remote.password
    return env


def argv(*args: str, remote: Remote | None = None, local_files: bool = False) -> list[str]:
    """``git`` with the hardening settings (and our credential helper when ``remote`` has
    credentials) in front of ``args``."""
    out = ["git", *HARDENING]
    if local_files:
        out += _LOCAL_FILES
    if remote is not None and (remote.username or remote.password):
        out += ["-c", f"credential.helper={_HELPER}"]
    return [*out, *args]


def unsafe_config(git_dir: Path) -> list[str]:
    """The keys of ``git_dir``'s config that are not plain ones git writes itself (empty when
    the config is safe to let git read). Read as a file, never by git; anything this strict
    reading does not understand (escapes, continuation lines, odd headers) counts as unsafe."""
    path = git_dir / "config"
    bad: list[str] = []
    for extra in ("config.worktree", "commondir"):
        if (git_dir / extra).exists():
            bad.append(extra)
    if not path.exists() and not path.is_symlink():
        return bad
    if path.is_symlink() or not path.is_file():
        return [*bad, "config (not a regular file)"]
    try:
        text = path.read_text("utf-8")
    except (UnicodeDecodeError, OSError) as exc:
        return [*bad, f"config (unreadable: {type(exc).__name__})"]
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if "\\" in line:
            bad.append(f"{section or 'config'} (escape or continuation)")
            continue
        if line.startswith("["):
            header = _HEADER.match(line)
            if header is None:
                bad.append(f"config (header {line[:40]!r})")
                section = "?"
                continue
            section = header["name"].lower() + (".<sub>" if header["sub"] is not None else "")
            continue
        key = re.split(r"[\s=]", line, maxsplit=1)[0].lower()
        full = f"{section}.{key}"
        if not section or not _SAFE_KEYS.match(full):
            bad.append(full)
    return bad


def check_config(git_dir: Path) -> None:
    """Raise GitError when ``git_dir``'s config holds anything git could run."""
    bad = unsafe_config(git_dir)
    if bad:
        raise GitError(
            f"refusing to run git in {git_dir.name}: its config holds {', '.join(sorted(bad))}"
        )


def run(
    args: Sequence[str],
    *,
    cwd: Path | None,
    remote: Remote | None = None,
    home: Path | None = None,
    local_files: bool = False,
    extra_env: Mapping[str, str] | None = None,
    timeout_s: int = GIT_TIMEOUT_S,
) -> str:
    """Run one hardened git; returns stdout, raises GitError (credentials redacted)."""
    env = minimal_env(home, remote)
    env.update(extra_env or {})
    command = argv(*args, remote=remote, local_files=local_files)
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {_verb(args)} timed out after {timeout_s}s") from None
    except OSError as exc:
        raise GitError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        if remote is not None:
            err = remote.redact(err)
        raise GitError(f"git {_verb(args)} failed: {err[-1500:]}")
    return done.stdout.decode("utf-8", "replace")


def _verb(args: Sequence[str]) -> str:
    words = [a for a in args if not a.startswith("-") and "=" not in a]
    return words[0] if words else "?"


def empty_home(base: Path) -> Path:
    """An empty directory to serve as git's HOME (so no ``~/.gitconfig`` is ever read)."""
    home = base / "git-home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def process_env_has_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of ``ASSIST_*`` variables in ``env`` (the process's by default)."""
    source = os.environ if env is None else env
    return sorted(k for k in source if k.startswith("ASSIST_"))
