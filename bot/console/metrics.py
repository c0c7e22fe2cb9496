"""Prometheus metrics the console serves at /metrics: job outcomes and model tokens from the
job records (the workers serve no HTTP). Counts by kind and status only: no repository names."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from bot.db.models import JobRun

log = logging.getLogger(__name__)


class JobRecords(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "assist_job_runs", "Recorded job runs by kind and status.", labels=["kind", "status"]
        )
        tokens = GaugeMetricFamily(
            "assist_job_tokens_24h",
            "Model tokens of jobs finished in the last 24 hours, by kind and type.",
            labels=["kind", "type"],
        )
        seconds = GaugeMetricFamily(
            "assist_job_model_seconds_24h",
            "Model seconds of jobs finished in the last 24 hours, by kind.",
            labels=["kind"],
        )
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        try:
            with self._engine.connect() as conn:
                for kind, status, count in conn.execute(
                    select(JobRun.kind, JobRun.status, func.count()).group_by(
                        JobRun.kind, JobRun.status
                    )
                ):
                    runs.add_metric([kind, status], count)
                usage = JobRun.usage
                for kind, prompt, completion, latency in conn.execute(
                    select(
                        JobRun.kind,
                        func.coalesce(func.sum(usage["prompt_tokens"].as_integer()), 0),
                        func.coalesce(func.sum(usage["completion_tokens"].as_integer()), 0),
                        func.coalesce(func.sum(usage["latency_s"].as_float()), 0.0),
                    )
                    .where(JobRun.finished_at >= since)
                    .group_by(JobRun.kind)
                ):
                    tokens.add_metric([kind, "prompt"], int(prompt))
                    tokens.add_metric([kind, "completion"], int(completion))
                    seconds.add_metric([kind], float(latency))
        except Exception as exc:  # a scrape must not fail because the database is down
            log.warning("job metrics unavailable: %s", type(exc).__name__)
        yield runs
        yield tokens
        yield seconds


def console_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(JobRecords(engine))
    return registry


def expose(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
