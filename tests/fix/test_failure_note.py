"""`/assist fix` that fails for good: ONE reply on the issue (edited in place on the next
failure) that names the cause without its details and says an operator can retry; both forges
(bot/jobs/lifecycle.report_failure, as the job's final failure calls it)."""

from __future__ import annotations

from bot.domain import RepoRef
from bot.jobs.lifecycle import public_reason, report_failure
from bot.llm.check import ModelCheckError
from bot.llm.errors import LLMUnavailableError
from tests.fix.conftest import BOT_TOKEN, REPO, World


def test_a_failed_fix_leaves_one_reply_on_the_issue(world: World) -> None:
    forge, repo = world.forge(), RepoRef(world.kind, REPO)
    kwargs = world.kwargs(world.command())
    url = f"http://user:{BOT_TOKEN}@10.0.0.7:8000/v1"
    down = ModelCheckError(url, "is not reachable (ConnectError)")
    report_failure(forge, repo, kwargs, kind="fix", job_id="fix-job-1", exc=down)
    slow = LLMUnavailableError(f"timed out: the model at {url} ...", attempts=1, last_status=None)
    report_failure(forge, repo, kwargs, kind="fix", job_id="fix-job-2", exc=slow)
    notes = [b for b in world.bot_comments() if "forge-assist:job-failed:fix" in b]
    assert len(notes) == 1  # edited in place, not repeated
    (note,) = notes
    assert "could not finish the `/assist fix` for this issue" in note
    assert "the model did not finish its answer in time" in note  # the latest failure
    assert "assist jobs retry fix-job-2" in note
    for secret in (BOT_TOKEN, "10.0.0.7", "ConnectError"):
        assert secret not in note


def test_reasons_never_carry_the_exception_text() -> None:
    secret = "glpat-s3cr3t"
    for exc in (
        ModelCheckError(f"http://{secret}@h/v1", f"serves {secret}, not m"),
        LLMUnavailableError(secret, attempts=1, last_status=502),
        RuntimeError(secret),
    ):
        assert secret not in public_reason(exc)
