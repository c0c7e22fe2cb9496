"""Our own identity comes from the forge's API (GitHub App: ``GET /app`` slug + ``[bot]``; a
token: ``GET /user``), cached; configured logins are only an addition. Markers count only on
comments that identity wrote, and a command in our own comment never runs. Both forges."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pydantic import SecretStr

from bot.access.commands import accept_command, is_own
from bot.forge.errors import PermissionDenied
from bot.forge.factory import build_forge
from bot.forge.identity import RedisIdentityStore, forget_identities
from bot.settings import Settings
from tests.forge.conftest import APP_ID, GITLAB_BOT, REPO, Env
from tests.testforge.fixtures import AppKey

MARKER = "<!-- forge-assist:summary -->"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    forget_identities()


def bare(env: Env, **extra: object) -> Any:
    """The adapter as an entry point builds it, with no configured logins unless given."""
    settings = env.settings.model_copy(update={"bot_logins": [], **extra})
    return build_forge(settings, env.kind, github_write_pause_s=None)


def identity_requests(env: Env) -> list[dict[str, Any]]:
    path = "/api/v3/app" if env.kind == "github" else "/api/v4/user"
    return [r for r in env.server.requests_log() if r["path"] == path]


def test_the_identity_comes_from_the_api_and_is_cached(env: Env) -> None:
    forge = bare(env)
    expected = "forge-assist[bot]" if env.kind == "github" else GITLAB_BOT
    assert forge.own_logins() == {expected}
    assert bare(env).own_logins() == {expected}  # another adapter of the same process
    forge.list_comments(env.repo, env.number, marker=MARKER)
    assert len(identity_requests(env)) == 1


def test_configured_logins_are_only_added(env: Env) -> None:
    forge = bare(env, bot_logins=["Legacy-Bot"])
    assert "legacy-bot" in forge.own_logins()
    assert len(forge.own_logins()) == 2


def test_the_app_slug_names_us_not_the_default_login(env: Env, app_key: AppKey) -> None:
    """An App called ``acme-review``: an account named ``forge-assist[bot]``/``forge-assist``
    (the old default) carrying our marker is someone else."""
    server = env.server
    if env.kind == "github":
        server.add_app(APP_ID + 1, app_key.public_pem, slug="acme-review")
        server.add_installation(APP_ID + 1, [REPO])
        forge = bare(env, github_app_id=APP_ID + 1)
        us = "acme-review[bot]"
    else:
        server.add_user("acme-review", token="glpat-acme-review-token")
        server.set_permission(REPO, "acme-review", "maintain")
        forge = bare(env, gitlab_token=SecretStr("glpat-acme-review-token"))
        us = "acme-review"
    squatter = "forge-assist[bot]" if env.kind == "github" else "forge-assist"
    planted = server.add_comment(REPO, env.number, f"fake\n\n{MARKER}", author=squatter)
    assert forge.own_logins() == {us}
    assert forge.list_comments(env.repo, env.number, marker=MARKER) == ()
    posted = forge.upsert_comment(env.repo, env.number, marker=MARKER, body="summary")
    assert posted.id != planted
    assert posted.author == us
    again = forge.upsert_comment(env.repo, env.number, marker=MARKER, body="summary 2")
    assert again.id == posted.id  # ours is edited in place; the planted one is left alone
    bodies = {c["id"]: c["body"] for c in server.comments(REPO, env.number)}
    assert bodies[planted] == f"fake\n\n{MARKER}"


def test_another_users_comment_with_our_marker_is_not_trusted(env: Env) -> None:
    forge = bare(env)
    server = env.server
    server.add_comment(REPO, env.number, f"hidden\n\n{MARKER}", author="mallory")
    assert forge.list_comments(env.repo, env.number, marker=MARKER) == ()
    ours = forge.upsert_comment(env.repo, env.number, marker=MARKER, body="summary")
    assert [c.id for c in forge.list_comments(env.repo, env.number, marker=MARKER)] == [ours.id]


def test_the_identity_is_shared_through_redis(env: Env, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisIdentityStore(client, prefix=f"test-identity:{env.server.port}:")
    settings = env.settings.model_copy(update={"bot_logins": []})
    first = build_forge(settings, env.kind, identity_store=store).own_logins()
    forget_identities()  # another worker process: an empty process cache
    second = build_forge(settings, env.kind, identity_store=store).own_logins()
    assert first == second
    assert len(identity_requests(env)) == 1
    keys = client.keys(f"test-identity:{env.server.port}:*")
    assert len(keys) == 1
    assert 0 < int(client.ttl(keys[0])) <= 3600
    client.delete(*keys)


def test_a_token_that_may_not_read_its_user(github_env: Env) -> None:
    """Actions' GITHUB_TOKEN cannot read ``/user`` (403): only an explicitly configured login
    names us then; without one nothing is ours and the job fails rather than guess."""
    env = github_env
    token = env.server.add_user("github-actions[bot]", token="ghs_actions_token_0123456789")
    settings = env.settings.model_copy(
        update={"github_app_id": None, "github_token": SecretStr(token), "bot_logins": []}
    )
    env.server.inject({"status": 403, "api": "github", "path": r"/user$", "times": 2,
                       "body": {"message": "Resource not accessible by integration"}})  # fmt: skip
    with pytest.raises(PermissionDenied):
        build_forge(settings, "github").own_logins()
    forget_identities()
    configured = settings.model_copy(update={"bot_logins": ["github-actions[bot]"]})
    assert build_forge(configured, "github").own_logins() == {"github-actions[bot]"}


def command_kwargs(env: Env, comment_id: int, author: str) -> dict[str, Any]:
    return {
        "forge": env.kind, "repo": REPO, "number": env.number, "comment_id": comment_id,
        "author": author, "target": "pull", "thread_comment_id": None, "discussion_id": None,
    }  # fmt: skip


def test_our_own_comment_never_runs_a_command(env: Env) -> None:
    forge = bare(env)
    us = next(iter(forge.own_logins()))
    server = env.server
    mine = server.add_comment(REPO, env.number, "/assist review", author=us)
    before = len(server.comments(REPO, env.number))
    # GitHub: the signed payload names us; GitLab: the payload claims a maintainer, the API
    # shows the note is ours
    claimed = us if env.kind == "github" else "maintainer"
    _comment, refused = accept_command(
        forge, env.repo, command_kwargs(env, mine, claimed), refusal="no"
    )
    assert refused is not None
    assert refused["status"] == "refused"
    assert refused["reason"] == (
        "our own comment" if env.kind == "github" else "unverified comment"
    )
    assert len(server.comments(REPO, env.number)) == before  # nothing said
    assert all(not c["reactions"] for c in server.comments(REPO, env.number))
    assert is_own(forge, us.upper())
    assert not is_own(forge, "maintainer")
    # a maintainer's command is accepted (acknowledged with a reaction)
    theirs = server.add_comment(REPO, env.number, "/assist review", author="maintainer")
    _comment, refused = accept_command(
        forge, env.repo, command_kwargs(env, theirs, "maintainer"), refusal="no"
    )
    assert refused is None
    (note,) = [c for c in server.comments(REPO, env.number) if c["id"] == theirs]
    assert note["reactions"]


def test_settings_carry_no_default_login() -> None:
    assert Settings().bot_logins == []
    assert Settings(bot_logins="a[bot], b").bot_logins == ["a[bot]", "b"]  # type: ignore[arg-type]
