"""`assist worker`: RQ workers on named queues, with the job context installed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rq import Queue, Worker
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.registry import clean_registries
from rq.utils import now
from rq.worker_registration import clean_worker_registry

from bot.intake.routing import QueueName
from bot.jobs.context import WorkerContext, install
from bot.jobs.orphans import sweep_orphans
from bot.jobs.queue import queue_name, queue_policy
from bot.jobs.record import lost
from bot.runtime import build_services
from bot.settings import Settings

log = logging.getLogger(__name__)


def _on_abandoned(
    job: Job, exc_type: type[BaseException], _exc: BaseException, _tb: TracebackType | None
) -> bool:
    """RQ's registry sweep found ``job`` abandoned (its worker died): record it failed (a
    retry, when RQ makes one, records it running again). Other failures pass through."""
    if exc_type is AbandonedJobError:
        try:
            lost(job, "abandoned: its worker died or stopped answering")
        except Exception:  # the sweep must go on; the job's state is in RQ either way
            log.exception("could not record job %s as abandoned", job.id)
    return True


class AssistWorker(Worker):
    """RQ's worker with a configurable grace before a silent job counts as abandoned.

    RQ declares a job abandoned (and retries it, retries permitting) when its worker's
    heartbeat is more than a fixed 60 s late; ``abandon_grace_s`` makes that bound ours.
    """

    abandon_grace_s = 60

    def get_heartbeat_ttl(self, job: Job) -> int:
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + self.abandon_grace_s
        return int(super().get_heartbeat_ttl(job))

    def clean_registries(self) -> None:
        """RQ's sweeps plus ours for orphaned jobs (`bot.jobs.orphans`), under a maintenance lock
        that outlives a dead sweeper by seconds.

        RQ's own lock lasts 899 s: a worker killed (or cut off from Redis) while sweeping would
        stop every sweep, so abandoned jobs would wait a quarter of an hour to be retried.
        """
        ttl = max(30, 2 * int(self.maintenance_interval))
        for queue in self.queues:
            if not self.connection.set(queue.registry_cleaning_key, self.name, nx=True, ex=ttl):
                continue
            try:
                clean_registries(queue, self._exc_handlers)
                clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                self._sweep_orphans(queue)
            finally:
                queue.release_maintenance_lock()  # type: ignore[no-untyped-call]
        self.last_cleaned_at = now()  # type: ignore[assignment]

    def _sweep_orphans(self, queue: Queue) -> None:
        """Jobs popped by a worker that died before starting them: RQ has no sweep for those."""
        try:
            sweep_orphans(self.connection, queue, grace_s=self.abandon_grace_s)
        except Exception:  # the other sweeps must go on; the next round tries again
            log.exception("could not sweep queue %s for orphaned jobs", queue.name)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)  # type: ignore[no-untyped-call]
        try:
            lost(job, f"work horse died under the job (wait status {ret_val})")
        except Exception:  # the database may be what is down; RQ has the job's state
            log.exception("could not record job %s as lost", job.id)


def status_first(queues: Sequence[QueueName]) -> list[QueueName]:
    """``queues`` behind the status queue, each once."""
    rest = [q for q in dict.fromkeys(queues) if q is not QueueName.STATUS]
    return [QueueName.STATUS, *rest]


def run_worker(
    settings: Settings,
    queues: Sequence[QueueName],
    *,
    burst: bool = False,
    name: str | None = None,
) -> bool:
    """Work the queues until stopped (or until empty with ``burst``). The ``status`` queue
    comes first on every worker (RQ takes queues in order): its announce jobs take
    milliseconds and show queued work on the forge while it waits."""
    queues = status_first(queues)
    services = build_services(settings)
    install(WorkerContext(settings=settings, engine=services.engine, redis=services.redis))
    policy = queue_policy(settings)
    worker = AssistWorker(
        [queue_name(policy, q) for q in queues],
        connection=services.redis,
        name=name,
        exception_handlers=[_on_abandoned],
        job_monitoring_interval=settings.job_heartbeat_s,
        maintenance_interval=settings.worker_maintenance_s,
        # An idle worker blocks on the queue for worker_ttl - 15 s and sweeps only between
        # waits: keep the wait within the sweep interval, so abandoned jobs are found on time.
        worker_ttl=settings.worker_maintenance_s + 15,
    )
    worker.abandon_grace_s = settings.job_abandon_grace_s
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level))
