"""`assist eval review` replays the real review pipeline per case against a scripted model and
scores what it placed (hand-computed figures)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bot.eval.cases import Case, FilesSource, GitSource, Reference, check_case, dump_cases
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply
from tests.support.processes import ROOT, assist_cmd, assist_env

BASE = """def total(items):
    result = 0
    for item in items:
        result += item.price
    return result


def label(name):
    return "item " + name
"""
HEAD = BASE.replace(
    "    for item in items:\n        result += item.price\n",
    "    for i in range(1, len(items)):\n        result += items[i].price\n",
).replace('"item " + name\n', '"item " + name.upper()\n')
UTIL = "def ping():\n    return 'pong'\n"
UTIL_DIFF = (
    "diff --git a/util.py b/util.py\nnew file mode 100644\n--- /dev/null\n+++ b/util.py\n"
    "@@ -0,0 +1,2 @@\n+def ping():\n+    return 'pong'\n"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def answer(*findings: tuple[str, str, int, str]) -> Reply:
    return chat_reply(
        json.dumps(
            {
                "findings": [
                    {
                        "file": path,
                        "quoted_code": code,
                        "line": line,
                        "severity": "major",
                        "category": category,
                        "title": f"about {code[:20]}",
                        "explanation": "scripted",
                    }
                    for path, code, line, category in findings
                ]
            }
        )
    )


def make_dataset(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "shop.py").write_text(BASE)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "shop.py").write_text(HEAD)
    git(repo, "commit", "-qam", "head")
    head = git(repo, "rev-parse", "HEAD").strip()
    buggy = Case(
        id="shop#1",
        title="Sum prices",
        language="Python",
        diff=git(repo, "diff", base, head),
        source=GitSource(path="repo", base=base, head=head),
        references=[
            Reference(path="shop.py", start_line=3, end_line=4, category="Code Defect"),
            Reference(path="shop.py", start_line=9, end_line=9, label="rejected"),
        ],
    )
    clean = Case(
        id="util#2",
        title="Add ping",
        language="Python",
        diff=UTIL_DIFF,
        source=FilesSource(head={"util.py": UTIL}),
        references=[Reference(path="util.py", start_line=2, end_line=2, label="rejected")],
    )
    for case in (buggy, clean):
        assert check_case(case, root=tmp_path) == []
    dataset = tmp_path / "cases.jsonl"
    dataset.write_text(dump_cases([buggy, clean]))
    (tmp_path / "assist.toml").write_text("[review]\nmin_confidence = 0\n")
    return dataset


def test_eval_review_scores_the_real_pipeline(tmp_path: Path, scripted: ScriptedServer) -> None:
    dataset = make_dataset(tmp_path)
    scripted.push(
        answer(
            ("shop.py", "for i in range(1, len(items)):", 3, "bug"),
            ("shop.py", 'return "item " + name.upper()', 9, "style"),
        ),
        answer(("util.py", "return 'pong'", 2, "maintainability")),
    )
    out = tmp_path / "out"
    done = subprocess.run(
        assist_cmd(
            "eval",
            "review",
            "--dataset",
            str(dataset),
            "--model-url",
            scripted.base_url,
            "--model",
            "s",
            "--config",
            str(tmp_path / "assist.toml"),
            "--out",
            str(out),
        ),
        env=assist_env({"ASSIST_LLM_MAX_RETRIES": "0", "ASSIST_LLM_CONTEXT_TOKENS": "32768"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    prompts = [json.dumps(r["messages"]) for r in scripted.chat_requests()]
    assert len(prompts) == 2  # one file per case, no second pass (min_confidence = 0)
    assert "Diff of shop.py" in prompts[0]
    assert "range(1, len(items))" in prompts[0]
    data = json.loads((out / "report.json").read_text())
    assert list(data)[:6] == ["cases", "references", "findings", "precision", "recall", "f1"]
    # 1 accepted reference, 3 findings, 1 true positive: P 1/3, R 1, F1 2*1/(3+1).
    assert (data["cases"], data["references"], data["findings"]) == (2, 1, 3)
    assert (data["precision"], data["recall"], data["f1"]) == (0.3333, 1.0, 0.5)
    assert data["noise"]["matching_rejected"] == 2
    assert data["clean"]["case_ids"] == ["util#2"]
    assert data["clean"]["findings_per_case"] == 1.0
    assert data["per_pr"]["tokens"] == 18.0  # scripted usage: 11 prompt + 7 completion a call
    assert data["by_reference_category"]["Code Defect"]["cases"] == ["shop#1"]
    first = data["per_case"][0]["finding_details"]
    assert [(f["start_line"], f["matches_reference"], f["matches_rejected"]) for f in first] == [
        (3, 0, False),
        (9, None, True),
    ]
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [r["case_id"] for r in runs] == ["shop#1", "util#2"]
    assert "| shop#1 | 1 | 1 | 2 | 1 | 1 | 1 |" in (out / "report.md").read_text()
    again = subprocess.run(
        assist_cmd("eval", "score", str(out / "runs.jsonl"), "--out", str(tmp_path / "again")),
        env=assist_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    rescored = json.loads((tmp_path / "again" / "report.json").read_text())
    assert {k: rescored[k] for k in ("per_case", "noise", "f1")} == {
        k: data[k] for k in ("per_case", "noise", "f1")
    }


def test_a_failing_model_is_reported_per_case(tmp_path: Path, scripted: ScriptedServer) -> None:
    dataset = make_dataset(tmp_path)
    scripted.push(*(Reply(status=500, body={"error": "down"}) for _ in range(4)))
    out = tmp_path / "out"
    done = subprocess.run(
        assist_cmd(
            "eval",
            "review",
            "--dataset",
            str(dataset),
            "--model-url",
            scripted.base_url,
            "--model",
            "s",
            "--out",
            str(out),
            "--case",
            "util#2",
        ),
        env=assist_env({"ASSIST_LLM_MAX_RETRIES": "0", "ASSIST_LLM_CONTEXT_TOKENS": "32768"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    data = json.loads((out / "report.json").read_text())
    assert done.returncode == 1
    assert data["cases"] == 0
    assert [f["case"] for f in data["failed"]] == ["util#2"]


def test_index_context_needs_a_git_source(tmp_path: Path, scripted: ScriptedServer) -> None:
    dataset = make_dataset(tmp_path)
    out = tmp_path / "out"
    done = subprocess.run(
        assist_cmd(
            "eval",
            "review",
            "--dataset",
            str(dataset),
            "--model-url",
            scripted.base_url,
            "--model",
            "s",
            "--out",
            str(out),
            "--case",
            "util#2",
            "--context",
            "index",
        ),
        env=assist_env({"ASSIST_LLM_MAX_RETRIES": "0"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    (failed,) = json.loads((out / "report.json").read_text())["failed"]
    assert "--context index needs a git source" in failed["error"]
    assert scripted.chat_requests() == []
