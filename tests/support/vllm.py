"""The real CPU vLLM for the tests, as a pytest plugin (registered in tests/conftest.py).

The server is started once per test run by ``deploy/cpu-model/serve.sh`` on a free
loopback port, and stopped at the end; every test folder shares it, and under pytest-xdist
every worker shares it too (one worker starts it, the controller stops it). ``ASSIST_SKIP_VLLM=1``
skips the tests that need it; otherwise a missing installation FAILS those tests, telling to
run ``deploy/cpu-model/setup.sh`` (CI runs it first).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "deploy" / "cpu-model" / "serve.sh"
VLLM_HOME = Path(
    os.environ.get("ASSIST_VLLM_HOME", str(Path.home() / ".cache" / "forge-assist" / "vllm"))
)
VLLM_MODEL_DIR = VLLM_HOME / "models" / "smollm2-135m-instruct"
SERVED_NAME = "smollm2-135m-instruct"
START_TIMEOUT_S = float(os.environ.get("ASSIST_VLLM_START_TIMEOUT_S", "420"))
# One request to the shared CPU model may wait behind every other session's: a test waits for
# the answer, it does not time the machine (the product's own timeout is tested with scripted
# servers).
REQUEST_TIMEOUT_S = float(os.environ.get("ASSIST_VLLM_REQUEST_TIMEOUT_S", "1800"))


# --- the real CPU vLLM -----------------------------------------------------------------------


@dataclass(frozen=True)
class VLLMServer:
    base_url: str
    model: str
    model_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_vllm(log_dir: Path, *, name: str = "vllm") -> VLLMServer:
    """Start serve.sh on a free port and wait until /health answers; fail with the log if not."""
    if (
        not (VLLM_HOME / "venv" / "bin" / "python").is_file()
        or not (VLLM_MODEL_DIR / "config.json").is_file()
    ):
        pytest.fail(
            f"the CPU vLLM is not installed under {VLLM_HOME}: run deploy/cpu-model/setup.sh "
            "(about 2-4 minutes), or set ASSIST_SKIP_VLLM=1 to skip the vllm-marked tests"
        )
    port = free_port()
    log = log_dir / f"{name}-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", str(SERVE), "--port", str(port), "--name", SERVED_NAME],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the engine core too
        )
    server = VLLMServer(f"http://127.0.0.1:{port}/v1", SERVED_NAME, VLLM_MODEL_DIR, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"vLLM exited with {process.returncode} while starting:\n{tail}")
        try:
            if httpx.get(f"{server.root}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_vllm(server)
    tail = log.read_text(errors="replace")[-3000:]
    pytest.fail(f"vLLM did not become healthy within {START_TIMEOUT_S:.0f} s:\n{tail}")


def stop_vllm(server: VLLMServer, *, sig: int = signal.SIGTERM) -> None:
    """Signal the server's whole process group and wait for it (SIGKILL after 30 s)."""
    if server.process.poll() is not None:
        return
    try:
        os.killpg(server.process.pid, sig)
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
    except ProcessLookupError:
        pass


def running_vllm(base_url: str) -> Iterator[VLLMServer]:
    """A CPU vLLM somebody else started (``ASSIST_TEST_VLLM_URL``); never stopped by us."""
    base_url = base_url.rstrip("/")
    if not base_url.endswith("/v1"):
        base_url += "/v1"
    try:
        healthy = httpx.get(base_url.removesuffix("/v1") + "/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        healthy = False
    if not healthy:
        pytest.fail(f"ASSIST_TEST_VLLM_URL={base_url} does not answer /health")
    # A placeholder process: the server belongs to whoever started it, so stop_vllm is a no-op.
    process = subprocess.Popen(["true"])
    process.wait()
    yield VLLMServer(base_url, SERVED_NAME, VLLM_MODEL_DIR, process, Path(os.devnull))


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """The CPU vLLM serving SmolLM2-135M-Instruct, started once per test session.

    ``ASSIST_TEST_VLLM_URL`` reuses a server already running (several test sessions on one
    machine then share one model instead of starting one each).
    """
    if os.environ.get("ASSIST_SKIP_VLLM") == "1":
        pytest.skip("ASSIST_SKIP_VLLM=1: the CPU vLLM tests are skipped")
    if shared := os.environ.get("ASSIST_TEST_VLLM_URL"):
        yield from running_vllm(shared)
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        yield from _xdist_vllm(tmp_path_factory)
        return
    server = start_vllm(tmp_path_factory.mktemp("vllm"))
    yield server
    stop_vllm(server)


SHARED_VLLM = "vllm-shared.json"


def _xdist_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """Under pytest-xdist: ONE server for all workers. The first worker that needs it starts
    it (under a file lock in the run's shared temporary directory) and records its URL; the
    others reuse it; the controller stops it when the whole run ends (`stop_shared_vllm`)."""
    shared = tmp_path_factory.getbasetemp().parent  # xdist: <run basetemp>/popen-gwN
    record = shared / SHARED_VLLM
    with (shared / "vllm-shared.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not record.exists():
            server = start_vllm(shared)
            record.write_text(json.dumps({"url": server.base_url, "pid": server.process.pid}))
    yield from running_vllm(json.loads(record.read_text())["url"])


def stop_shared_vllm(basetemp: Path) -> None:
    """The xdist controller, at the end of the run: stop the server a worker started."""
    record = basetemp / SHARED_VLLM
    if not record.exists():
        return
    pid = int(json.loads(record.read_text())["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(300):
            os.killpg(pid, 0)  # ProcessLookupError once the whole group is gone
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    record.unlink()


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller owns the server
        return
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and os.environ.get("ASSIST_TEST_VLLM_URL") is None:
        with contextlib.suppress(OSError, ValueError):
            stop_shared_vllm(factory.getbasetemp())


@pytest.fixture(scope="session")
def vllm_starter(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], VLLMServer]]:
    """Starts extra replicas on demand (failover tests); all are stopped at the end."""
    if os.environ.get("ASSIST_SKIP_VLLM") == "1":
        pytest.skip("ASSIST_SKIP_VLLM=1: the CPU vLLM tests are skipped")
    started: list[VLLMServer] = []
    log_dir = tmp_path_factory.mktemp("vllm-replicas")

    def start() -> VLLMServer:
        server = start_vllm(log_dir, name="replica")
        started.append(server)
        return server

    yield start
    for server in started:
        stop_vllm(server)
