"""The one settings object, read once in each entry point and passed down.

Every field is documented by its ``description``: ``assist config docs`` renders the table that
the README includes, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "placeholder",
        "todo",
        "xxx",
        "test",
        "default",
        "your-secret",
        "your_secret",
        "webhook-secret",
        "mysecret",
    }
)
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


def _split_list(value: object) -> object:
    """Accept a comma-separated string (the natural form in an environment variable)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Forge Assist configuration. Environment variables use the prefix ``ASSIST_``."""

    model_config = SettingsConfigDict(
        env_prefix="ASSIST_", frozen=True, extra="ignore", env_file=None
    )

    # --- webhooks -------------------------------------------------------------------------
    github_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="GitHub webhook secrets, comma-separated; several at once allow rotation.",
    )
    gitlab_webhook_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="GitLab webhook secret tokens, comma-separated; several allow rotation.",
    )
    max_body_bytes: int = Field(
        25 * 1024 * 1024,
        gt=0,
        description="Largest webhook body accepted, in bytes (GitHub caps payloads at 25 MiB).",
    )
    bot_logins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra names of our own account, comma-separated (e.g. legacy names), added "
        "to the identity the workers read from the forge's API (GitHub App `/app` slug + "
        "`[bot]`, token `/user`). The web process ignores events of these names; @mentions of "
        "them, like those of the API identity, are answered; empty by default (no squattable "
        "name is trusted).",
    )
    command_prefix: str = Field("/assist", description="Prefix of commands in comments.")
    feedback_min_sample: int = Field(
        10,
        ge=1,
        description="Decided findings of a category a repository needs before its feedback "
        "raises that category's second-pass threshold (docs/feedback.md).",
    )

    # --- storage and queue ----------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///.assist/assist.db",
        description="SQLAlchemy URL. SQLite file by default; PostgreSQL "
        "(postgresql+psycopg://...) in production.",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL for the job queue.")
    queue_prefix: str = Field(
        "", description="Prefix for queue names, to share one Redis between deployments."
    )
    job_timeout_s: int = Field(1800, gt=0, description="Hard time limit of one job, seconds.")
    job_retries: int = Field(3, ge=0, description="Retries of a failed job before it is kept.")
    job_retry_backoff_s: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [10, 60, 300],
        description="Seconds to wait before each retry, comma-separated.",
    )
    job_result_ttl_s: int = Field(7 * 86400, gt=0, description="How long results are kept.")
    failed_job_ttl_s: int = Field(
        30 * 86400, gt=0, description="How long failed jobs are kept for inspection and requeue."
    )

    # --- forges ---------------------------------------------------------------------------
    github_api_url: str = Field(
        "https://api.github.com", description="GitHub REST base URL (Enterprise: .../api/v3)."
    )
    github_app_id: int | None = Field(None, description="GitHub App id (App mode).")
    github_private_key: SecretStr | None = Field(
        None, description="GitHub App private key, PEM text (App mode)."
    )
    github_private_key_path: Path | None = Field(
        None, description="File holding the GitHub App private key, instead of the PEM text."
    )
    github_token: SecretStr | None = Field(
        None, description="A personal access token or Actions GITHUB_TOKEN (token mode)."
    )
    gitlab_url: str = Field("https://gitlab.com", description="GitLab base URL.")
    gitlab_token: SecretStr | None = Field(
        None, description="GitLab project, group or personal access token."
    )
    forge_timeout_s: float = Field(30.0, gt=0, description="Timeout of one forge API call.")
    forge_max_attempts: int = Field(
        3, ge=1, description="Attempts of one forge call on 5xx and connection errors."
    )
    forge_retry_backoff_s: float = Field(
        1.0, ge=0, description="First backoff between forge attempts (doubles each time)."
    )
    github_write_pause_s: float = Field(
        1.0, ge=0, description="Pause between GitHub writes (GitHub asks integrators for it)."
    )
    github_check_runs: bool = Field(
        False, description="Report check runs instead of commit statuses (GitHub App mode)."
    )

    # --- model ----------------------------------------------------------------------------
    llm_base_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        description="OpenAI-compatible base URLs (vLLM replicas), comma-separated.",
    )
    llm_model: str = Field("smollm2-135m-instruct", description="Served model name.")
    llm_api_key: SecretStr | None = Field(None, description="Bearer token for the model server.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Timeout of one model request.")
    llm_max_retries: int = Field(3, ge=0, description="Retries on 429/5xx/connection errors.")
    llm_max_concurrency: int = Field(
        8, gt=0, description="Model requests in flight at once for one job."
    )
    llm_context_tokens: int = Field(
        2048, gt=0, description="Context length of the served model, in tokens."
    )
    llm_tokenizer_path: Path | None = Field(
        None,
        description="Model directory or tokenizer.json for local token counting; "
        "unset: the server's /tokenize.",
    )
    llm_backoff_base_s: float = Field(
        0.5, gt=0, description="First retry delay of a model request; doubles per retry."
    )
    llm_backoff_max_s: float = Field(
        30.0, gt=0, description="Cap on retry delays and on an honoured Retry-After."
    )
    llm_cooldown_s: float = Field(
        2.0, gt=0, description="How long a failing replica is left out; doubles per failure."
    )
    llm_seed: int | None = Field(None, description="Sampling seed sent with each request.")
    llm_fence_key: SecretStr | None = Field(
        None,
        description="Key for the delimiters that fence untrusted text in prompts "
        "(stable per pull request, unguessable); unset: random per process.",
    )

    # --- index ----------------------------------------------------------------------------
    qdrant_location: str = Field(
        ".assist/qdrant",
        description="Embedded Qdrant directory, or an http(s):// URL of a Qdrant server.",
    )
    qdrant_api_key: SecretStr | None = Field(None, description="Qdrant server API key.")
    embedding_base_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 URL serving embeddings; unset: local all-MiniLM-L6-v2.",
    )
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Embedding model name.")
    embedding_dim: int = Field(
        384, gt=0, description="Vector size of the embeddings server's model."
    )
    cache_dir: Path = Field(
        Path(".assist/cache"), description="Repository clones and embedding cache."
    )
    mirror_cache_mb: int = Field(
        10240,
        ge=0,
        description="Total size of the repository mirrors, MiB; past it the least recently "
        "used mirrors are removed (0: no cap).",
    )

    # --- fix ------------------------------------------------------------------------------
    fix_use_index: bool = Field(
        True,
        description="`/assist fix` localises with the repository index (hybrid search, repo "
        "map); off: a lexical ranking only.",
    )
    fix_answer_tokens: int = Field(
        1536, gt=0, description="Tokens reserved for the model's edits in one `/assist fix` call."
    )
    fix_sandbox_memory_mb: int = Field(
        2048, gt=0, description="Address-space limit of a repository's sandboxed test command, MiB."
    )
    fix_run_tests: bool = Field(
        False,
        description="Operator switch: repositories' own test commands may run (in the "
        "bubblewrap sandbox), only for repositories in ASSIST_FIX_RUN_TESTS_REPOS that also set "
        "`[fix] run_tests = true`. Off: repository code never runs.",
    )
    fix_run_tests_repos: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Repositories (`owner/name`) or namespaces (`group/*`, any depth below) "
        "whose tests may run when ASSIST_FIX_RUN_TESTS is on; comma-separated.",
    )
    fix_allow_build_edits: bool = Field(
        False,
        description="`/assist fix` may change CI, build, hook and dependency files (workflows, "
        "Makefile, setup.py, package.json...); off: such edits are refused with the reason.",
    )
    fix_push_remote: str | None = Field(
        None,
        description="Push `/assist fix` branches to this fork instead of the base repository "
        "(`owner/name` on GitHub, `group/name` on GitLab; `{owner}` and `{name}` stand for the "
        "base repository's) and open the pull/merge request from it: the bot's branches never "
        "run the base repository's CI with its secrets. Unset: branches go to the base "
        "repository.",
    )
    sandbox_disk_mb: int = Field(
        1024, gt=0, description="Size of the sandbox's writable /work (tree and test output), MiB."
    )
    sandbox_processes: int = Field(
        256, gt=0, description="Most processes the sandboxed test command may have at once."
    )
    sandbox_queue: bool = Field(
        False,
        description="Run repository code on the `sandbox` queue, served by the secretless "
        "`assist worker --role sandbox`, instead of in the fix worker's own sandbox.",
    )
    sandbox_toolchains_dir: Path | None = Field(
        None,
        description="Operator-built, read-only toolchains: `<dir>/<forge>/<owner>/<name>` (or "
        "`<dir>/default`) is bound at /opt/toolchain in the sandbox, its bin/ first on PATH.",
    )

    # --- limits ---------------------------------------------------------------------------
    job_heartbeat_s: int = Field(
        10, gt=0, description="Interval of a running job's heartbeat to Redis, seconds."
    )
    job_abandon_grace_s: int = Field(
        30,
        gt=0,
        description="A job whose worker missed its heartbeat by this long (killed, OOM, lost "
        "node) is abandoned and retried, seconds.",
    )
    worker_maintenance_s: int = Field(
        60, gt=0, description="How often workers sweep for abandoned jobs, seconds."
    )
    repo_jobs_per_minute: int = Field(
        120,
        ge=0,
        description="Jobs started per repository per minute (0: no limit); excess work is "
        "delayed, never dropped.",
    )
    installation_jobs_per_minute: int = Field(
        600,
        ge=0,
        description="Jobs started per GitHub App installation (or GitLab namespace) per minute "
        "(0: no limit); excess is delayed.",
    )
    max_running_jobs: int = Field(
        32,
        ge=0,
        description="Jobs running at once across all workers (0: no cap); excess is delayed.",
    )
    limit_delay_s: int = Field(
        5, gt=0, description="Delay before a job held back by a limit is tried again, seconds."
    )
    command_quota_user: int = Field(
        30,
        ge=0,
        description="`/assist` commands one user may run (per forge, all repositories together) in "
        "each quota window (0: no quota); over it, one polite reply per window, then silence.",
    )
    command_quota_repo: int = Field(
        300,
        ge=0,
        description="`/assist` commands per repository in each quota window (0: no quota).",
    )
    command_quota_window_s: int = Field(
        3600, gt=0, description="The command quota window, seconds (fixed windows)."
    )

    # --- service --------------------------------------------------------------------------
    log_level: str = Field("INFO", description="Python logging level.")
    host: str = Field("127.0.0.1", description="Address `assist serve` binds.")
    port: int = Field(8080, gt=0, lt=65536, description="Port `assist serve` binds.")

    # --- operator console (`assist console`) ----------------------------------------------
    console_host: str = Field("127.0.0.1", description="Address `assist console` binds.")
    console_port: int = Field(8090, gt=0, lt=65536, description="Port `assist console` binds.")
    console_public_url: str = Field(
        "http://127.0.0.1:8090",
        description="The console's address as browsers reach it (the OIDC redirect URI is "
        "this plus /auth/callback); https:// makes its cookies Secure.",
    )
    console_session_secret: SecretStr | None = Field(
        None, description="Key that signs the console's session cookies (16+ characters)."
    )
    console_session_hours: int = Field(
        8, gt=0, description="How long a console sign-in lasts, hours."
    )
    console_oidc_issuer: str | None = Field(
        None,
        description="OpenID Connect issuer URL of the identity provider (its discovery document "
        "is at /.well-known/openid-configuration).",
    )
    console_oidc_client_id: str | None = Field(None, description="OIDC client id of the console.")
    console_oidc_client_secret: SecretStr | None = Field(
        None, description="OIDC client secret of the console (unset: a public client, PKCE only)."
    )
    console_oidc_scopes: str = Field(
        "openid profile email", description="Scopes the console asks the identity provider for."
    )
    console_role_claim: str = Field(
        "roles", description="ID token claim (string or list) that holds the console roles."
    )
    console_operator_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["operator"],
        description="Claim values that make a user an operator (may retry and cancel jobs).",
    )
    console_viewer_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["viewer"],
        description="Claim values that make a user a viewer (read only); no match: no access.",
    )
    console_viewer_repos: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Repositories viewers may see: owner/name or owner/* patterns, "
        "comma-separated; empty: none.",
    )
    console_operator_repos: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Repositories operators may see and act on (patterns as for viewers).",
    )

    @field_validator(
        "github_webhook_secrets",
        "gitlab_webhook_tokens",
        "bot_logins",
        "fix_run_tests_repos",
        "llm_base_urls",
        "job_retry_backoff_s",
        "console_operator_roles",
        "console_viewer_roles",
        "console_viewer_repos",
        "console_operator_repos",
        mode="before",
    )
    @classmethod
    def _lists_from_csv(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("fix_push_remote")
    @classmethod
    def _a_repository(cls, value: str | None) -> str | None:
        """``owner/name`` or ``group/sub/name`` (templates allowed); empty means unset."""
        if value is None or not value.strip():
            return None
        parts = value.strip().strip("/").split("/")
        if len(parts) < 2 or not all(parts):
            raise ValueError("ASSIST_FIX_PUSH_REMOTE must name a repository: owner/name")
        return value.strip()


def _secret_problem(value: str) -> str | None:
    stripped = value.strip()
    if not stripped:
        return "is empty"
    if stripped.lower() in PLACEHOLDER_SECRETS or stripped.startswith("<"):
        return "is a placeholder"
    if len(stripped) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def validate_for_serving(settings: Settings) -> None:
    """Refuse to serve webhooks with a missing, empty or placeholder secret.

    Called by ``assist serve`` at start-up. At least one forge must be configured; every
    configured secret must be real. The message names the variable, never the value.
    """
    groups = {
        "ASSIST_GITHUB_WEBHOOK_SECRETS": settings.github_webhook_secrets,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": settings.gitlab_webhook_tokens,
    }
    if not any(groups.values()):
        raise SettingsError(
            "no webhook secret is configured: set ASSIST_GITHUB_WEBHOOK_SECRETS and/or "
            "ASSIST_GITLAB_WEBHOOK_TOKENS (a forge without one has every delivery refused)"
        )
    for name, secrets in groups.items():
        for index, secret in enumerate(secrets):
            problem = _secret_problem(secret.get_secret_value())
            if problem:
                raise SettingsError(f"{name} entry {index + 1} {problem}; refusing to start")


def validate_for_console(settings: Settings) -> None:
    """Refuse to run the console without a real session key and a complete OIDC client."""
    secret = settings.console_session_secret
    problem = _secret_problem(secret.get_secret_value()) if secret else "is not set"
    if problem:
        raise SettingsError(f"ASSIST_CONSOLE_SESSION_SECRET {problem}; refusing to start")
    if not settings.console_oidc_issuer or not settings.console_oidc_client_id:
        raise SettingsError(
            "ASSIST_CONSOLE_OIDC_ISSUER and ASSIST_CONSOLE_OIDC_CLIENT_ID must be set: the "
            "console signs users in through your identity provider"
        )
