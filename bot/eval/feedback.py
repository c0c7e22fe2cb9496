"""Feedback on findings as fine-tuning data (`assist export feedback --format sft|dpo`).

The interface is a *feedback row*: the exact chat messages a file's review was asked with, one
finding the model answered (the review schema's JSON), and its outcome (``accepted`` or
``rejected``). Rows come from a JSONL file (one row a line) or from a database table that has
the columns ``prompt`` (JSON list of messages), ``outcome`` and the finding's fields (see
:data:`FINDING_COLUMNS`); a table without them is refused, naming what is missing.

* ``sft``: one example per prompt: the prompt and, as the assistant's answer, the accepted
  findings only (``{"findings": []}`` when every finding of that prompt was rejected).
* ``dpo``: one pair per prompt that has a rejected finding: ``chosen`` answers the accepted
  findings, ``rejected`` answers every finding (the rejected ones included).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from bot.eval.cases import CaseError, iter_jsonl
from bot.review.findings import Finding

Outcome = Literal["accepted", "rejected"]
FINDING_COLUMNS = ("file", "quoted_code", "line", "severity", "category", "title", "explanation")
_TABLE_ALIASES = {"file": ("file", "path")}


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    prompt: tuple[tuple[str, str], ...]  # (role, content), in order
    finding: Finding
    outcome: Outcome


def _messages(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{where}: prompt is not JSON") from exc
    if not isinstance(value, list) or not value:
        raise CaseError(f"{where}: prompt must be a non-empty list of messages")
    out = []
    for m in value:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("system", "user", "assistant")
            or not isinstance(m.get("content"), str)
        ):
            raise CaseError(f"{where}: each message needs a role and a string content")
        out.append((str(m["role"]), str(m["content"])))
    return tuple(out)


def _row(value: Any, where: str) -> FeedbackRow:
    if not isinstance(value, dict):
        raise CaseError(f"{where}: a row is an object")
    outcome = value.get("outcome")
    if outcome not in ("accepted", "rejected"):
        raise CaseError(f"{where}: outcome must be accepted or rejected, not {outcome!r}")
    try:
        finding = Finding.model_validate(value.get("finding"))
    except ValidationError as exc:
        raise CaseError(f"{where}: the finding does not follow the schema: {exc}") from exc
    return FeedbackRow(_messages(value.get("prompt"), where), finding, outcome)


def rows_from_jsonl(path: Path) -> list[FeedbackRow]:
    return [_row(value, f"{path}:{n}") for n, value in iter_jsonl(path)]


def rows_from_table(url: str, table: str) -> list[FeedbackRow]:
    """Rows of a feedback table (the findings table: outcomes from the feedback harvest,
    prompts from the review since migration 0005). Rows with no outcome yet, or with no
    prompt (stored before 0005), are left out; missing columns are an error."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table):
            raise CaseError(f"no table {table!r} in the database")
        columns = {c["name"] for c in inspector.get_columns(table)}
        chosen = {
            field: next((c for c in _TABLE_ALIASES.get(field, (field,)) if c in columns), None)
            for field in FINDING_COLUMNS
        }
        missing = [f for f, c in chosen.items() if c is None and f not in ("line", "explanation")]
        missing += [c for c in ("prompt", "outcome") if c not in columns]
        if missing:
            raise CaseError(
                f"table {table!r} lacks the column(s) {', '.join(missing)}: it needs the "
                "feedback outcome and the exact prompt of each finding (docs/eval.md)"
            )
        meta = sa.MetaData()
        t = sa.Table(table, meta, autoload_with=engine)
        with engine.connect() as conn:
            records = conn.execute(
                sa.select(t)
                .where(t.c.outcome.in_(("accepted", "rejected")))
                .where(t.c.prompt.is_not(None))  # findings stored before prompts were kept
            )
            out: list[FeedbackRow] = []
            for i, r in enumerate(records.mappings()):
                finding = {f: r[c] for f, c in chosen.items() if c is not None and r[c] is not None}
                finding.setdefault("explanation", "")
                out.append(
                    _row(
                        {"prompt": r["prompt"], "finding": finding, "outcome": r["outcome"]},
                        f"{table} row {i}",
                    )
                )
            return out
    finally:
        engine.dispose()


def _key(prompt: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(prompt).encode()).hexdigest()


def _answer(findings: Iterable[Finding]) -> str:
    return json.dumps(
        {"findings": [f.model_dump(mode="json", exclude_none=True) for f in findings]}
    )


def _grouped(
    rows: Iterable[FeedbackRow],
) -> Iterator[tuple[tuple[tuple[str, str], ...], list[FeedbackRow]]]:
    groups: dict[str, list[FeedbackRow]] = {}
    for row in rows:
        groups.setdefault(_key(row.prompt), []).append(row)
    for group in groups.values():
        yield group[0].prompt, group


def _chat(prompt: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in prompt]


def to_sft(rows: Iterable[FeedbackRow]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for prompt, group in _grouped(rows):
        answer = _answer(r.finding for r in group if r.outcome == "accepted")
        out.append({"messages": [*_chat(prompt), {"role": "assistant", "content": answer}]})
    return out


def to_dpo(rows: Iterable[FeedbackRow]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for prompt, group in _grouped(rows):
        if all(r.outcome == "accepted" for r in group):
            continue
        chosen = _answer(r.finding for r in group if r.outcome == "accepted")
        out.append(
            {
                "prompt": _chat(prompt),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": _answer(r.finding for r in group)}],
            }
        )
    return out
