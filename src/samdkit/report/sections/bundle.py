"""The evidence every section reads: loaded once, before any section runs (samdkit.report.evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from samdkit.core.project import Project
from samdkit.report import evidence
from samdkit.report.evidence import Evidence, Gap

Result = tuple[dict[str, Any], list[Gap]]  # what a section returns: its data and its gaps


@dataclass
class Bundle:
    """The report's inputs: files (read through their strict readers), git, CI, time and options."""

    project: Project
    settings: dict[str, Any]
    ev: dict[str, Evidence]
    git: dict[str, Any]
    ci: dict[str, Any]
    stamp: datetime
    device: dict[str, Any]
    params: dict[str, Any]
    card_src: dict[str, Any]
    evaluation: dict[str, Any] | None
    reg: Any
    plan: Any
    revision: str | None = None

    @property
    def root(self) -> Path:
        return self.project.root


def _regulatory_inputs(project: Project, device: dict[str, Any]) -> tuple[Any, Any]:
    """compliance/regulatory.yaml and compliance/pccp.yaml, checked before anything is written."""
    from samdkit.regulatory import load_config, pccp

    regulatory, plan = project.path("regulatory"), project.path("pccp")
    return (
        load_config(regulatory, project.shown(regulatory), device),
        pccp.load(plan, project.shown(plan)),
    )


def collect(project: Project, revision: str | None = None) -> Bundle:
    """Read every input once; bad input (a malformed or foreign file) stops here, before any output."""
    ev = evidence.load_all(project)
    device = evidence.device_facts(ev["device"])
    reg, plan = _regulatory_inputs(project, device)
    return Bundle(
        project=project,
        settings=project.section("report"),
        ev=ev,
        git=evidence.git_info(project.root, ev["model_lock"].rel),
        ci=evidence.ci_info(),
        stamp=evidence.timestamp(),
        device=device,
        params=evidence.mapping(ev["params"]),
        card_src=evidence.mapping(ev["model_card"]),
        evaluation=ev["evaluation"].data if ev["evaluation"].present else None,
        reg=reg,
        plan=plan,
        revision=revision,
    )
