"""What the doctor reports: findings with the guide's urgency levels, per check."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class Urgency(str, Enum):
    """The troubleshooting guide's levels: act now, within 24 hours, when planned."""

    high = "high"
    medium = "medium"
    low = "low"


URGENCY_ORDER = (Urgency.high, Urgency.medium, Urgency.low)


class Finding(BaseModel):
    """One problem found, with what to do about it; `id` is stable (docs and tests use it)."""

    id: str
    urgency: Urgency
    title: str
    detail: str = ""
    fix: str


class CheckResult(BaseModel):
    """The outcome of one check: its findings, or a one-line summary of what is fine."""

    check: str
    findings: list[Finding] = Field(default_factory=list)
    summary: str = ""
    skipped: bool = False
    seconds: float = 0.0
    facts: dict[str, Any] = Field(default_factory=dict)


class Report(BaseModel):
    """Everything one doctor run found."""

    version: str
    results: list[CheckResult]

    @property
    def findings(self) -> list[Finding]:
        found = [finding for result in self.results for finding in result.findings]
        return sorted(found, key=lambda f: URGENCY_ORDER.index(f.urgency))

    def count(self, urgency: Urgency) -> int:
        return sum(1 for finding in self.findings if finding.urgency == urgency)

    @property
    def healthy(self) -> bool:
        """No high-urgency finding (the exit status of `cell-monitor doctor`)."""
        return self.count(Urgency.high) == 0


def ok(check: str, summary: str, **facts: Any) -> CheckResult:
    return CheckResult(check=check, summary=summary, facts=facts)


def skipped(check: str, why: str) -> CheckResult:
    return CheckResult(check=check, summary=why, skipped=True)


def found(check: str, *findings: Finding, summary: str = "", **facts: Any) -> CheckResult:
    return CheckResult(check=check, findings=list(findings), summary=summary, facts=facts)
