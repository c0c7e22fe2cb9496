"""End to end on the test forge, GitHub (App) and GitLab: feedback on posted findings reaches
the findings table with the right outcome, the repository's history raises a category's
threshold, `/assist remember` / `/assist forget` change the next prompt, and a reply that
addresses the bot is answered once in its thread.

Webhook → `assist serve` → Redis → `assist worker` → test forge, with the scripted model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.feedback.outcome import Kind
from bot.feedback.store import Observed, SqlFeedback
from bot.review.guidance import rule_ref
from bot.review.memory import ChangeKey, Remembered, SqlMemory
from tests.forge.conftest import GITLAB_BOT, REPO
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.review.test_job_e2e import Scene, e2e_db, scene, web, web_env  # noqa: F401 (fixtures)
from tests.review.test_service import BASE, answer, finding, scores
from tests.security.scene import fresh_scene
from tests.support.payloads import (
    github_pull,
    github_review_reply,
    github_review_thread,
    gitlab_emoji,
    gitlab_merge_request,
    gitlab_note,
)
from tests.support.processes import serve
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

TAX = "\n\ndef tax(amount):\n    rate = 0.2\n    value = amount*rate\n    return value\n"
LOOP = "    for i in range(1, len(items)):\n        result += items[i].price\n"
HEAD = BASE.replace("    for item in items:\n        result += item.price\n", LOOP) + TAX

FINDINGS = {
    "applied": finding(title="Skips the first item"),  # a suggestion, applied by a push
    "thumbs-up": finding(
        quoted_code="value = amount*rate", line=15, severity="minor", category="style",
        title="Spaces around *", replacement=None,
    ),
    "thumbs-down": finding(
        quoted_code="rate = 0.2", line=14, severity="minor", category="maintainability",
        title="Magic number", replacement=None,
    ),
    "reply": finding(
        quoted_code="result += items[i].price", line=5, severity="minor",
        category="maintainability", title="Index access", replacement=None,
    ),
    "resolved": finding(
        quoted_code="return value", line=16, severity="minor", category="style",
        title="Return directly", replacement=None,
    ),
    "nothing": finding(
        quoted_code="def tax(amount):", line=13, severity="minor", category="testing",
        title="No test for tax", replacement=None,
    ),
}  # fmt: skip


def clean(s: Scene) -> Scene:
    with s.engine.begin() as conn:
        for table in ("finding_feedback", "repo_rules"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    s.forge.set_permission(REPO, "mallory", "read")
    return s


@pytest.fixture
def fb(scene: Scene) -> Scene:  # noqa: F811
    return clean(scene)


@pytest.fixture(params=["github", "gitlab"])
def unnamed(
    request: pytest.FixtureRequest,
    testforge: TestForge,
    scripted: ScriptedServer,
    app_key: AppKey,
    corpora: Path,
    e2e_db: str,  # noqa: F811
    redis_url: str,
) -> Iterator[Scene]:
    """A scene whose web process and worker are told no name of ours (the default): the
    worker learns the bot's identity from the forge's API."""
    env = {**web_env(e2e_db, redis_url), "ASSIST_BOT_LOGINS": ""}
    with serve(env) as base:
        s = fresh_scene(request.param, testforge, scripted, (base, env), app_key, corpora, e2e_db)
        yield clean(s)
        s.engine.dispose()
        shutil.rmtree(s.cache, ignore_errors=True)


def outcomes(s: Scene) -> dict[str, str | None]:
    with s.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT title, outcome FROM findings WHERE forge = :f AND repo = :r"),
            {"f": s.kind, "r": REPO},
        )
        return {row[0]: row[1] for row in rows}


def inline(s: Scene) -> dict[str, dict[str, Any]]:
    """Our inline comments by finding title."""
    found: dict[str, dict[str, Any]] = {}
    for note in s.forge.comments(REPO, s.number):
        if note["kind"] == "review" and "forge-assist:finding:" in note["body"]:
            for name, f in FINDINGS.items():
                if f"**{f['title']}**" in note["body"] or str(f["title"]) in note["body"]:
                    found.setdefault(name, note)
    return found


def push(s: Scene, files: dict[str, str]) -> Any:
    previous = s.head
    s.head = s.forge.commit(REPO, "feature", files, "Update")
    if s.kind == "github":
        payload = github_pull(
            s.corpora, repo=REPO, repo_id=s.repo_id, number=s.number, head_sha=s.head,
            base_sha=s.base_sha, action="synchronize", installation=s.installation,
            before=previous,
        )  # fmt: skip
        return s.deliver(payload, "pull_request")
    payload = gitlab_merge_request(
        s.corpora, repo=REPO, project_id=s.repo_id, iid=s.number, head_sha=s.head,
        action="update", oldrev=previous,
    )  # fmt: skip
    return s.deliver(payload, "Merge Request Hook")


def reply(s: Scene, to: dict[str, Any], body: str, author: str, delivery: str | None = None) -> Any:
    reply_id = s.forge.reply(REPO, to["id"], body, author=author)
    if s.kind == "github":
        payload = github_review_reply(
            s.corpora, repo=REPO, repo_id=s.repo_id, number=s.number, comment_id=reply_id,
            in_reply_to=to["id"], body=body, author=author, installation=s.installation,
        )  # fmt: skip
        return s.deliver(payload, "pull_request_review_comment", delivery), payload
    payload = gitlab_note(
        s.corpora, repo=REPO, project_id=s.repo_id, iid=s.number, note_id=reply_id, body=body,
        author=author, discussion_id=to["thread"], note_type="DiffNote",
    )  # fmt: skip
    return s.deliver(payload, "Note Hook", delivery), payload


@pytest.mark.timeout(900)  # three worker runs; a loaded machine starts each slowly
def test_every_kind_of_feedback_reaches_the_findings_table(fb: Scene) -> None:
    s = fb
    s.head = s.forge.commit(REPO, "feature", {"shop.py": HEAD}, "Add tax")
    s.llm.push(answer(*FINDINGS.values()), scores(*[0.9] * len(FINDINGS)))
    s.opened()
    s.work()
    ours = inline(s)
    assert set(ours) == set(FINDINGS), [n["body"][:60] for n in ours.values()]
    # 👍 from someone without write access (counts for stats), 👎 from a maintainer
    s.forge.react(REPO, ours["thumbs-up"]["id"], "mallory", "+1")
    s.forge.react(REPO, ours["thumbs-down"]["id"], "maint", "-1")
    # our own bot's reaction is never feedback
    bot = "forge-assist[bot]" if s.kind == "github" else GITLAB_BOT
    s.forge.react(REPO, ours["nothing"]["id"], bot, "+1")
    if s.kind == "gitlab":  # GitLab sends Emoji Hooks; GitHub sends nothing (the harvest reads)
        for name, who, emoji in (("thumbs-up", "mallory", "thumbsup"),
                                 ("thumbs-down", "maint", "thumbsdown")):  # fmt: skip
            s.deliver(
                gitlab_emoji(
                    s.corpora,
                    repo=REPO,
                    project_id=s.repo_id,
                    iid=s.number,
                    note_id=ours[name]["id"],
                    name=emoji,
                    author=who,
                    discussion_id=ours[name]["thread"],
                ),
                "Emoji Hook",
            )
    reply(s, ours["reply"], "This is wrong: indexing is on purpose here, items is a list.", "maint")
    s.forge.resolve(REPO, ours["resolved"]["id"])
    # A push applies the suggestion: the next review sees it in the diff (and harvests).
    s.llm.push(answer())
    push(s, {"shop.py": HEAD.replace("range(1, len(items))", "range(len(items))")})
    if s.kind == "github":  # GitLab sends no webhook for a resolved discussion: harvested
        s.deliver(
            github_review_thread(
                s.corpora,
                repo=REPO,
                repo_id=s.repo_id,
                number=s.number,
                first_comment=ours["resolved"]["id"],
                action="resolved",
                author="maint",
                installation=s.installation,
            ),
            "pull_request_review_thread",
        )
    s.work()  # the feedback jobs, then the review of the push (FIFO)
    seen = outcomes(s)
    assert seen == {
        "Skips the first item": "accepted",  # applied
        "Spaces around *": "accepted",
        "Magic number": "rejected",
        "Index access": "rejected",
        "Return directly": "accepted",
        "No test for tax": None,
    }
    # The merge: a harvest marks what nobody acted on as ignored.
    s.forge.close(REPO, s.number, merged=True)
    if s.kind == "github":
        payload = github_pull(
            s.corpora, repo=REPO, repo_id=s.repo_id, number=s.number, head_sha=s.head,
            base_sha=s.base_sha, action="closed", installation=s.installation,
        )  # fmt: skip
        payload["pull_request"]["merged"] = True
        s.deliver(payload, "pull_request")
    else:
        s.deliver(
            gitlab_merge_request(
                s.corpora,
                repo=REPO,
                project_id=s.repo_id,
                iid=s.number,
                head_sha=s.head,
                action="merge",
            ),
            "Merge Request Hook",
        )
    s.work()
    assert outcomes(s)["No test for tax"] == "ignored"
    with s.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, actor, can_write FROM finding_feedback "
                "WHERE forge = :f AND repo = :r ORDER BY id"
            ),
            {"f": s.kind, "r": REPO},
        ).all()
    assert ("reaction", "mallory", False) in [tuple(r) for r in rows]
    assert not any(r.actor == bot for r in rows)
    assert {r.kind for r in rows} >= {"reaction", "reply", "thread", "applied", "closed"}
    stats = SqlFeedback(s.engine).stats(forge=s.kind, repo=REPO)
    assert sum(r.accepted for r in stats) == 3
    assert sum(r.rejected for r in stats) == 2


def seed_rejected(s: Scene, category: str, count: int) -> None:
    """``count`` earlier findings of ``category`` in this repository, each given a 👎."""
    memory, store = SqlMemory(s.engine), SqlFeedback(s.engine)
    for i in range(count):
        change = ChangeKey(s.kind, REPO, 10_000 + i)
        fp = f"{i:064x}"
        memory.remember(
            change,
            [
                Remembered(
                    fp, "a.py", 1, None, "minor", category, "old", "x = 1", "0" * 40, None, "posted"
                )
            ],
        )
        store.record(change, [Observed(fp, Kind.REACTION, "r", "-1", "maint")], source="test")


def test_a_category_the_repository_rejects_needs_more_confidence(fb: Scene) -> None:
    s = fb
    with s.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM findings"))
    seed_rejected(s, "style", 10)
    style = finding(
        quoted_code="result += items[i].price", line=5, severity="minor", category="style",
        title="Prefer sum()", replacement=None,
    )  # fmt: skip
    s.llm.push(answer(style), scores(0.7))
    (job,) = s.opened()["jobs"]
    s.work()
    status, detail, error = s.job(job)
    assert (status, error, detail["posted"], detail["dropped_learned"]) == ("done", "", 0, 1)
    bodies = s.bodies()
    assert not any("Prefer sum()" in b and "forge-assist:finding:" in b for b in bodies)
    (summary,) = [b for b in bodies if "forge-assist:summary" in b]
    assert "style findings need 0.95 here: 0 of 10 accepted" in summary
    assert "Not posted: style finding \u201cPrefer sum()\u201d (confidence 0.70 < 0.95" in summary


@pytest.mark.timeout(900)  # five worker runs
def test_remember_changes_the_next_prompt_and_forget_undoes_it(fb: Scene) -> None:
    s = fb
    rule = "We use assert in tests on purpose."
    s.command(f"/assist remember {rule}", author="mallory")  # no write access: refused
    s.command(f"/assist remember {rule}", author="maint")
    s.work()
    assert any("only people with write access" in b for b in s.bodies())
    (stored,) = SqlFeedback(s.engine).rules(s.kind, REPO)  # mallory's was not stored
    assert stored.author == "maint"
    ref = rule_ref(stored.id)  # "#3" that links to no issue
    assert any(f"Remembered as rule **{ref}**" in b for b in s.bodies())
    s.llm.push(answer(), scores())
    s.opened()
    s.work()
    system = s.llm.chat_requests()[0]["messages"][0]["content"]
    assert rule in system
    (summary,) = [b for b in s.bodies() if "forge-assist:summary" in b]
    assert f"{ref} {rule}" in summary
    s.command("/assist rules", author="alice")
    s.command(f"/assist forget {stored.id}", author="maint")
    s.work()
    assert any(f"**{ref}** {rule}" in b for b in s.bodies())
    assert any(f"Rule {ref} removed." in b for b in s.bodies())
    assert SqlFeedback(s.engine).rules(s.kind, REPO) == []
    s.llm.reset()
    s.llm.push(answer(), scores())
    s.command("/assist review", author="maint")
    s.work()
    requests = s.llm.chat_requests()
    assert requests
    assert all(rule not in r["messages"][0]["content"] for r in requests)


@pytest.mark.timeout(600)
def test_a_reply_addressing_the_bot_is_answered_once_in_its_thread(fb: Scene) -> None:
    answered_once(fb)


@pytest.mark.timeout(600)
def test_a_mention_is_answered_with_no_name_configured(unnamed: Scene) -> None:
    """``ASSIST_BOT_LOGINS`` is empty (the default): the web process cannot tell a mention,
    the worker can (the App's slug from ``GET /app``, the token's user from ``GET /user``)."""
    answered_once(unnamed)


def answered_once(s: Scene) -> None:
    s.llm.push(answer(finding()), scores(0.9))
    s.opened()
    s.work()
    (ours,) = [
        n for n in s.forge.comments(REPO, s.number)
        if n["kind"] == "review" and "forge-assist:finding:" in n["body"]
    ]  # fmt: skip
    s.llm.reset()
    s.llm.push(chat_reply("Because `range(1, ...)` never visits `items[0]`."))
    mention = "@forge-assist why would the first item matter?"
    accepted, payload = reply(s, ours, mention, "alice")
    s.work()
    (job,) = accepted["jobs"]
    status, detail, error = s.job(job)
    assert (status, error, detail.get("status"), detail.get("answer")) == (
        "done", "", "recorded", "posted",
    ), (detail, error)  # fmt: skip
    answers = [
        n for n in s.forge.comments(REPO, s.number)
        if "never visits" in n["body"] and n["thread"] == ours["thread"]
    ]  # fmt: skip
    assert len(answers) == 1
    assert "forge-assist:thread-answer" in answers[0]["body"]
    (request,) = s.llm.chat_requests()
    user = request["messages"][-1]["content"]
    assert "BEGIN_UNTRUSTED_DATA" in user
    assert "why would the first item matter?" in user
    assert "Skips the first item" in user
    assert "for i in range(1, len(items)):" in user
    # The same reply delivered again (a new delivery id): nothing more.
    s.deliver(payload, "pull_request_review_comment" if s.kind == "github" else "Note Hook")
    s.work()
    again = [n for n in s.forge.comments(REPO, s.number) if "never visits" in n["body"]]
    assert len(again) == 1
    assert len(s.llm.chat_requests()) == 1
    assert accepted["jobs"]
