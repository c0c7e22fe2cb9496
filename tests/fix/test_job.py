"""The fix job against the test forge (both APIs) and the scripted model, in this process:
what is pushed, proposed and said, and what is refused."""

from __future__ import annotations

import os
from pathlib import Path

from bot.domain import RepoRef
from bot.fix.service import FixCommand, FixJob
from bot.fix.workspace import git_env
from tests.fix.conftest import (
    CART,
    FIXED,
    MAINTAINER,
    REPLACE,
    REPO,
    SEARCH,
    VISITOR,
    World,
    edits,
    good_fix,
    locate,
    make_world,
)
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.testforge import TestForge


def run_job(world: World, comment_id: int, *, author: str = MAINTAINER, **over: object) -> dict:
    settings = world.settings(**over.pop("settings", {}))  # type: ignore[arg-type]
    kwargs = world.kwargs(comment_id, author=author, **over)
    command = FixCommand.from_kwargs(RepoRef(world.kind, REPO), kwargs)
    forge = world.forge()
    return FixJob(forge, settings, command, git_env=git_env(os.environ)).run()


COUNT = "def count(items):\n    return len(items)\n"


def fix_branches(world: World) -> dict[str, str]:
    return {k: v for k, v in world.branches().items() if k.startswith("assist/")}


def test_a_fix_becomes_a_draft_change_with_one_commit(world: World) -> None:
    world.llm.push(locate("shop/cart.py"), good_fix())
    comment = world.command("/assist fix keep it simple")
    detail = run_job(world, comment, argument="keep it simple")
    assert detail["status"] == "opened", detail
    (branch,) = fix_branches(world)
    assert branch == detail["branch"]
    assert branch.startswith(f"assist/fix-{world.issue}-")
    assert world.server.read(REPO, branch, "shop/cart.py") == FIXED
    assert world.server.read(REPO, "main", "shop/cart.py") == CART
    (pull,) = world.server.pulls(REPO)
    assert pull["draft"] is True
    assert pull["head"] == branch
    assert f"Fixes #{world.issue}" in pull["body"]
    assert "| edits | ✅ passed |" in pull["body"]
    assert "| names | ✅ passed |" in pull["body"]
    assert "shop/cart.py" in pull["body"]
    assert pull["title"].removeprefix("Draft: ").startswith(f"Fix #{world.issue}: total() skips")
    # one status comment, edited in place to the end result
    (status,) = world.bot_comments()
    assert pull["title"] not in status
    assert "with a fix" in status
    assert detail["checks"] == {"edits": "passed", "syntax": "passed", "names": "passed",
                                "tests": "skipped"}  # fmt: skip
    # the maintainer's guidance went to the model, fenced as data
    requests = world.llm.chat_requests()
    assert len(requests) == 2
    user = requests[1]["messages"][1]["content"]
    assert "kind=comment" in user
    assert "keep it simple" in user


def test_without_write_access_the_fix_is_refused_politely(world: World) -> None:
    comment = world.command(author=VISITOR)
    detail = run_job(world, comment, author=VISITOR)
    assert detail == {"status": "refused", "reason": "permission"}
    (status,) = world.bot_comments()
    assert f"Sorry @{VISITOR}" in status
    assert "write access" in status
    assert world.llm.chat_requests() == []
    assert fix_branches(world) == {}


def test_a_read_only_member_is_refused_too(world: World) -> None:
    detail = run_job(world, world.command(author="reader"), author="reader")
    assert detail["reason"] == "permission"


def test_a_closed_issue_is_refused(world: World) -> None:
    world.server.close(REPO, world.issue)
    detail = run_job(world, world.command())
    assert detail == {"status": "refused", "reason": "closed"}
    assert "closed" in world.bot_comments()[0]
    assert world.llm.chat_requests() == []


def test_a_locked_issue_is_refused(world: World) -> None:
    with world.server.lock:
        world.server.repo(REPO).issues[world.issue].locked = True
    detail = run_job(world, world.command())
    assert detail == {"status": "refused", "reason": "locked"}
    assert "locked" in world.bot_comments()[0]
    assert world.llm.chat_requests() == []


def test_an_edit_that_fails_its_checks_ends_with_an_honest_comment_and_no_branch(
    world: World,
) -> None:
    broken = REPLACE.replace("item.price", "item.price * discount")
    world.llm.push(locate("shop/cart.py"), edits(("shop/cart.py", SEARCH, broken)))
    detail = run_job(world, world.command())
    assert detail["status"] == "failed"
    assert detail["checks"]["names"] == "failed"
    assert fix_branches(world) == {}
    assert world.server.pulls(REPO) == []
    (status,) = world.bot_comments()
    assert "could not produce a fix" in status
    assert "undefined name `discount`" in status
    assert "Nothing was pushed." in status


def test_a_model_that_times_out_ends_with_a_comment_and_no_branch(world: World) -> None:
    world.llm.push(chat_reply("{}", delay_s=5.0))
    detail = run_job(world, world.command(), settings={"llm_timeout_s": 0.5})
    assert detail["status"] == "failed"
    assert detail["reason"] == "model"
    (status,) = world.bot_comments()
    assert "the model did not answer" in status
    assert fix_branches(world) == {}


def test_a_failed_edit_goes_back_once_with_the_nearest_real_text(world: World) -> None:
    wrong = SEARCH.replace("range(1, len(items))", "range(len(items) - 1)")
    world.llm.push(locate("shop/cart.py"), edits(("shop/cart.py", wrong, REPLACE)), good_fix())
    detail = run_job(world, world.command())
    assert detail["status"] == "opened", detail
    retry = world.llm.chat_requests()[2]["messages"]
    assert [m["role"] for m in retry][-2:] == ["assistant", "user"]
    assert "for i in range(1, len(items)):" in retry[-1]["content"]  # the real text
    assert "no-match" in retry[-1]["content"]
    assert world.server.read(REPO, detail["branch"], "shop/cart.py") == FIXED


def test_refused_paths_are_not_retried_and_nothing_is_pushed(github_world: World) -> None:
    world = github_world
    world.llm.push(
        locate("shop/cart.py"),
        edits(
            ("../outside.py", "", "x = 1\n"),
            (".git/config", "", "[core]\n"),
            (".github/workflows/ci.yml", "", "on: push\n"),
        ),
    )
    detail = run_job(world, world.command())
    assert detail["status"] == "failed"
    assert len(world.llm.chat_requests()) == 2  # no retry for refused paths
    (status,) = world.bot_comments()
    assert "refused-path" in status
    assert "CI configuration" in status
    assert fix_branches(world) == {}


def test_a_partial_branch_is_pushed_only_when_the_config_asks(github_world: World) -> None:
    world = github_world
    world.server.commit(REPO, "main", {".assist.toml": "[fix]\ncandidates = 1\n"
                                       "push_partial_branch = true\n"}, "config")  # fmt: skip
    broken = REPLACE.replace("item.price", "item.price)")
    world.llm.push(locate("shop/cart.py"), edits(("shop/cart.py", SEARCH, broken)))
    detail = run_job(world, world.command())
    assert detail["status"] == "failed"
    assert detail["checks"]["syntax"] == "failed"
    (branch,) = fix_branches(world)
    assert branch.endswith("-partial")
    assert detail["partial_branch"] == branch
    assert f"`{branch}`" in world.bot_comments()[0]
    assert world.server.pulls(REPO) == []


def test_the_second_candidate_wins_when_the_first_fails(github_world: World) -> None:
    world = github_world
    world.server.commit(REPO, "main", {".assist.toml": "[fix]\ncandidates = 3\n"}, "config")
    broken = REPLACE.replace("item.price", "item.cost + undefined_name")
    world.llm.push(locate("shop/cart.py"), edits(("shop/cart.py", SEARCH, broken)), good_fix())
    detail = run_job(world, world.command())
    assert detail["status"] == "opened", detail
    assert detail["candidates"] == 2  # stopped at the first that passed everything
    assert world.server.read(REPO, detail["branch"], "shop/cart.py") == FIXED
    requests = world.llm.chat_requests()
    assert [r.get("temperature") for r in requests[1:]] == [0.0, 0.7]
    (pull,) = world.server.pulls(REPO)
    assert "Candidate 2 of 2" in pull["body"]


def test_fix_on_our_own_change_iterates_on_its_branch(github_world: World) -> None:
    world = github_world
    world.llm.push(locate("shop/cart.py"), good_fix())
    first = run_job(world, world.command())
    change = first["change"]
    world.llm.push(
        locate("shop/cart.py"),
        edits(("shop/cart.py", COUNT, COUNT.replace("len(items)", "len(list(items))"))),
    )
    comment = world.server.add_comment(REPO, change, "/assist fix it", author=MAINTAINER)
    detail = run_job(world, comment, number=change, target="pull", argument="count iterables")
    assert detail["status"] == "updated", detail
    assert detail["branch"] == first["branch"]
    assert detail["commit"] != first["commit"]
    text = world.server.read(REPO, first["branch"], "shop/cart.py")
    assert "len(list(items))" in text
    assert "for item in items:" in text
    assert len(world.server.pulls(REPO)) == 1
    # the change so far went to the model
    assert "kind=diff" in world.llm.chat_requests()[-1]["messages"][1]["content"]


def test_fix_on_someone_elses_change_is_refused(github_world: World) -> None:
    world = github_world
    world.server.commit(REPO, "feature", {"README.md": "# shop!\n"}, "docs")
    number = world.server.add_pull(REPO, head="feature", title="Docs")
    comment = world.server.add_comment(REPO, number, "/assist fix", author=MAINTAINER)
    detail = run_job(world, comment, number=number, target="pull")
    assert detail["reason"] == "not our change"
    assert "my own open fix pull requests" in world.bot_comments(number)[0]


def test_a_forged_gitlab_note_runs_nothing(
    testforge: TestForge, scripted: ScriptedServer, tmp_path: Path
) -> None:
    """The payload says a maintainer wrote `/assist fix`; the API says the note is by a
    visitor without access (or says nothing of a command): nothing runs, nothing is pushed."""
    world = make_world("gitlab", testforge, scripted, tmp_path)
    by_visitor = world.command(author=VISITOR)
    detail = run_job(world, by_visitor, author=MAINTAINER)  # the payload lies about the author
    assert detail["status"] == "refused"
    assert fix_branches(world) == {}
    assert world.llm.chat_requests() == []
    innocent = world.server.add_comment(REPO, world.issue, "looks good to me", author=MAINTAINER)
    detail = run_job(world, innocent, author=MAINTAINER)  # a real note, but no command in it
    assert detail == {"status": "refused", "reason": "unverified comment"}
    assert world.llm.chat_requests() == []
    assert fix_branches(world) == {}
