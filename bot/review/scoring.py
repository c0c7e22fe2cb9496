"""The second pass: the model scores each placed finding; low-confidence ones are dropped.

One call per review over all candidates (the findings of every file), so its cost is one
request. A failed or partial answer never loses a finding: unscored findings are kept, and the
result says how many were scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from bot.llm import (
    LLM,
    AnswerCutOffError,
    ModelOutputError,
    PromptLayout,
    PromptTooLongError,
    SchemaSizer,
    Section,
    Tokenizer,
    fit,
    sizer_for,
)
from bot.llm.prompts import load
from bot.review.findings import Finding

MAX_CANDIDATES = 60


# A float's digits are unbounded, so the schema sent offers tenths (the answer is still
# validated as any number in [0, 1]).
CONFIDENCE_STEPS = [i / 10 for i in range(11)]


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Annotated[int, Field(ge=0, le=MAX_CANDIDATES)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0), WithJsonSchema({"enum": CONFIDENCE_STEPS})]


class ScoresAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scores: Annotated[list[Score], Field(max_length=MAX_CANDIDATES + 1)]


@dataclass(frozen=True, slots=True)
class Candidate:
    finding: Finding
    path: str
    code: str  # the anchored lines with some context, numbered


@dataclass(frozen=True, slots=True)
class Scored:
    confidences: tuple[float | None, ...]  # per candidate; None: not scored
    failure: str = ""


def _render(candidates: Sequence[Candidate]) -> str:
    blocks = []
    for i, c in enumerate(candidates):
        f = c.finding
        blocks.append(
            f"## candidate {i}\nfile: {c.path}\nseverity: {f.severity.value}; "
            f"category: {f.category.value}\ntitle: {f.title}\nexplanation: {f.explanation}\n"
            f"code:\n{c.code}"
        )
    return "\n\n".join(blocks)


async def score(
    llm: LLM,
    tokenizer: Tokenizer,
    candidates: Sequence[Candidate],
    *,
    nonce: str,
    context_tokens: int,
    answer_tokens: int = 512,
) -> Scored:
    """Confidence per candidate (None for those the model did not score).

    The schema sent allows exactly one score per candidate scored; the candidates scored are
    as many as fit ``answer_tokens`` with the longest answer (``score_schema``).
    """
    none: tuple[float | None, ...] = tuple(None for _ in candidates)
    if not candidates:
        return Scored(none)
    count, schema, max_tokens = await score_schema(
        sizer_for(tokenizer), min(len(candidates), MAX_CANDIDATES), answer_tokens
    )
    todo = list(candidates[:count])
    layout = PromptLayout(
        instructions=load("score.md"),
        specific=(Section("Candidate findings", _render(todo), kind="findings", trimmable=False),),
        nonce=nonce,
    )
    try:
        fitted = await fit(
            layout,
            tokenizer,
            context_tokens=context_tokens,
            reserve_tokens=max_tokens,
            answer=ScoresAnswer,
            schema=schema,
        )
        answer = await llm.complete_json(
            fitted.messages(), ScoresAnswer, max_tokens=max_tokens, schema=schema
        )
    except PromptTooLongError:
        return Scored(none, "the candidates did not fit the model's context")
    except AnswerCutOffError as error:
        return Scored(none, f"the model's scores were cut at {error.tokens} tokens")
    except ModelOutputError:
        return Scored(none, "the model's scores did not follow the schema")
    found: dict[int, float] = {}
    for s in answer.value.scores:
        if s.index < len(todo):
            found.setdefault(s.index, s.confidence)
    note = "" if count == len(candidates) else f"scored {count} of {len(candidates)} findings"
    return Scored(tuple(found.get(i) for i in range(len(candidates))), note)


async def score_schema(
    sizer: SchemaSizer, count: int, answer_tokens: int
) -> tuple[int, dict[str, Any], int]:
    """(candidates to score, the schema for their scores, max_tokens): as many candidates as
    the longest answer for them fits ``answer_tokens``; max_tokens is that longest answer.

    The longest answer grows by the same number of tokens per score, so two measurements
    give the count, which is then checked (and lowered if merges made it larger)."""

    async def worst(n: int) -> tuple[dict[str, Any], int]:
        schema = _with_count(n)
        return schema, await sizer.worst_case_tokens(schema)

    _, one = await worst(1)
    _, two = await worst(2)
    step = max(1, two - one)
    n = max(1, min(count, 1 + (answer_tokens - one) // step))
    schema, tokens = await worst(n)
    while tokens > answer_tokens and n > 1:
        n -= 1
        schema, tokens = await worst(n)
    return n, schema, tokens


def _with_count(n: int) -> dict[str, Any]:
    schema = ScoresAnswer.model_json_schema()
    schema["properties"]["scores"]["maxItems"] = n
    return schema
