"""`samdkit report`: the clinical validation report and the model card (PDF/A-3b, HTML, Markdown, JSON).

Orchestration only: the evidence is read once and laid out section by section (samdkit.report.assemble,
samdkit.report.sections), the card is derived from it (samdkit.report.model_card), and everything is
rendered in memory (samdkit.report.render) and checked before the first output is replaced. Templates may
be overridden by a project (compliance/templates/, or [tool.samdkit.report] templates = "dir"). Missing
evidence is never hidden: its section says so and the verdict is FAIL. The command exits 0 unless an input
is unreadable (2) or `--strict` finds a blocking gap (1).

Every digest the report cites is printed in section 14 and listed in machine-readable form under `digests` in
reports/clinical-validation-report.json, which is also embedded in the PDF (see docs/evaluation-schema.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import atomic
from samdkit.core.digests import bytes_sha256
from samdkit.core.options import add_format_option
from samdkit.core.project import Project, load_project, require_project
from samdkit.report import render as r
from samdkit.report.assemble import SECTIONS
from samdkit.report.model_card import hf_front_matter, model_card

OUTPUTS = (  # paths-table keys of what `samdkit report` writes
    "report_pdf",
    "report_html",
    "report_md",
    "report_json",
    "model_card_pdf",
    "model_card_json",
    "model_card_md",
    "sbom",
)


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
    add_format_option(parser)


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


@dataclass
class _Job:
    """One run of the command: where each output goes, and the bytes rendered for it so far."""

    project: Project
    args: argparse.Namespace
    out_dir: Path
    outputs: dict[str, Path]
    files: dict[Path, bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, project: Project, args: argparse.Namespace) -> _Job:
        if args.output_dir:
            out_dir = Path(args.output_dir)
            outputs = {k: out_dir / project.path(k).name for k in OUTPUTS}
        else:
            out_dir = project.path("reports")
            outputs = {k: project.path(k) for k in OUTPUTS}
        return cls(project, args, out_dir, outputs)

    @property
    def pdf(self) -> bool:
        return not self.args.no_pdf

    @property
    def sbom_path(self) -> Path:
        return Path(self.args.sbom) if self.args.sbom else self.outputs["sbom"]

    @property
    def allowed(self) -> list[Path]:
        """What the PDF renderer may read: the template folders and the figures."""
        return [*r.template_dirs(self.project), self.out_dir / "figures"]


def _card_source(project: Project) -> tuple[dict[str, Any], bool]:
    from samdkit.report.evidence import load, mapping

    ev = load("model_card", "", project.path("model_card"), project.root, "yaml")
    return mapping(ev), ev.present


def _render_report(
    job: _Job, ctx: dict[str, Any], figures: dict[str, str], sbom_text: str | None
) -> tuple[str, str]:
    """The report's JSON, HTML and Markdown (and the figures, the SBOM) into job.files; (html, css)."""
    env, md_env = r.environment(job.project), r.environment(job.project, markdown=True)
    css = r.render(env, "report.css")
    for name, svg in figures.items():
        job.files[job.out_dir / "figures" / f"{name}.svg"] = svg.encode("utf-8")
    if sbom_text is not None and not job.args.sbom:
        job.files[job.outputs["sbom"]] = sbom_text.encode("utf-8")
    job.files[job.outputs["report_json"]] = r.json_bytes(ctx)
    plots = {k: r.svg_uri(v) for k, v in figures.items()}
    html = r.render(env, "report.html.j2", **ctx, plots=plots, css=css)
    job.files[job.outputs["report_html"]] = html.encode("utf-8")
    markdown = r.render(md_env, "report.md.j2", **ctx, figures=sorted(figures))
    job.files[job.outputs["report_md"]] = markdown.encode("utf-8")
    return html, css


def _card_context(
    ctx: dict[str, Any], css: str, card_src: dict[str, Any], present: bool
) -> dict[str, Any]:
    return {
        "card": model_card(ctx, card_src, None),
        "document": ctx["document"],
        "approvals": ctx["approvals"],
        "gaps": ctx["gaps"],
        "css": css,
        "card_source_present": present,
    }


def _check_glyphs(job: _Job, ctx: dict[str, Any], html: str, card_ctx: dict[str, Any]) -> None:
    """No character may print as an empty box in a signed PDF."""
    from samdkit.report import glyphs

    env = r.environment(job.project)
    sources = {e["path"]: job.project.root / e["path"] for e in ctx["inputs"].values()}
    card_html = r.render(env, "model-card.html.j2", **card_ctx)
    glyphs.check({"report": html, "model card": card_html}, card_ctx["css"], sources)


def _report_pdf(job: _Job, ctx: dict[str, Any], html: str, sbom_text: str | None) -> str:
    """The report PDF into job.files; its SHA-256 (the model card cites it)."""
    sbom = None
    if ctx["inputs"]["sbom"]["present"]:
        data = sbom_text.encode("utf-8") if sbom_text else job.sbom_path.read_bytes()
        sbom = (data, job.sbom_path.name)
    report_json = job.files[job.outputs["report_json"]]
    attachments = r.report_attachments(job.project, ctx, report_json, sbom)
    pdf = r.pdf(html, attachments, job.project.root, job.allowed, "report")
    job.files[job.outputs["report_pdf"]] = pdf
    return bytes_sha256(pdf)


def _render_card(
    job: _Job,
    ctx: dict[str, Any],
    card_ctx: dict[str, Any],
    card_src: dict[str, Any],
    report_sha: str | None,
) -> None:
    """The model card's JSON, Markdown (Hugging Face metadata first) and PDF into job.files."""
    env, md_env = r.environment(job.project), r.environment(job.project, markdown=True)
    card = model_card(ctx, card_src, report_sha)
    card_ctx["card"] = card
    card_json = r.json_bytes(card)
    job.files[job.outputs["model_card_json"]] = card_json
    markdown = hf_front_matter(card) + r.render(md_env, "model-card.md.j2", **card_ctx)
    job.files[job.outputs["model_card_md"]] = markdown.encode("utf-8")
    if job.pdf:
        html = r.render(env, "model-card.html.j2", **card_ctx)
        attachments = r.card_attachments(
            job.project, ctx, card, card_json, job.outputs["report_pdf"]
        )
        pdf = r.pdf(html, attachments, job.project.root, job.allowed, "model card")
        job.files[job.outputs["model_card_pdf"]] = pdf


def _print(job: _Job, ctx: dict[str, Any], digests: dict[Path, str]) -> None:
    """The gaps and the outputs: the gate-result envelope (--format json), annotations or text lines."""
    fmt = job.args.format
    if fmt == "json":
        from samdkit.core.findings import Finding, GateResult, Severity, render_result

        detail = {"gaps": ctx["gaps"], "outputs": {p.name: d for p, d in digests.items()}}
        found = [  # each gap also as a finding: actions/report annotates them from this envelope
            Finding(f"report section {g['section']}", g["message"])
            if g["blocking"]
            else Finding(f"report section {g['section']}", g["message"], severity=Severity.WARNING)
            for g in ctx["gaps"]
        ]
        result = GateResult(gate="report", verdict=ctx["verdict"], findings=found, detail=detail)
        print(render_result(result, "json"))
        return
    for gap in ctx["gaps"]:
        level = "error" if gap["blocking"] else "warning"
        if fmt == "github":
            print(f"::{level} title=report section {gap['section']}::{gap['message']}")
        else:
            print(f"{level.upper():<7} section {gap['section']}: {gap['message']}")
    for path, digest in digests.items():
        print(f"wrote {path}  sha256 {digest}")
    blocking = len([g for g in ctx["gaps"] if g["blocking"]])
    print(f"samdkit report: verdict {ctx['verdict']} ({blocking} blocking gap(s))")


def run(args: argparse.Namespace) -> int:
    """Build, render everything in memory, check it, then write every output (all or none)."""
    from samdkit.report.assemble import build

    project = load_project(".")
    require_project(project, "report")
    job = _Job.of(project, args)
    ctx, made = build(
        project,
        revision=args.revision,
        sbom_arg=args.sbom,
        sbom_path=job.sbom_path,
        load_pdf=job.pdf,
    )
    if getattr(args, "strict", False):
        refusal = strict_refusal(ctx)
        if refusal:
            print(refusal, file=sys.stderr)
            return 1
    html, css = _render_report(job, ctx, made.figures, made.sbom_text)
    card_src, present = _card_source(project)
    card_ctx = _card_context(ctx, css, card_src, present)
    report_sha = None
    if job.pdf:
        _check_glyphs(job, ctx, html, card_ctx)
        report_sha = _report_pdf(job, ctx, html, made.sbom_text)
    _render_card(job, ctx, card_ctx, card_src, report_sha)
    # everything rendered and checked: only now is any output replaced (each atomically)
    for path, data in job.files.items():
        atomic.write_bytes(path, data)
    digests = {p: bytes_sha256(job.files[p]) for p in job.outputs.values() if p in job.files}
    _print(job, ctx, digests)
    return 0


__all__ = ["SECTIONS", "add_arguments", "run", "strict_refusal"]
