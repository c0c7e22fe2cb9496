"""Find jobs RQ lost between dequeue and start, and put them back on their queue once.

A worker pops a job id off its queue (BLPOP) and only then registers the job as started. A
worker killed in between (SIGKILL, OOM, a lost node) leaves the job hash in state ``queued``
but in no queue and no registry: RQ's own sweeps never see it, so it would stay QUEUED
forever. Workers that listen on a single queue park the id in RQ's intermediate queue, which RQ
cleans up itself; a job there is not ours to touch.

A live worker holds a job in the same gap for a moment, so a job counts as orphaned only when
two sweeps at least ``grace_s`` apart both find it so, with the same ``enqueued_at`` (a retry
re-enqueues and starts the clock again). The caller holds the queue's maintenance lock, so one
sweeper at a time looks at a queue; a re-enqueued job is in its queue again, so a later sweep
leaves it alone: each orphaning is repaired once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

log = logging.getLogger(__name__)
SEEN_PREFIX = "assist:orphan-seen:"
_JOB_PREFIX = "rq:job:"


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class SweepResult:
    suspects: tuple[str, ...]  # orphaned now, re-enqueued once the grace has passed
    requeued: tuple[str, ...]


def _queued_job_ids(redis: Redis, origin: str, *, batch: int = 500) -> list[str]:
    """Ids of the job hashes of queue ``origin`` whose status is ``queued``."""
    found: list[str] = []
    keys: list[str] = []

    def flush() -> None:
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "status", "origin")
        for key, (status, job_origin) in zip(keys, pipe.execute(), strict=True):
            if _text(status) == JobStatus.QUEUED.value and _text(job_origin) == origin:
                found.append(key[len(_JOB_PREFIX) :])
        keys.clear()

    for raw in redis.scan_iter(match=_JOB_PREFIX + "*", count=batch, _type="hash"):
        keys.append(_text(raw))
        if len(keys) >= batch:
            flush()
    if keys:
        flush()
    return found


def _held(redis: Redis, queue: Queue, job_id: str) -> bool:
    """True when the job is somewhere RQ looks: its queue, the intermediate queue, started."""
    if redis.lpos(queue.key, job_id) is not None:
        return True
    if redis.lpos(queue.intermediate_queue_key, job_id) is not None:
        return True
    return job_id in queue.started_job_registry


def sweep_orphans(redis: Redis, queue: Queue, *, grace_s: float) -> SweepResult:
    """Re-enqueue the jobs of ``queue`` that are ``queued`` yet in no queue or registry."""
    suspects: list[str] = []
    requeued: list[str] = []
    now = time.time()
    for job_id in _queued_job_ids(redis, queue.name):
        if _held(redis, queue, job_id):
            continue
        enqueued_at = _text(redis.hget(_JOB_PREFIX + job_id, "enqueued_at"))
        seen_key = SEEN_PREFIX + job_id
        stamp = f"{enqueued_at}|{now}"
        ttl = max(600, int(grace_s * 10))
        previous = _text(redis.get(seen_key))
        seen_enqueued, _, seen_at = previous.partition("|")
        if not previous or seen_enqueued != enqueued_at:
            redis.set(seen_key, stamp, ex=ttl)
            suspects.append(job_id)
            continue
        if now - float(seen_at) < grace_s:
            suspects.append(job_id)
            continue
        job = Job.fetch(job_id, connection=redis)
        queue.enqueue_job(job, at_front=True)
        redis.delete(seen_key)
        requeued.append(job_id)
        log.warning(
            "job %s was queued in no queue and no registry (its worker died between dequeue "
            "and start): re-enqueued on %s",
            job_id,
            queue.name,
        )
    return SweepResult(tuple(suspects), tuple(requeued))
