"""Request/response plumbing shared by the test forge's two APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.testforge.state import Token


@dataclass
class Request:
    method: str
    path: str  # raw (still percent-encoded), without the API prefix or query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # e.g. http://127.0.0.1:1234/api/v3
    token: Token | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def login(self) -> str:
        return self.token.login if self.token else "anonymous"


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain; charset=utf-8")
        if self.body is None and self.status == 204:
            return b"", "application/json"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.response = Response(status, body, headers or {})


def paginate_github(
    req: Request, items: list[Any], url: str, render: Callable[[Any], Any] | None = None
) -> Response:
    per_page = min(int(req.arg("per_page", "30") or 30), 100)
    page = int(req.arg("page", "1") or 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    if render is not None:
        chunk = [render(item) for item in chunk]
    last = max(1, -(-len(items) // per_page))
    links = []
    extra = {k: v[-1] for k, v in req.query.items() if k not in {"page", "per_page"}}

    def link(number: int, rel: str) -> str:
        query = urlencode({**extra, "per_page": per_page, "page": number})
        return f'<{url}?{query}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    headers = {"Link": ", ".join(links)} if links else {}
    return Response(200, chunk, headers)


def paginate_gitlab(
    req: Request, items: list[Any], url: str, render: Callable[[Any], Any] | None = None
) -> Response:
    per_page = min(int(req.arg("per_page", "20") or 20), 100)
    page = int(req.arg("page", "1") or 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    if render is not None:
        chunk = [render(item) for item in chunk]
    total_pages = max(1, -(-len(items) // per_page))
    extra = {k: v[-1] for k, v in req.query.items() if k not in {"page", "per_page"}}

    def link(number: int, rel: str) -> str:
        query = urlencode({**extra, "per_page": per_page, "page": number})
        return f'<{url}?{query}>; rel="{rel}"'

    links = [link(1, "first"), link(total_pages, "last")]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(len(items)),
        "X-Total-Pages": str(total_pages),
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "X-Next-Page": str(page + 1) if page < total_pages else "",
    }
    if page < total_pages:
        links.insert(0, link(page + 1, "next"))
    headers["Link"] = ", ".join(links)
    return Response(200, chunk, headers)
