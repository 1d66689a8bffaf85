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
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit import __version__
from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.core.project import Project, load_project, require_project
from samdkit.release import sign as signing
from samdkit.report.evidence import Evidence, Gaps, ci_info, find, git_info, load, scalars

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

TEMPLATES = Path(__file__).parent / "templates"

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
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1, writing nothing, when any blocking gap remains (template example texts "
        "included); release pipelines use it",
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


def _quantity(value: Any, unit: str, prefixes: tuple[tuple[str, float], ...]) -> str:
    """A measured quantity with 2 significant figures and an SI prefix: `3.2 mWh`, never `0.000000`."""
    if value is None:
        return "n/a"
    value = float(value)
    smallest_prefix, smallest_scale = prefixes[-1]
    if value <= 0 or value < smallest_scale:
        return f"< 1 {smallest_prefix}{unit}"
    for prefix, scale in prefixes:
        number = float(f"{value / scale:.2g}")  # rounded first: 0.9996 kWh is 1 kWh, not 1000 Wh
        if number >= 1:
            text = f"{number:.0f}" if number >= 10 else f"{number:g}"
            return f"{text} {prefix}{unit}"
    return f"< 1 {smallest_prefix}{unit}"  # pragma: no cover (the first test returns)


def energy(kwh: Any) -> str:
    """Energy given in kWh (codecarbon), printed with 2 significant figures: `3.2 mWh`, `1.4 kWh`."""
    prefixes = (("M", 1e3), ("k", 1.0), ("", 1e-3), ("m", 1e-6), ("µ", 1e-9))
    return _quantity(kwh, "Wh", prefixes)


def mass_co2(kg: Any) -> str:
    """CO₂-equivalent mass given in kg, printed with 2 significant figures: `1.4 mg CO₂eq`."""
    prefixes = (("t", 1e3), ("kg", 1.0), ("g", 1e-3), ("mg", 1e-6), ("µg", 1e-9))
    return "n/a" if kg is None else _quantity(kg, "", prefixes) + " CO₂eq"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    return f"{float(f'{float(seconds):.2g}'):g} s"


TEMPLATE_MARKER = "TEMPLATE EXAMPLE"


def _marked_fields(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every string that still starts with the template's example marker."""
    if isinstance(data, str):
        return [prefix or "(top level)"] if data.lstrip().startswith(TEMPLATE_MARKER) else []
    if isinstance(data, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(data)]
    else:
        return []
    return [path for key, value in items for path in _marked_fields(value, key)]


def template_examples(ev: dict[str, Evidence], params: dict[str, Any]) -> dict[str, list[str]]:
    """{file: [field, ...]} of the template's example texts a project has not replaced yet.

    The marker, not the topic, decides: a project that really is about breast lesions keeps its own
    words once the marker is gone (`params` is accepted for markers in future parameter texts).
    """
    found: dict[str, list[str]] = {}
    for key in ("device", "model_card", "requirements", "risks"):
        if ev[key].present:
            fields = _marked_fields(ev[key].data)
            if fields:
                found[ev[key].rel] = fields
    return found


def _project_name(root: Path) -> str | None:
    """`[project] name` of the project's pyproject.toml: metadata the template sets, stable across checkouts."""
    import tomllib

    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = (data.get("project") or {}).get("name")
    return name if isinstance(name, str) and name.strip() else None


def _commit_time(root: Path) -> str | None:
    """UTC commit time of the project's HEAD (what the evidence describes), or None without git."""
    import subprocess
    from datetime import UTC, datetime

    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%ct", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        return datetime.fromtimestamp(int(out), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _time_basis() -> str:
    import os

    if os.environ.get("SOURCE_DATE_EPOCH"):
        return "SOURCE_DATE_EPOCH (fixed for a reproducible build; not the time of generation)"
    return "time of generation (clock of the machine that ran samdkit report)"


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


def _worker_job(overall: dict[str, Any] | None, device: Any) -> dict[str, Any]:
    """The plots and the device's SBOM, in one forked worker while this process loads weasyprint.

    One worker, not two: a second cannot fork while the first one's pool thread runs.
    """
    from samdkit.report import plots
    from samdkit.report import sbom as sbom_mod

    out: dict[str, Any] = {"sbom": None, "sbom_error": None, "figures": None}
    if device is not None:
        try:
            out["sbom"] = sbom_mod.build(device)
        except sbom_mod.NoDevice as exc:
            out["sbom_error"] = str(exc)
    if overall is not None:
        out["figures"] = plots.figures(overall)
    return out


def _sbom_job(
    project: Project, args: argparse.Namespace, facts: dict[str, Any], overall: Any
) -> Future[dict[str, Any]]:
    from samdkit.core import parallel
    from samdkit.report import sbom as sbom_mod

    device = None if args.sbom else sbom_mod.Device(root=project.root, **facts)
    return parallel.submit(_worker_job, overall, device)


def _sbom(
    project: Project, sbom_arg: str | None, target: Path, job: Any
) -> tuple[Evidence, str | None, list[str]]:
    """(the SBOM as evidence, its JSON text, problems): the device's own, or --sbom's file as given."""
    from samdkit.core import bounded

    title = "Software bill of materials (CycloneDX)"
    if sbom_arg:
        path = Path(sbom_arg)
        if not path.is_file():
            return Evidence("sbom", title, path, sbom_arg), None, [f"{sbom_arg} not found"]
        text = bounded.read_text(path, bounded.MAX_JSON_BYTES)
    else:
        path = target
        done = job.result()
        if done["sbom_error"]:
            return (
                Evidence("sbom", title, path, _project_relative(path, project.root)),
                None,
                [done["sbom_error"]],
            )
        text, missing = done["sbom"]
        if missing:
            return (
                Evidence("sbom", title, path, _project_relative(path, project.root)),
                None,
                [
                    "runtime dependencies not installed, their versions unknown: "
                    + ", ".join(missing)
                ],
            )
    data = bounded.json_text(text, str(path))
    evidence = Evidence(
        key="sbom",
        title=title,
        path=path,
        rel=_project_relative(path, project.root),
        present=True,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        data=data,
    )
    return evidence, text, []


def build(
    project: Project, args: argparse.Namespace, out_dir: Path, sbom_path: Path
) -> dict[str, Any]:
    """Everything the templates need, as one JSON-serialisable dict (also written as the report JSON)."""
    from samdkit.report.evidence import timestamp

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
    if evaluation is not None:
        from samdkit.evaluate.evaluation import SCHEMAS

        if evaluation.get("schema") not in SCHEMAS:  # strict: a shape this version cannot lay out
            raise UserError(
                f"{ev['evaluation'].rel}: schema {str(evaluation.get('schema'))[:60]!r} is not one "
                f"samdkit {__version__} reads ({', '.join(SCHEMAS)}): run samdkit evaluate again"
            )
    reg, plan = _regulatory_inputs(project, device)

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
    project_name = _project_name(root)
    doc_id = (
        doc_id
        or settings.get("document_id")
        or (f"CVR-{project_name}".upper() if project_name else None)
    )
    card_id = (
        (docs.get("model_card") or {}).get("id")
        if isinstance(docs.get("model_card"), dict)
        else None
    )
    card_id = card_id or (f"MC-{project_name}".upper() if project_name else None)
    if not doc_id or not card_id:
        gaps.add(
            "0",
            "no document id: set documents.validation_report.id and documents.model_card.id in "
            f"{ev['device'].rel} (or [project] name in pyproject.toml)",
        )
        doc_id, card_id = doc_id or "CVR-UNIDENTIFIED", card_id or "MC-UNIDENTIFIED"
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
    intended.append(reg.iec62304_row())  # names the edition (compliance/regulatory.yaml)
    intended.append(("Regulatory status", device.get("regulatory_status")))
    if not ev["device"].present:
        gaps.add("2", f"{ev['device'].rel} is missing: intended use is not documented")
    else:
        for label, value in intended[:-1]:
            if value in (None, "", []) and label != "Intended use statement":
                gaps.add("2", f"{label} not stated in {ev['device'].rel}")

    examples = template_examples(ev, params)
    for rel, fields in examples.items():
        gaps.add(
            "1",
            f"{rel} still holds the template's example text (marked {TEMPLATE_MARKER}) in: "
            + ", ".join(fields),
        )

    # 3 locked model
    lock = None
    if not ev["model_lock"].present:
        gaps.add(
            "3", f"{ev['model_lock'].rel} is missing: the model is not locked (run samdkit lock)"
        )
    else:
        lock = _lock_summary(ev["model_lock"].data, git.get("previous_lock"))
        from samdkit.lock.rebuild import (
            describe as rebuild_verdict,  # reports/rebuild.json, or not run
        )

        lock["rebuild"] = rebuild_verdict(project, ev["model_lock"].data)["text"]
        if not lock["root_digest"]:
            gaps.add("3", "model.lock names no model root digest")
        if lock["identical"] is False:
            gaps.add("3", "determinism check failed: repeated runs did not give identical outputs")
        elif lock["identical"] is None:
            gaps.add("3", "model.lock records no determinism result")

    maker = device.get("manufacturer")
    sbom_job = _sbom_job(
        project,
        args,
        {
            "manufacturer": (maker.get("name") if isinstance(maker, dict) else maker) or None,
            "model_digest": str((lock or {}).get("root_digest") or "").removeprefix("sha256:")
            or None,
            "evaluation": evaluation,
            "commit": git.get("commit"),
            "timestamp": stamp,
        },
        evaluation.get("overall", {}) if evaluation is not None else None,
    )

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
        figures = sbom_job  # plots drawn on the other core with the SBOM (see _worker_job)
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

    # 12 environment: the device's SBOM (its SOUP) and the tools used for verification
    if not args.no_pdf:
        import weasyprint  # noqa: F401  (loads here while the worker finishes the SBOM)
    ev["sbom"], sbom_text, sbom_problems = _sbom(project, args.sbom, sbom_path, sbom_job)
    if figures is not None:
        from concurrent.futures import Future as DoneFuture

        figures = DoneFuture()
        figures.set_result(sbom_job.result()["figures"])
    from samdkit.report import sbom as sbom_mod

    sbom_view = sbom_mod.components(ev["sbom"].data) if ev["sbom"].present else {}
    soup = sbom_view.get("soup", [])
    for problem in sbom_problems:
        gaps.add("12", f"no SBOM: {problem}")
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
    # section 15: the planned signatures that the stamps on the last page fulfil (samdkit.signing)
    approvals = signing.planned_signers(project, device)
    reproduce = settings.get("reproduce") or [
        f"git checkout {git.get('commit') or '<commit>'}",
        "pip install -e '.[all]'   # or the lock file of the project's environment",
        "dvc pull && dvc repro",
        "samdkit verify-lock",
        "samdkit report",
    ]
    ctx = {
        "schema": "samdkit/clinical-validation-report/v1",
        "generator": {"name": "samdkit", "version": __version__},
        "document": {
            "id": doc_id,
            "revision": revision,
            "title": f"Clinical validation report — {name}",
            "status": signing.RECORD_STATUS,
            "generated_utc": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "time_basis": _time_basis(),
            "source_commit_utc": _commit_time(root) if git.get("available") else None,
            "model_card_id": card_id,
        },
        "template_examples": examples,
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
        "attributes": attributes_statement(evaluation),
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
        "sbom_subject": sbom_view.get("subject"),
        "verification_tools": sbom_view.get("tools", []),
        "_sbom_text": sbom_text,
        "emissions": emissions,
        "train_run": train_run,
        "digests": digests,
        "reproduce": reproduce,
        "approvals": approvals,
        "_figures": figures,
    }
    return _regulatory(ctx, gaps, reg, plan, card_src)


def _regulatory_inputs(project: Project, device: dict[str, Any]) -> tuple[Any, Any]:
    """compliance/regulatory.yaml and compliance/pccp.yaml, checked before anything is written."""
    from samdkit.regulatory import load_config, pccp

    folder = project.path("device").parent
    rel = _project_relative(folder, project.root)
    return (
        load_config(folder / "regulatory.yaml", f"{rel}/regulatory.yaml", device),
        pccp.load(folder / "pccp.yaml", f"{rel}/pccp.yaml"),
    )


def _regulatory(
    ctx: dict[str, Any], gaps: Gaps, reg: Any, plan: Any, card_src: Any
) -> dict[str, Any]:
    """Appendix A: every checklist item mapped or justified (else a blocking gap), and the PCCP judged."""
    from samdkit.regulatory import mapping, pccp

    for rel, raw in [(reg.rel, reg.raw), *([(plan["path"], plan["_raw"])] if plan else [])]:
        fields = _marked_fields(raw)
        if fields:  # the template's example reasons and plan are not the project's own
            ctx["template_examples"][rel] = fields
            gaps.add(
                "1",
                f"{rel} still holds the template's example text (marked {TEMPLATE_MARKER}) in: "
                + ", ".join(fields),
            )
    ctx["pccp"] = pccp.judge(plan, ctx["evaluation"]) if plan else None
    failed = [c["id"] for c in (ctx["pccp"] or {}).get("criteria", []) if c["result"] != "PASS"]
    if failed:  # a declared plan binds: a model outside it is not a release under the plan
        gaps.add(
            "A",
            f"{plan['path']}: this model does not meet the plan's acceptance criteria: {', '.join(failed)}",
        )
    ctx["iec62304"] = {"edition": reg.edition, "name": reg.edition_name, "level": reg.level}
    ctx["regulatory"], missing = mapping(ctx, reg, card_src)
    for message in missing:
        gaps.add("A", message)
    ctx["gaps"] = [g.__dict__ for g in gaps.items]
    ctx["verdict"] = "PASS" if not gaps.blocking else "FAIL"
    return ctx


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


def published_subgroups(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Subgroups as a published output may show them: small cells (and their partner) without numbers."""
    out = []
    for g in evaluation.get("subgroups", []):
        if g.get("suppressed", g.get("n", 0) < 11):
            out.append({"column": g["column"], "value": g["value"], "suppressed": True})
        else:
            out.append({**g, "suppressed": False})
    return out


# ---------------------------------------------------------------------------------------------------------
# model card


def model_card(
    ctx: dict[str, Any], card_src: dict[str, Any], report_pdf_sha: str | None
) -> dict[str, Any]:
    """The one JSON source of the model card (fields of docs/regulatory-evidence: Mitchell et al., HF, MCT).

    `chai` lays the same evidence out in the CHAI applied model card's sections (samdkit.regulatory.chai).
    """
    from samdkit.regulatory import chai

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
    crit_by_metric: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    for c in evaluation.get("criteria", []):
        crit_by_metric.setdefault((c["metric"], c.get("subgroup"), c.get("class")), c)
    min_cell = (evaluation.get("publication") or {}).get("min_cell_size", 11)
    multiclass = bool(evaluation.get("classes"))

    def add(
        metric_name: str, entry: dict[str, Any], slice_name: str, n: int, cls: str | None = None
    ) -> None:
        where = None if slice_name == "overall" else slice_name
        crit = crit_by_metric.get((metric_name, where, cls))
        if crit is None and cls is not None and cls == evaluation.get("positive_label"):
            crit = crit_by_metric.get((metric_name, where, None))
        row = {
            "metric": metric_name,
            "value": entry.get("value"),
            "ci": entry.get("ci"),
            "slice": slice_name,
            "n": n,
            "acceptance_criterion": crit.get("criterion") if crit else None,
            "pass": (crit.get("result") == "PASS") if crit else None,
        }
        if multiclass:  # one-vs-rest metric of a class; None = the outcome as a whole
            row["class"] = cls
        quantitative.append(row)

    def add_classes(entry: dict[str, Any], slice_name: str, names: tuple[str, ...]) -> None:
        for item in entry.get("per_class") or []:
            for name in names:
                metric = (item.get("metrics") or {}).get(name)
                if metric is None:
                    metric = (item.get("calibration") or {}).get(name, {})
                add(name, metric, slice_name, item.get("n", 0), item.get("class"))

    for name in evaluation.get("headline_metrics", []):
        add(name, overall.get("metrics", {}).get(name, {}), "overall", overall.get("n", 0))
    for name in ("brier", "ece", "calibration_slope", "calibration_intercept"):
        if name in overall.get("calibration", {}):
            add(name, overall["calibration"][name], "overall", overall.get("n", 0))
    per_class = (*(evaluation.get("class_metrics") or ()), "brier", "ece")
    add_classes(overall, "overall", per_class)
    fairness = []
    for g in published_subgroups(evaluation):
        slice_name = f"{g['column']}={g['value']}"
        if g["suppressed"]:  # a published card never describes one or a few patients
            fairness.append({"subgroup": slice_name, "suppressed": True, "n": "suppressed"})
            continue
        for name in ("sensitivity", "specificity", "auroc"):
            if name in g.get("metrics", {}):
                add(name, g["metrics"][name], slice_name, g["n"])
        add_classes(g, slice_name, ("sensitivity", "specificity", "auroc"))
        fairness.append(
            {
                "subgroup": slice_name,
                "n": g["n"],
                "below_min_n": g["below_min_n"],
                "suppressed": False,
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
            "date_basis": ctx["document"].get("time_basis"),
            "manufacturer": manufacturer,
            "contact": details_src.get("contact"),
            "license": details_src.get("license"),
            "regulatory_status": dict(ctx["intended_use"]).get("Regulatory status"),
            "iec_62304_class": dict(ctx["intended_use"]).get(reg_row_label(ctx)),
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
        "fairness_attributes": ctx.get("attributes") or attributes_statement(ctx.get("evaluation")),
        "publication": {
            "min_cell_size": min_cell,
            "note": f"subgroups with fewer than {min_cell} cases (and one partner cell when needed) "
            "are suppressed in this published card; the controlled report keeps them with their n",
        },
        "template_examples": ctx.get("template_examples") or {},
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
        "lifecycle": _lifecycle(ctx, card_src),
        # the card's layout: the CHAI applied model card's sections, each field from the evidence or a gap
        "chai": chai.justify(chai.sections(ctx, card_src), ctx.get("regulatory") or []),
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


def reg_row_label(ctx: dict[str, Any]) -> str:
    """The section-2 label of the IEC 62304 class (edition 1) or rigour level (edition 2)."""
    edition = (ctx.get("iec62304") or {}).get("edition", "1")
    return f"IEC 62304 {'software safety class' if edition == '1' else 'process rigour level'}"


def _lifecycle(ctx: dict[str, Any], card_src: dict[str, Any]) -> dict[str, Any]:
    """The card's lifecycle; a declared PCCP (judged in appendix A.2) is its change-control plan."""
    from samdkit.regulatory import pccp

    lifecycle = dict(card_src.get("lifecycle") or {})
    plan = pccp.change_control(ctx.get("pccp"), ctx["document"]["id"])
    if plan:
        own = lifecycle.pop("change_control", None)
        lifecycle["change_control"] = plan
        if own:
            lifecycle["change_control_notes"] = own
    return lifecycle


def _project_relative(path: Path, root: Path) -> str:
    """A path as the manifest names it; outside the project, its bare name (stable across folders)."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def hf_front_matter(card: dict[str, Any]) -> str:
    """YAML front matter of a Hugging Face model card (model-index holds the test-set results)."""
    from samdkit.core import escape

    details = card["model_details"]
    dataset = card["datasets"][0]
    metrics = []
    multiclass = any("class" in q for q in card["quantitative_analysis"])
    for q in card["quantitative_analysis"]:
        if q["slice"] != "overall" or q["value"] is None:
            continue
        ci = q.get("ci") or {}
        label = q["metric"]
        if q.get("class") is not None:  # one-vs-rest metric of one class
            label += f" of class {q['class']}"
        elif multiclass and q["metric"] == "auroc":
            label += " (macro, one-vs-rest)"
        if ci.get("lower") is not None:
            label += f" (95% CI {ci['lower']:.3f}–{ci['upper']:.3f}, {ci['method']})"
        row = {"type": q["metric"], "value": round(q["value"], 4), "name": label, "verified": False}
        if q.get("class") is not None:
            row["args"] = {"class": q["class"]}
        metrics.append(row)
    task = "Multiclass classification" if multiclass else "Binary classification"
    front = {
        "license": details.get("license") or "other",
        "library_name": "sklearn",
        "tags": ["medical", "samd", "tabular-classification", "samdkit"],
        "model-index": [
            {
                "name": details["name"],
                "results": [
                    {
                        "task": {"type": "tabular-classification", "name": task},
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
    return escape.yaml_front_matter(front)


# ---------------------------------------------------------------------------------------------------------
# rendering


def _environment(project: Project, markdown: bool = False):
    """The jinja environment of the HTML (autoescaped) or the Markdown templates (every `{{ }}` escaped).

    Both read the project's template folders first; untrusted text is escaped for its output context
    (samdkit.escape), so no input adds an element, heading, link, image, fence or table cell.
    """
    import jinja2
    from markupsafe import Markup

    from samdkit.core import escape

    dirs = [str(d) for d in _template_dirs(project) if d.is_dir()]
    options: dict[str, Any] = (
        {"autoescape": False, "finalize": escape.md_finalize}
        if markdown
        else {
            "autoescape": jinja2.select_autoescape(
                ["html", "html.j2"], disabled_extensions=("css", "txt"), default=True
            ),
            "finalize": escape.html_finalize,
        }
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        lstrip_blocks=True,
        **options,
    )
    env.filters["f"] = _fmt
    env.filters["ci"] = _ci
    env.filters["method"] = _method
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"
    env.filters["css_string"] = lambda s: (
        '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    )
    env.filters["mdcell"] = lambda s: Markup(escape.md_cell(s))
    env.filters["code"] = lambda s: Markup(escape.md_code(s))
    env.filters["code_cell"] = lambda s: Markup(escape.md_code(s, cell=True))
    env.filters["fence"] = lambda lines: Markup(escape.md_fence(list(lines)))
    env.filters["energy"] = energy
    env.filters["co2"] = mass_co2
    env.filters["duration"] = duration
    env.filters["as_list"] = lambda v: (
        v if isinstance(v, list) else ([] if v in (None, "") else [v])
    )
    env.globals["metric_labels"] = __import__(
        "samdkit.evaluate.metrics", fromlist=["METRICS"]
    ).METRICS
    return env


def _fetcher(allowed: list[Path]):
    """weasyprint's URL fetcher, limited to data: URIs and files under `allowed` (no network, no other file).

    A template or an input must not make the signed PDF fetch a URL or attach a local file.
    """
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    roots = [p.resolve() for p in allowed]

    class Refused(FatalURLFetchingError):
        pass

    class SandboxFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(unquote(parts.path)).resolve()
                if any(path.is_relative_to(root) for root in roots) and path.is_file():
                    return super().fetch(url, headers)
            raise Refused(url)

    return SandboxFetcher(allowed_protocols=("data", "file")), Refused


def _render_pdf(
    html: str,
    attachments: list[tuple[bytes, str, str]],
    base_url: Path,
    allowed: list[Path],
    what: str,
) -> bytes:
    """The PDF/A-3b bytes of `html` with `attachments` (data, name, description) embedded."""
    from weasyprint import HTML, Attachment

    from samdkit.report.evidence import timestamp

    stamp = timestamp()
    fetcher, refused = _fetcher(allowed)
    files = [
        Attachment(
            string=data,
            name=name,
            description=desc,
            relationship="Data",
            created=stamp,
            modified=stamp,
        )
        for data, name, desc in attachments
    ]
    try:
        return HTML(string=html, base_url=str(base_url), url_fetcher=fetcher).write_pdf(
            pdf_variant="pdf/a-3b",
            attachments=files,
            uncompressed_pdf=False,
            pdf_identifier=None,
        )
    except refused as exc:
        raise UserError(
            f"{what}: refused to fetch {str(exc)[:200]}: the renderer reads only data: URIs and "
            "files of the template folders (no network, no other file)"
        ) from None


def _json_bytes(obj: Any) -> bytes:
    """As atomic.write_json writes it (stable: sorted keys, 2-space indent, trailing newline)."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _render(env: Any, name: str, **ctx: Any) -> str:
    """A template rendered; a project template's mistake is bad input (one line, exit 2)."""
    import jinja2

    template = env.get_template(name)
    try:
        return template.render(**ctx)
    except jinja2.TemplateError as exc:
        if Path(template.filename or "").is_relative_to(TEMPLATES):
            raise  # samdkit's own template: an internal error, not bad input
        where = getattr(exc, "filename", None) or template.filename or name
        line = getattr(exc, "lineno", None)
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{where}{f' line {line}' if line else ''}: {first}") from None


def strict_refusal(ctx: dict[str, Any]) -> str | None:
    """The one line `report --strict` exits 1 with, or None when no blocking gap remains."""
    examples = ctx.get("template_examples") or {}
    if examples:
        fields = "; ".join(f"{rel}: {', '.join(f)}" for rel, f in examples.items())
        return f"samdkit report --strict: template example text still in {fields}"
    blocking = [g for g in ctx["gaps"] if g["blocking"]]
    if blocking:
        first = blocking[0]
        return (
            f"samdkit report --strict: {len(blocking)} blocking gap(s), first in section "
            f"{first['section']}: {first['message']}"
        )
    return None


def _template_dirs(project: Project) -> list[Path]:
    custom = project.section("report").get("templates")
    dirs = [project.root / custom] if custom else []
    return [*dirs, project.root / "compliance" / "templates", TEMPLATES]


def run(args: argparse.Namespace) -> int:
    """Build, render everything in memory, check it, then write every output (all or none)."""
    project = load_project(".")
    require_project(project, "report")
    out_dir = Path(args.output_dir) if args.output_dir else project.path("reports")
    outputs = {k: out_dir / v for k, v in OUTPUT_NAMES.items()}
    sbom_path = Path(args.sbom) if args.sbom else outputs["sbom"]
    ctx = build(project, args, out_dir, sbom_path)
    sbom_text = ctx.pop("_sbom_text")
    if getattr(args, "strict", False):
        refusal = strict_refusal(ctx)
        if refusal:
            if ctx.get("_figures"):
                ctx["_figures"].cancel()
            print(refusal, file=sys.stderr)
            return 1
    pending = ctx.pop("_figures")
    figures = pending.result() if pending else {}
    plots = {k: _svg_uri(v) for k, v in figures.items()}
    env, md_env = _environment(project), _environment(project, markdown=True)
    css = _render(env, "report.css")
    files: dict[Path, bytes] = {
        out_dir / "figures" / f"{k}.svg": v.encode("utf-8") for k, v in figures.items()
    }
    if sbom_text is not None and not args.sbom:
        files[outputs["sbom"]] = sbom_text.encode("utf-8")
    report_json = _json_bytes(ctx)
    files[outputs["report_json"]] = report_json
    html = _render(env, "report.html.j2", **ctx, plots=plots, css=css)
    files[outputs["report_html"]] = html.encode("utf-8")
    files[outputs["report_md"]] = _render(
        md_env, "report.md.j2", **ctx, figures=sorted(figures)
    ).encode("utf-8")
    card_src_ev = load("model_card", "", project.path("model_card"), project.root, "yaml")
    card_src = card_src_ev.data if isinstance(card_src_ev.data, dict) else {}
    card_ctx = {
        "card": model_card(ctx, card_src, None),
        "document": ctx["document"],
        "approvals": ctx["approvals"],
        "gaps": ctx["gaps"],
        "css": css,
        "card_source_present": card_src_ev.present,
    }
    if not args.no_pdf:  # no character may print as an empty box in a signed PDF
        from samdkit.report import glyphs

        sources = {e["path"]: project.root / e["path"] for e in ctx["inputs"].values()}
        card_html = _render(env, "model-card.html.j2", **card_ctx)
        glyphs.check({"report": html, "model card": card_html}, css, sources)
    allowed = [*_template_dirs(project), out_dir / "figures"]

    report_sha = None
    if not args.no_pdf:
        attachments = [
            (report_json, OUTPUT_NAMES["report_json"], "Report data (machine-readable)"),
            (
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
                attachments.append((path.read_bytes(), path.name, desc))
        if ctx["inputs"]["sbom"]["present"]:
            sbom_bytes = sbom_text.encode("utf-8") if sbom_text else sbom_path.read_bytes()
            attachments.append((sbom_bytes, sbom_path.name, "CycloneDX SBOM"))
        pdf = _render_pdf(html, attachments, project.root, allowed, "report")
        files[outputs["report_pdf"]] = pdf
        report_sha = hashlib.sha256(pdf).hexdigest()

    card = model_card(ctx, card_src, report_sha)
    card_ctx["card"] = card
    card_json = _json_bytes(card)
    files[outputs["card_json"]] = card_json
    files[outputs["card_md"]] = (
        hf_front_matter(card) + _render(md_env, "model-card.md.j2", **card_ctx)
    ).encode("utf-8")
    if not args.no_pdf:
        card_html = _render(env, "model-card.html.j2", **card_ctx)
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
            (card_json, OUTPUT_NAMES["card_json"], "Model card source"),
            (
                (json.dumps(card_digests, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                "evidence-digests.json",
                "Exactly the file digests printed in the model card, for samdkit verify",
            ),
        ]
        files[outputs["card_pdf"]] = _render_pdf(
            card_html, card_attach, project.root, allowed, "model card"
        )

    # everything rendered and checked: only now is any output replaced (each atomically)
    for path, data in files.items():
        atomic.write_bytes(path, data)
    digests = {p: hashlib.sha256(files[p]).hexdigest() for p in outputs.values() if p in files}
    if args.format == "json":
        print(
            json.dumps(
                {
                    "verdict": ctx["verdict"],
                    "gaps": ctx["gaps"],
                    "outputs": {p.name: d for p, d in digests.items()},
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
        for p, digest in digests.items():
            print(f"wrote {p}  sha256 {digest}")
        print(
            f"samdkit report: verdict {ctx['verdict']} ({len([g for g in ctx['gaps'] if g['blocking']])} "
            "blocking gap(s))"
        )
    return 0


__all__ = ["add_arguments", "run"]
_ = UserError  # bad input is raised from samdkit.report.evidence
