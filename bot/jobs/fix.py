"""The job body of fix: run on a worker (see bot/intake/routes/fix.py for its routes)."""

from __future__ import annotations

from typing import Any

from bot.jobs.context import WorkerContext
from bot.jobs.record import recorded


@recorded("fix")
def fix_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Fix issue ``kwargs['number']`` (or iterate on our own fix change): see bot/fix/service.py."""
    from bot.fix.service import FixCommand, FixJob
    from bot.fix.workspace import env_for_git
    from bot.jobs.forge import command_quotas, job_forge, job_repo
    from bot.jobs.model import ready_model

    command = FixCommand.from_kwargs(job_repo(kwargs), kwargs)
    settings = ready_model(ctx)  # fails in seconds, with the reason, when the model cannot
    job = FixJob(
        job_forge(ctx, kwargs, scope="fix"),
        settings,
        command,
        git_env=env_for_git(),
        quotas=command_quotas(ctx),
    )
    return {**job.run(), "target": kwargs.get("target")}
