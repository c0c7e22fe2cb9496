"""`assist`: the command line. Settings are read here, once, and passed down."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError

from bot.domain import Forge
from bot.settings import Settings, SettingsError, validate_for_console, validate_for_serving

if TYPE_CHECKING:
    from bot.eval.mine import ExportedChange

# Tracebacks never print local variables: they may hold secrets.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Forge Assist",
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
jobs_app = typer.Typer(no_args_is_help=True, help="Inspect and requeue jobs.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration.")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(config_app, name="config")
console_app = typer.Typer(
    help="The operator console: `assist console` runs it; `assist console key ...` manages "
    "API keys of its JSON API."
)
key_app = typer.Typer(no_args_is_help=True, help="API keys of the console's JSON API.")
console_app.add_typer(key_app, name="key")
app.add_typer(console_app, name="console")
feedback_app = typer.Typer(no_args_is_help=True, help="Feedback on posted findings.")
app.add_typer(feedback_app, name="feedback")
connect_app = typer.Typer(no_args_is_help=True, help="Connect a forge: its webhook and App.")
app.add_typer(connect_app, name="connect")
action_app = typer.Typer(
    no_args_is_help=True, help="Run inside CI: the GitHub Action and the GitLab CI template."
)
app.add_typer(action_app, name="action")
eval_app = typer.Typer(
    no_args_is_help=True, help="Measure review quality on labelled cases (docs/eval.md)."
)
app.add_typer(eval_app, name="eval")
export_app = typer.Typer(no_args_is_help=True, help="Export data for fine-tuning.")
app.add_typer(export_app, name="export")
sandbox_app = typer.Typer(
    no_args_is_help=True, help="The sandbox repository code runs in (tests of `/assist fix`)."
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("check")
def sandbox_check() -> None:
    """What this machine can isolate: runs the sandbox once and says so, or why not."""
    from bot.sandbox import bwrap

    try:
        iso = bwrap.probe()
    except bwrap.Unavailable as exc:
        typer.echo(f"sandbox: not available: {exc}")
        raise typer.Exit(1) from exc
    drop = f"root dropped to uid {bwrap.SANDBOX_UID} first" if iso.setpriv else "not root"
    typer.echo(
        "sandbox: available (bubblewrap: user, pid, mount, ipc, uts and network namespaces; "
        f"{drop}; limits by prlimit; tmpfs /work, /tmp, $HOME)"
    )


@sandbox_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def sandbox_run(
    ctx: typer.Context,
    tree: Annotated[Path, typer.Option(help="The directory the command sees as /work.")],
    timeout: Annotated[int, typer.Option(help="Wall-clock limit, seconds.")] = 600,
) -> None:
    """Run `-- CMD ...` on a copy of TREE exactly as `/assist fix` runs a repository's tests."""
    import shlex

    from bot.sandbox import bwrap
    from bot.sandbox.tree import pack

    command = shlex.join(ctx.args)
    if not command:
        typer.echo("assist sandbox run: give the command after --", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        iso = bwrap.probe()
    except bwrap.Unavailable as exc:
        typer.echo(f"sandbox: not run: {exc}", err=True)
        raise typer.Exit(1) from exc
    limits = bwrap.Limits(
        timeout_s=timeout,
        memory_mb=settings.fix_sandbox_memory_mb,
        disk_mb=settings.sandbox_disk_mb,
        processes=settings.sandbox_processes,
    )
    outcome = bwrap.run(iso, limits, pack(tree, {}), command)
    typer.echo(outcome.output, nl=False)
    if outcome.timed_out:
        typer.echo(f"sandbox: killed after {timeout}s", err=True)
        raise typer.Exit(124)
    raise typer.Exit(outcome.returncode or 0)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        typer.echo(f"assist: invalid configuration:\n{exc}", err=True)
        raise typer.Exit(2) from exc


def _model_ready(settings: Settings, command: str) -> Settings:
    """Check the model server first (fails in seconds, naming the URL and the reason), then
    fit the settings left at their defaults to what it serves and how fast it answers."""
    from bot.llm.check import (
        ModelCheckError,
        check_model,
        describe_fit,
        fit_settings,
        measure_speed,
    )

    try:
        served = check_model(settings)
    except ModelCheckError as exc:
        typer.echo(f"assist {command}: {exc}; `assist doctor` says more", err=True)
        raise typer.Exit(1) from exc
    speed = measure_speed(settings, served)
    fitted, values = fit_settings(settings, served, speed)
    typer.echo(f"assist {command}: {describe_fit(served, speed, values)}", err=True)
    return fitted


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (ASSIST_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ASSIST_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Web worker processes.")] = 1,
) -> None:
    """Run the webhook service."""
    import uvicorn

    settings = _settings()
    try:
        validate_for_serving(settings)
    except SettingsError as exc:
        typer.echo(f"assist serve: {exc}", err=True)
        raise typer.Exit(2) from exc
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes: metrics are aggregated through files (prometheus multiprocess).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="assist-metrics-")
    uvicorn.run(
        "bot.web.asgi:create",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@console_app.callback(invoke_without_command=True)
def console(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (ASSIST_CONSOLE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ASSIST_CONSOLE_PORT).")] = None,
) -> None:
    """Run the operator console (web UI and JSON API)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    settings = _settings()
    try:
        validate_for_console(settings)
    except SettingsError as exc:
        typer.echo(f"assist console: {exc}", err=True)
        raise typer.Exit(2) from exc
    bind_host, bind_port = host or settings.console_host, port or settings.console_port
    typer.echo(f"assist console: http://{bind_host}:{bind_port} ({settings.console_public_url})")
    uvicorn.run(
        "bot.console.asgi:create",
        factory=True,
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,
    )


@key_app.command("create")
def key_create(
    name: Annotated[str, typer.Argument(help="What the key is for (unique).")],
    role: Annotated[str, typer.Option(help="viewer or operator.")] = "viewer",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from bot.console.apikeys import ApiKeyError, create_key
    from bot.db.engine import make_engine

    settings = _settings()
    try:
        key, info = create_key(make_engine(settings.database_url), name, role)
    except ApiKeyError as exc:
        typer.echo(f"assist console key create: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(key)
    typer.echo(f"key {info.name!r} ({info.role}) created; it is not shown again", err=True)


@key_app.command("revoke")
def key_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke an API key (it stays listed, refused from now on)."""
    from bot.console.apikeys import ApiKeyError, revoke_key
    from bot.db.engine import make_engine

    settings = _settings()
    try:
        info = revoke_key(make_engine(settings.database_url), name)
    except ApiKeyError as exc:
        typer.echo(f"assist console key revoke: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"revoked {info.name} ({info.prefix}...)")


@key_app.command("list")
def key_list() -> None:
    """List API keys: name, role, prefix, created, revoked, last used (never the key)."""
    from bot.console.apikeys import list_keys
    from bot.db.engine import make_engine

    settings = _settings()
    for info in list_keys(make_engine(settings.database_url)):
        stamps = [
            (t.isoformat(timespec="seconds") if t else "-")
            for t in (info.created_at, info.revoked_at, info.last_used_at)
        ]
        typer.echo("\t".join([info.name, info.role, info.prefix + "...", *stamps]))


@app.command()
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue",
            "-q",
            help="Queue(s): index, review, fix, status (every worker takes status first).",
        ),
    ] = None,
    burst: Annotated[bool, typer.Option(help="Exit when the queues are empty.")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name.")] = None,
    role: Annotated[
        str,
        typer.Option(
            help="jobs: the queues above; sandbox: the secretless runner of repository code "
            "(the `sandbox` queue; refuses to start with credentials in its environment)."
        ),
    ] = "jobs",
) -> None:
    """Run an RQ worker on the named queues (all by default)."""
    from bot.intake.routing import QueueName
    from bot.jobs.worker import run_worker
    from bot.runtime import configure_logging

    if role == "sandbox":
        from bot.sandbox.role import RoleRefused, check_role_env, run_sandbox_worker

        try:
            check_role_env(os.environ)  # before anything reads a setting or connects
            settings = _settings()
            configure_logging(settings.log_level)
            run_sandbox_worker(settings.redis_url, settings.queue_prefix, burst=burst)
        except RoleRefused as exc:
            typer.echo(f"assist worker: {exc}", err=True)
            raise typer.Exit(2) from exc
        return
    if role != "jobs":
        typer.echo(f"assist worker: unknown role {role!r}; roles are jobs, sandbox", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        queues = [QueueName(q) for q in (queue or [q.value for q in QueueName])]
    except ValueError as exc:
        typer.echo(f"assist worker: {exc}; queues are index, review, fix, status", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level)
    run_worker(settings, queues, burst=burst, name=name)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.engine import upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url, revision)
    except SQLAlchemyError as exc:
        typer.echo(f"assist db upgrade: database unavailable: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"database at {revision}")


@feedback_app.command("stats")
def feedback_stats(
    repo: Annotated[str | None, typer.Option(help="Only this repository (owner/name).")] = None,
    forge: Annotated[str | None, typer.Option(help="Only this forge: github or gitlab.")] = None,
    days: Annotated[
        int, typer.Option(min=0, help="Findings posted in the last N days; 0: all.")
    ] = (90),
) -> None:
    """Precision per repository, category and severity: accepted / (accepted + rejected)."""
    import datetime as dt

    from sqlalchemy.exc import SQLAlchemyError

    from bot.db.engine import make_engine
    from bot.feedback.store import SqlFeedback

    settings = _settings()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days) if days else None
    engine = make_engine(settings.database_url)
    try:
        rows = SqlFeedback(engine).stats(forge=forge, repo=repo, since=since)
    except SQLAlchemyError as exc:
        typer.echo(f"assist feedback stats: database unavailable: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    typer.echo("forge\trepo\tcategory\tseverity\taccepted\trejected\tignored\topen\tprecision")
    for r in rows:
        precision = f"{r.precision:.2f}" if r.precision is not None else "-"
        typer.echo(
            f"{r.forge}\t{r.repo}\t{r.category}\t{r.severity}\t{r.accepted}\t{r.rejected}"
            f"\t{r.ignored}\t{r.undecided}\t{precision}"
        )
    period = f"the last {days} days" if days else "all time"
    typer.echo(f"{len(rows)} row(s), findings posted in {period}", err=True)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str, typer.Option(help="queued, started, failed, finished, canceled.")] = (
        "failed"
    ),
    limit: int = 100,
) -> None:
    """List jobs by status."""
    from bot.jobs.admin import STATUSES, list_jobs
    from bot.jobs.queue import queue_policy
    from bot.runtime import make_redis

    if status not in STATUSES:
        typer.echo(f"assist jobs list: status must be one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    redis = make_redis(settings.redis_url)
    count = 0
    for info in list_jobs(redis, queue_policy(settings), status, limit):
        count += 1
        typer.echo(f"{info.job_id}\t{info.queue}\t{info.status}\t{info.description}\t{info.error}")
    typer.echo(f"{count} {status} job(s)", err=True)


@jobs_app.command("retry")
def jobs_retry(
    job_ids: Annotated[list[str] | None, typer.Argument(help="Job ids; none: all failed.")] = None,
) -> None:
    """Requeue failed jobs."""
    from bot.jobs.admin import retry_jobs
    from bot.jobs.queue import queue_policy
    from bot.runtime import make_redis

    settings = _settings()
    done = retry_jobs(make_redis(settings.redis_url), queue_policy(settings), job_ids or [])
    for job_id in done:
        typer.echo(job_id)
    missing = set(job_ids or []) - set(done)
    if missing:
        typer.echo(f"not in a failed registry: {', '.join(sorted(missing))}", err=True)
        raise typer.Exit(1)


@jobs_app.command("cancel")
def jobs_cancel(
    job_ids: Annotated[list[str], typer.Argument(help="Job ids (queued, scheduled, deferred).")],
) -> None:
    """Cancel jobs that have not started."""
    from bot.jobs.admin import cancel_jobs
    from bot.runtime import make_redis

    settings = _settings()
    done = cancel_jobs(make_redis(settings.redis_url), job_ids)
    for job_id in done:
        typer.echo(job_id)
    missing = set(job_ids) - set(done)
    if missing:
        typer.echo(f"not waiting (or unknown): {', '.join(sorted(missing))}", err=True)
        raise typer.Exit(1)


@app.command()
def review(
    repo: Annotated[Path, typer.Option(help="A local git repository.")] = Path(),
    base: Annotated[str, typer.Option(help="The branch or commit the change goes into.")] = "main",
    head: Annotated[str | None, typer.Option(help="The change (default: HEAD).")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text, markdown, json or sarif.")
    ] = "text",
    output: Annotated[Path | None, typer.Option(help="Write to a file instead.")] = None,
) -> None:
    """Review the change from BASE to HEAD of a local repository with the configured model."""
    import asyncio

    from bot.llm import LLMError
    from bot.repoconfig import RepoConfigError
    from bot.review.local import LocalRepoError, local_change
    from bot.review.pipeline import ReviewInput
    from bot.review.render import RENDERERS
    from bot.review.run import run_review

    if output_format not in RENDERERS:
        typer.echo(f"assist review: --format must be one of {', '.join(RENDERERS)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        change = local_change(repo, base, head)
    except (LocalRepoError, RepoConfigError) as exc:
        typer.echo(f"assist review: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not change.diff:
        typer.echo(f"assist review: no changes between {base} and {head or 'HEAD'}", err=True)
        raise typer.Exit(0)
    settings = _model_ready(settings, "review")
    request = ReviewInput(
        change.title, change.body, change.diff, change.config, sources=change.sources
    )
    from bot.ops.progress import CliProgress
    from bot.review.diff import parse_diff

    try:
        with CliProgress("assist review", total=len(parse_diff(change.diff))) as bar:
            result = asyncio.run(
                run_review(
                    settings,
                    request,
                    scope=("local", str(repo.resolve()), change.head_sha),
                    progress=bar.step,
                )
            )
    except LLMError as exc:
        typer.echo(f"assist review: the model failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    text = RENDERERS[output_format](result)
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)
    if result.failed:
        typer.echo(f"assist review: {result.headline()}", err=True)
    if result.review_failed:
        raise typer.Exit(1)


@app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="The question about the change.")],
    repo: Annotated[Path, typer.Option(help="A local git repository.")] = Path(),
    base: Annotated[str, typer.Option(help="The branch or commit the change goes into.")] = "main",
    head: Annotated[str | None, typer.Option(help="The change (default: HEAD).")] = None,
) -> None:
    """Answer QUESTION about the change from BASE to HEAD of a local repository, as
    `/assist ask` does on a pull request, with the configured model."""
    import asyncio

    from bot.repoconfig import RepoConfigError
    from bot.review.local import LocalRepoError, local_change

    if not question.strip():
        typer.echo("assist ask: the question is empty", err=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        change = local_change(repo, base, head)
    except (LocalRepoError, RepoConfigError) as exc:
        typer.echo(f"assist ask: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not change.diff:
        typer.echo(f"assist ask: no changes between {base} and {head or 'HEAD'}", err=True)
        raise typer.Exit(2)
    settings = _model_ready(settings, "ask")  # before the pipeline's imports: fails at once
    from bot.llm import LLMError
    from bot.review.ask import ask_about
    from bot.review.diff import DiffError, parse_diff

    try:
        files = parse_diff(change.diff)
    except DiffError as exc:
        typer.echo(f"assist ask: the diff cannot be read: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        answer = asyncio.run(
            ask_about(
                settings,
                question,
                title=change.title,
                body=change.body,
                files=files,
                sources=change.sources,
                scope=("local", str(repo.resolve()), change.head_sha, "ask"),
            )
        )
    except LLMError as exc:
        typer.echo(f"assist ask: the model failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    sys.stdout.write(answer.text.rstrip() + "\n")
    if answer.trimmed:
        typer.echo("assist ask: the change was trimmed to fit the model's context", err=True)


@app.command("fix")
def fix(
    repo: Annotated[Path, typer.Option(help="A local git repository.")] = Path(),
    issue_text: Annotated[
        Path, typer.Option(help="The issue: first line the title, the rest the body.")
    ] = Path("ISSUE.md"),
    output: Annotated[Path | None, typer.Option(help="Write the patch here (default: stdout).")] = (
        None
    ),
    partial: Annotated[
        bool, typer.Option(help="Write the best candidate's patch even if it failed its checks.")
    ] = False,
) -> None:
    """Fix the issue in ISSUE_TEXT in a local repository with the configured model: a patch."""
    import asyncio

    from bot.fix.errors import FixError
    from bot.fix.local import fix_local, issue_from_text
    from bot.llm import LLMError
    from bot.repoconfig import RepoConfigError

    settings = _settings()
    try:
        issue = issue_from_text(issue_text.read_text(encoding="utf-8"))
    except OSError as exc:
        typer.echo(f"assist fix: cannot read {issue_text}: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = _model_ready(settings, "fix")
    from bot.ops.progress import CliProgress

    try:
        with CliProgress("assist fix") as bar:
            done = asyncio.run(fix_local(settings, repo, issue, progress=bar.stage))
    except (FixError, RepoConfigError) as exc:
        typer.echo(f"assist fix: {exc}", err=True)
        raise typer.Exit(2) from exc
    except LLMError as exc:
        typer.echo(f"assist fix: the model failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(done.report, err=True)
    if not (done.outcome.ready or (partial and done.patch)):
        raise typer.Exit(1)
    if output:
        output.write_text(done.patch, encoding="utf-8")
        typer.echo(f"assist fix: patch written to {output}", err=True)
    else:
        sys.stdout.write(done.patch)


@app.command("index")
def index(
    source: Annotated[str, typer.Argument(help="A local git repository path or a clone URL.")],
    ref: Annotated[str, typer.Option(help="Commit, branch or tag.")] = "HEAD",
    overlay: Annotated[
        bool, typer.Option(help="Index REF as a pull request head over the indexed base.")
    ] = False,
    exclude: Annotated[
        list[str] | None, typer.Option(help="gitignore-style pattern (repeatable).")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Clones, state and vectors (ASSIST_CACHE_DIR/index).")
    ] = None,
) -> None:
    """Index REF of SOURCE with tree-sitter into the vector store, incrementally."""
    from indexer.cli import index_command
    from indexer.errors import IndexerError

    settings = _settings()
    try:
        index_command(source, cache_dir or settings.cache_dir / "index", ref, overlay, exclude)
    except IndexerError as exc:
        typer.echo(f"assist index: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    repo: Annotated[str, typer.Option(help="The SOURCE given to `assist index`.")],
    head: Annotated[str | None, typer.Option(help="An indexed pull request head.")] = None,
    limit: int = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    cache_dir: Annotated[Path | None, typer.Option(help="As given to `assist index`.")] = None,
) -> None:
    """Search an indexed repository (dense + sparse, fused)."""
    from indexer.cli import search_command
    from indexer.errors import IndexerError

    settings = _settings()
    try:
        search_command(query, repo, cache_dir or settings.cache_dir / "index", head, limit, mode)
    except IndexerError as exc:
        typer.echo(f"assist search: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("doctor")
def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help='{"checks": [{"name", "ok", "detail", "fix"}]}')
    ] = False,
) -> None:
    """Check the whole setup: settings, database, Redis and workers, the model, embeddings,
    Qdrant, the sandbox and each configured forge. Exit 1 when any check fails."""
    import json

    from bot.ops.doctor import as_json as checks_json
    from bot.ops.doctor import run_checks

    settings = _settings()
    checks = run_checks(settings)
    if as_json:
        sys.stdout.write(json.dumps(checks_json(checks), indent=2) + "\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="assist doctor", show_lines=False)
        for column in ("", "check", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for c in checks:
            mark = "[green]ok[/green]" if c.ok else "[red]FAIL[/red]"
            table.add_row(mark, c.name, c.detail, "" if c.ok else c.fix)
        Console(soft_wrap=False).print(table)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        if not as_json:
            typer.echo(
                f"assist doctor: {len(failed)} check(s) failed: {', '.join(failed)}", err=True
            )
        raise typer.Exit(1)


@connect_app.command("gitlab")
def connect_gitlab_command(
    project: Annotated[str, typer.Option(help="GROUP/NAME of the project.")],
    url: Annotated[str, typer.Option(help="The public address of `assist serve`.")],
    state_file: Annotated[
        Path, typer.Option(help="Where the hook's token fingerprint is remembered.")
    ] = Path(".assist/connect-gitlab.json"),
) -> None:
    """Create or update the project's webhook (our token, merge request/comment/push events)
    and check the bot token's scopes. Running it again changes nothing."""
    from bot.ops.connect import ConnectError, connect_gitlab

    settings = _settings()
    if settings.gitlab_token is None or not settings.gitlab_webhook_tokens:
        typer.echo(
            "assist connect gitlab: set ASSIST_GITLAB_TOKEN (the bot's token, scope api) and "
            "ASSIST_GITLAB_WEBHOOK_TOKENS (`make run` generates one in .assist/secrets.env)",
            err=True,
        )
        raise typer.Exit(2)
    try:
        done = connect_gitlab(
            gitlab_url=settings.gitlab_url,
            api_token=settings.gitlab_token.get_secret_value(),
            webhook_token=settings.gitlab_webhook_tokens[0].get_secret_value(),
            project=project,
            public_url=url,
            state_file=state_file,
            timeout_s=settings.forge_timeout_s,
        )
    except ConnectError as exc:
        typer.echo(f"assist connect gitlab: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(done.report(project))


@connect_app.command("github")
def connect_github_command(
    url: Annotated[str, typer.Option(help="The public https address of `assist serve`.")],
    org: Annotated[str | None, typer.Option(help="Create the App in this organisation.")] = None,
    name: Annotated[str | None, typer.Option(help="The App's name.")] = None,
    out: Annotated[Path, typer.Option(help="Where the App's settings go.")] = Path(
        ".assist/github-app"
    ),
) -> None:
    """Create the GitHub App with the manifest flow (deploy/github-app/create_app.py): opens a
    local page to confirm on GitHub, then writes the App id, key and webhook secret to OUT."""
    import subprocess

    settings = _settings()
    script = Path(__file__).resolve().parents[1] / "deploy" / "github-app" / "create_app.py"
    if not script.is_file():
        typer.echo(f"assist connect github: {script} is missing (run from a checkout)", err=True)
        raise typer.Exit(2)
    github_url = settings.github_api_url.removesuffix("/api/v3")
    if github_url == "https://api.github.com":
        github_url = "https://github.com"
    args = [sys.executable, str(script), "--webhook-url", url.rstrip("/") + "/webhooks/github",
            "--github-url", github_url, "--out", str(out)]  # fmt: skip
    if org:
        args += ["--org", org]
    if name:
        args += ["--name", name]
    code = subprocess.run(args, check=False).returncode
    if code == 0:
        typer.echo(
            f"assist connect github: the App's settings are in {out}/app.env; load them "
            f"(`set -a; . {out}/app.env; set +a`) and restart `make run`. To undo: delete the "
            "App in GitHub's Settings > Developer settings > GitHub Apps, and the files in "
            f"{out}.",
            err=True,
        )
    raise typer.Exit(code)


@config_app.command("docs")
def config_docs(
    output: Annotated[Path | None, typer.Option(help="Write to a file instead.")] = None,
) -> None:
    """Print the settings reference (Markdown), generated from the Settings model."""
    from bot.ops.configdoc import settings_markdown

    text = settings_markdown()
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@action_app.command("review")
def action_review(
    forge: Annotated[str, typer.Option(help="github (Actions) or gitlab (GitLab CI).")] = "github",
    fail_on: Annotated[
        str,
        typer.Option(help="Exit 1 on a finding at or above: none, info, minor, major, critical."),
    ] = "none",
    sarif: Annotated[Path | None, typer.Option(help="Write SARIF 2.1.0 here.")] = None,
    code_quality: Annotated[
        Path | None, typer.Option(help="Write a GitLab Code Quality report here.")
    ] = None,
    annotate: Annotated[
        str, typer.Option(help="Annotations: auto (when not posted), always, never.")
    ] = "auto",
) -> None:
    """Review the pull/merge request of this CI job and post it (or report it when the token
    may not post: annotations, SARIF, Code Quality)."""
    from bot.action.context import ActionError
    from bot.action.report import parse_fail_on
    from bot.action.run import (
        ReviewOptions,
        RunnerFiles,
        ci_forge,
        read_job,
        review,
        token_is_read_only,
    )
    from bot.forge.errors import ForgeError
    from bot.forge.factory import ForgeNotConfigured
    from bot.llm import LLMError

    if forge not in ("github", "gitlab") or annotate not in ("auto", "always", "never"):
        typer.echo("assist action review: --forge github|gitlab, --annotate auto|always|never")
        raise typer.Exit(2)
    kind = Forge.GITLAB if forge == "gitlab" else Forge.GITHUB
    mode: Literal["auto", "always", "never"] = (
        "always" if annotate == "always" else "never" if annotate == "never" else "auto"
    )
    try:
        options = ReviewOptions(parse_fail_on(fail_on), mode, sarif, code_quality)
    except ValueError as exc:
        typer.echo(f"assist action review: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = _settings()
    try:
        job = read_job(kind, os.environ, settings)
        status = review(
            settings,
            ci_forge(settings, kind),
            job,
            options,
            RunnerFiles.from_env(os.environ),
            read_only=token_is_read_only(kind, os.environ, job),
            out=sys.stdout,
        )
    except ActionError as exc:
        typer.echo(f"assist action review: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ForgeNotConfigured as exc:  # e.g. a fork's pipeline, without the CI/CD variables
        typer.echo(f"assist action review: not configured: {exc}", err=True)
        raise typer.Exit(4) from exc
    except (ForgeError, LLMError) as exc:
        typer.echo(f"assist action review: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(3) from exc
    raise typer.Exit(status)


@action_app.command("fix")
def action_fix(
    state_dir: Annotated[
        Path, typer.Option(help="Where the job's SQLite record goes (the runner's temp).")
    ] = Path(".assist/action"),
) -> None:
    """Handle `/assist fix` from the issue_comment event of this GitHub Actions job."""
    from bot.action.context import ActionError
    from bot.action.run import fix, read_job

    settings = _settings()
    try:
        job = read_job(Forge.GITHUB, os.environ, settings)
    except ActionError as exc:
        typer.echo(f"assist action fix: {exc}", err=True)
        raise typer.Exit(2) from exc
    fix(settings, job, state_dir=state_dir, out=sys.stdout)


@eval_app.command("import-aacr")
def eval_import_aacr(
    folder: Annotated[Path, typer.Argument(help="aacr-mini, or AACR-Bench's labels folder.")],
    out: Annotated[Path, typer.Option(help="The JSONL case file to write.")],
    checkouts: Annotated[
        Path | None,
        typer.Option(help="Folder of upstream checkouts (<owner>__<repo>) for the full labels."),
    ] = None,
    inline: Annotated[bool, typer.Option(help="Copy the files into the cases.")] = False,
) -> None:
    """Convert AACR-Bench into cases; every case is checked (references inside the diff's
    files, lines inside the file on the side they name) and nothing is written on a failure."""
    from bot.eval.aacr import import_labels, import_mini
    from bot.eval.cases import CaseError, check_case, dump_cases

    root = out.parent
    try:
        if checkouts is None:
            imported = import_mini(folder, root, inline=inline)
        else:
            imported = import_labels(folder, checkouts, root)
        problems = [p for case in imported.cases for p in check_case(case, root=root)]
    except CaseError as exc:
        typer.echo(f"assist eval import-aacr: {exc}", err=True)
        raise typer.Exit(2) from exc
    for note in imported.notes:
        typer.echo(f"note: {note}", err=True)
    for need in imported.needed:
        typer.echo(
            f"needs\t{need.repo}\t{need.pr_url}\t{' '.join(need.commits)}\t{need.why}", err=True
        )
    if problems:
        typer.echo("assist eval import-aacr: invalid cases, nothing written:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    out.write_text(dump_cases(imported.cases), encoding="utf-8")
    refs = sum(len(c.references) for c in imported.cases)
    typer.echo(
        f"{len(imported.cases)} cases, {refs} references written to {out}; "
        f"{len(imported.needed)} PRs need checkouts or commits (listed above)",
        err=True,
    )
    if imported.needed and not imported.cases:
        raise typer.Exit(1)


@eval_app.command("review")
def eval_review(
    dataset: Annotated[Path, typer.Option(help="The JSONL case file.")],
    model_url: Annotated[
        list[str], typer.Option(help="OpenAI-compatible base URL, e.g. http://gpu:8000/v1.")
    ],
    model: Annotated[
        str | None, typer.Option(help="Served model name (default: ASSIST_LLM_MODEL).")
    ] = None,
    context: Annotated[str, typer.Option(help="diff, scope or index.")] = "scope",
    out: Annotated[Path, typer.Option(help="Folder for report.md, report.json, runs.jsonl.")] = (
        Path("eval-out")
    ),
    config: Annotated[
        Path | None, typer.Option(help="An .assist.toml (thresholds, limits) for every case.")
    ] = None,
    tolerance: Annotated[int, typer.Option(min=0, help="Lines of slack when matching.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N cases.")] = None,
    case: Annotated[list[str] | None, typer.Option(help="Only these case ids.")] = None,
    max_files: Annotated[
        int | None, typer.Option(min=1, help="Review at most N files per case.")
    ] = None,
    context_tokens: Annotated[
        int | None, typer.Option(help="The model's context (default ASSIST_LLM_CONTEXT_TOKENS).")
    ] = None,
) -> None:
    """Replay the review pipeline on every case of DATASET with the model at MODEL_URL and
    score it (precision, recall, F1, noise, cost per change): report.md and report.json."""
    import asyncio
    import time

    from bot.eval.cases import CaseError, load_cases
    from bot.eval.report import write_report
    from bot.eval.runner import CONTEXT_MODES, ContextMode, run_all, run_json
    from bot.eval.score import CaseRun, report
    from bot.repoconfig import RepoConfigError, parse_repo_config

    if context not in CONTEXT_MODES:
        typer.echo(f"assist eval review: --context must be one of {', '.join(CONTEXT_MODES)}")
        raise typer.Exit(2)
    mode: ContextMode = "diff" if context == "diff" else "index" if context == "index" else "scope"
    base = _settings()
    update: dict[str, object] = {"llm_base_urls": model_url}
    if model:
        update["llm_model"] = model
    if context_tokens:
        update["llm_context_tokens"] = context_tokens
    settings = base.model_copy(update=update)
    try:
        cases = load_cases(dataset)
        repo_config = parse_repo_config(config.read_bytes() if config else None)
    except (CaseError, RepoConfigError, OSError) as exc:
        typer.echo(f"assist eval review: {exc}", err=True)
        raise typer.Exit(2) from exc
    if case:
        unknown = set(case) - {c.id for c in cases}
        if unknown:
            typer.echo(f"assist eval review: unknown case ids: {', '.join(sorted(unknown))}")
            raise typer.Exit(2)
        cases = [c for c in cases if c.id in set(case)]
    cases = cases[:limit] if limit else cases
    out.mkdir(parents=True, exist_ok=True)
    runs_file = (out / "runs.jsonl").open("w", encoding="utf-8")

    def progress(run: CaseRun) -> None:
        runs_file.write(run_json(run) + "\n")
        runs_file.flush()
        state = run.error or f"{len(run.findings)} findings, {run.model_seconds:.1f} model s"
        typer.echo(f"{run.case_id}: {state}", err=True)

    started = time.monotonic()
    with runs_file:
        runs = asyncio.run(
            run_all(
                settings,
                cases,
                root=dataset.parent,
                config=repo_config,
                mode=mode,
                max_files=max_files,
                progress=progress,
            )
        )
    meta: dict[str, object] = {
        "dataset": str(dataset),
        "model": settings.llm_model,
        "model_url": ", ".join(model_url),
        "context": mode,
        "max_files": max_files,
        "limit": limit,
        "config": str(config) if config else None,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    data = report(runs, tolerance=tolerance, meta=meta)
    json_path, md_path = write_report(out, data)
    typer.echo(
        f"precision {data['precision']}, recall {data['recall']}, F1 {data['f1']} over "
        f"{data['cases']} cases; {json_path}, {md_path}",
        err=True,
    )
    if data["failed"]:
        raise typer.Exit(1)


@eval_app.command("score")
def eval_score(
    runs: Annotated[Path, typer.Argument(help="The runs.jsonl of an `assist eval review`.")],
    out: Annotated[Path, typer.Option(help="Folder for report.md and report.json.")],
    tolerance: Annotated[int, typer.Option(min=0, help="Lines of slack when matching.")] = 1,
) -> None:
    """Score recorded runs again (another tolerance, or a run that was stopped part way)."""
    from bot.eval.cases import CaseError
    from bot.eval.report import write_report
    from bot.eval.runner import read_runs
    from bot.eval.score import report

    try:
        recorded = read_runs(runs)
    except (CaseError, OSError) as exc:
        typer.echo(f"assist eval score: {exc}", err=True)
        raise typer.Exit(2) from exc
    data = report(recorded, tolerance=tolerance, meta={"runs": str(runs)})
    json_path, md_path = write_report(out, data)
    typer.echo(
        f"precision {data['precision']}, recall {data['recall']}, F1 {data['f1']} over "
        f"{data['cases']} cases; {json_path}, {md_path}",
        err=True,
    )


@eval_app.command("mine")
def eval_mine(
    repo: Annotated[
        str,
        typer.Option(
            help="A local git repository (all commits fetched), or a GitHub/GitLab URL whose "
            "merged changes are read through the forge (ASSIST_GITHUB_*/ASSIST_GITLAB_*)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="The JSONL case file to write.")],
    comments: Annotated[
        Path | None,
        typer.Option(help="Local repository: JSONL export of merged changes and their comments."),
    ] = None,
    name: Annotated[str, typer.Option(help="Prefix of the case ids (default: folder name).")] = "",
    bot: Annotated[
        list[str] | None, typer.Option(help="A bot account to leave out (repeatable).")
    ] = None,
    forge: Annotated[
        str | None, typer.Option(help="URL: github or gitlab (default: from the URL).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="URL: the newest N merged changes.")] = 100,
) -> None:
    """Cases from a repository's history: merged changes whose human review comments were
    followed by a commit touching the commented lines."""
    from bot.eval.cases import CaseError, check_case, dump_cases
    from bot.eval.mine import mine, read_export

    remote = repo.startswith(("http://", "https://"))
    if remote == (comments is not None):
        typer.echo(
            "assist eval mine: give --comments with a local repository, and no --comments "
            "with a forge URL",
            err=True,
        )
        raise typer.Exit(2)
    if forge not in (None, "github", "gitlab"):
        typer.echo("assist eval mine: --forge must be github or gitlab", err=True)
        raise typer.Exit(2)
    try:
        if comments is not None:
            path, changes = Path(repo), read_export(comments)
        else:
            path, changes, name = _forge_history(repo, out.parent, forge, limit, name)
        mined = mine(path, changes, out_dir=out.parent, name=name, bots=bot or ())
        problems = [p for case in mined.cases for p in check_case(case, root=out.parent)]
    except CaseError as exc:
        typer.echo(f"assist eval mine: {exc}", err=True)
        raise typer.Exit(2) from exc
    if problems:
        typer.echo("assist eval mine: invalid cases, nothing written:", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    out.write_text(dump_cases(mined.cases), encoding="utf-8")
    left_out = ", ".join(f"{n} {why}" for why, n in sorted(mined.skipped.items())) or "none"
    typer.echo(
        f"{len(mined.cases)} cases from {mined.changes} changes written to {out}; "
        f"left out: {left_out}",
        err=True,
    )


def _forge_history(
    url: str, folder: Path, forge_kind: str | None, limit: int, name: str
) -> tuple[Path, list[ExportedChange], str]:
    """The merged changes of the repository at ``url`` through its forge adapter, and its
    commits fetched next to the case file (``<folder>/repos/owner__name.git``)."""
    from bot.eval.cases import CaseError
    from bot.eval.forge_mine import clone_name, fetch_history, forge_repo, read_history
    from bot.forge.errors import ForgeError
    from bot.forge.factory import build_forge

    settings = _settings()
    kind = Forge(forge_kind) if forge_kind in ("github", "gitlab") else None
    ref = forge_repo(url, gitlab_url=settings.gitlab_url, kind=kind)
    try:
        adapter = build_forge(settings, ref.forge)
        changes = read_history(adapter, ref, limit=limit)
        path = fetch_history(adapter, ref, folder / "repos" / clone_name(ref))
    except ForgeError as exc:
        raise CaseError(f"{ref}: {exc}") from exc
    return path, changes, name or ref.path.rsplit("/", 1)[-1]


@export_app.command("feedback")
def export_feedback(
    output_format: Annotated[str, typer.Option("--format", help="sft or dpo.")],
    out: Annotated[Path, typer.Option(help="The JSONL file to write.")],
    rows: Annotated[
        Path | None, typer.Option(help="Feedback rows as JSONL (prompt, finding, outcome).")
    ] = None,
    table: Annotated[
        str, typer.Option(help="Without --rows: the table to read (ASSIST_DATABASE_URL).")
    ] = "findings",
) -> None:
    """Accepted and rejected findings with their exact prompts as fine-tuning JSONL
    (deploy/finetune/ trains a LoRA adapter from it)."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from bot.eval.cases import CaseError
    from bot.eval.feedback import rows_from_jsonl, rows_from_table, to_dpo, to_sft

    if output_format not in ("sft", "dpo"):
        typer.echo("assist export feedback: --format must be sft or dpo", err=True)
        raise typer.Exit(2)
    try:
        found = rows_from_jsonl(rows) if rows else rows_from_table(_settings().database_url, table)
    except (CaseError, OSError, SQLAlchemyError) as exc:
        typer.echo(f"assist export feedback: {exc}", err=True)
        raise typer.Exit(2) from exc
    examples = to_sft(found) if output_format == "sft" else to_dpo(found)
    out.write_text("".join(json.dumps(e) + "\n" for e in examples), encoding="utf-8")
    accepted = sum(r.outcome == "accepted" for r in found)
    typer.echo(
        f"{len(examples)} {output_format} examples from {accepted} accepted and "
        f"{len(found) - accepted} rejected findings written to {out}",
        err=True,
    )
    if not examples:
        raise typer.Exit(1)


def main() -> None:
    app()
