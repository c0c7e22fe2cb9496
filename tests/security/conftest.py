"""The app under attack: the real FastAPI app on the session's PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from redis import Redis

from bot.db.engine import upgrade
from bot.runtime import Services
from bot.settings import Settings
from bot.web.app import create_app
from tests.support.processes import serve
from tests.support.webhooks import GITHUB_SECRET, GITLAB_TOKEN

MAX_BODY = 64 * 1024
BOT_LOGIN = "forge-assist[bot]"


@pytest.fixture(scope="module")
def client(pg_url: str, redis_url: str) -> Iterator[TestClient]:
    upgrade(pg_url)
    config = Settings(
        github_webhook_secrets=GITHUB_SECRET,  # type: ignore[arg-type]
        gitlab_webhook_tokens=GITLAB_TOKEN,  # type: ignore[arg-type]
        database_url=pg_url,
        redis_url=redis_url,
        bot_logins=[BOT_LOGIN, "forge-assist"],
        queue_prefix="fuzz-",  # nothing here is ever worked
        max_body_bytes=MAX_BODY,
    )
    engine = sa.create_engine(pg_url)
    redis = Redis.from_url(redis_url)
    with TestClient(create_app(config, Services(engine=engine, redis=redis))) as c:
        yield c
    engine.dispose()
    redis.close()


@pytest.fixture(scope="session")
def e2e_web(pg_url: str, redis_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """`assist serve` on the session's database and Redis, as the e2e Scene expects it."""
    upgrade(pg_url)
    env = {
        "ASSIST_DATABASE_URL": pg_url,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": GITLAB_TOKEN,
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
        "ASSIST_BOT_LOGINS": f"{BOT_LOGIN},forge-assist",
        # The limits have tests of their own (tests/reliability); here they would couple
        # tests through counters shared in the session's Redis.
        "ASSIST_REPO_JOBS_PER_MINUTE": "0",
        "ASSIST_INSTALLATION_JOBS_PER_MINUTE": "0",
        "ASSIST_MAX_RUNNING_JOBS": "0",
    }
    with serve(env) as base:
        yield base, env
