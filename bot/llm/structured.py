"""Structured output: the JSON schema goes out with the request, the reply is validated. Pure.

vLLM (0.32) takes the OpenAI form ``response_format={"type": "json_schema", "json_schema":
{"name", "schema", "strict"}}`` and enforces it with its structured-output backend (xgrammar by
default), as do llama.cpp's server and Ollama. The schema is also stated in the system message,
which helps servers that only honour it loosely. The reply is parsed by pydantic
(``model_validate_json``): nothing is scraped out of free text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.llm import prompts
from bot.llm.types import M, Message

_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")


def schema_of(output: type[BaseModel]) -> dict[str, Any]:
    return output.model_json_schema()


def response_format(
    output: type[BaseModel], schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``schema``: a sized variant of ``output``'s schema (``bot.llm.budget``) to send instead."""
    name = _NAME_RE.sub("_", output.__name__)[:64] or "answer"
    sent = dict(schema) if schema is not None else schema_of(output)
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": sent, "strict": True},
    }


def with_schema(
    messages: Sequence[Message],
    output: type[BaseModel],
    schema: Mapping[str, Any] | None = None,
) -> list[Message]:
    """The messages with the answer format appended to the system message (added if absent).

    The schema is the same for every call of one kind, so the system message stays a stable
    prefix for vLLM's prefix cache.
    """
    stated = schema if schema is not None else schema_of(output)
    note = prompts.json_answer(json.dumps(stated_schema(stated), separators=(",", ":")))
    result = list(messages)
    if result and result[0].role == "system":
        result[0] = Message("system", f"{result[0].content}\n\n{note}")
    else:
        result.insert(0, Message("system", note))
    return result


def stated_schema(node: Any) -> Any:
    """``node`` without pydantic's ``title`` annotations (the property names say the same):
    tokens saved in every prompt that states its schema. Properties named ``title`` stay."""
    if isinstance(node, list):
        return [stated_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, Mapping):
            out[key] = {name: stated_schema(sub) for name, sub in value.items()}
        else:
            out[key] = stated_schema(value)
    return out


def parse(text: str, output: type[M]) -> M | str:
    """The validated answer, or a short description of what is wrong with ``text``."""
    try:
        return output.model_validate_json(text)
    except ValidationError as error:
        return _describe(error)


def _describe(error: ValidationError, *, limit: int = 8) -> str:
    lines = []
    for item in error.errors(include_url=False)[:limit]:
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"- {where}: {item['msg']}")
    if error.error_count() > limit:
        lines.append(f"- ... and {error.error_count() - limit} more")
    return "\n".join(lines)


def repair_messages(messages: Sequence[Message], bad_reply: str, problems: str) -> list[Message]:
    """The conversation for the one repair attempt: the bad answer and what is wrong with it."""
    return [
        *messages,
        Message("assistant", bad_reply),
        Message("user", prompts.json_repair(problems)),
    ]
