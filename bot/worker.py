"""`assist worker`: RQ workers on named queues, with the job context installed."""

from __future__ import annotations

from collections.abc import Sequence

from rq import Worker

from bot.app import queue_policy
from bot.jobs.context import WorkerContext, install
from bot.queue import queue_name
from bot.routing import QueueName
from bot.services import build_services
from bot.settings import Settings


def run_worker(
    settings: Settings,
    queues: Sequence[QueueName],
    *,
    burst: bool = False,
    name: str | None = None,
) -> bool:
    """Work the queues until stopped (or until empty with ``burst``)."""
    services = build_services(settings)
    install(WorkerContext(settings=settings, engine=services.engine, redis=services.redis))
    policy = queue_policy(settings)
    worker = Worker([queue_name(policy, q) for q in queues], connection=services.redis, name=name)
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level))
