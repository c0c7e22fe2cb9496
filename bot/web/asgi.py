"""ASGI factory for `assist serve` (and any ASGI server): `bot.web.asgi:create`."""

from __future__ import annotations

import os

from fastapi import FastAPI

from bot.runtime import build_services, configure_logging
from bot.settings import Settings, validate_for_serving
from bot.web.app import create_app


def create() -> FastAPI:
    settings = Settings()
    validate_for_serving(settings)
    configure_logging(settings.log_level)
    # Set by `assist serve --workers N`: samples of all web processes are aggregated.
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return create_app(settings, build_services(settings), metrics_dir=metrics_dir)
