"""The ``tests`` check: a repository's own test command, run only where the operator allows it
(``ASSIST_FIX_RUN_TESTS`` and the allow-list, :func:`bot.fix.run.test_runner`) and the
repository asks for it, and only inside the bubblewrap sandbox (:mod:`bot.sandbox.bwrap`).

The command gets the candidate tree by value (the working copy's files, ``.git`` left out,
the candidate written over them): it never sees the working copy git runs in, the cache, the
mirrors or any secret. Where the sandbox cannot run, the check is not run and says why; there
is no weaker fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.fix.checks import CheckResult, Status
from bot.fix.errors import SandboxUnavailable
from bot.sandbox import bwrap
from bot.sandbox.tree import TreeTooLarge, pack
from bot.sanitize import redact_secrets

Limits = bwrap.Limits
_SHOWN_CHARS = 3000


def isolation() -> bwrap.Isolation:
    """The sandbox this machine gives; raises SandboxUnavailable with the reason."""
    try:
        return bwrap.probe()
    except bwrap.Unavailable as exc:
        raise SandboxUnavailable(str(exc)) from None


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else "[...]\n" + text[-_SHOWN_CHARS:]


def describe(command: str, outcome: bwrap.Outcome, limits: Limits) -> CheckResult:
    """The check's result from the sandbox's outcome (output already capped and redacted)."""
    text = ("[output truncated]\n" if outcome.truncated else "") + _tail(outcome.output)
    command = redact_secrets(command)
    if outcome.timed_out:
        return CheckResult(
            "tests", Status.FAILED, f"`{command}` did not finish in {limits.timeout_s}s\n{text}"
        )
    if outcome.returncode == 0:
        return CheckResult("tests", Status.PASSED, f"`{command}` passed\n{text}")
    return CheckResult(
        "tests", Status.FAILED, f"`{command}` exited with {outcome.returncode}\n{text}"
    )


@dataclass(frozen=True, slots=True)
class SandboxRunner:
    """The ``tests`` check: ``command`` run with ``sh -c`` on a copy of ``root`` (plus the
    candidate's changes) inside the sandbox."""

    root: Path
    command: str
    limits: Limits
    isolation: bwrap.Isolation  # from isolation()
    scratch: Path | None = None  # unused: the tree travels by value
    mounts: bwrap.Mounts | None = None
    secrets: Sequence[str] = field(default=())

    def run(self, changed: Mapping[str, str]) -> CheckResult:
        try:
            tree = pack(self.root, changed)
        except TreeTooLarge as exc:
            return CheckResult("tests", Status.SKIPPED, f"not run: {exc}")
        outcome = bwrap.run(
            self.isolation, self.limits, tree, self.command, mounts=self.mounts,
            secrets=self.secrets,
        )  # fmt: skip
        return describe(self.command, outcome, self.limits)


@dataclass(frozen=True, slots=True)
class QueuedSandbox:
    """The ``tests`` check run by the secretless sandbox role (:mod:`bot.sandbox.role`): the
    tree goes by value on the ``sandbox`` queue; this worker never runs repository code."""

    root: Path
    command: str
    limits: Limits
    redis_url: str
    prefix: str

    def run(self, changed: Mapping[str, str]) -> CheckResult:
        from bot.sandbox.role import QueuedSandboxError, run_queued

        try:
            tree = pack(self.root, changed)
        except TreeTooLarge as exc:
            return CheckResult("tests", Status.SKIPPED, f"not run: {exc}")
        try:
            outcome = run_queued(self.redis_url, self.prefix, tree, self.command, self.limits)
        except bwrap.Unavailable as exc:
            return CheckResult("tests", Status.SKIPPED, f"not run: {exc}")
        except QueuedSandboxError as exc:
            return CheckResult("tests", Status.SKIPPED, f"not run: {exc}")
        return describe(self.command, outcome, self.limits)
