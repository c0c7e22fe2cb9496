"""Command-quota benchmark: ``CommandQuotas.check`` (one Lua script) in a loop against Redis.

    .venv/bin/python -m bench.quota --checks 3000 --redis redis://127.0.0.1:6379/15

Prints the median and p99 latency of one check and the refusals it recorded. Keys go under a
prefix of their own and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.access.quota import CommandQuota, CommandQuotas  # noqa: E402

PREFIX = "assist:quota:bench:"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    redis = Redis.from_url(args.redis)
    quotas = CommandQuotas(
        redis, CommandQuota(per_user=30, per_repo=300, window_s=3600), prefix=PREFIX
    )
    now = 1_800_000_000.0
    latencies = []
    try:
        for i in range(args.checks):
            started = time.perf_counter()
            quotas.check("github", f"o/r{i % 7}", f"u{i % 50}", command_id=str(i), now=now)
            latencies.append((time.perf_counter() - started) * 1e6)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        print(f"checks={args.checks} median={statistics.median(latencies):.0f}us p99={p99:.0f}us")
        print("refusals:", sorted(quotas.refusal_counts()))
    finally:
        for key in redis.scan_iter(PREFIX + "*"):
            redis.delete(key)


if __name__ == "__main__":
    main()
