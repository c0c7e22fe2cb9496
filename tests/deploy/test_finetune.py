"""The LoRA round trip on the CPU: feedback rows -> `assist export feedback --format sft` ->
deploy/finetune/train_lora.py (a few steps on SmolLM2) -> vLLM --enable-lora -> an answer
through our model client under the adapter's name."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bot.llm import LLMConfig, Message, OpenAIClient
from tests.support.processes import ROOT, assist_cmd, assist_env
from tests.support.vllm import (
    START_TIMEOUT_S,
    VLLM_HOME,
    VLLM_MODEL_DIR,
    VLLMServer,
    free_port,
    stop_vllm,
)

PROMPT = [
    {"role": "system", "content": "You review code changes. Answer JSON."},
    {"role": "user", "content": "+++ a.py\n     3 +x = 1 / 0"},
]
FINDING = {
    "file": "a.py",
    "quoted_code": "x = 1 / 0",
    "line": 3,
    "severity": "major",
    "category": "bug",
    "title": "Division by zero",
    "explanation": "1 / 0 raises.",
}


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_lora_trains_saves_serves_and_answers(tmp_path: Path) -> None:
    if os.environ.get("ASSIST_SKIP_VLLM") == "1":
        pytest.skip("ASSIST_SKIP_VLLM=1")
    python = VLLM_HOME / "venv" / "bin" / "python"
    have_peft = subprocess.run([python, "-c", "import peft"], capture_output=True, check=False)
    if have_peft.returncode != 0:
        pytest.fail("peft is not in the model venv: run deploy/finetune/setup.sh")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"prompt": PROMPT, "finding": FINDING, "outcome": "accepted"}) + "\n"
    )
    sft = tmp_path / "sft.jsonl"
    subprocess.run(
        assist_cmd("export", "feedback", "--format", "sft", "--rows", str(rows), "--out", str(sft)),
        env=assist_env({}), cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    adapter = tmp_path / "adapter"
    trained = subprocess.run(
        [python, str(ROOT / "deploy" / "finetune" / "train_lora.py"), "--model",
         str(VLLM_MODEL_DIR), "--data", str(sft), "--out", str(adapter), "--steps", "2",
         "--rank", "8", "--alpha", "16"],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "step 2/2 loss" in trained.stdout
    assert (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8

    port = free_port()
    log = tmp_path / "vllm-lora.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", str(ROOT / "deploy" / "finetune" / "serve_lora.sh"), str(adapter),
             "--name", "review-lora", "--port", str(port), "--rank", "8"],
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = VLLMServer(f"http://127.0.0.1:{port}/v1", "review-lora", adapter, process, log)
    try:
        # Loading the adapter adds to the start; on a busy 2-core machine it took 6.5 minutes.
        deadline = time.monotonic() + 2 * START_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{server.root}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(1)
        models = httpx.get(f"{server.base_url}/models", timeout=10).json()
        assert "review-lora" in [m["id"] for m in models["data"]]

        async def ask() -> str:
            config = LLMConfig((server.base_url,), "review-lora", timeout_s=600, seed=1)
            async with OpenAIClient(config) as client:
                done = await client.complete(
                    [
                        Message("system", PROMPT[0]["content"]),
                        Message("user", PROMPT[1]["content"]),
                    ],
                    max_tokens=24,
                )
                assert done.model == "review-lora"
                return done.text

        assert asyncio.run(ask()).strip()
    finally:
        stop_vllm(server)
