from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intake.commands import MAX_ARGUMENT_CHARS, parse_command
from bot.intake.events import Command, CommandName


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/assist review", Command(CommandName.REVIEW)),
        ("  /assist REVIEW  ", Command(CommandName.REVIEW)),
        (
            "/assist fix use a lock\nand test it",
            Command(CommandName.FIX, "use a lock\nand test it"),
        ),
        ("hello\r\n/assist ask why?\r\n", Command(CommandName.ASK, "why?")),
        ("/assist", Command(CommandName.HELP)),
        ("/assist dance now", Command(CommandName.HELP, "dance now")),
        ("/assistant review", None),
        ("please /assist review", None),
        ("> /assist fix", None),
        ("```\n/assist fix\n```\n", None),
        ("~~~\n/assist fix\n~~~\n/assist review", Command(CommandName.REVIEW)),
        ("", None),
    ],
)
def test_parse(body: str, expected: Command | None) -> None:
    assert parse_command(body) == expected


def test_custom_prefix() -> None:
    assert parse_command("/bot fix", prefix="/bot") == Command(CommandName.FIX)
    assert parse_command("/assist fix", prefix="/bot") is None


def test_argument_is_capped() -> None:
    command = parse_command("/assist ask " + "x" * 10_000)
    assert command is not None
    assert len(command.argument) == MAX_ARGUMENT_CHARS


@given(st.text(max_size=2000))
def test_never_crashes(body: str) -> None:
    command = parse_command(body)
    assert command is None or isinstance(command.name, CommandName)
