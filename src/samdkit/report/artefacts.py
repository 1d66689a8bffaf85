"""The plots and the device's SBOM, drawn in one forked worker while this process reads the evidence.

`start` submits the work; `finish` waits for it and returns plain values (the SBOM as evidence, its text,
its problems, the figures as SVG text), so no section or template ever sees a pending Future.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit.core.digests import bytes_sha256
from samdkit.report.evidence import Evidence

if TYPE_CHECKING:
    from concurrent.futures import Future

    from samdkit.report.sections.bundle import Bundle

SBOM_TITLE = "Software bill of materials (CycloneDX)"


@dataclass
class Artefacts:
    """What the worker made, as values."""

    sbom: Evidence
    sbom_text: str | None = None
    sbom_problems: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)


def _worker_job(overall: dict[str, Any] | None, device: Any) -> dict[str, Any]:
    """One worker, not two: a second cannot fork while the first one's pool thread runs."""
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


def start(
    bundle: Bundle, sbom_arg: str | None, lock: dict[str, Any] | None
) -> Future[dict[str, Any]]:
    """Submit the SBOM (unless --sbom names one) and the figures of the evaluation's overall results."""
    from samdkit.core import parallel
    from samdkit.report import sbom as sbom_mod

    maker = bundle.device.get("manufacturer")
    facts = {
        "manufacturer": (maker.get("name") if isinstance(maker, dict) else maker) or None,
        "model_digest": str((lock or {}).get("root_digest") or "").removeprefix("sha256:") or None,
        "evaluation": bundle.evaluation,
        "commit": bundle.git.get("commit"),
        "timestamp": bundle.stamp,
    }
    device = None if sbom_arg else sbom_mod.Device(root=bundle.root, **facts)
    overall = bundle.evaluation.get("overall", {}) if bundle.evaluation is not None else None
    return parallel.submit(_worker_job, overall, device)


def finish(
    job: Future[dict[str, Any]], bundle: Bundle, sbom_arg: str | None, target: Path
) -> Artefacts:
    """The SBOM as evidence (the device's own, or --sbom's file as given) and the figures."""
    from samdkit.core import bounded

    done = job.result()
    figures = done["figures"] or {}
    if sbom_arg:
        path = Path(sbom_arg)
        if not path.is_file():
            return Artefacts(
                Evidence("sbom", SBOM_TITLE, path, sbom_arg),
                None,
                [f"{sbom_arg} not found"],
                figures,
            )
        text = bounded.read_text(path, bounded.MAX_JSON_BYTES)
    else:
        path = target
        absent = Evidence(
            "sbom", SBOM_TITLE, path, bundle.project.rel(path, resolve=False) or path.name
        )
        if done["sbom_error"]:
            return Artefacts(absent, None, [done["sbom_error"]], figures)
        text, missing = done["sbom"]
        if missing:
            problem = "runtime dependencies not installed, their versions unknown: " + ", ".join(
                missing
            )
            return Artefacts(absent, None, [problem], figures)
    evidence = Evidence(
        key="sbom",
        title=SBOM_TITLE,
        path=path,
        rel=bundle.project.rel(path, resolve=False) or path.name,
        present=True,
        sha256=bytes_sha256(text.encode("utf-8")),
        data=bounded.json_text(text, str(path)),
    )
    return Artefacts(evidence, text, [], figures)
