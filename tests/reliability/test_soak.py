"""A short soak with every fault: the invariants hold (the figures are the bench's business)."""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakConfig, soak


def test_a_short_soak_with_faults_keeps_every_invariant(corpora: Path) -> None:
    config = SoakConfig(seconds=24, workers=2, rate=2.5, repos=2, faults=True, drain_s=200)
    with soak(config, corpora=corpora) as s:
        report = s.run()
    invariants = report["invariants"]
    assert invariants["ok"], invariants["problems"]
    assert [f["fault"] for f in report["faults"]] == [
        "worker SIGKILLed mid-post",
        "forge 5xx and rate limits",
        "model server down",
        "Redis restarted",
        "PostgreSQL restarted",
    ]
    assert report["workers"]["killed"] >= 1  # a job was killed while posting its review
    assert report["model"]["refused"] >= 1  # jobs met the model while it was down
    assert report["deliveries"]["accepted"] >= 20
    assert invariants["forge"]["findings"] >= 5  # reviews were posted, each finding once
    assert invariants["job_statuses"].get("done", 0) >= 10
