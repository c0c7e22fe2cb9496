"""The indexer's exception hierarchy."""

from __future__ import annotations


class IndexerError(Exception):
    """Base class of every error the indexer raises."""


class GrammarError(IndexerError):
    """A grammar or its tags query could not be loaded."""


class EmbeddingError(IndexerError):
    """An embedder failed or returned malformed vectors."""


class StoreError(IndexerError):
    """A vector store operation failed."""


class ParseTimeout(IndexerError):
    """Parsing a source (or querying its tree) took longer than its time limit."""


class RepoError(IndexerError):
    """A git operation failed or a ref does not exist."""
