"""The repository's own tests as a check (sandboxed, only when enabled), and `assist fix`
on a local repository with the real index."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fix.conftest import (
    FILES,
    FIXED,
    REPLACE,
    REPO,
    SEARCH,
    World,
    edits,
    good_fix,
    local_repo,
    locate,
)
from tests.fix.test_job import fix_branches, run_job
from tests.llm.scripted_server import ScriptedServer
from tests.support.processes import assist_cmd, assist_env

OPERATOR_ON = {"fix_run_tests": True, "fix_run_tests_repos": ["octo/*"]}
TESTS_ON = (
    "[fix]\ncandidates = 1\nrun_tests = true\n"
    "test_command = \"python3 -c 'from tests.test_cart import test_total; test_total()'\"\n"
)


def test_enabled_tests_run_in_the_sandbox_and_gate_the_change(github_world: World) -> None:
    world = github_world
    world.server.commit(REPO, "main", {".assist.toml": TESTS_ON}, "enable tests")
    wrong = REPLACE.replace("item.price", "item.price * 2")  # parses, names fine, tests fail
    world.llm.push(locate("shop/cart.py"), edits(("shop/cart.py", SEARCH, wrong)))
    failed = run_job(world, world.command(), settings=OPERATOR_ON)
    assert failed["checks"]["tests"] == "failed"
    assert fix_branches(world) == {}
    assert "- tests: ❌" in world.bot_comments()[0]
    assert "exited with 1" in world.bot_comments()[0]

    world.llm.push(locate("shop/cart.py"), good_fix())
    opened = run_job(world, world.command(), settings=OPERATOR_ON)
    assert opened["status"] == "opened", opened
    assert opened["checks"]["tests"] == "passed"
    (pull,) = world.server.pulls(REPO)
    assert "| tests | ✅ passed |" in pull["body"]


def test_tests_are_not_run_unless_enabled(github_world: World) -> None:
    world = github_world
    command = "touch /tmp/assist-should-not-exist"
    world.server.commit(
        REPO, "main", {".assist.toml": f"[fix]\ncandidates = 1\ntest_command = '{command}'\n"}, "c"
    )
    world.llm.push(locate("shop/cart.py"), good_fix())
    opened = run_job(world, world.command(), settings=OPERATOR_ON)
    assert opened["checks"]["tests"] == "skipped"
    assert not Path("/tmp/assist-should-not-exist").exists()
    (pull,) = world.server.pulls(REPO)
    assert "run_tests = false" in pull["body"]


def test_assist_fix_on_a_local_repository_writes_a_patch(
    tmp_path: Path, scripted: ScriptedServer
) -> None:
    repo = local_repo(tmp_path / "shop", FILES)
    (tmp_path / "ISSUE.md").write_text(
        "# Cart total is too low\n\nThe first item of a cart is never counted in the sum.\n"
    )
    scripted.push(locate("shop/cart.py"), good_fix())
    env = assist_env(
        {
            "ASSIST_LLM_BASE_URLS": scripted.base_url,
            "ASSIST_LLM_MODEL": "scripted",
            "ASSIST_LLM_MAX_RETRIES": "0",
            "ASSIST_LLM_CONTEXT_TOKENS": "60000",
            "ASSIST_CACHE_DIR": str(tmp_path / "cache"),
            "ASSIST_FIX_USE_INDEX": "true",
        }
    )
    done = subprocess.run(
        assist_cmd(
            "fix",
            "--repo",
            str(repo),
            "--issue-text",
            str(tmp_path / "ISSUE.md"),
            "--output",
            str(tmp_path / "fix.patch"),
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "patch written" in done.stderr
    assert "| names | ✅ passed |" in done.stderr
    subprocess.run(["git", "apply", str(tmp_path / "fix.patch")], cwd=repo, check=True)
    assert (repo / "shop" / "cart.py").read_text() == FIXED
    # the index found the file from the words alone (no path or name in it)
    locate_prompt = scripted.chat_requests()[0]["messages"][1]["content"]
    first = locate_prompt.split("kind=outline", 1)[1].strip().splitlines()[0]
    assert first.startswith("shop/cart.py")
    assert "search rank" in first


def test_assist_fix_exits_non_zero_without_a_patch_when_checks_fail(
    tmp_path: Path, scripted: ScriptedServer
) -> None:
    repo = local_repo(tmp_path / "shop", FILES)
    (tmp_path / "ISSUE.md").write_text("total() skips the first item\n")
    scripted.push(locate("shop/cart.py"), edits(("shop/cart.py", SEARCH, "    for (:\n")))
    env = assist_env(
        {
            "ASSIST_LLM_BASE_URLS": scripted.base_url,
            "ASSIST_LLM_MODEL": "scripted",
            "ASSIST_LLM_CONTEXT_TOKENS": "60000",
            "ASSIST_LLM_MAX_RETRIES": "0",
            "ASSIST_CACHE_DIR": str(tmp_path / "cache"),
            "ASSIST_FIX_USE_INDEX": "false",
        }
    )
    out = tmp_path / "fix.patch"
    done = subprocess.run(
        assist_cmd(
            "fix",
            "--repo",
            str(repo),
            "--issue-text",
            str(tmp_path / "ISSUE.md"),
            "--output",
            str(out),
        ),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "syntax" in done.stderr
    assert not out.exists()
