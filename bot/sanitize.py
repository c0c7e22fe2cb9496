"""The one sanitiser for text we post that came from someone else (the model, a user, a
repository's test output). Pure.

- ``@name`` mentions and ``#123`` / ``group/project#1`` / ``!12`` references are neutralised
  (a zero-width joiner after the sigil, so they read the same and notify or link nobody);
- raw HTML is dropped (tags and comments, so also every hidden ``forge-assist:`` marker: only
  the code that builds a comment adds ours, after sanitising);
- code fences are balanced, so untrusted text cannot open a fence that swallows what follows,
  and a ``suggestion`` fence in prose becomes a plain ``text`` block (a committable
  suggestion is only ever written by our renderer, from a checked replacement);
- secrets are redacted: tokens in the shapes the forges and common tools issue, private key
  blocks, credentials in URLs, and any exact value the caller names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_JOINER = "\u2060"  # word joiner: invisible, breaks the mention/reference syntax
_MENTION = re.compile(r"(?<![\w`/.@])@(?=[A-Za-z0-9_-])")
_REFERENCE = re.compile(r"(?<![\w&/`])([#!])(?=\d)|(?<=[\w.-])(#|!)(?=\d)")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
_MARKER = re.compile(r"forge-assist:", re.IGNORECASE)
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_SECRETS = (
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL
    ),
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{16,}\b"),
    re.compile(r"\bgl(?:dt|rt|cbt|ptt|oas|soat)-[A-Za-z0-9_-]{16,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"(?i)(bearer|token|password|passwd|secret|api[_-]?key)(\s*[:=]\s*)([^\s'\"]{6,})"),
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
REDACTED = "[redacted]"


def redact_secrets(text: str, *, extra: Iterable[str] = ()) -> str:
    """``text`` with token-shaped strings, key blocks, URL credentials and ``extra`` values
    (4 characters or more) replaced by ``[redacted]``."""
    for value in sorted({v for v in extra if len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    for pattern in _SECRETS:
        if pattern.groups >= 3:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def neutralise(text: str) -> str:
    """Mentions and references that notify or link nobody."""
    text = _MENTION.sub("@" + _JOINER, text)
    return _REFERENCE.sub(lambda m: (m.group(1) or m.group(2)) + _JOINER, text)


def strip_html(text: str) -> str:
    """Without HTML comments (hence without hidden markers) or tags; ``forge-assist:`` words
    left over are broken too."""
    text = _HTML_COMMENT.sub("", text)
    text = _TAG.sub("", text)
    return _MARKER.sub("forge-assist" + _JOINER + ":", text)


def defuse_suggestions(text: str) -> str:
    """Fences in untrusted prose that would post a committable ``suggestion`` shown as plain
    text blocks instead (only the code that renders a checked replacement writes one)."""
    out = []
    for line in text.splitlines(keepends=True):
        match = _FENCE.match(line.rstrip("\r\n"))
        if match is not None and match.group(3).strip().lower().startswith("suggestion"):
            end = line[len(line.rstrip("\r\n")) :]
            line = f"{match.group(1)}{match.group(2)}text{end}"
        out.append(line)
    return "".join(out)


def balance_fences(text: str) -> str:
    """Close a fence left open at the end (the same character, at least as long)."""
    open_fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match is None:
            continue
        run = match.group(2)
        if open_fence is None:
            open_fence = run
        elif run[0] == open_fence[0] and len(run) >= len(open_fence) and not match.group(3).strip():
            open_fence = None
    if open_fence is not None:
        text = text.rstrip("\n") + "\n" + open_fence + "\n"
    return text


def untrusted(text: str, *, secrets: Iterable[str] = ()) -> str:
    """Everything above: what any untrusted text goes through before it is posted."""
    clean = strip_html(redact_secrets(text, extra=secrets))
    return balance_fences(defuse_suggestions(neutralise(clean)))


def inline(text: str, *, limit: int = 200) -> str:
    """Untrusted text on one line (titles, table cells, echoed commands), at most ``limit``."""
    flat = " ".join(untrusted(text).split())
    flat = flat.replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def marker_free(code: str) -> str:
    """Code shown verbatim (a suggested replacement) with any ``forge-assist:`` marker text
    broken, so no posted code can pose as our hidden markers."""
    return _MARKER.sub("forge-assist" + _JOINER + ":", code)


def code_span(text: str, *, limit: int = 200) -> str:
    """Untrusted text (a file path, a symbol) shown verbatim in an inline code span, on one
    line: delimited by a backtick run longer than any inside it, so it cannot end the span
    early (and inside a span no mention, reference or HTML is live); marker text broken."""
    flat = marker_free(" ".join(redact_secrets(text).split()))
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    longest = max((len(m.group(0)) for m in re.finditer(r"`+", flat)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def code_block(text: str, *, language: str = "") -> str:
    """Untrusted text shown verbatim as a code block (test output): redacted, marker text
    broken, in a fence longer than any inside it, so it cannot end early."""
    clean = marker_free(redact_secrets(text))
    longest = max((len(m.group(0)) for m in re.finditer(r"`+", clean)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{clean.rstrip()}\n{fence}"
