"""The repository index in the workers: a credential-free mirror of the repository, the
indexer built from Settings (embedded Qdrant or a Qdrant server), the default branch indexed on
push, a pull request's head indexed on top of it for a review.

Credentials never reach the index: the mirror's remote has no secret (git asks for it through
a credential helper reading the environment of the one fetch, :mod:`bot.gitsafe`), and the
index knows the repository by the mirror's path.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from qdrant_client import QdrantClient

from bot import gitsafe
from bot.domain import RepoRef
from bot.forge.protocol import Forge
from bot.settings import Settings
from indexer import Indexer, IndexStats, index_repository, open_indexer, repo_id_for, search
from indexer.embedding import Embedder, MiniLMEmbedder, MiniLMPaths, OpenAIEmbedder
from indexer.errors import IndexerError
from indexer.pipeline import overlay_layer
from indexer.store import EdgeStore, VectorStore
from indexer.store_server import QdrantServerStore

log = logging.getLogger(__name__)


class MirrorError(RuntimeError):
    """The repository could not be fetched; the message carries no credentials."""


def forge_host(settings: Settings, repo: RepoRef) -> str:
    """The host (and port) of the forge instance ``repo`` lives on."""
    url = urlsplit(settings.github_api_url if repo.forge == "github" else settings.gitlab_url)
    return (url.netloc.rsplit("@", 1)[-1] or url.path).lower()


def _legacy_mirror_path(cache_dir: Path, repo: RepoRef) -> Path:
    """Where mirrors were kept before their names carried a hash (names could collide)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", repo.path)
    return cache_dir / "mirrors" / repo.forge / f"{safe}.git"


def mirror_path(cache_dir: Path, repo: RepoRef, host: str) -> Path:
    """The mirror's directory: a readable name plus a hash of the exact ``forge:host:path``.

    The readable part alone collides (``acme/internal_tools``, ``acme_internal/tools`` and
    ``acme/internal/tools`` all read ``acme_internal_tools``), and the index is keyed by this
    path: one project's code would come back as related code in another's review.
    """
    digest = hashlib.sha256(f"{repo.forge}:{host}:{repo.path}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", repo.path)[:80]
    return cache_dir / "mirrors" / repo.forge / f"{safe}-{digest}.git"


def retire_legacy_mirror(cache_dir: Path, repo: RepoRef) -> bool:
    """Delete a mirror kept under the old colliding name; it may hold another project's
    objects, so it is rebuilt from the forge under the new name instead of moved (the next
    index job builds the new index). True when one was removed."""
    legacy = _legacy_mirror_path(cache_dir, repo)
    if not legacy.is_dir():
        return False
    shutil.rmtree(legacy, ignore_errors=True)
    log.warning("removed mirror %s (old colliding name); %s is rebuilt", legacy.name, repo)
    return True


def mirror(forge: Forge, repo: RepoRef, cache_dir: Path, refs: Sequence[str], *, host: str) -> Path:
    """A bare, shallow mirror of ``repo`` under ``cache_dir`` with ``refs`` (branch names,
    ``refs/...`` or commit shas) fetched; returns its path. Git runs hardened
    (:mod:`bot.gitsafe`); a mirror whose config holds anything git did not write itself (a
    planted ``insteadOf``, ``protocol.ext.allow``, ``core.fsmonitor``...) is thrown away and
    fetched again, never used."""
    remote = gitsafe.Remote.parse(forge.clone_url(repo))
    target = mirror_path(cache_dir, repo, host)
    home = gitsafe.empty_home(cache_dir)
    try:
        bad = gitsafe.unsafe_config(target) if target.exists() else []
        if bad:
            log.warning("mirror %s had an unsafe config (%s): fetched again", repo, ", ".join(bad))
            shutil.rmtree(target)
        if not target.exists():
            retire_legacy_mirror(cache_dir, repo)
            target.parent.mkdir(parents=True, exist_ok=True)
            gitsafe.run(["init", "-q", "--bare", str(target)], cwd=None, home=home)
        gitsafe.check_config(target)
        specs = [
            ref if re.fullmatch(r"[0-9a-f]{40}", ref) else f"+{_full(ref)}:{_full(ref)}"
            for ref in refs
        ]
        gitsafe.run(
            ["fetch", "-q", "--no-tags", "--depth", "1", remote.url, *specs],
            cwd=target, remote=remote, home=home,
        )  # fmt: skip
        # Objects of pull-request heads fetched by sha become unreachable once their overlay
        # is dropped; gc --auto packs and prunes them when git thinks it worthwhile.
        gitsafe.run(["gc", "--auto", "--quiet"], cwd=target, home=home)
        os.utime(target)  # the mirror's last use, for least-recently-used eviction
    except (gitsafe.GitError, OSError) as exc:
        raise MirrorError(f"cannot fetch {repo}: {remote.redact(str(exc))[:500]}") from None
    return target


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def prune_mirrors(cache_dir: Path, max_bytes: int, *, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used mirrors until they take at most ``max_bytes`` in all
    (``keep``, the one in use, stays). Returns the removed mirrors."""
    root = cache_dir / "mirrors"
    if max_bytes <= 0 or not root.is_dir():
        return []
    mirrors = sorted(root.glob("*/*.git"), key=lambda p: p.stat().st_mtime)
    sizes = {m: _size(m) for m in mirrors}
    total = sum(sizes.values())
    removed: list[Path] = []
    for m in mirrors:
        if total <= max_bytes:
            break
        if keep is not None and m.resolve() == keep.resolve():
            continue
        shutil.rmtree(m, ignore_errors=True)
        total -= sizes[m]
        removed.append(m)
        log.info("removed mirror %s (least recently used; mirrors over their cap)", m.name)
    return removed


def _full(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def build_indexer(settings: Settings) -> Indexer:
    """The indexer the settings describe: local MiniLM (or an embeddings server) into the
    embedded Qdrant directory (or a Qdrant server)."""
    cache = settings.cache_dir / "index"
    embedder: Embedder
    if settings.embedding_base_url:
        embedder = OpenAIEmbedder(
            httpx.Client(timeout=settings.llm_timeout_s),
            model=settings.embedding_model,
            dim=settings.embedding_dim,
            base_url=settings.embedding_base_url,
        )
    else:
        embedder = MiniLMEmbedder.load(MiniLMPaths.installed())
    store: VectorStore
    location = settings.qdrant_location
    if location.startswith(("http://", "https://")):
        key = settings.qdrant_api_key
        client = QdrantClient(url=location, api_key=key.get_secret_value() if key else None)
        store = QdrantServerStore(client, model=embedder.model, dim=embedder.dim)
    else:
        store = EdgeStore.open(Path(location), model=embedder.model, dim=embedder.dim)
    return open_indexer(cache, store=store, embedder=embedder)


@contextlib.contextmanager
def index_lock(settings: Settings) -> Iterator[None]:
    """One indexer at a time per machine: the embedded store is a single-writer directory."""
    path = settings.cache_dir / "index.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def index_branch(settings: Settings, forge: Forge, repo: RepoRef, sha: str) -> IndexStats:
    """Move the repository's base index to ``sha`` (only changed files are re-embedded)."""
    path = mirror(forge, repo, settings.cache_dir, [sha], host=forge_host(settings, repo))
    prune_mirrors(settings.cache_dir, settings.mirror_cache_mb * 2**20, keep=path)
    with index_lock(settings):
        indexer = build_indexer(settings)
        return index_repository(str(path), indexer=indexer, cache_dir=settings.cache_dir, ref=sha)


def related_code(
    settings: Settings,
    forge: Forge,
    repo: RepoRef,
    head_sha: str,
    queries: dict[str, str],
    *,
    limit: int = 4,
) -> dict[str, str]:
    """For each changed path, code elsewhere in the repository (as seen from the pull
    request's head) that its query finds; empty when the repository is not indexed yet."""
    host = forge_host(settings, repo)
    path = mirror_path(settings.cache_dir, repo, host)
    if not path.exists() or not queries:
        return {}
    try:
        mirror(forge, repo, settings.cache_dir, [head_sha], host=host)
        with index_lock(settings):
            indexer = build_indexer(settings)
            if indexer.state(repo_id_for(str(path))).commit is None:
                return {}
            index_repository(
                str(path), indexer=indexer, cache_dir=settings.cache_dir, ref=head_sha,
                overlay=True,
            )  # fmt: skip
            out: dict[str, str] = {}
            for changed, query in queries.items():
                found = search(
                    query, source=str(path), indexer=indexer, head=head_sha, limit=2 * limit
                )
                hits = [h for h in found if h.path != changed][:limit]
                if hits:
                    out[changed] = "\n\n".join(
                        f"# {h.path}:{h.start_line}-{h.end_line} {h.symbol}\n{h.code}" for h in hits
                    )
            return out
    except (MirrorError, IndexerError) as exc:
        log.warning("no related code for %s@%s: %s", repo, head_sha[:12], exc)
        return {}


def drop_pull_overlay(settings: Settings, repo: RepoRef, head_sha: str) -> bool:
    """Remove a pull request head's overlay; False when the repository has no index."""
    path = mirror_path(settings.cache_dir, repo, forge_host(settings, repo))
    if not path.exists():
        return False
    with index_lock(settings):
        indexer = build_indexer(settings)
        repo_id = repo_id_for(str(path))
        if overlay_layer(head_sha) not in indexer.state(repo_id).overlays:
            return False
        indexer.drop_overlay(repo_id, head_sha)
        return True
