"""The job body of feedback: run on a worker (see bot/intake/routes/feedback.py for its routes)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from bot.access.commands import accept_command, command_comment, over_quota, verified_comment
from bot.feedback.converse import ANSWER_MARKER, answer_in_thread
from bot.feedback.harvest import FINDING_MARKER, harvest, is_ours
from bot.feedback.outcome import Kind
from bot.feedback.shown import as_shown
from bot.feedback.store import MAX_RULES, Observed, RuleError, SqlFeedback
from bot.forge.types import Comment, FindingThread
from bot.intake.events import CommandName
from bot.intake.policy import IntakePolicy
from bot.jobs.context import WorkerContext
from bot.jobs.forge import command_quotas, job_forge, job_repo
from bot.jobs.record import recorded
from bot.review.comments import marked_fingerprints
from bot.review.guidance import rule_ref, rules_listing
from bot.review.memory import ChangeKey, SqlMemory

REFUSAL = (
    "Sorry, answering in review threads needs write access to this repository (or being the "
    "author of this change)."
)
RULES_REFUSAL = "Sorry, only people with write access to this repository may change its rules."


def _thread_of(threads: Iterable[FindingThread], kwargs: dict[str, Any]) -> FindingThread | None:
    target = kwargs.get("target_comment_id")
    discussion = kwargs.get("discussion_id")
    for thread in threads:
        if target and thread.comment.id == int(target):
            return thread
        if discussion and thread.comment.thread_id == str(discussion):
            return thread
    return None


@recorded("feedback")
def feedback_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """Record a reaction, reply or thread state on one of our findings; answer a reply that
    addresses the bot, once, in its thread."""
    repo = job_repo(kwargs)
    number = int(kwargs["number"])
    change = ChangeKey(repo.forge, repo.path, number)
    store = SqlFeedback(ctx.engine)
    if not store.known(change):
        return {"status": "no findings of ours on this change"}
    forge = job_forge(ctx, kwargs)
    threads = forge.finding_threads(repo, number, marker=FINDING_MARKER)
    thread = _thread_of(threads, kwargs)
    if thread is None:
        return {"status": "not a thread of ours"}
    kind = Kind(str(kwargs["kind"]))
    actor = str(kwargs.get("author") or "")
    value = str(kwargs.get("value") or "")
    if repo.forge == "gitlab":  # the payload's author is anyone's word: the API's is not
        shown = as_shown(
            thread,
            kind=kind,
            actor=actor,
            value=value,
            comment_id=_int(kwargs.get("comment_id")),
            target_comment_id=_int(kwargs.get("target_comment_id")),
            revoked=bool(kwargs.get("revoked")),
        )
        if shown is None:
            return {"status": "unverified", "kind": kind.value, "claimed": actor}
        actor, value = shown.actor, shown.value[:4000]
        kwargs = {**kwargs, "author": actor, "value": value}
    own = forge.own_logins()  # from the forge's API, not the payload or configuration
    if kind is Kind.REPLY:
        # Whether the reply addresses the bot is decided here, against our identity from the
        # forge's API (the web process knows only configured names, none by default).
        names = [*ctx.settings.bot_logins, *own]
        policy = IntakePolicy.create(names, ctx.settings.command_prefix)
        kwargs = {
            **kwargs,
            "addressed": bool(kwargs.get("addressed")) or policy.addresses_bot(value),
        }
    if actor.lower() == thread.comment.author.lower() or actor.lower() in own:
        return {"status": "our own"}
    try:
        writer: bool | None = forge.permission(repo, actor).can_write
    except Exception:  # a stat only
        writer = None
    if kind is Kind.REACTION:
        key = f"{'unreaction' if kwargs.get('revoked') else 'reaction'}:{actor}:{value}"
        value = f"revoke:{value}" if kwargs.get("revoked") else value
    elif kind is Kind.REPLY:
        key = f"reply:{kwargs['comment_id']}"
    else:
        key = f"thread:{value}:{actor}"
    fingerprints = marked_fingerprints([thread.comment.body])
    added = store.record(
        change,
        [Observed(fp, kind, key, value, actor, writer) for fp in fingerprints],
        source="webhook",
    )
    result: dict[str, Any] = {"status": "recorded", "new": added, "kind": kind.value}
    if kind is Kind.REPLY and kwargs.get("addressed"):
        result |= _answer(ctx, forge, repo, kwargs, thread, change, fingerprints)
    return result


def _int(value: Any) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _answer(
    ctx: WorkerContext,
    forge: Any,
    repo: Any,
    kwargs: dict[str, Any],
    thread: FindingThread,
    change: ChangeKey,
    fingerprints: Iterable[str],
) -> dict[str, Any]:
    reply_id = int(kwargs["comment_id"])
    own = forge.own_logins()
    later = [c for c in thread.replies if c.id > reply_id]
    if any(is_ours(c, thread.comment, own) and ANSWER_MARKER in c.body for c in later):
        return {"answer": "already answered"}  # a retried job: the answer is there
    # a reply addressing the bot by mention carries no command; its author is still re-read
    _comment, refused = accept_command(
        forge, repo, kwargs, refusal=REFUSAL, require_command=False, quotas=command_quotas(ctx)
    )
    if refused is not None:
        return {"answer": "refused", "why": refused.get("reason")}
    memory = SqlMemory(ctx.engine).recall(change)
    code = "\n".join(
        f"{m.path}:{m.line}\n{m.quoted_code}" for fp in fingerprints if (m := memory.get(fp))
    )
    upto = [c for c in thread.replies if c.id <= reply_id]
    question = next((c.body for c in upto if c.id == reply_id), str(kwargs.get("value") or ""))
    answer = asyncio.run(
        answer_in_thread(
            ctx.settings,
            scope=(repo.forge, repo.path, str(change.number), "thread", str(reply_id)),
            finding=thread.comment,
            code=code,
            thread=[thread.comment, *upto],
            question=question,
        )
    )
    posted = forge.respond(repo, command_comment(kwargs), body=f"{answer.text}\n\n{ANSWER_MARKER}")
    return {
        "answer": "posted",
        "reply_id": posted.id if posted else None,
        "usage": dataclasses.asdict(answer.usage),
    }


@recorded("harvest")
def harvest_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """A change closed: read every reaction, reply and thread state of our findings, and mark
    the findings nobody acted on as ignored."""
    repo = job_repo(kwargs)
    forge = job_forge(ctx, kwargs)
    added = harvest(
        forge,
        SqlFeedback(ctx.engine),
        repo,
        int(kwargs["number"]),
        own_logins=forge.own_logins(),
        closed="merged" if kwargs.get("merged") else "closed",
    )
    return {"status": "harvested", "new": added}


def _rules_text(store: SqlFeedback, forge: str, repo: str) -> str:
    return rules_listing(store.rules(forge, repo), most=MAX_RULES)


@recorded("rules")
def rules_job(ctx: WorkerContext, **kwargs: Any) -> dict[str, Any]:
    """`/assist remember <rule>`, `/assist rules`, `/assist forget <id>`."""
    repo = job_repo(kwargs)
    forge = job_forge(ctx, kwargs)
    verified = verified_comment(
        forge, repo, command_comment(kwargs), prefix=ctx.settings.command_prefix
    )
    if verified is None:  # a forged, deleted or own note: nothing runs
        return {"status": "refused", "reason": "unverified comment"}
    comment: Comment = verified
    refused = over_quota(command_quotas(ctx), forge, repo, comment)
    if refused is not None:
        return refused
    store = SqlFeedback(ctx.engine)
    command = str(kwargs["command"])
    argument = str(kwargs.get("argument") or "").strip()
    if command == CommandName.RULES.value:
        forge.respond(repo, comment, body=_rules_text(store, repo.forge, repo.path))
        return {"status": "listed"}
    if not forge.permission(repo, comment.author).can_write:
        forge.respond(repo, comment, body=RULES_REFUSAL)
        return {"status": "refused", "reason": "no write access", "user": comment.author}
    if command == CommandName.REMEMBER.value:
        try:
            rule = store.remember(
                repo.forge, repo.path, argument, author=comment.author, source=str(comment.id)
            )
        except RuleError as exc:
            forge.respond(repo, comment, body=f"Not remembered: {exc}.")
            return {"status": "invalid", "reason": str(exc)}
        forge.respond(
            repo,
            comment,
            body=f"Remembered as rule **{rule_ref(rule.id)}**; later reviews of this repository "
            f"follow it. `/assist forget {rule.id}` removes it.",
        )
        return {"status": "remembered", "rule": rule.id}
    word = argument.split()[0].lstrip("#") if argument else ""
    if not word.isdigit():
        forge.respond(
            repo, comment, body="`/assist forget <id>` needs a rule id (`/assist rules`)."
        )
        return {"status": "invalid", "reason": "no rule id"}
    removed = store.forget(repo.forge, repo.path, int(word))
    forge.respond(
        repo,
        comment,
        body=f"Rule {rule_ref(int(word))} removed."
        if removed
        else f"There is no rule {rule_ref(int(word))} here.",
    )
    return {"status": "forgotten" if removed else "unknown", "rule": int(word)}
