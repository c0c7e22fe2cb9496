"""Per-repository second-pass thresholds learned from outcomes. Pure (docs/feedback.md).

A category with at least ``MIN_SAMPLE`` decided findings (accepted + rejected + ignored) whose
acceptance rate ``p`` is under one half needs a higher confidence:
``base + (CEILING - base) * (1 - 2p)``, rounded to 0.01. With ``p`` = 0 that is ``CEILING``
(0.95), so a category the team always rejects is all but muted; a category at ``p`` >= 0.5 keeps
the configured ``min_confidence``. Fewer decided findings than ``MIN_SAMPLE`` change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIN_SAMPLE = 10
CEILING = 0.95


@dataclass(frozen=True, slots=True)
class History:
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.ignored


@dataclass(frozen=True, slots=True)
class Threshold:
    category: str
    value: float
    history: History

    def describe(self) -> str:
        h = self.history
        return (
            f"{self.category} findings need {self.value:.2f} here: "
            f"{h.accepted} of {h.decided} accepted"
        )


def learned_threshold(base: float, history: History, *, min_sample: int = MIN_SAMPLE) -> float:
    """The confidence a category needs in this repository (``base`` when history is thin or
    good)."""
    if history.decided < max(1, min_sample):
        return base
    p = history.accepted / history.decided
    if p >= 0.5 or base >= CEILING:
        return base
    return round(base + (CEILING - base) * (1 - 2 * p), 2)


def thresholds(
    base: float, histories: Mapping[str, History], *, min_sample: int = MIN_SAMPLE
) -> dict[str, Threshold]:
    """The categories whose learned threshold is above ``base``."""
    out: dict[str, Threshold] = {}
    for category, history in sorted(histories.items()):
        value = learned_threshold(base, history, min_sample=min_sample)
        if value > base:
            out[category] = Threshold(category, value, history)
    return out
