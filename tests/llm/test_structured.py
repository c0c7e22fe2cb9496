"""Structured output against a scripted server: schema sent, pydantic validation, one repair."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field, field_validator

from bot.llm import (
    AnswerCutOffError,
    LLMConfig,
    LLMMetrics,
    Message,
    ModelOutputError,
    OpenAIClient,
)
from bot.llm.structured import parse, response_format, stated_schema, with_schema
from tests.llm.helpers import RecordingSleep, run
from tests.llm.scripted_server import ScriptedServer, chat_reply


class Finding(BaseModel):
    severity: Literal["low", "medium", "high"]
    line: int = Field(ge=1)
    summary: str = Field(max_length=200)

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("summary is blank")
        return value


PROMPT = [Message("system", "You review code."), Message("user", "x = 1 / 0")]
VALID = '{"severity": "high", "line": 1, "summary": "division by zero"}'


def llm(server: ScriptedServer) -> OpenAIClient:
    return OpenAIClient(LLMConfig(base_urls=(server.base_url,), model="m"), sleep=RecordingSleep())


def test_valid_answer_is_parsed_and_the_schema_is_sent(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply(VALID))
    result = run(llm(scripted).complete_json(PROMPT, Finding, max_tokens=50))
    assert result.value == Finding(severity="high", line=1, summary="division by zero")
    assert not result.repaired
    (body,) = scripted.chat_requests()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Finding", "schema": Finding.model_json_schema(), "strict": True},
    }
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You review code.")
    stated = stated_schema(Finding.model_json_schema())
    assert json.dumps(stated, separators=(",", ":")) in system["content"]
    assert '"title"' not in system["content"]  # pydantic's titles say what the names say


@pytest.mark.parametrize(
    "bad",
    [
        "Sure! Here is the JSON: " + VALID,  # prose around JSON is not scraped
        '{"severity": "critical", "line": 1, "summary": "x"}',  # outside the enum
        '{"severity": "low", "line": 0, "summary": "x"}',  # violates ge=1
        '{"severity": "low", "line": 3, "summary": "   "}',  # the validator refuses
        '{"severity": "low", "line": 3, "summ',  # cut off
    ],
)
def test_invalid_answer_gets_one_repair(scripted: ScriptedServer, bad: str) -> None:
    scripted.push(chat_reply(bad, prompt_tokens=40, completion_tokens=20), chat_reply(VALID))
    client = llm(scripted)
    result = run(client.complete_json(PROMPT, Finding, max_tokens=50))
    assert result.repaired
    assert result.value.summary == "division by zero"
    assert result.completion.usage.requests == 2
    assert result.completion.usage.repairs == 1
    assert client.usage.prompt_tokens == 40 + 11
    first, second = scripted.chat_requests()
    assert second["messages"][: len(first["messages"])] == first["messages"]
    assistant, repair = second["messages"][len(first["messages"]) :]
    assert assistant == {"role": "assistant", "content": bad}
    assert repair["role"] == "user"
    assert "not a valid JSON object" in repair["content"]
    assert second["response_format"] == first["response_format"]


def test_cut_off_answer_is_not_repaired_but_reported_with_its_length(
    scripted: ScriptedServer,
) -> None:
    scripted.push(
        chat_reply('{"severity": "lo', finish_reason="length", completion_tokens=5),
        chat_reply(VALID),
    )
    with pytest.raises(AnswerCutOffError) as caught:
        run(llm(scripted).complete_json(PROMPT, Finding, max_tokens=5))
    assert (caught.value.tokens, caught.value.max_tokens) == (5, 5)
    assert "cut at 5 tokens" in str(caught.value)
    assert len(scripted.chat_requests()) == 1  # the same request would be cut again


def test_a_sized_schema_is_sent_instead_of_the_models_own(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply(VALID))
    sized = {**Finding.model_json_schema()}
    sized["properties"] = {**sized["properties"], "summary": {"type": "string", "maxLength": 20}}
    run(llm(scripted).complete_json(PROMPT, Finding, max_tokens=50, schema=sized))
    (body,) = scripted.chat_requests()
    assert body["response_format"]["json_schema"]["schema"] == sized
    assert '"maxLength":20' in body["messages"][0]["content"]


def test_still_invalid_after_repair_is_a_model_failure(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("no"), chat_reply('{"severity": "low"}'))
    registry = CollectorRegistry()
    client = OpenAIClient(
        LLMConfig(base_urls=(scripted.base_url,), model="m"), metrics=LLMMetrics(registry)
    )
    with pytest.raises(ModelOutputError) as caught:
        run(client.complete_json(PROMPT, Finding, max_tokens=50))
    assert caught.value.raw == '{"severity": "low"}'
    assert "line" in caught.value.problems
    assert "summary" in caught.value.problems
    assert len(scripted.chat_requests()) == 2
    assert client.usage.failures == 1
    assert client.usage.repairs == 1
    outcome = {"model": "m", "kind": "json", "outcome": "invalid_output"}
    assert registry.get_sample_value("assist_llm_requests_total", outcome) == 1.0
    assert (
        registry.get_sample_value("assist_llm_repairs_total", {"model": "m", "kind": "json_repair"})
        == 1.0
    )


def test_with_schema_adds_a_system_message_when_there_is_none() -> None:
    messages = with_schema([Message("user", "hi")], Finding)
    assert [m.role for m in messages] == ["system", "user"]
    assert '"severity"' in messages[0].content


def test_parse_returns_the_problems_as_text() -> None:
    assert parse(VALID, Finding) == Finding(severity="high", line=1, summary="division by zero")
    problems = parse("[1, 2]", Finding)
    assert isinstance(problems, str)
    assert problems.startswith("- ")


def test_response_format_name_is_sanitised() -> None:
    class Weird(BaseModel):
        x: int

    Weird.__name__ = "Wéird name!"
    assert response_format(Weird)["json_schema"]["name"] == "W_ird_name_"


def test_no_repair_that_would_not_fit_the_context(scripted: ScriptedServer) -> None:
    """An invalid answer to a prompt that filled the context: re-sent with the answer, the
    repair would exceed the context (the server answers 400); it is reported, not sent. (An
    answer cut at max_tokens is never repaired at all: AnswerCutOffError.)"""
    scripted.push(
        chat_reply('{"severity": "lo"}', prompt_tokens=1280, completion_tokens=768),
        chat_reply(VALID),
    )  # fmt: skip
    with pytest.raises(ModelOutputError, match="would not fit the model's 2048-token context"):
        run(llm(scripted).complete_json(PROMPT, Finding, max_tokens=768))
    assert len(scripted.chat_requests()) == 1
