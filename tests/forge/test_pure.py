"""The forge package's pure parts: retries, diffs, markers, header parsing, access levels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot.forge.diffs import line_code, old_lines, unified_diff
from bot.forge.errors import ForgeUnavailable, NotFound, RateLimited
from bot.forge.github_errors import reset_time
from bot.forge.gitlab import access_permission
from bot.forge.markers import hidden_marker, quote_lines, with_marker
from bot.forge.retry import retry_transient, wait_for_rate_limit
from bot.forge.types import ChangedFile, Permission

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Flaky:
    def __init__(self, errors: Sequence[Exception]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retry_transient_retries_then_succeeds() -> None:
    waits: list[float] = []
    flaky = Flaky([ForgeUnavailable("502"), ForgeUnavailable("503")])
    result = retry_transient(
        flaky,
        is_transient=lambda e: isinstance(e, ForgeUnavailable),
        attempts=3,
        backoff_s=1,
        sleep=waits.append,
    )
    assert result == "ok"
    assert waits == [1, 2]


def test_retry_transient_is_bounded_and_passes_other_errors() -> None:
    with pytest.raises(ForgeUnavailable, match="after 2 attempts"):
        retry_transient(
            Flaky([ForgeUnavailable("a")] * 5),
            is_transient=lambda e: True,
            attempts=2,
            backoff_s=0,
            sleep=lambda s: None,
        )
    flaky = Flaky([NotFound("x")])
    with pytest.raises(NotFound):
        retry_transient(
            flaky, is_transient=lambda e: isinstance(e, ForgeUnavailable), attempts=3, backoff_s=0
        )
    assert flaky.calls == 1


def test_wait_for_rate_limit_sleeps_until_reset() -> None:
    waits: list[float] = []
    flaky = Flaky([RateLimited("slow down", reset_at=NOW + timedelta(seconds=20))])
    assert wait_for_rate_limit(flaky, sleep=waits.append, now=lambda: NOW) == "ok"
    assert waits == [20.25]


def test_wait_for_rate_limit_is_bounded() -> None:
    limited = [RateLimited("x", reset_at=NOW + timedelta(seconds=1)) for _ in range(5)]
    flaky = Flaky(limited)
    with pytest.raises(RateLimited):
        wait_for_rate_limit(flaky, max_attempts=3, sleep=lambda s: None, now=lambda: NOW)
    assert flaky.calls == 3


def test_reset_time_from_headers() -> None:
    epoch = int((datetime.now(UTC) + timedelta(seconds=90)).timestamp())
    reset = reset_time({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(epoch)})
    assert reset == datetime.fromtimestamp(epoch, UTC)
    before = datetime.now(UTC)
    retry_after = reset_time({"Retry-After": "30"})
    after = datetime.now(UTC)  # bracketed: exact however long the call took
    assert retry_after is not None
    assert before + timedelta(seconds=30) <= retry_after <= after + timedelta(seconds=30)
    assert reset_time({"X-RateLimit-Remaining": "10"}) is None


@pytest.mark.parametrize(
    ("level", "permission"),
    [
        (0, Permission.NONE),
        (5, Permission.NONE),
        (10, Permission.READ),
        (15, Permission.READ),
        (20, Permission.TRIAGE),
        (30, Permission.WRITE),
        (40, Permission.MAINTAIN),
        (50, Permission.ADMIN),
    ],
)
def test_gitlab_access_levels(level: int, permission: Permission) -> None:
    assert access_permission(level) == permission
    assert access_permission(level).can_write == (level >= 30)


def test_old_lines_follow_hunks() -> None:
    patch = "@@ -3,4 +3,5 @@\n ctx3\n-old4\n+new4\n+new5\n ctx5\n ctx6"
    assert old_lines(patch) == {3: 3, 4: 5, 5: 5, 6: 5, 7: 6}


def test_unified_diff_from_files() -> None:
    files = (
        ChangedFile("a.py", "modified", "@@ -1 +1 @@\n-x\n+y"),
        ChangedFile("new.py", "added", "@@ -0,0 +1 @@\n+z"),
        ChangedFile("b.py", "renamed", "", old_path="old.py"),
        ChangedFile("img.png", "added", None),
    )
    text = unified_diff(files)
    assert "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n" in text
    assert "new file mode 100644\n--- /dev/null\n+++ b/new.py\n" in text
    assert "rename from old.py\nrename to b.py\n" in text
    assert "Binary files a/img.png and b/img.png differ" in text


def test_line_code() -> None:
    assert line_code("a.py", None, 4) == line_code("a.py", 0, 4)
    assert line_code("a.py", 2, 4).endswith("_2_4")
    assert len(line_code("a.py", 2, 4).split("_")[0]) == 40


def test_markers() -> None:
    marker = hidden_marker("summary")
    assert marker == "<!-- forge-assist:summary -->"
    assert with_marker("body", marker) == f"body\n\n{marker}"
    assert with_marker(f"body {marker}", marker) == f"body {marker}"
    assert quote_lines(f"first\n\n{marker}\nsecond") == "> first\n> second"


@pytest.mark.parametrize(
    ("kind", "api_url", "expected"),
    [
        ("github", "https://api.github.com", "https://x-access-token:t%2Fk@github.com/o/r.git"),
        (
            "github",
            "https://ghe.example/api/v3",
            "https://x-access-token:t%2Fk@ghe.example/o/r.git",
        ),
        ("gitlab", "https://gitlab.com", "https://oauth2:t%2Fk@gitlab.com/o/r.git"),
        (
            "gitlab",
            "https://corp.example/gitlab/",
            "https://oauth2:t%2Fk@corp.example/gitlab/o/r.git",
        ),
    ],
)
def test_clone_urls(kind: str, api_url: str, expected: str) -> None:
    from pydantic import SecretStr

    from bot.domain import RepoRef
    from bot.forge.auth import StaticToken
    from bot.forge.github import GitHubForge
    from bot.forge.gitlab import GitLabForge

    tokens = StaticToken(SecretStr("t/k"))
    forge = (
        GitHubForge(api_url=api_url, tokens=tokens)
        if kind == "github"
        else GitLabForge(url=api_url, tokens=tokens)
    )
    url = forge.clone_url(RepoRef(kind, "o/r"))  # type: ignore[arg-type]
    assert url.get_secret_value() == expected
    assert "t%2Fk" not in repr(url)
