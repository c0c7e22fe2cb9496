"""An embedding cache keyed by (model, sha256 of the text), persisted in SQLite, so that an
unchanged chunk is never embedded twice, across commits, branches and processes."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.embedding import Embedder, Vectors


class EmbeddingCache:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, hash BLOB NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID"
        )

    @classmethod
    def open(cls, path: Path) -> EmbeddingCache:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def get(self, model: str, hashes: Sequence[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for b in range(0, len(hashes), 500):
            part = list(hashes[b : b + 500])
            marks = ",".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                [model, *part],
            )
            found.update((bytes(h), bytes(v)) for h, v in rows)
        return found

    def put(self, model: str, items: Sequence[tuple[bytes, bytes]]) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model, h, v) for h, v in items],
            )

    def count(self, model: str) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", [model])
        return int(row.fetchone()[0])


class CachedEmbedder:
    """An `Embedder` that only sends texts the cache has not seen, deduplicated."""

    def __init__(self, inner: Embedder, cache: EmbeddingCache) -> None:
        self._inner = inner
        self._cache = cache
        self.computed = 0  # texts actually sent to the inner embedder

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        hashes = [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]
        found = self._cache.get(self.model, hashes)
        missing: dict[bytes, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in found and h not in missing:
                missing[h] = t
        if missing:
            vecs = self._inner.embed(list(missing.values()))
            self.computed += len(missing)
            new = [(h, v.astype(np.float32).tobytes()) for h, v in zip(missing, vecs, strict=True)]
            self._cache.put(self.model, new)
            found.update(new)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = np.frombuffer(found[h], dtype=np.float32)
        return out
