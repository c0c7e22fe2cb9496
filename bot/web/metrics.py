"""Prometheus metrics of the web process, on a registry of its own (one per app)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class _QueueDepth(Collector):
    def __init__(self, depth: Callable[[], Mapping[str, int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "assist_queue_depth", "Jobs waiting in each queue.", labels=["queue"]
        )
        try:
            for queue, count in self._depth().items():
                family.add_metric([queue], count)
        except Exception as exc:  # a scrape must not fail because Redis is down
            log.warning("queue depth unavailable: %s", type(exc).__name__)
        yield family


Outcomes = Callable[[], Iterable[tuple[str, str, str, str, int]]]
"""(forge, repo, category, outcome, findings) rows: the findings table's outcomes."""


class _FindingOutcomes(Collector):
    """Accepted / rejected / ignored findings by repository and category, read from the
    database at scrape time (the workers that record feedback serve no metrics)."""

    def __init__(self, outcomes: Outcomes) -> None:
        self._outcomes = outcomes

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "assist_findings_outcome",
            "Posted findings by the outcome their feedback gave (docs/feedback.md).",
            labels=["forge", "repo", "category", "outcome"],
        )
        try:
            for forge, repo, category, outcome, count in self._outcomes():
                family.add_metric([forge, repo, category, outcome], count)
        except Exception as exc:  # a scrape must not fail because the database is down
            log.warning("finding outcomes unavailable: %s", type(exc).__name__)
        yield family


Refusals = Callable[[], Iterable[tuple[str, str, str, int]]]
"""(forge, scope, ``replied``/``silent``, count) rows: commands refused by a quota."""


class _CommandRefusals(Collector):
    """Commands refused by a quota (bot/access/quota.py), read from Redis at scrape time: the
    workers that refuse them serve no metrics."""

    def __init__(self, refusals: Refusals) -> None:
        self._refusals = refusals

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "assist_command_refusals",
            "`/assist` commands refused by a quota, by scope (user, repo) and whether the "
            "refusal replied (the window's first) or stayed silent.",
            labels=["forge", "scope", "reply"],
        )
        try:
            for forge, scope, reply, count in self._refusals():
                family.add_metric([forge, scope, reply], count)
        except Exception as exc:  # a scrape must not fail because Redis is down
            log.warning("command refusals unavailable: %s", type(exc).__name__)
        yield family


class IntakeMetrics:
    """Counters and histograms of intake.

    With several web processes (``assist serve --workers N``) the entry point sets
    ``PROMETHEUS_MULTIPROC_DIR``; every process then writes its samples there and ``expose``
    aggregates them, so a scrape of any process sees the whole service.
    """

    def __init__(
        self,
        depth: Callable[[], Mapping[str, int]],
        *,
        multiprocess_dir: str | None = None,
        outcomes: Outcomes | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        self._multiprocess = bool(multiprocess_dir)
        self._depth = _QueueDepth(depth)
        self._outcomes = _FindingOutcomes(outcomes) if outcomes is not None else None
        self._refusals = _CommandRefusals(refusals) if refusals is not None else None
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "assist_deliveries",
            "Webhook deliveries by forge, event and outcome.",
            ["forge", "event", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "assist_delivery_seconds",
            "Time to answer a webhook delivery.",
            ["forge"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.unauthenticated = Counter(
            "assist_unauthenticated_requests",
            "Webhook requests refused as not from the forge, by reason (missing or malformed "
            "signature/token header: refused before the body is read). Never stored row by row.",
            ["forge", "reason"],
            registry=self.registry,
        )
        for collector in (self._depth, self._outcomes, self._refusals):
            if collector is not None:
                self.registry.register(collector)

    def expose(self) -> bytes:
        if not self._multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        for collector in (self._depth, self._outcomes, self._refusals):
            if collector is not None:
                registry.register(collector)
        return generate_latest(registry)
