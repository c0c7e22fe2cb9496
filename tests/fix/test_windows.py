"""Localisation to scopes and edit windows fitted to a small context, on a real 3,000-line file
(the interpreter's own ``inspect.py``), with SmolLM2's real tokenizer and a scripted model
over HTTP: the window holds the scope, the SEARCH block is placed inside it, the patch is
checked; an edit outside the windows is refused and retried; a scope too large is split, and
one that cannot be split enough is reported with its size."""

from __future__ import annotations

import asyncio
import inspect as inspect_module
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bot.fix.answers import EditAnswer
from bot.fix.checks import Status
from bot.fix.edits import Applied, EditBlock, Method, apply_edits
from bot.fix.localise import SearchHit
from bot.fix.pipeline import FixOptions, FixOutcome, fix_issue
from bot.fix.prompt import IssueText
from bot.fix.windows import (
    Scope,
    Window,
    WindowGuard,
    fit_windows,
    merge,
    rank_scopes,
    scopes_of,
    used_signatures,
)
from bot.llm import LLMConfig, LocalTokenizer, OpenAIClient
from bot.llm.structured import with_schema
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.support.vllm import VLLM_MODEL_DIR

BIG = Path(inspect_module.__file__).read_text()
BIG_PATH = "lib/inspect.py"
NONCE = "abcdef0123456789"
CONTEXT = 2048
ANSWER = 768
SEARCH = "        while lines and not lines[-1]:\n            lines.pop()\n"
REPLACE = "        while lines and not lines[-1].strip():\n            lines.pop()\n"
ISSUE = IssueText(
    7,
    "cleandoc keeps trailing whitespace-only lines",
    "`cleandoc` strips trailing empty lines but a last line of spaces survives.",
)


@pytest.fixture(scope="module")
def tokenizer() -> LocalTokenizer:
    """SmolLM2's own tokenizer (installed with the CPU model by deploy/cpu-model/setup.sh)."""
    if not (VLLM_MODEL_DIR / "tokenizer.json").is_file():
        if os.environ.get("ASSIST_SKIP_VLLM") == "1":
            pytest.skip("ASSIST_SKIP_VLLM=1 and SmolLM2's tokenizer is not installed")
        pytest.fail(
            f"SmolLM2 is not installed under {VLLM_MODEL_DIR}: run deploy/cpu-model/setup.sh"
        )
    return LocalTokenizer(VLLM_MODEL_DIR)


class Files:
    """The repository's files in memory (the pipeline's Source protocol)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = dict(files)

    def paths(self) -> Sequence[str]:
        return sorted(self.files)

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def refusal(self, path: str) -> str | None:
        return None


def locate_reply(path: str, *symbols: str) -> dict[str, object]:
    return {"files": [{"path": path, "symbols": list(symbols), "reason": "the issue names it"}]}


def edit_reply(*blocks: tuple[str, str, str]) -> str:
    edits = [{"path": p, "search": s, "replace": r} for p, s, r in blocks]
    return json.dumps({"plan": "Strip whitespace-only lines too.", "edits": edits})


def run_fix(
    scripted: ScriptedServer,
    tokenizer: LocalTokenizer,
    files: Mapping[str, str],
    issue: IssueText,
    *,
    context: int = CONTEXT,
) -> FixOutcome:
    async def go() -> FixOutcome:
        config = LLMConfig((scripted.base_url,), "scripted", max_retries=0)
        async with OpenAIClient(config) as llm:
            return await fix_issue(
                issue,
                source=Files(files),
                llm=llm,
                tokenizer=tokenizer,
                nonce=NONCE,
                options=FixOptions(
                    candidates=1, context_tokens=context, answer_tokens=ANSWER, locate_tokens=256
                ),
            )

    return asyncio.run(go())


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- the scripted end to end -------------------------------------------------------------------


def test_a_fix_in_a_3000_line_file_fits_a_2k_context(
    scripted: ScriptedServer, tokenizer: LocalTokenizer
) -> None:
    assert BIG.count("\n") > 3000
    assert BIG.count(SEARCH) == 1
    files = {BIG_PATH: BIG, "README.md": "# lib\n"}
    scripted.push(
        chat_reply(json.dumps(locate_reply(BIG_PATH, "cleandoc"))),
        chat_reply(edit_reply((BIG_PATH, SEARCH, REPLACE))),
    )
    outcome = run_fix(scripted, tokenizer, files, ISSUE)

    # localisation's second step put cleandoc first, with its line range
    top = outcome.scopes[0]
    assert (top.path, top.qualname) == (BIG_PATH, "cleandoc")
    assert top.start_line == line_of(BIG, "def cleandoc(doc):")
    # the window holds the scope and the prompt fits the context with the answer reserved
    (window, *_rest) = [w for w in outcome.windows if "cleandoc" in w.scopes]
    assert window.start_line <= top.start_line
    assert top.end_line <= window.end_line
    edit_request = scripted.chat_requests()[1]
    sent = [m["content"] for m in edit_request["messages"]]
    assert "def cleandoc(doc):" in sent[1]
    assert "def getsourcelines(object):" not in sent[1]  # not the whole file
    from bot.llm.types import Message

    messages = [Message(m["role"], m["content"]) for m in edit_request["messages"]]
    assert asyncio.run(tokenizer.count_chat(messages)) <= CONTEXT - ANSWER
    assert edit_request["max_tokens"] == ANSWER
    # the SEARCH block was placed inside the window, and the patch checked
    chosen = outcome.chosen
    assert chosen is not None
    assert chosen.ready, chosen
    (applied,) = chosen.applied
    assert applied.start_line == line_of(BIG, SEARCH)
    assert chosen.files[BIG_PATH] == BIG.replace(SEARCH, REPLACE)
    assert {c.name: c.status for c in chosen.checks} == {
        "edits": Status.PASSED,
        "syntax": Status.PASSED,
        "names": Status.PASSED,
        "tests": Status.SKIPPED,
    }
    assert "-        while lines and not lines[-1]:" in chosen.diff


def test_an_edit_outside_the_windows_is_refused_and_retried(
    scripted: ScriptedServer, tokenizer: LocalTokenizer
) -> None:
    elsewhere = "    if ismodule(object):\n        if getattr(object, '__file__', None):\n"
    assert BIG.count(elsewhere) == 1
    scripted.push(
        chat_reply(json.dumps(locate_reply(BIG_PATH, "cleandoc"))),
        chat_reply(edit_reply((BIG_PATH, elsewhere, elsewhere.replace("if ", "if not ", 1)))),
        chat_reply(edit_reply((BIG_PATH, SEARCH, REPLACE))),
    )
    # 4k: the edit prompt keeps room for the retry's follow-up (a 2k one shows code instead)
    outcome = run_fix(scripted, tokenizer, {BIG_PATH: BIG}, ISSUE, context=4096)
    chosen = outcome.chosen
    assert chosen is not None
    assert chosen.retried
    assert chosen.files[BIG_PATH] == BIG.replace(SEARCH, REPLACE)  # the outside edit never landed
    retry = scripted.chat_requests()[2]["messages"][-1]["content"]
    assert "outside-window" in retry
    assert f"found at lines {line_of(BIG, elsewhere)}-" in retry


# --- windows fitted by structure ------------------------------------------------------------


def big_function(statements: int) -> str:
    body = "".join(
        f"    value_{i} = compute(value_{i - 1}, {i})  # step {i} of the pipeline\n"
        for i in range(1, statements + 1)
    )
    head = "def compute(a, b):\n    return a + b\n\n\ndef pipeline(value_0):\n"
    return f"{head}{body}    return value_{statements}\n"


def measure_with(tokenizer: LocalTokenizer, texts: Mapping[str, str]):  # type: ignore[no-untyped-def]
    from bot.fix.prompt import window_layout
    from bot.fix.windows import render

    async def measure(windows: Sequence[Window], signatures: str) -> int:
        views = [(w, render(w, texts[w.path])) for w in windows]
        layout = window_layout(ISSUE, views, nonce=NONCE, signatures=signatures)
        return await tokenizer.count_chat(with_schema(layout.messages(), EditAnswer))

    return measure


def test_a_scope_too_large_is_split_by_its_statements(tokenizer: LocalTokenizer) -> None:
    text = big_function(400)
    texts = {"steps.py": text}
    scope = next(s for s in scopes_of("steps.py", text) if s.qualname == "pipeline")
    measure = measure_with(tokenizer, texts)
    budget = CONTEXT - ANSWER
    fitted = asyncio.run(
        fit_windows([scope], texts, measure=measure, budget=budget, tokenizer=tokenizer)
    )
    assert fitted.too_large is None
    assert fitted.windows, fitted
    shown = fitted.windows[0]
    assert shown.start_line >= scope.start_line - 3
    assert shown.end_line < scope.end_line  # a part, not all 400 statements
    assert "part of `pipeline`" in shown.note
    assert any("too large for the context" in note for note in fitted.notes)
    assert asyncio.run(measure(fitted.windows, fitted.signatures)) <= budget
    # the window starts at the signature and ends on a statement boundary
    lines = text.split("\n")
    assert lines[shown.end_line - 1].startswith("    value_")
    # code first: the pieces fill the budget, the signatures come only where room is left
    assert fitted.signatures in ("", "steps.py:1: def compute(a, b)")


def test_signatures_come_with_a_window_that_leaves_room(tokenizer: LocalTokenizer) -> None:
    text = big_function(10)
    texts = {"steps.py": text}
    scope = next(s for s in scopes_of("steps.py", text) if s.qualname == "pipeline")
    fitted = asyncio.run(
        fit_windows(
            [scope],
            texts,
            measure=measure_with(tokenizer, texts),
            budget=CONTEXT - ANSWER,
            tokenizer=tokenizer,
            context=0,
        )
    )
    assert fitted.windows == (Window("steps.py", 5, 16, ("pipeline",)),)
    assert fitted.signatures == "steps.py:1: def compute(a, b)"


def test_a_scope_that_cannot_fit_is_reported_with_its_size(tokenizer: LocalTokenizer) -> None:
    text = "def blob():\n    return '" + "x y " * 3000 + "'\n"
    texts = {"blob.py": text}
    scope = scopes_of("blob.py", text)[0]
    fitted = asyncio.run(
        fit_windows(
            [scope],
            texts,
            measure=measure_with(tokenizer, texts),
            budget=CONTEXT - ANSWER,
            tokenizer=tokenizer,
        )
    )
    assert fitted.windows == ()
    assert fitted.too_large is not None
    message = fitted.too_large.message()
    assert "function `blob` in blob.py (lines 1-2)" in message
    assert fitted.too_large.tokens > fitted.too_large.budget
    assert f"needs {fitted.too_large.tokens} tokens" in message


# --- ranking, merging, guarding --------------------------------------------------------------


def test_rank_scopes_uses_picks_names_hits_and_words() -> None:
    text = (
        "def load(path):\n    return open(path).read()\n\n\n"
        "def parse_header(raw):\n    fields = raw.split(';')\n    return fields[:-1]\n\n\n"
        "class Client:\n    def send(self, body):\n        return body\n"
    )
    files = [("net.py", text)]
    ranked = rank_scopes("`parse_header` drops the last field", files)
    assert ranked[0].qualname == "parse_header"
    assert "named in the issue" in ranked[0].reasons
    picked = rank_scopes("the request body is lost", files, picked={"net.py": ["Client.send"]})
    assert picked[0].qualname == "Client.send"
    hit = SearchHit("net.py", "load", 1, 2, 0.9)
    searched = rank_scopes("reading a file", files, hits=[hit])
    assert searched[0].qualname == "load"
    assert "search rank 1" in searched[0].reasons


def test_merge_joins_overlapping_windows_of_one_file() -> None:
    merged = merge(
        [
            Window("a.py", 10, 20, ("f",)),
            Window("a.py", 18, 30, ("g",)),
            Window("b.py", 1, 5, ("h",)),
        ]
    )
    assert merged == [Window("a.py", 10, 30, ("f", "g")), Window("b.py", 1, 5, ("h",))]


def test_the_guard_moves_windows_with_the_edits() -> None:
    text = "".join(f"line {i}\n" for i in range(1, 41))
    guard = WindowGuard([Window("a.py", 5, 10, ("f",)), Window("a.py", 20, 25, ("g",))])
    blocks = [
        EditBlock("a.py", "line 6\n", "line 6\nnew a\nnew b\n"),  # +2 lines inside the first
        EditBlock("a.py", "line 21\nline 22\n", "both\n"),  # the second window moved by 2
        EditBlock("a.py", "line 30\n", "nope\n"),  # outside every window
        EditBlock("new.py", "", "created = True\n"),  # a new file needs no window
    ]
    outcome = apply_edits(blocks, {"a.py": text}.get, within=guard)
    assert [a.block.path for a in outcome.applied] == ["a.py", "a.py", "new.py"]
    (refused,) = outcome.rejected
    assert refused.problem.value == "outside-window"
    assert "lines 31-31" in refused.detail  # line 30: 2 lines added above, 1 removed
    assert "5-12, 22-26" in refused.detail
    assert outcome.files["new.py"] == "created = True\n"


def test_applied_records_the_replaced_span() -> None:
    outcome = apply_edits([EditBlock("a.py", "b\nc\n", "x\n")], {"a.py": "a\nb\nc\nd\n"}.get)
    (applied,) = outcome.applied
    assert applied == Applied(applied.block, Method.EXACT, 2, True, 3, 1)


def test_used_signatures_lists_what_a_window_calls_outside_it() -> None:
    text = big_function(3)
    window = Window("steps.py", 5, 9, ("pipeline",))
    assert used_signatures([window], {"steps.py": text}) == "steps.py:1: def compute(a, b)"
    assert used_signatures([Window("steps.py", 1, 9, ("(whole file)",))], {"steps.py": text}) == ""


def test_scopes_include_decorators() -> None:
    text = "import x\n\n\n@cache\ndef f():\n    return 1\n"
    (scope,) = scopes_of("m.py", text)
    assert (scope.start_line, scope.end_line) == (4, 6)
    assert isinstance(scope, Scope)
