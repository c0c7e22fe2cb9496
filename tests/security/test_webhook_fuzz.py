"""Fuzz the webhook endpoints through the real app (PostgreSQL, Redis): signed garbage, mutated
real payloads, unsigned noise, deep nesting and oversize bodies get a clear 2xx/4xx answer,
never a 500. (Hypothesis: the endpoints take raw bodies, so an OpenAPI-driven fuzzer has no
schema to work from.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import MAX_BODY
from tests.support.webhooks import (
    github_examples,
    github_headers,
    gitlab_bodies,
    gitlab_event_header,
    gitlab_headers,
)

FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
GITHUB_EVENTS = [
    "pull_request", "issue_comment", "pull_request_review_comment", "push", "installation",
    "installation_repositories", "ping", "check_run", "x" * 300,
]  # fmt: skip
HEADER_NAMES = [
    "X-GitHub-Event", "X-Hub-Signature-256", "X-GitHub-Delivery", "Content-Type",
    "X-Gitlab-Token", "X-Gitlab-Event",
]  # fmt: skip
GITLAB_EVENTS = ["Merge Request Hook", "Note Hook", "Push Hook", "Pipeline Hook", "Nope"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def examples(corpora: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {
        "github": github_examples(corpora),
        "gitlab": [(gitlab_event_header(b), b) for _, b in gitlab_bodies(corpora)],
    }


def _mutate(payload: Any, path: list[int], value: Any) -> Any:
    """Replace the value found by walking ``path`` (indices into keys/items) with ``value``."""
    out = copy.deepcopy(payload)
    node = out
    for step in path:
        if isinstance(node, dict) and node:
            key = list(node)[step % len(node)]
            if not isinstance(node[key], (dict, list)) or not node[key]:
                node[key] = value
                return out
            node = node[key]
        elif isinstance(node, list) and node:
            index = step % len(node)
            if not isinstance(node[index], (dict, list)) or not node[index]:
                node[index] = value
                return out
            node = node[index]
        else:
            break
    if isinstance(node, dict) and node:
        node.pop(list(node)[path[-1] % len(node)] if path else next(iter(node)))
    return out


def post_github(client: TestClient, event: str, body: bytes) -> int:
    headers = github_headers(event, body)
    return client.post("/webhooks/github", content=body, headers=headers).status_code


def post_gitlab(client: TestClient, event: str, body: bytes) -> int:
    headers = gitlab_headers(event)
    return client.post("/webhooks/gitlab", content=body, headers=headers).status_code


@FUZZ
@given(event=st.sampled_from(GITHUB_EVENTS), value=json_values)
def test_signed_arbitrary_json_is_answered_not_crashed(
    client: TestClient, event: str, value: Any
) -> None:
    assert post_github(client, event, json.dumps(value).encode()) in (200, 202, 400)


@FUZZ
@given(data=st.data(), path=st.lists(st.integers(0, 50), min_size=1, max_size=6), value=json_values)
def test_mutated_real_payloads_are_answered_not_crashed(
    client: TestClient,
    examples: dict[str, list[tuple[str, dict[str, Any]]]],
    data: st.DataObject,
    path: list[int],
    value: Any,
) -> None:
    forge = data.draw(st.sampled_from(["github", "gitlab"]))
    event, payload = data.draw(st.sampled_from(examples[forge]))
    body = json.dumps(_mutate(payload, path, value)).encode()
    post = post_github if forge == "github" else post_gitlab
    assert post(client, event, body) in (200, 202, 400)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    headers=st.dictionaries(
        st.sampled_from(HEADER_NAMES),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    ),
    forge=st.sampled_from(["github", "gitlab"]),
)
def test_unsigned_noise_is_refused(
    client: TestClient, body: bytes, headers: dict[str, str], forge: str
) -> None:
    status = client.post(f"/webhooks/{forge}", content=body, headers=headers).status_code
    assert status in (400, 401, 415)


@FUZZ
@given(value=json_values, event=st.sampled_from(GITLAB_EVENTS))
def test_gitlab_arbitrary_json_with_the_token_is_answered(
    client: TestClient, value: Any, event: str
) -> None:
    assert post_gitlab(client, event, json.dumps(value).encode()) in (200, 202, 400)


@pytest.mark.parametrize("depth", [200, 5_000, 60_000])
def test_deeply_nested_json_is_a_clear_refusal(client: TestClient, depth: int) -> None:
    arrays = ("[" * depth + "]" * depth).encode()
    objects = ('{"a":' * depth + "1" + "}" * depth).encode()
    for body in (arrays, objects):
        if len(body) <= MAX_BODY:
            assert post_github(client, "pull_request", body) in (200, 400)
        else:
            assert post_github(client, "pull_request", body) == 413


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    body = b'{"zeros": "' + b"0" * (MAX_BODY + 10) + b'"}'
    assert post_github(client, "pull_request", body) == 413
    streamed = client.post(
        "/webhooks/github",
        content=iter([b"{" * 1024] * 100),  # no Content-Length: chunked, cut off at the limit
        headers={**github_headers("push", b"{}"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_a_binary_body_with_a_valid_signature_is_malformed(client: TestClient) -> None:
    body = bytes(range(256)) * 10
    assert post_github(client, "push", body) == 400
