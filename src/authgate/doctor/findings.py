"""A finding: how bad, which object, what goes wrong for the user, and the fix."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Where:
    """A place in the input: a file and, when known, a line (1-based)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    object: str  # "Ingress/wiki/wiki", "router wiki", "server wiki.lan location /", a file name
    problem: str  # what goes wrong for the person using the app
    fix: str
    where: Where | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "object": self.object,
            "where": str(self.where) if self.where else None,
            "problem": self.problem,
            "fix": self.fix,
        }


def error(id: str, obj: str, problem: str, fix: str, where: Where | None = None) -> Finding:
    return Finding(id, Severity.ERROR, obj, problem, fix, where)


def warning(id: str, obj: str, problem: str, fix: str, where: Where | None = None) -> Finding:
    return Finding(id, Severity.WARNING, obj, problem, fix, where)


def info(id: str, obj: str, problem: str, fix: str = "", where: Where | None = None) -> Finding:
    return Finding(id, Severity.INFO, obj, problem, fix, where)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; within each, by place in the input. No repeats."""
    unique = list(dict.fromkeys(findings))
    return sorted(
        unique,
        key=lambda f: (
            f.severity.rank,
            f.where.file if f.where else "",
            f.where.line or 0 if f.where else 0,
        ),
    )


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def as_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2)


def as_text(findings: list[Finding]) -> str:
    lines: list[str] = []
    for f in findings:
        place = f" ({f.where})" if f.where and str(f.where) != f.object else ""
        lines.append(f"{f.severity.value.upper():7} {f.id}: {f.object}{place}")
        lines.append(f"        {f.problem}")
        if f.fix:
            lines.append(f"        fix: {f.fix}")
    counts = {s: sum(1 for f in findings if f.severity is s) for s in Severity}
    summary = ", ".join(
        f"{n} {s.value}{'s' if n != 1 and s is not Severity.INFO else ''}"
        for s, n in counts.items()
    )
    lines.append(summary if findings else "no findings")
    return "\n".join(lines)
