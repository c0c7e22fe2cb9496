"""ASSIST_FIX_PUSH_REMOTE: fix branches go to a fork, never to the base repository, and the
change is proposed from the fork (GitHub head ``forkowner:branch``, GitLab a merge request
created on the fork with the base as its target), both forges, on the test forge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.domain import RepoRef
from bot.fix.remote import PushRemoteError, head_repo, push_repo
from bot.settings import Settings
from tests.fix.conftest import BOT, FIXED, MAINTAINER, REPO, World, edits, good_fix, locate
from tests.fix.test_job import COUNT, fix_branches, run_job

FORK = "assist-bot/shop"


def forked(world: World) -> World:
    world.server.fork(REPO, FORK)
    world.server.set_permission(FORK, BOT, "maintain")
    return world


def test_a_fix_is_pushed_to_the_fork_and_proposed_from_it(world: World) -> None:
    forked(world)
    world.llm.push(locate("shop/cart.py"), good_fix())
    detail = run_job(world, world.command(), settings={"fix_push_remote": "assist-bot/{name}"})
    assert detail["status"] == "opened", detail
    branch = detail["branch"]
    assert fix_branches(world) == {}  # nothing pushed into the base repository
    assert world.server.read(FORK, branch, "shop/cart.py") == FIXED
    (pull,) = world.server.pulls(REPO)
    assert pull["head"] == branch
    assert pull["head_repo"] == FORK
    assert pull["head_sha"] == world.server.refs(FORK)[branch]
    # the forge's API shows the change from the fork
    forge = world.forge()
    change = forge.get_change(world.repo, pull["number"])
    assert change.head_ref == branch
    assert change.head_sha == pull["head_sha"]
    if world.kind == "github":
        pulls = [
            r for r in world.server.requests_log("github")
            if r["method"] == "POST" and r["path"].endswith(f"/repos/{REPO}/pulls")
        ]  # fmt: skip
        assert [r["status"] for r in pulls] == [201]
    else:
        created = [
            r for r in world.server.requests_log("gitlab")
            if r["method"] == "POST" and r["path"].endswith("/merge_requests")
        ]  # fmt: skip
        assert len(created) == 1
        assert (
            "assist-bot%2Fshop" in created[0]["path"]
            or str(world.server.repos[FORK].id) in (created[0]["path"])
        )


def test_iterating_on_a_fork_change_updates_the_fork_branch(world: World) -> None:
    forked(world)
    settings = {"fix_push_remote": FORK}
    world.llm.push(locate("shop/cart.py"), good_fix())
    first = run_job(world, world.command(), settings=settings)
    assert first["status"] == "opened", first
    world.llm.push(
        locate("shop/cart.py"),
        edits(("shop/cart.py", COUNT, COUNT.replace("len(items)", "len(list(items))"))),
    )
    comment = world.server.add_comment(REPO, first["change"], "/assist fix it", author=MAINTAINER)
    detail = run_job(
        world, comment, number=first["change"], target="pull", argument="count iterables",
        settings=settings,
    )  # fmt: skip
    assert detail["status"] == "updated", detail
    text = world.server.read(FORK, first["branch"], "shop/cart.py")
    assert "len(list(items))" in text
    assert fix_branches(world) == {}
    (pull,) = world.server.pulls(REPO)
    assert pull["head_sha"] == world.server.refs(FORK)[first["branch"]]


def test_the_push_remote_names_a_repository() -> None:
    base = RepoRef("gitlab", "group/sub/shop")
    assert push_repo(None, base) == base
    assert push_repo("bots/{name}", base) == RepoRef("gitlab", "bots/shop")
    assert push_repo("{owner}-forks/{name}", base) == RepoRef("gitlab", "group/sub-forks/shop")
    assert head_repo(base, base) is None
    assert head_repo(RepoRef("gitlab", "bots/shop"), base) == "bots/shop"
    for bad in ("shop", "bots/", "/shop", "a//b"):
        with pytest.raises(PushRemoteError):
            push_repo(bad, base)


def test_the_setting_refuses_what_is_not_a_repository() -> None:
    assert Settings(fix_push_remote="bots/{name}").fix_push_remote == "bots/{name}"
    assert Settings(fix_push_remote=" ").fix_push_remote is None
    for bad in ("shop", "a//b"):
        with pytest.raises(ValidationError):
            Settings(fix_push_remote=bad)
