"""The soak's invariants, checked against what the forge, PostgreSQL and Redis hold at the end.

- every accepted delivery produced exactly its jobs (one job run per job id, nothing else);
  a redelivery was answered with the original job ids;
- every job ended: done, superseded, or failed and visible (in RQ's failed registry and with
  its error in job_runs); a deferred job continued as another that ended;
- no finding posted twice: each finding marker appears once per pull request;
- no comment on a wrong line: every inline comment is on a line of the diff at its commit;
- one summary per reviewed pull request, edited in place;
- nothing lost: every delivery the driver made was eventually accepted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot.review.diff import LineKind, parse_diff
from tests.testforge import TestForge

FINDING = re.compile(r"<!-- forge-assist:finding:([0-9a-zA-Z_-]+) -->")
SUMMARY = "forge-assist:summary"
ENDED = {"done", "failed", "superseded", "deferred"}


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


@dataclass
class Observed:
    forge: TestForge
    db_url: str
    deliveries: dict[str, list[str]]  # accepted delivery id -> job ids answered
    redeliveries: list[tuple[str, list[str], int]]
    lost: list[str]
    failed_in_rq: set[str]
    pulls: list[tuple[str, int]]
    base_sha: dict[str, str]
    rq_status: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _jobs(o: Observed) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(o.db_url)
    try:
        with engine.connect() as conn:
            runs = {
                r.job_id: {"status": r.status, "error": r.error, "detail": r.detail}
                for r in conn.execute(sa.text("SELECT job_id, status, error, detail FROM job_runs"))
            }
            recorded = {
                r.delivery_id: list(r.job_ids or [])
                for r in conn.execute(
                    sa.text("SELECT delivery_id, job_ids FROM deliveries WHERE outcome = 'queued'")
                )
            }
    finally:
        engine.dispose()
    for delivery, jobs in o.deliveries.items():
        if jobs and sorted(recorded.get(delivery, [])) != sorted(jobs):
            o.problems.append(
                f"delivery {delivery}: answered {jobs}, recorded {recorded.get(delivery)}"
            )
    return runs


def _check_jobs(o: Observed, runs: dict[str, dict[str, Any]]) -> dict[str, int]:
    statuses: Counter[str] = Counter()
    reached: set[str] = set()
    for jobs in o.deliveries.values():
        for job_id in jobs:
            current, hops = job_id, 0
            while True:
                reached.add(current)
                run = runs.get(current)
                if run is None:
                    where = o.rq_status.get(current, "unknown")
                    o.problems.append(f"job {current} never ran (lost; in RQ: {where})")
                    break
                statuses[run["status"]] += 1
                if run["status"] not in ENDED:
                    o.problems.append(f"job {current} ended {run['status']!r}")
                if run["status"] == "failed" and (
                    current not in o.failed_in_rq or not run["error"]
                ):
                    o.problems.append(f"job {current} failed without a visible record")
                if run["status"] != "deferred" or hops > 1000:
                    break
                current, hops = str(run["detail"].get("continued_as")), hops + 1
    extra = set(runs) - reached
    if extra:
        o.problems.append(f"{len(extra)} job runs no delivery asked for: {sorted(extra)[:5]}")
    for delivery, jobs, status in o.redeliveries:
        if status in (200, 202) and sorted(jobs) != sorted(o.deliveries.get(delivery, [])):
            o.problems.append(f"redelivery of {delivery} answered other jobs: {jobs}")
    return dict(statuses)


def _commentable(o: Observed, repo: str, commit: str) -> dict[str, set[int]]:
    text, _ = o.forge.diff(o.forge.repo(repo), o.base_sha[repo], commit)
    lines: dict[str, set[int]] = {}
    for f in parse_diff(text):
        for hunk in f.hunks:
            for line in hunk.lines:
                if line.kind is not LineKind.REMOVED and line.new_no is not None:
                    lines.setdefault(f.path, set()).add(line.new_no)
    return lines


def _check_forge(o: Observed) -> dict[str, int]:
    counts = {"inline_comments": 0, "findings": 0, "summaries": 0}
    for repo, number in o.pulls:
        notes = o.forge.comments(repo, number)
        markers: Counter[str] = Counter()
        summaries = 0
        for note in notes:
            markers.update(FINDING.findall(note["body"]))
            summaries += SUMMARY in note["body"]
            if note["kind"] == "review" and note["line"] is not None:
                counts["inline_comments"] += 1
                commentable = _commentable(o, repo, note["commit_id"])
                if note["line"] not in commentable.get(note["path"], set()):
                    o.problems.append(
                        f"{repo}#{number}: comment on {note['path']}:{note['line']} "
                        f"is not on a line of the diff at {note['commit_id'][:12]}"
                    )
        for fingerprint, count in markers.items():
            if count > 1:
                o.problems.append(f"{repo}#{number}: finding {fingerprint} posted {count} times")
        if summaries > 1:
            o.problems.append(f"{repo}#{number}: {summaries} summaries")
        counts["findings"] += len(markers)
        counts["summaries"] += summaries
    return counts


def check_invariants(o: Observed) -> dict[str, Any]:
    runs = _jobs(o)
    statuses = _check_jobs(o, runs)
    forge = _check_forge(o)
    o.problems.extend(o.lost)
    failed = {j: r["error"][:300] for j, r in runs.items() if r["status"] == "failed"}
    return {
        "ok": not o.problems,
        "problems": o.problems[:50],
        "job_statuses": statuses,
        "failed_jobs": dict(list(failed.items())[:10]),
        "forge": forge,
    }
