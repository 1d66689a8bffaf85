"""compliance/pccp.yaml: a predetermined change control plan (FDA PCCP final guidance, December 2024).

The plan's acceptance criteria use the grammar of compliance/requirements.yaml and are judged on the current
model's evaluation by the same engine (samdkit.evaluate.criteria.evaluate_criteria), so a retrained model is held to
the criteria that were set before it existed. Any structural problem is one line naming the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdkit.core import bounded
from samdkit.evaluate.criteria import error_at as _fail
from samdkit.evaluate.criteria import line_of as _line

TOP_KEYS = {"version", "planned_modifications", "modification_protocol", "impact_assessment"}
PROTOCOL_KEYS = {"data", "retraining", "performance_evaluation", "update_procedure"}


def _text(rel: str, mapping: Any, key: str, where: str) -> Any:
    """A required field: a non-empty text, or a non-empty list of texts."""
    value = mapping.get(key)
    ok = (isinstance(value, str) and value.strip()) or (
        isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
    )
    if not ok:
        raise _fail(
            rel, _line(mapping, key), f"{where}{key} must be a non-empty text or list of texts"
        )
    return value


def _modifications(rel: str, data: Any) -> list[dict[str, Any]]:
    raw = data.get("planned_modifications")
    if not isinstance(raw, list) or not raw:
        raise _fail(
            rel,
            _line(data, "planned_modifications"),
            "planned_modifications must be a non-empty list of {id, description}",
        )
    out = []
    for index, mod in enumerate(raw):
        if not isinstance(mod, dict) or not isinstance(mod.get("id"), str):
            raise _fail(
                rel,
                _line(mod) or _line(data, "planned_modifications"),
                f"planned_modifications[{index}] needs an id",
            )
        _text(rel, mod, "description", f"{mod['id']}: ")
        out.append({k: mod[k] for k in ("id", "description", "rationale") if k in mod})
    return out


def load(path: Path, rel: str) -> dict[str, Any] | None:
    """The plan with its parsed criteria, None when the project declares none; bad structure → UserError."""
    from samdkit.evaluate import criteria

    if not path.is_file():
        return None
    text = bounded.read_text(path, bounded.MAX_YAML_BYTES, rel)
    data = bounded.yaml_text(text, rel, loader=criteria.LineLoader)
    if not isinstance(data, dict):
        raise _fail(rel, 1, "the top level must be a mapping")
    criteria.refuse_unknown(rel, data, TOP_KEYS)
    mods = _modifications(rel, data)
    protocol = data.get("modification_protocol")
    if not isinstance(protocol, dict):
        raise _fail(
            rel,
            _line(data, "modification_protocol") or 1,
            "modification_protocol must be a mapping of data, retraining, performance_evaluation",
        )
    criteria.refuse_unknown(rel, protocol, PROTOCOL_KEYS, where=" in modification_protocol")
    for key in ("data", "retraining"):
        _text(rel, protocol, key, "modification_protocol.")
    evaluation = protocol.get("performance_evaluation")
    raw = evaluation.get("acceptance_criteria") if isinstance(evaluation, dict) else None
    if not isinstance(raw, list) or not raw:
        raise _fail(
            rel,
            _line(protocol, "performance_evaluation"),
            "modification_protocol.performance_evaluation.acceptance_criteria must be a non-empty list (grammar of requirements.yaml)",
        )
    seen: set[str] = set()
    parsed = [criteria.parse_criterion(Path(rel), c, i, seen) for i, c in enumerate(raw)]
    impact = _text(rel, data, "impact_assessment", "")
    return {
        "path": rel,
        "planned_modifications": mods,
        "protocol": {
            "data": protocol["data"],
            "retraining": protocol["retraining"],
            "performance_evaluation": evaluation.get("method"),
            "update_procedure": protocol.get("update_procedure"),
        },
        "impact_assessment": impact,
        "_criteria": parsed,
        "_raw": data,
    }


def judge(
    plan: dict[str, Any], evaluation: dict[str, Any] | None, where: str = "reports/evaluation.json"
) -> dict[str, Any]:
    """The plan as the report shows it: each acceptance criterion judged on this model's evaluation.

    The evaluation goes through its strict reader's validation (samdkit.evaluate.document) first: a
    hand-edited file is one line naming the field, never a criterion judged on a guessed value.
    """
    from samdkit.evaluate import document
    from samdkit.evaluate.criteria import Requirements, evaluate_criteria

    view = {k: v for k, v in plan.items() if not k.startswith("_")}
    if not evaluation:
        return {**view, "criteria": [], "verdict": "NOT JUDGED (no evaluation)"}
    evaluation = document.validate(evaluation, where)
    req = Requirements(path=Path(plan["path"]), criteria=list(plan["_criteria"]))
    rows = evaluate_criteria(req, evaluation["overall"], evaluation["subgroups"])
    verdict = "PASS" if rows and all(r["result"] == "PASS" for r in rows) else "FAIL"
    return {**view, "criteria": rows, "verdict": verdict}


def change_control(plan: dict[str, Any] | None, document_id: str) -> str | None:
    """The model card's change-control field, when the project declares a plan."""
    if not plan:
        return None
    ids = ", ".join(m["id"] for m in plan["planned_modifications"])
    return (
        f"Predetermined change control plan {plan['path']} (modifications {ids}); its acceptance "
        f"criteria are judged on this model in {document_id}, appendix A.2: {plan['verdict']}"
    )
