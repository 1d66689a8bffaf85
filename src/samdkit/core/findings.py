"""Findings of a gate (lint, data check, lock verification, signature verification) and their three renderings.

Every gate reports the same way: a human table (text), machine-readable JSON, or GitHub workflow
annotations (github), so actions and GitLab jobs show the author what to fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

FORMATS = ("text", "json", "github")


@dataclass
class Finding:
    """One thing that is wrong, pinned to where it is."""

    check: str
    message: str
    file: str | None = None
    line: int | None = None
    severity: str = "error"
    detail: dict[str, Any] = field(default_factory=dict)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotation(finding: Finding) -> str:
    """A workflow command (::error file=..,line=..,title=..::message) that GitHub shows inline."""
    level = {"error": "error", "warning": "warning"}.get(finding.severity, "notice")
    props = []
    if finding.file:
        props.append(f"file={_escape_property(finding.file)}")
    if finding.line is not None:
        props.append(f"line={finding.line}")
    props.append(f"title={_escape_property(finding.check)}")
    return f"::{level} {','.join(props)}::{_escape_data(finding.message)}"


def render(
    findings: list[Finding],
    fmt: str,
    *,
    title: str,
    summary: dict[str, Any] | None = None,
    verdict: str | None = None,
) -> str:
    """Render findings as text, json or github annotations (followed by a one-line verdict).

    The verdict is PASS without errors, else FAIL, unless the gate names a more exact one.
    """
    failed = any(f.severity == "error" for f in findings)
    verdict = "PASS" if not failed else (verdict or "FAIL")
    if fmt == "json":
        payload = {"title": title, "verdict": verdict, "summary": summary or {}}
        payload["findings"] = [asdict(f) for f in findings]
        return json.dumps(payload, indent=2, sort_keys=True)
    lines: list[str] = []
    if fmt == "github":
        lines.extend(github_annotation(f) for f in findings)
    else:
        for f in findings:
            where = f.file or ""
            if f.line is not None:
                where += f":{f.line}"
            lines.append(
                f"{f.severity.upper():<7} {where + '  ' if where else ''}[{f.check}] {f.message}"
            )
    counts = ", ".join(f"{k}: {v}" for k, v in (summary or {}).items())
    lines.append(f"{title}: {verdict}" + (f" ({counts})" if counts else ""))
    return "\n".join(lines)
