"""What intake needs to know of the configuration, as one small pure value."""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "<!-- forge-assist"  # every hidden marker of ours starts so


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    own_logins: frozenset[str]
    command_prefix: str = "/assist"
    marker: str = MARKER

    @classmethod
    def create(cls, own_logins: list[str], command_prefix: str) -> IntakePolicy:
        return cls(frozenset(login.lower() for login in own_logins), command_prefix)

    def addresses_bot(self, text: str) -> bool:
        """The text mentions the bot (``@login``, with or without GitHub's ``[bot]``)."""
        lowered = text.lower()
        for login in self.own_logins:
            for name in {login, login.removesuffix("[bot]")}:
                if name and f"@{name}" in lowered:
                    return True
        return False
