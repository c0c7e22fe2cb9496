"""Typed views of the payload fields we use; anything else in a payload is ignored."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.intake.errors import MalformedPayload


class PayloadModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


M = TypeVar("M", bound=PayloadModel)


def parse_payload(model: type[M], payload: dict[str, Any], event: str) -> M:
    """Validate ``payload`` as ``model``; a missing or mistyped field is a MalformedPayload."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
        raise MalformedPayload(f"{event} payload lacks or mistypes: {fields}") from exc
