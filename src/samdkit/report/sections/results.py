# ruff: noqa: RUF002  (typographic dashes and signs are intended: they are printed in the evidence)
"""Sections 6–11: statistical methods, results, calibration, subgroups, acceptance criteria, traceability."""

from __future__ import annotations

from typing import Any

from samdkit.report.evidence import Gaps, find
from samdkit.report.sections.bundle import Bundle, Result


def _missing(bundle: Bundle, section: str) -> Gaps:
    gaps = Gaps()
    if bundle.evaluation is None:
        gaps.add(section, f"{bundle.ev['evaluation'].rel} is missing: run samdkit evaluate")
    return gaps


def section_6(bundle: Bundle) -> Result:
    """Statistical methods: as reports/evaluation.json records them."""
    return {"evaluation": bundle.evaluation}, _missing(bundle, "6").items


def section_7(bundle: Bundle) -> Result:
    """Results; the predictions the evaluation read must be the ones in reports/ now."""
    gaps = _missing(bundle, "7")
    evaluation, predictions = bundle.evaluation, bundle.ev["predictions"]
    if evaluation is not None and predictions.present:
        recorded = evaluation.get("inputs", {}).get("predictions", {}).get("sha256")
        if recorded not in (None, predictions.sha256):
            gaps.add(
                "7", "reports/predictions.csv changed after the evaluation ran (digest differs)"
            )
    return {}, gaps.items


def section_8(bundle: Bundle) -> Result:
    """Calibration (figures drawn from the evaluation: samdkit.report.plots)."""
    return {}, _missing(bundle, "8").items


def attributes_statement(evaluation: dict[str, Any] | None) -> str:
    """What the subgroup analysis covers, said from the evaluated data (never from a hand-written text)."""
    if not evaluation:
        return "No evaluation: no attribute of the test data was analysed."
    columns: dict[str, int] = {}
    for g in evaluation.get("subgroups", []):
        columns[g["column"]] = columns.get(g["column"], 0) + 1
    if not columns:
        return (
            "No subgroup attribute was analysed: the evaluation names no subgroup column, so "
            "performance across patient groups is not assessed here."
        )
    named = ", ".join(f"{c} ({n} group{'s' if n != 1 else ''})" for c, n in columns.items())
    return (
        f"Subgroup analysis of the test set by: {named}. These are the only attributes analysed; "
        "any other attribute is not assessed here."
    )


def section_9(bundle: Bundle) -> Result:
    """Subgroups, and which attributes of the test data were analysed at all."""
    return {"attributes": attributes_statement(bundle.evaluation)}, _missing(bundle, "9").items


def section_10(bundle: Bundle) -> Result:
    """Acceptance criteria: every criterion the evaluation judged must pass."""
    gaps = _missing(bundle, "10")
    evaluation = bundle.evaluation
    if evaluation is not None and evaluation.get("verdict") != "PASS":
        failed = [
            c["id"] + (f" [{c['subgroup']}]" if c.get("subgroup") else "")
            for c in evaluation.get("criteria", [])
            if c.get("result") != "PASS"
        ]
        gaps.add("10", "acceptance criteria not met: " + ", ".join(failed))
    return {}, gaps.items


def _risks(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """compliance/risks.yaml by risk id (a `risks:` list, or the list itself)."""
    data = bundle.ev["risks"].data if bundle.ev["risks"].present else None
    listed: list[Any] = []
    if isinstance(data, dict):
        listed = data.get("risks", []) or []
    elif isinstance(data, list):
        listed = data
    return {str(r.get("id")): r for r in listed if isinstance(r, dict)}


def _control(risk: dict[str, Any]) -> str:
    return str(find(risk, "control", "risk_control", depth=0) or "—")


def _criterion_row(crit: dict[str, Any], risks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    linked = crit.get("risks") or []
    return {
        "need": crit.get("need") or "—",
        "need_text": crit.get("need_text") or "",
        "requirement": crit["id"],
        "criterion": crit.get("criterion"),
        "risks": [{"id": rid, "control": _control(risks.get(rid, {}))} for rid in linked],
        "check": f"samdkit evaluate ({crit.get('source', '')})",
        "subgroup": crit.get("subgroup"),
        "result": crit.get("result"),
    }


def _uncovered_row(rid: str, risk: dict[str, Any]) -> dict[str, Any]:
    """A risk control no acceptance criterion verifies: its own verification, or NOT VERIFIED."""
    verification = find(risk, "verification", "verified_by", depth=0)
    return {
        "need": "—",
        "need_text": "",
        "requirement": "—",
        "criterion": str(verification or "no acceptance criterion"),
        "risks": [{"id": rid, "control": _control(risk)}],
        "check": str(verification or "—"),
        "subgroup": None,
        "result": "NOT VERIFIED" if not verification else "see check",
    }


def section_11(bundle: Bundle) -> Result:
    """Traceability matrix: user need → requirement → criterion → risk control → check → result."""
    ev = bundle.ev["risks"]
    risks = _risks(bundle)
    gaps = Gaps()
    if not ev.present:
        gaps.add("11", f"{ev.rel} is missing: requirements cannot be traced to risk controls")
    trace = []
    for crit in (bundle.evaluation or {}).get("criteria", []):
        for rid in crit.get("risks") or []:
            if risks and rid not in risks:
                gaps.add("11", f"{crit['id']} names risk {rid}, which is not in {ev.rel}")
        trace.append(_criterion_row(crit, risks))
    covered = {r["id"] for t in trace for r in t["risks"]}
    trace += [_uncovered_row(rid, risk) for rid, risk in risks.items() if rid not in covered]
    return {"traceability": trace, "risks": list(risks.values())}, gaps.items
