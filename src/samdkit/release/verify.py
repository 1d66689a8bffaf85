"""`samdkit verify`: the auditor's offline check of a signed release.

Checks, each with its own verdict (docs/signing.md states the policy):

- manifest-signature: release/manifest.json.p7s is an intact CMS signature over the manifest bytes, by
  an authenticated signer (samdkit.trust) who also signed the PDFs;
- manifest-file: every manifested path lies inside the project, symlinks still point where they did,
  every file has the manifested SHA-256; a signed PDF may be longer only when the manifested bytes end
  at a signed revision and what follows obeys the revision policy (samdkit.pdf_revisions);
- pdf-signature: every PDF is named in the manifest; each signature is intact, its revision adds only
  a signature, the file obeys the revision policy, the signer is authenticated, the visible
  manifestation sits on the last page (samdkit.pdf_signatures);
- report-digests: digests printed inside each PDF match the release files;
- model-signature: the OpenSSF model signature beside the model folder (samdkit.model_signature).

Trust comes only from the auditor (--trust, --expect-signer, SAMDKIT_TRUST, SAMDKIT_EXPECT_SIGNER); trust
settings inside the audited project are reported and ignored. Without any, the verdict is "SIGNER NOT
AUTHENTICATED" (exit 1), never PASS. No network access: no certificate fetching, revocation soft-fail.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError
from samdkit.core.findings import Finding, render
from samdkit.core.project import Project, load_project
from samdkit.release import manifest as mf
from samdkit.release import trust as tr
from samdkit.release.revisions import check_revisions

HEX64 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
PATH_KEYS = ("path", "file", "filename", "name", "artifact")
DIGEST_KEYS = ("sha256", "digest", "hash", "sha256_hex")
DIGEST_ATTACHMENT = "evidence-digests.json"


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
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")


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


def _entry(entry: Any) -> tuple[str, int | None, str | None]:
    """(sha256, size, link_target) of a manifest entry; one clear line when it is malformed."""
    if isinstance(entry, str):
        return entry.lower(), None, None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise UserError("manifest: an entry without a sha256 (not a samdkit release manifest)")
    size = entry.get("size")
    link = entry.get("link_target")
    return (
        entry["sha256"].lower(),
        size if isinstance(size, int) else None,
        link if isinstance(link, str) else None,
    )


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


def _signed_prefix(path: Path, size: int | None, expected: str) -> str | None:
    """None when a longer PDF keeps the manifested bytes as a signed revision and obeys the
    revision policy after it; else why not."""
    if size is None or path.stat().st_size <= size:
        return "different bytes"
    if mf.sha256_file(path, limit=size) != expected:
        return "the manifested bytes are not a prefix of the file"
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
        expected, size, link = _entry(entry)
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
    from samdkit.release import model_signature
    from samdkit.release.pades import check_pdf
    from samdkit.release.sign import quiet_libraries

    quiet_libraries()
    project = load_project(".")
    policy = tr.load_policy(args.trust, args.expect_signer)
    manifest_path = _absolute(project, args.manifest or project.path("release") / "manifest.json")
    pdfs = [_absolute(project, p) for p in args.pdfs]
    for pdf in pdfs:
        if not pdf.is_file():
            raise UserError(f"{pdf}: file not found")
    if not manifest_path.is_file():
        raise UserError(
            f"{_rel(project, manifest_path)}: manifest not found (run from the project root of "
            "a signed release, or pass --manifest)"
        )
    manifest = mf.load(manifest_path)

    findings: list[Finding] = _ignored_project_trust(project)
    manifest_rel = _rel(project, manifest_path)
    manifest_signer = check_manifest_signature(
        manifest_path, manifest_rel, manifest, policy, findings
    )
    current = check_manifest_files(project, manifest, findings)
    model_signature.check(project, manifest, policy, manifest_signer, findings)
    named = {rel for rel in manifest["files"] if rel.lower().endswith(".pdf")}
    if not named:
        findings.append(
            Finding("manifest-file", "the manifest names no signed PDF", file=manifest_rel)
        )
    pdfs = pdfs or [project.root / rel for rel in sorted(named)]
    pdf_signers: set[str] = set()
    for pdf in pdfs:
        rel = _rel(project, pdf)
        if rel not in named:
            findings.append(Finding("pdf-signature", "not named in the release manifest", file=rel))
        if not pdf.is_file():
            continue  # reported as missing by manifest-file
        pdf_signers |= check_pdf(pdf, rel, policy, findings)
        if pdf.read_bytes().startswith(b"%PDF-"):
            check_report_digests(project, pdf, rel, current, findings)
    if manifest_signer and pdf_signers and manifest_signer not in pdf_signers:
        findings.append(
            Finding(
                "manifest-signature",
                "the manifest was signed by a certificate that signed none of the PDFs",
                file=manifest_rel,
                detail={"status": "signer-mismatch"},
            )
        )
    print(_render(findings, args.format, policy))
    return 1 if any(f.severity == "error" for f in findings) else 0


def _absolute(project: Project, path: Path) -> Path:
    return path if path.is_absolute() else project.root / path


def _rel(project: Project, path: Path) -> str:
    """The project path a user means (`a/../b` is `b`); symlinks are not followed here."""
    try:
        return Path(os.path.normpath(path.absolute())).relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


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


def _render(findings: list[Finding], fmt: str, policy: tr.TrustPolicy) -> str:
    errors = [f for f in findings if f.severity == "error"]
    unauthenticated = [f for f in errors if f.detail.get("status") == "unauthenticated"]
    verdict = None
    if errors and len(unauthenticated) == len(errors):
        verdict = "SIGNER NOT AUTHENTICATED"
    counts: dict[str, Any] = {}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = {
        "checks": len(findings),
        **counts,
        "trust_roots": len(policy.roots),
        "expected_signers": len(policy.pins),
    }
    return render(findings, fmt, title="samdkit verify", summary=summary, verdict=verdict)
