"""The test forge in its own process, driven over a small JSON RPC with the same methods."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.testforge.state import Fault

ROOT = Path(__file__).resolve().parents[2]


class RemoteTestForge:
    """``with RemoteTestForge.spawn() as forge:`` then call TestForge's setup and inspection
    methods (``create_repo``, ``add_pull``, ``inject``, ``comments``, ...) as usual."""

    __test__ = False

    def __init__(self, url: str, process: subprocess.Popen[str] | None = None) -> None:
        self.url = url
        self._process = process

    @classmethod
    def spawn(cls, *, corpora: Path | None = None, port: int = 0) -> RemoteTestForge:
        args = [sys.executable, "-m", "tests.testforge", "--port", str(port)]
        if corpora:
            args += ["--corpora", str(corpora)]
        process = subprocess.Popen(
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout
        ready = json.loads(process.stdout.readline())
        return cls(ready["url"], process)

    @property
    def github_api_url(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def gitlab_url(self) -> str:
        return self.url

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        args = tuple(a.to_json() if isinstance(a, Fault) else a for a in args)
        payload = json.dumps({"method": method, "args": args, "kwargs": kwargs}, default=str)
        request = urllib.request.Request(
            f"{self.url}/_testforge/rpc",
            data=payload.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["result"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            assert self._process.stdin
            self._process.stdin.close()
            self._process.wait(timeout=30)

    def __enter__(self) -> RemoteTestForge:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
