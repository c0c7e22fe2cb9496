"""The review pipeline against a scripted OpenAI-compatible server and the real CPU vLLM."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from bot.llm import LLMConfig, OpenAIClient
from bot.repoconfig import parse_repo_config
from bot.review.findings import FindingsAnswer
from bot.review.local import LocalRepoError, local_change
from bot.review.pipeline import ReviewInput, ReviewResult, review_diff
from bot.review.render import SUMMARY_MARKER, as_markdown, as_sarif, as_text
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply, runaway_reply
from tests.support.processes import ROOT, assist_cmd, assist_env
from tests.support.vllm import REQUEST_TIMEOUT_S, VLLMServer

BEFORE = '''def total(items):
    """Sum the prices of items."""
    result = 0
    for item in items:
        result += item.price
    return result


def average(items):
    return total(items) / len(items)
'''
AFTER = BEFORE.replace(
    "    for item in items:\n        result += item.price\n",
    "    for i in range(1, len(items)):\n        result += items[i].price\n",
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "T")
    (tmp_path / "shop.py").write_text(BEFORE)
    (tmp_path / ".assist.toml").write_text('[review]\nmin_severity = "minor"\n')
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    (tmp_path / "shop.py").write_text(AFTER)
    (tmp_path / "poetry.lock").write_text("lock\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "Iterate by index\n\nFaster, says the author.")
    return tmp_path


def finding(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "file": "shop.py",
        "quoted_code": "for i in range(1, len(items)):",
        "line": 40,
        "severity": "major",
        "category": "bug",
        "title": "Skips the first item",
        "explanation": "range(1, ...) starts at the second item.",
        "replacement": None,
    }
    return {**base, **over}


def answer(*findings: dict[str, object]) -> Reply:
    return chat_reply(json.dumps({"findings": list(findings)}))


def run(server: ScriptedServer, request: ReviewInput) -> ReviewResult:
    async def go() -> ReviewResult:
        config = LLMConfig((server.base_url,), "scripted", max_retries=0, context_tokens=16000)
        async with OpenAIClient(config) as client:
            return await review_diff(
                request, client, client, nonce="n0nce123", context_tokens=16000
            )

    return asyncio.run(go())


def test_local_change_reads_config_from_base(repo: Path) -> None:
    (repo / ".assist.toml").write_text("[review]\nmax_comments = 0\n")  # in the change only
    git(repo, "commit", "-qam", "try to silence the bot")
    change = local_change(repo, "main")
    assert change.config.review.max_comments == 20  # the base's config, not the change's
    assert "range(1, len(items))" in change.diff
    with pytest.raises(LocalRepoError, match="unknown ref"):
        local_change(repo, "no-such-branch")
    with pytest.raises(LocalRepoError, match="not a git repository"):
        local_change(repo / "nope", "main")


def test_findings_are_placed_filtered_and_summarised(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    scripted.push(
        answer(
            finding(),
            finding(
                quoted_code="result += items[i].price",
                severity="info",
                category="style",
                title="style nit",
            ),  # below the configured minimum severity
            finding(quoted_code="return result", title="unchanged code"),  # context line
            finding(quoted_code="no_such_line()", title="hallucinated"),
        )
    )
    request = ReviewInput(change.title, change.body, change.diff, change.config)
    result = run(scripted, request)
    assert [(p.anchor.start_line, p.finding.title) for p in result.placed] == [
        (4, "Skips the first item")
    ]
    assert {u.finding.title: u.reason for u in result.unplaced} == {
        "unchanged code": "the quoted code is not changed by this diff",
        "hallucinated": "the quoted code is not in the diff",
    }
    assert result.skipped == (("poetry.lock", "lock file"),)
    # The pull request text went to the model fenced as untrusted data.
    sent, scoring, _repair = scripted.chat_requests()  # review, second pass, its repair
    user = sent["messages"][-1]["content"]
    assert "BEGIN_UNTRUSTED_DATA_n0nce123" in user
    assert "Faster, says the author." in user
    assert sent["response_format"]["type"] == "json_schema"
    # The script had no scores left: the finding is kept unscored, and the result says why.
    assert "Skips the first item" in scoring["messages"][-1]["content"]
    assert result.placed[0].confidence is None
    assert result.scoring_note == "the model's scores did not follow the schema"
    summary = as_markdown(result)
    assert summary.startswith(SUMMARY_MARKER)
    assert "Skips the first item" in summary
    assert "poetry.lock" in summary
    sarif = json.loads(as_sarif(result))
    (hit,) = sarif["runs"][0]["results"]
    assert hit["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "endLine": 4}


def test_limit_and_dedupe(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    config = parse_repo_config("[review]\nmax_comments = 1\n")
    scripted.push(
        answer(
            finding(),
            finding(line=4),  # the same finding again: one comment
            finding(quoted_code="result += items[i].price", severity="critical", title="worse"),
        )
    )
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, config))
    assert [p.finding.title for p in result.placed] == ["worse"]
    assert [u.reason for u in result.unplaced] == ["over the limit of 1 inline comments"]


def test_invalid_answers_are_reported_not_posted(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    scripted.push(chat_reply("I think the code is fine!"), chat_reply('{"findings": "no"}'))
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, change.config))
    assert result.placed == ()
    assert result.failed == (("shop.py", "the model's answer did not follow the schema"),)
    assert result.skipped == (("poetry.lock", "lock file"),)  # by policy, not a failure
    assert (result.files_reviewed, result.review_failed) == (0, True)


def test_a_model_that_runs_to_max_tokens_gets_a_smaller_retry_then_a_precise_message(
    repo: Path, scripted: ScriptedServer
) -> None:
    change = local_change(repo, "main")
    scripted.fallback = runaway_reply()
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, change.config))
    first, second = scripted.chat_requests()  # no "repair" of a cut answer: a smaller ask
    assert (first["max_tokens"], second["max_tokens"]) == (768, 384)
    limits = [
        body["response_format"]["json_schema"]["schema"]["$defs"]["Finding"]["properties"]
        for body in (first, second)
    ]
    assert limits[1]["explanation"]["maxLength"] < limits[0]["explanation"]["maxLength"]
    assert result.failed == (
        (
            "shop.py",
            "the model's answer was cut at 768 tokens, then at 384 tokens with a smaller allowance",
        ),
    )
    assert result.review_failed
    assert result.headline() == "Reviewed 0 of 1 file(s): the model's answer was cut off."
    summary = as_markdown(result)
    assert "**The review failed.** Reviewed 0 of 1 file(s)" in summary
    assert "No problems found" not in summary
    assert "0 file(s) reviewed, 1 skipped by policy, 1 failed" in summary
    text = as_text(result)
    assert "shop.py: NOT REVIEWED (the model's answer was cut at 768 tokens" in text


def test_no_problems_found_only_when_every_file_was_reviewed(
    repo: Path, scripted: ScriptedServer
) -> None:
    (repo / "other.py").write_text("def f(x):\n    return x + 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "another file")
    change = local_change(repo, "main")
    scripted.push(answer())  # the first file: clean
    scripted.fallback = runaway_reply()  # the second: cut, twice
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, change.config))
    assert (result.files_reviewed, len(result.failed), result.review_failed) == (1, 1, False)
    summary = as_markdown(result)
    assert "**Incomplete review.** Reviewed 1 of 2 file(s): the model's answer was cut off." in (
        summary
    )
    assert "No problems found" not in summary
    scripted.reset()
    scripted.push(answer(), answer())
    complete = run(scripted, ReviewInput(change.title, change.body, change.diff, change.config))
    assert complete.complete
    assert complete.files_reviewed == 2
    assert "No problems found: all 2 reviewable file(s) reviewed." in as_markdown(complete)


def test_cli_review_says_when_the_review_failed(repo: Path, scripted: ScriptedServer) -> None:
    scripted.fallback = runaway_reply()
    done = subprocess.run(
        assist_cmd("review", "--repo", str(repo), "--base", "main"),
        env=assist_env(
            {
                "ASSIST_LLM_BASE_URLS": scripted.base_url,
                "ASSIST_LLM_MODEL": "scripted",  # the served name the model check expects
                "ASSIST_LLM_MAX_RETRIES": "0",
                "ASSIST_LLM_CONTEXT_TOKENS": "32768",
            }
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Reviewed 0 of 1 file(s): the model's answer was cut off." in done.stderr
    assert "0 file(s) reviewed, 1 skipped by policy, 1 failed" in done.stdout


def test_cli_review_sarif(repo: Path, scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.push(answer(finding()))
    out = tmp_path / "review.sarif"
    done = subprocess.run(
        assist_cmd(
            "review",
            "--repo",
            str(repo),
            "--base",
            "main",
            "--format",
            "sarif",
            "--output",
            str(out),
        ),
        env=assist_env(
            {
                "ASSIST_LLM_BASE_URLS": scripted.base_url,
                "ASSIST_LLM_MODEL": "scripted",
                "ASSIST_LLM_MAX_RETRIES": "0",
                "ASSIST_LLM_CONTEXT_TOKENS": "32768",
            }
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (hit,) = json.loads(out.read_text())["runs"][0]["results"]
    assert hit["ruleId"] == "bug"
    assert hit["level"] == "error"


@pytest.mark.vllm
def test_real_model_review_is_schema_valid_and_anchored(
    repo: Path, vllm_server: VLLMServer
) -> None:
    """SmolLM2 is too small to judge quality; every finding it makes must still be valid,
    and every placed one on a changed line the forge accepts."""
    change = local_change(repo, "main")
    request = ReviewInput(change.title, change.body, change.diff, change.config)

    async def go() -> ReviewResult:
        config = LLMConfig(
            (vllm_server.base_url,), vllm_server.model, seed=1, timeout_s=REQUEST_TIMEOUT_S
        )
        async with OpenAIClient(config) as client:
            return await review_diff(
                request, client, client, nonce="f00d1234", context_tokens=2048, answer_tokens=384
            )

    result = asyncio.run(go())
    assert result.files_reviewed == 1
    assert result.usage.requests >= 1
    from bot.review.diff import parse_diff

    files = {f.path: f for f in parse_diff(change.diff)}
    for placed in result.placed:
        FindingsAnswer.model_validate({"findings": [placed.finding.model_dump()]})
        lines = set(range(placed.anchor.start_line, placed.anchor.end_line + 1))
        assert lines <= files[placed.anchor.path].commentable_lines
        assert lines & files[placed.anchor.path].added_lines


def test_local_change_carries_the_head_sources(repo: Path) -> None:
    change = local_change(repo, "main")
    assert change.sources["shop.py"] == AFTER
    assert "poetry.lock" in change.sources  # text, so kept; the review filters skip it
