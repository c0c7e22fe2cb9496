"""The secretless sandbox role: it refuses to start next to credentials, and it runs a fix's
tests sent by value over the real queue; the operator's `assist sandbox` commands."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from bot.fix.checks import Status
from bot.fix.run import test_runner as build_runner
from bot.fix.sandbox import QueuedSandbox
from bot.repoconfig import FixConfig
from bot.sandbox.role import credentials_in
from bot.settings import Settings
from tests.fix.conftest import local_repo
from tests.support.processes import ROOT, assist_cmd, assist_env


@pytest.mark.parametrize(
    "variable",
    ["ASSIST_GITHUB_TOKEN", "ASSIST_GITLAB_TOKEN", "ASSIST_DATABASE_URL", "ASSIST_LLM_API_KEY",
     "ASSIST_GITHUB_PRIVATE_KEY_PATH", "GITHUB_TOKEN"],
)  # fmt: skip
def test_the_role_refuses_to_start_with_credentials(variable: str) -> None:
    done = subprocess.run(
        assist_cmd("worker", "--role", "sandbox", "--burst"),
        env=assist_env({variable: "s3cr3t-value-123", "ASSIST_REDIS_URL": "redis://127.0.0.1:1/0"}),
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert variable in done.stderr
    assert "s3cr3t-value-123" not in done.stderr + done.stdout


def test_only_names_are_reported() -> None:
    assert credentials_in({"PATH": "/bin", "ASSIST_REDIS_URL": "redis://x", "A_TOKEN": "t"}) == [
        "A_TOKEN"
    ]


def test_a_fix_runs_its_tests_on_the_sandbox_queue(tmp_path: Path, redis_url: str) -> None:
    prefix = f"sbx-{uuid.uuid4().hex[:8]}-"
    worker = subprocess.Popen(
        assist_cmd("worker", "--role", "sandbox"),
        env=assist_env({"ASSIST_REDIS_URL": redis_url, "ASSIST_QUEUE_PREFIX": prefix}),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        root = local_repo(tmp_path / "r", {"app.py": "VALUE = 1\n"})
        settings = Settings(
            fix_run_tests=True,
            fix_run_tests_repos=["octo/shop"],  # type: ignore[arg-type]
            sandbox_queue=True,
            redis_url=redis_url,
            queue_prefix=prefix,
        )
        config = FixConfig(
            test_command="grep -q 'VALUE = 2' app.py && test ! -e .git && echo ran-in-sandbox",
            run_tests=True,
            test_timeout_s=60,
        )
        runner = build_runner(config, root, settings, tmp_path, repo="octo/shop", forge="github")
        assert isinstance(runner, QueuedSandbox)
        done = runner.run({"app.py": "VALUE = 2\n"})
        assert done.status is Status.PASSED, done.detail
        assert "ran-in-sandbox" in done.detail
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_sandbox_check_and_run(tmp_path: Path) -> None:
    check = subprocess.run(
        assist_cmd("sandbox", "check"), env=assist_env({}), cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "available" in check.stdout
    (tmp_path / "a.txt").write_text("hello\n")
    run = subprocess.run(
        assist_cmd("sandbox", "run", "--tree", str(tmp_path), "--", "sh", "-c",
                   "cat a.txt; cat /etc/hostname 2>&1; echo w > b.txt; exit 3"),
        env=assist_env({}), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 3
    assert "hello" in run.stdout
    assert not (tmp_path / "b.txt").exists()  # the tree went by value
