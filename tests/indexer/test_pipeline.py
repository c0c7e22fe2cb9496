"""End to end on real git repositories: cold index, incremental updates by blob sha, PR
overlays, search, symbols and the repo map, with the real model and Qdrant Edge."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.api import index_repository, open_indexer, repo_id_for, repo_map, search
from indexer.embedding import MiniLMEmbedder
from indexer.errors import IndexerError
from indexer.pipeline import IndexConfig, Indexer
from tests.indexer.conftest import GitRepo

FILES: dict[str, str | bytes | None] = {
    "app/auth.py": (
        "from app.db import load_user\n\n\n"
        "def check_password(name, password):\n"
        '    """Compare a password with the stored hash."""\n'
        "    user = load_user(name)\n"
        "    return user.password_hash == hash(password)\n"
    ),
    "app/db.py": (
        "class Connection:\n"
        "    def query(self, sql):\n"
        "        return []\n\n\n"
        "def load_user(name):\n"
        "    return Connection().query(f'select * from users where name={name}')\n"
    ),
    "app/billing.py": (
        "from app.db import load_user\n\n\n"
        "def monthly_invoice(name):\n"
        "    user = load_user(name)\n"
        "    return sum(item.price for item in user.items)\n"
    ),
    "web/client.ts": (
        "export function fetchJson(url: string): Promise<unknown> {\n"
        "  return fetch(url).then((r) => r.json());\n}\n"
    ),
    "README.md": "# Demo\n\nA demo repository for the indexer tests.\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
    "vendor/lib.py": "def vendored():\n    pass\n",
    "build.log": "noise\n",
    ".gitignore": "*.log\n",
}


@pytest.fixture
def indexer(tmp_path: Path, minilm: MiniLMEmbedder) -> Indexer:
    return open_indexer(tmp_path / "cache", embedder=minilm, config=IndexConfig(excludes=("*.md",)))


def indexed_paths(indexer: Indexer, source: str) -> set[str]:
    return set(indexer.state(repo_id_for(source)).blobs)


def test_cold_then_incremental_index(git_repo: GitRepo, indexer: Indexer, tmp_path: Path) -> None:
    src = str(git_repo.root)
    cache = tmp_path / "cache"
    c1 = git_repo.commit(FILES)
    cold = index_repository(src, indexer=indexer, cache_dir=cache)
    assert cold.commit == c1
    # vendored, gitignored, excluded paths are not considered; the binary file is skipped
    assert indexed_paths(indexer, src) == {
        ".gitignore", "app/auth.py", "app/db.py", "app/billing.py", "web/client.ts", "logo.png",
    }  # fmt: skip
    assert cold.files_skipped == 1  # logo.png (binary)
    assert cold.chunks > 0
    assert cold.embedded == cold.chunks
    hits = search("compare the password hash", source=src, indexer=indexer, limit=3)
    assert hits[0].path == "app/auth.py"
    assert hits[0].symbol == "check_password"

    # no change: nothing is read or embedded
    again = index_repository(src, indexer=indexer, cache_dir=cache)
    assert (again.files_changed, again.embedded, again.files_removed) == (0, 0, 0)

    # one file changes, one is removed, one is renamed
    git_repo.commit(
        {
            "app/billing.py": str(FILES["app/billing.py"]).replace("sum(", "round(sum(") + "\n",
            "web/client.ts": None,
        }
    )
    c3 = git_repo.rename("app/db.py", "app/database.py")
    step = index_repository(src, indexer=indexer, cache_dir=cache, ref="HEAD")
    assert step.commit == c3
    assert step.files_changed == 2  # billing.py modified, database.py added
    assert step.files_removed == 2  # client.ts removed, db.py renamed away
    assert 0 < step.embedded <= 4  # only the changed chunks: unchanged ones hit the cache
    rid = repo_id_for(src)
    paths = {r.path for r in search("fetch json from url", source=src, indexer=indexer, limit=20)}
    assert "web/client.ts" not in paths
    assert "app/db.py" not in paths
    assert "app/database.py" in paths
    state = indexer.state(rid)
    assert state.commit == c3
    assert "app/database.py" in state.symbols
    assert "app/db.py" not in state.symbols


def test_point_counts_follow_files(git_repo: GitRepo, indexer: Indexer, tmp_path: Path) -> None:
    src = str(git_repo.root)
    git_repo.commit({"a.py": "def one():\n    return 1\n", "b.py": "def two():\n    return 2\n"})
    first = index_repository(src, indexer=indexer, cache_dir=tmp_path / "cache")
    rid = repo_id_for(src)
    assert indexer.store.count(repo=rid) == first.chunks == 2
    git_repo.commit({"b.py": None})
    index_repository(src, indexer=indexer, cache_dir=tmp_path / "cache")
    assert indexer.store.count(repo=rid) == 1


def test_pr_overlay_without_copying(git_repo: GitRepo, indexer: Indexer, tmp_path: Path) -> None:
    src = str(git_repo.root)
    cache = tmp_path / "cache"
    git_repo.commit(FILES)
    base = index_repository(src, indexer=indexer, cache_dir=cache)
    rid = repo_id_for(src)
    base_points = indexer.store.count(repo=rid)
    git_repo.repo.git.checkout("-b", "feature")
    head = git_repo.commit(
        {
            "app/auth.py": str(FILES["app/auth.py"]).replace(
                "return user.password_hash == hash(password)",
                "return verify_totp_code(user, password)",
            ),
            "app/billing.py": None,
            "app/refunds.py": "def refund_payment(invoice):\n    return invoice.total * -1\n",
        }
    )
    pr = index_repository(src, indexer=indexer, cache_dir=cache, ref="feature", overlay=True)
    assert pr.layer == f"pr:{head}"
    assert (pr.files_changed, pr.files_removed) == (2, 1)
    # only the PR's own files got points: the base was not copied
    assert indexer.store.count(repo=rid, layer=pr.layer) == pr.chunks <= 3
    assert indexer.store.count(repo=rid) == base_points + pr.chunks

    seen = search("verify totp code", source=src, indexer=indexer, head=head, limit=10)
    auth = [r for r in seen if r.path == "app/auth.py"]
    assert auth
    assert all(r.layer == pr.layer for r in auth)
    assert "verify_totp_code" in auth[0].code
    assert "app/billing.py" not in {r.path for r in seen}
    assert "app/db.py" in {r.path for r in seen}  # unchanged base files stay visible
    assert "refund_payment" in {r.symbol for r in seen}

    base_view = search("verify totp code", source=src, indexer=indexer, limit=10)
    assert all(r.layer == "base" for r in base_view)
    assert "app/refunds.py" not in {r.path for r in base_view}
    assert base.commit == indexer.state(rid).commit  # the base layer did not move

    indexer.drop_overlay(rid, head)
    assert indexer.store.count(repo=rid) == base_points
    with pytest.raises(IndexerError):
        search("x", source=src, indexer=indexer, head=head)


def test_overlay_needs_a_base(git_repo: GitRepo, indexer: Indexer, tmp_path: Path) -> None:
    git_repo.commit({"a.py": "x = 1\n"})
    with pytest.raises(IndexerError):
        index_repository(str(git_repo.root), indexer=indexer, cache_dir=tmp_path, overlay=True)


def test_clone_from_url_and_repo_map(git_repo: GitRepo, indexer: Indexer, tmp_path: Path) -> None:
    git_repo.commit(FILES)
    url = git_repo.root.as_uri()  # a real clone through git's file:// transport
    stats = index_repository(url, indexer=indexer, cache_dir=tmp_path / "cache")
    assert stats.files_changed == 6
    assert (tmp_path / "cache" / "repos").is_dir()
    rmap = repo_map(url, ["app/billing.py"], indexer=indexer, budget=200)
    names = [e.definition.name for e in rmap.entries]
    assert names[0] == "load_user"
    assert "def load_user(name)" in rmap.text
    assert "app/billing.py" not in {e.path for e in rmap.entries}
    assert rmap.tokens <= 200
    small = repo_map(url, ["app/billing.py"], indexer=indexer, budget=12)
    assert len(small.entries) < len(rmap.entries) or len(rmap.entries) == 1
    assert small.tokens <= 12


def test_shallow_clone_fetches_updates_and_pr_refs(
    git_repo: GitRepo, indexer: Indexer, tmp_path: Path
) -> None:
    git_repo.commit({"a.py": "def alpha():\n    return 'first version'\n"})
    url = git_repo.root.as_uri()
    cache = tmp_path / "cache"
    index_repository(url, indexer=indexer, cache_dir=cache, ref="main")
    clone = next((cache / "repos").iterdir())
    assert (clone / "shallow").is_file()  # depth-1 clone: no history is copied

    second = git_repo.commit({"b.py": "def beta():\n    return 'added later'\n"})
    update = index_repository(url, indexer=indexer, cache_dir=cache, ref="main")
    assert update.commit == second
    assert update.files_changed == 1

    git_repo.repo.git.checkout("-b", "pr")
    head = git_repo.commit({"a.py": "def alpha():\n    return 'changed in the PR'\n"})
    git_repo.repo.git.update_ref("refs/pull/1/head", head)
    git_repo.repo.git.checkout("main")
    pr = index_repository(
        url,
        indexer=indexer,
        cache_dir=cache,
        ref="refs/pull/1/head",
        fetch="refs/pull/1/head",
        overlay=True,
    )
    assert pr.commit == head
    hits = search("alpha", source=url, indexer=indexer, head=head, mode="sparse")
    assert [h.layer for h in hits if h.path == "a.py"] == [f"pr:{head}"]
