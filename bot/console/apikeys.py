"""API keys of the console's JSON API: created once (shown once), stored as SHA-256,
revocable, each with a role."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import ConsoleApiKey

ROLES = ("viewer", "operator")
KEY_PREFIX = "fa_"


class ApiKeyError(ValueError):
    """A key cannot be created or revoked; the message says why."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    name: str
    role: str
    prefix: str
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ConsoleApiKey) -> KeyInfo:
    return KeyInfo(
        row.id, row.name, row.role, row.prefix, row.created_at, row.revoked_at, row.last_used_at
    )


def create_key(engine: Engine, name: str, role: str) -> tuple[str, KeyInfo]:
    """A new key: the key itself (shown once, never stored) and its record."""
    if role not in ROLES:
        raise ApiKeyError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 128:
        raise ApiKeyError("a key needs a name of 1 to 128 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ConsoleApiKey(name=name.strip(), role=role, key_sha256=_digest(key), prefix=key[:10])
    try:
        with Session(engine) as session, session.begin():
            session.add(row)
            session.flush()
            info = _info(row)
    except IntegrityError as exc:
        raise ApiKeyError(f"a key named {name!r} exists already") from exc
    return key, info


def revoke_key(engine: Engine, name: str) -> KeyInfo:
    with Session(engine) as session, session.begin():
        row = session.scalar(select(ConsoleApiKey).where(ConsoleApiKey.name == name))
        if row is None:
            raise ApiKeyError(f"no key named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = dt.datetime.now(dt.UTC)
        return _info(row)


def list_keys(engine: Engine) -> list[KeyInfo]:
    with Session(engine) as session:
        return [_info(r) for r in session.scalars(select(ConsoleApiKey).order_by(ConsoleApiKey.id))]


def authenticate(engine: Engine, key: str) -> KeyInfo | None:
    """The live key's record, or None (unknown, malformed or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _digest(key)
    with Session(engine) as session, session.begin():
        row = session.scalar(select(ConsoleApiKey).where(ConsoleApiKey.key_sha256 == digest))
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_sha256, digest):  # pragma: no cover - the index matched
            return None
        row.last_used_at = dt.datetime.now(dt.UTC)
        return _info(row)
