"""report.json and report.md from :func:`bot.eval.score.report`'s values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{float(str(value)) * 100:.1f} %"


def _num(value: object) -> str:
    return "n/a" if value is None else f"{value}"


def _head(*columns: str) -> list[str]:
    """A table's header and separator; the first column is left-aligned, the others right."""
    return [
        "| " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns[1:]) + " |",
    ]


def render_markdown(data: Mapping[str, Any]) -> str:
    meta = data.get("meta", {})
    where = (
        f"Dataset `{meta['dataset']}`, model `{meta.get('model')}` at `{meta.get('model_url')}`, "
        f"context `{meta.get('context')}`"
        if "dataset" in meta
        else f"Scored again from `{meta.get('runs', '?')}`"
    )
    lines = [
        "# Review evaluation",
        "",
        f"{where}, line tolerance {data['tolerance']}.",
        "",
        "| cases | references | findings | true positives | precision | recall | F1 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {data['cases']} | {data['references']} | {data['findings']} | "
        f"{data['true_positives']} | {_pct(data['precision'])} | {_pct(data['recall'])} | "
        f"{_pct(data['f1'])} |",
        "",
    ]
    noise, clean, per_pr = data["noise"], data["clean"], data["per_pr"]
    lines += [
        f"Noise: {noise['false_positives']} of {data['findings']} findings match no accepted "
        f"comment ({_pct(noise['rate'])}); {noise['matching_rejected']} of them match a comment "
        f"the experts rejected ({noise['rejected_references']} rejected comments in the set).",
        f"Clean changes (no accepted comment): {clean['cases']}, {clean['findings']} findings "
        f"({_num(clean['findings_per_case'])} per change, "
        f"{clean['cases_with_findings']} with any).",
        f"Per change: {_num(per_pr['comments'])} comments, {_num(per_pr['tokens'])} tokens "
        f"({_num(per_pr['prompt_tokens'])} prompt), {_num(per_pr['model_seconds'])} model seconds, "
        f"{_num(per_pr['requests'])} requests.",
        "",
    ]
    for title, key, kind in (
        ("Recall by reference category", "by_reference_category", "recall"),
        ("Precision by finding category", "by_finding_category", "precision"),
        ("Precision by severity", "by_severity", "precision"),
    ):
        table = data[key]
        if not table:
            continue
        lines += [f"## {title}", ""]
        if kind == "recall":
            lines += _head("category", "references", "matched", "recall", "cases")
            lines += [
                f"| {k} | {v['references']} | {v['matched']} | {_pct(v['recall'])} | "
                f"{', '.join(v['cases'])} |"
                for k, v in table.items()
            ]
        else:
            lines += _head("value", "findings", "true positives", "precision", "cases")
            lines += [
                f"| {k} | {v['findings']} | {v['true_positives']} | {_pct(v['precision'])} | "
                f"{', '.join(v['cases'])} |"
                for k, v in table.items()
            ]
        lines.append("")
    if data["by_language"]:
        lines += ["## By language", ""]
        lines += _head("language", "references", "findings", "TP", "precision", "recall", "F1")
        lines += [
            f"| {k} | {v['references']} | {v['findings']} | {v['true_positives']} | "
            f"{_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['f1'])} |"
            for k, v in data["by_language"].items()
        ]
        lines.append("")
    lines += ["## Cases", ""]
    lines += _head(
        "case", "refs", "rejected", "findings", "TP", "FP", "on rejected", "tokens", "model s",
        "not reviewed",
    )  # fmt: skip
    for c in data["per_case"]:
        skipped = "; ".join(f"{s['path']}: {s['reason']}" for s in c["skipped"])
        lines.append(
            f"| {c['case']} | {c['references']} | {c['rejected_references']} | {c['findings']} | "
            f"{c['true_positives']} | {c['false_positives']} | {c['matching_rejected']} | "
            f"{c['prompt_tokens'] + c['completion_tokens']} | {c['model_seconds']} | "
            f"{skipped.replace('|', '/')} |"
        )
    lines.append("")
    if data["failed"]:
        lines += ["## Failed (not scored)", ""]
        lines += [f"- {f['case']}: {f['error']}" for f in data["failed"]]
        lines.append("")
    return "\n".join(lines)


def write_report(out_dir: Path, data: Mapping[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(data), encoding="utf-8")
    return json_path, md_path
