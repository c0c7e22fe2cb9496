# ruff: noqa: F811  (the scene fixtures are imported from test_job_e2e)
"""End to end, both forges: what a job shows on the forge while it lives (bot/jobs/lifecycle).

A review sets ``pending`` when it is queued (tests/review/test_announce.py) and when it starts,
and the result when it ends; a skipped draft says why;
a job that fails for good leaves an ``error`` state and ONE note (edited in place) that names
the cause in words that leak nothing and says an operator can retry.
"""

from __future__ import annotations

from typing import Any

from tests.forge.conftest import GITLAB_TOKEN, REPO
from tests.review.test_job_e2e import Scene, e2e_db, scene, web  # noqa: F401  (fixtures)
from tests.review.test_service import answer, finding, scores

ERROR_STATES = {"error", "failure", "failed", "action_required"}


def review_states(scene: Scene) -> list[dict[str, Any]]:
    return [
        s for s in scene.forge.statuses(REPO, scene.head) if s["context"] == "forge-assist/review"
    ]


def failure_notes(scene: Scene, kind: str) -> list[str]:
    return [b for b in scene.bodies() if f"forge-assist:job-failed:{kind}" in b]


def test_a_review_is_pending_while_it_runs_then_shows_its_result(scene: Scene) -> None:
    scene.llm.push(answer(finding()), scores(0.9))
    (job_id,) = scene.opened()["jobs"]
    scene.work()
    assert scene.job(job_id)[0] == "done"
    states = review_states(scene)
    # queued (the announce job on the status queue, taken first), reviewing, the result
    assert [s["state"] for s in states] == ["pending", "pending", "success"]
    assert "queued" in (states[0]["description"] or "")
    assert "reviewing" in (states[1]["description"] or "")
    assert "finding" in (states[-1]["description"] or "")
    assert failure_notes(scene, "review") == []


def test_a_skipped_draft_says_why(scene: Scene) -> None:
    scene.number = scene.forge.add_pull(REPO, head="feature", title="WIP", draft=True)
    (job_id,) = scene.opened()["jobs"]
    scene.work()
    status, detail, _ = scene.job(job_id)
    assert (status, detail["status"], detail["reason"]) == ("done", "skipped", "draft")
    assert scene.llm.chat_requests() == []
    last = review_states(scene)[-1]
    assert last["state"] == "success"
    assert last["description"] == "not reviewed: draft"


def test_a_permanent_failure_leaves_an_error_state_and_one_note(scene: Scene) -> None:
    scene.llm.served = ["another-model"]  # the server answers, with the wrong model
    secrets = [scene.llm.base_url, str(scene.llm.port), GITLAB_TOKEN, "Traceback"]
    for _ in range(2):  # the same failure twice: one note, edited in place
        (job_id,) = scene.command("/assist review", author="maint")["jobs"]
        scene.work()
        status, _, error = scene.job(job_id)
        assert status == "failed"
        assert "another-model" in error  # the operator's record has the detail
    states = review_states(scene)
    assert states[-1]["state"] in ERROR_STATES
    assert "serves another model" in (states[-1]["description"] or "")
    (note,) = failure_notes(scene, "review")
    assert "could not finish the review" in note
    assert f"assist jobs retry {job_id}" in note
    for secret in secrets:
        assert secret not in note
        assert all(secret not in (s["description"] or "") for s in states)
    assert scene.llm.chat_requests() == []  # failed before any model call


def test_ask_with_the_model_down_replies_with_the_failure(scene: Scene) -> None:
    scene.llm.served = []
    (job_id,) = scene.command("/assist ask why?", author="alice")["jobs"]
    scene.work()
    assert scene.job(job_id)[0] == "failed"
    (note,) = failure_notes(scene, "ask")
    assert "the model server serves another model" in note
    assert scene.llm.base_url not in note
