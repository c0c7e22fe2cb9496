"""The record of every webhook delivery, written before the forge gets its answer."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bot.db.models import Delivery

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The delivery store could not be read or written (the database is down or refused)."""


def _once_more_if_stale(action: Callable[[], T]) -> T:
    """Run ``action``; if a pooled connection turned out dead (the server restarted), once more.

    Cheaper than pinging the server before every checkout, and just as safe. Any other
    database failure becomes :class:`StoreUnavailable`, so callers need not know SQLAlchemy;
    what ``action`` raises otherwise (the enqueue inside a claim) passes through unchanged.
    """
    try:
        try:
            return action()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            return action()
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise StoreUnavailable(type(exc).__name__) from exc


class Outcome(enum.StrEnum):
    QUEUED = "queued"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    UNAVAILABLE = "unavailable"  # Redis or the database failed: the forge retries
    UNAUTHORIZED = "unauthorized"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    forge: str
    delivery_id: str
    event: str
    repo: str | None
    body_bytes: int
    body_sha256: str


@dataclass(frozen=True, slots=True)
class Prior:
    """The first verified delivery of an id, as recorded."""

    outcome: Outcome
    job_ids: tuple[str, ...]
    reason: str


_INSERT = insert(cast(Table, Delivery.__table__))  # Core: compiled once, then cached


class SqlDeliveryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _values(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str],
        *,
        keyed: bool,
    ) -> dict[str, object]:
        return {
            "forge": rec.forge,
            "delivery_id": rec.delivery_id,
            "delivery_key": rec.delivery_id if keyed else None,
            "event": rec.event[:128],
            "repo": rec.repo[:512] if rec.repo else None,
            "outcome": outcome.value,
            "reason": reason,
            "status_code": status,
            "job_ids": list(job_ids),
            "body_bytes": rec.body_bytes,
            "body_sha256": rec.body_sha256,
        }

    def record(
        self,
        rec: DeliveryRecord,
        outcome: Outcome,
        status: int,
        reason: str,
        job_ids: Sequence[str] = (),
    ) -> None:
        """Record a delivery that does not claim its id (a rejection, a duplicate)."""
        values = self._values(rec, outcome, status, reason, job_ids, keyed=False)

        def write() -> None:
            with self._engine.begin() as conn:
                conn.execute(_INSERT, values)

        _once_more_if_stale(write)

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
        """Record the first verified delivery of this id; None if we are first, else the prior.

        ``then`` (the enqueue) runs inside the same transaction, after the row is written and
        before it commits: if it raises, nothing is recorded under the id, so the forge's retry
        can claim it. A concurrent copy of the delivery waits on the unique index until this
        transaction ends, then sees the committed row.
        """
        values = self._values(rec, outcome, status, reason, job_ids, keyed=True)

        def write() -> None:
            with self._engine.begin() as conn:
                conn.execute(_INSERT, values)
                if then is not None:
                    then()

        try:
            _once_more_if_stale(write)
        except IntegrityError:
            return self.prior(rec.forge, rec.delivery_id)
        return None

    def prior(self, forge: str, delivery_id: str) -> Prior | None:
        def read() -> Any:
            with self._engine.connect() as conn:
                return conn.execute(
                    select(Delivery.outcome, Delivery.job_ids, Delivery.reason).where(
                        Delivery.forge == forge, Delivery.delivery_key == delivery_id
                    )
                ).first()

        row = _once_more_if_stale(read)
        if row is None:
            return None
        return Prior(Outcome(row.outcome), tuple(row.job_ids or ()), row.reason)
