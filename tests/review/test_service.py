"""Review a change on the test forge and post it: anchored comments, suggestions, a summary
edited in place, memory across updates, idempotent reposting, for GitHub and GitLab."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bot.db.engine import make_engine, upgrade
from bot.domain import ForgeKind, RepoRef
from bot.eval.feedback import rows_from_table, to_sft
from bot.forge.factory import build_forge
from bot.review.comments import marked_fingerprints
from bot.review.diff import parse_diff
from bot.review.memory import ChangeKey, FindingMemory, NoMemory, SqlMemory
from bot.review.render import SUMMARY_MARKER
from bot.review.service import ReviewOutcome, review_change
from bot.settings import Settings
from tests.forge.conftest import APP_ID, GITLAB_BOT, GITLAB_TOKEN, REPO, make_settings
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply, runaway_reply
from tests.support.vllm import REQUEST_TIMEOUT_S, VLLMServer
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

BASE = '''def total(items):
    """Sum the prices of items."""
    result = 0
    for item in items:
        result += item.price
    return result


def label(name):
    return name.title()
'''
HEAD = BASE.replace(
    "    for item in items:\n        result += item.price\n",
    "    for i in range(1, len(items)):\n        result += items[i].price\n",
)
OTHER_BASE = "def ping():\n    return 'pong'\n"


def finding(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "file": "shop.py",
        "quoted_code": "for i in range(1, len(items)):",
        "line": 4,
        "severity": "major",
        "category": "bug",
        "title": "Skips the first item",
        "explanation": "range(1, ...) starts at the second item.",
        "replacement": "    for i in range(len(items)):",
    }
    return {**base, **over}


def answer(*findings: dict[str, object]) -> Reply:
    return chat_reply(json.dumps({"findings": list(findings)}))


def scores(*confidences: float) -> Reply:
    return chat_reply(
        json.dumps({"scores": [{"index": i, "confidence": c} for i, c in enumerate(confidences)]})
    )


@pytest.fixture(scope="module")
def _engine(pg_url: str) -> Iterator[sa.Engine]:
    upgrade(pg_url)
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(_engine: sa.Engine) -> sa.Engine:
    """The migrated database with no memory of other tests' changes (same repo and number)."""
    with _engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM findings"))
        conn.execute(sa.text("DELETE FROM reviewed_files"))
    return _engine


@pytest.fixture(params=["github", "gitlab"])
def kind(request: pytest.FixtureRequest) -> ForgeKind:
    return request.param  # type: ignore[no-any-return]


class World:
    def __init__(
        self, kind: ForgeKind, forge_server: TestForge, app_key: AppKey, llm: ScriptedServer
    ) -> None:
        self.kind = kind
        self.server = forge_server
        self.llm = llm
        forge_server.create_repo(
            REPO,
            files={"shop.py": BASE, "util.py": OTHER_BASE, "README.md": "# shop\n"},
            members={"maintainer": "maintain"},
        )
        if kind == "github":
            forge_server.add_app(APP_ID, app_key.public_pem)
            forge_server.add_installation(APP_ID, [REPO])
        else:
            forge_server.add_user(GITLAB_BOT, token=GITLAB_TOKEN)
            forge_server.set_permission(REPO, GITLAB_BOT, "maintain")
        forge_server.commit(REPO, "feature", {"shop.py": HEAD}, "Iterate by index")
        self.number = forge_server.add_pull(
            REPO, head="feature", title="Faster totals", body="Please review", author="alice"
        )
        self.settings: Settings = make_settings(
            kind,
            forge_server,
            app_key,
            llm_base_urls=[llm.base_url],
            llm_model="scripted",
            llm_max_retries=0,
            llm_max_concurrency=1,
            llm_context_tokens=16000,
        )
        self.forge = build_forge(self.settings, kind, github_write_pause_s=None)
        self.repo = RepoRef(kind, REPO)

    def review(self, memory: FindingMemory, *, incremental: bool = True) -> ReviewOutcome:
        return asyncio.run(
            review_change(
                self.settings, self.forge, self.repo, self.number, memory=memory,
                incremental=incremental,
            )
        )  # fmt: skip

    def inline(self) -> list[dict[str, object]]:
        """Our inline comments, as the forge stores them (GitHub review comments or GitLab
        diff notes), with path, line and body."""
        if self.kind == "github":
            return [
                {"path": c["path"], "line": c["line"], "body": c["body"]}
                for c in self.server.comments(REPO, self.number, kind="review")
            ]
        out = []
        for d in self.server.discussions(REPO, self.number):
            for note in d["notes"]:
                pos = note.get("position")
                if pos:
                    out.append(
                        {"path": pos["new_path"], "line": pos["new_line"], "body": note["body"]}
                    )
        return out

    def summaries(self) -> list[str]:
        if self.kind == "github":
            bodies = [c["body"] for c in self.server.comments(REPO, self.number, kind="issue")]
        else:
            bodies = [
                n["body"]
                for d in self.server.discussions(REPO, self.number)
                for n in d["notes"]
                if not n.get("position")
            ]
        return [b for b in bodies if SUMMARY_MARKER in b]


@pytest.fixture
def world(
    kind: ForgeKind, testforge: TestForge, app_key: AppKey, scripted: ScriptedServer
) -> World:
    return World(kind, testforge, app_key, scripted)


def test_review_posts_anchored_comments_and_a_summary(world: World, engine: sa.Engine) -> None:
    world.llm.push(
        answer(finding(), finding(quoted_code="no_such_code()", title="hallucinated")),
        scores(0.9),
    )
    memory = SqlMemory(engine)
    outcome = world.review(memory)
    assert outcome.status == "posted"
    assert outcome.counts["major"] == 1
    (comment,) = world.inline()
    assert (comment["path"], comment["line"]) == ("shop.py", 4)
    body = str(comment["body"])
    assert "Skips the first item" in body
    # the replacement parses: offered as a one-click suggestion in the forge's own syntax
    tag = "```suggestion\n" if world.kind == "github" else "```suggestion:-0+0\n"
    assert tag + "    for i in range(len(items)):\n```" in body
    assert len(marked_fingerprints([body])) == 1
    (summary,) = world.summaries()
    assert "Skips the first item" in summary
    assert "hallucinated" in summary  # not placed, but not lost
    remembered = memory.recall(ChangeKey(world.kind, REPO, world.number))
    assert [r.status for r in remembered.values()] == ["posted"]
    assert next(iter(remembered.values())).comment_id is not None
    if world.kind == "github":
        (status,) = world.server.statuses(REPO)
        assert status["context"] == "forge-assist/review"


def test_second_run_reposts_nothing_and_edits_the_summary(world: World, engine: sa.Engine) -> None:
    memory = SqlMemory(engine)
    world.llm.push(answer(finding()), scores(0.9))
    world.review(memory)
    world.llm.push(answer(finding(line=5)), scores(0.9))  # found again, another line hint
    outcome = world.review(memory, incremental=False)
    assert outcome.posted == ()
    assert outcome.result is not None
    assert outcome.result.already_posted == 1
    assert len(world.inline()) == 1
    (summary,) = world.summaries()  # edited in place, not a second one
    assert "earlier" in summary


def test_the_forge_markers_stop_a_repost_when_the_database_forgot(world: World) -> None:
    """A worker killed after posting, before recording: the retry reads the markers."""
    world.llm.push(answer(finding()), scores(0.9))
    world.review(NoMemory())
    world.llm.push(answer(finding()), scores(0.9))
    outcome = world.review(NoMemory())
    assert outcome.posted == ()
    assert len(world.inline()) == 1


def test_an_update_reviews_only_changed_files_and_marks_gone_code_outdated(
    world: World, engine: sa.Engine
) -> None:
    memory = SqlMemory(engine)
    world.llm.push(answer(finding()), scores(0.9))
    world.review(memory)
    # New commit: the bug is fixed in shop.py, and util.py changes.
    world.server.commit(
        REPO,
        "feature",
        {"shop.py": HEAD.replace("range(1, len(items))", "range(len(items))"),
         "util.py": OTHER_BASE + "\n\ndef pong():\n    return ping()\n"},
        "Fix and more",
    )  # fmt: skip
    world.llm.push(answer(), answer())
    outcome = world.review(memory)
    assert [r.title for r in outcome.outdated] == ["Skips the first item"]
    remembered = memory.recall(ChangeKey(world.kind, REPO, world.number))
    assert [r.status for r in remembered.values()] == ["outdated"]
    # A third run with no new commit reviews nothing again.
    before = len(world.llm.chat_requests())
    outcome = world.review(memory)
    assert outcome.result is not None
    assert outcome.result.files_reviewed == 0
    assert sorted(outcome.unchanged) == ["shop.py", "util.py"]
    assert len(world.llm.chat_requests()) == before
    assert "unchanged since the last review" in world.summaries()[0]


def test_a_suggestion_that_breaks_the_syntax_is_shown_as_a_diff(world: World) -> None:
    world.llm.push(answer(finding(replacement="    for i in range(len(items):")), scores(0.9))
    world.review(NoMemory())
    (comment,) = world.inline()
    body = str(comment["body"])
    assert "```suggestion" not in body
    assert "```diff\n-    for i in range(1, len(items)):\n+    for i in range(len(items):" in body


def test_a_broken_config_is_reported_and_defaults_are_used(world: World) -> None:
    world.server.commit(REPO, "main", {".assist.toml": "[review\nnope"}, "bad config")
    world.llm.push(answer(finding()), scores(0.9))
    outcome = world.review(NoMemory())
    assert outcome.status == "posted"
    assert "not valid TOML" in outcome.config_error
    assert ".assist.toml was not used" in world.summaries()[0]


def test_config_on_the_default_branch_can_turn_review_off(world: World) -> None:
    world.server.commit(REPO, "main", {".assist.toml": "[review]\nenabled = false\n"}, "off")
    outcome = world.review(NoMemory())
    assert (outcome.status, outcome.reason) == ("skipped", "review is disabled in .assist.toml")
    assert world.inline() == []
    assert world.summaries() == []


def test_a_model_that_fails_every_file_gives_a_failed_summary_and_status(world: World) -> None:
    world.llm.fallback = runaway_reply()  # every answer runs until max_tokens cuts it
    outcome = world.review(NoMemory())
    assert outcome.status == "posted"
    assert outcome.result is not None
    assert outcome.result.review_failed
    assert outcome.posted == ()
    (summary,) = world.summaries()
    assert "**The review failed.** Reviewed 0 of 1 file(s): the model's answer was cut off." in (
        summary
    )
    assert "`shop.py`: the model's answer was cut at 768 tokens, then at 384 tokens" in summary
    assert "No problems found" not in summary
    (status,) = world.server.statuses(REPO)
    # GitLab has no "error": the forge adapter sends "failed"
    assert status["state"] == ("error" if world.kind == "github" else "failure")
    assert status["description"].startswith("review failed: Reviewed 0 of 1 file(s)")
    assert "no findings" not in status["description"]
    detail = outcome.detail()
    assert detail["review_failed"] is True
    assert detail["failed_files"] == [list(outcome.result.failed[0])]


def test_a_clean_complete_review_says_no_problems_and_succeeds(world: World) -> None:
    world.llm.push(answer())
    outcome = world.review(NoMemory())
    assert outcome.result is not None
    assert outcome.result.complete
    (summary,) = world.summaries()
    assert "No problems found." in summary
    (status,) = world.server.statuses(REPO)
    assert (status["state"], status["description"]) == ("success", "no findings")


@pytest.mark.vllm
def test_real_model_review_posts_only_valid_anchored_comments(
    testforge: TestForge, app_key: AppKey, scripted: ScriptedServer, vllm_server: VLLMServer
) -> None:
    """SmolLM2 on the CPU vLLM through the whole service: whatever it finds, every posted
    comment is on a commentable line of the diff and carries its marker, and the summary is
    there. (Quality is not judged at this model size.)"""
    world = World("github", testforge, app_key, scripted)
    world.settings = world.settings.model_copy(
        update={
            "llm_base_urls": [vllm_server.base_url],
            "llm_model": vllm_server.model,
            "llm_context_tokens": 2048,
            "llm_seed": 1,
            "llm_timeout_s": REQUEST_TIMEOUT_S,
        }
    )
    outcome = world.review(NoMemory())
    assert outcome.status == "posted"
    assert outcome.result is not None
    assert outcome.result.usage.requests >= 1
    # The answers parsed (a sized schema closes in time): the file was reviewed, not dropped;
    # every finding is placed or listed as unplaced.
    assert outcome.result.failed == ()
    assert outcome.result.files_reviewed == 1
    assert not outcome.result.review_failed
    diff = world.forge.get_diff(world.repo, world.number)
    (shop,) = [f for f in parse_diff(diff.unified) if f.path == "shop.py"]
    comments = world.inline()
    assert len(comments) == len(outcome.posted)
    for comment in comments:
        assert comment["path"] == "shop.py"
        assert comment["line"] in shop.commentable_lines
        assert len(marked_fingerprints([str(comment["body"])])) == 1
    assert len(world.summaries()) == 1


def test_stored_findings_keep_their_exact_prompt_for_the_export(
    world: World, engine: sa.Engine
) -> None:
    world.llm.push(answer(finding()), scores(0.9))
    memory = SqlMemory(engine)
    assert world.review(memory).status == "posted"
    asked = world.llm.chat_requests()[0]["messages"]  # the review request, schema included
    (remembered,) = memory.recall(ChangeKey(world.kind, REPO, world.number)).values()
    assert remembered.prompt is not None
    assert json.loads(remembered.prompt) == asked
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE findings SET outcome = 'accepted'"))
    rows = rows_from_table(engine.url.render_as_string(hide_password=False), "findings")
    (row,) = rows
    assert [{"role": role, "content": content} for role, content in row.prompt] == asked
    (example,) = to_sft(rows)
    messages = example["messages"]
    assert isinstance(messages, list)
    assert messages[:-1] == asked
    assert json.loads(messages[-1]["content"])["findings"][0]["title"] == "Skips the first item"
