"""The contract suite's fixtures: a test forge per test, and each adapter built from Settings
the way an entry point builds it (GitHub in App mode, GitLab with a project token)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr

from bot.domain import ForgeKind
from bot.forge import Forge, RepoRef
from bot.forge.auth import GitHubAppTokens, StaticToken
from bot.forge.factory import build_forge, github_app_tokens
from bot.settings import Settings
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey, app_key, testforge

__all__ = ["app_key", "testforge"]  # fixtures

APP_ID = 4242
BOT = "forge-assist[bot]"
GITLAB_BOT = "forge-assist"
GITLAB_TOKEN = "glpat-contract-suite-token"
REPO = "octo/widgets"
BASE_FILES = {
    "src/app.py": "".join(f"line {i}\n" for i in range(1, 41)),
    "README.md": "# widgets\n",
    "old_name.txt": "moved\n",
    "gone.txt": "bye\n",
}
HEAD_FILES: dict[str, str | None] = {
    # lines 10-12 replaced, 30 added after line 29: two hunks
    "src/app.py": "".join(
        f"changed {i}\n" if i in (10, 11, 12) else f"line {i}\n" for i in range(1, 30)
    )
    + "inserted\n"
    + "".join(f"line {i}\n" for i in range(30, 41)),
    "docs/new.md": "new doc\nsecond line\n",
    "gone.txt": None,
}


@pytest.fixture
def server(testforge: TestForge) -> TestForge:
    return testforge


@dataclass
class Sleeps:
    """Stands in for time.sleep: records what the adapter asked to wait, waits nothing."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Env:
    kind: ForgeKind
    server: TestForge
    forge: Forge
    repo: RepoRef
    number: int
    bot: str
    sleeps: Sleeps
    settings: Settings
    tokens: GitHubAppTokens | None = None

    def build(self, **kwargs: object) -> Forge:
        """Another adapter on the same forge (e.g. with other credentials)."""
        return build_forge(self.settings, self.kind, sleep=self.sleeps, **kwargs)  # type: ignore[arg-type]


def make_settings(kind: ForgeKind, server: TestForge, app_key: AppKey, **extra: object) -> Settings:
    if kind == "github":
        return Settings(
            github_api_url=server.github_api_url,
            github_app_id=APP_ID,
            github_private_key=SecretStr(app_key.private_pem),
            bot_logins=[BOT],
            forge_timeout_s=5.0,
            **extra,  # type: ignore[arg-type]
        )
    return Settings(
        gitlab_url=server.gitlab_url,
        gitlab_token=SecretStr(GITLAB_TOKEN),
        bot_logins=[GITLAB_BOT],
        forge_timeout_s=5.0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["github", "gitlab"])
def env(request: pytest.FixtureRequest, server: TestForge, app_key: AppKey) -> Env:
    """Each test runs once per adapter."""
    return make_env(request.param, server, app_key)


@pytest.fixture
def github_env(server: TestForge, app_key: AppKey) -> Env:
    return make_env("github", server, app_key)


def make_env(kind: ForgeKind, server: TestForge, app_key: AppKey) -> Env:
    server.create_repo(REPO, files=BASE_FILES, members={"maintainer": "maintain"})
    server.commit(REPO, "feature", HEAD_FILES, "Change the app")
    # a rename: old_name.txt -> new_name.txt
    server.commit(REPO, "feature", {"old_name.txt": None, "new_name.txt": "moved\n"}, "Rename")
    number = server.add_pull(
        REPO, head="feature", title="Improve widgets", body="Please review", author="alice"
    )
    settings = make_settings(kind, server, app_key)
    sleeps = Sleeps()
    tokens = None
    if kind == "github":
        server.add_app(APP_ID, app_key.public_pem)
        server.add_installation(APP_ID, [REPO])
        tokens = github_app_tokens(settings)
        bot = BOT
    else:
        server.add_user(GITLAB_BOT, token=GITLAB_TOKEN)
        server.set_permission(REPO, GITLAB_BOT, "maintain")
        bot = GITLAB_BOT
    forge = build_forge(
        settings, kind, tokens=tokens, backoff_s=0.5, github_write_pause_s=None, sleep=sleeps
    )
    return Env(kind, server, forge, RepoRef(kind, REPO), number, bot, sleeps, settings, tokens)


def token_forge(env: Env, token: str) -> Forge:
    """An adapter authenticating with a plain token (GitHub token mode / another GitLab user)."""
    return env.build(tokens=StaticToken(SecretStr(token)), github_write_pause_s=None)
