"""Intake benchmark: signed deliveries at a fixed rate against `assist serve` (real PostgreSQL
and Redis) and against a bare FastAPI endpoint on the same machine, in the same run.

    .venv/bin/python -m bench.intake --rate 200 --seconds 20

Prints throughput and p50/p99 latency for both and their ratio. Open loop: requests are sent
on schedule whether or not earlier ones have answered, so queueing shows up as latency.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db.engine import upgrade  # noqa: E402
from bot.intake.verify import github_signature  # noqa: E402
from tests.support.processes import free_port, wait_http  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
CORPORA = Path(os.environ.get("ASSIST_CORPORA", str(ROOT.parent / "shared" / "corpora")))


def deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """A realistic mix: PR opened/synchronize (jobs), comments, pushes, ignored events."""
    data = json.loads((CORPORA / "github" / "webhook-examples.json").read_text())
    by_event = {e["name"]: e["examples"] for e in data}
    pull = next(p for p in by_event["pull_request"] if p["action"] == "synchronize")
    comment = next(p for p in by_event["issue_comment"] if p["action"] == "created")
    push = next(p for p in by_event["push"] if p["ref"] == "refs/heads/master")
    star = by_event["star"][0]
    out = []
    for i in range(count):
        kind = i % 10
        if kind < 5:
            payload, event = copy.deepcopy(pull), "pull_request"
            payload["pull_request"]["number"] = 1000 + i % 50
            payload["pull_request"]["head"]["sha"] = uuid.uuid4().hex + "00000000"
        elif kind < 7:
            payload, event = copy.deepcopy(comment), "issue_comment"
            payload["comment"]["id"] = i
            payload["comment"]["body"] = "/assist fix" if kind == 5 else "looks good to me"
        elif kind < 9:
            payload, event = copy.deepcopy(push), "push"
            payload["after"] = uuid.uuid4().hex + "00000000"
        else:
            payload, event = star, "star"
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(body, SECRET),
            "Content-Type": "application/json",
        }
        out.append((body, headers))
    return out


async def drive(
    url: str, items: list[tuple[bytes, dict[str, str]]], rate: float
) -> tuple[list[float], float, dict[int, int]]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            started = time.perf_counter()
            answer = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            codes[answer.status_code] = codes.get(answer.status_code, 0) + 1

        tasks = []
        begin = time.perf_counter()
        for index, (body, headers) in enumerate(items):
            delay = begin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, headers)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    return latencies, elapsed, codes


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000
        if len(values) > 1
        else values[0] * 1000
    )


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="web processes of assist serve")
    parser.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    dbname = f"assist_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    db_url = args.pg_admin.rsplit("/", 1)[0] + "/" + dbname
    upgrade(db_url)
    rds = redis.Redis.from_url(args.redis)
    rds.flushdb()
    count = int(args.rate * args.seconds)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_")}
    env.update(
        {
            "ASSIST_DATABASE_URL": db_url,
            "ASSIST_REDIS_URL": args.redis,
            "ASSIST_GITHUB_WEBHOOK_SECRETS": SECRET,
            "ASSIST_LOG_LEVEL": "WARNING",
        }
    )
    results = {}
    try:
        for name in ("bare", "assist"):
            port = free_port()
            if name == "bare":
                cmd = [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.bare_app:app",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ]
            else:
                cmd = [
                    sys.executable,
                    "-m",
                    "bot",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ]
            proc = start(cmd, env, port)
            try:
                url = f"http://127.0.0.1:{port}/webhooks/github"
                asyncio.run(drive(url, deliveries(min(200, count)), args.rate))  # warm-up
                latencies, elapsed, codes = asyncio.run(drive(url, deliveries(count), args.rate))
            finally:
                proc.terminate()
                proc.wait(20)
            results[name] = (latencies, elapsed, codes)
            print(
                f"{name:>6}: {len(latencies) / elapsed:7.1f} deliveries/s  "
                f"p50 {pct(latencies, 50):6.2f} ms  p99 {pct(latencies, 99):6.2f} ms  "
                f"status {dict(sorted(codes.items()))}"
            )
        with sa.create_engine(db_url).connect() as conn:
            recorded = conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar()
        bare, ours = results["bare"][0], results["assist"][0]
        print(
            f"ratio assist/bare: p50 {pct(ours, 50) / pct(bare, 50):.2f}x  "
            f"p99 {pct(ours, 99) / pct(bare, 99):.2f}x"
        )
        print(f"deliveries recorded in PostgreSQL: {recorded} (sent {count + min(200, count)})")
        goal = pct(ours, 99) < 50 and len(ours) / results["assist"][1] >= args.rate * 0.95
        print(f"goal p99 < 50 ms at {args.rate:.0f}/s: {'met' if goal else 'NOT met'}")
    finally:
        rds.flushdb()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
