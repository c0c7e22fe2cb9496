"""A review as CI reports it: counts by severity, the fail-on decision, workflow commands
(annotations), `$GITHUB_OUTPUT` lines, the job summary and GitLab's Code Quality report. Pure.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.domain import Severity
from bot.review.pipeline import ReviewResult

SEVERITIES: tuple[Severity, ...] = Severity.descending()
FailOn = Literal["none", "info", "minor", "major", "critical"]
FAIL_ON: tuple[FailOn, ...] = ("none", "info", "minor", "major", "critical")
# GitHub shows `error`, `warning` and `notice` annotations; SARIF levels map the same way.
_LEVEL = {"critical": "error", "major": "error", "minor": "warning", "info": "notice"}


@dataclass(frozen=True, slots=True)
class Delivery:
    """How the review reached the pull request: ``posted``, or why not (``reason``)."""

    posted: bool
    reason: str = ""
    review_url: str = ""


def counts(result: ReviewResult) -> dict[str, int]:
    """Findings by severity, those placed on a line and those that could not be placed."""
    found = {severity.value: 0 for severity in SEVERITIES}
    for placed in result.placed:
        found[placed.finding.severity.value] += 1
    for unplaced in result.unplaced:
        found[unplaced.finding.severity.value] += 1
    return found


def parse_fail_on(value: str) -> FailOn:
    """The `fail-on` input: a severity, or `none` (also for an empty input)."""
    text = value.strip().lower() or "none"
    for choice in FAIL_ON:
        if text == choice:
            return choice
    raise ValueError(f"fail-on must be one of {', '.join(FAIL_ON)}, not {value!r}")


def failing(found: Mapping[str, int], fail_on: FailOn) -> int:
    """How many findings are at or above ``fail_on`` (0 for `none`)."""
    if fail_on == "none":
        return 0
    threshold = Severity(fail_on).rank
    return sum(n for severity, n in found.items() if Severity(severity).rank >= threshold)


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as the Actions toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (file, title): data escaping plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(result: ReviewResult) -> list[str]:
    """One `::error|warning|notice file=...,line=...::` command per finding.

    GitHub shows at most 10 of each level per step on the pull request; SARIF holds them all.
    """
    lines = []
    for p in result.placed:
        f = p.finding
        props = (
            f"file={escape_property(p.anchor.path)},line={p.anchor.start_line},"
            f"endLine={p.anchor.end_line},"
            f"title={escape_property(f'[{f.severity.value}/{f.category.value}] {f.title}')}"
        )
        lines.append(f"::{_LEVEL[f.severity.value]} {props}::{escape_data(f.explanation)}")
    for u in result.unplaced:
        f = u.finding
        title = escape_property(f"[{f.severity.value}/{f.category.value}] {f.title}")
        message = escape_data(f"{f.explanation} (not placed on a line: {u.reason})")
        where = f"file={escape_property(u.path)},title={title}"
        lines.append(f"::{_LEVEL[f.severity.value]} {where}::{message}")
    return lines


def output_lines(values: Mapping[str, str]) -> str:
    """`$GITHUB_OUTPUT` text: `name=value`, or a heredoc with a random delimiter when the
    value has a newline (a value can never end the block early)."""
    out = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.append(f"{name}={value}\n")
    return "".join(out)


def outputs(found: Mapping[str, int], delivery: Delivery, *, failed: int) -> dict[str, str]:
    """The action's outputs: counts by severity, the total, and how the review went out."""
    return {
        **{severity: str(n) for severity, n in found.items()},
        "findings": str(sum(found.values())),
        "posted": "true" if delivery.posted else "false",
        "failing": str(failed),
    }


def summary(found: Mapping[str, int], delivery: Delivery, markdown: str) -> str:
    """The job summary (`$GITHUB_STEP_SUMMARY`): counts, where the review went, the findings."""
    row = " | ".join(str(found[s.value]) for s in SEVERITIES)
    lines = [
        "## Forge Assist review",
        "",
        "| critical | major | minor | info |",
        "| --- | --- | --- | --- |",
        f"| {row} |",
        "",
    ]
    if delivery.posted:
        link = f" ([review]({delivery.review_url}))" if delivery.review_url else ""
        lines.append(f"Posted on the pull request{link}.")
    else:
        lines.append(
            f"Not posted on the pull request: {delivery.reason}. "
            "The findings are in the annotations and the SARIF file."
        )
    lines.append("")
    # The summary comment's hidden marker would be noise here.
    lines += [line for line in markdown.splitlines() if not line.startswith("<!--")]
    return "\n".join(lines) + "\n"


def code_quality(result: ReviewResult) -> str:
    """GitLab's Code Quality report (`artifacts:reports:codequality`): a JSON array of issues
    in its subset of the Code Climate format; the merge request widget shows them."""
    issues = [
        {
            "description": p.finding.title,
            "check_name": f"forge-assist/{p.finding.category.value}",
            "fingerprint": p.fingerprint,
            "severity": p.finding.severity.value,
            "location": {
                "path": p.anchor.path,
                "lines": {"begin": p.anchor.start_line, "end": p.anchor.end_line},
            },
        }
        for p in result.placed
    ]
    return json.dumps(issues, indent=2) + "\n"
