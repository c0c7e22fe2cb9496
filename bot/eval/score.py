"""Exact scoring of review findings against reference comments. Pure.

Matching: a finding matches a reference when it is in the same file, the reference is on the
new (``right``) side, and the finding's anchored lines ``[s, e]`` overlap the reference's
``[a, b]`` widened by the tolerance: ``s <= b + t and e >= a - t`` (``t = 1`` by default, as
AACR-Bench's own evaluator). Matching is one-to-one and maximum (Kuhn's augmenting paths):
each finding matches at most one accepted reference and each accepted reference at most one
finding. It is deterministic: findings are tried in the order given (the pipeline's: severity,
path, line) and each tries references nearest first (then by their index).

A finding left unmatched is a false positive; if it overlaps a rejected reference it is also
counted as matching a rejected comment (noise the experts refused). Findings matched to an
accepted reference are true positives even when a rejected reference shares the range.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.eval.cases import Reference

DEFAULT_TOLERANCE = 1


@dataclass(frozen=True, slots=True)
class EvalFinding:
    """A posted (placed) finding: where it is anchored on the new side, and what it says."""

    path: str
    start_line: int
    end_line: int
    category: str
    severity: str
    title: str = ""
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class CaseRun:
    """What the review of one case produced (or why it failed: ``error``)."""

    case_id: str
    references: tuple[Reference, ...]
    findings: tuple[EvalFinding, ...]
    language: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    requests: int = 0
    unplaced: int = 0
    skipped: tuple[tuple[str, str], ...] = ()
    error: str | None = None


def overlaps(finding: EvalFinding, ref: Reference, tolerance: int) -> bool:
    return (
        finding.path == ref.path
        and ref.side == "right"
        and finding.start_line <= ref.end_line + tolerance
        and finding.end_line >= ref.start_line - tolerance
    )


def _distance(finding: EvalFinding, ref: Reference) -> int:
    if finding.end_line < ref.start_line:
        return ref.start_line - finding.end_line
    if finding.start_line > ref.end_line:
        return finding.start_line - ref.end_line
    return 0


def match(
    findings: Sequence[EvalFinding],
    references: Sequence[Reference],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
) -> list[tuple[int, int]]:
    """A maximum one-to-one matching as sorted (finding index, reference index) pairs."""
    if tolerance < 0:
        raise ValueError("the tolerance cannot be negative")
    options = [
        sorted(
            (j for j, r in enumerate(references) if overlaps(f, r, tolerance)),
            key=lambda j, f=f: (_distance(f, references[j]), j),  # type: ignore[misc]
        )
        for f in findings
    ]
    owner: dict[int, int] = {}  # reference index -> finding index

    def augment(i: int, visited: set[int]) -> bool:
        for j in options[i]:
            if j in visited:
                continue
            visited.add(j)
            if j not in owner or augment(owner[j], visited):
                owner[j] = i
                return True
        return False

    for i in range(len(findings)):
        augment(i, set())
    return sorted((i, j) for j, i in owner.items())


@dataclass(frozen=True, slots=True)
class CaseScore:
    run: CaseRun
    matches: tuple[tuple[int, int], ...]  # (finding, index into run.references)
    rejected_hits: tuple[int, ...]  # unmatched findings that overlap a rejected reference

    @property
    def accepted(self) -> tuple[int, ...]:
        return tuple(i for i, r in enumerate(self.run.references) if r.label == "accepted")

    @property
    def true_positives(self) -> int:
        return len(self.matches)

    @property
    def false_positives(self) -> int:
        return len(self.run.findings) - len(self.matches)

    @property
    def missed(self) -> int:
        return len(self.accepted) - len(self.matches)

    @property
    def clean(self) -> bool:
        return not self.accepted


def score_case(run: CaseRun, *, tolerance: int = DEFAULT_TOLERANCE) -> CaseScore:
    accepted = [i for i, r in enumerate(run.references) if r.label == "accepted"]
    rejected = [r for r in run.references if r.label == "rejected"]
    pairs = match(run.findings, [run.references[i] for i in accepted], tolerance=tolerance)
    matches = tuple((i, accepted[j]) for i, j in pairs)
    matched = {i for i, _ in matches}
    hits = tuple(
        i
        for i, f in enumerate(run.findings)
        if i not in matched and any(overlaps(f, r, tolerance) for r in rejected)
    )
    return CaseScore(run, matches, hits)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def f1(true_positives: int, findings: int, references: int) -> float | None:
    """2PR/(P+R) = 2TP/(findings + references); None when there is neither."""
    return _ratio(2 * true_positives, findings + references)


@dataclass
class _Tally:
    references: int = 0
    matched: int = 0
    findings: int = 0
    true_positives: int = 0
    cases: set[str] = field(default_factory=set)

    def as_recall(self) -> dict[str, object]:
        return {
            "references": self.references,
            "matched": self.matched,
            "recall": _ratio(self.matched, self.references),
            "cases": sorted(self.cases),
        }

    def as_precision(self) -> dict[str, object]:
        return {
            "findings": self.findings,
            "true_positives": self.true_positives,
            "precision": _ratio(self.true_positives, self.findings),
            "cases": sorted(self.cases),
        }


def _group(
    scores: Iterable[CaseScore], key: Callable[[CaseScore], str]
) -> dict[str, list[CaseScore]]:
    out: dict[str, list[CaseScore]] = {}
    for s in scores:
        out.setdefault(key(s), []).append(s)
    return dict(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Headline:
    references: int
    findings: int
    true_positives: int

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.findings)

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.references)

    @property
    def f1(self) -> float | None:
        return f1(self.true_positives, self.findings, self.references)

    def as_json(self) -> dict[str, object]:
        return {
            "references": self.references,
            "findings": self.findings,
            "true_positives": self.true_positives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def headline(scores: Sequence[CaseScore]) -> Headline:
    return Headline(
        sum(len(s.accepted) for s in scores),
        sum(len(s.run.findings) for s in scores),
        sum(s.true_positives for s in scores),
    )


def report(
    runs: Sequence[CaseRun], *, tolerance: int = DEFAULT_TOLERANCE, meta: dict[str, object]
) -> dict[str, object]:
    """The whole report as plain JSON values; cases that failed are listed, not scored."""
    failed = [r for r in runs if r.error is not None]
    scores = [score_case(r, tolerance=tolerance) for r in runs if r.error is None]
    head = headline(scores)
    by_ref: dict[str, _Tally] = {}
    by_cat: dict[str, _Tally] = {}
    by_sev: dict[str, _Tally] = {}
    for s in scores:
        cid = s.run.case_id
        matched_refs = {j for _, j in s.matches}
        matched_findings = {i for i, _ in s.matches}
        for j in s.accepted:
            t = by_ref.setdefault(s.run.references[j].category or "(none)", _Tally())
            t.references += 1
            t.matched += j in matched_refs
            t.cases.add(cid)
        for i, f in enumerate(s.run.findings):
            for key, table in ((f.category, by_cat), (f.severity, by_sev)):
                t = table.setdefault(key, _Tally())
                t.findings += 1
                t.true_positives += i in matched_findings
                t.cases.add(cid)
    clean = [s for s in scores if s.clean]
    clean_findings = sum(len(s.run.findings) for s in clean)
    n = len(scores)
    out: dict[str, object] = {
        "cases": n,
        "references": head.references,
        "findings": head.findings,
        "precision": head.precision,
        "recall": head.recall,
        "f1": head.f1,
        "true_positives": head.true_positives,
        "false_positives": sum(s.false_positives for s in scores),
        "missed": sum(s.missed for s in scores),
        "tolerance": tolerance,
        "noise": {
            "false_positives": sum(s.false_positives for s in scores),
            "matching_rejected": sum(len(s.rejected_hits) for s in scores),
            "rejected_references": sum(
                1 for s in scores for r in s.run.references if r.label == "rejected"
            ),
            "rate": _ratio(sum(s.false_positives for s in scores), head.findings),
            "cases": sorted(s.run.case_id for s in scores if s.false_positives),
            "cases_matching_rejected": sorted(s.run.case_id for s in scores if s.rejected_hits),
        },
        "clean": {
            "cases": len(clean),
            "findings": clean_findings,
            "findings_per_case": _ratio(clean_findings, len(clean)),
            "cases_with_findings": sum(1 for s in clean if s.run.findings),
            "noisy_rate": _ratio(sum(1 for s in clean if s.run.findings), len(clean)),
            "case_ids": sorted(s.run.case_id for s in clean),
        },
        "per_pr": {
            "comments": _ratio(head.findings, n),
            "prompt_tokens": _ratio(sum(s.run.prompt_tokens for s in scores), n),
            "completion_tokens": _ratio(sum(s.run.completion_tokens for s in scores), n),
            "tokens": _ratio(sum(s.run.prompt_tokens + s.run.completion_tokens for s in scores), n),
            "model_seconds": _ratio(sum(s.run.model_seconds for s in scores), n),
            "requests": _ratio(sum(s.run.requests for s in scores), n),
        },
        "by_reference_category": {k: v.as_recall() for k, v in sorted(by_ref.items())},
        "by_finding_category": {k: v.as_precision() for k, v in sorted(by_cat.items())},
        "by_severity": {k: v.as_precision() for k, v in sorted(by_sev.items())},
        "by_language": {
            lang: {**headline(group).as_json(), "cases": sorted(s.run.case_id for s in group)}
            for lang, group in _group(scores, lambda s: s.run.language or "(none)").items()
        },
        "failed": [{"case": r.case_id, "error": r.error} for r in failed],
        "meta": meta,
        "per_case": [_case_json(s) for s in scores],
    }
    return out


def _case_json(s: CaseScore) -> dict[str, object]:
    run = s.run
    matched = dict(s.matches)
    findings = [
        {
            "path": f.path,
            "start_line": f.start_line,
            "end_line": f.end_line,
            "category": f.category,
            "severity": f.severity,
            "title": f.title,
            "confidence": f.confidence,
            "matches_reference": matched.get(i),
            "matches_rejected": i in s.rejected_hits,
        }
        for i, f in enumerate(run.findings)
    ]
    return {
        "case": run.case_id,
        "language": run.language,
        "references": len(s.accepted),
        "rejected_references": len(run.references) - len(s.accepted),
        "findings": len(run.findings),
        "true_positives": s.true_positives,
        "false_positives": s.false_positives,
        "matching_rejected": len(s.rejected_hits),
        "missed": s.missed,
        "precision": _ratio(s.true_positives, len(run.findings)),
        "recall": _ratio(s.true_positives, len(s.accepted)),
        "f1": f1(s.true_positives, len(run.findings), len(s.accepted)),
        "clean": s.clean,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "model_seconds": round(run.model_seconds, 3),
        "requests": run.requests,
        "unplaced": run.unplaced,
        "skipped": [{"path": p_, "reason": why} for p_, why in run.skipped],
        "finding_details": findings,
    }
