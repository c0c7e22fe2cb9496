"""The one sanitiser: what untrusted text keeps and what it loses before it is posted."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.sanitize import code_block, inline, redact_secrets, untrusted


def test_mentions_and_references_notify_nobody() -> None:
    out = untrusted("cc @octocat @org/team, fixes #12, other/repo#3 and !4; mail a@b.c")
    assert not re.search(r"(?<![\w`])@[A-Za-z]", out)
    assert not re.search(r"(?<![\w])#\d|/repo#\d|(?<![\w])!\d", out)
    assert "a@b.c" in out  # an address is not a mention
    assert "octocat" in out
    assert "12" in out


def test_html_and_our_markers_are_stripped() -> None:
    out = untrusted(
        '<img src=x onerror="alert(1)"> <!-- forge-assist:finding:abc --> <b>bold</b> '
        "forge-assist:summary <!-- unterminated"
    )
    assert "<img" not in out
    assert "<b>" not in out
    assert "<!--" not in out
    assert "forge-assist:" not in out
    assert "bold" in out


def test_fake_suggestions_become_text_and_fences_balance() -> None:
    out = untrusted("look:\n```suggestion\nrm -rf /\n```\nthen\n~~~~python\nopen")
    assert "```suggestion" not in out
    assert "```text" in out
    assert out.rstrip().endswith("~~~~")


def test_secrets_are_redacted() -> None:
    text = (
        "token ghs_0123456789abcdefghijABCDEFGHIJ and glpat-abcdefghijklmnopqrst in "
        "https://oauth2:hunter2hunter2@gitlab.example/x.git password=sw0rdfish!\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nexact-value-9"
    )
    out = redact_secrets(text, extra=["exact-value-9"])
    for secret in ("ghs_0123", "glpat-abc", "hunter2", "sw0rdfish", "MIIEow", "exact-value-9"):
        assert secret not in out
    assert "[redacted]" in out


def test_inline_and_code_block() -> None:
    assert "\n" not in inline("a\nb `c`")
    block = code_block("```\ninner ghs_0123456789abcdefghijABCDEFGHIJ\n```")
    assert block.startswith("````")
    assert block.endswith("````")
    assert "ghs_0123" not in block


@given(st.text(max_size=300))
def test_property_no_live_marker_tag_or_open_fence_survives(text: str) -> None:
    out = untrusted(text)
    assert "<!--" not in out
    assert "forge-assist:" not in out.lower()
    assert not re.search(r"<[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>", out)
