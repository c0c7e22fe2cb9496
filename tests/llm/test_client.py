"""OpenAIClient against scripted OpenAI-compatible servers: exact protocol cases."""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import CollectorRegistry

from bot.llm import (
    LLMConfig,
    LLMMetrics,
    LLMRequestError,
    LLMUnavailableError,
    Message,
    OpenAIClient,
    StreamDone,
    TextDelta,
)
from tests.llm.helpers import RecordingSleep, run
from tests.llm.scripted_server import (
    ABORT,
    Reply,
    ScriptedServer,
    chat_reply,
    dead_url,
    stream_reply,
)

HELLO = [Message("system", "You are terse."), Message("user", "Say hi.")]
HOLD_LIMIT_S = 120.0  # a held reply answers anyway after this: only a failing test waits it


def held(reply: Reply, in_flight: int) -> Reply:
    """``reply`` answered once ``in_flight`` requests are in flight together (see Reply)."""
    reply.until_in_flight = in_flight
    reply.delay_s = HOLD_LIMIT_S
    return reply


def config(*urls: str, **overrides: object) -> LLMConfig:
    values: dict[str, object] = {"model": "m", "max_retries": 3, "timeout_s": 10.0}
    values.update(overrides)
    return LLMConfig(base_urls=urls, **values)  # type: ignore[arg-type]


def client(*urls: str, sleep: RecordingSleep | None = None, **overrides: object) -> OpenAIClient:
    return OpenAIClient(
        config(*urls, **overrides), sleep=sleep or RecordingSleep(), rng=random.Random(7)
    )


def test_complete_sends_the_request_and_reads_text_and_usage(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("hi", prompt_tokens=30, completion_tokens=2, cached_tokens=16))

    async def go() -> None:
        async with client(scripted.base_url, api_key="k-123") as llm:
            result = await llm.complete(HELLO, max_tokens=12, stop=["\n\n"])
            assert result.text == "hi"
            assert result.finish_reason == "stop"
            assert result.replica == scripted.base_url
            assert result.usage.prompt_tokens == 30
            assert result.usage.completion_tokens == 2
            assert result.usage.cached_prompt_tokens == 16
            assert result.usage.requests == 1
            assert llm.usage == result.usage

    run(go())
    (request,) = scripted.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k-123"
    assert request.body == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hi."},
        ],
        "max_tokens": 12,
        "temperature": 0.0,
        "stop": ["\n\n"],
    }


def test_429_waits_for_retry_after_then_succeeds(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=429, body={"error": "busy"}, headers={"Retry-After": "2"}))
    scripted.push(chat_reply("done"))
    sleep = RecordingSleep()

    async def go() -> None:
        async with client(scripted.base_url, sleep=sleep) as llm:
            result = await llm.complete(HELLO, max_tokens=5)
            assert result.text == "done"
            assert result.usage.retries == 1
            # a 429 is a busy replica, not a broken one
            assert llm.healthy_replicas() == [scripted.base_url]

    run(go())
    assert sleep.delays == [2.0]
    assert len(scripted.chat_requests()) == 2


def test_retry_after_is_capped_by_backoff_max(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=503, body={}, headers={"Retry-After": "3600"}), chat_reply("ok"))
    sleep = RecordingSleep()
    run(client(scripted.base_url, sleep=sleep, backoff_max_s=4.0).complete(HELLO, max_tokens=5))
    assert sleep.delays == [4.0]


def test_5xx_are_retried_with_growing_backoff(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=500, body={}), Reply(status=502, body={}), chat_reply("ok"))
    sleep = RecordingSleep()
    result = run(
        client(scripted.base_url, sleep=sleep, backoff_base_s=1.0).complete(HELLO, max_tokens=5)
    )
    assert result.text == "ok"
    assert result.usage.retries == 2
    first, second = sleep.delays
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


def test_exhausted_retries_raise_unavailable_and_are_accounted(scripted: ScriptedServer) -> None:
    scripted.push(*[Reply(status=500, body={"error": "boom"}) for _ in range(3)])
    registry = CollectorRegistry()
    llm = OpenAIClient(
        config(scripted.base_url, max_retries=2),
        sleep=RecordingSleep(),
        metrics=LLMMetrics(registry),
    )
    with pytest.raises(LLMUnavailableError) as caught:
        run(llm.complete(HELLO, max_tokens=5))
    assert caught.value.attempts == 3
    assert caught.value.last_status == 500
    assert len(scripted.chat_requests()) == 3
    assert llm.usage.failures == 1
    assert llm.usage.requests == 1
    labels = {"model": "m", "kind": "chat", "outcome": "failed"}
    assert registry.get_sample_value("assist_llm_requests_total", labels) == 1.0


def test_client_errors_are_not_retried(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=400, body={"error": "prompt too long"}), chat_reply("never"))
    with pytest.raises(LLMRequestError) as caught:
        run(client(scripted.base_url).complete(HELLO, max_tokens=5))
    assert caught.value.status == 400
    assert "prompt too long" in caught.value.body
    assert len(scripted.chat_requests()) == 1


def test_a_non_json_200_is_retried(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=200, body="<html>proxy error</html>"), chat_reply("ok"))
    assert run(client(scripted.base_url).complete(HELLO, max_tokens=5)).text == "ok"


def test_slow_reply_times_out_and_the_server_sees_the_disconnect(
    scripted: ScriptedServer,
) -> None:
    scripted.push(chat_reply("late", delay_s=30))
    with pytest.raises(LLMUnavailableError, match="timed out") as caught:
        run(client(scripted.base_url, timeout_s=0.2, max_retries=0).complete(HELLO, max_tokens=5))
    assert caught.value.last_status is None
    _wait_for(lambda: scripted.disconnects == 1)


def test_dead_replica_fails_over_and_is_left_out(scripted: ScriptedServer) -> None:
    dead = dead_url()

    async def go() -> None:
        async with client(dead, scripted.base_url) as llm:
            replicas = [(await llm.complete(HELLO, max_tokens=5)).replica for _ in range(4)]
            assert replicas == [scripted.base_url] * 4
            assert llm.healthy_replicas() == [scripted.base_url]
            assert llm.usage.retries <= 1  # only the first call met the dead replica

    run(go())
    assert len(scripted.chat_requests()) == 4


def test_all_replicas_dead_gives_a_clear_error() -> None:
    with pytest.raises(LLMUnavailableError, match="no model replica answered after 3"):
        run(client(dead_url(), dead_url(), max_retries=2).complete(HELLO, max_tokens=5))


def test_load_is_spread_over_healthy_replicas(
    scripted: ScriptedServer, scripted_b: ScriptedServer
) -> None:
    for server in (scripted, scripted_b):  # each answers once it has its three at once
        server.push(*[held(chat_reply("ok"), 3) for _ in range(3)])

    async def go() -> None:
        async with client(scripted.base_url, scripted_b.base_url) as llm:
            await asyncio.gather(*[llm.complete(HELLO, max_tokens=5) for _ in range(6)])

    run(go())
    assert len(scripted.chat_requests()) == 3
    assert len(scripted_b.chat_requests()) == 3


def test_concurrency_is_limited(scripted: ScriptedServer) -> None:
    scripted.push(*[held(chat_reply(str(i)), 2) for i in range(6)])  # answered once 2 wait

    async def go() -> list[str]:
        async with client(scripted.base_url, max_concurrency=2) as llm:
            results = await asyncio.gather(*[llm.complete(HELLO, max_tokens=5) for _ in range(6)])
            return sorted(r.text for r in results)

    assert run(go()) == ["0", "1", "2", "3", "4", "5"]
    assert scripted.max_in_flight == 2


def test_cancellation_closes_the_request_and_frees_the_slot(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("never", delay_s=30), chat_reply("after"))

    async def go() -> None:
        async with client(scripted.base_url, max_concurrency=1) as llm:
            task = asyncio.create_task(llm.complete(HELLO, max_tokens=5))
            while not scripted.chat_requests():
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the one slot is free again and the replica is not blamed
            assert (await llm.complete(HELLO, max_tokens=5)).text == "after"
            assert llm.healthy_replicas() == [scripted.base_url]

    run(go())
    _wait_for(lambda: scripted.disconnects == 1)


def test_stream_yields_deltas_then_the_completion(scripted: ScriptedServer) -> None:
    scripted.push(Reply(status=503, body={}), stream_reply(["Hel", "lo", "!"], prompt_tokens=9))

    async def go() -> None:
        async with client(scripted.base_url) as llm:
            events = [event async for event in llm.stream(HELLO, max_tokens=5)]
            assert events[:3] == [TextDelta("Hel"), TextDelta("lo"), TextDelta("!")]
            done = events[3]
            assert isinstance(done, StreamDone)
            assert done.completion.text == "Hello!"
            assert done.completion.finish_reason == "stop"
            assert done.completion.usage.prompt_tokens == 9
            assert done.completion.usage.completion_tokens == 3
            assert done.completion.usage.retries == 1
            assert llm.usage == done.completion.usage

    run(go())
    body = scripted.chat_requests()[-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_a_stream_that_does_not_start_in_time_is_retried(scripted: ScriptedServer) -> None:
    slow = stream_reply(["late"])
    slow.delay_s = 30
    scripted.push(slow, stream_reply(["on", " time"]))

    async def go() -> str:
        # The on-time stream must start within the timeout even on a busy machine: 5 s.
        async with client(scripted.base_url, timeout_s=5.0) as llm:
            events = [event async for event in llm.stream(HELLO, max_tokens=5)]
            done = events[-1]
            assert isinstance(done, StreamDone)
            assert done.completion.usage.retries == 1
            return done.completion.text

    assert run(go()) == "on time"
    _wait_for(lambda: scripted.disconnects == 1)


def test_leaving_a_stream_early_frees_the_slot(scripted: ScriptedServer) -> None:
    scripted.push(stream_reply(["a", "b", "c"]), chat_reply("next"))

    async def go() -> None:
        async with client(scripted.base_url, max_concurrency=1) as llm:
            stream = llm.stream(HELLO, max_tokens=5)
            async for event in stream:
                assert event == TextDelta("a")
                break
            await stream.aclose()  # type: ignore[attr-defined]
            assert (await llm.complete(HELLO, max_tokens=5)).text == "next"

    run(go())


def test_a_stream_that_breaks_off_is_a_typed_error(scripted: ScriptedServer) -> None:
    broken = stream_reply(["partial", "answer"])
    assert broken.events is not None
    broken.events.insert(2, ABORT)  # after the role chunk and the first piece
    scripted.push(broken)

    async def go() -> list[str]:
        seen: list[str] = []

        async def consume(llm: OpenAIClient) -> None:
            async for event in llm.stream(HELLO, max_tokens=5):
                assert isinstance(event, TextDelta)
                seen.append(event.text)

        async with client(scripted.base_url) as llm:
            with pytest.raises(LLMUnavailableError, match="broke off"):
                await consume(llm)
            assert llm.usage.failures == 1
        return seen

    assert run(go()) == ["partial"]


def test_probe_marks_dead_replicas_and_revives_live_ones(scripted: ScriptedServer) -> None:
    dead = dead_url()

    async def go() -> None:
        async with client(dead, scripted.base_url) as llm:
            assert await llm.probe() == {dead: False, scripted.base_url: True}
            assert llm.healthy_replicas() == [scripted.base_url]

    run(go())
    assert [r.path for r in scripted.requests] == ["/health"]


def test_metrics_count_tokens_and_calls(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("a", prompt_tokens=100, completion_tokens=10, cached_tokens=64))
    scripted.push(
        Reply(status=500, body={}), chat_reply("b", prompt_tokens=50, completion_tokens=5)
    )
    registry = CollectorRegistry()

    async def go() -> None:
        llm = OpenAIClient(
            config(scripted.base_url), metrics=LLMMetrics(registry), sleep=RecordingSleep()
        )
        async with llm:
            await llm.complete(HELLO, max_tokens=5)
            await llm.complete(HELLO, max_tokens=5)
        assert llm.usage.prompt_tokens == 150
        assert llm.usage.cached_prompt_tokens == 64
        assert llm.usage.retries == 1
        assert llm.usage.requests == 2

    run(go())
    base = {"model": "m", "kind": "chat"}

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {**base, **labels})

    assert value("assist_llm_requests_total", outcome="ok") == 2.0
    assert value("assist_llm_tokens_total", type="prompt") == 150.0
    assert value("assist_llm_tokens_total", type="completion") == 15.0
    assert value("assist_llm_tokens_total", type="cached_prompt") == 64.0
    assert value("assist_llm_retries_total") == 1.0
    assert value("assist_llm_call_seconds_count") == 2.0


def _wait_for(condition: object, *, limit_s: float = 10.0) -> None:
    """Poll a condition set by the server thread (bounded; not a timing assertion)."""
    import time

    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("the scripted server never saw the expected event")
        time.sleep(0.01)
