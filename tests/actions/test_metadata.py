"""The action metadata, the example workflows and the GitLab template against their schemas
(SchemaStore's, vendored by check-jsonschema: offline), and the shell of every `run:` step."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.actions.runner import EXPRESSION
from tests.deploy.conftest import ROOT, tool, vendored_schema

ACTIONS = sorted((ROOT / "actions").glob("*/action.yml"))
GITLAB = ROOT / "actions" / "gitlab" / "assist-review.gitlab-ci.yml"
GUIDE = ROOT / "docs" / "actions.md"


def errors(schema: dict[str, Any], doc: object) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def test_there_are_a_review_and_a_fix_action() -> None:
    assert [p.parent.name for p in ACTIONS] == ["fix", "review"]


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_action_metadata_matches_the_schema(path: Path) -> None:
    schema = vendored_schema("github-actions")
    assert schema["$id"] == "https://json.schemastore.org/github-action.json"
    assert errors(schema, load(path)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(lambda d: d["branding"].update(icon="tool"), "tool", id="unknown-icon"),
        pytest.param(lambda d: d["runs"].update(using="composit"), "composit", id="runs-using"),
        pytest.param(lambda d: d["runs"]["steps"][1].pop("shell"), "shell", id="run-needs-shell"),
        pytest.param(lambda d: d["outputs"]["major"].pop("value"), "value", id="output-value"),
    ],
)
def test_the_schema_rejects_broken_metadata(edit: Any, expected: str) -> None:
    broken = copy.deepcopy(load(ROOT / "actions" / "review" / "action.yml"))
    edit(broken)
    found = errors(vendored_schema("github-actions"), broken)
    assert found
    assert any(expected in e for e in found) or expected in str(found), found


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_expressions_name_declared_inputs_and_steps(path: Path) -> None:
    action = load(path)
    text = path.read_text()
    inputs = set(action["inputs"])
    steps = {s["id"] for s in action["runs"]["steps"] if "id" in s}
    for expression in EXPRESSION.findall(text):
        for name in re.findall(r"inputs\.([\w-]+)", expression):
            assert name in inputs, name
        for name in re.findall(r"steps\.([\w-]+)\.", expression):
            assert name in steps, name
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == inputs, inputs - used  # no input is declared and ignored
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"]), step["uses"]


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_run_steps_are_clean_bash(path: Path, tmp_path: Path) -> None:
    for index, step in enumerate(load(path)["runs"]["steps"]):
        if "run" not in step:
            continue
        assert step["shell"] == "bash"
        # Expressions are substituted before bash sees the script; values come through env.
        assert not EXPRESSION.search(step["run"]), "pass values through env:, not ${{ }}"
        script = tmp_path / f"step{index}.sh"
        names = " ".join(f"{k}=x" for k in step.get("env", {}))
        script.write_text(
            f"#!/usr/bin/env bash\n# shellcheck disable=SC2034\n{names}\n{step['run']}"
        )
        parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert parsed.returncode == 0, parsed.stderr
        checked = subprocess.run(
            [tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout


def workflows() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    docs = [yaml.safe_load(block) for block in blocks]
    found = [d for d in docs if isinstance(d, dict) and "jobs" in d]
    for doc in found:  # YAML 1.1 reads the key `on` as true; GitHub reads it as "on"
        doc["on"] = doc.pop(True)
    return found


def test_the_example_workflows_match_the_workflow_schema() -> None:
    found = workflows()
    assert len(found) == 3
    schema = vendored_schema("github-workflows")
    for workflow in found:
        assert errors(schema, workflow) == [], workflow["name"]
        uses = [s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "uses" in s]
        action = next(u for u in uses if "forge-assist/actions/" in u)
        name = action.split("/actions/", 1)[1].split("@", 1)[0]
        declared = set(load(ROOT / "actions" / name / "action.yml")["inputs"])
        for step in (s for job in workflow["jobs"].values() for s in job["steps"]):
            if step.get("uses") == action:
                assert set(step.get("with", {})) <= declared


def test_the_examples_ask_for_the_documented_permissions() -> None:
    review, scanning, fix = workflows()
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert scanning["permissions"]["security-events"] == "write"
    assert fix["permissions"] == {
        "contents": "write", "pull-requests": "write", "issues": "write",
    }  # fmt: skip


def test_gitlab_template_matches_the_schema() -> None:
    schema = vendored_schema("gitlab-ci")
    template = load(GITLAB)
    assert errors(schema, template) == []
    broken = copy.deepcopy(template)
    broken["assist-review"]["artifacts"]["reports"]["codequality"] = {"path": "x"}
    broken["assist-review"]["when"] = "sometimes"
    assert errors(schema, broken)


def test_gitlab_template_runs_the_documented_command() -> None:
    job = load(GITLAB)["assist-review"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["image"]["entrypoint"] == [""]  # the image's ENTRYPOINT is `assist`
    script = " ".join(job["script"])
    assert "assist action review --forge gitlab" in script
    report = job["artifacts"]["reports"]["codequality"]
    assert f"--code-quality {report}" in script
    assert job["allow_failure"] == {"exit_codes": [4]}
    assert "exit 4" in script
    for line in job["script"]:
        parsed = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert parsed.returncode == 0, parsed.stderr
