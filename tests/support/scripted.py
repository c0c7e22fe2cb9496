"""Scripted OpenAI-compatible HTTP servers for fast, exact model tests (a pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.llm.scripted_server import ScriptedServer


@pytest.fixture(scope="session")
def _scripted_pair() -> Iterator[tuple[ScriptedServer, ScriptedServer]]:
    first, second = ScriptedServer(), ScriptedServer()
    first.start()
    second.start()
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def scripted(_scripted_pair: tuple[ScriptedServer, ScriptedServer]) -> ScriptedServer:
    """A scripted OpenAI-compatible server, its script and records empty."""
    server = _scripted_pair[0]
    server.reset()
    return server


@pytest.fixture
def scripted_b(_scripted_pair: tuple[ScriptedServer, ScriptedServer]) -> ScriptedServer:
    """A second scripted server (another replica)."""
    server = _scripted_pair[1]
    server.reset()
    return server
