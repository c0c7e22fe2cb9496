"""Bounded retries: transient failures inside an adapter call, rate limits around a job step."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from bot.forge.errors import ForgeUnavailable, RateLimited

T = TypeVar("T")
# Statuses where a write never reached the forge, so trying it again cannot post it twice.
RETRYABLE_WRITE = frozenset({502, 503, 504})
log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


def retry_transient(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[Exception], bool],
    attempts: int,
    backoff_s: float,
    sleep: Sleep = time.sleep,
) -> T:
    """Call ``fn``; on a transient error retry up to ``attempts`` times in all, with an
    exponential backoff, then raise ForgeUnavailable from the last error."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == attempts - 1:
                raise ForgeUnavailable(
                    f"forge unavailable after {attempts} attempts: {error}",
                    status=getattr(error, "status", None),
                ) from error
            delay = backoff_s * (2**attempt)
            log.warning("forge call failed (%s); retry %d in %.1f s", error, attempt + 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def wait_for_rate_limit(
    fn: Callable[[], T],
    *,
    max_wait_s: float = 120.0,
    max_attempts: int = 3,
    sleep: Sleep = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> T:
    """Call ``fn``; when it is rate limited, sleep until the reset and try again.

    Bounded twice: a reset further away than ``max_wait_s`` is re-raised at once (the job
    should be rescheduled instead), and at most ``max_attempts`` calls are made.
    """
    for attempt in range(max_attempts):
        try:
            return fn()
        except RateLimited as error:
            wait = error.wait_s(now())
            if wait > max_wait_s or attempt == max_attempts - 1:
                raise
            log.warning("rate limited; waiting %.0f s for the reset", wait)
            sleep(wait + 0.25)
    raise AssertionError("unreachable")  # pragma: no cover
