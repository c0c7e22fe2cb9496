"""The text of what a review posts: inline comments and the summary comment. Pure.

Every inline comment carries a hidden marker with its finding's fingerprint, so a retried or
repeated review recognises what is already on the forge even when the database missed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.domain import ForgeKind, Severity
from bot.forge.markers import hidden_marker
from bot.forge.types import Comment
from bot.review.memory import Remembered
from bot.review.pipeline import PlacedFinding, ReviewResult
from bot.review.render import SUMMARY_MARKER, counts, verdict
from bot.review.suggest import SuggestionKind, plain_diff
from bot.sanitize import inline, marker_free, untrusted

_SEVERITIES = frozenset(Severity)
_FINDING_MARKER = re.compile(r"<!-- forge-assist:finding:([0-9a-f]{16,64}) -->")


def finding_marker(fingerprint: str) -> str:
    return hidden_marker(f"finding:{fingerprint}")


_HEADLINE = re.compile(r"^\*\*(?P<title>.+?)\*\* · _(?P<severity>\w+) (?P<category>[\w-]+)_", re.M)


def posted_finding(comment: Comment) -> Remembered | None:
    """An earlier finding as its inline comment on the forge shows it (for runs without a
    database, e.g. the Action): fingerprint from the marker, the rest from the headline."""
    fingerprints = marked_fingerprints([comment.body])
    if len(fingerprints) != 1 or comment.path is None:
        return None
    head = _HEADLINE.search(comment.body)
    return Remembered(
        fingerprint=next(iter(fingerprints)),
        path=comment.path,
        line=comment.line or 0,
        start_line=None,
        severity=head.group("severity") if head else "info",
        category=head.group("category") if head else "",
        title=head.group("title") if head else "",
        quoted_code="",  # unknown: such a finding is never called outdated on this evidence
        head_sha="",
        comment_id=comment.id,
        status="posted",
    )


def marked_fingerprints(bodies: Iterable[str]) -> frozenset[str]:
    """The fingerprints in our earlier comments' hidden markers."""
    return frozenset(m.group(1) for body in bodies for m in _FINDING_MARKER.finditer(body))


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest = max((len(m.group(0)) for m in re.finditer(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _quoted_source(placed: PlacedFinding) -> str:
    return placed.original or placed.finding.quoted_code


def inline_body(placed: PlacedFinding, forge: ForgeKind) -> str:
    """One inline comment: headline, explanation, the suggestion (committable only when it
    parses), and the hidden marker."""
    f = placed.finding
    parts = [
        f"**{inline(f.title, limit=200)}** · _{f.severity.value} {f.category.value}_",
        "",
        untrusted(f.explanation).strip(),
    ]
    if f.replacement is not None:
        replacement = marker_free(f.replacement.rstrip("\n"))
        if placed.suggestion is SuggestionKind.COMMITTABLE:
            fence = _fence(replacement)
            span = placed.anchor.end_line - placed.anchor.start_line
            # GitHub replaces start_line..line; GitLab counts lines above the commented one.
            tag = "suggestion" if forge == "github" else f"suggestion:-{span}+0"
            parts += ["", f"{fence}{tag}", replacement, fence]
        else:
            diff = marker_free(plain_diff(_quoted_source(placed), replacement))
            fence = _fence(diff)
            parts += ["", "Possible change (not offered as a suggestion: unchecked):", ""]
            parts += [f"{fence}diff", diff.rstrip("\n"), fence]
    if placed.confidence is not None:
        parts += ["", f"<sub>Forge Assist · confidence {placed.confidence:.2f}</sub>"]
    parts += ["", finding_marker(placed.fingerprint)]
    return "\n".join(parts)


def _cell(text: str) -> str:
    return inline(text, limit=200).replace("|", "\\|")


def _where(path: str, start: int | None, end: int) -> str:
    lines = str(end) if start is None or start == end else f"{start}-{end}"
    return f"`{_cell(path)}` {lines}"


def summary_body(
    result: ReviewResult,
    *,
    head_sha: str,
    posted: Sequence[PlacedFinding],
    refused: Sequence[PlacedFinding],
    earlier: Sequence[Remembered],
    outdated: Sequence[Remembered],
    unchanged: Sequence[str],
    incremental_from: str | None,
) -> str:
    """The summary comment, edited in place: walkthrough, findings, what was not reviewed."""
    out = [SUMMARY_MARKER, "### Forge Assist review", ""]
    scope = (
        f"Reviewed the changes since `{incremental_from[:12]}` up to `{head_sha[:12]}`"
        if incremental_from
        else f"Reviewed `{head_sha[:12]}`"
    )
    out.append(
        f"{scope}: {result.files_reviewed} of {result.reviewable} file(s), "
        f"{len(posted)} new comment(s)"
        + (f", {len(earlier)} earlier finding(s) still open" if earlier else "")
        + "."
    )
    said = verdict(result)
    if said:
        out += ["", said]
    rows: list[tuple[str, str, int | None, int, str, str]] = [
        (
            p.finding.severity.value,
            p.anchor.path,
            p.anchor.start_line,
            p.anchor.end_line,
            p.finding.title,
            "new",
        )
        for p in posted
    ]
    rows += [
        (
            p.finding.severity.value,
            p.anchor.path,
            p.anchor.start_line,
            p.anchor.end_line,
            p.finding.title,
            "in this summary only",
        )
        for p in refused
    ]
    rows += [(r.severity, r.path, r.start_line, r.line, r.title, "earlier") for r in earlier]
    if rows:
        rows.sort(key=lambda r: (-Severity(r[0]).rank if r[0] in _SEVERITIES else 9, r[1], r[3]))
        out += ["", "| severity | where | finding | |", "| --- | --- | --- | --- |"]
        out += [f"| {s} | {_where(p, a, b)} | {_cell(t)} | {k} |" for s, p, a, b, t, k in rows]
    elif result.complete and (result.reviewable or unchanged):
        out += ["", "No problems found."]
    if refused:
        out += ["", "The forge refused an inline comment on these lines; they are listed above:"]
        for p in refused:
            out.append(
                f"- {_where(p.anchor.path, p.anchor.start_line, p.anchor.end_line)}: "
                f"{_cell(p.finding.explanation)}"
            )
    if outdated:
        out += [
            "",
            f"<details><summary>Outdated: the code of {len(outdated)} earlier "
            f"finding(s) is gone</summary>",
            "",
        ]
        out += [f"- {_where(r.path, r.start_line, r.line)} {_cell(r.title)}" for r in outdated]
        out += ["", "</details>"]
    if result.unplaced:
        out += [
            "",
            f"<details><summary>Findings not placed on a line ({len(result.unplaced)})</summary>",
            "",
        ]
        out += [
            f"- `{_cell(u.path)}` [{u.finding.severity.value}] {_cell(u.finding.title)}: "
            f"{_cell(u.finding.explanation)} _({u.reason})_"
            for u in result.unplaced
        ]
        out += ["", "</details>"]
    if result.failed:
        out += ["", f"Files the model did not review ({len(result.failed)}):", ""]
        out += [f"- `{_cell(p)}`: {_cell(why)}" for p, why in result.failed]
    not_reviewed = [(p, why) for p, why in result.skipped if p not in unchanged]
    if not_reviewed:
        out += [
            "",
            f"<details><summary>Files skipped by policy ({len(not_reviewed)})</summary>",
            "",
        ]
        out += [f"- `{_cell(p)}`: {_cell(why)}" for p, why in not_reviewed]
        out += ["", "</details>"]
    if unchanged:
        out += [
            "",
            f"<sub>{len(unchanged)} file(s) unchanged since the last review were not "
            "reviewed again.</sub>",
        ]
    notes = [counts(result)]
    if result.dropped_low_confidence:
        notes.append(f"{result.dropped_low_confidence} low-confidence finding(s) dropped")
    if result.scoring_note:
        notes.append(f"second pass: {result.scoring_note}")
    usage = result.usage
    notes.append(
        f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens in "
        f"{usage.requests} request(s)"
    )
    out += ["", "<sub>" + " · ".join(notes) + "</sub>"]
    return "\n".join(out) + "\n"
