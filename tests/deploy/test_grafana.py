"""deploy/grafana: the dashboard is valid Grafana JSON and queries only metrics we export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from bot.console.metrics import JobRecords
from bot.db.engine import upgrade
from bot.llm.metrics import LLMMetrics
from bot.web.metrics import IntakeMetrics
from tests.deploy.conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "forge-assist.json"
PANEL_TYPES = {"timeseries", "stat", "bargauge", "gauge", "table", "text"}
PROMQL_WORDS = {
    "sum",
    "rate",
    "delta",
    "increase",
    "by",
    "without",
    "histogram_quantile",
    "avg",
    "max",
    "min",
    "count",
    "le",
    "irate",
    "topk",
    "on",
    "ignoring",
}
VLLM_SOURCES = Path.home() / ".cache" / "forge-assist" / "vllm" / "venv"


def _exported(tmp_path: Path) -> set[str]:
    """Sample names our processes expose: intake, model calls, the console's job records."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    registry = CollectorRegistry()
    LLMMetrics(registry)
    registry.register(JobRecords(sa.create_engine(url)))
    intake = IntakeMetrics(lambda: {"review": 0})
    names: set[str] = set()
    for reg in (registry, intake.registry):
        for family in reg.collect():
            names.add(family.name)
            names |= {s.name for s in family.samples}
            if family.type == "histogram":
                names |= {family.name + x for x in ("_bucket", "_sum", "_count")}
            if family.type == "counter":
                names.add(family.name + "_total")
    return names


def _vllm_names() -> set[str] | None:
    sources = sorted(VLLM_SOURCES.glob("lib/python3*/site-packages/vllm"))
    if not sources:
        return None
    found: set[str] = set()
    for path in sources[0].rglob("*.py"):
        found |= set(re.findall(r'"(vllm:[a-z0-9_]+)"', path.read_text(errors="ignore")))
    return found


def _metric_names(expr: str) -> set[str]:
    no_labels = re.sub(r"\{[^}]*\}|\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_labels)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_ranges))
    return {w for w in words if w not in PROMQL_WORDS and not w.isdigit()}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def test_layout_and_datasource(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES
        assert panel["datasource"]["uid"] == "${datasource}"
        g = panel["gridPos"]
        assert g["x"] >= 0
        assert g["x"] + g["w"] <= 24
        assert g["h"] > 0
        cells = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & occupied, f"panel {panel['title']} overlaps another"
        occupied |= cells
        refs = [t["refId"] for t in panel["targets"]]
        assert refs
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")")


def test_every_queried_metric_is_exported(dashboard: dict[str, Any], tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    vllm = _vllm_names()
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in _metric_names(target["expr"])
    }
    ours = {n for n in queried if n.startswith("assist_")}
    assert ours, "the dashboard shows none of our metrics"
    assert ours <= exported, f"not exported: {sorted(ours - exported)}"
    # The list: deliveries, queue depth, job outcomes, tokens, model latency.
    for needed in (
        "assist_deliveries_total",
        "assist_queue_depth",
        "assist_job_runs",
        "assist_job_tokens_24h",
    ):
        assert needed in ours
    theirs = queried - ours
    assert all(n.startswith("vllm:") for n in theirs), sorted(theirs)
    if vllm is None:
        return
    bases = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in theirs}
    assert bases <= vllm, f"not in vLLM: {sorted(bases - vllm)}"
