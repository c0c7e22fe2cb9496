"""A small module."""

import os

LIMIT = 10


class RateLimiter:
    """Limit calls per window."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def allow(self, key: str) -> bool:
        """Return True when the key may call again."""
        return check_window(key, self.limit)


def check_window(key: str, limit: int) -> bool:
    """Check one window."""
    return len(os.path.join(key)) < limit
