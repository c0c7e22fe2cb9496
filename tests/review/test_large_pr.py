"""A large pull request through the whole review service with the scripted model: 50 files
of 400 KB each, a few changed lines in each. Each source is parsed at most once and the
parsing is bounded, so the review completes and posts (before, context building re-parsed
every source for every file: hours for a change of this size).

"Within the job timeout" is asserted on the work the review does, not on a wall-clock race:
the CPU seconds of this process and its children (the review, the in-process test forge and
its git commands), which a busy machine does not inflate, must stay under the deployed
``job_timeout_s``. The N-squared parsing this test guards against is CPU work: it would fail."""

from __future__ import annotations

import asyncio
import json
import resource
import time

import pytest

from bot.domain import RepoRef
from bot.forge.factory import build_forge
from bot.review.memory import NoMemory
from bot.review.render import SUMMARY_MARKER
from bot.review.service import review_change
from tests.forge.conftest import APP_ID, REPO, make_settings
from tests.llm.scripted_server import ScriptedServer, chat_reply
from tests.testforge import TestForge
from tests.testforge.fixtures import AppKey

FILES = 50
FILE_BYTES = 400 * 1024


def cpu_s() -> float:
    """CPU seconds of this process and its waited-for children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def module(index: int, *, changed: bool) -> str:
    """About FILE_BYTES of plain Python: many functions calling each other."""
    parts: list[str] = []
    size = 0
    k = 0
    while size < FILE_BYTES:
        body = "".join(
            f"    value_{j} = helper_{index}_{max(k - 1, 0)}(value_{j - 1 if j else 0}) + {j}\n"
            for j in range(12)
        )
        if changed and k % 400 == 7:
            body += "    value_0 = value_0 // 0  # changed\n"
        text = f"def helper_{index}_{k}(value_0):\n{body}    return value_11\n\n\n"
        parts.append(text)
        size += len(text)
        k += 1
    return "".join(parts)


@pytest.mark.timeout(1800)  # waits for the review to end; the cap only catches a hang
def test_a_50_file_pr_of_400_kb_files_reviews_and_posts(
    testforge: TestForge, app_key: AppKey, scripted: ScriptedServer
) -> None:
    testforge.create_repo(
        REPO, files={f"pkg/mod_{i}.py": module(i, changed=False) for i in range(FILES)}
    )
    testforge.add_app(APP_ID, app_key.public_pem)
    testforge.add_installation(APP_ID, [REPO])
    testforge.commit(
        REPO,
        "feature",
        {f"pkg/mod_{i}.py": module(i, changed=True) for i in range(FILES)},
        "Divide by zero everywhere",
    )
    number = testforge.add_pull(REPO, head="feature", title="Big", body="Large", author="alice")
    empty = chat_reply(json.dumps({"findings": []}))
    scripted.push(*[empty] * (FILES * 2))
    settings = make_settings(
        "github",
        testforge,
        app_key,
        llm_base_urls=[scripted.base_url],
        llm_model="scripted",
        llm_max_retries=2,  # as deployed: a keep-alive connection the server closed is retried
        llm_context_tokens=16000,
    )
    forge = build_forge(settings, "github", github_write_pause_s=None)
    cpu_before, wall_before = cpu_s(), time.monotonic()
    outcome = asyncio.run(
        review_change(settings, forge, RepoRef("github", REPO), number, memory=NoMemory())
    )
    spent, wall = cpu_s() - cpu_before, time.monotonic() - wall_before
    assert outcome.status == "posted"
    assert spent < settings.job_timeout_s, (
        f"the review took {spent:.0f} CPU seconds ({wall:.0f} s on the clock), "
        f"past the job timeout of {settings.job_timeout_s} s"
    )
    assert outcome.result is not None
    assert outcome.result.files_reviewed == FILES
    reviewed_by_model = len(scripted.chat_requests())
    assert reviewed_by_model >= FILES  # every file went to the model
    summaries = [
        c["body"]
        for c in testforge.comments(REPO, number, kind="issue")
        if SUMMARY_MARKER in c["body"]
    ]
    assert len(summaries) == 1
