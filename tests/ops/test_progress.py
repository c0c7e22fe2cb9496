"""CLI progress: plain lines when the output is not a terminal, a rich bar when it is."""

from __future__ import annotations

import io
import os
import select

from bot.ops.progress import CliProgress


def test_plain_lines_without_a_terminal() -> None:
    out = io.StringIO()
    with CliProgress("assist review", total=2, stream=out) as bar:
        bar.step("a.py reviewed")
        bar.stage("the second pass")
        bar.step("b.py reviewed")
    assert out.getvalue().splitlines() == [
        "assist review: [1/2] a.py reviewed",
        "assist review: the second pass",
        "assist review: [2/2] b.py reviewed",
    ]


def test_a_bar_on_a_terminal() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as tty:
        assert tty.isatty()
        with CliProgress("assist review", total=2, stream=tty) as bar:
            bar.step("a.py reviewed")
            bar.step("b.py reviewed")
        tty.flush()
        chunks = []
        while select.select([leader], [], [], 1.0)[0]:  # all the terminal got, in pieces
            chunks.append(os.read(leader, 65536))
        shown = b"".join(chunks).decode(errors="replace")
    os.close(leader)
    assert "assist review" in shown
    assert "2/2" in shown
    assert "b.py reviewed" in shown
    assert "[1/2] a.py" not in shown  # not the plain lines
