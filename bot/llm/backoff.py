"""How long to wait before a retry. Pure: no I/O, no sleeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def retry_delay(
    retry: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number ``retry`` (1-based).

    The server's ``Retry-After`` wins when given (capped at ``max_s``); otherwise exponential
    backoff ``base_s * 2**(retry-1)`` with "full jitter" in its upper half, capped at ``max_s``.
    """
    if retry_after_s is not None:
        return min(retry_after_s, max_s)
    ceiling = min(base_s * 2.0 ** (retry - 1), max_s)
    jitter = rng.uniform(0.5, 1.0) if rng is not None else random.uniform(0.5, 1.0)
    return ceiling * jitter
