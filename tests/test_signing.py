"""`samdkit sign` and `samdkit verify` end to end: real pyHanko, real poppler (pdfsig, pdftotext), real openssl.

A small release (model files, locks, JSON evidence, two weasyprint PDFs printing digests) is built once per
module and signed once with --demo; each test works on a copy. The CLI runs in a subprocess so exit codes
and the one-line promise are what a user sees.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPORT = "reports/clinical-validation-report.pdf"
CARD = "reports/model-card.pdf"
MODEL_FILE = "models/model/model.skops"
SECRET = "s3cret-Pa55-do-not-print"

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("pdftotext")), reason="poppler-utils needed"
)


def samdkit(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SAMDKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "samdkit", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pdfsig(path: Path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout


def write_pdfs(root: Path) -> None:
    """Report (digests printed and in an evidence-digests.json attachment) and model card (printed only)."""
    from weasyprint import HTML, Attachment

    from samdkit.release import report_digests

    files = ["models/model/MLmodel", MODEL_FILE, "model.lock"]
    digests = {f: sha256(root / f) for f in files}
    rows = "".join(f"<tr><td>{f}</td><td>{d}</td></tr>" for f, d in digests.items())
    html = f"<h1>Clinical validation report</h1><table>{rows}</table><p>Approvals below.</p>"
    attachment = Attachment(
        string=report_digests.dumps(digests).decode(),
        name=report_digests.ATTACHMENT,
        base_url=str(root),
    )
    HTML(string=html).write_pdf(root / REPORT, pdf_variant="pdf/a-3b", attachments=[attachment])
    card = f"<h1>Model card</h1><p>model sha256</p><p>{digests[MODEL_FILE]}</p>"
    HTML(string=card).write_pdf(root / CARD, pdf_variant="pdf/a-3b")


def make_project(root: Path, model_bytes: bytes = b"weights-v1") -> Path:
    (root / "models/model").mkdir(parents=True)
    (root / "reports").mkdir()
    (root / "models/model/MLmodel").write_text("flavors: {sklearn: {}}\n")
    (root / MODEL_FILE).write_bytes(model_bytes)
    (root / "model.lock").write_text(
        json.dumps({"artifact_sha256": hashlib.sha256(model_bytes).hexdigest()})
    )
    (root / "dvc.lock").write_text("schema: '2.0'\n")
    for name in ("evaluation.json", "data-check.json", "sbom.cdx.json"):
        (root / "reports" / name).write_text("{}\n")
    write_pdfs(root)
    return root


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("unsigned") / "proj")


@pytest.fixture(scope="module")
def signed(unsigned, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("signed") / "proj"
    shutil.copytree(unsigned, root)
    done = samdkit(root, "sign", "--demo", "--name", "CI Pipeline")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def release(signed, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(signed, root)
    return root


def signer_cert_pem(pdf: Path, index: int = 0) -> bytes:
    from asn1crypto import pem
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf.read_bytes()))
    cert = reader.embedded_signatures[index].signer_cert
    return pem.armor("CERTIFICATE", cert.dump())


def pins(root: Path) -> list[str]:
    """--expect-signer arguments for every certificate that signed the release PDFs (the auditor's pins)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    found: set[str] = set()
    for pdf in (root / REPORT, root / CARD):
        for sig in PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures:
            found.add(hashlib.sha256(sig.signer_cert.dump()).hexdigest())
    return [arg for fp in sorted(found) for arg in ("--expect-signer", fp)]


def other_cert_pem(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives.serialization import Encoding

    from samdkit.release.keys import make_self_signed

    _, cert = make_self_signed("Somebody Else")
    path = tmp_path / "other.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def p12_file(tmp_path: Path, password: bytes, **cert_args) -> Path:
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from samdkit.release.keys import make_self_signed

    key, cert = make_self_signed("Quality Manager", **cert_args)
    blob = pkcs12.serialize_key_and_certificates(
        b"qm", key, cert, None, BestAvailableEncryption(password)
    )
    path = tmp_path / "signer.p12"
    path.write_bytes(blob)
    return path


# ---------------------------------------------------------------- sign


def test_demo_signature_validates_in_pyhanko_pdfsig_and_samdkit(signed):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    for pdf in (signed / REPORT, signed / CARD):
        sig = PdfFileReader(io.BytesIO(pdf.read_bytes())).embedded_signatures[0]
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=[]))
        assert status.intact and status.valid
        assert str(sig.sig_object["/Name"]) == "CI Pipeline (DEMO)"
        assert str(sig.sig_object["/Reason"]) == "Authorship"
        assert "DEMO" in sig.signer_cert.subject.human_friendly
        out = pdfsig(pdf)
        assert "Signature is Valid" in out and "Total document signed" in out, out
        text = pdftotext(pdf)
        assert "Electronically signed by: CI Pipeline (DEMO)" in text
        assert "Meaning of signature: Authorship" in text
        assert "Date and time (UTC): " in text
        assert "DEMO certificate - not a real signature" in text
    done = samdkit(signed, "verify", *pins(signed))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "samdkit verify: PASS" in done.stdout


def test_manifest_lists_every_release_file_and_openssl_verifies_its_signature(signed):
    manifest = json.loads((signed / "release/manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(
        [
            "dvc.lock",
            "model.lock",
            "models/model/MLmodel",
            MODEL_FILE,
            "models/model.sig",  # the OpenSSF model signature (tests/test_model_signing.py)
            CARD,
            REPORT,
            "reports/data-check.json",
            "reports/evaluation.json",
            "reports/sbom.cdx.json",
        ]
    )
    assert manifest["files"][MODEL_FILE]["sha256"] == sha256(signed / MODEL_FILE)
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-noverify", "-out", os.devnull,
         "-in", "release/manifest.json.p7s", "-content", "release/manifest.json"],
        cwd=signed, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_added_signature_keeps_first_revision_and_both_valid(release):
    first = (release / REPORT).read_bytes()
    done = samdkit(
        release, "sign", "--add", "--demo", "--name", "Dr Jane Roe", "--meaning", "approval"
    )
    assert done.returncode == 0, done.stderr
    second = (release / REPORT).read_bytes()
    assert len(second) > len(first) and second[: len(first)] == first
    out = pdfsig(release / REPORT)
    assert out.count("Signature is Valid") == 2, out
    assert "Signature #2" in out
    text = pdftotext(release / REPORT)
    assert "Dr Jane Roe (DEMO)" in text and "Meaning of signature: Approval" in text
    verify = samdkit(release, "verify", "--format", "json", *pins(release))
    assert verify.returncode == 0, verify.stdout
    result = json.loads(verify.stdout)
    reasons = [f["detail"].get("reason") for f in result["findings"] if f["file"] == REPORT]
    assert "Authorship" in reasons and "Approval" in reasons


def test_one_changed_byte_is_modified_for_samdkit_and_pdfsig(release):
    pdf = release / REPORT
    data = bytearray(pdf.read_bytes())
    at = (
        data.index(b"stream", len(data) // 4) + 40
    )  # inside a content stream of the signed revision
    data[at] ^= 0x01
    pdf.write_bytes(bytes(data))
    assert "Signature is Valid" not in pdfsig(pdf)
    done = samdkit(release, "verify")
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    assert any(
        REPORT in line and "[pdf-signature]" in line and "modified" in line for line in errors
    )
    assert any(REPORT in line and "[manifest-file]" in line for line in errors)
    assert not any("untrusted" in line for line in errors)


def test_untrusted_signer_is_not_reported_as_modified(release, tmp_path):
    done = samdkit(release, "verify", "--trust", str(other_cert_pem(tmp_path)), "--format", "json")
    assert done.returncode == 1
    statuses = {f["detail"].get("status") for f in json.loads(done.stdout)["findings"]}
    assert "unauthenticated" in statuses and "modified" not in statuses
    # trusting the signer's own certificate turns the same release into a pass
    trusted = tmp_path / "ci.pem"
    trusted.write_bytes(signer_cert_pem(release / REPORT))
    ok = samdkit(release, "verify", "--trust", str(trusted))
    assert ok.returncode == 0, ok.stdout
    assert "chains to a trust root" in ok.stdout


def test_file_replaced_after_manifest_is_named(release):
    (release / MODEL_FILE).write_bytes(b"weights-v2")
    done = samdkit(release, "verify")
    assert done.returncode == 1
    assert any(
        MODEL_FILE in line and "[manifest-file]" in line and "modified" in line
        for line in done.stdout.splitlines()
    ), done.stdout
    # the report's printed digest no longer matches the file either
    assert f"for {MODEL_FILE}" in done.stdout


def test_hand_edited_manifest_fails_its_signature(release):
    path = release / "release/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["dvc.lock"]["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    done = samdkit(release, "verify")
    assert done.returncode == 1
    assert any(
        "[manifest-signature]" in line and "modified" in line and line.startswith("ERROR")
        for line in done.stdout.splitlines()
    ), done.stdout


def test_report_whose_printed_digest_no_longer_matches_the_model(unsigned, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(unsigned, root)
    new = b"weights-retrained"  # model retrained and re-locked, report not re-rendered
    (root / MODEL_FILE).write_bytes(new)
    (root / "model.lock").write_text(
        json.dumps({"artifact_sha256": hashlib.sha256(new).hexdigest()})
    )
    assert samdkit(root, "sign", "--demo").returncode == 0
    done = samdkit(root, "verify")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    # the report's attachment names the file; the model card's printed text matches nothing
    assert any(REPORT in ln and "[report-digests]" in ln and MODEL_FILE in ln for ln in lines), (
        lines
    )
    assert any(
        CARD in ln and "[report-digests]" in ln and "matches no release file" in ln for ln in lines
    )
    assert not any("[manifest-file]" in ln and ln.startswith("ERROR") for ln in lines)


# ---------------------------------------------------------------- keys and bad input


def test_real_pkcs12_signs_and_wrong_password_is_one_line(unsigned, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(unsigned, root)
    p12 = p12_file(tmp_path, SECRET.encode())
    wrong = samdkit(
        root,
        "sign",
        env={"SAMDKIT_SIGNING_P12": str(p12), "SAMDKIT_SIGNING_PASSWORD": "nope-" + SECRET},
    )
    assert wrong.returncode == 2
    assert wrong.stdout == "" and len(wrong.stderr.strip().splitlines()) == 1
    assert "wrong password" in wrong.stderr
    assert SECRET not in wrong.stderr + wrong.stdout
    assert not (root / "release").exists() and pdfsig(root / REPORT).count("Signature #") == 0
    env = {
        "SAMDKIT_SIGNING_P12_BASE64": base64.b64encode(p12.read_bytes()).decode(),
        "SAMDKIT_SIGNING_PASSWORD": SECRET,
        "SAMDKIT_DEBUG": "1",
    }
    ok = samdkit(root, "sign", "--meaning", "responsibility", env=env)
    assert ok.returncode == 0, ok.stderr
    assert SECRET not in ok.stdout + ok.stderr
    assert env["SAMDKIT_SIGNING_P12_BASE64"][:40] not in ok.stdout + ok.stderr
    assert "Quality Manager, Responsibility" in ok.stdout
    assert "DEMO" not in pdftotext(root / REPORT)
    assert samdkit(root, "verify", *pins(root)).returncode == 0


def test_missing_key_expired_certificate_and_non_pdf_are_one_line(unsigned, tmp_path):
    import datetime as dt

    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
    )

    from samdkit.release.keys import make_self_signed

    root = tmp_path / "proj"
    shutil.copytree(unsigned, root)
    missing = samdkit(root, "sign")
    assert missing.returncode == 2 and "no signing key" in missing.stderr
    key, cert = make_self_signed("Old Signer", not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(SECRET.encode())
        )
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    env = {
        "SAMDKIT_SIGNING_KEY": str(tmp_path / "key.pem"),
        "SAMDKIT_SIGNING_CERT": str(tmp_path / "cert.pem"),
        "SAMDKIT_SIGNING_PASSWORD": SECRET,
    }
    expired = samdkit(root, "sign", env=env)
    assert expired.returncode == 2 and "expired" in expired.stderr
    assert len(expired.stderr.strip().splitlines()) == 1 and SECRET not in expired.stderr
    notpdf = root / "notes.pdf"
    notpdf.write_text("just text")
    bad = samdkit(root, "sign", "--demo", "notes.pdf")
    assert bad.returncode == 2 and "not a PDF" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    verify = samdkit(root, "verify", "notes.pdf")  # no signed release here: one line, bad input
    assert verify.returncode == 2 and "manifest not found" in verify.stderr
    assert len(verify.stderr.strip().splitlines()) == 1


def test_signing_twice_without_add_is_refused(release):
    again = samdkit(release, "sign", "--demo")
    assert again.returncode == 2 and "already signed" in again.stderr


def test_demo_key_material_never_outlives_the_command(unsigned, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(unsigned, root)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = samdkit(root, "sign", "--demo", env={"TMPDIR": str(tmp)})
    assert done.returncode == 0
    assert list(tmp.iterdir()) == []
    assert "PRIVATE KEY" not in done.stdout + done.stderr


def test_secure_tempdir_modes_and_cleanup_on_error():
    from samdkit.release.keys import secure_tempdir, write_secret

    seen = {}
    with pytest.raises(RuntimeError), secure_tempdir() as folder:
        secret = write_secret(folder / "k", b"x")
        seen["dir"], seen["file"] = folder.stat().st_mode & 0o777, secret.stat().st_mode & 0o777
        seen["path"] = folder
        raise RuntimeError("boom")
    assert seen["dir"] == 0o700 and seen["file"] == 0o600
    assert not seen["path"].exists()
