"""`assist ask --repo PATH --base REF "question"`: the `/assist ask` pipeline (bot/review/ask.py)
on a local change, against a scripted model server; with the model server down it fails in
seconds with a message naming the URL."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.llm.scripted_server import ScriptedServer, chat_reply, dead_url
from tests.review.test_pipeline import repo  # noqa: F401  (fixture: a repository with a change)
from tests.support.processes import ROOT, assist_cmd, assist_env

QUESTION = "Why does the loop start at 1?"


def ask(at: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assist_cmd("ask", "--repo", str(at), "--base", "main", *args),
        env=assist_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def scripted_env(scripted: ScriptedServer) -> dict[str, str]:
    return {
        "ASSIST_LLM_BASE_URLS": scripted.base_url,
        "ASSIST_LLM_MODEL": "scripted",  # the served name the model check expects
        "ASSIST_LLM_MAX_RETRIES": "0",
        "ASSIST_LLM_CONTEXT_TOKENS": "32768",
    }


def test_ask_answers_about_the_local_change(
    repo: Path,  # noqa: F811
    scripted: ScriptedServer,
) -> None:
    scripted.push(chat_reply("It skips the first item: `range(1, len(items))` starts at 1."))
    done = ask(repo, scripted_env(scripted), QUESTION)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "It skips the first item: `range(1, len(items))` starts at 1.\n"
    assert "Traceback" not in done.stderr
    (request,) = scripted.chat_requests()
    prompt = "\n".join(str(m["content"]) for m in request["messages"])
    # the real ask prompt: the question, the change's title and its diff and code
    assert QUESTION in prompt
    assert "Iterate by index" in prompt
    assert "for i in range(1, len(items)):" in prompt


def timed(args: list[str], env: dict[str, str]) -> tuple[int, str, str, float, float]:
    """Run ``args``: exit status, stdout, stderr, wall seconds, and the seconds the process
    itself took: wall time less its time waiting for a CPU (/proc/PID/schedstat, read before
    it is reaped). On a machine shared by many, only the second measures the command."""
    began = time.monotonic()
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.monotonic() - began
    _cpu_ns, queued_ns, _slices = (
        int(v) for v in Path(f"/proc/{proc.pid}/schedstat").read_text().split()
    )
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err, wall, wall - queued_ns / 1e9


def test_ask_with_the_model_down_fails_within_10_s_naming_the_url(
    repo: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    dead = dead_url()
    env = assist_env({"ASSIST_LLM_BASE_URLS": dead, "ASSIST_CACHE_DIR": str(tmp_path / "c")})
    args = assist_cmd("ask", "--repo", str(repo), "--base", "main", "?")
    code, out, err, wall, own = timed(args, env)
    assert code == 1
    assert f"assist ask: the model server at {dead.rstrip('/')} is not reachable" in err
    assert "Traceback" not in err
    assert out == ""
    assert own < 10, f"took {own:.1f} s ({wall:.1f} s on the clock, the rest waiting for a CPU)"


def test_ask_without_a_change_or_a_question_says_so(
    repo: Path,  # noqa: F811
    scripted: ScriptedServer,
) -> None:
    same = ask(repo, scripted_env(scripted), QUESTION, "--head", "main")
    assert same.returncode == 2
    assert "no changes between main and main" in same.stderr
    empty = ask(repo, scripted_env(scripted), "  ")
    assert empty.returncode == 2
    assert "the question is empty" in empty.stderr
    assert scripted.chat_requests() == []
