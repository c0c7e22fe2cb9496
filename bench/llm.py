"""Throughput of a running OpenAI-compatible model server with review-sized requests.

    .venv/bin/python bench/llm.py --base-url http://127.0.0.1:8000/v1 \
        --model smollm2-135m-instruct --requests 32 --concurrency 1,4,16

Each request looks like one file of a review: the same system prompt and repository context
(the stable prefix, ~700 tokens with SmolLM2's tokenizer) followed by a different diff
(~250 tokens), answered with up to ``--max-tokens`` tokens. For each concurrency level it prints
requests/s, completion and prompt tokens/s, latency percentiles, and the prefix-cache hit rate:
from vLLM's ``vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total`` counters (delta
over the run, all replicas), and as reported per request (``cached_tokens``). The same command
measures a GPU vLLM: pass its URL(s) and model name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass

import httpx

from bot.llm import LLMConfig, Message, OpenAIClient, PromptLayout, Section, new_nonce
from bot.llm.config import server_root

REPO_MAP = "".join(
    f"src/service/module_{i:02d}.py: class Handler{i}(Base): handle(request) -> Response; "
    f"validate(payload: dict) -> bool\n"
    for i in range(10)
)
PR_BODY = (
    "Refactor the request handlers to share validation.\n\n"
    "Every handler validated its payload by hand; this moves the checks into Base.validate "
    "and adds tests. No behaviour change intended."
)


def diff_for(i: int) -> str:
    lines = [f"@@ -{10 + i},7 +{10 + i},9 @@ class Handler{i}(Base):"]
    for j in range(5):
        lines.append(f"-        if not payload.get('field_{j}'): raise ValueError('field_{j}')")
        lines.append(f"+        self.require(payload, 'field_{j}', kind=str, request_id={i})")
    return "\n".join(lines) + "\n"


def messages_for(i: int, nonce: str) -> list[Message]:
    return PromptLayout(
        "You are a careful code reviewer. Point out bugs in the diff, briefly.",
        (
            Section("Pull request", PR_BODY, kind="pr_body"),
            Section("Repository map", REPO_MAP, kind="repo_map", untrusted=False),
        ),
        (Section(f"src/service/module_{i % 10:02d}.py", diff_for(i), kind="diff"),),
        nonce,
    ).messages()


@dataclass(frozen=True)
class Level:
    concurrency: int
    requests: int
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latencies: tuple[float, ...]
    server_hits: float | None

    def as_dict(self) -> dict[str, object]:
        ordered = sorted(self.latencies)
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "wall_s": round(self.wall_s, 2),
            "requests_per_s": round(self.requests / self.wall_s, 3),
            "completion_tokens_per_s": round(self.completion_tokens / self.wall_s, 1),
            "prompt_tokens_per_s": round(self.prompt_tokens / self.wall_s, 1),
            "latency_p50_s": round(statistics.median(ordered), 2),
            "latency_p95_s": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
            "reported_cache_hit_rate": round(self.cached_tokens / max(self.prompt_tokens, 1), 3),
            "server_prefix_cache_hit_rate": (
                None if self.server_hits is None else round(self.server_hits, 3)
            ),
        }


async def prefix_counters(urls: list[str]) -> tuple[float, float] | None:
    """Sum of vLLM's prefix-cache hits and queries over the replicas; None if not exported."""
    hits = queries = 0.0
    found = False
    async with httpx.AsyncClient(timeout=10) as http:
        for url in urls:
            try:
                text = (await http.get(f"{server_root(url)}/metrics")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith("vllm:prefix_cache_hits_total{"):
                    hits += float(line.rsplit(" ", 1)[1])
                    found = True
                elif line.startswith("vllm:prefix_cache_queries_total{"):
                    queries += float(line.rsplit(" ", 1)[1])
    return (hits, queries) if found else None


async def run_level(args: argparse.Namespace, concurrency: int, offset: int) -> Level:
    config = LLMConfig(
        base_urls=tuple(args.base_url),
        model=args.model,
        api_key=args.api_key,
        max_concurrency=concurrency,
        timeout_s=args.timeout,
        max_retries=1,
    )
    nonce = new_nonce()  # a fresh prefix per level: the first request of each level misses
    before = await prefix_counters(args.base_url)
    async with OpenAIClient(config) as llm:
        started = time.perf_counter()
        results = await asyncio.gather(
            *[
                llm.complete(messages_for(offset + i, nonce), max_tokens=args.max_tokens)
                for i in range(args.requests)
            ]
        )
        wall = time.perf_counter() - started
        usage = llm.usage
    after = await prefix_counters(args.base_url)
    server_hits = None
    if before is not None and after is not None and after[1] > before[1]:
        server_hits = (after[0] - before[0]) / (after[1] - before[1])
    return Level(
        concurrency,
        args.requests,
        wall,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_prompt_tokens,
        tuple(r.usage.latency_s for r in results),
        server_hits,
    )


async def main_async(args: argparse.Namespace) -> list[dict[str, object]]:
    async with OpenAIClient(
        LLMConfig(base_urls=tuple(args.base_url), model=args.model, api_key=args.api_key)
    ) as llm:
        warm = await llm.complete(messages_for(0, new_nonce()), max_tokens=1)
        print(f"# prompt size: {warm.usage.prompt_tokens} tokens; warm-up done", flush=True)
    rows = []
    for n, concurrency in enumerate(args.concurrency):
        level = await run_level(args, concurrency, offset=n * args.requests)
        row = level.as_dict()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", action="append", required=True, help="repeat for replicas")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--requests", type=int, default=32, help="requests per level")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 4, 16],
        help="comma-separated concurrency levels",
    )
    parser.add_argument("--max-tokens", type=int, default=48, help="answer length cap")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    rows = asyncio.run(main_async(args))
    print()
    print(
        "| concurrency | req/s | completion tok/s | prompt tok/s | p50 s | p95 s | "
        "cache hit (server) | cache hit (reported) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['concurrency']} | {row['requests_per_s']} | {row['completion_tokens_per_s']}"
            f" | {row['prompt_tokens_per_s']} | {row['latency_p50_s']} | {row['latency_p95_s']}"
            f" | {row['server_prefix_cache_hit_rate']} | {row['reported_cache_hit_rate']} |"
        )


if __name__ == "__main__":
    main()
