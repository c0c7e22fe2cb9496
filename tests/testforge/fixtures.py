"""pytest fixtures for any test folder: ``from tests.testforge.fixtures import testforge,
app_key`` in a conftest (the ``corpora`` fixture comes from ``tests/conftest.py``).

``testforge`` fails the test if any request broke GitHub's REST description.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.testforge.server import TestForge


@dataclass(frozen=True)
class AppKey:
    """An RSA key pair for a GitHub App: the private PEM for the bot, the public for the forge."""

    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> AppKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private, public.decode())


@pytest.fixture(scope="session")
def app_key() -> AppKey:
    return AppKey.generate()


@pytest.fixture
def testforge(corpora: Path) -> Iterator[TestForge]:
    with TestForge(corpora=corpora) as forge:
        yield forge
        assert forge.violations() == [], "requests outside GitHub's REST description"
