"""`/assist ask <question>`: an answer about a change from its diff and surrounding code."""

from __future__ import annotations

from dataclasses import dataclass

from bot.forge.protocol import Forge
from bot.forge.types import RepoRef
from bot.llm import (
    LLM,
    LLMConfig,
    OpenAIClient,
    PromptLayout,
    PromptTooLongError,
    Section,
    Tokenizer,
    Usage,
    derive_nonce,
    fit,
    new_nonce,
    tokenizer_for,
)
from bot.llm.prompts import load
from bot.review.context import ParseCache, file_context
from bot.review.diff import DiffError, parse_diff
from bot.review.prompt import numbered_diff
from bot.review.service import change_sources, read_config
from bot.sanitize import untrusted
from bot.settings import Settings

MAX_ANSWER_CHARS = 6000


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    usage: Usage
    trimmed: bool


def ask_layout(
    *, question: str, title: str, body: str, diffs: str, context: str, nonce: str
) -> PromptLayout:
    """The question and the change are untrusted data; only the instructions are ours."""
    return PromptLayout(
        instructions=load("ask.md"),
        shared=(Section("Pull request", f"{title}\n\n{body}".strip(), kind="pull-request"),),
        specific=(
            Section("Diff", diffs, kind="diff", min_tokens=128),
            Section("Code around the change", context, kind="code"),
            Section("Question", question, kind="question", trimmable=False),
        ),
        nonce=nonce,
    )


async def answer_question(
    llm: LLM,
    tokenizer: Tokenizer,
    layout: PromptLayout,
    *,
    context_tokens: int,
    answer_tokens: int = 700,
) -> Answer:
    try:
        fitted = await fit(
            layout, tokenizer, context_tokens=context_tokens, reserve_tokens=answer_tokens
        )
    except PromptTooLongError:
        return Answer("The question is too long for the model's context.", llm.usage, True)
    completion = await llm.complete(fitted.messages(), max_tokens=answer_tokens)
    # The model read untrusted text (the change, the thread): what it says is posted inert
    # (no mention, reference, HTML, marker or committable suggestion; fences balanced).
    text = untrusted(completion.text.strip()[:MAX_ANSWER_CHARS]).strip()
    text = text or "The model gave no answer."
    if completion.finish_reason == "length":  # a free-text answer: say where it stops
        tokens = completion.usage.completion_tokens or answer_tokens
        text += f"\n\n_(The model's answer was cut at {tokens} tokens.)_"
    return Answer(text, llm.usage, fitted != layout)


async def ask_change(
    settings: Settings,
    forge: Forge,
    repo: RepoRef,
    number: int,
    question: str,
    *,
    default_branch: str | None = None,
) -> Answer:
    change = forge.get_change(repo, number)
    config, _error = read_config(forge, repo, default_branch or change.base_ref)
    diff = forge.get_diff(repo, number)
    try:
        files = parse_diff(diff.unified)
    except DiffError:
        files = ()
    sources = change_sources(forge, change, files, config)
    diffs = "\n\n".join(numbered_diff(f) for f in files)
    cache = ParseCache(sources)  # each source parsed once for the whole question
    context = "\n\n".join(text for f in files if (text := file_context(f, sources, cache=cache)))
    llm_config = LLMConfig.from_settings(settings)
    key = settings.llm_fence_key
    scope = (repo.forge, repo.path, str(number), "ask")
    nonce = derive_nonce(key.get_secret_value().encode(), *scope) if key else new_nonce()
    layout = ask_layout(
        question=question,
        title=change.title,
        body=change.body,
        diffs=diffs,
        context=context,
        nonce=nonce,
    )
    async with OpenAIClient(llm_config) as client:
        return await answer_question(
            client,
            tokenizer_for(llm_config, client),
            layout,
            context_tokens=settings.llm_context_tokens,
        )
