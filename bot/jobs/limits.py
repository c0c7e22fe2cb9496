"""Per-repository and per-installation rate limits, a cap on jobs running at once, and one
job at a time per pull request (per supersede key).

Admission is one atomic Redis script, so any number of workers share the limits. A job that
is not admitted is not dropped: the caller defers it (a continuation job enqueued with a
delay, see ``defer``). A running job holds a slot until it releases it, or until its lease
runs out if its worker died (the lease is the job timeout).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from bot.jobs.queue import LATEST_PREFIX, QueuePolicy
from bot.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "assist:limits:"
WINDOW_S = 60

# KEYS: running zset, repo counter, installation counter, exclusive lock
# ARGV: now, lease expiry, job id, cap, repo limit, installation limit, window ttl,
#       exclusive ("1"/"0"), lease seconds
_ADMIT = """
local excl = ARGV[8] == '1'
if excl then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= ARGV[3] then return 'pull' end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  if excl then redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[9]) end
  return 'ok'
end
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then return 'running' end
local repo = tonumber(ARGV[5])
if repo > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= repo then return 'repo' end
local inst = tonumber(ARGV[6])
if inst > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= inst then
  return 'installation'
end
if repo > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
if inst > 0 then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
if cap > 0 then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) end
if excl then redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[9]) end
return 'ok'
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
_ENDED = {"finished", "failed", "stopped", "canceled"}


@dataclass(frozen=True, slots=True)
class Limits:
    repo_per_minute: int = 120
    installation_per_minute: int = 600
    max_running: int = 32
    delay_s: int = 5
    lease_s: int = 1800

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            repo_per_minute=settings.repo_jobs_per_minute,
            installation_per_minute=settings.installation_jobs_per_minute,
            max_running=settings.max_running_jobs,
            delay_s=settings.limit_delay_s,
            lease_s=settings.job_timeout_s + settings.job_abandon_grace_s,
        )

    @property
    def unlimited(self) -> bool:
        return not (self.repo_per_minute or self.installation_per_minute or self.max_running)


def scope_keys(kwargs: Mapping[str, Any]) -> tuple[str, str]:
    """The repository and installation a job counts against (``""``: none known).

    A GitHub App installation is the installation; otherwise the repository's owner
    (GitLab namespace, token-mode GitHub account) stands in for it.
    """
    forge = str(kwargs.get("forge") or "")
    repo = str(kwargs.get("repo") or "")
    if not repo:
        return "", ""
    installation = kwargs.get("installation_id")
    owner = f"i{installation}" if installation else "o" + repo.rsplit("/", 1)[0]
    return f"{forge}:{repo}", f"{forge}:{owner}"


class JobLimiter:
    """Admit or hold back jobs against shared limits kept in Redis."""

    def __init__(self, redis: Redis, limits: Limits, *, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._limits = limits
        self._prefix = prefix

    @property
    def limits(self) -> Limits:
        return self._limits

    def admit(
        self,
        job_id: str,
        kwargs: Mapping[str, Any],
        *,
        exclusive: str = "",
        now: float | None = None,
    ) -> str:
        """``"ok"`` (a slot is taken) or the limit that holds the job back: ``"pull"`` (a job
        with the same ``exclusive`` key, e.g. the same pull request, is running),
        ``"running"``, ``"repo"`` or ``"installation"``."""
        answer = self._admit(job_id, kwargs, exclusive, now)
        if answer == "pull" and self._holder_ended(exclusive):
            answer = self._admit(job_id, kwargs, exclusive, now)
        return answer

    def _admit(
        self, job_id: str, kwargs: Mapping[str, Any], exclusive: str, now: float | None
    ) -> str:
        lim = self._limits
        if lim.unlimited and not exclusive:
            return "ok"
        at = time.time() if now is None else now
        window = int(at // WINDOW_S)
        repo, owner = scope_keys(kwargs)
        p = self._prefix
        keys = [
            p + "running",
            f"{p}repo:{repo}:{window}" if repo else p + "none",
            f"{p}inst:{owner}:{window}" if owner else p + "none",
            f"{p}excl:{exclusive}" if exclusive else p + "none",
        ]
        args: list[str | float] = [
            at,
            at + lim.lease_s,
            job_id,
            lim.max_running,
            lim.repo_per_minute if repo else 0,
            lim.installation_per_minute if owner else 0,
            WINDOW_S * 2,
            "1" if exclusive else "0",
            lim.lease_s,
        ]
        answer = self._redis.eval(_ADMIT, len(keys), *keys, *args)
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    def _holder_ended(self, exclusive: str) -> bool:
        """Free the exclusive key if the job holding it has ended without releasing it (its
        worker died and it was not retried); True when freed."""
        key = f"{self._prefix}excl:{exclusive}"
        holder = self._redis.get(key)
        if holder is None:
            return True
        holder_id = holder.decode() if isinstance(holder, bytes) else str(holder)
        try:
            status = Job.fetch(holder_id, connection=self._redis).get_status()
        except NoSuchJobError:
            status = None
        if status is not None and str(getattr(status, "value", status)) not in _ENDED:
            return False
        self._redis.eval(_RELEASE, 1, key, holder_id)
        return True

    def release(self, job_id: str, *, exclusive: str = "") -> None:
        if self._limits.max_running:
            self._redis.zrem(self._prefix + "running", job_id)
        if exclusive:
            self._redis.eval(_RELEASE, 1, f"{self._prefix}excl:{exclusive}", job_id)

    def running(self) -> int:
        return int(self._redis.zcard(self._prefix + "running"))


def defer(redis: Redis, policy: QueuePolicy, job: Job, *, delay_s: int, reason: str) -> str:
    """Enqueue a continuation of ``job`` in ``delay_s`` seconds; returns its id.

    The continuation runs the same function with the same arguments under the id
    ``<root>-d<n>``, and takes over the job's place as the newest of its supersede key, so a
    deferred review is not mistaken for a stale one.
    """
    deferrals = int(job.meta.get("deferrals", 0)) + 1
    root = str(job.meta.get("deferred_root") or job.id)
    new_id = f"{root}-d{deferrals}"
    meta = {**job.meta, "deferrals": deferrals, "deferred_root": root, "deferred_from": job.id}
    retry = (
        Retry(max=policy.retries, interval=list(policy.backoff_s)) if policy.retries > 0 else None
    )
    queue = Queue(job.origin, connection=redis)
    queue.enqueue_in(
        dt.timedelta(seconds=delay_s),
        str(job.func_name),
        kwargs=job.kwargs,
        job_id=new_id,
        job_timeout=policy.timeout_s,
        result_ttl=policy.result_ttl_s,
        failure_ttl=policy.failure_ttl_s,
        description=job.description,
        meta=meta,
        retry=retry,
    )
    key = meta.get("supersede_key")
    if key:
        latest = redis.get(LATEST_PREFIX + key)
        if latest is not None and (latest.decode() if isinstance(latest, bytes) else latest) == (
            job.id
        ):
            redis.set(LATEST_PREFIX + key, new_id, ex=policy.result_ttl_s)
    log.info(
        "job %s held back by the %s limit; continues as %s in %ss",
        job.id,
        reason,
        new_id,
        delay_s,
        extra={"job_id": job.id},
    )
    return new_id
