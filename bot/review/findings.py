"""What the model answers (a JSON schema it must follow) and how findings are remembered."""

from __future__ import annotations

import enum
import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import Severity
from bot.review.anchor import normalise

MAX_LINE = 1_000_000


class Category(enum.StrEnum):
    BUG = "bug"
    SECURITY = "security"
    PERFORMANCE = "performance"
    CONCURRENCY = "concurrency"
    ERROR_HANDLING = "error-handling"
    MAINTAINABILITY = "maintainability"
    TESTING = "testing"
    STYLE = "style"


class Finding(BaseModel):
    """One problem the model found, about code it quotes from the diff."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The string limits are the caps for the largest answer budget and, scaled down
    # together, the proportions of a smaller one (bot.llm.budget sizes the schema sent).
    file: Annotated[str, Field(max_length=200)]
    quoted_code: Annotated[
        str, Field(min_length=1, max_length=600, description="the exact line(s) from the diff")
    ]
    line: Annotated[int, Field(ge=0, le=MAX_LINE)] | None = Field(
        default=None, description="approximate new-side line number"
    )
    severity: Severity
    category: Category
    title: Annotated[str, Field(max_length=200)]
    explanation: Annotated[str, Field(max_length=800)]
    replacement: Annotated[str | None, Field(max_length=600)] = Field(
        default=None, description="code to replace the quoted lines with, if any"
    )


class FindingsAnswer(BaseModel):
    """The model's answer for one file or group of files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    findings: Annotated[list[Finding], Field(max_length=50)]


def fingerprint(file: str, quoted_code: str, category: Category) -> str:
    """Stable identity of a finding across commits: file, whitespace-normalised code, category.

    Line numbers are left out on purpose: code that moves keeps its fingerprint, so an update
    never reposts a finding that was already posted.
    """
    code = "\n".join(n for n in (normalise(line) for line in quoted_code.splitlines()) if n)
    return hashlib.sha256(f"{file}\x1f{code}\x1f{category.value}".encode()).hexdigest()[:32]
