"""`index` and `search` commands (typer); the bot mounts `app`. Options are explicit: no
environment is read here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from indexer.api import index_repository, open_indexer, search
from indexer.fusion import Mode
from indexer.pipeline import IndexConfig

app = typer.Typer(help="Index repositories and search them.", no_args_is_help=True)
console = Console()

CacheDir = Annotated[Path, typer.Option("--cache-dir", help="Where clones, state, vectors go.")]


@app.command("index")
def index_command(
    source: Annotated[str, typer.Argument(help="A local git repository path or a clone URL.")],
    cache_dir: CacheDir,
    ref: Annotated[str, typer.Option("--ref", help="Commit, branch or tag.")] = "HEAD",
    overlay: Annotated[
        bool, typer.Option("--overlay", help="Index REF as a PR head over the indexed base.")
    ] = False,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="gitignore-style pattern (repeatable).")
    ] = None,
) -> None:
    """Index REF of SOURCE (incrementally when it was indexed before)."""
    indexer = open_indexer(cache_dir, config=IndexConfig(excludes=tuple(exclude or ())))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        stats = index_repository(
            source,
            indexer=indexer,
            cache_dir=cache_dir,
            ref=ref,
            overlay=overlay,
            progress=progress,
        )
    indexer.store.close()
    console.print(
        f"{stats.layer} @ {stats.commit[:12]}: {stats.files_changed} files changed, "
        f"{stats.files_removed} removed, {stats.files_skipped} skipped, {stats.chunks} chunks, "
        f"{stats.embedded} embedded, {stats.seconds:.1f}s"
    )


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    repo: Annotated[str, typer.Option("--repo", help="The SOURCE given to `index`.")],
    cache_dir: CacheDir,
    head: Annotated[str | None, typer.Option("--head", help="An indexed PR head.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or sparse")] = "hybrid",
) -> None:
    """Search an indexed repository."""
    if mode not in ("hybrid", "dense", "sparse"):
        raise typer.BadParameter("mode must be hybrid, dense or sparse")
    indexer = open_indexer(cache_dir)
    chosen: Mode = "dense" if mode == "dense" else "sparse" if mode == "sparse" else "hybrid"
    results = search(query, source=repo, indexer=indexer, head=head, limit=limit, mode=chosen)
    indexer.store.close()
    for r in results:
        symbol = f" {r.symbol}" if r.symbol else ""
        console.print(f"[bold]{r.path}:{r.start_line}-{r.end_line}[/bold]{symbol}  {r.score:.3f}")
        if r.signature:
            console.print(f"    {r.signature}", markup=False, highlight=False)
