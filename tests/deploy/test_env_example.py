"""deploy/env.example is generated from Settings and is current."""

from __future__ import annotations

import subprocess
import sys

from bot.settings import Settings
from deploy import gen_env_example
from tests.deploy.conftest import ROOT

SCRIPT = ROOT / "deploy" / "gen_env_example.py"


def test_the_checked_in_file_is_current() -> None:
    current = gen_env_example.TARGET.read_text()
    assert current == gen_env_example.render(), "run .venv/bin/python deploy/gen_env_example.py"


def test_every_setting_is_documented_once() -> None:
    text = gen_env_example.render()
    for name, field in Settings.model_fields.items():
        variable = f"ASSIST_{name.upper()}"
        lines = [line for line in text.splitlines() if line.lstrip("# ").startswith(f"{variable}=")]
        assert lines, variable
        assert field.description
        assert field.description.split()[0] in text


def test_secrets_have_no_value() -> None:
    text = gen_env_example.render()
    secret_lines = [
        (before, line)
        for before, line in zip(text.splitlines(), text.splitlines()[1:], strict=False)
        if "(secret)" in before and "ASSIST_" in line
    ]
    assert len(secret_lines) >= 8
    for _, line in secret_lines:
        assert line.endswith("="), line


def test_the_uncommented_lines_load_as_settings(tmp_path) -> None:
    """What a new user gets from `cp deploy/env.example .env` is a valid configuration."""
    values = {}
    for line in gen_env_example.render().splitlines():
        if line.startswith("ASSIST_"):
            key, _, value = line.partition("=")
            values[key.removeprefix("ASSIST_").lower()] = value
    assert {"github_webhook_secrets", "gitlab_webhook_tokens", "llm_model"} <= set(values)
    Settings.model_validate(values)


def test_check_mode_notices_a_stale_file(tmp_path) -> None:
    stale = tmp_path / "env.example"
    stale.write_text(gen_env_example.render().replace("ASSIST_PORT", "ASSIST_PROT"))
    command = [sys.executable, str(SCRIPT), "--check", "--output", str(stale)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "stale" in result.stderr
    subprocess.run([sys.executable, str(SCRIPT), "--output", str(stale)], check=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert stale.read_text() == gen_env_example.render()
