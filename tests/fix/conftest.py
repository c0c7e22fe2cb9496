"""A repository with a bug on the test forge, the people around it, and the scripted model
answers that fix it; settings for the bot on either forge."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.domain import ForgeKind, RepoRef
from bot.forge.factory import build_forge
from bot.forge.protocol import Forge
from bot.settings import Settings
from tests.llm.scripted_server import Reply, ScriptedServer, chat_reply
from tests.testforge import TestForge
from tests.testforge.fixtures import app_key, testforge

__all__ = ["app_key", "testforge"]  # fixtures

REPO = "octo/shop"
BOT = "forge-assist"
BOT_TOKEN = "bot-token-0123456789abcdef"
MAINTAINER = "maintainer"
VISITOR = "visitor"
CART = '''"""The shopping cart."""


def total(items):
    """Sum the prices of items."""
    result = 0
    for i in range(1, len(items)):
        result += items[i].price
    return result


def count(items):
    return len(items)
'''
TAX = """RATE = 0.2


def apply_tax(amount):
    return amount * (1 + RATE)
"""
TEST = """from shop.cart import total


class Item:
    def __init__(self, price):
        self.price = price


def test_total():
    assert total([Item(1), Item(2)]) == 3
"""
FILES = {
    "shop/__init__.py": "",
    "shop/cart.py": CART,
    "shop/tax.py": TAX,
    "tests/test_cart.py": TEST,
    "README.md": "# shop\n",
    ".assist.toml": "[fix]\ncandidates = 1\n",
}
ISSUE_TITLE = "total() skips the first item"
ISSUE_BODY = "The cart total is too low: `total` in shop/cart.py never counts the first item."
SEARCH = "    for i in range(1, len(items)):\n        result += items[i].price\n"
REPLACE = "    for item in items:\n        result += item.price\n"
FIXED = CART.replace(SEARCH, REPLACE)


def locate(*paths: str) -> Reply:
    picks = [{"path": p, "symbols": ["total"], "reason": "defines total"} for p in paths]
    return chat_reply(json.dumps({"files": picks}))


def edits(*blocks: tuple[str, str, str], plan: str = "Iterate over every item.") -> Reply:
    return chat_reply(
        json.dumps(
            {"plan": plan, "edits": [{"path": p, "search": s, "replace": r} for p, s, r in blocks]}
        )
    )


def good_fix() -> Reply:
    return edits(("shop/cart.py", SEARCH, REPLACE))


@dataclass
class World:
    kind: ForgeKind
    server: TestForge
    llm: ScriptedServer
    tmp: Path
    issue: int

    @property
    def repo(self) -> RepoRef:
        return RepoRef(self.kind, REPO)

    def settings(self, **extra: object) -> Settings:
        values: dict[str, object] = {
            "bot_logins": [BOT],
            "forge_timeout_s": 5.0,
            "forge_max_attempts": 1,
            "github_write_pause_s": 0.0,
            "llm_base_urls": [self.llm.base_url],
            "llm_model": "scripted",
            "llm_max_retries": 0,
            "llm_timeout_s": 10.0,
            "llm_context_tokens": 60000,
            "fix_use_index": False,
            "cache_dir": self.tmp / "cache",
            **extra,
        }
        if self.kind == "github":
            values |= {"github_api_url": self.server.github_api_url,
                       "github_token": SecretStr(BOT_TOKEN)}  # fmt: skip
        else:
            values |= {"gitlab_url": self.server.gitlab_url, "gitlab_token": SecretStr(BOT_TOKEN)}
        return Settings.model_validate(values)

    def env(self) -> dict[str, str]:
        """The same settings as ASSIST_* variables (for real processes)."""
        s = self.settings()
        env = {
            "ASSIST_BOT_LOGINS": BOT,
            "ASSIST_FORGE_TIMEOUT_S": "5",
            "ASSIST_FORGE_MAX_ATTEMPTS": "1",
            "ASSIST_GITHUB_WRITE_PAUSE_S": "0",
            "ASSIST_LLM_BASE_URLS": self.llm.base_url,
            "ASSIST_LLM_MODEL": "scripted",
            "ASSIST_LLM_MAX_RETRIES": "0",
            "ASSIST_LLM_CONTEXT_TOKENS": "60000",
            "ASSIST_FIX_USE_INDEX": "false",
            "ASSIST_CACHE_DIR": str(s.cache_dir),
        }
        if self.kind == "github":
            env |= {"ASSIST_GITHUB_API_URL": self.server.github_api_url,
                    "ASSIST_GITHUB_TOKEN": BOT_TOKEN}  # fmt: skip
        else:
            env |= {"ASSIST_GITLAB_URL": self.server.gitlab_url, "ASSIST_GITLAB_TOKEN": BOT_TOKEN}
        return env

    def forge(self, **extra: object) -> Forge:
        return build_forge(self.settings(**extra), self.kind, github_write_pause_s=None)

    def command(self, body: str = "/assist fix", *, author: str = MAINTAINER) -> int:
        return self.server.add_comment(REPO, self.issue, body, author=author)

    def kwargs(self, comment_id: int, *, author: str = MAINTAINER, **over: Any) -> dict[str, Any]:
        return {
            "forge": self.kind, "repo": REPO, "project_id": None, "installation_id": None,
            "number": self.issue, "target": "issue", "comment_id": comment_id,
            "author": author, "argument": "", "discussion_id": None,
            "thread_comment_id": None, **over,
        }  # fmt: skip

    def branches(self) -> dict[str, str]:
        return self.server.refs(REPO)

    def comments(self, number: int | None = None) -> list[dict[str, Any]]:
        return self.server.comments(REPO, self.issue if number is None else number)

    def bot_comments(self, number: int | None = None) -> list[str]:
        return [c["body"] for c in self.comments(number) if c["author"] == BOT]


def make_world(kind: ForgeKind, server: TestForge, llm: ScriptedServer, tmp: Path) -> World:
    server.create_repo(
        REPO, files=FILES, members={MAINTAINER: "write", BOT: "maintain", "reader": "read"}
    )
    server.add_user(BOT, token=BOT_TOKEN)
    server.set_permission(REPO, VISITOR, "none")
    issue = server.add_issue(REPO, ISSUE_TITLE, ISSUE_BODY, author="alice")
    return World(kind, server, llm, tmp, issue)


@pytest.fixture(params=["github", "gitlab"])
def world(
    request: pytest.FixtureRequest, testforge: TestForge, scripted: ScriptedServer, tmp_path: Path
) -> World:
    return make_world(request.param, testforge, scripted, tmp_path)


@pytest.fixture
def github_world(testforge: TestForge, scripted: ScriptedServer, tmp_path: Path) -> World:
    return make_world("github", testforge, scripted, tmp_path)


def local_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository with ``files`` committed."""
    root.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=root, check=True)
    return root
