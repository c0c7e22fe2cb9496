"""ASGI factory for `assist serve` (and any ASGI server): `bot.asgi:create`."""

from __future__ import annotations

import os

from fastapi import FastAPI

from bot.app import create_app
from bot.services import build_services, configure_logging
from bot.settings import Settings, validate_for_serving


def create() -> FastAPI:
    settings = Settings()
    validate_for_serving(settings)
    configure_logging(settings.log_level)
    # Set by `assist serve --workers N`: samples of all web processes are aggregated.
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return create_app(settings, build_services(settings), metrics_dir=metrics_dir)
