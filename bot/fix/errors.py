"""The fix package's exceptions."""

from __future__ import annotations


class FixError(Exception):
    """Base of every fix error; the message is safe to show on the forge (no secrets)."""


class WorkspaceError(FixError):
    """The git working copy could not be prepared, read, committed or pushed."""


class SandboxUnavailable(FixError):
    """The repository's test command cannot be run safely here (e.g. no network isolation)."""
