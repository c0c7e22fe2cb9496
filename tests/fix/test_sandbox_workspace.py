"""The sandbox really runs the repository's command without network, secrets or limits left
open; the working copy never reads or writes through symlinks and never shows a token."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.fix.checks import Status
from bot.fix.errors import WorkspaceError
from bot.fix.sandbox import Limits, SandboxRunner, isolation
from bot.fix.workspace import GitWorkspace, git_env, redact
from tests.fix.conftest import local_repo

PY = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return local_repo(tmp_path / "repo", {"app.py": "VALUE = 1\n", "tests/check.sh": "exit 0\n"})


def runner(repo: Path, command: str, **limits: int) -> SandboxRunner:
    return SandboxRunner(repo, command, Limits(**limits), isolation())


def test_the_command_sees_the_candidate_and_not_git(repo: Path) -> None:
    done = runner(repo, "grep -q 'VALUE = 2' app.py && test ! -e .git && echo fine").run(
        {"app.py": "VALUE = 2\n"}
    )
    assert done.status is Status.PASSED, done.detail
    assert "fine" in done.detail
    assert (repo / "app.py").read_text() == "VALUE = 1\n"  # the working copy is untouched


def test_a_failing_command_fails_the_check_with_its_output(repo: Path) -> None:
    done = runner(repo, "echo broken >&2; exit 3").run({})
    assert done.status is Status.FAILED
    assert "exited with 3" in done.detail
    assert "broken" in done.detail


def test_no_network_inside(repo: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
        inside = runner(repo, f'{PY} -c "{probe}"').run({})
        assert inside.status is Status.FAILED
        assert "Error" in inside.detail  # connection refused / network unreachable
        # the same probe outside the sandbox connects: the isolation is what stopped it
        socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_no_secrets_in_the_environment(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_GITHUB_TOKEN", "ghs_secret_value")
    done = runner(repo, "env").run({})
    assert done.status is Status.PASSED
    assert "ghs_secret_value" not in done.detail
    assert "ASSIST_" not in done.detail


def test_time_and_memory_limits(repo: Path) -> None:
    slow = runner(repo, "sleep 30", timeout_s=1).run({})
    assert slow.status is Status.FAILED
    assert "did not finish in 1s" in slow.detail
    hungry = runner(repo, f'{PY} -c "b = bytearray(800 * 1024 * 1024)"', memory_mb=300).run({})
    assert hungry.status is Status.FAILED
    assert "MemoryError" in hungry.detail


def test_workspace_reads_only_tracked_regular_files_and_refuses_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret\n")
    root = local_repo(tmp_path / "ws", {"a.py": "x = 1\n", "bin.dat": "\0\0\0"})
    (root / "link").symlink_to(tmp_path)
    (root / "leak.txt").symlink_to(outside)
    ws = GitWorkspace.open(root)
    ws.git("add", "link", "leak.txt")
    ws = GitWorkspace.open(root)
    assert ws.paths() == ["a.py", "bin.dat"]
    assert ws.read("a.py") == "x = 1\n"
    assert ws.read("bin.dat") is None
    assert ws.read("leak.txt") is None
    assert "symlink" in (ws.refusal("leak.txt") or "")
    assert "not a directory" in (ws.refusal("link/new.py") or "")
    with pytest.raises(WorkspaceError):
        ws.write({"link/secret.txt": "overwritten\n"})
    assert outside.read_text() == "top secret\n"
    ws.write({"pkg/new.py": "y = 2\n"})
    assert (root / "pkg" / "new.py").read_text() == "y = 2\n"


def test_tokens_never_appear_in_errors(tmp_path: Path) -> None:
    url = SecretStr("http://x-access-token:ghs_abcdef123456@127.0.0.1:9/octo/shop.git")
    assert redact(f"fatal: unable to access '{url.get_secret_value()}'", url) == (
        "fatal: unable to access 'http://127.0.0.1:9/octo/shop.git'"
    )
    with pytest.raises(WorkspaceError) as failure:
        GitWorkspace.fetch(tmp_path / "w", url, "main", env=git_env({"PATH": "/usr/bin:/bin"}))
    assert "ghs_abcdef123456" not in str(failure.value)
    assert "127.0.0.1:9/octo/shop.git" in str(failure.value)
