"""ASGI factory for `assist console` (and any ASGI server): `bot.console.asgi:create`."""

from __future__ import annotations

from fastapi import FastAPI

from bot.console.app import create_app
from bot.runtime import build_services, configure_logging
from bot.settings import Settings, validate_for_console


def create() -> FastAPI:
    settings = Settings()
    validate_for_console(settings)
    configure_logging(settings.log_level)
    return create_app(settings, build_services(settings))
