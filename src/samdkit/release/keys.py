"""Signing key material: loaded from environment variables (CI secrets) or generated for the demo.

Secrets never come from the command line and are never printed. Key material touches the disk only
inside `secure_tempdir()` (a 0700 folder with 0600 files, removed on exit whatever happens). A PKCS#12
given as base64 (`SAMDKIT_SIGNING_P12_BASE64`, the usual form of a CI secret) is decoded in memory.

Environment variables (first match wins):

- `SAMDKIT_SIGNING_P12_BASE64`: a PKCS#12 file, base64-encoded (GitHub/GitLab secret);
- `SAMDKIT_SIGNING_P12`: path to a PKCS#12 file (.p12/.pfx);
- `SAMDKIT_SIGNING_KEY` + `SAMDKIT_SIGNING_CERT`: paths to a PEM/DER private key and certificate;
- `SAMDKIT_SIGNING_PASSWORD`: password of the PKCS#12 file or the private key (optional);
- `SAMDKIT_SIGNING_CHAIN`: optional path to PEM intermediate certificates to embed;
- `SAMDKIT_PKCS11_MODULE`: reserved for hardware tokens (not yet available, see docs/signing.md).

cryptography, asn1crypto and pyhanko are imported inside functions (docs/conventions.md).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError

ENV_P12_BASE64 = "SAMDKIT_SIGNING_P12_BASE64"
ENV_P12 = "SAMDKIT_SIGNING_P12"
ENV_KEY = "SAMDKIT_SIGNING_KEY"
ENV_CERT = "SAMDKIT_SIGNING_CERT"
ENV_PASSWORD = "SAMDKIT_SIGNING_PASSWORD"
ENV_CHAIN = "SAMDKIT_SIGNING_CHAIN"
ENV_TSA = "SAMDKIT_TSA_URL"
ENV_PKCS11 = "SAMDKIT_PKCS11_MODULE"

DEMO_LABEL = "DEMO"


@dataclass
class SigningMaterial:
    """A private key (cryptography object), its certificate and optional intermediates."""

    key: Any
    cert: Any
    chain: list[Any] = field(default_factory=list)
    demo: bool = False
    source: str = ""

    def __repr__(self) -> str:  # never show the key, even in a debugger or a log line
        return (
            f"SigningMaterial(subject={self.subject!r}, demo={self.demo}, source={self.source!r})"
        )

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def common_name(self) -> str:
        from cryptography.x509.oid import NameOID

        names = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.subject

    @property
    def fingerprint(self) -> str:
        from cryptography.hazmat.primitives import hashes

        return self.cert.fingerprint(hashes.SHA256()).hex()

    def pyhanko_signer(self):
        """A pyHanko SimpleSigner holding this material in memory."""
        from pyhanko.keys.internal import (
            translate_pyca_cryptography_cert_to_asn1,
            translate_pyca_cryptography_key_to_asn1,
        )
        from pyhanko.sign.signers.pdf_cms import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        store = SimpleCertificateStore()
        store.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in self.chain])
        return SimpleSigner(
            signing_cert=translate_pyca_cryptography_cert_to_asn1(self.cert),
            signing_key=translate_pyca_cryptography_key_to_asn1(self.key),
            cert_registry=store,
        )


@contextlib.contextmanager
def secure_tempdir() -> Iterator[Path]:
    """A 0700 temporary folder removed on exit: normal return, exception, Ctrl-C or SIGTERM."""
    path = Path(tempfile.mkdtemp(prefix="samdkit-keys-"))
    os.chmod(path, 0o700)
    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:

        def _terminate(signum, frame):  # turn SIGTERM into SystemExit so `finally` runs
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def write_secret(path: Path, data: bytes) -> Path:
    """Create a file readable by its owner only (0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _looks_like(value: str) -> str | None:
    """What a variable that should hold a path holds instead (a hint that never shows the value)."""
    if "-----BEGIN" in value:
        return "PEM text"
    compact = "".join(value.split())
    if len(compact) >= 200 and all(c.isalnum() or c in "+/=" for c in compact):
        return "base64 text"
    if "\n" in value or len(value) > 1024:
        return "text"
    return None


def _read(value: str, var: str) -> bytes:
    """The bytes of the file a variable names; errors name the variable, never its value."""
    kind = _looks_like(value)
    if kind == "base64 text":
        raise UserError(
            f"{var} looks like base64 text, not a path: a base64 PKCS#12 goes in "
            f"{ENV_P12_BASE64}; otherwise set {var} to the path of a file"
        )
    if kind:
        raise UserError(
            f"{var} looks like {kind}, not a path: put the text in a file and set {var} to its "
            f"path, or give a PKCS#12 file as base64 in {ENV_P12_BASE64}"
        )
    try:
        path = Path(value)
        if not path.is_file():
            raise UserError(f"{var}: no file at the path it names")
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{var}: cannot read the file it names ({exc.strerror})") from None


def _password() -> bytes | None:
    value = os.environ.get(ENV_PASSWORD)
    return value.encode("utf-8") if value else None


def _check_validity(material: SigningMaterial) -> SigningMaterial:
    now = dt.datetime.now(dt.UTC)
    not_after = material.cert.not_valid_after_utc
    not_before = material.cert.not_valid_before_utc
    if now > not_after:
        raise UserError(
            f"signing certificate '{material.common_name}' expired on {not_after:%Y-%m-%d %H:%M} UTC"
        )
    if now < not_before:
        raise UserError(
            f"signing certificate '{material.common_name}' is not valid before "
            f"{not_before:%Y-%m-%d %H:%M} UTC"
        )
    return material


def _chain() -> list[Any]:
    from cryptography import x509

    value = os.environ.get(ENV_CHAIN)
    if not value:
        return []
    try:
        return x509.load_pem_x509_certificates(_read(value, ENV_CHAIN))
    except ValueError:
        raise UserError(f"{ENV_CHAIN}: not a PEM certificate file") from None


def material_from_pkcs12(data: bytes, password: bytes | None, var: str) -> SigningMaterial:
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        # cryptography says "Invalid password or PKCS12 data"; never echo what was tried
        raise UserError(f"{var}: wrong password or not a PKCS#12 file") from None
    except TypeError:
        raise UserError(f"{var}: the PKCS#12 file is encrypted: set {ENV_PASSWORD}") from None
    if key is None or cert is None:
        raise UserError(f"{var}: the PKCS#12 file holds no private key and certificate")
    return SigningMaterial(key=key, cert=cert, chain=list(extra) + _chain(), source=var)


def _material_from_pem(key_path: str, cert_path: str) -> SigningMaterial:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key_bytes = _read(key_path, ENV_KEY)
    cert_bytes = _read(cert_path, ENV_CERT)
    password = _password()
    loader = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in key_bytes
        else serialization.load_der_private_key
    )
    try:
        key = loader(key_bytes, password)
    except TypeError:
        if password is None:
            raise UserError(
                f"{ENV_KEY}: the private key is encrypted: set {ENV_PASSWORD}"
            ) from None
        raise UserError(
            f"{ENV_KEY}: the private key is not encrypted: unset {ENV_PASSWORD}"
        ) from None
    except ValueError:
        raise UserError(f"{ENV_KEY}: wrong password or not a private key file") from None
    try:
        if b"-----BEGIN" in cert_bytes:
            cert = x509.load_pem_x509_certificate(cert_bytes)
        else:
            cert = x509.load_der_x509_certificate(cert_bytes)
    except ValueError:
        raise UserError(f"{ENV_CERT}: not a certificate file") from None
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise UserError(f"{ENV_CERT}: the certificate does not belong to {ENV_KEY}")
    return SigningMaterial(key=key, cert=cert, chain=_chain(), source=ENV_KEY)


def _p12_from_base64(value: str) -> SigningMaterial:
    if "-----BEGIN" in value:
        raise UserError(
            f"{ENV_P12_BASE64} looks like PEM text, not a base64 PKCS#12: put the key and "
            f"certificate in files named by {ENV_KEY} and {ENV_CERT}"
        )
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UserError(
            f"{ENV_P12_BASE64}: not base64 (give the PKCS#12 file base64-encoded, "
            f"or its path in {ENV_P12})"
        ) from None
    return material_from_pkcs12(data, _password(), ENV_P12_BASE64)


def _guarded(var: str, load) -> SigningMaterial:
    """Run a loader; any library error becomes one line naming `var` (never a value or a path)."""
    try:
        return _check_validity(load())
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{var}: cannot load the key material ({type(exc).__name__})") from None


def _one_key_source() -> None:
    """Refuse two key settings at once: which key signs must never be a silent precedence rule."""
    sources = [
        name
        for name, names in (
            (ENV_P12_BASE64, (ENV_P12_BASE64,)),
            (ENV_P12, (ENV_P12,)),
            (f"{ENV_KEY}/{ENV_CERT}", (ENV_KEY, ENV_CERT)),
        )
        if any(os.environ.get(n) for n in names)
    ]
    if len(sources) > 1:
        raise UserError(
            f"ambiguous signing key: {' and '.join(sources)} are set at once; "
            "unset all but the one that should sign"
        )


def load_from_env() -> SigningMaterial:
    """The signing key named by the environment, or one clear line saying what to set.

    Every error names the variable only: a CI secret pasted into the wrong variable (PEM text in
    SAMDKIT_SIGNING_KEY, base64 in SAMDKIT_SIGNING_P12) is never echoed, not even in part."""
    if os.environ.get(ENV_PKCS11):
        raise UserError(
            f"{ENV_PKCS11}: PKCS#11 tokens are not yet available in this version; "
            f"export a PKCS#12 file or use {ENV_KEY}/{ENV_CERT}"
        )
    _one_key_source()
    if os.environ.get(ENV_P12_BASE64):
        return _guarded(ENV_P12_BASE64, lambda: _p12_from_base64(os.environ[ENV_P12_BASE64]))
    if os.environ.get(ENV_P12):

        def _p12() -> SigningMaterial:
            return material_from_pkcs12(_read(os.environ[ENV_P12], ENV_P12), _password(), ENV_P12)

        return _guarded(ENV_P12, _p12)
    key_path, cert_path = os.environ.get(ENV_KEY), os.environ.get(ENV_CERT)
    if key_path or cert_path:
        if not (key_path and cert_path):
            raise UserError(f"set both {ENV_KEY} and {ENV_CERT} (paths to PEM files)")
        return _guarded(ENV_KEY, lambda: _material_from_pem(key_path, cert_path))
    raise UserError(
        f"no signing key: set {ENV_P12_BASE64} or {ENV_P12} (+ {ENV_PASSWORD}), "
        f"or {ENV_KEY} + {ENV_CERT}; or run with --demo"
    )


def make_self_signed(common_name: str, *, days: int = 1, not_before: dt.datetime | None = None):
    """A fresh EC P-256 key and a self-signed signing certificate (for the demo and for tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, f"samdkit {DEMO_LABEL} - not a real signer"
            ),
        ]
    )
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def demo_material(printed_name: str | None) -> SigningMaterial:
    """A throwaway self-signed DEMO certificate, written to a 0600 PKCS#12 in a 0700 temp dir,
    loaded back through the same path as a real key, and deleted before this returns."""
    import secrets

    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    label = f"{printed_name or 'samdkit CI'} ({DEMO_LABEL})"
    key, cert = make_self_signed(label)
    password = secrets.token_urlsafe(24).encode()
    blob = pkcs12.serialize_key_and_certificates(
        b"samdkit-demo", key, cert, None, BestAvailableEncryption(password)
    )
    with secure_tempdir() as folder:
        path = write_secret(folder / "demo-signing.p12", blob)
        material = material_from_pkcs12(path.read_bytes(), password, "demo key")
    material.demo = True
    material.source = "--demo (throwaway self-signed certificate)"
    return material
