"""Repository indexer: tree-sitter chunks and symbols into Qdrant, incremental, hybrid search."""

from indexer.api import index_repository, open_indexer, repo_id_for, repo_map, search, symbol_graph
from indexer.errors import IndexerError
from indexer.pipeline import IndexConfig, Indexer, IndexStats, SearchResult

__all__ = [
    "IndexConfig",
    "IndexStats",
    "Indexer",
    "IndexerError",
    "SearchResult",
    "index_repository",
    "open_indexer",
    "repo_id_for",
    "repo_map",
    "search",
    "symbol_graph",
]
