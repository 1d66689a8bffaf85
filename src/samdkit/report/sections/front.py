# ruff: noqa: RUF002  (typographic dashes and signs are intended: they are printed in the evidence)
"""Sections 0–5: control block, verdict, intended use, locked model, datasets, data quality."""

from __future__ import annotations

import json
from typing import Any

from samdkit.report.evidence import Gap, Gaps, commit_time, find, scalars, time_basis
from samdkit.report.sections.bundle import Bundle, Result
from samdkit.report.units import fmt

TEMPLATE_MARKER = "TEMPLATE EXAMPLE"


def _project_name(bundle: Bundle) -> str | None:
    """`[project] name` of the project's pyproject.toml: metadata the template sets, stable across checkouts."""
    import tomllib

    try:
        data = tomllib.loads((bundle.root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = (data.get("project") or {}).get("name")
    return name if isinstance(name, str) and name.strip() else None


def _document_ids(bundle: Bundle, gaps: Gaps) -> tuple[str, str]:
    """(report id, model card id): device.yaml's documents, [tool.samdkit.report], else [project] name."""
    docs = bundle.device.get("documents")
    docs = docs if isinstance(docs, dict) else {}

    def declared(key: str) -> str | None:
        return (docs.get(key) or {}).get("id") if isinstance(docs.get(key), dict) else None

    project_name = _project_name(bundle)
    doc_id = (
        declared("validation_report")
        or bundle.settings.get("document_id")
        or (f"CVR-{project_name}".upper() if project_name else None)
    )
    card_id = declared("model_card") or (f"MC-{project_name}".upper() if project_name else None)
    if not doc_id or not card_id:
        gaps.add(
            "0",
            "no document id: set documents.validation_report.id and documents.model_card.id in "
            f"{bundle.ev['device'].rel} (or [project] name in pyproject.toml)",
        )
    return doc_id or "CVR-UNIDENTIFIED", card_id or "MC-UNIDENTIFIED"


def device_name(bundle: Bundle) -> str:
    return (
        find(bundle.device, "name", "device_name", depth=0)
        or find(bundle.card_src.get("model_details", {}), "name", depth=0)
        or bundle.root.name
    )


def section_0(bundle: Bundle) -> Result:
    """Control block: document id, revision, times, source commit and CI run."""
    from samdkit.release.layout import RECORD_STATUS

    gaps = Gaps()
    git = bundle.git
    doc_id, card_id = _document_ids(bundle, gaps)
    revision = (
        bundle.revision or git.get("tag") or ((git.get("commit") or "")[:12] or "unversioned")
    )
    if not git.get("available"):
        gaps.add("0", "no git commit: the report cannot name the source revision")
    elif git.get("dirty"):
        gaps.add(
            "0",
            "the working tree has uncommitted changes; the commit does not fully describe the "
            "evaluated state",
            blocking=False,
        )
    name = device_name(bundle)
    document = {
        "id": doc_id,
        "revision": revision,
        "title": f"Clinical validation report — {name}",
        "status": RECORD_STATUS,
        "generated_utc": bundle.stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "time_basis": time_basis(),
        "source_commit_utc": commit_time(bundle.root) if git.get("available") else None,
        "model_card_id": card_id,
    }
    data = {
        "document": document,
        "device_name": name,
        "manufacturer": bundle.device.get("manufacturer"),
        "release_tag": git.get("tag"),
        "git": {k: v for k, v in git.items() if k != "previous_lock"},
        "ci": bundle.ci,
    }
    return data, gaps.items


def marked_fields(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every string that still starts with the template's example marker."""
    if isinstance(data, str):
        return [prefix or "(top level)"] if data.lstrip().startswith(TEMPLATE_MARKER) else []
    if isinstance(data, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(data)]
    else:
        return []
    return [path for key, value in items for path in marked_fields(value, key)]


def example_gap(rel: str, fields: list[str]) -> Gap:
    return Gap(
        "1",
        f"{rel} still holds the template's example text (marked {TEMPLATE_MARKER}) in: "
        + ", ".join(fields),
    )


def section_1(bundle: Bundle) -> Result:
    """Verdict, first part: the template's example texts a project has not replaced yet.

    The marker, not the topic, decides: a project that really is about breast lesions keeps its own
    words once the marker is gone. The verdict itself is `verdict(gaps)`, once every section has run.
    """
    found: dict[str, list[str]] = {}
    for key in ("device", "model_card", "requirements", "risks"):
        ev = bundle.ev[key]
        if ev.present:
            fields = marked_fields(ev.data)
            if fields:
                found[ev.rel] = fields
    return {"template_examples": found}, [example_gap(rel, f) for rel, f in found.items()]


def verdict(gaps: list[Gap]) -> dict[str, Any]:
    """Section 1: PASS only when no blocking gap remains anywhere in the report."""
    return {
        "verdict": "FAIL" if any(g.blocking for g in gaps) else "PASS",
        "gaps": [g.__dict__ for g in gaps],
    }


INTENDED_USE = (
    ("statement", "Intended use statement"),
    ("indication", "Indication"),
    ("population", "Target population"),
    ("users", "Intended users"),
    ("setting", "Use setting"),
    ("human_oversight", "Human oversight"),
    ("out_of_scope", "Out-of-scope use"),
)


def section_2(bundle: Bundle) -> Result:
    """Intended use, from compliance/device.yaml; every unstated field is a gap."""
    device, ev = bundle.device, bundle.ev["device"]
    iu = device.get("intended_use") if isinstance(device.get("intended_use"), dict) else {}
    intended = [(label, iu.get(key)) for key, label in INTENDED_USE]
    intended.append(("Device class", device.get("device_class")))
    intended.append(bundle.reg.iec62304_row())  # names the edition (compliance/regulatory.yaml)
    intended.append(("Regulatory status", device.get("regulatory_status")))
    gaps = Gaps()
    if not ev.present:
        gaps.add("2", f"{ev.rel} is missing: intended use is not documented")
    else:
        for label, value in intended[:-1]:
            if value in (None, "", []) and label != "Intended use statement":
                gaps.add("2", f"{label} not stated in {ev.rel}")
    return {"intended_use": intended}, gaps.items


def _data_version(lock: dict[str, Any]) -> str | None:
    """The data version model.lock pins: the DVC outs of its prepare stage."""
    data = lock["data"]
    if isinstance(data.get("outs"), list):
        return ", ".join(
            f"{o.get('path')} md5 {o.get('md5')}" for o in data["outs"] if isinstance(o, dict)
        )
    found = data.get("md5") or data.get("hash") or data.get("version")
    return found or (json.dumps(data, sort_keys=True) if data else None)


def lock_summary(lock: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """model.lock as samdkit.lock.schema reads it: root digest, files, determinism, data version."""
    det = {k: v for k, v in lock["determinism"].items() if k != "predictions"}
    # samdkit lock writes model.lock only after N identical runs (the schema requires runs >= 2)
    identical = True if det.get("output_sha256") and int(det.get("runs") or 0) >= 2 else None
    return {
        "root_digest": lock["artifact"]["root_digest"] or None,
        "files": sorted((f["path"], f["sha256"]) for f in lock["artifact"]["files"]),
        "determinism": det,
        "determinism_rows": scalars(det),
        "identical": identical,
        "data_version": _data_version(lock),
        "threshold": lock["threshold"],
        "all_fields": scalars(lock),
        "previous_root": previous["artifact"]["root_digest"] if previous else None,
    }


def section_3(bundle: Bundle) -> Result:
    """Locked model: model.lock's digests and determinism, and the rebuild check's verdict."""
    from samdkit.lock.rebuild import describe as rebuild_verdict  # reports/rebuild.json, or not run

    ev = bundle.ev["model_lock"]
    gaps = Gaps()
    if not ev.present:
        gaps.add("3", f"{ev.rel} is missing: the model is not locked (run samdkit lock)")
        return {"lock": None}, gaps.items
    lock = lock_summary(ev.data, bundle.git.get("previous_lock"))
    # the verdict file as the report read it (its digest is printed in section 14)
    found = bundle.ev["rebuild"].data if bundle.ev["rebuild"].present else None
    lock["rebuild"] = rebuild_verdict(bundle.project, ev.data, found)["text"]
    if not lock["root_digest"]:
        gaps.add("3", "model.lock names no model root digest")
    if lock["identical"] is None:
        gaps.add("3", "model.lock records no determinism result")
    return {"lock": lock}, gaps.items


def dvc_data_version(dvc_lock: Any) -> list[dict[str, str]]:
    """Output hashes of the prepare stage (the data version), or of every stage's data outs."""
    out = []
    stages = (dvc_lock or {}).get("stages", {}) if isinstance(dvc_lock, dict) else {}
    for stage, body in stages.items():
        for item in (body or {}).get("outs", []) or []:
            path = str(item.get("path", ""))
            if path.startswith("data") or stage == "prepare":
                out.append({"stage": stage, "path": path, "md5": str(item.get("md5", "?"))})
    return out


def section_4(bundle: Bundle, lock: dict[str, Any] | None) -> Result:
    """Datasets: source, split, subgroup columns and the data version (model.lock, else dvc.lock)."""
    data_cfg = bundle.params.get("data", {}) if isinstance(bundle.params.get("data"), dict) else {}
    dvc_versions = dvc_data_version(bundle.ev["dvc_lock"].data)
    gaps = Gaps()
    if not bundle.ev["dvc_lock"].present:
        gaps.add("4", "dvc.lock is missing: the data version is not pinned by DVC", blocking=False)
    data_version = (lock or {}).get("data_version") or (
        ", ".join(f"{d['path']} md5 {d['md5']}" for d in dvc_versions) if dvc_versions else None
    )
    settings = bundle.settings
    datasets = {
        **{
            key: data_cfg.get(key)
            for key in (
                "source",
                "id_column",
                "label_column",
                "positive_label",
                "test_size",
                "seed",
            )
        },
        "subgroup_columns": data_cfg.get("subgroup_columns"),
        "dvc": dvc_versions,
        "data_version": data_version,
        "independence": settings.get("test_independence")
        or "held-out split, stratified by label, fixed seed; the test split is never used in training "
        "(DVC stage prepare)",
        "missing_data": settings.get("missing_data")
        or "see data-quality expectations (section 5) for not-null checks",
    }
    return {"datasets": datasets}, gaps.items


def data_check_summary(data: dict[str, Any]) -> dict[str, Any]:
    """reports/data-check.json as samdkit.data.result reads it (schema samdkit/data-check/1)."""
    suites: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for validation in data["validations"]:
        suite = validation.get("suite") or {}
        dataset = validation.get("dataset") or {}
        suites.append(
            {
                "name": suite.get("name", "?"),
                "version": suite.get("sha256", "—"),
                "data": f"{dataset.get('path', '—')} ({dataset.get('rows', '?')} rows)",
                "passed": validation.get("passed", 0),
                "total": validation.get("total", 0),
                "success": validation.get("success"),
            }
        )
        failed += [
            {
                "suite": suite.get("name", "?"),
                "expectation": result.get("type", "?"),
                "column": result.get("column") or "—",
                "observed": fmt(result.get("observed_value")),
                "unexpected": fmt(result.get("unexpected_count")),
            }
            for result in validation.get("expectations") or []
            if result.get("success") is not True
        ]
    return {
        "success": bool(data.get("success")),
        "suites": suites,
        "passed": int(data.get("passed", 0)),
        "total": int(data.get("total", 0)),
        "failed": failed,
    }


def section_5(bundle: Bundle) -> Result:
    """Data quality: the GX suites' results of samdkit check-data."""
    ev = bundle.ev["data_check"]
    gaps = Gaps()
    if not ev.present:
        gaps.add("5", f"{ev.rel} is missing: data quality was not checked (samdkit check-data)")
        return {"data_quality": None}, gaps.items
    dq = data_check_summary(ev.data)
    if not dq["success"]:
        gaps.add(
            "5", f"data-quality check failed ({dq['passed']}/{dq['total']} expectations passed)"
        )
    return {"data_quality": dq}, gaps.items
