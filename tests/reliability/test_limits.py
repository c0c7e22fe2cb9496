"""Rate limits and the concurrency cap, shared through Redis: excess work is held back with a
reason (and deferred by the job wrapper), never dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from rq.job import Job, JobStatus

from bot.jobs.limits import JobLimiter, Limits, scope_keys

REPO = {"forge": "github", "repo": "octo/one", "installation_id": 7}
OTHER_REPO = {"forge": "github", "repo": "octo/two", "installation_id": 7}
ELSEWHERE = {"forge": "github", "repo": "other/three", "installation_id": 8}


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def limiter(redis: Redis, **limits: int) -> JobLimiter:
    base = {"repo_per_minute": 0, "installation_per_minute": 0, "max_running": 0}
    return JobLimiter(
        redis, Limits(**{**base, **limits}), prefix=f"test-limits:{uuid.uuid4().hex}:"
    )


def test_scope_keys_use_the_installation_or_the_owner() -> None:
    assert scope_keys(REPO) == ("github:octo/one", "github:i7")
    assert scope_keys({"forge": "gitlab", "repo": "grp/sub/proj"}) == (
        "gitlab:grp/sub/proj",
        "gitlab:ogrp/sub",
    )
    assert scope_keys({}) == ("", "")


def test_no_limits_admit_everything(redis: Redis) -> None:
    lim = limiter(redis)
    assert all(lim.admit(f"j{i}", REPO) == "ok" for i in range(50))


def test_the_concurrency_cap_holds_back_until_a_slot_is_released(redis: Redis) -> None:
    lim = limiter(redis, max_running=2)
    assert [lim.admit(j, REPO, now=1000) for j in ("a", "b", "c")] == ["ok", "ok", "running"]
    assert lim.running() == 2
    assert lim.admit("a", REPO, now=1001) == "ok"  # a retry of a running job keeps its slot
    lim.release("a")
    assert lim.admit("c", REPO, now=1002) == "ok"


def test_a_dead_jobs_slot_is_freed_when_its_lease_runs_out(redis: Redis) -> None:
    lim = JobLimiter(
        redis,
        Limits(repo_per_minute=0, installation_per_minute=0, max_running=1, lease_s=30),
        prefix=f"test-limits:{uuid.uuid4().hex}:",
    )
    assert lim.admit("killed", REPO, now=1000) == "ok"  # its worker dies: never released
    assert lim.admit("next", REPO, now=1010) == "running"
    assert lim.admit("next", REPO, now=1031) == "ok"


def test_the_per_repo_limit_counts_per_minute_and_per_repository(redis: Redis) -> None:
    lim = limiter(redis, repo_per_minute=2)
    at = 60_000.0
    assert [lim.admit(f"r{i}", REPO, now=at) for i in range(3)] == ["ok", "ok", "repo"]
    assert lim.admit("x", OTHER_REPO, now=at) == "ok"  # another repository has its own budget
    assert lim.admit("r2", REPO, now=at + 60) == "ok"  # the next minute


def test_the_per_installation_limit_spans_its_repositories(redis: Redis) -> None:
    lim = limiter(redis, installation_per_minute=2)
    at = 120_000.0
    assert lim.admit("a", REPO, now=at) == "ok"
    assert lim.admit("b", OTHER_REPO, now=at) == "ok"
    assert lim.admit("c", OTHER_REPO, now=at) == "installation"
    assert lim.admit("d", ELSEWHERE, now=at) == "ok"


def test_a_held_back_job_takes_no_budget(redis: Redis) -> None:
    lim = limiter(redis, max_running=1, repo_per_minute=5)
    at = 180_000.0
    assert lim.admit("a", REPO, now=at) == "ok"
    for _ in range(10):
        assert lim.admit("b", REPO, now=at) == "running"
    lim.release("a")
    # b's ten refusals consumed nothing: four more starts fit in the minute's budget of five
    results = []
    for j in ("b", "c", "d", "e"):
        results.append(lim.admit(j, REPO, now=at))
        lim.release(j)
    assert results == ["ok", "ok", "ok", "ok"]
    assert lim.admit("f", REPO, now=at) == "repo"


def alive(redis: Redis, job_id: str, status: JobStatus = JobStatus.STARTED) -> str:
    """An RQ job with ``status``, as a worker running it would leave it."""
    job = Job.create(func="builtins.print", id=job_id, connection=redis)
    job.save()
    job.set_status(status)
    return job_id


def test_one_job_at_a_time_per_exclusive_key(redis: Redis) -> None:
    lim = limiter(redis)  # no rate limits, no cap: only the pull request's lock
    pr = f"review:github:octo/one:{uuid.uuid4().hex}"
    alive(redis, "first")
    alive(redis, "second")
    assert lim.admit("first", REPO, exclusive=pr) == "ok"
    assert lim.admit("first", REPO, exclusive=pr) == "ok"  # a retry of the holder
    assert lim.admit("second", REPO, exclusive=pr) == "pull"
    assert lim.admit("other-pr", REPO, exclusive=pr + "0") == "ok"
    lim.release("second", exclusive=pr)  # not the holder: changes nothing
    assert lim.admit("second", REPO, exclusive=pr) == "pull"
    lim.release("first", exclusive=pr)
    assert lim.admit("second", REPO, exclusive=pr) == "ok"


def test_a_lock_left_by_a_job_that_ended_is_taken_over(redis: Redis) -> None:
    lim = limiter(redis)
    pr = f"review:github:octo/one:{uuid.uuid4().hex}"
    # The holder died and was never retried: RQ no longer knows it, or has it failed.
    assert lim.admit("gone-job", REPO, exclusive=pr) == "ok"
    assert lim.admit(alive(redis, "next-job"), REPO, exclusive=pr) == "ok"
    assert lim.admit("third", REPO, exclusive=pr) == "pull"  # next-job is running
    alive(redis, "next-job", JobStatus.FAILED)
    assert lim.admit("third", REPO, exclusive=pr) == "ok"
