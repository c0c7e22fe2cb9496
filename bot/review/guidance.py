"""What a repository's feedback gives its next review: rules, learned thresholds, history.
Pure values and the text we post about them: rule texts, authors and finding titles are
someone else's words, so they go through the one sanitiser (bot/sanitize.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.review.thresholds import MIN_SAMPLE, History, Threshold, thresholds
from bot.sanitize import inline, neutralise


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    text: str
    author: str


@dataclass(frozen=True, slots=True)
class Guidance:
    rules: tuple[Rule, ...] = ()
    history: Mapping[str, History] = field(default_factory=dict)
    min_sample: int = MIN_SAMPLE

    def thresholds(self, base: float) -> dict[str, Threshold]:
        """Categories whose learned second-pass threshold is above ``base`` here."""
        return thresholds(base, self.history, min_sample=self.min_sample)

    def instructions(self) -> str:
        """The rules as trusted guidance for the review prompt."""
        if not self.rules:
            return ""
        lines = "\n".join(f"- (rule {r.id}) {r.text}" for r in self.rules)
        return f"Rules this repository's maintainers set with `/assist remember`:\n{lines}"

    def summary(self, base: float, drops: Sequence[tuple[str, str, float, float]] = ()) -> str:
        """The summary's section on what was learned here; empty when nothing was."""
        parts: list[str] = []
        if self.history:
            cells = ", ".join(
                f"{cat} {h.accepted} of {h.decided}"
                for cat, h in sorted(self.history.items())
                if h.decided
            )
            if cells:
                parts.append(f"Accepted before in this repository, per category: {cells}.")
        for t in self.thresholds(base).values():
            parts.append(f"- {t.describe()}.")
        for category, title, confidence, needed in drops:
            parts.append(
                f"- Not posted: {_plain(category)} finding \u201c{_plain(title, 120)}\u201d "
                f"(confidence {confidence:.2f} < {needed:.2f} learned here)."
            )
        if self.rules:
            parts.append(
                "Rules used (`/assist rules` lists them, `/assist forget <id>` removes one): "
                + "; ".join(f"{rule_ref(r.id)} {_plain(r.text, 80)}" for r in self.rules)
            )
        if not parts:
            return ""
        return "#### Learned from this repository\n\n" + "\n".join(parts) + "\n"


def _plain(text: str, limit: int = 200) -> str:
    """Someone else's text on one line (:func:`bot.sanitize.inline`: no live mention,
    reference, HTML or marker), safe in a table cell."""
    return inline(text, limit=limit).replace("|", "\\|")


def rule_ref(rule_id: int) -> str:
    """``#3`` as a rule's name that links to no issue or pull request."""
    return neutralise(f"#{rule_id}")


def rules_listing(rules: Sequence[Rule], *, most: int) -> str:
    """The reply to `/assist rules`."""
    if not rules:
        return "This repository has no rules yet. Add one with `/assist remember <rule>`."
    lines = [f"Rules of this repository ({len(rules)} of at most {most}):", ""]
    lines += [
        f"- **{rule_ref(r.id)}** {_plain(r.text, 600)} _(by {_plain(r.author, 80)})_" for r in rules
    ]
    lines += ["", "Remove one with `/assist forget <id>`."]
    return "\n".join(lines)
