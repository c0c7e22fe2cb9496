"""`assist doctor`: one table of checks, each failure with its fix.

Every check is a function ``(settings) -> list[Check]`` that never raises: a failure becomes a
red row that says what is wrong and what to do. Nothing here prints a secret: details name
settings and URLs without credentials.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bot.settings import Settings, SettingsError, validate_for_serving

TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CheckFn = Callable[[Settings], list[Check]]


# --- settings, database, Redis and workers ----------------------------------------------------


def check_settings(settings: Settings) -> list[Check]:
    try:
        validate_for_serving(settings)
    except SettingsError as exc:
        return [
            Check(
                "settings",
                False,
                str(exc),
                "set the variable in .assist/secrets.env or the environment "
                "(`make run` generates webhook secrets)",
            )
        ]
    forges = [
        name
        for name, on in (
            ("github", settings.github_app_id is not None or settings.github_token is not None),
            ("gitlab", settings.gitlab_token is not None),
        )
        if on
    ]
    detail = "valid; webhook secrets set" + (
        f"; forge credentials: {', '.join(forges)}" if forges else "; no forge credentials yet"
    )
    return [Check("settings", True, detail)]


def check_database(settings: Settings) -> list[Check]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.engine import alembic_config, make_engine

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        return [
            Check(
                "database",
                False,
                f"unreachable: {type(exc).__name__}",
                "check ASSIST_DATABASE_URL and that the database server runs",
            )
        ]
    finally:
        engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no schema"
        return [
            Check(
                "database",
                False,
                f"at {at}; this version needs {', '.join(sorted(heads))}",
                "run `assist db upgrade`",
            )
        ]
    return [Check("database", True, f"migrated ({', '.join(sorted(heads))})")]


def check_redis_and_workers(settings: Settings) -> list[Check]:
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    from bot.intake.routing import QueueName
    from bot.jobs.queue import queue_name, queue_policy
    from bot.runtime import make_redis

    redis = make_redis(settings.redis_url)
    try:
        redis.ping()
    except RedisError as exc:
        return [
            Check(
                "redis",
                False,
                f"unreachable: {type(exc).__name__}",
                "start Redis (`make services`) or fix ASSIST_REDIS_URL",
            )
        ]
    out = [Check("redis", True, "reachable")]
    policy = queue_policy(settings)
    for q in QueueName:
        queue = Queue(queue_name(policy, q), connection=redis)
        workers = Worker.all(queue=queue)
        waiting = queue.count
        if workers:
            out.append(
                Check(f"workers: {q.value}", True, f"{len(workers)} alive, {waiting} job(s) queued")
            )
        else:
            out.append(
                Check(
                    f"workers: {q.value}",
                    False,
                    f"no worker listens on this queue ({waiting} job(s) waiting)",
                    f"start `assist worker` (every queue) or `assist worker -q {q.value}`",
                )
            )
    return out


# --- the model, embeddings, Qdrant -------------------------------------------------------------


def check_model_server(settings: Settings) -> list[Check]:
    from bot.llm.check import ModelCheckError, check_model, measure_speed

    try:
        served = check_model(settings, timeout_s=TIMEOUT_S)
    except ModelCheckError as exc:
        fix = (
            f"start the model server (`make model` then deploy/cpu-model/serve.sh) or fix "
            f"ASSIST_LLM_BASE_URLS; it must serve {settings.llm_model}"
            if "serves " not in exc.reason
            else "set ASSIST_LLM_MODEL to the served name, or serve the configured model "
            "(vLLM --served-model-name)"
        )
        return [Check("model server", False, str(exc), fix)]
    out = [Check("model server", True, f"{served.url} serves {settings.llm_model}")]
    length, setting = served.max_model_len, settings.llm_context_tokens
    if length is None:
        out.append(Check("model context", True, "the server does not report max_model_len"))
    elif length != setting:
        out.append(
            Check(
                "model context",
                length > setting,
                f"the server's context is {length} tokens, ASSIST_LLM_CONTEXT_TOKENS is {setting}",
                f"set ASSIST_LLM_CONTEXT_TOKENS={length}",
            )
        )
    else:
        out.append(Check("model context", True, f"{length} tokens, as configured"))
    speed = measure_speed(settings, served, timeout_s=max(30.0, settings.llm_timeout_s / 4))
    if speed is None:
        out.append(
            Check(
                "model answers",
                False,
                f"{served.url} listed the model but a tiny completion failed",
                "look at the model server's log (out of memory, still loading?)",
            )
        )
    else:
        out.append(Check("model answers", True, f"{speed:.0f} tokens/s on a tiny completion"))
    return out


def check_embeddings(settings: Settings) -> list[Check]:
    try:
        if settings.embedding_base_url:
            from indexer.embedding import OpenAIEmbedder

            embedder: Any = OpenAIEmbedder(
                httpx.Client(timeout=TIMEOUT_S * 2),
                model=settings.embedding_model,
                dim=settings.embedding_dim,
                base_url=settings.embedding_base_url,
            )
        else:
            from indexer.embedding import MiniLMEmbedder, MiniLMPaths

            embedder = MiniLMEmbedder.load(MiniLMPaths.installed())
        vectors = embedder.embed(["def total(items): return sum(items)"])
        dim = int(vectors.shape[1])
    except Exception as exc:  # a missing package, a model file, a server: all end here
        return [
            Check(
                "embeddings",
                False,
                f"{settings.embedding_model} did not load: {type(exc).__name__}",
                "reinstall the package (`make setup`) or fix ASSIST_EMBEDDING_BASE_URL",
            )
        ]
    return [Check("embeddings", True, f"{embedder.model} loads ({dim} dimensions)")]


def check_qdrant(settings: Settings) -> list[Check]:
    location = settings.qdrant_location
    if location.startswith(("http://", "https://")):
        key = settings.qdrant_api_key
        headers = {"api-key": key.get_secret_value()} if key else {}
        try:
            reply = httpx.get(f"{location.rstrip('/')}/collections", headers=headers, timeout=5)
        except httpx.HTTPError as exc:
            return [
                Check(
                    "qdrant",
                    False,
                    f"{location} unreachable ({type(exc).__name__})",
                    "start Qdrant or fix ASSIST_QDRANT_LOCATION",
                )
            ]
        if reply.status_code != 200:
            return [
                Check(
                    "qdrant",
                    False,
                    f"{location} answered HTTP {reply.status_code}",
                    "check ASSIST_QDRANT_API_KEY",
                )
            ]
        return [Check("qdrant", True, f"server at {location}")]
    path = Path(location)
    parent = path if path.exists() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        return [
            Check(
                "qdrant",
                False,
                f"embedded store {location}: {parent} is not writable",
                "point ASSIST_QDRANT_LOCATION at a writable directory",
            )
        ]
    return [Check("qdrant", True, f"embedded store in {location}")]


# --- the sandbox ------------------------------------------------------------------------------


def sandbox_problem(bwrap: str = "bwrap") -> str | None:
    """Why the bubblewrap sandbox cannot run here, or None when a tiny probe runs in it."""
    exe = shutil.which(bwrap)
    if exe is None:
        return f"{bwrap} is not installed"
    try:
        done = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent",
             "--new-session", "--", "true"],
            capture_output=True,
            text=True,
            timeout=10,
            env={"PATH": "/usr/bin:/bin"},
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} could not run: {type(exc).__name__}"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0][:200]
        return f"{bwrap} cannot create a sandbox here: {first}"
    return None


def check_sandbox(settings: Settings, *, bwrap: str = "bwrap") -> list[Check]:  # noqa: ARG001
    problem = sandbox_problem(bwrap)
    if problem:
        return [
            Check(
                "sandbox",
                False,
                f"{problem}; `/assist fix` cannot run a change's tests safely",
                "install bubblewrap (`apt-get install -y bubblewrap`) and allow unprivileged "
                "user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 "
                "kernel.apparmor_restrict_unprivileged_userns=0)",
            )
        ]
    return [Check("sandbox", True, "bubblewrap runs a probe in a new namespace")]


# --- forges -----------------------------------------------------------------------------------

APP_NEEDS = {
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "metadata": "read",
}


def _app_jwt(settings: Settings) -> str:
    """The App's own JSON web token (RS256, ten minutes at most), for the /app endpoints."""
    import jwt

    key = settings.github_private_key
    if key is None and settings.github_private_key_path is not None:
        key = SecretStr(settings.github_private_key_path.read_text())
    if key is None:
        raise SettingsError("set ASSIST_GITHUB_PRIVATE_KEY or ASSIST_GITHUB_PRIVATE_KEY_PATH")
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(settings.github_app_id)}
    return str(jwt.encode(claims, key.get_secret_value(), algorithm="RS256"))


def _github(settings: Settings) -> list[Check]:
    api = settings.github_api_url.rstrip("/")
    if settings.github_app_id is None:
        assert settings.github_token is not None
        headers = {"Authorization": f"Bearer {settings.github_token.get_secret_value()}"}
        reply = httpx.get(f"{api}/user", headers=headers, timeout=TIMEOUT_S)
        if reply.status_code != 200:
            return [
                Check(
                    "github credentials",
                    False,
                    f"GET /user answered HTTP {reply.status_code}",
                    "create a new token and set ASSIST_GITHUB_TOKEN",
                )
            ]
        who = reply.json().get("login", "?")
        scopes = reply.headers.get("x-oauth-scopes")
        out = [Check("github credentials", True, f"token of {who}")]
        if scopes is not None and not {"repo", "public_repo"} & {
            s.strip() for s in scopes.split(",")
        }:
            out.append(
                Check(
                    "github permissions",
                    False,
                    f"the token's scopes ({scopes or 'none'}) do not allow commenting",
                    "give the token the repo scope, or use the App (`assist connect github`)",
                )
            )
        return out
    headers = {"Authorization": f"Bearer {_app_jwt(settings)}"}
    reply = httpx.get(f"{api}/app", headers=headers, timeout=TIMEOUT_S)
    if reply.status_code != 200:
        return [
            Check(
                "github credentials",
                False,
                f"GET /app answered HTTP {reply.status_code} for App {settings.github_app_id}",
                "check ASSIST_GITHUB_APP_ID and the private key (the App's settings page)",
            )
        ]
    out = [Check("github credentials", True, f"App {reply.json().get('slug', '?')}")]
    installs = httpx.get(f"{api}/app/installations", headers=headers, timeout=TIMEOUT_S)
    if installs.status_code == 200:
        rows = installs.json()
        missing = sorted(
            {
                f"{name}: {level}"
                for row in rows
                for name, level in APP_NEEDS.items()
                if row.get("permissions", {}).get(name) not in (level, "write", "admin")
            }
        )
        out.append(
            Check(
                "github permissions",
                bool(rows) and not missing,
                f"{len(rows)} installation(s)"
                + (f"; missing {', '.join(missing)}" if missing else "")
                if rows
                else "the App is installed nowhere",
                "accept the App's requested permissions on each installation (or install it)",
            )
        )
    deliveries = httpx.get(
        f"{api}/app/hook/deliveries", headers=headers, params={"per_page": 20}, timeout=TIMEOUT_S
    )
    if deliveries.status_code == 200:
        out.append(_deliveries(deliveries.json()))
    return out


def _deliveries(rows: Sequence[dict[str, Any]]) -> Check:
    if not rows:
        return Check(
            "github webhook deliveries",
            True,
            "none yet (open a pull request to send one)",
        )
    failed = [r for r in rows if not 200 <= int(r.get("status_code") or 0) < 300]
    latest = rows[0]
    ok = 200 <= int(latest.get("status_code") or 0) < 300
    return Check(
        "github webhook deliveries",
        ok,
        f"{len(rows)} recent, {len(failed)} failed; latest {latest.get('event', '?')}: "
        f"HTTP {latest.get('status_code')}",
        "the webhook URL must reach `assist serve` and the App's webhook secret must be in "
        "ASSIST_GITHUB_WEBHOOK_SECRETS (401: wrong secret)",
    )


def _gitlab(settings: Settings) -> list[Check]:
    assert settings.gitlab_token is not None
    api = settings.gitlab_url.rstrip("/") + "/api/v4"
    headers = {"PRIVATE-TOKEN": settings.gitlab_token.get_secret_value()}
    reply = httpx.get(f"{api}/user", headers=headers, timeout=TIMEOUT_S)
    if reply.status_code != 200:
        return [
            Check(
                "gitlab credentials",
                False,
                f"GET /user answered HTTP {reply.status_code} at {settings.gitlab_url}",
                "create a new access token (scope api) and set ASSIST_GITLAB_TOKEN",
            )
        ]
    out = [Check("gitlab credentials", True, f"token of {reply.json().get('username', '?')}")]
    scopes_reply = httpx.get(f"{api}/personal_access_tokens/self", headers=headers, timeout=5)
    if scopes_reply.status_code == 200:
        scopes = [str(s) for s in scopes_reply.json().get("scopes", [])]
        out.append(
            Check(
                "gitlab permissions",
                "api" in scopes,
                f"token scopes: {', '.join(scopes) or 'none'}",
                "the bot posts comments and statuses: create a token with the api scope",
            )
        )
    else:
        out.append(
            Check(
                "gitlab permissions",
                False,
                f"the token's scopes are not readable (HTTP {scopes_reply.status_code})",
                "use a personal, project or group access token with the api scope",
            )
        )
    return out


def check_forges(settings: Settings) -> list[Check]:
    out: list[Check] = []
    configured = {
        "github": settings.github_app_id is not None or settings.github_token is not None,
        "gitlab": settings.gitlab_token is not None,
    }
    for name, probe in (("github", _github), ("gitlab", _gitlab)):
        if not configured[name]:
            continue
        try:
            out.extend(probe(settings))
        except Exception as exc:  # unreachable, a bad key file: one red row, never a traceback
            out.append(
                Check(
                    f"{name} credentials",
                    False,
                    f"could not ask the forge: {type(exc).__name__}",
                    f"check ASSIST_{name.upper()}_* settings and that the forge is reachable",
                )
            )
    if not any(configured.values()):
        out.append(
            Check(
                "forge",
                True,
                "none connected: local reviews only",
                "`assist connect gitlab --project GROUP/NAME --url PUBLIC_URL` or "
                "`assist connect github`",
            )
        )
    return out


CHECKS: tuple[CheckFn, ...] = (
    check_settings,
    check_database,
    check_redis_and_workers,
    check_model_server,
    check_embeddings,
    check_qdrant,
    check_sandbox,
    check_forges,
)


def run_checks(settings: Settings, checks: Sequence[CheckFn] = CHECKS) -> list[Check]:
    """Every check, in order; an unexpected error in one is a red row, never a crash."""
    out: list[Check] = []
    for fn in checks:
        name = fn.__name__.removeprefix("check_").replace("_", " ")
        try:
            out.extend(fn(settings))
        except Exception as exc:
            out.append(Check(name, False, f"the check failed: {type(exc).__name__}", ""))
    return out


def as_json(checks: Sequence[Check]) -> dict[str, Any]:
    return {"checks": [c.as_dict() for c in checks]}
