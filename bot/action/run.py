"""A CI job's I/O: read the runner's event, review or fix through the forge, and write what
the runner reads back (outputs, job summary, annotations on stdout, SARIF, Code Quality).

The environment is passed in as a mapping by the entry point (`assist action ...`); nothing
here reads ``os.environ``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from bot.action.context import ActionError, Job, github_job, gitlab_job
from bot.action.report import (
    Delivery,
    FailOn,
    code_quality,
    counts,
    failing,
    output_lines,
    outputs,
    summary,
    workflow_commands,
)
from bot.domain import ForgeKind
from bot.forge.errors import PermissionDenied
from bot.forge.factory import build_forge
from bot.forge.protocol import Forge
from bot.intake.events import CommandEvent, CommandName
from bot.intake.policy import IntakePolicy
from bot.review.memory import NoMemory
from bot.review.render import as_markdown, as_sarif, as_text
from bot.review.service import ReviewOutcome, review_change
from bot.settings import Settings

log = logging.getLogger(__name__)

Annotate = Literal["auto", "always", "never"]


@dataclass(frozen=True, slots=True)
class ReviewOptions:
    """What to write besides the review on the pull request, and when to fail."""

    fail_on: FailOn = "none"
    annotate: Annotate = "auto"  # auto: only when the review could not be posted
    sarif: Path | None = None
    code_quality: Path | None = None


@dataclass(frozen=True, slots=True)
class RunnerFiles:
    """The files the runner reads back after the step (GitHub Actions); None elsewhere."""

    output: Path | None = None  # $GITHUB_OUTPUT
    summary: Path | None = None  # $GITHUB_STEP_SUMMARY

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunnerFiles:
        def path(name: str) -> Path | None:
            value = env.get(name, "")
            return Path(value) if value else None

        return cls(path("GITHUB_OUTPUT"), path("GITHUB_STEP_SUMMARY"))

    def write(self, values: Mapping[str, str], text: str) -> None:
        if self.output is not None:
            with self.output.open("a", encoding="utf-8") as handle:
                handle.write(output_lines(values))
        if self.summary is not None and text:
            with self.summary.open("a", encoding="utf-8") as handle:
                handle.write(text)


def policy(settings: Settings) -> IntakePolicy:
    return IntakePolicy.create(settings.bot_logins, settings.command_prefix)


def read_job(kind: ForgeKind, env: Mapping[str, str], settings: Settings) -> Job:
    """The job from the runner's environment (and, on GitHub, the event payload file)."""
    if kind == "gitlab":
        return gitlab_job(env)
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        raise ActionError("GITHUB_EVENT_PATH is not set: run this inside a GitHub Actions job")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActionError(f"cannot read the event payload {path}: {exc}") from exc
    return github_job(env, payload, policy(settings))


def token_is_read_only(kind: ForgeKind, env: Mapping[str, str], job: Job) -> bool:
    """A pull_request run from a fork gets a read-only GITHUB_TOKEN (and no secrets)."""
    return kind == "github" and job.fork and env.get("GITHUB_EVENT_NAME") == "pull_request"


def ci_forge(settings: Settings, kind: ForgeKind) -> Forge:
    """The adapter with the job's token (token mode), retrying as the workers do."""
    return build_forge(
        settings,
        kind,
        attempts=settings.forge_max_attempts,
        backoff_s=settings.forge_retry_backoff_s,
        github_write_pause_s=settings.github_write_pause_s,
    )


async def _review(settings: Settings, forge: Forge, job: Job, *, post: bool) -> ReviewOutcome:
    assert job.number is not None
    # The Action keeps no database: what earlier runs posted is known from the hidden
    # markers of the comments on the forge, so a re-run never posts a finding twice.
    return await review_change(
        settings,
        forge,
        job.repo,
        job.number,
        memory=NoMemory(),
        default_branch=job.default_branch,
        incremental=False,
        post=post,
    )


def review(
    settings: Settings,
    forge: Forge,
    job: Job,
    options: ReviewOptions,
    files: RunnerFiles,
    *,
    read_only: bool,
    out: TextIO,
) -> int:
    """Review the job's pull request; 1 when findings reach ``options.fail_on``, else 0."""
    zero = dict.fromkeys(("critical", "major", "minor", "info"), 0)
    if job.number is None:
        out.write(f"::notice::Forge Assist: nothing to review ({job.ignored})\n")
        files.write(outputs(zero, Delivery(False, job.ignored or ""), failed=0), "")
        return 0
    if read_only:
        outcome = asyncio.run(_review(settings, forge, job, post=False))
        delivery = Delivery(False, "the token is read-only (a pull request from a fork)")
    else:
        try:
            outcome = asyncio.run(_review(settings, forge, job, post=True))
            delivery = Delivery(outcome.status == "posted", outcome.reason, outcome.summary_url)
        except PermissionDenied as exc:
            log.info("not allowed to post on %s#%s: %s", job.repo, job.number, exc)
            outcome = asyncio.run(_review(settings, forge, job, post=False))
            delivery = Delivery(False, f"the token may not post ({exc})")
    result = outcome.result
    if outcome.status == "skipped" or result is None:
        out.write(f"::notice::Forge Assist: review skipped ({outcome.reason})\n")
        text = f"## Forge Assist review\n\nSkipped: {outcome.reason}.\n"
        files.write(outputs(zero, Delivery(False, outcome.reason), failed=0), text)
        return 0
    found = counts(result)
    for earlier in outcome.earlier:  # still-open findings an earlier run posted
        if earlier.severity in found:
            found[earlier.severity] += 1
    failed = failing(found, options.fail_on)
    if options.annotate == "always" or (options.annotate == "auto" and not delivery.posted):
        for line in workflow_commands(result):
            out.write(line + "\n")
    if options.sarif is not None:
        options.sarif.write_text(as_sarif(result), encoding="utf-8")
    if options.code_quality is not None:
        options.code_quality.write_text(code_quality(result), encoding="utf-8")
    if job.forge == "gitlab":
        out.write(as_text(result))
    files.write(
        {**outputs(found, delivery, failed=failed), "sarif": str(options.sarif or "")},
        summary(found, delivery, as_markdown(result)),
    )
    if result.failed:
        level = "error" if result.review_failed else "warning"
        out.write(
            f"::{level}::Forge Assist: {result.headline()}\n"
            if job.forge == "github"
            else f"Forge Assist: {result.headline()}\n"
        )
    if failed:
        out.write(
            f"::error::Forge Assist: {failed} finding(s) at or above {options.fail_on}\n"
            if job.forge == "github"
            else f"Forge Assist: {failed} finding(s) at or above {options.fail_on}\n"
        )
        return 1
    return 0


def fix(settings: Settings, job: Job, *, state_dir: Path, out: TextIO) -> dict[str, Any]:
    """`/assist fix` in a workflow: the fix job the workers run, in this process.

    The job (``bot.jobs.fix.fix_job``) builds its forge from ``settings`` and records its
    run in a database; here that is a SQLite file under ``state_dir`` (the runner's temp).
    """
    if job.command is not CommandName.FIX or not isinstance(job.event, CommandEvent):
        reason = job.ignored or f"not a fix command ({job.command})"
        out.write(f"::notice::Forge Assist: nothing to fix ({reason})\n")
        return {"status": "ignored", "reason": reason}
    from bot.db.engine import make_engine, upgrade
    from bot.intake.routes._kwargs import command_kwargs
    from bot.jobs.context import WorkerContext, install
    from bot.jobs.fix import fix_job
    from bot.runtime import make_redis

    state_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{state_dir / 'assist.db'}"
    upgrade(url)
    # Redis is never contacted outside an RQ worker; the client only fills the context.
    install(WorkerContext(settings, make_engine(url), make_redis(settings.redis_url)))
    detail = fix_job(**command_kwargs(job.event))
    out.write(f"Forge Assist fix: {json.dumps(detail, default=str)}\n")
    return detail
