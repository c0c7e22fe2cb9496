"""Huge files, huge diffs and binary blobs in a pull request: the review ends with a bounded
result (every prompt fits the model's context, the blob is skipped), never a crash."""

from __future__ import annotations

from pathlib import Path

from tests.llm.scripted_server import ScriptedServer
from tests.review.test_service import answer, finding, scores
from tests.security.scene import fresh_scene
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

CONTEXT_TOKENS = 16000  # the scripted tokenizer counts characters
# The answer schema that complete_json adds to the system prompt after the prompt was fitted
# to the context (bot/llm/client.py: structured.with_schema): not counted by the fit.
SCHEMA_ALLOWANCE = 2500


def _prompt_sizes(scripted: ScriptedServer) -> list[int]:
    return [
        sum(len(m["role"]) + len(m["content"]) + 4 for m in r["messages"]) + 3
        + int(r.get("max_tokens") or 0)
        for r in scripted.chat_requests()
    ]  # fmt: skip


def test_huge_and_binary_files_get_a_bounded_review(
    testforge: TestForge,
    scripted: ScriptedServer,
    e2e_web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
) -> None:
    scene = fresh_scene("github", testforge, scripted, e2e_web, app_key, corpora, pg_url)
    files: dict[str, str | bytes] = {
        "blob.bin": bytes(range(256)) * 8192,  # 2 MiB of binary
        "huge.py": "".join(f"value_{i} = compute({i})\n" for i in range(60_000)),  # ~1.5 MB
        "wide.py": "x = '" + "y" * 300_000 + "'\n",  # one enormous line
    }
    scene.head = testforge.commit("octo/widgets", "feature", files, "Big change")
    for _ in range(8):
        scene.llm.push(answer(finding()), scores(0.9))
    (job,) = scene.opened()["jobs"]
    scene.work()
    status, detail, error = scene.job(job)
    assert (status, error) == ("done", ""), detail
    skipped = {s["path"] if isinstance(s, dict) else s[0]: s for s in detail["skipped_files"]}
    assert "blob.bin" in str(skipped)
    assert max(_prompt_sizes(scene.llm)) <= CONTEXT_TOKENS + SCHEMA_ALLOWANCE
    bodies = scene.bodies()
    assert sum("forge-assist:summary" in b for b in bodies) == 1
    assert all(len(b) < 70_000 for b in bodies)  # within what a forge accepts in a comment
    scene.engine.dispose()


def test_every_prompt_with_its_schema_fits_the_context(
    testforge: TestForge,
    scripted: ScriptedServer,
    e2e_web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
) -> None:
    scene = fresh_scene("github", testforge, scripted, e2e_web, app_key, corpora, pg_url)
    big = "".join(f"value_{i} = compute({i})\n" for i in range(5_000))
    scene.head = testforge.commit("octo/widgets", "feature", {"big.py": big}, "Big")
    scene.llm.push(answer(finding()), answer(finding()), scores(0.9))
    scene.opened()
    scene.work()
    scene.engine.dispose()
    assert max(_prompt_sizes(scene.llm)) <= CONTEXT_TOKENS
