"""The health page: database, Redis, queues, workers, model replicas, Qdrant, sandbox.

Each probe is short (a few seconds at most) and reports what failed by type, never a URL's
credentials or a key."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import Engine, text

from bot.intake.routing import QueueName
from bot.jobs.queue import QueuePolicy, queue_name
from bot.settings import Settings

TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class Health:
    checks: list[Check] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "queues": self.queues,
            "workers": self.workers,
            "models": self.models,
        }


def _failure(exc: Exception) -> str:
    return f"unavailable: {type(exc).__name__}"


def _database(engine: Engine) -> Check:
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return Check("database", True, f"{engine.dialect.name}, schema {', '.join(version)}")
    except Exception as exc:
        return Check("database", False, _failure(exc))


def _redis(redis: Redis, policy: QueuePolicy, health: Health) -> None:
    try:
        redis.ping()
    except Exception as exc:
        health.checks.append(Check("redis", False, _failure(exc)))
        return
    health.checks.append(Check("redis", True, "answers"))
    try:
        names = set()
        for name in QueueName:
            queue = Queue(queue_name(policy, name), connection=redis)
            names.add(queue.name)
            health.queues.append(
                {
                    "queue": queue.name,
                    "waiting": queue.count,
                    "running": StartedJobRegistry(queue=queue).count,
                    "scheduled": ScheduledJobRegistry(queue=queue).count,  # type: ignore[no-untyped-call]
                    "failed": FailedJobRegistry(queue=queue).count,
                }
            )
        for worker in Worker.all(connection=redis):
            queues = [q.name for q in worker.queues]
            if not names & set(queues):
                continue
            beat = worker.last_heartbeat
            health.workers.append(
                {
                    "name": worker.name,
                    "queues": queues,
                    "state": str(worker.get_state()),
                    "last_heartbeat": beat.isoformat() if beat else None,
                }
            )
    except Exception as exc:
        health.checks.append(Check("queues", False, _failure(exc)))
        return
    health.checks.append(
        Check("workers", bool(health.workers), f"{len(health.workers)} worker(s) alive")
    )


def _models(settings: Settings, client: httpx.Client, health: Health) -> None:
    headers = {}
    if settings.llm_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    up = 0
    for index, base in enumerate(settings.llm_base_urls):
        entry: dict[str, Any] = {"replica": index + 1, "url": _public_url(base)}
        try:
            answer = client.get(base.rstrip("/") + "/models", headers=headers)
            answer.raise_for_status()
            served = answer.json().get("data") or []
            entry["models"] = [
                {"id": str(m.get("id")), "context_length": m.get("max_model_len")} for m in served
            ]
            entry["ok"] = any(m["id"] == settings.llm_model for m in entry["models"])
            entry["detail"] = (
                "serves the configured model"
                if entry["ok"]
                else (f"does not serve {settings.llm_model}")
            )
        except Exception as exc:
            entry.update(ok=False, models=[], detail=_failure(exc))
        up += bool(entry["ok"])
        health.models.append(entry)
    health.checks.append(
        Check(
            "model",
            up > 0,
            f"{up} of {len(settings.llm_base_urls)} replica(s) serve {settings.llm_model}",
        )
    )


def _public_url(url: str) -> str:
    """``url`` without any user:password part."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return scheme + sep + host.rpartition("@")[2] + slash + path


def _qdrant(settings: Settings, client: httpx.Client) -> Check:
    location = settings.qdrant_location
    if not location.startswith(("http://", "https://")):
        exists = Path(location).exists()
        return Check("qdrant", True, "embedded, " + ("data present" if exists else "no index yet"))
    headers = {}
    if settings.qdrant_api_key is not None:
        headers["api-key"] = settings.qdrant_api_key.get_secret_value()
    try:
        answer = client.get(location.rstrip("/") + "/readyz", headers=headers)
        return Check("qdrant", answer.status_code == 200, f"HTTP {answer.status_code}")
    except Exception as exc:
        return Check("qdrant", False, _failure(exc))


def _sandbox() -> Check:
    found = shutil.which("bwrap")
    return Check(
        "sandbox",
        found is not None,
        "bubblewrap installed" if found else "bubblewrap (bwrap) not found on this host",
    )


def probe(
    settings: Settings, engine: Engine, redis: Redis, policy: QueuePolicy, client: httpx.Client
) -> Health:
    health = Health()
    health.checks.append(_database(engine))
    _redis(redis, policy, health)
    _models(settings, client, health)
    health.checks.append(_qdrant(settings, client))
    health.checks.append(_sandbox())
    return health
