"""The job body of usage: run on a worker (see bot/intake/routes/usage.py for its routes)."""

from __future__ import annotations

from typing import Any

from bot.access.commands import command_comment, is_own, over_quota, verified_comment
from bot.jobs.context import WorkerContext
from bot.jobs.forge import command_quotas, job_forge, job_repo
from bot.jobs.record import recorded
from bot.sanitize import inline

HELP_TEXT = """\
**Forge Assist** commands:

| command | where | what it does |
| --- | --- | --- |
| `/assist review` | pull/merge request | review the latest commits now |
| `/assist ask <question>` | pull/merge request | answer a question about the change |
| `/assist fix [guidance]` | issue, or the bot's own pull/merge request | propose a checked fix |
| `/assist remember <rule>` | anywhere, or a finding's thread | a rule for later reviews (write) |
| `/assist rules` | anywhere | list this repository's rules |
| `/assist forget <id>` | anywhere | remove a rule (write access) |
| `/assist help` | anywhere | this message |
"""


@recorded("help")
def usage_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Reply with the help text (and why, when a command was misused): the commenter is read
    from the forge (GitLab) and counted against the command quotas like any command."""
    reason = str(kwargs["reason"])
    body = HELP_TEXT if reason == "help" else f"{inline(reason, limit=300)}.\n\n{HELP_TEXT}"
    forge = job_forge(ctx, kwargs)
    if is_own(forge, str(kwargs.get("author") or "")):  # never answer ourselves
        return {"status": "ignored", "reason": "our own comment"}
    repo = job_repo(kwargs)
    comment = verified_comment(
        forge, repo, command_comment(kwargs), prefix=ctx.settings.command_prefix
    )
    if comment is None:  # a forged or edited note (GitLab): nothing is said
        return {"status": "refused", "reason": "unverified comment"}
    refused = over_quota(command_quotas(ctx), forge, repo, comment)
    if refused is not None:
        return refused
    reply = forge.respond(repo, comment, body=body)
    return {"status": "replied", "reason": reason, "reply_id": reply.id if reply else None}
