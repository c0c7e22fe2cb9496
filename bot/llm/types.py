"""Value types of the model client: messages, completions, usage, stream events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "other"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str

    def as_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Usage:
    """What model calls cost. Adds up with ``+``; ``Usage()`` is zero.

    ``latency_s`` is the sum of the calls' wall times (retries and backoff included);
    ``cached_prompt_tokens`` is what the server reported as served from its prefix cache
    (vLLM with ``--enable-prompt-tokens-details``; 0 when not reported).
    """

    requests: int = 0
    retries: int = 0
    repairs: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    latency_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{
                field.name: getattr(self, field.name) + getattr(other, field.name)
                for field in dataclasses.fields(self)
            }
        )

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_hit_rate(self) -> float:
        """Share of prompt tokens served from the prefix cache (0.0 without prompt tokens)."""
        return self.cached_prompt_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def as_dict(self) -> dict[str, int | float]:
        """A plain dict for the job record (JSON column)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Completion:
    """One chat completion: the text, why it stopped, and what this call cost."""

    text: str
    finish_reason: FinishReason
    model: str
    replica: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Structured(Generic[M]):
    """A validated structured answer; ``repaired`` when the repair attempt produced it."""

    value: M
    completion: Completion
    repaired: bool


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamDone:
    """The end of a stream: the whole completion, usage included."""

    completion: Completion


StreamEvent = TextDelta | StreamDone
