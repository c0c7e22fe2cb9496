"""The model check every command and job makes first (bot/llm/check.py), and the defaults
fitted to the served model; `assist review` and `assist fix` with the model down fail at once
with the URL and the reason instead of indexing and retrying for minutes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.llm.check import ModelCheckError, ServedModel, check_model, fit_settings
from bot.settings import Settings
from tests.llm.scripted_server import ScriptedServer, dead_url
from tests.review.test_pipeline import repo  # noqa: F401  (fixture: a repository with a change)
from tests.support.processes import ROOT, assist_cmd, assist_env


def settings(url: str, **extra: object) -> Settings:
    return Settings.model_validate({"llm_base_urls": [url], "llm_model": "scripted", **extra})


def test_served_model_and_its_context(scripted: ScriptedServer) -> None:
    scripted.max_model_len = 2048
    served = check_model(settings(scripted.base_url))
    assert (served.url, served.names, served.max_model_len) == (
        scripted.base_url,
        ("scripted",),
        2048,
    )


def test_down_or_another_model_names_the_url_and_the_reason(scripted: ScriptedServer) -> None:
    dead = dead_url()
    with pytest.raises(ModelCheckError, match="is not reachable") as caught:
        check_model(settings(dead))
    assert caught.value.url == dead.rstrip("/")
    scripted.served = ["other"]
    with pytest.raises(ModelCheckError, match="serves other, not scripted"):
        check_model(settings(scripted.base_url))


def test_a_second_replica_serves_when_the_first_is_down(scripted: ScriptedServer) -> None:
    both = Settings.model_validate(
        {"llm_base_urls": [dead_url(), scripted.base_url], "llm_model": "scripted"}
    )
    assert check_model(both).url == scripted.base_url


def test_defaults_fit_a_slow_cpu_model_and_explicit_settings_stay() -> None:
    served = ServedModel("http://m/v1", ("scripted",), 2048)
    defaults = settings("http://m/v1", llm_context_tokens=4096)
    fitted, values = fit_settings(defaults, served, tokens_per_s=5.0)
    assert fitted.llm_context_tokens == 2048  # the server's, not a prompt it would refuse
    assert fitted.llm_max_concurrency == 1  # one request at a time on a CPU model
    assert fitted.llm_timeout_s >= 1.5 * 768 / 5  # a full answer at the measured speed
    assert set(values) == {"llm_context_tokens", "llm_max_concurrency", "llm_timeout_s"}
    chosen = settings("http://m/v1", llm_max_concurrency=4, llm_timeout_s=30.0)
    fitted, values = fit_settings(chosen, served, tokens_per_s=5.0)
    assert (fitted.llm_max_concurrency, fitted.llm_timeout_s) == (4, 30.0)
    fast, values = fit_settings(settings("http://m/v1"), served, tokens_per_s=2000.0)
    assert fast.llm_max_concurrency == 8
    assert "llm_timeout_s" not in values


@pytest.mark.parametrize("command", ["review", "fix"])
def test_commands_fail_fast_with_the_model_down(
    command: str,
    repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    dead = dead_url()
    (tmp_path / "ISSUE.md").write_text("# total() is wrong\n\nIt skips an item.\n")
    args = (
        ["review", "--repo", str(repo), "--base", "main"]
        if command == "review"
        else ["fix", "--repo", str(repo), "--issue-text", str(tmp_path / "ISSUE.md")]
    )
    done = subprocess.run(
        assist_cmd(*args),
        env=assist_env({"ASSIST_LLM_BASE_URLS": dead, "ASSIST_CACHE_DIR": str(tmp_path / "c")}),
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"the model server at {dead.rstrip('/')} is not reachable" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "c").exists()  # failed before indexing anything
