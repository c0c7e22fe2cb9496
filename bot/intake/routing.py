"""Declarative routing: each feature module registers the events it handles.

Routing is pure: an event in, job specifications out. A job id derives from the forge, repo,
number, head sha (or the comment id, for commands) and the command, so the same work is never
enqueued twice however often the forge delivers it.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.intake.events import Event

JsonScalar = str | int | bool | None
JobKwargs = Mapping[str, JsonScalar | tuple[str, ...]]


class QueueName(enum.StrEnum):
    INDEX = "index"
    REVIEW = "review"
    FIX = "fix"
    # Tiny announce jobs (bot.jobs.announce): every job worker takes this queue first.
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class JobSpec:
    queue: QueueName
    func: str  # dotted path of a top-level job function
    job_id: str
    kwargs: JobKwargs
    description: str
    # Jobs sharing a supersede key collapse: a newer one cancels an older one still queued.
    supersede_key: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    # "review", "ask" or "fix": when the job is newly queued, a tiny announce job on the
    # status queue shows it on the forge (a pending status, an eyes reaction) before it runs.
    announce: str | None = None


def job_id(kind: str, *parts: object) -> str:
    """A stable job id of RQ's alphabet: ``kind-<40 hex>`` from the identifying parts."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]
    return f"{kind}-{digest}"


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What the queue did with one spec."""

    job_id: str
    new: bool  # False when the job already existed (a retry of the same work)


@dataclass(frozen=True, slots=True)
class Route:
    """``build`` returns the jobs for an event of ``event_type``, or none."""

    event_type: type[Event]
    build: Callable[[Event], Iterable[JobSpec]]
    name: str


def route(routes: Iterable[Route], events: Iterable[Event]) -> tuple[JobSpec, ...]:
    """All jobs for ``events``, in route order, without repeats."""
    specs: dict[str, JobSpec] = {}
    for event in events:
        for r in routes:
            if isinstance(event, r.event_type):
                for spec in r.build(event):
                    specs.setdefault(spec.job_id, spec)
    return tuple(specs.values())
