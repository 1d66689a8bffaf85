"""`samdkit sign`: PAdES-sign the report PDFs and sign the release manifest.

First signature (CI): `samdkit sign` signs every release PDF (a visible 21 CFR 11.50 manifestation on the
last page: printed name, meaning, UTC date and time; the same name, reason and time in the signature
dictionary), then writes release/manifest.json (SHA-256 of every release file) and its detached CMS
signature release/manifest.json.p7s, with the same key.

Later signers: `samdkit sign --add --name "Dr Jane Roe" --meaning approval` appends an incremental
update to each PDF; the earlier revisions stay an exact byte prefix and their signatures stay valid. The
manifest is not rewritten: `samdkit verify` checks that the manifested bytes are still a prefix of the
PDF and that everything after them is signatures only.

Key material comes from environment variables only (see samdkit.keys); `--demo` uses a throwaway
self-signed certificate labelled DEMO. Settings: `[tool.samdkit.sign]` in pyproject.toml.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from samdkit import atomic, keys
from samdkit.errors import UserError
from samdkit.project import Project, load_project

MEANINGS = ("Authorship", "Approval", "Review", "Responsibility")
DEFAULT_PDFS = ("reports/clinical-validation-report.pdf", "reports/model-card.pdf")
DEFAULT_SBOM = "reports/sbom.cdx.json"
FIELD_PREFIX = "samdkit-signature-"
# the first visible signature box on the last page, in PDF points (x1, y1, x2, y2); later signatures
# take the next slot to the right, then the row above. Override with [tool.samdkit.sign] box.
DEFAULT_BOX = (36.0, 24.0, 292.0, 84.0)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
STAMP_TEXT = (
    "Electronically signed by: %(signer)s\n"
    "Meaning of signature: %(meaning)s\n"
    "Date and time (UTC): %(ts)s\n"
    "%(note)s"
)


def _meaning(value: str) -> str:
    for meaning in MEANINGS:
        if value.strip().lower() == meaning.lower():
            return meaning
    raise argparse.ArgumentTypeError(f"choose from {', '.join(m.lower() for m in MEANINGS)}")


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
        "--name", help="signer's printed name (default: the certificate's common name)"
    )
    parser.add_argument(
        "--meaning",
        type=_meaning,
        help="meaning of the signature: authorship (default), approval, review, responsibility",
    )
    parser.add_argument("--location", help="optional /Location of the signature")
    parser.add_argument(
        "--no-manifest", action="store_true", help="sign the PDFs only; do not write the manifest"
    )
    parser.add_argument(
        "--manifest", type=Path, help="manifest path (default: release/manifest.json)"
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


def quiet_libraries() -> None:
    """pyHanko and fontTools log tracebacks and font notes; keep the one-line promise."""
    if os.environ.get("SAMDKIT_DEBUG"):
        return
    for name in ("pyhanko", "pyhanko_certvalidator", "fontTools", "aiohttp"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def settings(project: Project) -> dict[str, Any]:
    return project.section("sign")


def _setting_path(project: Project, key: str, default: str) -> Path:
    try:
        return project.path(key)
    except KeyError:
        return project.root / default


def release_pdfs(project: Project) -> list[Path]:
    configured = settings(project).get("pdfs")
    if configured:
        return [project.root / p for p in configured]
    return [
        _setting_path(project, "report_pdf", DEFAULT_PDFS[0]),
        _setting_path(project, "model_card_pdf", DEFAULT_PDFS[1]),
    ]


def release_files(project: Project, pdfs: list[Path]) -> list[Path]:
    """Every file of a release: model directory, locks, evaluation, data check, SBOM, PDFs."""
    conf = settings(project)
    if conf.get("files"):
        named = [project.root / p for p in conf["files"]]
    else:
        named = [
            project.path("model"),
            project.path("model_lock"),
            project.path("dvc_lock"),
            project.path("evaluation"),
            project.path("data_check"),
            _setting_path(project, "sbom", DEFAULT_SBOM),
        ]
    named += [project.root / p for p in conf.get("extra_files", [])]
    named += pdfs
    files: list[Path] = []
    for path in named:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file())
            if not found:
                raise UserError(f"{_rel(project, path)}: release folder is empty")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{_rel(project, path)}: release file not found")
    unique: dict[str, Path] = {}
    for path in files:
        unique.setdefault(str(path.resolve()), path)
    return list(unique.values())


def _rel(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def read_pdf(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        raise UserError(f"{path}: not a PDF")
    return data


def existing_signatures(data: bytes, path: Path) -> int:
    """How many signature fields (filled or not) the PDF has; one clear line if it cannot be read."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        return sum(1 for _ in enumerate_sig_fields(reader))
    except Exception as exc:
        raise UserError(f"{path}: not a readable PDF ({type(exc).__name__})") from None


def _font_factory():
    """An embedded OpenType font for the stamp (PDF/A needs embedded fonts), or None."""
    try:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    except ImportError:
        return None
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return GlyphAccumulatorFactory(candidate, font_size=9)
    return None


def _stamp_style(font_factory):
    """A text stamp whose time is rendered in UTC whatever the machine's time zone."""
    import datetime as dt
    from dataclasses import dataclass

    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    @dataclass(frozen=True)
    class UTCTextStampStyle(TextStampStyle):
        def create_stamp(self, writer, box, text_params):
            params = dict(text_params)
            try:
                moment = dt.datetime.strptime(params["ts"], "%Y-%m-%dT%H:%M:%S%z")
                params["ts"] = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            except (KeyError, ValueError):
                pass
            return super().create_stamp(writer, box, params)

    box_style = TextBoxStyle(font=font_factory) if font_factory else TextBoxStyle()
    return UTCTextStampStyle(
        stamp_text=STAMP_TEXT,
        timestamp_format="%Y-%m-%dT%H:%M:%S%z",
        text_box_style=box_style,
        border_width=1,
    )


def _slot_box(writer, slot: int, box_setting) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in (box_setting or DEFAULT_BOX))
    width, height = x2 - x1, y2 - y1
    page_width = 595.0
    try:
        page_ref, _ = writer.find_page_for_modification(-1)
        media = page_ref.get_object().get("/MediaBox")
        if media is not None:
            page_width = float(media[2]) - float(media[0])
    except Exception:
        pass
    per_row = max(1, int((page_width - x1) // (width + 8)))
    col, row = slot % per_row, slot // per_row
    left = x1 + col * (width + 8)
    bottom = y1 + row * (height + 8)
    return (left, bottom, left + width, bottom + height)


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
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import enumerate_sig_fields

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    taken = {field_name for field_name, *_ in enumerate_sig_fields(writer)}
    slot = len(taken)
    field_name = f"{FIELD_PREFIX}{slot + 1}"
    while field_name in taken:
        slot += 1
        field_name = f"{FIELD_PREFIX}{slot + 1}"
    if material.demo:
        note = "DEMO certificate - not a real signature"
    else:
        note = f"Certificate SHA-256: {material.fingerprint[:32]}"
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        name=name,
        reason=meaning,
        location=location,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    spec = fields.SigFieldSpec(
        sig_field_name=field_name, on_page=-1, box=_slot_box(writer, slot, box)
    )
    pdf_signer = signers.PdfSigner(
        meta,
        material.pyhanko_signer(),
        timestamper=timestamper,
        stamp_style=_stamp_style(_font_factory()),
        new_field_spec=spec,
    )
    out = pdf_signer.sign_pdf(writer, appearance_text_params={"meaning": meaning, "note": note})
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    project = load_project(".")
    conf = settings(project)
    pdfs = [p if p.is_absolute() else project.root / p for p in args.pdfs] or release_pdfs(project)
    manifest_path = args.manifest or project.path("release") / "manifest.json"
    if not manifest_path.is_absolute():
        manifest_path = project.root / manifest_path
    meaning = args.meaning or _meaning(str(conf.get("meaning", "Authorship")))

    # check every input before touching anything: a failed run leaves no half-signed release
    originals: dict[Path, bytes] = {}
    for pdf in pdfs:
        data = read_pdf(pdf)
        count = existing_signatures(data, pdf)
        if args.add and count == 0:
            raise UserError(f"{_rel(project, pdf)}: not signed yet; run samdkit sign without --add")
        if not args.add and count > 0:
            raise UserError(
                f"{_rel(project, pdf)}: already signed; use --add to add a later signature"
            )
        originals[pdf] = data
    write_manifest = not args.add and not args.no_manifest
    files = release_files(project, pdfs) if write_manifest else []

    material = keys.demo_material(args.name) if args.demo else keys.load_from_env()
    name = args.name or material.common_name
    if material.demo and keys.DEMO_LABEL not in name:
        name = f"{name} ({keys.DEMO_LABEL})"
    timestamper = timestamper_from_env()

    signed: list[dict[str, Any]] = []
    for pdf, data in originals.items():
        out = sign_pdf_bytes(
            data,
            material,
            name=name,
            meaning=meaning,
            location=args.location or conf.get("location"),
            timestamper=timestamper,
            box=conf.get("box"),
        )
        if not out.startswith(data):  # the promise of an incremental update, checked
            raise RuntimeError(f"{pdf}: signed output does not keep the original as a prefix")
        atomic.write_bytes(pdf, out)
        signed.append({"pdf": _rel(project, pdf), "signatures": existing_signatures(out, pdf)})

    result: dict[str, Any] = {
        "signer": name,
        "meaning": meaning,
        "certificate_sha256": material.fingerprint,
        "demo": material.demo,
        "timestamp": bool(timestamper),
        "signed": signed,
    }
    if write_manifest:
        from samdkit import manifest as mf

        content = mf.build(project.root, files)
        data = mf.dumps(content)
        signature = mf.sign_detached(data, material, timestamper=timestamper)
        atomic.write_bytes(manifest_path, data)
        atomic.write_bytes(
            manifest_path.with_name(manifest_path.name + mf.SIGNATURE_SUFFIX), signature
        )
        result["manifest"] = _rel(project, manifest_path)
        result["manifest_files"] = len(content["files"])
    _print(result, args.format)
    return 0


def _print(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    demo = " [DEMO certificate]" if result["demo"] else ""
    for item in result["signed"]:
        print(
            f"signed {item['pdf']}: {result['signer']}, {result['meaning']}{demo} "
            f"(signature {item['signatures']})"
        )
    if "manifest" in result:
        print(
            f"wrote {result['manifest']} ({result['manifest_files']} files) and "
            f"{result['manifest']}.p7s"
        )
    else:
        print("manifest unchanged (later signatures keep the manifested revision as a byte prefix)")
    print(f"certificate sha256 {result['certificate_sha256']}")
