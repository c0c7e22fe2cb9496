"""Enqueue job specifications on RQ: idempotent by job id, newer heads supersede older ones."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job

from bot.intake.errors import QueueUnavailable
from bot.intake.routing import Enqueued, JobSpec, QueueName, job_id
from bot.settings import Settings

log = logging.getLogger(__name__)
LATEST_PREFIX = "assist:latest:"
ANNOUNCE_JOB = "bot.jobs.announce.announce_job"
# An announce is worth its cost only soon after the delivery: never retried, kept briefly.
ANNOUNCE_TIMEOUT_S = 60
ANNOUNCE_RESULT_TTL_S = 3600


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    prefix: str = ""
    timeout_s: int = 1800
    retries: int = 3
    backoff_s: tuple[int, ...] = (10, 60, 300)
    result_ttl_s: int = 7 * 86400
    failure_ttl_s: int = 30 * 86400


def queue_name(policy: QueuePolicy, name: QueueName) -> str:
    return f"{policy.prefix}{name.value}"


class RQJobQueue:
    """The one place jobs enter Redis."""

    def __init__(self, redis: Redis, policy: QueuePolicy) -> None:
        self._redis = redis
        self._policy = policy

    def queue(self, name: QueueName) -> Queue:
        return Queue(queue_name(self._policy, name), connection=self._redis)

    def enqueue(self, specs: Sequence[JobSpec]) -> list[Enqueued]:
        """Enqueue every spec once; a job id already in Redis is not enqueued again.

        Raises :class:`QueueUnavailable` when Redis cannot take them (intake answers 503)."""
        results = []
        try:
            for spec in specs:
                results.append(self._enqueue_one(spec))
        except RedisError as exc:
            raise QueueUnavailable(type(exc).__name__) from exc
        return results

    def _enqueue_one(self, spec: JobSpec) -> Enqueued:
        p = self._policy
        retry = Retry(max=p.retries, interval=list(p.backoff_s)) if p.retries > 0 else None
        meta = {**spec.meta, "supersede_key": spec.supersede_key or ""}
        try:
            self.queue(spec.queue).enqueue_call(
                func=spec.func,
                kwargs=dict(spec.kwargs),
                job_id=spec.job_id,
                timeout=p.timeout_s,
                result_ttl=p.result_ttl_s,
                failure_ttl=p.failure_ttl_s,
                description=spec.description,
                meta=meta,
                retry=retry,
                unique=True,
            )
        except DuplicateJobError:
            return Enqueued(spec.job_id, new=False)
        if spec.supersede_key:
            self._supersede(spec.supersede_key, spec.job_id)
        if spec.announce:
            self._announce(spec)
        return Enqueued(spec.job_id, new=True)

    def _announce(self, spec: JobSpec) -> None:
        """Queue the tiny job that shows ``spec``'s job on the forge while it waits (the web
        process never calls a forge). After the job itself, so the announce can find it."""
        p = self._policy
        with contextlib.suppress(DuplicateJobError):  # announced already
            self.queue(QueueName.STATUS).enqueue_call(
                func=ANNOUNCE_JOB,
                kwargs={**dict(spec.kwargs), "for_job": spec.job_id, "kind": spec.announce},
                job_id=announce_id(spec.job_id),
                timeout=ANNOUNCE_TIMEOUT_S,
                result_ttl=ANNOUNCE_RESULT_TTL_S,
                failure_ttl=min(p.failure_ttl_s, 86400),
                description=f"announce {spec.description}",
                unique=True,
            )

    def _supersede(self, key: str, job_id: str) -> None:
        """Mark ``job_id`` the newest of its key. Older jobs still queued are skipped, not
        cancelled here: the worker sees they are superseded and records so (one round trip
        on the hot path instead of five)."""
        self._redis.set(LATEST_PREFIX + key, job_id, ex=self._policy.result_ttl_s)

    def depth(self) -> dict[str, int]:
        return {name.value: self.queue(name).count for name in QueueName}


def announce_id(for_job: str) -> str:
    return job_id("announce", for_job)


def is_superseded(redis: Redis, job: Job) -> bool:
    """True when a job with the same supersede key was enqueued after ``job``."""
    key = job.meta.get("supersede_key")
    if not key:
        return False
    latest = redis.get(LATEST_PREFIX + key)
    if latest is None or _text(latest) == job.id:
        return False
    try:
        newer = Job.fetch(_text(latest), connection=redis)
    except NoSuchJobError:
        return False
    if newer.enqueued_at is None or job.enqueued_at is None:
        return True
    return newer.enqueued_at >= job.enqueued_at


def queue_policy(settings: Settings) -> QueuePolicy:
    return QueuePolicy(
        prefix=settings.queue_prefix,
        timeout_s=settings.job_timeout_s,
        retries=settings.job_retries,
        backoff_s=tuple(settings.job_retry_backoff_s),
        result_ttl_s=settings.job_result_ttl_s,
        failure_ttl_s=settings.failed_job_ttl_s,
    )
