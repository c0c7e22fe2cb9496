"""A review result as text for a terminal, Markdown (the summary comment), JSON and SARIF."""

from __future__ import annotations

import json
from typing import Any

from bot.review.pipeline import ReviewResult
from bot.sanitize import code_span, inline

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
    for path, why in result.failed:
        out.append(f"{path}: NOT REVIEWED ({why})")
    usage = result.usage
    out.append(result.headline())
    out.append(
        f"{len(result.placed)} finding(s); {counts(result)}; "
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    )
    return "\n".join(out) + "\n"


def counts(result: ReviewResult) -> str:
    """Reviewed, skipped by policy and failed files, always all three."""
    return (
        f"{result.files_reviewed} file(s) reviewed, {len(result.skipped)} skipped by policy, "
        f"{len(result.failed)} failed"
    )


def verdict(result: ReviewResult) -> str:
    """The sentence above the findings: never "no problems" unless every file was reviewed."""
    if result.review_failed:
        return f"**The review failed.** {result.headline()}"
    if result.failed:
        return f"**Incomplete review.** {result.headline()}"
    if not result.reviewable:
        return "No file to review: every changed file was skipped by policy."
    return ""


def _cell(text: str) -> str:
    return inline(text, limit=300).replace("|", "\\|")


def _path(path: str) -> str:
    """A file path of the change (its author chose it) in a code span it cannot leave, in a
    table cell."""
    return code_span(path, limit=300).replace("|", "\\|")


def as_markdown(result: ReviewResult, *, title: str = "Forge Assist review") -> str:
    """The summary comment; found again and edited in place through its hidden marker."""
    out = [SUMMARY_MARKER, f"### {title}", ""]
    said = verdict(result)
    if said:
        out += [said, ""]
    if result.placed:
        out += ["| severity | where | finding |", "| --- | --- | --- |"]
        for p in result.placed:
            where = f"{_path(p.anchor.path)} {_lines(p.anchor.start_line, p.anchor.end_line)}"
            out.append(f"| {p.finding.severity.value} | {where} | {_cell(p.finding.title)} |")
    elif result.complete and result.reviewable:
        out.append(f"No problems found: all {result.reviewable} reviewable file(s) reviewed.")
    if result.unplaced:
        out += [
            "",
            f"<details><summary>Findings not placed on a line ({len(result.unplaced)})</summary>",
            "",
        ]
        for u in result.unplaced:
            out.append(
                f"- {code_span(u.path, limit=300)} [{u.finding.severity.value}] "
                f"{_cell(u.finding.title)}: {_cell(u.finding.explanation)} _({u.reason})_"
            )
        out += ["", "</details>"]
    if result.failed:
        out += ["", f"Files the model did not review ({len(result.failed)}):", ""]
        out += [f"- {code_span(path, limit=300)}: {_cell(why)}" for path, why in result.failed]
    if result.skipped:
        out += [
            "",
            f"<details><summary>Files skipped by policy ({len(result.skipped)})</summary>",
            "",
        ]
        out += [f"- {code_span(path, limit=300)}: {_cell(why)}" for path, why in result.skipped]
        out += ["", "</details>"]
    usage = result.usage
    out += [
        "",
        f"<sub>{counts(result)} · {usage.prompt_tokens} prompt "
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
        "failed": [{"path": path, "reason": why} for path, why in result.failed],
        "files_reviewed": result.files_reviewed,
        "review_failed": result.review_failed,
        "summary": result.headline(),
        "usage": result.usage.as_dict(),
    }
    return json.dumps(data, indent=2) + "\n"


def as_sarif(result: ReviewResult) -> str:
    """SARIF 2.1.0 for code scanning: one result per placed finding."""
    rules = sorted({p.finding.category.value for p in result.placed})
    run = {
        "invocations": [
            {
                "executionSuccessful": not result.review_failed,
                "toolExecutionNotifications": [
                    {
                        "level": "error",
                        "message": {"text": f"not reviewed: {why}"},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": path}}}],
                    }
                    for path, why in result.failed
                ],
            }
        ],
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
