"""Job bodies for the lost-job tests: imported by the real workers by their dotted path."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from bot.jobs.context import WorkerContext
from bot.jobs.record import recorded


@recorded("test")
def killed_job(_ctx: WorkerContext, **_kwargs: Any) -> dict[str, Any]:
    """The work horse dies under the job (an OOM kill, a segfault in an extension)."""
    os.kill(os.getpid(), signal.SIGKILL)
    return {"status": "unreachable"}


@recorded("test")
def slow_once_job(_ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Hangs on its first attempt (its worker is killed meanwhile); quick on a retry."""
    flag = Path(str(kwargs["flag"]))
    if not flag.exists():
        flag.write_text("started")
        time.sleep(120)
    return {"status": "done on a retry"}


@recorded("test")
def counted_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Counts its runs in Redis: the orphaned-job test checks the body ran exactly once."""
    ctx.redis.incr(str(kwargs["counter"]))
    return {"status": "counted"}
