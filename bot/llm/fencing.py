"""Fence untrusted text (diffs, PR/issue bodies, comments) as data inside a prompt. Pure.

One nonce per prompt layout: every fenced part and the system prompt's rule about fences use
it, so the stable prefix (system prompt + repository context) stays byte-identical across the
calls of one review and vLLM's prefix cache keeps serving it. ``derive_nonce`` makes it stable
across the commits of one pull request too (an HMAC of the PR's identity under a server-side
key: unpredictable to the authors of the untrusted text, the same for every run on that PR).

Untrusted text cannot close a fence: the delimiter word ``UNTRUSTED_DATA`` is rewritten
wherever it occurs inside the text (whatever its case), so no line of the data can read as a
delimiter, and the nonce cannot be guessed besides.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from bot.llm import prompts

MARKER = "UNTRUSTED_DATA"
_MARKER_RE = re.compile(re.escape(MARKER), re.IGNORECASE)
_KIND_RE = re.compile(r"[^a-z0-9_.-]+")
_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,64}")


def new_nonce() -> str:
    """A fresh random nonce (16 hex digits): one per prompt layout, i.e. per review job."""
    return secrets.token_hex(8)


def derive_nonce(key: bytes, *scope: str) -> str:
    """A nonce fixed for ``scope`` (e.g. forge, repository, PR number) under a secret ``key``."""
    if not key:
        raise ValueError("derive_nonce needs a non-empty secret key")
    message = "\x1f".join(scope).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def _escape(text: str) -> str:
    # "UNTRUSTED_DATA" -> "UNTRUSTED-DATA" (same case as found): readable, and never a delimiter.
    return _MARKER_RE.sub(lambda match: match.group(0).replace("_", "-"), text)


def fence(text: str, *, kind: str, nonce: str) -> str:
    """``text`` enclosed as data of the given kind (e.g. ``diff``, ``pr_body``, ``comment``)."""
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("the nonce must be 8-64 ASCII letters or digits")
    label = _KIND_RE.sub("_", kind.lower()).strip("_") or "data"
    body = _escape(text)
    if not body.endswith("\n"):
        body += "\n"
    return f"BEGIN_{MARKER}_{nonce} kind={label}\n{body}END_{MARKER}_{nonce}"


def system_rules(nonce: str) -> str:
    """The paragraph of the system prompt that says fenced content is data, never instructions."""
    return prompts.untrusted_data_rules(nonce)
