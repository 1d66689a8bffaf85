"""`samdkit verify`: the auditor's offline check of a signed release.

Checks, each with its own verdict:

- manifest-signature: release/manifest.json.p7s is an intact CMS signature over the manifest bytes
  (and, with --trust, chains to a trust root);
- manifest-file: every file the manifest names exists and has the manifested SHA-256; a signed PDF may
  be longer only if the manifested bytes are still an exact prefix that ends at a signed revision
  (later signers appended incremental signatures);
- pdf-signature: every PDF signature is intact, later revisions add signatures only, the last signature
  covers the whole file, the certificate chains to --trust roots, a signature timestamp (if any) is valid;
- report-digests: digests printed inside each PDF match the release files. Read from JSON attachments
  of the PDF (`evidence-digests.json` or any *.json attachment holding path → sha256 pairs); without
  such an attachment, from the PDF's text (poppler's pdftotext, when installed): every printed
  SHA-256 must be the digest of a release file or appear in a manifested JSON/lock file.

Verdicts tell apart "modified" (bytes changed after signing) from "untrusted signer" (intact, but the
certificate does not chain to the given trust roots). Without --trust, trust is not judged (a warning).
No network access: certificate fetching is off and revocation is soft-fail.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from samdkit import manifest as mf
from samdkit.errors import UserError
from samdkit.findings import Finding, render
from samdkit.project import Project, load_project

HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
PATH_KEYS = ("path", "file", "filename", "name", "artifact")
DIGEST_KEYS = ("sha256", "digest", "hash", "sha256_hex")
DIGEST_ATTACHMENT = "evidence-digests.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The auditor's offline check: PDF signatures (PAdES), the signed release manifest, every "
        "manifested file, and the digests printed inside the report. Exit 1 on any failure."
    )
    parser.add_argument(
        "pdfs", nargs="*", type=Path, help="PDFs to check (default: the PDFs the manifest names)"
    )
    parser.add_argument(
        "--manifest", type=Path, help="release manifest (default: release/manifest.json)"
    )
    parser.add_argument(
        "--trust",
        action="append",
        type=Path,
        default=[],
        help="PEM/DER file of trusted root certificate(s); repeatable "
        "(default: [tool.samdkit.verify] trust; without any, trust is not judged)",
    )
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


# ---------------------------------------------------------------- trust


def load_trust_roots(paths: list[Path]) -> list[Any]:
    from asn1crypto import pem, x509

    roots = []
    for path in paths:
        if not path.is_file():
            raise UserError(f"--trust {path}: file not found")
        data = path.read_bytes()
        try:
            if pem.detect(data):
                roots.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True))
            else:
                roots.append(x509.Certificate.load(data))
            for root in roots:
                _ = root.subject.human_friendly  # force a parse
        except Exception:
            raise UserError(f"--trust {path}: not a PEM or DER certificate file") from None
    if paths and not roots:
        raise UserError("--trust: no certificates found")
    return roots


def validation_context(roots: list[Any]):
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(
        trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail"
    )


def _subject(cert) -> str:
    try:
        native = cert.subject.native
        return str(native.get("common_name") or cert.subject.human_friendly)
    except Exception:
        return "unknown subject"


def _untrusted(check, file, status, roots, what) -> Finding | None:
    """An error finding when trust roots were given and the intact signature does not chain."""
    if roots and not status.trusted:
        subject = _subject(status.signing_cert) if status.signing_cert is not None else "unknown"
        return Finding(
            check,
            f"{what}: untrusted signer: intact, but '{subject}' does not chain to the trust roots",
            file=file,
            detail={"status": "untrusted", "signer": subject},
        )
    return None


def _judged(roots) -> tuple[str, str]:
    """(severity, suffix) of an intact signature: a warning while trust was not judged."""
    if roots:
        return "pass", "; trusted"
    return "warning", "; trust not judged (no --trust roots)"


# ---------------------------------------------------------------- manifest


def check_manifest_signature(
    manifest_path: Path, rel: str, roots: list[Any], findings: list[Finding]
) -> None:
    check = "manifest-signature"
    sig_path = manifest_path.with_name(manifest_path.name + mf.SIGNATURE_SUFFIX)
    if not sig_path.is_file():
        findings.append(Finding(check, f"signature {sig_path.name} not found", file=rel))
        return
    try:
        status = mf.verify_detached(
            manifest_path.read_bytes(), sig_path.read_bytes(), validation_context(roots)
        )
    except ValueError as exc:
        findings.append(
            Finding(check, f"{sig_path.name}: {exc}", file=rel, detail={"status": "unreadable"})
        )
        return
    if not status.intact or not status.valid:
        findings.append(
            Finding(
                check,
                "modified: the manifest does not match its signature (edited after signing?)",
                file=rel,
                detail={"status": "modified"},
            )
        )
        return
    untrusted = _untrusted(check, rel, status, roots, "manifest signature")
    if untrusted:
        findings.append(untrusted)
        return
    severity, suffix = _judged(roots)
    findings.append(
        Finding(
            check,
            f"intact signature by {_subject(status.signing_cert)}{suffix}",
            file=rel,
            severity=severity,
            detail={"status": "valid", "signer": _subject(status.signing_cert)},
        )
    )


def _signed_revision_ends(data: bytes) -> set[int]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    ends = set()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        for sig in reader.embedded_signatures:
            _, _len1, start2, len2 = (int(v) for v in sig.byte_range)
            ends.add(start2 + len2)
    except Exception:
        pass
    return ends


def check_manifest_files(
    project: Project, manifest: dict[str, Any], findings: list[Finding]
) -> dict[str, str]:
    """Re-hash every manifested file; returns path → current sha256 of the files that exist."""
    current: dict[str, str] = {}
    bad = 0
    for rel, entry in sorted(manifest["files"].items()):
        path = project.root / rel
        expected = str(entry.get("sha256", "")).lower() if isinstance(entry, dict) else str(entry)
        size = entry.get("size") if isinstance(entry, dict) else None
        if not path.is_file():
            findings.append(Finding("manifest-file", "missing: named in the manifest", file=rel))
            bad += 1
            continue
        digest = mf.sha256_file(path)
        current[rel] = digest
        if digest == expected:
            continue
        actual_size = path.stat().st_size
        if (
            rel.lower().endswith(".pdf")
            and isinstance(size, int)
            and actual_size > size
            and mf.sha256_file(path, limit=size) == expected
            and size in _signed_revision_ends(path.read_bytes())
        ):
            findings.append(
                Finding(
                    "manifest-file",
                    "manifested revision intact as a byte prefix; later incremental updates "
                    "are checked under pdf-signature",
                    file=rel,
                    severity="pass",
                    detail={"status": "prefix"},
                )
            )
            continue
        findings.append(
            Finding(
                "manifest-file",
                f"modified: changed after the manifest was written (sha256 {digest[:16]}…, "
                f"manifest says {expected[:16]}…)",
                file=rel,
                detail={"status": "modified", "sha256": digest, "expected": expected},
            )
        )
        bad += 1
    if not bad:
        findings.append(
            Finding(
                "manifest-file",
                f"all {len(manifest['files'])} manifested files match",
                severity="pass",
            )
        )
    return current


# ---------------------------------------------------------------- PDF signatures


def check_pdf(path: Path, rel: str, roots: list[Any], findings: list[Finding]) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    check = "pdf-signature"
    data = path.read_bytes()
    if not data.startswith(b"%PDF-"):
        findings.append(Finding(check, "not a PDF", file=rel, detail={"status": "not-pdf"}))
        return
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:
        findings.append(
            Finding(
                check,
                f"modified or damaged: the PDF cannot be read ({type(exc).__name__})",
                file=rel,
                detail={"status": "modified"},
            )
        )
        return
    if not signatures:
        findings.append(Finding(check, "not signed", file=rel, detail={"status": "unsigned"}))
        return
    for index, sig in enumerate(signatures, start=1):
        last = index == len(signatures)
        label = f"signature {index} ({sig.field_name})"
        try:
            status = validate_pdf_signature(sig, validation_context(roots))
        except Exception as exc:  # any failure to validate is a verdict, not a crash
            findings.append(
                Finding(
                    check,
                    f"{label}: modified: cannot be validated ({type(exc).__name__})",
                    file=rel,
                    detail={"status": "modified", "signature": index},
                )
            )
            continue
        detail = {"signature": index, "field": sig.field_name}
        if not (status.intact and status.valid):
            why = (
                "the signed bytes changed after signing (digest mismatch)"
                if not status.intact
                else "the cryptographic signature does not verify"
            )
            findings.append(
                Finding(
                    check,
                    f"{label}: modified: {why}",
                    file=rel,
                    detail={**detail, "status": "modified"},
                )
            )
            continue
        level = status.modification_level
        later_ok = (
            level is not None and level <= ModificationLevel.FORM_FILLING and status.docmdp_ok
        )
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        tail_ok = whole or (level is not None and level <= ModificationLevel.LTA_UPDATES)
        if not later_ok or (last and not tail_ok):
            what = level.name if level is not None else "unknown"
            findings.append(
                Finding(
                    check,
                    f"{label}: modified after signing: later revisions change more than "
                    f"signatures ({what})"
                    if not later_ok
                    else f"{label}: modified after the last signature: unsigned changes appended",
                    file=rel,
                    detail={**detail, "status": "modified", "modification_level": what},
                )
            )
            continue
        untrusted = _untrusted(check, rel, status, roots, label)
        if untrusted:
            findings.append(untrusted)
            continue
        ts = status.timestamp_validity
        if ts is not None:
            if not (ts.intact and ts.valid):
                findings.append(
                    Finding(
                        check,
                        f"{label}: signature timestamp is not valid",
                        file=rel,
                        detail={**detail, "status": "bad-timestamp"},
                    )
                )
                continue
            if roots and not ts.trusted:
                findings.append(
                    Finding(
                        check,
                        f"{label}: timestamp authority does not chain to the trust roots",
                        file=rel,
                        severity="warning",
                        detail={**detail, "status": "untrusted-timestamp"},
                    )
                )
        obj = sig.sig_object
        name = str(obj.get("/Name", "")) or _subject(status.signing_cert)
        reason = str(obj.get("/Reason", "")) or "no meaning given"
        when = status.signer_reported_dt
        when_text = "no time"
        if when:
            import datetime as dt

            when_text = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        scope = "whole file" if whole else "later changes are signatures only"
        severity, suffix = _judged(roots)
        findings.append(
            Finding(
                check,
                f"{label}: valid: {name}, {reason}, {when_text}"
                + (", timestamped" if ts is not None else "")
                + f" ({scope}){suffix}",
                file=rel,
                severity=severity,
                detail={
                    **detail,
                    "status": "valid",
                    "name": name,
                    "reason": reason,
                    "time": when_text,
                    "trusted": bool(roots) and bool(status.trusted),
                },
            )
        )


# ---------------------------------------------------------------- digests inside the report


def pdf_attachments(data: bytes) -> dict[str, bytes]:
    """Embedded files of a PDF (name → bytes), from the /EmbeddedFiles name tree."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    found: dict[str, bytes] = {}
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        names = reader.root.get("/Names")
        tree = names.get("/EmbeddedFiles") if names is not None else None
    except Exception:
        return found
    stack = [tree] if tree is not None else []
    while stack:
        node = stack.pop().get_object()
        for kid in node.get("/Kids", []) or []:
            stack.append(kid)
        entries = list(node.get("/Names", []) or [])
        for key, spec in zip(entries[::2], entries[1::2], strict=False):
            try:
                spec = spec.get_object()
                name = str(spec.get("/UF") or spec.get("/F") or key)
                found[name] = spec["/EF"]["/F"].get_object().data
            except Exception:
                continue
    return found


def _hex(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower().removeprefix("sha256:")
    return text if len(text) == 64 and HEX64.fullmatch(text) else None


def digest_pairs(obj: Any, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(path, sha256) pairs anywhere in a JSON document: {"path": .., "sha256": ..} objects and
    {"some/file.ext": "<sha256>"} tables."""
    if isinstance(obj, dict):
        path = next((obj[k] for k in PATH_KEYS if isinstance(obj.get(k), str)), None)
        digest = next((_hex(obj.get(k)) for k in DIGEST_KEYS if _hex(obj.get(k))), None)
        if path and digest:
            pairs.append((path, digest))
        for key, value in obj.items():
            if _hex(value) and ("/" in key or "." in key):
                pairs.append((key, _hex(value)))
            elif isinstance(value, dict) and ("/" in key or "." in key):
                inner = next((_hex(value.get(k)) for k in DIGEST_KEYS if _hex(value.get(k))), None)
                if inner and not any(isinstance(value.get(k), str) for k in PATH_KEYS):
                    pairs.append((key, inner))
                digest_pairs(value, pairs)
            else:
                digest_pairs(value, pairs)
    elif isinstance(obj, list):
        for item in obj:
            digest_pairs(item, pairs)
    return pairs


def _resolve(project: Project, named: str, manifest_files: dict[str, str]) -> str | None:
    named = named.replace("\\", "/").lstrip("./")
    if named in manifest_files or (project.root / named).is_file():
        return named
    matches = [rel for rel in manifest_files if rel == named or rel.endswith("/" + named)]
    return matches[0] if len(matches) == 1 else None


def _pdf_text(path: Path) -> str | None:
    tool = shutil.which("pdftotext")
    if not tool:
        return None
    try:
        done = subprocess.run(
            [tool, "-q", "-enc", "UTF-8", str(path), "-"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def _revision_digests(data: bytes) -> set[str]:
    """SHA-256 of every earlier revision of a PDF (each byte prefix ending at %%EOF).

    Signing appends an incremental update, so a digest printed before signing (the model card prints
    the report's) still names the signed file's first revision, which is a byte prefix of it.
    """
    found = set()
    for match in re.finditer(rb"%%EOF(\r\n|\r|\n)?", data):
        for end in {match.start() + 5, match.end()}:
            found.add(hashlib.sha256(data[:end]).hexdigest())
    return found


def _known_digests(project: Project, current: dict[str, str]) -> set[str]:
    known = set(current.values())
    for rel in current:
        if rel.lower().endswith(".pdf"):
            known |= _revision_digests((project.root / rel).read_bytes())
        if rel.endswith((".json", ".lock", ".yaml", ".yml")):
            try:
                text = (project.root / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            known.update(m.lower() for m in HEX64.findall(text))
    return known


def check_report_digests(
    project: Project, path: Path, rel: str, current: dict[str, str], findings: list[Finding]
) -> None:
    check = "report-digests"
    attachments = pdf_attachments(path.read_bytes())
    pairs: list[tuple[str, str]] = []
    preferred = {n: d for n, d in attachments.items() if n.lower() == DIGEST_ATTACHMENT}
    for name, blob in (preferred or attachments).items():
        if name.lower().endswith(".json"):
            try:
                digest_pairs(json.loads(blob.decode("utf-8")), pairs)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
    if pairs:
        bad = 0
        checked = 0
        for named, digest in sorted(set(pairs)):
            target = _resolve(project, named, current)
            if target is None:
                findings.append(
                    Finding(
                        check,
                        f"the report names {named}, which is not in the release",
                        file=rel,
                        severity="warning",
                    )
                )
                continue
            actual = current.get(target) or mf.sha256_file(project.root / target)
            checked += 1
            # a PDF digest printed before signing names a revision that is a byte prefix of it
            if (
                actual != digest
                and target.lower().endswith(".pdf")
                and digest in _revision_digests((project.root / target).read_bytes())
            ):
                actual = digest
            if actual != digest:
                bad += 1
                findings.append(
                    Finding(
                        check,
                        f"the report prints sha256 {digest[:16]}… for {target}, but the file has "
                        f"{actual[:16]}…",
                        file=rel,
                        detail={"status": "mismatch", "target": target, "printed": digest},
                    )
                )
        if not bad:
            findings.append(
                Finding(
                    check,
                    f"{checked} digests in the report's attachments match the files",
                    file=rel,
                    severity="pass",
                )
            )
        return
    text = _pdf_text(path)
    if text is None:
        findings.append(
            Finding(
                check,
                f"not checked: no {DIGEST_ATTACHMENT} attachment and pdftotext not installed",
                file=rel,
                severity="warning",
            )
        )
        return
    printed = sorted({m.lower() for m in HEX64.findall(text)})
    if not printed:
        findings.append(
            Finding(check, "the document prints no SHA-256 digest", file=rel, severity="pass")
        )
        return
    known = _known_digests(project, current)
    unknown = [d for d in printed if d not in known]
    for digest in unknown:
        findings.append(
            Finding(
                check,
                f"the report prints sha256 {digest[:16]}…, which matches no release file",
                file=rel,
                detail={"status": "mismatch", "printed": digest},
            )
        )
    if not unknown:
        findings.append(
            Finding(
                check,
                f"{len(printed)} printed digests match release files",
                file=rel,
                severity="pass",
            )
        )


# ---------------------------------------------------------------- command


def run(args: argparse.Namespace) -> int:
    from samdkit.signing import quiet_libraries, release_pdfs

    quiet_libraries()
    project = load_project(".")
    conf = project.section("verify")

    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else project.root / p

    def rel(p: Path) -> str:
        try:
            return p.resolve().relative_to(project.root).as_posix()
        except ValueError:
            return str(p)

    trust_paths = [absolute(p) for p in args.trust] or [
        project.root / p for p in conf.get("trust", [])
    ]
    roots = load_trust_roots(trust_paths)
    manifest_path = absolute(args.manifest or project.path("release") / "manifest.json")
    pdfs = [absolute(p) for p in args.pdfs]
    for pdf in pdfs:
        if not pdf.is_file():
            raise UserError(f"{pdf}: file not found")

    findings: list[Finding] = []
    current: dict[str, str] = {}
    if manifest_path.is_file():
        manifest = mf.load(manifest_path)
        check_manifest_signature(manifest_path, rel(manifest_path), roots, findings)
        current = check_manifest_files(project, manifest, findings)
        if not pdfs:
            pdfs = [
                project.root / p for p in sorted(manifest["files"]) if p.lower().endswith(".pdf")
            ]
    elif pdfs:
        findings.append(
            Finding(
                "manifest-signature",
                f"no manifest at {rel(manifest_path)}: manifest checks skipped",
                severity="warning",
            )
        )
    else:
        pdfs = [p for p in release_pdfs(project) if p.is_file()]
        if not pdfs:
            raise UserError(
                f"{rel(manifest_path)}: manifest not found and no PDFs given "
                "(run from the project root, or pass PDFs and --manifest)"
            )
        findings.append(
            Finding(
                "manifest-signature",
                f"no manifest at {rel(manifest_path)}",
                file=rel(manifest_path),
            )
        )

    for pdf in pdfs:
        if not pdf.is_file():
            continue  # reported as missing by manifest-file
        check_pdf(pdf, rel(pdf), roots, findings)
        if pdf.read_bytes().startswith(b"%PDF-"):
            check_report_digests(project, pdf, rel(pdf), current, findings)

    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = {"checks": len(findings), **counts, "trust_roots": len(roots)}
    print(render(findings, args.format, title="samdkit verify", summary=summary))
    return 1 if any(f.severity == "error" for f in findings) else 0
