"""Run a repository's own test command, only where its ``.assist.toml`` enables it, and only
in a sandbox:

- a throwaway copy of the working copy (``.git`` left out) with the candidate written over it;
- no network: a new network namespace (``unshare --net``, as root or through a user
  namespace); where neither works the command is not run at all and the check says why;
- limits: wall time (the process group is killed), CPU seconds, address space, file size,
  no core dumps (``prlimit``);
- a minimal environment: none of the worker's variables (so none of its secrets) reach it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.fix.checks import CheckResult, Status
from bot.fix.errors import SandboxUnavailable

_TAIL_CHARS = 3000
_ISOLATIONS: tuple[tuple[str, ...], ...] = (
    ("unshare", "--net", "--"),
    ("unshare", "--net", "--map-root-user", "--"),
)


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: int = 600
    memory_mb: int = 2048
    file_mb: int = 512


def network_isolation() -> tuple[str, ...]:
    """The command prefix that runs a program without network; raises SandboxUnavailable."""
    if shutil.which("unshare") is None:
        raise SandboxUnavailable("`unshare` is not installed: cannot cut the network off")
    for prefix in _ISOLATIONS:
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    raise SandboxUnavailable(
        "no network namespace available (`unshare --net` failed, as root and through a user "
        "namespace): the test command was not run"
    )


def limit_prefix(limits: Limits) -> tuple[str, ...]:
    if shutil.which("prlimit") is None:
        raise SandboxUnavailable("`prlimit` is not installed: cannot limit the test command")
    memory = limits.memory_mb * 1024 * 1024
    return (
        "prlimit",
        f"--as={memory}",
        f"--cpu={limits.timeout_s}",
        f"--fsize={limits.file_mb * 1024 * 1024}",
        "--core=0",
        "--",
    )


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "[...]\n" + text[-_TAIL_CHARS:]


def _copy(root: Path, into: Path, changed: Mapping[str, str]) -> Path:
    tree = into / "repo"
    shutil.copytree(root, tree, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    for path, text in changed.items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tree


@dataclass(frozen=True, slots=True)
class SandboxRunner:
    """The ``tests`` check: ``command`` run with ``sh -c`` in a sandboxed copy of ``root``."""

    root: Path
    command: str
    limits: Limits
    isolation: Sequence[str]  # from network_isolation()
    scratch: Path | None = None  # where the copies go (default: the system's temp dir)

    def run(self, changed: Mapping[str, str]) -> CheckResult:
        if self.scratch is not None:
            self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="assist-sandbox-", dir=self.scratch) as tmp:
            tree = _copy(self.root, Path(tmp), changed)
            home = Path(tmp) / "home"
            home.mkdir()
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(home),
                "TMPDIR": tmp,
                "LANG": "C.UTF-8",
                "CI": "true",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
            argv = [
                *limit_prefix(self.limits), *self.isolation, "sh", "-c", self.command,
            ]  # fmt: skip
            proc = subprocess.Popen(
                argv,
                cwd=tree,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                out, _ = proc.communicate(timeout=self.limits.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                out, _ = proc.communicate()
                text = _tail(out.decode("utf-8", "replace"))
                return CheckResult(
                    "tests",
                    Status.FAILED,
                    f"`{self.command}` did not finish in {self.limits.timeout_s}s\n{text}",
                )
            _kill_group(proc)  # whatever it left running in the background
            text = _tail(out.decode("utf-8", "replace"))
            if proc.returncode == 0:
                return CheckResult("tests", Status.PASSED, f"`{self.command}` passed\n{text}")
            return CheckResult(
                "tests",
                Status.FAILED,
                f"`{self.command}` exited with {proc.returncode}\n{text}",
            )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
