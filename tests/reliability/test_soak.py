"""A short soak with every fault: the invariants hold (the figures are the bench's business).

Nothing here depends on the machine's speed: the soak's load goes on until it generated its
deliveries and every fault met its target (a review held at the forge while its worker is
killed, a job refused by the model while it is down), and the drain waits for every job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import SoakConfig, soak


@pytest.mark.timeout(1800)  # it waits for conditions; the cap only catches a hang
def test_a_short_soak_with_faults_keeps_every_invariant(corpora: Path) -> None:
    config = SoakConfig(
        seconds=24, workers=2, rate=2.5, repos=2, faults=True, drain_s=600, min_deliveries=30
    )
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
    assert report["workers"]["killed"] >= 1, report["faults"]  # killed while posting a review
    assert report["model"]["refused"] >= 1, report["faults"]  # a job met the model while down
    assert report["deliveries"]["generated"] >= 30
    delivered = report["deliveries"]["accepted"] + report["deliveries"]["redeliveries"]
    assert delivered >= 30  # every generated delivery was answered (lost ones are problems)
    assert invariants["forge"]["findings"] >= 1  # reviews were posted, each finding once
    assert invariants["job_statuses"].get("done", 0) >= 1
