"""The moving parts of the soak: a durable private Redis, a private PostgreSQL, a model server
that answers from the prompt, and supervised `assist worker` processes. All restartable."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.support.processes import ROOT, assist_cmd, assist_env, free_port

# The soak's changes add lines like this one; the model flags each as a finding.
SOAK_LINE = re.compile(r"(    total_(\d+)_(\d+) = price \* qty  # soak ([\w./-]+))")


def _wait_port(port: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class DurableRedis:
    """A private redis-server with an append-only file, restarted like a rolling deploy."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="assist-soak-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: redis flushes the AOF and exits
            self.proc.wait(20)
            self.proc = None

    def restart(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """initdb + pg_ctl in a temp dir on a free port (as the postgres user when run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="assist-soak-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "pg.log")
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not os.path.exists(self.data):
            self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        opts += " -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", "start")
        _wait_port(self.port)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def restart(self, down_s: float) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ReplyingModel(ScriptedServer):
    """An OpenAI-compatible server that answers from the prompt, like a model would.

    A review prompt gets one finding per soak line in its diff; a scoring prompt a high score
    per candidate; anything else a short answer. ``down_until`` makes it answer 503.
    """

    def __init__(self) -> None:
        super().__init__()
        self.down_until = 0.0
        self.refused = 0

    async def _chat(self, receive: Any, send: Any, body: dict[str, Any]) -> None:
        if time.monotonic() < self.down_until:
            self.refused += 1
            self.script.append(chat_reply("", finish_reason="stop"))
            self.script[-1].status = 503
            self.script[-1].body = {"error": {"message": "model down"}}
        else:
            self.script.append(self._reply_for(body))
        await super()._chat(receive, send, body)

    @staticmethod
    def _reply_for(body: Mapping[str, Any]) -> Any:
        text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        if "second reader of an automated code review" in text:
            count = len(re.findall(r"^## candidate \d+$", text, flags=re.M))
            scores = [{"index": i, "confidence": 0.95} for i in range(count)]
            return chat_reply(json.dumps({"scores": scores}))
        if "reviewing one file of a pull request" in text:
            findings, seen = [], set()
            for code, pr, k, path in SOAK_LINE.findall(text):
                if code in seen:
                    continue
                seen.add(code)
                findings.append(
                    {
                        "file": path, "quoted_code": code.strip(), "line": 1,
                        "severity": "major", "category": "bug",
                        "title": f"Soak finding {pr}.{k}",
                        "explanation": "total is computed from the wrong operands.",
                        "replacement": None,
                    }
                )  # fmt: skip
            return chat_reply(json.dumps({"findings": findings[:4]}))
        return chat_reply("The soak answer: the change looks fine.")


class Workers:
    """``count`` `assist worker` processes, each in its own process group, restarted when
    they exit (as a process supervisor would)."""

    def __init__(self, env: Mapping[str, str], count: int, log_dir: Path) -> None:
        self.env = dict(env)
        self.count = count
        self.log_dir = log_dir
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.generation: dict[int, int] = {}
        self.restarts = 0
        self.killed = 0

    def name(self, slot: int) -> str:
        return f"soak-w{slot}-g{self.generation.get(slot, 0)}"

    def _spawn(self, slot: int) -> None:
        self.generation[slot] = self.generation.get(slot, -1) + 1
        log = open(self.log_dir / f"{self.name(slot)}.log", "wb")  # noqa: SIM115
        self.procs[slot] = subprocess.Popen(
            assist_cmd(
                "worker", "--queue", "review", "--queue", "index", "--name", self.name(slot)
            ),
            env=assist_env(self.env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start(self) -> None:
        for slot in range(self.count):
            self._spawn(slot)

    def supervise(self) -> None:
        for slot, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.restarts += 1
                self._spawn(slot)

    def kill(self, worker_name: str) -> bool:
        """SIGKILL a worker and its work horse and scheduler (a lost node, an OOM kill)."""
        for slot, proc in self.procs.items():
            if self.name(slot) == worker_name and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                self.killed += 1
                return True
        return False

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))
