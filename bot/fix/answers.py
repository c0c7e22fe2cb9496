"""What the model answers, as JSON schemas (sent with the request, validated on return)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.fix.edits import EditBlock
from bot.fix.paths import normalise
from bot.llm import Allowance


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FilePick(_Answer):
    path: Annotated[str, Field(max_length=400, description="a path from the candidates")]
    symbols: Annotated[
        list[Annotated[str, Field(max_length=200)]],
        Field(max_length=10, description="functions or classes in it to change or read"),
    ] = []
    reason: Annotated[str, Field(max_length=400)] = ""


class LocateAnswer(_Answer):
    """Which files (most likely first) and which of their functions the fix touches."""

    files: Annotated[list[FilePick], Field(max_length=8)]


class Edit(_Answer):
    path: Annotated[str, Field(max_length=200, description="repository-relative path")]
    search: Annotated[
        str,
        Field(
            max_length=2000,
            description="lines copied exactly from the file (empty to create a new file)",
        ),
    ]
    replace: Annotated[str, Field(max_length=3000, description="the lines that replace them")]

    def block(self) -> EditBlock:
        """The edit as a block; a harmless spelling of the path (``./a//b.py``) is made
        canonical, anything unsafe is left as written for the path policy to refuse."""
        path = self.path.strip()
        return EditBlock(normalise(path) or path, self.search, self.replace)


class EditAnswer(_Answer):
    """The plan in a few sentences, and the SEARCH/REPLACE edits that carry it out."""

    plan: Annotated[str, Field(max_length=600)]
    edits: Annotated[list[Edit], Field(max_length=24)]


# The schemas sent are sized to the answer budget (bot.llm.budget): the string limits above
# are the caps for a large budget and the proportions of a small one.


def locate_allowance(answer_tokens: int, max_files: int) -> Allowance:
    """The allowance of the file choice: ``max_files`` picks of up to two symbols each."""
    return Allowance(answer_tokens, {"files": max(1, max_files), "symbols": 2})


def edit_allowance(answer_tokens: int) -> Allowance:
    """The allowance of an edit answer: one edit per 768 tokens, at most 8."""
    return Allowance(answer_tokens, {"edits": max(1, min(8, answer_tokens // 768))})
