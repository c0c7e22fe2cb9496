"""`make run`'s script (scripts/run) on a fresh copy of the checkout: it starts the services,
queues a signed webhook from the corpus, leaves a setup where `assist review` works against the
model, and after Ctrl+C (SIGINT to its process group) every process it started is gone.

The model is the scripted server through ASSIST_RUN_MODEL_URL (the script's way to reuse a
model already running), so the test does not start a second vLLM on a shared machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.llm.scripted_server import ScriptedServer
from tests.review.test_pipeline import repo  # noqa: F401  (fixture: a repository with a change)
from tests.review.test_service import answer, finding
from tests.support.payloads import github_pull
from tests.support.processes import ROOT, free_port
from tests.support.webhooks import dumps, github_headers

pytestmark = pytest.mark.skipif(shutil.which("setsid") is None, reason="needs util-linux setsid")


def fresh_copy(dest: Path) -> Path:
    """The tracked files of the checkout (as a clone would have them) and its .venv."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent's wait is missing.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[-1][:1] != "Z"


def group_alive(pgid: int) -> bool:
    """Any process left in the group (zombies aside) of a process the script started."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split(") ", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for(condition: object, what: str, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


# Start the script as a terminal would: SIGINT neither ignored nor blocked. A child inherits
# both from its parent, and bash cannot trap a signal that was ignored when it started; a test
# process that inherited or set either would make Ctrl+C a no-op for reasons of its own.
TERMINAL = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
]


def signal_state(pid: int) -> str:
    """What the kernel says of a process's signals and sleep, for a failure message."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError as exc:
        return f"pid {pid}: {exc}"
    keep = ("State", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
    lines = [line for line in status.splitlines() if line.startswith(keep)]
    return f"pid {pid} wchan={wchan}: " + "; ".join(lines)


@pytest.fixture
def started(
    tmp_path: Path, scripted: ScriptedServer, redis_url: str
) -> Iterator[tuple[Path, subprocess.Popen[bytes], Path, int]]:
    copy = fresh_copy(tmp_path / "checkout")
    log = tmp_path / "run.log"
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "ASSIST_RUN_MODEL_URL": scripted.base_url,
        "ASSIST_LLM_MODEL": "scripted",
        "ASSIST_LLM_CONTEXT_TOKENS": "32768",
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_PORT": str(port),
        "ASSIST_CORPORA": str(ROOT.parent / "shared" / "corpora"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*TERMINAL, str(copy / "scripts" / "run")],
            cwd=copy,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as in a terminal: Ctrl+C reaches it all
        )
    try:
        yield copy, proc, log, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        # The services run in sessions of their own: a script that did not stop them (a failed
        # test) must not leave a worker consuming the next test's queues.
        pids = copy / ".assist" / "run.pids"
        for pid in pids.read_text().split() if pids.exists() else ():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)


def test_make_run_starts_everything_and_ctrl_c_stops_it(
    started: tuple[Path, subprocess.Popen[bytes], Path, int],
    scripted: ScriptedServer,
    corpora: Path,
    repo: Path,  # noqa: F811
) -> None:
    copy, proc, log, port = started
    wait_for(lambda: "run: ready" in log.read_text() or proc.poll() is not None, "run: ready")
    text = log.read_text()
    assert proc.poll() is None, text
    assert "Forge Assist is running" in text
    assert f"http://127.0.0.1:{port}/webhooks/github" in text
    assert ".assist/secrets.env" in text
    assert "assist review --repo PATH --base main" in text
    assert "assist doctor" in text
    pids = [int(p) for p in (copy / ".assist" / "run.pids").read_text().split()]
    assert len(pids) == 2  # the worker and the webhook service (the model was reused)
    assert all(alive(pid) for pid in pids)

    # A signed delivery from the corpus is verified with the generated secret and queued.
    secrets = dict(
        line.split("=", 1) for line in (copy / ".assist/secrets.env").read_text().splitlines()
    )
    body = dumps(
        github_pull(corpora, repo="octo/widgets", repo_id=7, number=3,
                    head_sha="a" * 40, base_sha="b" * 40)
    )  # fmt: skip
    headers = github_headers("pull_request", body, secret=secrets["ASSIST_GITHUB_WEBHOOK_SECRETS"])
    reply = httpx.post(f"http://127.0.0.1:{port}/webhooks/github", content=body, headers=headers)
    assert reply.status_code == 202, reply.text
    assert reply.json()["jobs"]

    # The local review works against the model the script set up.
    scripted.push(answer(finding()))
    review = subprocess.run(
        [str(copy / ".venv/bin/assist"), "review", "--repo", str(repo), "--base", "main"],
        cwd=copy,
        env={**os.environ, "ASSIST_LLM_BASE_URLS": scripted.base_url,
             "ASSIST_LLM_MODEL": "scripted", "ASSIST_LLM_CONTEXT_TOKENS": "32768"},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert review.returncode == 0, review.stderr
    assert "shop.py" in review.stdout

    # Ctrl+C: the script stops every process group it started, then exits.
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Ctrl+C did not stop the script: {signal_state(proc.pid)}\n{log.read_text()}")
    wait_for(
        lambda: not any(alive(pid) or group_alive(pid) for pid in pids),
        "every process gone",
        timeout=60,
    )
    assert "stopping 2 process group(s)" in log.read_text()
    assert not (copy / ".assist" / "run.pids").exists()
