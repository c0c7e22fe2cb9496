"""The outcome rule and the learned thresholds (pure)."""

from __future__ import annotations

import re

from bot.feedback.outcome import Kind, Outcome, Signal, outcome, reply_vote
from bot.review.guidance import Guidance, Rule, rule_ref
from bot.review.thresholds import History, learned_threshold, thresholds


def s(kind: Kind, value: str = "", actor: str = "bob", order: int = 0) -> Signal:
    return Signal(kind, value, actor, order)


def test_each_signal_alone() -> None:
    assert outcome([]) is None
    assert outcome([s(Kind.REACTION, "+1")]) is Outcome.ACCEPTED
    assert outcome([s(Kind.REACTION, "-1")]) is Outcome.REJECTED
    assert outcome([s(Kind.REACTION, "eyes")]) is None
    assert outcome([s(Kind.THREAD, "resolved")]) is Outcome.ACCEPTED
    assert outcome([s(Kind.APPLIED)]) is Outcome.ACCEPTED
    assert outcome([s(Kind.CHANGED)]) is Outcome.ACCEPTED
    assert outcome([s(Kind.OUTDATED)]) is Outcome.IGNORED
    assert outcome([s(Kind.CLOSED, "merged")]) is Outcome.IGNORED
    assert outcome([s(Kind.REPLY, "This is a false positive: we do it on purpose.")]) is (
        Outcome.REJECTED
    )
    assert outcome([s(Kind.REPLY, "Good catch, fixed.")]) is Outcome.ACCEPTED
    assert outcome([s(Kind.REPLY, "What about the other loop?")]) is None


def test_precedence() -> None:
    # an applied suggestion beats a thumbs down; votes beat a code change and a merge
    assert outcome([s(Kind.REACTION, "-1"), s(Kind.APPLIED)]) is Outcome.ACCEPTED
    assert outcome([s(Kind.CHANGED), s(Kind.REACTION, "-1")]) is Outcome.REJECTED
    assert outcome([s(Kind.REACTION, "+1"), s(Kind.CLOSED, "merged")]) is Outcome.ACCEPTED
    # the thread's latest state counts
    resolved_then_not = [s(Kind.THREAD, "resolved", order=1), s(Kind.THREAD, "unresolved", order=2)]
    assert outcome(resolved_then_not) is None
    # one person's vote counts once; another person's is added
    assert outcome([s(Kind.REACTION, "+1"), s(Kind.REACTION, "-1", "eve")]) is None
    assert outcome([s(Kind.REACTION, "-1", order=1), s(Kind.REACTION, "revoke:-1", order=2)]) is (
        None
    )


def test_reply_votes() -> None:
    assert reply_vote("wrong, items[0] is a header row") == -1
    assert reply_vote("thanks!") == 1
    assert reply_vote("hmm") == 0


def test_thresholds_need_a_sample_and_rise_with_rejections() -> None:
    assert learned_threshold(0.6, History(accepted=0, rejected=9)) == 0.6  # too few
    assert learned_threshold(0.6, History(accepted=0, rejected=10)) == 0.95
    assert learned_threshold(0.6, History(accepted=3, rejected=14)) == 0.83
    assert learned_threshold(0.6, History(accepted=9, rejected=8)) == 0.6  # mostly accepted
    assert learned_threshold(0.6, History(rejected=3), min_sample=3) == 0.95
    found = thresholds(0.6, {"style": History(3, 14), "bug": History(5, 5)})
    assert list(found) == ["style"]
    assert found["style"].describe() == "style findings need 0.83 here: 3 of 17 accepted"


def test_summary_states_what_was_learned() -> None:
    guidance = Guidance(
        rules=(Rule(4, "We use assert in tests on purpose | <b>", "maint"),),
        history={"style": History(0, 10), "bug": History(2, 1)},
    )
    text = guidance.summary(0.6, [("style", "Use f-strings", 0.7, 0.95)])
    assert "style findings need 0.95 here: 0 of 10 accepted" in text
    assert "bug 2 of 3" in text
    assert "Not posted: style finding \u201cUse f-strings\u201d (confidence 0.70 < 0.95" in text
    # the one sanitiser: the rule's "|" cannot break the line, its HTML is dropped, and
    # "#4" names the rule without linking issue 4
    assert f"{rule_ref(4)} We use assert in tests on purpose \\|\n" in text
    assert "<b>" not in text
    assert not re.search(r"(?<![\w&])#\d", text)
    assert "(rule 4) We use assert" in guidance.instructions()
    assert Guidance().summary(0.6) == ""
