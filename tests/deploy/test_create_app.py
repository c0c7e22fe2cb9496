"""deploy/github-app/create_app.py: the manifest flow against a fake GitHub."""

from __future__ import annotations

import importlib.util
import json
import stat
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.conftest import ROOT
from tests.deploy.test_github_app import Webhooks, manifest_problems

SCRIPT = ROOT / "deploy" / "github-app" / "create_app.py"
APP = {
    "id": 4242,
    "slug": "forge-assist-acme",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
    "webhook_secret": "whsec-0123456789abcdef0123",
    "html_url": "https://github.com/apps/forge-assist-acme",
}


@pytest.fixture(scope="module")
def create_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("create_app", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_github() -> Iterator[tuple[str, list[str]]]:
    """A GitHub API that converts code 'good-code' and refuses anything else."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append(self.path)
            ok = self.path == "/api/v3/app-manifests/good-code/conversions"
            body = json.dumps(APP if ok else {"message": "Not Found"}).encode()
            self.send_response(201 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *values: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def test_the_manifest_it_posts_is_valid(create_app: ModuleType, corpora: Path) -> None:
    template = json.loads((ROOT / "deploy" / "github-app" / "manifest.json").read_text())
    manifest = create_app.build_manifest(
        template,
        webhook_url="https://assist.acme.test/webhooks/github",
        redirect_url="http://127.0.0.1:8765/callback",
        name="Forge Assist (acme)",
    )
    assert manifest["hook_attributes"]["url"] == "https://assist.acme.test/webhooks/github"
    assert manifest["url"] == "https://assist.acme.test"
    webhooks = Webhooks(json.loads((corpora / "github" / "webhooks-openapi.json").read_text()))
    assert manifest_problems(manifest, webhooks) == []
    assert template["hook_attributes"]["url"] != manifest["hook_attributes"]["url"]  # a copy


@pytest.mark.parametrize(
    "url", ["http://assist.acme.test/webhooks/github", "https://assist.acme.test/webhooks/gitlab"]
)
def test_it_refuses_a_wrong_webhook_url(create_app: ModuleType, url: str) -> None:
    with pytest.raises(ValueError, match="webhooks/github"):
        create_app.build_manifest({}, webhook_url=url, redirect_url="x", name=None)


def test_the_form_posts_the_escaped_manifest(create_app: ModuleType) -> None:
    manifest = {"name": 'a "quoted" <name>', "hook_attributes": {"url": "https://x"}}
    action = create_app.new_app_url("https://github.com", "acme corp")
    assert action == "https://github.com/organizations/acme%20corp/settings/apps/new"
    page = create_app.form_page(action, manifest, "st4te")
    assert (
        'action="https://github.com/organizations/acme%20corp/settings/apps/new?state=st4te"'
        in page
    )
    assert "<name>" not in page
    assert "&lt;name&gt;" in page
    assert create_app.new_app_url("https://ghe.acme.test/", None) == (
        "https://ghe.acme.test/settings/apps/new"
    )
    assert create_app.api_url("https://github.com") == "https://api.github.com"
    assert create_app.api_url("https://ghe.acme.test") == "https://ghe.acme.test/api/v3"


def test_conversion_and_credentials(
    create_app: ModuleType, fake_github: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, calls = fake_github
    app = create_app.convert(f"{base}/api/v3", "good-code")
    assert calls == ["/api/v3/app-manifests/good-code/conversions"]
    key, env = create_app.write_credentials(app, tmp_path / "out")
    assert key.read_text() == APP["pem"]
    for path in (key, env):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert lines["ASSIST_GITHUB_APP_ID"] == "4242"
    assert lines["ASSIST_GITHUB_WEBHOOK_SECRETS"] == APP["webhook_secret"]
    assert lines["ASSIST_BOT_LOGINS"] == "forge-assist-acme[bot],forge-assist-acme"
    with pytest.raises(urllib.error.HTTPError):
        create_app.convert(f"{base}/api/v3", "bad-code")


def test_the_whole_flow_through_the_local_page(
    create_app: ModuleType, fake_github: tuple[str, list[str]], tmp_path: Path, free_port: int
) -> None:
    base, _ = fake_github
    out = tmp_path / "app"
    argv = [
        "--webhook-url", "https://assist.acme.test/webhooks/github",
        "--github-url", base,
        "--port", str(free_port),
        "--out", str(out),
    ]  # fmt: skip
    done: list[int] = []
    runner = threading.Thread(target=lambda: done.append(create_app.main(argv)), daemon=True)
    runner.start()
    page = _get_when_up(f"http://127.0.0.1:{free_port}/")
    state = page.split("state=", 1)[1].split('"', 1)[0]
    assert f"{base}/settings/apps/new" in page
    with pytest.raises(urllib.error.HTTPError):  # a forged callback without the state
        urllib.request.urlopen(f"http://127.0.0.1:{free_port}/callback?code=good-code", timeout=5)
    answer = urllib.request.urlopen(
        f"http://127.0.0.1:{free_port}/callback?code=good-code&state={state}", timeout=5
    ).read()
    assert b"Created" in answer
    runner.join(timeout=10)
    assert done == [0]
    assert (out / "private-key.pem").read_text() == APP["pem"]


def _get_when_up(url: str) -> str:
    for _ in range(100):
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode()
        except urllib.error.URLError:
            threading.Event().wait(0.05)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
