"""Hand-computed scores: tolerance edges, one-to-one matching, rejected comments as noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.eval.cases import Reference
from bot.eval.report import write_report
from bot.eval.score import CaseRun, EvalFinding, match, report, score_case


def ref(start: int, end: int | None = None, *, path: str = "a.py", **over: object) -> Reference:
    return Reference.model_validate(
        {"path": path, "start_line": start, "end_line": end or start, **over}
    )


def fnd(start: int, end: int | None = None, *, path: str = "a.py", **over: object) -> EvalFinding:
    values: dict[str, object] = {"category": "bug", "severity": "major", **over}
    return EvalFinding(path, start, end or start, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("finding", "tolerance", "matched"),
    [
        (fnd(10), 0, True),  # inside [10, 12]
        (fnd(12), 0, True),
        (fnd(13), 0, False),  # one past the end, no tolerance
        (fnd(9), 0, False),
        (fnd(13), 1, True),  # one past the end, tolerance 1
        (fnd(9), 1, True),
        (fnd(14), 1, False),  # two past: outside even with tolerance 1
        (fnd(8), 1, False),
        (fnd(14), 2, True),
        (fnd(1, 9), 1, True),  # a range ending one before the reference
        (fnd(1, 8), 1, False),
        (fnd(11, path="b.py"), 5, False),  # another file never matches
    ],
)
def test_tolerance_edges(finding: EvalFinding, tolerance: int, matched: bool) -> None:
    assert bool(match([finding], [ref(10, 12)], tolerance=tolerance)) is matched


def test_a_left_side_reference_is_never_matched() -> None:
    assert match([fnd(10)], [ref(10, side="left")], tolerance=3) == []


def test_one_to_one_two_findings_on_one_reference_count_once() -> None:
    run = CaseRun("c", (ref(10),), (fnd(10), fnd(10, title="again")))
    s = score_case(run)
    assert (s.true_positives, s.false_positives, s.missed) == (1, 1, 0)


def test_one_to_one_is_maximum_not_greedy() -> None:
    # Finding 0 overlaps both references, finding 1 only the first. Greedy (finding 0 takes
    # the first reference) would match one pair; the maximum matching has two.
    refs = [ref(10), ref(20)]
    findings = [fnd(10, 20), fnd(10)]
    assert match(findings, refs, tolerance=0) == [(0, 1), (1, 0)]


def test_matching_is_deterministic_and_prefers_the_nearest_reference() -> None:
    refs = [ref(30), ref(12)]  # both in reach of a finding at 10-14 with tolerance 20
    assert match([fnd(10, 14)], refs, tolerance=20) == [(0, 1)]
    assert match([fnd(10, 14)], refs, tolerance=20) == match([fnd(10, 14)], refs, tolerance=20)


def test_hand_computed_report() -> None:
    # Case A: refs 10 (Code Defect), 40-42 (Maintainability), 80 (Code Defect); a rejected
    #   comment at 60. Findings: 11 (hits 10 with tolerance 1), 43 (hits 40-42), 60 (rejected),
    #   100 (nothing). TP 2, FP 2 (1 on rejected), missed 1.
    # Case B: clean (only a rejected comment at b.py 5); one finding at b.py 5 -> FP on rejected.
    # Case C: ref at c.py 3, no findings -> missed 1.
    # Totals: references 4, findings 5, TP 2 -> precision 2/5 = 0.4, recall 2/4 = 0.5,
    # F1 = 2*0.4*0.5/0.9 = 0.4444.
    a = CaseRun(
        "A",
        (
            ref(10, category="Code Defect"),
            ref(40, 42, category="Maintainability"),
            ref(80, category="Code Defect"),
            ref(60, label="rejected"),
        ),
        (fnd(11), fnd(43, category="style", severity="minor"), fnd(60), fnd(100)),
        language="Python",
        prompt_tokens=1000,
        completion_tokens=200,
        model_seconds=3.0,
        requests=2,
    )
    b = CaseRun(
        "B",
        (ref(5, path="b.py", label="rejected"),),
        (fnd(5, path="b.py", severity="minor"),),
        language="Go",
        prompt_tokens=500,
        completion_tokens=100,
        model_seconds=1.0,
        requests=1,
    )
    c = CaseRun("C", (ref(3, path="c.py", category="Security"),), (), language="Go")
    failed = CaseRun("D", (ref(1),), (), error="the model failed: boom")
    data = report([a, b, c, failed], tolerance=1, meta={})
    assert list(data)[:6] == ["cases", "references", "findings", "precision", "recall", "f1"]
    assert (data["cases"], data["references"], data["findings"]) == (3, 4, 5)
    assert (data["precision"], data["recall"], data["f1"]) == (0.4, 0.5, 0.4444)
    assert data["noise"] == {
        "false_positives": 3,
        "matching_rejected": 2,
        "rejected_references": 2,
        "rate": 0.6,
        "cases": ["A", "B"],
        "cases_matching_rejected": ["A", "B"],
    }
    assert data["clean"]["cases"] == 1
    assert data["clean"]["findings_per_case"] == 1.0
    assert data["clean"]["case_ids"] == ["B"]
    assert data["per_pr"]["comments"] == round(5 / 3, 4)
    assert data["per_pr"]["tokens"] == 600.0
    assert data["per_pr"]["model_seconds"] == round(4 / 3, 4)
    assert data["by_reference_category"]["Code Defect"] == {
        "references": 2, "matched": 1, "recall": 0.5, "cases": ["A"]
    }  # fmt: skip
    assert data["by_reference_category"]["Security"]["recall"] == 0.0
    assert data["by_finding_category"]["bug"]["precision"] == 0.25  # 1 of 4
    assert data["by_finding_category"]["style"]["precision"] == 1.0
    assert data["by_severity"]["minor"] == {
        "findings": 2, "true_positives": 1, "precision": 0.5, "cases": ["A", "B"]
    }  # fmt: skip
    assert data["by_language"]["Go"]["recall"] == 0.0
    assert data["by_language"]["Python"]["f1"] == round(4 / 7, 4)
    assert data["failed"] == [{"case": "D", "error": "the model failed: boom"}]
    case_a = data["per_case"][0]
    assert [f["matches_reference"] for f in case_a["finding_details"]] == [0, 1, None, None]
    assert [f["matches_rejected"] for f in case_a["finding_details"]] == [False, False, True, False]


def test_a_finding_on_an_accepted_and_a_rejected_comment_at_one_range_is_a_true_positive() -> None:
    s = score_case(CaseRun("c", (ref(7, label="rejected"), ref(7)), (fnd(7), fnd(7))))
    assert (s.true_positives, s.false_positives, s.rejected_hits) == (1, 1, (1,))


def test_no_findings_and_no_references_give_no_ratio() -> None:
    data = report([CaseRun("x", (), ())], meta={})
    assert (data["precision"], data["recall"], data["f1"]) == (None, None, None)


def test_report_files(tmp_path: Path) -> None:
    data = report([CaseRun("A", (ref(10),), (fnd(10),), language="Python")], meta={"model": "m"})
    json_path, md_path = write_report(tmp_path / "out", data)
    assert json.loads(json_path.read_text())["f1"] == 1.0
    text = md_path.read_text()
    assert "| 1 | 1 | 1 | 1 | 100.0 % | 100.0 % | 100.0 % |" in text
    assert "| A | 1 | 0 | 1 | 1 | 0 |" in text
