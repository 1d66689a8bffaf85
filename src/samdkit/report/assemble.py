"""The report context: every section's data and gaps, in section order, as one JSON-serialisable dict.

The evidence is read once (sections.collect); the SBOM and the figures are drawn in a worker meanwhile
and come back as values (samdkit.report.artefacts) before section 12 needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samdkit import __version__
from samdkit.core.project import Project
from samdkit.report import artefacts as artefacts_mod
from samdkit.report import sections as s
from samdkit.report.artefacts import Artefacts
from samdkit.report.evidence import Gap

SCHEMA = "samdkit/clinical-validation-report/v1"
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


class _Context:
    """Collects each section's data into the context and its gaps into one list, in call order."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.gaps: list[Gap] = []

    def add(self, result: tuple[dict[str, Any], list[Gap]]) -> dict[str, Any]:
        data, gaps = result
        self.data.update(data)
        self.gaps += gaps
        return data


def build(
    project: Project,
    *,
    revision: str | None,
    sbom_arg: str | None,
    sbom_path: Path,
    load_pdf: bool,
) -> tuple[dict[str, Any], Artefacts]:
    """(the context the templates and the report JSON share, the SBOM and figures as values)."""
    bundle = s.collect(project, revision)
    ctx = _Context()
    ctx.add(s.section_0(bundle))
    ctx.add(s.section_2(bundle))
    ctx.add(s.section_1(bundle))
    lock = ctx.add(s.section_3(bundle))["lock"]
    job = artefacts_mod.start(bundle, sbom_arg, lock)  # SBOM and plots on the other core
    ctx.add(s.section_4(bundle, lock))
    for section in (s.section_5, s.section_6, s.section_7, s.section_8, s.section_9, s.section_10):
        ctx.add(section(bundle))
    ctx.add(s.section_11(bundle))
    if load_pdf:
        import weasyprint  # noqa: F401  (loads here while the worker finishes the SBOM)
    made = artefacts_mod.finish(job, bundle, sbom_arg, sbom_path)
    bundle.ev["sbom"] = made.sbom
    ctx.add(s.section_12(bundle, made))
    ctx.add(s.section_13(bundle))
    ctx.add(s.section_14(bundle, lock))
    ctx.add(s.section_15(bundle))
    ctx.data.update(
        {
            "schema": SCHEMA,
            "generator": {"name": "samdkit", "version": __version__},
            "sections": [{"number": n, "title": t} for n, t in SECTIONS],
            "inputs": {k: e.as_dict() for k, e in bundle.ev.items()},
            **s.verdict(ctx.gaps),
        }
    )
    ctx.add(s.appendix_a(bundle, ctx.data))
    ctx.data.update(s.verdict(ctx.gaps))
    return ctx.data, made
