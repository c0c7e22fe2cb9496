"""python-gitlab and requests errors as the forge package's own exceptions.

python-gitlab's exceptions carry no headers, so the adapter's session records the headers of
the last response per thread; a 429 reads its reset time from them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError

from bot.forge.errors import (
    AuthenticationFailed,
    ForgeError,
    ForgeUnavailable,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from bot.forge.github_errors import reset_time


class LastHeaders(threading.local):
    headers: Any = None

    def hook(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self.headers = response.headers


def map_gitlab_error(error: GitlabError, last: LastHeaders) -> ForgeError:
    status = error.response_code or 0
    message = f"GitLab answered {status}: {error.error_message}"
    if isinstance(error, GitlabAuthenticationError) or status == 401:
        return AuthenticationFailed(message, status=status)
    if status == 429:
        reset = reset_time(last.headers) or datetime.now(UTC) + timedelta(seconds=60)
        return RateLimited(message, reset_at=reset, status=status)
    if status == 403:
        return PermissionDenied(message, status=status)
    if status == 404:
        return NotFound(message, status=status)
    if status in (400, 409, 422):
        return ValidationFailed(message, status=status)
    if status >= 500:
        return ForgeUnavailable(message, status=status)
    return ForgeError(message, status=status)
