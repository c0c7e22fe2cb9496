"""The repository index as the fix pipeline's :class:`CodeSearch`: hybrid search over the
working copy's commit and the repo map of its symbol graph.

A fix indexes its own working copy into a vector store of its own (under the job's scratch
directory, gone with it), so concurrent jobs never share an embedded Qdrant shard and no
points are left behind; the embeddings cache is the shared one, so chunks embedded before are
not embedded again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from bot.fix.localise import SearchHit
from indexer.embed_cache import CachedEmbedder, EmbeddingCache
from indexer.embedding import MiniLMEmbedder, MiniLMPaths
from indexer.errors import IndexerError
from indexer.pipeline import Indexer
from indexer.state import StateStore
from indexer.store import EdgeStore
from indexer.symbols import SymbolGraph, rank_definitions
from indexer.tokens import HFTokenCounter

log = logging.getLogger(__name__)
REPO_ID = "fix-workspace"


@dataclass
class IndexSearch:
    indexer: Indexer
    repo_id: str = REPO_ID

    def search(self, query: str, *, limit: int) -> Sequence[SearchHit]:
        results = self.indexer.search(self.repo_id, query, limit=limit)
        return [SearchHit(r.path, r.symbol, r.start_line, r.end_line, r.score) for r in results]

    def related(self, paths: Sequence[str], *, limit: int) -> Sequence[str]:
        graph = SymbolGraph.build(self.indexer.state(self.repo_id).symbols.values())
        out: list[str] = []
        for entry in rank_definitions(graph, paths):
            if entry.path not in out:
                out.append(entry.path)
            if len(out) >= limit:
                break
        return out

    def close(self) -> None:
        self.indexer.store.close()


def index_workspace(root: Path, *, scratch: Path, embeddings_cache: Path) -> IndexSearch:
    """Index the working copy's HEAD into a store under ``scratch``. Raises IndexerError (or
    OSError when the embedding model is not installed)."""
    paths = MiniLMPaths.installed()
    inner = MiniLMEmbedder.load(paths)
    embedder = CachedEmbedder(inner, EmbeddingCache.open(embeddings_cache))
    indexer = Indexer(
        store=EdgeStore.open(scratch / "qdrant", model=inner.model, dim=inner.dim),
        embedder=embedder,
        counter=HFTokenCounter.from_file(paths.tokenizer),
        states=StateStore(scratch / "state"),
    )
    try:
        repo = git.Repo(str(root))
        stats = indexer.index_commit(repo, REPO_ID, str(repo.head.commit.hexsha))
    except (git.GitError, ValueError) as exc:
        indexer.store.close()
        raise IndexerError(f"cannot index the working copy: {exc}") from exc
    log.info("fix index: %d files, %d chunks, %.1fs", stats.files_total, stats.chunks,
             stats.seconds)  # fmt: skip
    return IndexSearch(indexer)
