"""`samdkit verify` as an attacker meets it: appended bytes, metadata edits, re-signing, look-alike signers,
a manifest signed by someone else, stamps placed elsewhere, retargeted symlinks. Real pyHanko and poppler.

One genuine release is signed once per module with a real PKCS#12 key (its fingerprint is the auditor's
pin); each test tampers with a copy and runs the CLI in a subprocess, as an auditor would.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_signing import CARD, MODEL_FILE, REPORT, make_project, p12_file, samdkit, write_pdfs

PASSWORD = b"pin-test-password"
FREE = (36, 300, 296, 360)  # empty on the test PDFs' last page, clear of the first stamp

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("pdftotext")), reason="poppler-utils needed"
)


def key_env(p12: Path) -> dict[str, str]:
    return {
        "SAMDKIT_SIGNING_P12_BASE64": base64.b64encode(p12.read_bytes()).decode(),
        "SAMDKIT_SIGNING_PASSWORD": PASSWORD.decode(),
    }


def fingerprint_of(p12: Path) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    _, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), PASSWORD)
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@pytest.fixture(scope="module")
def genuine(tmp_path_factory) -> tuple[Path, str, Path]:
    """(signed project, the signer's fingerprint, the signer's PKCS#12)."""
    base = tmp_path_factory.mktemp("genuine")
    root = make_project(base / "proj")
    p12 = p12_file(base, PASSWORD)
    done = samdkit(root, "sign", env=key_env(p12))
    assert done.returncode == 0, done.stderr
    return root, fingerprint_of(p12), p12


@pytest.fixture
def release(genuine, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(genuine[0], root, symlinks=True)
    return root


def verify(root: Path, *args: str, env: dict[str, str] | None = None):
    return samdkit(root, "verify", *args, env=env)


def pinned(root: Path, fingerprint: str, *args: str):
    return verify(root, "--expect-signer", fingerprint, *args)


def pdfsig(path: Path) -> str:
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout


def incremental(path: Path, edit) -> None:
    """Append one incremental update made by pyHanko's writer after `edit(writer)`."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()), strict=False)
    edit(writer)
    out = io.BytesIO()
    writer.write(out)
    path.write_bytes(out.getvalue())


def test_genuine_release_passes_only_with_the_auditors_pin(genuine, release):
    fingerprint = genuine[1]
    done = pinned(release, fingerprint, "--format", "json")
    assert done.returncode == 0, done.stdout
    result = json.loads(done.stdout)
    assert result["verdict"] == "PASS"
    signers = [f["detail"]["signer"] for f in result["findings"] if "signer" in f["detail"]]
    assert signers and all(s["sha256"] == fingerprint for s in signers)
    assert all("Quality Manager" in s["subject"] for s in signers)
    for pdf in (REPORT, CARD):
        assert "Signature is Valid" in pdfsig(release / pdf)
        assert "Total document signed" in pdfsig(release / pdf)


def test_without_any_trust_source_the_verdict_is_never_pass(genuine, release):
    done = verify(release)
    assert done.returncode == 1
    assert "samdkit verify: SIGNER NOT AUTHENTICATED" in done.stdout
    assert genuine[1] in done.stdout  # every signer's fingerprint is printed
    assert "PASS (" not in done.stdout.splitlines()[-1]


def test_info_dictionary_edit_after_signing_fails_for_samdkit_and_pdfsig(genuine, release):
    from pyhanko.pdf_utils import generic

    def retitle(writer):
        info = writer.trailer["/Info"].get_object()
        info["/Title"] = generic.TextStringObject("Approved without findings")
        writer.update_container(info)

    incremental(release / REPORT, retitle)
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "document information dictionary (/Info)" in done.stdout
    assert "signatures only" not in done.stdout
    assert "Not total document signed" in pdfsig(release / REPORT)
    # the manifest's prefix rule applies the same policy
    assert "manifest-file] modified" in done.stdout


def test_bytes_appended_after_the_last_eof_fail(genuine, release):
    with open(release / CARD, "ab") as handle:
        handle.write(b"\n%% forged approval note\n")
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "after the last %%EOF belong to no revision" in done.stdout
    assert "Not total document signed" in pdfsig(release / CARD)


def test_empty_incremental_update_is_not_a_signature(genuine, release):
    incremental(release / CARD, lambda writer: writer.update_root())
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "adds no signature" in done.stdout


def test_resigned_release_with_a_look_alike_signer_is_refused(genuine, tmp_path):
    """The attacker edits the evaluation, re-renders, and signs with a self-made 'Quality Manager'."""
    root = tmp_path / "attack"
    shutil.copytree(genuine[0], root)
    shutil.rmtree(root / "release")
    (root / "reports/evaluation.json").write_text('{"sensitivity": 0.99}\n')
    write_pdfs(root)
    forged = p12_file(tmp_path, PASSWORD)  # same subject, another key
    assert fingerprint_of(forged) != genuine[1]
    assert samdkit(root, "sign", env=key_env(forged)).returncode == 0
    done = pinned(root, genuine[1])
    assert done.returncode == 1
    assert "fingerprint is not one of the expected signers" in done.stdout
    assert fingerprint_of(forged) in done.stdout
    assert "PASS (" not in done.stdout.splitlines()[-1]


def test_trust_declared_inside_the_audited_project_is_ignored(genuine, release):
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    _, cert, _ = pkcs12.load_key_and_certificates(genuine[2].read_bytes(), PASSWORD)
    (release / "signer.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    (release / "pyproject.toml").write_text(
        f'[tool.samdkit.verify]\ntrust = ["signer.pem"]\nexpect_signer = ["{genuine[1]}"]\n'
    )
    done = verify(release)
    assert done.returncode == 1
    assert "SIGNER NOT AUTHENTICATED" in done.stdout
    assert "they are ignored" in done.stdout


def test_trust_root_from_the_auditor_authenticates_and_a_wrong_root_does_not(
    genuine, release, tmp_path
):
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    from samdkit.release.keys import make_self_signed

    _, cert, _ = pkcs12.load_key_and_certificates(genuine[2].read_bytes(), PASSWORD)
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(cert.public_bytes(Encoding.PEM))
    assert verify(release, "--trust", str(root_pem)).returncode == 0
    other = tmp_path / "other.pem"
    other.write_bytes(make_self_signed("Quality Manager")[1].public_bytes(Encoding.PEM))
    done = verify(release, env={"SAMDKIT_TRUST": str(other)})
    assert done.returncode == 1
    assert "does not chain to the trust roots" in done.stdout


def test_manifest_signed_by_a_key_that_signed_no_pdf_fails(genuine, release, tmp_path):
    from samdkit.release import manifest as mf
    from samdkit.release.keys import material_from_pkcs12

    other = p12_file(tmp_path, PASSWORD)
    material = material_from_pkcs12(other.read_bytes(), PASSWORD, "test")
    data = (release / "release/manifest.json").read_bytes()
    (release / "release/manifest.json.p7s").write_bytes(mf.sign_detached(data, material))
    done = verify(release, "--expect-signer", genuine[1], "--expect-signer", fingerprint_of(other))
    assert done.returncode == 1
    assert "signed none of the PDFs" in done.stdout or "other than the one" in done.stdout


def test_a_pdf_the_manifest_does_not_list_fails(genuine, release):
    extra = release / "reports/extra.pdf"
    shutil.copy(release / CARD, extra)
    done = pinned(release, genuine[1], "reports/extra.pdf")
    assert done.returncode == 1
    assert "not named in the release manifest" in done.stdout


def _sign_elsewhere(path: Path, p12: Path, *, page: int, box, name: str) -> None:
    """A later signature made with pyHanko directly, its stamp wherever the caller says."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from samdkit.release.keys import material_from_pkcs12

    material = material_from_pkcs12(p12.read_bytes(), PASSWORD, "test")
    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name="late", name=name, reason="Approval", subfilter=fields.SigSeedSubFilter.PADES
    )
    spec = fields.SigFieldSpec(sig_field_name="late", on_page=page, box=box)
    out = signers.PdfSigner(meta, material.pyhanko_signer(), new_field_spec=spec).sign_pdf(writer)
    path.write_bytes(out.getvalue())


def test_later_stamp_on_an_earlier_page_fails_and_a_typed_name_is_labelled(genuine, tmp_path):
    from weasyprint import HTML

    root = make_project(tmp_path / "proj")
    html = "<h1>Report</h1><p style='page-break-after: always'>page one</p><p>page two</p>"
    HTML(string=html).write_pdf(root / REPORT, pdf_variant="pdf/a-3b")
    assert samdkit(root, "sign", env=key_env(genuine[2])).returncode == 0
    _sign_elsewhere(root / REPORT, genuine[2], page=0, box=FREE, name="Dr Nobody")
    done = pinned(root, genuine[1], "--format", "json")
    assert done.returncode == 1
    assert "on page 1, not on the last page" in done.stdout
    typed = [f["detail"].get("typed_name") for f in json.loads(done.stdout)["findings"]]
    assert "Dr Nobody" in typed  # the certificate says Quality Manager


def test_later_stamp_over_the_documents_text_fails(genuine, release):
    # over the report's own heading, on its last (only) page
    box = (40, 740, 400, 800)
    _sign_elsewhere(release / REPORT, genuine[2], page=-1, box=box, name="Quality Manager")
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "covers the document's own text" in done.stdout


def test_later_signature_in_a_free_place_on_the_last_page_passes(genuine, release):
    _sign_elsewhere(release / REPORT, genuine[2], page=-1, box=FREE, name="Quality Manager")
    done = pinned(release, genuine[1])
    assert done.returncode == 0, done.stdout


def test_tiny_stamp_fails(genuine, release):
    _sign_elsewhere(release / REPORT, genuine[2], page=-1, box=(300, 300, 380, 325), name="QM")
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "too small to read" in done.stdout


def test_manifested_path_leaving_the_project_fails(genuine, release, tmp_path):
    outside = tmp_path / "elsewhere.skops"
    outside.write_bytes((release / MODEL_FILE).read_bytes())
    (release / MODEL_FILE).unlink()
    (release / MODEL_FILE).symlink_to(outside)
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "outside the project" in done.stdout


def test_bad_fingerprint_and_missing_trust_file_are_one_line(genuine, release):
    for args in (("--expect-signer", "abc"), ("--trust", "nope.pem")):
        done = verify(release, *args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_symlinked_release_file_is_recorded_by_project_path_and_retargeting_fails(
    genuine, tmp_path
):
    """DVC links outputs into .dvc/cache: the manifest names the project path and the link's target."""
    root = make_project(tmp_path / "proj")
    cache = root / ".dvc/cache/files/md5/ab"
    cache.mkdir(parents=True)
    blob = cache / "cdef0123"
    blob.write_bytes((root / MODEL_FILE).read_bytes())
    (root / MODEL_FILE).unlink()
    (root / MODEL_FILE).symlink_to(blob)
    assert samdkit(root, "sign", env=key_env(genuine[2])).returncode == 0
    entry = json.loads((root / "release/manifest.json").read_text())["files"][MODEL_FILE]
    assert entry["link_target"] == ".dvc/cache/files/md5/ab/cdef0123"
    assert pinned(root, genuine[1]).returncode == 0
    twin = cache / "twin"  # same bytes, another target: the link no longer says what was signed
    twin.write_bytes(blob.read_bytes())
    (root / MODEL_FILE).unlink()
    (root / MODEL_FILE).symlink_to(twin)
    done = pinned(root, genuine[1])
    assert done.returncode == 1
    assert "symlink retargeted" in done.stdout
    (root / MODEL_FILE).unlink()
    (root / MODEL_FILE).symlink_to(blob)
    blob.write_bytes(b"weights-swapped")
    done = pinned(root, genuine[1])
    assert done.returncode == 1
    assert f"{MODEL_FILE}  [manifest-file] modified" in done.stdout


def _rsa_tsa():
    """A local RFC 3161 authority for pyHanko's own in-process timestamper (RSA, timeStamping EKU)."""
    import datetime as dt

    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    der_key = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return DummyTimeStamper(
        ax.Certificate.load(cert.public_bytes(Encoding.DER)), akeys.PrivateKeyInfo.load(der_key)
    )


def test_validation_data_and_a_document_timestamp_after_signing_are_allowed(genuine, release):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    pdf = release / CARD
    buffer = io.BytesIO(pdf.read_bytes())
    sig = PdfFileReader(buffer).embedded_signatures[0]
    DocumentSecurityStore.add_dss(buffer, sig.pkcs7_content, certs=[sig.signer_cert])
    pdf.write_bytes(buffer.getvalue())
    done = pinned(release, genuine[1])
    assert done.returncode == 0, done.stdout
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()))
    pdf.write_bytes(PdfTimeStamper(_rsa_tsa()).timestamp_pdf(writer, "sha256").getvalue())
    done = pinned(release, genuine[1])
    assert done.returncode == 0, done.stdout
    assert "document timestamp 2" in done.stdout and "Test TSA" in done.stdout
    # the same kind of update, with a changed title, is an edit
    from pyhanko.pdf_utils import generic

    def retitle(writer):
        info = writer.trailer["/Info"].get_object()
        info["/Title"] = generic.TextStringObject("Edited")
        writer.update_container(info)

    incremental(pdf, retitle)
    assert pinned(release, genuine[1]).returncode == 1


def test_manifest_naming_no_pdf_fails(genuine, release):
    from samdkit.release import manifest as mf
    from samdkit.release.keys import material_from_pkcs12

    path = release / "release/manifest.json"
    content = json.loads(path.read_text())
    content["files"] = {k: v for k, v in content["files"].items() if not k.endswith(".pdf")}
    data = mf.dumps(content)
    path.write_bytes(data)
    material = material_from_pkcs12(genuine[2].read_bytes(), PASSWORD, "test")
    (release / "release/manifest.json.p7s").write_bytes(mf.sign_detached(data, material))
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert "names no signed PDF" in done.stdout


def _raw_revision(pdf: bytes, objects: list[tuple[int, int, bytes]], frees=()) -> bytes:
    """A hand-written incremental update (classic xref table), as an attacker would write one."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    trailer = PdfFileReader(io.BytesIO(pdf), strict=False).trailer_view
    root, info = trailer.raw_get("/Root"), trailer.raw_get("/Info")
    prev = int(pdf[pdf.rfind(b"startxref") + 9 :].split()[0])
    body, offsets = b"\n", {}
    for idnum, gen, data in objects:
        offsets[idnum] = (len(pdf) + len(body), gen)
        body += b"%d %d obj\n" % (idnum, gen) + data + b"\nendobj\n"
    table = {0: b"0000000000 65535 f \n"}
    table.update({i: b"%010d %05d n \n" % (at, gen) for i, (at, gen) in offsets.items()})
    table.update({i: b"%010d %05d f \n" % (0, gen) for i, gen in frees})
    xref = b"xref\n" + b"".join(b"%d 1\n" % i + table[i] for i in sorted(table))
    size = max([int(trailer["/Size"])] + [i + 1 for i in table])
    tail = b"trailer\n<< /Size %d /Root %d %d R /Info %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, root.idnum, root.generation, info.idnum, info.generation, prev,
        len(pdf) + len(body),
    )  # fmt: skip
    return pdf + body + xref + tail


def _catalog_with_dss(pdf: bytes, dss: bytes) -> tuple[int, int, bytes]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    ref = reader.trailer_view.raw_get("/Root")
    out = io.BytesIO()
    reader.root.write_to_stream(out)
    return ref.idnum, ref.generation, out.getvalue().rstrip()[:-2] + b" /DSS << " + dss + b" >> >>"


def test_an_old_object_redefined_under_a_new_generation_is_an_edit(genuine, release):
    """Page content replaced by 'N 1 obj' and listed in /DSS, so it looks like validation data."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    pdf = release / REPORT
    data = pdf.read_bytes()
    contents = PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Kids"][0].raw_get("/Contents")
    forged = b"q BT /F1 30 Tf 72 700 Td (FORGED) Tj ET Q"
    stream = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(forged), forged)
    gen = contents.generation + 1
    catalog = _catalog_with_dss(data, b"/Certs [%d %d R]" % (contents.idnum, gen))
    pdf.write_bytes(_raw_revision(data, [catalog, (contents.idnum, gen, stream)]))
    done = pinned(release, genuine[1])
    assert done.returncode == 1
    assert f"redefines object {contents.idnum} under generation {gen}" in done.stdout
    assert "Not total document signed" in pdfsig(pdf)


def test_freeing_an_object_after_signing_is_an_edit_and_a_plain_dss_update_passes(genuine, release):
    from pyhanko.pdf_utils.reader import PdfFileReader

    pdf = release / REPORT
    data = pdf.read_bytes()
    catalog = _catalog_with_dss(data, b"/Certs []")
    pdf.write_bytes(_raw_revision(data, [catalog]))
    assert pinned(release, genuine[1]).returncode == 0  # validation data only
    info = PdfFileReader(io.BytesIO(data)).trailer_view.raw_get("/Info")
    pdf.write_bytes(_raw_revision(data, [catalog], frees=[(info.idnum, info.generation + 1)]))
    done = pinned(release, genuine[1])
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_openssl_fingerprint_line_and_a_dotted_pdf_path_are_accepted(genuine, release):
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    _, cert, _ = pkcs12.load_key_and_certificates(genuine[2].read_bytes(), PASSWORD)
    pem = release.parent / "signer.pem"
    pem.write_bytes(cert.public_bytes(Encoding.PEM))
    line = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(pem)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert line.lower().startswith("sha256 fingerprint=")
    done = verify(release, "--expect-signer", line, "./reports/../" + CARD)
    assert done.returncode == 0, done.stdout
