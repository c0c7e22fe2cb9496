"""A file too large for one prompt is reviewed hunk group by hunk group (bot/review/hunks.py),
through the real pipeline and a scripted OpenAI-compatible server with an exact tokenizer."""

from __future__ import annotations

import asyncio
import difflib
import json

import pytest

from bot.llm import LLMConfig, OpenAIClient
from bot.repoconfig import parse_repo_config
from bot.review.diff import DiffLine, FileDiff, Hunk, LineKind, parse_diff
from bot.review.hunks import hunk_groups, split_hunk, with_hunks
from bot.review.pipeline import NOT_SCHEMA, TOO_LARGE, ReviewInput, ReviewResult, review_diff
from bot.review.prompt import numbered_diff
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply

ANSWER_TOKENS = 768
OLD = [f"value_{n} = compute({n})\n" for n in range(1, 91)]
CHANGED = {5: "value_5 = compute(5) * 0\n", 45: "value_45 = None\n", 85: "value_85 = -1\n"}
NEW = [CHANGED.get(n, line) for n, line in enumerate(OLD, start=1)]


def make_diff(old: list[str], new: list[str], path: str = "calc.py") -> str:
    return "".join(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))


def request(diff: str) -> ReviewInput:
    config = parse_repo_config(b'[review]\nmin_severity = "info"\nmin_confidence = 0.0\n')
    return ReviewInput("Change values", "", diff, config, context={"calc.py": ""})


def finding(quote: str, line: int) -> Reply:
    value = {
        "file": "calc.py", "quoted_code": quote, "line": line, "severity": "major",
        "category": "bug", "title": f"Wrong value at {line}", "explanation": "Looks wrong.",
        "replacement": None,
    }  # fmt: skip
    return chat_reply(json.dumps({"findings": [value]}))


def run(server: ScriptedServer, review: ReviewInput, context_tokens: int) -> ReviewResult:
    async def go() -> ReviewResult:
        config = LLMConfig(
            (server.base_url,), "scripted", max_retries=0, context_tokens=context_tokens
        )
        async with OpenAIClient(config) as client:
            return await review_diff(
                review,
                client,
                client,
                nonce="n0nce123",
                context_tokens=context_tokens,
                answer_tokens=ANSWER_TOKENS,
            )

    return asyncio.run(go())


def prompt_chars(body: dict[str, object]) -> int:
    """The scripted tokenizer's count of a request: one token a character, 4 per message
    and 3 for the generation prompt."""
    messages = body["messages"]
    assert isinstance(messages, list)
    return sum(len(m["content"]) + 4 for m in messages) + 3


def test_a_file_that_fits_is_one_request(scripted: ScriptedServer) -> None:
    diff = make_diff(OLD, NEW)
    scripted.push(finding("value_45 = None", 45))
    result = run(scripted, request(diff), context_tokens=100_000)
    assert len(scripted.chat_requests()) == 1
    assert [p.anchor.start_line for p in result.placed] == [45]
    assert result.complete


def one_hunk_context(scripted: ScriptedServer, diff: str) -> int:
    """A context with room for one hunk and a half (after the 5 % slack): each of the three
    hunks is a group of its own."""
    (file,) = parse_diff(diff)
    assert len(file.hunks) == 3
    # The whole prompt once, to know the fixed part (instructions, schema, fences).
    scripted.push(chat_reply('{"findings": []}'))
    run(scripted, request(diff), context_tokens=100_000)
    (whole,) = scripted.chat_requests()
    fixed = prompt_chars(whole) - len(numbered_diff(file))
    one_hunk = max(len(numbered_diff(with_hunks(file, (h,)))) for h in file.hunks)
    scripted.reset()
    return fixed + ANSWER_TOKENS + one_hunk * 3 // 2 * 100 // 95


def test_a_file_too_large_for_one_prompt_is_reviewed_group_by_group(
    scripted: ScriptedServer,
) -> None:
    diff = make_diff(OLD, NEW)
    context = one_hunk_context(scripted, diff)
    scripted.push(
        finding("value_5 = compute(5) * 0", 5),
        chat_reply('{"findings": []}'),
        finding("value_85 = -1", 85),
    )
    result = run(scripted, request(diff), context_tokens=context)
    sent = scripted.chat_requests()
    assert len(sent) == 3
    for body, changed in zip(sent, (5, 45, 85), strict=True):
        user = body["messages"][-1]["content"]
        assert CHANGED[changed].strip() in user
        others = set(CHANGED) - {changed}
        assert not any(CHANGED[o].strip() in user for o in others)
        assert prompt_chars(body) + ANSWER_TOKENS <= context
        assert "tokens cut to fit" not in user  # nothing was cut
    assert [(p.anchor.path, p.anchor.start_line) for p in result.placed] == [
        ("calc.py", 5),
        ("calc.py", 85),
    ]
    assert result.complete
    assert result.files_reviewed == 1
    # Each finding keeps the exact messages of the request it came from.
    for placed, body in zip(result.placed, (sent[0], sent[2]), strict=True):
        assert [m.as_json() for m in placed.prompt] == body["messages"]


def test_a_failed_group_is_named_and_the_others_are_kept(scripted: ScriptedServer) -> None:
    diff = make_diff(OLD, NEW)
    context = one_hunk_context(scripted, diff)
    scripted.push(
        finding("value_5 = compute(5) * 0", 5),
        chat_reply("not json"),  # a group's prompt fills the context: no room for a repair
        chat_reply('{"findings": []}'),
    )
    result = run(scripted, request(diff), context_tokens=context)
    sent = scripted.chat_requests()
    assert len(sent) == 3  # the repair (prompt, answer and instruction) would not fit: not sent
    assert all(prompt_chars(body) + ANSWER_TOKENS <= context for body in sent)
    assert [p.anchor.start_line for p in result.placed] == [5]
    assert result.failed == (
        ("calc.py", f"{NOT_SCHEMA} in 1 of its 3 hunk groups (the others were reviewed)"),
    )
    assert result.partly_reviewed == ("calc.py",)
    assert not result.complete
    assert not result.review_failed  # findings of the other groups stand


def test_a_hunk_larger_than_the_room_is_split(scripted: ScriptedServer) -> None:
    new = [*OLD[:40], *(f"extra_{n} = {n}\n" for n in range(30)), *OLD[40:]]
    diff = make_diff(OLD, new)
    (file,) = parse_diff(diff)
    assert len(file.hunks) == 1
    scripted.push(chat_reply('{"findings": []}'))
    run(scripted, request(diff), context_tokens=100_000)
    (whole,) = scripted.chat_requests()
    fixed = prompt_chars(whole) - len(numbered_diff(file))
    context = fixed + ANSWER_TOKENS + len(numbered_diff(file)) // 3
    scripted.reset()
    scripted.fallback = chat_reply('{"findings": []}')
    result = run(scripted, request(diff), context_tokens=context)
    sent = scripted.chat_requests()
    assert len(sent) >= 3
    seen = "".join(body["messages"][-1]["content"] for body in sent)
    for n in range(30):  # every added line was shown to the model
        assert f"+extra_{n} = {n}" in seen
    assert all(prompt_chars(body) + ANSWER_TOKENS <= context for body in sent)
    assert result.complete


def test_too_small_a_context_says_so(scripted: ScriptedServer) -> None:
    result = run(scripted, request(make_diff(OLD, NEW)), context_tokens=ANSWER_TOKENS + 50)
    assert scripted.chat_requests() == []
    assert result.failed == (("calc.py", TOO_LARGE),)


def _line(kind: LineKind, old: int | None, new: int | None) -> DiffLine:
    return DiffLine(kind, old, new, f"{kind.name} {old} {new}")


def test_split_hunk_headers() -> None:
    lines = (
        _line(LineKind.CONTEXT, 10, 20),
        _line(LineKind.REMOVED, 11, None),
        _line(LineKind.ADDED, None, 21),
        _line(LineKind.ADDED, None, 22),
        _line(LineKind.CONTEXT, 12, 23),
    )
    head, tail = split_hunk(Hunk(10, 3, 20, 4, "def f():", lines))
    assert (head.old_start, head.old_length, head.new_start, head.new_length) == (10, 2, 20, 1)
    assert (tail.old_start, tail.old_length, tail.new_start, tail.new_length) == (12, 1, 21, 3)
    assert head.lines + tail.lines == lines
    assert head.section == tail.section == "def f():"
    added = (_line(LineKind.ADDED, None, 8), _line(LineKind.ADDED, None, 9))
    inserted = Hunk(7, 0, 8, 2, "", added)
    first, second = split_hunk(inserted)
    assert (first.old_start, first.old_length, first.new_start, first.new_length) == (7, 0, 8, 1)
    assert (second.old_start, second.old_length, second.new_start, second.new_length) == (
        7, 0, 9, 1,
    )  # fmt: skip
    with pytest.raises(ValueError, match="one line"):
        split_hunk(Hunk(7, 0, 8, 1, "", (_line(LineKind.ADDED, None, 8),)))


def test_hunk_groups_pack_in_order() -> None:
    (file,) = parse_diff(make_diff(OLD, NEW))

    async def measure(part: FileDiff) -> int:
        return len(part.hunks) * 10

    groups = asyncio.run(hunk_groups(file, 20, measure))
    assert groups is not None
    assert [len(g.hunks) for g in groups] == [2, 1]
    assert tuple(h for g in groups for h in g.hunks) == file.hunks
    assert asyncio.run(hunk_groups(file, 5, measure)) is None
