"""`samdkit verify`: the auditor's offline check of a signed release.

Checks, each with its own verdict (docs/signing.md states the policy):

- manifest-signature: release/manifest.json.p7s is an intact CMS signature over the manifest bytes, by
  an authenticated signer (samdkit.release.trust) who also signed the PDFs;
- manifest-file: every manifested path lies inside the project, symlinks still point where they did,
  every file has the manifested SHA-256; a signed PDF may be longer only when the manifested bytes end
  at a signed revision and what follows obeys the revision policy (samdkit.release.revisions);
- pdf-signature: every PDF is named in the manifest; each signature is intact, its revision adds only
  a signature, the file obeys the revision policy, the signer is authenticated, the visible
  manifestation sits on the last page (samdkit.release.pades);
- report-digests: digests printed inside each PDF match the release files;
- model-signature: the OpenSSF model signature beside the model folder (samdkit.release.model_signature).

Trust comes only from the auditor (--trust, --expect-signer, SAMDKIT_TRUST, SAMDKIT_EXPECT_SIGNER); trust
settings inside the audited project are reported and ignored. Without any, the verdict is "SIGNER NOT
AUTHENTICATED" (exit 1), never PASS. No network access: no certificate fetching, revocation soft-fail.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from samdkit.core import digests
from samdkit.core.errors import UserError
from samdkit.core.escape import terminal
from samdkit.core.findings import Finding, GateResult, Severity, render_result, verdict_of
from samdkit.core.options import add_format_option
from samdkit.core.project import Project, load_project
from samdkit.release import manifest as mf
from samdkit.release import report_digests as rd
from samdkit.release import trust as tr
from samdkit.release.revisions import check_revisions

HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
CHECK = "report-digests"
MAX_TREE_NODES = 10_000  # an /EmbeddedFiles name tree larger than this is a loop or an attack
# bytes after the last %%EOF beyond this are not handed to pyHanko, whose reader scans them byte by
# byte in Python (200 MB of appended zeros took verify 5 minutes and 2 GB); they fail the file anyway
MAX_TAIL = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "The auditor's offline check: PDF signatures (PAdES) and what was appended after them, the "
        "signed release manifest, every manifested file, and the digests printed inside the report. "
        "Signers must be authenticated with --trust and/or --expect-signer (or SAMDKIT_TRUST / "
        "SAMDKIT_EXPECT_SIGNER). Exit 1 on any failure or unauthenticated signer."
    )
    parser.add_argument(
        "pdfs",
        nargs="*",
        type=Path,
        help="PDFs to check, each must be named in the manifest (default: the manifest's PDFs)",
    )
    parser.add_argument(
        "--manifest", type=Path, help="release manifest (default: release/manifest.json)"
    )
    parser.add_argument(
        "--trust",
        action="append",
        type=Path,
        default=[],
        metavar="ROOT.pem",
        help="PEM/DER file of trusted root certificate(s); repeatable. Settings of the audited "
        "project are never used",
    )
    parser.add_argument(
        "--expect-signer",
        action="append",
        default=[],
        metavar="SHA256",
        help="SHA-256 fingerprint of a signer certificate to accept (64 hex digits, colons "
        "allowed); repeatable. `samdkit sign` prints it",
    )
    add_format_option(parser)


# ---------------------------------------------------------------- manifest


def check_manifest_signature(
    manifest_path: Path,
    rel: str,
    manifest: dict[str, Any],
    policy: tr.TrustPolicy,
    findings: list[Finding],
) -> str | None:
    """Judge release/manifest.json.p7s; returns the signer's fingerprint when intact."""
    check = "manifest-signature"
    sig_path = manifest_path.with_name(manifest_path.name + mf.SIGNATURE_SUFFIX)
    if not sig_path.is_file() or sig_path.is_symlink():
        findings.append(Finding(check, f"signature {sig_path.name} not found", file=rel))
        return None
    try:
        status = mf.verify_detached(
            manifest_path.read_bytes(), sig_path.read_bytes(), policy.validation_context()
        )
    except ValueError as exc:
        findings.append(
            Finding(check, f"{sig_path.name}: {exc}", file=rel, detail={"status": "unreadable"})
        )
        return None
    if not status.intact or not status.valid:
        findings.append(
            Finding(
                check,
                "modified: the manifest does not match its signature (edited after signing?)",
                file=rel,
                detail={"status": "modified"},
            )
        )
        return None
    who = tr.identity(status.signing_cert)
    detail = {"signer": who}
    declared = manifest.get("signer_sha256")
    if declared is not None and str(declared).lower() != who["sha256"]:
        findings.append(
            Finding(
                check,
                "the manifest names a signer certificate other than the one that signed it",
                file=rel,
                detail={**detail, "status": "signer-mismatch"},
            )
        )
        return who["sha256"]
    ok, why = tr.authenticate(policy, status)
    text = f"intact signature by {who['subject']}, certificate sha256 {who['sha256']}"
    findings.append(
        Finding(
            check,
            f"{text}: {why}",
            file=rel,
            severity="pass" if ok else "error",
            detail={**detail, "status": "valid" if ok else "unauthenticated"},
        )
    )
    return who["sha256"]


def _path_problem(project: Project, rel: str, link_target: str | None) -> str | None:
    """Why a manifested path cannot be trusted as named (outside the project, retargeted link)."""
    if rel.startswith("/") or "\\" in rel or ".." in Path(rel).parts:
        return "the manifest names a path outside the project"
    path = project.root / rel
    try:
        path.resolve().relative_to(project.root.resolve())
    except ValueError:
        return "resolves outside the project (symlink leaving it)"
    if link_target is None:
        return (
            "is a symlink, but the manifest recorded a regular file" if path.is_symlink() else None
        )
    if not path.is_symlink():
        return f"the manifest recorded a symlink to {link_target}, but it is a regular file now"
    now = (path.parent / path.readlink()).resolve()
    try:
        now_rel = now.relative_to(project.root.resolve()).as_posix()
    except ValueError:
        now_rel = str(now)
    if now_rel != link_target:
        return f"symlink retargeted: points to {now_rel}, the manifest recorded {link_target}"
    return None


def junk_tail(path: Path) -> int:
    """Bytes after the PDF's last %%EOF marker (and its end-of-line), found without reading the file
    into memory: bytes no revision holds, refused by the revision policy."""
    import mmap

    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        last = view.rfind(b"%%EOF")
        if last < 0:
            return size
        end = last + 5
        end += next((len(e) for e in (b"\r\n", b"\r", b"\n") if view[end : end + len(e)] == e), 0)
    return size - end


def _tail_problem(path: Path) -> str | None:
    tail = junk_tail(path)
    if tail <= MAX_TAIL:
        return None
    return f"{tail} bytes after the last %%EOF belong to no revision (appended after signing)"


def _signed_prefix(path: Path, size: int | None, expected: str) -> str | None:
    """None when a longer PDF keeps the manifested bytes as a signed revision and obeys the
    revision policy after it; else why not."""
    if size is None or path.stat().st_size <= size:
        return "different bytes"
    if mf.sha256_file(path, limit=size) != expected:
        return "the manifested bytes are not a prefix of the file"
    if _tail_problem(path):
        return _tail_problem(path)
    try:
        revisions = check_revisions(path.read_bytes())
    except ValueError as exc:
        return str(exc)
    signed_ends = {revisions.ends[r] for r in revisions.signature_revisions.values()}
    if size not in signed_ends:
        return "the manifested bytes do not end at a signed revision"
    if not revisions.ok:
        return "what follows the manifested revision breaks the signing policy: " + "; ".join(
            revisions.problems
        )
    return None


def check_manifest_files(
    project: Project, manifest: dict[str, Any], findings: list[Finding]
) -> dict[str, str]:
    """Re-hash every manifested file; returns path → current sha256 of the files that exist."""
    current: dict[str, str] = {}
    bad = 0
    for rel, entry in sorted(manifest["files"].items()):
        expected, size, link = entry["sha256"], entry["size"], entry.get("link_target")
        path = project.root / rel
        problem = _path_problem(project, rel, link)
        if problem is None and not path.is_file():
            problem = "missing: named in the manifest"
        if problem:
            findings.append(Finding("manifest-file", problem, file=rel, detail={"status": "path"}))
            bad += 1
            continue
        digest = mf.sha256_file(path)
        current[rel] = digest
        if digest == expected:
            continue
        why = _signed_prefix(path, size, expected) if rel.lower().endswith(".pdf") else "x"
        if why is None:
            findings.append(
                Finding(
                    "manifest-file",
                    "manifested revision intact as a byte prefix; only signatures or validation "
                    "data follow it",
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
                f"manifest says {expected[:16]}…)"
                + (f"; {why}" if why not in ("x", "different bytes") else ""),
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


# ---------------------------------------------------------------- digests inside the report


def evidence_attachments(data: bytes) -> list[bytes]:
    """Every embedded file the PDF calls `evidence-digests.json` (by its name-tree key, /F or /UF),
    from the /EmbeddedFiles name tree; ValueError when the tree or such a file cannot be read.

    Only this name is evidence: another JSON attachment is not read, whatever it holds."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        names = PdfFileReader(io.BytesIO(data), strict=False).root.get("/Names")
        tree = names.get("/EmbeddedFiles") if names is not None else None
    except Exception:
        raise ValueError("the PDF's attachments cannot be read") from None
    found: list[bytes] = []
    stack = [tree] if tree is not None else []
    for _ in range(MAX_TREE_NODES):
        if not stack:
            return found
        try:
            node = stack.pop().get_object()
            stack += list(node.get("/Kids", []) or [])
            entries = list(node.get("/Names", []) or [])
        except Exception:
            raise ValueError("the PDF's attachment tree cannot be read") from None
        for key, spec in zip(entries[::2], entries[1::2], strict=False):
            found += _named_file(key, spec)
    raise ValueError(f"the PDF's attachment tree has more than {MAX_TREE_NODES} nodes (a loop?)")


def _named_file(key: Any, spec: Any) -> list[bytes]:
    """[content] of a file specification named like the digests attachment, else []."""
    try:
        spec = spec.get_object()
        names = {str(key), *(str(spec[k]) for k in ("/F", "/UF") if k in spec)}
    except Exception:
        raise ValueError("an attachment's file specification cannot be read") from None
    if rd.ATTACHMENT not in names:
        return []
    try:
        return [spec["/EF"]["/F"].get_object().data]
    except Exception:
        raise ValueError(f"{rd.ATTACHMENT}: the embedded file cannot be read") from None


def _as_signed(data: bytes) -> bytes:
    """The PDF up to its last signed revision: the digests a signer vouched for, not an attachment
    swapped in by a later, unsigned update (which the revision policy reports as modified)."""
    try:
        revisions = check_revisions(data)
    except ValueError:
        return data
    ends = [revisions.ends[r] for r in revisions.signature_revisions.values()]
    return data[: max(ends)] if ends else data


def _claimed_digests(data: bytes) -> dict[str, str] | None:
    """path → sha256 of the PDF's digests attachment (None: it has none); UserError when malformed."""
    try:
        blobs = evidence_attachments(data)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if len(blobs) > 1:
        raise UserError(f"{rd.ATTACHMENT}: attached {len(blobs)} times (which one is evidence?)")
    return rd.parse(blobs[0], rd.ATTACHMENT) if blobs else None


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
            found.add(digests.bytes_sha256(data[:end]))
    return found


def _current_digest(project: Project, rel: str, current: dict[str, str]) -> str | None:
    """The file's SHA-256 now: from the manifest check, else a regular file inside the project."""
    if rel in current:
        return current[rel]
    path = project.root / rel
    if project.rel(path) is None or not path.is_file():
        return None
    return digests.sha256_hex(path)


def _compare(
    project: Project, rel: str, claimed: dict[str, str], current: dict[str, str]
) -> list[Finding]:
    """The attachment's digests against the files (a PDF may match one of its revisions)."""
    found: list[Finding] = []
    for named, digest in sorted(claimed.items()):
        actual = _current_digest(project, named, current)
        if actual is None:
            why = f"the report names {named}, which is not in the release or the project"
            found.append(Finding(CHECK, why, file=rel, severity="warning"))
            continue
        path = project.root / named
        pdf = named.lower().endswith(".pdf") and not _tail_problem(path)
        if actual == digest or (pdf and digest in _revision_digests(path.read_bytes())):
            continue  # a PDF's digest printed before signing names a byte prefix of it
        found.append(
            Finding(
                CHECK,
                f"the report prints sha256 {digest[:16]}… for {named}, but the file has "
                f"{actual[:16]}…",
                file=rel,
                detail={"status": "mismatch", "target": named, "printed": digest},
            )
        )
    if not any(f.severity == "error" for f in found):
        checked = len(claimed) - len(found)
        text = f"{checked} digests in {rd.ATTACHMENT} match the files"
        found.append(Finding(CHECK, text, file=rel, severity="pass"))
    return found


def _check_printed(
    path: Path, rel: str, current: dict[str, str], project: Project
) -> list[Finding]:
    """A PDF without the attachment (not rendered by samdkit report): every 64-hex digest its text
    prints must be a release file's SHA-256 (or, for a PDF, one of its revisions')."""
    text = _pdf_text(path)
    if text is None:
        why = f"not checked: no {rd.ATTACHMENT} attachment and pdftotext not installed"
        return [Finding(CHECK, why, file=rel, severity="warning")]
    printed = sorted({m.lower() for m in HEX64.findall(text)})
    if not printed:
        return [Finding(CHECK, "the document prints no SHA-256 digest", file=rel, severity="pass")]
    known = set(current.values())
    for other in current:
        if other.lower().endswith(".pdf"):
            known |= _revision_digests((project.root / other).read_bytes())
    found = [
        Finding(
            CHECK,
            f"the report prints sha256 {digest[:16]}…, which matches no release file",
            file=rel,
            detail={"status": "mismatch", "printed": digest},
        )
        for digest in printed
        if digest not in known
    ]
    if not found:
        text = f"{len(printed)} printed digests match release files"
        found.append(Finding(CHECK, text, file=rel, severity="pass"))
    return found


def check_report_digests(
    project: Project, path: Path, rel: str, current: dict[str, str], findings: list[Finding]
) -> None:
    """The digests a PDF carries against the files: its `evidence-digests.json` attachment, read
    strictly (malformed: FAIL naming the field); without one, the digests its text prints."""
    try:
        claimed = _claimed_digests(_as_signed(path.read_bytes()))
    except UserError as exc:
        detail = {"status": "malformed"}
        findings.append(
            Finding(CHECK, f"malformed evidence digests: {exc}", file=rel, detail=detail)
        )
        return
    if claimed is None:
        findings += _check_printed(path, rel, current, project)
    elif not claimed:
        why = f"{rd.ATTACHMENT} names no file: the document's digests were not checked"
        findings.append(Finding(CHECK, why, file=rel, severity="warning"))
    else:
        findings += _compare(project, rel, claimed, current)


# ---------------------------------------------------------------- command


def read_manifest(path: Path, rel: str, findings: list[Finding]) -> tuple[dict, dict | None]:
    """(the manifest's JSON, the validated manifest or None).

    Not a samdkit manifest at all (missing, not JSON, no or another `format`): bad input, exit 2.
    A samdkit manifest with a malformed field: a FAIL finding naming the field."""
    raw = mf.read_json(path, rel)
    if not isinstance(raw, dict) or raw.get("format") != mf.FORMAT:
        mf.validate(raw, rel)  # raises: not a samdkit release manifest
    try:
        return raw, mf.validate(raw, rel)
    except UserError as exc:
        detail = {"status": "malformed"}
        findings.append(
            Finding("manifest-file", f"malformed manifest: {exc}", file=rel, detail=detail)
        )
        return raw, None


def check_pdfs(
    project: Project,
    manifest: dict[str, Any],
    pdfs: list[Path],
    context: tuple[tr.TrustPolicy, dict[str, str], str],
    findings: list[Finding],
) -> set[str]:
    """Every PDF (default: the manifest's): named in the manifest, signatures, digests inside;
    returns the fingerprints of the certificates that signed them."""
    from samdkit.release.pades import check_pdf

    policy, current, manifest_rel = context
    named = {rel for rel in manifest["files"] if rel.lower().endswith(".pdf")}
    if not named:
        findings.append(
            Finding("manifest-file", "the manifest names no signed PDF", file=manifest_rel)
        )
    signers: set[str] = set()
    for pdf in pdfs or [project.root / rel for rel in sorted(named)]:
        rel = project.shown(pdf, resolve=False)
        if rel not in named:
            findings.append(Finding("pdf-signature", "not named in the release manifest", file=rel))
        if not pdf.is_file():
            continue  # reported as missing by manifest-file
        tail = _tail_problem(pdf)
        if tail:  # not parsed further: the file fails whatever the rest holds
            detail = {"status": "revision-policy"}
            why = f"modified: changed after signing: {tail}; not parsed further"
            findings.append(Finding("pdf-signature", why, file=rel, detail=detail))
            continue
        signers |= check_pdf(pdf, rel, policy, findings)
        if pdf.read_bytes().startswith(b"%PDF-"):
            check_report_digests(project, pdf, rel, current, findings)
    return signers


def run(args: argparse.Namespace) -> int:
    from samdkit.release import model_signature
    from samdkit.release.sign import quiet_libraries

    quiet_libraries()
    project = load_project(".")
    policy = tr.load_policy(args.trust, args.expect_signer)
    manifest_path = _absolute(project, args.manifest or project.path("manifest"))
    pdfs = [_absolute(project, p) for p in args.pdfs]
    for pdf in pdfs:
        if not pdf.is_file():
            raise UserError(f"{pdf}: file not found")
    manifest_rel = project.shown(manifest_path, resolve=False)
    if not manifest_path.is_file():
        raise UserError(
            f"{manifest_rel}: manifest not found (run from the project root of a signed release, "
            "or pass --manifest)"
        )
    findings: list[Finding] = _ignored_project_trust(project)
    raw, manifest = read_manifest(manifest_path, manifest_rel, findings)
    manifest_signer = check_manifest_signature(manifest_path, manifest_rel, raw, policy, findings)
    if manifest is not None:
        current = check_manifest_files(project, manifest, findings)
        model_signature.check(project, manifest, policy, manifest_signer, findings)
        context = (policy, current, manifest_rel)
        pdf_signers = check_pdfs(project, manifest, pdfs, context, findings)
        if manifest_signer and pdf_signers and manifest_signer not in pdf_signers:
            findings.append(
                Finding(
                    "manifest-signature",
                    "the manifest was signed by a certificate that signed none of the PDFs",
                    file=manifest_rel,
                    detail={"status": "signer-mismatch"},
                )
            )
    print(_render(findings, args.format, policy, manifest_rel))
    return 1 if any(f.severity == "error" for f in findings) else 0


def _absolute(project: Project, path: Path) -> Path:
    return path if path.is_absolute() else project.root / path


def _ignored_project_trust(project: Project) -> list[Finding]:
    conf = project.section("verify")
    if not any(key in conf for key in ("trust", "expect_signer")):
        return []
    return [
        Finding(
            "trust",
            "the audited project declares trust settings ([tool.samdkit.verify]); they are "
            "ignored: trust comes from the auditor (--trust, --expect-signer)",
            severity="warning",
        )
    ]


def _shown_value(value: Any) -> Any:
    if isinstance(value, str):
        return terminal(value)
    if isinstance(value, dict):
        return {terminal(str(k)): _shown_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shown_value(v) for v in value]
    return value


def _shown_finding(f: Finding) -> Finding:
    return Finding(
        check=f.check,
        message=terminal(f.message),
        file=terminal(f.file) if f.file is not None else None,
        line=f.line,
        severity=f.severity,
        detail=_shown_value(f.detail),
    )


def _render(findings: list[Finding], fmt: str, policy: tr.TrustPolicy, manifest: str) -> str:
    """The gate result: FAIL, or SIGNER NOT AUTHENTICATED when that is the only failure.

    Every string comes from the release under audit (file names, subjects, library messages): each is
    made visible (`core.escape.terminal`), in the JSON too, before any format prints it."""
    findings = [_shown_finding(f) for f in findings]
    errors = [f for f in findings if f.severity == Severity.ERROR]
    unauthenticated = [f for f in errors if f.detail.get("status") == "unauthenticated"]
    failed = "SIGNER NOT AUTHENTICATED" if len(unauthenticated) == len(errors) else "FAIL"
    counts: dict[str, Any] = {}
    for f in findings:
        counts[str(f.severity)] = counts.get(str(f.severity), 0) + 1
    summary = {
        "checks": len(findings),
        **counts,
        "trust_roots": len(policy.roots),
        "expected_signers": len(policy.pins),
    }
    result = GateResult(
        gate="verify",
        verdict=verdict_of(findings, failed),
        findings=findings,
        summary=summary,
        detail={"manifest": manifest},
    )
    return render_result(result, fmt, title="samdkit verify")
