"""Inspect, requeue and cancel jobs (`assist jobs list|retry|cancel`, the console)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    StartedJobRegistry,
)

from bot.intake.routing import QueueName
from bot.jobs.queue import QueuePolicy, queue_name

_REGISTRIES: dict[str, type[BaseRegistry]] = {
    "failed": FailedJobRegistry,
    "started": StartedJobRegistry,
    "finished": FinishedJobRegistry,
    "canceled": CanceledJobRegistry,
}
STATUSES = ("queued", *_REGISTRIES)


@dataclass(frozen=True, slots=True)
class JobInfo:
    job_id: str
    queue: str
    status: str
    description: str
    error: str


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def list_jobs(
    redis: Redis, policy: QueuePolicy, status: str, limit: int = 100
) -> Iterator[JobInfo]:
    for name in QueueName:
        queue = Queue(queue_name(policy, name), connection=redis)
        if status == "queued":
            ids = queue.get_job_ids(0, limit)
        else:
            ids = _REGISTRIES[status](queue=queue).get_job_ids(0, limit)
        for job in Job.fetch_many(ids, connection=redis):
            if job is None:
                continue
            error = ""
            if status == "failed":
                result = job.latest_result()
                error = _last_line(result.exc_string if result else None)
            yield JobInfo(job.id, queue.name, status, job.description or "", error)


def retry_jobs(redis: Redis, policy: QueuePolicy, job_ids: list[str]) -> list[str]:
    """Requeue failed jobs (all of them when ``job_ids`` is empty); returns those requeued."""
    requeued = []
    for name in QueueName:
        queue = Queue(queue_name(policy, name), connection=redis)
        registry = FailedJobRegistry(queue=queue)
        for job_id in job_ids or registry.get_job_ids():
            if job_id in registry:
                registry.requeue(job_id)
                requeued.append(job_id)
    return requeued


CANCELABLE = ("queued", "scheduled", "deferred")


def job_state(redis: Redis, job_id: str) -> str | None:
    """The job's RQ status (queued, started, failed, finished, ...), None when Redis has
    forgotten it (expired or never enqueued)."""
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None
    status = job.get_status(refresh=False)
    return str(status.value) if status is not None else None


def cancel_jobs(redis: Redis, job_ids: list[str]) -> list[str]:
    """Cancel jobs still waiting (queued, scheduled for a retry, or deferred); returns those
    cancelled. A running or finished job is left alone."""
    cancelled = []
    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        status = job.get_status(refresh=False)
        if status is not None and status.value in CANCELABLE:
            job.cancel()
            cancelled.append(job_id)
    return cancelled
