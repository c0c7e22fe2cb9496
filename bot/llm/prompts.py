"""Prompt texts from ``bot/prompts`` (data files), read once and formatted here."""

from __future__ import annotations

import functools
import importlib.resources


@functools.cache
def load(name: str) -> str:
    """The text of ``bot/prompts/<name>``, without its trailing newline."""
    return (importlib.resources.files("bot.prompts") / name).read_text("utf-8").rstrip("\n")


def untrusted_data_rules(nonce: str) -> str:
    return load("untrusted_data.md").replace("{nonce}", nonce)


def json_answer(schema_json: str) -> str:
    return load("json_answer.md").replace("{schema}", schema_json)


def json_repair(problems: str) -> str:
    return load("json_repair.md").replace("{problems}", problems)
