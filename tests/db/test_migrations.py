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


def _finding_columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns("findings")}
    finally:
        engine.dispose()


def test_0005_adds_and_drops_the_finding_prompt_keeping_rows(url: str) -> None:
    upgrade(url, "0004")
    assert "prompt" not in _finding_columns(url)
    engine = sa.create_engine(url)
    row = {"f": "fp1", "p": "a.py", "l": 3, "s": "major", "c": "bug", "h": "abc", "st": "posted"}
    insert = (
        "INSERT INTO findings (forge, repo, number, fingerprint, path, line, severity, "
        "category, title, quoted_code, head_sha, status) VALUES ('github', 'o/r', 1, :f, :p, "
        ":l, :s, :c, 't', 'q', :h, :st)"
    )
    with engine.begin() as conn:
        conn.execute(sa.text(insert), row)
    upgrade(url, "0005")
    assert "prompt" in _finding_columns(url)
    prompt = '[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]'
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE findings SET prompt = :p"), {"p": prompt})
        assert conn.execute(sa.text("SELECT prompt FROM findings")).scalar_one() == prompt
    downgrade(url, "0004")
    assert "prompt" not in _finding_columns(url)
    with engine.begin() as conn:  # the rows stay
        assert conn.execute(sa.text("SELECT fingerprint FROM findings")).scalar_one() == "fp1"
    engine.dispose()
