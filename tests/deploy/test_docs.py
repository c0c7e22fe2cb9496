"""docs/deployment.md stays true to the files it describes."""

from __future__ import annotations

import re

from bot.settings import Settings
from tests.deploy.conftest import ROOT

GUIDE = ROOT / "docs" / "deployment.md"


def test_every_secret_setting_is_in_the_secrets_table() -> None:
    text = GUIDE.read_text()
    table = text.split("## 5. Every secret", 1)[1].split("\n## ", 1)[0]
    for name, field in Settings.model_fields.items():
        if "SecretStr" in str(field.annotation):
            assert f"`ASSIST_{name.upper()}" in table, name


def test_every_variable_the_guide_names_exists() -> None:
    text = GUIDE.read_text()
    known = {f"ASSIST_{name.upper()}" for name in Settings.model_fields}
    compose_only = {"ASSIST_PUBLISH", "ASSIST_REVIEW_WORKERS", "ASSIST_IMAGE"}
    named = set(re.findall(r"\bASSIST_[A-Z_]+[A-Z]\b", text))
    assert named - known - compose_only == set()
    compose = (ROOT / "docker-compose.yml").read_text()
    for variable in compose_only & named:
        assert variable in compose, variable


def test_every_repository_path_the_guide_names_exists() -> None:
    text = GUIDE.read_text()
    paths = set(re.findall(r"`((?:deploy|docs|tests|scripts)/[\w./-]*)`", text))
    assert len(paths) > 10
    for path in paths:
        assert (ROOT / path).exists(), path
