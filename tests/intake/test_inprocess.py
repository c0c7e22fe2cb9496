"""`Intake` in-process, with in-memory store and queue fakes behind its protocols: the same
decisions as over HTTP (tests/intake/test_service.py), without a server, a database or Redis."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.db.deliveries import DeliveryRecord, Outcome, Prior, StoreUnavailable
from bot.domain import Forge
from bot.intake.core import Intake
from bot.intake.errors import QueueUnavailable
from bot.intake.routes import all_routes
from bot.intake.routing import Enqueued, JobSpec
from bot.settings import Settings
from tests.support.webhooks import (
    GITHUB_SECRET,
    GITLAB_TOKEN,
    dumps,
    github_examples,
    github_headers,
    gitlab_bodies,
    gitlab_event_header,
    gitlab_headers,
)


@dataclass
class MemoryStore:
    """Deliveries in a dict, keyed like the SQL store's unique index (forge, delivery id)."""

    rows: list[tuple[DeliveryRecord, Outcome, int, str, tuple[str, ...]]] = field(
        default_factory=list
    )
    claimed: dict[tuple[str, str], Prior] = field(default_factory=dict)
    down: bool = False

    def record(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str] = (),
    ) -> None:
        if self.down:
            raise StoreUnavailable("down")
        self.rows.append((rec, outcome, status, reason, tuple(job_ids)))

    def claim(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str],
        *,
        then: Callable[[], object] | None = None,
    ) -> Prior | None:
        if self.down:
            raise StoreUnavailable("down")
        key = (rec.forge, rec.delivery_id)
        if key in self.claimed:
            return self.claimed[key]
        if then is not None:
            then()  # raises: nothing is claimed, as the SQL store's transaction rolls back
        self.claimed[key] = Prior(outcome, tuple(job_ids), reason)
        self.rows.append((rec, outcome, status, reason, tuple(job_ids)))
        return None


@dataclass
class MemoryQueue:
    specs: dict[str, JobSpec] = field(default_factory=dict)
    down: bool = False

    def enqueue(self, specs: Sequence[JobSpec]) -> list[Enqueued]:
        if self.down:
            raise QueueUnavailable("down")
        out = []
        for spec in specs:
            out.append(Enqueued(spec.job_id, new=spec.job_id not in self.specs))
            self.specs.setdefault(spec.job_id, spec)
        return out


def _intake() -> tuple[Intake, MemoryStore, MemoryQueue]:
    settings = Settings(
        github_webhook_secrets=[SecretStr(GITHUB_SECRET)],
        gitlab_webhook_tokens=[SecretStr(GITLAB_TOKEN)],
    )
    store, queue = MemoryStore(), MemoryQueue()
    return Intake(settings=settings, store=store, queue=queue, routes=all_routes()), store, queue


def _opened_pull(corpora: Path) -> dict[str, Any]:
    return copy.deepcopy(
        next(
            p
            for e, p in github_examples(corpora)
            if e == "pull_request" and p["action"] == "opened" and not p["pull_request"]["draft"]
        )
    )


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_signed_pull_request_queues_a_review_once(corpora: Path) -> None:
    intake, store, queue = _intake()
    body = dumps(_opened_pull(corpora))
    headers = _lower(github_headers("pull_request", body, delivery="d-1"))
    answer = intake.handle(Forge.GITHUB, headers, body)
    assert (answer.status, answer.outcome) == (202, Outcome.QUEUED)
    assert "bot.jobs.review.review_job" in {s.func for s in queue.specs.values()}
    assert answer.body["jobs"] == list(queue.specs)
    again = intake.handle(Forge.GITHUB, headers, body)  # the forge redelivers
    assert (again.status, again.outcome) == (200, Outcome.DUPLICATE)
    assert len(queue.specs) == len(answer.body["jobs"])
    assert [row[1] for row in store.rows] == [Outcome.QUEUED, Outcome.DUPLICATE]


def test_bad_signature_is_refused_and_not_stored(corpora: Path) -> None:
    intake, store, queue = _intake()
    body = dumps(_opened_pull(corpora))
    headers = _lower(github_headers("pull_request", body, secret="not-the-secret-000000"))
    assert intake.precheck(Forge.GITHUB, headers) is None  # well-formed: the body is read
    answer = intake.handle(Forge.GITHUB, headers, body)
    assert (answer.status, answer.outcome) == (401, Outcome.UNAUTHORIZED)
    assert store.rows == []
    assert queue.specs == {}
    unsigned = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    early = intake.precheck(Forge.GITHUB, unsigned)  # refused on headers, before the body
    assert early is not None
    assert early.status == 401


def test_queue_down_answers_503_and_claims_nothing(corpora: Path) -> None:
    intake, store, queue = _intake()
    body = dumps(_opened_pull(corpora))
    headers = _lower(github_headers("pull_request", body, delivery="d-2"))
    queue.down = True
    answer = intake.handle(Forge.GITHUB, headers, body)
    assert (answer.status, answer.outcome) == (503, Outcome.UNAVAILABLE)
    assert store.claimed == {}  # the forge's retry can still claim the id
    queue.down = False
    retry = intake.handle(Forge.GITHUB, headers, body)
    assert (retry.status, retry.outcome) == (202, Outcome.QUEUED)
    assert queue.specs


def test_store_down_answers_503(corpora: Path) -> None:
    intake, store, queue = _intake()
    body = dumps(_opened_pull(corpora))
    store.down = True
    answer = intake.handle(Forge.GITHUB, _lower(github_headers("pull_request", body)), body)
    assert (answer.status, answer.outcome) == (503, Outcome.UNAVAILABLE)
    assert queue.specs == {}


def test_not_json_is_400_and_recorded() -> None:
    intake, store, _queue = _intake()
    body = b"{not json"
    answer = intake.handle(Forge.GITHUB, _lower(github_headers("push", body)), body)
    assert (answer.status, answer.outcome) == (400, Outcome.MALFORMED)
    assert store.rows[0][1] is Outcome.MALFORMED


def test_unusable_verified_shape_is_2xx_ignored_with_reason() -> None:
    intake, store, queue = _intake()
    body = dumps({"object_kind": "merge_request", "object_attributes": "not an object"})
    answer = intake.handle(Forge.GITLAB, _lower(gitlab_headers("Merge Request Hook")), body)
    assert answer.status == 200
    assert answer.outcome is Outcome.IGNORED
    assert "unusable payload" in answer.body["ignored"]
    assert store.rows[0][3].startswith("unusable payload")
    assert queue.specs == {}


@pytest.mark.parametrize("wrong", ["", "x" * 40])
def test_gitlab_wrong_token_is_refused(corpora: Path, wrong: str) -> None:
    intake, store, _queue = _intake()
    _event, payload = next(iter(gitlab_bodies(corpora)))
    body = dumps(payload)
    headers = _lower(gitlab_headers(gitlab_event_header(payload), token=wrong))
    answer = intake.handle(Forge.GITLAB, headers, body)
    assert answer.status == 401
    assert store.rows == []
