"""Pagination everywhere: a change with 320 files, a conversation with 3,000 comments."""

from __future__ import annotations

from bot.forge import hidden_marker
from tests.forge.conftest import REPO, Env

MARKER = hidden_marker("summary")


def test_a_change_with_320_files(env: Env) -> None:
    files = {f"pkg/mod_{i:03}.py": f"value = {i}\n" for i in range(320)}
    env.server.commit(REPO, "big", files, "Many files")
    number = env.server.add_pull(REPO, head="big", title="Big")
    diff = env.forge.get_diff(env.repo, number)
    assert sorted(f.path for f in diff.files) == sorted(files)
    assert all(f.patch == f"@@ -0,0 +1 @@\n+value = {int(f.path[8:11])}" for f in diff.files)
    assert diff.unified.count("diff --git ") == 320
    assert "+value = 319" in diff.unified
    pages = [
        r for r in env.server.requests_log(env.kind) if r["path"].endswith(("/files", "/diffs"))
    ]
    assert len(pages) == 4  # 100 per page


def test_our_comment_among_3000(env: Env) -> None:
    env.server.add_comments(REPO, env.number, [f"comment {i}" for i in range(1500)])
    first = env.forge.upsert_comment(env.repo, env.number, marker=MARKER, body="summary v1")
    env.server.add_comments(REPO, env.number, [f"comment {i}" for i in range(1500, 3000)])
    assert len(env.server.comments(REPO, env.number)) == 3001
    found = env.forge.list_comments(env.repo, env.number, marker=MARKER)
    assert [c.id for c in found] == [first.id]
    second = env.forge.upsert_comment(env.repo, env.number, marker=MARKER, body="summary v2")
    assert second.id == first.id
    assert len(env.server.comments(REPO, env.number)) == 3001
