"""Feedback on posted findings: signals from the forges, the outcome rule, per-repository
thresholds and rules (docs/feedback.md)."""
