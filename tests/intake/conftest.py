"""A real `assist serve` on PostgreSQL and Redis for the intake tests (one per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa

from bot.db.engine import upgrade
from tests.support.processes import serve
from tests.support.webhooks import GITHUB_SECRET, GITHUB_SECRET_NEXT, GITLAB_TOKEN


@pytest.fixture(scope="session")
def migrated_pg(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


@pytest.fixture(scope="session")
def intake_env(migrated_pg: str, redis_url: str) -> dict[str, str]:
    return {
        "ASSIST_DATABASE_URL": migrated_pg,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": f"{GITHUB_SECRET},{GITHUB_SECRET_NEXT}",
        "ASSIST_GITLAB_WEBHOOK_TOKENS": GITLAB_TOKEN,
        "ASSIST_MAX_BODY_BYTES": str(2 * 1024 * 1024),
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
        # our account's names, for intake's first-pass filter (no default names any more)
        "ASSIST_BOT_LOGINS": "forge-assist[bot],forge-assist",
    }


@pytest.fixture(scope="session")
def server(intake_env: dict[str, str]) -> Iterator[str]:
    with serve(intake_env) as base:
        yield base


@pytest.fixture(scope="session")
def db(migrated_pg: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(migrated_pg)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def rds(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)
