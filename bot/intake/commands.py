"""Parse `/assist ...` commands out of comment text. Pure."""

from __future__ import annotations

import re

from bot.intake.events import Command, CommandName

MAX_ARGUMENT_CHARS = 4000
_FENCE = re.compile(r"^\s*(```|~~~)")
_QUOTE = re.compile(r"^\s*>")


def parse_command(body: str, *, prefix: str = "/assist") -> Command | None:
    """Return the first command in ``body``, or None.

    A command is a line starting with the prefix (leading spaces allowed). Lines inside fenced
    code blocks and quoted lines (``> /assist fix`` quoting someone else) never count. An
    unknown sub-command, or the bare prefix, means help. The argument is the rest of the line
    plus any following lines, capped at ``MAX_ARGUMENT_CHARS``.
    """
    lines = body.replace("\r\n", "\n").split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence or _QUOTE.match(line):
            continue
        stripped = line.strip()
        if stripped != prefix and not stripped.startswith(prefix + " "):
            continue
        rest = stripped[len(prefix) :].strip()
        word, _, argument = rest.partition(" ")
        tail = "\n".join(lines[index + 1 :]).strip()
        argument = (argument.strip() + ("\n" + tail if tail else "")).strip()
        try:
            name = CommandName(word.lower())
        except ValueError:
            return Command(CommandName.HELP, rest[:MAX_ARGUMENT_CHARS])
        return Command(name, argument[:MAX_ARGUMENT_CHARS])
    return None
