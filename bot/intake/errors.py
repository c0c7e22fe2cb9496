"""Errors of webhook intake. They map to HTTP answers in the web layer, nowhere else."""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every intake error."""


class MalformedPayload(IntakeError):
    """The verified body is not a payload this event can have (answered 400)."""


class QueueUnavailable(IntakeError):
    """The job queue could not take the jobs (Redis is down or refused): answered 503."""
