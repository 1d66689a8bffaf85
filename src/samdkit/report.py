# ruff: noqa: RUF001, RUF003  (typographic dashes and signs are intended: they are printed in the evidence)
"""`samdkit report`: the clinical validation report and the model card (PDF/A-3b, HTML, Markdown, JSON).

The report is assembled from the release evidence (reports/evaluation.json, reports/data-check.json, model.lock,
reports/emissions.csv, reports/train_run.json, dvc.lock, compliance/*.yaml, git, CI) with jinja2 templates that a
project may override (compliance/templates/, or [tool.samdkit.report] templates = "dir"). Missing evidence is
never hidden: its section says so and the verdict is FAIL. The command exits 0 unless an input is unreadable.

Every digest the report cites is printed in section 14 and listed in machine-readable form under `digests` in
reports/clinical-validation-report.json, which is also embedded in the PDF (see docs/evaluation-schema.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit import __version__, atomic
from samdkit.errors import UserError
from samdkit.evidence import Evidence, Gaps, ci_info, find, git_info, load, scalars, sha256_file
from samdkit.project import Project, load_project

if TYPE_CHECKING:
    from concurrent.futures import Future

SECTIONS = [
    ("0", "Control block"),
    ("1", "Verdict"),
    ("2", "Intended use"),
    ("3", "Locked model"),
    ("4", "Datasets"),
    ("5", "Data quality"),
    ("6", "Statistical methods"),
    ("7", "Results"),
    ("8", "Calibration"),
    ("9", "Subgroups"),
    ("10", "Acceptance criteria"),
    ("11", "Traceability matrix"),
    ("12", "Environment and SOUP"),
    ("13", "Residual anomalies and deviations"),
    ("14", "Provenance and digests"),
    ("15", "Approvals and signatures"),
    ("A", "Appendix: regulatory mapping"),
]

# (framework, item, what it asks for, sections that satisfy it)
REGULATORY_MAP = [
    (
        "EU AI Act Annex IV",
        "2(g)",
        "validation and testing procedures, data used, metrics",
        "4, 6, 7, 8",
    ),
    (
        "EU AI Act Annex IV",
        "2(g)",
        "accuracy, robustness, potentially discriminatory impacts",
        "7, 9",
    ),
    ("EU AI Act Annex IV", "2(g)", "test logs and test reports dated and signed", "0, 14, 15"),
    ("EU AI Act Annex IV", "2(d)/(e)", "data requirements, human oversight measures", "2, 4, 5"),
    (
        "IEC 62304",
        "§5.7.5",
        "test record: results, anomalies, version, configuration, tools, date, responsible person",
        "0, 3, 7–10, 12, 13, 15",
    ),
    (
        "IEC 62304",
        "§5.8",
        "release: verification complete, residual anomalies, how built, archived",
        "1, 13, 14",
    ),
    ("IEC 62304", "§8.1.2", "SOUP identification: title, manufacturer, version", "12"),
    ("ISO 14971", "§7.2", "verification of risk control measures", "10, 11"),
    ("TRIPOD+AI", "items 12, 23", "performance measures with CIs, calibration", "6, 7, 8"),
    ("TRIPOD+AI", "items 14, 24", "key subgroups, fairness", "9"),
    ("TRIPOD+AI", "items 9, 20", "missing data, sample size", "4, 9"),
    ("STARD 2015", "items 23, 24", "2×2 table, sensitivity and specificity with CIs", "7"),
    (
        "FDA/HC/MHRA GMLP",
        "principles 3, 8, 9",
        "independent test set, clinically relevant testing, users informed",
        "2, 4, 7",
    ),
    ("FDA PCCP", "—", "acceptance criteria set in advance", "6, 10"),
    ("21 CFR Part 11", "§11.50", "signature manifestation: printed name, date/time, meaning", "15"),
    ("21 CFR Part 11", "§11.70", "signature/record linking", "14, 15"),
]

OUTPUT_NAMES = {
    "report_pdf": "clinical-validation-report.pdf",
    "report_html": "clinical-validation-report.html",
    "report_md": "clinical-validation-report.md",
    "report_json": "clinical-validation-report.json",
    "card_pdf": "model-card.pdf",
    "card_json": "model-card.json",
    "card_md": "model-card.md",
    "sbom": "sbom.cdx.json",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Render the clinical validation report and the model card from the release evidence: "
        "PDF/A-3b (evaluation JSON, data-check JSON, model.lock and SBOM embedded), HTML, Markdown and JSON "
        "in reports/. Missing evidence is stated in its section and makes the verdict FAIL; the command "
        "still exits 0 (exit 2 only for unreadable inputs)."
    )
    parser.add_argument("--output-dir", help="where to write the reports (default: reports/)")
    parser.add_argument(
        "--revision", help="document revision (default: release tag, else short commit)"
    )
    parser.add_argument(
        "--sbom",
        help="use this CycloneDX JSON instead of generating reports/sbom.cdx.json from the environment",
    )
    parser.add_argument(
        "--no-pdf", action="store_true", help="skip the PDFs (HTML, Markdown, JSON only)"
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


# ---------------------------------------------------------------------------------------------------------
# context


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(metric: dict[str, Any] | None) -> str:
    ci = (metric or {}).get("ci") or {}
    if ci.get("lower") is None:
        return "—"
    return f"{ci['lower']:.3f} – {ci['upper']:.3f}"


def _method(metric: dict[str, Any] | None) -> str:
    return ((metric or {}).get("ci") or {}).get("method") or "—"


def _data_check_summary(data: Any) -> dict[str, Any]:
    """reports/data-check.json as `samdkit check-data` writes it (schema samdkit/data-check/1).

    An unrecognised file counts as a failed data check rather than being guessed at.
    """
    validations = data.get("validations") if isinstance(data, dict) else None
    if not isinstance(validations, list):
        return {
            "success": False,
            "suites": [],
            "passed": 0,
            "total": 0,
            "failed": [
                {
                    "suite": "—",
                    "expectation": "unrecognised data-check file (expected samdkit/data-check/1)",
                    "column": "—",
                    "observed": "—",
                    "unexpected": "—",
                }
            ],
        }
    suites: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for validation in validations:
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
        for result in validation.get("expectations") or []:
            if result.get("success") is not True:
                failed.append(
                    {
                        "suite": suite.get("name", "?"),
                        "expectation": result.get("type", "?"),
                        "column": result.get("column") or "—",
                        "observed": _fmt(result.get("observed_value")),
                        "unexpected": _fmt(result.get("unexpected_count")),
                    }
                )
    return {
        "success": bool(data.get("success")),
        "suites": suites,
        "passed": int(data.get("passed", 0)),
        "total": int(data.get("total", 0)),
        "failed": failed,
    }


def _lock_summary(lock: Any, previous: Any) -> dict[str, Any]:
    """Tolerant reading of model.lock: root digest, per-file digests, determinism, data version."""
    root = find(lock, "root_digest", "root_sha256", "model_sha256", "digest", "sha256")
    if isinstance(root, dict):
        root = root.get("sha256") or root.get("value")
    files_raw = find(lock, "files", depth=2)
    files: list[tuple[str, str]] = []
    if isinstance(files_raw, dict):
        files = [
            (k, v if isinstance(v, str) else str(find(v, "sha256", "digest")))
            for k, v in files_raw.items()
        ]
    elif isinstance(files_raw, list):
        files = [
            (str(f.get("path", "?")), str(f.get("sha256") or f.get("digest") or "?"))
            for f in files_raw
            if isinstance(f, dict)
        ]
    det = find(lock, "determinism", depth=1)
    det = {k: v for k, v in det.items() if k != "predictions"} if isinstance(det, dict) else {}
    identical = None
    for key in ("identical", "deterministic", "passed", "ok", "success"):
        if isinstance(det.get(key), bool):
            identical = det[key]
            break
    if identical is None and det.get("output_sha256") and int(det.get("runs") or 0) >= 2:
        identical = True  # samdkit lock writes model.lock only after N identical runs
    data_version = find(lock, "data_version", "data", depth=1)
    if isinstance(data_version, dict) and isinstance(data_version.get("outs"), list):
        data_version = ", ".join(
            f"{o.get('path')} md5 {o.get('md5')}"
            for o in data_version["outs"]
            if isinstance(o, dict)
        )
    if isinstance(data_version, dict):
        data_version = (
            data_version.get("md5")
            or data_version.get("hash")
            or data_version.get("version")
            or (json.dumps(data_version, sort_keys=True))
        )
    previous_root = None
    if previous is not None:
        previous_root = find(
            previous, "root_digest", "root_sha256", "model_sha256", "digest", "sha256"
        )
        if isinstance(previous_root, dict):
            previous_root = previous_root.get("sha256")
    return {
        "root_digest": root,
        "files": sorted(files),
        "determinism": det,
        "determinism_rows": scalars(det),
        "identical": identical,
        "data_version": data_version,
        "threshold": find(lock, "threshold", depth=2),
        "all_fields": scalars(lock),
        "previous_root": previous_root,
    }


def _emissions(rows: Any) -> dict[str, Any] | None:
    if not rows:
        return None
    last = rows[-1]

    def num(key: str) -> float | None:
        try:
            return float(last.get(key))
        except (TypeError, ValueError):
            return None

    return {
        "duration_s": num("duration"),
        "energy_kwh": num("energy_consumed"),
        "emissions_kg": num("emissions"),
        "country": last.get("country_iso_code") or last.get("country_name"),
        "cpu_model": last.get("cpu_model"),
        "tracker": f"codecarbon {last.get('codecarbon_version', '?')}",
        "timestamp": last.get("timestamp"),
    }


def _dvc_data_version(dvc_lock: Any) -> list[dict[str, str]]:
    """Output hashes of the prepare stage (the data version), or of every stage's data outs."""
    out = []
    stages = (dvc_lock or {}).get("stages", {}) if isinstance(dvc_lock, dict) else {}
    for stage, body in stages.items():
        for item in (body or {}).get("outs", []) or []:
            path = str(item.get("path", ""))
            if path.startswith("data") or stage == "prepare":
                out.append({"stage": stage, "path": path, "md5": str(item.get("md5", "?"))})
    return out


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _manufacturers(names: list[str]) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in names:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            continue
        who = meta.get("Author") or meta.get("Maintainer") or meta.get("Author-email") or ""
        who = (
            who.split("<")[0].strip().strip('"')
            or (meta.get("Maintainer-email") or "").split("<")[0]
        )
        if who:
            out[name] = who.strip()[:60]
    return out


def build(
    project: Project, args: argparse.Namespace, out_dir: Path, sbom_path: Path, wait_sbom
) -> dict[str, Any]:
    """Everything the templates need, as one JSON-serialisable dict (also written as the report JSON)."""
    from samdkit.evidence import timestamp

    root = project.root
    settings = project.section("report")
    ev: dict[str, Evidence] = {}
    for key, title, kind in [
        ("evaluation", "Evaluation result (samdkit evaluate)", "json"),
        ("data_check", "Data-quality result (samdkit check-data)", "json"),
        ("model_lock", "Model lock (samdkit lock)", "json"),
        ("emissions", "Energy and emissions of training (codecarbon)", "csv"),
        ("train_run", "Training run (MLflow)", "json"),
        ("dvc_lock", "Pipeline lock (DVC)", "yaml"),
        ("device", "Device description", "yaml"),
        ("requirements", "Requirements and acceptance criteria", "yaml"),
        ("risks", "Risk controls", "yaml"),
        ("model_card", "Model card source", "yaml"),
        ("params", "Parameters", "yaml"),
        ("predictions", "Test-set predictions", "bytes"),
    ]:
        ev[key] = load(key, title, project.path(key), root, kind)
    gaps = Gaps()
    stamp = timestamp()
    git = git_info(root, ev["model_lock"].rel)
    ci = ci_info()
    device = dict(ev["device"].data) if isinstance(ev["device"].data, dict) else {}
    if isinstance(
        device.get("device"), dict
    ):  # the template nests the device facts under `device:`
        device = {**device.pop("device"), **device}
    if "safety_class" not in device and "iec62304_safety_class" in device:
        device["safety_class"] = device["iec62304_safety_class"]
    card_src = ev["model_card"].data if isinstance(ev["model_card"].data, dict) else {}
    params = ev["params"].data if isinstance(ev["params"].data, dict) else {}
    evaluation = ev["evaluation"].data if isinstance(ev["evaluation"].data, dict) else None

    name = (
        find(device, "name", "device_name", depth=0)
        or find(card_src.get("model_details", {}), "name", depth=0)
        or root.name
    )
    docs = device.get("documents", {}) if isinstance(device.get("documents"), dict) else {}
    doc_id = (
        (docs.get("validation_report") or {}).get("id")
        if isinstance(docs.get("validation_report"), dict)
        else None
    )
    doc_id = doc_id or settings.get("document_id") or f"CVR-{root.name}".upper()
    card_id = (
        (docs.get("model_card") or {}).get("id")
        if isinstance(docs.get("model_card"), dict)
        else None
    )
    card_id = card_id or f"MC-{root.name}".upper()
    revision = args.revision or git.get("tag") or ((git.get("commit") or "")[:12] or "unversioned")

    # 0 control block
    if not git.get("available"):
        gaps.add("0", "no git commit: the report cannot name the source revision")
    elif git.get("dirty"):
        gaps.add(
            "0",
            "the working tree has uncommitted changes; the commit does not fully describe the "
            "evaluated state",
            blocking=False,
        )

    # 2 intended use
    iu = device.get("intended_use") if isinstance(device.get("intended_use"), dict) else {}
    intended = []
    for key, label in [
        ("statement", "Intended use statement"),
        ("indication", "Indication"),
        ("population", "Target population"),
        ("users", "Intended users"),
        ("setting", "Use setting"),
        ("human_oversight", "Human oversight"),
        ("out_of_scope", "Out-of-scope use"),
    ]:
        intended.append((label, iu.get(key)))
    intended.append(("Device class", device.get("device_class")))
    intended.append(("IEC 62304 software safety class", device.get("safety_class")))
    intended.append(("Regulatory status", device.get("regulatory_status")))
    if not ev["device"].present:
        gaps.add("2", f"{ev['device'].rel} is missing: intended use is not documented")
    else:
        for label, value in intended[:-1]:
            if value in (None, "", []) and label != "Intended use statement":
                gaps.add("2", f"{label} not stated in {ev['device'].rel}")

    # 3 locked model
    lock = None
    if not ev["model_lock"].present:
        gaps.add(
            "3", f"{ev['model_lock'].rel} is missing: the model is not locked (run samdkit lock)"
        )
    else:
        lock = _lock_summary(ev["model_lock"].data, git.get("previous_lock"))
        if not lock["root_digest"]:
            gaps.add("3", "model.lock names no model root digest")
        if lock["identical"] is False:
            gaps.add("3", "determinism check failed: repeated runs did not give identical outputs")
        elif lock["identical"] is None:
            gaps.add("3", "model.lock records no determinism result")

    # 4 datasets / 5 data quality
    data_cfg = params.get("data", {}) if isinstance(params.get("data"), dict) else {}
    dvc_versions = _dvc_data_version(ev["dvc_lock"].data)
    if not ev["dvc_lock"].present:
        gaps.add("4", "dvc.lock is missing: the data version is not pinned by DVC", blocking=False)
    dq = None
    if not ev["data_check"].present:
        gaps.add(
            "5",
            f"{ev['data_check'].rel} is missing: data quality was not checked (samdkit check-data)",
        )
    else:
        dq = _data_check_summary(ev["data_check"].data)
        if not dq["success"]:
            gaps.add(
                "5", f"data-quality check failed ({dq['passed']}/{dq['total']} expectations passed)"
            )

    # 6–11 from the evaluation
    figures: Future[dict[str, str]] | None = None
    if evaluation is None:
        for sec in ("6", "7", "8", "9", "10"):
            gaps.add(sec, f"{ev['evaluation'].rel} is missing: run samdkit evaluate")
    else:
        from samdkit import parallel, plots

        # drawn on the other core while weasyprint loads
        figures = parallel.submit(plots.figures, evaluation.get("overall", {}))
        if evaluation.get("verdict") != "PASS":
            failed = [
                c["id"] + (f" [{c['subgroup']}]" if c.get("subgroup") else "")
                for c in evaluation.get("criteria", [])
                if c.get("result") != "PASS"
            ]
            gaps.add("10", "acceptance criteria not met: " + ", ".join(failed))
        if ev["predictions"].present and evaluation.get("inputs", {}).get("predictions", {}).get(
            "sha256"
        ) not in (None, ev["predictions"].sha256):
            gaps.add(
                "7", "reports/predictions.csv changed after the evaluation ran (digest differs)"
            )

    # risks and traceability
    risks_data = ev["risks"].data if ev["risks"].present else None
    risk_list = []
    if isinstance(risks_data, dict):
        risk_list = [r for r in risks_data.get("risks", []) or [] if isinstance(r, dict)]
    elif isinstance(risks_data, list):
        risk_list = [r for r in risks_data if isinstance(r, dict)]
    risks = {str(r.get("id")): r for r in risk_list}
    if not ev["risks"].present:
        gaps.add(
            "11", f"{ev['risks'].rel} is missing: requirements cannot be traced to risk controls"
        )
    trace = []
    for crit in (evaluation or {}).get("criteria", []):
        linked = crit.get("risks") or []
        for rid in linked:
            if risks and rid not in risks:
                gaps.add("11", f"{crit['id']} names risk {rid}, which is not in {ev['risks'].rel}")
        trace.append(
            {
                "need": crit.get("need") or "—",
                "need_text": crit.get("need_text") or "",
                "requirement": crit["id"],
                "criterion": crit.get("criterion"),
                "risks": [
                    {
                        "id": rid,
                        "control": str(
                            find(risks.get(rid, {}), "control", "risk_control", depth=0) or "—"
                        ),
                    }
                    for rid in linked
                ],
                "check": f"samdkit evaluate ({crit.get('source', '')})",
                "subgroup": crit.get("subgroup"),
                "result": crit.get("result"),
            }
        )
    covered = {rid for t in trace for r in t["risks"] for rid in [r["id"]]}
    for rid, risk in risks.items():
        if rid not in covered:
            verification = find(risk, "verification", "verified_by", depth=0)
            trace.append(
                {
                    "need": "—",
                    "need_text": "",
                    "requirement": "—",
                    "criterion": str(verification or "no acceptance criterion"),
                    "risks": [
                        {
                            "id": rid,
                            "control": str(find(risk, "control", "risk_control", depth=0) or "—"),
                        }
                    ],
                    "check": str(verification or "—"),
                    "subgroup": None,
                    "result": "NOT VERIFIED" if not verification else "see check",
                }
            )

    # 12 environment (the SBOM generator ran in the background until now)
    sbom_error = wait_sbom()
    ev["sbom"] = load("sbom", "Software bill of materials (CycloneDX)", sbom_path, root, "json")
    soup = []
    if ev["sbom"].present:
        from samdkit import sbom as sbom_mod

        soup = sbom_mod.components(sbom_path)
        makers = _manufacturers([c["name"] for c in soup])
        for comp in soup:
            if comp["name"] in makers:
                comp["supplier"] = makers[comp["name"]]
    else:
        gaps.add("12", f"no SBOM: {sbom_error or 'not generated'}")
    emissions = _emissions(ev["emissions"].data) if ev["emissions"].present else None
    if emissions is None:
        gaps.add(
            "12",
            f"{ev['emissions'].rel} is missing: energy and CO₂ of training not measured",
            blocking=False,
        )
    train_run = ev["train_run"].data if isinstance(ev["train_run"].data, dict) else None
    if train_run is None:
        gaps.add(
            "14",
            f"{ev['train_run'].rel} is missing: the training run is not identified",
            blocking=False,
        )

    # 14 digests
    digests = []
    if lock and lock.get("root_digest"):
        digests.append(
            {
                "subject": "model root digest (model.lock)",
                "path": None,
                "sha256": str(lock["root_digest"]).removeprefix("sha256:"),
            }
        )
    for key in (
        "model_lock",
        "evaluation",
        "data_check",
        "sbom",
        "predictions",
        "requirements",
        "risks",
        "device",
        "model_card",
        "params",
        # not dvc.lock: DVC rewrites it after this stage to record the report's own outputs; the
        # data version it pins is printed instead (section 4)
        "emissions",
        "train_run",
    ):
        e = ev[key]
        if e.present:
            digests.append({"subject": e.title, "path": e.rel, "sha256": e.sha256})
    data_version = (lock or {}).get("data_version") or (
        ", ".join(f"{d['path']} md5 {d['md5']}" for d in dvc_versions) if dvc_versions else None
    )

    blocking = gaps.blocking
    verdict = "PASS" if not blocking else "FAIL"
    approvals = device.get("approvals") if isinstance(device.get("approvals"), list) else []
    if not approvals:
        approvals = [
            {"role": "Author", "meaning": "authorship", "name": ""},
            {"role": "Reviewer", "meaning": "review", "name": ""},
            {"role": "Approver", "meaning": "approval", "name": ""},
        ]
    reproduce = settings.get("reproduce") or [
        f"git checkout {git.get('commit') or '<commit>'}",
        "pip install -e '.[all]'   # or the lock file of the project's environment",
        "dvc pull && dvc repro",
        "samdkit verify-lock",
        "samdkit report",
    ]
    return {
        "schema": "samdkit/clinical-validation-report/v1",
        "generator": {"name": "samdkit", "version": __version__},
        "document": {
            "id": doc_id,
            "revision": revision,
            "title": f"Clinical validation report — {name}",
            "status": "UNSIGNED DRAFT — signatures are added by samdkit sign",
            "generated_utc": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model_card_id": card_id,
        },
        "device_name": name,
        "manufacturer": device.get("manufacturer"),
        "release_tag": git.get("tag"),
        "git": {k: v for k, v in git.items() if k != "previous_lock"},
        "ci": ci,
        "sections": [{"number": n, "title": t} for n, t in SECTIONS],
        "verdict": verdict,
        "gaps": [g.__dict__ for g in gaps.items],
        "intended_use": intended,
        "lock": lock,
        "inputs": {k: e.as_dict() for k, e in ev.items()},
        "datasets": {
            "source": data_cfg.get("source"),
            "id_column": data_cfg.get("id_column"),
            "label_column": data_cfg.get("label_column"),
            "positive_label": data_cfg.get("positive_label"),
            "test_size": data_cfg.get("test_size"),
            "seed": data_cfg.get("seed"),
            "subgroup_columns": data_cfg.get("subgroup_columns"),
            "dvc": dvc_versions,
            "data_version": data_version,
            "independence": settings.get("test_independence")
            or "held-out split, stratified by label, fixed seed; the test split is never used in training "
            "(DVC stage prepare)",
            "missing_data": settings.get("missing_data")
            or "see data-quality expectations (section 5) for not-null checks",
        },
        "data_quality": dq,
        "evaluation": evaluation,
        "traceability": trace,
        "risks": list(risks.values()),
        "environment": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "os": platform.platform(terse=True),
            "machine": platform.machine(),
            "executable_prefix": Path(sys.prefix).name,
        },
        "soup": soup,
        "emissions": emissions,
        "train_run": train_run,
        "digests": digests,
        "reproduce": reproduce,
        "approvals": approvals,
        "regulatory_map": REGULATORY_MAP,
        "_figures": figures,
    }


# ---------------------------------------------------------------------------------------------------------
# model card


def model_card(
    ctx: dict[str, Any], card_src: dict[str, Any], report_pdf_sha: str | None
) -> dict[str, Any]:
    """The one JSON source of the model card (fields of docs/regulatory-evidence: Mitchell et al., HF, MCT)."""
    details_src = (
        card_src.get("model_details", {}) if isinstance(card_src.get("model_details"), dict) else {}
    )
    evaluation = ctx.get("evaluation") or {}
    overall = evaluation.get("overall", {})
    lock = ctx.get("lock") or {}
    manufacturer = ctx.get("manufacturer")
    if isinstance(manufacturer, dict):
        manufacturer = manufacturer.get("name")
    intended = dict(ctx["intended_use"])
    quantitative = []
    crit_by_metric: dict[tuple[str, str | None], dict[str, Any]] = {}
    for c in evaluation.get("criteria", []):
        crit_by_metric.setdefault((c["metric"], c.get("subgroup")), c)

    def add(metric_name: str, entry: dict[str, Any], slice_name: str, n: int) -> None:
        crit = crit_by_metric.get((metric_name, None if slice_name == "overall" else slice_name))
        quantitative.append(
            {
                "metric": metric_name,
                "value": entry.get("value"),
                "ci": entry.get("ci"),
                "slice": slice_name,
                "n": n,
                "acceptance_criterion": crit.get("criterion") if crit else None,
                "pass": (crit.get("result") == "PASS") if crit else None,
            }
        )

    for name in evaluation.get("headline_metrics", []):
        add(name, overall.get("metrics", {}).get(name, {}), "overall", overall.get("n", 0))
    for name in ("brier", "ece", "calibration_slope", "calibration_intercept"):
        if name in overall.get("calibration", {}):
            add(name, overall["calibration"][name], "overall", overall.get("n", 0))
    fairness = []
    for g in evaluation.get("subgroups", []):
        slice_name = f"{g['column']}={g['value']}"
        for name in ("sensitivity", "specificity", "auroc"):
            add(name, g.get("metrics", {}).get(name, {}), slice_name, g["n"])
        fairness.append(
            {
                "subgroup": slice_name,
                "n": g["n"],
                "below_min_n": g["below_min_n"],
                "gaps": {
                    k: g["gap_to_overall"].get(k) for k in ("sensitivity", "specificity", "auroc")
                },
            }
        )
    considerations = (
        card_src.get("considerations", {})
        if isinstance(card_src.get("considerations"), dict)
        else {}
    )
    return {
        "schema": "samdkit/model-card/v1",
        "model_details": {
            "name": ctx["device_name"],
            "version": details_src.get("version") or ctx["document"]["revision"],
            "date": ctx["document"]["generated_utc"],
            "manufacturer": manufacturer,
            "contact": details_src.get("contact"),
            "license": details_src.get("license"),
            "regulatory_status": dict(ctx["intended_use"]).get("Regulatory status"),
            "iec_62304_class": dict(ctx["intended_use"]).get("IEC 62304 software safety class"),
            "model_sha256": lock.get("root_digest"),
            "git_commit": ctx["git"].get("commit"),
            "locked": bool(lock.get("root_digest")) and lock.get("identical") is True,
            "change_log": details_src.get("change_log") or [],
            "document_id": ctx["document"]["model_card_id"],
        },
        "intended_use": {
            "statement": intended.get("Intended use statement") or intended.get("Indication"),
            "population": intended.get("Target population"),
            "users": intended.get("Intended users"),
            "setting": intended.get("Use setting"),
            "out_of_scope": intended.get("Out-of-scope use"),
            "human_oversight": intended.get("Human oversight"),
        },
        "model_parameters": {
            **(
                {"architecture": details_src["architecture"]}
                if details_src.get("architecture")
                else {}
            ),
            **(card_src.get("model_parameters") or {}),
            "threshold": evaluation.get("threshold", lock.get("threshold")),
        },
        "datasets": [
            {
                "role": "test (held-out)",
                "source": ctx["datasets"]["source"],
                "version": ctx["datasets"]["data_version"],
                "n": overall.get("n"),
                "prevalence": (overall.get("metrics", {}).get("prevalence") or {}).get("value"),
            }
        ],
        "quantitative_analysis": quantitative,
        "fairness": fairness,
        "considerations": {
            "limitations": considerations.get("limitations") or [],
            "risks": [
                {"id": str(r.get("id")), "hazard": r.get("hazard"), "control": r.get("control")}
                for r in ctx["risks"]
            ],
            "tradeoffs": considerations.get("tradeoffs") or considerations.get("trade_offs") or [],
            "ethical_considerations": considerations.get("ethical_considerations")
            or considerations.get("ethics")
            or [],
        },
        "lifecycle": card_src.get("lifecycle") or {},
        "environmental_impact": ctx.get("emissions"),
        "provenance": {
            "report_id": ctx["document"]["id"],
            "report_revision": ctx["document"]["revision"],
            "report_pdf_sha256": report_pdf_sha,
            "sbom_sha256": ctx["inputs"]["sbom"]["sha256"],
            "evaluation_sha256": ctx["inputs"]["evaluation"]["sha256"],
        },
        "verdict": ctx["verdict"],
    }


def _project_relative(path: Path, root: Path) -> str:
    """A path as the manifest names it; outside the project, its bare name (stable across folders)."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def hf_front_matter(card: dict[str, Any]) -> str:
    """YAML front matter of a Hugging Face model card (model-index holds the test-set results)."""
    import yaml

    details = card["model_details"]
    dataset = card["datasets"][0]
    metrics = []
    for q in card["quantitative_analysis"]:
        if q["slice"] != "overall" or q["value"] is None:
            continue
        ci = q.get("ci") or {}
        label = q["metric"]
        if ci.get("lower") is not None:
            label += f" (95% CI {ci['lower']:.3f}–{ci['upper']:.3f}, {ci['method']})"
        metrics.append(
            {"type": q["metric"], "value": round(q["value"], 4), "name": label, "verified": False}
        )
    front = {
        "license": details.get("license") or "other",
        "library_name": "sklearn",
        "tags": ["medical", "samd", "tabular-classification", "samdkit"],
        "model-index": [
            {
                "name": details["name"],
                "results": [
                    {
                        "task": {"type": "tabular-classification", "name": "Binary classification"},
                        "dataset": {
                            "type": str(dataset.get("source") or "private"),
                            "name": str(dataset.get("source") or "held-out test set"),
                            "split": "test",
                            "revision": str(dataset.get("version") or "unknown"),
                        },
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    return "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True) + "---\n"


# ---------------------------------------------------------------------------------------------------------
# rendering


def _environment(project: Project):
    import jinja2

    dirs = []
    custom = project.section("report").get("templates")
    for candidate in ([project.root / custom] if custom else []) + [
        project.root / "compliance" / "templates"
    ]:
        if candidate.is_dir():
            dirs.append(str(candidate))
    dirs.append(str(Path(__file__).parent / "templates"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        lstrip_blocks=True,
    )
    env.filters["f"] = _fmt
    env.filters["ci"] = _ci
    env.filters["method"] = _method
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"
    env.filters["css_string"] = lambda s: (
        '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    )
    env.filters["mdcell"] = lambda s: (
        str(s if s is not None else "—").replace("|", "\\|").replace("\n", " ")
    )
    env.filters["as_list"] = lambda v: (
        v if isinstance(v, list) else ([] if v in (None, "") else [v])
    )
    env.globals["metric_labels"] = __import__("samdkit.metrics", fromlist=["METRICS"]).METRICS
    return env


def _write_pdf(
    html: str,
    target: Path,
    attachments: list[tuple[Path | None, bytes, str, str]],
    title: str,
    base_url: Path,
) -> None:
    from weasyprint import HTML, Attachment

    from samdkit.evidence import timestamp

    stamp = timestamp()
    files = [
        Attachment(
            string=data,
            name=name,
            description=desc,
            relationship="Data",
            created=stamp,
            modified=stamp,
        )
        for _, data, name, desc in attachments
    ]
    pdf = HTML(string=html, base_url=str(base_url)).write_pdf(
        pdf_variant="pdf/a-3b",
        attachments=files,
        uncompressed_pdf=False,
        pdf_identifier=None,
    )
    atomic.write_bytes(target, pdf)


def run(args: argparse.Namespace) -> int:
    project = load_project(".")
    out_dir = Path(args.output_dir) if args.output_dir else project.path("reports")
    outputs = {k: out_dir / v for k, v in OUTPUT_NAMES.items()}
    sbom_error = None
    process = None
    if args.sbom:
        sbom_path = Path(args.sbom)
        if not sbom_path.is_file():
            sbom_error = f"{sbom_path} not found"
    else:
        from samdkit import sbom as sbom_mod

        sbom_path = outputs["sbom"]
        process = sbom_mod.start(sbom_path)  # runs while the plots and tables are prepared

    def wait_sbom() -> str | None:
        if not args.no_pdf:
            import weasyprint  # noqa: F401  (imported while the SBOM generator finishes)
        if process is None:
            return sbom_error
        from samdkit import sbom as sbom_mod

        error = sbom_mod.finish(process, sbom_path)
        if error:
            sbom_path.unlink(missing_ok=True)
        return error

    ctx = build(project, args, out_dir, sbom_path, wait_sbom)
    pending = ctx.pop("_figures")
    figures = pending.result() if pending else {}
    plots = {k: _svg_uri(v) for k, v in figures.items()}
    env = _environment(project)
    css = env.get_template("report.css").render()
    fig_dir = out_dir / "figures"
    for key, svg in figures.items():
        atomic.write_text(fig_dir / f"{key}.svg", svg)

    atomic.write_json(outputs["report_json"], ctx)
    html = env.get_template("report.html.j2").render(**ctx, plots=plots, css=css)
    atomic.write_text(outputs["report_html"], html)
    md = env.get_template("report.md.j2").render(**ctx, figures=sorted(figures))
    atomic.write_text(outputs["report_md"], md)

    report_sha = None
    if not args.no_pdf:
        attachments = [
            (
                None,
                outputs["report_json"].read_bytes(),
                OUTPUT_NAMES["report_json"],
                "Report data (machine-readable)",
            ),
            (
                None,
                (json.dumps(ctx["digests"], indent=2, sort_keys=True) + "\n").encode("utf-8"),
                "evidence-digests.json",
                "Exactly the digests printed in section 14, for samdkit verify",
            ),
        ]
        for key, desc in [
            ("evaluation", "Evaluation result"),
            ("data_check", "Data-quality result"),
            ("model_lock", "Model lock"),
        ]:
            path = project.path(key)
            if path.is_file():
                attachments.append((path, path.read_bytes(), path.name, desc))
        if ctx["inputs"]["sbom"]["present"]:
            attachments.append(
                (sbom_path, sbom_path.read_bytes(), sbom_path.name, "CycloneDX SBOM")
            )
        _write_pdf(html, outputs["report_pdf"], attachments, ctx["document"]["title"], project.root)
        report_sha = sha256_file(outputs["report_pdf"])

    card_src_ev = load("model_card", "", project.path("model_card"), project.root, "yaml")
    card_src = card_src_ev.data if isinstance(card_src_ev.data, dict) else {}
    card = model_card(ctx, card_src, report_sha)
    atomic.write_json(outputs["card_json"], card)
    card_ctx = {
        "card": card,
        "document": ctx["document"],
        "gaps": ctx["gaps"],
        "css": css,
        "card_source_present": card_src_ev.present,
    }
    atomic.write_text(
        outputs["card_md"],
        hf_front_matter(card) + env.get_template("model-card.md.j2").render(**card_ctx),
    )
    if not args.no_pdf:
        card_html = env.get_template("model-card.html.j2").render(**card_ctx)
        provenance = card["provenance"]
        card_digests = [
            {"subject": subject, "path": path, "sha256": provenance[key]}
            for subject, path, key in (
                (
                    "Clinical validation report (PDF as rendered, before signatures)",
                    _project_relative(outputs["report_pdf"], project.root),
                    "report_pdf_sha256",
                ),
                ("SBOM", ctx["inputs"]["sbom"]["path"], "sbom_sha256"),
                ("Evaluation result", ctx["inputs"]["evaluation"]["path"], "evaluation_sha256"),
            )
            if provenance.get(key) and path
        ]
        card_attach = [
            (
                None,
                outputs["card_json"].read_bytes(),
                OUTPUT_NAMES["card_json"],
                "Model card source",
            ),
            (
                None,
                (json.dumps(card_digests, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                "evidence-digests.json",
                "Exactly the file digests printed in the model card, for samdkit verify",
            ),
        ]
        _write_pdf(card_html, outputs["card_pdf"], card_attach, "Model card", project.root)

    written = [
        p for k, p in outputs.items() if p.is_file() and not (args.no_pdf and k.endswith("pdf"))
    ]
    if args.format == "json":
        print(
            json.dumps(
                {
                    "verdict": ctx["verdict"],
                    "gaps": ctx["gaps"],
                    "outputs": {p.name: sha256_file(p) for p in written},
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        for gap in ctx["gaps"]:
            level = "error" if gap["blocking"] else "warning"
            if args.format == "github":
                print(f"::{level} title=report section {gap['section']}::{gap['message']}")
            else:
                print(f"{level.upper():<7} section {gap['section']}: {gap['message']}")
        for p in written:
            print(f"wrote {p}  sha256 {sha256_file(p)}")
        print(
            f"samdkit report: verdict {ctx['verdict']} ({len([g for g in ctx['gaps'] if g['blocking']])} "
            "blocking gap(s))"
        )
    return 0


__all__ = ["add_arguments", "run"]
_ = UserError  # bad input is raised from samdkit.evidence
