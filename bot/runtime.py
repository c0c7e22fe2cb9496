"""Build the shared clients from Settings. Called by entry points only."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine

from bot.db.engine import make_engine
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """The shared clients (database, Redis), built by the entry point and passed in."""

    engine: Engine
    redis: Redis


def make_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def build_services(settings: Settings) -> Services:
    return Services(engine=make_engine(settings.database_url), redis=make_redis(settings.redis_url))


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
