"""A review result as text for a terminal, Markdown (the summary comment), JSON and SARIF."""

from __future__ import annotations

import json
from typing import Any

from bot.review.pipeline import ReviewResult
from bot.sanitize import inline

SUMMARY_MARKER = "<!-- forge-assist:summary -->"
_SARIF_LEVEL = {"critical": "error", "major": "error", "minor": "warning", "info": "note"}


def _lines(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def as_text(result: ReviewResult) -> str:
    out = []
    for p in result.placed:
        f = p.finding
        out.append(
            f"{p.anchor.path}:{_lines(p.anchor.start_line, p.anchor.end_line)}: "
            f"[{f.severity.value}/{f.category.value}] {f.title}\n    {f.explanation}"
        )
    for u in result.unplaced:
        out.append(
            f"{u.path}: [{u.finding.severity.value}] {u.finding.title} (not placed: {u.reason})"
        )
    for path, why in result.skipped:
        out.append(f"{path}: skipped ({why})")
    usage = result.usage
    out.append(
        f"{len(result.placed)} finding(s) in {result.files_reviewed} file(s); "
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    )
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return inline(text, limit=300).replace("|", "\\|")


def as_markdown(result: ReviewResult, *, title: str = "Forge Assist review") -> str:
    """The summary comment; found again and edited in place through its hidden marker."""
    out = [SUMMARY_MARKER, f"### {title}", ""]
    if result.placed:
        out += ["| severity | where | finding |", "| --- | --- | --- |"]
        for p in result.placed:
            where = f"`{p.anchor.path}` {_lines(p.anchor.start_line, p.anchor.end_line)}"
            out.append(f"| {p.finding.severity.value} | {where} | {_cell(p.finding.title)} |")
    else:
        out.append("No problems found in the reviewed files.")
    if result.unplaced:
        out += [
            "",
            f"<details><summary>Findings not placed on a line ({len(result.unplaced)})</summary>",
            "",
        ]
        for u in result.unplaced:
            out.append(
                f"- `{u.path}` [{u.finding.severity.value}] {_cell(u.finding.title)}: "
                f"{_cell(u.finding.explanation)} _({u.reason})_"
            )
        out += ["", "</details>"]
    if result.skipped:
        out += ["", f"<details><summary>Files not reviewed ({len(result.skipped)})</summary>", ""]
        out += [f"- `{path}`: {why}" for path, why in result.skipped]
        out += ["", "</details>"]
    usage = result.usage
    out += [
        "",
        f"<sub>{result.files_reviewed} file(s) reviewed · {usage.prompt_tokens} prompt "
        f"+ {usage.completion_tokens} completion tokens · {usage.requests} request(s)</sub>",
    ]
    return "\n".join(out) + "\n"


def as_json(result: ReviewResult) -> str:
    data: dict[str, Any] = {
        "findings": [
            {
                **p.finding.model_dump(mode="json"),
                "path": p.anchor.path,
                "start_line": p.anchor.start_line,
                "end_line": p.anchor.end_line,
                "fingerprint": p.fingerprint,
            }
            for p in result.placed
        ],
        "unplaced": [
            {**u.finding.model_dump(mode="json"), "path": u.path, "reason": u.reason}
            for u in result.unplaced
        ],
        "skipped": [{"path": path, "reason": why} for path, why in result.skipped],
        "files_reviewed": result.files_reviewed,
        "usage": result.usage.as_dict(),
    }
    return json.dumps(data, indent=2) + "\n"


def as_sarif(result: ReviewResult) -> str:
    """SARIF 2.1.0 for code scanning: one result per placed finding."""
    rules = sorted({p.finding.category.value for p in result.placed})
    run = {
        "tool": {
            "driver": {
                "name": "forge-assist",
                "informationUri": "https://github.com/forge-assist",
                "rules": [{"id": rule, "name": rule} for rule in rules],
            }
        },
        "results": [
            {
                "ruleId": p.finding.category.value,
                "level": _SARIF_LEVEL[p.finding.severity.value],
                "message": {"text": f"{p.finding.title}\n\n{p.finding.explanation}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": p.anchor.path},
                            "region": {
                                "startLine": p.anchor.start_line,
                                "endLine": p.anchor.end_line,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"forgeAssist/v1": p.fingerprint},
            }
            for p in result.placed
        ],
    }
    return (
        json.dumps(
            {
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": [run],
            },
            indent=2,
        )
        + "\n"
    )


RENDERERS = {"text": as_text, "markdown": as_markdown, "json": as_json, "sarif": as_sarif}
