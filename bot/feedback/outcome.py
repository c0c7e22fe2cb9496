"""The outcome of a finding from the signals it received. Pure (docs/feedback.md).

Signals, strongest first:

1. ``applied``: a later commit contains the suggested replacement -> **accepted**.
2. Votes: 👍 is +1 and 👎 is -1 per person (the latest of each person counts once, an award
   taken back cancels it); a reply
   that disagrees ("false positive", "on purpose", "wrong"...) is -1 and one that agrees
   ("fixed", "good catch", "thanks") is +1. A positive sum -> **accepted**, a negative one ->
   **rejected**.
3. ``changed``: the anchored code changed in a later push -> **accepted** (likely acted upon).
4. The thread's latest state is resolved -> **accepted**.
5. The change was merged or closed, or the finding went outdated without its code changing,
   and nothing above decided -> **ignored**.
6. Otherwise undecided (None): the change is still open and nobody reacted.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Kind(enum.StrEnum):
    REACTION = "reaction"  # value: +1, -1, or another reaction
    REPLY = "reply"  # value: the reply text (capped)
    THREAD = "thread"  # value: resolved | unresolved
    APPLIED = "applied"  # the suggestion is in a later commit
    CHANGED = "changed"  # the anchored code changed in a later push
    OUTDATED = "outdated"  # left the diff without its code changing
    CLOSED = "closed"  # value: merged | closed


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Signal:
    kind: Kind
    value: str = ""
    actor: str = ""
    order: int = 0  # later signals have higher order (the row id)


_DISAGREE = re.compile(
    r"\b(false positive|not (a |an )?(bug|issue|problem)|on purpose|intentional(ly)?|"
    r"by design|wrong|incorrect|disagree|won'?t fix|not relevant|irrelevant|nonsense|"
    r"doesn'?t apply|does not apply|not needed|unnecessary|noise)\b",
    re.IGNORECASE,
)
_AGREE = re.compile(
    r"\b(fixed|good catch|nice catch|thanks|thank you|done|agreed|you'?re right|"
    r"will fix|makes sense)\b",
    re.IGNORECASE,
)

REPLY_CHARS = 2000


def reply_vote(text: str) -> int:
    """-1 for a reply that disagrees, +1 for one that agrees, 0 otherwise."""
    if _DISAGREE.search(text):
        return -1
    if _AGREE.search(text):
        return 1
    return 0


def _vote(signal: Signal) -> int:
    if signal.kind is Kind.REACTION:
        return {"+1": 1, "-1": -1}.get(signal.value, 0)
    if signal.kind is Kind.REPLY:
        return reply_vote(signal.value)
    return 0


def outcome(signals: Iterable[Signal]) -> Outcome | None:
    """The outcome rule of the module docstring."""
    ordered: Sequence[Signal] = sorted(signals, key=lambda s: s.order)
    kinds = {s.kind for s in ordered}
    if Kind.APPLIED in kinds:
        return Outcome.ACCEPTED
    votes: dict[tuple[str, Kind], int] = {}
    for s in ordered:
        v = _vote(s)
        if v or s.value.startswith("revoke:"):
            votes[(s.actor, s.kind)] = v  # a person's latest reaction / reply counts
    total = sum(votes.values())
    if total > 0:
        return Outcome.ACCEPTED
    if total < 0:
        return Outcome.REJECTED
    if Kind.CHANGED in kinds:
        return Outcome.ACCEPTED
    threads = [s.value for s in ordered if s.kind is Kind.THREAD]
    if threads and threads[-1] == "resolved":
        return Outcome.ACCEPTED
    if kinds & {Kind.CLOSED, Kind.OUTDATED}:
        return Outcome.IGNORED
    return None
