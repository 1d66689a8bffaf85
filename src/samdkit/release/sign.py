"""`samdkit sign`: PAdES-sign the report PDFs and sign the release manifest.

First signature (CI): `samdkit sign` checks everything first (key and certificate validity, every
release file inside the project with no symbolic link leaving it, PDFs readable and not yet signed,
every output writable, reports/rebuild.json readable as a rebuild verdict when present), then signs every release PDF (a visible 21 CFR 11.50 manifestation on the last
page: the certificate's name, the meaning, UTC date and time, the certificate's SHA-256; the same name,
reason and time in the signature dictionary), then writes release/manifest.json (project path,
SHA-256 and size of every release file, including the rebuild verdict the report states; the target of a symlinked file; the signer's certificate
fingerprint) and its detached CMS signature release/manifest.json.p7s, with the same key.

A run killed half-way leaves release/.sign-pending.json and a pre-sign copy of every file it writes
under release/.unsigned/; the next run stops with a clear message, `--resume` completes it with the
same certificate and `--rollback` restores the files as they were before it.

Later signers: `samdkit sign --add --name "Dr Jane Roe" --meaning approval` appends an incremental
update to each PDF; the earlier revisions stay an exact byte prefix and their signatures stay valid.
The manifest is not rewritten.

Key material comes from environment variables only (see samdkit.release.keys); `--demo` uses a throwaway
self-signed certificate labelled DEMO. Settings: `[tool.samdkit.sign]` in pyproject.toml.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import atomic, digests
from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, GateResult, Severity, render_result
from samdkit.core.options import add_format_option
from samdkit.core.project import Project, load_project
from samdkit.release import keys
from samdkit.release.layout import (
    MEANINGS,
    is_sha256,
    load_json,
    meaning_of,
    path_problem,
    planned_signers,
    project_path,
    release_files,
    release_pdfs,
    settings,
)

FIELD_PREFIX = "samdkit-signature-"
PENDING = ".sign-pending.json"
BACKUPS = ".unsigned"
# the first visible signature box on the last page, in PDF points (x1, y1, x2, y2); later signatures
# take the next slot to the right, then the row above. Override with [tool.samdkit.sign] box.
DEFAULT_BOX = (45.0, 64.0, 293.0, 142.0)
STAMP_FONT_SIZE = 7  # points; pyHanko writes font size and leading as integers
STAMP_LEADING = 9
STAMP_MARGIN = 6
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
DEMO_NOTE = "DEMO certificate - not a real signature"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "PAdES-sign the release PDFs (visible 21 CFR 11.50 manifestation) and sign the release "
        "manifest. Key from environment variables only: SAMDKIT_SIGNING_P12_BASE64 or "
        "SAMDKIT_SIGNING_P12 (+ SAMDKIT_SIGNING_PASSWORD), or SAMDKIT_SIGNING_KEY + "
        "SAMDKIT_SIGNING_CERT; optional SAMDKIT_SIGNING_CHAIN and SAMDKIT_TSA_URL (RFC 3161)."
    )
    parser.add_argument(
        "pdfs",
        nargs="*",
        type=Path,
        help="PDFs to sign (default: the report and the model card, or [tool.samdkit.sign] pdfs)",
    )
    parser.add_argument(
        "--add",
        action="store_true",
        help="add a later signature (incremental update) to already signed PDFs; "
        "the manifest is left as it is",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="sign with a throwaway self-signed certificate labelled DEMO (no key needed)",
    )
    parser.add_argument(
        "--name",
        help="signer's printed name (default: the certificate's common name; a different "
        "typed name is shown labelled, beside the certificate's)",
    )
    parser.add_argument(
        "--meaning",
        type=meaning_of,
        help="meaning of the signature: authorship, approval, review, responsibility "
        "(default: [tool.samdkit.sign] meaning, else the first planned signer's)",
    )
    parser.add_argument("--location", help="optional /Location of the signature")
    parser.add_argument(
        "--no-manifest", action="store_true", help="sign the PDFs only; do not write the manifest"
    )
    parser.add_argument(
        "--manifest", type=Path, help="manifest path (default: release/manifest.json)"
    )
    state = parser.add_mutually_exclusive_group()
    state.add_argument(
        "--resume",
        action="store_true",
        help="complete a run that stopped half-way (same certificate; see release/.sign-pending.json)",
    )
    state.add_argument(
        "--rollback",
        action="store_true",
        help="undo a run that stopped half-way: restore every file it wrote from release/.unsigned/",
    )
    add_format_option(parser)


def quiet_libraries() -> None:
    """pyHanko and fontTools log tracebacks and font notes; keep the one-line promise."""
    if os.environ.get("SAMDKIT_DEBUG"):
        return
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools", "aiohttp"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def read_pdf(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise UserError(f"{path}: not a PDF")
    return data


def existing_signatures(data: bytes, path: Path) -> int:
    """How many signature fields (filled or not) the PDF has; one clear line if it cannot be read."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        return sum(1 for _ in enumerate_sig_fields(reader))
    except Exception as exc:
        raise UserError(f"{path}: not a readable PDF ({type(exc).__name__})") from None


def last_signer_sha256(data: bytes) -> str | None:
    """SHA-256 of the certificate of the PDF's last embedded signature (None if unsigned)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
        return digests.bytes_sha256(signatures[-1].signer_cert.dump()) if signatures else None
    except Exception:
        return None


# ---------------------------------------------------------------- the visible stamp


@functools.lru_cache(maxsize=4)
def _font_1000(path: str, chars: frozenset[str]) -> bytes:
    """The font subset to `chars`, rescaled to 1000 units per em, without hinting.

    pyHanko writes the embedded font's /W widths in the font's own units; PDF wants thousandths
    of text space. DejaVu Sans has 2048 units per em, so readers spread every glyph twice as wide
    and the stamp ran out of its box. Rescaling the font (fontTools) makes the two agree."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    font = TTFont(path)
    options = subset.Options(layout_features=["*"], hinting=False, notdef_outline=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in chars} | set(range(0x20, 0x7F)))
    subsetter.subset(font)
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _font_factory(text: str):
    """A pyHanko font engine factory for an embedded OpenType font (PDF/A), or None."""
    from pyhanko.pdf_utils.font.api import FontEngineFactory
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulator

    path = next((c for c in FONT_CANDIDATES if Path(c).is_file()), None)
    if path is None:
        return None
    font_bytes = _font_1000(path, frozenset(text))

    class Factory(FontEngineFactory):
        def create_font_engine(self, writer, obj_stream=None):
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return GlyphAccumulator(
                writer=writer,
                font_handle=io.BytesIO(font_bytes),
                font_size=STAMP_FONT_SIZE,
                obj_stream=obj_stream,
            )

    return Factory()


def stamp_text(
    cert_name: str, typed: str | None, meaning: str, fingerprint: str, demo: bool
) -> str:
    """The 21 CFR 11.50 manifestation, one field per line (a %-template: `ts` is the time)."""
    lines = [f"Electronically signed by: {cert_name}"]
    if typed and typed != cert_name:
        lines.append(f"Name as typed by the signer: {typed}")
    lines += [
        f"Meaning of signature: {meaning}",
        "Date and time (UTC): %(ts)s",
        f"Certificate SHA-256: {fingerprint[:32]}",
        f"{fingerprint[32:]}",
    ]
    if demo:
        lines.append(DEMO_NOTE)
    return "\n".join(line if "%(ts)s" in line else line.replace("%", "%%") for line in lines)


def _stamp_style(text: str):
    """A left-aligned text stamp, time in UTC whatever the machine's time zone, shrunk to fit."""
    from dataclasses import dataclass as frozen_dataclass

    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    @frozen_dataclass(frozen=True)
    class UTCTextStampStyle(TextStampStyle):
        def create_stamp(self, writer, box, text_params):
            params = dict(text_params)
            try:
                moment = dt.datetime.strptime(params["ts"], "%Y-%m-%dT%H:%M:%S%z")
                params["ts"] = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            except (KeyError, ValueError):
                pass
            return super().create_stamp(writer, box, params)

    font = _font_factory(text.replace("%(ts)s", "0123456789-: "))
    rule = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MIN,
        y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins.uniform(0),
        inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
    )
    box_args = {"font_size": STAMP_FONT_SIZE, "leading": STAMP_LEADING, "box_layout_rule": rule}
    box_style = TextBoxStyle(font=font, **box_args) if font else TextBoxStyle(**box_args)
    return UTCTextStampStyle(
        stamp_text=text,
        timestamp_format="%Y-%m-%dT%H:%M:%S%z",
        text_box_style=box_style,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(STAMP_MARGIN),
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
        border_width=1,
    )


def slot_box(page_width: float, slot: int, box_setting=None) -> tuple[float, float, float, float]:
    """The stamp rectangle of signature number `slot` (0-based) on a page `page_width` wide."""
    x1, y1, x2, y2 = (float(v) for v in (box_setting or DEFAULT_BOX))
    width, height = x2 - x1, y2 - y1
    per_row = max(1, int((page_width - x1) // (width + 8)))
    col, row = slot % per_row, slot // per_row
    left = x1 + col * (width + 8)
    bottom = y1 + row * (height + 8)
    return (left, bottom, left + width, bottom + height)


def _page_width(writer) -> float:
    try:
        page_ref, _ = writer.find_page_for_modification(-1)
        media = page_ref.get_object().get("/MediaBox")
        return float(media[2]) - float(media[0])
    except Exception:
        return 595.0


def timestamper_from_env():
    url = os.environ.get(keys.ENV_TSA)
    if not url:
        return None
    try:
        from pyhanko.sign.timestamps import HTTPTimeStamper
    except ImportError:
        raise UserError(f"{keys.ENV_TSA}: timestamps need aiohttp (pip install aiohttp)") from None
    return HTTPTimeStamper(url)


def sign_pdf_bytes(
    data: bytes,
    material: keys.SigningMaterial,
    *,
    name: str,
    meaning: str,
    location: str | None = None,
    timestamper=None,
    box=None,
) -> bytes:
    """One PAdES signature with a visible stamp on the last page, as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import enumerate_sig_fields

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    taken = {field_name for field_name, *_ in enumerate_sig_fields(writer)}
    slot = len(taken)
    while f"{FIELD_PREFIX}{slot + 1}" in taken:
        slot += 1
    field_name = f"{FIELD_PREFIX}{slot + 1}"
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        name=name,
        reason=meaning,
        location=location,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    spec = fields.SigFieldSpec(
        sig_field_name=field_name, on_page=-1, box=slot_box(_page_width(writer), slot, box)
    )
    text = stamp_text(material.common_name, name, meaning, material.fingerprint, material.demo)
    pdf_signer = signers.PdfSigner(
        meta,
        material.pyhanko_signer(),
        timestamper=timestamper,
        stamp_style=_stamp_style(text),
        new_field_spec=spec,
    )
    return pdf_signer.sign_pdf(writer).getvalue()


# ---------------------------------------------------------------- check, then write


@dataclass
class Plan:
    """Everything a run will do, decided and checked before the first byte is written."""

    project: Project
    pdfs: dict[Path, bytes]  # PDF → its bytes now
    manifest_path: Path | None
    files: list[str] = field(default_factory=list)  # release files for the manifest
    done: set[Path] = field(default_factory=set)  # PDFs an interrupted run already signed
    outputs: list[Path] = field(default_factory=list)  # every file the run writes
    model_sig: Path | None = None  # the OpenSSF model signature beside the model folder


def _check_writable(project: Project, path: Path) -> None:
    if path.is_symlink():
        raise UserError(
            f"{project.shown(path, resolve=False)}: is a symbolic link; sign writes files in place"
        )
    if path.is_dir():
        raise UserError(f"{project.shown(path, resolve=False)}: is a folder, not a file")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(
            f"{project.shown(path, resolve=False)}: cannot write there ({project.shown(folder, resolve=False)})"
        )
    if path.exists() and not os.access(path, os.R_OK):
        raise UserError(f"{project.shown(path, resolve=False)}: not readable")


def _pdf_state(project: Project, pdfs: list[Path], add: bool) -> dict[Path, bytes]:
    originals: dict[Path, bytes] = {}
    for pdf in pdfs:
        project_path(project, pdf)
        _check_writable(project, pdf)
        data = read_pdf(pdf)
        count = existing_signatures(data, pdf)
        if add and count == 0:
            raise UserError(
                f"{project.shown(pdf, resolve=False)}: not signed yet; run samdkit sign without --add"
            )
        if not add and count > 0:
            raise UserError(
                f"{project.shown(pdf, resolve=False)}: already signed; use --add to add a later signature"
            )
        originals[pdf] = data
    return originals


def _check_rebuild_verdict(project: Project) -> None:
    """The rebuild verdict the manifest seals is read by its strict reader first: a file that is
    not one (hand-written, another format) is refused before anything is signed (exit 2)."""
    from samdkit.lock.rebuild import read_result

    path = project.path("rebuild")
    read_result(path, project.shown(path, resolve=False))


def make_plan(project: Project, pdfs: list[Path], manifest_path: Path | None, add: bool) -> Plan:
    """Check PDFs, release files and outputs; nothing is written."""
    plan = Plan(project, _pdf_state(project, pdfs, add), manifest_path)
    if manifest_path is not None:
        plan.files = release_files(project, pdfs)
        _check_rebuild_verdict(project)
    plan.outputs = list(plan.pdfs)
    if manifest_path is not None:
        from samdkit.release import manifest as mf
        from samdkit.release import model_signature

        plan.model_sig = model_signature.planned(project, plan.files)
        plan.outputs += [p for p in (plan.model_sig,) if p is not None]
        plan.outputs += [manifest_path, mf.signature_path(manifest_path)]
    for path in plan.outputs[len(plan.pdfs) :]:
        _check_writable(project, path)
    _check_writable(project, _state_dir(project) / PENDING)
    return plan


def _state_dir(project: Project) -> Path:
    return project.path("release")


def _digest(path: Path) -> str | None:
    return digests.sha256_hex(path) if path.is_file() else None


def begin(plan: Plan, material: keys.SigningMaterial, add: bool, chosen: dict[str, Any]) -> None:
    """Before the first write: a copy of every output as it is now, and the pending record."""
    state = _state_dir(plan.project)
    backups = state / BACKUPS
    if backups.exists():
        shutil.rmtree(backups)
    record: dict[str, Any] = {
        "format": PENDING_FORMAT,
        "add": add,
        "certificate_sha256": material.fingerprint,
        "demo": material.demo,
        **chosen,
        "started_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pdfs": [plan.project.shown(p, resolve=False) for p in plan.pdfs],
        "manifest": plan.project.shown(plan.manifest_path, resolve=False)
        if plan.manifest_path
        else None,
        "files": [],
    }
    for index, path in enumerate(plan.outputs):
        entry = {
            "path": plan.project.shown(path, resolve=False),
            "sha256": _digest(path),
            "backup": None,
        }
        if path.is_file():
            backup = backups / f"{index}-{path.name}"
            atomic.write_bytes(backup, path.read_bytes())
            entry["backup"] = plan.project.shown(backup, resolve=False)
        record["files"].append(entry)
    atomic.write_json(state / PENDING, record)


def finish(project: Project) -> None:
    state = _state_dir(project)
    (state / PENDING).unlink(missing_ok=True)
    shutil.rmtree(state / BACKUPS, ignore_errors=True)


PENDING_FORMAT = "samdkit-sign-pending/1"
PENDING_TYPES: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "add": (bool,),
    "certificate_sha256": (str,),
    "demo": (bool,),
    "meaning": (str,),
    "name": (str, type(None)),
    "location": (str, type(None)),
    "started_utc": (str,),
    "pdfs": (list,),
    "manifest": (str, type(None)),
    "files": (list,),
}


def _pending_path(where: str, field: str, value: Any, under: str = "") -> str:
    problem = path_problem(value)
    if problem is None and not value.startswith(under):
        problem = f"not under {under}"
    if problem:
        raise UserError(f"{where}: {field}: {problem}")
    return value


def _pending_files(record: dict[str, Any], where: str, backups: str) -> None:
    """Each written file: a project path, its digest before the run, its copy under backups."""
    for index, entry in enumerate(record["files"]):
        field = f"files[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"path", "sha256", "backup"}:
            raise UserError(f"{where}: {field}: not an object with exactly path, sha256, backup")
        _pending_path(where, f"{field}.path", entry["path"])
        if entry["sha256"] is not None and not is_sha256(entry["sha256"]):
            raise UserError(f"{where}: {field}.sha256: not a lowercase 64-hex SHA-256 or null")
        if entry["backup"] is not None:
            _pending_path(where, f"{field}.backup", entry["backup"], backups)
    written = {entry["path"] for entry in record["files"]}
    for index, rel in enumerate(record["pdfs"]):
        if _pending_path(where, f"pdfs[{index}]", rel) not in written:
            raise UserError(f"{where}: pdfs[{index}]: not among the files the run wrote")
    if record["manifest"] is not None and record["manifest"] not in written:
        raise UserError(f"{where}: manifest: not among the files the run wrote")


def validate_pending(record: Any, where: str, backups: str) -> dict[str, Any]:
    """The record of an interrupted run, strictly: --resume and --rollback write and delete only
    the files it names, so every path must be a project path and every copy under `backups`."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: not a record of an interrupted samdkit sign")
    for key in sorted(set(record) ^ set(PENDING_TYPES)):
        raise UserError(f"{where}: {key}: {'missing' if key in PENDING_TYPES else 'unknown field'}")
    for key, types in PENDING_TYPES.items():
        if not isinstance(record[key], types):
            raise UserError(f"{where}: {key}: wrong type")
    if record["format"] != PENDING_FORMAT:
        raise UserError(f"{where}: format: not {PENDING_FORMAT}")
    if not is_sha256(record["certificate_sha256"]):
        raise UserError(f"{where}: certificate_sha256: not a lowercase 64-hex SHA-256")
    if record["meaning"] not in MEANINGS:
        raise UserError(f"{where}: meaning: not one of {', '.join(MEANINGS)}")
    if record["manifest"] is not None:
        _pending_path(where, "manifest", record["manifest"])
    _pending_files(record, where, backups)
    return record


def pending(project: Project) -> dict[str, Any] | None:
    """The strict record of an interrupted run (None when there is none)."""
    path = _state_dir(project) / PENDING
    if not path.is_file():
        return None
    where = project.shown(path, resolve=False)
    record = load_json(path.read_bytes(), where)
    return validate_pending(
        record, where, f"{project.shown(_state_dir(project) / BACKUPS, resolve=False)}/"
    )


def describe(project: Project, record: dict[str, Any]) -> str:
    """How far an interrupted run got, e.g. "1 of 2 PDFs signed, manifest not written"."""
    changed = {
        f["path"] for f in record["files"] if _digest(project.root / f["path"]) != f["sha256"]
    }
    signed = len(changed & set(record["pdfs"]))
    written = record.get("manifest") in changed
    manifest = "manifest written" if written else "manifest not written"
    return f"{signed} of {len(record['pdfs'])} PDFs signed, {manifest}"


def signed_by_the_run(before: bytes, data: bytes, fingerprint: str, path: Path) -> bool:
    """Whether `data` is `before` plus exactly the one signature an interrupted run adds."""
    return (
        data.startswith(before)
        and existing_signatures(data, path) == existing_signatures(before, path) + 1
        and last_signer_sha256(data) == fingerprint
    )


def rollback(project: Project, record: dict[str, Any]) -> list[str]:
    """Put every file the interrupted run wrote back as it was before the run; check all first."""
    todo: list[tuple[Path, bytes | None]] = []
    for entry in record["files"]:
        path = project.root / entry["path"]
        if _digest(path) == entry["sha256"]:
            continue
        data = None
        if entry["backup"] is not None:
            data = (project.root / entry["backup"]).read_bytes()
            if digests.bytes_sha256(data) != entry["sha256"]:
                raise UserError(f"{entry['backup']}: the pre-sign copy was changed; not restoring")
        if entry["path"] in record["pdfs"] and not signed_by_the_run(
            data or b"", read_pdf(path), record["certificate_sha256"], path
        ):
            raise UserError(
                f"{entry['path']}: changed by something other than the interrupted run; "
                f"its pre-sign copy is {entry['backup']}"
            )
        todo.append((path, data))
    for path, data in todo:
        if data is None:
            path.unlink(missing_ok=True)
        else:
            atomic.write_bytes(path, data)
    finish(project)
    return [project.shown(path, resolve=False) for path, _ in todo]


def _resume_plan(
    project: Project, record: dict[str, Any], fingerprint: str, manifest_path: Path | None
) -> Plan:
    """PDFs as the interrupted run left them: unsigned (to sign) or signed by this certificate."""
    backups = {f["path"]: f["backup"] for f in record["files"]}
    plan = Plan(project, {}, manifest_path)
    for rel in record["pdfs"]:
        pdf = project.root / rel
        data = read_pdf(pdf)
        before = (project.root / backups[rel]).read_bytes()
        if data != before and not signed_by_the_run(before, data, fingerprint, pdf):
            raise UserError(
                f"{rel}: changed since the interrupted samdkit sign; run samdkit sign --rollback"
            )
        plan.pdfs[pdf] = data
        if data != before:
            plan.done.add(pdf)
    if manifest_path is not None:
        plan.files = release_files(project, list(plan.pdfs))
        _check_writable(project, manifest_path)
        plan.model_sig = _recorded_model_sig(project, record, plan.files)
    return plan


def _recorded_model_sig(project: Project, record: dict[str, Any], files: list[str]) -> Path | None:
    """The model signature a resumed run writes: only one the interrupted run planned (and backed up)."""
    from samdkit.release import model_signature

    target = model_signature.planned(project, files)
    recorded = {f["path"] for f in record["files"]}
    return (
        target if target is not None and project.shown(target, resolve=False) in recorded else None
    )


def _entries(plan: Plan) -> dict[str, Any]:
    """Manifest entries of the release files that are not PDFs, hashed before anything is signed."""
    from samdkit.release import manifest as mf

    pdfs = {plan.project.shown(p, resolve=False) for p in plan.pdfs}
    return {rel: mf.file_entry(plan.project.root, rel) for rel in plan.files if rel not in pdfs}


def _material(args: argparse.Namespace, record: dict[str, Any] | None) -> keys.SigningMaterial:
    material = keys.demo_material(args.name) if args.demo else keys.load_from_env()
    if record and material.fingerprint != record["certificate_sha256"]:
        hint = " (a --demo certificate is new on every run)" if material.demo else ""
        raise UserError(
            "--resume needs the certificate the interrupted run used (sha256 "
            f"{record['certificate_sha256'][:16]}…); this key's is {material.fingerprint[:16]}…"
            f"{hint}; run samdkit sign --rollback and sign again"
        )
    return material


def _settle(project: Project, args: argparse.Namespace) -> dict[str, Any] | None:
    """The record of an interrupted run, after deciding what this run may do about it."""
    record = pending(project)
    where = f"{project.shown(_state_dir(project) / PENDING, resolve=False)}"
    if record is None and (args.resume or args.rollback):
        raise UserError(f"nothing to {'resume' if args.resume else 'roll back'}: no {where}")
    if record is not None and not (args.resume or args.rollback):
        raise UserError(
            f"a previous samdkit sign stopped half-way ({describe(project, record)}; see {where}): "
            "run samdkit sign --resume to complete it with the same certificate (sha256 "
            f"{record['certificate_sha256'][:16]}…), or samdkit sign --rollback to restore the "
            "files as they were before it"
        )
    return record


def _defaults(project: Project, args: argparse.Namespace, pdfs: list[Path]) -> dict[str, Any]:
    """Meaning, name and location of a new run (a resumed run takes the interrupted run's)."""
    conf = settings(project)
    planned = planned_signers(project)
    meaning = args.meaning or (meaning_of(str(conf["meaning"])) if conf.get("meaning") else None)
    if meaning is None:
        slot = existing_signatures(read_pdf(pdfs[0]), pdfs[0]) if args.add and pdfs else 0
        if slot >= len(planned):
            raise UserError("--add: say the meaning of this signature with --meaning")
        meaning = planned[slot]["meaning"]
    return {
        "meaning": meaning,
        "name": args.name,
        "location": args.location or conf.get("location"),
    }


def _choose(project: Project, args: argparse.Namespace, record: dict[str, Any] | None):
    """PDFs, manifest path, and name/meaning/location: the interrupted run's, or this run's."""
    if record:
        manifest_path = project.root / record["manifest"] if record["manifest"] else None
        return record["add"], [project.root / p for p in record["pdfs"]], manifest_path, record
    pdfs = [p if p.is_absolute() else project.root / p for p in args.pdfs]
    pdfs = pdfs or release_pdfs(project)
    manifest_path = None
    if not args.add and not args.no_manifest:
        manifest_path = args.manifest or project.path("manifest")
        if not manifest_path.is_absolute():
            manifest_path = project.root / manifest_path
    return args.add, pdfs, manifest_path, _defaults(project, args, pdfs)


def _sign_all(plan: Plan, material, name: str, chosen: dict[str, Any], timestamper) -> dict:
    """Every PDF signed in memory (PDFs an interrupted run finished are kept as they are)."""
    out: dict[Path, bytes] = {}
    for pdf, data in plan.pdfs.items():
        if pdf in plan.done:
            out[pdf] = data
            continue
        out[pdf] = sign_pdf_bytes(
            data,
            material,
            name=name,
            meaning=chosen["meaning"],
            location=chosen["location"],
            timestamper=timestamper,
            box=settings(plan.project).get("box"),
        )
        if not out[pdf].startswith(data):  # the promise of an incremental update, checked
            raise RuntimeError(f"{pdf}: signed output does not keep the original as a prefix")
    return out


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    project = load_project(".")
    record = _settle(project, args)
    if args.rollback:
        restored = rollback(project, record)
        print(f"rolled back the interrupted samdkit sign: restored {len(restored)} files")
        for rel in restored:
            print(f"  {rel}")
        return 0
    add, pdfs, manifest_path, chosen = _choose(project, args, record)

    # check every input and compute every output in memory before the first write
    material = _material(args, record)
    name = chosen["name"] or material.common_name
    if material.demo and keys.DEMO_LABEL not in name:
        name = f"{name} ({keys.DEMO_LABEL})"
    timestamper = timestamper_from_env()
    if record:
        plan = _resume_plan(project, record, material.fingerprint, manifest_path)
    else:
        plan = make_plan(project, pdfs, manifest_path, add)
    entries = _entries(plan) if manifest_path else {}
    try:
        signed_pdfs = _sign_all(plan, material, name, chosen, timestamper)
        final = {project.shown(pdf, resolve=False): data for pdf, data in signed_pdfs.items()}
        model_sig = _model_signature(plan, material)
        if manifest_path is not None:
            sealed = dict(final)  # the model signature is a release file too
            if model_sig is not None:
                sealed[project.shown(model_sig.path, resolve=False)] = model_sig.data
            manifest = _manifest_bytes(project, plan.files, entries, sealed, material, timestamper)
    except OSError as exc:  # pyHanko's TimestampRequestError; the URL may hold credentials
        if timestamper is None:
            raise
        raise UserError(
            f"{keys.ENV_TSA}: the timestamp authority did not answer ({type(exc).__name__}); "
            "nothing was written"
        ) from None

    # write: a pending record and pre-sign copies first, so a kill here can be resumed or undone
    if not record:
        begin(plan, material, add, chosen)
    for pdf, data in signed_pdfs.items():
        if pdf not in plan.done:
            atomic.write_bytes(pdf, data)
    result: dict[str, Any] = {
        "signer": name,
        "certificate_subject": material.subject,
        "meaning": chosen["meaning"],
        "certificate_sha256": material.fingerprint,
        "demo": material.demo,
        "timestamp": bool(timestamper),
        "resumed": bool(record),
        "signed": [
            {"pdf": rel, "signatures": existing_signatures(data, Path(rel))}
            for rel, data in final.items()
        ],
    }
    if model_sig is not None:
        atomic.write_bytes(model_sig.path, model_sig.data)
        result["model_signature"] = {
            "path": project.shown(model_sig.path, resolve=False),
            "files": model_sig.files,
        }
    elif plan.model_sig is not None:
        from samdkit.release.model_signature import skip_reason

        result["model_signature_skipped"] = skip_reason(plan.model_sig, material)
    if manifest_path is not None:
        from samdkit.release import manifest as mf

        atomic.write_bytes(manifest_path, manifest[0])
        atomic.write_bytes(mf.signature_path(manifest_path), manifest[1])
        result["manifest"] = project.shown(manifest_path, resolve=False)
        result["manifest_files"] = len(plan.files)
    finish(project)
    _print(result, args.format)
    return 0


def _model_signature(plan: Plan, material: keys.SigningMaterial):
    """The model folder's OpenSSF signature in memory (None: no model folder, or one model-signing
    cannot sign, which sign reports)."""
    from samdkit.release import model_signature

    if plan.model_sig is None or model_signature.skip_reason(plan.model_sig, material):
        return None
    return model_signature.sign(plan.project, plan.model_sig, material)


def _manifest_bytes(
    project: Project,
    files: list[str],
    entries: dict[str, Any],
    pdfs: dict[str, bytes],
    material: keys.SigningMaterial,
    timestamper,
) -> tuple[bytes, bytes]:
    """The manifest and its detached CMS signature, in memory."""
    from samdkit.release import manifest as mf

    entries = {**entries, **{rel: mf.bytes_entry(data) for rel, data in pdfs.items()}}
    content = mf.build(project.root, [], entries=entries, signer_sha256=material.fingerprint)
    missing = set(files) - set(content["files"])
    if missing:  # every checked release file is in the manifest
        raise RuntimeError(f"manifest lost {sorted(missing)}")
    data = mf.dumps(content)
    return data, mf.sign_detached(data, material, timestamper=timestamper)


def envelope(result: dict[str, Any]) -> GateResult:
    """What `--format json` prints: the gate-result envelope, this run's record under `detail`,
    what CI steps expose (manifest, certificate fingerprint, model signature) under `outputs`."""
    findings = [
        Finding("sign", f"signed: {result['meaning']} (signature {item['signatures']})",
                file=item["pdf"], severity=Severity.PASS)
        for item in result["signed"]
    ]  # fmt: skip
    outputs = {  # always present ("" when not written: --add, --no-manifest) so CI can expose them
        "certificate_sha256": result["certificate_sha256"],
        "manifest": result.get("manifest") or "",
        "model_signature": (result.get("model_signature") or {}).get("path", ""),
    }
    summary = {"signed": len(result["signed"]), "manifest_files": result.get("manifest_files", 0)}
    return GateResult("sign", "PASS", findings, summary, outputs, detail=result)


def _print(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(render_result(envelope(result), "json"))
        return
    demo = " [DEMO certificate]" if result["demo"] else ""
    if result["resumed"]:
        print("completed the interrupted samdkit sign")
    for item in result["signed"]:
        print(
            f"signed {item['pdf']}: {result['signer']}, {result['meaning']}{demo} "
            f"(signature {item['signatures']})"
        )
    if "model_signature" in result:
        sig = result["model_signature"]
        print(f"wrote {sig['path']}: OpenSSF model signature of {sig['files']} model files")
    if result.get("model_signature_skipped"):
        print(f"no OpenSSF model signature: {result['model_signature_skipped']}")
    if "manifest" in result:
        print(
            f"wrote {result['manifest']} ({result['manifest_files']} files) and "
            f"{result['manifest']}.p7s"
        )
    else:
        print("manifest unchanged (later signatures keep the manifested revision as a byte prefix)")
    print(f"certificate {result['certificate_subject']}")
    print(f"certificate sha256 {result['certificate_sha256']}")


__all__ = ["add_arguments", "run", "sign_pdf_bytes"]
