"""Pure parts: backoff, Retry-After, replica choice, usage arithmetic, configuration."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.llm import LLMConfig, Usage
from bot.llm.backoff import parse_retry_after, retry_delay
from bot.llm.config import server_root
from bot.llm.replicas import ReplicaSet
from bot.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2026 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_retry_delay_grows_and_is_capped() -> None:
    rng = random.Random(1)
    for retry in range(1, 12):
        delay = retry_delay(retry, base_s=0.5, max_s=8.0, rng=rng)
        ceiling = min(0.5 * 2 ** (retry - 1), 8.0)
        assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(1, base_s=0.5, max_s=8.0, retry_after_s=5.0) == 5.0
    assert retry_delay(1, base_s=0.5, max_s=8.0, retry_after_s=50.0) == 8.0


def test_replicas_round_robin_and_prefer_the_least_busy() -> None:
    replicas = ReplicaSet(["a", "b", "c"], clock=Clock())
    assert {replicas.choose() for _ in range(3)} == {"a", "b", "c"}
    replicas.started("a")
    replicas.started("b")
    assert replicas.choose() == "c"
    assert replicas.choose(avoid=frozenset({"c"})) in {"a", "b"}


def test_failed_replica_cools_down_doubling_and_recovers_on_success() -> None:
    clock = Clock()
    replicas = ReplicaSet(["a", "b"], cooldown_s=2.0, max_cooldown_s=5.0, clock=clock)
    replicas.failed("a")
    assert replicas.healthy() == ["b"]
    assert {replicas.choose() for _ in range(4)} == {"b"}
    clock.now += 2.0
    assert replicas.healthy() == ["a", "b"]
    replicas.failed("a")
    replicas.failed("a")  # third failure in a row: 2 * 4 = 8, capped at 5
    clock.now += 4.9
    assert replicas.healthy() == ["b"]
    clock.now += 0.2
    assert replicas.healthy() == ["a", "b"]
    replicas.failed("a")
    replicas.succeeded("a")
    assert replicas.healthy() == ["a", "b"]


def test_all_cooling_down_probes_the_one_that_recovers_first() -> None:
    clock = Clock()
    replicas = ReplicaSet(["a", "b"], cooldown_s=2.0, clock=clock)
    replicas.failed("b")
    replicas.failed("a")
    replicas.failed("a")
    assert replicas.healthy() == []
    assert replicas.choose() == "b"


def test_replica_set_needs_urls() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ReplicaSet([])


def test_usage_adds_up() -> None:
    a = Usage(
        requests=1, prompt_tokens=100, completion_tokens=10, cached_prompt_tokens=50, latency_s=1.5
    )
    b = Usage(requests=2, retries=1, prompt_tokens=300, completion_tokens=5, latency_s=0.5)
    total = a + b
    assert total == Usage(
        requests=3,
        retries=1,
        prompt_tokens=400,
        completion_tokens=15,
        cached_prompt_tokens=50,
        latency_s=2.0,
    )
    assert total.total_tokens == 415
    assert total.cache_hit_rate == 50 / 400
    assert Usage().cache_hit_rate == 0.0
    assert total.as_dict()["prompt_tokens"] == 400


def test_config_from_settings() -> None:
    settings = Settings(
        llm_base_urls="http://a:8000/v1/, http://b:8000/v1",  # type: ignore[arg-type]
        llm_model="coder",
        llm_api_key=SecretStr("s3cret-token-value"),
        llm_max_concurrency=16,
        llm_context_tokens=32768,
    )
    config = LLMConfig.from_settings(settings)
    assert config.base_urls == ("http://a:8000/v1", "http://b:8000/v1")
    assert config.model == "coder"
    assert config.api_key == "s3cret-token-value"
    assert config.max_concurrency == 16
    assert config.context_tokens == 32768
    with pytest.raises(ValueError, match="base URL"):
        LLMConfig(base_urls=(), model="m")


def test_server_root() -> None:
    assert server_root("http://h:8000/v1") == "http://h:8000"
    assert server_root("http://h:8000/v1/") == "http://h:8000"
    assert server_root("http://h:8000/api") == "http://h:8000/api"
