"""What one web process costs to start: modules imported, CPU seconds, peak memory.

Each sample is a fresh interpreter that calls the ASGI factory `assist serve` runs (the app
built with its settings, nothing served), then reports the first-party modules it loaded, the
CPU time the process used and its peak RSS. The baseline, measured in the same run, is a bare
interpreter that imports FastAPI, Redis and SQLAlchemy and builds an empty app: what any web
process of this shape pays before a line of ours.

    .venv/bin/python -m bench.web_footprint [--factory bot.web.asgi:create] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

_PROBE = r"""
import importlib, json, resource, sys
factory = sys.argv[1]
if factory == "baseline":
    import fastapi, redis, sqlalchemy
    fastapi.FastAPI()
else:
    module, _, name = factory.partition(":")
    getattr(importlib.import_module(module), name)()
usage = resource.getrusage(resource.RUSAGE_SELF)
ours = sorted(m for m in sys.modules if m == "bot" or m.startswith(("bot.", "indexer")))
heavy = sorted(
    m for m in ("tree_sitter", "numpy", "tokenizers", "qdrant_client", "github", "gitlab", "git",
                "onnxruntime", "unidiff", "rq")
    if m in sys.modules
)
print(json.dumps({
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "rss_mib": usage.ru_maxrss / 1024,
    "first_party": len(ours),
    "modules": len(sys.modules),
    "heavy": heavy,
}))
"""

_ENV = {
    "ASSIST_GITHUB_WEBHOOK_SECRETS": "footprint-secret-0123456789abcdef",
    "ASSIST_GITLAB_WEBHOOK_TOKENS": "footprint-token-0123456789abcdef",
    "ASSIST_DATABASE_URL": "postgresql+psycopg://127.0.0.1:5432/test",
}


def sample(factory: str) -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        **_ENV,
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, factory],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{factory}: the probe failed:\n{out.stderr}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summarise(factory: str, runs: int) -> dict[str, object]:
    samples = [sample(factory) for _ in range(runs)]
    return {
        "factory": factory,
        "cpu_s": statistics.median(float(str(s["cpu_s"])) for s in samples),
        "rss_mib": statistics.median(float(str(s["rss_mib"])) for s in samples),
        "first_party": samples[0]["first_party"],
        "modules": samples[0]["modules"],
        "heavy": samples[0]["heavy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factory", default="bot.web.asgi:create")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = summarise("baseline", args.runs)
    web = summarise(args.factory, args.runs)
    for row in (base, web):
        print(
            f"{row['factory']:<24} first-party {row['first_party']:>4}  modules {row['modules']:>5}"
            f"  CPU {row['cpu_s']:.2f} s  peak RSS {row['rss_mib']:.0f} MiB  heavy: "
            f"{', '.join(row['heavy']) or '-'}"  # type: ignore[arg-type]
        )
    print(
        f"ratio to baseline: CPU {float(str(web['cpu_s'])) / float(str(base['cpu_s'])):.2f}x, "
        f"RSS {float(str(web['rss_mib'])) / float(str(base['rss_mib'])):.2f}x"
    )


if __name__ == "__main__":
    main()
