"""The model folder's OpenSSF Model Signing signature: written by `samdkit sign` with the PDFs' key, read
by the `model-signing` package's own CLI (the interoperability proof), checked by `samdkit verify` against
the auditor's trust and model.lock's per-file SHA-256.

The release is tests/test_signing.py's small project with a real model.lock (lockfile schema); it is
signed once per module with --demo and each test works on a copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_signing import (
    MODEL_FILE,
    REPORT,
    make_project,
    pins,
    samdkit,
    signer_cert_pem,
    write_pdfs,
)

MODEL = "models/model"
SIG = "models/model.sig"
MODEL_SIGNING = Path(sys.executable).parent / "model_signing"

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdfsig") and shutil.which("pdftotext")), reason="poppler-utils needed"
)


def write_lock(root: Path) -> None:
    """A model.lock in the lockfile schema whose artifact files are the model folder's."""
    from samdkit.core import digests
    from samdkit.lock import schema as lockfile

    files = digests.tree_digests(root / MODEL)
    lock = {
        "schema_version": lockfile.SCHEMA_VERSION,
        "created_at": "2026-01-01T00:00:00Z",
        "samdkit_version": "test",
        "artifact": {
            "path": MODEL,
            "algorithm": "sha256",
            "root_digest": digests.root_digest((f.path, f.sha256) for f in files),
            "size": sum(f.size for f in files),
            "files": [f.as_dict() for f in files],
        },
        "determinism": {
            "golden": {},
            "runs": 2,
            "tolerance": 0,
            "output_sha256": "0" * 64,
            "output_shape": [0],
            "row_ids": [],
            "predictions": [],
        },
        "data": {},
        "threshold": None,
        "params": {},
        "git": {},
        "environment": {},
        "mlflow": {},
    }
    lockfile.write(root / "model.lock", lock)


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("locked") / "proj")
    write_lock(root)
    write_pdfs(root)  # the report prints model.lock's digest
    return root


@pytest.fixture(scope="module")
def signed_model(locked, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("signed-model") / "proj"
    shutil.copytree(locked, root)
    done = samdkit(root, "sign", "--demo", "--name", "CI Pipeline")
    assert done.returncode == 0, done.stderr
    assert f"wrote {SIG}: OpenSSF model signature of 2 model files" in done.stdout
    return root


@pytest.fixture
def release(signed_model, tmp_path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(signed_model, root)
    return root


def model_signing_verify(root: Path, cert: Path) -> subprocess.CompletedProcess:
    """The model-signing package's own CLI, certificate mode, the auditor's certificate as the chain."""
    return subprocess.run(
        [str(MODEL_SIGNING), "verify", "certificate", "--signature", SIG,
         "--certificate_chain", str(cert), MODEL],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def pdf_cert(root: Path, tmp_path: Path) -> Path:
    """The certificate that signed the report PDF, as an auditor extracts it."""
    path = tmp_path / "pdf-signer.pem"
    path.write_bytes(signer_cert_pem(root / REPORT))
    return path


def verify(root: Path) -> subprocess.CompletedProcess:
    return samdkit(root, "verify", *pins(root), "--format", "json")


def model_findings(done: subprocess.CompletedProcess) -> list[dict]:
    return [f for f in json.loads(done.stdout)["findings"] if f["check"] == "model-signature"]


def errors(done: subprocess.CompletedProcess) -> list[dict]:
    return [f for f in json.loads(done.stdout)["findings"] if f["severity"] == "error"]


def test_model_signing_cli_verifies_the_signature_with_the_pdf_signers_certificate(
    signed_model, tmp_path
):
    done = model_signing_verify(signed_model, pdf_cert(signed_model, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout
    # the bundle is certificate mode with the PDFs' certificate, and the manifest seals it
    from samdkit.release.model_signature import signing_certificate

    cert = signing_certificate((signed_model / SIG).read_bytes())
    from cryptography.hazmat.primitives import hashes

    manifest = json.loads((signed_model / "release/manifest.json").read_text())
    assert cert.fingerprint(hashes.SHA256()).hex() == manifest["signer_sha256"]
    assert (
        manifest["files"][SIG]["sha256"]
        == hashlib.sha256((signed_model / SIG).read_bytes()).hexdigest()
    )


def test_verify_passes_and_the_covered_digests_are_model_locks(signed_model):
    from samdkit.lock import schema as lockfile
    from samdkit.release.model_signature import resources

    covered = resources((signed_model / SIG).read_bytes())
    lock = lockfile.read(signed_model / "model.lock")
    assert covered == {f["path"]: f["sha256"] for f in lock["artifact"]["files"]}
    done = verify(signed_model)
    assert done.returncode == 0, done.stdout
    [finding] = model_findings(done)
    assert finding["severity"] == "pass"
    assert "2 files as signed, the same per-file SHA-256 as model.lock" in finding["message"]


def test_changed_model_file_fails_model_signing_and_verify(release, tmp_path):
    (release / MODEL_FILE).write_bytes(b"weights-v2")
    cli = model_signing_verify(release, pdf_cert(release, tmp_path))
    assert cli.returncode == 1 and "Verification failed" in cli.stderr
    done = verify(release)
    assert done.returncode == 1
    [finding] = model_findings(done)
    assert finding["message"].startswith("model.skops: modified after signing (sha256 ")
    assert "\n" not in finding["message"]


def test_file_added_to_the_model_folder_is_not_covered(release):
    (release / MODEL / "extra.bin").write_bytes(b"planted")
    done = verify(release)
    assert done.returncode == 1
    [finding] = model_findings(done)
    assert finding["message"] == "extra.bin: in the model folder, not covered by the signature"


def resign_model(root: Path, tmp_path: Path) -> Path:
    """Sign the model folder again with another key (model-signing's CLI): a swapped signature."""
    from cryptography.hazmat.primitives import serialization

    from samdkit.release.keys import make_self_signed

    key, cert = make_self_signed("Somebody Else")
    key_pem = tmp_path / "other-key.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem = tmp_path / "other-cert.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        [str(MODEL_SIGNING), "sign", "certificate", "--signature", SIG, "--private_key",
         str(key_pem), "--signing_certificate", str(cert_pem), "--certificate_chain",
         str(cert_pem), MODEL],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return cert_pem


def test_signature_swapped_for_another_keys_fails(release, tmp_path):
    other = resign_model(release, tmp_path)
    # model-signing alone accepts it with the other certificate: only samdkit's trust catches it
    assert model_signing_verify(release, other).returncode == 0
    assert model_signing_verify(release, pdf_cert(release, tmp_path)).returncode == 1
    done = verify(release)
    assert done.returncode == 1
    [finding] = model_findings(done)
    assert "Common Name: Somebody Else" in finding["message"]
    assert finding["message"].endswith("not by the manifest's signer")
    assert any(f["check"] == "manifest-file" and f["file"] == SIG for f in errors(done))


def test_lock_that_differs_from_the_signed_digests_fails(release):
    lock = json.loads((release / "model.lock").read_text())
    entry = next(f for f in lock["artifact"]["files"] if f["path"] == "model.skops")
    entry["sha256"] = "0" * 64
    (release / "model.lock").write_text(json.dumps(lock))
    done = verify(release)
    assert done.returncode == 1
    [finding] = model_findings(done)
    assert finding["message"].startswith("model.skops: the model signature says sha256 ")
    assert finding["message"].endswith("model.lock says 0000000000000000…")


def test_sign_refuses_a_model_that_is_not_the_locked_one_before_any_write(locked, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    (root / MODEL_FILE).write_bytes(b"retrained, not locked")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    done = samdkit(root, "sign", "--demo")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "models/model: the model folder is not the one model.lock locks" in done.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_rsa_key_signs_the_pdfs_and_says_why_the_model_has_no_signature(locked, tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA Signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_pem, cert_pem = tmp_path / "rsa.key", tmp_path / "rsa.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    env = {"SAMDKIT_SIGNING_KEY": str(key_pem), "SAMDKIT_SIGNING_CERT": str(cert_pem)}
    done = samdkit(root, "sign", env=env)
    assert done.returncode == 0, done.stderr
    assert "no OpenSSF model signature: model-signing 1.x signs with EC" in done.stdout
    assert "RSAPrivateKey" in done.stdout
    assert not (root / SIG).exists()
    checked = verify(root)
    assert checked.returncode == 0, checked.stdout
    [finding] = model_findings(checked)
    assert finding["severity"] == "warning"
    assert finding["message"] == "no OpenSSF model signature in this release"
    # a model signature planted afterwards is not part of the signed release
    resign_model(root, tmp_path)
    planted = verify(root)
    assert planted.returncode == 1
    [finding] = model_findings(planted)
    assert (finding["file"], finding["message"]) == (
        SIG,
        "present but not named in the signed manifest",
    )


def test_same_per_file_sha256_as_model_lock_and_a_different_root(signed_model):
    """What docs/model-lock.md states: same per-file digests, two root constructions."""
    import base64

    from samdkit.core import digests
    from samdkit.lock import schema as lockfile

    bundle = json.loads((signed_model / SIG).read_bytes())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    resources = statement["predicate"]["resources"]
    [subject] = statement["subject"]
    lock = lockfile.read(signed_model / "model.lock")["artifact"]
    assert subject["name"] == "model"
    # model-signing's root: SHA-256 over the raw per-file digests in the resources' (sorted) order
    raw = b"".join(bytes.fromhex(r["digest"]) for r in resources)
    assert [r["name"] for r in resources] == sorted(f["path"] for f in lock["files"])
    assert subject["digest"]["sha256"] == hashlib.sha256(raw).hexdigest()
    # model.lock's root: SHA-256 over "relpath\0sha256\n" lines
    pairs = [(r["name"], r["digest"]) for r in resources]
    assert lock["root_digest"] == digests.root_digest(pairs) != subject["digest"]["sha256"]


def test_a_run_killed_after_the_model_signature_rolls_it_back(locked, tmp_path, monkeypatch):
    from tests.test_sign_hardening import interrupt

    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    interrupt(root, monkeypatch, "manifest.json", "--demo")
    assert (root / SIG).is_file() and not (root / "release/manifest.json").exists()
    pending = json.loads((root / "release/.sign-pending.json").read_text())
    assert SIG in [f["path"] for f in pending["files"]]
    back = samdkit(root, "sign", "--rollback")
    assert back.returncode == 0, back.stderr
    assert SIG in back.stdout
    assert not (root / SIG).exists()


@pytest.mark.slow
def test_dvc_cache_links_are_signed_as_their_files_and_a_linked_folder_is_refused(locked, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    cache = root / ".dvc/cache/files/md5/ab"
    cache.mkdir(parents=True)
    (root / MODEL_FILE).rename(cache / "cdef0123")
    (root / MODEL_FILE).symlink_to(Path("../../.dvc/cache/files/md5/ab/cdef0123"))
    done = samdkit(root, "sign", "--demo")
    assert done.returncode == 0, done.stderr
    assert verify(root).returncode == 0
    cli = subprocess.run(
        [str(MODEL_SIGNING), "verify", "certificate", "--signature", SIG, "--allow_symlinks",
         "--certificate_chain", str(pdf_cert(root, tmp_path)), MODEL],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    # a folder link would be left out by model-signing: no model signature, and sign says why
    again = tmp_path / "again"
    shutil.copytree(locked, again)
    (again / ".dvc/cache/dir0").mkdir(parents=True)
    (again / MODEL / "extra").symlink_to(Path("../../.dvc/cache/dir0"))
    done = samdkit(again, "sign", "--demo")
    assert done.returncode == 0, done.stderr
    assert (
        "no OpenSSF model signature: extra in the model folder is a symbolic link to a folder"
        in (done.stdout)
    )
    assert not (again / SIG).exists()


def ca_and_leaf(folder: Path) -> tuple[Path, Path, Path, str]:
    """An organisation root (EC) and a signer certificate it issued: root.pem, key, cert, fingerprint."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def cert(name: str, key, issuer: str, issuer_key, ca: bool):
        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "encipher_only", "decipher_only"), False,
        )  # fmt: skip
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, **usage),
                critical=True,
            )
            .sign(issuer_key, hashes.SHA256())
        )  # fmt: skip

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("Hospital Root CA", root_key, "Hospital Root CA", root_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("Release Signer", key, "Hospital Root CA", root_key, ca=False)
    paths = folder / "root.pem", folder / "signer.key", folder / "signer.pem"
    paths[0].write_bytes(root.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return (*paths, leaf.fingerprint(hashes.SHA256()).hex())


@pytest.mark.slow
def test_an_organisation_issued_key_verifies_by_trust_root_and_by_pin(locked, tmp_path):
    root_pem, key, cert, fingerprint = ca_and_leaf(tmp_path)
    root = tmp_path / "proj"
    shutil.copytree(locked, root)
    env = {"SAMDKIT_SIGNING_KEY": str(key), "SAMDKIT_SIGNING_CERT": str(cert)}
    done = samdkit(root, "sign", env=env)
    assert done.returncode == 0, done.stderr
    assert model_signing_verify(root, root_pem).returncode == 0  # model-signing, to the root
    for trust in (["--trust", str(root_pem)], ["--expect-signer", fingerprint]):
        checked = samdkit(root, "verify", *trust, "--format", "json")
        [finding] = model_findings(checked)
        assert finding["severity"] == "pass", (trust, finding)
    # another organisation's root: the chain does not end there
    (tmp_path / "other").mkdir()
    other, *_ = ca_and_leaf(tmp_path / "other")
    checked = samdkit(root, "verify", "--trust", str(other), "--format", "json")
    [finding] = model_findings(checked)
    assert finding["message"].startswith("the signer's certificate does not chain to the trust")


@pytest.mark.slow
def test_the_default_projects_mlflow_model_is_signed_and_verified_by_both_tools(
    project_copy, tmp_path
):
    """The template's real model folder (MLflow + skops, DVC outputs) and its real model.lock."""
    done = samdkit(project_copy, "sign", "--demo", "--format", "json")
    assert done.returncode == 0, done.stderr
    signed = json.loads(done.stdout)["detail"]  # the gate-result envelope
    assert signed["model_signature"]["path"] == SIG
    checked = samdkit(
        project_copy, "verify", "--expect-signer", signed["certificate_sha256"], "--format", "json"
    )
    assert checked.returncode == 0, checked.stdout
    [finding] = model_findings(checked)
    assert "the same per-file SHA-256 as model.lock" in finding["message"]
    cert = tmp_path / "signer.pem"
    cert.write_bytes(signer_cert_pem(project_copy / REPORT))
    cli = subprocess.run(
        [str(MODEL_SIGNING), "verify", "certificate", "--signature", SIG, "--allow_symlinks",
         "--certificate_chain", str(cert), MODEL],
        cwd=project_copy, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
