"""Create the Forge Assist GitHub App from manifest.json (GitHub's manifest flow), stdlib only.

    python3 deploy/github-app/create_app.py \
        --webhook-url https://assist.example.com/webhooks/github [--org ORG] \
        [--name "Forge Assist (acme)"] [--github-url https://github.example.com] \
        [--out .assist/github-app]

1. Serves a page on http://127.0.0.1:PORT/ that posts the manifest to GitHub; open it in a
   browser signed in to GitHub, check the App and confirm.
2. GitHub redirects back to http://127.0.0.1:PORT/callback?code=...; the code is exchanged
   (POST /app-manifests/{code}/conversions) for the App's id, private key and webhook secret.
3. Writes OUT/private-key.pem and OUT/app.env (mode 0600) with ASSIST_GITHUB_APP_ID,
   ASSIST_GITHUB_WEBHOOK_SECRETS and ASSIST_BOT_LOGINS, and prints the installation URL.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import secrets
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parent / "manifest.json"


def build_manifest(
    template: dict[str, Any], *, webhook_url: str, redirect_url: str, name: str | None
) -> dict[str, Any]:
    """The manifest to post: the template with this installation's URLs and name."""
    if not webhook_url.startswith("https://") or not webhook_url.endswith("/webhooks/github"):
        raise ValueError("the webhook URL must be https://<host>/webhooks/github")
    manifest: dict[str, Any] = json.loads(json.dumps(template))
    manifest["hook_attributes"]["url"] = webhook_url
    manifest["url"] = webhook_url.removesuffix("/webhooks/github")
    manifest["redirect_url"] = redirect_url
    if name:
        manifest["name"] = name
    return manifest


def new_app_url(github_url: str, org: str | None) -> str:
    base = github_url.rstrip("/")
    if org:
        return f"{base}/organizations/{urllib.parse.quote(org)}/settings/apps/new"
    return f"{base}/settings/apps/new"


def form_page(action: str, manifest: dict[str, Any], state: str) -> str:
    """An HTML page whose form posts the manifest to GitHub (with a CSRF state)."""
    target = f"{action}?state={urllib.parse.quote(state)}"
    return (
        "<!doctype html><meta charset=utf-8><title>Create Forge Assist</title>"
        f'<form action="{html.escape(target)}" method="post">'
        f'<input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">'
        "<p>Creates the GitHub App described by deploy/github-app/manifest.json.</p>"
        "<button type=submit>Create the GitHub App on GitHub</button></form>"
    )


def api_url(github_url: str) -> str:
    base = github_url.rstrip("/")
    return "https://api.github.com" if base == "https://github.com" else f"{base}/api/v3"


def convert(api: str, code: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Exchange the one-hour code for the App's credentials."""
    request = urllib.request.Request(
        f"{api}/app-manifests/{urllib.parse.quote(code)}/conversions",
        method="POST",
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = json.load(response)
    if not isinstance(data, dict) or not {"id", "pem", "webhook_secret", "slug"} <= set(data):
        raise RuntimeError("unexpected answer from the manifest conversion")
    return data


def write_credentials(app: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    key = out / "private-key.pem"
    env = out / "app.env"
    for path, text in (
        (key, app["pem"]),
        (
            env,
            f"ASSIST_GITHUB_APP_ID={app['id']}\n"
            f"ASSIST_GITHUB_WEBHOOK_SECRETS={app['webhook_secret']}\n"
            f"ASSIST_GITHUB_PRIVATE_KEY_PATH={key.resolve()}\n"
            f"ASSIST_BOT_LOGINS={app['slug']}[bot],{app['slug']}\n",
        ),
    ):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    return key, env


def serve(args: argparse.Namespace) -> dict[str, Any]:
    state = secrets.token_urlsafe(16)
    redirect = f"http://127.0.0.1:{args.port}/callback"
    template = json.loads(MANIFEST.read_text())
    manifest = build_manifest(
        template, webhook_url=args.webhook_url, redirect_url=redirect, name=args.name
    )
    page = form_page(new_app_url(args.github_url, args.org), manifest, state)
    result: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/":
                self._answer(200, page)
            elif url.path == "/callback" and query.get("state") == [state] and "code" in query:
                result.update(convert(api_url(args.github_url), query["code"][0]))
                self._answer(200, "<p>Created. You can close this tab.</p>")
            else:
                self._answer(400, "<p>Unexpected request.</p>")

        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *values: Any) -> None:
            """Quiet: the query string holds the one-time code."""

    with HTTPServer(("127.0.0.1", args.port), Handler) as server:
        sys.stdout.write(f"Open http://127.0.0.1:{args.port}/ in a browser signed in to GitHub\n")
        while not result:
            server.handle_request()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the Forge Assist GitHub App.")
    parser.add_argument("--webhook-url", required=True, help="https://HOST/webhooks/github")
    parser.add_argument("--org", help="create the App for this organization")
    parser.add_argument("--name", help="App name (unique on GitHub, at most 34 characters)")
    parser.add_argument("--github-url", default="https://github.com", help="GitHub Enterprise")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=Path(".assist/github-app"))
    args = parser.parse_args(argv)
    app = serve(args)
    key, env = write_credentials(app, args.out)
    sys.stdout.write(
        f"Created App {app['slug']} (id {app['id']}).\n"
        f"  private key: {key}\n  settings:    {env}\n"
        f"Install it: {app.get('html_url', '')}/installations/new\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
