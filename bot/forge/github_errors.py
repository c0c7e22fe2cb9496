"""PyGithub and requests errors as the forge package's own exceptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from github import GithubException

from bot.forge.errors import (
    AuthenticationFailed,
    ForgeError,
    ForgeUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)


def reset_time(headers: Any, *, default_s: float = 60.0) -> datetime | None:
    """When a rate limit lifts, from ``Retry-After`` or ``X-RateLimit-Reset``/``RateLimit-Reset``;
    None when the headers do not describe a rate limit."""
    lowered = {str(k).lower(): str(v) for k, v in dict(headers or {}).items()}
    now = datetime.now(UTC)
    if lowered.get("retry-after", "").isdigit():
        return now + timedelta(seconds=int(lowered["retry-after"]))
    exhausted = (
        lowered.get("x-ratelimit-remaining") == "0" or lowered.get("ratelimit-remaining") == "0"
    )
    reset = lowered.get("x-ratelimit-reset") or lowered.get("ratelimit-reset")
    if exhausted and reset and reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC)
    if exhausted:
        return now + timedelta(seconds=default_s)
    return None


def map_github_error(error: GithubException) -> ForgeError:
    status = error.status
    message = f"GitHub answered {status}: {error.data}"
    if status == 401:
        return AuthenticationFailed(message, status=status)
    if status in (403, 429):
        reset = reset_time(error.headers)
        text = str(error.data).lower()
        if reset is None and (status == 429 or "rate limit" in text):
            reset = datetime.now(UTC) + timedelta(seconds=60)
        if reset is not None:
            return RateLimited(message, reset_at=reset, status=status)
        return PermissionDenied(message, status=status)
    if status == 404:
        return NotFound(message, status=status)
    if status in (400, 409, 422):
        return ValidationFailed(message, status=status)
    if status >= 500:
        return ForgeUnavailable(message, status=status)
    return ForgeError(message, status=status)


def map_transport_error(error: requests.RequestException) -> ForgeUnavailable:
    return ForgeUnavailable(f"GitHub unreachable: {type(error).__name__}: {error}")
