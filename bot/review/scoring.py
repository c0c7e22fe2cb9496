"""The second pass: the model scores each placed finding; low-confidence ones are dropped.

One call per review over all candidates (the findings of every file), so its cost is one
request. A failed or partial answer never loses a finding: unscored findings are kept, and the
result says how many were scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.llm import LLM, ModelOutputError, PromptLayout, PromptTooLongError, Section, Tokenizer, fit
from bot.llm.prompts import load
from bot.review.findings import Finding

MAX_CANDIDATES = 60


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    index: Annotated[int, Field(ge=0, le=MAX_CANDIDATES)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]


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
    """Confidence per candidate (None for those the model did not score)."""
    todo = list(candidates[:MAX_CANDIDATES])
    none: tuple[float | None, ...] = tuple(None for _ in candidates)
    if not todo:
        return Scored(none)
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
            reserve_tokens=answer_tokens,
            answer=ScoresAnswer,
        )
        answer = await llm.complete_json(fitted.messages(), ScoresAnswer, max_tokens=answer_tokens)
    except PromptTooLongError:
        return Scored(none, "the candidates did not fit the model's context")
    except ModelOutputError:
        return Scored(none, "the model's scores did not follow the schema")
    found: dict[int, float] = {}
    for s in answer.value.scores:
        if s.index < len(todo):
            found.setdefault(s.index, s.confidence)
    return Scored(tuple(found.get(i) for i in range(len(candidates))))
