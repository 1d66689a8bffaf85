"""Findings of a gate and the one gate-result envelope every command's `--format json` prints.

Every gate reports the same way: a human table (text), the gate-result JSON envelope
(`samdkit/gate-result/v1`: gate, verdict, findings, summary, outputs, detail), or GitHub workflow
annotations (github), so actions, GitLab jobs and the pull-request comment read one shape.
`read_result` is the strict reader the CI glue uses: a foreign or hand-edited file is a UserError
naming the field, never a guess.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

FORMATS = ("text", "json", "github")
GATE_RESULT_SCHEMA = "samdkit/gate-result/v1"
_ENVELOPE_KEYS = ("schema", "gate", "verdict", "findings", "summary", "outputs", "detail")
_FINDING_KEYS = ("check", "message", "file", "line", "severity", "detail")
_MAX_RESULT_BYTES = 16 * 1024 * 1024


class Severity(enum.StrEnum):
    """How bad a finding is: an error fails the gate; PASS records a check that ran and passed."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"
    PASS = "pass"


@dataclass
class Finding:
    """One thing that is wrong (or was checked), pinned to where it is."""

    check: str
    message: str
    file: str | None = None
    line: int | None = None
    severity: Severity = Severity.ERROR
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.severity = Severity(self.severity)  # a plain "error" from an older caller is fine


@dataclass
class GateResult:
    """What one gate found: its verdict, its findings, and what CI shows (outputs) or keeps (detail)."""

    gate: str
    verdict: str
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON object (what `render_result(..., "json")` prints)."""
        return {
            "schema": GATE_RESULT_SCHEMA,
            "gate": self.gate,
            "verdict": self.verdict,
            "findings": [{**asdict(f), "severity": str(f.severity)} for f in self.findings],
            "summary": self.summary,
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "detail": self.detail,
        }


def verdict_of(findings: list[Finding], failed: str = "FAIL") -> str:
    """PASS without errors, else the gate's own failing verdict (FAIL unless it names a more exact one)."""
    return failed if any(f.severity == Severity.ERROR for f in findings) else "PASS"


def _escape_data(value: str) -> str:
    # control and bidi characters visible (escape.terminal), then the workflow command's own encoding
    from samdkit.core.escape import terminal

    return (
        terminal(value, keep="\r\n").replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    )


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotation(finding: Finding) -> str:
    """A workflow command (::error file=..,line=..,title=..::message) that GitHub shows inline."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(finding.severity, "notice")
    props = []
    if finding.file:
        props.append(f"file={_escape_property(finding.file)}")
    if finding.line is not None:
        props.append(f"line={finding.line}")
    props.append(f"title={_escape_property(finding.check)}")
    return f"::{level} {','.join(props)}::{_escape_data(finding.message)}"


def _text_line(f: Finding) -> str:
    """One finding on one line: every name from the project is made visible (escape.terminal)."""
    from samdkit.core.escape import terminal

    where = terminal(f.file or "")
    if f.line is not None:
        where += f":{f.line}"
    return f"{f.severity.upper():<7} {where + '  ' if where else ''}[{terminal(f.check)}] {terminal(f.message)}"


def render_result(result: GateResult, fmt: str, *, title: str | None = None) -> str:
    """The result as text (a table and a verdict line), json (the envelope) or github annotations.

    `title` names the gate in the text verdict line (default `samdkit <gate>`); json always carries `gate`.
    """
    if fmt == "json":
        # the one stable JSON text (what write_json writes)
        from samdkit.core.atomic import dumps_json

        return dumps_json(result.to_json()).removesuffix("\n")
    if fmt == "github":
        lines = [github_annotation(f) for f in result.findings]
    else:
        lines = [_text_line(f) for f in result.findings]
    counts = ", ".join(f"{k}: {v}" for k, v in result.summary.items())
    name = title or f"samdkit {result.gate}"
    if counts:
        from samdkit.core.escape import terminal

        counts = terminal(counts)
    lines.append(f"{name}: {result.verdict}" + (f" ({counts})" if counts else ""))
    return "\n".join(lines)


def gate_name(title: str) -> str:
    """The gate a title names: 'samdkit lock (model.lock not written)' -> 'lock'."""
    words = title.removeprefix("samdkit ").split()
    return words[0] if words else title


def render(
    findings: list[Finding],
    fmt: str,
    *,
    title: str,
    summary: dict[str, Any] | None = None,
    verdict: str | None = None,
) -> str:
    """Render findings (older callers): `render_result` of a GateResult named after the title.

    The verdict is PASS without errors, else FAIL, unless the gate names a more exact one.
    """
    result = GateResult(
        gate=gate_name(title),
        verdict=verdict_of(findings, verdict or "FAIL"),
        findings=list(findings),
        summary=dict(summary or {}),
    )
    return render_result(result, fmt, title=title)


# --------------------------------------------------------------------------- the strict reader


def _fail(where: str, what: str) -> UserError:
    return UserError(f"{where}: not a samdkit gate result ({GATE_RESULT_SCHEMA}): {what}")


def _need(
    doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, at: str = ""
) -> Any:
    """doc[key] when it has the right type; `at` prefixes the field's name (findings[2].)."""
    if key not in doc:
        raise _fail(where, f"field '{at}{key}' is missing")
    value = doc[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(where, f"field '{at}{key}' must be {names.replace('NoneType', 'null')}")
    return value


def _finding(item: Any, where: str, at: str) -> Finding:
    if not isinstance(item, dict):
        raise _fail(where, f"field '{at.rstrip('.')}' must be an object")
    extra = sorted(set(item) - set(_FINDING_KEYS))
    if extra:
        raise _fail(where, f"unknown field '{at}{extra[0]}'")
    check = _need(item, "check", str, where, at)
    message = _need(item, "message", str, where, at)
    file = _need(item, "file", (str, type(None)), where, at)
    line = _need(item, "line", (int, type(None)), where, at)
    severity = _need(item, "severity", str, where, at)
    if severity not in set(Severity):
        raise _fail(where, f"field '{at}severity' must be one of {', '.join(Severity)}")
    detail = _need(item, "detail", dict, where, at)
    return Finding(check, message, file, line, Severity(severity), detail)


def validate_result(doc: Any, where: str) -> GateResult:
    """A parsed envelope as a GateResult; UserError naming the first field that is wrong."""
    if not isinstance(doc, dict):
        raise _fail(where, "not a JSON object")
    schema = _need(doc, "schema", str, where)
    if schema != GATE_RESULT_SCHEMA:
        raise _fail(where, f"field 'schema' is {schema!r}")
    extra = sorted(set(doc) - set(_ENVELOPE_KEYS))
    if extra:
        raise _fail(where, f"unknown field '{extra[0]}'")
    gate = _need(doc, "gate", str, where)
    verdict = _need(doc, "verdict", str, where)
    if not gate or not verdict:
        raise _fail(where, f"field '{'gate' if not gate else 'verdict'}' is empty")
    items = _need(doc, "findings", list, where)
    findings = [_finding(item, where, f"findings[{i}].") for i, item in enumerate(items)]
    summary = _need(doc, "summary", dict, where)
    outputs = _need(doc, "outputs", dict, where)
    for key, value in outputs.items():
        if not isinstance(value, str):
            raise _fail(where, f"field 'outputs.{key}' must be str")
    detail = _need(doc, "detail", dict, where)
    return GateResult(gate, verdict, findings, summary, outputs, detail)


def read_result(source: str | Path) -> GateResult:
    """The strict reader: JSON text (starting with '{') or a path to a gate-result file."""
    if isinstance(source, str) and source.lstrip().startswith("{"):
        text, where = source, "gate result"
    else:
        path = Path(source)
        where = str(path)
        try:
            if path.stat().st_size > _MAX_RESULT_BYTES:
                raise _fail(where, "larger than 16 MiB")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"{where}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{where}: cannot read ({type(exc).__name__})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(where, f"invalid JSON at line {exc.lineno}") from None
    except RecursionError:
        raise _fail(where, "nested too deeply") from None
    return validate_result(doc, where)
