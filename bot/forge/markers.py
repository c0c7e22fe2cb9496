"""Hidden markers that identify our comments so they are edited in place, never re-posted."""

from __future__ import annotations


def hidden_marker(name: str) -> str:
    """An HTML comment both forges render invisibly, e.g. ``<!-- forge-assist:summary -->``."""
    return f"<!-- forge-assist:{name} -->"


def with_marker(body: str, marker: str) -> str:
    return body if marker in body else f"{body}\n\n{marker}"


def quote_lines(body: str, *, limit: int = 3) -> str:
    """The first lines of a comment as a Markdown quote, hidden markers left out (so a reply
    is never mistaken for the comment it answers)."""
    lines = [line for line in body.splitlines() if not line.strip().startswith("<!--")]
    return "\n".join(f"> {line}" for line in lines[:limit] if line.strip())
