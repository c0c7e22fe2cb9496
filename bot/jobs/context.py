"""The clients a worker process built at start-up, handed to the jobs it runs.

RQ calls jobs by dotted path with plain values, so the clients cannot travel with the job; the
worker entry point installs them here once, and jobs read them with ``current()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Engine

from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class WorkerContext:
    settings: Settings
    engine: Engine
    redis: Redis


_installed: list[WorkerContext] = []
_pid: list[int] = []


def install(context: WorkerContext) -> None:
    _installed[:] = [context]
    _pid[:] = [os.getpid()]


def current() -> WorkerContext:
    """The installed context; in a forked work horse, pooled database connections are renewed."""
    if not _installed:
        raise RuntimeError("job run outside an assist worker: no worker context installed")
    context = _installed[0]
    if _pid and _pid[0] != os.getpid():
        context.engine.dispose(close=False)  # never share the parent's sockets after fork
        _pid[:] = [os.getpid()]
    return context
