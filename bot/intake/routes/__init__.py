"""Feature modules. Each registers the events it handles (``ROUTES``) and its jobs."""

from __future__ import annotations

from bot.intake.routes import ask, feedback, fix, index, review, usage
from bot.intake.routing import Route


def all_routes() -> tuple[Route, ...]:
    """The routes of every feature module, composed."""
    return (
        *review.ROUTES,
        *fix.ROUTES,
        *ask.ROUTES,
        *usage.ROUTES,
        *index.ROUTES,
        *feedback.ROUTES,
    )
