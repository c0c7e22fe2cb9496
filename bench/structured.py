"""Structured answers on real diffs: how often the served model's answers parse.

Sends the requests the bot sends, through its own code (sized schemas, the smaller retry of a
cut answer), on the real pull requests of ``../shared/corpora/aacr-mini``: one review per
changed file (the real pipeline, one file at a time so each request is attributed), then per
pull request one scoring request (candidates quoting its added lines), one `/assist ask`, one
fix file choice and one fix edit. Reports per kind the share of answers that parsed on the
first try, after one retry (a repair or the smaller allowance), and never, with the completion
tokens per answer. The ask answer is free text: "parsed" there means it ended before its
budget.

    ASSIST_CORPORA=../shared/corpora .venv/bin/python -m bench.structured \\
        --base-url http://127.0.0.1:18000/v1 --model smollm2-135m-instruct \\
        --items 6 --files 4 --concurrency 4

Keep it modest against a shared CPU server: each answer takes seconds to minutes there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fix.answers import (  # noqa: E402
    EditAnswer,
    LocateAnswer,
    edit_allowance,
    locate_allowance,
)
from bot.fix.localise import Candidate as FixCandidate  # noqa: E402
from bot.fix.localise import outline  # noqa: E402
from bot.fix.prompt import IssueText, edit_layout, locate_layout  # noqa: E402
from bot.llm import (  # noqa: E402
    AnswerCutOffError,
    Completion,
    LLMConfig,
    LLMError,
    Message,
    ModelOutputError,
    OpenAIClient,
    PromptTooLongError,
    StreamEvent,
    Structured,
    Usage,
    fit,
    sized_schema,
    sizer_for,
)
from bot.llm.types import M  # noqa: E402
from bot.repoconfig import parse_repo_config  # noqa: E402
from bot.review.ask import answer_question, ask_layout  # noqa: E402
from bot.review.diff import FileDiff, LineKind, parse_diff  # noqa: E402
from bot.review.filters import skip_reason  # noqa: E402
from bot.review.findings import Category, Finding, Severity  # noqa: E402
from bot.review.pipeline import ReviewInput, review_diff  # noqa: E402
from bot.review.prompt import numbered_diff  # noqa: E402
from bot.review.scoring import Candidate, score  # noqa: E402

_HEADER = re.compile(r"^diff --git ", re.MULTILINE)


@dataclass
class Call:
    """One complete_json (or complete) call as the recorder saw it."""

    kind: str
    parsed: bool
    repaired: bool
    cut: bool
    completion_tokens: int


@dataclass
class Recorder:
    """Implements :class:`bot.llm.LLM` around the real client and records every answer."""

    inner: OpenAIClient
    calls: list[Call] = field(default_factory=list)
    tag: str = ""

    @property
    def usage(self) -> Usage:
        return self.inner.usage

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
    ) -> Completion:
        result = await self.inner.complete(
            messages, max_tokens=max_tokens, temperature=temperature, stop=stop
        )
        cut = result.finish_reason == "length"
        self.calls.append(Call("text", not cut, False, cut, result.usage.completion_tokens))
        return result

    async def complete_json(
        self,
        messages: Sequence[Message],
        output: type[M],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        schema: Mapping[str, Any] | None = None,
    ) -> Structured[M]:
        try:
            result = await self.inner.complete_json(
                messages, output, max_tokens=max_tokens, temperature=temperature, schema=schema
            )
        except AnswerCutOffError as error:
            self.calls.append(Call(output.__name__, False, False, True, error.tokens))
            raise
        except ModelOutputError:
            self.calls.append(Call(output.__name__, False, True, False, max_tokens))
            raise
        tokens = result.completion.usage.completion_tokens
        self.calls.append(Call(output.__name__, True, result.repaired, False, tokens))
        return result

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
    ) -> AsyncIterator[StreamEvent]:
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)


@dataclass
class Tally:
    """Per kind: answers on the first try, after one retry, never; completion tokens."""

    first: int = 0
    retried: int = 0
    never: int = 0
    tokens: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, calls: Sequence[Call]) -> None:
        """One logical request: its calls in order (the smaller retry is a second call)."""
        if not calls:
            self.never += 1
            self.notes.append("no call made (prompt too large or budget too small)")
            return
        self.tokens += [c.completion_tokens for c in calls]
        if calls[0].parsed and not calls[0].repaired:
            self.first += 1
        elif any(c.parsed for c in calls):
            self.retried += 1
        else:
            self.never += 1

    @property
    def total(self) -> int:
        return self.first + self.retried + self.never

    def row(self, kind: str) -> str:
        n = max(1, self.total)
        tokens = self.tokens or [0]
        return (
            f"| {kind} | {self.total} | {self.first / n:.1%} | {self.retried / n:.1%} | "
            f"{self.never / n:.1%} | {statistics.mean(tokens):.0f} | "
            f"{statistics.median(tokens):.0f} | {max(tokens)} |"
        )


@dataclass(frozen=True)
class Item:
    name: str
    title: str
    body: str
    diff: str
    heads: Mapping[str, str]


def load_items(corpora: Path, count: int) -> list[Item]:
    items = []
    for folder in sorted((corpora / "aacr-mini" / "items").iterdir())[:count]:
        meta = json.loads((folder / "item.json").read_text())
        heads = {
            str(p.relative_to(folder / "head")): p.read_text(errors="replace")
            for p in (folder / "head").rglob("*")
            if p.is_file()
        }
        title = f"{meta['repo']}#{meta['pr_number']}: {meta.get('category', '')}"
        body = f"Pull request {meta['githubPrUrl']}"
        items.append(Item(folder.name, title, body, (folder / "diff.patch").read_text(), heads))
    return items


def split_diff(diff: str) -> list[str]:
    starts = [m.start() for m in _HEADER.finditer(diff)]
    return [diff[a:b] for a, b in zip(starts, [*starts[1:], len(diff)], strict=True)]


def added(file: FileDiff, limit: int) -> list[tuple[int, str]]:
    out = [
        (line.new_no or 0, line.text)
        for hunk in file.hunks
        for line in hunk.lines
        if line.kind is LineKind.ADDED and line.text.strip()
    ]
    return out[:limit]


async def bench(args: argparse.Namespace) -> dict[str, Tally]:
    corpora = Path(os.environ.get("ASSIST_CORPORA", str(ROOT.parent / "shared" / "corpora")))
    config = parse_repo_config("[review]\nmin_confidence = 0\n")  # scoring measured apart
    llm_config = LLMConfig(
        (args.base_url,),
        args.model,
        timeout_s=args.timeout,
        max_retries=1,
        max_concurrency=args.concurrency,
        seed=1,
    )
    tallies: dict[str, Tally] = defaultdict(Tally)
    async with OpenAIClient(llm_config) as client:
        jobs = []
        for item in load_items(corpora, args.items):
            pieces = split_diff(item.diff)
            files = [f for f in parse_diff(item.diff) if skip_reason(f, config) is None]
            wanted = {f.path for f in files[: args.files]}
            for piece in pieces:
                parsed = parse_diff(piece)
                if parsed and parsed[0].path in wanted:
                    jobs.append(review_one(client, item, piece, config, args, tallies))
            if files:
                jobs.append(others(client, item, files, args, tallies))
        await sizer_for(client).filler()  # measured once, before the jobs share it
        started = time.monotonic()
        await asyncio.gather(*jobs)
        print(f"# {len(jobs)} jobs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return tallies


async def review_one(
    client: OpenAIClient,
    item: Item,
    piece: str,
    config: Any,
    args: argparse.Namespace,
    tallies: dict[str, Tally],
) -> None:
    recorder = Recorder(client)
    request = ReviewInput(item.title, item.body, piece, config, sources=item.heads)
    try:
        result = await review_diff(
            request,
            recorder,
            client,
            nonce="bench0structured",
            context_tokens=args.context,
            answer_tokens=args.answer_tokens,
        )
    except LLMError as error:
        tallies["review"].never += 1
        tallies["review"].notes.append(f"{item.name}: {error}")
        return
    tallies["review"].add(recorder.calls)
    for path, why in result.failed:
        tallies["review"].notes.append(f"{item.name} {path}: {why}")
    print(f"review {item.name} {result.headline()}", file=sys.stderr, flush=True)


async def others(
    client: OpenAIClient,
    item: Item,
    files: Sequence[FileDiff],
    args: argparse.Namespace,
    tallies: dict[str, Tally],
) -> None:
    """Score, ask, fix file choice and fix edit for one pull request."""
    first = files[0]
    lines = added(first, 3)
    candidates = [
        Candidate(
            Finding(
                file=first.path,
                quoted_code=text.strip()[:200] or "x",
                line=number,
                severity=Severity.MINOR,
                category=Category.BUG,
                title="This line may be wrong",
                explanation="Check the values this line handles at the edges.",
            ),
            first.path,
            f"{number:>6} +{text}",
        )
        for number, text in lines
    ]
    if candidates:
        recorder = Recorder(client)
        scored = await score(
            recorder, client, candidates, nonce="bench0structured", context_tokens=args.context
        )
        tallies["score"].add(recorder.calls)
        if scored.failure:
            tallies["score"].notes.append(f"{item.name}: {scored.failure}")
    recorder = Recorder(client)
    layout = ask_layout(
        question="What does this change do, and is anything risky in it?",
        title=item.title,
        body=item.body,
        diffs="\n\n".join(numbered_diff(f) for f in files[:2]),
        context="",
        nonce="bench0structured",
    )
    await answer_question(recorder, client, layout, context_tokens=args.context)
    tallies["ask"].add(recorder.calls)
    issue = IssueText(None, f"Review finding in {first.path}", item.title)
    outlines = [
        (FixCandidate(f.path, 1.0, ("changed",)), outline(f.path, item.heads.get(f.path, "")))
        for f in files[:4]
    ]
    await structured_fix(
        client,
        "locate",
        LocateAnswer,
        locate_layout(issue, outlines, nonce="bench0structured", max_files=2),
        locate_allowance(args.locate_tokens, 2),
        args,
        tallies,
    )
    text = item.heads.get(first.path, "")
    await structured_fix(
        client,
        "edit",
        EditAnswer,
        edit_layout(issue, [(first.path, text)], nonce="bench0structured"),
        edit_allowance(args.edit_tokens),
        args,
        tallies,
    )


async def structured_fix(
    client: OpenAIClient,
    kind: str,
    output: Any,
    layout: Any,
    allowance: Any,
    args: argparse.Namespace,
    tallies: dict[str, Tally],
) -> None:
    """The fix requests as bot/fix/pipeline.py sends them (sized schema, smaller retry)."""
    recorder = Recorder(client)
    tries = [allowance, allowance.smaller()]
    for attempt in [t for t in tries if t is not None]:
        try:
            schema = await sized_schema(output, client, attempt)
            fitted = await fit(
                layout,
                client,
                context_tokens=args.context,
                reserve_tokens=attempt.answer_tokens,
                answer=output,
                schema=schema,
            )
            await recorder.complete_json(
                fitted.messages(), output, max_tokens=attempt.answer_tokens, schema=schema
            )
        except AnswerCutOffError:
            continue
        except (ModelOutputError, PromptTooLongError) as error:
            tallies[kind].notes.append(f"{type(error).__name__}: {error}")
        break
    tallies[kind].add(recorder.calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:18000/v1")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--files", type=int, default=4, help="file reviews per pull request")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--answer-tokens", type=int, default=768)
    parser.add_argument("--locate-tokens", type=int, default=512)
    parser.add_argument("--edit-tokens", type=int, default=768)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    started = time.monotonic()
    tallies = asyncio.run(bench(args))
    print(f"model {args.model} at {args.base_url}, {time.monotonic() - started:.0f} s")
    print("| request | answers | parsed first try | after one retry | never | "
          "completion tokens mean | median | max |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("review", "score", "ask", "locate", "edit"):
        if kind in tallies:
            print(tallies[kind].row(kind))
    for kind, tally in tallies.items():
        for note in tally.notes[:10]:
            print(f"- {kind}: {note}")
    if args.json:
        args.json.write_text(
            json.dumps({k: vars(v) for k, v in tallies.items()}, indent=2, default=list)
        )


if __name__ == "__main__":
    main()
