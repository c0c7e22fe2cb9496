"""The forge package's exceptions: library errors become these, nothing else escapes."""

from __future__ import annotations

from datetime import UTC, datetime


class ForgeError(Exception):
    """Base of every forge error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ForgeError):
    """The repository, change, file or comment does not exist (or is hidden from us)."""


class PermissionDenied(ForgeError):
    """Authenticated, but not allowed to do this."""


class AuthenticationFailed(ForgeError):
    """The credentials were refused, even after refreshing them."""


class ValidationFailed(ForgeError):
    """The forge refused the request's content, e.g. a comment on a line outside the diff."""


class ForgeUnavailable(ForgeError):
    """The forge kept failing (5xx, timeouts, connection errors) after the retries."""


class RateLimited(ForgeError):
    """A rate limit was hit; ``reset_at`` says when requests are allowed again."""

    def __init__(self, message: str, *, reset_at: datetime, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at

    def wait_s(self, now: datetime | None = None) -> float:
        current = now or datetime.now(UTC)
        return max(0.0, (self.reset_at - current).total_seconds())
