"""Fault cases of the contract: 5xx, rate limits with reset headers, slow responses."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.forge import ForgeUnavailable, RateLimited, Review, ReviewComment, wait_for_rate_limit
from bot.forge.factory import build_forge
from tests.forge.conftest import REPO, Env
from tests.testforge import Fault


def test_a_transient_5xx_is_retried(env: Env) -> None:
    env.server.inject(Fault.server_error(502, times=1, api=env.kind))
    change = env.forge.get_change(env.repo, env.number)
    assert change.title == "Improve widgets"
    assert env.sleeps.calls == [0.5]


def test_persistent_5xx_raises_forge_unavailable_after_bounded_retries(env: Env) -> None:
    env.server.inject(Fault.server_error(503, times=100, api=env.kind))
    with pytest.raises(ForgeUnavailable) as raised:
        env.forge.get_diff(env.repo, env.number)
    assert raised.value.status == 503
    assert env.sleeps.calls == [0.5, 1.0]  # three attempts, exponential backoff
    assert [f.hits for f in env.server.faults] == [3]


def test_a_write_is_not_repeated_after_an_ambiguous_500(env: Env) -> None:
    env.server.inject(Fault.server_error(500, times=100, api=env.kind, method="POST"))
    with pytest.raises(ForgeUnavailable):
        env.forge.upsert_comment(env.repo, env.number, marker="<!-- m -->", body="x")
    assert env.sleeps.calls == []
    assert [f.hits for f in env.server.faults] == [1]


def test_a_write_is_retried_after_a_gateway_error(env: Env) -> None:
    env.server.inject(Fault.server_error(502, times=1, api=env.kind, method="POST"))
    env.forge.upsert_comment(env.repo, env.number, marker="<!-- m -->", body="posted once")
    assert [n["body"] for n in env.server.comments(REPO, env.number)] == [
        "posted once\n\n<!-- m -->"
    ]


def test_rate_limit_raises_with_the_reset_time(env: Env) -> None:
    # GitHub: 403 (primary limit) and 429 (secondary); GitLab: 429
    for status in [403, 429] if env.kind == "github" else [429]:
        before = datetime.now(UTC)
        env.server.inject(Fault.rate_limit(reset_in_s=40, status=status, times=1, api=env.kind))
        with pytest.raises(RateLimited) as raised:
            env.forge.get_change(env.repo, env.number)
        assert raised.value.status == status
        assert before + timedelta(seconds=35) <= raised.value.reset_at
        assert raised.value.reset_at <= datetime.now(UTC) + timedelta(seconds=45)
    assert env.sleeps.calls == []  # the adapter itself never sleeps through a rate limit


def test_wait_for_rate_limit_waits_for_the_reset_then_succeeds(env: Env) -> None:
    env.server.inject(Fault.rate_limit(reset_in_s=2, status=429, times=1, api=env.kind))
    waits: list[float] = []
    change = wait_for_rate_limit(
        lambda: env.forge.get_change(env.repo, env.number), max_wait_s=10, sleep=waits.append
    )
    assert change.number == env.number
    assert len(waits) == 1
    assert 1.0 <= waits[0] <= 3.5


def test_wait_for_rate_limit_gives_up_on_a_distant_reset(env: Env) -> None:
    env.server.inject(Fault.rate_limit(reset_in_s=3600, status=429, times=5, api=env.kind))
    waits: list[float] = []
    with pytest.raises(RateLimited):
        wait_for_rate_limit(
            lambda: env.forge.get_change(env.repo, env.number), max_wait_s=60, sleep=waits.append
        )
    assert waits == []


def test_a_slow_response_within_the_timeout_succeeds(env: Env) -> None:
    env.server.inject(Fault.slow(0.3, times=1, api=env.kind))
    assert env.forge.get_change(env.repo, env.number).number == env.number


def test_a_response_slower_than_the_timeout_raises_forge_unavailable(env: Env) -> None:
    settings = env.settings.model_copy(update={"forge_timeout_s": 1.0})
    forge = build_forge(
        settings, env.kind, tokens=env.tokens, attempts=2, backoff_s=0, sleep=env.sleeps
    )
    env.forge.get_change(env.repo, env.number)  # credentials in hand (shared token cache)
    env.server.inject(Fault.slow(2.5, times=2, api=env.kind))
    with pytest.raises(ForgeUnavailable):
        forge.get_change(env.repo, env.number)
    assert [f.hits for f in env.server.faults] == [2]


def test_an_unreachable_forge_raises_forge_unavailable(env: Env) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "github_api_url" if env.kind == "github" else "gitlab_url"
    url = f"http://127.0.0.1:{port}" + ("/api/v3" if env.kind == "github" else "")
    settings = env.settings.model_copy(update={key: url})
    forge = build_forge(settings, env.kind, attempts=2, backoff_s=0, sleep=env.sleeps)
    with pytest.raises(ForgeUnavailable):
        forge.get_change(env.repo, env.number)


def test_credentials_never_reach_the_logs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env.server.inject(Fault.server_error(502, times=1, api=env.kind))
    change = env.forge.get_change(env.repo, env.number)
    env.forge.post_review(change, Review("x", (ReviewComment("src/app.py", 3, "outside"),)))
    url = env.forge.clone_url(env.repo)
    logging.getLogger("test").info("cloning %s", url)
    secret = url.get_secret_value().split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert len(secret) > 10
    assert caplog.records
    assert not [r for r in caplog.records if secret in r.getMessage()]
