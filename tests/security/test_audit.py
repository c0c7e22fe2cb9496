"""The audit log records failed forge writes too: who triggered them, what, where, and that
they failed (the error's type only, never a body or a token)."""

from __future__ import annotations

from pathlib import Path

from tests.forge.conftest import REPO
from tests.llm.scripted_server import ScriptedServer
from tests.review.test_service import answer, finding, scores
from tests.security.scene import fresh_scene
from tests.testforge import Fault, TestForge
from tests.testforge.fixtures import AppKey


def test_a_refused_review_post_is_audited_as_failed(
    testforge: TestForge,
    scripted: ScriptedServer,
    e2e_web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    pg_url: str,
) -> None:
    scene = fresh_scene("github", testforge, scripted, e2e_web, app_key, corpora, pg_url)
    scene.llm.push(answer(finding()), scores(0.9))
    testforge.inject(Fault.server_error(500, times=100, api="github", method="POST",
                                        path=r"/reviews$"))  # fmt: skip
    (job,) = scene.opened()["jobs"]
    scene.work()
    status, _, error = scene.job(job)
    assert status == "failed"
    assert error
    rows = [(a.action, a.actor, a.job_id, a.outcome, a.number) for a in scene.audit()]
    assert ("post_review", "alice", job, "failed", scene.number) in rows
    assert testforge.reviews(REPO, scene.number) == []
    scene.engine.dispose()
