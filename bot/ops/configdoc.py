"""Render the Settings reference from the model itself (`assist config docs`)."""

from __future__ import annotations

import json

from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from bot.settings import Settings


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None or value == []:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return json.dumps(value) if isinstance(value, bool | int | float) else str(value)


def settings_markdown() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        var = f"ASSIST_{name.upper()}"
        default = _default(name).replace("|", "\\|")
        rows.append(f"| `{var}` | `{default}` | {field.description or ''} |")
    return "\n".join(rows) + "\n"


BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def splice(document: str) -> str:
    """``document`` with the generated table between the settings markers."""
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"no {BEGIN} marker in the document")
    return f"{head}{BEGIN}\n{settings_markdown()}{END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1])
    target.write_text(splice(target.read_text()))
