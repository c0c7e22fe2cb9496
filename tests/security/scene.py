"""The e2e Scene of tests/review/test_job_e2e.py, on a clean review memory: the session's
database is shared by the tests, and each Scene reuses the same repository and number."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from tests.llm.scripted_server import ScriptedServer
from tests.review.test_job_e2e import Scene
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey


def fresh_scene(
    kind: str,
    forge: TestForge,
    llm: ScriptedServer,
    web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    db: str,
) -> Scene:
    scene = Scene(kind, forge, llm, web, app_key, corpora, db)
    with scene.engine.begin() as conn:
        for table in ("findings", "reviewed_files", "audit_log"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    return scene
