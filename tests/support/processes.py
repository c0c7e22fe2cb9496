"""Real processes for tests: `assist serve`, `assist worker`, and private Redis servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# How long a process we start may take to come up. Generous: on a busy machine starting Python
# with our imports takes tens of seconds; a process that dies is reported at once instead.
STARTUP_TIMEOUT_S = float(os.environ.get("ASSIST_TEST_STARTUP_TIMEOUT_S", "600"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The command quotas (bot/access/quota.py) count in the session's Redis across every test; a test
# of the quotas sets its own.
QUOTAS_OFF = {"ASSIST_COMMAND_QUOTA_USER": "0", "ASSIST_COMMAND_QUOTA_REPO": "0"}


def assist_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_")}
    env.update(QUOTAS_OFF)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def assist_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


# A loaded machine (shared CI runners, many sessions) can take more than 30 s to import the
# app; waiting longer for it to answer costs nothing when it is quick.
START_TIMEOUT_S = float(os.environ.get("ASSIST_TEST_START_TIMEOUT_S", "120"))


def wait_http(
    url: str,
    *,
    timeout: float = STARTUP_TIMEOUT_S,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"process exited with {proc.returncode}:\n{out}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not up after {timeout}s")


@contextlib.contextmanager
def serve(env: Mapping[str, str], *, workers: int = 1) -> Iterator[str]:
    """Run `assist serve` on a free port; yields its base URL."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        assist_cmd("serve", "--port", str(port), "--workers", str(workers)),
        env=assist_env(env),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(base + "/healthz", proc=proc, timeout=START_TIMEOUT_S)
        except (TimeoutError, RuntimeError):
            log.seek(0)
            raise RuntimeError(f"assist serve did not start:\n{log.read().decode()}") from None
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_worker_burst(env: Mapping[str, str], *queues: str, timeout: float = 120) -> str:
    """Run `assist worker --burst` until the queues are empty; returns its output."""
    args = ["worker", "--burst"]
    for queue in queues:
        args += ["--queue", queue]
    done = subprocess.run(
        assist_cmd(*args),
        env=assist_env(env),
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout.decode() + done.stderr.decode()
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({done.returncode}):\n{output}")
    return output


class PrivateRedis:
    """A redis-server of our own on its own port, to kill and restart freely."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="assist-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not on PATH")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise TimeoutError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
