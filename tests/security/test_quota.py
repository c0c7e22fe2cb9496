"""Command quotas (bot/access/quota.py): per (forge, user) and per (forge, repository), counted
in the
real Redis; over quota a command runs nothing, the window's first refusal replies once, later
ones are silent and cost no forge write (GitHub: no forge call at all), and every refusal is in
the job record and the metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from bot.access.quota import CommandQuota, CommandQuotas, Verdict, refusal_text
from tests.llm.scripted_server import ScriptedServer
from tests.security.scene import fresh_scene
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

NOW = 1_800_000_000.0  # a window start for hourly windows (divisible by 3600)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    _clear(client)
    yield client
    _clear(client)
    client.close()


def _clear(client: Redis) -> None:
    keys = list(client.scan_iter("assist:quota:*"))
    if keys:
        client.delete(*keys)


def test_a_user_over_quota_is_refused_with_one_reply_per_window(redis: Redis) -> None:
    quotas = CommandQuotas(redis, CommandQuota(per_user=3, per_repo=0, window_s=3600))
    allowed = [quotas.check("github", "o/r", "Alice", command_id=str(i), now=NOW) for i in range(3)]
    assert all(v.allowed for v in allowed)
    first = quotas.check("github", "o/r", "alice", command_id="3", now=NOW + 10)
    second = quotas.check("github", "o/other", "ALICE", command_id="4", now=NOW + 20)
    assert (first.allowed, first.scope, first.reply) == (False, "user", True)
    assert (second.allowed, second.scope, second.reply) == (False, "user", False)
    assert first.resets_at == NOW + 3600
    # another user, the same user on the other forge: their own counts
    assert quotas.check("github", "o/r", "bob", command_id="5", now=NOW).allowed
    assert quotas.check("gitlab", "o/r", "alice", command_id="6", now=NOW).allowed
    # the next window starts afresh, with its own one reply
    assert quotas.check("github", "o/r", "alice", command_id="7", now=NOW + 3600).allowed
    for i in range(2):
        assert quotas.check("github", "o/r", "alice", command_id=f"8{i}", now=NOW + 3601).allowed
    again = quotas.check("github", "o/r", "alice", command_id="9", now=NOW + 3602)
    assert (again.allowed, again.reply) == (False, True)
    assert sorted(quotas.refusal_counts()) == [
        ("github", "user", "replied", 2),
        ("github", "user", "silent", 1),
    ]


def test_a_repository_over_quota_refuses_everyone(redis: Redis) -> None:
    quotas = CommandQuotas(redis, CommandQuota(per_user=10, per_repo=2, window_s=3600))
    assert quotas.check("gitlab", "g/p", "a", command_id="1", now=NOW).allowed
    assert quotas.check("gitlab", "g/p", "b", command_id="2", now=NOW).allowed
    c = quotas.check("gitlab", "g/p", "c", command_id="3", now=NOW)
    d = quotas.check("gitlab", "g/p", "d", command_id="4", now=NOW)
    assert (c.allowed, c.scope, c.reply) == (False, "repo", True)
    assert (d.allowed, d.scope, d.reply) == (False, "repo", False)
    assert quotas.check("gitlab", "g/other", "c", command_id="5", now=NOW).allowed
    # refused commands were not counted against their users
    assert redis.get(f"assist:quota:user:gitlab:c:{int(NOW // 3600)}") == b"1"  # g/other only


def test_a_retried_command_is_counted_once(redis: Redis) -> None:
    quotas = CommandQuotas(redis, CommandQuota(per_user=1, per_repo=1, window_s=3600))
    assert quotas.check("github", "o/r", "alice", command_id="42", now=NOW).allowed
    assert quotas.check("github", "o/r", "alice", command_id="42", now=NOW + 5).allowed
    assert not quotas.check("github", "o/r", "alice", command_id="43", now=NOW + 6).allowed


def test_an_unposted_reply_is_posted_by_the_next_refusal(redis: Redis) -> None:
    quotas = CommandQuotas(redis, CommandQuota(per_user=1, per_repo=0, window_s=3600))
    quotas.check("github", "o/r", "alice", command_id="1", now=NOW)
    failed = quotas.check("github", "o/r", "alice", command_id="2", now=NOW)
    assert failed.reply
    quotas.unclaim_reply(failed)  # the forge refused the reply
    assert quotas.check("github", "o/r", "alice", command_id="3", now=NOW).reply


def test_no_quota_counts_nothing(redis: Redis) -> None:
    quotas = CommandQuotas(redis, CommandQuota(per_user=0, per_repo=0, window_s=3600))
    assert all(quotas.check("github", "o/r", "a", command_id=str(i)).allowed for i in range(50))
    assert list(redis.scan_iter("assist:quota:*")) == []


def test_the_refusal_says_when_the_quota_resets_and_names_nobody() -> None:
    quota = CommandQuota(per_user=5, per_repo=100, window_s=3600)
    user = refusal_text(Verdict(False, "user", NOW + 3600, True), quota, now=NOW + 3600 - 125)
    assert "your 5 `/assist` commands for this hour" in user
    assert "resets at 2027-01-15 09:00 UTC (in about 2 minutes)" in user
    repo = refusal_text(Verdict(False, "repo", NOW + 3600, True), quota, now=NOW)
    assert "this repository has used its 100 `/assist` commands" in repo
    assert "in about 60 minutes" in repo
    for text in (user, repo):
        assert "@" not in text
        assert not re.search(r"#\d", text)


def _quota_keys(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    _clear(client)
    client.close()


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_over_quota_commands_get_one_polite_reply_then_silence(
    kind: str,
    testforge: TestForge,
    scripted: ScriptedServer,
    e2e_web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
    redis_url: str,
) -> None:
    """Through the real service and worker on the test forge: two commands by alice run, the
    third gets the one polite reply, the fourth and fifth post nothing and make no forge write
    (on GitHub no forge call at all; on GitLab only the note re-read that tells who wrote it);
    maint, another user, is not held back. The refusals are in the job records and metrics."""
    _quota_keys(redis_url)
    scene = fresh_scene(kind, testforge, scripted, e2e_web, app_key, corpora, pg_url)
    scene.worker_env = {
        **scene.worker_env,
        "ASSIST_COMMAND_QUOTA_USER": "2",
        "ASSIST_COMMAND_QUOTA_REPO": "0",
        "ASSIST_COMMAND_QUOTA_WINDOW_S": str(10_000 * 86400),  # no window ends in the test
    }
    help1 = scene.command("/assist help", author="alice")["jobs"][0]
    unknown = scene.command("/assist frobnicate @admin", author="alice")["jobs"][0]
    review = scene.command("/assist review", author="alice")["jobs"][0]
    other = scene.command("/assist help", author="maint")["jobs"][0]
    scene.work()
    assert scene.job(help1)[1]["status"] == "replied"
    assert scene.job(unknown)[1]["status"] == "replied"
    assert scene.job(other)[1]["status"] == "replied"
    status, detail, error = scene.job(review)
    assert (status, error) == ("done", "")
    assert (detail["status"], detail["reason"], detail["scope"], detail["replied"]) == (
        "refused",
        "quota",
        "user",
        True,
    )
    refusals = [b for b in scene.bodies() if "limit resets at" in b]
    assert len(refusals) == 1, refusals
    assert "your 2 `/assist` commands" in refusals[0]

    ask = scene.command("/assist ask why?", author="alice")["jobs"][0]
    again = scene.command("/assist help", author="alice")["jobs"][0]
    bodies = scene.bodies()
    posted = len(testforge.requests_log(kind))
    scene.work()
    for job in (ask, again):
        status, detail, _ = scene.job(job)
        assert (status, detail["status"], detail["reason"], detail["replied"]) == (
            "done",
            "refused",
            "quota",
            False,
        )
    calls = testforge.requests_log(kind)[posted:]
    assert [c for c in calls if c["method"] in WRITES] == []
    if kind == "github":
        assert calls == []
    assert scene.bodies() == bodies  # nothing posted
    assert scripted.chat_requests() == []  # nothing ran: no model call

    metrics = httpx.get(e2e_web[0] + "/metrics", timeout=30).text
    assert (
        f'assist_command_refusals_total{{forge="{kind}",reply="replied",scope="user"}} 1.0'
        in metrics
    )
    assert (
        f'assist_command_refusals_total{{forge="{kind}",reply="silent",scope="user"}} 2.0'
        in metrics
    )
    scene.engine.dispose()
