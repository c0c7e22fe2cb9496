"""Migrations run on PostgreSQL and SQLite, both ways, and match the models."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db.engine import downgrade, upgrade
from bot.db.models import Base


@pytest.fixture
def pg_fresh(pg_url: str) -> str:
    """A schema of its own inside the session database, so migrations start from nothing."""
    schema = f"m_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{pg_url}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'assist.db'}"
    return str(request.getfixturevalue("pg_fresh"))


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(url: str) -> None:
    upgrade(url)
    assert {"deliveries", "job_runs", "alembic_version"} <= _tables(url)
    downgrade(url, "base")
    assert _tables(url) == {"alembic_version"}
    upgrade(url)
    assert {"deliveries", "job_runs"} <= _tables(url)


def test_models_match_migrations(url: str) -> None:
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
