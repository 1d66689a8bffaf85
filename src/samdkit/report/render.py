"""Rendering in one place: the jinja environments, the sandboxed URL fetcher, PDF/A-3b with its attachments.

Templates are read from the project's folders first ([tool.samdkit.report] templates, compliance/templates/),
then samdkit's own; untrusted text is escaped for its output context (samdkit.core.escape).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samdkit.core import atomic
from samdkit.core.errors import UserError
from samdkit.evaluate.document import METRIC_LABELS
from samdkit.report import units

if TYPE_CHECKING:
    from samdkit.core.project import Project

TEMPLATES = Path(__file__).parent / "templates"


def template_dirs(project: Project) -> list[Path]:
    custom = project.section("report").get("templates")
    dirs = [project.root / custom] if custom else []
    return [*dirs, project.root / "compliance" / "templates", TEMPLATES]


def _filters(env: Any) -> None:
    from markupsafe import Markup

    from samdkit.core import escape

    env.filters["f"] = units.fmt
    env.filters["ci"] = units.ci
    env.filters["method"] = units.method
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"
    env.filters["css_string"] = lambda s: (
        '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    )
    env.filters["mdcell"] = lambda s: Markup(escape.md_cell(s))
    env.filters["code"] = lambda s: Markup(escape.md_code(s))
    env.filters["code_cell"] = lambda s: Markup(escape.md_code(s, cell=True))
    env.filters["fence"] = lambda lines: Markup(escape.md_fence(list(lines)))
    env.filters["energy"] = units.energy
    env.filters["co2"] = units.mass_co2
    env.filters["duration"] = units.duration
    env.filters["as_list"] = lambda v: (
        v if isinstance(v, list) else ([] if v in (None, "") else [v])
    )


def environment(project: Project, markdown: bool = False) -> Any:
    """The jinja environment of the HTML (autoescaped) or the Markdown templates (every `{{ }}` escaped).

    No input adds an element, heading, link, image, fence or table cell.
    """
    import jinja2

    from samdkit.core import escape

    dirs = [str(d) for d in template_dirs(project) if d.is_dir()]
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
    _filters(env)
    env.globals["metric_labels"] = METRIC_LABELS
    return env


def render(env: Any, name: str, **ctx: Any) -> str:
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


def svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def json_bytes(obj: Any) -> bytes:
    """As atomic.write_json writes it (stable: sorted keys, 2-space indent, trailing newline)."""
    return atomic.dumps_json(obj).encode("utf-8")


def fetcher(allowed: list[Path]) -> tuple[Any, type[Exception]]:
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


def pdf(
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
    url_fetcher, refused = fetcher(allowed)
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
        return HTML(string=html, base_url=str(base_url), url_fetcher=url_fetcher).write_pdf(
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


def report_attachments(
    project: Project, ctx: dict[str, Any], report_json: bytes, sbom: tuple[bytes, str] | None
) -> list[tuple[bytes, str, str]]:
    """What the report PDF embeds: its JSON, the digests it prints, the evidence files and the SBOM."""
    from samdkit.release import report_digests

    printed = {d["path"]: d["sha256"] for d in ctx["digests"] if d["path"]}
    attachments = [
        (report_json, project.path("report_json").name, "Report data (machine-readable)"),
        (
            report_digests.dumps(printed),
            report_digests.ATTACHMENT,
            "Exactly the digests printed in section 14, for samdkit verify",
        ),
    ]
    for key, desc in (
        ("evaluation", "Evaluation result"),
        ("data_check", "Data-quality result"),
        ("model_lock", "Model lock"),
        ("rebuild", "Rebuild check verdict (the team's claim, as the report states it)"),
    ):
        path = project.path(key)
        if path.is_file():
            attachments.append((path.read_bytes(), path.name, desc))
    if sbom is not None:
        attachments.append((sbom[0], sbom[1], "CycloneDX SBOM"))
    return attachments


def card_attachments(
    project: Project, ctx: dict[str, Any], card: dict[str, Any], card_json: bytes, report_pdf: Path
) -> list[tuple[bytes, str, str]]:
    """What the model card PDF embeds: its JSON and the file digests it prints."""
    from samdkit.release import report_digests

    provenance = card["provenance"]
    printed = {
        path: provenance[key]
        for path, key in (
            (
                # the manifest's name for it; outside the project its bare name (stable across folders)
                project.rel(report_pdf, resolve=False) or report_pdf.name,
                "report_pdf_sha256",
            ),
            (ctx["inputs"]["sbom"]["path"], "sbom_sha256"),
            (ctx["inputs"]["evaluation"]["path"], "evaluation_sha256"),
        )
        if provenance.get(key) and path
    }
    return [
        (card_json, project.path("model_card_json").name, "Model card source"),
        (
            report_digests.dumps(printed),
            report_digests.ATTACHMENT,
            "Exactly the file digests printed in the model card, for samdkit verify",
        ),
    ]
