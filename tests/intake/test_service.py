"""Health, readiness, metrics and start-up refusal of `assist serve`."""

from __future__ import annotations

import subprocess

import httpx

from tests.support.processes import ROOT, assist_cmd, assist_env, free_port
from tests.support.webhooks import dumps, github_headers


def test_health_ready_and_metrics(server: str) -> None:
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": "ok", "redis": "ok"}
    body = dumps({"zen": "metrics", "hook_id": 3})
    httpx.post(server + "/webhooks/github", content=body, headers=github_headers("ping", body))
    text = httpx.get(server + "/metrics").text
    assert 'assist_deliveries_total{event="ping",forge="github",outcome="ignored"}' in text
    assert "assist_delivery_seconds_bucket" in text
    assert 'assist_queue_depth{queue="review"}' in text


def _serve_fails(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assist_cmd("serve", "--port", str(free_port())),
        env=assist_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_placeholder_secret(intake_env: dict[str, str]) -> None:
    env = {**intake_env, "ASSIST_GITHUB_WEBHOOK_SECRETS": "changeme"}
    done = _serve_fails(env)
    assert done.returncode == 2
    assert "ASSIST_GITHUB_WEBHOOK_SECRETS entry 1 is a placeholder" in done.stderr
    assert "changeme" not in done.stderr


def test_serve_refuses_without_any_secret(intake_env: dict[str, str]) -> None:
    env = {k: v for k, v in intake_env.items() if "SECRET" not in k and "TOKENS" not in k}
    done = _serve_fails(env)
    assert done.returncode == 2
    assert "no webhook secret is configured" in done.stderr


def test_unverified_event_names_never_become_labels(server: str) -> None:
    body = b'{"zen": "x"}'
    headers = github_headers("ping", body, secret="wrong-secret-0000000000")
    headers["X-GitHub-Event"] = "attacker-chosen-label-4242"
    assert httpx.post(server + "/webhooks/github", content=body, headers=headers).status_code == 401
    text = httpx.get(server + "/metrics").text
    assert "attacker-chosen-label-4242" not in text
    assert 'event="unverified",forge="github",outcome="unauthorized"' in text


def test_metrics_aggregate_across_web_processes(intake_env: dict[str, str]) -> None:
    import re

    from tests.support.processes import serve

    with serve(intake_env, workers=2) as base, httpx.Client(base_url=base) as client:
        for index in range(30):
            body = dumps({"zen": f"agg {index}", "hook_id": index})
            # A fresh connection each time, so deliveries spread over both processes.
            httpx.post(
                base + "/webhooks/github", content=body, headers=github_headers("ping", body)
            )
        for _ in range(4):  # whichever process answers the scrape, it sees all 30
            text = client.get("/metrics", headers={"Connection": "close"}).text
            found = re.search(
                r'assist_deliveries_total\{event="ping",forge="github",outcome="ignored"\} (\S+)',
                text,
            )
            assert found is not None
            assert float(found.group(1)) == 30.0
