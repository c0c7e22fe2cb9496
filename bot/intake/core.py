"""The front door: verify, parse, normalise, record, enqueue, answer.

HTTP-free: the web layer hands over headers and the raw body and sends back the ``Answer``.
Nothing is parsed before the signature is verified, and nothing is answered before the
delivery is recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.db.deliveries import DeliveryRecord, Outcome, Prior, StoreUnavailable
from bot.domain import Forge
from bot.intake.errors import MalformedPayload, QueueUnavailable
from bot.intake.events import Ignored, Normalised
from bot.intake.github import normalise_github
from bot.intake.gitlab import normalise_gitlab
from bot.intake.policy import IntakePolicy
from bot.intake.routing import Enqueued, JobSpec, Route, route
from bot.intake.verify import verify_github, verify_gitlab
from bot.settings import Settings

log = logging.getLogger(__name__)
UNVERIFIED = "unverified"
_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class DeliveryStore(Protocol):
    def record(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str] = (),
    ) -> None: ...

    def claim(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str],
        *,
        then: Callable[[], object] | None = None,
    ) -> Prior | None: ...


class JobQueue(Protocol):
    def enqueue(self, specs: Sequence[JobSpec]) -> list[Enqueued]: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    outcome: Outcome
    event: str
    body: dict[str, Any] = field(default_factory=dict)
    # Why a request was refused as unauthenticated: a metric label, never sent back.
    reason: str = ""


def decode_body(body: bytes, content_type: str | None) -> object:
    """JSON (or GitHub's form encoding with a ``payload`` field) into Python values."""
    media = (content_type or "").split(";")[0].strip().lower()
    try:
        if media == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
            if len(form.get("payload", [])) != 1:
                raise MalformedPayload("form body without one `payload` field")
            text = form["payload"][0]
        else:
            text = body.decode("utf-8")
        return json.loads(text)
    except RecursionError as exc:  # the C scanner's own guard against deep nesting
        raise MalformedPayload("JSON too deeply nested") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, MalformedPayload):
            raise
        raise MalformedPayload(f"body is not valid JSON: {type(exc).__name__}") from exc


_MEDIA = {
    Forge.GITHUB: {"application/json", "application/x-www-form-urlencoded"},
    Forge.GITLAB: {"application/json"},
}


class Intake:
    def __init__(
        self,
        *,
        settings: Settings,
        store: DeliveryStore,
        queue: JobQueue,
        routes: Sequence[Route],
    ) -> None:
        self._settings = settings
        self._store = store
        self._queue = queue
        self._routes = tuple(routes)
        self._policy = IntakePolicy.create(settings.bot_logins, settings.command_prefix)

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def delivery_id(forge: Forge, headers: Mapping[str, str], body: bytes) -> str:
        names = (
            ("x-github-delivery",)
            if forge is Forge.GITHUB
            else ("idempotency-key", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid")
        )
        for name in names:
            value = headers.get(name)
            if value and _SAFE_ID.match(value):
                return value
        return "sha256:" + hashlib.sha256(body).hexdigest()[:56]

    @staticmethod
    def event_name(forge: Forge, headers: Mapping[str, str]) -> str | None:
        value = headers.get("x-github-event" if forge is Forge.GITHUB else "x-gitlab-event")
        if value is None:
            return None
        return value.strip()[:100] or None

    def _record(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        *,
        verified: bool = True,
    ) -> Answer:
        """A rejection: record it (best effort: a 4xx stands even if the database is down)."""
        try:
            self._store.record(rec, outcome, status, reason)
        except StoreUnavailable as exc:
            log.error(
                "could not record rejected delivery %s: %s", rec.delivery_id, type(exc).__name__
            )
        # An unverified request's event header is anyone's text: never a metric label.
        label = rec.event if verified else UNVERIFIED
        return Answer(status, outcome, label, {"delivery": rec.delivery_id, "error": reason})

    def _unauthorized(self, reason: str) -> Answer:
        """A request that is not from the forge: answered, counted in metrics by the caller
        (by ``reason``), never stored row by row (so a flood of them costs no database
        writes). The answer does not say which check failed."""
        return Answer(
            401,
            Outcome.UNAUTHORIZED,
            UNVERIFIED,
            {"error": "bad or missing signature"},
            reason=reason,
        )

    def precheck(self, forge: Forge, headers: Mapping[str, str]) -> Answer | None:
        """Reject on the headers alone, before the body is read: GitLab's token is checked
        in full; a GitHub request without a well-formed SHA-256 signature (or with no
        secret configured) cannot verify. None: read the body and verify it."""
        s = self._settings
        if forge is Forge.GITHUB:
            signature = headers.get("x-hub-signature-256")
            if not s.github_webhook_secrets:
                return self._unauthorized("no secret configured")
            if not signature:
                return self._unauthorized("missing signature")
            if not _SIGNATURE.fullmatch(signature):
                return self._unauthorized("malformed signature")
            return None
        token = headers.get("x-gitlab-token")
        if not s.gitlab_webhook_tokens:
            return self._unauthorized("no secret configured")
        if not token:
            return self._unauthorized("missing token")
        if not verify_gitlab(token, s.gitlab_webhook_tokens):
            return self._unauthorized("wrong token")
        return None

    # -- the pipeline --------------------------------------------------------------------
    def too_large(self, forge: Forge, headers: Mapping[str, str], size: int) -> Answer:
        event = self.event_name(forge, headers) or "unknown"
        rec = DeliveryRecord(
            forge.value, self.delivery_id(forge, headers, b""), event, None, size, ""
        )
        limit = self._settings.max_body_bytes
        return self._record(rec, Outcome.TOO_LARGE, 413, f"body over {limit} bytes", verified=False)

    def handle(self, forge: Forge, headers: Mapping[str, str], body: bytes) -> Answer:
        """``headers`` must be case-insensitive or lower-case keyed."""
        delivery = self.delivery_id(forge, headers, body)
        event = self.event_name(forge, headers)
        rec = DeliveryRecord(
            forge.value,
            delivery,
            event or "unknown",
            None,
            len(body),
            hashlib.sha256(body).hexdigest(),
        )
        if len(body) > self._settings.max_body_bytes:
            return self.too_large(forge, headers, len(body))
        if not self._verified(forge, headers, body):
            wrong = "wrong signature" if forge is Forge.GITHUB else "wrong token"
            return self._unauthorized(wrong)
        if event is None:
            return self._record(rec, Outcome.MALFORMED, 400, "missing event header")
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if media not in _MEDIA[forge]:
            return self._record(
                rec,
                Outcome.UNSUPPORTED_MEDIA,
                415,
                f"content type {media or 'missing'} not accepted",
            )
        try:
            payload = decode_body(body, media)
        except MalformedPayload as exc:  # not JSON (or a form) at all
            return self._record(rec, Outcome.MALFORMED, 400, str(exc))
        try:
            normalised = self._normalise(forge, event, payload)
        except MalformedPayload as exc:
            # Verified, decodable, but not a shape we can use: answered 2xx and recorded with
            # the reason. A 4xx would count as a failure at the forge, which disables a hook
            # that keeps failing: one unexpected shape would switch the bot off silently.
            log.warning("delivery %s %s ignored: %s", delivery, event, exc)
            normalised = Normalised(event, None, ignored=Ignored(f"unusable payload: {exc}"))
        rec = DeliveryRecord(
            forge.value,
            delivery,
            normalised.event_name,
            normalised.repo,
            len(body),
            rec.body_sha256,
        )
        specs = route(self._routes, normalised.events)
        try:
            return self._accept(rec, normalised, specs)
        except StoreUnavailable as exc:
            log.error("database unavailable for delivery %s: %s", delivery, type(exc).__name__)
            return Answer(
                503,
                Outcome.UNAVAILABLE,
                rec.event,
                {"delivery": delivery, "error": "database unavailable, retry later"},
            )

    def _verified(self, forge: Forge, headers: Mapping[str, str], body: bytes) -> bool:
        s = self._settings
        if forge is Forge.GITHUB:
            return verify_github(body, headers.get("x-hub-signature-256"), s.github_webhook_secrets)
        return verify_gitlab(headers.get("x-gitlab-token"), s.gitlab_webhook_tokens)

    def _normalise(self, forge: Forge, event: str, payload: object) -> Normalised:
        if forge is Forge.GITHUB:
            return normalise_github(event, payload, self._policy)
        return normalise_gitlab(event, payload, self._policy)

    def _accept(
        self, rec: DeliveryRecord, normalised: Normalised, specs: Sequence[JobSpec]
    ) -> Answer:
        job_ids = [spec.job_id for spec in specs]
        if not specs:
            reason = normalised.ignored.reason if normalised.ignored else "no job for this event"
            prior = self._store.claim(rec, Outcome.IGNORED, 200, reason, [])
            if prior is not None:
                return self._duplicate(rec, prior)
            return Answer(
                200,
                Outcome.IGNORED,
                rec.event,
                {"delivery": rec.delivery_id, "jobs": [], "ignored": reason},
            )
        enqueued: list[Enqueued] = []

        def enqueue() -> None:
            enqueued.extend(self._queue.enqueue(specs))

        try:
            prior = self._store.claim(rec, Outcome.QUEUED, 202, "", job_ids, then=enqueue)
        except QueueUnavailable as exc:
            log.error("queue unavailable for delivery %s: %s", rec.delivery_id, type(exc).__name__)
            self._store.record(rec, Outcome.UNAVAILABLE, 503, "queue unavailable", job_ids)
            return Answer(
                503,
                Outcome.UNAVAILABLE,
                rec.event,
                {"delivery": rec.delivery_id, "error": "queue unavailable, retry later"},
            )
        if prior is not None:
            return self._duplicate(rec, prior)
        log.info(
            "delivery %s %s queued %s",
            rec.delivery_id,
            rec.event,
            [e.job_id for e in enqueued if e.new],
        )
        return Answer(
            202, Outcome.QUEUED, rec.event, {"delivery": rec.delivery_id, "jobs": job_ids}
        )

    def _duplicate(self, rec: DeliveryRecord, prior: Prior) -> Answer:
        self._store.record(
            rec, Outcome.DUPLICATE, 200, f"redelivery of {prior.outcome.value}", prior.job_ids
        )
        return Answer(
            200,
            Outcome.DUPLICATE,
            rec.event,
            {"delivery": rec.delivery_id, "jobs": list(prior.job_ids), "duplicate": True},
        )
