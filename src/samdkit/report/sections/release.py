# ruff: noqa: RUF002  (typographic dashes and signs are intended: they are printed in the evidence)
"""Sections 12–15 and appendix A: environment and SOUP, anomalies, provenance and digests, approvals,
regulatory mapping."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

from samdkit.report.artefacts import Artefacts
from samdkit.report.evidence import Gaps
from samdkit.report.sections.bundle import Bundle, Result
from samdkit.report.sections.front import example_gap, marked_fields


def emissions_summary(rows: Any) -> dict[str, Any] | None:
    """The last codecarbon row of reports/emissions.csv (the training run)."""
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


def section_12(bundle: Bundle, artefacts: Artefacts) -> Result:
    """Environment: the device's SBOM (its SOUP), the tools used for verification, energy of training."""
    from samdkit.report import sbom as sbom_mod

    view = sbom_mod.components(artefacts.sbom.data) if artefacts.sbom.present else {}
    gaps = Gaps()
    for problem in artefacts.sbom_problems:
        gaps.add("12", f"no SBOM: {problem}")
    ev = bundle.ev["emissions"]
    emissions = emissions_summary(ev.data) if ev.present else None
    if emissions is None:
        gaps.add(
            "12",
            f"{ev.rel} is missing: energy and CO₂ of training not measured",
            blocking=False,
        )
    data = {
        "environment": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "os": platform.platform(terse=True),
            "machine": platform.machine(),
            "executable_prefix": Path(sys.prefix).name,
        },
        "soup": view.get("soup", []),
        "sbom_subject": view.get("subject"),
        "verification_tools": view.get("tools", []),
        "emissions": emissions,
    }
    return data, gaps.items


def section_13(bundle: Bundle) -> Result:
    """Residual anomalies and deviations: the gaps of every other section (templates list them)."""
    return {}, []


DIGESTED = (
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
    "rebuild",  # the rebuild verdict the report states (section 3): printed, so verify binds them
)


def section_14(bundle: Bundle, lock: dict[str, Any] | None) -> Result:
    """Provenance: every digest the report cites, the training run, how to reproduce."""
    gaps = Gaps()
    ev = bundle.ev["train_run"]
    train_run = ev.data if isinstance(ev.data, dict) else None
    if train_run is None:
        gaps.add("14", f"{ev.rel} is missing: the training run is not identified", blocking=False)
    digests = []
    if lock and lock.get("root_digest"):
        digests.append(
            {
                "subject": "model root digest (model.lock)",
                "path": None,
                "sha256": str(lock["root_digest"]).removeprefix("sha256:"),
            }
        )
    for key in DIGESTED:
        e = bundle.ev[key]
        if e.present:
            digests.append({"subject": e.title, "path": e.rel, "sha256": e.sha256})
    reproduce = bundle.settings.get("reproduce") or [
        f"git checkout {bundle.git.get('commit') or '<commit>'}",
        "pip install -e '.[all]'   # or the lock file of the project's environment",
        "dvc pull && dvc repro",
        "samdkit verify-lock",
        "samdkit report",
    ]
    return {"train_run": train_run, "digests": digests, "reproduce": reproduce}, gaps.items


def section_15(bundle: Bundle) -> Result:
    """Approvals: the planned signatures that the stamps on the last page fulfil (samdkit sign)."""
    from samdkit.release.layout import planned_signers

    return {"approvals": planned_signers(bundle.project, bundle.device)}, []


def appendix_a(bundle: Bundle, ctx: dict[str, Any]) -> Result:
    """Every checklist item mapped or justified (else a blocking gap), and the PCCP judged."""
    from samdkit.regulatory import mapping, pccp

    reg, plan = bundle.reg, bundle.plan
    gaps = Gaps()
    examples = dict(ctx["template_examples"])
    for rel, raw in [(reg.rel, reg.raw), *([(plan["path"], plan["_raw"])] if plan else [])]:
        fields = marked_fields(raw)
        if fields:  # the template's example reasons and plan are not the project's own
            examples[rel] = fields
            gaps.items.append(example_gap(rel, fields))
    judged = pccp.judge(plan, ctx["evaluation"]) if plan else None
    failed = [c["id"] for c in (judged or {}).get("criteria", []) if c["result"] != "PASS"]
    if failed:  # a declared plan binds: a model outside it is not a release under the plan
        gaps.add(
            "A",
            f"{plan['path']}: this model does not meet the plan's acceptance criteria: {', '.join(failed)}",
        )
    data = {
        "template_examples": examples,
        "pccp": judged,
        "iec62304": {"edition": reg.edition, "name": reg.edition_name, "level": reg.level},
    }
    data["regulatory"], missing = mapping({**ctx, **data}, reg, bundle.card_src)
    for message in missing:
        gaps.add("A", message)
    return data, gaps.items
