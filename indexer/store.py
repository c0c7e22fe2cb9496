"""Vector stores behind one protocol: the embedded Qdrant Edge shard (default, on disk) and
a Qdrant server through qdrant-client (production). One collection/shard per embedding model.

Points carry a dense vector ("dense", cosine) and a BM25-style sparse vector ("bm25", IDF
applied by the engine). Each search runs one of them; `indexer.fusion` fuses the two lists.

Visibility (see docs/indexer.md): every point belongs to a layer of a repository: "base" for
the indexed default branch, "pr:<head sha>" for a PR overlay that holds only the files the PR
changed. A `Scope` with an overlay sees the overlay's points plus the base points whose path
the PR did not touch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from indexer.sparse import SparseVec

DENSE = "dense"
SPARSE = "bm25"
BASE_LAYER = "base"
KEYWORD_FIELDS = ("repo", "layer", "path", "commit", "blob")


@dataclass(frozen=True, slots=True)
class StoredPoint:
    id: str
    dense: Sequence[float]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a query may see: one repository's base layer, optionally under an overlay."""

    repo: str
    overlay: str | None = None
    masked_paths: frozenset[str] = field(default_factory=frozenset)
    paths: frozenset[str] | None = None  # restrict to these paths when set


class VectorStore(Protocol):
    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    def delete_paths(self, *, repo: str, layer: str, paths: Sequence[str]) -> None: ...

    def delete_layer(self, *, repo: str, layer: str) -> None: ...

    def count(self, *, repo: str, layer: str | None = None) -> int: ...

    def search(
        self,
        *,
        scope: Scope,
        dense: Sequence[float] | None = None,
        sparse: SparseVec | None = None,
        limit: int,
    ) -> list[Hit]:
        """Nearest points to one query vector: `dense` if given, else `sparse`."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def collection_name(model: str) -> str:
    return "code_" + re.sub(r"[^A-Za-z0-9_]+", "_", model).strip("_").lower()


# --------------------------------------------------------------------------------------------
# Qdrant Edge (embedded)
# --------------------------------------------------------------------------------------------


class EdgeStore:
    """An `EdgeShard` in `root/<collection>`; created on first open."""

    def __init__(self, shard: Any) -> None:
        self._shard = shard

    @classmethod
    def open(cls, root: Path, *, model: str, dim: int) -> EdgeStore:
        import qdrant_edge as qe

        path = root / collection_name(model)
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        if path.is_dir() and any(path.iterdir()):
            shard = qe.EdgeShard.load(str(path), config)
        else:
            path.mkdir(parents=True, exist_ok=True)
            shard = qe.EdgeShard.create(str(path), config)
            for name in KEYWORD_FIELDS:
                shard.update(
                    qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword)
                )
        return cls(shard)

    def _filter(self, scope: Scope) -> Any:
        import qdrant_edge as qe

        def eq(key: str, value: str) -> Any:
            return qe.FieldCondition(key=key, match=qe.MatchValue(value))

        must: list[Any] = [eq("repo", scope.repo)]
        if scope.paths is not None:
            must.append(qe.FieldCondition(key="path", match=qe.MatchAny(sorted(scope.paths))))
        if scope.overlay is None:
            must.append(eq("layer", BASE_LAYER))
            return qe.Filter(must=must)
        masked = sorted(scope.masked_paths)
        base = qe.Filter(
            must=[eq("layer", BASE_LAYER)],
            must_not=[qe.FieldCondition(key="path", match=qe.MatchAny(masked))] if masked else None,
        )
        return qe.Filter(must=must, should=[base, eq("layer", scope.overlay)])

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        import qdrant_edge as qe

        for b in range(0, len(points), 512):
            batch = [
                qe.Point(
                    p.id,
                    {
                        DENSE: [float(x) for x in p.dense],
                        SPARSE: qe.SparseVector(list(p.sparse.indices), list(p.sparse.values)),
                    },
                    p.payload,
                )
                for p in points[b : b + 512]
            ]
            self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def _delete(self, flt: Any) -> None:
        import qdrant_edge as qe

        self._shard.update(qe.UpdateOperation.delete_points_by_filter(flt))

    def delete_paths(self, *, repo: str, layer: str, paths: Sequence[str]) -> None:
        import qdrant_edge as qe

        if not paths:
            return
        self._delete(
            qe.Filter(
                must=[
                    qe.FieldCondition(key="repo", match=qe.MatchValue(repo)),
                    qe.FieldCondition(key="layer", match=qe.MatchValue(layer)),
                    qe.FieldCondition(key="path", match=qe.MatchAny(sorted(paths))),
                ]
            )
        )

    def delete_layer(self, *, repo: str, layer: str) -> None:
        import qdrant_edge as qe

        self._delete(
            qe.Filter(
                must=[
                    qe.FieldCondition(key="repo", match=qe.MatchValue(repo)),
                    qe.FieldCondition(key="layer", match=qe.MatchValue(layer)),
                ]
            )
        )

    def count(self, *, repo: str, layer: str | None = None) -> int:
        import qdrant_edge as qe

        must: list[Any] = [qe.FieldCondition(key="repo", match=qe.MatchValue(repo))]
        if layer is not None:
            must.append(qe.FieldCondition(key="layer", match=qe.MatchValue(layer)))
        return int(self._shard.count(qe.CountRequest(filter=qe.Filter(must=must), exact=True)))

    def search(
        self,
        *,
        scope: Scope,
        dense: Sequence[float] | None = None,
        sparse: SparseVec | None = None,
        limit: int,
    ) -> list[Hit]:
        import qdrant_edge as qe

        if dense is not None:
            query = qe.Query.Nearest([float(x) for x in dense], using=DENSE)
        elif sparse is not None and sparse.indices:
            vec = qe.SparseVector(list(sparse.indices), list(sparse.values))
            query = qe.Query.Nearest(vec, using=SPARSE)
        else:
            return []
        req = qe.QueryRequest(
            limit=limit, query=query, filter=self._filter(scope), with_payload=True
        )
        points = self._shard.query(req)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in points]

    def optimize(self) -> None:
        self._shard.optimize()

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.close()
