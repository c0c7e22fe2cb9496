"""Quotas on `/assist` commands, per (forge, user) and per (forge, repository), with one polite
refusal per window.

Every command (review, ask, fix, rules, help, an unknown one, a reply addressing the bot) is
counted where the worker accepts it: after the commenter's identity comes from the forge's API
(GitLab: the note re-read), before anything else costs a forge call. Over quota, the command
runs nothing: the first refusal of a window posts one reply saying when the window resets;
later ones in the same window post nothing and cost no forge call, but each is in the job's
record (``status: refused, reason: quota``) and counted for the metrics
(``assist_command_refusals_total``, read from Redis by the web process at scrape time).

Windows are fixed (``floor(now / window)``); one atomic Redis script checks both quotas,
counts an admitted command in both, and claims the window's one reply. A command is counted
once however often its job is retried (its comment id is remembered for the window).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from redis import Redis

from bot.settings import Settings

log = logging.getLogger(__name__)
PREFIX = "assist:quota:"
Scope = Literal["user", "repo"]

# KEYS: user counter, repo counter, user notice, repo notice, refusal stats, command seen
# ARGV: user quota, repo quota, ttl, stats field prefix
_CHECK = """
if redis.call('EXISTS', KEYS[6]) == 1 then return {'ok', 0} end
local user = tonumber(ARGV[1])
local repo = tonumber(ARGV[2])
local scope = false
if user > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= user then
  scope = 'user'
elseif repo > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= repo then
  scope = 'repo'
end
if not scope then
  if user > 0 then
    redis.call('INCR', KEYS[1])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
  end
  if repo > 0 then
    redis.call('INCR', KEYS[2])
    redis.call('EXPIRE', KEYS[2], ARGV[3])
  end
  redis.call('SET', KEYS[6], '1', 'EX', ARGV[3])
  return {'ok', 0}
end
local notice = KEYS[4]
if scope == 'user' then notice = KEYS[3] end
local first = redis.call('SET', notice, '1', 'NX', 'EX', ARGV[3])
local replied = 0
local how = 'silent'
if first then
  replied = 1
  how = 'replied'
end
redis.call('HINCRBY', KEYS[5], ARGV[4] .. scope .. '|' .. how, 1)
return {scope, replied}
"""


@dataclass(frozen=True, slots=True)
class CommandQuota:
    """Commands per user and per repository in each window (0: no quota)."""

    per_user: int = 30
    per_repo: int = 300
    window_s: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> CommandQuota:
        return cls(
            per_user=settings.command_quota_user,
            per_repo=settings.command_quota_repo,
            window_s=settings.command_quota_window_s,
        )

    @property
    def unlimited(self) -> bool:
        return not (self.per_user or self.per_repo)


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``, or refused by the ``scope`` quota until ``resets_at`` (epoch seconds);
    ``reply``: this is the window's first refusal of that scope, the one that says so."""

    allowed: bool
    scope: Scope | None = None
    resets_at: float = 0.0
    reply: bool = False
    notice_key: str = ""

    def detail(self) -> dict[str, Any]:
        """What the job records about a refusal."""
        return {
            "status": "refused",
            "reason": "quota",
            "scope": self.scope,
            "resets_at": dt.datetime.fromtimestamp(self.resets_at, dt.UTC).isoformat(),
            "replied": self.reply,
        }


def refusal_text(verdict: Verdict, quota: CommandQuota, *, now: float) -> str:
    """The one polite reply of a window. Pure; names nobody (no mention, no reference)."""
    reset = dt.datetime.fromtimestamp(verdict.resets_at, dt.UTC)
    window = _duration(quota.window_s)
    if verdict.scope == "user":
        what = f"you have used your {quota.per_user} `/assist` commands for this {window}"
    else:
        what = f"this repository has used its {quota.per_repo} `/assist` commands for this {window}"
    return (
        f"Sorry, {what}, so this one was not run. The limit resets at "
        f"{reset:%Y-%m-%d %H:%M} UTC (in about {_until(verdict.resets_at - now)}); "
        "commands sent before then are ignored without a further reply."
    )


def _until(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hours" if hours < 48 else f"{round(hours / 24)} days"


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return "day" if seconds == 86400 else f"{seconds // 86400} days"
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return "minute" if seconds == 60 else f"{seconds // 60} minutes"
    return f"{seconds} seconds"


class CommandQuotas:
    """The quotas, counted in Redis and shared by every worker."""

    def __init__(self, redis: Redis, quota: CommandQuota, *, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._quota = quota
        self._prefix = prefix

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> CommandQuotas:
        return cls(redis, CommandQuota.from_settings(settings))

    @property
    def quota(self) -> CommandQuota:
        return self._quota

    def check(
        self, forge: str, repo: str, user: str, *, command_id: str, now: float | None = None
    ) -> Verdict:
        """Count the command ``command_id`` (e.g. its comment id) by ``user`` in ``repo``, or
        refuse it. A command already counted in this window (a retried job) is allowed."""
        q = self._quota
        if q.unlimited:
            return Verdict(allowed=True)
        at = time.time() if now is None else now
        window = int(at // q.window_s)
        p, who = self._prefix, user.lower()
        keys = [
            f"{p}user:{forge}:{who}:{window}",
            f"{p}repo:{forge}:{repo}:{window}",
            f"{p}notice:user:{forge}:{who}:{window}",
            f"{p}notice:repo:{forge}:{repo}:{window}",
            p + "refusals",
            f"{p}seen:{forge}:{repo}:{command_id}:{window}",
        ]
        args: list[str | int] = [q.per_user if who else 0, q.per_repo, q.window_s * 2, f"{forge}|"]
        scope, replied = self._redis.eval(_CHECK, len(keys), *keys, *args)
        name = scope.decode() if isinstance(scope, bytes) else str(scope)
        if name == "ok":
            return Verdict(allowed=True)
        return Verdict(
            allowed=False,
            scope="user" if name == "user" else "repo",
            resets_at=float((window + 1) * q.window_s),
            reply=bool(replied),
            notice_key=keys[2] if name == "user" else keys[3],
        )

    def would_refuse(
        self, forge: str, repo: str, user: str, *, command_id: str, now: float | None = None
    ) -> bool:
        """Whether :meth:`check` would refuse this command now, counting nothing: for the
        acknowledgement posted while the command waits (bot/jobs/announce.py)."""
        q = self._quota
        if q.unlimited:
            return False
        at = time.time() if now is None else now
        window = int(at // q.window_s)
        p, who = self._prefix, user.lower()
        if self._redis.exists(f"{p}seen:{forge}:{repo}:{command_id}:{window}"):
            return False
        used_user, used_repo = self._redis.mget(
            f"{p}user:{forge}:{who}:{window}", f"{p}repo:{forge}:{repo}:{window}"
        )
        if who and q.per_user > 0 and int(used_user or 0) >= q.per_user:
            return True
        return q.per_repo > 0 and int(used_repo or 0) >= q.per_repo

    def unclaim_reply(self, verdict: Verdict) -> None:
        """The window's one reply could not be posted: let the next refusal post it."""
        if verdict.notice_key:
            self._redis.delete(verdict.notice_key)

    def refusal_counts(self) -> Iterator[tuple[str, str, str, int]]:
        """(forge, scope, ``replied``/``silent``, count) of every refusal so far."""
        raw: dict[Any, Any] = self._redis.hgetall(self._prefix + "refusals")
        for field, value in sorted(raw.items()):
            text = field.decode() if isinstance(field, bytes) else str(field)
            parts = text.split("|")
            if len(parts) == 3:
                yield parts[0], parts[1], parts[2], int(value)
