"""The job body of ask: run on a worker (see bot/intake/routes/ask.py for its routes)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from bot.access.commands import accept_command
from bot.jobs.context import WorkerContext
from bot.jobs.forge import command_quotas, job_forge, job_repo
from bot.jobs.model import ready_model
from bot.jobs.record import recorded
from bot.review.ask import ask_change

REFUSAL = (
    "Sorry, `/assist ask` needs write access to this repository (or being the author of "
    "this change)."
)


@recorded("ask")
def ask_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Answer the question in ``kwargs['argument']`` in a reply to the command."""
    repo = job_repo(kwargs)
    number = int(kwargs["number"])
    forge = job_forge(ctx, kwargs)
    comment, refused = accept_command(
        forge, repo, kwargs, refusal=REFUSAL, quotas=command_quotas(ctx)
    )
    if refused is not None:
        return refused
    settings = ready_model(ctx)  # fails in seconds, with the reason, when the model cannot
    answer = asyncio.run(
        ask_change(
            settings,
            forge,
            repo,
            number,
            str(kwargs["argument"]),
            default_branch=kwargs.get("default_branch"),
        )
    )
    reply = forge.respond(repo, comment, body=answer.text)
    return {
        "status": "answered",
        "reply_id": reply.id if reply else None,
        "chars": len(answer.text),
        "trimmed": answer.trimmed,
        "usage": dataclasses.asdict(answer.usage),
    }
