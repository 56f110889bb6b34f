"""The doctor's report as text for people (grouped by urgency) or JSON for machines."""

from __future__ import annotations

import json
import textwrap

from cell_monitor.doctor.findings import URGENCY_ORDER, Report, Urgency

_HEADINGS = {
    Urgency.high: "HIGH urgency: act now",
    Urgency.medium: "MEDIUM urgency: within 24 hours",
    Urgency.low: "LOW urgency: plan it",
}


def to_json(report: Report) -> str:
    data = report.model_dump(mode="json")
    data["healthy"] = report.healthy
    data["counts"] = {level.value: report.count(level) for level in URGENCY_ORDER}
    return json.dumps(data, indent=2)


def to_text(report: Report, verbose: bool = False) -> str:
    lines = [f"cell-monitor doctor {report.version}", ""]
    for level in URGENCY_ORDER:
        findings = [f for f in report.findings if f.urgency == level]
        if not findings:
            continue
        lines.append(f"{_HEADINGS[level]} ({len(findings)})")
        for finding in findings:
            lines.append(f"  [{finding.id}] {finding.title}")
            for part in finding.detail.splitlines():
                lines.extend(_wrap(part, "      "))
            lines.extend(_wrap(f"fix: {finding.fix}", "      "))
        lines.append("")
    lines.append("Checks")
    for result in report.results:
        mark = "--" if result.skipped else ("!!" if result.findings else "ok")
        note = result.summary or f"{len(result.findings)} finding(s)"
        timing = f" ({result.seconds:.2f}s)" if verbose else ""
        lines.append(f"  {mark} {result.check}: {note}{timing}")
    counts = ", ".join(f"{report.count(level)} {level.value}" for level in URGENCY_ORDER)
    lines += ["", f"{counts}: " + ("healthy" if report.healthy else "needs attention now")]
    return "\n".join(lines)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ") or [
        indent
    ]
