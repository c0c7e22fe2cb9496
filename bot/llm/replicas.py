"""Health-aware choice among several replicas of one model server. Pure: no I/O.

Each replica has a count of requests in flight and a failure streak. A failure (connection
error, timeout, 5xx) takes the replica out of rotation for a cool-down that doubles with each
consecutive failure; a success puts it back at once. ``choose`` prefers healthy replicas with
the fewest requests in flight (round-robin among equals). When every replica is cooling down it
returns the one whose cool-down ends first, as a probe: a cluster that comes back is found
again without a separate health checker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Replica:
    url: str
    in_flight: int = 0
    failures: int = 0
    down_until: float = 0.0


class ReplicaSet:
    def __init__(
        self,
        urls: Iterable[str],
        *,
        cooldown_s: float = 2.0,
        max_cooldown_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._replicas = {url: _Replica(url) for url in urls}
        if not self._replicas:
            raise ValueError("at least one base URL is needed")
        self._order = list(self._replicas)
        self._cooldown_s = cooldown_s
        self._max_cooldown_s = max_cooldown_s
        self._clock = clock
        self._turn = 0

    @property
    def urls(self) -> list[str]:
        return list(self._order)

    def healthy(self) -> list[str]:
        now = self._clock()
        return [url for url in self._order if self._replicas[url].down_until <= now]

    def choose(self, *, avoid: frozenset[str] = frozenset()) -> str:
        """The replica for the next attempt; ``avoid`` holds the ones that just failed it."""
        healthy = self.healthy()
        candidates = [url for url in healthy if url not in avoid] or healthy
        if not candidates:
            return min(self._order, key=lambda url: self._replicas[url].down_until)
        self._turn += 1
        start = self._turn % len(self._order)
        rotated = self._order[start:] + self._order[:start]
        ranked = [url for url in rotated if url in candidates]
        return min(ranked, key=lambda url: self._replicas[url].in_flight)

    def started(self, url: str) -> None:
        self._replicas[url].in_flight += 1

    def finished(self, url: str) -> None:
        self._replicas[url].in_flight -= 1

    def succeeded(self, url: str) -> None:
        replica = self._replicas[url]
        replica.failures = 0
        replica.down_until = 0.0

    def failed(self, url: str) -> None:
        replica = self._replicas[url]
        replica.failures += 1
        pause = min(self._cooldown_s * 2.0 ** (replica.failures - 1), self._max_cooldown_s)
        replica.down_until = self._clock() + pause

    def in_flight(self, url: str) -> int:
        return self._replicas[url].in_flight
