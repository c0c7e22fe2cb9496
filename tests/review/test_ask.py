"""`/assist ask` answers against a scripted model: a cut answer says where it stops."""

from __future__ import annotations

import asyncio

from bot.llm import LLMConfig, OpenAIClient
from bot.review.ask import Answer, answer_question, ask_layout
from tests.llm.scripted_server import ScriptedServer, chat_reply


def ask(server: ScriptedServer) -> Answer:
    async def go() -> Answer:
        config = LLMConfig((server.base_url,), "scripted", max_retries=0)
        layout = ask_layout(
            question="Is this safe?",
            title="t",
            body="b",
            diffs="+x = 1",
            context="",
            nonce="n0nce123",
        )
        async with OpenAIClient(config) as client:
            return await answer_question(client, client, layout, context_tokens=16000)

    return asyncio.run(go())


def test_a_cut_answer_says_where_it_stops(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("It is safe because", finish_reason="length", completion_tokens=700))
    answer = ask(scripted)
    assert answer.text == "It is safe because\n\n_(The model's answer was cut at 700 tokens.)_"


def test_a_finished_answer_is_left_as_it_is(scripted: ScriptedServer) -> None:
    scripted.push(chat_reply("Yes."))
    assert ask(scripted).text == "Yes."
