"""What least privilege costs in forge calls, on the test forge (GitHub App mode).

For N jobs of each scope on one repository, each job building its adapter as the worker does
(``build_forge`` with the job's scope, one Redis identity store shared by the "workers"):
installation-token requests, ``GET /app`` identity look-ups, and the wall time of the job's
first forge call (token + identity) against later ones.

    .venv/bin/python -m bench.token_scopes [--jobs 20] [--redis redis://127.0.0.1:6379/15]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bot.forge.factory import build_forge  # noqa: E402
from bot.forge.identity import RedisIdentityStore, forget_identities  # noqa: E402
from bot.forge.scopes import TokenScope  # noqa: E402
from bot.forge.types import RepoRef  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.testforge import TestForge  # noqa: E402
from tests.testforge.fixtures import AppKey  # noqa: E402

REPO = "octo/bench"
MARKER = "<!-- forge-assist:summary -->"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    key = AppKey.generate()
    client = redis.Redis.from_url(args.redis)
    prefix = f"bench-identity:{time.time_ns()}:"
    out: dict[str, object] = {"jobs_per_scope": args.jobs}
    with TestForge(validate=True) as server:
        server.create_repo(REPO, files={"README.md": "# bench\n"})
        number = server.add_pull(REPO, head="main", title="bench")
        server.add_app(1, key.public_pem, slug="bench-assist")
        server.add_installation(1, [REPO])
        settings = Settings(
            github_api_url=server.github_api_url,
            github_app_id=1,
            github_private_key=SecretStr(key.private_pem),
            forge_timeout_s=10.0,
        )
        repo = RepoRef("github", REPO)
        scopes: tuple[TokenScope, ...] = ("review", "fix", "index")
        for scope in scopes:
            first: list[float] = []
            later: list[float] = []
            for _ in range(args.jobs):
                forget_identities()  # each job in a fresh work horse: only Redis is shared
                forge = build_forge(
                    settings, "github", scope=scope,
                    identity_store=RedisIdentityStore(client, prefix=prefix),
                )  # fmt: skip
                for times in (first, later):
                    start = time.perf_counter()
                    if scope == "index":  # an index token reads code, nothing else
                        forge.read_file(repo, "README.md", ref="main")
                        forge.own_logins()
                    else:  # our own comments: needs the identity
                        forge.list_comments(repo, number, marker=MARKER)
                    times.append(time.perf_counter() - start)
            out[scope] = {
                "first_call_ms": round(statistics.median(first) * 1000, 1),
                "later_call_ms": round(statistics.median(later) * 1000, 1),
            }
        log = server.requests_log("github")
        out["token_requests"] = server.token_request_count()
        out["identity_lookups"] = len([r for r in log if r["path"] == "/api/v3/app"])
        out["grants_for_one_repository"] = all(
            g["repos"] == [REPO] for g in server.installation_token_grants()
        )
        out["violations"] = len(server.violations())
    for stale in client.keys(f"{prefix}*"):
        client.delete(stale)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
