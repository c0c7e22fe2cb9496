"""Review a pull/merge request on its forge and post the result: the job, the Action and the
CLI share this.

Steps: read the change and its diff, the repository config from the default branch, the memory
of earlier reviews (database and the hidden markers of our comments on the forge); review the
files whose patch changed since the last review; post one review with every new inline comment
and edit the summary comment in place. Posting is idempotent: a retried run finds its earlier
comments by their markers and never posts a finding twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain import RepoRef
from bot.forge.errors import ForgeError, NotFound, PermissionDenied
from bot.forge.protocol import Forge
from bot.forge.types import (
    ChangeRequest,
    CommitStatus,
    PostedReview,
    Review,
    ReviewComment,
    StatusState,
)
from bot.repoconfig import CONFIG_PATH, RepoConfig, RepoConfigError, parse_repo_config
from bot.review.anchor import Unplaced, place
from bot.review.comments import (
    finding_marker,
    inline_body,
    marked_fingerprints,
    posted_finding,
    summary_body,
)
from bot.review.context import source_text
from bot.review.diff import DiffError, FileDiff, FileStatus, LineKind, parse_diff
from bot.review.filters import skip_reason
from bot.review.guidance import Guidance
from bot.review.memory import ChangeKey, FindingMemory, Remembered, prompt_json
from bot.review.pipeline import PlacedFinding, ReviewInput, ReviewResult
from bot.review.render import SUMMARY_MARKER
from bot.review.run import run_review
from bot.settings import Settings

log = logging.getLogger(__name__)

STATUS_CONTEXT = "forge-assist/review"
MAX_SOURCES = 60
_FINDING_MARKER_PREFIX = "<!-- forge-assist:finding:"


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What one run did. ``status``: posted, dry-run, or skipped (``reason`` says why)."""

    status: str
    reason: str = ""
    head_sha: str = ""
    result: ReviewResult | None = None
    posted: tuple[PlacedFinding, ...] = ()
    refused: tuple[PlacedFinding, ...] = ()
    earlier: tuple[Remembered, ...] = ()
    outdated: tuple[Remembered, ...] = ()
    unchanged: tuple[str, ...] = ()
    summary_url: str = ""
    config_error: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)
    # (fingerprint, applied | changed | outdated): what became of earlier findings' code
    acted_on: tuple[tuple[str, str], ...] = ()

    def detail(self) -> dict[str, Any]:
        """Plain values for the job record."""
        usage = dataclasses.asdict(self.result.usage) if self.result else {}
        return {
            "status": self.status,
            "reason": self.reason,
            "head_sha": self.head_sha,
            "posted": len(self.posted),
            "refused": len(self.refused),
            "earlier_open": len(self.earlier),
            "outdated": len(self.outdated),
            "unchanged_files": len(self.unchanged),
            "files_reviewed": self.result.files_reviewed if self.result else 0,
            "unplaced": len(self.result.unplaced) if self.result else 0,
            "skipped_files": [list(s) for s in self.result.skipped[:50]] if self.result else [],
            "failed_files": [list(s) for s in self.result.failed[:50]] if self.result else [],
            "review_failed": self.result.review_failed if self.result else False,
            "summary": self.result.headline() if self.result else "",
            "dropped_low_confidence": self.result.dropped_low_confidence if self.result else 0,
            "dropped_learned": len(self.result.learned_drops) if self.result else 0,
            "acted_on": [list(a) for a in self.acted_on],
            "counts": dict(self.counts),
            "summary_url": self.summary_url,
            "config_error": self.config_error,
            "usage": usage,
        }


Related = Callable[[str, dict[str, str]], dict[str, str]]
"""(head sha, path -> query) -> path -> related code found elsewhere (the repository index)."""


def related_query(file: FileDiff, *, max_lines: int = 30) -> str:
    """What to search the index with for a changed file: its path and added lines."""
    added = [
        line.text.strip()
        for hunk in file.hunks
        for line in hunk.lines
        if line.kind is LineKind.ADDED and line.text.strip()
    ]
    return "\n".join([file.path, *added[:max_lines]])


def patch_sha(patch: str | None) -> str:
    return hashlib.sha256((patch or "").encode()).hexdigest()


def read_config(forge: Forge, repo: RepoRef, ref: str) -> tuple[RepoConfig, str]:
    """The repository config at ``ref`` (its default branch); an invalid file gives the
    defaults and the error, which the summary shows."""
    try:
        raw = forge.read_file(repo, CONFIG_PATH, ref=ref)
    except NotFound:
        return RepoConfig(), ""
    try:
        return parse_repo_config(raw), ""
    except RepoConfigError as exc:
        return RepoConfig(), str(exc)


def change_sources(
    forge: Forge, change: ChangeRequest, files: Sequence[FileDiff], config: RepoConfig
) -> dict[str, str]:
    """The new-side text of the files under review, for context and suggestion checks."""
    out: dict[str, str] = {}
    for file in files:
        if len(out) >= MAX_SOURCES:
            break
        if file.binary or file.status is FileStatus.DELETED or skip_reason(file, config):
            continue
        try:
            raw = forge.read_file(change.repo, file.path, ref=change.head_sha)
        except NotFound:
            continue
        text = source_text(raw)
        if text is not None:
            out[file.path] = text
    return out


def _split_memory(
    remembered: Mapping[str, Remembered], files: Mapping[str, FileDiff]
) -> tuple[list[Remembered], list[Remembered]]:
    """Earlier posted findings: those still in the diff, and those whose code is gone."""
    still: list[Remembered] = []
    gone: list[Remembered] = []
    for r in remembered.values():
        if r.status not in ("posted", "summary"):
            continue
        file = files.get(r.path)
        if file is not None and not r.quoted_code:  # known from the forge only
            still.append(r)
            continue
        anchor = place(file, r.quoted_code, r.line) if file is not None else None
        if anchor is None or isinstance(anchor, Unplaced) or not anchor.exact:
            gone.append(r)  # the quoted code is no longer in the diff as it was
        else:
            still.append(r)
    return still, gone


def _remembered(p: PlacedFinding, head_sha: str, comment_id: int | None, status: str) -> Remembered:
    f = p.finding
    start = p.anchor.start_line if p.anchor.start_line != p.anchor.end_line else None
    return Remembered(
        p.fingerprint,
        p.anchor.path,
        p.anchor.end_line,
        start,
        f.severity.value,
        f.category.value,
        f.title,
        f.quoted_code,
        head_sha,
        comment_id,
        status,
        f.replacement,
        prompt_json(p.prompt),
    )


def _squash(text: str) -> str:
    return " ".join(text.split())


def acted_on(
    forge: Forge, change: ChangeRequest, gone: Sequence[Remembered], sources: Mapping[str, str]
) -> list[tuple[str, str]]:
    """What became of the code of earlier findings that left the diff: ``applied`` (the
    suggested replacement is in the file now), ``outdated`` (the quoted code is still in the
    file, the diff moved) or ``changed`` (the code was changed: likely acted upon)."""
    out: list[tuple[str, str]] = []
    for r in gone:
        if not r.quoted_code:
            continue
        text = sources.get(r.path)
        if text is None:
            try:
                text = source_text(forge.read_file(change.repo, r.path, ref=change.head_sha))
            except NotFound:
                text = ""
        if text is None:  # binary or too large: no judgement
            continue
        now = _squash(text)
        replacement = _squash(r.replacement or "")
        if replacement and replacement in now and _squash(r.quoted_code) not in now:
            out.append((r.fingerprint, "applied"))
        elif _squash(r.quoted_code) in now:
            out.append((r.fingerprint, "outdated"))
        else:
            out.append((r.fingerprint, "changed"))
    return out


def _counts(placed: Sequence[PlacedFinding]) -> dict[str, int]:
    counts = {"critical": 0, "major": 0, "minor": 0, "info": 0}
    for p in placed:
        counts[p.finding.severity.value] += 1
    return counts


def _post(
    forge: Forge, change: ChangeRequest, placed: Sequence[PlacedFinding]
) -> tuple[list[PlacedFinding], dict[str, int | None], list[PlacedFinding]]:
    """Post one review; returns (posted, fingerprint -> comment id, refused)."""
    if not placed:
        return [], {}, []
    comments = tuple(
        ReviewComment(
            path=p.anchor.path,
            line=p.anchor.end_line,
            start_line=p.anchor.start_line if p.anchor.start_line < p.anchor.end_line else None,
            body=inline_body(p, forge.kind),
        )
        for p in placed
    )
    count = len(comments)
    body = f"Forge Assist: {count} comment{'s' if count != 1 else ''}; the summary lists them all."
    answer: PostedReview = forge.post_review(change, Review(body=body, comments=comments))
    ids: dict[str, int | None] = {}
    for comment in answer.posted:
        for fp in marked_fingerprints([comment.body]):
            ids[fp] = comment.id
    refused_markers = {c.body for c in answer.rejected}
    refused = [p for p, c in zip(placed, comments, strict=True) if c.body in refused_markers]
    refused_fps = {p.fingerprint for p in refused}
    posted = [p for p in placed if p.fingerprint not in refused_fps]
    return posted, ids, refused


async def review_change(
    settings: Settings,
    forge: Forge,
    repo: RepoRef,
    number: int,
    *,
    memory: FindingMemory,
    default_branch: str | None = None,
    incremental: bool = True,
    include_drafts: bool = False,
    post: bool = True,
    related: Related | None = None,
    guidance: Guidance | None = None,
) -> ReviewOutcome:
    """Review change ``number`` and (with ``post``) publish the review and the summary.

    ``guidance`` (the repository's feedback: rules, learned thresholds, history) adds trusted
    rules to the prompt, raises the second-pass threshold of categories this repository keeps
    rejecting, and is stated in the summary."""
    guidance = guidance or Guidance()
    change = forge.get_change(repo, number)
    head = change.head_sha
    if change.state != "open":
        return ReviewOutcome("skipped", f"the change is {change.state}", head)
    config, config_error = read_config(forge, repo, default_branch or change.base_ref)
    if guidance.rules:
        extra = guidance.instructions()
        review_config = config.review.model_copy(
            update={"instructions": f"{config.review.instructions.strip()}\n\n{extra}".strip()}
        )
        config = config.model_copy(update={"review": review_config})
    if not config.review.enabled:
        return ReviewOutcome("skipped", "review is disabled in .assist.toml", head)
    if change.draft and not (include_drafts or config.review.review_drafts):
        return ReviewOutcome("skipped", "draft", head)
    diff = forge.get_diff(repo, number)
    try:
        files = parse_diff(diff.unified)
    except DiffError as exc:
        return ReviewOutcome("skipped", f"the diff could not be read: {exc}", head)
    key = ChangeKey(repo.forge, repo.path, number)
    remembered = memory.recall(key)
    ours = forge.list_comments(repo, number, marker=_FINDING_MARKER_PREFIX)
    on_forge = marked_fingerprints(c.body for c in ours)
    for comment in ours:  # posted by a run whose memory we lack (a crash, the Action)
        found = posted_finding(comment)
        if found is not None and found.fingerprint not in remembered:
            remembered[found.fingerprint] = found
    patches = {f.path: patch_sha(f.patch) for f in diff.files}
    previous = memory.reviewed_patches(key) if incremental else {}
    unchanged = tuple(sorted(p for p, sha in patches.items() if previous.get(p) == sha))
    incremental_from = None
    if unchanged:
        heads = {r.head_sha for r in remembered.values()}
        incremental_from = next(iter(heads)) if len(heads) == 1 else "the last review"
    todo = [f for f in files if f.path not in unchanged and not skip_reason(f, config)]
    elsewhere = (
        related(head, {f.path: related_query(f) for f in todo[:MAX_SOURCES]}) if related else {}
    )
    request = ReviewInput(
        title=change.title,
        body=change.body,
        diff=diff.unified,
        config=config,
        sources=change_sources(
            forge, change, [f for f in files if f.path not in unchanged], config
        ),
        skip=dict.fromkeys(unchanged, "unchanged since the last review"),
        related=elsewhere,
        thresholds={
            c: t.value for c, t in guidance.thresholds(config.review.min_confidence).items()
        },
    )
    already = (
        frozenset(fp for fp, r in remembered.items() if r.status in ("posted", "summary"))
        | on_forge
    )
    result = await run_review(
        settings, request, scope=(repo.forge, repo.path, str(number)), already_posted=already
    )
    by_path = {f.path: f for f in files}
    earlier, outdated = _split_memory(remembered, by_path)
    acted = tuple(acted_on(forge, change, outdated, request.sources))
    if not post:
        return ReviewOutcome(
            "dry-run",
            "",
            head,
            result,
            posted=result.placed,
            earlier=tuple(earlier),
            outdated=tuple(outdated),
            unchanged=unchanged,
            config_error=config_error,
            counts=_counts(result.placed),
            acted_on=acted,
        )
    latest = forge.get_change(repo, number)
    if latest.head_sha != head:
        return ReviewOutcome("skipped", f"superseded by {latest.head_sha[:12]}", head, result)
    posted, ids, refused = _post(forge, change, result.placed)
    memory.remember(key, [_remembered(p, head, ids.get(p.fingerprint), "posted") for p in posted])
    memory.remember(key, [_remembered(p, head, None, "summary") for p in refused])
    memory.mark(key, [r.fingerprint for r in outdated], "outdated")
    text = summary_body(
        result,
        head_sha=head,
        posted=posted,
        refused=refused,
        earlier=earlier,
        outdated=outdated,
        unchanged=unchanged,
        incremental_from=incremental_from if unchanged else None,
    )
    if config_error:
        text = text.replace(
            "### Forge Assist review\n",
            f"### Forge Assist review\n\n> **{CONFIG_PATH} was not used:** {config_error}\n",
            1,
        )
    learned = guidance.summary(config.review.min_confidence, result.learned_drops)
    if learned:
        text = f"{text.rstrip()}\n\n{learned}"
    summary = forge.upsert_comment(repo, number, marker=SUMMARY_MARKER, body=text)
    memory.save_patches(key, patches, head)
    counts = _counts([*posted, *refused])
    _report_status(forge, repo, head, result, counts)
    return ReviewOutcome(
        "posted",
        "",
        head,
        result,
        posted=tuple(posted),
        refused=tuple(refused),
        earlier=tuple(earlier),
        outdated=tuple(outdated),
        unchanged=unchanged,
        summary_url=summary.url,
        config_error=config_error,
        counts=counts,
        acted_on=acted,
    )


def review_status(result: ReviewResult, counts: Mapping[str, int]) -> tuple[StatusState, str]:
    """The commit status of a review: ``error`` when the model reviewed none of the reviewable
    files; else ``success`` (informative; failing a build is the Action's ``fail-on``), with
    the files not reviewed counted. "no findings" only when every file was reviewed."""
    total = sum(counts.values())
    serious = counts.get("critical", 0) + counts.get("major", 0)
    if result.review_failed:
        return StatusState.ERROR, _short(f"review failed: {result.headline()}")
    found = f"{total} finding(s), {serious} major or critical" if total else "no findings"
    if result.failed:
        found = (
            f"{total} finding(s); {len(result.failed)} of {result.reviewable} file(s) not reviewed"
        )
    return StatusState.SUCCESS, found


def _short(text: str, limit: int = 140) -> str:
    """GitHub refuses a status description over 140 characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _report_status(
    forge: Forge, repo: RepoRef, sha: str, result: ReviewResult, counts: Mapping[str, int]
) -> None:
    """A commit status with the counts; a token without the right to set one is not an error."""
    state, description = review_status(result, counts)
    try:
        forge.set_status(repo, CommitStatus(sha, state, STATUS_CONTEXT, description))
    except (PermissionDenied, NotFound) as exc:
        log.info("no commit status on %s: %s", repo, exc)
    except ForgeError as exc:
        log.warning("commit status on %s failed: %s", repo, exc)


__all__ = ["STATUS_CONTEXT", "ReviewOutcome", "finding_marker", "read_config", "review_change"]
