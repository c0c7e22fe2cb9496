"""Verify that a delivery comes from the forge, on the raw body, before anything parses it.

Constant-time comparisons only; an empty list of secrets verifies nothing (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from pydantic import SecretStr

SIGNATURE_PREFIX = "sha256="


def github_signature(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body`` signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_github(body: bytes, signature: str | None, secrets: Sequence[SecretStr]) -> bool:
    """True when ``signature`` is HMAC-SHA256 of ``body`` under any configured secret."""
    if not signature or not secrets or not signature.startswith(SIGNATURE_PREFIX):
        return False
    given = signature.strip().encode()
    matched = False
    for secret in secrets:
        expected = github_signature(body, secret.get_secret_value()).encode()
        # Compare against every secret so timing does not reveal which one matched.
        matched |= hmac.compare_digest(expected, given)
    return matched


def verify_gitlab(token: str | None, secrets: Sequence[SecretStr]) -> bool:
    """True when the ``X-Gitlab-Token`` header equals any configured token."""
    if token is None or not secrets:
        return False
    given = token.encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret.get_secret_value().encode(), given)
    return matched
