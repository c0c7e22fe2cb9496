"""End to end: a webhook to `assist serve`, the job on Redis, a real `assist worker`, the test
forge and the scripted model server; the review lands on the forge once, the job and every
forge write are recorded. For GitHub (App mode) and GitLab."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.db.engine import upgrade
from tests.forge.conftest import APP_ID, BOT, GITLAB_BOT, GITLAB_TOKEN, REPO
from tests.llm.scripted_server import ScriptedServer
from tests.review.test_service import BASE, HEAD, answer, finding, scores
from tests.support.payloads import (
    github_comment,
    github_pull,
    github_push,
    gitlab_merge_request,
    gitlab_note,
    gitlab_push,
)
from tests.support.processes import run_worker_burst, serve
from tests.support.webhooks import (
    GITHUB_SECRET,
    dumps,
    github_headers,
    gitlab_headers,
)
from tests.support.webhooks import (
    GITLAB_TOKEN as HOOK_TOKEN,
)
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

PRICING = "def apply_discount(price, rate):\n    return price * (1 - rate)\n"


@pytest.fixture(scope="module")
def e2e_db(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


def web_env(e2e_db: str, redis_url: str) -> dict[str, str]:
    return {
        "ASSIST_DATABASE_URL": e2e_db,
        "ASSIST_REDIS_URL": redis_url,
        "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
        "ASSIST_GITLAB_WEBHOOK_TOKENS": HOOK_TOKEN,
        "ASSIST_LOG_LEVEL": "WARNING",
        "ASSIST_JOB_RETRIES": "0",
        "ASSIST_BOT_LOGINS": f"{BOT},{GITLAB_BOT}",
        # The limits have tests of their own (tests/reliability); here they would couple
        # tests through counters shared in the session's Redis.
        "ASSIST_REPO_JOBS_PER_MINUTE": "0",
        "ASSIST_INSTALLATION_JOBS_PER_MINUTE": "0",
        "ASSIST_MAX_RUNNING_JOBS": "0",
    }


@pytest.fixture(scope="module")
def web(e2e_db: str, redis_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = web_env(e2e_db, redis_url)
    with serve(env) as base:
        yield base, env


class Scene:
    def __init__(
        self,
        kind: str,
        forge: TestForge,
        llm: ScriptedServer,
        web: tuple[str, dict[str, str]],
        app_key: AppKey,
        corpora: Path,
        db: str,
    ) -> None:
        self.kind, self.forge, self.llm, self.corpora = kind, forge, llm, corpora
        self.base, web_env = web
        self.engine = sa.create_engine(db)
        # Job ids derive from comment ids; the database and Redis outlive this test forge.
        forge.start_ids_at(random.SystemRandom().randrange(10**6, 2**31 - 10**6))
        created = forge.create_repo(
            REPO,
            files={
                "shop.py": BASE,
                "README.md": "# shop\n",
                "pricing.py": PRICING,
                # Unique commits: review job ids derive from head shas, and the database and
                # Redis outlive this test forge.
                "NOTICE.txt": f"scene {uuid.uuid4()}\n",
            },
            members={"maint": "maintain"},
        )
        self.repo_id = int(created["id"])
        self.head = forge.commit(REPO, "feature", {"shop.py": HEAD}, "Iterate by index")
        self.base_sha = forge.refs(REPO)["main"]
        self.number = forge.add_pull(REPO, head="feature", title="Faster totals", author="alice")
        self.installation: int | None = None
        self.cache = Path(tempfile.mkdtemp(prefix="assist-e2e-"))
        worker = {
            **web_env,
            "ASSIST_CACHE_DIR": str(self.cache / "cache"),
            "ASSIST_QDRANT_LOCATION": str(self.cache / "qdrant"),
            "ASSIST_LLM_BASE_URLS": llm.base_url,
            "ASSIST_LLM_MODEL": "scripted",
            "ASSIST_LLM_MAX_RETRIES": "0",
            "ASSIST_LLM_MAX_CONCURRENCY": "1",
            "ASSIST_LLM_CONTEXT_TOKENS": "16000",  # the scripted tokenizer counts characters
            "ASSIST_GITHUB_WRITE_PAUSE_S": "0",
            "ASSIST_FORGE_TIMEOUT_S": "10",
        }
        if kind == "github":
            forge.add_app(APP_ID, app_key.public_pem)
            self.installation = forge.add_installation(APP_ID, [REPO])
            worker |= {
                "ASSIST_GITHUB_API_URL": forge.github_api_url,
                "ASSIST_GITHUB_APP_ID": str(APP_ID),
                "ASSIST_GITHUB_PRIVATE_KEY": app_key.private_pem,
            }
        else:
            forge.add_user(GITLAB_BOT, token=GITLAB_TOKEN)
            forge.set_permission(REPO, GITLAB_BOT, "maintain")
            worker |= {"ASSIST_GITLAB_URL": forge.gitlab_url, "ASSIST_GITLAB_TOKEN": GITLAB_TOKEN}
        self.worker_env = worker

    def deliver(self, payload: dict[str, Any], event: str, delivery: str | None = None) -> Any:
        body = dumps(payload)
        if self.kind == "github":
            headers = github_headers(event, body, delivery=delivery)
            url = self.base + "/webhooks/github"
        else:
            headers = gitlab_headers(event, delivery=delivery)
            url = self.base + "/webhooks/gitlab"
        reply = httpx.post(url, content=body, headers=headers, timeout=30)
        assert reply.status_code in (200, 202), reply.text
        return reply.json()

    def opened(self, delivery: str | None = None) -> Any:
        if self.kind == "github":
            payload = github_pull(
                self.corpora, repo=REPO, repo_id=self.repo_id, number=self.number,
                head_sha=self.head, base_sha=self.base_sha, installation=self.installation,
            )  # fmt: skip
            return self.deliver(payload, "pull_request", delivery)
        payload = gitlab_merge_request(
            self.corpora, repo=REPO, project_id=self.repo_id, iid=self.number, head_sha=self.head
        )
        return self.deliver(payload, "Merge Request Hook", delivery)

    def command(self, text: str, author: str) -> Any:
        comment_id = self.forge.add_comment(REPO, self.number, text, author=author)
        if self.kind == "github":
            payload = github_comment(
                self.corpora, repo=REPO, repo_id=self.repo_id, number=self.number,
                comment_id=comment_id, body=text, author=author, installation=self.installation,
            )  # fmt: skip
            return self.deliver(payload, "issue_comment")
        discussion = next(
            d["id"]
            for d in self.forge.discussions(REPO, self.number)
            if any(n["id"] == comment_id for n in d["notes"])
        )
        payload = gitlab_note(
            self.corpora, repo=REPO, project_id=self.repo_id, iid=self.number,
            note_id=comment_id, body=text, author=author, discussion_id=discussion,
        )  # fmt: skip
        return self.deliver(payload, "Note Hook")

    def work(self) -> None:
        run_worker_burst(self.worker_env, "review")

    def bodies(self) -> list[str]:
        if self.kind == "github":
            return [c["body"] for c in self.forge.comments(REPO, self.number)]
        return [n["body"] for d in self.forge.discussions(REPO, self.number) for n in d["notes"]]

    def job(self, job_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT status, detail, error FROM job_runs WHERE job_id = :j"),
                {"j": job_id},
            ).one()

    def audit(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT action, actor, job_id, outcome, number FROM audit_log "
                        "WHERE forge = :f AND repo = :r ORDER BY id"
                    ),
                    {"f": self.kind, "r": REPO},
                )
            )


@pytest.fixture(params=["github", "gitlab"])
def scene(
    request: pytest.FixtureRequest,
    testforge: TestForge,
    scripted: ScriptedServer,
    web: tuple[str, dict[str, str]],
    app_key: AppKey,
    corpora: Path,
    e2e_db: str,
) -> Iterator[Scene]:
    s = Scene(request.param, testforge, scripted, web, app_key, corpora, e2e_db)
    with s.engine.begin() as conn:  # the same repo and number in every test: start clean
        for table in ("findings", "reviewed_files", "audit_log"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    yield s
    s.engine.dispose()
    shutil.rmtree(s.cache, ignore_errors=True)


def test_opened_change_is_reviewed_once_and_audited(scene: Scene) -> None:
    scene.llm.push(answer(finding()), scores(0.9))
    accepted = scene.opened(delivery=f"d-{scene.kind}-1")
    (job_id,) = accepted["jobs"]
    scene.work()
    status, detail, error = scene.job(job_id)
    assert (status, error) == ("done", "")
    assert (detail["status"], detail["posted"], detail["counts"]["major"]) == ("posted", 1, 1)
    assert detail["usage"]["requests"] >= 2  # the review and the second pass
    bodies = scene.bodies()
    assert sum("Skips the first item" in b and "finding:" in b for b in bodies) == 1
    assert sum("forge-assist:summary" in b for b in bodies) == 1
    actions = [(a.action, a.actor, a.job_id, a.outcome) for a in scene.audit()]
    assert ("post_review", "alice", job_id, "ok") in actions
    assert ("upsert_comment", "alice", job_id, "ok") in actions
    # The same delivery again: recorded as a duplicate, no second job, nothing reposted.
    again = scene.opened(delivery=f"d-{scene.kind}-1")
    assert again["jobs"] == [job_id]
    scene.work()
    assert sum("Skips the first item" in b for b in scene.bodies()) == 2  # comment + summary


def test_review_command_needs_write_access(scene: Scene) -> None:
    refused = scene.command("/assist review", author="mallory")
    scene.work()
    status, detail, _ = scene.job(refused["jobs"][0])
    assert (status, detail["status"]) == ("done", "refused")
    assert any("needs write access" in b for b in scene.bodies())
    assert scene.llm.chat_requests() == []  # refused before any model call
    scene.llm.push(answer(finding()), scores(0.9))
    allowed = scene.command("/assist review", author="maint")
    scene.work()
    status, detail, _ = scene.job(allowed["jobs"][0])
    assert (status, detail["status"], detail["posted"]) == ("done", "posted", 1)
    assert [a.actor for a in scene.audit() if a.action == "post_review"] == ["maint"]


def test_ask_is_answered_in_a_reply(scene: Scene) -> None:
    from tests.llm.scripted_server import chat_reply

    scene.llm.push(chat_reply("The loop in `total` starts at index 1, so it skips an item."))
    accepted = scene.command("/assist ask why is the total wrong?", author="alice")
    scene.work()
    status, detail, error = scene.job(accepted["jobs"][0])
    assert (status, detail["status"], error) == ("done", "answered", "")
    assert any("starts at index 1" in b for b in scene.bodies())
    (request,) = scene.llm.chat_requests()
    user = request["messages"][-1]["content"]
    assert "why is the total wrong?" in user
    assert "range(1, len(items))" in user
    assert "BEGIN_UNTRUSTED_DATA" in user


def test_help_replies(scene: Scene) -> None:
    accepted = scene.command("/assist help", author="alice")
    scene.work()
    status, detail, _ = scene.job(accepted["jobs"][0])
    assert (status, detail["status"]) == ("done", "replied"), detail
    assert any("`/assist ask <question>`" in b for b in scene.bodies())
    assert json.dumps(detail)  # plain values only


def test_a_second_push_adds_no_duplicate(scene: Scene) -> None:
    scene.llm.push(answer(finding()), scores(0.9))
    scene.opened()
    scene.work()
    previous = scene.head
    scene.head = scene.forge.commit(REPO, "feature", {"README.md": "# shop\n\nTotals.\n"}, "Docs")
    if scene.kind == "github":
        payload = github_pull(
            scene.corpora, repo=REPO, repo_id=scene.repo_id, number=scene.number,
            head_sha=scene.head, base_sha=scene.base_sha, action="synchronize",
            installation=scene.installation, before=previous,
        )  # fmt: skip
        accepted = scene.deliver(payload, "pull_request")
    else:
        payload = gitlab_merge_request(
            scene.corpora, repo=REPO, project_id=scene.repo_id, iid=scene.number,
            head_sha=scene.head, action="update", oldrev=previous,
        )  # fmt: skip
        accepted = scene.deliver(payload, "Merge Request Hook")
    # Only README.md changed since the last review: shop.py is not sent to the model again.
    scene.llm.push(answer(finding(quoted_code="Totals.", file="README.md", title="docs nit")))
    scene.work()
    status, detail, _ = scene.job(accepted["jobs"][0])
    assert (status, detail["status"], detail["trigger"]) == ("done", "posted", "updated")
    assert (detail["files_reviewed"], detail["unchanged_files"]) == (1, 1)
    assert detail["earlier_open"] == 1
    bodies = scene.bodies()
    assert sum("Skips the first item" in b and "finding:" in b for b in bodies) == 1
    reviewed = [r["messages"][-1]["content"] for r in scene.llm.chat_requests()]
    assert not any("range(1, len(items))" in text for text in reviewed[2:])


def test_push_indexes_the_default_branch_and_the_review_uses_it(scene: Scene) -> None:
    main = scene.forge.refs(REPO)["main"]
    after = scene.forge.commit(
        REPO,
        "main",
        {"CHANGELOG.md": "# Changes\n"},
        "Changelog",
    )
    if scene.kind == "github":
        payload = github_push(
            scene.corpora, repo=REPO, repo_id=scene.repo_id, before=main, after=after,
            installation=scene.installation,
        )  # fmt: skip
        accepted = scene.deliver(payload, "push")
    else:
        payload = gitlab_push(
            scene.corpora, repo=REPO, project_id=scene.repo_id, before=main, after=after
        )
        accepted = scene.deliver(payload, "Push Hook")
    run_worker_burst(scene.worker_env, "index")
    status, detail, error = scene.job(accepted["jobs"][0])
    assert (status, error) == ("done", "")
    assert (detail["status"], detail["commit"], detail["files"]) == ("indexed", after, 5)
    assert detail["embedded"] > 0
    # The pull request's change calls the helper: the review prompt shows its definition.
    scene.head = scene.forge.commit(
        REPO,
        "feature",
        {"shop.py": HEAD + "\n\ndef sale(items):\n    return apply_discount(total(items), 0.1)\n"},
        "Sale",
    )
    scene.llm.push(answer(), scores())
    scene.opened()
    scene.work()
    prompt = scene.llm.chat_requests()[0]["messages"][-1]["content"]
    assert "related code elsewhere in the repository" in prompt
    assert "def apply_discount(price, rate):" in prompt
    # Nothing secret reached the index or its mirror configuration.
    token = GITLAB_TOKEN if scene.kind == "gitlab" else None
    for path in scene.cache.rglob("*"):
        if path.is_file() and token and path.stat().st_size < 5_000_000:
            assert token.encode() not in path.read_bytes(), path
