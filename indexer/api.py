"""The functions the CLI and the review/fix pipelines call.

`open_indexer` builds the default local components (MiniLM int8 embedder with its SQLite
cache, a Qdrant Edge shard, the model's tokenizer) under one cache directory; pass your own
`store`/`embedder` for production (Qdrant server, OpenAI-compatible embeddings)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from indexer import repo as gitops
from indexer.embed_cache import CachedEmbedder, EmbeddingCache
from indexer.embedding import Embedder, MiniLMEmbedder, MiniLMPaths
from indexer.fusion import Mode
from indexer.pipeline import IndexConfig, Indexer, IndexStats, Progress, SearchResult
from indexer.state import StateStore
from indexer.store import EdgeStore, VectorStore
from indexer.symbols import RepoMap, SymbolGraph
from indexer.symbols import repo_map as build_repo_map
from indexer.tokens import HFTokenCounter, TokenCounter


def repo_id_for(source: str) -> str:
    """The repository's id in the store: a URL as given, a local path made absolute."""
    local = Path(source)
    return gitops.repo_key(str(local.resolve()) if local.exists() else source)


def open_indexer(
    cache_dir: Path,
    *,
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
    config: IndexConfig | None = None,
    counter: TokenCounter | None = None,
    threads: int | None = None,
) -> Indexer:
    """An `Indexer` over `cache_dir`: state/, embeddings.sqlite, qdrant/ (when no store).
    `counter` sizes chunks; pass the served model's tokenizer when it is not MiniLM's."""
    paths = MiniLMPaths.installed()
    inner = embedder or MiniLMEmbedder.load(paths, threads=threads)
    cached = CachedEmbedder(inner, EmbeddingCache.open(cache_dir / "embeddings.sqlite"))
    return Indexer(
        store=store or EdgeStore.open(cache_dir / "qdrant", model=inner.model, dim=inner.dim),
        embedder=cached,
        counter=counter or HFTokenCounter.from_file(paths.tokenizer),
        states=StateStore(cache_dir / "state"),
        config=config,
    )


def index_repository(
    source: str,
    *,
    indexer: Indexer,
    cache_dir: Path,
    ref: str = "HEAD",
    overlay: bool = False,
    fetch: str | None = None,
    progress: Progress | None = None,
) -> IndexStats:
    """Index `ref` of a local path or URL. `overlay=False` moves the base layer to `ref`
    incrementally (push jobs); `overlay=True` indexes `ref` (a PR head) on top of the
    indexed base without copying it. `fetch` names an extra ref to fetch first, such as
    `refs/pull/7/head`."""
    repo = gitops.open_or_clone(source, cache_dir)
    if fetch:
        gitops.fetch_ref(repo, fetch)
    commit = gitops.resolve(repo, ref)
    repo_id = repo_id_for(source)
    if overlay:
        return indexer.index_overlay(repo, repo_id, commit, progress=progress)
    return indexer.index_commit(repo, repo_id, commit, progress=progress)


def search(
    query: str,
    *,
    source: str,
    indexer: Indexer,
    head: str | None = None,
    limit: int = 10,
    mode: Mode = "hybrid",
) -> list[SearchResult]:
    """Hybrid (or dense-only / sparse-only) search in a repository's base layer, or as seen
    from an indexed PR head."""
    return indexer.search(repo_id_for(source), query, head=head, limit=limit, mode=mode)


def symbol_graph(source: str, *, indexer: Indexer) -> SymbolGraph:
    return SymbolGraph.build(indexer.state(repo_id_for(source)).symbols.values())


def repo_map(
    source: str, changed_paths: Iterable[str], *, indexer: Indexer, budget: int = 1024
) -> RepoMap:
    """The definitions most relevant to `changed_paths`, rendered within `budget` tokens."""
    graph = symbol_graph(source, indexer=indexer)
    return build_repo_map(graph, changed_paths, budget=budget, counter=indexer.counter)
