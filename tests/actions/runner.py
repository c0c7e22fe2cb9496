"""A small stand-in for the GitHub Actions runner: runs a composite action's `run:` steps
with bash as the runner does (`bash --noprofile --norc -eo pipefail`), the `${{ }}`
expressions our action.yml files use, `$GITHUB_OUTPUT` per step and the action's outputs.

`uses:` steps (actions/setup-python) are not run; the install step is replaced by the test's
virtual environment (its outputs are given), so no package index is needed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
COMPARISON = re.compile(r"^([\w.-]+)\s*(==|!=)\s*'([^']*)'$")
SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def lookup(path: str, context: Mapping[str, Any]) -> str:
    value: Any = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, Mapping) else ""
    return "" if value is None else str(value)


def evaluate(expression: str, context: Mapping[str, Any]) -> str:
    """`a.b.c`, or `a.b == 'x'` / `a.b != 'x'` (all our action files use)."""
    match = COMPARISON.match(expression.strip())
    if match:
        left, op, right = match.groups()
        equal = lookup(left, context) == right
        return "true" if equal == (op == "==") else "false"
    assert re.fullmatch(r"[\w.-]+", expression), f"unsupported expression {expression!r}"
    return lookup(expression, context)


def substitute(text: str, context: Mapping[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), context), text)


def parse_outputs(text: str) -> dict[str, str]:
    """`$GITHUB_OUTPUT` as the runner reads it: name=value and name<<DELIMITER blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


@dataclass
class Run:
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    failed_step: str | None = None


def run_composite(
    action_file: Path,
    *,
    inputs: Mapping[str, str],
    github: Mapping[str, str],
    env: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
    given: Mapping[str, Mapping[str, str]],
) -> Run:
    """Run ``action_file``'s steps in ``workspace``; ``given`` holds the outputs of the steps
    not run (by id). ``env`` is the job's environment (GITHUB_* variables, PATH, HOME)."""
    action = yaml.safe_load(action_file.read_text())
    assert action["runs"]["using"] == "composite"
    context: dict[str, Any] = {"github": dict(github), "runner": {"temp": str(runner_temp)}}
    declared = action.get("inputs", {})
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    context["inputs"] = {
        name: inputs.get(name, substitute(str(spec.get("default", "")), context))
        for name, spec in declared.items()
    }
    context["steps"] = {}
    run = Run()
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        condition = step.get("if")
        if condition is not None and evaluate(str(condition), context) != "true":
            continue
        if step_id in given:
            context["steps"][step_id] = {"outputs": dict(given[step_id])}
            continue
        if "uses" in step:
            continue
        output_file = runner_temp / f"output-{step_id}"
        output_file.write_text("")
        step_env = {
            **env,
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_ACTION_PATH": str(action_file.parent),
            **{k: substitute(str(v), context) for k, v in step.get("env", {}).items()},
        }
        script = runner_temp / f"script-{step_id}.sh"
        script.write_text(substitute(step["run"], context))
        result = subprocess.run(
            [*SHELL, str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        run.stdout += result.stdout
        run.stderr += result.stderr
        outputs = parse_outputs(output_file.read_text())
        context["steps"][step_id] = {"outputs": outputs}
        run.steps[step_id] = outputs
        if result.returncode != 0:
            run.failed_step = step_id
            break
    run.outputs = {
        name: substitute(str(spec["value"]), context)
        for name, spec in action.get("outputs", {}).items()
    }
    return run
