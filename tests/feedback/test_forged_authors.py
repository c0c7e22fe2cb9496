"""A GitLab webhook token proves the sender knows it, not who wrote a note or gave an award:
feedback on our findings is recorded with the author the GitLab API shows, and a payload that
names someone else (a maintainer, whose vote counts) records nothing in their name.

Webhook → `assist serve` → Redis → `assist worker` → test forge (GitLab), scripted model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.feedback.test_feedback_e2e import HEAD, inline
from tests.forge.conftest import REPO
from tests.llm.scripted_server import ScriptedServer
from tests.review.test_job_e2e import Scene, e2e_db, web  # noqa: F401 (fixtures)
from tests.review.test_service import answer, finding, scores
from tests.support.payloads import gitlab_emoji, gitlab_note
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

FINDINGS = {
    "thumbs-up": finding(
        quoted_code="value = amount*rate", line=15, severity="minor", category="style",
        title="Spaces around *", replacement=None,
    ),
    "reply": finding(
        quoted_code="result += items[i].price", line=5, severity="minor",
        category="maintainability", title="Index access", replacement=None,
    ),
}  # fmt: skip


@pytest.fixture
def lab(
    testforge: TestForge,
    scripted: ScriptedServer,
    web: tuple[str, dict[str, str]],  # noqa: F811
    app_key: AppKey,
    corpora: Path,
    e2e_db: str,  # noqa: F811
) -> Iterator[Scene]:
    s = Scene("gitlab", testforge, scripted, web, app_key, corpora, e2e_db)
    with s.engine.begin() as conn:
        for table in ("findings", "reviewed_files", "audit_log", "finding_feedback"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    s.forge.set_permission(REPO, "mallory", "read")
    yield s
    s.engine.dispose()


def _feedback(s: Scene) -> list[tuple[Any, ...]]:
    with s.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, actor, value, can_write FROM finding_feedback "
                "WHERE forge = 'gitlab' AND repo = :r ORDER BY id"
            ),
            {"r": REPO},
        )
        return [tuple(r) for r in rows]


def _emoji(s: Scene, note: dict[str, Any], name: str, author: str) -> str:
    payload = gitlab_emoji(
        s.corpora, repo=REPO, project_id=s.repo_id, iid=s.number, note_id=note["id"],
        name=name, author=author, discussion_id=note["thread"],
    )  # fmt: skip
    (job,) = s.deliver(payload, "Emoji Hook")["jobs"]
    return str(job)


def _note(s: Scene, note: dict[str, Any], note_id: int, body: str, author: str) -> str:
    payload = gitlab_note(
        s.corpora, repo=REPO, project_id=s.repo_id, iid=s.number, note_id=note_id, body=body,
        author=author, discussion_id=note["thread"], note_type="DiffNote",
    )  # fmt: skip
    (job,) = s.deliver(payload, "Note Hook")["jobs"]
    return str(job)


@pytest.mark.timeout(900)
def test_forged_gitlab_feedback_authors_are_not_recorded(lab: Scene) -> None:
    s = lab
    s.head = s.forge.commit(REPO, "feature", {"shop.py": HEAD}, "Add tax")
    s.llm.push(answer(*FINDINGS.values()), scores(*[0.9] * len(FINDINGS)))
    s.opened()
    s.work()
    ours = inline(s)
    assert {"thumbs-up", "reply"} <= set(ours), list(ours)
    # 1. an award nobody gave, "by" a maintainer: the API lists no such award
    forged_award = _emoji(s, ours["thumbs-up"], "thumbsdown", "maint")
    # 2. mallory's real award, passed off as the maintainer's
    s.forge.react(REPO, ours["thumbs-up"]["id"], "mallory", "+1")
    borrowed_award = _emoji(s, ours["thumbs-up"], "thumbsup", "maint")
    # 3. mallory's real reply, "by" the maintainer and "saying" something else: recorded as
    #    the API shows it (mallory's words, mallory's vote)
    said = "Not a problem, indexing is on purpose."
    reply_id = s.forge.reply(REPO, ours["reply"]["id"], said, author="mallory")
    borrowed_reply = _note(s, ours["reply"], reply_id, "This is wrong, drop it.", "maint")
    # 4. a reply that does not exist at all
    ghost_reply = _note(s, ours["reply"], reply_id + 10_000, "Wrong finding.", "maint")
    s.work()
    assert s.job(forged_award)[1]["status"] == "unverified"
    assert s.job(borrowed_award)[1]["status"] == "unverified"
    assert s.job(ghost_reply)[1]["status"] == "unverified"
    assert s.job(borrowed_reply)[1]["status"] == "recorded"
    rows = _feedback(s)
    assert not any(actor == "maint" for _kind, actor, _value, _w in rows), rows
    assert ("reply", "mallory", said, False) in rows
