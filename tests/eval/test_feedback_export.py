"""`assist export feedback`: feedback rows (prompt, finding, outcome) into SFT and DPO JSONL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db.engine import upgrade
from bot.eval.cases import CaseError
from bot.eval.feedback import rows_from_jsonl, rows_from_table, to_dpo, to_sft
from tests.support.processes import ROOT, assist_cmd, assist_env

P1 = [{"role": "system", "content": "Review."}, {"role": "user", "content": "diff one"}]
P2 = [{"role": "system", "content": "Review."}, {"role": "user", "content": "diff two"}]


def finding(title: str, **over: object) -> dict[str, object]:
    return {"file": "a.py", "quoted_code": "x = 1", "line": 3, "severity": "major",
            "category": "bug", "title": title, "explanation": "because", **over}  # fmt: skip


ROWS = [
    {"prompt": P1, "finding": finding("real"), "outcome": "accepted"},
    {"prompt": P1, "finding": finding("noise", severity="minor"), "outcome": "rejected"},
    {"prompt": P2, "finding": finding("only noise"), "outcome": "rejected"},
]


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_sft_answers_only_the_accepted_findings(rows_file: Path) -> None:
    first, second = to_sft(rows_from_jsonl(rows_file))
    assert first["messages"][:2] == P1  # type: ignore[index]
    answer = json.loads(first["messages"][2]["content"])  # type: ignore[index]
    assert [f["title"] for f in answer["findings"]] == ["real"]
    assert json.loads(second["messages"][2]["content"]) == {"findings": []}  # type: ignore[index]


def test_dpo_pairs_prefer_the_answer_without_the_rejected_findings(rows_file: Path) -> None:
    first, second = to_dpo(rows_from_jsonl(rows_file))
    assert first["prompt"] == P1
    chosen = json.loads(first["chosen"][0]["content"])  # type: ignore[index]
    rejected = json.loads(first["rejected"][0]["content"])  # type: ignore[index]
    assert [f["title"] for f in chosen["findings"]] == ["real"]
    assert [f["title"] for f in rejected["findings"]] == ["real", "noise"]
    assert json.loads(second["chosen"][0]["content"]) == {"findings": []}  # type: ignore[index]


def test_a_bad_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({**ROWS[0], "outcome": "maybe"}) + "\n")
    with pytest.raises(CaseError, match=r"rows.jsonl:1: outcome must be accepted or rejected"):
        rows_from_jsonl(path)


def test_a_findings_table_without_prompts_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url, "0004")  # outcomes (issue 16's feedback) but no prompts yet
    with pytest.raises(CaseError, match=r"table 'findings' lacks the column\(s\) prompt\b"):
        rows_from_table(url, "findings")


def test_the_findings_table_gives_each_finding_its_exact_prompt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = sa.create_engine(url)
    insert = sa.text(
        "INSERT INTO findings (forge, repo, number, fingerprint, path, line, severity, category,"
        " title, quoted_code, head_sha, status, outcome, prompt) VALUES ('github', 'o/r', 1, :f,"
        " 'a.py', 3, 'major', 'bug', :t, 'x = 1', 'abc', 'posted', :o, :p)"
    )
    with engine.begin() as conn:
        for f, t, o, p in (
            ("f1", "real", "accepted", json.dumps(P1)),
            ("f2", "noise", "rejected", json.dumps(P1)),
            ("f3", "undecided", None, json.dumps(P2)),
            ("f4", "before 0005", "accepted", None),
        ):
            conn.execute(insert, {"f": f, "t": t, "o": o, "p": p})
    engine.dispose()
    rows = rows_from_table(url, "findings")
    assert [(r.finding.title, r.outcome) for r in rows] == [
        ("real", "accepted"),
        ("noise", "rejected"),
    ]
    assert all(r.prompt == tuple((m["role"], m["content"]) for m in P1) for r in rows)
    (pair,) = to_dpo(rows)
    assert pair["prompt"] == P1


def test_a_table_with_prompts_and_outcomes_is_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "create table feedback (path text, quoted_code text, line int, severity text, "
            "category text, title text, prompt text, outcome text)"
        ))  # fmt: skip
        for i, outcome in enumerate(("accepted", "rejected", None)):
            conn.execute(
                sa.text(
                    "insert into feedback values ('a.py', 'x = 1', 3, 'major', 'bug', :t, :p, :o)"
                ),
                {"t": f"t{i}", "p": json.dumps(P1), "o": outcome},
            )
    engine.dispose()
    rows = rows_from_table(url, "feedback")
    assert [(r.finding.title, r.outcome) for r in rows] == [("t0", "accepted"), ("t1", "rejected")]


def test_cli_writes_sft(rows_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    done = subprocess.run(
        assist_cmd(
            "export", "feedback", "--format", "sft", "--rows", str(rows_file), "--out", str(out)
        ),
        env=assist_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "2 sft examples from 1 accepted and 2 rejected findings" in done.stderr
    assert len(out.read_text().splitlines()) == 2
