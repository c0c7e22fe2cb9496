"""Index a commit (base layer, incremental by blob sha) or a PR head (overlay), and search.

The `Indexer` holds its collaborators (store, embedder, token counter, state store); it is
built by an entry point and does no I/O in its constructor."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import git

from indexer import repo as gitops
from indexer.chunking import MAX_TOKENS, Chunk
from indexer.embedding import Embedder
from indexer.errors import IndexerError
from indexer.files import ProcessedFile, process_file
from indexer.filters import FileFilter
from indexer.fusion import CANDIDATES, DENSE_WEIGHT, SPARSE_WEIGHT, Mode, rrf
from indexer.sparse import document_vector, query_vector
from indexer.state import Overlay, RepoState, StateStore
from indexer.store import BASE_LAYER, Hit, Scope, StoredPoint, VectorStore
from indexer.tokens import TokenCounter

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)
_NS = uuid.UUID("6f1c0f3e-3a49-4c1e-9d59-5b0e4b1f7a11")


@dataclass(frozen=True, slots=True)
class IndexStats:
    repo: str
    commit: str
    layer: str
    files_total: int
    files_changed: int
    files_removed: int
    files_skipped: int
    chunks: int
    embedded: int  # texts actually sent to the embedder (cache misses)
    seconds: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    path: str
    start_line: int
    end_line: int
    symbol: str
    signature: str
    language: str
    code: str
    score: float
    layer: str

    @classmethod
    def from_hit(cls, hit: Hit) -> SearchResult:
        p = hit.payload
        return cls(
            p["path"],
            int(p["start_line"]),
            int(p["end_line"]),
            p.get("symbol", ""),
            p.get("signature", ""),
            p.get("language", ""),
            p.get("code", ""),
            hit.score,
            p.get("layer", BASE_LAYER),
        )


_BATCH_BYTES = 32 * 1024 * 1024  # blob bytes read into memory at once
_BATCH_FILES = 200


def _batches(paths: list[str], sizes: list[int], max_bytes: int) -> list[list[str]]:
    """``paths`` in order, cut into batches of at most ``max_bytes`` (and _BATCH_FILES)."""
    out: list[list[str]] = []
    current: list[str] = []
    total = 0
    for path, size in zip(paths, sizes, strict=True):
        if current and (total + size > max_bytes or len(current) >= _BATCH_FILES):
            out.append(current)
            current, total = [], 0
        current.append(path)
        total += size
    if current:
        out.append(current)
    return out


def overlay_layer(head: str) -> str:
    return f"pr:{head}"


def point_id(repo: str, layer: str, path: str, blob: str, index: int) -> str:
    return str(uuid.uuid5(_NS, f"{repo}\0{layer}\0{path}\0{blob}\0{index}"))


@dataclass(frozen=True, slots=True)
class IndexConfig:
    excludes: tuple[str, ...] = ()
    max_tokens: int = MAX_TOKENS
    embed_batch: int = 1024  # texts per embed call: the embedder sorts them by length


class Indexer:
    def __init__(
        self,
        *,
        store: VectorStore,
        embedder: Embedder,
        counter: TokenCounter,
        states: StateStore,
        config: IndexConfig | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.counter = counter
        self.states = states
        self.config = config or IndexConfig()

    # -- helpers ---------------------------------------------------------------------------
    def _filter(self, repo: git.Repo, commit: str) -> FileFilter:
        gitignore = gitops.read_text_at(repo, commit, ".gitignore") or ""
        return FileFilter(excludes=self.config.excludes, gitignore=gitignore)

    def _visible_blobs(self, repo: git.Repo, commit: str, flt: FileFilter) -> dict[str, str]:
        return {p: s for p, s in gitops.tree_blobs(repo, commit).items() if flt.path_allowed(p)}

    def _process(
        self,
        repo: git.Repo,
        wanted: dict[str, str],
        flt: FileFilter,
        progress: Progress | None,
    ) -> list[ProcessedFile]:
        # Sizes first: an over-size blob is skipped without reading it, and the rest are read
        # in batches bounded by bytes, not by count (a PR of large files cannot fill memory).
        sizes = gitops.blob_sizes(repo, sorted(set(wanted.values())))
        out: list[ProcessedFile] = []
        paths: list[str] = []
        for p in sorted(wanted):
            if sizes.get(wanted[p], 0) > flt.max_bytes:
                out.append(ProcessedFile(p, wanted[p], (), None, "too large"))
            else:
                paths.append(p)
        done = len(out)
        for part in _batches(paths, [sizes.get(wanted[p], 0) for p in paths], _BATCH_BYTES):
            contents = gitops.read_blobs(repo, [wanted[p] for p in part])
            for p in part:
                data = contents.get(wanted[p])
                if data is None:
                    raise IndexerError(f"blob {wanted[p]} of {p} is missing")
                out.append(
                    process_file(
                        p,
                        wanted[p],
                        data,
                        file_filter=flt,
                        counter=self.counter,
                        max_tokens=self.config.max_tokens,
                    )
                )
            done += len(part)
            if progress:
                progress("parse", done, len(wanted))
        return out

    def _write(
        self,
        repo_id: str,
        layer: str,
        commit: str,
        files: Sequence[ProcessedFile],
        stale_paths: Sequence[str],
        progress: Progress | None,
    ) -> tuple[int, int]:
        chunks: list[tuple[ProcessedFile, int, Chunk]] = [
            (f, i, c) for f in files for i, c in enumerate(f.chunks)
        ]
        # A CachedEmbedder counts its cache misses; other embedders count every text.
        before = getattr(self.embedder, "computed", 0)
        points: list[StoredPoint] = []
        step = self.config.embed_batch
        for b in range(0, len(chunks), step):
            part = chunks[b : b + step]
            vectors = self.embedder.embed([c.text for _, _, c in part])
            for (f, i, c), vec in zip(part, vectors, strict=True):
                points.append(
                    StoredPoint(
                        point_id(repo_id, layer, f.path, f.blob, i),
                        vec.tolist(),
                        document_vector(c.text, symbol=c.symbol),
                        {
                            "repo": repo_id,
                            "layer": layer,
                            "path": c.path,
                            "blob": f.blob,
                            "commit": commit,
                            "language": c.language,
                            "start_line": c.start_line,
                            "end_line": c.end_line,
                            "symbol": c.symbol,
                            "kind": c.kind,
                            "signature": c.signature,
                            "code": c.code,
                        },
                    )
                )
            if progress:
                progress("embed", min(b + step, len(chunks)), len(chunks))
        self.store.delete_paths(repo=repo_id, layer=layer, paths=list(stale_paths))
        self.store.upsert(points)
        self.store.flush()
        after = getattr(self.embedder, "computed", None)
        return len(points), len(points) if after is None else after - before

    # -- base layer ------------------------------------------------------------------------
    def index_commit(
        self, repo: git.Repo, repo_id: str, commit: str, *, progress: Progress | None = None
    ) -> IndexStats:
        """Bring the base layer from its indexed commit to `commit`, touching only the paths
        whose blob changed (added, modified, removed, renamed)."""
        t0 = time.perf_counter()
        state = self.states.load(repo_id, self.embedder.model)
        flt = self._filter(repo, commit)
        new_blobs = self._visible_blobs(repo, commit, flt)
        changes = gitops.diff_blobs(state.blobs, new_blobs)
        wanted = {c.path: c.new_sha for c in changes if c.new_sha is not None}
        removed = [c.path for c in changes if c.new_sha is None]
        files = self._process(repo, wanted, flt, progress)
        stale = [c.path for c in changes if c.old_sha is not None]
        n_chunks, embedded = self._write(repo_id, BASE_LAYER, commit, files, stale, progress)
        symbols = {p: s for p, s in state.symbols.items() if p in new_blobs}
        for f in files:
            symbols.pop(f.path, None)
            if f.symbols is not None:
                symbols[f.path] = f.symbols
        self.states.save(
            replace(state, commit=commit, blobs=new_blobs, symbols=symbols, overlays=state.overlays)
        )
        log.info(
            "indexed repo=%s commit=%s changed=%d removed=%d chunks=%d embedded=%d",
            repo_id, commit, len(wanted), len(removed), n_chunks, embedded,
        )  # fmt: skip
        return IndexStats(
            repo_id,
            commit,
            BASE_LAYER,
            len(new_blobs),
            len(wanted),
            len(removed),
            sum(1 for f in files if f.skipped),
            n_chunks,
            embedded,
            time.perf_counter() - t0,
        )

    # -- PR overlays -----------------------------------------------------------------------
    def index_overlay(
        self, repo: git.Repo, repo_id: str, head: str, *, progress: Progress | None = None
    ) -> IndexStats:
        """Index a PR head on top of the indexed base: only the files the head changes get
        points (layer `pr:<head>`); the base paths it changed or removed are masked."""
        t0 = time.perf_counter()
        state = self.states.load(repo_id, self.embedder.model)
        if state.commit is None:
            raise IndexerError(f"{repo_id}: index the base branch before a PR head")
        layer = overlay_layer(head)
        flt = self._filter(repo, state.commit)  # the base's rules: a PR cannot change them
        head_blobs = self._visible_blobs(repo, head, flt)
        changes = gitops.diff_blobs(state.blobs, head_blobs)
        wanted = {c.path: c.new_sha for c in changes if c.new_sha is not None}
        files = self._process(repo, wanted, flt, progress)
        self.store.delete_layer(repo=repo_id, layer=layer)
        n_chunks, embedded = self._write(repo_id, layer, head, files, [], progress)
        overlay = Overlay(head, state.commit, wanted, tuple(c.path for c in changes))
        self.states.save(replace(state, overlays={**state.overlays, layer: overlay}))
        log.info(
            "indexed overlay repo=%s head=%s base=%s files=%d chunks=%d embedded=%d",
            repo_id, head, state.commit, len(wanted), n_chunks, embedded,
        )  # fmt: skip
        return IndexStats(
            repo_id,
            head,
            layer,
            len(head_blobs),
            len(wanted),
            sum(1 for c in changes if c.new_sha is None),
            sum(1 for f in files if f.skipped),
            n_chunks,
            embedded,
            time.perf_counter() - t0,
        )

    def drop_overlay(self, repo_id: str, head: str) -> None:
        layer = overlay_layer(head)
        self.store.delete_layer(repo=repo_id, layer=layer)
        state = self.states.load(repo_id, self.embedder.model)
        overlays = {k: v for k, v in state.overlays.items() if k != layer}
        self.states.save(replace(state, overlays=overlays))

    # -- queries ---------------------------------------------------------------------------
    def scope(self, repo_id: str, head: str | None = None) -> Scope:
        if head is None:
            return Scope(repo_id)
        state = self.states.load(repo_id, self.embedder.model)
        layer = overlay_layer(head)
        overlay = state.overlays.get(layer)
        if overlay is None:
            raise IndexerError(f"{repo_id}: no overlay indexed for head {head}")
        return Scope(repo_id, overlay=layer, masked_paths=frozenset(overlay.masked))

    def search(
        self,
        repo_id: str,
        query: str,
        *,
        head: str | None = None,
        limit: int = 10,
        mode: Mode = "hybrid",
    ) -> list[SearchResult]:
        scope = self.scope(repo_id, head)
        n = limit if mode != "hybrid" else max(limit, CANDIDATES)
        dense: list[Hit] = []
        sparse: list[Hit] = []
        if mode != "sparse":
            vector = self.embedder.embed([query])[0].tolist()
            dense = self.store.search(scope=scope, dense=vector, limit=n)
        if mode != "dense":
            sparse = self.store.search(scope=scope, sparse=query_vector(query), limit=n)
        if mode == "dense":
            hits = dense
        elif mode == "sparse":
            hits = sparse
        else:
            hits = rrf([dense, sparse], [DENSE_WEIGHT, SPARSE_WEIGHT], limit=limit)
        return [SearchResult.from_hit(h) for h in hits]

    def state(self, repo_id: str) -> RepoState:
        return self.states.load(repo_id, self.embedder.model)
