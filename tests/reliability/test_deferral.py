"""End to end: a job over the per-repository limit is deferred (a continuation is scheduled),
not dropped; the continuation runs later and posts once. Real serve, worker, forge, model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from rq.registry import ScheduledJobRegistry

from bot.db.engine import upgrade
from bot.jobs.limits import PREFIX
from tests.forge.conftest import BOT, GITLAB_BOT
from tests.llm.scripted_server import ScriptedServer
from tests.review.test_service import answer, finding, scores
from tests.security.scene import fresh_scene
from tests.support.processes import serve
from tests.support.webhooks import GITHUB_SECRET
from tests.support.webhooks import GITLAB_TOKEN as HOOK_TOKEN
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey


@pytest.fixture(scope="module")
def web(pg_url: str, redis_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    upgrade(pg_url)
    env = {
        "ASSIST_DATABASE_URL": pg_url,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": HOOK_TOKEN,
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
        "ASSIST_BOT_LOGINS": f"{BOT},{GITLAB_BOT}",
    }
    with serve(env) as base:
        yield base, env


def test_a_job_over_the_repo_limit_is_deferred_then_runs_once(
    testforge: TestForge,
    scripted: ScriptedServer,
    web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
    redis_url: str,
) -> None:
    scene = fresh_scene("github", testforge, scripted, web, app_key, corpora, pg_url)
    scene.worker_env |= {"ASSIST_REPO_JOBS_PER_MINUTE": "1", "ASSIST_LIMIT_DELAY_S": "1"}
    redis = Redis.from_url(redis_url)
    for key in redis.scan_iter(PREFIX + "*"):
        redis.delete(key)
    scene.llm.push(answer(finding()), scores(0.9))
    (review,) = scene.opened()["jobs"]
    scene.work()
    assert scene.job(review)[0] == "done"
    # The review used the repository's budget for its minute. However slow this machine is,
    # the next job must meet a spent budget: the same count stands for the coming minutes too.
    # (A slow run can have counted in two minutes: one repository, its latest minute onwards.)
    windows = [key.decode().rpartition(":") for key in redis.scan_iter(PREFIX + "repo:*")]
    (stem,) = {stem for stem, _, _ in windows}
    minute = max(int(minute) for _, _, minute in windows)
    for later in range(minute, minute + 60):
        redis.set(f"{stem}:{later}", 1, ex=7200)
    (helped,) = scene.command("/assist help", author="alice")["jobs"]
    scene.work()
    status, detail, _ = scene.job(helped)
    assert (status, detail["status"], detail["limit"]) == ("deferred", "deferred", "repo")
    continuation = detail["continued_as"]
    assert continuation == f"{helped}-d1"
    assert continuation in ScheduledJobRegistry("review", connection=redis).get_job_ids()
    assert not any("`/assist ask <question>`" in b for b in scene.bodies())  # not yet
    # A minute later the repository has budget again (here: its counter is cleared).
    for key in redis.scan_iter(PREFIX + "repo:*"):
        redis.delete(key)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(1.2)
        scene.work()
        with scene.engine.connect() as conn:
            done = conn.execute(
                sa.text("SELECT status FROM job_runs WHERE job_id = :j"), {"j": continuation}
            ).scalar()
        if done == "done":
            break
    assert done == "done"
    assert sum("`/assist ask <question>`" in b for b in scene.bodies()) == 1
    redis.close()
    scene.engine.dispose()
