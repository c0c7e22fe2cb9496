"""The job body of index: run on a worker (see bot/intake/routes/index.py for its routes)."""

from __future__ import annotations

from typing import Any

from bot.index.indexing import drop_pull_overlay, index_branch
from bot.jobs.context import WorkerContext
from bot.jobs.forge import job_forge, job_repo
from bot.jobs.record import recorded


@recorded("index")
def index_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Move the index of the default branch to ``kwargs['after_sha']``: only the files whose
    blob changed are parsed and embedded again."""
    repo = job_repo(kwargs)
    forge = job_forge(ctx, kwargs, scope="index")
    stats = index_branch(ctx.settings, forge, repo, str(kwargs["after_sha"]))
    return {
        "status": "indexed",
        "branch": kwargs["branch"],
        "commit": stats.commit,
        "files": stats.files_total,
        "changed": stats.files_changed,
        "removed": stats.files_removed,
        "skipped": stats.files_skipped,
        "chunks": stats.chunks,
        "embedded": stats.embedded,
        "seconds": round(stats.seconds, 3),
    }


@recorded("forget")
def forget_pull_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """A closed pull request's head no longer needs its overlay in the index."""
    head = kwargs.get("head_sha")
    dropped = bool(head) and drop_pull_overlay(ctx.settings, job_repo(kwargs), str(head))
    return {"status": "forgotten" if dropped else "nothing indexed", "number": kwargs["number"]}


@recorded("installation")
def installation_job(_ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    return {"status": "recorded", "repositories": list(kwargs["repositories"])}
