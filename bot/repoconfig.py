"""Per-repository configuration: `.assist.toml`, read from the DEFAULT branch only, so a pull
request cannot change how it is reviewed. Pure: text in, a frozen value out."""

from __future__ import annotations

import tomllib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain import Severity

CONFIG_PATH = ".assist.toml"
MAX_CONFIG_BYTES = 64 * 1024


class RepoConfigError(ValueError):
    """The repository's `.assist.toml` is invalid; the message says where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewConfig(_Section):
    enabled: bool = True
    ignore: tuple[str, ...] = Field(default=(), description="gitignore-style globs to skip")
    languages: tuple[str, ...] = Field(default=(), description="only these languages, if set")
    max_comments: Annotated[int, Field(ge=0, le=200)] = 20
    min_severity: str = Field(default="minor", pattern="(?i)^(info|minor|major|critical)$")
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    instructions: Annotated[str, Field(max_length=4000)] = ""
    review_drafts: bool = False


class FixConfig(_Section):
    enabled: bool = True
    test_command: Annotated[str, Field(max_length=500)] = ""
    run_tests: bool = False  # the repository's own code runs only when this says so
    test_timeout_s: Annotated[int, Field(gt=0, le=3600)] = 600
    allow_workflow_edits: bool = False
    push_partial_branch: bool = False
    candidates: Annotated[int, Field(ge=1, le=5)] = 2


class RepoConfig(_Section):
    review: ReviewConfig = ReviewConfig()
    fix: FixConfig = FixConfig()

    @property
    def min_severity(self) -> Severity:
        return Severity.parse(self.review.min_severity)


def parse_repo_config(text: str | bytes | None) -> RepoConfig:
    """The config in ``text`` (None: the file is absent, so defaults)."""
    if text is None:
        return RepoConfig()
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_CONFIG_BYTES:
        raise RepoConfigError(f"{CONFIG_PATH} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RepoConfigError(f"{CONFIG_PATH} is not valid TOML: {exc}") from exc
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise RepoConfigError(f"{CONFIG_PATH}: {problems}") from exc
