from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from bot.intake.verify import github_signature, verify_github, verify_gitlab

BODY = b'{"action": "opened"}'


def test_github_signature_is_hmac_sha256() -> None:
    expected = hmac.new(b"k" * 20, BODY, hashlib.sha256).hexdigest()
    assert github_signature(BODY, "k" * 20) == "sha256=" + expected


def test_github_accepts_any_rotated_secret() -> None:
    secrets = [SecretStr("old-secret-0123456789"), SecretStr("new-secret-0123456789")]
    assert verify_github(BODY, github_signature(BODY, "old-secret-0123456789"), secrets)
    assert verify_github(BODY, github_signature(BODY, "new-secret-0123456789"), secrets)
    assert not verify_github(BODY, github_signature(BODY, "other-secret-012345678"), secrets)


def test_github_fails_closed() -> None:
    signature = github_signature(BODY, "a-secret-0123456789")
    assert not verify_github(BODY, signature, [])
    assert not verify_github(BODY, None, [SecretStr("a-secret-0123456789")])
    assert not verify_github(
        BODY, signature.replace("sha256=", "sha1="), [SecretStr("a-secret-0123456789")]
    )
    assert not verify_github(BODY + b" ", signature, [SecretStr("a-secret-0123456789")])


def test_gitlab_token() -> None:
    tokens = [SecretStr("token-one-0123456789"), SecretStr("token-two-0123456789")]
    assert verify_gitlab("token-two-0123456789", tokens)
    assert not verify_gitlab("token-two-012345678", tokens)
    assert not verify_gitlab(None, tokens)
    assert not verify_gitlab("", [])
