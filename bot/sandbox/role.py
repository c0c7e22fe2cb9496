"""The secretless runner role: ``assist worker --role sandbox`` serves the ``sandbox`` queue,
where repository code runs. It holds nothing worth stealing: it refuses to start with forge,
database, model or webhook credentials in its environment (Redis, the queue it serves, is its
only connection), it gets the candidate tree by value (a tar archive in the job), and it runs
the command in the bubblewrap sandbox (:mod:`bot.sandbox.bwrap`) or not at all.

The fix worker's side is :class:`QueuedSandbox` (``ASSIST_SANDBOX_QUEUE=true``): it packs the
tree, enqueues, and waits for the outcome."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from bot.sandbox import bwrap

SANDBOX_QUEUE = "sandbox"
_CREDENTIAL = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY|APIKEY|CREDENTIAL|FENCE_KEY)",
    re.IGNORECASE,
)
_NAMED = frozenset(
    {
        "ASSIST_DATABASE_URL",
        "DATABASE_URL",
        "ASSIST_GITHUB_APP_ID",
        "ASSIST_LLM_BASE_URLS",
        "ASSIST_QDRANT_LOCATION",
        "ASSIST_EMBEDDING_BASE_URL",
        "PGPASSFILE",
        "PGSERVICEFILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AWS_ACCESS_KEY_ID",
        "KUBERNETES_SERVICE_HOST",
    }
)


class RoleRefused(RuntimeError):
    """The sandbox role cannot start here; the message says which variables or why."""


def credentials_in(env: Mapping[str, str]) -> list[str]:
    """Names (never values) of variables in ``env`` that hold or point to credentials or to
    services the sandbox role must not reach."""
    return sorted(k for k, v in env.items() if v and (k in _NAMED or _CREDENTIAL.search(k)))


def check_role_env(env: Mapping[str, str]) -> None:
    found = credentials_in(env)
    if found:
        raise RoleRefused(
            "the sandbox role refuses to start with credentials in its environment: "
            + ", ".join(found)
            + " (give it only ASSIST_REDIS_URL and the sandbox settings)"
        )


def sandbox_job(tree: bytes, command: str, limits: dict[str, int]) -> dict[str, Any]:
    """The job the sandbox role runs: ``command`` on ``tree`` in bubblewrap."""
    check_role_env(os.environ)  # never run repository code next to a secret
    try:
        iso = bwrap.probe()
    except bwrap.Unavailable as exc:
        return {"unavailable": str(exc)}
    toolchain = os.environ.get("ASSIST_SANDBOX_TOOLCHAINS_DIR")
    mounts = bwrap.Mounts()
    if toolchain and os.path.isdir(os.path.join(toolchain, "default")):
        mounts = bwrap.Mounts(read_only={os.path.join(toolchain, "default"): "/opt/toolchain"})
    outcome = bwrap.run(iso, bwrap.Limits(**limits), tree, command, mounts=mounts)
    return asdict(outcome)


def run_sandbox_worker(redis_url: str, prefix: str, *, burst: bool = False) -> bool:
    """Serve the sandbox queue; raises RoleRefused before connecting to anything when the
    environment holds credentials or the machine cannot isolate."""
    check_role_env(os.environ)
    try:
        bwrap.probe()
    except bwrap.Unavailable as exc:
        raise RoleRefused(f"the sandbox role cannot isolate here: {exc}") from None
    from redis import Redis
    from rq import Queue, Worker

    redis = Redis.from_url(redis_url)
    queue = Queue(prefix + SANDBOX_QUEUE, connection=redis)
    return bool(Worker([queue], connection=redis).work(burst=burst))


class QueuedSandboxError(RuntimeError):
    """The sandbox role did not answer (not running, or the job failed)."""


def run_queued(
    redis_url: str,
    prefix: str,
    tree: bytes,
    command: str,
    limits: bwrap.Limits,
    *,
    poll_s: float = 0.5,
    grace_s: int = 300,
) -> bwrap.Outcome:
    """Enqueue the run on the sandbox queue and wait for its outcome (the wall-clock limit
    plus ``grace_s`` for a sandbox worker to pick it up)."""
    from redis import Redis
    from rq import Queue
    from rq.job import JobStatus

    redis = Redis.from_url(redis_url)
    queue = Queue(prefix + SANDBOX_QUEUE, connection=redis)
    job = queue.enqueue(
        "bot.sandbox.role.sandbox_job",
        kwargs={"tree": tree, "command": command, "limits": asdict(limits)},
        job_timeout=limits.timeout_s + 60,
        result_ttl=600,
        failure_ttl=600,
    )
    deadline = time.monotonic() + limits.timeout_s + grace_s
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            result = job.return_value()
            if not isinstance(result, dict):
                raise QueuedSandboxError("the sandbox role returned nothing")
            if "unavailable" in result:
                raise bwrap.Unavailable(str(result["unavailable"]))
            return bwrap.Outcome(**result)
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            raise QueuedSandboxError(f"the sandbox job {status.value}")
        time.sleep(poll_s)
    job.cancel()
    raise QueuedSandboxError("no sandbox worker answered (is `assist worker --role sandbox` up?)")
