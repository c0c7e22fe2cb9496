from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.ops.configdoc import settings_markdown
from bot.settings import Settings, SettingsError, validate_for_serving

GOOD = "a-real-secret-0123456789"


def test_lists_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_GITHUB_WEBHOOK_SECRETS", f"{GOOD}, second-secret-0123456789")
    monkeypatch.setenv("ASSIST_LLM_BASE_URLS", "http://a:8000/v1,http://b:8000/v1")
    settings = Settings()
    assert [s.get_secret_value() for s in settings.github_webhook_secrets] == [
        GOOD,
        "second-secret-0123456789",
    ]
    assert settings.llm_base_urls == ["http://a:8000/v1", "http://b:8000/v1"]
    assert GOOD not in repr(settings)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(Exception, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("changeme", "placeholder"),
        ("<your secret>", "placeholder"),
        ("short", "shorter than 16"),
    ],
)
def test_bad_secrets_refused(secret: str, problem: str) -> None:
    settings = Settings(github_webhook_secrets=[SecretStr(GOOD), SecretStr(secret)])
    with pytest.raises(SettingsError, match=problem) as info:
        validate_for_serving(settings)
    assert "entry 2" in str(info.value)


def test_no_secret_at_all_refused() -> None:
    with pytest.raises(SettingsError, match="no webhook secret"):
        validate_for_serving(Settings())


def test_one_forge_is_enough() -> None:
    validate_for_serving(Settings(gitlab_webhook_tokens=[SecretStr(GOOD)]))


def test_every_setting_is_documented() -> None:
    table = settings_markdown()
    for name, field in Settings.model_fields.items():
        assert f"`ASSIST_{name.upper()}`" in table
        assert field.description, name


def test_readme_settings_table_is_current() -> None:
    from pathlib import Path

    from bot.ops.configdoc import splice

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert splice(readme) == readme, "README settings table is stale: run `make docs`"
