"""The second pass, the code context sent with each file, and suggestion checking."""

from __future__ import annotations

import json
from pathlib import Path

from bot.review.context import file_context
from bot.review.diff import parse_diff
from bot.review.local import local_change
from bot.review.pipeline import ReviewInput
from bot.review.suggest import SuggestionKind, apply_replacement, classify, error_count
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.review.test_pipeline import AFTER, answer, finding, run


def scores(*pairs: tuple[int, float]) -> object:
    return chat_reply(json.dumps({"scores": [{"index": i, "confidence": c} for i, c in pairs]}))


def test_low_confidence_findings_are_dropped(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    scripted.push(
        answer(
            finding(),
            finding(quoted_code="result += items[i].price", title="speculative", category="bug"),
        ),
        scores((0, 0.95), (1, 0.2)),
    )
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, change.config))
    assert [(p.finding.title, p.confidence) for p in result.placed] == [
        ("Skips the first item", 0.95)
    ]
    assert result.dropped_low_confidence == 1
    assert result.scoring_note == ""
    # The second pass saw both candidates with their numbered code.
    prompt = scripted.chat_requests()[1]["messages"][-1]["content"]
    assert "## candidate 1" in prompt
    assert "for i in range(1, len(items)):" in prompt


def test_threshold_zero_turns_the_second_pass_off(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    from bot.repoconfig import parse_repo_config

    config = parse_repo_config("[review]\nmin_confidence = 0\n")
    scripted.push(answer(finding()))
    result = run(scripted, ReviewInput(change.title, change.body, change.diff, config))
    assert len(result.placed) == 1
    assert len(scripted.chat_requests()) == 1


def test_the_enclosing_function_goes_with_the_file(repo: Path, scripted: ScriptedServer) -> None:
    change = local_change(repo, "main")
    scripted.push(answer(), scores())
    request = ReviewInput(
        change.title, change.body, change.diff, change.config, sources={"shop.py": AFTER}
    )
    run(scripted, request)
    user = scripted.chat_requests()[0]["messages"][-1]["content"]
    assert "# function total" in user
    assert '"""Sum the prices of items."""' in user  # a context line outside the hunk


def test_already_posted_findings_are_counted_not_repeated(
    repo: Path, scripted: ScriptedServer
) -> None:
    from bot.review.findings import Category, fingerprint

    change = local_change(repo, "main")
    posted = fingerprint("shop.py", "for i in range(1, len(items)):", Category.BUG)
    scripted.push(answer(finding()))
    from bot.review.pipeline import review_diff  # noqa: F401  (run() calls it)

    async def go() -> object:
        from bot.llm import LLMConfig, OpenAIClient
        from bot.review.pipeline import review_diff as rd

        config = LLMConfig((scripted.base_url,), "scripted", max_retries=0)
        async with OpenAIClient(config) as client:
            return await rd(
                ReviewInput(change.title, change.body, change.diff, change.config),
                client,
                client,
                nonce="n0nce123",
                context_tokens=16000,
                already_posted=frozenset({posted}),
            )

    import asyncio

    result = asyncio.run(go())
    assert result.placed == ()  # type: ignore[attr-defined]
    assert result.already_posted == 1  # type: ignore[attr-defined]
    assert len(scripted.chat_requests()) == 1  # nothing new to score


SOURCE = "def f(x):\n    return x +1\n\n\nprint(f(2))\n"


def test_suggestion_that_parses_is_committable() -> None:
    assert classify("a.py", SOURCE, 2, 2, "    return x + 1") is SuggestionKind.COMMITTABLE
    assert classify("a.py", SOURCE, 2, 2, "    return (x + 1") is SuggestionKind.PLAIN
    assert classify("a.txt", SOURCE, 2, 2, "    return x + 1") is SuggestionKind.PLAIN
    assert classify("a.py", None, 2, 2, "    return x + 1") is SuggestionKind.PLAIN
    assert classify("a.py", SOURCE, 9, 9, "x") is SuggestionKind.PLAIN  # outside the file


def test_a_file_already_broken_is_not_blamed_on_the_suggestion() -> None:
    broken = "def f(:\n    return x +1\n"
    assert error_count(broken.encode(), "python") > 0
    assert classify("a.py", broken, 2, 2, "    return x + 1") is SuggestionKind.COMMITTABLE


def test_apply_keeps_line_endings() -> None:
    crlf = "a = 1\r\nb = 2\r\nc = 3"
    assert apply_replacement(crlf, 2, 2, "b = 20\nb2 = 21") == "a = 1\r\nb = 20\r\nb2 = 21\r\nc = 3"
    assert apply_replacement(crlf, 3, 3, "c = 30") == "a = 1\r\nb = 2\r\nc = 30"


def test_context_lists_definitions_the_change_uses() -> None:
    diff = (
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -4,3 +4,4 @@ class A:\n"
        "     def f(self, x):\n         y = x\n+        z = helper(y)\n         return y\n"
    )
    source = (
        "def helper(v):\n    return v\nclass A:\n    def f(self, x):\n        y = x\n"
        "        z = helper(y)\n        return y\n"
    )
    text = file_context(parse_diff(diff)[0], {"m.py": source, "other.py": "def helper2(): pass\n"})
    assert "# method A.f" in text
    assert "m.py:1: def helper(v)" in text
    assert "helper2" not in text
    assert file_context(parse_diff(diff)[0], {}) == ""
