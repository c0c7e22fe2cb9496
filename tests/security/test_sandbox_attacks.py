"""Repository code as an attacker writes it, run through the real runner (the ``tests`` check
`/assist fix` builds from Settings, :func:`bot.fix.run.test_runner`). Each attack must fail,
and the check's detail (what the PR body shows) records why.

Needs bubblewrap (Debian `bubblewrap`, installed by scripts/services); where the machine
cannot isolate, the runner says "not run" and these tests fail rather than skip: CI must
prove the boundary."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.fix.checks import CheckResult, Status
from bot.fix.errors import WorkspaceError
from bot.fix.run import test_runner as build_runner
from bot.fix.sandbox import SandboxRunner
from bot.fix.workspace import GitWorkspace, git_env
from bot.gitsafe import unsafe_config
from bot.index.indexing import mirror, mirror_path
from bot.repoconfig import FixConfig
from bot.settings import Settings
from tests.fix.conftest import World, local_repo, make_world
from tests.llm.scripted_server import ScriptedServer
from tests.testforge import TestForge

PY = "/usr/bin/python3"
SECRET = "ghs_worker_secret_0123456789abcdefXYZ"  # in Settings: redacted if it ever shows
PLAIN = "kiwi-orchard-lantern-7731"  # known to nobody: only absence from the output proves


def settings(tmp: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "fix_run_tests": True,
        "fix_run_tests_repos": ["octo/*"],
        "cache_dir": tmp / "cache",
        "github_token": SecretStr(SECRET),
        "sandbox_disk_mb": 64,
        "sandbox_processes": 64,
        **extra,
    }
    return Settings.model_validate(values)


def attack(tmp: Path, command: str, *, timeout_s: int = 60, **extra: object) -> CheckResult:
    root = local_repo(tmp / "victim", {"app.py": "VALUE = 1\n"})
    config = FixConfig(test_command=command, run_tests=True, test_timeout_s=timeout_s)
    runner = build_runner(
        config, root, settings(tmp, **extra), tmp / "scratch", repo="octo/shop", forge="github"
    )
    assert isinstance(runner, SandboxRunner), runner  # the sandbox is there, not "not run"
    return runner.run({"app.py": "VALUE = 2\n"})


def test_the_operator_decides_before_the_repository(tmp_path: Path) -> None:
    root = local_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    config = FixConfig(test_command="true", run_tests=True)
    off = build_runner(
        config, root, settings(tmp_path, fix_run_tests=False), tmp_path, repo="octo/shop",
        forge="github",
    )  # fmt: skip
    outside = build_runner(
        config, root, settings(tmp_path), tmp_path, repo="evil/shop", forge="github"
    )
    assert not isinstance(off, SandboxRunner)
    assert "ASSIST_FIX_RUN_TESTS" in off.run({}).detail
    assert not isinstance(outside, SandboxRunner)
    assert "allow-list" in outside.run({}).detail


def test_a_0600_file_of_the_worker_is_out_of_reach(tmp_path: Path) -> None:
    key = tmp_path / "app-private-key.pem"
    key.write_text(f"app key {PLAIN}\n")
    key.chmod(0o600)
    home_key = Path.home() / ".assist-attack-key"
    home_key.write_text(PLAIN)
    home_key.chmod(0o600)
    try:
        done = attack(tmp_path, f"env; cat /etc/shadow; cat {home_key}; cat {key}")
    finally:
        home_key.unlink()
    assert done.status is Status.FAILED
    assert PLAIN not in done.detail
    assert "No such file or directory" in done.detail  # not mounted at all
    assert "ASSIST_" not in done.detail


def test_planted_git_config_never_runs(tmp_path: Path) -> None:
    """The command tries the working copy's .git (by its absolute path) and a shared
    mirror; then the worker's next git steps run and nothing planted runs."""
    work = local_repo(tmp_path / "work", {"app.py": "VALUE = 1\n"})
    cache_mirror = tmp_path / "cache" / "mirrors"
    cache_mirror.mkdir(parents=True)
    marker = tmp_path / "pwned"
    plant = (
        f"git config --file {work}/.git/config core.fsmonitor 'touch {marker}'; "
        f"echo '[core]' >> {work}/.git/config; ls {cache_mirror}; touch {marker}"
    )
    config = FixConfig(test_command=plant, run_tests=True, test_timeout_s=60)
    runner = build_runner(
        config, work, settings(tmp_path), tmp_path / "s", repo="octo/shop", forge="github"
    )
    done = runner.run({"app.py": "VALUE = 2\n"})
    assert done.status is Status.FAILED
    assert "No such file or directory" in done.detail
    assert not marker.exists()
    assert "fsmonitor" not in (work / ".git" / "config").read_text()

    # Had repository code reached the config, the next git step refuses to run in it.
    fetched = GitWorkspace(work)
    fetched.git("config", "user.name", "x")  # what git itself may write is fine
    with (work / ".git" / "config").open("a") as handle:
        handle.write(f"[core]\n\tfsmonitor = touch {marker}\n")
        handle.write(f'[filter "x"]\n\tclean = touch {marker}\n')
    (work / ".gitattributes").write_text("* filter=x\n")
    (work / "app.py").write_text("VALUE = 3\n")
    with pytest.raises(WorkspaceError, match="fsmonitor") as refused:
        fetched.commit(["app.py", ".gitattributes"], "next step")
    assert "filter.<sub>.clean" in str(refused.value)
    with pytest.raises(WorkspaceError, match="fsmonitor"):
        fetched.verify()
    assert not marker.exists()


def test_a_planted_mirror_config_is_thrown_away(tmp_path: Path, testforge: TestForge,
                                                scripted: ScriptedServer) -> None:  # fmt: skip
    world: World = make_world("github", testforge, scripted, tmp_path)
    forge = world.forge()
    cache = tmp_path / "cache"
    host = "forge.test"
    path = mirror(forge, world.repo, cache, ["main"], host=host)
    assert mirror_path(cache, world.repo, host) == path
    marker = tmp_path / "pwned"
    with (path / "config").open("a") as handle:
        handle.write("[protocol]\n\tallow = always\n")
        handle.write('[protocol "ext"]\n\tallow = always\n')
        handle.write(f'[url "ext::sh -c touch% {marker}"]\n\tinsteadOf = http://\n')
        handle.write(f"[core]\n\tfsmonitor = touch {marker}\n")
    assert unsafe_config(path)
    again = mirror(forge, world.repo, cache, ["main"], host=host)  # the worker's next fetch
    assert not marker.exists()
    assert unsafe_config(again) == []
    refs = subprocess.run(
        ["git", "--git-dir", str(again), "for-each-ref"], capture_output=True, text=True,
        check=True, env=git_env(os.environ),
    ).stdout  # fmt: skip
    assert "refs/heads/main" in refs


def test_a_setsid_and_double_forked_child_is_gone_after_the_run(tmp_path: Path) -> None:
    tag = f"assist-attack-{os.getpid()}-{time.time_ns()}"
    done = attack(
        tmp_path,
        f"(setsid sh -c 'exec -a {tag} sleep 600' &); "
        f"(sh -c '(exec -a {tag} sleep 600 &) &' &); sleep 1; echo started",
    )
    assert done.status is Status.PASSED, done.detail
    left = subprocess.run(["pgrep", "-f", tag], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == "", f"left running: {left.stdout}"


def test_other_processes_are_invisible(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        ["sleep", "120"], env={"PATH": "/usr/bin:/bin", "ASSIST_GITHUB_TOKEN": PLAIN}
    )
    try:
        done = attack(
            tmp_path,
            f"cat /proc/{holder.pid}/cmdline; cat /proc/{holder.pid}/environ; "
            "for p in /proc/[0-9]*; do cat $p/cmdline $p/environ 2>/dev/null; echo; done; "
            "ls /proc | grep -c '^[0-9]'",
        )
    finally:
        holder.kill()
        holder.wait()
    assert PLAIN not in done.detail
    assert int(done.detail.split()[-1]) < 10  # the sandbox's own few processes
    assert "No such file or directory" in done.detail


@pytest.mark.parametrize("port", [6379, 5432])
def test_no_connection_to_local_services(tmp_path: Path, port: int) -> None:
    socket.create_connection(("127.0.0.1", port), timeout=3).close()  # up outside
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"
    done = attack(tmp_path, f'{PY} -c "{probe}"')
    assert done.status is Status.FAILED
    assert "Network is unreachable" in done.detail or "Connection refused" in done.detail


def test_a_fork_bomb_is_contained(tmp_path: Path) -> None:
    done = attack(tmp_path, "bomb() { bomb | bomb & }; bomb; sleep 3; exit 1", timeout_s=20)
    assert done.status is Status.FAILED
    # the machine still forks: the limit was the sandbox's
    assert subprocess.run(["true"], check=False).returncode == 0


def test_filling_the_disk_stops_at_the_sandbox_limit(tmp_path: Path) -> None:
    done = attack(
        tmp_path,
        "i=0; while head -c 4096 /dev/zero > f$i; do i=$((i+1)); done; "
        'echo "stopped after $i files"; exit 1',
        timeout_s=300,
        sandbox_disk_mb=16,
    )
    assert done.status is Status.FAILED
    assert "No space left on device" in done.detail
    assert "stopped after" in done.detail
    assert not any((tmp_path / "scratch").glob("**/f1"))  # written in the sandbox's own tmpfs


def test_writing_outside_the_copy_fails(tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    done = attack(
        tmp_path,
        f"echo x > {target}; echo x > /usr/pwned; echo x > /etc/pwned; echo x > /pwned; "
        "echo inside > ok.txt && cat ok.txt",
    )
    assert not target.exists()
    assert not Path("/usr/pwned").exists()
    assert "Read-only file system" in done.detail
    assert "inside" in done.detail  # the copy itself is writable


def test_output_is_capped_and_redacted(tmp_path: Path) -> None:
    done = attack(
        tmp_path,
        f"{PY} -c \"print('y' * 500000)\"; echo token={SECRET}; "
        "echo https://oauth2:glpat-abcdefghijklmnop1234@gitlab.example/x.git",
    )
    assert done.status is Status.PASSED
    assert SECRET not in done.detail
    assert "glpat-abcdefghijklmnop1234" not in done.detail
    assert "[output truncated]" in done.detail
    assert len(done.detail) < 5000
