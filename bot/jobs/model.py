"""A job's model check: the server answers and serves the configured model, first; the
settings left at their defaults fitted to it (the measured speed is shared through Redis, so
one tiny request per server and ten minutes, not one per job)."""

from __future__ import annotations

import contextlib
import logging

from redis.exceptions import RedisError

from bot.jobs.context import WorkerContext
from bot.llm.check import check_model, describe_fit, fit_settings, measure_speed
from bot.settings import Settings

log = logging.getLogger(__name__)
SPEED_KEY = "assist:model-speed:"
SPEED_TTL_S = 600


def ready_model(ctx: WorkerContext) -> Settings:
    """Raises :class:`bot.llm.check.ModelCheckError` (in seconds) when the model cannot
    serve; otherwise the settings to use for this job."""
    served = check_model(ctx.settings)
    key = SPEED_KEY + served.url
    speed: float | None = None
    try:
        cached = ctx.redis.get(key)
        speed = float(cached) if cached is not None else None
    except (RedisError, ValueError):
        speed = None
    if speed is None:
        speed = measure_speed(ctx.settings, served)
        if speed is not None:
            with contextlib.suppress(RedisError):
                ctx.redis.set(key, f"{speed:.3f}", ex=SPEED_TTL_S)
    settings, values = fit_settings(ctx.settings, served, speed)
    if values:
        log.info("%s", describe_fit(served, speed, values))
    return settings
