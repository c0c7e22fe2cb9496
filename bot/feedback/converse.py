"""An answer in one of our review threads: the finding, its code and the thread so far are
the (untrusted) context; the reply that addressed the bot is the question."""

from __future__ import annotations

from collections.abc import Sequence

from bot.forge.types import Comment
from bot.llm import (
    PromptLayout,
    Section,
)
from bot.llm.model import fence_nonce, open_model
from bot.llm.prompts import load
from bot.review.ask import Answer, answer_question
from bot.settings import Settings

ANSWER_MARKER = "<!-- forge-assist:thread-answer -->"


def thread_layout(
    *, finding: str, code: str, thread: Sequence[Comment], question: str, nonce: str
) -> PromptLayout:
    history = "\n\n".join(f"{c.author}:\n{c.body}" for c in thread)
    return PromptLayout(
        instructions=load("thread.md"),
        specific=(
            Section("The finding as posted", finding, kind="finding"),
            Section("The code it is about", code, kind="code"),
            Section("The thread so far", history, kind="thread"),
            Section("The reply to answer", question, kind="question", trimmable=False),
        ),
        nonce=nonce,
    )


async def answer_in_thread(
    settings: Settings,
    *,
    scope: tuple[str, ...],
    finding: Comment,
    code: str,
    thread: Sequence[Comment],
    question: str,
) -> Answer:
    nonce = fence_nonce(settings, *scope)
    layout = thread_layout(
        finding=finding.body, code=code, thread=thread, question=question, nonce=nonce
    )
    async with open_model(settings) as model:
        return await answer_question(
            model.llm, model.tokenizer, layout, context_tokens=model.context_tokens
        )
